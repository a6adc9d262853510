//! `Application::build`: the one way the server is assembled, by `main` and by tests.

use std::{net::TcpListener, sync::Arc, time::Duration};

use actix_http::{HttpService, KeepAlive, Protocol, error::DispatchError};
use actix_server::ServerBuilder;
use actix_service::{IntoServiceFactory, ServiceFactoryExt, fn_service, map_config};
use actix_web::{
    App, HttpResponse, HttpServer,
    body::MessageBody,
    dev::{AppConfig, Server, ServiceFactory, ServiceRequest, ServiceResponse},
    middleware::from_fn,
    rt::net::TcpStream,
    web,
};
use anyhow::Context;
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use tokio_cron_scheduler::JobScheduler;
use tracing_actix_web::TracingLogger;
use utoipa_swagger_ui::SwaggerUi;

use crate::{
    api::{self, middleware},
    auth::jwt::JwtKeys,
    cache::RedisHandle,
    config::Config,
    context::AppContext,
    domain::clock::{Clock, SystemClock},
    error::AppError,
    http_target::{self, LenientTarget},
    jobs,
    service::demo,
    wechat::WechatClient,
};

pub struct Application {
    port: u16,
    server: Server,
    /// Prometheus' own listener (`METRICS_BIND`), apart from the API's.
    metrics: Option<(u16, Server)>,
    context: AppContext,
    scheduler: Option<JobScheduler>,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// Connects, migrates, seeds (when configured), binds and starts the jobs. Binding
    /// `127.0.0.1:0` picks a free port, which `port()` then tells.
    pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        install_crypto_provider();
        crate::telemetry::prometheus();
        if config.jwt_secret_generated {
            tracing::warn!("JWT_SECRET is not set: a random one is used, so sessions end when the server restarts");
        }
        let context = build_context(config, clock).await?;
        let listener =
            TcpListener::bind(&context.config.bind).with_context(|| format!("binding {}", context.config.bind))?;
        let port = listener.local_addr()?.port();
        let server = server(listener, context.clone())?;
        let metrics = match &context.config.metrics_bind {
            None => None,
            Some(bind) => {
                let listener = TcpListener::bind(bind).with_context(|| format!("binding METRICS_BIND {bind}"))?;
                let port = listener.local_addr()?.port();
                Some((port, metrics_server(listener, context.clone())?))
            }
        };
        let scheduler = Some(jobs::start(context.clone()).await?);
        tracing::info!(
            port,
            metrics_port = metrics.as_ref().map(|(p, _)| *p),
            database = if context.config.is_sqlite() { "sqlite" } else { "postgres" },
            redis = context.redis.is_some(),
            wechat_dev_mode = context.wechat.is_dev(),
            "Linli is listening"
        );
        Ok(Self { port, server, metrics, context, scheduler })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port `/metrics` is served on, when `METRICS_BIND` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(p, _)| *p)
    }

    pub fn context(&self) -> &AppContext {
        &self.context
    }

    /// Serves until SIGTERM or SIGINT: stops accepting, finishes in-flight requests and
    /// the current dispatch batch, gives back notices still claimed, and returns.
    pub async fn run_until_stopped(mut self) -> anyhow::Result<()> {
        let metrics = self.metrics.take().map(|(_, server)| {
            let handle = server.handle();
            (handle, tokio::spawn(server))
        });
        self.server.await?;
        if let Some((handle, task)) = metrics {
            handle.stop(true).await;
            let _ = task.await;
        }
        if let Some(mut scheduler) = self.scheduler.take() {
            scheduler.shutdown().await?;
        }
        let mut batch_done = tokio::time::timeout(Duration::from_secs(15), self.context.dispatching.lock()).await;
        if let Ok(dispatcher) = batch_done.as_mut() {
            dispatcher.stopping = true; // a drain still running starts no further step
        }
        // A drain still running after 15 s may have sends in flight: its claims are left to
        // run out their lease rather than given back to be sent a second time.
        let claimed: Vec<i64> = if batch_done.is_ok() {
            self.context.claims().keys().copied().collect()
        } else {
            tracing::warn!("the dispatcher did not stop within 15 s; its claims wait out their lease");
            Vec::new()
        };
        match jobs::dispatch::release_claims(&self.context, &claimed).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(released = n, "claimed notices given back for another replica"),
            Err(e) => tracing::warn!(error = %e, "could not give back claimed notices; their lease will run out"),
        }
        self.context.db.clone().close().await?;
        tracing::info!("stopped");
        Ok(())
    }
}

