//! Calendars (issue 18, part 4): a resident's private iCalendar feed, read back by a
//! third-party parser (Python's `icalendar`), and the phone-calendar fields of an activity.

use std::{
    io::Write,
    path::PathBuf,
    process::{Command, Stdio},
};

use anyhow::{Context, anyhow};
use chrono::{DateTime, Duration, Utc};
use linli_tests::{Session, TestApp, TestResult, expect_json, expect_problem, spawn_app};
use serde_json::{Value, json};

/// Fifty-eight characters (titles are at most 60): 174 octets in UTF-8, so its line folds.
const LONG_TITLE: &str = "金塔巷社区夕阳红志愿服务队组织的老年人健康讲座与免费义诊活动欢迎各位居民朋友踊跃报名参加活动地点在社区卫生服务站二楼";

/// Reads an iCalendar document with Python's `icalendar` and answers what it understood.
const PARSE: &str = r#"
import json, sys
import icalendar
cal = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
out = {"calendar": {k: str(v.to_ical(), "utf-8") if hasattr(v, "to_ical") else str(v) for k, v in cal.property_items(recursive=False)}, "events": []}
for e in cal.walk("VEVENT"):
    out["events"].append({
        "uid": str(e.get("UID")),
        "summary": str(e.get("SUMMARY")),
        "description": str(e.get("DESCRIPTION")),
        "location": str(e.get("LOCATION")),
        "status": str(e.get("STATUS")),
        "sequence": int(e.get("SEQUENCE")),
        "dtstart": e.decoded("DTSTART").isoformat(),
        "dtend": e.decoded("DTEND").isoformat(),
    })
print(json.dumps(out, ensure_ascii=False))
"#;

