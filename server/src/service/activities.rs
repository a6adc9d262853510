//! Activities and sign-ups. Capacity and waitlist order are settled inside one
//! transaction holding the activity row (`FOR UPDATE` on PostgreSQL; `BEGIN IMMEDIATE`
//! serialises writers on SQLite), with the counters kept on that row and a unique
//! (activity, resident) index for idempotency. Nothing is read and then written outside it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, Order, Query, SelectStatement},
};

use crate::{
    auth::{
        AuthUser,
        scope::{holds_region_role, region_path},
    },
    context::AppContext,
    domain::{
        activity::{ActivityKind, ActivityStatus, Capacity, Gates, SignupStatus, TimeWindow, may_cancel},
        clock::to_shanghai,
        organization::{OrgStatus, ServiceTarget},
        proxy::ProxyAct,
        role::Role,
        signup::{PLACE_HOLDING, SignupAction, Step, counter_delta, next},
        venue::BookingStatus,
    },
    entity::{activity, organization, region, signup, user},
    error::{AppError, AppResult},
    service::work_queue::{self, Waiting},
    service::{
        begin_write,
        geo::{self, Cursor},
        lock_free_users,
        notifications::{Notice, cancel_reminders, enqueue},
        organization_scope::regions_under,
        retrying,
        venues::{self, VenueSummary},
    },
    wechat::Moderation,
};

#[derive(Debug, Clone)]
pub struct ActivityInput {
    pub kind: ActivityKind,
    pub title: String,
    pub description: String,
    /// `None`: the venue's name and address (a venue is then required).
    pub location: Option<String>,
    pub at: Option<(f64, f64)>,
    pub window: TimeWindow,
    pub capacity: Capacity,
    pub waitlist_enabled: bool,
    /// `None`: the duration.
    pub service_minutes: Option<i32>,
    pub target_groups: Vec<ServiceTarget>,
    pub age_note: Option<String>,
    pub skill_note: Option<String>,
    pub cancel_cutoff_minutes: i32,
    /// `None`: the organization's community.
    pub community_id: Option<i64>,
    /// The shared room it is held in: publishing needs an approved booking of it.
    pub venue_id: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct ActivityPatch {
    pub kind: Option<ActivityKind>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub location: Option<String>,
    pub at: Option<(f64, f64)>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub signup_deadline: Option<DateTime<Utc>>,
    pub capacity: Option<Capacity>,
    pub waitlist_enabled: Option<bool>,
    pub service_minutes: Option<i32>,
    pub target_groups: Option<Vec<ServiceTarget>>,
    pub age_note: Option<String>,
    pub skill_note: Option<String>,
    pub cancel_cutoff_minutes: Option<i32>,
    /// A change to a whole series (`service::series::edit`), whose texts WeChat checked
    /// once: its verdict. `None`: this activity alone — a date of a series edited so keeps
    /// its own values when the series changes (`series_override`).
    pub series_verdict: Option<Moderation>,
}

/// Why a time window was refused, as a field error.
pub fn window_error(e: crate::domain::activity::WindowError) -> AppError {
    use crate::domain::activity::WindowError::*;
    match e {
        StartsInPast => AppError::invalid("starts_at", "in_past", "开始时间须在将来"),
        EndsBeforeStart => AppError::invalid("ends_at", "before_start", "结束时间须晚于开始时间"),
        TooLong => AppError::invalid("ends_at", "too_long", "活动时长不超过 7 天"),
        DeadlineAfterStart => AppError::invalid("signup_deadline", "after_start", "报名截止时间不能晚于开始时间"),
        DeadlinePassed => AppError::invalid("signup_deadline", "in_past", "报名截止时间须在将来"),
        TooFarAhead => AppError::invalid("starts_at", "too_far_ahead", "活动开始时间不能超出可预排的期限（默认两年）"),
    }
}

fn status_of(a: &activity::Model) -> ActivityStatus {
    ActivityStatus::parse(&a.status).unwrap_or(ActivityStatus::Draft)
}

pub fn signup_status(s: &signup::Model) -> SignupStatus {
    SignupStatus::parse(&s.status).unwrap_or(SignupStatus::Cancelled)
}

async fn find(db: &impl ConnectionTrait, id: i64) -> AppResult<activity::Model> {
    activity::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("activity"))
}

/// Reads the activity and holds it until the transaction ends.
pub(crate) async fn lock(txn: &DatabaseTransaction, id: i64) -> AppResult<activity::Model> {
    activity::Entity::find_by_id(id).lock_exclusive().one(txn).await?.ok_or(AppError::NotFound("activity"))
}

fn is_staff(user: &AuthUser, org_id: i64) -> bool {
    user.is_system_admin()
        || user.grants.iter().any(|g| matches!(g.role, Role::OrgStaff | Role::OrgLeader) && g.scope_id == Some(org_id))
}

/// The caller posts and manages the organization's activities.
pub fn require_org_staff(user: &AuthUser, org_id: i64) -> AppResult<()> {
    if is_staff(user, org_id) { Ok(()) } else { Err(AppError::Forbidden("requires organization staff")) }
}

/// The roster (and attendance) is for the organization's staff and the officials over
/// the activity's community.
pub async fn require_roster_view(db: &impl ConnectionTrait, user: &AuthUser, a: &activity::Model) -> AppResult<()> {
    if may_see_roster(db, user, a).await? { Ok(()) } else { Err(AppError::Forbidden("requires organization staff")) }
}

/// Staff of the organization, an official over the activity's community or over the
/// organization's own (the officials over an organization keep sight of all it holds), or
/// the supervisor of a funded project the activity is evidence for.
async fn may_see_roster(db: &impl ConnectionTrait, user: &AuthUser, a: &activity::Model) -> AppResult<bool> {
    if is_staff(user, a.organization_id) {
        return Ok(true);
    }
    // The supervisor (督导) of a funded project counting it.
    if crate::service::projects::supervises_activity(db, user.id, a.id).await? {
        return Ok(true);
    }
    const OFFICIALS: [Role; 3] = [Role::Committee, Role::Street, Role::CivilAffairs];
    let path = region_path(db, a.community_id).await?;
    if holds_region_role(user, &OFFICIALS, &path) {
        return Ok(true);
    }
    let org_path = crate::service::organization_scope::community_path(db, a.organization_id).await?;
    Ok(org_path.is_some_and(|p| holds_region_role(user, &OFFICIALS, &p)))
}

fn conflict(code: &'static str, zh: &str) -> AppError {
    AppError::Conflict(code, zh.to_owned())
}

/// `2026年12月1日 09:30` in Asia/Shanghai, as notices and WeChat templates show time.
pub fn display_time(t: DateTime<Utc>) -> String {
    to_shanghai(t).format("%Y年%-m月%-d日 %H:%M").to_string()
}

// ---- posting and managing --------------------------------------------------------------

pub use super::activity_posting::create;

/// Where an organization may hold an activity: its own community, or another community
/// of the same street or township (a street office's organizations serve its whole
/// street). Anything farther would put the activity, its roster and its figures under
/// officials who do not oversee the organization.
pub fn may_host(org_community: Option<&region::Model>, target: &region::Model) -> bool {
    org_community.is_some_and(|home| {
        target.level == "community"
            && (target.id == home.id || (home.parent_id.is_some() && target.parent_id == home.parent_id))
    })
}

pub(crate) fn join_targets(targets: &[ServiceTarget]) -> String {
    targets.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(",")
}

pub fn split_targets(s: &str) -> Vec<String> {
    s.split(',').filter(|t| !t.is_empty()).map(str::to_owned).collect()
}

/// `PATCH /activities/{id}`. A change of time or place on a published activity bumps its
/// version and tells everyone signed up; more places promote from the waitlist.
pub async fn update(ctx: &AppContext, user: &AuthUser, id: i64, patch: ActivityPatch) -> AppResult<ActivityView> {
    retrying(|| update_once(ctx, user, id, patch.clone())).await
}

