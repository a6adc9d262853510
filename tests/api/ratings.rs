//! Ratings (等级评估, issue 15): schemes as data, copied and published per region;
//! eligibility explained; a panel from the assessor pool scores; the result goes on public
//! notice (公示), is appealed once, and is awarded with its validity; the grade shows on
//! the organization and in browse, counts in the figures, and falls away when it expires;
//! residents' satisfaction scores feed the `satisfaction` leaf. Each role may only do its
//! part.

use chrono::{Datelike, Duration};
use linli_server::{
    domain::clock::to_shanghai,
    entity::organization,
    service::ratings::{RatingTick, tick},
};
use linli_tests::{Session, TestApp, TestResult, expect_json, expect_problem, spawn_app};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};

/// The organization counts as filed `years` years ago.
async fn filed_years_ago(app: &TestApp, org: i64, years: i64) -> anyhow::Result<()> {
    organization::Entity::update_many()
        .col_expr(organization::Column::FiledAt, Expr::value(app.ctx.now() - Duration::days(366 * years)))
        .filter(organization::Column::Id.eq(org))
        .exec(&app.ctx.db)
        .await?;
    Ok(())
}

async fn default_scheme(app: &TestApp) -> anyhow::Result<(i64, Vec<(String, i64)>)> {
    let list = expect_json(app.get("/api/v1/rating-schemes", None).await?, 200).await?;
    let scheme = list
        .as_array()
        .and_then(|l| l.iter().find(|s| s["family"] == "default"))
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no default scheme in {list}"))?;
    assert_eq!(scheme["total_points"], 1000, "{scheme}");
    assert_eq!(scheme["status"], "published");
    Ok((scheme["id"].as_i64().unwrap_or_default(), leaves(&scheme["content"]["indicators"])))
}

/// `(code, max)` of every leaf, depth first.
fn leaves(indicators: &Value) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for i in indicators.as_array().into_iter().flatten() {
        match i["children"].as_array() {
            Some(children) if !children.is_empty() => out.extend(leaves(&i["children"])),
            _ => out.push((i["code"].as_str().unwrap_or_default().to_owned(), i["max"].as_i64().unwrap_or_default())),
        }
    }
    out
}

/// Three assessors in the district's pool (civil affairs keeps it).
async fn assessors(app: &TestApp, civil: &Session, district: i64) -> anyhow::Result<Vec<Session>> {
    let mut out = Vec::new();
    for code in ["assessor-a", "assessor-b", "assessor-c"] {
        let s = app.login(code).await?;
        expect_json(
            app.post(
                &format!("/api/v1/regions/{district}/assessors"),
                Some(&civil.access_token),
                json!({"user_id": s.user_id}),
            )
            .await?,
            200,
        )
        .await?;
        out.push(s);
    }
    Ok(out)
}

fn scores(leaves: &[(String, i64)], f: impl Fn(i64) -> i64) -> Value {
    json!({"scores": leaves.iter().map(|(code, max)| json!({"indicator": code, "score": f(*max)})).collect::<Vec<_>>()})
}

