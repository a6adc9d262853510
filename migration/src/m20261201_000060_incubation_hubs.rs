//! Incubation (孵化) and hub organizations (枢纽型组织).
//!
//! An incubation base, run by a street office (or entrusted to a hub), admits start-up
//! groups that are not filed yet for a period; mentors are assigned, sessions and
//! milestones recorded, and every decision (admission, extension, graduation, exit) is
//! a row of its own with who, when and why. A graduate's filing application points back
//! at its incubation (`incubatees.organization_id`).
//!
//! A hub is an organization marked by the street office (or civil affairs) as the hub of
//! a street or community; other organizations request to join and the hub accepts. A
//! membership row keeps the request, the decision and the leaving, each with who, when
//! and why; a new request is a new row. Nothing here is deleted.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Hubs {
    Table,
    Id,
    OrganizationId,
    RegionId,
    Kind,
    Reason,
    MarkedBy,
    MarkedAt,
}

#[derive(DeriveIden)]
enum HubMemberships {
    Table,
    Id,
    HubId,
    OrganizationId,
    Status,
    Message,
    RequestedBy,
    RequestedAt,
    DecidedBy,
    DecidedAt,
    DecisionReason,
    LeftBy,
    LeftAt,
    LeftReason,
}

#[derive(DeriveIden)]
enum IncubationBases {
    Table,
    Id,
    Name,
    StreetId,
    HubId,
    Description,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Incubatees {
    Table,
    Id,
    BaseId,
    Name,
    Category,
    CommunityId,
    ContactUserId,
    Description,
    Status,
    AdmittedOn,
    EndsOn,
    OrganizationId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum IncubationMentors {
    Table,
    Id,
    IncubateeId,
    UserId,
    Note,
    AssignedBy,
    AssignedAt,
}

#[derive(DeriveIden)]
enum IncubationEntries {
    Table,
    Id,
    IncubateeId,
    Kind,
    OccurredOn,
    Title,
    Notes,
    Minutes,
    RecordedBy,
    RecordedAt,
}

#[derive(DeriveIden)]
enum IncubationDecisions {
    Table,
    Id,
    IncubateeId,
    Action,
    FromStatus,
    ToStatus,
    EndsOn,
    Reason,
    ActorId,
    At,
}

fn index(name: &str, table: impl IntoIden, cols: &[&str], unique: bool) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(table);
    for c in cols {
        i.col(Alias::new(*c));
    }
    if unique {
        i.unique();
    }
    i.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Hubs::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Hubs::Id))
                    .col(big_integer(Hubs::OrganizationId))
                    .col(big_integer(Hubs::RegionId))
                    .col(string_len(Hubs::Kind, 32))
                    .col(text(Hubs::Reason))
                    .col(big_integer(Hubs::MarkedBy))
                    .col(timestamp_with_time_zone(Hubs::MarkedAt))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("hubs_organization", Hubs::Table, &["organization_id"], true)).await?;
        manager.create_index(index("hubs_region", Hubs::Table, &["region_id"], false)).await?;
        manager
            .create_table(
                Table::create()
                    .table(HubMemberships::Table)
                    .if_not_exists()
                    .col(big_pk_auto(HubMemberships::Id))
                    .col(big_integer(HubMemberships::HubId))
                    .col(big_integer(HubMemberships::OrganizationId))
                    .col(string_len(HubMemberships::Status, 16))
                    .col(text_null(HubMemberships::Message))
                    .col(big_integer(HubMemberships::RequestedBy))
                    .col(timestamp_with_time_zone(HubMemberships::RequestedAt))
                    .col(big_integer_null(HubMemberships::DecidedBy))
                    .col(timestamp_with_time_zone_null(HubMemberships::DecidedAt))
                    .col(text_null(HubMemberships::DecisionReason))
                    .col(big_integer_null(HubMemberships::LeftBy))
                    .col(timestamp_with_time_zone_null(HubMemberships::LeftAt))
                    .col(text_null(HubMemberships::LeftReason))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("hub_memberships_hub", HubMemberships::Table, &["hub_id", "status"], false)).await?;
        manager
            .create_index(index("hub_memberships_org", HubMemberships::Table, &["organization_id", "status"], false))
            .await?;
        // One open (requested or active) membership per hub and organization.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX hub_memberships_open ON hub_memberships (hub_id, organization_id) \
                 WHERE status IN ('requested', 'active')",
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IncubationBases::Table)
                    .if_not_exists()
                    .col(big_pk_auto(IncubationBases::Id))
                    .col(string_len(IncubationBases::Name, 128))
                    .col(big_integer(IncubationBases::StreetId))
                    .col(big_integer_null(IncubationBases::HubId))
                    .col(text(IncubationBases::Description))
                    .col(big_integer(IncubationBases::CreatedBy))
                    .col(timestamp_with_time_zone(IncubationBases::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("incubation_bases_street", IncubationBases::Table, &["street_id"], false)).await?;
        manager
            .create_table(
                Table::create()
                    .table(Incubatees::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Incubatees::Id))
                    .col(big_integer(Incubatees::BaseId))
                    .col(string_len(Incubatees::Name, 128))
                    .col(string_len(Incubatees::Category, 32))
                    .col(big_integer(Incubatees::CommunityId))
                    .col(big_integer(Incubatees::ContactUserId))
                    .col(text(Incubatees::Description))
                    .col(string_len(Incubatees::Status, 16))
                    .col(date(Incubatees::AdmittedOn))
                    .col(date(Incubatees::EndsOn))
                    .col(big_integer_null(Incubatees::OrganizationId))
                    .col(timestamp_with_time_zone(Incubatees::CreatedAt))
                    .col(timestamp_with_time_zone(Incubatees::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("incubatees_base", Incubatees::Table, &["base_id", "status"], false)).await?;
        manager.create_index(index("incubatees_community", Incubatees::Table, &["community_id"], false)).await?;
        manager.create_index(index("incubatees_organization", Incubatees::Table, &["organization_id"], true)).await?;
        manager
            .create_table(
                Table::create()
                    .table(IncubationMentors::Table)
                    .if_not_exists()
                    .col(big_pk_auto(IncubationMentors::Id))
                    .col(big_integer(IncubationMentors::IncubateeId))
                    .col(big_integer(IncubationMentors::UserId))
                    .col(text_null(IncubationMentors::Note))
                    .col(big_integer(IncubationMentors::AssignedBy))
                    .col(timestamp_with_time_zone(IncubationMentors::AssignedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "incubation_mentors_pair",
                IncubationMentors::Table,
                &["incubatee_id", "user_id"],
                true,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IncubationEntries::Table)
                    .if_not_exists()
                    .col(big_pk_auto(IncubationEntries::Id))
                    .col(big_integer(IncubationEntries::IncubateeId))
                    .col(string_len(IncubationEntries::Kind, 16))
                    .col(date(IncubationEntries::OccurredOn))
                    .col(string_len(IncubationEntries::Title, 128))
                    .col(text(IncubationEntries::Notes))
                    .col(integer_null(IncubationEntries::Minutes))
                    .col(big_integer(IncubationEntries::RecordedBy))
                    .col(timestamp_with_time_zone(IncubationEntries::RecordedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("incubation_entries_incubatee", IncubationEntries::Table, &["incubatee_id"], false))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IncubationDecisions::Table)
                    .if_not_exists()
                    .col(big_pk_auto(IncubationDecisions::Id))
                    .col(big_integer(IncubationDecisions::IncubateeId))
                    .col(string_len(IncubationDecisions::Action, 16))
                    .col(string_len_null(IncubationDecisions::FromStatus, 16))
                    .col(string_len(IncubationDecisions::ToStatus, 16))
                    .col(date(IncubationDecisions::EndsOn))
                    .col(text(IncubationDecisions::Reason))
                    .col(big_integer(IncubationDecisions::ActorId))
                    .col(timestamp_with_time_zone(IncubationDecisions::At))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("incubation_decisions_incubatee", IncubationDecisions::Table, &["incubatee_id"], false))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            IncubationDecisions::Table.into_iden(),
            IncubationEntries::Table.into_iden(),
            IncubationMentors::Table.into_iden(),
            Incubatees::Table.into_iden(),
            IncubationBases::Table.into_iden(),
            HubMemberships::Table.into_iden(),
            Hubs::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(t).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}
