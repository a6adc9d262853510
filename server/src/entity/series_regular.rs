use sea_orm::entity::prelude::*;

/// A resident's standing as a regular of a series.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "series_regulars")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub series_id: i64,
    pub user_id: i64,
    pub status: String,
    /// Paused until this date (inclusive, Asia/Shanghai).
    pub paused_until: Option<Date>,
    pub reason: Option<String>,
    pub decided_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
