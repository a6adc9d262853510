//! The expert pools a region's office keeps: inspectors for random checks (双随机, drawn
//! in pairs per organization) and assessors for ratings (等级评估, named to a panel per
//! assessment). A pool is a list of people; taking someone out keeps what they already
//! did (draws and panels keep their ids).

use std::collections::HashMap;

use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::Expr};

use crate::{
    auth::{AuthUser, scope::holds_region_role},
    context::AppContext,
    domain::role::Role,
    entity::{check_inspector, region, user},
    error::{AppError, AppResult},
};

/// Which pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pool {
    /// Random-check inspectors: kept by a street office or civil affairs.
    Inspectors,
    /// Rating assessors: kept by civil affairs (the policy has it name the panel).
    Assessors,
}

impl Pool {
    /// As stored in `check_inspectors.pool`.
    pub fn as_str(self) -> &'static str {
        match self {
            Pool::Inspectors => "inspectors",
            Pool::Assessors => "assessors",
        }
    }

    /// The offices that keep this pool.
    pub fn keepers(self) -> &'static [Role] {
        match self {
            Pool::Inspectors => &[Role::Street, Role::CivilAffairs],
            Pool::Assessors => &[Role::CivilAffairs],
        }
    }

    fn refusal(self) -> AppError {
        match self {
            Pool::Inspectors => AppError::Forbidden("requires the street office or civil affairs over the region"),
            Pool::Assessors => AppError::Forbidden("requires civil affairs over the region"),
        }
    }
}

/// Whether `user` keeps `pool` over the region at `path` (the system admin does everywhere).
pub fn require_keeper(user: &AuthUser, pool: Pool, path: &str) -> AppResult<()> {
    if user.is_system_admin() || holds_region_role(user, pool.keepers(), path) { Ok(()) } else { Err(pool.refusal()) }
}

async fn find_region(db: &impl ConnectionTrait, id: i64) -> AppResult<region::Model> {
    region::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("region"))
}

/// Nicknames of people by id (missing or erased people map to `None`).
pub async fn nicknames(db: &impl ConnectionTrait, ids: Vec<i64>) -> AppResult<HashMap<i64, Option<String>>> {
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.nickname))
        .collect())
}

/// The ids in a region's pool, ascending.
pub async fn active(db: &impl ConnectionTrait, pool: Pool, region_id: i64) -> AppResult<Vec<i64>> {
    let mut v: Vec<i64> = check_inspector::Entity::find()
        .filter(check_inspector::Column::RegionId.eq(region_id))
        .filter(check_inspector::Column::Pool.eq(pool.as_str()))
        .filter(check_inspector::Column::RemovedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|i| i.user_id)
        .collect();
    v.sort_unstable();
    v.dedup();
    Ok(v)
}

/// The people of a region's pool with their nicknames (its keepers only).
pub async fn list(
    ctx: &AppContext,
    user: &AuthUser,
    pool: Pool,
    region_id: i64,
) -> AppResult<Vec<(i64, Option<String>)>> {
    let r = find_region(&ctx.db, region_id).await?;
    require_keeper(user, pool, &r.path)?;
    let ids = active(&ctx.db, pool, region_id).await?;
    let names = nicknames(&ctx.db, ids.clone()).await?;
    Ok(ids.into_iter().map(|id| (id, names.get(&id).cloned().flatten())).collect())
}

/// Adds a person to a region's pool (idempotent). 422 when the person does not exist.
pub async fn add(ctx: &AppContext, user: &AuthUser, pool: Pool, region_id: i64, person: i64) -> AppResult<()> {
    let r = find_region(&ctx.db, region_id).await?;
    require_keeper(user, pool, &r.path)?;
    user::Entity::find_by_id(person)
        .one(&ctx.db)
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or_else(|| AppError::invalid("user_id", "not_found", "user_id 指定的用户不存在"))?;
    if active(&ctx.db, pool, region_id).await?.contains(&person) {
        return Ok(());
    }
    check_inspector::Entity::insert(check_inspector::ActiveModel {
        region_id: Set(region_id),
        user_id: Set(person),
        added_by: Set(Some(user.id)),
        created_at: Set(ctx.now()),
        pool: Set(pool.as_str().to_owned()),
        ..Default::default()
    })
    .exec_without_returning(&ctx.db)
    .await?;
    Ok(())
}

/// Takes a person out of a region's pool (what they were already given keeps them).
pub async fn remove(ctx: &AppContext, user: &AuthUser, pool: Pool, region_id: i64, person: i64) -> AppResult<()> {
    let r = find_region(&ctx.db, region_id).await?;
    require_keeper(user, pool, &r.path)?;
    check_inspector::Entity::update_many()
        .col_expr(check_inspector::Column::RemovedAt, Expr::value(ctx.now()))
        .filter(check_inspector::Column::RegionId.eq(region_id))
        .filter(check_inspector::Column::Pool.eq(pool.as_str()))
        .filter(check_inspector::Column::UserId.eq(person))
        .filter(check_inspector::Column::RemovedAt.is_null())
        .exec(&ctx.db)
        .await?;
    Ok(())
}
