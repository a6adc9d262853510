//! `/me/subscriptions` and `/me/phone`: what the mini-program learned from the user
//! through WeChat's own dialogs.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    auth::AuthUser,
    context::AppContext,
    domain::notification::{SubscriptionPurpose, SubscriptionResult},
    error::{AppError, AppResult, Problem},
    service::{
        self,
        subscriptions::{Outcome, balances},
    },
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(record).service(list).service(phone);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"results": {"TEMPLATE_ID_REMINDER": "accept", "TEMPLATE_ID_CHANGE": "reject"}}))]
pub struct SubscriptionResults {
    /// What `wx.requestSubscribeMessage` returned: template id → `accept`, `reject`,
    /// `ban` or `filter` (at most 3 templates per call).
    #[schema(value_type = BTreeMap<String, SubscriptionResult>)]
    pub results: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionBalance {
    /// `reminder`, `signup` or `change`.
    #[schema(value_type = SubscriptionPurpose)]
    pub purpose: &'static str,
    /// The configured template; `null` when this purpose is not pushed.
    pub template_id: Option<String>,
    /// Sends left: each `accept` allows one.
    pub balance: i32,
    /// The user chose "always reject" for this template.
    pub banned: bool,
}

async fn balance_view(ctx: &AppContext, user: &AuthUser) -> AppResult<Vec<SubscriptionBalance>> {
    Ok(balances(ctx, user)
        .await?
        .into_iter()
        .map(|(purpose, template_id, balance, banned)| SubscriptionBalance { purpose, template_id, balance, banned })
        .collect())
}

/// Record the outcome of `wx.requestSubscribeMessage`: each `accept` adds one send.
#[utoipa::path(post, path = "/api/v1/me/subscriptions", operation_id = "recordSubscriptionResults", tag = "me", security(("bearer" = [])),
    request_body = SubscriptionResults,
    responses(
        (status = 200, body = Vec<SubscriptionBalance>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json",
            description = "unknown template, unknown result, or more than 3 templates"),
    ))]
#[post("/me/subscriptions")]
pub async fn record(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    body: web::Json<SubscriptionResults>,
) -> AppResult<web::Json<Vec<SubscriptionBalance>>> {
    let body = body.into_inner();
    if body.results.is_empty() || body.results.len() > 3 {
        return Err(AppError::invalid("results", "count", "一次须报告 1–3 个模板的结果"));
    }
    let mut parsed = Vec::new();
    for (i, (template, result)) in body.results.into_iter().enumerate() {
        let outcome = Outcome::parse(&result).ok_or_else(|| {
            AppError::invalid(&format!("results[{i}]"), "unknown_result", "结果须为 accept、reject、ban 或 filter")
        })?;
        parsed.push((template, outcome));
    }
    service::subscriptions::record(&ctx, &user, &parsed).await?;
    Ok(web::Json(balance_view(&ctx, &user).await?))
}

/// Sends left per purpose, so the mini-program knows when to ask again.
#[utoipa::path(get, path = "/api/v1/me/subscriptions", operation_id = "listMySubscriptions", tag = "me", security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<SubscriptionBalance>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/me/subscriptions")]
pub async fn list(ctx: web::Data<AppContext>, user: AuthUser) -> AppResult<web::Json<Vec<SubscriptionBalance>>> {
    Ok(web::Json(balance_view(&ctx, &user).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneRequest {
    /// The code from the `getPhoneNumber` button.
    pub code: String,
}

/// Store the user's phone number from a `getPhoneNumber` code. In dev mode (no WeChat
/// credentials) the code is taken as the number itself.
#[utoipa::path(post, path = "/api/v1/me/phone", operation_id = "setMyPhone", tag = "me", security(("bearer" = [])), request_body = PhoneRequest,
    responses(
        (status = 204, description = "stored"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "`wechat_unavailable`"),
    ))]
#[post("/me/phone")]
pub async fn phone(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    body: web::Json<PhoneRequest>,
) -> AppResult<HttpResponse> {
    let code = body.code.trim();
    if code.is_empty() || code.len() > 128 {
        return Err(AppError::invalid("code", "invalid", "code 须为 getPhoneNumber 返回的代码"));
    }
    // Dev mode (no WeChat credentials), like login: the code is the phone number itself.
    let number = if ctx.wechat.is_dev() {
        crate::domain::organization::parse_phone(code)
            .ok_or_else(|| AppError::invalid("code", "invalid", "开发模式下 code 即手机号（11 位手机号）"))?
    } else {
        ctx.wechat.phone_number(code).await?
    };
    service::users::set_phone(&ctx, user.id, &number).await?;
    Ok(HttpResponse::NoContent().finish())
}
