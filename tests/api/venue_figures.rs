//! Figures of shared rooms: per venue and month in a region's metrics and its export.

use std::io::Read;

use linli_tests::{TestResult, expect_json, expect_problem, spawn_app};
use serde_json::{Value, json};

use crate::venues::{at, booking, enc, request, setup};

/// A file of an xlsx workbook (a zip), as text.
fn part(xlsx: &[u8], name: &str) -> anyhow::Result<String> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(xlsx))?;
    let mut out = String::new();
    zip.by_name(name)?.read_to_string(&mut out)?;
    Ok(out)
}

/// Over a week: the room opens 08:00–22:00 every day (840 minutes), one day is closed,
/// one two-hour booking is approved and an activity is held in it. The community's
/// metrics give the room's open and booked minutes, utilisation, bookings by organization
/// and category and the activity; the export has the rooms' sheets.
#[tokio::test]
async fn room_use_is_counted_per_venue_and_month() -> TestResult {
    let app = spawn_app().await?;
    let s = setup(&app).await?;
    let t = &s.committee.access_token;
    let b =
        expect_json(request(&app, &s.leader, s.venue, booking(s.org, at(3, 9, 0), at(3, 11, 0))).await?, 201).await?;
    let id = b["id"].as_i64().unwrap_or_default();
    expect_json(
        app.post(&format!("/api/v1/venue-bookings/{id}/review"), Some(t), json!({"decision": "approve"})).await?,
        200,
    )
    .await?;
    // A rejected request and a closed day count for nothing.
    let other =
        expect_json(request(&app, &s.leader, s.venue, booking(s.org, at(4, 9, 0), at(4, 11, 0))).await?, 201).await?;
    let other_id = other["id"].as_i64().unwrap_or_default();
    expect_json(
        app.post(
            &format!("/api/v1/venue-bookings/{other_id}/review"),
            Some(t),
            json!({"decision": "reject", "reason": "冲突"}),
        )
        .await?,
        200,
    )
    .await?;
    let closure = json!({"starts_at": at(5, 0, 0), "ends_at": at(6, 0, 0), "reason": "消防检查"});
    expect_json(app.post(&format!("/api/v1/venues/{}/closures", s.venue), Some(t), closure).await?, 201).await?;
    let act = expect_json(
        app.post(
            &format!("/api/v1/organizations/{}/activities", s.org),
            Some(&s.leader.access_token),
            json!({"kind": "culture_sports", "title": "手工编织课", "venue_id": s.venue,
                   "starts_at": at(3, 9, 0), "ends_at": at(3, 11, 0), "capacity": 15}),
        )
        .await?,
        201,
    )
    .await?;
    let act_id = act["id"].as_i64().unwrap_or_default();
    let published = expect_json(
        app.post(&format!("/api/v1/activities/{act_id}/publish"), Some(&s.leader.access_token), Value::Null).await?,
        200,
    )
    .await?;
    assert_eq!(published["status"], "published");

    let period = format!("from={}&to={}", enc(&at(1, 0, 0)), enc(&at(8, 0, 0)));
    let m =
        expect_json(app.get(&format!("/api/v1/regions/{}/metrics?{period}", s.community), Some(t)).await?, 200).await?;
    let room = m["rooms"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["venue_id"] == s.venue).cloned())
        .ok_or_else(|| anyhow::anyhow!("no room figures: {m}"))?;
    assert_eq!(room["open_minutes"], 6 * 840, "seven days, one closed: {room}");
    assert_eq!(room["booked_minutes"], 120);
    assert_eq!(room["utilisation"], 0.024);
    assert_eq!(room["bookings"], 1);
    assert_eq!(room["activities"], 1);
    assert_eq!(room["by_organization"][0]["organization_id"], s.org);
    assert_eq!(room["by_organization"][0]["booked_minutes"], 120);
    assert_eq!(
        room["bookings_by_category"].as_object().map(|c| c.values().filter_map(Value::as_i64).sum::<i64>()),
        Some(1)
    );
    let months = room["monthly"].as_array().cloned().unwrap_or_default();
    assert!(!months.is_empty() && months.len() <= 2, "{room}");
    assert_eq!(months.iter().filter_map(|m| m["open_minutes"].as_i64()).sum::<i64>(), 6 * 840);
    let community = &m["communities"][0];
    assert!(community["rooms"].as_i64().is_some_and(|n| n >= 1), "{community}");
    assert!(community["room_booked_minutes"].as_i64().is_some_and(|n| n >= 120), "{community}");
    assert!(community["room_utilisation"].as_f64().is_some_and(|u| (0.0..=1.0).contains(&u)), "{community}");

    // The street sees the same room; a resident sees no figures.
    let street = app.login_openid("demo-street").await?;
    let street_id = app.region("620102002000").await?;
    let sm = expect_json(
        app.get(&format!("/api/v1/regions/{street_id}/metrics?{period}"), Some(&street.access_token)).await?,
        200,
    )
    .await?;
    assert!(
        sm["rooms"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["venue_id"] == s.venue && r["booked_minutes"] == 120))
    );
    let resident = app.login("figures-resident").await?;
    let r = app.get(&format!("/api/v1/regions/{}/metrics?{period}", s.community), Some(&resident.access_token)).await?;
    expect_problem(r, 403, "forbidden").await?;

    let xlsx =
        app.get(&format!("/api/v1/regions/{}/metrics/export?{period}&format=xlsx", s.community), Some(t)).await?;
    assert_eq!(xlsx.status(), 200);
    let bytes = xlsx.bytes().await?;
    let workbook = part(&bytes, "xl/workbook.xml")?;
    assert!(workbook.contains("场地使用") && workbook.contains("场地预约按组织"), "{workbook}");
    let strings = part(&bytes, "xl/sharedStrings.xml")?;
    assert!(strings.contains("开放时长(小时)") && strings.contains("使用率") && strings.contains("2.4%"), "{strings}");
    Ok(())
}
