//! Incubation (孵化): a base admits a start-up group (not filed yet) for a period, with
//! mentors, mentoring sessions and milestones; it ends in graduation (the group then
//! applies for filing with its incubation record attached), or exit; a period may be
//! extended.

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

string_enum! {
    /// Where a group in incubation stands.
    IncubateeStatus {
        Incubating = "incubating",
        Graduated = "graduated",
        Exited = "exited",
    }
}

string_enum! {
    /// A decision on a group, each kept with who, when and why.
    IncubationAction {
        Admit = "admit",
        Extend = "extend",
        Graduate = "graduate",
        Exit = "exit",
    }
}

string_enum! {
    /// What a mentor or the base records: a mentoring session (with its length in
    /// minutes) or a milestone reached.
    EntryKind {
        Session = "session",
        Milestone = "milestone",
    }
}

/// An admission lasts 1–24 months (孵化期); an extension adds 1–12.
pub const ADMISSION_MONTHS: std::ops::RangeInclusive<u32> = 1..=24;
pub const EXTENSION_MONTHS: std::ops::RangeInclusive<u32> = 1..=12;
/// A session lasts 1–600 minutes.
pub const SESSION_MINUTES: std::ops::RangeInclusive<i32> = 1..=600;

impl IncubationAction {
    /// The one table of incubation decisions: the status after `self` from `from`
    /// (`None`: not admitted yet), or `None` when the decision does not apply. Graduated
    /// and exited are final.
    pub fn next(self, from: Option<IncubateeStatus>) -> Option<IncubateeStatus> {
        use IncubateeStatus::*;
        use IncubationAction::*;
        match (from, self) {
            (None, Admit) => Some(Incubating),
            (Some(Incubating), Extend) => Some(Incubating),
            (Some(Incubating), Graduate) => Some(Graduated),
            (Some(Incubating), Exit) => Some(Exited),
            _ => None,
        }
    }
}

/// The last day of a period of `months` from `start`; `None` past the calendar's end.
pub fn period_end(start: NaiveDate, months: u32) -> Option<NaiveDate> {
    start.checked_add_months(Months::new(months))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decision_table_row_by_row() {
        use IncubateeStatus::*;
        use IncubationAction::*;
        let froms = [None, Some(Incubating), Some(Graduated), Some(Exited)];
        for from in froms {
            for action in IncubationAction::ALL {
                let expected = match (from, *action) {
                    (None, Admit) => Some(Incubating),
                    (Some(Incubating), Extend) => Some(Incubating),
                    (Some(Incubating), Graduate) => Some(Graduated),
                    (Some(Incubating), Exit) => Some(Exited),
                    _ => None,
                };
                assert_eq!(action.next(from), expected, "{from:?} {action:?}");
            }
        }
    }

    #[test]
    fn periods_count_calendar_months() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default();
        assert_eq!(period_end(d(2026, 1, 31), 1), Some(d(2026, 2, 28)));
        assert_eq!(period_end(d(2026, 3, 1), 12), Some(d(2027, 3, 1)));
        assert!(ADMISSION_MONTHS.contains(&24) && !ADMISSION_MONTHS.contains(&25));
        assert!(!EXTENSION_MONTHS.contains(&0));
    }
}
