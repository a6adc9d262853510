//! Work that waits is announced to the people who can decide, and gathered daily.

use chrono::{Duration, Timelike};
use linli_server::{domain::clock::to_shanghai, service::work_queue};
use linli_tests::{Session, TestApp, TestResult, expect_json, spawn_app};
use serde_json::{Value, json};

async fn inbox(app: &TestApp, who: &str) -> anyhow::Result<Vec<Value>> {
    let s = app.login_openid(who).await?;
    let page = expect_json(app.get("/api/v1/me/notifications?limit=100", Some(&s.access_token)).await?, 200).await?;
    Ok(page["items"].as_array().cloned().unwrap_or_default())
}

fn of_kind<'a>(items: &'a [Value], kind: &str) -> Vec<&'a Value> {
    items.iter().filter(|n| n["kind"] == kind).collect()
}

async fn apply(app: &TestApp, who: &Session, name: &str, community: i64) -> anyhow::Result<i64> {
    let body = json!({"name": name, "category": "mutual_aid", "community_id": community});
    let created = expect_json(app.post("/api/v1/organizations", Some(&who.access_token), body).await?, 201).await?;
    created["id"].as_i64().ok_or_else(|| anyhow::anyhow!("no id in {created}"))
}

#[tokio::test]
async fn deciders_are_told_when_work_starts_waiting_for_them() -> TestResult {
    let app = spawn_app().await?;
    let community = app.region("620102002006").await?;
    // The committee allowed one "change" message: the notice is pushed, opening the queue.
    let c = app.login_openid("demo-committee").await?;
    let body = json!({"results": {linli_tests::TEMPLATE_CHANGE: "accept"}});
    expect_json(app.post("/api/v1/me/subscriptions", Some(&c.access_token), body).await?, 200).await?;
    let applicant = app.login("applicant").await?;
    let org = apply(&app, &applicant, "金塔巷象棋互助组", community).await?;

    let committee = inbox(&app, "demo-committee").await?;
    let waiting = of_kind(&committee, "work_waiting");
    assert_eq!(waiting.len(), 1, "{committee:?}");
    assert_eq!(waiting[0]["organization_id"], org);
    assert!(
        waiting[0]["body"]
            .as_str()
            .is_some_and(|b| b.contains("金塔巷象棋互助组") && b.contains(work_queue::QUEUE_PAGE))
    );
    app.dispatch().await?;
    let pushed = app.fake.sends_to("demo-committee");
    assert_eq!(pushed.len(), 1, "{pushed:?}");
    assert_eq!(pushed[0]["page"], work_queue::QUEUE_PAGE);
    assert_eq!(pushed[0]["template_id"], linli_tests::TEMPLATE_CHANGE);
    for elsewhere in ["demo-street", "demo-village", "demo-township", "demo-leader"] {
        assert!(of_kind(&inbox(&app, elsewhere).await?, "work_waiting").is_empty(), "{elsewhere} is not asked yet");
    }

    // The committee consents: now the street office is asked.
    let c = app.login_openid("demo-committee").await?;
    expect_json(
        app.post(&format!("/api/v1/organizations/{org}/review"), Some(&c.access_token), json!({"decision": "approve"}))
            .await?,
        200,
    )
    .await?;
    let street = of_kind(&inbox(&app, "demo-street").await?, "work_waiting").len();
    assert_eq!(street, 1);
    // Decided: the committee's notice about it is no longer waiting work (read for it).
    let settled = inbox(&app, "demo-committee").await?;
    let ours: Vec<_> = of_kind(&settled, "work_waiting").into_iter().filter(|n| n["organization_id"] == org).collect();
    assert_eq!(ours.len(), 1);
    assert!(ours[0]["read_at"].is_string(), "{:?}", ours[0]);
    assert!(of_kind(&inbox(&app, "demo-township").await?, "work_waiting").is_empty(), "another street");

    // An activity held for moderation waits for the committee.
    let (leader, org_id) = app.demo_leader().await?;
    let start = app.ctx.now() + Duration::days(2);
    let body = json!({"kind": "volunteer", "title": "REVIEW 楼道清扫", "location": "金塔巷",
        "starts_at": start.to_rfc3339(), "ends_at": (start + Duration::hours(1)).to_rfc3339(), "capacity": 5});
    let created = expect_json(
        app.post(&format!("/api/v1/organizations/{org_id}/activities"), Some(&leader.access_token), body).await?,
        201,
    )
    .await?;
    let id = created["id"].as_i64().unwrap_or_default();
    let held = expect_json(
        app.post(&format!("/api/v1/activities/{id}/publish"), Some(&leader.access_token), json!({})).await?,
        200,
    )
    .await?;
    assert_eq!(held["status"], "held");
    let committee = inbox(&app, "demo-committee").await?;
    assert!(of_kind(&committee, "work_waiting").iter().any(|n| n["activity_id"] == id), "{committee:?}");
    Ok(())
}

#[tokio::test]
async fn several_waiting_items_are_gathered_into_one_digest_a_day() -> TestResult {
    let app = spawn_app().await?;
    let community = app.region("620102002006").await?;
    // Two applications wait for the committee (the demo has one more); one for nobody else.
    apply(&app, &app.login("a1").await?, "金塔巷书法组", community).await?;
    apply(&app, &app.login("a2").await?, "金塔巷太极组", community).await?;

    // To the next 09:00 in Shanghai: the digest goes out with the working day.
    let now = to_shanghai(app.ctx.now());
    let hours = (24 + 9 - i64::from(now.hour())) % 24;
    app.clock
        .advance(Duration::hours(if hours == 0 { 24 } else { hours }) - Duration::minutes(i64::from(now.minute())));
    let first = work_queue::digest_once(&app.ctx).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    assert!(first.queued >= 1, "{first:?}");
    let digests = inbox(&app, "demo-committee").await?;
    let digests = of_kind(&digests, "work_digest");
    assert_eq!(digests.len(), 1);
    // Three applications and the demo's room request awaiting the committee.
    assert!(digests[0]["title"].as_str().is_some_and(|t| t.contains('4')), "{:?}", digests[0]);
    assert!(
        digests[0]["body"].as_str().is_some_and(|b| b.contains("备案申请待同意 3 项")
            && b.contains("场地预约待审批 1 项")
            && b.contains(work_queue::QUEUE_PAGE)),
        "{:?}",
        digests[0]
    );
    assert!(of_kind(&inbox(&app, "demo-street").await?, "work_digest").is_empty(), "nothing waits for the street");

    // The same day: nothing more.
    app.clock.advance(Duration::hours(1));
    let again = work_queue::digest_once(&app.ctx).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(again.queued, 0);
    // The next day, still waiting: a new digest.
    app.clock.advance(Duration::hours(23));
    let next = work_queue::digest_once(&app.ctx).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    assert!(next.queued >= 1);
    assert_eq!(of_kind(&inbox(&app, "demo-committee").await?, "work_digest").len(), 2);
    Ok(())
}
