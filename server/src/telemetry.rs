//! Logs: text in dev, JSON in production; every line inside a request carries its
//! request id (the root span of `tracing-actix-web`).

use std::{cell::RefCell, collections::HashMap, sync::OnceLock, time::Instant};

use actix_web::{
    Error, HttpMessage,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing::{Span, field::Empty};
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// Paths whose route pattern each worker thread remembers at most (emptied when full).
const ROUTE_MEMORY: usize = 1024;

/// The route pattern a request matches (`/api/v1/activities/{id}`), `None` when no route
/// does. actix-web's `match_pattern` walks every route's pattern again with regex
/// captures: in the benchmark's profile of a cached browse request it was 48 % of the
/// CPU, asked twice per request (the log span and the metrics). The answer depends on the
/// path alone and the routes never change, so each worker thread keeps its answers for up
/// to [`ROUTE_MEMORY`] paths; the label stays exactly actix-web's (never a raw path).
pub fn route_pattern(req: &ServiceRequest) -> Option<String> {
    thread_local! {
        static ROUTES: RefCell<HashMap<String, Option<String>>> = RefCell::new(HashMap::new());
    }
    ROUTES.with(|routes| {
        if let Some(known) = routes.borrow().get(req.path()) {
            return known.clone();
        }
        let found = req.match_pattern();
        let mut routes = routes.borrow_mut();
        if routes.len() >= ROUTE_MEMORY {
            routes.clear();
        }
        routes.insert(req.path().to_owned(), found.clone());
        found
    })
}

/// `tracing-actix-web`'s root span with the route from [`route_pattern`]; the fields are
/// the default builder's (OpenTelemetry's HTTP conventions), and so is the ending (status,
/// error). The route is looked up once, and only when the span is recorded (not at `warn`).
pub struct RootSpan;

impl RootSpanBuilder for RootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let info = request.connection_info().clone();
        let request_id = request.extensions().get::<RequestId>().map(|id| id.to_string()).unwrap_or_default();
        let span = tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = Empty,
            http.flavor = ?request.version(),
            http.scheme = %info.scheme(),
            http.host = %info.host(),
            http.client_ip = %info.realip_remote_addr().unwrap_or(""),
            http.user_agent = %request.headers().get("User-Agent").and_then(|h| h.to_str().ok()).unwrap_or(""),
            http.target = %request.uri().path_and_query().map(|p| p.as_str()).unwrap_or(""),
            http.status_code = Empty,
            otel.name = Empty,
            otel.kind = "server",
            otel.status_code = Empty,
            request_id = %request_id,
            exception.message = Empty,
            exception.details = Empty,
        );
        if !span.is_disabled() {
            let route = route_pattern(request).unwrap_or_else(|| "default".to_owned());
            span.record("otel.name", format!("{} {route}", request.method()));
            span.record("http.route", route);
        }
        span
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

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
    let route = route_pattern(&req).unwrap_or_else(|| "unmatched".to_owned());
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
