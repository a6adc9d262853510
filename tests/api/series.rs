//! Recurring activity series and regular volunteers: dates made on the horizon at the
//! same local time, regulars signed up through the capacity path (a crowd never overbooks
//! a date), pause, leave, removal, two missed dates, cancelling the rest, rooms booked
//! all or nothing, and a refusal per role.

use chrono::{Datelike, Duration, Utc};
use futures_util::future::join_all;
use linli_server::service::series::materialise;
use linli_tests::{Session, TestApp, TestResult, expect_json, expect_problem, spawn_app};
use serde_json::{Value, json};

use crate::venues::{at, setup, shanghai};

/// The ISO weekday (1 = Monday) of the date `days` from today (Shanghai).
fn weekday(days: i64) -> i64 {
    (Utc::now().with_timezone(&shanghai()) + Duration::days(days)).date_naive().weekday().number_from_monday() as i64
}

fn date(days: i64) -> String {
    (Utc::now().with_timezone(&shanghai()) + Duration::days(days)).date_naive().format("%Y-%m-%d").to_string()
}

/// A weekly series whose first date is `first` days ahead at 09:00–11:00 Shanghai.
fn weekly(first: i64, capacity: i64, horizon_weeks: i64, auto_accept: bool) -> Value {
    json!({
        "activity": {
            "kind": "volunteer", "title": "每周六社区清扫", "description": "打扫楼道和广场",
            "location": "金塔巷社区广场", "starts_at": at(first, 9, 0), "ends_at": at(first, 11, 0),
            "capacity": capacity
        },
        "recurrence": {"frequency": "weekly", "weekdays": [weekday(first)]},
        "horizon_weeks": horizon_weeks,
        "auto_accept_regulars": auto_accept
    })
}

async fn create(app: &TestApp, who: &Session, org: i64, body: Value) -> anyhow::Result<Value> {
    let path = format!("/api/v1/organizations/{org}/activity-series");
    expect_json(app.post(&path, Some(&who.access_token), body).await?, 201).await
}

async fn series(app: &TestApp, who: Option<&Session>, id: i64) -> anyhow::Result<Value> {
    let token = who.map(|w| w.access_token.as_str());
    expect_json(app.get(&format!("/api/v1/activity-series/{id}"), token).await?, 200).await
}

fn date_ids(s: &Value) -> Vec<i64> {
    s["dates"].as_array().map(|d| d.iter().filter_map(|d| d["activity_id"].as_i64()).collect()).unwrap_or_default()
}

async fn roster(app: &TestApp, who: &Session, activity: i64) -> anyhow::Result<Vec<Value>> {
    let page = expect_json(
        app.get(&format!("/api/v1/activities/{activity}/signups?limit=100"), Some(&who.access_token)).await?,
        200,
    )
    .await?;
    Ok(page["items"].as_array().cloned().unwrap_or_default())
}

async fn inbox(app: &TestApp, who: &Session) -> anyhow::Result<Vec<Value>> {
    let page = expect_json(app.get("/api/v1/me/notifications?limit=100", Some(&who.access_token)).await?, 200).await?;
    Ok(page["items"].as_array().cloned().unwrap_or_default())
}

async fn tick(app: &TestApp) -> anyhow::Result<materialise::Tick> {
    materialise::tick(&app.ctx).await.map_err(|e| anyhow::anyhow!("{e}"))
}

async fn ask(app: &TestApp, id: i64, who: &Session) -> anyhow::Result<reqwest::Response> {
    app.post(&format!("/api/v1/activity-series/{id}/regulars"), Some(&who.access_token), json!({})).await
}

async fn decide(
    app: &TestApp,
    leader: &Session,
    id: i64,
    user: i64,
    decision: &str,
) -> anyhow::Result<reqwest::Response> {
    let path = format!("/api/v1/activity-series/{id}/regulars/{user}/decision");
    app.post(&path, Some(&leader.access_token), json!({"decision": decision})).await
}

async fn leave(app: &TestApp, id: i64, who: &Session) -> anyhow::Result<reqwest::Response> {
    app.delete(&format!("/api/v1/activity-series/{id}/regulars/me"), Some(&who.access_token)).await
}

