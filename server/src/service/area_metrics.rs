//! Figures side by side by **area** above county level: a province's cities (市/州), a
//! city's counties (县/区). A county, a street or a community lists its communities side
//! by side instead (`reports::CommunityMetrics`); a province has some 17,700 of them,
//! which no official reads one by one and no answer should carry.
//!
//! An area's figures fold its communities' (organizations, targets, activities, sign-ups,
//! hours), except what must be counted once across them: distinct participants (counted
//! per area by `participant_counts`) and active organizations (counted per area by `activity_figures`).

use std::collections::{BTreeMap, HashMap, HashSet};

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::{
    domain::region::RegionLevel,
    entity::region,
    error::AppResult,
    service::{
        activity_figures::ActivityFigures,
        oversight_figures::Certified,
        participant_counts::Participants,
        reports::{CommunityMetrics, Figures, MonthFigures, participation_rate},
    },
};

/// One area of a province or city, over the period.
#[derive(Clone, Debug)]
pub struct AreaMetrics {
    pub area: region::Model,
    /// Its communities and villages, and those with their target of organizations.
    pub communities: i64,
    pub communities_meeting_target: i64,
    pub organizations: i64,
    pub by_category: BTreeMap<String, i64>,
    pub by_standing: BTreeMap<String, i64>,
    pub residents: i64,
    /// Of `figures.participants`, those whose home community is in the area.
    pub resident_participants: i64,
    /// `participants` and `active_organizations` are counted once across the area.
    pub figures: Figures,
    pub monthly: Vec<MonthFigures>,
    /// Its organizations' staff and those with a verified certificate.
    pub certified: Certified,
}

impl AreaMetrics {
    /// See [`participation_rate`].
    pub fn participation_rate(&self) -> Option<f64> {
        participation_rate(self.resident_participants, self.residents)
    }

    pub fn visitors(&self) -> i64 {
        self.figures.participants - self.resident_participants
    }
}

/// Whether a region's figures put its areas side by side rather than its communities:
/// above county level (a province or a city).
pub fn by_area(level: &str) -> bool {
    matches!(RegionLevel::parse(level), Some(RegionLevel::Province | RegionLevel::City))
}

/// The child of the region at `region_path` that the unit at `path` lies in, from the
/// materialised paths (`/1/3/6/15/`): the first id after the region's own path.
pub fn area_of(region_path: &str, path: &str) -> Option<i64> {
    path.strip_prefix(region_path)?.split('/').next()?.parse().ok()
}

/// The region's child areas that hold at least one of `communities`, or are not retired,
/// in code order; and community id → area id.
pub async fn areas(
    db: &impl ConnectionTrait,
    region: &region::Model,
    communities: &[region::Model],
) -> AppResult<(Vec<region::Model>, HashMap<i64, i64>)> {
    let area_of: HashMap<i64, i64> =
        communities.iter().filter_map(|c| area_of(&region.path, &c.path).map(|a| (c.id, a))).collect();
    let used: HashSet<i64> = area_of.values().copied().collect();
    let children = region::Entity::find()
        .filter(region::Column::ParentId.eq(region.id))
        .order_by_asc(region::Column::Code)
        .all(db)
        .await?
        .into_iter()
        .filter(|a| a.retired_at.is_none() || used.contains(&a.id))
        .collect();
    Ok((children, area_of))
}

/// Folds community rows into area rows. The communities' own `participants` and
/// `active_organizations` are not used: those come counted per area.
pub fn fold(
    areas: Vec<region::Model>,
    area_of: &HashMap<i64, i64>,
    communities: &[CommunityMetrics],
    participants: &Participants,
    active: &ActivityFigures,
    months: &[String],
) -> Vec<AreaMetrics> {
    let mut rows: Vec<AreaMetrics> = areas
        .into_iter()
        .map(|area| AreaMetrics {
            communities: 0,
            communities_meeting_target: 0,
            organizations: 0,
            by_category: BTreeMap::new(),
            by_standing: BTreeMap::new(),
            residents: 0,
            certified: Certified::default(),
            resident_participants: participants.own_by_group.get(&area.id).copied().unwrap_or(0),
            figures: Figures {
                participants: participants.by_group.get(&area.id).copied().unwrap_or(0),
                active_organizations: active.active_by_area.get(&area.id).copied().unwrap_or(0),
                ..Default::default()
            },
            monthly: months
                .iter()
                .map(|m| MonthFigures {
                    month: m.clone(),
                    figures: Figures {
                        participants: participants.by_group_month.get(&(area.id, m.clone())).copied().unwrap_or(0),
                        active_organizations: active
                            .active_by_area_month
                            .get(&(area.id, m.clone()))
                            .copied()
                            .unwrap_or(0),
                        ..Default::default()
                    },
                })
                .collect(),
            area,
        })
        .collect();
    let index: HashMap<i64, usize> = rows.iter().enumerate().map(|(i, a)| (a.area.id, i)).collect();
    for c in communities {
        let Some(row) = area_of.get(&c.community.id).and_then(|a| index.get(a)).map(|i| &mut rows[*i]) else {
            continue;
        };
        row.communities += 1;
        row.communities_meeting_target += i64::from(c.target_met());
        row.organizations += c.organizations;
        for (k, n) in &c.by_category {
            *row.by_category.entry(k.clone()).or_default() += n;
        }
        for (k, n) in &c.by_standing {
            *row.by_standing.entry(k.clone()).or_default() += n;
        }
        row.residents += c.residents;
        row.certified.staff += c.certified.staff;
        row.certified.certified += c.certified.certified;
        row.figures.add(&c.figures);
        for (mine, theirs) in row.monthly.iter_mut().zip(&c.monthly) {
            mine.figures.add(&theirs.figures);
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_lies_in_the_child_after_the_regions_path() {
        assert_eq!(area_of("/1/", "/1/3/6/15/"), Some(3));
        assert_eq!(area_of("/1/3/", "/1/3/6/15/"), Some(6));
        assert_eq!(area_of("/1/3/", "/1/4/7/16/"), None, "another city");
        assert_eq!(area_of("/1/3/", "/1/3/"), None, "the region itself");
        assert!(by_area("province") && by_area("city"));
        assert!(!by_area("county") && !by_area("street") && !by_area("community"));
    }
}
