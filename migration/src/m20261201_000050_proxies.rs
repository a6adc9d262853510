//! Signing up on behalf of someone (issue 18, part 2): residents without WeChat
//! registered by their committee (a `users` row without an openid, described here), the
//! proxy links that let one person act for another, the record of every act on someone's
//! behalf, waived no-shows, and the principal a proxy's copy of a notice is about.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OfflineResidents {
    Table,
    UserId,
    CommunityId,
    YearOfBirth,
    ContactPhone,
    CardHash,
    CardIssuedAt,
    RegisteredBy,
    CreatedAt,
    ClaimedAt,
    ClaimedBy,
    ClaimedAccount,
    DeletedAt,
}

#[derive(DeriveIden)]
enum ProxyLinks {
    Table,
    Id,
    PrincipalId,
    ProxyId,
    Authorisation,
    AuthorisedBy,
    Note,
    CreatedAt,
    RevokedAt,
    RevokedBy,
}

#[derive(DeriveIden)]
enum ProxyActs {
    Table,
    Id,
    PrincipalId,
    ActorId,
    Act,
    ActivityId,
    LinkId,
    Detail,
    CreatedAt,
}

#[derive(DeriveIden)]
enum NoShowWaivers {
    Table,
    Id,
    SignupId,
    Reason,
    WaivedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    OnBehalfOf,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Regions {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Signups {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OfflineResidents::Table)
                    .if_not_exists()
                    .col(big_integer(OfflineResidents::UserId).primary_key())
                    .col(big_integer(OfflineResidents::CommunityId))
                    .col(integer_null(OfflineResidents::YearOfBirth))
                    // A contact number (theirs or a relative's): shown whole to the committee only.
                    .col(string_len_null(OfflineResidents::ContactPhone, 20))
                    // SHA-256 (hex) of the printed card's code; NULL when revoked.
                    .col(string_len_null(OfflineResidents::CardHash, 64))
                    .col(timestamp_with_time_zone_null(OfflineResidents::CardIssuedAt))
                    .col(big_integer(OfflineResidents::RegisteredBy))
                    .col(timestamp_with_time_zone(OfflineResidents::CreatedAt))
                    .col(timestamp_with_time_zone_null(OfflineResidents::ClaimedAt))
                    .col(big_integer_null(OfflineResidents::ClaimedBy))
                    // The WeChat account retired when the person claimed this record.
                    .col(big_integer_null(OfflineResidents::ClaimedAccount))
                    .col(timestamp_with_time_zone_null(OfflineResidents::DeletedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OfflineResidents::Table, OfflineResidents::UserId)
                            .to(Users::Table, Users::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(OfflineResidents::Table, OfflineResidents::CommunityId)
                            .to(Regions::Table, Regions::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_offline_residents_card_hash")
                    .table(OfflineResidents::Table)
                    .col(OfflineResidents::CardHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_offline_residents_community")
                    .table(OfflineResidents::Table)
                    .col(OfflineResidents::CommunityId)
                    .col(OfflineResidents::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProxyLinks::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ProxyLinks::Id))
                    .col(big_integer(ProxyLinks::PrincipalId))
                    .col(big_integer(ProxyLinks::ProxyId))
                    // `in_person`, `signed_form`, `principal_confirmed`.
                    .col(string_len(ProxyLinks::Authorisation, 24))
                    .col(big_integer(ProxyLinks::AuthorisedBy))
                    .col(string_len_null(ProxyLinks::Note, 128))
                    .col(timestamp_with_time_zone(ProxyLinks::CreatedAt))
                    .col(timestamp_with_time_zone_null(ProxyLinks::RevokedAt))
                    .col(big_integer_null(ProxyLinks::RevokedBy))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProxyLinks::Table, ProxyLinks::PrincipalId)
                            .to(Users::Table, Users::Id),
                    )
                    .foreign_key(
                        ForeignKey::create().from(ProxyLinks::Table, ProxyLinks::ProxyId).to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, col) in
            [("idx_proxy_links_principal", ProxyLinks::PrincipalId), ("idx_proxy_links_proxy", ProxyLinks::ProxyId)]
        {
            manager.create_index(Index::create().name(name).table(ProxyLinks::Table).col(col).to_owned()).await?;
        }
        // One live link per pair (a partial index: both SQLite and PostgreSQL have them).
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX uq_proxy_links_live ON proxy_links (principal_id, proxy_id) \
                 WHERE revoked_at IS NULL",
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProxyActs::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ProxyActs::Id))
                    .col(big_integer(ProxyActs::PrincipalId))
                    .col(big_integer(ProxyActs::ActorId))
                    .col(string_len(ProxyActs::Act, 32))
                    .col(big_integer_null(ProxyActs::ActivityId))
                    .col(big_integer_null(ProxyActs::LinkId))
                    .col(string_len_null(ProxyActs::Detail, 256))
                    .col(timestamp_with_time_zone(ProxyActs::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_proxy_acts_principal")
                    .table(ProxyActs::Table)
                    .col(ProxyActs::PrincipalId)
                    .col(ProxyActs::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(NoShowWaivers::Table)
                    .if_not_exists()
                    .col(big_pk_auto(NoShowWaivers::Id))
                    .col(big_integer_uniq(NoShowWaivers::SignupId))
                    .col(string_len(NoShowWaivers::Reason, 200))
                    .col(big_integer(NoShowWaivers::WaivedBy))
                    .col(timestamp_with_time_zone(NoShowWaivers::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(NoShowWaivers::Table, NoShowWaivers::SignupId)
                            .to(Signups::Table, Signups::Id),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .alter_table(
                Table::alter()
                    .table(Notifications::Table)
                    .add_column(big_integer_null(Notifications::OnBehalfOf))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notifications_on_behalf_of")
                    .table(Notifications::Table)
                    .col(Notifications::OnBehalfOf)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("Linli's migrations are forward-only".to_owned()))
    }
}
