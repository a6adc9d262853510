//! The activity side of a region's figures (activities, sign-ups, attendance, no-shows,
//! minutes and active organizations), folded into every shape the figures need — per
//! community and month, per month, per community, per organization, per area and the
//! region's total.
//!
//! The period's whole months come from `activity_months` (one row per community and
//! month, with the set of organizations that held its activities: [`activity_months`]);
//! so does a month the period cuts when nothing was held in its part outside the period
//! (this year to date); any other cut month (a `from` in mid-month) is grouped from
//! `activity_stats` by community, month and organization, exactly to the instant
//! ([`cells`]). Each organization's own
//! figures are one more grouped query, by organization.
//!
//! An organization is *active* in a scope when it held at least one activity there in the
//! period; it is counted once per scope however many of the scope's communities or months
//! it was active in — a union of sets — so active organizations never add up across rows.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use roaring::{MultiOps, RoaringTreemap};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::{
    domain::clock::shanghai,
    entity::activity_stat,
    error::{AppError, AppResult},
    service::{
        activity_months::{self, MonthCell},
        id_sets,
        reports::{Figures, Period, figure_columns},
    },
};

/// Every activity figure of a region over a period.
#[derive(Debug, Default)]
pub struct ActivityFigures {
    /// (community, month) → its figures, with `active_organizations` set.
    pub by_community_month: HashMap<(i64, String), Figures>,
    /// Organizations active in each month, across the region's communities.
    pub active_by_month: HashMap<String, i64>,
    /// Organizations active in each community over the period.
    pub active_by_community: HashMap<i64, i64>,
    /// Each organization's figures over the period (wherever in the region it held them).
    pub by_organization: HashMap<i64, Figures>,
    /// Organizations active anywhere in the region over the period.
    pub active_total: i64,
    /// Organizations active in each area over the period (with [`fold`]'s `area_of`).
    pub active_by_area: HashMap<i64, i64>,
    /// (area, month) → organizations active in it.
    pub active_by_area_month: HashMap<(i64, String), i64>,
}

/// (community, month, organization, activities, sign-ups, attended, no-shows, minutes).
type CutRow = (i64, String, i64, i64, i64, i64, i64, i64);

/// The first instant (UTC) of a month `YYYY-MM` in Asia/Shanghai, and of the next.
fn month_bounds(month: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()?;
    let next = first.checked_add_months(chrono::Months::new(1))?;
    let at = |d: NaiveDate| d.and_hms_opt(0, 0, 0)?.and_local_timezone(shanghai()).single().map(|t| t.to_utc());
    Some((at(first)?, at(next)?))
}

/// Splits the period's months into those it covers and those it cuts (a `from` or a `to`
/// inside the month, Asia/Shanghai).
pub fn split_months(period: Period) -> (Vec<String>, Vec<String>) {
    period
        .months()
        .into_iter()
        .partition(|m| month_bounds(m).is_some_and(|(first, next)| first >= period.from && next <= period.to))
}

/// The parts of a cut month outside the period: `[first, from)` and `[to, next)`.
fn outside(period: Period, month: &str) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let Some((first, next)) = month_bounds(month) else { return Vec::new() };
    [(first, period.from.min(next)), (period.to.max(first), next)].into_iter().filter(|(a, b)| a < b).collect()
}

/// Rows of these communities whose start falls in `[a, b)`: one range of the index on
/// (community, start) per community. (An OR of two such spans made PostgreSQL read the
/// whole table: 18 ms against 0.6.)
fn starting_in(communities: &[i64], (a, b): (DateTime<Utc>, DateTime<Utc>)) -> Condition {
    Condition::all()
        .add(activity_stat::Column::CommunityId.is_in(communities.iter().copied()))
        .add(activity_stat::Column::StartsAt.gte(a))
        .add(activity_stat::Column::StartsAt.lt(b))
}

/// Whether anything of these communities started in `[a, b)`.
async fn held_in(
    db: &impl ConnectionTrait,
    communities: &[i64],
    span: (DateTime<Utc>, DateTime<Utc>),
) -> AppResult<bool> {
    id_sets::has_row::<activity_stat::Entity>(db, activity_stat::Column::ActivityId, starting_in(communities, span))
        .await
}

