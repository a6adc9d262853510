//! The abnormal list (活动异常名录): listings made by the system (a report overdue past
//! the grace period, a check that found the organization unreachable or a rectification
//! that failed) or by the filing office, each cleared — never deleted — when its cause
//! is, with who, when and why.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, sea_query::Expr};

use crate::{
    auth::{
        AuthUser,
        scope::{holds_region_role, region_path},
    },
    context::AppContext,
    domain::{abnormal::AbnormalReason, role::Role},
    entity::{abnormal_listing, organization, region},
    error::{AppError, AppResult},
    service::{
        annual_reports::reviewer_role,
        begin_write,
        notifications::{Notice, enqueue},
        organization_scope::regions_under,
    },
};

/// Lists `org` for `reason` unless a listing for the same reason and source is still on
/// the list; returns whether it listed it. The organization's leaders are told.
pub async fn list_for(
    db: &impl ConnectionTrait,
    org: i64,
    reason: AbnormalReason,
    detail: &str,
    actor: Option<i64>,
    source_id: Option<i64>,
    now: DateTime<Utc>,
) -> AppResult<bool> {
    let mut existing = abnormal_listing::Entity::find()
        .filter(abnormal_listing::Column::OrganizationId.eq(org))
        .filter(abnormal_listing::Column::Reason.eq(reason.as_str()))
        .filter(abnormal_listing::Column::ClearedAt.is_null());
    existing = match source_id {
        Some(s) => existing.filter(abnormal_listing::Column::SourceId.eq(s)),
        None => existing.filter(abnormal_listing::Column::SourceId.is_null()),
    };
    if existing.one(db).await?.is_some() {
        return Ok(false);
    }
    let id = abnormal_listing::Entity::insert(abnormal_listing::ActiveModel {
        organization_id: Set(org),
        reason: Set(reason.as_str().to_owned()),
        detail: Set(detail.to_owned()),
        listed_at: Set(now),
        listed_by: Set(actor),
        source_id: Set(source_id),
        ..Default::default()
    })
    .exec(db)
    .await?
    .last_insert_id;
    let leaders = crate::service::organizations::holders(db, org, &[Role::OrgLeader]).await?;
    let notices = leaders
        .into_iter()
        .map(|user_id| Notice {
            user_id,
            kind: "abnormal_listed",
            title: "组织被列入活动异常名录".into(),
            body: format!("原因：{detail}。原因消除后将移出名录。"),
            activity_id: None,
            organization_id: Some(org),
            dedupe_key: format!("abnormal_listed:{id}:{user_id}"),
            due_at: None,
            offset_secs: None,
        })
        .collect();
    enqueue(db, notices, now).await?;
    Ok(true)
}