async fn update_once(ctx: &AppContext, user: &AuthUser, id: i64, patch: ActivityPatch) -> AppResult<ActivityView> {
    let seen = find(&ctx.db, id).await?;
    require_org_staff(user, seen.organization_id)?;
    // New text passes WeChat's check before the transaction (never hold one across a call).
    let verdict = match patch.series_verdict {
        Some(v) => v,
        None => {
            let texts = [
                patch.title.as_deref(),
                patch.description.as_deref(),
                patch.location.as_deref(),
                patch.age_note.as_deref(),
                patch.skill_note.as_deref(),
            ];
            moderate_texts(ctx, user.id, &texts).await?
        }
    };
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let venue = venues::lock_for_activity(&txn, seen.venue_id).await?;
    let current = lock(&txn, id).await?;
    let status = status_of(&current);
    if !matches!(status, ActivityStatus::Draft | ActivityStatus::Held | ActivityStatus::Published) {
        return Err(conflict("activity_closed", "活动已取消或已结束，不能修改"));
    }
    if let (Some(capacity), Some(v)) = (patch.capacity, &venue)
        && capacity.get() > v.capacity
    {
        return Err(AppError::invalid(
            "capacity",
            "over_capacity",
            format!("活动名额不能超过场地容纳人数（{} 人）", v.capacity),
        ));
    }
    // `review` holds a published activity for the committee, as on publishing; a draft
    // is checked again when it is published.
    let held = match verdict {
        Moderation::Risky => return Err(AppError::ContentRisky),
        Moderation::Review => matches!(status, ActivityStatus::Published | ActivityStatus::Held),
        Moderation::Pass => false,
    };
    let timing_changed = patch.starts_at.is_some() || patch.ends_at.is_some() || patch.signup_deadline.is_some();
    let window = if timing_changed {
        let starts = patch.starts_at.unwrap_or(current.starts_at);
        let deadline =
            patch.signup_deadline.or(if patch.starts_at.is_some() && current.signup_deadline == current.starts_at {
                None
            } else {
                Some(current.signup_deadline)
            });
        let ends = patch.ends_at.unwrap_or(current.ends_at);
        Some(TimeWindow::parse(starts, ends, deadline, now, ctx.config.activity_horizon).map_err(window_error)?)
    } else {
        None
    };
    let moved = window.is_some_and(|w| w.starts_at != current.starts_at || w.ends_at != current.ends_at);
    let relocated = patch.location.as_ref().is_some_and(|l| *l != current.location)
        || patch.at.is_some_and(|(lat, lng)| Some(lat) != current.latitude || Some(lng) != current.longitude);
    if let Some(capacity) = patch.capacity
        && capacity.get() < current.confirmed_count
    {
        return Err(conflict(
            "capacity_below_confirmed",
            &format!("已有 {} 人确认报名，名额不能少于此数", current.confirmed_count),
        ));
    }
    let duration = window.map(|w| w.minutes()).unwrap_or((current.ends_at - current.starts_at).num_minutes());
    let service_minutes = patch.service_minutes.unwrap_or(Ord::min(current.service_minutes, duration as i32));
    if service_minutes as i64 > duration {
        return Err(AppError::invalid("service_hours", "too_many", "服务时长不能超过活动时长"));
    }

    let mut active = current.clone().into_active_model();
    if let Some(v) = patch.kind {
        active.kind = Set(v.as_str().to_owned());
    }
    if let Some(v) = patch.title {
        active.title = Set(v);
    }
    if let Some(v) = patch.description {
        active.description = Set(v);
    }
    if let Some(v) = patch.location {
        active.location = Set(v);
    }
    if let Some((lat, lng)) = patch.at {
        active.latitude = Set(Some(lat));
        active.longitude = Set(Some(lng));
    }
    if let Some(w) = window {
        active.starts_at = Set(w.starts_at);
        active.ends_at = Set(w.ends_at);
        active.signup_deadline = Set(w.signup_deadline);
    }
    if let Some(v) = patch.capacity {
        active.capacity = Set(v.get());
    }
    if let Some(v) = patch.waitlist_enabled {
        active.waitlist_enabled = Set(v);
    }
    active.service_minutes = Set(service_minutes);
    if let Some(v) = patch.target_groups {
        active.target_groups = Set(join_targets(&v));
    }
    if let Some(v) = patch.age_note {
        active.age_note = Set(Some(v));
    }
    if let Some(v) = patch.skill_note {
        active.skill_note = Set(Some(v));
    }
    if let Some(v) = patch.cancel_cutoff_minutes {
        active.cancel_cutoff_minutes = Set(v);
    }
    if current.series_id.is_some() && patch.series_verdict.is_none() {
        active.series_override = Set(true);
    }
    let tell = status == ActivityStatus::Published && (moved || relocated);
    if tell {
        active.version = Set(current.version + 1);
    }
    active.updated_at = Set(now);
    let updated = active.update(&txn).await?;
    if let Some(v) = &venue
        && (moved || patch.capacity.is_some())
    {
        // The room's booking moves with the activity, or neither moves.
        venues::move_for_activity(&txn, v, &updated, user.id, now).await?;
    }
    let (mut notices, mut follow_up) = (Vec::new(), false);
    if tell {
        // Residents whose place here now clashes with a place elsewhere go back to the
        // queue (the no-clash rule); the organizer's move caused it, so this place yields.
        let displaced = if moved { displace(&txn, &updated, now).await? } else { Vec::new() };
        if moved {
            // Reminders follow the new time: the old ones are withdrawn, new ones made.
            cancel_reminders(&txn, id, None).await?;
            for user_id in confirmed_signups(&txn, id).await? {
                notices.extend(reminders(&updated, user_id, now, &ctx.config.reminder_offsets));
            }
        }
        for user_id in active_signups(&txn, id).await? {
            let key = format!("activity_changed:{id}:v{}:{user_id}", updated.version);
            notices.push(if displaced.contains(&user_id) {
                notice(&updated, user_id, "activity_changed", format!("{key}{DISPLACED}"), None)
            } else {
                notice(&updated, user_id, "activity_changed", key, None)
            });
        }
    }
    // Notices not yet sent describe the activity as it is now (inbox and push agree).
    rerender_pending(&txn, &updated).await?;
    if status == ActivityStatus::Published {
        let fresh = find(&txn, id).await?;
        let promotion = promote(&txn, &fresh, now, &ctx.config.reminder_offsets).await?;
        notices.extend(promotion.notices);
        follow_up = promotion.skipped_busy;
    }
    if held {
        let room_approved = match &venue {
            Some(_) => Some(venues::room_approved(&txn, id).await?),
            None => None,
        };
        apply_gates(&txn, &updated, Gates { review_pending: true, room_approved }, now).await?;
        work_queue::announce(
            &txn,
            Waiting::Moderation,
            updated.community_id,
            updated.organization_id,
            Some(id),
            &updated.title,
            now,
        )
        .await?;
    }
    enqueue(&txn, notices, now).await?;
    txn.commit().await?;
    if follow_up {
        crate::service::promotions::later(ctx, id);
    }
    detail(ctx, Some(user), id).await
}

/// Suffix of the dedupe key of a change notice to a resident whose place went back to the
/// queue because the move made it clash.
const DISPLACED: &str = ":displaced";

/// Marks (in the dedupe key) a change notice telling a resident the activity's room was
/// withdrawn (a closure, or its manager cancelled the booking).
const ROOM_LOST: &str = ":room_lost";

/// The text an activity notice is rendered from: a change notice reads differently to a
/// resident whose place was displaced or whose room was withdrawn.
fn text_kind<'a>(kind: &'a str, dedupe_key: &str) -> &'a str {
    match kind {
        "activity_changed" if dedupe_key.ends_with(DISPLACED) => "activity_changed_displaced",
        "activity_changed" if dedupe_key.contains(ROOM_LOST) => "activity_room_lost",
        _ => kind,
    }
}

