//! Issue 21 (security and privacy): each fault found by the OWASP API pass, its input
//! and the other paths of the same kind.

use chrono::{Duration, Utc};
use linli_tests::{Session, TestApp, TestResult, expect_json, expect_problem, session_from, spawn_app};
use serde_json::{Value, json};

const JINTAXIANG: &str = "620102002006";

/// A published activity of the demo leader's organization at 金塔巷 (36.0627, 103.8221),
/// starting `hours_ahead` from now, two hours long.
async fn activity(app: &TestApp, leader: &Session, org: i64, hours_ahead: i64) -> anyhow::Result<i64> {
    let start = Utc::now() + Duration::hours(hours_ahead);
    let body = json!({
        "kind": "volunteer", "title": format!("安全测试{hours_ahead}"), "location": "金塔巷社区活动室",
        "latitude": 36.0627, "longitude": 103.8221,
        "starts_at": start.to_rfc3339(), "ends_at": (start + Duration::hours(2)).to_rfc3339(), "capacity": 10
    });
    app.publish(leader, org, body).await
}

async fn resident(app: &TestApp, code: &str) -> anyhow::Result<Session> {
    let who = app.login(code).await?;
    let community = app.region(JINTAXIANG).await?;
    expect_json(app.patch("/api/v1/me", Some(&who.access_token), json!({"home_community_id": community})).await?, 200)
        .await?;
    Ok(who)
}

async fn sign_up(app: &TestApp, who: &Session, id: i64) -> anyhow::Result<Value> {
    let resp = app.post(&format!("/api/v1/activities/{id}/signups"), Some(&who.access_token), json!({})).await?;
    anyhow::ensure!(resp.status().is_success(), "sign-up failed: {}", resp.status());
    Ok(resp.json().await?)
}

// ---- 2. a rule gated on an optional field ----------------------------------------------

#[tokio::test]
async fn a_self_check_in_without_a_location_is_refused_for_an_activity_with_coordinates() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let id = activity(&app, &leader, org, 2).await?;
    let far = resident(&app, "far-away").await?;
    sign_up(&app, &far, id).await?;
    app.clock.advance(Duration::hours(2));
    let leader = app.login_openid("demo-leader").await?;
    let far = app.login("far-away").await?;
    let shown =
        expect_json(app.get(&format!("/api/v1/activities/{id}/checkin-code"), Some(&leader.access_token)).await?, 200)
            .await?;
    let path = format!("/api/v1/activities/{id}/attendance/self");

    // Far away with a location: refused, without saying how near is near enough.
    let body = json!({"code": shown["code"], "action": "check_in", "latitude": 35.8524, "longitude": 104.1163});
    let problem = expect_problem(app.post(&path, Some(&far.access_token), body).await?, 409, "too_far").await?;
    let detail = problem["detail"].as_str().unwrap_or_default();
    for coaching in ["1", "公里", "km", "位置", "定位"] {
        anyhow::ensure!(!detail.contains(coaching), "the refusal coaches the cheat: {detail}");
    }
    // The same without a location: refused too, naming the field (it was 200 before).
    let body = json!({"code": shown["code"], "action": "check_in"});
    let problem =
        expect_problem(app.post(&path, Some(&far.access_token), body).await?, 422, "validation_failed").await?;
    assert_eq!(problem["errors"][0]["field"], "latitude");
    assert_eq!(problem["errors"][0]["code"], "required");
    // And for checking out.
    let body = json!({"code": shown["code"], "action": "check_out"});
    expect_problem(app.post(&path, Some(&far.access_token), body).await?, 422, "validation_failed").await?;
    // Nothing was recorded: closing credits no hours and marks a no-show.
    let closed = expect_json(
        app.post(&format!("/api/v1/activities/{id}/finish"), Some(&leader.access_token), json!({})).await?,
        200,
    )
    .await?;
    assert_eq!(closed["attended"], 0, "{closed}");
    assert_eq!(closed["no_shows"], 1, "{closed}");
    Ok(())
}

