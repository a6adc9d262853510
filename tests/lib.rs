//! Test support: start the real app on port 0 with its own database and a fake WeChat
//! server, and talk to it over HTTP as the mini-program would.

use std::{collections::HashMap, sync::Arc};

use anyhow::{Context, anyhow};
use linli_server::{config::Config, context::AppContext, domain::clock::ManualClock, startup::Application};
use rand::Rng;
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers};

pub mod fake_wechat;

pub use fake_wechat::{FakeWechat, Fault};

pub type TestResult = anyhow::Result<()>;

pub const TEST_JWT_SECRET: &str = "linli-test-secret-linli-test-secret-0123";
pub const TEST_APPID: &str = "wx-test-appid";
pub const TEST_WECHAT_SECRET: &str = "wx-test-secret";

pub struct TestApp {
    pub address: String,
    /// Where `/metrics` is served (its own listener, `METRICS_BIND`), when it is.
    pub metrics_address: Option<String>,
    pub client: reqwest::Client,
    pub wechat: Arc<MockServer>,
    pub fake: FakeWechat,
    pub ctx: AppContext,
    pub clock: ManualClock,
}

pub const TEMPLATE_REMINDER: &str = "tpl-reminder";
pub const TEMPLATE_SIGNUP: &str = "tpl-signup";
pub const TEMPLATE_CHANGE: &str = "tpl-change";

/// A signed-in user.
#[derive(Clone, Debug)]
pub struct Session {
    pub user_id: i64,
    pub access_token: String,
    pub refresh_token: String,
}

/// The app with the demo regions and accounts, a fake WeChat, and its own database.
pub async fn spawn_app() -> anyhow::Result<TestApp> {
    spawn_app_with(|_| {}).await
}

/// Like `spawn_app`, with the environment adjusted first.
pub async fn spawn_app_with(customize: impl FnOnce(&mut HashMap<String, String>)) -> anyhow::Result<TestApp> {
    let mut apps = spawn_replicas(1, customize).await?;
    apps.pop().ok_or_else(|| anyhow!("no app"))
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(18_181)
}

/// Builds the real `linli` binary (the one CI and production run) and returns its path.
pub fn linli_binary() -> anyhow::Result<std::path::PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "-q", "-p", "linli-server", "--bin", "linli"])
        .status()
        .context("running cargo build")?;
    anyhow::ensure!(status.success(), "building linli failed");
    let exe = std::env::current_exe()?;
    // target/<profile>/deps/api-… → target/<profile>/linli
    let dir = exe.parent().and_then(|d| d.parent()).ok_or_else(|| anyhow!("no target directory"))?;
    Ok(dir.join("linli"))
}

/// `n` instances of the app on one database and one fake WeChat, as replicas behind a
/// load balancer would be.
pub async fn spawn_replicas(
    n: usize,
    customize: impl FnOnce(&mut HashMap<String, String>),
) -> anyhow::Result<Vec<TestApp>> {
    linli_server::telemetry::init_with_default(false, "off");
    let wechat = Arc::new(MockServer::start().await);
    fake_wechat::mount_code2session(&wechat).await;
    let fake = FakeWechat::default();
    fake.mount(&wechat).await;

    let mut vars = base_vars(&wechat.uri());
    vars.insert("DATABASE_URL".into(), fresh_database().await?);
    if let Ok(redis) = std::env::var("TEST_REDIS_URL") {
        vars.insert("REDIS_URL".into(), redis);
        vars.insert("REDIS_PREFIX".into(), format!("linli-test-{}:", random_suffix()));
    }
    customize(&mut vars);

    let clock = ManualClock::default();
    let mut apps = Vec::with_capacity(n);
    for _ in 0..n {
        let config = Config::from_vars(&vars)?;
        let app = Application::build_with_clock(config, Arc::new(clock.clone())).await?;
        let address = format!("http://127.0.0.1:{}", app.port());
        let metrics_address = app.metrics_port().map(|p| format!("http://127.0.0.1:{p}"));
        let ctx = app.context().clone();
        tokio::spawn(app.run_until_stopped());
        apps.push(TestApp {
            address,
            metrics_address,
            client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?,
            wechat: wechat.clone(),
            fake: fake.clone(),
            ctx,
            clock: clock.clone(),
        });
    }
    Ok(apps)
}

