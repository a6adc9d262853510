use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "incubation_entries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub incubatee_id: i64,
    pub kind: String,
    pub occurred_on: Date,
    pub title: String,
    pub notes: String,
    pub minutes: Option<i32>,
    pub recorded_by: i64,
    pub recorded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
