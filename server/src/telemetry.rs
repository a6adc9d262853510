//! Logs: text in dev, JSON in production; every line inside a request carries its
//! request id (the root span of `tracing-actix-web`).

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

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
