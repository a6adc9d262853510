//! Calendars: `POST /me/calendar` and `DELETE /me/calendar` (the resident's private feed
//! URL, made, rotated and removed) and `GET /calendar/{token}.ics` (the feed itself, for a
//! calendar app: no `Authorization` header, the token in the URL is the key).

use actix_web::{HttpRequest, HttpResponse, delete, get, http::header, post, web};
use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    api::types::time,
    auth::AuthUser,
    context::AppContext,
    domain::calendar::REFRESH_INTERVAL,
    error::{AppResult, Problem},
    service,
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(create).service(remove).service(feed);
}

const JSON_PROBLEM: &str = "application/problem+json";

#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarFeedResponse {
    /// The feed's address (built from the host the request came to): subscribe to it in
    /// a calendar app. Shown only now; whoever has it reads the feed, so it is shared with
    /// nobody — rotate it (`POST /me/calendar` again) if it was.
    #[schema(example = "https://linli.example.cn/api/v1/calendar/3f9c…e1.ics")]
    pub url: String,
    /// The same address as `webcal://`, which phones open straight in their calendar.
    pub webcal_url: String,
    /// The same address as a path on this API's host.
    pub path: String,
    /// How often calendar apps are asked to fetch it again (ISO 8601 duration).
    #[schema(example = "PT1H")]
    pub refresh_interval: String,
    pub created_at: DateTime<FixedOffset>,
}

/// Make the caller's private calendar feed, or rotate it: a new address, and the old one
/// answers 404 from now on. The feed holds the caller's confirmed, checked-in and
/// waitlisted activities (cancelled ones marked so), nothing about anyone else.
#[utoipa::path(post, path = "/api/v1/me/calendar", operation_id = "rotateMyCalendar", tag = "calendar",
    security(("bearer" = [])),
    responses(
        (status = 201, body = CalendarFeedResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/me/calendar")]
pub async fn create(ctx: web::Data<AppContext>, user: AuthUser, req: HttpRequest) -> AppResult<HttpResponse> {
    let link = service::calendar::rotate(&ctx, &user).await?;
    let info = req.connection_info();
    let url = format!("{}://{}{}", info.scheme(), info.host(), link.path);
    let webcal_url = format!("webcal://{}{}", info.host(), link.path);
    Ok(HttpResponse::Created().json(CalendarFeedResponse {
        url,
        webcal_url,
        path: link.path,
        refresh_interval: REFRESH_INTERVAL.to_owned(),
        created_at: time(link.created_at),
    }))
}

/// Remove the caller's calendar feed: its address answers 404 from now on. Removing none
/// is no error.
#[utoipa::path(delete, path = "/api/v1/me/calendar", operation_id = "deleteMyCalendar", tag = "calendar",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "removed"),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[delete("/me/calendar")]
pub async fn remove(ctx: web::Data<AppContext>, user: AuthUser) -> AppResult<HttpResponse> {
    service::calendar::remove(&ctx, &user).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A resident's calendar feed (iCalendar, RFC 5545), for calendar apps: one event per
/// activity (UID stable per activity and resident, `SEQUENCE` from the activity's version,
/// `STATUS:CANCELLED` once cancelled, `TENTATIVE` while waitlisted), times in UTC,
/// `REFRESH-INTERVAL` one hour. No `Authorization` header: the token is the key. An
/// unknown, rotated or removed token is 404.
#[utoipa::path(get, path = "/api/v1/calendar/{token}.ics", operation_id = "getCalendarFeed", tag = "calendar",
    params(("token" = String, Path, description = "the feed's token, from `POST /me/calendar`")),
    security(()),
    responses(
        (status = 200, content_type = "text/calendar", body = String, description = "an iCalendar document"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM, description = "no feed has this token"),
    ))]
#[get("/calendar/{token}.ics")]
pub async fn feed(ctx: web::Data<AppContext>, token: web::Path<String>) -> AppResult<HttpResponse> {
    let text = service::calendar::render(&ctx, &token).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "private, max-age=300"))
        .body(text))
}
