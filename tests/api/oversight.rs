//! Oversight (issue 15): annual reports pre-filled from attendance, reviewed by the filing
//! office; reminders, overdue reports and the abnormal list; reproducible random checks;
//! certificates; the region's figures.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use linli_server::domain::clock::shanghai;
use linli_tests::{Session, TestApp, TestResult, expect_json, expect_problem, spawn_app};
use serde_json::{Value, json};

/// Moves the app's clock to `y-m-d 09:00` in Shanghai.
fn advance_to(app: &TestApp, y: i32, m: u32, d: u32) {
    let target: DateTime<Utc> =
        shanghai().with_ymd_and_hms(y, m, d, 9, 0, 0).single().map(|t| t.with_timezone(&Utc)).unwrap_or_default();
    let now = app.ctx.now();
    if target > now {
        app.clock.advance(target - now);
    }
}

fn this_year(app: &TestApp) -> i32 {
    app.ctx.now().with_timezone(&shanghai()).year()
}

/// Signs a demo account in again (tokens last 15 minutes; the tests move the clock on).
async fn relogin(app: &TestApp, openid: &str) -> anyhow::Result<Session> {
    app.demo_login(openid).await
}

fn report_path(org: i64, year: i32) -> String {
    format!("/api/v1/organizations/{org}/annual-reports/{year}")
}

