//! Acting for someone else: proxy links (`/principals/{id}/proxy-links`,
//! `/proxy-links/{id}/revoke`, `/me/principals`), signing a principal up or off
//! (`/principals/{id}/signups`), the record of acts on their behalf
//! (`/principals/{id}/acts`), and waived no-shows.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    api::{
        activities::{MySignupResponse, MySignupsQuery, signup_response},
        checks::Checker,
        types::time,
    },
    auth::AuthUser,
    context::AppContext,
    domain::{
        pagination::{Page, PageQuery, page_by_id},
        proxy::{Authorisation, ProxyAct},
    },
    error::{AppError, AppResult, Problem},
    service::{
        self,
        proxies::{ActView, LinkInput, LinkView, ProxyWho, waivers::Waiver},
    },
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(create_link)
        .service(list_links)
        .service(revoke_link)
        .service(my_principals)
        .service(acts)
        .service(sign_up)
        .service(cancel)
        .service(signups)
        .service(waive_no_show);
}

const JSON_PROBLEM: &str = "application/problem+json";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"proxy_user_id": 42, "authorisation": "in_person", "note": "女儿，本人到社区当面授权"}))]
pub struct LinkRequest {
    /// The would-be proxy by id (known to the committee)…
    #[schema(nullable = false)]
    pub proxy_user_id: Option<i64>,
    /// …or their personal code (`GET /me/checkin-code`) scanned from their phone.
    #[schema(nullable = false)]
    pub proxy_checkin_code: Option<String>,
    /// The committee's: `in_person` or `signed_form` (required). The principal's own
    /// request is `principal_confirmed` (may be left out).
    #[schema(nullable = false)]
    pub authorisation: Option<Authorisation>,
    /// At most 128 characters (who they are to each other, where the form is kept).
    #[schema(max_length = 128)]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LinkResponse {
    pub id: i64,
    pub principal_id: i64,
    pub principal_name: Option<String>,
    /// The principal has no WeChat (registered by the committee).
    pub principal_offline: bool,
    pub proxy_id: i64,
    pub proxy_name: Option<String>,
    #[schema(value_type = Authorisation)]
    pub authorisation: String,
    /// Who recorded the authorisation: the committee member, or the principal.
    pub authorised_by: i64,
    pub note: Option<String>,
    pub created_at: DateTime<FixedOffset>,
    /// Live while `null`.
    pub revoked_at: Option<DateTime<FixedOffset>>,
    pub revoked_by: Option<i64>,
}

