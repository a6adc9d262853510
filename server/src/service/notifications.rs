//! The in-app inbox: every notice a user is sent is kept here, whether or not WeChat
//! delivers it. A notice's dedupe key makes queuing it twice a no-op.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};

use crate::{
    auth::AuthUser,
    context::AppContext,
    entity::notification,
    error::{AppError, AppResult},
};

/// A notice to one user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub user_id: i64,
    /// `signup_confirmed`, `waitlist_promoted`, `activity_changed`, `activity_cancelled`,
    /// `signup_removed`, …
    pub kind: &'static str,
    pub title: String,
    pub body: String,
    pub activity_id: Option<i64>,
    pub organization_id: Option<i64>,
    /// Unique per notice: the same key is never queued twice.
    pub dedupe_key: String,
    /// When it is due (`None`: now). Reminders are due before the activity starts.
    pub due_at: Option<DateTime<Utc>>,
    /// For reminders: how long before the start, in seconds.
    pub offset_secs: Option<i32>,
}

/// Which subscribe template pushes a kind of notice; `None` stays in the inbox.
pub fn purpose_of(kind: &str) -> Option<&'static str> {
    match kind {
        "reminder" => Some("reminder"),
        "signup_confirmed" | "waitlist_promoted" => Some("signup"),
        "activity_changed" | "activity_cancelled" | "signup_removed" => Some("change"),
        // Work waiting for a committee or street office: the change template says what
        // and since when (`thing1` the item, `time2` when, `thing3` 待您处理).
        "work_waiting" | "work_digest" => Some("change"),
        // A room booking decided or withdrawn, an invitation accepted: the change
        // template (`thing1` what, `time2` when, `thing3` the outcome).
        "booking_approved" | "booking_rejected" | "booking_cancelled" | "invitation_accepted" => Some("change"),
        // Oversight: a report due or decided, a listing, a check assigned or decided.
        "annual_report_due" | "annual_report_result" | "abnormal_listed" | "check_assigned" | "check_result" => {
            Some("change")
        }
        // A hub membership requested or decided, an incubation decision.
        "hub_membership" | "incubation_decision" => Some("change"),
        _ => None,
    }
}

/// Notice states.
pub mod state {
    /// Waiting in the delivery queue (`service::deliveries`), claimed or not.
    pub const PENDING: &str = "pending";
    pub const SENT: &str = "sent";
    pub const INBOX_ONLY: &str = "inbox_only";
    pub const FAILED: &str = "failed";
    pub const CANCELLED: &str = "cancelled";
}

/// The update that withdraws notices: `cancelled`, and the dedupe key set free (suffixed
/// with `~` and the row's id), so dedupe guards against duplicates of *live* notices only
/// — a resident who cancels and signs up again gets their reminders again, exactly once.
pub fn withdraw() -> sea_orm::UpdateMany<notification::Entity> {
    notification::Entity::update_many()
        .col_expr(notification::Column::State, Expr::value(state::CANCELLED))
        .col_expr(notification::Column::DedupeKey, Expr::cust("dedupe_key || '~' || CAST(id AS TEXT)"))
        .filter(notification::Column::State.eq(state::PENDING))
}

/// Cancels reminders not yet sent: for one resident, or (`user_id: None`) for everyone.
pub async fn cancel_reminders(db: &impl ConnectionTrait, activity_id: i64, user_id: Option<i64>) -> AppResult<u64> {
    let mut update = withdraw()
        .filter(notification::Column::ActivityId.eq(activity_id))
        .filter(notification::Column::Kind.eq("reminder"));
    if let Some(user_id) = user_id {
        // The resident's own reminders and their proxies' copies of them.
        update = update.filter(
            sea_orm::Condition::any()
                .add(notification::Column::UserId.eq(user_id))
                .add(notification::Column::OnBehalfOf.eq(user_id)),
        );
    }
    Ok(update.exec(db).await?.rows_affected)
}

/// Notices a user can read: due, and not withdrawn.
fn visible(now: DateTime<Utc>) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(notification::Column::DueAt.lte(now))
        .add(notification::Column::State.ne(state::CANCELLED))
}

/// Withdraws every notice of a user not yet sent (account deletion).
pub async fn withdraw_all(db: &impl ConnectionTrait, user_id: i64) -> AppResult<u64> {
    Ok(withdraw().filter(notification::Column::UserId.eq(user_id)).exec(db).await?.rows_affected)
}

