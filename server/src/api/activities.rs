//! `/activities`: posting and managing activities, browsing them, signing up, rosters.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    api::{checks::Checker, types::time},
    auth::{AuthUser, MaybeAuthUser},
    context::AppContext,
    domain::{
        activity::{ActivityKind, ActivityStatus, Capacity, DEFAULT_CANCEL_CUTOFF_MINUTES, SignupStatus, TimeWindow},
        calendar::{PhoneCalendar, phone_calendar},
        organization::ServiceTarget,
        pagination::{Page, PageQuery},
    },
    entity::signup,
    error::{AppError, AppResult, Problem},
    service::{
        self,
        activities::{
            ActivityFilter, ActivityInput, ActivityPatch, ActivityView, MySignup, RosterEntry, split_targets,
            window_error,
        },
        geo::Cursor,
    },
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(create)
        .service(browse)
        .service(get_one)
        .service(update)
        .service(publish)
        .service(moderation)
        .service(cancel)
        .service(sign_up)
        .service(cancel_signup)
        .service(roster)
        .service(remove_signup)
        .service(my_signups);
}

// ---- requests ------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "kind": "volunteer", "title": "重阳节为独居老人包饺子", "description": "上门陪伴老人包饺子、聊天。",
    "location": "金塔巷社区活动室", "latitude": 36.0627, "longitude": 103.8221,
    "starts_at": "2026-12-20T09:30:00+08:00", "ends_at": "2026-12-20T11:30:00+08:00",
    "capacity": 20, "target_groups": ["elderly"]
}))]
pub struct CreateActivityRequest {
    /// `volunteer`, `mutual_aid`, `culture_sports`, `training`, `charity`, `other`.
    #[schema(value_type = ActivityKind)]
    pub kind: String,
    /// 1–60 characters.
    #[schema(min_length = 1, max_length = 60)]
    pub title: String,
    /// At most 2000 characters.
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// The place, 1–100 characters; default with `venue_id`: the room's name and address.
    #[schema(min_length = 1, max_length = 100)]
    pub location: Option<String>,
    #[schema(minimum = -90, maximum = 90)]
    pub latitude: Option<f64>,
    #[schema(minimum = -180, maximum = 180)]
    pub longitude: Option<f64>,
    /// In the future.
    pub starts_at: DateTime<FixedOffset>,
    /// After the start, at most 7 days later.
    pub ends_at: DateTime<FixedOffset>,
    /// Default: the start; not after it.
    pub signup_deadline: Option<DateTime<FixedOffset>>,
    /// 1–10,000 places.
    #[schema(minimum = 1, maximum = 10000)]
    pub capacity: i64,
    /// Default true: when full, sign-ups join a waitlist.
    pub waitlist_enabled: Option<bool>,
    /// Hours credited to attendees; default the duration; at most the duration.
    #[schema(minimum = 0, maximum = 168)]
    pub service_hours: Option<f64>,
    /// Service targets, as for organizations.
    #[schema(value_type = Option<Vec<ServiceTarget>>)]
    pub target_groups: Option<Vec<String>>,
    #[schema(min_length = 1, max_length = 200)]
    pub age_note: Option<String>,
    #[schema(min_length = 1, max_length = 200)]
    pub skill_note: Option<String>,
    /// Confirmed residents may cancel until this many minutes before the start (default 120).
    #[schema(minimum = 0, maximum = 10080)]
    pub cancel_cutoff_minutes: Option<i32>,
    /// Default: the organization's community. Another community must be in the same
    /// street or township (422 `outside_street`).
    pub community_id: Option<i64>,
    /// A shared room (`GET /venues`) of the organization's street: publishing needs an
    /// approved booking covering the activity's time (one is requested when there is none,
    /// and the activity waits `held` until it is approved); capacity at most the room's.
    pub venue_id: Option<i64>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateActivityRequest {
    #[schema(value_type = Option<ActivityKind>)]
    pub kind: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub location: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub starts_at: Option<DateTime<FixedOffset>>,
    pub ends_at: Option<DateTime<FixedOffset>>,
    pub signup_deadline: Option<DateTime<FixedOffset>>,
    /// Not below the number already confirmed; more places promote from the waitlist.
    pub capacity: Option<i64>,
    pub waitlist_enabled: Option<bool>,
    pub service_hours: Option<f64>,
    #[schema(value_type = Option<Vec<ServiceTarget>>)]
    pub target_groups: Option<Vec<String>>,
    pub age_note: Option<String>,
    pub skill_note: Option<String>,
    pub cancel_cutoff_minutes: Option<i32>,
}

impl Checker {
    fn kind(&mut self, value: Option<String>) -> Option<ActivityKind> {
        let value = value?;
        let parsed = ActivityKind::parse(&value);
        if parsed.is_none() {
            self.fail("kind", "unknown_kind", &format!("活动类型须为 {} 之一", ActivityKind::list()));
        }
        parsed
    }

