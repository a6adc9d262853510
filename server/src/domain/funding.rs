//! Funding (资金支持): calls for proposals (申报通知) from a community development fund, a
//! welfare-lottery public-welfare fund or the government's purchase of services; an
//! organization's application with its deliverables as numbers and a budget; the funded
//! project's agreement (tranches tied to milestones, at most 3 years) and its progress,
//! computed from the attendance Linli recorded at the activities tagged to it. The policy
//! asks that funds and purchased services be judged by results ("project supervision and
//! evaluation"); these are the rules that make a promise countable.
//!
//! Money is in integer fen; time in whole minutes.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    domain::{
        activity::ActivityKind,
        clock::to_shanghai,
        organization::ServiceTarget,
        rating::{Grade, Indicator, indicator_problems},
    },
    error::FieldError,
};

string_enum! {
    /// Where the money comes from: a community development fund (社区发展基金), the
    /// welfare-lottery public-welfare fund (福彩公益金), or government purchase of services
    /// (政府购买服务).
    Fund {
        CommunityFund = "community_fund",
        LotteryFund = "lottery_fund",
        PurchaseOfServices = "purchase_of_services",
    }
}

string_enum! {
    /// A call's state: `draft → open → decided`; an open call is `closed` to applications
    /// once its window ends (shown, not stored).
    CallStatus {
        Draft = "draft",
        Open = "open",
        Closed = "closed",
        Decided = "decided",
    }
}

string_enum! {
    /// An application's state: `draft → submitted → granted | rejected`, or `withdrawn`
    /// by the organization before a decision.
    ApplicationStatus {
        Draft = "draft",
        Submitted = "submitted",
        Granted = "granted",
        Rejected = "rejected",
        Withdrawn = "withdrawn",
    }
}

string_enum! {
    /// A project's state: `pending_agreement` (granted; the agreement is signed after the
    /// public notice) → `active` → `completed | failed` (by the final evaluation).
    ProjectStatus {
        PendingAgreement = "pending_agreement",
        Active = "active",
        Completed = "completed",
        Failed = "failed",
    }
}

string_enum! {
    /// What a deliverable counts, from the tagged activities' attendance: activities held
    /// (of a kind, or any), distinct participants, service minutes credited, distinct
    /// residents reached at activities for a target group.
    DeliverableKind {
        Activities = "activities",
        Participants = "participants",
        ServiceMinutes = "service_minutes",
        TargetReached = "target_reached",
    }
}

string_enum! {
    /// A mid-term (`midterm`) or `final` evaluation of a project.
    EvaluationKind {
        Midterm = "midterm",
        Final = "final",
    }
}

string_enum! {
    /// What a final evaluation decides: the project is `completed`, or `failed` (with the
    /// money to reclaim).
    Outcome {
        Completed = "completed",
        Failed = "failed",
    }
}

/// One promised result, as a number by a date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Deliverable {
    pub kind: DeliverableKind,
    /// For `activities`: only activities of this kind count (any kind when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_kind: Option<ActivityKind>,
    /// For `target_reached`: the group (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group: Option<ServiceTarget>,
    /// The number promised (activities, people, or minutes), 1–10,000,000.
    pub target: i64,
    /// By when.
    pub due_on: NaiveDate,
}

/// One line of a budget.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BudgetLine {
    /// e.g. 活动材料, 场地, 交通, 志愿者保险 (1–32 characters).
    pub kind: String,
    pub amount_fen: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// An application's proposal in words.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Proposal {
    /// 需求: the need it answers (1–2000 characters).
    pub need: String,
    /// 目标 (1–2000).
    pub goals: String,
    /// 方法 (1–2000).
    pub method: String,
    /// The groups it serves.
    #[serde(default)]
    pub target_groups: Vec<ServiceTarget>,
}

/// Which organizations may apply to a call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CallEligibility {
    /// Not on the abnormal list (活动异常名录).
    #[serde(default)]
    pub not_abnormal: bool,
    /// A current grade (等级评估) at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_grade: Option<Grade>,
}

/// One payment of a project, tied to a milestone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TranchePlan {
    /// Percent of the amount, 1–100; a project's tranches add up to 100.
    pub percent: i32,
    /// The milestone that releases it, e.g. 签约, 中期, 结项 (1–32 characters).
    pub milestone: String,
    /// Released when the agreement is signed (no milestone report needed).
    #[serde(default)]
    pub on_signing: bool,
}

/// The longest a project may run (the policy's purchased services run at most 3 years).
pub const MAX_PROJECT_YEARS: i32 = 3;

