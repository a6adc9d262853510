//! Making a series' dates on its rolling horizon, and signing its regulars up to them.
//! Idempotent: a date is one row per (series, occurrence day) — `INSERT … ON CONFLICT
//! DO NOTHING` on that unique index — so concurrent runs (creation and the job, or two
//! replicas) never make a date twice; regulars are signed up only to dates on which they
//! have no sign-up at all (a place they gave up stays given up).

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, OnConflict},
};

use crate::{
    context::AppContext,
    domain::{
        activity::{ActivityStatus, Gates},
        recurrence::{self, RecurrenceError},
        series::{RegularStatus, SeriesStatus},
        venue::BookingStatus,
    },
    entity::{activity, activity_series, series_regular, signup},
    error::{AppError, AppResult},
    service::{
        activities::{self, SignupVia},
        begin_write, venues,
    },
};

use super::{find, status_of};

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// Dates made.
    pub dates: usize,
    /// Regulars' places taken (confirmed or waitlisted).
    pub signed_up: usize,
}

/// The starts a series still has to make: on its rule, within the horizon, sign-ups still
/// open (never a date in the past).
fn due_starts(s: &activity_series::Model, now: DateTime<Utc>) -> AppResult<Vec<DateTime<Utc>>> {
    let horizon = now + Duration::weeks(s.horizon_weeks as i64);
    let deadline = Duration::minutes(s.deadline_minutes as i64);
    let skip = recurrence::split_dates(&s.skip_dates);
    let from = now.max(s.first_starts_at);
    let starts = recurrence::occurrences(&s.rrule, s.first_starts_at, &skip, from, horizon, 400)
        .map_err(|e: RecurrenceError| AppError::Internal(anyhow::anyhow!("series {} rule: {e:?}", s.id)))?;
    Ok(starts.into_iter().filter(|t| *t - deadline > now).collect())
}

/// Whether the rule gives a date starting after `now` (skipped dates passed over).
fn has_dates_ahead(s: &activity_series::Model, now: DateTime<Utc>) -> AppResult<bool> {
    let skip = recurrence::split_dates(&s.skip_dates);
    let far = now + Duration::days(30 * 366);
    let limit = u16::try_from(skip.len() + 1).unwrap_or(u16::MAX);
    let ahead = recurrence::occurrences(&s.rrule, s.first_starts_at, &skip, now + Duration::seconds(1), far, limit)
        .map_err(|e: RecurrenceError| AppError::Internal(anyhow::anyhow!("series {} rule: {e:?}", s.id)))?;
    Ok(!ahead.is_empty())
}

/// Makes the dates of series `id` that entered its horizon (each an activity copied from
/// the template, published through the gates: the template's text review, its room's
/// booking), then signs its active regulars up to every open date.
pub async fn run(ctx: &AppContext, id: i64) -> AppResult<Report> {
    let dates = make_dates(ctx, id).await?;
    let signed_up = sign_regulars(ctx, id, None).await?;
    Ok(Report { dates, signed_up })
}

async fn make_dates(ctx: &AppContext, id: i64) -> AppResult<usize> {
    let s = find(&ctx.db, id).await?;
    if status_of(&s) != SeriesStatus::Active {
        return Ok(0);
    }
    let now = ctx.now();
    let starts = due_starts(&s, now)?;
    if starts.is_empty() {
        if !has_dates_ahead(&s, now)? {
            // A rule with no date left (its until or count reached): the series has ended.
            activity_series::Entity::update_many()
                .col_expr(activity_series::Column::Status, Expr::value(SeriesStatus::Ended.as_str()))
                .col_expr(activity_series::Column::UpdatedAt, Expr::value(now))
                .filter(activity_series::Column::Id.eq(s.id))
                .filter(activity_series::Column::Status.eq(SeriesStatus::Active.as_str()))
                .exec(&ctx.db)
                .await?;
        }
        return Ok(0);
    }
    let txn = begin_write(&ctx.db).await?;
    // Rooms before activities, as every path that holds both locks them.
    let venue = venues::lock_for_activity(&txn, s.venue_id).await?;
    let mut made = 0;
    for start in starts {
        let Some(a) = insert_date(&txn, &s, start, ActivityStatus::Draft, now).await? else {
            continue; // made already (another run)
        };
        let room_approved = match &venue {
            Some(v) => {
                let requester = s.created_by.unwrap_or_default();
                Some(venues::hold_for_activity(&txn, v, &a, requester, now).await? == BookingStatus::Approved)
            }
            None => None,
        };
        activities::apply_gates(&txn, &a, Gates { review_pending: s.review_pending, room_approved }, now).await?;
        made += 1;
    }
    txn.commit().await?;
    Ok(made)
}

