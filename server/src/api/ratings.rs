//! Ratings (等级评估): schemes as data, the assessor pool, assessments from eligibility to
//! award, the public notice (公示), and residents' satisfaction scores.

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    api::{
        checks::Checker,
        oversight::{InspectorRequest, InspectorResponse, pool_response},
        types::time,
    },
    auth::{AuthUser, MaybeAuthUser},
    context::AppContext,
    domain::{
        clock::to_shanghai,
        rating::{AppealDecision, AssessmentStatus, EligibilityCheck, Grade, SchemeContent},
    },
    entity::rating_event,
    error::{AppError, AppResult, Problem},
    service::{
        self,
        expert_pools::Pool,
        rating_schemes::SchemeView,
        ratings::{AssessmentRow, AssessmentView, LeafResult, MarkInput},
        satisfaction::Summary,
    },
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list_schemes)
        .service(get_scheme)
        .service(copy_scheme)
        .service(update_scheme)
        .service(publish_scheme)
        .service(list_assessors)
        .service(add_assessor)
        .service(remove_assessor)
        .service(eligibility)
        .service(open_assessment)
        .service(my_assessments)
        .service(region_assessments)
        .service(rating_notices)
        .service(get_assessment)
        .service(score_assessment)
        .service(finalize_assessment)
        .service(appeal_assessment)
        .service(decide_appeal)
        .service(withdraw_assessment)
        .service(rate_satisfaction)
        .service(get_satisfaction);
}

const JSON_PROBLEM: &str = "application/problem+json";

// ---- schemes -------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct RatingSchemeResponse {
    pub id: i64,
    /// `default`, or `region:<id>` for a region's own versions.
    pub family: String,
    pub version: i32,
    /// `null` for the default scheme.
    pub region_id: Option<i64>,
    pub name: String,
    /// `draft` (editable) or `published` (frozen: assessments use published ones only).
    pub status: String,
    /// The scheme it was copied from.
    pub based_on: Option<i64>,
    /// The scheme's total points (the sum of its top-level indicators).
    pub total_points: u32,
    pub content: SchemeContent,
    pub created_at: DateTime<FixedOffset>,
    pub published_at: Option<DateTime<FixedOffset>>,
}

impl From<SchemeView> for RatingSchemeResponse {
    fn from(v: SchemeView) -> Self {
        let m = v.scheme;
        Self {
            id: m.id,
            family: m.family,
            version: m.version,
            region_id: m.region_id,
            name: m.name,
            status: m.status,
            based_on: m.based_on,
            total_points: v.content.total(),
            content: v.content,
            created_at: time(m.created_at),
            published_at: m.published_at.map(time),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SchemesQuery {
    /// Only schemes that apply under this region (the default and its own and its
    /// ancestors').
    pub region_id: Option<i64>,
}

/// Rating schemes: published ones for anyone; drafts for civil affairs over their region.
#[utoipa::path(get, path = "/api/v1/rating-schemes", operation_id = "listRatingSchemes", tag = "ratings",
    params(SchemesQuery),
    responses(
        (status = 200, body = Vec<RatingSchemeResponse>),
        (status = 404, body = Problem, content_type = JSON_PROBLEM, description = "no such region"),
    ))]
#[get("/rating-schemes")]
pub async fn list_schemes(
    ctx: web::Data<AppContext>,
    user: MaybeAuthUser,
    query: web::Query<SchemesQuery>,
) -> AppResult<web::Json<Vec<RatingSchemeResponse>>> {
    let list = service::rating_schemes::list(&ctx, user.0.as_ref(), query.region_id).await?;
    Ok(web::Json(list.into_iter().map(Into::into).collect()))
}

/// One rating scheme (a draft only for those who may edit it).
#[utoipa::path(get, path = "/api/v1/rating-schemes/{id}", operation_id = "getRatingScheme", tag = "ratings",
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = RatingSchemeResponse),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/rating-schemes/{id}")]
pub async fn get_scheme(
    ctx: web::Data<AppContext>,
    user: MaybeAuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<RatingSchemeResponse>> {
    Ok(web::Json(service::rating_schemes::get(&ctx, user.0.as_ref(), id.into_inner()).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"region_id": 2, "name": "城关区社区社会组织等级评估标准（2027）"}))]
