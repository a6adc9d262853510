use linli_tests::{TestResult, expect_json, spawn_app};

#[tokio::test]
async fn healthz_and_readyz_answer() -> TestResult {
    let app = spawn_app().await?;
    let resp = app.get("/healthz", None).await?;
    anyhow::ensure!(resp.headers().contains_key("x-request-id"));
    let body = expect_json(resp, 200).await?;
    assert_eq!(body["status"], "ok");

    let body = expect_json(app.get("/readyz", None).await?, 200).await?;
    assert_eq!(body["database"], "ok");
    let expected_redis = if std::env::var("TEST_REDIS_URL").is_ok() { "ok" } else { "not_configured" };
    assert_eq!(body["redis"], expected_redis);
    Ok(())
}

#[tokio::test]
async fn readyz_reports_unreachable_redis() -> TestResult {
    // Nothing listens on port 1: Redis is configured but down.
    let app = linli_tests::spawn_app_with(|vars| {
        vars.insert("REDIS_URL".into(), "redis://127.0.0.1:1".into());
    })
    .await?;
    // Still ready (the database serves), but says Redis is down.
    let body = expect_json(app.get("/readyz", None).await?, 200).await?;
    assert_eq!(body["database"], "ok");
    assert_eq!(body["redis"], "down");
    assert_eq!(body["status"], "degraded");
    // And the API still works without it.
    app.login("no-redis").await?;
    Ok(())
}

#[tokio::test]
async fn docs_and_spec_are_served() -> TestResult {
    let app = spawn_app().await?;
    let spec = expect_json(app.get("/openapi.json", None).await?, 200).await?;
    assert!(spec["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")));
    assert!(spec["paths"]["/api/v1/auth/wechat/login"].is_object());

    let docs = app.get("/docs", None).await?;
    assert_eq!(docs.status().as_u16(), 302);
    let page = app.get("/docs/", None).await?;
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await?.contains("swagger"));
    Ok(())
}
