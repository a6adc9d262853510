use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "time_bank_accounts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub bank_id: i64,
    /// The member; `None` for the bank's own account.
    pub user_id: Option<i64>,
    /// `requested`, `active`, `rejected` (the bank's own account is `active`).
    pub status: String,
    /// Minutes; only ever changed by a conditional update in a transfer's transaction.
    pub balance: i64,
    pub reviewed_by: Option<i64>,
    pub review_reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
