//! `/venue-bookings` and `/venue-series`: deciding, reading and cancelling room bookings,
//! and recurring bookings (weekly on chosen weekdays every N weeks until a date).

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    api::{checks::Checker, types::time, venues::BookingResponse},
    auth::AuthUser,
    context::AppContext,
    domain::{
        pagination::{Page, PageQuery, encode_id_cursor},
        venue::{BookingStatus, Span},
    },
    error::{AppError, AppResult, Problem},
    service::{
        self,
        venue_series::{SeriesInput, SeriesView, parse_skip, parse_weekdays},
    },
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(review_queue)
        .service(org_bookings)
        .service(get_booking)
        .service(review_booking)
        .service(cancel_booking)
        .service(request_series)
        .service(get_series)
        .service(review_series)
        .service(cancel_series);
}

const JSON_PROBLEM: &str = "application/problem+json";
const REASON_MSG: &str = "理由须为 1–200 个字符";

// ---- requests ------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingReviewRequest {
    /// `approve` or `reject`.
    #[schema(example = "approve")]
    pub decision: String,
    /// Required to reject, 1–200 characters.
    #[schema(max_length = 200)]
    pub reason: Option<String>,
}

impl BookingReviewRequest {
    /// `(approve, reason)`.
    fn parse(self) -> AppResult<(bool, Option<String>)> {
        let mut c = Checker::default();
        let approve = match self.decision.as_str() {
            "approve" => Some(true),
            "reject" => Some(false),
            _ => {
                c.fail("decision", "unknown_decision", "decision 须为 approve 或 reject");
                None
            }
        };
        let reason = c.text("reason", self.reason, 1, 200, REASON_MSG);
        let approve = c.finish(approve)?.unwrap_or(false);
        Ok((approve, reason))
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingCancelRequest {
    /// At most 200 characters.
    #[schema(max_length = 200)]
    pub reason: Option<String>,
}

impl BookingCancelRequest {
    fn parse(self) -> AppResult<Option<String>> {
        let mut c = Checker::default();
        let reason = c.text("reason", self.reason, 1, 200, REASON_MSG);
        c.finish(reason)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "organization_id": 1, "starts_at": "2026-12-02T19:00:00+08:00", "ends_at": "2026-12-02T21:00:00+08:00",
    "weekdays": [3], "every_weeks": 1, "until": "2026-12-30", "skip_dates": ["2026-12-16"],
    "purpose": "合唱团每周排练", "attendance": 25
}))]
pub struct SeriesRequest {
    /// The organization booking; the caller must be its staff.
    pub organization_id: i64,
    /// The first span: its time of day (Asia/Shanghai) and length repeat, and its date is
    /// the first the series may fall on.
    pub starts_at: DateTime<FixedOffset>,
    pub ends_at: DateTime<FixedOffset>,
    /// The weekdays it falls on, 1 = Monday … 7 = Sunday.
    #[schema(min_items = 1, max_items = 7)]
    pub weekdays: Vec<i64>,
    /// 1 = every week (default), 2 = every other week, … up to 4; counted from the first
    /// date's week.
    #[schema(minimum = 1, maximum = 4)]
    pub every_weeks: Option<i64>,
    /// The last date, inclusive (`YYYY-MM-DD`, Asia/Shanghai).
    #[schema(value_type = String, format = Date, example = "2026-12-30")]
    pub until: String,
    /// Dates left out (holidays), at most 100.
    #[schema(value_type = Option<Vec<String>>)]
    pub skip_dates: Option<Vec<String>>,
    /// 1–200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub purpose: String,
    /// Expected people, at most the room's capacity.
    #[schema(minimum = 1, maximum = 10000)]
    pub attendance: i64,
}

