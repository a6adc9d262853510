//! Distinct participants (参与居民) of a region's figures, from each community's monthly
//! participant sets (`participant_months`: the ids of the residents who took part there
//! in a month, Asia/Shanghai, as a Roaring bitmap).
//!
//! The figures' rows are **groups** of communities: each community on its own (a
//! community, a street, a county), or the region's child areas (a province's cities, a
//! city's counties). A person is counted once per group, per month of a group, per month
//! and over the whole region, however many of the group's communities they took part in —
//! so an area's figure is never the sum of its communities' figures. See
//! [`crate::service::reports::participation_rate`] for what "participant" and "resident
//! participant" mean.
//!
//! Every count is a union of sets: a district's year (100 communities, 1,000,000
//! attendance rows) is 1,300 sets, where grouping `participant_years` by resident read
//! 100,000 rows twice (bench/RESULTS.md, round five). `participant_years` stays the
//! record the sets are derived from: [`add`] writes both when an activity closes, in its
//! transaction, and [`rebuild`] derives the sets again from it.

use std::collections::{BTreeMap, HashMap};

use roaring::{MultiOps, RoaringTreemap};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, Set};

use crate::{
    entity::{participant_month, participant_year},
    error::AppResult,
    service::id_sets,
};

/// Which row of the figures each community of the region belongs to.
pub enum Groups<'a> {
    /// Each community is its own row.
    Communities(&'a [i64]),
    /// community id → the id of the row (an area) it falls in.
    Areas(&'a HashMap<i64, i64>),
}

impl Groups<'_> {
    /// The region's communities, ascending.
    pub fn communities(&self) -> Vec<i64> {
        match self {
            Groups::Communities(ids) => ids.to_vec(),
            Groups::Areas(map) => {
                let mut ids: Vec<i64> = map.keys().copied().collect();
                ids.sort_unstable();
                ids
            }
        }
    }

    fn group_of(&self, community: i64) -> Option<i64> {
        match self {
            Groups::Communities(ids) => ids.contains(&community).then_some(community),
            Groups::Areas(map) => map.get(&community).copied(),
        }
    }
}

/// Distinct participants of a period, by row (group) and month, and region-wide.
#[derive(Debug, Default)]
pub struct Participants {
    /// Participants of each row (a community, or an area).
    pub by_group: HashMap<i64, i64>,
    pub by_group_month: HashMap<(i64, String), i64>,
    pub by_month: HashMap<String, i64>,
    pub total: i64,
    /// Participants of each row who live in it (their home community is in the row).
    pub own_by_group: HashMap<i64, i64>,
    /// Participants who live in one of the region's communities.
    pub own_total: i64,
}

/// A community's participants in one month (`YYYY-MM`).
pub struct MonthSet {
    pub community: i64,
    pub month: String,
    pub users: RoaringTreemap,
}

const TABLE: &str = "participant_months";

fn decode(bytes: &[u8]) -> AppResult<RoaringTreemap> {
    id_sets::decode(bytes, TABLE)
}

/// Adds `users` to `community`'s participants of `month` (`YYYY-MM`, Asia/Shanghai), in
/// the caller's transaction. The row is locked before it is read (created empty first
/// when it is new), so two activities closing in one community and month at once each
/// add to the other's set rather than write over it; on SQLite the write transaction
/// (`BEGIN IMMEDIATE`) is the lock. Adding someone already there changes nothing.
pub async fn add(db: &impl ConnectionTrait, community: i64, month: &str, users: &[i64]) -> AppResult<()> {
    if users.is_empty() {
        return Ok(());
    }
    let empty = participant_month::ActiveModel {
        community_id: Set(community),
        month: Set(month.to_owned()),
        users: Set(id_sets::encode(&RoaringTreemap::new())?),
    };
    let row = id_sets::lock_or_create(db, empty, (community, month.to_owned())).await?;
    let mut set = decode(&row.users)?;
    let before = set.len();
    // User ids are positive (sequence-assigned).
    set |= id_sets::of(users.iter().copied());
    if set.len() == before {
        return Ok(());
    }
    participant_month::Entity::update(participant_month::ActiveModel {
        community_id: Set(community),
        month: Set(month.to_owned()),
        users: Set(id_sets::encode(&set)?),
    })
    .exec(db)
    .await?;
    Ok(())
}

