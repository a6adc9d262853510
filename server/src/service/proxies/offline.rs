//! Offline residents: people without WeChat whom their committee registers. Each is an
//! ordinary `users` row without an openid (name in `nickname`, home community set), so
//! sign-ups, attendance, hours, figures and erasure work on them unchanged; the
//! `offline_residents` row holds the rest — never a health or status label, only a name,
//! the community, an optional year of birth and an optional contact number.
//!
//! They check in with a printed card: a code of eight characters without look-alikes
//! (`domain::proxy`), stored as its SHA-256, shown once when issued, revocable and
//! re-issuable by the committee, read at the door by the activity's staff like the
//! personal QR code (at most [`CARD_TRIES_PER_MINUTE`] per staff member).
//!
//! When the person later signs in with WeChat, the committee checks them in person and
//! **claims** the record: the new account's WeChat identity moves onto the offline row
//! (whose id all history already references) and the new account is retired, so the
//! figures count one person.

use chrono::{DateTime, Datelike, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, sea_query::Expr,
};

use crate::{
    auth::AuthUser,
    cache::ratelimit::Decision,
    context::AppContext,
    domain::{
        clock::to_shanghai,
        organization::mask_phone,
        proxy::{ProxyAct, card_hash, display_card_code, new_card_code, normalise_card_code, valid_year_of_birth},
    },
    entity::{
        attendance, calendar_feed, notification, offline_resident, organization, organization_follow, proxy_link,
        refresh_token, region, role_grant, signup, subscription_quota, time_bank_account, user,
    },
    error::{AppError, AppResult},
    service::{
        auth::bump_token_version,
        begin_write,
        proxies::{is_committee_over, record_act, require_committee_for},
    },
};

/// Card codes tried at the door: at most this many a minute per staff member.
pub const CARD_TRIES_PER_MINUTE: u32 = 60;

/// A registration as typed by the committee (already checked for shape).
#[derive(Debug, Clone)]
pub struct OfflineInput {
    pub community_id: i64,
    pub name: String,
    pub year_of_birth: Option<i32>,
    pub contact_phone: Option<String>,
}

/// An offline resident as shown: the phone whole to the committee, masked to anyone else.
#[derive(Debug, Clone)]
pub struct OfflineView {
    pub record: offline_resident::Model,
    pub name: Option<String>,
    pub community_name: Option<String>,
    /// Whole for the committee, `138****8000` for anyone else.
    pub contact_phone: Option<String>,
    pub live_proxies: u64,
    /// The card's code, right after it was issued (never again).
    pub card_code: Option<String>,
}

async fn throttle(ctx: &AppContext, staff: i64) -> AppResult<()> {
    match ctx.limiter.hit(&format!("card:{staff}"), CARD_TRIES_PER_MINUTE).await {
        Decision::Allow => Ok(()),
        Decision::Deny { retry_after_secs } => Err(AppError::RateLimited { retry_after_secs }),
    }
}

async fn record(db: &impl ConnectionTrait, id: i64) -> AppResult<offline_resident::Model> {
    offline_resident::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|o| o.deleted_at.is_none())
        .ok_or(AppError::NotFound("offline resident"))
}

async fn view(
    db: &impl ConnectionTrait,
    record: offline_resident::Model,
    committee: bool,
    card_code: Option<String>,
) -> AppResult<OfflineView> {
    let name = user::Entity::find_by_id(record.user_id).one(db).await?.and_then(|u| u.nickname);
    let community_name = region::Entity::find_by_id(record.community_id).one(db).await?.map(|r| r.name);
    let live_proxies = proxy_link::Entity::find()
        .filter(proxy_link::Column::PrincipalId.eq(record.user_id))
        .filter(proxy_link::Column::RevokedAt.is_null())
        .count(db)
        .await?;
    let contact_phone = record.contact_phone.as_deref().map(|p| if committee { p.to_owned() } else { mask_phone(p) });
    Ok(OfflineView { name, community_name, contact_phone, live_proxies, card_code, record })
}

/// A fresh card: the code (shown once) and the hash stored.
fn fresh_card() -> (String, String) {
    let code = new_card_code();
    let hash = card_hash(&code);
    (display_card_code(&code), hash)
}

