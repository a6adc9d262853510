//! Invitations to a role, and finding a person by the phone they bound: the two ways to
//! name who gets a role without knowing their internal id.
//!
//! Whoever may grant a role on a scope (the grant table, `domain::role::GRANT_RULES`,
//! through the role's own channel) may invite someone to it: a leader invites staff, a
//! street office a committee member. An invitation is a single-use code that lasts
//! 1–168 hours (default 72); the invitee accepts it signed in, and the grant is made as
//! if the inviter made it then — the inviter must still be allowed to — recorded with
//! who invited whom (`granted_by`, the invitation's `accepted_by`, and for an
//! organization its history).

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};

use crate::{
    auth::{AuthUser, scope::require_may_grant},
    cache::ratelimit::Decision,
    context::AppContext,
    domain::{
        invitation::{InvitationState, channel_of, expiry, invitable, new_code, normalise_code, state},
        organization::{mask_phone, parse_phone},
        role::{Role, ScopeKind},
    },
    entity::{invitation, organization, region, role_grant, user},
    error::{AppError, AppResult},
    service::{
        begin_write, is_unique_violation,
        notifications::{Notice, enqueue},
        organizations::grant_by_invitation,
        role_grants::{insert_grant, resolve_scope},
    },
};

/// Accepting, previewing and looking people up: at most this many tries a minute per
/// signed-in user (guessing a code or walking phone numbers is not a way in).
pub const TRIES_PER_MINUTE: u32 = 10;

/// An invitation as created.
#[derive(Debug, Clone)]
pub struct InvitationInput {
    pub role: Role,
    pub scope_id: Option<i64>,
    /// Hours it lasts (1–168, default 72).
    pub ttl_hours: Option<i64>,
    /// For the inviter's own list ("给王阿姨").
    pub note: Option<String>,
}

/// What an invitation shows.
#[derive(Debug, Clone)]
pub struct InvitationView {
    pub invitation: invitation::Model,
    pub role: Role,
    pub state: InvitationState,
    /// The organization's or region's name.
    pub scope_name: Option<String>,
    pub inviter_nickname: Option<String>,
    /// For its inviter (with the private note), or for an invitee previewing it.
    pub for_inviter: bool,
}

/// A person found by their bound phone.
#[derive(Debug, Clone)]
pub struct Person {
    pub user_id: i64,
    pub nickname: Option<String>,
    pub phone_masked: String,
    /// Whether they hold the role on the scope already.
    pub holds_role: bool,
}

async fn throttle(ctx: &AppContext, what: &str, user_id: i64) -> AppResult<()> {
    match ctx.limiter.hit(&format!("{what}:{user_id}"), TRIES_PER_MINUTE).await {
        Decision::Allow => Ok(()),
        Decision::Deny { retry_after_secs } => Err(AppError::RateLimited { retry_after_secs }),
    }
}

/// The caller may grant `role` on `scope_id` through the role's own channel.
async fn require_inviter(
    db: &impl ConnectionTrait,
    user: &AuthUser,
    role: Role,
    scope_id: Option<i64>,
) -> AppResult<()> {
    if !invitable(role) {
        return Err(AppError::invalid("role", "not_invitable", "该角色不能通过邀请授予"));
    }
    let scope = resolve_scope(db, role, scope_id).await?;
    require_may_grant(user, role, &scope, channel_of(role))
}

async fn scope_name(db: &impl ConnectionTrait, role: Role, scope_id: Option<i64>) -> AppResult<Option<String>> {
    let Some(id) = scope_id else { return Ok(None) };
    Ok(match role.scope_kind() {
        ScopeKind::Organization => organization::Entity::find_by_id(id).one(db).await?.map(|o| o.name),
        _ => region::Entity::find_by_id(id).one(db).await?.map(|r| r.name),
    })
}

