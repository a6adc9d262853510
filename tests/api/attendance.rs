//! Attendance, closing, hours, and participation figures end to end.

use chrono::{Duration, Utc};
use linli_tests::{Session, TestApp, TestResult, expect_json, expect_problem, spawn_app};
use serde_json::{Value, json};

const JINTAXIANG: &str = "620102002006";

/// An activity of the demo leader's organization starting `hours_ahead` from now, two
/// hours long, at 金塔巷 (36.0627, 103.8221).
async fn activity(app: &TestApp, leader: &Session, org: i64, hours_ahead: i64, capacity: i64) -> anyhow::Result<i64> {
    let start = Utc::now() + Duration::hours(hours_ahead);
    let body = json!({
        "kind": "volunteer", "title": format!("签到测试{hours_ahead}"), "location": "金塔巷社区活动室",
        "latitude": 36.0627, "longitude": 103.8221,
        "starts_at": start.to_rfc3339(), "ends_at": (start + Duration::hours(2)).to_rfc3339(), "capacity": capacity
    });
    app.publish(leader, org, body).await
}

async fn resident(app: &TestApp, code: &str) -> anyhow::Result<Session> {
    let who = app.login(code).await?;
    let community = app.region(JINTAXIANG).await?;
    expect_json(app.patch("/api/v1/me", Some(&who.access_token), json!({"home_community_id": community})).await?, 200)
        .await?;
    Ok(who)
}

async fn sign_up(app: &TestApp, who: &Session, id: i64) -> anyhow::Result<Value> {
    let resp = app.post(&format!("/api/v1/activities/{id}/signups"), Some(&who.access_token), json!({})).await?;
    anyhow::ensure!(resp.status().is_success(), "sign-up failed: {}", resp.status());
    Ok(resp.json().await?)
}

async fn attend(app: &TestApp, staff: &Session, id: i64, body: Value) -> anyhow::Result<reqwest::Response> {
    app.post(&format!("/api/v1/activities/{id}/attendance"), Some(&staff.access_token), body).await
}

/// Every session's token expires when the clock jumps: sign in again.
async fn again(app: &TestApp, who: &Session, code: &str) -> anyhow::Result<Session> {
    let fresh = app.login(code).await?;
    anyhow::ensure!(fresh.user_id == who.user_id);
    Ok(fresh)
}

