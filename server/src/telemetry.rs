//! Logs: text in dev, JSON in production; every line inside a request carries its
//! request id (the root span of `tracing-actix-web`).

use std::{sync::OnceLock, time::Instant};

use actix_web::{
    Error,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process-wide Prometheus recorder (installed once; tests start many apps).
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    PROMETHEUS
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(handle) => Some(handle),
            Err(e) => {
                tracing::warn!(error = %e, "Prometheus recorder not installed");
                None
            }
        })
        .as_ref()
}

/// Counts requests and their latency by route pattern (`/api/v1/activities/{id}`, never
/// the raw path) and status.
pub async fn http_metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    let res = next.call(req).await?;
    let status = res.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("linli_http_requests_total", &labels).increment(1);
    metrics::histogram!("linli_http_request_duration_seconds", &labels).record(start.elapsed().as_secs_f64());
    Ok(res)
}

pub fn init(json: bool) {
    init_with_default(json, "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn");
}

/// Like `init`, with the filter used when `RUST_LOG` is unset (tests pass `off`).
pub fn init_with_default(json: bool, default_filter: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let registry = tracing_subscriber::registry().with(filter);
    let result = if json {
        registry.with(fmt::layer().json().with_current_span(true).with_span_list(false)).try_init()
    } else {
        registry.with(fmt::layer().compact()).try_init()
    };
    // A second init (tests start many apps in one process) keeps the first subscriber.
    drop(result);
}
