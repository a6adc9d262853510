//! Funding calls (申报通知) and applications: drafting and opening a call, its reviewers,
//! applying, conflict declarations, review scores, the funder's decisions, the public
//! results.

use actix_web::{HttpResponse, get, post, put, web};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    api::{checks::Checker, types::time},
    auth::{AuthUser, MaybeAuthUser},
    context::AppContext,
    domain::{
        funding::{ApplicationStatus, BudgetLine, CallEligibility, CallStatus, Deliverable, Fund, Proposal},
        organization::{Category, ServiceTarget},
        rating::Indicator,
    },
    entity::funding_event,
    error::{AppResult, Problem},
    service::{
        self,
        funding_applications::{ApplicationInput, ApplicationView},
        funding_calls::{CallInput, CallView},
    },
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list_calls)
        .service(create_call)
        .service(get_call)
        .service(update_call)
        .service(open_call)
        .service(add_reviewer)
        .service(decide_call)
        .service(call_applications)
        .service(create_application)
        .service(get_application)
        .service(update_application)
        .service(submit_application)
        .service(withdraw_application)
        .service(declare_conflict)
        .service(score_application)
        .service(decide_application);
}

const JSON_PROBLEM: &str = "application/problem+json";

#[derive(Debug, Serialize, ToSchema)]
pub struct FundingEventResponse {
    pub action: String,
    pub actor_id: Option<i64>,
    pub comment: Option<String>,
    pub at: DateTime<FixedOffset>,
}

