//! The notification dispatcher. One step claims a batch of due notices (with a lease,
//! so a crashed replica's claims are picked up again), pushes those whose user has
//! quota through WeChat one openid at a time, and records each outcome. Every notice
//! stays in the inbox whatever happens here.

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, Utc};
use futures_util::{StreamExt, stream};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType},
};

use crate::{
    context::AppContext,
    entity::{activity, notification, user},
    error::AppResult,
    service::{
        activities::display_time,
        begin_write,
        notifications::state,
        subscriptions::{refund, reserve, template_for, zero},
    },
    wechat::{
        SubscribeMessage, WechatError,
        templates::{Keyword, data},
    },
};

/// Transient failures are retried this many times in all.
pub const MAX_ATTEMPTS: i32 = 8;
/// Users sent to at once (each user's notices go one at a time).
const CONCURRENT_USERS: usize = 8;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DispatchReport {
    pub claimed: usize,
    pub sent: usize,
    pub inbox_only: usize,
    pub retried: usize,
    pub failed: usize,
}

/// What became of one notice.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Sent(String),
    InboxOnly(&'static str),
    /// Try again later; the held quota goes back to the user meanwhile.
    Retry(String, Duration, String),
    /// Give up; the held quota goes back to the user.
    Failed(String, Option<String>),
}

/// Claims up to `batch` due notices: pending ones whose time has come, and ones whose
/// lease ran out. `FOR UPDATE SKIP LOCKED` lets replicas claim side by side on
/// PostgreSQL; on SQLite the write transaction makes one claimer at a time.
pub async fn claim(ctx: &AppContext, batch: u64) -> AppResult<Vec<notification::Model>> {
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let due = Condition::any()
        .add(
            Condition::all()
                .add(notification::Column::State.eq(state::PENDING))
                .add(notification::Column::DueAt.lte(now))
                .add(
                    Condition::any()
                        .add(notification::Column::NextAttemptAt.is_null())
                        .add(notification::Column::NextAttemptAt.lte(now)),
                ),
        )
        .add(
            Condition::all()
                .add(notification::Column::State.eq(state::SENDING))
                .add(notification::Column::LeaseUntil.lt(now)),
        );
    let ids: Vec<i64> = notification::Entity::find()
        .select_only()
        .column(notification::Column::Id)
        .filter(due)
        .order_by_asc(notification::Column::DueAt)
        .order_by_asc(notification::Column::Id)
        .limit(batch)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .into_tuple()
        .all(&txn)
        .await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let lease = chrono::Duration::from_std(ctx.config.dispatch_lease).unwrap_or_else(|_| chrono::Duration::seconds(60));
    notification::Entity::update_many()
        .col_expr(notification::Column::State, Expr::value(state::SENDING))
        .col_expr(notification::Column::LeaseUntil, Expr::value(now + lease))
        .col_expr(notification::Column::Attempts, Expr::col(notification::Column::Attempts).add(1))
        .filter(notification::Column::Id.is_in(ids.clone()))
        .exec(&txn)
        .await?;
    let rows = notification::Entity::find().filter(notification::Column::Id.is_in(ids.clone())).all(&txn).await?;
    txn.commit().await?;
    ctx.claimed.lock().unwrap_or_else(|p| p.into_inner()).extend(ids);
    Ok(rows)
}

/// One step: claim a batch and deliver it. Shutdown waits for a running step.
pub async fn dispatch_once(ctx: &AppContext, batch: u64) -> AppResult<DispatchReport> {
    let _running = ctx.dispatching.lock().await;
    let claimed = claim(ctx, batch).await?;
    deliver_all(ctx, claimed).await
}

/// Runs steps until nothing is due (or `max_batches`), for the scheduler.
pub async fn drain(ctx: &AppContext, batch: u64, max_batches: usize) -> AppResult<DispatchReport> {
    let mut total = DispatchReport::default();
    for _ in 0..max_batches {
        let report = dispatch_once(ctx, batch).await?;
        total.claimed += report.claimed;
        total.sent += report.sent;
        total.inbox_only += report.inbox_only;
        total.retried += report.retried;
        total.failed += report.failed;
        if report.claimed < batch as usize {
            break;
        }
    }
    Ok(total)
}

