//! Probes: `/healthz` (the process is alive), `/readyz` (it can serve: database, and
//! Redis when configured).

use actix_web::{HttpResponse, get, web};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use utoipa::ToSchema;

use crate::context::AppContext;

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(value_type = HealthStatus)]
    pub status: &'static str,
}

/// The process answers.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum HealthStatus {
    Ok,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ok`; `degraded` when Redis is configured but down (the database still serves,
    /// with per-process limits and no cache); `unavailable` when the database is down.
    #[schema(value_type = ReadyStatus)]
    pub status: &'static str,
    #[schema(value_type = DependencyState)]
    pub database: &'static str,
    /// `not_configured` when `REDIS_URL` is unset.
    #[schema(value_type = DependencyState)]
    pub redis: &'static str,
}

/// The replica's readiness, for the spec.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ReadyStatus {
    Ok,
    Degraded,
    Unavailable,
}

/// A dependency's state, for the spec.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum DependencyState {
    Ok,
    Down,
    NotConfigured,
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", operation_id = "getHealth", tag = "ops", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// The database answers (503 when it does not); Redis, when configured, is reported
/// but does not take the replica out of rotation.
#[utoipa::path(get, path = "/readyz", operation_id = "getReadiness", tag = "ops", responses(
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

/// Prometheus metrics: requests by route and status, notices by outcome and by state,
/// the database pool, Redis health, scheduler runs.
#[get("/metrics")]
pub async fn prometheus_metrics(ctx: web::Data<AppContext>) -> HttpResponse {
    record_gauges(&ctx).await;
    match crate::telemetry::prometheus() {
        Some(handle) => HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(handle.render()),
        None => HttpResponse::ServiceUnavailable().finish(),
    }
}

/// Gauges read at scrape time.
async fn record_gauges(ctx: &AppContext) {
    use sea_orm::{DbBackend, EntityTrait, QuerySelect, sea_query::Expr};

    use crate::entity::notification;
    let (size, idle) = match ctx.db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = ctx.db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => {
            let pool = ctx.db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
    };
    metrics::gauge!("linli_db_pool_connections", "state" => "idle").set(idle as f64);
    metrics::gauge!("linli_db_pool_connections", "state" => "in_use").set(size.saturating_sub(idle as u32) as f64);
    let by_state: Result<Vec<(String, i64)>, _> = notification::Entity::find()
        .select_only()
        .column(notification::Column::State)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .group_by(notification::Column::State)
        .into_tuple()
        .all(&ctx.db)
        .await;
    if let Ok(rows) = by_state {
        for (state, n) in rows {
            metrics::gauge!("linli_notifications_by_state", "state" => state).set(n as f64);
        }
    }
    // The delivery queue: pushes due now (claimed ones count from their lease's end),
    // and all that wait, reminders due later included.
    if let Ok((due, all)) = crate::service::deliveries::backlog(&ctx.db, ctx.now()).await {
        metrics::gauge!("linli_notice_deliveries", "due" => "now").set(due as f64);
        metrics::gauge!("linli_notice_deliveries", "due" => "any").set(all as f64);
    }
    if let Some(redis) = &ctx.redis {
        metrics::gauge!("linli_redis_up").set(if redis.is_up() { 1.0 } else { 0.0 });
    }
}
