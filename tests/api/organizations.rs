use std::collections::HashSet;

use linli_tests::{Session, TestApp, TestResult, expect_json, expect_problem, spawn_app};
use serde_json::{Value, json};

const YONGCHANG: &str = "620102002003"; // 永昌路社区, 张掖路街道
const JINTAXIANG: &str = "620102002006"; // 金塔巷社区, 张掖路街道 (the demo committee's)
const ZHANGYE_STREET: &str = "620102002000";
const GAOLAN_STREET: &str = "620102008000";

fn application(community: i64, name: &str) -> Value {
    json!({
        "name": name, "category": "mutual_aid", "community_id": community,
        "description": "楼栋互助，代买代办。", "service_targets": ["elderly", "disabled"],
        "contact_name": "赵师傅", "contact_phone": "13912345678",
        "latitude": 36.0590, "longitude": 103.8250, "founded_on": "2025-06-01"
    })
}

async fn apply(app: &TestApp, who: &Session, community: &str, name: &str) -> anyhow::Result<i64> {
    let community = app.region(community).await?;
    let body = expect_json(
        app.post("/api/v1/organizations", Some(&who.access_token), application(community, name)).await?,
        201,
    )
    .await?;
    body["id"].as_i64().ok_or_else(|| anyhow::anyhow!("no id in {body}"))
}

/// A committee member for 永昌路社区, appointed by the street office through the API.
async fn yongchang_committee(app: &TestApp) -> anyhow::Result<Session> {
    let street = app.login_openid("demo-street").await?;
    let member = app.login("yongchang-committee").await?;
    let scope = app.region(YONGCHANG).await?;
    let body = json!({"user_id": member.user_id, "role": "committee", "scope_id": scope});
    let resp = app.post("/api/v1/admin/role-grants", Some(&street.access_token), body).await?;
    anyhow::ensure!(resp.status().is_success(), "granting committee: {}", resp.status());
    Ok(member)
}

async fn review(
    app: &TestApp,
    who: &Session,
    id: i64,
    decision: &str,
    comment: Option<&str>,
) -> anyhow::Result<reqwest::Response> {
    app.post(
        &format!("/api/v1/organizations/{id}/review"),
        Some(&who.access_token),
        json!({"decision": decision, "comment": comment}),
    )
    .await
}

/// Applies in 永昌路社区 and takes the application through consent and filing.
async fn filed_organization(app: &TestApp, applicant: &Session, name: &str) -> anyhow::Result<i64> {
    let id = apply(app, applicant, YONGCHANG, name).await?;
    let committee = yongchang_committee(app).await?;
    let street = app.login_openid("demo-street").await?;
    expect_json(review(app, &committee, id, "approve", None).await?, 200).await?;
    expect_json(review(app, &street, id, "approve", Some("材料齐全，予以备案")).await?, 200).await?;
    Ok(id)
}

async fn browse_ids(app: &TestApp, query: &str) -> anyhow::Result<Vec<i64>> {
    let body = expect_json(app.get(&format!("/api/v1/organizations?limit=100&{query}"), None).await?, 200).await?;
    Ok(body["items"].as_array().into_iter().flatten().filter_map(|o| o["id"].as_i64()).collect())
}

