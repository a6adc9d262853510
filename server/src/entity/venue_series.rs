use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "venue_series")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub venue_id: i64,
    pub organization_id: i64,
    pub weekdays: String,
    pub every_weeks: i32,
    pub until: Date,
    pub skip_dates: String,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
