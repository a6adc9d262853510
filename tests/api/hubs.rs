//! Hub organizations (issue 16): the street office marks a hub; an organization requests
//! to join and the hub's leader accepts; the hub's staff (`hub_staff`, granted by its
//! leader) read the member's figures and annual reports, and run an incubation base
//! entrusted to the hub; the hub appears on the street's page and in its figures; each
//! endpoint refuses the roles it is not for.

use linli_tests::{Session, TestApp, TestResult, expect_json, expect_problem, spawn_app};
use serde_json::json;

const JINTA: &str = "620102002006"; // 金塔巷社区, the demo committee's
const ZHANGYE_STREET: &str = "620102002000";

/// An organization of 金塔巷 taken through consent and filing; its applicant leads it.
async fn filed(app: &TestApp, code: &str, name: &str) -> anyhow::Result<(Session, i64)> {
    let community = app.region(JINTA).await?;
    let leader = app.login(code).await?;
    let body =
        json!({"name": name, "category": "culture_sports", "community_id": community, "description": "书法交流"});
    let org = expect_json(app.post("/api/v1/organizations", Some(&leader.access_token), body).await?, 201).await?;
    let id = org["id"].as_i64().unwrap_or_default();
    let committee = app.login_openid("demo-committee").await?;
    let street = app.login_openid("demo-street").await?;
    for who in [&committee, &street] {
        let path = format!("/api/v1/organizations/{id}/review");
        expect_json(app.post(&path, Some(&who.access_token), json!({"decision": "approve"})).await?, 200).await?;
    }
    let leader = app.login(code).await?; // fresh token, with the leader's role
    Ok((leader, id))
}