/// Derives every community's monthly sets again from `participant_years`, one community
/// per transaction, through [`add`]: a union, so it only ever adds a participant who is
/// missing and can run beside closings. Returns the communities read. (`linli
/// rebuild-figures`; the benchmark's bulk path, which writes `participant_years` in
/// SQL, runs it after seeding.)
pub async fn rebuild(db: &DatabaseConnection) -> AppResult<usize> {
    let communities: Vec<i64> = participant_year::Entity::find()
        .select_only()
        .column(participant_year::Column::CommunityId)
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    for community in &communities {
        let rows: Vec<(i32, i64, i32)> = participant_year::Entity::find()
            .select_only()
            .column(participant_year::Column::Year)
            .column(participant_year::Column::UserId)
            .column(participant_year::Column::Months)
            .filter(participant_year::Column::CommunityId.eq(*community))
            .into_tuple()
            .all(db)
            .await?;
        let mut by_month: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for (year, user, months) in rows {
            for k in (0..12).filter(|k| months & (1 << k) != 0) {
                by_month.entry(format!("{year}-{:02}", k + 1)).or_default().push(user);
            }
        }
        let txn = crate::service::begin_write(db).await?;
        for (month, users) in &by_month {
            add(&txn, *community, month, users).await?;
        }
        txn.commit().await?;
    }
    Ok(communities.len())
}

/// After migrating: an existing deployment's `participant_years` with no sets derived
/// yet (the table is new) gets them now, so its figures do not drop to zero.
/// Runs at every start, so it asks only whether each table has a row.
pub async fn fill_if_new(db: &DatabaseConnection) -> AppResult<()> {
    let any = sea_orm::Condition::all;
    let empty =
        !id_sets::has_row::<participant_month::Entity>(db, participant_month::Column::CommunityId, any()).await?;
    let records =
        id_sets::has_row::<participant_year::Entity>(db, participant_year::Column::CommunityId, any()).await?;
    id_sets::derive_if_new(empty, records, "participant sets", rebuild(db)).await
}

/// The sets of the region's communities for the months of a period.
pub async fn month_sets(db: &impl ConnectionTrait, communities: &[i64], months: &[String]) -> AppResult<Vec<MonthSet>> {
    let rows: Vec<(i64, String, Vec<u8>)> = participant_month::Entity::find()
        .select_only()
        .column(participant_month::Column::CommunityId)
        .column(participant_month::Column::Month)
        .column(participant_month::Column::Users)
        .filter(participant_month::Column::CommunityId.is_in(communities.iter().copied()))
        .filter(participant_month::Column::Month.is_in(months.iter().cloned()))
        .into_tuple()
        .all(db)
        .await?;
    rows.into_iter()
        .map(|(community, month, bytes)| Ok(MonthSet { community, month, users: decode(&bytes)? }))
        .collect()
}