/// The environment every test app starts with (a database is added by the caller).
pub fn base_vars(wechat_uri: &str) -> HashMap<String, String> {
    [
        ("BIND", "127.0.0.1:0".to_owned()),
        ("METRICS_BIND", "127.0.0.1:0".to_owned()),
        ("JWT_SECRET", TEST_JWT_SECRET.to_owned()),
        ("WECHAT_APPID", TEST_APPID.to_owned()),
        ("WECHAT_SECRET", TEST_WECHAT_SECRET.to_owned()),
        ("WECHAT_API_BASE", wechat_uri.to_owned()),
        ("WECHAT_TIMEOUT", "2s".to_owned()),
        ("SEED_DEMO", "true".to_owned()),
        // The demo's own places, not the whole province: each app starts in milliseconds
        // (tests/api/regions.rs loads the province where it needs it).
        ("DEMO_REGIONS", "places".to_owned()),
        ("DATABASE_MAX_CONNECTIONS", "5".to_owned()),
        ("WECHAT_TEMPLATE_REMINDER", TEMPLATE_REMINDER.to_owned()),
        ("WECHAT_TEMPLATE_SIGNUP", TEMPLATE_SIGNUP.to_owned()),
        ("WECHAT_TEMPLATE_CHANGE", TEMPLATE_CHANGE.to_owned()),
        // Tests drive the dispatcher themselves, on the clock they control.
        ("DISPATCH_INTERVAL", "1h".to_owned()),
        // Limits have their own tests; the others sign in hundreds of residents at once.
        ("RATE_LIMIT_PER_MINUTE", "100000".to_owned()),
        ("LOGIN_RATE_LIMIT_PER_MINUTE", "100000".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn random_suffix() -> String {
    let n: u64 = rand::rng().random();
    format!("{n:016x}")
}

/// A database of its own for each test: a fresh SQLite file, or a fresh PostgreSQL
/// database created next to `TEST_DATABASE_URL`.
pub async fn fresh_database() -> anyhow::Result<String> {
    let name = format!("linli_test_{}", random_suffix());
    match std::env::var("TEST_DATABASE_URL") {
        Ok(base) if base.starts_with("postgres") => {
            let admin = Database::connect(&base).await.context("connecting to TEST_DATABASE_URL")?;
            admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.context("creating the test database")?;
            admin.close().await?;
            let (prefix, _) =
                base.rsplit_once('/').ok_or_else(|| anyhow!("TEST_DATABASE_URL needs a database name"))?;
            Ok(format!("{prefix}/{name}"))
        }
        _ => {
            let path = std::env::temp_dir().join(format!("{name}.db"));
            Ok(format!("sqlite://{}?mode=rwc", path.display()))
        }
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<reqwest::Response> {
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        Ok(req.send().await?)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> anyhow::Result<reqwest::Response> {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> anyhow::Result<reqwest::Response> {
        self.request(Method::POST, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> anyhow::Result<reqwest::Response> {
        self.request(Method::PATCH, path, token, Some(body)).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> anyhow::Result<reqwest::Response> {
        self.request(Method::PUT, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> anyhow::Result<reqwest::Response> {
        self.request(Method::DELETE, path, token, None).await
    }

    /// `GET /metrics` from the metrics listener.
    pub async fn metrics(&self) -> anyhow::Result<String> {
        let base = self.metrics_address.as_deref().ok_or_else(|| anyhow!("no metrics listener"))?;
        Ok(self.client.get(format!("{base}/metrics")).send().await?.error_for_status()?.text().await?)
    }

    /// Signs in through the fake WeChat: the code `X` becomes the openid `o-X`. The demo
    /// accounts (`demo-admin`, `demo-street`, …) sign in with `login_openid`.
    pub async fn login(&self, code: &str) -> anyhow::Result<Session> {
        let resp = self.post("/api/v1/auth/wechat/login", None, serde_json::json!({"code": code})).await?;
        session_from(resp).await
    }

    /// `login` taking its code by value (for `join_all` over generated codes).
    pub async fn login_owned(&self, code: String) -> anyhow::Result<Session> {
        self.login(&code).await
    }

    /// Signs in as the user with exactly this openid (the fake WeChat maps `as:OPENID`).
    pub async fn login_openid(&self, openid: &str) -> anyhow::Result<Session> {
        self.login(&format!("as:{openid}")).await
    }

    /// The demo leader (of 金塔巷夕阳红志愿服务队) and their organization's id.
    pub async fn demo_leader(&self) -> anyhow::Result<(Session, i64)> {
        // In dev mode the code is the openid; with the fake WeChat, `as:` selects it.
        let leader = if self.ctx.wechat.is_dev() {
            self.login("demo-leader").await?
        } else {
            self.login_openid("demo-leader").await?
        };
        let me = expect_json(self.get("/api/v1/me", Some(&leader.access_token)).await?, 200).await?;
        let org =
            me["roles"][1]["scope_id"].as_i64().ok_or_else(|| anyhow!("the demo leader has no organization: {me}"))?;
        Ok((leader, org))
    }

    /// Posts an activity for `org` and publishes it; returns its id.
    pub async fn publish(&self, leader: &Session, org: i64, body: Value) -> anyhow::Result<i64> {
        let path = format!("/api/v1/organizations/{org}/activities");
        let created = expect_json(self.post(&path, Some(&leader.access_token), body).await?, 201).await?;
        let id = created["id"].as_i64().ok_or_else(|| anyhow!("no id in {created}"))?;
        let published = expect_json(
            self.post(&format!("/api/v1/activities/{id}/publish"), Some(&leader.access_token), Value::Null).await?,
            200,
        )
        .await?;
        anyhow::ensure!(published["status"] == "published", "not published: {published}");
        Ok(id)
    }

    /// Runs one dispatcher step, as the scheduler would.
    pub async fn dispatch(&self) -> anyhow::Result<linli_server::jobs::dispatch::DispatchReport> {
        linli_server::jobs::dispatch::dispatch_once(&self.ctx, 500).await.map_err(|e| anyhow!("{e}"))
    }

    /// Signs a demo account in (again: tokens last 15 minutes and tests move the clock on).
    pub async fn demo_login(&self, openid: &str) -> anyhow::Result<Session> {
        if self.ctx.wechat.is_dev() { self.login(openid).await } else { self.login_openid(openid).await }
    }

    /// The demo leader holds an activity of `org` starting in 10 minutes, the resident
    /// signing in with `resident` signs up and is checked in, and the activity is closed
    /// after its hour. Returns the activity's id; the clock is 72 minutes on.
    pub async fn hold_activity(&self, leader: &Session, org: i64, resident: &str) -> anyhow::Result<i64> {
        self.hold_activity_with(leader, org, resident, serde_json::json!({})).await
    }

    /// [`TestApp::hold_activity`] with fields of the activity's body added or replaced
    /// (e.g. `{"target_groups": ["elderly"]}`).
    pub async fn hold_activity_with(
        &self,
        leader: &Session,
        org: i64,
        resident: &str,
        extra: Value,
    ) -> anyhow::Result<i64> {
        let start = self.ctx.now() + chrono::Duration::minutes(10);
        let mut body = serde_json::json!({"kind": "volunteer", "title": "楼道清扫", "location": "金塔巷 3 号楼",
               "starts_at": start.to_rfc3339(), "ends_at": (start + chrono::Duration::minutes(60)).to_rfc3339(),
               "capacity": 10});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        let id = self.publish(leader, org, body).await?;
        let resident = self.login(resident).await?;
        expect_json(
            self.post(&format!("/api/v1/activities/{id}/signups"), Some(&resident.access_token), serde_json::json!({}))
                .await?,
            201,
        )
        .await?;
        self.clock.advance(chrono::Duration::minutes(11));
        expect_json(
            self.post(
                &format!("/api/v1/activities/{id}/attendance"),
                Some(&leader.access_token),
                serde_json::json!({"action": "check_in", "user_id": resident.user_id}),
            )
            .await?,
            200,
        )
        .await?;
        self.clock.advance(chrono::Duration::minutes(61));
        let leader = self.demo_login("demo-leader").await?;
        let r = expect_json(
            self.post(&format!("/api/v1/activities/{id}/finish"), Some(&leader.access_token), Value::Null).await?,
            200,
        )
        .await?;
        anyhow::ensure!(r["attended"] == 1, "{r}");
        Ok(id)
    }

    /// The test clock's "now".
    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use linli_server::domain::clock::Clock;
        self.clock.now()
    }

    /// `from=…` for a figures query: the period from now on, so a test's figures count
    /// only what the test does, not the demo's past year (`service::demo_history`).
    pub fn since_now(&self) -> String {
        format!("from={}", self.clock_now().format("%Y-%m-%dT%H:%M:%SZ"))
    }

    /// The id of a region by its division code (统计用区划代码).
    pub async fn region(&self, code: &str) -> anyhow::Result<i64> {
        linli_server::service::demo::region_id(&self.ctx.db, code).await.map_err(|e| anyhow!("{e}"))
    }
}

pub async fn session_from(resp: reqwest::Response) -> anyhow::Result<Session> {
    let status = resp.status();
    let body: Value = resp.json().await?;
    anyhow::ensure!(status == StatusCode::OK, "login failed: {status} {body}");
    Ok(Session {
        user_id: body["user"]["id"].as_i64().ok_or_else(|| anyhow!("no user id in {body}"))?,
        access_token: body["access_token"].as_str().unwrap_or_default().to_owned(),
        refresh_token: body["refresh_token"].as_str().unwrap_or_default().to_owned(),
    })
}

/// Reads a response that must be problem+json with this status and code.
pub async fn expect_problem(resp: reqwest::Response, status: u16, code: &str) -> anyhow::Result<Value> {
    let actual = resp.status().as_u16();
    let content_type = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let has_request_id = resp.headers().contains_key("x-request-id");
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    anyhow::ensure!(actual == status, "expected {status}, got {actual}: {body}");
    anyhow::ensure!(content_type == "application/problem+json", "content type {content_type:?}: {body}");
    anyhow::ensure!(body["code"] == code, "expected code {code}: {body}");
    anyhow::ensure!(body["status"] == status, "status field: {body}");
    anyhow::ensure!(body["type"] == format!("/problems/{code}"), "type field: {body}");
    anyhow::ensure!(body["title"].is_string() && body["detail"].is_string(), "title/detail: {body}");
    anyhow::ensure!(has_request_id && body["request_id"].is_string(), "request id: {body}");
    Ok(body)
}

/// Reads a JSON response that must have this status.
pub async fn expect_json(resp: reqwest::Response, status: u16) -> anyhow::Result<Value> {
    let actual = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    anyhow::ensure!(actual == status, "expected {status}, got {actual}: {body}");
    Ok(body)
}

/// A responder that answers differently on each call, then repeats the last answer.
pub struct Sequence(pub std::sync::Mutex<Vec<ResponseTemplate>>);

impl Respond for Sequence {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let mut answers = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if answers.len() > 1 {
            answers.remove(0)
        } else {
            answers.first().cloned().unwrap_or_else(|| ResponseTemplate::new(500))
        }
    }
}

/// Replaces the fake's code2session with `responder` (for failure tests).
pub async fn override_code2session(server: &MockServer, responder: impl Respond + 'static) {
    server.reset().await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/sns/jscode2session"))
        .respond_with(responder)
        .mount(server)
        .await;
}
