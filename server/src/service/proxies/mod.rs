//! Acting for someone else (issue 18, part 2): proxy links, the record of acts on a
//! principal's behalf, and signing up or cancelling for them through the ordinary
//! place-taking path (`activities::sign_up_for`, `activities::cancel_signup_for`).
//!
//! A link lets `proxy` sign `principal` up, cancel, see the principal's sign-ups and get
//! copies of the notices about them (`notices`). It is authorised by the committee of the
//! principal's community (in person, or a signed form kept there) or by the principal in
//! the mini-program; the principal or that committee revokes it. The link rule (no proxy
//! of a proxy, at most `MAX_PROXIES` live proxies) is `domain::proxy::may_link`.

pub mod demo;
pub mod notices;
pub mod offline;
pub mod waivers;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, sea_query::Expr,
};

use crate::{
    auth::{
        AuthUser,
        scope::{holds_region_role, region_path},
    },
    context::AppContext,
    domain::{
        proxy::{Authorisation, LinkFacts, ProxyAct, may_link},
        role::Role,
    },
    entity::{offline_resident, proxy_act, proxy_link, user},
    error::{AppError, AppResult},
    service::{
        Contended,
        activities::{self, Acting, MySignup, SignupOutcome},
        attendance::verify_personal_code,
        begin_write, is_unique_violation, lock_users, retrying,
    },
};

/// A link with the two people's names.
#[derive(Debug, Clone)]
pub struct LinkView {
    pub link: proxy_link::Model,
    pub principal_name: Option<String>,
    pub proxy_name: Option<String>,
    /// The principal is an offline resident (no WeChat).
    pub principal_offline: bool,
}

/// An act recorded on someone's behalf, with the actor's name.
#[derive(Debug, Clone)]
pub struct ActView {
    pub act: proxy_act::Model,
    pub actor_name: Option<String>,
}

/// Who is to become the proxy: a user id (known to the committee), or the person's own
/// personal check-in code (`GET /me/checkin-code`) scanned from their phone, in person.
#[derive(Debug, Clone)]
pub enum ProxyWho {
    User(i64),
    Code(String),
}

/// A link as asked for.
#[derive(Debug, Clone)]
pub struct LinkInput {
    pub proxy: ProxyWho,
    /// The committee's: `in_person` or `signed_form`; the principal's own request is
    /// always `principal_confirmed` (and may leave it out).
    pub authorisation: Option<Authorisation>,
    pub note: Option<String>,
}

/// A user who exists and is not deleted.
async fn live_user(db: &impl ConnectionTrait, id: i64) -> AppResult<user::Model> {
    user::Entity::find_by_id(id).one(db).await?.filter(|u| u.deleted_at.is_none()).ok_or(AppError::NotFound("user"))
}

/// An offline resident who has not been claimed nor deleted.
pub(crate) async fn offline_row(db: &impl ConnectionTrait, user_id: i64) -> AppResult<Option<offline_resident::Model>> {
    Ok(offline_resident::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .filter(|o| o.claimed_at.is_none() && o.deleted_at.is_none()))
}

/// The community whose committee looks after `user_id`: an offline resident's registered
/// community (kept after erasure, so the committee still sees the record of acts), else
/// their chosen home community.
async fn community_of(db: &impl ConnectionTrait, user_id: i64) -> AppResult<Option<i64>> {
    if let Some(o) = offline_resident::Entity::find_by_id(user_id).one(db).await? {
        return Ok(Some(o.community_id));
    }
    Ok(user::Entity::find_by_id(user_id).one(db).await?.and_then(|u| u.home_community_id))
}

/// Whether `user` is on the committee over community `community_id` (or an administrator).
pub(crate) async fn is_committee_over(
    db: &impl ConnectionTrait,
    user: &AuthUser,
    community_id: i64,
) -> AppResult<bool> {
    let path = region_path(db, community_id).await?;
    Ok(holds_region_role(user, &[Role::Committee], &path))
}

