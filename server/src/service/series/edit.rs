//! Editing a series: "all" (every date not begun) or "this and following" (the dates
//! from a local date on), on top of the template, which later dates copy. A date edited on
//! its own (`PATCH /activities/{id}`) keeps its values (`series_override`). Each date is
//! changed through the ordinary activity edit (`activities::update`), so a date with
//! sign-ups that moves or changes place tells its residents (the usual change notices),
//! more places promote from the waitlist, and its room booking moves with it.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder};

use crate::{
    auth::AuthUser,
    context::AppContext,
    domain::{
        activity::{ActivityStatus, TimeWindow},
        recurrence,
        series::SeriesStatus,
    },
    entity::{activity, activity_series},
    error::{AppError, AppResult, FieldError},
    service::{
        activities::{self, ActivityPatch, require_org_staff, window_error},
        begin_write,
    },
    wechat::Moderation,
};

use super::{SeriesView, find, local_midnight, status_of, view};

/// Which dates an edit reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every date not begun, and the template.
    All,
    /// The dates from this local date on, and the template.
    Following(NaiveDate),
}

/// A change to a series: the activity fields (no absolute times), and a new local time of
/// day or length for every date reached.
#[derive(Debug, Clone, Default)]
pub struct SeriesPatch {
    pub fields: ActivityPatch,
    /// The new start, local time of day (Asia/Shanghai).
    pub start_time: Option<NaiveTime>,
    /// The new length, minutes.
    pub duration_minutes: Option<i32>,
}

/// `PATCH /activity-series/{id}`: the organization's staff change the series. The texts go
/// through WeChat's content check once (`risky` refused; `review` holds the published dates
/// for the committee, as an edit of one activity does). Everything that would refuse one
/// date refuses the whole edit, listing each date (409 `series_refused`: fewer places than
/// confirmed, a new time already past), and nothing changes.
pub async fn edit(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    scope: Scope,
    patch: SeriesPatch,
) -> AppResult<SeriesView> {
    let s = find(&ctx.db, id).await?;
    require_org_staff(user, s.organization_id)?;
    if status_of(&s) != SeriesStatus::Active {
        return Err(AppError::Conflict("invalid_transition", "系列已取消或已结束".into()));
    }
    let f = &patch.fields;
    let texts = [
        f.title.as_deref(),
        f.description.as_deref(),
        f.location.as_deref(),
        f.age_note.as_deref(),
        f.skill_note.as_deref(),
    ];
    let verdict = activities::moderate_texts(ctx, user.id, &texts).await?;
    if verdict == Moderation::Risky {
        return Err(AppError::ContentRisky);
    }
    let now = ctx.now();
    let from = match scope {
        Scope::All => now,
        Scope::Following(d) => Ord::max(local_midnight(d), now),
    };
    let targets = activity::Entity::find()
        .filter(activity::Column::SeriesId.eq(id))
        .filter(activity::Column::SeriesOverride.eq(false))
        .filter(activity::Column::StartsAt.gte(from))
        .filter(activity::Column::Status.is_in([
            ActivityStatus::Draft.as_str(),
            ActivityStatus::Held.as_str(),
            ActivityStatus::Published.as_str(),
        ]))
        .order_by_asc(activity::Column::StartsAt)
        .all(&ctx.db)
        .await?;
    let duration = Duration::minutes(patch.duration_minutes.unwrap_or(s.duration_minutes) as i64);
    let deadline = Duration::minutes(s.deadline_minutes as i64);
    let timed = patch.start_time.is_some() || patch.duration_minutes.is_some();
    // Each date's new window, checked before anything changes.
    let mut refused = Vec::new();
    let mut plans = Vec::new();
    for a in &targets {
        let day = recurrence::local_date(a.series_occurrence.unwrap_or(a.starts_at));
        let mut p = patch.fields.clone();
        p.series_verdict = Some(verdict);
        if timed {
            let time = patch.start_time.unwrap_or_else(|| crate::domain::clock::to_shanghai(a.starts_at).time());
            let starts = local_at(day, time);
            match TimeWindow::parse(
                starts,
                starts + duration,
                Some(starts - deadline),
                now,
                ctx.config.activity_horizon,
            ) {
                Ok(w) => {
                    p.starts_at = Some(w.starts_at);
                    p.ends_at = Some(w.ends_at);
                    p.signup_deadline = Some(w.signup_deadline);
                }
                Err(e) => {
                    let message = match window_error(e) {
                        AppError::Validation(errors) => errors.first().map(|e| e.message.clone()).unwrap_or_default(),
                        other => other.code().to_owned(),
                    };
                    refused.push(FieldError::new(day.format("%Y-%m-%d").to_string(), "invalid_time", message));
                    continue;
                }
            }
        }
        if let Some(c) = p.capacity
            && c.get() < a.confirmed_count
        {
            refused.push(FieldError::new(
                day.format("%Y-%m-%d").to_string(),
                "capacity_below_confirmed",
                format!("已有 {} 人确认报名，名额不能少于此数", a.confirmed_count),
            ));
            continue;
        }
        plans.push((a.id, p));
    }
    if !refused.is_empty() {
        let detail = format!("{} 个日期不能这样修改，整个系列未修改：见各日期的原因", refused.len());
        return Err(AppError::ConflictList("series_refused", detail, refused));
    }
    write_template(ctx, &s, &patch, now).await?;
    for (date, p) in plans {
        activities::update(ctx, user, date, p).await?;
    }
    view(ctx, Some(user), id).await
}

fn local_at(day: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    local_midnight(day) + (time - NaiveTime::MIN)
}

/// The template later dates copy, and its version.
async fn write_template(
    ctx: &AppContext,
    s: &activity_series::Model,
    patch: &SeriesPatch,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let f = &patch.fields;
    let txn = begin_write(&ctx.db).await?;
    let mut t = s.clone().into_active_model();
    if let Some(v) = f.kind {
        t.kind = Set(v.as_str().to_owned());
    }
    if let Some(v) = &f.title {
        t.title = Set(v.clone());
    }
    if let Some(v) = &f.description {
        t.description = Set(v.clone());
    }
    if let Some(v) = &f.location {
        t.location = Set(v.clone());
    }
    if let Some((lat, lng)) = f.at {
        t.latitude = Set(Some(lat));
        t.longitude = Set(Some(lng));
    }
    if let Some(v) = f.capacity {
        t.capacity = Set(v.get());
    }
    if let Some(v) = f.waitlist_enabled {
        t.waitlist_enabled = Set(v);
    }
    if let Some(v) = f.service_minutes {
        t.service_minutes = Set(v);
    }
    if let Some(v) = &f.target_groups {
        t.target_groups = Set(v.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(","));
    }
    if let Some(v) = &f.age_note {
        t.age_note = Set(Some(v.clone()));
    }
    if let Some(v) = &f.skill_note {
        t.skill_note = Set(Some(v.clone()));
    }
    if let Some(v) = f.cancel_cutoff_minutes {
        t.cancel_cutoff_minutes = Set(v);
    }
    if let Some(v) = patch.duration_minutes {
        t.duration_minutes = Set(v);
        t.service_minutes = Set(Ord::min(f.service_minutes.unwrap_or(s.service_minutes), v));
    }
    if let Some(time) = patch.start_time {
        t.first_starts_at = Set(local_at(recurrence::local_date(s.first_starts_at), time));
    }
    t.version = Set(s.version + 1);
    t.updated_at = Set(now);
    t.update(&txn).await?;
    txn.commit().await?;
    Ok(())
}
