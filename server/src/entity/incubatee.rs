use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "incubatees")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub base_id: i64,
    pub name: String,
    pub category: String,
    pub community_id: i64,
    pub contact_user_id: i64,
    pub description: String,
    pub status: String,
    pub admitted_on: Date,
    pub ends_on: Date,
    pub organization_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