    fn capacity(&mut self, value: Option<i64>) -> Option<Capacity> {
        let value = value?;
        let parsed = Capacity::parse(value);
        if parsed.is_none() {
            self.fail("capacity", "range", "名额须在 1 到 10000 之间");
        }
        parsed
    }

    fn hours(&mut self, value: Option<f64>) -> Option<i32> {
        let value = value?;
        if value.is_finite() && (0.0..=168.0).contains(&value) {
            Some((value * 60.0).round() as i32)
        } else {
            self.fail("service_hours", "range", "服务时长须在 0 到 168 小时之间");
            None
        }
    }
}

const TITLE_MSG: &str = "标题须为 1–60 个字符";
const LOCATION_MSG: &str = "地点须为 1–100 个字符";
const NOTE_MSG: &str = "说明不超过 200 个字符";

impl CreateActivityRequest {
    pub(crate) fn parse(self, now: DateTime<Utc>, horizon: chrono::Duration) -> AppResult<ActivityInput> {
        let mut c = Checker::default();
        let kind = c.kind(Some(self.kind));
        let title = c.text("title", Some(self.title), 1, 60, TITLE_MSG);
        let description =
            c.text("description", self.description, 0, 2000, "简介不超过 2000 个字符").unwrap_or_default();
        let location = c.text("location", self.location, 1, 100, LOCATION_MSG);
        let at = c.location(self.latitude, self.longitude);
        let capacity = c.capacity(Some(self.capacity));
        let service_minutes = c.hours(self.service_hours);
        let target_groups = c.targets("target_groups", self.target_groups).unwrap_or_default();
        let age_note = c.text("age_note", self.age_note, 1, 200, NOTE_MSG);
        let skill_note = c.text("skill_note", self.skill_note, 1, 200, NOTE_MSG);
        let cutoff = c.cancel_cutoff(self.cancel_cutoff_minutes);
        let starts_at = c.time("starts_at", Some(self.starts_at));
        let ends_at = c.time("ends_at", Some(self.ends_at));
        let deadline_given = self.signup_deadline.is_some();
        let signup_deadline = c.time("signup_deadline", self.signup_deadline);
        let window = match (starts_at, ends_at) {
            (Some(starts_at), Some(ends_at)) if signup_deadline.is_some() || !deadline_given => {
                match TimeWindow::parse(starts_at, ends_at, signup_deadline, now, horizon) {
                    Ok(w) => Some(w),
                    Err(e) => {
                        if let AppError::Validation(errors) = window_error(e) {
                            c.errors.extend(errors);
                        }
                        None
                    }
                }
            }
            _ => None,
        };
        if location.is_none() && self.venue_id.is_none() && !c.errors.iter().any(|e| e.field == "location") {
            c.fail("location", "required", "请填写地点或选择场地");
        }
        let (Some(kind), Some(title), Some(capacity), Some(window)) = (kind, title, capacity, window) else {
            return Err(AppError::Validation(c.errors));
        };
        c.finish(ActivityInput {
            kind,
            title,
            description,
            location,
            at,
            window,
            capacity,
            waitlist_enabled: self.waitlist_enabled.unwrap_or(true),
            service_minutes,
            target_groups,
            age_note,
            skill_note,
            cancel_cutoff_minutes: cutoff.unwrap_or(DEFAULT_CANCEL_CUTOFF_MINUTES),
            community_id: self.community_id,
            venue_id: self.venue_id,
        })
    }
}

impl UpdateActivityRequest {
    pub(crate) fn parse(self) -> AppResult<ActivityPatch> {
        let mut c = Checker::default();
        let patch = ActivityPatch {
            kind: c.kind(self.kind),
            title: c.text("title", self.title, 1, 60, TITLE_MSG),
            description: c.text("description", self.description, 0, 2000, "简介不超过 2000 个字符"),
            location: c.text("location", self.location, 1, 100, LOCATION_MSG),
            at: c.location(self.latitude, self.longitude),
            starts_at: c.time("starts_at", self.starts_at),
            ends_at: c.time("ends_at", self.ends_at),
            signup_deadline: c.time("signup_deadline", self.signup_deadline),
            capacity: c.capacity(self.capacity),
            waitlist_enabled: self.waitlist_enabled,
            service_minutes: c.hours(self.service_hours),
            target_groups: c.targets("target_groups", self.target_groups),
            age_note: c.text("age_note", self.age_note, 1, 200, NOTE_MSG),
            skill_note: c.text("skill_note", self.skill_note, 1, 200, NOTE_MSG),
            cancel_cutoff_minutes: c.cancel_cutoff(self.cancel_cutoff_minutes),
            series_verdict: None,
        };
        c.finish(patch)
    }
}

// ---- responses -----------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct SignupResponse {
    pub activity_id: i64,
    pub user_id: i64,
    /// `confirmed`, `waitlisted`, `cancelled`, `removed`, `attended`, `no_show`.
    pub status: SignupStatus,
    /// 1-based place in the queue, when waitlisted.
    pub waitlist_position: Option<i64>,
    /// Why a sign-up was waitlisted although places were free (repeated no-shows).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub note: Option<String>,
    pub created_at: DateTime<FixedOffset>,
    pub updated_at: DateTime<FixedOffset>,
}