async fn view(
    db: &impl ConnectionTrait,
    inv: invitation::Model,
    now: DateTime<Utc>,
    for_inviter: bool,
) -> AppResult<InvitationView> {
    let role = Role::parse(&inv.role).unwrap_or(Role::Resident);
    let inviter_nickname = user::Entity::find_by_id(inv.created_by).one(db).await?.and_then(|u| u.nickname);
    Ok(InvitationView {
        state: state(inv.accepted_at, inv.revoked_at, inv.expires_at, now),
        scope_name: scope_name(db, role, inv.scope_id).await?,
        inviter_nickname,
        role,
        for_inviter,
        invitation: inv,
    })
}

/// Creates an invitation to `role` on `scope_id`. The caller must be allowed to grant it
/// (403 otherwise); an organization's roles need the organization filed, registered or
/// suspended (as adding staff does).
pub async fn create(ctx: &AppContext, user: &AuthUser, mut input: InvitationInput) -> AppResult<InvitationView> {
    input.note = super::remark("note", input.note, 64)?;
    require_inviter(&ctx.db, user, input.role, input.scope_id).await?;
    if input.role.scope_kind() == ScopeKind::Organization
        && let Some(org) = input.scope_id
    {
        let o = organization::Entity::find_by_id(org).one(&ctx.db).await?.ok_or(AppError::NotFound("organization"))?;
        let status = crate::domain::organization::OrgStatus::parse(&o.status);
        if !status.is_some_and(|s| s.is_recognised() || s == crate::domain::organization::OrgStatus::Suspended) {
            return Err(AppError::Conflict("organization_not_active", "组织尚未备案，暂不能邀请成员".into()));
        }
    }
    let now = ctx.now();
    let expires_at =
        expiry(now, input.ttl_hours).ok_or_else(|| AppError::invalid("ttl_hours", "range", "有效期须为 1–168 小时"))?;
    // A clash of random codes is astronomically rare; try a fresh one if it happens.
    for _ in 0..3 {
        let inserted = invitation::Entity::insert(invitation::ActiveModel {
            code: Set(new_code()),
            role: Set(input.role.as_str().to_owned()),
            scope_id: Set(input.scope_id),
            note: Set(input.note.clone()),
            created_by: Set(user.id),
            created_at: Set(now),
            expires_at: Set(expires_at),
            ..Default::default()
        })
        .exec(&ctx.db)
        .await;
        match inserted {
            Ok(r) => {
                let inv = find(&ctx.db, r.last_insert_id).await?;
                return view(&ctx.db, inv, now, true).await;
            }
            Err(e) if is_unique_violation(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Internal(anyhow::anyhow!("three invitation codes clashed in a row")))
}

async fn find(db: &impl ConnectionTrait, id: i64) -> AppResult<invitation::Model> {
    invitation::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("invitation"))
}

async fn by_code(db: &impl ConnectionTrait, code: &str, lock: bool) -> AppResult<invitation::Model> {
    let code = normalise_code(code).ok_or(AppError::NotFound("invitation"))?;
    let mut q = invitation::Entity::find().filter(invitation::Column::Code.eq(code));
    if lock {
        q = q.lock_exclusive();
    }
    q.one(db).await?.ok_or(AppError::NotFound("invitation"))
}

/// The caller's own invitations, newest first.
pub async fn mine(
    ctx: &AppContext,
    user: &AuthUser,
    before: Option<i64>,
    limit: u64,
) -> AppResult<(Vec<InvitationView>, Option<i64>)> {
    let mut q = invitation::Entity::find().filter(invitation::Column::CreatedBy.eq(user.id));
    if let Some(before) = before {
        q = q.filter(invitation::Column::Id.lt(before));
    }
    let mut rows = q.order_by_desc(invitation::Column::Id).limit(limit + 1).all(&ctx.db).await?;
    let next = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|i| i.id)
    } else {
        None
    };
    let now = ctx.now();
    let mut out = Vec::with_capacity(rows.len());
    for inv in rows {
        out.push(view(&ctx.db, inv, now, true).await?);
    }
    Ok((out, next))
}

