//! Oversight (监管): annual reports (年报), the abnormal list (活动异常名录), random checks
//! (双随机) and staff's social-work certificates.

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    api::{checks::Checker, types::time},
    auth::AuthUser,
    context::AppContext,
    domain::{
        abnormal::{AbnormalReason, flagged},
        annual_report::{Adjustment, PartyOrganization, Recorded, ReportContent, ReportResult, ReportStatus},
        certificate::{CertificateLevel, CertificateStatus},
        random_check::{CheckResult, CheckStatus},
    },
    entity::{abnormal_listing, annual_report_event, staff_certificate},
    error::{AppError, AppResult, Problem},
    service::{
        self,
        annual_reports::{ReportRow, ReportView},
        expert_pools::Pool,
        random_checks::{DrawView, ItemView},
    },
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list_reports)
        .service(get_report)
        .service(put_report)
        .service(submit_report)
        .service(review_report)
        .service(region_reports)
        .service(region_abnormal)
        .service(add_abnormal)
        .service(clear_abnormal)
        .service(list_inspectors)
        .service(add_inspector)
        .service(remove_inspector)
        .service(create_draw)
        .service(get_draw)
        .service(get_check)
        .service(record_findings)
        .service(answer_check)
        .service(close_check)
        .service(add_certificate)
        .service(list_certificates)
        .service(review_certificate);
}

const JSON_PROBLEM: &str = "application/problem+json";

// ---- annual reports ----------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportEventResponse {
    /// `opened`, `submitted`, `accepted:<result>`, `returned`.
    pub action: String,
    pub actor_id: Option<i64>,
    pub comment: Option<String>,
    pub at: DateTime<FixedOffset>,
}