/// The caller is on the committee of the community looking after `principal`.
pub(crate) async fn require_committee_for(db: &impl ConnectionTrait, user: &AuthUser, principal: i64) -> AppResult<()> {
    match community_of(db, principal).await? {
        Some(c) if is_committee_over(db, user, c).await? => Ok(()),
        _ if user.grants_of(Role::Committee).next().is_some() => Err(AppError::Forbidden("outside your scope")),
        _ => Err(AppError::Forbidden("requires the community's committee")),
    }
}

/// The caller is `principal` themself or their committee.
async fn require_principal_or_committee(db: &impl ConnectionTrait, user: &AuthUser, principal: i64) -> AppResult<()> {
    if user.id == principal { Ok(()) } else { require_committee_for(db, user, principal).await }
}

/// The live link by which `proxy` acts for `principal` (403 `forbidden` when there is none).
pub async fn require_proxy(db: &impl ConnectionTrait, proxy: i64, principal: i64) -> AppResult<proxy_link::Model> {
    proxy_link::Entity::find()
        .filter(proxy_link::Column::PrincipalId.eq(principal))
        .filter(proxy_link::Column::ProxyId.eq(proxy))
        .filter(proxy_link::Column::RevokedAt.is_null())
        .one(db)
        .await?
        .ok_or(AppError::Forbidden("not a proxy of this resident"))
}

/// Records one act on `principal`'s behalf inside the caller's transaction.
pub(crate) async fn record_act(
    db: &impl ConnectionTrait,
    principal: i64,
    actor: i64,
    act: ProxyAct,
    activity_id: Option<i64>,
    link_id: Option<i64>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    proxy_act::Entity::insert(proxy_act::ActiveModel {
        principal_id: Set(principal),
        actor_id: Set(actor),
        act: Set(act.as_str().to_owned()),
        activity_id: Set(activity_id),
        link_id: Set(link_id),
        detail: Set(None),
        created_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Called by the sign-up path before it commits: a sign-up or cancellation pressed by
/// someone other than the resident is recorded with it.
pub(crate) async fn record_signup_act(
    txn: &DatabaseTransaction,
    acting: Acting,
    activity_id: i64,
    act: ProxyAct,
    now: DateTime<Utc>,
) -> AppResult<()> {
    if acting.actor == acting.resident {
        return Ok(());
    }
    record_act(txn, acting.resident, acting.actor, act, Some(activity_id), None, now).await
}

async fn names(db: &impl ConnectionTrait, ids: Vec<i64>) -> AppResult<HashMap<i64, Option<String>>> {
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.nickname))
        .collect())
}

async fn link_views(db: &impl ConnectionTrait, links: Vec<proxy_link::Model>) -> AppResult<Vec<LinkView>> {
    let ids: Vec<i64> = links.iter().flat_map(|l| [l.principal_id, l.proxy_id]).collect();
    let names = names(db, ids.clone()).await?;
    let offline: Vec<i64> = offline_resident::Entity::find()
        .filter(offline_resident::Column::UserId.is_in(ids))
        .filter(offline_resident::Column::ClaimedAt.is_null())
        .filter(offline_resident::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|o| o.user_id)
        .collect();
    Ok(links
        .into_iter()
        .map(|link| LinkView {
            principal_name: names.get(&link.principal_id).cloned().flatten(),
            proxy_name: names.get(&link.proxy_id).cloned().flatten(),
            principal_offline: offline.contains(&link.principal_id),
            link,
        })
        .collect())
}

async fn live_count(db: &impl ConnectionTrait, column: proxy_link::Column, user_id: i64) -> AppResult<u64> {
    Ok(proxy_link::Entity::find()
        .filter(column.eq(user_id))
        .filter(proxy_link::Column::RevokedAt.is_null())
        .count(db)
        .await?)
}

