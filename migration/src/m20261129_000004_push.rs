//! WeChat push: the quota ledger, and the outbox columns on notifications (state, due
//! time, attempts, lease). SQLite adds one column per ALTER, so each is its own statement.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SubscriptionQuotas::Table)
                    .if_not_exists()
                    .col(big_integer(SubscriptionQuotas::UserId))
                    .col(string_len(SubscriptionQuotas::TemplateId, 64))
                    .col(integer(SubscriptionQuotas::Balance).default(0))
                    .col(boolean(SubscriptionQuotas::Banned).default(false))
                    .col(timestamp_with_time_zone(SubscriptionQuotas::UpdatedAt))
                    .primary_key(Index::create().col(SubscriptionQuotas::UserId).col(SubscriptionQuotas::TemplateId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SubscriptionQuotas::Table, SubscriptionQuotas::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        let columns = [
            string_len(Notifications::State, 16).default("pending").to_owned(),
            timestamp_with_time_zone_null(Notifications::DueAt).to_owned(),
            integer(Notifications::Attempts).default(0).to_owned(),
            timestamp_with_time_zone_null(Notifications::NextAttemptAt).to_owned(),
            timestamp_with_time_zone_null(Notifications::LeaseUntil).to_owned(),
            string_len_null(Notifications::Purpose, 16).to_owned(),
            integer_null(Notifications::OffsetSecs).to_owned(),
            string_len_null(Notifications::Msgid, 64).to_owned(),
            timestamp_with_time_zone_null(Notifications::SentAt).to_owned(),
            text_null(Notifications::LastError).to_owned(),
            // A send of the user's quota is held for this notice (survives a crash mid-send).
            boolean(Notifications::QuotaReserved).default(false).to_owned(),
        ];
        for mut column in columns {
            manager.alter_table(Table::alter().table(Notifications::Table).add_column(&mut column).to_owned()).await?;
        }
        // Notices queued before this migration were due when they were made.
        manager
            .get_connection()
            .execute_unprepared("UPDATE notifications SET due_at = created_at WHERE due_at IS NULL")
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notifications_state_due")
                    .table(Notifications::Table)
                    .col(Notifications::State)
                    .col(Notifications::DueAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notifications_activity_kind")
                    .table(Notifications::Table)
                    .col(Notifications::ActivityId)
                    .col(Notifications::Kind)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("Linli's migrations are forward-only".to_owned()))
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum SubscriptionQuotas {
    Table,
    UserId,
    TemplateId,
    Balance,
    Banned,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    State,
    DueAt,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    Purpose,
    OffsetSecs,
    Msgid,
    SentAt,
    LastError,
    QuotaReserved,
    ActivityId,
    Kind,
}
