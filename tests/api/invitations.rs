//! Invitations to a role and finding a person by their bound phone (issue 20): nobody
//! needs an internal id to give someone a role.

use chrono::Duration;
use linli_tests::{Session, TestApp, TestResult, expect_json, expect_problem, spawn_app};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

async fn invite(app: &TestApp, who: &Session, body: Value) -> anyhow::Result<reqwest::Response> {
    app.post("/api/v1/invitations", Some(&who.access_token), body).await
}

async fn accept(app: &TestApp, who: &Session, code: &str) -> anyhow::Result<reqwest::Response> {
    app.post("/api/v1/invitations/accept", Some(&who.access_token), json!({"code": code})).await
}

fn code_of(v: &Value) -> String {
    v["code"].as_str().unwrap_or_default().to_owned()
}

/// A leader invites a resident as staff: the resident previews it (without the leader's
/// note), accepts it (a second tap answers the same), holds the role at once, and the
/// grant and the organization's history name the leader; the leader is told. Nobody else
/// can use the code afterwards.
#[tokio::test]
async fn a_leader_invites_staff_by_code() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let created = expect_json(
        invite(&app, &leader, json!({"role": "org_staff", "scope_id": org, "note": "给王阿姨", "ttl_hours": 48}))
            .await?,
        201,
    )
    .await?;
    let code = code_of(&created);
    assert_eq!(code.len(), 11, "ABCDE-FGHJK: {created}");
    assert_eq!(created["state"], "active");
    assert_eq!(created["note"], "给王阿姨");
    assert!(created["page"].as_str().is_some_and(|p| p.starts_with("pages/invite/accept?code=")), "{created}");

    let wang = app.login("invited-wang").await?;
    let typed = code.to_lowercase().replace('-', " ");
    let preview = expect_json(
        app.post("/api/v1/invitations/preview", Some(&wang.access_token), json!({"code": typed})).await?,
        200,
    )
    .await?;
    assert_eq!(preview["role"], "org_staff");
    assert_eq!(preview["scope_id"], org);
    assert!(preview["scope_name"].as_str().is_some_and(|n| !n.is_empty()), "{preview}");
    assert_eq!(preview["note"], Value::Null, "the note is the inviter's own");

    let accepted = expect_json(accept(&app, &wang, &code).await?, 200).await?;
    assert_eq!(accepted["state"], "accepted");
    assert_eq!(accepted["accepted_by"], wang.user_id);
    let again = expect_json(accept(&app, &wang, &code).await?, 200).await?;
    assert_eq!(again["id"], accepted["id"], "a second tap answers the same");
    let me = expect_json(app.get("/api/v1/me", Some(&wang.access_token)).await?, 200).await?;
    assert!(
        me["roles"].as_array().is_some_and(|r| r.iter().any(|g| g["role"] == "org_staff" && g["scope_id"] == org)),
        "{me}"
    );
    let staff =
        expect_json(app.get(&format!("/api/v1/organizations/{org}/staff"), Some(&leader.access_token)).await?, 200)
            .await?;
    assert!(staff.as_array().is_some_and(|s| s.iter().any(|m| m["user_id"] == wang.user_id)), "{staff}");
    use linli_server::entity::role_grant;
    let grant = role_grant::Entity::find()
        .filter(role_grant::Column::UserId.eq(wang.user_id))
        .filter(role_grant::Column::Role.eq("org_staff"))
        .one(&app.ctx.db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no grant"))?;
    assert_eq!(grant.granted_by, Some(leader.user_id), "the grant names who invited");

    let other = app.login("invited-li").await?;
    expect_problem(accept(&app, &other, &code).await?, 410, "invitation_used").await?;
    let inbox = expect_json(app.get("/api/v1/me/notifications", Some(&leader.access_token)).await?, 200).await?;
    assert!(inbox["items"].as_array().is_some_and(|i| i.iter().any(|n| n["kind"] == "invitation_accepted")), "{inbox}");
    let mine = expect_json(app.get("/api/v1/invitations", Some(&leader.access_token)).await?, 200).await?;
    assert_eq!(mine["items"][0]["state"], "accepted");
    assert_eq!(mine["items"][0]["note"], "给王阿姨");
    Ok(())
}

