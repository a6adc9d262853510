use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "organizations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub category: String,
    pub community_id: i64,
    pub description: String,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub logo_url: Option<String>,
    pub founded_on: Option<Date>,
    pub standing: String,
    pub credit_code: Option<String>,
    pub status: String,
    pub has_party_organization: bool,
    pub applicant_id: Option<i64>,
    pub filed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
