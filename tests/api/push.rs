//! Reminders and WeChat push: the quota ledger, exactly-once sends, faults, replicas.

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use linli_tests::{
    Fault, Session, TEMPLATE_CHANGE, TEMPLATE_REMINDER, TEMPLATE_SIGNUP, TestApp, TestResult, expect_json,
    expect_problem, spawn_app, spawn_app_with, spawn_replicas,
};
use serde_json::{Value, json};

async fn activity(app: &TestApp, hours_ahead: i64, title: &str) -> anyhow::Result<i64> {
    let (leader, org) = app.demo_leader().await?;
    let start = Utc::now() + Duration::hours(hours_ahead);
    let body = json!({
        "kind": "volunteer", "title": title, "location": "金塔巷社区活动室",
        "starts_at": start.to_rfc3339(), "ends_at": (start + Duration::hours(2)).to_rfc3339(), "capacity": 50
    });
    app.publish(&leader, org, body).await
}

async fn subscribe(app: &TestApp, who: &Session, results: Value) -> anyhow::Result<Value> {
    expect_json(
        app.post("/api/v1/me/subscriptions", Some(&who.access_token), json!({ "results": results })).await?,
        200,
    )
    .await
}

async fn sign_up(app: &TestApp, who: &Session, id: i64) -> anyhow::Result<()> {
    let resp = app.post(&format!("/api/v1/activities/{id}/signups"), Some(&who.access_token), json!({})).await?;
    anyhow::ensure!(resp.status().is_success(), "sign-up: {}", resp.status());
    Ok(())
}

fn balance(balances: &Value, purpose: &str) -> i64 {
    balances
        .as_array()
        .into_iter()
        .flatten()
        .find(|b| b["purpose"] == purpose)
        .and_then(|b| b["balance"].as_i64())
        .unwrap_or(-1)
}

async fn inbox_kinds(app: &TestApp, who: &str) -> anyhow::Result<Vec<String>> {
    let session = app.login(who).await?;
    let body =
        expect_json(app.get("/api/v1/me/notifications?limit=100", Some(&session.access_token)).await?, 200).await?;
    Ok(body["items"].as_array().into_iter().flatten().filter_map(|n| n["kind"].as_str().map(str::to_owned)).collect())
}

#[tokio::test]
async fn a_subscribed_resident_gets_one_reminder_per_offset_and_the_other_finds_them_in_the_inbox() -> TestResult {
    let app = spawn_app().await?;
    let id = activity(&app, 48, "社区义诊").await?;
    let subscribed = app.login("sub").await?;
    let unsubscribed = app.login("unsub").await?;
    subscribe(&app, &subscribed, json!({ TEMPLATE_REMINDER: "accept", TEMPLATE_SIGNUP: "accept" })).await?;
    let balances = subscribe(&app, &subscribed, json!({ TEMPLATE_REMINDER: "accept" })).await?;
    assert_eq!(balance(&balances, "reminder"), 2);
    assert_eq!(balance(&balances, "signup"), 1);
    assert_eq!(balance(&balances, "change"), 0);
    sign_up(&app, &subscribed, id).await?;
    sign_up(&app, &unsubscribed, id).await?;

    // The confirmations: one pushed, one inbox-only.
    let report = app.dispatch().await?;
    assert_eq!((report.sent, report.inbox_only), (1, 1), "{report:?}");
    let confirmation = &app.fake.sends_to("o-sub")[0];
    assert_eq!(confirmation["template_id"], TEMPLATE_SIGNUP);
    assert_eq!(confirmation["page"], format!("pages/activity/detail?id={id}"));
    assert_eq!(confirmation["data"]["thing1"]["value"], "社区义诊");
    assert_eq!(confirmation["data"]["phrase3"]["value"], "报名成功");

    // Nothing is due before the 24 h mark; nobody sleeps, the clock moves.
    assert_eq!(app.dispatch().await?.claimed, 0);
    app.clock.advance(Duration::hours(24) + Duration::minutes(1));
    let report = app.dispatch().await?;
    assert_eq!((report.sent, report.inbox_only), (1, 1), "{report:?}");
    assert_eq!(app.dispatch().await?.claimed, 0, "sent exactly once");
    app.clock.advance(Duration::hours(23));
    let report = app.dispatch().await?;
    assert_eq!((report.sent, report.inbox_only), (1, 1), "{report:?}");

    let reminders: Vec<Value> =
        app.fake.sends_to("o-sub").into_iter().filter(|s| s["template_id"] == TEMPLATE_REMINDER).collect();
    assert_eq!(reminders.len(), 2, "one per offset");
    assert_eq!(reminders[0]["data"]["thing3"]["value"], "金塔巷社区活动室");
    assert!(reminders[0]["data"]["time2"]["value"].as_str().is_some_and(|t| t.contains('年') && t.contains(':')));
    assert!(app.fake.sends_to("o-unsub").is_empty());
    let kinds = inbox_kinds(&app, "unsub").await?;
    assert_eq!(kinds.iter().filter(|k| *k == "reminder").count(), 2);
    assert!(kinds.contains(&"signup_confirmed".to_owned()));
    // The subscribed resident's inbox has them too.
    assert_eq!(inbox_kinds(&app, "sub").await?.iter().filter(|k| *k == "reminder").count(), 2);
    let after =
        expect_json(app.get("/api/v1/me/subscriptions", Some(&app.login("sub").await?.access_token)).await?, 200)
            .await?;
    assert_eq!(balance(&after, "reminder"), 0, "each send spent one accept");
    Ok(())
}