/// An invitation stops working when it expires, when its inviter revokes it, and when
/// its inviter may no longer grant the role; one's own invitation is refused; unknown and
/// malformed codes are 404.
#[tokio::test]
async fn invitations_expire_are_revoked_and_go_void() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let resident = app.login("invited-zhao").await?;
    expect_problem(accept(&app, &resident, "ABCDE-FGHJK").await?, 404, "not_found").await?;
    expect_problem(accept(&app, &resident, "not a code").await?, 404, "not_found").await?;

    let own = expect_json(invite(&app, &leader, json!({"role": "org_staff", "scope_id": org})).await?, 201).await?;
    expect_problem(accept(&app, &leader, &code_of(&own)).await?, 409, "own_invitation").await?;

    let revoked = expect_json(invite(&app, &leader, json!({"role": "org_staff", "scope_id": org})).await?, 201).await?;
    let id = revoked["id"].as_i64().unwrap_or_default();
    let path = format!("/api/v1/invitations/{id}/revoke");
    let r = expect_json(app.post(&path, Some(&leader.access_token), Value::Null).await?, 200).await?;
    assert_eq!(r["state"], "revoked");
    expect_problem(app.post(&path, Some(&leader.access_token), Value::Null).await?, 409, "invalid_transition").await?;
    expect_problem(accept(&app, &resident, &code_of(&revoked)).await?, 410, "invitation_revoked").await?;
    let nobody = app.post(&path, Some(&resident.access_token), Value::Null).await?;
    expect_problem(nobody, 403, "forbidden").await?;

    // An invitation to co-lead, then the leader hands leadership over: void.
    let co = expect_json(invite(&app, &leader, json!({"role": "org_leader", "scope_id": org})).await?, 201).await?;
    let successor = app.login("invited-successor").await?;
    let staff = expect_json(invite(&app, &leader, json!({"role": "org_staff", "scope_id": org})).await?, 201).await?;
    expect_json(accept(&app, &successor, &code_of(&staff)).await?, 200).await?;
    expect_json(
        app.post(
            &format!("/api/v1/organizations/{org}/leader"),
            Some(&leader.access_token),
            json!({"user_id": successor.user_id}),
        )
        .await?,
        200,
    )
    .await?;
    expect_problem(accept(&app, &resident, &code_of(&co)).await?, 410, "invitation_void").await?;

    // One hour long, accepted after an hour and a minute: expired.
    let short = expect_json(
        invite(&app, &successor, json!({"role": "org_staff", "scope_id": org, "ttl_hours": 1})).await?,
        201,
    )
    .await?;
    app.clock.advance(Duration::minutes(61));
    let late = app.login("invited-zhao").await?;
    expect_problem(accept(&app, &late, &code_of(&short)).await?, 410, "invitation_expired").await?;
    Ok(())
}

