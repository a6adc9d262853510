//! Activities and sign-ups: the rules that do not need a database.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

string_enum! {
    /// What kind of activity.
    ActivityKind {
        Volunteer = "volunteer",
        MutualAid = "mutual_aid",
        CultureSports = "culture_sports",
        Training = "training",
        Charity = "charity",
        Other = "other",
    }
}

string_enum! {
    /// `draft → published → (cancelled | finished)`; a draft may also be cancelled. An
    /// activity waits in `held` while a gate is shut (see [`Gates`]): a text WeChat wants
    /// a person to read (the committee's review) or a room booking awaiting approval.
    ActivityStatus {
        Draft = "draft",
        Held = "held",
        Published = "published",
        Cancelled = "cancelled",
        Finished = "finished",
    }
}

/// What an activity waits for before it goes out. The one rule for leaving `held`:
/// published only when the committee has read a flagged text (WeChat's content check,
/// `review_pending`) and, for an activity in a shared room, the room's booking is approved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gates {
    pub review_pending: bool,
    /// `None`: the activity names no room; `Some(approved)` otherwise.
    pub room_approved: Option<bool>,
}

impl Gates {
    pub fn open(self) -> bool {
        !self.review_pending && self.room_approved != Some(false)
    }

    /// The status an activity being published (or re-checked while held) takes.
    pub fn status(self) -> ActivityStatus {
        if self.open() { ActivityStatus::Published } else { ActivityStatus::Held }
    }
}

string_enum! {
    /// A resident's place on an activity.
    SignupStatus {
        Confirmed = "confirmed",
        Waitlisted = "waitlisted",
        Cancelled = "cancelled",
        Removed = "removed",
        Attended = "attended",
        NoShow = "no_show",
    }
}

string_enum! {
    /// What an attendance record says: arriving or leaving.
    AttendanceAction {
        CheckIn = "check_in",
        CheckOut = "check_out",
    }
}

string_enum! {
    /// How a check-in was taken: the resident's QR scanned by staff, the activity's
    /// rotating code scanned by the resident, a tick on the roster, a walk-in, an
    /// offline upload, or an offline resident's printed card.
    CheckinMethod {
        Qr = "qr",
        ActivityCode = "activity_code",
        Roster = "roster",
        WalkIn = "walk_in",
        Offline = "offline",
        Card = "card",
    }
}

impl SignupStatus {
    /// Holds a place or a place in the queue.
    pub fn is_active(self) -> bool {
        matches!(self, SignupStatus::Confirmed | SignupStatus::Waitlisted)
    }
}

pub const MAX_CAPACITY: i32 = 10_000;
pub const MAX_DURATION_DAYS: i64 = 7;
pub const DEFAULT_CANCEL_CUTOFF_MINUTES: i32 = 120;

/// Places on an activity: 1–10,000.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capacity(i32);

impl Capacity {
    pub fn parse(n: i64) -> Option<Self> {
        (1..=MAX_CAPACITY as i64).contains(&n).then_some(Capacity(n as i32))
    }
    pub fn get(self) -> i32 {
        self.0
    }
}

/// Why a time window is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowError {
    StartsInPast,
    EndsBeforeStart,
    TooLong,
    DeadlineAfterStart,
    DeadlinePassed,
    /// Starts beyond the horizon (`ACTIVITY_HORIZON`, two years by default).
    TooFarAhead,
}

/// When an activity happens and until when residents may sign up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeWindow {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub signup_deadline: DateTime<Utc>,
}

impl TimeWindow {
    /// Starts in the future but within `horizon` of now, ends after it starts and within
    /// 7 days, and the sign-up deadline (default: the start) is not after the start nor
    /// already past.
    pub fn parse(
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        signup_deadline: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        horizon: Duration,
    ) -> Result<Self, WindowError> {
        if starts_at <= now {
            return Err(WindowError::StartsInPast);
        }
        if starts_at > now + horizon {
            return Err(WindowError::TooFarAhead);
        }
        if ends_at <= starts_at {
            return Err(WindowError::EndsBeforeStart);
        }
        if ends_at - starts_at > Duration::days(MAX_DURATION_DAYS) {
            return Err(WindowError::TooLong);
        }
        let signup_deadline = signup_deadline.unwrap_or(starts_at);
        if signup_deadline > starts_at {
            return Err(WindowError::DeadlineAfterStart);
        }
        if signup_deadline <= now {
            return Err(WindowError::DeadlinePassed);
        }
        Ok(Self { starts_at, ends_at, signup_deadline })
    }

