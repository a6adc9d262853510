//! The annual report (年报) of a community social organization: its states, results,
//! content and the rules of its calendar. The policy asks the filing office — the street
//! office for filed organizations, civil affairs for registered ones — to inspect every
//! organization once a year ("年度检查"); an organization whose report is overdue is put
//! on the abnormal list (活动异常名录, see `domain::abnormal`).

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::clock::to_shanghai;

string_enum! {
    /// `draft → submitted → accepted | returned`; a returned report is edited and
    /// submitted again.
    ReportStatus {
        Draft = "draft",
        Submitted = "submitted",
        Accepted = "accepted",
        Returned = "returned",
    }
}

string_enum! {
    /// The reviewer's result of an accepted report: 合格, 基本合格, 不合格.
    ReportResult {
        Pass = "pass",
        BasicPass = "basic_pass",
        Fail = "fail",
    }
}

string_enum! {
    /// Whether the organization has a party organization (党组织): its own branch, a joint
    /// branch with others, a party-building instructor, or none.
    PartyOrganization {
        None = "none",
        OwnBranch = "own_branch",
        JointBranch = "joint_branch",
        Instructor = "instructor",
    }
}

/// What can be done to a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportAction {
    Edit,
    Submit,
    Accept,
    Return,
}

impl ReportStatus {
    /// The state a report moves to, or `None` when the action is not allowed from here.
    pub fn next(self, action: ReportAction) -> Option<ReportStatus> {
        use ReportAction::*;
        use ReportStatus::*;
        match (self, action) {
            (Draft | Returned, Edit) => Some(self),
            (Draft | Returned, Submit) => Some(Submitted),
            (Submitted, Accept) => Some(Accepted),
            (Submitted, Return) => Some(Returned),
            _ => None,
        }
    }

    /// Whether the organization has handed it in (and so is not overdue).
    pub fn handed_in(self) -> bool {
        matches!(self, ReportStatus::Submitted | ReportStatus::Accepted)
    }
}

/// One line of income or expenditure, in fen (1/100 yuan; integers, never floats).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MoneyLine {
    /// e.g. 会费, 社区基金资助, 政府购买服务, 活动支出, 场地, 物资.
    pub kind: String,
    #[schema(minimum = 0)]
    pub amount_fen: i64,
    pub note: Option<String>,
}

/// The figures Linli recorded for the organization over the year, which pre-fill the
/// report: staff holding its roles now, leader changes, activities held, distinct
/// participants, volunteer minutes credited, rooms it booked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Recorded {
    pub staff: i64,
    pub leader_changes: i64,
    pub activities_held: i64,
    pub participants: i64,
    pub volunteer_minutes: i64,
    pub rooms_used: Vec<String>,
}

/// A recorded figure the organization reports differently, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Adjustment {
    /// `staff`, `leader_changes`, `activities_held`, `participants` or `volunteer_minutes`.
    pub field: String,
    pub recorded: i64,
    pub reported: i64,
    pub reason: String,
}

/// What the organization writes. Counts are whole numbers ≥ 0; money in fen.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReportContent {
    /// Members (会员/成员), as the organization counts them.
    pub members: i64,
    pub staff: i64,
    pub leader_changes: i64,
    /// Meetings of its members or council held in the year.
    pub meetings: i64,
    pub activities_held: i64,
    pub participants: i64,
    pub volunteer_minutes: i64,
    pub income: Vec<MoneyLine>,
    pub expenditure: Vec<MoneyLine>,
    pub donations_fen: i64,
    pub rooms_used: Vec<String>,
    #[schema(value_type = PartyOrganization)]
    pub party_organization: String,
    /// 工作总结.
    pub summary: String,
    /// 下一年度工作计划.
    pub plan: String,
    /// Figures reported other than recorded, each with its reason.
    pub adjustments: Vec<Adjustment>,
}

impl ReportContent {
    /// A new report pre-filled from what Linli recorded.
    pub fn prefilled(r: &Recorded) -> Self {
        Self {
            staff: r.staff,
            leader_changes: r.leader_changes,
            activities_held: r.activities_held,
            participants: r.participants,
            volunteer_minutes: r.volunteer_minutes,
            rooms_used: r.rooms_used.clone(),
            party_organization: PartyOrganization::None.as_str().to_owned(),
            ..Default::default()
        }
    }

    /// The recorded figures and what the report says of each.
    fn pairs(&self, r: &Recorded) -> [(&'static str, i64, i64); 5] {
        [
            ("staff", r.staff, self.staff),
            ("leader_changes", r.leader_changes, self.leader_changes),
            ("activities_held", r.activities_held, self.activities_held),
            ("participants", r.participants, self.participants),
            ("volunteer_minutes", r.volunteer_minutes, self.volunteer_minutes),
        ]
    }

    /// Total income and expenditure, in fen.
    pub fn totals(&self) -> (i64, i64) {
        (self.income.iter().map(|l| l.amount_fen).sum(), self.expenditure.iter().map(|l| l.amount_fen).sum())
    }
}

/// Why a report cannot be submitted: the field and a stable code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing {
    pub field: &'static str,
    pub code: &'static str,
}