async fn cancel(app: &TestApp, leader: &Session, id: i64, body: Value) -> anyhow::Result<reqwest::Response> {
    app.post(&format!("/api/v1/activity-series/{id}/cancel"), Some(&leader.access_token), body).await
}

fn id_of(v: &Value) -> anyhow::Result<i64> {
    v["id"].as_i64().ok_or_else(|| anyhow::anyhow!("no id in {v}"))
}

/// An organizer posts a weekly series: the dates within the horizon are made at once, at
/// the same local time, each an ordinary published activity of the series; the job makes
/// each next date as it enters the horizon, once, and never one in the past.
#[tokio::test]
async fn dates_are_made_on_the_horizon_at_the_same_local_time() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let created = create(&app, &leader, org, weekly(2, 10, 3, false)).await?;
    let id = id_of(&created)?;
    assert_eq!(created["status"], "active");
    assert!(created["rrule"].as_str().is_some_and(|r| r.starts_with("FREQ=WEEKLY;INTERVAL=1;WKST=MO;BYDAY=")));
    // Days 2, 9 and 16 are within three weeks; day 23 is not yet.
    let starts: Vec<String> = created["dates"]
        .as_array()
        .map(|d| d.iter().map(|d| d["starts_at"].as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default();
    assert_eq!(starts, vec![at(2, 9, 0), at(9, 9, 0), at(16, 9, 0)], "{created}");
    let first = date_ids(&created)[0];
    let a = expect_json(app.get(&format!("/api/v1/activities/{first}"), None).await?, 200).await?;
    assert_eq!((a["status"].as_str(), a["series_id"].as_i64()), (Some("published"), Some(id)), "{a}");
    assert_eq!(a["ends_at"], at(2, 11, 0));

    // Running the job again makes nothing; a week later it makes day 23's date, once.
    assert_eq!(tick(&app).await?.dates, 0);
    app.clock.advance(Duration::days(7));
    let (leader, _) = app.demo_leader().await?; // the old token has expired
    let (a, b) = tokio::join!(tick(&app), tick(&app));
    assert_eq!(a?.dates + b?.dates, 1);
    let s = series(&app, Some(&leader), id).await?;
    let starts: Vec<&str> =
        s["dates"].as_array().map(|d| d.iter().filter_map(|d| d["starts_at"].as_str()).collect()).unwrap_or_default();
    assert_eq!(starts.last().copied(), Some(at(23, 9, 0).as_str()), "{s}");
    assert_eq!(tick(&app).await?.dates, 0);
    Ok(())
}

/// A monthly rule on the n-th weekday; a first date off the rule, an unknown weekday and
/// both an end date and a count are refused, naming the field, and nothing is made.
#[tokio::test]
async fn rules_are_checked_and_monthly_rules_follow_the_nth_weekday() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let path = format!("/api/v1/organizations/{org}/activity-series");
    let mut off_rule = weekly(2, 10, 8, false);
    off_rule["recurrence"]["weekdays"] = json!([weekday(3)]);
    let refused =
        expect_problem(app.post(&path, Some(&leader.access_token), off_rule).await?, 422, "validation_failed").await?;
    assert_eq!(refused["errors"][0]["code"], "first_not_on_rule", "{refused}");
    let mut bad = weekly(2, 10, 8, false);
    bad["recurrence"] = json!({"frequency": "weekly", "weekdays": [8], "until": date(30), "count": 3});
    let refused =
        expect_problem(app.post(&path, Some(&leader.access_token), bad).await?, 422, "validation_failed").await?;
    let fields: Vec<&str> = refused["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default();
    assert!(fields.contains(&"recurrence.weekdays[0]") && fields.contains(&"recurrence.count"), "{refused}");
    let list = expect_json(app.get(&path, Some(&leader.access_token)).await?, 200).await?;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0), "{list}");

    // The n-th weekday of the month of a date 40 days ahead, three times.
    let first = Utc::now().with_timezone(&shanghai()) + Duration::days(40);
    let nth = (first.day() as i64 - 1) / 7 + 1;
    let mut monthly = weekly(40, 10, 26, false);
    monthly["recurrence"] = json!({"frequency": "monthly", "nth": nth.min(4), "weekdays": [weekday(40)], "count": 3});
    if nth <= 4 {
        let created = create(&app, &leader, org, monthly).await?;
        assert!(created["rrule"].as_str().is_some_and(|r| r.contains(&format!("BYDAY={nth}"))), "{created}");
        let dates = created["dates"].as_array().cloned().unwrap_or_default();
        assert!(!dates.is_empty() && dates.len() <= 3, "{created}");
        assert_eq!(dates[0]["starts_at"], at(40, 9, 0));
    }
    Ok(())
}

