//! Each community's participants month by month, as a set (bench/RESULTS.md, round five).
//!
//! `participant_months` holds one row per community and month (`YYYY-MM`, Asia/Shanghai):
//! the ids of the residents who took part there that month, as a Roaring bitmap in the
//! portable format (`RoaringTreemap::serialize_into`). A region's distinct participants
//! over any period are unions of these sets: the district of the benchmark (100
//! communities, 1,000,000 attendance rows) is 1,300 small sets a year, where grouping
//! `participant_years` by resident read 100,000 rows twice.
//!
//! The rows are derived from `participant_years`, which stays the record. Closing an
//! activity adds its participants to both in one transaction; the server fills this table
//! from `participant_years` after migrating when it is empty (an existing deployment), and
//! `linli rebuild-participants` adds any that are missing (a union: it never removes one).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ParticipantMonths::Table)
                    .if_not_exists()
                    .col(big_integer(ParticipantMonths::CommunityId))
                    // `YYYY-MM` in Asia/Shanghai, as `activity_stats.month`.
                    .col(string_len(ParticipantMonths::Month, 7))
                    .col(blob(ParticipantMonths::Users))
                    .primary_key(Index::create().col(ParticipantMonths::CommunityId).col(ParticipantMonths::Month))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("Linli's migrations are forward-only".to_owned()))
    }
}

#[derive(DeriveIden)]
enum ParticipantMonths {
    Table,
    CommunityId,
    Month,
    Users,
}
