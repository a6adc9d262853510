//! Applications to a funding call: an organization's leader writes the proposal, its
//! deliverables as numbers and a budget that adds up to the amount asked, and submits it
//! in the call's window when the organization is eligible. Reviewers each declare that
//! they have no conflict of interest before they may see the scores or score the rubric;
//! the funder decides (an amount that may be less than asked, with reasons; never past
//! the call's budget), which starts a public notice period and a project.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, sea_query::Expr};

use crate::{
    auth::{
        AuthUser,
        scope::{path_covers, region_path},
    },
    context::AppContext,
    domain::{
        funding::{
            ApplicationStatus, BudgetLine, CallEligibility, CallStatus, Deliverable, ProjectStatus, Proposal,
            budget_problems, deliverable_problems,
        },
        organization::OrgStatus,
        rating::{Indicator, leaves_of, mark_problems, mean_tenths},
        role::Role,
    },
    entity::{
        funding_application, funding_call, funding_conflict, funding_event, funding_score, organization, project,
    },
    error::{AppError, AppResult, FieldError},
    service::{
        abnormal, begin_write,
        funding_calls::{self, event, find as find_call, is_funder, is_reviewer, runs, status_at},
        notifications::{Notice, enqueue},
        organizations::holders,
        ratings::current_grades,
    },
};

/// What an application says.
#[derive(Clone, Debug)]
pub struct ApplicationInput {
    pub organization_id: i64,
    pub title: String,
    pub proposal: Proposal,
    pub deliverables: Vec<Deliverable>,
    pub budget: Vec<BudgetLine>,
    pub amount_fen: i64,
}

/// An application as its reader may see it.
#[derive(Clone, Debug)]
pub struct ApplicationView {
    pub application: funding_application::Model,
    pub status: ApplicationStatus,
    pub organization_name: String,
    pub proposal: Proposal,
    pub deliverables: Vec<Deliverable>,
    pub budget: Vec<BudgetLine>,
    /// The mean of the reviewers' totals in tenths of a point (each leaf averaged over the
    /// reviewers who scored it); for the funder and reviewers, and public once decided.
    pub score_tenths: Option<i64>,
    pub reviewers_scored: i64,
    pub history: Vec<funding_event::Model>,
    /// The project it became, when granted.
    pub project_id: Option<i64>,
}

async fn find(db: &impl ConnectionTrait, id: i64) -> AppResult<funding_application::Model> {
    funding_application::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("funding application"))
}

/// Whether `user` leads or works for the organization (its own people never review it).
async fn works_for(db: &impl ConnectionTrait, user: &AuthUser, org_id: i64) -> AppResult<bool> {
    Ok(user.works_for(org_id) || holders(db, org_id, &[Role::OrgLeader, Role::OrgStaff]).await?.contains(&user.id))
}

fn status_of(m: &funding_application::Model) -> ApplicationStatus {
    ApplicationStatus::parse(&m.status).unwrap_or(ApplicationStatus::Draft)
}

fn text(out: &mut Vec<FieldError>, field: &str, v: &str, max: usize) {
    let n = v.trim().chars().count();
    if n == 0 || n > max {
        out.push(FieldError::new(field, "length", format!("须为 1–{max} 个字符")));
    }
}

fn check(input: &ApplicationInput) -> Vec<FieldError> {
    let mut out = Vec::new();
    text(&mut out, "title", &input.title, 128);
    text(&mut out, "proposal.need", &input.proposal.need, 2000);
    text(&mut out, "proposal.goals", &input.proposal.goals, 2000);
    text(&mut out, "proposal.method", &input.proposal.method, 2000);
    out.extend(deliverable_problems(&input.deliverables, "deliverables"));
    if !(1..=crate::domain::funding::MAX_FEN).contains(&input.amount_fen) {
        out.push(FieldError::new("amount_fen", "range", "申请金额须为 1 分到 1 亿元"));
    }
    out.extend(budget_problems(&input.budget, input.amount_fen, "budget"));
    out
}

