//! Recurrence, in one place: RFC 5545 `RRULE` semantics through the `rrule` crate,
//! computed in Asia/Shanghai local time (a weekly 09:00 date stays at 09:00 local) and
//! answered in UTC. Both recurring room bookings and activity series use it.
//!
//! What Linli offers of RRULE: weekly on chosen weekdays every 1–4 weeks (weeks start on
//! Monday, counted from the first date's week), or monthly every 1–12 months on a date
//! of the month or on the n-th (or last) weekday; until a date (inclusive, local) or a
//! count of dates, or open-ended; and skip dates, which behave as `EXDATE` (a skipped
//! date still counts towards `COUNT`).

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use rrule::{RRule, Tz, Unvalidated};

use super::clock::to_shanghai;

/// The longest interval offered: every 4 weeks, every 12 months.
pub const MAX_EVERY_WEEKS: u16 = 4;
pub const MAX_EVERY_MONTHS: u16 = 12;
/// The most dates a count may ask for.
pub const MAX_COUNT: u32 = 500;

/// Which days of the period a rule falls on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// Weekly on these weekdays (not empty).
    Weekly { weekdays: Vec<Weekday> },
    /// Monthly on this date of the month (1–31; a month without it is skipped).
    MonthDay(u8),
    /// Monthly on the n-th weekday (1–4, or −1 for the last).
    NthWeekday { nth: i8, weekday: Weekday },
}

/// When a rule stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The last date it may fall on (inclusive, Asia/Shanghai).
    Until(NaiveDate),
    /// This many dates (skip dates included, as `EXDATE`).
    Count(u32),
    /// Open-ended: dates are made on a rolling horizon.
    Never,
}

/// A recurrence as parsed from a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recurrence {
    pub pattern: Pattern,
    /// Every `interval` weeks or months.
    pub interval: u16,
    pub end: End,
}

/// Why a recurrence was refused; each maps to a field error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecurrenceError {
    NoWeekdays,
    Interval,
    MonthDay,
    Nth,
    Count,
    UntilBeforeStart,
    /// The crate refused the rule (should not happen for what `parse` accepts).
    Invalid,
}

impl RecurrenceError {
    pub fn field_code_message(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::NoWeekdays => ("recurrence.weekdays", "required", "请至少选择一个星期几"),
            Self::Interval => ("recurrence.interval", "range", "间隔须为每 1–4 周或每 1–12 个月"),
            Self::MonthDay => ("recurrence.month_day", "range", "每月的日期须在 1 到 31 之间"),
            Self::Nth => ("recurrence.nth", "range", "第几个星期几须为 1–4 或 -1（最后一个）"),
            Self::Count => ("recurrence.count", "range", "次数须在 1 到 500 之间"),
            Self::UntilBeforeStart => ("recurrence.until", "before_start", "截止日期不能早于第一次的日期"),
            Self::Invalid => ("recurrence", "invalid", "重复规则无效"),
        }
    }
}

/// 1 = Monday … 7 = Sunday, as the API says weekdays.
pub fn weekday_of_number(n: u8) -> Option<Weekday> {
    (1..=7).contains(&n).then(|| Weekday::try_from(n - 1).ok()).flatten()
}

fn code(w: Weekday) -> &'static str {
    ["MO", "TU", "WE", "TH", "FR", "SA", "SU"][w.num_days_from_monday() as usize]
}

impl Recurrence {
    /// Checks the parts against what Linli offers. `first` is the first date's local day.
    pub fn parse(pattern: Pattern, interval: u16, end: End, first: NaiveDate) -> Result<Self, RecurrenceError> {
        match &pattern {
            Pattern::Weekly { weekdays } if weekdays.is_empty() => return Err(RecurrenceError::NoWeekdays),
            Pattern::Weekly { .. } if !(1..=MAX_EVERY_WEEKS).contains(&interval) => {
                return Err(RecurrenceError::Interval);
            }
            Pattern::MonthDay(_) | Pattern::NthWeekday { .. } if !(1..=MAX_EVERY_MONTHS).contains(&interval) => {
                return Err(RecurrenceError::Interval);
            }
            Pattern::MonthDay(d) if !(1..=31).contains(d) => return Err(RecurrenceError::MonthDay),
            Pattern::NthWeekday { nth, .. } if !matches!(nth, 1..=4 | -1) => return Err(RecurrenceError::Nth),
            _ => {}
        }
        match end {
            End::Count(n) if !(1..=MAX_COUNT).contains(&n) => return Err(RecurrenceError::Count),
            End::Until(d) if d < first => return Err(RecurrenceError::UntilBeforeStart),
            _ => {}
        }
        let mut weekdays = match &pattern {
            Pattern::Weekly { weekdays } => weekdays.clone(),
            _ => Vec::new(),
        };
        weekdays.sort_by_key(|w| w.num_days_from_monday());
        weekdays.dedup();
        let pattern = if weekdays.is_empty() { pattern } else { Pattern::Weekly { weekdays } };
        Ok(Self { pattern, interval, end })
    }

