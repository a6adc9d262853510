use sea_orm::entity::prelude::*;

/// A resident without WeChat, registered by their committee: the person is an ordinary
/// `users` row (no openid; the name in `nickname`), this row says so and holds the rest.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "offline_residents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    pub community_id: i64,
    pub year_of_birth: Option<i32>,
    /// Shown whole to the committee only; masked to everyone else.
    pub contact_phone: Option<String>,
    /// SHA-256 (hex) of the check-in card's code; `None` once revoked.
    pub card_hash: Option<String>,
    pub card_issued_at: Option<DateTimeUtc>,
    pub registered_by: i64,
    pub created_at: DateTimeUtc,
    /// When the person signed in with WeChat and the committee linked the account.
    pub claimed_at: Option<DateTimeUtc>,
    pub claimed_by: Option<i64>,
    /// The WeChat account retired by the claim (its openid moved here).
    pub claimed_account: Option<i64>,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