fn window_open(call: &funding_call::Model, now: DateTime<Utc>) -> bool {
    status_at(call, now) == CallStatus::Open && now >= call.opens_at
}

fn json<T: serde::Serialize>(v: &T) -> AppResult<String> {
    serde_json::to_string(v).map_err(|e| AppError::Internal(e.into()))
}

/// Drafts an application of `input.organization_id` to a call. Its leader, while the call
/// takes applications (409 `call_not_open`), for an organization in the call's region
/// (422 `organization_id`); one per organization and call (409 `already_applied`; a
/// withdrawn one is written again as a draft).
pub async fn create(
    ctx: &AppContext,
    user: &AuthUser,
    call_id: i64,
    input: ApplicationInput,
) -> AppResult<ApplicationView> {
    let call = find_call(&ctx.db, call_id).await?;
    let now = ctx.now();
    if call.status == CallStatus::Draft.as_str() {
        return Err(AppError::NotFound("funding call"));
    }
    if !user.leads(input.organization_id) {
        return Err(AppError::Forbidden("requires the organization's leader"));
    }
    let org = organization::Entity::find_by_id(input.organization_id)
        .one(&ctx.db)
        .await?
        .ok_or(AppError::NotFound("organization"))?;
    if !path_covers(&region_path(&ctx.db, org.community_id).await?, call.region_id) {
        return Err(AppError::invalid("organization_id", "outside_region", "该组织不在申报通知的范围内"));
    }
    if !window_open(&call, now) {
        return Err(AppError::Conflict("call_not_open", "不在申报时间内".into()));
    }
    if call.entrusted_org_id == Some(org.id) {
        return Err(AppError::Conflict("entrusted_applicant", "受托运行申报的组织不能申报本项目".into()));
    }
    let problems = check(&input);
    if !problems.is_empty() {
        return Err(AppError::Validation(problems));
    }
    let txn = begin_write(&ctx.db).await?;
    // A withdrawn application may be written again while the call is open: the same row
    // (one per organization and call) becomes a draft again, its history kept.
    let existing = funding_application::Entity::find()
        .filter(funding_application::Column::CallId.eq(call_id))
        .filter(funding_application::Column::OrganizationId.eq(org.id))
        .one(&txn)
        .await?;
    if let Some(old) = existing {
        if status_of(&old) != ApplicationStatus::Withdrawn {
            return Err(AppError::Conflict("already_applied", "该组织已申报过这个项目".into()));
        }
        funding_application::Entity::update_many()
            .col_expr(funding_application::Column::Status, Expr::value(ApplicationStatus::Draft.as_str()))
            .col_expr(funding_application::Column::Title, Expr::value(input.title.trim().to_owned()))
            .col_expr(funding_application::Column::Proposal, Expr::value(json(&input.proposal)?))
            .col_expr(funding_application::Column::Deliverables, Expr::value(json(&input.deliverables)?))
            .col_expr(funding_application::Column::Budget, Expr::value(json(&input.budget)?))
            .col_expr(funding_application::Column::AmountFen, Expr::value(input.amount_fen))
            .col_expr(funding_application::Column::UpdatedAt, Expr::value(now))
            .filter(funding_application::Column::Id.eq(old.id))
            .filter(funding_application::Column::Status.eq(ApplicationStatus::Withdrawn.as_str()))
            .exec(&txn)
            .await?;
        event(&txn, "application", old.id, "redrafted", Some(user.id), None, now).await?;
        txn.commit().await?;
        return get(ctx, user, old.id).await;
    }
    let res = funding_application::Entity::insert(funding_application::ActiveModel {
        call_id: Set(call_id),
        organization_id: Set(org.id),
        title: Set(input.title.trim().to_owned()),
        proposal: Set(json(&input.proposal)?),
        deliverables: Set(json(&input.deliverables)?),
        budget: Set(json(&input.budget)?),
        amount_fen: Set(input.amount_fen),
        status: Set(ApplicationStatus::Draft.as_str().to_owned()),
        created_by: Set(user.id),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(&txn)
    .await;
    let id = match res {
        Ok(r) => r.last_insert_id,
        Err(e) if crate::service::is_unique_violation(&e) => {
            return Err(AppError::Conflict("already_applied", "该组织已申报过这个项目".into()));
        }
        Err(e) => return Err(e.into()),
    };
    event(&txn, "application", id, "drafted", Some(user.id), None, now).await?;
    txn.commit().await?;
    get(ctx, user, id).await
}

/// Rewrites a draft (its organization stays). Its leader; 409 `application_not_draft`.
pub async fn update(ctx: &AppContext, user: &AuthUser, id: i64, input: ApplicationInput) -> AppResult<ApplicationView> {
    let m = find(&ctx.db, id).await?;
    if !user.leads(m.organization_id) {
        return Err(AppError::Forbidden("requires the organization's leader"));
    }
    let problems = check(&input);
    if !problems.is_empty() {
        return Err(AppError::Validation(problems));
    }
    let now = ctx.now();
    let res = funding_application::Entity::update_many()
        .col_expr(funding_application::Column::Title, Expr::value(input.title.trim().to_owned()))
        .col_expr(funding_application::Column::Proposal, Expr::value(json(&input.proposal)?))
        .col_expr(funding_application::Column::Deliverables, Expr::value(json(&input.deliverables)?))
        .col_expr(funding_application::Column::Budget, Expr::value(json(&input.budget)?))
        .col_expr(funding_application::Column::AmountFen, Expr::value(input.amount_fen))
        .col_expr(funding_application::Column::UpdatedAt, Expr::value(now))
        .filter(funding_application::Column::Id.eq(id))
        .filter(funding_application::Column::Status.eq(ApplicationStatus::Draft.as_str()))
        .exec(&ctx.db)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::Conflict("application_not_draft", "申报书不是草稿，不能修改".into()));
    }
    get(ctx, user, id).await
}

