//! Why an activity is `held`: `review_pending` is set while a person must read a text
//! WeChat's content check flagged (the committee's review). An activity in a room also
//! waits for its booking's approval; it is published only when neither gate is shut.
//! Activities held before this migration without a booking awaiting approval were held
//! for review.

use sea_orm_migration::{prelude::*, schema::boolean};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Activities {
    Table,
    ReviewPending,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Activities::Table)
                    .add_column(boolean(Activities::ReviewPending).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE activities SET review_pending = TRUE WHERE status = 'held' AND NOT EXISTS \
                 (SELECT 1 FROM venue_bookings b WHERE b.activity_id = activities.id AND b.status = 'requested')",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("Linli's migrations are forward-only".to_owned()))
    }
}
