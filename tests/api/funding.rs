//! Funding (issue 16): a call from the street office, an application with deliverables and
//! a budget, reviewers who declare conflicts and score, the decision and its public notice,
//! the agreement, evidence from the attendance of tagged activities (with the supervisor's
//! exclusion), a milestone that releases a tranche, payments, an amendment, the final
//! evaluation, the report and the region's figures — each role refused what is not its.

use chrono::Duration;
use linli_server::domain::clock::to_shanghai;
use linli_tests::{Session, TestApp, TestResult, expect_json, expect_problem, spawn_app};
use serde_json::{Value, json};

fn call_body(app: &TestApp, region: i64) -> Value {
    let now = app.ctx.now();
    json!({
        "region_id": region, "title": "社区公益微创投", "fund": "community_fund", "budget_fen": 10_000_000,
        "categories": ["community_service"], "targets": ["elderly"], "eligibility": {"not_abnormal": true},
        "opens_at": (now - Duration::minutes(1)).to_rfc3339(), "closes_at": (now + Duration::days(10)).to_rfc3339(),
        "notice_days": 7,
        "rubric": [{"code": "need", "name": "需求明确", "max": 40}, {"code": "plan", "name": "方案可行", "max": 60}]
    })
}

fn application_body(app: &TestApp, org: i64, amount: i64, lines: &[i64]) -> Value {
    let due = to_shanghai(app.ctx.now() + Duration::days(200)).date_naive().to_string();
    json!({
        "organization_id": org, "title": "独居老人陪伴计划",
        "proposal": {"need": "社区独居老人缺少陪伴", "goals": "每周探访", "method": "志愿者结对", "target_groups": ["elderly"]},
        "deliverables": [
            {"kind": "activities", "activity_kind": "volunteer", "target": 2, "due_on": due},
            {"kind": "participants", "target": 2, "due_on": due},
            {"kind": "service_minutes", "target": 60, "due_on": due},
            {"kind": "target_reached", "target_group": "elderly", "target": 1, "due_on": due}
        ],
        "budget": lines.iter().enumerate().map(|(n, a)| json!({"kind": format!("科目{n}"), "amount_fen": a})).collect::<Vec<_>>(),
        "amount_fen": amount
    })
}

async fn post(app: &TestApp, who: &Session, path: &str, body: Value) -> anyhow::Result<reqwest::Response> {
    app.post(path, Some(&who.access_token), body).await
}

