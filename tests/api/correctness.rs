//! Issue 12: the eleven faults found by trying the product as its users would, each with
//! its input and the other paths of the same kind.

use chrono::{DateTime, Duration, Utc};
use linli_tests::{Session, TestApp, TestResult, expect_json, expect_problem, spawn_app};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};

const JINTAXIANG: &str = "620102002006";
const DAZHONGXIANG: &str = "620102002005";

fn body_at(start: DateTime<Utc>, minutes: i64, capacity: i64, place: &str) -> Value {
    json!({
        "kind": "volunteer", "title": "楼道清扫", "location": place,
        "latitude": 36.0627, "longitude": 103.8221,
        "starts_at": start.to_rfc3339(), "ends_at": (start + Duration::minutes(minutes)).to_rfc3339(),
        "capacity": capacity, "cancel_cutoff_minutes": 0
    })
}

/// `n` residents signed in one after another, `{prefix}-0` … `{prefix}-{n-1}`.
async fn residents(app: &TestApp, prefix: &str, n: usize) -> anyhow::Result<Vec<Session>> {
    let mut people = Vec::with_capacity(n);
    for i in 0..n {
        people.push(app.login(&format!("{prefix}-{i}")).await?);
    }
    Ok(people)
}

async fn sign_up(app: &TestApp, who: &Session, id: i64) -> anyhow::Result<reqwest::Response> {
    app.post(&format!("/api/v1/activities/{id}/signups"), Some(&who.access_token), json!({})).await
}

async fn cancel(app: &TestApp, who: &Session, id: i64) -> anyhow::Result<reqwest::Response> {
    app.delete(&format!("/api/v1/activities/{id}/signups/me"), Some(&who.access_token)).await
}

async fn inbox(app: &TestApp, who: &Session) -> anyhow::Result<Vec<Value>> {
    let body = expect_json(app.get("/api/v1/me/notifications?limit=100", Some(&who.access_token)).await?, 200).await?;
    Ok(body["items"].as_array().cloned().unwrap_or_default())
}

fn count_kind(items: &[Value], kind: &str) -> usize {
    items.iter().filter(|n| n["kind"] == kind).count()
}

async fn activity(app: &TestApp, id: i64) -> anyhow::Result<Value> {
    expect_json(app.get(&format!("/api/v1/activities/{id}"), None).await?, 200).await
}

async fn roster_status(app: &TestApp, staff: &Session, id: i64, user: i64) -> anyhow::Result<String> {
    let roster = expect_json(
        app.get(&format!("/api/v1/activities/{id}/signups?limit=100"), Some(&staff.access_token)).await?,
        200,
    )
    .await?;
    Ok(roster["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["user_id"] == user)
        .and_then(|s| s["status"].as_str())
        .unwrap_or("none")
        .to_owned())
}

async fn check_in(app: &TestApp, staff: &Session, id: i64, user: i64) -> anyhow::Result<Value> {
    let path = format!("/api/v1/activities/{id}/attendance");
    expect_json(app.post(&path, Some(&staff.access_token), json!({"user_id": user, "action": "check_in"})).await?, 200)
        .await
}

async fn checkin_code(app: &TestApp, who: &Session) -> anyhow::Result<String> {
    let body = expect_json(app.get("/api/v1/me/checkin-code", Some(&who.access_token)).await?, 200).await?;
    Ok(body["code"].as_str().unwrap_or_default().to_owned())
}

// ---- 1. a notice withdrawn gives its dedupe key back --------------------------------------

#[tokio::test]
async fn a_recreated_signup_gets_its_reminder_and_so_does_a_second_promotion() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let now = app.ctx.now();
    let id = app.publish(&leader, org, body_at(now + Duration::minutes(62), 60, 5, "金塔巷3号楼")).await?;
    let (r, c) = (app.login("recreate-r").await?, app.login("recreate-c").await?);
    expect_json(sign_up(&app, &r, id).await?, 201).await?;
    assert_eq!(cancel(&app, &r, id).await?.status(), 204);
    expect_json(sign_up(&app, &r, id).await?, 201).await?;
    expect_json(sign_up(&app, &c, id).await?, 201).await?;

    // One place: A holds it, B waits, leaves the queue, queues again and is promoted
    // twice (A cancels; B cancels and signs up again into the free place).
    let one = app.publish(&leader, org, body_at(now + Duration::minutes(62), 30, 1, "金塔巷5号楼")).await?;
    let (a, b) = (app.login("recreate-a").await?, app.login("recreate-b").await?);
    expect_json(sign_up(&app, &a, one).await?, 201).await?;
    expect_json(sign_up(&app, &b, one).await?, 201).await?;
    assert_eq!(cancel(&app, &b, one).await?.status(), 204);
    let again = expect_json(sign_up(&app, &b, one).await?, 201).await?;
    assert_eq!(again["status"], "waitlisted");
    assert_eq!(cancel(&app, &a, one).await?.status(), 204);
    assert_eq!(roster_status(&app, &leader, one, b.user_id).await?, "confirmed", "promoted");
    assert_eq!(cancel(&app, &b, one).await?.status(), 204);
    assert_eq!(expect_json(sign_up(&app, &b, one).await?, 201).await?["status"], "confirmed");

    app.clock.advance(Duration::minutes(3)); // the 1 h reminders fall due
    app.dispatch().await?;
    for who in [&r, &c, &b] {
        let items = inbox(&app, who).await?;
        let reminders: Vec<&Value> = items.iter().filter(|n| n["kind"] == "reminder").collect();
        assert_eq!(reminders.len(), 1, "user {}: {items:?}", who.user_id);
    }
    assert_eq!(count_kind(&inbox(&app, &a).await?, "reminder"), 0, "A cancelled: no reminder");
    Ok(())
}

// ---- 2. one table for the sign-up's status -----------------------------------------------

