use linli_tests::{TestResult, expect_json, expect_problem, spawn_app};

#[tokio::test]
async fn the_tree_is_walked_from_the_province_down() -> TestResult {
    let app = spawn_app().await?;
    let roots = expect_json(app.get("/api/v1/regions", None).await?, 200).await?;
    assert_eq!(roots["items"].as_array().map(Vec::len), Some(1));
    let province = &roots["items"][0];
    assert_eq!(province["code"], "620000000000");
    assert_eq!(province["level"], "province");
    assert_eq!(roots["next_cursor"], serde_json::Value::Null);

    let cities =
        expect_json(app.get(&format!("/api/v1/regions?parent_id={}", province["id"]), None).await?, 200).await?;
    let lanzhou = &cities["items"][0];
    assert_eq!(lanzhou["name"], "兰州市");

    // Three counties, one per page: every one exactly once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/regions?parent_id={}&limit=1", lanzhou["id"]);
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = expect_json(app.get(&path, None).await?, 200).await?;
        for item in page["items"].as_array().into_iter().flatten() {
            seen.push(item["code"].as_str().unwrap_or_default().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["620102000000", "620103000000", "620123000000"]);
    Ok(())
}

#[tokio::test]
async fn a_region_carries_its_ancestors_and_kind() -> TestResult {
    let app = spawn_app().await?;
    let community = app.region("620102002006").await?;
    let body = expect_json(app.get(&format!("/api/v1/regions/{community}"), None).await?, 200).await?;
    assert_eq!(body["name"], "金塔巷社区居委会");
    assert_eq!(body["level"], "community");
    assert_eq!(body["kind"], "urban");
    let names: Vec<&str> =
        body["ancestors"].as_array().into_iter().flatten().filter_map(|a| a["name"].as_str()).collect();
    assert_eq!(names, ["甘肃省", "兰州市", "城关区", "张掖路街道"]);

    let village = app.region("620123104202").await?;
    let body = expect_json(app.get(&format!("/api/v1/regions/{village}"), None).await?, 200).await?;
    assert_eq!(body["kind"], "rural");
    let street = app.region("620102002000").await?;
    let body = expect_json(app.get(&format!("/api/v1/regions/{street}"), None).await?, 200).await?;
    assert_eq!(body["kind"], serde_json::Value::Null);
    Ok(())
}

#[tokio::test]
async fn bad_region_queries_are_refused() -> TestResult {
    let app = spawn_app().await?;
    expect_problem(app.get("/api/v1/regions/424242", None).await?, 404, "not_found").await?;
    expect_problem(app.get("/api/v1/regions?parent_id=424242", None).await?, 404, "not_found").await?;
    expect_problem(app.get("/api/v1/regions?limit=0", None).await?, 422, "validation_failed").await?;
    expect_problem(app.get("/api/v1/regions?limit=101", None).await?, 422, "validation_failed").await?;
    expect_problem(app.get("/api/v1/regions?cursor=zzz", None).await?, 422, "validation_failed").await?;
    Ok(())
}
