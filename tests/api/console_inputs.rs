//! The web console under odd but legal use (a break test's findings): its forms keep the
//! API's rules on text, odd URLs and bodies get the console's own pages, the sign-in poll
//! is not a sign-in attempt, a person with several offices switches between them, and
//! downloads are named by the days they hold.

use linli_tests::{TestApp, TestResult, expect_json, spawn_app, spawn_app_with};
use reqwest::{StatusCode, header};
use serde_json::json;

use crate::console::{Console, get_page, login_page, poll, post_form, set_cookie, sign_in};

/// An application waiting for 金塔巷's committee; its id.
async fn application(app: &TestApp, name: &str) -> anyhow::Result<i64> {
    let applicant = app.login("console-inputs-applicant").await?;
    let community = app.region("620102002006").await?;
    let body = json!({
        "name": name, "category": "mutual_aid", "community_id": community,
        "description": "楼栋互助，代买代办。", "service_targets": ["elderly"],
        "contact_name": "赵师傅", "contact_phone": "13912345678"
    });
    let org = expect_json(app.post("/api/v1/organizations", Some(&applicant.access_token), body).await?, 201).await?;
    org["id"].as_i64().ok_or_else(|| anyhow::anyhow!("no id"))
}

async fn status_of(app: &TestApp, id: i64) -> anyhow::Result<String> {
    let admin = app.demo_login("demo-admin").await?;
    let org =
        expect_json(app.get(&format!("/api/v1/organizations/{id}"), Some(&admin.access_token)).await?, 200).await?;
    Ok(org["status"].as_str().unwrap_or_default().to_owned())
}

/// A console page: HTML with the console's policy, never the API's problem+json.
async fn expect_page(resp: reqwest::Response, status: StatusCode, text: &str) -> anyhow::Result<String> {
    let got = resp.status();
    let kind = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let header_of = |name| resp.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let (csp, frames) = (header_of(header::CONTENT_SECURITY_POLICY), header_of(header::X_FRAME_OPTIONS));
    let body = resp.text().await?;
    anyhow::ensure!(got == status, "expected {status}, got {got}: {body}");
    anyhow::ensure!(kind.starts_with("text/html"), "not a page ({kind}): {body}");
    anyhow::ensure!(csp.contains("script-src 'self'") && frames == "DENY", "not the console's policy: {csp:?}");
    anyhow::ensure!(body.contains(text), "no {text:?} in {body}");
    Ok(body)
}

