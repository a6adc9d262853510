//! Granting and revoking roles. An admin acts only inside their own scope.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::{
    auth::{
        AuthUser,
        scope::{ResolvedScope, require_may_grant},
    },
    context::AppContext,
    domain::{
        organization::Standing,
        role::{Channel, Role, ScopeKind, grantable_inside},
    },
    entity::{organization, region, role_grant, user},
    error::{AppError, AppResult},
    service::is_unique_violation,
};

/// Checks that `scope_id` names what `role` needs, and finds where it sits in the tree.
pub async fn resolve_scope(db: &impl ConnectionTrait, role: Role, scope_id: Option<i64>) -> AppResult<ResolvedScope> {
    match (role.scope_kind(), scope_id) {
        (ScopeKind::None, None) => Ok(ResolvedScope::Global),
        (ScopeKind::None, Some(_)) => Err(AppError::invalid("scope_id", "not_allowed", "该角色不需要 scope_id")),
        (_, None) => Err(AppError::invalid("scope_id", "required", "该角色须指定 scope_id")),
        (ScopeKind::Region(levels), Some(id)) => {
            let region = region::Entity::find_by_id(id)
                .one(db)
                .await?
                .ok_or_else(|| AppError::invalid("scope_id", "not_found", "scope_id 指定的地区不存在"))?;
            if !levels.contains(&region.level.as_str()) {
                return Err(AppError::invalid(
                    "scope_id",
                    "wrong_level",
                    format!("{} 角色的范围须是 {} 级地区", role.as_str(), levels.join("/")),
                ));
            }
            Ok(ResolvedScope::Region { path: region.path })
        }
        (ScopeKind::Organization, Some(id)) => organization_scope(db, id)
            .await?
            .ok_or_else(|| AppError::invalid("scope_id", "not_found", "scope_id 指定的组织不存在")),
    }
}

/// An organization as a grant's scope: where it sits, and which office files it (the
/// street while it is filed, civil affairs once it is registered).
pub async fn organization_scope(db: &impl ConnectionTrait, id: i64) -> AppResult<Option<ResolvedScope>> {
    let Some(org) = organization::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let Some(community) = region::Entity::find_by_id(org.community_id).one(db).await? else {
        return Ok(None);
    };
    let filing_office = match Standing::parse(&org.standing) {
        Some(Standing::Registered) => Role::CivilAffairs,
        _ => Role::Street,
    };
    Ok(Some(ResolvedScope::Organization { id, community_path: community.path, filing_office }))
}

/// Grants an organization role through one of the organization's own paths, after asking
/// the grant table whether `actor` may.
pub async fn grant_in_organization(
    db: &impl ConnectionTrait,
    actor: &AuthUser,
    user_id: i64,
    role: Role,
    organization_id: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<(role_grant::Model, bool)> {
    let scope = organization_scope(db, organization_id).await?.ok_or(AppError::NotFound("organization"))?;
    require_may_grant(actor, role, &scope, Channel::Organization)?;
    insert_grant(db, user_id, role, Some(organization_id), Some(actor.id), now).await
}

/// Removes an organization role through one of the organization's paths, asking the
/// same table.
pub async fn require_org_grant(
    db: &impl ConnectionTrait,
    actor: &AuthUser,
    role: Role,
    organization_id: i64,
) -> AppResult<()> {
    let scope = organization_scope(db, organization_id).await?.ok_or(AppError::NotFound("organization"))?;
    require_may_grant(actor, role, &scope, Channel::Organization)
}

/// Grants `role` on `scope_id` to `user_id`. Granting what the user already holds
/// returns the existing grant (`created == false`).
pub async fn grant(
    ctx: &AppContext,
    actor: &AuthUser,
    user_id: i64,
    role: Role,
    scope_id: Option<i64>,
) -> AppResult<(role_grant::Model, bool)> {
    if role == Role::Resident {
        return Err(AppError::invalid("role", "not_grantable", "resident 是每个用户都有的角色，无需授予"));
    }
    let scope = resolve_scope(&ctx.db, role, scope_id).await?;
    require_may_grant(actor, role, &scope, Channel::GrantsEndpoint)?;
    insert_grant(&ctx.db, user_id, role, scope_id, Some(actor.id), ctx.now()).await
}

/// Inserts a grant unless the same one exists. Used by the API, the CLI and the seed.
pub async fn insert_grant(
    db: &impl ConnectionTrait,
    user_id: i64,
    role: Role,
    scope_id: Option<i64>,
    granted_by: Option<i64>,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<(role_grant::Model, bool)> {
    user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or_else(|| AppError::invalid("user_id", "not_found", "user_id 指定的用户不存在"))?;
    if let Some(existing) = find_grant(db, user_id, role, scope_id).await? {
        return Ok((existing, false));
    }
    let inserted = role_grant::Entity::insert(role_grant::ActiveModel {
        user_id: Set(user_id),
        role: Set(role.as_str().to_owned()),
        scope_id: Set(scope_id),
        granted_by: Set(granted_by),
        created_at: Set(now),
        ..Default::default()
    })
    .exec(db)
    .await;
    match inserted {
        Ok(_) => {}
        // A concurrent identical grant won the race: fine, it is the same grant.
        Err(e) if is_unique_violation(&e) => {}
        Err(e) => return Err(e.into()),
    }
    let grant = find_grant(db, user_id, role, scope_id)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("grant vanished after insert")))?;
    Ok((grant, true))
}

