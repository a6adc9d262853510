//! One error type for the whole service. Each variant's snake_case `code` is a stable
//! part of the API contract; `detail` is for people, in zh-CN unless the caller asks
//! for English. 5xx causes are logged, never sent.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use serde::Serialize;
use utoipa::ToSchema;

/// The language of a problem's `title` and `detail`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    /// Picks the language from an `Accept-Language` header: English when English is
    /// preferred over Chinese, Chinese otherwise.
    pub fn from_accept_language(header: Option<&str>) -> Self {
        let Some(header) = header else {
            return Lang::Zh;
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces.find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok())).unwrap_or(1.0);
            let lang = if tag.starts_with("en") {
                Lang::En
            } else if tag.starts_with("zh") {
                Lang::Zh
            } else {
                continue;
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or_default()
    }
}

/// One failing field of a request.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field, as named in the request (`snake_case`, dotted for nested fields).
    #[schema(example = "nickname")]
    pub field: String,
    /// A stable code for what is wrong with it.
    #[schema(example = "length")]
    pub code: String,
    /// What is wrong, for a person.
    #[schema(example = "昵称长度须为 1–32 个字符")]
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), code: code.into(), message: message.into() }
    }
}

/// An RFC 9457 problem document, as every error is sent.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "/problems/validation_failed",
    "title": "请求参数有误",
    "status": 422,
    "detail": "请求中有 1 处参数不符合要求",
    "code": "validation_failed",
    "errors": [{"field": "nickname", "code": "length", "message": "昵称长度须为 1–32 个字符"}],
    "request_id": "01936c1e-8d6f-7cc2-9a4e-2f1b7a4c9d10"
}))]
pub struct Problem {
    /// A URI reference naming the problem type: `/problems/{code}`.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code; clients switch on this, never on `detail`.
    pub code: String,
    /// Field-level failures, for `validation_failed`; for a conflict over several items
    /// (`series_refused`), one entry per item (`field` names it, e.g. a date).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub errors: Option<Vec<FieldError>>,
    /// The id of the request, also in the `x-request-id` header and in the logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub request_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("malformed request body: {0}")]
    InvalidJson(String),
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A request line whose target is not a URL even once raw UTF-8 in it is
    /// percent-encoded (see `http_target`).
    #[error("invalid request target")]
    InvalidRequestTarget,
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("content refused by moderation")]
    ContentRisky,
    #[error("authentication required")]
    Unauthenticated,
    #[error("invalid access token")]
    InvalidToken,
    #[error("access token expired")]
    TokenExpired,
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    #[error("refresh token reused")]
    RefreshTokenReused,
    #[error("wechat login code invalid")]
    WechatCodeInvalid,
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("wechat reports a high-risk user")]
    WechatUserBlocked,
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A signed link that was altered, or made for a user who has since signed out
    /// everywhere.
    #[error("download link invalid")]
    LinkInvalid,
    /// Something that was valid once and is no more (an expired link or invitation):
    /// a stable code and a sentence.
    #[error("gone: {0}")]
    Gone(&'static str, String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("conflict: {0}")]
    Conflict(&'static str, String),
    /// A conflict over several items at once (every date of a recurring booking that
    /// cannot be had): a stable code, a sentence, and one entry per item in `errors`.
    #[error("conflict: {0}")]
    ConflictList(&'static str, String, Vec<FieldError>),
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    #[error("wechat rate limited")]
    WechatRateLimited,
    #[error("wechat unavailable: {0}")]
    WechatUnavailable(String),
    #[error("wechat misconfigured: {0}")]
    WechatMisconfigured(String),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(#[from] anyhow::Error),
}

impl From<sea_orm::DbErr> for AppError {
    fn from(err: sea_orm::DbErr) -> Self {
        use sea_orm::{DbErr, RuntimeErr};
        let unreachable = match &err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
            DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => database_gone(e),
            _ => false,
        };
        if unreachable { AppError::Unavailable(err.to_string()) } else { AppError::Internal(err.into()) }
    }
}

/// The database is not there (rather than the query being wrong): a broken or closed
/// connection, or the server shutting down (SQLSTATE classes 08 and 57). A connection
/// that dies between its check and its query shows this way; the request gets 503.
fn database_gone(e: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error;
    match e {
        Error::Io(_) | Error::PoolTimedOut | Error::PoolClosed | Error::WorkerCrashed => true,
        Error::Database(db) => db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57")),
        _ => false,
    }
}

impl<E: std::fmt::Display + std::fmt::Debug> From<sea_orm::TransactionError<E>> for AppError
where
    AppError: From<E>,
{
    fn from(err: sea_orm::TransactionError<E>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(e) => e.into(),
            sea_orm::TransactionError::Transaction(e) => e.into(),
        }
    }
}

impl From<validator::ValidationErrors> for AppError {
    fn from(errors: validator::ValidationErrors) -> Self {
        let mut out = Vec::new();
        collect_validation_errors("", &errors, &mut out);
        out.sort_by(|a, b| a.field.cmp(&b.field));
        AppError::Validation(out)
    }
}

fn collect_validation_errors(prefix: &str, errors: &validator::ValidationErrors, out: &mut Vec<FieldError>) {
    use validator::ValidationErrorsKind;
    for (field, kind) in errors.errors() {
        let name = if prefix.is_empty() { field.to_string() } else { format!("{prefix}.{field}") };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for e in list {
                    let message = e
                        .message
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| format!("{name} 不符合要求 ({})", e.code));
                    out.push(FieldError::new(&name, e.code.to_string(), message));
                }
            }
            ValidationErrorsKind::Struct(inner) => collect_validation_errors(&name, inner, out),
            ValidationErrorsKind::List(items) => {
                for (i, inner) in items {
                    collect_validation_errors(&format!("{name}[{i}]"), inner, out);
                }
            }
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// A single-field validation failure.
    pub fn invalid(field: &str, code: &str, message: impl Into<String>) -> Self {
        AppError::Validation(vec![FieldError::new(field, code, message)])
    }

    pub fn code(&self) -> &str {
        match self {
            AppError::InvalidJson(_) => "invalid_json",
            AppError::BadRequest(_) => "bad_request",
            AppError::InvalidRequestTarget => "invalid_request_target",
            AppError::Validation(_) => "validation_failed",
            AppError::ContentRisky => "content_risky",
            AppError::Unauthenticated => "unauthenticated",
            AppError::InvalidToken => "invalid_token",
            AppError::TokenExpired => "token_expired",
            AppError::InvalidRefreshToken => "invalid_refresh_token",
            AppError::RefreshTokenReused => "refresh_token_reused",
            AppError::WechatCodeInvalid => "wechat_code_invalid",
            AppError::Forbidden(_) => "forbidden",
            AppError::WechatUserBlocked => "wechat_user_blocked",
            AppError::NotFound(_) => "not_found",
            AppError::LinkInvalid => "link_invalid",
            AppError::Gone(code, _) => code,
            AppError::MethodNotAllowed => "method_not_allowed",
            AppError::Conflict(code, _) | AppError::ConflictList(code, ..) => code,
            AppError::PayloadTooLarge => "payload_too_large",
            AppError::UnsupportedMediaType => "unsupported_media_type",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::WechatRateLimited => "wechat_rate_limited",
            AppError::WechatUnavailable(_) => "wechat_unavailable",
            AppError::WechatMisconfigured(_) => "wechat_unavailable",
            AppError::Unavailable(_) => "service_unavailable",
            AppError::Internal(_) => "internal_error",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::InvalidJson(_) | AppError::BadRequest(_) | AppError::InvalidRequestTarget => {
                StatusCode::BAD_REQUEST
            }
            AppError::Validation(_) | AppError::ContentRisky => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unauthenticated
            | AppError::InvalidToken
            | AppError::TokenExpired
            | AppError::InvalidRefreshToken
            | AppError::RefreshTokenReused
            | AppError::WechatCodeInvalid => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) | AppError::WechatUserBlocked | AppError::LinkInvalid => StatusCode::FORBIDDEN,
            AppError::Gone(..) => StatusCode::GONE,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Conflict(..) | AppError::ConflictList(..) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::RateLimited { .. } | AppError::WechatRateLimited => StatusCode::TOO_MANY_REQUESTS,
            AppError::WechatUnavailable(_) | AppError::WechatMisconfigured(_) | AppError::Unavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn title(&self, lang: Lang) -> &'static str {
        let status = self.status();
        match (status.as_u16(), lang) {
            (400, Lang::Zh) => "请求有误",
            (400, Lang::En) => "Bad request",
            (401, Lang::Zh) => "需要登录",
            (401, Lang::En) => "Unauthorized",
            (403, Lang::Zh) => "没有权限",
            (403, Lang::En) => "Forbidden",
            (404, Lang::Zh) => "未找到",
            (404, Lang::En) => "Not found",
            (405, Lang::Zh) => "不支持该方法",
            (405, Lang::En) => "Method not allowed",
            (409, Lang::Zh) => "状态冲突",
            (409, Lang::En) => "Conflict",
            (410, Lang::Zh) => "已失效",
            (410, Lang::En) => "Gone",
            (413, Lang::Zh) => "请求体过大",
            (413, Lang::En) => "Payload too large",
            (415, Lang::Zh) => "不支持的内容类型",
            (415, Lang::En) => "Unsupported media type",
            (422, Lang::Zh) => "请求参数有误",
            (422, Lang::En) => "Validation failed",
            (429, Lang::Zh) => "请求过于频繁",
            (429, Lang::En) => "Too many requests",
            (503, Lang::Zh) => "服务暂不可用",
            (503, Lang::En) => "Service unavailable",
            (_, Lang::Zh) => "服务器内部错误",
            (_, Lang::En) => "Internal server error",
        }
    }

    /// The sentence a person reads. Never includes internal causes of 5xx errors.
    pub fn detail(&self, lang: Lang) -> String {
        use AppError::*;
        let zh = lang == Lang::Zh;
        match self {
            InvalidJson(why) if zh => format!("请求体不是有效的 JSON：{why}"),
            InvalidJson(why) => format!("The request body is not valid JSON: {why}"),
            BadRequest(why) if zh => format!("请求有误：{why}"),
            BadRequest(why) => format!("Bad request: {why}"),
            InvalidRequestTarget if zh => "请求地址中含有不允许的字符（控制字符、空格、< 或 > 等）".into(),
            InvalidRequestTarget => {
                "The URL holds a character not allowed there (a control character, a space, <, >)".into()
            }
            Validation(errors) if zh => format!("请求中有 {} 处参数不符合要求", errors.len()),
            Validation(errors) => format!("{} field(s) of the request are invalid", errors.len()),
            ContentRisky if zh => "内容未通过微信内容安全检测，请修改后再提交".into(),
            ContentRisky => "WeChat's content check refused this text; edit it and try again".into(),
            Unauthenticated if zh => "请先登录".into(),
            Unauthenticated => "Sign in first: send Authorization: Bearer <access token>".into(),
            InvalidToken if zh => "登录凭证无效，请重新登录".into(),
            InvalidToken => "The access token is invalid; sign in again".into(),
            TokenExpired if zh => "登录已过期，请刷新凭证".into(),
            TokenExpired => "The access token has expired; refresh it".into(),
            InvalidRefreshToken if zh => "刷新凭证无效或已过期，请重新登录".into(),
            InvalidRefreshToken => "The refresh token is invalid or expired; sign in again".into(),
            RefreshTokenReused if zh => "刷新凭证被重复使用，该登录已全部注销，请重新登录".into(),
            RefreshTokenReused => "The refresh token was used twice; every token of this sign-in is revoked".into(),
            WechatCodeInvalid if zh => "微信登录码无效或已使用，请重新调用 wx.login".into(),
            WechatCodeInvalid => "The WeChat login code is invalid or used; call wx.login again".into(),
            Forbidden(why) if zh => format!("没有权限：{}", forbidden_zh(why)),
            Forbidden(why) => format!("Forbidden: {why}"),
            WechatUserBlocked if zh => "微信判定该账号存在风险，暂不能登录".into(),
            WechatUserBlocked => "WeChat reports this account as high-risk".into(),
            NotFound(what) if zh => format!("{}不存在", not_found_zh(what)),
            NotFound(what) => format!("The {what} does not exist"),
            MethodNotAllowed if zh => "该路径不支持此请求方法".into(),
            MethodNotAllowed => "This path does not support the method".into(),
            Conflict(_, why) | Gone(_, why) | ConflictList(_, why, _) => why.clone(),
            LinkInvalid if zh => "下载链接无效，请重新获取".into(),
            LinkInvalid => "The download link is not valid; ask for a new one".into(),
            PayloadTooLarge if zh => "请求体超过允许的大小".into(),
            PayloadTooLarge => "The request body is larger than allowed".into(),
            UnsupportedMediaType if zh => "请以 application/json 发送请求体".into(),
            UnsupportedMediaType => "Send the request body as application/json".into(),
            RateLimited { retry_after_secs } if zh => format!("请求过于频繁，请 {retry_after_secs} 秒后再试"),
            RateLimited { retry_after_secs } => format!("Too many requests; retry in {retry_after_secs} s"),
            WechatRateLimited if zh => "微信登录过于频繁，请稍后再试".into(),
            WechatRateLimited => "WeChat login is rate limited; try again later".into(),
            WechatUnavailable(_) | WechatMisconfigured(_) if zh => "微信服务暂时不可用，请稍后再试".into(),
            WechatUnavailable(_) | WechatMisconfigured(_) => "WeChat is unavailable; try again later".into(),
            Unavailable(_) if zh => "服务暂时不可用，请稍后再试".into(),
            Unavailable(_) => "The service is temporarily unavailable; try again later".into(),
            Internal(_) if zh => "服务器内部错误，请稍后再试".into(),
            Internal(_) => "Internal server error; try again later".into(),
        }
    }

    pub fn to_problem(&self, lang: Lang, request_id: Option<String>) -> Problem {
        let code = self.code().to_owned();
        Problem {
            type_: format!("/problems/{code}"),
            title: self.title(lang).to_owned(),
            status: self.status().as_u16(),
            detail: self.detail(lang),
            code,
            errors: match self {
                AppError::Validation(errors) | AppError::ConflictList(.., errors) => Some(errors.clone()),
                _ => None,
            },
            request_id,
        }
    }

    pub fn render(&self, lang: Lang, request_id: Option<String>) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status());
        builder.content_type("application/problem+json");
        if let AppError::RateLimited { retry_after_secs } = self {
            builder.insert_header(("retry-after", retry_after_secs.to_string()));
        }
        builder.json(self.to_problem(lang, request_id))
    }

    /// An error actix produced on its own (no route, bad method, body too large),
    /// recognised by its status.
    pub fn from_status(status: StatusCode) -> Self {
        match status.as_u16() {
            400 => AppError::BadRequest("malformed request".into()),
            401 => AppError::Unauthenticated,
            403 => AppError::Forbidden("not allowed"),
            404 => AppError::NotFound("resource"),
            405 => AppError::MethodNotAllowed,
            413 => AppError::PayloadTooLarge,
            415 => AppError::UnsupportedMediaType,
            422 => AppError::Validation(vec![]),
            429 => AppError::RateLimited { retry_after_secs: 60 },
            503 => AppError::Unavailable(status.to_string()),
            _ => AppError::Internal(anyhow::anyhow!("unexpected status {status}")),
        }
    }
}