/// What a notice about an activity says, in one place: a notice queued now and a pending
/// one re-rendered after the activity changed read the same, and the WeChat push (built
/// from the same activity at send time) agrees with the inbox. `extra`: the reason of a
/// cancellation or removal.
pub fn notice_text(kind: &str, a: &activity::Model, extra: Option<&str>) -> (String, String) {
    let (title, when, place) = (&a.title, display_time(a.starts_at), &a.location);
    let extra = extra.unwrap_or_default();
    let (head, body) = match kind {
        "signup_confirmed" => ("报名成功", format!("您已报名「{title}」。时间 {when}，地点 {place}。")),
        "reminder" => ("活动提醒", format!("您报名的「{title}」将于 {when} 开始，地点 {place}。")),
        "waitlist_promoted" => (
            "候补成功，名额已确认",
            format!("您候补的「{title}」有了空位，已为您确认名额。时间 {when}，地点 {place}。"),
        ),
        "activity_changed" => (
            "活动时间或地点变更",
            format!("您报名的「{title}」有变更：时间 {when}，地点 {place}。如无法参加，请及时取消报名。"),
        ),
        "activity_changed_displaced" => (
            "活动时间变更，名额转为候补",
            format!(
                "您报名的「{title}」改到 {when}（地点 {place}），与您已确认的同一时段其他活动冲突，此活动的名额已转为候补。"
            ),
        ),
        "activity_room_lost" => (
            "活动场地暂不可用",
            format!(
                "您报名的「{title}」（{when}）原定场地「{place}」暂时无法使用，组织方将另行通知时间或地点。如无法参加，请及时取消报名。"
            ),
        ),
        "activity_cancelled" => ("活动已取消", format!("很抱歉，「{title}」（{when}）已取消。原因：{extra}")),
        "signup_removed" => ("报名已被组织方取消", format!("组织方取消了您在「{title}」的报名。原因：{extra}")),
        _ => ("活动通知", format!("「{title}」 {when}，地点 {place}。")),
    };
    (head.to_owned(), body)
}

/// A notice about `a` to one resident, its text from [`notice_text`].
/// The notice that a resident's place is confirmed (one per place taken: keyed by its seq).
pub(crate) fn confirmed_notice(a: &activity::Model, user_id: i64, seq: i64) -> Notice {
    notice(a, user_id, "signup_confirmed", format!("signup_confirmed:{}:{seq}", a.id), None)
}

fn notice(a: &activity::Model, user_id: i64, kind: &'static str, dedupe_key: String, extra: Option<&str>) -> Notice {
    let (title, body) = notice_text(text_kind(kind, &dedupe_key), a, extra);
    Notice {
        user_id,
        kind,
        title,
        body,
        activity_id: Some(a.id),
        organization_id: Some(a.organization_id),
        dedupe_key,
        due_at: None,
        offset_secs: None,
    }
}

/// Re-renders the notices of `a` that have not been sent yet, so a reminder that falls
/// due after a change of title, time or place names the activity as it is.
async fn rerender_pending(txn: &DatabaseTransaction, a: &activity::Model) -> AppResult<()> {
    use crate::entity::notification;
    let pending = notification::Entity::find()
        .filter(notification::Column::ActivityId.eq(a.id))
        .filter(notification::Column::State.eq(crate::service::notifications::state::PENDING))
        .filter(notification::Column::Kind.is_in([
            "signup_confirmed",
            "reminder",
            "waitlist_promoted",
            "activity_changed",
            "signup_removed",
        ]))
        .all(txn)
        .await?;
    for n in pending {
        let reason = if n.kind == "signup_removed" {
            signup::Entity::find()
                .filter(signup::Column::ActivityId.eq(a.id))
                .filter(signup::Column::UserId.eq(n.on_behalf_of.unwrap_or(n.user_id)))
                .one(txn)
                .await?
                .and_then(|s| s.reason)
        } else {
            None
        };
        let (title, body) = notice_text(text_kind(&n.kind, &n.dedupe_key), a, reason.as_deref());
        let (title, body) = crate::service::proxies::notices::readdress(&n, title, body);
        if (title.as_str(), body.as_str()) != (n.title.as_str(), n.body.as_str()) {
            notification::Entity::update_many()
                .col_expr(notification::Column::Title, Expr::value(title))
                .col_expr(notification::Column::Body, Expr::value(body))
                .filter(notification::Column::Id.eq(n.id))
                .exec(txn)
                .await?;
        }
    }
    Ok(())
}

/// After `a` moved: confirmed residents who now hold a clashing place elsewhere go back to
/// the queue (`SignupAction::Displace`); returns who.
async fn displace(txn: &DatabaseTransaction, a: &activity::Model, now: DateTime<Utc>) -> AppResult<Vec<i64>> {
    let clashing = signup::Entity::find()
        .filter(signup::Column::ActivityId.eq(a.id))
        .filter(signup::Column::Status.eq(SignupStatus::Confirmed.as_str()))
        .filter(signup::Column::UserId.in_subquery(holding_clashing_place(a)))
        .all(txn)
        .await?;
    let mut out = Vec::with_capacity(clashing.len());
    for s in clashing {
        if let Step::Move(to) = next(Some(signup_status(&s)), SignupAction::Displace) {
            move_signup(txn, &s, to, None, now).await?;
            out.push(s.user_id);
        }
    }
    Ok(out)
}

async fn active_signups(db: &impl ConnectionTrait, activity_id: i64) -> AppResult<Vec<i64>> {
    Ok(signup::Entity::find()
        .select_only()
        .column(signup::Column::UserId)
        .filter(signup::Column::ActivityId.eq(activity_id))
        .filter(signup::Column::Status.is_in([SignupStatus::Confirmed.as_str(), SignupStatus::Waitlisted.as_str()]))
        .into_tuple()
        .all(db)
        .await?)
}

async fn confirmed_signups(db: &impl ConnectionTrait, activity_id: i64) -> AppResult<Vec<i64>> {
    Ok(signup::Entity::find()
        .select_only()
        .column(signup::Column::UserId)
        .filter(signup::Column::ActivityId.eq(activity_id))
        .filter(signup::Column::Status.eq(SignupStatus::Confirmed.as_str()))
        .into_tuple()
        .all(db)
        .await?)
}

/// Reminders for a confirmed resident, one per offset before the start, skipping those
/// whose moment has already passed. The activity's version is in the key, so a moved
/// activity gets fresh reminders.
pub fn reminders(
    a: &activity::Model,
    user_id: i64,
    now: DateTime<Utc>,
    offsets: &[std::time::Duration],
) -> Vec<Notice> {
    offsets
        .iter()
        .filter_map(|offset| {
            let secs = offset.as_secs() as i64;
            let due = a.starts_at - chrono::Duration::seconds(secs);
            (due > now).then(|| Notice {
                due_at: Some(due),
                offset_secs: Some(secs as i32),
                ..notice(a, user_id, "reminder", format!("reminder:{}:v{}:{user_id}:{secs}", a.id, a.version), None)
            })
        })
        .collect()
}

/// What a promotion did: the notices to queue, how many it promoted, and whether it
/// stopped at a resident busy in another place-taking transaction while places stayed
/// free — then `service::promotions::later` runs it again once that transaction is over.
#[derive(Debug, Default)]
pub(crate) struct Promotion {
    pub notices: Vec<Notice>,
    pub promoted: usize,
    pub skipped_busy: bool,
}