/// Checks a report before it is submitted: every figure that differs from Linli's record
/// carries an adjustment with a reason (and the adjustment matches the figure); the
/// summary and the plan are written; the party organization is one of the known ones.
/// Returns every problem, not only the first.
pub fn ready_to_submit(content: &ReportContent, recorded: &Recorded) -> Vec<Missing> {
    let mut out = Vec::new();
    for (field, rec, rep) in content.pairs(recorded) {
        if rec != rep {
            let explained = content
                .adjustments
                .iter()
                .any(|a| a.field == field && a.recorded == rec && a.reported == rep && !a.reason.trim().is_empty());
            if !explained {
                out.push(Missing { field, code: "reason_required" });
            }
        }
    }
    if content.summary.trim().is_empty() {
        out.push(Missing { field: "summary", code: "required" });
    }
    if content.plan.trim().is_empty() {
        out.push(Missing { field: "plan", code: "required" });
    }
    if PartyOrganization::parse(&content.party_organization).is_none() {
        out.push(Missing { field: "party_organization", code: "unknown" });
    }
    out
}

/// The due date of year `year`'s report: `(month, day)` of the next year (Asia/Shanghai).
pub fn due_on(year: i32, due: (u32, u32)) -> NaiveDate {
    let next = year.saturating_add(1);
    NaiveDate::from_ymd_opt(next, due.0, due.1).or_else(|| NaiveDate::from_ymd_opt(next, 3, 31)).unwrap_or_default()
}

/// The year whose report is being written at `now`: the last calendar year (reports open
/// on 1 January of the year after).
pub fn open_year(now: DateTime<Utc>) -> i32 {
    to_shanghai(now).year() - 1
}

/// A report of year `year` may exist at `now` only once that year is over.
pub fn is_open(year: i32, now: DateTime<Utc>) -> bool {
    year <= open_year(now)
}

/// The leader is reminded this many days before the due date.
pub const REMINDER_DAYS: [i64; 3] = [30, 7, 1];

/// Whether a report not handed in is overdue on `today`.
pub fn overdue(year: i32, due: (u32, u32), today: NaiveDate) -> bool {
    today > due_on(year, due)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_table() {
        use ReportAction::*;
        use ReportStatus::*;
        assert_eq!(Draft.next(Submit), Some(Submitted));
        assert_eq!(Returned.next(Submit), Some(Submitted));
        assert_eq!(Submitted.next(Accept), Some(Accepted));
        assert_eq!(Submitted.next(Return), Some(Returned));
        assert_eq!(Submitted.next(Edit), None, "a submitted report is not edited");
        assert_eq!(Accepted.next(Return), None, "an accepted report is final");
        assert_eq!(Draft.next(Accept), None);
        assert!(Submitted.handed_in() && Accepted.handed_in() && !Returned.handed_in());
    }

    #[test]
    fn a_figure_other_than_recorded_needs_its_reason() {
        let rec = Recorded { activities_held: 12, participants: 80, ..Default::default() };
        let mut c = ReportContent::prefilled(&rec);
        c.summary = "全年开展助老活动".into();
        c.plan = "明年继续".into();
        assert_eq!(ready_to_submit(&c, &rec), vec![]);
        c.activities_held = 15;
        assert_eq!(ready_to_submit(&c, &rec), vec![Missing { field: "activities_held", code: "reason_required" }]);
        c.adjustments.push(Adjustment {
            field: "activities_held".into(),
            recorded: 12,
            reported: 15,
            reason: "3 场线下活动未在平台登记".into(),
        });
        assert_eq!(ready_to_submit(&c, &rec), vec![]);
        c.summary = " ".into();
        c.party_organization = "cell".into();
        let missing: Vec<_> = ready_to_submit(&c, &rec).into_iter().map(|m| m.field).collect();
        assert_eq!(missing, ["summary", "party_organization"]);
    }

    #[test]
    fn due_dates_and_open_years() {
        assert_eq!(due_on(2025, (3, 31)), NaiveDate::from_ymd_opt(2026, 3, 31).unwrap_or_default());
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap_or_default();
        assert!(!overdue(2025, (3, 31), d(3, 31)));
        assert!(overdue(2025, (3, 31), d(4, 1)));
        let new_year_shanghai = DateTime::parse_from_rfc3339("2026-01-01T00:00:00+08:00")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        assert_eq!(open_year(new_year_shanghai), 2025);
        assert!(is_open(2025, new_year_shanghai) && !is_open(2026, new_year_shanghai));
    }
}