/// A deliverable list's problems, by path under `path`.
pub fn deliverable_problems(list: &[Deliverable], path: &str) -> Vec<FieldError> {
    let mut out = Vec::new();
    if list.is_empty() || list.len() > 20 {
        out.push(FieldError::new(path, "count", "可量化的成果须为 1–20 项"));
    }
    for (n, d) in list.iter().enumerate() {
        if !(1..=10_000_000).contains(&d.target) {
            out.push(FieldError::new(format!("{path}.{n}.target"), "range", "目标数须在 1–10000000 之间"));
        }
        if d.kind == DeliverableKind::TargetReached && d.target_group.is_none() {
            out.push(FieldError::new(format!("{path}.{n}.target_group"), "required", "服务对象人数须指明对象"));
        }
        if d.kind != DeliverableKind::TargetReached && d.target_group.is_some() {
            out.push(FieldError::new(format!("{path}.{n}.target_group"), "not_applicable", "只有服务对象人数需要对象"));
        }
        if d.kind != DeliverableKind::Activities && d.activity_kind.is_some() {
            out.push(FieldError::new(
                format!("{path}.{n}.activity_kind"),
                "not_applicable",
                "只有活动场次可限定活动类型",
            ));
        }
    }
    out
}

/// A budget's problems: 1–50 lines, each 1 fen to 100 million yuan, adding up to `amount_fen`.
pub fn budget_problems(lines: &[BudgetLine], amount_fen: i64, path: &str) -> Vec<FieldError> {
    let mut out = Vec::new();
    if lines.is_empty() || lines.len() > 50 {
        out.push(FieldError::new(path, "count", "预算须为 1–50 项"));
    }
    let mut sum: i64 = 0;
    for (n, l) in lines.iter().enumerate() {
        let len = l.kind.trim().chars().count();
        if len == 0 || len > 32 {
            out.push(FieldError::new(format!("{path}.{n}.kind"), "length", "预算科目须为 1–32 个字符"));
        }
        if !(1..=MAX_FEN).contains(&l.amount_fen) {
            out.push(FieldError::new(format!("{path}.{n}.amount_fen"), "range", "金额须为 1 分到 1 亿元"));
        }
        if l.note.as_ref().is_some_and(|t| t.chars().count() > 200) {
            out.push(FieldError::new(format!("{path}.{n}.note"), "length", "说明不超过 200 个字符"));
        }
        sum = sum.saturating_add(l.amount_fen);
    }
    if sum != amount_fen {
        out.push(FieldError::new(path, "sum", format!("预算合计 {sum} 分，与申请金额 {amount_fen} 分不符")));
    }
    out
}

/// The largest sum of money Linli takes, in fen (100 million yuan).
pub const MAX_FEN: i64 = 10_000_000_000;

/// A tranche plan's problems: 1–10 tranches of 1–100 % adding up to 100, each naming its
/// milestone.
pub fn tranche_problems(list: &[TranchePlan], path: &str) -> Vec<FieldError> {
    let mut out = Vec::new();
    if list.is_empty() || list.len() > 10 {
        out.push(FieldError::new(path, "count", "拨付须分 1–10 期"));
    }
    for (n, t) in list.iter().enumerate() {
        if !(1..=100).contains(&t.percent) {
            out.push(FieldError::new(format!("{path}.{n}.percent"), "range", "每期比例须为 1–100"));
        }
        let len = t.milestone.trim().chars().count();
        if len == 0 || len > 32 {
            out.push(FieldError::new(format!("{path}.{n}.milestone"), "length", "节点名称须为 1–32 个字符"));
        }
    }
    let sum: i32 = list.iter().map(|t| t.percent).sum();
    if sum != 100 {
        out.push(FieldError::new(path, "sum", format!("各期比例合计 {sum}%，须为 100%")));
    }
    out
}

/// Each tranche's amount: `percent` of `amount_fen`, rounded down, the last taking the
/// remainder so they add up exactly.
pub fn tranche_amounts(amount_fen: i64, percents: &[i32]) -> Vec<i64> {
    let mut out: Vec<i64> = percents.iter().map(|p| amount_fen * i64::from(*p) / 100).collect();
    let given: i64 = out.iter().sum();
    if let Some(last) = out.last_mut() {
        *last += amount_fen - given;
    }
    out
}