#[tokio::test]
async fn the_filing_journey_runs_end_to_end_with_four_users() -> TestResult {
    let app = spawn_app().await?;
    let applicant = app.login("applicant").await?;
    let neighbour = app.login("neighbour").await?;
    let committee = yongchang_committee(&app).await?;
    let street = app.login_openid("demo-street").await?;
    let other_committee = app.login_openid("demo-committee").await?;
    let township = app.login_openid("demo-township").await?;

    let id = apply(&app, &applicant, YONGCHANG, "永昌路楼栋互助队").await?;
    let path = format!("/api/v1/organizations/{id}");
    let community = app.region(YONGCHANG).await?;
    let street_id = app.region(ZHANGYE_STREET).await?;

    // Before filing: not in browse, and not visible to the public or a neighbour.
    assert!(!browse_ids(&app, &format!("region_id={community}")).await?.contains(&id));
    expect_problem(app.get(&path, None).await?, 404, "not_found").await?;
    expect_problem(app.get(&path, Some(&neighbour.access_token)).await?, 404, "not_found").await?;
    let mine = expect_json(app.get(&path, Some(&applicant.access_token)).await?, 200).await?;
    assert_eq!(mine["status"], "pending_consent");
    assert_eq!(mine["history"][0]["action"], "submitted");

    // Out of order: the street cannot file before the committee consents.
    expect_problem(review(&app, &street, id, "approve", None).await?, 409, "invalid_transition").await?;
    // Outside scope: another community's committee, a township elsewhere, a resident.
    expect_problem(review(&app, &other_committee, id, "approve", None).await?, 403, "forbidden").await?;
    expect_problem(review(&app, &township, id, "approve", None).await?, 403, "forbidden").await?;
    expect_problem(review(&app, &neighbour, id, "approve", None).await?, 403, "forbidden").await?;

    let consented = expect_json(review(&app, &committee, id, "approve", Some("同意")).await?, 200).await?;
    assert_eq!(consented["status"], "pending_filing");
    expect_problem(review(&app, &committee, id, "approve", None).await?, 409, "invalid_transition").await?;
    expect_problem(review(&app, &township, id, "approve", None).await?, 403, "forbidden").await?;

    let filed = expect_json(review(&app, &street, id, "approve", Some("予以备案")).await?, 200).await?;
    assert_eq!(filed["status"], "filed");
    assert_eq!(filed["standing"], "filed");
    assert!(filed["filed_at"].is_string());
    let actions: Vec<&str> =
        filed["history"].as_array().into_iter().flatten().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["submitted", "consented", "filed"]);
    assert_eq!(filed["history"][1]["actor_id"], committee.user_id);
    assert_eq!(filed["history"][2]["actor_id"], street.user_id);
    assert_eq!(filed["history"][2]["comment"], "予以备案");
    expect_problem(review(&app, &street, id, "approve", None).await?, 409, "invalid_transition").await?;

    // The applicant now leads it; it appears in its community and its street, not elsewhere.
    let me = expect_json(app.get("/api/v1/me", Some(&applicant.access_token)).await?, 200).await?;
    assert!(me["roles"].as_array().into_iter().flatten().any(|r| r == &json!({"role": "org_leader", "scope_id": id})));
    assert!(browse_ids(&app, &format!("region_id={community}")).await?.contains(&id));
    assert!(browse_ids(&app, &format!("region_id={street_id}")).await?.contains(&id));
    let gaolan = app.region(GAOLAN_STREET).await?;
    assert!(!browse_ids(&app, &format!("region_id={gaolan}")).await?.contains(&id));
    let public = expect_json(app.get(&path, None).await?, 200).await?;
    assert_eq!(public["history"], Value::Null, "the public does not see the workflow");
    Ok(())
}

