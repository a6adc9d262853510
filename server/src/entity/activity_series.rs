use sea_orm::entity::prelude::*;

/// A recurring activity: the template every date copies, and its recurrence.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "activity_series")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub community_id: i64,
    pub venue_id: Option<i64>,
    /// The room bookings of every date (`GET /venue-series/{id}`), with a room.
    pub venue_series_id: Option<i64>,
    pub kind: String,
    pub title: String,
    pub description: String,
    pub location: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub capacity: i32,
    pub waitlist_enabled: bool,
    pub service_minutes: i32,
    pub target_groups: String,
    pub age_note: Option<String>,
    pub skill_note: Option<String>,
    pub cancel_cutoff_minutes: i32,
    /// Each date's length.
    pub duration_minutes: i32,
    /// Sign-ups close this many minutes before each date's start (0: at the start).
    pub deadline_minutes: i32,
    /// The template's text waits for the committee (WeChat's content check said `review`).
    pub review_pending: bool,
    /// The RFC 5545 `RRULE` value, computed from `first_starts_at` in Asia/Shanghai.
    pub rrule: String,
    pub first_starts_at: DateTimeUtc,
    /// `YYYY-MM-DD` dates (Asia/Shanghai), comma-separated.
    pub skip_dates: String,
    pub horizon_weeks: i32,
    pub auto_accept: bool,
    pub status: String,
    pub cancel_reason: Option<String>,
    pub version: i32,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