#[tokio::test]
async fn console_forms_keep_the_apis_text_rules_and_odd_requests_get_pages() -> TestResult {
    let app = spawn_app().await?;
    let id = application(&app, "控制台输入测试队").await?;
    let committee = app.demo_login("demo-committee").await?;
    let console = sign_in(&app, &committee).await?;
    let path = format!("/console/queue/organizations/{id}");
    let decide = |reason: String| {
        let (app, console, path) = (&app, &console, path.clone());
        async move {
            post_form(app, console, &path, &[("csrf", &console.csrf), ("decision", "reject"), ("reason", &reason)])
                .await
        }
    };

    // A reason that shows nothing is no reason; one over 500 characters is refused; as in
    // the API, and nothing changes.
    expect_page(decide(" \u{200b} \u{2060} ".into()).await?, StatusCode::UNPROCESSABLE_ENTITY, "驳回时须说明理由")
        .await?;
    expect_page(decide("理".repeat(501)).await?, StatusCode::UNPROCESSABLE_ENTITY, "不超过 500 个字符").await?;
    expect_page(decide("第一行\n第二行".into()).await?, StatusCode::UNPROCESSABLE_ENTITY, "控制字符").await?;
    assert_eq!(status_of(&app, id).await?, "pending_consent");
    // A form of 300 KB (over MAX_BODY_BYTES): the console's page, not the API's JSON.
    expect_page(decide("长".repeat(100_000)).await?, StatusCode::PAYLOAD_TOO_LARGE, "出错了").await?;
    assert_eq!(status_of(&app, id).await?, "pending_consent");
    // An invitation's note keeps its 64 characters.
    let community = app.region("620102002006").await?.to_string();
    let note = "注".repeat(65);
    let form = [("csrf", console.csrf.as_str()), ("role", "committee"), ("scope_id", &community), ("note", &note)];
    expect_page(
        post_form(&app, &console, "/console/invitations", &form).await?,
        StatusCode::UNPROCESSABLE_ENTITY,
        "64",
    )
    .await?;

    // Odd URLs and bodies.
    for date in ["%2B262142-12-31", "-262143-01-01", "20261-01-01", "2026-02-30"] {
        let resp = get_page(&app, &console, &format!("/console/activities?view=week&date={date}")).await?;
        expect_page(resp, StatusCode::UNPROCESSABLE_ENTITY, "日期须为 YYYY-MM-DD").await?;
    }
    let week = get_page(&app, &console, "/console/activities?view=week&date=9999-12-31").await?;
    expect_page(week, StatusCode::OK, "活动").await?;
    expect_page(get_page(&app, &console, "/console/nowhere").await?, StatusCode::NOT_FOUND, "未找到").await?;
    expect_page(get_page(&app, &console, "/console/organizations/abc").await?, StatusCode::NOT_FOUND, "未找到").await?;
    let huge = "/console/organizations/99999999999999999999";
    expect_page(get_page(&app, &console, huge).await?, StatusCode::NOT_FOUND, "未找到").await?;
    expect_page(get_page(&app, &console, "/console/logout").await?, StatusCode::NOT_FOUND, "未找到").await?;
    let bare = app.client.post(app.url(&path)).header(header::COOKIE, &console.cookie).send().await?;
    expect_page(bare, StatusCode::UNPROCESSABLE_ENTITY, "表单不完整").await?;
    let resp = get_page(&app, &console, "/console/?from=2026-13-01").await?;
    assert!(resp.status().is_client_error());
    assert!(
        resp.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.to_str().is_ok_and(|v| v.starts_with("text/html")))
    );

    // A refusal names what is wrong, in Chinese, without the console's role hint.
    let wrong = post_form(&app, &console, "/console/logout", &[("csrf", "stale")]).await?;
    let body = expect_page(wrong, StatusCode::FORBIDDEN, "请刷新页面").await?;
    assert!(!body.contains("控制台供社区居委会"), "{body}");

    // The echarts file is sent as the browser asks (quality values included).
    let asset = |enc: &'static str| {
        let app = &app;
        async move {
            let resp = app
                .client
                .get(app.url("/console/static/echarts.min.js"))
                .header(header::ACCEPT_ENCODING, enc)
                .send()
                .await?;
            anyhow::Ok(resp.headers().get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).map(str::to_owned))
        }
    };
    assert_eq!(asset("gzip, deflate").await?.as_deref(), Some("gzip"));
    assert_eq!(asset("gzip;q=0, identity").await?, None);
    Ok(())
}

#[tokio::test]
async fn the_sign_in_poll_is_not_a_sign_in_and_a_late_collection_is_expired() -> TestResult {
    let app = spawn_app_with(|vars| {
        vars.insert("LOGIN_RATE_LIMIT_PER_MINUTE".into(), "3".into());
    })
    .await?;
    // Two of the three sign-ins a minute: the committee's phone, and the console's page.
    let committee = app.demo_login("demo-committee").await?;
    let page = login_page(&app).await?;
    for _ in 0..10 {
        assert_eq!(poll(&app, &page).await?.status(), StatusCode::OK, "polls are not counted as sign-ins");
    }
    // Sign-in pages are: the fourth sign-in in a minute is refused with the console's page.
    let mut statuses = Vec::new();
    for _ in 0..2 {
        statuses.push(app.client.get(app.url("/console/login")).send().await?.status());
    }
    let refused = statuses.iter().position(|s| *s == StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.is_some(), "{statuses:?}");
    let resp = app.client.get(app.url("/console/login")).send().await?;
    assert!(resp.headers().contains_key(header::RETRY_AFTER));
    expect_page(resp, StatusCode::TOO_MANY_REQUESTS, "操作太频繁").await?;

    // Approved in time, collected after the ticket's 2 minutes: expired, no session.
    expect_json(
        app.post(&format!("/api/v1/console/tickets/{}/approve", page.ticket), Some(&committee.access_token), json!({}))
            .await?,
        200,
    )
    .await?;
    app.clock.advance(chrono::Duration::seconds(121));
    let late = poll(&app, &page).await?;
    assert!(set_cookie(&late, "linli_console").is_none());
    assert_eq!(expect_json(late, 200).await?["status"], "expired");
    Ok(())
}

