use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "activities")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub community_id: i64,
    pub kind: String,
    pub title: String,
    pub description: String,
    pub location: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub starts_at: DateTimeUtc,
    pub ends_at: DateTimeUtc,
    pub signup_deadline: DateTimeUtc,
    pub cancel_cutoff_minutes: i32,
    pub capacity: i32,
    pub waitlist_enabled: bool,
    pub service_minutes: i32,
    pub target_groups: String,
    pub age_note: Option<String>,
    pub skill_note: Option<String>,
    pub status: String,
    pub cancel_reason: Option<String>,
    pub confirmed_count: i32,
    pub waitlist_count: i32,
    pub signup_seq: i64,
    pub version: i32,
    pub created_by: Option<i64>,
    pub published_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    /// The room it is held in, when it names one.
    pub venue_id: Option<i64>,
    /// Held for the committee to read a text WeChat's content check flagged.
    pub review_pending: bool,
    /// Its attendees' credited minutes are paid from the time bank's own account on closing.
    pub time_bank_credited: bool,
    /// The series this date belongs to.
    pub series_id: Option<i64>,
    /// The day the series' rule gave this date, as its Asia/Shanghai midnight in UTC (unique
    /// per series; kept when the date moves to another time).
    pub series_occurrence: Option<DateTimeUtc>,
    /// Edited on its own: edits to the whole series leave it as it is.
    pub series_override: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