/// `POST /offline-residents`: the committee over `community_id` (403 otherwise)
/// registers a resident without WeChat and gets their card's code. 422 when the region is
/// not a community or the year of birth is outside 1900–this year.
pub async fn register(ctx: &AppContext, staff: &AuthUser, input: OfflineInput) -> AppResult<OfflineView> {
    let community = region::Entity::find_by_id(input.community_id)
        .one(&ctx.db)
        .await?
        .ok_or_else(|| AppError::invalid("community_id", "not_found", "所选社区不存在"))?;
    if community.level != "community" {
        return Err(AppError::invalid("community_id", "not_a_community", "请选择社区/村一级"));
    }
    if !is_committee_over(&ctx.db, staff, community.id).await? {
        return Err(AppError::Forbidden("requires the community's committee"));
    }
    let now = ctx.now();
    if let Some(year) = input.year_of_birth
        && !valid_year_of_birth(year, to_shanghai(now).year())
    {
        return Err(AppError::invalid("year_of_birth", "range", "出生年份须在 1900 年至今年之间"));
    }
    let (code, hash) = fresh_card();
    let txn = begin_write(&ctx.db).await?;
    let person = user::Entity::insert(user::ActiveModel {
        openid: Set(None),
        unionid: Set(None),
        nickname: Set(Some(input.name)),
        avatar_url: Set(None),
        phone: Set(None),
        home_community_id: Set(Some(community.id)),
        token_version: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
        ..Default::default()
    })
    .exec(&txn)
    .await?
    .last_insert_id;
    crate::service::community_residents::moved(&txn, person, None, Some(community.id)).await?;
    offline_resident::Entity::insert(offline_resident::ActiveModel {
        user_id: Set(person),
        community_id: Set(community.id),
        year_of_birth: Set(input.year_of_birth),
        contact_phone: Set(input.contact_phone),
        card_hash: Set(Some(hash)),
        card_issued_at: Set(Some(now)),
        registered_by: Set(staff.id),
        created_at: Set(now),
        claimed_at: Set(None),
        claimed_by: Set(None),
        claimed_account: Set(None),
        deleted_at: Set(None),
    })
    .exec_without_returning(&txn)
    .await?;
    record_act(&txn, person, staff.id, ProxyAct::Registered, None, None, now).await?;
    record_act(&txn, person, staff.id, ProxyAct::CardIssued, None, None, now).await?;
    let row = record(&txn, person).await?;
    txn.commit().await?;
    view(&ctx.db, row, true, Some(code)).await
}

/// `GET /offline-residents?community_id=`: the community's offline residents (claimed ones
/// included), newest first; its committee only. `before`: a user id.
pub async fn list(
    ctx: &AppContext,
    staff: &AuthUser,
    community_id: i64,
    before: Option<i64>,
    limit: u64,
) -> AppResult<Vec<OfflineView>> {
    if !is_committee_over(&ctx.db, staff, community_id).await? {
        return Err(AppError::Forbidden("requires the community's committee"));
    }
    let mut q = offline_resident::Entity::find()
        .filter(offline_resident::Column::CommunityId.eq(community_id))
        .filter(offline_resident::Column::DeletedAt.is_null());
    if let Some(before) = before {
        q = q.filter(offline_resident::Column::UserId.lt(before));
    }
    let rows = q.order_by_desc(offline_resident::Column::UserId).limit(limit + 1).all(&ctx.db).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(view(&ctx.db, r, true, None).await?);
    }
    Ok(out)
}

