//! The time bank (时间银行): `/time-banks` (banks, members, offers and requests,
//! statements), `/time-bank-listings`, `/time-bank-agreements`, `/time-bank-transfers`
//! and marking an activity as credited by the bank (`POST /activities/{id}/time-bank`).
//! All amounts are integer minutes.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    api::{checks::Checker, types::time},
    auth::AuthUser,
    context::AppContext,
    domain::{
        clock::to_shanghai,
        time_bank::{AgreementStatus, HelpCategory, ListingKind, ListingStatus, MemberStatus, TransferKind},
    },
    error::{AppError, AppResult, Problem},
    service::{
        self,
        time_bank::{AgreementView, BankInput, BankPatch, BankView, ListingInput, ListingView, Member, Statement},
    },
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(create_bank)
        .service(list_banks)
        .service(get_bank)
        .service(update_bank)
        .service(join)
        .service(members)
        .service(review_member)
        .service(create_listing)
        .service(list_listings)
        .service(close_listing)
        .service(propose)
        .service(my_agreements)
        .service(accept)
        .service(cancel)
        .service(confirm)
        .service(reverse)
        .service(statement)
        .service(statement_page)
        .service(mark_activity);
}

const JSON_PROBLEM: &str = "application/problem+json";

// ---- types -----------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"region_id": 11, "name": "金塔巷社区时间银行", "floor_minutes": -600}))]
pub struct CreateBankRequest {
    /// The community (its committee creates it) or street (its street office) it serves.
    pub region_id: i64,
    /// 1–32 characters.
    #[schema(max_length = 32)]
    pub name: String,
    /// The lowest balance a member may reach, in minutes: −6000..=0, default −600 (−10 h).
    #[schema(minimum = -6000, maximum = 0)]
    pub floor_minutes: Option<i64>,
    /// An organization of the region the committee designates to accept members and
    /// correct transfers.
    pub managing_organization_id: Option<i64>,
}

fn double_option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"floor_minutes": -300}))]
pub struct UpdateBankRequest {
    /// 1–32 characters.
    #[schema(max_length = 32)]
    pub name: Option<String>,
    /// Minutes, −6000..=0. Raising it stops further debts; it takes nothing back.
    #[schema(minimum = -6000, maximum = 0)]
    pub floor_minutes: Option<i64>,
    /// An organization of the region to designate; `null` withdraws the designation.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub managing_organization_id: Option<Option<i64>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipResponse {
    pub bank_id: i64,
    pub user_id: i64,
    pub nickname: Option<String>,
    pub status: MemberStatus,
    /// Minutes; may be negative down to the bank's floor.
    pub balance_minutes: i64,
    /// Why a request was refused.
    pub review_reason: Option<String>,
    pub created_at: DateTime<FixedOffset>,
}