#[tokio::test]
async fn three_check_ins_and_a_close_show_up_in_every_figure_and_the_export() -> TestResult {
    let app = spawn_app().await?;
    let since = app.since_now();
    let (leader, org) = app.demo_leader().await?;
    let id = activity(&app, &leader, org, 2, 10).await?;
    let (r1, r2, r3, r4) = (
        resident(&app, "r1").await?,
        resident(&app, "r2").await?,
        resident(&app, "r3").await?,
        resident(&app, "r4").await?,
    );
    for r in [&r1, &r2, &r3, &r4] {
        sign_up(&app, r, id).await?;
    }

    app.clock.advance(Duration::hours(2)); // the start
    let leader = app.login_openid("demo-leader").await?;
    let (r1, r2, r3, r4) = (
        again(&app, &r1, "r1").await?,
        again(&app, &r2, "r2").await?,
        again(&app, &r3, "r3").await?,
        again(&app, &r4, "r4").await?,
    );

    // 1. Staff scan r1's personal code.
    let code = expect_json(app.get("/api/v1/me/checkin-code", Some(&r1.access_token)).await?, 200).await?;
    let done =
        expect_json(attend(&app, &leader, id, json!({"checkin_code": code["code"], "action": "check_in"})).await?, 200)
            .await?;
    assert_eq!((done["user_id"].as_i64(), done["changed"].as_bool()), (Some(r1.user_id), Some(true)));
    // 2. r2 scans the activity's rotating code, standing at the door.
    let shown =
        expect_json(app.get(&format!("/api/v1/activities/{id}/checkin-code"), Some(&leader.access_token)).await?, 200)
            .await?;
    let self_path = format!("/api/v1/activities/{id}/attendance/self");
    let body = json!({"code": shown["code"], "action": "check_in", "latitude": 36.0628, "longitude": 103.8222});
    expect_json(app.post(&self_path, Some(&r2.access_token), body).await?, 200).await?;
    // 3. r3 ticked on the roster; a second tick changes nothing and says so.
    expect_json(attend(&app, &leader, id, json!({"user_id": r3.user_id, "action": "check_in"})).await?, 200).await?;
    let twice =
        expect_json(attend(&app, &leader, id, json!({"user_id": r3.user_id, "action": "check_in"})).await?, 200)
            .await?;
    assert_eq!(twice["changed"], false);

    app.clock.advance(Duration::minutes(60)); // r2 leaves at half time: no hours
    let leader = app.login_openid("demo-leader").await?;
    expect_json(attend(&app, &leader, id, json!({"user_id": r2.user_id, "action": "check_out"})).await?, 200).await?;
    app.clock.advance(Duration::minutes(50)); // r1 leaves after 110 minutes
    let leader = app.login_openid("demo-leader").await?;
    expect_json(attend(&app, &leader, id, json!({"user_id": r1.user_id, "action": "check_out"})).await?, 200).await?;
    // r3 never checks out: the scheduled end counts. r4 never came.
    let closed = expect_json(
        app.post(&format!("/api/v1/activities/{id}/finish"), Some(&leader.access_token), json!({})).await?,
        200,
    )
    .await?;
    assert_eq!(closed, json!({"attended": 3, "no_shows": 1, "credited_hours": 3.83}));

    // Each resident's own figures.
    let hours = |who: &Session| {
        let app = &app;
        let token = who.access_token.clone();
        async move {
            let p = expect_json(app.get("/api/v1/me/participation", Some(&token)).await?, 200).await?;
            anyhow::Ok((p["all_time"]["activities"].as_i64(), p["all_time"]["hours"].as_f64(), p))
        }
    };
    let (r1, r2, r3) = (again(&app, &r1, "r1").await?, again(&app, &r2, "r2").await?, again(&app, &r3, "r3").await?);
    let (n1, h1, p1) = hours(&r1).await?;
    assert_eq!((n1, h1), (Some(1), Some(1.83)));
    assert_eq!(p1["this_year"]["hours"], 1.83);
    assert_eq!(p1["by_kind"][0]["kind"], "volunteer");
    assert_eq!(p1["by_organization"][0]["organization_id"], org);
    assert_eq!(hours(&r2).await?.1, Some(0.0));
    assert_eq!(hours(&r3).await?.1, Some(2.0));
    let r4 = again(&app, &r4, "r4").await?;
    let past = expect_json(app.get("/api/v1/me/signups?when=past", Some(&r4.access_token)).await?, 200).await?;
    assert_eq!(past["items"][0]["status"], "no_show");
    let page = app.get("/api/v1/me/participation/record", Some(&r1.access_token)).await?;
    assert!(
        page.headers().get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|c| c.starts_with("text/html"))
    );
    let page = page.text().await?;
    assert!(page.contains("志愿服务记录") && page.contains("1.83") && page.contains("签到测试2"));

    // The organization's figures.
    let leader = app.login_openid("demo-leader").await?;
    let om = expect_json(
        app.get(&format!("/api/v1/organizations/{org}/metrics?{since}"), Some(&leader.access_token)).await?,
        200,
    )
    .await?;
    assert_eq!(
        (om["activities_held"].as_i64(), om["attended"].as_i64(), om["no_shows"].as_i64(), om["participants"].as_i64()),
        (Some(1), Some(3), Some(1), Some(3))
    );
    assert_eq!(om["volunteer_hours"], 3.8);

    // The community's, for its committee.
    let community = app.region(JINTAXIANG).await?;
    let committee = app.login_openid("demo-committee").await?;
    let cm = expect_json(
        app.get(&format!("/api/v1/regions/{community}/metrics?{since}"), Some(&committee.access_token)).await?,
        200,
    )
    .await?;
    let c = &cm["communities"][0];
    assert_eq!(c["community"]["id"], community);
    assert_eq!(
        (c["activities_held"].as_i64(), c["participants"].as_i64(), c["attended"].as_i64(), c["no_shows"].as_i64()),
        (Some(1), Some(3), Some(3), Some(1))
    );
    assert_eq!(c["attendance_rate"], 0.75);
    assert_eq!(c["no_show_rate"], 0.25);
    assert_eq!(c["volunteer_hours"], 3.8);
    assert_eq!(
        (c["organizations"].as_i64(), c["target"].as_i64(), c["target_met"].as_bool()),
        (Some(4), Some(10), Some(false))
    );
    assert_eq!(c["organizations_by_category"]["community_service"], 1);
    let residents = c["residents_registered"].as_i64().unwrap_or(0);
    assert!(residents >= 4);
    assert_eq!(c["participation_rate"].as_f64(), Some(((3.0 / residents as f64) * 1000.0).round() / 1000.0));
    assert_eq!(c["active_organizations"], 1);
    let month = chrono::Utc::now()
        .with_timezone(
            &chrono::FixedOffset::east_opt(8 * 3600)
                .unwrap_or_else(|| chrono::FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!())),
        )
        .format("%Y-%m")
        .to_string();
    let this_month = cm["monthly"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["month"].as_str() >= Some(month.as_str()) && m["activities_held"] == 1);
    assert!(this_month.is_some(), "month by month: {}", cm["monthly"]);

    // The street's: its three communities side by side.
    let street = app.login_openid("demo-street").await?;
    let street_id = app.region("620102002000").await?;
    let sm = expect_json(
        app.get(&format!("/api/v1/regions/{street_id}/metrics?{since}"), Some(&street.access_token)).await?,
        200,
    )
    .await?;
    assert_eq!(sm["communities"].as_array().map(Vec::len), Some(3));
    assert_eq!(sm["participants"], 3);
    assert_eq!(sm["activities_held"], 1);
    assert_eq!(sm["organizations"], 9);
    let om_street =
        app.get(&format!("/api/v1/organizations/{org}/metrics?{since}"), Some(&street.access_token)).await?;
    assert_eq!(om_street.status().as_u16(), 200, "the regions above an organization see its figures");

    // And in the export.
    let xlsx = app
        .get(&format!("/api/v1/regions/{street_id}/metrics/export?{since}&format=xlsx"), Some(&street.access_token))
        .await?;
    assert_eq!(
        xlsx.headers().get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    );
    let bytes = xlsx.bytes().await?;
    assert!(bytes.starts_with(b"PK"), "an xlsx is a zip");
    assert!(bytes.len() > 4000);
    let csv = app
        .get(&format!("/api/v1/regions/{street_id}/metrics/export?{since}&format=csv"), Some(&street.access_token))
        .await?;
    let text = csv.text().await?;
    assert!(text.starts_with('\u{feff}'), "a BOM for Excel");
    let header = text.lines().next().unwrap_or_default();
    assert!(header.contains("社区/村") && header.contains("参与率"));
    let row = text.lines().find(|l| l.starts_with("金塔巷社区")).unwrap_or_default();
    let cells: Vec<&str> = row.split(',').collect();
    assert_eq!(&cells[..5], ["金塔巷社区居委会", "城市", "4", "10", "否"]);
    assert_eq!(cells[8], "1", "activities");
    assert_eq!(cells[13], "3", "participants");
    assert_eq!(cells[16], "3.8", "hours");
    Ok(())
}

