use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "check_items")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub draw_id: i64,
    pub organization_id: i64,
    /// The two inspectors' user ids, comma-separated.
    pub inspectors: String,
    pub status: String,
    pub result: Option<String>,
    pub findings: Option<String>,
    pub recorded_by: Option<i64>,
    pub recorded_at: Option<DateTimeUtc>,
    pub rectification: Option<String>,
    pub answered_by: Option<i64>,
    pub answered_at: Option<DateTimeUtc>,
    pub rectified: Option<bool>,
    pub closed_by: Option<i64>,
    pub closed_at: Option<DateTimeUtc>,
    pub close_comment: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
