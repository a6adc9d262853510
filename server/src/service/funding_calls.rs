//! Funding calls (申报通知): a street office or civil affairs (or the organization it
//! entrusts, e.g. a hub) drafts a call — fund, budget in fen, categories and groups sought,
//! eligibility, the application window, the review rubric (the ratings' indicator tree) —
//! opens it, names its reviewers, and marks it decided once every application is. Every
//! step is kept in `funding_events`.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    sea_query::Expr,
};

use crate::{
    auth::{
        AuthUser,
        scope::{holds_region_role, region_path},
    },
    context::AppContext,
    domain::{
        funding::{ApplicationStatus, CallEligibility, CallStatus, Fund, rubric_problems},
        organization::{Category, ServiceTarget},
        rating::Indicator,
        role::Role,
    },
    entity::{funding_application, funding_call, funding_event, funding_reviewer, user},
    error::{AppError, AppResult, FieldError},
    service::{begin_write, organization_scope::regions_under},
};

/// What a call says, as written by its funder.
#[derive(Clone, Debug)]
pub struct CallInput {
    pub region_id: i64,
    pub entrusted_org_id: Option<i64>,
    pub title: String,
    pub fund: Fund,
    pub budget_fen: i64,
    pub categories: Vec<Category>,
    pub targets: Vec<ServiceTarget>,
    pub eligibility: CallEligibility,
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    pub notice_days: i32,
    pub rubric: Vec<Indicator>,
}

/// A call with what its readers need.
#[derive(Clone, Debug)]
pub struct CallView {
    pub call: funding_call::Model,
    /// `closed` when open and its window has ended.
    pub status: CallStatus,
    pub categories: Vec<Category>,
    pub targets: Vec<ServiceTarget>,
    pub eligibility: CallEligibility,
    pub rubric: Vec<Indicator>,
    /// `(user id, nickname)`: for the funder and the reviewers only.
    pub reviewers: Option<Vec<(i64, Option<String>)>>,
    pub applications: u64,
    pub granted_fen: i64,
}

fn csv<T: Copy>(v: &[T], s: impl Fn(T) -> &'static str) -> String {
    v.iter().map(|x| s(*x)).collect::<Vec<_>>().join(",")
}

fn parse_csv<T>(s: &str, p: impl Fn(&str) -> Option<T>) -> Vec<T> {
    s.split(',').filter_map(|x| p(x.trim())).collect()
}

/// A call's effective state at `now`.
pub fn status_at(m: &funding_call::Model, now: DateTime<Utc>) -> CallStatus {
    match CallStatus::parse(&m.status).unwrap_or(CallStatus::Draft) {
        CallStatus::Open if now >= m.closes_at => CallStatus::Closed,
        s => s,
    }
}

pub async fn find(db: &impl ConnectionTrait, id: i64) -> AppResult<funding_call::Model> {
    funding_call::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("funding call"))
}

/// The office that funds: the street office or civil affairs over the call's region.
pub async fn is_funder(db: &impl ConnectionTrait, user: &AuthUser, call: &funding_call::Model) -> AppResult<bool> {
    Ok(holds_region_role(user, &[Role::Street, Role::CivilAffairs], &region_path(db, call.region_id).await?))
}

/// The funder, or the staff (and leaders) of the hub organization it entrusted with
/// running the call. Decisions and agreements stay with the funder.
pub async fn runs(db: &impl ConnectionTrait, user: &AuthUser, call: &funding_call::Model) -> AppResult<bool> {
    let entrusted = call.entrusted_org_id.is_some_and(|org| crate::service::hubs::is_hub_staff(user, org));
    Ok(entrusted || is_funder(db, user, call).await?)
}

pub async fn is_reviewer(db: &impl ConnectionTrait, user_id: i64, call_id: i64) -> AppResult<bool> {
    Ok(funding_reviewer::Entity::find()
        .filter(funding_reviewer::Column::CallId.eq(call_id))
        .filter(funding_reviewer::Column::UserId.eq(user_id))
        .count(db)
        .await?
        > 0)
}

