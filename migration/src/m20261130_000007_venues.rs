//! Shared rooms (一室多用): venues with weekly opening hours and dated closures, bookings
//! of spans of them (with the span they block, the end plus the venue's buffer), the
//! history of each booking, recurring series, and the venue an activity is held in.
//!
//! Holding bookings (`requested`, `approved`) never overlap in what they block. The
//! server settles that in one transaction holding the venue row; on PostgreSQL an
//! exclusion constraint over the blocked range is the backstop (it needs the
//! `btree_gist` extension, created here: a managed database must allow it).

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Venues::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Venues::Id))
                    .col(big_integer(Venues::CommunityId))
                    .col(big_integer_null(Venues::EntrustedOrgId))
                    .col(string_len(Venues::Name, 64))
                    .col(string_len(Venues::Address, 128))
                    .col(double_null(Venues::Latitude))
                    .col(double_null(Venues::Longitude))
                    .col(integer(Venues::Capacity))
                    .col(double_null(Venues::AreaM2))
                    .col(text(Venues::Facilities).default(""))
                    .col(text_null(Venues::Accessibility))
                    .col(text(Venues::Photos).default(""))
                    .col(integer(Venues::SlotMinutes))
                    .col(integer(Venues::MinMinutes))
                    .col(integer(Venues::MaxMinutes))
                    .col(integer(Venues::BookAheadDays))
                    .col(integer(Venues::BufferMinutes))
                    .col(boolean(Venues::NeedsApproval).default(true))
                    .col(integer(Venues::CancelCutoffMinutes))
                    .col(string_len(Venues::Status, 16))
                    .col(big_integer_null(Venues::CreatedBy))
                    .col(timestamp_with_time_zone(Venues::CreatedAt))
                    .col(timestamp_with_time_zone(Venues::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create().from(Venues::Table, Venues::CommunityId).to(Regions::Table, Regions::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Venues::Table, Venues::EntrustedOrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_venues_community").table(Venues::Table).col(Venues::CommunityId).to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(VenueHours::Table)
                    .if_not_exists()
                    .col(big_pk_auto(VenueHours::Id))
                    .col(big_integer(VenueHours::VenueId))
                    .col(small_integer(VenueHours::Weekday))
                    .col(integer(VenueHours::OpensMinute))
                    .col(integer(VenueHours::ClosesMinute))
                    .foreign_key(
                        ForeignKey::create()
                            .from(VenueHours::Table, VenueHours::VenueId)
                            .to(Venues::Table, Venues::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_venue_hours_venue")
                    .table(VenueHours::Table)
                    .col(VenueHours::VenueId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(VenueClosures::Table)
                    .if_not_exists()
                    .col(big_pk_auto(VenueClosures::Id))
                    .col(big_integer(VenueClosures::VenueId))
                    .col(timestamp_with_time_zone(VenueClosures::StartsAt))
                    .col(timestamp_with_time_zone(VenueClosures::EndsAt))
                    .col(string_len(VenueClosures::Reason, 200))
                    .col(big_integer_null(VenueClosures::CreatedBy))
                    .col(timestamp_with_time_zone(VenueClosures::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(VenueClosures::Table, VenueClosures::VenueId)
                            .to(Venues::Table, Venues::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_venue_closures_venue")
                    .table(VenueClosures::Table)
                    .col(VenueClosures::VenueId)
                    .col(VenueClosures::StartsAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(VenueSeries::Table)
                    .if_not_exists()
                    .col(big_pk_auto(VenueSeries::Id))
                    .col(big_integer(VenueSeries::VenueId))
                    .col(big_integer(VenueSeries::OrganizationId))
                    .col(string_len(VenueSeries::Weekdays, 16))
                    .col(integer(VenueSeries::EveryWeeks))
                    .col(date(VenueSeries::Until))
                    .col(text(VenueSeries::SkipDates).default(""))
                    .col(big_integer_null(VenueSeries::CreatedBy))
                    .col(timestamp_with_time_zone(VenueSeries::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(VenueSeries::Table, VenueSeries::VenueId)
                            .to(Venues::Table, Venues::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(VenueBookings::Table)
                    .if_not_exists()
                    .col(big_pk_auto(VenueBookings::Id))
                    .col(big_integer(VenueBookings::VenueId))
                    .col(big_integer(VenueBookings::OrganizationId))
                    .col(big_integer_null(VenueBookings::ActivityId))
                    .col(big_integer_null(VenueBookings::SeriesId))
                    .col(string_len(VenueBookings::Purpose, 200))
                    .col(integer(VenueBookings::Attendance))
                    .col(timestamp_with_time_zone(VenueBookings::StartsAt))
                    .col(timestamp_with_time_zone(VenueBookings::EndsAt))
                    .col(timestamp_with_time_zone(VenueBookings::BlockedUntil))
                    .col(string_len(VenueBookings::Status, 16))
                    .col(big_integer_null(VenueBookings::RequestedBy))
                    .col(big_integer_null(VenueBookings::DecidedBy))
                    .col(timestamp_with_time_zone_null(VenueBookings::DecidedAt))
                    .col(string_len_null(VenueBookings::DecisionReason, 200))
                    .col(timestamp_with_time_zone(VenueBookings::CreatedAt))
                    .col(timestamp_with_time_zone(VenueBookings::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(VenueBookings::Table, VenueBookings::VenueId)
                            .to(Venues::Table, Venues::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(VenueBookings::Table, VenueBookings::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(VenueBookings::Table, VenueBookings::ActivityId)
                            .to(Activities::Table, Activities::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(VenueBookings::Table, VenueBookings::SeriesId)
                            .to(VenueSeries::Table, VenueSeries::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_venue_bookings_span")
                    .table(VenueBookings::Table)
                    .col(VenueBookings::VenueId)
                    .col(VenueBookings::StartsAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_venue_bookings_status")
                    .table(VenueBookings::Table)
                    .col(VenueBookings::Status)
                    .col(VenueBookings::VenueId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_venue_bookings_activity")
                    .table(VenueBookings::Table)
                    .col(VenueBookings::ActivityId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(VenueBookingEvents::Table)
                    .if_not_exists()
                    .col(big_pk_auto(VenueBookingEvents::Id))
                    .col(big_integer(VenueBookingEvents::BookingId))
                    .col(string_len(VenueBookingEvents::Action, 16))
                    .col(big_integer_null(VenueBookingEvents::ActorId))
                    .col(string_len_null(VenueBookingEvents::Reason, 200))
                    .col(timestamp_with_time_zone(VenueBookingEvents::At))
                    .foreign_key(
                        ForeignKey::create()
                            .from(VenueBookingEvents::Table, VenueBookingEvents::BookingId)
                            .to(VenueBookings::Table, VenueBookings::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_venue_booking_events_booking")
                    .table(VenueBookingEvents::Table)
                    .col(VenueBookingEvents::BookingId)
                    .to_owned(),
            )
            .await?;

        manager
            .alter_table(
                Table::alter().table(Activities::Table).add_column(big_integer_null(Activities::VenueId)).to_owned(),
            )
            .await?;

        if manager.get_database_backend() == DatabaseBackend::Postgres {
            let db = manager.get_connection();
            db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS btree_gist").await?;
            db.execute_unprepared(
                "ALTER TABLE venue_bookings ADD CONSTRAINT venue_bookings_no_overlap \
                 EXCLUDE USING gist (venue_id WITH =, tstzrange(starts_at, blocked_until, '[)') WITH &&) \
                 WHERE (status IN ('requested', 'approved'))",
            )
            .await?;
        }
        Ok(())
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
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Activities {
    Table,
    Id,
    VenueId,
}

#[derive(DeriveIden)]
enum Venues {
    Table,
    Id,
    CommunityId,
    EntrustedOrgId,
    Name,
    Address,
    Latitude,
    Longitude,
    Capacity,
    AreaM2,
    Facilities,
    Accessibility,
    Photos,
    SlotMinutes,
    MinMinutes,
    MaxMinutes,
    BookAheadDays,
    BufferMinutes,
    NeedsApproval,
    CancelCutoffMinutes,
    Status,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum VenueHours {
    Table,
    Id,
    VenueId,
    Weekday,
    OpensMinute,
    ClosesMinute,
}

#[derive(DeriveIden)]
enum VenueClosures {
    Table,
    Id,
    VenueId,
    StartsAt,
    EndsAt,
    Reason,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum VenueSeries {
    Table,
    Id,
    VenueId,
    OrganizationId,
    Weekdays,
    EveryWeeks,
    Until,
    SkipDates,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum VenueBookings {
    Table,
    Id,
    VenueId,
    OrganizationId,
    ActivityId,
    SeriesId,
    Purpose,
    Attendance,
    StartsAt,
    EndsAt,
    BlockedUntil,
    Status,
    RequestedBy,
    DecidedBy,
    DecidedAt,
    DecisionReason,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum VenueBookingEvents {
    Table,
    Id,
    BookingId,
    Action,
    ActorId,
    Reason,
    At,
}
