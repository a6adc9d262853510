//! `AuthUser`: the signed-in caller, with the roles they hold right now.

use std::{future::Future, pin::Pin};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, http::header, web};
use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, Query},
};

use crate::{
    context::AppContext,
    domain::role::Role,
    entity::{role_grant, user},
    error::AppError,
};

/// One role the caller holds, with its scope (a region or an organization id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    pub role: Role,
    pub scope_id: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct AuthUser {
    pub id: i64,
    pub home_community_id: Option<i64>,
    pub grants: Vec<Grant>,
}

impl AuthUser {
    pub fn is_system_admin(&self) -> bool {
        self.grants.iter().any(|g| g.role == Role::SystemAdmin)
    }

    pub fn grants_of(&self, role: Role) -> impl Iterator<Item = &Grant> {
        self.grants.iter().filter(move |g| g.role == role)
    }

    /// Leads organization `org_id` (`org_leader` on it).
    pub fn leads(&self, org_id: i64) -> bool {
        self.grants_of(Role::OrgLeader).any(|g| g.scope_id == Some(org_id))
    }

    /// Works for organization `org_id`: its leader or staff.
    pub fn works_for(&self, org_id: i64) -> bool {
        self.grants.iter().any(|g| matches!(g.role, Role::OrgLeader | Role::OrgStaff) && g.scope_id == Some(org_id))
    }

    /// Loads the caller behind a bearer token: the token must verify, the user must
    /// exist and not be deleted, and the token's version must be the user's current one.
    /// One query: the user with their grants (a row per grant, or one without).
    pub async fn from_token(ctx: &AppContext, token: &str) -> Result<Self, AppError> {
        let (user_id, version) = ctx.jwt.verify(token, ctx.now())?;
        Self::load(ctx, user_id, version).await
    }

    /// [`from_token`](Self::from_token) for a request: the rate limiter verified the same
    /// token moments ago ([`VerifiedBearer`]), so its claims are used as they are — one
    /// signature check per request, not two.
    async fn from_request_token(
        ctx: &AppContext,
        token: &str,
        verified: Option<VerifiedBearer>,
    ) -> Result<Self, AppError> {
        match verified {
            Some(v) if v.token == token => Self::load(ctx, v.user_id, v.version).await,
            _ => Self::from_token(ctx, token).await,
        }
    }

    /// The user `user_id` with their grants now, if they exist, are not deleted and their
    /// token version is still `version` (else `InvalidToken`).
    pub async fn load(ctx: &AppContext, user_id: i64, version: i32) -> Result<Self, AppError> {
        let query = Query::select()
            .columns(
                [user::Column::HomeCommunityId, user::Column::TokenVersion, user::Column::DeletedAt]
                    .map(|c| (user::Entity, c)),
            )
            .columns([role_grant::Column::Role, role_grant::Column::ScopeId].map(|c| (role_grant::Entity, c)))
            .from(user::Entity)
            .left_join(
                role_grant::Entity,
                Expr::col((role_grant::Entity, role_grant::Column::UserId)).equals((user::Entity, user::Column::Id)),
            )
            .and_where(Expr::col((user::Entity, user::Column::Id)).eq(user_id))
            .to_owned();
        let rows = ctx.db.query_all_raw(ctx.db.get_database_backend().build(&query)).await?;
        let Some(first) = rows.first() else { return Err(AppError::InvalidToken) };
        let deleted: Option<DateTime<Utc>> = first.try_get("", "deleted_at")?;
        let token_version: i32 = first.try_get("", "token_version")?;
        if deleted.is_some() || token_version != version {
            return Err(AppError::InvalidToken);
        }
        let mut grants = Vec::new();
        for row in &rows {
            let role: Option<String> = row.try_get("", "role")?;
            if let Some(role) = role.as_deref().and_then(Role::parse) {
                grants.push(Grant { role, scope_id: row.try_get("", "scope_id")? });
            }
        }
        Ok(AuthUser { id: user_id, home_community_id: first.try_get("", "home_community_id")?, grants })
    }
}

fn bearer(req: &HttpRequest) -> Result<Option<String>, AppError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| AppError::InvalidToken)?;
    let (scheme, token) = value.split_once(' ').ok_or(AppError::InvalidToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AppError::InvalidToken);
    }
    Ok(Some(token.trim().to_owned()))
}

/// A bearer token the rate limiter verified for this request, kept in the request's
/// extensions for the extractors: the token as sent, its user id and token version.
#[derive(Clone, Debug)]
pub struct VerifiedBearer {
    pub token: String,
    pub user_id: i64,
    pub version: i32,
}

fn verified(req: &HttpRequest) -> Option<VerifiedBearer> {
    req.extensions().get::<VerifiedBearer>().cloned()
}

fn context(req: &HttpRequest) -> Result<web::Data<AppContext>, AppError> {
    req.app_data::<web::Data<AppContext>>()
        .cloned()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("AppContext missing from app data")))
}

impl FromRequest for AuthUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = bearer(req).and_then(|t| Ok((t, context(req)?)));
        let checked = verified(req);
        Box::pin(async move {
            let (token, ctx) = found?;
            let token = token.ok_or(AppError::Unauthenticated)?;
            AuthUser::from_request_token(&ctx, &token, checked).await
        })
    }
}

/// The caller when signed in, `None` when no token is sent. A token that is sent but
/// invalid is still refused, so the client knows to refresh it.
#[derive(Clone, Debug)]
pub struct MaybeAuthUser(pub Option<AuthUser>);

impl FromRequest for MaybeAuthUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = bearer(req).and_then(|t| Ok((t, context(req)?)));
        let checked = verified(req);
        Box::pin(async move {
            match found? {
                (None, _) => Ok(MaybeAuthUser(None)),
                (Some(token), ctx) => {
                    Ok(MaybeAuthUser(Some(AuthUser::from_request_token(&ctx, &token, checked).await?)))
                }
            }
        })
    }
}