/// From call to final evaluation, over HTTP, each step by its role.
#[tokio::test]
async fn a_call_becomes_a_project_whose_progress_comes_from_attendance() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let street = app.demo_login("demo-street").await?;
    let committee = app.demo_login("demo-committee").await?;
    let resident = app.login("funding-resident").await?;
    let street_region = app.region("620102002000").await?;

    // The call: drafted and opened by the street office only.
    for who in [&committee, &leader, &resident] {
        expect_problem(
            post(&app, who, "/api/v1/funding-calls", call_body(&app, street_region)).await?,
            403,
            "forbidden",
        )
        .await?;
    }
    let mut bad = call_body(&app, street_region);
    bad["rubric"][0]["max"] = json!(0);
    bad["notice_days"] = json!(0);
    let problem =
        expect_problem(post(&app, &street, "/api/v1/funding-calls", bad).await?, 422, "validation_failed").await?;
    let fields: Vec<&str> =
        problem["errors"].as_array().into_iter().flatten().filter_map(|e| e["field"].as_str()).collect();
    assert!(fields.contains(&"rubric.0.max") && fields.contains(&"notice_days"), "{problem}");
    let call =
        expect_json(post(&app, &street, "/api/v1/funding-calls", call_body(&app, street_region)).await?, 201).await?;
    assert_eq!(call["status"], "draft");
    let call_id = call["id"].as_i64().unwrap_or_default();
    expect_problem(app.get(&format!("/api/v1/funding-calls/{call_id}"), None).await?, 404, "not_found").await?;
    expect_problem(
        post(&app, &leader, &format!("/api/v1/funding-calls/{call_id}/open"), Value::Null).await?,
        403,
        "forbidden",
    )
    .await?;
    let opened =
        expect_json(post(&app, &street, &format!("/api/v1/funding-calls/{call_id}/open"), Value::Null).await?, 200)
            .await?;
    assert_eq!(opened["status"], "open");
    let public =
        expect_json(app.get(&format!("/api/v1/funding-calls?region_id={street_region}"), None).await?, 200).await?;
    assert!(public.as_array().is_some_and(|l| l.iter().any(|c| c["id"] == call_id)), "{public}");
    assert_eq!(public[0]["reviewers"], Value::Null, "reviewers are not public");

    // Two reviewers, named by the street office.
    let r1 = app.login("funding-reviewer-1").await?;
    let r2 = app.login("funding-reviewer-2").await?;
    expect_problem(
        post(&app, &committee, &format!("/api/v1/funding-calls/{call_id}/reviewers"), json!({"user_id": r1.user_id}))
            .await?,
        403,
        "forbidden",
    )
    .await?;
    for r in [&r1, &r2] {
        expect_json(
            post(&app, &street, &format!("/api/v1/funding-calls/{call_id}/reviewers"), json!({"user_id": r.user_id}))
                .await?,
            200,
        )
        .await?;
    }

    // The application: its budget must add up; only its leader applies, once.
    let apps = format!("/api/v1/funding-calls/{call_id}/applications");
    let wrong = expect_problem(
        post(&app, &leader, &apps, application_body(&app, org, 50_000, &[30_000, 10_000])).await?,
        422,
        "validation_failed",
    )
    .await?;
    assert_eq!(wrong["errors"][0]["code"], "sum", "{wrong}");
    expect_problem(
        post(&app, &resident, &apps, application_body(&app, org, 50_000, &[30_000, 20_000])).await?,
        403,
        "forbidden",
    )
    .await?;
    let a = expect_json(post(&app, &leader, &apps, application_body(&app, org, 50_000, &[30_000, 20_000])).await?, 201)
        .await?;
    let aid = a["id"].as_i64().unwrap_or_default();
    expect_problem(
        post(&app, &leader, &apps, application_body(&app, org, 50_000, &[30_000, 20_000])).await?,
        409,
        "already_applied",
    )
    .await?;
    // Withdrawn, it may be written again while the call is open (the same application).
    expect_json(
        post(&app, &leader, &format!("/api/v1/funding-applications/{aid}/withdraw"), json!({"reason": "改写预算"}))
            .await?,
        200,
    )
    .await?;
    let again =
        expect_json(post(&app, &leader, &apps, application_body(&app, org, 50_000, &[30_000, 20_000])).await?, 201)
            .await?;
    assert_eq!((again["id"].as_i64(), again["status"].as_str()), (Some(aid), Some("draft")), "{again}");
    let submitted = expect_json(
        post(&app, &leader, &format!("/api/v1/funding-applications/{aid}/submit"), Value::Null).await?,
        200,
    )
    .await?;
    assert_eq!(submitted["status"], "submitted");

    // Review: declare first, score only after the call closes; a conflicted reviewer stays out.
    let scores = format!("/api/v1/funding-applications/{aid}/scores");
    let marks = json!({"scores": [{"indicator": "need", "score": 35}, {"indicator": "plan", "score": 50}]});
    expect_problem(app.put(&scores, Some(&r1.access_token), marks.clone()).await?, 409, "declare_first").await?;
    expect_json(
        post(&app, &r1, &format!("/api/v1/funding-applications/{aid}/conflict"), json!({"no_conflict": true})).await?,
        200,
    )
    .await?;
    expect_json(
        post(
            &app,
            &r2,
            &format!("/api/v1/funding-applications/{aid}/conflict"),
            json!({"no_conflict": false, "note": "亲属在该组织"}),
        )
        .await?,
        200,
    )
    .await?;
    expect_problem(app.put(&scores, Some(&r1.access_token), marks.clone()).await?, 409, "call_not_closed").await?;
    app.clock.advance(Duration::days(11));
    let (street, r1, r2) = (
        app.demo_login("demo-street").await?,
        app.login("funding-reviewer-1").await?,
        app.login("funding-reviewer-2").await?,
    );
    expect_problem(app.put(&scores, Some(&r2.access_token), marks.clone()).await?, 403, "forbidden").await?;
    let scored = expect_json(app.put(&scores, Some(&r1.access_token), marks).await?, 200).await?;
    assert_eq!(scored["score"], 85.0, "{scored}");

    // The decision: the funder only; less than asked needs a reason.
    let decide = format!("/api/v1/funding-applications/{aid}/decision");
    expect_problem(
        post(&app, &r1, &decide, json!({"grant": true, "granted_fen": 45_000, "reason": "x"})).await?,
        403,
        "forbidden",
    )
    .await?;
    expect_problem(
        post(&app, &street, &decide, json!({"grant": true, "granted_fen": 45_000})).await?,
        422,
        "validation_failed",
    )
    .await?;
    let granted = expect_json(
        post(&app, &street, &decide, json!({"grant": true, "granted_fen": 45_000, "reason": "交通费核减"})).await?,
        200,
    )
    .await?;
    assert_eq!((granted["status"].as_str(), granted["granted_fen"].as_i64()), (Some("granted"), Some(45_000)));
    let pid = granted["project_id"].as_i64().unwrap_or_default();
    let results = expect_json(app.get(&apps, None).await?, 200).await?;
    assert_eq!(results[0]["granted_fen"], 45_000, "the public results: {results}");

    // The agreement, after the notice; the supervisor neither approved it nor works there.
    let supervisor = app.login("funding-supervisor").await?;
    let today = to_shanghai(app.ctx.now()).date_naive();
    let agreement = |sup: i64, tranches: Value| {
        json!({"starts_on": today.to_string(), "ends_on": (today + Duration::days(300)).to_string(),
               "supervisor_id": sup, "tranches": tranches})
    };
    let tranches = json!([{"percent": 40, "milestone": "签约", "on_signing": true},
                          {"percent": 30, "milestone": "中期"}, {"percent": 30, "milestone": "结项"}]);
    let sign = format!("/api/v1/projects/{pid}/agreement");
    expect_problem(
        post(&app, &street, &sign, agreement(supervisor.user_id, tranches.clone())).await?,
        409,
        "on_notice",
    )
    .await?;
    app.clock.advance(Duration::days(8));
    let (street, leader) = (app.demo_login("demo-street").await?, app.demo_login("demo-leader").await?);
    let supervisor = app.login("funding-supervisor").await?;
    let today = to_shanghai(app.ctx.now()).date_naive();
    let agreement = |sup: i64, tranches: Value| {
        json!({"starts_on": today.to_string(), "ends_on": (today + Duration::days(300)).to_string(),
               "supervisor_id": sup, "tranches": tranches})
    };
    let bad = expect_problem(
        post(&app, &street, &sign, agreement(street.user_id, json!([{"percent": 40, "milestone": "签约"}]))).await?,
        422,
        "validation_failed",
    )
    .await?;
    let codes: Vec<&str> = bad["errors"].as_array().into_iter().flatten().filter_map(|e| e["code"].as_str()).collect();
    assert!(codes.contains(&"sum") && codes.contains(&"supervisor_is_approver"), "{bad}");
    expect_problem(
        post(&app, &leader, &sign, agreement(supervisor.user_id, tranches.clone())).await?,
        403,
        "forbidden",
    )
    .await?;
    let signed = expect_json(post(&app, &street, &sign, agreement(supervisor.user_id, tranches)).await?, 200).await?;
    assert_eq!(signed["status"], "active");
    let amounts: Vec<i64> =
        signed["tranches"].as_array().into_iter().flatten().filter_map(|t| t["amount_fen"].as_i64()).collect();
    assert_eq!(amounts, [18_000, 13_500, 13_500]);
    assert_eq!(signed["tranches"][0]["status"], "due");

    // Evidence: two held activities tagged by the leader; the supervisor may see their rosters
    // and excludes one.
    let one = app.hold_activity_with(&leader, org, "funding-elder", json!({"target_groups": ["elderly"]})).await?;
    let leader = app.demo_login("demo-leader").await?;
    let two = app.hold_activity_with(&leader, org, "funding-child", json!({"target_groups": ["children"]})).await?;
    let (leader, street) = (app.demo_login("demo-leader").await?, app.demo_login("demo-street").await?);
    let resident = app.login("funding-resident").await?;
    let supervisor = app.login("funding-supervisor").await?;
    expect_problem(
        app.get(&format!("/api/v1/activities/{one}/signups"), Some(&supervisor.access_token)).await?,
        403,
        "forbidden",
    )
    .await?;
    let tag = format!("/api/v1/projects/{pid}/activities");
    expect_problem(post(&app, &supervisor, &tag, json!({"activity_id": one})).await?, 403, "forbidden").await?;
    for id in [one, two] {
        expect_json(post(&app, &leader, &tag, json!({"activity_id": id})).await?, 200).await?;
    }
    expect_problem(post(&app, &leader, &tag, json!({"activity_id": one})).await?, 409, "already_tagged").await?;
    expect_json(app.get(&format!("/api/v1/activities/{one}/signups"), Some(&supervisor.access_token)).await?, 200)
        .await?;
    let progress =
        expect_json(app.get(&format!("/api/v1/projects/{pid}/progress"), Some(&supervisor.access_token)).await?, 200)
            .await?;
    assert_eq!(
        (progress["activities_held"].as_i64(), progress["participants"].as_i64()),
        (Some(2), Some(2)),
        "{progress}"
    );
    let minutes = progress["service_minutes"].as_i64().unwrap_or_default();
    let actual: Vec<i64> =
        progress["deliverables"].as_array().into_iter().flatten().filter_map(|d| d["actual"].as_i64()).collect();
    assert_eq!(actual, [2, 2, minutes, 1], "{progress}");
    assert_eq!(progress["deliverables"][0]["met"], true);
    let exclude = format!("/api/v1/projects/{pid}/activities/{two}/exclude");
    expect_problem(post(&app, &leader, &exclude, json!({"reason": "x"})).await?, 403, "forbidden").await?;
    expect_json(post(&app, &supervisor, &exclude, json!({"reason": "签到记录与照片不符"})).await?, 200).await?;
    let progress =
        expect_json(app.get(&format!("/api/v1/projects/{pid}/progress"), Some(&leader.access_token)).await?, 200)
            .await?;
    assert_eq!((progress["activities_held"].as_i64(), progress["activities_excluded"].as_i64()), (Some(1), Some(1)));
    assert_eq!(progress["deliverables"][0]["met"], false);

    // A milestone releases its tranche; the funder records payments.
    let ms = expect_json(
        post(&app, &leader, &format!("/api/v1/projects/{pid}/milestones"),
             json!({"tranche": 2, "title": "中期报告", "narrative": "完成两次探访", "attachments": ["https://example.org/a.pdf"]})).await?,
        200,
    )
    .await?;
    let milestone = &ms["milestones"][0];
    assert_eq!(milestone["figures"]["activities_held"], 1, "frozen figures: {milestone}");
    let mid = milestone["id"].as_i64().unwrap_or_default();
    expect_problem(
        post(&app, &street, &format!("/api/v1/project-milestones/{mid}/review"), json!({"accept": true})).await?,
        403,
        "forbidden",
    )
    .await?;
    let reviewed = expect_json(
        post(&app, &supervisor, &format!("/api/v1/project-milestones/{mid}/review"), json!({"accept": true})).await?,
        200,
    )
    .await?;
    assert_eq!(reviewed["tranches"][1]["status"], "due");
    let paid_at = json!({"paid_at": app.ctx.now().to_rfc3339()});
    expect_problem(
        post(&app, &leader, &format!("/api/v1/projects/{pid}/tranches/1/paid"), paid_at.clone()).await?,
        403,
        "forbidden",
    )
    .await?;
    for seq in [1, 2] {
        expect_json(
            post(&app, &street, &format!("/api/v1/projects/{pid}/tranches/{seq}/paid"), paid_at.clone()).await?,
            200,
        )
        .await?;
    }
    expect_problem(
        post(&app, &street, &format!("/api/v1/projects/{pid}/tranches/3/paid"), paid_at).await?,
        409,
        "tranche_not_due",
    )
    .await?;

    // An amendment keeps the original plan.
    let due = (today + Duration::days(250)).to_string();
    let amended = expect_json(
        post(&app, &leader, &format!("/api/v1/projects/{pid}/amendments"),
             json!({"changes": {"deliverables": [{"kind": "activities", "target": 1, "due_on": due}]}, "reason": "疫情影响，减少场次"})).await?,
        200,
    )
    .await?;
    let am = amended["amendments"][0]["id"].as_i64().unwrap_or_default();
    expect_problem(
        post(&app, &supervisor, &format!("/api/v1/project-amendments/{am}/decision"), json!({"accept": true})).await?,
        403,
        "forbidden",
    )
    .await?;
    let approved = expect_json(
        post(&app, &street, &format!("/api/v1/project-amendments/{am}/decision"), json!({"accept": true})).await?,
        200,
    )
    .await?;
    assert_eq!(approved["plan"].as_array().map(Vec::len), Some(1));
    assert_eq!(approved["original_plan"].as_array().map(Vec::len), Some(4));

    // The final evaluation closes it; the report and the street's figures show it.
    let eval = format!("/api/v1/projects/{pid}/evaluations");
    let body = |outcome: Value| {
        json!({"kind": "final", "comment": "按计划完成", "outcome": outcome,
               "scores": [{"indicator": "need", "score": 36}, {"indicator": "plan", "score": 55}]})
    };
    expect_problem(post(&app, &leader, &eval, body(json!("completed"))).await?, 403, "forbidden").await?;
    expect_problem(post(&app, &supervisor, &eval, body(Value::Null)).await?, 422, "validation_failed").await?;
    let done = expect_json(post(&app, &supervisor, &eval, body(json!("completed"))).await?, 200).await?;
    assert_eq!((done["status"].as_str(), done["paid_fen"].as_i64()), (Some("completed"), Some(31_500)), "{done}");
    assert_eq!(done["tranches"][2]["status"], "due", "completing releases the last tranche: {done}");
    let report = app.get(&format!("/api/v1/projects/{pid}/report"), Some(&supervisor.access_token)).await?;
    assert_eq!(report.status(), 200);
    assert!(report.bytes().await?.starts_with(b"PK"), "an xlsx workbook");
    expect_problem(app.get(&format!("/api/v1/projects/{pid}"), Some(&resident.access_token)).await?, 403, "forbidden")
        .await?;
    let metrics = expect_json(
        app.get(&format!("/api/v1/regions/{street_region}/metrics"), Some(&street.access_token)).await?,
        200,
    )
    .await?;
    let f = &metrics["funding"];
    assert_eq!(
        (f["granted_fen"].as_i64(), f["paid_fen"].as_i64(), f["projects"]["completed"].as_i64()),
        (Some(45_000), Some(31_500), Some(1)),
        "{f}"
    );
    assert_eq!((f["deliverables_planned"].as_i64(), f["deliverables_met"].as_i64()), (Some(1), Some(1)), "{f}");
    Ok(())
}

