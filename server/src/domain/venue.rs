//! Shared rooms (一室多用): the rules a booking must meet, without a database. A booking
//! is a span of a venue's time; it blocks the span plus the venue's buffer (setting up,
//! cleaning), and holding bookings never overlap in what they block. Opening hours, slot
//! steps and closures are read in Asia/Shanghai.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::clock::to_shanghai;

string_enum! {
    /// `requested → approved | rejected`; a requested or approved booking may be
    /// `cancelled`. Requested and approved bookings hold their span.
    BookingStatus {
        Requested = "requested",
        Approved = "approved",
        Rejected = "rejected",
        Cancelled = "cancelled",
    }
}

string_enum! {
    /// `open` venues take bookings; a `closed` venue is retired (kept for its history).
    VenueStatus {
        Open = "open",
        Closed = "closed",
    }
}

/// What can be done to a booking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BookingAction {
    Approve,
    Reject,
    Cancel,
}

impl BookingStatus {
    /// Holds its span against other bookings.
    pub fn holds(self) -> bool {
        matches!(self, BookingStatus::Requested | BookingStatus::Approved)
    }

    /// The booking's state table: where an action leads, or `None` when it is refused.
    pub fn next(self, action: BookingAction) -> Option<BookingStatus> {
        use BookingAction::*;
        use BookingStatus::*;
        match (self, action) {
            (Requested, Approve) => Some(Approved),
            (Requested, Reject) => Some(Rejected),
            (Requested | Approved, Cancel) => Some(Cancelled),
            _ => None,
        }
    }
}

/// The statuses that hold a span, as stored.
pub const HOLDING: [&str; 2] = ["requested", "approved"];

pub const MAX_CAPACITY: i32 = 10_000;
const DAY_MINUTES: i64 = 24 * 60;

/// A venue's booking rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VenueRules {
    /// Starts and lengths are whole multiples of this, from midnight.
    pub slot_minutes: i64,
    pub min_minutes: i64,
    pub max_minutes: i64,
    /// Bookings open this many days ahead.
    pub book_ahead_days: i64,
    /// Kept free after each booking.
    pub buffer_minutes: i64,
    /// People the room holds.
    pub capacity: i64,
}

/// Why a venue's rules were refused: the field and a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RulesError {
    pub field: &'static str,
    pub code: &'static str,
    pub message: &'static str,
}

impl VenueRules {
    pub fn parse(
        slot_minutes: i64,
        min_minutes: i64,
        max_minutes: i64,
        book_ahead_days: i64,
        buffer_minutes: i64,
        capacity: i64,
    ) -> Result<Self, RulesError> {
        let err = |field, code, message| Err(RulesError { field, code, message });
        if !(5..=240).contains(&slot_minutes) || DAY_MINUTES % slot_minutes != 0 {
            return err("slot_minutes", "range", "时段步长须为 5–240 分钟且能整除一天");
        }
        if min_minutes < slot_minutes || min_minutes % slot_minutes != 0 {
            return err("min_minutes", "range", "最短预约时长须为时段步长的整数倍");
        }
        if max_minutes < min_minutes || max_minutes > DAY_MINUTES || max_minutes % slot_minutes != 0 {
            return err("max_minutes", "range", "最长预约时长须在最短时长与 24 小时之间，且为时段步长的整数倍");
        }
        if !(1..=366).contains(&book_ahead_days) {
            return err("book_ahead_days", "range", "可提前预约天数须在 1–366 之间");
        }
        if !(0..=240).contains(&buffer_minutes) {
            return err("buffer_minutes", "range", "间隔时间须在 0–240 分钟之间");
        }
        if !(1..=MAX_CAPACITY as i64).contains(&capacity) {
            return err("capacity", "range", "容纳人数须在 1–10000 之间");
        }
        Ok(Self { slot_minutes, min_minutes, max_minutes, book_ahead_days, buffer_minutes, capacity })
    }

    /// The end of what a booking ending at `end` blocks.
    pub fn blocked_until(&self, end: DateTime<Utc>) -> DateTime<Utc> {
        end + Duration::minutes(self.buffer_minutes)
    }
}

/// A weekly opening span, Asia/Shanghai: `weekday` 0 = Monday … 6 = Sunday, minutes after
/// midnight, `opens < closes ≤ 1440`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct OpeningSpan {
    pub weekday: u8,
    pub opens: u16,
    pub closes: u16,
}

