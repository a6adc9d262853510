//! The demo's series: 金塔巷太极拳协会's Saturday tai chi, six weeks, with two regulars.

use chrono::{DateTime, Datelike, Duration, NaiveTime, Utc, Weekday};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::{
    domain::{
        activity::ActivityKind,
        recurrence::{self, End, Pattern, Recurrence},
        series::{RegularStatus, SeriesStatus},
    },
    entity::{activity_series, organization, series_regular},
    error::{AppError, AppResult},
};

use super::{local_midnight, materialise};

const ORGANIZATION: &str = "金塔巷太极拳协会";
const TITLE: &str = "周六太极拳晨练";

/// Seeds the demo series (idempotent: nothing when the organization has it): Saturdays
/// 07:30–08:30 from the first Saturday at least eight days ahead, six times, 15 places,
/// regulars accepted at once, `regulars` already regulars. Its dates are written here; the
/// regulars are signed up by the series job's first run (at start), through the ordinary
/// sign-up path. Returns whether it was added.
pub async fn seed_demo(db: &impl ConnectionTrait, regulars: &[i64], now: DateTime<Utc>) -> AppResult<bool> {
    let Some(org) = organization::Entity::find().filter(organization::Column::Name.eq(ORGANIZATION)).one(db).await?
    else {
        return Ok(false);
    };
    let exists = activity_series::Entity::find()
        .filter(activity_series::Column::OrganizationId.eq(org.id))
        .filter(activity_series::Column::Title.eq(TITLE))
        .one(db)
        .await?
        .is_some();
    if exists {
        return Ok(false);
    }
    let mut day = recurrence::local_date(now) + Duration::days(8);
    while day.weekday() != Weekday::Sat {
        day += Duration::days(1);
    }
    let first = local_midnight(day) + (NaiveTime::from_hms_opt(7, 30, 0).unwrap_or_default() - NaiveTime::MIN);
    let rule = Recurrence::parse(Pattern::Weekly { weekdays: vec![Weekday::Sat] }, 1, End::Count(6), day)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("demo series rule: {e:?}")))?;
    let id = activity_series::Entity::insert(activity_series::ActiveModel {
        organization_id: Set(org.id),
        community_id: Set(org.community_id),
        venue_id: Set(None),
        venue_series_id: Set(None),
        kind: Set(ActivityKind::CultureSports.as_str().to_owned()),
        title: Set(TITLE.to_owned()),
        description: Set("每周六清晨在社区广场练习二十四式太极拳，老师带练，新手欢迎。".to_owned()),
        location: Set("金塔巷社区广场".to_owned()),
        latitude: Set(org.latitude),
        longitude: Set(org.longitude),
        capacity: Set(15),
        waitlist_enabled: Set(true),
        service_minutes: Set(60),
        target_groups: Set("elderly".to_owned()),
        age_note: Set(None),
        skill_note: Set(None),
        cancel_cutoff_minutes: Set(120),
        duration_minutes: Set(60),
        deadline_minutes: Set(60),
        review_pending: Set(false),
        rrule: Set(rule.rrule()),
        first_starts_at: Set(first),
        skip_dates: Set(String::new()),
        horizon_weeks: Set(8),
        auto_accept: Set(true),
        status: Set(SeriesStatus::Active.as_str().to_owned()),
        cancel_reason: Set(None),
        version: Set(1),
        created_by: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(db)
    .await?
    .last_insert_id;
    for user_id in regulars {
        series_regular::Entity::insert(series_regular::ActiveModel {
            series_id: Set(id),
            user_id: Set(*user_id),
            status: Set(RegularStatus::Active.as_str().to_owned()),
            paused_until: Set(None),
            reason: Set(None),
            decided_by: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .exec_without_returning(db)
        .await?;
    }
    let series = super::find(db, id).await?;
    materialise::make_open_dates(db, &series, now).await?;
    Ok(true)
}
