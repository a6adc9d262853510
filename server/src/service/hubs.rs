//! Hub organizations (枢纽型组织): the street office (or civil affairs) marks an
//! organization as the hub of a street or community; organizations there request to join
//! and the hub's leader accepts or declines; a member leaves (or is removed) with a
//! reason. The hub's staff (`hub_staff`, granted by the hub's leader; the leader counts
//! too) read their members' figures, annual reports and projects: [`hub_staff_over`] is
//! the one check every reader asks.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    sea_query::Expr,
};

use crate::{
    auth::{
        AuthUser,
        scope::{holds_region_role, path_covers, region_path},
    },
    context::AppContext,
    domain::{
        hub::{HUB_LEVELS, HubKind, MembershipAction, MembershipStatus},
        organization::OrgStatus,
        role::Role,
    },
    entity::{hub, hub_membership, organization, region, role_grant, user},
    error::{AppError, AppResult},
    service::{
        begin_write, is_unique_violation,
        notifications::{Notice, enqueue},
        organizations::holders,
        role_grants::grant_in_organization,
    },
};

/// A hub, as shown on the street's page.
#[derive(Clone, Debug)]
pub struct HubView {
    pub hub: hub::Model,
    pub organization: organization::Model,
    pub region: region::Model,
    /// Active members, by name.
    pub members: Vec<organization::Model>,
}

/// A membership and the names it points at.
#[derive(Clone, Debug)]
pub struct MembershipView {
    pub membership: hub_membership::Model,
    pub organization_name: String,
}

pub(crate) async fn find(db: &impl ConnectionTrait, id: i64) -> AppResult<hub::Model> {
    hub::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("hub"))
}

async fn find_org(db: &impl ConnectionTrait, id: i64) -> AppResult<organization::Model> {
    organization::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("organization"))
}

fn recognised(org: &organization::Model) -> bool {
    OrgStatus::parse(&org.status).is_some_and(OrgStatus::is_recognised)
}

/// Whether organization `org_id` is marked as a hub (枢纽型社会组织).
pub async fn is_hub(db: &impl ConnectionTrait, org_id: i64) -> AppResult<bool> {
    Ok(hub::Entity::find().filter(hub::Column::OrganizationId.eq(org_id)).one(db).await?.is_some())
}

/// Whether `user` leads the hub's organization or holds `hub_staff` on it.
pub fn is_hub_staff(user: &AuthUser, hub_org_id: i64) -> bool {
    user.grants.iter().any(|g| matches!(g.role, Role::HubStaff | Role::OrgLeader) && g.scope_id == Some(hub_org_id))
}

/// Whether `user` reads organization `org_id` as the staff of a hub it is an active
/// member of (read-only: figures, annual reports, projects). The hub's leader counts as
/// its staff.
pub async fn hub_staff_over(db: &impl ConnectionTrait, user: &AuthUser, org_id: i64) -> AppResult<bool> {
    let hub_orgs: Vec<i64> = user
        .grants
        .iter()
        .filter(|g| matches!(g.role, Role::HubStaff | Role::OrgLeader))
        .filter_map(|g| g.scope_id)
        .collect();
    if hub_orgs.is_empty() {
        return Ok(false);
    }
    let hubs: Vec<i64> = hub::Entity::find()
        .filter(hub::Column::OrganizationId.is_in(hub_orgs))
        .all(db)
        .await?
        .iter()
        .map(|h| h.id)
        .collect();
    if hubs.is_empty() {
        return Ok(false);
    }
    let n = hub_membership::Entity::find()
        .filter(hub_membership::Column::HubId.is_in(hubs))
        .filter(hub_membership::Column::OrganizationId.eq(org_id))
        .filter(hub_membership::Column::Status.eq(MembershipStatus::Active.as_str()))
        .count(db)
        .await?;
    Ok(n > 0)
}