/// Who may invite is the grant table: a leader for the organization's roles, a street
/// office for its committees, a committee for its own colleagues, nobody for
/// `system_admin`; each endpoint refuses the wrong caller.
#[tokio::test]
async fn who_may_invite_is_the_grant_table() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let resident = app.login("invite-resident").await?;
    let committee = app.login_openid("demo-committee").await?;
    let street = app.login_openid("demo-street").await?;
    let community = app.region("620102002006").await?;
    let staff_body = json!({"role": "org_staff", "scope_id": org});
    for who in [&resident, &committee, &street] {
        expect_problem(invite(&app, who, staff_body.clone()).await?, 403, "forbidden").await?;
    }
    let committee_body = json!({"role": "committee", "scope_id": community});
    for who in [&resident, &leader] {
        expect_problem(invite(&app, who, committee_body.clone()).await?, 403, "forbidden").await?;
    }
    // A committee invites a colleague to its own community only.
    let neighbour = app.region("620102002005").await?;
    let elsewhere = json!({"role": "committee", "scope_id": neighbour});
    expect_problem(invite(&app, &committee, elsewhere).await?, 403, "forbidden").await?;
    expect_json(invite(&app, &committee, committee_body.clone()).await?, 201).await?;
    let by_street = expect_json(invite(&app, &street, committee_body).await?, 201).await?;
    let newcomer = app.login("new-committee-member").await?;
    expect_json(accept(&app, &newcomer, &code_of(&by_street)).await?, 200).await?;
    let me = expect_json(app.get("/api/v1/me", Some(&newcomer.access_token)).await?, 200).await?;
    assert!(me["roles"].as_array().is_some_and(|r| r.iter().any(|g| g["role"] == "committee")), "{me}");

    let admin =
        expect_problem(invite(&app, &street, json!({"role": "system_admin"})).await?, 422, "validation_failed").await?;
    assert_eq!(admin["errors"][0]["code"], "not_invitable");
    let unknown = expect_problem(
        invite(&app, &leader, json!({"role": "mayor", "scope_id": org})).await?,
        422,
        "validation_failed",
    )
    .await?;
    assert_eq!(unknown["errors"][0]["code"], "unknown_role");
    let ttl = expect_problem(
        invite(&app, &leader, json!({"role": "org_staff", "scope_id": org, "ttl_hours": 0})).await?,
        422,
        "validation_failed",
    )
    .await?;
    assert_eq!(ttl["errors"][0]["field"], "ttl_hours");
    let wrong_scope = expect_problem(
        invite(&app, &leader, json!({"role": "org_staff", "scope_id": 999_999})).await?,
        422,
        "validation_failed",
    )
    .await?;
    assert_eq!(wrong_scope["errors"][0]["field"], "scope_id");

    for (path, body) in [
        ("/api/v1/invitations", staff_body.clone()),
        ("/api/v1/invitations/preview", json!({"code": "ABCDE-FGHJK"})),
        ("/api/v1/invitations/accept", json!({"code": "ABCDE-FGHJK"})),
        ("/api/v1/invitations/1/revoke", Value::Null),
        ("/api/v1/people/lookup", json!({"phone": "13800138000", "role": "org_staff", "scope_id": org})),
    ] {
        expect_problem(app.post(path, None, body).await?, 401, "unauthenticated").await?;
    }
    expect_problem(app.get("/api/v1/invitations", None).await?, 401, "unauthenticated").await?;
    Ok(())
}

