//! The sign-up state machine: which action is allowed from which status, what it leads
//! to, and what that does to the activity's counters. Every path that changes a sign-up
//! (sign-up and its repeats, cancel, removal, promotion, walk-in, check-in by any of the
//! three ways, offline batches before and after closing, closing, a move onto another
//! activity's time, account deletion) asks [`next`] and applies what it answers, so a
//! repeat tap after check-in answers the existing sign-up instead of taking a second place.
//!
//! Counters: a sign-up that is `confirmed`, `attended` or `no_show` holds one of the
//! activity's places (`confirmed_count`); a `waitlisted` one holds a place in the queue
//! (`waitlist_count`); `cancelled` and `removed` hold nothing.

use crate::{domain::activity::SignupStatus, error::AppError};

/// What is being done to a resident's sign-up (`None` when they have none yet).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignupAction {
    /// The resident presses "sign up" (also a repeat of it).
    SignUp,
    /// The resident gives up the place or leaves the queue.
    Cancel,
    /// Staff take the resident off the roster, with a reason.
    Remove,
    /// The head of the waitlist is given a freed place.
    Promote,
    /// Staff register a resident who turns up at the door; it takes a free place.
    WalkIn,
    /// A check-in while the activity is open (staff, either code, an offline record).
    CheckIn,
    /// Evidence of attendance that reaches the server after closing: an offline record
    /// whose device time lies inside the check-in window.
    LateCheckIn,
    /// The activity is closed: confirmed residents who never came are no-shows.
    Close,
    /// The activity moved onto the time of another where the resident holds a place: the
    /// place here goes back to the queue (the clash rule, `clashes_with`).
    Displace,
    /// The account is deleted: what the person holds on an upcoming activity is given up.
    Erase,
}

impl SignupAction {
    pub const ALL: &'static [SignupAction] = &[
        SignupAction::SignUp,
        SignupAction::Cancel,
        SignupAction::Remove,
        SignupAction::Promote,
        SignupAction::WalkIn,
        SignupAction::CheckIn,
        SignupAction::LateCheckIn,
        SignupAction::Close,
        SignupAction::Displace,
        SignupAction::Erase,
    ];
}

/// Why an action is refused; each maps to one stable error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No sign-up that the action could apply to (404 `not_found`, or 409 `not_signed_up`
    /// for attendance).
    NotSignedUp,
    /// Staff removed the resident: they may not sign up again (409 `signup_removed`).
    Removed,
    /// Already checked in: the place is used (409 `already_attended`).
    AlreadyAttended,
    /// Only a waitlisted sign-up can be promoted (an internal invariant).
    NotWaitlisted,
    /// The activity was closed for this sign-up (409 `activity_finished`).
    Closed,
}

impl Refusal {
    pub fn into_error(self) -> AppError {
        let conflict = |code: &'static str, zh: &str| AppError::Conflict(code, zh.to_owned());
        match self {
            Refusal::NotSignedUp => AppError::NotFound("sign-up"),
            Refusal::Removed => conflict("signup_removed", "组织方已取消您的报名，不能再次报名，请联系组织方"),
            Refusal::AlreadyAttended => conflict("already_attended", "已签到，名额已使用，不能取消或移除"),
            Refusal::NotWaitlisted => conflict("invalid_transition", "该报名不在候补中"),
            Refusal::Closed => conflict("activity_finished", "活动已结束"),
        }
    }
}

/// What an action does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing changes: the existing sign-up is the answer (a repeat tap, a second scan).
    Keep,
    /// A new place if one is free, else a place in the queue (the activity row decides).
    Take,
    /// A place, only if one is free (a walk-in never queues).
    TakePlace,
    /// The sign-up moves to this status; counters follow [`counter_delta`].
    Move(SignupStatus),
    Refuse(Refusal),
}

