//! Everything a request or a job needs, shared as one `web::Data<AppContext>`.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::{auth::jwt::JwtKeys, cache::RedisHandle, config::Config, domain::clock::Clock, wechat::WechatClient};

#[derive(Clone, Debug)]
pub struct AppContext {
    pub db: DatabaseConnection,
    pub redis: Option<RedisHandle>,
    pub wechat: WechatClient,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub jwt: Arc<JwtKeys>,
}

impl AppContext {
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
}
