//! sea-orm entities: table shapes only. Behaviour lives in `service/`.

pub mod activity;
pub mod activity_stat;
pub mod attendance;
pub mod calendar_feed;
pub mod hour_correction;
pub mod invitation;
pub mod notification;
pub mod organization;
pub mod organization_event;
pub mod organization_follow;
pub mod organization_target;
pub mod participant_year;
pub mod refresh_token;
pub mod region;
pub mod role_grant;
pub mod signup;
pub mod subscription_quota;
pub mod user;
pub mod venue;
pub mod venue_booking;
pub mod venue_booking_event;
pub mod venue_closure;
pub mod venue_hour;
pub mod venue_series;
