use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "venue_hours")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub venue_id: i64,
    /// 0 = Monday … 6 = Sunday.
    pub weekday: i16,
    /// Minutes after midnight, Asia/Shanghai.
    pub opens_minute: i32,
    pub closes_minute: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
