use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "time_bank_listings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub bank_id: i64,
    /// The member who posted it.
    pub account_id: i64,
    /// `offer` (I can help) or `request` (I need help).
    pub kind: String,
    pub category: String,
    pub title: String,
    pub description: String,
    /// The time it is expected to take, in minutes.
    pub minutes: i64,
    /// `open` or `closed`.
    pub status: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