/// Clears the listings of `org` for `reason` caused by `source_id` (the system: the
/// cause went away), recording why.
pub async fn clear_cause(
    db: &impl ConnectionTrait,
    org: i64,
    reason: AbnormalReason,
    source_id: i64,
    why: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    abnormal_listing::Entity::update_many()
        .col_expr(abnormal_listing::Column::ClearedAt, Expr::value(now))
        .col_expr(abnormal_listing::Column::ClearReason, Expr::value(why))
        .filter(abnormal_listing::Column::OrganizationId.eq(org))
        .filter(abnormal_listing::Column::Reason.eq(reason.as_str()))
        .filter(abnormal_listing::Column::SourceId.eq(source_id))
        .filter(abnormal_listing::Column::ClearedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

async fn require_filing_office(db: &impl ConnectionTrait, user: &AuthUser, org: &organization::Model) -> AppResult<()> {
    let path = region_path(db, org.community_id).await?;
    if user.is_system_admin() || holds_region_role(user, &[reviewer_role(org)], &path) {
        Ok(())
    } else {
        Err(AppError::Forbidden("requires the organization's filing office"))
    }
}

/// The filing office lists an organization by hand (an unreachable organization found
/// outside a random check, a rectification it failed), with the detail.
pub async fn add(
    ctx: &AppContext,
    user: &AuthUser,
    org_id: i64,
    reason: AbnormalReason,
    detail: String,
) -> AppResult<abnormal_listing::Model> {
    let org = organization::Entity::find_by_id(org_id).one(&ctx.db).await?.ok_or(AppError::NotFound("organization"))?;
    require_filing_office(&ctx.db, user, &org).await?;
    if reason == AbnormalReason::OverdueReport {
        return Err(AppError::invalid("reason", "system_only", "逾期未报年报由系统自动列入"));
    }
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    if !list_for(&txn, org_id, reason, &detail, Some(user.id), None, now).await? {
        return Err(AppError::Conflict("already_listed", "该组织已因同一原因列入名录".into()));
    }
    txn.commit().await?;
    abnormal_listing::Entity::find()
        .filter(abnormal_listing::Column::OrganizationId.eq(org_id))
        .order_by_desc(abnormal_listing::Column::Id)
        .one(&ctx.db)
        .await?
        .ok_or(AppError::NotFound("listing"))
}

/// The filing office clears a listing whose cause is gone, saying why.
pub async fn clear(ctx: &AppContext, user: &AuthUser, id: i64, why: String) -> AppResult<abnormal_listing::Model> {
    let l = abnormal_listing::Entity::find_by_id(id).one(&ctx.db).await?.ok_or(AppError::NotFound("listing"))?;
    let org = organization::Entity::find_by_id(l.organization_id)
        .one(&ctx.db)
        .await?
        .ok_or(AppError::NotFound("organization"))?;
    require_filing_office(&ctx.db, user, &org).await?;
    let done = abnormal_listing::Entity::update_many()
        .col_expr(abnormal_listing::Column::ClearedAt, Expr::value(ctx.now()))
        .col_expr(abnormal_listing::Column::ClearedBy, Expr::value(user.id))
        .col_expr(abnormal_listing::Column::ClearReason, Expr::value(why))
        .filter(abnormal_listing::Column::Id.eq(id))
        .filter(abnormal_listing::Column::ClearedAt.is_null())
        .exec(&ctx.db)
        .await?;
    if done.rows_affected == 0 {
        return Err(AppError::Conflict("invalid_transition", "该记录已移出名录".into()));
    }
    abnormal_listing::Entity::find_by_id(id).one(&ctx.db).await?.ok_or(AppError::NotFound("listing"))
}

/// Listings of the organizations under a region (`current`: only those still on the
/// list), newest first, with each organization's name. For the officials over it.
pub async fn in_region(
    ctx: &AppContext,
    user: &AuthUser,
    region_id: i64,
    current: bool,
) -> AppResult<Vec<(abnormal_listing::Model, String)>> {
    let r = region::Entity::find_by_id(region_id).one(&ctx.db).await?.ok_or(AppError::NotFound("region"))?;
    if !user.is_system_admin()
        && !holds_region_role(user, &[Role::Committee, Role::Street, Role::CivilAffairs], &r.path)
    {
        return Err(AppError::Forbidden("requires an official over the region"));
    }
    let orgs: HashMap<i64, String> = organization::Entity::find()
        .filter(organization::Column::CommunityId.in_subquery(regions_under(&[r.path])))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    let mut q = abnormal_listing::Entity::find()
        .filter(abnormal_listing::Column::OrganizationId.is_in(orgs.keys().copied().collect::<Vec<_>>()));
    if current {
        q = q.filter(abnormal_listing::Column::ClearedAt.is_null());
    }
    Ok(q.order_by_desc(abnormal_listing::Column::Id)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|l| {
            let name = orgs.get(&l.organization_id).cloned().unwrap_or_default();
            (l, name)
        })
        .collect())
}

/// The listings of one organization still on the list (for its profile).
pub async fn current_of(db: &impl ConnectionTrait, org_id: i64) -> AppResult<Vec<abnormal_listing::Model>> {
    Ok(abnormal_listing::Entity::find()
        .filter(abnormal_listing::Column::OrganizationId.eq(org_id))
        .filter(abnormal_listing::Column::ClearedAt.is_null())
        .order_by_asc(abnormal_listing::Column::ListedAt)
        .all(db)
        .await?)
}
