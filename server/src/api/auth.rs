//! `/auth`: sign in with a `wx.login` code, rotate the refresh token, sign out.

use actix_web::{HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    api::me::MeResponse,
    auth::AuthUser,
    context::AppContext,
    error::{AppResult, Problem},
    service::{self, auth::Tokens},
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(login).service(refresh).service(logout);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The code from `wx.login` (single use, valid 5 minutes). In dev mode (no WeChat
    /// credentials) it is taken as the openid.
    #[schema(example = "0b1Xyz000aBcDe1FgHi200jKlM0Xyz0x", min_length = 1, max_length = 128)]
    pub code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    /// This device's refresh token: its whole family is revoked.
    pub refresh_token: Option<String>,
}

/// How the access token is sent: `Authorization: Bearer …`.
#[derive(ToSchema)]
pub enum TokenType {
    Bearer,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// Short-lived access token (HS256 JWT) for `Authorization: Bearer`.
    pub access_token: String,
    /// Opaque, single-use refresh token; `POST /auth/refresh` swaps it for a new pair.
    pub refresh_token: String,
    #[schema(value_type = TokenType)]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: u64,
    pub user: MeResponse,
}

async fn token_response(ctx: &AppContext, tokens: Tokens) -> AppResult<TokenResponse> {
    let me = service::users::me(ctx, tokens.user_id).await?;
    Ok(TokenResponse {
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        token_type: "Bearer",
        expires_in: tokens.expires_in,
        user: me.into(),
    })
}

/// Sign in with a `wx.login` code; the user is created on first sign-in.
#[utoipa::path(post, path = "/api/v1/auth/wechat/login", operation_id = "loginWithWechat", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "`invalid_json`"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "`wechat_code_invalid`: call `wx.login` again"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "`wechat_user_blocked`"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "`validation_failed`"),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "`rate_limited`, `wechat_rate_limited`"),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "`wechat_unavailable`: WeChat busy or unreachable"),
    ))]
#[post("/auth/wechat/login")]
pub async fn login(ctx: web::Data<AppContext>, body: web::Json<LoginRequest>) -> AppResult<HttpResponse> {
    let tokens = service::auth::login(&ctx, &body.code).await?;
    Ok(HttpResponse::Ok().json(token_response(&ctx, tokens).await?))
}

/// Swap a refresh token for a new pair. A token presented twice revokes its family.
#[utoipa::path(post, path = "/api/v1/auth/refresh", operation_id = "refreshTokens", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, body = Problem, content_type = "application/problem+json",
            description = "`invalid_refresh_token`, or `refresh_token_reused` (the family is revoked)"),
    ))]
#[post("/auth/refresh")]
pub async fn refresh(ctx: web::Data<AppContext>, body: web::Json<RefreshRequest>) -> AppResult<HttpResponse> {
    let tokens = service::auth::refresh(&ctx, &body.refresh_token).await?;
    Ok(HttpResponse::Ok().json(token_response(&ctx, tokens).await?))
}

/// Sign out: revokes this device's refresh tokens and every access token issued so far.
#[utoipa::path(post, path = "/api/v1/auth/logout", operation_id = "logout", tag = "auth", request_body(content = Option<LogoutRequest>),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "signed out"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/auth/logout")]
pub async fn logout(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    body: Option<web::Json<LogoutRequest>>,
) -> AppResult<HttpResponse> {
    let presented = body.and_then(|b| b.into_inner().refresh_token);
    service::auth::logout(&ctx, user.id, presented.as_deref()).await?;
    Ok(HttpResponse::NoContent().finish())
}
