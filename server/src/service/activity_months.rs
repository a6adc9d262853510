//! Each community's activity figures month by month (`activity_months`): the month's
//! activities, sign-ups, attended, no-shows and minutes, and the set of organizations
//! that held them (a Roaring bitmap of ids, [`id_sets`]).
//!
//! `activity_stats` (one row per closed activity) stays the record; a row here is always
//! *summed again* from it, never adjusted by a difference, so late evidence, an hours
//! correction or a rerun can never leave it off by an amount: [`refresh`] runs in the
//! transaction that writes an activity's figures, after them. A region's figures then read
//! one row per community and month — a district's year is 1,300 rows, where grouping
//! `activity_stats` by community, month and organization sent 41,100 (bench/RESULTS.md,
//! round six).

use std::collections::BTreeSet;

use roaring::RoaringTreemap;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, Set};

use crate::{
    entity::{activity_month, activity_stat},
    error::AppResult,
    service::{id_sets, reports::Figures, reports::figure_columns},
};

const TABLE: &str = "activity_months";

/// One community's activity figures in one month (`YYYY-MM`, Asia/Shanghai).
#[derive(Clone, Debug, PartialEq)]
pub struct MonthCell {
    pub community: i64,
    pub month: String,
    /// The organizations that held the activities.
    pub organizations: RoaringTreemap,
    /// Activities, sign-ups, attended, no-shows and minutes; `active_organizations` is
    /// the size of `organizations`.
    pub figures: Figures,
}

/// Sums `community`'s figures of `month` again from `activity_stats`, in the caller's
/// transaction, after it wrote an activity's figures there. The row is locked before it
/// is summed (created empty first when it is new), so of two activities closing in one
/// community and month at once the second waits and sums both (PostgreSQL reads anew
/// after the lock under READ COMMITTED; on SQLite the write transaction, `BEGIN
/// IMMEDIATE`, is the lock).
pub async fn refresh(db: &impl ConnectionTrait, community: i64, month: &str) -> AppResult<()> {
    let empty = activity_month::ActiveModel {
        community_id: Set(community),
        month: Set(month.to_owned()),
        activities: Set(0),
        signups: Set(0),
        attended: Set(0),
        no_shows: Set(0),
        minutes: Set(0),
        organizations: Set(id_sets::encode(&RoaringTreemap::new())?),
    };
    id_sets::lock_or_create(db, empty, (community, month.to_owned())).await?;
    let rows: Vec<(i64, i64, i64, i64, i64, i64)> =
        figure_columns(activity_stat::Entity::find().select_only().column(activity_stat::Column::OrganizationId))
            .filter(activity_stat::Column::CommunityId.eq(community))
            .filter(activity_stat::Column::Month.eq(month))
            .group_by(activity_stat::Column::OrganizationId)
            .into_tuple()
            .all(db)
            .await?;
    let mut f = Figures::default();
    for (_, activities, signups, attended, no_shows, minutes) in &rows {
        f.add(&Figures {
            activities: *activities,
            signups: *signups,
            attended: *attended,
            no_shows: *no_shows,
            minutes: *minutes,
            ..Default::default()
        });
    }
    let organizations = id_sets::of(rows.iter().map(|r| r.0));
    activity_month::Entity::update(activity_month::ActiveModel {
        community_id: Set(community),
        month: Set(month.to_owned()),
        activities: Set(f.activities),
        signups: Set(f.signups),
        attended: Set(f.attended),
        no_shows: Set(f.no_shows),
        minutes: Set(f.minutes),
        organizations: Set(id_sets::encode(&organizations)?),
    })
    .exec(db)
    .await?;
    Ok(())
}

/// Sums every community's months again from `activity_stats`, one community per
/// transaction, through [`refresh`]; safe beside a running server. Returns the
/// communities read. (`linli rebuild-figures`; the benchmark's bulk path, which writes
/// `activity_stats` in SQL, runs it after seeding.)
pub async fn rebuild(db: &DatabaseConnection) -> AppResult<usize> {
    let cells: Vec<(i64, String)> = activity_stat::Entity::find()
        .select_only()
        .column(activity_stat::Column::CommunityId)
        .column(activity_stat::Column::Month)
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    let mut by_community: std::collections::BTreeMap<i64, BTreeSet<String>> = Default::default();
    for (community, month) in cells {
        by_community.entry(community).or_default().insert(month);
    }
    for (community, months) in &by_community {
        let txn = crate::service::begin_write(db).await?;
        for month in months {
            refresh(&txn, *community, month).await?;
        }
        txn.commit().await?;
    }
    Ok(by_community.len())
}

/// After migrating: an existing deployment's `activity_stats` with no months summed yet
/// (the table is new) gets them now, so its figures do not drop to zero. Runs at every
/// start, so it asks only whether each table has a row.
pub async fn fill_if_new(db: &DatabaseConnection) -> AppResult<()> {
    let any = sea_orm::Condition::all;
    let empty = !id_sets::has_row::<activity_month::Entity>(db, activity_month::Column::CommunityId, any()).await?;
    let records = id_sets::has_row::<activity_stat::Entity>(db, activity_stat::Column::ActivityId, any()).await?;
    id_sets::derive_if_new(empty, records, "activity months", rebuild(db)).await
}

/// The months of these communities, as stored.
pub async fn read(db: &impl ConnectionTrait, communities: &[i64], months: &[String]) -> AppResult<Vec<MonthCell>> {
    if communities.is_empty() || months.is_empty() {
        return Ok(Vec::new());
    }
    let rows = activity_month::Entity::find()
        .filter(activity_month::Column::CommunityId.is_in(communities.iter().copied()))
        .filter(activity_month::Column::Month.is_in(months.iter().cloned()))
        .all(db)
        .await?;
    rows.into_iter()
        .filter(|r| r.activities > 0)
        .map(|r| {
            let organizations = id_sets::decode(&r.organizations, TABLE)?;
            Ok(MonthCell {
                community: r.community_id,
                month: r.month,
                figures: Figures {
                    activities: r.activities,
                    signups: r.signups,
                    attended: r.attended,
                    no_shows: r.no_shows,
                    minutes: r.minutes,
                    active_organizations: id_sets::size(&organizations),
                    ..Default::default()
                },
                organizations,
            })
        })
        .collect()
}
