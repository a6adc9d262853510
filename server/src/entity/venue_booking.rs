use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "venue_bookings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub venue_id: i64,
    pub organization_id: i64,
    pub activity_id: Option<i64>,
    pub series_id: Option<i64>,
    pub purpose: String,
    pub attendance: i32,
    pub starts_at: DateTimeUtc,
    pub ends_at: DateTimeUtc,
    /// `ends_at` plus the venue's buffer: what the booking keeps from others.
    pub blocked_until: DateTimeUtc,
    pub status: String,
    pub requested_by: Option<i64>,
    pub decided_by: Option<i64>,
    pub decided_at: Option<DateTimeUtc>,
    pub decision_reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