/// Why an organization may not apply to a call, each rule that fails (empty: eligible).
/// A grade rule is checked against the organization's current grade (等级评估).
pub async fn ineligibility(
    db: &impl ConnectionTrait,
    org: &organization::Model,
    rules: &CallEligibility,
    now: DateTime<Utc>,
) -> AppResult<Vec<FieldError>> {
    let mut out = Vec::new();
    if !matches!(OrgStatus::parse(&org.status), Some(OrgStatus::Filed | OrgStatus::Registered)) {
        out.push(FieldError::new("active", "ineligible", "组织须已备案或登记"));
    }
    if rules.not_abnormal && !abnormal::current_of(db, org.id).await?.is_empty() {
        out.push(FieldError::new("not_abnormal", "ineligible", "组织在活动异常名录中"));
    }
    if let Some(min) = rules.min_grade {
        let today = crate::domain::clock::to_shanghai(now).date_naive();
        let grade = current_grades(db, &[org.id], today).await?.remove(&org.id).map(|g| g.0);
        if grade.is_none_or(|g| g < min) {
            out.push(FieldError::new(
                "min_grade",
                "ineligible",
                format!("须获评 {} 及以上等级（当前：{}）", min.as_str(), grade.map(|g| g.as_str()).unwrap_or("无")),
            ));
        }
    }
    Ok(out)
}

