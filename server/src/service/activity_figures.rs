//! The activity side of a region's figures (activities, sign-ups, attendance, no-shows,
//! minutes and active organizations) from **one** grouped pass over `activity_stats`: one
//! row per (community, month, organization) of the period, folded here into every shape
//! the figures need — per community and month, per month, per community, per
//! organization, per area and the region's total.
//!
//! An organization is *active* in a scope when it held at least one activity there in the
//! period; it is counted once per scope however many of the scope's communities or months
//! it was active in, so active organizations never add up across rows.
//!
//! Five grouped queries (two with `COUNT(DISTINCT …)`, which sorts) cost a district's year
//! 153 ms of PostgreSQL time; this pass costs 19 ms (bench/RESULTS.md, round four).

use std::collections::{HashMap, HashSet};

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::{
    entity::activity_stat,
    error::AppResult,
    service::reports::{Figures, Period, figure_columns},
};

/// One organization's activities in one community and month (`YYYY-MM`, Asia/Shanghai).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatRow {
    pub community: i64,
    pub month: String,
    pub organization: i64,
    /// Activities, sign-ups, attended, no-shows and minutes; no distinct counts.
    pub figures: Figures,
}

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

/// Reads the period's activity rollups of these communities in one grouped query.
pub async fn stat_rows(db: &impl ConnectionTrait, communities: &[i64], period: Period) -> AppResult<Vec<StatRow>> {
    let rows = figure_columns(
        activity_stat::Entity::find()
            .select_only()
            .column(activity_stat::Column::CommunityId)
            .column(activity_stat::Column::Month)
            .column(activity_stat::Column::OrganizationId),
    )
    .filter(activity_stat::Column::CommunityId.is_in(communities.iter().copied()))
    .filter(activity_stat::Column::StartsAt.gte(period.from))
    .filter(activity_stat::Column::StartsAt.lt(period.to))
    .group_by(activity_stat::Column::CommunityId)
    .group_by(activity_stat::Column::Month)
    .group_by(activity_stat::Column::OrganizationId)
    .into_tuple::<(i64, String, i64, i64, i64, i64, i64, i64)>()
    .all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(community, month, organization, activities, signups, attended, no_shows, minutes)| StatRow {
            community,
            month,
            organization,
            figures: Figures { activities, signups, attended, no_shows, minutes, ..Default::default() },
        })
        .collect())
}

/// Folds the rows into every shape of the figures. `area_of` (community → area) gives the
/// per-area counts of a province's cities or a city's counties; rows of a community
/// outside it count everywhere but in an area.
pub fn fold(rows: &[StatRow], area_of: Option<&HashMap<i64, i64>>) -> ActivityFigures {
    let mut out = ActivityFigures::default();
    let mut by_month: HashMap<&str, HashSet<i64>> = HashMap::new();
    let mut by_community: HashMap<i64, HashSet<i64>> = HashMap::new();
    let mut by_area: HashMap<i64, HashSet<i64>> = HashMap::new();
    let mut by_area_month: HashMap<(i64, &str), HashSet<i64>> = HashMap::new();
    for r in rows {
        // Grouped by organization, so each row is one more active organization of its
        // community and month.
        let cell = out.by_community_month.entry((r.community, r.month.clone())).or_default();
        cell.add(&r.figures);
        cell.active_organizations += 1;
        out.by_organization.entry(r.organization).or_default().add(&r.figures);
        by_month.entry(&r.month).or_default().insert(r.organization);
        by_community.entry(r.community).or_default().insert(r.organization);
        if let Some(area) = area_of.and_then(|a| a.get(&r.community)) {
            by_area.entry(*area).or_default().insert(r.organization);
            by_area_month.entry((*area, &r.month)).or_default().insert(r.organization);
        }
    }
    let size = |s: HashSet<i64>| s.len() as i64;
    out.active_total = rows.iter().map(|r| r.organization).collect::<HashSet<_>>().len() as i64;
    out.active_by_month = by_month.into_iter().map(|(m, s)| (m.to_owned(), size(s))).collect();
    out.active_by_community = by_community.into_iter().map(|(c, s)| (c, size(s))).collect();
    out.active_by_area = by_area.into_iter().map(|(a, s)| (a, size(s))).collect();
    out.active_by_area_month = by_area_month.into_iter().map(|((a, m), s)| ((a, m.to_owned()), size(s))).collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(community: i64, month: &str, organization: i64, activities: i64, minutes: i64) -> StatRow {
        StatRow {
            community,
            month: month.into(),
            organization,
            figures: Figures {
                activities,
                signups: activities * 3,
                attended: activities * 2,
                minutes,
                ..Default::default()
            },
        }
    }

    #[test]
    fn an_organization_is_active_once_per_scope() {
        // Organization 7 holds activities in communities 10 and 11 (area 1) in March, and
        // in 10 again in April; organization 8 in 12 (area 2) in March.
        let rows = [
            row(10, "2026-03", 7, 2, 120),
            row(11, "2026-03", 7, 1, 60),
            row(10, "2026-04", 7, 1, 90),
            row(12, "2026-03", 8, 3, 30),
            row(10, "2026-03", 8, 1, 10),
        ];
        let areas = HashMap::from([(10, 1), (11, 1), (12, 2)]);
        let f = fold(&rows, Some(&areas));
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
        let seven = &f.by_organization[&7];
        assert_eq!((seven.activities, seven.signups, seven.attended, seven.minutes), (4, 12, 8, 270));
    }

    #[test]
    fn no_rows_no_figures() {
        let f = fold(&[], None);
        assert_eq!(f.active_total, 0);
        assert!(f.by_community_month.is_empty() && f.active_by_area.is_empty());
    }
}
