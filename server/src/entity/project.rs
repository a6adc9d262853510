use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "projects")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub application_id: i64,
    pub call_id: i64,
    pub organization_id: i64,
    pub title: String,
    pub amount_fen: i64,
    pub paid_fen: i64,
    pub status: String,
    pub starts_on: Option<Date>,
    pub ends_on: Option<Date>,
    pub supervisor_id: Option<i64>,
    pub approver_id: i64,
    pub plan: String,
    pub original_plan: String,
    pub reclaim_fen: Option<i64>,
    pub closed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