/// The transition table. `from` is `None` when the resident has no sign-up yet.
pub fn next(from: Option<SignupStatus>, action: SignupAction) -> Step {
    use SignupAction as A;
    use SignupStatus as S;
    use Step::*;
    match (from, action) {
        (None, A::SignUp) => Take,
        (None, A::WalkIn) => TakePlace,
        (None, A::Close | A::Erase | A::Displace) => Keep,
        (None, A::Promote) => Refuse(Refusal::NotWaitlisted),
        (None, _) => Refuse(Refusal::NotSignedUp),

        (Some(S::Confirmed), A::SignUp | A::WalkIn) => Keep,
        (Some(S::Confirmed), A::Cancel | A::Erase) => Move(S::Cancelled),
        (Some(S::Confirmed), A::Remove) => Move(S::Removed),
        (Some(S::Confirmed), A::Promote) => Refuse(Refusal::NotWaitlisted),
        (Some(S::Confirmed), A::CheckIn | A::LateCheckIn) => Move(S::Attended),
        (Some(S::Confirmed), A::Close) => Move(S::NoShow),
        (Some(S::Confirmed), A::Displace) => Move(S::Waitlisted),

        (Some(S::Waitlisted), A::SignUp | A::Close | A::Displace) => Keep,
        (Some(S::Waitlisted), A::Cancel | A::Erase) => Move(S::Cancelled),
        (Some(S::Waitlisted), A::Remove) => Move(S::Removed),
        (Some(S::Waitlisted), A::Promote) => Move(S::Confirmed),
        (Some(S::Waitlisted), A::WalkIn) => TakePlace,
        (Some(S::Waitlisted), A::CheckIn | A::LateCheckIn) => Refuse(Refusal::NotSignedUp),

        (Some(S::Cancelled), A::SignUp) => Take,
        (Some(S::Cancelled), A::WalkIn) => TakePlace,
        (Some(S::Cancelled), A::Cancel | A::Close | A::Erase | A::Displace) => Keep,
        (Some(S::Cancelled), A::Promote) => Refuse(Refusal::NotWaitlisted),
        (Some(S::Cancelled), A::Remove | A::CheckIn | A::LateCheckIn) => Refuse(Refusal::NotSignedUp),

        (Some(S::Removed), A::SignUp) => Refuse(Refusal::Removed),
        // Staff may still let a removed resident in at the door: their decision.
        (Some(S::Removed), A::WalkIn) => TakePlace,
        (Some(S::Removed), A::Cancel | A::Close | A::Erase | A::Displace) => Keep,
        (Some(S::Removed), A::Promote) => Refuse(Refusal::NotWaitlisted),
        (Some(S::Removed), A::Remove | A::CheckIn | A::LateCheckIn) => Refuse(Refusal::NotSignedUp),

        (Some(S::Attended), A::Cancel | A::Remove) => Refuse(Refusal::AlreadyAttended),
        (Some(S::Attended), A::Promote) => Refuse(Refusal::NotWaitlisted),
        (Some(S::Attended), _) => Keep,

        (Some(S::NoShow), A::LateCheckIn) => Move(S::Attended),
        (Some(S::NoShow), A::SignUp | A::Close | A::Erase | A::Displace) => Keep,
        (Some(S::NoShow), A::Promote) => Refuse(Refusal::NotWaitlisted),
        (Some(S::NoShow), A::Cancel | A::Remove | A::WalkIn | A::CheckIn) => Refuse(Refusal::Closed),
    }
}

/// (places, queue places) a sign-up in this status holds.
pub fn holds(status: Option<SignupStatus>) -> (i32, i32) {
    match status {
        Some(SignupStatus::Confirmed | SignupStatus::Attended | SignupStatus::NoShow) => (1, 0),
        Some(SignupStatus::Waitlisted) => (0, 1),
        _ => (0, 0),
    }
}

/// How `confirmed_count` and `waitlist_count` change when a sign-up moves.
pub fn counter_delta(from: Option<SignupStatus>, to: SignupStatus) -> (i32, i32) {
    let (a, b) = (holds(from), holds(Some(to)));
    (b.0 - a.0, b.1 - a.1)
}

/// The statuses that hold a place: a place here clashes with a place elsewhere at the
/// same time.
pub const PLACE_HOLDING: [SignupStatus; 2] = [SignupStatus::Confirmed, SignupStatus::Attended];

#[cfg(test)]
mod tests {
    use super::*;
    use SignupAction as A;
    use SignupStatus as S;
    use Step::*;

    const STATUSES: [Option<SignupStatus>; 7] = [
        None,
        Some(S::Confirmed),
        Some(S::Waitlisted),
        Some(S::Cancelled),
        Some(S::Removed),
        Some(S::Attended),
        Some(S::NoShow),
    ];

