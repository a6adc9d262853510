//! Sign-in to the web console by scan (扫码登录) and console sessions.
//!
//! 1. The browser asks for a ticket ([`create_ticket`]): a public code for the QR and a
//!    browser secret kept in a cookie, so only that browser may collect the session.
//! 2. The signed-in mini-program sees which browser asks ([`inspect`]) and approves
//!    ([`approve`]) within [`ticket_ttl`] (2 minutes), once.
//! 3. The browser polls ([`poll`]); the first poll after approval turns the ticket into a
//!    session (once) and hands back the session's token for the cookie.
//!
//! A session ([`load`]) holds while it is unexpired and unrevoked, the user's token
//! version is the one it was made with (logout everywhere bumps it, as for access
//! tokens) and the user's grants are the ones they had (a role change ends it).

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};

use crate::{
    auth::AuthUser,
    context::AppContext,
    domain::console::{browser_summary, grants_digest, ticket_ttl},
    entity::{console_session, console_ticket, user},
    error::{AppError, AppResult},
    service::auth::{find_or_create_user, hash_token, random_token},
};

/// A ticket just made: `ticket` goes into the QR, `browser_secret` into the browser's
/// cookie (never shown).
#[derive(Debug)]
pub struct NewTicket {
    pub ticket: String,
    pub browser_secret: String,
    pub expires_at: DateTime<Utc>,
}

/// Where a ticket stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TicketStatus {
    /// Shown, not yet approved, not expired.
    Waiting,
    /// Approved by a mini-program, not yet collected by the browser.
    Approved,
    /// Turned into a session.
    Used,
    /// Not approved within 2 minutes.
    Expired,
}

impl TicketStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::Waiting => "waiting",
            TicketStatus::Approved => "approved",
            TicketStatus::Used => "used",
            TicketStatus::Expired => "expired",
        }
    }

    /// A ticket works for its 2 minutes, approved or not: an approval the browser has not
    /// collected in time is gone with the ticket.
    fn of(t: &console_ticket::Model, now: DateTime<Utc>) -> Self {
        if t.consumed_at.is_some() {
            TicketStatus::Used
        } else if t.expires_at <= now {
            TicketStatus::Expired
        } else if t.approved_at.is_some() {
            TicketStatus::Approved
        } else {
            TicketStatus::Waiting
        }
    }
}

/// What the phone is shown before approving: which browser, from where, when.
#[derive(Clone, Debug)]
pub struct TicketView {
    pub status: TicketStatus,
    /// `Chrome 131 · Windows` (see `domain::console::browser_summary`).
    pub browser: String,
    /// The browser's address as the server saw it.
    pub ip: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Keeps a header value to what the column holds (characters, not bytes).
fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Makes a ticket for the browser with this `User-Agent` at this address.
pub async fn create_ticket(ctx: &AppContext, user_agent: &str, ip: &str) -> AppResult<NewTicket> {
    let now = ctx.now();
    let ticket = random_token()[..32].to_owned();
    let browser_secret = random_token();
    let expires_at = now + ticket_ttl();
    console_ticket::Entity::insert(console_ticket::ActiveModel {
        ticket: Set(ticket.clone()),
        browser_hash: Set(hash_token(&browser_secret)),
        user_agent: Set(clip(user_agent, 400)),
        ip: Set(clip(ip, 64)),
        created_at: Set(now),
        expires_at: Set(expires_at),
        ..Default::default()
    })
    .exec_without_returning(&ctx.db)
    .await?;
    Ok(NewTicket { ticket, browser_secret, expires_at })
}

async fn find_ticket(ctx: &AppContext, ticket: &str) -> AppResult<console_ticket::Model> {
    if ticket.len() != 32 || !ticket.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(AppError::NotFound("ticket"));
    }
    console_ticket::Entity::find()
        .filter(console_ticket::Column::Ticket.eq(ticket))
        .one(&ctx.db)
        .await?
        .ok_or(AppError::NotFound("ticket"))
}

