//! Everything a request or a job needs, shared as one `web::Data<AppContext>`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use sea_orm::DatabaseConnection;

use crate::{
    auth::jwt::JwtKeys,
    cache::{RedisHandle, public::PublicCache, ratelimit::RateLimiter},
    config::Config,
    domain::clock::Clock,
    wechat::WechatClient,
};

#[derive(Clone, Debug)]
pub struct AppContext {
    pub db: DatabaseConnection,
    pub redis: Option<RedisHandle>,
    pub wechat: WechatClient,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub jwt: Arc<JwtKeys>,
    pub limiter: Arc<RateLimiter>,
    pub public_cache: Arc<PublicCache>,
    /// Notices this process has claimed and not yet settled, each with the end of its
    /// lease (its queue row's `due_at` while the claim stands); given back at shutdown.
    pub claimed: Arc<Mutex<HashMap<i64, chrono::DateTime<chrono::Utc>>>>,
    /// Held while a dispatch batch runs, so shutdown can wait for it.
    pub dispatching: Arc<tokio::sync::Mutex<crate::jobs::dispatch::Dispatcher>>,
    /// Sign-ups waiting to be applied, by activity (`service::signup_batch`).
    pub signups: Arc<crate::service::signup_batch::SignupQueue>,
}

impl AppContext {
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// This process's unsettled claims (notice id → end of its lease), locked. A panic
    /// while they were held leaves them usable: each change is one insert or removal.
    pub fn claims(&self) -> std::sync::MutexGuard<'_, HashMap<i64, chrono::DateTime<chrono::Utc>>> {
        self.claimed.lock().unwrap_or_else(|p| p.into_inner())
    }
}
