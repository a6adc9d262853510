//! Shared rooms when the room's side or the organization changes mid-flow (found by a
//! new user trying the rooms): a retired room, an organization suspended while entrusted
//! with a room, a held activity edited or refused, an activity moved inside and outside
//! its approved booking, capacity lowered under a waiting request, an organization
//! cancelling the booking under its own activity, and an organization's booking list.

use linli_tests::{TestApp, TestResult, expect_json, expect_problem, spawn_app};
use serde_json::{Value, json};

use crate::venues::{Setup, at, booking, request, setup};

async fn approve(app: &TestApp, s: &Setup, id: i64) -> anyhow::Result<Value> {
    expect_json(
        app.post(
            &format!("/api/v1/venue-bookings/{id}/review"),
            Some(&s.committee.access_token),
            json!({"decision": "approve"}),
        )
        .await?,
        200,
    )
    .await
}

async fn room_activity(app: &TestApp, s: &Setup, title: &str, day: i64, from: u32, to: u32) -> anyhow::Result<i64> {
    let created = expect_json(
        app.post(
            &format!("/api/v1/organizations/{}/activities", s.org),
            Some(&s.leader.access_token),
            json!({"kind": "culture_sports", "title": title, "venue_id": s.venue,
                   "starts_at": at(day, from, 0), "ends_at": at(day, to, 0), "capacity": 20}),
        )
        .await?,
        201,
    )
    .await?;
    Ok(created["id"].as_i64().unwrap_or_default())
}

/// Retiring a room cancels the requests still waiting (their requesters are told, an
/// activity held for one goes back to a draft); approved bookings keep their spans.
#[tokio::test]
async fn retiring_a_room_cancels_what_waits_in_it() -> TestResult {
    let app = spawn_app().await?;
    let s = setup(&app).await?;
    let approved =
        expect_json(request(&app, &s.leader, s.venue, booking(s.org, at(3, 9, 0), at(3, 10, 0))).await?, 201).await?;
    approve(&app, &s, approved["id"].as_i64().unwrap_or_default()).await?;
    let waiting =
        expect_json(request(&app, &s.leader, s.venue, booking(s.org, at(4, 9, 0), at(4, 10, 0))).await?, 201).await?;
    let held = room_activity(&app, &s, "书法课", 5, 9, 11).await?;
    let published = expect_json(
        app.post(&format!("/api/v1/activities/{held}/publish"), Some(&s.leader.access_token), Value::Null).await?,
        200,
    )
    .await?;
    assert_eq!(published["status"], "held");
    expect_json(
        app.patch(&format!("/api/v1/venues/{}", s.venue), Some(&s.committee.access_token), json!({"status": "closed"}))
            .await?,
        200,
    )
    .await?;
    let w = expect_json(
        app.get(&format!("/api/v1/venue-bookings/{}", waiting["id"]), Some(&s.leader.access_token)).await?,
        200,
    )
    .await?;
    assert_eq!(w["status"], "cancelled");
    let r = app
        .post(
            &format!("/api/v1/venue-bookings/{}/review", waiting["id"]),
            Some(&s.committee.access_token),
            json!({"decision": "approve"}),
        )
        .await?;
    expect_problem(r, 409, "invalid_transition").await?;
    let a = expect_json(
        app.get(&format!("/api/v1/venue-bookings/{}", approved["id"]), Some(&s.leader.access_token)).await?,
        200,
    )
    .await?;
    assert_eq!(a["status"], "approved");
    let act =
        expect_json(app.get(&format!("/api/v1/activities/{held}"), Some(&s.leader.access_token)).await?, 200).await?;
    assert_eq!(act["status"], "draft", "no room will be approved for it");
    let inbox =
        expect_json(app.get("/api/v1/me/notifications?limit=100", Some(&s.leader.access_token)).await?, 200).await?;
    assert!(
        inbox["items"].as_array().is_some_and(|i| i
            .iter()
            .any(|n| n["kind"] == "booking_cancelled" && n["body"].as_str().is_some_and(|b| b.contains("场地已停用")))),
        "{inbox}"
    );
    Ok(())
}

