//! Recurring room bookings: one span of a venue repeated weekly on chosen weekdays every
//! N weeks until a date, skipping given dates. A series is requested all-or-nothing (the
//! refusal lists every date that cannot be had, and why); it is then decided and
//! cancelled as a whole, from a date on, or one booking at a time through
//! [`super::venues::cancel`].

use std::collections::HashSet;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    sea_query::Expr,
};

use crate::{
    auth::AuthUser,
    context::AppContext,
    domain::{
        clock::{shanghai, to_shanghai},
        recurrence::{self, End, Pattern, Recurrence},
        venue::{BookingAction, BookingStatus, Closure, HOLDING, Span, VenueStatus, check, overlaps},
    },
    entity::{venue, venue_booking, venue_series},
    error::{AppError, AppResult, FieldError},
    service::{
        activities, begin_write,
        notifications::{Notice, enqueue},
        venues::{
            BookingView, NewBooking, booking_views, check_approvable, closures_between, conflict, find, hours_of,
            insert_booking, lock, may_manage, record, refusal_parts, require_booking_org, require_booking_reader,
            require_venue_manager, rules_of, set_booking_status, span_text, taken_text,
        },
        work_queue,
    },
};

/// At most this many bookings in one series (a weekly booking for about four years, or
/// every weekday for most of a year).
pub const MAX_OCCURRENCES: usize = 200;

/// A recurring booking as requested.
#[derive(Debug, Clone)]
pub struct SeriesInput {
    pub organization_id: i64,
    /// The first span: its local (Asia/Shanghai) time of day and length repeat; its date
    /// is the first date the series may fall on.
    pub first: Span,
    /// 0 = Monday … 6 = Sunday; not empty.
    pub weekdays: Vec<u8>,
    /// 1 = every week, 2 = every other week, … counted from the first date's week.
    pub every_weeks: u32,
    /// The last date (inclusive, Asia/Shanghai).
    pub until: NaiveDate,
    pub skip: Vec<NaiveDate>,
    pub purpose: String,
    pub attendance: i64,
}

/// A series with its bookings, soonest first.
#[derive(Debug, Clone)]
pub struct SeriesView {
    pub series: venue_series::Model,
    pub venue_name: String,
    pub bookings: Vec<BookingView>,
}

/// The spans of a series: each date's local time of day of the first span, and its
/// length — weekly on the chosen weekdays every N weeks until the last date, without the
/// skipped dates, through [`recurrence`] (RFC 5545). Empty when the input is not a rule
/// Linli offers (no weekday, an interval past four weeks, a last date before the first).
pub fn occurrences(input: &SeriesInput) -> Vec<(NaiveDate, Span)> {
    let length = input.first.ends_at - input.first.starts_at;
    let first_day = recurrence::local_date(input.first.starts_at);
    let weekdays = input.weekdays.iter().filter_map(|d| recurrence::weekday_of_number(d + 1)).collect();
    let Ok(rule) = Recurrence::parse(
        Pattern::Weekly { weekdays },
        input.every_weeks.min(u16::MAX as u32) as u16,
        End::Until(input.until),
        first_day,
    ) else {
        return Vec::new();
    };
    let to = input.first.starts_at + Duration::days((input.until - first_day).num_days() + 1);
    let limit = (MAX_OCCURRENCES + 1) as u16;
    recurrence::occurrences(&rule.rrule(), input.first.starts_at, &input.skip, input.first.starts_at, to, limit)
        .unwrap_or_default()
        .into_iter()
        .map(|starts_at| (recurrence::local_date(starts_at), Span { starts_at, ends_at: starts_at + length }))
        .collect()
}

fn weekdays_text(days: &[u8]) -> String {
    days.iter().map(|d| (d + 1).to_string()).collect::<Vec<_>>().join(",")
}

/// Weekdays as stored (`1,3` = Monday and Wednesday), 0-based.
pub fn parse_weekdays(s: &str) -> Vec<u8> {
    s.split(',').filter_map(|d| d.parse::<u8>().ok()).filter(|d| (1..=7).contains(d)).map(|d| d - 1).collect()
}

/// Skip dates as stored (`YYYY-MM-DD`, comma-separated).
pub fn parse_skip(s: &str) -> Vec<NaiveDate> {
    s.split(',').filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()).collect()
}

