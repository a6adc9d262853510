//! Organizations: the vocabulary, the filing state machine, and the checks on what
//! an applicant types.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

string_enum! {
    /// What an organization does (the policy's six kinds).
    Category {
        Charity = "charity",
        CommunityService = "community_service",
        CultureSports = "culture_sports",
        MutualAid = "mutual_aid",
        RuralProduction = "rural_production",
        SocialWork = "social_work",
    }
}

string_enum! {
    /// People an organization or activity serves. An attribute of organizations and
    /// activities, never a label stored on a resident.
    ServiceTarget {
        Elderly = "elderly",
        Women = "women",
        Children = "children",
        Youth = "youth",
        Disabled = "disabled",
        Unemployed = "unemployed",
        MigrantWorkers = "migrant_workers",
        FamiliesInDifficulty = "families_in_difficulty",
        Rehabilitation = "rehabilitation",
        LeftBehind = "left_behind",
        Veterans = "veterans",
        AllResidents = "all_residents",
    }
}

string_enum! {
    /// Where an organization is in its life. `withdrawn`: the applicant withdrew (today:
    /// deleted their account) before it was filed.
    OrgStatus {
        PendingConsent = "pending_consent",
        PendingFiling = "pending_filing",
        Rejected = "rejected",
        Filed = "filed",
        Registered = "registered",
        Suspended = "suspended",
        Dissolved = "dissolved",
        Withdrawn = "withdrawn",
    }
}

impl Category {
    /// The category as the console, the exports and officials name it (one list for all).
    pub fn zh(self) -> &'static str {
        match self {
            Category::Charity => "公益慈善",
            Category::CommunityService => "社区服务",
            Category::CultureSports => "文体活动",
            Category::MutualAid => "居民互助",
            Category::RuralProduction => "农村生产技术服务",
            Category::SocialWork => "社会工作服务",
        }
    }
}

impl OrgStatus {
    /// The status as officials and applicants read it (the console, error messages).
    pub fn zh(self) -> &'static str {
        match self {
            OrgStatus::PendingConsent => "待社区同意",
            OrgStatus::PendingFiling => "待街道备案",
            OrgStatus::Rejected => "已驳回",
            OrgStatus::Filed => "已备案",
            OrgStatus::Registered => "已登记",
            OrgStatus::Suspended => "已暂停",
            OrgStatus::Dissolved => "已注销",
            OrgStatus::Withdrawn => "已撤回",
        }
    }
}

string_enum! {
    /// How an organization is recognised: filed (备案) by the street office, or
    /// registered (登记) by county civil affairs with a unified social credit code.
    Standing {
        Filed = "filed",
        Registered = "registered",
    }
}

string_enum! {
    /// A step in an organization's history, as shown in `history`.
    OrgEventAction {
        Submitted = "submitted",
        Consented = "consented",
        ConsentRefused = "consent_refused",
        Filed = "filed",
        FilingRefused = "filing_refused",
        Resubmitted = "resubmitted",
        Registered = "registered",
        Suspended = "suspended",
        Reinstated = "reinstated",
        Dissolved = "dissolved",
        LeaderTransferred = "leader_transferred",
        ProfileUpdated = "profile_updated",
        StaffAdded = "staff_added",
        StaffRemoved = "staff_removed",
        HubStaffAdded = "hub_staff_added",
        Renamed = "renamed",
        LeaderAppointed = "leader_appointed",
        ModerationReview = "moderation_review",
        Withdrawn = "withdrawn",
        LeaderAdded = "leader_added",
    }
}

impl OrgStatus {
    /// Shown in browse and open to everyone.
    pub fn is_recognised(self) -> bool {
        matches!(self, OrgStatus::Filed | OrgStatus::Registered)
    }

    /// An application still in review, or sent back.
    pub fn is_application(self) -> bool {
        matches!(self, OrgStatus::PendingConsent | OrgStatus::PendingFiling | OrgStatus::Rejected)
    }
}

/// Which review a reviewer performs: the committee's consent or the street's filing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewStep {
    Consent,
    Filing,
}

impl ReviewStep {
    /// The step an application in `status` waits for, if any.
    pub fn awaited_by(status: OrgStatus) -> Option<ReviewStep> {
        match status {
            OrgStatus::PendingConsent => Some(ReviewStep::Consent),
            OrgStatus::PendingFiling => Some(ReviewStep::Filing),
            _ => None,
        }
    }