impl From<funding_event::Model> for FundingEventResponse {
    fn from(e: funding_event::Model) -> Self {
        Self { action: e.action, actor_id: e.actor_id, comment: e.comment, at: time(e.at) }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewerResponse {
    pub user_id: i64,
    pub nickname: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FundingCallResponse {
    pub id: i64,
    pub region_id: i64,
    /// The organization (e.g. a hub) entrusted with running it.
    pub entrusted_org_id: Option<i64>,
    pub title: String,
    pub fund: Fund,
    /// The budget pool, in fen.
    pub budget_fen: i64,
    /// Granted so far, in fen.
    pub granted_fen: i64,
    pub categories: Vec<Category>,
    pub targets: Vec<ServiceTarget>,
    pub eligibility: CallEligibility,
    pub opens_at: DateTime<FixedOffset>,
    pub closes_at: DateTime<FixedOffset>,
    /// Days of public notice (公示) after each decision.
    pub notice_days: i32,
    /// The review rubric: the same indicator tree as rating schemes.
    pub rubric: Vec<Indicator>,
    pub status: CallStatus,
    /// Submitted applications (not drafts).
    pub applications: u64,
    /// For those who run it and its reviewers.
    pub reviewers: Option<Vec<ReviewerResponse>>,
    pub created_at: DateTime<FixedOffset>,
}

impl From<CallView> for FundingCallResponse {
    fn from(v: CallView) -> Self {
        let c = v.call;
        Self {
            id: c.id,
            region_id: c.region_id,
            entrusted_org_id: c.entrusted_org_id,
            title: c.title,
            fund: Fund::parse(&c.fund).unwrap_or(Fund::CommunityFund),
            budget_fen: c.budget_fen,
            granted_fen: v.granted_fen,
            categories: v.categories,
            targets: v.targets,
            eligibility: v.eligibility,
            opens_at: time(c.opens_at),
            closes_at: time(c.closes_at),
            notice_days: c.notice_days,
            rubric: v.rubric,
            status: v.status,
            applications: v.applications,
            reviewers: v
                .reviewers
                .map(|r| r.into_iter().map(|(user_id, nickname)| ReviewerResponse { user_id, nickname }).collect()),
            created_at: time(c.created_at),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"region_id": 6, "title": "2027 年张掖路街道社区公益微创投", "fund": "community_fund",
    "budget_fen": 20000000, "categories": ["community_service"], "targets": ["elderly"],
    "eligibility": {"not_abnormal": true}, "opens_at": "2027-01-05T00:00:00+08:00",
    "closes_at": "2027-02-05T00:00:00+08:00", "notice_days": 7,
    "rubric": [{"code": "need", "name": "需求明确", "max": 40}, {"code": "plan", "name": "方案可行", "max": 60}]}))]
pub struct CallRequest {
    /// The region whose organizations may apply (the funder's: its street office or civil affairs).
    pub region_id: i64,
    pub entrusted_org_id: Option<i64>,
    /// 1–128 characters.
    pub title: String,
    pub fund: Fund,
    /// 1 fen to 100 million yuan.
    pub budget_fen: i64,
    #[serde(default)]
    pub categories: Vec<Category>,
    #[serde(default)]
    pub targets: Vec<ServiceTarget>,
    #[serde(default)]
    pub eligibility: CallEligibility,
    pub opens_at: DateTime<FixedOffset>,
    /// After `opens_at`.
    pub closes_at: DateTime<FixedOffset>,
    /// 1–30.
    pub notice_days: i32,
    /// Every problem named by its path (`rubric.0.max`).
    pub rubric: Vec<Indicator>,
}

fn call_input(b: CallRequest) -> AppResult<CallInput> {
    let mut c = Checker::default();
    let title = c.text("title", Some(b.title), 1, 128, "标题须为 1–128 个字符").unwrap_or_default();
    let opens_at = c.time("opens_at", Some(b.opens_at)).unwrap_or_default();
    let closes_at = c.time("closes_at", Some(b.closes_at)).unwrap_or_default();
    c.finish(CallInput {
        region_id: b.region_id,
        entrusted_org_id: b.entrusted_org_id,
        title,
        fund: b.fund,
        budget_fen: b.budget_fen,
        categories: b.categories,
        targets: b.targets,
        eligibility: b.eligibility,
        opens_at,
        closes_at,
        notice_days: b.notice_days,
        rubric: b.rubric,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CallsQuery {
    /// Calls over or under this region.
    pub region_id: Option<i64>,
}

/// Funding calls (not drafts, except a funder's own), newest first. Anyone.
#[utoipa::path(get, path = "/api/v1/funding-calls", operation_id = "listFundingCalls", tag = "funding", params(CallsQuery),
    responses(
        (status = 200, body = Vec<FundingCallResponse>),
        (status = 404, body = Problem, content_type = JSON_PROBLEM, description = "no such region"),
    ))]
#[get("/funding-calls")]
pub async fn list_calls(
    ctx: web::Data<AppContext>,
    user: MaybeAuthUser,
    query: web::Query<CallsQuery>,
) -> AppResult<web::Json<Vec<FundingCallResponse>>> {
    let list = service::funding_calls::list(&ctx, user.0.as_ref(), query.region_id).await?;
    Ok(web::Json(list.into_iter().map(Into::into).collect()))
}

/// Draft a call. The street office or civil affairs over the region.
#[utoipa::path(post, path = "/api/v1/funding-calls", operation_id = "createFundingCall", tag = "funding",
    security(("bearer" = [])), request_body = CallRequest,
    responses(
        (status = 201, body = FundingCallResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM, description = "no such region"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "every problem: rubric, budget, window, notice days"),
    ))]
#[post("/funding-calls")]
pub async fn create_call(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    body: web::Json<CallRequest>,
) -> AppResult<HttpResponse> {
    let v = service::funding_calls::create(&ctx, &user, call_input(body.into_inner())?).await?;
    Ok(HttpResponse::Created().json(FundingCallResponse::from(v)))
}

/// One call (a draft only for those who run it).
#[utoipa::path(get, path = "/api/v1/funding-calls/{id}", operation_id = "getFundingCall", tag = "funding",
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = FundingCallResponse),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/funding-calls/{id}")]
pub async fn get_call(
    ctx: web::Data<AppContext>,
    user: MaybeAuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<FundingCallResponse>> {
    Ok(web::Json(service::funding_calls::get(&ctx, user.0.as_ref(), id.into_inner()).await?.into()))
}

/// Rewrite a draft call (its region stays). Those who run it.
#[utoipa::path(put, path = "/api/v1/funding-calls/{id}", operation_id = "updateFundingCall", tag = "funding",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = CallRequest,
    responses(
        (status = 200, body = FundingCallResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`call_not_draft`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[put("/funding-calls/{id}")]
pub async fn update_call(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<CallRequest>,
) -> AppResult<web::Json<FundingCallResponse>> {
    let input = call_input(body.into_inner())?;
    Ok(web::Json(service::funding_calls::update(&ctx, &user, id.into_inner(), input).await?.into()))
}

/// Open a draft call for applications (idempotent). Those who run it.
#[utoipa::path(post, path = "/api/v1/funding-calls/{id}/open", operation_id = "openFundingCall", tag = "funding",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = FundingCallResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`call_window_over`"),
    ))]
