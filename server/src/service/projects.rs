//! Funded projects (资助项目): after the public notice the funder signs the agreement —
//! the period (at most 3 years), tranches as percents adding up to 100 tied to milestones,
//! a supervisor (督导) who is not the approver. The organization's staff tag activities to
//! the project; its progress against each deliverable is computed from those activities'
//! attendance (`domain::funding::progress`), live and month by month; the supervisor may
//! exclude an activity with a reason. Milestone reports freeze the figures of the moment;
//! an accepted one makes its tranche due, and the funder records the payment. Changes
//! after approval go through amendments (the original plan is kept). Evaluations score the
//! call's rubric; the final one closes the project as completed or failed (with the money
//! to reclaim).

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    sea_query::{Expr, ExprTrait as _},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    auth::AuthUser,
    context::AppContext,
    domain::{
        activity::{ActivityKind, ActivityStatus},
        clock::to_shanghai,
        download::{File, FileFormat},
        funding::{
            Deliverable, EvaluationKind, Evidence, Outcome, Progress, ProjectStatus, TranchePlan, deliverable_problems,
            period_ok, progress, share, tranche_amounts, tranche_problems,
        },
        organization::ServiceTarget,
        rating::{Indicator, leaves_of, mark_problems},
        role::Role,
    },
    entity::{
        activity, attendance, funding_application, funding_event, project, project_activity, project_amendment,
        project_evaluation, project_milestone, project_tranche,
    },
    error::{AppError, AppResult, FieldError},
    service::{
        begin_write,
        funding_calls::{self, event, find as find_call, is_funder},
        notifications::{Notice, enqueue},
        organizations::holders,
    },
};

/// A project as its reader sees it.
#[derive(Clone, Debug)]
pub struct ProjectView {
    pub project: project::Model,
    pub status: ProjectStatus,
    pub organization_name: String,
    pub plan: Vec<Deliverable>,
    pub original_plan: Vec<Deliverable>,
    pub tranches: Vec<project_tranche::Model>,
    pub amendments: Vec<project_amendment::Model>,
    pub milestones: Vec<project_milestone::Model>,
    pub evaluations: Vec<project_evaluation::Model>,
    pub activities: Vec<project_activity::Model>,
    pub history: Vec<funding_event::Model>,
    /// When the public notice of its grant ends (the agreement may be signed from then).
    pub notice_until: Option<DateTime<Utc>>,
}

/// Who reads a project, and what they may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    pub staff: bool,
    pub leader: bool,
    pub funder: bool,
    pub supervisor: bool,
    /// Staff of a hub (枢纽) the organization is a member of: read only.
    pub hub: bool,
}

async fn find(db: &impl ConnectionTrait, id: i64) -> AppResult<project::Model> {
    project::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("project"))
}

fn status_of(p: &project::Model) -> ProjectStatus {
    ProjectStatus::parse(&p.status).unwrap_or(ProjectStatus::PendingAgreement)
}

/// The caller's standing towards a project; 403 when they have none.
pub async fn access(db: &impl ConnectionTrait, user: &AuthUser, p: &project::Model) -> AppResult<Access> {
    let call = find_call(db, p.call_id).await?;
    let a = Access {
        staff: user
            .grants
            .iter()
            .any(|g| matches!(g.role, Role::OrgLeader | Role::OrgStaff) && g.scope_id == Some(p.organization_id)),
        leader: user.grants.iter().any(|g| g.role == Role::OrgLeader && g.scope_id == Some(p.organization_id)),
        funder: is_funder(db, user, &call).await?,
        supervisor: p.supervisor_id == Some(user.id),
        hub: crate::service::hubs::hub_staff_over(db, user, p.organization_id).await?,
    };
    if a.staff || a.funder || a.supervisor || a.hub {
        Ok(a)
    } else {
        Err(AppError::Forbidden("requires the organization, the funder, the project's supervisor or its hub"))
    }
}

/// Whether `user_id` supervises a project that counts `activity_id` (the supervisor may open
/// the roster and attendance of the activities tagged to it).
pub async fn supervises_activity(db: &impl ConnectionTrait, user_id: i64, activity_id: i64) -> AppResult<bool> {
    let projects: Vec<i64> = project_activity::Entity::find()
        .filter(project_activity::Column::ActivityId.eq(activity_id))
        .all(db)
        .await?
        .into_iter()
        .map(|t| t.project_id)
        .collect();
    if projects.is_empty() {
        return Ok(false);
    }
    Ok(project::Entity::find()
        .filter(project::Column::Id.is_in(projects))
        .filter(project::Column::SupervisorId.eq(user_id))
        .count(db)
        .await?
        > 0)
}

