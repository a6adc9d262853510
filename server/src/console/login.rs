//! Sign-in (扫码登录) and sign-out pages: the QR code, the poll, the dev form.

use actix_web::{HttpRequest, HttpResponse, get, http::header, post, web};
use qrcode::{QrCode, render::svg};
use serde::{Deserialize, Serialize};

use super::{
    CsrfForm, PageError, PageResult, SEAT_COOKIE, SESSION_COOKIE, Signed, TICKET_COOKIE, client_ip, cookie, page,
    redirect, set_cookie,
};
use crate::{
    context::AppContext,
    domain::console::{APPROVE_PAGE, TICKET_TTL_SECS},
    error::AppError,
    service::console_sessions::{self, Poll},
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(login_page).service(poll).service(dev_login).service(logout).service(switch_seat);
}

/// The text of the sign-in QR code: the mini-program page that approves `ticket`.
pub fn qr_text(ticket: &str) -> String {
    format!("{APPROVE_PAGE}?ticket={ticket}")
}

/// `text` as an SVG QR code (the sign-in ticket, an invitation's page).
pub(crate) fn qr_svg(text: &str) -> Result<String, AppError> {
    let code = QrCode::new(text.as_bytes()).map_err(|e| AppError::Internal(anyhow::anyhow!("QR code: {e}")))?;
    Ok(code
        .render::<svg::Color>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

/// `GET /console/login`: a fresh ticket as a QR code (and, in dev mode, the openid form).
/// The ticket's browser secret goes into a cookie only this browser sends.
#[get("/login")]
async fn login_page(ctx: web::Data<AppContext>, req: HttpRequest) -> PageResult {
    let user_agent = req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let ticket = console_sessions::create_ticket(&ctx, user_agent, &client_ip(&req, &ctx)).await?;
    let qr = qr_svg(&qr_text(&ticket.ticket))?;
    let mut res = page(
        "login.html",
        minijinja::context! {
            ticket => ticket.ticket,
            qr_text => qr_text(&ticket.ticket),
            qr => minijinja::Value::from_safe_string(qr),
            ttl_secs => TICKET_TTL_SECS,
            expires_at => super::shanghai(ticket.expires_at),
            dev => ctx.wechat.is_dev(),
        },
    )?;
    if let Ok(v) = header::HeaderValue::from_str(&set_cookie(
        &ctx,
        TICKET_COOKIE,
        &ticket.browser_secret,
        "/console/login",
        TICKET_TTL_SECS,
    )) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(res)
}

#[derive(Deserialize)]
struct PollQuery {
    ticket: String,
}

#[derive(Serialize)]
struct PollResponse {
    /// `waiting`, `expired` or `signed_in`.
    status: &'static str,
}

fn signed_in(ctx: &AppContext, token: &str, json: bool) -> HttpResponse {
    let ttl = ctx.config.console_session_ttl.as_secs() as i64;
    let mut res =
        if json { HttpResponse::Ok().json(PollResponse { status: "signed_in" }) } else { redirect("/console/") };
    for value in [
        set_cookie(ctx, SESSION_COOKIE, token, "/console/", ttl),
        set_cookie(ctx, TICKET_COOKIE, "", "/console/login", 0),
    ] {
        if let Ok(v) = header::HeaderValue::from_str(&value) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// `GET /console/login/poll?ticket=`: the sign-in page asks every 2 seconds whether the
/// phone approved; the first answer after approval carries the session cookie, once.
#[get("/login/poll")]
async fn poll(ctx: web::Data<AppContext>, req: HttpRequest, query: web::Query<PollQuery>) -> PageResult {
    let secret = cookie(&req, TICKET_COOKIE).ok_or(AppError::NotFound("ticket"))?;
    Ok(match console_sessions::poll(&ctx, &query.ticket, &secret).await? {
        Poll::Waiting => HttpResponse::Ok().json(PollResponse { status: "waiting" }),
        Poll::Expired => HttpResponse::Ok().json(PollResponse { status: "expired" }),
        Poll::SignedIn { token } => signed_in(&ctx, &token, true),
    })
}

#[derive(Deserialize)]
struct DevForm {
    ticket: String,
    openid: String,
}

/// `POST /console/login/dev` (dev mode only): signs this browser in as the user with the
/// openid, as dev login does. The ticket's browser cookie stands in for a CSRF token.
#[post("/login/dev")]
async fn dev_login(ctx: web::Data<AppContext>, req: HttpRequest, form: web::Form<DevForm>) -> PageResult {
    if !ctx.wechat.is_dev() {
        return Err(PageError(AppError::NotFound("resource")));
    }
    let secret = cookie(&req, TICKET_COOKIE)
        .ok_or(PageError(AppError::Forbidden("the sign-in page's cookie is missing: reload the page")))?;
    match console_sessions::dev_sign_in(&ctx, form.openid.trim(), &form.ticket, &secret).await? {
        Poll::SignedIn { token } => Ok(signed_in(&ctx, &token, false)),
        Poll::Waiting | Poll::Expired => {
            Err(PageError(AppError::Gone("ticket_expired", "二维码已过期，请刷新登录页".into())))
        }
    }
}

/// `POST /console/logout`: ends this session and clears its cookie.
#[post("/logout")]
async fn logout(ctx: web::Data<AppContext>, signed: Signed, form: web::Form<CsrfForm>) -> PageResult {
    signed.check_csrf(&form.csrf)?;
    console_sessions::revoke(&ctx, signed.0.id).await?;
    let mut res = redirect("/console/login");
    if let Ok(v) = header::HeaderValue::from_str(&set_cookie(&ctx, SESSION_COOKIE, "", "/console/", 0)) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(res)
}

#[derive(Deserialize)]
struct SeatForm {
    #[serde(default)]
    csrf: String,
    /// `role:region_id`, one of the user's seats.
    #[serde(default)]
    seat: String,
}

/// `POST /console/seat`: someone holding several region roles (a committee member who
/// also staffs the street office) works as another of them. Only a seat their grants give
/// is taken (403 otherwise); the choice lasts as long as the session's cookie.
#[post("/seat")]
async fn switch_seat(ctx: web::Data<AppContext>, signed: Signed, form: web::Form<SeatForm>) -> PageResult {
    signed.check_csrf(&form.csrf)?;
    let Some(seat) = signed.seats().iter().copied().find(|s| s.value() == form.seat) else {
        return Err(PageError(AppError::Forbidden("outside your scope")));
    };
    let mut res = redirect("/console/");
    let max_age = (signed.0.expires_at - ctx.now()).num_seconds().max(0);
    if let Ok(v) = header::HeaderValue::from_str(&set_cookie(&ctx, SEAT_COOKIE, &seat.value(), "/console/", max_age)) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(res)
}