pub struct CopySchemeRequest {
    /// The region the copy is for: civil affairs over it.
    pub region_id: i64,
    /// 1–128 characters.
    pub name: String,
}

/// Copy a scheme into a region as a new draft version. Civil affairs over the region.
#[utoipa::path(post, path = "/api/v1/rating-schemes/{id}/copy", operation_id = "copyRatingScheme", tag = "ratings",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = CopySchemeRequest,
    responses(
        (status = 201, body = RatingSchemeResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM, description = "no such scheme or region"),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`scheme_version_taken`: another copy took the version; retry"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/rating-schemes/{id}/copy")]
pub async fn copy_scheme(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<CopySchemeRequest>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let mut c = Checker::default();
    let name = c.text("name", Some(body.name), 1, 128, "名称须为 1–128 个字符");
    let name = c.finish(name)?.unwrap_or_default();
    let v = service::rating_schemes::copy(&ctx, &user, id.into_inner(), body.region_id, name).await?;
    Ok(HttpResponse::Created().json(RatingSchemeResponse::from(v)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSchemeRequest {
    /// 1–128 characters.
    pub name: String,
    /// The whole scheme: indicators (groups' maxima add up), bands, validity, notice,
    /// eligibility. Every problem is listed by its path (`content.indicators.0.max`).
    pub content: SchemeContent,
}

/// Replace a draft scheme. Civil affairs over its region.
#[utoipa::path(put, path = "/api/v1/rating-schemes/{id}", operation_id = "updateRatingScheme", tag = "ratings",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = UpdateSchemeRequest,
    responses(
        (status = 200, body = RatingSchemeResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`scheme_published`: copy it to change it"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "`validation_failed`: each problem of the scheme"),
    ))]
#[put("/rating-schemes/{id}")]
pub async fn update_scheme(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<UpdateSchemeRequest>,
) -> AppResult<web::Json<RatingSchemeResponse>> {
    let body = body.into_inner();
    let mut c = Checker::default();
    let name = c.text("name", Some(body.name), 1, 128, "名称须为 1–128 个字符");
    let name = c.finish(name)?.unwrap_or_default();
    Ok(web::Json(service::rating_schemes::update(&ctx, &user, id.into_inner(), name, body.content).await?.into()))
}

/// Publish a draft scheme (idempotent); it never changes after. Civil affairs over its region.
#[utoipa::path(post, path = "/api/v1/rating-schemes/{id}/publish", operation_id = "publishRatingScheme", tag = "ratings",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = RatingSchemeResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/rating-schemes/{id}/publish")]
pub async fn publish_scheme(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<RatingSchemeResponse>> {
    Ok(web::Json(service::rating_schemes::publish(&ctx, &user, id.into_inner()).await?.into()))
}

// ---- assessors -----------------------------------------------------------------------------

/// A region's assessor pool (评估专家库). Civil affairs over the region.
#[utoipa::path(get, path = "/api/v1/regions/{id}/assessors", operation_id = "listAssessors", tag = "ratings",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<InspectorResponse>),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/regions/{id}/assessors")]
pub async fn list_assessors(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<Vec<InspectorResponse>>> {
    pool_response(&ctx, &user, Pool::Assessors, id.into_inner()).await
}

/// Add a person to a region's assessor pool (idempotent). Civil affairs over the region.
#[utoipa::path(post, path = "/api/v1/regions/{id}/assessors", operation_id = "addAssessor", tag = "ratings",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = InspectorRequest,
    responses(
        (status = 200, body = Vec<InspectorResponse>),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "unknown user"),
    ))]
#[post("/regions/{id}/assessors")]
pub async fn add_assessor(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<InspectorRequest>,
) -> AppResult<web::Json<Vec<InspectorResponse>>> {
    let id = id.into_inner();
    service::expert_pools::add(&ctx, &user, Pool::Assessors, id, body.user_id).await?;
    pool_response(&ctx, &user, Pool::Assessors, id).await
}

/// Take a person out of the assessor pool (panels already named keep them). Civil affairs.
#[utoipa::path(delete, path = "/api/v1/regions/{id}/assessors/{user_id}", operation_id = "removeAssessor", tag = "ratings",
    params(("id" = i64, Path), ("user_id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 204, description = "removed (or was not in the pool)"),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[delete("/regions/{id}/assessors/{user_id}")]
pub async fn remove_assessor(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<(i64, i64)>,
) -> AppResult<HttpResponse> {
    let (id, person) = path.into_inner();
    service::expert_pools::remove(&ctx, &user, Pool::Assessors, id, person).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---- assessments ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
pub struct EligibilityQuery {
    pub scheme_id: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EligibilityResponse {
    pub organization_id: i64,
    pub scheme_id: i64,
    /// All rules pass.
    pub eligible: bool,
    /// Each rule with the reason in words.
    pub checks: Vec<EligibilityCheck>,
}

/// Whether an organization may be rated under a scheme, rule by rule. Its staff and the
/// officials over it.
#[utoipa::path(get, path = "/api/v1/organizations/{id}/rating-eligibility", operation_id = "getRatingEligibility", tag = "ratings",
    params(("id" = i64, Path), EligibilityQuery), security(("bearer" = [])),
    responses(
        (status = 200, body = EligibilityResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "`scheme_id`: not published or not for this region"),
    ))]
#[get("/organizations/{id}/rating-eligibility")]
pub async fn eligibility(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    query: web::Query<EligibilityQuery>,
) -> AppResult<web::Json<EligibilityResponse>> {
    let id = id.into_inner();
    let (scheme, checks) = service::ratings::eligibility(&ctx, &user, id, query.scheme_id).await?;
    Ok(web::Json(EligibilityResponse {
        organization_id: id,
        scheme_id: scheme.scheme.id,
        eligible: checks.iter().all(|c| c.passed),
        checks,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PanelMember {
    pub user_id: i64,
    pub nickname: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MarkResponse {
    /// Shown to civil affairs and the panel only.
    pub assessor_id: Option<i64>,
    pub indicator: String,
    /// Whole points, 0 to the leaf's maximum.
    pub score: i32,
    pub note: Option<String>,
    /// Shown to civil affairs and the panel only.
    pub at: Option<DateTime<FixedOffset>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RatingEventResponse {
    /// `opened`, `scored`, `finalized`, `appealed`, `appeal_rescore`, `appeal_dismiss`,
    /// `awarded`, `not_graded`, `withdrawn`.
    pub action: String,
    /// `null` for the award job.
    pub actor_id: Option<i64>,
    pub comment: Option<String>,
    pub at: DateTime<FixedOffset>,
}

impl From<rating_event::Model> for RatingEventResponse {
    fn from(e: rating_event::Model) -> Self {
        Self { action: e.action, actor_id: e.actor_id, comment: e.comment, at: time(e.at) }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AssessmentResponse {
    pub id: i64,
    pub organization_id: i64,
    pub organization_name: String,
    pub status: AssessmentStatus,
    /// The scheme it froze (its content is in `GET /rating-schemes/{id}`).
    pub scheme_id: i64,
    pub scheme_name: String,
    pub scheme_version: i32,
    /// The eligibility as checked when it opened.
    pub eligibility: Vec<EligibilityCheck>,
    pub panel: Vec<PanelMember>,
    /// The total in points (one decimal), once finalized.
    pub total_points: Option<f64>,
    /// The total in tenths of a point (exact), once finalized.
    pub total_tenths: Option<i64>,
    /// The grade the total earns; `null` below every band or before finalizing.
    pub grade: Option<Grade>,
    /// Each leaf's result, once finalized.
    pub breakdown: Vec<LeafResult>,
    /// The assessors' current scores (see `GET` for who sees them).
    pub scores: Vec<MarkResponse>,
    pub notice_from: Option<DateTime<FixedOffset>>,
    /// The appeal window closes then; the grade is awarded within the hour after.
    pub notice_until: Option<DateTime<FixedOffset>>,
    pub appeal_reason: Option<String>,
    pub appealed_at: Option<DateTime<FixedOffset>>,
    pub appeal_answer: Option<String>,
    pub awarded_at: Option<DateTime<FixedOffset>>,
    /// The grade's last valid day (Asia/Shanghai).
    pub valid_until: Option<NaiveDate>,
    /// Every step, oldest first.
    pub history: Vec<RatingEventResponse>,
    pub created_at: DateTime<FixedOffset>,
}

impl From<AssessmentView> for AssessmentResponse {
    fn from(v: AssessmentView) -> Self {
        let m = v.assessment;
        Self {
            id: m.id,
            organization_id: m.organization_id,
            organization_name: v.organization_name,
            status: v.status,
            scheme_id: m.scheme_id,
            scheme_name: v.scheme.scheme.name,
            scheme_version: v.scheme.scheme.version,
            eligibility: v.eligibility,
            panel: v.panel.into_iter().map(|(user_id, nickname)| PanelMember { user_id, nickname }).collect(),
            total_points: m.total_tenths.map(|t| t as f64 / 10.0),
            total_tenths: m.total_tenths,
            grade: m.grade.as_deref().and_then(Grade::parse),
            breakdown: v.breakdown,
            scores: v
                .marks
                .into_iter()
                .map(|k| MarkResponse {
                    assessor_id: k.assessor_id,
                    indicator: k.indicator,
                    score: k.score,
                    note: k.note,
                    at: k.at.map(time),
                })
                .collect(),
            notice_from: m.notice_from.map(time),
            notice_until: m.notice_until.map(time),
            appeal_reason: m.appeal_reason,
            appealed_at: m.appealed_at.map(time),
            appeal_answer: m.appeal_answer,
            awarded_at: m.awarded_at.map(time),
            valid_until: m.valid_until,
            history: v.history.into_iter().map(Into::into).collect(),
            created_at: time(m.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AssessmentRowResponse {
    pub id: i64,
    pub organization_id: i64,
    pub organization_name: String,
    pub status: AssessmentStatus,
    pub scheme_id: i64,
    pub total_points: Option<f64>,
    pub grade: Option<Grade>,
    pub notice_until: Option<DateTime<FixedOffset>>,
    pub valid_until: Option<NaiveDate>,
}

impl From<AssessmentRow> for AssessmentRowResponse {
    fn from(r: AssessmentRow) -> Self {
        let m = r.assessment;
        Self {
            id: m.id,
            organization_id: m.organization_id,
            organization_name: r.organization_name,
            status: AssessmentStatus::parse(&m.status).unwrap_or(AssessmentStatus::Withdrawn),
            scheme_id: m.scheme_id,
            total_points: m.total_tenths.map(|t| t as f64 / 10.0),
            grade: m.grade.as_deref().and_then(Grade::parse),
            notice_until: m.notice_until.map(time),
            valid_until: m.valid_until,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"organization_id": 1, "scheme_id": 1, "assessor_ids": [7, 8, 9]}))]
pub struct OpenAssessmentRequest {
    pub organization_id: i64,
    /// A published scheme that applies to the organization's region.
    pub scheme_id: i64,
    /// 1–7 people from the assessor pools of the organization's regions.
    pub assessor_ids: Vec<i64>,
}

/// Open an assessment of an eligible organization. Civil affairs over it.
#[utoipa::path(post, path = "/api/v1/rating-assessments", operation_id = "openRatingAssessment", tag = "ratings",
    security(("bearer" = [])), request_body = OpenAssessmentRequest,
    responses(
        (status = 201, body = AssessmentResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM, description = "no such organization"),
        (status = 409, body = Problem, content_type = JSON_PROBLEM,
            description = "`not_eligible` (each failed rule in `errors`), `assessment_open`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM,
            description = "`validation_failed`: scheme not applicable, assessors not in the pool, repeated, not 1–7, or with a conflict (`assessor_conflict`: the organization's own staff or the opener)"),
    ))]
#[post("/rating-assessments")]
pub async fn open_assessment(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    body: web::Json<OpenAssessmentRequest>,
) -> AppResult<HttpResponse> {
    let b = body.into_inner();
    if b.assessor_ids.len() > 50 {
        return Err(AppError::invalid("assessor_ids", "count", "评估专家须为 1–7 人"));
    }
    let v = service::ratings::open(&ctx, &user, b.organization_id, b.scheme_id, b.assessor_ids).await?;
    Ok(HttpResponse::Created().json(AssessmentResponse::from(v)))
}

/// The assessments the caller sits on the panel of, newest first.
#[utoipa::path(get, path = "/api/v1/me/rating-assessments", operation_id = "myRatingAssessments", tag = "ratings",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<AssessmentRowResponse>),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/me/rating-assessments")]
pub async fn my_assessments(
    ctx: web::Data<AppContext>,
    user: AuthUser,
) -> AppResult<web::Json<Vec<AssessmentRowResponse>>> {
    Ok(web::Json(service::ratings::mine(&ctx, &user).await?.into_iter().map(Into::into).collect()))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct RegionAssessmentsQuery {
    #[param(value_type = Option<AssessmentStatus>)]
    pub status: Option<String>,
}

/// Assessments of organizations under a region (newest 500). Street office, civil affairs.
#[utoipa::path(get, path = "/api/v1/regions/{id}/rating-assessments", operation_id = "regionRatingAssessments", tag = "ratings",
    params(("id" = i64, Path), RegionAssessmentsQuery), security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<AssessmentRowResponse>),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "unknown status"),
    ))]
#[get("/regions/{id}/rating-assessments")]
pub async fn region_assessments(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    query: web::Query<RegionAssessmentsQuery>,
) -> AppResult<web::Json<Vec<AssessmentRowResponse>>> {
    let status = match query.into_inner().status {
        None => None,
        Some(s) => Some(AssessmentStatus::parse(&s).ok_or_else(|| {
            AppError::invalid("status", "unknown_status", format!("状态须为 {} 之一", AssessmentStatus::list()))
        })?),
    };
    let rows = service::ratings::in_region(&ctx, &user, id.into_inner(), status).await?;
    Ok(web::Json(rows.into_iter().map(Into::into).collect()))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct NoticesQuery {
    pub region_id: i64,
}

/// The public notice (公示): results under a region on notice or under appeal now. Anyone.
#[utoipa::path(get, path = "/api/v1/rating-notices", operation_id = "listRatingNotices", tag = "ratings",
    params(NoticesQuery),
    responses(
        (status = 200, body = Vec<AssessmentRowResponse>),
        (status = 404, body = Problem, content_type = JSON_PROBLEM, description = "no such region"),
    ))]
#[get("/rating-notices")]
pub async fn rating_notices(
    ctx: web::Data<AppContext>,
    query: web::Query<NoticesQuery>,
) -> AppResult<web::Json<Vec<AssessmentRowResponse>>> {
    Ok(web::Json(service::ratings::on_notice(&ctx, query.region_id).await?.into_iter().map(Into::into).collect()))
}

/// One assessment: civil affairs and the panel see everything; the organization's staff and
/// the street office and committee over it see the scores once on notice.
#[utoipa::path(get, path = "/api/v1/rating-assessments/{id}", operation_id = "getRatingAssessment", tag = "ratings",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = AssessmentResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/rating-assessments/{id}")]
pub async fn get_assessment(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<AssessmentResponse>> {
    Ok(web::Json(service::ratings::get(&ctx, &user, id.into_inner()).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkRequest {
    /// A leaf indicator's code.
    pub indicator: String,
    /// Whole points, 0 to the leaf's maximum.
    pub score: i64,
    /// ≤ 500 characters.
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"scores": [{"indicator": "basic.standing", "score": 28, "note": "备案材料齐全"}]}))]
pub struct ScoreRequest {
    /// 1–200 leaves; each replaces the caller's earlier score of that leaf (kept).
    pub scores: Vec<MarkRequest>,
}

/// Score leaves. A member of the panel, while scoring.
#[utoipa::path(put, path = "/api/v1/rating-assessments/{id}/scores", operation_id = "scoreRatingAssessment", tag = "ratings",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = ScoreRequest,
    responses(
        (status = 200, body = AssessmentResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`not_scoring`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "unknown or non-leaf indicator, score out of range"),
    ))]
#[put("/rating-assessments/{id}/scores")]
pub async fn score_assessment(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<ScoreRequest>,
) -> AppResult<web::Json<AssessmentResponse>> {
    let marks = body
        .into_inner()
        .scores
        .into_iter()
        .map(|m| MarkInput { indicator: m.indicator, score: m.score, note: m.note.filter(|n| !n.trim().is_empty()) })
        .collect();
    Ok(web::Json(service::ratings::score(&ctx, &user, id.into_inner(), marks).await?.into()))
}

/// Close scoring: total, grade, and the public notice begins. Civil affairs over it.
#[utoipa::path(post, path = "/api/v1/rating-assessments/{id}/finalize", operation_id = "finalizeRatingAssessment", tag = "ratings",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = AssessmentResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM,
            description = "`scores_missing` (each leaf some panel member has not scored in `errors`), `not_eligible` (no longer: each failed rule in `errors`), `not_scoring`"),
    ))]
#[post("/rating-assessments/{id}/finalize")]
pub async fn finalize_assessment(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<AssessmentResponse>> {
    Ok(web::Json(service::ratings::finalize(&ctx, &user, id.into_inner()).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    /// 1–500 characters.
    pub reason: String,
}

/// Appeal the result during the notice period, once. The organization's leader.
#[utoipa::path(post, path = "/api/v1/rating-assessments/{id}/appeal", operation_id = "appealRatingAssessment", tag = "ratings",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = ReasonRequest,
    responses(
        (status = 200, body = AssessmentResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`not_on_notice`, `appeal_used`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/rating-assessments/{id}/appeal")]
pub async fn appeal_assessment(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<ReasonRequest>,
) -> AppResult<web::Json<AssessmentResponse>> {
    let mut c = Checker::default();
    let reason = c.text("reason", Some(body.into_inner().reason), 1, 500, "申诉理由须为 1–500 个字符");
    let reason = c.finish(reason)?.unwrap_or_default();
    Ok(web::Json(service::ratings::appeal(&ctx, &user, id.into_inner(), reason).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppealDecisionRequest {
    pub decision: AppealDecision,
    /// The answer to the organization, 1–500 characters.
    pub answer: String,
}

/// Answer an appeal: rescore, or dismiss. Civil affairs over it.
#[utoipa::path(post, path = "/api/v1/rating-assessments/{id}/appeal-decision", operation_id = "decideRatingAppeal", tag = "ratings",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = AppealDecisionRequest,
    responses(
        (status = 200, body = AssessmentResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`not_appealed`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/rating-assessments/{id}/appeal-decision")]
pub async fn decide_appeal(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<AppealDecisionRequest>,
) -> AppResult<web::Json<AssessmentResponse>> {
    let body = body.into_inner();
    let mut c = Checker::default();
    let answer = c.text("answer", Some(body.answer), 1, 500, "答复须为 1–500 个字符");
    let answer = c.finish(answer)?.unwrap_or_default();
    Ok(web::Json(service::ratings::decide_appeal(&ctx, &user, id.into_inner(), body.decision, answer).await?.into()))
}

/// Withdraw an assessment under way, with a reason. Civil affairs over it.
#[utoipa::path(post, path = "/api/v1/rating-assessments/{id}/withdraw", operation_id = "withdrawRatingAssessment", tag = "ratings",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = ReasonRequest,
    responses(
        (status = 200, body = AssessmentResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`assessment_closed`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/rating-assessments/{id}/withdraw")]
pub async fn withdraw_assessment(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<ReasonRequest>,
) -> AppResult<web::Json<AssessmentResponse>> {
    let mut c = Checker::default();
    let reason = c.text("reason", Some(body.into_inner().reason), 1, 500, "理由须为 1–500 个字符");
    let reason = c.finish(reason)?.unwrap_or_default();
    Ok(web::Json(service::ratings::withdraw(&ctx, &user, id.into_inner(), reason).await?.into()))
}

// ---- satisfaction --------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct SatisfactionResponse {
    pub organization_id: i64,
    pub year: i32,
    pub responses: i64,
    /// The mean score, one decimal; `null` without responses.
    pub mean: Option<f64>,
    /// Responses per score, 1 to 5.
    pub counts: [i64; 5],
    /// The caller's own score of the year, if signed in and given.
    pub mine: Option<i16>,
}

fn satisfaction(org_id: i64, s: Summary) -> SatisfactionResponse {
    SatisfactionResponse {
        organization_id: org_id,
        year: s.year,
        responses: s.responses,
        mean: (s.responses > 0).then(|| s.mean_tenths as f64 / 10.0),
        counts: s.counts,
        mine: s.mine,
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SatisfactionRequest {
    /// 1 (very unsatisfied) to 5 (very satisfied).
    #[schema(minimum = 1, maximum = 5)]
    pub score: i64,
}

/// Score an organization for this year (a second score replaces the first). Residents
/// checked in at one of its activities this year.
#[utoipa::path(put, path = "/api/v1/organizations/{id}/satisfaction", operation_id = "rateOrganization", tag = "ratings",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = SatisfactionRequest,
    responses(
        (status = 200, body = SatisfactionResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`not_attended`, `own_organization`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "score outside 1–5"),
    ))]
#[put("/organizations/{id}/satisfaction")]
pub async fn rate_satisfaction(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<SatisfactionRequest>,
) -> AppResult<web::Json<SatisfactionResponse>> {
    let id = id.into_inner();
    let s = service::satisfaction::rate(&ctx, &user, id, body.score).await?;
    Ok(web::Json(satisfaction(id, s)))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SatisfactionQuery {
    /// 2000–9998; this year (Asia/Shanghai) when absent.
    pub year: Option<i32>,
}

/// An organization's satisfaction scores of a year. Anyone.
#[utoipa::path(get, path = "/api/v1/organizations/{id}/satisfaction", operation_id = "getSatisfaction", tag = "ratings",
    params(("id" = i64, Path), SatisfactionQuery),
    responses(
        (status = 200, body = SatisfactionResponse),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "year outside 2000–9998"),
    ))]
#[get("/organizations/{id}/satisfaction")]
pub async fn get_satisfaction(
    ctx: web::Data<AppContext>,
    user: MaybeAuthUser,
    id: web::Path<i64>,
    query: web::Query<SatisfactionQuery>,
) -> AppResult<web::Json<SatisfactionResponse>> {
    let id = id.into_inner();
    let year = query.year.unwrap_or_else(|| to_shanghai(ctx.now()).year());
    if !(2000..=9998).contains(&year) {
        return Err(AppError::invalid("year", "range", "年份须在 2000 到 9998 之间"));
    }
    let s = service::satisfaction::summary(&ctx.db, user.0.as_ref(), id, year).await?;
    Ok(web::Json(satisfaction(id, s)))
}