/// `GET /console/tickets/{ticket}`: what the phone shows before the user approves. Any
/// signed-in user may look (they hold the QR in front of them).
pub async fn inspect(ctx: &AppContext, _user: &AuthUser, ticket: &str) -> AppResult<TicketView> {
    let t = find_ticket(ctx, ticket).await?;
    Ok(TicketView {
        status: TicketStatus::of(&t, ctx.now()),
        browser: browser_summary(&t.user_agent),
        ip: t.ip,
        created_at: t.created_at,
        expires_at: t.expires_at,
    })
}

/// `POST /console/tickets/{ticket}/approve`: the signed-in user lets the browser in as
/// themselves. Once, within 2 minutes: `410 ticket_expired` after, `409 ticket_used` for
/// a second approval. Whether the user may use the console is decided by each page.
pub async fn approve(ctx: &AppContext, user: &AuthUser, ticket: &str) -> AppResult<TicketView> {
    let t = find_ticket(ctx, ticket).await?;
    let now = ctx.now();
    // One conditional update settles two phones racing for the same ticket.
    let done = console_ticket::Entity::update_many()
        .col_expr(console_ticket::Column::ApprovedBy, Expr::value(user.id))
        .col_expr(console_ticket::Column::ApprovedAt, Expr::value(now))
        .filter(console_ticket::Column::Id.eq(t.id))
        .filter(console_ticket::Column::ApprovedAt.is_null())
        .filter(console_ticket::Column::ExpiresAt.gt(now))
        .exec(&ctx.db)
        .await?;
    if done.rows_affected == 0 {
        return Err(match TicketStatus::of(&t, now) {
            TicketStatus::Expired => AppError::Gone("ticket_expired", "二维码已过期，请在电脑上刷新后重新扫码".into()),
            _ => AppError::Conflict("ticket_used", "该二维码已被确认过".into()),
        });
    }
    tracing::info!(ticket_id = t.id, user_id = user.id, "console ticket approved");
    inspect(ctx, user, ticket).await
}

/// What a poll found.
#[derive(Debug)]
pub enum Poll {
    Waiting,
    Expired,
    /// The session just made: its token goes into the cookie, once.
    SignedIn {
        token: String,
    },
}

/// The browser that asked for `ticket` (holding `browser_secret`) asks whether it was
/// approved. The first poll after approval makes the session; later polls find the
/// ticket used (`409 ticket_used`), as does another browser (`404`).
pub async fn poll(ctx: &AppContext, ticket: &str, browser_secret: &str) -> AppResult<Poll> {
    let t = find_ticket(ctx, ticket).await?;
    if t.browser_hash != hash_token(browser_secret) {
        return Err(AppError::NotFound("ticket"));
    }
    let now = ctx.now();
    match TicketStatus::of(&t, now) {
        TicketStatus::Waiting => return Ok(Poll::Waiting),
        TicketStatus::Expired => return Ok(Poll::Expired),
        TicketStatus::Used => return Err(AppError::Conflict("ticket_used", "该二维码已使用".into())),
        TicketStatus::Approved => {}
    }
    let Some(user_id) = t.approved_by else { return Ok(Poll::Waiting) };
    let taken = console_ticket::Entity::update_many()
        .col_expr(console_ticket::Column::ConsumedAt, Expr::value(now))
        .filter(console_ticket::Column::Id.eq(t.id))
        .filter(console_ticket::Column::ConsumedAt.is_null())
        .filter(console_ticket::Column::ExpiresAt.gt(now))
        .exec(&ctx.db)
        .await?;
    if taken.rows_affected == 0 {
        return Err(AppError::Conflict("ticket_used", "该二维码已使用".into()));
    }
    let token = open_session(ctx, user_id, &t.user_agent, &t.ip).await?;
    Ok(Poll::SignedIn { token })
}

/// Dev mode only (no WeChat credentials): signs the browser holding `ticket` in as the
/// user with this openid, as dev login does (`POST /auth/wechat/login` with the openid
/// as the code), through the same approval and collection as a scan.
pub async fn dev_sign_in(ctx: &AppContext, openid: &str, ticket: &str, browser_secret: &str) -> AppResult<Poll> {
    if !ctx.wechat.is_dev() {
        return Err(AppError::NotFound("resource"));
    }
    let code = crate::service::auth::parse_login_code(openid)?;
    let session = ctx.wechat.code2session(code).await?;
    let u = find_or_create_user(&ctx.db, &session.openid, session.unionid.as_deref(), ctx.now()).await?;
    let t = find_ticket(ctx, ticket).await?;
    if t.browser_hash != hash_token(browser_secret) {
        return Err(AppError::NotFound("ticket"));
    }
    let user = AuthUser::load(ctx, u.id, u.token_version).await?;
    approve(ctx, &user, ticket).await?;
    poll(ctx, ticket, browser_secret).await
}