/// One project.
pub async fn get(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<ProjectView> {
    let p = find(&ctx.db, id).await?;
    access(&ctx.db, user, &p).await?;
    view(&ctx.db, p).await
}

async fn view(db: &impl ConnectionTrait, p: project::Model) -> AppResult<ProjectView> {
    let id = p.id;
    let organization_name = crate::entity::organization::Entity::find_by_id(p.organization_id)
        .one(db)
        .await?
        .map(|o| o.name)
        .unwrap_or_default();
    let notice_until =
        funding_application::Entity::find_by_id(p.application_id).one(db).await?.and_then(|a| a.notice_until);
    Ok(ProjectView {
        status: status_of(&p),
        organization_name,
        plan: serde_json::from_str(&p.plan).unwrap_or_default(),
        original_plan: serde_json::from_str(&p.original_plan).unwrap_or_default(),
        tranches: project_tranche::Entity::find()
            .filter(project_tranche::Column::ProjectId.eq(id))
            .order_by_asc(project_tranche::Column::Seq)
            .all(db)
            .await?,
        amendments: project_amendment::Entity::find()
            .filter(project_amendment::Column::ProjectId.eq(id))
            .order_by_asc(project_amendment::Column::Id)
            .all(db)
            .await?,
        milestones: project_milestone::Entity::find()
            .filter(project_milestone::Column::ProjectId.eq(id))
            .order_by_asc(project_milestone::Column::Id)
            .all(db)
            .await?,
        evaluations: project_evaluation::Entity::find()
            .filter(project_evaluation::Column::ProjectId.eq(id))
            .order_by_asc(project_evaluation::Column::Id)
            .all(db)
            .await?,
        activities: project_activity::Entity::find()
            .filter(project_activity::Column::ProjectId.eq(id))
            .order_by_asc(project_activity::Column::Id)
            .all(db)
            .await?,
        history: funding_calls::history(db, "project", id).await?,
        notice_until,
        project: p,
    })
}

/// An organization's projects, newest first: its staff and the officials over it.
pub async fn of_organization(ctx: &AppContext, user: &AuthUser, org_id: i64) -> AppResult<Vec<ProjectView>> {
    let list = project::Entity::find()
        .filter(project::Column::OrganizationId.eq(org_id))
        .order_by_desc(project::Column::Id)
        .all(&ctx.db)
        .await?;
    let mut out = Vec::new();
    for p in list {
        if access(&ctx.db, user, &p).await.is_ok() {
            out.push(view(&ctx.db, p).await?);
        }
    }
    let staff =
        user.grants.iter().any(|g| matches!(g.role, Role::OrgLeader | Role::OrgStaff) && g.scope_id == Some(org_id));
    let hub = crate::service::hubs::hub_staff_over(&ctx.db, user, org_id).await?;
    if out.is_empty() && !staff && !hub {
        let path = crate::service::organization_scope::community_path(&ctx.db, org_id)
            .await?
            .ok_or(AppError::NotFound("organization"))?;
        if !crate::auth::scope::holds_region_role(user, &[Role::Street, Role::CivilAffairs], &path) {
            return Err(AppError::Forbidden("requires the organization's staff or an office over it"));
        }
    }
    Ok(out)
}

fn notice(user_id: i64, kind: &'static str, title: &str, body: String, org_id: i64, key: String) -> Notice {
    Notice {
        user_id,
        kind,
        title: title.into(),
        body,
        activity_id: None,
        organization_id: Some(org_id),
        dedupe_key: key,
        due_at: None,
        offset_secs: None,
    }
}

/// The agreement (协议): the funder signs after the grant's public notice. 409 `on_notice`
/// before it ends, `not_pending` when signed; 422 for a period over 3 years or reversed,
/// tranches not adding up to 100, a supervisor who approved the grant or works for the
/// organization.
pub async fn sign(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    tranches: Vec<TranchePlan>,
    supervisor_id: i64,
) -> AppResult<ProjectView> {
    let p = find(&ctx.db, id).await?;
    if !access(&ctx.db, user, &p).await?.funder {
        return Err(AppError::Forbidden("requires the funder"));
    }
    let now = ctx.now();
    let mut errors = tranche_problems(&tranches, "tranches");
    if !period_ok(starts_on, ends_on) {
        errors.push(FieldError::new("ends_on", "period", "项目周期须不超过 3 年，且结束不早于开始"));
    }
    if supervisor_id == p.approver_id || supervisor_id == user.id {
        errors.push(FieldError::new("supervisor_id", "supervisor_is_approver", "督导不能是批准资助的人"));
    }
    let supervisor_works_there =
        holders(&ctx.db, p.organization_id, &[Role::OrgLeader, Role::OrgStaff]).await?.contains(&supervisor_id);
    if supervisor_works_there {
        errors.push(FieldError::new("supervisor_id", "supervisor_is_staff", "督导不能是该组织的成员"));
    }
    crate::entity::user::Entity::find_by_id(supervisor_id)
        .one(&ctx.db)
        .await?
        .filter(|u| u.deleted_at.is_none())
        .is_none()
        .then(|| errors.push(FieldError::new("supervisor_id", "not_found", "督导不存在")));
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let app = funding_application::Entity::find_by_id(p.application_id).one(&ctx.db).await?;
    if app.and_then(|a| a.notice_until).is_some_and(|until| now < until) {
        return Err(AppError::Conflict("on_notice", "资助结果公示期内不能签约".into()));
    }
    let txn = begin_write(&ctx.db).await?;
    let res = project::Entity::update_many()
        .col_expr(project::Column::Status, Expr::value(ProjectStatus::Active.as_str()))
        .col_expr(project::Column::StartsOn, Expr::value(starts_on))
        .col_expr(project::Column::EndsOn, Expr::value(ends_on))
        .col_expr(project::Column::SupervisorId, Expr::value(supervisor_id))
        .col_expr(project::Column::UpdatedAt, Expr::value(now))
        .filter(project::Column::Id.eq(id))
        .filter(project::Column::Status.eq(ProjectStatus::PendingAgreement.as_str()))
        .exec(&txn)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::Conflict("not_pending", "协议已签订".into()));
    }
    let amounts = tranche_amounts(p.amount_fen, &tranches.iter().map(|t| t.percent).collect::<Vec<_>>());
    for (n, (t, amount)) in tranches.iter().zip(amounts).enumerate() {
        project_tranche::Entity::insert(project_tranche::ActiveModel {
            project_id: Set(id),
            seq: Set(n as i32 + 1),
            percent: Set(t.percent),
            milestone: Set(t.milestone.trim().to_owned()),
            on_signing: Set(t.on_signing),
            amount_fen: Set(amount),
            status: Set(if t.on_signing { "due" } else { "planned" }.to_owned()),
            due_at: Set(t.on_signing.then_some(now)),
            ..Default::default()
        })
        .exec_without_returning(&txn)
        .await?;
    }
    event(&txn, "project", id, "signed", Some(user.id), Some(format!("{starts_on} – {ends_on}")), now).await?;
    let mut notices = vec![notice(
        supervisor_id,
        "project_supervision",
        "项目督导任务",
        format!("您被指定为项目「{}」的督导", p.title),
        p.organization_id,
        format!("project_supervision:{id}:{supervisor_id}"),
    )];
    for leader in holders(&txn, p.organization_id, &[Role::OrgLeader]).await? {
        notices.push(notice(
            leader,
            "project_signed",
            "项目协议已签订",
            format!("项目「{}」协议已签订，周期 {starts_on} 至 {ends_on}", p.title),
            p.organization_id,
            format!("project_signed:{id}:{leader}"),
        ));
    }
    enqueue(&txn, notices, now).await?;
    txn.commit().await?;
    get(ctx, user, id).await
}

