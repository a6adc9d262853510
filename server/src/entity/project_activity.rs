use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "project_activities")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub project_id: i64,
    pub activity_id: i64,
    pub tagged_by: i64,
    pub tagged_at: DateTimeUtc,
    pub excluded: bool,
    pub exclude_reason: Option<String>,
    pub excluded_by: Option<i64>,
    pub excluded_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