    /// The RFC 5545 `RRULE` value, e.g. `FREQ=WEEKLY;INTERVAL=2;WKST=MO;BYDAY=MO,WE;COUNT=10`.
    /// `UNTIL` is the end of the local day, in UTC, as RFC 5545 requires with a `TZID` start.
    pub fn rrule(&self) -> String {
        let mut parts = match &self.pattern {
            Pattern::Weekly { weekdays } => vec![
                "FREQ=WEEKLY".to_owned(),
                format!("INTERVAL={}", self.interval),
                "WKST=MO".to_owned(),
                format!("BYDAY={}", weekdays.iter().map(|w| code(*w)).collect::<Vec<_>>().join(",")),
            ],
            Pattern::MonthDay(d) => {
                vec!["FREQ=MONTHLY".to_owned(), format!("INTERVAL={}", self.interval), format!("BYMONTHDAY={d}")]
            }
            Pattern::NthWeekday { nth, weekday } => vec![
                "FREQ=MONTHLY".to_owned(),
                format!("INTERVAL={}", self.interval),
                format!("BYDAY={nth}{}", code(*weekday)),
            ],
        };
        match self.end {
            End::Until(d) => {
                let end_of_day = d.and_time(NaiveTime::from_hms_opt(23, 59, 59).unwrap_or_default());
                let utc = super::clock::shanghai()
                    .from_local_datetime(&end_of_day)
                    .single()
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or_else(|| end_of_day.and_utc());
                parts.push(format!("UNTIL={}", utc.format("%Y%m%dT%H%M%SZ")));
            }
            End::Count(n) => parts.push(format!("COUNT={n}")),
            End::Never => {}
        }
        parts.join(";")
    }

    /// Whether the rule has a last date (an until or a count).
    pub fn is_bounded(&self) -> bool {
        self.end != End::Never
    }
}

/// The starts (UTC) a stored rule gives from `first` (the first date's start; only its
/// local time of day and date matter) within `from..=to`, without the `skip` dates (local),
/// soonest first, at most `limit`. `Err` when the stored rule does not parse.
pub fn occurrences(
    rrule: &str,
    first: DateTime<Utc>,
    skip: &[NaiveDate],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: u16,
) -> Result<Vec<DateTime<Utc>>, RecurrenceError> {
    let rule: RRule<Unvalidated> = rrule.parse().map_err(|_| RecurrenceError::Invalid)?;
    let zone = Tz::Asia__Shanghai;
    let start = first.with_timezone(&zone);
    let set = rule.build(start).map_err(|_| RecurrenceError::Invalid)?;
    let result = set.after(from.with_timezone(&zone)).before(to.with_timezone(&zone)).all(limit);
    Ok(result
        .dates
        .into_iter()
        .map(|d| d.with_timezone(&Utc))
        .filter(|d| !skip.contains(&to_shanghai(*d).date_naive()))
        .collect())
}

/// The local dates (Asia/Shanghai) of `occurrences`.
pub fn local_date(t: DateTime<Utc>) -> NaiveDate {
    to_shanghai(t).date_naive()
}

/// `YYYY-MM-DD` dates, comma-separated, as stored.
pub fn join_dates(dates: &[NaiveDate]) -> String {
    dates.iter().map(|d| d.format("%Y-%m-%d").to_string()).collect::<Vec<_>>().join(",")
}