/// Records one step of a call, an application or a project.
pub async fn event(
    db: &impl ConnectionTrait,
    subject: &str,
    id: i64,
    action: &str,
    actor: Option<i64>,
    comment: Option<String>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    funding_event::Entity::insert(funding_event::ActiveModel {
        subject: Set(subject.to_owned()),
        subject_id: Set(id),
        action: Set(action.to_owned()),
        actor_id: Set(actor),
        comment: Set(comment),
        at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The history of one subject, oldest first.
pub async fn history(db: &impl ConnectionTrait, subject: &str, id: i64) -> AppResult<Vec<funding_event::Model>> {
    Ok(funding_event::Entity::find()
        .filter(funding_event::Column::Subject.eq(subject))
        .filter(funding_event::Column::SubjectId.eq(id))
        .order_by_asc(funding_event::Column::Id)
        .all(db)
        .await?)
}

fn check(input: &CallInput) -> Vec<FieldError> {
    let mut out = rubric_problems(&input.rubric, "rubric");
    if !(1..=crate::domain::funding::MAX_FEN).contains(&input.budget_fen) {
        out.push(FieldError::new("budget_fen", "range", "资金池须为 1 分到 1 亿元"));
    }
    if input.closes_at <= input.opens_at {
        out.push(FieldError::new("closes_at", "order", "截止时间须晚于开始时间"));
    }
    if !(1..=30).contains(&input.notice_days) {
        out.push(FieldError::new("notice_days", "range", "公示期须为 1–30 天"));
    }
    out
}

/// Drafts a call. The street office or civil affairs over `region_id`; 422 lists every
/// problem (rubric, budget, window, notice days).
pub async fn create(ctx: &AppContext, user: &AuthUser, input: CallInput) -> AppResult<CallView> {
    let path = region_path(&ctx.db, input.region_id).await?;
    if !holds_region_role(user, &[Role::Street, Role::CivilAffairs], &path) {
        return Err(AppError::Forbidden("requires the street office or civil affairs over the region"));
    }
    let problems = check(&input);
    if !problems.is_empty() {
        return Err(AppError::Validation(problems));
    }
    if let Some(org) = input.entrusted_org_id
        && !crate::service::hubs::is_hub(&ctx.db, org).await?
    {
        return Err(AppError::invalid("entrusted_org_id", "not_a_hub", "只能委托枢纽型社会组织运行申报"));
    }
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let id = funding_call::Entity::insert(active(&input, now, user.id)).exec(&txn).await?.last_insert_id;
    event(&txn, "call", id, "drafted", Some(user.id), None, now).await?;
    txn.commit().await?;
    get(ctx, Some(user), id).await
}

fn active(input: &CallInput, now: DateTime<Utc>, by: i64) -> funding_call::ActiveModel {
    funding_call::ActiveModel {
        region_id: Set(input.region_id),
        entrusted_org_id: Set(input.entrusted_org_id),
        title: Set(input.title.clone()),
        fund: Set(input.fund.as_str().to_owned()),
        budget_fen: Set(input.budget_fen),
        categories: Set(csv(&input.categories, Category::as_str)),
        targets: Set(csv(&input.targets, ServiceTarget::as_str)),
        eligibility: Set(serde_json::to_string(&input.eligibility).unwrap_or_else(|_| "{}".into())),
        opens_at: Set(input.opens_at),
        closes_at: Set(input.closes_at),
        rubric: Set(serde_json::to_string(&input.rubric).unwrap_or_else(|_| "[]".into())),
        notice_days: Set(input.notice_days),
        status: Set(CallStatus::Draft.as_str().to_owned()),
        created_by: Set(by),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
}

/// Rewrites a draft call (its region stays). Those who run it; 409 `call_not_draft` once open.
pub async fn update(ctx: &AppContext, user: &AuthUser, id: i64, input: CallInput) -> AppResult<CallView> {
    let m = find(&ctx.db, id).await?;
    if !runs(&ctx.db, user, &m).await? {
        return Err(AppError::Forbidden("requires the call's funder"));
    }
    let problems = check(&input);
    if !problems.is_empty() {
        return Err(AppError::Validation(problems));
    }
    let now = ctx.now();
    // Only the funder moves the money or the entrustment; those it entrusted run the rest.
    let input = if is_funder(&ctx.db, user, &m).await? {
        input
    } else {
        CallInput { entrusted_org_id: m.entrusted_org_id, budget_fen: m.budget_fen, ..input }
    };
    let mut am = active(&CallInput { region_id: m.region_id, ..input }, now, m.created_by);
    am.created_at = sea_orm::ActiveValue::NotSet;
    am.created_by = sea_orm::ActiveValue::NotSet;
    am.status = sea_orm::ActiveValue::NotSet;
    let res = funding_call::Entity::update_many()
        .set(am)
        .filter(funding_call::Column::Id.eq(id))
        .filter(funding_call::Column::Status.eq(CallStatus::Draft.as_str()))
        .exec(&ctx.db)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::Conflict("call_not_draft", "申报通知已发布，不能修改".into()));
    }
    event(&ctx.db, "call", id, "edited", Some(user.id), None, now).await?;
    get(ctx, Some(user), id).await
}

/// Opens a draft call for applications (idempotent). 409 `call_window_over` when its
/// window has already ended.
pub async fn open(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<CallView> {
    let m = find(&ctx.db, id).await?;
    if !runs(&ctx.db, user, &m).await? {
        return Err(AppError::Forbidden("requires the call's funder"));
    }
    let now = ctx.now();
    if m.status == CallStatus::Draft.as_str() {
        if now >= m.closes_at {
            return Err(AppError::Conflict("call_window_over", "申报截止时间已过，请先修改时间".into()));
        }
        let txn = begin_write(&ctx.db).await?;
        let res = funding_call::Entity::update_many()
            .col_expr(funding_call::Column::Status, Expr::value(CallStatus::Open.as_str()))
            .col_expr(funding_call::Column::OpenedAt, Expr::value(now))
            .filter(funding_call::Column::Id.eq(id))
            .filter(funding_call::Column::Status.eq(CallStatus::Draft.as_str()))
            .exec(&txn)
            .await?;
        if res.rows_affected > 0 {
            event(&txn, "call", id, "opened", Some(user.id), None, now).await?;
        }
        txn.commit().await?;
    }
    get(ctx, Some(user), id).await
}

/// Names a reviewer of the call (idempotent). Those who run it; 422 for no such person.
pub async fn add_reviewer(ctx: &AppContext, user: &AuthUser, id: i64, person: i64) -> AppResult<CallView> {
    let m = find(&ctx.db, id).await?;
    if !runs(&ctx.db, user, &m).await? {
        return Err(AppError::Forbidden("requires the call's funder"));
    }
    user::Entity::find_by_id(person)
        .one(&ctx.db)
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or_else(|| AppError::invalid("user_id", "not_found", "user_id 指定的用户不存在"))?;
    if !is_reviewer(&ctx.db, person, id).await? {
        let now = ctx.now();
        let res = funding_reviewer::Entity::insert(funding_reviewer::ActiveModel {
            call_id: Set(id),
            user_id: Set(person),
            added_by: Set(user.id),
            created_at: Set(now),
            ..Default::default()
        })
        .exec_without_returning(&ctx.db)
        .await;
        match res {
            Ok(_) => event(&ctx.db, "call", id, "reviewer_added", Some(user.id), Some(person.to_string()), now).await?,
            Err(e) if crate::service::is_unique_violation(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    get(ctx, Some(user), id).await
}

/// Marks a call decided: every submitted application has a decision. The funder; 409
/// `applications_undecided` otherwise, `call_not_closed` while it still takes applications.
pub async fn decide(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<CallView> {
    let m = find(&ctx.db, id).await?;
    if !is_funder(&ctx.db, user, &m).await? {
        return Err(AppError::Forbidden("requires the call's funder"));
    }
    let now = ctx.now();
    match status_at(&m, now) {
        CallStatus::Decided => return get(ctx, Some(user), id).await,
        CallStatus::Closed => {}
        _ => return Err(AppError::Conflict("call_not_closed", "申报尚未截止".into())),
    }
    let txn = begin_write(&ctx.db).await?;
    let waiting = funding_application::Entity::find()
        .filter(funding_application::Column::CallId.eq(id))
        .filter(funding_application::Column::Status.eq(ApplicationStatus::Submitted.as_str()))
        .count(&txn)
        .await?;
    if waiting > 0 {
        return Err(AppError::Conflict("applications_undecided", format!("还有 {waiting} 份申报未作决定")));
    }
    funding_call::Entity::update_many()
        .col_expr(funding_call::Column::Status, Expr::value(CallStatus::Decided.as_str()))
        .col_expr(funding_call::Column::DecidedAt, Expr::value(now))
        .filter(funding_call::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    event(&txn, "call", id, "decided", Some(user.id), None, now).await?;
    txn.commit().await?;
    get(ctx, Some(user), id).await
}

/// One call: open, closed and decided ones for anyone; drafts for those who run it.
pub async fn get(ctx: &AppContext, user: Option<&AuthUser>, id: i64) -> AppResult<CallView> {
    let m = find(&ctx.db, id).await?;
    let insider = match user {
        Some(u) => runs(&ctx.db, u, &m).await? || is_reviewer(&ctx.db, u.id, id).await?,
        None => false,
    };
    if m.status == CallStatus::Draft.as_str() && !insider {
        return Err(AppError::NotFound("funding call"));
    }
    view(ctx, m, insider).await
}

async fn view(ctx: &AppContext, m: funding_call::Model, insider: bool) -> AppResult<CallView> {
    let reviewers = if insider {
        let ids: Vec<i64> = funding_reviewer::Entity::find()
            .filter(funding_reviewer::Column::CallId.eq(m.id))
            .order_by_asc(funding_reviewer::Column::Id)
            .all(&ctx.db)
            .await?
            .into_iter()
            .map(|r| r.user_id)
            .collect();
        let names = crate::service::expert_pools::nicknames(&ctx.db, ids.clone()).await?;
        Some(ids.into_iter().map(|i| (i, names.get(&i).cloned().flatten())).collect())
    } else {
        None
    };
    let apps = funding_application::Entity::find()
        .filter(funding_application::Column::CallId.eq(m.id))
        .filter(funding_application::Column::Status.ne(ApplicationStatus::Draft.as_str()))
        .all(&ctx.db)
        .await?;
    // Granted = the projects' amounts now (amendments included).
    let granted_fen = crate::entity::project::Entity::find()
        .filter(crate::entity::project::Column::CallId.eq(m.id))
        .all(&ctx.db)
        .await?
        .iter()
        .map(|p| p.amount_fen)
        .sum();
    Ok(CallView {
        status: status_at(&m, ctx.now()),
        categories: parse_csv(&m.categories, Category::parse),
        targets: parse_csv(&m.targets, ServiceTarget::parse),
        eligibility: serde_json::from_str(&m.eligibility).unwrap_or_default(),
        rubric: serde_json::from_str(&m.rubric).unwrap_or_default(),
        reviewers,
        applications: apps.len() as u64,
        granted_fen,
        call: m,
    })
}

/// Calls under (or over) a region that are not drafts, newest first; a funder also sees
/// its drafts. Anyone.
pub async fn list(ctx: &AppContext, user: Option<&AuthUser>, region_id: Option<i64>) -> AppResult<Vec<CallView>> {
    let mut q = funding_call::Entity::find().order_by_desc(funding_call::Column::Id);
    if let Some(r) = region_id {
        let path = region_path(&ctx.db, r).await?;
        let over: Vec<i64> = crate::service::rating_schemes::ids_on(&path);
        q = q.filter(
            sea_orm::Condition::any()
                .add(funding_call::Column::RegionId.in_subquery(regions_under(&[path])))
                .add(funding_call::Column::RegionId.is_in(over)),
        );
    }
    let mut out = Vec::new();
    for m in q.all(&ctx.db).await? {
        let insider = match user {
            Some(u) => runs(&ctx.db, u, &m).await?,
            None => false,
        };
        if m.status == CallStatus::Draft.as_str() && !insider {
            continue;
        }
        out.push(view(ctx, m, insider).await?);
    }
    Ok(out)
}