#[tokio::test]
async fn a_repeat_after_check_in_takes_no_second_place() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    // Tokens live 15 minutes: the clock moves less than that.
    let start = app.ctx.now() + Duration::minutes(10);
    let id = app.publish(&leader, org, body_at(start, 120, 2, "金塔巷活动室")).await?;
    let (a, b) = (app.login("repeat-a").await?, app.login("repeat-b").await?);
    expect_json(sign_up(&app, &a, id).await?, 201).await?;
    check_in(&app, &leader, id, a.user_id).await?;

    let repeat = expect_json(sign_up(&app, &a, id).await?, 200).await?;
    assert_eq!(repeat["status"], "attended", "the repeat answers the existing sign-up");
    assert_eq!(activity(&app, id).await?["places_left"], 1, "no second place");
    // Other paths of the same kind: a walk-in of someone already in, a cancel, a removal.
    let code = checkin_code(&app, &a).await?;
    let walk = app
        .post(&format!("/api/v1/activities/{id}/walk-ins"), Some(&leader.access_token), json!({"checkin_code": code}))
        .await?;
    assert_eq!(expect_json(walk, 200).await?["changed"], false);
    expect_problem(cancel(&app, &a, id).await?, 409, "already_attended").await?;
    let remove = app
        .post(
            &format!("/api/v1/activities/{id}/signups/{}/remove", a.user_id),
            Some(&leader.access_token),
            json!({"reason": "重复"}),
        )
        .await?;
    expect_problem(remove, 409, "already_attended").await?;
    assert_eq!(activity(&app, id).await?["places_left"], 1);

    assert_eq!(expect_json(sign_up(&app, &b, id).await?, 201).await?["status"], "confirmed");
    app.clock.advance(Duration::minutes(11));
    let closed = expect_json(
        app.post(&format!("/api/v1/activities/{id}/finish"), Some(&leader.access_token), json!({})).await?,
        200,
    )
    .await?;
    assert_eq!((closed["attended"].as_i64(), closed["no_shows"].as_i64()), (Some(1), Some(1)));
    assert_eq!(roster_status(&app, &leader, id, a.user_id).await?, "attended");
    assert_eq!(roster_status(&app, &leader, id, b.user_id).await?, "no_show");
    // After closing, a repeat still answers the sign-up as it is.
    expect_problem(sign_up(&app, &a, id).await?, 409, "activity_finished").await?;
    Ok(())
}

// ---- 3. notices describe the activity as it is ----------------------------------------------

#[tokio::test]
async fn a_reminder_names_the_new_place_in_the_inbox_and_the_push() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let start = app.ctx.now() + Duration::minutes(62);
    let id = app.publish(&leader, org, body_at(start, 60, 5, "旧址P1活动室")).await?;
    let r = app.login("moved-r").await?;
    let results = json!({"results": {linli_tests::TEMPLATE_REMINDER: "accept"}});
    expect_json(app.post("/api/v1/me/subscriptions", Some(&r.access_token), results).await?, 200).await?;
    expect_json(sign_up(&app, &r, id).await?, 201).await?;
    let patched = app
        .patch(
            &format!("/api/v1/activities/{id}"),
            Some(&leader.access_token),
            json!({"location": "新址P2活动室", "title": "楼道清扫（改）"}),
        )
        .await?;
    expect_json(patched, 200).await?;

    app.clock.advance(Duration::minutes(3));
    app.dispatch().await?;
    let items = inbox(&app, &r).await?;
    for n in items.iter().filter(|n| n["kind"] == "reminder" || n["kind"] == "signup_confirmed") {
        let text = n["body"].as_str().unwrap_or_default();
        assert!(text.contains("新址P2活动室") && !text.contains("旧址P1"), "{n}");
        assert!(text.contains("楼道清扫（改）"), "the new title too: {n}");
    }
    assert_eq!(count_kind(&items, "reminder"), 1);
    let pushed = app.fake.sends_to("o-moved-r");
    let reminder = pushed.iter().find(|s| s["template_id"] == linli_tests::TEMPLATE_REMINDER);
    assert_eq!(reminder.map(|s| s["data"]["thing3"]["value"].clone()), Some(json!("新址P2活动室")), "{pushed:?}");
    Ok(())
}

// ---- 4. cursors as precise as their columns --------------------------------------------------

#[tokio::test]
async fn paging_returns_every_activity_once_whatever_the_sub_millisecond_digits() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let day = (app.ctx.now() + Duration::days(10)).format("%Y-%m-%d").to_string();
    let mut rng = StdRng::seed_from_u64(20261130);
    let mut ids = Vec::new();
    // The issue's input (three at …T09:00:00.000400+08:00), then ties and digits at random.
    let mut fractions = vec!["000400".to_owned(); 3];
    for _ in 0..9 {
        fractions.push(match rng.random_range(0..4) {
            0 => "000400".to_owned(),
            1 => format!("{:06}", rng.random_range(0..1000)),
            2 => format!("{:09}", rng.random_range(0..1_000_000_000u32)),
            _ => format!("{:03}", rng.random_range(0..1000)),
        });
    }
    for f in &fractions {
        let starts = format!("{day}T09:00:00.{f}+08:00");
        let ends = format!("{day}T11:00:00+08:00");
        let body = json!({"kind": "other", "title": "分页", "location": "活动室", "starts_at": starts, "ends_at": ends, "capacity": 5});
        ids.push(app.publish(&leader, org, body).await?);
    }
    ids.sort_unstable();
    let from = format!("{day}T08:00:00%2B08:00");
    let to = format!("{day}T10:00:00%2B08:00");
    for limit in [1, 2, 3, 5, rng.random_range(1..12)] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..40 {
            let mut path = format!("/api/v1/activities?organization_id={org}&from={from}&to={to}&limit={limit}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page = expect_json(app.get(&path, None).await?, 200).await?;
            seen.extend(page["items"].as_array().into_iter().flatten().filter_map(|a| a["id"].as_i64()));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, ids, "limit {limit}: every activity exactly once");
    }
    Ok(())
}

// ---- 5. deleting an account ends what it holds --------------------------------------------------

