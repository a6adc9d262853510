//! Recurring room bookings, and activities in a room: the gates a held activity waits
//! for, and what its residents are told when the room is withdrawn.

use chrono::{Datelike, Duration, Utc};
use linli_tests::{Session, TestApp, TestResult, expect_json, expect_problem, spawn_app};
use serde_json::{Value, json};

use crate::venues::{at, booking, enc, request, setup, shanghai};

/// The date `days` from today (Shanghai), `YYYY-MM-DD`, and its ISO weekday (1 = Monday).
fn day(days: i64) -> (String, i64) {
    let d = (Utc::now().with_timezone(&shanghai()) + Duration::days(days)).date_naive();
    (d.format("%Y-%m-%d").to_string(), d.weekday().number_from_monday() as i64)
}

fn series(org: i64, first: i64, weekday: i64, until: i64, skip: &[String]) -> Value {
    json!({
        "organization_id": org, "starts_at": at(first, 19, 0), "ends_at": at(first, 21, 0),
        "weekdays": [weekday], "every_weeks": 1, "until": day(until).0, "skip_dates": skip,
        "purpose": "合唱团每周排练", "attendance": 25
    })
}

async fn post_series(app: &TestApp, who: &Session, venue: i64, body: Value) -> anyhow::Result<reqwest::Response> {
    app.post(&format!("/api/v1/venues/{venue}/booking-series"), Some(&who.access_token), body).await
}

