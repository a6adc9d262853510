//! The notification dispatcher. One step claims a batch of due notices (with a lease,
//! so a crashed replica's claims are picked up again), holds a quota for each push in
//! one transaction, pushes through WeChat to many residents at once (each resident's
//! notices in turn), and records the outcomes in chunks as they come. Every notice stays
//! in the inbox whatever happens here.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    time::Duration,
};

use chrono::{DateTime, SubsecRound, Utc};
use futures_util::{StreamExt, stream};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, LockType},
};
use tokio_util::task::AbortOnDropHandle;

use crate::{
    context::AppContext,
    entity::{activity, notification, subscription_quota, user},
    error::{AppError, AppResult},
    service::{
        activities::display_time,
        begin_write, deliveries,
        notifications::state,
        subscriptions::{refund, template_for, zero},
    },
    wechat::{
        SubscribeMessage, WechatError,
        templates::{Keyword, data},
    },
};

/// Notices claimed at once by the scheduler's dispatcher: one claim transaction, sent
/// well within a lease. The sends of a batch wait for the claim of the next, whose cost
/// is mostly per claim, so larger batches send more per second — but hold more memory:
/// on the benchmark 500 gave 5,853/s and 58 MiB a minute after 100,000 reminders, 2,000
/// gave 7,790/s and 67 MiB, over the 60 MiB target (bench/RESULTS.md, round four).
pub const BATCH: u64 = 500;
/// Batches in one scheduler tick at most (then the next tick goes on).
pub const MAX_BATCHES: usize = 200;

/// Transient failures are retried this many times in all.
pub const MAX_ATTEMPTS: i32 = 8;

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
    /// WeChat says the user has no sends left for this template (43101): inbox only,
    /// and the balance is zeroed.
    Refused(String),
}

/// Claims up to `batch` due pushes (see [`claim_planned`]) and returns their notices.
pub async fn claim(ctx: &AppContext, batch: u64) -> AppResult<Vec<notification::Model>> {
    Ok(claim_planned(ctx, batch).await?.pushes.into_iter().map(|(n, _)| n).collect())
}

/// What one claim took from the delivery queue.
#[derive(Default)]
struct Claimed {
    /// Queue rows taken, stale ones included (a full batch means more may be due).
    taken: usize,
    /// Notices settled by the claim itself (kept in the inbox only).
    report: DispatchReport,
    /// Pushes to send, each holding a send of its user's quota, leased to this replica.
    pushes: Vec<(notification::Model, Push)>,
}

