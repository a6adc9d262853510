//! Black-box tests: the real app on port 0, its own database, a fake WeChat.

mod activities;
mod admin;
mod attendance;
mod auth;
mod calendar;
mod correctness;
mod downloads;
mod errors;
mod exports;
mod faults;
mod health;
mod invitations;
mod limits;
mod me;
mod openapi;
mod organizations;
mod oversight;
mod push;
mod regions;
mod security;
mod time_bank;
mod venue_figures;
mod venue_rules;
mod venue_series;
mod venues;
mod work_queue;