#[tokio::test]
async fn deleting_an_account_releases_its_place_and_withdraws_its_application() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let id = app.publish(&leader, org, body_at(app.ctx.now() + Duration::days(2), 60, 1, "金塔巷活动室")).await?;
    let (a, b) = (app.login("delete-a").await?, app.login("delete-b").await?);
    expect_json(sign_up(&app, &a, id).await?, 201).await?;
    expect_json(sign_up(&app, &b, id).await?, 201).await?;
    assert_eq!(
        app.post(&format!("/api/v1/organizations/{org}/follow"), Some(&a.access_token), json!({}))
            .await?
            .status()
            .as_u16()
            / 100,
        2
    );

    // A also applied to file an organization, with a contact name and phone.
    let community = app.region(JINTAXIANG).await?;
    let applied = expect_json(
        app.post(
            "/api/v1/organizations",
            Some(&a.access_token),
            json!({"name": "金塔巷注销测试组", "category": "mutual_aid", "community_id": community,
                   "contact_name": "王阿姨", "contact_phone": "13800001234", "description": "我是王阿姨，电话13800001234"}),
        )
        .await?,
        201,
    )
    .await?;
    let application = applied["id"].as_i64().unwrap_or_default();

    assert_eq!(app.delete("/api/v1/me", Some(&a.access_token)).await?.status(), 204);
    let after = activity(&app, id).await?;
    assert_eq!((after["places_left"].as_i64(), after["waitlist_length"].as_i64()), (Some(0), Some(0)));
    assert_eq!(roster_status(&app, &leader, id, b.user_id).await?, "confirmed", "B promoted");
    assert_eq!(count_kind(&inbox(&app, &b).await?, "waitlist_promoted"), 1, "and told");
    assert_eq!(roster_status(&app, &leader, id, a.user_id).await?, "cancelled");

    let committee = app.login_openid("demo-committee").await?;
    let seen = expect_json(
        app.get(&format!("/api/v1/organizations/{application}"), Some(&committee.access_token)).await?,
        200,
    )
    .await?;
    assert_eq!(seen["status"], "withdrawn", "{seen}");
    assert!(seen["contact_name"].is_null() && seen["contact_phone"].is_null(), "personal data erased: {seen}");
    assert!(!seen["description"].as_str().unwrap_or_default().contains("13800001234"), "nothing they wrote: {seen}");
    let queue =
        expect_json(app.get("/api/v1/organizations/review-queue", Some(&committee.access_token)).await?, 200).await?;
    assert!(!queue["items"].as_array().into_iter().flatten().any(|o| o["id"] == application), "out of the queue");
    let review = app
        .post(
            &format!("/api/v1/organizations/{application}/review"),
            Some(&committee.access_token),
            json!({"decision": "approve"}),
        )
        .await?;
    expect_problem(review, 409, "invalid_transition").await?;

    // A sole leader is told what to do first; nothing is deleted.
    let refused = app.delete("/api/v1/me", Some(&leader.access_token)).await?;
    let problem = expect_problem(refused, 409, "sole_leader").await?;
    assert!(problem["detail"].as_str().unwrap_or_default().contains("移交"), "{problem}");
    expect_json(app.get("/api/v1/me", Some(&leader.access_token)).await?, 200).await?;
    Ok(())
}

// ---- 6 and 10. every write of user text passes WeChat's check ------------------------------------

#[tokio::test]
async fn editing_passes_wechats_text_check_on_every_path() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let id = app.publish(&leader, org, body_at(app.ctx.now() + Duration::days(2), 60, 5, "金塔巷活动室")).await?;
    let path = format!("/api/v1/activities/{id}");
    for field in ["title", "description", "location", "age_note", "skill_note"] {
        let risky = app.patch(&path, Some(&leader.access_token), json!({field: "RISKY 文字"})).await?;
        expect_problem(risky, 422, "content_risky").await?;
    }
    assert_eq!(activity(&app, id).await?["title"], "楼道清扫", "nothing changed");
    // `review` holds the published activity for the committee, as publishing does.
    let held =
        expect_json(app.patch(&path, Some(&leader.access_token), json!({"title": "REVIEW 楼道清扫"})).await?, 200)
            .await?;
    assert_eq!(held["status"], "held");
    assert_eq!(app.get(&path, None).await?.status(), 404, "hidden until the committee clears it");

    // Creating a draft with risky text is refused at once.
    let mut draft = body_at(app.ctx.now() + Duration::days(3), 60, 5, "金塔巷活动室");
    draft["description"] = json!("RISKY");
    expect_problem(
        app.post(&format!("/api/v1/organizations/{org}/activities"), Some(&leader.access_token), draft).await?,
        422,
        "content_risky",
    )
    .await?;

    // The organization's own texts: name, description, contact.
    let org_path = format!("/api/v1/organizations/{org}");
    for field in ["name", "description", "contact_name"] {
        let risky = app.patch(&org_path, Some(&leader.access_token), json!({field: "RISKY 名称"})).await?;
        expect_problem(risky, 422, "content_risky").await?;
    }
    let applicant = app.login("risky-applicant").await?;
    let community = app.region(JINTAXIANG).await?;
    let risky_contact = json!({"name": "金塔巷合唱团", "category": "culture_sports", "community_id": community, "contact_name": "RISKY"});
    expect_problem(
        app.post("/api/v1/organizations", Some(&applicant.access_token), risky_contact).await?,
        422,
        "content_risky",
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_text_check_wechat_will_not_do_holds_the_content_instead_of_failing() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    // The fake answers 61010 ("the author has not opened the mini-program lately") for INACTIVE.
    let mut body = body_at(app.ctx.now() + Duration::days(2), 60, 5, "金塔巷活动室");
    body["title"] = json!("INACTIVE 作者的活动");
    let created = expect_json(
        app.post(&format!("/api/v1/organizations/{org}/activities"), Some(&leader.access_token), body).await?,
        201,
    )
    .await?;
    let id = created["id"].as_i64().unwrap_or_default();
    let published = expect_json(
        app.post(&format!("/api/v1/activities/{id}/publish"), Some(&leader.access_token), Value::Null).await?,
        200,
    )
    .await?;
    assert_eq!(published["status"], "held", "held for the committee, not 503");
    let committee = app.login_openid("demo-committee").await?;
    let cleared = app
        .post(
            &format!("/api/v1/activities/{id}/moderation"),
            Some(&committee.access_token),
            json!({"decision": "approve"}),
        )
        .await?;
    assert_eq!(expect_json(cleared, 200).await?["status"], "published");

    // The same answer on an application flags it; on a PATCH of a published activity it holds it.
    let applicant = app.login("inactive-applicant").await?;
    let community = app.region(JINTAXIANG).await?;
    let applied = app
        .post(
            "/api/v1/organizations",
            Some(&applicant.access_token),
            json!({"name": "INACTIVE 读书会", "category": "culture_sports", "community_id": community}),
        )
        .await?;
    expect_json(applied, 201).await?;
    let patched = app
        .patch(&format!("/api/v1/activities/{id}"), Some(&leader.access_token), json!({"description": "INACTIVE 改"}))
        .await?;
    assert_eq!(expect_json(patched, 200).await?["status"], "held");
    // A phone code WeChat refuses is the caller's input, not an outage nor a bad session.
    let phone = app.post("/api/v1/me/phone", Some(&applicant.access_token), json!({"code": "bad-code"})).await?;
    expect_problem(phone, 422, "validation_failed").await?;
    Ok(())
}