/// Fills free places from the head of the waitlist, in order, telling each promoted
/// resident. Runs inside the transaction that freed the places (`a` as that transaction
/// holds it). A caller whose promotion answers `skipped_busy` calls
/// `service::promotions::later` for the activity.
pub(crate) async fn promote(
    txn: &DatabaseTransaction,
    a: &activity::Model,
    now: DateTime<Utc>,
    offsets: &[std::time::Duration],
) -> AppResult<Promotion> {
    let places = a.capacity - a.confirmed_count;
    if places <= 0 || a.waitlist_count == 0 {
        return Ok(Promotion::default());
    }
    // The first in the queue, locked as a sign-up locks its resident, so a clash is not
    // created by a sign-up elsewhere at the same moment (a resident busy in another
    // transaction right now is never waited for: the promotion stops before them); those
    // holding a clashing place elsewhere are passed over and stay queued.
    let candidates: Vec<i64> = signup::Entity::find()
        .select_only()
        .column(signup::Column::UserId)
        .filter(signup::Column::ActivityId.eq(a.id))
        .filter(signup::Column::Status.eq(SignupStatus::Waitlisted.as_str()))
        .order_by_asc(signup::Column::Seq)
        .limit(places as u64 * 2 + 10)
        .into_tuple()
        .all(txn)
        .await?;
    // In queue order up to the first one busy elsewhere: nobody behind them is promoted
    // before them (the follow-up comes back for them, `service::promotions::later`).
    let free_to_promote = lock_free_users(txn, &candidates).await?;
    let free: std::collections::HashSet<i64> = free_to_promote.into_iter().collect();
    let first_busy = candidates.iter().position(|user| !free.contains(user));
    let in_order = &candidates[..first_busy.unwrap_or(candidates.len())];
    let heads = signup::Entity::find()
        .filter(signup::Column::ActivityId.eq(a.id))
        .filter(signup::Column::Status.eq(SignupStatus::Waitlisted.as_str()))
        .filter(signup::Column::UserId.is_in(in_order.iter().copied()))
        .filter(signup::Column::UserId.not_in_subquery(holding_clashing_place(a)))
        .order_by_asc(signup::Column::Seq)
        .limit(places as u64)
        .all(txn)
        .await?;
    let skipped_busy = first_busy.is_some() && heads.len() < places as usize;
    if heads.is_empty() {
        return Ok(Promotion { skipped_busy, ..Promotion::default() });
    }
    let Step::Move(to) = next(Some(SignupStatus::Waitlisted), SignupAction::Promote) else {
        return Err(AppError::Internal(anyhow::anyhow!("the sign-up table does not promote")));
    };
    let n = heads.len() as i32;
    signup::Entity::update_many()
        .col_expr(signup::Column::Status, Expr::value(to.as_str()))
        .col_expr(signup::Column::UpdatedAt, Expr::value(now))
        .filter(signup::Column::Id.is_in(heads.iter().map(|s| s.id).collect::<Vec<_>>()))
        .exec(txn)
        .await?;
    let (places, queue) = counter_delta(Some(SignupStatus::Waitlisted), to);
    add_to_counters(txn, a.id, (places * n, queue * n)).await?;
    let reminders: Vec<Notice> = heads.iter().flat_map(|s| reminders(a, s.user_id, now, offsets)).collect();
    let promoted = heads.len();
    let notices = heads
        .into_iter()
        .map(|s| notice(a, s.user_id, "waitlist_promoted", format!("waitlist_promoted:{}:{}", a.id, s.seq), None))
        .chain(reminders)
        .collect();
    Ok(Promotion { notices, promoted, skipped_busy })
}

