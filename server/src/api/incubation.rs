//! Incubation (孵化): `/incubation-bases` (a street's base, its groups) and
//! `/incubatees` (a group's record: mentors, sessions and milestones, decisions). A
//! graduate files with `POST /organizations` and `incubatee_id`.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    api::{checks::Checker, types::time},
    auth::AuthUser,
    context::AppContext,
    domain::{
        incubation::{EntryKind, IncubateeStatus, IncubationAction},
        organization::Category,
        time::parse_date,
    },
    error::{AppError, AppResult, Problem},
    service::{
        self,
        incubation::{Admission, BaseView, Decision, Entry, IncubateeView},
    },
};

const JSON_PROBLEM: &str = "application/problem+json";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(open_base)
        .service(get_base)
        .service(admit)
        .service(get_one)
        .service(assign_mentor)
        .service(record)
        .service(decide);
}

// ---- requests --------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "城关街道社会组织孵化基地", "street_id": 4, "hub_id": 1, "description": "为初创社区社会组织提供场地、辅导和培训"}))]
pub struct OpenBaseRequest {
    /// 1–50 characters.
    #[schema(min_length = 1, max_length = 50)]
    pub name: String,
    /// The street (or township) it serves.
    pub street_id: i64,
    /// A hub of the street the base is entrusted to (its leader and hub staff run it);
    /// `null`: run by the street office.
    pub hub_id: Option<i64>,
    /// At most 500 characters.
    #[schema(max_length = 500)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "金塔巷书法兴趣小组", "category": "culture_sports", "community_id": 11, "contact_user_id": 7,
    "description": "退休教师发起的书法小组", "months": 6, "reason": "有稳定骨干和活动计划"}))]
pub struct AdmitRequest {
    /// The group's name, 1–50 characters.
    #[schema(min_length = 1, max_length = 50)]
    pub name: String,
    pub category: Category,
    /// A community of the base's street.
    pub community_id: i64,
    /// The group's contact person (a user): they are told of decisions and file the
    /// group after graduation.
    pub contact_user_id: i64,
    /// At most 500 characters.
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// The incubation period, 1–24 months from today.
    #[schema(minimum = 1, maximum = 24)]
    pub months: u32,
    /// Why it is admitted, 1–200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MentorRequest {
    pub user_id: i64,
    /// At most 200 characters (the mentor's field, e.g. 社工师).
    #[schema(max_length = 200)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "session", "occurred_on": "2026-03-02", "title": "章程与财务制度辅导", "notes": "讲解备案材料", "minutes": 90}))]
pub struct EntryRequest {
    pub kind: EntryKind,
    /// `YYYY-MM-DD` (Asia/Shanghai), between admission and today.
    #[schema(format = Date)]
    pub occurred_on: String,
    /// 1–50 characters.
    #[schema(min_length = 1, max_length = 50)]
    pub title: String,
    /// At most 1000 characters.
    #[schema(max_length = 1000)]
    pub notes: Option<String>,
    /// Sessions: 1–600 minutes; milestones: omitted.
    pub minutes: Option<i32>,
}

#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    Extend,
    Graduate,
    Exit,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"decision": "graduate", "reason": "骨干稳定，已连续开展活动 6 个月"}))]
pub struct DecisionRequest {
    pub decision: DecisionKind,
    /// `extend` only: 1–12 months more.
    pub months: Option<u32>,
    /// Why, 1–200 characters; kept with who and when.
    #[schema(min_length = 1, max_length = 200)]
    pub reason: String,
}

// ---- responses -------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct IncubateeSummary {
    pub id: i64,
    pub name: String,
    pub category: Category,
    pub community_id: i64,
    pub status: IncubateeStatus,
    pub admitted_on: NaiveDate,
    pub ends_on: NaiveDate,
    /// The filing application it graduated into.
    pub organization_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BaseResponse {
    pub id: i64,
    pub name: String,
    pub street_id: i64,
    pub hub_id: Option<i64>,
    pub description: String,
    pub created_by: i64,
    pub created_at: DateTime<FixedOffset>,
    pub incubatees: Vec<IncubateeSummary>,
}