pub async fn build_context(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<AppContext> {
    let db = connect_database(&config).await?;
    crate::cli::migrate_database(&db).await?;
    crate::service::rating_schemes::ensure_default(&db, clock.now())
        .await
        .map_err(|e| anyhow::anyhow!("writing the default rating scheme: {e}"))?;
    if config.seed_demo {
        let report =
            demo::seed_with(&db, config.demo_regions, clock.now()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        tracing::info!(?report, "demo data loaded");
    }
    let redis = match &config.redis_url {
        None => None,
        Some(url) => Some(RedisHandle::connect(url, &config.redis_prefix).await.context("REDIS_URL")?),
    };
    let wechat = WechatClient::new(config.wechat.clone(), redis.clone())?;
    let jwt = Arc::new(JwtKeys::new(&config.jwt_secret, config.access_token_ttl));
    let signups = Arc::new(crate::service::signup_batch::SignupQueue::new(config.database_max_connections));
    Ok(AppContext {
        limiter: Arc::new(crate::cache::ratelimit::RateLimiter::new(redis.clone())),
        public_cache: Arc::new(crate::cache::public::PublicCache::new(redis.clone(), config.public_cache_ttl)),
        db,
        redis,
        wechat,
        config: Arc::new(config),
        clock,
        jwt,
        claimed: Default::default(),
        dispatching: Default::default(),
        signups,
    })
}

/// Opens the database. SQLite gets WAL, a busy timeout and foreign keys, and the
/// directory of its file is created; PostgreSQL gets bounded connect and acquire times
/// so an outage turns into fast 503s rather than hanging requests.
pub async fn connect_database(config: &Config) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(config.database_url.clone());
    options
        .max_connections(config.database_max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    if config.is_sqlite() {
        create_sqlite_dir(&config.database_url)?;
        options.max_connections(config.database_max_connections.clamp(1, 8)).map_sqlx_sqlite_opts(|o| {
            use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(15))
                .foreign_keys(true)
        });
    }
    Database::connect(options)
        .await
        .with_context(|| format!("connecting to the database ({})", redact_url(&config.database_url)))
}

fn create_sqlite_dir(url: &str) -> anyhow::Result<()> {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//").split('?').next().unwrap_or("");
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    Ok(())
}

/// Hides the password of a database URL in messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://[redacted]@{}", &url[..scheme], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

/// reqwest and sqlx use rustls with the ring provider; install it once per process.
pub fn install_crypto_provider() {
    // Fails only when a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The API, served as `HttpServer::new(app).listen(listener)` would serve it (its settings:
/// workers, connection limits, keep-alive, client timeouts, graceful shutdown), except that
/// each connection is read through `LenientTarget`, so raw UTF-8 in a URL is accepted.
/// `HttpServer` has no hook for the stream, hence the parts it is made of.
fn server(listener: TcpListener, context: AppContext) -> anyhow::Result<Server> {
    let local_addr = listener.local_addr()?;
    let max_body = context.config.max_body_bytes;
    let data = web::Data::new(context);
    let builder = ServerBuilder::default();
    let shutdown = builder.graceful_shutdown_signal();
    let server = builder
        .listen("linli-api", listener, move || {
            let shutdown = shutdown.clone();
            let app = app(data.clone(), max_body).into_factory().map_err(|e| e.error_response());
            let http = HttpService::build()
                .graceful_shutdown_signal(move || {
                    let shutdown = shutdown.clone();
                    async move { shutdown.notified().await }
                })
                .keep_alive(KeepAlive::default())
                .client_request_timeout(Duration::from_secs(5))
                .client_disconnect_timeout(Duration::from_secs(1))
                .h1_allow_half_closed(true)
                .local_addr(local_addr)
                // Outside `HttpServer` the app's `AppConfig` cannot name the host and address;
                // they are only read for `connection_info()` of a request without `Host`.
                .finish(map_config(app, |_| AppConfig::default()));
            fn_service(|io: TcpStream| async move {
                let peer = io.peer_addr().ok();
                Ok::<_, DispatchError>((LenientTarget::new(io), Protocol::Http1, peer))
            })
            .and_then(http)
        })?
        .shutdown_timeout(30)
        .run();
    Ok(server)
}

/// The application, built once per worker.
fn app(
    data: web::Data<AppContext>,
    max_body: usize,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let console = data.config.console_enabled;
    App::new()
        .app_data(data)
        .app_data(web::JsonConfig::default().limit(max_body).error_handler(middleware::json_error))
        .app_data(web::PayloadConfig::default().limit(max_body))
        .app_data(web::QueryConfig::default().error_handler(middleware::query_error))
        .app_data(web::PathConfig::default().error_handler(middleware::path_error))
        .wrap(from_fn(crate::cache::public::cache_public_reads))
        .wrap(from_fn(middleware::request_timeout))
        .wrap(from_fn(crate::cache::ratelimit::limit_requests))
        .wrap(from_fn(middleware::problem_details))
        .wrap(from_fn(middleware::security_headers))
        .wrap(from_fn(crate::telemetry::http_metrics))
        .wrap(TracingLogger::<crate::telemetry::RootSpan>::new())
        .service(api::health::healthz)
        .service(api::health::readyz)
        .service(api::docs::openapi_json)
        .route(
            "/docs",
            web::get().to(|| async { HttpResponse::Found().insert_header(("location", "/docs/")).finish() }),
        )
        .service(SwaggerUi::new("/docs/{_:.*}").config(utoipa_swagger_ui::Config::from("/openapi.json")))
        .configure(api::routes)
        .configure(|cfg| crate::console::routes(cfg, console, max_body))
        .route(
            http_target::INVALID_TARGET,
            web::to(|| async { Err::<HttpResponse, _>(AppError::InvalidRequestTarget) }),
        )
        .default_service(web::to(|| async { Err::<HttpResponse, _>(AppError::NotFound("resource")) }))
}

/// `/metrics` alone, on its own listener: Prometheus reaches it inside the cluster, and
/// the API's Service and ingress never route it.
fn metrics_server(listener: TcpListener, context: AppContext) -> anyhow::Result<Server> {
    let data = web::Data::new(context);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap(from_fn(middleware::security_headers))
            .service(api::health::prometheus_metrics)
            .default_service(web::to(HttpResponse::NotFound))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .shutdown_timeout(5)
    .run())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(redact_url("postgres://root:pw@127.0.0.1/test"), "postgres://[redacted]@127.0.0.1/test");
        assert_eq!(redact_url("sqlite://data/linli.db"), "sqlite://data/linli.db");
    }
}