#[tokio::test]
async fn someone_with_two_offices_switches_between_them() -> TestResult {
    let app = spawn_app().await?;
    let admin = app.demo_login("demo-admin").await?;
    let both = app.login("two-offices").await?;
    let (community, street) = (app.region("620102002006").await?, app.region("620102002000").await?);
    for (role, scope) in [("committee", community), ("street", street)] {
        let body = json!({"user_id": both.user_id, "role": role, "scope_id": scope});
        expect_json(app.post("/api/v1/admin/role-grants", Some(&admin.access_token), body).await?, 201).await?;
    }
    let waiting = application(&app, "两个身份测试队").await?;
    let mut console = sign_in(&app, &both).await?;
    let queue = get_page(&app, &console, "/console/queue").await?.text().await?;
    assert!(queue.contains("两个身份测试队"), "the committee seat's queue");
    let overview = get_page(&app, &console, "/console/").await?.text().await?;
    assert!(overview.contains("社区居委会 · 金塔巷社区居委会") && overview.contains("id=\"seat-select\""));

    // Another's seat is refused; one of theirs is taken and kept by a cookie.
    let other = format!("street:{}", app.region("620123104000").await?);
    let resp = post_form(&app, &console, "/console/seat", &[("csrf", &console.csrf), ("seat", &other)]).await?;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let value = format!("street:{street}");
    let resp = post_form(&app, &console, "/console/seat", &[("csrf", &console.csrf), ("seat", &value)]).await?;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (seat, _) = set_cookie(&resp, "linli_console_seat").ok_or_else(|| anyhow::anyhow!("no seat cookie"))?;
    console = Console { cookie: format!("{}; {seat}", console.cookie), csrf: console.csrf };
    let overview = get_page(&app, &console, "/console/").await?.text().await?;
    assert!(overview.contains("概览 · 张掖路街道"), "the street's overview");
    // The street seat acts as the street office only: an application waiting for the
    // committee's consent is not in its queue, and it cannot consent to it.
    let queue = get_page(&app, &console, "/console/queue").await?.text().await?;
    assert!(queue.contains("待办") && !queue.contains("两个身份测试队"), "{queue}");
    let path = format!("/console/queue/organizations/{waiting}");
    let form = [("csrf", console.csrf.as_str()), ("decision", "approve")];
    let resp = post_form(&app, &console, &path, &form).await?;
    expect_page(resp, StatusCode::CONFLICT, "待社区同意").await?;
    assert_eq!(status_of(&app, waiting).await?, "pending_consent");
    // A committee's decision refused to the street seat names the role, not what the
    // console is for.
    let resp = post_form(&app, &console, "/console/queue/activities/1", &form).await?;
    let body = expect_page(resp, StatusCode::FORBIDDEN, "没有权限").await?;
    assert!(!body.contains("控制台供社区居委会"), "{body}");
    // Without the token the switch is refused.
    let resp = post_form(&app, &console, "/console/seat", &[("seat", &value)]).await?;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    Ok(())
}

#[tokio::test]
async fn a_download_is_named_by_the_days_it_holds() -> TestResult {
    let app = spawn_app().await?;
    let street = app.demo_login("demo-street").await?;
    let id = app.region("620102002000").await?;
    let resp = app
        .get(
            &format!("/api/v1/regions/{id}/metrics/export?from=2025-12-31&to=2026-01-01&format=csv"),
            Some(&street.access_token),
        )
        .await?;
    let disposition =
        resp.headers().get(header::CONTENT_DISPOSITION).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(disposition.contains("participation-620102002000-20251231-20251231.csv"), "{disposition}");
    let resp = app
        .get(
            &format!("/api/v1/regions/{id}/metrics/export?from=2026-01-01&to=2026-07-01&format=xlsx"),
            Some(&street.access_token),
        )
        .await?;
    let disposition =
        resp.headers().get(header::CONTENT_DISPOSITION).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(disposition.contains("-20260101-20260630.xlsx"), "{disposition}");
    Ok(())
}

#[tokio::test]
async fn console_pages_are_counted_per_session_not_per_address() -> TestResult {
    let app = spawn_app_with(|vars| {
        vars.insert("RATE_LIMIT_PER_MINUTE".into(), "12".into());
    })
    .await?;
    let committee = app.demo_login("demo-committee").await?;
    let street = app.demo_login("demo-street").await?;
    let first = sign_in(&app, &committee).await?;
    let second = sign_in(&app, &street).await?;
    // One PC uses up its session's pages; the other PC behind the same address goes on.
    let mut refused = false;
    for _ in 0..14 {
        refused |= get_page(&app, &first, "/console/exports").await?.status() == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(refused, "the first session reached its limit");
    let other = get_page(&app, &second, "/console/exports").await?;
    assert_eq!(other.status(), StatusCode::OK, "the second session is counted apart");
    Ok(())
}
