use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "check_inspectors")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub region_id: i64,
    pub user_id: i64,
    pub added_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub removed_at: Option<DateTimeUtc>,
    /// `inspectors` (random checks) or `assessors` (ratings).
    pub pool: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
