use linli_tests::{TestResult, expect_problem, spawn_app};

#[tokio::test]
async fn broken_json_is_a_400_problem() -> TestResult {
    let app = spawn_app().await?;
    let resp = app
        .client
        .post(app.url("/api/v1/auth/wechat/login"))
        .header("content-type", "application/json")
        .body("{\"code\": ")
        .send()
        .await?;
    let body = expect_problem(resp, 400, "invalid_json").await?;
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("JSON")));
    Ok(())
}

#[tokio::test]
async fn english_is_served_when_asked() -> TestResult {
    let app = spawn_app().await?;
    let resp = app.client.get(app.url("/api/v1/me")).header("accept-language", "en-US,en;q=0.9").send().await?;
    let body = expect_problem(resp, 401, "unauthenticated").await?;
    assert_eq!(body["title"], "Unauthorized");
    assert!(body["detail"].as_str().is_some_and(|d| d.starts_with("Sign in first")));

    let resp = app.get("/api/v1/me", None).await?;
    let body = expect_problem(resp, 401, "unauthenticated").await?;
    assert_eq!(body["detail"], "请先登录");
    Ok(())
}

#[tokio::test]
async fn wrong_shape_wrong_type_and_oversized_bodies() -> TestResult {
    let app = spawn_app().await?;
    // A field of the wrong type: 422 naming the body.
    let resp = app.post("/api/v1/auth/wechat/login", None, serde_json::json!({"code": 42})).await?;
    let body = expect_problem(resp, 422, "validation_failed").await?;
    assert_eq!(body["errors"][0]["field"], "body");
    // An unknown field is refused rather than ignored.
    let resp = app.post("/api/v1/auth/wechat/login", None, serde_json::json!({"code": "x", "openid": "y"})).await?;
    expect_problem(resp, 422, "validation_failed").await?;
    // Not JSON at all.
    let resp = app
        .client
        .post(app.url("/api/v1/auth/wechat/login"))
        .header("content-type", "text/plain")
        .body("code=x")
        .send()
        .await?;
    expect_problem(resp, 415, "unsupported_media_type").await?;
    // Over the 256 KiB limit.
    let big = serde_json::json!({"code": "x".repeat(300 * 1024)});
    let resp = app.post("/api/v1/auth/wechat/login", None, big).await?;
    expect_problem(resp, 413, "payload_too_large").await?;
    Ok(())
}

#[tokio::test]
async fn unknown_paths_and_bad_queries_are_problems() -> TestResult {
    let app = spawn_app().await?;
    expect_problem(app.get("/api/v1/nowhere", None).await?, 404, "not_found").await?;
    expect_problem(app.get("/api/v1/regions/abc", None).await?, 404, "not_found").await?;
    expect_problem(app.get("/api/v1/regions?limit=lots", None).await?, 422, "validation_failed").await?;
    Ok(())
}
