//! Short-lived caches for hot public reads: the region tree and the browse lists. They
//! are the same for every caller (nothing personal is in them), so signed-in reads are
//! served from them too. Values live in each replica; a generation number shared through
//! Redis is bumped by every write and announced on a pub/sub channel, so a change on one
//! replica empties every replica's cache within milliseconds, without a Redis round trip
//! on each read. While the subscription is down, reads ask Redis for the generation
//! themselves; without Redis (or while it is down) the generation is per process and the
//! TTL bounds how stale another replica's view can be.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use actix_web::{
    Error, HttpResponse,
    body::{EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::Method,
    web,
};
use futures_util::StreamExt;
use tokio::sync::{Notify, futures::OwnedNotified};

use super::RedisHandle;
use crate::context::AppContext;

#[derive(Debug)]
pub struct PublicCache {
    entries: Mutex<HashMap<String, (Instant, u64, web::Bytes)>>,
    /// Keys being computed right now, so concurrent misses wait for one computation
    /// instead of all querying the database (an expiry under load is one query, not 64).
    inflight: Mutex<HashMap<String, Arc<Notify>>>,
    local_generation: AtomicU64,
    /// The shared generation as last announced, while `listening`.
    shared_generation: Arc<AtomicU64>,
    listening: Arc<AtomicBool>,
    redis: Option<RedisHandle>,
    ttl: Duration,
}

impl PublicCache {
    /// With Redis, also starts the task that follows the shared generation.
    pub fn new(redis: Option<RedisHandle>, ttl: Duration) -> Self {
        let cache = Self {
            entries: Mutex::new(HashMap::new()),
            inflight: Mutex::new(HashMap::new()),
            local_generation: AtomicU64::new(0),
            shared_generation: Arc::new(AtomicU64::new(0)),
            listening: Arc::new(AtomicBool::new(false)),
            redis,
            ttl,
        };
        if let Some(redis) = cache.redis.clone() {
            tokio::spawn(follow(redis, cache.shared_generation.clone(), cache.listening.clone()));
        }
        cache
    }

    async fn generation(&self) -> u64 {
        let local = self.local_generation.load(Ordering::Relaxed);
        let shared = match &self.redis {
            None => return local,
            Some(_) if self.listening.load(Ordering::Acquire) => self.shared_generation.load(Ordering::Acquire),
            Some(r) => {
                let shared: Option<Option<u64>> = r.run(redis::cmd("GET").arg(generation_key(r))).await;
                shared.flatten().unwrap_or(0)
            }
        };
        // Mixed with ours, so a local bump counts too.
        shared.wrapping_mul(1_000_003).wrapping_add(local)
    }

    /// Every write bumps the generation and announces it: cached lists are dropped everywhere.
    pub async fn invalidate(&self) {
        self.local_generation.fetch_add(1, Ordering::Relaxed);
        if let Some(r) = &self.redis {
            // Bump and announce in one round trip.
            let bump = redis::cmd("EVAL")
                .arg("local g = redis.call('INCR', KEYS[1]) redis.call('PUBLISH', KEYS[1], g) return g")
                .arg(1)
                .arg(generation_key(r))
                .to_owned();
            if let Some(g) = r.run::<u64>(&bump).await {
                self.shared_generation.fetch_max(g, Ordering::AcqRel);
            }
        }
    }

    fn get(&self, key: &str, generation: u64) -> Option<web::Bytes> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(key).filter(|(at, g, _)| *g == generation && at.elapsed() < self.ttl).map(|(_, _, b)| b.clone())
    }

    fn put(&self, key: String, generation: u64, body: web::Bytes) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() > 10_000 {
            let ttl = self.ttl;
            entries.retain(|_, (at, g, _)| *g == generation && at.elapsed() < ttl);
        }
        entries.insert(key, (Instant::now(), generation, body));
    }
}

/// A miss either leads the computation of its key or waits for the one under way.
enum Flight {
    Lead(FlightGuard),
    Follow(OwnedNotified),
}

/// Ends the lead when dropped (also on error or cancellation) and wakes the followers.
struct FlightGuard {
    cache: Arc<PublicCache>,
    key: String,
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        let notify = self.cache.inflight.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.key);
        if let Some(n) = notify {
            n.notify_waiters();
        }
    }
}

impl PublicCache {
    fn flight(self: &Arc<Self>, key: &str) -> Flight {
        let mut inflight = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
        match inflight.get(key) {
            // Created under the lock: the leader's wake-up cannot be missed.
            Some(n) => Flight::Follow(n.clone().notified_owned()),
            None => {
                inflight.insert(key.to_owned(), Arc::new(Notify::new()));
                Flight::Lead(FlightGuard { cache: self.clone(), key: key.to_owned() })
            }
        }
    }
}

/// A follower waits at most this long for the leader, then computes for itself.
const FOLLOW_WAIT: Duration = Duration::from_secs(2);

fn generation_key(r: &RedisHandle) -> String {
    format!("{}cache:generation", r.prefix)
}

