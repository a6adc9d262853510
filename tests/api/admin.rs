use linli_tests::{TestResult, expect_json, expect_problem, spawn_app};
use serde_json::json;

#[tokio::test]
async fn a_system_admin_grants_and_a_repeat_returns_the_same_grant() -> TestResult {
    let app = spawn_app().await?;
    let admin = app.login_openid("demo-admin").await?;
    let resident = app.login("future-committee").await?;
    let community = app.region("620102002003").await?;
    let body = json!({"user_id": resident.user_id, "role": "committee", "scope_id": community});
    let first =
        expect_json(app.post("/api/v1/admin/role-grants", Some(&admin.access_token), body.clone()).await?, 201).await?;
    assert_eq!(first["role"], "committee");
    assert_eq!(first["scope_id"], community);
    assert_eq!(first["granted_by"], admin.user_id);
    let again = expect_json(app.post("/api/v1/admin/role-grants", Some(&admin.access_token), body).await?, 200).await?;
    assert_eq!(again["id"], first["id"]);

    // The role shows on the resident's very next request, with the same access token.
    let me = expect_json(app.get("/api/v1/me", Some(&resident.access_token)).await?, 200).await?;
    assert_eq!(me["roles"][1], json!({"role": "committee", "scope_id": community}));
    Ok(())
}

#[tokio::test]
async fn a_street_grants_only_inside_its_street_and_only_lower_roles() -> TestResult {
    let app = spawn_app().await?;
    let street = app.login_openid("demo-street").await?; // 张掖路街道
    let target = app.login("helper").await?;
    let inside = app.region("620102002005").await?; // 大众巷社区, in 张掖路街道
    let outside = app.region("620102004003").await?; // 静安门社区, in 皋兰路街道
    let county = app.region("620102000000").await?;
    let grant = |role: &str, scope: i64| json!({"user_id": target.user_id, "role": role, "scope_id": scope});

    let resp = app.post("/api/v1/admin/role-grants", Some(&street.access_token), grant("committee", inside)).await?;
    expect_json(resp, 201).await?;
    let resp = app.post("/api/v1/admin/role-grants", Some(&street.access_token), grant("committee", outside)).await?;
    expect_problem(resp, 403, "forbidden").await?;
    let resp =
        app.post("/api/v1/admin/role-grants", Some(&street.access_token), grant("civil_affairs", county)).await?;
    expect_problem(resp, 403, "forbidden").await?;
    let resp = app
        .post(
            "/api/v1/admin/role-grants",
            Some(&street.access_token),
            json!({"user_id": target.user_id, "role": "system_admin"}),
        )
        .await?;
    expect_problem(resp, 403, "forbidden").await?;
    Ok(())
}