    /// Every (status, action) pair, written out: the table as the product means it.
    /// Columns: SignUp, Cancel, Remove, Promote, WalkIn, CheckIn, LateCheckIn, Close,
    /// Displace, Erase.
    #[rustfmt::skip]
    fn expected(from: Option<SignupStatus>, action: SignupAction) -> Step {
        let r = Refuse;
        let row: [Step; 10] = match from {
            None => [Take, r(Refusal::NotSignedUp), r(Refusal::NotSignedUp), r(Refusal::NotWaitlisted), TakePlace, r(Refusal::NotSignedUp), r(Refusal::NotSignedUp), Keep, Keep, Keep],
            Some(S::Confirmed) => [Keep, Move(S::Cancelled), Move(S::Removed), r(Refusal::NotWaitlisted), Keep, Move(S::Attended), Move(S::Attended), Move(S::NoShow), Move(S::Waitlisted), Move(S::Cancelled)],
            Some(S::Waitlisted) => [Keep, Move(S::Cancelled), Move(S::Removed), Move(S::Confirmed), TakePlace, r(Refusal::NotSignedUp), r(Refusal::NotSignedUp), Keep, Keep, Move(S::Cancelled)],
            Some(S::Cancelled) => [Take, Keep, r(Refusal::NotSignedUp), r(Refusal::NotWaitlisted), TakePlace, r(Refusal::NotSignedUp), r(Refusal::NotSignedUp), Keep, Keep, Keep],
            Some(S::Removed) => [r(Refusal::Removed), Keep, r(Refusal::NotSignedUp), r(Refusal::NotWaitlisted), TakePlace, r(Refusal::NotSignedUp), r(Refusal::NotSignedUp), Keep, Keep, Keep],
            Some(S::Attended) => [Keep, r(Refusal::AlreadyAttended), r(Refusal::AlreadyAttended), r(Refusal::NotWaitlisted), Keep, Keep, Keep, Keep, Keep, Keep],
            Some(S::NoShow) => [Keep, r(Refusal::Closed), r(Refusal::Closed), r(Refusal::NotWaitlisted), r(Refusal::Closed), r(Refusal::Closed), Move(S::Attended), Keep, Keep, Keep],
        };
        let i = SignupAction::ALL.iter().position(|a| *a == action).unwrap_or(usize::MAX);
        row.get(i).copied().unwrap_or(Refuse(Refusal::NotSignedUp))
    }

    #[test]
    fn every_status_and_action_pair_is_as_the_table_says() {
        assert_eq!(SignupAction::ALL.len(), 10);
        for from in STATUSES {
            for action in SignupAction::ALL {
                assert_eq!(next(from, *action), expected(from, *action), "{from:?} × {action:?}");
            }
        }
    }

    #[test]
    fn a_repeat_after_check_in_takes_no_second_place() {
        assert_eq!(next(Some(S::Attended), A::SignUp), Keep);
        assert_eq!(next(Some(S::Attended), A::WalkIn), Keep);
        assert_eq!(next(Some(S::Attended), A::CheckIn), Keep);
    }

    #[test]
    fn counters_follow_the_places_held() {
        assert_eq!(counter_delta(Some(S::Confirmed), S::Cancelled), (-1, 0));
        assert_eq!(counter_delta(Some(S::Waitlisted), S::Confirmed), (1, -1));
        assert_eq!(counter_delta(Some(S::Confirmed), S::Attended), (0, 0));
        assert_eq!(counter_delta(Some(S::Confirmed), S::NoShow), (0, 0));
        assert_eq!(counter_delta(Some(S::NoShow), S::Attended), (0, 0));
        assert_eq!(counter_delta(None, S::Confirmed), (1, 0));
        assert_eq!(counter_delta(Some(S::Confirmed), S::Waitlisted), (-1, 1));
        // No move ever creates or destroys more than one place or queue place.
        for from in STATUSES {
            for action in SignupAction::ALL {
                if let Move(to) = next(from, *action) {
                    let (p, q) = counter_delta(from, to);
                    assert!(p.abs() <= 1 && q.abs() <= 1, "{from:?} × {action:?}");
                    assert_ne!(from, Some(to), "a move changes the status: {from:?} × {action:?}");
                }
            }
        }
    }
}
