//! The web console (网页控制台) under `/console/`: server-rendered zh-CN pages for
//! committees (居委会), street offices (街道办) and civil affairs (民政), signed in by
//! scanning a QR code with the mini-program (扫码登录), or in dev mode by openid.
//!
//! Every page calls the same service functions as the API, with the same [`AuthUser`]
//! and so the same permission checks; this layer only reads cookies and forms, checks
//! the session's CSRF token and renders HTML. Off with `CONSOLE_ENABLED=false`.

mod assets;
mod grants;
mod login;
mod pages;
mod queue;
mod templates;

use actix_web::{
    Error, FromRequest, HttpRequest, HttpResponse, ResponseError,
    body::MessageBody,
    dev::{Payload, ServiceRequest, ServiceResponse},
    http::{
        StatusCode,
        header::{self, HeaderValue},
    },
    middleware::{Next, from_fn},
    web,
};
use serde::Serialize;

use crate::{
    auth::AuthUser,
    context::AppContext,
    domain::console::Seat,
    error::{AppError, Lang},
    service::console_sessions::{self, ConsoleSession},
};

/// The session cookie: HttpOnly, SameSite=Strict, `Secure` outside dev, path `/console/`.
pub const SESSION_COOKIE: &str = "linli_console";
/// The browser secret of a sign-in ticket, good for the ticket's 2 minutes.
pub const TICKET_COOKIE: &str = "linli_console_ticket";
/// Why the console refuses someone without a committee, street or civil-affairs role.
pub const NO_SEAT: &str = "the console is for committees, street offices and civil affairs";
/// The seat chosen by someone holding several region roles (`role:region_id`).
pub const SEAT_COOKIE: &str = "linli_console_seat";

/// The console's page policy: its own scripts, styles and images only; no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

/// Mounts `/console/…` when the console is on. Everything under it answers as a page:
/// an unknown path or method, a path or query that does not parse, a form too large
/// (over `max_body` bytes, as the API's bodies) or malformed gets the console's HTML error
/// page with its headers, never the API's problem+json.
pub fn routes(cfg: &mut web::ServiceConfig, enabled: bool, max_body: usize) {
    if !enabled {
        return;
    }
    cfg.route("/console", web::get().to(|| async { redirect("/console/") })).service(
        web::scope("/console")
            .wrap(from_fn(headers))
            .app_data(web::FormConfig::default().limit(max_body).error_handler(form_error))
            .app_data(web::PathConfig::default().error_handler(|_, _| PageError(AppError::NotFound("page")).into()))
            .app_data(web::QueryConfig::default().error_handler(|_, _| {
                PageError(AppError::invalid("query", "invalid", "网址中的参数有误，请从页面上的链接进入")).into()
            }))
            .configure(assets::routes)
            .configure(login::routes)
            .configure(queue::routes)
            .configure(pages::routes)
            .configure(grants::routes)
            .default_service(web::to(|| async { Err::<HttpResponse, _>(PageError(AppError::NotFound("page"))) })),
    );
}

/// A form the console cannot read: too large, not a form, or missing a field.
fn form_error(err: actix_web::error::UrlencodedError, _: &HttpRequest) -> Error {
    use actix_web::error::UrlencodedError as E;
    let app = match err {
        E::Overflow { .. } => AppError::PayloadTooLarge,
        _ => AppError::invalid("form", "invalid", "表单不完整或有误，请返回页面重新填写后提交"),
    };
    PageError(app).into()
}

/// The console's headers on every response: CSP, no framing, no referrer, not cached
/// (static files say otherwise themselves).
async fn headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let mut res = next.call(req).await?;
    page_headers(res.headers_mut());
    Ok(res)
}

/// The console's page headers, also on the error pages made outside its scope (the rate
/// limiter's 429, the request timeout's 503), so they load the console's own styles.
pub(crate) fn page_headers(h: &mut header::HeaderMap) {
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

pub(crate) fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, to)).finish()
}

/// One cookie's value from the request's `Cookie` header.
pub(crate) fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers().get_all(header::COOKIE).filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name && !v.is_empty()).then(|| v.to_owned())
    })
}

/// A `Set-Cookie` value: HttpOnly and SameSite=Strict always, `Secure` when configured.
pub(crate) fn set_cookie(ctx: &AppContext, name: &str, value: &str, path: &str, max_age_secs: i64) -> String {
    let secure = if ctx.config.console_secure_cookie { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict{secure}")
}

pub(crate) fn context(req: &HttpRequest) -> Result<web::Data<AppContext>, AppError> {
    req.app_data::<web::Data<AppContext>>()
        .cloned()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("AppContext missing from app data")))
}

/// The caller's address, as the rate limiter sees it.
pub(crate) fn client_ip(req: &HttpRequest, ctx: &AppContext) -> String {
    crate::cache::ratelimit::client_ip(
        req.peer_addr().map(|a| a.ip()),
        req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok()),
        &ctx.config.trusted_proxies,
    )
    .map(|i| i.to_string())
    .unwrap_or_else(|| "unknown".into())
}

/// An error shown as an HTML page with the error's status; an unauthenticated caller is
/// sent to the sign-in page instead.
#[derive(Debug)]
pub struct PageError(pub AppError);

