//! Activities, sign-ups (one row per resident × activity) and the in-app inbox.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Activities::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Activities::Id))
                    .col(big_integer(Activities::OrganizationId))
                    .col(big_integer(Activities::CommunityId))
                    .col(string_len(Activities::Kind, 24))
                    .col(string_len(Activities::Title, 240))
                    .col(text(Activities::Description).default(""))
                    .col(string_len(Activities::Location, 400))
                    .col(double_null(Activities::Latitude))
                    .col(double_null(Activities::Longitude))
                    .col(timestamp_with_time_zone(Activities::StartsAt))
                    .col(timestamp_with_time_zone(Activities::EndsAt))
                    .col(timestamp_with_time_zone(Activities::SignupDeadline))
                    .col(integer(Activities::CancelCutoffMinutes).default(120))
                    .col(integer(Activities::Capacity))
                    .col(boolean(Activities::WaitlistEnabled).default(true))
                    .col(integer(Activities::ServiceMinutes))
                    .col(string_len(Activities::TargetGroups, 400).default(""))
                    .col(string_len_null(Activities::AgeNote, 400))
                    .col(string_len_null(Activities::SkillNote, 400))
                    .col(string_len(Activities::Status, 16))
                    .col(text_null(Activities::CancelReason))
                    // Counters kept in the same transaction as the sign-ups they count.
                    .col(integer(Activities::ConfirmedCount).default(0))
                    .col(integer(Activities::WaitlistCount).default(0))
                    // Every sign-up takes the next number: it orders the waitlist.
                    .col(big_integer(Activities::SignupSeq).default(0))
                    // Bumped on every change of time or place, so each change is told once.
                    .col(integer(Activities::Version).default(1))
                    .col(big_integer_null(Activities::CreatedBy))
                    .col(timestamp_with_time_zone_null(Activities::PublishedAt))
                    .col(timestamp_with_time_zone(Activities::CreatedAt))
                    .col(timestamp_with_time_zone(Activities::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Activities::Table, Activities::OrganizationId)
                            .to(Organizations::Table, Organizations::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Activities::Table, Activities::CommunityId)
                            .to(Regions::Table, Regions::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("idx_activities_status_starts", vec![Activities::Status, Activities::StartsAt, Activities::Id]),
            ("idx_activities_community_starts", vec![Activities::CommunityId, Activities::StartsAt]),
            ("idx_activities_org_starts", vec![Activities::OrganizationId, Activities::StartsAt]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Activities::Table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Signups::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Signups::Id))
                    .col(big_integer(Signups::ActivityId))
                    .col(big_integer(Signups::UserId))
                    .col(string_len(Signups::Status, 16))
                    .col(big_integer(Signups::Seq))
                    .col(text_null(Signups::Reason))
                    .col(timestamp_with_time_zone(Signups::CreatedAt))
                    .col(timestamp_with_time_zone(Signups::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Signups::Table, Signups::ActivityId)
                            .to(Activities::Table, Activities::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Signups::Table, Signups::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_signups_activity_user")
                    .table(Signups::Table)
                    .col(Signups::ActivityId)
                    .col(Signups::UserId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_signups_activity_status_seq")
                    .table(Signups::Table)
                    .col(Signups::ActivityId)
                    .col(Signups::Status)
                    .col(Signups::Seq)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_signups_user_status")
                    .table(Signups::Table)
                    .col(Signups::UserId)
                    .col(Signups::Status)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Notifications::Id))
                    .col(big_integer(Notifications::UserId))
                    .col(string_len(Notifications::Kind, 32))
                    .col(string_len(Notifications::Title, 200))
                    .col(text(Notifications::Body))
                    .col(big_integer_null(Notifications::ActivityId))
                    .col(big_integer_null(Notifications::OrganizationId))
                    // The same notice is never queued twice.
                    .col(string_len_uniq(Notifications::DedupeKey, 160))
                    .col(timestamp_with_time_zone(Notifications::CreatedAt))
                    .col(timestamp_with_time_zone_null(Notifications::ReadAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Notifications::Table, Notifications::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notifications_user")
                    .table(Notifications::Table)
                    .col(Notifications::UserId)
                    .col(Notifications::Id)
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
}

#[derive(DeriveIden)]
enum Activities {
    Table,
    Id,
    OrganizationId,
    CommunityId,
    Kind,
    Title,
    Description,
    Location,
    Latitude,
    Longitude,
    StartsAt,
    EndsAt,
    SignupDeadline,
    CancelCutoffMinutes,
    Capacity,
    WaitlistEnabled,
    ServiceMinutes,
    TargetGroups,
    AgeNote,
    SkillNote,
    Status,
    CancelReason,
    ConfirmedCount,
    WaitlistCount,
    SignupSeq,
    Version,
    CreatedBy,
    PublishedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Signups {
    Table,
    Id,
    ActivityId,
    UserId,
    Status,
    Seq,
    Reason,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    UserId,
    Kind,
    Title,
    Body,
    ActivityId,
    OrganizationId,
    DedupeKey,
    CreatedAt,
    ReadAt,
}
