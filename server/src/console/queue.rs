//! 待办 (review queues): filing applications waiting for this office with their history,
//! activities held for the committee's text review, room bookings, last year's annual
//! reports (年报) waiting for their filing office, and ratings (等级评估) under way with
//! appeals for civil affairs — each decided from the page with a reason, through the API's
//! own service functions. Project milestones wait for the project's named supervisor (a
//! person, not an office) and are reviewed in the mini-program.

use actix_web::{get, post, web};
use serde::{Deserialize, Serialize};

use super::{Frame, PageError, PageResult, Signed, page, redirect, shanghai};
use crate::{
    context::AppContext,
    domain::role::Role,
    domain::{annual_report::ReportResult, rating::AppealDecision, rating::AssessmentStatus},
    error::AppError,
    service::{activities, annual_reports, organizations, ratings, scope_lists, venues},
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(queue_page).service(decide);
}

#[derive(Serialize)]
struct Step {
    at: String,
    action: String,
    comment: Option<String>,
}

#[derive(Serialize)]
struct Filing {
    id: i64,
    name: String,
    category: String,
    community: String,
    status: &'static str,
    submitted_at: String,
    history: Vec<Step>,
}

#[derive(Serialize)]
struct Held {
    id: i64,
    title: String,
    organization: String,
    starts_at: String,
    location: String,
    description: String,
}

#[derive(Serialize)]
struct Report {
    organization_id: i64,
    organization: String,
    year: i32,
    submitted_at: String,
}

#[derive(Serialize)]
struct Assessment {
    id: i64,
    organization: String,
    status: &'static str,
    appealed: bool,
    total: Option<String>,
}

/// An assessment's state in Chinese.
fn assessment_zh(status: AssessmentStatus) -> &'static str {
    match status {
        AssessmentStatus::Scoring => "评审中",
        AssessmentStatus::Notice => "公示中",
        AssessmentStatus::Appealed => "申诉待处理",
        AssessmentStatus::Awarded => "已评定",
        AssessmentStatus::NotGraded => "未达等级",
        AssessmentStatus::Withdrawn => "已撤销",
    }
}

#[derive(Serialize)]
struct Booking {
    id: i64,
    venue: String,
    organization: String,
    purpose: String,
    starts_at: String,
    ends_at: String,
    attendance: i32,
}

/// The step's label in Chinese (the history's `action`).
pub(crate) fn action_zh(action: &str) -> String {
    match action {
        "submitted" => "提交申请",
        "consented" => "社区同意",
        "consent_refused" => "社区驳回",
        "filed" => "街道备案",
        "filing_refused" => "街道驳回",
        "resubmitted" => "重新提交",
        "registered" => "民政登记",
        "suspended" => "暂停",
        "dissolved" => "注销",
        other => other,
    }
    .to_owned()
}

/// The status of an organization in Chinese (`OrgStatus::zh`).
pub(crate) fn org_status_zh(status: &str) -> &'static str {
    crate::domain::organization::OrgStatus::parse(status).map(|s| s.zh()).unwrap_or("未知状态")
}

