//! Sign-ups applied in batches: a crowd on one activity at the database's pace (issue 17).
//!
//! Every sign-up — a resident's tap, a proxy's, a series regular's — goes through
//! [`SignupQueue::submit`]. Requests for one activity wait in that activity's lane in this
//! process; one task per lane applies them in arrival order, up to [`MAX_BATCH`] in one
//! transaction ([`apply`]): the residents' rows are locked (ids sorted), their own checks
//! (a clashing place, no-shows in 90 days) read in two queries for the whole batch, the
//! activity's row is locked once, places are given in arrival order in memory, and one
//! UPDATE of the counters, one INSERT of the sign-ups and one INSERT of the notices write
//! them all — one commit, one lock hold, for the batch. A lone request is applied at once
//! as a batch of one; while a batch is being applied, the next one gathers, so batches grow
//! only when requests arrive faster than the database takes them.
//!
//! **Fairness.** Within a replica, first come, first served by arrival. Across replicas,
//! each replica's batches take the activity's row lock in turn (PostgreSQL queues lock
//! waiters in order), so a request can be overtaken by requests that reached another
//! replica after it by at most the batch that replica is applying when it arrives (at most
//! [`MAX_BATCH`] requests, a few milliseconds of work).
//!
//! **Exactness** is the transaction's: the counters are read under the row lock and written
//! back with the batch, and the unique (activity, resident) index still refuses a second
//! row. A batch that fails as a whole for something other than contention is applied again
//! one request at a time, so one request's fault never sinks its neighbours.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    sea_query::{Alias, Expr, ExprTrait, Query},
};
use tokio::sync::oneshot;

use crate::{
    context::AppContext,
    domain::{
        activity::{ActivityStatus, SignupStatus},
        organization::OrgStatus,
        proxy::ProxyAct,
        signup::{Refusal, SignupAction, Step, next},
    },
    entity::{activity, organization, signup},
    error::{AppError, AppResult},
    service::{
        Contended,
        activities::{self, Acting, SignupOutcome, SignupVia},
        begin_write, lock_users,
        notifications::enqueue,
        retrying,
    },
};

/// The most sign-ups applied in one transaction. Bounds how long one batch holds the
/// activity's row, and so how far a request at another replica can be overtaken.
pub const MAX_BATCH: usize = 64;

/// One sign-up waiting in its activity's lane.
struct Ask {
    acting: Acting,
    via: SignupVia,
    reply: oneshot::Sender<AppResult<SignupOutcome>>,
}

/// This process's lanes, one per activity with sign-ups waiting or being applied. An
/// activity has a lane exactly while a task is applying its sign-ups.
#[derive(Debug)]
pub struct SignupQueue {
    lanes: Mutex<HashMap<i64, VecDeque<Ask>>>,
    /// How many lanes write at once. Each writing lane holds a database connection for
    /// its transaction; the rest of the pool stays free for the requests themselves (who
    /// is signing up), and lanes waiting meanwhile gather larger batches. Measured: with
    /// every lane writing, fifty busy activities took the whole pool and the crowd slowed
    /// to a third of one activity's rate.
    writers: tokio::sync::Semaphore,
}

impl SignupQueue {
    /// Lanes write at most half the pool's connections at once (at least one).
    pub fn new(pool_connections: u32) -> Self {
        let writers = (pool_connections as usize / 2).max(1);
        SignupQueue { lanes: Mutex::default(), writers: tokio::sync::Semaphore::new(writers) }
    }
}

impl std::fmt::Debug for Ask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ask").field("acting", &self.acting).field("via", &self.via).finish()
    }
}

impl SignupQueue {
    fn lanes(&self) -> std::sync::MutexGuard<'_, HashMap<i64, VecDeque<Ask>>> {
        self.lanes.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues a sign-up of `acting.resident` for activity `id` and waits for its answer.
    /// The answer is the place-taking rules' ([`apply`]); a request whose caller goes away
    /// meanwhile is still applied (a repeat then answers with the sign-up it made).
    ///
    /// Errors: whatever [`apply`] refuses with; 503 `service_unavailable` if the lane's
    /// task stopped without answering (a panic), nothing then having been written.
    pub(crate) async fn submit(ctx: &AppContext, acting: Acting, id: i64, via: SignupVia) -> AppResult<SignupOutcome> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut lanes = ctx.signups.lanes();
            let lane = lanes.entry(id);
            let start = matches!(lane, std::collections::hash_map::Entry::Vacant(_));
            lane.or_default().push_back(Ask { acting, via, reply });
            start
        };
        if start {
            let ctx = ctx.clone();
            tokio::spawn(async move { run_lane(ctx, id).await });
        }
        answer.await.unwrap_or_else(|_| Err(AppError::Unavailable("sign-ups are being restarted; try again".into())))
    }
}

