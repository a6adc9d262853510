use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "incubation_decisions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub incubatee_id: i64,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub ends_on: Date,
    pub reason: String,
    pub actor_id: i64,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