/// One claim, in one transaction: the due rows of the delivery queue are taken
/// (`service::deliveries::claim_due`, `FOR UPDATE SKIP LOCKED`, so replicas claim side by
/// side on PostgreSQL; on SQLite the write transaction makes one claimer at a time) with
/// their notices and openids; rows whose notice is no longer `pending` (withdrawn) are
/// dropped, giving back a send they held; a send is held from each push's quota; notices
/// that stay in the inbox only (no push for the kind, no openid, no template, no quota,
/// dev mode) are settled at once; and the pushes are leased. Each notice's `attempts` is
/// the queue's, counting this claim.
async fn claim_planned(ctx: &AppContext, batch: u64) -> AppResult<Claimed> {
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let rows = deliveries::claim_due(&txn, now, batch).await?;
    if rows.is_empty() {
        return Ok(Claimed::default());
    }
    let taken = rows.len();
    let mut notices: HashMap<i64, notification::Model> = notification::Entity::find()
        .filter(notification::Column::Id.is_in(rows.iter().map(|r| r.notification_id)))
        .all(&txn)
        .await?
        .into_iter()
        .map(|n| (n.id, n))
        .collect();
    let mut live = Vec::with_capacity(rows.len());
    let mut stale = Vec::new();
    let mut reserved = HashSet::new();
    for row in rows {
        match notices.remove(&row.notification_id) {
            Some(n) if n.state == state::PENDING => {
                if row.quota_reserved {
                    reserved.insert(n.id);
                }
                live.push(notification::Model { attempts: row.attempts + 1, ..n });
            }
            n => {
                if let Some(n) = n.filter(|_| row.quota_reserved) {
                    refund_held(ctx, &txn, &n).await?;
                }
                stale.push(row.notification_id);
            }
        }
    }
    deliveries::settle(&txn, &stale).await?;
    let planned = plan(ctx, &txn, live).await?;
    let wanted: Vec<(i64, i64, String)> = planned
        .iter()
        .filter_map(|(n, p)| match p {
            Plan::Push(p) if !reserved.contains(&n.id) => Some((n.id, n.user_id, p.template.clone())),
            _ => None,
        })
        .collect();
    let held = hold_quotas(&txn, &wanted).await?;
    let mut claimed = Claimed { taken, ..Default::default() };
    let mut settled: Vec<(notification::Model, Outcome)> = Vec::new();
    for (n, plan) in planned {
        match plan {
            Plan::Push(p) if reserved.contains(&n.id) || held.contains(&n.id) => claimed.pushes.push((n, p)),
            Plan::Push(_) => settled.push((n, Outcome::InboxOnly("no quota"))),
            Plan::Inbox(why) => {
                if reserved.contains(&n.id) {
                    refund_held(ctx, &txn, &n).await?;
                }
                settled.push((n, Outcome::InboxOnly(why)));
            }
        }
    }
    write_outcomes(&txn, &settled, now).await?;
    let lease = chrono::Duration::from_std(ctx.config.dispatch_lease).unwrap_or_else(|_| chrono::Duration::seconds(60));
    // Whole microseconds, as both databases store it, so a give-back can match the lease
    // exactly (`deliveries::release`).
    let until = (now + lease).trunc_subsecs(6);
    let ids: Vec<i64> = claimed.pushes.iter().map(|(n, _)| n.id).collect();
    deliveries::lease(&txn, &ids, until, &held).await?;
    txn.commit().await?;
    {
        let mut mine = ctx.claims();
        // A claim whose lease has ended is due again for any replica, and giving it back
        // would change nothing: forgotten here, so a batch whose outcomes could not be
        // written (or whose send task failed) leaves nothing behind for long.
        mine.retain(|_, lease| *lease > now);
        mine.extend(ids.into_iter().map(|id| (id, until)));
    }
    claimed.report.claimed = settled.len() + claimed.pushes.len();
    tally(&mut claimed.report, &settled);
    Ok(claimed)
}

/// Gives back the send a dropped or inbox-only notice held from an earlier claim (its
/// queue row is deleted in the same transaction).
async fn refund_held(ctx: &AppContext, txn: &DatabaseTransaction, n: &notification::Model) -> AppResult<()> {
    match n.purpose.as_deref().and_then(|p| template_for(ctx, p)) {
        Some(template) => refund(txn, n.user_id, &template).await?,
        // The template was unset since the claim (a configuration change): the send
        // cannot be matched to a balance any more.
        None => tracing::warn!(
            notification_id = n.id,
            user_id = n.user_id,
            purpose = ?n.purpose,
            "a held send could not be given back: no template is configured for its purpose"
        ),
    }
    Ok(())
}

/// A replica's dispatcher between steps.
#[derive(Debug, Default)]
pub struct Dispatcher {
    /// Set by shutdown once it holds the dispatcher: no further step starts.
    pub stopping: bool,
}

/// One step: claim a batch and deliver it. Shutdown waits for a running step. A crashed
/// replica's claims fall due again when their lease runs out, and are claimed with the
/// rest.
pub async fn dispatch_once(ctx: &AppContext, batch: u64) -> AppResult<DispatchReport> {
    let _dispatcher = ctx.dispatching.lock().await;
    let claimed = claim_planned(ctx, batch).await?;
    deliver_all(ctx, claimed).await
}