#[tokio::test]
async fn a_self_check_in_near_the_activity_still_works() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let id = activity(&app, &leader, org, 2).await?;
    let near = resident(&app, "at-the-door").await?;
    sign_up(&app, &near, id).await?;
    app.clock.advance(Duration::hours(2));
    let leader = app.login_openid("demo-leader").await?;
    let near = app.login("at-the-door").await?;
    let shown =
        expect_json(app.get(&format!("/api/v1/activities/{id}/checkin-code"), Some(&leader.access_token)).await?, 200)
            .await?;
    let body = json!({"code": shown["code"], "action": "check_in", "latitude": 36.0628, "longitude": 103.8222});
    let path = format!("/api/v1/activities/{id}/attendance/self");
    let done = expect_json(app.post(&path, Some(&near.access_token), body).await?, 200).await?;
    assert_eq!(done["changed"], true);
    Ok(())
}

// ---- 4. a reused refresh token -----------------------------------------------------------

#[tokio::test]
async fn a_reused_refresh_token_revokes_the_access_tokens_of_that_sign_in() -> TestResult {
    let app = spawn_app().await?;
    let first = app.login("reuse-victim").await?;
    let resp = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": first.refresh_token})).await?;
    let second = session_from(resp).await?;
    expect_json(app.get("/api/v1/me", Some(&second.access_token)).await?, 200).await?;
    let resp = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": first.refresh_token})).await?;
    expect_problem(resp, 401, "refresh_token_reused").await?;
    // at2 (minted from the leaked token's family) and at1 both stop at once.
    expect_problem(app.get("/api/v1/me", Some(&second.access_token)).await?, 401, "invalid_token").await?;
    expect_problem(app.get("/api/v1/me", Some(&first.access_token)).await?, 401, "invalid_token").await?;
    // A fresh sign-in works.
    let again = app.login("reuse-victim").await?;
    expect_json(app.get("/api/v1/me", Some(&again.access_token)).await?, 200).await?;
    Ok(())
}

// ---- 3. who grants organization roles ----------------------------------------------------

/// Demo organizations under 张掖路街道 other than the demo leader's (they have no
/// leader): a filed one and a registered one.
async fn leaderless(app: &TestApp, except: i64) -> anyhow::Result<(i64, i64)> {
    let street = app.region("620102002000").await?;
    let page =
        expect_json(app.get(&format!("/api/v1/organizations?region_id={street}&limit=100"), None).await?, 200).await?;
    let items: Vec<&Value> = page["items"].as_array().into_iter().flatten().filter(|o| o["id"] != except).collect();
    let pick = |standing: &str| {
        items
            .iter()
            .find(|o| o["standing"] == standing && o["status"] == standing)
            .and_then(|o| o["id"].as_i64())
            .ok_or_else(|| anyhow::anyhow!("no {standing} organization in {page}"))
    };
    Ok((pick("filed")?, pick("registered")?))
}