/// The period's figures of these communities, one cell per community and month with
/// activities. A month the period covers is read as summed (`activity_months`); so is a
/// month it cuts when nothing was held in the part outside the period — the usual case
/// for this year's figures to date, since an activity closes only after it starts (an
/// index probe per community asks). Any other cut month is grouped from `activity_stats`
/// over the period's part of it, exactly to the instant.
pub async fn cells(db: &impl ConnectionTrait, communities: &[i64], period: Period) -> AppResult<Vec<MonthCell>> {
    if communities.is_empty() {
        return Ok(Vec::new());
    }
    let (mut whole, partial) = split_months(period);
    let probes = partial.iter().map(|m| async move {
        for span in outside(period, m) {
            if held_in(db, communities, span).await? {
                return Ok::<_, AppError>(Some(m.clone()));
            }
        }
        Ok(None)
    });
    let cut: Vec<String> = futures_util::future::try_join_all(probes).await?.into_iter().flatten().collect();
    whole.extend(partial.into_iter().filter(|m| !cut.contains(m)));
    // Each cut month over its own part of the period.
    let grouped = cut.iter().filter_map(|m| month_bounds(m)).map(|(first, next)| async move {
        let span = (first.max(period.from), next.min(period.to));
        let rows: Vec<CutRow> = figure_columns(
            activity_stat::Entity::find()
                .select_only()
                .column(activity_stat::Column::CommunityId)
                .column(activity_stat::Column::Month)
                .column(activity_stat::Column::OrganizationId),
        )
        .filter(starting_in(communities, span))
        .group_by(activity_stat::Column::CommunityId)
        .group_by(activity_stat::Column::Month)
        .group_by(activity_stat::Column::OrganizationId)
        .into_tuple()
        .all(db)
        .await?;
        Ok::<_, AppError>(rows)
    });
    let (mut cells, cut) =
        tokio::try_join!(activity_months::read(db, communities, &whole), futures_util::future::try_join_all(grouped),)?;
    let cut = cut.into_iter().flatten();
    let mut grouped: HashMap<(i64, String), MonthCell> = HashMap::new();
    for (community, month, organization, activities, signups, attended, no_shows, minutes) in cut {
        let cell = grouped.entry((community, month.clone())).or_insert_with(|| MonthCell {
            community,
            month,
            organizations: RoaringTreemap::new(),
            figures: Figures::default(),
        });
        cell.figures.add(&Figures { activities, signups, attended, no_shows, minutes, ..Default::default() });
        cell.organizations |= id_sets::of([organization]);
        cell.figures.active_organizations = id_sets::size(&cell.organizations);
    }
    cells.extend(grouped.into_values());
    Ok(cells)
}

/// Each organization's figures over the period, from the activities it held in these
/// communities.
pub async fn by_organization(
    db: &impl ConnectionTrait,
    communities: &[i64],
    period: Period,
) -> AppResult<HashMap<i64, Figures>> {
    if communities.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, i64, i64, i64, i64, i64)> =
        figure_columns(activity_stat::Entity::find().select_only().column(activity_stat::Column::OrganizationId))
            .filter(activity_stat::Column::CommunityId.is_in(communities.iter().copied()))
            .filter(activity_stat::Column::StartsAt.gte(period.from))
            .filter(activity_stat::Column::StartsAt.lt(period.to))
            .group_by(activity_stat::Column::OrganizationId)
            .into_tuple()
            .all(db)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(organization, activities, signups, attended, no_shows, minutes)| {
            (organization, Figures { activities, signups, attended, no_shows, minutes, ..Default::default() })
        })
        .collect())
}

