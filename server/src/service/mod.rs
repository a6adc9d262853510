//! Use cases: a transaction, a permission check, the domain rules, the database.

pub mod activities;
pub mod attendance;
pub mod auth;
pub mod demo;
pub mod downloads;
pub mod exports;
pub mod geo;
pub mod notifications;
pub mod organization_scope;
pub mod organizations;
pub mod regions;
pub mod reports;
pub mod role_grants;
pub mod subscriptions;
pub mod users;
pub mod work_queue;

use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbErr, SqlErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

/// Begins a write transaction. On SQLite it is `BEGIN IMMEDIATE`, so two writers never
/// both read and then deadlock on the upgrade; the busy timeout makes the second wait.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Whether a database error is a unique-constraint violation.
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}
