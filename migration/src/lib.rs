//! Forward-only schema migrations, shared by the server (run at start) and the
//! `migration` CLI. A file that has landed is never edited: add a new one.

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_identity;
mod m20261128_000002_organizations;
mod m20261129_000003_activities;
mod m20261129_000004_push;
mod m20261129_000005_attendance;
mod m20261130_000006_withdrawn_notice_keys;
mod m20261130_000007_venues;
mod m20261130_000008_review_pending;
mod m20261130_000009_invitations;
mod m20261130_000020_oversight;
mod m20261201_000010_calendar_feeds;
mod m20261201_000011_time_banks;
mod m20261201_000030_ratings;
mod m20261201_000040_activity_series;
mod m20261201_000050_proxies;
mod m20261201_000060_incubation_hubs;
mod m20261201_000070_funding;
mod m20261201_000080_region_imports;
mod m20261201_000090_console;
mod m20261202_000100_figures_and_outbox_indexes;
mod m20261202_000200_participant_months;
mod m20261202_000300_activity_months;
mod m20261202_000400_community_residents;
mod m20261202_000500_notice_deliveries;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_identity::Migration),
            Box::new(m20261128_000002_organizations::Migration),
            Box::new(m20261129_000003_activities::Migration),
            Box::new(m20261129_000004_push::Migration),
            Box::new(m20261129_000005_attendance::Migration),
            Box::new(m20261130_000006_withdrawn_notice_keys::Migration),
            Box::new(m20261130_000007_venues::Migration),
            Box::new(m20261130_000008_review_pending::Migration),
            Box::new(m20261130_000009_invitations::Migration),
            Box::new(m20261130_000020_oversight::Migration),
            Box::new(m20261201_000010_calendar_feeds::Migration),
            Box::new(m20261201_000011_time_banks::Migration),
            Box::new(m20261201_000030_ratings::Migration),
            Box::new(m20261201_000040_activity_series::Migration),
            Box::new(m20261201_000050_proxies::Migration),
            Box::new(m20261201_000060_incubation_hubs::Migration),
            Box::new(m20261201_000070_funding::Migration),
            Box::new(m20261201_000080_region_imports::Migration),
            Box::new(m20261201_000090_console::Migration),
            Box::new(m20261202_000100_figures_and_outbox_indexes::Migration),
            Box::new(m20261202_000200_participant_months::Migration),
            Box::new(m20261202_000300_activity_months::Migration),
            Box::new(m20261202_000400_community_residents::Migration),
            Box::new(m20261202_000500_notice_deliveries::Migration),
        ]
    }
}