impl From<LinkView> for LinkResponse {
    fn from(v: LinkView) -> Self {
        let l = v.link;
        Self {
            id: l.id,
            principal_id: l.principal_id,
            principal_name: v.principal_name,
            principal_offline: v.principal_offline,
            proxy_id: l.proxy_id,
            proxy_name: v.proxy_name,
            authorisation: l.authorisation,
            authorised_by: l.authorised_by,
            note: l.note,
            created_at: time(l.created_at),
            revoked_at: l.revoked_at.map(time),
            revoked_by: l.revoked_by,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActResponse {
    pub id: i64,
    /// For whom.
    pub principal_id: i64,
    /// Who.
    pub actor_id: i64,
    pub actor_name: Option<String>,
    /// What.
    #[schema(value_type = ProxyAct)]
    pub act: String,
    pub activity_id: Option<i64>,
    pub link_id: Option<i64>,
    /// When.
    pub created_at: DateTime<FixedOffset>,
}

impl From<ActView> for ActResponse {
    fn from(v: ActView) -> Self {
        let a = v.act;
        Self {
            id: a.id,
            principal_id: a.principal_id,
            actor_id: a.actor_id,
            actor_name: v.actor_name,
            act: a.act,
            activity_id: a.activity_id,
            link_id: a.link_id,
            created_at: time(a.created_at),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OnBehalfRequest {
    pub activity_id: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WaiveRequest {
    /// Why it is excused, 1–200 characters; kept with the waiver.
    #[schema(min_length = 1, max_length = 200)]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WaiverResponse {
    pub activity_id: i64,
    pub user_id: i64,
    pub reason: String,
    pub waived_by: i64,
    pub created_at: DateTime<FixedOffset>,
}

impl From<Waiver> for WaiverResponse {
    fn from(w: Waiver) -> Self {
        Self {
            activity_id: w.activity_id,
            user_id: w.user_id,
            reason: w.reason,
            waived_by: w.waived_by,
            created_at: time(w.created_at),
        }
    }
}

/// Make someone a proxy of the principal. The committee of the principal's community
/// records how it was authorised (`in_person`, `signed_form`); the principal themself,
/// signed in, confirms in the mini-program (`principal_confirmed`), usually by scanning
/// the proxy's personal code. No proxy of a proxy; at most `MAX_PROXIES` (3) live
/// proxies. Asking again for a live pair answers it (200).
#[utoipa::path(post, path = "/api/v1/principals/{id}/proxy-links", operation_id = "createProxyLink", tag = "proxies",
    params(("id" = i64, Path, description = "the principal's user id")), security(("bearer" = [])), request_body = LinkRequest,
    responses(
        (status = 201, body = LinkResponse, description = "linked"),
        (status = 200, body = LinkResponse, description = "this pair is linked already"),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "neither the principal nor their committee"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM, description = "no such principal"),
        (status = 409, body = Problem, content_type = JSON_PROBLEM,
            description = "`own_proxy`, `proxy_offline`, `proxy_of_proxy`, `too_many_proxies`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM,
            description = "`validation_failed`: the proxy (`one_of`, `not_found`, an invalid code), `authorisation`, the note"),
    ))]
#[post("/principals/{id}/proxy-links")]
pub async fn create_link(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<LinkRequest>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let mut c = Checker::default();
    let note = c.text("note", body.note, 1, 128, "备注不超过 128 个字符");
    let proxy = match (body.proxy_user_id, body.proxy_checkin_code) {
        (Some(id), None) => Some(ProxyWho::User(id)),
        (None, Some(code)) => Some(ProxyWho::Code(code)),
        _ => {
            c.fail("proxy_user_id", "one_of", "须提供 proxy_user_id 或 proxy_checkin_code 之一");
            None
        }
    };
    let Some(proxy) = proxy else { return Err(AppError::Validation(c.errors)) };
    let input = c.finish(LinkInput { proxy, authorisation: body.authorisation, note })?;
    let (view, created) = service::proxies::create_link(&ctx, &user, id.into_inner(), input).await?;
    let mut response = if created { HttpResponse::Created() } else { HttpResponse::Ok() };
    Ok(response.json(LinkResponse::from(view)))
}

/// A principal's proxy links, live and revoked, newest first: for the principal and
/// their committee.
#[utoipa::path(get, path = "/api/v1/principals/{id}/proxy-links", operation_id = "listProxyLinks", tag = "proxies",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<LinkResponse>),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/principals/{id}/proxy-links")]
pub async fn list_links(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<Vec<LinkResponse>>> {
    let links = service::proxies::links_of(&ctx, &user, id.into_inner()).await?;
    Ok(web::Json(links.into_iter().map(Into::into).collect()))
}

/// End a proxy link: the principal or their committee (not the proxy). Nothing already
/// done is undone — the principal's sign-ups stay. Idempotent.
#[utoipa::path(post, path = "/api/v1/proxy-links/{id}/revoke", operation_id = "revokeProxyLink", tag = "proxies",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = LinkResponse, description = "revoked"),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "neither the principal nor their committee"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/proxy-links/{id}/revoke")]
pub async fn revoke_link(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<LinkResponse>> {
    Ok(web::Json(service::proxies::revoke_link(&ctx, &user, id.into_inner()).await?.into()))
}

/// The people the caller acts for now (their live links).
#[utoipa::path(get, path = "/api/v1/me/principals", operation_id = "listMyPrincipals", tag = "proxies",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<LinkResponse>),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/me/principals")]
pub async fn my_principals(ctx: web::Data<AppContext>, user: AuthUser) -> AppResult<web::Json<Vec<LinkResponse>>> {
    let links = service::proxies::my_principals(&ctx, &user).await?;
    Ok(web::Json(links.into_iter().map(Into::into).collect()))
}

/// Everything done on the principal's behalf — who, what, when — newest first: for the
/// principal and their committee.
#[utoipa::path(get, path = "/api/v1/principals/{id}/acts", operation_id = "listProxyActs", tag = "proxies",
    params(("id" = i64, Path), PageQuery), security(("bearer" = [])),
    responses(
        (status = 200, body = Page<ActResponse>),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "bad limit or cursor"),
    ))]
#[get("/principals/{id}/acts")]
pub async fn acts(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    query: web::Query<PageQuery>,
) -> AppResult<web::Json<Page<ActResponse>>> {
    let limit = query.limit()?;
    let rows = service::proxies::acts_of(&ctx, &user, id.into_inner(), query.after_id()?, limit).await?;
    Ok(web::Json(page_by_id(rows, limit, |a| a.act.id, Into::into)))
}

/// A proxy signs the principal up: the ordinary sign-up, with the principal's places,
/// clashes and no-shows; recorded as an act. Repeating it answers the same sign-up.
#[utoipa::path(post, path = "/api/v1/principals/{id}/signups", operation_id = "signUpPrincipal", tag = "proxies",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = OnBehalfRequest,
    responses(
        (status = 201, body = crate::api::activities::SignupResponse, description = "signed up"),
        (status = 200, body = crate::api::activities::SignupResponse, description = "already signed up"),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not a live proxy of this resident"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM,
            description = "as `POST /activities/{id}/signups`: `signup_closed`, `activity_full`, `schedule_conflict`, …"),
    ))]