    pub fn minutes(&self) -> i64 {
        (self.ends_at - self.starts_at).num_minutes()
    }
}

/// A confirmed resident may cancel until `cutoff` minutes before the start.
pub fn may_cancel(now: DateTime<Utc>, starts_at: DateTime<Utc>, cutoff_minutes: i32) -> bool {
    now < starts_at - Duration::minutes(cutoff_minutes as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000 + h * 3600, 0).unwrap_or_default()
    }

    #[test]
    fn held_until_every_gate_opens() {
        let g = |review_pending, room_approved| Gates { review_pending, room_approved }.status();
        assert_eq!(g(false, None), ActivityStatus::Published);
        assert_eq!(g(false, Some(true)), ActivityStatus::Published);
        assert_eq!(g(true, None), ActivityStatus::Held);
        assert_eq!(g(true, Some(true)), ActivityStatus::Held);
        assert_eq!(g(false, Some(false)), ActivityStatus::Held);
        assert_eq!(g(true, Some(false)), ActivityStatus::Held);
    }

    #[test]
    fn capacity_is_bounded() {
        assert!(Capacity::parse(0).is_none());
        assert_eq!(Capacity::parse(1).map(Capacity::get), Some(1));
        assert_eq!(Capacity::parse(10_000).map(Capacity::get), Some(10_000));
        assert!(Capacity::parse(10_001).is_none());
    }

    impl TimeWindow {
        fn parse_h(
            starts_at: DateTime<Utc>,
            ends_at: DateTime<Utc>,
            deadline: Option<DateTime<Utc>>,
            now: DateTime<Utc>,
        ) -> Result<Self, WindowError> {
            TimeWindow::parse(starts_at, ends_at, deadline, now, Duration::days(730))
        }
    }

    #[test]
    fn activities_start_within_the_horizon() {
        let now = t(0);
        let horizon = Duration::days(730);
        assert!(TimeWindow::parse(t(730 * 24), t(730 * 24 + 2), None, now, horizon).is_ok());
        assert_eq!(
            TimeWindow::parse(t(730 * 24 + 1), t(730 * 24 + 2), None, now, horizon),
            Err(WindowError::TooFarAhead)
        );
        assert_eq!(TimeWindow::parse(t(3), t(5), None, now, Duration::hours(2)), Err(WindowError::TooFarAhead));
    }

    #[test]
    fn time_windows_are_checked() {
        let now = t(0);
        assert_eq!(TimeWindow::parse_h(t(-1), t(2), None, now), Err(WindowError::StartsInPast));
        assert_eq!(TimeWindow::parse_h(t(3), t(3), None, now), Err(WindowError::EndsBeforeStart));
        assert_eq!(TimeWindow::parse_h(t(3), t(3 + 7 * 24 + 1), None, now), Err(WindowError::TooLong));
        assert!(TimeWindow::parse_h(t(3), t(3 + 7 * 24), None, now).is_ok());
        assert_eq!(TimeWindow::parse_h(t(3), t(5), Some(t(4)), now), Err(WindowError::DeadlineAfterStart));
        assert_eq!(TimeWindow::parse_h(t(3), t(5), Some(t(-2)), now), Err(WindowError::DeadlinePassed));
        let w = TimeWindow::parse_h(t(3), t(5), None, now);
        assert_eq!(w.map(|w| (w.signup_deadline, w.minutes())), Ok((t(3), 120)));
    }

    #[test]
    fn cancellation_closes_before_the_start() {
        assert!(may_cancel(t(0), t(3), 120));
        assert!(!may_cancel(t(2), t(3), 120));
    }
}
