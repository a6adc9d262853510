use chrono::{Duration, Utc};
use futures_util::future::join_all;
use linli_tests::{Session, TestApp, TestResult, expect_json, expect_problem, spawn_app};
use serde_json::{Value, json};

async fn leader_and_org(app: &TestApp) -> anyhow::Result<(Session, i64)> {
    app.demo_leader().await
}

fn rfc3339(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339()
}

fn activity_body(capacity: i64, starts_in_hours: i64) -> Value {
    let start = Utc::now() + Duration::hours(starts_in_hours);
    json!({
        "kind": "volunteer", "title": "社区义诊", "location": "金塔巷社区卫生服务站",
        "latitude": 36.0627, "longitude": 103.8221,
        "starts_at": rfc3339(start), "ends_at": rfc3339(start + Duration::hours(2)),
        "capacity": capacity, "target_groups": ["elderly"]
    })
}

async fn published(app: &TestApp, leader: &Session, org: i64, body: Value) -> anyhow::Result<i64> {
    app.publish(leader, org, body).await
}

async fn logins(app: &TestApp, prefix: &str, n: usize) -> anyhow::Result<Vec<Session>> {
    let mut out = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(50) {
        let codes: Vec<String> = chunk.iter().map(|i| format!("{prefix}-{i}")).collect();
        let batch = join_all(codes.iter().map(|c| app.login(c))).await;
        for s in batch {
            out.push(s?);
        }
    }
    Ok(out)
}

async fn sign_up(app: &TestApp, who: &Session, id: i64) -> anyhow::Result<reqwest::Response> {
    app.post(&format!("/api/v1/activities/{id}/signups"), Some(&who.access_token), json!({})).await
}

async fn inbox(app: &TestApp, who: &Session) -> anyhow::Result<Value> {
    expect_json(app.get("/api/v1/me/notifications", Some(&who.access_token)).await?, 200).await
}

fn kinds(inbox: &Value) -> Vec<String> {
    inbox["items"].as_array().into_iter().flatten().filter_map(|n| n["kind"].as_str().map(str::to_owned)).collect()
}

#[tokio::test]
async fn two_hundred_at_once_never_overbook_and_the_waitlist_moves() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = leader_and_org(&app).await?;
    let id = published(&app, &leader, org, activity_body(10, 48)).await?;
    let crowd = logins(&app, "crowd", 200).await?;

    let results = join_all(crowd.iter().map(|who| sign_up(&app, who, id))).await;
    let mut confirmed = 0;
    let mut positions = Vec::new();
    for r in results {
        let body = expect_json(r?, 201).await?;
        match body["status"].as_str() {
            Some("confirmed") => confirmed += 1,
            Some("waitlisted") => positions.push(body["waitlist_position"].as_i64().unwrap_or(-1)),
            other => anyhow::bail!("unexpected status {other:?}"),
        }
    }
    assert_eq!(confirmed, 10);
    positions.sort_unstable();
    assert_eq!(positions, (1..=190).collect::<Vec<i64>>(), "positions 1..190 without gaps or repeats");

    let detail = expect_json(app.get(&format!("/api/v1/activities/{id}"), None).await?, 200).await?;
    assert_eq!(detail["places_left"], 0);
    assert_eq!(detail["waitlist_length"], 190);

    // The roster agrees: 10 confirmed, 190 waitlisted, in order.
    let roster = expect_json(
        app.get(&format!("/api/v1/activities/{id}/signups?status=waitlisted&limit=100"), Some(&leader.access_token))
            .await?,
        200,
    )
    .await?;
    let first_page: Vec<i64> =
        roster["items"].as_array().into_iter().flatten().filter_map(|e| e["waitlist_position"].as_i64()).collect();
    assert_eq!(first_page, (1..=100).collect::<Vec<i64>>());

    // A confirmed resident cancels: the head of the waitlist is promoted and told.
    let mut by_status = Vec::new();
    for who in &crowd {
        let d = expect_json(app.get(&format!("/api/v1/activities/{id}"), Some(&who.access_token)).await?, 200).await?;
        by_status.push((
            who.clone(),
            d["my_signup"]["status"].as_str().unwrap_or_default().to_owned(),
            d["my_signup"]["waitlist_position"].as_i64(),
        ));
    }
    let leaving = by_status
        .iter()
        .find(|(_, s, _)| s == "confirmed")
        .map(|(w, _, _)| w.clone())
        .ok_or_else(|| anyhow::anyhow!("no confirmed"))?;
    let head = by_status
        .iter()
        .find(|(_, _, p)| *p == Some(1))
        .map(|(w, _, _)| w.clone())
        .ok_or_else(|| anyhow::anyhow!("no head"))?;
    let second = by_status
        .iter()
        .find(|(_, _, p)| *p == Some(2))
        .map(|(w, _, _)| w.clone())
        .ok_or_else(|| anyhow::anyhow!("no second"))?;
    let resp = app.delete(&format!("/api/v1/activities/{id}/signups/me"), Some(&leaving.access_token)).await?;
    assert_eq!(resp.status().as_u16(), 204);

    let promoted =
        expect_json(app.get(&format!("/api/v1/activities/{id}"), Some(&head.access_token)).await?, 200).await?;
    assert_eq!(promoted["my_signup"]["status"], "confirmed");
    assert!(kinds(&inbox(&app, &head).await?).contains(&"waitlist_promoted".to_owned()));
    let moved_up =
        expect_json(app.get(&format!("/api/v1/activities/{id}"), Some(&second.access_token)).await?, 200).await?;
    assert_eq!(moved_up["my_signup"]["waitlist_position"], 1);
    assert_eq!(moved_up["places_left"], 0);
    assert_eq!(moved_up["waitlist_length"], 189);
    let gone =
        expect_json(app.get(&format!("/api/v1/activities/{id}"), Some(&leaving.access_token)).await?, 200).await?;
    assert_eq!(gone["my_signup"]["status"], "cancelled");
    Ok(())
}