impl OpeningSpan {
    pub fn new(weekday: i64, opens: i64, closes: i64) -> Option<Self> {
        ((0..7).contains(&weekday) && (0..DAY_MINUTES).contains(&opens) && opens < closes && closes <= DAY_MINUTES)
            .then_some(Self { weekday: weekday as u8, opens: opens as u16, closes: closes as u16 })
    }

    /// `"HH:MM"` → minutes after midnight; `"24:00"` is the end of the day.
    pub fn parse_clock(s: &str) -> Option<i64> {
        let (h, m) = s.split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
        match (h, m) {
            (24, 0) => Some(DAY_MINUTES),
            (0..=23, 0..=59) => Some(h * 60 + m),
            _ => None,
        }
    }

    pub fn clock(minutes: i64) -> String {
        format!("{:02}:{:02}", minutes / 60, minutes % 60)
    }
}

/// Merges touching or overlapping spans of the same day, so a booking across 12:00 of
/// `09:00–12:00` and `12:00–17:00` fits.
pub fn normalise(mut hours: Vec<OpeningSpan>) -> Vec<OpeningSpan> {
    hours.sort();
    let mut out: Vec<OpeningSpan> = Vec::with_capacity(hours.len());
    for h in hours {
        match out.last_mut() {
            Some(last) if last.weekday == h.weekday && h.opens <= last.closes => {
                last.closes = last.closes.max(h.closes)
            }
            _ => out.push(h),
        }
    }
    out
}

/// A requested span: `starts_at < ends_at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl Span {
    pub fn parse(starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> Option<Self> {
        (starts_at < ends_at).then_some(Self { starts_at, ends_at })
    }

    pub fn minutes(&self) -> i64 {
        (self.ends_at - self.starts_at).num_minutes()
    }
}

/// Whether two half-open spans `[a0, a1)` and `[b0, b1)` overlap.
pub fn overlaps(a0: DateTime<Utc>, a1: DateTime<Utc>, b0: DateTime<Utc>, b1: DateTime<Utc>) -> bool {
    a0 < b1 && b0 < a1
}

/// A dated closure of a venue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closure {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub reason: String,
}

/// Why a span cannot be booked, one code each (`venue_taken` is decided against the
/// database, in the service).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    InThePast,
    TooShort { min_minutes: i64 },
    TooLong { max_minutes: i64 },
    NotOnSlotStep { slot_minutes: i64 },
    TooFarAhead { days: i64 },
    OverCapacity { capacity: i64 },
    OutsideOpeningHours,
    VenueClosed(Closure),
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::InThePast => "in_the_past",
            Refusal::TooShort { .. } => "too_short",
            Refusal::TooLong { .. } => "too_long",
            Refusal::NotOnSlotStep { .. } => "not_on_slot_step",
            Refusal::TooFarAhead { .. } => "too_far_ahead",
            Refusal::OverCapacity { .. } => "over_capacity",
            Refusal::OutsideOpeningHours => "outside_opening_hours",
            Refusal::VenueClosed(_) => "venue_closed",
        }
    }
}

/// Minutes after midnight (Shanghai) of the span's start and end, and the start's day;
/// `None` when the span crosses midnight (an end at exactly midnight is 1440).
fn local_minutes(span: &Span) -> Option<(NaiveDate, u8, i64, i64)> {
    let (s, e) = (to_shanghai(span.starts_at), to_shanghai(span.ends_at));
    let day = s.date_naive();
    let start = (s.hour() * 60 + s.minute()) as i64;
    let end = if e.date_naive() == day {
        (e.hour() * 60 + e.minute()) as i64
    } else if e.date_naive() == day.succ_opt()? && e.num_seconds_from_midnight() == 0 && e.nanosecond() == 0 {
        DAY_MINUTES
    } else {
        return None;
    };
    Some((day, s.weekday().num_days_from_monday() as u8, start, end))
}

fn on_the_minute(t: DateTime<Utc>) -> bool {
    t.second() == 0 && t.nanosecond() == 0
}

