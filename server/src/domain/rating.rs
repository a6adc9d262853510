//! Ratings (等级评估): a rating scheme is data — a tree of indicators with maximum points
//! (only leaves are scored), grade bands, how long a grade is valid, the public notice
//! period (公示) and eligibility rules. The policy asks civil affairs to guide community
//! organizations "through random checks, annual inspection, rating and enforcement"; the
//! default scheme below follows the common 1000-point community-organization standard
//! (basic conditions, internal governance, work performance, social evaluation; 5A ≥ 950,
//! 4A ≥ 900, 3A ≥ 850, 2A ≥ 800, 1A ≥ 750; valid 5 years).
//!
//! Points are whole numbers per assessor; a leaf's score is the mean of its assessors'
//! scores and totals are kept in tenths of a point (integers, no floats), rounded half up.

use std::collections::HashSet;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    domain::{annual_report::ReportResult, clock::to_shanghai},
    error::FieldError,
};

/// A grade (等级), lowest to highest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
pub enum Grade {
    #[serde(rename = "1A")]
    A1,
    #[serde(rename = "2A")]
    A2,
    #[serde(rename = "3A")]
    A3,
    #[serde(rename = "4A")]
    A4,
    #[serde(rename = "5A")]
    A5,
}

impl Grade {
    pub const ALL: &'static [Grade] = &[Grade::A1, Grade::A2, Grade::A3, Grade::A4, Grade::A5];

    pub fn as_str(self) -> &'static str {
        match self {
            Grade::A1 => "1A",
            Grade::A2 => "2A",
            Grade::A3 => "3A",
            Grade::A4 => "4A",
            Grade::A5 => "5A",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|g| g.as_str() == s)
    }
}

string_enum! {
    /// Where a leaf's score comes from: the panel, or residents' satisfaction scores
    /// (the mean of 1–5 scores scaled to the leaf's maximum, when enough residents scored;
    /// otherwise the panel scores it).
    ScoreSource {
        Panel = "panel",
        Satisfaction = "satisfaction",
    }
}

/// One indicator: a group (with `children`, whose maxima add up to its own) or a leaf.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Indicator {
    /// Stable within the scheme, e.g. `gov.finance` (letters, digits, `.`, `_`, `-`; ≤ 64).
    pub code: String,
    pub name: String,
    /// Maximum points.
    pub max: u32,
    /// Leaves only; `panel` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ScoreSource>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub children: Vec<Indicator>,
}

/// The lowest total (in points) that earns `grade`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Band {
    pub grade: Grade,
    pub min_points: u32,
}

/// Who may be assessed (checked and explained before an assessment opens).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EligibilityRules {
    /// Filed (备案) or registered at least this many years.
    pub min_years: u32,
    /// Last year's annual report (年报) must not have failed.
    pub no_fail_last_year: bool,
    /// The last two annual reports must not both be `basic_pass`.
    pub no_repeated_basic_pass: bool,
    /// Not on the abnormal list (活动异常名录).
    pub not_abnormal: bool,
}

/// A scheme's content: everything an assessment freezes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SchemeContent {
    /// The top-level indicators; their maxima add up to the scheme's total.
    pub indicators: Vec<Indicator>,
    /// One band per grade used, highest first.
    pub bands: Vec<Band>,
    /// Years a grade is valid from its award (1–10).
    pub validity_years: u32,
    /// Days of public notice (公示) before the award, in which the organization may appeal
    /// once (1–30).
    pub notice_days: u32,
    /// Residents' satisfaction scores needed before a `satisfaction` leaf is scored from
    /// them (1–1000).
    pub min_satisfaction_responses: u32,
    pub eligibility: EligibilityRules,
}

fn leaf(code: &str, name: &str, max: u32) -> Indicator {
    Indicator { code: code.into(), name: name.into(), max, source: None, children: vec![] }
}

