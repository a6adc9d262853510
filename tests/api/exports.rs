//! Leaders' downloads: an activity's roster and an organization's figures.

use chrono::{Duration, Utc};
use linli_tests::{Session, TestApp, TestResult, expect_json, expect_problem, spawn_app};
use serde_json::json;

/// A finished activity of the demo leader's organization: r1 attended (phone bound,
/// a nickname that looks like a formula), r2 did not come, r3 stayed on the waitlist.
/// Returns the activity id, the organization id and the residents.
pub async fn finished_activity(app: &TestApp) -> anyhow::Result<(i64, i64, [Session; 3])> {
    let (leader, org) = app.demo_leader().await?;
    let start = Utc::now() + Duration::hours(2);
    let body = json!({
        "kind": "volunteer", "title": "名单导出测试", "location": "金塔巷社区活动室",
        "starts_at": start.to_rfc3339(), "ends_at": (start + Duration::hours(2)).to_rfc3339(), "capacity": 2
    });
    let id = app.publish(&leader, org, body).await?;
    let r1 = app.login("roster-r1").await?;
    expect_json(app.patch("/api/v1/me", Some(&r1.access_token), json!({"nickname": "=HYPERLINK(\"x\")"})).await?, 200)
        .await?;
    let phone = app.post("/api/v1/me/phone", Some(&r1.access_token), json!({"code": "phone-1"})).await?;
    anyhow::ensure!(phone.status().as_u16() == 204, "phone: {}", phone.status());
    let r2 = app.login("roster-r2").await?;
    let r3 = app.login("roster-r3").await?;
    for r in [&r1, &r2, &r3] {
        let resp = app.post(&format!("/api/v1/activities/{id}/signups"), Some(&r.access_token), json!({})).await?;
        anyhow::ensure!(resp.status().is_success(), "sign-up: {}", resp.status());
    }
    app.clock.advance(Duration::hours(2));
    let leader = app.login_openid("demo-leader").await?;
    let path = format!("/api/v1/activities/{id}/attendance");
    expect_json(
        app.post(&path, Some(&leader.access_token), json!({"user_id": r1.user_id, "action": "check_in"})).await?,
        200,
    )
    .await?;
    app.clock.advance(Duration::minutes(110));
    let leader = app.login_openid("demo-leader").await?;
    expect_json(
        app.post(&path, Some(&leader.access_token), json!({"user_id": r1.user_id, "action": "check_out"})).await?,
        200,
    )
    .await?;
    expect_json(
        app.post(&format!("/api/v1/activities/{id}/finish"), Some(&leader.access_token), json!({})).await?,
        200,
    )
    .await?;
    Ok((id, org, [r1, r2, r3]))
}