// ---- 7. late offline evidence -----------------------------------------------------------------

#[tokio::test]
async fn a_late_offline_check_in_counts_after_closing_and_the_figures_follow() -> TestResult {
    let app = spawn_app().await?;
    let since = app.since_now();
    let (leader, org) = app.demo_leader().await?;
    let start = app.ctx.now() + Duration::minutes(10);
    let id = app.publish(&leader, org, body_at(start, 120, 3, "金塔巷活动室")).await?;
    let (a, b, stranger) = (app.login("late-a").await?, app.login("late-b").await?, app.login("late-x").await?);
    let c = app.login("late-c").await?;
    expect_json(sign_up(&app, &a, id).await?, 201).await?;
    expect_json(sign_up(&app, &b, id).await?, 201).await?;
    expect_json(sign_up(&app, &c, id).await?, 201).await?;
    check_in(&app, &leader, id, b.user_id).await?;
    app.clock.advance(Duration::minutes(12));
    let closed = expect_json(
        app.post(&format!("/api/v1/activities/{id}/finish"), Some(&leader.access_token), json!({})).await?,
        200,
    )
    .await?;
    assert_eq!((closed["attended"].as_i64(), closed["no_shows"].as_i64()), (Some(1), Some(2)));

    // The first phone uploads what it recorded during the activity.
    let records = json!({"records": [
        {"user_id": a.user_id, "action": "check_in", "at": (start + Duration::minutes(1)).to_rfc3339()},
        {"user_id": a.user_id, "action": "check_in", "at": (start - Duration::hours(3)).to_rfc3339()},
        {"user_id": stranger.user_id, "action": "check_in", "at": (start + Duration::minutes(1)).to_rfc3339()},
        // Records that cannot be read are refused one by one too.
        {"user_id": a.user_id, "action": "check_out", "at": "2026-12-31T23:59:60+08:00"},
        {"action": "check_in", "at": (start + Duration::minutes(1)).to_rfc3339()},
    ]});
    let items = expect_json(
        app.post(&format!("/api/v1/activities/{id}/attendance/batch"), Some(&leader.access_token), records.clone())
            .await?,
        200,
    )
    .await?;
    assert_eq!(items[0]["result"]["changed"], true, "{items}");
    assert_eq!(items[1]["error"]["code"], "outside_checkin_window", "{items}");
    assert_eq!(items[2]["error"]["code"], "not_signed_up", "{items}");
    assert_eq!(items[3]["error"]["code"], "validation_failed", "{items}");
    assert_eq!(items[4]["error"]["code"], "validation_failed", "{items}");
    assert_eq!(roster_status(&app, &leader, id, a.user_id).await?, "attended");
    // Uploading again changes nothing.
    let again = expect_json(
        app.post(&format!("/api/v1/activities/{id}/attendance/batch"), Some(&leader.access_token), records).await?,
        200,
    )
    .await?;
    assert_eq!(again[0]["result"]["changed"], false);
    // Staff correct a no-show who did come (their phone was off): the same late evidence.
    let corrected = app
        .patch(
            &format!("/api/v1/activities/{id}/attendance/{}", c.user_id),
            Some(&leader.access_token),
            json!({"hours": 1.5, "reason": "签到时手机没电，负责人确认到场"}),
        )
        .await?;
    expect_json(corrected, 200).await?;
    assert_eq!(roster_status(&app, &leader, id, c.user_id).await?, "attended");

    let rows =
        expect_json(app.get(&format!("/api/v1/activities/{id}/attendance"), Some(&leader.access_token)).await?, 200)
            .await?;
    let a_row = rows.as_array().into_iter().flatten().find(|r| r["user_id"] == a.user_id).cloned().unwrap_or_default();
    assert!(a_row["credited_hours"].as_f64().unwrap_or(0.0) > 1.5, "hours credited: {a_row}");
    let figures = expect_json(
        app.get(&format!("/api/v1/organizations/{org}/metrics?{since}"), Some(&leader.access_token)).await?,
        200,
    )
    .await?;
    assert_eq!((figures["attended"].as_i64(), figures["no_shows"].as_i64()), (Some(3), Some(0)), "{figures}");
    assert_eq!(figures["volunteer_hours"].as_f64().map(|h| h > 3.0), Some(true), "{figures}");
    let committee = app.login_openid("demo-committee").await?;
    let community = app.region(JINTAXIANG).await?;
    let region = expect_json(
        app.get(&format!("/api/v1/regions/{community}/metrics?{since}"), Some(&committee.access_token)).await?,
        200,
    )
    .await?;
    assert!(region["participants"].as_i64().unwrap_or(0) >= 2, "{region}");
    assert_eq!(region["no_shows"].as_i64(), Some(0), "{region}");
    // The month it was held in shows it too: active organizations and participants.
    let held = |m: &Value| m["activities_held"].as_i64().unwrap_or(0) > 0;
    let month = figures["monthly"].as_array().into_iter().flatten().find(|m| held(m)).cloned().unwrap_or_default();
    assert_eq!((month["active_organizations"].as_i64(), month["participants"].as_i64()), (Some(1), Some(3)), "{month}");
    let month = region["monthly"].as_array().into_iter().flatten().find(|m| held(m)).cloned().unwrap_or_default();
    assert!(month["active_organizations"].as_i64().unwrap_or(0) >= 1, "{month}");
    let c_month = region["communities"][0]["monthly"].as_array().into_iter().flatten().find(|m| held(m)).cloned();
    assert!(c_month.is_some_and(|m| m["active_organizations"].as_i64().unwrap_or(0) >= 1), "{region}");
    Ok(())
}

// ---- 8. the no-clash rule on every path -------------------------------------------------------

