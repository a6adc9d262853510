//! Fixed-window rate limits per minute: shared through Redis across replicas, per
//! process when Redis is absent or down.
//!
//! Each replica counts hits in memory and pushes them to Redis in the background every
//! [`FLUSH_EVERY`], learning the shared total back; a caller's request asks Redis itself
//! only once the caller has used half the limit by the replica's own reckoning. So an
//! ordinary request costs no Redis round trip, and a caller near the limit is counted
//! exactly across replicas.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use actix_web::{
    Error, HttpMessage,
    body::{EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::header,
    middleware::Next,
    web,
};

use super::RedisHandle;
use crate::{context::AppContext, error::AppError};

/// How often a replica's counts are pushed to Redis.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// The verdict on one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny { retry_after_secs: u64 },
}

/// One key's count in the current window.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    window: u64,
    /// Hits here not yet pushed to Redis.
    pending: u32,
    /// The shared total when last heard from Redis (our pushed hits included).
    shared: u32,
}

#[derive(Debug, Default)]
pub struct RateLimiter {
    local: Arc<Mutex<HashMap<String, Slot>>>,
    redis: Option<RedisHandle>,
}

fn window_now() -> (u64, u64) {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    (secs / 60, 60 - secs % 60)
}

impl RateLimiter {
    /// With Redis, also starts the task that pushes the counts.
    pub fn new(redis: Option<RedisHandle>) -> Self {
        let limiter = Self { local: Arc::default(), redis };
        if limiter.redis.is_some() {
            let background = Self { local: limiter.local.clone(), redis: limiter.redis.clone() };
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(FLUSH_EVERY).await;
                    background.flush().await;
                }
            });
        }
        limiter
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.local.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a hit on `key` and decides against `limit` per minute (0: no limit).
    pub async fn hit(&self, key: &str, limit: u32) -> Decision {
        if limit == 0 {
            return Decision::Allow;
        }
        let (window, left) = window_now();
        let estimate = {
            let mut slots = self.slots();
            if slots.len() > 100_000 {
                slots.retain(|_, s| s.window == window);
            }
            let slot = slots.entry(key.to_owned()).or_default();
            if slot.window != window {
                *slot = Slot { window, ..Slot::default() };
            }
            slot.pending += 1;
            slot.shared + slot.pending
        };
        let count = match &self.redis {
            // Near the limit: the exact shared count, now.
            Some(redis) if estimate.saturating_mul(2) >= limit => {
                self.push(redis, window, vec![key.to_owned()]).await.unwrap_or(estimate)
            }
            _ => estimate,
        };
        if count > limit { Decision::Deny { retry_after_secs: left } } else { Decision::Allow }
    }

    /// Pushes every key's pending hits to Redis (the background task's step).
    pub async fn flush(&self) {
        let Some(redis) = &self.redis else { return };
        let (window, _) = window_now();
        let keys: Vec<String> =
            self.slots().iter().filter(|(_, s)| s.window == window && s.pending > 0).map(|(k, _)| k.clone()).collect();
        for chunk in keys.chunks(500) {
            if self.push(redis, window, chunk.to_vec()).await.is_none() {
                return; // Redis is down: the hits stay pending and count locally
            }
        }
    }

    /// Adds the keys' pending hits to their shared counters in one round trip and
    /// records the totals. Returns the last key's total with any hits counted since, or
    /// `None` when Redis did not answer (the hits stay pending).
    async fn push(&self, redis: &RedisHandle, window: u64, keys: Vec<String>) -> Option<u32> {
        let taken: Vec<(String, u32)> = {
            let mut slots = self.slots();
            keys.into_iter()
                .filter_map(|k| {
                    let slot = slots.get_mut(&k).filter(|s| s.window == window)?;
                    let n = std::mem::take(&mut slot.pending);
                    Some((k, n))
                })
                .collect()
        };
        let mut pipe = redis::pipe();
        for (key, n) in &taken {
            let redis_key = format!("{}rl:{key}:{window}", redis.prefix);
            pipe.cmd("INCRBY").arg(&redis_key).arg(*n).cmd("EXPIRE").arg(&redis_key).arg(61).ignore();
        }
        let totals: Option<Vec<u32>> = match redis.conn().await {
            Some(mut conn) => match pipe.query_async(&mut conn).await {
                Ok(v) => Some(v),
                Err(e) => {
                    tracing::debug!(error = %e, "rate limit falls back to the process");
                    let _ = redis.run::<String>(redis::cmd("PING").arg("x")).await;
                    None
                }
            },
            None => None,
        };
        let mut slots = self.slots();
        let mut last = None;
        for (i, (key, n)) in taken.iter().enumerate() {
            let Some(slot) = slots.get_mut(key).filter(|s| s.window == window) else { continue };
            match totals.as_ref().and_then(|t| t.get(i)) {
                Some(total) => {
                    slot.shared = *total;
                    last = Some(slot.shared + slot.pending);
                }
                None => slot.pending += n,
            }
        }
        last
    }
}

/// An IP network, `10.0.0.0/8` or a single address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Self> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, p.parse::<u8>().ok()?),
            None => {
                let a = s.trim().parse::<IpAddr>().ok()?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Self { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        fn bits(ip: IpAddr) -> (u128, u8) {
            match ip {
                IpAddr::V4(v) => (u32::from(v) as u128, 32),
                IpAddr::V6(v) => match v.to_ipv4_mapped() {
                    Some(v4) => (u32::from(v4) as u128, 32),
                    None => (u128::from(v), 128),
                },
            }
        }
        let (net, width) = bits(self.addr);
        let (other, other_width) = bits(ip);
        if width != other_width {
            return false;
        }
        if self.prefix == 0 {
            return true;
        }
        let shift = width - self.prefix;
        (net >> shift) == (other >> shift)
    }
}