/// Submits a draft while the call takes applications. Its leader; 409 `call_not_open`,
/// `not_eligible` (each failed rule in `errors`), `application_not_draft`; 422 when it asks
/// for more than the call's whole budget.
pub async fn submit(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<ApplicationView> {
    let m = find(&ctx.db, id).await?;
    if !user.leads(m.organization_id) {
        return Err(AppError::Forbidden("requires the organization's leader"));
    }
    let call = find_call(&ctx.db, m.call_id).await?;
    let now = ctx.now();
    if !window_open(&call, now) {
        return Err(AppError::Conflict("call_not_open", "不在申报时间内".into()));
    }
    if m.amount_fen > call.budget_fen {
        return Err(AppError::invalid("amount_fen", "over_budget", "申请金额超过了资金池总额"));
    }
    let org = organization::Entity::find_by_id(m.organization_id)
        .one(&ctx.db)
        .await?
        .ok_or(AppError::NotFound("organization"))?;
    let rules: CallEligibility = serde_json::from_str(&call.eligibility).unwrap_or_default();
    let failed = ineligibility(&ctx.db, &org, &rules, now).await?;
    if !failed.is_empty() {
        return Err(AppError::ConflictList("not_eligible", "该组织不符合申报条件".into(), failed));
    }
    let txn = begin_write(&ctx.db).await?;
    let res = funding_application::Entity::update_many()
        .col_expr(funding_application::Column::Status, Expr::value(ApplicationStatus::Submitted.as_str()))
        .col_expr(funding_application::Column::SubmittedBy, Expr::value(user.id))
        .col_expr(funding_application::Column::SubmittedAt, Expr::value(now))
        .col_expr(funding_application::Column::UpdatedAt, Expr::value(now))
        .filter(funding_application::Column::Id.eq(id))
        .filter(funding_application::Column::Status.eq(ApplicationStatus::Draft.as_str()))
        .exec(&txn)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::Conflict("application_not_draft", "申报书不是草稿，不能提交".into()));
    }
    event(&txn, "application", id, "submitted", Some(user.id), None, now).await?;
    txn.commit().await?;
    get(ctx, user, id).await
}

/// Withdraws a draft or a submitted application before its decision. Its leader; 409
/// `already_decided`.
pub async fn withdraw(ctx: &AppContext, user: &AuthUser, id: i64, reason: String) -> AppResult<ApplicationView> {
    let m = find(&ctx.db, id).await?;
    if !user.leads(m.organization_id) {
        return Err(AppError::Forbidden("requires the organization's leader"));
    }
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let res = funding_application::Entity::update_many()
        .col_expr(funding_application::Column::Status, Expr::value(ApplicationStatus::Withdrawn.as_str()))
        .col_expr(funding_application::Column::UpdatedAt, Expr::value(now))
        .filter(funding_application::Column::Id.eq(id))
        .filter(
            funding_application::Column::Status
                .is_in([ApplicationStatus::Draft.as_str(), ApplicationStatus::Submitted.as_str()]),
        )
        .exec(&txn)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::Conflict("already_decided", "申报已有决定或已撤回".into()));
    }
    event(&txn, "application", id, "withdrawn", Some(user.id), Some(reason), now).await?;
    txn.commit().await?;
    get(ctx, user, id).await
}

/// The reviewers' current scores of an application, by reviewer, without those who declared
/// a conflict.
async fn scores_of(db: &impl ConnectionTrait, ids: &[i64]) -> AppResult<HashMap<i64, Vec<funding_score::Model>>> {
    let conflicted: BTreeSet<(i64, i64)> = funding_conflict::Entity::find()
        .filter(funding_conflict::Column::ApplicationId.is_in(ids.to_vec()))
        .filter(funding_conflict::Column::NoConflict.eq(false))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.application_id, c.reviewer_id))
        .collect();
    let mut out: HashMap<i64, Vec<funding_score::Model>> = HashMap::new();
    for s in funding_score::Entity::find()
        .filter(funding_score::Column::ApplicationId.is_in(ids.to_vec()))
        .filter(funding_score::Column::SupersededAt.is_null())
        .all(db)
        .await?
    {
        if !conflicted.contains(&(s.application_id, s.reviewer_id)) {
            out.entry(s.application_id).or_default().push(s);
        }
    }
    Ok(out)
}

