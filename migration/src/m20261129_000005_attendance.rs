//! Attendance, hour corrections (an audit trail), and the rollups that participation
//! figures are read from: one row per finished activity, and one per participant ×
//! community × year with a 12-bit mask of the months they took part in.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Activities::Table)
                    .add_column(timestamp_with_time_zone_null(Activities::FinishedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Attendance::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Attendance::Id))
                    .col(big_integer(Attendance::ActivityId))
                    .col(big_integer(Attendance::UserId))
                    .col(timestamp_with_time_zone(Attendance::CheckedInAt))
                    .col(timestamp_with_time_zone_null(Attendance::CheckedOutAt))
                    .col(string_len(Attendance::InMethod, 16))
                    .col(string_len_null(Attendance::OutMethod, 16))
                    .col(big_integer_null(Attendance::RecordedBy))
                    .col(integer_null(Attendance::CreditedMinutes))
                    .col(timestamp_with_time_zone(Attendance::CreatedAt))
                    .col(timestamp_with_time_zone(Attendance::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Attendance::Table, Attendance::ActivityId)
                            .to(Activities::Table, Activities::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Attendance::Table, Attendance::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_attendance_activity_user")
                    .table(Attendance::Table)
                    .col(Attendance::ActivityId)
                    .col(Attendance::UserId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_attendance_user")
                    .table(Attendance::Table)
                    .col(Attendance::UserId)
                    .col(Attendance::ActivityId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(HourCorrections::Table)
                    .if_not_exists()
                    .col(big_pk_auto(HourCorrections::Id))
                    .col(big_integer(HourCorrections::ActivityId))
                    .col(big_integer(HourCorrections::UserId))
                    .col(integer(HourCorrections::OldMinutes))
                    .col(integer(HourCorrections::NewMinutes))
                    .col(text(HourCorrections::Reason))
                    .col(big_integer(HourCorrections::CorrectedBy))
                    .col(timestamp_with_time_zone(HourCorrections::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(HourCorrections::Table, HourCorrections::ActivityId)
                            .to(Activities::Table, Activities::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_hour_corrections_activity_user")
                    .table(HourCorrections::Table)
                    .col(HourCorrections::ActivityId)
                    .col(HourCorrections::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ActivityStats::Table)
                    .if_not_exists()
                    .col(big_integer(ActivityStats::ActivityId).primary_key())
                    .col(big_integer(ActivityStats::OrganizationId))
                    .col(big_integer(ActivityStats::CommunityId))
                    .col(string_len(ActivityStats::Kind, 24))
                    // `YYYY-MM` in Asia/Shanghai.
                    .col(string_len(ActivityStats::Month, 7))
                    .col(timestamp_with_time_zone(ActivityStats::StartsAt))
                    .col(integer(ActivityStats::Signups))
                    .col(integer(ActivityStats::Attended))
                    .col(integer(ActivityStats::NoShows))
                    .col(big_integer(ActivityStats::Minutes))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ActivityStats::Table, ActivityStats::ActivityId)
                            .to(Activities::Table, Activities::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("idx_activity_stats_community_starts", vec![ActivityStats::CommunityId, ActivityStats::StartsAt]),
            ("idx_activity_stats_org_starts", vec![ActivityStats::OrganizationId, ActivityStats::StartsAt]),
        ] {
            let mut index = Index::create();
            index.name(name).table(ActivityStats::Table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(ParticipantYears::Table)
                    .if_not_exists()
                    .col(big_integer(ParticipantYears::CommunityId))
                    .col(integer(ParticipantYears::Year))
                    .col(big_integer(ParticipantYears::UserId))
                    // Bit m-1 set: took part in month m (Asia/Shanghai).
                    .col(integer(ParticipantYears::Months))
                    .primary_key(
                        Index::create()
                            .col(ParticipantYears::CommunityId)
                            .col(ParticipantYears::Year)
                            .col(ParticipantYears::UserId),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("Linli's migrations are forward-only".to_owned()))
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Activities {
    Table,
    Id,
    FinishedAt,
}

#[derive(DeriveIden)]
enum Attendance {
    Table,
    Id,
    ActivityId,
    UserId,
    CheckedInAt,
    CheckedOutAt,
    InMethod,
    OutMethod,
    RecordedBy,
    CreditedMinutes,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum HourCorrections {
    Table,
    Id,
    ActivityId,
    UserId,
    OldMinutes,
    NewMinutes,
    Reason,
    CorrectedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ActivityStats {
    Table,
    ActivityId,
    OrganizationId,
    CommunityId,
    Kind,
    Month,
    StartsAt,
    Signups,
    Attended,
    NoShows,
    Minutes,
}

#[derive(DeriveIden)]
enum ParticipantYears {
    Table,
    CommunityId,
    Year,
    UserId,
    Months,
}
