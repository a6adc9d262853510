use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invitations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Ten characters of `domain::invitation::ALPHABET`, unique.
    pub code: String,
    pub role: String,
    pub scope_id: Option<i64>,
    pub note: Option<String>,
    pub created_by: i64,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    pub accepted_by: Option<i64>,
    pub accepted_at: Option<DateTimeUtc>,
    /// The grant it made.
    pub grant_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