/// The total of the leaf means in tenths over the reviewers who scored every leaf, and how
/// many did (`None` when no one has finished).
pub fn total(rubric: &[Indicator], scores: &[funding_score::Model]) -> (Option<i64>, i64) {
    // Only whole scorecards count: a reviewer who scored some leaves is not yet done.
    let leaves = leaves_of(rubric);
    let reviewers: BTreeSet<i64> = scores
        .iter()
        .map(|s| s.reviewer_id)
        .filter(|r| leaves.iter().all(|l| scores.iter().any(|s| s.reviewer_id == *r && s.indicator == l.code)))
        .collect();
    if reviewers.is_empty() {
        return (None, 0);
    }
    let scores: Vec<&funding_score::Model> = scores.iter().filter(|s| reviewers.contains(&s.reviewer_id)).collect();
    let sum = leaves
        .into_iter()
        .map(|leaf| {
            let v: Vec<u32> =
                scores.iter().filter(|s| s.indicator == leaf.code).map(|s| s.score.max(0) as u32).collect();
            mean_tenths(&v)
        })
        .sum();
    (Some(sum), reviewers.len() as i64)
}

/// Who may read an application: its organization's staff, those who run the call, its
/// reviewers, the staff of a hub the organization belongs to; the funder's decision makes
/// it public in the call's results.
async fn require_reader(
    db: &impl ConnectionTrait,
    user: &AuthUser,
    m: &funding_application::Model,
) -> AppResult<funding_call::Model> {
    let call = find_call(db, m.call_id).await?;
    if user.works_for(m.organization_id) || runs(db, user, &call).await? || is_reviewer(db, user.id, call.id).await? {
        return Ok(call);
    }
    // Staff of a hub the organization belongs to read its applications (never score them).
    if crate::service::hubs::hub_staff_over(db, user, m.organization_id).await? {
        return Ok(call);
    }
    Err(AppError::Forbidden("requires the organization, the call's funder or a reviewer"))
}