/// Checks a span against a venue's rules, its opening hours (normalised) and closures, in
/// this order: the past, length, slot step, how far ahead, capacity, opening hours,
/// closures.
pub fn check(
    rules: &VenueRules,
    hours: &[OpeningSpan],
    closures: &[Closure],
    span: &Span,
    attendance: i64,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    if span.starts_at <= now {
        return Err(Refusal::InThePast);
    }
    let minutes = span.minutes();
    if minutes < rules.min_minutes {
        return Err(Refusal::TooShort { min_minutes: rules.min_minutes });
    }
    if minutes > rules.max_minutes {
        return Err(Refusal::TooLong { max_minutes: rules.max_minutes });
    }
    let local = local_minutes(span);
    let on_step = on_the_minute(span.starts_at)
        && on_the_minute(span.ends_at)
        && local.is_none_or(|(_, _, start, _)| start % rules.slot_minutes == 0)
        && minutes % rules.slot_minutes == 0;
    if !on_step {
        return Err(Refusal::NotOnSlotStep { slot_minutes: rules.slot_minutes });
    }
    if span.starts_at > now + Duration::days(rules.book_ahead_days) {
        return Err(Refusal::TooFarAhead { days: rules.book_ahead_days });
    }
    if attendance > rules.capacity {
        return Err(Refusal::OverCapacity { capacity: rules.capacity });
    }
    let open = local.is_some_and(|(_, weekday, start, end)| {
        hours.iter().any(|h| h.weekday == weekday && h.opens as i64 <= start && end <= h.closes as i64)
    });
    if !open {
        return Err(Refusal::OutsideOpeningHours);
    }
    if let Some(c) = closures.iter().find(|c| overlaps(c.starts_at, c.ends_at, span.starts_at, span.ends_at)) {
        return Err(Refusal::VenueClosed(c.clone()));
    }
    Ok(())
}

/// Minutes a venue is open between two dates (inclusive, Shanghai), closures not counted.
pub fn open_minutes(hours: &[OpeningSpan], from: NaiveDate, to: NaiveDate) -> i64 {
    let mut total = 0;
    let mut day = from;
    while day <= to {
        let weekday = day.weekday().num_days_from_monday() as u8;
        total += hours.iter().filter(|h| h.weekday == weekday).map(|h| (h.closes - h.opens) as i64).sum::<i64>();
        match day.succ_opt() {
            Some(d) => day = d,
            None => break,
        }
    }
    total
}

/// Minutes of `[a, b)` inside `[from, to)`.
pub fn minutes_within(a: DateTime<Utc>, b: DateTime<Utc>, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    let (a, b) = (a.max(from), b.min(to));
    if a < b { (b - a).num_minutes() } else { 0 }
}