impl SeriesRequest {
    fn parse(self) -> AppResult<SeriesInput> {
        let mut c = Checker::default();
        let purpose = c.text("purpose", Some(self.purpose), 1, 200, "用途须为 1–200 个字符");
        let starts_at = c.time("starts_at", Some(self.starts_at));
        let ends_at = c.time("ends_at", Some(self.ends_at));
        if !(1..=10_000).contains(&self.attendance) {
            c.fail("attendance", "range", "预计人数须在 1 到 10000 之间");
        }
        let mut weekdays: Vec<u8> = Vec::new();
        if self.weekdays.is_empty() {
            c.fail("weekdays", "required", "请至少选择一个星期几");
        }
        for (i, d) in self.weekdays.iter().enumerate() {
            match u8::try_from(*d) {
                Ok(d @ 1..=7) if !weekdays.contains(&(d - 1)) => weekdays.push(d - 1),
                Ok(1..=7) => {}
                _ => c.fail(&format!("weekdays[{i}]"), "range", "星期须为 1–7（1 为星期一）"),
            }
        }
        let every_weeks = self.every_weeks.unwrap_or(1);
        if !(1..=4).contains(&every_weeks) {
            c.fail("every_weeks", "range", "间隔须为 1–4 周");
        }
        let until = c.day("until", Some(self.until));
        let skip_dates = self.skip_dates.unwrap_or_default();
        if skip_dates.len() > 100 {
            c.fail("skip_dates", "too_many", "跳过的日期最多 100 个");
        }
        let skip: Vec<_> = skip_dates
            .into_iter()
            .take(100)
            .enumerate()
            .filter_map(|(i, d)| c.day(&format!("skip_dates[{i}]"), Some(d)))
            .collect();
        let span = match (starts_at, ends_at) {
            (Some(a), Some(b)) => {
                let span = Span::parse(a, b);
                if span.is_none() {
                    c.fail("ends_at", "before_start", "结束时间须晚于开始时间");
                }
                span
            }
            _ => None,
        };
        if let (Some(span), Some(until)) = (&span, until)
            && until < crate::domain::clock::to_shanghai(span.starts_at).date_naive()
        {
            c.fail("until", "before_start", "截止日期不能早于第一次预约的日期");
        }
        let (Some(purpose), Some(first), Some(until)) = (purpose, span, until) else {
            return Err(AppError::Validation(c.errors));
        };
        c.finish(SeriesInput {
            organization_id: self.organization_id,
            first,
            weekdays,
            every_weeks: every_weeks as u32,
            until,
            skip,
            purpose,
            attendance: self.attendance,
        })
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeriesCancelRequest {
    /// Cancel the bookings from this date on (`YYYY-MM-DD`: "this and following"); absent,
    /// every booking not yet begun.
    #[schema(value_type = Option<String>, format = Date)]
    pub from: Option<String>,
    /// At most 200 characters.
    #[schema(max_length = 200)]
    pub reason: Option<String>,
}

// ---- responses -----------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesResponse {
    pub id: i64,
    pub venue_id: i64,
    pub venue_name: String,
    pub organization_id: i64,
    /// 1 = Monday … 7 = Sunday.
    pub weekdays: Vec<i64>,
    pub every_weeks: i32,
    /// The last date, inclusive (Asia/Shanghai).
    #[schema(value_type = String, format = Date)]
    pub until: String,
    #[schema(value_type = Vec<String>)]
    pub skip_dates: Vec<String>,
    pub created_by: Option<i64>,
    pub created_at: DateTime<FixedOffset>,
    /// Every booking of the series, soonest first (cancel one with
    /// `POST /venue-bookings/{id}/cancel`).
    pub bookings: Vec<BookingResponse>,
}

impl From<SeriesView> for SeriesResponse {
    fn from(v: SeriesView) -> Self {
        let s = v.series;
        Self {
            id: s.id,
            venue_id: s.venue_id,
            venue_name: v.venue_name,
            organization_id: s.organization_id,
            weekdays: parse_weekdays(&s.weekdays).into_iter().map(|d| d as i64 + 1).collect(),
            every_weeks: s.every_weeks,
            until: s.until.format("%Y-%m-%d").to_string(),
            skip_dates: parse_skip(&s.skip_dates).into_iter().map(|d| d.format("%Y-%m-%d").to_string()).collect(),
            created_by: s.created_by,
            created_at: time(s.created_at),
            bookings: v.bookings.into_iter().map(Into::into).collect(),
        }
    }
}

// ---- handlers ------------------------------------------------------------------------

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrgBookingsQuery {
    /// Only bookings in this state.
    #[param(value_type = Option<BookingStatus>)]
    pub status: Option<String>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// An organization's room bookings, newest first, in every state (or `status`). Its
/// staff and the officials over it.
#[utoipa::path(get, path = "/api/v1/organizations/{id}/venue-bookings", operation_id = "listOrganizationVenueBookings", tag = "venues",
    params(("id" = i64, Path), OrgBookingsQuery), security(("bearer" = [])),
    responses(
        (status = 200, body = Page<BookingResponse>),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "bad status, limit or cursor"),
    ))]