#[tokio::test]
async fn officials_cannot_grant_organization_roles_through_the_grants_endpoint() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let anyone = app.login("would-be-leader").await?;
    for (who, role) in [
        ("demo-street", "org_leader"),
        ("demo-street", "org_staff"),
        ("demo-civil", "org_leader"),
        ("demo-committee", "org_leader"),
        ("demo-admin", "org_leader"),
        ("demo-admin", "org_staff"),
    ] {
        let official = app.login_openid(who).await?;
        let body = json!({"user_id": anyone.user_id, "role": role, "scope_id": org});
        let resp = app.post("/api/v1/admin/role-grants", Some(&official.access_token), body).await?;
        expect_problem(resp, 403, "forbidden").await.map_err(|e| anyhow::anyhow!("{who} {role}: {e}"))?;
    }
    // The leader neither: staff are added through the organization's own path.
    let body = json!({"user_id": anyone.user_id, "role": "org_staff", "scope_id": org});
    let resp = app.post("/api/v1/admin/role-grants", Some(&leader.access_token), body).await?;
    expect_problem(resp, 403, "forbidden").await?;
    // Still one leader, unchanged.
    let staff =
        expect_json(app.get(&format!("/api/v1/organizations/{org}/staff"), Some(&leader.access_token)).await?, 200)
            .await?;
    let leaders: Vec<i64> = staff
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["role"] == "org_leader")
        .filter_map(|m| m["user_id"].as_i64())
        .collect();
    assert_eq!(leaders, vec![leader.user_id]);
    // Nor may an official remove the leader through the endpoint.
    let street = app.login_openid("demo-street").await?;
    let listed = expect_json(
        app.get(&format!("/api/v1/admin/role-grants?role=org_leader&scope_id={org}"), Some(&street.access_token))
            .await?,
        200,
    )
    .await?;
    let grant = listed["items"][0]["id"].as_i64().ok_or_else(|| anyhow::anyhow!("no grant in {listed}"))?;
    let path = format!("/api/v1/admin/role-grants/{grant}");
    expect_problem(app.delete(&path, Some(&street.access_token)).await?, 403, "forbidden").await?;
    // Region roles still go through it.
    let member = app.login("new-committee-member").await?;
    let community = app.region(JINTAXIANG).await?;
    let body = json!({"user_id": member.user_id, "role": "committee", "scope_id": community});
    expect_json(app.post("/api/v1/admin/role-grants", Some(&street.access_token), body).await?, 201).await?;
    Ok(())
}

#[tokio::test]
async fn the_filing_office_appoints_a_leader_only_when_there_is_none() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let (filed, registered) = leaderless(&app, org).await?;
    let chosen = app.login("appointed-leader").await?;
    let appoint = |token: String, id: i64, body: Value| {
        let app = &app;
        async move { app.post(&format!("/api/v1/organizations/{id}/leader"), Some(&token), body).await }
    };
    let with_reason = json!({"user_id": chosen.user_id, "reason": "原负责人搬离，经居民推选"});

    // Wrong roles: a resident, the committee, another township, civil affairs over a filed one.
    for who in ["demo-resident", "demo-committee", "demo-township", "demo-civil"] {
        let s = app.login_openid(who).await?;
        let resp = appoint(s.access_token.clone(), filed, with_reason.clone()).await?;
        expect_problem(resp, 403, "forbidden").await.map_err(|e| anyhow::anyhow!("{who}: {e}"))?;
    }
    let street = app.login_openid("demo-street").await?;
    // A reason is required.
    let resp = appoint(street.access_token.clone(), filed, json!({"user_id": chosen.user_id})).await?;
    let problem = expect_problem(resp, 422, "validation_failed").await?;
    assert_eq!(problem["errors"][0]["field"], "reason");
    // The street files it, so it appoints.
    let staff = expect_json(appoint(street.access_token.clone(), filed, with_reason.clone()).await?, 200).await?;
    assert_eq!(staff[0]["user_id"], chosen.user_id);
    assert_eq!(staff[0]["role"], "org_leader");
    // Recorded with the reason; the organization is told.
    let detail =
        expect_json(app.get(&format!("/api/v1/organizations/{filed}"), Some(&street.access_token)).await?, 200).await?;
    let history = detail["history"].as_array().cloned().unwrap_or_default();
    assert!(
        history
            .iter()
            .any(|e| e["action"] == "leader_appointed"
                && e["comment"].as_str().is_some_and(|c| c.contains("原负责人搬离"))),
        "{detail}"
    );
    let inbox = expect_json(app.get("/api/v1/me/notifications", Some(&chosen.access_token)).await?, 200).await?;
    assert!(inbox["items"].as_array().into_iter().flatten().any(|n| n["kind"] == "leader_appointed"), "{inbox}");
    // Now it has a leader: a second appointment is refused; a second leader never appears.
    let other = app.login("second-leader").await?;
    let resp =
        appoint(street.access_token.clone(), filed, json!({"user_id": other.user_id, "reason": "再指定"})).await?;
    expect_problem(resp, 409, "organization_has_leader").await?;
    // The demo leader's organization has a leader: the street cannot replace them.
    let resp = appoint(street.access_token.clone(), org, json!({"user_id": other.user_id, "reason": "换人"})).await?;
    expect_problem(resp, 409, "organization_has_leader").await?;
    // The leader still hands over themself.
    let resp = appoint(leader.access_token.clone(), org, json!({"user_id": other.user_id})).await?;
    expect_json(resp, 200).await?;

    // A registered organization is civil affairs' to appoint, not the street's.
    let resp = appoint(street.access_token.clone(), registered, with_reason.clone()).await?;
    expect_problem(resp, 403, "forbidden").await?;
    let civil = app.login_openid("demo-civil").await?;
    expect_json(appoint(civil.access_token.clone(), registered, with_reason).await?, 200).await?;
    Ok(())
}

