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
}

/// Queues notices inside the caller's transaction; duplicates are skipped.
pub async fn enqueue(db: &impl ConnectionTrait, notices: Vec<Notice>, now: DateTime<Utc>) -> AppResult<()> {
    for chunk in notices.chunks(500) {
        notification::Entity::insert_many(chunk.iter().map(|n| notification::ActiveModel {
            user_id: Set(n.user_id),
            kind: Set(n.kind.to_owned()),
            title: Set(n.title.clone()),
            body: Set(n.body.clone()),
            activity_id: Set(n.activity_id),
            organization_id: Set(n.organization_id),
            dedupe_key: Set(n.dedupe_key.clone()),
            created_at: Set(now),
            read_at: Set(None),
            ..Default::default()
        }))
        .on_conflict_do_nothing_on([notification::Column::DedupeKey])
        .exec_without_returning(db)
        .await?;
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
    let mut query = notification::Entity::find().filter(notification::Column::UserId.eq(user.id));
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
        .exec(&ctx.db)
        .await?;
    notification::Entity::find_by_id(id)
        .filter(notification::Column::UserId.eq(user.id))
        .one(&ctx.db)
        .await?
        .ok_or(AppError::NotFound("notification"))
}

pub async fn mark_all_read(ctx: &AppContext, user: &AuthUser) -> AppResult<u64> {
    Ok(notification::Entity::update_many()
        .col_expr(notification::Column::ReadAt, Expr::value(ctx.now()))
        .filter(notification::Column::UserId.eq(user.id))
        .filter(notification::Column::ReadAt.is_null())
        .exec(&ctx.db)
        .await?
        .rows_affected)
}