#[tokio::test]
async fn the_wrong_role_is_refused_for_figures() -> TestResult {
    let app = spawn_app().await?;
    let community = app.region(JINTAXIANG).await?;
    let street = app.region("620102002000").await?;
    let (_, org) = app.demo_leader().await?;
    let resident = app.login("nosy").await?;
    let village = app.login_openid("demo-village").await?;
    let committee = app.login_openid("demo-committee").await?;
    let township = app.login_openid("demo-township").await?;
    let get = |path: String, who: &Session| {
        let app = &app;
        let token = who.access_token.clone();
        async move { app.get(&path, Some(&token)).await }
    };
    expect_problem(get(format!("/api/v1/regions/{community}/metrics"), &resident).await?, 403, "forbidden").await?;
    expect_problem(get(format!("/api/v1/regions/{community}/metrics"), &village).await?, 403, "forbidden").await?;
    expect_problem(get(format!("/api/v1/regions/{street}/metrics"), &committee).await?, 403, "forbidden").await?;
    expect_problem(get(format!("/api/v1/regions/{community}/metrics"), &township).await?, 403, "forbidden").await?;
    expect_problem(get(format!("/api/v1/regions/{community}/metrics/export"), &resident).await?, 403, "forbidden")
        .await?;
    expect_problem(get(format!("/api/v1/organizations/{org}/metrics"), &resident).await?, 403, "forbidden").await?;
    expect_problem(get(format!("/api/v1/organizations/{org}/metrics"), &village).await?, 403, "forbidden").await?;
    expect_json(get(format!("/api/v1/organizations/{org}/metrics"), &committee).await?, 200).await?;
    expect_problem(app.get(&format!("/api/v1/regions/{community}/metrics"), None).await?, 401, "unauthenticated")
        .await?;
    expect_problem(
        get(format!("/api/v1/regions/{community}/metrics?from=2026-13-01"), &committee).await?,
        422,
        "validation_failed",
    )
    .await?;
    expect_problem(
        get(format!("/api/v1/regions/{community}/metrics?from=2026-06-01&to=2026-05-01"), &committee).await?,
        422,
        "validation_failed",
    )
    .await?;
    expect_problem(
        get(format!("/api/v1/regions/{community}/metrics/export?format=pdf"), &committee).await?,
        422,
        "validation_failed",
    )
    .await?;
    expect_problem(get("/api/v1/regions/987654/metrics".into(), &committee).await?, 404, "not_found").await?;
    Ok(())
}

