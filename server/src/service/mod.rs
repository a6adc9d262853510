//! Use cases: a transaction, a permission check, the domain rules, the database.

pub mod abnormal;
pub mod activities;
pub mod activity_figures;
pub mod activity_months;
pub mod activity_posting;
pub mod annual_reports;
pub mod area_metrics;
pub mod attendance;
pub mod auth;
pub mod calendar;
pub mod certificates;
pub mod community_residents;
pub mod console_sessions;
pub mod deliveries;
pub mod demo;
pub mod demo_funding;
pub mod demo_history;
pub mod demo_oversight;
pub mod demo_support;
pub mod downloads;
pub mod expert_pools;
pub mod exports;
pub mod funding_applications;
pub mod funding_calls;
pub mod funding_figures;
pub mod geo;
pub mod hubs;
pub mod id_sets;
pub mod incubation;
pub mod invitations;
pub mod notifications;
pub mod organization_scope;
pub mod organizations;
pub mod oversight_figures;
pub mod participant_counts;
pub mod projects;
pub mod promotions;
pub mod proxies;
pub mod random_checks;
pub mod rating_schemes;
pub mod ratings;
pub mod region_import;
pub mod regions;
pub mod reports;
pub mod role_grants;
pub mod satisfaction;
pub mod scope_lists;
pub mod series;
pub mod signup_batch;
pub mod subscriptions;
pub mod support_figures;
pub mod time_bank;
pub mod users;
pub mod venue_figures;
pub mod venue_series;
pub mod venues;
pub mod work_queue;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, SqlErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

use crate::error::{AppError, AppResult};

/// Begins a write transaction. On SQLite it is `BEGIN IMMEDIATE`, so two writers never
/// both read and then deadlock on the upgrade; the busy timeout makes the second wait.
/// A decision's remark (reason, comment, answer, note) by [`crate::domain::text::remark`],
/// checked in the service function that makes the decision, so every door to it (the API,
/// the console) keeps the one rule. Errors: 422 `validation_failed` on `field` (`length`,
/// `control`).
pub fn remark(field: &str, value: Option<String>, max: usize) -> AppResult<Option<String>> {
    use crate::domain::text::TextError;
    crate::domain::text::remark(value.as_deref(), max).map_err(|e| match e {
        TextError::Control => AppError::invalid(field, "control", "不能含换行等控制字符"),
        _ => AppError::invalid(field, "length", format!("不超过 {max} 个字符")),
    })
}

/// Ids written into an SQL text as `1,2,3` for `IN (…)` (`NULL` when there are none,
/// which matches nothing): for statements built as text, where a list of bound
/// parameters would be one per id. Only for our own integer ids, never user input.
pub(crate) fn sql_id_list(ids: &[i64]) -> String {
    if ids.is_empty() { "NULL".to_owned() } else { ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",") }
}

pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// A transaction found that what it read before taking its locks has changed meanwhile
/// (another request of the same resident, a cancellation): it rolls back and is run again.
#[derive(Debug, thiserror::Error)]
#[error("contended: {0}")]
pub struct Contended(pub &'static str);

impl From<Contended> for AppError {
    fn from(c: Contended) -> Self {
        AppError::Internal(anyhow::Error::new(c))
    }
}

/// Whether an error is worth running the whole transaction again: PostgreSQL chose it as
/// a deadlock victim (40P01) or a serialization failure (40001), or the use case saw its
/// reads go stale ([`Contended`]). Nothing was committed in either case.
pub fn is_retryable(err: &AppError) -> bool {
    let AppError::Internal(e) = err else { return false };
    if e.downcast_ref::<Contended>().is_some() {
        return true;
    }
    let Some(db) = e.downcast_ref::<DbErr>() else { return false };
    use sea_orm::RuntimeErr;
    match db {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => match e.as_ref() {
            sea_orm::sqlx::Error::Database(d) => d.code().is_some_and(|c| c == "40P01" || c == "40001"),
            _ => false,
        },
        _ => false,
    }
}

/// Runs a use case made of one transaction, again (up to 5 times, 5–80 ms apart) when it
/// lost a deadlock or its reads went stale: two phones of one resident, or several
/// residents acting on the same activities at once, then never see a 500.
pub async fn retrying<T, F, Fut>(mut run: F) -> AppResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = AppResult<T>>,
{
    let mut attempt = 0u32;
    loop {
        match run().await {
            Err(e) if attempt < 5 && is_retryable(&e) => {
                attempt += 1;
                tracing::debug!(attempt, error = %e, "transaction contended; running it again");
                let jitter = u64::from(rand::random::<u8>() % 5);
                tokio::time::sleep(std::time::Duration::from_millis(5 * 2u64.pow(attempt - 1) + jitter)).await;
            }
            other => return other,
        }
    }
}

/// The lock a place-taking transaction holds on its residents' rows ([`lock_users`],
/// [`lock_free_users`]).
const PLACE_LOCK: sea_orm::sea_query::LockType = sea_orm::sea_query::LockType::NoKeyUpdate;

/// Locks the rows of these users until the transaction ends (ids sorted, so two
/// transactions always take them in the same order). Whatever takes a place for a user —
/// a sign-up, a promotion, a walk-in — holds its user's row, so the no-clash rule is
/// checked by one transaction at a time per user. SQLite serialises writers anyway.
///
/// The lock is `FOR NO KEY UPDATE` ([`PLACE_LOCK`]): it excludes the other place-taking
/// transactions but not the key-share lock another transaction's foreign-key check takes
/// when it writes a row naming the user (a notice). A `FOR UPDATE` here closed a cycle: a
/// sign-up holding its residents and waiting for an activity, the leader's cancel holding
/// that activity and writing notices to those residents (PostgreSQL's manual, "Row-Level
/// Locks": `FOR KEY SHARE` conflicts with `FOR UPDATE` only).
pub async fn lock_users(txn: &DatabaseTransaction, ids: &[i64]) -> Result<(), DbErr> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
    if ids.is_empty() || txn.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(());
    }
    crate::entity::user::Entity::find()
        .select_only()
        .column(crate::entity::user::Column::Id)
        .filter(crate::entity::user::Column::Id.is_in(ids.to_vec()))
        .order_by_asc(crate::entity::user::Column::Id)
        .lock(PLACE_LOCK)
        .into_tuple::<i64>()
        .all(txn)
        .await?;
    Ok(())
}

/// Locks those of these users whose rows no other transaction holds, and returns them; the
/// others are skipped (`SKIP LOCKED`), never waited for. A promotion holds the activity's
/// row and may not wait for a resident's row, which a sign-up elsewhere (holding the
/// resident first, then wanting an activity) may hold: waiting would close a cycle. The
/// promotion stops at the first resident skipped and comes back for them
/// (`service::promotions::later`). SQLite: all of them.
pub async fn lock_free_users(txn: &DatabaseTransaction, ids: &[i64]) -> Result<Vec<i64>, DbErr> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::LockBehavior};
    if ids.is_empty() || txn.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(ids.to_vec());
    }
    crate::entity::user::Entity::find()
        .select_only()
        .column(crate::entity::user::Column::Id)
        .filter(crate::entity::user::Column::Id.is_in(ids.to_vec()))
        .order_by_asc(crate::entity::user::Column::Id)
        .lock_with_behavior(PLACE_LOCK, LockBehavior::SkipLocked)
        .into_tuple::<i64>()
        .all(txn)
        .await
}

/// Whether a database error is a unique-constraint violation.
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}