fn group(code: &str, name: &str, children: Vec<Indicator>) -> Indicator {
    let max = children.iter().map(|c| c.max).sum();
    Indicator { code: code.into(), name: name.into(), max, source: None, children }
}

/// The default scheme for community social organizations (社区社会组织等级评估), 1000 points.
pub fn default_scheme() -> SchemeContent {
    SchemeContent {
        indicators: vec![
            group(
                "basic",
                "基础条件",
                vec![
                    leaf("basic.standing", "备案或登记手续齐全", 30),
                    leaf("basic.charter", "章程或活动规则", 25),
                    leaf("basic.venue", "活动场所", 20),
                    leaf("basic.funds", "经费来源", 25),
                ],
            ),
            group(
                "governance",
                "内部治理",
                vec![
                    leaf("governance.structure", "组织机构与负责人", 60),
                    leaf("governance.meetings", "会议与民主决策", 50),
                    leaf("governance.finance", "财务管理", 70),
                    leaf("governance.records", "档案与信息公开", 40),
                    leaf("governance.party", "党建工作", 40),
                    leaf("governance.annual_report", "年报报送", 40),
                ],
            ),
            group(
                "performance",
                "工作绩效",
                vec![
                    leaf("performance.activities", "活动开展", 120),
                    leaf("performance.volunteering", "志愿服务", 80),
                    leaf("performance.priority_groups", "服务老年人、儿童等重点人群", 100),
                    leaf("performance.projects", "项目与公益创投", 60),
                    leaf("performance.innovation", "特色与创新", 40),
                ],
            ),
            group(
                "social",
                "社会评价",
                vec![
                    Indicator {
                        source: Some(ScoreSource::Satisfaction),
                        ..leaf("social.satisfaction", "居民满意度", 100)
                    },
                    leaf("social.committee", "社区居（村）委会评价", 60),
                    leaf("social.honours", "表彰与宣传", 40),
                ],
            ),
        ],
        bands: vec![
            Band { grade: Grade::A5, min_points: 950 },
            Band { grade: Grade::A4, min_points: 900 },
            Band { grade: Grade::A3, min_points: 850 },
            Band { grade: Grade::A2, min_points: 800 },
            Band { grade: Grade::A1, min_points: 750 },
        ],
        validity_years: 5,
        notice_days: 7,
        min_satisfaction_responses: 5,
        eligibility: EligibilityRules {
            min_years: 2,
            no_fail_last_year: true,
            no_repeated_basic_pass: true,
            not_abnormal: true,
        },
    }
}

impl SchemeContent {
    /// The scored leaves, depth first.
    pub fn leaves(&self) -> Vec<&Indicator> {
        leaves_of(&self.indicators)
    }

    /// The scheme's total points.
    pub fn total(&self) -> u32 {
        self.indicators.iter().map(|i| i.max).sum()
    }

    /// The grade a total (tenths of a point) earns by the bands, if any.
    pub fn grade_for(&self, total_tenths: i64) -> Option<Grade> {
        self.bands.iter().filter(|b| total_tenths >= i64::from(b.min_points) * 10).map(|b| b.grade).max()
    }