/// Runs steps until nothing is due (or `max_batches`), for the scheduler. The next batch
/// is claimed while the current one is delivered, so the database's claim and WeChat's
/// sends overlap. Each step holds the dispatcher; once shutdown has taken it
/// (`Dispatcher::stopping`), a batch already claimed is left for shutdown to give back.
pub async fn drain(ctx: &AppContext, batch: u64, max_batches: usize) -> AppResult<DispatchReport> {
    let mut total = DispatchReport::default();
    let mut claimed = {
        let dispatcher = ctx.dispatching.lock().await;
        if dispatcher.stopping {
            return Ok(total);
        }
        claim_planned(ctx, batch).await?
    };
    for step in 0..max_batches {
        if claimed.taken == 0 {
            break;
        }
        let dispatcher = ctx.dispatching.lock().await;
        if dispatcher.stopping {
            break;
        }
        let more = claimed.taken as u64 >= batch && step + 1 < max_batches;
        let delivering = deliver_all(ctx, std::mem::take(&mut claimed));
        // A task of its own, so the claim's statements are answered while the sends run.
        let claiming = async {
            if !more {
                return Ok(Claimed::default());
            }
            let ctx = ctx.clone();
            AbortOnDropHandle::new(tokio::spawn(async move { claim_planned(&ctx, batch).await }))
                .await
                .map_err(|e| AppError::Internal(anyhow::anyhow!("the claim task failed: {e}")))?
        };
        let (report, next) = tokio::join!(delivering, claiming);
        drop(dispatcher);
        let next = next?;
        let report = match report {
            Ok(report) => report,
            Err(e) => {
                let ids: Vec<i64> = next.pushes.iter().map(|(n, _)| n.id).collect();
                if let Err(release) = release_claims(ctx, &ids).await {
                    tracing::warn!(error = %release, "could not give back the next batch; its lease will run out");
                }
                return Err(e);
            }
        };
        total.claimed += report.claimed;
        total.sent += report.sent;
        total.inbox_only += report.inbox_only;
        total.retried += report.retried;
        total.failed += report.failed;
        claimed = next;
    }
    Ok(total)
}

