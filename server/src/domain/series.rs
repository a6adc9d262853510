//! Activity series and their regulars: the rules that need no database. The recurrence
//! itself is [`super::recurrence`].

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::activity::SignupStatus;

/// Dates are made this many weeks ahead unless the series says otherwise.
pub const DEFAULT_HORIZON_WEEKS: i32 = 8;
/// The horizon a series may ask for, in weeks.
pub const HORIZON_WEEKS: std::ops::RangeInclusive<i32> = 1..=26;
/// A regular who misses this many dates in a row (no-show) is paused.
pub const MISSES_BEFORE_PAUSE: usize = 2;
/// A series with a room books every date at once: at most this many.
pub const MAX_ROOM_DATES: usize = 200;

string_enum! {
    /// `active` (dates are made on the horizon) → `cancelled` (the rest cancelled) or
    /// `ended` (the rule has no date left).
    SeriesStatus {
        Active = "active",
        Ended = "ended",
        Cancelled = "cancelled",
    }
}

string_enum! {
    /// A resident's standing with a series: asked (`requested`) → `active` (accepted, or
    /// the series accepts at once) ⇄ `paused`; or `declined`, `left`, `removed`.
    RegularStatus {
        Requested = "requested",
        Active = "active",
        Paused = "paused",
        Declined = "declined",
        Left = "left",
        Removed = "removed",
    }
}

/// What happens to a regular's standing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegularAction {
    /// The resident asks to be a regular.
    Ask {
        auto_accept: bool,
    },
    Accept,
    Decline,
    /// The regular pauses (until a date, or until they resume).
    Pause,
    Resume,
    Leave,
    /// The organizer removes them, with a reason.
    Remove,
    /// They missed [`MISSES_BEFORE_PAUSE`] dates in a row.
    Missed,
    /// Their pause ran out.
    PauseOver,
}

/// What a step answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegularStep {
    /// Nothing to change (a repeated ask, resume of an active regular): answer as it is.
    Keep,
    Move(RegularStatus),
    /// Refused, with a stable error code.
    Refuse(&'static str),
}

/// The regulars' state table, in one place: every path asks it.
pub fn next(from: Option<RegularStatus>, action: RegularAction) -> RegularStep {
    use RegularAction as A;
    use RegularStatus as S;
    use RegularStep::*;
    match (from, action) {
        (None | Some(S::Left | S::Declined), A::Ask { auto_accept }) => {
            Move(if auto_accept { S::Active } else { S::Requested })
        }
        (Some(S::Requested | S::Active | S::Paused), A::Ask { .. }) => Keep,
        (Some(S::Removed), A::Ask { .. }) => Refuse("regular_removed"),
        (Some(S::Requested), A::Accept) => Move(S::Active),
        (Some(S::Requested), A::Decline) => Move(S::Declined),
        (_, A::Accept | A::Decline) => Refuse("invalid_transition"),
        (Some(S::Active | S::Paused), A::Pause) => Move(S::Paused),
        (Some(S::Paused), A::Resume) => Move(S::Active),
        (Some(S::Active), A::Resume) => Keep,
        (Some(S::Requested | S::Active | S::Paused), A::Leave) => Move(S::Left),
        (Some(S::Requested | S::Active | S::Paused), A::Remove) => Move(S::Removed),
        (Some(S::Active), A::Missed) => Move(S::Paused),
        (Some(S::Paused), A::PauseOver) => Move(S::Active),
        (_, A::Missed | A::PauseOver) => Keep,
        (_, A::Pause | A::Resume | A::Leave | A::Remove) => Refuse("not_a_regular"),
    }
}

impl RegularStatus {
    /// Signed up to new dates automatically.
    pub fn signs_up(self) -> bool {
        self == RegularStatus::Active
    }
}

/// Whether a regular missed the last [`MISSES_BEFORE_PAUSE`] dates in a row: `recent`
/// is their sign-up's status on the series' closed dates they held a place on, newest
/// first.
pub fn missed_in_a_row(recent: &[SignupStatus]) -> bool {
    recent.len() >= MISSES_BEFORE_PAUSE && recent.iter().take(MISSES_BEFORE_PAUSE).all(|s| *s == SignupStatus::NoShow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use RegularAction as A;
    use RegularStatus as S;
    use RegularStep::*;

    #[test]
    fn the_regulars_table_row_by_row() {
        let ask = A::Ask { auto_accept: false };
        let auto = A::Ask { auto_accept: true };
        let rows: &[(Option<S>, A, RegularStep)] = &[
            (None, ask, Move(S::Requested)),
            (None, auto, Move(S::Active)),
            (Some(S::Left), ask, Move(S::Requested)),
            (Some(S::Declined), auto, Move(S::Active)),
            (Some(S::Requested), ask, Keep),
            (Some(S::Active), ask, Keep),
            (Some(S::Paused), auto, Keep),
            (Some(S::Removed), ask, Refuse("regular_removed")),
            (Some(S::Requested), A::Accept, Move(S::Active)),
            (Some(S::Requested), A::Decline, Move(S::Declined)),
            (Some(S::Active), A::Accept, Refuse("invalid_transition")),
            (None, A::Decline, Refuse("invalid_transition")),
            (Some(S::Active), A::Pause, Move(S::Paused)),
            (Some(S::Paused), A::Pause, Move(S::Paused)),
            (Some(S::Requested), A::Pause, Refuse("not_a_regular")),
            (Some(S::Paused), A::Resume, Move(S::Active)),
            (Some(S::Active), A::Resume, Keep),
            (Some(S::Left), A::Resume, Refuse("not_a_regular")),
            (Some(S::Active), A::Leave, Move(S::Left)),
            (Some(S::Removed), A::Leave, Refuse("not_a_regular")),
            (Some(S::Paused), A::Remove, Move(S::Removed)),
            (None, A::Remove, Refuse("not_a_regular")),
            (Some(S::Active), A::Missed, Move(S::Paused)),
            (Some(S::Paused), A::Missed, Keep),
            (Some(S::Paused), A::PauseOver, Move(S::Active)),
            (Some(S::Left), A::PauseOver, Keep),
        ];
        for (from, action, want) in rows {
            assert_eq!(next(*from, *action), *want, "{from:?} × {action:?}");
        }
    }

    #[test]
    fn two_missed_dates_in_a_row_pause() {
        use SignupStatus::*;
        assert!(missed_in_a_row(&[NoShow, NoShow]));
        assert!(missed_in_a_row(&[NoShow, NoShow, Attended]));
        assert!(!missed_in_a_row(&[NoShow, Attended, NoShow]));
        assert!(!missed_in_a_row(&[NoShow]));
        assert!(!missed_in_a_row(&[]));
    }
}
