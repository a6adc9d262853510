//! Each community's residents as a set (bench/RESULTS.md, round six).
//!
//! `community_residents` holds one row per community: the ids of the living accounts
//! whose home community it is, as a Roaring bitmap in the portable format
//! (`RoaringTreemap::serialize_into`). A region's figures read their residents — the 居民
//! count, and "lives here" for the participants, an intersection — from these rows: 100
//! rows for a district of 100,000 residents, where reading their ids from `users` cost
//! 30–43 ms of the district's figures.
//!
//! `users.home_community_id` stays the record. Every change of it (a resident choosing or
//! changing their home, an account created with one, an account deleted) updates the sets
//! in its transaction, under the rows' locks; the server derives the table after migrating
//! when it is empty, and `linli rebuild-figures` derives every row again.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CommunityResidents::Table)
                    .if_not_exists()
                    .col(big_integer(CommunityResidents::CommunityId).primary_key())
                    .col(blob(CommunityResidents::Users))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("Linli's migrations are forward-only".to_owned()))
    }
}

#[derive(DeriveIden)]
enum CommunityResidents {
    Table,
    CommunityId,
    Users,
}
