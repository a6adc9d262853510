//! Attendance: check-in and check-out three ways, walk-ins and offline batches, closing
//! an activity (no-shows, hours), corrections with an audit trail, and the rollups the
//! participation figures read.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, Utc};
use hmac::{Hmac, Mac};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait as _},
};
use sha2::Sha256;

use crate::{
    auth::AuthUser,
    context::AppContext,
    domain::{
        activity::{ActivityStatus, SignupStatus},
        clock::to_shanghai,
        organization::distance_m,
        signup::{Refusal, SignupAction, Step, counter_delta, next},
    },
    entity::{activity, activity_stat, attendance, hour_correction, participant_year, signup},
    error::{AppError, AppResult},
    service::{
        activities::{add_to_counters, has_overlap, move_signup, require_org_staff, signup_status},
        begin_write,
        notifications::cancel_reminders,
    },
};

/// A resident's personal code is good this long.
pub const PERSONAL_CODE_TTL: i64 = 60;
/// The activity's code rotates this often (and the previous one is still accepted).
pub const ACTIVITY_CODE_WINDOW: i64 = 30;
/// Check-in opens this long before the start and closes this long after the end.
const OPEN_BEFORE: i64 = 60;
const CLOSE_AFTER: i64 = 120;
/// A resident scanning the activity's code with a location must be this close.
pub const MAX_SELF_CHECKIN_DISTANCE_M: f64 = 1000.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    CheckIn,
    CheckOut,
}

impl Action {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "check_in" => Some(Action::CheckIn),
            "check_out" => Some(Action::CheckOut),
            _ => None,
        }
    }
}

fn mac(ctx: &AppContext, purpose: &str, message: &str) -> String {
    let key = format!("{}:{purpose}", ctx.config.jwt_secret.expose());
    let mut m = match Hmac::<Sha256>::new_from_slice(key.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    m.update(message.as_bytes());
    hex::encode(&m.finalize().into_bytes()[..8])
}

/// `GET /me/checkin-code`: `u{user}.{expiry}.{signature}`, short enough for a QR code,
/// useless to anyone else (it names its user) and after it expires.
pub fn personal_code(ctx: &AppContext, user_id: i64) -> (String, DateTime<Utc>) {
    let expires = ctx.now() + Duration::seconds(PERSONAL_CODE_TTL);
    let body = format!("u{user_id}.{}", expires.timestamp());
    let sig = mac(ctx, "personal", &body);
    (format!("{body}.{sig}"), expires)
}

/// The user a personal code names, if it is genuine and was still valid at `at`.
pub fn verify_personal_code(ctx: &AppContext, code: &str, at: DateTime<Utc>) -> Option<i64> {
    let (body, sig) = code.trim().rsplit_once('.')?;
    let (user, expiry) = body.strip_prefix('u')?.split_once('.')?;
    let expected = mac(ctx, "personal", body);
    if expected.is_empty() || expected.as_bytes() != sig.as_bytes() {
        return None;
    }
    let expiry: i64 = expiry.parse().ok()?;
    (at.timestamp() <= expiry).then_some(())?;
    user.parse().ok()
}

/// The activity's rotating code for the window containing `at`.
fn activity_code_at(ctx: &AppContext, activity_id: i64, window: i64) -> String {
    mac(ctx, "activity", &format!("{activity_id}:{window}"))
}

/// `GET /activities/{id}/checkin-code`: shown by staff, scanned by residents.
pub fn activity_code(ctx: &AppContext, activity_id: i64) -> (String, DateTime<Utc>) {
    let now = ctx.now().timestamp();
    let window = now / ACTIVITY_CODE_WINDOW;
    let expires = DateTime::<Utc>::from_timestamp((window + 1) * ACTIVITY_CODE_WINDOW, 0).unwrap_or_default();
    (activity_code_at(ctx, activity_id, window), expires)
}

fn activity_code_ok(ctx: &AppContext, activity_id: i64, code: &str) -> bool {
    let window = ctx.now().timestamp() / ACTIVITY_CODE_WINDOW;
    [window, window - 1].iter().any(|w| activity_code_at(ctx, activity_id, *w) == code.trim())
}

fn conflict(code: &'static str, zh: &str) -> AppError {
    AppError::Conflict(code, zh.to_owned())
}

async fn lock(txn: &DatabaseTransaction, id: i64) -> AppResult<activity::Model> {
    activity::Entity::find_by_id(id).lock_exclusive().one(txn).await?.ok_or(AppError::NotFound("activity"))
}

fn open_for_attendance(a: &activity::Model, at: DateTime<Utc>) -> AppResult<()> {
    match ActivityStatus::parse(&a.status) {
        Some(ActivityStatus::Published) => {}
        Some(ActivityStatus::Finished) => return Err(conflict("activity_finished", "活动已结束，签到已关闭")),
        Some(ActivityStatus::Cancelled) => return Err(conflict("activity_cancelled", "活动已取消")),
        _ => return Err(AppError::NotFound("activity")),
    }
    in_window(a, at)
}

/// Check-in is open from an hour before the start to two hours after the end.
fn in_window(a: &activity::Model, at: DateTime<Utc>) -> AppResult<()> {
    if at < a.starts_at - Duration::minutes(OPEN_BEFORE) || at > a.ends_at + Duration::minutes(CLOSE_AFTER) {
        return Err(conflict("outside_checkin_window", "签到时间为活动开始前 1 小时至结束后 2 小时"));
    }
    Ok(())
}

fn is_finished(a: &activity::Model) -> bool {
    ActivityStatus::parse(&a.status) == Some(ActivityStatus::Finished)
}

/// What one check-in or check-out did.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub user_id: i64,
    pub action: Action,
    /// False when it had already been recorded: a second scan changes nothing.
    pub changed: bool,
    pub row: attendance::Model,
}