// ---- 5. ids in a body that place data in someone else's scope ----------------------------

#[tokio::test]
async fn activities_stay_in_the_organizations_street() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let start = Utc::now() + Duration::days(3);
    let body = |community: i64| {
        json!({
            "kind": "volunteer", "title": "跨社区活动", "location": "活动室", "capacity": 5,
            "starts_at": start.to_rfc3339(), "ends_at": (start + Duration::hours(2)).to_rfc3339(),
            "community_id": community
        })
    };
    let path = format!("/api/v1/organizations/{org}/activities");
    // A village in another county (the input of the issue): refused.
    let village = app.region("620123104202").await?;
    let problem =
        expect_problem(app.post(&path, Some(&leader.access_token), body(village)).await?, 422, "validation_failed")
            .await?;
    assert_eq!(problem["errors"][0]["field"], "community_id");
    assert_eq!(problem["errors"][0]["code"], "outside_street");
    // A street is not a community.
    let street = app.region("620102002000").await?;
    let problem =
        expect_problem(app.post(&path, Some(&leader.access_token), body(street)).await?, 422, "validation_failed")
            .await?;
    assert_eq!(problem["errors"][0]["code"], "not_a_community");
    // Another community of the same street: allowed, and the organization's own
    // committee keeps sight of the roster.
    let neighbour = app.region("620102002005").await?;
    let created = expect_json(app.post(&path, Some(&leader.access_token), body(neighbour)).await?, 201).await?;
    assert_eq!(created["community_id"], neighbour);
    let id = created["id"].as_i64().unwrap_or_default();
    let committee = app.login_openid("demo-committee").await?;
    expect_json(app.get(&format!("/api/v1/activities/{id}/signups"), Some(&committee.access_token)).await?, 200)
        .await?;
    // The village committee does not see it.
    let village_committee = app.login_openid("demo-village").await?;
    expect_problem(
        app.get(&format!("/api/v1/activities/{id}/signups"), Some(&village_committee.access_token)).await?,
        403,
        "forbidden",
    )
    .await?;
    // PATCH cannot move it anywhere.
    let resp = app
        .patch(&format!("/api/v1/activities/{id}"), Some(&leader.access_token), json!({"community_id": village}))
        .await?;
    expect_problem(resp, 422, "validation_failed").await?;
    // A resident may not post for the organization at all.
    let resident = app.login("not-staff").await?;
    expect_problem(app.post(&path, Some(&resident.access_token), body(neighbour)).await?, 403, "forbidden").await?;
    Ok(())
}

