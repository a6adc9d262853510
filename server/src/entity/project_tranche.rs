use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "project_tranches")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub project_id: i64,
    pub seq: i32,
    pub percent: i32,
    pub milestone: String,
    pub on_signing: bool,
    pub amount_fen: i64,
    pub status: String,
    pub due_at: Option<DateTimeUtc>,
    pub paid_at: Option<DateTimeUtc>,
    pub paid_by: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