/// `POST /principals/{id}/proxy-links`: makes `input.proxy` a proxy of `principal`.
///
/// The principal themself (signed in; the proxy is there to show their code, or named by
/// id) records `principal_confirmed`; otherwise the caller must be on the committee of the
/// principal's community (403) and say how it was authorised (`in_person`,
/// `signed_form`; 422 otherwise). Asking again for a live pair answers the live link
/// (`false`: not new). Refusals (409) are `domain::proxy::LinkRefusal`'s codes.
pub async fn create_link(
    ctx: &AppContext,
    user: &AuthUser,
    principal: i64,
    input: LinkInput,
) -> AppResult<(LinkView, bool)> {
    live_user(&ctx.db, principal).await?;
    let authorisation = if user.id == principal {
        match input.authorisation {
            None | Some(Authorisation::PrincipalConfirmed) => Authorisation::PrincipalConfirmed,
            Some(_) => {
                return Err(AppError::invalid(
                    "authorisation",
                    "not_yours",
                    "本人在小程序中确认的授权为 principal_confirmed",
                ));
            }
        }
    } else {
        require_committee_for(&ctx.db, user, principal).await?;
        match input.authorisation {
            Some(a @ (Authorisation::InPerson | Authorisation::SignedForm)) => a,
            _ => {
                return Err(AppError::invalid(
                    "authorisation",
                    "required",
                    "请说明授权方式：in_person（本人到场）或 signed_form（签署授权书）",
                ));
            }
        }
    };
    let proxy = match &input.proxy {
        ProxyWho::User(id) => {
            live_user(&ctx.db, *id)
                .await
                .map_err(|_| AppError::invalid("proxy_user_id", "not_found", "代办人不存在"))?
                .id
        }
        ProxyWho::Code(code) => verify_personal_code(ctx, code, ctx.now()).ok_or_else(|| {
            AppError::invalid("proxy_checkin_code", "invalid", "代办人的签到码无效或已过期，请刷新后重试")
        })?,
    };
    live_user(&ctx.db, proxy).await.map_err(|_| AppError::invalid("proxy_user_id", "not_found", "代办人不存在"))?;
    let (link, created) =
        retrying(|| create_link_once(ctx, user.id, principal, proxy, authorisation, input.note.clone())).await?;
    let view = link_views(&ctx.db, vec![link]).await?.pop().ok_or(AppError::NotFound("proxy link"))?;
    Ok((view, created))
}

async fn create_link_once(
    ctx: &AppContext,
    actor: i64,
    principal: i64,
    proxy: i64,
    authorisation: Authorisation,
    note: Option<String>,
) -> AppResult<(proxy_link::Model, bool)> {
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    // Both people's rows: every link touching either waits, so the counts below hold.
    lock_users(&txn, &[principal, proxy]).await?;
    let live = proxy_link::Entity::find()
        .filter(proxy_link::Column::PrincipalId.eq(principal))
        .filter(proxy_link::Column::ProxyId.eq(proxy))
        .filter(proxy_link::Column::RevokedAt.is_null())
        .one(&txn)
        .await?;
    if let Some(link) = live {
        return Ok((link, false));
    }
    let facts = LinkFacts {
        same_person: principal == proxy,
        proxy_offline: offline_row(&txn, proxy).await?.is_some(),
        proxy_is_principal: live_count(&txn, proxy_link::Column::PrincipalId, proxy).await? > 0,
        principal_is_proxy: live_count(&txn, proxy_link::Column::ProxyId, principal).await? > 0,
        live_proxies: live_count(&txn, proxy_link::Column::PrincipalId, principal).await? as u32,
        max_proxies: ctx.config.max_proxies,
    };
    if let Err(refusal) = may_link(facts) {
        let (code, zh) = refusal.code();
        return Err(AppError::Conflict(code, zh.to_owned()));
    }
    let inserted = proxy_link::Entity::insert(proxy_link::ActiveModel {
        principal_id: Set(principal),
        proxy_id: Set(proxy),
        authorisation: Set(authorisation.as_str().to_owned()),
        authorised_by: Set(actor),
        note: Set(note),
        created_at: Set(now),
        revoked_at: Set(None),
        revoked_by: Set(None),
        ..Default::default()
    })
    .exec(&txn)
    .await;
    let id = match inserted {
        Ok(r) => r.last_insert_id,
        // The same pair linked by a concurrent request: run again and answer that link.
        Err(e) if is_unique_violation(&e) => return Err(Contended("the same link was made meanwhile").into()),
        Err(e) => return Err(e.into()),
    };
    record_act(&txn, principal, actor, ProxyAct::LinkCreated, None, Some(id), now).await?;
    notices::copy_pending(&txn, principal, proxy, now).await?;
    let link = proxy_link::Entity::find_by_id(id).one(&txn).await?.ok_or(AppError::NotFound("proxy link"))?;
    txn.commit().await?;
    Ok((link, true))
}