/// Publishes a draft once its text passes WeChat's content check: `risky` refuses it,
/// `review` holds it for the committee over its community.
pub async fn publish(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<ActivityView> {
    let draft = find(&ctx.db, id).await?;
    require_org_staff(user, draft.organization_id)?;
    if status_of(&draft) != ActivityStatus::Draft {
        return Err(conflict("invalid_transition", "只有草稿可以发布"));
    }
    // Asked before the transaction: never hold a transaction across a WeChat call.
    let verdict = moderate_texts(
        ctx,
        user.id,
        &[
            Some(&draft.title),
            Some(&draft.description),
            Some(&draft.location),
            draft.age_note.as_deref(),
            draft.skill_note.as_deref(),
        ],
    )
    .await?;
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let venue = venues::lock_for_activity(&txn, draft.venue_id).await?;
    let a = lock(&txn, id).await?;
    if status_of(&a) != ActivityStatus::Draft {
        return Err(conflict("invalid_transition", "只有草稿可以发布"));
    }
    let review_pending = match verdict {
        Moderation::Risky => return Err(AppError::ContentRisky),
        Moderation::Review => true,
        Moderation::Pass => false,
    };
    if a.signup_deadline <= now {
        return Err(conflict("activity_started", "报名截止时间已过，请先修改活动时间"));
    }
    let org = organization::Entity::find_by_id(a.organization_id).one(&txn).await?;
    if !org.and_then(|o| OrgStatus::parse(&o.status)).is_some_and(OrgStatus::is_recognised) {
        return Err(conflict("organization_not_active", "组织尚未备案或已暂停，不能发布活动"));
    }
    // Both gates are asked at once: the room's booking is requested even while the text
    // waits for the committee, so neither waits on the other.
    let room_approved = match &venue {
        Some(v) => Some(venues::hold_for_activity(&txn, v, &a, user.id, now).await? == BookingStatus::Approved),
        None => None,
    };
    apply_gates(&txn, &a, Gates { review_pending, room_approved }, now).await?;
    if review_pending {
        work_queue::announce(&txn, Waiting::Moderation, a.community_id, a.organization_id, Some(id), &a.title, now)
            .await?;
    }
    txn.commit().await?;
    detail(ctx, Some(user), id).await
}

/// Writes what the gates of a draft or held activity decide ([`Gates::status`]):
/// published (with its publication time) or held.
pub(crate) async fn apply_gates(
    txn: &DatabaseTransaction,
    a: &activity::Model,
    gates: Gates,
    now: DateTime<Utc>,
) -> AppResult<ActivityStatus> {
    let to = gates.status();
    let mut update = activity::Entity::update_many()
        .col_expr(activity::Column::Status, Expr::value(to.as_str()))
        .col_expr(activity::Column::ReviewPending, Expr::value(gates.review_pending))
        .col_expr(activity::Column::UpdatedAt, Expr::value(now));
    if to == ActivityStatus::Published {
        update = update.col_expr(activity::Column::PublishedAt, Expr::value(now));
    }
    update.filter(activity::Column::Id.eq(a.id)).exec(txn).await?;
    Ok(to)
}

/// Back to a draft, both gates reset (a held activity whose text or room was refused).
async fn return_to_draft(txn: &DatabaseTransaction, id: i64, now: DateTime<Utc>) -> AppResult<()> {
    activity::Entity::update_many()
        .col_expr(activity::Column::Status, Expr::value(ActivityStatus::Draft.as_str()))
        .col_expr(activity::Column::ReviewPending, Expr::value(false))
        .col_expr(activity::Column::UpdatedAt, Expr::value(now))
        .filter(activity::Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

/// The room booking of activity `id` was decided, in the venue manager's transaction
/// (the venue row is held, so the activity is locked second, as everywhere): an approval
/// opens the room gate, and the activity is published if the committee's review does not
/// still hold it; a refusal sends a held activity back to a draft.
pub async fn room_decided(txn: &DatabaseTransaction, id: i64, approved: bool, now: DateTime<Utc>) -> AppResult<()> {
    let a = lock(txn, id).await?;
    if status_of(&a) != ActivityStatus::Held {
        return Ok(());
    }
    if approved {
        apply_gates(txn, &a, Gates { review_pending: a.review_pending, room_approved: Some(true) }, now).await?;
    } else {
        return_to_draft(txn, id, now).await?;
    }
    Ok(())
}

/// The room booking of activity `id` was cancelled by the room's side (a closure, or
/// its manager) or by the organization's staff on the booking itself: a held activity
/// goes back to a draft; the residents signed up for a published one are told the room is
/// gone and the organizer will say where or when (the organizer is told by the booking's
/// own notice). Returns the notices, for the caller's transaction.
pub async fn room_withdrawn(txn: &DatabaseTransaction, id: i64, now: DateTime<Utc>) -> AppResult<Vec<Notice>> {
    let a = lock(txn, id).await?;
    match status_of(&a) {
        ActivityStatus::Held => {
            return_to_draft(txn, id, now).await?;
            Ok(Vec::new())
        }
        ActivityStatus::Published => Ok(active_signups(txn, id)
            .await?
            .into_iter()
            .map(|user_id| {
                let key = format!("activity_changed:{id}:v{}:{user_id}{ROOM_LOST}:{}", a.version, now.timestamp());
                notice(&a, user_id, "activity_changed", key, None)
            })
            .collect()),
        _ => Ok(Vec::new()),
    }
}

/// Asks WeChat's content check about the texts the user wrote (`None`: unchanged); the
/// first is the title. Nothing to check: `Pass`.
pub async fn moderate_texts(ctx: &AppContext, user_id: i64, texts: &[Option<&str>]) -> AppResult<Moderation> {
    if texts.iter().all(Option::is_none) {
        return Ok(Moderation::Pass);
    }
    let title = texts.first().copied().flatten().unwrap_or_default();
    let content = texts.iter().skip(1).flatten().copied().collect::<Vec<_>>().join("\n");
    let content = if content.is_empty() { title.to_owned() } else { content };
    moderate(ctx, user_id, title, &content).await
}

/// Asks WeChat's content check about a text the user wrote.
pub async fn moderate(ctx: &AppContext, user_id: i64, title: &str, content: &str) -> AppResult<Moderation> {
    if ctx.wechat.is_dev() {
        return Ok(Moderation::Pass);
    }
    let openid = user::Entity::find_by_id(user_id).one(&ctx.db).await?.and_then(|u| u.openid).unwrap_or_default();
    Ok(ctx.wechat.moderate(&openid, title, content).await?)
}

/// The committee over the activity's community clears (publishes) or sends back a
/// held activity.
pub async fn review_held(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    approve: bool,
    comment: Option<String>,
) -> AppResult<ActivityView> {
    let comment = super::remark("reason", comment, 500)?;
    let now = ctx.now();
    let venue_id = find(&ctx.db, id).await?.venue_id;
    let txn = begin_write(&ctx.db).await?;
    let venue = venues::lock_for_activity(&txn, venue_id).await?;
    let a = lock(&txn, id).await?;
    let path = region_path(&txn, a.community_id).await?;
    if !holds_region_role(user, &[Role::Committee], &path) {
        return Err(AppError::Forbidden("requires a region role"));
    }
    // Held for its room only, it is the room's manager who decides (the review queue of
    // venue bookings), not the committee's text review.
    if status_of(&a) != ActivityStatus::Held || !a.review_pending {
        return Err(conflict("invalid_transition", "该活动不在待审核状态"));
    }
    if approve {
        let room_approved = match venue {
            Some(_) => Some(venues::room_approved(&txn, id).await?),
            None => None,
        };
        apply_gates(&txn, &a, Gates { review_pending: false, room_approved }, now).await?;
    } else {
        return_to_draft(&txn, id, now).await?;
    }
    work_queue::settle(&txn, &format!("activity:{id}"), now).await?;
    if let (false, Some(author)) = (approve, a.created_by) {
        let notice = Notice {
            user_id: author,
            kind: "activity_review",
            title: "活动未通过审核".into(),
            body: format!("「{}」未通过社区审核：{}。请修改后重新发布。", a.title, comment.unwrap_or_default()),
            activity_id: Some(id),
            organization_id: Some(a.organization_id),
            dedupe_key: format!("activity_review:{id}:{}", now.timestamp_micros()),
            due_at: None,
            offset_secs: None,
        };
        enqueue(&txn, vec![notice], now).await?;
    }
    txn.commit().await?;
    // The committee just decided it: it sees the outcome even when that is a draft.
    let a = find(&ctx.db, id).await?;
    let staff = is_staff(user, a.organization_id);
    view(ctx, Some(user), a, staff).await
}

/// Cancels a draft or published activity; everyone signed up is told why. Run again when
/// it loses a deadlock to a crowd signing up (`retrying`).
pub async fn cancel(ctx: &AppContext, user: &AuthUser, id: i64, reason: String) -> AppResult<ActivityView> {
    retrying(|| cancel_once(ctx, user, id, &reason)).await?;
    detail(ctx, Some(user), id).await
}

async fn cancel_once(ctx: &AppContext, user: &AuthUser, id: i64, reason: &str) -> AppResult<()> {
    let now = ctx.now();
    let venue_id = find(&ctx.db, id).await?.venue_id;
    let txn = begin_write(&ctx.db).await?;
    venues::lock_for_activity(&txn, venue_id).await?;
    let a = lock(&txn, id).await?;
    require_org_staff(user, a.organization_id)?;
    if !matches!(status_of(&a), ActivityStatus::Draft | ActivityStatus::Held | ActivityStatus::Published) {
        return Err(conflict("invalid_transition", "活动已取消或已结束"));
    }
    cancel_locked(&txn, &a, user.id, reason, now).await?;
    txn.commit().await?;
    Ok(())
}

/// Cancels an activity whose row the transaction holds: its reminders are withdrawn and
/// everyone signed up (confirmed or waitlisted) is told why.
pub(crate) async fn cancel_locked(
    txn: &DatabaseTransaction,
    a: &activity::Model,
    actor: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let id = a.id;
    activity::Entity::update_many()
        .col_expr(activity::Column::Status, Expr::value(ActivityStatus::Cancelled.as_str()))
        .col_expr(activity::Column::CancelReason, Expr::value(reason))
        .col_expr(activity::Column::UpdatedAt, Expr::value(now))
        .filter(activity::Column::Id.eq(id))
        .exec(txn)
        .await?;
    let notices = active_signups(txn, id)
        .await?
        .into_iter()
        .map(|user_id| {
            notice(a, user_id, "activity_cancelled", format!("activity_cancelled:{id}:{user_id}"), Some(reason))
        })
        .collect();
    cancel_reminders(txn, id, None).await?;
    // The room it held is given back (the booking is cancelled, the history says by whom).
    venues::release_for_activity(txn, id, actor, now).await?;
    enqueue(txn, notices, now).await
}

/// When an organization is suspended or dissolved, its activities that have not started
/// are cancelled the usual way (residents signed up are told, with the reason); the ones
/// under way may still be closed. Sign-ups to a suspended or dissolved organization's
/// activities are refused (`organization_not_active`) in any case.
pub async fn cancel_upcoming_of(
    txn: &DatabaseTransaction,
    organization_id: i64,
    actor: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> AppResult<usize> {
    let ids: Vec<(i64, Option<i64>)> = activity::Entity::find()
        .select_only()
        .column(activity::Column::Id)
        .column(activity::Column::VenueId)
        .filter(activity::Column::OrganizationId.eq(organization_id))
        .filter(activity::Column::StartsAt.gt(now))
        .filter(activity::Column::Status.is_in([
            ActivityStatus::Draft.as_str(),
            ActivityStatus::Held.as_str(),
            ActivityStatus::Published.as_str(),
        ]))
        .order_by_asc(activity::Column::Id)
        .into_tuple()
        .all(txn)
        .await?;
    for (id, venue_id) in &ids {
        // Rooms before activities, as every path that holds both locks them.
        venues::lock_for_activity(txn, *venue_id).await?;
        let a = lock(txn, *id).await?;
        cancel_locked(txn, &a, actor, reason, now).await?;
    }
    Ok(ids.len())
}

// ---- signing up ----------------------------------------------------------------------------

/// The result of a sign-up: the row, its waitlist position, and whether it is new.
pub struct SignupOutcome {
    pub signup: signup::Model,
    pub waitlist_position: Option<i64>,
    pub created: bool,
    /// Why the sign-up went to the waitlist although places were free.
    pub note: Option<String>,
}

/// The published activities other than `a` that overlap it in time.
fn clashing_with(a: &activity::Model) -> SelectStatement {
    Query::select()
        .column(activity::Column::Id)
        .from(activity::Entity)
        .and_where(activity::Column::Status.eq(ActivityStatus::Published.as_str()))
        .and_where(activity::Column::Id.ne(a.id))
        .and_where(activity::Column::StartsAt.lt(a.ends_at))
        .and_where(activity::Column::EndsAt.gt(a.starts_at))
        .to_owned()
}

/// The no-clash rule, in one place: the residents who hold a place (confirmed or checked
/// in) in another published activity overlapping `a` in time. Nobody may hold two such
/// places — not by signing up, a promotion, a walk-in, nor an activity moved onto
/// another's time (`domain::signup::SignupAction::Displace`).
pub fn holding_clashing_place(a: &activity::Model) -> SelectStatement {
    Query::select()
        .column(signup::Column::UserId)
        .from(signup::Entity)
        .and_where(signup::Column::Status.is_in(PLACE_HOLDING.map(SignupStatus::as_str)))
        .and_where(signup::Column::ActivityId.in_subquery(clashing_with(a)))
        .to_owned()
}

/// `POST /activities/{id}/signups`: a place if one is free, else the waitlist, else
/// refused. Repeating it returns the same sign-up.
///
/// Applied with the other sign-ups for the activity arriving meanwhile in this process,
/// in one transaction (`service::signup_batch`): a crowd on one activity holds its row
/// once per batch, not once per resident. Two requests of one resident at once: the
/// second is answered with the first's sign-up (in one batch, or by the unique
/// (activity, resident) index across replicas).
pub async fn sign_up(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<SignupOutcome> {
    sign_up_for(ctx, Acting::own(user.id), id, SignupVia::Resident).await
}

/// Who takes a place, and who pressed the button: the resident themself, or a proxy
/// (`service::proxies` checks the link first; the act is recorded in the same transaction).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Acting {
    pub actor: i64,
    pub resident: i64,
}

impl Acting {
    pub(crate) fn own(user_id: i64) -> Self {
        Acting { actor: user_id, resident: user_id }
    }
}

/// Who asked for a place: the resident (or their proxy), or Linli for a regular of the
/// activity's series (`service::series`), whose sign-up is marked `regular`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignupVia {
    Resident,
    Regular,
}

/// The one place-taking path — [`sign_up`] for `acting.resident`, pressed by
/// `acting.actor` (a proxy), or by no one for a series' regular: the same checks, the same
/// conditional UPDATE, never past capacity (the waitlist when full).
pub(crate) async fn sign_up_for(ctx: &AppContext, acting: Acting, id: i64, via: SignupVia) -> AppResult<SignupOutcome> {
    retrying(|| sign_up_once(ctx, acting, id, via)).await
}

async fn sign_up_once(ctx: &AppContext, acting: Acting, id: i64, via: SignupVia) -> AppResult<SignupOutcome> {
    let user = acting.resident;
    match crate::service::signup_batch::SignupQueue::submit(ctx, acting, id, via).await {
        Err(AppError::Internal(e)) if e.downcast_ref::<sea_orm::DbErr>().is_some_and(is_unique_violation) => {
            let existing = signup::Entity::find()
                .filter(signup::Column::ActivityId.eq(id))
                .filter(signup::Column::UserId.eq(user))
                .one(&ctx.db)
                .await?
                .ok_or(AppError::Internal(e))?;
            let position = waitlist_position(&ctx.db, &existing).await?;
            Ok(SignupOutcome { signup: existing, waitlist_position: position, created: false, note: None })
        }
        other => other,
    }
}

fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))
}

