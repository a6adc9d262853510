//! `/offline-residents`: residents without WeChat, registered by their committee, with a
//! printed check-in card; claimed when they later sign in with WeChat; erased on request.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    api::{checks::Checker, types::time},
    auth::AuthUser,
    context::AppContext,
    domain::pagination::{Page, PageQuery, page_by_id},
    error::{AppError, AppResult, Problem},
    service::{
        self,
        proxies::offline::{OfflineInput, OfflineView},
    },
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(register)
        .service(list)
        .service(detail)
        .service(reissue_card)
        .service(revoke_card)
        .service(claim)
        .service(participation)
        .service(erase);
}

const JSON_PROBLEM: &str = "application/problem+json";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"community_id": 5, "name": "王大爷", "year_of_birth": 1948, "contact_phone": "13800138000"}))]
pub struct OfflineRequest {
    /// The community (社区/村) whose committee registers them.
    pub community_id: i64,
    /// The name people call them by, 1–32 characters.
    #[schema(min_length = 1, max_length = 32)]
    pub name: String,
    /// Optional, 1900 to this year.
    pub year_of_birth: Option<i32>,
    /// Optional contact number (theirs or a relative's): 11-digit mobile or a landline with
    /// its area code. Shown whole to the committee only.
    pub contact_phone: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OfflineResponse {
    /// Their user id: use it as a principal, on rosters and in attendance.
    pub user_id: i64,
    pub name: Option<String>,
    pub community_id: i64,
    pub community_name: Option<String>,
    pub year_of_birth: Option<i32>,
    /// Whole for the committee; masked (`138****8000`) for a proxy.
    pub contact_phone: Option<String>,
    /// The card's code (`ABCD-2345`), only in the answer that issued it: print it then.
    pub card_code: Option<String>,
    /// Whether a card is live, and since when.
    pub has_card: bool,
    pub card_issued_at: Option<DateTime<FixedOffset>>,
    pub live_proxies: u64,
    pub registered_by: i64,
    pub created_at: DateTime<FixedOffset>,
    /// Set once the person signed in with WeChat and the committee linked the account.
    pub claimed_at: Option<DateTime<FixedOffset>>,
}

impl From<OfflineView> for OfflineResponse {
    fn from(v: OfflineView) -> Self {
        let r = v.record;
        Self {
            user_id: r.user_id,
            name: v.name,
            community_id: r.community_id,
            community_name: v.community_name,
            year_of_birth: r.year_of_birth,
            contact_phone: v.contact_phone,
            card_code: v.card_code,
            has_card: r.card_hash.is_some(),
            card_issued_at: r.card_issued_at.map(time),
            live_proxies: v.live_proxies,
            registered_by: r.registered_by,
            created_at: time(r.created_at),
            claimed_at: r.claimed_at.map(time),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OfflineListQuery {
    pub community_id: i64,
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// The personal code on the person's phone (`GET /me/checkin-code`), scanned at the
    /// committee: the account to link.
    pub checkin_code: String,
}

/// Register a resident without WeChat: the committee of the community. Never any health
/// or status label — a name, the community, optionally a year of birth and a contact
/// number. Answers their card's code (`card_code`) this once: print it.
#[utoipa::path(post, path = "/api/v1/offline-residents", operation_id = "registerOfflineResident", tag = "proxies",
    security(("bearer" = [])), request_body = OfflineRequest,
    responses(
        (status = 201, body = OfflineResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the community's committee"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM,
            description = "`validation_failed`: the name, `community_id` (`not_found`, `not_a_community`), `year_of_birth`, `contact_phone`"),
    ))]
#[post("/offline-residents")]
pub async fn register(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    body: web::Json<OfflineRequest>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let mut c = Checker::default();
    let name = c.text("name", Some(body.name), 1, 32, "姓名为 1–32 个字符");
    let contact_phone = c.phone(body.contact_phone);
    let Some(name) = name else { return Err(AppError::Validation(c.errors)) };
    let input = c.finish(OfflineInput {
        community_id: body.community_id,
        name,
        year_of_birth: body.year_of_birth,
        contact_phone,
    })?;
    let view = service::proxies::offline::register(&ctx, &user, input).await?;
    Ok(HttpResponse::Created().json(OfflineResponse::from(view)))
}

/// The community's offline residents, newest first: its committee.
#[utoipa::path(get, path = "/api/v1/offline-residents", operation_id = "listOfflineResidents", tag = "proxies",
    params(OfflineListQuery), security(("bearer" = [])),
    responses(
        (status = 200, body = Page<OfflineResponse>),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM, description = "no such region"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "bad limit or cursor"),
    ))]
