use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rating_schemes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub family: String,
    pub version: i32,
    pub region_id: Option<i64>,
    pub name: String,
    pub content: String,
    pub status: String,
    pub based_on: Option<i64>,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub published_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
