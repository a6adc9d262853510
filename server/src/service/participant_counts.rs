//! Distinct participants (参与居民) of a region's figures, read from the yearly month masks
//! of `participant_years` (one row per participant × community × year, bit m−1 = took
//! part in month m, Asia/Shanghai).
//!
//! The figures' rows are **groups** of communities: each community on its own (a
//! community, a street, a county), or the region's child areas (a province's cities, a
//! city's counties). A person is counted once per group, per month of a group, per month
//! and over the whole region, however many of the group's communities they took part in —
//! so an area's figure is never the sum of its communities' figures. See
//! [`crate::service::reports::participation_rate`] for what "participant" and "resident
//! participant" mean.

use std::collections::{BTreeMap, HashMap, HashSet};

use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, sea_query::Expr, sea_query::ExprTrait, sea_query::Query};

use crate::{
    context::AppContext,
    entity::{participant_year, user},
    error::{AppError, AppResult},
};

/// Which row of the figures each community of the region belongs to.
pub enum Groups<'a> {
    /// Each community is its own row.
    Communities(&'a [i64]),
    /// community id → the id of the row (an area) it falls in.
    Areas(&'a HashMap<i64, i64>),
}

impl Groups<'_> {
    fn communities(&self) -> Vec<i64> {
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

/// `(year, mask)` for the months (`YYYY-MM`) of a period.
pub fn year_masks(months: &[String]) -> BTreeMap<i32, i32> {
    let mut masks: BTreeMap<i32, i32> = BTreeMap::new();
    for m in months {
        if let (Some(y), Some(mo)) =
            (m.get(..4).and_then(|y| y.parse().ok()), m.get(5..7).and_then(|x| x.parse::<u32>().ok()))
        {
            *masks.entry(y).or_default() |= 1 << (mo - 1);
        }
    }
    masks
}

/// Distinct participants in the months of a period. On PostgreSQL each resident's months
/// are folded across the period's years with `bit_or` (per row, and region-wide), so two
/// passes give every figure; SQLite, which has no `bit_or`, reads the rows once and counts
/// them here ([`count_participants`]).
pub async fn participants(ctx: &AppContext, groups: &Groups<'_>, months: &[String]) -> AppResult<Participants> {
    let masks = year_masks(months);
    let ids = groups.communities();
    // Masks are our own integers, never user input.
    let mut in_period = sea_orm::Condition::any();
    for (year, mask) in &masks {
        in_period = in_period.add(
            sea_orm::Condition::all()
                .add(participant_year::Column::Year.eq(*year))
                .add(Expr::cust(format!("(months & {mask}) <> 0"))),
        );
    }
    if ctx.db.get_database_backend() != DbBackend::Postgres {
        let select = Query::select()
            .column((participant_year::Entity, participant_year::Column::CommunityId))
            .column((participant_year::Entity, participant_year::Column::Year))
            .column((participant_year::Entity, participant_year::Column::UserId))
            .column((participant_year::Entity, participant_year::Column::Months))
            .column((user::Entity, user::Column::HomeCommunityId))
            .from(participant_year::Entity)
            .inner_join(
                user::Entity,
                Expr::col((user::Entity, user::Column::Id))
                    .equals((participant_year::Entity, participant_year::Column::UserId)),
            )
            .and_where(participant_year::Column::CommunityId.is_in(ids))
            .cond_where(in_period)
            .to_owned();
        let mut rows = Vec::new();
        for row in ctx.db.query_all_raw(ctx.db.get_database_backend().build(&select)).await? {
            rows.push((
                row.try_get::<i64>("", "community_id")?,
                row.try_get::<i32>("", "year")?,
                row.try_get::<i64>("", "user_id")?,
                row.try_get::<i32>("", "months")?,
                row.try_get::<Option<i64>>("", "home_community_id")?,
            ));
        }
        return Ok(count_participants(&rows, &masks, groups));
    }
    let (Some(first), Some(last)) = (masks.keys().next().copied(), masks.keys().last().copied()) else {
        return Ok(Participants::default());
    };
    // Bit 12·(year − first) + month − 1 of a 64-bit mask; a period spans at most 5 years.
    let wanted: i64 = masks.iter().map(|(y, m)| (*m as i64) << (12 * (y - first))).fold(0, |a, b| a | b);
    let bits: Vec<u32> = (0..(12 * (last - first + 1)) as u32).filter(|k| wanted & (1 << k) != 0).collect();
    let list = |ids: &[i64]| {
        if ids.is_empty() { "NULL".to_owned() } else { ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",") }
    };
    let ids_sql = list(&ids);
    let sums: String =
        bits.iter().map(|k| format!(", CAST(COALESCE(SUM((m >> {k}) & 1), 0) AS BIGINT) AS b{k}")).collect();
    // Each row's key (`g`), the joins that give it, and `own`: the participant lives in it.
    // Ids are our own integers, never user input.
    let (key, joins, own) = match groups {
        Groups::Communities(_) => ("p.community_id", String::new(), "h.home_community_id = p.community_id"),
        Groups::Areas(map) => {
            let (communities, areas): (Vec<i64>, Vec<i64>) = map.iter().map(|(c, a)| (*c, *a)).unzip();
            let area_of = format!("unnest(ARRAY[{}]::bigint[], ARRAY[{}]::bigint[])", list(&communities), list(&areas));
            (
                "g.area",
                format!(
                    " JOIN {area_of} AS g(community, area) ON g.community = p.community_id \
                     LEFT JOIN {area_of} AS hg(community, area) ON hg.community = h.home_community_id"
                ),
                "hg.area = g.area",
            )
        }
    };
    // `by`: the row's key, selected as `grp` (or nothing, region-wide). `h`: only the
    // residents of the region's communities (its index), not every user — the others are
    // never "own" anywhere here (48.6 → 35.5 ms for a street's year, bench/RESULTS.md).
    let folded = |by: Option<&str>, own: &str, joins: &str| {
        let (select, group) = by.map(|k| (format!("{k} AS grp, "), format!("{k}, "))).unwrap_or_default();
        format!(
            "SELECT {select}p.user_id, bit_or(CAST(p.months AS BIGINT) << (12 * (p.year - {first}))) & {wanted} AS m, \
             MAX(CASE WHEN {own} THEN 1 ELSE 0 END) AS own \
             FROM participant_years p LEFT JOIN (SELECT id, home_community_id FROM users \
             WHERE home_community_id IN ({ids_sql})) h ON h.id = p.user_id{joins} \
             WHERE p.community_id IN ({ids_sql}) AND p.year BETWEEN {first} AND {last} \
             GROUP BY {group}p.user_id"
        )
    };
    let per_group = format!(
        "SELECT grp, COUNT(*) AS n, CAST(SUM(own) AS BIGINT) AS own_n{sums} FROM ({}) u WHERE m <> 0 GROUP BY grp",
        folded(Some(key), own, &joins)
    );
    let region_wide = format!(
        "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(own), 0) AS BIGINT) AS own_n{sums} FROM ({}) u WHERE m <> 0",
        folded(None, &format!("h.home_community_id IN ({ids_sql})"), "")
    );
    let stmt = |sql: String| sea_orm::Statement::from_string(DbBackend::Postgres, sql);
    let (group_rows, region_rows) =
        tokio::try_join!(async { ctx.db.query_all_raw(stmt(per_group)).await.map_err(AppError::from) }, async {
            ctx.db.query_all_raw(stmt(region_wide)).await.map_err(AppError::from)
        },)?;
    let month_of_bit = |k: u32| format!("{}-{:02}", first + (k / 12) as i32, k % 12 + 1);
    let mut p = Participants::default();
    for row in group_rows {
        let group: i64 = row.try_get("", "grp")?;
        p.by_group.insert(group, row.try_get("", "n")?);
        p.own_by_group.insert(group, row.try_get("", "own_n")?);
        for k in &bits {
            p.by_group_month.insert((group, month_of_bit(*k)), row.try_get("", &format!("b{k}"))?);
        }
    }
    if let Some(row) = region_rows.into_iter().next() {
        p.total = row.try_get("", "n")?;
        p.own_total = row.try_get("", "own_n")?;
        for k in &bits {
            p.by_month.insert(month_of_bit(*k), row.try_get("", &format!("b{k}"))?);
        }
    }
    Ok(p)
}

/// Counts participants from `(community, year, user, months, home community)` rows.
pub fn count_participants(
    rows: &[(i64, i32, i64, i32, Option<i64>)],
    masks: &BTreeMap<i32, i32>,
    groups: &Groups<'_>,
) -> Participants {
    let mut by_group: HashMap<i64, HashSet<i64>> = HashMap::new();
    let mut own_by_group: HashMap<i64, HashSet<i64>> = HashMap::new();
    let mut everyone: HashSet<i64> = HashSet::new();
    let mut own_everyone: HashSet<i64> = HashSet::new();
    let mut by_group_month: HashMap<(i64, String), HashSet<i64>> = HashMap::new();
    let mut by_month: HashMap<String, HashSet<i64>> = HashMap::new();
    for &(community, year, user, months, home) in rows {
        let wanted = months & masks.get(&year).copied().unwrap_or(0);
        let Some(group) = groups.group_of(community) else { continue };
        if wanted == 0 {
            continue;
        }
        by_group.entry(group).or_default().insert(user);
        everyone.insert(user);
        let home_group = home.and_then(|h| groups.group_of(h));
        if home_group == Some(group) {
            own_by_group.entry(group).or_default().insert(user);
        }
        if home_group.is_some() {
            own_everyone.insert(user);
        }
        for k in 0..12 {
            if wanted & (1 << k) != 0 {
                let month = format!("{year}-{:02}", k + 1);
                by_group_month.entry((group, month.clone())).or_default().insert(user);
                by_month.entry(month).or_default().insert(user);
            }
        }
    }
    let sizes = |m: HashMap<i64, HashSet<i64>>| m.into_iter().map(|(k, v)| (k, v.len() as i64)).collect();
    Participants {
        by_group: sizes(by_group),
        by_group_month: by_group_month.into_iter().map(|(k, v)| (k, v.len() as i64)).collect(),
        by_month: by_month.into_iter().map(|(k, v)| (k, v.len() as i64)).collect(),
        total: everyone.len() as i64,
        own_by_group: sizes(own_by_group),
        own_total: own_everyone.len() as i64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_become_yearly_month_masks() {
        let months: Vec<String> = ["2025-11", "2025-12", "2026-01", "2026-03"].iter().map(|s| s.to_string()).collect();
        assert_eq!(year_masks(&months), BTreeMap::from([(2025, 0b1100_0000_0000), (2026, 0b101)]));
    }

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
        let masks = BTreeMap::from([(2026, 0b1111)]);
        let p = count_participants(&rows, &masks, &Groups::Communities(&[10, 11]));
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
        let masks = BTreeMap::from([(2026, 0b1111)]);
        let areas = HashMap::from([(10, 1), (11, 1), (12, 2)]);
        let p = count_participants(&rows, &masks, &Groups::Areas(&areas));
        assert_eq!(p.by_group.get(&1), Some(&2), "resident 1 once, though in two of its communities");
        assert_eq!(p.own_by_group.get(&1), Some(&1), "resident 2 lives in area 2");
        assert_eq!(p.by_group.get(&2), Some(&1));
        assert_eq!(p.own_by_group.get(&2), Some(&1));
        assert_eq!(p.by_group_month.get(&(1, "2026-03".to_string())), Some(&2));
        assert_eq!(p.total, 2, "community 99 is outside the region");
        assert_eq!(p.own_total, 2);
        assert_eq!(p.by_month.get("2026-03"), Some(&2));
    }
}