/// The dates of `join_dates`.
pub fn split_dates(s: &str) -> Vec<NaiveDate> {
    s.split(',').filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        super::super::clock::shanghai()
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).unwrap_or_default()
    }

    fn all(r: &Recurrence, first: DateTime<Utc>, skip: &[NaiveDate]) -> Vec<DateTime<Utc>> {
        occurrences(&r.rrule(), first, skip, first, first + chrono::Duration::days(800), 500).unwrap_or_default()
    }

    #[test]
    fn weekly_on_weekdays_every_other_week_stays_at_local_time() {
        // Mondays and Wednesdays every other week from Wednesday 2 December, skipping the 16th.
        let r = Recurrence::parse(
            Pattern::Weekly { weekdays: vec![Weekday::Wed, Weekday::Mon] },
            2,
            End::Until(day(12, 31)),
            day(12, 2),
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(r.rrule(), "FREQ=WEEKLY;INTERVAL=2;WKST=MO;BYDAY=MO,WE;UNTIL=20261231T155959Z");
        let dates = all(&r, at(2026, 12, 2, 9, 0), &[day(12, 16)]);
        assert_eq!(
            dates,
            vec![at(2026, 12, 2, 9, 0), at(2026, 12, 14, 9, 0), at(2026, 12, 28, 9, 0), at(2026, 12, 30, 9, 0)]
        );
    }

    #[test]
    fn monthly_on_the_nth_weekday_the_last_weekday_or_a_date() {
        let second_tuesday =
            Recurrence::parse(Pattern::NthWeekday { nth: 2, weekday: Weekday::Tue }, 1, End::Count(3), day(12, 1))
                .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(second_tuesday.rrule(), "FREQ=MONTHLY;INTERVAL=1;BYDAY=2TU;COUNT=3");
        assert_eq!(
            all(&second_tuesday, at(2026, 12, 1, 19, 30), &[]),
            vec![at(2026, 12, 8, 19, 30), at(2027, 1, 12, 19, 30), at(2027, 2, 9, 19, 30)]
        );
        let last_friday =
            Recurrence::parse(Pattern::NthWeekday { nth: -1, weekday: Weekday::Fri }, 1, End::Count(2), day(12, 1))
                .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(all(&last_friday, at(2026, 12, 1, 8, 0), &[]), vec![at(2026, 12, 25, 8, 0), at(2027, 1, 29, 8, 0)]);
        // The 31st: months without one are passed over.
        let the_31st =
            Recurrence::parse(Pattern::MonthDay(31), 1, End::Count(3), day(12, 31)).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            all(&the_31st, at(2026, 12, 31, 7, 0), &[]),
            vec![at(2026, 12, 31, 7, 0), at(2027, 1, 31, 7, 0), at(2027, 3, 31, 7, 0)]
        );
    }

    #[test]
    fn a_count_counts_skipped_dates_as_exdate_does() {
        let r = Recurrence::parse(Pattern::Weekly { weekdays: vec![Weekday::Sat] }, 1, End::Count(3), day(12, 5))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(all(&r, at(2026, 12, 5, 9, 0), &[day(12, 12)]), vec![at(2026, 12, 5, 9, 0), at(2026, 12, 19, 9, 0)]);
    }

    #[test]
    fn a_window_bounds_an_open_ended_rule() {
        let r = Recurrence::parse(Pattern::Weekly { weekdays: vec![Weekday::Sat] }, 1, End::Never, day(12, 5))
            .unwrap_or_else(|e| panic!("{e:?}"));
        let first = at(2026, 12, 5, 9, 0);
        let within = occurrences(&r.rrule(), first, &[], at(2026, 12, 10, 0, 0), at(2026, 12, 26, 9, 0), 100)
            .unwrap_or_default();
        assert_eq!(within, vec![at(2026, 12, 12, 9, 0), at(2026, 12, 19, 9, 0), at(2026, 12, 26, 9, 0)]);
    }

    #[test]
    fn what_is_not_offered_is_refused() {
        let first = day(12, 5);
        let weekly = |w: Vec<Weekday>, i| Recurrence::parse(Pattern::Weekly { weekdays: w }, i, End::Never, first);
        assert_eq!(weekly(vec![], 1), Err(RecurrenceError::NoWeekdays));
        assert_eq!(weekly(vec![Weekday::Mon], 5), Err(RecurrenceError::Interval));
        assert_eq!(weekly(vec![Weekday::Mon], 0), Err(RecurrenceError::Interval));
        assert_eq!(Recurrence::parse(Pattern::MonthDay(32), 1, End::Never, first), Err(RecurrenceError::MonthDay));
        assert_eq!(
            Recurrence::parse(Pattern::NthWeekday { nth: 5, weekday: Weekday::Mon }, 1, End::Never, first),
            Err(RecurrenceError::Nth)
        );
        assert_eq!(Recurrence::parse(Pattern::MonthDay(1), 1, End::Count(0), first), Err(RecurrenceError::Count));
        assert_eq!(
            Recurrence::parse(Pattern::MonthDay(1), 1, End::Until(day(12, 4)), first),
            Err(RecurrenceError::UntilBeforeStart)
        );
        assert_eq!(weekday_of_number(1), Some(Weekday::Mon));
        assert_eq!(weekday_of_number(7), Some(Weekday::Sun));
        assert_eq!(weekday_of_number(0), None);
    }
}
