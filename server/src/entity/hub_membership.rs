use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "hub_memberships")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub hub_id: i64,
    pub organization_id: i64,
    pub status: String,
    pub message: Option<String>,
    pub requested_by: i64,
    pub requested_at: DateTimeUtc,
    pub decided_by: Option<i64>,
    pub decided_at: Option<DateTimeUtc>,
    pub decision_reason: Option<String>,
    pub left_by: Option<i64>,
    pub left_at: Option<DateTimeUtc>,
    pub left_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
