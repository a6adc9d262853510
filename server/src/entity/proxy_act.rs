use sea_orm::entity::prelude::*;

/// One act on someone's behalf: who (`actor_id`), for whom (`principal_id`), what, when.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "proxy_acts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub principal_id: i64,
    pub actor_id: i64,
    pub act: String,
    pub activity_id: Option<i64>,
    pub link_id: Option<i64>,
    pub detail: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
