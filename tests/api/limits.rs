//! Rate limits, and Redis going away and coming back.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use linli_tests::{TestApp, TestResult, expect_json, expect_problem, free_port, spawn_app_with};
use serde_json::json;

/// Waits out the end of a one-minute window, so a test's hits fall in one window.
async fn fresh_window() {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    if 60 - secs % 60 < 5 {
        tokio::time::sleep(Duration::from_secs(60 - secs % 60 + 1)).await;
    }
}

async fn regions(app: &TestApp, xff: Option<&str>) -> anyhow::Result<reqwest::Response> {
    let mut req = app.client.get(app.url("/api/v1/regions"));
    if let Some(x) = xff {
        req = req.header("x-forwarded-for", x);
    }
    Ok(req.send().await?)
}

#[tokio::test]
async fn callers_are_limited_per_minute_with_retry_after() -> TestResult {
    let app = spawn_app_with(|v| {
        v.insert("RATE_LIMIT_PER_MINUTE".into(), "5".into());
        v.insert("LOGIN_RATE_LIMIT_PER_MINUTE".into(), "2".into());
    })
    .await?;
    fresh_window().await;
    let who = app.login("limited").await?; // one hit on the address
    for _ in 0..4 {
        expect_json(regions(&app, None).await?, 200).await?;
    }
    let resp = regions(&app, None).await?;
    let retry_after =
        resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    expect_problem(resp, 429, "rate_limited").await?;
    assert!(retry_after.is_some_and(|s| (1..=60).contains(&s)), "{retry_after:?}");
    // A spoofed X-Forwarded-For from an untrusted peer buys nothing.
    expect_problem(regions(&app, Some("203.0.113.9")).await?, 429, "rate_limited").await?;
    // The signed-in user has a bucket of their own; probes are never limited.
    for _ in 0..5 {
        expect_json(app.get("/api/v1/me", Some(&who.access_token)).await?, 200).await?;
    }
    expect_problem(app.get("/api/v1/me", Some(&who.access_token)).await?, 429, "rate_limited").await?;
    for _ in 0..10 {
        assert_eq!(app.get("/healthz", None).await?.status().as_u16(), 200);
    }
    // Login has its own, per address.
    let login = |code: &'static str| app.post("/api/v1/auth/wechat/login", None, json!({"code": code}));
    expect_problem(login("second").await?, 429, "rate_limited").await?;
    Ok(())
}

#[tokio::test]
async fn trusted_proxies_pass_the_client_address_and_zero_turns_limits_off() -> TestResult {
    let app = spawn_app_with(|v| {
        v.insert("RATE_LIMIT_PER_MINUTE".into(), "3".into());
        v.insert("TRUSTED_PROXIES".into(), "127.0.0.1, ::1".into());
    })
    .await?;
    fresh_window().await;
    for _ in 0..3 {
        expect_json(regions(&app, Some("198.51.100.1")).await?, 200).await?;
    }
    expect_problem(regions(&app, Some("198.51.100.1")).await?, 429, "rate_limited").await?;
    // Another resident behind the same proxy is another caller.
    expect_json(regions(&app, Some("198.51.100.2")).await?, 200).await?;

    let open = spawn_app_with(|v| {
        v.insert("RATE_LIMIT_PER_MINUTE".into(), "0".into());
    })
    .await?;
    for _ in 0..50 {
        expect_json(regions(&open, None).await?, 200).await?;
    }
    Ok(())
}

struct RedisProcess(Child);