#[tokio::test]
async fn attendance_refusals_are_clear() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let id = activity(&app, &leader, org, 3, 1).await?;
    let signed = resident(&app, "signed").await?;
    let stranger = resident(&app, "stranger").await?;
    sign_up(&app, &signed, id).await?;

    // Too early: check-in opens an hour before the start.
    expect_problem(
        attend(&app, &leader, id, json!({"user_id": signed.user_id, "action": "check_in"})).await?,
        409,
        "outside_checkin_window",
    )
    .await?;
    app.clock.advance(Duration::hours(3));
    let leader = app.login_openid("demo-leader").await?;
    let (signed, stranger) = (again(&app, &signed, "signed").await?, again(&app, &stranger, "stranger").await?);
    expect_problem(
        attend(&app, &leader, id, json!({"user_id": stranger.user_id, "action": "check_in"})).await?,
        409,
        "not_signed_up",
    )
    .await?;
    expect_problem(
        attend(&app, &leader, id, json!({"user_id": signed.user_id, "action": "check_out"})).await?,
        409,
        "not_checked_in",
    )
    .await?;
    expect_problem(
        attend(&app, &leader, id, json!({"user_id": signed.user_id, "action": "wave"})).await?,
        422,
        "validation_failed",
    )
    .await?;
    expect_problem(attend(&app, &leader, id, json!({"action": "check_in"})).await?, 422, "validation_failed").await?;
    // Codes: forged, someone else's tampered, expired.
    expect_problem(
        attend(&app, &leader, id, json!({"checkin_code": "u1.9999999999.0000000000000000", "action": "check_in"}))
            .await?,
        422,
        "validation_failed",
    )
    .await?;
    let code = expect_json(app.get("/api/v1/me/checkin-code", Some(&signed.access_token)).await?, 200).await?;
    let stolen = code["code"].as_str().unwrap_or_default().replacen(
        &format!("u{}.", signed.user_id),
        &format!("u{}.", stranger.user_id),
        1,
    );
    expect_problem(
        attend(&app, &leader, id, json!({"checkin_code": stolen, "action": "check_in"})).await?,
        422,
        "validation_failed",
    )
    .await?;
    app.clock.advance(Duration::seconds(61));
    let leader = app.login_openid("demo-leader").await?;
    expect_problem(
        attend(&app, &leader, id, json!({"checkin_code": code["code"], "action": "check_in"})).await?,
        422,
        "validation_failed",
    )
    .await?;
    // The activity's code: wrong, or scanned from far away; only staff may show it.
    let signed = again(&app, &signed, "signed").await?;
    let self_path = format!("/api/v1/activities/{id}/attendance/self");
    expect_problem(
        app.post(&self_path, Some(&signed.access_token), json!({"code": "deadbeef", "action": "check_in"})).await?,
        422,
        "validation_failed",
    )
    .await?;
    let shown =
        expect_json(app.get(&format!("/api/v1/activities/{id}/checkin-code"), Some(&leader.access_token)).await?, 200)
            .await?;
    let far = json!({"code": shown["code"], "action": "check_in", "latitude": 35.8524, "longitude": 104.1163});
    expect_problem(app.post(&self_path, Some(&signed.access_token), far).await?, 409, "too_far").await?;
    expect_problem(
        app.get(&format!("/api/v1/activities/{id}/checkin-code"), Some(&signed.access_token)).await?,
        403,
        "forbidden",
    )
    .await?;
    // Only staff record attendance, list it, close, or take walk-ins.
    expect_problem(
        attend(&app, &signed, id, json!({"user_id": signed.user_id, "action": "check_in"})).await?,
        403,
        "forbidden",
    )
    .await?;
    expect_problem(
        app.get(&format!("/api/v1/activities/{id}/attendance"), Some(&signed.access_token)).await?,
        403,
        "forbidden",
    )
    .await?;
    expect_problem(
        app.post(&format!("/api/v1/activities/{id}/finish"), Some(&signed.access_token), json!({})).await?,
        403,
        "forbidden",
    )
    .await?;
    expect_problem(
        app.post(
            &format!("/api/v1/activities/{id}/walk-ins"),
            Some(&signed.access_token),
            json!({"user_id": signed.user_id}),
        )
        .await?,
        403,
        "forbidden",
    )
    .await?;
    // Walk-ins: only while places remain (capacity 1, taken).
    expect_problem(
        app.post(
            &format!("/api/v1/activities/{id}/walk-ins"),
            Some(&leader.access_token),
            json!({"user_id": stranger.user_id}),
        )
        .await?,
        409,
        "activity_full",
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn walk_ins_offline_batches_and_corrections() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let id = activity(&app, &leader, org, 2, 5).await?;
    let (a, b) = (resident(&app, "offline-a").await?, resident(&app, "offline-b").await?);
    sign_up(&app, &a, id).await?;
    sign_up(&app, &b, id).await?;
    let walker = resident(&app, "walker").await?;
    // A closing before the start is refused.
    expect_problem(
        app.post(&format!("/api/v1/activities/{id}/finish"), Some(&leader.access_token), json!({})).await?,
        409,
        "activity_not_started",
    )
    .await?;

    app.clock.advance(Duration::hours(2) + Duration::minutes(130)); // 10 min after the end
    let leader = app.login_openid("demo-leader").await?;
    let walked = expect_json(
        app.post(
            &format!("/api/v1/activities/{id}/walk-ins"),
            Some(&leader.access_token),
            json!({"user_id": walker.user_id}),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(walked["changed"], true);

    // The village hall had no signal: the device kept the times.
    let start = Utc::now() + Duration::hours(2);
    let records = json!({"records": [
        {"user_id": a.user_id, "action": "check_out", "at": (start + Duration::minutes(100)).to_rfc3339()},
        {"user_id": a.user_id, "action": "check_in", "at": (start + Duration::minutes(5)).to_rfc3339()},
        {"user_id": b.user_id, "action": "check_in", "at": (start + Duration::minutes(10)).to_rfc3339()},
        {"user_id": 987654, "action": "check_in", "at": (start + Duration::minutes(10)).to_rfc3339()}
    ]});
    let path = format!("/api/v1/activities/{id}/attendance/batch");
    let first = expect_json(app.post(&path, Some(&leader.access_token), records.clone()).await?, 200).await?;
    let changed: Vec<Value> = first.as_array().into_iter().flatten().map(|i| i["result"]["changed"].clone()).collect();
    assert_eq!(changed, [json!(true), json!(true), json!(true), Value::Null]);
    assert_eq!(first[3]["error"]["code"], "not_signed_up");
    let second = expect_json(app.post(&path, Some(&leader.access_token), records).await?, 200).await?;
    assert!(
        second.as_array().into_iter().flatten().take(3).all(|i| i["result"]["changed"] == false),
        "applied once: {second}"
    );
    let rows =
        expect_json(app.get(&format!("/api/v1/activities/{id}/attendance"), Some(&leader.access_token)).await?, 200)
            .await?;
    let row_a = rows.as_array().into_iter().flatten().find(|r| r["user_id"] == a.user_id).cloned().unwrap_or_default();
    assert_eq!(row_a["in_method"], "offline");
    assert!(row_a["checked_out_at"].is_string());

    let closed = expect_json(
        app.post(&format!("/api/v1/activities/{id}/finish"), Some(&leader.access_token), json!({})).await?,
        200,
    )
    .await?;
    assert_eq!((closed["attended"].as_i64(), closed["no_shows"].as_i64()), (Some(3), Some(0)));
    expect_problem(
        app.post(&format!("/api/v1/activities/{id}/finish"), Some(&leader.access_token), json!({})).await?,
        409,
        "invalid_transition",
    )
    .await?;
    expect_problem(
        attend(&app, &leader, id, json!({"user_id": a.user_id, "action": "check_in"})).await?,
        409,
        "activity_finished",
    )
    .await?;

    // A correction, with its reason kept.
    let fix = format!("/api/v1/activities/{id}/attendance/{}", b.user_id);
    expect_problem(app.patch(&fix, Some(&leader.access_token), json!({"hours": 1.5})).await?, 422, "validation_failed")
        .await?;
    expect_problem(
        app.patch(&fix, Some(&leader.access_token), json!({"hours": 3, "reason": "超过活动时长"})).await?,
        422,
        "validation_failed",
    )
    .await?;
    let b2 = again(&app, &b, "offline-b").await?;
    expect_problem(
        app.patch(&fix, Some(&b2.access_token), json!({"hours": 2, "reason": "我自己改"})).await?,
        403,
        "forbidden",
    )
    .await?;
    let fixed = expect_json(
        app.patch(&fix, Some(&leader.access_token), json!({"hours": 1.5, "reason": "提前到场协助布置，补记"})).await?,
        200,
    )
    .await?;
    assert_eq!(fixed["credited_hours"], 1.5);
    let trail =
        expect_json(app.get(&format!("/api/v1/activities/{id}/corrections"), Some(&leader.access_token)).await?, 200)
            .await?;
    assert_eq!(trail[0]["new_hours"], 1.5);
    assert_eq!(trail[0]["reason"], "提前到场协助布置，补记");
    assert_eq!(trail[0]["corrected_by"], leader.user_id);
    let p = expect_json(app.get("/api/v1/me/participation", Some(&b2.access_token)).await?, 200).await?;
    assert_eq!(p["all_time"]["hours"], 1.5);
    Ok(())
}

#[tokio::test]
async fn repeated_no_shows_send_new_signups_to_the_waitlist() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let flaky = resident(&app, "flaky").await?;
    let mut ids = Vec::new();
    for hours in [2, 5, 8] {
        let id = activity(&app, &leader, org, hours, 5).await?;
        sign_up(&app, &flaky, id).await?;
        ids.push(id);
    }
    app.clock.advance(Duration::hours(11));
    let leader = app.login_openid("demo-leader").await?;
    for id in &ids {
        let closed = expect_json(
            app.post(&format!("/api/v1/activities/{id}/finish"), Some(&leader.access_token), json!({})).await?,
            200,
        )
        .await?;
        assert_eq!(closed["no_shows"], 1);
    }
    let next = activity(&app, &leader, org, 24, 5).await?;
    let flaky = again(&app, &flaky, "flaky").await?;
    let signed = sign_up(&app, &flaky, next).await?;
    assert_eq!(signed["status"], "waitlisted");
    assert_eq!(signed["waitlist_position"], 1);
    assert!(signed["note"].as_str().is_some_and(|n| n.contains("未到场")), "{signed}");
    let detail = expect_json(app.get(&format!("/api/v1/activities/{next}"), None).await?, 200).await?;
    assert_eq!(detail["places_left"], 5, "places stay for others");
    let reliable = resident(&app, "reliable").await?;
    assert_eq!(sign_up(&app, &reliable, next).await?["status"], "confirmed");
    Ok(())
}

#[tokio::test]
async fn overdue_activities_close_by_themselves() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let id = activity(&app, &leader, org, 2, 5).await?;
    let who = resident(&app, "auto").await?;
    sign_up(&app, &who, id).await?;
    app.clock.advance(Duration::hours(9)); // it ended at +4 h: 5 h ago
    assert_eq!(
        linli_server::service::attendance::finish_overdue(&app.ctx).await.map_err(|e| anyhow::anyhow!("{e}"))?,
        0,
        "not yet 6 h after the end"
    );
    app.clock.advance(Duration::hours(2));
    assert_eq!(
        linli_server::service::attendance::finish_overdue(&app.ctx).await.map_err(|e| anyhow::anyhow!("{e}"))?,
        1
    );
    let detail = expect_json(app.get(&format!("/api/v1/activities/{id}"), None).await?, 200).await?;
    assert_eq!(detail["status"], "finished");
    Ok(())
}

