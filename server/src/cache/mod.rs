//! Redis, when configured. The database stays the source of truth: Redis only holds
//! what can be lost (caches, counters), so the service degrades instead of failing.

use std::time::Duration;

use redis::aio::ConnectionManager;

#[derive(Clone)]
pub struct RedisHandle {
    pub conn: ConnectionManager,
    pub prefix: String,
}

impl std::fmt::Debug for RedisHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisHandle").field("prefix", &self.prefix).finish()
    }
}

impl RedisHandle {
    /// Connects with bounded timeouts; the manager reconnects by itself afterwards.
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(2);
        let conn = tokio::time::timeout(Duration::from_secs(3), ConnectionManager::new_with_config(client, config))
            .await
            .map_err(|_| anyhow::anyhow!("timed out connecting to Redis"))??;
        Ok(Self { conn, prefix: prefix.to_owned() })
    }

    pub async fn ping(&self) -> anyhow::Result<()> {
        let mut conn = self.conn.clone();
        let pong: String = tokio::time::timeout(Duration::from_secs(2), redis::cmd("PING").query_async(&mut conn))
            .await
            .map_err(|_| anyhow::anyhow!("Redis PING timed out"))??;
        anyhow::ensure!(pong == "PONG", "unexpected PING answer");
        Ok(())
    }
}
