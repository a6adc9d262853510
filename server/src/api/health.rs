//! Probes: `/healthz` (the process is alive), `/readyz` (it can serve: database, and
//! Redis when configured).

use actix_web::{HttpResponse, get, web};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use utoipa::ToSchema;

use crate::context::AppContext;

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ok`; `degraded` when Redis is configured but down (the database still serves,
    /// with per-process limits and no cache); `unavailable` when the database is down.
    pub status: &'static str,
    /// `ok` or `down`.
    pub database: &'static str,
    /// `ok`, `down`, or `not_configured`.
    pub redis: &'static str,
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// The database answers (503 when it does not); Redis, when configured, is reported
/// but does not take the replica out of rotation.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses(
    (status = 200, body = Readiness),
    (status = 503, body = Readiness, description = "a dependency is down")
))]
#[get("/readyz")]
pub async fn readyz(ctx: web::Data<AppContext>) -> HttpResponse {
    let db_ok = tokio::time::timeout(std::time::Duration::from_secs(2), ctx.db.execute_unprepared("SELECT 1"))
        .await
        .is_ok_and(|r| r.is_ok());
    let redis = match &ctx.redis {
        None => "not_configured",
        Some(r) if r.ping().await.is_ok() => "ok",
        Some(_) => "down",
    };
    let ready = db_ok;
    let body = Readiness {
        status: match (db_ok, redis) {
            (false, _) => "unavailable",
            (true, "down") => "degraded",
            _ => "ok",
        },
        database: if db_ok { "ok" } else { "down" },
        redis,
    };
    if ready { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

/// Prometheus metrics: requests by route and status, notices by outcome, scheduler runs.
#[get("/metrics")]
pub async fn prometheus_metrics() -> HttpResponse {
    match crate::telemetry::prometheus() {
        Some(handle) => HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(handle.render()),
        None => HttpResponse::ServiceUnavailable().finish(),
    }
}