    /// Every problem with the scheme, field by field (`indicators.2.children.0.max`…):
    /// empty or duplicate codes, a group whose children's maxima do not add up, bands not
    /// strictly descending or above the total, a grade twice, validity outside 1–10
    /// years, notice outside 1–30 days.
    pub fn problems(&self) -> Vec<FieldError> {
        let mut out = indicator_problems(&self.indicators, "content.indicators");
        let satisfaction = self.leaves().into_iter().filter(|l| l.source == Some(ScoreSource::Satisfaction)).count();
        if satisfaction > 1 {
            out.push(FieldError::new("content.indicators", "satisfaction_twice", "居民满意度只能计入一个末级指标"));
        }
        let total = self.total();
        if self.bands.is_empty() {
            out.push(FieldError::new("content.bands", "required", "至少需要一个等级分数线"));
        }
        let mut seen = HashSet::new();
        for (n, b) in self.bands.iter().enumerate() {
            if !seen.insert(b.grade) {
                out.push(FieldError::new(format!("content.bands.{n}.grade"), "duplicate", "同一等级只能有一条分数线"));
            }
            if b.min_points == 0 || b.min_points > total {
                out.push(FieldError::new(
                    format!("content.bands.{n}.min_points"),
                    "range",
                    format!("分数线须在 1 到总分 {total} 之间"),
                ));
            }
            if n > 0 {
                let prev = &self.bands[n - 1];
                if b.min_points >= prev.min_points || b.grade >= prev.grade {
                    out.push(FieldError::new(
                        format!("content.bands.{n}"),
                        "order",
                        "分数线须按等级从高到低、分数严格递减排列",
                    ));
                }
            }
        }
        if !(1..=10).contains(&self.validity_years) {
            out.push(FieldError::new("content.validity_years", "range", "有效期须为 1–10 年"));
        }
        if !(1..=30).contains(&self.notice_days) {
            out.push(FieldError::new("content.notice_days", "range", "公示期须为 1–30 天"));
        }
        if !(1..=1000).contains(&self.min_satisfaction_responses) {
            out.push(FieldError::new("content.min_satisfaction_responses", "range", "满意度最少人数须为 1–1000"));
        }
        if self.eligibility.min_years > 20 {
            out.push(FieldError::new("content.eligibility.min_years", "range", "成立年限要求不超过 20 年"));
        }
        out
    }
}

/// Every problem of an indicator tree, named by path under `path` (`{path}.0.max`…): empty
/// or duplicate codes, names, maxima outside 1–10000, a group whose children's maxima do
/// not add up, more than 4 levels or 200 leaves. Shared by rating schemes and funding
/// calls' review rubrics.
pub fn indicator_problems(indicators: &[Indicator], path: &str) -> Vec<FieldError> {
    let mut out = Vec::new();
    let mut codes = HashSet::new();
    fn walk(v: &[Indicator], path: &str, depth: usize, codes: &mut HashSet<String>, out: &mut Vec<FieldError>) {
        for (n, i) in v.iter().enumerate() {
            let at = format!("{path}.{n}");
            let code_ok = !i.code.is_empty()
                && i.code.len() <= 64
                && i.code.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !code_ok {
                out.push(FieldError::new(format!("{at}.code"), "format", "指标编码须为 1–64 个字母、数字或 . _ -"));
            } else if !codes.insert(i.code.clone()) {
                out.push(FieldError::new(format!("{at}.code"), "duplicate", format!("指标编码 {} 重复", i.code)));
            }
            let name_len = i.name.trim().chars().count();
            if name_len == 0 || name_len > 64 {
                out.push(FieldError::new(format!("{at}.name"), "length", "指标名称须为 1–64 个字符"));
            }
            if i.max == 0 || i.max > 10_000 {
                out.push(FieldError::new(format!("{at}.max"), "range", "指标分值须在 1–10000 之间"));
            }
            if !i.children.is_empty() {
                if i.source.is_some() {
                    out.push(FieldError::new(format!("{at}.source"), "not_leaf", "只有末级指标有评分来源"));
                }
                let sum: u32 = i.children.iter().map(|c| c.max).sum();
                if sum != i.max {
                    out.push(FieldError::new(
                        format!("{at}.max"),
                        "sum",
                        format!("下级指标分值之和为 {sum}，与本指标分值 {} 不符", i.max),
                    ));
                }
                if depth >= 4 {
                    out.push(FieldError::new(format!("{at}.children"), "depth", "指标最多 4 级"));
                } else {
                    walk(&i.children, &format!("{at}.children"), depth + 1, codes, out);
                }
            }
        }
    }
    if indicators.is_empty() {
        out.push(FieldError::new(path, "required", "至少需要一个指标"));
    }
    walk(indicators, path, 1, &mut codes, &mut out);
    if leaves_of(indicators).len() > 200 {
        out.push(FieldError::new(path, "too_many", "末级指标不超过 200 个"));
    }
    out
}

