//! Recurring activity series (issue 18, part 1). A series keeps an activity template and
//! an RFC 5545 recurrence ([`crate::domain::recurrence`]); each date is an ordinary
//! activity linked to it (own capacity, waitlist, sign-ups, check-in, hours), made on a
//! rolling horizon by [`materialise`] — at creation and by the hourly job — never in the
//! past, unique per (series, occurrence day). Regulars ([`regulars`]) are signed up to
//! each new date through the same place-taking path as a manual sign-up.

pub mod demo;
pub mod edit;
pub mod materialise;
pub mod regulars;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    sea_query::{Expr, ExprTrait},
};

use crate::{
    auth::AuthUser,
    context::AppContext,
    domain::venue::Span,
    domain::{
        activity::ActivityStatus,
        recurrence::{self, Recurrence},
        series::{HORIZON_WEEKS, MAX_ROOM_DATES, RegularStatus, SeriesStatus},
    },
    entity::{activity, activity_series, series_regular},
    error::{AppError, AppResult},
    service::{
        activities::{self, ActivityInput, require_org_staff},
        activity_posting, begin_write, venue_series,
    },
    wechat::Moderation,
};

/// A series as requested: the first date's activity (its window is the first date) and
/// the rule its dates follow.
#[derive(Debug, Clone)]
pub struct SeriesInput {
    pub activity: ActivityInput,
    pub recurrence: Recurrence,
    /// Dates (Asia/Shanghai) the rule skips, as `EXDATE`.
    pub skip: Vec<NaiveDate>,
    /// Weeks ahead dates are made (default 8).
    pub horizon_weeks: i32,
    /// Residents who ask to be regulars are accepted at once.
    pub auto_accept: bool,
}

/// One date of a series.
#[derive(Debug, Clone)]
pub struct SeriesDate {
    pub activity: activity::Model,
}

/// A series with its upcoming dates (soonest first) and the caller's standing.
#[derive(Debug, Clone)]
pub struct SeriesView {
    pub series: activity_series::Model,
    pub dates: Vec<SeriesDate>,
    pub my_regular: Option<series_regular::Model>,
    pub regulars_active: u64,
}

pub(crate) async fn find(db: &impl ConnectionTrait, id: i64) -> AppResult<activity_series::Model> {
    activity_series::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("series"))
}

pub(crate) fn status_of(s: &activity_series::Model) -> SeriesStatus {
    SeriesStatus::parse(&s.status).unwrap_or(SeriesStatus::Cancelled)
}

fn conflict(code: &'static str, zh: &str) -> AppError {
    AppError::Conflict(code, zh.to_owned())
}