/// One check-in or check-out to record: when it happened, how, and by whom.
struct Mark<'a> {
    action: Action,
    at: DateTime<Utc>,
    method: &'a str,
    recorded_by: Option<i64>,
}

/// Records a check-in or check-out inside the caller's transaction, as the sign-up table
/// (`domain::signup`) allows. On a finished activity it is late evidence (an offline
/// record made during the activity): the resident's hours are credited and the
/// activity's rollups recomputed by the caller ([`recompute_rollups`]).
async fn apply(
    txn: &DatabaseTransaction,
    a: &activity::Model,
    user_id: i64,
    mark: Mark<'_>,
    now: DateTime<Utc>,
    min_ratio: f64,
) -> AppResult<Recorded> {
    let Mark { action, at, method, recorded_by } = mark;
    let s = signup::Entity::find()
        .filter(signup::Column::ActivityId.eq(a.id))
        .filter(signup::Column::UserId.eq(user_id))
        .one(txn)
        .await?;
    let from = s.as_ref().map(signup_status);
    let existing = attendance::Entity::find()
        .filter(attendance::Column::ActivityId.eq(a.id))
        .filter(attendance::Column::UserId.eq(user_id))
        .one(txn)
        .await?;
    let late = is_finished(a);
    let not_signed_up = || conflict("not_signed_up", "该居民没有确认的报名，可按现场报名登记");
    match action {
        Action::CheckIn => {
            let step = next(from, if late { SignupAction::LateCheckIn } else { SignupAction::CheckIn });
            match (step, s, existing) {
                (Step::Keep, _, Some(row)) => Ok(Recorded { user_id, action, changed: false, row }),
                (Step::Move(to), Some(s), None) => {
                    let credited = late.then(|| {
                        let row = attendance::Model {
                            id: 0,
                            activity_id: a.id,
                            user_id,
                            checked_in_at: at,
                            checked_out_at: None,
                            in_method: method.to_owned(),
                            out_method: None,
                            recorded_by,
                            credited_minutes: None,
                            created_at: now,
                            updated_at: now,
                        };
                        credited_minutes(a, &row, min_ratio)
                    });
                    attendance::Entity::insert(attendance::ActiveModel {
                        activity_id: Set(a.id),
                        user_id: Set(user_id),
                        checked_in_at: Set(at),
                        checked_out_at: Set(None),
                        in_method: Set(method.to_owned()),
                        out_method: Set(None),
                        recorded_by: Set(recorded_by),
                        credited_minutes: Set(credited),
                        created_at: Set(now),
                        updated_at: Set(now),
                        ..Default::default()
                    })
                    .exec_without_returning(txn)
                    .await?;
                    move_signup(txn, &s, to, None, now).await?;
                    let row = attendance::Entity::find()
                        .filter(attendance::Column::ActivityId.eq(a.id))
                        .filter(attendance::Column::UserId.eq(user_id))
                        .one(txn)
                        .await?
                        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("attendance vanished")))?;
                    Ok(Recorded { user_id, action, changed: true, row })
                }
                (Step::Refuse(Refusal::NotSignedUp), ..) => Err(not_signed_up()),
                (Step::Refuse(refusal), ..) => Err(refusal.into_error()),
                (step, ..) => Err(AppError::Internal(anyhow::anyhow!("check-in table answered {step:?}"))),
            }
        }
        Action::CheckOut => {
            if !matches!(from, Some(SignupStatus::Attended | SignupStatus::Confirmed)) {
                return Err(not_signed_up());
            }
            let Some(row) = existing else { return Err(conflict("not_checked_in", "尚未签到，不能签退")) };
            if row.checked_out_at.is_some() {
                return Ok(Recorded { user_id, action, changed: false, row });
            }
            let out = Ord::max(at, row.checked_in_at);
            let mut update = attendance::Entity::update_many()
                .col_expr(attendance::Column::CheckedOutAt, Expr::value(out))
                .col_expr(attendance::Column::OutMethod, Expr::value(method))
                .col_expr(attendance::Column::UpdatedAt, Expr::value(now));
            let mut updated = attendance::Model { checked_out_at: Some(out), ..row.clone() };
            // After closing, a late check-out re-credits the hours, unless staff corrected them.
            if late && !corrected(txn, a.id, user_id).await? {
                let credited = credited_minutes(a, &updated, min_ratio);
                update = update.col_expr(attendance::Column::CreditedMinutes, Expr::value(credited));
                updated.credited_minutes = Some(credited);
            }
            update.filter(attendance::Column::Id.eq(row.id)).exec(txn).await?;
            Ok(Recorded { user_id, action, changed: true, row: updated })
        }
    }
}

