//! Shared rooms (一室多用): venues, their opening hours and closures, and bookings of
//! them. A venue is managed by the committee of its community, or by the leader of the
//! organization it is entrusted to. Holding bookings never overlap in what they block
//! (the span plus the venue's buffer): a booking is decided inside one transaction that
//! holds the venue row (`FOR UPDATE` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite), and on
//! PostgreSQL an exclusion constraint over the blocked range is the backstop.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, sea_query::Expr,
};

use crate::{
    auth::{
        AuthUser,
        scope::{holds_region_role, region_path},
    },
    context::AppContext,
    domain::{
        clock::to_shanghai,
        organization::{OrgStatus, distance_m},
        role::Role,
        venue::{
            BookingAction, BookingStatus, Closure, HOLDING, OpeningSpan, Refusal, Span, VenueRules, VenueStatus, check,
            normalise,
        },
    },
    entity::{organization, region, venue, venue_booking, venue_booking_event, venue_closure, venue_hour},
    error::{AppError, AppResult},
    service::{
        activities::{self, require_org_staff},
        begin_write,
        geo::{self, Cursor},
        notifications::{Notice, enqueue},
        organization_scope::regions_under,
        work_queue,
    },
};

/// A venue as created.
#[derive(Debug, Clone)]
pub struct VenueInput {
    pub community_id: i64,
    pub entrusted_org_id: Option<i64>,
    pub name: String,
    pub address: String,
    pub at: Option<(f64, f64)>,
    pub area_m2: Option<f64>,
    pub facilities: Vec<String>,
    pub accessibility: Option<String>,
    pub photos: Vec<String>,
    pub rules: VenueRules,
    pub hours: Vec<OpeningSpan>,
    pub needs_approval: bool,
    pub cancel_cutoff_minutes: i32,
}

/// A change to a venue; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct VenuePatch {
    /// `Some(None)` takes the venue back from its organization (committee only).
    pub entrusted_org_id: Option<Option<i64>>,
    pub name: Option<String>,
    pub address: Option<String>,
    pub at: Option<(f64, f64)>,
    pub area_m2: Option<f64>,
    pub facilities: Option<Vec<String>>,
    pub accessibility: Option<String>,
    pub photos: Option<Vec<String>>,
    pub slot_minutes: Option<i64>,
    pub min_minutes: Option<i64>,
    pub max_minutes: Option<i64>,
    pub book_ahead_days: Option<i64>,
    pub buffer_minutes: Option<i64>,
    pub capacity: Option<i64>,
    pub hours: Option<Vec<OpeningSpan>>,
    pub needs_approval: Option<bool>,
    pub cancel_cutoff_minutes: Option<i32>,
    pub status: Option<VenueStatus>,
}

/// What a venue shows.
#[derive(Debug, Clone)]
pub struct VenueView {
    pub venue: venue::Model,
    pub community_name: String,
    pub entrusted_org_name: Option<String>,
    pub hours: Vec<OpeningSpan>,
    /// Closures not yet over.
    pub closures: Vec<venue_closure::Model>,
    pub distance_m: Option<f64>,
    /// Whether the caller manages it.
    pub may_manage: bool,
}

/// A booking as requested.
#[derive(Debug, Clone)]
pub struct BookingInput {
    pub organization_id: i64,
    pub span: Span,
    pub purpose: String,
    pub attendance: i64,
}

/// What a booking shows, with its history.
#[derive(Debug, Clone)]
pub struct BookingView {
    pub booking: venue_booking::Model,
    pub venue_name: String,
    pub organization_name: String,
    pub history: Vec<venue_booking_event::Model>,
    /// For the review queue: closures that now overlap it.
    pub conflicts: Vec<venue_closure::Model>,
}

/// A span somebody holds, for the free/busy view.
#[derive(Debug, Clone)]
pub struct BusySpan {
    pub booking_id: i64,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub blocked_until: DateTime<Utc>,
    pub status: BookingStatus,
    pub organization_id: i64,
    pub organization_name: String,
}

#[derive(Debug, Clone)]
pub struct Availability {
    pub venue_id: i64,
    pub open: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    pub busy: Vec<BusySpan>,
    pub closures: Vec<venue_closure::Model>,
}

pub(crate) fn conflict(code: &'static str, zh: impl Into<String>) -> AppError {
    AppError::Conflict(code, zh.into())
}

pub(crate) fn span_text(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let (a, b) = (to_shanghai(from), to_shanghai(to));
    if a.date_naive() == b.date_naive() {
        format!("{}–{}", a.format("%Y年%-m月%-d日 %H:%M"), b.format("%H:%M"))
    } else {
        format!("{}–{}", a.format("%Y年%-m月%-d日 %H:%M"), b.format("%-m月%-d日 %H:%M"))
    }
}

/// A domain refusal's stable code, the field at fault (for span rules), and its sentence.
pub(crate) fn refusal_parts(r: Refusal) -> (&'static str, Option<&'static str>, String) {
    match r {
        Refusal::InThePast => ("in_the_past", Some("starts_at"), "预约开始时间须在将来".into()),
        Refusal::TooShort { min_minutes } => {
            ("too_short", Some("ends_at"), format!("预约时长不少于 {min_minutes} 分钟"))
        }
        Refusal::TooLong { max_minutes } => ("too_long", Some("ends_at"), format!("预约时长不超过 {max_minutes} 分钟")),
        Refusal::NotOnSlotStep { slot_minutes } => {
            ("not_on_slot_step", Some("starts_at"), format!("开始时间和时长须按 {slot_minutes} 分钟的时段划分"))
        }
        Refusal::TooFarAhead { days } => ("too_far_ahead", Some("starts_at"), format!("只能预约 {days} 天以内的时段")),
        Refusal::OverCapacity { capacity } => {
            ("over_capacity", Some("attendance"), format!("预计人数超过场地容纳人数（{capacity} 人）"))
        }
        Refusal::OutsideOpeningHours => ("outside_opening_hours", None, "所选时段不在场地开放时间内".into()),
        Refusal::VenueClosed(c) => {
            ("venue_closed", None, format!("场地在 {} 暂停开放：{}", span_text(c.starts_at, c.ends_at), c.reason))
        }
    }
}

/// A domain refusal as the API answers it: span rules are field errors (422) on the
/// field at fault; opening hours and closures are states of the venue (409).
pub fn refusal_error(r: Refusal) -> AppError {
    match refusal_parts(r) {
        (code, Some(field), message) => AppError::invalid(field, code, message),
        (code, None, message) => conflict(code, message),
    }
}

pub(crate) fn rules_of(v: &venue::Model) -> VenueRules {
    VenueRules {
        slot_minutes: v.slot_minutes as i64,
        min_minutes: v.min_minutes as i64,
        max_minutes: v.max_minutes as i64,
        book_ahead_days: v.book_ahead_days as i64,
        buffer_minutes: v.buffer_minutes as i64,
        capacity: v.capacity as i64,
    }
}

fn join(list: &[String]) -> String {
    list.join("\n")
}

pub fn split(s: &str) -> Vec<String> {
    s.split('\n').filter(|x| !x.is_empty()).map(str::to_owned).collect()
}

pub(crate) async fn find(db: &impl ConnectionTrait, id: i64) -> AppResult<venue::Model> {
    venue::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("venue"))
}