/// An organization's staff request a recurring booking of a venue. Every date is checked
/// against the venue's rules, its closures and the spans others hold (and the series'
/// own dates, buffer included); one failing date refuses the whole series
/// (`series_refused`, one entry per date in `errors`: the date, its code — one of the
/// single booking's refusals — and why). Otherwise all bookings are made at once, each
/// `requested` or (a venue that needs no approval) `approved`.
pub async fn request(ctx: &AppContext, user: &AuthUser, venue_id: i64, input: SeriesInput) -> AppResult<SeriesView> {
    require_booking_org(&ctx.db, user, input.organization_id).await?;
    let dates = occurrences(&input);
    if dates.is_empty() {
        return Err(AppError::invalid("weekdays", "no_dates", "按所选星期和间隔，到截止日期前没有可预约的日期"));
    }
    if dates.len() > MAX_OCCURRENCES {
        return Err(AppError::invalid(
            "until",
            "too_many_dates",
            format!("一次最多预约 {MAX_OCCURRENCES} 次（现为 {} 次），请提前截止日期", dates.len()),
        ));
    }
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let booking = RoomDates {
        organization_id: input.organization_id,
        purpose: input.purpose.clone(),
        attendance: input.attendance,
        weekdays: weekdays_text(&input.weekdays),
        every_weeks: input.every_weeks as i32,
        until: input.until,
        skip_dates: input.skip.iter().map(|d| d.format("%Y-%m-%d").to_string()).collect::<Vec<_>>().join(","),
        note: None,
    };
    let series_id = book_dates(&txn, user.id, venue_id, &booking, &dates, now).await?;
    txn.commit().await?;
    view(&ctx.db, series_id).await
}

/// What a recurring booking is for, whatever made its dates (a room series, or an
/// activity series booking its room).
#[derive(Debug, Clone)]
pub struct RoomDates {
    pub organization_id: i64,
    pub purpose: String,
    pub attendance: i64,
    /// As stored (`1,3`); empty for an activity series (its rule is the series').
    pub weekdays: String,
    /// 0 for an activity series.
    pub every_weeks: i32,
    /// The last date.
    pub until: NaiveDate,
    pub skip_dates: String,
    /// What each booking's history says it is (default `周期预约 #id`).
    pub note: Option<String>,
}

/// Books every date of a series of a venue in the caller's transaction, all or nothing:
/// each date is checked like a single request (rules, closures, others' spans and the
/// series' own, buffer included); one that cannot be had refuses the whole series
/// (`series_refused`, one entry per date in `errors`: the date, its code — one of the
/// single booking's refusals — and why). Otherwise a booking series is written with a
/// booking per date, each `requested` or (a venue that needs no approval) `approved`, and
/// its managers are told once. Returns the booking series' id.
pub(crate) async fn book_dates(
    txn: &DatabaseTransaction,
    user_id: i64,
    venue_id: i64,
    input: &RoomDates,
    dates: &[(NaiveDate, Span)],
    now: DateTime<Utc>,
) -> AppResult<i64> {
    let v = lock(txn, venue_id).await?;
    if v.status != VenueStatus::Open.as_str() {
        return Err(conflict("venue_closed", "场地已停用"));
    }
    let (Some(first), Some(last)) = (dates.first(), dates.last()) else {
        return Err(AppError::invalid("weekdays", "no_dates", "按所选星期和间隔，到截止日期前没有可预约的日期"));
    };
    let rules = rules_of(&v);
    let hours = hours_of(txn, venue_id).await?;
    let (first, last) = (first.1.starts_at, last.1.ends_at);
    let closures: Vec<Closure> = closures_between(txn, venue_id, first, last)
        .await?
        .into_iter()
        .map(|c| Closure { starts_at: c.starts_at, ends_at: c.ends_at, reason: c.reason })
        .collect();
    let held = venue_booking::Entity::find()
        .filter(venue_booking::Column::VenueId.eq(venue_id))
        .filter(venue_booking::Column::Status.is_in(HOLDING))
        .filter(venue_booking::Column::StartsAt.lt(rules.blocked_until(last)))
        .filter(venue_booking::Column::BlockedUntil.gt(first))
        .order_by_asc(venue_booking::Column::StartsAt)
        .all(txn)
        .await?;
    let mut refused = Vec::new();
    let mut taken: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for (date, span) in dates {
        let day = date.format("%Y-%m-%d").to_string();
        if let Err(r) = check(&rules, &hours, &closures, span, input.attendance, now) {
            let (code, _, message) = refusal_parts(r);
            refused.push(FieldError::new(day, code, message));
            continue;
        }
        let blocked = rules.blocked_until(span.ends_at);
        if let Some(other) = held.iter().find(|b| overlaps(b.starts_at, b.blocked_until, span.starts_at, blocked)) {
            refused.push(FieldError::new(day, "venue_taken", taken_text(txn, other).await?));
            continue;
        }
        if taken.iter().any(|(a, b)| overlaps(*a, *b, span.starts_at, blocked)) {
            refused.push(FieldError::new(day, "venue_taken", "与本系列前一次预约（含整理时间）重叠"));
            continue;
        }
        taken.push((span.starts_at, blocked));
    }
    if !refused.is_empty() {
        let detail = format!("{} 个日期无法预约，整个系列未预约：见各日期的原因", refused.len());
        return Err(AppError::ConflictList("series_refused", detail, refused));
    }
    let series_id = venue_series::Entity::insert(venue_series::ActiveModel {
        venue_id: Set(venue_id),
        organization_id: Set(input.organization_id),
        weekdays: Set(input.weekdays.clone()),
        every_weeks: Set(input.every_weeks),
        until: Set(input.until),
        skip_dates: Set(input.skip_dates.clone()),
        created_by: Set(Some(user_id)),
        created_at: Set(now),
        ..Default::default()
    })
    .exec(txn)
    .await?
    .last_insert_id;
    let mut status = BookingStatus::Approved;
    for (_, span) in dates {
        let new = NewBooking {
            venue: &v,
            organization_id: input.organization_id,
            activity_id: None,
            series_id: Some(series_id),
            purpose: input.purpose.clone(),
            attendance: input.attendance,
            span: *span,
            blocked_until: rules.blocked_until(span.ends_at),
            requested_by: user_id,
            note: Some(input.note.clone().unwrap_or_else(|| format!("周期预约 #{series_id}"))),
        };
        status = insert_booking(txn, new, now).await?.1;
    }
    if status == BookingStatus::Requested {
        let name = format!("{}（{} 次）", input.purpose, dates.len());
        work_queue::announce_booking(txn, &v, &format!("series:{series_id}"), input.organization_id, &name, now)
            .await?;
    }
    Ok(series_id)
}