    /// The status after this step approves; rejection always goes to `rejected`.
    pub fn approved(self) -> OrgStatus {
        match self {
            ReviewStep::Consent => OrgStatus::PendingFiling,
            ReviewStep::Filing => OrgStatus::Filed,
        }
    }

    pub fn event(self, approve: bool) -> &'static str {
        match (self, approve) {
            (ReviewStep::Consent, true) => "consented",
            (ReviewStep::Consent, false) => "consent_refused",
            (ReviewStep::Filing, true) => "filed",
            (ReviewStep::Filing, false) => "filing_refused",
        }
    }
}

/// A street's or civil affairs' action on a recognised organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusAction {
    Suspend,
    Reinstate,
    Dissolve,
}

impl StatusAction {
    /// The next status, or `None` when the action does not apply to `status`.
    pub fn apply(self, status: OrgStatus, standing: Standing) -> Option<OrgStatus> {
        match (self, status) {
            (StatusAction::Suspend, OrgStatus::Filed | OrgStatus::Registered) => Some(OrgStatus::Suspended),
            (StatusAction::Reinstate, OrgStatus::Suspended) => Some(match standing {
                Standing::Filed => OrgStatus::Filed,
                Standing::Registered => OrgStatus::Registered,
            }),
            (StatusAction::Dissolve, OrgStatus::Filed | OrgStatus::Registered | OrgStatus::Suspended) => {
                Some(OrgStatus::Dissolved)
            }
            _ => None,
        }
    }

    pub fn event(self) -> &'static str {
        match self {
            StatusAction::Suspend => "suspended",
            StatusAction::Reinstate => "reinstated",
            StatusAction::Dissolve => "dissolved",
        }
    }
}

/// The unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters from
/// a 31-character alphabet, the last a check character over the first 17.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreditCode(String);

const USCC_ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

impl CreditCode {
    pub fn parse(input: &str) -> Option<Self> {
        let code = input.trim().to_ascii_uppercase();
        let values: Vec<u32> =
            code.chars().map(|c| USCC_ALPHABET.find(c).map(|i| i as u32)).collect::<Option<Vec<_>>>()?;
        if values.len() != 18 {
            return None;
        }
        let sum: u32 = values[..17].iter().zip(USCC_WEIGHTS).map(|(v, w)| v * w).sum();
        let check = (31 - sum % 31) % 31;
        (values[17] == check).then_some(CreditCode(code))
    }

    /// The check character that completes 17 characters (for tests and seed data).
    pub fn check_char(first17: &str) -> Option<char> {
        let values: Vec<u32> =
            first17.chars().map(|c| USCC_ALPHABET.find(c).map(|i| i as u32)).collect::<Option<_>>()?;
        if values.len() != 17 {
            return None;
        }
        let sum: u32 = values.iter().zip(USCC_WEIGHTS).map(|(v, w)| v * w).sum();
        USCC_ALPHABET.chars().nth(((31 - sum % 31) % 31) as usize)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A mainland mobile (11 digits starting 1) or a landline (digits and one hyphen), as
/// people type it: full-width digits and signs are read as ASCII (NFKC), spaces of any
/// kind, invisible characters, hyphens and parentheses ignored. Written with the country
/// code (`+86`, `0086`) it is the same number: the code goes, and a landline gets back its
/// trunk `0` (ITU-T E.164).
pub fn parse_phone(input: &str) -> Option<String> {
    use unicode_normalization::UnicodeNormalization;
    let p: String = crate::domain::text::normalize(input)
        .nfkc()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '(' | ')' | '\u{200b}' | '\u{2060}' | '\u{feff}'))
        .collect();
    let p = match p.strip_prefix("+86").or_else(|| p.strip_prefix("0086")) {
        Some(national) if national.starts_with('1') || national.starts_with('0') => national.to_owned(),
        Some(national) => format!("0{national}"),
        None => p,
    };
    let mobile = p.len() == 11 && p.starts_with('1') && p.chars().all(|c| c.is_ascii_digit());
    let landline = (7..=12).contains(&p.len()) && p.starts_with('0') && p.chars().all(|c| c.is_ascii_digit());
    (mobile || landline).then_some(p)
}

/// `13812345678` → `138****5678`; shorter numbers keep only their last 4 digits.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() >= 11 {
        format!("{}****{}", chars[..3].iter().collect::<String>(), chars[chars.len() - 4..].iter().collect::<String>())
    } else if chars.len() > 4 {
        format!("{}{}", "*".repeat(chars.len() - 4), chars[chars.len() - 4..].iter().collect::<String>())
    } else {
        "****".into()
    }
}

