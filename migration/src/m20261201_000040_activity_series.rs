//! Recurring activity series and their regular volunteers (issue 18, part 1). A series
//! keeps the activity template and an RFC 5545 recurrence; each date is an ordinary
//! `activities` row linked by `series_id`, unique per (series, occurrence day) so two
//! runs of the materialising job never make a date twice. Regulars are residents signed
//! up to every date automatically; the sign-ups they get are marked `regular`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ActivitySeries {
    Table,
    Id,
    OrganizationId,
    CommunityId,
    VenueId,
    VenueSeriesId,
    Kind,
    Title,
    Description,
    Location,
    Latitude,
    Longitude,
    Capacity,
    WaitlistEnabled,
    ServiceMinutes,
    TargetGroups,
    AgeNote,
    SkillNote,
    CancelCutoffMinutes,
    DurationMinutes,
    DeadlineMinutes,
    ReviewPending,
    Rrule,
    FirstStartsAt,
    SkipDates,
    HorizonWeeks,
    AutoAccept,
    Status,
    CancelReason,
    Version,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SeriesRegulars {
    Table,
    Id,
    SeriesId,
    UserId,
    Status,
    PausedUntil,
    Reason,
    DecidedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Activities {
    Table,
    SeriesId,
    SeriesOccurrence,
    SeriesOverride,
}

#[derive(DeriveIden)]
enum Signups {
    Table,
    Regular,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ActivitySeries::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ActivitySeries::Id))
                    .col(big_integer(ActivitySeries::OrganizationId))
                    .col(big_integer(ActivitySeries::CommunityId))
                    .col(big_integer_null(ActivitySeries::VenueId))
                    .col(big_integer_null(ActivitySeries::VenueSeriesId))
                    .col(string_len(ActivitySeries::Kind, 32))
                    .col(string_len(ActivitySeries::Title, 200))
                    .col(text(ActivitySeries::Description))
                    .col(string_len(ActivitySeries::Location, 400))
                    .col(double_null(ActivitySeries::Latitude))
                    .col(double_null(ActivitySeries::Longitude))
                    .col(integer(ActivitySeries::Capacity))
                    .col(boolean(ActivitySeries::WaitlistEnabled))
                    .col(integer(ActivitySeries::ServiceMinutes))
                    .col(text(ActivitySeries::TargetGroups))
                    .col(text_null(ActivitySeries::AgeNote))
                    .col(text_null(ActivitySeries::SkillNote))
                    .col(integer(ActivitySeries::CancelCutoffMinutes))
                    .col(integer(ActivitySeries::DurationMinutes))
                    .col(integer(ActivitySeries::DeadlineMinutes))
                    .col(boolean(ActivitySeries::ReviewPending).default(false))
                    .col(string_len(ActivitySeries::Rrule, 400))
                    .col(timestamp_with_time_zone(ActivitySeries::FirstStartsAt))
                    .col(text(ActivitySeries::SkipDates))
                    .col(integer(ActivitySeries::HorizonWeeks))
                    .col(boolean(ActivitySeries::AutoAccept))
                    .col(string_len(ActivitySeries::Status, 16))
                    .col(text_null(ActivitySeries::CancelReason))
                    .col(integer(ActivitySeries::Version).default(1))
                    .col(big_integer_null(ActivitySeries::CreatedBy))
                    .col(timestamp_with_time_zone(ActivitySeries::CreatedAt))
                    .col(timestamp_with_time_zone(ActivitySeries::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("activity_series_organization")
                    .table(ActivitySeries::Table)
                    .col(ActivitySeries::OrganizationId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SeriesRegulars::Table)
                    .if_not_exists()
                    .col(big_pk_auto(SeriesRegulars::Id))
                    .col(big_integer(SeriesRegulars::SeriesId))
                    .col(big_integer(SeriesRegulars::UserId))
                    .col(string_len(SeriesRegulars::Status, 16))
                    .col(date_null(SeriesRegulars::PausedUntil))
                    .col(text_null(SeriesRegulars::Reason))
                    .col(big_integer_null(SeriesRegulars::DecidedBy))
                    .col(timestamp_with_time_zone(SeriesRegulars::CreatedAt))
                    .col(timestamp_with_time_zone(SeriesRegulars::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("series_regulars_series_user")
                    .table(SeriesRegulars::Table)
                    .col(SeriesRegulars::SeriesId)
                    .col(SeriesRegulars::UserId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("series_regulars_user")
                    .table(SeriesRegulars::Table)
                    .col(SeriesRegulars::UserId)
                    .to_owned(),
            )
            .await?;
        // SQLite adds one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter().table(Activities::Table).add_column(big_integer_null(Activities::SeriesId)).to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Activities::Table)
                    .add_column(timestamp_with_time_zone_null(Activities::SeriesOccurrence))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Activities::Table)
                    .add_column(boolean(Activities::SeriesOverride).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("activities_series_occurrence")
                    .table(Activities::Table)
                    .col(Activities::SeriesId)
                    .col(Activities::SeriesOccurrence)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter().table(Signups::Table).add_column(boolean(Signups::Regular).default(false)).to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("Linli's migrations are forward-only".to_owned()))
    }
}
