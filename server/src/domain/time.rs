//! The one gate for every time the API accepts, in a body or a query: it must be a time
//! Linli can show back as RFC 3339 in Asia/Shanghai. chrono alone takes more than that: a
//! leap second (`23:59:60`, kept as a nanosecond ≥ 10⁹, shown back with second 60) and
//! instants whose Shanghai year has five digits (`9999-12-31T20:00:00Z` is
//! `+10000-01-01T04:00:00+08:00`).

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Timelike, Utc};

use crate::domain::clock::to_shanghai;

/// Why a time is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeError {
    /// Not RFC 3339 with an offset (or, for a date, not `YYYY-MM-DD`).
    Format,
    /// Second 60.
    LeapSecond,
    /// Outside the years 1–9999 once shown in Asia/Shanghai.
    OutOfRange,
}

impl TimeError {
    /// The field error's code.
    pub fn code(self) -> &'static str {
        match self {
            TimeError::Format => "format",
            TimeError::LeapSecond => "leap_second",
            TimeError::OutOfRange => "out_of_range",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            TimeError::Format => "时间须为带时区的 RFC 3339 格式，如 2026-12-01T09:30:00+08:00",
            TimeError::LeapSecond => "时间的秒数须为 0–59",
            TimeError::OutOfRange => "时间须在公元 1 年至 9999 年之间（北京时间）",
        }
    }
}

const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// Accepts a time that round-trips: no leap second, and a year of 1–9999 in Shanghai.
pub fn accept(t: DateTime<FixedOffset>) -> Result<DateTime<Utc>, TimeError> {
    if t.nanosecond() >= 1_000_000_000 {
        return Err(TimeError::LeapSecond);
    }
    let utc = t.with_timezone(&Utc);
    // Both the caller's offset and Shanghai's must show a four-digit year.
    if !YEARS.contains(&t.year()) || !YEARS.contains(&to_shanghai(utc).year()) {
        return Err(TimeError::OutOfRange);
    }
    Ok(utc)
}

/// Parses and accepts an RFC 3339 string.
pub fn parse_rfc3339(s: &str) -> Result<DateTime<Utc>, TimeError> {
    accept(DateTime::parse_from_rfc3339(s.trim()).map_err(|_| TimeError::Format)?)
}

/// Accepts a calendar date of the years 1–9999.
pub fn accept_date(d: NaiveDate) -> Result<NaiveDate, TimeError> {
    if YEARS.contains(&d.year()) { Ok(d) } else { Err(TimeError::OutOfRange) }
}

/// Parses and accepts `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<NaiveDate, TimeError> {
    let s = s.trim();
    // `%Y` takes signs and more than four digits; the contract is exactly four.
    if s.len() != 10 || !s.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
        return Err(TimeError::Format);
    }
    accept_date(NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| TimeError::Format)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc(s: &str) -> Result<DateTime<Utc>, TimeError> {
        parse_rfc3339(s)
    }

    #[test]
    fn ordinary_times_round_trip() {
        let t = rfc("2026-12-01T09:30:00+08:00");
        assert_eq!(t.map(|t| to_shanghai(t).to_rfc3339()), Ok("2026-12-01T09:30:00+08:00".to_owned()));
        assert!(rfc("2026-12-01T01:30:00.5Z").is_ok());
        assert!(rfc("9999-12-31T15:59:59Z").is_ok());
        assert!(rfc("0001-01-01T00:00:00+08:00").is_ok());
    }

    #[test]
    fn times_not_showable_in_shanghai_are_refused() {
        assert_eq!(rfc("9999-12-31T20:00:00Z"), Err(TimeError::OutOfRange));
        assert_eq!(rfc("9999-12-31T16:00:00Z"), Err(TimeError::OutOfRange));
        assert_eq!(rfc("0000-12-31T23:00:00Z"), Err(TimeError::OutOfRange));
        assert_eq!(rfc("0000-12-31T23:00:00-10:00"), Err(TimeError::OutOfRange));
    }

    #[test]
    fn leap_seconds_are_refused() {
        assert_eq!(rfc("2026-12-31T23:59:60Z"), Err(TimeError::LeapSecond));
        assert_eq!(rfc("2026-12-31T23:59:60.5+08:00"), Err(TimeError::LeapSecond));
        let via_serde: DateTime<FixedOffset> =
            serde_json::from_str("\"2026-06-30T23:59:60Z\"").unwrap_or_else(|_| DateTime::default());
        assert_eq!(accept(via_serde), Err(TimeError::LeapSecond));
    }

    #[test]
    fn malformed_times_are_refused() {
        assert_eq!(rfc("2026-12-01 09:30"), Err(TimeError::Format));
        assert_eq!(rfc("+10000-01-01T00:00:00Z"), Err(TimeError::Format));
    }

    #[test]
    fn dates_have_four_digit_years() {
        assert!(parse_date("2020-02-29").is_ok());
        assert_eq!(parse_date("0000-01-01"), Err(TimeError::OutOfRange));
        assert_eq!(parse_date("+2020-01-01"), Err(TimeError::Format));
        assert_eq!(parse_date("12020-01-01"), Err(TimeError::Format));
        assert_eq!(parse_date("2020-2-3"), Err(TimeError::Format));
    }
}