/// Divides `amount_fen` by `weights` (e.g. the percents of the tranches not yet due),
/// rounded down, the last taking the remainder so they add up exactly.
pub fn share(amount_fen: i64, weights: &[i32]) -> Vec<i64> {
    let total: i64 = weights.iter().map(|w| i64::from(*w)).sum();
    if total <= 0 {
        return weights.iter().map(|_| 0).collect();
    }
    let mut out: Vec<i64> = weights.iter().map(|w| amount_fen * i64::from(*w) / total).collect();
    let given: i64 = out.iter().sum();
    if let Some(last) = out.last_mut() {
        *last += amount_fen - given;
    }
    out
}

/// Whether a project period is acceptable: starts no later than it ends, at most
/// [`MAX_PROJECT_YEARS`] long.
pub fn period_ok(starts_on: NaiveDate, ends_on: NaiveDate) -> bool {
    let limit = NaiveDate::from_ymd_opt(starts_on.year() + MAX_PROJECT_YEARS, starts_on.month(), starts_on.day())
        .or_else(|| NaiveDate::from_ymd_opt(starts_on.year() + MAX_PROJECT_YEARS, starts_on.month(), 28));
    starts_on <= ends_on && limit.is_some_and(|l| ends_on < l)
}

/// A rubric's problems (the same indicator tree as ratings).
pub fn rubric_problems(rubric: &[Indicator], path: &str) -> Vec<FieldError> {
    indicator_problems(rubric, path)
}

/// One tagged activity as the progress sees it.
#[derive(Clone, Debug)]
pub struct Evidence {
    pub activity_id: i64,
    pub kind: Option<ActivityKind>,
    pub target_groups: Vec<ServiceTarget>,
    pub starts_at: DateTime<Utc>,
    /// Held (closed after it took place) rather than upcoming or cancelled.
    pub held: bool,
    /// Excluded by the supervisor: it does not count.
    pub excluded: bool,
    /// Attendees and the minutes credited to each.
    pub attendees: Vec<(i64, i64)>,
}

/// Plan against actual for one deliverable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeliverableProgress {
    pub deliverable: Deliverable,
    pub actual: i64,
    /// `actual ÷ target` in percent, rounded down (may pass 100).
    pub percent: i64,
    pub met: bool,
}

/// One month's figures of the counted activities (Asia/Shanghai months).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MonthProgress {
    /// `YYYY-MM`.
    pub month: String,
    pub activities_held: i64,
    /// Distinct participants that month.
    pub participants: i64,
    pub service_minutes: i64,
}

/// The project's figures from its evidence: counted activities are held and not excluded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Progress {
    pub activities_tagged: i64,
    pub activities_held: i64,
    pub activities_excluded: i64,
    /// Distinct participants over all counted activities.
    pub participants: i64,
    pub service_minutes: i64,
    pub deliverables: Vec<DeliverableProgress>,
    pub months: Vec<MonthProgress>,
}