#[tokio::test]
async fn a_committee_grants_only_its_own_colleagues_and_residents_nothing() -> TestResult {
    let app = spawn_app().await?;
    let committee = app.login_openid("demo-committee").await?; // 金塔巷社区
    let resident = app.login("plain").await?;
    let colleague = app.login("new-colleague").await?;
    let community = app.region("620102002006").await?;
    let neighbour = app.region("620102002005").await?; // 大众巷社区, the same street
    let street = app.region("620102002000").await?;
    let grant = |user: i64, role: &str, scope: i64| json!({"user_id": user, "role": role, "scope_id": scope});

    // A resident grants nothing and lists nothing.
    let body = grant(resident.user_id, "committee", community);
    expect_problem(
        app.post("/api/v1/admin/role-grants", Some(&resident.access_token), body.clone()).await?,
        403,
        "forbidden",
    )
    .await?;
    expect_problem(app.get("/api/v1/admin/role-grants", Some(&resident.access_token)).await?, 403, "forbidden").await?;
    expect_problem(app.post("/api/v1/admin/role-grants", None, body).await?, 401, "unauthenticated").await?;

    // The committee adds a colleague to its own community, and nowhere else, nothing higher.
    for (role, scope) in [("committee", neighbour), ("street", street)] {
        let resp = app
            .post("/api/v1/admin/role-grants", Some(&committee.access_token), grant(colleague.user_id, role, scope))
            .await?;
        expect_problem(resp, 403, "forbidden").await.map_err(|e| anyhow::anyhow!("{role}: {e}"))?;
    }
    let made = expect_json(
        app.post(
            "/api/v1/admin/role-grants",
            Some(&committee.access_token),
            grant(colleague.user_id, "committee", community),
        )
        .await?,
        201,
    )
    .await?;
    assert_eq!(made["granted_by"], committee.user_id);

    // Its list is its community: both colleagues, and the organization roles there.
    let listed = expect_json(app.get("/api/v1/admin/role-grants", Some(&committee.access_token)).await?, 200).await?;
    let items = listed["items"].as_array().cloned().unwrap_or_default();
    let holders: Vec<i64> =
        items.iter().filter(|g| g["role"] == "committee").filter_map(|g| g["user_id"].as_i64()).collect();
    assert_eq!(holders, vec![committee.user_id, colleague.user_id], "{listed}");
    assert!(items.iter().all(|g| g["role"] != "street" && g["role"] != "civil_affairs"), "{listed}");
    assert!(items.iter().filter(|g| g["role"] == "committee").all(|g| g["scope_id"] == community), "{listed}");

    // The colleague's grant can be removed by the committee, and neither removes their own.
    let own = items
        .iter()
        .find(|g| g["user_id"] == committee.user_id)
        .and_then(|g| g["id"].as_i64())
        .ok_or_else(|| anyhow::anyhow!("no own grant in {listed}"))?;
    let own_path = format!("/api/v1/admin/role-grants/{own}");
    expect_problem(app.delete(&own_path, Some(&committee.access_token)).await?, 403, "forbidden").await?;
    let theirs = made["id"].as_i64().ok_or_else(|| anyhow::anyhow!("no id in {made}"))?;
    let their_path = format!("/api/v1/admin/role-grants/{theirs}");
    expect_problem(app.delete(&their_path, Some(&colleague.access_token)).await?, 403, "forbidden").await?;
    assert_eq!(app.delete(&their_path, Some(&committee.access_token)).await?.status().as_u16(), 204);
    let me = expect_json(app.get("/api/v1/me", Some(&colleague.access_token)).await?, 200).await?;
    assert_eq!(me["roles"], json!([{"role": "resident", "scope_id": null}]));
    Ok(())
}

#[tokio::test]
async fn malformed_grants_are_refused() -> TestResult {
    let app = spawn_app().await?;
    let admin = app.login_openid("demo-admin").await?;
    let user = app.login("someone").await?;
    let street = app.region("620102002000").await?;
    let community = app.region("620102002006").await?;
    let cases = [
        (json!({"user_id": user.user_id, "role": "emperor", "scope_id": community}), "role", "unknown_role"),
        (json!({"user_id": user.user_id, "role": "resident"}), "role", "not_grantable"),
        (json!({"user_id": user.user_id, "role": "committee", "scope_id": street}), "scope_id", "wrong_level"),
        (json!({"user_id": user.user_id, "role": "committee"}), "scope_id", "required"),
        (json!({"user_id": user.user_id, "role": "committee", "scope_id": 987_654}), "scope_id", "not_found"),
        (json!({"user_id": user.user_id, "role": "system_admin", "scope_id": community}), "scope_id", "not_allowed"),
        (json!({"user_id": 987_654, "role": "committee", "scope_id": community}), "user_id", "not_found"),
        (json!({"user_id": user.user_id, "role": "org_staff", "scope_id": 987_654}), "scope_id", "not_found"),
    ];
    for (body, field, code) in cases {
        let resp = app.post("/api/v1/admin/role-grants", Some(&admin.access_token), body.clone()).await?;
        let problem = expect_problem(resp, 422, "validation_failed").await?;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
        assert_eq!(problem["errors"][0]["code"], code, "{body}");
    }
    let listed = expect_json(
        app.get(&format!("/api/v1/admin/role-grants?user_id={}", user.user_id), Some(&admin.access_token)).await?,
        200,
    )
    .await?;
    assert_eq!(listed["items"], json!([]), "nothing was granted");
    Ok(())
}