impl From<AppError> for PageError {
    fn from(e: AppError) -> Self {
        PageError(e)
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self.0 {
            AppError::Unauthenticated => StatusCode::SEE_OTHER,
            ref e => e.status(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        if matches!(self.0, AppError::Unauthenticated) {
            return redirect("/console/login");
        }
        if let AppError::Internal(e) = &self.0 {
            tracing::error!(error = %e, "console page failed");
        }
        let messages: Vec<String> = match &self.0 {
            AppError::Validation(errors) => errors.iter().map(|e| e.message.clone()).collect(),
            e => vec![e.detail(Lang::Zh)],
        };
        let status = self.status_code();
        let body = templates::render(
            "error.html",
            minijinja::context! {
                status => status.as_u16(),
                messages => messages,
                // Who the console is for, only to someone without an office role.
                no_seat => matches!(self.0, AppError::Forbidden(NO_SEAT)),
            },
        )
        .unwrap_or_else(|_| format!("<!doctype html><title>{}</title><p>{}</p>", status.as_u16(), status.as_u16()));
        let mut res = HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body);
        page_headers(res.headers_mut());
        if let AppError::RateLimited { retry_after_secs } = self.0
            && let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }
}

pub(crate) type PageResult = Result<HttpResponse, PageError>;

/// A form that carries only its CSRF token (sign-out, revoke).
#[derive(serde::Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// A signed-in console user: the session (with its CSRF token) and the user as the API
/// sees them. Without a valid session cookie, pages redirect to the sign-in page.
/// The chosen seat (none for someone without an office) and every seat the user holds;
/// the session's user acts with the chosen seat's grants only ([`Seat::narrow`]).
pub struct Signed(pub ConsoleSession, Option<Seat>, Vec<Seat>);

impl Signed {
    pub fn user(&self) -> &AuthUser {
        &self.0.user
    }

    /// The level the console works at; a user without a committee, street or
    /// civil-affairs role is refused every page (403).
    pub fn seat(&self) -> Result<Seat, PageError> {
        self.1.ok_or(PageError(AppError::Forbidden(NO_SEAT)))
    }

    /// Every seat the user holds (to switch between).
    pub fn seats(&self) -> &[Seat] {
        &self.2
    }

    /// Refuses a form whose `csrf` is not this session's token (403).
    pub fn check_csrf(&self, presented: &str) -> Result<(), PageError> {
        use sha2::{Digest, Sha256};
        // Compared as digests, so the time taken says nothing about the token.
        let same = Sha256::digest(presented.as_bytes()) == Sha256::digest(self.0.csrf.as_bytes());
        if presented.is_empty() || !same {
            return Err(PageError(AppError::Forbidden("the form's CSRF token is missing or wrong")));
        }
        Ok(())
    }
}

impl FromRequest for Signed {
    type Error = PageError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = context(req).map(|ctx| (ctx, cookie(req, SESSION_COOKIE)));
        let seat = cookie(req, SEAT_COOKIE);
        Box::pin(async move {
            let (ctx, token) = found?;
            let token = token.ok_or(AppError::Unauthenticated)?;
            let mut session = console_sessions::load(&ctx, &token).await?;
            let all = Seat::all(&session.user.grants);
            let chosen = Seat::chosen(&session.user.grants, seat.as_deref());
            if let Some(s) = chosen {
                s.narrow(&mut session.user.grants);
            }
            Ok(Signed(session, chosen, all))
        })
    }
}

/// What every page's frame shows: who is signed in, as what, the nav and the CSRF token.
#[derive(Serialize)]
pub(crate) struct Frame {
    pub user_id: i64,
    pub seat: &'static str,
    pub region_id: i64,
    pub region_name: String,
    pub csrf: String,
    pub nav: &'static str,
    pub expires_at: String,
    /// Every seat the user holds, to switch between (shown when more than one).
    pub seats: Vec<SeatChoice>,
}

#[derive(Serialize)]
pub(crate) struct SeatChoice {
    pub value: String,
    pub label: String,
    pub current: bool,
}

impl Frame {
    pub async fn new(ctx: &AppContext, signed: &Signed, seat: Seat, nav: &'static str) -> Result<Self, PageError> {
        let region = crate::service::regions::get(&ctx.db, seat.region_id).await?;
        let mut seats = Vec::new();
        let all = signed.seats();
        if all.len() > 1 {
            for &s in all {
                let name = crate::service::regions::get(&ctx.db, s.region_id).await?.name;
                seats.push(SeatChoice {
                    value: s.value(),
                    label: format!("{} · {name}", s.label()),
                    current: s == seat,
                });
            }
        }
        Ok(Frame {
            seats,
            user_id: signed.user().id,
            seat: seat.label(),
            region_id: seat.region_id,
            region_name: region.name,
            csrf: signed.0.csrf.clone(),
            nav,
            expires_at: shanghai(signed.0.expires_at),
        })
    }
}

/// A UTC time as `2026-12-01 09:30` in Asia/Shanghai.
pub(crate) fn shanghai(t: chrono::DateTime<chrono::Utc>) -> String {
    crate::domain::clock::to_shanghai(t).format("%Y-%m-%d %H:%M").to_string()
}

/// An HTML page (200).
pub(crate) fn page(name: &str, ctx: minijinja::Value) -> PageResult {
    let body = templates::render(name, ctx)?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(body))
}