fn summary(i: crate::entity::incubatee::Model) -> IncubateeSummary {
    IncubateeSummary {
        id: i.id,
        category: Category::parse(&i.category).unwrap_or(Category::CommunityService),
        status: IncubateeStatus::parse(&i.status).unwrap_or(IncubateeStatus::Exited),
        name: i.name,
        community_id: i.community_id,
        admitted_on: i.admitted_on,
        ends_on: i.ends_on,
        organization_id: i.organization_id,
    }
}

impl From<BaseView> for BaseResponse {
    fn from(v: BaseView) -> Self {
        let b = v.base;
        Self {
            id: b.id,
            name: b.name,
            street_id: b.street_id,
            hub_id: b.hub_id,
            description: b.description,
            created_by: b.created_by,
            created_at: time(b.created_at),
            incubatees: v.incubatees.into_iter().map(summary).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MentorResponse {
    pub user_id: i64,
    pub note: Option<String>,
    pub assigned_by: i64,
    pub assigned_at: DateTime<FixedOffset>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntryResponse {
    pub id: i64,
    pub kind: EntryKind,
    pub occurred_on: NaiveDate,
    pub title: String,
    pub notes: String,
    /// Sessions: their length in minutes.
    pub minutes: Option<i32>,
    pub recorded_by: i64,
    pub recorded_at: DateTime<FixedOffset>,
}

/// A decision: who, when, why, and the period's end after it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionResponse {
    pub action: IncubationAction,
    pub from_status: Option<IncubateeStatus>,
    pub to_status: IncubateeStatus,
    pub ends_on: NaiveDate,
    pub reason: String,
    pub actor_id: i64,
    pub at: DateTime<FixedOffset>,
}

/// A group's incubation record: shown to its base, mentors and contact person, to the
/// officials over its community, and on the filing application it graduated into.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncubateeResponse {
    #[serde(flatten)]
    pub group: IncubateeSummary,
    pub base_id: i64,
    pub base_name: String,
    pub description: String,
    pub contact_user_id: i64,
    pub mentors: Vec<MentorResponse>,
    pub entries: Vec<EntryResponse>,
    /// Mentoring sessions held, and their minutes in all.
    pub sessions: usize,
    pub session_minutes: i64,
    pub milestones: usize,
    pub decisions: Vec<DecisionResponse>,
}

impl From<IncubateeView> for IncubateeResponse {
    fn from(v: IncubateeView) -> Self {
        let sessions = v.entries.iter().filter(|e| e.kind == EntryKind::Session.as_str()).count();
        let session_minutes = v.entries.iter().filter_map(|e| e.minutes).map(i64::from).sum();
        let milestones = v.entries.iter().filter(|e| e.kind == EntryKind::Milestone.as_str()).count();
        Self {
            base_id: v.base.id,
            base_name: v.base.name,
            description: v.incubatee.description.clone(),
            contact_user_id: v.incubatee.contact_user_id,
            group: summary(v.incubatee),
            mentors: v
                .mentors
                .into_iter()
                .map(|m| MentorResponse {
                    user_id: m.user_id,
                    note: m.note,
                    assigned_by: m.assigned_by,
                    assigned_at: time(m.assigned_at),
                })
                .collect(),
            entries: v
                .entries
                .into_iter()
                .map(|e| EntryResponse {
                    id: e.id,
                    kind: EntryKind::parse(&e.kind).unwrap_or(EntryKind::Milestone),
                    occurred_on: e.occurred_on,
                    title: e.title,
                    notes: e.notes,
                    minutes: e.minutes,
                    recorded_by: e.recorded_by,
                    recorded_at: time(e.recorded_at),
                })
                .collect(),
            sessions,
            session_minutes,
            milestones,
            decisions: v
                .decisions
                .into_iter()
                .map(|d| DecisionResponse {
                    action: IncubationAction::parse(&d.action).unwrap_or(IncubationAction::Admit),
                    from_status: d.from_status.as_deref().and_then(IncubateeStatus::parse),
                    to_status: IncubateeStatus::parse(&d.to_status).unwrap_or(IncubateeStatus::Incubating),
                    ends_on: d.ends_on,
                    reason: d.reason,
                    actor_id: d.actor_id,
                    at: time(d.at),
                })
                .collect(),
        }
    }
}

fn reason(c: &mut Checker, value: String) -> Option<String> {
    c.text("reason", Some(value), 1, 200, "理由须为 1–200 个字符")
}

// ---- handlers --------------------------------------------------------------------------

/// Open an incubation base for a street (its street office, or civil affairs above),
/// run by the street office or entrusted to a hub of the street.
#[utoipa::path(post, path = "/api/v1/incubation-bases", operation_id = "openIncubationBase", tag = "incubation",
    security(("bearer" = [])), request_body = OpenBaseRequest,
    responses(
        (status = 201, body = BaseResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the street office or civil affairs over the street"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "not a street, a hub outside it, a name out of range"),
    ))]
#[post("/incubation-bases")]
pub async fn open_base(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    body: web::Json<OpenBaseRequest>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let mut c = Checker::default();
    let name = c.text("name", Some(body.name), 1, 50, "名称须为 1–50 个字符");
    let description = c.text("description", body.description, 0, 500, "简介不超过 500 个字符");
    let (name, description) = c.finish((name.unwrap_or_default(), description.unwrap_or_default()))?;
    let view = service::incubation::open_base(&ctx, &user, name, body.street_id, body.hub_id, description).await?;
    Ok(HttpResponse::Created().json(BaseResponse::from(view)))
}

/// A base and its groups: for its managers and the officials over its street.
#[utoipa::path(get, path = "/api/v1/incubation-bases/{id}", operation_id = "getIncubationBase", tag = "incubation",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = BaseResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/incubation-bases/{id}")]
pub async fn get_base(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<i64>,
) -> AppResult<web::Json<BaseResponse>> {
    Ok(web::Json(service::incubation::base(&ctx, &user, path.into_inner()).await?.into()))
}

/// Admit a start-up group (not filed yet) for a period: the base's managers. The
/// contact person is told.
#[utoipa::path(post, path = "/api/v1/incubation-bases/{id}/incubatees", operation_id = "admitIncubatee", tag = "incubation",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = AdmitRequest,
    responses(
        (status = 201, body = IncubateeResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the base's managers"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "a community outside the street, `months` out of range, no such contact"),
    ))]
