use std::sync::Mutex;

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use linli_tests::{
    Sequence, TEST_JWT_SECRET, TestResult, expect_json, expect_problem, override_code2session, session_from, spawn_app,
    spawn_app_with,
};
use serde_json::json;
use wiremock::ResponseTemplate;

#[tokio::test]
async fn first_login_creates_the_user_and_later_logins_find_it() -> TestResult {
    let app = spawn_app().await?;
    let first = app.login("alice").await?;
    let second = app.login("alice").await?;
    assert_eq!(first.user_id, second.user_id);
    assert_ne!(first.refresh_token, second.refresh_token);
    let other = app.login("bob").await?;
    assert_ne!(other.user_id, first.user_id);

    let me = expect_json(app.get("/api/v1/me", Some(&first.access_token)).await?, 200).await?;
    assert_eq!(me["id"], first.user_id);
    assert_eq!(me["roles"], json!([{"role": "resident", "scope_id": null}]));
    // WeChat was asked with our credentials each time; the session key never leaves.
    let calls = app.wechat.received_requests().await.unwrap_or_default();
    assert_eq!(calls.len(), 3);
    assert!(!me.to_string().contains("session_key"));
    Ok(())
}

#[tokio::test]
async fn login_response_has_the_contract_fields() -> TestResult {
    let app = spawn_app().await?;
    let resp = app.post("/api/v1/auth/wechat/login", None, json!({"code": "carol"})).await?;
    let body = expect_json(resp, 200).await?;
    for field in ["access_token", "refresh_token", "expires_in", "user"] {
        anyhow::ensure!(!body[field].is_null(), "missing {field}: {body}");
    }
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    for field in ["id", "nickname", "home_community_id", "roles"] {
        anyhow::ensure!(body["user"].get(field).is_some(), "user lacks {field}");
    }
    Ok(())
}

#[tokio::test]
async fn wechat_errors_become_clear_problems() -> TestResult {
    let app = spawn_app().await?;
    let login = |code: &'static str| app.post("/api/v1/auth/wechat/login", None, json!({"code": code}));
    expect_problem(login("bad-used-code").await?, 401, "wechat_code_invalid").await?;
    expect_problem(login("").await?, 422, "validation_failed").await?;

    let answer = |errcode: i64| ResponseTemplate::new(200).set_body_json(json!({"errcode": errcode, "errmsg": "x"}));
    override_code2session(&app.wechat, Sequence(Mutex::new(vec![answer(40226)]))).await;
    expect_problem(login("risky").await?, 403, "wechat_user_blocked").await?;
    override_code2session(&app.wechat, Sequence(Mutex::new(vec![answer(45011)]))).await;
    expect_problem(login("often").await?, 429, "wechat_rate_limited").await?;
    override_code2session(&app.wechat, Sequence(Mutex::new(vec![answer(40013)]))).await;
    expect_problem(login("misconfigured").await?, 503, "wechat_unavailable").await?;
    override_code2session(&app.wechat, Sequence(Mutex::new(vec![answer(-1)]))).await;
    expect_problem(login("busy").await?, 503, "wechat_unavailable").await?;
    override_code2session(&app.wechat, Sequence(Mutex::new(vec![ResponseTemplate::new(502)]))).await;
    expect_problem(login("down").await?, 503, "wechat_unavailable").await?;
    override_code2session(
        &app.wechat,
        Sequence(Mutex::new(vec![ResponseTemplate::new(200).set_body_string("<html>")])),
    )
    .await;
    expect_problem(login("garbled").await?, 503, "wechat_unavailable").await?;
    Ok(())
}