/// A leader writes last year's report pre-filled from the activities Linli recorded; a
/// figure reported differently needs a reason; the street office returns it, the leader
/// resubmits, the street office accepts it with a result; each role may only do its part.
#[tokio::test]
async fn an_annual_report_is_prefilled_submitted_returned_and_accepted() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let year = this_year(&app);
    app.hold_activity(&leader, org, "report-resident").await?;
    // Before the year is over there is no report of it.
    let leader = relogin(&app, "demo-leader").await?;
    let early =
        expect_problem(app.get(&report_path(org, year), Some(&leader.access_token)).await?, 409, "report_not_open")
            .await?;
    assert!(early["detail"].as_str().is_some_and(|d| d.contains(&format!("{} 年 1 月 1 日", year + 1))), "{early}");
    expect_problem(app.get(&report_path(org, year - 1), Some(&leader.access_token)).await?, 404, "not_found").await?;
    let absurd = format!("/api/v1/organizations/{org}/annual-reports/2147483647");
    expect_problem(app.get(&absurd, Some(&leader.access_token)).await?, 422, "validation_failed").await?;
    expect_problem(
        app.post(&format!("{absurd}/submit"), Some(&leader.access_token), Value::Null).await?,
        422,
        "validation_failed",
    )
    .await?;

    advance_to(&app, year + 1, 1, 5);
    let leader = relogin(&app, "demo-leader").await?;
    let draft = expect_json(app.get(&report_path(org, year), Some(&leader.access_token)).await?, 200).await?;
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["due_on"], format!("{}-03-31", year + 1));
    let recorded = draft["recorded"].clone();
    assert!(recorded["activities_held"].as_i64().is_some_and(|n| n >= 1), "{draft}");
    assert!(recorded["participants"].as_i64().is_some_and(|n| n >= 1), "{draft}");
    assert!(recorded["volunteer_minutes"].as_i64().is_some_and(|n| n >= 30), "{draft}");
    assert!(recorded["staff"].as_i64().is_some_and(|n| n >= 1), "{draft}");
    assert_eq!(draft["content"]["activities_held"], recorded["activities_held"], "pre-filled");

    // More activities than recorded, no reason: refused, field by field.
    let mut content = draft["content"].clone();
    let held = recorded["activities_held"].as_i64().unwrap_or_default();
    content["activities_held"] = json!(held + 2);
    content["members"] = json!(25);
    content["income"] = json!([{"kind": "社区基金资助", "amount_fen": 300000, "note": null}]);
    content["expenditure"] = json!([{"kind": "活动物资", "amount_fen": 125050, "note": "饺子皮和肉馅"}]);
    let written =
        expect_json(app.put(&report_path(org, year), Some(&leader.access_token), content.clone()).await?, 200).await?;
    assert_eq!(written["income_fen"], 300000);
    assert_eq!(written["expenditure_fen"], 125050);
    let submit = format!("{}/submit", report_path(org, year));
    let refused =
        expect_problem(app.post(&submit, Some(&leader.access_token), Value::Null).await?, 422, "validation_failed")
            .await?;
    let fields: Vec<&str> = refused["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default();
    assert!(fields.contains(&"content.activities_held") && fields.contains(&"content.summary"), "{refused}");
    content["adjustments"] = json!([{"field": "activities_held", "recorded": held, "reported": held + 2, "reason": "两次线下活动未在平台登记"}]);
    content["summary"] = json!("全年开展楼道清扫和助老活动。");
    content["plan"] = json!("明年每月一次。");
    // The whole content is sent each time: a partial body is malformed, a negative count invalid.
    let partial = expect_problem(
        app.put(&report_path(org, year), Some(&leader.access_token), json!({"members": 3})).await?,
        422,
        "validation_failed",
    )
    .await?;
    assert!(partial["errors"][0]["message"].as_str().is_some_and(|m| m.contains("missing field")), "{partial}");
    let mut negative = content.clone();
    negative["members"] = json!(-1);
    let bad = expect_problem(
        app.put(&report_path(org, year), Some(&leader.access_token), negative).await?,
        422,
        "validation_failed",
    )
    .await?;
    assert_eq!(bad["errors"][0]["field"], "content.members");
    expect_json(app.put(&report_path(org, year), Some(&leader.access_token), content.clone()).await?, 200).await?;

    // Staff who are not the leader cannot submit; a resident cannot read.
    let resident = app.login("report-outsider").await?;
    expect_problem(app.get(&report_path(org, year), Some(&resident.access_token)).await?, 403, "forbidden").await?;
    expect_problem(app.post(&submit, Some(&resident.access_token), Value::Null).await?, 403, "forbidden").await?;
    let submitted = expect_json(app.post(&submit, Some(&leader.access_token), Value::Null).await?, 200).await?;
    assert_eq!(submitted["status"], "submitted");
    expect_problem(
        app.put(&report_path(org, year), Some(&leader.access_token), content.clone()).await?,
        409,
        "invalid_transition",
    )
    .await?;

    // The committee does not review; the street office (filing office of a filed group) does.
    let review = format!("{}/review", report_path(org, year));
    let committee = relogin(&app, "demo-committee").await?;
    let street = relogin(&app, "demo-street").await?;
    // The street office was told the report waits for it (and the committee was not).
    let waiting = |inbox: &Value| -> Vec<Value> {
        inbox["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|n| {
                n["kind"] == "work_waiting" && n["title"] == "待处理：年报待审核" && n["organization_id"] == org
            })
            .cloned()
            .collect()
    };
    let inbox =
        expect_json(app.get("/api/v1/me/notifications?limit=100", Some(&street.access_token)).await?, 200).await?;
    assert_eq!(waiting(&inbox).len(), 1, "{inbox}");
    assert_eq!(waiting(&inbox)[0]["read_at"], Value::Null);
    let inbox =
        expect_json(app.get("/api/v1/me/notifications?limit=100", Some(&committee.access_token)).await?, 200).await?;
    assert!(waiting(&inbox).is_empty(), "{inbox}");
    for who in [&committee, &leader, &resident] {
        let r = app.post(&review, Some(&who.access_token), json!({"decision": "accept", "result": "pass"})).await?;
        expect_problem(r, 403, "forbidden").await?;
    }
    let no_reason = app.post(&review, Some(&street.access_token), json!({"decision": "return"})).await?;
    expect_problem(no_reason, 422, "validation_failed").await?;
    let returned = expect_json(
        app.post(&review, Some(&street.access_token), json!({"decision": "return", "comment": "请补充收支明细"}))
            .await?,
        200,
    )
    .await?;
    assert_eq!(returned["status"], "returned");
    expect_json(app.put(&report_path(org, year), Some(&leader.access_token), content).await?, 200).await?;
    expect_json(app.post(&submit, Some(&leader.access_token), Value::Null).await?, 200).await?;
    let accepted = expect_json(
        app.post(
            &review,
            Some(&street.access_token),
            json!({"decision": "accept", "result": "basic_pass", "comment": "基本合格"}),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["result"], "basic_pass");
    let actions: Vec<&str> = accepted["history"]
        .as_array()
        .map(|h| h.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(actions, ["opened", "submitted", "returned", "submitted", "accepted:basic_pass"]);
    // Each review settled what it decided: not yet pushed, the notices were withdrawn.
    let inbox =
        expect_json(app.get("/api/v1/me/notifications?limit=100", Some(&street.access_token)).await?, 200).await?;
    assert!(waiting(&inbox).is_empty(), "{inbox}");
    let inbox =
        expect_json(app.get("/api/v1/me/notifications?limit=100", Some(&leader.access_token)).await?, 200).await?;
    assert!(
        inbox["items"].as_array().is_some_and(|i| i.iter().any(|n| n["kind"] == "annual_report_result")),
        "{inbox}"
    );

    // The street's list shows it; a resident's does not exist.
    let street_region = app.region("620102002000").await?;
    let list = expect_json(
        app.get(&format!("/api/v1/regions/{street_region}/annual-reports?year={year}"), Some(&street.access_token))
            .await?,
        200,
    )
    .await?;
    let row = list.as_array().and_then(|r| r.iter().find(|r| r["organization_id"] == org).cloned()).unwrap_or_default();
    assert_eq!(row["status"], "accepted", "{list}");
    let r = app.get(&format!("/api/v1/regions/{street_region}/annual-reports"), Some(&resident.access_token)).await?;
    expect_problem(r, 403, "forbidden").await?;
    let m = expect_json(
        app.get(&format!("/api/v1/regions/{street_region}/metrics"), Some(&street.access_token)).await?,
        200,
    )
    .await?;
    assert_eq!(m["oversight"]["report_year"], year);
    assert!(m["oversight"]["reports_accepted"].as_i64().is_some_and(|n| n >= 1), "{}", m["oversight"]);
    assert_eq!(m["oversight"]["report_results"]["basic_pass"], 1);
    Ok(())
}

/// Leaders are reminded before the due date, once per reminder; a report overdue past
/// the grace period lists the organization as abnormal; submitting it clears the listing
/// (recorded); the filing office lists and clears by hand.
#[tokio::test]
async fn overdue_reports_put_organizations_on_the_abnormal_list() -> TestResult {
    let app = spawn_app().await?;
    let (_, org) = app.demo_leader().await?;
    let year = this_year(&app);
    advance_to(&app, year + 1, 3, 2);
    let tick = linli_server::service::annual_reports::tick(&app.ctx).await?;
    assert!(tick.opened >= 1 && tick.reminded >= 1, "{tick:?}");
    linli_server::service::annual_reports::tick(&app.ctx).await?;
    let leader = relogin(&app, "demo-leader").await?;
    let inbox =
        expect_json(app.get("/api/v1/me/notifications?limit=100", Some(&leader.access_token)).await?, 200).await?;
    let due: Vec<_> = inbox["items"]
        .as_array()
        .map(|i| i.iter().filter(|n| n["kind"] == "annual_report_due").cloned().collect())
        .unwrap_or_default();
    assert_eq!(due.len(), 1, "one reminder however often the job runs: {due:?}");

    advance_to(&app, year + 1, 5, 2);
    let tick = linli_server::service::annual_reports::tick(&app.ctx).await?;
    assert!(tick.listed >= 1, "{tick:?}");
    let street = relogin(&app, "demo-street").await?;
    let street_region = app.region("620102002000").await?;
    let path = format!("/api/v1/regions/{street_region}/abnormal-organizations");
    let listed = expect_json(app.get(&path, Some(&street.access_token)).await?, 200).await?;
    let mine =
        listed.as_array().and_then(|l| l.iter().find(|l| l["organization_id"] == org).cloned()).unwrap_or_default();
    assert_eq!(mine["reason"], "overdue_report", "{listed}");
    assert_eq!(mine["listed_by"], Value::Null);
    let profile = expect_json(app.get(&format!("/api/v1/organizations/{org}"), None).await?, 200).await?;
    assert!(profile["abnormal_since"].is_string(), "marked on its public profile: {profile}");
    let again = linli_server::service::annual_reports::tick(&app.ctx).await?;
    assert_eq!(again.listed, 0, "listed once");

    // The leader writes and submits: the listing is cleared, with the reason recorded.
    let leader = relogin(&app, "demo-leader").await?;
    let draft = expect_json(app.get(&report_path(org, year), Some(&leader.access_token)).await?, 200).await?;
    assert_eq!(draft["overdue"], true);
    let mut content = draft["content"].clone();
    content["summary"] = json!("补报。");
    content["plan"] = json!("按时报送。");
    expect_json(app.put(&report_path(org, year), Some(&leader.access_token), content).await?, 200).await?;
    expect_json(
        app.post(&format!("{}/submit", report_path(org, year)), Some(&leader.access_token), Value::Null).await?,
        200,
    )
    .await?;
    let now_listed = expect_json(app.get(&path, Some(&street.access_token)).await?, 200).await?;
    assert!(now_listed.as_array().is_some_and(|l| l.iter().all(|l| l["organization_id"] != org)), "{now_listed}");
    let profile = expect_json(app.get(&format!("/api/v1/organizations/{org}"), None).await?, 200).await?;
    assert!(profile["abnormal_since"].is_null(), "{profile}");
    let all = expect_json(app.get(&format!("{path}?current=false"), Some(&street.access_token)).await?, 200).await?;
    let cleared =
        all.as_array().and_then(|l| l.iter().find(|l| l["organization_id"] == org).cloned()).unwrap_or_default();
    assert_eq!(cleared["clear_reason"], "年报已提交");

    // By hand: the filing office lists (not for an overdue report) and clears with a reason.
    let add = format!("/api/v1/organizations/{org}/abnormal");
    let committee = relogin(&app, "demo-committee").await?;
    let body = json!({"reason": "unreachable", "detail": "登记的联系电话停机，走访无人"});
    expect_problem(app.post(&add, Some(&committee.access_token), body.clone()).await?, 403, "forbidden").await?;
    let system_only =
        app.post(&add, Some(&street.access_token), json!({"reason": "overdue_report", "detail": "x"})).await?;
    expect_problem(system_only, 422, "validation_failed").await?;
    let listing = expect_json(app.post(&add, Some(&street.access_token), body.clone()).await?, 201).await?;
    expect_problem(app.post(&add, Some(&street.access_token), body).await?, 409, "already_listed").await?;
    let clear = format!("/api/v1/abnormal-listings/{}/clear", listing["id"]);
    expect_problem(
        app.post(&clear, Some(&leader.access_token), json!({"reason": "已联系上"})).await?,
        403,
        "forbidden",
    )
    .await?;
    let done =
        expect_json(app.post(&clear, Some(&street.access_token), json!({"reason": "已联系上"})).await?, 200).await?;
    assert_eq!(done["cleared_by"], street.user_id);
    expect_problem(
        app.post(&clear, Some(&street.access_token), json!({"reason": "again"})).await?,
        409,
        "invalid_transition",
    )
    .await?;
    Ok(())
}

/// A street office keeps an inspector pool and draws a sample reproducibly (the same seed
/// and population give the same sample, recomputed here from the published draw); the
/// inspectors record findings, the organization answers, a failed rectification or an
/// unreachable organization goes on the abnormal list; only the right people act.
#[tokio::test]
async fn random_checks_are_reproducible_and_followed_through() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let street = relogin(&app, "demo-street").await?;
    let committee = relogin(&app, "demo-committee").await?;
    let street_region = app.region("620102002000").await?;
    let a = app.login("inspector-a").await?;
    let b = app.login("inspector-b").await?;
    let pool = format!("/api/v1/regions/{street_region}/inspectors");
    // The demo keeps two inspectors in the street's pool: take them out first.
    let demo = expect_json(app.get(&pool, Some(&street.access_token)).await?, 200).await?;
    for person in demo.as_array().into_iter().flatten().filter_map(|p| p["user_id"].as_i64()) {
        let r = app.delete(&format!("{pool}/{person}"), Some(&street.access_token)).await?;
        assert_eq!(r.status(), 204);
    }
    expect_problem(
        app.post(&pool, Some(&committee.access_token), json!({"user_id": a.user_id})).await?,
        403,
        "forbidden",
    )
    .await?;
    expect_json(app.post(&pool, Some(&street.access_token), json!({"user_id": a.user_id})).await?, 200).await?;
    let draw_body = |n: i64, seed: &str| json!({"region_id": street_region, "title": "第四季度双随机抽查", "sample_size": n, "seed": seed});
    let small = app.post("/api/v1/checks/draws", Some(&street.access_token), draw_body(1, "s")).await?;
    expect_problem(small, 409, "pool_too_small").await?;
    let members =
        expect_json(app.post(&pool, Some(&street.access_token), json!({"user_id": b.user_id})).await?, 200).await?;
    assert_eq!(members.as_array().map(Vec::len), Some(2));
    for who in [&committee, &leader, &a] {
        let r = app.post("/api/v1/checks/draws", Some(&who.access_token), draw_body(1, "s")).await?;
        expect_problem(r, 403, "forbidden").await?;
    }
    let too_many = app.post("/api/v1/checks/draws", Some(&street.access_token), draw_body(10_000, "s")).await?;
    expect_problem(too_many, 422, "validation_failed").await?;

    let first = expect_json(
        app.post("/api/v1/checks/draws", Some(&street.access_token), draw_body(2, "2026-Q4-张掖路")).await?,
        201,
    )
    .await?;
    let population: Vec<i64> =
        first["population"].as_array().map(|p| p.iter().filter_map(Value::as_i64).collect()).unwrap_or_default();
    let drawn: Vec<i64> = first["checks"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c["organization_id"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(
        drawn,
        linli_server::domain::random_check::draw("2026-Q4-张掖路", &population, 2),
        "recomputed from the published draw"
    );
    let again = expect_json(
        app.post("/api/v1/checks/draws", Some(&street.access_token), draw_body(2, "2026-Q4-张掖路")).await?,
        201,
    )
    .await?;
    let redrawn: Vec<i64> = again["checks"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c["organization_id"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(drawn, redrawn, "same seed, same population: same sample");
    println!("draw 2026-Q4-张掖路 over {population:?}: {drawn:?} and again {redrawn:?}");
    let public = expect_json(app.get(&format!("/api/v1/checks/draws/{}", first["id"]), None).await?, 200).await?;
    assert_eq!(public["seed"], "2026-Q4-张掖路");
    assert!(public["checks"][0]["inspectors"].as_array().is_some_and(|i| i.len() == 2));

    // Draw everyone, so the demo leader's organization is among them.
    let all = expect_json(
        app.post("/api/v1/checks/draws", Some(&street.access_token), draw_body(population.len() as i64, "all")).await?,
        201,
    )
    .await?;
    let checks = all["checks"].as_array().cloned().unwrap_or_default();
    let ours = checks
        .iter()
        .find(|c| c["organization_id"] == org)
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("not drawn: {all}"))?;
    let item = ours["id"].as_i64().unwrap_or_default();
    let inspector = if ours["inspectors"][0]["user_id"] == a.user_id { &a } else { &b };
    let findings = format!("/api/v1/checks/items/{item}/findings");
    let body = json!({"result": "rectify", "findings": "活动台账不全"});
    for who in [&leader, &street] {
        expect_problem(app.post(&findings, Some(&who.access_token), body.clone()).await?, 403, "forbidden").await?;
    }
    let recorded = expect_json(app.post(&findings, Some(&inspector.access_token), body.clone()).await?, 200).await?;
    assert_eq!(recorded["status"], "recorded");
    expect_problem(app.post(&findings, Some(&inspector.access_token), body).await?, 409, "invalid_transition").await?;
    let published = expect_json(app.get(&format!("/api/v1/checks/draws/{}", all["id"]), None).await?, 200).await?;
    assert!(
        published["checks"].as_array().is_some_and(|c| c.iter().all(|c| c["findings"].is_null())),
        "findings stay private"
    );
    let seen =
        expect_json(app.get(&format!("/api/v1/checks/items/{item}"), Some(&leader.access_token)).await?, 200).await?;
    assert_eq!(seen["findings"], "活动台账不全");
    let outsider = app.login("check-outsider").await?;
    expect_problem(
        app.get(&format!("/api/v1/checks/items/{item}"), Some(&outsider.access_token)).await?,
        403,
        "forbidden",
    )
    .await?;
    let answer = format!("/api/v1/checks/items/{item}/rectification");
    expect_problem(
        app.post(&answer, Some(&inspector.access_token), json!({"note": "已补齐"})).await?,
        403,
        "forbidden",
    )
    .await?;
    expect_json(app.post(&answer, Some(&leader.access_token), json!({"note": "已补齐全年活动台账"})).await?, 200)
        .await?;
    let close = format!("/api/v1/checks/items/{item}/close");
    let closed = expect_json(
        app.post(&close, Some(&inspector.access_token), json!({"rectified": false, "comment": "台账仍缺签到表"}))
            .await?,
        200,
    )
    .await?;
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["rectified"], false);
    let listed = expect_json(
        app.get(&format!("/api/v1/regions/{street_region}/abnormal-organizations"), Some(&street.access_token)).await?,
        200,
    )
    .await?;
    assert!(
        listed
            .as_array()
            .is_some_and(|l| l.iter().any(|l| l["organization_id"] == org && l["reason"] == "failed_rectification")),
        "{listed}"
    );
    // Another drawn organization could not be reached.
    if let Some(other) = checks.iter().find(|c| c["organization_id"] != org) {
        let id = other["id"].as_i64().unwrap_or_default();
        let who = if other["inspectors"][0]["user_id"] == a.user_id { &a } else { &b };
        let r = expect_json(
            app.post(
                &format!("/api/v1/checks/items/{id}/findings"),
                Some(&who.access_token),
                json!({"result": "unreachable", "findings": "三次走访均无人"}),
            )
            .await?,
            200,
        )
        .await?;
        assert_eq!(r["status"], "closed");
    }
    let remove = app.delete(&format!("{pool}/{}", a.user_id), Some(&street.access_token)).await?;
    assert_eq!(remove.status(), 204);
    Ok(())
}

/// Staff record certificates, the street office verifies them, and the share shows in the
/// community's figures; others are refused.
#[tokio::test]
async fn certificates_are_verified_by_the_street_and_counted() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let street = relogin(&app, "demo-street").await?;
    let committee = relogin(&app, "demo-committee").await?;
    let resident = app.login("cert-resident").await?;
    let path = format!("/api/v1/organizations/{org}/certificates");
    let body = json!({"user_id": leader.user_id, "level": "assistant", "number": "SW-2021-0012", "year": 2021});
    expect_problem(app.post(&path, Some(&resident.access_token), body.clone()).await?, 403, "forbidden").await?;
    let not_staff = app
        .post(
            &path,
            Some(&leader.access_token),
            json!({"user_id": resident.user_id, "level": "senior", "number": "X", "year": 2020}),
        )
        .await?;
    expect_problem(not_staff, 422, "validation_failed").await?;
    let bad = expect_problem(
        app.post(
            &path,
            Some(&leader.access_token),
            json!({"user_id": leader.user_id, "level": "master", "number": "", "year": 1999}),
        )
        .await?,
        422,
        "validation_failed",
    )
    .await?;
    assert_eq!(bad["errors"].as_array().map(Vec::len), Some(3), "{bad}");
    let cert = expect_json(app.post(&path, Some(&leader.access_token), body).await?, 201).await?;
    assert_eq!(cert["status"], "pending");
    expect_problem(app.get(&path, Some(&resident.access_token)).await?, 403, "forbidden").await?;
    let review = format!("/api/v1/certificates/{}/review", cert["id"]);
    for who in [&committee, &leader] {
        expect_problem(
            app.post(&review, Some(&who.access_token), json!({"decision": "verify"})).await?,
            403,
            "forbidden",
        )
        .await?;
    }
    let verified =
        expect_json(app.post(&review, Some(&street.access_token), json!({"decision": "verify"})).await?, 200).await?;
    assert_eq!(verified["status"], "verified");
    expect_problem(
        app.post(&review, Some(&street.access_token), json!({"decision": "verify"})).await?,
        409,
        "invalid_transition",
    )
    .await?;
    let community = app.region("620102002006").await?;
    let m = expect_json(
        app.get(&format!("/api/v1/regions/{community}/metrics"), Some(&committee.access_token)).await?,
        200,
    )
    .await?;
    let share = m["communities"][0]["certificate_share"].as_f64().unwrap_or_default();
    assert!(share > 0.0 && share <= 1.0, "{}", m["communities"][0]);
    assert!(m["oversight"]["certified_staff"].as_i64().is_some_and(|n| n >= 1));
    Ok(())
}

/// The demo has an oversight past a newcomer can look at: last year's reports in each
/// state, an organization on the abnormal list for never reporting, a 4A rating and a
/// published draw waiting for the street's inspectors.
#[tokio::test]
async fn the_demo_has_an_oversight_past() -> TestResult {
    let app = spawn_app().await?;
    let street = relogin(&app, "demo-street").await?;
    let street_region = app.region("620102002000").await?;
    let year = this_year(&app) - 1;
    let rows = expect_json(
        app.get(&format!("/api/v1/regions/{street_region}/annual-reports?year={year}"), Some(&street.access_token))
            .await?,
        200,
    )
    .await?;
    let state = |name: &str| -> (Value, Value, Value) {
        let row = rows.as_array().into_iter().flatten().find(|r| r["organization_name"] == name).cloned();
        let row = row.unwrap_or_default();
        (row["status"].clone(), row["result"].clone(), row["overdue"].clone())
    };
    assert_eq!(state("金塔巷太极拳协会"), (json!("accepted"), json!("pass"), json!(false)), "{rows}");
    assert_eq!(state("金塔巷爱心妈妈工作室"), (json!("accepted"), json!("basic_pass"), json!(false)));
    assert_eq!(state("大众巷青少年课业辅导站").0, json!("submitted"));
    assert_eq!(state("大众巷秦腔戏曲社").0, json!("returned"));
    assert_eq!(state("金塔巷邻里互助会"), (json!("draft"), Value::Null, json!(true)));
    let listed = expect_json(
        app.get(&format!("/api/v1/regions/{street_region}/abnormal-organizations"), Some(&street.access_token)).await?,
        200,
    )
    .await?;
    assert!(listed.to_string().contains("金塔巷邻里互助会"), "{listed}");
    let draw = expect_json(app.get("/api/v1/checks/draws/1", None).await?, 200).await?;
    assert_eq!(draw["region_id"], street_region);
    assert_eq!(draw["checks"].as_array().map(Vec::len), Some(2), "{draw}");
    let tai_chi = expect_json(app.get("/api/v1/organizations?grade=4A", None).await?, 200).await?;
    assert_eq!(tai_chi["items"][0]["name"], "金塔巷太极拳协会", "{tai_chi}");
    Ok(())
}