/// A leader finds a resident by the phone they bound (exact match), sees only a masked
/// number, and adds them; callers who could not grant the role are refused, unknown
/// numbers are 404, and lookups are rate limited.
#[tokio::test]
async fn a_person_is_found_by_the_phone_they_bound() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let zhou = app.login("phone-zhou").await?;
    linli_server::service::users::set_phone(&app.ctx, zhou.user_id, "13912345678").await?;
    let lookup = |who: &Session, phone: &str| {
        let (token, body) = (who.access_token.clone(), json!({"phone": phone, "role": "org_staff", "scope_id": org}));
        let app = &app;
        async move { app.post("/api/v1/people/lookup", Some(&token), body).await }
    };
    let found = expect_json(lookup(&leader, "139 1234 5678").await?, 200).await?;
    assert_eq!(found["user_id"], zhou.user_id);
    assert_eq!(found["phone_masked"], "139****5678");
    assert_eq!(found["holds_role"], false);
    expect_json(
        app.post(
            &format!("/api/v1/organizations/{org}/staff"),
            Some(&leader.access_token),
            json!({"user_id": zhou.user_id}),
        )
        .await?,
        200,
    )
    .await?;
    let again = expect_json(lookup(&leader, "13912345678").await?, 200).await?;
    assert_eq!(again["holds_role"], true);
    expect_problem(lookup(&leader, "13900000000").await?, 404, "not_found").await?;
    // Two accounts on one number (a family's phone): never a guess between them.
    let twin = app.login("phone-zhou-spouse").await?;
    linli_server::service::users::set_phone(&app.ctx, twin.user_id, "13700001111").await?;
    let first = app.login("phone-zhou-son").await?;
    linli_server::service::users::set_phone(&app.ctx, first.user_id, "13700001111").await?;
    expect_problem(lookup(&leader, "13700001111").await?, 409, "phone_ambiguous").await?;
    let bad = expect_problem(lookup(&leader, "12345").await?, 422, "validation_failed").await?;
    assert_eq!(bad["errors"][0]["field"], "phone");
    let resident = app.login("phone-resident").await?;
    expect_problem(lookup(&resident, "13912345678").await?, 403, "forbidden").await?;
    expect_problem(lookup(&zhou, "13912345678").await?, 403, "forbidden").await?;
    // Ten a minute per person: within 22 quick tries a refusal comes, even if a minute
    // turns over on the way (the window is the wall clock's).
    let mut refused = None;
    for _ in 0..22 {
        let r = lookup(&leader, "13912345678").await?;
        if r.status() == 429 {
            refused = Some(r);
            break;
        }
    }
    let refused = refused.ok_or_else(|| anyhow::anyhow!("no lookup was refused"))?;
    assert!(refused.headers().contains_key("retry-after"));
    expect_problem(refused, 429, "rate_limited").await?;
    Ok(())
}

/// Single use holds under a race: ten residents accept one code at once; exactly one
/// gets the role, the others `invitation_used`.
#[tokio::test]
async fn ten_residents_racing_for_one_code_make_one_grant() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let created = expect_json(invite(&app, &leader, json!({"role": "org_staff", "scope_id": org})).await?, 201).await?;
    let code = code_of(&created);
    let mut people = Vec::new();
    for i in 0..10 {
        people.push(app.login_owned(format!("racer-{i}")).await?);
    }
    let answers = futures_util::future::join_all(people.iter().map(|p| accept(&app, p, &code))).await;
    let mut statuses = Vec::new();
    for a in answers {
        statuses.push(a?.status().as_u16());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 410, 410, 410, 410, 410, 410, 410, 410, 410], "{statuses:?}");
    use linli_server::entity::role_grant;
    let grants = role_grant::Entity::find()
        .filter(role_grant::Column::Role.eq("org_staff"))
        .filter(role_grant::Column::ScopeId.eq(org))
        .filter(role_grant::Column::UserId.is_in(people.iter().map(|p| p.user_id).collect::<Vec<_>>()))
        .all(&app.ctx.db)
        .await?;
    assert_eq!(grants.len(), 1);
    Ok(())
}

/// A leader invited by code joins, and the organization's history names the step (every
/// event the history shows is one the spec lists: a leader's arrival was not).
#[tokio::test]
async fn an_invited_leader_joins_and_the_history_says_so() -> linli_tests::TestResult {
    let app = linli_tests::spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let invite = linli_tests::expect_json(
        app.post(
            "/api/v1/invitations",
            Some(&leader.access_token),
            serde_json::json!({"scope_id": org, "role": "org_leader"}),
        )
        .await?,
        201,
    )
    .await?;
    let code = invite["code"].as_str().unwrap_or_default().to_owned();
    let co = app.login("co-leader").await?;
    linli_tests::expect_json(
        app.post("/api/v1/invitations/accept", Some(&co.access_token), serde_json::json!({"code": code})).await?,
        200,
    )
    .await?;
    let detail = linli_tests::expect_json(
        app.get(&format!("/api/v1/organizations/{org}"), Some(&leader.access_token)).await?,
        200,
    )
    .await?;
    assert!(detail["history"].to_string().contains("leader_added"), "{}", detail["history"]);
    Ok(())
}
