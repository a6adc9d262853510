use sea_orm::entity::prelude::*;

/// `proxy_id` may act for `principal_id`: authorised by `authorised_by` through
/// `authorisation` (`in_person`, `signed_form`, `principal_confirmed`), live until revoked.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "proxy_links")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub principal_id: i64,
    pub proxy_id: i64,
    pub authorisation: String,
    pub authorised_by: i64,
    pub note: Option<String>,
    pub created_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    pub revoked_by: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