#[tokio::test]
async fn a_refusal_says_why_and_the_applicant_can_resubmit() -> TestResult {
    let app = spawn_app().await?;
    let applicant = app.login("hopeful").await?;
    let committee = yongchang_committee(&app).await?;
    let id = apply(&app, &applicant, YONGCHANG, "永昌路象棋队").await?;

    let resp = review(&app, &committee, id, "reject", None).await?;
    let problem = expect_problem(resp, 422, "validation_failed").await?;
    assert_eq!(problem["errors"][0]["field"], "comment");
    let refused =
        expect_json(review(&app, &committee, id, "reject", Some("请补充负责人联系方式和活动场地")).await?, 200).await?;
    assert_eq!(refused["status"], "rejected");

    let seen =
        expect_json(app.get(&format!("/api/v1/organizations/{id}"), Some(&applicant.access_token)).await?, 200).await?;
    let last = seen["history"].as_array().and_then(|h| h.last()).cloned().unwrap_or_default();
    assert_eq!(last["action"], "consent_refused");
    assert_eq!(last["comment"], "请补充负责人联系方式和活动场地");

    // Only the applicant edits and resubmits.
    let other = app.login("stranger").await?;
    let resp = app.post(&format!("/api/v1/organizations/{id}/resubmit"), Some(&other.access_token), json!({})).await?;
    expect_problem(resp, 404, "not_found").await?;
    let patch = json!({"contact_phone": "0931-8123456", "description": "每周六在社区活动室下棋。"});
    let edited = expect_json(
        app.patch(&format!("/api/v1/organizations/{id}"), Some(&applicant.access_token), patch).await?,
        200,
    )
    .await?;
    assert_eq!(edited["contact_phone"], "09318123456");
    let resubmitted = expect_json(
        app.post(
            &format!("/api/v1/organizations/{id}/resubmit"),
            Some(&applicant.access_token),
            json!({"comment": "已补充"}),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(resubmitted["status"], "pending_consent");
    let resp =
        app.post(&format!("/api/v1/organizations/{id}/resubmit"), Some(&applicant.access_token), json!({})).await?;
    expect_problem(resp, 409, "invalid_transition").await?;
    expect_json(review(&app, &committee, id, "approve", None).await?, 200).await?;
    Ok(())
}

#[tokio::test]
async fn bad_applications_are_refused_field_by_field_and_create_nothing() -> TestResult {
    let app = spawn_app().await?;
    let who = app.login("sloppy").await?;
    let community = app.region(YONGCHANG).await?;
    let street = app.region(ZHANGYE_STREET).await?;
    let with = |patch: Value| {
        let mut body = application(community, "合格的名称");
        for (k, v) in patch.as_object().into_iter().flatten() {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        (with(json!({"name": ""})), "name", "length"),
        (with(json!({"name": "名".repeat(51)})), "name", "length"),
        (with(json!({"category": "gambling"})), "category", "unknown_category"),
        (with(json!({"service_targets": ["elderly", "vip"]})), "service_targets[1]", "unknown_target"),
        (with(json!({"latitude": 123.0})), "latitude", "range"),
        (with(json!({"longitude": 181.0})), "longitude", "range"),
        (with(json!({"latitude": null})), "latitude", "required"),
        (with(json!({"contact_phone": "12345"})), "contact_phone", "phone"),
        (with(json!({"founded_on": "2025-13-01"})), "founded_on", "date"),
        (with(json!({"founded_on": "2999-01-01"})), "founded_on", "in_future"),
        (with(json!({"logo_url": "http://insecure.example/logo.png"})), "logo_url", "url"),
        (with(json!({"community_id": street})), "community_id", "not_a_community"),
        (with(json!({"community_id": 987_654})), "community_id", "not_found"),
    ];
    for (body, field, code) in cases {
        let resp = app.post("/api/v1/organizations", Some(&who.access_token), body.clone()).await?;
        let problem = expect_problem(resp, 422, "validation_failed").await?;
        let errors = problem["errors"].as_array().cloned().unwrap_or_default();
        assert!(errors.iter().any(|e| e["field"] == field && e["code"] == code), "{field}/{code}: {problem}");
    }
    // Several faults at once are all named.
    let resp = app
        .post(
            "/api/v1/organizations",
            Some(&who.access_token),
            with(json!({"name": "", "latitude": 123.0, "category": "x"})),
        )
        .await?;
    let problem = expect_problem(resp, 422, "validation_failed").await?;
    assert_eq!(problem["errors"].as_array().map(Vec::len), Some(3), "{problem}");
    // 50 Chinese characters are fine (150 bytes).
    apply(&app, &who, YONGCHANG, &"名".repeat(50)).await?;
    let mine = expect_json(app.get("/api/v1/me/organizations", Some(&who.access_token)).await?, 200).await?;
    assert_eq!(mine.as_array().map(Vec::len), Some(1), "only the good application exists");
    expect_problem(app.post("/api/v1/organizations", None, application(community, "x")).await?, 401, "unauthenticated")
        .await?;
    Ok(())
}

#[tokio::test]
async fn civil_affairs_registers_with_a_checked_credit_code() -> TestResult {
    let app = spawn_app().await?;
    let applicant = app.login("registrant").await?;
    let id = filed_organization(&app, &applicant, "永昌路社工服务社").await?;
    let civil = app.login_openid("demo-civil").await?;
    let street = app.login_openid("demo-street").await?;
    let path = format!("/api/v1/organizations/{id}/registration");

    let resp = app.post(&path, Some(&civil.access_token), json!({"credit_code": "91350100M000100Y44"})).await?;
    let problem = expect_problem(resp, 422, "validation_failed").await?;
    assert_eq!(problem["errors"][0]["field"], "credit_code");
    expect_problem(
        app.post(&path, Some(&street.access_token), json!({"credit_code": "91350100M000100Y43"})).await?,
        403,
        "forbidden",
    )
    .await?;
    let registered = expect_json(
        app.post(&path, Some(&civil.access_token), json!({"credit_code": "91350100m000100y43"})).await?,
        200,
    )
    .await?;
    assert_eq!(registered["status"], "registered");
    assert_eq!(registered["standing"], "registered");
    assert_eq!(registered["credit_code"], "91350100M000100Y43");
    expect_problem(
        app.post(&path, Some(&civil.access_token), json!({"credit_code": "91350100M000100Y43"})).await?,
        409,
        "invalid_transition",
    )
    .await?;

    // The same code cannot be registered twice.
    let second = filed_organization(&app, &applicant, "永昌路另一社工站").await?;
    let resp = app
        .post(
            &format!("/api/v1/organizations/{second}/registration"),
            Some(&civil.access_token),
            json!({"credit_code": "91350100M000100Y43"}),
        )
        .await?;
    expect_problem(resp, 409, "credit_code_taken").await?;
    let still = expect_json(app.get(&format!("/api/v1/organizations/{second}"), None).await?, 200).await?;
    assert_eq!(still["status"], "filed", "a refused registration changes nothing");
    Ok(())
}

#[tokio::test]
async fn the_street_suspends_reinstates_and_dissolves() -> TestResult {
    let app = spawn_app().await?;
    let applicant = app.login("leader").await?;
    let id = filed_organization(&app, &applicant, "永昌路合唱团").await?;
    let street = app.login_openid("demo-street").await?;
    let committee = app.login_openid("demo-committee").await?;
    let community = app.region(YONGCHANG).await?;
    let path = format!("/api/v1/organizations/{id}/status");

    expect_problem(
        app.post(&path, Some(&street.access_token), json!({"action": "suspend", "reason": ""})).await?,
        422,
        "validation_failed",
    )
    .await?;
    expect_problem(
        app.post(&path, Some(&street.access_token), json!({"action": "pause", "reason": "x"})).await?,
        422,
        "validation_failed",
    )
    .await?;
    expect_problem(
        app.post(&path, Some(&committee.access_token), json!({"action": "suspend", "reason": "x"})).await?,
        403,
        "forbidden",
    )
    .await?;
    expect_problem(
        app.post(&path, Some(&applicant.access_token), json!({"action": "suspend", "reason": "x"})).await?,
        403,
        "forbidden",
    )
    .await?;
    expect_problem(
        app.post(&path, Some(&street.access_token), json!({"action": "reinstate", "reason": "x"})).await?,
        409,
        "invalid_transition",
    )
    .await?;

    let suspended = expect_json(
        app.post(&path, Some(&street.access_token), json!({"action": "suspend", "reason": "连续半年未开展活动"}))
            .await?,
        200,
    )
    .await?;
    assert_eq!(suspended["status"], "suspended");
    assert!(!browse_ids(&app, &format!("region_id={community}")).await?.contains(&id));
    let back = expect_json(
        app.post(&path, Some(&street.access_token), json!({"action": "reinstate", "reason": "已恢复活动"})).await?,
        200,
    )
    .await?;
    assert_eq!(back["status"], "filed");
    let gone = expect_json(
        app.post(&path, Some(&street.access_token), json!({"action": "dissolve", "reason": "负责人申请注销"})).await?,
        200,
    )
    .await?;
    assert_eq!(gone["status"], "dissolved");
    expect_problem(
        app.post(&path, Some(&street.access_token), json!({"action": "suspend", "reason": "x"})).await?,
        409,
        "invalid_transition",
    )
    .await?;
    let resp = app
        .patch(&format!("/api/v1/organizations/{id}"), Some(&applicant.access_token), json!({"name": "新名字"}))
        .await?;
    expect_problem(resp, 409, "invalid_transition").await?;
    Ok(())
}

#[tokio::test]
async fn leaders_manage_staff_and_hand_over() -> TestResult {
    let app = spawn_app().await?;
    let leader = app.login("boss").await?;
    let helper = app.login("helper").await?;
    let successor = app.login("successor").await?;
    let outsider = app.login("outsider").await?;
    let id = filed_organization(&app, &leader, "永昌路义剪队").await?;
    let staff_path = format!("/api/v1/organizations/{id}/staff");

    expect_problem(app.get(&staff_path, Some(&outsider.access_token)).await?, 403, "forbidden").await?;
    expect_problem(
        app.post(&staff_path, Some(&outsider.access_token), json!({"user_id": outsider.user_id})).await?,
        403,
        "forbidden",
    )
    .await?;
    expect_problem(
        app.post(&staff_path, Some(&leader.access_token), json!({"user_id": 987_654})).await?,
        422,
        "validation_failed",
    )
    .await?;
    let staff =
        expect_json(app.post(&staff_path, Some(&leader.access_token), json!({"user_id": helper.user_id})).await?, 200)
            .await?;
    assert_eq!(staff.as_array().map(Vec::len), Some(2));
    // Staff see the roster but cannot add to it.
    expect_json(app.get(&staff_path, Some(&helper.access_token)).await?, 200).await?;
    expect_problem(
        app.post(&staff_path, Some(&helper.access_token), json!({"user_id": outsider.user_id})).await?,
        403,
        "forbidden",
    )
    .await?;
    // The committee over it sees it too.
    let committee = yongchang_committee(&app).await?;
    expect_json(app.get(&staff_path, Some(&committee.access_token)).await?, 200).await?;

    let staff =
        expect_json(app.delete(&format!("{staff_path}/{}", helper.user_id), Some(&leader.access_token)).await?, 200)
            .await?;
    assert_eq!(staff.as_array().map(Vec::len), Some(1));
    expect_problem(
        app.delete(&format!("{staff_path}/{}", helper.user_id), Some(&leader.access_token)).await?,
        404,
        "not_found",
    )
    .await?;

    let staff = expect_json(
        app.post(
            &format!("/api/v1/organizations/{id}/leader"),
            Some(&leader.access_token),
            json!({"user_id": successor.user_id}),
        )
        .await?,
        200,
    )
    .await?;
    let roles: HashSet<(i64, String)> = staff
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| (m["user_id"].as_i64().unwrap_or_default(), m["role"].as_str().unwrap_or_default().to_owned()))
        .collect();
    assert_eq!(roles, HashSet::from([(successor.user_id, "org_leader".into()), (leader.user_id, "org_staff".into())]));
    // The old leader is now staff: no longer allowed to add staff; the new leader is.
    expect_problem(
        app.post(&staff_path, Some(&leader.access_token), json!({"user_id": helper.user_id})).await?,
        403,
        "forbidden",
    )
    .await?;
    expect_json(app.post(&staff_path, Some(&successor.access_token), json!({"user_id": helper.user_id})).await?, 200)
        .await?;
    Ok(())
}

#[tokio::test]
async fn residents_follow_and_unfollow() -> TestResult {
    let app = spawn_app().await?;
    let fan = app.login("fan").await?;
    let ids = browse_ids(&app, "").await?;
    let (a, b) = (ids[0], ids[1]);
    for id in [a, b, a] {
        let resp = app.post(&format!("/api/v1/organizations/{id}/follow"), Some(&fan.access_token), json!({})).await?;
        assert_eq!(resp.status().as_u16(), 204);
    }
    let detail =
        expect_json(app.get(&format!("/api/v1/organizations/{a}"), Some(&fan.access_token)).await?, 200).await?;
    assert_eq!(detail["followers_count"], 1);
    assert_eq!(detail["viewer"]["following"], true);
    let follows = expect_json(app.get("/api/v1/me/follows", Some(&fan.access_token)).await?, 200).await?;
    let followed: HashSet<i64> =
        follows["items"].as_array().into_iter().flatten().filter_map(|o| o["id"].as_i64()).collect();
    assert_eq!(followed, HashSet::from([a, b]));
    for _ in 0..2 {
        let resp = app.delete(&format!("/api/v1/organizations/{a}/follow"), Some(&fan.access_token)).await?;
        assert_eq!(resp.status().as_u16(), 204);
    }
    let follows = expect_json(app.get("/api/v1/me/follows", Some(&fan.access_token)).await?, 200).await?;
    assert_eq!(follows["items"].as_array().map(Vec::len), Some(1));
    expect_problem(
        app.post("/api/v1/organizations/987654/follow", Some(&fan.access_token), json!({})).await?,
        404,
        "not_found",
    )
    .await?;
    expect_problem(
        app.post(&format!("/api/v1/organizations/{a}/follow"), None, json!({})).await?,
        401,
        "unauthenticated",
    )
    .await?;
    // A pending application cannot be followed.
    let pending = apply(&app, &fan, YONGCHANG, "还在审核的组织").await?;
    let other = app.login("other-fan").await?;
    expect_problem(
        app.post(&format!("/api/v1/organizations/{pending}/follow"), Some(&other.access_token), json!({})).await?,
        404,
        "not_found",
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn browse_filters_by_category_target_and_literal_name() -> TestResult {
    let app = spawn_app().await?;
    let all = expect_json(app.get("/api/v1/organizations?limit=100", None).await?, 200).await?;
    let items = all["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 20, "the demo's 20 recognised organizations; the pending application is hidden");
    for item in &items {
        assert!(item["status"] == "filed" || item["status"] == "registered");
        assert_eq!(item["distance_m"], Value::Null);
    }
    let rural = expect_json(app.get("/api/v1/organizations?category=rural_production", None).await?, 200).await?;
    let rural = rural["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(rural.len(), 3);
    assert!(rural.iter().all(|o| o["category"] == "rural_production"));
    let left_behind = browse_ids(&app, "service_target=left_behind").await?;
    assert_eq!(left_behind.len(), 1);

    let taiji = expect_json(app.get("/api/v1/organizations?q=%E5%A4%AA%E6%9E%81", None).await?, 200).await?; // 太极
    assert_eq!(taiji["items"][0]["name"], "金塔巷太极拳协会");
    assert_eq!(taiji["items"].as_array().map(Vec::len), Some(1));
    assert!(browse_ids(&app, "q=%25").await?.is_empty(), "% matches only a literal %");
    assert!(browse_ids(&app, "q=_").await?.is_empty(), "_ matches only a literal _");
    assert!(browse_ids(&app, "q=%27%3B%20drop%20table%20organizations%3B--").await?.is_empty());

    for (query, field) in [
        ("category=casino", "category"),
        ("service_target=vip", "service_target"),
        ("lat=123&lng=103", "latitude"),
        ("lat=36", "longitude"),
        ("limit=0", "limit"),
        ("cursor=bogus", "cursor"),
    ] {
        let resp = app.get(&format!("/api/v1/organizations?{query}"), None).await?;
        let problem = expect_problem(resp, 422, "validation_failed").await?;
        assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
    }
    expect_problem(app.get("/api/v1/organizations?region_id=987654", None).await?, 404, "not_found").await?;
    Ok(())
}

#[tokio::test]
async fn nearest_first_with_distances_and_stable_pages() -> TestResult {
    let app = spawn_app().await?;
    // Standing in 北关村 (榆中县): its two organizations come first.
    let near =
        expect_json(app.get("/api/v1/organizations?lat=35.8524&lng=104.1163&limit=100", None).await?, 200).await?;
    let items = near["items"].as_array().cloned().unwrap_or_default();
    let distances: Vec<f64> = items.iter().filter_map(|o| o["distance_m"].as_f64()).collect();
    assert_eq!(distances.len(), items.len());
    assert!(distances.windows(2).all(|w| w[0] <= w[1]), "{distances:?}");
    assert!(items[0]["name"].as_str().is_some_and(|n| n.starts_with("北关村")));
    assert!(distances[0] < 1000.0 && distances[distances.len() - 1] > 20_000.0);

    // Three at a time, nearest first: the same order as one page.
    let all: Vec<i64> = items.iter().filter_map(|o| o["id"].as_i64()).collect();
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/api/v1/organizations?lat=35.8524&lng=104.1163&limit=3".to_owned();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = expect_json(app.get(&path, None).await?, 200).await?;
        paged.extend(page["items"].as_array().into_iter().flatten().filter_map(|o| o["id"].as_i64()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(paged, all);
    Ok(())
}

#[tokio::test]
async fn pages_never_repeat_or_skip_while_organizations_are_added() -> TestResult {
    let app = spawn_app().await?;
    let before: HashSet<i64> = browse_ids(&app, "").await?.into_iter().collect();
    let applicant = app.login("prolific").await?;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut added = 0;
    loop {
        let mut path = "/api/v1/organizations?limit=4".to_owned();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = expect_json(app.get(&path, None).await?, 200).await?;
        seen.extend(page["items"].as_array().into_iter().flatten().filter_map(|o| o["id"].as_i64()));
        // Between pages, another organization is filed.
        filed_organization(&app, &applicant, &format!("新成立的组织{added}")).await?;
        added += 1;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let unique: HashSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no repeats: {seen:?}");
    assert!(before.is_subset(&unique), "no skips");
    assert!(added >= 5);
    Ok(())
}

#[tokio::test]
async fn contact_phones_are_masked_for_the_public() -> TestResult {
    let app = spawn_app().await?;
    let leader = app.login_openid("demo-leader").await?;
    let committee = app.login_openid("demo-committee").await?;
    let resident = app.login("curious").await?;
    let me = expect_json(app.get("/api/v1/me", Some(&leader.access_token)).await?, 200).await?;
    let id = me["roles"][1]["scope_id"].as_i64().ok_or_else(|| anyhow::anyhow!("demo leader has no org: {me}"))?;
    let path = format!("/api/v1/organizations/{id}");
    for (who, expected) in [
        (None, "138****2345"),
        (Some(&resident.access_token), "138****2345"),
        (Some(&leader.access_token), "13893112345"),
        (Some(&committee.access_token), "13893112345"),
    ] {
        let body = expect_json(app.get(&path, who.map(String::as_str)).await?, 200).await?;
        assert_eq!(body["contact_phone"], expected);
    }
    let detail = expect_json(app.get(&path, Some(&leader.access_token)).await?, 200).await?;
    assert_eq!(detail["viewer"]["leader"], true);
    assert!(detail["history"].is_array());
    Ok(())
}

#[tokio::test]
async fn reviewers_see_their_queue_and_residents_do_not() -> TestResult {
    let app = spawn_app().await?;
    let committee = app.login_openid("demo-committee").await?;
    let queue =
        expect_json(app.get("/api/v1/organizations/review-queue", Some(&committee.access_token)).await?, 200).await?;
    let names: Vec<&str> = queue["items"].as_array().into_iter().flatten().filter_map(|o| o["name"].as_str()).collect();
    assert_eq!(names, ["金塔巷读书会"]);

    // After consent it leaves the committee's queue and enters the street's, not another street's.
    let id = queue["items"][0]["id"].as_i64().unwrap_or_default();
    expect_json(review(&app, &committee, id, "approve", None).await?, 200).await?;
    let committee_queue =
        expect_json(app.get("/api/v1/organizations/review-queue", Some(&committee.access_token)).await?, 200).await?;
    assert_eq!(committee_queue["items"], json!([]));
    let street = app.login_openid("demo-street").await?;
    let street_queue =
        expect_json(app.get("/api/v1/organizations/review-queue", Some(&street.access_token)).await?, 200).await?;
    assert_eq!(street_queue["items"][0]["id"], id);
    let township = app.login_openid("demo-township").await?;
    let other =
        expect_json(app.get("/api/v1/organizations/review-queue", Some(&township.access_token)).await?, 200).await?;
    assert_eq!(other["items"], json!([]));

    let resident = app.login("nosy").await?;
    expect_problem(
        app.get("/api/v1/organizations/review-queue", Some(&resident.access_token)).await?,
        403,
        "forbidden",
    )
    .await?;
    let _ = JINTAXIANG;
    Ok(())
}