/// Whether the resident holds a place in another published activity at the same time.
pub async fn has_overlap(db: &impl ConnectionTrait, user_id: i64, a: &activity::Model) -> AppResult<bool> {
    Ok(signup::Entity::find()
        .filter(signup::Column::UserId.eq(user_id))
        .filter(signup::Column::UserId.in_subquery(holding_clashing_place(a)))
        .count(db)
        .await?
        > 0)
}

/// 1-based place in the queue, for a waitlisted sign-up.
pub async fn waitlist_position(db: &impl ConnectionTrait, s: &signup::Model) -> AppResult<Option<i64>> {
    if signup_status(s) != SignupStatus::Waitlisted {
        return Ok(None);
    }
    let ahead = signup::Entity::find()
        .filter(signup::Column::ActivityId.eq(s.activity_id))
        .filter(signup::Column::Status.eq(SignupStatus::Waitlisted.as_str()))
        .filter(signup::Column::Seq.lt(s.seq))
        .count(db)
        .await?;
    Ok(Some(ahead as i64 + 1))
}

/// `DELETE /activities/{id}/signups/me`: a confirmed resident may cancel until the
/// activity's cut-off; a waitlisted one may leave the queue any time before the start.
/// The freed place goes to the head of the waitlist.
pub async fn cancel_signup(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<()> {
    cancel_signup_for(ctx, Acting::own(user.id), id).await
}

/// [`cancel_signup`] for `acting.resident`, pressed by `acting.actor` (a proxy), or by no
/// one for a regular's automatic places released by a pause, leaving or removal: the same
/// cut-off and promotion.
pub(crate) async fn cancel_signup_for(ctx: &AppContext, acting: Acting, id: i64) -> AppResult<()> {
    retrying(|| cancel_signup_once(ctx, acting, id)).await
}

async fn cancel_signup_once(ctx: &AppContext, acting: Acting, id: i64) -> AppResult<()> {
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let a = lock(&txn, id).await?;
    let Some(s) = signup::Entity::find()
        .filter(signup::Column::ActivityId.eq(id))
        .filter(signup::Column::UserId.eq(acting.resident))
        .one(&txn)
        .await?
    else {
        return Err(AppError::NotFound("sign-up"));
    };
    let status = signup_status(&s);
    let to = match next(Some(status), SignupAction::Cancel) {
        Step::Keep => return Ok(()), // already cancelled: nothing to do
        Step::Move(to) => to,
        Step::Refuse(refusal) => return Err(refusal.into_error()),
        step => return Err(AppError::Internal(anyhow::anyhow!("cancel answered {step:?}"))),
    };
    if status_of(&a) != ActivityStatus::Published {
        return Err(conflict("activity_closed", "活动已取消或已结束"));
    }
    let deadline_ok = match status {
        SignupStatus::Confirmed => may_cancel(now, a.starts_at, a.cancel_cutoff_minutes),
        _ => now < a.starts_at,
    };
    if !deadline_ok {
        return Err(conflict(
            "cancellation_closed",
            &format!("活动开始前 {} 分钟内不能取消报名，请联系组织方", a.cancel_cutoff_minutes),
        ));
    }
    let promotion = release(&txn, &a, &s, to, None, now, &ctx.config.reminder_offsets).await?;
    enqueue(&txn, promotion.notices, now).await?;
    crate::service::proxies::record_signup_act(&txn, acting, id, ProxyAct::CancelledSignup, now).await?;
    txn.commit().await?;
    if promotion.skipped_busy {
        crate::service::promotions::later(ctx, id);
    }
    Ok(())
}

/// Moves a sign-up to `to` (as `domain::signup::next` allowed) and keeps the activity's
/// counters in step with [`counter_delta`]. `reason`: `Some` replaces the stored reason.
pub async fn move_signup(
    txn: &DatabaseTransaction,
    s: &signup::Model,
    to: SignupStatus,
    reason: Option<Option<String>>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let mut update = signup::Entity::update_many()
        .col_expr(signup::Column::Status, Expr::value(to.as_str()))
        .col_expr(signup::Column::UpdatedAt, Expr::value(now));
    if let Some(reason) = reason {
        update = update.col_expr(signup::Column::Reason, Expr::value(reason));
    }
    update.filter(signup::Column::Id.eq(s.id)).exec(txn).await?;
    add_to_counters(txn, s.activity_id, counter_delta(Some(signup_status(s)), to)).await
}

/// Adds `(places, queue places)` to the activity's counters.
pub async fn add_to_counters(
    txn: &DatabaseTransaction,
    activity_id: i64,
    (places, queue): (i32, i32),
) -> AppResult<()> {
    if (places, queue) == (0, 0) {
        return Ok(());
    }
    activity::Entity::update_many()
        .col_expr(activity::Column::ConfirmedCount, Expr::col(activity::Column::ConfirmedCount).add(places))
        .col_expr(activity::Column::WaitlistCount, Expr::col(activity::Column::WaitlistCount).add(queue))
        .filter(activity::Column::Id.eq(activity_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Takes a sign-up out (cancelled by the resident or on account deletion, removed by
/// staff), fixes the counters, withdraws its reminders and promotes from the waitlist.
async fn release(
    txn: &DatabaseTransaction,
    a: &activity::Model,
    s: &signup::Model,
    to: SignupStatus,
    reason: Option<String>,
    now: DateTime<Utc>,
    offsets: &[std::time::Duration],
) -> AppResult<Promotion> {
    move_signup(txn, s, to, Some(reason), now).await?;
    let (places, queue) = counter_delta(Some(signup_status(s)), to);
    let after = activity::Model {
        confirmed_count: a.confirmed_count + places,
        waitlist_count: a.waitlist_count + queue,
        ..a.clone()
    };
    cancel_reminders(txn, a.id, Some(s.user_id)).await?;
    promote(txn, &after, now, offsets).await
}

/// Gives up what a deleted account holds on activities that have not ended: each
/// confirmed or waitlisted sign-up is cancelled through the normal path (the place goes
/// to the head of the waitlist, who is told). Runs in the deletion's transaction.
pub async fn erase_signups(ctx: &AppContext, txn: &DatabaseTransaction, user_id: i64) -> AppResult<usize> {
    let now = ctx.now();
    let held: Vec<signup::Model> = signup::Entity::find()
        .filter(signup::Column::UserId.eq(user_id))
        .filter(signup::Column::Status.is_in([SignupStatus::Confirmed.as_str(), SignupStatus::Waitlisted.as_str()]))
        .filter(
            signup::Column::ActivityId.in_subquery(
                Query::select()
                    .column(activity::Column::Id)
                    .from(activity::Entity)
                    .and_where(activity::Column::Status.is_in([
                        ActivityStatus::Draft.as_str(),
                        ActivityStatus::Held.as_str(),
                        ActivityStatus::Published.as_str(),
                    ]))
                    .to_owned(),
            ),
        )
        .all(txn)
        .await?;
    let mut activities: Vec<i64> = held.iter().map(|s| s.activity_id).collect();
    activities.sort_unstable(); // one order for every transaction that locks several
    activities.dedup();
    let mut released = 0;
    for activity_id in activities {
        let a = lock(txn, activity_id).await?;
        // Read again under the activity's lock: it may have moved since.
        let Some(s) = signup::Entity::find()
            .filter(signup::Column::ActivityId.eq(activity_id))
            .filter(signup::Column::UserId.eq(user_id))
            .one(txn)
            .await?
        else {
            continue;
        };
        let Step::Move(to) = next(Some(signup_status(&s)), SignupAction::Erase) else { continue };
        let promotion = release(txn, &a, &s, to, Some("账号已注销".into()), now, &ctx.config.reminder_offsets).await?;
        enqueue(txn, promotion.notices, now).await?;
        if promotion.skipped_busy {
            // Runs once this transaction is over: the follow-up waits for the activity's row.
            crate::service::promotions::later(ctx, activity_id);
        }
        released += 1;
    }
    Ok(released)
}

/// Staff take a resident off the roster, with a reason the resident is told.
pub async fn remove_signup(ctx: &AppContext, user: &AuthUser, id: i64, member: i64, reason: String) -> AppResult<()> {
    retrying(|| remove_signup_once(ctx, user, id, member, reason.clone())).await
}

async fn remove_signup_once(ctx: &AppContext, user: &AuthUser, id: i64, member: i64, reason: String) -> AppResult<()> {
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let a = lock(&txn, id).await?;
    require_org_staff(user, a.organization_id)?;
    if status_of(&a) != ActivityStatus::Published {
        return Err(conflict("activity_closed", "活动已取消或已结束"));
    }
    let s = signup::Entity::find()
        .filter(signup::Column::ActivityId.eq(id))
        .filter(signup::Column::UserId.eq(member))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("sign-up"))?;
    let to = match next(Some(signup_status(&s)), SignupAction::Remove) {
        Step::Move(to) => to,
        Step::Refuse(refusal) => return Err(refusal.into_error()),
        Step::Keep | Step::Take | Step::TakePlace => return Err(AppError::NotFound("sign-up")),
    };
    let promotion = release(&txn, &a, &s, to, Some(reason.clone()), now, &ctx.config.reminder_offsets).await?;
    let mut notices = promotion.notices;
    notices.push(notice(&a, member, "signup_removed", format!("signup_removed:{id}:{}", s.seq), Some(&reason)));
    enqueue(&txn, notices, now).await?;
    txn.commit().await?;
    if promotion.skipped_busy {
        crate::service::promotions::later(ctx, id);
    }
    Ok(())
}

// ---- reading ------------------------------------------------------------------------------

/// An activity with what the caller may see of it.
pub struct ActivityView {
    pub activity: activity::Model,
    pub organization_name: String,
    pub my_signup: Option<(signup::Model, Option<i64>)>,
    pub is_staff: bool,
    pub distance_m: Option<f64>,
    /// The room it is held in, when it names one.
    pub venue: Option<VenueSummary>,
}

/// `GET /activities/{id}`: drafts exist only for the organization's staff.
pub async fn detail(ctx: &AppContext, user: Option<&AuthUser>, id: i64) -> AppResult<ActivityView> {
    let a = find(&ctx.db, id).await?;
    let staff = user.is_some_and(|u| is_staff(u, a.organization_id));
    let reviewer = match (status_of(&a), user) {
        (ActivityStatus::Held, Some(u)) => {
            holds_region_role(u, &[Role::Committee], &region_path(&ctx.db, a.community_id).await?)
        }
        _ => false,
    };
    if matches!(status_of(&a), ActivityStatus::Draft | ActivityStatus::Held) && !staff && !reviewer {
        return Err(AppError::NotFound("activity"));
    }
    view(ctx, user, a, staff).await
}

/// What `a` shows to `user`, once the caller has decided they may see it.
async fn view(ctx: &AppContext, user: Option<&AuthUser>, a: activity::Model, staff: bool) -> AppResult<ActivityView> {
    let id = a.id;
    let organization_name =
        organization::Entity::find_by_id(a.organization_id).one(&ctx.db).await?.map(|o| o.name).unwrap_or_default();
    let my_signup = match user {
        None => None,
        Some(u) => match signup::Entity::find()
            .filter(signup::Column::ActivityId.eq(id))
            .filter(signup::Column::UserId.eq(u.id))
            .one(&ctx.db)
            .await?
        {
            Some(s) => {
                let position = waitlist_position(&ctx.db, &s).await?;
                Some((s, position))
            }
            None => None,
        },
    };
    let venue = venues::summaries(&ctx.db, a.venue_id.into_iter().collect()).await?.into_values().next();
    Ok(ActivityView { activity: a, organization_name, my_signup, is_staff: staff, distance_m: None, venue })
}

#[derive(Debug, Default, Clone)]
pub struct ActivityFilter {
    pub region_id: Option<i64>,
    pub organization_id: Option<i64>,
    pub kind: Option<ActivityKind>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub near: Option<(f64, f64)>,
}

/// `GET /activities`: published activities, soonest first (or nearest first), starting
/// from now unless `from` says otherwise.
pub async fn browse(
    ctx: &AppContext,
    filter: &ActivityFilter,
    cursor: Option<Cursor>,
    limit: u64,
) -> AppResult<(Vec<ActivityView>, Option<Cursor>)> {
    let mut query = activity::Entity::find()
        .filter(activity::Column::Status.eq(ActivityStatus::Published.as_str()))
        .filter(activity::Column::StartsAt.gte(filter.from.unwrap_or_else(|| ctx.now())));
    if let Some(to) = filter.to {
        query = query.filter(activity::Column::StartsAt.lt(to));
    }
    if let Some(region_id) = filter.region_id {
        let path = region_path(&ctx.db, region_id).await?;
        query = query.filter(activity::Column::CommunityId.in_subquery(regions_under(&[path])));
    }
    if let Some(org) = filter.organization_id {
        query = query.filter(activity::Column::OrganizationId.eq(org));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(activity::Column::Kind.eq(kind.as_str()));
    }
    let (rows, next): (Vec<activity::Model>, Option<Cursor>) = match filter.near {
        None => {
            if let Some(Cursor::Time(at, after)) = cursor {
                query =
                    query.filter(Condition::any().add(activity::Column::StartsAt.gt(at)).add(
                        Condition::all().add(activity::Column::StartsAt.eq(at)).add(activity::Column::Id.gt(after)),
                    ));
            }
            let mut rows = query
                .order_by(activity::Column::StartsAt, Order::Asc)
                .order_by(activity::Column::Id, Order::Asc)
                .limit(limit + 1)
                .all(&ctx.db)
                .await?;
            let more = rows.len() as u64 > limit;
            rows.truncate(limit as usize);
            let next = if more { rows.last().map(|a| Cursor::Time(a.starts_at, a.id)) } else { None };
            (rows, next)
        }
        Some(at) => {
            let (ids, next) = geo::page_ids(
                &ctx.db,
                query.select_only().column(activity::Column::Id),
                activity::Column::Id,
                activity::Column::Latitude,
                activity::Column::Longitude,
                Some(at),
                cursor,
                limit,
            )
            .await?;
            let mut by_id: HashMap<i64, activity::Model> = activity::Entity::find()
                .filter(activity::Column::Id.is_in(ids.clone()))
                .all(&ctx.db)
                .await?
                .into_iter()
                .map(|a| (a.id, a))
                .collect();
            (ids.iter().filter_map(|id| by_id.remove(id)).collect(), next)
        }
    };
    let names = organization_names(&ctx.db, rows.iter().map(|a| a.organization_id).collect()).await?;
    let rooms = venues::summaries(&ctx.db, rows.iter().filter_map(|a| a.venue_id).collect()).await?;
    let views = rows
        .into_iter()
        .map(|a| {
            let distance_m = match (filter.near, a.latitude, a.longitude) {
                (Some((lat, lng)), Some(x), Some(y)) => Some(crate::domain::organization::distance_m(lat, lng, x, y)),
                _ => None,
            };
            ActivityView {
                organization_name: names.get(&a.organization_id).cloned().unwrap_or_default(),
                venue: a.venue_id.and_then(|v| rooms.get(&v).cloned()),
                activity: a,
                my_signup: None,
                is_staff: false,
                distance_m,
            }
        })
        .collect();
    Ok((views, next))
}

/// Organization names by id, in one query (ids not found are left out).
pub(crate) async fn organization_names(db: &impl ConnectionTrait, ids: Vec<i64>) -> AppResult<HashMap<i64, String>> {
    Ok(organization::Entity::find()
        .filter(organization::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect())
}

/// One line of the roster.
pub struct RosterEntry {
    pub signup: signup::Model,
    pub nickname: Option<String>,
    pub waitlist_position: Option<i64>,
}

/// `GET /activities/{id}/signups`: for the organization's staff and the officials over
/// the activity's community; in sign-up order.
pub async fn roster(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    status: Option<SignupStatus>,
    after_seq: Option<i64>,
    limit: u64,
) -> AppResult<(Vec<RosterEntry>, bool)> {
    let a = find(&ctx.db, id).await?;
    if !may_see_roster(&ctx.db, user, &a).await? {
        return Err(AppError::Forbidden("requires organization staff"));
    }
    let mut query = signup::Entity::find().filter(signup::Column::ActivityId.eq(id));
    if let Some(status) = status {
        query = query.filter(signup::Column::Status.eq(status.as_str()));
    }
    if let Some(after) = after_seq {
        query = query.filter(signup::Column::Seq.gt(after));
    }
    let mut rows = query.order_by_asc(signup::Column::Seq).limit(limit + 1).all(&ctx.db).await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let nicknames: HashMap<i64, Option<String>> = user::Entity::find()
        .filter(user::Column::Id.is_in(rows.iter().map(|s| s.user_id).collect::<Vec<_>>()))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.nickname))
        .collect();
    // Positions: count those ahead of the first waitlisted row once, then count on.
    let mut next_position = None;
    let mut entries = Vec::with_capacity(rows.len());
    for s in rows {
        let position = if signup_status(&s) == SignupStatus::Waitlisted {
            let p = match next_position {
                Some(p) => p,
                None => waitlist_position(&ctx.db, &s).await?.unwrap_or(1),
            };
            next_position = Some(p + 1);
            Some(p)
        } else {
            None
        };
        entries.push(RosterEntry {
            nickname: nicknames.get(&s.user_id).cloned().flatten(),
            waitlist_position: position,
            signup: s,
        });
    }
    Ok((entries, more))
}

/// A resident's own sign-up, with its activity.
pub struct MySignup {
    pub signup: signup::Model,
    pub activity: activity::Model,
    pub organization_name: String,
    pub waitlist_position: Option<i64>,
}

/// `GET /me/signups`: upcoming (not yet ended nor closed) or past, most recent sign-up first.
pub async fn my_signups(
    ctx: &AppContext,
    user: &AuthUser,
    upcoming: bool,
    before_id: Option<i64>,
    limit: u64,
) -> AppResult<Vec<MySignup>> {
    let now = ctx.now();
    // Closed early, an activity is past already.
    let finished = activity::Column::Status.eq(ActivityStatus::Finished.as_str());
    let when = if upcoming {
        Condition::all().add(activity::Column::EndsAt.gt(now)).add(finished.not())
    } else {
        Condition::any().add(activity::Column::EndsAt.lte(now)).add(finished)
    };
    let activities = Query::select().column(activity::Column::Id).from(activity::Entity).cond_where(when).to_owned();
    let mut query = signup::Entity::find()
        .filter(signup::Column::UserId.eq(user.id))
        .filter(signup::Column::ActivityId.in_subquery(activities));
    if let Some(before) = before_id {
        query = query.filter(signup::Column::Id.lt(before));
    }
    let rows = query.order_by_desc(signup::Column::Id).limit(limit + 1).all(&ctx.db).await?;
    let mut by_id: HashMap<i64, activity::Model> = activity::Entity::find()
        .filter(activity::Column::Id.is_in(rows.iter().map(|s| s.activity_id).collect::<Vec<_>>()))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    let names = organization_names(&ctx.db, by_id.values().map(|a| a.organization_id).collect()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for s in rows {
        let Some(a) = by_id.remove(&s.activity_id) else { continue };
        let waitlist_position = waitlist_position(&ctx.db, &s).await?;
        out.push(MySignup {
            organization_name: names.get(&a.organization_id).cloned().unwrap_or_default(),
            activity: a,
            signup: s,
            waitlist_position,
        });
    }
    Ok(out)
}

/// Published activities of an organization that have not started (for its profile).
pub async fn upcoming_count(db: &impl ConnectionTrait, organization_id: i64, now: DateTime<Utc>) -> AppResult<u64> {
    Ok(activity::Entity::find()
        .filter(activity::Column::OrganizationId.eq(organization_id))
        .filter(activity::Column::Status.eq(ActivityStatus::Published.as_str()))
        .filter(activity::Column::StartsAt.gt(now))
        .count(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(id: i64, parent_id: Option<i64>, level: &str) -> region::Model {
        region::Model {
            id,
            parent_id,
            code: String::new(),
            name: String::new(),
            level: level.to_owned(),
            kind: None,
            path: String::new(),
            latitude: None,
            longitude: None,
            created_at: chrono::DateTime::<Utc>::default(),
            retired_at: None,
        }
    }

    #[test]
    fn activities_are_held_in_the_organizations_street() {
        let home = region(11, Some(6), "community");
        assert!(may_host(Some(&home), &home));
        assert!(may_host(Some(&home), &region(12, Some(6), "community")), "a neighbouring community");
        assert!(!may_host(Some(&home), &region(21, Some(7), "community")), "another street's community");
        assert!(!may_host(Some(&home), &region(6, Some(3), "street")), "the street itself");
        assert!(!may_host(None, &home), "an organization without a community");
        let orphan = region(30, None, "community");
        assert!(!may_host(Some(&orphan), &region(31, None, "community")), "no street: only itself");
    }
}
