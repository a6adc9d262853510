//! `/venues`: shared rooms (一室多用), their free/busy view, and bookings of them.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    api::{checks::Checker, types::time},
    auth::{AuthUser, MaybeAuthUser},
    context::AppContext,
    domain::{
        pagination::{Page, PageQuery},
        venue::{BookingStatus, OpeningSpan, Span, VenueRules, VenueStatus},
    },
    error::{AppError, AppResult, Problem},
    service::{
        self,
        geo::Cursor,
        venues::{Availability, BookingInput, BookingView, BusySpan, VenueInput, VenuePatch, VenueView, split},
    },
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(create)
        .service(browse)
        .service(get_one)
        .service(update)
        .service(availability)
        .service(request_booking)
        .service(add_closure);
}

// ---- requests ------------------------------------------------------------------------

/// One span of a weekly timetable, Asia/Shanghai.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpeningHours {
    /// 1 = Monday … 7 = Sunday.
    #[schema(minimum = 1, maximum = 7)]
    pub weekday: i64,
    /// `HH:MM`.
    #[schema(example = "09:00")]
    pub opens: String,
    /// `HH:MM`, after `opens`; `24:00` is midnight.
    #[schema(example = "21:00")]
    pub closes: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "community_id": 11, "name": "金塔巷社区活动室", "address": "金塔巷 12 号一楼",
    "latitude": 36.0627, "longitude": 103.8221, "capacity": 40, "area_m2": 80.0,
    "facilities": ["投影仪", "音响"], "accessibility": "无台阶，有无障碍卫生间",
    "slot_minutes": 30, "min_minutes": 60, "max_minutes": 240, "book_ahead_days": 30, "buffer_minutes": 30,
    "opening_hours": [{"weekday": 1, "opens": "09:00", "closes": "21:00"}]
}))]
pub struct CreateVenueRequest {
    /// The community (社区/村) the room belongs to; its committee manages it.
    pub community_id: i64,
    /// Entrust the room to a filed or registered organization: its leader then manages it
    /// and decides its bookings.
    pub entrusted_org_id: Option<i64>,
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
    #[schema(min_length = 1, max_length = 128)]
    pub address: String,
    #[schema(minimum = -90, maximum = 90)]
    pub latitude: Option<f64>,
    #[schema(minimum = -180, maximum = 180)]
    pub longitude: Option<f64>,
    /// People the room holds, 1–10,000.
    #[schema(minimum = 1, maximum = 10000)]
    pub capacity: i64,
    /// Floor area in m².
    #[schema(minimum = 0, maximum = 100000)]
    pub area_m2: Option<f64>,
    /// At most 20, each 1–32 characters.
    pub facilities: Option<Vec<String>>,
    /// At most 200 characters: steps, lifts, toilets, hearing loops.
    #[schema(max_length = 200)]
    pub accessibility: Option<String>,
    /// At most 9 `https://` URLs.
    pub photos: Option<Vec<String>>,
    /// Starts and lengths are multiples of this (default 30; divides a day).
    #[schema(minimum = 5, maximum = 240)]
    pub slot_minutes: Option<i64>,
    /// Default 60.
    pub min_minutes: Option<i64>,
    /// Default 240, at most 1440.
    pub max_minutes: Option<i64>,
    /// Bookings open this many days ahead (default 30, at most 366).
    #[schema(minimum = 1, maximum = 366)]
    pub book_ahead_days: Option<i64>,
    /// Kept free after each booking for setting up and cleaning (default 0, at most 240).
    #[schema(minimum = 0, maximum = 240)]
    pub buffer_minutes: Option<i64>,
    /// Default true: requests wait for the committee or entrusted leader; false confirms at once.
    pub needs_approval: Option<bool>,
    /// Organizations may cancel until this many minutes before the start (default 120).
    #[schema(minimum = 0, maximum = 10080)]
    pub cancel_cutoff_minutes: Option<i32>,
    /// The weekly timetable; without it the room takes no bookings.
    pub opening_hours: Option<Vec<OpeningHours>>,
}