pub fn valid_latitude(v: f64) -> bool {
    v.is_finite() && (-90.0..=90.0).contains(&v)
}

pub fn valid_longitude(v: f64) -> bool {
    v.is_finite() && (-180.0..=180.0).contains(&v)
}

/// Great-circle distance in metres.
pub fn distance_m(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    let r = 6_371_000.0_f64;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lng2 - lng1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * r * a.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabularies_round_trip() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(*c));
        }
        assert_eq!(Category::ALL.len(), 6);
        assert_eq!(ServiceTarget::parse("migrant_workers"), Some(ServiceTarget::MigrantWorkers));
        assert_eq!(ServiceTarget::parse("vip"), None);
    }

    #[test]
    fn the_filing_path_runs_consent_then_filing() {
        let step = ReviewStep::awaited_by(OrgStatus::PendingConsent);
        assert_eq!(step, Some(ReviewStep::Consent));
        assert_eq!(ReviewStep::Consent.approved(), OrgStatus::PendingFiling);
        assert_eq!(ReviewStep::awaited_by(OrgStatus::PendingFiling), Some(ReviewStep::Filing));
        assert_eq!(ReviewStep::Filing.approved(), OrgStatus::Filed);
        assert_eq!(ReviewStep::awaited_by(OrgStatus::Filed), None);
        assert_eq!(ReviewStep::awaited_by(OrgStatus::Rejected), None);
    }

    #[test]
    fn status_actions_apply_only_where_they_make_sense() {
        use StatusAction::*;
        assert_eq!(Suspend.apply(OrgStatus::Filed, Standing::Filed), Some(OrgStatus::Suspended));
        assert_eq!(Reinstate.apply(OrgStatus::Suspended, Standing::Registered), Some(OrgStatus::Registered));
        assert_eq!(Reinstate.apply(OrgStatus::Filed, Standing::Filed), None);
        assert_eq!(Dissolve.apply(OrgStatus::Suspended, Standing::Filed), Some(OrgStatus::Dissolved));
        assert_eq!(Suspend.apply(OrgStatus::PendingConsent, Standing::Filed), None);
        assert_eq!(Dissolve.apply(OrgStatus::Dissolved, Standing::Filed), None);
    }

    #[test]
    fn credit_codes_are_checked_by_their_check_character() {
        // A published example code.
        assert!(CreditCode::parse("91350100M000100Y43").is_some());
        assert!(CreditCode::parse("91350100m000100y43").is_some(), "lower case is accepted");
        assert!(CreditCode::parse("91350100M000100Y44").is_none(), "wrong check character");
        assert!(CreditCode::parse("91350100M000100Y4").is_none(), "17 characters");
        assert!(CreditCode::parse("91350100I000100Y43").is_none(), "I is not in the alphabet");
        let first17 = "53620102MJX000001";
        let check = CreditCode::check_char(first17).unwrap_or('?');
        assert!(CreditCode::parse(&format!("{first17}{check}")).is_some());
    }

    #[test]
    fn phones_are_parsed_and_masked() {
        assert_eq!(parse_phone("138 1234 5678").as_deref(), Some("13812345678"));
        assert_eq!(parse_phone("0931-8888888").as_deref(), Some("09318888888"));
        assert_eq!(parse_phone("+86 138 1234 5678").as_deref(), Some("13812345678"));
        assert_eq!(parse_phone("0086-13812345678").as_deref(), Some("13812345678"));
        assert_eq!(parse_phone("+86 931 8888888").as_deref(), Some("09318888888"), "the trunk 0 comes back");
        assert!(parse_phone("+8612345").is_none());
        assert_eq!(parse_phone("(+86) 138 1234 5678").as_deref(), Some("13812345678"));
        assert_eq!(parse_phone("１３８\u{3000}１２３４\u{a0}５６７８").as_deref(), Some("13812345678"));
        assert_eq!(parse_phone("\u{200b}13812345678").as_deref(), Some("13812345678"));
        assert!(parse_phone("12345").is_none());
        assert!(parse_phone("1381234567a").is_none());
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("8888888"), "***8888");
    }

    #[test]
    fn distances_are_in_metres() {
        assert!(distance_m(36.0, 103.8, 36.0, 103.8) < 0.001);
        let d = distance_m(36.0611, 103.8262, 36.0583, 103.8380);
        assert!((1000.0..1200.0).contains(&d), "{d}");
        assert!(valid_latitude(36.0) && !valid_latitude(123.0) && !valid_latitude(f64::NAN));
        assert!(valid_longitude(-180.0) && !valid_longitude(180.5));
    }
}
