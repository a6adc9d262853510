use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "incubation_mentors")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub incubatee_id: i64,
    pub user_id: i64,
    pub note: Option<String>,
    pub assigned_by: i64,
    pub assigned_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