/// Writes the date of series `s` starting at `start`, copied from the template, unless
/// that day's date exists (`None`).
async fn insert_date(
    db: &impl ConnectionTrait,
    s: &activity_series::Model,
    start: DateTime<Utc>,
    status: ActivityStatus,
    now: DateTime<Utc>,
) -> AppResult<Option<activity::Model>> {
    // Keyed by the day the rule gave (its local midnight): a date moved to another time
    // of day, alone or with the whole series, is still that day's date.
    let occurrence = super::local_midnight(recurrence::local_date(start));
    let length = Duration::minutes(s.duration_minutes as i64);
    let deadline = Duration::minutes(s.deadline_minutes as i64);
    let inserted = activity::Entity::insert(activity::ActiveModel {
        organization_id: Set(s.organization_id),
        community_id: Set(s.community_id),
        kind: Set(s.kind.clone()),
        title: Set(s.title.clone()),
        description: Set(s.description.clone()),
        location: Set(s.location.clone()),
        latitude: Set(s.latitude),
        longitude: Set(s.longitude),
        venue_id: Set(s.venue_id),
        starts_at: Set(start),
        ends_at: Set(start + length),
        signup_deadline: Set(start - deadline),
        cancel_cutoff_minutes: Set(s.cancel_cutoff_minutes),
        capacity: Set(s.capacity),
        waitlist_enabled: Set(s.waitlist_enabled),
        service_minutes: Set(s.service_minutes),
        target_groups: Set(s.target_groups.clone()),
        age_note: Set(s.age_note.clone()),
        skill_note: Set(s.skill_note.clone()),
        status: Set(status.as_str().to_owned()),
        cancel_reason: Set(None),
        confirmed_count: Set(0),
        waitlist_count: Set(0),
        signup_seq: Set(0),
        version: Set(1),
        created_by: Set(s.created_by),
        published_at: Set((status == ActivityStatus::Published).then_some(now)),
        series_id: Set(Some(s.id)),
        series_occurrence: Set(Some(occurrence)),
        series_override: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([activity::Column::SeriesId, activity::Column::SeriesOccurrence]).do_nothing().to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    if inserted == 0 {
        return Ok(None);
    }
    Ok(activity::Entity::find()
        .filter(activity::Column::SeriesId.eq(s.id))
        .filter(activity::Column::SeriesOccurrence.eq(occurrence))
        .one(db)
        .await?)
}

/// The demo's dates (`service::demo`): a series without a room or a text to review, whose
/// gates are open, so each date is written published at once. Returns how many were made.
pub(crate) async fn make_open_dates(
    db: &impl ConnectionTrait,
    s: &activity_series::Model,
    now: DateTime<Utc>,
) -> AppResult<usize> {
    let status = Gates { review_pending: s.review_pending, room_approved: s.venue_id.map(|_| false) }.status();
    let mut made = 0;
    for start in due_starts(s, now)? {
        if insert_date(db, s, start, status, now).await?.is_some() {
            made += 1;
        }
    }
    Ok(made)
}

/// Signs the active regulars of series `id` (or only `only`) up to each of its published
/// dates whose sign-ups are open and on which they have no sign-up yet, through the
/// place-taking path of a manual sign-up ([`activities::sign_up_for`]): a place while one
/// is free, else the waitlist; a refusal (a clash with another place, the waitlist off
/// and full) leaves that date to the next run. Returns the places and queue spots taken.
pub async fn sign_regulars(ctx: &AppContext, id: i64, only: Option<i64>) -> AppResult<usize> {
    let now = ctx.now();
    let mut regulars = series_regular::Entity::find()
        .filter(series_regular::Column::SeriesId.eq(id))
        .filter(series_regular::Column::Status.eq(RegularStatus::Active.as_str()));
    if let Some(user_id) = only {
        regulars = regulars.filter(series_regular::Column::UserId.eq(user_id));
    }
    let regulars: Vec<i64> = regulars
        .select_only()
        .column(series_regular::Column::UserId)
        .order_by_asc(series_regular::Column::Id)
        .into_tuple()
        .all(&ctx.db)
        .await?;
    if regulars.is_empty() {
        return Ok(0);
    }
    let dates: Vec<i64> = activity::Entity::find()
        .select_only()
        .column(activity::Column::Id)
        .filter(activity::Column::SeriesId.eq(id))
        .filter(activity::Column::Status.eq(ActivityStatus::Published.as_str()))
        .filter(activity::Column::SignupDeadline.gt(now))
        .order_by_asc(activity::Column::StartsAt)
        .into_tuple()
        .all(&ctx.db)
        .await?;
    let had: HashSet<(i64, i64)> = signup::Entity::find()
        .select_only()
        .column(signup::Column::ActivityId)
        .column(signup::Column::UserId)
        .filter(signup::Column::ActivityId.is_in(dates.clone()))
        .filter(signup::Column::UserId.is_in(regulars.clone()))
        .into_tuple()
        .all(&ctx.db)
        .await?
        .into_iter()
        .collect();
    let mut taken = 0;
    for date in &dates {
        for user_id in &regulars {
            if had.contains(&(*date, *user_id)) {
                continue;
            }
            match activities::sign_up_for(ctx, activities::Acting::own(*user_id), *date, SignupVia::Regular).await {
                Ok(outcome) if outcome.created => taken += 1,
                Ok(_) => {}
                Err(e @ (AppError::Internal(_) | AppError::Unavailable(_))) => return Err(e),
                Err(e) => tracing::debug!(series = id, date, user_id, code = e.code(), "regular not signed up"),
            }
        }
    }
    Ok(taken)
}

/// What the hourly job did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    pub series: usize,
    pub dates: usize,
    pub signed_up: usize,
    /// Regulars whose pause ran out.
    pub resumed: usize,
    /// Regulars paused for missing dates in a row.
    pub paused: usize,
}

/// The series job's one step (hourly; tests call it directly): pauses that ran out end,
/// regulars who missed two dates in a row are paused and told, then every active series
/// makes the dates that entered its horizon and signs its regulars up.
pub async fn tick(ctx: &AppContext) -> AppResult<Tick> {
    let mut out = Tick {
        resumed: super::regulars::end_pauses(ctx).await?,
        paused: super::regulars::pause_absentees(ctx).await?,
        ..Default::default()
    };
    let ids: Vec<i64> = activity_series::Entity::find()
        .select_only()
        .column(activity_series::Column::Id)
        .filter(activity_series::Column::Status.eq(SeriesStatus::Active.as_str()))
        .order_by_asc(activity_series::Column::Id)
        .into_tuple()
        .all(&ctx.db)
        .await?;
    for id in ids {
        match run(ctx, id).await {
            Ok(r) => {
                out.series += 1;
                out.dates += r.dates;
                out.signed_up += r.signed_up;
            }
            Err(e) => tracing::warn!(series = id, error = %e, "materialising a series failed; next run tries again"),
        }
    }
    Ok(out)
}