#[post("/incubation-bases/{id}/incubatees")]
pub async fn admit(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<i64>,
    body: web::Json<AdmitRequest>,
) -> AppResult<HttpResponse> {
    let b = body.into_inner();
    let mut c = Checker::default();
    let name = c.text("name", Some(b.name), 1, 50, "名称须为 1–50 个字符");
    let description = c.text("description", b.description, 0, 500, "简介不超过 500 个字符");
    let reason = reason(&mut c, b.reason);
    let admission = c.finish(Admission {
        name: name.unwrap_or_default(),
        category: b.category,
        community_id: b.community_id,
        contact_user_id: b.contact_user_id,
        description: description.unwrap_or_default(),
        months: b.months,
        reason: reason.unwrap_or_default(),
    })?;
    let view = service::incubation::admit(&ctx, &user, path.into_inner(), admission).await?;
    Ok(HttpResponse::Created().json(IncubateeResponse::from(view)))
}

/// A group's incubation record: its base's managers, mentors and contact person, and the
/// officials over its community.
#[utoipa::path(get, path = "/api/v1/incubatees/{id}", operation_id = "getIncubatee", tag = "incubation",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = IncubateeResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/incubatees/{id}")]
pub async fn get_one(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<i64>,
) -> AppResult<web::Json<IncubateeResponse>> {
    Ok(web::Json(service::incubation::detail(&ctx, &user, path.into_inner()).await?.into()))
}

