//! Figures of shared rooms (一室多用) per venue and month, for a region's metrics and its
//! Excel export: minutes open (the weekly timetable less closures), minutes booked
//! (approved bookings), utilisation, bookings by organization and category, and the
//! activities held there with their participants. Months are calendar months in
//! Asia/Shanghai, cut to the reporting period.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr};

use crate::{
    domain::{
        activity::{ActivityStatus, SignupStatus},
        clock::{shanghai, to_shanghai},
        venue::{BookingStatus, OpeningSpan, minutes_open, minutes_within, normalise, utilisation},
    },
    entity::{activity, organization, region, signup, venue, venue_booking, venue_closure, venue_hour},
    error::AppResult,
    service::{reports::Period, venues::open_spans},
};

/// Half-open `[from, to)` spans of time.
type Spans = Vec<(DateTime<Utc>, DateTime<Utc>)>;

/// One venue's use in one month (or, as `total`, the whole period).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoomMonth {
    /// `YYYY-MM`; empty for the period's total.
    pub month: String,
    /// Minutes the timetable opens the room, closures left out.
    pub open_minutes: i64,
    /// Minutes of approved bookings, cut to the month.
    pub booked_minutes: i64,
    /// Approved bookings starting in the month.
    pub bookings: i64,
    /// Published or finished activities held in the room, starting in the month.
    pub activities: i64,
    /// Attended sign-ups of those activities (a person at two counts twice).
    pub participants: i64,
}

impl RoomMonth {
    /// See [`utilisation`].
    pub fn utilisation(&self) -> Option<f64> {
        utilisation(self.booked_minutes, self.open_minutes)
    }

    fn add(&mut self, o: &RoomMonth) {
        self.open_minutes += o.open_minutes;
        self.booked_minutes += o.booked_minutes;
        self.bookings += o.bookings;
        self.activities += o.activities;
        self.participants += o.participants;
    }
}

/// What one organization booked of a room in the period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomUse {
    pub organization_id: i64,
    pub organization_name: String,
    /// The organization's category (`Category`).
    pub category: String,
    pub bookings: i64,
    pub booked_minutes: i64,
}

/// A venue's figures over the period.
#[derive(Clone, Debug)]
pub struct RoomFigures {
    pub venue: venue::Model,
    pub community_name: String,
    pub monthly: Vec<RoomMonth>,
    pub total: RoomMonth,
    /// Most booked first.
    pub by_organization: Vec<RoomUse>,
    /// Approved bookings by the booking organization's category.
    pub by_category: BTreeMap<String, i64>,
}

/// The first instant of month `YYYY-MM` in Asia/Shanghai.
fn month_start(month: &str) -> Option<DateTime<Utc>> {
    let d = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()?;
    shanghai().from_local_datetime(&d.and_hms_opt(0, 0, 0)?).single().map(|t| t.with_timezone(&Utc))
}

/// `[from, to)` of each month of the period, cut to it.
fn month_windows(period: &Period) -> Vec<(String, DateTime<Utc>, DateTime<Utc>)> {
    period
        .months()
        .into_iter()
        .filter_map(|m| {
            let start = month_start(&m)?;
            let next = to_shanghai(start).date_naive().checked_add_months(chrono::Months::new(1))?;
            let end = shanghai().from_local_datetime(&next.and_hms_opt(0, 0, 0)?).single()?.with_timezone(&Utc);
            Some((m, start.max(period.from), end.min(period.to)))
        })
        .collect()
}