#[tokio::test]
async fn a_hub_accepts_a_member_and_its_staff_read_the_members_figures() -> TestResult {
    let app = spawn_app().await?;
    let street_id = app.region(ZHANGYE_STREET).await?;
    let street = app.login_openid("demo-street").await?;
    let committee = app.login_openid("demo-committee").await?;
    let jinta = app.region(JINTA).await?;
    // The demo's street hub, with its two members, is on the street's page.
    let hubs = expect_json(app.get(&format!("/api/v1/hubs?region_id={street_id}"), None).await?, 200).await?;
    assert_eq!(hubs[0]["organization_name"], "金塔巷夕阳红志愿服务队", "{hubs}");
    assert_eq!(hubs[0]["members_count"], 2);

    // A community's federation, newly filed.
    let (hub_leader, hub_org) = filed(&app, "federation-leader", "金塔巷社会组织联合会").await?;
    let mark =
        json!({"organization_id": hub_org, "region_id": jinta, "kind": "federation", "reason": "街道社会组织联合会"});

    // Only the street office (or civil affairs) over the region marks a hub.
    for who in [&committee, &hub_leader] {
        expect_problem(app.post("/api/v1/hubs", Some(&who.access_token), mark.clone()).await?, 403, "forbidden")
            .await?;
    }
    expect_problem(app.post("/api/v1/hubs", None, mark.clone()).await?, 401, "unauthenticated").await?;
    let hub = expect_json(app.post("/api/v1/hubs", Some(&street.access_token), mark.clone()).await?, 201).await?;
    let hub_id = hub["id"].as_i64().unwrap_or_default();
    assert_eq!(hub["kind"], "federation");
    assert_eq!(hub["marked_by"], street.user_id);
    expect_problem(app.post("/api/v1/hubs", Some(&street.access_token), mark).await?, 409, "already_hub").await?;

    // A member's leader asks to join; a resident may not ask for it.
    let (member_leader, member) = filed(&app, "calligraphy-leader", "金塔巷书法社").await?;
    let resident = app.login("hub-resident").await?;
    let ask = json!({"organization_id": member, "message": "希望加入联合会"});
    let path = format!("/api/v1/hubs/{hub_id}/members");
    expect_problem(app.post(&path, Some(&resident.access_token), ask.clone()).await?, 403, "forbidden").await?;
    let m = expect_json(app.post(&path, Some(&member_leader.access_token), ask.clone()).await?, 201).await?;
    assert_eq!(m["status"], "requested", "{m}");
    let mid = m["id"].as_i64().unwrap_or_default();
    expect_problem(app.post(&path, Some(&member_leader.access_token), ask).await?, 409, "membership_open").await?;

    // The hub's leader decides: not the member, and not a decline without a reason.
    let decide = format!("/api/v1/hubs/{hub_id}/members/{mid}/decision");
    expect_problem(
        app.post(&decide, Some(&member_leader.access_token), json!({"decision": "accept"})).await?,
        403,
        "forbidden",
    )
    .await?;
    expect_problem(
        app.post(&decide, Some(&hub_leader.access_token), json!({"decision": "decline"})).await?,
        422,
        "validation_failed",
    )
    .await?;
    let m = expect_json(app.post(&decide, Some(&hub_leader.access_token), json!({"decision": "accept"})).await?, 200)
        .await?;
    assert_eq!(m["status"], "active");
    assert_eq!(m["decided_by"], hub_leader.user_id);
    expect_problem(
        app.post(&decide, Some(&hub_leader.access_token), json!({"decision": "accept"})).await?,
        409,
        "invalid_transition",
    )
    .await?;

    // The community's page shows the hub with its member.
    let hubs = expect_json(app.get(&format!("/api/v1/hubs?region_id={jinta}"), None).await?, 200).await?;
    assert_eq!(hubs[0]["members_count"], 1, "{hubs}");
    assert_eq!(hubs[0]["members"][0]["id"], member);

    // The hub's leader grants hub_staff; nobody else does.
    let worker = app.login("hub-worker").await?;
    let staff = format!("/api/v1/hubs/{hub_id}/staff");
    for who in [&resident, &member_leader, &street] {
        expect_problem(
            app.post(&staff, Some(&who.access_token), json!({"user_id": worker.user_id})).await?,
            403,
            "forbidden",
        )
        .await?;
    }
    let list =
        expect_json(app.post(&staff, Some(&hub_leader.access_token), json!({"user_id": worker.user_id})).await?, 200)
            .await?;
    assert_eq!(list[0]["user_id"], worker.user_id);
    let worker = app.login("hub-worker").await?;
    let me = expect_json(app.get("/api/v1/me", Some(&worker.access_token)).await?, 200).await?;
    assert!(me["roles"].as_array().into_iter().flatten().any(|r| r["role"] == "hub_staff" && r["scope_id"] == hub_org));

    // Hub staff read the member's figures and annual reports, not another organization's.
    let figures = format!("/api/v1/organizations/{member}/metrics");
    expect_json(app.get(&figures, Some(&worker.access_token)).await?, 200).await?;
    expect_json(
        app.get(&format!("/api/v1/organizations/{member}/annual-reports"), Some(&worker.access_token)).await?,
        200,
    )
    .await?;
    expect_json(app.get(&format!("/api/v1/hubs/{hub_id}/members"), Some(&worker.access_token)).await?, 200).await?;
    expect_problem(
        app.get(&format!("/api/v1/hubs/{hub_id}/members"), Some(&resident.access_token)).await?,
        403,
        "forbidden",
    )
    .await?;
    let (_, other) = filed(&app, "chess-leader", "金塔巷象棋队").await?;
    expect_problem(
        app.get(&format!("/api/v1/organizations/{other}/metrics"), Some(&worker.access_token)).await?,
        403,
        "forbidden",
    )
    .await?;
    expect_problem(app.get(&figures, Some(&resident.access_token)).await?, 403, "forbidden").await?;

    // The community's figures count the hub and its member.
    let metrics =
        expect_json(app.get(&format!("/api/v1/regions/{jinta}/metrics"), Some(&committee.access_token)).await?, 200)
            .await?;
    assert_eq!(metrics["support"]["hubs"], 1, "{}", metrics["support"]);
    assert_eq!(metrics["support"]["hub_members"], 1);

    // Hub staff run an incubation base entrusted to the hub.
    let base = expect_json(
        app.post(
            "/api/v1/incubation-bases",
            Some(&street.access_token),
            json!({"name": "张掖路街道孵化基地", "street_id": street_id, "hub_id": hub_id}),
        )
        .await?,
        201,
    )
    .await?;
    let community = app.region(JINTA).await?;
    let starter = app.login("hub-starter").await?;
    let admit = json!({"name": "金塔巷手工小组", "category": "culture_sports", "community_id": community,
        "contact_user_id": starter.user_id, "months": 6, "reason": "骨干稳定"});
    let path = format!("/api/v1/incubation-bases/{}/incubatees", base["id"]);
    expect_problem(app.post(&path, Some(&member_leader.access_token), admit.clone()).await?, 403, "forbidden").await?;
    expect_json(app.post(&path, Some(&worker.access_token), admit).await?, 201).await?;

    // The member leaves with a reason; its figures are closed to the hub's staff again.
    let leave = format!("/api/v1/hubs/{hub_id}/members/{mid}/leave");
    expect_problem(app.post(&leave, Some(&resident.access_token), json!({"reason": "x"})).await?, 403, "forbidden")
        .await?;
    let m = expect_json(
        app.post(&leave, Some(&member_leader.access_token), json!({"reason": "另行加入社区联合会"})).await?,
        200,
    )
    .await?;
    assert_eq!(m["status"], "left");
    assert_eq!(m["left_reason"], "另行加入社区联合会");
    expect_problem(app.get(&figures, Some(&worker.access_token)).await?, 403, "forbidden").await?;
    Ok(())
}