#[tokio::test]
async fn signing_up_twice_returns_the_same_signup() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = leader_and_org(&app).await?;
    let id = published(&app, &leader, org, activity_body(5, 48)).await?;
    let resident = app.login("twice").await?;
    let first = expect_json(sign_up(&app, &resident, id).await?, 201).await?;
    let again = expect_json(sign_up(&app, &resident, id).await?, 200).await?;
    assert_eq!(first["status"], "confirmed");
    assert_eq!(again["status"], "confirmed");
    assert_eq!(first["created_at"], again["created_at"]);
    let (a, b) = tokio::join!(sign_up(&app, &resident, id), sign_up(&app, &resident, id));
    assert_eq!(a?.status().as_u16(), 200);
    assert_eq!(b?.status().as_u16(), 200);
    let roster =
        expect_json(app.get(&format!("/api/v1/activities/{id}/signups"), Some(&leader.access_token)).await?, 200)
            .await?;
    assert_eq!(roster["items"].as_array().map(Vec::len), Some(1), "one row");
    let detail = expect_json(app.get(&format!("/api/v1/activities/{id}"), None).await?, 200).await?;
    assert_eq!(detail["places_left"], 4);
    assert!(kinds(&inbox(&app, &resident).await?).contains(&"signup_confirmed".to_owned()));
    Ok(())
}