/// `POST /hubs`: the street office over `region_id` (or civil affairs above it) marks a
/// filed or registered organization of that street or community as its hub, with a
/// reason. One hub record per organization (409 `already_hub`).
pub async fn mark(
    ctx: &AppContext,
    user: &AuthUser,
    organization_id: i64,
    region_id: i64,
    kind: HubKind,
    reason: String,
) -> AppResult<HubView> {
    let area = region::Entity::find_by_id(region_id)
        .one(&ctx.db)
        .await?
        .ok_or_else(|| AppError::invalid("region_id", "not_found", "所选地区不存在"))?;
    if !holds_region_role(user, &[Role::Street, Role::CivilAffairs], &area.path) {
        return Err(AppError::Forbidden("requires the street office or civil affairs over the region"));
    }
    if !HUB_LEVELS.contains(&area.level.as_str()) {
        return Err(AppError::invalid("region_id", "wrong_level", "枢纽组织须是街道（乡镇）或社区（村）的枢纽"));
    }
    let org = find_org(&ctx.db, organization_id)
        .await
        .map_err(|_| AppError::invalid("organization_id", "not_found", "所选组织不存在"))?;
    let org_path = region_path(&ctx.db, org.community_id).await?;
    if !path_covers(&org_path, area.id) {
        return Err(AppError::invalid("organization_id", "outside_region", "枢纽组织须在所选地区内"));
    }
    if !recognised(&org) {
        return Err(AppError::Conflict("not_recognised", "只有已备案或登记的组织才能成为枢纽组织".into()));
    }
    let inserted = hub::Entity::insert(hub::ActiveModel {
        organization_id: Set(organization_id),
        region_id: Set(region_id),
        kind: Set(kind.as_str().to_owned()),
        reason: Set(reason),
        marked_by: Set(user.id),
        marked_at: Set(ctx.now()),
        ..Default::default()
    })
    .exec(&ctx.db)
    .await;
    let id = match inserted {
        Ok(r) => r.last_insert_id,
        Err(e) if is_unique_violation(&e) => {
            return Err(AppError::Conflict("already_hub", "该组织已是枢纽组织".into()));
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(hub_id = id, organization_id, by = user.id, "hub marked");
    detail(ctx, id).await
}

/// `GET /hubs/{id}`: public, as the street's page shows it.
pub async fn detail(ctx: &AppContext, id: i64) -> AppResult<HubView> {
    let h = find(&ctx.db, id).await?;
    Ok(views(&ctx.db, vec![h]).await?.remove(0))
}

async fn views(db: &impl ConnectionTrait, hubs: Vec<hub::Model>) -> AppResult<Vec<HubView>> {
    let mut out = Vec::new();
    for h in hubs {
        let organization = find_org(db, h.organization_id).await?;
        let region = region::Entity::find_by_id(h.region_id).one(db).await?.ok_or(AppError::NotFound("region"))?;
        let member_ids: Vec<i64> = hub_membership::Entity::find()
            .filter(hub_membership::Column::HubId.eq(h.id))
            .filter(hub_membership::Column::Status.eq(MembershipStatus::Active.as_str()))
            .all(db)
            .await?
            .into_iter()
            .map(|m| m.organization_id)
            .collect();
        let members = organization::Entity::find()
            .filter(organization::Column::Id.is_in(member_ids))
            .order_by_asc(organization::Column::Id)
            .all(db)
            .await?;
        out.push(HubView { hub: h, organization, region, members });
    }
    Ok(out)
}

/// `GET /hubs?region_id=`: public; the hubs of the region and of every region under it
/// (a street's page shows the street's hub and its communities').
pub async fn list(ctx: &AppContext, region_id: i64) -> AppResult<Vec<HubView>> {
    let path = region_path(&ctx.db, region_id).await?;
    let hubs = hub::Entity::find()
        .filter(hub::Column::RegionId.in_subquery(crate::service::organization_scope::regions_under(&[path])))
        .order_by_asc(hub::Column::Id)
        .all(&ctx.db)
        .await?;
    views(&ctx.db, hubs).await
}

/// `POST /hubs/{id}/members`: the leader of an organization in the hub's region asks to
/// join. One open request or membership per hub and organization (409 `membership_open`).
pub async fn request(
    ctx: &AppContext,
    user: &AuthUser,
    hub_id: i64,
    organization_id: i64,
    message: Option<String>,
) -> AppResult<MembershipView> {
    let h = find(&ctx.db, hub_id).await?;
    if !user.leads(organization_id) && !user.is_system_admin() {
        return Err(AppError::Forbidden("requires the organization's leader"));
    }
    let org = find_org(&ctx.db, organization_id).await?;
    if org.id == h.organization_id {
        return Err(AppError::invalid("organization_id", "is_the_hub", "枢纽组织不能加入自己"));
    }
    let org_path = region_path(&ctx.db, org.community_id).await?;
    if !path_covers(&org_path, h.region_id) {
        return Err(AppError::invalid("organization_id", "outside_region", "只有枢纽所在地区内的组织才能加入"));
    }
    if !recognised(&org) {
        return Err(AppError::Conflict("not_recognised", "只有已备案或登记的组织才能加入枢纽组织".into()));
    }
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let inserted = hub_membership::Entity::insert(hub_membership::ActiveModel {
        hub_id: Set(hub_id),
        organization_id: Set(organization_id),
        status: Set(MembershipStatus::Requested.as_str().to_owned()),
        message: Set(message),
        requested_by: Set(user.id),
        requested_at: Set(now),
        ..Default::default()
    })
    .exec(&txn)
    .await;
    let id = match inserted {
        Ok(r) => r.last_insert_id,
        Err(e) if is_unique_violation(&e) => {
            return Err(AppError::Conflict("membership_open", "该组织已申请加入或已是成员".into()));
        }
        Err(e) => return Err(e.into()),
    };
    let hub_org = find_org(&txn, h.organization_id).await?;
    let notices = holders(&txn, h.organization_id, &[Role::OrgLeader])
        .await?
        .into_iter()
        .map(|leader| Notice {
            user_id: leader,
            kind: "hub_membership",
            title: "新的入会申请".into(),
            body: format!("「{}」申请加入「{}」，请处理。", org.name, hub_org.name),
            activity_id: None,
            organization_id: Some(h.organization_id),
            dedupe_key: format!("hub_membership:{id}:requested:{leader}"),
            due_at: None,
            offset_secs: None,
        })
        .collect();
    enqueue(&txn, notices, now).await?;
    txn.commit().await?;
    membership(&ctx.db, id).await
}

async fn membership(db: &impl ConnectionTrait, id: i64) -> AppResult<MembershipView> {
    let m = hub_membership::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("membership"))?;
    let org = find_org(db, m.organization_id).await?;
    Ok(MembershipView { membership: m, organization_name: org.name })
}

/// `POST /hubs/{id}/members/{membership_id}/decision` (accept or decline, by the hub's
/// leader) and `…/leave` (by the member's leader, or the hub's leader removing it). A
/// decline or a leaving needs a reason; each is kept on the membership with who and when.
pub async fn act(
    ctx: &AppContext,
    user: &AuthUser,
    hub_id: i64,
    membership_id: i64,
    action: MembershipAction,
    reason: Option<String>,
) -> AppResult<MembershipView> {
    let h = find(&ctx.db, hub_id).await?;
    let m = hub_membership::Entity::find_by_id(membership_id)
        .one(&ctx.db)
        .await?
        .filter(|m| m.hub_id == hub_id)
        .ok_or(AppError::NotFound("membership"))?;
    let allowed = user.is_system_admin()
        || user.leads(h.organization_id)
        || (action == MembershipAction::Leave && user.leads(m.organization_id));
    if !allowed {
        return Err(AppError::Forbidden("requires the hub's leader"));
    }
    if action.needs_reason() && reason.is_none() {
        return Err(AppError::invalid("reason", "required", "须说明理由"));
    }
    let status = MembershipStatus::parse(&m.status).unwrap_or(MembershipStatus::Left);
    let to = action.next(status).ok_or_else(|| {
        AppError::Conflict("invalid_transition", format!("该入会记录当前为 {}，不能进行此操作", m.status))
    })?;
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let mut update = hub_membership::Entity::update_many()
        .col_expr(hub_membership::Column::Status, Expr::value(to.as_str()))
        .filter(hub_membership::Column::Id.eq(m.id))
        .filter(hub_membership::Column::Status.eq(status.as_str()));
    update = if action == MembershipAction::Leave {
        update
            .col_expr(hub_membership::Column::LeftBy, Expr::value(user.id))
            .col_expr(hub_membership::Column::LeftAt, Expr::value(now))
            .col_expr(hub_membership::Column::LeftReason, Expr::value(reason.clone()))
    } else {
        update
            .col_expr(hub_membership::Column::DecidedBy, Expr::value(user.id))
            .col_expr(hub_membership::Column::DecidedAt, Expr::value(now))
            .col_expr(hub_membership::Column::DecisionReason, Expr::value(reason.clone()))
    };
    if update.exec(&txn).await?.rows_affected == 0 {
        return Err(AppError::Conflict("invalid_transition", "该入会记录刚刚被他人处理，请刷新后重试".into()));
    }
    let hub_org = find_org(&txn, h.organization_id).await?;
    let body = match to {
        MembershipStatus::Active => format!("已加入「{}」。", hub_org.name),
        MembershipStatus::Declined => {
            format!("「{}」未接受入会申请。理由：{}", hub_org.name, reason.clone().unwrap_or_default())
        }
        _ => format!("已退出「{}」。理由：{}", hub_org.name, reason.clone().unwrap_or_default()),
    };
    let notice = Notice {
        user_id: m.requested_by,
        kind: "hub_membership",
        title: "入会申请结果".into(),
        body,
        activity_id: None,
        organization_id: Some(m.organization_id),
        dedupe_key: format!("hub_membership:{}:{}", m.id, to.as_str()),
        due_at: None,
        offset_secs: None,
    };
    enqueue(&txn, vec![notice], now).await?;
    txn.commit().await?;
    tracing::info!(membership_id = m.id, hub_id, by = user.id, to = to.as_str(), "hub membership changed");
    membership(&ctx.db, m.id).await
}

/// `GET /hubs/{id}/members`: every membership, requests and past ones included, for the
/// hub's staff and the officials over the hub's region.
pub async fn memberships(ctx: &AppContext, user: &AuthUser, hub_id: i64) -> AppResult<Vec<MembershipView>> {
    let h = find(&ctx.db, hub_id).await?;
    let path = region_path(&ctx.db, h.region_id).await?;
    if !is_hub_staff(user, h.organization_id)
        && !holds_region_role(user, &[Role::Committee, Role::Street, Role::CivilAffairs], &path)
    {
        return Err(AppError::Forbidden("requires the hub's staff or an official over it"));
    }
    let rows = hub_membership::Entity::find()
        .filter(hub_membership::Column::HubId.eq(hub_id))
        .order_by_asc(hub_membership::Column::Id)
        .all(&ctx.db)
        .await?;
    let ids: Vec<i64> = rows.iter().map(|m| m.organization_id).collect();
    let names: HashMap<i64, String> = organization::Entity::find()
        .filter(organization::Column::Id.is_in(ids))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    Ok(rows
        .into_iter()
        .map(|m| MembershipView {
            organization_name: names.get(&m.organization_id).cloned().unwrap_or_default(),
            membership: m,
        })
        .collect())
}

/// `POST /hubs/{id}/staff`: the hub's leader grants `hub_staff` on the hub (the grant
/// table: `org_leader` in its organization, via the organization's paths).
pub async fn add_staff(ctx: &AppContext, user: &AuthUser, hub_id: i64, member: i64) -> AppResult<Vec<HubStaffMember>> {
    let h = find(&ctx.db, hub_id).await?;
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let (_, created) = grant_in_organization(&txn, user, member, Role::HubStaff, h.organization_id, now).await?;
    if created {
        let org = find_org(&txn, h.organization_id).await?;
        let status = crate::service::organizations::status_of(&org)?;
        crate::service::organizations::record(
            &txn,
            org.id,
            Some(user.id),
            "hub_staff_added",
            Some(status),
            status,
            Some(format!("user {member}")),
            now,
        )
        .await?;
    }
    txn.commit().await?;
    staff(&ctx.db, h.organization_id).await
}

/// One holder of `hub_staff`.
#[derive(Clone, Debug)]
pub struct HubStaffMember {
    pub user_id: i64,
    pub nickname: Option<String>,
    pub since: DateTime<Utc>,
}

/// The people holding `hub_staff` on the hub's organization, oldest grant first.
async fn staff(db: &impl ConnectionTrait, hub_org_id: i64) -> AppResult<Vec<HubStaffMember>> {
    let grants = role_grant::Entity::find()
        .filter(role_grant::Column::Role.eq(Role::HubStaff.as_str()))
        .filter(role_grant::Column::ScopeId.eq(hub_org_id))
        .order_by_asc(role_grant::Column::Id)
        .all(db)
        .await?;
    let mut out = Vec::new();
    for g in grants {
        let nickname = user::Entity::find_by_id(g.user_id).one(db).await?.and_then(|u| u.nickname);
        out.push(HubStaffMember { user_id: g.user_id, nickname, since: g.created_at });
    }
    Ok(out)
}

/// The hubs an organization is an active member of, for its profile.
pub async fn hubs_of(db: &impl ConnectionTrait, org_id: i64) -> AppResult<Vec<i64>> {
    Ok(hub_membership::Entity::find()
        .filter(hub_membership::Column::OrganizationId.eq(org_id))
        .filter(hub_membership::Column::Status.eq(MembershipStatus::Active.as_str()))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.hub_id)
        .collect())
}