#[post("/funding-calls/{id}/open")]
pub async fn open_call(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<FundingCallResponse>> {
    Ok(web::Json(service::funding_calls::open(&ctx, &user, id.into_inner()).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewerRequest {
    pub user_id: i64,
}

/// Name a reviewer of the call (idempotent). Those who run it.
#[utoipa::path(post, path = "/api/v1/funding-calls/{id}/reviewers", operation_id = "addFundingReviewer", tag = "funding",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = ReviewerRequest,
    responses(
        (status = 200, body = FundingCallResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "unknown user"),
    ))]
#[post("/funding-calls/{id}/reviewers")]
pub async fn add_reviewer(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<ReviewerRequest>,
) -> AppResult<web::Json<FundingCallResponse>> {
    Ok(web::Json(service::funding_calls::add_reviewer(&ctx, &user, id.into_inner(), body.user_id).await?.into()))
}

/// Mark the call decided once every application is. The funder.
#[utoipa::path(post, path = "/api/v1/funding-calls/{id}/decided", operation_id = "decideFundingCall", tag = "funding",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = FundingCallResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`call_not_closed`, `applications_undecided`"),
    ))]
#[post("/funding-calls/{id}/decided")]
pub async fn decide_call(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<FundingCallResponse>> {
    Ok(web::Json(service::funding_calls::decide(&ctx, &user, id.into_inner()).await?.into()))
}

// ---- applications --------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct FundingApplicationResponse {
    pub id: i64,
    pub call_id: i64,
    pub organization_id: i64,
    pub organization_name: String,
    pub title: String,
    pub status: ApplicationStatus,
    pub proposal: Proposal,
    pub deliverables: Vec<Deliverable>,
    pub budget: Vec<BudgetLine>,
    /// Asked, in fen (the budget's sum).
    pub amount_fen: i64,
    /// The reviewers' mean total in points (one decimal), once scored.
    pub score: Option<f64>,
    pub reviewers_scored: i64,
    pub granted_fen: Option<i64>,
    pub decision_reason: Option<String>,
    pub decided_at: Option<DateTime<FixedOffset>>,
    /// The public notice (公示) of the decision ends then.
    pub notice_until: Option<DateTime<FixedOffset>>,
    /// The project it became, when granted.
    pub project_id: Option<i64>,
    pub submitted_at: Option<DateTime<FixedOffset>>,
    pub history: Vec<FundingEventResponse>,
}

impl From<ApplicationView> for FundingApplicationResponse {
    fn from(v: ApplicationView) -> Self {
        let a = v.application;
        Self {
            id: a.id,
            call_id: a.call_id,
            organization_id: a.organization_id,
            organization_name: v.organization_name,
            title: a.title,
            status: v.status,
            proposal: v.proposal,
            deliverables: v.deliverables,
            budget: v.budget,
            amount_fen: a.amount_fen,
            score: v.score_tenths.map(|t| t as f64 / 10.0),
            reviewers_scored: v.reviewers_scored,
            granted_fen: a.granted_fen,
            decision_reason: a.decision_reason,
            decided_at: a.decided_at.map(time),
            notice_until: a.notice_until.map(time),
            project_id: v.project_id,
            submitted_at: a.submitted_at.map(time),
            history: v.history.into_iter().map(Into::into).collect(),
        }
    }
}

