use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "time_bank_transfers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub bank_id: i64,
    pub from_account_id: i64,
    pub to_account_id: i64,
    /// Always positive, in minutes.
    pub minutes: i64,
    /// `exchange`, `activity_credit`, `reversal`.
    pub kind: String,
    pub agreement_id: Option<i64>,
    pub activity_id: Option<i64>,
    /// The transfer this one reverses.
    pub reverses_id: Option<i64>,
    pub reason: Option<String>,
    /// Who caused it (the confirming user, the manager who reversed); `None` when the
    /// closing of an activity did.
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
