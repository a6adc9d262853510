//! Two indexes found by the benchmark (bench/RESULTS.md, round four).
//!
//! - **The outbox's claim** (`jobs::dispatch`) takes the due notices in `(due_at, id)`
//!   order. The index on `(state, due_at)` gave `due_at` only, so when many notices fall
//!   due at the same instant (a day before an activity with hundreds signed up, or the
//!   benchmark's 100,000) every claim of 500 read and sorted all the pending ones: 50 ms
//!   at first, 25 ms on average. `(state, due_at, id)` gives the whole order and the
//!   claim stops after its 500.
//! - **Residents counted by home community** (the figures' 居民 column) read an index of
//!   the living accounts only, so the count never visits the table: a district of
//!   100,000 residents, 21 → 12 ms on PostgreSQL.
//!
//! Partial indexes and `DROP INDEX IF EXISTS` read the same on PostgreSQL and SQLite.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS idx_notifications_state_due_id ON notifications (state, due_at, id)",
        )
        .await?;
        // Every use of the old index is a prefix of the new one.
        db.execute_unprepared("DROP INDEX IF EXISTS idx_notifications_state_due").await?;
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS idx_users_live_home_community ON users (home_community_id) \
             WHERE deleted_at IS NULL",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("Linli's migrations are forward-only".to_owned()))
    }
}