/// Civil affairs rates an eligible organization end to end: eligibility explained (too
/// young first), a panel from the pool, scores, the public notice, one appeal dismissed,
/// the award with five years' validity; the grade on the profile, in browse and in the
/// district's figures, gone when it expires. Every other role is refused its step.
#[tokio::test]
async fn an_eligible_organization_is_scored_noticed_appealed_and_awarded() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let civil = app.demo_login("demo-civil").await?;
    let street = app.demo_login("demo-street").await?;
    let resident = app.login("rating-resident").await?;
    let district = app.region("620102000000").await?;
    let street_region = app.region("620102002000").await?;
    let (scheme, leaves) = default_scheme(&app).await?;
    assert_eq!(leaves.len(), 18);

    // Filed today: not eligible, and the refusal says why, rule by rule.
    let eligibility = format!("/api/v1/organizations/{org}/rating-eligibility?scheme_id={scheme}");
    let e = expect_json(app.get(&eligibility, Some(&leader.access_token)).await?, 200).await?;
    assert_eq!(e["eligible"], false, "{e}");
    let failed: Vec<&Value> = e["checks"].as_array().into_iter().flatten().filter(|c| c["passed"] == false).collect();
    assert_eq!(failed.len(), 1, "{e}");
    assert_eq!(failed[0]["rule"], "min_years");
    expect_problem(app.get(&eligibility, Some(&resident.access_token)).await?, 403, "forbidden").await?;

    expect_problem(
        app.post(&format!("/api/v1/regions/{district}/assessors"), Some(&street.access_token), json!({"user_id": 1}))
            .await?,
        403,
        "forbidden",
    )
    .await?;
    let panel = assessors(&app, &civil, district).await?;
    let panel_ids: Vec<i64> = panel.iter().take(2).map(|s| s.user_id).collect();
    let open = json!({"organization_id": org, "scheme_id": scheme, "assessor_ids": panel_ids});
    let refused = expect_problem(
        app.post("/api/v1/rating-assessments", Some(&civil.access_token), open.clone()).await?,
        409,
        "not_eligible",
    )
    .await?;
    assert_eq!(refused["errors"][0]["field"], "min_years", "{refused}");

    filed_years_ago(&app, org, 3).await?;
    let e = expect_json(app.get(&eligibility, Some(&leader.access_token)).await?, 200).await?;
    assert_eq!(e["eligible"], true, "{e}");
    for who in [&street, &leader, &resident] {
        expect_problem(
            app.post("/api/v1/rating-assessments", Some(&who.access_token), open.clone()).await?,
            403,
            "forbidden",
        )
        .await?;
    }
    let outsider = json!({"organization_id": org, "scheme_id": scheme, "assessor_ids": [resident.user_id]});
    let bad = expect_problem(
        app.post("/api/v1/rating-assessments", Some(&civil.access_token), outsider).await?,
        422,
        "validation_failed",
    )
    .await?;
    assert_eq!(bad["errors"][0]["code"], "not_in_pool", "{bad}");
    // No one sits on the panel of an organization they work for; no one twice.
    let pool = format!("/api/v1/regions/{district}/assessors");
    expect_json(app.post(&pool, Some(&civil.access_token), json!({"user_id": leader.user_id})).await?, 200).await?;
    for (ids, code) in [
        (json!([panel[0].user_id, leader.user_id]), "assessor_conflict"),
        (json!([panel[0].user_id, panel[0].user_id]), "duplicate"),
    ] {
        let body = json!({"organization_id": org, "scheme_id": scheme, "assessor_ids": ids});
        let bad = app.post("/api/v1/rating-assessments", Some(&civil.access_token), body).await?;
        let bad = expect_problem(bad, 422, "validation_failed").await?;
        assert_eq!(bad["errors"][0]["code"], code, "{bad}");
    }
    let a = expect_json(app.post("/api/v1/rating-assessments", Some(&civil.access_token), open.clone()).await?, 201)
        .await?;
    assert_eq!(a["status"], "scoring");
    let id = a["id"].as_i64().unwrap_or_default();
    expect_problem(
        app.post("/api/v1/rating-assessments", Some(&civil.access_token), open).await?,
        409,
        "assessment_open",
    )
    .await?;

    // The panel's own list; the third assessor is not on it and may not score.
    let mine = expect_json(app.get("/api/v1/me/rating-assessments", Some(&panel[0].access_token)).await?, 200).await?;
    assert_eq!(mine[0]["id"], id, "{mine}");
    let mine = expect_json(app.get("/api/v1/me/rating-assessments", Some(&panel[2].access_token)).await?, 200).await?;
    assert_eq!(mine, json!([]));
    let score_path = format!("/api/v1/rating-assessments/{id}/scores");
    expect_problem(app.put(&score_path, Some(&panel[2].access_token), scores(&leaves, |m| m)).await?, 403, "forbidden")
        .await?;
    expect_problem(app.put(&score_path, Some(&leader.access_token), scores(&leaves, |m| m)).await?, 403, "forbidden")
        .await?;
    let wrong = expect_problem(
        app.put(
            &score_path,
            Some(&panel[0].access_token),
            json!({"scores": [{"indicator": "basic", "score": 10}, {"indicator": "basic.standing", "score": 31}]}),
        )
        .await?,
        422,
        "validation_failed",
    )
    .await?;
    assert_eq!(wrong["errors"][0]["code"], "unknown_indicator", "{wrong}");
    assert_eq!(wrong["errors"][1]["field"], "scores.1.score", "{wrong}");

    // A first assessor scores three leaves: every leaf still waits for one of the panel.
    expect_json(app.put(&score_path, Some(&panel[0].access_token), scores(&leaves[..3], |m| m)).await?, 200).await?;
    let finalize = format!("/api/v1/rating-assessments/{id}/finalize");
    let missing =
        expect_problem(app.post(&finalize, Some(&civil.access_token), Value::Null).await?, 409, "scores_missing")
            .await?;
    assert_eq!(missing["errors"].as_array().map(Vec::len), Some(18), "{missing}");
    // While the panel scores, the organization sees neither scores nor panel, and the
    // second assessor does not see the first one's scores.
    let seen =
        expect_json(app.get(&format!("/api/v1/rating-assessments/{id}"), Some(&leader.access_token)).await?, 200)
            .await?;
    assert_eq!((&seen["scores"], &seen["panel"]), (&json!([]), &json!([])), "{seen}");
    let seen =
        expect_json(app.get(&format!("/api/v1/rating-assessments/{id}"), Some(&panel[1].access_token)).await?, 200)
            .await?;
    assert_eq!(seen["scores"], json!([]), "{seen}");
    let dup = json!({"scores": [{"indicator": "basic.venue", "score": 10}, {"indicator": "basic.venue", "score": 20}]});
    let bad = expect_problem(app.put(&score_path, Some(&panel[1].access_token), dup).await?, 422, "validation_failed")
        .await?;
    assert_eq!(bad["errors"][0]["code"], "duplicate", "{bad}");

    // Full marks from one, 85 % (rounded down) from the other: a mean of about 92.5 %.
    let low = |m: i64| m * 85 / 100;
    expect_json(app.put(&score_path, Some(&panel[0].access_token), scores(&leaves, |m| m)).await?, 200).await?;
    expect_json(app.put(&score_path, Some(&panel[1].access_token), scores(&leaves, low)).await?, 200).await?;
    let expected: i64 = leaves.iter().map(|(_, m)| (m + low(*m)) * 5).sum();
    assert!((9000..9500).contains(&expected), "a 4A total: {expected}");
    expect_problem(app.post(&finalize, Some(&panel[0].access_token), Value::Null).await?, 403, "forbidden").await?;
    expect_problem(app.post(&finalize, Some(&street.access_token), Value::Null).await?, 403, "forbidden").await?;
    let f = expect_json(app.post(&finalize, Some(&civil.access_token), Value::Null).await?, 200).await?;
    assert_eq!(f["status"], "notice", "{f}");
    assert_eq!(f["total_tenths"], expected, "{f}");
    assert_eq!(f["grade"], "4A", "{f}");
    assert_eq!(f["breakdown"].as_array().map(Vec::len), Some(18));
    expect_problem(
        app.put(&score_path, Some(&panel[0].access_token), scores(&leaves, |m| m)).await?,
        409,
        "not_scoring",
    )
    .await?;

    // On public notice: anyone sees it; the organization sees the scores, not who gave them.
    let notices =
        expect_json(app.get(&format!("/api/v1/rating-notices?region_id={street_region}"), None).await?, 200).await?;
    assert_eq!(notices[0]["id"], id, "{notices}");
    assert_eq!(notices[0]["grade"], "4A");
    let seen =
        expect_json(app.get(&format!("/api/v1/rating-assessments/{id}"), Some(&leader.access_token)).await?, 200)
            .await?;
    assert_eq!(seen["scores"].as_array().map(Vec::len), Some(36), "{seen}");
    assert_eq!((&seen["scores"][0]["assessor_id"], &seen["scores"][0]["at"]), (&Value::Null, &Value::Null));
    assert_eq!(seen["panel"].as_array().map(Vec::len), Some(2), "the panel is named once scoring is over");
    assert!(!seen["history"].to_string().contains("\"scored\""), "nothing ties a score to an assessor: {seen}");
    expect_problem(
        app.get(&format!("/api/v1/rating-assessments/{id}"), Some(&resident.access_token)).await?,
        403,
        "forbidden",
    )
    .await?;

    // One appeal, by the leader; civil affairs dismisses it.
    let appeal = format!("/api/v1/rating-assessments/{id}/appeal");
    expect_problem(app.post(&appeal, Some(&resident.access_token), json!({"reason": "不服"})).await?, 403, "forbidden")
        .await?;
    let ap = expect_json(
        app.post(&appeal, Some(&leader.access_token), json!({"reason": "志愿服务时长统计有遗漏"})).await?,
        200,
    )
    .await?;
    assert_eq!(ap["status"], "appealed");
    expect_problem(
        app.post(&appeal, Some(&leader.access_token), json!({"reason": "再申诉"})).await?,
        409,
        "appeal_used",
    )
    .await?;
    let decide = format!("/api/v1/rating-assessments/{id}/appeal-decision");
    let body = json!({"decision": "dismiss", "answer": "经复核，时长已按系统记录计入"});
    expect_problem(app.post(&decide, Some(&street.access_token), body.clone()).await?, 403, "forbidden").await?;
    let d = expect_json(app.post(&decide, Some(&civil.access_token), body.clone()).await?, 200).await?;
    assert_eq!(d["status"], "notice");
    expect_problem(app.post(&decide, Some(&civil.access_token), body).await?, 409, "not_appealed").await?;

    // Nothing is awarded before the notice ends; after it, once.
    assert_eq!(tick(&app.ctx).await.map_err(|e| anyhow::anyhow!("{e}"))?, RatingTick::default());
    app.clock.advance(Duration::days(7) + Duration::minutes(1));
    let t = tick(&app.ctx).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(t, RatingTick { awarded: 1, not_graded: 0, withdrawn: 0 });
    assert_eq!(tick(&app.ctx).await.map_err(|e| anyhow::anyhow!("{e}"))?, RatingTick::default());
    let civil = app.demo_login("demo-civil").await?;
    let done = expect_json(app.get(&format!("/api/v1/rating-assessments/{id}"), Some(&civil.access_token)).await?, 200)
        .await?;
    assert_eq!(done["status"], "awarded", "{done}");
    let today = to_shanghai(app.ctx.now()).date_naive();
    let until = today.with_year(today.year() + 5).and_then(|d| d.pred_opt()).unwrap_or(today);
    assert_eq!(done["valid_until"], until.to_string());
    let actions: Vec<&str> =
        done["history"].as_array().into_iter().flatten().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["opened", "scored", "scored", "scored", "finalized", "appealed", "appeal_dismiss", "awarded"]);

    // The grade on the profile, in browse (and its filter), in the district's figures.
    let profile = expect_json(app.get(&format!("/api/v1/organizations/{org}"), None).await?, 200).await?;
    assert_eq!(profile["grade"], "4A", "{profile}");
    assert_eq!(profile["grade_valid_until"], until.to_string());
    // (The demo has one 4A organization of its own.)
    let graded = expect_json(app.get("/api/v1/organizations?grade=4A", None).await?, 200).await?;
    let items = graded["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2, "{graded}");
    assert!(items.iter().any(|i| i["id"] == org && i["grade"] == "4A"), "{graded}");
    let none = expect_json(app.get("/api/v1/organizations?grade=5A", None).await?, 200).await?;
    assert_eq!(none["items"], json!([]));
    expect_problem(app.get("/api/v1/organizations?grade=6A", None).await?, 422, "validation_failed").await?;
    let metrics =
        expect_json(app.get(&format!("/api/v1/regions/{district}/metrics"), Some(&civil.access_token)).await?, 200)
            .await?;
    assert_eq!(metrics["oversight"]["grades"]["4A"], 2, "{}", metrics["oversight"]);
    assert_eq!(metrics["oversight"]["assessments_open"], 0);

    // Five years on, the grade has fallen away by itself.
    app.clock.advance(Duration::days(5 * 366));
    let profile = expect_json(app.get(&format!("/api/v1/organizations/{org}"), None).await?, 200).await?;
    assert_eq!(profile["grade"], Value::Null, "{profile}");
    Ok(())
}

