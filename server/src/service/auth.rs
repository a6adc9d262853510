//! Sign-in with WeChat, refresh-token rotation with reuse detection, logout.

use chrono::{DateTime, Utc};
use rand::Rng;
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait},
};
use sha2::{Digest, Sha256};

use crate::{
    context::AppContext,
    entity::{refresh_token, user},
    error::{AppError, AppResult},
    service::begin_write,
};

/// What a successful sign-in or refresh hands the client.
#[derive(Debug)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
    pub user_id: i64,
}

/// Checks the shape of a `wx.login` code before WeChat is asked.
pub fn parse_login_code(code: &str) -> AppResult<&str> {
    let code = code.trim();
    if code.is_empty() || code.len() > 128 || !code.chars().all(|c| c.is_ascii_graphic()) {
        return Err(AppError::invalid("code", "invalid", "code 须为 wx.login 返回的登录码（1–128 个可见 ASCII 字符）"));
    }
    Ok(code)
}

/// `POST /auth/wechat/login`: exchanges a `wx.login` code for a Linli session, creating
/// the user on first sign-in.
pub async fn login(ctx: &AppContext, code: &str) -> AppResult<Tokens> {
    let code = parse_login_code(code)?;
    let session = ctx.wechat.code2session(code).await?;
    let user = find_or_create_user(&ctx.db, &session.openid, session.unionid.as_deref(), ctx.now()).await?;
    let txn = begin_write(&ctx.db).await?;
    let tokens = issue(ctx, &txn, &user, new_family()).await?;
    txn.commit().await?;
    tracing::info!(user_id = user.id, "signed in");
    Ok(tokens)
}

/// Finds the live user with this openid, or creates one. Two first sign-ins racing for
/// the same openid both end with the one row the unique index allows.
pub async fn find_or_create_user(
    db: &impl ConnectionTrait,
    openid: &str,
    unionid: Option<&str>,
    now: DateTime<Utc>,
) -> AppResult<user::Model> {
    user::Entity::insert(user::ActiveModel {
        openid: Set(Some(openid.to_owned())),
        unionid: Set(unionid.map(str::to_owned)),
        token_version: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict_do_nothing_on([user::Column::Openid])
    .exec_without_returning(db)
    .await?;
    user::Entity::find()
        .filter(user::Column::Openid.eq(openid))
        .one(db)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("user vanished after upsert")))
}

/// `POST /auth/refresh`: a refresh token is good once. Presenting a used one again means
/// it leaked, so its whole family (every token descended from that sign-in) is revoked,
/// and the user's token version is bumped so no access token of that sign-in outlives it.
pub async fn refresh(ctx: &AppContext, presented: &str) -> AppResult<Tokens> {
    let now = ctx.now();
    let hash = hash_token(presented);
    let txn = begin_write(&ctx.db).await?;
    let Some(row) = refresh_token::Entity::find().filter(refresh_token::Column::TokenHash.eq(&hash)).one(&txn).await?
    else {
        return Err(AppError::InvalidRefreshToken);
    };
    if row.revoked_at.is_some() || row.expires_at <= now {
        return Err(AppError::InvalidRefreshToken);
    }
    // Claim it: only one caller can move used_at from NULL.
    let claimed = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(row.id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    if claimed == 0 {
        // As logout does: the family's refresh tokens and every access token in
        // circulation (the one minted from the leaked token included) stop working now.
        revoke_family(&txn, &row.family, now).await?;
        bump_token_version(&txn, row.user_id, now).await?;
        txn.commit().await?;
        tracing::warn!(user_id = row.user_id, "refresh token reused: family and access tokens revoked");
        return Err(AppError::RefreshTokenReused);
    }
    let user = user::Entity::find_by_id(row.user_id)
        .one(&txn)
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or(AppError::InvalidRefreshToken)?;
    let tokens = issue(ctx, &txn, &user, row.family).await?;
    txn.commit().await?;
    Ok(tokens)
}

/// `POST /auth/logout`: revokes the presented refresh token's family and bumps the
/// user's token version, so every access token in circulation stops working now.
/// Other devices keep their refresh tokens and quietly get new access tokens.
pub async fn logout(ctx: &AppContext, user_id: i64, presented: Option<&str>) -> AppResult<()> {
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    if let Some(presented) = presented {
        let row = refresh_token::Entity::find()
            .filter(refresh_token::Column::TokenHash.eq(hash_token(presented)))
            .filter(refresh_token::Column::UserId.eq(user_id))
            .one(&txn)
            .await?;
        if let Some(row) = row {
            revoke_family(&txn, &row.family, now).await?;
        }
    }
    bump_token_version(&txn, user_id, now).await?;
    txn.commit().await?;
    Ok(())
}

pub async fn bump_token_version(db: &impl ConnectionTrait, user_id: i64, now: DateTime<Utc>) -> AppResult<()> {
    user::Entity::update_many()
        .col_expr(user::Column::TokenVersion, Expr::col(user::Column::TokenVersion).add(1))
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::Id.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

async fn revoke_family(db: &impl ConnectionTrait, family: &str, now: DateTime<Utc>) -> AppResult<()> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::Family.eq(family))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

async fn issue(ctx: &AppContext, db: &impl ConnectionTrait, user: &user::Model, family: String) -> AppResult<Tokens> {
    let now = ctx.now();
    let refresh = random_token();
    let ttl = chrono::Duration::from_std(ctx.config.refresh_token_ttl)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("refresh ttl: {e}")))?;
    refresh_token::Entity::insert(refresh_token::ActiveModel {
        user_id: Set(user.id),
        family: Set(family),
        token_hash: Set(hash_token(&refresh)),
        expires_at: Set(now + ttl),
        created_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;
    Ok(Tokens {
        access_token: ctx.jwt.issue(user.id, user.token_version, now)?,
        refresh_token: refresh,
        expires_in: ctx.jwt.ttl.as_secs(),
        user_id: user.id,
    })
}

/// Deletes refresh tokens that expired more than a day ago (run by the scheduler).
pub async fn purge_expired_refresh_tokens(ctx: &AppContext) -> AppResult<u64> {
    let cutoff = ctx.now() - chrono::Duration::days(1);
    Ok(refresh_token::Entity::delete_many()
        .filter(refresh_token::Column::ExpiresAt.lt(cutoff))
        .exec(&ctx.db)
        .await?
        .rows_affected)
}

/// 32 random bytes as hex (64 characters).
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    hex::encode(bytes)
}

fn new_family() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    hex::encode(bytes)
}

/// Refresh tokens are stored only as their SHA-256.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_codes_are_checked_before_wechat_is_asked() {
        assert!(parse_login_code("081aBc").is_ok());
        assert!(parse_login_code("").is_err());
        assert!(parse_login_code("   ").is_err());
        assert!(parse_login_code("含中文").is_err());
        assert!(parse_login_code(&"x".repeat(129)).is_err());
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = random_token();
        assert_eq!(a.len(), 64);
        assert_ne!(a, random_token());
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), a);
    }
}
