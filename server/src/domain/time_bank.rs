//! The time bank (时间银行): mutual-aid time between neighbours, in integer minutes.
//! A currency kept apart from volunteer service hours, which stay a record.
//!
//! Double entry: a transfer moves `minutes` (> 0) from one account to another and is
//! written as two movements (−minutes, +minutes) that are never edited, so the balances of
//! one bank — its own account included — always sum to zero. A correction is a reversing
//! transfer, with a reason.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A member's lowest balance unless the bank sets another: −10 hours, in minutes.
pub const DEFAULT_FLOOR_MINUTES: i64 = -600;

/// The lowest floor a bank may set (−100 hours) and the highest (0: no credit at all).
pub const FLOOR_RANGE: std::ops::RangeInclusive<i64> = -6000..=0;

/// One exchange moves at least 1 minute and at most 24 hours.
pub const MINUTES_RANGE: std::ops::RangeInclusive<i64> = 1..=1440;

string_enum! {
    /// Whether a listing offers help or asks for it.
    ListingKind {
        Offer = "offer",
        Request = "request",
    }
}

string_enum! {
    /// What kind of help.
    HelpCategory {
        Companionship = "companionship",
        Errands = "errands",
        Escort = "escort",
        Housework = "housework",
        Repairs = "repairs",
        Childcare = "childcare",
        Tutoring = "tutoring",
        Technology = "technology",
        Health = "health",
        Other = "other",
    }
}

string_enum! {
    /// A membership: asked for, accepted, or refused.
    MemberStatus {
        Requested = "requested",
        Active = "active",
        Rejected = "rejected",
    }
}

string_enum! {
    ListingStatus {
        Open = "open",
        Closed = "closed",
    }
}

string_enum! {
    /// `proposed` (by the listing's other party) → `agreed` (by its author) → `confirmed`
    /// (by the helped, after the help: the transfer is made); `cancelled` before that.
    AgreementStatus {
        Proposed = "proposed",
        Agreed = "agreed",
        Confirmed = "confirmed",
        Cancelled = "cancelled",
    }
}

string_enum! {
    /// Why minutes moved.
    TransferKind {
        Exchange = "exchange",
        ActivityCredit = "activity_credit",
        Reversal = "reversal",
    }
}

/// Who helps and who is helped when `proposer` answers a listing of `author`: an offer's
/// author helps, a request's author is helped. Returns `(helper, helped)`.
pub fn parties<T>(kind: ListingKind, author: T, proposer: T) -> (T, T) {
    match kind {
        ListingKind::Offer => (author, proposer),
        ListingKind::Request => (proposer, author),
    }
}

/// Whether a member's account may pay `minutes` from `balance` without going below the
/// bank's `floor` (the bank's own account has no floor: it issues the credit).
pub fn may_debit(balance: i64, minutes: i64, floor: i64) -> bool {
    balance.checked_sub(minutes).is_some_and(|after| after >= floor)
}

/// A confirmed time, checked: 1–1440 minutes.
pub fn parse_minutes(minutes: i64) -> Option<i64> {
    MINUTES_RANGE.contains(&minutes).then_some(minutes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_is_inclusive() {
        assert!(may_debit(0, 600, -600));
        assert!(!may_debit(0, 601, -600));
        assert!(may_debit(-500, 100, -600));
        assert!(!may_debit(-500, 101, -600));
        assert!(!may_debit(i64::MIN, 1, -600));
    }

    #[test]
    fn an_offers_author_helps_and_a_requests_author_is_helped() {
        assert_eq!(parties(ListingKind::Offer, "author", "other"), ("author", "other"));
        assert_eq!(parties(ListingKind::Request, "author", "other"), ("other", "author"));
    }

    #[test]
    fn minutes_are_bounded() {
        assert_eq!(parse_minutes(0), None);
        assert_eq!(parse_minutes(60), Some(60));
        assert_eq!(parse_minutes(1441), None);
    }
}