/// `POST /proxy-links/{id}/revoke`: the principal or their committee ends a link (403 for
/// anyone else, the proxy included). Nothing already done is undone: the principal's
/// sign-ups stay; the proxy's pending copies of notices about the principal are
/// withdrawn. Revoking a revoked link answers it as it is.
pub async fn revoke_link(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<LinkView> {
    let link = proxy_link::Entity::find_by_id(id).one(&ctx.db).await?.ok_or(AppError::NotFound("proxy link"))?;
    require_principal_or_committee(&ctx.db, user, link.principal_id).await?;
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let done = proxy_link::Entity::update_many()
        .col_expr(proxy_link::Column::RevokedAt, Expr::value(now))
        .col_expr(proxy_link::Column::RevokedBy, Expr::value(user.id))
        .filter(proxy_link::Column::Id.eq(id))
        .filter(proxy_link::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    if done == 1 {
        notices::withdraw_copies(&txn, Some(link.proxy_id), link.principal_id).await?;
        record_act(&txn, link.principal_id, user.id, ProxyAct::LinkRevoked, None, Some(id), now).await?;
    }
    txn.commit().await?;
    let link = proxy_link::Entity::find_by_id(id).one(&ctx.db).await?.ok_or(AppError::NotFound("proxy link"))?;
    link_views(&ctx.db, vec![link]).await?.pop().ok_or(AppError::NotFound("proxy link"))
}

/// `GET /principals/{id}/proxy-links`: every link of a principal, live and revoked,
/// newest first; for the principal and their committee.
pub async fn links_of(ctx: &AppContext, user: &AuthUser, principal: i64) -> AppResult<Vec<LinkView>> {
    require_principal_or_committee(&ctx.db, user, principal).await?;
    let links = proxy_link::Entity::find()
        .filter(proxy_link::Column::PrincipalId.eq(principal))
        .order_by_desc(proxy_link::Column::Id)
        .all(&ctx.db)
        .await?;
    link_views(&ctx.db, links).await
}

/// `GET /me/principals`: the live links by which the caller acts for someone.
pub async fn my_principals(ctx: &AppContext, user: &AuthUser) -> AppResult<Vec<LinkView>> {
    let links = proxy_link::Entity::find()
        .filter(proxy_link::Column::ProxyId.eq(user.id))
        .filter(proxy_link::Column::RevokedAt.is_null())
        .order_by_asc(proxy_link::Column::Id)
        .all(&ctx.db)
        .await?;
    link_views(&ctx.db, links).await
}

/// The principals `proxy` acts for now.
pub async fn principals_of(db: &impl ConnectionTrait, proxy: i64) -> AppResult<Vec<i64>> {
    Ok(proxy_link::Entity::find()
        .select_only()
        .column(proxy_link::Column::PrincipalId)
        .filter(proxy_link::Column::ProxyId.eq(proxy))
        .filter(proxy_link::Column::RevokedAt.is_null())
        .into_tuple::<i64>()
        .all(db)
        .await?)
}

/// `GET /principals/{id}/acts`: what was done on the principal's behalf (who, what,
/// when), newest first; for the principal and their committee. `before`: an act id.
pub async fn acts_of(
    ctx: &AppContext,
    user: &AuthUser,
    principal: i64,
    before: Option<i64>,
    limit: u64,
) -> AppResult<Vec<ActView>> {
    require_principal_or_committee(&ctx.db, user, principal).await?;
    let mut q = proxy_act::Entity::find().filter(proxy_act::Column::PrincipalId.eq(principal));
    if let Some(before) = before {
        q = q.filter(proxy_act::Column::Id.lt(before));
    }
    let acts = q.order_by_desc(proxy_act::Column::Id).limit(limit + 1).all(&ctx.db).await?;
    let names = names(&ctx.db, acts.iter().map(|a| a.actor_id).collect()).await?;
    Ok(acts.into_iter().map(|act| ActView { actor_name: names.get(&act.actor_id).cloned().flatten(), act }).collect())
}

/// `POST /principals/{id}/signups`: a proxy signs the principal up — the ordinary sign-up
/// with the principal as the resident (their clashes, no-shows and places), recorded as
/// an act. 403 without a live link.
pub async fn sign_up(ctx: &AppContext, user: &AuthUser, principal: i64, activity_id: i64) -> AppResult<SignupOutcome> {
    require_proxy(&ctx.db, user.id, principal).await?;
    activities::sign_up_for(
        ctx,
        Acting { actor: user.id, resident: principal },
        activity_id,
        activities::SignupVia::Resident,
    )
    .await
}

/// `DELETE /principals/{id}/signups/{activity_id}`: a proxy cancels the principal's
/// sign-up, under the ordinary cancellation rules; recorded as an act.
pub async fn cancel(ctx: &AppContext, user: &AuthUser, principal: i64, activity_id: i64) -> AppResult<()> {
    require_proxy(&ctx.db, user.id, principal).await?;
    activities::cancel_signup_for(ctx, Acting { actor: user.id, resident: principal }, activity_id).await
}

/// `GET /principals/{id}/signups`: the principal's sign-ups, as `GET /me/signups` shows
/// them to the principal; for their live proxies only.
pub async fn signups(
    ctx: &AppContext,
    user: &AuthUser,
    principal: i64,
    upcoming: bool,
    before: Option<i64>,
    limit: u64,
) -> AppResult<Vec<MySignup>> {
    require_proxy(&ctx.db, user.id, principal).await?;
    // The listing reads only the id of whom it lists.
    let as_principal = AuthUser { id: principal, home_community_id: None, grants: Vec::new() };
    activities::my_signups(ctx, &as_principal, upcoming, before, limit).await
}

/// When an account goes (deleted by its owner, or an offline resident erased by the
/// committee): every live link it is part of is revoked, the copies of notices about it
/// are deleted (their text names the person), and an offline record's personal data is
/// erased. `by`: who erased it, when not the person themself. Runs in the deletion's
/// transaction.
pub(crate) async fn forget(
    txn: &DatabaseTransaction,
    user_id: i64,
    by: Option<i64>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let actor = by.unwrap_or(user_id);
    proxy_link::Entity::update_many()
        .col_expr(proxy_link::Column::RevokedAt, Expr::value(now))
        .col_expr(proxy_link::Column::RevokedBy, Expr::value(actor))
        .filter(
            sea_orm::Condition::any()
                .add(proxy_link::Column::PrincipalId.eq(user_id))
                .add(proxy_link::Column::ProxyId.eq(user_id)),
        )
        .filter(proxy_link::Column::RevokedAt.is_null())
        .exec(txn)
        .await?;
    notices::delete_copies_about(txn, user_id).await?;
    offline::erase_record(txn, user_id, now).await?;
    if by.is_some() {
        record_act(txn, user_id, actor, ProxyAct::Erased, None, None, now).await?;
    }
    Ok(())
}
