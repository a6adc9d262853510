//! The delivery queue: the notices waiting to be pushed, one narrow row each
//! (bench/RESULTS.md, round seven).
//!
//! A notice's push was tracked on its inbox row (`notifications.state` `sending`, a
//! lease, attempts, the held quota), so every notice was updated twice after its insert
//! — claimed, then settled — and neither update could be HOT: `state` was in the claim's
//! index, and each update wrote all six of the table's indexes. `notice_deliveries` holds
//! what the dispatcher moves (when the notice may next be claimed, attempts so far, a
//! held send of the user's quota); the inbox row is written once more, with its outcome,
//! and its row no longer carries a column any index reads.
//!
//! - `due_at`: when the notice may next be claimed — when it falls due, after a failed
//!   push the next attempt, while it is claimed the end of the claim's lease (so a crashed
//!   replica's claims fall due again on their own).
//! - Deleted with the outcome; deleted with its notice (`ON DELETE CASCADE`).
//!
//! Notices waiting (`pending`) or claimed (`sending`) when this runs are queued, a claimed
//! one due when its lease runs out, and `sending` is no longer a state of a notice. The
//! claim's index on `notifications` and the columns the queue now holds (`lease_until`,
//! `next_attempt_at`, `quota_reserved`) are dropped. `DROP COLUMN` reads the same on
//! PostgreSQL and SQLite (≥ 3.35).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(NoticeDeliveries::Table)
                    .if_not_exists()
                    .col(big_integer(NoticeDeliveries::NotificationId).primary_key())
                    .col(timestamp_with_time_zone(NoticeDeliveries::DueAt))
                    .col(integer(NoticeDeliveries::Attempts).default(0))
                    .col(boolean(NoticeDeliveries::QuotaReserved).default(false))
                    .foreign_key(
                        ForeignKey::create()
                            .from(NoticeDeliveries::Table, NoticeDeliveries::NotificationId)
                            .to(Notifications::Table, Notifications::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS idx_notice_deliveries_due ON notice_deliveries (due_at, notification_id)",
        )
        .await?;
        db.execute_unprepared(
            "INSERT INTO notice_deliveries (notification_id, due_at, attempts, quota_reserved) \
             SELECT id, \
                    CASE WHEN state = 'sending' AND lease_until IS NOT NULL THEN lease_until \
                         WHEN next_attempt_at IS NOT NULL AND next_attempt_at > COALESCE(due_at, created_at) \
                              THEN next_attempt_at \
                         ELSE COALESCE(due_at, created_at) END, \
                    attempts, quota_reserved \
             FROM notifications WHERE state IN ('pending', 'sending')",
        )
        .await?;
        db.execute_unprepared("UPDATE notifications SET state = 'pending' WHERE state = 'sending'").await?;
        db.execute_unprepared("DROP INDEX IF EXISTS idx_notifications_state_due_id").await?;
        db.execute_unprepared("DROP INDEX IF EXISTS idx_notifications_state_due").await?;
        for column in ["lease_until", "next_attempt_at", "quota_reserved"] {
            db.execute_unprepared(&format!("ALTER TABLE notifications DROP COLUMN {column}")).await?;
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("Linli's migrations are forward-only".to_owned()))
    }
}

#[derive(DeriveIden)]
enum NoticeDeliveries {
    Table,
    NotificationId,
    DueAt,
    Attempts,
    QuotaReserved,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
}
