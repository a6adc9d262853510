use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub activity_id: Option<i64>,
    pub organization_id: Option<i64>,
    pub dedupe_key: String,
    pub created_at: DateTimeUtc,
    pub read_at: Option<DateTimeUtc>,
    /// `pending` (queued in `notice_deliveries`), `sent`, `inbox_only`, `failed`,
    /// `cancelled`.
    pub state: String,
    pub due_at: Option<DateTimeUtc>,
    /// Pushes tried, written with the outcome.
    pub attempts: i32,
    /// Which subscribe template pushes it: `reminder`, `signup`, `change`; none: inbox only.
    pub purpose: Option<String>,
    pub offset_secs: Option<i32>,
    pub msgid: Option<String>,
    pub sent_at: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    /// On a proxy's copy of a notice: the principal it is about.
    pub on_behalf_of: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
