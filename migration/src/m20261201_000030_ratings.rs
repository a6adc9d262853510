//! Ratings (等级评估): versioned rating schemes kept as data (an indicator tree, grade
//! bands, validity, eligibility rules), assessments that freeze the scheme they use, the
//! panel's scores, each step of an assessment (who, when, why), residents' satisfaction
//! scores, and a pool kind on the expert pools (random-check inspectors and rating
//! assessors are both pools a region's office keeps). Nothing here is deleted.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RatingSchemes {
    Table,
    Id,
    Family,
    Version,
    RegionId,
    Name,
    Content,
    Status,
    BasedOn,
    CreatedBy,
    CreatedAt,
    PublishedAt,
}

#[derive(DeriveIden)]
enum RatingAssessments {
    Table,
    Id,
    OrganizationId,
    SchemeId,
    Panel,
    Status,
    Eligibility,
    TotalTenths,
    Grade,
    Breakdown,
    NoticeFrom,
    NoticeUntil,
    AppealReason,
    AppealedBy,
    AppealedAt,
    AppealAnswer,
    AwardedAt,
    ValidUntil,
    SupersededBy,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RatingScores {
    Table,
    Id,
    AssessmentId,
    Indicator,
    AssessorId,
    Score,
    Note,
    At,
    SupersededAt,
}

#[derive(DeriveIden)]
enum RatingEvents {
    Table,
    Id,
    AssessmentId,
    Action,
    ActorId,
    Comment,
    At,
}

#[derive(DeriveIden)]
enum SatisfactionScores {
    Table,
    Id,
    OrganizationId,
    UserId,
    Year,
    Score,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CheckInspectors {
    Table,
    Pool,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RatingSchemes::Table)
                    .if_not_exists()
                    .col(big_pk_auto(RatingSchemes::Id))
                    .col(string_len(RatingSchemes::Family, 64))
                    .col(integer(RatingSchemes::Version))
                    .col(big_integer_null(RatingSchemes::RegionId))
                    .col(string_len(RatingSchemes::Name, 128))
                    .col(text(RatingSchemes::Content))
                    .col(string_len(RatingSchemes::Status, 16))
                    .col(big_integer_null(RatingSchemes::BasedOn))
                    .col(big_integer_null(RatingSchemes::CreatedBy))
                    .col(timestamp_with_time_zone(RatingSchemes::CreatedAt))
                    .col(timestamp_with_time_zone_null(RatingSchemes::PublishedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("rating_schemes_family_version")
                    .table(RatingSchemes::Table)
                    .col(RatingSchemes::Family)
                    .col(RatingSchemes::Version)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RatingAssessments::Table)
                    .if_not_exists()
                    .col(big_pk_auto(RatingAssessments::Id))
                    .col(big_integer(RatingAssessments::OrganizationId))
                    .col(big_integer(RatingAssessments::SchemeId))
                    .col(string_len(RatingAssessments::Panel, 256))
                    .col(string_len(RatingAssessments::Status, 16))
                    .col(text(RatingAssessments::Eligibility))
                    .col(big_integer_null(RatingAssessments::TotalTenths))
                    .col(string_len_null(RatingAssessments::Grade, 4))
                    .col(text_null(RatingAssessments::Breakdown))
                    .col(timestamp_with_time_zone_null(RatingAssessments::NoticeFrom))
                    .col(timestamp_with_time_zone_null(RatingAssessments::NoticeUntil))
                    .col(text_null(RatingAssessments::AppealReason))
                    .col(big_integer_null(RatingAssessments::AppealedBy))
                    .col(timestamp_with_time_zone_null(RatingAssessments::AppealedAt))
                    .col(text_null(RatingAssessments::AppealAnswer))
                    .col(timestamp_with_time_zone_null(RatingAssessments::AwardedAt))
                    .col(date_null(RatingAssessments::ValidUntil))
                    .col(big_integer_null(RatingAssessments::SupersededBy))
                    .col(big_integer(RatingAssessments::CreatedBy))
                    .col(timestamp_with_time_zone(RatingAssessments::CreatedAt))
                    .col(timestamp_with_time_zone(RatingAssessments::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("rating_assessments_org")
                    .table(RatingAssessments::Table)
                    .col(RatingAssessments::OrganizationId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("rating_assessments_status")
                    .table(RatingAssessments::Table)
                    .col(RatingAssessments::Status)
                    .col(RatingAssessments::Grade)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RatingScores::Table)
                    .if_not_exists()
                    .col(big_pk_auto(RatingScores::Id))
                    .col(big_integer(RatingScores::AssessmentId))
                    .col(string_len(RatingScores::Indicator, 64))
                    .col(big_integer(RatingScores::AssessorId))
                    .col(integer(RatingScores::Score))
                    .col(text_null(RatingScores::Note))
                    .col(timestamp_with_time_zone(RatingScores::At))
                    .col(timestamp_with_time_zone_null(RatingScores::SupersededAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("rating_scores_assessment")
                    .table(RatingScores::Table)
                    .col(RatingScores::AssessmentId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RatingEvents::Table)
                    .if_not_exists()
                    .col(big_pk_auto(RatingEvents::Id))
                    .col(big_integer(RatingEvents::AssessmentId))
                    .col(string_len(RatingEvents::Action, 32))
                    .col(big_integer_null(RatingEvents::ActorId))
                    .col(text_null(RatingEvents::Comment))
                    .col(timestamp_with_time_zone(RatingEvents::At))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("rating_events_assessment")
                    .table(RatingEvents::Table)
                    .col(RatingEvents::AssessmentId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SatisfactionScores::Table)
                    .if_not_exists()
                    .col(big_pk_auto(SatisfactionScores::Id))
                    .col(big_integer(SatisfactionScores::OrganizationId))
                    .col(big_integer(SatisfactionScores::UserId))
                    .col(integer(SatisfactionScores::Year))
                    .col(small_integer(SatisfactionScores::Score))
                    .col(timestamp_with_time_zone(SatisfactionScores::CreatedAt))
                    .col(timestamp_with_time_zone(SatisfactionScores::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("satisfaction_scores_one_per_year")
                    .table(SatisfactionScores::Table)
                    .col(SatisfactionScores::OrganizationId)
                    .col(SatisfactionScores::Year)
                    .col(SatisfactionScores::UserId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(CheckInspectors::Table)
                    .add_column(string_len(CheckInspectors::Pool, 16).default("inspectors"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("Linli's migrations are forward-only".to_owned()))
    }
}