/// Folds the cells into every shape of the figures. `area_of` (community → area) gives
/// the per-area counts of a province's cities or a city's counties; cells of a community
/// outside it count everywhere but in an area.
pub fn fold(
    cells: &[MonthCell],
    by_organization: HashMap<i64, Figures>,
    area_of: Option<&HashMap<i64, i64>>,
) -> ActivityFigures {
    let mut out = ActivityFigures { by_organization, ..Default::default() };
    let mut by_month: HashMap<&str, Vec<&RoaringTreemap>> = HashMap::new();
    let mut by_community: HashMap<i64, Vec<&RoaringTreemap>> = HashMap::new();
    let mut by_area: HashMap<i64, Vec<&RoaringTreemap>> = HashMap::new();
    let mut by_area_month: HashMap<(i64, &str), Vec<&RoaringTreemap>> = HashMap::new();
    for c in cells {
        // One cell per community and month: the whole months and the cut ones differ.
        out.by_community_month.insert((c.community, c.month.clone()), c.figures.clone());
        by_month.entry(&c.month).or_default().push(&c.organizations);
        by_community.entry(c.community).or_default().push(&c.organizations);
        if let Some(area) = area_of.and_then(|a| a.get(&c.community)) {
            by_area.entry(*area).or_default().push(&c.organizations);
            by_area_month.entry((*area, &c.month)).or_default().push(&c.organizations);
        }
    }
    let size = |sets: Vec<&RoaringTreemap>| id_sets::size(&sets.union());
    out.active_total = size(cells.iter().map(|c| &c.organizations).collect());
    out.active_by_month = by_month.into_iter().map(|(m, s)| (m.to_owned(), size(s))).collect();
    out.active_by_community = by_community.into_iter().map(|(c, s)| (c, size(s))).collect();
    out.active_by_area = by_area.into_iter().map(|(a, s)| (a, size(s))).collect();
    out.active_by_area_month = by_area_month.into_iter().map(|((a, m), s)| ((a, m.to_owned()), size(s))).collect();
    out
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn cell(community: i64, month: &str, organizations: &[i64], activities: i64, minutes: i64) -> MonthCell {
        let organizations = id_sets::of(organizations.iter().copied());
        MonthCell {
            community,
            month: month.into(),
            figures: Figures {
                activities,
                signups: activities * 3,
                attended: activities * 2,
                minutes,
                active_organizations: id_sets::size(&organizations),
                ..Default::default()
            },
            organizations,
        }
    }

    #[test]
    fn an_organization_is_active_once_per_scope() {
        // Organization 7 holds activities in communities 10 and 11 (area 1) in March, and
        // in 10 again in April; organization 8 in 12 (area 2) and 10 in March.
        let cells = [
            cell(10, "2026-03", &[7, 8], 3, 130),
            cell(11, "2026-03", &[7], 1, 60),
            cell(10, "2026-04", &[7], 1, 90),
            cell(12, "2026-03", &[8], 3, 30),
        ];
        let by_org = HashMap::from([(7, Figures { activities: 4, ..Default::default() })]);
        let areas = HashMap::from([(10, 1), (11, 1), (12, 2)]);
        let f = fold(&cells, by_org, Some(&areas));
        assert_eq!(f.active_total, 2);
        assert_eq!(f.active_by_month.get("2026-03"), Some(&2));
        assert_eq!(f.active_by_month.get("2026-04"), Some(&1));
        assert_eq!(f.active_by_community.get(&10), Some(&2));
        assert_eq!(f.active_by_community.get(&11), Some(&1));
        assert_eq!(f.active_by_area.get(&1), Some(&2), "7 once though in two of its communities; 8 in 10");
        assert_eq!(f.active_by_area.get(&2), Some(&1));
        assert_eq!(f.active_by_area_month.get(&(1, "2026-04".to_owned())), Some(&1));
        let march_10 = &f.by_community_month[&(10, "2026-03".to_owned())];
        assert_eq!((march_10.activities, march_10.minutes, march_10.active_organizations), (3, 130, 2));
        assert_eq!(f.by_organization[&7].activities, 4);
    }

    #[test]
    fn no_cells_no_figures() {
        let f = fold(&[], HashMap::new(), None);
        assert_eq!(f.active_total, 0);
        assert!(f.by_community_month.is_empty() && f.active_by_area.is_empty());
    }

    #[test]
    fn months_are_whole_when_the_period_covers_them() {
        // Shanghai is UTC+8: March 2026 starts at 2026-02-28T16:00Z.
        let at = |y, m, d, h| Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap();
        let period = |from, to| Period { from, to };
        // A year to mid-June: January to May whole, June cut (its end is outside).
        let june = period(at(2025, 12, 31, 16), at(2026, 6, 15, 4));
        let (whole, cut) = split_months(june);
        assert_eq!((whole.len(), cut), (5, vec!["2026-06".to_owned()]));
        assert_eq!(outside(june, "2026-06"), vec![(at(2026, 6, 15, 4), at(2026, 6, 30, 16))]);
        // From mid-March to the start of May (Shanghai): March is cut, April whole.
        let spring = period(at(2026, 3, 10, 0), at(2026, 4, 30, 16));
        let (whole, cut) = split_months(spring);
        assert_eq!((whole, cut), (vec!["2026-04".to_owned()], vec!["2026-03".to_owned()]));
        assert_eq!(outside(spring, "2026-03"), vec![(at(2026, 2, 28, 16), at(2026, 3, 10, 0))]);
        // Within one month: both ends are outside.
        let days = period(at(2026, 5, 3, 0), at(2026, 5, 9, 0));
        assert_eq!(
            outside(days, "2026-05"),
            vec![(at(2026, 4, 30, 16), at(2026, 5, 3, 0)), (at(2026, 5, 9, 0), at(2026, 5, 31, 16))]
        );
        // A month's first instant in Shanghai, not in UTC.
        assert_eq!(month_bounds("2026-03").map(|b| b.0), Some(at(2026, 2, 28, 16)));
    }
}