/// The scored leaves of an indicator tree, depth first.
pub fn leaves_of(indicators: &[Indicator]) -> Vec<&Indicator> {
    fn walk<'a>(v: &'a [Indicator], out: &mut Vec<&'a Indicator>) {
        for i in v {
            if i.children.is_empty() {
                out.push(i);
            } else {
                walk(&i.children, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(indicators, &mut out);
    out
}

/// Problems of a batch of scores against a tree's leaves (`(code, max)`): 1–200 scores,
/// each of a leaf, 0–max, a note of at most 500 characters. Shared by rating panels and
/// funding reviewers.
pub fn mark_problems(leaves: &[(&str, u32)], marks: &[(String, i64, Option<String>)]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if marks.is_empty() || marks.len() > 200 {
        errors.push(FieldError::new("scores", "count", "每次提交 1–200 项评分"));
    }
    let mut seen = HashSet::new();
    for (n, (indicator, score, note)) in marks.iter().enumerate() {
        if !seen.insert(indicator.as_str()) {
            errors.push(FieldError::new(format!("scores.{n}.indicator"), "duplicate", format!("{indicator} 重复评分")));
        }
        match leaves.iter().find(|l| l.0 == indicator) {
            None => errors.push(FieldError::new(
                format!("scores.{n}.indicator"),
                "unknown_indicator",
                format!("{indicator} 不是末级指标"),
            )),
            Some((_, max)) if *score < 0 || *score > i64::from(*max) => errors.push(FieldError::new(
                format!("scores.{n}.score"),
                "range",
                format!("{indicator} 的得分须在 0–{max} 之间"),
            )),
            Some(_) => {}
        }
        if note.as_ref().is_some_and(|t| t.chars().count() > 500) {
            errors.push(FieldError::new(format!("scores.{n}.note"), "length", "评分说明不超过 500 个字符"));
        }
    }
    errors
}

/// A leaf's score in tenths of a point: the mean of its assessors' scores, half up.
pub fn mean_tenths(scores: &[u32]) -> i64 {
    if scores.is_empty() {
        return 0;
    }
    let sum: i64 = scores.iter().map(|s| i64::from(*s)).sum();
    let n = scores.len() as i64;
    (sum * 20 + n) / (2 * n)
}

/// A `satisfaction` leaf's score in tenths of a point: `max × mean / 5` of residents'
/// 1–5 scores, half up.
pub fn satisfaction_tenths(max: u32, sum: i64, count: i64) -> i64 {
    if count <= 0 {
        return 0;
    }
    let num = i64::from(max) * sum * 10;
    let den = 5 * count;
    (num * 2 + den) / (2 * den)
}

/// What the eligibility rules look at.
#[derive(Clone, Debug)]
pub struct EligibilityFacts {
    pub filed_at: Option<DateTime<Utc>>,
    /// Results of the annual reports of last year and the year before (`None`: none accepted).
    pub last_year: Option<ReportResult>,
    pub year_before: Option<ReportResult>,
    pub on_abnormal_list: bool,
    pub active: bool,
}

/// One rule checked for one organization, with the reason in words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EligibilityCheck {
    /// `active`, `min_years`, `no_fail_last_year`, `no_repeated_basic_pass`, `not_abnormal`.
    pub rule: String,
    pub passed: bool,
    pub detail: String,
}

/// Checks every rule at `now` (years counted in Asia/Shanghai dates); an organization is
/// eligible when all pass.
pub fn check_eligibility(rules: &EligibilityRules, f: &EligibilityFacts, now: DateTime<Utc>) -> Vec<EligibilityCheck> {
    let mut out = vec![EligibilityCheck {
        rule: "active".into(),
        passed: f.active,
        detail: if f.active {
            "已备案或登记，正常活动".into()
        } else {
            "组织未处于备案或登记状态".into()
        },
    }];
    if rules.min_years > 0 {
        let today = to_shanghai(now).date_naive();
        let since = f.filed_at.map(|t| to_shanghai(t).date_naive());
        let passed = since.is_some_and(|d| years_between(d, today) >= rules.min_years);
        out.push(EligibilityCheck {
            rule: "min_years".into(),
            passed,
            detail: match since {
                Some(d) => format!("{} 备案，须满 {} 年", d.format("%Y-%m-%d"), rules.min_years),
                None => "尚未备案或登记".into(),
            },
        });
    }
    if rules.no_fail_last_year {
        let passed = f.last_year != Some(ReportResult::Fail);
        out.push(EligibilityCheck {
            rule: "no_fail_last_year".into(),
            passed,
            detail: if passed {
                "上一年度年报未被评为不合格".into()
            } else {
                "上一年度年报不合格".into()
            },
        });
    }
    if rules.no_repeated_basic_pass {
        let passed = !(f.last_year == Some(ReportResult::BasicPass) && f.year_before == Some(ReportResult::BasicPass));
        out.push(EligibilityCheck {
            rule: "no_repeated_basic_pass".into(),
            passed,
            detail: if passed {
                "近两年年报未连续基本合格".into()
            } else {
                "近两年年报连续基本合格".into()
            },
        });
    }
    if rules.not_abnormal {
        out.push(EligibilityCheck {
            rule: "not_abnormal".into(),
            passed: !f.on_abnormal_list,
            detail: if f.on_abnormal_list {
                "在活动异常名录中".into()
            } else {
                "不在活动异常名录中".into()
            },
        });
    }
    out
}

/// Whole years from `from` to `to` (a 29 February anniversary falls on 28 February).
pub fn years_between(from: NaiveDate, to: NaiveDate) -> u32 {
    let mut years = to.year() - from.year();
    if (to.month(), to.day()) < (from.month(), from.day()) {
        years -= 1;
    }
    years.max(0) as u32
}

/// The last day a grade awarded on `awarded_on` is valid.
pub fn valid_until(awarded_on: NaiveDate, years: u32) -> NaiveDate {
    let y = awarded_on.year() + years as i32;
    NaiveDate::from_ymd_opt(y, awarded_on.month(), awarded_on.day())
        .or_else(|| NaiveDate::from_ymd_opt(y, awarded_on.month(), 28))
        .unwrap_or(awarded_on)
        .pred_opt()
        .unwrap_or(awarded_on)
}

string_enum! {
    /// An assessment's state: the panel scores (`scoring`), the result is on public notice
    /// (`notice`, 公示), the organization appealed (`appealed`), then the grade is
    /// `awarded` — or `not_graded` when the total is below every band — or the assessment
    /// is `withdrawn` by civil affairs with a reason.
    AssessmentStatus {
        Scoring = "scoring",
        Notice = "notice",
        Appealed = "appealed",
        Awarded = "awarded",
        NotGraded = "not_graded",
        Withdrawn = "withdrawn",
    }
}

impl AssessmentStatus {
    /// Still under way (one at a time per organization).
    pub fn open(self) -> bool {
        matches!(self, Self::Scoring | Self::Notice | Self::Appealed)
    }
}

string_enum! {
    /// Civil affairs' answer to an appeal: score again (the panel rescores, then a new
    /// notice period), or dismiss it (the notice runs on to the award).
    AppealDecision {
        Rescore = "rescore",
        Dismiss = "dismiss",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_scheme_is_valid_and_totals_1000() {
        let s = default_scheme();
        assert_eq!(s.problems(), vec![]);
        assert_eq!(s.total(), 1000);
        assert_eq!(s.leaves().len(), 18);
        assert_eq!(s.grade_for(9500), Some(Grade::A5));
        assert_eq!(s.grade_for(9499), Some(Grade::A4));
        assert_eq!(s.grade_for(9000), Some(Grade::A4));
        assert_eq!(s.grade_for(7500), Some(Grade::A1));
        assert_eq!(s.grade_for(7499), None);
    }

    #[test]
    fn problems_name_each_field() {
        let mut s = default_scheme();
        s.indicators[0].children[0].max = 31;
        s.indicators[1].children[1].code = "basic.charter".into();
        s.bands[1].min_points = 960;
        s.validity_years = 0;
        s.indicators[3].children[1].source = Some(ScoreSource::Satisfaction);
        let fields: Vec<String> = s.problems().into_iter().map(|e| format!("{}:{}", e.field, e.code)).collect();
        assert!(fields.contains(&"content.indicators.0.max:sum".to_owned()), "{fields:?}");
        assert!(fields.contains(&"content.indicators.1.children.1.code:duplicate".to_owned()), "{fields:?}");
        assert!(fields.contains(&"content.bands.1:order".to_owned()), "{fields:?}");
        assert!(fields.contains(&"content.validity_years:range".to_owned()), "{fields:?}");
        assert!(fields.contains(&"content.indicators:satisfaction_twice".to_owned()), "{fields:?}");
        let marks = vec![("basic.venue".to_owned(), 10, None), ("basic.venue".to_owned(), 12, None)];
        let dup = mark_problems(&[("basic.venue", 20)], &marks);
        assert_eq!((dup.len(), dup[0].field.as_str(), dup[0].code.as_str()), (1, "scores.1.indicator", "duplicate"));
    }

    #[test]
    fn scores_are_means_in_tenths_rounded_half_up() {
        assert_eq!(mean_tenths(&[20, 21]), 205);
        assert_eq!(mean_tenths(&[20, 20, 21]), 203);
        assert_eq!(mean_tenths(&[1, 1, 2]), 13);
        assert_eq!(mean_tenths(&[]), 0);
        assert_eq!(satisfaction_tenths(100, 45, 10), 900);
        assert_eq!(satisfaction_tenths(100, 14, 3), 933);
        assert_eq!(satisfaction_tenths(100, 0, 0), 0);
    }

    #[test]
    fn eligibility_explains_each_rule() {
        let now = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let rules = default_scheme().eligibility;
        let facts = EligibilityFacts {
            filed_at: Some(now - chrono::Duration::days(800)),
            last_year: Some(ReportResult::BasicPass),
            year_before: Some(ReportResult::Pass),
            on_abnormal_list: false,
            active: true,
        };
        assert!(check_eligibility(&rules, &facts, now).iter().all(|c| c.passed));
        let young = EligibilityFacts { filed_at: Some(now - chrono::Duration::days(700)), ..facts.clone() };
        let failed: Vec<_> = check_eligibility(&rules, &young, now).into_iter().filter(|c| !c.passed).collect();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].rule, "min_years");
        let twice = EligibilityFacts { year_before: Some(ReportResult::BasicPass), on_abnormal_list: true, ..facts };
        let failed: Vec<String> =
            check_eligibility(&rules, &twice, now).into_iter().filter(|c| !c.passed).map(|c| c.rule).collect();
        assert_eq!(failed, vec!["no_repeated_basic_pass", "not_abnormal"]);
    }

    #[test]
    fn years_and_validity_count_calendar_days() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default();
        assert_eq!(years_between(d(2024, 3, 1), d(2026, 2, 28)), 1);
        assert_eq!(years_between(d(2024, 3, 1), d(2026, 3, 1)), 2);
        assert_eq!(valid_until(d(2026, 12, 8), 5), d(2031, 12, 7));
        assert_eq!(valid_until(d(2028, 2, 29), 1), d(2029, 2, 27));
    }
}
