//! Every error leaves as problem+json in the caller's language, with the request id;
//! every response carries `x-request-id`.

use actix_web::{
    Error, HttpMessage,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    error::{JsonPayloadError, PathError, QueryPayloadError},
    http::header::{self, HeaderName, HeaderValue},
    middleware::Next,
};
use tracing_actix_web::RequestId;

use crate::error::{AppError, Lang};

pub async fn problem_details(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let lang = Lang::from_accept_language(req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()));
    let request_id = req.extensions().get::<RequestId>().map(|id| id.to_string());
    let res = next.call(req).await?;
    let mut res = if needs_problem(&res) {
        let problem = match res.response().error().and_then(|e| e.as_error::<AppError>()) {
            Some(err) => err.render(lang, request_id.clone()),
            None => AppError::from_status(res.status()).render(lang, request_id.clone()),
        };
        let (req, _) = res.into_parts();
        ServiceResponse::new(req, problem)
    } else {
        res.map_into_boxed_body()
    };
    if let Some(id) = request_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        res.headers_mut().insert(HeaderName::from_static("x-request-id"), id);
    }
    Ok(res)
}

/// Bad JSON bodies: syntax → 400, wrong shape → 422 naming the problem, too big → 413,
/// wrong content type → 415.
pub fn json_error(err: JsonPayloadError, _req: &actix_web::HttpRequest) -> Error {
    let app = match &err {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => AppError::PayloadTooLarge,
        JsonPayloadError::ContentType => AppError::UnsupportedMediaType,
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            AppError::invalid("body", "invalid", format!("请求体字段不符合要求：{e}"))
        }
        JsonPayloadError::Deserialize(e) => AppError::InvalidJson(e.to_string()),
        other => AppError::InvalidJson(other.to_string()),
    };
    app.into()
}

pub fn query_error(err: QueryPayloadError, _req: &actix_web::HttpRequest) -> Error {
    AppError::invalid("query", "invalid", format!("查询参数不符合要求：{err}")).into()
}

pub fn path_error(_err: PathError, _req: &actix_web::HttpRequest) -> Error {
    AppError::NotFound("resource").into()
}

/// An error response that is not problem+json yet: one a handler or extractor returned,
/// or one actix made on its own (no route, wrong method), which comes as plain text.
fn needs_problem<B>(res: &ServiceResponse<B>) -> bool {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return false;
    }
    // The web console's error pages are HTML on purpose (`console::PageError`).
    if res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html"))
    {
        return false;
    }
    if res.response().error().is_some() {
        return true;
    }
    let content_type = res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    !content_type.contains("json")
}

/// Answers 503 when a request takes longer than `REQUEST_TIMEOUT` (the database pool
/// already fails fast; this bounds everything else).
pub async fn request_timeout(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let limit = req
        .app_data::<actix_web::web::Data<crate::context::AppContext>>()
        .map(|ctx| ctx.config.request_timeout)
        .unwrap_or(std::time::Duration::from_secs(30));
    let path = req.path().to_owned();
    match tokio::time::timeout(limit, next.call(req)).await {
        Ok(res) => res,
        Err(_) => {
            // The request is gone with the cancelled handler: answer with the error alone.
            tracing::warn!(%path, "request timed out");
            let err = AppError::Unavailable("request timed out".into());
            if path.starts_with("/console/") {
                return Err(crate::console::PageError(err).into());
            }
            Err(err.into())
        }
    }
}

/// The page policy of every HTML response: nothing loads from anywhere, inline styles
/// only (the printable record's), no framing, no forms, no base URL.
pub const HTML_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'none'; base-uri 'none'";

/// `X-Content-Type-Options: nosniff` on every response, and a Content-Security-Policy on
/// every HTML one that did not bring its own (Swagger UI brings none, so it gets one that
/// lets its own scripts and styles load from this origin).
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let docs = req.path().starts_with("/docs");
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    let html = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"));
    if html && !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        let policy = if docs { DOCS_CSP } else { HTML_CSP };
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    }
    Ok(res)
}

/// Swagger UI's page: its scripts, styles and the spec from this origin, nothing else.
const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";