/// Reads the venue and holds it until the transaction ends: every booking decision on a
/// venue runs one at a time.
pub(crate) async fn lock(txn: &DatabaseTransaction, id: i64) -> AppResult<venue::Model> {
    venue::Entity::find_by_id(id).lock_exclusive().one(txn).await?.ok_or(AppError::NotFound("venue"))
}

pub(crate) async fn find_booking(db: &impl ConnectionTrait, id: i64) -> AppResult<venue_booking::Model> {
    venue_booking::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("booking"))
}

// ---- permissions ---------------------------------------------------------------------

/// The committee over the venue's community, or the leader of the organization it is
/// entrusted to.
pub(crate) async fn may_manage(db: &impl ConnectionTrait, user: &AuthUser, v: &venue::Model) -> AppResult<bool> {
    if user.is_system_admin() {
        return Ok(true);
    }
    if let Some(org) = v.entrusted_org_id
        && user.grants_of(Role::OrgLeader).any(|g| g.scope_id == Some(org))
        && org_is_active(db, org).await?
    {
        // An entrusted room is managed by its organization's leader while the organization
        // is filed or registered; suspended or dissolved, the committee manages it again.
        return Ok(true);
    }
    let path = region_path(db, v.community_id).await?;
    Ok(holds_region_role(user, &[Role::Committee], &path))
}

/// The caller manages the venue (edits it, decides its bookings).
pub async fn require_venue_manager(db: &impl ConnectionTrait, user: &AuthUser, v: &venue::Model) -> AppResult<()> {
    if may_manage(db, user, v).await? {
        Ok(())
    } else {
        Err(AppError::Forbidden("requires the venue's committee or entrusted leader"))
    }
}

/// The committee over the community (who alone sets up venues and entrusts them).
async fn require_committee(db: &impl ConnectionTrait, user: &AuthUser, community_id: i64) -> AppResult<()> {
    let path = region_path(db, community_id).await?;
    if holds_region_role(user, &[Role::Committee], &path) {
        Ok(())
    } else {
        Err(AppError::Forbidden("requires the community's committee"))
    }
}

/// Whether organization `org` is filed or registered (it may book rooms, be entrusted one).
async fn org_is_active(db: &impl ConnectionTrait, org: i64) -> AppResult<bool> {
    Ok(organization::Entity::find_by_id(org)
        .one(db)
        .await?
        .and_then(|o| OrgStatus::parse(&o.status))
        .is_some_and(OrgStatus::is_recognised))
}

/// A room may be entrusted to a filed or registered organization of its street (one that
/// may hold activities in it: `activities::may_host`).
async fn check_entrusted(db: &impl ConnectionTrait, org_id: i64, community_id: i64) -> AppResult<()> {
    let org = organization::Entity::find_by_id(org_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::invalid("entrusted_org_id", "not_found", "受托组织不存在"))?;
    if !OrgStatus::parse(&org.status).is_some_and(OrgStatus::is_recognised) {
        return Err(AppError::invalid("entrusted_org_id", "not_active", "受托组织须已备案或登记"));
    }
    let home = region::Entity::find_by_id(org.community_id).one(db).await?;
    let room = region::Entity::find_by_id(community_id).one(db).await?.ok_or(AppError::NotFound("region"))?;
    if !activities::may_host(home.as_ref(), &room) {
        return Err(AppError::invalid("entrusted_org_id", "outside_street", "受托组织须属于场地所在街道（乡镇）"));
    }
    Ok(())
}

// ---- venues --------------------------------------------------------------------------

fn hour_rows(venue_id: i64, hours: &[OpeningSpan]) -> Vec<venue_hour::ActiveModel> {
    hours
        .iter()
        .map(|h| venue_hour::ActiveModel {
            venue_id: Set(venue_id),
            weekday: Set(h.weekday as i16),
            opens_minute: Set(h.opens as i32),
            closes_minute: Set(h.closes as i32),
            ..Default::default()
        })
        .collect()
}

pub(crate) async fn hours_of(db: &impl ConnectionTrait, venue_id: i64) -> AppResult<Vec<OpeningSpan>> {
    let rows = venue_hour::Entity::find().filter(venue_hour::Column::VenueId.eq(venue_id)).all(db).await?;
    Ok(normalise(
        rows.into_iter()
            .filter_map(|h| OpeningSpan::new(h.weekday as i64, h.opens_minute as i64, h.closes_minute as i64))
            .collect(),
    ))
}

