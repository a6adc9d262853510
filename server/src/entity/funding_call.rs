use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "funding_calls")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub region_id: i64,
    pub entrusted_org_id: Option<i64>,
    pub title: String,
    pub fund: String,
    pub budget_fen: i64,
    pub categories: String,
    pub targets: String,
    pub eligibility: String,
    pub opens_at: DateTimeUtc,
    pub closes_at: DateTimeUtc,
    pub rubric: String,
    pub notice_days: i32,
    pub status: String,
    pub created_by: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub opened_at: Option<DateTimeUtc>,
    pub decided_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