fn require_active(p: &project::Model) -> AppResult<()> {
    if status_of(p) == ProjectStatus::Active {
        Ok(())
    } else {
        Err(AppError::Conflict("project_not_active", "项目不在执行中".into()))
    }
}

/// Tags an activity of the organization held (or to be held) within the project's period
/// as evidence. Its staff; 409 `already_tagged`, `tagged_elsewhere` (another project counts
/// it), `project_not_active`; 422 `activity_id`
/// for another organization's activity, a cancelled one or one outside the period.
pub async fn tag(ctx: &AppContext, user: &AuthUser, id: i64, activity_id: i64) -> AppResult<ProjectView> {
    let p = find(&ctx.db, id).await?;
    if !access(&ctx.db, user, &p).await?.staff {
        return Err(AppError::Forbidden("requires the organization's staff"));
    }
    require_active(&p)?;
    let a = activity::Entity::find_by_id(activity_id)
        .one(&ctx.db)
        .await?
        .filter(|a| a.organization_id == p.organization_id)
        .ok_or_else(|| AppError::invalid("activity_id", "not_found", "本组织没有这个活动"))?;
    if a.status == ActivityStatus::Cancelled.as_str() {
        return Err(AppError::invalid("activity_id", "cancelled", "已取消的活动不能计入项目"));
    }
    let day = to_shanghai(a.starts_at).date_naive();
    if p.starts_on.is_some_and(|s| day < s) || p.ends_on.is_some_and(|e| day > e) {
        return Err(AppError::invalid("activity_id", "outside_period", "活动不在项目周期内"));
    }
    // One activity is the evidence of one project: the same attendance is not paid twice.
    let elsewhere = project_activity::Entity::find()
        .filter(project_activity::Column::ActivityId.eq(activity_id))
        .filter(project_activity::Column::ProjectId.ne(id))
        .filter(project_activity::Column::Excluded.eq(false))
        .count(&ctx.db)
        .await?;
    if elsewhere > 0 {
        return Err(AppError::Conflict("tagged_elsewhere", "该活动已计入另一个资助项目".into()));
    }
    let now = ctx.now();
    let res = project_activity::Entity::insert(project_activity::ActiveModel {
        project_id: Set(id),
        activity_id: Set(activity_id),
        tagged_by: Set(user.id),
        tagged_at: Set(now),
        excluded: Set(false),
        ..Default::default()
    })
    .exec_without_returning(&ctx.db)
    .await;
    match res {
        Ok(_) => {}
        Err(e) if crate::service::is_unique_violation(&e) => {
            return Err(AppError::Conflict("already_tagged", "该活动已计入本项目".into()));
        }
        Err(e) => return Err(e.into()),
    }
    event(
        &ctx.db,
        "project",
        id,
        "activity_tagged",
        Some(user.id),
        Some(format!("activity:{activity_id} {}", a.title)),
        now,
    )
    .await?;
    get(ctx, user, id).await
}

/// The supervisor excludes a tagged activity from the counts, with a reason (kept). 404
/// for an activity not tagged to the project; 409 `already_excluded`.
pub async fn exclude(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    activity_id: i64,
    reason: String,
) -> AppResult<ProjectView> {
    let p = find(&ctx.db, id).await?;
    if !access(&ctx.db, user, &p).await?.supervisor {
        return Err(AppError::Forbidden("requires the project's supervisor"));
    }
    require_active(&p)?;
    let now = ctx.now();
    let tagged = project_activity::Entity::find()
        .filter(project_activity::Column::ProjectId.eq(id))
        .filter(project_activity::Column::ActivityId.eq(activity_id))
        .one(&ctx.db)
        .await?
        .ok_or(AppError::NotFound("tagged activity"))?;
    let res = project_activity::Entity::update_many()
        .col_expr(project_activity::Column::Excluded, Expr::value(true))
        .col_expr(project_activity::Column::ExcludeReason, Expr::value(reason.clone()))
        .col_expr(project_activity::Column::ExcludedBy, Expr::value(user.id))
        .col_expr(project_activity::Column::ExcludedAt, Expr::value(now))
        .filter(project_activity::Column::Id.eq(tagged.id))
        .filter(project_activity::Column::Excluded.eq(false))
        .exec(&ctx.db)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::Conflict("already_excluded", "该活动已被排除".into()));
    }
    event(
        &ctx.db,
        "project",
        id,
        "activity_excluded",
        Some(user.id),
        Some(format!("activity:{activity_id} {reason}")),
        now,
    )
    .await?;
    get(ctx, user, id).await
}