/// How one claimed notice goes out.
pub enum Plan {
    Push(Push),
    /// Kept in the inbox only, for this reason.
    Inbox(&'static str),
}

/// A subscribe message to send: to this openid, with this template, for this purpose.
pub struct Push {
    openid: String,
    template: String,
    purpose: String,
}

/// Delivers claimed notices (their openids read and quotas held by the claim). The
/// batch's activities are loaded at once; then
/// users are pushed to in parallel, each user's notices in turn (WeChat refuses
/// concurrent sends to one openid), while a recorder writes the outcomes in chunks as
/// they arrive. A crash repeats at most the sends in flight and the chunk being written.
async fn deliver_all(ctx: &AppContext, claimed: Claimed) -> AppResult<DispatchReport> {
    let mut report = claimed.report;
    let mut by_user: BTreeMap<i64, Vec<(notification::Model, Push)>> = BTreeMap::new();
    for (n, p) in claimed.pushes {
        by_user.entry(n.user_id).or_default().push((n, p));
    }
    if by_user.is_empty() {
        return Ok(report);
    }

    let activity_ids: Vec<i64> =
        by_user.values().flatten().filter_map(|(n, ..)| n.activity_id).collect::<BTreeSet<_>>().into_iter().collect();
    let activities: HashMap<i64, activity::Model> = activity::Entity::find()
        .filter(activity::Column::Id.is_in(activity_ids))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(notification::Model, Outcome)>(RECORD_CHUNK * 4);
    let activities = std::sync::Arc::new(activities);
    let concurrency = ctx.config.dispatch_concurrency;
    // Each user's notices go out in a task of their own, up to `concurrency` at once, so
    // the work of the sends (the message's JSON, the HTTP exchange) spreads over the
    // runtime's threads: polled inside this one future they all ran on one thread, and
    // the claim and the recorder beside them waited for it (bench/RESULTS.md, round
    // seven). A task is aborted if this future is dropped, as the sends were before.
    let produce = async move {
        stream::iter(by_user.into_values())
            .map(|notices| {
                AbortOnDropHandle::new(tokio::spawn(send_in_turn(ctx.clone(), notices, activities.clone(), tx.clone())))
            })
            .buffer_unordered(concurrency)
            .for_each(|sent| async move {
                if let Err(e) = sent {
                    // Its notices stay claimed and fall due again when the lease runs out.
                    tracing::error!(error = %e, "a send task failed");
                }
            })
            .await;
        drop(tx); // the recorder ends when every sender is gone
    };
    let record = async {
        let mut chunk = Vec::with_capacity(RECORD_CHUNK);
        while let Some(first) = rx.recv().await {
            chunk.push(first);
            while chunk.len() < RECORD_CHUNK {
                match rx.try_recv() {
                    Ok(next) => chunk.push(next),
                    Err(_) => break,
                }
            }
            if let Err(e) = record_retrying(ctx, &chunk).await {
                rx.close();
                return Err(e);
            }
            tally(&mut report, &chunk);
            chunk.clear();
        }
        Ok(())
    };
    let ((), recorded) = tokio::join!(produce, record);
    recorded?;
    Ok(report)
}

/// Sends one user's notices in turn (WeChat refuses concurrent sends to one openid),
/// handing each outcome to the recorder; stops when the recorder has stopped.
async fn send_in_turn(
    ctx: AppContext,
    notices: Vec<(notification::Model, Push)>,
    activities: std::sync::Arc<HashMap<i64, activity::Model>>,
    tx: tokio::sync::mpsc::Sender<(notification::Model, Outcome)>,
) {
    for (n, p) in notices {
        if tx.is_closed() {
            return; // the recorder stopped: send nothing it cannot record
        }
        let activity = n.activity_id.and_then(|id| activities.get(&id));
        let outcome = send(&ctx, &n, p, activity).await;
        if tx.send((n, outcome)).await.is_err() {
            return;
        }
    }
}

/// Writes a chunk of outcomes, trying again after a failure: the messages have gone out,
/// so an outcome not written is a message sent again once the lease runs out. A failed
/// transaction wrote nothing and the broken connection is discarded, so a retry is safe
/// (seen: a connection opened on an HTTP worker's runtime dies when that worker stops
/// at SIGTERM, mid-batch).
async fn record_retrying(ctx: &AppContext, chunk: &[(notification::Model, Outcome)]) -> AppResult<()> {
    let mut attempt = 0;
    loop {
        match record_many(ctx, chunk).await {
            Err(e) if attempt < 3 => {
                attempt += 1;
                tracing::warn!(error = %e, attempt, "writing push outcomes failed; trying again");
                tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
            }
            done => return done,
        }
    }
}

/// Outcomes written in one transaction at most.
const RECORD_CHUNK: usize = 256;

/// Counts outcomes into the report and the `linli_notifications_total` metric (once per
/// outcome label and chunk, not per notice: the registry lookup was per notice).
fn tally(report: &mut DispatchReport, outcomes: &[(notification::Model, Outcome)]) {
    let before = *report;
    for (_, outcome) in outcomes {
        match outcome {
            Outcome::Sent(_) => report.sent += 1,
            Outcome::InboxOnly(_) | Outcome::Refused(_) => report.inbox_only += 1,
            Outcome::Retry(..) => report.retried += 1,
            Outcome::Failed(..) => report.failed += 1,
        }
    }
    for (label, n) in [
        ("sent", report.sent - before.sent),
        ("inbox_only", report.inbox_only - before.inbox_only),
        ("retried", report.retried - before.retried),
        ("failed", report.failed - before.failed),
    ] {
        if n > 0 {
            metrics::counter!("linli_notifications_total", "outcome" => label).increment(n as u64);
        }
    }
}

/// Decides for each notice whether it goes through WeChat, with the batch's openids
/// loaded in one query.
async fn plan(
    ctx: &AppContext,
    db: &impl ConnectionTrait,
    claimed: Vec<notification::Model>,
) -> AppResult<Vec<(notification::Model, Plan)>> {
    if ctx.wechat.is_dev() {
        // Work done is worth a line; an idle tick is not (this runs every DISPATCH_INTERVAL).
        if claimed.is_empty() {
            tracing::debug!("dev mode: nothing to keep in the inbox");
        } else {
            tracing::info!(notices = claimed.len(), "dev mode: notices kept in the inbox only");
        }
        return Ok(claimed.into_iter().map(|n| (n, Plan::Inbox("dev mode"))).collect());
    }
    let user_ids: Vec<i64> = claimed.iter().map(|n| n.user_id).collect::<BTreeSet<_>>().into_iter().collect();
    let openids: HashMap<i64, String> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::Openid)
        .filter(user::Column::Id.is_in(user_ids))
        .filter(user::Column::Openid.is_not_null())
        .into_tuple::<(i64, Option<String>)>()
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(id, openid)| openid.map(|o| (id, o)))
        .collect();
    Ok(claimed
        .into_iter()
        .map(|n| {
            let plan = match n.purpose.clone() {
                None => Plan::Inbox("no push for this kind"),
                Some(purpose) => match (template_for(ctx, &purpose), openids.get(&n.user_id)) {
                    (None, _) => Plan::Inbox("template not configured"),
                    (_, None) => Plan::Inbox("no openid"),
                    (Some(template), Some(openid)) => Plan::Push(Push { openid: openid.clone(), template, purpose }),
                },
            };
            (n, plan)
        })
        .collect())
}