/// `GET /console/queue`: what waits for the signed-in office.
#[get("/queue")]
async fn queue_page(ctx: web::Data<AppContext>, signed: Signed) -> PageResult {
    let seat = signed.seat()?;
    let user = signed.user();
    let mut filings = Vec::new();
    if matches!(seat.role, Role::Committee | Role::Street) {
        for org in organizations::review_queue(&ctx, user, None, 100).await? {
            let detail = organizations::detail(&ctx, Some(user), org.id).await?;
            let history: Vec<Step> = detail
                .history
                .unwrap_or_default()
                .into_iter()
                .map(|e| Step { at: shanghai(e.created_at), action: action_zh(&e.action), comment: e.comment })
                .collect();
            filings.push(Filing {
                id: org.id,
                name: org.name,
                category: super::pages::category_zh(&org.category).to_owned(),
                community: detail.community.name,
                status: org_status_zh(&org.status),
                submitted_at: shanghai(org.updated_at),
                history,
            });
        }
    }
    let mut held = Vec::new();
    let mut bookings = Vec::new();
    if seat.role == Role::Committee {
        for a in scope_lists::held_for_review(&ctx, user).await? {
            let view = activities::detail(&ctx, Some(user), a.id).await?;
            held.push(Held {
                id: a.id,
                title: a.title,
                organization: view.organization_name,
                starts_at: shanghai(a.starts_at),
                location: a.location,
                description: a.description.chars().take(200).collect(),
            });
        }
        let (items, _) = venues::review_queue(&ctx, user, None, 100).await?;
        for b in items {
            bookings.push(Booking {
                id: b.booking.id,
                venue: b.venue_name,
                organization: b.organization_name,
                purpose: b.booking.purpose,
                starts_at: shanghai(b.booking.starts_at),
                ends_at: shanghai(b.booking.ends_at),
                attendance: b.booking.attendance,
            });
        }
    }
    // Last year's reports, submitted and waiting for this office (their filing office).
    let mut reports = Vec::new();
    let mut assessments = Vec::new();
    if matches!(seat.role, Role::Street | Role::CivilAffairs) {
        use chrono::Datelike;
        let year = crate::domain::clock::to_shanghai(ctx.now()).year() - 1;
        for row in annual_reports::region_reports(&ctx, user, seat.region_id, year).await? {
            let Some(report) = row.report else { continue };
            if report.status != "submitted" || annual_reports::reviewer_role(&row.organization) != seat.role {
                continue;
            }
            reports.push(Report {
                organization_id: row.organization.id,
                organization: row.organization.name,
                year,
                submitted_at: shanghai(report.updated_at),
            });
        }
        for row in ratings::in_region(&ctx, user, seat.region_id, None).await? {
            let status = AssessmentStatus::parse(&row.assessment.status).unwrap_or(AssessmentStatus::Scoring);
            if !status.open() {
                continue;
            }
            assessments.push(Assessment {
                id: row.assessment.id,
                organization: row.organization_name,
                status: assessment_zh(status),
                appealed: status == AssessmentStatus::Appealed && seat.role == Role::CivilAffairs,
                total: row.assessment.total_tenths.map(|t| format!("{:.1}", t as f64 / 10.0)),
            });
        }
    }
    let frame = Frame::new(&ctx, &signed, seat, "queue").await?;
    page(
        "queue.html",
        minijinja::context! {
            frame, filings, held, bookings, reports, assessments,
            committee => seat.role == Role::Committee,
            office => matches!(seat.role, Role::Street | Role::CivilAffairs),
        },
    )
}

#[derive(Deserialize)]
struct DecideForm {
    #[serde(default)]
    csrf: String,
    /// `approve` or `reject`.
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
    /// The report's year (`reports`).
    #[serde(default)]
    year: Option<i32>,
}

/// `POST /console/queue/{kind}/{id}` (`kind`: `organizations`, `activities`, `bookings`,
/// `reports` (an organization's report of `year`), `appeals` (an assessment's appeal)):
/// approves or refuses (with a reason) through the API's service function, then back to
/// the queue.
#[post("/queue/{kind}/{id}")]
async fn decide(
    ctx: web::Data<AppContext>,
    signed: Signed,
    path: web::Path<(String, i64)>,
    form: web::Form<DecideForm>,
) -> PageResult {
    signed.check_csrf(&form.csrf)?;
    signed.seat()?;
    let (kind, id) = path.into_inner();
    let reason = Some(form.reason.trim().to_owned()).filter(|r| !r.is_empty());
    let user = signed.user();
    let invalid = || PageError(AppError::invalid("decision", "invalid", "请选择一项决定"));
    match kind.as_str() {
        // `id` is the organization's; 合格 / 基本合格 / 不合格, or returned with a reason.
        "reports" => {
            let year = form.year.ok_or_else(|| PageError(AppError::invalid("year", "required", "缺少年度")))?;
            let accept = match form.decision.as_str() {
                "return" => None,
                other => Some(ReportResult::parse(other).ok_or_else(invalid)?),
            };
            annual_reports::review(&ctx, user, id, year, accept, reason).await?;
            return Ok(redirect("/console/queue?done=1"));
        }
        "appeals" => {
            let decision = AppealDecision::parse(&form.decision).ok_or_else(invalid)?;
            let answer = reason.ok_or_else(|| PageError(AppError::invalid("reason", "required", "请填写答复")))?;
            ratings::decide_appeal(&ctx, user, id, decision, answer).await?;
            return Ok(redirect("/console/queue?done=1"));
        }
        _ => {}
    }
    let approve = match form.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(PageError(AppError::invalid("decision", "invalid", "请选择同意或驳回"))),
    };
    match kind.as_str() {
        "organizations" => {
            organizations::review(&ctx, user, id, approve, reason).await?;
        }
        "activities" => {
            activities::review_held(&ctx, user, id, approve, reason).await?;
        }
        "bookings" => {
            venues::decide(&ctx, user, id, approve, reason).await?;
        }
        _ => return Err(PageError(AppError::NotFound("resource"))),
    }
    Ok(redirect("/console/queue?done=1"))
}