#[tokio::test]
async fn walk_ins_by_id_are_for_neighbours_and_by_code_for_anyone() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let id = activity(&app, &leader, org, 2).await?;
    let villager = app.login("villager").await?;
    let village = app.region("620123104202").await?;
    expect_json(
        app.patch("/api/v1/me", Some(&villager.access_token), json!({"home_community_id": village})).await?,
        200,
    )
    .await?;
    resident(&app, "neighbour").await?; // lives in 金塔巷
    app.clock.advance(Duration::hours(2));
    let leader = app.login_openid("demo-leader").await?;
    let stranger = app.login("stranger").await?;
    let neighbour = app.login("neighbour").await?;
    let path = format!("/api/v1/activities/{id}/walk-ins");
    for who in [&stranger, &villager] {
        let resp = app.post(&path, Some(&leader.access_token), json!({"user_id": who.user_id})).await?;
        let problem = expect_problem(resp, 422, "validation_failed").await?;
        assert_eq!(problem["errors"][0]["code"], "checkin_code_required");
    }
    expect_json(app.post(&path, Some(&leader.access_token), json!({"user_id": neighbour.user_id})).await?, 200).await?;
    // The stranger, present with their code: fine.
    let code = expect_json(app.get("/api/v1/me/checkin-code", Some(&stranger.access_token)).await?, 200).await?;
    let done =
        expect_json(app.post(&path, Some(&leader.access_token), json!({"checkin_code": code["code"]})).await?, 200)
            .await?;
    assert_eq!(done["user_id"], stranger.user_id);
    // Only staff take walk-ins.
    let resp = app.post(&path, Some(&neighbour.access_token), json!({"user_id": neighbour.user_id})).await?;
    expect_problem(resp, 403, "forbidden").await?;
    Ok(())
}

// ---- 7. times that break RFC 3339 ----------------------------------------------------------

