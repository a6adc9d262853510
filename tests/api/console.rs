//! The web console (`/console/`): sign-in by scan (tickets, their 2 minutes, one use),
//! the session cookie and what ends it, CSRF, headers, roles, and the console switched off.

use linli_tests::{Session, TestApp, TestResult, expect_json, expect_problem, spawn_app, spawn_app_with};
use reqwest::{StatusCode, header};
use serde_json::json;

/// What the sign-in page gave this browser: the ticket in the QR and the browser cookie.
pub(crate) struct LoginPage {
    pub ticket: String,
    pub cookie: String,
}

/// A signed-in console browser: its session cookie and the CSRF token its forms carry.
pub(crate) struct Console {
    pub cookie: String,
    pub csrf: String,
}

fn attr(html: &str, marker: &str) -> Option<String> {
    let start = html.find(marker)? + marker.len();
    Some(html[start..].split('"').next()?.to_owned())
}

/// `name=value` of the first `Set-Cookie` for `name`, and the whole header.
pub(crate) fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<(String, String)> {
    resp.headers().get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let pair = v.split(';').next()?.trim();
        pair.starts_with(&format!("{name}=")).then(|| (pair.to_owned(), v.to_owned()))
    })
}

pub(crate) async fn login_page(app: &TestApp) -> anyhow::Result<LoginPage> {
    let resp = app
        .client
        .get(app.url("/console/login"))
        .header(header::USER_AGENT, "Mozilla/5.0 (Windows NT 10.0) Chrome/131.0 Safari/537.36")
        .send()
        .await?;
    anyhow::ensure!(resp.status() == StatusCode::OK, "login page: {}", resp.status());
    let (cookie, _) = set_cookie(&resp, "linli_console_ticket").ok_or_else(|| anyhow::anyhow!("no ticket cookie"))?;
    let html = resp.text().await?;
    let ticket = attr(&html, "data-ticket=\"").ok_or_else(|| anyhow::anyhow!("no ticket in the page"))?;
    Ok(LoginPage { ticket, cookie })
}

pub(crate) async fn poll(app: &TestApp, page: &LoginPage) -> anyhow::Result<reqwest::Response> {
    Ok(app
        .client
        .get(app.url(&format!("/console/login/poll?ticket={}", page.ticket)))
        .header(header::COOKIE, &page.cookie)
        .send()
        .await?)
}

pub(crate) async fn approve(app: &TestApp, who: &Session, ticket: &str) -> anyhow::Result<reqwest::Response> {
    app.post(&format!("/api/v1/console/tickets/{ticket}/approve"), Some(&who.access_token), json!({})).await
}

pub(crate) async fn get_page(app: &TestApp, console: &Console, path: &str) -> anyhow::Result<reqwest::Response> {
    Ok(app.client.get(app.url(path)).header(header::COOKIE, &console.cookie).send().await?)
}

