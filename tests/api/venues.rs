//! Shared rooms (一室多用): venues, free/busy, bookings, approval, no double booking.

use std::time::Instant;

use chrono::{Duration, FixedOffset, NaiveTime, TimeZone, Utc};
use futures_util::future::join_all;
use linli_tests::{Session, TestApp, TestResult, expect_json, expect_problem, spawn_app};
use serde_json::{Value, json};

pub(crate) fn shanghai() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!())
}

/// `days` days from today (Shanghai) at `hh:mm` Shanghai, RFC 3339.
pub(crate) fn at(days: i64, hh: u32, mm: u32) -> String {
    let day = (Utc::now().with_timezone(&shanghai()) + Duration::days(days)).date_naive();
    let local = day.and_time(NaiveTime::from_hms_opt(hh, mm, 0).unwrap_or_default());
    shanghai().from_local_datetime(&local).single().map(|t| t.to_rfc3339()).unwrap_or_default()
}

pub(crate) fn venue_body(community_id: i64) -> Value {
    let hours: Vec<Value> = (1..=7).map(|d| json!({"weekday": d, "opens": "08:00", "closes": "22:00"})).collect();
    json!({
        "community_id": community_id, "name": "金塔巷社区活动室", "address": "金塔巷 12 号一楼",
        "latitude": 36.0627, "longitude": 103.8221, "capacity": 40, "area_m2": 80.0,
        "facilities": ["投影仪", "音响"], "accessibility": "无台阶，有无障碍卫生间",
        "slot_minutes": 30, "min_minutes": 60, "max_minutes": 240, "book_ahead_days": 30,
        "buffer_minutes": 30, "opening_hours": hours
    })
}

pub(crate) struct Setup {
    pub committee: Session,
    pub leader: Session,
    pub org: i64,
    pub community: i64,
    pub venue: i64,
}

pub(crate) async fn setup(app: &TestApp) -> anyhow::Result<Setup> {
    let committee = app.login_openid("demo-committee").await?;
    let (leader, org) = app.demo_leader().await?;
    let community = app.region("620102002006").await?;
    let created =
        expect_json(app.post("/api/v1/venues", Some(&committee.access_token), venue_body(community)).await?, 201)
            .await?;
    let venue = created["id"].as_i64().ok_or_else(|| anyhow::anyhow!("no id: {created}"))?;
    Ok(Setup { committee, leader, org, community, venue })
}

pub(crate) fn booking(org: i64, from: String, to: String) -> Value {
    json!({"organization_id": org, "starts_at": from, "ends_at": to, "purpose": "重阳节包饺子", "attendance": 20})
}

pub(crate) async fn request(
    app: &TestApp,
    who: &Session,
    venue: i64,
    body: Value,
) -> anyhow::Result<reqwest::Response> {
    app.post(&format!("/api/v1/venues/{venue}/bookings"), Some(&who.access_token), body).await
}