#[tokio::test]
async fn promotion_never_double_books_and_neither_does_any_other_path() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let day = app.ctx.now() + Duration::days(3);
    let x = app.publish(&leader, org, body_at(day, 120, 1, "X")).await?;
    let y = app.publish(&leader, org, body_at(day + Duration::hours(1), 120, 5, "Y")).await?;
    let (a, w, v) = (app.login("clash-a").await?, app.login("clash-w").await?, app.login("clash-v").await?);
    expect_json(sign_up(&app, &a, x).await?, 201).await?;
    expect_json(sign_up(&app, &w, x).await?, 201).await?;
    expect_json(sign_up(&app, &v, x).await?, 201).await?;
    assert_eq!(expect_json(sign_up(&app, &w, y).await?, 201).await?["status"], "confirmed");

    assert_eq!(cancel(&app, &a, x).await?.status(), 204);
    assert_eq!(roster_status(&app, &leader, x, w.user_id).await?, "waitlisted", "W is passed over");
    assert_eq!(roster_status(&app, &leader, x, v.user_id).await?, "confirmed", "V is promoted");
    // A capacity increase promotes too, and still passes W over.
    let more =
        app.patch(&format!("/api/v1/activities/{x}"), Some(&leader.access_token), json!({"capacity": 3})).await?;
    expect_json(more, 200).await?;
    assert_eq!(roster_status(&app, &leader, x, w.user_id).await?, "waitlisted");
    // Once W gives Y up, the next promotion may take W.
    assert_eq!(cancel(&app, &w, y).await?.status(), 204);
    let u = app.login("clash-u").await?;
    expect_json(sign_up(&app, &u, x).await?, 201).await?;
    assert_eq!(roster_status(&app, &leader, x, u.user_id).await?, "confirmed", "a free place, no queue needed");

    // An activity moved onto another's time: the resident holding both goes back to the queue.
    let z = app.publish(&leader, org, body_at(day + Duration::hours(6), 60, 5, "Z")).await?;
    let r = app.login("clash-r").await?;
    expect_json(sign_up(&app, &r, y).await?, 201).await?;
    expect_json(sign_up(&app, &r, z).await?, 201).await?;
    let moved = app
        .patch(
            &format!("/api/v1/activities/{z}"),
            Some(&leader.access_token),
            json!({
        "starts_at": (day + Duration::hours(1)).to_rfc3339(), "ends_at": (day + Duration::hours(2)).to_rfc3339()}),
        )
        .await?;
    expect_json(moved, 200).await?;
    assert_eq!(roster_status(&app, &leader, z, r.user_id).await?, "waitlisted");
    assert_eq!(roster_status(&app, &leader, y, r.user_id).await?, "confirmed");
    let told = inbox(&app, &r).await?;
    assert!(
        told.iter().any(|n| n["kind"] == "activity_changed" && n["body"].as_str().unwrap_or_default().contains("候补")),
        "{told:?}"
    );

    // A walk-in of someone holding a clashing place is refused.
    let soon = app.ctx.now() + Duration::minutes(30);
    let p = app.publish(&leader, org, body_at(soon, 60, 5, "P")).await?;
    let q = app.publish(&leader, org, body_at(soon, 60, 5, "Q")).await?;
    let s = app.login("clash-s").await?;
    expect_json(sign_up(&app, &s, p).await?, 201).await?;
    let code = checkin_code(&app, &s).await?;
    let walk = app
        .post(&format!("/api/v1/activities/{q}/walk-ins"), Some(&leader.access_token), json!({"checkin_code": code}))
        .await?;
    expect_problem(walk, 409, "schedule_conflict").await?;
    Ok(())
}

// ---- 9. rates within 0..1 ------------------------------------------------------------------------

#[tokio::test]
async fn participation_rates_stay_within_zero_and_one() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let (home, elsewhere) = (app.region(JINTAXIANG).await?, app.region(DAZHONGXIANG).await?);
    let mut rng = StdRng::seed_from_u64(9);
    let mut people = Vec::new();
    // Two registered here; four from another community; then a few at random.
    for i in 0..12 {
        let who = app.login(&format!("rate-{i}")).await?;
        let community = match i {
            0 | 1 => Some(home),
            2..=5 => Some(elsewhere),
            _ => [Some(home), Some(elsewhere), None][rng.random_range(0..3)],
        };
        if let Some(c) = community {
            expect_json(app.patch("/api/v1/me", Some(&who.access_token), json!({"home_community_id": c})).await?, 200)
                .await?;
        }
        people.push(who);
    }
    let start = app.ctx.now() + Duration::minutes(10);
    let id = app.publish(&leader, org, body_at(start, 60, 20, "金塔巷广场")).await?;
    for (i, who) in people.iter().enumerate() {
        let attends = (2..=5).contains(&i) || (i >= 6 && rng.random_bool(0.6));
        expect_json(sign_up(&app, who, id).await?, 201).await?;
        if attends {
            check_in(&app, &leader, id, who.user_id).await?;
        }
    }
    app.clock.advance(Duration::minutes(12));
    expect_json(
        app.post(&format!("/api/v1/activities/{id}/finish"), Some(&leader.access_token), json!({})).await?,
        200,
    )
    .await?;

    let in_range = |v: &Value, what: &str| {
        for key in ["participation_rate", "attendance_rate", "no_show_rate"] {
            if let Some(r) = v[key].as_f64() {
                assert!((0.0..=1.0).contains(&r), "{what} {key} = {r}: {v}");
            }
        }
    };
    let committee = app.login_openid("demo-committee").await?;
    let community =
        expect_json(app.get(&format!("/api/v1/regions/{home}/metrics"), Some(&committee.access_token)).await?, 200)
            .await?;
    in_range(&community, "community");
    let c = &community["communities"][0];
    assert!(c["visitors"].as_i64().unwrap_or(0) >= 4, "the four visitors are counted apart: {c}");
    assert_eq!(
        c["participants"].as_i64().unwrap_or(-1),
        c["resident_participants"].as_i64().unwrap_or(0) + c["visitors"].as_i64().unwrap_or(0)
    );
    for (who, region) in [("demo-street", "620102002000"), ("demo-civil", "620102000000")] {
        let official = app.login_openid(who).await?;
        let id = app.region(region).await?;
        let m =
            expect_json(app.get(&format!("/api/v1/regions/{id}/metrics"), Some(&official.access_token)).await?, 200)
                .await?;
        in_range(&m, who);
        for c in m["communities"].as_array().into_iter().flatten() {
            in_range(c, who);
            for month in c["monthly"].as_array().into_iter().flatten() {
                in_range(month, who);
            }
        }
    }
    let o =
        expect_json(app.get(&format!("/api/v1/organizations/{org}/metrics"), Some(&leader.access_token)).await?, 200)
            .await?;
    in_range(&o, "organization");
    Ok(())
}

// ---- 11. text that renders empty ------------------------------------------------------------------