#[tokio::test]
async fn a_busy_wechat_is_retried() -> TestResult {
    let app = spawn_app().await?;
    let busy = ResponseTemplate::new(200).set_body_json(json!({"errcode": -1, "errmsg": "system busy"}));
    let ok = ResponseTemplate::new(200).set_body_json(json!({"openid": "o-patient", "session_key": "k"}));
    override_code2session(&app.wechat, Sequence(Mutex::new(vec![busy, ok]))).await;
    let session = session_from(app.post("/api/v1/auth/wechat/login", None, json!({"code": "x"})).await?).await?;
    assert!(session.user_id > 0);
    assert_eq!(app.wechat.received_requests().await.unwrap_or_default().len(), 2);
    Ok(())
}

#[tokio::test]
async fn a_hanging_or_unreachable_wechat_is_a_503_not_a_500() -> TestResult {
    let app = spawn_app().await?;
    let slow = ResponseTemplate::new(200)
        .set_body_json(json!({"openid": "o-late", "session_key": "k"}))
        .set_delay(std::time::Duration::from_secs(5));
    override_code2session(&app.wechat, Sequence(Mutex::new(vec![slow]))).await;
    let resp = app.post("/api/v1/auth/wechat/login", None, json!({"code": "late"})).await?;
    expect_problem(resp, 503, "wechat_unavailable").await?;

    let closed = spawn_app_with(|vars| {
        vars.insert("WECHAT_API_BASE".into(), "http://127.0.0.1:1".into());
    })
    .await?;
    let resp = closed.post("/api/v1/auth/wechat/login", None, json!({"code": "x"})).await?;
    expect_problem(resp, 503, "wechat_unavailable").await?;
    Ok(())
}

#[tokio::test]
async fn dev_mode_takes_the_code_as_the_openid() -> TestResult {
    let app = spawn_app_with(|vars| {
        vars.remove("WECHAT_APPID");
        vars.remove("WECHAT_SECRET");
    })
    .await?;
    let a = app.login("dev-user").await?;
    let b = app.login("dev-user").await?;
    assert_eq!(a.user_id, b.user_id);
    assert!(app.wechat.received_requests().await.unwrap_or_default().is_empty());
    // The demo accounts are reachable by their openid.
    let admin = app.login("demo-admin").await?;
    let me = expect_json(app.get("/api/v1/me", Some(&admin.access_token)).await?, 200).await?;
    assert_eq!(me["roles"][1]["role"], "system_admin");
    Ok(())
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() -> TestResult {
    let app = spawn_app().await?;
    let first = app.login("rotator").await?;
    let resp = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": first.refresh_token})).await?;
    let second = session_from(resp).await?;
    assert_eq!(second.user_id, first.user_id);
    assert_ne!(second.refresh_token, first.refresh_token);
    expect_json(app.get("/api/v1/me", Some(&second.access_token)).await?, 200).await?;

    // The first token again: stolen. The whole family dies, including the new token.
    let resp = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": first.refresh_token})).await?;
    expect_problem(resp, 401, "refresh_token_reused").await?;
    let resp = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": second.refresh_token})).await?;
    expect_problem(resp, 401, "invalid_refresh_token").await?;

    // Another sign-in (another family) is untouched.
    let other_device = app.login("rotator").await?;
    let resp = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": other_device.refresh_token})).await?;
    session_from(resp).await?;

    let resp = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": "not-a-token"})).await?;
    expect_problem(resp, 401, "invalid_refresh_token").await?;
    Ok(())
}

#[tokio::test]
async fn concurrent_refreshes_with_one_token_get_one_winner() -> TestResult {
    let app = spawn_app().await?;
    let session = app.login("racer").await?;
    let body = json!({"refresh_token": session.refresh_token});
    let (a, b) = tokio::join!(
        app.post("/api/v1/auth/refresh", None, body.clone()),
        app.post("/api/v1/auth/refresh", None, body.clone())
    );
    let statuses = [a?.status().as_u16(), b?.status().as_u16()];
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 1, "{statuses:?}");
    Ok(())
}

#[tokio::test]
async fn refresh_tokens_expire() -> TestResult {
    let app = spawn_app().await?;
    let session = app.login("sleeper").await?;
    app.clock.advance(chrono::Duration::days(31));
    let resp = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": session.refresh_token})).await?;
    expect_problem(resp, 401, "invalid_refresh_token").await?;
    Ok(())
}