/// Removes the lane if its task dies (a panic), so the next request starts a new task; the
/// requests still in it are answered 503 by their dropped senders. A task that finds its
/// lane empty removes it itself, under the same lock as the look (a request pushed a
/// moment later then starts a new task rather than joining a lane nobody serves).
struct LaneGuard {
    queue: Arc<SignupQueue>,
    id: i64,
    done: bool,
}

impl Drop for LaneGuard {
    fn drop(&mut self) {
        if !self.done {
            self.queue.lanes().remove(&self.id);
        }
    }
}

async fn run_lane(ctx: AppContext, id: i64) {
    let mut guard = LaneGuard { queue: ctx.signups.clone(), id, done: false };
    loop {
        // Waiting for a turn to write lets the lane's batch grow meanwhile.
        let Ok(_turn) = ctx.signups.writers.acquire().await else { return };
        let batch: Vec<Ask> = {
            let mut lanes = ctx.signups.lanes();
            match lanes.get_mut(&id) {
                Some(lane) if !lane.is_empty() => {
                    let n = lane.len().min(MAX_BATCH);
                    lane.drain(..n).collect()
                }
                _ => {
                    lanes.remove(&id);
                    guard.done = true;
                    return;
                }
            }
        };
        metrics::histogram!("linli_signup_batch_size").record(batch.len() as f64);
        let asks: Vec<(Acting, SignupVia)> = batch.iter().map(|a| (a.acting, a.via)).collect();
        let answers = match retrying(|| apply(&ctx, id, &asks)).await {
            Ok(answers) => answers,
            Err(e) if asks.len() == 1 => vec![Err(e)],
            Err(e) => {
                tracing::warn!(activity = id, error = %e, size = asks.len(), "sign-up batch failed; applying one at a time");
                let mut one_by_one = Vec::with_capacity(asks.len());
                for ask in &asks {
                    let alone = retrying(|| apply(&ctx, id, std::slice::from_ref(ask))).await;
                    one_by_one.push(alone.and_then(|mut answers| {
                        answers.pop().unwrap_or_else(|| Err(AppError::Internal(anyhow::anyhow!("no answer"))))
                    }));
                }
                one_by_one
            }
        };
        for (ask, answer) in batch.into_iter().zip(answers) {
            let _ = ask.reply.send(answer); // the caller may have gone; the sign-up stands
        }
    }
}

/// Why one request of a batch is refused: the codes of the place-taking rules, cloneable so
/// a resident's second request in the same batch gets the same answer as the first.
#[derive(Clone, Copy, Debug)]
enum Refused {
    NotFound,
    Cancelled,
    Finished,
    SignupClosed,
    OrganizationNotActive,
    Step(Refusal),
    ScheduleConflict,
    NoShowLimit,
    Full,
}

impl Refused {
    fn error(self) -> AppError {
        let conflict = |code: &'static str, zh: &str| AppError::Conflict(code, zh.to_owned());
        match self {
            Refused::NotFound => AppError::NotFound("activity"),
            Refused::Cancelled => conflict("activity_cancelled", "活动已取消"),
            Refused::Finished => conflict("activity_finished", "活动已结束"),
            Refused::SignupClosed => conflict("signup_closed", "报名已截止"),
            Refused::OrganizationNotActive => conflict("organization_not_active", "组织已暂停或注销，暂不接受报名"),
            Refused::Step(refusal) => refusal.into_error(),
            Refused::ScheduleConflict => conflict("schedule_conflict", "您已确认报名同一时段的其他活动"),
            Refused::NoShowLimit => conflict("no_show_limit", "近 90 天内多次报名后未到场，暂不能报名不设候补的活动"),
            Refused::Full => conflict("activity_full", "名额已满，且该活动不设候补"),
        }
    }
}

