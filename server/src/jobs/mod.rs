//! Background jobs, registered in one place. Each job's core is a plain async function
//! that does one step and returns what it did, so tests call it directly; the scheduler
//! only calls it on a timer.

use std::time::Duration;

use tokio_cron_scheduler::{Job, JobScheduler};

use crate::{context::AppContext, service};

pub async fn start(ctx: AppContext) -> anyhow::Result<JobScheduler> {
    let scheduler = JobScheduler::new().await?;
    scheduler
        .add(Job::new_repeated_async(Duration::from_secs(3600), move |_, _| {
            let ctx = ctx.clone();
            Box::pin(async move {
                match service::auth::purge_expired_refresh_tokens(&ctx).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(purged = n, "expired refresh tokens purged"),
                    Err(e) => tracing::warn!(error = %e, "purging refresh tokens failed"),
                }
            })
        })?)
        .await?;
    scheduler.start().await?;
    Ok(scheduler)
}