pub(crate) fn signup_response(s: signup::Model, waitlist_position: Option<i64>) -> SignupResponse {
    SignupResponse {
        activity_id: s.activity_id,
        user_id: s.user_id,
        status: service::activities::signup_status(&s),
        waitlist_position,
        note: None,
        created_at: time(s.created_at),
        updated_at: time(s.updated_at),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityResponse {
    pub id: i64,
    pub organization_id: i64,
    pub organization_name: String,
    pub community_id: i64,
    pub kind: ActivityKind,
    pub title: String,
    pub description: String,
    pub location: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub starts_at: DateTime<FixedOffset>,
    pub ends_at: DateTime<FixedOffset>,
    pub signup_deadline: DateTime<FixedOffset>,
    pub cancel_cutoff_minutes: i32,
    pub capacity: i32,
    pub waitlist_enabled: bool,
    pub service_hours: f64,
    #[schema(value_type = Vec<ServiceTarget>)]
    pub target_groups: Vec<String>,
    pub age_note: Option<String>,
    pub skill_note: Option<String>,
    /// `draft`, `published`, `cancelled`, `finished`.
    pub status: ActivityStatus,
    pub cancel_reason: Option<String>,
    pub places_left: i32,
    pub waitlist_length: i32,
    /// Bumped on each change of time or place.
    pub version: i32,
    /// Metres from `lat`/`lng`, when given.
    pub distance_m: Option<f64>,
    /// The caller's own sign-up, when signed in and signed up.
    pub my_signup: Option<SignupResponse>,
    /// The shared room it is held in, when it names one.
    pub venue: Option<ActivityVenue>,
    pub published_at: Option<DateTime<FixedOffset>>,
    /// What the mini-program passes to `wx.addPhoneCalendar` to put it in the phone's
    /// calendar (`start_time` → `startTime`, …).
    pub phone_calendar: PhoneCalendarResponse,
    /// Closing it pays its attendees who are time-bank members their credited minutes from
    /// the bank (`POST /activities/{id}/time-bank`).
    pub time_bank_credited: bool,
    /// The series this date belongs to (`GET /activity-series/{id}`), when it is one.
    pub series_id: Option<i64>,
}

/// The arguments of `wx.addPhoneCalendar`, snake_cased: `title`, `startTime`, `endTime`,
/// `location`, `description`, `alarm`, `alarmOffset`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PhoneCalendarResponse {
    pub title: String,
    /// The start, Unix seconds.
    pub start_time: i64,
    /// The end, Unix seconds.
    pub end_time: i64,
    pub location: String,
    /// The activity's description and who holds it.
    pub description: String,
    /// Whether the phone should remind: always true.
    pub alarm: bool,
    /// How long before the start it reminds, in seconds (3600).
    pub alarm_offset: i64,
}

impl From<PhoneCalendar> for PhoneCalendarResponse {
    fn from(p: PhoneCalendar) -> Self {
        Self {
            title: p.title,
            start_time: p.start_time,
            end_time: p.end_time,
            location: p.location,
            description: p.description,
            alarm: true,
            alarm_offset: p.alarm_offset,
        }
    }
}

impl From<ActivityView> for ActivityResponse {
    fn from(v: ActivityView) -> Self {
        let a = v.activity;
        let phone = phone_calendar(&a.title, &a.description, &v.organization_name, &a.location, a.starts_at, a.ends_at);
        Self {
            phone_calendar: phone.into(),
            time_bank_credited: a.time_bank_credited,
            series_id: a.series_id,
            id: a.id,
            organization_id: a.organization_id,
            organization_name: v.organization_name,
            community_id: a.community_id,
            kind: ActivityKind::parse(&a.kind).unwrap_or(ActivityKind::Other),
            status: ActivityStatus::parse(&a.status).unwrap_or(ActivityStatus::Draft),
            title: a.title,
            description: a.description,
            location: a.location,
            latitude: a.latitude,
            longitude: a.longitude,
            starts_at: time(a.starts_at),
            ends_at: time(a.ends_at),
            signup_deadline: time(a.signup_deadline),
            cancel_cutoff_minutes: a.cancel_cutoff_minutes,
            capacity: a.capacity,
            waitlist_enabled: a.waitlist_enabled,
            service_hours: (a.service_minutes as f64 / 60.0 * 100.0).round() / 100.0,
            target_groups: split_targets(&a.target_groups),
            age_note: a.age_note,
            skill_note: a.skill_note,
            cancel_reason: a.cancel_reason,
            places_left: (a.capacity - a.confirmed_count).max(0),
            waitlist_length: a.waitlist_count,
            version: a.version,
            distance_m: v.distance_m.map(|d| d.round()),
            my_signup: v.my_signup.map(|(s, p)| signup_response(s, p)),
            venue: v.venue.map(|r| ActivityVenue {
                id: r.id,
                name: r.name,
                address: r.address,
                accessibility: r.accessibility,
            }),
            published_at: a.published_at.map(time),
        }
    }
}

/// The room an activity is held in.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityVenue {
    pub id: i64,
    pub name: String,
    pub address: String,
    /// Steps, lifts, toilets, hearing loops.
    pub accessibility: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RosterEntryResponse {
    pub user_id: i64,
    pub nickname: Option<String>,
    pub status: SignupStatus,
    pub waitlist_position: Option<i64>,
    /// Why staff removed the sign-up.
    pub reason: Option<String>,
    /// A regular's place, taken automatically for a date of its series.
    pub regular: bool,
    pub signed_up_at: DateTime<FixedOffset>,
}

impl From<RosterEntry> for RosterEntryResponse {
    fn from(e: RosterEntry) -> Self {
        Self {
            user_id: e.signup.user_id,
            nickname: e.nickname,
            status: service::activities::signup_status(&e.signup),
            waitlist_position: e.waitlist_position,
            reason: e.signup.reason,
            regular: e.signup.regular,
            signed_up_at: time(e.signup.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MySignupResponse {
    #[serde(flatten)]
    pub signup: SignupResponse,
    pub activity: ActivityResponse,
}

impl From<MySignup> for MySignupResponse {
    fn from(m: MySignup) -> Self {
        Self {
            signup: signup_response(m.signup, m.waitlist_position),
            activity: ActivityView {
                activity: m.activity,
                organization_name: m.organization_name,
                my_signup: None,
                is_staff: false,
                distance_m: None,
                venue: None,
            }
            .into(),
        }
    }
}

// ---- handlers ------------------------------------------------------------------------

/// Post an activity (a draft) for an organization. Its staff only.
#[utoipa::path(post, path = "/api/v1/organizations/{id}/activities", operation_id = "createActivity", tag = "activities", params(("id" = i64, Path)),
    security(("bearer" = [])), request_body = CreateActivityRequest,
    responses(
        (status = 201, body = ActivityResponse, description = "a draft"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "not its staff"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "`organization_not_active`"),
        (status = 422, body = Problem, content_type = "application/problem+json",
            description = "`validation_failed`, or `content_risky`: WeChat's text check refused the text"),
    ))]
#[post("/organizations/{id}/activities")]
pub async fn create(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<CreateActivityRequest>,
) -> AppResult<HttpResponse> {
    let input = body.into_inner().parse(ctx.now(), ctx.config.activity_horizon)?;
    let view = service::activities::create(&ctx, &user, id.into_inner(), input).await?;
    Ok(HttpResponse::Created().json(ActivityResponse::from(view)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivityQuery {
    /// A region: activities held anywhere in its subtree.
    pub region_id: Option<i64>,
    pub organization_id: Option<i64>,
    #[param(value_type = Option<ActivityKind>)]
    pub kind: Option<String>,
    /// Starting at or after (default: now).
    pub from: Option<DateTime<FixedOffset>>,
    /// Starting before.
    pub to: Option<DateTime<FixedOffset>>,
    /// With `lng`: nearest first.
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

/// Browse published activities: upcoming, soonest first, or nearest first with `lat`/`lng`.
#[utoipa::path(get, path = "/api/v1/activities", operation_id = "listActivities", tag = "activities", params(ActivityQuery),
    responses(
        (status = 200, body = Page<ActivityResponse>),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "no such region"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/activities")]
pub async fn browse(
    ctx: web::Data<AppContext>,
    query: web::Query<ActivityQuery>,
) -> AppResult<web::Json<Page<ActivityResponse>>> {
    let query = query.into_inner();
    let limit = PageQuery { cursor: None, limit: query.limit }.limit()?;
    let mut c = Checker::default();
    let kind = c.kind(query.kind);
    let near = c.location(query.lat, query.lng);
    let from = c.time("from", query.from);
    let to = c.time("to", query.to);
    if let (Some(from), Some(to)) = (from, to)
        && to <= from
    {
        c.fail("to", "before_from", "to 须晚于 from");
    }
    let cursor = match &query.cursor {
        None => None,
        Some(raw) => match Cursor::decode(raw) {
            Some(cur @ Cursor::Near(..)) if near.is_some() => Some(cur),
            Some(cur @ Cursor::Time(..)) if near.is_none() => Some(cur),
            _ => {
                c.fail("cursor", "invalid", "cursor 无效，请从第一页重新开始");
                None
            }
        },
    };
    let filter = c.finish(ActivityFilter {
        region_id: query.region_id,
        organization_id: query.organization_id,
        kind,
        from,
        to,
        near,
    })?;
    let (items, next) = service::activities::browse(&ctx, &filter, cursor, limit).await?;
    Ok(web::Json(Page { items: items.into_iter().map(Into::into).collect(), next_cursor: next.map(Cursor::encode) }))
}

/// One activity, with the caller's own sign-up when signed in. Drafts exist only for
/// the organization's staff.
#[utoipa::path(get, path = "/api/v1/activities/{id}", operation_id = "getActivity", tag = "activities", params(("id" = i64, Path)),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = ActivityResponse),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/activities/{id}")]
pub async fn get_one(
    ctx: web::Data<AppContext>,
    user: MaybeAuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<ActivityResponse>> {
    Ok(web::Json(service::activities::detail(&ctx, user.0.as_ref(), id.into_inner()).await?.into()))
}

/// Edit an activity. On a published one, a change of time or place is told to everyone
/// signed up; more places promote from the waitlist.
#[utoipa::path(patch, path = "/api/v1/activities/{id}", operation_id = "updateActivity", tag = "activities", params(("id" = i64, Path)),
    security(("bearer" = [])), request_body = UpdateActivityRequest,
    responses(
        (status = 200, body = ActivityResponse),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json",
            description = "`activity_closed`, `capacity_below_confirmed`"),
        (status = 422, body = Problem, content_type = "application/problem+json",
            description = "`validation_failed`, or `content_risky`: WeChat's text check refused the new text (a text WeChat wants a person to read holds a published activity: `held`)"),
    ))]
#[patch("/activities/{id}")]
pub async fn update(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<UpdateActivityRequest>,
) -> AppResult<web::Json<ActivityResponse>> {
    let patch = body.into_inner().parse()?;
    Ok(web::Json(service::activities::update(&ctx, &user, id.into_inner(), patch).await?.into()))
}

/// Publish a draft: residents can see it and sign up. Its text passes WeChat's content
/// check first; a text WeChat wants a person to read waits (`held`) for the committee.
#[utoipa::path(post, path = "/api/v1/activities/{id}/publish", operation_id = "publishActivity", tag = "activities", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = ActivityResponse),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json",
            description = "`invalid_transition`, `activity_started`, `organization_not_active`"),
        (status = 422, body = Problem, content_type = "application/problem+json",
            description = "`content_risky`: WeChat's content check refused the text"),
    ))]
#[post("/activities/{id}/publish")]
pub async fn publish(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<ActivityResponse>> {
    Ok(web::Json(service::activities::publish(&ctx, &user, id.into_inner()).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModerationRequest {
    /// `approve` publishes it; `reject` sends it back to draft, telling its author why.
    pub decision: crate::api::organizations::Decision,
    /// Required when rejecting.
    pub comment: Option<String>,
}

/// The committee over the activity's community clears or rejects an activity that
/// WeChat's content check held for review.
#[utoipa::path(post, path = "/api/v1/activities/{id}/moderation", operation_id = "moderateActivity", tag = "activities", params(("id" = i64, Path)),
    security(("bearer" = [])), request_body = ModerationRequest,
    responses(
        (status = 200, body = ActivityResponse),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "not held"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/activities/{id}/moderation")]
pub async fn moderation(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<ModerationRequest>,
) -> AppResult<web::Json<ActivityResponse>> {
    let body = body.into_inner();
    let approve = matches!(body.decision, crate::api::organizations::Decision::Approve);
    let comment = match body.comment {
        Some(c) => Some(reason(&c)?),
        None if !approve => return Err(AppError::invalid("comment", "required", "驳回时须说明理由")),
        None => None,
    };
    Ok(web::Json(service::activities::review_held(&ctx, &user, id.into_inner(), approve, comment).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Told to everyone signed up; 1–500 characters.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

fn reason(value: &str) -> AppResult<String> {
    crate::domain::text::bounded(value, 1, 500)
        .map_err(|_| AppError::invalid("reason", "required", "须说明理由（1–500 个字符）"))
}

/// Cancel an activity; everyone signed up (confirmed or waitlisted) is told why.
#[utoipa::path(post, path = "/api/v1/activities/{id}/cancel", operation_id = "cancelActivity", tag = "activities", params(("id" = i64, Path)),
    security(("bearer" = [])), request_body = CancelRequest,
    responses(
        (status = 200, body = ActivityResponse),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "`invalid_transition`"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/activities/{id}/cancel")]
pub async fn cancel(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<CancelRequest>,
) -> AppResult<web::Json<ActivityResponse>> {
    let why = reason(&body.reason)?;
    Ok(web::Json(service::activities::cancel(&ctx, &user, id.into_inner(), why).await?.into()))
}

/// Sign up: `confirmed` while places last, then `waitlisted` with a position. Repeating
/// it returns the same sign-up (200).
#[utoipa::path(post, path = "/api/v1/activities/{id}/signups", operation_id = "signUp", tag = "activities", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 201, body = SignupResponse, description = "signed up"),
        (status = 200, body = SignupResponse, description = "already signed up"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json",
            description = "`signup_closed`, `activity_full`, `activity_cancelled`, `activity_finished`, `schedule_conflict`, `signup_removed`"),
    ))]
#[post("/activities/{id}/signups")]
pub async fn sign_up(ctx: web::Data<AppContext>, user: AuthUser, id: web::Path<i64>) -> AppResult<HttpResponse> {
    let outcome = service::activities::sign_up(&ctx, &user, id.into_inner()).await?;
    let mut response = if outcome.created { HttpResponse::Created() } else { HttpResponse::Ok() };
    let mut body = signup_response(outcome.signup, outcome.waitlist_position);
    body.note = outcome.note;
    Ok(response.json(body))
}

/// Cancel one's own sign-up (idempotent). Confirmed places may be given up until the
/// activity's cut-off; the place goes to the first on the waitlist.
#[utoipa::path(delete, path = "/api/v1/activities/{id}/signups/me", operation_id = "cancelMySignup", tag = "activities", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "cancelled"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "never signed up"),
        (status = 409, body = Problem, content_type = "application/problem+json",
            description = "`cancellation_closed`, `activity_closed`, `already_attended`, `activity_finished`"),
    ))]
#[delete("/activities/{id}/signups/me")]
pub async fn cancel_signup(ctx: web::Data<AppContext>, user: AuthUser, id: web::Path<i64>) -> AppResult<HttpResponse> {
    service::activities::cancel_signup(&ctx, &user, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RosterQuery {
    #[param(value_type = Option<SignupStatus>)]
    pub status: Option<String>,
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

/// The roster, in sign-up order: the organization's staff and the committees, streets
/// and civil affairs over the activity's community.
#[utoipa::path(get, path = "/api/v1/activities/{id}/signups", operation_id = "listActivitySignups", tag = "activities", params(("id" = i64, Path), RosterQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Page<RosterEntryResponse>),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/activities/{id}/signups")]
pub async fn roster(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    query: web::Query<RosterQuery>,
) -> AppResult<web::Json<Page<RosterEntryResponse>>> {
    let query = query.into_inner();
    let page = PageQuery { cursor: query.cursor, limit: query.limit };
    let limit = page.limit()?;
    let status = match query.status {
        Some(s) => Some(SignupStatus::parse(&s).ok_or_else(|| {
            AppError::invalid("status", "unknown_status", format!("status 须为 {} 之一", SignupStatus::list()))
        })?),
        None => None,
    };
    let (entries, more) =
        service::activities::roster(&ctx, &user, id.into_inner(), status, page.after_id()?, limit).await?;
    let next_cursor =
        if more { entries.last().map(|e| crate::domain::pagination::encode_id_cursor(e.signup.seq)) } else { None };
    Ok(web::Json(Page { items: entries.into_iter().map(Into::into).collect(), next_cursor }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveSignupRequest {
    /// Told to the resident; 1–500 characters.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// Staff take a resident off the roster, with a reason; the place goes to the waitlist.
#[utoipa::path(post, path = "/api/v1/activities/{id}/signups/{user_id}/remove", operation_id = "removeSignup", tag = "activities",
    params(("id" = i64, Path), ("user_id" = i64, Path)), security(("bearer" = [])), request_body = RemoveSignupRequest,
    responses(
        (status = 204, description = "removed"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json",
            description = "`activity_closed`, `already_attended`, `activity_finished`"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/activities/{id}/signups/{user_id}/remove")]
pub async fn remove_signup(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<(i64, i64)>,
    body: web::Json<RemoveSignupRequest>,
) -> AppResult<HttpResponse> {
    let (id, member) = path.into_inner();
    let why = reason(&body.reason)?;
    service::activities::remove_signup(&ctx, &user, id, member, why).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Which of a resident's sign-ups: activities not yet ended, or ended ones.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignupWindow {
    Upcoming,
    Past,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MySignupsQuery {
    /// `upcoming` (default: not yet ended) or `past`.
    #[param(value_type = Option<SignupWindow>)]
    pub when: Option<String>,
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

/// The caller's sign-ups with their activities, most recent first.
#[utoipa::path(get, path = "/api/v1/me/signups", operation_id = "listMySignups", tag = "me", params(MySignupsQuery), security(("bearer" = [])),
    responses(
        (status = 200, body = Page<MySignupResponse>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/me/signups")]
pub async fn my_signups(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    query: web::Query<MySignupsQuery>,
) -> AppResult<web::Json<Page<MySignupResponse>>> {
    let query = query.into_inner();
    let upcoming = match query.when.as_deref() {
        None | Some("upcoming") => true,
        Some("past") => false,
        Some(_) => return Err(AppError::invalid("when", "invalid", "when 须为 upcoming 或 past")),
    };
    let page = PageQuery { cursor: query.cursor, limit: query.limit };
    let limit = page.limit()?;
    let rows = service::activities::my_signups(&ctx, &user, upcoming, page.after_id()?, limit).await?;
    Ok(web::Json(crate::domain::pagination::page_by_id(rows, limit, |m| m.signup.id, Into::into)))
}