#[tokio::test]
async fn reminders_follow_the_signup_and_the_activity() -> TestResult {
    let app = spawn_app().await?;
    let who = app.login("follower").await?;
    subscribe(&app, &who, json!({ TEMPLATE_REMINDER: "accept" })).await?;
    subscribe(&app, &who, json!({ TEMPLATE_REMINDER: "accept" })).await?;

    // Starting in 3 h: the 24 h reminder's moment has passed, only the 1 h one is made.
    let soon = activity(&app, 3, "三小时后").await?;
    sign_up(&app, &who, soon).await?;
    app.dispatch().await?;
    // Cancelling withdraws it.
    assert_eq!(
        app.delete(&format!("/api/v1/activities/{soon}/signups/me"), Some(&who.access_token)).await?.status().as_u16(),
        204
    );

    // Moving an activity re-times its reminders.
    let moved = activity(&app, 48, "会改期的活动").await?;
    sign_up(&app, &who, moved).await?;
    let (leader, _) = app.demo_leader().await?;
    let new_start = Utc::now() + Duration::hours(96);
    let body = json!({"starts_at": new_start.to_rfc3339(), "ends_at": (new_start + Duration::hours(2)).to_rfc3339()});
    expect_json(app.patch(&format!("/api/v1/activities/{moved}"), Some(&leader.access_token), body).await?, 200)
        .await?;
    app.dispatch().await?; // the change notice (no change quota: inbox only)

    app.clock.advance(Duration::hours(25)); // past the old 24 h mark and the cancelled 1 h one
    assert_eq!(app.dispatch().await?.claimed, 0, "no withdrawn reminder goes out");
    app.clock.advance(Duration::hours(48)); // now 24 h before the new start
    let report = app.dispatch().await?;
    assert_eq!(report.sent, 1, "{report:?}");
    let sent = app.fake.sends_to("o-follower");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["data"]["thing1"]["value"], "会改期的活动");
    let kinds = inbox_kinds(&app, "follower").await?;
    assert!(kinds.contains(&"activity_changed".to_owned()));
    assert_eq!(kinds.iter().filter(|k| *k == "reminder").count(), 1, "{kinds:?}");
    Ok(())
}

