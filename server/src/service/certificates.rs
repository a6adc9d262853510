//! Staff's social-work certificates: recorded by the organization for one of its staff,
//! verified (or rejected, with a reason) by the street office over it; the share of staff
//! with a verified one is a figure of the region's metrics.

use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, sea_query::Expr};

use crate::{
    auth::{
        AuthUser,
        scope::{holds_region_role, region_path},
    },
    context::AppContext,
    domain::{
        certificate::{CertificateLevel, CertificateStatus},
        role::Role,
    },
    entity::{organization, role_grant, staff_certificate},
    error::{AppError, AppResult},
};

async fn find_org(db: &impl ConnectionTrait, id: i64) -> AppResult<organization::Model> {
    organization::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("organization"))
}

/// The organization's staff record a certificate for one of its staff (themselves or
/// another): it waits for the street office's verification.
pub async fn add(
    ctx: &AppContext,
    user: &AuthUser,
    org_id: i64,
    holder: i64,
    level: CertificateLevel,
    number: String,
    year: i32,
) -> AppResult<staff_certificate::Model> {
    find_org(&ctx.db, org_id).await?;
    if !user.works_for(org_id) {
        return Err(AppError::Forbidden("requires organization staff"));
    }
    let holds = role_grant::Entity::find()
        .filter(role_grant::Column::UserId.eq(holder))
        .filter(role_grant::Column::ScopeId.eq(org_id))
        .filter(role_grant::Column::Role.is_in([Role::OrgStaff.as_str(), Role::OrgLeader.as_str()]))
        .one(&ctx.db)
        .await?;
    if holds.is_none() {
        return Err(AppError::invalid("user_id", "not_staff", "证书持有人须为本组织的负责人或骨干"));
    }
    let id = staff_certificate::Entity::insert(staff_certificate::ActiveModel {
        organization_id: Set(org_id),
        user_id: Set(holder),
        level: Set(level.as_str().to_owned()),
        number: Set(number),
        year: Set(year),
        status: Set(CertificateStatus::Pending.as_str().to_owned()),
        created_at: Set(ctx.now()),
        ..Default::default()
    })
    .exec(&ctx.db)
    .await?
    .last_insert_id;
    staff_certificate::Entity::find_by_id(id).one(&ctx.db).await?.ok_or(AppError::NotFound("certificate"))
}

/// An organization's certificates: for its staff and the officials over it.
pub async fn list(ctx: &AppContext, user: &AuthUser, org_id: i64) -> AppResult<Vec<staff_certificate::Model>> {
    let org = find_org(&ctx.db, org_id).await?;
    if !user.works_for(org_id) && !user.is_system_admin() {
        let path = region_path(&ctx.db, org.community_id).await?;
        if !holds_region_role(user, &[Role::Committee, Role::Street, Role::CivilAffairs], &path) {
            return Err(AppError::Forbidden("requires organization staff or an official over it"));
        }
    }
    Ok(staff_certificate::Entity::find()
        .filter(staff_certificate::Column::OrganizationId.eq(org_id))
        .order_by_asc(staff_certificate::Column::Id)
        .all(&ctx.db)
        .await?)
}

/// The street office over the organization verifies or rejects (with a reason) a
/// pending certificate.
pub async fn verify(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    approve: bool,
    comment: Option<String>,
) -> AppResult<staff_certificate::Model> {
    let c = staff_certificate::Entity::find_by_id(id).one(&ctx.db).await?.ok_or(AppError::NotFound("certificate"))?;
    let org = find_org(&ctx.db, c.organization_id).await?;
    let path = region_path(&ctx.db, org.community_id).await?;
    if !user.is_system_admin() && !holds_region_role(user, &[Role::Street], &path) {
        return Err(AppError::Forbidden("requires the street office over the organization"));
    }
    if !approve && comment.is_none() {
        return Err(AppError::invalid("comment", "required", "不予认定须说明理由"));
    }
    let to = if approve { CertificateStatus::Verified } else { CertificateStatus::Rejected };
    let done = staff_certificate::Entity::update_many()
        .col_expr(staff_certificate::Column::Status, Expr::value(to.as_str()))
        .col_expr(staff_certificate::Column::VerifiedBy, Expr::value(user.id))
        .col_expr(staff_certificate::Column::VerifiedAt, Expr::value(ctx.now()))
        .col_expr(staff_certificate::Column::Comment, Expr::value(comment))
        .filter(staff_certificate::Column::Id.eq(id))
        .filter(staff_certificate::Column::Status.eq(CertificateStatus::Pending.as_str()))
        .exec(&ctx.db)
        .await?;
    if done.rows_affected == 0 {
        return Err(AppError::Conflict("invalid_transition", "该证书已审核".into()));
    }
    staff_certificate::Entity::find_by_id(id).one(&ctx.db).await?.ok_or(AppError::NotFound("certificate"))
}
