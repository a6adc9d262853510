use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "activity_stats")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub activity_id: i64,
    pub organization_id: i64,
    pub community_id: i64,
    pub kind: String,
    pub month: String,
    pub starts_at: DateTimeUtc,
    pub signups: i32,
    pub attended: i32,
    pub no_shows: i32,
    pub minutes: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
