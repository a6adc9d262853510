//! `/hubs`: hub organizations (枢纽型组织) of a street or community, their members
//! (request and accept) and their staff (`hub_staff`).

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    api::{checks::Checker, types::time},
    auth::AuthUser,
    context::AppContext,
    domain::hub::{HubKind, MembershipAction, MembershipStatus},
    error::{AppResult, Problem},
    service::{
        self,
        hubs::{HubStaffMember, HubView, MembershipView},
    },
};

const JSON_PROBLEM: &str = "application/problem+json";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(mark)
        .service(list)
        .service(get_one)
        .service(request_membership)
        .service(list_members)
        .service(decide_membership)
        .service(leave)
        .service(add_staff);
}

// ---- requests --------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"organization_id": 3, "region_id": 4, "kind": "federation", "reason": "街道社会组织联合会，负责协调辖区各社区社会组织"}))]
pub struct MarkHubRequest {
    /// A filed or registered organization of the region.
    pub organization_id: i64,
    /// The street (or community) it is the hub of.
    pub region_id: i64,
    pub kind: HubKind,
    /// Why, 1–200 characters; kept on the hub.
    #[schema(min_length = 1, max_length = 200)]
    pub reason: String,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct HubsQuery {
    /// A region: its hubs and those of the regions under it.
    pub region_id: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembershipRequest {
    /// The organization asking to join; the caller leads it.
    pub organization_id: i64,
    /// At most 200 characters.
    #[schema(max_length = 200)]
    pub message: Option<String>,
}

#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MembershipDecision {
    Accept,
    Decline,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideMembershipRequest {
    pub decision: MembershipDecision,
    /// Required to decline, 1–200 characters.
    #[schema(max_length = 200)]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaveRequest {
    /// Why, 1–200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HubStaffRequest {
    pub user_id: i64,
}

// ---- responses -------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct HubMemberRef {
    pub id: i64,
    pub name: String,
    pub community_id: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HubResponse {
    pub id: i64,
    pub organization_id: i64,
    pub organization_name: String,
    pub region_id: i64,
    pub region_name: String,
    pub kind: HubKind,
    pub reason: String,
    pub marked_by: i64,
    pub marked_at: DateTime<FixedOffset>,
    /// Active members.
    pub members: Vec<HubMemberRef>,
    pub members_count: usize,
}

impl From<HubView> for HubResponse {
    fn from(v: HubView) -> Self {
        let members: Vec<HubMemberRef> = v
            .members
            .into_iter()
            .map(|o| HubMemberRef { id: o.id, name: o.name, community_id: o.community_id })
            .collect();
        Self {
            id: v.hub.id,
            organization_id: v.organization.id,
            organization_name: v.organization.name,
            region_id: v.region.id,
            region_name: v.region.name,
            kind: HubKind::parse(&v.hub.kind).unwrap_or(HubKind::Federation),
            reason: v.hub.reason,
            marked_by: v.hub.marked_by,
            marked_at: time(v.hub.marked_at),
            members_count: members.len(),
            members,
        }
    }
}

/// A membership with every step: requested (who, when, message), decided (who, when,
/// why), left (who, when, why).
#[derive(Debug, Serialize, ToSchema)]
pub struct HubMembershipResponse {
    pub id: i64,
    pub hub_id: i64,
    pub organization_id: i64,
    pub organization_name: String,
    pub status: MembershipStatus,
    pub message: Option<String>,
    pub requested_by: i64,
    pub requested_at: DateTime<FixedOffset>,
    pub decided_by: Option<i64>,
    pub decided_at: Option<DateTime<FixedOffset>>,
    pub decision_reason: Option<String>,
    pub left_by: Option<i64>,
    pub left_at: Option<DateTime<FixedOffset>>,
    pub left_reason: Option<String>,
}

impl From<MembershipView> for HubMembershipResponse {
    fn from(v: MembershipView) -> Self {
        let m = v.membership;
        Self {
            id: m.id,
            hub_id: m.hub_id,
            organization_id: m.organization_id,
            organization_name: v.organization_name,
            status: MembershipStatus::parse(&m.status).unwrap_or(MembershipStatus::Left),
            message: m.message,
            requested_by: m.requested_by,
            requested_at: time(m.requested_at),
            decided_by: m.decided_by,
            decided_at: m.decided_at.map(time),
            decision_reason: m.decision_reason,
            left_by: m.left_by,
            left_at: m.left_at.map(time),
            left_reason: m.left_reason,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HubStaffResponse {
    pub user_id: i64,
    pub nickname: Option<String>,
    pub since: DateTime<FixedOffset>,
}

impl From<HubStaffMember> for HubStaffResponse {
    fn from(s: HubStaffMember) -> Self {
        Self { user_id: s.user_id, nickname: s.nickname, since: time(s.since) }
    }
}

fn reason(c: &mut Checker, value: Option<String>) -> Option<String> {
    c.text("reason", value, 1, 200, "理由须为 1–200 个字符")
}

// ---- handlers --------------------------------------------------------------------------

/// Mark an organization as the hub of a street or community (the street office over it,
/// or civil affairs above).
#[utoipa::path(post, path = "/api/v1/hubs", operation_id = "markHub", tag = "hubs",
    security(("bearer" = [])), request_body = MarkHubRequest,
    responses(
        (status = 201, body = HubResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the street office or civil affairs over the region"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`already_hub`, `not_recognised`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "`validation_failed`: a region not a street or community, an organization outside it, a reason missing"),
    ))]
#[post("/hubs")]
pub async fn mark(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    body: web::Json<MarkHubRequest>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let mut c = Checker::default();
    let reason = reason(&mut c, Some(body.reason));
    let reason = c.finish(reason)?.unwrap_or_default();
    let view = service::hubs::mark(&ctx, &user, body.organization_id, body.region_id, body.kind, reason).await?;
    Ok(HttpResponse::Created().json(HubResponse::from(view)))
}

/// The hubs of a region and of the regions under it, with their members: public, as the
/// street's page shows them.
#[utoipa::path(get, path = "/api/v1/hubs", operation_id = "listHubs", tag = "hubs", params(HubsQuery),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = Vec<HubResponse>),
        (status = 404, body = Problem, content_type = JSON_PROBLEM, description = "no such region"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/hubs")]
pub async fn list(ctx: web::Data<AppContext>, query: web::Query<HubsQuery>) -> AppResult<web::Json<Vec<HubResponse>>> {
    let hubs = service::hubs::list(&ctx, query.region_id).await?;
    Ok(web::Json(hubs.into_iter().map(Into::into).collect()))
}

/// One hub and its active members: public.
#[utoipa::path(get, path = "/api/v1/hubs/{id}", operation_id = "getHub", tag = "hubs", params(("id" = i64, Path)),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = HubResponse),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/hubs/{id}")]
pub async fn get_one(ctx: web::Data<AppContext>, path: web::Path<i64>) -> AppResult<web::Json<HubResponse>> {
    Ok(web::Json(service::hubs::detail(&ctx, path.into_inner()).await?.into()))
}

/// Ask to join a hub: the leader of a filed or registered organization of the hub's
/// region. The hub's leaders are told.
#[utoipa::path(post, path = "/api/v1/hubs/{id}/members", operation_id = "requestHubMembership", tag = "hubs",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = MembershipRequest,
    responses(
        (status = 201, body = HubMembershipResponse, description = "`requested`"),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the organization's leader"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`membership_open`, `not_recognised`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "the hub itself, or outside the hub's region"),
    ))]
#[post("/hubs/{id}/members")]
pub async fn request_membership(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<i64>,
    body: web::Json<MembershipRequest>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let mut c = Checker::default();
    let message = c.text("message", body.message, 1, 200, "留言不超过 200 个字符");
    let message = c.finish(message)?;
    let view = service::hubs::request(&ctx, &user, path.into_inner(), body.organization_id, message).await?;
    Ok(HttpResponse::Created().json(HubMembershipResponse::from(view)))
}

/// Every membership of a hub, requests and past ones included: for the hub's staff and
/// the officials over its region.
#[utoipa::path(get, path = "/api/v1/hubs/{id}/members", operation_id = "listHubMemberships", tag = "hubs",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<HubMembershipResponse>),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/hubs/{id}/members")]
pub async fn list_members(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<i64>,
) -> AppResult<web::Json<Vec<HubMembershipResponse>>> {
    let rows = service::hubs::memberships(&ctx, &user, path.into_inner()).await?;
    Ok(web::Json(rows.into_iter().map(Into::into).collect()))
}

/// Accept or decline a request (the hub's leader); declining needs a reason.
#[utoipa::path(post, path = "/api/v1/hubs/{id}/members/{membership_id}/decision", operation_id = "decideHubMembership", tag = "hubs",
    params(("id" = i64, Path), ("membership_id" = i64, Path)), security(("bearer" = [])), request_body = DecideMembershipRequest,
    responses(
        (status = 200, body = HubMembershipResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the hub's leader"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`invalid_transition`: not a pending request"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "a decline without a reason"),
    ))]
#[post("/hubs/{id}/members/{membership_id}/decision")]
pub async fn decide_membership(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<(i64, i64)>,
    body: web::Json<DecideMembershipRequest>,
) -> AppResult<web::Json<HubMembershipResponse>> {
    let (hub_id, membership_id) = path.into_inner();
    let body = body.into_inner();
    let mut c = Checker::default();
    let reason = reason(&mut c, body.reason);
    let reason = c.finish(reason)?;
    let action = match body.decision {
        MembershipDecision::Accept => MembershipAction::Accept,
        MembershipDecision::Decline => MembershipAction::Decline,
    };
    let view = service::hubs::act(&ctx, &user, hub_id, membership_id, action, reason).await?;
    Ok(web::Json(view.into()))
}

/// An active member leaves (its leader), or the hub's leader removes it; with a reason.
#[utoipa::path(post, path = "/api/v1/hubs/{id}/members/{membership_id}/leave", operation_id = "leaveHub", tag = "hubs",
    params(("id" = i64, Path), ("membership_id" = i64, Path)), security(("bearer" = [])), request_body = LeaveRequest,
    responses(
        (status = 200, body = HubMembershipResponse, description = "`left`"),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "neither the member's nor the hub's leader"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`invalid_transition`: not an active member"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/hubs/{id}/members/{membership_id}/leave")]
pub async fn leave(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<(i64, i64)>,
    body: web::Json<LeaveRequest>,
) -> AppResult<web::Json<HubMembershipResponse>> {
    let (hub_id, membership_id) = path.into_inner();
    let mut c = Checker::default();
    let reason = reason(&mut c, Some(body.into_inner().reason));
    let reason = c.finish(reason)?;
    let view = service::hubs::act(&ctx, &user, hub_id, membership_id, MembershipAction::Leave, reason).await?;
    Ok(web::Json(view.into()))
}

/// Grant `hub_staff` on the hub (its leader): they read the members' figures, annual
/// reports and projects, and run an incubation base entrusted to the hub. Answers the
/// hub's staff.
#[utoipa::path(post, path = "/api/v1/hubs/{id}/staff", operation_id = "addHubStaff", tag = "hubs",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = HubStaffRequest,
    responses(
        (status = 200, body = Vec<HubStaffResponse>),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the hub's leader"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "no such user"),
    ))]
#[post("/hubs/{id}/staff")]
pub async fn add_staff(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<i64>,
    body: web::Json<HubStaffRequest>,
) -> AppResult<web::Json<Vec<HubStaffResponse>>> {
    let staff = service::hubs::add_staff(&ctx, &user, path.into_inner(), body.user_id).await?;
    Ok(web::Json(staff.into_iter().map(Into::into).collect()))
}
