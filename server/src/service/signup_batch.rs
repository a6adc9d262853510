//! Sign-ups applied in batches: a crowd on one activity, or on many, at the database's pace
//! (issue 17).
//!
//! Every sign-up — a resident's tap, a proxy's, a series regular's — goes through
//! [`SignupQueue::submit`]. Requests wait in their activity's lane in this process; a few
//! writer tasks (half the pool's connections) each take the waiting requests of one or more
//! activities, up to [`MAX_BATCH`], and apply them in one transaction ([`apply`]): the
//! residents' rows are locked (ids sorted), their own checks (a clashing place, no-shows in
//! 90 days) read in two queries for the whole batch, the activities' rows are locked (ids
//! sorted), places are given in arrival order in memory, and one UPDATE of each activity's
//! counters, one INSERT of the sign-ups and one INSERT of the notices write them all — one
//! commit, one lock hold, for the batch. A lone request is applied at once as a batch of
//! one; while batches are being applied, the next ones gather, so batches grow only when
//! requests arrive faster than the database takes them. Fifty activities with a request or
//! two waiting each are one transaction, not fifty.
//!
//! A batch takes its lanes oldest first (by each lane's first waiting request). An activity
//! is in at most one batch at a time in this process, so its requests are applied in
//! arrival order; a resident is in at most one activity of a batch (their next request
//! elsewhere waits for the next batch, and so does the rest of that lane), so the no-clash
//! check, read before the batch's own places are written, stays exact.
//!
//! **Fairness.** Within a replica, first come, first served by arrival, per activity.
//! Across replicas, each replica's batches take an activity's row lock in turn (PostgreSQL
//! queues lock waiters in order), so a request can be overtaken by requests that reached
//! another replica after it by at most the batch that replica is applying when it arrives
//! (at most [`MAX_BATCH`] requests, a few milliseconds of work).
//!
//! **Exactness** is the transaction's: the counters are read under the row locks and
//! written back with the batch, and the unique (activity, resident) index still refuses a
//! second row. A batch that fails as a whole for something other than contention is applied
//! again one request at a time, so one request's fault never sinks its neighbours.

use std::collections::{HashMap, HashSet, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Alias, CaseStatement, Expr, ExprTrait, Query, SelectStatement, UnionType},
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

/// The most sign-ups applied in one transaction. Bounds how long one batch holds its
/// activities' rows, and so how far a request at another replica can be overtaken.
pub const MAX_BATCH: usize = 64;

/// What one sign-up asks: a place for `acting.resident` in `activity`.
#[derive(Clone, Copy, Debug)]
struct Request {
    activity: i64,
    acting: Acting,
    via: SignupVia,
}

/// One sign-up waiting in its activity's lane.
struct Ask {
    request: Request,
    /// This process's arrival order.
    arrived: u64,
    reply: oneshot::Sender<AppResult<SignupOutcome>>,
}

impl std::fmt::Debug for Ask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ask").field("request", &self.request).field("arrived", &self.arrived).finish()
    }
}

/// The lanes and who serves them, under one lock.
#[derive(Debug, Default)]
struct Lanes {
    /// Per activity, its waiting requests in arrival order (no empty lanes).
    waiting: HashMap<i64, VecDeque<Ask>>,
    /// The activities in a batch being applied: their next requests wait for it.
    busy: HashSet<i64>,
    /// Writer tasks running.
    writers: usize,
    arrivals: u64,
}

impl Lanes {
    /// The next batch: lanes not busy, oldest first request first, each lane's requests in
    /// order until [`MAX_BATCH`] or a resident already in the batch for another activity.
    /// Marks the batch's activities busy.
    fn take(&mut self) -> Vec<Ask> {
        let mut ready: Vec<(u64, i64)> = self
            .waiting
            .iter()
            .filter(|(id, _)| !self.busy.contains(*id))
            .filter_map(|(id, lane)| lane.front().map(|ask| (ask.arrived, *id)))
            .collect();
        ready.sort_unstable();
        let mut batch = Vec::new();
        let mut residents: HashMap<i64, i64> = HashMap::new();
        for (_, id) in ready {
            if batch.len() == MAX_BATCH {
                break;
            }
            let Some(lane) = self.waiting.get_mut(&id) else { continue };
            let before = batch.len();
            while batch.len() < MAX_BATCH {
                let Some(ask) = lane.front() else { break };
                if *residents.entry(ask.request.acting.resident).or_insert(id) != id {
                    break;
                }
                batch.extend(lane.pop_front());
            }
            if lane.is_empty() {
                self.waiting.remove(&id);
            }
            if batch.len() > before {
                self.busy.insert(id);
            }
        }
        batch
    }
}