impl Drop for RedisProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis(port: u16) -> Option<RedisProcess> {
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(RedisProcess(child));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

async fn readiness(app: &TestApp) -> anyhow::Result<serde_json::Value> {
    expect_json(app.get("/readyz", None).await?, 200).await
}

#[tokio::test]
async fn redis_killed_under_load_degrades_and_comes_back_without_a_restart() -> TestResult {
    let port = free_port();
    let Some(redis) = start_redis(port) else {
        eprintln!("redis-server is not installed here; .ci/run installs it");
        return Ok(());
    };
    let app = spawn_app_with(|v| {
        v.insert("REDIS_URL".into(), format!("redis://127.0.0.1:{port}"));
        v.insert("RATE_LIMIT_PER_MINUTE".into(), "1000".into());
    })
    .await?;
    assert_eq!(readiness(&app).await?["redis"], "ok");
    let (leader, org) = app.demo_leader().await?;
    let start = chrono::Utc::now() + chrono::Duration::hours(48);
    let body = json!({"kind": "volunteer", "title": "Redis 故障", "location": "活动室", "starts_at": start.to_rfc3339(),
        "ends_at": (start + chrono::Duration::hours(1)).to_rfc3339(), "capacity": 100});
    let id = app.publish(&leader, org, body).await?;

    // Kill Redis in the middle of a stream of sign-ups and reads.
    let mut confirmed = 0;
    let mut redis = Some(redis);
    for i in 0..40 {
        if i == 20 {
            drop(redis.take()); // kills it
        }
        let who = app.login(&format!("degraded-{i}")).await?;
        let resp = app.post(&format!("/api/v1/activities/{id}/signups"), Some(&who.access_token), json!({})).await?;
        let body = expect_json(resp, 201).await?;
        if body["status"] == "confirmed" {
            confirmed += 1;
        }
        expect_json(app.get("/api/v1/organizations?limit=5", None).await?, 200).await?;
    }
    assert_eq!(confirmed, 40, "every sign-up is there");
    let ready = readiness(&app).await?;
    assert_eq!((ready["status"].as_str(), ready["redis"].as_str()), (Some("degraded"), Some("down")));
    let metrics = app.metrics().await?;
    assert!(metrics.contains("linli_redis_up 0"), "the metric says so");

    // Redis returns on the same port: picked up again, no restart.
    let _again = start_redis(port).ok_or_else(|| anyhow::anyhow!("redis did not restart"))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if readiness(&app).await?["redis"] == "ok" {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "Redis was not picked up again");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let detail = expect_json(app.get(&format!("/api/v1/activities/{id}"), None).await?, 200).await?;
    assert_eq!(detail["places_left"], 60);
    Ok(())
}

#[tokio::test]
async fn public_lists_are_cached_and_a_write_on_any_replica_invalidates_them() -> TestResult {
    let apps = linli_tests::spawn_replicas(2, |v| {
        v.insert("PUBLIC_CACHE_TTL".into(), "60s".into());
    })
    .await?;
    let (a, b) = (&apps[0], &apps[1]);
    let list = |app: &TestApp| {
        let client = app.client.clone();
        let url = app.url("/api/v1/activities?limit=100");
        async move { anyhow::Ok(client.get(url).send().await?) }
    };
    let first = list(b).await?;
    assert!(first.headers().get("x-cache").is_none());
    let before = expect_json(first, 200).await?;
    let second = list(b).await?;
    assert_eq!(second.headers().get("x-cache").and_then(|v| v.to_str().ok()), Some("hit"));
    assert_eq!(expect_json(second, 200).await?, before);

    // A sign-up on replica A changes places_left: B's cached list must not show the old one.
    let id = before["items"][0]["id"].as_i64().unwrap_or_default();
    let places = before["items"][0]["places_left"].as_i64().unwrap_or_default();
    let who = a.login("cache-buster").await?;
    expect_json(a.post(&format!("/api/v1/activities/{id}/signups"), Some(&who.access_token), json!({})).await?, 201)
        .await?;
    let shared_redis = std::env::var("TEST_REDIS_URL").is_ok();
    if shared_redis {
        // The bump is announced through Redis pub/sub: B drops its copy within milliseconds.
        let mut after = list(b).await?;
        for _ in 0..50 {
            if after.headers().get("x-cache").is_none() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            after = list(b).await?;
        }
        assert!(after.headers().get("x-cache").is_none(), "invalidated across replicas through Redis");
        let body = expect_json(after, 200).await?;
        let item = body["items"].as_array().into_iter().flatten().find(|i| i["id"] == id).cloned().unwrap_or_default();
        assert_eq!(item["places_left"].as_i64(), Some(places - 1));
    }
    // On the replica that took the write, always fresh.
    let body = expect_json(list(a).await?, 200).await?;
    let item = body["items"].as_array().into_iter().flatten().find(|i| i["id"] == id).cloned().unwrap_or_default();
    assert_eq!(item["places_left"].as_i64(), Some(places - 1));
    // The lists hold nothing personal: signed-in reads get the same cached copy.
    let signed = a.client.get(a.url("/api/v1/activities?limit=100")).bearer_auth(&who.access_token).send().await?;
    assert_eq!(signed.headers().get("x-cache").and_then(|v| v.to_str().ok()), Some("hit"));
    assert_eq!(expect_json(signed, 200).await?, body);
    // A role-scoped read under the same prefix is never cached, signed in or not.
    let metrics = a.client.get(a.url("/api/v1/regions/1/metrics")).bearer_auth(&who.access_token).send().await?;
    assert!(metrics.headers().get("x-cache").is_none());
    expect_problem(metrics, 403, "forbidden").await?;
    Ok(())
}

#[tokio::test]
async fn replicas_share_one_limit_through_redis() -> TestResult {
    if std::env::var("TEST_REDIS_URL").is_err() {
        // Without Redis each replica counts alone, by design.
        return Ok(());
    }
    let apps = linli_tests::spawn_replicas(2, |v| {
        v.insert("RATE_LIMIT_PER_MINUTE".into(), "5".into());
    })
    .await?;
    fresh_window().await;
    for app in [&apps[0], &apps[0], &apps[0], &apps[1], &apps[1]] {
        expect_json(regions(app, None).await?, 200).await?;
    }
    // The sixth request of the minute, on either replica, is over the shared limit.
    expect_problem(regions(&apps[1], None).await?, 429, "rate_limited").await?;
    expect_problem(regions(&apps[0], None).await?, 429, "rate_limited").await?;
    Ok(())
}
