//! `/activity-series`: recurring activities (each date an ordinary activity) and their
//! regular volunteers.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    api::{
        activities::{CreateActivityRequest, UpdateActivityRequest},
        checks::Checker,
        types::time,
    },
    auth::{AuthUser, MaybeAuthUser},
    context::AppContext,
    domain::{
        activity::{ActivityKind, ActivityStatus},
        recurrence::{End, Pattern, Recurrence, weekday_of_number},
        series::{DEFAULT_HORIZON_WEEKS, RegularStatus, SeriesStatus},
    },
    entity::activity_series,
    error::{AppError, AppResult, Problem},
    service::{
        self,
        series::{
            SeriesInput, SeriesView,
            edit::{Scope, SeriesPatch},
            regulars::RegularView,
        },
    },
};

const JSON_PROBLEM: &str = "application/problem+json";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(get_one)
        .service(edit)
        .service(cancel)
        .service(ask)
        .service(list_regulars)
        .service(pause)
        .service(resume)
        .service(leave)
        .service(decide)
        .service(remove);
}

// ---- requests ------------------------------------------------------------------------

/// How often: `weekly` on `weekdays` every `interval` weeks, or `monthly` every `interval`
/// months on `month_day` or on the `nth` `weekday` (−1: the last). Ends on `until`
/// (inclusive) or after `count` dates, or never (dates are made on the horizon).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"frequency": "weekly", "weekdays": [6], "interval": 1, "until": "2027-03-27", "skip_dates": ["2027-02-13"]}))]
pub struct RecurrenceRequest {
    /// `weekly` or `monthly`.
    pub frequency: String,
    /// Every 1–4 weeks or 1–12 months; default 1.
    #[schema(minimum = 1, maximum = 12)]
    pub interval: Option<i64>,
    /// Weekly: 1 = Monday … 7 = Sunday. Monthly with `nth`: one weekday.
    pub weekdays: Option<Vec<i64>>,
    /// Monthly: the date of the month (1–31; months without it are passed over).
    #[schema(minimum = 1, maximum = 31)]
    pub month_day: Option<i64>,
    /// Monthly: the n-th weekday of the month (1–4, or −1 for the last).
    #[schema(minimum = -1, maximum = 4)]
    pub nth: Option<i64>,
    /// The last date (`YYYY-MM-DD`, Asia/Shanghai, inclusive).
    #[schema(value_type = Option<String>, format = Date)]
    pub until: Option<String>,
    /// How many dates (1–500), skipped dates included as RFC 5545 `EXDATE`.
    #[schema(minimum = 1, maximum = 500)]
    pub count: Option<i64>,
    /// Dates left out (`YYYY-MM-DD`), at most 100.
    #[schema(value_type = Option<Vec<String>>)]
    pub skip_dates: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSeriesRequest {
    /// The template, as for `POST /organizations/{id}/activities`: its `starts_at`,
    /// `ends_at` and `signup_deadline` are the first date's, and every date keeps their
    /// local time of day, length and deadline before the start.
    pub activity: CreateActivityRequest,
    pub recurrence: RecurrenceRequest,
    /// How many weeks ahead dates are made (1–26, default 8).
    #[schema(minimum = 1, maximum = 26)]
    pub horizon_weeks: Option<i32>,
    /// Residents who ask to be regulars are accepted at once (default false).
    pub auto_accept_regulars: Option<bool>,
}

impl RecurrenceRequest {
    fn parse(self, c: &mut Checker, first: Option<NaiveDate>) -> Option<(Recurrence, Vec<NaiveDate>)> {
        let interval = self.interval.unwrap_or(1);
        let weekdays: Vec<_> = self
            .weekdays
            .unwrap_or_default()
            .iter()
            .enumerate()
            .filter_map(|(i, d)| {
                let w = u8::try_from(*d).ok().and_then(weekday_of_number);
                if w.is_none() {
                    c.fail(&format!("recurrence.weekdays[{i}]"), "range", "星期须为 1–7（1 为星期一）");
                }
                w
            })
            .collect();
        let pattern = match (self.frequency.as_str(), self.month_day, self.nth) {
            ("weekly", None, None) => Some(Pattern::Weekly { weekdays }),
            ("monthly", Some(d), None) if weekdays.is_empty() => Some(Pattern::MonthDay(d.clamp(0, 99) as u8)),
            ("monthly", None, Some(n)) if weekdays.len() == 1 => {
                Some(Pattern::NthWeekday { nth: n.clamp(-9, 9) as i8, weekday: weekdays[0] })
            }
            ("weekly" | "monthly", ..) => {
                c.fail(
                    "recurrence",
                    "pattern",
                    "每周须给出星期几；每月须给出日期（month_day），或第几个（nth）加一个星期几",
                );
                None
            }
            _ => {
                c.fail("recurrence.frequency", "unknown", "重复方式须为 weekly 或 monthly");
                None
            }
        };
        let until = c.day("recurrence.until", self.until);
        let end = match (until, self.count) {
            (Some(_), Some(_)) => {
                c.fail("recurrence.count", "both", "截止日期和次数只能给一个");
                None
            }
            (Some(d), None) => Some(End::Until(d)),
            (None, Some(n)) => Some(End::Count(u32::try_from(n).unwrap_or(0))),
            (None, None) => Some(End::Never),
        };
        let skip_dates = self.skip_dates.unwrap_or_default();
        if skip_dates.len() > 100 {
            c.fail("recurrence.skip_dates", "too_many", "跳过的日期最多 100 个");
        }
        let skip: Vec<_> = skip_dates
            .into_iter()
            .take(100)
            .enumerate()
            .filter_map(|(i, d)| c.day(&format!("recurrence.skip_dates[{i}]"), Some(d)))
            .collect();
        let (pattern, end, first) = (pattern?, end?, first?);
        match Recurrence::parse(pattern, u16::try_from(interval).unwrap_or(0), end, first) {
            Ok(r) => Some((r, skip)),
            Err(e) => {
                let (field, code, message) = e.field_code_message();
                c.fail(field, code, message);
                None
            }
        }
    }
}

impl CreateSeriesRequest {
    fn parse(self, ctx: &AppContext) -> AppResult<SeriesInput> {
        let mut c = Checker::default();
        let first = Some(self.activity.starts_at.with_timezone(&crate::domain::clock::shanghai()).date_naive());
        let rule = self.recurrence.parse(&mut c, first);
        let activity = match self.activity.parse(ctx.now(), ctx.config.activity_horizon) {
            Ok(a) => Some(a),
            Err(AppError::Validation(errors)) => {
                c.errors.extend(errors.into_iter().map(|mut e| {
                    e.field = format!("activity.{}", e.field);
                    e
                }));
                None
            }
            Err(other) => return Err(other),
        };
        let (Some(activity), Some((recurrence, skip))) = (activity, rule) else {
            return Err(AppError::Validation(c.errors));
        };
        c.finish(SeriesInput {
            activity,
            recurrence,
            skip,
            horizon_weeks: self.horizon_weeks.unwrap_or(DEFAULT_HORIZON_WEEKS),
            auto_accept: self.auto_accept_regulars.unwrap_or(false),
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"scope": "following", "from": "2027-01-09", "start_time": "09:30", "changes": {"capacity": 12}}))]
pub struct EditSeriesRequest {
    /// `all` (every date not begun) or `following` (the dates from `from` on); the
    /// template changes either way. One date alone: `PATCH /activities/{id}`.
    pub scope: String,
    /// With `following`: the first local date reached (`YYYY-MM-DD`).
    #[schema(value_type = Option<String>, format = Date)]
    pub from: Option<String>,
    /// Fields as for `PATCH /activities/{id}`, without `starts_at`, `ends_at` and
    /// `signup_deadline` (use `start_time` and `duration_minutes`).
    pub changes: Option<UpdateActivityRequest>,
    /// Each date's new start, local time of day (`HH:MM`, Asia/Shanghai).
    pub start_time: Option<String>,
    /// Each date's new length, 15 minutes to 7 days.
    #[schema(minimum = 15, maximum = 10080)]
    pub duration_minutes: Option<i32>,
}

impl EditSeriesRequest {
    fn parse(self) -> AppResult<(Scope, SeriesPatch)> {
        let mut c = Checker::default();
        let from = c.day("from", self.from);
        let scope = match (self.scope.as_str(), from) {
            ("all", _) => Some(Scope::All),
            ("following", Some(d)) => Some(Scope::Following(d)),
            ("following", None) => {
                c.fail("from", "required", "“此次及以后”须给出开始的日期");
                None
            }
            _ => {
                c.fail("scope", "unknown", "范围须为 all 或 following");
                None
            }
        };
        let start_time = self.start_time.and_then(|t| {
            let parsed = chrono::NaiveTime::parse_from_str(&t, "%H:%M").ok();
            if parsed.is_none() {
                c.fail("start_time", "invalid", "时间格式须为 HH:MM");
            }
            parsed
        });
        if self.duration_minutes.is_some_and(|d| !(15..=10_080).contains(&d)) {
            c.fail("duration_minutes", "range", "时长须在 15 分钟到 7 天之间");
        }
        let changes = self.changes.unwrap_or_default();
        if changes.starts_at.is_some() || changes.ends_at.is_some() || changes.signup_deadline.is_some() {
            c.fail("changes", "times", "系列的时间用 start_time 和 duration_minutes 修改");
        }
        let fields = match changes.parse() {
            Ok(f) => Some(f),
            Err(AppError::Validation(errors)) => {
                c.errors.extend(errors.into_iter().map(|mut e| {
                    e.field = format!("changes.{}", e.field);
                    e
                }));
                None
            }
            Err(other) => return Err(other),
        };
        let (Some(scope), Some(fields)) = (scope, fields) else {
            return Err(AppError::Validation(c.errors));
        };
        c.finish((scope, SeriesPatch { fields, start_time, duration_minutes: self.duration_minutes }))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelSeriesRequest {
    /// Cancel the dates from this local date on (`YYYY-MM-DD`, "this and following"; the
    /// series then ends the day before); absent, every date not begun and the series itself.
    #[schema(value_type = Option<String>, format = Date)]
    pub from: Option<String>,
    /// 1–200 characters, told to everyone signed up.
    #[schema(min_length = 1, max_length = 200)]
    pub reason: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseRequest {
    /// Paused until this local date, inclusive (`YYYY-MM-DD`); absent, until resumed.
    #[schema(value_type = Option<String>, format = Date)]
    pub until: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegularDecisionRequest {
    /// `accept` or `decline`.
    pub decision: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveRegularRequest {
    /// 1–200 characters, told to the resident.
    #[schema(min_length = 1, max_length = 200)]
    pub reason: String,
}

// ---- responses -----------------------------------------------------------------------

/// One date of a series: an ordinary activity (`GET /activities/{id}`).
#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesDateResponse {
    pub activity_id: i64,
    pub starts_at: DateTime<FixedOffset>,
    pub ends_at: DateTime<FixedOffset>,
    pub status: ActivityStatus,
    pub places_left: i32,
    pub waitlist_length: i32,
}

/// The caller's standing as a regular.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegularResponse {
    pub series_id: i64,
    pub user_id: i64,
    pub nickname: Option<String>,
    /// `requested`, `active`, `paused`, `declined`, `left`, `removed`.
    pub status: RegularStatus,
    /// Paused until this local date (inclusive).
    #[schema(value_type = Option<String>, format = Date)]
    pub paused_until: Option<NaiveDate>,
    /// Why staff removed them, or why they were paused.
    pub reason: Option<String>,
    pub since: DateTime<FixedOffset>,
}

impl From<RegularView> for RegularResponse {
    fn from(v: RegularView) -> Self {
        let r = v.regular;
        Self {
            series_id: r.series_id,
            user_id: r.user_id,
            nickname: v.nickname,
            status: RegularStatus::parse(&r.status).unwrap_or(RegularStatus::Left),
            paused_until: r.paused_until,
            reason: r.reason,
            since: time(r.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActivitySeriesResponse {
    pub id: i64,
    pub organization_id: i64,
    pub community_id: i64,
    pub venue_id: Option<i64>,
    /// The room bookings of every date (`GET /venue-series/{id}`), with a room.
    pub venue_series_id: Option<i64>,
    /// `active`, `ended`, `cancelled`.
    pub status: SeriesStatus,
    pub cancel_reason: Option<String>,
    pub kind: ActivityKind,
    pub title: String,
    pub description: String,
    pub location: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub capacity: i32,
    pub waitlist_enabled: bool,
    pub service_hours: f64,
    /// Each date's length, minutes.
    pub duration_minutes: i32,
    /// Sign-ups close this many minutes before each date's start.
    pub signup_deadline_minutes: i32,
    pub cancel_cutoff_minutes: i32,
    /// The RFC 5545 `RRULE` (from the first date, in Asia/Shanghai).
    pub rrule: String,
    pub first_starts_at: DateTime<FixedOffset>,
    #[schema(value_type = Vec<String>)]
    pub skip_dates: Vec<String>,
    pub horizon_weeks: i32,
    pub auto_accept_regulars: bool,
    pub regulars_active: u64,
    /// Bumped by each change to the whole series.
    pub version: i32,
    /// Dates not yet over, soonest first (drafts, held and cancelled ones for its staff only).
    pub dates: Vec<SeriesDateResponse>,
    /// The caller's standing as a regular, when signed in and asked.
    pub my_regular: Option<RegularResponse>,
}

impl From<SeriesView> for ActivitySeriesResponse {
    fn from(v: SeriesView) -> Self {
        let mut out = ActivitySeriesResponse::summary(v.series);
        out.regulars_active = v.regulars_active;
        out.dates = v
            .dates
            .into_iter()
            .map(|d| {
                let a = d.activity;
                SeriesDateResponse {
                    activity_id: a.id,
                    starts_at: time(a.starts_at),
                    ends_at: time(a.ends_at),
                    status: ActivityStatus::parse(&a.status).unwrap_or(ActivityStatus::Draft),
                    places_left: (a.capacity - a.confirmed_count).max(0),
                    waitlist_length: a.waitlist_count,
                }
            })
            .collect();
        out.my_regular = v.my_regular.map(|regular| RegularView { regular, nickname: None }.into());
        out
    }
}

impl ActivitySeriesResponse {
    fn summary(s: activity_series::Model) -> Self {
        Self {
            id: s.id,
            organization_id: s.organization_id,
            community_id: s.community_id,
            venue_id: s.venue_id,
            venue_series_id: s.venue_series_id,
            status: SeriesStatus::parse(&s.status).unwrap_or(SeriesStatus::Cancelled),
            cancel_reason: s.cancel_reason,
            kind: ActivityKind::parse(&s.kind).unwrap_or(ActivityKind::Other),
            title: s.title,
            description: s.description,
            location: s.location,
            latitude: s.latitude,
            longitude: s.longitude,
            capacity: s.capacity,
            waitlist_enabled: s.waitlist_enabled,
            service_hours: (s.service_minutes as f64 / 60.0 * 100.0).round() / 100.0,
            duration_minutes: s.duration_minutes,
            signup_deadline_minutes: s.deadline_minutes,
            cancel_cutoff_minutes: s.cancel_cutoff_minutes,
            rrule: s.rrule,
            first_starts_at: time(s.first_starts_at),
            skip_dates: s.skip_dates.split(',').filter(|d| !d.is_empty()).map(str::to_owned).collect(),
            horizon_weeks: s.horizon_weeks,
            auto_accept_regulars: s.auto_accept,
            regulars_active: 0,
            version: s.version,
            dates: Vec::new(),
            my_regular: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesList {
    pub items: Vec<ActivitySeriesResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegularList {
    pub items: Vec<RegularResponse>,
}

// ---- handlers ------------------------------------------------------------------------

/// Posts a recurring activity: the template and its rule. The dates within the horizon
/// are made at once and published (through the template's content check and, in a room,
/// its bookings: every date of the series is booked, all or nothing); the hourly job makes
/// the rest as they enter the horizon.
#[utoipa::path(post, path = "/api/v1/organizations/{id}/activity-series", operation_id = "createActivitySeries", tag = "activities",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = CreateSeriesRequest,
    responses(
        (status = 201, body = ActivitySeriesResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the organization's staff"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM,
            description = "`organization_not_active`, `venue_closed`, `series_refused` (its `errors` list each date the room cannot be had)"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM,
            description = "`validation_failed` (fields under `activity.` and `recurrence.`; `recurrence` `first_not_on_rule`, `room_needs_end`), `content_risky`"),
    ))]
#[post("/organizations/{id}/activity-series")]
pub async fn create(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<CreateSeriesRequest>,
) -> AppResult<HttpResponse> {
    let input = body.into_inner().parse(&ctx)?;
    let view = service::series::create(&ctx, &user, id.into_inner(), input).await?;
    Ok(HttpResponse::Created().json(ActivitySeriesResponse::from(view)))
}

/// An organization's series, newest first (cancelled ones for its staff only).
#[utoipa::path(get, path = "/api/v1/organizations/{id}/activity-series", operation_id = "listActivitySeries", tag = "activities",
    params(("id" = i64, Path)), security((), ("bearer" = [])),
    responses((status = 200, body = SeriesList)))]
#[get("/organizations/{id}/activity-series")]
pub async fn list(
    ctx: web::Data<AppContext>,
    user: MaybeAuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<SeriesList>> {
    let rows = service::series::list(&ctx, user.0.as_ref(), id.into_inner()).await?;
    Ok(web::Json(SeriesList { items: rows.into_iter().map(ActivitySeriesResponse::summary).collect() }))
}

/// A series with its dates not yet over and the caller's standing as a regular.
#[utoipa::path(get, path = "/api/v1/activity-series/{id}", operation_id = "getActivitySeries", tag = "activities",
    params(("id" = i64, Path)), security((), ("bearer" = [])),
    responses(
        (status = 200, body = ActivitySeriesResponse),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/activity-series/{id}")]
pub async fn get_one(
    ctx: web::Data<AppContext>,
    user: MaybeAuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<ActivitySeriesResponse>> {
    Ok(web::Json(service::series::view(&ctx, user.0.as_ref(), id.into_inner()).await?.into()))
}

/// Changes the series: every date not begun (`all`) or the dates from a local date on
/// (`following`), and the template later dates copy. Dates edited on their own keep their
/// values. Each date changes as `PATCH /activities/{id}` changes it: residents of a date
/// that moves or changes place are told; more places promote from the waitlist.
#[utoipa::path(patch, path = "/api/v1/activity-series/{id}", operation_id = "updateActivitySeries", tag = "activities",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = EditSeriesRequest,
    responses(
        (status = 200, body = ActivitySeriesResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the organization's staff"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM,
            description = "`invalid_transition` (cancelled or ended), `series_refused` (its `errors` list each date the change cannot apply to), `venue_taken`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "`validation_failed`, `content_risky`"),
    ))]
#[patch("/activity-series/{id}")]
pub async fn edit(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<EditSeriesRequest>,
) -> AppResult<web::Json<ActivitySeriesResponse>> {
    let (scope, patch) = body.into_inner().parse()?;
    Ok(web::Json(service::series::edit::edit(&ctx, &user, id.into_inner(), scope, patch).await?.into()))
}

/// Cancels the dates not yet begun (all, and the series; or from a date on), each the
/// usual way: residents told why, reminders withdrawn, room bookings given back. One date
/// alone: `POST /activities/{id}/cancel`.
#[utoipa::path(post, path = "/api/v1/activity-series/{id}/cancel", operation_id = "cancelActivitySeries", tag = "activities",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = CancelSeriesRequest,
    responses(
        (status = 200, body = ActivitySeriesResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the organization's staff"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`invalid_transition`: cancelled or ended already"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "`validation_failed`"),
    ))]
#[post("/activity-series/{id}/cancel")]
pub async fn cancel(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<CancelSeriesRequest>,
) -> AppResult<web::Json<ActivitySeriesResponse>> {
    let body = body.into_inner();
    let mut c = Checker::default();
    let reason = c.text("reason", Some(body.reason), 1, 200, "理由须为 1–200 个字符");
    let from = c.day("from", body.from.clone());
    if body.from.is_some() && from.is_none() && c.errors.is_empty() {
        c.fail("from", "invalid", "日期格式须为 YYYY-MM-DD");
    }
    let Some(reason) = reason else { return Err(AppError::Validation(c.errors)) };
    let reason = c.finish(reason)?;
    Ok(web::Json(service::series::cancel(&ctx, &user, id.into_inner(), from, reason).await?.into()))
}

/// A resident asks to be a regular: `active` at once when the series auto-accepts (and
/// signed up to its open dates), else `requested`. Asking again answers the standing.
#[utoipa::path(post, path = "/api/v1/activity-series/{id}/regulars", operation_id = "askToBeRegular", tag = "activities",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = RegularResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`series_closed`, `regular_removed`"),
    ))]
#[post("/activity-series/{id}/regulars")]
pub async fn ask(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<RegularResponse>> {
    Ok(web::Json(service::series::regulars::ask(&ctx, &user, id.into_inner()).await?.into()))
}

/// The series' regulars and requests, for its organization's staff.
#[utoipa::path(get, path = "/api/v1/activity-series/{id}/regulars", operation_id = "listRegulars", tag = "activities",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = RegularList),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the organization's staff"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/activity-series/{id}/regulars")]
pub async fn list_regulars(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<RegularList>> {
    let rows = service::series::regulars::list(&ctx, &user, id.into_inner()).await?;
    Ok(web::Json(RegularList { items: rows.into_iter().map(Into::into).collect() }))
}

/// The regular pauses (until a date, or until they resume); their automatic places on the
/// paused dates are given up outside each date's cut-off.
#[utoipa::path(post, path = "/api/v1/activity-series/{id}/regulars/me/pause", operation_id = "pauseRegular", tag = "activities",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = PauseRequest,
    responses(
        (status = 200, body = RegularResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`not_a_regular`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "`validation_failed`: `until` in the past"),
    ))]
#[post("/activity-series/{id}/regulars/me/pause")]
pub async fn pause(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: Option<web::Json<PauseRequest>>,
) -> AppResult<web::Json<RegularResponse>> {
    let body = body.map(web::Json::into_inner).unwrap_or_default();
    let mut c = Checker::default();
    let until = c.day("until", body.until);
    let until = c.finish(until)?;
    Ok(web::Json(service::series::regulars::pause(&ctx, &user, id.into_inner(), until).await?.into()))
}

/// A paused regular is active again and signed up to the open dates.
#[utoipa::path(post, path = "/api/v1/activity-series/{id}/regulars/me/resume", operation_id = "resumeRegular", tag = "activities",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = RegularResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`not_a_regular`"),
    ))]
#[post("/activity-series/{id}/regulars/me/resume")]
pub async fn resume(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<RegularResponse>> {
    Ok(web::Json(service::series::regulars::resume(&ctx, &user, id.into_inner()).await?.into()))
}

/// The regular leaves; their automatic places on dates not begun are given up.
#[utoipa::path(delete, path = "/api/v1/activity-series/{id}/regulars/me", operation_id = "leaveSeries", tag = "activities",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 204),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`not_a_regular`"),
    ))]
#[delete("/activity-series/{id}/regulars/me")]
pub async fn leave(ctx: web::Data<AppContext>, user: AuthUser, id: web::Path<i64>) -> AppResult<HttpResponse> {
    service::series::regulars::leave(&ctx, &user, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The organization's staff accept or decline a request to be a regular; the resident is told.
#[utoipa::path(post, path = "/api/v1/activity-series/{id}/regulars/{user_id}/decision", operation_id = "decideRegular", tag = "activities",
    params(("id" = i64, Path), ("user_id" = i64, Path)), security(("bearer" = [])), request_body = RegularDecisionRequest,
    responses(
        (status = 200, body = RegularResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the organization's staff"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`invalid_transition`: not a request"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "`validation_failed`: unknown decision"),
    ))]
#[post("/activity-series/{id}/regulars/{user_id}/decision")]
pub async fn decide(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<(i64, i64)>,
    body: web::Json<RegularDecisionRequest>,
) -> AppResult<web::Json<RegularResponse>> {
    let accept = match body.decision.as_str() {
        "accept" => true,
        "decline" => false,
        _ => return Err(AppError::invalid("decision", "unknown_decision", "决定须为 accept 或 decline")),
    };
    let (id, member) = path.into_inner();
    Ok(web::Json(service::series::regulars::decide(&ctx, &user, id, member, accept).await?.into()))
}

/// The organization's staff remove a regular (or a request) with a reason, which the
/// resident is told; their automatic places are given up.
#[utoipa::path(post, path = "/api/v1/activity-series/{id}/regulars/{user_id}/remove", operation_id = "removeRegular", tag = "activities",
    params(("id" = i64, Path), ("user_id" = i64, Path)), security(("bearer" = [])), request_body = RemoveRegularRequest,
    responses(
        (status = 200, body = RegularResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the organization's staff"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`not_a_regular`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "`validation_failed`: no reason"),
    ))]
#[post("/activity-series/{id}/regulars/{user_id}/remove")]
pub async fn remove(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<(i64, i64)>,
    body: web::Json<RemoveRegularRequest>,
) -> AppResult<web::Json<RegularResponse>> {
    let mut c = Checker::default();
    let reason = c.text("reason", Some(body.into_inner().reason), 1, 200, "理由须为 1–200 个字符");
    let Some(reason) = reason else { return Err(AppError::Validation(c.errors)) };
    let (id, member) = path.into_inner();
    Ok(web::Json(service::series::regulars::remove(&ctx, &user, id, member, reason).await?.into()))
}
