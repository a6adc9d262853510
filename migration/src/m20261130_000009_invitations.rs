//! Invitations to a role: a leader (for the organization's roles) or an official (for the
//! roles they may grant) creates a short-lived, single-use code; the invitee accepts it
//! signed in and the grant is recorded with who invited whom.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Invitations {
    Table,
    Id,
    Code,
    Role,
    ScopeId,
    Note,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
    AcceptedBy,
    AcceptedAt,
    GrantId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Invitations::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Invitations::Id))
                    .col(string_len(Invitations::Code, 16))
                    .col(string_len(Invitations::Role, 32))
                    .col(big_integer_null(Invitations::ScopeId))
                    .col(string_len_null(Invitations::Note, 64))
                    .col(big_integer(Invitations::CreatedBy))
                    .col(timestamp_with_time_zone(Invitations::CreatedAt))
                    .col(timestamp_with_time_zone(Invitations::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Invitations::RevokedAt))
                    .col(big_integer_null(Invitations::AcceptedBy))
                    .col(timestamp_with_time_zone_null(Invitations::AcceptedAt))
                    .col(big_integer_null(Invitations::GrantId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("invitations_code")
                    .table(Invitations::Table)
                    .col(Invitations::Code)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("invitations_created_by")
                    .table(Invitations::Table)
                    .col(Invitations::CreatedBy)
                    .col(Invitations::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("Linli's migrations are forward-only".to_owned()))
    }
}