fn double_option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateVenueRequest {
    /// An organization id entrusts the room; `null` takes it back. The committee only.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub entrusted_org_id: Option<Option<i64>>,
    pub name: Option<String>,
    pub address: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub capacity: Option<i64>,
    pub area_m2: Option<f64>,
    pub facilities: Option<Vec<String>>,
    pub accessibility: Option<String>,
    pub photos: Option<Vec<String>>,
    pub slot_minutes: Option<i64>,
    pub min_minutes: Option<i64>,
    pub max_minutes: Option<i64>,
    pub book_ahead_days: Option<i64>,
    pub buffer_minutes: Option<i64>,
    pub needs_approval: Option<bool>,
    pub cancel_cutoff_minutes: Option<i32>,
    /// Replaces the whole timetable; bookings already made keep their spans.
    pub opening_hours: Option<Vec<OpeningHours>>,
    /// `open` or `closed` (retired: no new bookings).
    #[schema(value_type = Option<VenueStatus>)]
    pub status: Option<String>,
}

impl Checker {
    fn opening_hours(&mut self, value: Option<Vec<OpeningHours>>) -> Option<Vec<OpeningSpan>> {
        let value = value?;
        if value.len() > 70 {
            self.fail("opening_hours", "too_many", "开放时段不超过 70 个");
            return None;
        }
        let mut out = Vec::new();
        for (i, h) in value.iter().enumerate() {
            let opens = OpeningSpan::parse_clock(&h.opens);
            let closes = OpeningSpan::parse_clock(&h.closes);
            match (opens, closes) {
                (Some(o), Some(c)) => match OpeningSpan::new(h.weekday - 1, o, c) {
                    Some(span) => out.push(span),
                    None => self.fail(&format!("opening_hours[{i}]"), "range", "星期须为 1–7，开放时间须早于关闭时间"),
                },
                _ => self.fail(&format!("opening_hours[{i}]"), "clock", "时间格式须为 HH:MM"),
            }
        }
        Some(out)
    }

    fn list(
        &mut self,
        field: &str,
        value: Option<Vec<String>>,
        max_items: usize,
        max_len: usize,
    ) -> Option<Vec<String>> {
        let value = value?;
        if value.len() > max_items {
            self.fail(field, "too_many", &format!("最多 {max_items} 项"));
            return None;
        }
        let mut out = Vec::new();
        for (i, item) in value.into_iter().enumerate() {
            if let Some(item) = self.text(&format!("{field}[{i}]"), Some(item), 1, max_len, "内容长度不符合要求")
            {
                out.push(item);
            }
        }
        Some(out)
    }

    fn photos(&mut self, value: Option<Vec<String>>) -> Option<Vec<String>> {
        let value = value?;
        if value.len() > 9 {
            self.fail("photos", "too_many", "照片最多 9 张");
            return None;
        }
        let ok = |u: &String| {
            u.starts_with("https://") && u.len() > 8 && u.chars().count() <= 512 && !u.contains(char::is_whitespace)
        };
        for (i, u) in value.iter().enumerate() {
            if !ok(u) {
                self.fail(&format!("photos[{i}]"), "url", "照片须为不超过 512 个字符的 https:// 地址");
            }
        }
        Some(value)
    }

    fn area(&mut self, value: Option<f64>) -> Option<f64> {
        let value = value?;
        if value.is_finite() && (0.0..=100_000.0).contains(&value) {
            Some(value)
        } else {
            self.fail("area_m2", "range", "面积须在 0 到 100000 平方米之间");
            None
        }
    }
}

const NAME_MSG: &str = "名称须为 1–64 个字符";
const ADDRESS_MSG: &str = "地址须为 1–128 个字符";
const ACCESS_MSG: &str = "无障碍说明不超过 200 个字符";