/// Civil affairs copies the default scheme into its district, edits the draft (each
/// problem named by its path), publishes it, and can no longer change it; other roles may
/// neither copy nor see the draft. Residents' satisfaction then scores the `satisfaction`
/// leaf of an assessment under it, only from residents who attended.
#[tokio::test]
async fn a_regional_scheme_is_copied_edited_published_and_fed_by_satisfaction() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let civil = app.demo_login("demo-civil").await?;
    let street = app.demo_login("demo-street").await?;
    let district = app.region("620102000000").await?;
    let (default_id, leaves) = default_scheme(&app).await?;

    let copy = format!("/api/v1/rating-schemes/{default_id}/copy");
    let body = json!({"region_id": district, "name": "城关区社区社会组织等级评估标准"});
    expect_problem(app.post(&copy, Some(&street.access_token), body.clone()).await?, 403, "forbidden").await?;
    let draft = expect_json(app.post(&copy, Some(&civil.access_token), body.clone()).await?, 201).await?;
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["version"], 1);
    assert_eq!(draft["family"], format!("region:{district}"));
    assert_eq!(draft["based_on"], default_id);
    let id = draft["id"].as_i64().unwrap_or_default();
    expect_problem(app.get(&format!("/api/v1/rating-schemes/{id}"), None).await?, 404, "not_found").await?;
    expect_problem(
        app.get(&format!("/api/v1/rating-schemes/{id}"), Some(&street.access_token)).await?,
        404,
        "not_found",
    )
    .await?;

    let path = format!("/api/v1/rating-schemes/{id}");
    let mut content = draft["content"].clone();
    content["indicators"][0]["max"] = json!(99);
    content["bands"][1]["min_points"] = json!(990);
    let bad = expect_problem(
        app.put(&path, Some(&civil.access_token), json!({"name": "改", "content": content})).await?,
        422,
        "validation_failed",
    )
    .await?;
    let fields: Vec<String> = bad["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| format!("{}:{}", e["field"].as_str().unwrap_or(""), e["code"].as_str().unwrap_or("")))
        .collect();
    assert!(fields.contains(&"content.indicators.0.max:sum".to_owned()), "{fields:?}");
    assert!(fields.contains(&"content.bands.1:order".to_owned()), "{fields:?}");

    let mut content = draft["content"].clone();
    content["min_satisfaction_responses"] = json!(1);
    content["bands"][1]["min_points"] = json!(880);
    expect_problem(
        app.put(&path, Some(&street.access_token), json!({"name": "改", "content": content.clone()})).await?,
        404,
        "not_found",
    )
    .await?;
    let edited = expect_json(
        app.put(&path, Some(&civil.access_token), json!({"name": "城关区标准（2027）", "content": content.clone()}))
            .await?,
        200,
    )
    .await?;
    assert_eq!(edited["content"]["bands"][1]["min_points"], 880);
    let published =
        expect_json(app.post(&format!("{path}/publish"), Some(&civil.access_token), Value::Null).await?, 200).await?;
    assert_eq!(published["status"], "published");
    expect_problem(
        app.put(&path, Some(&civil.access_token), json!({"name": "再改", "content": content})).await?,
        409,
        "scheme_published",
    )
    .await?;
    let again = expect_json(app.post(&copy, Some(&civil.access_token), body).await?, 201).await?;
    assert_eq!(again["version"], 2);
    let community = app.region("620102002006").await?;
    let here = expect_json(app.get(&format!("/api/v1/rating-schemes?region_id={community}"), None).await?, 200).await?;
    let ids: Vec<i64> = here.as_array().into_iter().flatten().filter_map(|s| s["id"].as_i64()).collect();
    assert!(ids.contains(&id) && ids.contains(&default_id), "{ids:?}");
    assert!(!ids.contains(&again["id"].as_i64().unwrap_or_default()), "drafts are not public: {ids:?}");

    // Satisfaction: only from residents who attended this year; 1–5; a second replaces.
    let satisfaction = format!("/api/v1/organizations/{org}/satisfaction");
    let stranger = app.login("never-attended").await?;
    expect_problem(
        app.put(&satisfaction, Some(&stranger.access_token), json!({"score": 5})).await?,
        409,
        "not_attended",
    )
    .await?;
    expect_problem(
        app.put(&satisfaction, Some(&leader.access_token), json!({"score": 5})).await?,
        409,
        "own_organization",
    )
    .await?;
    app.hold_activity(&leader, org, "satisfied-resident").await?;
    let attendee = app.login("satisfied-resident").await?;
    expect_problem(
        app.put(&satisfaction, Some(&attendee.access_token), json!({"score": 6})).await?,
        422,
        "validation_failed",
    )
    .await?;
    expect_json(app.put(&satisfaction, Some(&attendee.access_token), json!({"score": 3})).await?, 200).await?;
    let s = expect_json(app.put(&satisfaction, Some(&attendee.access_token), json!({"score": 4})).await?, 200).await?;
    assert_eq!((s["responses"].as_i64(), s["mean"].as_f64(), s["mine"].as_i64()), (Some(1), Some(4.0), Some(4)), "{s}");
    let public = expect_json(app.get(&satisfaction, None).await?, 200).await?;
    assert_eq!(public["counts"], json!([0, 0, 0, 1, 0]), "{public}");

    // An assessment under the district's scheme: the panel scores every leaf but
    // satisfaction, which the residents' score fills (4 of 5 → 80 of 100 points).
    filed_years_ago(&app, org, 3).await?;
    let civil = app.demo_login("demo-civil").await?;
    let street = app.demo_login("demo-street").await?;
    let panel = assessors(&app, &civil, district).await?;
    let a = expect_json(
        app.post(
            "/api/v1/rating-assessments",
            Some(&civil.access_token),
            json!({"organization_id": org, "scheme_id": id, "assessor_ids": [panel[0].user_id]}),
        )
        .await?,
        201,
    )
    .await?;
    let aid = a["id"].as_i64().unwrap_or_default();
    let panel_leaves: Vec<(String, i64)> = leaves.iter().filter(|(c, _)| c != "social.satisfaction").cloned().collect();
    expect_json(
        app.put(
            &format!("/api/v1/rating-assessments/{aid}/scores"),
            Some(&panel[0].access_token),
            scores(&panel_leaves, |m| m),
        )
        .await?,
        200,
    )
    .await?;
    let f = expect_json(
        app.post(&format!("/api/v1/rating-assessments/{aid}/finalize"), Some(&civil.access_token), Value::Null).await?,
        200,
    )
    .await?;
    let sat = f["breakdown"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["indicator"] == "social.satisfaction")
        .cloned()
        .unwrap_or_default();
    assert_eq!(sat["source"], "satisfaction", "{f}");
    assert_eq!(sat["tenths"], 800);
    assert_eq!(f["total_tenths"], 9800);
    assert_eq!(f["grade"], "5A");

    // Put on the abnormal list during its notice: no grade is awarded when the notice ends.
    expect_json(
        app.post(
            &format!("/api/v1/organizations/{org}/abnormal"),
            Some(&street.access_token),
            json!({"reason": "unreachable", "detail": "多次联系不上负责人"}),
        )
        .await?,
        201,
    )
    .await?;
    app.clock.advance(Duration::days(8));
    let t = tick(&app.ctx).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(t, RatingTick { awarded: 0, not_graded: 0, withdrawn: 1 });
    let civil = app.demo_login("demo-civil").await?;
    let street = app.demo_login("demo-street").await?;
    let attendee = app.login("satisfied-resident").await?;
    let w = expect_json(app.get(&format!("/api/v1/rating-assessments/{aid}"), Some(&civil.access_token)).await?, 200)
        .await?;
    assert_eq!(w["status"], "withdrawn", "{w}");
    assert!(w["history"].to_string().contains("不予授予"), "{w}");
    expect_problem(
        app.post(
            &format!("/api/v1/rating-assessments/{aid}/withdraw"),
            Some(&civil.access_token),
            json!({"reason": "组织申请暂缓评估"}),
        )
        .await?,
        409,
        "assessment_closed",
    )
    .await?;
    // The region's list shows it; a resident may not list.
    // The street office is under the district, not over it.
    expect_problem(
        app.get(&format!("/api/v1/regions/{district}/rating-assessments?status=withdrawn"), Some(&street.access_token))
            .await?,
        403,
        "forbidden",
    )
    .await?;
    let street_region = app.region("620102002000").await?;
    let rows = expect_json(
        app.get(&format!("/api/v1/regions/{street_region}/rating-assessments"), Some(&street.access_token)).await?,
        200,
    )
    .await?;
    assert_eq!(rows[0]["status"], "withdrawn", "{rows}");
    expect_problem(
        app.get(&format!("/api/v1/regions/{street_region}/rating-assessments"), Some(&attendee.access_token)).await?,
        403,
        "forbidden",
    )
    .await?;
    Ok(())
}
