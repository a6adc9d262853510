//! Redis, when configured, behind what can degrade. The database stays the source of
//! truth: Redis only holds what can be lost (the shared WeChat token, rate-limit
//! counters), so when it is unreachable the service keeps serving with per-process
//! limits, says so in `/readyz` and a metric, and picks Redis up again when it returns.

pub mod public;
pub mod ratelimit;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicI64, Ordering},
    },
    time::Duration,
};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::RwLock;

/// After a failed command, Redis is skipped this long (no request waits on a dead Redis).
const COOL_OFF_SECS: i64 = 5;

#[derive(Clone)]
pub struct RedisHandle {
    client: redis::Client,
    conn: Arc<RwLock<Option<ConnectionManager>>>,
    skip_until: Arc<AtomicI64>,
    up: Arc<AtomicBool>,
    pub prefix: String,
}

impl std::fmt::Debug for RedisHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisHandle").field("prefix", &self.prefix).field("up", &self.is_up()).finish()
    }
}

fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_millis(500)))
        .set_number_of_retries(1)
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl RedisHandle {
    /// Opens Redis. Unreachable at start is not fatal: a background task keeps trying.
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let handle = Self {
            client,
            conn: Arc::new(RwLock::new(None)),
            skip_until: Arc::new(AtomicI64::new(0)),
            up: Arc::new(AtomicBool::new(false)),
            prefix: prefix.to_owned(),
        };
        if let Err(e) = handle.try_connect().await {
            tracing::error!(error = %e, "Redis is unreachable at start; serving without it and retrying");
        }
        let background = handle.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                if background.conn.read().await.is_none() && background.try_connect().await.is_ok() {
                    tracing::info!("Redis reachable again");
                }
                if background.conn.read().await.is_some() && !background.is_up() && background.ping().await.is_ok() {
                    tracing::info!("Redis answers again");
                }
            }
        });
        Ok(handle)
    }

    async fn try_connect(&self) -> anyhow::Result<()> {
        let manager = tokio::time::timeout(
            Duration::from_secs(2),
            ConnectionManager::new_with_config(self.client.clone(), manager_config()),
        )
        .await
        .map_err(|_| anyhow::anyhow!("timed out connecting to Redis"))??;
        *self.conn.write().await = Some(manager);
        self.mark(true);
        Ok(())
    }

    fn mark(&self, up: bool) {
        self.up.store(up, Ordering::Relaxed);
        metrics::gauge!("linli_redis_up").set(if up { 1.0 } else { 0.0 });
        if !up {
            self.skip_until.store(now_secs() + COOL_OFF_SECS, Ordering::Relaxed);
        }
    }

    /// The client, for connections of their own (pub/sub).
    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// A connection, unless Redis is known to be down right now.
    pub async fn conn(&self) -> Option<ConnectionManager> {
        if now_secs() < self.skip_until.load(Ordering::Relaxed) {
            return None;
        }
        self.conn.read().await.clone()
    }

    /// Runs a command; a failure marks Redis down for a few seconds and returns `None`.
    pub async fn run<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Option<T> {
        let mut conn = self.conn().await?;
        match cmd.query_async::<T>(&mut conn).await {
            Ok(v) => {
                if !self.is_up() {
                    self.mark(true);
                }
                Some(v)
            }
            Err(e) => {
                if self.is_up() {
                    tracing::warn!(error = %e, "Redis command failed; degrading to the process for a while");
                }
                self.mark(false);
                None
            }
        }
    }

    pub async fn ping(&self) -> anyhow::Result<()> {
        let Some(mut conn) = self.conn.read().await.clone() else {
            self.mark(false);
            anyhow::bail!("not connected");
        };
        let pong: Result<String, _> =
            tokio::time::timeout(Duration::from_secs(1), redis::cmd("PING").query_async(&mut conn))
                .await
                .map_err(|_| anyhow::anyhow!("PING timed out"))
                .and_then(|r| r.map_err(anyhow::Error::from));
        match pong {
            Ok(p) if p == "PONG" => {
                self.mark(true);
                Ok(())
            }
            Ok(p) => {
                self.mark(false);
                anyhow::bail!("unexpected PING answer {p}")
            }
            Err(e) => {
                self.mark(false);
                Err(e)
            }
        }
    }
}