fn not_found_zh(what: &str) -> &'static str {
    match what {
        "region" => "地区",
        "user" => "用户",
        "role grant" => "角色授权",
        "organization" => "组织",
        "activity" => "活动",
        "sign-up" => "报名",
        "notification" => "通知",
        "venue" => "场地",
        "booking" => "场地预约",
        _ => "资源",
    }
}

fn forbidden_zh(why: &str) -> &'static str {
    match why {
        "outside your scope" => "超出您的管辖范围",
        "requires a region role" => "需要社区、街道或民政部门的角色",
        "cannot grant this role" => "您不能授予该角色",
        "cannot revoke this role" => "您不能撤销该角色",
        "the console is for committees, street offices and civil affairs" => "控制台需要社区、街道或民政部门的角色",
        "cannot revoke your own role" => "不能撤销自己的角色，请由同事或上级部门撤销",
        "the form's CSRF token is missing or wrong" => "表单已过期或不是从本页面提交的，请刷新页面后重试",
        "the sign-in page's cookie is missing: reload the page" => "登录页已过期，请刷新页面后重新扫码",
        "requires organization staff" => "需要该组织的负责人或骨干身份",
        "requires organization leader" => "需要该组织的负责人身份",
        "requires system admin" => "需要系统管理员身份",
        "requires the venue's committee or entrusted leader" => "需要场地所在社区居委会或受托组织负责人的身份",
        "requires the community's committee" => "需要该社区居委会的身份",
        "not a proxy of this resident" => "您不是该居民的代办人",
        "requires a committee or an entrusted leader" => "需要社区居委会或受托管理场地的组织负责人身份",
        _ => "不允许此操作",
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        if self.status().is_server_error() {
            tracing::error!(error = ?self, code = self.code(), "request failed");
        }
        // Re-rendered by the problem middleware with the caller's language and request id.
        self.render(Lang::Zh, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_problem_has_exact_shape() {
        let err = AppError::invalid("nickname", "length", "昵称长度须为 1–32 个字符");
        let json = serde_json::to_value(err.to_problem(Lang::Zh, Some("rid".into()))).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({
                "type": "/problems/validation_failed",
                "title": "请求参数有误",
                "status": 422,
                "detail": "请求中有 1 处参数不符合要求",
                "code": "validation_failed",
                "errors": [{"field": "nickname", "code": "length", "message": "昵称长度须为 1–32 个字符"}],
                "request_id": "rid"
            })
        );
    }

    #[test]
    fn invalid_request_target_has_exact_shape() {
        let json = serde_json::to_value(AppError::InvalidRequestTarget.to_problem(Lang::Zh, Some("rid".into())))
            .unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({
                "type": "/problems/invalid_request_target",
                "title": "请求有误",
                "status": 400,
                "detail": "请求地址中含有不允许的字符（控制字符、空格、< 或 > 等）",
                "code": "invalid_request_target",
                "request_id": "rid"
            })
        );
    }

    #[test]
    fn internal_error_never_leaks_its_cause() {
        let err = AppError::Internal(anyhow::anyhow!("password=hunter2 at db.internal"));
        let json = serde_json::to_value(err.to_problem(Lang::En, None)).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({
                "type": "/problems/internal_error",
                "title": "Internal server error",
                "status": 500,
                "detail": "Internal server error; try again later",
                "code": "internal_error"
            })
        );
    }

    #[test]
    fn not_found_is_localised() {
        let err = AppError::NotFound("region");
        assert_eq!(err.detail(Lang::Zh), "地区不存在");
        assert_eq!(err.detail(Lang::En), "The region does not exist");
    }

    #[test]
    fn accept_language_prefers_the_highest_quality() {
        assert_eq!(Lang::from_accept_language(None), Lang::Zh);
        assert_eq!(Lang::from_accept_language(Some("en")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("zh-CN,zh;q=0.9,en;q=0.8")), Lang::Zh);
        assert_eq!(Lang::from_accept_language(Some("en;q=0.5,zh;q=0.9")), Lang::Zh);
        assert_eq!(Lang::from_accept_language(Some("fr")), Lang::Zh);
    }
}