#[tokio::test]
async fn sign_ups_are_refused_with_clear_codes() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = leader_and_org(&app).await?;
    let resident = app.login("refused").await?;

    // A draft does not exist for residents.
    let draft = expect_json(
        app.post(&format!("/api/v1/organizations/{org}/activities"), Some(&leader.access_token), activity_body(5, 48))
            .await?,
        201,
    )
    .await?;
    let draft_id = draft["id"].as_i64().unwrap_or_default();
    expect_problem(sign_up(&app, &resident, draft_id).await?, 404, "not_found").await?;
    expect_problem(
        app.get(&format!("/api/v1/activities/{draft_id}"), Some(&resident.access_token)).await?,
        404,
        "not_found",
    )
    .await?;
    expect_problem(sign_up(&app, &resident, 987_654).await?, 404, "not_found").await?;

    // Full, with the waitlist off.
    let mut body = activity_body(1, 24);
    body["waitlist_enabled"] = json!(false);
    body["starts_at"] = json!(rfc3339(Utc::now() + Duration::hours(200)));
    body["ends_at"] = json!(rfc3339(Utc::now() + Duration::hours(201)));
    let tight = published(&app, &leader, org, body).await?;
    let first = app.login("first").await?;
    expect_json(sign_up(&app, &first, tight).await?, 201).await?;
    expect_problem(sign_up(&app, &resident, tight).await?, 409, "activity_full").await?;

    // Overlapping a confirmed place elsewhere.
    let a = published(&app, &leader, org, activity_body(5, 48)).await?;
    let mut clash = activity_body(5, 48);
    clash["title"] = json!("同一时间的另一场");
    let b = published(&app, &leader, org, clash).await?;
    expect_json(sign_up(&app, &resident, a).await?, 201).await?;
    expect_problem(sign_up(&app, &resident, b).await?, 409, "schedule_conflict").await?;

    // Cancelled.
    let cancelled = published(&app, &leader, org, activity_body(5, 100)).await?;
    expect_json(
        app.post(
            &format!("/api/v1/activities/{cancelled}/cancel"),
            Some(&leader.access_token),
            json!({"reason": "天气原因"}),
        )
        .await?,
        200,
    )
    .await?;
    expect_problem(sign_up(&app, &resident, cancelled).await?, 409, "activity_cancelled").await?;

    // After the deadline (the app's clock moves, nobody sleeps).
    let later = published(&app, &leader, org, activity_body(5, 300)).await?;
    app.clock.advance(Duration::hours(301));
    let late = app.login("latecomer").await?;
    expect_problem(sign_up(&app, &late, later).await?, 409, "signup_closed").await?;
    expect_problem(
        app.post(&format!("/api/v1/activities/{later}/signups"), None, json!({})).await?,
        401,
        "unauthenticated",
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn cancelling_closes_at_the_cutoff_but_the_waitlist_may_leave() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = leader_and_org(&app).await?;
    let id = published(&app, &leader, org, activity_body(1, 10)).await?;
    let holder = app.login("holder").await?;
    let queued = app.login("queued").await?;
    expect_json(sign_up(&app, &holder, id).await?, 201).await?;
    let q = expect_json(sign_up(&app, &queued, id).await?, 201).await?;
    assert_eq!(q["waitlist_position"], 1);

    app.clock.advance(Duration::hours(9)); // one hour before the start: past the 2 h cut-off
    let (holder, queued) = (app.login("holder").await?, app.login("queued").await?);
    let resp = app.delete(&format!("/api/v1/activities/{id}/signups/me"), Some(&holder.access_token)).await?;
    expect_problem(resp, 409, "cancellation_closed").await?;
    let resp = app.delete(&format!("/api/v1/activities/{id}/signups/me"), Some(&queued.access_token)).await?;
    assert_eq!(resp.status().as_u16(), 204);
    let resp = app.delete(&format!("/api/v1/activities/{id}/signups/me"), Some(&queued.access_token)).await?;
    assert_eq!(resp.status().as_u16(), 204, "idempotent");
    let stranger = app.login("never-signed").await?;
    expect_problem(
        app.delete(&format!("/api/v1/activities/{id}/signups/me"), Some(&stranger.access_token)).await?,
        404,
        "not_found",
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn capacity_changes_promote_and_cannot_strand_confirmed_residents() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = leader_and_org(&app).await?;
    let id = published(&app, &leader, org, activity_body(2, 48)).await?;
    let people = logins(&app, "cap", 5).await?;
    for p in &people {
        sign_up(&app, p, id).await?;
    }
    let path = format!("/api/v1/activities/{id}");
    expect_problem(
        app.patch(&path, Some(&leader.access_token), json!({"capacity": 1})).await?,
        409,
        "capacity_below_confirmed",
    )
    .await?;
    let grown = expect_json(app.patch(&path, Some(&leader.access_token), json!({"capacity": 4})).await?, 200).await?;
    assert_eq!(grown["places_left"], 0);
    assert_eq!(grown["waitlist_length"], 1);
    for p in &people[2..4] {
        assert!(kinds(&inbox(&app, p).await?).contains(&"waitlist_promoted".to_owned()));
    }
    let last = expect_json(app.get(&path, Some(&people[4].access_token)).await?, 200).await?;
    assert_eq!(last["my_signup"]["waitlist_position"], 1);
    Ok(())
}

#[tokio::test]
async fn a_change_of_time_or_a_cancellation_reaches_everyone_signed_up() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = leader_and_org(&app).await?;
    let id = published(&app, &leader, org, activity_body(1, 48)).await?;
    let confirmed = app.login("c1").await?;
    let waiting = app.login("w1").await?;
    sign_up(&app, &confirmed, id).await?;
    sign_up(&app, &waiting, id).await?;

    let new_start = Utc::now() + Duration::hours(72);
    let moved = app
        .patch(
            &format!("/api/v1/activities/{id}"),
            Some(&leader.access_token),
            json!({"starts_at": rfc3339(new_start), "ends_at": rfc3339(new_start + Duration::hours(2)), "location": "金塔巷社区二楼会议室"}),
        )
        .await?;
    let moved = expect_json(moved, 200).await?;
    assert_eq!(moved["version"], 2);
    // A title edit alone tells nobody.
    expect_json(
        app.patch(
            &format!("/api/v1/activities/{id}"),
            Some(&leader.access_token),
            json!({"title": "社区义诊（更新）"}),
        )
        .await?,
        200,
    )
    .await?;
    for who in [&confirmed, &waiting] {
        let k = kinds(&inbox(&app, who).await?);
        assert_eq!(k.iter().filter(|k| *k == "activity_changed").count(), 1, "{k:?}");
    }
    expect_json(
        app.post(&format!("/api/v1/activities/{id}/cancel"), Some(&leader.access_token), json!({"reason": "场地维修"}))
            .await?,
        200,
    )
    .await?;
    for who in [&confirmed, &waiting] {
        let items = inbox(&app, who).await?;
        let cancelled = items["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|n| n["kind"] == "activity_cancelled")
            .cloned()
            .unwrap_or_default();
        assert!(cancelled["body"].as_str().is_some_and(|b| b.contains("场地维修")), "{cancelled}");
        assert_eq!(cancelled["activity_id"], id);
        // Signing up again is refused for the activity, not answered with the old sign-up.
        let again = app.post(&format!("/api/v1/activities/{id}/signups"), Some(&who.access_token), json!({})).await?;
        expect_problem(again, 409, "activity_cancelled").await?;
    }
    expect_problem(
        app.post(&format!("/api/v1/activities/{id}/cancel"), Some(&leader.access_token), json!({"reason": "x"}))
            .await?,
        409,
        "invalid_transition",
    )
    .await?;
    expect_problem(
        app.patch(&format!("/api/v1/activities/{id}"), Some(&leader.access_token), json!({"title": "x"})).await?,
        409,
        "activity_closed",
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn only_staff_post_and_manage_and_rosters_are_scoped() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = leader_and_org(&app).await?;
    let resident = app.login("not-staff").await?;
    let committee = app.login_openid("demo-committee").await?; // 金塔巷社区: over this activity
    let other_committee = app.login_openid("demo-village").await?;
    let path = format!("/api/v1/organizations/{org}/activities");
    expect_problem(app.post(&path, Some(&resident.access_token), activity_body(5, 48)).await?, 403, "forbidden")
        .await?;
    expect_problem(app.post(&path, None, activity_body(5, 48)).await?, 401, "unauthenticated").await?;
    let id = published(&app, &leader, org, activity_body(5, 48)).await?;
    for (who, status) in [(&resident, 403), (&other_committee, 403), (&committee, 200), (&leader, 200)] {
        let resp = app.get(&format!("/api/v1/activities/{id}/signups"), Some(&who.access_token)).await?;
        assert_eq!(resp.status().as_u16(), status);
    }
    expect_problem(
        app.patch(&format!("/api/v1/activities/{id}"), Some(&resident.access_token), json!({"title": "x"})).await?,
        403,
        "forbidden",
    )
    .await?;
    expect_problem(
        app.post(&format!("/api/v1/activities/{id}/cancel"), Some(&committee.access_token), json!({"reason": "x"}))
            .await?,
        403,
        "forbidden",
    )
    .await?;
    expect_problem(
        app.post(&format!("/api/v1/activities/{id}/publish"), Some(&leader.access_token), json!({})).await?,
        409,
        "invalid_transition",
    )
    .await?;

    // Removing a resident: staff only, with a reason the resident reads.
    sign_up(&app, &resident, id).await?;
    let remove = format!("/api/v1/activities/{id}/signups/{}/remove", resident.user_id);
    expect_problem(
        app.post(&remove, Some(&committee.access_token), json!({"reason": "重复报名"})).await?,
        403,
        "forbidden",
    )
    .await?;
    expect_problem(
        app.post(&remove, Some(&leader.access_token), json!({"reason": ""})).await?,
        422,
        "validation_failed",
    )
    .await?;
    assert_eq!(
        app.post(&remove, Some(&leader.access_token), json!({"reason": "该活动仅限本社区居民"}))
            .await?
            .status()
            .as_u16(),
        204
    );
    let notice = inbox(&app, &resident).await?;
    assert!(kinds(&notice).contains(&"signup_removed".to_owned()));
    expect_problem(sign_up(&app, &resident, id).await?, 409, "signup_removed").await?;

    // An organization not (yet) filed cannot post.
    let applicant = app.login("pending-org").await?;
    let community = app.region("620102002006").await?;
    let pending = expect_json(
        app.post(
            "/api/v1/organizations",
            Some(&applicant.access_token),
            json!({"name": "待审核", "category": "charity", "community_id": community}),
        )
        .await?,
        201,
    )
    .await?;
    let admin = app.login_openid("demo-admin").await?;
    let pending_id = pending["id"].as_i64().unwrap_or_default();
    let resp = app
        .post(
            &format!("/api/v1/organizations/{pending_id}/activities"),
            Some(&admin.access_token),
            activity_body(5, 48),
        )
        .await?;
    expect_problem(resp, 409, "organization_not_active").await?;
    Ok(())
}

#[tokio::test]
async fn bad_activities_are_refused_field_by_field() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = leader_and_org(&app).await?;
    let path = format!("/api/v1/organizations/{org}/activities");
    let now = Utc::now();
    let with = |patch: Value| {
        let mut body = activity_body(5, 48);
        for (k, v) in patch.as_object().into_iter().flatten() {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        (with(json!({"title": "长".repeat(61)})), "title", "length"),
        (with(json!({"title": " "})), "title", "length"),
        (with(json!({"kind": "party"})), "kind", "unknown_kind"),
        (with(json!({"capacity": 0})), "capacity", "range"),
        (with(json!({"capacity": 10_001})), "capacity", "range"),
        (
            with(json!({"starts_at": rfc3339(now - Duration::hours(1)), "ends_at": rfc3339(now + Duration::hours(1))})),
            "starts_at",
            "in_past",
        ),
        (with(json!({"ends_at": rfc3339(now + Duration::hours(47))})), "ends_at", "before_start"),
        (with(json!({"ends_at": rfc3339(now + Duration::hours(48 + 7 * 24 + 1))})), "ends_at", "too_long"),
        (with(json!({"signup_deadline": rfc3339(now + Duration::hours(49))})), "signup_deadline", "after_start"),
        (with(json!({"latitude": 123.0})), "latitude", "range"),
        (with(json!({"target_groups": ["aliens"]})), "target_groups[0]", "unknown_target"),
        (with(json!({"service_hours": -1})), "service_hours", "range"),
        (with(json!({"location": ""})), "location", "length"),
    ];
    for (body, field, code) in cases {
        let problem =
            expect_problem(app.post(&path, Some(&leader.access_token), body.clone()).await?, 422, "validation_failed")
                .await?;
        let errors = problem["errors"].as_array().cloned().unwrap_or_default();
        assert!(errors.iter().any(|e| e["field"] == field && e["code"] == code), "{field}/{code}: {problem}");
    }
    let too_many_hours = app.post(&path, Some(&leader.access_token), with(json!({"service_hours": 5}))).await?;
    expect_problem(too_many_hours, 422, "validation_failed").await?;
    // 60 Chinese characters are fine.
    expect_json(app.post(&path, Some(&leader.access_token), with(json!({"title": "长".repeat(60)}))).await?, 201)
        .await?;
    Ok(())
}

#[tokio::test]
async fn browse_shows_published_upcoming_activities_in_a_region() -> TestResult {
    let app = spawn_app().await?;
    let street = app.region("620102002000").await?; // 张掖路街道
    let township = app.region("620123104000").await?; // 和平镇
    let all = expect_json(app.get("/api/v1/activities?limit=100", None).await?, 200).await?;
    let items = all["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 17, "the demo's 11 activities and its series' 6 dates");
    let starts: Vec<&str> = items.iter().filter_map(|a| a["starts_at"].as_str()).collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "soonest first");
    for item in &items {
        for field in [
            "id",
            "organization_id",
            "community_id",
            "kind",
            "title",
            "description",
            "location",
            "latitude",
            "longitude",
            "starts_at",
            "ends_at",
            "signup_deadline",
            "capacity",
            "service_hours",
            "status",
            "places_left",
            "waitlist_length",
        ] {
            anyhow::ensure!(item.get(field).is_some(), "missing {field}");
        }
        assert_eq!(item["status"], "published");
    }
    let in_street =
        expect_json(app.get(&format!("/api/v1/activities?region_id={street}&limit=100"), None).await?, 200).await?;
    assert_eq!(in_street["items"].as_array().map(Vec::len), Some(12));
    let in_township =
        expect_json(app.get(&format!("/api/v1/activities?region_id={township}"), None).await?, 200).await?;
    // 袁家营村's; 黄家庄村 lies in 金崖镇 (620123103217) in the 2023 codes.
    assert_eq!(in_township["items"].as_array().map(Vec::len), Some(1));
    let training = expect_json(app.get("/api/v1/activities?kind=training", None).await?, 200).await?;
    assert_eq!(training["items"].as_array().map(Vec::len), Some(2));

    // Pages of 4, soonest first, equal one page of all.
    let all_ids: Vec<i64> = items.iter().filter_map(|a| a["id"].as_i64()).collect();
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/api/v1/activities?limit=4".to_owned();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = expect_json(app.get(&path, None).await?, 200).await?;
        paged.extend(page["items"].as_array().into_iter().flatten().filter_map(|a| a["id"].as_i64()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(paged, all_ids);

    // Nearest first from 北关村.
    let near = expect_json(app.get("/api/v1/activities?lat=35.8524&lng=104.1163", None).await?, 200).await?;
    assert!(near["items"][0]["title"].as_str().is_some_and(|t| t.contains("百合")));
    let d: Vec<f64> = near["items"].as_array().into_iter().flatten().filter_map(|a| a["distance_m"].as_f64()).collect();
    assert!(d.windows(2).all(|w| w[0] <= w[1]));

    // A date window: nothing starts within the next hour.
    let from = Utc::now();
    let soon = expect_json(
        app.client
            .get(app.url("/api/v1/activities"))
            .query(&[("from", rfc3339(from)), ("to", rfc3339(from + Duration::hours(1)))])
            .send()
            .await?,
        200,
    )
    .await?;
    assert_eq!(soon["items"], json!([]));
    for (query, field) in
        [("kind=party", "kind"), ("lat=95&lng=1", "latitude"), ("cursor=zzz", "cursor"), ("limit=500", "limit")]
    {
        let problem =
            expect_problem(app.get(&format!("/api/v1/activities?{query}"), None).await?, 422, "validation_failed")
                .await?;
        assert_eq!(problem["errors"][0]["field"], field);
    }
    // The organization profile counts its upcoming activities.
    let (_, org) = leader_and_org(&app).await?;
    let profile = expect_json(app.get(&format!("/api/v1/organizations/{org}"), None).await?, 200).await?;
    assert_eq!(profile["upcoming_activities_count"], 2);
    Ok(())
}

#[tokio::test]
async fn residents_see_their_signups_and_manage_their_inbox() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = leader_and_org(&app).await?;
    let resident = app.login("inbox-owner").await?;
    let soon = published(&app, &leader, org, activity_body(5, 3)).await?;
    sign_up(&app, &resident, soon).await?;
    let mine = expect_json(app.get("/api/v1/me/signups", Some(&resident.access_token)).await?, 200).await?;
    assert_eq!(mine["items"][0]["activity_id"], soon);
    assert_eq!(mine["items"][0]["status"], "confirmed");
    assert_eq!(mine["items"][0]["activity"]["title"], "社区义诊");
    app.clock.advance(Duration::hours(6));
    let resident = app.login("inbox-owner").await?;
    let upcoming = expect_json(app.get("/api/v1/me/signups", Some(&resident.access_token)).await?, 200).await?;
    assert_eq!(upcoming["items"], json!([]));
    let past = expect_json(app.get("/api/v1/me/signups?when=past", Some(&resident.access_token)).await?, 200).await?;
    assert_eq!(past["items"][0]["activity_id"], soon);
    expect_problem(
        app.get("/api/v1/me/signups?when=someday", Some(&resident.access_token)).await?,
        422,
        "validation_failed",
    )
    .await?;

    // The confirmation, and the 1 h reminder whose moment has now passed (the 24 h one
    // was never made: its moment had passed at sign-up).
    let inbox_body = inbox(&app, &resident).await?;
    assert_eq!(inbox_body["unread_count"], 2);
    assert_eq!(kinds(&inbox_body), ["reminder", "signup_confirmed"]);
    let first = inbox_body["items"][0]["id"].as_i64().unwrap_or_default();
    let other = app.login("someone-else").await?;
    expect_problem(
        app.post(&format!("/api/v1/me/notifications/{first}/read"), Some(&other.access_token), json!({})).await?,
        404,
        "not_found",
    )
    .await?;
    let read = expect_json(
        app.post(&format!("/api/v1/me/notifications/{first}/read"), Some(&resident.access_token), json!({})).await?,
        200,
    )
    .await?;
    assert!(read["read_at"].is_string());
    assert_eq!(inbox(&app, &resident).await?["unread_count"], 1);
    let unread_only =
        expect_json(app.get("/api/v1/me/notifications?unread=true", Some(&resident.access_token)).await?, 200).await?;
    assert_eq!(kinds(&unread_only), ["signup_confirmed"]);
    let all_read =
        expect_json(app.post("/api/v1/me/notifications/read-all", Some(&resident.access_token), json!({})).await?, 200)
            .await?;
    assert_eq!(all_read["updated"], 1);
    assert_eq!(inbox(&app, &resident).await?["unread_count"], 0);
    expect_problem(app.get("/api/v1/me/notifications", None).await?, 401, "unauthenticated").await?;
    Ok(())
}

/// A crowd whose sign-ups are applied in batches (`service::signup_batch`): residents
/// tapping three times at once, residents holding a clashing place, and everyone else, all
/// together. Each answer is the one a lone request would get, and the counters are exact.
#[tokio::test]
async fn a_batched_crowd_answers_each_resident_as_alone() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = leader_and_org(&app).await?;
    let id = published(&app, &leader, org, activity_body(20, 72)).await?;
    let other = published(&app, &leader, org, activity_body(5, 73)).await?; // overlaps `id` by an hour
    let crowd = logins(&app, "batch", 60).await?;
    let (tappers, rest) = crowd.split_at(5);
    let (clashing, plain) = rest.split_at(5);
    for who in clashing {
        assert_eq!(expect_json(sign_up(&app, who, other).await?, 201).await?["status"], "confirmed");
    }
    let mut requests = Vec::new();
    for who in plain.iter().chain(clashing) {
        requests.push((who.user_id, sign_up(&app, who, id)));
    }
    for who in tappers {
        for _ in 0..3 {
            requests.push((who.user_id, sign_up(&app, who, id)));
        }
    }
    let (users, calls): (Vec<i64>, Vec<_>) = requests.into_iter().unzip();
    let answers = join_all(calls).await;
    // A sign-up is known by its creation time and status (the answer carries no row id).
    let mut signup_of: std::collections::HashMap<i64, Vec<(u16, String)>> = Default::default();
    let (mut confirmed, mut positions, mut refused) = (0, Vec::new(), 0);
    for (user, answer) in users.into_iter().zip(answers) {
        let answer = answer?;
        let status = answer.status().as_u16();
        if clashing.iter().any(|c| c.user_id == user) {
            expect_problem(answer, 409, "schedule_conflict").await?;
            refused += 1;
            continue;
        }
        let body: Value = answer.json().await?;
        signup_of.entry(user).or_default().push((status, format!("{}/{}", body["created_at"], body["status"])));
        if status == 201 {
            match body["status"].as_str() {
                Some("confirmed") => confirmed += 1,
                Some("waitlisted") => positions.push(body["waitlist_position"].as_i64().unwrap_or(-1)),
                other => anyhow::bail!("unexpected status {other:?}"),
            }
        }
    }
    assert_eq!(refused, 5);
    assert_eq!(confirmed, 20, "exactly the capacity");
    positions.sort_unstable();
    assert_eq!(positions, (1..=35).collect::<Vec<i64>>(), "the waitlist without gaps or repeats");
    for who in tappers {
        let answers = &signup_of[&who.user_id];
        assert_eq!(answers.iter().filter(|(s, _)| *s == 201).count(), 1, "one new sign-up for three taps");
        assert_eq!(answers.iter().filter(|(s, _)| *s == 200).count(), 2, "two repeats");
        assert!(answers.iter().all(|(_, s)| *s == answers[0].1), "the same sign-up each time: {answers:?}");
    }
    let detail = expect_json(app.get(&format!("/api/v1/activities/{id}"), None).await?, 200).await?;
    assert_eq!(detail["places_left"], 0);
    assert_eq!(detail["waitlist_length"], 35);
    Ok(())
}