/// The tagged activities held within the project's period, as evidence: held means closed
/// after taking place; attendees with the minutes credited to each.
pub async fn evidence(db: &impl ConnectionTrait, p: &project::Model) -> AppResult<Vec<Evidence>> {
    let tags = project_activity::Entity::find().filter(project_activity::Column::ProjectId.eq(p.id)).all(db).await?;
    let ids: Vec<i64> = tags.iter().map(|t| t.activity_id).collect();
    let activities: HashMap<i64, activity::Model> = activity::Entity::find()
        .filter(activity::Column::Id.is_in(ids.clone()))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    let mut attendees: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
    for row in attendance::Entity::find().filter(attendance::Column::ActivityId.is_in(ids)).all(db).await? {
        attendees.entry(row.activity_id).or_default().push((row.user_id, i64::from(row.credited_minutes.unwrap_or(0))));
    }
    Ok(tags
        .into_iter()
        .filter_map(|t| {
            let a = activities.get(&t.activity_id)?;
            // Within the period in force (an amendment may have shortened it).
            let day = to_shanghai(a.starts_at).date_naive();
            if p.starts_on.is_some_and(|s| day < s) || p.ends_on.is_some_and(|e| day > e) {
                return None;
            }
            Some(Evidence {
                activity_id: a.id,
                kind: ActivityKind::parse(&a.kind),
                target_groups: a.target_groups.split(',').filter_map(|g| ServiceTarget::parse(g.trim())).collect(),
                starts_at: a.starts_at,
                held: a.status == ActivityStatus::Finished.as_str(),
                excluded: t.excluded,
                attendees: attendees.remove(&a.id).unwrap_or_default(),
            })
        })
        .collect())
}

/// Plan against actual, live, from the tagged activities' attendance.
pub async fn progress_of(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<(ProjectView, Progress)> {
    let p = find(&ctx.db, id).await?;
    access(&ctx.db, user, &p).await?;
    let ev = evidence(&ctx.db, &p).await?;
    let v = view(&ctx.db, p).await?;
    let pr = progress(&v.plan, &ev);
    Ok((v, pr))
}

/// What an amendment changes (absent: unchanged).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Changes {
    /// A new amount in fen (at least what has been paid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_fen: Option<i64>,
    /// A new list of deliverables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliverables: Option<Vec<Deliverable>>,
    /// A new last day (the period stays at most 3 years).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_on: Option<NaiveDate>,
}

