//! 待办 (review queues): filing applications waiting for this office with their history,
//! activities held for the committee's text review and room bookings, each decided from
//! the page with a reason — through the API's own service functions.

use actix_web::{get, post, web};
use serde::{Deserialize, Serialize};

use super::{Frame, PageError, PageResult, Signed, page, redirect, shanghai};
use crate::{
    context::AppContext,
    domain::role::Role,
    error::AppError,
    service::{activities, organizations, scope_lists, venues},
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(queue_page).service(decide);
}

#[derive(Serialize)]
struct Step {
    at: String,
    action: String,
    comment: Option<String>,
}

#[derive(Serialize)]
struct Filing {
    id: i64,
    name: String,
    category: String,
    community: String,
    status: &'static str,
    submitted_at: String,
    history: Vec<Step>,
}

#[derive(Serialize)]
struct Held {
    id: i64,
    title: String,
    organization: String,
    starts_at: String,
    location: String,
    description: String,
}

#[derive(Serialize)]
struct Booking {
    id: i64,
    venue: String,
    organization: String,
    purpose: String,
    starts_at: String,
    ends_at: String,
    attendance: i32,
}

/// The step's label in Chinese (the history's `action`).
pub(crate) fn action_zh(action: &str) -> String {
    match action {
        "submitted" => "提交申请",
        "consented" => "社区同意",
        "consent_refused" => "社区驳回",
        "filed" => "街道备案",
        "filing_refused" => "街道驳回",
        "resubmitted" => "重新提交",
        "registered" => "民政登记",
        "suspended" => "暂停",
        "dissolved" => "注销",
        other => other,
    }
    .to_owned()
}

/// The status of an organization in Chinese.
pub(crate) fn org_status_zh(status: &str) -> &'static str {
    match status {
        "pending_consent" => "待社区同意",
        "pending_filing" => "待街道备案",
        "rejected" => "已驳回",
        "filed" => "已备案",
        "registered" => "已登记",
        "suspended" => "已暂停",
        "dissolved" => "已注销",
        _ => "已撤回",
    }
}

/// `GET /console/queue`: what waits for the signed-in office.
#[get("/queue")]
async fn queue_page(ctx: web::Data<AppContext>, signed: Signed) -> PageResult {
    let seat = signed.seat()?;
    let user = signed.user();
    let mut filings = Vec::new();
    if matches!(seat.role, Role::Committee | Role::Street) {
        for org in organizations::review_queue(&ctx, user, None, 100).await? {
            let detail = organizations::detail(&ctx, Some(user), org.id).await?;
            let history: Vec<Step> = detail
                .history
                .unwrap_or_default()
                .into_iter()
                .map(|e| Step { at: shanghai(e.created_at), action: action_zh(&e.action), comment: e.comment })
                .collect();
            filings.push(Filing {
                id: org.id,
                name: org.name,
                category: super::pages::category_zh(&org.category).to_owned(),
                community: detail.community.name,
                status: org_status_zh(&org.status),
                submitted_at: shanghai(org.updated_at),
                history,
            });
        }
    }
    let mut held = Vec::new();
    let mut bookings = Vec::new();
    if seat.role == Role::Committee {
        for a in scope_lists::held_for_review(&ctx, user).await? {
            let view = activities::detail(&ctx, Some(user), a.id).await?;
            held.push(Held {
                id: a.id,
                title: a.title,
                organization: view.organization_name,
                starts_at: shanghai(a.starts_at),
                location: a.location,
                description: a.description.chars().take(200).collect(),
            });
        }
        let (items, _) = venues::review_queue(&ctx, user, None, 100).await?;
        for b in items {
            bookings.push(Booking {
                id: b.booking.id,
                venue: b.venue_name,
                organization: b.organization_name,
                purpose: b.booking.purpose,
                starts_at: shanghai(b.booking.starts_at),
                ends_at: shanghai(b.booking.ends_at),
                attendance: b.booking.attendance,
            });
        }
    }
    let frame = Frame::new(&ctx, &signed, seat, "queue").await?;
    page(
        "queue.html",
        minijinja::context! { frame, filings, held, bookings, committee => seat.role == Role::Committee },
    )
}

#[derive(Deserialize)]
struct DecideForm {
    #[serde(default)]
    csrf: String,
    /// `approve` or `reject`.
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
}

/// `POST /console/queue/{kind}/{id}` (`kind`: `organizations`, `activities`, `bookings`):
/// approves or refuses (with a reason) through the API's service function, then back to
/// the queue.
#[post("/queue/{kind}/{id}")]
async fn decide(
    ctx: web::Data<AppContext>,
    signed: Signed,
    path: web::Path<(String, i64)>,
    form: web::Form<DecideForm>,
) -> PageResult {
    signed.check_csrf(&form.csrf)?;
    signed.seat()?;
    let (kind, id) = path.into_inner();
    let approve = match form.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(PageError(AppError::invalid("decision", "invalid", "请选择同意或驳回"))),
    };
    let reason = Some(form.reason.trim().to_owned()).filter(|r| !r.is_empty());
    let user = signed.user();
    match kind.as_str() {
        "organizations" => {
            organizations::review(&ctx, user, id, approve, reason).await?;
        }
        "activities" => {
            activities::review_held(&ctx, user, id, approve, reason).await?;
        }
        "bookings" => {
            venues::decide(&ctx, user, id, approve, reason).await?;
        }
        _ => return Err(PageError(AppError::NotFound("resource"))),
    }
    Ok(redirect("/console/queue?done=1"))
}