/// One application.
pub async fn get(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<ApplicationView> {
    let m = find(&ctx.db, id).await?;
    let call = require_reader(&ctx.db, user, &m).await?;
    let rubric: Vec<Indicator> = serde_json::from_str(&call.rubric).unwrap_or_default();
    let mut scores = scores_of(&ctx.db, &[id]).await?;
    let (score_tenths, reviewers_scored) = total(&rubric, &scores.remove(&id).unwrap_or_default());
    let insider = runs(&ctx.db, user, &call).await? || is_reviewer(&ctx.db, user.id, call.id).await?;
    view(&ctx.db, m, score_tenths, reviewers_scored, insider).await
}

async fn view(
    db: &impl ConnectionTrait,
    m: funding_application::Model,
    score_tenths: Option<i64>,
    reviewers_scored: i64,
    insider: bool,
) -> AppResult<ApplicationView> {
    let organization_name =
        organization::Entity::find_by_id(m.organization_id).one(db).await?.map(|o| o.name).unwrap_or_default();
    let project_id =
        project::Entity::find().filter(project::Column::ApplicationId.eq(m.id)).one(db).await?.map(|p| p.id);
    Ok(ApplicationView {
        status: status_of(&m),
        organization_name,
        proposal: serde_json::from_str(&m.proposal).unwrap_or_default(),
        deliverables: serde_json::from_str(&m.deliverables).unwrap_or_default(),
        budget: serde_json::from_str(&m.budget).unwrap_or_default(),
        score_tenths,
        reviewers_scored,
        // Who declared what and who scored stays with those who run the call and review.
        history: funding_calls::history(db, "application", m.id)
            .await?
            .into_iter()
            .filter(|e| {
                insider || !matches!(e.action.as_str(), "scored" | "no_conflict_declared" | "conflict_declared")
            })
            .collect(),
        project_id,
        application: m,
    })
}

/// A call's applications (not drafts), best score first: for those who run it and its
/// reviewers; after the decision, the granted and rejected ones for anyone (`public`).
pub async fn for_call(ctx: &AppContext, user: Option<&AuthUser>, call_id: i64) -> AppResult<Vec<ApplicationView>> {
    let call = find_call(&ctx.db, call_id).await?;
    let insider = match user {
        Some(u) => runs(&ctx.db, u, &call).await? || is_reviewer(&ctx.db, u.id, call_id).await?,
        None => false,
    };
    let mut q = funding_application::Entity::find()
        .filter(funding_application::Column::CallId.eq(call_id))
        .filter(funding_application::Column::Status.ne(ApplicationStatus::Draft.as_str()));
    if !insider {
        if call.status == CallStatus::Draft.as_str() {
            return Err(AppError::NotFound("funding call"));
        }
        q = q.filter(
            funding_application::Column::Status
                .is_in([ApplicationStatus::Granted.as_str(), ApplicationStatus::Rejected.as_str()]),
        );
    }
    let list = q.order_by_asc(funding_application::Column::Id).all(&ctx.db).await?;
    let ids: Vec<i64> = list.iter().map(|a| a.id).collect();
    let rubric: Vec<Indicator> = serde_json::from_str(&call.rubric).unwrap_or_default();
    let mut scores = scores_of(&ctx.db, &ids).await?;
    let mut out = Vec::new();
    for m in list {
        let (t, n) = total(&rubric, &scores.remove(&m.id).unwrap_or_default());
        out.push(view(&ctx.db, m, t, n, insider).await?);
    }
    out.sort_by_key(|v| std::cmp::Reverse(v.score_tenths.unwrap_or(-1)));
    Ok(out)
}

/// A reviewer declares, for one application, that they have no conflict of interest (or
/// that they have one: they then take no part in it). Once; 409 `already_declared`.
pub async fn declare(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    no_conflict: bool,
    note: Option<String>,
) -> AppResult<ApplicationView> {
    let m = find(&ctx.db, id).await?;
    if !is_reviewer(&ctx.db, user.id, m.call_id).await? {
        return Err(AppError::Forbidden("requires a reviewer of the call"));
    }
    if no_conflict && works_for(&ctx.db, user, m.organization_id).await? {
        return Err(AppError::Conflict("reviewer_conflict", "您是申报组织的成员，须回避".into()));
    }
    let now = ctx.now();
    let res = funding_conflict::Entity::insert(funding_conflict::ActiveModel {
        application_id: Set(id),
        reviewer_id: Set(user.id),
        no_conflict: Set(no_conflict),
        note: Set(note.clone()),
        at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(&ctx.db)
    .await;
    match res {
        Ok(_) => {}
        Err(e) if crate::service::is_unique_violation(&e) => {
            return Err(AppError::Conflict("already_declared", "已声明过利益冲突情况".into()));
        }
        Err(e) => return Err(e.into()),
    }
    let action = if no_conflict { "no_conflict_declared" } else { "conflict_declared" };
    event(&ctx.db, "application", id, action, Some(user.id), note, now).await?;
    get(ctx, user, id).await
}

/// A reviewer scores the rubric's leaves for one application (each replaces their earlier
/// score of the leaf, which is kept). After the call closes (409 `call_not_closed`), on a
/// submitted application (409 `not_submitted`), after declaring no conflict (409
/// `declare_first`; 403 for one who declared a conflict).
pub async fn score(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    marks: Vec<(String, i64, Option<String>)>,
) -> AppResult<ApplicationView> {
    let m = find(&ctx.db, id).await?;
    if !is_reviewer(&ctx.db, user.id, m.call_id).await? {
        return Err(AppError::Forbidden("requires a reviewer of the call"));
    }
    let declared = funding_conflict::Entity::find()
        .filter(funding_conflict::Column::ApplicationId.eq(id))
        .filter(funding_conflict::Column::ReviewerId.eq(user.id))
        .one(&ctx.db)
        .await?;
    match declared {
        None => return Err(AppError::Conflict("declare_first", "请先声明与该申报无利益冲突".into())),
        Some(d) if !d.no_conflict => return Err(AppError::Forbidden("a reviewer with a conflict takes no part")),
        Some(_) => {}
    }
    let call = find_call(&ctx.db, m.call_id).await?;
    if works_for(&ctx.db, user, m.organization_id).await? || is_funder(&ctx.db, user, &call).await? {
        return Err(AppError::Forbidden("the applicant's own people and the deciding office do not score"));
    }
    let now = ctx.now();
    if status_at(&call, now) != CallStatus::Closed {
        return Err(AppError::Conflict("call_not_closed", "申报截止后才能评审".into()));
    }
    if status_of(&m) != ApplicationStatus::Submitted {
        return Err(AppError::Conflict("not_submitted", "只能评审已提交、未决定的申报".into()));
    }
    let rubric: Vec<Indicator> = serde_json::from_str(&call.rubric).unwrap_or_default();
    let leaves: Vec<(&str, u32)> = leaves_of(&rubric).into_iter().map(|l| (l.code.as_str(), l.max)).collect();
    let errors = mark_problems(&leaves, &marks);
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let txn = begin_write(&ctx.db).await?;
    for (indicator, score, note) in &marks {
        funding_score::Entity::update_many()
            .col_expr(funding_score::Column::SupersededAt, Expr::value(now))
            .filter(funding_score::Column::ApplicationId.eq(id))
            .filter(funding_score::Column::ReviewerId.eq(user.id))
            .filter(funding_score::Column::Indicator.eq(indicator.clone()))
            .filter(funding_score::Column::SupersededAt.is_null())
            .exec(&txn)
            .await?;
        funding_score::Entity::insert(funding_score::ActiveModel {
            application_id: Set(id),
            reviewer_id: Set(user.id),
            indicator: Set(indicator.clone()),
            score: Set(*score as i32),
            note: Set(note.clone()),
            at: Set(now),
            superseded_at: Set(None),
            ..Default::default()
        })
        .exec_without_returning(&txn)
        .await?;
    }
    event(&txn, "application", id, "scored", Some(user.id), Some(format!("{} 项", marks.len())), now).await?;
    txn.commit().await?;
    get(ctx, user, id).await
}

/// The funder's decision on a submitted application after the call closed: a grant of
/// `granted_fen` (1 fen to the amount asked; a reason when less), or a rejection with a
/// reason. A grant starts the public notice and a project awaiting its agreement. 409
/// `call_not_closed`, `not_submitted`, `not_reviewed` (a grant before any reviewer scored
/// every leaf), `not_eligible` (no longer), `budget_exceeded` (the call's grants would pass
/// its budget).
pub async fn decide(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    granted_fen: Option<i64>,
    reason: Option<String>,
) -> AppResult<ApplicationView> {
    let m = find(&ctx.db, id).await?;
    let call = find_call(&ctx.db, m.call_id).await?;
    if !is_funder(&ctx.db, user, &call).await? {
        return Err(AppError::Forbidden("requires the call's funder"));
    }
    let now = ctx.now();
    if status_at(&call, now) != CallStatus::Closed {
        return Err(AppError::Conflict("call_not_closed", "申报截止后才能决定".into()));
    }
    if let Some(g) = granted_fen {
        if g < 1 || g > m.amount_fen {
            return Err(AppError::invalid(
                "granted_fen",
                "range",
                format!("资助金额须为 1 分到申请金额 {} 分", m.amount_fen),
            ));
        }
        if g < m.amount_fen && reason.is_none() {
            return Err(AppError::invalid("reason", "required", "资助金额少于申请金额时须说明理由"));
        }
    } else if reason.is_none() {
        return Err(AppError::invalid("reason", "required", "不予资助须说明理由"));
    }
    let rubric: Vec<Indicator> = serde_json::from_str(&call.rubric).unwrap_or_default();
    let txn = begin_write(&ctx.db).await?;
    // The call's row orders decisions on it, so two grants cannot both fit the budget.
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        use sea_orm::QuerySelect;
        funding_call::Entity::find_by_id(call.id).lock_exclusive().one(&txn).await?;
    }
    let current = find(&txn, id).await?;
    if status_of(&current) != ApplicationStatus::Submitted {
        return Err(AppError::Conflict("not_submitted", "该申报已有决定或未提交".into()));
    }
    if let Some(g) = granted_fen {
        // A grant needs a whole review, and the organization still eligible.
        let (score, _) = total(&rubric, &scores_of(&txn, &[id]).await?.remove(&id).unwrap_or_default());
        if score.is_none() {
            return Err(AppError::Conflict("not_reviewed", "尚无评审专家完成评分".into()));
        }
        let org = organization::Entity::find_by_id(m.organization_id)
            .one(&txn)
            .await?
            .ok_or(AppError::NotFound("organization"))?;
        let rules: CallEligibility = serde_json::from_str(&call.eligibility).unwrap_or_default();
        let failed = ineligibility(&txn, &org, &rules, now).await?;
        if !failed.is_empty() {
            return Err(AppError::ConflictList("not_eligible", "该组织已不符合申报条件".into(), failed));
        }
        let granted: i64 = funding_application::Entity::find()
            .filter(funding_application::Column::CallId.eq(call.id))
            .all(&txn)
            .await?
            .iter()
            .filter_map(|a| a.granted_fen)
            .sum();
        if granted + g > call.budget_fen {
            return Err(AppError::Conflict(
                "budget_exceeded",
                format!("资金池剩余 {} 分，不足以资助 {g} 分", call.budget_fen - granted),
            ));
        }
    }
    let status = if granted_fen.is_some() { ApplicationStatus::Granted } else { ApplicationStatus::Rejected };
    let notice_until = now + Duration::days(i64::from(call.notice_days));
    funding_application::Entity::update_many()
        .col_expr(funding_application::Column::Status, Expr::value(status.as_str()))
        .col_expr(funding_application::Column::GrantedFen, Expr::value(granted_fen))
        .col_expr(funding_application::Column::DecisionReason, Expr::value(reason.clone()))
        .col_expr(funding_application::Column::DecidedBy, Expr::value(user.id))
        .col_expr(funding_application::Column::DecidedAt, Expr::value(now))
        .col_expr(funding_application::Column::NoticeUntil, Expr::value(notice_until))
        .col_expr(funding_application::Column::UpdatedAt, Expr::value(now))
        .filter(funding_application::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    event(&txn, "application", id, status.as_str(), Some(user.id), reason.clone(), now).await?;
    if let Some(g) = granted_fen {
        let project_id = project::Entity::insert(project::ActiveModel {
            application_id: Set(id),
            call_id: Set(call.id),
            organization_id: Set(m.organization_id),
            title: Set(m.title.clone()),
            amount_fen: Set(g),
            paid_fen: Set(0),
            status: Set(ProjectStatus::PendingAgreement.as_str().to_owned()),
            approver_id: Set(user.id),
            plan: Set(m.deliverables.clone()),
            original_plan: Set(m.deliverables.clone()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .exec(&txn)
        .await?
        .last_insert_id;
        event(&txn, "project", project_id, "granted", Some(user.id), Some(format!("{g} 分")), now).await?;
    }
    let org_name =
        organization::Entity::find_by_id(m.organization_id).one(&txn).await?.map(|o| o.name).unwrap_or_default();
    let body = match granted_fen {
        Some(g) => format!(
            "「{org_name}」的申报「{}」获资助 {:.2} 元，公示 {} 天",
            m.title,
            g as f64 / 100.0,
            call.notice_days
        ),
        None => format!("「{org_name}」的申报「{}」未获资助：{}", m.title, reason.clone().unwrap_or_default()),
    };
    let notices = holders(&txn, m.organization_id, &[Role::OrgLeader])
        .await?
        .into_iter()
        .map(|leader| Notice {
            user_id: leader,
            kind: "funding_decision",
            title: "项目申报结果".into(),
            body: body.clone(),
            activity_id: None,
            organization_id: Some(m.organization_id),
            dedupe_key: format!("funding_decision:{id}:{leader}"),
            due_at: None,
            offset_secs: None,
        })
        .collect();
    enqueue(&txn, notices, now).await?;
    txn.commit().await?;
    get(ctx, user, id).await
}