/// A draft or held activity is not there for residents; a cancelled or finished one
/// refuses even a repeat (the old sign-up is not the answer).
fn closed(a: &activity::Model) -> Option<Refused> {
    match ActivityStatus::parse(&a.status).unwrap_or(ActivityStatus::Draft) {
        ActivityStatus::Draft | ActivityStatus::Held => Some(Refused::NotFound),
        ActivityStatus::Cancelled => Some(Refused::Cancelled),
        ActivityStatus::Finished => Some(Refused::Finished),
        ActivityStatus::Published => None,
    }
}

/// What one request of a batch comes to.
#[derive(Clone, Debug)]
enum Plan {
    Refuse(Refused),
    /// The resident's sign-up as it is (a repeat tap).
    Keep(signup::Model),
    /// A place or a waitlist spot: a new row, or the resident's cancelled row taken again.
    Take {
        status: SignupStatus,
        seq: i64,
        position: Option<i64>,
        note: Option<String>,
        old: Option<signup::Model>,
    },
    /// The resident asked twice in this batch: the answer to their first request, as a repeat.
    Repeat(usize),
    /// The transition table answered what a sign-up cannot do (a bug): 500 for this one.
    Broken(String),
}

/// What concerns only the residents, for the whole batch in two queries: who holds a place
/// in another published activity overlapping `a`, and each one's no-shows in 90 days
/// (no-shows waived by staff not counted).
async fn resident_checks(
    db: &impl ConnectionTrait,
    users: &[i64],
    a: &activity::Model,
    now: DateTime<Utc>,
) -> AppResult<(std::collections::HashSet<i64>, HashMap<i64, u64>)> {
    let n = Alias::new("n");
    let mut clash = activities::holding_clashing_place(a);
    clash.and_where(signup::Column::UserId.is_in(users.iter().copied())).group_by_col(signup::Column::UserId);
    let recent = Query::select()
        .column(activity::Column::Id)
        .from(activity::Entity)
        .and_where(activity::Column::StartsAt.gte(now - chrono::Duration::days(90)))
        .to_owned();
    let no_shows = Query::select()
        .column(signup::Column::UserId)
        .expr_as(Expr::col(signup::Column::Id).count(), n.clone())
        .from(signup::Entity)
        .and_where(signup::Column::UserId.is_in(users.iter().copied()))
        .and_where(signup::Column::Status.eq(SignupStatus::NoShow.as_str()))
        .and_where(signup::Column::ActivityId.in_subquery(recent))
        .and_where(signup::Column::Id.not_in_subquery(crate::service::proxies::waivers::waived_signups()))
        .group_by_col(signup::Column::UserId)
        .to_owned();
    let backend = db.get_database_backend();
    let clashing = db
        .query_all_raw(backend.build(&clash))
        .await?
        .iter()
        .map(|r| r.try_get::<i64>("", "user_id"))
        .collect::<Result<_, _>>()?;
    let mut counts = HashMap::new();
    for row in db.query_all_raw(backend.build(&no_shows)).await? {
        counts.insert(row.try_get::<i64>("", "user_id")?, Ord::max(row.try_get::<i64>("", "n")?, 0) as u64);
    }
    Ok((clashing, counts))
}