#[get("/organizations/{id}/venue-bookings")]
pub async fn org_bookings(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    query: web::Query<OrgBookingsQuery>,
) -> AppResult<web::Json<Page<BookingResponse>>> {
    let q = query.into_inner();
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(BookingStatus::parse(s).ok_or_else(|| {
            AppError::invalid("status", "unknown_status", format!("状态须为 {} 之一", BookingStatus::list()))
        })?),
    };
    let page = PageQuery { limit: q.limit, cursor: q.cursor };
    let (limit, before) = (page.limit()?, page.after_id()?);
    let (items, next) = service::venues::bookings_of_org(&ctx, &user, id.into_inner(), status, before, limit).await?;
    Ok(web::Json(Page { items: items.into_iter().map(Into::into).collect(), next_cursor: next.map(encode_id_cursor) }))
}

/// Requested bookings of the venues the caller manages, oldest request first, with the
/// closures that now overlap them. Committees and entrusted leaders.
#[utoipa::path(get, path = "/api/v1/venue-bookings/review-queue", operation_id = "listVenueBookingsToReview", tag = "venues", params(PageQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Page<BookingResponse>),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "neither a committee nor an organization leader"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "bad limit or cursor"),
    ))]
#[get("/venue-bookings/review-queue")]
pub async fn review_queue(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    query: web::Query<PageQuery>,
) -> AppResult<web::Json<Page<BookingResponse>>> {
    let limit = query.limit()?;
    let after = query.after_id()?;
    let (items, next) = service::venues::review_queue(&ctx, &user, after, limit).await?;
    Ok(web::Json(Page { items: items.into_iter().map(Into::into).collect(), next_cursor: next.map(encode_id_cursor) }))
}

/// A booking with its history. Its organization's staff, the venue's managers, and the
/// officials over the venue's community.
#[utoipa::path(get, path = "/api/v1/venue-bookings/{id}", operation_id = "getVenueBooking", tag = "venues", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = BookingResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/venue-bookings/{id}")]
pub async fn get_booking(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<BookingResponse>> {
    Ok(web::Json(service::venues::booking(&ctx, &user, id.into_inner()).await?.into()))
}

/// Approve or reject a requested booking (a rejection needs a reason and frees the span).
/// Approval re-checks the span. The venue's committee or entrusted leader; the
/// requesting staff are told.
#[utoipa::path(post, path = "/api/v1/venue-bookings/{id}/review", operation_id = "reviewVenueBooking", tag = "venues", params(("id" = i64, Path)),
    security(("bearer" = [])), request_body = BookingReviewRequest,
    responses(
        (status = 200, body = BookingResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the venue's committee or entrusted leader"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM,
            description = "`invalid_transition` (not awaiting approval), `venue_closed`, `venue_taken`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM,
            description = "`validation_failed`: unknown decision, a rejection without a reason, or the span has begun (`in_the_past`)"),
    ))]
#[post("/venue-bookings/{id}/review")]
pub async fn review_booking(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<BookingReviewRequest>,
) -> AppResult<web::Json<BookingResponse>> {
    let (approve, reason) = body.into_inner().parse()?;
    Ok(web::Json(service::venues::decide(&ctx, &user, id.into_inner(), approve, reason).await?.into()))
}

/// Cancel a booking: its organization's staff until the venue's cut-off, the venue's
/// managers at any time (the requesting staff are told).
#[utoipa::path(post, path = "/api/v1/venue-bookings/{id}/cancel", operation_id = "cancelVenueBooking", tag = "venues", params(("id" = i64, Path)),
    security(("bearer" = [])), request_body = BookingCancelRequest,
    responses(
        (status = 200, body = BookingResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM,
            description = "`invalid_transition` (rejected or cancelled already), `cancellation_closed`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "`validation_failed`"),
    ))]
#[post("/venue-bookings/{id}/cancel")]
pub async fn cancel_booking(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: Option<web::Json<BookingCancelRequest>>,
) -> AppResult<web::Json<BookingResponse>> {
    let reason = body.map(|b| b.into_inner()).unwrap_or_default().parse()?;
    Ok(web::Json(service::venues::cancel(&ctx, &user, id.into_inner(), reason).await?.into()))
}

