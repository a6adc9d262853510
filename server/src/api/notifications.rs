//! `/me/notifications`: the in-app inbox.

use actix_web::{get, post, web};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    api::types::time,
    auth::AuthUser,
    context::AppContext,
    domain::{
        notification::NotificationKind,
        pagination::{PageQuery, page_by_id},
    },
    entity::notification,
    error::{AppResult, Problem},
    service,
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(read_all).service(list).service(read_one);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationResponse {
    pub id: i64,
    /// `reminder`, `signup_confirmed`, `waitlist_promoted`, `activity_changed`,
    /// `activity_cancelled`, `signup_removed`, `filing_result`, …
    #[schema(value_type = NotificationKind)]
    pub kind: String,
    pub title: String,
    pub body: String,
    pub activity_id: Option<i64>,
    pub organization_id: Option<i64>,
    pub created_at: DateTime<FixedOffset>,
    pub read_at: Option<DateTime<FixedOffset>>,
}

impl From<notification::Model> for NotificationResponse {
    fn from(n: notification::Model) -> Self {
        Self {
            id: n.id,
            kind: n.kind,
            title: n.title,
            body: n.body,
            activity_id: n.activity_id,
            organization_id: n.organization_id,
            created_at: time(n.created_at),
            read_at: n.read_at.map(time),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Inbox {
    pub items: Vec<NotificationResponse>,
    pub next_cursor: Option<String>,
    /// Unread notices in the whole inbox.
    pub unread_count: u64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// Only unread notices.
    pub unread: Option<bool>,
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

/// The inbox, newest first, with the unread count.
#[utoipa::path(get, path = "/api/v1/me/notifications", operation_id = "listMyNotifications", tag = "me", params(InboxQuery), security(("bearer" = [])),
    responses(
        (status = 200, body = Inbox),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/me/notifications")]
pub async fn list(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    query: web::Query<InboxQuery>,
) -> AppResult<web::Json<Inbox>> {
    let query = query.into_inner();
    let page = PageQuery { cursor: query.cursor, limit: query.limit };
    let limit = page.limit()?;
    let rows =
        service::notifications::inbox(&ctx, &user, query.unread.unwrap_or(false), page.after_id()?, limit).await?;
    let page = page_by_id(rows, limit, |n| n.id, NotificationResponse::from);
    let unread_count = service::notifications::unread_count(&ctx, &user).await?;
    Ok(web::Json(Inbox { items: page.items, next_cursor: page.next_cursor, unread_count }))
}

/// Mark one notice read (idempotent).
#[utoipa::path(post, path = "/api/v1/me/notifications/{id}/read", operation_id = "markNotificationRead", tag = "me", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = NotificationResponse),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/me/notifications/{id}/read")]
pub async fn read_one(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<NotificationResponse>> {
    Ok(web::Json(service::notifications::mark_read(&ctx, &user, id.into_inner()).await?.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadAll {
    pub updated: u64,
}

/// Mark every notice read.
#[utoipa::path(post, path = "/api/v1/me/notifications/read-all", operation_id = "markAllNotificationsRead", tag = "me", security(("bearer" = [])),
    responses(
        (status = 200, body = ReadAll),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/me/notifications/read-all")]
pub async fn read_all(ctx: web::Data<AppContext>, user: AuthUser) -> AppResult<web::Json<ReadAll>> {
    Ok(web::Json(ReadAll { updated: service::notifications::mark_all_read(&ctx, &user).await? }))
}
