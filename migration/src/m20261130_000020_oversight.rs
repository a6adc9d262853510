//! Oversight (监管): annual reports (年报) with their history, the abnormal list
//! (活动异常名录), random checks (双随机: inspector pools, published draws, each drawn
//! organization's check), and staff's social-work certificates. Nothing here is deleted:
//! decisions are kept with who, when and why.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AnnualReports {
    Table,
    Id,
    OrganizationId,
    Year,
    Status,
    DueOn,
    Content,
    Recorded,
    Result,
    SubmittedBy,
    SubmittedAt,
    ReviewedBy,
    ReviewedAt,
    Comment,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AnnualReportEvents {
    Table,
    Id,
    ReportId,
    Action,
    ActorId,
    Comment,
    At,
}

#[derive(DeriveIden)]
enum AbnormalListings {
    Table,
    Id,
    OrganizationId,
    Reason,
    Detail,
    ListedAt,
    ListedBy,
    ClearedAt,
    ClearedBy,
    ClearReason,
    SourceId,
}

#[derive(DeriveIden)]
enum CheckInspectors {
    Table,
    Id,
    RegionId,
    UserId,
    AddedBy,
    CreatedAt,
    RemovedAt,
}

#[derive(DeriveIden)]
enum CheckDraws {
    Table,
    Id,
    RegionId,
    Title,
    Seed,
    Population,
    Pool,
    SampleSize,
    DrawnBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CheckItems {
    Table,
    Id,
    DrawId,
    OrganizationId,
    Inspectors,
    Status,
    Result,
    Findings,
    RecordedBy,
    RecordedAt,
    Rectification,
    AnsweredBy,
    AnsweredAt,
    Rectified,
    ClosedBy,
    ClosedAt,
    CloseComment,
}

#[derive(DeriveIden)]
enum StaffCertificates {
    Table,
    Id,
    OrganizationId,
    UserId,
    Level,
    Number,
    Year,
    Status,
    VerifiedBy,
    VerifiedAt,
    Comment,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AnnualReports::Table)
                    .if_not_exists()
                    .col(big_pk_auto(AnnualReports::Id))
                    .col(big_integer(AnnualReports::OrganizationId))
                    .col(integer(AnnualReports::Year))
                    .col(string_len(AnnualReports::Status, 16))
                    .col(date(AnnualReports::DueOn))
                    .col(text(AnnualReports::Content))
                    .col(text_null(AnnualReports::Recorded))
                    .col(string_len_null(AnnualReports::Result, 16))
                    .col(big_integer_null(AnnualReports::SubmittedBy))
                    .col(timestamp_with_time_zone_null(AnnualReports::SubmittedAt))
                    .col(big_integer_null(AnnualReports::ReviewedBy))
                    .col(timestamp_with_time_zone_null(AnnualReports::ReviewedAt))
                    .col(text_null(AnnualReports::Comment))
                    .col(timestamp_with_time_zone(AnnualReports::CreatedAt))
                    .col(timestamp_with_time_zone(AnnualReports::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("annual_reports_org_year")
                    .table(AnnualReports::Table)
                    .col(AnnualReports::OrganizationId)
                    .col(AnnualReports::Year)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AnnualReportEvents::Table)
                    .if_not_exists()
                    .col(big_pk_auto(AnnualReportEvents::Id))
                    .col(big_integer(AnnualReportEvents::ReportId))
                    .col(string_len(AnnualReportEvents::Action, 32))
                    .col(big_integer_null(AnnualReportEvents::ActorId))
                    .col(text_null(AnnualReportEvents::Comment))
                    .col(timestamp_with_time_zone(AnnualReportEvents::At))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("annual_report_events_report")
                    .table(AnnualReportEvents::Table)
                    .col(AnnualReportEvents::ReportId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AbnormalListings::Table)
                    .if_not_exists()
                    .col(big_pk_auto(AbnormalListings::Id))
                    .col(big_integer(AbnormalListings::OrganizationId))
                    .col(string_len(AbnormalListings::Reason, 32))
                    .col(text(AbnormalListings::Detail))
                    .col(timestamp_with_time_zone(AbnormalListings::ListedAt))
                    .col(big_integer_null(AbnormalListings::ListedBy))
                    .col(timestamp_with_time_zone_null(AbnormalListings::ClearedAt))
                    .col(big_integer_null(AbnormalListings::ClearedBy))
                    .col(text_null(AbnormalListings::ClearReason))
                    .col(big_integer_null(AbnormalListings::SourceId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("abnormal_listings_org")
                    .table(AbnormalListings::Table)
                    .col(AbnormalListings::OrganizationId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CheckInspectors::Table)
                    .if_not_exists()
                    .col(big_pk_auto(CheckInspectors::Id))
                    .col(big_integer(CheckInspectors::RegionId))
                    .col(big_integer(CheckInspectors::UserId))
                    .col(big_integer_null(CheckInspectors::AddedBy))
                    .col(timestamp_with_time_zone(CheckInspectors::CreatedAt))
                    .col(timestamp_with_time_zone_null(CheckInspectors::RemovedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CheckDraws::Table)
                    .if_not_exists()
                    .col(big_pk_auto(CheckDraws::Id))
                    .col(big_integer(CheckDraws::RegionId))
                    .col(string_len(CheckDraws::Title, 128))
                    .col(string_len(CheckDraws::Seed, 128))
                    .col(text(CheckDraws::Population))
                    .col(text(CheckDraws::Pool))
                    .col(integer(CheckDraws::SampleSize))
                    .col(big_integer(CheckDraws::DrawnBy))
                    .col(timestamp_with_time_zone(CheckDraws::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CheckItems::Table)
                    .if_not_exists()
                    .col(big_pk_auto(CheckItems::Id))
                    .col(big_integer(CheckItems::DrawId))
                    .col(big_integer(CheckItems::OrganizationId))
                    .col(string_len(CheckItems::Inspectors, 64))
                    .col(string_len(CheckItems::Status, 16))
                    .col(string_len_null(CheckItems::Result, 16))
                    .col(text_null(CheckItems::Findings))
                    .col(big_integer_null(CheckItems::RecordedBy))
                    .col(timestamp_with_time_zone_null(CheckItems::RecordedAt))
                    .col(text_null(CheckItems::Rectification))
                    .col(big_integer_null(CheckItems::AnsweredBy))
                    .col(timestamp_with_time_zone_null(CheckItems::AnsweredAt))
                    .col(boolean_null(CheckItems::Rectified))
                    .col(big_integer_null(CheckItems::ClosedBy))
                    .col(timestamp_with_time_zone_null(CheckItems::ClosedAt))
                    .col(text_null(CheckItems::CloseComment))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("check_items_draw").table(CheckItems::Table).col(CheckItems::DrawId).to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(StaffCertificates::Table)
                    .if_not_exists()
                    .col(big_pk_auto(StaffCertificates::Id))
                    .col(big_integer(StaffCertificates::OrganizationId))
                    .col(big_integer(StaffCertificates::UserId))
                    .col(string_len(StaffCertificates::Level, 16))
                    .col(string_len(StaffCertificates::Number, 64))
                    .col(integer(StaffCertificates::Year))
                    .col(string_len(StaffCertificates::Status, 16))
                    .col(big_integer_null(StaffCertificates::VerifiedBy))
                    .col(timestamp_with_time_zone_null(StaffCertificates::VerifiedAt))
                    .col(text_null(StaffCertificates::Comment))
                    .col(timestamp_with_time_zone(StaffCertificates::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("staff_certificates_org")
                    .table(StaffCertificates::Table)
                    .col(StaffCertificates::OrganizationId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("Linli's migrations are forward-only".to_owned()))
    }
}
