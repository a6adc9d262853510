//! Regular volunteers of a series: asked for by a resident, accepted by the organization's
//! staff (or at once when the series auto-accepts), signed up to every date automatically
//! ([`super::materialise::sign_regulars`]); they pause until a date (their automatic
//! places on the paused dates are given up) or leave; staff remove one with a reason; two
//! missed dates in a row pause them. Every change goes through the state table
//! [`crate::domain::series::next`], as a conditional update of the row as read.

use std::collections::HashMap;

use chrono::NaiveDate;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr};

use crate::{
    auth::AuthUser,
    context::AppContext,
    domain::{
        activity::{ActivityStatus, SignupStatus},
        recurrence,
        series::{MISSES_BEFORE_PAUSE, RegularAction, RegularStatus, RegularStep, SeriesStatus, missed_in_a_row, next},
    },
    entity::{activity, activity_series, series_regular, signup, user},
    error::{AppError, AppResult},
    service::{
        Contended,
        activities::{self, require_org_staff},
        begin_write,
        notifications::{Notice, enqueue},
        retrying,
    },
};

use super::{find, materialise, status_of};

/// A regular with their nickname.
#[derive(Debug, Clone)]
pub struct RegularView {
    pub regular: series_regular::Model,
    pub nickname: Option<String>,
}

fn regular_status(r: &series_regular::Model) -> RegularStatus {
    RegularStatus::parse(&r.status).unwrap_or(RegularStatus::Left)
}

/// A change of standing as the state table allows it, in one transaction: the row is
/// written only if still as read (else the whole step runs again); the notice, if any,
/// goes to the resident in the same transaction.
struct Change<'a> {
    series: &'a activity_series::Model,
    user_id: i64,
    action: RegularAction,
    actor: i64,
    paused_until: Option<NaiveDate>,
    reason: Option<String>,
    /// To the resident: (title, body).
    notice: Option<(String, String)>,
}

async fn apply(ctx: &AppContext, c: &Change<'_>) -> AppResult<(series_regular::Model, bool)> {
    retrying(|| apply_once(ctx, c)).await
}

