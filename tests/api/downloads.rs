//! Signed download links: made with a token, opened without one, checked again.

use chrono::{Duration, Utc};
use linli_tests::{Session, TestApp, TestResult, expect_json, expect_problem, spawn_app};
use serde_json::{Value, json};

async fn link(app: &TestApp, who: &Session, body: Value) -> anyhow::Result<Value> {
    expect_json(app.post("/api/v1/downloads", Some(&who.access_token), body).await?, 201).await
}

/// Opens a link as a browser would: no `Authorization` header.
async fn open(app: &TestApp, path: &str) -> anyhow::Result<reqwest::Response> {
    app.get(path, None).await
}

fn path(link: &Value) -> anyhow::Result<String> {
    link["path"].as_str().map(str::to_owned).ok_or_else(|| anyhow::anyhow!("no path in {link}"))
}

#[tokio::test]
async fn a_link_opens_without_a_token_until_it_expires() -> TestResult {
    let app = spawn_app().await?;
    let community = app.region("620102002006").await?;
    let committee = app.login_openid("demo-committee").await?;
    let made = link(
        &app,
        &committee,
        json!({"kind": "region_metrics", "id": community, "format": "csv", "from": "2026-01-01T00:00:00+08:00"}),
    )
    .await?;
    let p = path(&made)?;
    assert!(p.starts_with("/api/v1/downloads/file?") && p.contains("from=2026-01-01T00%3A00%3A00%2B08%3A00"), "{p}");
    assert!(made["url"].as_str().is_some_and(|u| u.starts_with("http://") && u.ends_with(&p)));
    let expires = made["expires_at"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    assert!(expires.is_some_and(|t| t > Utc::now() + Duration::minutes(4) && t < Utc::now() + Duration::minutes(6)));

    let file = open(&app, &p).await?;
    assert_eq!(file.status().as_u16(), 200);
    assert_eq!(
        file.headers().get("content-disposition").and_then(|v| v.to_str().ok()).map(|d| d.starts_with("attachment")),
        Some(true)
    );
    let text = file.text().await?;
    assert!(text.starts_with('\u{feff}') && text.contains("金塔巷社区"), "{text}");
    // The default format is the workbook.
    let xlsx = link(&app, &committee, json!({"kind": "region_metrics", "id": community})).await?;
    assert!(open(&app, &path(&xlsx)?).await?.bytes().await?.starts_with(b"PK"));

    // Altered in any part: refused.
    let other = app.region("620102002005").await?;
    for tampered in [
        p.replace(&format!("&id={community}&"), &format!("&id={other}&")),
        p.replace("format=csv", "format=xlsx"),
        p.replace(&format!("user={}", committee.user_id), "user=1"),
        // The signature's last character changed (to another one: a random signature
        // may end in `0` already).
        format!("{}{}", &p[..p.len() - 1], if p.ends_with('0') { '1' } else { '0' }),
        p.replace("from=2026-01-01T00%3A00%3A00%2B08%3A00", "from=2025-01-01"),
        "/api/v1/downloads/file?kind=region_metrics".to_owned(),
    ] {
        expect_problem(open(&app, &tampered).await?, 403, "link_invalid").await?;
    }
    // Expired: gone.
    app.clock.advance(Duration::seconds(301));
    expect_problem(open(&app, &p).await?, 410, "link_expired").await?;
    Ok(())
}

#[tokio::test]
async fn the_permission_is_checked_again_when_a_link_is_opened() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let start = Utc::now() + Duration::hours(30);
    let id = app
        .publish(
            &leader,
            org,
            json!({"kind": "volunteer", "title": "链接测试", "location": "金塔巷",
                "starts_at": start.to_rfc3339(), "ends_at": (start + Duration::hours(1)).to_rfc3339(), "capacity": 5}),
        )
        .await?;
    let helper = app.login("helper").await?;
    let staff_path = format!("/api/v1/organizations/{org}/staff");
    expect_json(app.post(&staff_path, Some(&leader.access_token), json!({"user_id": helper.user_id})).await?, 200)
        .await?;
    let roster = link(&app, &helper, json!({"kind": "activity_roster", "id": id, "format": "csv"})).await?;
    let figures = link(&app, &helper, json!({"kind": "organization_metrics", "id": org})).await?;
    assert_eq!(open(&app, &path(&roster)?).await?.status().as_u16(), 200);
    assert_eq!(open(&app, &path(&figures)?).await?.status().as_u16(), 200);
    // No longer staff: the same links are refused.
    expect_json(app.delete(&format!("{staff_path}/{}", helper.user_id), Some(&leader.access_token)).await?, 200)
        .await?;
    expect_problem(open(&app, &path(&roster)?).await?, 403, "forbidden").await?;
    expect_problem(open(&app, &path(&figures)?).await?, 403, "forbidden").await?;

    // A resident's own record, closed by signing out everywhere.
    let resident = app.login("recorder").await?;
    let record = link(&app, &resident, json!({"kind": "participation_record", "id": resident.user_id})).await?;
    let page = open(&app, &path(&record)?).await?;
    assert!(
        page.headers().get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|c| c.starts_with("text/html"))
    );
    assert!(page.text().await?.contains("志愿服务记录"));
    let out = app
        .post("/api/v1/auth/logout", Some(&resident.access_token), json!({"refresh_token": resident.refresh_token}))
        .await?;
    assert_eq!(out.status().as_u16(), 204);
    expect_problem(open(&app, &path(&record)?).await?, 403, "link_invalid").await?;
    Ok(())
}