/// Subscribes to the generation channel, reads the current number once subscribed (so no
/// bump is missed in between), then follows the announcements. `listening` is true only
/// while that holds; on any failure it turns false and the subscription is tried again.
async fn follow(redis: RedisHandle, shared: Arc<AtomicU64>, listening: Arc<AtomicBool>) {
    let key = generation_key(&redis);
    loop {
        let subscribed = async {
            let mut pubsub = redis.client().get_async_pubsub().await?;
            pubsub.subscribe(&key).await?;
            let current: Option<Option<u64>> = redis.run(redis::cmd("GET").arg(&key)).await;
            let Some(current) = current else {
                anyhow::bail!("Redis did not answer the generation");
            };
            // No key yet: nothing has been written since Redis started.
            shared.fetch_max(current.unwrap_or(0), Ordering::AcqRel);
            anyhow::Ok(pubsub)
        };
        match tokio::time::timeout(Duration::from_secs(2), subscribed).await {
            Ok(Ok(mut pubsub)) => {
                listening.store(true, Ordering::Release);
                // Borrowed, not consumed: dropping the sink half would close the connection.
                let mut messages = pubsub.on_message();
                while let Some(msg) = messages.next().await {
                    if let Ok(g) = msg.get_payload::<u64>() {
                        shared.fetch_max(g, Ordering::AcqRel);
                    }
                }
                listening.store(false, Ordering::Release);
                tracing::warn!("lost the cache-generation subscription; reads ask Redis until it is back");
            }
            Ok(Err(e)) => tracing::debug!(error = %e, "cache-generation subscription failed"),
            Err(_) => tracing::debug!("cache-generation subscription timed out"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Exactly the public, caller-independent reads: `/regions`, `/regions/{id}`,
/// `/organizations`, `/activities` (never a role-scoped path such as a region's metrics).
fn cacheable(req: &ServiceRequest) -> bool {
    let path = req.path();
    req.method() == Method::GET
        && (matches!(path, "/api/v1/regions" | "/api/v1/organizations" | "/api/v1/activities")
            || path
                .strip_prefix("/api/v1/regions/")
                .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())))
}

fn is_write(req: &ServiceRequest) -> bool {
    let path = req.path();
    !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        && path.starts_with("/api/v1/")
        && !path.starts_with("/api/v1/auth/")
        && !path.starts_with("/api/v1/me/")
}

/// Serves cached public reads (`x-cache: hit`), fills the cache on a miss, and
/// invalidates it after every successful write.
pub async fn cache_public_reads(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let Some(ctx) = req.app_data::<web::Data<AppContext>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    if is_write(&req) {
        let res = next.call(req).await?;
        if res.status().is_success() {
            ctx.public_cache.invalidate().await;
        }
        return Ok(res.map_into_left_body());
    }
    if ctx.config.public_cache_ttl.is_zero() || !cacheable(&req) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let key = format!("{}?{}", req.path(), req.query_string());
    let cache = &ctx.public_cache;
    let mut generation = cache.generation().await;
    if let Some(body) = cache.get(&key, generation) {
        return Ok(req.into_response(hit(body)).map_into_right_body());
    }
    let _lead = match cache.flight(&key) {
        Flight::Lead(guard) => Some(guard),
        Flight::Follow(done) => {
            // Once only: if the leader cached nothing (an error), compute without leading.
            let _ = tokio::time::timeout(FOLLOW_WAIT, done).await;
            generation = cache.generation().await;
            if let Some(body) = cache.get(&key, generation) {
                return Ok(req.into_response(hit(body)).map_into_right_body());
            }
            None
        }
    };
    let res = next.call(req).await?;
    if res.status() != actix_web::http::StatusCode::OK {
        return Ok(res.map_into_left_body());
    }
    let (http_req, response) = res.into_parts();
    let (head, body) = response.into_parts();
    let bytes =
        actix_web::body::to_bytes(body).await.map_err(|_| actix_web::error::ErrorInternalServerError("body"))?;
    cache.put(key, generation, bytes.clone());
    let response = head.set_body(bytes).map_into_boxed_body();
    Ok(ServiceResponse::new(http_req, response).map_into_right_body())
}

fn hit(body: web::Bytes) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").insert_header(("x-cache", "hit")).body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_expire_and_writes_invalidate() {
        let cache = PublicCache::new(None, Duration::from_millis(50));
        let g = cache.generation().await;
        cache.put("k".into(), g, web::Bytes::from_static(b"v"));
        assert_eq!(cache.get("k", g).as_deref(), Some(&b"v"[..]));
        cache.invalidate().await;
        let g2 = cache.generation().await;
        assert_ne!(g, g2);
        assert!(cache.get("k", g2).is_none());
        cache.put("k".into(), g2, web::Bytes::from_static(b"w"));
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(cache.get("k", g2).is_none(), "expired");
    }

    #[tokio::test]
    async fn concurrent_misses_wait_for_one_leader() {
        let cache = Arc::new(PublicCache::new(None, Duration::from_secs(5)));
        let Flight::Lead(lead) = cache.flight("k") else { panic!("the first miss leads") };
        let Flight::Follow(follow) = cache.flight("k") else { panic!("the second follows") };
        assert!(matches!(cache.flight("other"), Flight::Lead(_)), "other keys are independent");
        let waiting = tokio::spawn(follow);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "waits while the leader computes");
        drop(lead);
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("woken"));
        assert!(matches!(cache.flight("k"), Flight::Lead(_)), "the next miss leads again");
    }
}
