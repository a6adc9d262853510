//! Withdrawn notices give their dedupe key back: the key guards against duplicates of live
//! notices only (a resident who cancels and signs up again is reminded again). Notices
//! withdrawn before this migration still hold theirs; they are suffixed with `~` and their
//! id, as the server now does when it withdraws one.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE notifications SET dedupe_key = dedupe_key || '~' || CAST(id AS TEXT) \
                 WHERE state = 'cancelled' AND dedupe_key NOT LIKE '%~%'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("Linli's migrations are forward-only".to_owned()))
    }
}