/// Delivers claimed notices: users in parallel, each user's notices in turn (WeChat
/// refuses concurrent sends to one openid).
pub async fn deliver_all(ctx: &AppContext, claimed: Vec<notification::Model>) -> AppResult<DispatchReport> {
    let mut report = DispatchReport { claimed: claimed.len(), ..Default::default() };
    let mut by_user: BTreeMap<i64, Vec<notification::Model>> = BTreeMap::new();
    for n in claimed {
        by_user.entry(n.user_id).or_default().push(n);
    }
    let results: Vec<AppResult<Vec<Outcome>>> = stream::iter(by_user.into_values())
        .map(|notices| async move {
            let mut outcomes = Vec::with_capacity(notices.len());
            for n in notices {
                let outcome = deliver(ctx, &n).await?;
                record(ctx, &n, &outcome).await?;
                outcomes.push(outcome);
            }
            Ok(outcomes)
        })
        .buffer_unordered(CONCURRENT_USERS)
        .collect()
        .await;
    for outcomes in results {
        for outcome in outcomes? {
            let label = match outcome {
                Outcome::Sent(_) => {
                    report.sent += 1;
                    "sent"
                }
                Outcome::InboxOnly(_) => {
                    report.inbox_only += 1;
                    "inbox_only"
                }
                Outcome::Retry(..) => {
                    report.retried += 1;
                    "retried"
                }
                Outcome::Failed(..) => {
                    report.failed += 1;
                    "failed"
                }
            };
            metrics::counter!("linli_notifications_total", "outcome" => label).increment(1);
        }
    }
    Ok(report)
}

async fn deliver(ctx: &AppContext, n: &notification::Model) -> AppResult<Outcome> {
    if ctx.wechat.is_dev() {
        tracing::info!(notification_id = n.id, kind = %n.kind, "dev mode: notice kept in the inbox only");
        return Ok(Outcome::InboxOnly("dev mode"));
    }
    let Some(purpose) = n.purpose.as_deref() else {
        return Ok(Outcome::InboxOnly("no push for this kind"));
    };
    let Some(template) = template_for(ctx, purpose) else {
        return Ok(Outcome::InboxOnly("template not configured"));
    };
    let Some(openid) = user::Entity::find_by_id(n.user_id).one(&ctx.db).await?.and_then(|u| u.openid) else {
        return Ok(Outcome::InboxOnly("no openid"));
    };
    let activity = match n.activity_id {
        Some(id) => activity::Entity::find_by_id(id).one(&ctx.db).await?,
        None => None,
    };
    // Held on the notice in the same transaction, so a crash mid-send does not strand it:
    // the retry finds it still held.
    if !n.quota_reserved && !hold_quota(ctx, n, &template).await? {
        return Ok(Outcome::InboxOnly("no quota"));
    }
    let message = SubscribeMessage {
        touser: openid,
        template_id: template.clone(),
        page: match n.activity_id {
            Some(id) => format!("pages/activity/detail?id={id}"),
            None => "pages/inbox/index".into(),
        },
        miniprogram_state: "formal",
        lang: "zh_CN",
        data: template_data(purpose, n, activity.as_ref()),
    };
    let result = ctx.wechat.send_subscribe(&message).await;
    Ok(match result {
        Ok(msgid) => Outcome::Sent(msgid),
        Err(WechatError::QuotaRefused) => {
            zero(&ctx.db, n.user_id, &template).await?;
            Outcome::InboxOnly("refused by WeChat (43101)")
        }
        Err(e) => {
            if let WechatError::Config(code, msg) = &e {
                tracing::error!(errcode = code, errmsg = %msg, template = %template, "ALERT: WeChat rejects the template or page configuration");
            }
            if e.is_permanent() {
                Outcome::Failed(e.to_string(), Some(template))
            } else if n.attempts >= MAX_ATTEMPTS {
                Outcome::Failed(format!("gave up after {} attempts: {e}", n.attempts), Some(template))
            } else {
                Outcome::Retry(e.to_string(), backoff(n.attempts, matches!(e, WechatError::Throttled)), template)
            }
        }
    })
}

/// 30 s, 1 min, 2 min, … capped at an hour; a spent daily quota waits at least 10 min.
pub fn backoff(attempts: i32, throttled: bool) -> Duration {
    let base = 30u64.saturating_mul(1u64 << (attempts.clamp(1, 12) - 1) as u32);
    let secs = if throttled { Ord::max(base, 600) } else { base };
    Duration::from_secs(Ord::min(secs, 3600))
}