/// Computes plan against actual. Pure: the same evidence gives the same figures.
pub fn progress(plan: &[Deliverable], evidence: &[Evidence]) -> Progress {
    let counted: Vec<&Evidence> = evidence.iter().filter(|e| e.held && !e.excluded).collect();
    let people: BTreeSet<i64> = counted.iter().flat_map(|e| e.attendees.iter().map(|a| a.0)).collect();
    let minutes: i64 = counted.iter().flat_map(|e| e.attendees.iter().map(|a| a.1)).sum();
    let deliverables = plan
        .iter()
        .map(|d| {
            let actual = match d.kind {
                DeliverableKind::Activities => {
                    counted.iter().filter(|e| d.activity_kind.is_none() || e.kind == d.activity_kind).count() as i64
                }
                DeliverableKind::Participants => people.len() as i64,
                DeliverableKind::ServiceMinutes => minutes,
                DeliverableKind::TargetReached => counted
                    .iter()
                    .filter(|e| d.target_group.is_some_and(|g| e.target_groups.contains(&g)))
                    .flat_map(|e| e.attendees.iter().map(|a| a.0))
                    .collect::<BTreeSet<_>>()
                    .len() as i64,
            };
            DeliverableProgress {
                deliverable: d.clone(),
                actual,
                percent: if d.target > 0 { actual * 100 / d.target } else { 0 },
                met: actual >= d.target,
            }
        })
        .collect();
    let mut months: BTreeMap<String, (i64, BTreeSet<i64>, i64)> = BTreeMap::new();
    for e in &counted {
        let m = to_shanghai(e.starts_at).format("%Y-%m").to_string();
        let entry = months.entry(m).or_default();
        entry.0 += 1;
        entry.1.extend(e.attendees.iter().map(|a| a.0));
        entry.2 += e.attendees.iter().map(|a| a.1).sum::<i64>();
    }
    Progress {
        activities_tagged: evidence.len() as i64,
        activities_held: counted.len() as i64,
        activities_excluded: evidence.iter().filter(|e| e.excluded).count() as i64,
        participants: people.len() as i64,
        service_minutes: minutes,
        deliverables,
        months: months
            .into_iter()
            .map(|(month, (held, p, min))| MonthProgress {
                month,
                activities_held: held,
                participants: p.len() as i64,
                service_minutes: min,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default()
    }

    #[test]
    fn tranches_add_up_to_the_amount_and_to_100() {
        assert_eq!(tranche_amounts(100_001, &[40, 30, 30]), vec![40_000, 30_000, 30_001]);
        assert_eq!(tranche_amounts(99, &[33, 33, 34]).iter().sum::<i64>(), 99);
        assert_eq!(share(3_100_000, &[33, 37]), vec![1_461_428, 1_638_572]);
        let plan = |p: &[i32]| {
            p.iter()
                .map(|p| TranchePlan { percent: *p, milestone: "节点".into(), on_signing: false })
                .collect::<Vec<_>>()
        };
        assert!(tranche_problems(&plan(&[40, 30, 30]), "t").is_empty());
        assert_eq!(tranche_problems(&plan(&[40, 30]), "t")[0].code, "sum");
        assert_eq!(tranche_problems(&plan(&[0, 100]), "t")[0].field, "t.0.percent");
    }

    #[test]
    fn periods_run_at_most_three_years() {
        assert!(period_ok(d(2027, 1, 1), d(2029, 12, 31)));
        assert!(!period_ok(d(2027, 1, 1), d(2030, 1, 1)));
        assert!(!period_ok(d(2027, 1, 2), d(2027, 1, 1)));
    }

    #[test]
    fn budgets_add_up_to_the_amount_asked() {
        let lines = vec![
            BudgetLine { kind: "活动材料".into(), amount_fen: 300_000, note: None },
            BudgetLine { kind: "志愿者保险".into(), amount_fen: 200_000, note: None },
        ];
        assert!(budget_problems(&lines, 500_000, "budget").is_empty());
        assert_eq!(budget_problems(&lines, 500_001, "budget")[0].code, "sum");
    }

    #[test]
    fn progress_counts_held_activities_that_were_not_excluded() {
        let t = |day: i64| DateTime::<Utc>::from_timestamp(1_790_000_000 + day * 86_400, 0).unwrap_or_default();
        let ev = |id, kind, groups: Vec<ServiceTarget>, day, held, excluded, attendees: Vec<(i64, i64)>| Evidence {
            activity_id: id,
            kind: Some(kind),
            target_groups: groups,
            starts_at: t(day),
            held,
            excluded,
            attendees,
        };
        use ActivityKind::*;
        use ServiceTarget::*;
        let evidence = vec![
            ev(1, Volunteer, vec![Elderly], 0, true, false, vec![(10, 120), (11, 120)]),
            ev(2, Volunteer, vec![Children], 40, true, false, vec![(11, 60), (12, 60)]),
            ev(3, Charity, vec![Elderly], 41, true, true, vec![(13, 60)]),
            ev(4, Volunteer, vec![Elderly], 90, false, false, vec![]),
        ];
        let plan = vec![
            Deliverable {
                kind: DeliverableKind::Activities,
                activity_kind: Some(Volunteer),
                target_group: None,
                target: 4,
                due_on: d(2027, 6, 30),
            },
            Deliverable {
                kind: DeliverableKind::Participants,
                activity_kind: None,
                target_group: None,
                target: 3,
                due_on: d(2027, 6, 30),
            },
            Deliverable {
                kind: DeliverableKind::ServiceMinutes,
                activity_kind: None,
                target_group: None,
                target: 600,
                due_on: d(2027, 6, 30),
            },
            Deliverable {
                kind: DeliverableKind::TargetReached,
                activity_kind: None,
                target_group: Some(Elderly),
                target: 2,
                due_on: d(2027, 6, 30),
            },
        ];
        let p = progress(&plan, &evidence);
        assert_eq!((p.activities_tagged, p.activities_held, p.activities_excluded), (4, 2, 1));
        assert_eq!((p.participants, p.service_minutes), (3, 360));
        let actual: Vec<(i64, i64, bool)> = p.deliverables.iter().map(|d| (d.actual, d.percent, d.met)).collect();
        assert_eq!(actual, vec![(2, 50, false), (3, 100, true), (360, 60, false), (2, 100, true)]);
        assert_eq!(p.months.len(), 2);
        assert_eq!(p.months.iter().map(|m| m.activities_held).sum::<i64>(), 2);
    }
}