/// Assign a mentor (the base's managers); again is a no-op.
#[utoipa::path(post, path = "/api/v1/incubatees/{id}/mentors", operation_id = "assignMentor", tag = "incubation",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = MentorRequest,
    responses(
        (status = 200, body = IncubateeResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`not_incubating`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/incubatees/{id}/mentors")]
pub async fn assign_mentor(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<i64>,
    body: web::Json<MentorRequest>,
) -> AppResult<web::Json<IncubateeResponse>> {
    let b = body.into_inner();
    let mut c = Checker::default();
    let note = c.text("note", b.note, 1, 200, "备注不超过 200 个字符");
    let note = c.finish(note)?;
    Ok(web::Json(service::incubation::assign_mentor(&ctx, &user, path.into_inner(), b.user_id, note).await?.into()))
}

/// Record a mentoring session (with minutes) or a milestone: a mentor or the base's
/// managers.
#[utoipa::path(post, path = "/api/v1/incubatees/{id}/entries", operation_id = "recordIncubationEntry", tag = "incubation",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = EntryRequest,
    responses(
        (status = 201, body = IncubateeResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`not_incubating`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "a date outside the period, minutes out of range"),
    ))]
#[post("/incubatees/{id}/entries")]
pub async fn record(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<i64>,
    body: web::Json<EntryRequest>,
) -> AppResult<HttpResponse> {
    let b = body.into_inner();
    let mut c = Checker::default();
    let title = c.text("title", Some(b.title), 1, 50, "标题须为 1–50 个字符");
    let notes = c.text("notes", b.notes, 0, 1000, "记录不超过 1000 个字符");
    let occurred_on = match parse_date(&b.occurred_on) {
        Ok(d) => Some(d),
        Err(_) => {
            c.fail("occurred_on", "date", "日期格式须为 YYYY-MM-DD");
            None
        }
    };
    let entry = c.finish(Entry {
        kind: b.kind,
        occurred_on: occurred_on.unwrap_or_default(),
        title: title.unwrap_or_default(),
        notes: notes.unwrap_or_default(),
        minutes: b.minutes,
    })?;
    let view = service::incubation::record_entry(&ctx, &user, path.into_inner(), entry).await?;
    Ok(HttpResponse::Created().json(IncubateeResponse::from(view)))
}

/// Extend, graduate or exit a group (the base's managers), with a reason. A graduate's
/// contact person then files it: `POST /organizations` with `incubatee_id`.
#[utoipa::path(post, path = "/api/v1/incubatees/{id}/decision", operation_id = "decideIncubatee", tag = "incubation",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = DecisionRequest,
    responses(
        (status = 200, body = IncubateeResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the base's managers"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`invalid_transition`: incubation already ended"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "no reason; `months` missing or out of range for `extend`"),
    ))]
#[post("/incubatees/{id}/decision")]
pub async fn decide(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<i64>,
    body: web::Json<DecisionRequest>,
) -> AppResult<web::Json<IncubateeResponse>> {
    let b = body.into_inner();
    let mut c = Checker::default();
    let reason = reason(&mut c, b.reason);
    let decision = match (b.decision, b.months) {
        (DecisionKind::Extend, Some(months)) => Decision::Extend { months },
        (DecisionKind::Extend, None) => {
            c.fail("months", "required", "延期须填写月数");
            Decision::Extend { months: 0 }
        }
        (DecisionKind::Graduate, _) => Decision::Graduate,
        (DecisionKind::Exit, _) => Decision::Exit,
    };
    let reason = c.finish(reason)?.ok_or_else(|| AppError::invalid("reason", "required", "须说明理由"))?;
    Ok(web::Json(service::incubation::decide(&ctx, &user, path.into_inner(), decision, reason).await?.into()))
}
