//! The delivery queue (`notice_deliveries`): the notices waiting to be pushed through
//! WeChat, one narrow row each, apart from the inbox's row (bench/RESULTS.md, round
//! seven). Claiming a push and retrying it write this row — four columns, two indexes —
//! and the inbox row is written once more, with the outcome; no index of `notifications`
//! reads a column the dispatcher writes, so on PostgreSQL that write can be a HOT update.
//!
//! The life of a row:
//! - **queued** in the transaction that inserts its notice (`notifications::insert`),
//!   due when the notice is;
//! - **claimed** by a dispatcher ([`claim_due`], `FOR UPDATE SKIP LOCKED`, then
//!   [`lease`]): its `due_at` moves to the end of the claim's lease, so a crashed
//!   replica's claims fall due again by themselves;
//! - **settled** with the push's outcome ([`settle`], deleted in the transaction that
//!   writes the outcome on the inbox row), or moved to its next attempt after a transient
//!   failure ([`retry_at`]);
//! - **dropped** by the next claim when its notice is no longer `pending` — withdrawn
//!   (`notifications::withdraw` changes the inbox row only) or settled elsewhere — with a
//!   send it held given back (`jobs::dispatch`).
//!
//! Deleting a notice deletes its row (`ON DELETE CASCADE`).
//!
//! Left as it is: a notice withdrawn while its push is in flight frees its dedupe key at
//! once, so the same notice queued again within that second (a proxy unlinked and linked
//! again) may reach WeChat twice. Withdrawing never waits on WeChat for it.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType},
};

use crate::{entity::notice_delivery, error::AppResult, service::sql_id_list};

/// Queues the notices just inserted (`ids`), each due when its notice is, inside the
/// inserting transaction.
pub async fn queue(db: &impl ConnectionTrait, ids: &[i64]) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO notice_deliveries (notification_id, due_at, attempts, quota_reserved) \
         SELECT id, COALESCE(due_at, created_at), 0, false FROM notifications WHERE id IN ({})",
        sql_id_list(ids)
    );
    db.execute_unprepared(&sql).await?;
    Ok(())
}

/// Takes up to `batch` rows due at `now`, earliest first, locked for the claiming
/// transaction; rows another replica is claiming are skipped (`SKIP LOCKED` on
/// PostgreSQL; on SQLite the write transaction makes one claimer at a time).
pub async fn claim_due(
    txn: &DatabaseTransaction,
    now: DateTime<Utc>,
    batch: u64,
) -> AppResult<Vec<notice_delivery::Model>> {
    Ok(notice_delivery::Entity::find()
        .filter(notice_delivery::Column::DueAt.lte(now))
        .order_by_asc(notice_delivery::Column::DueAt)
        .order_by_asc(notice_delivery::Column::NotificationId)
        .limit(batch)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .all(txn)
        .await?)
}

/// Leases claimed rows until `until`: one attempt more each, and a held send marked on
/// the rows in `held`.
pub async fn lease(txn: &DatabaseTransaction, ids: &[i64], until: DateTime<Utc>, held: &HashSet<i64>) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let reserved = if held.is_empty() {
        Expr::col(notice_delivery::Column::QuotaReserved)
    } else {
        Expr::case(notice_delivery::Column::NotificationId.is_in(held.iter().copied()), Expr::val(true))
            .finally(Expr::col(notice_delivery::Column::QuotaReserved))
            .into()
    };
    notice_delivery::Entity::update_many()
        .col_expr(notice_delivery::Column::DueAt, Expr::value(until))
        .col_expr(notice_delivery::Column::Attempts, Expr::col(notice_delivery::Column::Attempts).add(1))
        .col_expr(notice_delivery::Column::QuotaReserved, reserved)
        .filter(notice_delivery::Column::NotificationId.is_in(ids.iter().copied()))
        .exec(txn)
        .await?;
    Ok(())
}

/// Deletes the rows of notices whose outcome is written (or that are no longer waiting).
pub async fn settle(db: &impl ConnectionTrait, ids: &[i64]) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    notice_delivery::Entity::delete_many()
        .filter(notice_delivery::Column::NotificationId.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

/// After a transient failure: the row falls due again at `at`.
pub async fn retry_at(db: &impl ConnectionTrait, id: i64, at: DateTime<Utc>) -> AppResult<()> {
    notice_delivery::Entity::update_many()
        .col_expr(notice_delivery::Column::DueAt, Expr::value(at))
        .filter(notice_delivery::Column::NotificationId.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Clears the row's held send, once: true when it was held (the caller refunds it).
pub async fn take_held_send(db: &impl ConnectionTrait, id: i64) -> AppResult<bool> {
    let held = notice_delivery::Entity::update_many()
        .col_expr(notice_delivery::Column::QuotaReserved, Expr::value(false))
        .filter(notice_delivery::Column::NotificationId.eq(id))
        .filter(notice_delivery::Column::QuotaReserved.eq(true))
        .exec(db)
        .await?
        .rows_affected;
    Ok(held == 1)
}

/// Gives back claims made with the lease ending `lease_until` (at shutdown, or a batch
/// that will not be sent): due at `now`, so another replica sends them at once rather
/// than after the lease. Only rows still leased by that claim move — a row settled
/// meanwhile is gone, one moved to its next attempt (a retry, due later) keeps its time.
pub async fn release(
    db: &impl ConnectionTrait,
    ids: &[i64],
    lease_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> AppResult<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(notice_delivery::Entity::update_many()
        .col_expr(notice_delivery::Column::DueAt, Expr::value(now))
        .filter(notice_delivery::Column::NotificationId.is_in(ids.iter().copied()))
        .filter(notice_delivery::Column::DueAt.eq(lease_until))
        .exec(db)
        .await?
        .rows_affected)
}

/// Rows waiting: (due now, all), for the metrics.
pub async fn backlog(db: &impl ConnectionTrait, now: DateTime<Utc>) -> AppResult<(i64, i64)> {
    let due = notice_delivery::Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(notice_delivery::Column::DueAt.lte(now))
        .into_tuple::<i64>()
        .one(db)
        .await?
        .unwrap_or(0);
    let all = notice_delivery::Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "n")
        .into_tuple::<i64>()
        .one(db)
        .await?
        .unwrap_or(0);
    Ok((due, all))
}