async fn apply_once(ctx: &AppContext, c: &Change<'_>) -> AppResult<(series_regular::Model, bool)> {
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let row = series_regular::Entity::find()
        .filter(series_regular::Column::SeriesId.eq(c.series.id))
        .filter(series_regular::Column::UserId.eq(c.user_id))
        .one(&txn)
        .await?;
    let to = match next(row.as_ref().map(regular_status), c.action) {
        RegularStep::Keep => {
            return row.map(|r| (r, false)).ok_or(AppError::NotFound("regular"));
        }
        RegularStep::Refuse("regular_removed") => {
            return Err(AppError::Conflict("regular_removed", "组织方已将您移出该系列的固定志愿者".into()));
        }
        RegularStep::Refuse("not_a_regular") => {
            return Err(AppError::Conflict("not_a_regular", "不是该系列的固定志愿者".into()));
        }
        RegularStep::Refuse(code) => return Err(AppError::Conflict(code, "当前状态不能这样操作".into())),
        RegularStep::Move(to) => to,
    };
    let paused_until = if to == RegularStatus::Paused { c.paused_until } else { None };
    let saved = match row {
        Some(old) => {
            let changed = series_regular::Entity::update_many()
                .col_expr(series_regular::Column::Status, Expr::value(to.as_str()))
                .col_expr(series_regular::Column::PausedUntil, Expr::value(paused_until))
                .col_expr(series_regular::Column::Reason, Expr::value(c.reason.clone()))
                .col_expr(series_regular::Column::DecidedBy, Expr::value(c.actor))
                .col_expr(series_regular::Column::UpdatedAt, Expr::value(now))
                .filter(series_regular::Column::Id.eq(old.id))
                .filter(series_regular::Column::Status.eq(old.status.as_str()))
                .filter(series_regular::Column::UpdatedAt.eq(old.updated_at))
                .exec(&txn)
                .await?
                .rows_affected;
            if changed != 1 {
                return Err(Contended("the regular changed meanwhile").into());
            }
            series_regular::Model {
                status: to.as_str().to_owned(),
                paused_until,
                reason: c.reason.clone(),
                decided_by: Some(c.actor),
                updated_at: now,
                ..old
            }
        }
        None => {
            let inserted = series_regular::Entity::insert(series_regular::ActiveModel {
                series_id: Set(c.series.id),
                user_id: Set(c.user_id),
                status: Set(to.as_str().to_owned()),
                paused_until: Set(paused_until),
                reason: Set(c.reason.clone()),
                decided_by: Set(Some(c.actor)),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            })
            .exec(&txn)
            .await;
            let id = match inserted {
                Ok(r) => r.last_insert_id,
                // Two asks at once: the unique (series, resident) index keeps one; run again.
                Err(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => {
                    return Err(Contended("the regular was added meanwhile").into());
                }
                Err(e) => return Err(e.into()),
            };
            series_regular::Entity::find_by_id(id).one(&txn).await?.ok_or(AppError::NotFound("regular"))?
        }
    };
    if let Some((title, body)) = &c.notice {
        let notice = Notice {
            user_id: c.user_id,
            kind: "series_regular",
            title: title.clone(),
            body: body.clone(),
            activity_id: None,
            organization_id: Some(c.series.organization_id),
            dedupe_key: format!(
                "series_regular:{}:{}:{}:{}",
                c.series.id,
                c.user_id,
                to.as_str(),
                now.timestamp_micros()
            ),
            due_at: None,
            offset_secs: None,
        };
        enqueue(&txn, vec![notice], now).await?;
    }
    txn.commit().await?;
    Ok((saved, true))
}

async fn with_nickname(ctx: &AppContext, regular: series_regular::Model) -> AppResult<RegularView> {
    let nickname = user::Entity::find_by_id(regular.user_id).one(&ctx.db).await?.and_then(|u| u.nickname);
    Ok(RegularView { regular, nickname })
}

/// `POST /activity-series/{id}/regulars`: a resident asks to be a regular of an active
/// series; `active` at once when the series auto-accepts (and signed up to its open dates
/// straight away), else `requested` for its staff to decide. Asking again answers the
/// standing as it is; a removed resident is refused (409 `regular_removed`).
pub async fn ask(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<RegularView> {
    let s = find(&ctx.db, id).await?;
    if status_of(&s) != SeriesStatus::Active {
        return Err(AppError::Conflict("series_closed", "该系列已取消或已结束".into()));
    }
    let welcome = s.auto_accept.then(|| {
        let body = format!("您已成为「{}」的固定志愿者，之后每一次都会自动为您报名。", s.title);
        ("已成为固定志愿者".to_owned(), body)
    });
    let change = Change {
        series: &s,
        user_id: user.id,
        action: RegularAction::Ask { auto_accept: s.auto_accept },
        actor: user.id,
        paused_until: None,
        reason: None,
        notice: welcome,
    };
    let (regular, changed) = apply(ctx, &change).await?;
    if changed && regular_status(&regular).signs_up() {
        materialise::sign_regulars(ctx, id, Some(user.id)).await?;
    }
    with_nickname(ctx, regular).await
}

/// `POST /activity-series/{id}/regulars/{user_id}/decision`: the organization's staff
/// accept (the resident is signed up to the open dates at once) or decline a request;
/// the resident is told either way.
pub async fn decide(ctx: &AppContext, staff: &AuthUser, id: i64, user_id: i64, accept: bool) -> AppResult<RegularView> {
    let s = find(&ctx.db, id).await?;
    require_org_staff(staff, s.organization_id)?;
    let (action, title, body) = if accept {
        (
            RegularAction::Accept,
            "已成为固定志愿者",
            format!("您已成为「{}」的固定志愿者，之后每一次都会自动为您报名。", s.title),
        )
    } else {
        (RegularAction::Decline, "固定志愿者申请未通过", format!("「{}」的组织方暂未接受您成为固定志愿者。", s.title))
    };
    let change = Change {
        series: &s,
        user_id,
        action,
        actor: staff.id,
        paused_until: None,
        reason: None,
        notice: Some((title.to_owned(), body)),
    };
    let (regular, _) = apply(ctx, &change).await?;
    if accept {
        materialise::sign_regulars(ctx, id, Some(user_id)).await?;
    }
    with_nickname(ctx, regular).await
}

/// `POST /activity-series/{id}/regulars/me/pause {until?}`: the regular pauses until a
/// local date (inclusive; without one, until they resume). Their automatic places on the
/// dates paused are given up the usual way (the waitlist moves up); a place inside a
/// date's cancellation cut-off is kept.
pub async fn pause(ctx: &AppContext, user: &AuthUser, id: i64, until: Option<NaiveDate>) -> AppResult<RegularView> {
    let s = find(&ctx.db, id).await?;
    let today = recurrence::local_date(ctx.now());
    if until.is_some_and(|d| d < today) {
        return Err(AppError::invalid("until", "in_past", "暂停到的日期须是今天或以后"));
    }
    let change = Change {
        series: &s,
        user_id: user.id,
        action: RegularAction::Pause,
        actor: user.id,
        paused_until: until,
        reason: None,
        notice: None,
    };
    let (regular, _) = apply(ctx, &change).await?;
    release_places(ctx, id, user.id, until).await?;
    with_nickname(ctx, regular).await
}

/// `POST /activity-series/{id}/regulars/me/resume`: a paused regular is active again and
/// signed up to the open dates they have no sign-up on.
pub async fn resume(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<RegularView> {
    let s = find(&ctx.db, id).await?;
    let change = Change {
        series: &s,
        user_id: user.id,
        action: RegularAction::Resume,
        actor: user.id,
        paused_until: None,
        reason: None,
        notice: None,
    };
    let (regular, _) = apply(ctx, &change).await?;
    materialise::sign_regulars(ctx, id, Some(user.id)).await?;
    with_nickname(ctx, regular).await
}

/// `DELETE /activity-series/{id}/regulars/me`: the regular leaves; their automatic places
/// on the dates not begun are given up (outside the cut-off).
pub async fn leave(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<()> {
    let s = find(&ctx.db, id).await?;
    let change = Change {
        series: &s,
        user_id: user.id,
        action: RegularAction::Leave,
        actor: user.id,
        paused_until: None,
        reason: None,
        notice: None,
    };
    apply(ctx, &change).await?;
    release_places(ctx, id, user.id, None).await?;
    Ok(())
}

/// `POST /activity-series/{id}/regulars/{user_id}/remove {reason}`: the organization's
/// staff remove a regular (or a request) with a reason, which the resident is told; their
/// automatic places are given up. A removed resident cannot ask again.
pub async fn remove(
    ctx: &AppContext,
    staff: &AuthUser,
    id: i64,
    user_id: i64,
    reason: String,
) -> AppResult<RegularView> {
    let s = find(&ctx.db, id).await?;
    require_org_staff(staff, s.organization_id)?;
    let body = format!("组织方已将您移出「{}」的固定志愿者：{reason}", s.title);
    let change = Change {
        series: &s,
        user_id,
        action: RegularAction::Remove,
        actor: staff.id,
        paused_until: None,
        reason: Some(reason),
        notice: Some(("固定志愿者资格已取消".to_owned(), body)),
    };
    let (regular, _) = apply(ctx, &change).await?;
    release_places(ctx, id, user_id, None).await?;
    with_nickname(ctx, regular).await
}

/// `GET /activity-series/{id}/regulars`: for the organization's staff; in the order they asked.
pub async fn list(ctx: &AppContext, staff: &AuthUser, id: i64) -> AppResult<Vec<RegularView>> {
    let s = find(&ctx.db, id).await?;
    require_org_staff(staff, s.organization_id)?;
    let rows = series_regular::Entity::find()
        .filter(series_regular::Column::SeriesId.eq(id))
        .order_by_asc(series_regular::Column::Id)
        .all(&ctx.db)
        .await?;
    let nicknames: HashMap<i64, Option<String>> = user::Entity::find()
        .filter(user::Column::Id.is_in(rows.iter().map(|r| r.user_id).collect::<Vec<_>>()))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.nickname))
        .collect();
    Ok(rows
        .into_iter()
        .map(|regular| RegularView { nickname: nicknames.get(&regular.user_id).cloned().flatten(), regular })
        .collect())
}

/// Gives up a resident's automatic places on the series' dates not begun (up to the local
/// date `until`, inclusive, when given) through the ordinary cancellation (cut-off, the
/// waitlist moving up). A place inside its cut-off is kept. Returns how many were given up.
async fn release_places(ctx: &AppContext, id: i64, user_id: i64, until: Option<NaiveDate>) -> AppResult<usize> {
    let now = ctx.now();
    let mut dates = activity::Entity::find()
        .select_only()
        .column(activity::Column::Id)
        .filter(activity::Column::SeriesId.eq(id))
        .filter(activity::Column::Status.eq(ActivityStatus::Published.as_str()))
        .filter(activity::Column::StartsAt.gt(now));
    if let Some(d) = until {
        dates = dates.filter(activity::Column::StartsAt.lt(super::local_midnight(d) + chrono::Duration::days(1)));
    }
    let held: Vec<i64> = signup::Entity::find()
        .select_only()
        .column(signup::Column::ActivityId)
        .filter(signup::Column::UserId.eq(user_id))
        .filter(signup::Column::Regular.eq(true))
        .filter(signup::Column::Status.is_in([SignupStatus::Confirmed.as_str(), SignupStatus::Waitlisted.as_str()]))
        .filter(signup::Column::ActivityId.in_subquery(sea_orm::QueryTrait::into_query(dates)))
        .into_tuple()
        .all(&ctx.db)
        .await?;
    let mut released = 0;
    for activity_id in held {
        match activities::cancel_signup_for(ctx, activities::Acting::own(user_id), activity_id).await {
            Ok(()) => released += 1,
            Err(e @ (AppError::Internal(_) | AppError::Unavailable(_))) => return Err(e),
            Err(e) => tracing::debug!(series = id, activity_id, user_id, code = e.code(), "automatic place kept"),
        }
    }
    Ok(released)
}

/// Paused regulars whose pause date has passed are active again (the job then signs them
/// up). Returns how many.
pub(crate) async fn end_pauses(ctx: &AppContext) -> AppResult<usize> {
    let today = recurrence::local_date(ctx.now());
    let due = series_regular::Entity::find()
        .filter(series_regular::Column::Status.eq(RegularStatus::Paused.as_str()))
        .filter(series_regular::Column::PausedUntil.lt(today))
        .all(&ctx.db)
        .await?;
    let mut n = 0;
    for r in due {
        let s = find(&ctx.db, r.series_id).await?;
        let change = Change {
            series: &s,
            user_id: r.user_id,
            action: RegularAction::PauseOver,
            actor: r.user_id,
            paused_until: None,
            reason: None,
            notice: None,
        };
        if apply(ctx, &change).await?.1 {
            n += 1;
        }
    }
    Ok(n)
}

/// Active regulars who did not come to the last two closed dates of their series on which
/// they held a place (since they last became active) are paused and told. Returns how many.
pub(crate) async fn pause_absentees(ctx: &AppContext) -> AppResult<usize> {
    let active = series_regular::Entity::find()
        .filter(series_regular::Column::Status.eq(RegularStatus::Active.as_str()))
        .all(&ctx.db)
        .await?;
    let mut n = 0;
    for r in active {
        let closed = activity::Entity::find()
            .select_only()
            .column(activity::Column::Id)
            .filter(activity::Column::SeriesId.eq(r.series_id))
            .filter(activity::Column::Status.eq(ActivityStatus::Finished.as_str()))
            .filter(activity::Column::StartsAt.gt(r.updated_at));
        let recent: Vec<SignupStatus> = signup::Entity::find()
            .select_only()
            .column(signup::Column::Status)
            .filter(signup::Column::UserId.eq(r.user_id))
            .filter(signup::Column::Status.is_in([SignupStatus::Attended.as_str(), SignupStatus::NoShow.as_str()]))
            .filter(signup::Column::ActivityId.in_subquery(sea_orm::QueryTrait::into_query(closed)))
            // Dates are made in order, so the newest date has the highest id.
            .order_by_desc(signup::Column::ActivityId)
            .limit(MISSES_BEFORE_PAUSE as u64)
            .into_tuple::<String>()
            .all(&ctx.db)
            .await?
            .iter()
            .filter_map(|s| SignupStatus::parse(s))
            .collect();
        if !missed_in_a_row(&recent) {
            continue;
        }
        let s = find(&ctx.db, r.series_id).await?;
        let body =
            format!("您连续 {MISSES_BEFORE_PAUSE} 次未到场「{}」，已暂停自动报名；可随时在系列页面恢复。", s.title);
        let change = Change {
            series: &s,
            user_id: r.user_id,
            action: RegularAction::Missed,
            actor: r.user_id,
            paused_until: None,
            reason: Some("连续未到场".to_owned()),
            notice: Some(("固定志愿者已暂停".to_owned(), body)),
        };
        if apply(ctx, &change).await?.1 {
            release_places(ctx, r.series_id, r.user_id, None).await?;
            n += 1;
        }
    }
    Ok(n)
}