/// What an invitation offers, for the invitee before accepting (who invites, to what,
/// until when). Rate limited; an unknown code is 404.
pub async fn preview(ctx: &AppContext, user: &AuthUser, code: &str) -> AppResult<InvitationView> {
    throttle(ctx, "invitation", user.id).await?;
    let inv = by_code(&ctx.db, code, false).await?;
    let for_inviter = inv.created_by == user.id;
    view(&ctx.db, inv, ctx.now(), for_inviter).await
}

/// Its inviter withdraws an invitation not yet accepted (409 `invalid_transition` once it
/// is accepted, revoked or expired).
pub async fn revoke(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<InvitationView> {
    let now = ctx.now();
    let inv = find(&ctx.db, id).await?;
    if inv.created_by != user.id {
        return Err(AppError::Forbidden("not your invitation"));
    }
    let done = invitation::Entity::update_many()
        .col_expr(invitation::Column::RevokedAt, Expr::value(now))
        .filter(invitation::Column::Id.eq(id))
        .filter(invitation::Column::AcceptedAt.is_null())
        .filter(invitation::Column::RevokedAt.is_null())
        .filter(invitation::Column::ExpiresAt.gt(now))
        .exec(&ctx.db)
        .await?;
    if done.rows_affected == 0 {
        return Err(AppError::Conflict("invalid_transition", "邀请已被接受、撤回或已过期".into()));
    }
    view(&ctx.db, find(&ctx.db, id).await?, now, true).await
}

/// The inviter as they are now, with their grants today.
async fn inviter_now(ctx: &AppContext, id: i64) -> AppResult<Option<AuthUser>> {
    let Some(u) = user::Entity::find_by_id(id).one(&ctx.db).await?.filter(|u| u.deleted_at.is_none()) else {
        return Ok(None);
    };
    match AuthUser::load(ctx, id, u.token_version).await {
        Ok(a) => Ok(Some(a)),
        Err(AppError::InvalidToken) => Ok(None),
        Err(e) => Err(e),
    }
}

fn void() -> AppError {
    AppError::Gone("invitation_void", "邀请人已无权授予该角色，请向其索取新的邀请".into())
}

/// The signed-in invitee accepts: the grant is made as the inviter's, who is told. A
/// second tap by the same person answers the same (the grant exists); anyone else gets
/// 410 `invitation_used`; an expired one 410 `invitation_expired`, a revoked one 410
/// `invitation_revoked`; an inviter who lost the right to grant it, 410
/// `invitation_void`; one's own invitation, 409 `own_invitation`.
pub async fn accept(ctx: &AppContext, user: &AuthUser, code: &str) -> AppResult<InvitationView> {
    throttle(ctx, "invitation", user.id).await?;
    let seen = by_code(&ctx.db, code, false).await?;
    let inviter = inviter_now(ctx, seen.created_by).await?;
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let inv = by_code(&txn, code, true).await?;
    match state(inv.accepted_at, inv.revoked_at, inv.expires_at, now) {
        InvitationState::Accepted if inv.accepted_by == Some(user.id) => {
            drop(txn);
            return view(&ctx.db, inv, now, false).await;
        }
        InvitationState::Accepted => {
            return Err(AppError::Gone("invitation_used", "该邀请已被他人使用，请向邀请人索取新的邀请".into()));
        }
        InvitationState::Revoked => return Err(AppError::Gone("invitation_revoked", "邀请人已撤回该邀请".into())),
        InvitationState::Expired => {
            return Err(AppError::Gone("invitation_expired", "邀请已过期，请向邀请人索取新的邀请".into()));
        }
        InvitationState::Active => {}
    }
    if inv.created_by == user.id {
        return Err(AppError::Conflict("own_invitation", "不能接受自己发出的邀请".into()));
    }
    let role = Role::parse(&inv.role).ok_or_else(void)?;
    let inviter = inviter.ok_or_else(void)?;
    let scope = resolve_scope(&txn, role, inv.scope_id).await.map_err(|_| void())?;
    require_may_grant(&inviter, role, &scope, channel_of(role)).map_err(|_| void())?;
    let grant_id = match (role.scope_kind(), inv.scope_id) {
        (ScopeKind::Organization, Some(org)) => grant_by_invitation(&txn, &inviter, user.id, role, org, now).await?.0,
        _ => insert_grant(&txn, user.id, role, inv.scope_id, Some(inviter.id), now).await?.0.id,
    };
    invitation::Entity::update_many()
        .col_expr(invitation::Column::AcceptedBy, Expr::value(user.id))
        .col_expr(invitation::Column::AcceptedAt, Expr::value(now))
        .col_expr(invitation::Column::GrantId, Expr::value(grant_id))
        .filter(invitation::Column::Id.eq(inv.id))
        .exec(&txn)
        .await?;
    let nickname = user::Entity::find_by_id(user.id).one(&txn).await?.and_then(|u| u.nickname);
    let place = scope_name(&txn, role, inv.scope_id).await?.unwrap_or_default();
    let notice = Notice {
        user_id: inv.created_by,
        kind: "invitation_accepted",
        title: "邀请已被接受".into(),
        body: format!("{} 接受了您的邀请，成为{}的{}", nickname.as_deref().unwrap_or("一位居民"), place, role_zh(role)),
        activity_id: None,
        organization_id: (role.scope_kind() == ScopeKind::Organization).then_some(inv.scope_id).flatten(),
        dedupe_key: format!("invitation_accepted:{}", inv.id),
        due_at: None,
        offset_secs: None,
    };
    enqueue(&txn, vec![notice], now).await?;
    txn.commit().await?;
    view(&ctx.db, find(&ctx.db, inv.id).await?, now, false).await
}

/// A role's Chinese name, for notices.
pub fn role_zh(role: Role) -> &'static str {
    match role {
        Role::Resident => "居民",
        Role::OrgStaff => "骨干",
        Role::OrgLeader => "负责人",
        Role::HubStaff => "枢纽组织工作人员",
        Role::Committee => "社区（村）工作人员",
        Role::Street => "街道（乡镇）工作人员",
        Role::CivilAffairs => "民政部门工作人员",
        Role::SystemAdmin => "系统管理员",
    }
}