/// Regulars: a request waits for the organizer, an accepted regular is signed up to every
/// open date (marked on the roster), never past capacity; pausing gives up the places on
/// the paused dates (the waitlist moves up), leaving the rest; a removed regular is told
/// why and cannot ask again.
#[tokio::test]
async fn regulars_are_signed_up_to_each_date_and_can_pause_leave_or_be_removed() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let created = create(&app, &leader, org, weekly(2, 1, 2, false)).await?;
    let id = id_of(&created)?;
    let dates = date_ids(&created);
    assert_eq!(dates.len(), 2, "{created}");
    let (wang, li) = (app.login("regular-wang").await?, app.login("regular-li").await?);
    let asked = expect_json(ask(&app, id, &wang).await?, 200).await?;
    assert_eq!(asked["status"], "requested");
    assert_eq!(
        expect_json(ask(&app, id, &wang).await?, 200).await?["status"],
        "requested",
        "asking again answers the same"
    );
    assert!(roster(&app, &leader, dates[0]).await?.is_empty(), "not signed up before acceptance");

    assert_eq!(expect_json(decide(&app, &leader, id, wang.user_id, "accept").await?, 200).await?["status"], "active");
    expect_json(ask(&app, id, &li).await?, 200).await?;
    assert_eq!(expect_json(decide(&app, &leader, id, li.user_id, "accept").await?, 200).await?["status"], "active");
    // One place per date: Wang (accepted first) confirmed, Li waitlisted; both marked regular.
    for d in &dates {
        let r = roster(&app, &leader, *d).await?;
        let who: Vec<(i64, &str, bool)> = r
            .iter()
            .map(|e| {
                (
                    e["user_id"].as_i64().unwrap_or_default(),
                    e["status"].as_str().unwrap_or_default(),
                    e["regular"] == true,
                )
            })
            .collect();
        assert_eq!(who, vec![(wang.user_id, "confirmed", true), (li.user_id, "waitlisted", true)], "{r:?}");
    }
    // A manual sign-up is not marked.
    let walker = app.login("walker").await?;
    let s = expect_json(
        app.post(&format!("/api/v1/activities/{}/signups", dates[1]), Some(&walker.access_token), json!({})).await?,
        201,
    )
    .await?;
    assert_eq!(s["status"], "waitlisted");
    let r = roster(&app, &leader, dates[1]).await?;
    assert_eq!(r[2]["regular"], false, "{r:?}");

    // Wang pauses through the first date: that place goes to Li; the second stays Wang's.
    let paused = expect_json(
        app.post(
            &format!("/api/v1/activity-series/{id}/regulars/me/pause"),
            Some(&wang.access_token),
            json!({"until": date(2)}),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!((paused["status"].as_str(), paused["paused_until"].as_str()), (Some("paused"), Some(date(2).as_str())));
    let first: Vec<(i64, String)> = roster(&app, &leader, dates[0])
        .await?
        .iter()
        .map(|e| (e["user_id"].as_i64().unwrap_or_default(), e["status"].as_str().unwrap_or_default().to_owned()))
        .collect();
    assert!(
        first.contains(&(wang.user_id, "cancelled".into())) && first.contains(&(li.user_id, "confirmed".into())),
        "{first:?}"
    );
    assert!(inbox(&app, &li).await?.iter().any(|n| n["kind"] == "waitlist_promoted"));
    let second = roster(&app, &leader, dates[1]).await?;
    assert_eq!(second[0]["status"], "confirmed", "{second:?}");

    // The organizer removes Li with a reason: Li is told, the places are given up, and Li
    // cannot ask again.
    let removed = expect_json(
        app.post(
            &format!("/api/v1/activity-series/{id}/regulars/{}/remove", li.user_id),
            Some(&leader.access_token),
            json!({"reason": "多次临时缺席"}),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(removed["status"], "removed");
    let told = inbox(&app, &li).await?;
    assert!(
        told.iter()
            .any(|n| n["kind"] == "series_regular" && n["body"].as_str().is_some_and(|b| b.contains("多次临时缺席"))),
        "{told:?}"
    );
    let li_places: Vec<String> = roster(&app, &leader, dates[0])
        .await?
        .iter()
        .filter(|e| e["user_id"] == li.user_id)
        .map(|e| e["status"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(li_places, vec!["cancelled"]);
    expect_problem(ask(&app, id, &li).await?, 409, "regular_removed").await?;

    // Wang leaves: the remaining automatic place is given up; a second leave is refused.
    assert_eq!(leave(&app, id, &wang).await?.status().as_u16(), 204);
    let second = roster(&app, &leader, dates[1]).await?;
    assert!(second.iter().any(|e| e["user_id"] == wang.user_id && e["status"] == "cancelled"), "{second:?}");
    assert!(second.iter().any(|e| e["user_id"] == walker.user_id && e["status"] == "confirmed"), "{second:?}");
    expect_problem(leave(&app, id, &wang).await?, 409, "not_a_regular").await?;
    Ok(())
}

/// Done when: regulars being signed up automatically (each one's acceptance, and the job
/// running at the same time) while residents sign up by hand never take more places than
/// a date has; everyone else waits in one unbroken queue; each regular holds one sign-up
/// per date. SQLite and PostgreSQL alike.
#[tokio::test]
async fn regulars_and_a_crowd_never_overbook_a_date() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let created = create(&app, &leader, org, weekly(2, 5, 2, true)).await?;
    let id = id_of(&created)?;
    let dates = date_ids(&created);
    assert_eq!(dates.len(), 2, "{created}");
    let regulars = join_all((0..10).map(|i| app.login_owned(format!("crowd-regular-{i}")))).await;
    let residents = join_all((0..10).map(|i| app.login_owned(format!("crowd-resident-{i}")))).await;
    let regulars: Vec<Session> = regulars.into_iter().collect::<Result<_, _>>()?;
    let residents: Vec<Session> = residents.into_iter().collect::<Result<_, _>>()?;
    let (app_ref, first) = (&app, dates[0]);
    let asks = regulars.iter().map(|r| async move { expect_json(ask(app_ref, id, r).await?, 200).await.map(|_| ()) });
    let manual = residents.iter().map(|r| async move {
        let path = format!("/api/v1/activities/{first}/signups");
        expect_json(app_ref.post(&path, Some(&r.access_token), json!({})).await?, 201).await.map(|_| ())
    });
    let ticks = (0..3).map(|_| async { tick(&app).await.map(|_| ()) });
    let (a, b, c) = tokio::join!(join_all(asks), join_all(manual), join_all(ticks));
    for r in a.into_iter().chain(b).chain(c) {
        r?;
    }
    for (i, d) in dates.iter().enumerate() {
        let r = roster(&app, &leader, *d).await?;
        let confirmed = r.iter().filter(|e| e["status"] == "confirmed").count();
        let mut positions: Vec<i64> = r.iter().filter_map(|e| e["waitlist_position"].as_i64()).collect();
        positions.sort_unstable();
        let expected = if i == 0 { 20 } else { 10 };
        assert_eq!(r.len(), expected, "date {d}: {r:?}");
        assert_eq!(confirmed, 5, "date {d}: {r:?}");
        assert_eq!(positions, (1..=(expected as i64 - 5)).collect::<Vec<_>>(), "date {d}");
        for reg in &regulars {
            let mine: Vec<&Value> = r.iter().filter(|e| e["user_id"] == reg.user_id).collect();
            assert_eq!(mine.len(), 1, "one sign-up per regular per date");
            assert_eq!(mine[0]["regular"], true);
        }
        let a = expect_json(app.get(&format!("/api/v1/activities/{d}"), None).await?, 200).await?;
        assert_eq!(
            (a["places_left"].as_i64(), a["waitlist_length"].as_i64()),
            (Some(0), Some(expected as i64 - 5)),
            "{a}"
        );
    }
    Ok(())
}

/// A regular who does not come to two dates in a row is paused and told, and is not
/// signed up to the dates made after.
#[tokio::test]
async fn two_missed_dates_in_a_row_pause_a_regular() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let created = create(&app, &leader, org, weekly(1, 5, 2, true)).await?;
    let id = id_of(&created)?;
    let zhao = app.login("absent-zhao").await?;
    expect_json(
        app.post(&format!("/api/v1/activity-series/{id}/regulars"), Some(&zhao.access_token), json!({})).await?,
        200,
    )
    .await?;
    let mine = expect_json(app.get("/api/v1/me/signups", Some(&zhao.access_token)).await?, 200).await?;
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(2), "{mine}");
    // Both dates pass unattended and are closed; Zhao is paused at the next run.
    app.clock.advance(Duration::days(9));
    linli_server::service::attendance::finish_overdue(&app.ctx).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let t = tick(&app).await?;
    assert_eq!(t.paused, 1, "{t:?}");
    let (leader, _) = app.demo_leader().await?; // the old tokens have expired
    let zhao = app.login("absent-zhao").await?;
    let s = series(&app, Some(&zhao), id).await?;
    assert_eq!(s["my_regular"]["status"], "paused", "{s}");
    let told = inbox(&app, &zhao).await?;
    assert!(told.iter().any(|n| n["kind"] == "series_regular" && n["title"] == "固定志愿者已暂停"), "{told:?}");
    for d in date_ids(&s) {
        assert!(
            roster(&app, &leader, d).await?.iter().all(|e| e["user_id"] != zhao.user_id),
            "not signed up after the pause"
        );
    }
    // Resuming signs up to the open dates again.
    let resumed = expect_json(
        app.post(&format!("/api/v1/activity-series/{id}/regulars/me/resume"), Some(&zhao.access_token), json!({}))
            .await?,
        200,
    )
    .await?;
    assert_eq!(resumed["status"], "active");
    let first_open = date_ids(&s)[0];
    assert!(
        roster(&app, &leader, first_open)
            .await?
            .iter()
            .any(|e| e["user_id"] == zhao.user_id && e["status"] == "confirmed")
    );
    Ok(())
}

/// Cancelling from a date cancels those dates the usual way (everyone signed up told why)
/// and the series makes no more, then ends; cancelling the rest cancels the series.
#[tokio::test]
async fn cancelling_the_rest_of_a_series() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let created = create(&app, &leader, org, weekly(2, 5, 3, true)).await?;
    let id = id_of(&created)?;
    let resident = app.login("series-resident").await?;
    expect_json(ask(&app, id, &resident).await?, 200).await?;
    let after =
        expect_json(cancel(&app, &leader, id, json!({"from": date(9), "reason": "场地维修"})).await?, 200).await?;
    assert_eq!(after["status"], "active");
    let statuses: Vec<&str> =
        after["dates"].as_array().map(|d| d.iter().filter_map(|d| d["status"].as_str()).collect()).unwrap_or_default();
    assert_eq!(statuses, vec!["published", "cancelled", "cancelled"], "{after}");
    let told = inbox(&app, &resident).await?;
    assert_eq!(told.iter().filter(|n| n["kind"] == "activity_cancelled").count(), 2, "{told:?}");
    // Two weeks on, the rule (ended the day before) gives no date: the series has ended.
    app.clock.advance(Duration::days(14));
    assert_eq!(tick(&app).await?.dates, 0, "the rule ends before the cancelled dates");
    let (leader, _) = app.demo_leader().await?; // the old token has expired
    assert_eq!(series(&app, None, id).await?["status"], "ended");
    expect_problem(cancel(&app, &leader, id, json!({"reason": "再次"})).await?, 409, "invalid_transition").await?;

    // Another series cancelled whole: every date not begun, and the series.
    let other = create(&app, &leader, org, weekly(16, 5, 2, false)).await?; // 2 days ahead of the clock
    let whole = expect_json(cancel(&app, &leader, id_of(&other)?, json!({"reason": "活动结束"})).await?, 200).await?;
    assert_eq!(whole["status"], "cancelled");
    let statuses: Vec<&str> =
        whole["dates"].as_array().map(|d| d.iter().filter_map(|d| d["status"].as_str()).collect()).unwrap_or_default();
    assert_eq!(statuses, vec!["cancelled", "cancelled"], "{whole}");
    assert_eq!(tick(&app).await?.dates, 0, "a cancelled series makes no dates");
    Ok(())
}

/// With a room, every date of a (bounded) series is booked at once, all or nothing: a
/// date another booking holds refuses the series and is listed; otherwise each date links
/// its own booking and waits for the committee, who approves the series whole.
#[tokio::test]
async fn a_series_in_a_room_books_every_date_or_none() -> TestResult {
    let app = spawn_app().await?;
    let s = setup(&app).await?;
    let mut body = weekly(3, 20, 2, false);
    body["activity"]["venue_id"] = json!(s.venue);
    body["activity"]["location"] = Value::Null;
    body["activity"]["starts_at"] = json!(at(3, 19, 0));
    body["activity"]["ends_at"] = json!(at(3, 21, 0));
    let path = format!("/api/v1/organizations/{}/activity-series", s.org);
    let open =
        expect_problem(app.post(&path, Some(&s.leader.access_token), body.clone()).await?, 422, "validation_failed")
            .await?;
    assert_eq!(open["errors"][0]["code"], "room_needs_end", "{open}");
    body["recurrence"]["count"] = json!(3);
    // Someone holds the room on the second date.
    let held = crate::venues::booking(s.org, at(10, 20, 0), at(10, 21, 0));
    expect_json(crate::venues::request(&app, &s.leader, s.venue, held).await?, 201).await?;
    let refused =
        expect_problem(app.post(&path, Some(&s.leader.access_token), body.clone()).await?, 409, "series_refused")
            .await?;
    assert_eq!(refused["errors"].as_array().map(Vec::len), Some(1), "{refused}");
    assert_eq!(
        (refused["errors"][0]["field"].as_str(), refused["errors"][0]["code"].as_str()),
        (Some(date(10).as_str()), Some("venue_taken"))
    );
    let list = expect_json(app.get(&path, Some(&s.leader.access_token)).await?, 200).await?;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0), "nothing made: {list}");

    // An hour earlier every date is free: booked whole, the dates wait for approval.
    body["activity"]["starts_at"] = json!(at(3, 17, 0));
    body["activity"]["ends_at"] = json!(at(3, 19, 0));
    let created = expect_json(app.post(&path, Some(&s.leader.access_token), body).await?, 201).await?;
    let statuses: Vec<&str> = created["dates"]
        .as_array()
        .map(|d| d.iter().filter_map(|d| d["status"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(statuses, vec!["held", "held"], "{created}");
    let booked = created["venue_series_id"].as_i64().unwrap_or_default();
    let room =
        expect_json(app.get(&format!("/api/v1/venue-series/{booked}"), Some(&s.leader.access_token)).await?, 200)
            .await?;
    assert_eq!(room["bookings"].as_array().map(Vec::len), Some(3), "every date booked: {room}");
    expect_json(
        app.post(
            &format!("/api/v1/venue-series/{booked}/review"),
            Some(&s.committee.access_token),
            json!({"decision": "approve"}),
        )
        .await?,
        200,
    )
    .await?;
    let after = series(&app, None, id_of(&created)?).await?;
    let statuses: Vec<&str> =
        after["dates"].as_array().map(|d| d.iter().filter_map(|d| d["status"].as_str()).collect()).unwrap_or_default();
    assert_eq!(statuses, vec!["published", "published"], "{after}");
    Ok(())
}

/// Each role-scoped endpoint refuses the wrong role: a resident and the committee over
/// the community may not post, cancel, list, decide or remove; without a session nobody
/// asks to be a regular.
#[tokio::test]
async fn wrong_roles_are_refused_on_every_series_endpoint() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let created = create(&app, &leader, org, weekly(2, 5, 1, false)).await?;
    let id = id_of(&created)?;
    let resident = app.login("nosy-resident").await?;
    let committee = app.login_openid("demo-committee").await?;
    expect_json(
        app.post(&format!("/api/v1/activity-series/{id}/regulars"), Some(&resident.access_token), json!({})).await?,
        200,
    )
    .await?;
    for who in [&resident, &committee] {
        let t = Some(who.access_token.as_str());
        let post = format!("/api/v1/organizations/{org}/activity-series");
        expect_problem(app.post(&post, t, weekly(2, 5, 1, false)).await?, 403, "forbidden").await?;
        expect_problem(
            app.post(&format!("/api/v1/activity-series/{id}/cancel"), t, json!({"reason": "不行"})).await?,
            403,
            "forbidden",
        )
        .await?;
        expect_problem(app.get(&format!("/api/v1/activity-series/{id}/regulars"), t).await?, 403, "forbidden").await?;
        let decide = format!("/api/v1/activity-series/{id}/regulars/{}/decision", resident.user_id);
        expect_problem(app.post(&decide, t, json!({"decision": "accept"})).await?, 403, "forbidden").await?;
        let remove = format!("/api/v1/activity-series/{id}/regulars/{}/remove", resident.user_id);
        expect_problem(app.post(&remove, t, json!({"reason": "不行"})).await?, 403, "forbidden").await?;
    }
    expect_problem(
        app.post(&format!("/api/v1/activity-series/{id}/regulars"), None, json!({})).await?,
        401,
        "unauthenticated",
    )
    .await?;
    expect_problem(
        app.delete(&format!("/api/v1/activity-series/{id}/regulars/me"), Some(&committee.access_token)).await?,
        409,
        "not_a_regular",
    )
    .await?;
    // The public view hides the regulars list but shows the dates.
    let public = series(&app, None, id).await?;
    assert_eq!(public["dates"].as_array().map(Vec::len), Some(1), "{public}");
    let regulars =
        expect_json(app.get(&format!("/api/v1/activity-series/{id}/regulars"), Some(&leader.access_token)).await?, 200)
            .await?;
    assert_eq!(regulars["items"][0]["status"], "requested", "{regulars}");
    Ok(())
}

/// Editing "all" or "this and following": the dates reached move to the new local time
/// (their residents told), a date edited on its own keeps its own values, later dates copy
/// the new template, and a change one date cannot take refuses the whole edit.
#[tokio::test]
async fn editing_all_dates_or_the_following_ones() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let created = create(&app, &leader, org, weekly(2, 3, 3, true)).await?;
    let id = id_of(&created)?;
    let dates = date_ids(&created);
    assert_eq!(dates.len(), 3);
    let resident = app.login("edit-resident").await?;
    expect_json(ask(&app, id, &resident).await?, 200).await?;
    // The second date is edited on its own.
    let own = json!({"title": "社区清扫（特别场）"});
    expect_json(app.patch(&format!("/api/v1/activities/{}", dates[1]), Some(&leader.access_token), own).await?, 200)
        .await?;
    let path = format!("/api/v1/activity-series/{id}");
    let edit = |body: Value| app.patch(&path, Some(&leader.access_token), body);

    // Fewer places than confirmed on a date: refused whole, that date named, nothing changed.
    let walker = app.login("edit-walker").await?;
    let signup = format!("/api/v1/activities/{}/signups", dates[0]);
    expect_json(app.post(&signup, Some(&walker.access_token), json!({})).await?, 201).await?;
    let refused =
        expect_problem(edit(json!({"scope": "all", "changes": {"capacity": 1}})).await?, 409, "series_refused").await?;
    assert_eq!(refused["errors"].as_array().map(Vec::len), Some(1), "{refused}");
    assert_eq!(refused["errors"][0]["field"], date(2), "{refused}");
    assert_eq!(series(&app, None, id).await?["capacity"], 3, "nothing changed");
    let bad =
        expect_problem(edit(json!({"scope": "all", "changes": {"capacity": 0}})).await?, 422, "validation_failed")
            .await?;
    assert_eq!(bad["errors"][0]["field"], "changes.capacity", "{bad}");

    let all = expect_json(
        edit(json!({"scope": "all", "start_time": "09:30", "changes": {"title": "每周六社区大扫除"}})).await?,
        200,
    )
    .await?;
    assert_eq!(all["title"], "每周六社区大扫除");
    let starts: Vec<&str> =
        all["dates"].as_array().map(|d| d.iter().filter_map(|d| d["starts_at"].as_str()).collect()).unwrap_or_default();
    assert_eq!(starts, vec![at(2, 9, 30).as_str(), at(9, 9, 0).as_str(), at(16, 9, 30).as_str()], "{all}");
    let second = expect_json(app.get(&format!("/api/v1/activities/{}", dates[1]), None).await?, 200).await?;
    assert_eq!(second["title"], "社区清扫（特别场）", "edited alone, kept");
    let told = inbox(&app, &resident).await?;
    assert_eq!(told.iter().filter(|n| n["kind"] == "activity_changed").count(), 2, "{told:?}");

    // "This and following" from the third date: only it changes.
    let following = json!({"scope": "following", "from": date(16), "changes": {"capacity": 8}});
    let after = expect_json(edit(following).await?, 200).await?;
    let places: Vec<i64> = after["dates"]
        .as_array()
        .map(|d| d.iter().filter_map(|d| d["places_left"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(places, vec![1, 2, 7], "{after}");
    // Later dates copy the template: 09:30, 8 places.
    app.clock.advance(Duration::days(7));
    assert_eq!(tick(&app).await?.dates, 1);
    let (leader, _) = app.demo_leader().await?;
    let s = series(&app, Some(&leader), id).await?;
    let last = s["dates"].as_array().and_then(|d| d.last().cloned()).unwrap_or_default();
    assert_eq!(
        (last["starts_at"].as_str(), last["places_left"].as_i64()),
        (Some(at(23, 9, 30).as_str()), Some(7)),
        "{s}"
    );
    Ok(())
}

/// A pause until a date ends by itself the day after: the job makes the regular active
/// again and signs them up to the open dates they have no sign-up on.
#[tokio::test]
async fn a_pause_ends_after_its_date() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let id = id_of(&create(&app, &leader, org, weekly(2, 5, 2, true)).await?)?;
    let qian = app.login("pausing-qian").await?;
    let joined = expect_json(ask(&app, id, &qian).await?, 200).await?;
    assert_eq!(joined["status"], "active");
    let told = inbox(&app, &qian).await?;
    assert!(told.iter().any(|n| n["kind"] == "series_regular"), "told once on joining: {told:?}");
    assert!(!told.iter().any(|n| n["kind"] == "signup_confirmed"), "not on each date: {told:?}");
    let pause = format!("/api/v1/activity-series/{id}/regulars/me/pause");
    let past = json!({"until": date(-1)});
    expect_problem(app.post(&pause, Some(&qian.access_token), past).await?, 422, "validation_failed").await?;
    expect_json(app.post(&pause, Some(&qian.access_token), json!({"until": date(9)})).await?, 200).await?;
    app.clock.advance(Duration::days(10));
    let t = tick(&app).await?;
    assert_eq!(t.resumed, 1, "{t:?}");
    let qian = app.login("pausing-qian").await?;
    let s = series(&app, Some(&qian), id).await?;
    assert_eq!(s["my_regular"]["status"], "active", "{s}");
    let (leader, _) = app.demo_leader().await?;
    let last = date_ids(&s).last().copied().unwrap_or_default();
    let r = roster(&app, &leader, last).await?;
    assert!(r.iter().any(|e| e["user_id"] == qian.user_id && e["status"] == "confirmed"), "{r:?}");
    Ok(())
}
