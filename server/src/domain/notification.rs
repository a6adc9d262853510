//! Notices and WeChat subscribe-message consent: the vocabulary.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

string_enum! {
    /// What a notice is about.
    NotificationKind {
        Reminder = "reminder",
        SignupConfirmed = "signup_confirmed",
        WaitlistPromoted = "waitlist_promoted",
        ActivityChanged = "activity_changed",
        ActivityCancelled = "activity_cancelled",
        SignupRemoved = "signup_removed",
        ActivityReview = "activity_review",
        FilingResult = "filing_result",
        WorkWaiting = "work_waiting",
        WorkDigest = "work_digest",
        BookingApproved = "booking_approved",
        BookingRejected = "booking_rejected",
        BookingCancelled = "booking_cancelled",
        InvitationAccepted = "invitation_accepted",
        AnnualReportDue = "annual_report_due",
        AnnualReportResult = "annual_report_result",
        AbnormalListed = "abnormal_listed",
        CheckAssigned = "check_assigned",
        CheckResult = "check_result",
        SeriesRegular = "series_regular",
    }
}

string_enum! {
    /// One template's outcome in `wx.requestSubscribeMessage`'s answer.
    SubscriptionResult {
        Accept = "accept",
        Reject = "reject",
        Ban = "ban",
        Filter = "filter",
    }
}

string_enum! {
    /// What a subscribe-message template is used for.
    SubscriptionPurpose {
        Reminder = "reminder",
        Signup = "signup",
        Change = "change",
    }
}