/// Finds the person who bound `phone` (exact match, after the usual normalisation), for
/// someone who may grant `role` on `scope_id` (the same check as inviting): their id,
/// nickname and masked phone, and whether they hold the role there already. Nobody
/// found is 404; rate limited like accepting.
pub async fn find_person(
    ctx: &AppContext,
    user: &AuthUser,
    phone: &str,
    role: Role,
    scope_id: Option<i64>,
) -> AppResult<Person> {
    throttle(ctx, "people", user.id).await?;
    require_inviter(&ctx.db, user, role, scope_id).await?;
    let phone =
        parse_phone(phone).ok_or_else(|| AppError::invalid("phone", "phone", "请输入 11 位手机号或区号开头的固话"))?;
    let mut matches = user::Entity::find()
        .filter(user::Column::Phone.eq(phone.as_str()))
        .filter(user::Column::DeletedAt.is_null())
        .order_by_asc(user::Column::Id)
        .limit(2)
        .all(&ctx.db)
        .await?;
    if matches.len() > 1 {
        // Never guess between people (a family sharing a phone): an invitation names one.
        return Err(AppError::Conflict("phone_ambiguous", "该号码绑定了多个账号，请改用邀请码".into()));
    }
    let found = matches.pop().ok_or(AppError::NotFound("user"))?;
    let mut held = role_grant::Entity::find()
        .filter(role_grant::Column::UserId.eq(found.id))
        .filter(role_grant::Column::Role.eq(role.as_str()));
    held = match scope_id {
        Some(s) => held.filter(role_grant::Column::ScopeId.eq(s)),
        None => held.filter(role_grant::Column::ScopeId.is_null()),
    };
    Ok(Person {
        user_id: found.id,
        nickname: found.nickname,
        phone_masked: mask_phone(&phone),
        holds_role: held.one(&ctx.db).await?.is_some(),
    })
}
