//! Waitlist promotions finished after the transaction that freed the places.
//!
//! A promotion ([`activities::promote`]) holds the activity's row and never waits for a
//! resident whose row another place-taking transaction holds right now (a sign-up
//! elsewhere, which holds its residents and then waits for an activity: waiting for it
//! could close a lock cycle). It promotes in queue order up to such a resident and stops
//! there, so nobody behind them goes first. Before, the busy resident was skipped: the one
//! behind them took the place (out of order), or, with nobody behind, the place stayed free
//! until the next cancellation. Now the promotion runs again a moment later in a
//! transaction of its own ([`later`]), as many times as the resident is still busy (up to
//! [`FOLLOW_UPS`], 20 ms to 2.6 s apart), and a sweep every five minutes ([`sweep`])
//! promotes into any free place a follow-up never reached (a restart between the two).
//! The bound: a free place may be taken by a newcomer's sign-up before the follow-up runs
//! (tens of milliseconds), as it could before.

use std::time::Duration;

use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait},
};

use crate::{
    context::AppContext,
    domain::activity::ActivityStatus,
    entity::activity,
    error::{AppError, AppResult},
    service::{activities, begin_write, notifications::enqueue, retrying},
};

/// How many times a follow-up runs while the resident at the head stays busy.
pub const FOLLOW_UPS: u32 = 8;

/// Runs the activity's promotion again in a task of its own, 20 ms from now and then
/// with doubling pauses while a resident it would promote is still busy. Safe to call
/// inside the transaction that found them busy: the follow-up waits for the activity's
/// row, so it runs after that transaction (and promotes nobody if it rolled back and no
/// place is free).
pub(crate) fn later(ctx: &AppContext, id: i64) {
    let ctx = ctx.clone();
    tokio::spawn(async move {
        for attempt in 0..FOLLOW_UPS {
            tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
            match retrying(|| once(&ctx, id)).await {
                Ok(p) if !p.skipped_busy => return,
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(activity = id, error = %e, "waitlist follow-up failed; the sweep will try again");
                    return;
                }
            }
        }
        tracing::info!(activity = id, "waitlist follow-up still finds its residents busy; the sweep will try again");
    });
}

/// What one promotion in a transaction of its own did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FollowUp {
    pub promoted: usize,
    pub skipped_busy: bool,
}

/// Promotes from activity `id`'s waitlist into its free places, if it is published and has
/// not started, in a transaction of its own (the rules of [`activities::promote`]).
///
/// Errors: database failures (contention is the caller's to retry).
pub async fn once(ctx: &AppContext, id: i64) -> AppResult<FollowUp> {
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let a = match activities::lock(&txn, id).await {
        Err(AppError::NotFound(_)) => return Ok(FollowUp::default()), // deleted meanwhile
        locked => locked?,
    };
    if ActivityStatus::parse(&a.status) != Some(ActivityStatus::Published) || now >= a.starts_at {
        return Ok(FollowUp::default());
    }
    let promotion = activities::promote(&txn, &a, now, &ctx.config.reminder_offsets).await?;
    enqueue(&txn, promotion.notices, now).await?;
    txn.commit().await?;
    Ok(FollowUp { promoted: promotion.promoted, skipped_busy: promotion.skipped_busy })
}

/// Every published activity that has not started, with a free place and a waitlist, gets a
/// promotion. Returns how many residents were promoted. (Residents passed over for
/// holding a clashing place stay queued, as always.)
///
/// Errors: database failures; an activity whose promotion fails is logged and the sweep
/// goes on.
pub async fn sweep(ctx: &AppContext) -> AppResult<usize> {
    let due: Vec<i64> = activity::Entity::find()
        .select_only()
        .column(activity::Column::Id)
        .filter(activity::Column::Status.eq(ActivityStatus::Published.as_str()))
        .filter(activity::Column::StartsAt.gt(ctx.now()))
        .filter(activity::Column::WaitlistCount.gt(0))
        .filter(Expr::col(activity::Column::ConfirmedCount).lt(Expr::col(activity::Column::Capacity)))
        .into_tuple()
        .all(&ctx.db)
        .await?;
    let mut promoted = 0;
    for id in due {
        match retrying(|| once(ctx, id)).await {
            Ok(p) => promoted += p.promoted,
            Err(e) => tracing::warn!(activity = id, error = %e, "waitlist sweep: promotion failed"),
        }
    }
    Ok(promoted)
}
