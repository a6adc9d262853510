//! `/invitations` and `/people/lookup`: naming who gets a role without their internal id —
//! a short-lived single-use invitation code (or the mini-program page that carries it),
//! or the phone number they bound.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    api::{checks::Checker, types::time},
    auth::AuthUser,
    context::AppContext,
    domain::{
        invitation::{InvitationState, display_code},
        pagination::{Page, PageQuery, encode_id_cursor},
        role::Role,
    },
    error::{AppError, AppResult, Problem},
    service::{
        self,
        invitations::{InvitationInput, InvitationView, Person},
    },
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(create).service(list).service(preview).service(accept).service(revoke).service(lookup);
}

const JSON_PROBLEM: &str = "application/problem+json";

/// The mini-program page an invitation opens (shared as a card or a QR code made from it).
pub const ACCEPT_PAGE: &str = "pages/invite/accept";

/// The mini-program page that accepts the invitation `code` (as stored).
pub fn accept_page(code: &str) -> String {
    format!("{ACCEPT_PAGE}?code={code}")
}

fn role_of(c: &mut Checker, role: &str) -> Option<Role> {
    let parsed = Role::parse(role);
    if parsed.is_none() {
        c.fail("role", "unknown_role", "未知的角色");
    }
    parsed
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"role": "org_staff", "scope_id": 1, "ttl_hours": 72, "note": "给王阿姨"}))]
pub struct InvitationRequest {
    /// The role offered (any but `resident` and `system_admin`), as in `GET /me`'s roles.
    #[schema(example = "org_staff")]
    pub role: String,
    /// The organization (for `org_staff`, `org_leader`) or region it is offered on.
    pub scope_id: Option<i64>,
    /// Hours it lasts: 1–168, default 72.
    #[schema(minimum = 1, maximum = 168)]
    pub ttl_hours: Option<i64>,
    /// A note for the inviter's own list, at most 64 characters; never shown to the invitee.
    #[schema(max_length = 64)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// The code as given (`ABCDE-FGHJK`; case, spaces and dashes do not matter).
    #[schema(example = "ABCDE-FGHJK")]
    pub code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"phone": "13800138000", "role": "org_staff", "scope_id": 1}))]
pub struct LookupRequest {
    /// The number the person bound in the mini-program, exactly (spaces and dashes ignored).
    pub phone: String,
    /// The role about to be given, and where: the caller must be allowed to grant it.
    pub role: String,
    pub scope_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationResponse {
    pub id: i64,
    /// Give it to the invitee (`ABCDE-FGHJK`).
    pub code: String,
    /// The mini-program page that accepts it, with the code: share it as a card, or make
    /// the mini-program QR code from it (`scene` = the code without its dash).
    pub page: String,
    #[schema(value_type = String, example = "org_staff")]
    pub role: String,
    pub scope_id: Option<i64>,
    /// The organization's or region's name.
    pub scope_name: Option<String>,
    pub state: InvitationState,
    pub inviter_id: i64,
    pub inviter_nickname: Option<String>,
    /// The inviter's note: in the inviter's own views only.
    pub note: Option<String>,
    pub created_at: DateTime<FixedOffset>,
    pub expires_at: DateTime<FixedOffset>,
    pub accepted_by: Option<i64>,
    pub accepted_at: Option<DateTime<FixedOffset>>,
}

impl From<InvitationView> for InvitationResponse {
    fn from(v: InvitationView) -> Self {
        let i = v.invitation;
        Self {
            id: i.id,
            code: display_code(&i.code),
            page: accept_page(&i.code),
            role: v.role.as_str().to_owned(),
            scope_id: i.scope_id,
            scope_name: v.scope_name,
            state: v.state,
            inviter_id: i.created_by,
            inviter_nickname: v.inviter_nickname,
            note: if v.for_inviter { i.note } else { None },
            created_at: time(i.created_at),
            expires_at: time(i.expires_at),
            accepted_by: i.accepted_by,
            accepted_at: i.accepted_at.map(time),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonResponse {
    pub user_id: i64,
    pub nickname: Option<String>,
    /// `138****8000`.
    pub phone_masked: String,
    /// Whether they hold the role there already.
    pub holds_role: bool,
}

impl From<Person> for PersonResponse {
    fn from(p: Person) -> Self {
        Self { user_id: p.user_id, nickname: p.nickname, phone_masked: p.phone_masked, holds_role: p.holds_role }
    }
}

/// Invite someone to a role: for whoever may grant it on that scope (a leader invites
/// staff or a co-leader, a street office a committee member, …: the grant table). The
/// code is single-use and lasts `ttl_hours`.
#[utoipa::path(post, path = "/api/v1/invitations", operation_id = "createInvitation", tag = "invitations",
    security(("bearer" = [])), request_body = InvitationRequest,
    responses(
        (status = 201, body = InvitationResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "the caller may not grant this role on this scope"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM, description = "no such organization"),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`organization_not_active`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM,
            description = "`validation_failed`: `unknown_role`, `not_invitable`, a scope that does not fit the role, `ttl_hours` out of range, a note too long"),
    ))]
#[post("/invitations")]
pub async fn create(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    body: web::Json<InvitationRequest>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let mut c = Checker::default();
    let role = role_of(&mut c, &body.role);
    let note = c.text("note", body.note, 1, 64, "备注不超过 64 个字符");
    let Some(role) = role else { return Err(AppError::Validation(c.errors)) };
    let input = c.finish(InvitationInput { role, scope_id: body.scope_id, ttl_hours: body.ttl_hours, note })?;
    let view = service::invitations::create(&ctx, &user, input).await?;
    Ok(HttpResponse::Created().json(InvitationResponse::from(view)))
}

/// The caller's invitations, newest first, with their states.
#[utoipa::path(get, path = "/api/v1/invitations", operation_id = "listInvitations", tag = "invitations", params(PageQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Page<InvitationResponse>),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "bad limit or cursor"),
    ))]