/// The organization's leader asks to change an active project. 409 `amendment_pending`
/// while another waits; 422 for empty or invalid changes.
pub async fn request_amendment(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    changes: Changes,
    reason: String,
) -> AppResult<ProjectView> {
    let p = find(&ctx.db, id).await?;
    if !access(&ctx.db, user, &p).await?.leader {
        return Err(AppError::Forbidden("requires the organization's leader"));
    }
    require_active(&p)?;
    let mut errors = Vec::new();
    if changes == Changes::default() {
        errors.push(FieldError::new("changes", "empty", "请至少变更一项"));
    }
    if let Some(d) = &changes.deliverables {
        errors.extend(deliverable_problems(d, "changes.deliverables"));
    }
    if let Some(a) = changes.amount_fen
        && (a < p.paid_fen || !(1..=crate::domain::funding::MAX_FEN).contains(&a))
    {
        errors.push(FieldError::new("changes.amount_fen", "range", format!("金额须不少于已拨付的 {} 分", p.paid_fen)));
    }
    if let (Some(e), Some(s)) = (changes.ends_on, p.starts_on)
        && !period_ok(s, e)
    {
        errors.push(FieldError::new("changes.ends_on", "period", "项目周期须不超过 3 年，且结束不早于开始"));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let pending = project_amendment::Entity::find()
        .filter(project_amendment::Column::ProjectId.eq(id))
        .filter(project_amendment::Column::Status.eq("requested"))
        .count(&txn)
        .await?;
    if pending > 0 {
        return Err(AppError::Conflict("amendment_pending", "已有一项变更待审批".into()));
    }
    project_amendment::Entity::insert(project_amendment::ActiveModel {
        project_id: Set(id),
        changes: Set(serde_json::to_string(&changes).map_err(|e| AppError::Internal(e.into()))?),
        reason: Set(reason.clone()),
        status: Set("requested".into()),
        requested_by: Set(user.id),
        requested_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(&txn)
    .await?;
    event(&txn, "project", id, "amendment_requested", Some(user.id), Some(reason), now).await?;
    txn.commit().await?;
    get(ctx, user, id).await
}

/// The funder approves or rejects an amendment. An approved one changes the plan (the
/// original stays), the amount (unpaid tranches are re-divided by their percents) or the
/// last day. 409 `amendment_decided`.
pub async fn decide_amendment(
    ctx: &AppContext,
    user: &AuthUser,
    amendment_id: i64,
    approve: bool,
    comment: Option<String>,
) -> AppResult<ProjectView> {
    let am = project_amendment::Entity::find_by_id(amendment_id)
        .one(&ctx.db)
        .await?
        .ok_or(AppError::NotFound("amendment"))?;
    let p = find(&ctx.db, am.project_id).await?;
    if !access(&ctx.db, user, &p).await?.funder {
        return Err(AppError::Forbidden("requires the funder"));
    }
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let res = project_amendment::Entity::update_many()
        .col_expr(project_amendment::Column::Status, Expr::value(if approve { "approved" } else { "rejected" }))
        .col_expr(project_amendment::Column::DecidedBy, Expr::value(user.id))
        .col_expr(project_amendment::Column::DecidedAt, Expr::value(now))
        .col_expr(project_amendment::Column::Comment, Expr::value(comment.clone()))
        .filter(project_amendment::Column::Id.eq(amendment_id))
        .filter(project_amendment::Column::Status.eq("requested"))
        .exec(&txn)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::Conflict("amendment_decided", "该变更已处理".into()));
    }
    if approve {
        let changes: Changes = serde_json::from_str(&am.changes).unwrap_or_default();
        let current = find(&txn, p.id).await?;
        let mut update = project::Entity::update_many().col_expr(project::Column::UpdatedAt, Expr::value(now));
        if let Some(d) = &changes.deliverables {
            update = update.col_expr(
                project::Column::Plan,
                Expr::value(serde_json::to_string(d).map_err(|e| AppError::Internal(e.into()))?),
            );
        }
        if let Some(e) = changes.ends_on {
            update = update.col_expr(project::Column::EndsOn, Expr::value(e));
        }
        if let Some(a) = changes.amount_fen {
            if a < current.paid_fen {
                return Err(AppError::Conflict("amendment_stale", "已拨付金额已超过变更后的金额".into()));
            }
            // The call's budget holds amendments too.
            let call = find_call(&txn, p.call_id).await?;
            let others: i64 = project::Entity::find()
                .filter(project::Column::CallId.eq(p.call_id))
                .filter(project::Column::Id.ne(p.id))
                .all(&txn)
                .await?
                .iter()
                .map(|o| o.amount_fen)
                .sum();
            if others + a > call.budget_fen {
                return Err(AppError::Conflict(
                    "budget_exceeded",
                    format!("资金池剩余 {} 分，不足以把金额调整为 {a} 分", call.budget_fen - others),
                ));
            }
            update = update.col_expr(project::Column::AmountFen, Expr::value(a));
            // What is paid or already due stays; the rest is shared by the planned
            // tranches in their agreed proportions.
            let tranches: Vec<project_tranche::Model> = project_tranche::Entity::find()
                .filter(project_tranche::Column::ProjectId.eq(p.id))
                .order_by_asc(project_tranche::Column::Seq)
                .all(&txn)
                .await?;
            let fixed: i64 = tranches.iter().filter(|t| t.status != "planned").map(|t| t.amount_fen).sum();
            let planned: Vec<&project_tranche::Model> = tranches.iter().filter(|t| t.status == "planned").collect();
            if a < fixed || (planned.is_empty() && a != fixed) {
                return Err(AppError::Conflict("amendment_stale", "已拨付和已到期的金额与变更后的金额不符".into()));
            }
            let amounts = share(a - fixed, &planned.iter().map(|t| t.percent).collect::<Vec<_>>());
            for (t, amount) in planned.iter().zip(amounts) {
                project_tranche::Entity::update_many()
                    .col_expr(project_tranche::Column::AmountFen, Expr::value(amount))
                    .filter(project_tranche::Column::Id.eq(t.id))
                    .exec(&txn)
                    .await?;
            }
        }
        update.filter(project::Column::Id.eq(p.id)).exec(&txn).await?;
    }
    let action = if approve { "amendment_approved" } else { "amendment_rejected" };
    event(&txn, "project", p.id, action, Some(user.id), comment, now).await?;
    txn.commit().await?;
    get(ctx, user, p.id).await
}

/// The organization's leader reports a milestone: a narrative, attachments as URLs, and the
/// figures of the moment (frozen). `tranche` names the tranche it releases (by its number);
/// 409 `tranche_not_planned` when that one is already due or paid, `milestone_pending` when
/// a report for it waits (or was accepted).
pub async fn report_milestone(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    tranche: Option<i32>,
    title: String,
    narrative: String,
    attachments: Vec<String>,
) -> AppResult<ProjectView> {
    let p = find(&ctx.db, id).await?;
    if !access(&ctx.db, user, &p).await?.leader {
        return Err(AppError::Forbidden("requires the organization's leader"));
    }
    require_active(&p)?;
    let tranche_id = match tranche {
        None => None,
        Some(seq) => {
            let t = project_tranche::Entity::find()
                .filter(project_tranche::Column::ProjectId.eq(id))
                .filter(project_tranche::Column::Seq.eq(seq))
                .one(&ctx.db)
                .await?
                .ok_or_else(|| AppError::invalid("tranche", "not_found", "没有这一期拨付"))?;
            if t.status != "planned" {
                return Err(AppError::Conflict("tranche_not_planned", "这一期已拨付或已到期".into()));
            }
            let pending = project_milestone::Entity::find()
                .filter(project_milestone::Column::TrancheId.eq(t.id))
                .filter(project_milestone::Column::Status.is_in(["submitted", "accepted"]))
                .count(&ctx.db)
                .await?;
            if pending > 0 {
                return Err(AppError::Conflict("milestone_pending", "这一期已有待审核的节点报告".into()));
            }
            Some(t.id)
        }
    };
    let plan: Vec<Deliverable> = serde_json::from_str(&p.plan).unwrap_or_default();
    let figures = progress(&plan, &evidence(&ctx.db, &p).await?);
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let mid = project_milestone::Entity::insert(project_milestone::ActiveModel {
        project_id: Set(id),
        tranche_id: Set(tranche_id),
        title: Set(title.clone()),
        narrative: Set(narrative),
        figures: Set(serde_json::to_string(&figures).map_err(|e| AppError::Internal(e.into()))?),
        attachments: Set(serde_json::to_string(&attachments).map_err(|e| AppError::Internal(e.into()))?),
        status: Set("submitted".into()),
        submitted_by: Set(user.id),
        submitted_at: Set(now),
        ..Default::default()
    })
    .exec(&txn)
    .await?
    .last_insert_id;
    event(&txn, "project", id, "milestone_reported", Some(user.id), Some(format!("milestone:{mid} {title}")), now)
        .await?;
    if let Some(s) = p.supervisor_id {
        enqueue(
            &txn,
            vec![notice(
                s,
                "project_milestone",
                "项目节点待审核",
                format!("项目「{}」报告了节点「{title}」", p.title),
                p.organization_id,
                format!("project_milestone:{mid}"),
            )],
            now,
        )
        .await?;
    }
    txn.commit().await?;
    get(ctx, user, id).await
}

/// The supervisor accepts or returns a milestone report; an accepted one makes its
/// tranche due. 409 `milestone_reviewed`.
pub async fn review_milestone(
    ctx: &AppContext,
    user: &AuthUser,
    milestone_id: i64,
    accept: bool,
    comment: Option<String>,
) -> AppResult<ProjectView> {
    let m = project_milestone::Entity::find_by_id(milestone_id)
        .one(&ctx.db)
        .await?
        .ok_or(AppError::NotFound("milestone"))?;
    let p = find(&ctx.db, m.project_id).await?;
    if !access(&ctx.db, user, &p).await?.supervisor {
        return Err(AppError::Forbidden("requires the project's supervisor"));
    }
    require_active(&p)?;
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let res = project_milestone::Entity::update_many()
        .col_expr(project_milestone::Column::Status, Expr::value(if accept { "accepted" } else { "returned" }))
        .col_expr(project_milestone::Column::ReviewedBy, Expr::value(user.id))
        .col_expr(project_milestone::Column::ReviewedAt, Expr::value(now))
        .col_expr(project_milestone::Column::Comment, Expr::value(comment.clone()))
        .filter(project_milestone::Column::Id.eq(milestone_id))
        .filter(project_milestone::Column::Status.eq("submitted"))
        .exec(&txn)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::Conflict("milestone_reviewed", "该节点报告已审核".into()));
    }
    if accept && let Some(t) = m.tranche_id {
        project_tranche::Entity::update_many()
            .col_expr(project_tranche::Column::Status, Expr::value("due"))
            .col_expr(project_tranche::Column::DueAt, Expr::value(now))
            .filter(project_tranche::Column::Id.eq(t))
            .filter(project_tranche::Column::Status.eq("planned"))
            .exec(&txn)
            .await?;
    }
    let action = if accept { "milestone_accepted" } else { "milestone_returned" };
    event(&txn, "project", p.id, action, Some(user.id), comment, now).await?;
    txn.commit().await?;
    get(ctx, user, p.id).await
}