/// The client's address: the peer, or — only when the peer is a trusted proxy — the
/// nearest address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(peer: Option<IpAddr>, forwarded_for: Option<&str>, trusted: &[Cidr]) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return Some(peer);
    }
    let chain: Vec<IpAddr> =
        forwarded_for.unwrap_or("").split(',').filter_map(|s| s.trim().parse::<IpAddr>().ok()).collect();
    Some(chain.into_iter().rev().find(|ip| !is_trusted(*ip)).unwrap_or(peer))
}

const LOGIN_PATH: &str = "/api/v1/auth/wechat/login";

/// `RATE_LIMIT_PER_MINUTE` per caller (the user when signed in, else the address) on
/// the API, and `LOGIN_RATE_LIMIT_PER_MINUTE` per address on login. 429 with `Retry-After`.
pub async fn limit_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let Some(ctx) = req.app_data::<web::Data<AppContext>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    // The API and the web console share the limits.
    let console = req.path().starts_with("/console/") && !req.path().starts_with("/console/static/");
    if !req.path().starts_with("/api/") && !console {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let ip = client_ip(
        req.peer_addr().map(|a| a.ip()),
        req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok()),
        &ctx.config.trusted_proxies,
    );
    let ip = ip.map(|i| i.to_string()).unwrap_or_else(|| "unknown".into());
    let verified = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .and_then(|t| {
            let token = t.trim();
            let (user_id, version) = ctx.jwt.verify(token, ctx.now()).ok()?;
            Some(crate::auth::extractor::VerifiedBearer { token: token.to_owned(), user_id, version })
        });
    let user = verified.as_ref().map(|v| v.user_id);
    if let Some(v) = verified {
        req.extensions_mut().insert(v); // the extractors use it rather than verify again
    }
    let mut verdicts = Vec::with_capacity(2);
    // Signing in (the console's sign-in page makes a ticket; its dev form signs in), not
    // the page's poll of its own ticket: 40 polls a minute per open page would let a few
    // PCs behind one office address lock each other out.
    if req.path() == LOGIN_PATH || (req.path().starts_with("/console/login") && req.path() != "/console/login/poll") {
        verdicts.push(ctx.limiter.hit(&format!("login:{ip}"), ctx.config.login_rate_limit_per_minute).await);
    }
    // A console page is counted per session (its cookie, hashed as sessions are stored),
    // as an API call per user: an office's PCs share one address.
    let console_session = console
        .then(|| crate::console::cookie(req.request(), crate::console::SESSION_COOKIE))
        .flatten()
        .map(|token| crate::service::auth::hash_token(&token));
    let caller = match (user, console_session) {
        (Some(id), _) => format!("u:{id}"),
        (None, Some(session)) => format!("cs:{session}"),
        (None, None) => format!("ip:{ip}"),
    };
    verdicts.push(ctx.limiter.hit(&caller, ctx.config.rate_limit_per_minute).await);
    if let Some(Decision::Deny { retry_after_secs }) = verdicts.into_iter().find(|d| *d != Decision::Allow) {
        metrics::counter!("linli_rate_limited_total").increment(1);
        let err = AppError::RateLimited { retry_after_secs };
        if console {
            // The console answers with its own HTML page (and `Retry-After`).
            let page = actix_web::ResponseError::error_response(&crate::console::PageError(err));
            return Ok(req.into_response(page).map_into_right_body());
        }
        return Ok(req.error_response(err).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn cidrs_match_their_networks() {
        let net = Cidr::parse("10.0.0.0/8");
        assert!(net.is_some_and(|n| n.contains(ip("10.1.2.3"))));
        assert!(net.is_some_and(|n| !n.contains(ip("11.0.0.1"))));
        assert!(Cidr::parse("127.0.0.1").is_some_and(|n| n.contains(ip("::ffff:127.0.0.1"))));
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("fd00::/8").is_some_and(|n| n.contains(ip("fd12::1"))));
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = [Cidr::parse("10.0.0.0/8").unwrap_or(Cidr { addr: ip("10.0.0.0"), prefix: 8 })];
        // A client cannot choose its address by sending the header itself.
        assert_eq!(client_ip(Some(ip("1.2.3.4")), Some("9.9.9.9"), &trusted), Some(ip("1.2.3.4")));
        // Through the proxy: the nearest untrusted address, not a spoofed first one.
        assert_eq!(client_ip(Some(ip("10.0.0.5")), Some("9.9.9.9, 1.2.3.4, 10.0.0.7"), &trusted), Some(ip("1.2.3.4")));
        assert_eq!(client_ip(Some(ip("10.0.0.5")), None, &trusted), Some(ip("10.0.0.5")));
    }

    #[tokio::test]
    async fn the_window_counts_and_zero_turns_it_off() {
        let limiter = RateLimiter::new(None);
        for _ in 0..3 {
            assert_eq!(limiter.hit("k", 3).await, Decision::Allow);
        }
        assert!(matches!(limiter.hit("k", 3).await, Decision::Deny { .. }));
        assert_eq!(limiter.hit("other", 3).await, Decision::Allow);
        for _ in 0..10 {
            assert_eq!(limiter.hit("free", 0).await, Decision::Allow);
        }
    }
}
