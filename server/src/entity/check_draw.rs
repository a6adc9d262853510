use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "check_draws")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub region_id: i64,
    pub title: String,
    pub seed: String,
    /// The organization ids drawn from, comma-separated, ascending.
    pub population: String,
    /// The inspectors' user ids, comma-separated, ascending.
    pub pool: String,
    pub sample_size: i32,
    pub drawn_by: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
