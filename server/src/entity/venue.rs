use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "venues")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub community_id: i64,
    pub entrusted_org_id: Option<i64>,
    pub name: String,
    pub address: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub capacity: i32,
    pub area_m2: Option<f64>,
    pub facilities: String,
    pub accessibility: Option<String>,
    pub photos: String,
    pub slot_minutes: i32,
    pub min_minutes: i32,
    pub max_minutes: i32,
    pub book_ahead_days: i32,
    pub buffer_minutes: i32,
    pub needs_approval: bool,
    pub cancel_cutoff_minutes: i32,
    pub status: String,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