/// A call may be entrusted only to a hub organization, whose leader then runs it (opens it,
/// names reviewers) but does not decide.
#[tokio::test]
async fn a_call_is_entrusted_to_a_hub_which_runs_it_but_does_not_decide() -> TestResult {
    let app = spawn_app().await?;
    let (leader, hub_org) = app.demo_leader().await?;
    let street = app.demo_login("demo-street").await?;
    let street_region = app.region("620102002000").await?;
    let hubs = expect_json(app.get(&format!("/api/v1/hubs?region_id={street_region}"), None).await?, 200).await?;
    assert!(hubs.to_string().contains(&format!("\"organization_id\":{hub_org}")), "the demo hub: {hubs}");
    let other = hub_org + 1;
    let mut body = call_body(&app, street_region);
    body["entrusted_org_id"] = json!(other);
    let bad =
        expect_problem(post(&app, &street, "/api/v1/funding-calls", body).await?, 422, "validation_failed").await?;
    assert_eq!(bad["errors"][0]["code"], "not_a_hub", "{bad}");
    let mut body = call_body(&app, street_region);
    body["entrusted_org_id"] = json!(hub_org);
    let call = expect_json(post(&app, &street, "/api/v1/funding-calls", body).await?, 201).await?;
    let id = call["id"].as_i64().unwrap_or_default();
    let opened =
        expect_json(post(&app, &leader, &format!("/api/v1/funding-calls/{id}/open"), Value::Null).await?, 200).await?;
    assert_eq!(opened["status"], "open");
    // The hub that runs it does not apply to it.
    let own = application_body(&app, hub_org, 50_000, &[50_000]);
    expect_problem(
        post(&app, &leader, &format!("/api/v1/funding-calls/{id}/applications"), own).await?,
        409,
        "entrusted_applicant",
    )
    .await?;
    let reviewer = app.login("hub-run-reviewer").await?;
    expect_json(
        post(&app, &leader, &format!("/api/v1/funding-calls/{id}/reviewers"), json!({"user_id": reviewer.user_id}))
            .await?,
        200,
    )
    .await?;
    app.clock.advance(Duration::days(11));
    let leader = app.demo_login("demo-leader").await?;
    expect_problem(
        post(&app, &leader, &format!("/api/v1/funding-calls/{id}/decided"), Value::Null).await?,
        403,
        "forbidden",
    )
    .await?;
    let street = app.demo_login("demo-street").await?;
    let decided =
        expect_json(post(&app, &street, &format!("/api/v1/funding-calls/{id}/decided"), Value::Null).await?, 200)
            .await?;
    assert_eq!(decided["status"], "decided");
    Ok(())
}