/// A room is entrusted only to an active organization of its street; its leader manages it
/// while the organization is active, and approval refuses a suspended organization's
/// request.
#[tokio::test]
async fn entrusting_follows_the_organizations_standing() -> TestResult {
    let app = spawn_app().await?;
    let s = setup(&app).await?;
    let path = format!("/api/v1/venues/{}", s.venue);
    let village = app.region("620123104202").await?;
    let far = expect_json(app.get(&format!("/api/v1/organizations?region_id={village}"), None).await?, 200).await?;
    if let Some(far_org) = far["items"][0]["id"].as_i64() {
        let r = app.patch(&path, Some(&s.committee.access_token), json!({"entrusted_org_id": far_org})).await?;
        let body = expect_problem(r, 422, "validation_failed").await?;
        assert_eq!(body["errors"][0]["code"], "outside_street", "{body}");
    }
    expect_json(app.patch(&path, Some(&s.committee.access_token), json!({"entrusted_org_id": s.org})).await?, 200)
        .await?;
    expect_json(app.patch(&path, Some(&s.leader.access_token), json!({"buffer_minutes": 0})).await?, 200).await?;
    let waiting =
        expect_json(request(&app, &s.leader, s.venue, booking(s.org, at(4, 9, 0), at(4, 10, 0))).await?, 201).await?;

    let street = app.login_openid("demo-street").await?;
    expect_json(
        app.post(
            &format!("/api/v1/organizations/{}/status", s.org),
            Some(&street.access_token),
            json!({"action": "suspend", "reason": "负责人失联"}),
        )
        .await?,
        200,
    )
    .await?;
    expect_problem(
        app.patch(&path, Some(&s.leader.access_token), json!({"buffer_minutes": 30})).await?,
        403,
        "forbidden",
    )
    .await?;
    let r = app
        .post(
            &format!("/api/v1/venue-bookings/{}/review", waiting["id"]),
            Some(&s.committee.access_token),
            json!({"decision": "approve"}),
        )
        .await?;
    expect_problem(r, 409, "organization_not_active").await?;
    Ok(())
}