/// This process's sign-up lanes and their writers.
#[derive(Debug)]
pub struct SignupQueue {
    lanes: Mutex<Lanes>,
    /// How many batches are applied at once. Each holds a database connection for its
    /// transaction; the rest of the pool stays free for the requests themselves (who is
    /// signing up), and requests waiting meanwhile gather into larger batches. Measured:
    /// with a writer per busy activity, fifty busy activities took the whole pool and the
    /// crowd slowed to a third of one activity's rate.
    max_writers: usize,
}

impl SignupQueue {
    /// Batches are applied on at most half the pool's connections at once (at least one).
    pub fn new(pool_connections: u32) -> Self {
        SignupQueue { lanes: Mutex::default(), max_writers: (pool_connections as usize / 2).max(1) }
    }

    fn lanes(&self) -> std::sync::MutexGuard<'_, Lanes> {
        self.lanes.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues a sign-up of `acting.resident` for activity `id` and waits for its answer.
    /// The answer is the place-taking rules' ([`apply`]); a request whose caller goes away
    /// meanwhile is still applied (a repeat then answers with the sign-up it made).
    ///
    /// Errors: whatever [`apply`] refuses with; 503 `service_unavailable` if its batch
    /// panicked (nothing of it was written).
    pub(crate) async fn submit(ctx: &AppContext, acting: Acting, id: i64, via: SignupVia) -> AppResult<SignupOutcome> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut lanes = ctx.signups.lanes();
            lanes.arrivals += 1;
            let arrived = lanes.arrivals;
            lanes.waiting.entry(id).or_default().push_back(Ask {
                request: Request { activity: id, acting, via },
                arrived,
                reply,
            });
            // A busy activity's writer takes its lane next; otherwise a writer to spare starts.
            let start = lanes.writers < ctx.signups.max_writers && !lanes.busy.contains(&id);
            lanes.writers += usize::from(start);
            start
        };
        if start {
            let ctx = ctx.clone();
            tokio::spawn(async move { write(ctx).await });
        }
        answer.await.unwrap_or_else(|_| Err(AppError::Unavailable("sign-ups are being restarted; try again".into())))
    }
}

/// A writer: applies batches until none is left to take. A writer finding only busy lanes
/// stops; the busy lanes' writers take them next.
async fn write(ctx: AppContext) {
    loop {
        let batch = {
            let mut lanes = ctx.signups.lanes();
            let batch = lanes.take();
            if batch.is_empty() {
                lanes.writers -= 1;
                return;
            }
            batch
        };
        metrics::histogram!("linli_signup_batch_size").record(batch.len() as f64);
        let requests: Vec<Request> = batch.iter().map(|ask| ask.request).collect();
        let answers = AssertUnwindSafe(answer(&ctx, &requests)).catch_unwind().await.unwrap_or_else(|_| {
            tracing::error!(size = requests.len(), "sign-up batch panicked; nothing of it was written");
            requests
                .iter()
                .map(|_| Err(AppError::Unavailable("the sign-up could not be applied; try again".into())))
                .collect()
        });
        {
            let mut lanes = ctx.signups.lanes();
            for request in &requests {
                lanes.busy.remove(&request.activity);
            }
        }
        for (ask, answer) in batch.into_iter().zip(answers) {
            let _ = ask.reply.send(answer); // the caller may have gone; the sign-up stands
        }
    }
}