#[tokio::test]
async fn a_refusal_zeroes_the_quota_and_is_never_retried() -> TestResult {
    let app = spawn_app().await?;
    let id = activity(&app, 48, "拒收测试").await?;
    let who = app.login("refuser").await?;
    subscribe(&app, &who, json!({ TEMPLATE_SIGNUP: "accept" })).await?;
    subscribe(&app, &who, json!({ TEMPLATE_SIGNUP: "accept" })).await?;
    app.fake.refuse("o-refuser");
    sign_up(&app, &who, id).await?;
    let report = app.dispatch().await?;
    assert_eq!((report.sent, report.inbox_only, report.retried), (0, 1, 0), "{report:?}");
    let balances = expect_json(app.get("/api/v1/me/subscriptions", Some(&who.access_token)).await?, 200).await?;
    assert_eq!(balance(&balances, "signup"), 0, "43101 means nothing is left");
    app.clock.advance(Duration::hours(2));
    assert_eq!(app.dispatch().await?.claimed, 0);
    assert_eq!(app.fake.state().attempts, 1);
    assert!(inbox_kinds(&app, "refuser").await?.contains(&"signup_confirmed".to_owned()));
    Ok(())
}

#[tokio::test]
async fn a_revoked_token_is_refreshed_without_losing_the_message() -> TestResult {
    let app = spawn_app().await?;
    let id = activity(&app, 48, "令牌测试").await?;
    let who = app.login("tokened").await?;
    subscribe(&app, &who, json!({ TEMPLATE_SIGNUP: "accept" })).await?;
    app.fake.fail_next(Fault::RevokeToken);
    sign_up(&app, &who, id).await?;
    let report = app.dispatch().await?;
    assert_eq!(report.sent, 1, "{report:?}");
    assert_eq!(app.fake.sends_to("o-tokened").len(), 1);
    assert_eq!(app.fake.state().tokens_issued, 2, "fetched again after the revocation");
    Ok(())
}

#[tokio::test]
async fn transient_failures_are_retried_with_backoff_and_sent_once() -> TestResult {
    let app = spawn_app_with(|vars| {
        vars.insert("WECHAT_TIMEOUT".into(), "1s".into());
    })
    .await?;
    let id = activity(&app, 48, "重试测试").await?;
    let who = app.login("patient").await?;
    subscribe(&app, &who, json!({ TEMPLATE_SIGNUP: "accept" })).await?;
    for fault in [Fault::Errcode(-1), Fault::Http500, Fault::Hang(StdDuration::from_secs(3)), Fault::Errcode(43108)] {
        app.fake.fail_next(fault);
    }
    sign_up(&app, &who, id).await?;
    let mut retries = 0;
    for _ in 0..4 {
        let report = app.dispatch().await?;
        assert_eq!((report.retried, report.sent), (1, 0), "{report:?}");
        retries += 1;
        // Not due again until its backoff has passed.
        assert_eq!(app.dispatch().await?.claimed, 0);
        app.clock.advance(Duration::hours(1));
    }
    let report = app.dispatch().await?;
    assert_eq!(report.sent, 1, "{report:?}");
    assert_eq!(retries, 4);
    assert_eq!(app.fake.sends_to("o-patient").len(), 1);
    let balances =
        expect_json(app.get("/api/v1/me/subscriptions", Some(&app.login("patient").await?.access_token)).await?, 200)
            .await?;
    assert_eq!(balance(&balances, "signup"), 0, "spent once, on the success");
    Ok(())
}

#[tokio::test]
async fn long_values_are_cut_to_wechats_limits_and_a_bad_value_is_not_retried() -> TestResult {
    let app = spawn_app().await?;
    let long_title = "金塔巷社区重阳节为独居老人上门包饺子陪伴聊天并测量血压的志愿服务活动第一期";
    let id = activity(&app, 48, long_title).await?;
    let who = app.login("verbose").await?;
    subscribe(&app, &who, json!({ TEMPLATE_SIGNUP: "accept" })).await?;
    sign_up(&app, &who, id).await?;
    assert_eq!(app.dispatch().await?.sent, 1, "the fake refuses values over the limit with 47003");
    let sent = &app.fake.sends_to("o-verbose")[0];
    let thing = sent["data"]["thing1"]["value"].as_str().unwrap_or_default();
    assert_eq!(thing.chars().count(), 20);
    assert!(thing.ends_with('…'));

    // A 47003 anyway (a bug of ours) fails for good, and the quota is given back.
    let other = app.login("unlucky").await?;
    subscribe(&app, &other, json!({ TEMPLATE_SIGNUP: "accept" })).await?;
    app.fake.fail_next(Fault::Errcode(47003));
    sign_up(&app, &other, id).await?;
    let report = app.dispatch().await?;
    assert_eq!((report.failed, report.retried), (1, 0), "{report:?}");
    let balances = expect_json(app.get("/api/v1/me/subscriptions", Some(&other.access_token)).await?, 200).await?;
    assert_eq!(balance(&balances, "signup"), 1);
    app.clock.advance(Duration::hours(2));
    assert_eq!(app.dispatch().await?.claimed, 0);
    Ok(())
}

