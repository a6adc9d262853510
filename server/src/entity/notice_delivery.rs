use sea_orm::entity::prelude::*;

/// A notice waiting to be pushed through WeChat: the delivery queue's row, deleted with
/// the push's outcome (see `service::deliveries`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notice_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub notification_id: i64,
    /// When it may next be claimed (UTC): when the notice falls due, after a failed push
    /// the next attempt, while claimed the end of the claim's lease.
    pub due_at: DateTimeUtc,
    /// Pushes tried so far (the claim counts one).
    pub attempts: i32,
    /// A send of the user's quota is held for this push.
    pub quota_reserved: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