/// Whether staff corrected this resident's hours on this activity.
async fn corrected(txn: &DatabaseTransaction, activity_id: i64, user_id: i64) -> AppResult<bool> {
    Ok(hour_correction::Entity::find()
        .filter(hour_correction::Column::ActivityId.eq(activity_id))
        .filter(hour_correction::Column::UserId.eq(user_id))
        .one(txn)
        .await?
        .is_some())
}

/// Who is being checked: a user id from the roster, a personal code scanned at the door,
/// or an offline resident's printed card code (`service::proxies::offline`).
#[derive(Clone, Debug)]
pub enum Who {
    User(i64),
    Code(String),
    Card(String),
}

async fn resolve(
    ctx: &AppContext,
    txn: &DatabaseTransaction,
    staff: i64,
    who: &Who,
    at: DateTime<Utc>,
) -> AppResult<(i64, &'static str)> {
    match who {
        Who::User(id) => Ok((*id, "roster")),
        Who::Code(code) => verify_personal_code(ctx, code, at)
            .map(|id| (id, "qr"))
            .ok_or_else(|| AppError::invalid("checkin_code", "invalid", "签到码无效或已过期，请让居民刷新后重试")),
        Who::Card(code) => Ok((crate::service::proxies::offline::resolve_card(ctx, txn, staff, code).await?, "card")),
    }
}

/// `POST /activities/{id}/attendance`: staff record a check-in or check-out.
pub async fn record(ctx: &AppContext, staff: &AuthUser, id: i64, who: Who, action: Action) -> AppResult<Recorded> {
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let a = lock(&txn, id).await?;
    require_org_staff(staff, a.organization_id)?;
    open_for_attendance(&a, now)?;
    let (user_id, method) = resolve(ctx, &txn, staff.id, &who, now).await?;
    let mark = Mark { action, at: now, method, recorded_by: Some(staff.id) };
    let done = apply(&txn, &a, user_id, mark, now, ctx.config.attendance_min_ratio).await?;
    txn.commit().await?;
    Ok(done)
}

/// The distance rule of a self check-in. An activity with coordinates decides for both
/// cases: a location must come, and it must be near. Leaving the location out is not a
/// way around the rule, and the refusal does not say how far is near enough.
fn near_enough(a: &activity::Model, at_location: Option<(f64, f64)>) -> AppResult<()> {
    let (Some(alat), Some(alng)) = (a.latitude, a.longitude) else {
        return Ok(());
    };
    let Some((lat, lng)) = at_location else {
        return Err(AppError::invalid("latitude", "required", "扫码签到须提供当前位置"));
    };
    if distance_m(lat, lng, alat, alng) > MAX_SELF_CHECKIN_DISTANCE_M {
        return Err(conflict("too_far", "未能确认您在活动现场，请到现场签到或请工作人员登记"));
    }
    Ok(())
}

/// A resident scans the activity's rotating code; for an activity with coordinates they
/// must send where they are, and be near.
pub async fn self_check(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    code: &str,
    action: Action,
    at_location: Option<(f64, f64)>,
) -> AppResult<Recorded> {
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let a = lock(&txn, id).await?;
    open_for_attendance(&a, now)?;
    if !activity_code_ok(ctx, id, code) {
        return Err(AppError::invalid("code", "invalid", "活动签到码无效或已过期，请扫描现场最新的二维码"));
    }
    near_enough(&a, at_location)?;
    let done = apply(
        &txn,
        &a,
        user.id,
        Mark { action, at: now, method: "activity_code", recorded_by: None },
        now,
        ctx.config.attendance_min_ratio,
    )
    .await?;
    txn.commit().await?;
    Ok(done)
}