#[tokio::test]
async fn a_crash_after_claiming_loses_nothing() -> TestResult {
    let app = spawn_app().await?;
    let id = activity(&app, 48, "崩溃测试").await?;
    let people: Vec<Session> =
        futures_util::future::try_join_all((0..5).map(|i| app.login_owned(format!("crash-{i}")))).await?;
    for p in &people {
        subscribe(&app, p, json!({ TEMPLATE_SIGNUP: "accept" })).await?;
        sign_up(&app, p, id).await?;
    }
    // A replica claims the batch and dies before sending anything.
    let claimed = linli_server::jobs::dispatch::claim(&app.ctx, 100).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(claimed.len(), 5);
    assert_eq!(app.dispatch().await?.claimed, 0, "claimed rows are leased, not due");
    app.clock.advance(Duration::seconds(61));
    let report = app.dispatch().await?;
    assert_eq!(report.sent, 5, "{report:?}");
    assert_eq!(app.fake.sends().len(), 5);
    Ok(())
}

#[tokio::test]
async fn three_replicas_send_each_notice_once() -> TestResult {
    let apps = spawn_replicas(3, |vars| {
        vars.insert("DISPATCH_INTERVAL".into(), "1s".into());
    })
    .await?;
    let app = &apps[0];
    let id = activity(app, 48, "三副本测试").await?;
    let n = 30;
    for i in 0..n {
        // Spread the traffic over the replicas, as a load balancer would.
        let replica = &apps[i % 3];
        let who = replica.login(&format!("replica-{i}")).await?;
        subscribe(replica, &who, json!({ TEMPLATE_SIGNUP: "accept" })).await?;
        sign_up(replica, &who, id).await?;
    }
    let deadline = std::time::Instant::now() + StdDuration::from_secs(30);
    while app.fake.sends().len() < n && std::time::Instant::now() < deadline {
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    tokio::time::sleep(StdDuration::from_secs(1)).await; // any duplicate would land by now
    let sends = app.fake.sends();
    let mut users: Vec<&str> = sends.iter().filter_map(|s| s["touser"].as_str()).collect();
    users.sort_unstable();
    users.dedup();
    assert_eq!(sends.len(), n, "each notice sent once across the replicas");
    assert_eq!(users.len(), n);
    Ok(())
}

#[tokio::test]
async fn dev_mode_keeps_notices_in_the_inbox_and_the_log() -> TestResult {
    let app = spawn_app_with(|vars| {
        vars.remove("WECHAT_APPID");
        vars.remove("WECHAT_SECRET");
    })
    .await?;
    let id = activity(&app, 48, "开发模式").await?;
    let who = app.login("devuser").await?;
    sign_up(&app, &who, id).await?;
    let report = app.dispatch().await?;
    assert_eq!((report.sent, report.inbox_only), (0, 1), "{report:?}");
    assert!(app.wechat.received_requests().await.unwrap_or_default().is_empty(), "WeChat is never called");
    assert!(inbox_kinds(&app, "devuser").await?.contains(&"signup_confirmed".to_owned()));
    Ok(())
}

#[tokio::test]
async fn subscription_reports_are_checked() -> TestResult {
    let app = spawn_app().await?;
    let who = app.login("reporter").await?;
    let post = |body: Value| app.post("/api/v1/me/subscriptions", Some(&who.access_token), body);
    expect_problem(post(json!({"results": {"tpl-unknown": "accept"}})).await?, 422, "validation_failed").await?;
    expect_problem(post(json!({"results": {TEMPLATE_SIGNUP: "maybe"}})).await?, 422, "validation_failed").await?;
    expect_problem(post(json!({"results": {}})).await?, 422, "validation_failed").await?;
    expect_problem(
        post(json!({"results": {TEMPLATE_SIGNUP: "accept", TEMPLATE_CHANGE: "accept", TEMPLATE_REMINDER: "accept", "x": "accept"}})).await?,
        422,
        "validation_failed",
    )
    .await?;
    expect_problem(app.post("/api/v1/me/subscriptions", None, json!({"results": {}})).await?, 401, "unauthenticated")
        .await?;
    subscribe(&app, &who, json!({ TEMPLATE_CHANGE: "accept" })).await?;
    let banned = subscribe(&app, &who, json!({ TEMPLATE_CHANGE: "ban", TEMPLATE_SIGNUP: "reject" })).await?;
    let change =
        banned.as_array().into_iter().flatten().find(|b| b["purpose"] == "change").cloned().unwrap_or_default();
    assert_eq!((change["balance"].as_i64(), change["banned"].as_bool()), (Some(0), Some(true)));
    assert_eq!(change["template_id"], TEMPLATE_CHANGE);
    let again = subscribe(&app, &who, json!({ TEMPLATE_CHANGE: "accept" })).await?;
    assert_eq!(balance(&again, "change"), 1, "accepting again lifts the ban");
    Ok(())
}

#[tokio::test]
async fn texts_pass_wechats_content_check_before_publishing() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let start = Utc::now() + Duration::hours(48);
    let draft = |title: &str| {
        json!({"kind": "other", "title": title, "location": "活动室", "starts_at": start.to_rfc3339(),
               "ends_at": (start + Duration::hours(1)).to_rfc3339(), "capacity": 5})
    };
    let create = |title: &'static str| {
        let app = &app;
        let leader = &leader;
        async move {
            let body = expect_json(
                app.post(&format!("/api/v1/organizations/{org}/activities"), Some(&leader.access_token), draft(title))
                    .await?,
                201,
            )
            .await?;
            anyhow::Ok(body["id"].as_i64().unwrap_or_default())
        }
    };
    // Risky text is refused when the draft is written (and again at publishing).
    let resp = app
        .post(&format!("/api/v1/organizations/{org}/activities"), Some(&leader.access_token), draft("RISKY 内容"))
        .await?;
    expect_problem(resp, 422, "content_risky").await?;

    let held = create("REVIEW 需要人工看看").await?;
    let body = expect_json(
        app.post(&format!("/api/v1/activities/{held}/publish"), Some(&leader.access_token), json!({})).await?,
        200,
    )
    .await?;
    assert_eq!(body["status"], "held");
    let resident = app.login("reader").await?;
    expect_problem(
        app.get(&format!("/api/v1/activities/{held}"), Some(&resident.access_token)).await?,
        404,
        "not_found",
    )
    .await?;
    let moderation = format!("/api/v1/activities/{held}/moderation");
    expect_problem(
        app.post(&moderation, Some(&resident.access_token), json!({"decision": "approve"})).await?,
        403,
        "forbidden",
    )
    .await?;
    let committee = app.login_openid("demo-committee").await?;
    let cleared =
        expect_json(app.post(&moderation, Some(&committee.access_token), json!({"decision": "approve"})).await?, 200)
            .await?;
    assert_eq!(cleared["status"], "published");
    expect_json(app.get(&format!("/api/v1/activities/{held}"), Some(&resident.access_token)).await?, 200).await?;

    // An organization application with a risky name is refused outright.
    let community = app.region("620102002006").await?;
    let resp = app
        .post(
            "/api/v1/organizations",
            Some(&resident.access_token),
            json!({"name": "RISKY 组织", "category": "charity", "community_id": community}),
        )
        .await?;
    expect_problem(resp, 422, "content_risky").await?;
    Ok(())
}

