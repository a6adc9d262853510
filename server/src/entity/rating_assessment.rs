use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rating_assessments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub scheme_id: i64,
    pub panel: String,
    pub status: String,
    pub eligibility: String,
    pub total_tenths: Option<i64>,
    pub grade: Option<String>,
    pub breakdown: Option<String>,
    pub notice_from: Option<DateTimeUtc>,
    pub notice_until: Option<DateTimeUtc>,
    pub appeal_reason: Option<String>,
    pub appealed_by: Option<i64>,
    pub appealed_at: Option<DateTimeUtc>,
    pub appeal_answer: Option<String>,
    pub awarded_at: Option<DateTimeUtc>,
    pub valid_until: Option<Date>,
    pub superseded_by: Option<i64>,
    pub created_by: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
