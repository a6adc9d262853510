//! `/admin/role-grants`: roles, granted by an admin inside their own scope.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    api::types::time,
    auth::AuthUser,
    context::AppContext,
    domain::{
        pagination::{Page, PageQuery, page_by_id},
        role::Role,
    },
    entity::role_grant,
    error::{AppError, AppResult, Problem},
    service::{self, role_grants::GrantFilter},
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(create_grant).service(list_grants).service(delete_grant);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGrantRequest {
    pub user_id: i64,
    /// `org_staff`, `org_leader`, `committee`, `street`, `civil_affairs` or `system_admin`.
    #[schema(example = "committee", value_type = Role)]
    pub role: String,
    /// A community (committee), street or township (street), county or higher
    /// (civil_affairs), an organization (org roles); none for system_admin.
    pub scope_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleGrantResponse {
    pub id: i64,
    pub user_id: i64,
    pub role: Role,
    pub scope_id: Option<i64>,
    pub granted_by: Option<i64>,
    pub created_at: DateTime<FixedOffset>,
}

impl From<role_grant::Model> for RoleGrantResponse {
    fn from(g: role_grant::Model) -> Self {
        Self {
            id: g.id,
            user_id: g.user_id,
            role: Role::parse(&g.role).unwrap_or(Role::Resident),
            scope_id: g.scope_id,
            granted_by: g.granted_by,
            created_at: time(g.created_at),
        }
    }
}

fn parse_role(field: &str, value: &str) -> AppResult<Role> {
    Role::parse(value).ok_or_else(|| {
        AppError::invalid(
            field,
            "unknown_role",
            "role 须为 org_staff、org_leader、committee、street、civil_affairs 或 system_admin",
        )
    })
}

/// Grant a role. Repeating a grant returns the existing one with 200.
#[utoipa::path(post, path = "/api/v1/admin/role-grants", operation_id = "createRoleGrant", tag = "admin", security(("bearer" = [])),
    request_body = CreateGrantRequest,
    responses(
        (status = 201, body = RoleGrantResponse, description = "granted"),
        (status = 200, body = RoleGrantResponse, description = "already held"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "`forbidden`: not an admin of that scope"),
        (status = 422, body = Problem, content_type = "application/problem+json",
            description = "`validation_failed`: unknown role, missing or wrong-level scope, unknown user"),
    ))]
#[post("/admin/role-grants")]
pub async fn create_grant(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    body: web::Json<CreateGrantRequest>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let role = parse_role("role", &body.role)?;
    let (grant, created) = service::role_grants::grant(&ctx, &user, body.user_id, role, body.scope_id).await?;
    let mut response = if created { HttpResponse::Created() } else { HttpResponse::Ok() };
    Ok(response.json(RoleGrantResponse::from(grant)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GrantListQuery {
    pub user_id: Option<i64>,
    #[param(value_type = Option<Role>)]
    pub role: Option<String>,
    pub scope_id: Option<i64>,
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

/// The grants inside the caller's admin scope.
#[utoipa::path(get, path = "/api/v1/admin/role-grants", operation_id = "listRoleGrants", tag = "admin", security(("bearer" = [])),
    params(GrantListQuery),
    responses(
        (status = 200, body = Page<RoleGrantResponse>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "not an admin"),
    ))]
#[get("/admin/role-grants")]
pub async fn list_grants(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    query: web::Query<GrantListQuery>,
) -> AppResult<web::Json<Page<RoleGrantResponse>>> {
    let query = query.into_inner();
    let page = PageQuery { cursor: query.cursor, limit: query.limit };
    let limit = page.limit()?;
    let filter = GrantFilter {
        user_id: query.user_id,
        role: query.role.as_deref().map(|r| parse_role("role", r)).transpose()?,
        scope_id: query.scope_id,
    };
    let rows = service::role_grants::list(&ctx, &user, filter, page.after_id()?, limit).await?;
    Ok(web::Json(page_by_id(rows, limit, |g| g.id, RoleGrantResponse::from)))
}

/// Revoke a grant inside the caller's admin scope. Takes effect on the holder's next request.
#[utoipa::path(delete, path = "/api/v1/admin/role-grants/{id}", operation_id = "deleteRoleGrant", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 204, description = "revoked"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
#[delete("/admin/role-grants/{id}")]
pub async fn delete_grant(ctx: web::Data<AppContext>, user: AuthUser, id: web::Path<i64>) -> AppResult<HttpResponse> {
    service::role_grants::revoke(&ctx, &user, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