/// One subscribe send, classified. Touches no table: the recorder writes the outcome.
async fn send(ctx: &AppContext, n: &notification::Model, p: Push, activity: Option<&activity::Model>) -> Outcome {
    let Push { openid, template, purpose } = p;
    let message = SubscribeMessage {
        touser: openid,
        template_id: template.clone(),
        page: match n.activity_id {
            _ if n.kind.starts_with("work_") => crate::service::work_queue::QUEUE_PAGE.into(),
            Some(id) => format!("pages/activity/detail?id={id}"),
            None => "pages/inbox/index".into(),
        },
        miniprogram_state: "formal",
        lang: "zh_CN",
        data: template_data(&purpose, n, activity),
    };
    match ctx.wechat.send_subscribe(&message).await {
        Ok(msgid) => Outcome::Sent(msgid),
        Err(WechatError::QuotaRefused) => Outcome::Refused(template),
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
    }
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
    // A proxy's copy names the principal in the activity's place (`thing1`).
    let named = match (n.on_behalf_of, crate::domain::proxy::principal_in_title(&n.title), a) {
        (Some(_), Some(name), Some(a)) => Some(format!("【{name}】{}", a.title)),
        _ => None,
    };
    let title = named.as_deref().or(a.map(|a| a.title.as_str())).unwrap_or(n.title.as_str());
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
        ("change", "work_waiting" | "work_digest") => data(&[
            ("thing1", Keyword::Thing, &n.title),
            ("time2", Keyword::Time, &display_time(n.created_at)),
            ("thing3", Keyword::Thing, "待您处理"),
        ]),
        (
            "change",
            "booking_approved"
            | "booking_rejected"
            | "booking_cancelled"
            | "invitation_accepted"
            | "annual_report_due"
            | "annual_report_result"
            | "abnormal_listed"
            | "check_assigned"
            | "check_result",
        ) => data(&[
            ("thing1", Keyword::Thing, &n.title),
            ("time2", Keyword::Time, &display_time(n.created_at)),
            ("thing3", Keyword::Thing, &n.body),
        ]),
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

/// Takes one send from each notice's user balance, inside the claim's transaction (the
/// claim marks the notices as holding it, so a crash mid-send does not strand a send: the
/// retry finds it still held). Returns the notices that got one.
async fn hold_quotas(txn: &DatabaseTransaction, wanted: &[(i64, i64, String)]) -> AppResult<HashSet<i64>> {
    let mut held = HashSet::new();
    if wanted.is_empty() {
        return Ok(held);
    }
    let users: BTreeSet<i64> = wanted.iter().map(|w| w.1).collect();
    let templates: BTreeSet<&str> = wanted.iter().map(|w| w.2.as_str()).collect();
    let mut balances: HashMap<(i64, String), i32> = subscription_quota::Entity::find()
        .filter(subscription_quota::Column::UserId.is_in(users))
        .filter(subscription_quota::Column::TemplateId.is_in(templates))
        .filter(subscription_quota::Column::Banned.eq(false))
        .lock(LockType::Update)
        .all(txn)
        .await?
        .into_iter()
        .map(|q| ((q.user_id, q.template_id), q.balance))
        .collect();
    let mut taken: BTreeMap<&str, BTreeMap<i64, i32>> = BTreeMap::new();
    for (id, user_id, template) in wanted {
        if let Some(balance) = balances.get_mut(&(*user_id, template.clone()))
            && *balance > 0
        {
            *balance -= 1;
            *taken.entry(template.as_str()).or_default().entry(*user_id).or_default() += 1;
            held.insert(*id);
        }
    }
    // One UPDATE joined to a VALUES list of (user, template, sends taken), like
    // `mark_sent` (a CASE arm per user was 6.5 ms a batch of 500, quadratic).
    let rows: Vec<(i64, &str, i32)> =
        taken.iter().flat_map(|(template, by_user)| by_user.iter().map(|(u, n)| (*u, *template, *n))).collect();
    if !rows.is_empty() {
        let backend = txn.get_database_backend();
        let mut p = Placeholders::new(backend);
        let values = p.rows(rows.len(), 3);
        let sql = format!(
            "UPDATE subscription_quotas SET balance = balance - v.column3 FROM (VALUES {values}) AS v \
             WHERE subscription_quotas.user_id = v.column1 AND subscription_quotas.template_id = v.column2"
        );
        let mut params: Vec<sea_orm::Value> = Vec::with_capacity(rows.len() * 3);
        for (user_id, template, n) in rows {
            params.push(user_id.into());
            params.push(template.into());
            params.push(n.into());
        }
        txn.execute_raw(sea_orm::Statement::from_sql_and_values(backend, sql, params)).await?;
    }
    Ok(held)
}

/// Writes a chunk of outcomes in one transaction (see [`write_outcomes`]).
async fn record_many(ctx: &AppContext, outcomes: &[(notification::Model, Outcome)]) -> AppResult<()> {
    if outcomes.is_empty() {
        return Ok(());
    }
    let txn = begin_write(&ctx.db).await?;
    write_outcomes(&txn, outcomes, ctx.now()).await?;
    txn.commit().await?;
    let mut claimed = ctx.claims();
    for (n, _) in outcomes {
        claimed.remove(&n.id);
    }
    Ok(())
}

/// Writes outcomes inside `txn`: each on its inbox row — unless the notice was withdrawn
/// meanwhile (no longer `pending`; a message already sent then stays sent, the inbox row
/// withdrawn) — and its queue row deleted, or moved to the next attempt for a retry. A
/// held send goes back to the user when the message did not go out; a balance WeChat
/// says is spent (43101) is zeroed.
async fn write_outcomes(
    txn: &DatabaseTransaction,
    outcomes: &[(notification::Model, Outcome)],
    now: DateTime<Utc>,
) -> AppResult<()> {
    if outcomes.is_empty() {
        return Ok(());
    }
    let waiting = || notification::Entity::update_many().filter(notification::Column::State.eq(state::PENDING));
    let mut sent: Vec<(i64, &str, i32)> = Vec::new();
    let mut inbox: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    let mut done: Vec<i64> = Vec::with_capacity(outcomes.len());
    for (n, outcome) in outcomes {
        match outcome {
            Outcome::Sent(msgid) => sent.push((n.id, msgid, n.attempts)),
            Outcome::InboxOnly(why) => inbox.entry(why).or_default().push(n.id),
            Outcome::Refused(template) => {
                zero(txn, n.user_id, template).await?;
                inbox.entry("refused by WeChat (43101)").or_default().push(n.id);
            }
            Outcome::Retry(why, after, template) => {
                tracing::info!(notification_id = n.id, reason = %why, retry_in = ?after, "push failed; will retry");
                give_back(txn, n, template).await?;
                deliveries::retry_at(txn, n.id, now + chrono::Duration::from_std(*after).unwrap_or_default()).await?;
                waiting()
                    .col_expr(notification::Column::LastError, Expr::value(why.clone()))
                    .filter(notification::Column::Id.eq(n.id))
                    .exec(txn)
                    .await?;
                continue;
            }
            Outcome::Failed(why, template) => {
                tracing::warn!(notification_id = n.id, reason = %why, "push failed for good; the notice stays in the inbox");
                if let Some(template) = template {
                    give_back(txn, n, template).await?;
                }
                waiting()
                    .col_expr(notification::Column::State, Expr::value(state::FAILED))
                    .col_expr(notification::Column::LastError, Expr::value(why.clone()))
                    .col_expr(notification::Column::Attempts, Expr::value(n.attempts))
                    .filter(notification::Column::Id.eq(n.id))
                    .exec(txn)
                    .await?;
            }
        }
        done.push(n.id);
    }
    if !sent.is_empty() {
        mark_sent(txn, &sent, now).await?;
    }
    for (why, ids) in inbox {
        waiting()
            .col_expr(notification::Column::State, Expr::value(state::INBOX_ONLY))
            .col_expr(notification::Column::LastError, Expr::value(why))
            .filter(notification::Column::Id.is_in(ids))
            .exec(txn)
            .await?;
    }
    deliveries::settle(txn, &done).await
}

/// Marks notices sent, each with its WeChat msgid, in one statement: an UPDATE joined
/// to a VALUES list (a CASE per row would be quadratic in the chunk). The same SQL runs
/// on PostgreSQL and SQLite (≥ 3.33); only the placeholders differ.
async fn mark_sent(txn: &impl ConnectionTrait, sent: &[(i64, &str, i32)], now: DateTime<Utc>) -> AppResult<()> {
    let backend = txn.get_database_backend();
    // Numbered in the order they appear in the text (SQLite's `?` binds by position).
    let mut p = Placeholders::new(backend);
    let (p_state, p_at) = (p.next(), p.next());
    let rows = p.rows(sent.len(), 4);
    // The state each row must still be in comes with the row (`v.column3`), not as one
    // parameter: with `state = $n` and an index on `state` (dropped since, with the
    // delivery queue) the planner hashed every row in that state (12 ms a chunk on the
    // benchmark) instead of 256 primary-key lookups (5 ms).
    let sql = format!(
        "UPDATE notifications SET state = {p_state}, sent_at = {p_at}, msgid = v.column2, attempts = v.column4 \
         FROM (VALUES {rows}) AS v WHERE notifications.id = v.column1 AND notifications.state = v.column3"
    );
    let mut values: Vec<sea_orm::Value> = vec![state::SENT.into(), now.into()];
    for (id, msgid, attempts) in sent {
        values.push((*id).into());
        values.push((*msgid).into());
        values.push(state::PENDING.into());
        values.push((*attempts).into());
    }
    txn.execute_raw(sea_orm::Statement::from_sql_and_values(backend, sql, values)).await?;
    Ok(())
}

/// Placeholders of a raw statement in the order they appear in its text: `$1, $2, …` on
/// PostgreSQL, `?` on SQLite (which binds by position).
struct Placeholders {
    backend: sea_orm::DbBackend,
    n: usize,
}

impl Placeholders {
    fn new(backend: sea_orm::DbBackend) -> Self {
        Self { backend, n: 0 }
    }

    fn next(&mut self) -> String {
        self.n += 1;
        if self.backend == sea_orm::DbBackend::Postgres { format!("${}", self.n) } else { "?".to_owned() }
    }

    /// A VALUES list of `rows` rows of `cols` columns: `($1, $2), ($3, $4)`. Its columns
    /// are `v.column1`, `v.column2`, … on both databases (SQLite ≥ 3.33 for `UPDATE … FROM`).
    fn rows(&mut self, rows: usize, cols: usize) -> String {
        (0..rows)
            .map(|_| format!("({})", (0..cols).map(|_| self.next()).collect::<Vec<_>>().join(", ")))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Gives the notice's held send back to the user, once.
async fn give_back(txn: &impl ConnectionTrait, n: &notification::Model, template: &str) -> AppResult<()> {
    if deliveries::take_held_send(txn, n.id).await? {
        refund(txn, n.user_id, template).await?;
    }
    Ok(())
}

/// Gives back claims of this replica not yet settled (at shutdown, or a batch that will
/// not be sent), so another replica sends them now rather than after the lease; each row
/// only while its lease from this replica stands (`deliveries::release`). Ids this
/// replica does not hold are skipped. Returns the rows given back.
pub async fn release_claims(ctx: &AppContext, ids: &[i64]) -> AppResult<u64> {
    let mut by_lease: BTreeMap<DateTime<Utc>, Vec<i64>> = BTreeMap::new();
    {
        let claimed = ctx.claims();
        for id in ids {
            if let Some(until) = claimed.get(id) {
                by_lease.entry(*until).or_default().push(*id);
            }
        }
    }
    let now = ctx.now();
    let mut released = 0;
    for (until, ids) in by_lease {
        released += deliveries::release(&ctx.db, &ids, until, now).await?;
        let mut claimed = ctx.claims();
        for id in &ids {
            claimed.remove(id);
        }
    }
    Ok(released)
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