/// A Python with `icalendar`: `LINLI_ICAL_PYTHON` (what `.ci/run` sets), or a virtualenv
/// made once under the CI tools' folder.
fn ical_python() -> anyhow::Result<PathBuf> {
    static READY: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);
    let mut ready = READY.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = ready.as_ref() {
        return Ok(p.clone());
    }
    let python = match std::env::var("LINLI_ICAL_PYTHON") {
        Ok(p) => PathBuf::from(p),
        Err(_) => {
            let tools = std::env::var("LINLI_CI_TOOLS").unwrap_or_else(|_| "/var/tmp/linli-ci-tools".into());
            let dir = PathBuf::from(tools).join("icalendar");
            let python = dir.join("bin/python");
            let has = Command::new(&python)
                .args(["-c", "import icalendar"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !has {
                let made = Command::new("python3").arg("-m").arg("venv").arg(&dir).status()?;
                anyhow::ensure!(made.success(), "python3 -m venv failed");
                let pip = Command::new(dir.join("bin/pip"))
                    .args(["install", "-q", "--disable-pip-version-check", "icalendar==7.3.0"])
                    .status()?;
                anyhow::ensure!(pip.success(), "pip install icalendar failed");
            }
            python
        }
    };
    *ready = Some(python.clone());
    Ok(python)
}

fn parse_blocking(ics: String) -> anyhow::Result<Value> {
    let python = ical_python()?;
    let mut child = Command::new(python)
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting python")?;
    let mut stdin = child.stdin.take().ok_or_else(|| anyhow!("no stdin"))?;
    stdin.write_all(ics.as_bytes())?;
    drop(stdin);
    let out = child.wait_with_output()?;
    anyhow::ensure!(
        out.status.success(),
        "icalendar refused the feed: {}\n{ics}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}

async fn parse(ics: &str) -> anyhow::Result<Value> {
    let ics = ics.to_owned();
    tokio::task::spawn_blocking(move || parse_blocking(ics)).await?
}

fn body(title: &str, capacity: i64, starts_in_hours: i64) -> Value {
    let start = Utc::now() + Duration::hours(starts_in_hours);
    json!({
        "kind": "volunteer", "title": title, "location": "金塔巷社区卫生服务站",
        "description": "请带好医保卡; 有问题, 联系社区",
        "starts_at": start.to_rfc3339(), "ends_at": (start + Duration::hours(2)).to_rfc3339(),
        "capacity": capacity,
    })
}

async fn sign_up(app: &TestApp, who: &Session, activity: i64) -> anyhow::Result<Value> {
    let resp =
        app.post(&format!("/api/v1/activities/{activity}/signups"), Some(&who.access_token), Value::Null).await?;
    let status = resp.status().as_u16();
    let v: Value = resp.json().await?;
    anyhow::ensure!(status == 200 || status == 201, "sign-up: {status} {v}");
    Ok(v)
}

async fn make_feed(app: &TestApp, who: &Session) -> anyhow::Result<Value> {
    expect_json(app.post("/api/v1/me/calendar", Some(&who.access_token), Value::Null).await?, 201).await
}

async fn read_feed(app: &TestApp, path: &str) -> anyhow::Result<String> {
    let resp = app.get(path, None).await?;
    anyhow::ensure!(resp.status() == 200, "feed: {}", resp.status());
    let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    anyhow::ensure!(ct == "text/calendar; charset=utf-8", "content type {ct}");
    Ok(resp.text().await?)
}

fn event<'a>(parsed: &'a Value, title_part: &str) -> anyhow::Result<&'a Value> {
    parsed["events"]
        .as_array()
        .and_then(|es| es.iter().find(|e| e["summary"].as_str().is_some_and(|s| s.contains(title_part))))
        .ok_or_else(|| anyhow!("no event {title_part} in {parsed}"))
}

/// A resident's feed holds their confirmed and waitlisted activities (a long Chinese title
/// folded and read back whole by Python's `icalendar`), in UTC with a one-hour refresh;
/// a cancellation shows as `STATUS:CANCELLED` with a higher `SEQUENCE` under the same UID,
/// a move as the activity's new version; nothing names another resident; rotating ends the
/// old address and keeps the UIDs; removing it ends it; an unknown token is 404.
#[tokio::test]
async fn a_residents_feed_parses_and_follows_changes() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let long = app.publish(&leader, org, body(LONG_TITLE, 5, 48)).await?;
    let full = app.publish(&leader, org, body("楼道清扫", 1, 72)).await?;
    let not_mine = app.publish(&leader, org, body("象棋比赛", 5, 96)).await?;
    let resident = app.login("calendar-resident").await?;
    let neighbour = app.login("calendar-neighbour").await?;
    expect_json(app.patch("/api/v1/me", Some(&neighbour.access_token), json!({"nickname": "隔壁老王"})).await?, 200)
        .await?;
    sign_up(&app, &neighbour, full).await?;
    sign_up(&app, &neighbour, long).await?;
    sign_up(&app, &neighbour, not_mine).await?;
    assert_eq!(sign_up(&app, &resident, long).await?["status"], "confirmed");
    assert_eq!(sign_up(&app, &resident, full).await?["status"], "waitlisted");

    // Unknown, malformed and absent feeds.
    expect_problem(app.get(&format!("/api/v1/calendar/{}.ics", "ab".repeat(32)), None).await?, 404, "not_found")
        .await?;
    expect_problem(app.get("/api/v1/calendar/nope.ics", None).await?, 404, "not_found").await?;
    expect_problem(app.post("/api/v1/me/calendar", None, Value::Null).await?, 401, "unauthenticated").await?;

    let made = make_feed(&app, &resident).await?;
    let path = made["path"].as_str().unwrap_or_default().to_owned();
    assert!(path.starts_with("/api/v1/calendar/") && path.ends_with(".ics"), "{made}");
    assert!(made["url"].as_str().is_some_and(|u| u.starts_with("http") && u.ends_with(&path)), "{made}");
    assert!(made["webcal_url"].as_str().is_some_and(|u| u.starts_with("webcal://")), "{made}");
    assert_eq!(made["refresh_interval"], "PT1H");

    let ics = read_feed(&app, &path).await?;
    assert!(ics.contains("REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n"), "{ics}");
    assert!(ics.contains("X-PUBLISHED-TTL:PT1H\r\n"), "{ics}");
    assert!(ics.lines().all(|l| l.len() <= 76), "lines are folded at 75 octets: {ics}");
    assert!(!ics.contains("隔壁老王") && !ics.contains("象棋比赛"), "nothing about other residents: {ics}");
    let parsed = parse(&ics).await?;
    assert_eq!(parsed["events"].as_array().map(Vec::len), Some(2), "{parsed}");
    let e = event(&parsed, LONG_TITLE)?;
    assert_eq!(e["summary"], LONG_TITLE, "the folded title reads back whole");
    assert_eq!(e["status"], "CONFIRMED");
    assert_eq!(e["sequence"], 1);
    assert_eq!(e["location"], "金塔巷社区卫生服务站");
    assert!(e["description"].as_str().is_some_and(|d| d.starts_with("请带好医保卡; 有问题, 联系社区")), "{e}");
    let detail = expect_json(app.get(&format!("/api/v1/activities/{long}"), None).await?, 200).await?;
    let start = DateTime::parse_from_rfc3339(detail["starts_at"].as_str().unwrap_or_default())?.with_timezone(&Utc);
    let dtstart = DateTime::parse_from_rfc3339(e["dtstart"].as_str().unwrap_or_default())?;
    assert_eq!(dtstart.timestamp(), start.timestamp());
    assert_eq!(dtstart.offset().local_minus_utc(), 0, "times in UTC");
    let queued = event(&parsed, "楼道清扫")?;
    assert_eq!(queued["status"], "TENTATIVE", "waitlisted: {queued}");
    assert!(queued["summary"].as_str().is_some_and(|s| s.contains("候补")), "{queued}");
    let uid = e["uid"].as_str().unwrap_or_default().to_owned();

    // The neighbour's feed names the same activity under another UID.
    let theirs = make_feed(&app, &neighbour).await?;
    let their_parsed = parse(&read_feed(&app, theirs["path"].as_str().unwrap_or_default()).await?).await?;
    assert_ne!(event(&their_parsed, LONG_TITLE)?["uid"], uid.as_str());

    // The phone-calendar fields of the activity.
    let phone = &detail["phone_calendar"];
    assert_eq!(phone["title"], LONG_TITLE);
    assert_eq!(phone["start_time"], start.timestamp());
    assert_eq!(phone["end_time"], start.timestamp() + 7200);
    assert_eq!(phone["location"], "金塔巷社区卫生服务站");
    assert_eq!(phone["alarm"], true);
    assert_eq!(phone["alarm_offset"], 3600);
    assert!(phone["description"].as_str().is_some_and(|d| d.contains("请带好医保卡")), "{phone}");

    // A move bumps the version; a cancellation marks the event and bumps the sequence.
    let new_start = Utc::now() + Duration::hours(80);
    expect_json(
        app.patch(
            &format!("/api/v1/activities/{full}"),
            Some(&leader.access_token),
            json!({"starts_at": new_start.to_rfc3339(), "ends_at": (new_start + Duration::hours(2)).to_rfc3339()}),
        )
        .await?,
        200,
    )
    .await?;
    expect_json(
        app.post(&format!("/api/v1/activities/{long}/cancel"), Some(&leader.access_token), json!({"reason": "大风"}))
            .await?,
        200,
    )
    .await?;
    let parsed = parse(&read_feed(&app, &path).await?).await?;
    let e = event(&parsed, LONG_TITLE)?;
    assert_eq!(e["uid"], uid.as_str(), "the same event");
    assert_eq!(e["status"], "CANCELLED");
    assert_eq!(e["sequence"], 2);
    assert!(e["description"].as_str().is_some_and(|d| d.contains("大风")), "{e}");
    let moved = event(&parsed, "楼道清扫")?;
    assert_eq!(moved["sequence"], 2, "{moved}");
    assert_eq!(
        DateTime::parse_from_rfc3339(moved["dtstart"].as_str().unwrap_or_default())?.timestamp(),
        new_start.timestamp()
    );

    // Rotating: the old address is gone, the new one has the same UIDs.
    let rotated = make_feed(&app, &resident).await?;
    let new_path = rotated["path"].as_str().unwrap_or_default().to_owned();
    assert_ne!(new_path, path);
    expect_problem(app.get(&path, None).await?, 404, "not_found").await?;
    let parsed = parse(&read_feed(&app, &new_path).await?).await?;
    assert_eq!(event(&parsed, LONG_TITLE)?["uid"], uid.as_str());

    // Removing it.
    let resp = app.delete("/api/v1/me/calendar", Some(&resident.access_token)).await?;
    assert_eq!(resp.status(), 204);
    expect_problem(app.get(&new_path, None).await?, 404, "not_found").await?;
    let again = app.delete("/api/v1/me/calendar", Some(&resident.access_token)).await?;
    assert_eq!(again.status(), 204, "removing none is no error");
    expect_problem(app.delete("/api/v1/me/calendar", None).await?, 401, "unauthenticated").await?;
    Ok(())
}

/// Deleting the account ends the feed.
#[tokio::test]
async fn a_deleted_account_has_no_feed() -> TestResult {
    let app = spawn_app().await?;
    let resident = app.login("calendar-leaver").await?;
    let made = make_feed(&app, &resident).await?;
    let path = made["path"].as_str().unwrap_or_default().to_owned();
    read_feed(&app, &path).await?;
    let resp = app.delete("/api/v1/me", Some(&resident.access_token)).await?;
    assert!(resp.status().is_success(), "{}", resp.status());
    expect_problem(app.get(&path, None).await?, 404, "not_found").await?;
    Ok(())
}