impl CreateVenueRequest {
    fn parse(self) -> AppResult<VenueInput> {
        let mut c = Checker::default();
        let name = c.text("name", Some(self.name), 1, 64, NAME_MSG);
        let address = c.text("address", Some(self.address), 1, 128, ADDRESS_MSG);
        let at = c.location(self.latitude, self.longitude);
        let area_m2 = c.area(self.area_m2);
        let facilities = c.list("facilities", self.facilities, 20, 32).unwrap_or_default();
        let accessibility = c.text("accessibility", self.accessibility, 1, 200, ACCESS_MSG);
        let photos = c.photos(self.photos).unwrap_or_default();
        let hours = c.opening_hours(self.opening_hours).unwrap_or_default();
        let cutoff = c.cancel_cutoff(self.cancel_cutoff_minutes);
        let rules = match VenueRules::parse(
            self.slot_minutes.unwrap_or(30),
            self.min_minutes.unwrap_or(60),
            self.max_minutes.unwrap_or(240),
            self.book_ahead_days.unwrap_or(30),
            self.buffer_minutes.unwrap_or(0),
            self.capacity,
        ) {
            Ok(r) => Some(r),
            Err(e) => {
                c.fail(e.field, e.code, e.message);
                None
            }
        };
        let (Some(name), Some(address), Some(rules)) = (name, address, rules) else {
            return Err(AppError::Validation(c.errors));
        };
        c.finish(VenueInput {
            community_id: self.community_id,
            entrusted_org_id: self.entrusted_org_id,
            name,
            address,
            at,
            area_m2,
            facilities,
            accessibility,
            photos,
            rules,
            hours,
            needs_approval: self.needs_approval.unwrap_or(true),
            cancel_cutoff_minutes: cutoff.unwrap_or(120),
        })
    }
}

impl UpdateVenueRequest {
    fn parse(self) -> AppResult<VenuePatch> {
        let mut c = Checker::default();
        let status = match self.status {
            None => None,
            Some(s) => {
                let parsed = VenueStatus::parse(&s);
                if parsed.is_none() {
                    c.fail("status", "unknown_status", &format!("状态须为 {} 之一", VenueStatus::list()));
                }
                parsed
            }
        };
        let patch = VenuePatch {
            entrusted_org_id: self.entrusted_org_id,
            name: c.text("name", self.name, 1, 64, NAME_MSG),
            address: c.text("address", self.address, 1, 128, ADDRESS_MSG),
            at: c.location(self.latitude, self.longitude),
            area_m2: c.area(self.area_m2),
            facilities: c.list("facilities", self.facilities, 20, 32),
            accessibility: c.text("accessibility", self.accessibility, 1, 200, ACCESS_MSG),
            photos: c.photos(self.photos),
            slot_minutes: self.slot_minutes,
            min_minutes: self.min_minutes,
            max_minutes: self.max_minutes,
            book_ahead_days: self.book_ahead_days,
            buffer_minutes: self.buffer_minutes,
            capacity: self.capacity,
            hours: c.opening_hours(self.opening_hours),
            needs_approval: self.needs_approval,
            cancel_cutoff_minutes: c.cancel_cutoff(self.cancel_cutoff_minutes),
            status,
        };
        c.finish(patch)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "organization_id": 1, "starts_at": "2026-12-20T09:00:00+08:00", "ends_at": "2026-12-20T11:00:00+08:00",
    "purpose": "重阳节包饺子", "attendance": 20
}))]
pub struct BookingRequest {
    /// The organization booking; the caller must be its staff.
    pub organization_id: i64,
    pub starts_at: DateTime<FixedOffset>,
    pub ends_at: DateTime<FixedOffset>,
    /// 1–200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub purpose: String,
    /// Expected people, at most the room's capacity.
    #[schema(minimum = 1, maximum = 10000)]
    pub attendance: i64,
}

impl BookingRequest {
    fn parse(self) -> AppResult<BookingInput> {
        let mut c = Checker::default();
        let purpose = c.text("purpose", Some(self.purpose), 1, 200, "用途须为 1–200 个字符");
        let starts_at = c.time("starts_at", Some(self.starts_at));
        let ends_at = c.time("ends_at", Some(self.ends_at));
        if !(1..=10_000).contains(&self.attendance) {
            c.fail("attendance", "range", "预计人数须在 1 到 10000 之间");
        }
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
        let (Some(purpose), Some(span)) = (purpose, span) else {
            return Err(AppError::Validation(c.errors));
        };
        c.finish(BookingInput { organization_id: self.organization_id, span, purpose, attendance: self.attendance })
    }
}

