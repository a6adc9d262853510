//! The HTTP API: one module per resource, each with its request and response types,
//! handlers and `routes`.

pub mod activities;
pub mod admin;
pub mod attendance;
pub mod auth;
pub mod calendar;
pub mod checks;
pub mod console;
pub mod docs;
pub mod downloads;
pub mod exports;
pub mod funding;
pub mod health;
pub mod hubs;
pub mod incubation;
pub mod invitations;
pub mod me;
pub mod middleware;
pub mod notifications;
pub mod offline_residents;
pub mod organizations;
pub mod oversight;
pub mod projects;
pub mod proxies;
pub mod ratings;
pub mod regions;
pub mod reports;
pub mod series;
pub mod subscriptions;
pub mod time_bank;
pub mod types;
pub mod venue_bookings;
pub mod venues;

use actix_web::web;

/// Everything under `/api/v1`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .configure(auth::routes)
            .configure(me::routes)
            .configure(console::routes)
            .configure(calendar::routes)
            .configure(invitations::routes)
            .configure(offline_residents::routes)
            .configure(proxies::routes)
            .configure(downloads::routes)
            .configure(exports::routes)
            .configure(reports::routes)
            .configure(regions::routes)
            .configure(oversight::routes)
            .configure(ratings::routes)
            .configure(funding::routes)
            .configure(projects::routes)
            .configure(hubs::routes)
            .configure(incubation::routes)
            .configure(organizations::routes)
            .configure(attendance::routes)
            .configure(time_bank::routes)
            .configure(series::routes)
            .configure(activities::routes)
            .configure(venue_bookings::routes)
            .configure(venues::routes)
            .configure(notifications::routes)
            .configure(subscriptions::routes)
            .configure(admin::routes),
    );
}