#[tokio::test]
async fn venues_are_set_up_browsed_and_shown() -> TestResult {
    let app = spawn_app().await?;
    let s = setup(&app).await?;
    let one = expect_json(app.get(&format!("/api/v1/venues/{}", s.venue), None).await?, 200).await?;
    assert_eq!(one["name"], "金塔巷社区活动室");
    assert_eq!(one["community_name"], "金塔巷社区居委会");
    assert_eq!(one["opening_hours"].as_array().map(Vec::len), Some(7));
    assert_eq!(one["opening_hours"][0], json!({"weekday": 1, "opens": "08:00", "closes": "22:00"}));
    assert_eq!(one["facilities"], json!(["投影仪", "音响"]));
    assert_eq!(one["may_manage"], false);
    let mine =
        expect_json(app.get(&format!("/api/v1/venues/{}", s.venue), Some(&s.committee.access_token)).await?, 200)
            .await?;
    assert_eq!(mine["may_manage"], true);

    let street = app.region("620102002000").await?;
    let list = expect_json(app.get(&format!("/api/v1/venues?region_id={street}"), None).await?, 200).await?;
    assert!(list["items"].as_array().is_some_and(|i| i.iter().any(|v| v["id"] == s.venue)), "{list}");
    let near = expect_json(app.get("/api/v1/venues?lat=36.0630&lng=103.8221", None).await?, 200).await?;
    assert!(near["items"][0]["distance_m"].as_f64().is_some_and(|d| d < 100.0), "{near}");
    let village = app.region("620123104202").await?;
    let none = expect_json(app.get(&format!("/api/v1/venues?region_id={village}"), None).await?, 200).await?;
    assert!(none["items"].as_array().is_some_and(|i| i.iter().all(|v| v["id"] != s.venue)), "{none}");

    // The committee edits and retires it; a retired venue takes no bookings.
    let edited = expect_json(
        app.patch(
            &format!("/api/v1/venues/{}", s.venue),
            Some(&s.committee.access_token),
            json!({"capacity": 30, "opening_hours": [{"weekday": 1, "opens": "09:00", "closes": "12:00"}]}),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(edited["capacity"], 30);
    assert_eq!(edited["opening_hours"].as_array().map(Vec::len), Some(1));
    let bad = app
        .patch(&format!("/api/v1/venues/{}", s.venue), Some(&s.committee.access_token), json!({"slot_minutes": 7}))
        .await?;
    let body = expect_problem(bad, 422, "validation_failed").await?;
    assert_eq!(body["errors"][0]["field"], "slot_minutes");
    expect_json(
        app.patch(&format!("/api/v1/venues/{}", s.venue), Some(&s.committee.access_token), json!({"status": "closed"}))
            .await?,
        200,
    )
    .await?;
    let r = request(&app, &s.leader, s.venue, booking(s.org, at(2, 9, 0), at(2, 10, 0))).await?;
    expect_problem(r, 409, "venue_closed").await?;
    Ok(())
}

#[tokio::test]
async fn a_booking_is_requested_approved_and_its_requester_told() -> TestResult {
    let app = spawn_app().await?;
    let s = setup(&app).await?;
    let created =
        expect_json(request(&app, &s.leader, s.venue, booking(s.org, at(3, 9, 0), at(3, 11, 0))).await?, 201).await?;
    assert_eq!(created["status"], "requested");
    let id = created["id"].as_i64().unwrap_or_default();
    // The span with its buffer is held: 11:00–11:30 is taken too, 11:30 is free.
    let taken = expect_problem(
        request(&app, &s.leader, s.venue, booking(s.org, at(3, 11, 0), at(3, 12, 0))).await?,
        409,
        "venue_taken",
    )
    .await?;
    assert!(taken["detail"].as_str().is_some_and(|d| d.contains("夕阳红") && d.contains("09:00")), "{taken}");

    // Free/busy shows who holds it.
    let fb = expect_json(
        app.get(
            &format!("/api/v1/venues/{}/availability?from={}&to={}", s.venue, enc(&at(3, 0, 0)), enc(&at(4, 0, 0))),
            None,
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(fb["busy"].as_array().map(Vec::len), Some(1), "{fb}");
    assert_eq!(fb["busy"][0]["organization_id"], s.org);
    assert_eq!(fb["busy"][0]["status"], "requested");
    assert!(fb["open"].as_array().is_some_and(|o| o.len() == 1), "{fb}");

    // The committee finds it in its queue and approves it.
    let queue =
        expect_json(app.get("/api/v1/venue-bookings/review-queue", Some(&s.committee.access_token)).await?, 200)
            .await?;
    assert!(queue["items"].as_array().is_some_and(|i| i.iter().any(|b| b["id"] == id)), "{queue}");
    let approved = expect_json(
        app.post(
            &format!("/api/v1/venue-bookings/{id}/review"),
            Some(&s.committee.access_token),
            json!({"decision": "approve", "reason": "同意"}),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["decided_by"], s.committee.user_id);
    let actions: Vec<&str> = approved["history"]
        .as_array()
        .map(|h| h.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(actions, ["requested", "approved"]);
    let again = app
        .post(
            &format!("/api/v1/venue-bookings/{id}/review"),
            Some(&s.committee.access_token),
            json!({"decision": "approve"}),
        )
        .await?;
    expect_problem(again, 409, "invalid_transition").await?;
    let inbox = expect_json(app.get("/api/v1/me/notifications", Some(&s.leader.access_token)).await?, 200).await?;
    assert!(inbox["items"].as_array().is_some_and(|i| i.iter().any(|n| n["kind"] == "booking_approved")), "{inbox}");

    // A second request is rejected with a reason, which frees its span.
    let second =
        expect_json(request(&app, &s.leader, s.venue, booking(s.org, at(3, 14, 0), at(3, 16, 0))).await?, 201).await?;
    let second_id = second["id"].as_i64().unwrap_or_default();
    let path = format!("/api/v1/venue-bookings/{second_id}/review");
    let no_reason = app.post(&path, Some(&s.committee.access_token), json!({"decision": "reject"})).await?;
    expect_problem(no_reason, 422, "validation_failed").await?;
    let rejected = expect_json(
        app.post(&path, Some(&s.committee.access_token), json!({"decision": "reject", "reason": "当天有社区会议"}))
            .await?,
        200,
    )
    .await?;
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["decision_reason"], "当天有社区会议");
    expect_json(request(&app, &s.leader, s.venue, booking(s.org, at(3, 14, 0), at(3, 16, 0))).await?, 201).await?;
    let inbox = expect_json(app.get("/api/v1/me/notifications", Some(&s.leader.access_token)).await?, 200).await?;
    assert!(inbox["items"].as_array().is_some_and(|i| i.iter().any(|n| n["kind"] == "booking_rejected")), "{inbox}");

    // The committee cancels the approved one: the leader is told; the span is free again.
    let cancelled = expect_json(
        app.post(
            &format!("/api/v1/venue-bookings/{id}/cancel"),
            Some(&s.committee.access_token),
            json!({"reason": "停水"}),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(cancelled["status"], "cancelled");
    let inbox = expect_json(app.get("/api/v1/me/notifications", Some(&s.leader.access_token)).await?, 200).await?;
    assert!(inbox["items"].as_array().is_some_and(|i| i.iter().any(|n| n["kind"] == "booking_cancelled")), "{inbox}");
    expect_json(request(&app, &s.leader, s.venue, booking(s.org, at(3, 9, 0), at(3, 11, 0))).await?, 201).await?;
    Ok(())
}

pub(crate) fn enc(s: &str) -> String {
    s.replace('+', "%2B")
}

#[tokio::test]
async fn each_refusal_has_its_own_code() -> TestResult {
    let app = spawn_app().await?;
    let s = setup(&app).await?;
    let field_code = |body: &Value| body["errors"][0]["code"].as_str().unwrap_or_default().to_owned();
    for (from, to, people, code) in [
        (at(-1, 9, 0), at(-1, 10, 0), 10, "in_the_past"),
        (at(2, 9, 0), at(2, 9, 30), 10, "too_short"),
        (at(2, 9, 0), at(2, 13, 30), 10, "too_long"),
        (at(2, 9, 15), at(2, 10, 15), 10, "not_on_slot_step"),
        (at(40, 9, 0), at(40, 10, 0), 10, "too_far_ahead"),
        (at(2, 9, 0), at(2, 10, 0), 41, "over_capacity"),
    ] {
        let mut body = booking(s.org, from, to);
        body["attendance"] = json!(people);
        let problem = expect_problem(request(&app, &s.leader, s.venue, body).await?, 422, "validation_failed").await?;
        assert_eq!(field_code(&problem), code, "{problem}");
    }
    let early = request(&app, &s.leader, s.venue, booking(s.org, at(2, 7, 0), at(2, 9, 0))).await?;
    expect_problem(early, 409, "outside_opening_hours").await?;
    let backwards = request(&app, &s.leader, s.venue, booking(s.org, at(2, 10, 0), at(2, 9, 0))).await?;
    let body = expect_problem(backwards, 422, "validation_failed").await?;
    assert_eq!(field_code(&body), "before_start");
    Ok(())
}

/// Fifty requests for pairwise-overlapping spans of one room at once: exactly one holds.
#[tokio::test]
async fn fifty_simultaneous_requests_for_one_room_hold_exactly_one() -> TestResult {
    let app = spawn_app().await?;
    let s = setup(&app).await?;
    let bodies: Vec<Value> = (0..50u32)
        .map(|i| {
            let (h, m) = (10 + (i % 3) / 2, 30 * ((i % 3) % 2));
            booking(s.org, at(5, h, m), at(5, h + 2, m))
        })
        .collect();
    let started = Instant::now();
    let responses = join_all(bodies.into_iter().map(|b| request(&app, &s.leader, s.venue, b))).await;
    let elapsed = started.elapsed();
    let mut created = 0;
    let mut taken = 0;
    for r in responses {
        let r = r?;
        match r.status().as_u16() {
            201 => created += 1,
            409 => {
                expect_problem(r, 409, "venue_taken").await?;
                taken += 1;
            }
            other => anyhow::bail!("unexpected {other}: {}", r.text().await?),
        }
    }
    println!("venue race: {created} held, {taken} venue_taken, 50 requests in {elapsed:?}");
    assert_eq!((created, taken), (1, 49));
    let fb = expect_json(
        app.get(
            &format!("/api/v1/venues/{}/availability?from={}&to={}", s.venue, enc(&at(5, 0, 0)), enc(&at(6, 0, 0))),
            None,
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(fb["busy"].as_array().map(Vec::len), Some(1), "{fb}");
    Ok(())
}

#[tokio::test]
async fn wrong_roles_are_refused_on_every_venue_endpoint() -> TestResult {
    let app = spawn_app().await?;
    let s = setup(&app).await?;
    let resident = app.login("venue-resident").await?;
    let village = app.login_openid("demo-village").await?; // another community's committee
    let street = app.login_openid("demo-street").await?; // over the venue, but not its manager
    let venue_path = format!("/api/v1/venues/{}", s.venue);

    // Setting up a venue: the community's committee only.
    for who in [&resident, &village, &street, &s.leader] {
        let r = app.post("/api/v1/venues", Some(&who.access_token), venue_body(s.community)).await?;
        expect_problem(r, 403, "forbidden").await?;
    }
    expect_problem(app.post("/api/v1/venues", None, venue_body(s.community)).await?, 401, "unauthenticated").await?;

    // Editing: its committee or entrusted leader.
    for who in [&resident, &village, &street, &s.leader] {
        let r = app.patch(&venue_path, Some(&who.access_token), json!({"name": "改名"})).await?;
        expect_problem(r, 403, "forbidden").await?;
    }

    // Requesting: the organization's staff only.
    for who in [&resident, &village, &street, &s.committee] {
        let r = request(&app, who, s.venue, booking(s.org, at(2, 9, 0), at(2, 10, 0))).await?;
        expect_problem(r, 403, "forbidden").await?;
    }
    let b =
        expect_json(request(&app, &s.leader, s.venue, booking(s.org, at(2, 9, 0), at(2, 10, 0))).await?, 201).await?;
    let id = b["id"].as_i64().unwrap_or_default();

    // Deciding: the venue's committee or entrusted leader.
    let review = format!("/api/v1/venue-bookings/{id}/review");
    for who in [&resident, &village, &street, &s.leader] {
        let r = app.post(&review, Some(&who.access_token), json!({"decision": "approve"})).await?;
        expect_problem(r, 403, "forbidden").await?;
    }
    // The review queue: committees and leaders; a resident or a street office has none.
    for who in [&resident, &street] {
        let r = app.get("/api/v1/venue-bookings/review-queue", Some(&who.access_token)).await?;
        expect_problem(r, 403, "forbidden").await?;
    }
    let other_queue =
        expect_json(app.get("/api/v1/venue-bookings/review-queue", Some(&village.access_token)).await?, 200).await?;
    assert_eq!(other_queue["items"], json!([]));
    // Reading a booking: not for a resident or another community's committee.
    for who in [&resident, &village] {
        let r = app.get(&format!("/api/v1/venue-bookings/{id}"), Some(&who.access_token)).await?;
        expect_problem(r, 403, "forbidden").await?;
    }
    expect_json(app.get(&format!("/api/v1/venue-bookings/{id}"), Some(&street.access_token)).await?, 200).await?;
    // Cancelling: the organization's staff or the venue's managers.
    for who in [&resident, &village, &street] {
        let r = app.post(&format!("/api/v1/venue-bookings/{id}/cancel"), Some(&who.access_token), json!({})).await?;
        expect_problem(r, 403, "forbidden").await?;
    }

    // Entrusted to the leader's organization: the leader manages and decides, its staff do not.
    expect_json(
        app.patch(&venue_path, Some(&s.committee.access_token), json!({"entrusted_org_id": s.org})).await?,
        200,
    )
    .await?;
    let staff = app.login("venue-staff").await?;
    expect_json(
        app.post(
            &format!("/api/v1/organizations/{}/staff", s.org),
            Some(&s.leader.access_token),
            json!({"user_id": staff.user_id}),
        )
        .await?,
        200,
    )
    .await?;
    let r = app.post(&review, Some(&staff.access_token), json!({"decision": "approve"})).await?;
    expect_problem(r, 403, "forbidden").await?;
    // Entrusting is the committee's, not the entrusted leader's.
    let r = app.patch(&venue_path, Some(&s.leader.access_token), json!({"entrusted_org_id": null})).await?;
    expect_problem(r, 403, "forbidden").await?;
    expect_json(app.patch(&venue_path, Some(&s.leader.access_token), json!({"buffer_minutes": 0})).await?, 200).await?;
    let queue =
        expect_json(app.get("/api/v1/venue-bookings/review-queue", Some(&s.leader.access_token)).await?, 200).await?;
    assert!(queue["items"].as_array().is_some_and(|i| i.iter().any(|b| b["id"] == id)), "{queue}");
    let approved =
        expect_json(app.post(&review, Some(&s.leader.access_token), json!({"decision": "approve"})).await?, 200)
            .await?;
    assert_eq!(approved["status"], "approved");
    Ok(())
}

/// On PostgreSQL the database itself refuses an overlap of holding bookings (the
/// exclusion constraint), even from a writer that skips the service's check.
#[tokio::test]
async fn the_database_refuses_overlapping_holding_bookings_on_postgres() -> TestResult {
    use sea_orm::{ConnectionTrait, DatabaseBackend};
    let app = spawn_app().await?;
    if app.ctx.db.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    let s = setup(&app).await?;
    let b =
        expect_json(request(&app, &s.leader, s.venue, booking(s.org, at(4, 9, 0), at(4, 11, 0))).await?, 201).await?;
    let insert = |from: &str, until: &str, status: &str| {
        format!(
            "INSERT INTO venue_bookings (venue_id, organization_id, purpose, attendance, starts_at, ends_at, \
             blocked_until, status, created_at, updated_at) VALUES ({}, {}, 'x', 1, '{from}', '{until}', '{until}', \
             '{status}', now(), now())",
            s.venue, s.org
        )
    };
    let from = b["starts_at"].as_str().unwrap_or_default();
    let until = b["blocked_until"].as_str().unwrap_or_default();
    let err = app.ctx.db.execute_unprepared(&insert(from, until, "requested")).await.err();
    assert!(err.as_ref().is_some_and(|e| e.to_string().contains("venue_bookings_no_overlap")), "{err:?}");
    // Bookings that no longer hold do not count.
    app.ctx.db.execute_unprepared(&insert(from, until, "rejected")).await?;
    Ok(())
}

/// An activity held in a room: publishing requests the room and waits for approval;
/// moving it moves the booking (or is refused); cancelling it frees the room.
#[tokio::test]
async fn an_activity_in_a_room_books_it_moves_with_it_and_frees_it() -> TestResult {
    let app = spawn_app().await?;
    let s = setup(&app).await?;
    let t = &s.leader.access_token;
    let post = format!("/api/v1/organizations/{}/activities", s.org);
    let body = |capacity: i64| {
        json!({"kind": "culture_sports", "title": "太极拳晨练", "venue_id": s.venue,
               "starts_at": at(3, 9, 0), "ends_at": at(3, 11, 0), "capacity": capacity})
    };
    let too_many = expect_problem(app.post(&post, Some(t), body(41)).await?, 422, "validation_failed").await?;
    assert_eq!(too_many["errors"][0]["code"], "over_capacity", "{too_many}");
    let draft = expect_json(app.post(&post, Some(t), body(20)).await?, 201).await?;
    let id = draft["id"].as_i64().unwrap_or_default();
    assert_eq!(draft["venue"]["name"], "金塔巷社区活动室");
    assert_eq!(draft["venue"]["accessibility"], "无台阶，有无障碍卫生间");
    assert!(draft["location"].as_str().is_some_and(|l| l.contains("金塔巷社区活动室")), "{draft}");

    // Publishing requests the room; the activity waits, hidden, until the committee approves.
    let held =
        expect_json(app.post(&format!("/api/v1/activities/{id}/publish"), Some(t), Value::Null).await?, 200).await?;
    assert_eq!(held["status"], "held");
    let queue =
        expect_json(app.get("/api/v1/venue-bookings/review-queue", Some(&s.committee.access_token)).await?, 200)
            .await?;
    let queued = queue["items"]
        .as_array()
        .and_then(|i| i.iter().find(|b| b["activity_id"] == id).cloned())
        .ok_or_else(|| anyhow::anyhow!("no booking for the activity: {queue}"))?;
    let booking_id = queued["id"].as_i64().unwrap_or_default();
    expect_json(
        app.post(
            &format!("/api/v1/venue-bookings/{booking_id}/review"),
            Some(&s.committee.access_token),
            json!({"decision": "approve"}),
        )
        .await?,
        200,
    )
    .await?;
    let public = expect_json(app.get(&format!("/api/v1/activities/{id}"), None).await?, 200).await?;
    assert_eq!(public["status"], "published");
    assert_eq!(public["venue"]["address"], "金塔巷 12 号一楼");

    // Moving it moves the booking.
    let moved = app
        .patch(
            &format!("/api/v1/activities/{id}"),
            Some(t),
            json!({"starts_at": at(3, 14, 0), "ends_at": at(3, 16, 0)}),
        )
        .await?;
    expect_json(moved, 200).await?;
    let b = expect_json(app.get(&format!("/api/v1/venue-bookings/{booking_id}"), Some(t)).await?, 200).await?;
    assert_eq!(b["starts_at"], at(3, 14, 0));
    assert_eq!(b["status"], "approved");
    // Onto a span somebody holds: refused, and nothing moves.
    expect_json(request(&app, &s.leader, s.venue, booking(s.org, at(3, 17, 0), at(3, 18, 0))).await?, 201).await?;
    let clash = app
        .patch(
            &format!("/api/v1/activities/{id}"),
            Some(t),
            json!({"starts_at": at(3, 16, 0), "ends_at": at(3, 17, 30)}),
        )
        .await?;
    expect_problem(clash, 409, "venue_taken").await?;
    let still = expect_json(app.get(&format!("/api/v1/activities/{id}"), None).await?, 200).await?;
    assert_eq!(still["starts_at"], at(3, 14, 0));

    // Cancelling it frees the room.
    expect_json(app.post(&format!("/api/v1/activities/{id}/cancel"), Some(t), json!({"reason": "天气"})).await?, 200)
        .await?;
    let b = expect_json(app.get(&format!("/api/v1/venue-bookings/{booking_id}"), Some(t)).await?, 200).await?;
    assert_eq!(b["status"], "cancelled");
    Ok(())
}

/// A closure cancels the bookings it hits and tells their requesters; later requests in it
/// are `venue_closed`. Only the venue's managers close it.
#[tokio::test]
async fn a_closure_cancels_the_bookings_it_hits() -> TestResult {
    let app = spawn_app().await?;
    let s = setup(&app).await?;
    let hit =
        expect_json(request(&app, &s.leader, s.venue, booking(s.org, at(6, 9, 0), at(6, 10, 0))).await?, 201).await?;
    let spared =
        expect_json(request(&app, &s.leader, s.venue, booking(s.org, at(7, 9, 0), at(7, 10, 0))).await?, 201).await?;
    let path = format!("/api/v1/venues/{}/closures", s.venue);
    let body = json!({"starts_at": at(6, 0, 0), "ends_at": at(7, 0, 0), "reason": "水管维修"});
    for who in [&s.leader, &app.login("closure-resident").await?] {
        expect_problem(app.post(&path, Some(&who.access_token), body.clone()).await?, 403, "forbidden").await?;
    }
    let out = expect_json(app.post(&path, Some(&s.committee.access_token), body).await?, 201).await?;
    assert_eq!(out["cancelled_booking_ids"], json!([hit["id"]]));
    let b = expect_json(
        app.get(&format!("/api/v1/venue-bookings/{}", spared["id"]), Some(&s.leader.access_token)).await?,
        200,
    )
    .await?;
    assert_eq!(b["status"], "requested");
    let inbox = expect_json(app.get("/api/v1/me/notifications", Some(&s.leader.access_token)).await?, 200).await?;
    assert!(
        inbox["items"].as_array().is_some_and(|i| i
            .iter()
            .any(|n| n["kind"] == "booking_cancelled" && n["body"].as_str().is_some_and(|b| b.contains("水管维修")))),
        "{inbox}"
    );
    let r = request(&app, &s.leader, s.venue, booking(s.org, at(6, 14, 0), at(6, 15, 0))).await?;
    expect_problem(r, 409, "venue_closed").await?;
    Ok(())
}

/// The README's walk on the demo data: book the demo activity room, approve, publish an
/// activity covered by the approved booking (it is linked, not booked twice).
#[tokio::test]
async fn the_readme_walk_books_a_demo_room() -> TestResult {
    let app = spawn_app().await?;
    let committee = app.login_openid("demo-committee").await?;
    let (leader, org) = app.demo_leader().await?;
    let community = app.region("620102002006").await?;
    let rooms = expect_json(app.get(&format!("/api/v1/venues?region_id={community}"), None).await?, 200).await?;
    let room = rooms["items"]
        .as_array()
        .and_then(|i| i.iter().find(|v| v["name"] == "金塔巷社区活动室"))
        .and_then(|v| v["id"].as_i64())
        .ok_or_else(|| anyhow::anyhow!("no demo room: {rooms}"))?;
    let waiting =
        expect_json(app.get("/api/v1/venue-bookings/review-queue", Some(&committee.access_token)).await?, 200).await?;
    assert_eq!(waiting["items"].as_array().map(Vec::len), Some(1), "the demo request: {waiting}");
    let b = expect_json(request(&app, &leader, room, booking(org, at(7, 14, 0), at(7, 16, 0))).await?, 201).await?;
    let id = b["id"].as_i64().unwrap_or_default();
    expect_json(
        app.post(
            &format!("/api/v1/venue-bookings/{id}/review"),
            Some(&committee.access_token),
            json!({"decision": "approve", "reason": "同意"}),
        )
        .await?,
        200,
    )
    .await?;
    let created = expect_json(
        app.post(
            &format!("/api/v1/organizations/{org}/activities"),
            Some(&leader.access_token),
            json!({"kind": "culture_sports", "title": "手工编织课", "venue_id": room,
                   "starts_at": at(7, 14, 0), "ends_at": at(7, 16, 0), "capacity": 15}),
        )
        .await?,
        201,
    )
    .await?;
    let act = created["id"].as_i64().unwrap_or_default();
    let published = expect_json(
        app.post(&format!("/api/v1/activities/{act}/publish"), Some(&leader.access_token), Value::Null).await?,
        200,
    )
    .await?;
    assert_eq!(published["status"], "published");
    let linked =
        expect_json(app.get(&format!("/api/v1/venue-bookings/{id}"), Some(&leader.access_token)).await?, 200).await?;
    assert_eq!(linked["activity_id"], act);
    Ok(())
}

/// Measures the free/busy view of a room holding a year of bookings (four a day). Run
/// with `cargo test -p linli-tests --test api venues::free_busy_p95 -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement, not a check"]
async fn free_busy_p95_over_a_year_of_bookings() -> TestResult {
    use linli_server::entity::venue_booking;
    use sea_orm::{ActiveValue::Set, EntityTrait};
    let app = spawn_app().await?;
    let s = setup(&app).await?;
    let start = Utc::now() + Duration::days(1);
    let rows: Vec<venue_booking::ActiveModel> = (0..365 * 4)
        .map(|i| {
            let from = start + Duration::hours(6 * i as i64);
            venue_booking::ActiveModel {
                venue_id: Set(s.venue),
                organization_id: Set(s.org),
                purpose: Set("测量".into()),
                attendance: Set(10),
                starts_at: Set(from),
                ends_at: Set(from + Duration::hours(2)),
                blocked_until: Set(from + Duration::hours(2) + Duration::minutes(30)),
                status: Set(if i % 5 == 0 { "requested" } else { "approved" }.into()),
                created_at: Set(start),
                updated_at: Set(start),
                ..Default::default()
            }
        })
        .collect();
    for chunk in rows.chunks(200) {
        venue_booking::Entity::insert_many(chunk.to_vec()).exec_without_returning(&app.ctx.db).await?;
    }
    let mut times = Vec::new();
    for week in 0..200 {
        let from = (start + Duration::days((week * 7 % 350) as i64)).to_rfc3339();
        let to = (start + Duration::days((week * 7 % 350 + 7) as i64)).to_rfc3339();
        let path = format!("/api/v1/venues/{}/availability?from={}&to={}", s.venue, enc(&from), enc(&to));
        let t = Instant::now();
        let body = expect_json(app.get(&path, None).await?, 200).await?;
        times.push(t.elapsed());
        anyhow::ensure!(body["busy"].as_array().is_some_and(|b| b.len() >= 27), "{body}");
    }
    times.sort();
    println!(
        "free/busy over a week of a room with 1,460 bookings: p50 {:?}, p95 {:?}, max {:?}",
        times[100], times[190], times[199]
    );
    Ok(())
}