#[get("/invitations")]
pub async fn list(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    query: web::Query<PageQuery>,
) -> AppResult<web::Json<Page<InvitationResponse>>> {
    let limit = query.limit()?;
    let before = query.after_id()?;
    let (items, next) = service::invitations::mine(&ctx, &user, before, limit).await?;
    Ok(web::Json(Page { items: items.into_iter().map(Into::into).collect(), next_cursor: next.map(encode_id_cursor) }))
}

/// What an invitation offers (who invites, to what role where, until when), before the
/// invitee accepts it. Signed in; at most 10 tries a minute. The code is sent in the body
/// so it stays out of URLs and logs.
#[utoipa::path(post, path = "/api/v1/invitations/preview", operation_id = "previewInvitation", tag = "invitations",
    security(("bearer" = [])), request_body = CodeRequest,
    responses(
        (status = 200, body = InvitationResponse, description = "its `state` says whether it can still be accepted"),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM, description = "no such code"),
        (status = 429, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/invitations/preview")]
pub async fn preview(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    body: web::Json<CodeRequest>,
) -> AppResult<web::Json<InvitationResponse>> {
    Ok(web::Json(service::invitations::preview(&ctx, &user, &body.code).await?.into()))
}

/// Accept an invitation, signed in: the role is granted as the inviter's grant (the
/// inviter is told). Repeating it answers the same. At most 10 tries a minute.
#[utoipa::path(post, path = "/api/v1/invitations/accept", operation_id = "acceptInvitation", tag = "invitations",
    security(("bearer" = [])), request_body = CodeRequest,
    responses(
        (status = 200, body = InvitationResponse, description = "`accepted`; the role shows in `GET /me` at once"),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM, description = "no such code"),
        (status = 409, body = Problem, content_type = JSON_PROBLEM,
            description = "`own_invitation`; for an organization role, the organization is no longer active"),
        (status = 410, body = Problem, content_type = JSON_PROBLEM,
            description = "`invitation_used` (by someone else), `invitation_expired`, `invitation_revoked`, `invitation_void` (the inviter may no longer grant it)"),
        (status = 429, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/invitations/accept")]
pub async fn accept(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    body: web::Json<CodeRequest>,
) -> AppResult<web::Json<InvitationResponse>> {
    Ok(web::Json(service::invitations::accept(&ctx, &user, &body.code).await?.into()))
}

/// Withdraw an invitation not yet accepted. Its inviter only.
#[utoipa::path(post, path = "/api/v1/invitations/{id}/revoke", operation_id = "revokeInvitation", tag = "invitations",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = InvitationResponse, description = "`revoked`"),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the caller's invitation"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`invalid_transition`: accepted, revoked or expired already"),
    ))]
#[post("/invitations/{id}/revoke")]
pub async fn revoke(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<InvitationResponse>> {
    Ok(web::Json(service::invitations::revoke(&ctx, &user, id.into_inner()).await?.into()))
}

/// Find the person who bound a phone number (exact match), to give them a role: for
/// whoever may grant that role there (then add them, e.g. `POST
/// /organizations/{id}/staff {user_id}`). Answers their id, nickname and masked phone
/// only; at most 10 lookups a minute. The number is sent in the body, never in the URL.
#[utoipa::path(post, path = "/api/v1/people/lookup", operation_id = "lookupPerson", tag = "invitations",
    security(("bearer" = [])), request_body = LookupRequest,
    responses(
        (status = 200, body = PersonResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "the caller may not grant this role on this scope"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM, description = "nobody bound that number"),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`phone_ambiguous`: several accounts bound it (use an invitation)"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "`validation_failed`: the phone, the role or the scope"),
        (status = 429, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/people/lookup")]
pub async fn lookup(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    body: web::Json<LookupRequest>,
) -> AppResult<web::Json<PersonResponse>> {
    let body = body.into_inner();
    let mut c = Checker::default();
    let role = role_of(&mut c, &body.role);
    let Some(role) = role else { return Err(AppError::Validation(c.errors)) };
    let person = service::invitations::find_person(&ctx, &user, &body.phone, role, body.scope_id).await?;
    Ok(web::Json(person.into()))
}