/// Minutes of the half-open spans `open` (not overlapping each other: a timetable's
/// spans of a day) not covered by any of `closed` (which may overlap each other).
pub fn minutes_open(open: &[(DateTime<Utc>, DateTime<Utc>)], closed: &[(DateTime<Utc>, DateTime<Utc>)]) -> i64 {
    let mut closed: Vec<_> = closed.iter().filter(|(a, b)| a < b).copied().collect();
    closed.sort();
    let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for (a, b) in closed {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    open.iter()
        .map(|&(a, b)| {
            let shut: i64 = merged.iter().map(|&(c, d)| minutes_within(c, d, a, b)).sum();
            minutes_within(a, b, a, b) - shut
        })
        .sum()
}

/// A room's utilisation (使用率): minutes booked (approved) ÷ minutes open, at most 1 (a
/// booking made under an earlier timetable may lie outside today's hours); `None` when
/// the room was never open in the period. Rounded to 3 places.
pub fn utilisation(booked_minutes: i64, open_minutes: i64) -> Option<f64> {
    (open_minutes > 0)
        .then(|| (booked_minutes.min(open_minutes) as f64 / open_minutes as f64 * 1000.0).round() / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// A time in Shanghai.
    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        crate::domain::clock::shanghai()
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn rules() -> VenueRules {
        // 30-minute slots, 1–4 h, 30 days ahead, 30 min buffer, 40 people.
        VenueRules::parse(30, 60, 240, 30, 30, 40).unwrap_or_else(|e| panic!("{e:?}"))
    }

    /// Monday to Friday 09:00–12:00 and 14:00–21:00; Saturday 09:00–12:00 and 12:00–17:00.
    fn hours() -> Vec<OpeningSpan> {
        let mut h = Vec::new();
        for d in 0..5 {
            h.extend(OpeningSpan::new(d, 540, 720));
            h.extend(OpeningSpan::new(d, 840, 1260));
        }
        h.extend(OpeningSpan::new(5, 540, 720));
        h.extend(OpeningSpan::new(5, 720, 1020));
        normalise(h)
    }

    // 2026-12-07 is a Monday.
    fn now() -> DateTime<Utc> {
        at(2026, 12, 1, 8, 0)
    }

    fn span(a: DateTime<Utc>, b: DateTime<Utc>) -> Span {
        Span::parse(a, b).unwrap_or_else(|| panic!("empty span"))
    }

    fn check_span(a: DateTime<Utc>, b: DateTime<Utc>, people: i64, closures: &[Closure]) -> Result<(), &'static str> {
        check(&rules(), &hours(), closures, &span(a, b), people, now()).map_err(|r| r.code())
    }

    #[test]
    fn a_span_inside_opening_hours_on_the_step_is_accepted() {
        assert_eq!(check_span(at(2026, 12, 7, 9, 0), at(2026, 12, 7, 11, 30), 40, &[]), Ok(()));
        assert_eq!(check_span(at(2026, 12, 7, 14, 0), at(2026, 12, 7, 18, 0), 1, &[]), Ok(()));
    }

    #[test]
    fn each_refusal_has_its_code() {
        assert_eq!(check_span(at(2026, 11, 30, 9, 0), at(2026, 11, 30, 10, 0), 1, &[]), Err("in_the_past"));
        assert_eq!(check_span(at(2026, 12, 7, 9, 0), at(2026, 12, 7, 9, 30), 1, &[]), Err("too_short"));
        assert_eq!(check_span(at(2026, 12, 7, 14, 0), at(2026, 12, 7, 18, 30), 1, &[]), Err("too_long"));
        assert_eq!(check_span(at(2026, 12, 7, 9, 15), at(2026, 12, 7, 10, 15), 1, &[]), Err("not_on_slot_step"));
        assert_eq!(check_span(at(2026, 12, 7, 9, 0), at(2026, 12, 7, 10, 10), 1, &[]), Err("not_on_slot_step"));
        assert_eq!(check_span(at(2027, 1, 4, 9, 0), at(2027, 1, 4, 10, 0), 1, &[]), Err("too_far_ahead"));
        assert_eq!(check_span(at(2026, 12, 7, 9, 0), at(2026, 12, 7, 10, 0), 41, &[]), Err("over_capacity"));
        // Across the lunch break, before opening, on Sunday.
        assert_eq!(check_span(at(2026, 12, 7, 11, 0), at(2026, 12, 7, 15, 0), 1, &[]), Err("outside_opening_hours"));
        assert_eq!(check_span(at(2026, 12, 7, 8, 0), at(2026, 12, 7, 9, 30), 1, &[]), Err("outside_opening_hours"));
        assert_eq!(check_span(at(2026, 12, 13, 9, 0), at(2026, 12, 13, 10, 0), 1, &[]), Err("outside_opening_hours"));
        let repairs =
            Closure { starts_at: at(2026, 12, 7, 0, 0), ends_at: at(2026, 12, 8, 0, 0), reason: "维修".into() };
        assert_eq!(
            check_span(at(2026, 12, 7, 9, 0), at(2026, 12, 7, 10, 0), 1, std::slice::from_ref(&repairs)),
            Err("venue_closed")
        );
        assert_eq!(check_span(at(2026, 12, 8, 9, 0), at(2026, 12, 8, 10, 0), 1, &[repairs]), Ok(()));
    }

    #[test]
    fn touching_spans_of_a_day_merge() {
        // Saturday 09:00–12:00 and 12:00–17:00 are one span.
        assert_eq!(check_span(at(2026, 12, 12, 11, 0), at(2026, 12, 12, 13, 0), 1, &[]), Ok(()));
        assert_eq!(hours().iter().filter(|h| h.weekday == 5).count(), 1);
    }

    #[test]
    fn a_span_may_end_at_midnight_but_not_cross_it() {
        let all_day = normalise((0..7).filter_map(|d| OpeningSpan::new(d, 0, 1440)).collect());
        let r = VenueRules::parse(60, 60, 1440, 30, 0, 10).unwrap_or_else(|e| panic!("{e:?}"));
        let ok = check(&r, &all_day, &[], &span(at(2026, 12, 7, 22, 0), at(2026, 12, 8, 0, 0)), 1, now());
        assert_eq!(ok, Ok(()));
        let across = check(&r, &all_day, &[], &span(at(2026, 12, 7, 23, 0), at(2026, 12, 8, 1, 0)), 1, now());
        assert_eq!(across.map_err(|r| r.code()), Err("outside_opening_hours"));
    }

    #[test]
    fn the_buffer_extends_what_a_booking_blocks() {
        let r = rules();
        let end = at(2026, 12, 7, 10, 0);
        assert_eq!(r.blocked_until(end), at(2026, 12, 7, 10, 30));
        // 09:00–10:00 (+30) against 10:00–11:00: taken; against 10:30–11:30: free.
        assert!(overlaps(at(2026, 12, 7, 9, 0), r.blocked_until(end), at(2026, 12, 7, 10, 0), at(2026, 12, 7, 11, 30)));
        assert!(!overlaps(
            at(2026, 12, 7, 9, 0),
            r.blocked_until(end),
            at(2026, 12, 7, 10, 30),
            at(2026, 12, 7, 12, 0)
        ));
    }

    #[test]
    fn rules_are_parsed() {
        assert!(VenueRules::parse(30, 60, 240, 30, 0, 40).is_ok());
        assert_eq!(VenueRules::parse(7, 60, 240, 30, 0, 40).map_err(|e| e.field), Err("slot_minutes"));
        assert_eq!(VenueRules::parse(30, 45, 240, 30, 0, 40).map_err(|e| e.field), Err("min_minutes"));
        assert_eq!(VenueRules::parse(30, 60, 30, 30, 0, 40).map_err(|e| e.field), Err("max_minutes"));
        assert_eq!(VenueRules::parse(30, 60, 240, 0, 0, 40).map_err(|e| e.field), Err("book_ahead_days"));
        assert_eq!(VenueRules::parse(30, 60, 240, 30, 300, 40).map_err(|e| e.field), Err("buffer_minutes"));
        assert_eq!(VenueRules::parse(30, 60, 240, 30, 0, 0).map_err(|e| e.field), Err("capacity"));
    }

    #[test]
    fn clocks_parse() {
        assert_eq!(OpeningSpan::parse_clock("09:30"), Some(570));
        assert_eq!(OpeningSpan::parse_clock("24:00"), Some(1440));
        assert_eq!(OpeningSpan::parse_clock("24:30"), None);
        assert_eq!(OpeningSpan::parse_clock("9:30"), None);
        assert_eq!(OpeningSpan::clock(570), "09:30");
        assert_eq!(OpeningSpan::new(0, 600, 540), None);
        assert_eq!(OpeningSpan::new(7, 0, 60), None);
    }

    #[test]
    fn the_state_table() {
        use BookingAction::*;
        use BookingStatus::*;
        let table = [
            (Requested, Approve, Some(Approved)),
            (Requested, Reject, Some(Rejected)),
            (Requested, Cancel, Some(Cancelled)),
            (Approved, Approve, None),
            (Approved, Reject, None),
            (Approved, Cancel, Some(Cancelled)),
            (Rejected, Approve, None),
            (Rejected, Reject, None),
            (Rejected, Cancel, None),
            (Cancelled, Approve, None),
            (Cancelled, Reject, None),
            (Cancelled, Cancel, None),
        ];
        for (from, action, to) in table {
            assert_eq!(from.next(action), to, "{from:?} × {action:?}");
        }
        assert!(Requested.holds() && Approved.holds() && !Rejected.holds() && !Cancelled.holds());
        assert_eq!(HOLDING.map(|s| BookingStatus::parse(s).is_some_and(BookingStatus::holds)), [true, true]);
    }

    #[test]
    fn open_minutes_count_the_weekly_hours() {
        // One week: 5 × (3 + 7) h + 8 h on Saturday.
        let week = open_minutes(
            &hours(),
            NaiveDate::from_ymd_opt(2026, 12, 7).unwrap_or_default(),
            NaiveDate::from_ymd_opt(2026, 12, 13).unwrap_or_default(),
        );
        assert_eq!(week, (5 * 10 + 8) * 60);
    }

    #[test]
    fn open_minutes_leave_out_closures_once_and_utilisation_is_a_share() {
        let open = [(at(2026, 12, 7, 9, 0), at(2026, 12, 7, 12, 0)), (at(2026, 12, 7, 14, 0), at(2026, 12, 7, 18, 0))];
        assert_eq!(minutes_open(&open, &[]), 7 * 60);
        // Two overlapping closures over the morning's last hour and into the afternoon.
        let closed =
            [(at(2026, 12, 7, 11, 0), at(2026, 12, 7, 15, 0)), (at(2026, 12, 7, 10, 30), at(2026, 12, 7, 12, 0))];
        assert_eq!(minutes_open(&open, &closed), 7 * 60 - 90 - 60);
        assert_eq!(minutes_within(at(2026, 12, 7, 8, 0), at(2026, 12, 7, 10, 0), open[0].0, open[0].1), 60);
        assert_eq!(utilisation(90, 420), Some(0.214));
        assert_eq!(utilisation(500, 420), Some(1.0));
        assert_eq!(utilisation(0, 0), None);
    }
}