/// `POST /organizations/{id}/activity-series`: the organization's staff post a series.
/// The template goes through the checks of posting an activity (and WeChat's content check
/// once: `review` holds every date for the committee); the first date must fall on the
/// rule (422 `recurrence.first_not_on_rule`). With a room, every date of the (bounded)
/// series is booked at once, all or nothing: 409 `series_refused` lists each date that
/// cannot be had. Then the dates within the horizon are made and published.
pub async fn create(ctx: &AppContext, user: &AuthUser, org_id: i64, input: SeriesInput) -> AppResult<SeriesView> {
    if !HORIZON_WEEKS.contains(&input.horizon_weeks) {
        return Err(AppError::invalid("horizon_weeks", "range", "提前生成的周数须在 1 到 26 之间"));
    }
    let a = &input.activity;
    let first = a.window.starts_at;
    let rule = input.recurrence.rrule();
    let on_rule = recurrence::occurrences(&rule, first, &[], first, first, 1)
        .map_err(|_| AppError::invalid("recurrence", "invalid", "重复规则无效"))?;
    if on_rule != vec![first] {
        return Err(AppError::invalid(
            "recurrence",
            "first_not_on_rule",
            "第一次的日期须符合重复规则（星期几或每月的日期）",
        ));
    }
    if input.skip.contains(&recurrence::local_date(first)) {
        return Err(AppError::invalid("skip_dates", "first_skipped", "第一次的日期不能跳过，请从下一次开始"));
    }
    let length = a.window.ends_at - a.window.starts_at;
    let room_dates = match a.venue_id {
        Some(_) if !input.recurrence.is_bounded() => {
            return Err(AppError::invalid(
                "recurrence",
                "room_needs_end",
                "使用场地的系列须有截止日期或次数，以便一次预约每一次的场地",
            ));
        }
        Some(_) => {
            let far = first + Duration::days(3 * 366);
            let starts = recurrence::occurrences(&rule, first, &input.skip, first, far, MAX_ROOM_DATES as u16 + 1)
                .map_err(|_| AppError::invalid("recurrence", "invalid", "重复规则无效"))?;
            if starts.len() > MAX_ROOM_DATES {
                return Err(AppError::invalid(
                    "recurrence",
                    "too_many_dates",
                    format!("使用场地的系列最多 {MAX_ROOM_DATES} 次，请提前截止日期或减少次数"),
                ));
            }
            starts
        }
        None => Vec::new(),
    };
    let p = activity_posting::prepare(ctx, user, org_id, a).await?;
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let series_id = activity_series::Entity::insert(activity_series::ActiveModel {
        organization_id: Set(org_id),
        community_id: Set(p.community_id),
        venue_id: Set(a.venue_id),
        kind: Set(a.kind.as_str().to_owned()),
        title: Set(a.title.clone()),
        description: Set(a.description.clone()),
        location: Set(p.location),
        latitude: Set(p.latitude),
        longitude: Set(p.longitude),
        capacity: Set(a.capacity.get()),
        waitlist_enabled: Set(a.waitlist_enabled),
        service_minutes: Set(p.service_minutes),
        target_groups: Set(a.target_groups.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(",")),
        age_note: Set(a.age_note.clone()),
        skill_note: Set(a.skill_note.clone()),
        cancel_cutoff_minutes: Set(a.cancel_cutoff_minutes),
        duration_minutes: Set(length.num_minutes() as i32),
        deadline_minutes: Set((a.window.starts_at - a.window.signup_deadline).num_minutes() as i32),
        review_pending: Set(p.verdict == Moderation::Review),
        rrule: Set(rule),
        first_starts_at: Set(first),
        skip_dates: Set(recurrence::join_dates(&input.skip)),
        horizon_weeks: Set(input.horizon_weeks),
        auto_accept: Set(input.auto_accept),
        status: Set(SeriesStatus::Active.as_str().to_owned()),
        cancel_reason: Set(None),
        version: Set(1),
        created_by: Set(Some(user.id)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(&txn)
    .await?
    .last_insert_id;
    if let (Some(venue_id), Some(last)) = (a.venue_id, room_dates.last()) {
        let spans: Vec<_> = room_dates
            .iter()
            .map(|s| (recurrence::local_date(*s), Span { starts_at: *s, ends_at: *s + length }))
            .collect();
        let booking = venue_series::RoomDates {
            organization_id: org_id,
            purpose: a.title.clone(),
            attendance: a.capacity.get() as i64,
            weekdays: String::new(),
            every_weeks: 0,
            until: recurrence::local_date(*last),
            skip_dates: String::new(),
            note: Some(format!("活动系列 #{series_id}")),
        };
        let booked = venue_series::book_dates(&txn, user.id, venue_id, &booking, &spans, now).await?;
        activity_series::Entity::update_many()
            .col_expr(activity_series::Column::VenueSeriesId, Expr::value(booked))
            .filter(activity_series::Column::Id.eq(series_id))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    materialise::run(ctx, series_id).await?;
    view(ctx, Some(user), series_id).await
}

/// `GET /activity-series/{id}`: the series, its upcoming dates that are out (drafts and
/// held dates only for the organization's staff), and the caller's standing as a regular.
pub async fn view(ctx: &AppContext, user: Option<&AuthUser>, id: i64) -> AppResult<SeriesView> {
    let series = find(&ctx.db, id).await?;
    let staff = user.is_some_and(|u| require_org_staff(u, series.organization_id).is_ok());
    let mut visible = vec![ActivityStatus::Published.as_str(), ActivityStatus::Finished.as_str()];
    if staff {
        visible.extend([
            ActivityStatus::Draft.as_str(),
            ActivityStatus::Held.as_str(),
            ActivityStatus::Cancelled.as_str(),
        ]);
    }
    let dates = activity::Entity::find()
        .filter(activity::Column::SeriesId.eq(id))
        .filter(activity::Column::Status.is_in(visible))
        .filter(activity::Column::EndsAt.gt(ctx.now()))
        .order_by_asc(activity::Column::StartsAt)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|activity| SeriesDate { activity })
        .collect();
    let my_regular = match user {
        Some(u) => {
            series_regular::Entity::find()
                .filter(series_regular::Column::SeriesId.eq(id))
                .filter(series_regular::Column::UserId.eq(u.id))
                .one(&ctx.db)
                .await?
        }
        None => None,
    };
    let regulars_active = {
        use sea_orm::PaginatorTrait;
        series_regular::Entity::find()
            .filter(series_regular::Column::SeriesId.eq(id))
            .filter(series_regular::Column::Status.eq(RegularStatus::Active.as_str()))
            .count(&ctx.db)
            .await?
    };
    Ok(SeriesView { series, dates, my_regular, regulars_active })
}

/// `GET /organizations/{id}/activity-series`: an organization's series, newest first
/// (active and ended; cancelled ones only for its staff).
pub async fn list(ctx: &AppContext, user: Option<&AuthUser>, org_id: i64) -> AppResult<Vec<activity_series::Model>> {
    let staff = user.is_some_and(|u| require_org_staff(u, org_id).is_ok());
    let mut q = activity_series::Entity::find().filter(activity_series::Column::OrganizationId.eq(org_id));
    if !staff {
        q = q.filter(activity_series::Column::Status.ne(SeriesStatus::Cancelled.as_str()));
    }
    Ok(q.order_by_desc(activity_series::Column::Id).all(&ctx.db).await?)
}

/// `POST /activity-series/{id}/cancel {from?, reason}`: the organization's staff cancel the
/// dates not yet begun — all of them (the series is cancelled and makes no more dates), or
/// those from the local date `from` on ("this and following": the rule then ends the day
/// before). Each date is cancelled the usual way (residents told why, reminders withdrawn,
/// its room booking given back). One date alone: `POST /activities/{id}/cancel`.
pub async fn cancel(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    from: Option<NaiveDate>,
    reason: String,
) -> AppResult<SeriesView> {
    let s = find(&ctx.db, id).await?;
    require_org_staff(user, s.organization_id)?;
    if status_of(&s) != SeriesStatus::Active {
        return Err(conflict("invalid_transition", "系列已取消或已结束"));
    }
    let now = ctx.now();
    let from_time = match from {
        Some(d) => Ord::max(local_midnight(d), now),
        None => now,
    };
    let txn = begin_write(&ctx.db).await?;
    crate::service::venues::lock_for_activity(&txn, s.venue_id).await?;
    let ids: Vec<i64> = activity::Entity::find()
        .filter(activity::Column::SeriesId.eq(id))
        .filter(activity::Column::StartsAt.gte(from_time))
        .filter(activity::Column::Status.is_in([
            ActivityStatus::Draft.as_str(),
            ActivityStatus::Held.as_str(),
            ActivityStatus::Published.as_str(),
        ]))
        .order_by_asc(activity::Column::Id)
        .all(&txn)
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect();
    for aid in ids {
        let a = activities::lock(&txn, aid).await?;
        activities::cancel_locked(&txn, &a, user.id, &reason, now).await?;
    }
    // Room bookings of the series not yet linked to a date are given back too.
    if let Some(booked) = s.venue_series_id {
        venue_series::release_unlinked(&txn, booked, from_time, user.id, &reason, now).await?;
    }
    let mut update = activity_series::Entity::update_many()
        .col_expr(activity_series::Column::UpdatedAt, Expr::value(now))
        .col_expr(activity_series::Column::Version, Expr::col(activity_series::Column::Version).add(1));
    update = match from {
        Some(d) if local_midnight(d) > s.first_starts_at => {
            // The rule ends the day before `from`: no date is made from it on.
            let until = d.pred_opt().unwrap_or(d);
            let far = s.first_starts_at + Duration::days(20 * 366);
            let counted = recurrence::occurrences(&s.rrule, s.first_starts_at, &[], s.first_starts_at, far, 1000)
                .ok()
                .and_then(|all| all.last().copied())
                .filter(|_| s.rrule.contains("COUNT="));
            let rule = with_until(&s.rrule, until, counted);
            update.col_expr(activity_series::Column::Rrule, Expr::value(rule))
        }
        _ => update
            .col_expr(activity_series::Column::Status, Expr::value(SeriesStatus::Cancelled.as_str()))
            .col_expr(activity_series::Column::CancelReason, Expr::value(reason.clone())),
    };
    update.filter(activity_series::Column::Id.eq(id)).exec(&txn).await?;
    txn.commit().await?;
    view(ctx, Some(user), id).await
}

/// Midnight of a local (Asia/Shanghai) date, in UTC.
pub(crate) fn local_midnight(d: NaiveDate) -> DateTime<Utc> {
    use chrono::TimeZone;
    crate::domain::clock::shanghai()
        .from_local_datetime(&d.and_time(chrono::NaiveTime::MIN))
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| d.and_time(chrono::NaiveTime::MIN).and_utc())
}

/// A stored rule ending on `until` (inclusive, local) instead of its own end: its `COUNT`
/// (whose last date is `counted_last`) or `UNTIL` is replaced by an `UNTIL`, the earlier
/// end winning.
fn with_until(rule: &str, until: NaiveDate, counted_last: Option<DateTime<Utc>>) -> String {
    let end = local_midnight(until) + Duration::days(1) - Duration::seconds(1);
    let mut parts: Vec<String> =
        rule.split(';').filter(|p| !p.starts_with("COUNT=") && !p.starts_with("UNTIL=")).map(str::to_owned).collect();
    let old_until = rule
        .split(';')
        .find_map(|p| p.strip_prefix("UNTIL="))
        .and_then(|u| chrono::NaiveDateTime::parse_from_str(u, "%Y%m%dT%H%M%SZ").ok())
        .map(|t| t.and_utc())
        .or(counted_last);
    let end = old_until.map_or(end, |o| Ord::min(o, end));
    parts.push(format!("UNTIL={}", end.format("%Y%m%dT%H%M%SZ")));
    parts.join(";")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutting_a_rule_replaces_its_end() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 20).unwrap_or_default();
        assert_eq!(
            with_until("FREQ=WEEKLY;INTERVAL=1;WKST=MO;BYDAY=SA;COUNT=10", d, None),
            "FREQ=WEEKLY;INTERVAL=1;WKST=MO;BYDAY=SA;UNTIL=20261220T155959Z"
        );
        let early = local_midnight(NaiveDate::from_ymd_opt(2026, 12, 12).unwrap_or_default()) + Duration::hours(9);
        assert_eq!(
            with_until("FREQ=WEEKLY;INTERVAL=1;WKST=MO;BYDAY=SA;COUNT=2", d, Some(early)),
            "FREQ=WEEKLY;INTERVAL=1;WKST=MO;BYDAY=SA;UNTIL=20261212T010000Z"
        );
        assert_eq!(
            with_until("FREQ=WEEKLY;INTERVAL=1;WKST=MO;BYDAY=SA;UNTIL=20261210T155959Z", d, None),
            "FREQ=WEEKLY;INTERVAL=1;WKST=MO;BYDAY=SA;UNTIL=20261210T155959Z"
        );
    }
}