/// Staff register a resident who turns up without a place, while places remain.
///
/// A walk-in places a sign-up and hours on someone's record, so staff name the resident
/// either by their personal code (they are here and agree) or, for a neighbour without
/// the app at hand, by id — only a resident whose home community is in the activity's
/// street or township.
pub async fn walk_in(ctx: &AppContext, staff: &AuthUser, id: i64, who: Who) -> AppResult<Recorded> {
    crate::service::retrying(|| walk_in_once(ctx, staff, id, who.clone())).await
}

async fn walk_in_once(ctx: &AppContext, staff: &AuthUser, id: i64, who: Who) -> AppResult<Recorded> {
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let a = lock(&txn, id).await?;
    require_org_staff(staff, a.organization_id)?;
    open_for_attendance(&a, now)?;
    let (user_id, _) = resolve(ctx, &txn, staff.id, &who, now).await?;
    let person = crate::entity::user::Entity::find_by_id(user_id)
        .one(&txn)
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or_else(|| AppError::invalid("user_id", "not_found", "user_id 指定的用户不存在"))?;
    if matches!(who, Who::User(_)) {
        let venue = crate::entity::region::Entity::find_by_id(a.community_id).one(&txn).await?;
        let home = match person.home_community_id {
            Some(h) => crate::entity::region::Entity::find_by_id(h).one(&txn).await?,
            None => None,
        };
        let neighbour = match (venue, home) {
            (Some(venue), Some(home)) => crate::service::activities::may_host(Some(&venue), &home),
            _ => false,
        };
        if !neighbour {
            return Err(AppError::invalid(
                "user_id",
                "checkin_code_required",
                "该居民不住在本街道（乡镇），请扫描其签到码登记",
            ));
        }
    }
    // As a sign-up does: one place-taking transaction per resident at a time.
    crate::service::lock_users(&txn, &[user_id]).await?;
    let existing = signup::Entity::find()
        .filter(signup::Column::ActivityId.eq(id))
        .filter(signup::Column::UserId.eq(user_id))
        .one(&txn)
        .await?;
    let from = existing.as_ref().map(signup_status);
    match next(from, SignupAction::WalkIn) {
        Step::Keep => {} // already holds a place
        Step::TakePlace => {
            if a.confirmed_count >= a.capacity {
                return Err(conflict("activity_full", "名额已满，不能现场报名"));
            }
            if has_overlap(&txn, user_id, &a).await? {
                return Err(conflict("schedule_conflict", "该居民已确认报名同一时段的其他活动"));
            }
            let seq = a.signup_seq + 1;
            activity::Entity::update_many()
                .col_expr(activity::Column::SignupSeq, Expr::value(seq))
                .filter(activity::Column::Id.eq(id))
                .exec(&txn)
                .await?;
            add_to_counters(&txn, id, counter_delta(from, SignupStatus::Confirmed)).await?;
            match existing {
                Some(s) => {
                    signup::Entity::update_many()
                        .col_expr(signup::Column::Status, Expr::value(SignupStatus::Confirmed.as_str()))
                        .col_expr(signup::Column::Seq, Expr::value(seq))
                        .col_expr(signup::Column::Reason, Expr::value("现场报名"))
                        .col_expr(signup::Column::UpdatedAt, Expr::value(now))
                        .filter(signup::Column::Id.eq(s.id))
                        .exec(&txn)
                        .await?;
                }
                None => {
                    signup::Entity::insert(signup::ActiveModel {
                        activity_id: Set(id),
                        user_id: Set(user_id),
                        status: Set(SignupStatus::Confirmed.as_str().to_owned()),
                        seq: Set(seq),
                        reason: Set(Some("现场报名".into())),
                        created_at: Set(now),
                        updated_at: Set(now),
                        ..Default::default()
                    })
                    .exec_without_returning(&txn)
                    .await?;
                }
            }
        }
        Step::Refuse(refusal) => return Err(refusal.into_error()),
        step => return Err(AppError::Internal(anyhow::anyhow!("walk-in table answered {step:?}"))),
    }
    let done = apply(
        &txn,
        &a,
        user_id,
        Mark { action: Action::CheckIn, at: now, method: "walk_in", recorded_by: Some(staff.id) },
        now,
        ctx.config.attendance_min_ratio,
    )
    .await?;
    txn.commit().await?;
    Ok(done)
}

/// One record of an offline batch.
#[derive(Clone, Debug)]
pub struct OfflineRecord {
    pub who: Who,
    pub action: Action,
    pub at: DateTime<Utc>,
}