#[tokio::test]
async fn leaders_download_the_roster_and_their_figures() -> TestResult {
    let app = spawn_app().await?;
    let since = app.since_now();
    let (id, org, [r1, r2, r3]) = finished_activity(&app).await?;
    let leader = app.login_openid("demo-leader").await?;

    let csv =
        app.get(&format!("/api/v1/activities/{id}/signups/export?format=csv"), Some(&leader.access_token)).await?;
    assert_eq!(csv.status().as_u16(), 200);
    assert_eq!(csv.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("text/csv; charset=utf-8"));
    assert_eq!(
        csv.headers().get("content-disposition").and_then(|v| v.to_str().ok()),
        Some(format!("attachment; filename=\"roster-{id}.csv\"").as_str())
    );
    let text = csv.text().await?;
    assert!(text.starts_with('\u{feff}'), "a BOM for Excel");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0].trim_start_matches('\u{feff}'),
        "序号,用户编号,昵称,手机号,报名状态,报名时间,签到时间,签退时间,服务时长(小时),爽约"
    );
    assert_eq!(lines.len(), 4, "{text}");
    let cells = |l: &str| l.split(',').map(str::to_owned).collect::<Vec<_>>();
    let first = lines[1];
    assert!(first.contains("\"'=HYPERLINK(\"\"x\"\")\""), "a formula is defused: {first}");
    assert!(first.contains(",139****5678,已到场,"), "phone masked: {first}");
    assert!(first.ends_with(",1.83,"), "hours, not a no-show: {first}");
    let second = cells(lines[2]);
    assert_eq!(
        (second[1].as_str(), second[4].as_str(), second[9].as_str()),
        (r2.user_id.to_string().as_str(), "爽约", "是")
    );
    assert_eq!(second[6], "", "never checked in");
    let third = cells(lines[3]);
    assert_eq!((third[1].as_str(), third[4].as_str()), (r3.user_id.to_string().as_str(), "候补"));
    assert!(first.contains(&format!(",{},", r1.user_id)));

    let xlsx = app.get(&format!("/api/v1/activities/{id}/signups/export"), Some(&leader.access_token)).await?;
    assert_eq!(
        xlsx.headers().get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        "xlsx by default"
    );
    assert!(xlsx.bytes().await?.starts_with(b"PK"), "an xlsx is a zip");

    let figures = app
        .get(&format!("/api/v1/organizations/{org}/metrics/export?{since}&format=csv"), Some(&leader.access_token))
        .await?;
    assert_eq!(figures.status().as_u16(), 200);
    let text = figures.text().await?;
    assert!(
        text.starts_with("\u{feff}月份,活动场次,报名人次,到场人次,爽约人次,到场率,爽约率,参与居民,志愿服务时长(小时)"),
        "{text}"
    );
    let total = cells(text.lines().last().unwrap_or_default());
    assert_eq!(total[0], "合计");
    assert_eq!(&total[1..5], ["1", "2", "1", "1"], "one activity, two held places, one attended, one no-show");
    assert_eq!((total[7].as_str(), total[8].as_str()), ("1", "1.8"), "hours to a tenth, as the figures show them");
    let xlsx =
        app.get(&format!("/api/v1/organizations/{org}/metrics/export?{since}"), Some(&leader.access_token)).await?;
    assert!(xlsx.bytes().await?.starts_with(b"PK"));
    Ok(())
}

#[tokio::test]
async fn the_wrong_role_gets_no_download() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let start = Utc::now() + Duration::hours(30);
    let id = app
        .publish(
            &leader,
            org,
            json!({"kind": "volunteer", "title": "权限测试", "location": "金塔巷",
                "starts_at": start.to_rfc3339(), "ends_at": (start + Duration::hours(1)).to_rfc3339(), "capacity": 5}),
        )
        .await?;
    let roster = format!("/api/v1/activities/{id}/signups/export");
    let figures = format!("/api/v1/organizations/{org}/metrics/export");
    let resident = app.login("nosy").await?;
    let village = app.login_openid("demo-village").await?;
    let township = app.login_openid("demo-township").await?;
    for who in [&resident, &village, &township] {
        expect_problem(app.get(&roster, Some(&who.access_token)).await?, 403, "forbidden").await?;
        expect_problem(app.get(&figures, Some(&who.access_token)).await?, 403, "forbidden").await?;
    }
    expect_problem(app.get(&roster, None).await?, 401, "unauthenticated").await?;
    expect_problem(app.get(&figures, None).await?, 401, "unauthenticated").await?;
    let committee = app.login_openid("demo-committee").await?;
    expect_json_ok(&app, &roster, &committee).await?;
    expect_json_ok(&app, &figures, &committee).await?;
    expect_problem(
        app.get(&format!("{roster}?format=pdf"), Some(&leader.access_token)).await?,
        422,
        "validation_failed",
    )
    .await?;
    expect_problem(
        app.get(&format!("{figures}?format=html"), Some(&leader.access_token)).await?,
        422,
        "validation_failed",
    )
    .await?;
    expect_problem(
        app.get("/api/v1/activities/987654/signups/export", Some(&leader.access_token)).await?,
        404,
        "not_found",
    )
    .await?;
    Ok(())
}

async fn expect_json_ok(app: &TestApp, path: &str, who: &Session) -> anyhow::Result<()> {
    let resp = app.get(path, Some(&who.access_token)).await?;
    anyhow::ensure!(resp.status().as_u16() == 200, "{path}: {}", resp.status());
    Ok(())
}