#[tokio::test]
async fn times_that_cannot_be_shown_back_are_refused_everywhere() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let path = format!("/api/v1/organizations/{org}/activities");
    let soon = Utc::now() + Duration::days(3);
    let body = |starts: String, ends: String| {
        json!({"kind": "volunteer", "title": "时间测试", "location": "活动室", "capacity": 5,
               "starts_at": starts, "ends_at": ends})
    };
    let cases = [
        (body("9999-12-31T20:00:00Z".into(), "9999-12-31T22:00:00Z".into()), "starts_at", "out_of_range"),
        (body("2026-12-31T23:59:60Z".into(), "2027-01-01T02:00:00Z".into()), "starts_at", "leap_second"),
        (body(soon.to_rfc3339(), soon.format("%Y-%m-%dT%H:59:60Z").to_string()), "ends_at", "leap_second"),
        (
            body(
                (Utc::now() + Duration::days(3 * 365)).to_rfc3339(),
                (Utc::now() + Duration::days(3 * 365) + Duration::hours(2)).to_rfc3339(),
            ),
            "starts_at",
            "too_far_ahead",
        ),
    ];
    for (body, field, code) in cases {
        let resp = app.post(&path, Some(&leader.access_token), body.clone()).await?;
        let problem = expect_problem(resp, 422, "validation_failed").await?;
        assert_eq!(
            (&problem["errors"][0]["field"], &problem["errors"][0]["code"]),
            (&json!(field), &json!(code)),
            "{body}"
        );
    }
    // The signup deadline too, and PATCH.
    let mut with_deadline = body(soon.to_rfc3339(), (soon + Duration::hours(2)).to_rfc3339());
    with_deadline["signup_deadline"] = json!("2026-06-30T23:59:60+08:00");
    let problem =
        expect_problem(app.post(&path, Some(&leader.access_token), with_deadline).await?, 422, "validation_failed")
            .await?;
    assert_eq!(problem["errors"][0]["field"], "signup_deadline");
    let id = activity(&app, &leader, org, 48).await?;
    for patch in [json!({"starts_at": "9999-12-31T20:00:00Z"}), json!({"ends_at": "2026-12-31T23:59:60Z"})] {
        let resp = app.patch(&format!("/api/v1/activities/{id}"), Some(&leader.access_token), patch.clone()).await?;
        expect_problem(resp, 422, "validation_failed").await.map_err(|e| anyhow::anyhow!("{patch}: {e}"))?;
    }
    let far = (Utc::now() + Duration::days(800)).to_rfc3339();
    let resp =
        app.patch(&format!("/api/v1/activities/{id}"), Some(&leader.access_token), json!({"starts_at": far})).await?;
    let problem = expect_problem(resp, 422, "validation_failed").await?;
    assert_eq!(problem["errors"][0]["code"], "too_far_ahead");

    // Query parameters: browsing and report ranges.
    for query in ["from=2026-12-31T23:59:60Z", "to=9999-12-31T20:00:00Z"] {
        let resp = app.get(&format!("/api/v1/activities?{query}"), None).await?;
        expect_problem(resp, 422, "validation_failed").await.map_err(|e| anyhow::anyhow!("{query}: {e}"))?;
    }
    let committee = app.login_openid("demo-committee").await?;
    let community = app.region(JINTAXIANG).await?;
    for query in ["from=2026-12-31T23:59:60Z", "to=9999-12-31T20:00:00Z", "from=0000-06-01", "to=%2B2026-01-01"] {
        let resp =
            app.get(&format!("/api/v1/regions/{community}/metrics?{query}"), Some(&committee.access_token)).await?;
        expect_problem(resp, 422, "validation_failed").await.map_err(|e| anyhow::anyhow!("{query}: {e}"))?;
    }
    // Offline records' device times.
    let resident = resident(&app, "offline-leap").await?;
    sign_up(&app, &resident, id).await?;
    let records =
        json!({"records": [{"user_id": resident.user_id, "action": "check_in", "at": "2026-12-31T23:59:60Z"}]});
    let resp =
        app.post(&format!("/api/v1/activities/{id}/attendance/batch"), Some(&leader.access_token), records).await?;
    // Refused on its own line (one unreadable record never costs the others).
    let items = expect_json(resp, 200).await?;
    assert_eq!(items[0]["error"]["code"], "validation_failed", "{items}");
    assert_eq!(items[0]["error"]["errors"][0]["field"], "records[0].at", "{items}");
    // Only staff upload offline records, whatever the times.
    let fine = json!({"records": [{"user_id": resident.user_id, "action": "check_in", "at": Utc::now().to_rfc3339()}]});
    let resp =
        app.post(&format!("/api/v1/activities/{id}/attendance/batch"), Some(&resident.access_token), fine).await?;
    expect_problem(resp, 403, "forbidden").await?;
    // An organization's founding date.
    let applicant = app.login("ancient-founder").await?;
    let body =
        json!({"name": "古老的组织", "category": "charity", "community_id": community, "founded_on": "0000-01-01"});
    let problem = expect_problem(
        app.post("/api/v1/organizations", Some(&applicant.access_token), body).await?,
        422,
        "validation_failed",
    )
    .await?;
    assert_eq!(problem["errors"][0]["field"], "founded_on");
    Ok(())
}

#[tokio::test]
async fn the_activity_horizon_is_configurable() -> TestResult {
    let app = linli_tests::spawn_app_with(|vars| {
        vars.insert("ACTIVITY_HORIZON".into(), "30d".into());
    })
    .await?;
    let (leader, org) = app.demo_leader().await?;
    let path = format!("/api/v1/organizations/{org}/activities");
    let at = |days: i64| {
        let start = Utc::now() + Duration::days(days);
        json!({"kind": "volunteer", "title": "远期活动", "location": "活动室", "capacity": 5,
               "starts_at": start.to_rfc3339(), "ends_at": (start + Duration::hours(2)).to_rfc3339()})
    };
    let problem =
        expect_problem(app.post(&path, Some(&leader.access_token), at(40)).await?, 422, "validation_failed").await?;
    assert_eq!(problem["errors"][0]["code"], "too_far_ahead");
    expect_json(app.post(&path, Some(&leader.access_token), at(20)).await?, 201).await?;
    Ok(())
}

