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
        RatingAssigned = "rating_assigned",
        RatingOpened = "rating_opened",
        RatingNotice = "rating_notice",
        RatingAppealed = "rating_appealed",
        RatingAppealAnswered = "rating_appeal_answered",
        RatingAwarded = "rating_awarded",
        SeriesRegular = "series_regular",
        FundingDecision = "funding_decision",
        ProjectSupervision = "project_supervision",
        ProjectSigned = "project_signed",
        ProjectMilestone = "project_milestone",
        HubMembership = "hub_membership",
        IncubationDecision = "incubation_decision",
        LeaderAppointed = "leader_appointed",
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
