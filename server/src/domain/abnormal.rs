//! The abnormal list (活动异常名录): organizations put on it, why, and when a listing is
//! flagged. The policy asks the filing office to supervise organizations "through random
//! checks, annual inspection, rating and enforcement"; a listing records the cause and
//! is cleared (never deleted) when the cause is.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

string_enum! {
    /// Why an organization is on the list: its annual report is overdue past the grace
    /// period (`ABNORMAL_AFTER_DAYS`), a random check could not reach it, or it failed to
    /// rectify what a check found.
    AbnormalReason {
        OverdueReport = "overdue_report",
        Unreachable = "unreachable",
        FailedRectification = "failed_rectification",
    }
}

/// A listing this old is flagged for the official (two years on the list).
pub const FLAG_AFTER_DAYS: i64 = 730;

/// Whether a listing made at `listed_at` and not cleared is flagged at `now`.
pub fn flagged(listed_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now - listed_at >= Duration::days(FLAG_AFTER_DAYS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_years_on_the_list_are_flagged() {
        let t = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        assert!(!flagged(t, t + Duration::days(729)));
        assert!(flagged(t, t + Duration::days(730)));
        assert_eq!(AbnormalReason::parse("unreachable"), Some(AbnormalReason::Unreachable));
    }
}