/// The funder records a due tranche as paid (no payment integration: the date it was
/// paid). 409 `tranche_not_due`; the database refuses paying past the amount granted.
pub async fn pay(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    seq: i32,
    paid_at: DateTime<Utc>,
) -> AppResult<ProjectView> {
    let p = find(&ctx.db, id).await?;
    if !access(&ctx.db, user, &p).await?.funder {
        return Err(AppError::Forbidden("requires the funder"));
    }
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let t = project_tranche::Entity::find()
        .filter(project_tranche::Column::ProjectId.eq(id))
        .filter(project_tranche::Column::Seq.eq(seq))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("tranche"))?;
    let res = project_tranche::Entity::update_many()
        .col_expr(project_tranche::Column::Status, Expr::value("paid"))
        .col_expr(project_tranche::Column::PaidAt, Expr::value(paid_at))
        .col_expr(project_tranche::Column::PaidBy, Expr::value(user.id))
        .filter(project_tranche::Column::Id.eq(t.id))
        .filter(project_tranche::Column::Status.eq("due"))
        .exec(&txn)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::Conflict("tranche_not_due", "这一期尚未到期或已拨付".into()));
    }
    project::Entity::update_many()
        .col_expr(project::Column::PaidFen, Expr::col(project::Column::PaidFen).add(Expr::value(t.amount_fen)))
        .col_expr(project::Column::UpdatedAt, Expr::value(now))
        .filter(project::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    event(&txn, "project", id, "tranche_paid", Some(user.id), Some(format!("第 {seq} 期 {} 分", t.amount_fen)), now)
        .await?;
    txn.commit().await?;
    get(ctx, user, id).await
}