/// Keyword layout of the three templates (configure the templates in the mini-program
/// console with these keywords): reminder and change `thing1` activity, `time2` start,
/// `thing3` place or reason; sign-up `thing1` activity, `time2` start, `phrase3` status.
fn template_data(
    purpose: &str,
    n: &notification::Model,
    a: Option<&activity::Model>,
) -> serde_json::Map<String, serde_json::Value> {
    let title = a.map(|a| a.title.as_str()).unwrap_or(n.title.as_str());
    let when = a.map(|a| display_time(a.starts_at)).unwrap_or_else(|| display_time(n.created_at));
    let place = a.map(|a| a.location.as_str()).unwrap_or("");
    match (purpose, n.kind.as_str()) {
        ("signup", kind) => data(&[
            ("thing1", Keyword::Thing, title),
            ("time2", Keyword::Time, &when),
            ("phrase3", Keyword::Phrase, if kind == "waitlist_promoted" { "候补成功" } else { "报名成功" }),
        ]),
        ("change", "activity_cancelled") => {
            let reason = a.and_then(|a| a.cancel_reason.clone()).unwrap_or_default();
            data(&[
                ("thing1", Keyword::Thing, title),
                ("time2", Keyword::Time, &when),
                ("thing3", Keyword::Thing, &format!("已取消：{reason}")),
            ])
        }
        ("change", "signup_removed") => data(&[
            ("thing1", Keyword::Thing, title),
            ("time2", Keyword::Time, &when),
            ("thing3", Keyword::Thing, "您的报名已被组织方取消"),
        ]),
        _ => data(&[
            ("thing1", Keyword::Thing, title),
            ("time2", Keyword::Time, &when),
            ("thing3", Keyword::Thing, place),
        ]),
    }
}

/// Takes one send from the user's balance and marks it held by this notice, together.
async fn hold_quota(ctx: &AppContext, n: &notification::Model, template: &str) -> AppResult<bool> {
    let txn = begin_write(&ctx.db).await?;
    if !reserve(&txn, n.user_id, template).await? {
        return Ok(false);
    }
    notification::Entity::update_many()
        .col_expr(notification::Column::QuotaReserved, Expr::value(true))
        .filter(notification::Column::Id.eq(n.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(true)
}

/// Writes the outcome (and gives a held quota back when the message did not go out),
/// unless the notice was withdrawn meanwhile.
async fn record(ctx: &AppContext, n: &notification::Model, outcome: &Outcome) -> AppResult<()> {
    let now: DateTime<Utc> = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let give_back = match outcome {
        Outcome::Retry(_, _, template) | Outcome::Failed(_, Some(template)) => Some(template.as_str()),
        _ => None,
    };
    if let Some(template) = give_back {
        let held = notification::Entity::update_many()
            .col_expr(notification::Column::QuotaReserved, Expr::value(false))
            .filter(notification::Column::Id.eq(n.id))
            .filter(notification::Column::QuotaReserved.eq(true))
            .exec(&txn)
            .await?
            .rows_affected;
        if held == 1 {
            refund(&txn, n.user_id, template).await?;
        }
    }
    let mut update = notification::Entity::update_many()
        .col_expr(notification::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None));
    update = match outcome {
        Outcome::Sent(msgid) => update
            .col_expr(notification::Column::State, Expr::value(state::SENT))
            .col_expr(notification::Column::Msgid, Expr::value(msgid.clone()))
            .col_expr(notification::Column::SentAt, Expr::value(now)),
        Outcome::InboxOnly(why) => update
            .col_expr(notification::Column::State, Expr::value(state::INBOX_ONLY))
            .col_expr(notification::Column::LastError, Expr::value(*why)),
        Outcome::Retry(why, after, _) => update
            .col_expr(notification::Column::State, Expr::value(state::PENDING))
            .col_expr(notification::Column::LastError, Expr::value(why.clone()))
            .col_expr(
                notification::Column::NextAttemptAt,
                Expr::value(now + chrono::Duration::from_std(*after).unwrap_or_default()),
            ),
        Outcome::Failed(why, _) => {
            tracing::warn!(notification_id = n.id, reason = %why, "push failed for good; the notice stays in the inbox");
            update
                .col_expr(notification::Column::State, Expr::value(state::FAILED))
                .col_expr(notification::Column::LastError, Expr::value(why.clone()))
        }
    };
    update
        .filter(notification::Column::Id.eq(n.id))
        .filter(notification::Column::State.eq(state::SENDING))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    ctx.claimed.lock().unwrap_or_else(|p| p.into_inner()).remove(&n.id);
    Ok(())
}

/// Gives back this replica's claims at shutdown, so another replica sends them now
/// rather than after the lease.
pub async fn release_claims(ctx: &AppContext, ids: &[i64]) -> AppResult<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(notification::Entity::update_many()
        .col_expr(notification::Column::State, Expr::value(state::PENDING))
        .col_expr(notification::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(notification::Column::Id.is_in(ids.to_vec()))
        .filter(notification::Column::State.eq(state::SENDING))
        .exec(&ctx.db)
        .await?
        .rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1, false), Duration::from_secs(30));
        assert_eq!(backoff(2, false), Duration::from_secs(60));
        assert_eq!(backoff(4, false), Duration::from_secs(240));
        assert_eq!(backoff(20, false), Duration::from_secs(3600));
        assert_eq!(backoff(1, true), Duration::from_secs(600));
    }
}
