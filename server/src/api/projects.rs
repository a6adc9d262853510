//! Funded projects: the agreement, evidence (tagged activities and exclusions), progress
//! computed from attendance, amendments, milestones and tranches, evaluations, the report.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    api::{checks::Checker, funding::FundingEventResponse, types::time},
    auth::AuthUser,
    context::AppContext,
    domain::funding::{Deliverable, EvaluationKind, Outcome, Progress, ProjectStatus, TranchePlan},
    error::{AppResult, Problem},
    service::{
        self,
        projects::{Changes, ProjectView},
    },
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(get_project)
        .service(org_projects)
        .service(sign)
        .service(tag_activity)
        .service(exclude_activity)
        .service(progress)
        .service(request_amendment)
        .service(decide_amendment)
        .service(report_milestone)
        .service(review_milestone)
        .service(pay_tranche)
        .service(evaluate)
        .service(report);
}

const JSON_PROBLEM: &str = "application/problem+json";

#[derive(Debug, Serialize, ToSchema)]
pub struct TrancheResponse {
    pub seq: i32,
    pub percent: i32,
    pub milestone: String,
    pub on_signing: bool,
    pub amount_fen: i64,
    /// `planned`, `due` (its milestone accepted, on signing, or the project completed),
    /// `paid`, `cancelled` (the project failed).
    pub status: String,
    pub due_at: Option<DateTime<FixedOffset>>,
    pub paid_at: Option<DateTime<FixedOffset>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AmendmentResponse {
    pub id: i64,
    pub changes: Changes,
    pub reason: String,
    /// `requested`, `approved`, `rejected`.
    pub status: String,
    pub requested_at: DateTime<FixedOffset>,
    pub decided_at: Option<DateTime<FixedOffset>>,
    pub comment: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MilestoneResponse {
    pub id: i64,
    /// The tranche it releases, by number.
    pub tranche_id: Option<i64>,
    pub title: String,
    pub narrative: String,
    /// The figures when it was reported (frozen).
    pub figures: Progress,
    pub attachments: Vec<String>,
    /// `submitted`, `accepted`, `returned`.
    pub status: String,
    pub submitted_at: DateTime<FixedOffset>,
    pub reviewed_at: Option<DateTime<FixedOffset>>,
    pub comment: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EvaluationResponse {
    pub kind: EvaluationKind,
    /// Points, one decimal.
    pub total_points: f64,
    pub outcome: Option<Outcome>,
    pub reclaim_fen: Option<i64>,
    pub comment: String,
    pub evaluator_id: i64,
    pub at: DateTime<FixedOffset>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaggedActivityResponse {
    pub activity_id: i64,
    pub tagged_at: DateTime<FixedOffset>,
    pub excluded: bool,
    pub exclude_reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectResponse {
    pub id: i64,
    pub application_id: i64,
    pub call_id: i64,
    pub organization_id: i64,
    pub organization_name: String,
    pub title: String,
    pub status: ProjectStatus,
    /// Granted, in fen.
    pub amount_fen: i64,
    /// Paid so far, in fen (never more than granted: the database checks).
    pub paid_fen: i64,
    pub starts_on: Option<NaiveDate>,
    pub ends_on: Option<NaiveDate>,
    pub supervisor_id: Option<i64>,
    /// Who granted it (never its supervisor).
    pub approver_id: i64,
    /// The plan in force.
    pub plan: Vec<Deliverable>,
    /// The plan as granted (kept through amendments).
    pub original_plan: Vec<Deliverable>,
    pub tranches: Vec<TrancheResponse>,
    pub amendments: Vec<AmendmentResponse>,
    pub milestones: Vec<MilestoneResponse>,
    pub evaluations: Vec<EvaluationResponse>,
    pub activities: Vec<TaggedActivityResponse>,
    /// A failed project's money to reclaim, in fen.
    pub reclaim_fen: Option<i64>,
    /// The agreement may be signed once the grant's public notice ends.
    pub notice_until: Option<DateTime<FixedOffset>>,
    pub history: Vec<FundingEventResponse>,
}

impl From<ProjectView> for ProjectResponse {
    fn from(v: ProjectView) -> Self {
        let p = v.project;
        Self {
            id: p.id,
            application_id: p.application_id,
            call_id: p.call_id,
            organization_id: p.organization_id,
            organization_name: v.organization_name,
            title: p.title,
            status: v.status,
            amount_fen: p.amount_fen,
            paid_fen: p.paid_fen,
            starts_on: p.starts_on,
            ends_on: p.ends_on,
            supervisor_id: p.supervisor_id,
            approver_id: p.approver_id,
            plan: v.plan,
            original_plan: v.original_plan,
            tranches: v
                .tranches
                .into_iter()
                .map(|t| TrancheResponse {
                    seq: t.seq,
                    percent: t.percent,
                    milestone: t.milestone,
                    on_signing: t.on_signing,
                    amount_fen: t.amount_fen,
                    status: t.status,
                    due_at: t.due_at.map(time),
                    paid_at: t.paid_at.map(time),
                })
                .collect(),
            amendments: v
                .amendments
                .into_iter()
                .map(|a| AmendmentResponse {
                    id: a.id,
                    changes: serde_json::from_str(&a.changes).unwrap_or_default(),
                    reason: a.reason,
                    status: a.status,
                    requested_at: time(a.requested_at),
                    decided_at: a.decided_at.map(time),
                    comment: a.comment,
                })
                .collect(),
            milestones: v
                .milestones
                .into_iter()
                .filter_map(|m| {
                    Some(MilestoneResponse {
                        id: m.id,
                        tranche_id: m.tranche_id,
                        title: m.title,
                        narrative: m.narrative,
                        figures: serde_json::from_str(&m.figures).ok()?,
                        attachments: serde_json::from_str(&m.attachments).unwrap_or_default(),
                        status: m.status,
                        submitted_at: time(m.submitted_at),
                        reviewed_at: m.reviewed_at.map(time),
                        comment: m.comment,
                    })
                })
                .collect(),
            evaluations: v
                .evaluations
                .into_iter()
                .map(|e| EvaluationResponse {
                    kind: EvaluationKind::parse(&e.kind).unwrap_or(EvaluationKind::Midterm),
                    total_points: e.total_tenths as f64 / 10.0,
                    outcome: e.outcome.as_deref().and_then(Outcome::parse),
                    reclaim_fen: e.reclaim_fen,
                    comment: e.comment,
                    evaluator_id: e.evaluator_id,
                    at: time(e.at),
                })
                .collect(),
            activities: v
                .activities
                .into_iter()
                .map(|t| TaggedActivityResponse {
                    activity_id: t.activity_id,
                    tagged_at: time(t.tagged_at),
                    excluded: t.excluded,
                    exclude_reason: t.exclude_reason,
                })
                .collect(),
            reclaim_fen: p.reclaim_fen,
            notice_until: v.notice_until.map(time),
            history: v.history.into_iter().map(Into::into).collect(),
        }
    }
}

/// One project: its organization's staff, the funder, its supervisor.
#[utoipa::path(get, path = "/api/v1/projects/{id}", operation_id = "getProject", tag = "funding",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = ProjectResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/projects/{id}")]
pub async fn get_project(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<ProjectResponse>> {
    Ok(web::Json(service::projects::get(&ctx, &user, id.into_inner()).await?.into()))
}

/// An organization's projects, newest first: its staff, and the offices over it (those
/// they fund or supervise).
#[utoipa::path(get, path = "/api/v1/organizations/{id}/projects", operation_id = "listOrganizationProjects", tag = "funding",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<ProjectResponse>),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/organizations/{id}/projects")]
pub async fn org_projects(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<Vec<ProjectResponse>>> {
    Ok(web::Json(
        service::projects::of_organization(&ctx, &user, id.into_inner()).await?.into_iter().map(Into::into).collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"starts_on": "2027-03-01", "ends_on": "2027-12-31", "supervisor_id": 9,
    "tranches": [{"percent": 40, "milestone": "签约", "on_signing": true}, {"percent": 30, "milestone": "中期"}, {"percent": 30, "milestone": "结项"}]}))]
pub struct AgreementRequest {
    pub starts_on: NaiveDate,
    /// At most 3 years after `starts_on`.
    pub ends_on: NaiveDate,
    /// 1–10 tranches whose percents add up to 100.
    pub tranches: Vec<TranchePlan>,
    /// The supervisor (督导): not the approver, not the organization's staff.
    pub supervisor_id: i64,
}

/// Sign the agreement after the grant's notice. The funder.
#[utoipa::path(post, path = "/api/v1/projects/{id}/agreement", operation_id = "signProjectAgreement", tag = "funding",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = AgreementRequest,
    responses(
        (status = 200, body = ProjectResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`on_notice`, `not_pending`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM,
            description = "period, tranches, `supervisor_is_approver`, `supervisor_is_staff`"),
    ))]
#[post("/projects/{id}/agreement")]
pub async fn sign(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<AgreementRequest>,
) -> AppResult<web::Json<ProjectResponse>> {
    let b = body.into_inner();
    let v = service::projects::sign(&ctx, &user, id.into_inner(), b.starts_on, b.ends_on, b.tranches, b.supervisor_id)
        .await?;
    Ok(web::Json(v.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagRequest {
    pub activity_id: i64,
}

/// Count an activity of the organization within the period as the project's evidence. Its staff.
#[utoipa::path(post, path = "/api/v1/projects/{id}/activities", operation_id = "tagProjectActivity", tag = "funding",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = TagRequest,
    responses(
        (status = 200, body = ProjectResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`already_tagged`, `project_not_active`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "another organization's, cancelled, or outside the period"),
    ))]
#[post("/projects/{id}/activities")]
pub async fn tag_activity(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<TagRequest>,
) -> AppResult<web::Json<ProjectResponse>> {
    Ok(web::Json(service::projects::tag(&ctx, &user, id.into_inner(), body.activity_id).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectReasonRequest {
    /// 1–500 characters.
    pub reason: String,
}

/// Exclude a tagged activity from the counts, with a reason. The supervisor.
#[utoipa::path(post, path = "/api/v1/projects/{id}/activities/{activity_id}/exclude", operation_id = "excludeProjectActivity", tag = "funding",
    params(("id" = i64, Path), ("activity_id" = i64, Path)), security(("bearer" = [])), request_body = ProjectReasonRequest,
    responses(
        (status = 200, body = ProjectResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`already_excluded`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/projects/{id}/activities/{activity_id}/exclude")]
pub async fn exclude_activity(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<(i64, i64)>,
    body: web::Json<ProjectReasonRequest>,
) -> AppResult<web::Json<ProjectResponse>> {
    let (id, activity) = path.into_inner();
    let mut c = Checker::default();
    let reason = c.text("reason", Some(body.into_inner().reason), 1, 500, "理由须为 1–500 个字符");
    let reason = c.finish(reason)?.unwrap_or_default();
    Ok(web::Json(service::projects::exclude(&ctx, &user, id, activity, reason).await?.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProgressResponse {
    pub project_id: i64,
    pub status: ProjectStatus,
    #[serde(flatten)]
    pub progress: Progress,
}

/// Plan against actual, live, from the tagged activities' attendance (and month by month).
#[utoipa::path(get, path = "/api/v1/projects/{id}/progress", operation_id = "getProjectProgress", tag = "funding",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = ProgressResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/projects/{id}/progress")]
pub async fn progress(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<ProgressResponse>> {
    let (v, p) = service::projects::progress_of(&ctx, &user, id.into_inner()).await?;
    Ok(web::Json(ProgressResponse { project_id: v.project.id, status: v.status, progress: p }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmendmentRequest {
    pub changes: Changes,
    /// 1–500 characters.
    pub reason: String,
}

/// Ask to change an active project. Its leader.
#[utoipa::path(post, path = "/api/v1/projects/{id}/amendments", operation_id = "requestProjectAmendment", tag = "funding",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = AmendmentRequest,
    responses(
        (status = 200, body = ProjectResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`amendment_pending`, `project_not_active`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/projects/{id}/amendments")]
pub async fn request_amendment(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<AmendmentRequest>,
) -> AppResult<web::Json<ProjectResponse>> {
    let b = body.into_inner();
    let mut c = Checker::default();
    let reason = c.text("reason", Some(b.reason), 1, 500, "理由须为 1–500 个字符");
    let reason = c.finish(reason)?.unwrap_or_default();
    Ok(web::Json(service::projects::request_amendment(&ctx, &user, id.into_inner(), b.changes, reason).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectDecisionRequest {
    pub accept: bool,
    /// ≤ 500 characters.
    pub comment: Option<String>,
}

/// Approve or reject an amendment. The funder.
#[utoipa::path(post, path = "/api/v1/project-amendments/{id}/decision", operation_id = "decideProjectAmendment", tag = "funding",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = ProjectDecisionRequest,
    responses(
        (status = 200, body = ProjectResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`amendment_decided`, `amendment_stale`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/project-amendments/{id}/decision")]
pub async fn decide_amendment(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<ProjectDecisionRequest>,
) -> AppResult<web::Json<ProjectResponse>> {
    let b = body.into_inner();
    let mut c = Checker::default();
    let comment = c.text("comment", b.comment, 1, 500, "意见须为 1–500 个字符");
    let comment = c.finish(comment)?;
    Ok(web::Json(service::projects::decide_amendment(&ctx, &user, id.into_inner(), b.accept, comment).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MilestoneRequest {
    /// The tranche it releases, by number (1…); none for a report without payment.
    pub tranche: Option<i32>,
    /// 1–128 characters.
    pub title: String,
    /// 1–5000 characters.
    pub narrative: String,
    /// Up to 20 `https://` URLs.
    #[serde(default)]
    pub attachments: Vec<String>,
}

/// Report a milestone (the figures of the moment are frozen into it). Its leader.
#[utoipa::path(post, path = "/api/v1/projects/{id}/milestones", operation_id = "reportProjectMilestone", tag = "funding",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = MilestoneRequest,
    responses(
        (status = 200, body = ProjectResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`tranche_not_planned`, `project_not_active`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/projects/{id}/milestones")]
pub async fn report_milestone(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<MilestoneRequest>,
) -> AppResult<web::Json<ProjectResponse>> {
    let b = body.into_inner();
    let mut c = Checker::default();
    let title = c.text("title", Some(b.title), 1, 128, "标题须为 1–128 个字符").unwrap_or_default();
    let narrative = c.text("narrative", Some(b.narrative), 1, 5000, "说明须为 1–5000 个字符").unwrap_or_default();
    if b.attachments.len() > 20 {
        c.fail("attachments", "count", "附件不超过 20 个");
    }
    for (n, a) in b.attachments.iter().enumerate() {
        if !crate::api::checks::https_url(a) {
            c.fail(&format!("attachments.{n}"), "url", "附件须为不超过 512 个字符的 https:// 地址");
        }
    }
    let attachments = b.attachments;
    let (title, narrative, attachments) = c.finish((title, narrative, attachments))?;
    let v = service::projects::report_milestone(&ctx, &user, id.into_inner(), b.tranche, title, narrative, attachments)
        .await?;
    Ok(web::Json(v.into()))
}

/// Accept or return a milestone report; an accepted one makes its tranche due. The supervisor.
#[utoipa::path(post, path = "/api/v1/project-milestones/{id}/review", operation_id = "reviewProjectMilestone", tag = "funding",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = ProjectDecisionRequest,
    responses(
        (status = 200, body = ProjectResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`milestone_reviewed`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/project-milestones/{id}/review")]
pub async fn review_milestone(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<ProjectDecisionRequest>,
) -> AppResult<web::Json<ProjectResponse>> {
    let b = body.into_inner();
    let mut c = Checker::default();
    let comment = c.text("comment", b.comment, 1, 500, "意见须为 1–500 个字符");
    let comment = c.finish(comment)?;
    Ok(web::Json(service::projects::review_milestone(&ctx, &user, id.into_inner(), b.accept, comment).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaidRequest {
    /// When it was paid (not in the future).
    pub paid_at: DateTime<FixedOffset>,
}

/// Record a due tranche as paid. The funder.
#[utoipa::path(post, path = "/api/v1/projects/{id}/tranches/{seq}/paid", operation_id = "payProjectTranche", tag = "funding",
    params(("id" = i64, Path), ("seq" = i32, Path)), security(("bearer" = [])), request_body = PaidRequest,
    responses(
        (status = 200, body = ProjectResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`tranche_not_due`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/projects/{id}/tranches/{seq}/paid")]
pub async fn pay_tranche(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<(i64, i32)>,
    body: web::Json<PaidRequest>,
) -> AppResult<web::Json<ProjectResponse>> {
    let (id, seq) = path.into_inner();
    let mut c = Checker::default();
    let paid_at = c.time("paid_at", Some(body.paid_at));
    if paid_at.is_some_and(|t| t > ctx.now()) {
        c.fail("paid_at", "future", "拨付时间不能晚于现在");
    }
    let paid_at = c.finish(paid_at)?.unwrap_or_else(|| ctx.now());
    Ok(web::Json(service::projects::pay(&ctx, &user, id, seq, paid_at).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluationRequest {
    pub kind: EvaluationKind,
    /// Every leaf of the call's rubric, once.
    pub scores: Vec<crate::api::funding::RubricMark>,
    /// 1–2000 characters.
    pub comment: String,
    /// `final` only.
    pub outcome: Option<Outcome>,
    /// `failed` only: the fen to reclaim, 0 to what was paid.
    pub reclaim_fen: Option<i64>,
}

/// Evaluate the project (mid-term or final; a final one closes it). The supervisor or the funder.
#[utoipa::path(post, path = "/api/v1/projects/{id}/evaluations", operation_id = "evaluateProject", tag = "funding",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = EvaluationRequest,
    responses(
        (status = 200, body = ProjectResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`project_not_active`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/projects/{id}/evaluations")]
pub async fn evaluate(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<EvaluationRequest>,
) -> AppResult<web::Json<ProjectResponse>> {
    let b = body.into_inner();
    let mut c = Checker::default();
    let comment = c.text("comment", Some(b.comment), 1, 2000, "评估意见须为 1–2000 个字符");
    let comment = c.finish(comment)?.unwrap_or_default();
    let scores = b.scores.into_iter().map(|m| (m.indicator, m.score, m.note)).collect();
    let v =
        service::projects::evaluate(&ctx, &user, id.into_inner(), b.kind, scores, comment, b.outcome, b.reclaim_fen)
            .await?;
    Ok(web::Json(v.into()))
}

/// The project report as a workbook: overview, plan against actual, months, tranches,
/// activities. Its organization's staff, the funder, the supervisor.
#[utoipa::path(get, path = "/api/v1/projects/{id}/report", operation_id = "exportProjectReport", tag = "funding",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, description = "The workbook, as an attachment.",
            headers(("content-disposition" = String, description = "`attachment; filename=\"project-{id}.xlsx\"`")),
            content((String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/projects/{id}/report")]
pub async fn report(ctx: web::Data<AppContext>, user: AuthUser, id: web::Path<i64>) -> AppResult<HttpResponse> {
    let file = service::projects::report(&ctx, &user, id.into_inner()).await?;
    Ok(crate::api::exports::file_response(file))
}