async fn find_grant(
    db: &impl ConnectionTrait,
    user_id: i64,
    role: Role,
    scope_id: Option<i64>,
) -> AppResult<Option<role_grant::Model>> {
    let mut query = role_grant::Entity::find()
        .filter(role_grant::Column::UserId.eq(user_id))
        .filter(role_grant::Column::Role.eq(role.as_str()));
    query = match scope_id {
        Some(s) => query.filter(role_grant::Column::ScopeId.eq(s)),
        None => query.filter(role_grant::Column::ScopeId.is_null()),
    };
    Ok(query.one(db).await?)
}

/// Removes a grant through `DELETE /admin/role-grants/{id}` (and the console), asking
/// the grant table as granting does. Errors: 404 when there is no such grant, 403 when
/// the caller may not remove it (nor their own grant).
pub async fn revoke(ctx: &AppContext, actor: &AuthUser, grant_id: i64) -> AppResult<()> {
    let grant = role_grant::Entity::find_by_id(grant_id).one(&ctx.db).await?.ok_or(AppError::NotFound("role grant"))?;
    require_may_revoke(&ctx.db, actor, &grant).await?;
    role_grant::Entity::delete_by_id(grant_id).exec(&ctx.db).await?;
    tracing::info!(grant_id, role = grant.role, by = actor.id, "role revoked");
    Ok(())
}

/// The grant table decides, and nobody removes their own grant: an office never locks
/// itself out by a slip; a colleague or the office above does it.
async fn require_may_revoke(db: &impl ConnectionTrait, actor: &AuthUser, grant: &role_grant::Model) -> AppResult<()> {
    if grant.user_id == actor.id {
        return Err(AppError::Forbidden("cannot revoke your own role"));
    }
    let role = Role::parse(&grant.role).ok_or(AppError::NotFound("role grant"))?;
    let scope = resolve_scope(db, role, grant.scope_id).await?;
    require_may_grant(actor, role, &scope, Channel::GrantsEndpoint).map_err(|e| match e {
        AppError::Forbidden("cannot grant this role") => AppError::Forbidden("cannot revoke this role"),
        e => e,
    })
}

/// Whether `actor` may remove `grant` through the grants endpoint: the console shows a
/// revoke button only then (organization roles are listed, but change through the
/// organization's own paths).
pub async fn may_revoke(db: &impl ConnectionTrait, actor: &AuthUser, grant: &role_grant::Model) -> AppResult<bool> {
    match require_may_revoke(db, actor, grant).await {
        Ok(()) => Ok(true),
        Err(AppError::Forbidden(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

#[derive(Debug, Default)]
pub struct GrantFilter {
    pub user_id: Option<i64>,
    pub role: Option<Role>,
    pub scope_id: Option<i64>,
}

/// The grants the caller administers: everything for a system admin; for an office that
/// grants through the endpoint (committee, street, civil affairs: [`grantable_inside`]),
/// the grants whose scope lies inside its own, organization roles included (they are
/// shown, and changed through the organization's paths). Others get 403.
pub async fn list(
    ctx: &AppContext,
    actor: &AuthUser,
    filter: GrantFilter,
    after_id: Option<i64>,
    limit: u64,
) -> AppResult<Vec<role_grant::Model>> {
    let mut query = role_grant::Entity::find();
    if !actor.is_system_admin() {
        let admin_scopes: Vec<i64> =
            actor.grants.iter().filter(|g| !grantable_inside(g.role).is_empty()).filter_map(|g| g.scope_id).collect();
        if admin_scopes.is_empty() {
            return Err(AppError::Forbidden("cannot grant this role"));
        }
        let mut paths = Vec::new();
        for id in admin_scopes {
            paths.push(crate::auth::scope::region_path(&ctx.db, id).await?);
        }
        let regions_inside = crate::service::organization_scope::regions_under(&paths);
        let region_roles = [Role::Committee, Role::Street, Role::CivilAffairs].map(Role::as_str);
        let org_roles = [Role::OrgStaff, Role::OrgLeader, Role::HubStaff].map(Role::as_str);
        let orgs_inside = crate::service::organization_scope::organizations_in(&paths);
        let mut visible = Condition::any().add(
            Condition::all()
                .add(role_grant::Column::Role.is_in(region_roles))
                .add(role_grant::Column::ScopeId.in_subquery(regions_inside)),
        );
        if let Some(orgs_inside) = orgs_inside {
            visible = visible.add(
                Condition::all()
                    .add(role_grant::Column::Role.is_in(org_roles))
                    .add(role_grant::Column::ScopeId.in_subquery(orgs_inside)),
            );
        }
        query = query.filter(visible);
    }
    if let Some(user_id) = filter.user_id {
        query = query.filter(role_grant::Column::UserId.eq(user_id));
    }
    if let Some(role) = filter.role {
        query = query.filter(role_grant::Column::Role.eq(role.as_str()));
    }
    if let Some(scope_id) = filter.scope_id {
        query = query.filter(role_grant::Column::ScopeId.eq(scope_id));
    }
    if let Some(after) = after_id {
        query = query.filter(role_grant::Column::Id.gt(after));
    }
    Ok(query.order_by_asc(role_grant::Column::Id).limit(limit + 1).all(&ctx.db).await?)
}
