use linli_tests::{TestResult, expect_json, expect_problem, spawn_app};
use serde_json::json;

#[tokio::test]
async fn me_requires_a_session() -> TestResult {
    let app = spawn_app().await?;
    expect_problem(app.get("/api/v1/me", None).await?, 401, "unauthenticated").await?;
    expect_problem(app.patch("/api/v1/me", None, json!({"nickname": "x"})).await?, 401, "unauthenticated").await?;
    expect_problem(app.delete("/api/v1/me", None).await?, 401, "unauthenticated").await?;
    Ok(())
}

#[tokio::test]
async fn a_resident_sets_nickname_and_home_community() -> TestResult {
    let app = spawn_app().await?;
    let me = app.login("resident").await?;
    let community = app.region("620102002006").await?;
    let resp = app
        .patch("/api/v1/me", Some(&me.access_token), json!({"nickname": " 王阿姨 ", "home_community_id": community}))
        .await?;
    let body = expect_json(resp, 200).await?;
    assert_eq!(body["nickname"], "王阿姨");
    assert_eq!(body["home_community_id"], community);
    assert_eq!(body["home_community"]["name"], "金塔巷社区居委会");
    assert_eq!(body["home_community"]["kind"], "urban");
    // Times are in Asia/Shanghai.
    assert!(body["created_at"].as_str().is_some_and(|t| t.ends_with("+08:00")));

    // A rural village is a community too.
    let village = app.region("620123104202").await?;
    let body =
        expect_json(app.patch("/api/v1/me", Some(&me.access_token), json!({"home_community_id": village})).await?, 200)
            .await?;
    assert_eq!(body["home_community"]["kind"], "rural");
    assert_eq!(body["nickname"], "王阿姨", "absent fields stay");
    Ok(())
}

#[tokio::test]
async fn bad_profile_changes_are_refused_and_change_nothing() -> TestResult {
    let app = spawn_app().await?;
    let me = app.login("careful").await?;
    let street = app.region("620102002000").await?;
    let cases = [
        (json!({"home_community_id": street}), "home_community_id", "not_a_community"),
        (json!({"home_community_id": 999_999}), "home_community_id", "not_found"),
        (json!({"nickname": "长".repeat(33)}), "nickname", "length"),
        (json!({"nickname": "   "}), "nickname", "length"),
        (json!({"avatar_url": "javascript:alert(1)"}), "avatar_url", "url"),
    ];
    for (body, field, code) in cases {
        let resp = app.patch("/api/v1/me", Some(&me.access_token), body.clone()).await?;
        let problem = expect_problem(resp, 422, "validation_failed").await?;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
        assert_eq!(problem["errors"][0]["code"], code, "{body}");
    }
    // 32 Chinese characters (96 bytes) is within the limit: characters are counted.
    let ok = app.patch("/api/v1/me", Some(&me.access_token), json!({"nickname": "长".repeat(32)})).await?;
    expect_json(ok, 200).await?;
    let body = expect_json(app.get("/api/v1/me", Some(&me.access_token)).await?, 200).await?;
    assert_eq!(body["home_community_id"], serde_json::Value::Null);
    Ok(())
}

#[tokio::test]
async fn deleting_the_account_erases_it_and_revokes_every_token() -> TestResult {
    let app = spawn_app().await?;
    let me = app.login("goodbye").await?;
    let community = app.region("620102002006").await?;
    app.patch("/api/v1/me", Some(&me.access_token), json!({"nickname": "要走了", "home_community_id": community}))
        .await?;
    let resp = app.delete("/api/v1/me", Some(&me.access_token)).await?;
    assert_eq!(resp.status().as_u16(), 204);
    expect_problem(app.get("/api/v1/me", Some(&me.access_token)).await?, 401, "invalid_token").await?;
    let resp = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": me.refresh_token})).await?;
    expect_problem(resp, 401, "invalid_refresh_token").await?;

    // The row stays as an anonymous id; nothing personal is left on it.
    let stored = <linli_server::entity::user::Entity as sea_orm::EntityTrait>::find_by_id(me.user_id)
        .one(&app.ctx.db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("row gone"))?;
    assert!(stored.deleted_at.is_some());
    assert_eq!((stored.openid, stored.nickname, stored.home_community_id), (None, None, None));

    // Signing in again with the same WeChat account starts a fresh account.
    let again = app.login("goodbye").await?;
    assert_ne!(again.user_id, me.user_id);
    Ok(())
}