#[post("/principals/{id}/signups")]
pub async fn sign_up(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<OnBehalfRequest>,
) -> AppResult<HttpResponse> {
    let outcome = service::proxies::sign_up(&ctx, &user, id.into_inner(), body.activity_id).await?;
    let mut response = if outcome.created { HttpResponse::Created() } else { HttpResponse::Ok() };
    let mut body = signup_response(outcome.signup, outcome.waitlist_position);
    body.note = outcome.note;
    Ok(response.json(body))
}

/// A proxy cancels the principal's sign-up, under the ordinary rules; recorded as an act.
#[utoipa::path(delete, path = "/api/v1/principals/{id}/signups/{activity_id}", operation_id = "cancelPrincipalSignup", tag = "proxies",
    params(("id" = i64, Path), ("activity_id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 204, description = "cancelled"),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not a live proxy of this resident"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM, description = "no such sign-up"),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`cancellation_closed`, `activity_closed`"),
    ))]
#[delete("/principals/{id}/signups/{activity_id}")]
pub async fn cancel(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<(i64, i64)>,
) -> AppResult<HttpResponse> {
    let (principal, activity) = path.into_inner();
    service::proxies::cancel(&ctx, &user, principal, activity).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The principal's sign-ups, as `GET /me/signups` shows them: for their live proxies.
#[utoipa::path(get, path = "/api/v1/principals/{id}/signups", operation_id = "listPrincipalSignups", tag = "proxies",
    params(("id" = i64, Path), MySignupsQuery), security(("bearer" = [])),
    responses(
        (status = 200, body = Page<MySignupResponse>),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not a live proxy of this resident"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/principals/{id}/signups")]
pub async fn signups(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    query: web::Query<MySignupsQuery>,
) -> AppResult<web::Json<Page<MySignupResponse>>> {
    let query = query.into_inner();
    let upcoming = match query.when.as_deref() {
        None | Some("upcoming") => true,
        Some("past") => false,
        Some(_) => return Err(AppError::invalid("when", "invalid", "when 须为 upcoming 或 past")),
    };
    let page = PageQuery { cursor: query.cursor, limit: query.limit };
    let limit = page.limit()?;
    let rows = service::proxies::signups(&ctx, &user, id.into_inner(), upcoming, page.after_id()?, limit).await?;
    Ok(web::Json(page_by_id(rows, limit, |m| m.signup.id, Into::into)))
}

/// Staff of the organization waive a resident's no-show on this activity with a reason:
/// it no longer counts towards `NO_SHOW_LIMIT`. A second waiver answers the first.
#[utoipa::path(post, path = "/api/v1/activities/{id}/signups/{user_id}/waive-no-show", operation_id = "waiveNoShow", tag = "proxies",
    params(("id" = i64, Path), ("user_id" = i64, Path)), security(("bearer" = [])), request_body = WaiveRequest,
    responses(
        (status = 200, body = WaiverResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the organization's staff"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM, description = "no such activity or sign-up"),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`not_a_no_show`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "a reason is required"),
    ))]
#[post("/activities/{id}/signups/{user_id}/waive-no-show")]
pub async fn waive_no_show(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<(i64, i64)>,
    body: web::Json<WaiveRequest>,
) -> AppResult<web::Json<WaiverResponse>> {
    let (activity, member) = path.into_inner();
    let reason = crate::domain::text::bounded(&body.reason, 1, 200)
        .map_err(|_| AppError::invalid("reason", "required", "须说明豁免理由（1–200 个字符）"))?;
    Ok(web::Json(service::proxies::waivers::waive(&ctx, &user, activity, member, reason).await?.into()))
}
