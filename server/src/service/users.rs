//! The signed-in user's own profile, and deleting an account.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Expr,
};

use crate::{
    context::AppContext,
    entity::{organization_follow, refresh_token, region, role_grant, subscription_quota, user},
    error::{AppError, AppResult},
    service::{activities, auth::bump_token_version, begin_write, notifications, organizations},
};

pub struct Me {
    pub user: user::Model,
    pub grants: Vec<role_grant::Model>,
    pub home_community: Option<region::Model>,
}

pub async fn me(ctx: &AppContext, user_id: i64) -> AppResult<Me> {
    let user = user::Entity::find_by_id(user_id)
        .one(&ctx.db)
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or(AppError::NotFound("user"))?;
    let grants = role_grant::Entity::find()
        .filter(role_grant::Column::UserId.eq(user_id))
        .order_by_asc(role_grant::Column::Id)
        .all(&ctx.db)
        .await?;
    let home_community = match user.home_community_id {
        Some(id) => region::Entity::find_by_id(id).one(&ctx.db).await?,
        None => None,
    };
    Ok(Me { user, grants, home_community })
}

/// A profile change; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ProfilePatch {
    pub nickname: Option<String>,
    pub avatar_url: Option<String>,
    pub home_community_id: Option<i64>,
}

pub async fn update_me(ctx: &AppContext, user_id: i64, patch: ProfilePatch) -> AppResult<Me> {
    if let Some(id) = patch.home_community_id {
        let community = region::Entity::find_by_id(id).one(&ctx.db).await?;
        match community {
            Some(r) if r.level == "community" => crate::service::regions::require_current(&r, "home_community_id")?,
            Some(_) => {
                return Err(AppError::invalid(
                    "home_community_id",
                    "not_a_community",
                    "所选地区不是社区或村，请选择社区/村一级",
                ));
            }
            None => {
                return Err(AppError::invalid("home_community_id", "not_found", "所选社区不存在"));
            }
        }
    }
    // One transaction with the user's row locked, so a change of home and the
    // communities' resident sets move together (`community_residents::moved`).
    let txn = begin_write(&ctx.db).await?;
    let current = user::Entity::find_by_id(user_id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or(AppError::NotFound("user"))?;
    let home_before = current.home_community_id;
    let mut active = current.into_active_model();
    if let Some(nickname) = patch.nickname {
        active.nickname = Set(Some(nickname));
    }
    if let Some(avatar_url) = patch.avatar_url {
        active.avatar_url = Set(Some(avatar_url));
    }
    if let Some(id) = patch.home_community_id {
        active.home_community_id = Set(Some(id));
    }
    active.updated_at = Set(ctx.now());
    active.update(&txn).await?;
    if let Some(home) = patch.home_community_id {
        crate::service::community_residents::moved(&txn, user_id, home_before, Some(home)).await?;
    }
    txn.commit().await?;
    me(ctx, user_id).await
}

/// Deletes the account. Everything the person holds ends: upcoming confirmed and
/// waitlisted sign-ups are cancelled through the normal path (places go to the waitlist,
/// whose residents are told), pending notices are withdrawn, subscription quotas, follows,
/// roles and tokens go, and open filing applications are withdrawn with the contact they
/// typed erased. The row stays as an anonymous id, so past sign-ups, attendance and hours
/// still count in the figures without personal data.
///
/// Errors: 404 `not_found` (already deleted); 409 `sole_leader` when the person is the
/// only leader of an organization — leadership is handed on first
/// (`POST /organizations/{id}/leader`), so no organization is left leaderless.
pub async fn delete_me(ctx: &AppContext, user_id: i64) -> AppResult<()> {
    delete_account(ctx, user_id, None).await
}

/// Blanks an account's identity and personal data (openid, unionid, nickname, avatar,
/// phone, home community) and marks it deleted; its history stays for the counts. What
/// erasing a resident (`DELETE /me`) and retiring an account claimed by an offline record
/// both do. `false` when it was already gone.
pub(crate) async fn blank_identity(
    db: &impl sea_orm::ConnectionTrait,
    user_id: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<bool> {
    let home = crate::service::community_residents::lock_home(db, user_id).await?;
    let blanked = user::Entity::update_many()
        .col_expr(user::Column::Openid, Expr::value(Option::<String>::None))
        .col_expr(user::Column::Unionid, Expr::value(Option::<String>::None))
        .col_expr(user::Column::Nickname, Expr::value(Option::<String>::None))
        .col_expr(user::Column::AvatarUrl, Expr::value(Option::<String>::None))
        .col_expr(user::Column::Phone, Expr::value(Option::<String>::None))
        .col_expr(user::Column::HomeCommunityId, Expr::value(Option::<i64>::None))
        .col_expr(user::Column::DeletedAt, Expr::value(now))
        .filter(user::Column::Id.eq(user_id))
        .filter(user::Column::DeletedAt.is_null())
        .exec(db)
        .await?
        .rows_affected
        > 0;
    if blanked {
        crate::service::community_residents::moved(db, user_id, home, None).await?;
    }
    Ok(blanked)
}

/// [`delete_me`], or (`by`: the committee member) an offline resident erased on request.
pub(crate) async fn delete_account(ctx: &AppContext, user_id: i64, by: Option<i64>) -> AppResult<()> {
    crate::service::retrying(|| delete_me_once(ctx, user_id, by)).await
}

async fn delete_me_once(ctx: &AppContext, user_id: i64, by: Option<i64>) -> AppResult<()> {
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let sole = organizations::solely_led_by(&txn, user_id).await?;
    if let Some(org) = sole.first() {
        return Err(AppError::Conflict(
            "sole_leader",
            format!("您是「{}」唯一的负责人，请先在组织页面把负责人移交给他人，再注销账号", org.name),
        ));
    }
    if !blank_identity(&txn, user_id, now).await? {
        return Err(AppError::NotFound("user"));
    }
    let released = activities::erase_signups(ctx, &txn, user_id).await?;
    notifications::withdraw_all(&txn, user_id).await?;
    subscription_quota::Entity::delete_many().filter(subscription_quota::Column::UserId.eq(user_id)).exec(&txn).await?;
    organization_follow::Entity::delete_many()
        .filter(organization_follow::Column::UserId.eq(user_id))
        .exec(&txn)
        .await?;
    organizations::erase_applicant(&txn, user_id, now).await?;
    crate::service::calendar::remove_for(&txn, user_id).await?;
    crate::service::proxies::forget(&txn, user_id, by, now).await?;
    bump_token_version(&txn, user_id, now).await?;
    role_grant::Entity::delete_many().filter(role_grant::Column::UserId.eq(user_id)).exec(&txn).await?;
    refresh_token::Entity::delete_many().filter(refresh_token::Column::UserId.eq(user_id)).exec(&txn).await?;
    txn.commit().await?;
    tracing::info!(user_id, released, "account deleted");
    Ok(())
}

pub async fn set_phone(ctx: &AppContext, user_id: i64, phone: &str) -> AppResult<()> {
    user::Entity::update_many()
        .col_expr(user::Column::Phone, Expr::value(phone))
        .col_expr(user::Column::UpdatedAt, Expr::value(ctx.now()))
        .filter(user::Column::Id.eq(user_id))
        .exec(&ctx.db)
        .await?;
    Ok(())
}
