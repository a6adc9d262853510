//! `/me`: the signed-in user's profile, home community and roles.

use actix_web::{HttpResponse, delete, get, patch, web};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    api::types::{RegionResponse, time},
    auth::AuthUser,
    context::AppContext,
    domain::{role::Role, text::bounded},
    error::{AppError, AppResult, FieldError, Problem},
    service::{
        self,
        users::{Me, ProfilePatch},
    },
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(get_me).service(update_me).service(delete_me);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleView {
    pub role: Role,
    /// A region id (committee, street, civil_affairs), an organization id (org_staff,
    /// org_leader), or `null`.
    pub scope_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub id: i64,
    pub nickname: Option<String>,
    pub avatar_url: Option<String>,
    pub home_community_id: Option<i64>,
    pub home_community: Option<RegionResponse>,
    /// The user's own phone number, when given through `POST /me/phone`.
    pub phone: Option<String>,
    /// Always starts with `resident`; then every granted role with its scope.
    pub roles: Vec<RoleView>,
    pub created_at: DateTime<FixedOffset>,
}

impl From<Me> for MeResponse {
    fn from(me: Me) -> Self {
        let mut roles = vec![RoleView { role: Role::Resident, scope_id: None }];
        roles.extend(
            me.grants
                .into_iter()
                .filter_map(|g| Role::parse(&g.role).map(|role| RoleView { role, scope_id: g.scope_id })),
        );
        Self {
            id: me.user.id,
            nickname: me.user.nickname,
            avatar_url: me.user.avatar_url,
            home_community_id: me.user.home_community_id,
            home_community: me.home_community.map(Into::into),
            phone: me.user.phone,
            roles,
            created_at: time(me.user.created_at),
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    /// 1–32 characters.
    #[schema(example = "王阿姨", min_length = 1, max_length = 32)]
    pub nickname: Option<String>,
    /// An `https://` URL, at most 512 characters.
    #[schema(max_length = 512, pattern = "^https://")]
    pub avatar_url: Option<String>,
    /// Must be a region at `community` level (an urban community or a village).
    pub home_community_id: Option<i64>,
}

impl UpdateMeRequest {
    fn parse(self) -> AppResult<ProfilePatch> {
        let mut errors = Vec::new();
        let nickname = match self.nickname.as_deref().map(|n| bounded(n, 1, 32)) {
            Some(Err(_)) => {
                errors.push(FieldError::new("nickname", "length", "昵称须为 1–32 个字符，不含控制字符"));
                None
            }
            Some(Ok(n)) => Some(n),
            None => None,
        };
        let avatar_url = match self.avatar_url {
            Some(url)
                if !(url.starts_with("https://")
                    && url.chars().count() <= 512
                    && !url.contains(char::is_whitespace)) =>
            {
                errors.push(FieldError::new("avatar_url", "url", "头像须为不超过 512 个字符的 https:// 地址"));
                None
            }
            other => other,
        };
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        Ok(ProfilePatch { nickname, avatar_url, home_community_id: self.home_community_id })
    }
}

/// The signed-in user, with their roles.
#[utoipa::path(get, path = "/api/v1/me", operation_id = "getMe", tag = "me", security(("bearer" = [])),
    responses(
        (status = 200, body = MeResponse),
        (status = 401, body = Problem, content_type = "application/problem+json",
            description = "`unauthenticated`, `invalid_token`, `token_expired`"),
    ))]
#[get("/me")]
pub async fn get_me(ctx: web::Data<AppContext>, user: AuthUser) -> AppResult<web::Json<MeResponse>> {
    Ok(web::Json(service::users::me(&ctx, user.id).await?.into()))
}

/// Change the nickname, avatar or home community. Absent fields stay as they are.
#[utoipa::path(patch, path = "/api/v1/me", operation_id = "updateMe", tag = "me", security(("bearer" = [])), request_body = UpdateMeRequest,
    responses(
        (status = 200, body = MeResponse),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json",
            description = "`validation_failed`: e.g. `home_community_id` is not a community"),
    ))]
#[patch("/me")]
pub async fn update_me(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    body: web::Json<UpdateMeRequest>,
) -> AppResult<web::Json<MeResponse>> {
    let patch = body.into_inner().parse()?;
    Ok(web::Json(service::users::update_me(&ctx, user.id, patch).await?.into()))
}

/// Delete the account: personal data is erased and every token revoked; anonymous
/// counts (past sign-ups, hours) stay in the figures.
#[utoipa::path(delete, path = "/api/v1/me", operation_id = "deleteMe", tag = "me", security(("bearer" = [])),
    responses(
        (status = 204, description = "deleted"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json",
            description = "`sole_leader`: the only leader of an organization hands leadership on first"),
    ))]
#[delete("/me")]
pub async fn delete_me(ctx: web::Data<AppContext>, user: AuthUser) -> AppResult<HttpResponse> {
    service::users::delete_me(&ctx, user.id).await?;
    Ok(HttpResponse::NoContent().finish())
}