impl From<Member> for MembershipResponse {
    fn from(m: Member) -> Self {
        let a = m.account;
        Self {
            bank_id: a.bank_id,
            user_id: a.user_id.unwrap_or_default(),
            nickname: m.nickname,
            status: MemberStatus::parse(&a.status).unwrap_or(MemberStatus::Requested),
            balance_minutes: a.balance,
            review_reason: a.review_reason,
            created_at: time(a.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BankResponse {
    pub id: i64,
    pub name: String,
    pub region_id: i64,
    pub region_name: String,
    /// Minutes (negative): a member's lowest balance.
    pub floor_minutes: i64,
    pub managing_organization_id: Option<i64>,
    /// Accepted members.
    pub members: i64,
    /// The bank's own account, in minutes: minus what it has credited for activities.
    pub bank_balance_minutes: i64,
    /// The caller's membership, when they asked to join.
    pub my_membership: Option<MembershipResponse>,
    /// Whether the caller accepts members and corrects transfers here.
    pub may_manage: bool,
    pub created_at: DateTime<FixedOffset>,
}

impl From<BankView> for BankResponse {
    fn from(v: BankView) -> Self {
        let b = v.bank;
        Self {
            id: b.id,
            name: b.name,
            region_id: b.region_id,
            region_name: v.region_name,
            floor_minutes: b.floor_minutes,
            managing_organization_id: b.managing_org_id,
            members: v.members,
            bank_balance_minutes: v.bank_balance,
            my_membership: v.my_account.map(|a| Member { account: a, nickname: None }.into()),
            may_manage: v.may_manage,
            created_at: time(b.created_at),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BanksQuery {
    /// Banks serving this region (its own, its street's) and those under it.
    pub region_id: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MembersQuery {
    #[param(value_type = Option<MemberStatus>)]
    pub status: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewMemberRequest {
    /// `approve` or `reject`.
    #[schema(example = "approve")]
    pub decision: String,
    /// Needed to reject: 1–200 characters.
    #[schema(max_length = 200)]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "request", "category": "escort", "title": "周三陪我去社区医院复查", "description": "上午九点出发，大约两小时", "minutes": 120}))]
pub struct ListingRequest {
    pub kind: ListingKind,
    pub category: HelpCategory,
    /// 1–40 characters.
    #[schema(max_length = 40)]
    pub title: String,
    /// At most 500 characters.
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// Expected minutes, 1–1440.
    #[schema(minimum = 1, maximum = 1440)]
    pub minutes: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListingResponse {
    pub id: i64,
    pub bank_id: i64,
    pub kind: ListingKind,
    pub category: HelpCategory,
    pub title: String,
    pub description: String,
    pub minutes: i64,
    pub status: ListingStatus,
    pub author_id: i64,
    pub author_nickname: Option<String>,
    pub created_at: DateTime<FixedOffset>,
}

impl From<ListingView> for ListingResponse {
    fn from(v: ListingView) -> Self {
        let l = v.listing;
        Self {
            id: l.id,
            bank_id: l.bank_id,
            kind: ListingKind::parse(&l.kind).unwrap_or(ListingKind::Offer),
            category: HelpCategory::parse(&l.category).unwrap_or(HelpCategory::Other),
            title: l.title,
            description: l.description,
            minutes: l.minutes,
            status: ListingStatus::parse(&l.status).unwrap_or(ListingStatus::Closed),
            author_id: v.author_id,
            author_nickname: v.author_nickname,
            created_at: time(l.created_at),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListingsQuery {
    #[param(value_type = Option<ListingKind>)]
    pub kind: Option<String>,
    #[param(value_type = Option<HelpCategory>)]
    pub category: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct MinutesRequest {
    /// Minutes, 1–1440: proposed (default: the listing's), or confirmed as actually given
    /// (default: the agreed).
    #[schema(minimum = 1, maximum = 1440)]
    pub minutes: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransferResponse {
    pub id: i64,
    pub bank_id: i64,
    pub from_account_id: i64,
    pub to_account_id: i64,
    /// Positive minutes.
    pub minutes: i64,
    pub kind: TransferKind,
    pub agreement_id: Option<i64>,
    pub activity_id: Option<i64>,
    /// The transfer this one reverses.
    pub reverses_id: Option<i64>,
    pub reason: Option<String>,
    /// Who caused it; `null` when an activity's closing did.
    pub created_by: Option<i64>,
    pub created_at: DateTime<FixedOffset>,
}

impl From<crate::entity::time_bank_transfer::Model> for TransferResponse {
    fn from(t: crate::entity::time_bank_transfer::Model) -> Self {
        Self {
            id: t.id,
            bank_id: t.bank_id,
            from_account_id: t.from_account_id,
            to_account_id: t.to_account_id,
            minutes: t.minutes,
            kind: TransferKind::parse(&t.kind).unwrap_or(TransferKind::Exchange),
            agreement_id: t.agreement_id,
            activity_id: t.activity_id,
            reverses_id: t.reverses_id,
            reason: t.reason,
            created_by: t.created_by,
            created_at: time(t.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgreementResponse {
    pub id: i64,
    pub bank_id: i64,
    pub listing_id: i64,
    pub helper_id: i64,
    pub helped_id: i64,
    pub proposed_by: i64,
    pub minutes: i64,
    pub status: AgreementStatus,
    /// Who confirmed the time: the helped (or, later, someone acting for them).
    pub confirmed_by: Option<i64>,
    /// The transfer the confirmation made.
    pub transfer: Option<TransferResponse>,
    pub created_at: DateTime<FixedOffset>,
    pub updated_at: DateTime<FixedOffset>,
}

impl From<AgreementView> for AgreementResponse {
    fn from(v: AgreementView) -> Self {
        let a = v.agreement;
        Self {
            id: a.id,
            bank_id: a.bank_id,
            listing_id: a.listing_id,
            helper_id: v.helper_id,
            helped_id: v.helped_id,
            proposed_by: a.proposed_by,
            minutes: a.minutes,
            status: AgreementStatus::parse(&a.status).unwrap_or(AgreementStatus::Proposed),
            confirmed_by: a.confirmed_by,
            transfer: v.transfer.map(Into::into),
            created_at: time(a.created_at),
            updated_at: time(a.updated_at),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReverseRequest {
    /// Why it is corrected: 1–200 characters.
    #[schema(max_length = 200)]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatementLineResponse {
    pub transfer_id: i64,
    pub kind: TransferKind,
    /// Signed minutes: into the account (+) or out of it (−).
    pub minutes: i64,
    /// The balance right after, in minutes.
    pub balance_after: i64,
    /// The other side's user; `null` for the bank's own account.
    pub counterparty_user_id: Option<i64>,
    pub counterparty_nickname: Option<String>,
    pub reason: Option<String>,
    pub reverses_id: Option<i64>,
    pub at: DateTime<FixedOffset>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatementResponse {
    pub bank_id: i64,
    pub bank_name: String,
    pub user_id: i64,
    pub nickname: Option<String>,
    pub balance_minutes: i64,
    pub floor_minutes: i64,
    pub minutes_in: i64,
    pub minutes_out: i64,
    /// Oldest first.
    pub lines: Vec<StatementLineResponse>,
}

impl From<Statement> for StatementResponse {
    fn from(s: Statement) -> Self {
        Self {
            bank_id: s.bank.id,
            bank_name: s.bank.name,
            user_id: s.account.user_id.unwrap_or_default(),
            nickname: s.nickname,
            balance_minutes: s.account.balance,
            floor_minutes: s.bank.floor_minutes,
            minutes_in: s.minutes_in,
            minutes_out: s.minutes_out,
            lines: s
                .lines
                .into_iter()
                .map(|l| StatementLineResponse {
                    transfer_id: l.transfer.id,
                    kind: TransferKind::parse(&l.transfer.kind).unwrap_or(TransferKind::Exchange),
                    minutes: l.movement.minutes,
                    balance_after: l.movement.balance_after,
                    counterparty_user_id: l.counterparty_user_id,
                    counterparty_nickname: l.counterparty_nickname,
                    reason: l.transfer.reason,
                    reverses_id: l.transfer.reverses_id,
                    at: time(l.movement.created_at),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkActivityRequest {
    /// Whether closing the activity pays its attendees' credited minutes from the bank.
    pub credited: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MarkActivityResponse {
    pub activity_id: i64,
    pub time_bank_credited: bool,
}

// ---- handlers --------------------------------------------------------------------------

fn reason(c: &mut Checker, value: Option<String>) -> Option<String> {
    c.text("reason", value, 1, 200, "理由须为 1–200 个字符")
}

/// Create a community's time bank (its committee, or the street office over it) or a
/// street's (its street office). One per region.
#[utoipa::path(post, path = "/api/v1/time-banks", operation_id = "createTimeBank", tag = "time-bank",
    security(("bearer" = [])), request_body = CreateBankRequest,
    responses(
        (status = 201, body = BankResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the committee or street office over the region"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`time_bank_exists`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/time-banks")]
pub async fn create_bank(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    body: web::Json<CreateBankRequest>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let mut c = Checker::default();
    let name = c.text("name", Some(body.name), 1, 32, "名称须为 1–32 个字符");
    let input = c.finish(BankInput {
        region_id: body.region_id,
        name: name.unwrap_or_default(),
        floor_minutes: body.floor_minutes,
        managing_org_id: body.managing_organization_id,
    })?;
    let view = service::time_bank::create_bank(&ctx, &user, input).await?;
    Ok(HttpResponse::Created().json(BankResponse::from(view)))
}

/// Time banks, with the caller's membership in each.
#[utoipa::path(get, path = "/api/v1/time-banks", operation_id = "listTimeBanks", tag = "time-bank", params(BanksQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<BankResponse>),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM, description = "no such region"),
    ))]
#[get("/time-banks")]
pub async fn list_banks(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    query: web::Query<BanksQuery>,
) -> AppResult<web::Json<Vec<BankResponse>>> {
    let banks = service::time_bank::banks(&ctx, &user, query.region_id).await?;
    Ok(web::Json(banks.into_iter().map(Into::into).collect()))
}

/// One time bank, with the caller's membership.
#[utoipa::path(get, path = "/api/v1/time-banks/{id}", operation_id = "getTimeBank", tag = "time-bank", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = BankResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/time-banks/{id}")]
pub async fn get_bank(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<BankResponse>> {
    Ok(web::Json(service::time_bank::bank(&ctx, &user, id.into_inner()).await?.into()))
}

/// Change a bank's name, floor or designated organization: the committee or street office
/// over its region (not the designated organization).
#[utoipa::path(patch, path = "/api/v1/time-banks/{id}", operation_id = "updateTimeBank", tag = "time-bank", params(("id" = i64, Path)),
    security(("bearer" = [])), request_body = UpdateBankRequest,
    responses(
        (status = 200, body = BankResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the committee or street office over the bank"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[patch("/time-banks/{id}")]
pub async fn update_bank(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<UpdateBankRequest>,
) -> AppResult<web::Json<BankResponse>> {
    let body = body.into_inner();
    let mut c = Checker::default();
    let name = c.text("name", body.name, 1, 32, "名称须为 1–32 个字符");
    let patch = c.finish(BankPatch {
        name,
        floor_minutes: body.floor_minutes,
        managing_org_id: body.managing_organization_id,
    })?;
    Ok(web::Json(service::time_bank::update_bank(&ctx, &user, id.into_inner(), patch).await?.into()))
}

/// Ask to join a bank (a resident whose home community it serves); a manager accepts.
/// Asking again answers the same membership.
#[utoipa::path(post, path = "/api/v1/time-banks/{id}/members", operation_id = "joinTimeBank", tag = "time-bank", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = MembershipResponse, description = "`requested` (or as it stands)"),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM, description = "`outside_bank_area`: the caller's home community is not served"),
    ))]
#[post("/time-banks/{id}/members")]
pub async fn join(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<MembershipResponse>> {
    let a = service::time_bank::join(&ctx, &user, id.into_inner()).await?;
    Ok(web::Json(Member { account: a, nickname: None }.into()))
}

/// A bank's memberships (its managers), oldest first.
#[utoipa::path(get, path = "/api/v1/time-banks/{id}/members", operation_id = "listTimeBankMembers", tag = "time-bank",
    params(("id" = i64, Path), MembersQuery), security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<MembershipResponse>),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not a manager of the bank"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/time-banks/{id}/members")]
pub async fn members(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    query: web::Query<MembersQuery>,
) -> AppResult<web::Json<Vec<MembershipResponse>>> {
    let status =
        match query.status.as_deref() {
            None => None,
            Some(s) => Some(MemberStatus::parse(s).ok_or_else(|| {
                AppError::invalid("status", "one_of", format!("status 须为 {}", MemberStatus::list()))
            })?),
        };
    let rows = service::time_bank::members(&ctx, &user, id.into_inner(), status).await?;
    Ok(web::Json(rows.into_iter().map(Into::into).collect()))
}

/// Accept or refuse a request to join (a manager: the committee or street office over the
/// bank, or its designated organization's leader and staff).
#[utoipa::path(post, path = "/api/v1/time-banks/{id}/members/{user_id}/review", operation_id = "reviewTimeBankMember", tag = "time-bank",
    params(("id" = i64, Path), ("user_id" = i64, Path)), security(("bearer" = [])), request_body = ReviewMemberRequest,
    responses(
        (status = 200, body = MembershipResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not a manager of the bank"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`invalid_transition`: not waiting"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/time-banks/{id}/members/{user_id}/review")]
pub async fn review_member(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<(i64, i64)>,
    body: web::Json<ReviewMemberRequest>,
) -> AppResult<web::Json<MembershipResponse>> {
    let (id, member) = path.into_inner();
    let body = body.into_inner();
    let mut c = Checker::default();
    let approve = match body.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => {
            c.fail("decision", "one_of", "decision 须为 approve 或 reject");
            false
        }
    };
    let reason = reason(&mut c, body.reason);
    let reason = c.finish(reason)?;
    let m = service::time_bank::review_member(&ctx, &user, id, member, approve, reason).await?;
    Ok(web::Json(m.into()))
}

/// Post an offer ("I can help …") or a request ("I need help …"). Members only.
#[utoipa::path(post, path = "/api/v1/time-banks/{id}/listings", operation_id = "createTimeBankListing", tag = "time-bank",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = ListingRequest,
    responses(
        (status = 201, body = ListingResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not a member of the bank"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/time-banks/{id}/listings")]
pub async fn create_listing(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<ListingRequest>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let mut c = Checker::default();
    let title = c.text("title", Some(body.title), 1, 40, "标题须为 1–40 个字符");
    let description = match body.description {
        Some(d) if d.trim().is_empty() => Some(String::new()),
        d => c.text("description", d, 1, 500, "说明不超过 500 个字符").or(Some(String::new())),
    };
    let input = c.finish(ListingInput {
        kind: body.kind,
        category: body.category,
        title: title.unwrap_or_default(),
        description: description.unwrap_or_default(),
        minutes: body.minutes,
    })?;
    let v = service::time_bank::create_listing(&ctx, &user, id.into_inner(), input).await?;
    Ok(HttpResponse::Created().json(ListingResponse::from(v)))
}

/// A bank's open offers and requests, newest first (members and managers).
#[utoipa::path(get, path = "/api/v1/time-banks/{id}/listings", operation_id = "listTimeBankListings", tag = "time-bank",
    params(("id" = i64, Path), ListingsQuery), security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<ListingResponse>),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "neither a member nor a manager"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/time-banks/{id}/listings")]
pub async fn list_listings(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    query: web::Query<ListingsQuery>,
) -> AppResult<web::Json<Vec<ListingResponse>>> {
    let mut c = Checker::default();
    let kind = query.kind.as_deref().and_then(|k| {
        let parsed = ListingKind::parse(k);
        if parsed.is_none() {
            c.fail("kind", "one_of", "kind 须为 offer 或 request");
        }
        parsed
    });
    let category = query.category.as_deref().and_then(|k| {
        let parsed = HelpCategory::parse(k);
        if parsed.is_none() {
            c.fail("category", "one_of", "未知的类别");
        }
        parsed
    });
    c.finish(())?;
    let rows = service::time_bank::listings(&ctx, &user, id.into_inner(), kind, category).await?;
    Ok(web::Json(rows.into_iter().map(Into::into).collect()))
}

/// Close an offer or request (its author, or a manager).
#[utoipa::path(post, path = "/api/v1/time-bank-listings/{id}/close", operation_id = "closeTimeBankListing", tag = "time-bank",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = ListingResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "neither its author nor a manager"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/time-bank-listings/{id}/close")]
pub async fn close_listing(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<ListingResponse>> {
    Ok(web::Json(service::time_bank::close_listing(&ctx, &user, id.into_inner()).await?.into()))
}

/// Answer someone else's open offer (to be helped) or request (to help), proposing the
/// minutes; its author then accepts. Members only.
#[utoipa::path(post, path = "/api/v1/time-bank-listings/{id}/agreements", operation_id = "proposeTimeBankAgreement", tag = "time-bank",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = MinutesRequest,
    responses(
        (status = 201, body = AgreementResponse, description = "`proposed`"),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not a member of the bank"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`listing_closed`, `own_listing`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/time-bank-listings/{id}/agreements")]
pub async fn propose(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<MinutesRequest>,
) -> AppResult<HttpResponse> {
    let v = service::time_bank::propose(&ctx, &user, id.into_inner(), body.minutes).await?;
    Ok(HttpResponse::Created().json(AgreementResponse::from(v)))
}

/// The caller's agreements in a bank, as helper or helped, newest first.
#[utoipa::path(get, path = "/api/v1/time-banks/{id}/agreements", operation_id = "listMyTimeBankAgreements", tag = "time-bank",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<AgreementResponse>),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/time-banks/{id}/agreements")]
pub async fn my_agreements(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<Vec<AgreementResponse>>> {
    let rows = service::time_bank::my_agreements(&ctx, &user, id.into_inner()).await?;
    Ok(web::Json(rows.into_iter().map(Into::into).collect()))
}

/// The listing's author accepts a proposal: helper and helped have agreed.
#[utoipa::path(post, path = "/api/v1/time-bank-agreements/{id}/accept", operation_id = "acceptTimeBankAgreement", tag = "time-bank",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = AgreementResponse, description = "`agreed`"),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the listing's author"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`invalid_transition`"),
    ))]
#[post("/time-bank-agreements/{id}/accept")]
pub async fn accept(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<AgreementResponse>> {
    Ok(web::Json(service::time_bank::accept(&ctx, &user, id.into_inner()).await?.into()))
}

/// Either party withdraws an agreement before the time is confirmed.
#[utoipa::path(post, path = "/api/v1/time-bank-agreements/{id}/cancel", operation_id = "cancelTimeBankAgreement", tag = "time-bank",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = AgreementResponse, description = "`cancelled`"),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not a party"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`invalid_transition`"),
    ))]
#[post("/time-bank-agreements/{id}/cancel")]
pub async fn cancel(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<AgreementResponse>> {
    Ok(web::Json(service::time_bank::cancel(&ctx, &user, id.into_inner()).await?.into()))
}

/// After the help, the helped confirms the time given: the minutes move from the helped's
/// account to the helper's (two movements, one transaction). Repeating it answers the same.
#[utoipa::path(post, path = "/api/v1/time-bank-agreements/{id}/confirm", operation_id = "confirmTimeBankAgreement", tag = "time-bank",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = MinutesRequest,
    responses(
        (status = 200, body = AgreementResponse, description = "`confirmed`, with its transfer"),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the helped"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`invalid_transition` (not agreed), `below_floor` (the helped's balance would fall under the bank's floor)"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/time-bank-agreements/{id}/confirm")]
pub async fn confirm(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<MinutesRequest>,
) -> AppResult<web::Json<AgreementResponse>> {
    Ok(web::Json(service::time_bank::confirm(&ctx, &user, id.into_inner(), body.minutes).await?.into()))
}

/// Correct a transfer with a reversing one (a manager; a reason is required). The
/// original is never edited.
#[utoipa::path(post, path = "/api/v1/time-bank-transfers/{id}/reverse", operation_id = "reverseTimeBankTransfer", tag = "time-bank",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = ReverseRequest,
    responses(
        (status = 201, body = TransferResponse, description = "the reversing transfer"),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not a manager of the bank"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`already_reversed`, `invalid_transition` (a reversal), `below_floor`"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/time-bank-transfers/{id}/reverse")]
pub async fn reverse(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<ReverseRequest>,
) -> AppResult<HttpResponse> {
    let mut c = Checker::default();
    let r = reason(&mut c, Some(body.into_inner().reason));
    let r = c.finish(r)?.unwrap_or_default();
    let t = service::time_bank::reverse(&ctx, &user, id.into_inner(), r).await?;
    Ok(HttpResponse::Created().json(TransferResponse::from(t)))
}

/// A member's statement: every movement with the balance after it (the member, or a
/// manager).
#[utoipa::path(get, path = "/api/v1/time-banks/{id}/members/{user_id}/statement", operation_id = "getTimeBankStatement", tag = "time-bank",
    params(("id" = i64, Path), ("user_id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = StatementResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "neither the member nor a manager"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/time-banks/{id}/members/{user_id}/statement")]
pub async fn statement(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<(i64, i64)>,
) -> AppResult<web::Json<StatementResponse>> {
    let (id, member) = path.into_inner();
    Ok(web::Json(service::time_bank::statement(&ctx, &user, id, member).await?.into()))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn kind_zh(kind: &str) -> &'static str {
    match TransferKind::parse(kind) {
        Some(TransferKind::Exchange) => "互助",
        Some(TransferKind::ActivityCredit) => "活动奖励",
        Some(TransferKind::Reversal) => "冲正",
        None => "",
    }
}

/// The statement as a printable page (时间银行对账单).
#[utoipa::path(get, path = "/api/v1/time-banks/{id}/members/{user_id}/statement/print", operation_id = "printTimeBankStatement", tag = "time-bank",
    params(("id" = i64, Path), ("user_id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, content_type = "text/html", body = String, description = "a printable page"),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "neither the member nor a manager"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[get("/time-banks/{id}/members/{user_id}/statement/print")]
pub async fn statement_page(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<(i64, i64)>,
) -> AppResult<HttpResponse> {
    let (id, member) = path.into_inner();
    let s = service::time_bank::statement(&ctx, &user, id, member).await?;
    let rows: String = s
        .lines
        .iter()
        .map(|l| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=n>{:+}</td><td class=n>{}</td><td>{}</td></tr>",
                to_shanghai(l.movement.created_at).format("%Y-%m-%d %H:%M"),
                kind_zh(&l.transfer.kind),
                escape(l.counterparty_nickname.as_deref().unwrap_or(if l.counterparty_user_id.is_none() {
                    "时间银行"
                } else {
                    "居民"
                })),
                l.movement.minutes,
                l.movement.balance_after,
                escape(l.transfer.reason.as_deref().unwrap_or("")),
            )
        })
        .collect();
    let html = format!(
        "<!doctype html><html lang=zh-CN><head><meta charset=utf-8><title>时间银行对账单 · {name}</title>\
<style>body{{font-family:sans-serif;max-width:46em;margin:2em auto}}table{{border-collapse:collapse;width:100%}}\
td,th{{border:1px solid #999;padding:.3em .5em}}.n{{text-align:right}}@media print{{button{{display:none}}}}</style></head>\
<body><h1>时间银行对账单</h1><p>{bank}　成员：{name}　用户编号：{uid}　出具时间：{printed}</p>\
<p>当前余额 <b>{balance}</b> 分钟（透支下限 {floor} 分钟）；累计存入 {inn} 分钟，支出 {out} 分钟。</p>\
<table><thead><tr><th>时间</th><th>类型</th><th>对方</th><th>分钟</th><th>余额</th><th>说明</th></tr></thead><tbody>{rows}</tbody></table>\
<p>时间银行以分钟记账，每笔转账记为两条不可修改的流水；更正以冲正记录完成。互助时间与志愿服务时长分开记录。</p>\
<button onclick=print()>打印</button></body></html>",
        name = escape(s.nickname.as_deref().unwrap_or("居民")),
        bank = escape(&s.bank.name),
        uid = member,
        printed = to_shanghai(ctx.now()).format("%Y-%m-%d %H:%M"),
        balance = s.account.balance,
        floor = s.bank.floor_minutes,
        inn = s.minutes_in,
        out = s.minutes_out,
    );
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(html))
}

/// Mark an activity (not yet closed) as credited by the time bank serving its community:
/// on closing, its attendees who are members get their credited minutes from the bank's
/// own account — apart from their volunteer service hours. The organization's staff.
#[utoipa::path(post, path = "/api/v1/activities/{id}/time-bank", operation_id = "markActivityTimeBank", tag = "time-bank",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = MarkActivityRequest,
    responses(
        (status = 200, body = MarkActivityResponse),
        (status = 401, body = Problem, content_type = JSON_PROBLEM),
        (status = 403, body = Problem, content_type = JSON_PROBLEM, description = "not the organization's staff"),
        (status = 404, body = Problem, content_type = JSON_PROBLEM),
        (status = 409, body = Problem, content_type = JSON_PROBLEM, description = "`no_time_bank`, `invalid_transition` (finished or cancelled)"),
        (status = 422, body = Problem, content_type = JSON_PROBLEM),
    ))]
#[post("/activities/{id}/time-bank")]
pub async fn mark_activity(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<MarkActivityRequest>,
) -> AppResult<web::Json<MarkActivityResponse>> {
    let a = service::time_bank::mark_activity(&ctx, &user, id.into_inner(), body.credited).await?;
    Ok(web::Json(MarkActivityResponse { activity_id: a.id, time_bank_credited: a.time_bank_credited }))
}