#[tokio::test]
async fn the_phone_number_comes_from_wechat() -> TestResult {
    let app = spawn_app().await?;
    let who = app.login("caller").await?;
    let resp = app.post("/api/v1/me/phone", Some(&who.access_token), json!({"code": "phone-code-1"})).await?;
    assert_eq!(resp.status().as_u16(), 204);
    let me = expect_json(app.get("/api/v1/me", Some(&who.access_token)).await?, 200).await?;
    assert_eq!(me["phone"], "13912345678");
    expect_problem(
        app.post("/api/v1/me/phone", Some(&who.access_token), json!({"code": ""})).await?,
        422,
        "validation_failed",
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn the_applicant_hears_the_filing_result() -> TestResult {
    let app = spawn_app().await?;
    let committee = app.login_openid("demo-committee").await?;
    let street = app.login_openid("demo-street").await?;
    let queue =
        expect_json(app.get("/api/v1/organizations/review-queue", Some(&committee.access_token)).await?, 200).await?;
    let id = queue["items"][0]["id"].as_i64().unwrap_or_default();
    for who in [&committee, &street] {
        let resp = app
            .post(
                &format!("/api/v1/organizations/{id}/review"),
                Some(&who.access_token),
                json!({"decision": "approve"}),
            )
            .await?;
        expect_json(resp, 200).await?;
    }
    let applicant = app.login_openid("demo-resident").await?;
    let inbox = expect_json(app.get("/api/v1/me/notifications", Some(&applicant.access_token)).await?, 200).await?;
    let result = inbox["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|n| n["kind"] == "filing_result")
        .cloned()
        .unwrap_or_default();
    assert_eq!(result["organization_id"], id);
    assert!(result["body"].as_str().is_some_and(|b| b.contains("金塔巷读书会")));
    Ok(())
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_notices_by_outcome() -> TestResult {
    let app = spawn_app().await?;
    let id = activity(&app, 48, "指标").await?;
    let who = app.login("metric").await?;
    sign_up(&app, &who, id).await?;
    app.dispatch().await?;
    let text = app.metrics().await?;
    assert!(text.contains("linli_http_requests_total"), "{text}");
    assert!(text.contains("route=\"/api/v1/activities/{id}/signups\""), "route patterns, not raw paths");
    assert!(text.contains("linli_notifications_total"));
    assert!(text.contains("linli_notifications_by_state{state=\"inbox_only\"}"), "{text}");
    assert!(text.contains("linli_db_pool_connections{state=\"idle\"}"));
    Ok(())
}

#[tokio::test]
async fn in_dev_mode_the_phone_code_is_the_number() -> TestResult {
    let app = spawn_app_with(|vars| {
        vars.remove("WECHAT_APPID");
        vars.remove("WECHAT_SECRET");
    })
    .await?;
    let who = app.login("dev-phone").await?;
    expect_problem(
        app.post("/api/v1/me/phone", Some(&who.access_token), json!({"code": "b7661ecdef398534"})).await?,
        422,
        "validation_failed",
    )
    .await?;
    let resp = app.post("/api/v1/me/phone", Some(&who.access_token), json!({"code": "13800138000"})).await?;
    assert_eq!(resp.status().as_u16(), 204);
    let me = expect_json(app.get("/api/v1/me", Some(&who.access_token)).await?, 200).await?;
    assert_eq!(me["phone"], "13800138000");
    Ok(())
}

/// A resident who accepted reminders, signed up to an activity starting in 26 hours, and
/// whose 24 h reminder this replica has just claimed: (the activity, the resident signed
/// in again after the clock moved, the claimed notices' ids).
async fn claimed_reminder(app: &TestApp, name: &str, title: &str) -> anyhow::Result<(i64, Session, Vec<i64>)> {
    let id = activity(app, 26, title).await?;
    let who = app.login(name).await?;
    subscribe(app, &who, json!({ TEMPLATE_REMINDER: "accept" })).await?;
    sign_up(app, &who, id).await?;
    app.dispatch().await?; // the confirmation: inbox only (no sign-up template accepted)
    app.clock.advance(Duration::hours(2) + Duration::minutes(1)); // the 24 h reminder is due
    let who = app.login(name).await?; // the access token ran out meanwhile
    let claimed = linli_server::jobs::dispatch::claim(&app.ctx, 100).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(claimed.iter().map(|n| n.kind.as_str()).collect::<Vec<_>>(), ["reminder"]);
    Ok((id, who, claimed.iter().map(|n| n.id).collect()))
}

/// A claim given back at shutdown keeps the send it held; when the notice is withdrawn
/// before another replica claims it, the next claim drops its queue row and gives the
/// send back — nothing goes out and the resident's accept is not lost.
#[tokio::test]
async fn a_claim_given_back_then_withdrawn_returns_its_send() -> TestResult {
    use linli_server::entity::notice_delivery;
    use sea_orm::EntityTrait;
    let app = spawn_app().await?;
    let (id, who, ids) = claimed_reminder(&app, "withdrawn-after-claim", "撤回测试").await?;
    let err = |e: linli_server::error::AppError| anyhow::anyhow!("{e}");
    let held = expect_json(app.get("/api/v1/me/subscriptions", Some(&who.access_token)).await?, 200).await?;
    assert_eq!(balance(&held, "reminder"), 0, "the claim holds the send");
    assert_eq!(linli_server::jobs::dispatch::release_claims(&app.ctx, &ids).await.map_err(err)?, 1);

    let cancel = app.delete(&format!("/api/v1/activities/{id}/signups/me"), Some(&who.access_token)).await?;
    assert_eq!(cancel.status().as_u16(), 204);
    assert_eq!(app.dispatch().await?.claimed, 0, "a withdrawn reminder is not claimed");
    assert!(app.fake.sends_to("o-withdrawn-after-claim").is_empty());
    let after = expect_json(app.get("/api/v1/me/subscriptions", Some(&who.access_token)).await?, 200).await?;
    assert_eq!(balance(&after, "reminder"), 1, "the held send is given back");
    assert!(notice_delivery::Entity::find_by_id(ids[0]).one(&app.ctx.db).await?.is_none(), "its queue row is gone");
    Ok(())
}

/// Giving a claim back moves its queue row only while this replica's lease on it stands:
/// a row another replica has claimed since (its lease ran out here) keeps that replica's
/// lease, and a give-back of ids this replica does not hold changes nothing.
#[tokio::test]
async fn a_give_back_moves_only_rows_still_under_its_own_lease() -> TestResult {
    use chrono::SubsecRound;
    use linli_server::entity::notice_delivery;
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
    let app = spawn_app().await?;
    let (_, _, ids) = claimed_reminder(&app, "lease-owner", "租约测试").await?;
    let err = |e: linli_server::error::AppError| anyhow::anyhow!("{e}");
    // Another replica's claim after this one's lease ran out: the row's due time is its lease.
    let theirs = (app.ctx.now() + Duration::minutes(7)).trunc_subsecs(6); // as the database keeps it
    let queued = || async { notice_delivery::Entity::find_by_id(ids[0]).one(&app.ctx.db).await };
    let row = queued().await?.ok_or_else(|| anyhow::anyhow!("queued"))?;
    notice_delivery::ActiveModel { due_at: Set(theirs), ..row.into() }.update(&app.ctx.db).await?;
    assert_eq!(linli_server::jobs::dispatch::release_claims(&app.ctx, &ids).await.map_err(err)?, 0);
    let row = queued().await?.ok_or_else(|| anyhow::anyhow!("queued"))?;
    assert_eq!(row.due_at, theirs, "the other replica's lease stands");
    assert_eq!(app.dispatch().await?.claimed, 0, "nothing falls due before that lease ends");
    // Not held here any more: a second give-back is a no-op.
    assert_eq!(linli_server::jobs::dispatch::release_claims(&app.ctx, &ids).await.map_err(err)?, 0);
    assert!(app.fake.sends_to("o-lease-owner").is_empty());
    Ok(())
}
