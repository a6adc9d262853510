//! A crowd for the benchmark: every line of a plan is one request, sent exactly once, as
//! many at a time as there are connections — the way a popular activity's sign-ups
//! arrive. wrk cannot send each request once with its own resident's token, so the
//! harness uses this for the sign-up crowds (and wrk for the rest).
//!
//!   crowd BASE_URL PLAN CONNECTIONS
//!
//! PLAN has one `METHOD PATH TOKEN` per line. Prints one JSON line: requests, seconds,
//! requests per second, latency percentiles (ms), status counts and transport errors.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, base, plan, connections] = args.as_slice() else {
        anyhow::bail!("usage: crowd BASE_URL PLAN CONNECTIONS");
    };
    let connections: usize = connections.parse().context("CONNECTIONS")?;
    let plan: Vec<(reqwest::Method, String, String)> = std::fs::read_to_string(plan)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut parts = l.split_whitespace();
            let method = parts.next().unwrap_or("GET").parse().unwrap_or(reqwest::Method::GET);
            let path = parts.next().unwrap_or("/").to_owned();
            let token = parts.next().unwrap_or("").to_owned();
            (method, path, token)
        })
        .collect();
    let plan = Arc::new(plan);
    linli_server::startup::install_crypto_provider();
    let client =
        reqwest::Client::builder().pool_max_idle_per_host(connections).timeout(Duration::from_secs(60)).build()?;
    // Open the connections first, so the crowd is not slowed by connection set-up.
    let warm: Vec<_> = (0..connections)
        .map(|_| {
            let client = client.clone();
            let url = format!("{base}/healthz");
            tokio::spawn(async move { client.get(url).send().await.map(|_| ()) })
        })
        .collect();
    for w in warm {
        let _ = w.await;
    }

    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (client, plan, next, base) = (client.clone(), plan.clone(), next.clone(), base.clone());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((method, path, token)) = plan.get(i) else { break };
                    let mut req = client.request(method.clone(), format!("{base}{path}"));
                    if !token.is_empty() {
                        req = req.bearer_auth(token);
                    }
                    let at = Instant::now();
                    let status = match req.send().await {
                        Ok(resp) => {
                            let status = resp.status().as_u16();
                            let _ = resp.bytes().await;
                            Some(status)
                        }
                        Err(_) => None,
                    };
                    seen.push((status, at.elapsed()));
                }
                seen
            })
        })
        .collect();
    let mut samples = Vec::with_capacity(plan.len());
    for w in workers {
        samples.extend(w.await?);
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    let mut errors = 0;
    for (status, _) in &samples {
        match status {
            Some(s) => *statuses.entry(s.to_string()).or_default() += 1,
            None => errors += 1,
        }
    }
    let mut latencies: Vec<f64> = samples.iter().map(|(_, d)| d.as_secs_f64() * 1000.0).collect();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        let i = ((p / 100.0) * latencies.len() as f64).ceil() as usize;
        latencies.get(i.saturating_sub(1)).copied().unwrap_or(0.0)
    };
    let round = |v: f64| (v * 100.0).round() / 100.0;
    println!(
        "{}",
        json!({
            "requests": samples.len(),
            "seconds": round(seconds),
            "rps": round(samples.len() as f64 / seconds),
            "p50_ms": round(pct(50.0)),
            "p90_ms": round(pct(90.0)),
            "p99_ms": round(pct(99.0)),
            "max_ms": round(latencies.last().copied().unwrap_or(0.0)),
            "statuses": statuses,
            "socket_errors": errors,
        })
    );
    Ok(())
}