/// `GET /offline-residents/{id}`: for their committee (the phone whole) and their live
/// proxies (masked); 403 for anyone else.
pub async fn detail(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<OfflineView> {
    let row = record(&ctx.db, id).await?;
    let committee = is_committee_over(&ctx.db, user, row.community_id).await?;
    if !committee {
        crate::service::proxies::require_proxy(&ctx.db, user.id, id).await?;
    }
    view(&ctx.db, row, committee, None).await
}

/// `POST /offline-residents/{id}/card`: the committee issues a new card; the old code
/// stops working at once. Answers the new code (shown this once).
pub async fn reissue_card(ctx: &AppContext, staff: &AuthUser, id: i64) -> AppResult<OfflineView> {
    let row = record(&ctx.db, id).await?;
    require_committee_for(&ctx.db, staff, id).await?;
    let (code, hash) = fresh_card();
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    offline_resident::Entity::update_many()
        .col_expr(offline_resident::Column::CardHash, Expr::value(hash))
        .col_expr(offline_resident::Column::CardIssuedAt, Expr::value(now))
        .filter(offline_resident::Column::UserId.eq(row.user_id))
        .exec(&txn)
        .await?;
    record_act(&txn, id, staff.id, ProxyAct::CardIssued, None, None, now).await?;
    let row = record(&txn, id).await?;
    txn.commit().await?;
    view(&ctx.db, row, true, Some(code)).await
}

/// `DELETE /offline-residents/{id}/card`: the committee revokes the card (a lost card);
/// its code answers 422 at the door from then on. Revoking none is no error.
pub async fn revoke_card(ctx: &AppContext, staff: &AuthUser, id: i64) -> AppResult<OfflineView> {
    let row = record(&ctx.db, id).await?;
    require_committee_for(&ctx.db, staff, id).await?;
    let now = ctx.now();
    if row.card_hash.is_some() {
        let txn = begin_write(&ctx.db).await?;
        offline_resident::Entity::update_many()
            .col_expr(offline_resident::Column::CardHash, Expr::value(Option::<String>::None))
            .col_expr(offline_resident::Column::CardIssuedAt, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(offline_resident::Column::UserId.eq(id))
            .exec(&txn)
            .await?;
        record_act(&txn, id, staff.id, ProxyAct::CardRevoked, None, None, now).await?;
        txn.commit().await?;
    }
    view(&ctx.db, record(&ctx.db, id).await?, true, None).await
}

/// The resident a card code names, for check-in at the door by `staff` (rate limited per
/// staff member). An unknown, revoked or malformed code is 422 on `card_code`.
pub async fn resolve_card(ctx: &AppContext, db: &impl ConnectionTrait, staff: i64, code: &str) -> AppResult<i64> {
    throttle(ctx, staff).await?;
    let invalid = || AppError::invalid("card_code", "invalid", "签到卡号无效或已作废，请核对卡片");
    let code = normalise_card_code(code).ok_or_else(invalid)?;
    offline_resident::Entity::find()
        .filter(offline_resident::Column::CardHash.eq(card_hash(&code)))
        .filter(offline_resident::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .map(|o| o.user_id)
        .ok_or_else(invalid)
}

/// `POST /offline-residents/{id}/claim {checkin_code}`: the resident signed in with WeChat
/// and came to the committee, who scan the personal code on their phone (`GET
/// /me/checkin-code`). The account's WeChat identity (openid, unionid, avatar, bound
/// phone) moves onto the offline record, whose id all the history references; its inbox,
/// subscription quotas and follows move too; the account is retired (its sessions end —
/// the next sign-in lands on the record). One transaction.
///
/// 403 unless on the record's committee; 404 for an unknown record; 409 `already_claimed`;
/// 409 `account_in_use` when the account already has sign-ups, attendance, roles, a time
/// bank account, proxy links or a filing application (it must be a fresh account: cancel
/// them first); 422 on
/// `checkin_code` when the code is not valid.
pub async fn claim(ctx: &AppContext, staff: &AuthUser, id: i64, checkin_code: &str) -> AppResult<OfflineView> {
    crate::service::retrying(|| claim_once(ctx, staff, id, checkin_code)).await
}

async fn claim_once(ctx: &AppContext, staff: &AuthUser, id: i64, checkin_code: &str) -> AppResult<OfflineView> {
    let row = record(&ctx.db, id).await?;
    require_committee_for(&ctx.db, staff, id).await?;
    let now = ctx.now();
    let account = crate::service::attendance::verify_personal_code(ctx, checkin_code, now)
        .ok_or_else(|| AppError::invalid("checkin_code", "invalid", "签到码无效或已过期，请让居民刷新后重试"))?;
    if row.claimed_at.is_some() {
        return Err(AppError::Conflict("already_claimed", "该线下居民已关联微信账号".into()));
    }
    let txn = begin_write(&ctx.db).await?;
    // Both users' rows first, in id order, as erasing either of them (`blank_identity`)
    // and every move between communities' residents take a user's row first.
    crate::service::lock_users(&txn, &[id, account]).await?;
    let acct = user::Entity::find_by_id(account)
        .one(&txn)
        .await?
        .filter(|u| u.deleted_at.is_none() && u.openid.is_some() && u.id != id)
        .ok_or_else(|| AppError::invalid("checkin_code", "invalid", "该签到码不属于一个可关联的微信账号"))?;
    let in_use = signup::Entity::find().filter(signup::Column::UserId.eq(account)).count(&txn).await? > 0
        || attendance::Entity::find().filter(attendance::Column::UserId.eq(account)).count(&txn).await? > 0
        || role_grant::Entity::find().filter(role_grant::Column::UserId.eq(account)).count(&txn).await? > 0
        || time_bank_account::Entity::find().filter(time_bank_account::Column::UserId.eq(account)).count(&txn).await?
            > 0
        || proxy_link::Entity::find()
            .filter(
                sea_orm::Condition::any()
                    .add(proxy_link::Column::PrincipalId.eq(account))
                    .add(proxy_link::Column::ProxyId.eq(account)),
            )
            .filter(proxy_link::Column::RevokedAt.is_null())
            .count(&txn)
            .await?
            > 0
        || organization::Entity::find().filter(organization::Column::ApplicantId.eq(account)).count(&txn).await? > 0;
    if in_use {
        return Err(AppError::Conflict(
            "account_in_use",
            "该微信账号已有报名、签到、角色或代办记录，无法合并；请先取消后再关联".into(),
        ));
    }
    // The record is claimed once, the account retired once: two claims at once (of this
    // record, or with this account) leave one of them nothing to change, and it refuses.
    let claimed = offline_resident::Entity::update_many()
        .col_expr(offline_resident::Column::ClaimedAt, Expr::value(now))
        .col_expr(offline_resident::Column::ClaimedBy, Expr::value(staff.id))
        .col_expr(offline_resident::Column::ClaimedAccount, Expr::value(account))
        .filter(offline_resident::Column::UserId.eq(id))
        .filter(offline_resident::Column::ClaimedAt.is_null())
        .filter(offline_resident::Column::DeletedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    if claimed == 0 {
        return Err(AppError::Conflict("already_claimed", "该线下居民已关联微信账号".into()));
    }
    // The account gives up its identity first (the openid is unique), then the record takes it.
    if !crate::service::users::blank_identity(&txn, account, now).await? {
        return Err(AppError::invalid("checkin_code", "invalid", "该签到码不属于一个可关联的微信账号"));
    }
    user::Entity::update_many()
        .col_expr(user::Column::Openid, Expr::value(acct.openid.clone()))
        .col_expr(user::Column::Unionid, Expr::value(acct.unionid.clone()))
        .col_expr(user::Column::AvatarUrl, Expr::value(acct.avatar_url.clone()))
        .col_expr(user::Column::Phone, Expr::value(acct.phone.clone()))
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    // Quotas before notices: the dispatcher's claim locks a quota, then writes notices
    // (`jobs::dispatch`), so the same order here cannot deadlock with it.
    subscription_quota::Entity::update_many()
        .col_expr(subscription_quota::Column::UserId, Expr::value(id))
        .filter(subscription_quota::Column::UserId.eq(account))
        .exec(&txn)
        .await?;
    notification::Entity::update_many()
        .col_expr(notification::Column::UserId, Expr::value(id))
        .filter(notification::Column::UserId.eq(account))
        .exec(&txn)
        .await?;
    organization_follow::Entity::update_many()
        .col_expr(organization_follow::Column::UserId, Expr::value(id))
        .filter(organization_follow::Column::UserId.eq(account))
        .exec(&txn)
        .await?;
    calendar_feed::Entity::delete_many().filter(calendar_feed::Column::UserId.eq(account)).exec(&txn).await?;
    refresh_token::Entity::delete_many().filter(refresh_token::Column::UserId.eq(account)).exec(&txn).await?;
    bump_token_version(&txn, account, now).await?;
    record_act(&txn, id, staff.id, ProxyAct::Claimed, None, None, now).await?;
    txn.commit().await?;
    tracing::info!(offline = id, account, "offline resident claimed");
    view(&ctx.db, record(&ctx.db, id).await?, true, None).await
}

/// `GET /offline-residents/{id}/participation`: the resident's service record (hours
/// credited to them, whoever signed them up), as `GET /me/participation` shows it to a
/// resident; for their committee only — a proxy sees the principal's sign-ups, nothing
/// more (issue 18). 403 otherwise.
pub async fn service_record(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
) -> AppResult<Vec<crate::service::attendance::ServiceLine>> {
    let row = record(&ctx.db, id).await?;
    require_committee_for(&ctx.db, user, id).await?;
    // The record reads only the id of whose it is.
    let resident = AuthUser { id, home_community_id: Some(row.community_id), grants: Vec::new() };
    crate::service::attendance::service_record(ctx, &resident).await
}

/// `DELETE /offline-residents/{id}`: the committee erases the record on the person's
/// request, exactly as `DELETE /me` does for an account (upcoming places given up,
/// personal data erased, counts kept), plus the record's own data. 204; 403 unless on
/// its committee; 404 when unknown or erased already.
pub async fn erase(ctx: &AppContext, staff: &AuthUser, id: i64) -> AppResult<()> {
    record(&ctx.db, id).await?;
    require_committee_for(&ctx.db, staff, id).await?;
    crate::service::users::delete_account(ctx, id, Some(staff.id)).await
}

/// Erases an offline record's personal data (name and phone go with the user row);
/// called when its user is deleted. The community stays, for the counts.
pub(crate) async fn erase_record(txn: &DatabaseTransaction, user_id: i64, now: DateTime<Utc>) -> AppResult<()> {
    offline_resident::Entity::update_many()
        .col_expr(offline_resident::Column::YearOfBirth, Expr::value(Option::<i32>::None))
        .col_expr(offline_resident::Column::ContactPhone, Expr::value(Option::<String>::None))
        .col_expr(offline_resident::Column::CardHash, Expr::value(Option::<String>::None))
        .col_expr(offline_resident::Column::CardIssuedAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(offline_resident::Column::DeletedAt, Expr::value(now))
        .filter(offline_resident::Column::UserId.eq(user_id))
        .filter(offline_resident::Column::DeletedAt.is_null())
        .exec(txn)
        .await?;
    Ok(())
}