/// `application/x-www-form-urlencoded`, as a browser sends a form.
fn urlencoded(form: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    form.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

pub(crate) async fn post_form(
    app: &TestApp,
    console: &Console,
    path: &str,
    form: &[(&str, &str)],
) -> anyhow::Result<reqwest::Response> {
    Ok(app
        .client
        .post(app.url(path))
        .header(header::COOKIE, &console.cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(urlencoded(form))
        .send()
        .await?)
}

/// Signs a browser in by scan as `who` and reads the CSRF token from the overview.
pub(crate) async fn sign_in(app: &TestApp, who: &Session) -> anyhow::Result<Console> {
    let page = login_page(app).await?;
    expect_json(approve(app, who, &page.ticket).await?, 200).await?;
    let resp = poll(app, &page).await?;
    let (cookie, _) = set_cookie(&resp, "linli_console").ok_or_else(|| anyhow::anyhow!("no session cookie"))?;
    let mut console = Console { cookie, csrf: String::new() };
    let html = get_page(app, &console, "/console/exports").await?.text().await?;
    console.csrf = attr(&html, "name=\"csrf\" value=\"").unwrap_or_default();
    Ok(console)
}

#[tokio::test]
async fn a_ticket_is_approved_once_within_two_minutes_and_collected_once() -> TestResult {
    let app = spawn_app().await?;
    let committee = app.demo_login("demo-committee").await?;
    let page = login_page(&app).await?;

    // The phone sees which browser asks, from where, until when.
    let seen = expect_json(
        app.get(&format!("/api/v1/console/tickets/{}", page.ticket), Some(&committee.access_token)).await?,
        200,
    )
    .await?;
    assert_eq!(seen["status"], "waiting");
    assert_eq!(seen["browser"], "Chrome 131 · Windows");
    assert_eq!(seen["ip"], "127.0.0.1");
    expect_problem(app.get(&format!("/api/v1/console/tickets/{}", page.ticket), None).await?, 401, "unauthenticated")
        .await?;
    expect_problem(
        app.get("/api/v1/console/tickets/0123456789abcdef0123456789abcdef", Some(&committee.access_token)).await?,
        404,
        "not_found",
    )
    .await?;

    let waiting = expect_json(poll(&app, &page).await?, 200).await?;
    assert_eq!(waiting["status"], "waiting");

    let approved = expect_json(approve(&app, &committee, &page.ticket).await?, 200).await?;
    assert_eq!(approved["status"], "approved");
    expect_problem(approve(&app, &committee, &page.ticket).await?, 409, "ticket_used").await?;

    // Only the browser holding the ticket's cookie may collect it.
    let stranger = app
        .client
        .get(app.url(&format!("/console/login/poll?ticket={}", page.ticket)))
        .header(header::COOKIE, "linli_console_ticket=0000")
        .send()
        .await?;
    assert_eq!(stranger.status(), StatusCode::NOT_FOUND);

    let resp = poll(&app, &page).await?;
    assert_eq!(resp.status(), StatusCode::OK);
    let (_, header) = set_cookie(&resp, "linli_console").ok_or_else(|| anyhow::anyhow!("no session cookie"))?;
    assert!(
        header.contains("HttpOnly") && header.contains("SameSite=Strict") && header.contains("Path=/console/"),
        "{header}"
    );
    assert!(!header.contains("Secure"), "dev mode sends it over plain HTTP: {header}");
    assert_eq!(resp.json::<serde_json::Value>().await?["status"], "signed_in");
    // Collected once: a second poll gets no second session.
    let again = poll(&app, &page).await?;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(set_cookie(&again, "linli_console").is_none());

    // Two minutes later a ticket is expired: not approved, and the page is told.
    let late = login_page(&app).await?;
    app.clock.advance(chrono::Duration::seconds(121));
    expect_problem(approve(&app, &committee, &late.ticket).await?, 410, "ticket_expired").await?;
    assert_eq!(expect_json(poll(&app, &late).await?, 200).await?["status"], "expired");
    Ok(())
}

#[tokio::test]
async fn the_session_ends_at_sign_out_logout_everywhere_and_a_role_change() -> TestResult {
    let app = spawn_app().await?;
    let committee = app.demo_login("demo-committee").await?;

    // Sign-out needs the CSRF token; with it, the cookie stops working.
    let console = sign_in(&app, &committee).await?;
    assert!(!console.csrf.is_empty());
    let page = get_page(&app, &console, "/console/").await?;
    assert_eq!(page.status(), StatusCode::OK);
    let refused = post_form(&app, &console, "/console/logout", &[]).await?;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.headers()[header::CONTENT_TYPE].to_str()?.starts_with("text/html"));
    let wrong = post_form(&app, &console, "/console/logout", &[("csrf", "wrong")]).await?;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let out = post_form(&app, &console, "/console/logout", &[("csrf", &console.csrf)]).await?;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let after = get_page(&app, &console, "/console/").await?;
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    assert_eq!(after.headers()[header::LOCATION], "/console/login");

    // Logout everywhere (the API's logout bumps the token version) ends it too.
    let console = sign_in(&app, &committee).await?;
    assert_eq!(get_page(&app, &console, "/console/queue").await?.status(), StatusCode::OK);
    let resp = app.post("/api/v1/auth/logout", Some(&committee.access_token), json!({})).await?;
    assert!(resp.status().is_success(), "logout: {}", resp.status());
    assert_eq!(get_page(&app, &console, "/console/queue").await?.status(), StatusCode::SEE_OTHER);

    // A role granted to the user ends their console session.
    let committee = app.demo_login("demo-committee").await?;
    let console = sign_in(&app, &committee).await?;
    assert_eq!(get_page(&app, &console, "/console/").await?.status(), StatusCode::OK);
    let admin = app.demo_login("demo-admin").await?;
    let me = expect_json(app.get("/api/v1/me", Some(&committee.access_token)).await?, 200).await?;
    let community = me["roles"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["role"] == "committee")
        .and_then(|r| r["scope_id"].as_i64())
        .ok_or_else(|| anyhow::anyhow!("no committee scope: {me}"))?;
    let street = expect_json(app.get(&format!("/api/v1/regions/{community}"), None).await?, 200).await?;
    let street_id = street["parent_id"].as_i64().ok_or_else(|| anyhow::anyhow!("no parent: {street}"))?;
    let grant = json!({"user_id": committee.user_id, "role": "street", "scope_id": street_id});
    let resp = app.post("/api/v1/admin/role-grants", Some(&admin.access_token), grant).await?;
    assert!(resp.status().is_success(), "grant: {}", resp.status());
    assert_eq!(get_page(&app, &console, "/console/").await?.status(), StatusCode::SEE_OTHER);
    Ok(())
}

#[tokio::test]
async fn pages_carry_a_strict_policy_and_refuse_other_roles() -> TestResult {
    let app = spawn_app().await?;
    let pages = [
        "/console/",
        "/console/queue",
        "/console/organizations",
        "/console/activities",
        "/console/exports",
        "/console/grants",
    ];

    // Not signed in: to the sign-in page.
    let resp = app.get("/console/queue", None).await?;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);

    for who in ["demo-committee", "demo-street", "demo-civil"] {
        let user = app.demo_login(who).await?;
        let console = sign_in(&app, &user).await?;
        for path in pages {
            let resp = get_page(&app, &console, path).await?;
            assert_eq!(resp.status(), StatusCode::OK, "{who} {path}");
            let csp = resp.headers()[header::CONTENT_SECURITY_POLICY].to_str()?.to_owned();
            assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
            assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
            assert_eq!(resp.headers()[header::X_FRAME_OPTIONS], "DENY");
            assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-store");
            let html = resp.text().await?;
            assert!(html.contains("<html lang=\"zh-CN\">"));
            assert!(!html.contains("http://") && !html.contains("https://"), "{path} links outside");
        }
        // The workbook, as the API gives it.
        let resp = get_page(&app, &console, "/console/exports/download?format=xlsx").await?;
        assert_eq!(resp.status(), StatusCode::OK, "{who} download");
        assert!(resp.headers()[header::CONTENT_DISPOSITION].to_str()?.contains(".xlsx"));
        let csv =
            get_page(&app, &console, "/console/exports/download?format=csv&from=2026-01-01&to=2026-06-30").await?;
        assert_eq!(csv.status(), StatusCode::OK, "{who} csv");
    }

    // A resident and an organization leader sign in but are refused every page.
    for who in ["demo-resident", "demo-leader"] {
        let user = app.demo_login(who).await?;
        let console = sign_in(&app, &user).await?;
        for path in pages {
            let resp = get_page(&app, &console, path).await?;
            assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{who} {path}");
            assert!(resp.text().await?.contains("无权访问"));
        }
        let resp = get_page(&app, &console, "/console/exports/download").await?;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    }

    // Static files are embedded; ECharts goes gzipped to browsers that take gzip.
    let js = app
        .client
        .get(app.url("/console/static/echarts.min.js"))
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await?;
    assert_eq!(js.status(), StatusCode::OK);
    assert_eq!(js.headers()[header::CONTENT_ENCODING], "gzip");
    let plain = app.client.get(app.url("/console/static/console.js")).send().await?;
    assert_eq!(plain.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn a_committee_decides_a_filing_from_the_queue() -> TestResult {
    let app = spawn_app().await?;
    let committee = app.demo_login("demo-committee").await?;
    let me = expect_json(app.get("/api/v1/me", Some(&committee.access_token)).await?, 200).await?;
    let community = me["roles"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["role"] == "committee")
        .and_then(|r| r["scope_id"].as_i64())
        .ok_or_else(|| anyhow::anyhow!("no committee scope: {me}"))?;
    let applicant = app.login("console-applicant").await?;
    let body = json!({
        "name": "控制台测试互助队", "category": "mutual_aid", "community_id": community,
        "description": "楼栋互助，代买代办。", "service_targets": ["elderly"],
        "contact_name": "赵师傅", "contact_phone": "13912345678"
    });
    let org = expect_json(app.post("/api/v1/organizations", Some(&applicant.access_token), body).await?, 201).await?;
    let id = org["id"].as_i64().ok_or_else(|| anyhow::anyhow!("no id"))?;

    let console = sign_in(&app, &committee).await?;
    let queue = get_page(&app, &console, "/console/queue").await?.text().await?;
    assert!(queue.contains("控制台测试互助队") && queue.contains(&format!("/console/queue/organizations/{id}")));

    let path = format!("/console/queue/organizations/{id}");
    // Without the CSRF token: refused, nothing changes.
    let resp = post_form(&app, &console, &path, &[("decision", "approve")]).await?;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // A refusal needs a reason (the service's rule), shown as a page.
    let resp = post_form(&app, &console, &path, &[("csrf", &console.csrf), ("decision", "reject")]).await?;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(resp.text().await?.contains("驳回时须说明理由"));
    let resp =
        post_form(&app, &console, &path, &[("csrf", &console.csrf), ("decision", "approve"), ("reason", "材料齐全")])
            .await?;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let org =
        expect_json(app.get(&format!("/api/v1/organizations/{id}"), Some(&applicant.access_token)).await?, 200).await?;
    assert_eq!(org["status"], "pending_filing");
    let consented = org["history"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|h| h["action"] == "consented")
        .cloned()
        .unwrap_or_default();
    assert_eq!(consented["comment"], "材料齐全");
    // Deciding again is out of order, as in the API.
    let resp = post_form(&app, &console, &path, &[("csrf", &console.csrf), ("decision", "approve")]).await?;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    Ok(())
}

#[tokio::test]
async fn the_street_office_reviews_an_annual_report_from_the_queue() -> TestResult {
    let app = spawn_app().await?;
    let street = app.demo_login("demo-street").await?;
    let console = sign_in(&app, &street).await?;
    // The demo has last year's report of one organization submitted and waiting.
    let queue = get_page(&app, &console, "/console/queue").await?.text().await?;
    assert!(queue.contains("年报审核") && queue.contains("等级评估"), "{queue}");
    let org = attr(&queue, "action=\"/console/queue/reports/").ok_or_else(|| anyhow::anyhow!("no report waiting"))?;
    let year = attr(&queue, "name=\"year\" value=\"").unwrap_or_default();
    let path = format!("/console/queue/reports/{org}");
    // Returning needs a reason (the service's rule); a made-up result is refused.
    let resp =
        post_form(&app, &console, &path, &[("csrf", &console.csrf), ("year", &year), ("decision", "return")]).await?;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let resp = post_form(&app, &console, &path, &[("csrf", &console.csrf), ("year", &year), ("decision", "excellent")])
        .await?;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let resp = post_form(
        &app,
        &console,
        &path,
        &[("csrf", &console.csrf), ("year", &year), ("decision", "basic_pass"), ("reason", "财务附表不全")],
    )
    .await?;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let report = expect_json(
        app.get(&format!("/api/v1/organizations/{org}/annual-reports/{year}"), Some(&street.access_token)).await?,
        200,
    )
    .await?;
    assert_eq!(report["status"], "accepted");
    assert_eq!(report["result"], "basic_pass");
    let queue = get_page(&app, &console, "/console/queue").await?.text().await?;
    assert!(!queue.contains(&path), "the report left the queue");
    // A committee has no report queue: the filing office is the street (or civil affairs).
    let committee = sign_in(&app, &app.demo_login("demo-committee").await?).await?;
    let resp =
        post_form(&app, &committee, &path, &[("csrf", &committee.csrf), ("year", &year), ("decision", "pass")]).await?;
    assert!(resp.status() == StatusCode::FORBIDDEN || resp.status() == StatusCode::CONFLICT, "{}", resp.status());
    Ok(())
}

#[tokio::test]
async fn secure_cookies_outside_dev_and_the_console_can_be_off() -> TestResult {
    let app = spawn_app_with(|vars| {
        vars.insert("CONSOLE_SECURE_COOKIE".into(), "true".into());
    })
    .await?;
    let resp = app.get("/console/login", None).await?;
    let (_, header) = set_cookie(&resp, "linli_console_ticket").ok_or_else(|| anyhow::anyhow!("no cookie"))?;
    assert!(header.contains("; Secure"), "{header}");

    let off = spawn_app_with(|vars| {
        vars.insert("CONSOLE_ENABLED".into(), "false".into());
    })
    .await?;
    for path in ["/console/", "/console/login", "/console/static/console.js"] {
        assert_eq!(off.get(path, None).await?.status(), StatusCode::NOT_FOUND, "{path}");
    }
    Ok(())
}

/// A committee adds a colleague from the grants page by the phone they bound, sees them
/// listed with a revoke button (but none on its own grant, nor on the organization's
/// leader), makes an invitation code, and removes the colleague again; a street office
/// is offered the committee and street roles.
#[tokio::test]
async fn a_committee_grants_and_revokes_a_colleague_from_the_console() -> TestResult {
    let app = spawn_app().await?;
    let committee = app.demo_login("demo-committee").await?;
    let community = app.region("620102002006").await?;
    let neighbour = app.region("620102002005").await?;
    let colleague = app.login("console-colleague").await?;
    linli_server::service::users::set_phone(&app.ctx, colleague.user_id, "13955556666").await?;
    let console = sign_in(&app, &committee).await?;

    let html = get_page(&app, &console, "/console/grants").await?.text().await?;
    assert!(html.contains("<option value=\"committee\">") && !html.contains("<option value=\"street\">"), "{html}");
    assert!(html.contains(&format!("<option value=\"{community}\">")), "the community is offered");
    assert!(html.contains("经组织任免"), "the demo organization's leader is listed, not revocable");
    assert!(!html.contains("aria-label=\"撤销授权"), "its own grant has no revoke button");

    // Without the CSRF token, nothing; a neighbouring community is refused.
    let grant = |scope: String| {
        vec![("role", "committee".to_owned()), ("scope_id", scope), ("phone", "139 5555 6666".to_owned())]
    };
    let with_csrf = |mut form: Vec<(&'static str, String)>| {
        form.push(("csrf", console.csrf.clone()));
        form
    };
    let post = |path: &'static str, form: Vec<(&'static str, String)>| {
        let app = &app;
        let console = &console;
        async move {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_form(app, console, path, &pairs).await
        }
    };
    let resp = post("/console/grants", grant(community.to_string())).await?;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = post("/console/grants", with_csrf(grant(neighbour.to_string()))).await?;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = post("/console/grants", with_csrf(grant(community.to_string()))).await?;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()[header::LOCATION], "/console/grants?done=granted");
    let me = expect_json(app.get("/api/v1/me", Some(&colleague.access_token)).await?, 200).await?;
    assert_eq!(me["roles"][1], json!({"role": "committee", "scope_id": community}));
    // A second tap grants nothing new.
    let resp = post("/console/grants", with_csrf(grant(community.to_string()))).await?;
    assert_eq!(resp.headers()[header::LOCATION], "/console/grants?done=held");
    // A phone nobody bound is a page saying so, and changes nothing.
    let unknown =
        vec![("role", "committee".to_owned()), ("scope_id", community.to_string()), ("phone", "13000000000".into())];
    assert_eq!(post("/console/grants", with_csrf(unknown)).await?.status(), StatusCode::NOT_FOUND);

    // The colleague is listed, with a revoke button.
    let listed = expect_json(
        app.get(&format!("/api/v1/admin/role-grants?user_id={}", colleague.user_id), Some(&committee.access_token))
            .await?,
        200,
    )
    .await?;
    let grant_id = listed["items"][0]["id"].as_i64().ok_or_else(|| anyhow::anyhow!("no grant in {listed}"))?;
    let html = get_page(&app, &console, "/console/grants").await?.text().await?;
    assert!(html.contains(&format!("aria-label=\"撤销授权 {grant_id}\"")), "{html}");

    // An invitation code for someone without a bound phone.
    let invite = vec![("role", "committee".to_owned()), ("scope_id", community.to_string()), ("note", "给李姐".into())];
    let resp = post("/console/invitations", with_csrf(invite)).await?;
    let status = resp.status();
    let html = resp.text().await?;
    assert_eq!(status, StatusCode::OK, "{html}");
    let code = attr(&html, "id=\"invitation-code\"><strong>")
        .and_then(|s| s.split('<').next().map(str::to_owned))
        .ok_or_else(|| anyhow::anyhow!("no code in {html}"))?;
    assert!(html.contains("<svg") && html.contains("accept?code="), "{html}");
    let newcomer = app.login("console-invitee").await?;
    expect_json(
        app.post("/api/v1/invitations/accept", Some(&newcomer.access_token), json!({"code": code})).await?,
        200,
    )
    .await?;

    // Revoking: the colleague loses the role at once.
    let path = format!("/console/grants/{grant_id}/revoke");
    let resp = post_form(&app, &console, &path, &[]).await?;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "no CSRF token");
    let resp = post_form(&app, &console, &path, &[("csrf", &console.csrf)]).await?;
    assert_eq!(resp.headers()[header::LOCATION], "/console/grants?done=revoked");
    let me = expect_json(app.get("/api/v1/me", Some(&colleague.access_token)).await?, 200).await?;
    assert_eq!(me["roles"], json!([{"role": "resident", "scope_id": null}]));
    let resp = post_form(&app, &console, &path, &[("csrf", &console.csrf)]).await?;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // The street office is offered the committee and street roles, not civil affairs.
    let street = app.demo_login("demo-street").await?;
    let street_console = sign_in(&app, &street).await?;
    let html = get_page(&app, &street_console, "/console/grants").await?.text().await?;
    assert!(html.contains("<option value=\"committee\">") && html.contains("<option value=\"street\">"));
    assert!(!html.contains("<option value=\"civil_affairs\">"));
    Ok(())
}
