use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "abnormal_listings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub reason: String,
    pub detail: String,
    pub listed_at: DateTimeUtc,
    pub listed_by: Option<i64>,
    pub cleared_at: Option<DateTimeUtc>,
    pub cleared_by: Option<i64>,
    pub clear_reason: Option<String>,
    /// What caused it: the annual report's id, or the check item's.
    pub source_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