#[tokio::test]
async fn the_wrong_role_gets_no_link() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let start = Utc::now() + Duration::hours(30);
    let id = app
        .publish(
            &leader,
            org,
            json!({"kind": "volunteer", "title": "链接权限", "location": "金塔巷",
                "starts_at": start.to_rfc3339(), "ends_at": (start + Duration::hours(1)).to_rfc3339(), "capacity": 5}),
        )
        .await?;
    let community = app.region("620102002006").await?;
    let street = app.region("620102002000").await?;
    let resident = app.login("nosy").await?;
    let village = app.login_openid("demo-village").await?;
    let committee = app.login_openid("demo-committee").await?;
    let refused = [
        (&resident, json!({"kind": "region_metrics", "id": community})),
        (&village, json!({"kind": "region_metrics", "id": community})),
        (&committee, json!({"kind": "region_metrics", "id": street})),
        (&resident, json!({"kind": "activity_roster", "id": id})),
        (&village, json!({"kind": "activity_roster", "id": id})),
        (&resident, json!({"kind": "organization_metrics", "id": org})),
        (&village, json!({"kind": "organization_metrics", "id": org})),
        (&resident, json!({"kind": "participation_record", "id": leader.user_id})),
    ];
    for (who, body) in refused {
        let resp = app.post("/api/v1/downloads", Some(&who.access_token), body.clone()).await?;
        expect_problem(resp, 403, "forbidden").await.map_err(|e| anyhow::anyhow!("{body}: {e}"))?;
    }
    let resp = app.post("/api/v1/downloads", None, json!({"kind": "region_metrics", "id": community})).await?;
    expect_problem(resp, 401, "unauthenticated").await?;
    let resp = app
        .post(
            "/api/v1/downloads",
            Some(&committee.access_token),
            json!({"kind": "participation_record", "id": committee.user_id, "format": "csv"}),
        )
        .await?;
    expect_problem(resp, 422, "validation_failed").await?;
    let resp = app
        .post(
            "/api/v1/downloads",
            Some(&committee.access_token),
            json!({"kind": "region_metrics", "id": community, "from": "2026-13-01"}),
        )
        .await?;
    expect_problem(resp, 422, "validation_failed").await?;
    let resp = app
        .post("/api/v1/downloads", Some(&leader.access_token), json!({"kind": "activity_roster", "id": 987_654}))
        .await?;
    expect_problem(resp, 404, "not_found").await?;
    Ok(())
}
