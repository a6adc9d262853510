use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "time_bank_agreements")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub bank_id: i64,
    pub listing_id: i64,
    pub helper_account_id: i64,
    pub helped_account_id: i64,
    /// The user who proposed it (the listing's other party).
    pub proposed_by: i64,
    /// Agreed minutes; the confirmation may state the time actually given.
    pub minutes: i64,
    /// `proposed`, `agreed`, `confirmed`, `cancelled`.
    pub status: String,
    pub transfer_id: Option<i64>,
    /// Who confirmed the time: the helped, or later someone acting for them.
    pub confirmed_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