// ---- responses -----------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct ClosureResponse {
    pub id: i64,
    pub starts_at: DateTime<FixedOffset>,
    pub ends_at: DateTime<FixedOffset>,
    pub reason: String,
}

impl From<crate::entity::venue_closure::Model> for ClosureResponse {
    fn from(c: crate::entity::venue_closure::Model) -> Self {
        Self { id: c.id, starts_at: time(c.starts_at), ends_at: time(c.ends_at), reason: c.reason }
    }
}

fn hours_response(h: &OpeningSpan) -> OpeningHours {
    OpeningHours {
        weekday: h.weekday as i64 + 1,
        opens: OpeningSpan::clock(h.opens as i64),
        closes: OpeningSpan::clock(h.closes as i64),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VenueResponse {
    pub id: i64,
    pub community_id: i64,
    pub community_name: String,
    /// The organization entrusted with the room, if any.
    pub entrusted_org_id: Option<i64>,
    pub entrusted_org_name: Option<String>,
    pub name: String,
    pub address: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub capacity: i32,
    pub area_m2: Option<f64>,
    pub facilities: Vec<String>,
    pub accessibility: Option<String>,
    pub photos: Vec<String>,
    pub slot_minutes: i32,
    pub min_minutes: i32,
    pub max_minutes: i32,
    pub book_ahead_days: i32,
    pub buffer_minutes: i32,
    pub needs_approval: bool,
    pub cancel_cutoff_minutes: i32,
    pub status: VenueStatus,
    pub opening_hours: Vec<OpeningHours>,
    /// Closures not yet over.
    pub closures: Vec<ClosureResponse>,
    /// Metres from `lat`/`lng`, when given.
    pub distance_m: Option<f64>,
    /// Whether the caller manages the room (edits it, decides its bookings).
    pub may_manage: bool,
}

impl From<VenueView> for VenueResponse {
    fn from(v: VenueView) -> Self {
        let m = v.venue;
        Self {
            id: m.id,
            community_id: m.community_id,
            community_name: v.community_name,
            entrusted_org_id: m.entrusted_org_id,
            entrusted_org_name: v.entrusted_org_name,
            name: m.name,
            address: m.address,
            latitude: m.latitude,
            longitude: m.longitude,
            capacity: m.capacity,
            area_m2: m.area_m2,
            facilities: split(&m.facilities),
            accessibility: m.accessibility,
            photos: split(&m.photos),
            slot_minutes: m.slot_minutes,
            min_minutes: m.min_minutes,
            max_minutes: m.max_minutes,
            book_ahead_days: m.book_ahead_days,
            buffer_minutes: m.buffer_minutes,
            needs_approval: m.needs_approval,
            cancel_cutoff_minutes: m.cancel_cutoff_minutes,
            status: VenueStatus::parse(&m.status).unwrap_or(VenueStatus::Closed),
            opening_hours: v.hours.iter().map(hours_response).collect(),
            closures: v.closures.into_iter().map(Into::into).collect(),
            distance_m: v.distance_m.map(|d| d.round()),
            may_manage: v.may_manage,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BookingEventResponse {
    /// `requested`, `approved`, `rejected`, `cancelled`.
    pub action: String,
    /// Who did it (`null`: the system, e.g. a venue that needs no approval).
    pub actor_id: Option<i64>,
    pub reason: Option<String>,
    pub at: DateTime<FixedOffset>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BookingResponse {
    pub id: i64,
    pub venue_id: i64,
    pub venue_name: String,
    pub organization_id: i64,
    pub organization_name: String,
    pub activity_id: Option<i64>,
    /// The recurring booking it belongs to (`GET /venue-series/{id}`).
    pub series_id: Option<i64>,
    pub purpose: String,
    pub attendance: i32,
    pub starts_at: DateTime<FixedOffset>,
    pub ends_at: DateTime<FixedOffset>,
    /// The end plus the venue's buffer: what the booking keeps from others.
    pub blocked_until: DateTime<FixedOffset>,
    pub status: BookingStatus,
    pub requested_by: Option<i64>,
    pub decided_by: Option<i64>,
    pub decided_at: Option<DateTime<FixedOffset>>,
    pub decision_reason: Option<String>,
    pub created_at: DateTime<FixedOffset>,
    /// Every step: who, when, why.
    pub history: Vec<BookingEventResponse>,
    /// In the review queue and detail: closures that now overlap the span.
    pub conflicts: Vec<ClosureResponse>,
}

impl From<BookingView> for BookingResponse {
    fn from(v: BookingView) -> Self {
        let b = v.booking;
        Self {
            id: b.id,
            venue_id: b.venue_id,
            venue_name: v.venue_name,
            organization_id: b.organization_id,
            organization_name: v.organization_name,
            activity_id: b.activity_id,
            series_id: b.series_id,
            purpose: b.purpose,
            attendance: b.attendance,
            starts_at: time(b.starts_at),
            ends_at: time(b.ends_at),
            blocked_until: time(b.blocked_until),
            status: BookingStatus::parse(&b.status).unwrap_or(BookingStatus::Cancelled),
            requested_by: b.requested_by,
            decided_by: b.decided_by,
            decided_at: b.decided_at.map(time),
            decision_reason: b.decision_reason,
            created_at: time(b.created_at),
            history: v
                .history
                .into_iter()
                .map(|e| BookingEventResponse {
                    action: e.action,
                    actor_id: e.actor_id,
                    reason: e.reason,
                    at: time(e.at),
                })
                .collect(),
            conflicts: v.conflicts.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimeSpan {
    pub starts_at: DateTime<FixedOffset>,
    pub ends_at: DateTime<FixedOffset>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BusyResponse {
    pub booking_id: i64,
    pub starts_at: DateTime<FixedOffset>,
    pub ends_at: DateTime<FixedOffset>,
    /// The end plus the venue's buffer.
    pub blocked_until: DateTime<FixedOffset>,
    /// `requested` (awaiting approval, already held) or `approved`.
    pub status: BookingStatus,
    /// Who holds the span.
    pub organization_id: i64,
    pub organization_name: String,
}

impl From<BusySpan> for BusyResponse {
    fn from(b: BusySpan) -> Self {
        Self {
            booking_id: b.booking_id,
            starts_at: time(b.starts_at),
            ends_at: time(b.ends_at),
            blocked_until: time(b.blocked_until),
            status: b.status,
            organization_id: b.organization_id,
            organization_name: b.organization_name,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AvailabilityResponse {
    pub venue_id: i64,
    /// When the room is open, from its weekly timetable.
    pub open: Vec<TimeSpan>,
    /// Spans held by requested or approved bookings, with who holds them.
    pub busy: Vec<BusyResponse>,
    pub closures: Vec<ClosureResponse>,
}

impl From<Availability> for AvailabilityResponse {
    fn from(a: Availability) -> Self {
        Self {
            venue_id: a.venue_id,
            open: a.open.into_iter().map(|(s, e)| TimeSpan { starts_at: time(s), ends_at: time(e) }).collect(),
            busy: a.busy.into_iter().map(Into::into).collect(),
            closures: a.closures.into_iter().map(Into::into).collect(),
        }
    }
}

// ---- handlers ------------------------------------------------------------------------

const JSON_PROBLEM: &str = "application/problem+json";

/// Set up a venue in a community. Its committee only.
#[utoipa::path(post, path = "/api/v1/venues", operation_id = "createVenue", tag = "venues", security(("bearer" = [])),
    request_body = CreateVenueRequest,
    responses(
        (status = 201, body = VenueResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the community's committee"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM, description = "no such community"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "`validation_failed`"),
    ))]
#[post("/venues")]
pub async fn create(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    body: web::Json<CreateVenueRequest>,
) -> AppResult<HttpResponse> {
    let input = body.into_inner().parse()?;
    let view = service::venues::create(&ctx, &user, input).await?;
    Ok(HttpResponse::Created().json(VenueResponse::from(view)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VenueBrowseQuery {
    /// Within this region's subtree.
    pub region_id: Option<i64>,
    /// With `lng`: nearest first, with `distance_m`.
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

/// Browse open venues. Anyone.
#[utoipa::path(get, path = "/api/v1/venues", operation_id = "listVenues", tag = "venues", params(VenueBrowseQuery),
    responses(
        (status = 200, body = Page<VenueResponse>),
        (status = 404, body = Problem, content_type = JSON_PROBLEM, description = "no such region"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "`validation_failed`: coordinates, limit or cursor"),
    ))]
#[get("/venues")]
pub async fn browse(
    ctx: web::Data<AppContext>,
    user: MaybeAuthUser,
    query: web::Query<VenueBrowseQuery>,
) -> AppResult<web::Json<Page<VenueResponse>>> {
    let query = query.into_inner();
    let limit = PageQuery { cursor: None, limit: query.limit }.limit()?;
    let mut c = Checker::default();
    let near = c.location(query.lat, query.lng);
    let cursor = match &query.cursor {
        None => None,
        Some(raw) => match Cursor::decode(raw) {
            Some(cur @ Cursor::Near(..)) if near.is_some() => Some(cur),
            Some(cur @ Cursor::Id(_)) if near.is_none() => Some(cur),
            _ => {
                c.fail("cursor", "invalid", "cursor 无效，请从第一页重新开始");
                None
            }
        },
    };
    c.finish(())?;
    let (items, next) = service::venues::browse(&ctx, user.0.as_ref(), query.region_id, near, cursor, limit).await?;
    Ok(web::Json(Page { items: items.into_iter().map(Into::into).collect(), next_cursor: next.map(Cursor::encode) }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NearQuery {
    pub lat: Option<f64>,
    pub lng: Option<f64>,
}

/// A venue with its timetable and closures. Anyone.
#[utoipa::path(get, path = "/api/v1/venues/{id}", operation_id = "getVenue", tag = "venues", params(("id" = i64, Path), NearQuery),
    responses(
        (status = 200, body = VenueResponse),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "bad coordinates"),
    ))]
#[get("/venues/{id}")]
pub async fn get_one(
    ctx: web::Data<AppContext>,
    user: MaybeAuthUser,
    id: web::Path<i64>,
    query: web::Query<NearQuery>,
) -> AppResult<web::Json<VenueResponse>> {
    let mut c = Checker::default();
    let near = c.location(query.lat, query.lng);
    c.finish(())?;
    Ok(web::Json(service::venues::detail(&ctx, user.0.as_ref(), id.into_inner(), near).await?.into()))
}

/// Edit a venue, replace its timetable, retire it (`status: closed`), or entrust it.
/// The committee over it or its entrusted leader; entrusting is the committee's.
#[utoipa::path(patch, path = "/api/v1/venues/{id}", operation_id = "updateVenue", tag = "venues", params(("id" = i64, Path)),
    security(("bearer" = [])), request_body = UpdateVenueRequest,
    responses(
        (status = 200, body = VenueResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not its committee or entrusted leader"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "`validation_failed`"),
    ))]
#[patch("/venues/{id}")]
pub async fn update(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<UpdateVenueRequest>,
) -> AppResult<web::Json<VenueResponse>> {
    let patch = body.into_inner().parse()?;
    Ok(web::Json(service::venues::update(&ctx, &user, id.into_inner(), patch).await?.into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AvailabilityQuery {
    /// Default: now.
    pub from: Option<DateTime<FixedOffset>>,
    /// Default: 7 days after `from`; at most 92 days after it.
    pub to: Option<DateTime<FixedOffset>>,
}

/// Free/busy: when the room is open, who holds which span, its closures. Anyone.
#[utoipa::path(get, path = "/api/v1/venues/{id}/availability", operation_id = "getVenueAvailability", tag = "venues",
    params(("id" = i64, Path), AvailabilityQuery),
    responses(
        (status = 200, body = AvailabilityResponse),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "`validation_failed`: bad or too wide a range"),
    ))]
#[get("/venues/{id}/availability")]
pub async fn availability(
    ctx: web::Data<AppContext>,
    id: web::Path<i64>,
    query: web::Query<AvailabilityQuery>,
) -> AppResult<web::Json<AvailabilityResponse>> {
    let query = query.into_inner();
    let mut c = Checker::default();
    let from = c.time("from", query.from);
    let to = c.time("to", query.to);
    c.finish(())?;
    let from = from.unwrap_or_else(|| ctx.now());
    let to = to.unwrap_or(from + chrono::Duration::days(7));
    Ok(web::Json(service::venues::availability(&ctx, id.into_inner(), from, to).await?.into()))
}

/// Request a span of a venue for an organization. Its staff. The span holds at once
/// (first request wins) and waits for approval unless the venue needs none.
#[utoipa::path(post, path = "/api/v1/venues/{id}/bookings", operation_id = "requestVenueBooking", tag = "venues", params(("id" = i64, Path)),
    security(("bearer" = [])), request_body = BookingRequest,
    responses(
        (status = 201, body = BookingResponse, description = "`requested`, or `approved` when the venue needs no approval"),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the organization's staff"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM, description = "no such venue or organization"),
        (status = 409, body = Problem, content_type = JSON_PROBLEM,
            description = "`venue_taken` (names the clashing span and holder), `outside_opening_hours`, `venue_closed`, `organization_not_active`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM,
            description = "`validation_failed`, the field's code one of `in_the_past`, `too_short`, `too_long`, `not_on_slot_step`, `too_far_ahead`, `over_capacity`"),
    ))]
#[post("/venues/{id}/bookings")]
pub async fn request_booking(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<BookingRequest>,
) -> AppResult<HttpResponse> {
    let input = body.into_inner().parse()?;
    let view = service::venues::request(&ctx, &user, id.into_inner(), input).await?;
    Ok(HttpResponse::Created().json(BookingResponse::from(view)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosureRequest {
    pub starts_at: DateTime<FixedOffset>,
    pub ends_at: DateTime<FixedOffset>,
    /// 1–200 characters: a holiday, repairs.
    #[schema(min_length = 1, max_length = 200)]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClosureOutcomeResponse {
    pub closure: ClosureResponse,
    /// The bookings the closure cancelled (their requesters are told).
    pub cancelled_booking_ids: Vec<i64>,
}

/// Close a venue for a span: the requested and approved bookings it hits are cancelled
/// and their requesting staff told. The venue's committee or entrusted leader.
#[utoipa::path(post, path = "/api/v1/venues/{id}/closures", operation_id = "addVenueClosure", tag = "venues", params(("id" = i64, Path)),
    security(("bearer" = [])), request_body = ClosureRequest,
    responses(
        (status = 201, body = ClosureOutcomeResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not its committee or entrusted leader"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "`validation_failed`"),
    ))]
#[post("/venues/{id}/closures")]
pub async fn add_closure(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<ClosureRequest>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let mut c = Checker::default();
    let reason = c.text("reason", Some(body.reason), 1, 200, "原因须为 1–200 个字符");
    let starts_at = c.time("starts_at", Some(body.starts_at));
    let ends_at = c.time("ends_at", Some(body.ends_at));
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
    let (Some(reason), Some(span)) = (reason, span) else {
        return Err(AppError::Validation(c.errors));
    };
    c.finish(())?;
    let out = service::venues::close(&ctx, &user, id.into_inner(), span, reason).await?;
    Ok(HttpResponse::Created()
        .json(ClosureOutcomeResponse { closure: out.closure.into(), cancelled_booking_ids: out.cancelled }))
}