/// A call's applications, best score first: those who run it and its reviewers see all
/// submitted ones; anyone sees the decided ones (the public results).
#[utoipa::path(get, path = "/api/v1/funding-calls/{id}/applications", operation_id = "listFundingApplications", tag = "funding",
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = Vec<FundingApplicationResponse>),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/funding-calls/{id}/applications")]
pub async fn call_applications(
    ctx: web::Data<AppContext>,
    user: MaybeAuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<Vec<FundingApplicationResponse>>> {
    let list = service::funding_applications::for_call(&ctx, user.0.as_ref(), id.into_inner()).await?;
    Ok(web::Json(list.into_iter().map(Into::into).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationRequest {
    pub organization_id: i64,
    /// 1–128 characters.
    pub title: String,
    pub proposal: Proposal,
    /// 1–20 numbers by dates.
    pub deliverables: Vec<Deliverable>,
    /// 1–50 lines adding up to `amount_fen`.
    pub budget: Vec<BudgetLine>,
    pub amount_fen: i64,
}

fn application_input(b: ApplicationRequest) -> ApplicationInput {
    ApplicationInput {
        organization_id: b.organization_id,
        title: b.title,
        proposal: b.proposal,
        deliverables: b.deliverables,
        budget: b.budget,
        amount_fen: b.amount_fen,
    }
}

/// Draft an application. The organization's leader, while the call takes applications.
#[utoipa::path(post, path = "/api/v1/funding-calls/{id}/applications", operation_id = "createFundingApplication", tag = "funding",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = ApplicationRequest,
    responses(
        (status = 201, body = FundingApplicationResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`call_not_open`, `already_applied`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "every problem; `outside_region`"),
    ))]
#[post("/funding-calls/{id}/applications")]
pub async fn create_application(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<ApplicationRequest>,
) -> AppResult<HttpResponse> {
    let v = service::funding_applications::create(&ctx, &user, id.into_inner(), application_input(body.into_inner()))
        .await?;
    Ok(HttpResponse::Created().json(FundingApplicationResponse::from(v)))
}

/// One application: its organization's staff, those who run the call, its reviewers.
#[utoipa::path(get, path = "/api/v1/funding-applications/{id}", operation_id = "getFundingApplication", tag = "funding",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = FundingApplicationResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/funding-applications/{id}")]
pub async fn get_application(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<FundingApplicationResponse>> {
    Ok(web::Json(service::funding_applications::get(&ctx, &user, id.into_inner()).await?.into()))
}

/// Rewrite a draft application. Its leader.
#[utoipa::path(put, path = "/api/v1/funding-applications/{id}", operation_id = "updateFundingApplication", tag = "funding",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = ApplicationRequest,
    responses(
        (status = 200, body = FundingApplicationResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`application_not_draft`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[put("/funding-applications/{id}")]
pub async fn update_application(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<ApplicationRequest>,
) -> AppResult<web::Json<FundingApplicationResponse>> {
    let input = application_input(body.into_inner());
    Ok(web::Json(service::funding_applications::update(&ctx, &user, id.into_inner(), input).await?.into()))
}

/// Submit a draft in the call's window. Its leader.
#[utoipa::path(post, path = "/api/v1/funding-applications/{id}/submit", operation_id = "submitFundingApplication", tag = "funding",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = FundingApplicationResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM,
            description = "`call_not_open`, `not_eligible` (each failed rule in `errors`), `application_not_draft`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "`over_budget`"),
    ))]
#[post("/funding-applications/{id}/submit")]
pub async fn submit_application(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<FundingApplicationResponse>> {
    Ok(web::Json(service::funding_applications::submit(&ctx, &user, id.into_inner()).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FundingReasonRequest {
    /// 1–500 characters.
    pub reason: String,
}

/// Withdraw an application before its decision. Its leader.
#[utoipa::path(post, path = "/api/v1/funding-applications/{id}/withdraw", operation_id = "withdrawFundingApplication", tag = "funding",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = FundingReasonRequest,
    responses(
        (status = 200, body = FundingApplicationResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`already_decided`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/funding-applications/{id}/withdraw")]
pub async fn withdraw_application(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<FundingReasonRequest>,
) -> AppResult<web::Json<FundingApplicationResponse>> {
    let mut c = Checker::default();
    let reason = c.text("reason", Some(body.into_inner().reason), 1, 500, "理由须为 1–500 个字符");
    let reason = c.finish(reason)?.unwrap_or_default();
    Ok(web::Json(service::funding_applications::withdraw(&ctx, &user, id.into_inner(), reason).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConflictRequest {
    /// `true`: no conflict of interest with this applicant; `false`: a conflict (the
    /// reviewer then takes no part in it).
    pub no_conflict: bool,
    /// ≤ 500 characters.
    pub note: Option<String>,
}

/// Declare (once) whether one has a conflict of interest with an application. A reviewer.
#[utoipa::path(post, path = "/api/v1/funding-applications/{id}/conflict", operation_id = "declareFundingConflict", tag = "funding",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = ConflictRequest,
    responses(
        (status = 200, body = FundingApplicationResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`already_declared`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/funding-applications/{id}/conflict")]
pub async fn declare_conflict(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<ConflictRequest>,
) -> AppResult<web::Json<FundingApplicationResponse>> {
    let b = body.into_inner();
    let mut c = Checker::default();
    let note = c.text("note", b.note, 1, 500, "说明须为 1–500 个字符");
    let note = c.finish(note)?;
    Ok(web::Json(
        service::funding_applications::declare(&ctx, &user, id.into_inner(), b.no_conflict, note).await?.into(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RubricMark {
    /// A leaf of the call's rubric.
    pub indicator: String,
    /// Whole points, 0 to the leaf's maximum.
    pub score: i64,
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RubricScoresRequest {
    /// 1–200 leaves, each once.
    pub scores: Vec<RubricMark>,
}

fn marks(b: RubricScoresRequest) -> Vec<(String, i64, Option<String>)> {
    b.scores.into_iter().map(|m| (m.indicator, m.score, m.note.filter(|n| !n.trim().is_empty()))).collect()
}

/// Score an application on the call's rubric. A reviewer who declared no conflict, after the call closed.
#[utoipa::path(put, path = "/api/v1/funding-applications/{id}/scores", operation_id = "scoreFundingApplication", tag = "funding",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = RubricScoresRequest,
    responses(
        (status = 200, body = FundingApplicationResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not a reviewer, or one who declared a conflict"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`declare_first`, `call_not_closed`, `not_submitted`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[put("/funding-applications/{id}/scores")]
pub async fn score_application(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<RubricScoresRequest>,
) -> AppResult<web::Json<FundingApplicationResponse>> {
    Ok(web::Json(
        service::funding_applications::score(&ctx, &user, id.into_inner(), marks(body.into_inner())).await?.into(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"grant": true, "granted_fen": 4500000, "reason": "交通费用偏高，核减 5000 元"}))]
pub struct FundingDecisionRequest {
    pub grant: bool,
    /// With `grant`: 1 fen to the amount asked.
    pub granted_fen: Option<i64>,
    /// Required when rejecting or granting less than asked; ≤ 500 characters.
    pub reason: Option<String>,
}

/// Decide an application after the call closed: grant (possibly less, with reasons) or
/// reject. The funder. A grant starts the public notice and a project.
#[utoipa::path(post, path = "/api/v1/funding-applications/{id}/decision", operation_id = "decideFundingApplication", tag = "funding",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = FundingDecisionRequest,
    responses(
        (status = 200, body = FundingApplicationResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM,
            description = "`call_not_closed`, `not_submitted`, `not_reviewed`, `budget_exceeded`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/funding-applications/{id}/decision")]
pub async fn decide_application(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<FundingDecisionRequest>,
) -> AppResult<web::Json<FundingApplicationResponse>> {
    let b = body.into_inner();
    let mut c = Checker::default();
    let reason = c.text("reason", b.reason, 1, 500, "理由须为 1–500 个字符");
    if b.grant && b.granted_fen.is_none() {
        c.fail("granted_fen", "required", "资助须写明金额");
    }
    if !b.grant && b.granted_fen.is_some() {
        c.fail("granted_fen", "not_applicable", "不予资助时不写金额");
    }
    let reason = c.finish(reason)?;
    let granted = if b.grant { b.granted_fen } else { None };
    Ok(web::Json(service::funding_applications::decide(&ctx, &user, id.into_inner(), granted, reason).await?.into()))
}