/// Queues notices inside the caller's transaction; a notice whose key is held by a live
/// (not withdrawn) notice is skipped. Each live proxy of a notice's resident gets a copy
/// (`service::proxies::notices`).
pub async fn enqueue(db: &impl ConnectionTrait, notices: Vec<Notice>, now: DateTime<Utc>) -> AppResult<()> {
    // The spec promises clients these kinds only: an unknown one is a bug, refused where
    // every path passes.
    if let Some(n) = notices.iter().find(|n| crate::domain::notification::NotificationKind::parse(n.kind).is_none()) {
        return Err(AppError::Internal(anyhow::anyhow!("notice kind {} is not a NotificationKind", n.kind)));
    }
    let copies = crate::service::proxies::notices::copies(db, &notices).await?;
    let all: Vec<(&Notice, Option<i64>)> =
        notices.iter().map(|n| (n, None)).chain(copies.iter().map(|(n, principal)| (n, Some(*principal)))).collect();
    insert(db, &all, now).await
}

/// Inserts notices as they are (`Some(principal)`: a proxy's copy about them), skipping a
/// key held by a live notice, and queues each one inserted for delivery
/// (`service::deliveries`).
pub(crate) async fn insert(
    db: &impl ConnectionTrait,
    all: &[(&Notice, Option<i64>)],
    now: DateTime<Utc>,
) -> AppResult<()> {
    for chunk in all.chunks(500) {
        let inserted =
            notification::Entity::insert_many(chunk.iter().map(|(n, on_behalf_of)| notification::ActiveModel {
                user_id: Set(n.user_id),
                kind: Set(n.kind.to_owned()),
                title: Set(n.title.clone()),
                body: Set(n.body.clone()),
                activity_id: Set(n.activity_id),
                organization_id: Set(n.organization_id),
                dedupe_key: Set(n.dedupe_key.clone()),
                created_at: Set(now),
                read_at: Set(None),
                state: Set(state::PENDING.to_owned()),
                due_at: Set(Some(n.due_at.unwrap_or(now))),
                attempts: Set(0),
                purpose: Set(purpose_of(n.kind).map(str::to_owned)),
                offset_secs: Set(n.offset_secs),
                on_behalf_of: Set(*on_behalf_of),
                ..Default::default()
            }))
            .on_conflict_do_nothing_on([notification::Column::DedupeKey])
            .exec_with_returning_keys(db)
            .await?;
        if let sea_orm::TryInsertResult::Inserted(ids) = inserted {
            crate::service::deliveries::queue(db, &ids).await?;
        }
    }
    Ok(())
}

/// The user's inbox, newest first.
pub async fn inbox(
    ctx: &AppContext,
    user: &AuthUser,
    unread_only: bool,
    before_id: Option<i64>,
    limit: u64,
) -> AppResult<Vec<notification::Model>> {
    let mut query =
        notification::Entity::find().filter(notification::Column::UserId.eq(user.id)).filter(visible(ctx.now()));
    if unread_only {
        query = query.filter(notification::Column::ReadAt.is_null());
    }
    if let Some(before) = before_id {
        query = query.filter(notification::Column::Id.lt(before));
    }
    Ok(query.order_by_desc(notification::Column::Id).limit(limit + 1).all(&ctx.db).await?)
}

pub async fn unread_count(ctx: &AppContext, user: &AuthUser) -> AppResult<u64> {
    Ok(notification::Entity::find()
        .filter(notification::Column::UserId.eq(user.id))
        .filter(notification::Column::ReadAt.is_null())
        .filter(visible(ctx.now()))
        .count(&ctx.db)
        .await?)
}

/// Marks one notice read (idempotent); another user's notice does not exist.
pub async fn mark_read(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<notification::Model> {
    notification::Entity::update_many()
        .col_expr(notification::Column::ReadAt, Expr::value(ctx.now()))
        .filter(notification::Column::Id.eq(id))
        .filter(notification::Column::UserId.eq(user.id))
        .filter(notification::Column::ReadAt.is_null())
        .filter(visible(ctx.now()))
        .exec(&ctx.db)
        .await?;
    notification::Entity::find_by_id(id)
        .filter(notification::Column::UserId.eq(user.id))
        .filter(visible(ctx.now()))
        .one(&ctx.db)
        .await?
        .ok_or(AppError::NotFound("notification"))
}

pub async fn mark_all_read(ctx: &AppContext, user: &AuthUser) -> AppResult<u64> {
    Ok(notification::Entity::update_many()
        .col_expr(notification::Column::ReadAt, Expr::value(ctx.now()))
        .filter(notification::Column::UserId.eq(user.id))
        .filter(notification::Column::ReadAt.is_null())
        .filter(visible(ctx.now()))
        .exec(&ctx.db)
        .await?
        .rows_affected)
}
