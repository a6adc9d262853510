use sea_orm::entity::prelude::*;

/// A sign-in ticket of the web console (扫码登录): shown as a QR code, approved once by a
/// signed-in mini-program, then turned into a session once by the browser that asked.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "console_tickets")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The code in the QR (32 hex characters).
    pub ticket: String,
    /// SHA-256 (hex) of the secret in the asking browser's cookie.
    pub browser_hash: String,
    pub user_agent: String,
    pub ip: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub approved_by: Option<i64>,
    pub approved_at: Option<DateTimeUtc>,
    pub consumed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