#[tokio::test]
async fn invisible_names_are_refused_and_look_alikes_are_one_name() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let applicant = app.login("invisible").await?;
    let community = app.region(JINTAXIANG).await?;
    let apply = |name: &str| json!({"name": name, "category": "mutual_aid", "community_id": community});

    let refused = app.post("/api/v1/organizations", Some(&applicant.access_token), apply("\u{200b}")).await?;
    let problem = expect_problem(refused, 422, "validation_failed").await?;
    assert_eq!(problem["errors"][0]["field"], "name", "{problem}");
    let mut body = body_at(app.ctx.now() + Duration::days(2), 60, 5, "活动室");
    body["title"] = json!("\u{200d}\u{2060}");
    let problem = expect_problem(
        app.post(&format!("/api/v1/organizations/{org}/activities"), Some(&leader.access_token), body).await?,
        422,
        "validation_failed",
    )
    .await?;
    assert_eq!(problem["errors"][0]["field"], "title", "{problem}");
    let problem = expect_problem(
        app.patch("/api/v1/me", Some(&applicant.access_token), json!({"nickname": "\u{feff}"})).await?,
        422,
        "validation_failed",
    )
    .await?;
    assert_eq!(problem["errors"][0]["field"], "nickname", "{problem}");
    for blank in ["\u{3000}", "\u{202e}", "\u{fe0f}\u{200d}"] {
        let r = app.patch("/api/v1/me", Some(&applicant.access_token), json!({"nickname": blank})).await?;
        expect_problem(r, 422, "validation_failed").await?;
    }

    // Emoji are one character each: 50 fit a name, 51 do not.
    expect_json(app.post("/api/v1/organizations", Some(&applicant.access_token), apply(&"😀".repeat(50))).await?, 201)
        .await?;
    expect_problem(
        app.post("/api/v1/organizations", Some(&applicant.access_token), apply(&"😀".repeat(51))).await?,
        422,
        "validation_failed",
    )
    .await?;

    // Format characters are stripped; NFC makes `Cafe\u0301` and `Café` one name.
    let me = expect_json(
        app.patch("/api/v1/me", Some(&applicant.access_token), json!({"nickname": "\u{200b}小\u{202e}王\u{feff}"}))
            .await?,
        200,
    )
    .await?;
    assert_eq!(me["nickname"], "小王");
    let first =
        expect_json(app.post("/api/v1/organizations", Some(&applicant.access_token), apply("Café读书会")).await?, 201)
            .await?;
    assert_eq!(first["name"], "Café读书会");
    let twin_user = app.login("twin").await?;
    let twin = app.post("/api/v1/organizations", Some(&twin_user.access_token), apply("Cafe\u{301}读书会")).await?;
    expect_problem(twin, 409, "name_taken").await?;
    // A look-alike of a filed organization in the same community, spaces and case aside.
    let copycat = app.login("copycat").await?;
    let filed =
        app.post("/api/v1/organizations", Some(&copycat.access_token), apply("金塔巷 夕阳红志愿服务队")).await?;
    expect_problem(filed, 409, "name_taken").await?;
    Ok(())
}

// ---- races: two phones, repeated taps, several residents at once ---------------------------

/// The activity's counters agree with its roster.
async fn assert_consistent(app: &TestApp, staff: &Session, id: i64) -> anyhow::Result<()> {
    let a = activity(app, id).await?;
    let roster = expect_json(
        app.get(&format!("/api/v1/activities/{id}/signups?limit=100"), Some(&staff.access_token)).await?,
        200,
    )
    .await?;
    let items = roster["items"].as_array().cloned().unwrap_or_default();
    let holding = items
        .iter()
        .filter(|s| ["confirmed", "attended", "no_show"].contains(&s["status"].as_str().unwrap_or("")))
        .count() as i64;
    let queued = items.iter().filter(|s| s["status"] == "waitlisted").count() as i64;
    let capacity = a["capacity"].as_i64().unwrap_or(-1);
    assert_eq!(a["places_left"].as_i64(), Some(capacity - holding), "places_left against the roster: {a} {roster}");
    assert_eq!(a["waitlist_length"].as_i64(), Some(queued), "waitlist against the roster: {a} {roster}");
    let mut positions: Vec<i64> = items.iter().filter_map(|s| s["waitlist_position"].as_i64()).collect();
    positions.sort_unstable();
    assert_eq!(positions, (1..=queued).collect::<Vec<_>>(), "positions 1..n: {roster}");
    Ok(())
}

#[tokio::test]
async fn repeated_taps_and_toggles_after_a_cancellation_never_leak_a_place() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let id = app.publish(&leader, org, body_at(app.ctx.now() + Duration::days(2), 60, 3, "金塔巷活动室")).await?;
    let a = app.login("taps-a").await?;
    let mut signed_up = 0; // sign-ups that took a place (201)
    for round in 0..4 {
        expect_json(sign_up(&app, &a, id).await?, 201).await?;
        signed_up += 1;
        assert_eq!(cancel(&app, &a, id).await?.status(), 204);
        let taps = futures_util::future::join_all((0..4).map(|_| sign_up(&app, &a, id))).await;
        let mut created = 0;
        for t in taps {
            let t = t?;
            let status = t.status().as_u16();
            assert!(status == 201 || status == 200, "round {round}: {status}");
            created += usize::from(status == 201);
            assert_eq!(t.json::<Value>().await?["status"], "confirmed");
        }
        assert_eq!(created, 1, "round {round}: one tap signs up, the others answer it");
        signed_up += created;
        assert_consistent(&app, &leader, id).await?;
        assert_eq!(activity(&app, id).await?["places_left"], 2);
        // Toggling from two phones: whatever the order, the counters follow the roster.
        let toggles = futures_util::future::join_all((0..4).map(|i| {
            let (app, a) = (&app, &a);
            async move { if i % 2 == 0 { sign_up(app, a, id).await } else { cancel(app, a, id).await } }
        }))
        .await;
        for t in toggles {
            let status = t?.status().as_u16();
            assert!(status < 500);
            signed_up += usize::from(status == 201);
        }
        assert_consistent(&app, &leader, id).await?;
        let _ = cancel(&app, &a, id).await?;
    }
    let confirmations = inbox(&app, &a).await?.iter().filter(|n| n["kind"] == "signup_confirmed").count();
    assert_eq!(confirmations, signed_up, "one confirmation per sign-up that took a place, not per tap");
    Ok(())
}