#[tokio::test]
async fn listing_is_scoped_and_revoking_takes_effect_at_once() -> TestResult {
    let app = spawn_app().await?;
    let street = app.login_openid("demo-street").await?;
    let township = app.login_openid("demo-township").await?;
    let admin = app.login_openid("demo-admin").await?;

    // The street sees the committee grant in its street (the demo committee), not the
    // village committee under the township.
    let mine = expect_json(app.get("/api/v1/admin/role-grants", Some(&street.access_token)).await?, 200).await?;
    let scopes: Vec<i64> =
        mine["items"].as_array().into_iter().flatten().filter_map(|g| g["scope_id"].as_i64()).collect();
    let jintaxiang = app.region("620102002006").await?;
    let village = app.region("620123104202").await?;
    assert!(scopes.contains(&jintaxiang), "{mine}");
    assert!(!scopes.contains(&village), "{mine}");
    let all =
        expect_json(app.get("/api/v1/admin/role-grants?limit=100", Some(&admin.access_token)).await?, 200).await?;
    assert!(all["items"].as_array().map(Vec::len) > mine["items"].as_array().map(Vec::len));

    // Revoke the demo committee's grant: the township may not, the street may.
    let committee = app.login_openid("demo-committee").await?;
    let grant_id = mine["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|g| g["user_id"] == committee.user_id)
        .and_then(|g| g["id"].as_i64())
        .ok_or_else(|| anyhow::anyhow!("no committee grant in {mine}"))?;
    let path = format!("/api/v1/admin/role-grants/{grant_id}");
    expect_problem(app.delete(&path, Some(&township.access_token)).await?, 403, "forbidden").await?;
    // Nor the committee member itself: nobody removes their own grant.
    expect_problem(app.delete(&path, Some(&committee.access_token)).await?, 403, "forbidden").await?;
    assert_eq!(app.delete(&path, Some(&street.access_token)).await?.status().as_u16(), 204);
    expect_problem(app.delete(&path, Some(&street.access_token)).await?, 404, "not_found").await?;

    let me = expect_json(app.get("/api/v1/me", Some(&committee.access_token)).await?, 200).await?;
    assert_eq!(me["roles"], json!([{"role": "resident", "scope_id": null}]));
    Ok(())
}

#[tokio::test]
async fn the_cli_bootstraps_the_first_admin_and_the_seed_is_idempotent() -> TestResult {
    let app = spawn_app().await?;
    let config = (*app.ctx.config).clone();
    linli_server::cli::grant_role(&config, "o-bootstrap", "system_admin", None).await?;
    linli_server::cli::grant_role(&config, "o-bootstrap", "system_admin", None).await?;
    assert!(linli_server::cli::grant_role(&config, "o-bootstrap", "committee", None).await.is_err());
    assert!(linli_server::cli::grant_role(&config, "o-bootstrap", "overlord", None).await.is_err());
    let boot = app.login("bootstrap").await?;
    let me = expect_json(app.get("/api/v1/me", Some(&boot.access_token)).await?, 200).await?;
    assert_eq!(me["roles"][1], json!({"role": "system_admin", "scope_id": null}));
    assert_eq!(me["roles"].as_array().map(Vec::len), Some(2));

    let again = linli_server::service::demo::seed_with(
        &app.ctx.db,
        linli_server::service::demo::DemoRegions::Places,
        chrono::Utc::now(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(again, Default::default(), "a second seed adds nothing");
    Ok(())
}
