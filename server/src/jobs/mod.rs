//! Background jobs, registered in one place. Each job's core is a plain async function
//! that does one step and returns what it did, so tests call it directly; the scheduler
//! only calls it on a timer.

pub mod dispatch;

use std::time::Duration;

use tokio_cron_scheduler::{Job, JobScheduler};

use crate::{context::AppContext, service};

pub async fn start(ctx: AppContext) -> anyhow::Result<JobScheduler> {
    let scheduler = JobScheduler::new().await?;
    let ctx_dispatch = ctx.clone();
    let ctx_finish = ctx.clone();
    let digest_ctx = ctx.clone();
    let ctx_reports = ctx.clone();
    let ratings_ctx = ctx.clone();
    let series_ctx = ctx.clone();
    let sweep_ctx = ctx.clone();
    // Once at start, so a restarted server (or the demo's regulars) need not wait an hour.
    match service::series::materialise::tick(&ctx).await {
        Ok(r) => tracing::info!(?r, "activity series caught up"),
        Err(e) => tracing::warn!(error = %e, "activity series job failed at start"),
    }
    scheduler
        .add(Job::new_repeated_async(Duration::from_secs(3600), move |_, _| {
            let ctx = ctx.clone();
            Box::pin(async move {
                match service::auth::purge_expired_refresh_tokens(&ctx).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(purged = n, "expired refresh tokens purged"),
                    Err(e) => tracing::warn!(error = %e, "purging refresh tokens failed"),
                }
                match service::console_sessions::purge(&ctx).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(purged = n, "old console tickets and sessions purged"),
                    Err(e) => tracing::warn!(error = %e, "purging console tickets and sessions failed"),
                }
            })
        })?)
        .await?;
    let dispatch_ctx = ctx_dispatch;
    scheduler
        .add(Job::new_repeated_async(dispatch_ctx.config.dispatch_interval, move |_, _| {
            let ctx = dispatch_ctx.clone();
            Box::pin(async move {
                metrics::counter!("linli_scheduler_runs_total", "job" => "dispatch").increment(1);
                match dispatch::drain(&ctx, dispatch::BATCH, dispatch::MAX_BATCHES).await {
                    Ok(r) if r.claimed == 0 => tracing::trace!("nothing due"),
                    Ok(r) => tracing::info!(?r, "notices dispatched"),
                    Err(e) => tracing::warn!(error = %e, "dispatching notices failed; will try again"),
                }
            })
        })?)
        .await?;
    let finish_ctx = ctx_finish;
    scheduler
        .add(Job::new_repeated_async(Duration::from_secs(300), move |_, _| {
            let ctx = finish_ctx.clone();
            Box::pin(async move {
                metrics::counter!("linli_scheduler_runs_total", "job" => "auto_finish").increment(1);
                match service::attendance::finish_overdue(&ctx).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(closed = n, "overdue activities closed"),
                    Err(e) => tracing::warn!(error = %e, "closing overdue activities failed"),
                }
            })
        })?)
        .await?;
    scheduler
        .add(Job::new_repeated_async(Duration::from_secs(300), move |_, _| {
            let ctx = sweep_ctx.clone();
            Box::pin(async move {
                metrics::counter!("linli_scheduler_runs_total", "job" => "waitlist_sweep").increment(1);
                match service::promotions::sweep(&ctx).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(promoted = n, "waitlist sweep promoted residents into free places"),
                    Err(e) => tracing::warn!(error = %e, "waitlist sweep failed"),
                }
            })
        })?)
        .await?;
    scheduler
        .add(Job::new_repeated_async(Duration::from_secs(3600), move |_, _| {
            let ctx = digest_ctx.clone();
            Box::pin(async move {
                metrics::counter!("linli_scheduler_runs_total", "job" => "work_digest").increment(1);
                match service::work_queue::digest_once(&ctx).await {
                    Ok(r) if r.queued == 0 => tracing::debug!(?r, "no work digest due"),
                    Ok(r) => tracing::info!(?r, "work digests queued"),
                    Err(e) => tracing::warn!(error = %e, "queuing work digests failed"),
                }
            })
        })?)
        .await?;
    scheduler
        .add(Job::new_repeated_async(Duration::from_secs(3600), move |_, _| {
            let ctx = series_ctx.clone();
            Box::pin(async move {
                metrics::counter!("linli_scheduler_runs_total", "job" => "activity_series").increment(1);
                match service::series::materialise::tick(&ctx).await {
                    Ok(r) if r == Default::default() => tracing::debug!("no series work"),
                    Ok(r) => tracing::info!(?r, "series dates made, regulars signed up or paused"),
                    Err(e) => tracing::warn!(error = %e, "activity series job failed"),
                }
            })
        })?)
        .await?;
    let reports_ctx = ctx_reports;
    scheduler
        .add(Job::new_repeated_async(Duration::from_secs(3600), move |_, _| {
            let ctx = reports_ctx.clone();
            Box::pin(async move {
                metrics::counter!("linli_scheduler_runs_total", "job" => "annual_reports").increment(1);
                match service::annual_reports::tick(&ctx).await {
                    Ok(r) if r == Default::default() => tracing::debug!("no annual report work"),
                    Ok(r) => tracing::info!(?r, "annual reports opened, reminded or listed"),
                    Err(e) => tracing::warn!(error = %e, "annual report job failed"),
                }
            })
        })?)
        .await?;
    scheduler
        .add(Job::new_repeated_async(Duration::from_secs(3600), move |_, _| {
            let ctx = ratings_ctx.clone();
            Box::pin(async move {
                metrics::counter!("linli_scheduler_runs_total", "job" => "ratings").increment(1);
                match service::ratings::tick(&ctx).await {
                    Ok(r) if r == Default::default() => tracing::debug!("no rating to award"),
                    Ok(r) => tracing::info!(?r, "ratings awarded"),
                    Err(e) => tracing::warn!(error = %e, "rating award job failed"),
                }
            })
        })?)
        .await?;
    scheduler.start().await?;
    Ok(scheduler)
}