// ---- 8. smaller hardening ------------------------------------------------------------------

#[tokio::test]
async fn metrics_are_served_on_their_own_listener_only() -> TestResult {
    let app = spawn_app().await?;
    expect_json(app.get("/healthz", None).await?, 200).await?;
    expect_problem(app.get("/metrics", None).await?, 404, "not_found").await?;
    let text = app.metrics().await?;
    assert!(text.contains("linli_http_requests_total"), "{text}");
    // Off: no listener at all.
    let off = linli_tests::spawn_app_with(|vars| {
        vars.insert("METRICS_BIND".into(), "off".into());
    })
    .await?;
    assert!(off.metrics_address.is_none());
    expect_problem(off.get("/metrics", None).await?, 404, "not_found").await?;
    Ok(())
}

#[tokio::test]
async fn html_pages_carry_a_content_security_policy_and_every_response_nosniff() -> TestResult {
    let app = spawn_app().await?;
    let who = app.login("printer").await?;
    let page = app.get("/api/v1/me/participation/record", Some(&who.access_token)).await?;
    assert_eq!(page.status().as_u16(), 200);
    let header = |r: &reqwest::Response, name: &str| {
        r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    };
    let csp = header(&page, "content-security-policy");
    assert!(csp.contains("default-src 'none'") && csp.contains("style-src 'unsafe-inline'"), "{csp}");
    assert!(!csp.contains("script-src"), "the record runs no script: {csp}");
    assert_eq!(header(&page, "x-content-type-options"), "nosniff");
    // Swagger UI loads its own scripts from this origin, and nothing inline.
    let docs = app.get("/docs/", None).await?;
    let csp = header(&docs, "content-security-policy");
    assert!(csp.contains("script-src 'self';") && csp.contains("default-src 'none'"), "{csp}");
    for resp in [
        app.get("/api/v1/me", Some(&who.access_token)).await?,
        app.get("/api/v1/nowhere", None).await?,
        app.get("/healthz", None).await?,
    ] {
        assert_eq!(header(&resp, "x-content-type-options"), "nosniff", "{}", resp.url());
    }
    Ok(())
}

#[tokio::test]
async fn an_application_has_no_standing_until_it_is_filed() -> TestResult {
    let app = spawn_app().await?;
    let applicant = app.login("standing-applicant").await?;
    let community = app.region(JINTAXIANG).await?;
    let body = json!({"name": "楼道读书会", "category": "culture_sports", "community_id": community});
    let created =
        expect_json(app.post("/api/v1/organizations", Some(&applicant.access_token), body).await?, 201).await?;
    assert_eq!(created["standing"], Value::Null, "{created}");
    let id = created["id"].as_i64().unwrap_or_default();
    let mine = expect_json(app.get("/api/v1/me/organizations", Some(&applicant.access_token)).await?, 200).await?;
    let listed = mine["items"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(mine.as_array().into_iter().flatten())
        .find(|o| o["id"] == id)
        .cloned();
    assert_eq!(listed.map(|o| o["standing"].clone()), Some(Value::Null), "{mine}");
    let committee = app.login_openid("demo-committee").await?;
    let street = app.login_openid("demo-street").await?;
    for who in [&committee, &street] {
        let resp = app
            .post(
                &format!("/api/v1/organizations/{id}/review"),
                Some(&who.access_token),
                json!({"decision": "approve"}),
            )
            .await?;
        expect_json(resp, 200).await?;
    }
    let filed = expect_json(app.get(&format!("/api/v1/organizations/{id}"), None).await?, 200).await?;
    assert_eq!(filed["standing"], "filed");
    Ok(())
}
