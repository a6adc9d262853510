//! Incubation (issue 16): a street's base admits a start-up group, a mentor records
//! sessions and milestones, the base graduates it, and its contact person files it with
//! the incubation record attached; the committee and street office see the record on
//! the application; each decision keeps who, when and why; each endpoint refuses the
//! roles it is not for.

use linli_tests::{TestResult, expect_json, expect_problem, spawn_app};
use serde_json::json;

const JINTA: &str = "620102002006"; // 金塔巷社区, the demo committee's
const ZHANGYE_STREET: &str = "620102002000";

#[tokio::test]
async fn an_incubated_group_graduates_into_a_filing_application() -> TestResult {
    let app = spawn_app().await?;
    let street_id = app.region(ZHANGYE_STREET).await?;
    let community = app.region(JINTA).await?;
    let street = app.login_openid("demo-street").await?;
    let committee = app.login_openid("demo-committee").await?;
    let starter = app.login("starter").await?;
    let mentor = app.login("mentor").await?;
    let stranger = app.login("stranger").await?;

    let figures = format!("/api/v1/regions/{street_id}/metrics");
    let before = expect_json(app.get(&figures, Some(&street.access_token)).await?, 200).await?["support"].clone();

    // The street office opens the base; a committee may not.
    let open = json!({"name": "张掖路街道社会组织孵化基地", "street_id": street_id, "description": "场地、辅导、培训"});
    expect_problem(
        app.post("/api/v1/incubation-bases", Some(&committee.access_token), open.clone()).await?,
        403,
        "forbidden",
    )
    .await?;
    let base = expect_json(app.post("/api/v1/incubation-bases", Some(&street.access_token), open).await?, 201).await?;
    let base_id = base["id"].as_i64().unwrap_or_default();

    // Admission: by the base's managers, for 1–24 months.
    let admit = json!({"name": "金塔巷书法兴趣小组", "category": "culture_sports", "community_id": community,
        "contact_user_id": starter.user_id, "description": "退休教师发起", "months": 6, "reason": "有稳定骨干和活动计划"});
    let path = format!("/api/v1/incubation-bases/{base_id}/incubatees");
    for who in [&committee, &starter] {
        expect_problem(app.post(&path, Some(&who.access_token), admit.clone()).await?, 403, "forbidden").await?;
    }
    let mut long = admit.clone();
    long["months"] = json!(25);
    expect_problem(app.post(&path, Some(&street.access_token), long).await?, 422, "validation_failed").await?;
    let group = expect_json(app.post(&path, Some(&street.access_token), admit).await?, 201).await?;
    let id = group["id"].as_i64().unwrap_or_default();
    assert_eq!(group["status"], "incubating", "{group}");
    assert_eq!(group["decisions"][0]["action"], "admit");
    assert_eq!(group["decisions"][0]["actor_id"], street.user_id);

    // A mentor is assigned and records a session; the group itself does not record.
    let mentors = format!("/api/v1/incubatees/{id}/mentors");
    expect_problem(
        app.post(&mentors, Some(&starter.access_token), json!({"user_id": mentor.user_id})).await?,
        403,
        "forbidden",
    )
    .await?;
    expect_json(
        app.post(&mentors, Some(&street.access_token), json!({"user_id": mentor.user_id, "note": "社工师"})).await?,
        200,
    )
    .await?;
    let today = linli_server::domain::clock::to_shanghai(app.ctx.now()).date_naive().to_string();
    let entries = format!("/api/v1/incubatees/{id}/entries");
    let session =
        json!({"kind": "session", "occurred_on": today, "title": "章程辅导", "notes": "讲解备案材料", "minutes": 90});
    expect_problem(app.post(&entries, Some(&starter.access_token), session.clone()).await?, 403, "forbidden").await?;
    expect_json(app.post(&entries, Some(&mentor.access_token), session).await?, 201).await?;
    let bad = json!({"kind": "milestone", "occurred_on": today, "title": "首次活动", "minutes": 30});
    expect_problem(app.post(&entries, Some(&mentor.access_token), bad).await?, 422, "validation_failed").await?;
    let milestone = json!({"kind": "milestone", "occurred_on": today, "title": "首次公开活动"});
    let record = expect_json(app.post(&entries, Some(&mentor.access_token), milestone).await?, 201).await?;
    assert_eq!(record["sessions"], 1);
    assert_eq!(record["session_minutes"], 90);
    assert_eq!(record["milestones"], 1);

    // Not graduated yet: it cannot file with the record.
    let application = |name: &str| {
        json!({"name": name, "category": "culture_sports", "community_id": community,
            "description": "书法交流", "incubatee_id": id})
    };
    expect_problem(
        app.post("/api/v1/organizations", Some(&starter.access_token), application("金塔巷书法社")).await?,
        409,
        "not_graduated",
    )
    .await?;

    // Extension needs months; the mentor does not decide; the street extends, then graduates.
    let decide = format!("/api/v1/incubatees/{id}/decision");
    expect_problem(
        app.post(&decide, Some(&street.access_token), json!({"decision": "extend", "reason": "再观察"})).await?,
        422,
        "validation_failed",
    )
    .await?;
    expect_problem(
        app.post(&decide, Some(&mentor.access_token), json!({"decision": "graduate", "reason": "成熟"})).await?,
        403,
        "forbidden",
    )
    .await?;
    let extended = expect_json(
        app.post(
            &decide,
            Some(&street.access_token),
            json!({"decision": "extend", "months": 3, "reason": "章程待完善"}),
        )
        .await?,
        200,
    )
    .await?;
    assert_ne!(extended["ends_on"], group["ends_on"]);
    let graduated = expect_json(
        app.post(&decide, Some(&street.access_token), json!({"decision": "graduate", "reason": "骨干稳定，活动规律"}))
            .await?,
        200,
    )
    .await?;
    assert_eq!(graduated["status"], "graduated");
    assert_eq!(graduated["decisions"].as_array().map(Vec::len), Some(3));
    assert_eq!(graduated["decisions"][2]["reason"], "骨干稳定，活动规律");
    expect_problem(
        app.post(&decide, Some(&street.access_token), json!({"decision": "exit", "reason": "x"})).await?,
        409,
        "invalid_transition",
    )
    .await?;

    // Only its contact person files it, once.
    expect_problem(
        app.post("/api/v1/organizations", Some(&stranger.access_token), application("金塔巷书法社")).await?,
        403,
        "forbidden",
    )
    .await?;
    let org = expect_json(
        app.post("/api/v1/organizations", Some(&starter.access_token), application("金塔巷书法社")).await?,
        201,
    )
    .await?;
    assert_eq!(org["status"], "pending_consent");
    assert_eq!(org["incubation"]["id"], id, "{org}");
    let org_id = org["id"].as_i64().unwrap_or_default();
    expect_problem(
        app.post("/api/v1/organizations", Some(&starter.access_token), application("金塔巷书法社二")).await?,
        409,
        "already_applied",
    )
    .await?;

    // The committee and the street office see the incubation record on the application.
    for who in [&committee, &street] {
        let seen =
            expect_json(app.get(&format!("/api/v1/organizations/{org_id}"), Some(&who.access_token)).await?, 200)
                .await?;
        assert_eq!(seen["incubation"]["base_name"], "张掖路街道社会组织孵化基地", "{seen}");
        assert_eq!(seen["incubation"]["sessions"], 1);
        assert_eq!(seen["incubation"]["decisions"][2]["action"], "graduate");
    }
    let record =
        expect_json(app.get(&format!("/api/v1/incubatees/{id}"), Some(&committee.access_token)).await?, 200).await?;
    assert_eq!(record["organization_id"], org_id);
    expect_problem(app.get(&format!("/api/v1/incubatees/{id}"), Some(&stranger.access_token)).await?, 403, "forbidden")
        .await?;
    expect_problem(
        app.get(&format!("/api/v1/incubation-bases/{base_id}"), Some(&stranger.access_token)).await?,
        403,
        "forbidden",
    )
    .await?;

    // The committee consents and the street files it, as any application.
    for who in [&committee, &street] {
        let path = format!("/api/v1/organizations/{org_id}/review");
        expect_json(app.post(&path, Some(&who.access_token), json!({"decision": "approve"})).await?, 200).await?;
    }

    // The street's figures and export count the graduation.
    let metrics =
        expect_json(app.get(&format!("/api/v1/regions/{street_id}/metrics"), Some(&street.access_token)).await?, 200)
            .await?;
    let s = &metrics["support"];
    let delta = |k: &str| s[k].as_i64().unwrap_or_default() - before[k].as_i64().unwrap_or_default();
    assert_eq!((delta("admitted"), delta("graduated"), delta("graduates_applied")), (1, 1, 1), "{s} {before}");
    assert_eq!(delta("incubating"), 0);
    let resp =
        app.get(&format!("/api/v1/regions/{street_id}/metrics/export?format=xlsx"), Some(&street.access_token)).await?;
    assert_eq!(resp.status(), 200);
    Ok(())
}