/// Check-ins recorded without signal, uploaded later, each with the time it happened.
/// Applying a batch twice changes nothing the second time. A batch may arrive after the
/// activity was closed (from another phone): each record whose device time lies inside
/// the check-in window is still applied — a no-show becomes attended, hours are credited
/// and the activity's rollups (hence every figure above it) recomputed — and each record
/// outside it is refused on its own line.
pub async fn batch(
    ctx: &AppContext,
    staff: &AuthUser,
    id: i64,
    records: Vec<OfflineRecord>,
) -> AppResult<Vec<Result<Recorded, AppError>>> {
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let a = lock(&txn, id).await?;
    require_org_staff(staff, a.organization_id)?;
    let late = is_finished(&a);
    if !late && ActivityStatus::parse(&a.status) != Some(ActivityStatus::Published) {
        open_for_attendance(&a, now)?;
    }
    // Check-ins before check-outs, in time order, whatever order the device kept.
    let mut records = records;
    records.sort_by_key(|r| (r.at, r.action == Action::CheckOut));
    let mut results = Vec::with_capacity(records.len());
    for r in records {
        let outcome = async {
            if r.at > now {
                return Err(AppError::invalid("at", "in_future", "记录时间不能晚于现在"));
            }
            if late {
                in_window(&a, r.at)?
            } else {
                open_for_attendance(&a, r.at)?
            };
            let (user_id, _) = resolve(ctx, &txn, staff.id, &r.who, r.at).await?;
            apply(
                &txn,
                &a,
                user_id,
                Mark { action: r.action, at: r.at, method: "offline", recorded_by: Some(staff.id) },
                now,
                ctx.config.attendance_min_ratio,
            )
            .await
        }
        .await;
        results.push(outcome);
    }
    if late && results.iter().any(|r| r.as_ref().is_ok_and(|done| done.changed)) {
        recompute_rollups(&txn, &a).await?;
    }
    txn.commit().await?;
    Ok(results)
}