#[tokio::test]
async fn two_phones_never_hold_clashing_places() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let day = app.ctx.now() + Duration::days(4);
    for round in 0..4 {
        let x = app.publish(&leader, org, body_at(day + Duration::hours(round * 5), 120, 5, "X")).await?;
        let y = app.publish(&leader, org, body_at(day + Duration::hours(round * 5 + 1), 120, 5, "Y")).await?;
        let a = app.login(&format!("phones-{round}")).await?;
        let (rx, ry) = futures_util::future::join(sign_up(&app, &a, x), sign_up(&app, &a, y)).await;
        let statuses = [rx?.status().as_u16(), ry?.status().as_u16()];
        assert!(statuses.contains(&201) && statuses.contains(&409), "round {round}: {statuses:?}");
    }
    // A promotion racing a sign-up elsewhere: never confirmed on both.
    for round in 0..3 {
        let start = day + Duration::days(1) + Duration::hours(round * 5);
        let x = app.publish(&leader, org, body_at(start, 120, 1, "X")).await?;
        let y = app.publish(&leader, org, body_at(start + Duration::hours(1), 120, 5, "Y")).await?;
        let (h, w) = (app.login(&format!("race-h-{round}")).await?, app.login(&format!("race-w-{round}")).await?);
        expect_json(sign_up(&app, &h, x).await?, 201).await?;
        expect_json(sign_up(&app, &w, x).await?, 201).await?;
        let (c, s) = futures_util::future::join(cancel(&app, &h, x), sign_up(&app, &w, y)).await;
        assert_eq!(c?.status(), 204);
        assert!(s?.status().as_u16() < 500);
        let on_x = roster_status(&app, &leader, x, w.user_id).await?;
        let on_y = roster_status(&app, &leader, y, w.user_id).await?;
        assert!(!(on_x == "confirmed" && on_y == "confirmed"), "round {round}: W holds both");
        assert_consistent(&app, &leader, x).await?;
    }
    Ok(())
}

/// A crowd on many activities at once, batched across activities
/// (`service::signup_batch`): each resident taps two overlapping activities and a third
/// one twice, all at once. Never two clashing places, every activity's counters and
/// waitlist exact, one sign-up per resident per activity.
#[tokio::test]
async fn a_crowd_across_many_activities_stays_exact_and_never_clashes() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let day = app.ctx.now() + Duration::days(3);
    let mut pairs = Vec::new();
    for k in 0..4 {
        let x = app.publish(&leader, org, body_at(day + Duration::hours(k * 4), 120, 3, "X")).await?;
        let y = app.publish(&leader, org, body_at(day + Duration::hours(k * 4 + 1), 120, 3, "Y")).await?;
        pairs.push((x, y));
    }
    let third = app.publish(&leader, org, body_at(day + Duration::days(2), 60, 10, "Z")).await?;
    let people = residents(&app, "many", 24).await?;
    let (mut calls, app_ref) = (Vec::new(), &app);
    for (i, who) in people.iter().enumerate() {
        let (x, y) = pairs[i % pairs.len()];
        for id in [x, y, third, third] {
            calls.push(async move { (who.user_id, id, sign_up(app_ref, who, id).await) });
        }
    }
    let mut created: std::collections::HashMap<(i64, i64), usize> = Default::default();
    for (user, id, answer) in futures_util::future::join_all(calls).await {
        let status = answer?.status().as_u16();
        assert!([200, 201, 409].contains(&status), "user {user} on {id}: {status}");
        *created.entry((user, id)).or_default() += usize::from(status == 201);
    }
    for (i, who) in people.iter().enumerate() {
        let (x, y) = pairs[i % pairs.len()];
        assert_eq!(created[&(who.user_id, third)], 1, "one new sign-up for two taps");
        let on_x = roster_status(&app, &leader, x, who.user_id).await?;
        let on_y = roster_status(&app, &leader, y, who.user_id).await?;
        assert!(!(on_x == "confirmed" && on_y == "confirmed"), "resident {i} holds both {x} and {y}");
    }
    for id in pairs.iter().flat_map(|(x, y)| [*x, *y]).chain([third]) {
        assert_consistent(&app, &leader, id).await?;
    }
    let z = activity(&app, third).await?;
    assert_eq!(z["places_left"], 0);
    assert_eq!(z["waitlist_length"], 14, "24 residents, 10 places");
    Ok(())
}

#[tokio::test]
async fn accounts_deleted_while_others_cancel_answer_no_500_and_keep_the_counters() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    // Three activities of three places, fourteen residents on each (three confirmed, eleven
    // queued); five delete their accounts while five cancel everything, all at once.
    for round in 0..2 {
        let day = app.ctx.now() + Duration::days(5 + round);
        let mut ids = Vec::new();
        for i in 0..3 {
            ids.push(app.publish(&leader, org, body_at(day + Duration::hours(i * 3), 60, 3, "金塔巷活动室")).await?);
        }
        let mut people = Vec::new();
        for i in 0..14 {
            let who = app.login(&format!("mass-{round}-{i}")).await?;
            for id in &ids {
                expect_json(sign_up(&app, &who, *id).await?, 201).await?;
            }
            people.push(who);
        }
        let mut requests = Vec::new();
        for (i, who) in people.iter().enumerate().take(10) {
            if i % 2 == 0 {
                requests.push(futures_util::future::Either::Left(app.delete("/api/v1/me", Some(&who.access_token))));
            } else {
                for id in &ids {
                    requests.push(futures_util::future::Either::Right(cancel(&app, who, *id)));
                }
            }
        }
        for r in futures_util::future::join_all(requests).await {
            let r = r?;
            assert!(r.status().is_success(), "round {round}: {}: {:?}", r.status(), r.text().await);
        }
        for id in &ids {
            assert_consistent(&app, &leader, *id).await?;
        }
    }
    Ok(())
}

