//! Signed download links: one call returns a URL valid for a few minutes that opens a
//! file without an `Authorization` header — from a PC's browser, or forwarded. The link
//! names its user; opening it loads that user as they are now and runs the file's own
//! permission check again, so a revoked role or a signed-out account closes it.

use chrono::{DateTime, Duration, Utc};
use sea_orm::EntityTrait;

use crate::{
    auth::{AuthUser, scope::require_region_official},
    context::AppContext,
    domain::download::{DownloadKind, FileFormat, LinkClaims, LinkError},
    entity::{activity, user},
    error::{AppError, AppResult},
    service::{activities::require_roster_view, reports::require_organization_figures},
};

/// How long a link opens.
pub const LINK_TTL_SECONDS: i64 = 300;

fn key(ctx: &AppContext) -> Vec<u8> {
    format!("{}:download", ctx.config.jwt_secret.expose()).into_bytes()
}

/// What a link is asked for.
pub struct LinkRequest {
    pub kind: DownloadKind,
    pub id: i64,
    pub format: FileFormat,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// A link made: the query of `GET /downloads/file` and its expiry.
pub struct Link {
    pub query: String,
    pub expires_at: DateTime<Utc>,
}

/// The permission the file itself checks, run before a link is made so nobody gets a
/// link that could never open.
pub async fn authorize(ctx: &AppContext, user: &AuthUser, kind: DownloadKind, id: i64) -> AppResult<()> {
    match kind {
        DownloadKind::RegionMetrics => require_region_official(&ctx.db, user, id).await,
        DownloadKind::ParticipationRecord if id == user.id => Ok(()),
        DownloadKind::ParticipationRecord => Err(AppError::Forbidden("outside your scope")),
        DownloadKind::ActivityRoster => {
            let a = activity::Entity::find_by_id(id).one(&ctx.db).await?.ok_or(AppError::NotFound("activity"))?;
            require_roster_view(&ctx.db, user, &a).await
        }
        DownloadKind::OrganizationMetrics => require_organization_figures(ctx, user, id).await.map(|_| ()),
    }
}

/// `POST /downloads`: checks the caller may have the file, then signs a link to it.
pub async fn create(ctx: &AppContext, user: &AuthUser, req: LinkRequest) -> AppResult<Link> {
    authorize(ctx, user, req.kind, req.id).await?;
    let version = user::Entity::find_by_id(user.id).one(&ctx.db).await?.ok_or(AppError::InvalidToken)?.token_version;
    let expires_at = ctx.now() + Duration::seconds(LINK_TTL_SECONDS);
    let claims = LinkClaims {
        user_id: user.id,
        token_version: version,
        kind: req.kind,
        id: req.id,
        format: req.format,
        from: req.from,
        to: req.to,
        expires: expires_at.timestamp(),
    };
    let sig = claims.sign(&key(ctx));
    let mut query = format!(
        "user={}&tv={}&kind={}&id={}&format={}",
        claims.user_id,
        claims.token_version,
        claims.kind.as_str(),
        claims.id,
        claims.format.as_str()
    );
    for (name, value) in [("from", &claims.from), ("to", &claims.to)] {
        if let Some(v) = value {
            query.push_str(&format!("&{name}={}", percent_encode(v)));
        }
    }
    query.push_str(&format!("&expires={}&sig={sig}", claims.expires));
    Ok(Link { query, expires_at })
}

/// Opens a link: the signature (403 `link_invalid`), the expiry (410 `link_expired`),
/// then the user it names as they are now (403 `link_invalid` when they signed out
/// everywhere or deleted the account). The caller then builds the file as that user,
/// through the file's own permission check.
pub async fn open(ctx: &AppContext, claims: &LinkClaims, signature: &str) -> AppResult<AuthUser> {
    claims.verify(&key(ctx), signature, ctx.now()).map_err(|e| match e {
        LinkError::Invalid => AppError::LinkInvalid,
        LinkError::Expired => AppError::Gone("link_expired", "下载链接已过期，请重新获取".into()),
    })?;
    AuthUser::load(ctx, claims.user_id, claims.token_version).await.map_err(|e| match e {
        AppError::InvalidToken => AppError::LinkInvalid,
        other => other,
    })
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_percent_encoded() {
        assert_eq!(percent_encode("2026-01-01T00:00:00+08:00"), "2026-01-01T00%3A00%3A00%2B08%3A00");
    }
}