/// Applies a batch of sign-ups for activity `id` in one transaction and answers each in
/// order (see the module's text). The rules are those of `POST /activities/{id}/signups`:
/// a place while one is free, else the waitlist (only the waitlist for a resident past the
/// no-show limit), else refused; a repeat answers with the existing sign-up.
///
/// Errors (the batch as a whole, nothing written): database failures, [`Contended`] when
/// the activity moved in time between the residents' checks and its lock (run again).
async fn apply(ctx: &AppContext, id: i64, asks: &[(Acting, SignupVia)]) -> AppResult<Vec<AppResult<SignupOutcome>>> {
    let now = ctx.now();
    let all = |r: Refused| Ok(asks.iter().map(|_| Err(r.error())).collect());
    let txn = begin_write(&ctx.db).await?;
    let mut users: Vec<i64> = asks.iter().map(|(acting, _)| acting.resident).collect();
    users.sort_unstable();
    users.dedup();
    // One place-taking transaction per resident at a time (two phones, two activities).
    lock_users(&txn, &users).await?;
    let Some(seen) = activity::Entity::find_by_id(id).one(&txn).await? else { return all(Refused::NotFound) };
    if let Some(r) = closed(&seen) {
        return all(r);
    }
    let org_status = organization::Entity::find_by_id(seen.organization_id).one(&txn).await?.map(|o| o.status);
    if !org_status.as_deref().and_then(OrgStatus::parse).is_some_and(OrgStatus::is_recognised) {
        return all(Refused::OrganizationNotActive);
    }
    let (clashing, no_shows) = resident_checks(&txn, &users, &seen, now).await?;

    // The activity's row from here to the commit: counters, and the residents' rows of it.
    let a = activities::lock(&txn, id).await?;
    if (a.starts_at, a.ends_at) != (seen.starts_at, seen.ends_at) {
        return Err(Contended("the activity moved while its sign-ups were checked").into());
    }
    let mut existing: HashMap<i64, signup::Model> = signup::Entity::find()
        .filter(signup::Column::ActivityId.eq(id))
        .filter(signup::Column::UserId.is_in(users.iter().copied()))
        .all(&txn)
        .await?
        .into_iter()
        .map(|s| (s.user_id, s))
        .collect();

    let limit = u64::from(ctx.config.no_show_limit);
    let (mut confirmed, mut waitlisted, mut seq) = (a.confirmed_count, a.waitlist_count, a.signup_seq);
    let mut first = HashMap::new();
    let mut plans = Vec::with_capacity(asks.len());
    for (i, (acting, _)) in asks.iter().enumerate() {
        let user = acting.resident;
        if let Some(&j) = first.get(&user) {
            plans.push(Plan::Repeat(j));
            continue;
        }
        first.insert(user, i);
        let old = existing.remove(&user);
        let plan = (|| {
            if let Some(r) = closed(&a) {
                return Plan::Refuse(r);
            }
            match (next(old.as_ref().map(activities::signup_status), SignupAction::SignUp), &old) {
                (Step::Keep, Some(s)) => return Plan::Keep(s.clone()),
                (Step::Refuse(refusal), _) => return Plan::Refuse(Refused::Step(refusal)),
                (Step::Take, _) => {}
                (step, _) => return Plan::Broken(format!("the sign-up table answered {step:?}")),
            }
            if now >= a.signup_deadline {
                return Plan::Refuse(Refused::SignupClosed);
            }
            if clashing.contains(&user) {
                return Plan::Refuse(Refused::ScheduleConflict);
            }
            let misses = no_shows.get(&user).copied().unwrap_or(0);
            let restricted = limit > 0 && misses >= limit;
            let note = restricted.then(|| {
                format!("近 90 天内有 {misses} 次报名后未到场，新的报名只能进入候补；有空位时将按顺序为您确认。")
            });
            let (status, position) = if !restricted && confirmed < a.capacity {
                confirmed += 1;
                (SignupStatus::Confirmed, None)
            } else if a.waitlist_enabled {
                waitlisted += 1;
                (SignupStatus::Waitlisted, Some(i64::from(waitlisted)))
            } else {
                return Plan::Refuse(if restricted { Refused::NoShowLimit } else { Refused::Full });
            };
            seq += 1;
            Plan::Take { status, seq, position, note, old: old.clone() }
        })();
        plans.push(plan);
    }

    let takes = plans.iter().filter(|p| matches!(p, Plan::Take { .. })).count();
    let mut made: HashMap<i64, signup::Model> = HashMap::new();
    if takes > 0 {
        let changed = activity::Entity::update_many()
            .col_expr(activity::Column::ConfirmedCount, Expr::value(confirmed))
            .col_expr(activity::Column::WaitlistCount, Expr::value(waitlisted))
            .col_expr(activity::Column::SignupSeq, Expr::value(seq))
            .filter(activity::Column::Id.eq(id))
            .filter(activity::Column::SignupSeq.eq(a.signup_seq))
            .exec(&txn)
            .await?
            .rows_affected;
        if changed != 1 {
            return Err(Contended("the activity's counters changed under its lock").into());
        }
        made = write_signups(&txn, id, asks, &plans, now).await?;
        let mut notices = Vec::new();
        for (plan, (acting, via)) in plans.iter().zip(asks) {
            if let Plan::Take { status: SignupStatus::Confirmed, seq, .. } = plan {
                // A regular was told once that every date signs them up; each date reminds them.
                if *via == SignupVia::Resident {
                    notices.push(activities::confirmed_notice(&a, acting.resident, *seq));
                }
                notices.extend(activities::reminders(&a, acting.resident, now, &ctx.config.reminder_offsets));
            }
        }
        enqueue(&txn, notices, now).await?;
        for (plan, (acting, _)) in plans.iter().zip(asks) {
            if matches!(plan, Plan::Take { .. }) {
                crate::service::proxies::record_signup_act(&txn, *acting, id, ProxyAct::SignedUp, now).await?;
            }
        }
    }
    let mut positions = HashMap::new();
    for plan in &plans {
        if let Plan::Keep(s) = plan {
            positions.insert(s.id, activities::waitlist_position(&txn, s).await?);
        }
    }
    txn.commit().await?;

    let answer = |plan: &Plan, user: i64| -> AppResult<SignupOutcome> {
        match plan {
            Plan::Refuse(r) => Err(r.error()),
            Plan::Keep(s) => Ok(SignupOutcome {
                signup: s.clone(),
                waitlist_position: positions.get(&s.id).copied().flatten(),
                created: false,
                note: None,
            }),
            Plan::Take { position, note, .. } => {
                let signup = made
                    .get(&user)
                    .cloned()
                    .ok_or_else(|| AppError::Internal(anyhow::anyhow!("sign-up of {user} not written")))?;
                Ok(SignupOutcome { signup, waitlist_position: *position, created: true, note: note.clone() })
            }
            Plan::Repeat(_) => Err(AppError::Internal(anyhow::anyhow!("a repeat of a repeat"))),
            Plan::Broken(why) => Err(AppError::Internal(anyhow::anyhow!("{why}"))),
        }
    };
    Ok(plans
        .iter()
        .zip(asks)
        .map(|(plan, (acting, _))| match plan {
            Plan::Repeat(j) => {
                answer(&plans[*j], acting.resident).map(|o| SignupOutcome { created: false, note: None, ..o })
            }
            plan => answer(plan, acting.resident),
        })
        .collect())
}

