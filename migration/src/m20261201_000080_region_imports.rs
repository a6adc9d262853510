//! The real region tree (统计用区划代码, National Bureau of Statistics): regions may be
//! retired (a unit that vanished from an imported file stays, for the records that refer
//! to it), and every change an import makes to an existing unit is recorded in
//! `region_events` (renamed, moved to another parent, reclassified, retired, restored).
//! On PostgreSQL, a pattern index on the materialised path keeps subtree prefixes
//! (`path LIKE '/1/2/%'`) indexed whatever the database's collation.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Regions {
    Table,
    Id,
    RetiredAt,
}

#[derive(DeriveIden)]
enum RegionEvents {
    Table,
    Id,
    RegionId,
    Action,
    FromValue,
    ToValue,
    Source,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Regions::Table)
                    .add_column(timestamp_with_time_zone_null(Regions::RetiredAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RegionEvents::Table)
                    .if_not_exists()
                    .col(big_pk_auto(RegionEvents::Id))
                    .col(big_integer(RegionEvents::RegionId))
                    // renamed, moved, reclassified, retired, restored
                    .col(string_len(RegionEvents::Action, 16))
                    .col(string_len_null(RegionEvents::FromValue, 128))
                    .col(string_len_null(RegionEvents::ToValue, 128))
                    // The imported file's name, as given on the command line.
                    .col(string_len(RegionEvents::Source, 255))
                    .col(timestamp_with_time_zone(RegionEvents::At))
                    .foreign_key(
                        ForeignKey::create()
                            .from(RegionEvents::Table, RegionEvents::RegionId)
                            .to(Regions::Table, Regions::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_region_events_region")
                    .table(RegionEvents::Table)
                    .col(RegionEvents::RegionId)
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "CREATE INDEX IF NOT EXISTS idx_regions_path_prefix ON regions (path varchar_pattern_ops)",
                )
                .await?;
        }
        Ok(())
    }
}