/// Gives back the bookings of booking series `id` from `from` on that no activity holds
/// yet (an activity series cancelled from a date: its dates' own bookings go with them).
pub(crate) async fn release_unlinked(
    txn: &DatabaseTransaction,
    id: i64,
    from: DateTime<Utc>,
    actor: i64,
    why: &str,
    now: DateTime<Utc>,
) -> AppResult<usize> {
    let spare = venue_booking::Entity::find()
        .filter(venue_booking::Column::SeriesId.eq(id))
        .filter(venue_booking::Column::ActivityId.is_null())
        .filter(venue_booking::Column::Status.is_in(HOLDING))
        .filter(venue_booking::Column::StartsAt.gte(from))
        .all(txn)
        .await?;
    for b in &spare {
        set_booking_status(txn, b, BookingStatus::Cancelled, Some(actor), why, now).await?;
    }
    if !spare.is_empty() {
        work_queue::settle(txn, &format!("series:{id}"), now).await?;
    }
    Ok(spare.len())
}

async fn find_series(db: &impl ConnectionTrait, id: i64) -> AppResult<venue_series::Model> {
    venue_series::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("booking series"))
}

async fn view(db: &impl ConnectionTrait, id: i64) -> AppResult<SeriesView> {
    let series = find_series(db, id).await?;
    let venue_name = find(db, series.venue_id).await?.name;
    let rows = venue_booking::Entity::find()
        .filter(venue_booking::Column::SeriesId.eq(id))
        .order_by_asc(venue_booking::Column::StartsAt)
        .all(db)
        .await?;
    Ok(SeriesView { series, venue_name, bookings: booking_views(db, rows, false).await? })
}

/// A series with its bookings: for its organization's staff, the venue's managers and
/// the officials over the venue's community.
pub async fn series(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<SeriesView> {
    let s = find_series(&ctx.db, id).await?;
    require_booking_reader(&ctx.db, user, s.venue_id, s.organization_id).await?;
    view(&ctx.db, id).await
}

/// The bookings of a series not yet begun from `from` (a local date) on, in `statuses`.
async fn upcoming(
    txn: &DatabaseTransaction,
    id: i64,
    from: Option<NaiveDate>,
    statuses: &[&str],
    now: DateTime<Utc>,
) -> AppResult<Vec<venue_booking::Model>> {
    let mut after = now;
    if let Some(date) = from
        && let Some(t) = shanghai().from_local_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default()).single()
    {
        after = after.max(t.with_timezone(&Utc));
    }
    Ok(venue_booking::Entity::find()
        .filter(venue_booking::Column::SeriesId.eq(id))
        .filter(venue_booking::Column::Status.is_in(statuses.iter().copied()))
        .filter(venue_booking::Column::StartsAt.gte(after))
        .order_by_asc(venue_booking::Column::StartsAt)
        .all(txn)
        .await?)
}