/// A held activity can still be edited; the committee refusing its text sees the draft it
/// made (not a 404).
#[tokio::test]
async fn a_held_activity_is_edited_and_a_refusal_answers_the_draft() -> TestResult {
    let app = spawn_app().await?;
    let s = setup(&app).await?;
    let id = room_activity(&app, &s, "REVIEW 剪纸课", 4, 9, 11).await?;
    let held = expect_json(
        app.post(&format!("/api/v1/activities/{id}/publish"), Some(&s.leader.access_token), Value::Null).await?,
        200,
    )
    .await?;
    assert_eq!(held["status"], "held");
    let edited = expect_json(
        app.patch(&format!("/api/v1/activities/{id}"), Some(&s.leader.access_token), json!({"capacity": 15})).await?,
        200,
    )
    .await?;
    assert_eq!(edited["status"], "held");
    assert_eq!(edited["capacity"], 15);
    let refused = expect_json(
        app.post(
            &format!("/api/v1/activities/{id}/moderation"),
            Some(&s.committee.access_token),
            json!({"decision": "reject", "comment": "内容需修改"}),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(refused["status"], "draft");
    Ok(())
}

/// Moving a published activity inside its approved booking keeps the booking's span;
/// outside it, the booking moves with it. Approval re-checks attendance against the
/// room's capacity now. The organization cannot cancel the booking under its live
/// activity. Its bookings, in every state, are listed for its staff.
#[tokio::test]
async fn moves_capacity_and_cancellations_keep_the_rooms_word() -> TestResult {
    let app = spawn_app().await?;
    let s = setup(&app).await?;
    let b =
        expect_json(request(&app, &s.leader, s.venue, booking(s.org, at(3, 9, 0), at(3, 12, 0))).await?, 201).await?;
    let booking_id = b["id"].as_i64().unwrap_or_default();
    approve(&app, &s, booking_id).await?;
    let a = room_activity(&app, &s, "太极拳", 3, 9, 11).await?;
    let published = expect_json(
        app.post(&format!("/api/v1/activities/{a}/publish"), Some(&s.leader.access_token), Value::Null).await?,
        200,
    )
    .await?;
    assert_eq!(published["status"], "published");
    let path = format!("/api/v1/activities/{a}");
    expect_json(
        app.patch(&path, Some(&s.leader.access_token), json!({"starts_at": at(3, 9, 0), "ends_at": at(3, 10, 0)}))
            .await?,
        200,
    )
    .await?;
    let kept =
        expect_json(app.get(&format!("/api/v1/venue-bookings/{booking_id}"), Some(&s.leader.access_token)).await?, 200)
            .await?;
    assert_eq!((kept["starts_at"].clone(), kept["ends_at"].clone()), (json!(at(3, 9, 0)), json!(at(3, 12, 0))));
    // Outside it, the booking moves with the activity (its history says so).
    let out = app
        .patch(&path, Some(&s.leader.access_token), json!({"starts_at": at(3, 14, 0), "ends_at": at(3, 16, 0)}))
        .await?;
    expect_json(out, 200).await?;
    let moved =
        expect_json(app.get(&format!("/api/v1/venue-bookings/{booking_id}"), Some(&s.leader.access_token)).await?, 200)
            .await?;
    assert_eq!(moved["starts_at"], at(3, 14, 0));
    assert_eq!(moved["activity_id"], a);
    assert!(moved["history"].as_array().is_some_and(|h| h.iter().any(|e| e["action"] == "moved")), "{moved}");

    let cancel = app
        .post(&format!("/api/v1/venue-bookings/{booking_id}/cancel"), Some(&s.leader.access_token), json!({}))
        .await?;
    expect_problem(cancel, 409, "booking_has_activity").await?;

    let big = expect_json(
        request(&app, &s.leader, s.venue, json!({"organization_id": s.org, "starts_at": at(5, 9, 0), "ends_at": at(5, 10, 0), "purpose": "讲座", "attendance": 35}))
            .await?,
        201,
    )
    .await?;
    expect_json(
        app.patch(&format!("/api/v1/venues/{}", s.venue), Some(&s.committee.access_token), json!({"capacity": 30}))
            .await?,
        200,
    )
    .await?;
    let r = app
        .post(
            &format!("/api/v1/venue-bookings/{}/review", big["id"]),
            Some(&s.committee.access_token),
            json!({"decision": "approve"}),
        )
        .await?;
    let body = expect_problem(r, 422, "validation_failed").await?;
    assert_eq!(body["errors"][0]["code"], "over_capacity");

    let mine = expect_json(
        app.get(&format!("/api/v1/organizations/{}/venue-bookings", s.org), Some(&s.leader.access_token)).await?,
        200,
    )
    .await?;
    assert!(
        mine["items"].as_array().is_some_and(|i| i.len() >= 2 && i.iter().all(|b| b.get("series_id").is_some())),
        "{mine}"
    );
    let only = expect_json(
        app.get(
            &format!("/api/v1/organizations/{}/venue-bookings?status=requested", s.org),
            Some(&s.leader.access_token),
        )
        .await?,
        200,
    )
    .await?;
    assert!(only["items"].as_array().is_some_and(|i| i.iter().all(|b| b["status"] == "requested")), "{only}");
    let resident = app.login("bookings-resident").await?;
    let r = app.get(&format!("/api/v1/organizations/{}/venue-bookings", s.org), Some(&resident.access_token)).await?;
    expect_problem(r, 403, "forbidden").await?;
    let bad = app
        .get(&format!("/api/v1/organizations/{}/venue-bookings?status=maybe", s.org), Some(&s.leader.access_token))
        .await?;
    expect_problem(bad, 422, "validation_failed").await?;
    Ok(())
}