/// Activities of one community and month closing at the same moment each add their
/// participants to the month's set (`participant_months`), and a resident of two is
/// counted once. (Closings of one organization also wait for each other elsewhere; the
/// set's own lock is raced head-on by `a_participant_set_is_added_to_never_written_over`.)
#[tokio::test]
async fn closings_at_once_in_one_community_and_month_all_count() -> TestResult {
    let app = spawn_app().await?;
    let since = app.since_now();
    let (leader, org) = app.demo_leader().await?;
    // The first from +2 h to +3 h; the four that close at once from +3.5 h to +5 h.
    let first = Utc::now() + Duration::hours(2);
    let later = first + Duration::minutes(90);
    let mut ids = Vec::new();
    for n in 0..5 {
        let (start, end) =
            if n == 0 { (first, first + Duration::hours(1)) } else { (later, later + Duration::minutes(90)) };
        let body = json!({
            "kind": "volunteer", "title": format!("同时结项{n}"), "location": "金塔巷社区活动室",
            "latitude": 36.0627, "longitude": 103.8221,
            "starts_at": start.to_rfc3339(), "ends_at": end.to_rfc3339(), "capacity": 10
        });
        ids.push(app.publish(&leader, org, body).await?);
    }
    // Two residents of their own for each activity, and one who goes to the first two
    // (only to those: a resident shared by the closings at once would make them wait for
    // each other on the resident's `participant_years` row before reaching the set).
    let everywhere = resident(&app, "everywhere").await?;
    let mut people: Vec<Vec<Session>> = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let mut here = Vec::new();
        for k in 0..2 {
            let who = resident(&app, &format!("closing{n}-{k}")).await?;
            sign_up(&app, &who, *id).await?;
            here.push(who);
        }
        if n < 2 {
            sign_up(&app, &everywhere, *id).await?;
            here.push(everywhere.clone());
        }
        people.push(here);
    }
    for (n, (id, here)) in ids.iter().zip(&people).enumerate() {
        if n < 2 {
            app.clock.advance(Duration::minutes(if n == 0 { 120 } else { 90 })); // each start
        }
        let leader = app.login_openid("demo-leader").await?;
        for who in here {
            expect_json(attend(&app, &leader, *id, json!({"user_id": who.user_id, "action": "check_in"})).await?, 200)
                .await?;
        }
    }
    app.clock.advance(Duration::hours(2));
    let leader = app.login_openid("demo-leader").await?;
    let finish = |id: i64| {
        let (app, token) = (&app, leader.access_token.clone());
        async move { app.post(&format!("/api/v1/activities/{id}/finish"), Some(&token), json!({})).await }
    };
    expect_json(finish(ids[0]).await?, 200).await?;
    let at_once = futures_util::future::join_all(ids[1..].iter().map(|id| finish(*id))).await;
    for resp in at_once {
        expect_json(resp?, 200).await?;
    }

    let community = app.region(JINTAXIANG).await?;
    let committee = app.login_openid("demo-committee").await?;
    let cm = expect_json(
        app.get(&format!("/api/v1/regions/{community}/metrics?{since}"), Some(&committee.access_token)).await?,
        200,
    )
    .await?;
    let c = &cm["communities"][0];
    assert_eq!(c["attended"], 12, "every check-in closed");
    assert_eq!(c["activities_held"], 5, "every closing summed into the month: {c}");
    assert_eq!(c["participants"], 11, "ten residents of one activity each, and one of two: {c}");
    assert_eq!(c["resident_participants"], 11);
    assert_eq!(cm["participants"], 11);
    // Month by month too, when all five fell in one month (Asia/Shanghai).
    let month = |t: chrono::DateTime<Utc>| (t + Duration::hours(8)).format("%Y-%m").to_string();
    if month(first) == month(later) {
        let monthly = cm["monthly"].as_array().into_iter().flatten().filter_map(|m| m["participants"].as_i64()).max();
        assert_eq!(monthly, Some(11), "the month's participants: {}", cm["monthly"]);
    }
    Ok(())
}