/// One notice for a decision over many bookings of a series, to its requester.
fn series_notice(
    v: &venue::Model,
    s: &venue_series::Model,
    bookings: &[venue_booking::Model],
    user_id: i64,
    kind: &'static str,
    why: Option<&str>,
    now: DateTime<Utc>,
) -> Option<Notice> {
    let first = bookings.first()?;
    let (title, verdict) = match kind {
        "booking_approved" => ("场地周期预约已通过", "已通过"),
        "booking_rejected" => ("场地周期预约未通过", "未通过"),
        _ => ("场地周期预约已取消", "已取消"),
    };
    let mut body = format!(
        "{}（{} 起共 {} 次）的预约{verdict}",
        v.name,
        span_text(first.starts_at, first.ends_at),
        bookings.len()
    );
    if let Some(why) = why {
        body.push_str(&format!("：{why}"));
    }
    Some(Notice {
        user_id,
        kind,
        title: title.to_owned(),
        body,
        activity_id: None,
        organization_id: Some(s.organization_id),
        dedupe_key: format!("{kind}:series:{}:{}", s.id, now.timestamp_micros()),
        due_at: None,
        offset_secs: None,
    })
}

/// Approves or rejects every booking of a series still awaiting a decision (the venue's
/// committee or entrusted leader). Approval re-checks each (closures, the past, the
/// spans others hold) and is all-or-nothing; a rejection needs a reason. Activities
/// waiting for these bookings follow, as with a single decision.
pub async fn decide(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    approve: bool,
    reason: Option<String>,
) -> AppResult<SeriesView> {
    if !approve && reason.is_none() {
        return Err(AppError::invalid("reason", "required", "驳回须说明理由"));
    }
    let now = ctx.now();
    let venue_id = find_series(&ctx.db, id).await?.venue_id;
    let txn = begin_write(&ctx.db).await?;
    let v = lock(&txn, venue_id).await?;
    require_venue_manager(&txn, user, &v).await?;
    let s = find_series(&txn, id).await?;
    let pending = upcoming(&txn, id, None, &[BookingStatus::Requested.as_str()], now).await?;
    if pending.is_empty() {
        return Err(conflict("invalid_transition", "该周期预约没有待审批的预约"));
    }
    let action = if approve { BookingAction::Approve } else { BookingAction::Reject };
    let next = BookingStatus::Requested.next(action).ok_or_else(|| conflict("invalid_transition", "不能审批"))?;
    if approve {
        // Each date re-checked as a single approval is; every refused date listed.
        let mut refused = Vec::new();
        for b in &pending {
            if let Err(e) = check_approvable(&txn, &v, b, now).await {
                let day = to_shanghai(b.starts_at).format("%Y-%m-%d").to_string();
                let (code, message) = match &e {
                    AppError::Validation(errors) if !errors.is_empty() => {
                        (errors[0].code.clone(), errors[0].message.clone())
                    }
                    other => (other.code().to_owned(), other.detail(crate::error::Lang::Zh)),
                };
                refused.push(FieldError::new(day, code, message));
            }
        }
        if !refused.is_empty() {
            let detail = format!("{} 次预约无法通过，整个系列未审批：见各日期的原因", refused.len());
            return Err(AppError::ConflictList("series_refused", detail, refused));
        }
    }
    let ids: Vec<i64> = pending.iter().map(|b| b.id).collect();
    venue_booking::Entity::update_many()
        .col_expr(venue_booking::Column::Status, Expr::value(next.as_str()))
        .col_expr(venue_booking::Column::DecidedBy, Expr::value(user.id))
        .col_expr(venue_booking::Column::DecidedAt, Expr::value(now))
        .col_expr(venue_booking::Column::DecisionReason, Expr::value(reason.clone()))
        .col_expr(venue_booking::Column::UpdatedAt, Expr::value(now))
        .filter(venue_booking::Column::Id.is_in(ids))
        .exec(&txn)
        .await?;
    for b in &pending {
        record(&txn, b.id, next.as_str(), Some(user.id), reason.clone(), now).await?;
        if let Some(activity_id) = b.activity_id {
            activities::room_decided(&txn, activity_id, approve, now).await?;
        }
    }
    work_queue::settle(&txn, &format!("series:{id}"), now).await?;
    let kind = if approve { "booking_approved" } else { "booking_rejected" };
    let requester = pending.iter().find_map(|b| b.requested_by);
    if let Some(n) = requester.and_then(|r| series_notice(&v, &s, &pending, r, kind, reason.as_deref(), now)) {
        enqueue(&txn, vec![n], now).await?;
    }
    txn.commit().await?;
    view(&ctx.db, id).await
}