#[get("/offline-residents")]
pub async fn list(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    query: web::Query<OfflineListQuery>,
) -> AppResult<web::Json<Page<OfflineResponse>>> {
    let query = query.into_inner();
    let page = PageQuery { cursor: query.cursor, limit: query.limit };
    let limit = page.limit()?;
    let rows = service::proxies::offline::list(&ctx, &user, query.community_id, page.after_id()?, limit).await?;
    Ok(web::Json(page_by_id(rows, limit, |v| v.record.user_id, Into::into)))
}

/// One offline resident: for their committee (the phone whole) and their live proxies
/// (masked).
#[utoipa::path(get, path = "/api/v1/offline-residents/{id}", operation_id = "getOfflineResident", tag = "proxies",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = OfflineResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/offline-residents/{id}")]
pub async fn detail(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<OfflineResponse>> {
    Ok(web::Json(service::proxies::offline::detail(&ctx, &user, id.into_inner()).await?.into()))
}

/// Issue a new card (the old code stops working at once); answers its code this once.
/// The committee.
#[utoipa::path(post, path = "/api/v1/offline-residents/{id}/card", operation_id = "reissueOfflineCard", tag = "proxies",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = OfflineResponse, description = "with the new `card_code`"),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/offline-residents/{id}/card")]
pub async fn reissue_card(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<OfflineResponse>> {
    Ok(web::Json(service::proxies::offline::reissue_card(&ctx, &user, id.into_inner()).await?.into()))
}

/// Revoke the card (lost): its code is refused at the door from now on. The committee.
#[utoipa::path(delete, path = "/api/v1/offline-residents/{id}/card", operation_id = "revokeOfflineCard", tag = "proxies",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = OfflineResponse, description = "`has_card: false`"),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[delete("/offline-residents/{id}/card")]
pub async fn revoke_card(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<OfflineResponse>> {
    Ok(web::Json(service::proxies::offline::revoke_card(&ctx, &user, id.into_inner()).await?.into()))
}

/// Link the WeChat account the person now signs in with, after checking them in person
/// (scan the code on their phone): the account's identity moves onto this record, whose
/// history stays; the account is retired and the next sign-in lands here. The committee.
#[utoipa::path(post, path = "/api/v1/offline-residents/{id}/claim", operation_id = "claimOfflineResident", tag = "proxies",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = ClaimRequest,
    responses(
        (status = 200, body = OfflineResponse, description = "claimed"),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM,
            description = "`already_claimed`; `account_in_use`: the account has sign-ups, attendance, roles, a time-bank account, proxy links or a filing application"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "`checkin_code` invalid or expired"),
    ))]
#[post("/offline-residents/{id}/claim")]
pub async fn claim(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<ClaimRequest>,
) -> AppResult<web::Json<OfflineResponse>> {
    Ok(web::Json(service::proxies::offline::claim(&ctx, &user, id.into_inner(), &body.checkin_code).await?.into()))
}

/// Erase an offline resident on their request, as `DELETE /me` does: upcoming places are
/// given up, personal data erased, past participation still counted. The committee.
#[utoipa::path(delete, path = "/api/v1/offline-residents/{id}", operation_id = "eraseOfflineResident", tag = "proxies",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 204, description = "erased"),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[delete("/offline-residents/{id}")]
pub async fn erase(ctx: web::Data<AppContext>, user: AuthUser, id: web::Path<i64>) -> AppResult<HttpResponse> {
    service::proxies::offline::erase(&ctx, &user, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The offline resident's hours and activities attended, as `GET /me/participation`
/// shows a resident's own: for their committee (a proxy sees the sign-ups only). Hours
/// are the resident's, never the proxy's.
#[utoipa::path(get, path = "/api/v1/offline-residents/{id}/participation", operation_id = "getOfflineParticipation", tag = "proxies",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = crate::api::attendance::Participation),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/offline-residents/{id}/participation")]
pub async fn participation(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<crate::api::attendance::Participation>> {
    let lines = service::proxies::offline::service_record(&ctx, &user, id.into_inner()).await?;
    Ok(web::Json(crate::api::attendance::summarise(&ctx, &lines)))
}