async fn open_session(ctx: &AppContext, user_id: i64, user_agent: &str, ip: &str) -> AppResult<String> {
    let now = ctx.now();
    let u = user::Entity::find_by_id(user_id).one(&ctx.db).await?.ok_or(AppError::InvalidToken)?;
    let user = AuthUser::load(ctx, user_id, u.token_version).await?;
    let token = random_token();
    let ttl = chrono::Duration::from_std(ctx.config.console_session_ttl)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("console session ttl: {e}")))?;
    console_session::Entity::insert(console_session::ActiveModel {
        token_hash: Set(hash_token(&token)),
        csrf: Set(random_token()),
        user_id: Set(user_id),
        token_version: Set(u.token_version),
        grants_digest: Set(grants_digest(&user.grants)),
        user_agent: Set(clip(user_agent, 400)),
        ip: Set(clip(ip, 64)),
        created_at: Set(now),
        expires_at: Set(now + ttl),
        ..Default::default()
    })
    .exec_without_returning(&ctx.db)
    .await?;
    tracing::info!(user_id, "console session opened");
    Ok(token)
}

/// A console session in use: the user as the API sees them, and the session's CSRF token.
#[derive(Clone, Debug)]
pub struct ConsoleSession {
    pub id: i64,
    pub user: AuthUser,
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

/// The session behind a cookie's token, if it still holds (see the module's rules).
/// Otherwise `Unauthenticated`; a session ended by a role change is revoked on the way.
pub async fn load(ctx: &AppContext, token: &str) -> AppResult<ConsoleSession> {
    let now = ctx.now();
    let s = console_session::Entity::find()
        .filter(console_session::Column::TokenHash.eq(hash_token(token)))
        .one(&ctx.db)
        .await?
        .filter(|s| s.revoked_at.is_none() && s.expires_at > now)
        .ok_or(AppError::Unauthenticated)?;
    let user = match AuthUser::load(ctx, s.user_id, s.token_version).await {
        Ok(user) => user,
        Err(AppError::InvalidToken) => return Err(AppError::Unauthenticated),
        Err(e) => return Err(e),
    };
    if grants_digest(&user.grants) != s.grants_digest {
        revoke(ctx, s.id).await?;
        tracing::info!(user_id = s.user_id, "console session ended by a role change");
        return Err(AppError::Unauthenticated);
    }
    Ok(ConsoleSession { id: s.id, user, csrf: s.csrf, expires_at: s.expires_at })
}

/// Sign-out (退出): ends this session.
pub async fn revoke(ctx: &AppContext, session_id: i64) -> AppResult<()> {
    console_session::Entity::update_many()
        .col_expr(console_session::Column::RevokedAt, Expr::value(ctx.now()))
        .filter(console_session::Column::Id.eq(session_id))
        .filter(console_session::Column::RevokedAt.is_null())
        .exec(&ctx.db)
        .await?;
    Ok(())
}

/// Deletes tickets that expired more than a day ago and sessions ended more than a day
/// ago (run by the scheduler). Returns how many rows went.
pub async fn purge(ctx: &AppContext) -> AppResult<u64> {
    let cutoff = ctx.now() - chrono::Duration::days(1);
    let tickets = console_ticket::Entity::delete_many()
        .filter(console_ticket::Column::ExpiresAt.lt(cutoff))
        .exec(&ctx.db)
        .await?;
    let sessions = console_session::Entity::delete_many()
        .filter(
            sea_orm::Condition::any()
                .add(console_session::Column::ExpiresAt.lt(cutoff))
                .add(console_session::Column::RevokedAt.lt(cutoff)),
        )
        .exec(&ctx.db)
        .await?;
    Ok(tickets.rows_affected + sessions.rows_affected)
}