impl From<annual_report_event::Model> for ReportEventResponse {
    fn from(e: annual_report_event::Model) -> Self {
        Self { action: e.action, actor_id: e.actor_id, comment: e.comment, at: time(e.at) }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AnnualReportResponse {
    pub id: i64,
    pub organization_id: i64,
    pub organization_name: String,
    pub year: i32,
    pub status: ReportStatus,
    /// The last day to submit (Asia/Shanghai).
    pub due_on: NaiveDate,
    pub overdue: bool,
    /// What the organization reports.
    pub content: ReportContent,
    /// Linli's own figures of the year: live while the report is written, frozen when
    /// submitted. A reported figure that differs needs an adjustment with a reason.
    pub recorded: Recorded,
    /// Income and expenditure totals, in fen.
    pub income_fen: i64,
    pub expenditure_fen: i64,
    pub result: Option<ReportResult>,
    pub comment: Option<String>,
    pub submitted_at: Option<DateTime<FixedOffset>>,
    pub reviewed_by: Option<i64>,
    pub reviewed_at: Option<DateTime<FixedOffset>>,
    /// Every step, oldest first.
    pub history: Vec<ReportEventResponse>,
}

impl From<ReportView> for AnnualReportResponse {
    fn from(v: ReportView) -> Self {
        let (income_fen, expenditure_fen) = v.content.totals();
        let m = v.report;
        Self {
            id: m.id,
            organization_id: m.organization_id,
            organization_name: v.organization_name,
            year: m.year,
            status: v.status,
            due_on: m.due_on,
            overdue: v.overdue,
            content: v.content,
            recorded: v.recorded,
            income_fen,
            expenditure_fen,
            result: m.result.as_deref().and_then(ReportResult::parse),
            comment: m.comment,
            submitted_at: m.submitted_at.map(time),
            reviewed_by: m.reviewed_by,
            reviewed_at: m.reviewed_at.map(time),
            history: v.history.into_iter().map(Into::into).collect(),
        }
    }
}

const MAX_MONEY_FEN: i64 = 1_000_000_000_000;

/// A report year from a path: 2000–9998 (422 otherwise: no calendar arithmetic on a year
/// nobody reports for).
fn report_year(year: i32) -> AppResult<i32> {
    if (2000..=9998).contains(&year) {
        Ok(year)
    } else {
        Err(AppError::invalid("year", "range", "年份须在 2000 到 9998 之间"))
    }
}

/// Checks a report's content field by field (lengths, ranges, known values), collecting
/// every problem.
fn check_content(c: ReportContent) -> AppResult<ReportContent> {
    let mut k = Checker::default();
    for (field, v) in [
        ("members", c.members),
        ("staff", c.staff),
        ("leader_changes", c.leader_changes),
        ("meetings", c.meetings),
        ("activities_held", c.activities_held),
        ("participants", c.participants),
        ("volunteer_minutes", c.volunteer_minutes),
    ] {
        if !(0..=10_000_000).contains(&v) {
            k.fail(&format!("content.{field}"), "range", "须为 0 到 10000000 之间的整数");
        }
    }
    if !(0..=MAX_MONEY_FEN).contains(&c.donations_fen) {
        k.fail("content.donations_fen", "range", "金额须为非负整数（分）");
    }
    for (name, lines) in [("income", &c.income), ("expenditure", &c.expenditure)] {
        if lines.len() > 50 {
            k.fail(&format!("content.{name}"), "too_many", "最多 50 项");
        }
        for (i, l) in lines.iter().enumerate() {
            k.text(&format!("content.{name}[{i}].kind"), Some(l.kind.clone()), 1, 32, "类别须为 1–32 个字符");
            if !(0..=MAX_MONEY_FEN).contains(&l.amount_fen) {
                k.fail(&format!("content.{name}[{i}].amount_fen"), "range", "金额须为非负整数（分）");
            }
            k.text(&format!("content.{name}[{i}].note"), l.note.clone(), 0, 200, "备注不超过 200 个字符");
        }
    }
    if c.rooms_used.len() > 20 {
        k.fail("content.rooms_used", "too_many", "最多 20 项");
    }
    for (i, r) in c.rooms_used.iter().enumerate() {
        k.text(&format!("content.rooms_used[{i}]"), Some(r.clone()), 1, 64, "场地名称须为 1–64 个字符");
    }
    if PartyOrganization::parse(&c.party_organization).is_none() {
        k.fail("content.party_organization", "unknown", &format!("须为 {} 之一", PartyOrganization::list()));
    }
    let summary = k.text("content.summary", Some(c.summary.clone()), 0, 2000, "工作总结不超过 2000 个字符");
    let plan = k.text("content.plan", Some(c.plan.clone()), 0, 2000, "工作计划不超过 2000 个字符");
    if c.adjustments.len() > 10 {
        k.fail("content.adjustments", "too_many", "最多 10 项");
    }
    let mut adjustments = Vec::new();
    for (i, a) in c.adjustments.iter().enumerate() {
        if let Some(reason) =
            k.text(&format!("content.adjustments[{i}].reason"), Some(a.reason.clone()), 1, 200, "理由须为 1–200 个字符")
        {
            adjustments.push(Adjustment { reason, ..a.clone() });
        }
    }
    k.finish(ReportContent { summary: summary.unwrap_or_default(), plan: plan.unwrap_or_default(), adjustments, ..c })
}

/// An organization's annual reports, newest year first (last year's is opened, pre-filled,
/// on first sight once the year is over). Its staff and the officials over it.
#[utoipa::path(get, path = "/api/v1/organizations/{id}/annual-reports", operation_id = "listAnnualReports", tag = "oversight",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<AnnualReportResponse>),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/organizations/{id}/annual-reports")]
pub async fn list_reports(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<Vec<AnnualReportResponse>>> {
    let rows = service::annual_reports::list(&ctx, &user, id.into_inner()).await?;
    Ok(web::Json(rows.into_iter().map(Into::into).collect()))
}

/// Year `year`'s report (opened, pre-filled from Linli's records, on first sight once the
/// year is over; 404 for a year not over or one the organization did not owe). Its staff
/// and the officials over it.
#[utoipa::path(get, path = "/api/v1/organizations/{id}/annual-reports/{year}", operation_id = "getAnnualReport", tag = "oversight",
    params(("id" = i64, Path), ("year" = i32, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = AnnualReportResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM, description = "the organization did not owe that year's report"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "`validation_failed`: a year outside 2000–9998"),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`report_not_open`: the year is not over (the detail says when it opens)"),
    ))]
#[get("/organizations/{id}/annual-reports/{year}")]
pub async fn get_report(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<(i64, i32)>,
) -> AppResult<web::Json<AnnualReportResponse>> {
    let (id, year) = path.into_inner();
    let year = report_year(year)?;
    Ok(web::Json(service::annual_reports::get(&ctx, &user, id, year).await?.into()))
}

/// Write the report (the whole content) while it is a draft or returned. Its staff.
#[utoipa::path(put, path = "/api/v1/organizations/{id}/annual-reports/{year}", operation_id = "writeAnnualReport", tag = "oversight",
    params(("id" = i64, Path), ("year" = i32, Path)), security(("bearer" = [])), request_body = ReportContent,
    responses(
        (status = 200, body = AnnualReportResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the organization's staff"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`invalid_transition`: submitted or accepted; `report_not_open`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "`validation_failed`, each field at fault"),
    ))]