pub async fn list(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<Vec<attendance::Model>> {
    let a = activity::Entity::find_by_id(id).one(&ctx.db).await?.ok_or(AppError::NotFound("activity"))?;
    crate::service::activities::require_roster_view(&ctx.db, user, &a).await?;
    Ok(attendance::Entity::find()
        .filter(attendance::Column::ActivityId.eq(id))
        .order_by_asc(attendance::Column::CheckedInAt)
        .all(&ctx.db)
        .await?)
}

// ---- closing ------------------------------------------------------------------------------

/// Minutes credited for one attendance: time present inside the activity, nothing under
/// `min_ratio` of its length, at most its service hours. A missing check-out counts as
/// the scheduled end.
pub fn credited_minutes(a: &activity::Model, row: &attendance::Model, min_ratio: f64) -> i32 {
    let start = Ord::max(row.checked_in_at, a.starts_at);
    let end = Ord::min(row.checked_out_at.unwrap_or(a.ends_at), a.ends_at);
    // Rounded to the nearest minute: a check-in a second after the start costs nothing.
    let present = Ord::max(((end - start).num_seconds() + 30) / 60, 0);
    let length = Ord::max((a.ends_at - a.starts_at).num_minutes(), 1);
    if (present as f64) < min_ratio * length as f64 { 0 } else { Ord::min(present, a.service_minutes as i64) as i32 }
}

pub fn month_of(t: DateTime<Utc>) -> String {
    to_shanghai(t).format("%Y-%m").to_string()
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FinishReport {
    pub attended: i32,
    pub no_shows: i32,
    pub minutes: i64,
}

/// `POST /activities/{id}/finish`: staff close an activity any time after its start.
pub async fn finish(ctx: &AppContext, staff: &AuthUser, id: i64) -> AppResult<FinishReport> {
    let txn = begin_write(&ctx.db).await?;
    let a = lock(&txn, id).await?;
    require_org_staff(staff, a.organization_id)?;
    let report = close(ctx, &txn, &a).await?;
    txn.commit().await?;
    Ok(report)
}

async fn close(ctx: &AppContext, txn: &DatabaseTransaction, a: &activity::Model) -> AppResult<FinishReport> {
    close_at(txn, a, ctx.now(), ctx.config.attendance_min_ratio).await
}

/// Closes a published activity at `now`: confirmed sign-ups become no-shows, each
/// attendance is credited its minutes (nothing under `min_ratio` of the activity's
/// length), time-bank minutes are paid, and the rollups are written
/// ([`write_rollups`]). The one closing every path shares: staff's finish, the
/// scheduler's, and the demo's past (`service::demo_history`).
pub async fn close_at(
    txn: &DatabaseTransaction,
    a: &activity::Model,
    now: DateTime<Utc>,
    min_ratio: f64,
) -> AppResult<FinishReport> {
    if ActivityStatus::parse(&a.status) != Some(ActivityStatus::Published) {
        return Err(conflict("invalid_transition", "只有进行中的活动可以结束"));
    }
    if now < a.starts_at {
        return Err(conflict("activity_not_started", "活动尚未开始，不能结束"));
    }
    // What closing does to each status comes from the sign-up table (confirmed → no_show).
    let mut no_shows = 0;
    for from in SignupStatus::ALL {
        if let Step::Move(to) = next(Some(*from), SignupAction::Close) {
            let moved = signup::Entity::update_many()
                .col_expr(signup::Column::Status, Expr::value(to.as_str()))
                .col_expr(signup::Column::UpdatedAt, Expr::value(now))
                .filter(signup::Column::ActivityId.eq(a.id))
                .filter(signup::Column::Status.eq(from.as_str()))
                .exec(txn)
                .await?
                .rows_affected as i32;
            if to == SignupStatus::NoShow {
                no_shows += moved;
            }
        }
    }
    let rows = attendance::Entity::find().filter(attendance::Column::ActivityId.eq(a.id)).all(txn).await?;
    let mut minutes = 0i64;
    let mut credits = Vec::with_capacity(rows.len());
    for row in &rows {
        let credited = credited_minutes(a, row, min_ratio);
        minutes += credited as i64;
        credits.push((row.user_id, credited));
        attendance::Entity::update_many()
            .col_expr(attendance::Column::CreditedMinutes, Expr::value(credited))
            .col_expr(attendance::Column::UpdatedAt, Expr::value(now))
            .filter(attendance::Column::Id.eq(row.id))
            .exec(txn)
            .await?;
    }
    activity::Entity::update_many()
        .col_expr(activity::Column::Status, Expr::value(ActivityStatus::Finished.as_str()))
        .col_expr(activity::Column::FinishedAt, Expr::value(now))
        .col_expr(activity::Column::UpdatedAt, Expr::value(now))
        .filter(activity::Column::Id.eq(a.id))
        .exec(txn)
        .await?;
    cancel_reminders(txn, a.id, None).await?;
    // Time-bank minutes, in the same transaction: a currency apart from the hours above.
    crate::service::time_bank::credit_activity(txn, a, &credits, now).await?;
    let report = FinishReport { attended: rows.len() as i32, no_shows, minutes };
    write_rollups(txn, a, &rows.iter().map(|r| r.user_id).collect::<Vec<_>>(), report).await?;
    Ok(report)
}

/// Recomputes a finished activity's rollups from its rows, after late evidence: the
/// activity's figures (attended, no-shows, minutes) and every participant's month bit.
pub async fn recompute_rollups(txn: &DatabaseTransaction, a: &activity::Model) -> AppResult<()> {
    let rows = attendance::Entity::find().filter(attendance::Column::ActivityId.eq(a.id)).all(txn).await?;
    let no_shows = signup::Entity::find()
        .filter(signup::Column::ActivityId.eq(a.id))
        .filter(signup::Column::Status.eq(SignupStatus::NoShow.as_str()))
        .count(txn)
        .await? as i32;
    let report = FinishReport {
        attended: rows.len() as i32,
        no_shows,
        minutes: rows.iter().map(|r| r.credited_minutes.unwrap_or(0) as i64).sum(),
    };
    write_rollups(txn, a, &rows.iter().map(|r| r.user_id).collect::<Vec<_>>(), report).await
}

/// The rollups for one finished activity: its figures, its community's month summed
/// again ([`activity_months::refresh`](crate::service::activity_months::refresh)), a
/// month bit for each participant in its community and year, and the participants added
/// to the community's set of the month
/// ([`participant_counts::add`](crate::service::participant_counts::add)). (The
/// benchmark's bulk path writes `activity_stats` and `participant_years` in SQL,
/// bench/seed_district.sql, and derives the rest with `linli rebuild-figures`.)
pub async fn write_rollups(
    db: &impl ConnectionTrait,
    a: &activity::Model,
    participants: &[i64],
    report: FinishReport,
) -> AppResult<()> {
    let month = month_of(a.starts_at);
    activity_stat::Entity::insert(activity_stat::ActiveModel {
        activity_id: Set(a.id),
        organization_id: Set(a.organization_id),
        community_id: Set(a.community_id),
        kind: Set(a.kind.clone()),
        month: Set(month.clone()),
        starts_at: Set(a.starts_at),
        signups: Set(report.attended + report.no_shows),
        attended: Set(report.attended),
        no_shows: Set(report.no_shows),
        minutes: Set(report.minutes),
    })
    .on_conflict(
        sea_orm::sea_query::OnConflict::column(activity_stat::Column::ActivityId)
            .update_columns([
                activity_stat::Column::Signups,
                activity_stat::Column::Attended,
                activity_stat::Column::NoShows,
                activity_stat::Column::Minutes,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    let local = to_shanghai(a.starts_at);
    let (year, bit) = (local.year(), 1i32 << (local.month0()));
    for chunk in participants.chunks(500) {
        participant_year::Entity::insert_many(chunk.iter().map(|u| participant_year::ActiveModel {
            community_id: Set(a.community_id),
            year: Set(year),
            user_id: Set(*u),
            months: Set(bit),
        }))
        .on_conflict(
            sea_orm::sea_query::OnConflict::columns([
                participant_year::Column::CommunityId,
                participant_year::Column::Year,
                participant_year::Column::UserId,
            ])
            .value(participant_year::Column::Months, Expr::cust("participant_years.months | excluded.months"))
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    }
    crate::service::activity_months::refresh(db, a.community_id, &month).await?;
    crate::service::participant_counts::add(db, a.community_id, &month, participants).await
}

/// Closes activities that ended more than `AUTO_FINISH_AFTER` ago (the scheduler's job).
pub async fn finish_overdue(ctx: &AppContext) -> AppResult<usize> {
    let cutoff = ctx.now() - Duration::from_std(ctx.config.auto_finish_after).unwrap_or_else(|_| Duration::hours(6));
    let due: Vec<i64> = activity::Entity::find()
        .filter(activity::Column::Status.eq(ActivityStatus::Published.as_str()))
        .filter(activity::Column::EndsAt.lt(cutoff))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect();
    let mut closed = 0;
    for id in due {
        let txn = begin_write(&ctx.db).await?;
        let a = lock(&txn, id).await?;
        if ActivityStatus::parse(&a.status) == Some(ActivityStatus::Published) {
            close(ctx, &txn, &a).await?;
            closed += 1;
        }
        txn.commit().await?;
    }
    Ok(closed)
}

/// Staff correct a resident's hours after closing, with a reason kept in the trail.
pub async fn correct_hours(
    ctx: &AppContext,
    staff: &AuthUser,
    id: i64,
    user_id: i64,
    minutes: i32,
    reason: String,
) -> AppResult<attendance::Model> {
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let a = lock(&txn, id).await?;
    require_org_staff(staff, a.organization_id)?;
    if ActivityStatus::parse(&a.status) != Some(ActivityStatus::Finished) {
        return Err(conflict("activity_not_finished", "活动结束后才能更正时长"));
    }
    if minutes > a.service_minutes {
        return Err(AppError::invalid("hours", "too_many", "更正后的时长不能超过活动的服务时长"));
    }
    let row = match attendance::Entity::find()
        .filter(attendance::Column::ActivityId.eq(id))
        .filter(attendance::Column::UserId.eq(user_id))
        .one(&txn)
        .await?
    {
        Some(row) => row,
        // A no-show who did come (staff say so, with a reason): late evidence, as an
        // offline record after closing is — present for the scheduled span.
        None => {
            let mark =
                Mark { action: Action::CheckIn, at: a.starts_at, method: "correction", recorded_by: Some(staff.id) };
            let done = apply(&txn, &a, user_id, mark, now, ctx.config.attendance_min_ratio).await.map_err(|e| {
                if matches!(e, AppError::Conflict("not_signed_up", _)) { AppError::NotFound("sign-up") } else { e }
            })?;
            recompute_rollups(&txn, &a).await?;
            done.row
        }
    };
    let old = row.credited_minutes.unwrap_or(0);
    attendance::Entity::update_many()
        .col_expr(attendance::Column::CreditedMinutes, Expr::value(minutes))
        .col_expr(attendance::Column::UpdatedAt, Expr::value(now))
        .filter(attendance::Column::Id.eq(row.id))
        .exec(&txn)
        .await?;
    hour_correction::Entity::insert(hour_correction::ActiveModel {
        activity_id: Set(id),
        user_id: Set(user_id),
        old_minutes: Set(old),
        new_minutes: Set(minutes),
        reason: Set(reason),
        corrected_by: Set(staff.id),
        created_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(&txn)
    .await?;
    activity_stat::Entity::update_many()
        .col_expr(activity_stat::Column::Minutes, Expr::col(activity_stat::Column::Minutes).add((minutes - old) as i64))
        .filter(activity_stat::Column::ActivityId.eq(id))
        .exec(&txn)
        .await?;
    crate::service::activity_months::refresh(&txn, a.community_id, &month_of(a.starts_at)).await?;
    txn.commit().await?;
    Ok(attendance::Model { credited_minutes: Some(minutes), ..row })
}

pub async fn corrections(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<Vec<hour_correction::Model>> {
    let a = activity::Entity::find_by_id(id).one(&ctx.db).await?.ok_or(AppError::NotFound("activity"))?;
    crate::service::activities::require_roster_view(&ctx.db, user, &a).await?;
    Ok(hour_correction::Entity::find()
        .filter(hour_correction::Column::ActivityId.eq(id))
        .order_by_asc(hour_correction::Column::Id)
        .all(&ctx.db)
        .await?)
}

// ---- a resident's own record ------------------------------------------------------------

pub struct ServiceLine {
    pub activity: activity::Model,
    pub organization_name: String,
    pub minutes: i32,
    pub checked_in_at: DateTime<Utc>,
}

/// Every finished activity the resident attended, newest first.
pub async fn service_record(ctx: &AppContext, user: &AuthUser) -> AppResult<Vec<ServiceLine>> {
    let rows = attendance::Entity::find()
        .filter(attendance::Column::UserId.eq(user.id))
        .filter(attendance::Column::CreditedMinutes.is_not_null())
        .all(&ctx.db)
        .await?;
    let mut activities: HashMap<i64, activity::Model> = activity::Entity::find()
        .filter(activity::Column::Id.is_in(rows.iter().map(|r| r.activity_id).collect::<Vec<_>>()))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    let names: HashMap<i64, String> = crate::entity::organization::Entity::find()
        .filter(
            crate::entity::organization::Column::Id
                .is_in(activities.values().map(|a| a.organization_id).collect::<Vec<_>>()),
        )
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    let mut lines: Vec<ServiceLine> = rows
        .into_iter()
        .filter_map(|r| {
            let a = activities.remove(&r.activity_id)?;
            Some(ServiceLine {
                organization_name: names.get(&a.organization_id).cloned().unwrap_or_default(),
                minutes: r.credited_minutes.unwrap_or(0),
                checked_in_at: r.checked_in_at,
                activity: a,
            })
        })
        .collect();
    lines.sort_by_key(|l| std::cmp::Reverse(l.activity.starts_at));
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activity(minutes: i64, service: i32) -> activity::Model {
        let start = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        activity::Model {
            id: 1,
            organization_id: 1,
            community_id: 1,
            kind: "volunteer".into(),
            title: String::new(),
            description: String::new(),
            location: String::new(),
            latitude: None,
            longitude: None,
            starts_at: start,
            ends_at: start + Duration::minutes(minutes),
            signup_deadline: start,
            cancel_cutoff_minutes: 120,
            capacity: 10,
            waitlist_enabled: true,
            service_minutes: service,
            target_groups: String::new(),
            age_note: None,
            skill_note: None,
            status: "published".into(),
            cancel_reason: None,
            confirmed_count: 0,
            waitlist_count: 0,
            signup_seq: 0,
            version: 1,
            created_by: None,
            published_at: None,
            finished_at: None,
            venue_id: None,
            review_pending: false,
            time_bank_credited: false,
            series_id: None,
            series_occurrence: None,
            series_override: false,
            created_at: start,
            updated_at: start,
        }
    }

    fn row(a: &activity::Model, in_after: i64, out_after: Option<i64>) -> attendance::Model {
        attendance::Model {
            id: 1,
            activity_id: 1,
            user_id: 1,
            checked_in_at: a.starts_at + Duration::minutes(in_after),
            checked_out_at: out_after.map(|m| a.starts_at + Duration::minutes(m)),
            in_method: "roster".into(),
            out_method: None,
            recorded_by: None,
            credited_minutes: None,
            created_at: a.starts_at,
            updated_at: a.starts_at,
        }
    }

    #[test]
    fn hours_follow_presence_the_60_percent_rule_and_the_cap() {
        let a = activity(120, 90);
        assert_eq!(credited_minutes(&a, &row(&a, 0, Some(120)), 0.6), 90, "capped by service hours");
        assert_eq!(
            credited_minutes(&a, &row(&a, -30, None), 0.6),
            90,
            "early arrival and no check-out: the scheduled end"
        );
        assert_eq!(credited_minutes(&a, &row(&a, 30, Some(110)), 0.6), 80);
        assert_eq!(credited_minutes(&a, &row(&a, 60, Some(120)), 0.6), 0, "50 % earns nothing");
        assert_eq!(credited_minutes(&a, &row(&a, 48, None), 0.6), 72, "exactly 60 % counts");
        assert_eq!(credited_minutes(&a, &row(&a, 60, Some(120)), 0.5), 60, "the ratio is configurable");
    }

    #[test]
    fn months_are_in_shanghai() {
        // 2026-11-30 20:00 UTC is already December in Shanghai.
        let t = DateTime::<Utc>::from_timestamp(1_796_068_800, 0).unwrap_or_default();
        assert_eq!(month_of(t), "2026-12");
    }
}