/// The figures of every venue of `communities` (retired ones too: they were used), in
/// community then name order.
pub async fn room_figures(
    db: &impl ConnectionTrait,
    communities: &[region::Model],
    period: Period,
) -> AppResult<Vec<RoomFigures>> {
    let ids: Vec<i64> = communities.iter().map(|c| c.id).collect();
    let names: HashMap<i64, &str> = communities.iter().map(|c| (c.id, c.name.as_str())).collect();
    let venues = venue::Entity::find()
        .filter(venue::Column::CommunityId.is_in(ids))
        .order_by_asc(venue::Column::CommunityId)
        .order_by_asc(venue::Column::Name)
        .all(db)
        .await?;
    if venues.is_empty() {
        return Ok(Vec::new());
    }
    let venue_ids: Vec<i64> = venues.iter().map(|v| v.id).collect();
    let mut hours: HashMap<i64, Vec<OpeningSpan>> = HashMap::new();
    for h in venue_hour::Entity::find().filter(venue_hour::Column::VenueId.is_in(venue_ids.clone())).all(db).await? {
        if let Some(span) = OpeningSpan::new(h.weekday as i64, h.opens_minute as i64, h.closes_minute as i64) {
            hours.entry(h.venue_id).or_default().push(span);
        }
    }
    let mut closures: HashMap<i64, Spans> = HashMap::new();
    for c in venue_closure::Entity::find()
        .filter(venue_closure::Column::VenueId.is_in(venue_ids.clone()))
        .filter(venue_closure::Column::StartsAt.lt(period.to))
        .filter(venue_closure::Column::EndsAt.gt(period.from))
        .all(db)
        .await?
    {
        closures.entry(c.venue_id).or_default().push((c.starts_at, c.ends_at));
    }
    let bookings = venue_booking::Entity::find()
        .filter(venue_booking::Column::VenueId.is_in(venue_ids.clone()))
        .filter(venue_booking::Column::Status.eq(BookingStatus::Approved.as_str()))
        .filter(venue_booking::Column::StartsAt.lt(period.to))
        .filter(venue_booking::Column::EndsAt.gt(period.from))
        .all(db)
        .await?;
    let orgs: HashMap<i64, organization::Model> = organization::Entity::find()
        .filter(organization::Column::Id.is_in(bookings.iter().map(|b| b.organization_id).collect::<Vec<_>>()))
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    let held = activity::Entity::find()
        .filter(activity::Column::VenueId.is_in(venue_ids.clone()))
        .filter(activity::Column::Status.is_in([ActivityStatus::Published.as_str(), ActivityStatus::Finished.as_str()]))
        .filter(activity::Column::StartsAt.gte(period.from))
        .filter(activity::Column::StartsAt.lt(period.to))
        .all(db)
        .await?;
    let attended: HashMap<i64, i64> = signup::Entity::find()
        .select_only()
        .column(signup::Column::ActivityId)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(signup::Column::ActivityId.is_in(held.iter().map(|a| a.id).collect::<Vec<_>>()))
        .filter(signup::Column::Status.eq(SignupStatus::Attended.as_str()))
        .group_by(signup::Column::ActivityId)
        .into_tuple::<(i64, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();

    let windows = month_windows(&period);
    let mut out = Vec::with_capacity(venues.len());
    for v in venues {
        let timetable = normalise(hours.remove(&v.id).unwrap_or_default());
        let shut = closures.remove(&v.id).unwrap_or_default();
        let mine: Vec<&venue_booking::Model> = bookings.iter().filter(|b| b.venue_id == v.id).collect();
        let activities: Vec<&activity::Model> = held.iter().filter(|a| a.venue_id == Some(v.id)).collect();
        let mut monthly = Vec::with_capacity(windows.len());
        let mut total = RoomMonth::default();
        for (month, from, to) in &windows {
            let in_month = |t: DateTime<Utc>| *from <= t && t < *to;
            let m = RoomMonth {
                month: month.clone(),
                // Open only since the room was set up (its timetable before that is unknown).
                open_minutes: if *to > v.created_at {
                    minutes_open(&open_spans(&timetable, (*from).max(v.created_at), *to), &shut)
                } else {
                    0
                },
                booked_minutes: mine.iter().map(|b| minutes_within(b.starts_at, b.ends_at, *from, *to)).sum(),
                bookings: mine.iter().filter(|b| in_month(b.starts_at)).count() as i64,
                activities: activities.iter().filter(|a| in_month(a.starts_at)).count() as i64,
                participants: activities
                    .iter()
                    .filter(|a| in_month(a.starts_at))
                    .map(|a| attended.get(&a.id).copied().unwrap_or(0))
                    .sum(),
            };
            total.add(&m);
            monthly.push(m);
        }
        let mut by_org: HashMap<i64, RoomUse> = HashMap::new();
        let mut by_category: BTreeMap<String, i64> = BTreeMap::new();
        for b in mine.iter().filter(|b| period.from <= b.starts_at && b.starts_at < period.to) {
            let org = orgs.get(&b.organization_id);
            let category = org.map(|o| o.category.clone()).unwrap_or_default();
            *by_category.entry(category.clone()).or_default() += 1;
            let entry = by_org.entry(b.organization_id).or_insert_with(|| RoomUse {
                organization_id: b.organization_id,
                organization_name: org.map(|o| o.name.clone()).unwrap_or_default(),
                category,
                bookings: 0,
                booked_minutes: 0,
            });
            entry.bookings += 1;
            entry.booked_minutes += minutes_within(b.starts_at, b.ends_at, period.from, period.to);
        }
        let mut by_organization: Vec<RoomUse> = by_org.into_values().collect();
        by_organization
            .sort_by(|a, b| b.booked_minutes.cmp(&a.booked_minutes).then(a.organization_id.cmp(&b.organization_id)));
        out.push(RoomFigures {
            community_name: names.get(&v.community_id).copied().unwrap_or_default().to_owned(),
            venue: v,
            monthly,
            total,
            by_organization,
            by_category,
        });
    }
    Ok(out)
}

/// Rooms of a community and their utilisation over the period (all its rooms together).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommunityRooms {
    pub rooms: i64,
    pub open_minutes: i64,
    pub booked_minutes: i64,
}

impl CommunityRooms {
    pub fn utilisation(&self) -> Option<f64> {
        utilisation(self.booked_minutes, self.open_minutes)
    }
}

/// [`CommunityRooms`] by community id, from the rooms' figures.
pub fn by_community(rooms: &[RoomFigures]) -> HashMap<i64, CommunityRooms> {
    let mut out: HashMap<i64, CommunityRooms> = HashMap::new();
    for r in rooms {
        let c = out.entry(r.venue.community_id).or_default();
        c.rooms += 1;
        c.open_minutes += r.total.open_minutes;
        c.booked_minutes += r.total.booked_minutes;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_cut_to_the_period_in_shanghai() {
        let start = month_start("2026-12").unwrap_or_default();
        assert_eq!(start.to_rfc3339(), "2026-11-30T16:00:00+00:00");
        let period = Period { from: start + chrono::Duration::days(10), to: start + chrono::Duration::days(40) };
        let w = month_windows(&period);
        assert_eq!(w.len(), 2);
        assert_eq!((w[0].0.as_str(), w[0].1), ("2026-12", period.from));
        assert_eq!(w[0].2, month_start("2027-01").unwrap_or_default());
        assert_eq!((w[1].0.as_str(), w[1].2), ("2027-01", period.to));
    }
}
