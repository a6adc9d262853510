//! Organizations, their service targets, the filing workflow's history, and follows.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Organizations::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Organizations::Id))
                    .col(string_len(Organizations::Name, 200))
                    .col(string_len(Organizations::Category, 32))
                    .col(big_integer(Organizations::CommunityId))
                    .col(text(Organizations::Description).default(""))
                    .col(string_len_null(Organizations::ContactName, 100))
                    .col(string_len_null(Organizations::ContactPhone, 20))
                    .col(double_null(Organizations::Latitude))
                    .col(double_null(Organizations::Longitude))
                    .col(string_len_null(Organizations::LogoUrl, 512))
                    .col(date_null(Organizations::FoundedOn))
                    .col(string_len(Organizations::Standing, 16))
                    .col(string_len_null(Organizations::CreditCode, 18).unique_key())
                    .col(string_len(Organizations::Status, 24))
                    .col(boolean(Organizations::HasPartyOrganization).default(false))
                    .col(big_integer_null(Organizations::ApplicantId))
                    .col(timestamp_with_time_zone_null(Organizations::FiledAt))
                    .col(timestamp_with_time_zone(Organizations::CreatedAt))
                    .col(timestamp_with_time_zone(Organizations::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Organizations::Table, Organizations::CommunityId)
                            .to(Regions::Table, Regions::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Organizations::Table, Organizations::ApplicantId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("idx_organizations_community", vec![Organizations::CommunityId, Organizations::Status]),
            ("idx_organizations_status", vec![Organizations::Status, Organizations::Id]),
            ("idx_organizations_category", vec![Organizations::Category, Organizations::Status]),
            ("idx_organizations_applicant", vec![Organizations::ApplicantId]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Organizations::Table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(OrganizationTargets::Table)
                    .if_not_exists()
                    .col(big_integer(OrganizationTargets::OrganizationId))
                    .col(string_len(OrganizationTargets::Target, 32))
                    .primary_key(
                        Index::create().col(OrganizationTargets::OrganizationId).col(OrganizationTargets::Target),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(OrganizationTargets::Table, OrganizationTargets::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_organization_targets_target")
                    .table(OrganizationTargets::Table)
                    .col(OrganizationTargets::Target)
                    .col(OrganizationTargets::OrganizationId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OrganizationEvents::Table)
                    .if_not_exists()
                    .col(big_pk_auto(OrganizationEvents::Id))
                    .col(big_integer(OrganizationEvents::OrganizationId))
                    .col(big_integer_null(OrganizationEvents::ActorId))
                    .col(string_len(OrganizationEvents::Action, 32))
                    .col(string_len_null(OrganizationEvents::FromStatus, 24))
                    .col(string_len(OrganizationEvents::ToStatus, 24))
                    .col(text_null(OrganizationEvents::Comment))
                    .col(timestamp_with_time_zone(OrganizationEvents::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OrganizationEvents::Table, OrganizationEvents::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_organization_events_org")
                    .table(OrganizationEvents::Table)
                    .col(OrganizationEvents::OrganizationId)
                    .col(OrganizationEvents::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OrganizationFollows::Table)
                    .if_not_exists()
                    .col(big_integer(OrganizationFollows::UserId))
                    .col(big_integer(OrganizationFollows::OrganizationId))
                    .col(timestamp_with_time_zone(OrganizationFollows::CreatedAt))
                    .primary_key(
                        Index::create().col(OrganizationFollows::UserId).col(OrganizationFollows::OrganizationId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(OrganizationFollows::Table, OrganizationFollows::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(OrganizationFollows::Table, OrganizationFollows::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_organization_follows_org")
                    .table(OrganizationFollows::Table)
                    .col(OrganizationFollows::OrganizationId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("Linli's migrations are forward-only".to_owned()))
    }
}

#[derive(DeriveIden)]
enum Regions {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    Name,
    Category,
    CommunityId,
    Description,
    ContactName,
    ContactPhone,
    Latitude,
    Longitude,
    LogoUrl,
    FoundedOn,
    Standing,
    CreditCode,
    Status,
    HasPartyOrganization,
    ApplicantId,
    FiledAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OrganizationTargets {
    Table,
    OrganizationId,
    Target,
}

#[derive(DeriveIden)]
enum OrganizationEvents {
    Table,
    Id,
    OrganizationId,
    ActorId,
    Action,
    FromStatus,
    ToStatus,
    Comment,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OrganizationFollows {
    Table,
    UserId,
    OrganizationId,
    CreatedAt,
}
