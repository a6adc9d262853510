//! Short-lived caches for hot public reads: the region tree and the browse lists, as
//! anonymous callers see them. Values live in each replica; a generation number shared
//! through Redis is bumped by every write, so a change on one replica empties every
//! replica's cache at once. Without Redis (or while it is down) the generation is per
//! process and the TTL bounds how stale another replica's view can be.

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use actix_web::{
    Error, HttpResponse,
    body::{EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{Method, header},
    web,
};

use super::RedisHandle;
use crate::context::AppContext;

#[derive(Debug)]
pub struct PublicCache {
    entries: Mutex<HashMap<String, (Instant, u64, web::Bytes)>>,
    local_generation: AtomicU64,
    redis: Option<RedisHandle>,
    ttl: Duration,
}

impl PublicCache {
    pub fn new(redis: Option<RedisHandle>, ttl: Duration) -> Self {
        Self { entries: Mutex::new(HashMap::new()), local_generation: AtomicU64::new(0), redis, ttl }
    }

    async fn generation(&self) -> u64 {
        let local = self.local_generation.load(Ordering::Relaxed);
        match &self.redis {
            Some(r) => {
                let key = format!("{}cache:generation", r.prefix);
                let shared: Option<Option<u64>> = r.run(redis::cmd("GET").arg(key)).await;
                // The shared number when Redis answers; mixed with ours, so a local bump counts too.
                shared.flatten().unwrap_or(0).wrapping_mul(1_000_003).wrapping_add(local)
            }
            None => local,
        }
    }

    /// Every write bumps the generation: cached lists are dropped everywhere.
    pub async fn invalidate(&self) {
        self.local_generation.fetch_add(1, Ordering::Relaxed);
        if let Some(r) = &self.redis {
            let key = format!("{}cache:generation", r.prefix);
            let _: Option<u64> = r.run(redis::cmd("INCR").arg(key)).await;
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

fn cacheable(req: &ServiceRequest) -> bool {
    let path = req.path();
    req.method() == Method::GET
        && !req.headers().contains_key(header::AUTHORIZATION)
        && (path == "/api/v1/regions"
            || (path.starts_with("/api/v1/regions/") && !path.contains("/metrics"))
            || path == "/api/v1/organizations"
            || path == "/api/v1/activities")
}

fn is_write(req: &ServiceRequest) -> bool {
    let path = req.path();
    !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        && path.starts_with("/api/v1/")
        && !path.starts_with("/api/v1/auth/")
        && !path.starts_with("/api/v1/me/")
}

/// Serves cached anonymous reads (`x-cache: hit`), fills the cache on a miss, and
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
    let generation = ctx.public_cache.generation().await;
    if let Some(body) = ctx.public_cache.get(&key, generation) {
        let response = HttpResponse::Ok().content_type("application/json").insert_header(("x-cache", "hit")).body(body);
        return Ok(req.into_response(response).map_into_right_body());
    }
    let res = next.call(req).await?;
    if res.status() != actix_web::http::StatusCode::OK {
        return Ok(res.map_into_left_body());
    }
    let (http_req, response) = res.into_parts();
    let (head, body) = response.into_parts();
    let bytes =
        actix_web::body::to_bytes(body).await.map_err(|_| actix_web::error::ErrorInternalServerError("body"))?;
    ctx.public_cache.put(key, generation, bytes.clone());
    let response = head.set_body(bytes).map_into_boxed_body();
    Ok(ServiceResponse::new(http_req, response).map_into_right_body())
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
}
