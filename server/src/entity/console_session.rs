use sea_orm::entity::prelude::*;

/// A web console session (控制台会话): its cookie's token is stored only as SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "console_sessions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub token_hash: String,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
    pub user_id: i64,
    /// The user's token version when signed in: logout everywhere bumps it, ending this.
    pub token_version: i32,
    /// SHA-256 of the user's grants when signed in: a role change ends the session.
    pub grants_digest: String,
    pub user_agent: String,
    pub ip: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