/// Applies a batch (again when contended); a batch failing as a whole otherwise is applied
/// one request at a time, so each request gets its own answer.
async fn answer(ctx: &AppContext, requests: &[Request]) -> Vec<AppResult<SignupOutcome>> {
    match retrying(|| apply(ctx, requests)).await {
        Ok(answers) => answers,
        Err(e) if requests.len() == 1 => vec![Err(e)],
        Err(e) => {
            tracing::warn!(error = %e, size = requests.len(), "sign-up batch failed; applying one at a time");
            let mut one_by_one = Vec::with_capacity(requests.len());
            for request in requests {
                let alone = retrying(|| apply(ctx, std::slice::from_ref(request))).await;
                one_by_one.push(alone.and_then(|mut answers| {
                    answers.pop().unwrap_or_else(|| Err(AppError::Internal(anyhow::anyhow!("no answer"))))
                }));
            }
            one_by_one
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

/// What concerns only the residents, for the whole batch in two queries: which of them
/// hold a place in another published activity overlapping the one they ask for (as
/// (activity, resident) pairs), and each one's no-shows in 90 days (no-shows waived by
/// staff not counted).
async fn resident_checks(
    db: &impl ConnectionTrait,
    requests: &[Request],
    users: &[i64],
    open: &[&activity::Model],
    now: DateTime<Utc>,
) -> AppResult<(HashSet<(i64, i64)>, HashMap<i64, u64>)> {
    let (n, asked_for) = (Alias::new("n"), Alias::new("asked_for"));
    let mut clash: Option<SelectStatement> = None;
    for a in open {
        let users = requests.iter().filter(|r| r.activity == a.id).map(|r| r.acting.resident);
        let mut one = activities::holding_clashing_place(a);
        one.expr_as(Expr::val(a.id), asked_for.clone()).and_where(signup::Column::UserId.is_in(users));
        match clash.as_mut() {
            Some(all) => {
                all.union(UnionType::All, one);
            }
            None => clash = Some(one),
        }
    }
    let Some(clash) = clash else { return Ok(Default::default()) };
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
    let mut clashing = HashSet::new();
    for row in db.query_all_raw(backend.build(&clash)).await? {
        clashing.insert((row.try_get::<i64>("", "asked_for")?, row.try_get::<i64>("", "user_id")?));
    }
    let mut counts = HashMap::new();
    for row in db.query_all_raw(backend.build(&no_shows)).await? {
        counts.insert(row.try_get::<i64>("", "user_id")?, Ord::max(row.try_get::<i64>("", "n")?, 0) as u64);
    }
    Ok((clashing, counts))
}

/// An activity's counters as a batch moves them.
#[derive(Clone, Copy, Debug)]
struct Counters {
    confirmed: i32,
    waitlisted: i32,
    seq: i64,
}

/// What the activity itself answers every request for it, before any resident's own
/// case: not there, closed, or its organization not taking sign-ups.
fn gate(a: Option<&activity::Model>, orgs: &HashMap<i64, String>) -> Option<Refused> {
    let Some(a) = a else { return Some(Refused::NotFound) };
    closed(a).or_else(|| {
        let active =
            orgs.get(&a.organization_id).and_then(|s| OrgStatus::parse(s)).is_some_and(OrgStatus::is_recognised);
        (!active).then_some(Refused::OrganizationNotActive)
    })
}

/// The place-taking rules for one resident's first request in the batch, against the
/// activity as locked and its counters so far: a repeat keeps its sign-up; else a place
/// while one is free, the waitlist when full (only the waitlist past the no-show limit),
/// else refused.
fn plan(
    a: &activity::Model,
    old: Option<signup::Model>,
    counters: &mut Counters,
    clashes: bool,
    misses: u64,
    limit: u64,
    now: DateTime<Utc>,
) -> Plan {
    if let Some(r) = closed(a) {
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
    if clashes {
        return Plan::Refuse(Refused::ScheduleConflict);
    }
    let restricted = limit > 0 && misses >= limit;
    let note = restricted
        .then(|| format!("近 90 天内有 {misses} 次报名后未到场，新的报名只能进入候补；有空位时将按顺序为您确认。"));
    let (status, position) = if !restricted && counters.confirmed < a.capacity {
        counters.confirmed += 1;
        (SignupStatus::Confirmed, None)
    } else if a.waitlist_enabled {
        counters.waitlisted += 1;
        (SignupStatus::Waitlisted, Some(i64::from(counters.waitlisted)))
    } else {
        return Plan::Refuse(if restricted { Refused::NoShowLimit } else { Refused::Full });
    };
    counters.seq += 1;
    Plan::Take { status, seq: counters.seq, position, note, old }
}

/// Applies a batch of sign-ups, for one activity or several, in one transaction and
/// answers each in order (see the module's text). The rules are those of `POST
/// /activities/{id}/signups`: a place while one is free, else the waitlist (only the
/// waitlist for a resident past the no-show limit), else refused; a repeat answers with
/// the existing sign-up. A resident asks for at most one activity in a batch.
///
/// Errors (the batch as a whole, nothing written): database failures, [`Contended`] when
/// an activity moved in time between the residents' checks and its lock, or vanished
/// (run again).
async fn apply(ctx: &AppContext, requests: &[Request]) -> AppResult<Vec<AppResult<SignupOutcome>>> {
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let mut users: Vec<i64> = requests.iter().map(|r| r.acting.resident).collect();
    users.sort_unstable();
    users.dedup();
    // One place-taking transaction per resident at a time (two phones, two activities).
    lock_users(&txn, &users).await?;
    let mut ids: Vec<i64> = requests.iter().map(|r| r.activity).collect();
    ids.sort_unstable();
    ids.dedup();
    let seen: HashMap<i64, activity::Model> = activity::Entity::find()
        .filter(activity::Column::Id.is_in(ids.clone()))
        .all(&txn)
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    let orgs: HashMap<i64, String> = organization::Entity::find()
        .filter(organization::Column::Id.is_in(seen.values().map(|a| a.organization_id)))
        .all(&txn)
        .await?
        .into_iter()
        .map(|o| (o.id, o.status))
        .collect();
    let gates: HashMap<i64, Refused> =
        ids.iter().filter_map(|id| gate(seen.get(id), &orgs).map(|r| (*id, r))).collect();
    let open: Vec<&activity::Model> =
        ids.iter().filter(|id| !gates.contains_key(id)).filter_map(|id| seen.get(id)).collect();
    let (clashing, no_shows) = resident_checks(&txn, requests, &users, &open, now).await?;

    // The activities' rows from here to the commit (ids sorted): counters, and the
    // residents' rows of them.
    let open_ids: Vec<i64> = open.iter().map(|a| a.id).collect();
    let locked: HashMap<i64, activity::Model> = if open_ids.is_empty() {
        HashMap::new()
    } else {
        activity::Entity::find()
            .filter(activity::Column::Id.is_in(open_ids.clone()))
            .order_by_asc(activity::Column::Id)
            .lock_exclusive()
            .all(&txn)
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect()
    };
    for a in &open {
        match locked.get(&a.id) {
            Some(l) if (l.starts_at, l.ends_at) == (a.starts_at, a.ends_at) => {}
            _ => return Err(Contended("an activity moved while its sign-ups were checked").into()),
        }
    }
    let mut existing: HashMap<(i64, i64), signup::Model> = if open_ids.is_empty() {
        HashMap::new()
    } else {
        signup::Entity::find()
            .filter(signup::Column::ActivityId.is_in(open_ids))
            .filter(signup::Column::UserId.is_in(users.iter().copied()))
            .all(&txn)
            .await?
            .into_iter()
            .map(|s| ((s.activity_id, s.user_id), s))
            .collect()
    };

    let limit = u64::from(ctx.config.no_show_limit);
    let mut counters: HashMap<i64, Counters> = locked
        .values()
        .map(|a| (a.id, Counters { confirmed: a.confirmed_count, waitlisted: a.waitlist_count, seq: a.signup_seq }))
        .collect();
    let mut first = HashMap::new();
    let mut plans = Vec::with_capacity(requests.len());
    for (i, r) in requests.iter().enumerate() {
        let key = (r.activity, r.acting.resident);
        if let Some(&j) = first.get(&key) {
            plans.push(Plan::Repeat(j));
            continue;
        }
        first.insert(key, i);
        plans.push(match (gates.get(&r.activity), locked.get(&r.activity), counters.get_mut(&r.activity)) {
            (Some(refused), _, _) => Plan::Refuse(*refused),
            (None, Some(a), Some(c)) => {
                let misses = no_shows.get(&r.acting.resident).copied().unwrap_or(0);
                plan(a, existing.remove(&key), c, clashing.contains(&key), misses, limit, now)
            }
            _ => Plan::Refuse(Refused::NotFound),
        });
    }

    let mut made: HashMap<(i64, i64), signup::Model> = HashMap::new();
    if plans.iter().any(|p| matches!(p, Plan::Take { .. })) {
        write_counters(&txn, &locked, &counters).await?;
        made = write_signups(&txn, requests, &plans, now).await?;
        let mut notices = Vec::new();
        for (plan, r) in plans.iter().zip(requests) {
            if let (Plan::Take { status: SignupStatus::Confirmed, seq, .. }, Some(a)) = (plan, locked.get(&r.activity))
            {
                // A regular was told once that every date signs them up; each date reminds them.
                if r.via == SignupVia::Resident {
                    notices.push(activities::confirmed_notice(a, r.acting.resident, *seq));
                }
                notices.extend(activities::reminders(a, r.acting.resident, now, &ctx.config.reminder_offsets));
            }
        }
        enqueue(&txn, notices, now).await?;
        for (plan, r) in plans.iter().zip(requests) {
            if matches!(plan, Plan::Take { .. }) {
                crate::service::proxies::record_signup_act(&txn, r.acting, r.activity, ProxyAct::SignedUp, now).await?;
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

    let answer = |plan: &Plan, key: (i64, i64)| -> AppResult<SignupOutcome> {
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
                    .get(&key)
                    .cloned()
                    .ok_or_else(|| AppError::Internal(anyhow::anyhow!("sign-up {key:?} not written")))?;
                Ok(SignupOutcome { signup, waitlist_position: *position, created: true, note: note.clone() })
            }
            Plan::Repeat(_) => Err(AppError::Internal(anyhow::anyhow!("a repeat of a repeat"))),
            Plan::Broken(why) => Err(AppError::Internal(anyhow::anyhow!("{why}"))),
        }
    };
    Ok(plans
        .iter()
        .zip(requests)
        .map(|(plan, r)| {
            let key = (r.activity, r.acting.resident);
            match plan {
                Plan::Repeat(j) => answer(&plans[*j], key).map(|o| SignupOutcome { created: false, note: None, ..o }),
                plan => answer(plan, key),
            }
        })
        .collect())
}

/// Writes the counters of the batch's activities that gave places or waitlist spots, in one
/// UPDATE (a `CASE` per column), each row only if its sequence is still as locked.
///
/// Errors: [`Contended`] when a row's sequence moved (cannot under its lock; run again).
async fn write_counters(
    txn: &DatabaseTransaction,
    locked: &HashMap<i64, activity::Model>,
    counters: &HashMap<i64, Counters>,
) -> AppResult<()> {
    let mut moved: Vec<(i64, i64, Counters)> = locked
        .values()
        .filter_map(|a| counters.get(&a.id).filter(|c| c.seq != a.signup_seq).map(|c| (a.id, a.signup_seq, *c)))
        .collect();
    if moved.is_empty() {
        return Ok(());
    }
    moved.sort_unstable_by_key(|(id, ..)| *id);
    let (mut confirmed, mut waitlisted, mut seq, mut was) =
        (CaseStatement::new(), CaseStatement::new(), CaseStatement::new(), CaseStatement::new());
    for (id, old_seq, c) in &moved {
        let this = || activity::Column::Id.eq(*id);
        confirmed = confirmed.case(this(), c.confirmed);
        waitlisted = waitlisted.case(this(), c.waitlisted);
        seq = seq.case(this(), c.seq);
        was = was.case(this(), *old_seq);
    }
    let changed = activity::Entity::update_many()
        .col_expr(activity::Column::ConfirmedCount, confirmed.into())
        .col_expr(activity::Column::WaitlistCount, waitlisted.into())
        .col_expr(activity::Column::SignupSeq, seq.into())
        .filter(activity::Column::Id.is_in(moved.iter().map(|(id, ..)| *id)))
        .filter(Expr::col(activity::Column::SignupSeq).eq(Into::<Expr>::into(was)))
        .exec(txn)
        .await?
        .rows_affected;
    if changed != moved.len() as u64 {
        return Err(Contended("an activity's counters changed under its lock").into());
    }
    Ok(())
}

/// Writes the batch's places: one INSERT for the new rows, and each resident's cancelled
/// row taken again only if it is still as read (else the batch runs again). Returns the
/// rows by (activity, resident).
async fn write_signups(
    txn: &DatabaseTransaction,
    requests: &[Request],
    plans: &[Plan],
    now: DateTime<Utc>,
) -> AppResult<HashMap<(i64, i64), signup::Model>> {
    let mut rows = HashMap::new();
    let mut fresh = Vec::new();
    let mut keys = HashSet::new();
    for (plan, r) in plans.iter().zip(requests) {
        let Plan::Take { status, seq, old, .. } = plan else { continue };
        let regular = r.via == SignupVia::Regular;
        let key = (r.activity, r.acting.resident);
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
                rows.insert(key, row);
            }
            None => {
                keys.insert(key);
                fresh.push(signup::ActiveModel {
                    activity_id: Set(r.activity),
                    user_id: Set(r.acting.resident),
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
            .filter(signup::Column::ActivityId.is_in(keys.iter().map(|(activity, _)| *activity)))
            .filter(signup::Column::UserId.is_in(keys.iter().map(|(_, user)| *user)))
            .all(txn)
            .await?
    };
    rows.extend(inserted.into_iter().map(|s| ((s.activity_id, s.user_id), s)).filter(|(key, _)| keys.contains(key)));
    Ok(rows)
}