/// The supervisor (or the funder) evaluates the project on the call's rubric: every leaf
/// scored. A final evaluation closes it: `completed` (its planned tranches fall due), or
/// `failed` with the fen to reclaim (at most what was paid; its planned tranches are
/// cancelled). 422 for missing or bad scores, a final without an outcome;
/// 409 `project_not_active`.
#[allow(clippy::too_many_arguments)]
pub async fn evaluate(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    kind: EvaluationKind,
    scores: Vec<(String, i64, Option<String>)>,
    comment: String,
    outcome: Option<Outcome>,
    reclaim_fen: Option<i64>,
) -> AppResult<ProjectView> {
    let p = find(&ctx.db, id).await?;
    let a = access(&ctx.db, user, &p).await?;
    if !(a.supervisor || a.funder) {
        return Err(AppError::Forbidden("requires the supervisor or the funder"));
    }
    require_active(&p)?;
    let call = find_call(&ctx.db, p.call_id).await?;
    let rubric: Vec<Indicator> = serde_json::from_str(&call.rubric).unwrap_or_default();
    let leaves: Vec<(&str, u32)> = leaves_of(&rubric).into_iter().map(|l| (l.code.as_str(), l.max)).collect();
    let mut errors = mark_problems(&leaves, &scores);
    let scored: BTreeSet<&str> = scores.iter().map(|s| s.0.as_str()).collect();
    for (code, _) in &leaves {
        if !scored.contains(code) {
            errors.push(FieldError::new("scores", "not_scored", format!("{code} 未评分")));
        }
    }
    match (kind, outcome) {
        (EvaluationKind::Final, None) => errors.push(FieldError::new("outcome", "required", "结项评估须给出结论")),
        (EvaluationKind::Midterm, Some(_)) => {
            errors.push(FieldError::new("outcome", "not_applicable", "中期评估不结项"))
        }
        _ => {}
    }
    match (outcome, reclaim_fen) {
        (Some(Outcome::Failed), Some(r)) if r < 0 || r > p.paid_fen => {
            errors.push(FieldError::new("reclaim_fen", "range", format!("追回金额须在 0–{} 分之间", p.paid_fen)))
        }
        (Some(Outcome::Failed), None) => {
            errors.push(FieldError::new("reclaim_fen", "required", "项目失败须写明追回金额"))
        }
        (Some(Outcome::Completed) | None, Some(_)) => {
            errors.push(FieldError::new("reclaim_fen", "not_applicable", "只有失败的项目追回资金"))
        }
        _ => {}
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let total: i64 = scores.iter().map(|s| s.1 * 10).sum();
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    project_evaluation::Entity::insert(project_evaluation::ActiveModel {
        project_id: Set(id),
        kind: Set(kind.as_str().to_owned()),
        scores: Set(serde_json::to_string(&scores.iter().map(|s| (s.0.clone(), s.1)).collect::<Vec<_>>())
            .map_err(|e| AppError::Internal(e.into()))?),
        total_tenths: Set(total),
        outcome: Set(outcome.map(|o| o.as_str().to_owned())),
        reclaim_fen: Set(reclaim_fen),
        comment: Set(comment.clone()),
        evaluator_id: Set(user.id),
        at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(&txn)
    .await?;
    event(&txn, "project", id, &format!("evaluated_{}", kind.as_str()), Some(user.id), Some(comment), now).await?;
    if let Some(o) = outcome {
        let status = if o == Outcome::Completed { ProjectStatus::Completed } else { ProjectStatus::Failed };
        let res = project::Entity::update_many()
            .col_expr(project::Column::Status, Expr::value(status.as_str()))
            .col_expr(project::Column::ReclaimFen, Expr::value(reclaim_fen))
            .col_expr(project::Column::ClosedAt, Expr::value(now))
            .col_expr(project::Column::UpdatedAt, Expr::value(now))
            .filter(project::Column::Id.eq(id))
            .filter(project::Column::Status.eq(ProjectStatus::Active.as_str()))
            .exec(&txn)
            .await?;
        if res.rows_affected == 0 {
            return Err(AppError::Conflict("project_not_active", "项目不在执行中".into()));
        }
        event(&txn, "project", id, status.as_str(), Some(user.id), reclaim_fen.map(|r| format!("追回 {r} 分")), now)
            .await?;
        // Closing settles the tranches still planned: a completed project's fall due (the
        // final evaluation is their milestone); a failed project's are cancelled.
        let (to, due_at) = if o == Outcome::Completed { ("due", Some(now)) } else { ("cancelled", None) };
        project_tranche::Entity::update_many()
            .col_expr(project_tranche::Column::Status, Expr::value(to))
            .col_expr(project_tranche::Column::DueAt, Expr::value(due_at))
            .filter(project_tranche::Column::ProjectId.eq(id))
            .filter(project_tranche::Column::Status.eq("planned"))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    get(ctx, user, id).await
}

/// The project report (项目报告) as a workbook: the overview, plan against actual, month by
/// month, the tranches, and the tagged activities.
pub async fn report(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<File> {
    let (v, pr) = progress_of(ctx, user, id).await?;
    let xerr = |e: rust_xlsxwriter::XlsxError| AppError::Internal(anyhow::anyhow!("building the workbook: {e}"));
    let mut book = rust_xlsxwriter::Workbook::new();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    let yuan = |fen: i64| fen as f64 / 100.0;
    {
        let s = book.add_worksheet().set_name("项目概况").map_err(xerr)?;
        let p = &v.project;
        // Text where it is text, numbers where a spreadsheet should add them up.
        enum Cell {
            Text(String),
            Number(f64),
        }
        let status = match v.status {
            ProjectStatus::PendingAgreement => "待签约",
            ProjectStatus::Active => "执行中",
            ProjectStatus::Completed => "已结项",
            ProjectStatus::Failed => "未通过",
        };
        let period = format!(
            "{} – {}",
            p.starts_on.map(|d| d.to_string()).unwrap_or_default(),
            p.ends_on.map(|d| d.to_string()).unwrap_or_default()
        );
        let rows: Vec<(&str, Cell)> = vec![
            ("项目", Cell::Text(p.title.clone())),
            ("组织", Cell::Text(v.organization_name.clone())),
            ("状态", Cell::Text(status.to_owned())),
            ("资助金额（元）", Cell::Number(yuan(p.amount_fen))),
            ("已拨付（元）", Cell::Number(yuan(p.paid_fen))),
            ("周期", Cell::Text(period)),
            ("计入活动", Cell::Number(pr.activities_held as f64)),
            ("服务人数", Cell::Number(pr.participants as f64)),
            ("服务时长（分钟）", Cell::Number(pr.service_minutes as f64)),
        ];
        for (r, (k, val)) in rows.iter().enumerate() {
            s.write_string_with_format(r as u32, 0, *k, &bold).map_err(xerr)?;
            match val {
                Cell::Text(t) => s.write_string(r as u32, 1, t).map_err(xerr)?,
                Cell::Number(n) => s.write_number(r as u32, 1, *n).map_err(xerr)?,
            };
        }
    }
    {
        let s = book.add_worksheet().set_name("成果").map_err(xerr)?;
        for (c, h) in ["指标", "对象/类型", "计划", "实际", "完成率", "截止"].iter().enumerate() {
            s.write_string_with_format(0, c as u16, *h, &bold).map_err(xerr)?;
        }
        for (r, d) in pr.deliverables.iter().enumerate() {
            let r = r as u32 + 1;
            s.write_string(r, 0, d.deliverable.kind.as_str()).map_err(xerr)?;
            let detail = d
                .deliverable
                .target_group
                .map(|g| g.as_str())
                .or(d.deliverable.activity_kind.map(|k| k.as_str()))
                .unwrap_or("");
            s.write_string(r, 1, detail).map_err(xerr)?;
            s.write_number(r, 2, d.deliverable.target as f64).map_err(xerr)?;
            s.write_number(r, 3, d.actual as f64).map_err(xerr)?;
            s.write_string(r, 4, format!("{}%", d.percent)).map_err(xerr)?;
            s.write_string(r, 5, d.deliverable.due_on.to_string()).map_err(xerr)?;
        }
    }
    {
        let s = book.add_worksheet().set_name("月度").map_err(xerr)?;
        for (c, h) in ["月份", "活动场次", "服务人数", "服务时长（分钟）"].iter().enumerate() {
            s.write_string_with_format(0, c as u16, *h, &bold).map_err(xerr)?;
        }
        for (r, m) in pr.months.iter().enumerate() {
            let r = r as u32 + 1;
            s.write_string(r, 0, &m.month).map_err(xerr)?;
            s.write_number(r, 1, m.activities_held as f64).map_err(xerr)?;
            s.write_number(r, 2, m.participants as f64).map_err(xerr)?;
            s.write_number(r, 3, m.service_minutes as f64).map_err(xerr)?;
        }
    }
    {
        let s = book.add_worksheet().set_name("拨付").map_err(xerr)?;
        for (c, h) in ["期", "节点", "比例", "金额（元）", "状态", "拨付时间"].iter().enumerate() {
            s.write_string_with_format(0, c as u16, *h, &bold).map_err(xerr)?;
        }
        for (r, t) in v.tranches.iter().enumerate() {
            let r = r as u32 + 1;
            s.write_number(r, 0, f64::from(t.seq)).map_err(xerr)?;
            s.write_string(r, 1, &t.milestone).map_err(xerr)?;
            s.write_string(r, 2, format!("{}%", t.percent)).map_err(xerr)?;
            s.write_number(r, 3, yuan(t.amount_fen)).map_err(xerr)?;
            s.write_string(r, 4, &t.status).map_err(xerr)?;
            s.write_string(r, 5, t.paid_at.map(|d| to_shanghai(d).format("%Y-%m-%d").to_string()).unwrap_or_default())
                .map_err(xerr)?;
        }
    }
    {
        let s = book.add_worksheet().set_name("活动").map_err(xerr)?;
        for (c, h) in ["活动", "开始", "状态", "计入", "排除理由"].iter().enumerate() {
            s.write_string_with_format(0, c as u16, *h, &bold).map_err(xerr)?;
        }
        let ids: Vec<i64> = v.activities.iter().map(|t| t.activity_id).collect();
        let acts: HashMap<i64, activity::Model> = activity::Entity::find()
            .filter(activity::Column::Id.is_in(ids))
            .all(&ctx.db)
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
        for (r, t) in v.activities.iter().enumerate() {
            let r = r as u32 + 1;
            let a = acts.get(&t.activity_id);
            s.write_string(r, 0, a.map(|a| a.title.as_str()).unwrap_or("")).map_err(xerr)?;
            s.write_string(
                r,
                1,
                a.map(|a| to_shanghai(a.starts_at).format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default(),
            )
            .map_err(xerr)?;
            let state = match a.map(|a| a.status.as_str()) {
                Some("finished") => "已举办",
                Some("cancelled") => "已取消",
                _ => "未举办",
            };
            s.write_string(r, 2, state).map_err(xerr)?;
            let counted = !t.excluded && a.is_some_and(|a| a.status == ActivityStatus::Finished.as_str());
            s.write_string(r, 3, if counted { "是" } else { "否" }).map_err(xerr)?;
            s.write_string(r, 4, t.exclude_reason.clone().unwrap_or_default()).map_err(xerr)?;
        }
    }
    Ok(File { stem: format!("project-{id}"), format: FileFormat::Xlsx, bytes: book.save_to_buffer().map_err(xerr)? })
}
