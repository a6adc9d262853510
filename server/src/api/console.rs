//! `/console/tickets`: what the mini-program calls to let a PC browser into the web
//! console (扫码登录). The console's own pages are in `crate::console`.

use actix_web::{get, post, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    auth::AuthUser,
    context::AppContext,
    error::{AppResult, Problem},
    service::{self, console_sessions::TicketView},
};

const JSON_PROBLEM: &str = "application/problem+json";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(inspect).service(approve);
}

/// Where a sign-in ticket stands.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ConsoleTicketStatus {
    /// Shown on the PC, not yet approved.
    Waiting,
    /// Approved; the PC is collecting its session.
    Approved,
    /// The PC is signed in.
    Used,
    /// Not approved within 2 minutes.
    Expired,
}

/// A console sign-in ticket, as the phone shows it before the user approves: which
/// browser asks, from which address, since when.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsoleTicketResponse {
    #[schema(value_type = ConsoleTicketStatus)]
    pub status: &'static str,
    /// The asking browser and system, e.g. `Chrome 131 · Windows`.
    #[schema(example = "Chrome 131 · Windows")]
    pub browser: String,
    /// The browser's IP address as the server saw it.
    #[schema(example = "10.12.0.8")]
    pub ip: String,
    /// When the QR code was shown (UTC).
    pub created_at: DateTime<Utc>,
    /// 2 minutes after `created_at` (UTC): approval is refused after.
    pub expires_at: DateTime<Utc>,
}

impl From<TicketView> for ConsoleTicketResponse {
    fn from(v: TicketView) -> Self {
        Self {
            status: v.status.as_str(),
            browser: v.browser,
            ip: v.ip,
            created_at: v.created_at,
            expires_at: v.expires_at,
        }
    }
}

/// A console sign-in ticket scanned from the PC's QR code: which browser, place and time
/// ask, so the user knows what they approve. The QR holds the mini-program page
/// `pages/console/approve?ticket={ticket}`.
#[utoipa::path(get, path = "/api/v1/console/tickets/{ticket}", operation_id = "inspectConsoleTicket", tag = "console",
    params(("ticket" = String, Path, description = "The 32 hex characters from the QR code")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = ConsoleTicketResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM, description = "no such ticket"),
        (status = 429, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/console/tickets/{ticket}")]
pub async fn inspect(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    ticket: web::Path<String>,
) -> AppResult<web::Json<ConsoleTicketResponse>> {
    Ok(web::Json(service::console_sessions::inspect(&ctx, &user, &ticket).await?.into()))
}

/// Approve a console sign-in: the PC browser that shows this ticket is signed in to the
/// web console as the caller (its pages then check the caller's roles as the API does).
/// Once, within 2 minutes of the QR code being shown.
#[utoipa::path(post, path = "/api/v1/console/tickets/{ticket}/approve", operation_id = "approveConsoleTicket", tag = "console",
    params(("ticket" = String, Path, description = "The 32 hex characters from the QR code")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = ConsoleTicketResponse, description = "`approved`: the PC signs in at its next poll"),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM, description = "no such ticket"),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`ticket_used`: approved already"),
        (status = 410, body = Problem, content_type = JSON_PROBLEM, description = "`ticket_expired`: more than 2 minutes old"),
        (status = 429, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/console/tickets/{ticket}/approve")]
pub async fn approve(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    ticket: web::Path<String>,
) -> AppResult<web::Json<ConsoleTicketResponse>> {
    Ok(web::Json(service::console_sessions::approve(&ctx, &user, &ticket).await?.into()))
}