pub(crate) async fn closures_between(
    db: &impl ConnectionTrait,
    venue_id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> AppResult<Vec<venue_closure::Model>> {
    Ok(venue_closure::Entity::find()
        .filter(venue_closure::Column::VenueId.eq(venue_id))
        .filter(venue_closure::Column::StartsAt.lt(to))
        .filter(venue_closure::Column::EndsAt.gt(from))
        .order_by_asc(venue_closure::Column::StartsAt)
        .all(db)
        .await?)
}

pub async fn create(ctx: &AppContext, user: &AuthUser, input: VenueInput) -> AppResult<VenueView> {
    let community = region::Entity::find_by_id(input.community_id).one(&ctx.db).await?;
    match community {
        Some(r) if r.level == "community" => {}
        Some(_) => return Err(AppError::invalid("community_id", "not_a_community", "场地须属于一个社区或村")),
        None => return Err(AppError::invalid("community_id", "not_found", "所选社区不存在")),
    }
    require_committee(&ctx.db, user, input.community_id).await?;
    if let Some(org) = input.entrusted_org_id {
        check_entrusted(&ctx.db, org, input.community_id).await?;
    }
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let inserted = venue::Entity::insert(venue::ActiveModel {
        community_id: Set(input.community_id),
        entrusted_org_id: Set(input.entrusted_org_id),
        name: Set(input.name),
        address: Set(input.address),
        latitude: Set(input.at.map(|a| a.0)),
        longitude: Set(input.at.map(|a| a.1)),
        capacity: Set(input.rules.capacity as i32),
        area_m2: Set(input.area_m2),
        facilities: Set(join(&input.facilities)),
        accessibility: Set(input.accessibility),
        photos: Set(join(&input.photos)),
        slot_minutes: Set(input.rules.slot_minutes as i32),
        min_minutes: Set(input.rules.min_minutes as i32),
        max_minutes: Set(input.rules.max_minutes as i32),
        book_ahead_days: Set(input.rules.book_ahead_days as i32),
        buffer_minutes: Set(input.rules.buffer_minutes as i32),
        needs_approval: Set(input.needs_approval),
        cancel_cutoff_minutes: Set(input.cancel_cutoff_minutes),
        status: Set(VenueStatus::Open.as_str().to_owned()),
        created_by: Set(Some(user.id)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(&txn)
    .await?;
    let id = inserted.last_insert_id;
    let hours = hour_rows(id, &input.hours);
    if !hours.is_empty() {
        venue_hour::Entity::insert_many(hours).exec_without_returning(&txn).await?;
    }
    txn.commit().await?;
    detail(ctx, Some(user), id, None).await
}

pub async fn update(ctx: &AppContext, user: &AuthUser, id: i64, patch: VenuePatch) -> AppResult<VenueView> {
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let v = lock(&txn, id).await?;
    require_venue_manager(&txn, user, &v).await?;
    if let Some(entrusted) = patch.entrusted_org_id {
        // Entrusting is the committee's decision, not the entrusted leader's.
        require_committee(&txn, user, v.community_id).await?;
        if let Some(org) = entrusted {
            check_entrusted(&txn, org, v.community_id).await?;
        }
    }
    let current = rules_of(&v);
    let rules = VenueRules::parse(
        patch.slot_minutes.unwrap_or(current.slot_minutes),
        patch.min_minutes.unwrap_or(current.min_minutes),
        patch.max_minutes.unwrap_or(current.max_minutes),
        patch.book_ahead_days.unwrap_or(current.book_ahead_days),
        patch.buffer_minutes.unwrap_or(current.buffer_minutes),
        patch.capacity.unwrap_or(current.capacity),
    )
    .map_err(|e| AppError::invalid(e.field, e.code, e.message))?;
    let mut m = venue::ActiveModel { id: Set(id), updated_at: Set(now), ..Default::default() };
    if let Some(e) = patch.entrusted_org_id {
        m.entrusted_org_id = Set(e);
    }
    if let Some(x) = patch.name {
        m.name = Set(x);
    }
    if let Some(x) = patch.address {
        m.address = Set(x);
    }
    if let Some((lat, lng)) = patch.at {
        m.latitude = Set(Some(lat));
        m.longitude = Set(Some(lng));
    }
    if let Some(x) = patch.area_m2 {
        m.area_m2 = Set(Some(x));
    }
    if let Some(x) = patch.facilities {
        m.facilities = Set(join(&x));
    }
    if let Some(x) = patch.accessibility {
        m.accessibility = Set(Some(x));
    }
    if let Some(x) = patch.photos {
        m.photos = Set(join(&x));
    }
    if let Some(x) = patch.needs_approval {
        m.needs_approval = Set(x);
    }
    if let Some(x) = patch.cancel_cutoff_minutes {
        m.cancel_cutoff_minutes = Set(x);
    }
    if let Some(x) = patch.status {
        m.status = Set(x.as_str().to_owned());
    }
    m.slot_minutes = Set(rules.slot_minutes as i32);
    m.min_minutes = Set(rules.min_minutes as i32);
    m.max_minutes = Set(rules.max_minutes as i32);
    m.book_ahead_days = Set(rules.book_ahead_days as i32);
    m.buffer_minutes = Set(rules.buffer_minutes as i32);
    m.capacity = Set(rules.capacity as i32);
    venue::Entity::update(m).exec(&txn).await?;
    if patch.status == Some(VenueStatus::Closed) && v.status == VenueStatus::Open.as_str() {
        // Retired: requests still waiting are cancelled (nobody will approve them) and
        // their requesters told; approved bookings keep their spans.
        let waiting = venue_booking::Entity::find()
            .filter(venue_booking::Column::VenueId.eq(id))
            .filter(venue_booking::Column::Status.eq(BookingStatus::Requested.as_str()))
            .all(&txn)
            .await?;
        let why = "场地已停用";
        let mut notices = Vec::new();
        for b in &waiting {
            set_booking_status(&txn, b, BookingStatus::Cancelled, Some(user.id), why, now).await?;
            if let Some(activity_id) = b.activity_id {
                notices.extend(activities::room_withdrawn(&txn, activity_id, now).await?);
            }
            if let Some(requester) = b.requested_by {
                notices.push(booking_notice(&v, b, requester, "booking_cancelled", Some(why)));
            }
        }
        enqueue(&txn, notices, now).await?;
    }
    if let Some(hours) = patch.hours {
        // New hours apply to new requests; bookings already made keep their spans.
        venue_hour::Entity::delete_many().filter(venue_hour::Column::VenueId.eq(id)).exec(&txn).await?;
        let rows = hour_rows(id, &hours);
        if !rows.is_empty() {
            venue_hour::Entity::insert_many(rows).exec_without_returning(&txn).await?;
        }
    }
    txn.commit().await?;
    detail(ctx, Some(user), id, None).await
}

pub async fn detail(
    ctx: &AppContext,
    user: Option<&AuthUser>,
    id: i64,
    near: Option<(f64, f64)>,
) -> AppResult<VenueView> {
    let v = find(&ctx.db, id).await?;
    let mut views = views(ctx, user, vec![v], near).await?;
    views.pop().ok_or(AppError::NotFound("venue"))
}

async fn views(
    ctx: &AppContext,
    user: Option<&AuthUser>,
    venues: Vec<venue::Model>,
    near: Option<(f64, f64)>,
) -> AppResult<Vec<VenueView>> {
    let now = ctx.now();
    let ids: Vec<i64> = venues.iter().map(|v| v.id).collect();
    let communities: HashMap<i64, String> = region::Entity::find()
        .filter(region::Column::Id.is_in(venues.iter().map(|v| v.community_id).collect::<Vec<_>>()))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect();
    let orgs = organization_names(&ctx.db, venues.iter().filter_map(|v| v.entrusted_org_id).collect()).await?;
    let mut hours: HashMap<i64, Vec<OpeningSpan>> = HashMap::new();
    for h in venue_hour::Entity::find().filter(venue_hour::Column::VenueId.is_in(ids.clone())).all(&ctx.db).await? {
        if let Some(span) = OpeningSpan::new(h.weekday as i64, h.opens_minute as i64, h.closes_minute as i64) {
            hours.entry(h.venue_id).or_default().push(span);
        }
    }
    let mut closures: HashMap<i64, Vec<venue_closure::Model>> = HashMap::new();
    for c in venue_closure::Entity::find()
        .filter(venue_closure::Column::VenueId.is_in(ids))
        .filter(venue_closure::Column::EndsAt.gt(now))
        .order_by_asc(venue_closure::Column::StartsAt)
        .all(&ctx.db)
        .await?
    {
        closures.entry(c.venue_id).or_default().push(c);
    }
    let mut out = Vec::with_capacity(venues.len());
    for v in venues {
        let may_manage = match user {
            Some(u) => may_manage(&ctx.db, u, &v).await?,
            None => false,
        };
        let distance_m = match (near, v.latitude, v.longitude) {
            (Some((lat, lng)), Some(a), Some(b)) => Some(distance_m(lat, lng, a, b)),
            _ => None,
        };
        out.push(VenueView {
            community_name: communities.get(&v.community_id).cloned().unwrap_or_default(),
            entrusted_org_name: v.entrusted_org_id.and_then(|o| orgs.get(&o).cloned()),
            hours: normalise(hours.remove(&v.id).unwrap_or_default()),
            closures: closures.remove(&v.id).unwrap_or_default(),
            distance_m,
            may_manage,
            venue: v,
        });
    }
    Ok(out)
}

async fn organization_names(db: &impl ConnectionTrait, ids: Vec<i64>) -> AppResult<HashMap<i64, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(organization::Entity::find()
        .filter(organization::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect())
}

/// Open venues within a region subtree; nearest first with `near`, else newest first.
pub async fn browse(
    ctx: &AppContext,
    user: Option<&AuthUser>,
    region_id: Option<i64>,
    near: Option<(f64, f64)>,
    cursor: Option<Cursor>,
    limit: u64,
) -> AppResult<(Vec<VenueView>, Option<Cursor>)> {
    let mut query = venue::Entity::find()
        .select_only()
        .column(venue::Column::Id)
        .filter(venue::Column::Status.eq(VenueStatus::Open.as_str()));
    if let Some(region_id) = region_id {
        let path = region_path(&ctx.db, region_id).await?;
        query = query.filter(venue::Column::CommunityId.in_subquery(regions_under(&[path])));
    }
    let (ids, next) = geo::page_ids(
        &ctx.db,
        query,
        venue::Column::Id,
        venue::Column::Latitude,
        venue::Column::Longitude,
        near,
        cursor,
        limit,
    )
    .await?;
    let mut by_id: HashMap<i64, venue::Model> = venue::Entity::find()
        .filter(venue::Column::Id.is_in(ids.clone()))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|v| (v.id, v))
        .collect();
    let ordered = ids.into_iter().filter_map(|id| by_id.remove(&id)).collect();
    Ok((views(ctx, user, ordered, near).await?, next))
}

/// The free/busy view of a venue between two times: when it is open, who holds which
/// span (organizations are public), and its closures.
pub async fn availability(
    ctx: &AppContext,
    id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> AppResult<Availability> {
    if to <= from {
        return Err(AppError::invalid("to", "before_from", "结束时间须晚于开始时间"));
    }
    if to - from > Duration::days(92) {
        return Err(AppError::invalid("to", "too_long", "一次最多查询 92 天"));
    }
    let v = find(&ctx.db, id).await?;
    let hours = hours_of(&ctx.db, id).await?;
    let bookings = venue_booking::Entity::find()
        .filter(venue_booking::Column::VenueId.eq(id))
        .filter(venue_booking::Column::Status.is_in(HOLDING))
        .filter(venue_booking::Column::StartsAt.lt(to))
        .filter(venue_booking::Column::BlockedUntil.gt(from))
        .order_by_asc(venue_booking::Column::StartsAt)
        .all(&ctx.db)
        .await?;
    let names = organization_names(&ctx.db, bookings.iter().map(|b| b.organization_id).collect()).await?;
    let busy = bookings
        .into_iter()
        .map(|b| BusySpan {
            booking_id: b.id,
            starts_at: b.starts_at,
            ends_at: b.ends_at,
            blocked_until: b.blocked_until,
            status: BookingStatus::parse(&b.status).unwrap_or(BookingStatus::Requested),
            organization_name: names.get(&b.organization_id).cloned().unwrap_or_default(),
            organization_id: b.organization_id,
        })
        .collect();
    let closures = closures_between(&ctx.db, id, from, to).await?;
    Ok(Availability { venue_id: v.id, open: open_spans(&hours, from, to), busy, closures })
}

/// The weekly hours laid out on the days between two times, clipped to them.
pub(crate) fn open_spans(
    hours: &[OpeningSpan],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    use chrono::{Datelike, TimeZone};
    let tz = crate::domain::clock::shanghai();
    let mut out = Vec::new();
    let mut day: NaiveDate = to_shanghai(from).date_naive();
    let last = to_shanghai(to).date_naive();
    while day <= last {
        let weekday = day.weekday().num_days_from_monday() as u8;
        for h in hours.iter().filter(|h| h.weekday == weekday) {
            let midnight = day.and_hms_opt(0, 0, 0).and_then(|t| tz.from_local_datetime(&t).single());
            if let Some(midnight) = midnight.map(|m| m.with_timezone(&Utc)) {
                let (a, b) =
                    (midnight + Duration::minutes(h.opens as i64), midnight + Duration::minutes(h.closes as i64));
                let (a, b) = (a.max(from), b.min(to));
                if a < b {
                    out.push((a, b));
                }
            }
        }
        match day.succ_opt() {
            Some(d) => day = d,
            None => break,
        }
    }
    out
}

// ---- bookings ------------------------------------------------------------------------

/// The holding booking (other than `except`) whose blocked span overlaps `[from, until)`.
pub(crate) async fn clash(
    txn: &DatabaseTransaction,
    venue_id: i64,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    except: Option<i64>,
) -> AppResult<Option<venue_booking::Model>> {
    let mut q = venue_booking::Entity::find()
        .filter(venue_booking::Column::VenueId.eq(venue_id))
        .filter(venue_booking::Column::Status.is_in(HOLDING))
        .filter(venue_booking::Column::StartsAt.lt(until))
        .filter(venue_booking::Column::BlockedUntil.gt(from));
    if let Some(id) = except {
        q = q.filter(venue_booking::Column::Id.ne(id));
    }
    Ok(q.order_by_asc(venue_booking::Column::StartsAt).one(txn).await?)
}

async fn taken(db: &impl ConnectionTrait, b: &venue_booking::Model) -> AppResult<AppError> {
    Ok(conflict("venue_taken", taken_text(db, b).await?))
}

/// What a `venue_taken` refusal says: the clashing span, its buffer and its holder.
pub(crate) async fn taken_text(db: &impl ConnectionTrait, b: &venue_booking::Model) -> AppResult<String> {
    let holder = organization::Entity::find_by_id(b.organization_id).one(db).await?.map(|o| o.name).unwrap_or_default();
    Ok(format!(
        "该时段已被「{holder}」占用：{}（含整理时间至 {}）",
        span_text(b.starts_at, b.ends_at),
        to_shanghai(b.blocked_until).format("%H:%M")
    ))
}

/// The exclusion constraint's violation (PostgreSQL `23P01`): another transaction took
/// an overlapping span first.
pub(crate) fn is_exclusion_violation(e: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr};
    match e {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            matches!(&**e, sea_orm::sqlx::Error::Database(db) if db.code().is_some_and(|c| c == "23P01"))
        }
        _ => false,
    }
}

pub(crate) async fn record(
    db: &impl ConnectionTrait,
    booking_id: i64,
    action: &str,
    actor: Option<i64>,
    reason: Option<String>,
    at: DateTime<Utc>,
) -> AppResult<()> {
    venue_booking_event::Entity::insert(venue_booking_event::ActiveModel {
        booking_id: Set(booking_id),
        action: Set(action.to_owned()),
        actor_id: Set(actor),
        reason: Set(reason),
        at: Set(at),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The caller is staff of organization `org_id`, and it is filed or registered (it may
/// book rooms).
pub(crate) async fn require_booking_org(db: &impl ConnectionTrait, user: &AuthUser, org_id: i64) -> AppResult<()> {
    require_org_staff(user, org_id)?;
    let org = organization::Entity::find_by_id(org_id).one(db).await?.ok_or(AppError::NotFound("organization"))?;
    if !OrgStatus::parse(&org.status).is_some_and(OrgStatus::is_recognised) {
        return Err(conflict("organization_not_active", "组织尚未备案或已暂停，不能预约场地"));
    }
    Ok(())
}

/// A booking about to be made, by any path (a request, an activity's, a date of a series).
pub(crate) struct NewBooking<'a> {
    pub venue: &'a venue::Model,
    pub organization_id: i64,
    pub activity_id: Option<i64>,
    pub series_id: Option<i64>,
    pub purpose: String,
    pub attendance: i64,
    pub span: Span,
    /// The span's end plus the venue's buffer.
    pub blocked_until: DateTime<Utc>,
    pub requested_by: i64,
    /// Why, in its history (`为活动预约`, `周期预约 #3`).
    pub note: Option<String>,
}

/// Inserts a holding booking, `requested` or — a venue that needs no approval —
/// `approved`, with its history; an overlap PostgreSQL's exclusion constraint catches is
/// `venue_taken`. The one place bookings are made; returns its id and status.
pub(crate) async fn insert_booking(
    txn: &DatabaseTransaction,
    b: NewBooking<'_>,
    now: DateTime<Utc>,
) -> AppResult<(i64, BookingStatus)> {
    let status = if b.venue.needs_approval { BookingStatus::Requested } else { BookingStatus::Approved };
    let id = venue_booking::Entity::insert(venue_booking::ActiveModel {
        venue_id: Set(b.venue.id),
        organization_id: Set(b.organization_id),
        activity_id: Set(b.activity_id),
        series_id: Set(b.series_id),
        purpose: Set(b.purpose),
        attendance: Set(b.attendance as i32),
        starts_at: Set(b.span.starts_at),
        ends_at: Set(b.span.ends_at),
        blocked_until: Set(b.blocked_until),
        status: Set(status.as_str().to_owned()),
        requested_by: Set(Some(b.requested_by)),
        decided_by: Set(None),
        decided_at: Set((status == BookingStatus::Approved).then_some(now)),
        decision_reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(txn)
    .await
    .map_err(|e| {
        if is_exclusion_violation(&e) { conflict("venue_taken", "该时段已被其他组织占用") } else { e.into() }
    })?
    .last_insert_id;
    record(txn, id, "requested", Some(b.requested_by), b.note, now).await?;
    if status == BookingStatus::Approved {
        record(txn, id, "approved", None, Some("场地无需审批".to_owned()), now).await?;
    }
    Ok((id, status))
}

/// An organization's staff request a span of a venue. It holds at once (first request
/// wins); a venue that needs no approval confirms it.
pub async fn request(ctx: &AppContext, user: &AuthUser, venue_id: i64, input: BookingInput) -> AppResult<BookingView> {
    require_booking_org(&ctx.db, user, input.organization_id).await?;
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let v = lock(&txn, venue_id).await?;
    if v.status != VenueStatus::Open.as_str() {
        return Err(conflict("venue_closed", "场地已停用"));
    }
    let rules = rules_of(&v);
    let hours = hours_of(&txn, venue_id).await?;
    let closures: Vec<Closure> = closures_between(&txn, venue_id, input.span.starts_at, input.span.ends_at)
        .await?
        .into_iter()
        .map(|c| Closure { starts_at: c.starts_at, ends_at: c.ends_at, reason: c.reason })
        .collect();
    check(&rules, &hours, &closures, &input.span, input.attendance, now).map_err(refusal_error)?;
    let blocked_until = rules.blocked_until(input.span.ends_at);
    if let Some(other) = clash(&txn, venue_id, input.span.starts_at, blocked_until, None).await? {
        return Err(taken(&txn, &other).await?);
    }
    let new = NewBooking {
        venue: &v,
        organization_id: input.organization_id,
        activity_id: None,
        series_id: None,
        purpose: input.purpose.clone(),
        attendance: input.attendance,
        span: input.span,
        blocked_until,
        requested_by: user.id,
        note: None,
    };
    let (id, status) = insert_booking(&txn, new, now).await?;
    if status == BookingStatus::Requested {
        work_queue::announce_booking(&txn, &v, &format!("booking:{id}"), input.organization_id, &input.purpose, now)
            .await?;
    }
    txn.commit().await?;
    booking_view(&ctx.db, id, false).await
}

/// What approving booking `b` of venue `v` (locked) re-checks, for a single booking and
/// for each of a series: the room still open, the organization still filed or
/// registered, attendance within today's capacity, not begun, no closure over it, and
/// nobody else holding its span.
pub(crate) async fn check_approvable(
    txn: &DatabaseTransaction,
    v: &venue::Model,
    b: &venue_booking::Model,
    now: DateTime<Utc>,
) -> AppResult<()> {
    if v.status != VenueStatus::Open.as_str() {
        return Err(conflict("venue_closed", "场地已停用，不能批准预约"));
    }
    if !org_is_active(txn, b.organization_id).await? {
        return Err(conflict("organization_not_active", "预约的组织已暂停或撤销，不能批准"));
    }
    if b.attendance > v.capacity {
        return Err(refusal_error(Refusal::OverCapacity { capacity: v.capacity as i64 }));
    }
    if b.starts_at <= now {
        return Err(refusal_error(Refusal::InThePast));
    }
    if let Some(c) = closures_between(txn, v.id, b.starts_at, b.ends_at).await?.into_iter().next() {
        return Err(refusal_error(Refusal::VenueClosed(Closure {
            starts_at: c.starts_at,
            ends_at: c.ends_at,
            reason: c.reason,
        })));
    }
    if let Some(other) = clash(txn, v.id, b.starts_at, b.blocked_until, Some(b.id)).await? {
        return Err(taken(txn, &other).await?);
    }
    Ok(())
}

/// Approve or reject a requested booking (the venue's committee or entrusted leader).
/// Approval re-checks the span against closures and the past; a rejection needs a
/// reason and frees the span.
pub async fn decide(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    approve: bool,
    reason: Option<String>,
) -> AppResult<BookingView> {
    let reason = super::remark("reason", reason, 200)?;
    if !approve && reason.is_none() {
        return Err(AppError::invalid("reason", "required", "驳回须说明理由"));
    }
    let now = ctx.now();
    let venue_id = find_booking(&ctx.db, id).await?.venue_id;
    let txn = begin_write(&ctx.db).await?;
    let v = lock(&txn, venue_id).await?;
    let b = find_booking(&txn, id).await?;
    require_venue_manager(&txn, user, &v).await?;
    let action = if approve { BookingAction::Approve } else { BookingAction::Reject };
    let status = BookingStatus::parse(&b.status).unwrap_or(BookingStatus::Cancelled);
    let Some(next) = status.next(action) else {
        return Err(conflict("invalid_transition", "只有待审批的预约可以审批"));
    };
    if approve {
        check_approvable(&txn, &v, &b, now).await?;
    }
    venue_booking::Entity::update_many()
        .col_expr(venue_booking::Column::Status, Expr::value(next.as_str()))
        .col_expr(venue_booking::Column::DecidedBy, Expr::value(user.id))
        .col_expr(venue_booking::Column::DecidedAt, Expr::value(now))
        .col_expr(venue_booking::Column::DecisionReason, Expr::value(reason.clone()))
        .col_expr(venue_booking::Column::UpdatedAt, Expr::value(now))
        .filter(venue_booking::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    record(&txn, id, next.as_str(), Some(user.id), reason.clone(), now).await?;
    work_queue::settle(&txn, &format!("booking:{id}"), now).await?;
    if let Some(activity_id) = b.activity_id {
        // An activity waiting (`held`) for this booking opens its room gate, or goes back
        // to a draft when the room is refused.
        activities::room_decided(&txn, activity_id, approve, now).await?;
    }
    if let Some(requester) = b.requested_by {
        let kind = if approve { "booking_approved" } else { "booking_rejected" };
        enqueue(&txn, vec![booking_notice(&v, &b, requester, kind, reason.as_deref())], now).await?;
    }
    txn.commit().await?;
    booking_view(&ctx.db, id, false).await
}

/// Cancels a requested or approved booking: its organization's staff until the venue's
/// cut-off, the venue's managers at any time (the organization is told).
pub async fn cancel(ctx: &AppContext, user: &AuthUser, id: i64, reason: Option<String>) -> AppResult<BookingView> {
    let now = ctx.now();
    let venue_id = find_booking(&ctx.db, id).await?.venue_id;
    let txn = begin_write(&ctx.db).await?;
    let v = lock(&txn, venue_id).await?;
    let b = find_booking(&txn, id).await?;
    let manager = may_manage(&txn, user, &v).await?;
    if !manager {
        require_org_staff(user, b.organization_id)?;
    }
    let status = BookingStatus::parse(&b.status).unwrap_or(BookingStatus::Cancelled);
    let Some(next) = status.next(BookingAction::Cancel) else {
        return Err(conflict("invalid_transition", "预约已驳回或已取消"));
    };
    if !manager && let Some(activity_id) = b.activity_id {
        use crate::{domain::activity::ActivityStatus, entity::activity};
        let live = activity::Entity::find_by_id(activity_id).one(&txn).await?.is_some_and(|a| {
            matches!(ActivityStatus::parse(&a.status), Some(ActivityStatus::Published | ActivityStatus::Held))
        });
        if live {
            return Err(conflict(
                "booking_has_activity",
                "该预约属于一场尚未结束的活动：请修改活动时间或取消活动，场地预约随之变更",
            ));
        }
    }
    if !manager && b.starts_at - Duration::minutes(v.cancel_cutoff_minutes as i64) <= now {
        return Err(conflict("cancellation_closed", "已过场地预约的取消截止时间，请联系场地管理方"));
    }
    venue_booking::Entity::update_many()
        .col_expr(venue_booking::Column::Status, Expr::value(next.as_str()))
        .col_expr(venue_booking::Column::UpdatedAt, Expr::value(now))
        .filter(venue_booking::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    record(&txn, id, next.as_str(), Some(user.id), reason.clone(), now).await?;
    work_queue::settle(&txn, &format!("booking:{id}"), now).await?;
    let mut notices = match b.activity_id {
        Some(activity_id) => activities::room_withdrawn(&txn, activity_id, now).await?,
        None => Vec::new(),
    };
    if let Some(requester) = b.requested_by.filter(|r| *r != user.id) {
        notices.push(booking_notice(&v, &b, requester, "booking_cancelled", reason.as_deref()));
    }
    enqueue(&txn, notices, now).await?;
    txn.commit().await?;
    booking_view(&ctx.db, id, false).await
}

pub(crate) fn booking_notice(
    v: &venue::Model,
    b: &venue_booking::Model,
    user_id: i64,
    kind: &'static str,
    why: Option<&str>,
) -> Notice {
    let span = span_text(b.starts_at, b.ends_at);
    let (title, verdict) = match kind {
        "booking_approved" => ("场地预约已通过", "已通过"),
        "booking_rejected" => ("场地预约未通过", "未通过"),
        _ => ("场地预约已取消", "已取消"),
    };
    let mut body = format!("{}（{span}）的预约{verdict}", v.name);
    if let Some(why) = why {
        body.push_str(&format!("：{why}"));
    }
    Notice {
        user_id,
        kind,
        title: title.to_owned(),
        body,
        activity_id: b.activity_id,
        organization_id: Some(b.organization_id),
        dedupe_key: format!("{kind}:{}", b.id),
        due_at: None,
        offset_secs: None,
    }
}

async fn booking_view(db: &impl ConnectionTrait, id: i64, with_conflicts: bool) -> AppResult<BookingView> {
    let b = find_booking(db, id).await?;
    let mut views = booking_views(db, vec![b], with_conflicts).await?;
    views.pop().ok_or(AppError::NotFound("booking"))
}

pub(crate) async fn booking_views(
    db: &impl ConnectionTrait,
    bookings: Vec<venue_booking::Model>,
    with_conflicts: bool,
) -> AppResult<Vec<BookingView>> {
    let ids: Vec<i64> = bookings.iter().map(|b| b.id).collect();
    let orgs = organization_names(db, bookings.iter().map(|b| b.organization_id).collect()).await?;
    let venues: HashMap<i64, String> = venue::Entity::find()
        .filter(venue::Column::Id.is_in(bookings.iter().map(|b| b.venue_id).collect::<Vec<_>>()))
        .all(db)
        .await?
        .into_iter()
        .map(|v| (v.id, v.name))
        .collect();
    let mut history: HashMap<i64, Vec<venue_booking_event::Model>> = HashMap::new();
    for e in venue_booking_event::Entity::find()
        .filter(venue_booking_event::Column::BookingId.is_in(ids))
        .order_by_asc(venue_booking_event::Column::Id)
        .all(db)
        .await?
    {
        history.entry(e.booking_id).or_default().push(e);
    }
    let mut out = Vec::with_capacity(bookings.len());
    for b in bookings {
        let conflicts =
            if with_conflicts { closures_between(db, b.venue_id, b.starts_at, b.ends_at).await? } else { Vec::new() };
        out.push(BookingView {
            venue_name: venues.get(&b.venue_id).cloned().unwrap_or_default(),
            organization_name: orgs.get(&b.organization_id).cloned().unwrap_or_default(),
            history: history.remove(&b.id).unwrap_or_default(),
            conflicts,
            booking: b,
        });
    }
    Ok(out)
}

/// A booking with its history: for its organization's staff, the venue's managers and the
/// officials over the venue's community.
pub async fn booking(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<BookingView> {
    let b = find_booking(&ctx.db, id).await?;
    require_booking_reader(&ctx.db, user, b.venue_id, b.organization_id).await?;
    booking_view(&ctx.db, id, true).await
}

/// Who may read a booking (or a series) of organization `org_id` in venue `venue_id`: its
/// staff, the venue's managers, and the officials over the venue's community.
pub(crate) async fn require_booking_reader(
    db: &impl ConnectionTrait,
    user: &AuthUser,
    venue_id: i64,
    org_id: i64,
) -> AppResult<()> {
    let v = find(db, venue_id).await?;
    let path = region_path(db, v.community_id).await?;
    let official = holds_region_role(user, &[Role::Committee, Role::Street, Role::CivilAffairs], &path);
    if !official && !may_manage(db, user, &v).await? {
        require_org_staff(user, org_id)?;
    }
    Ok(())
}

/// An organization's bookings, newest first, whatever their state (`status` narrows
/// them): for its staff and the officials over its community.
pub async fn bookings_of_org(
    ctx: &AppContext,
    user: &AuthUser,
    org_id: i64,
    status: Option<BookingStatus>,
    before: Option<i64>,
    limit: u64,
) -> AppResult<(Vec<BookingView>, Option<i64>)> {
    let org = organization::Entity::find_by_id(org_id).one(&ctx.db).await?.ok_or(AppError::NotFound("organization"))?;
    let staff =
        user.grants.iter().any(|g| matches!(g.role, Role::OrgStaff | Role::OrgLeader) && g.scope_id == Some(org_id));
    if !staff && !user.is_system_admin() {
        let path = region_path(&ctx.db, org.community_id).await?;
        if !holds_region_role(user, &[Role::Committee, Role::Street, Role::CivilAffairs], &path) {
            return Err(AppError::Forbidden("requires organization staff or an official over it"));
        }
    }
    let mut q = venue_booking::Entity::find().filter(venue_booking::Column::OrganizationId.eq(org_id));
    if let Some(s) = status {
        q = q.filter(venue_booking::Column::Status.eq(s.as_str()));
    }
    if let Some(before) = before {
        q = q.filter(venue_booking::Column::Id.lt(before));
    }
    let mut rows = q.order_by_desc(venue_booking::Column::Id).limit(limit + 1).all(&ctx.db).await?;
    let next = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|b| b.id)
    } else {
        None
    };
    Ok((booking_views(&ctx.db, rows, false).await?, next))
}

/// Requested bookings of the venues the caller manages, soonest first, with the closures
/// that now overlap them. For committees and entrusted leaders.
pub async fn review_queue(
    ctx: &AppContext,
    user: &AuthUser,
    after: Option<i64>,
    limit: u64,
) -> AppResult<(Vec<BookingView>, Option<i64>)> {
    let mut managed = Condition::any();
    if !user.is_system_admin() {
        let mut paths = Vec::new();
        for g in user.grants_of(Role::Committee) {
            if let Some(scope) = g.scope_id {
                paths.push(region_path(&ctx.db, scope).await?);
            }
        }
        let led: Vec<i64> = user.grants_of(Role::OrgLeader).filter_map(|g| g.scope_id).collect();
        if paths.is_empty() && led.is_empty() {
            return Err(AppError::Forbidden("requires a committee or an entrusted leader"));
        }
        if !paths.is_empty() {
            managed = managed.add(venue::Column::CommunityId.in_subquery(regions_under(&paths)));
        }
        if !led.is_empty() {
            managed = managed.add(venue::Column::EntrustedOrgId.is_in(led));
        }
    }
    let venue_ids: Vec<i64> =
        venue::Entity::find().select_only().column(venue::Column::Id).filter(managed).into_tuple().all(&ctx.db).await?;
    let mut q = venue_booking::Entity::find()
        .filter(venue_booking::Column::VenueId.is_in(venue_ids))
        .filter(venue_booking::Column::Status.eq(BookingStatus::Requested.as_str()));
    if let Some(after) = after {
        q = q.filter(venue_booking::Column::Id.gt(after));
    }
    let mut rows = q.order_by_asc(venue_booking::Column::Id).limit(limit + 1).all(&ctx.db).await?;
    let next = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|b| b.id)
    } else {
        None
    };
    Ok((booking_views(&ctx.db, rows, true).await?, next))
}

// ---- activities held in a venue ------------------------------------------------------

/// What an activity shows of its room.
#[derive(Debug, Clone)]
pub struct VenueSummary {
    pub id: i64,
    pub name: String,
    pub address: String,
    pub accessibility: Option<String>,
}

impl From<venue::Model> for VenueSummary {
    fn from(v: venue::Model) -> Self {
        Self { id: v.id, name: v.name, address: v.address, accessibility: v.accessibility }
    }
}

pub async fn summaries(db: &impl ConnectionTrait, ids: Vec<i64>) -> AppResult<HashMap<i64, VenueSummary>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(venue::Entity::find()
        .filter(venue::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|v| (v.id, v.into()))
        .collect())
}

/// The venue an activity may be held in: open, in a community the organization may hold
/// activities in, and large enough.
pub async fn venue_for_activity(db: &impl ConnectionTrait, venue_id: i64, capacity: i32) -> AppResult<venue::Model> {
    let v = venue::Entity::find_by_id(venue_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::invalid("venue_id", "not_found", "所选场地不存在"))?;
    if v.status != VenueStatus::Open.as_str() {
        return Err(AppError::invalid("venue_id", "venue_closed", "所选场地已停用"));
    }
    if capacity > v.capacity {
        return Err(AppError::invalid(
            "capacity",
            "over_capacity",
            format!("活动名额不能超过场地容纳人数（{} 人）", v.capacity),
        ));
    }
    Ok(v)
}

/// Locks the venue an activity names, before the activity's own row: venue rows are
/// always locked before activity rows, so a booking decision and an activity change
/// never wait on each other in opposite orders.
pub async fn lock_for_activity(txn: &DatabaseTransaction, venue_id: Option<i64>) -> AppResult<Option<venue::Model>> {
    match venue_id {
        Some(id) => Ok(Some(lock(txn, id).await?)),
        None => Ok(None),
    }
}

async fn activity_booking(db: &impl ConnectionTrait, activity_id: i64) -> AppResult<Option<venue_booking::Model>> {
    Ok(venue_booking::Entity::find()
        .filter(venue_booking::Column::ActivityId.eq(activity_id))
        .filter(venue_booking::Column::Status.is_in(HOLDING))
        .one(db)
        .await?)
}

pub(crate) async fn set_booking_status(
    db: &impl ConnectionTrait,
    b: &venue_booking::Model,
    to: BookingStatus,
    actor: Option<i64>,
    reason: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    venue_booking::Entity::update_many()
        .col_expr(venue_booking::Column::Status, Expr::value(to.as_str()))
        .col_expr(venue_booking::Column::UpdatedAt, Expr::value(now))
        .filter(venue_booking::Column::Id.eq(b.id))
        .exec(db)
        .await?;
    record(db, b.id, to.as_str(), actor, Some(reason.to_owned()), now).await?;
    work_queue::settle(db, &format!("booking:{}", b.id), now).await
}

/// Checks a span of a locked venue for a booking (`except`: the booking being moved) and
/// returns what it would block until.
async fn check_span(
    txn: &DatabaseTransaction,
    v: &venue::Model,
    span: &Span,
    attendance: i64,
    except: Option<i64>,
    now: DateTime<Utc>,
) -> AppResult<DateTime<Utc>> {
    let rules = rules_of(v);
    let hours = hours_of(txn, v.id).await?;
    let closures: Vec<Closure> = closures_between(txn, v.id, span.starts_at, span.ends_at)
        .await?
        .into_iter()
        .map(|c| Closure { starts_at: c.starts_at, ends_at: c.ends_at, reason: c.reason })
        .collect();
    check(&rules, &hours, &closures, span, attendance, now).map_err(refusal_error)?;
    let blocked_until = rules.blocked_until(span.ends_at);
    if let Some(other) = clash(txn, v.id, span.starts_at, blocked_until, except).await? {
        return Err(taken(txn, &other).await?);
    }
    Ok(blocked_until)
}

/// On publishing an activity held in `v` (locked): the booking that covers its time, its
/// own or an unlinked one of its organization, or else a new request for it. Returns the
/// booking's status: `approved` lets the activity publish; `requested` holds it until the
/// venue's manager decides.
pub async fn hold_for_activity(
    txn: &DatabaseTransaction,
    v: &venue::Model,
    a: &crate::entity::activity::Model,
    user_id: i64,
    now: DateTime<Utc>,
) -> AppResult<BookingStatus> {
    let covers = |b: &venue_booking::Model| b.starts_at <= a.starts_at && a.ends_at <= b.ends_at;
    let status_of = |b: &venue_booking::Model| BookingStatus::parse(&b.status).unwrap_or(BookingStatus::Requested);
    if let Some(b) = activity_booking(txn, a.id).await? {
        if covers(&b) {
            return Ok(status_of(&b));
        }
        set_booking_status(txn, &b, BookingStatus::Cancelled, Some(user_id), "活动时间已改", now).await?;
    }
    let spare = venue_booking::Entity::find()
        .filter(venue_booking::Column::VenueId.eq(v.id))
        .filter(venue_booking::Column::OrganizationId.eq(a.organization_id))
        .filter(venue_booking::Column::ActivityId.is_null())
        .filter(venue_booking::Column::Status.is_in(HOLDING))
        .filter(venue_booking::Column::StartsAt.lte(a.starts_at))
        .filter(venue_booking::Column::EndsAt.gte(a.ends_at))
        .one(txn)
        .await?;
    if let Some(b) = spare {
        venue_booking::Entity::update_many()
            .col_expr(venue_booking::Column::ActivityId, Expr::value(a.id))
            .filter(venue_booking::Column::Id.eq(b.id))
            .exec(txn)
            .await?;
        return Ok(status_of(&b));
    }
    let span = Span::parse(a.starts_at, a.ends_at)
        .ok_or_else(|| AppError::invalid("ends_at", "before_start", "结束时间须晚于开始时间"))?;
    let blocked_until = check_span(txn, v, &span, a.capacity as i64, None, now).await?;
    let new = NewBooking {
        venue: v,
        organization_id: a.organization_id,
        activity_id: Some(a.id),
        series_id: None,
        purpose: a.title.chars().take(200).collect(),
        attendance: a.capacity as i64,
        span,
        blocked_until,
        requested_by: user_id,
        note: Some("为活动预约".to_owned()),
    };
    let (id, status) = insert_booking(txn, new, now).await?;
    if status == BookingStatus::Requested {
        work_queue::announce_booking(txn, v, &format!("booking:{id}"), a.organization_id, &a.title, now).await?;
    }
    Ok(status)
}

/// Whether activity `id`'s room booking is approved (the room gate of
/// [`crate::domain::activity::Gates`]).
pub async fn room_approved(db: &impl ConnectionTrait, activity_id: i64) -> AppResult<bool> {
    Ok(activity_booking(db, activity_id).await?.is_some_and(|b| b.status == BookingStatus::Approved.as_str()))
}

/// Moves the booking of an activity held in `v` (locked) with the activity, in the
/// caller's transaction: refused (and so the move) when the new span is taken or breaks
/// the venue's rules (the contract: the booking moves with the activity, its
/// history says so; a move inside the booking's span leaves the span as granted). A
/// published activity whose booking was withdrawn (a closure) gets
/// its room back only with an approved booking for the new span: one the venue confirms
/// at once, or one its organization already holds (`room_booking_needed` otherwise: book
/// the new span first, then move the activity).
pub async fn move_for_activity(
    txn: &DatabaseTransaction,
    v: &venue::Model,
    a: &crate::entity::activity::Model,
    user_id: i64,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let published = a.status == crate::domain::activity::ActivityStatus::Published.as_str();
    let needed =
        || conflict("room_booking_needed", format!("「{}」需审批：请先为新时间预约场地，获批后再修改活动时间", v.name));
    let Some(b) = activity_booking(txn, a.id).await? else {
        if published && hold_for_activity(txn, v, a, user_id, now).await? != BookingStatus::Approved {
            return Err(needed());
        }
        return Ok(());
    };
    if b.starts_at <= a.starts_at && a.ends_at <= b.ends_at {
        // Still inside what the room granted: the booking keeps its span.
        return Ok(());
    }
    let span = Span::parse(a.starts_at, a.ends_at)
        .ok_or_else(|| AppError::invalid("ends_at", "before_start", "结束时间须晚于开始时间"))?;
    let blocked_until = check_span(txn, v, &span, a.capacity as i64, Some(b.id), now).await?;
    venue_booking::Entity::update_many()
        .col_expr(venue_booking::Column::StartsAt, Expr::value(a.starts_at))
        .col_expr(venue_booking::Column::EndsAt, Expr::value(a.ends_at))
        .col_expr(venue_booking::Column::BlockedUntil, Expr::value(blocked_until))
        .col_expr(venue_booking::Column::UpdatedAt, Expr::value(now))
        .filter(venue_booking::Column::Id.eq(b.id))
        .exec(txn)
        .await
        .map_err(|e| {
            if is_exclusion_violation(&e) {
                conflict("venue_taken", "该时段已被其他组织占用")
            } else {
                e.into()
            }
        })?;
    record(txn, b.id, "moved", Some(user_id), Some(format!("随活动改至 {}", span_text(a.starts_at, a.ends_at))), now)
        .await
}

/// Cancels the booking of a cancelled activity, in the caller's transaction.
pub async fn release_for_activity(
    txn: &DatabaseTransaction,
    activity_id: i64,
    user_id: i64,
    now: DateTime<Utc>,
) -> AppResult<()> {
    if let Some(b) = activity_booking(txn, activity_id).await? {
        set_booking_status(txn, &b, BookingStatus::Cancelled, Some(user_id), "活动已取消", now).await?;
    }
    Ok(())
}

// ---- closures --------------------------------------------------------------------------

/// A closure and the bookings it cancelled.
#[derive(Debug, Clone)]
pub struct ClosureOutcome {
    pub closure: venue_closure::Model,
    pub cancelled: Vec<i64>,
}

/// Closes a venue for a span (holiday, repairs): the holding bookings it hits are
/// cancelled in the same transaction and their requesters told. The venue's managers.
pub async fn close(
    ctx: &AppContext,
    user: &AuthUser,
    venue_id: i64,
    span: Span,
    reason: String,
) -> AppResult<ClosureOutcome> {
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let v = lock(&txn, venue_id).await?;
    require_venue_manager(&txn, user, &v).await?;
    if span.ends_at <= now {
        return Err(AppError::invalid("ends_at", "in_the_past", "暂停开放的结束时间须在将来"));
    }
    let inserted = venue_closure::Entity::insert(venue_closure::ActiveModel {
        venue_id: Set(venue_id),
        starts_at: Set(span.starts_at),
        ends_at: Set(span.ends_at),
        reason: Set(reason.clone()),
        created_by: Set(Some(user.id)),
        created_at: Set(now),
        ..Default::default()
    })
    .exec(&txn)
    .await?;
    let hit = venue_booking::Entity::find()
        .filter(venue_booking::Column::VenueId.eq(venue_id))
        .filter(venue_booking::Column::Status.is_in(HOLDING))
        .filter(venue_booking::Column::StartsAt.lt(span.ends_at))
        .filter(venue_booking::Column::EndsAt.gt(span.starts_at))
        .all(&txn)
        .await?;
    let why = format!("场地暂停开放：{reason}");
    let mut notices = Vec::new();
    for b in &hit {
        set_booking_status(&txn, b, BookingStatus::Cancelled, Some(user.id), &why, now).await?;
        if let Some(activity_id) = b.activity_id {
            notices.extend(activities::room_withdrawn(&txn, activity_id, now).await?);
        }
        if let Some(requester) = b.requested_by {
            notices.push(booking_notice(&v, b, requester, "booking_cancelled", Some(&why)));
        }
    }
    enqueue(&txn, notices, now).await?;
    txn.commit().await?;
    let closure = venue_closure::Entity::find_by_id(inserted.last_insert_id)
        .one(&ctx.db)
        .await?
        .ok_or(AppError::NotFound("venue"))?;
    Ok(ClosureOutcome { closure, cancelled: hit.into_iter().map(|b| b.id).collect() })
}
