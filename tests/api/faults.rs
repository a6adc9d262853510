//! Faults with real processes: the server killed with SIGKILL in the middle of
//! dispatching and started again; PostgreSQL restarted under load.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use linli_tests::{
    FakeWechat, Session, TEMPLATE_SIGNUP, TestResult, base_vars, expect_json, free_port, fresh_database, linli_binary,
};
use serde_json::json;
use wiremock::MockServer;

struct Server {
    child: Child,
    base: String,
    client: reqwest::Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the real binary with `vars` and waits until it is ready.
async fn start(bin: &std::path::Path, vars: &std::collections::HashMap<String, String>) -> anyhow::Result<Server> {
    linli_server::startup::install_crypto_provider();
    let port = free_port();
    let child = Command::new(bin)
        .arg("serve")
        .env_clear()
        .envs(vars)
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", std::env::var("FAULT_LOG").unwrap_or_else(|_| "warn".into()))
        .stderr(Stdio::null())
        .stdout(match std::env::var("FAULT_LOG_FILE") {
            Ok(path) => Stdio::from(std::fs::OpenOptions::new().create(true).append(true).open(path)?),
            Err(_) => Stdio::null(),
        })
        .spawn()?;
    let server = Server { child, base: format!("http://127.0.0.1:{port}"), client: reqwest::Client::new() };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = server.client.get(format!("{}/readyz", server.base)).send().await
            && r.status().is_success()
        {
            return Ok(server);
        }
        anyhow::ensure!(Instant::now() < deadline, "the server did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Server {
    /// A published activity with `n` residents signed up, each with one signup-template
    /// send allowed: `n` notices to push.
    async fn subscribed_signups(&self, title: &str, n: usize, prefix: &str) -> anyhow::Result<i64> {
        let leader = self.login("as:demo-leader").await?;
        let me = expect_json(self.call(reqwest::Method::GET, "/api/v1/me", &leader, json!(null)).await?, 200).await?;
        let org = me["roles"][1]["scope_id"].as_i64().unwrap_or_default();
        let begin = chrono::Utc::now() + chrono::Duration::hours(48);
        let body = json!({"kind": "volunteer", "title": title, "location": "活动室", "starts_at": begin.to_rfc3339(),
            "ends_at": (begin + chrono::Duration::hours(1)).to_rfc3339(), "capacity": 50});
        let path = format!("/api/v1/organizations/{org}/activities");
        let created = expect_json(self.call(reqwest::Method::POST, &path, &leader, body).await?, 201).await?;
        let id = created["id"].as_i64().unwrap_or_default();
        let publish = format!("/api/v1/activities/{id}/publish");
        expect_json(self.call(reqwest::Method::POST, &publish, &leader, json!({})).await?, 200).await?;
        for i in 0..n {
            let who = self.login(&format!("{prefix}-{i}")).await?;
            let results = json!({"results": { TEMPLATE_SIGNUP: "accept" }});
            expect_json(self.call(reqwest::Method::POST, "/api/v1/me/subscriptions", &who, results).await?, 200)
                .await?;
            let signup = format!("/api/v1/activities/{id}/signups");
            expect_json(self.call(reqwest::Method::POST, &signup, &who, json!({})).await?, 201).await?;
        }
        Ok(id)
    }

    async fn login(&self, code: &str) -> anyhow::Result<Session> {
        let resp = self
            .client
            .post(format!("{}/api/v1/auth/wechat/login", self.base))
            .json(&json!({"code": code}))
            .send()
            .await?;
        linli_tests::session_from(resp).await
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        who: &Session,
        body: serde_json::Value,
    ) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&who.access_token)
            .json(&body)
            .send()
            .await?)
    }
}