/// Request a recurring booking: the first span repeated weekly on the chosen weekdays
/// every N weeks until a date, without the skipped dates. Its organization's staff. All or
/// nothing: one date that cannot be had refuses the series, listing every such date.
#[utoipa::path(post, path = "/api/v1/venues/{id}/booking-series", operation_id = "requestVenueBookingSeries", tag = "venues", params(("id" = i64, Path)),
    security(("bearer" = [])), request_body = SeriesRequest,
    responses(
        (status = 201, body = SeriesResponse, description = "every booking `requested`, or `approved` when the venue needs no approval"),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the organization's staff"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM, description = "no such venue or organization"),
        (status = 409, body = Problem, content_type = JSON_PROBLEM,
            description = "`series_refused`: `errors` lists each date that cannot be had (`field`: the date; `code`: `venue_taken`, `outside_opening_hours`, `venue_closed`, `too_far_ahead`, `in_the_past`, …); `venue_closed` (retired), `organization_not_active`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM,
            description = "`validation_failed`: the first span, weekdays, `every_weeks`, dates; `no_dates` (no date falls in the pattern), `too_many_dates` (more than 200)"),
    ))]
#[post("/venues/{id}/booking-series")]
pub async fn request_series(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<SeriesRequest>,
) -> AppResult<HttpResponse> {
    let input = body.into_inner().parse()?;
    let view = service::venue_series::request(&ctx, &user, id.into_inner(), input).await?;
    Ok(HttpResponse::Created().json(SeriesResponse::from(view)))
}

/// A recurring booking with its bookings. Its organization's staff, the venue's managers,
/// and the officials over the venue's community.
#[utoipa::path(get, path = "/api/v1/venue-series/{id}", operation_id = "getVenueBookingSeries", tag = "venues", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = SeriesResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/venue-series/{id}")]
pub async fn get_series(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<SeriesResponse>> {
    Ok(web::Json(service::venue_series::series(&ctx, &user, id.into_inner()).await?.into()))
}

/// Approve or reject every booking of a series still awaiting a decision, at once. The
/// venue's committee or entrusted leader; the requesting staff are told once.
#[utoipa::path(post, path = "/api/v1/venue-series/{id}/review", operation_id = "reviewVenueBookingSeries", tag = "venues", params(("id" = i64, Path)),
    security(("bearer" = [])), request_body = BookingReviewRequest,
    responses(
        (status = 200, body = SeriesResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the venue's committee or entrusted leader"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM,
            description = "`invalid_transition` (nothing awaits a decision), `series_refused` (a closure now covers some dates: `errors` lists them)"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "`validation_failed`: unknown decision, or a rejection without a reason"),
    ))]
#[post("/venue-series/{id}/review")]
pub async fn review_series(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<BookingReviewRequest>,
) -> AppResult<web::Json<SeriesResponse>> {
    let (approve, reason) = body.into_inner().parse()?;
    Ok(web::Json(service::venue_series::decide(&ctx, &user, id.into_inner(), approve, reason).await?.into()))
}

/// Cancel a recurring booking: every booking not yet begun, or those from a date on
/// ("this and following"; one date alone: cancel that booking). Its organization's staff
/// until the venue's cut-off, the venue's managers at any time.
#[utoipa::path(post, path = "/api/v1/venue-series/{id}/cancel", operation_id = "cancelVenueBookingSeries", tag = "venues", params(("id" = i64, Path)),
    security(("bearer" = [])), request_body = SeriesCancelRequest,
    responses(
        (status = 200, body = SeriesResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM,
            description = "`invalid_transition` (nothing left to cancel), `cancellation_closed` (names the booking inside the cut-off)"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "`validation_failed`"),
    ))]
#[post("/venue-series/{id}/cancel")]
pub async fn cancel_series(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: Option<web::Json<SeriesCancelRequest>>,
) -> AppResult<web::Json<SeriesResponse>> {
    let body = body.map(|b| b.into_inner()).unwrap_or_default();
    let mut c = Checker::default();
    let from = c.day("from", body.from);
    let reason = c.text("reason", body.reason, 1, 200, REASON_MSG);
    c.finish(())?;
    Ok(web::Json(service::venue_series::cancel(&ctx, &user, id.into_inner(), from, reason).await?.into()))
}