#[tokio::test]
async fn logout_revokes_access_and_refresh_tokens() -> TestResult {
    let app = spawn_app().await?;
    let phone = app.login("leaver").await?;
    let tablet = app.login("leaver").await?;
    let resp = app
        .post("/api/v1/auth/logout", Some(&phone.access_token), json!({"refresh_token": phone.refresh_token}))
        .await?;
    assert_eq!(resp.status().as_u16(), 204);
    expect_problem(app.get("/api/v1/me", Some(&phone.access_token)).await?, 401, "invalid_token").await?;
    let resp = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": phone.refresh_token})).await?;
    expect_problem(resp, 401, "invalid_refresh_token").await?;
    // The tablet's access token stopped too, but it can refresh quietly.
    expect_problem(app.get("/api/v1/me", Some(&tablet.access_token)).await?, 401, "invalid_token").await?;
    let resp = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": tablet.refresh_token})).await?;
    let renewed = session_from(resp).await?;
    expect_json(app.get("/api/v1/me", Some(&renewed.access_token)).await?, 200).await?;
    // Logging out needs a session.
    let resp = app.post("/api/v1/auth/logout", None, json!({})).await?;
    expect_problem(resp, 401, "unauthenticated").await?;
    Ok(())
}

fn token(claims: serde_json::Value, secret: &str) -> String {
    encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap_or_default()
}

#[tokio::test]
async fn forged_expired_alg_none_and_wrong_signature_tokens_are_refused() -> TestResult {
    let app = spawn_app().await?;
    let session = app.login("victim").await?;
    let now = chrono::Utc::now().timestamp();
    let me = |t: String| {
        let app = &app;
        async move { app.get("/api/v1/me", Some(&t)).await }
    };

    // A token we sign correctly is accepted: the checks below fail for their own reason.
    let good =
        token(json!({"sub": session.user_id.to_string(), "tv": 0, "iat": now, "exp": now + 600}), TEST_JWT_SECRET);
    expect_json(me(good).await?, 200).await?;

    let expired = token(
        json!({"sub": session.user_id.to_string(), "tv": 0, "iat": now - 7200, "exp": now - 3600}),
        TEST_JWT_SECRET,
    );
    expect_problem(me(expired).await?, 401, "token_expired").await?;

    let wrong_key = token(
        json!({"sub": session.user_id.to_string(), "tv": 0, "iat": now, "exp": now + 600}),
        "another-secret-entirely-0000000000",
    );
    expect_problem(me(wrong_key).await?, 401, "invalid_token").await?;

    let payload = session.access_token.split('.').nth(1).unwrap_or_default();
    let alg_none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
    expect_problem(me(alg_none).await?, 401, "invalid_token").await?;

    let mut tampered = session.access_token.clone();
    tampered.pop();
    tampered.push(if session.access_token.ends_with('A') { 'B' } else { 'A' });
    expect_problem(me(tampered).await?, 401, "invalid_token").await?;

    expect_problem(me("garbage".into()).await?, 401, "invalid_token").await?;
    let old_version =
        token(json!({"sub": session.user_id.to_string(), "tv": -1, "iat": now, "exp": now + 600}), TEST_JWT_SECRET);
    expect_problem(me(old_version).await?, 401, "invalid_token").await?;

    let resp = app.client.get(app.url("/api/v1/me")).header("authorization", "Basic dXNlcjpwdw==").send().await?;
    expect_problem(resp, 401, "invalid_token").await?;
    Ok(())
}

#[tokio::test]
async fn access_tokens_expire_on_the_apps_clock() -> TestResult {
    let app = spawn_app().await?;
    let session = app.login("clockwatcher").await?;
    app.clock.advance(chrono::Duration::minutes(16));
    expect_problem(app.get("/api/v1/me", Some(&session.access_token)).await?, 401, "token_expired").await?;
    Ok(())
}