/// Cancels the bookings of a series not yet begun: all of them, or those from date `from`
/// on ("this and following"). Its organization's staff until the venue's cut-off — one
/// booking inside it refuses the whole cancellation (`cancellation_closed`, naming it;
/// cancel from the next date instead) — the venue's managers at any time (the requesting
/// staff are told, once). Residents of activities held in them are told, as on a single
/// cancellation.
pub async fn cancel(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    from: Option<NaiveDate>,
    reason: Option<String>,
) -> AppResult<SeriesView> {
    let now = ctx.now();
    let venue_id = find_series(&ctx.db, id).await?.venue_id;
    let txn = begin_write(&ctx.db).await?;
    let v = lock(&txn, venue_id).await?;
    let s = find_series(&txn, id).await?;
    let manager = may_manage(&txn, user, &v).await?;
    if !manager {
        crate::service::activities::require_org_staff(user, s.organization_id)?;
    }
    let targets = upcoming(&txn, id, from, &HOLDING, now).await?;
    if targets.is_empty() {
        return Err(conflict("invalid_transition", "没有可取消的预约（已开始、已驳回或已取消）"));
    }
    if !manager {
        let cutoff = Duration::minutes(v.cancel_cutoff_minutes as i64);
        if let Some(b) = targets.iter().find(|b| b.starts_at - cutoff <= now) {
            return Err(conflict(
                "cancellation_closed",
                format!(
                    "{} 的预约已过取消截止时间，请从下一次起取消，或联系场地管理方",
                    span_text(b.starts_at, b.ends_at)
                ),
            ));
        }
    }
    let why = reason.clone().unwrap_or_else(|| "组织取消周期预约".to_owned());
    let mut notices = Vec::new();
    let mut activities_told = HashSet::new();
    for b in &targets {
        set_booking_status(&txn, b, BookingStatus::Cancelled, Some(user.id), &why, now).await?;
        if let Some(activity_id) = b.activity_id
            && activities_told.insert(activity_id)
        {
            notices.extend(activities::room_withdrawn(&txn, activity_id, now).await?);
        }
    }
    work_queue::settle(&txn, &format!("series:{id}"), now).await?;
    let requester = targets.iter().find_map(|b| b.requested_by).filter(|r| *r != user.id);
    if let Some(n) =
        requester.and_then(|r| series_notice(&v, &s, &targets, r, "booking_cancelled", reason.as_deref(), now))
    {
        notices.push(n);
    }
    enqueue(&txn, notices, now).await?;
    txn.commit().await?;
    view(&ctx.db, id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        shanghai().with_ymd_and_hms(y, m, d, h, min, 0).single().map(|t| t.with_timezone(&Utc)).unwrap_or_default()
    }

    #[test]
    fn occurrences_keep_the_local_time_of_day_and_length() {
        let input = SeriesInput {
            organization_id: 1,
            // A Wednesday, 19:00–21:00 in Shanghai (11:00–13:00 UTC).
            first: Span { starts_at: at(2026, 12, 2, 19, 0), ends_at: at(2026, 12, 2, 21, 0) },
            weekdays: vec![2, 4],
            every_weeks: 1,
            until: NaiveDate::from_ymd_opt(2026, 12, 11).unwrap_or_default(),
            skip: vec![NaiveDate::from_ymd_opt(2026, 12, 4).unwrap_or_default()],
            purpose: "合唱排练".into(),
            attendance: 20,
        };
        let got: Vec<_> = occurrences(&input).into_iter().map(|(d, s)| (d.to_string(), s)).collect();
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0].0, "2026-12-02");
        assert_eq!(got[1].0, "2026-12-09");
        assert_eq!(got[2].0, "2026-12-11");
        assert_eq!(got[2].1.starts_at, at(2026, 12, 11, 19, 0));
        assert_eq!(got[2].1.ends_at, at(2026, 12, 11, 21, 0));
    }

    #[test]
    fn stored_weekdays_and_skips_read_back() {
        assert_eq!(parse_weekdays(&weekdays_text(&[0, 2, 6])), vec![0, 2, 6]);
        assert_eq!(parse_weekdays("0,8,x,3"), vec![2]);
        assert_eq!(parse_skip("2026-12-04,nope"), vec![NaiveDate::from_ymd_opt(2026, 12, 4).unwrap_or_default()]);
    }
}