/// Writes the batch's places: one INSERT for the new rows, and each resident's cancelled
/// row taken again only if it is still as read (else the batch runs again). Returns the
/// rows by resident.
async fn write_signups(
    txn: &DatabaseTransaction,
    id: i64,
    asks: &[(Acting, SignupVia)],
    plans: &[Plan],
    now: DateTime<Utc>,
) -> AppResult<HashMap<i64, signup::Model>> {
    let mut rows = HashMap::new();
    let (mut fresh, mut users) = (Vec::new(), Vec::new());
    for (plan, (acting, via)) in plans.iter().zip(asks) {
        let Plan::Take { status, seq, old, .. } = plan else { continue };
        let regular = *via == SignupVia::Regular;
        match old {
            Some(old) => {
                let changed = signup::Entity::update_many()
                    .col_expr(signup::Column::Status, Expr::value(status.as_str()))
                    .col_expr(signup::Column::Seq, Expr::value(*seq))
                    .col_expr(signup::Column::Reason, Expr::value(Option::<String>::None))
                    .col_expr(signup::Column::Regular, Expr::value(regular))
                    .col_expr(signup::Column::UpdatedAt, Expr::value(now))
                    .filter(signup::Column::Id.eq(old.id))
                    .filter(signup::Column::Status.eq(old.status.as_str()))
                    .filter(signup::Column::Seq.eq(old.seq))
                    .exec(txn)
                    .await?
                    .rows_affected;
                if changed != 1 {
                    return Err(Contended("the resident's sign-up changed meanwhile").into());
                }
                let row = signup::Model {
                    status: status.as_str().to_owned(),
                    seq: *seq,
                    reason: None,
                    regular,
                    updated_at: now,
                    ..old.clone()
                };
                rows.insert(acting.resident, row);
            }
            None => {
                users.push(acting.resident);
                fresh.push(signup::ActiveModel {
                    activity_id: Set(id),
                    user_id: Set(acting.resident),
                    status: Set(status.as_str().to_owned()),
                    seq: Set(*seq),
                    reason: Set(None),
                    regular: Set(regular),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                })
            }
        }
    }
    if fresh.is_empty() {
        return Ok(rows);
    }
    let inserted = if txn.support_returning() {
        signup::Entity::insert_many(fresh).exec_with_returning(txn).await?
    } else {
        signup::Entity::insert_many(fresh).exec_without_returning(txn).await?;
        signup::Entity::find()
            .filter(signup::Column::ActivityId.eq(id))
            .filter(signup::Column::UserId.is_in(users))
            .all(txn)
            .await?
    };
    rows.extend(inserted.into_iter().map(|s| (s.user_id, s)));
    Ok(rows)
}