/// Two transactions add to one community's set of a month, the second while the first
/// has added and not yet committed: the second waits for the first (the row's lock; on
/// SQLite the write transaction) and adds to its set. Without the lock the second would
/// read the set as it was, and its write would drop the first's participants.
#[tokio::test]
async fn a_participant_set_is_added_to_never_written_over() -> TestResult {
    use linli_server::service::{begin_write, participant_counts};
    let app = spawn_app().await?;
    let community = app.region(JINTAXIANG).await?;
    let err = |e: linli_server::error::AppError| anyhow::anyhow!("{e}");
    let month = "2031-05";
    // The set exists before the race, as it does after a month's first closing.
    let txn = begin_write(&app.ctx.db).await?;
    participant_counts::add(&txn, community, month, &[900_001]).await.map_err(err)?;
    txn.commit().await?;

    let first = begin_write(&app.ctx.db).await?;
    participant_counts::add(&first, community, month, &[900_002, 900_003]).await.map_err(err)?;
    let db = app.ctx.db.clone();
    let second = tokio::spawn(async move {
        let txn = begin_write(&db).await?;
        participant_counts::add(&txn, community, month, &[900_004, 900_001]).await.map_err(err)?;
        txn.commit().await?;
        anyhow::Ok(())
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!second.is_finished(), "the second waits for the first to commit");
    first.commit().await?;
    second.await??;

    let sets = participant_counts::month_sets(&app.ctx.db, &[community], &[month.to_owned()]).await.map_err(err)?;
    let ids: Vec<u64> = sets.iter().flat_map(|s| s.users.iter()).collect();
    assert_eq!(ids, [900_001, 900_002, 900_003, 900_004]);

    // Sixteen at once, each with a participant of its own: every one is kept.
    let racers = (0..16i64).map(|k| {
        let db = app.ctx.db.clone();
        tokio::spawn(async move {
            let txn = begin_write(&db).await?;
            participant_counts::add(&txn, community, month, &[910_000 + k]).await.map_err(err)?;
            txn.commit().await?;
            anyhow::Ok(())
        })
    });
    for racer in futures_util::future::join_all(racers).await {
        racer??;
    }
    let sets = participant_counts::month_sets(&app.ctx.db, &[community], &[month.to_owned()]).await.map_err(err)?;
    assert_eq!(sets.iter().map(|s| s.users.len()).sum::<u64>(), 4 + 16, "no participant lost");
    Ok(())
}

/// Two transactions write activities' figures in one community and month, the second
/// while the first has written and not yet committed: the second waits for the first (the
/// `activity_months` row's lock; on SQLite the write transaction) and sums both from
/// `activity_stats`. Without the lock the second would sum without the first's activity
/// and write over the month.
#[tokio::test]
async fn an_activity_month_is_summed_with_every_closing() -> TestResult {
    use linli_server::{
        entity::activity,
        service::{activity_months, attendance, begin_write},
    };
    use sea_orm::EntityTrait;
    let app = spawn_app().await?;
    let community = app.region(JINTAXIANG).await?;
    let (leader, org) = app.demo_leader().await?;
    let err = |e: linli_server::error::AppError| anyhow::anyhow!("{e}");
    // Nineteen activities, their figures written as if held in May 2031.
    let held = "2031-05-10T02:00:00Z".parse::<chrono::DateTime<Utc>>()?;
    let mut held_here = Vec::new();
    for _ in 0..19 {
        let id = activity(&app, &leader, org, 3, 10).await?;
        let a = activity::Entity::find_by_id(id).one(&app.ctx.db).await?.ok_or_else(|| anyhow::anyhow!("no {id}"))?;
        held_here.push(activity::Model { community_id: community, starts_at: held, ..a });
    }
    let report = |minutes| attendance::FinishReport { attended: 2, no_shows: 1, minutes };
    let month = || vec!["2031-05".to_owned()];

    // The month exists before the race, as it does after its first closing (a new row's
    // insert would make the second wait on PostgreSQL even without the lock).
    let txn = begin_write(&app.ctx.db).await?;
    attendance::write_rollups(&txn, &held_here[18], &[], report(0)).await.map_err(err)?;
    txn.commit().await?;

    let first = begin_write(&app.ctx.db).await?;
    attendance::write_rollups(&first, &held_here[0], &[], report(60)).await.map_err(err)?;
    let (db, a) = (app.ctx.db.clone(), held_here[1].clone());
    let second = tokio::spawn(async move {
        let txn = begin_write(&db).await?;
        attendance::write_rollups(&txn, &a, &[], report(90)).await.map_err(err)?;
        txn.commit().await?;
        anyhow::Ok(())
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!second.is_finished(), "the second waits for the first to commit");
    first.commit().await?;
    second.await??;
    let cells = activity_months::read(&app.ctx.db, &[community], &month()).await.map_err(err)?;
    let f = &cells[0].figures;
    assert_eq!((f.activities, f.signups, f.attended, f.no_shows, f.minutes), (3, 9, 6, 3, 150));
    assert_eq!(f.active_organizations, 1);

    // Sixteen at once: every one is summed.
    let racers = held_here[2..18].iter().cloned().map(|a| {
        let db = app.ctx.db.clone();
        tokio::spawn(async move {
            let txn = begin_write(&db).await?;
            attendance::write_rollups(&txn, &a, &[], report(10)).await.map_err(err)?;
            txn.commit().await?;
            anyhow::Ok(())
        })
    });
    for racer in futures_util::future::join_all(racers).await {
        racer??;
    }
    let cells = activity_months::read(&app.ctx.db, &[community], &month()).await.map_err(err)?;
    let f = &cells[0].figures;
    assert_eq!((f.activities, f.attended, f.minutes), (19, 38, 150 + 160), "no activity lost");
    Ok(())
}