#[put("/organizations/{id}/annual-reports/{year}")]
pub async fn put_report(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<(i64, i32)>,
    body: web::Json<ReportContent>,
) -> AppResult<web::Json<AnnualReportResponse>> {
    let (id, year) = path.into_inner();
    let year = report_year(year)?;
    let content = check_content(body.into_inner())?;
    Ok(web::Json(service::annual_reports::update(&ctx, &user, id, year, content).await?.into()))
}

/// Submit the report. Its leader. Figures other than Linli's record need an adjustment
/// with a reason; the summary and plan must be written.
#[utoipa::path(post, path = "/api/v1/organizations/{id}/annual-reports/{year}/submit", operation_id = "submitAnnualReport", tag = "oversight",
    params(("id" = i64, Path), ("year" = i32, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = AnnualReportResponse, description = "`submitted`"),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not its leader"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`invalid_transition`, `report_not_open`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM,
            description = "`validation_failed`: `content.<figure>` `reason_required`, `content.summary`/`content.plan` `required`"),
    ))]
#[post("/organizations/{id}/annual-reports/{year}/submit")]
pub async fn submit_report(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<(i64, i32)>,
) -> AppResult<web::Json<AnnualReportResponse>> {
    let (id, year) = path.into_inner();
    let year = report_year(year)?;
    Ok(web::Json(service::annual_reports::submit(&ctx, &user, id, year).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportReviewRequest {
    /// `accept` (with a `result`) or `return` (with a `comment`).
    pub decision: String,
    #[schema(value_type = Option<ReportResult>)]
    pub result: Option<String>,
    /// 1–500 characters; required to return.
    pub comment: Option<String>,
}

/// Accept a submitted report with a result (合格 `pass`, 基本合格 `basic_pass`, 不合格
/// `fail`) or return it with a comment. Its filing office: the street office for a filed
/// organization, civil affairs for a registered one. The leader is told.
#[utoipa::path(post, path = "/api/v1/organizations/{id}/annual-reports/{year}/review", operation_id = "reviewAnnualReport", tag = "oversight",
    params(("id" = i64, Path), ("year" = i32, Path)), security(("bearer" = [])), request_body = ReportReviewRequest,
    responses(
        (status = 200, body = AnnualReportResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the organization's filing office"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`invalid_transition`: not submitted"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "`validation_failed`"),
    ))]
#[post("/organizations/{id}/annual-reports/{year}/review")]
pub async fn review_report(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<(i64, i32)>,
    body: web::Json<ReportReviewRequest>,
) -> AppResult<web::Json<AnnualReportResponse>> {
    let (id, year) = path.into_inner();
    let year = report_year(year)?;
    let body = body.into_inner();
    let mut c = Checker::default();
    let comment = c.text("comment", body.comment, 1, 500, "意见须为 1–500 个字符");
    let result = match (body.decision.as_str(), body.result.as_deref()) {
        ("accept", Some(r)) => match ReportResult::parse(r) {
            Some(r) => Some(r),
            None => {
                c.fail("result", "unknown", &format!("结果须为 {} 之一", ReportResult::list()));
                None
            }
        },
        ("accept", None) => {
            c.fail("result", "required", "通过须给出结果");
            None
        }
        ("return", _) => None,
        _ => {
            c.fail("decision", "unknown_decision", "decision 须为 accept 或 return");
            None
        }
    };
    let (result, comment) = c.finish((result, comment))?;
    Ok(web::Json(service::annual_reports::review(&ctx, &user, id, year, result, comment).await?.into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct YearQuery {
    /// The report year; default last year.
    pub year: Option<i32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportRowResponse {
    pub organization_id: i64,
    pub organization_name: String,
    pub community_id: i64,
    /// `null`: not opened yet.
    pub report_id: Option<i64>,
    pub status: Option<ReportStatus>,
    pub result: Option<ReportResult>,
    pub overdue: bool,
    pub submitted_at: Option<DateTime<FixedOffset>>,
}

impl From<ReportRow> for ReportRowResponse {
    fn from(r: ReportRow) -> Self {
        Self {
            organization_id: r.organization.id,
            organization_name: r.organization.name,
            community_id: r.organization.community_id,
            report_id: r.report.as_ref().map(|m| m.id),
            status: r.report.as_ref().and_then(|m| ReportStatus::parse(&m.status)),
            result: r.report.as_ref().and_then(|m| m.result.as_deref()).and_then(ReportResult::parse),
            overdue: r.overdue,
            submitted_at: r.report.as_ref().and_then(|m| m.submitted_at).map(time),
        }
    }
}

/// Every organization under a region that owes the year's report, with its state and
/// whether it is overdue. The officials over the region.
#[utoipa::path(get, path = "/api/v1/regions/{id}/annual-reports", operation_id = "listRegionAnnualReports", tag = "oversight",
    params(("id" = i64, Path), YearQuery), security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<ReportRowResponse>),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/regions/{id}/annual-reports")]
pub async fn region_reports(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    query: web::Query<YearQuery>,
) -> AppResult<web::Json<Vec<ReportRowResponse>>> {
    let year = report_year(query.year.unwrap_or_else(|| crate::domain::annual_report::open_year(ctx.now())))?;
    let rows = service::annual_reports::region_reports(&ctx, &user, id.into_inner(), year).await?;
    Ok(web::Json(rows.into_iter().map(Into::into).collect()))
}

// ---- the abnormal list ---------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct AbnormalListingResponse {
    pub id: i64,
    pub organization_id: i64,
    pub organization_name: String,
    pub reason: AbnormalReason,
    pub detail: String,
    pub listed_at: DateTime<FixedOffset>,
    /// `null`: listed by the system.
    pub listed_by: Option<i64>,
    pub cleared_at: Option<DateTime<FixedOffset>>,
    pub cleared_by: Option<i64>,
    pub clear_reason: Option<String>,
    /// On the list for two years or more.
    pub flagged: bool,
}

fn listing(l: abnormal_listing::Model, name: String, now: chrono::DateTime<chrono::Utc>) -> AbnormalListingResponse {
    AbnormalListingResponse {
        flagged: l.cleared_at.is_none() && flagged(l.listed_at, now),
        id: l.id,
        organization_id: l.organization_id,
        organization_name: name,
        reason: AbnormalReason::parse(&l.reason).unwrap_or(AbnormalReason::Unreachable),
        detail: l.detail,
        listed_at: time(l.listed_at),
        listed_by: l.listed_by,
        cleared_at: l.cleared_at.map(time),
        cleared_by: l.cleared_by,
        clear_reason: l.clear_reason,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AbnormalQuery {
    /// Only those still on the list (default true); `false` includes cleared ones.
    pub current: Option<bool>,
}

/// The abnormal list of a region's organizations. The officials over the region.
#[utoipa::path(get, path = "/api/v1/regions/{id}/abnormal-organizations", operation_id = "listAbnormalOrganizations", tag = "oversight",
    params(("id" = i64, Path), AbnormalQuery), security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<AbnormalListingResponse>),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/regions/{id}/abnormal-organizations")]
pub async fn region_abnormal(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    query: web::Query<AbnormalQuery>,
) -> AppResult<web::Json<Vec<AbnormalListingResponse>>> {
    let rows = service::abnormal::in_region(&ctx, &user, id.into_inner(), query.current.unwrap_or(true)).await?;
    let now = ctx.now();
    Ok(web::Json(rows.into_iter().map(|(l, n)| listing(l, n, now)).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AbnormalRequest {
    /// `unreachable` or `failed_rectification` (an overdue report is listed by the system).
    #[schema(value_type = AbnormalReason)]
    pub reason: String,
    /// 1–200 characters.
    pub detail: String,
}

/// List an organization as abnormal by hand. Its filing office.
#[utoipa::path(post, path = "/api/v1/organizations/{id}/abnormal", operation_id = "listOrganizationAbnormal", tag = "oversight",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = AbnormalRequest,
    responses(
        (status = 201, body = AbnormalListingResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`already_listed`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "`validation_failed` (`system_only` for `overdue_report`)"),
    ))]
#[post("/organizations/{id}/abnormal")]
pub async fn add_abnormal(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<AbnormalRequest>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let mut c = Checker::default();
    let reason = AbnormalReason::parse(&body.reason);
    if reason.is_none() {
        c.fail("reason", "unknown", &format!("原因须为 {} 之一", AbnormalReason::list()));
    }
    let detail = c.text("detail", Some(body.detail), 1, 200, "说明须为 1–200 个字符");
    let (Some(reason), Some(detail)) = (reason, detail) else { return Err(AppError::Validation(c.errors)) };
    let l = service::abnormal::add(&ctx, &user, id.into_inner(), reason, detail).await?;
    let name = crate::entity::organization::Entity::find_by_id(l.organization_id)
        .one(&ctx.db)
        .await?
        .map(|o| o.name)
        .unwrap_or_default();
    Ok(HttpResponse::Created().json(listing(l, name, ctx.now())))
}

use sea_orm::EntityTrait;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClearRequest {
    /// Why the cause is gone, 1–200 characters.
    pub reason: String,
}

/// Take an organization off the abnormal list: its filing office, saying why.
#[utoipa::path(post, path = "/api/v1/abnormal-listings/{id}/clear", operation_id = "clearAbnormalListing", tag = "oversight",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = ClearRequest,
    responses(
        (status = 200, body = AbnormalListingResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`invalid_transition`: cleared already"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/abnormal-listings/{id}/clear")]
pub async fn clear_abnormal(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<ClearRequest>,
) -> AppResult<web::Json<AbnormalListingResponse>> {
    let mut c = Checker::default();
    let why = c.text("reason", Some(body.into_inner().reason), 1, 200, "理由须为 1–200 个字符");
    let why = c.finish(why)?.unwrap_or_default();
    let l = service::abnormal::clear(&ctx, &user, id.into_inner(), why).await?;
    let name = crate::entity::organization::Entity::find_by_id(l.organization_id)
        .one(&ctx.db)
        .await?
        .map(|o| o.name)
        .unwrap_or_default();
    Ok(web::Json(listing(l, name, ctx.now())))
}

// ---- random checks -------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
/// A person in an expert pool (random-check inspectors, rating assessors).
pub struct InspectorResponse {
    pub user_id: i64,
    pub nickname: Option<String>,
}

/// A region's inspector pool. Its street office or civil affairs.
#[utoipa::path(get, path = "/api/v1/regions/{id}/inspectors", operation_id = "listInspectors", tag = "oversight",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<InspectorResponse>),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/regions/{id}/inspectors")]
pub async fn list_inspectors(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<Vec<InspectorResponse>>> {
    pool_response(&ctx, &user, Pool::Inspectors, id.into_inner()).await
}

/// A region's pool of `pool`, as the pool endpoints answer (inspectors and assessors).
pub(crate) async fn pool_response(
    ctx: &AppContext,
    user: &AuthUser,
    pool: Pool,
    id: i64,
) -> AppResult<web::Json<Vec<InspectorResponse>>> {
    let pool = service::expert_pools::list(ctx, user, pool, id).await?;
    Ok(web::Json(pool.into_iter().map(|(user_id, nickname)| InspectorResponse { user_id, nickname }).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InspectorRequest {
    pub user_id: i64,
}

/// Add a person to a region's inspector pool (idempotent). Its street office or civil affairs.
#[utoipa::path(post, path = "/api/v1/regions/{id}/inspectors", operation_id = "addInspector", tag = "oversight",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = InspectorRequest,
    responses(
        (status = 200, body = Vec<InspectorResponse>),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "unknown user"),
    ))]
#[post("/regions/{id}/inspectors")]
pub async fn add_inspector(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<InspectorRequest>,
) -> AppResult<web::Json<Vec<InspectorResponse>>> {
    let id = id.into_inner();
    service::expert_pools::add(&ctx, &user, Pool::Inspectors, id, body.user_id).await?;
    pool_response(&ctx, &user, Pool::Inspectors, id).await
}

/// Take a person out of the pool (draws made keep them). Its street office or civil affairs.
#[utoipa::path(delete, path = "/api/v1/regions/{id}/inspectors/{user_id}", operation_id = "removeInspector", tag = "oversight",
    params(("id" = i64, Path), ("user_id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 204, description = "removed (or was not in the pool)"),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[delete("/regions/{id}/inspectors/{user_id}")]
pub async fn remove_inspector(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<(i64, i64)>,
) -> AppResult<HttpResponse> {
    let (id, person) = path.into_inner();
    service::expert_pools::remove(&ctx, &user, Pool::Inspectors, id, person).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"region_id": 6, "title": "2026 年第四季度社区社会组织双随机抽查", "sample_size": 2}))]
pub struct DrawRequest {
    /// The region whose organizations are drawn from (its pool gives the inspectors).
    pub region_id: i64,
    /// 1–128 characters.
    pub title: String,
    #[schema(minimum = 1)]
    pub sample_size: i64,
    /// Leave out for a random one; give one to redo a published draw. 1–128 characters.
    pub seed: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResponse {
    pub id: i64,
    pub draw_id: i64,
    pub organization_id: i64,
    pub organization_name: String,
    pub inspectors: Vec<InspectorResponse>,
    pub status: CheckStatus,
    pub result: Option<CheckResult>,
    /// The inspectors' findings: in `GET /checks/items/{id}` only (not in the published draw).
    pub findings: Option<String>,
    pub recorded_at: Option<DateTime<FixedOffset>>,
    /// The organization's rectification note.
    pub rectification: Option<String>,
    pub answered_at: Option<DateTime<FixedOffset>>,
    pub rectified: Option<bool>,
    pub closed_at: Option<DateTime<FixedOffset>>,
    pub close_comment: Option<String>,
}

fn check_response(v: ItemView, with_findings: bool) -> CheckResponse {
    let i = v.item;
    CheckResponse {
        id: i.id,
        draw_id: i.draw_id,
        organization_id: i.organization_id,
        organization_name: v.organization_name,
        inspectors: v
            .inspectors
            .into_iter()
            .map(|(user_id, nickname)| InspectorResponse { user_id, nickname })
            .collect(),
        status: CheckStatus::parse(&i.status).unwrap_or(CheckStatus::Assigned),
        result: i.result.as_deref().and_then(CheckResult::parse),
        findings: if with_findings { i.findings } else { None },
        recorded_at: i.recorded_at.map(time),
        rectification: if with_findings { i.rectification } else { None },
        answered_at: i.answered_at.map(time),
        rectified: i.rectified,
        closed_at: i.closed_at.map(time),
        close_comment: if with_findings { i.close_comment } else { None },
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DrawResponse {
    pub id: i64,
    pub region_id: i64,
    pub region_name: String,
    pub title: String,
    /// With `population` and `pool`, enough to redo the draw (README: "Random checks").
    pub seed: String,
    /// The organization ids drawn from, ascending.
    pub population: Vec<i64>,
    /// The inspectors' user ids, ascending.
    pub pool: Vec<i64>,
    pub sample_size: i32,
    pub drawn_by: i64,
    pub created_at: DateTime<FixedOffset>,
    /// The drawn organizations in draw order, with their inspectors and results.
    pub checks: Vec<CheckResponse>,
}

fn ids(s: &str) -> Vec<i64> {
    s.split(',').filter_map(|x| x.parse().ok()).collect()
}

impl From<DrawView> for DrawResponse {
    fn from(v: DrawView) -> Self {
        let d = v.draw;
        Self {
            id: d.id,
            region_id: d.region_id,
            region_name: v.region_name,
            title: d.title,
            seed: d.seed,
            population: ids(&d.population),
            pool: ids(&d.pool),
            sample_size: d.sample_size,
            drawn_by: d.drawn_by,
            created_at: time(d.created_at),
            checks: v.items.into_iter().map(|i| check_response(i, false)).collect(),
        }
    }
}

/// Draw organizations to check, two inspectors each, and publish the draw. The street
/// office (its filed organizations) or civil affairs (filed and registered) over the region.
#[utoipa::path(post, path = "/api/v1/checks/draws", operation_id = "createCheckDraw", tag = "oversight",
    security(("bearer" = [])), request_body = DrawRequest,
    responses(
        (status = 201, body = DrawResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM, description = "no such region"),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`pool_too_small`: fewer than 2 inspectors"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "`validation_failed`: title, seed, `sample_size` (`range`)"),
    ))]
#[post("/checks/draws")]
pub async fn create_draw(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    body: web::Json<DrawRequest>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let mut c = Checker::default();
    let title = c.text("title", Some(body.title), 1, 128, "标题须为 1–128 个字符");
    let seed = c.text("seed", body.seed, 1, 128, "种子须为 1–128 个字符");
    if body.sample_size < 1 {
        c.fail("sample_size", "range", "抽取数量至少为 1");
    }
    let Some(title) = title else { return Err(AppError::Validation(c.errors)) };
    let (title, seed) = c.finish((title, seed))?;
    let v = service::random_checks::draw(&ctx, &user, body.region_id, title, body.sample_size as usize, seed).await?;
    Ok(HttpResponse::Created().json(DrawResponse::from(v)))
}

/// A published draw: seed, population, pool, and each drawn organization with its
/// inspectors and result (findings are not published). Anyone.
#[utoipa::path(get, path = "/api/v1/checks/draws/{id}", operation_id = "getCheckDraw", tag = "oversight",
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = DrawResponse),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/checks/draws/{id}")]
pub async fn get_draw(ctx: web::Data<AppContext>, id: web::Path<i64>) -> AppResult<web::Json<DrawResponse>> {
    Ok(web::Json(service::random_checks::draw_view(&ctx.db, id.into_inner()).await?.into()))
}

/// One check with its findings. Its inspectors, the organization's staff, the officials
/// over the organization.
#[utoipa::path(get, path = "/api/v1/checks/items/{id}", operation_id = "getCheck", tag = "oversight",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = CheckResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/checks/items/{id}")]
pub async fn get_check(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<CheckResponse>> {
    Ok(web::Json(check_response(service::random_checks::item(&ctx, &user, id.into_inner()).await?, true)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingsRequest {
    #[schema(value_type = CheckResult)]
    pub result: String,
    /// 1–2000 characters.
    pub findings: String,
}

/// Record findings and a result. One of the check's inspectors. `unreachable` lists the
/// organization as abnormal; `rectify` waits for its answer.
#[utoipa::path(post, path = "/api/v1/checks/items/{id}/findings", operation_id = "recordCheckFindings", tag = "oversight",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = FindingsRequest,
    responses(
        (status = 200, body = CheckResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not one of its inspectors"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`invalid_transition`: recorded already"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/checks/items/{id}/findings")]
pub async fn record_findings(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<FindingsRequest>,
) -> AppResult<web::Json<CheckResponse>> {
    let body = body.into_inner();
    let mut c = Checker::default();
    let result = CheckResult::parse(&body.result);
    if result.is_none() {
        c.fail("result", "unknown", &format!("结果须为 {} 之一", CheckResult::list()));
    }
    let findings = c.text("findings", Some(body.findings), 1, 2000, "检查情况须为 1–2000 个字符");
    let (Some(result), Some(findings)) = (result, findings) else { return Err(AppError::Validation(c.errors)) };
    let v = service::random_checks::record(&ctx, &user, id.into_inner(), result, findings).await?;
    Ok(web::Json(check_response(v, true)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RectificationRequest {
    /// What the organization changed, 1–2000 characters.
    pub note: String,
}

/// Answer a `rectify` result. The organization's leader.
#[utoipa::path(post, path = "/api/v1/checks/items/{id}/rectification", operation_id = "answerCheck", tag = "oversight",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = RectificationRequest,
    responses(
        (status = 200, body = CheckResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the organization's leader"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`invalid_transition`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/checks/items/{id}/rectification")]
pub async fn answer_check(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<RectificationRequest>,
) -> AppResult<web::Json<CheckResponse>> {
    let mut c = Checker::default();
    let note = c.text("note", Some(body.into_inner().note), 1, 2000, "整改说明须为 1–2000 个字符");
    let note = c.finish(note)?.unwrap_or_default();
    let v = service::random_checks::answer(&ctx, &user, id.into_inner(), note).await?;
    Ok(web::Json(check_response(v, true)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseCheckRequest {
    /// Whether the rectification is accepted; `false` lists the organization as abnormal.
    pub rectified: bool,
    /// At most 500 characters.
    pub comment: Option<String>,
}

/// Close an answered check. One of its inspectors.
#[utoipa::path(post, path = "/api/v1/checks/items/{id}/close", operation_id = "closeCheck", tag = "oversight",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = CloseCheckRequest,
    responses(
        (status = 200, body = CheckResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`invalid_transition`: not answered"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/checks/items/{id}/close")]
pub async fn close_check(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<CloseCheckRequest>,
) -> AppResult<web::Json<CheckResponse>> {
    let body = body.into_inner();
    let mut c = Checker::default();
    let comment = c.text("comment", body.comment, 1, 500, "意见须为 1–500 个字符");
    let comment = c.finish(comment)?;
    let v = service::random_checks::close(&ctx, &user, id.into_inner(), body.rectified, comment).await?;
    Ok(web::Json(check_response(v, true)))
}

// ---- certificates --------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateResponse {
    pub id: i64,
    pub organization_id: i64,
    pub user_id: i64,
    pub level: CertificateLevel,
    pub number: String,
    pub year: i32,
    pub status: CertificateStatus,
    pub verified_by: Option<i64>,
    pub verified_at: Option<DateTime<FixedOffset>>,
    pub comment: Option<String>,
}

impl From<staff_certificate::Model> for CertificateResponse {
    fn from(c: staff_certificate::Model) -> Self {
        Self {
            id: c.id,
            organization_id: c.organization_id,
            user_id: c.user_id,
            level: CertificateLevel::parse(&c.level).unwrap_or(CertificateLevel::Assistant),
            number: c.number,
            year: c.year,
            status: CertificateStatus::parse(&c.status).unwrap_or(CertificateStatus::Pending),
            verified_by: c.verified_by,
            verified_at: c.verified_at.map(time),
            comment: c.comment,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateRequest {
    /// The staff member holding it (a leader or staff of the organization).
    pub user_id: i64,
    #[schema(value_type = CertificateLevel)]
    pub level: String,
    /// 1–64 characters.
    pub number: String,
    /// The year it was obtained, 2008 (the first national examination) to this year.
    pub year: i32,
}

/// Record a staff member's social-work certificate; it waits for the street office's
/// verification. The organization's staff.
#[utoipa::path(post, path = "/api/v1/organizations/{id}/certificates", operation_id = "addCertificate", tag = "oversight",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = CertificateRequest,
    responses(
        (status = 201, body = CertificateResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "`validation_failed` (`not_staff`, level, number, year)"),
    ))]
#[post("/organizations/{id}/certificates")]
pub async fn add_certificate(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<CertificateRequest>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let mut c = Checker::default();
    let level = CertificateLevel::parse(&body.level);
    if level.is_none() {
        c.fail("level", "unknown", &format!("等级须为 {} 之一", CertificateLevel::list()));
    }
    let number = c.text("number", Some(body.number), 1, 64, "证书编号须为 1–64 个字符");
    let this_year = crate::domain::annual_report::open_year(ctx.now()) + 1;
    if !(2008..=this_year).contains(&body.year) {
        c.fail("year", "range", "取得年份须在 2008 年到今年之间");
    }
    let (Some(level), Some(number)) = (level, number) else { return Err(AppError::Validation(c.errors)) };
    c.finish(())?;
    let cert = service::certificates::add(&ctx, &user, id.into_inner(), body.user_id, level, number, body.year).await?;
    Ok(HttpResponse::Created().json(CertificateResponse::from(cert)))
}

/// An organization's certificates. Its staff and the officials over it.
#[utoipa::path(get, path = "/api/v1/organizations/{id}/certificates", operation_id = "listCertificates", tag = "oversight",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<CertificateResponse>),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/organizations/{id}/certificates")]
pub async fn list_certificates(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<Vec<CertificateResponse>>> {
    let rows = service::certificates::list(&ctx, &user, id.into_inner()).await?;
    Ok(web::Json(rows.into_iter().map(Into::into).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateReviewRequest {
    /// `verify` or `reject` (with a comment).
    pub decision: String,
    pub comment: Option<String>,
}

/// Verify or reject a pending certificate. The street office over the organization.
#[utoipa::path(post, path = "/api/v1/certificates/{id}/review", operation_id = "reviewCertificate", tag = "oversight",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = CertificateReviewRequest,
    responses(
        (status = 200, body = CertificateResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`invalid_transition`: reviewed already"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/certificates/{id}/review")]
pub async fn review_certificate(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<CertificateReviewRequest>,
) -> AppResult<web::Json<CertificateResponse>> {
    let body = body.into_inner();
    let mut c = Checker::default();
    let approve = match body.decision.as_str() {
        "verify" => Some(true),
        "reject" => Some(false),
        _ => {
            c.fail("decision", "unknown_decision", "decision 须为 verify 或 reject");
            None
        }
    };
    let comment = c.text("comment", body.comment, 1, 200, "意见须为 1–200 个字符");
    let (approve, comment) = c.finish((approve.unwrap_or(false), comment))?;
    Ok(web::Json(service::certificates::verify(&ctx, &user, id.into_inner(), approve, comment).await?.into()))
}