#[tokio::test]
async fn a_server_killed_mid_dispatch_loses_no_notice() -> TestResult {
    let bin = linli_binary()?;
    let wechat = MockServer::start().await;
    linli_tests::fake_wechat::mount_code2session(&wechat).await;
    let fake = FakeWechat::default();
    fake.mount(&wechat).await;
    fake.state().send_delay = Some(Duration::from_millis(400));
    let mut vars = base_vars(&wechat.uri());
    vars.insert("DATABASE_URL".into(), fresh_database().await?);
    vars.insert("DISPATCH_INTERVAL".into(), "1s".into());
    vars.insert("DISPATCH_LEASE".into(), "2s".into());
    vars.insert("DISPATCH_CONCURRENCY".into(), "8".into());

    let server = start(&bin, &vars).await?;
    let n = 16;
    server.subscribed_signups("断电测试", n, "killed").await?;
    // Kill it while sends are in flight.
    let deadline = Instant::now() + Duration::from_secs(20);
    while fake.state().attempts == 0 {
        anyhow::ensure!(Instant::now() < deadline, "dispatch never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(server); // SIGKILL
    let at_kill = fake.sends().len();
    assert!(at_kill < n, "the kill came before the end ({at_kill} of {n} sent)");

    let server = start(&bin, &vars).await?;
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let mut users: Vec<String> =
            fake.sends().iter().filter_map(|s| s["touser"].as_str().map(str::to_owned)).collect();
        users.sort();
        users.dedup();
        if users.len() == n {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "only {} of {n} residents were told after the restart", users.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let total = fake.sends().len();
    // Nothing lost; repeats only for the sends in flight at the kill (8 users at a time).
    assert!(total <= n + 8, "{total} sends for {n} notices");
    for i in [0, n - 1] {
        let who = server.login(&format!("killed-{i}")).await?;
        let inbox =
            expect_json(server.call(reqwest::Method::GET, "/api/v1/me/notifications", &who, json!(null)).await?, 200)
                .await?;
        assert!(inbox["items"].as_array().into_iter().flatten().any(|m| m["kind"] == "signup_confirmed"));
    }
    eprintln!("killed at {at_kill} of {n} sends; {total} sends in all after the restart");
    Ok(())
}

/// A PostgreSQL cluster of the test's own, so restarting it disturbs nobody else.
struct PrivateCluster {
    version: String,
    name: String,
    port: u16,
}

impl PrivateCluster {
    fn create() -> Option<Self> {
        let version =
            std::fs::read_dir("/etc/postgresql").ok()?.filter_map(|e| e.ok()?.file_name().into_string().ok()).max()?;
        let port = free_port();
        let name = format!("linlifault{port}");
        let ok = Command::new("pg_createcluster")
            .args([&version, &name, "-p", &port.to_string(), "--start", "--", "--auth=trust"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()?
            .success();
        if !ok {
            return None;
        }
        let role = Command::new("su")
            .args(["postgres", "-c", &format!("psql -p {port} -qc 'create role root superuser login'")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()?;
        let cluster = Self { version, name, port };
        role.success().then_some(cluster)
    }

    fn ctl(&self, action: &str) -> bool {
        Command::new("pg_ctlcluster")
            .args([&self.version, &self.name, action])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = Command::new("pg_dropcluster")
            .args([&self.version, &self.name, "--stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[tokio::test]
async fn postgres_restarted_under_load_fails_fast_and_recovers() -> TestResult {
    if std::env::var("TEST_DATABASE_URL").is_err() {
        // Runs once, in the PostgreSQL pass of .ci/run.
        return Ok(());
    }
    let Some(cluster) = PrivateCluster::create() else {
        eprintln!("cannot create a private PostgreSQL cluster here (pg_createcluster as root)");
        return Ok(());
    };
    let app = linli_tests::spawn_app_with(|v| {
        v.insert("DATABASE_URL".into(), format!("postgres://root@127.0.0.1:{}/postgres", cluster.port));
    })
    .await?;
    let (leader, org) = app.demo_leader().await?;
    let begin = chrono::Utc::now() + chrono::Duration::hours(48);
    let body = json!({"kind": "volunteer", "title": "数据库重启", "location": "活动室", "starts_at": begin.to_rfc3339(),
        "ends_at": (begin + chrono::Duration::hours(1)).to_rfc3339(), "capacity": 500});
    let id = app.publish(&leader, org, body).await?;
    let mut residents = Vec::new();
    for i in 0..60 {
        residents.push(app.login(&format!("pg-{i}")).await?);
    }

    let mut confirmed = Vec::new();
    let sign_up = |who: &linli_tests::Session| {
        let app = &app;
        let token = who.access_token.clone();
        async move { app.post(&format!("/api/v1/activities/{id}/signups"), Some(&token), json!({})).await }
    };
    for who in &residents[..20] {
        assert_eq!(sign_up(who).await?.status().as_u16(), 201);
        confirmed.push(who.user_id);
    }
    // PostgreSQL goes away: requests fail fast with 503, not hang, not 500.
    assert!(cluster.ctl("stop"), "pg_ctlcluster stop");
    let mut outage = Vec::new();
    for who in &residents[20..23] {
        let started = Instant::now();
        let resp = sign_up(who).await?;
        outage.push((resp.status().as_u16(), started.elapsed()));
        let ready = app.get("/readyz", None).await?;
        assert_eq!(ready.status().as_u16(), 503, "not ready without its database");
    }
    assert!(outage.iter().all(|(s, t)| *s == 503 && *t < Duration::from_secs(7)), "{outage:?}");
    // It comes back: no restart of Linli, the pool reconnects.
    assert!(cluster.ctl("start"), "pg_ctlcluster start");
    let back = Instant::now();
    let mut recovered_after = None;
    for who in &residents[20..] {
        loop {
            let status = sign_up(who).await?.status().as_u16();
            if status == 201 {
                recovered_after.get_or_insert(back.elapsed());
                confirmed.push(who.user_id);
                break;
            }
            anyhow::ensure!(
                status == 503 && back.elapsed() < Duration::from_secs(20),
                "status {status} after the restart"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let recovered_after = recovered_after.unwrap_or_default();
    assert!(recovered_after < Duration::from_secs(15), "recovered after {recovered_after:?}");
    assert_eq!(confirmed.len(), 60);
    // Every confirmed sign-up is there.
    let roster = expect_json(
        app.get(&format!("/api/v1/activities/{id}/signups?limit=100"), Some(&leader.access_token)).await?,
        200,
    )
    .await?;
    let listed: Vec<i64> =
        roster["items"].as_array().into_iter().flatten().filter_map(|e| e["user_id"].as_i64()).collect();
    for user in &confirmed {
        assert!(listed.contains(user), "sign-up of {user} lost");
    }
    eprintln!("PostgreSQL down: {outage:?}; recovered {recovered_after:?} after it started again");
    Ok(())
}

#[tokio::test]
async fn sigterm_finishes_the_batch_gives_back_claims_and_exits_zero() -> TestResult {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let bin = linli_binary()?;
    let wechat = MockServer::start().await;
    linli_tests::fake_wechat::mount_code2session(&wechat).await;
    let fake = FakeWechat::default();
    fake.mount(&wechat).await;
    fake.state().send_delay = Some(Duration::from_millis(500));
    let mut vars = base_vars(&wechat.uri());
    let db_url = fresh_database().await?;
    vars.insert("DATABASE_URL".into(), db_url.clone());
    vars.insert("DISPATCH_INTERVAL".into(), "1s".into());
    vars.insert("DISPATCH_LEASE".into(), "60s".into());

    let mut server = start(&bin, &vars).await?;
    let n = 12;
    server.subscribed_signups("优雅退出", n, "term").await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while fake.state().attempts == 0 {
        anyhow::ensure!(Instant::now() < deadline, "dispatch never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status()?.success());
    let deadline = Instant::now() + Duration::from_secs(40);
    let status = loop {
        if let Some(status) = server.child.try_wait()? {
            break status;
        }
        anyhow::ensure!(Instant::now() < deadline, "did not exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0), "a clean exit");
    // Nothing is left claimed: every push claimed is settled, given back (due at once), or
    // waiting for its next attempt after a send cut short (its held send given back). A
    // claim left behind would hold its send until its lease ran out.
    let db = sea_orm::Database::connect(&db_url).await?;
    let leased = linli_server::entity::notice_delivery::Entity::find()
        .filter(linli_server::entity::notice_delivery::Column::QuotaReserved.eq(true))
        .filter(linli_server::entity::notice_delivery::Column::DueAt.gt(chrono::Utc::now()))
        .all(&db)
        .await?;
    assert!(leased.is_empty(), "{} notices still claimed: {leased:?}", leased.len());
    db.close().await?;
    let sent_before_restart = fake.sends().len();

    let _again = start(&bin, &vars).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while fake.sends().len() < n {
        anyhow::ensure!(Instant::now() < deadline, "{} of {n} sent after the restart", fake.sends().len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(fake.sends().len(), n, "a graceful stop sends nothing twice");
    eprintln!("SIGTERM: {sent_before_restart} sent before the stop, the rest after the restart, {n} in all");
    Ok(())
}