/// Counts the period's participants from its monthly sets (only months of the period
/// should be passed) and the region's residents by home community. Unions are taken
/// once per group and month; "lives here" needs no union of residents, since each
/// person has one home community: a group's own participants are the sum, over its
/// communities, of its participants living in each.
pub fn count(sets: Vec<MonthSet>, residents: &HashMap<i64, RoaringTreemap>, groups: &Groups<'_>) -> Participants {
    // Each row's participants in each month: the union of its communities' sets.
    let mut parts: HashMap<(i64, String), Vec<RoaringTreemap>> = HashMap::new();
    for set in sets {
        if let Some(group) = groups.group_of(set.community) {
            parts.entry((group, set.month)).or_default().push(set.users);
        }
    }
    let group_month: HashMap<(i64, String), RoaringTreemap> =
        parts.into_iter().map(|(key, sets)| (key, sets.union())).collect();
    let mut by_group_parts: HashMap<i64, Vec<&RoaringTreemap>> = HashMap::new();
    let mut by_month_parts: HashMap<&str, Vec<&RoaringTreemap>> = HashMap::new();
    for ((group, month), users) in &group_month {
        by_group_parts.entry(*group).or_default().push(users);
        by_month_parts.entry(month.as_str()).or_default().push(users);
    }
    let by_group: HashMap<i64, RoaringTreemap> =
        by_group_parts.into_iter().map(|(g, sets)| (g, sets.into_iter().union())).collect();
    let everyone = by_group.values().union();
    let len = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let mut own_by_group: HashMap<i64, i64> = HashMap::new();
    let mut own_total = 0;
    for (community, people) in residents {
        let Some(group) = groups.group_of(*community) else { continue };
        own_total += len(everyone.intersection_len(people));
        if let Some(users) = by_group.get(&group) {
            let own = len(users.intersection_len(people));
            if own > 0 {
                *own_by_group.entry(group).or_default() += own;
            }
        }
    }
    Participants {
        by_group_month: group_month.iter().map(|(k, v)| (k.clone(), len(v.len()))).collect(),
        by_month: by_month_parts
            .into_iter()
            .map(|(m, sets)| (m.to_owned(), len(sets.into_iter().union().len())))
            .collect(),
        by_group: by_group.iter().map(|(g, v)| (*g, len(v.len()))).collect(),
        total: len(everyone.len()),
        own_by_group,
        own_total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `month_sets` and `residents` read, from `(community, year, user, months,
    /// home)` rows as `participant_years` and `users` hold them, for the period's months.
    fn count_rows(rows: &[(i64, i32, i64, i32, Option<i64>)], period: &[&str], groups: &Groups<'_>) -> Participants {
        let mut sets: BTreeMap<(i64, String), RoaringTreemap> = BTreeMap::new();
        let mut residents: HashMap<i64, RoaringTreemap> = HashMap::new();
        for &(community, year, user, months, home) in rows {
            for k in (0..12).filter(|k| months & (1 << k) != 0) {
                let month = format!("{year}-{:02}", k + 1);
                if period.contains(&month.as_str()) {
                    sets.entry((community, month)).or_default().insert(user as u64);
                }
            }
            if let Some(home) = home {
                residents.entry(home).or_default().insert(user as u64);
            }
        }
        let sets = sets.into_iter().map(|((community, month), users)| MonthSet { community, month, users }).collect();
        count(sets, &residents, groups)
    }

    const SPRING: [&str; 4] = ["2026-01", "2026-02", "2026-03", "2026-04"];

    #[test]
    fn participants_are_counted_once_per_scope() {
        // Resident 1 (of 10) in two communities in March; resident 2 (of 12, elsewhere) in
        // March and April.
        let rows = [
            (10, 2026, 1, 0b100, Some(10)),
            (11, 2026, 1, 0b100, Some(10)),
            (10, 2026, 2, 0b1100, Some(12)),
            (10, 2025, 3, 0b1, None),
        ];
        let p = count_rows(&rows, &SPRING, &Groups::Communities(&[10, 11]));
        assert_eq!(p.own_by_group.get(&10), Some(&1), "resident 2 visits community 10");
        assert_eq!(p.own_by_group.get(&11), None, "resident 1 lives in 10, visits 11");
        assert_eq!(p.own_total, 1);
        assert_eq!(p.total, 2, "resident 3 took part outside the period");
        assert_eq!(p.by_group.get(&10), Some(&2));
        assert_eq!(p.by_month.get("2026-03"), Some(&2), "resident 1 counted once across communities");
        assert_eq!(p.by_month.get("2026-04"), Some(&1));
        assert_eq!(p.by_group_month.get(&(11, "2026-03".to_string())), Some(&1));
    }

    #[test]
    fn an_area_counts_a_person_once_across_its_communities() {
        // Communities 10 and 11 are in area 1, 12 in area 2. Resident 1 (home 10) takes
        // part in 10 and 11 in March; resident 2 (home 12) in 11 in March and 12 in April.
        let rows = [
            (10, 2026, 1, 0b100, Some(10)),
            (11, 2026, 1, 0b100, Some(10)),
            (11, 2026, 2, 0b100, Some(12)),
            (12, 2026, 2, 0b1000, Some(12)),
            (99, 2026, 3, 0b100, Some(10)),
        ];
        let areas = HashMap::from([(10, 1), (11, 1), (12, 2)]);
        let p = count_rows(&rows, &SPRING, &Groups::Areas(&areas));
        assert_eq!(p.by_group.get(&1), Some(&2), "resident 1 once, though in two of its communities");
        assert_eq!(p.own_by_group.get(&1), Some(&1), "resident 2 lives in area 2");
        assert_eq!(p.by_group.get(&2), Some(&1));
        assert_eq!(p.own_by_group.get(&2), Some(&1));
        assert_eq!(p.by_group_month.get(&(1, "2026-03".to_string())), Some(&2));
        assert_eq!(p.total, 2, "community 99 is outside the region");
        assert_eq!(p.own_total, 2);
        assert_eq!(p.by_month.get("2026-03"), Some(&2));
    }

    #[test]
    fn a_period_across_new_year_counts_a_person_once() {
        // Resident 1 in December and January; resident 2 in January only; resident 3 in
        // November, before the period.
        let rows = [
            (10, 2025, 1, 0b1000_0000_0000, Some(10)),
            (10, 2026, 1, 0b1, Some(10)),
            (10, 2026, 2, 0b1, None),
            (10, 2025, 3, 0b0100_0000_0000, Some(10)),
        ];
        let p = count_rows(&rows, &["2025-12", "2026-01"], &Groups::Communities(&[10]));
        assert_eq!((p.total, p.own_total), (2, 1));
        assert_eq!(p.by_group.get(&10), Some(&2));
        assert_eq!(p.by_month.get("2025-12"), Some(&1));
        assert_eq!(p.by_month.get("2026-01"), Some(&2));
    }

    #[test]
    fn a_set_survives_its_encoding() -> AppResult<()> {
        let set: RoaringTreemap = [1u64, 7, 65_536, 4_294_967_296].into_iter().collect();
        assert_eq!(decode(&id_sets::encode(&set)?)?, set);
        assert!(decode(&[1, 2, 3]).is_err(), "a damaged set is an error, never an empty set");
        Ok(())
    }
}