fn statuses(s: &Value) -> Vec<String> {
    s["bookings"]
        .as_array()
        .map(|b| b.iter().map(|b| b["status"].as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default()
}

async fn inbox(app: &TestApp, who: &Session) -> anyhow::Result<Vec<Value>> {
    let page = expect_json(app.get("/api/v1/me/notifications?limit=100", Some(&who.access_token)).await?, 200).await?;
    Ok(page["items"].as_array().cloned().unwrap_or_default())
}

/// A weekly series is booked whole or not at all: a clash or a rule broken on any date
/// refuses it and lists every such date; it is then decided and cancelled as a whole, from
/// a date on, or one booking at a time.
#[tokio::test]
async fn a_series_is_booked_whole_or_not_at_all() -> TestResult {
    let app = spawn_app().await?;
    let s = setup(&app).await?;
    let (_, weekday) = day(2);
    // Three weeks on the same weekday, the middle one skipped: two bookings.
    let created =
        expect_json(post_series(&app, &s.leader, s.venue, series(s.org, 2, weekday, 16, &[day(9).0])).await?, 201)
            .await?;
    assert_eq!(statuses(&created), vec!["requested", "requested"], "{created}");
    assert_eq!(created["bookings"][1]["starts_at"], at(16, 19, 0));
    assert_eq!(created["weekdays"], json!([weekday]));
    let series_id = created["id"].as_i64().unwrap_or_default();
    // The committee is told once that the series waits for it.
    let waiting: Vec<_> = inbox(&app, &s.committee)
        .await?
        .into_iter()
        .filter(|n| n["kind"] == "work_waiting" && n["title"].as_str().is_some_and(|t| t.contains("场地预约待审批")))
        .collect();
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert!(waiting[0]["body"].as_str().is_some_and(|b| b.contains("合唱团每周排练（2 次）")), "{waiting:?}");

    // Another series over it (and one date past the 30 days the room opens ahead):
    // refused whole, every bad date listed with its own code.
    let mut clashing = series(s.org, 2, weekday, 37, &[]);
    clashing["starts_at"] = json!(at(2, 20, 0));
    clashing["ends_at"] = json!(at(2, 22, 0));
    let refused = expect_problem(post_series(&app, &s.leader, s.venue, clashing).await?, 409, "series_refused").await?;
    let errors = refused["errors"].as_array().cloned().unwrap_or_default();
    let codes: Vec<(String, String)> = errors
        .iter()
        .map(|e| {
            (e["field"].as_str().unwrap_or_default().to_owned(), e["code"].as_str().unwrap_or_default().to_owned())
        })
        .collect();
    assert!(codes.contains(&(day(2).0, "venue_taken".to_owned())), "{refused}");
    assert!(codes.contains(&(day(16).0, "venue_taken".to_owned())), "{refused}");
    assert!(codes.contains(&(day(37).0, "too_far_ahead".to_owned())), "{refused}");
    assert!(!codes.iter().any(|(d, _)| *d == day(9).0 || *d == day(23).0), "free dates are not listed: {refused}");
    assert!(errors.iter().all(|e| e["message"].as_str().is_some_and(|m| !m.is_empty())));
    let free = expect_json(
        app.get(
            &format!("/api/v1/venues/{}/availability?from={}&to={}", s.venue, enc(&at(1, 0, 0)), enc(&at(30, 0, 0))),
            None,
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(free["busy"].as_array().map(Vec::len), Some(2), "nothing of the refused series holds: {free}");
    // Bad shapes are field errors.
    let mut bad = series(s.org, 2, weekday, 16, &[]);
    bad["weekdays"] = json!([0, 8]);
    bad["every_weeks"] = json!(9);
    bad["until"] = json!("2026-13-01");
    let problem = expect_problem(post_series(&app, &s.leader, s.venue, bad).await?, 422, "validation_failed").await?;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default();
    for f in ["weekdays[0]", "weekdays[1]", "every_weeks", "until"] {
        assert!(fields.contains(&f), "{f}: {problem}");
    }

    // The committee approves the series at once; the requester is told once.
    let approved = expect_json(
        app.post(
            &format!("/api/v1/venue-series/{series_id}/review"),
            Some(&s.committee.access_token),
            json!({"decision": "approve"}),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(statuses(&approved), vec!["approved", "approved"]);
    let told: Vec<_> = inbox(&app, &s.leader).await?.into_iter().filter(|n| n["kind"] == "booking_approved").collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0]["body"].as_str().is_some_and(|b| b.contains("共 2 次")), "{told:?}");
    let again = app
        .post(
            &format!("/api/v1/venue-series/{series_id}/review"),
            Some(&s.committee.access_token),
            json!({"decision": "approve"}),
        )
        .await?;
    expect_problem(again, 409, "invalid_transition").await?;

    // "This and following" from the second date: the first stays.
    let cut = expect_json(
        app.post(
            &format!("/api/v1/venue-series/{series_id}/cancel"),
            Some(&s.leader.access_token),
            json!({"from": day(16).0, "reason": "排练暂停"}),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(statuses(&cut), vec!["approved", "cancelled"]);
    // One date on its own.
    let first = cut["bookings"][0]["id"].as_i64().unwrap_or_default();
    let one = expect_json(
        app.post(&format!("/api/v1/venue-bookings/{first}/cancel"), Some(&s.leader.access_token), json!({})).await?,
        200,
    )
    .await?;
    assert_eq!(one["status"], "cancelled");
    let nothing =
        app.post(&format!("/api/v1/venue-series/{series_id}/cancel"), Some(&s.leader.access_token), json!({})).await?;
    expect_problem(nothing, 409, "invalid_transition").await?;
    Ok(())
}

/// Inside the venue's cut-off an organization cannot cancel the whole series (the
/// refusal names the booking); from the next date it can; the venue's manager can always.
#[tokio::test]
async fn cancelling_a_series_keeps_the_cut_off() -> TestResult {
    let app = spawn_app().await?;
    let s = setup(&app).await?;
    let path = format!("/api/v1/venues/{}", s.venue);
    expect_json(app.patch(&path, Some(&s.committee.access_token), json!({"cancel_cutoff_minutes": 2880})).await?, 200)
        .await?;
    let (_, weekday) = day(1);
    let created =
        expect_json(post_series(&app, &s.leader, s.venue, series(s.org, 1, weekday, 15, &[])).await?, 201).await?;
    let id = created["id"].as_i64().unwrap_or_default();
    let cancel = format!("/api/v1/venue-series/{id}/cancel");
    let closed =
        expect_problem(app.post(&cancel, Some(&s.leader.access_token), json!({})).await?, 409, "cancellation_closed")
            .await?;
    assert!(closed["detail"].as_str().is_some_and(|d| d.contains("19:00")), "{closed}");
    let later =
        expect_json(app.post(&cancel, Some(&s.leader.access_token), json!({"from": day(2).0})).await?, 200).await?;
    assert_eq!(statuses(&later), vec!["requested", "cancelled", "cancelled"]);
    let all =
        expect_json(app.post(&cancel, Some(&s.committee.access_token), json!({"reason": "场地检修"})).await?, 200)
            .await?;
    assert_eq!(statuses(&all), vec!["cancelled", "cancelled", "cancelled"]);
    let told = inbox(&app, &s.leader).await?;
    assert!(
        told.iter()
            .any(|n| n["kind"] == "booking_cancelled" && n["body"].as_str().is_some_and(|b| b.contains("场地检修"))),
        "{told:?}"
    );
    Ok(())
}

/// Each series endpoint refuses the wrong role.
#[tokio::test]
async fn wrong_roles_are_refused_on_every_series_endpoint() -> TestResult {
    let app = spawn_app().await?;
    let s = setup(&app).await?;
    let resident = app.login("series-resident").await?;
    let village = app.login_openid("demo-village").await?; // another community's committee
    let street = app.login_openid("demo-street").await?; // over the venue, not its manager
    let (_, weekday) = day(3);
    let body = series(s.org, 3, weekday, 10, &[]);
    for who in [&resident, &village, &street, &s.committee] {
        expect_problem(post_series(&app, who, s.venue, body.clone()).await?, 403, "forbidden").await?;
    }
    let anonymous = app.post(&format!("/api/v1/venues/{}/booking-series", s.venue), None, body.clone()).await?;
    expect_problem(anonymous, 401, "unauthenticated").await?;
    let created = expect_json(post_series(&app, &s.leader, s.venue, body).await?, 201).await?;
    let id = created["id"].as_i64().unwrap_or_default();
    for who in [&resident, &village] {
        let r = app.get(&format!("/api/v1/venue-series/{id}"), Some(&who.access_token)).await?;
        expect_problem(r, 403, "forbidden").await?;
    }
    expect_json(app.get(&format!("/api/v1/venue-series/{id}"), Some(&street.access_token)).await?, 200).await?;
    for who in [&resident, &village, &street, &s.leader] {
        let r = app
            .post(&format!("/api/v1/venue-series/{id}/review"), Some(&who.access_token), json!({"decision": "approve"}))
            .await?;
        expect_problem(r, 403, "forbidden").await?;
    }
    for who in [&resident, &village, &street] {
        let r = app.post(&format!("/api/v1/venue-series/{id}/cancel"), Some(&who.access_token), json!({})).await?;
        expect_problem(r, 403, "forbidden").await?;
    }
    expect_problem(app.get("/api/v1/venue-series/999999", Some(&s.leader.access_token)).await?, 404, "not_found")
        .await?;
    Ok(())
}

async fn activity_in_room(app: &TestApp, leader: &Session, org: i64, venue: i64, title: &str) -> anyhow::Result<i64> {
    let created = expect_json(
        app.post(
            &format!("/api/v1/organizations/{org}/activities"),
            Some(&leader.access_token),
            json!({"kind": "culture_sports", "title": title, "venue_id": venue,
                   "starts_at": at(4, 9, 0), "ends_at": at(4, 11, 0), "capacity": 20}),
        )
        .await?,
        201,
    )
    .await?;
    Ok(created["id"].as_i64().unwrap_or_default())
}

async fn room_booking_of(app: &TestApp, committee: &Session, activity: i64) -> anyhow::Result<i64> {
    let queue =
        expect_json(app.get("/api/v1/venue-bookings/review-queue", Some(&committee.access_token)).await?, 200).await?;
    queue["items"]
        .as_array()
        .and_then(|i| i.iter().find(|b| b["activity_id"] == activity))
        .and_then(|b| b["id"].as_i64())
        .ok_or_else(|| anyhow::anyhow!("no booking for activity {activity}: {queue}"))
}

async fn status_of(app: &TestApp, who: &Session, id: i64) -> anyhow::Result<String> {
    let a = expect_json(app.get(&format!("/api/v1/activities/{id}"), Some(&who.access_token)).await?, 200).await?;
    Ok(a["status"].as_str().unwrap_or_default().to_owned())
}

/// An activity in a room whose text WeChat wants a person to read waits for both: the
/// committee's review and the room's approval, in either order. Clearing the text does
/// not publish an activity whose room is not yet approved, and the text review cannot
/// clear an activity held only for its room.
#[tokio::test]
async fn a_held_activity_waits_for_its_text_and_its_room() -> TestResult {
    let app = spawn_app().await?;
    let s = setup(&app).await?;
    let publish = |id: i64| format!("/api/v1/activities/{id}/publish");
    let moderation = |id: i64| format!("/api/v1/activities/{id}/moderation");
    let review = |b: i64| format!("/api/v1/venue-bookings/{b}/review");
    let t = &s.committee.access_token;

    // Text first, then the room.
    let a = activity_in_room(&app, &s.leader, s.org, s.venue, "REVIEW 合唱排练").await?;
    let held = expect_json(app.post(&publish(a), Some(&s.leader.access_token), Value::Null).await?, 200).await?;
    assert_eq!(held["status"], "held");
    let b = room_booking_of(&app, &s.committee, a).await?;
    expect_json(app.post(&moderation(a), Some(t), json!({"decision": "approve"})).await?, 200).await?;
    assert_eq!(status_of(&app, &s.leader, a).await?, "held", "the room is not approved yet");
    expect_json(app.post(&review(b), Some(t), json!({"decision": "approve"})).await?, 200).await?;
    assert_eq!(status_of(&app, &s.leader, a).await?, "published");

    // The room first, then the text.
    let mut second = activity_in_room(&app, &s.leader, s.org, s.venue, "REVIEW 书法课").await?;
    let path = format!("/api/v1/activities/{second}");
    expect_json(
        app.patch(&path, Some(&s.leader.access_token), json!({"starts_at": at(4, 13, 0), "ends_at": at(4, 15, 0)}))
            .await?,
        200,
    )
    .await?;
    expect_json(app.post(&publish(second), Some(&s.leader.access_token), Value::Null).await?, 200).await?;
    let b = room_booking_of(&app, &s.committee, second).await?;
    expect_json(app.post(&review(b), Some(t), json!({"decision": "approve"})).await?, 200).await?;
    assert_eq!(status_of(&app, &s.leader, second).await?, "held", "the text is not cleared yet");
    expect_json(app.post(&moderation(second), Some(t), json!({"decision": "approve"})).await?, 200).await?;
    assert_eq!(status_of(&app, &s.leader, second).await?, "published");

    // Held for its room only: the text review has nothing to clear.
    second = activity_in_room(&app, &s.leader, s.org, s.venue, "剪纸课").await?;
    expect_json(
        app.patch(
            &format!("/api/v1/activities/{second}"),
            Some(&s.leader.access_token),
            json!({"starts_at": at(4, 16, 0), "ends_at": at(4, 18, 0)}),
        )
        .await?,
        200,
    )
    .await?;
    let held = expect_json(app.post(&publish(second), Some(&s.leader.access_token), Value::Null).await?, 200).await?;
    assert_eq!(held["status"], "held");
    let r = app.post(&moderation(second), Some(t), json!({"decision": "approve"})).await?;
    expect_problem(r, 409, "invalid_transition").await?;
    assert_eq!(status_of(&app, &s.leader, second).await?, "held");
    Ok(())
}

/// A closure over a published activity's room tells its residents (inbox and push
/// text) and its organizer; moving the activity then needs an approved booking for the
/// new time: refused until the organization holds one, linked when it does.
#[tokio::test]
async fn a_withdrawn_room_is_told_to_the_activitys_residents() -> TestResult {
    let app = spawn_app().await?;
    let s = setup(&app).await?;
    let a = activity_in_room(&app, &s.leader, s.org, s.venue, "太极拳晨练").await?;
    expect_json(
        app.post(&format!("/api/v1/activities/{a}/publish"), Some(&s.leader.access_token), Value::Null).await?,
        200,
    )
    .await?;
    let b = room_booking_of(&app, &s.committee, a).await?;
    expect_json(
        app.post(
            &format!("/api/v1/venue-bookings/{b}/review"),
            Some(&s.committee.access_token),
            json!({"decision": "approve"}),
        )
        .await?,
        200,
    )
    .await?;
    let resident = app.login("room-resident").await?;
    expect_json(
        app.post(&format!("/api/v1/activities/{a}/signups"), Some(&resident.access_token), json!({})).await?,
        201,
    )
    .await?;

    let closure = json!({"starts_at": at(4, 0, 0), "ends_at": at(5, 0, 0), "reason": "水管维修"});
    let out = expect_json(
        app.post(&format!("/api/v1/venues/{}/closures", s.venue), Some(&s.committee.access_token), closure).await?,
        201,
    )
    .await?;
    assert_eq!(out["cancelled_booking_ids"], json!([b]));
    let told = inbox(&app, &resident).await?;
    assert!(
        told.iter().any(|n| n["kind"] == "activity_changed"
            && n["title"] == "活动场地暂不可用"
            && n["body"].as_str().is_some_and(|t| t.contains("太极拳晨练"))),
        "{told:?}"
    );
    assert!(inbox(&app, &s.leader).await?.iter().any(|n| n["kind"] == "booking_cancelled"));
    assert_eq!(status_of(&app, &s.leader, a).await?, "published", "the residents keep their places");

    // Moving it: the room needs approval, so the organization books the new span first.
    let path = format!("/api/v1/activities/{a}");
    let moved = json!({"starts_at": at(6, 9, 0), "ends_at": at(6, 11, 0)});
    expect_problem(app.patch(&path, Some(&s.leader.access_token), moved.clone()).await?, 409, "room_booking_needed")
        .await?;
    let fresh =
        expect_json(request(&app, &s.leader, s.venue, booking(s.org, at(6, 9, 0), at(6, 11, 0))).await?, 201).await?;
    let fresh_id = fresh["id"].as_i64().unwrap_or_default();
    expect_json(
        app.post(
            &format!("/api/v1/venue-bookings/{fresh_id}/review"),
            Some(&s.committee.access_token),
            json!({"decision": "approve"}),
        )
        .await?,
        200,
    )
    .await?;
    expect_json(app.patch(&path, Some(&s.leader.access_token), moved).await?, 200).await?;
    let linked =
        expect_json(app.get(&format!("/api/v1/venue-bookings/{fresh_id}"), Some(&s.leader.access_token)).await?, 200)
            .await?;
    assert_eq!(linked["activity_id"], a);
    Ok(())
}

/// Approving a series re-checks each date as a single approval does: a suspended
/// organization's series is refused, each date naming why.
#[tokio::test]
async fn a_series_approval_rechecks_what_a_single_approval_does() -> TestResult {
    let app = spawn_app().await?;
    let s = setup(&app).await?;
    let (_, weekday) = day(3);
    let created =
        expect_json(post_series(&app, &s.leader, s.venue, series(s.org, 3, weekday, 10, &[])).await?, 201).await?;
    let id = created["id"].as_i64().unwrap_or_default();
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
    let r = app
        .post(
            &format!("/api/v1/venue-series/{id}/review"),
            Some(&s.committee.access_token),
            json!({"decision": "approve"}),
        )
        .await?;
    let body = expect_problem(r, 409, "series_refused").await?;
    let errors = body["errors"].as_array().cloned().unwrap_or_default();
    assert_eq!(errors.len(), 2, "{body}");
    assert!(errors.iter().all(|e| e["code"] == "organization_not_active"), "{body}");
    let still =
        expect_json(app.get(&format!("/api/v1/venue-series/{id}"), Some(&s.committee.access_token)).await?, 200)
            .await?;
    assert_eq!(statuses(&still), vec!["requested", "requested"]);
    Ok(())
}
