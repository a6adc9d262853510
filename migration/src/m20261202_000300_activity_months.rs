//! Each community's activity figures month by month (bench/RESULTS.md, round six).
//!
//! `activity_months` holds one row per community and month (`YYYY-MM`, Asia/Shanghai):
//! the month's activities, sign-ups, attended, no-shows and minutes summed from
//! `activity_stats`, and the organizations that held them as a Roaring bitmap of ids in
//! the portable format (`RoaringTreemap::serialize_into`), so active organizations can be
//! counted once per scope by unions. A district's year is 1,300 rows, where grouping
//! `activity_stats` by community, month and organization sent 41,100.
//!
//! The rows are derived from `activity_stats`, which stays the record: whenever an
//! activity's figures are written (closing, late evidence, an hours correction) its
//! community's month is summed again from it, under the row's lock. The server fills
//! this table after migrating when it is empty, and `linli rebuild-figures` derives every
//! row again.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ActivityMonths::Table)
                    .if_not_exists()
                    .col(big_integer(ActivityMonths::CommunityId))
                    // `YYYY-MM` in Asia/Shanghai, as `activity_stats.month`.
                    .col(string_len(ActivityMonths::Month, 7))
                    .col(big_integer(ActivityMonths::Activities).default(0))
                    .col(big_integer(ActivityMonths::Signups).default(0))
                    .col(big_integer(ActivityMonths::Attended).default(0))
                    .col(big_integer(ActivityMonths::NoShows).default(0))
                    .col(big_integer(ActivityMonths::Minutes).default(0))
                    .col(blob(ActivityMonths::Organizations))
                    .primary_key(Index::create().col(ActivityMonths::CommunityId).col(ActivityMonths::Month))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("Linli's migrations are forward-only".to_owned()))
    }
}

#[derive(DeriveIden)]
enum ActivityMonths {
    Table,
    CommunityId,
    Month,
    Activities,
    Signups,
    Attended,
    NoShows,
    Minutes,
    Organizations,
}