/// A leader cancels an activity while a crowd signs up on it and on another: the cancel
/// never answers 500 (on PostgreSQL a sign-up once held its residents `FOR UPDATE` while the
/// cancel, holding the activity, wrote notices naming them: a deadlock), and everyone on the
/// cancelled roster is told.
#[tokio::test]
async fn a_cancel_during_a_crowd_answers_and_tells_everyone() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let day = app.ctx.now() + Duration::days(6);
    let people = residents(&app, "cancel-crowd", 40).await?;
    for round in 0..3 {
        let kept = app.publish(&leader, org, body_at(day + Duration::hours(round * 6), 60, 5, "K")).await?;
        let gone = app.publish(&leader, org, body_at(day + Duration::hours(round * 6 + 2), 60, 5, "G")).await?;
        for who in &people[..8] {
            expect_json(sign_up(&app, who, gone).await?, 201).await?;
        }
        let app_ref = &app;
        let taps = futures_util::future::join_all(people.iter().flat_map(|who| {
            [kept, gone].map(|id| async move { sign_up(app_ref, who, id).await.map(|r| r.status().as_u16()) })
        }));
        let cancel = async {
            tokio::time::sleep(std::time::Duration::from_millis(5 * round as u64)).await;
            app.post(
                &format!("/api/v1/activities/{gone}/cancel"),
                Some(&leader.access_token),
                json!({"reason": "rain"}),
            )
            .await
        };
        let (taps, cancelled) = futures_util::future::join(taps, cancel).await;
        assert_eq!(cancelled?.status(), 200, "round {round}: the cancel");
        for status in taps {
            let status = status?;
            assert!([200, 201, 409].contains(&status), "round {round}: a sign-up answered {status}");
        }
        assert_eq!(activity(&app, gone).await?["status"], "cancelled");
        for who in &people {
            if roster_status(&app, &leader, gone, who.user_id).await? != "none" {
                let told = inbox(&app, who)
                    .await?
                    .iter()
                    .any(|n| n["kind"] == "activity_cancelled" && n["activity_id"] == gone);
                assert!(told, "round {round}: resident {} on the cancelled roster was not told", who.user_id);
            }
        }
        assert_consistent(&app, &leader, kept).await?;
    }
    Ok(())
}

/// A promotion never waits for a waitlisted resident whose row a sign-up elsewhere holds at
/// that moment (on PostgreSQL: waiting could close a lock cycle); it stops before them and
/// runs again once that sign-up is over (`service::promotions::later`): the freed place
/// goes to them — not nowhere, and not to the one behind them. Each round: H holds X's one
/// place, W and then V wait for it; H cancels while W and a crowd sign up for Y (not
/// overlapping X).
#[tokio::test]
async fn a_place_freed_while_the_next_in_line_is_busy_still_goes_to_them() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let day = app.ctx.now() + Duration::days(8);
    let crowd = residents(&app, "busy-crowd", 30).await?;
    for round in 0..6 {
        let x = app.publish(&leader, org, body_at(day + Duration::hours(round * 5), 60, 1, "X")).await?;
        let y = app.publish(&leader, org, body_at(day + Duration::hours(round * 5 + 2), 60, 50, "Y")).await?;
        let (h, w) = (app.login(&format!("busy-h-{round}")).await?, app.login(&format!("busy-w-{round}")).await?);
        let behind = app.login(&format!("busy-v-{round}")).await?;
        expect_json(sign_up(&app, &h, x).await?, 201).await?;
        for who in [&w, &behind] {
            assert_eq!(expect_json(sign_up(&app, who, x).await?, 201).await?["status"], "waitlisted");
        }
        let app_ref = &app;
        let taps = futures_util::future::join_all(
            std::iter::once(&w).chain(&crowd).map(|who| async move { sign_up(app_ref, who, y).await }),
        );
        let (c, taps) = futures_util::future::join(cancel(&app, &h, x), taps).await;
        assert_eq!(c?.status(), 204, "round {round}");
        for t in taps {
            assert!(t?.status().is_success(), "round {round}");
        }
        let mut status = String::new();
        for _ in 0..100 {
            status = roster_status(&app, &leader, x, w.user_id).await?;
            if status == "confirmed" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(status, "confirmed", "round {round}: the freed place did not reach the next in line");
        let behind_status = roster_status(&app, &leader, x, behind.user_id).await?;
        assert_eq!(behind_status, "waitlisted", "round {round}: the one behind went first");
        assert_consistent(&app, &leader, x).await?;
        assert!(inbox(&app, &w).await?.iter().any(|n| n["kind"] == "waitlist_promoted" && n["activity_id"] == x));
    }
    Ok(())
}

/// The sweep (`service::promotions::sweep`, every five minutes) fills a place freed with
/// nobody promoted — here a place made free behind the service's back, as a restart
/// between a cancellation and its follow-up would leave it. Those holding a clashing place
/// stay queued.
#[tokio::test]
async fn the_waitlist_sweep_fills_a_place_left_free() -> TestResult {
    use linli_server::entity::activity;
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let start = app.ctx.now() + Duration::days(9);
    let x = app.publish(&leader, org, body_at(start, 60, 1, "X")).await?;
    let elsewhere = app.publish(&leader, org, body_at(start, 60, 5, "E")).await?;
    let (h, busy, w) = (app.login("sweep-h").await?, app.login("sweep-busy").await?, app.login("sweep-w").await?);
    expect_json(sign_up(&app, &h, x).await?, 201).await?;
    for who in [&busy, &w] {
        assert_eq!(expect_json(sign_up(&app, who, x).await?, 201).await?["status"], "waitlisted");
    }
    expect_json(sign_up(&app, &busy, elsewhere).await?, 201).await?; // holds a clashing place
    assert_eq!(linli_server::service::promotions::sweep(&app.ctx).await?, 0, "nothing free yet");
    activity::ActiveModel { id: Set(x), capacity: Set(3), ..Default::default() }.update(&app.ctx.db).await?;
    assert_eq!(linli_server::service::promotions::sweep(&app.ctx).await?, 1, "w only: busy clashes");
    assert_eq!(roster_status(&app, &leader, x, w.user_id).await?, "confirmed");
    assert_eq!(roster_status(&app, &leader, x, busy.user_id).await?, "waitlisted");
    assert_consistent(&app, &leader, x).await?;
    assert_eq!(linli_server::service::promotions::sweep(&app.ctx).await?, 0, "run again: nothing more");
    Ok(())
}

#[tokio::test]
async fn a_suspended_organization_takes_no_sign_ups_and_its_residents_are_told() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let id = app.publish(&leader, org, body_at(app.ctx.now() + Duration::days(2), 60, 5, "金塔巷活动室")).await?;
    let (a, b) = (app.login("suspend-a").await?, app.login("suspend-b").await?);
    expect_json(sign_up(&app, &a, id).await?, 201).await?;
    let street = app.login_openid("demo-street").await?;
    let path = format!("/api/v1/organizations/{org}/status");
    let suspended =
        app.post(&path, Some(&street.access_token), json!({"action": "suspend", "reason": "年检未通过"})).await?;
    expect_json(suspended, 200).await?;
    assert_eq!(activity(&app, id).await?["status"], "cancelled");
    assert_eq!(count_kind(&inbox(&app, &a).await?, "activity_cancelled"), 1, "A is told");
    expect_problem(sign_up(&app, &b, id).await?, 409, "activity_cancelled").await?;
    Ok(())
}
