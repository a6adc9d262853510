//! Rating assessments (等级评估): civil affairs opens one for an eligible organization
//! under a published scheme (which it freezes) with a panel from its assessor pool; the
//! panel scores the leaves; civil affairs finalizes (total and grade by the bands); the
//! result is on public notice (公示) for the scheme's notice days, in which the
//! organization may appeal once; then the grade is awarded with its validity (the hourly
//! job, [`tick`]). The current grade is the newest awarded one still valid; an expired
//! grade falls away by itself. Every step is kept with who, when and why.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, Query, SelectStatement},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    auth::{
        AuthUser,
        scope::{holds_region_role, region_path},
    },
    context::AppContext,
    domain::{
        annual_report::{ReportResult, open_year},
        clock::to_shanghai,
        organization::OrgStatus,
        rating::{
            AppealDecision, AssessmentStatus, EligibilityCheck, EligibilityFacts, Grade, SchemeContent, ScoreSource,
            check_eligibility, mark_problems, mean_tenths, satisfaction_tenths, valid_until,
        },
        role::Role,
    },
    entity::{annual_report, organization, rating_assessment, rating_event, rating_score},
    error::{AppError, AppResult, FieldError},
    service::{
        abnormal, begin_write,
        expert_pools::{self, Pool},
        notifications::{Notice, enqueue},
        organization_scope::regions_under,
        organizations::holders,
        rating_schemes::{self, SchemeView, ids_on},
        satisfaction,
    },
};

/// How one leaf was scored, as kept when the assessment is finalized.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LeafResult {
    pub indicator: String,
    /// Tenths of a point.
    pub tenths: i64,
    /// `panel` (the mean of the assessors' scores) or `satisfaction` (residents' scores).
    pub source: ScoreSource,
    /// Assessors' scores or residents' responses behind it.
    pub responses: i64,
}

/// One assessor's current score of one leaf.
#[derive(Clone, Debug)]
pub struct Mark {
    /// Hidden (`None`) from the organization.
    pub assessor_id: Option<i64>,
    pub indicator: String,
    pub score: i32,
    pub note: Option<String>,
    /// Hidden (`None`) from the organization.
    pub at: Option<DateTime<Utc>>,
}

/// An assessment as its reader may see it.
#[derive(Clone, Debug)]
pub struct AssessmentView {
    pub assessment: rating_assessment::Model,
    pub status: AssessmentStatus,
    pub organization_name: String,
    pub scheme: SchemeView,
    pub eligibility: Vec<EligibilityCheck>,
    pub panel: Vec<(i64, Option<String>)>,
    /// Assessors' scores: civil affairs sees them all; a panel member their own while
    /// scoring, all after; the organization sees them (without who gave them, or when)
    /// once the result is on notice; nobody else.
    pub marks: Vec<Mark>,
    pub breakdown: Vec<LeafResult>,
    pub history: Vec<rating_event::Model>,
}

/// Panel ids are kept as `,3,7,9,` so one `LIKE '%,7,%'` finds an assessor's assessments.
fn panel_text(ids: &[i64]) -> String {
    format!(",{},", ids.iter().map(i64::to_string).collect::<Vec<_>>().join(","))
}

fn panel_ids(s: &str) -> Vec<i64> {
    s.split(',').filter_map(|x| x.parse().ok()).collect()
}

fn status_of(m: &rating_assessment::Model) -> AssessmentStatus {
    AssessmentStatus::parse(&m.status).unwrap_or(AssessmentStatus::Withdrawn)
}

async fn find_org(db: &impl ConnectionTrait, id: i64) -> AppResult<organization::Model> {
    organization::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("organization"))
}

async fn find(db: &impl ConnectionTrait, id: i64) -> AppResult<rating_assessment::Model> {
    rating_assessment::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("rating assessment"))
}

/// Civil affairs over the organization's community (the system admin everywhere).
fn require_civil_affairs(user: &AuthUser, path: &str) -> AppResult<()> {
    if holds_region_role(user, &[Role::CivilAffairs], path) {
        Ok(())
    } else {
        Err(AppError::Forbidden("requires civil affairs over the organization"))
    }
}

/// What the eligibility rules look at for an organization at `now`: its filing date, the
/// results of the last two years' annual reports, the abnormal list.
pub async fn facts(
    db: &impl ConnectionTrait,
    org: &organization::Model,
    now: DateTime<Utc>,
) -> AppResult<EligibilityFacts> {
    let last = open_year(now);
    let results: HashMap<i32, ReportResult> = annual_report::Entity::find()
        .filter(annual_report::Column::OrganizationId.eq(org.id))
        .filter(annual_report::Column::Year.is_in([last, last - 1]))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|r| Some((r.year, ReportResult::parse(r.result.as_deref()?)?)))
        .collect();
    let status = OrgStatus::parse(&org.status);
    Ok(EligibilityFacts {
        filed_at: org.filed_at,
        last_year: results.get(&last).copied(),
        year_before: results.get(&(last - 1)).copied(),
        on_abnormal_list: !abnormal::current_of(db, org.id).await?.is_empty(),
        active: matches!(status, Some(OrgStatus::Filed | OrgStatus::Registered)),
    })
}

/// Whether an organization may be rated under a scheme, rule by rule. Its staff and the
/// officials over it may ask.
pub async fn eligibility(
    ctx: &AppContext,
    user: &AuthUser,
    org_id: i64,
    scheme_id: i64,
) -> AppResult<(SchemeView, Vec<EligibilityCheck>)> {
    let org = find_org(&ctx.db, org_id).await?;
    let path = region_path(&ctx.db, org.community_id).await?;
    if !user.works_for(org_id) && !holds_region_role(user, &[Role::Committee, Role::Street, Role::CivilAffairs], &path)
    {
        return Err(AppError::Forbidden("requires organization staff or an official over it"));
    }
    let scheme = rating_schemes::applicable(&ctx.db, scheme_id, &path).await?;
    let f = facts(&ctx.db, &org, ctx.now()).await?;
    let checks = check_eligibility(&scheme.content.eligibility, &f, ctx.now());
    Ok((scheme, checks))
}

fn refusals(checks: &[EligibilityCheck]) -> Vec<FieldError> {
    checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| FieldError::new(c.rule.clone(), "ineligible", c.detail.clone()))
        .collect()
}

async fn event(
    txn: &DatabaseTransaction,
    id: i64,
    action: &str,
    actor: Option<i64>,
    comment: Option<String>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    rating_event::Entity::insert(rating_event::ActiveModel {
        assessment_id: Set(id),
        action: Set(action.into()),
        actor_id: Set(actor),
        comment: Set(comment),
        at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
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

/// Opens an assessment: civil affairs over the organization, a published scheme that
/// applies there, 1–7 distinct assessors from the assessor pools of the organization's
/// regions. 409 `not_eligible` (each failed rule in `errors`), 409 `assessment_open` when
/// one is under way.
pub async fn open(
    ctx: &AppContext,
    user: &AuthUser,
    org_id: i64,
    scheme_id: i64,
    mut panel: Vec<i64>,
) -> AppResult<AssessmentView> {
    let org = find_org(&ctx.db, org_id).await?;
    let path = region_path(&ctx.db, org.community_id).await?;
    require_civil_affairs(user, &path)?;
    let scheme = rating_schemes::applicable(&ctx.db, scheme_id, &path).await?;
    panel.sort_unstable();
    if panel.windows(2).any(|w| w[0] == w[1]) {
        return Err(AppError::invalid("assessor_ids", "duplicate", "评估专家不能重复"));
    }
    if panel.is_empty() || panel.len() > 7 {
        return Err(AppError::invalid("assessor_ids", "count", "评估专家须为 1–7 人"));
    }
    // No one assesses an organization they work for, nor one they open the assessment of.
    let insiders = holders(&ctx.db, org_id, &[Role::OrgLeader, Role::OrgStaff]).await?;
    let conflicted: Vec<String> =
        panel.iter().filter(|p| insiders.contains(p) || **p == user.id).map(i64::to_string).collect();
    if !conflicted.is_empty() {
        return Err(AppError::invalid(
            "assessor_ids",
            "assessor_conflict",
            format!("{} 与被评估组织或本次评估的组织者有利害关系，须回避", conflicted.join(", ")),
        ));
    }
    let mut pool = Vec::new();
    for region in ids_on(&path) {
        pool.extend(expert_pools::active(&ctx.db, Pool::Assessors, region).await?);
    }
    let outside: Vec<String> = panel.iter().filter(|p| !pool.contains(p)).map(i64::to_string).collect();
    if !outside.is_empty() {
        return Err(AppError::invalid(
            "assessor_ids",
            "not_in_pool",
            format!("{} 不在该地区的评估专家库中", outside.join(", ")),
        ));
    }
    let now = ctx.now();
    let f = facts(&ctx.db, &org, now).await?;
    let checks = check_eligibility(&scheme.content.eligibility, &f, now);
    let failed = refusals(&checks);
    if !failed.is_empty() {
        return Err(AppError::ConflictList("not_eligible", "该组织暂不符合参加等级评估的条件".into(), failed));
    }
    let txn = begin_write(&ctx.db).await?;
    // One assessment under way per organization: the organization's row is the lock
    // (SQLite serialises writers anyway).
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        organization::Entity::find_by_id(org_id).lock_exclusive().one(&txn).await?;
    }
    let running = rating_assessment::Entity::find()
        .filter(rating_assessment::Column::OrganizationId.eq(org_id))
        .filter(
            rating_assessment::Column::Status
                .is_in(AssessmentStatus::ALL.iter().filter(|s| s.open()).map(|s| s.as_str()).collect::<Vec<_>>()),
        )
        .one(&txn)
        .await?;
    if running.is_some() {
        return Err(AppError::Conflict("assessment_open", "该组织已有一次进行中的等级评估".into()));
    }
    let id = rating_assessment::Entity::insert(rating_assessment::ActiveModel {
        organization_id: Set(org_id),
        scheme_id: Set(scheme.scheme.id),
        panel: Set(panel_text(&panel)),
        status: Set(AssessmentStatus::Scoring.as_str().into()),
        eligibility: Set(serde_json::to_string(&checks).map_err(|e| AppError::Internal(e.into()))?),
        created_by: Set(user.id),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(&txn)
    .await?
    .last_insert_id;
    event(&txn, id, "opened", Some(user.id), Some(format!("{} v{}", scheme.scheme.name, scheme.scheme.version)), now)
        .await?;
    let mut notices: Vec<Notice> = panel
        .iter()
        .map(|p| {
            notice(
                *p,
                "rating_assigned",
                "等级评估任务",
                format!("请为「{}」评分（{}）", org.name, scheme.scheme.name),
                org_id,
                format!("rating_assigned:{id}:{p}"),
            )
        })
        .collect();
    for leader in holders(&txn, org_id, &[Role::OrgLeader]).await? {
        notices.push(notice(
            leader,
            "rating_opened",
            "等级评估已启动",
            format!("「{}」的等级评估已启动，专家将按「{}」评分", org.name, scheme.scheme.name),
            org_id,
            format!("rating_opened:{id}:{leader}"),
        ));
    }
    enqueue(&txn, notices, now).await?;
    txn.commit().await?;
    get(ctx, user, id).await
}

/// Who is reading an assessment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reader {
    /// Civil affairs or the system admin over it.
    Full,
    /// One of its panel: everything but the other assessors' scores while scoring (they
    /// score independently).
    Panel,
    /// The organization's staff, and the street office and committee over it: the scores
    /// once on notice, never who gave which (no assessor, no time, no `scored` actor), and
    /// the panel only once scoring is over.
    Organization,
}

async fn reader(
    db: &impl ConnectionTrait,
    user: &AuthUser,
    m: &rating_assessment::Model,
) -> AppResult<(Reader, String)> {
    let org = find_org(db, m.organization_id).await?;
    let path = region_path(db, org.community_id).await?;
    if holds_region_role(user, &[Role::CivilAffairs], &path) {
        return Ok((Reader::Full, org.name));
    }
    if panel_ids(&m.panel).contains(&user.id) {
        return Ok((Reader::Panel, org.name));
    }
    if user.works_for(org.id) || holds_region_role(user, &[Role::Committee, Role::Street], &path) {
        return Ok((Reader::Organization, org.name));
    }
    Err(AppError::Forbidden("requires civil affairs, the panel, or the organization"))
}

async fn current_marks(db: &impl ConnectionTrait, id: i64) -> AppResult<Vec<rating_score::Model>> {
    Ok(rating_score::Entity::find()
        .filter(rating_score::Column::AssessmentId.eq(id))
        .filter(rating_score::Column::SupersededAt.is_null())
        .order_by_asc(rating_score::Column::Id)
        .all(db)
        .await?)
}

/// One assessment, as its reader may see it.
pub async fn get(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<AssessmentView> {
    let m = find(&ctx.db, id).await?;
    let (who, organization_name) = reader(&ctx.db, user, &m).await?;
    let status = status_of(&m);
    let scheme = rating_schemes::get(ctx, Some(user), m.scheme_id).await?;
    let scoring = status == AssessmentStatus::Scoring;
    let mut marks: Vec<Mark> = current_marks(&ctx.db, id)
        .await?
        .into_iter()
        .filter(|s| match who {
            Reader::Full => true,
            Reader::Panel => !scoring || s.assessor_id == user.id,
            Reader::Organization => !scoring,
        })
        .map(|s| Mark {
            assessor_id: (who != Reader::Organization).then_some(s.assessor_id),
            indicator: s.indicator,
            score: s.score,
            note: s.note,
            at: (who != Reader::Organization).then_some(s.at),
        })
        .collect();
    if who == Reader::Organization {
        // In leaf order, then by score: nothing left to tie a score to its assessor.
        marks.sort_by(|a, b| a.indicator.cmp(&b.indicator).then(a.score.cmp(&b.score)));
    }
    let ids = if who == Reader::Organization && scoring { Vec::new() } else { panel_ids(&m.panel) };
    let names = expert_pools::nicknames(&ctx.db, ids.clone()).await?;
    let panel = ids.into_iter().map(|i| (i, names.get(&i).cloned().flatten())).collect();
    let breakdown = m.breakdown.as_deref().and_then(|b| serde_json::from_str(b).ok()).unwrap_or_default();
    let eligibility = serde_json::from_str(&m.eligibility).unwrap_or_default();
    let history = rating_event::Entity::find()
        .filter(rating_event::Column::AssessmentId.eq(id))
        .order_by_asc(rating_event::Column::Id)
        .all(&ctx.db)
        .await?
        .into_iter()
        .filter(|e| who != Reader::Organization || e.action != "scored")
        .collect();
    Ok(AssessmentView {
        assessment: m,
        status,
        organization_name,
        scheme,
        eligibility,
        panel,
        marks,
        breakdown,
        history,
    })
}

/// One assessor's score of one leaf.
#[derive(Clone, Debug)]
pub struct MarkInput {
    pub indicator: String,
    pub score: i64,
    pub note: Option<String>,
}

/// A panel member scores leaves (each replaces that assessor's earlier score of the leaf;
/// the earlier one is kept, superseded). Only while `scoring`: 409 `not_scoring`. Each
/// problem is listed (422): an unknown or non-leaf indicator, a score outside 0–max.
pub async fn score(ctx: &AppContext, user: &AuthUser, id: i64, marks: Vec<MarkInput>) -> AppResult<AssessmentView> {
    let m = find(&ctx.db, id).await?;
    if !panel_ids(&m.panel).contains(&user.id) {
        return Err(AppError::Forbidden("requires a member of the assessment's panel"));
    }
    let scheme = rating_schemes::get(ctx, Some(user), m.scheme_id).await?;
    let leaves: Vec<(&str, u32)> = scheme.content.leaves().into_iter().map(|l| (l.code.as_str(), l.max)).collect();
    let errors = mark_problems(
        &leaves,
        &marks.iter().map(|m| (m.indicator.clone(), m.score, m.note.clone())).collect::<Vec<_>>(),
    );
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let current = find(&txn, id).await?;
    if status_of(&current) != AssessmentStatus::Scoring {
        return Err(AppError::Conflict("not_scoring", "该评估当前不在评分阶段".into()));
    }
    for mark in &marks {
        rating_score::Entity::update_many()
            .col_expr(rating_score::Column::SupersededAt, Expr::value(now))
            .filter(rating_score::Column::AssessmentId.eq(id))
            .filter(rating_score::Column::AssessorId.eq(user.id))
            .filter(rating_score::Column::Indicator.eq(mark.indicator.clone()))
            .filter(rating_score::Column::SupersededAt.is_null())
            .exec(&txn)
            .await?;
        rating_score::Entity::insert(rating_score::ActiveModel {
            assessment_id: Set(id),
            indicator: Set(mark.indicator.clone()),
            assessor_id: Set(user.id),
            score: Set(mark.score as i32),
            note: Set(mark.note.clone()),
            at: Set(now),
            superseded_at: Set(None),
            ..Default::default()
        })
        .exec_without_returning(&txn)
        .await?;
    }
    event(&txn, id, "scored", Some(user.id), Some(format!("{} 项", marks.len())), now).await?;
    txn.commit().await?;
    get(ctx, user, id).await
}

/// Each leaf's result: a `satisfaction` leaf from residents' scores when enough residents
/// scored (this year's and last year's), otherwise the mean of the panel's scores; a leaf
/// some member of the panel has not scored is missing (naming who).
async fn results(
    db: &impl ConnectionTrait,
    m: &rating_assessment::Model,
    content: &SchemeContent,
    now: DateTime<Utc>,
) -> AppResult<(Vec<LeafResult>, Vec<FieldError>)> {
    let marks = current_marks(db, m.id).await?;
    let (sat_sum, sat_count) = satisfaction::totals(db, m.organization_id, open_year(now)).await?;
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for leaf in content.leaves() {
        if leaf.source == Some(ScoreSource::Satisfaction) && sat_count >= i64::from(content.min_satisfaction_responses)
        {
            out.push(LeafResult {
                indicator: leaf.code.clone(),
                tenths: satisfaction_tenths(leaf.max, sat_sum, sat_count),
                source: ScoreSource::Satisfaction,
                responses: sat_count,
            });
            continue;
        }
        let scores: Vec<u32> =
            marks.iter().filter(|s| s.indicator == leaf.code).map(|s| s.score.max(0) as u32).collect();
        // Every member of the panel scores every leaf the residents do not.
        let absent: Vec<String> = panel_ids(&m.panel)
            .into_iter()
            .filter(|p| !marks.iter().any(|s| s.indicator == leaf.code && s.assessor_id == *p))
            .map(|p| p.to_string())
            .collect();
        if !absent.is_empty() {
            missing.push(FieldError::new(
                leaf.code.clone(),
                "not_scored",
                format!("「{}」尚未由评估专家 {} 评分", leaf.name, absent.join(", ")),
            ));
        } else {
            out.push(LeafResult {
                indicator: leaf.code.clone(),
                tenths: mean_tenths(&scores),
                source: ScoreSource::Panel,
                responses: scores.len() as i64,
            });
        }
    }
    Ok((out, missing))
}

fn points(tenths: i64) -> String {
    format!("{}.{}", tenths / 10, tenths % 10)
}

/// Civil affairs closes scoring: the total and the grade by the bands; the result goes on
/// public notice for the scheme's notice days. 409 `scores_missing` lists each unscored
/// leaf; 409 `not_scoring` when not scoring.
pub async fn finalize(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<AssessmentView> {
    let m = find(&ctx.db, id).await?;
    let org = find_org(&ctx.db, m.organization_id).await?;
    require_civil_affairs(user, &region_path(&ctx.db, org.community_id).await?)?;
    let scheme = rating_schemes::get(ctx, Some(user), m.scheme_id).await?;
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let current = find(&txn, id).await?;
    if status_of(&current) != AssessmentStatus::Scoring {
        return Err(AppError::Conflict("not_scoring", "该评估当前不在评分阶段".into()));
    }
    let f = facts(&txn, &org, now).await?;
    let failed = refusals(&check_eligibility(&scheme.content.eligibility, &f, now));
    if !failed.is_empty() {
        return Err(AppError::ConflictList("not_eligible", "该组织已不符合参加等级评估的条件".into(), failed));
    }
    let (leaves, missing) = results(&txn, &current, &scheme.content, now).await?;
    if !missing.is_empty() {
        return Err(AppError::ConflictList("scores_missing", format!("还有 {} 项指标未评分", missing.len()), missing));
    }
    let total: i64 = leaves.iter().map(|l| l.tenths).sum();
    let grade = scheme.content.grade_for(total);
    let until = now + Duration::days(i64::from(scheme.content.notice_days));
    rating_assessment::Entity::update_many()
        .col_expr(rating_assessment::Column::Status, Expr::value(AssessmentStatus::Notice.as_str()))
        .col_expr(rating_assessment::Column::TotalTenths, Expr::value(total))
        .col_expr(rating_assessment::Column::Grade, Expr::value(grade.map(Grade::as_str)))
        .col_expr(
            rating_assessment::Column::Breakdown,
            Expr::value(serde_json::to_string(&leaves).map_err(|e| AppError::Internal(e.into()))?),
        )
        .col_expr(rating_assessment::Column::NoticeFrom, Expr::value(now))
        .col_expr(rating_assessment::Column::NoticeUntil, Expr::value(until))
        .col_expr(rating_assessment::Column::UpdatedAt, Expr::value(now))
        .filter(rating_assessment::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    let summary = format!("{} 分，{}", points(total), grade.map(Grade::as_str).unwrap_or("未达到等级"));
    event(&txn, id, "finalized", Some(user.id), Some(summary.clone()), now).await?;
    let notices = holders(&txn, org.id, &[Role::OrgLeader])
        .await?
        .into_iter()
        .map(|leader| {
            notice(
                leader,
                "rating_notice",
                "等级评估结果公示",
                format!(
                    "「{}」评估结果：{summary}。公示至 {}，如有异议可在公示期内申诉一次",
                    org.name,
                    to_shanghai(until).format("%Y-%m-%d %H:%M")
                ),
                org.id,
                format!("rating_notice:{id}:{}:{leader}", now.timestamp()),
            )
        })
        .collect();
    enqueue(&txn, notices, now).await?;
    txn.commit().await?;
    get(ctx, user, id).await
}

/// The organization's leader appeals the result during the notice period — once. 409
/// `not_on_notice` outside it, `appeal_used` the second time.
pub async fn appeal(ctx: &AppContext, user: &AuthUser, id: i64, reason: String) -> AppResult<AssessmentView> {
    let m = find(&ctx.db, id).await?;
    if !user.leads(m.organization_id) {
        return Err(AppError::Forbidden("requires the organization's leader"));
    }
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let current = find(&txn, id).await?;
    if current.appealed_at.is_some() {
        return Err(AppError::Conflict("appeal_used", "每次评估只能申诉一次".into()));
    }
    let on_notice =
        status_of(&current) == AssessmentStatus::Notice && current.notice_until.is_some_and(|until| now < until);
    if !on_notice {
        return Err(AppError::Conflict("not_on_notice", "只能在公示期内申诉".into()));
    }
    rating_assessment::Entity::update_many()
        .col_expr(rating_assessment::Column::Status, Expr::value(AssessmentStatus::Appealed.as_str()))
        .col_expr(rating_assessment::Column::AppealReason, Expr::value(reason.clone()))
        .col_expr(rating_assessment::Column::AppealedBy, Expr::value(user.id))
        .col_expr(rating_assessment::Column::AppealedAt, Expr::value(now))
        .col_expr(rating_assessment::Column::UpdatedAt, Expr::value(now))
        .filter(rating_assessment::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    event(&txn, id, "appealed", Some(user.id), Some(reason), now).await?;
    let org = find_org(&txn, current.organization_id).await?;
    enqueue(
        &txn,
        vec![notice(
            current.created_by,
            "rating_appealed",
            "等级评估申诉",
            format!("「{}」对评估结果提出申诉，请处理", org.name),
            org.id,
            format!("rating_appealed:{id}"),
        )],
        now,
    )
    .await?;
    txn.commit().await?;
    get(ctx, user, id).await
}

/// Civil affairs answers an appeal: `rescore` returns it to the panel (a new notice
/// follows the new result; no second appeal), `dismiss` lets the notice run on (an
/// elapsed notice is awarded by the next [`tick`]). 409 `not_appealed` otherwise.
pub async fn decide_appeal(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    decision: AppealDecision,
    answer: String,
) -> AppResult<AssessmentView> {
    let answer = super::remark("answer", Some(answer), 500)?
        .ok_or_else(|| AppError::invalid("answer", "required", "须填写答复（1–500 个字符）"))?;
    let m = find(&ctx.db, id).await?;
    let org = find_org(&ctx.db, m.organization_id).await?;
    require_civil_affairs(user, &region_path(&ctx.db, org.community_id).await?)?;
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let current = find(&txn, id).await?;
    if status_of(&current) != AssessmentStatus::Appealed {
        return Err(AppError::Conflict("not_appealed", "该评估没有待处理的申诉".into()));
    }
    let next = match decision {
        AppealDecision::Rescore => AssessmentStatus::Scoring,
        AppealDecision::Dismiss => AssessmentStatus::Notice,
    };
    let mut update = rating_assessment::Entity::update_many();
    if next == AssessmentStatus::Scoring {
        // Scored again: the result on notice no longer stands.
        update = update
            .col_expr(rating_assessment::Column::TotalTenths, Expr::value(Option::<i64>::None))
            .col_expr(rating_assessment::Column::Grade, Expr::value(Option::<String>::None))
            .col_expr(rating_assessment::Column::Breakdown, Expr::value(Option::<String>::None))
            .col_expr(rating_assessment::Column::NoticeFrom, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(rating_assessment::Column::NoticeUntil, Expr::value(Option::<DateTime<Utc>>::None));
    }
    update
        .col_expr(rating_assessment::Column::Status, Expr::value(next.as_str()))
        .col_expr(rating_assessment::Column::AppealAnswer, Expr::value(answer.clone()))
        .col_expr(rating_assessment::Column::UpdatedAt, Expr::value(now))
        .filter(rating_assessment::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    event(&txn, id, &format!("appeal_{}", decision.as_str()), Some(user.id), Some(answer.clone()), now).await?;
    let mut notices: Vec<Notice> = holders(&txn, org.id, &[Role::OrgLeader])
        .await?
        .into_iter()
        .map(|leader| {
            notice(
                leader,
                "rating_appeal_answered",
                "等级评估申诉已处理",
                format!(
                    "「{}」的申诉：{}。{answer}",
                    org.name,
                    if next == AssessmentStatus::Scoring { "重新评分" } else { "维持原评估结果" }
                ),
                org.id,
                format!("rating_appeal_answered:{id}:{leader}"),
            )
        })
        .collect();
    if next == AssessmentStatus::Scoring {
        for p in panel_ids(&current.panel) {
            notices.push(notice(
                p,
                "rating_assigned",
                "等级评估需重新评分",
                format!("「{}」申诉后需重新评分", org.name),
                org.id,
                format!("rating_rescore:{id}:{p}"),
            ));
        }
    }
    enqueue(&txn, notices, now).await?;
    txn.commit().await?;
    get(ctx, user, id).await
}

/// Civil affairs withdraws an assessment under way, with a reason (kept). 409
/// `assessment_closed` once awarded or withdrawn.
pub async fn withdraw(ctx: &AppContext, user: &AuthUser, id: i64, reason: String) -> AppResult<AssessmentView> {
    let m = find(&ctx.db, id).await?;
    let org = find_org(&ctx.db, m.organization_id).await?;
    require_civil_affairs(user, &region_path(&ctx.db, org.community_id).await?)?;
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let res = rating_assessment::Entity::update_many()
        .col_expr(rating_assessment::Column::Status, Expr::value(AssessmentStatus::Withdrawn.as_str()))
        .col_expr(rating_assessment::Column::UpdatedAt, Expr::value(now))
        .filter(rating_assessment::Column::Id.eq(id))
        .filter(rating_assessment::Column::Status.is_in([
            AssessmentStatus::Scoring.as_str(),
            AssessmentStatus::Notice.as_str(),
            AssessmentStatus::Appealed.as_str(),
        ]))
        .exec(&txn)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::Conflict("assessment_closed", "该评估已结束".into()));
    }
    event(&txn, id, "withdrawn", Some(user.id), Some(reason), now).await?;
    txn.commit().await?;
    get(ctx, user, id).await
}

/// What the award job did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RatingTick {
    pub awarded: usize,
    pub not_graded: usize,
    /// No longer eligible when the notice ended (e.g. put on the abnormal list).
    pub withdrawn: usize,
}

/// Awards every assessment whose notice has ended without an appeal pending: the grade
/// with its validity (the newest award supersedes the organization's earlier one), or
/// `not_graded` below every band. Idempotent; concurrent runs award each once (a
/// conditional update on the status).
pub async fn tick(ctx: &AppContext) -> AppResult<RatingTick> {
    let now = ctx.now();
    let due = rating_assessment::Entity::find()
        .filter(rating_assessment::Column::Status.eq(AssessmentStatus::Notice.as_str()))
        .filter(rating_assessment::Column::NoticeUntil.lte(now))
        .all(&ctx.db)
        .await?;
    let mut out = RatingTick::default();
    for m in due {
        let scheme = rating_schemes::get(ctx, None, m.scheme_id).await?;
        let org = find_org(&ctx.db, m.organization_id).await?;
        let f = facts(&ctx.db, &org, now).await?;
        let failed = refusals(&check_eligibility(&scheme.content.eligibility, &f, now));
        if !failed.is_empty() {
            // Put on the abnormal list (or otherwise out of the rules) during its notice:
            // no grade is awarded.
            let txn = begin_write(&ctx.db).await?;
            let res = rating_assessment::Entity::update_many()
                .col_expr(rating_assessment::Column::Status, Expr::value(AssessmentStatus::Withdrawn.as_str()))
                .col_expr(rating_assessment::Column::UpdatedAt, Expr::value(now))
                .filter(rating_assessment::Column::Id.eq(m.id))
                .filter(rating_assessment::Column::Status.eq(AssessmentStatus::Notice.as_str()))
                .exec(&txn)
                .await?;
            if res.rows_affected > 0 {
                let why = failed.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("；");
                event(&txn, m.id, "withdrawn", None, Some(format!("不再符合条件，不予授予：{why}")), now).await?;
                out.withdrawn += 1;
            }
            txn.commit().await?;
            continue;
        }
        let grade = m.grade.as_deref().and_then(Grade::parse);
        let today = to_shanghai(now).date_naive();
        let until = grade.map(|_| valid_until(today, scheme.content.validity_years));
        let next = if grade.is_some() { AssessmentStatus::Awarded } else { AssessmentStatus::NotGraded };
        let txn = begin_write(&ctx.db).await?;
        let res = rating_assessment::Entity::update_many()
            .col_expr(rating_assessment::Column::Status, Expr::value(next.as_str()))
            .col_expr(rating_assessment::Column::AwardedAt, Expr::value(now))
            .col_expr(rating_assessment::Column::ValidUntil, Expr::value(until))
            .col_expr(rating_assessment::Column::UpdatedAt, Expr::value(now))
            .filter(rating_assessment::Column::Id.eq(m.id))
            .filter(rating_assessment::Column::Status.eq(AssessmentStatus::Notice.as_str()))
            .exec(&txn)
            .await?;
        if res.rows_affected == 0 {
            continue;
        }
        if grade.is_some() {
            rating_assessment::Entity::update_many()
                .col_expr(rating_assessment::Column::SupersededBy, Expr::value(m.id))
                .filter(rating_assessment::Column::OrganizationId.eq(m.organization_id))
                .filter(rating_assessment::Column::Status.eq(AssessmentStatus::Awarded.as_str()))
                .filter(rating_assessment::Column::SupersededBy.is_null())
                .filter(rating_assessment::Column::Id.ne(m.id))
                .exec(&txn)
                .await?;
            out.awarded += 1;
        } else {
            out.not_graded += 1;
        }
        let comment = match (grade, until) {
            (Some(g), Some(u)) => format!("{}，有效期至 {}", g.as_str(), u.format("%Y-%m-%d")),
            _ => "未达到等级".to_owned(),
        };
        event(&txn, m.id, next.as_str(), None, Some(comment.clone()), now).await?;
        let notices = holders(&txn, org.id, &[Role::OrgLeader])
            .await?
            .into_iter()
            .map(|leader| {
                notice(
                    leader,
                    "rating_awarded",
                    "等级评估结果",
                    format!("「{}」等级评估结果：{comment}", org.name),
                    org.id,
                    format!("rating_awarded:{}:{leader}", m.id),
                )
            })
            .collect();
        enqueue(&txn, notices, now).await?;
        txn.commit().await?;
    }
    Ok(out)
}

/// The organizations' current grades: the newest award still valid on `today`
/// (Asia/Shanghai), with its last valid day.
pub async fn current_grades(
    db: &impl ConnectionTrait,
    org_ids: &[i64],
    today: NaiveDate,
) -> AppResult<HashMap<i64, (Grade, NaiveDate)>> {
    if org_ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(rating_assessment::Entity::find()
        .filter(rating_assessment::Column::OrganizationId.is_in(org_ids.to_vec()))
        .filter(rating_assessment::Column::Status.eq(AssessmentStatus::Awarded.as_str()))
        .filter(rating_assessment::Column::SupersededBy.is_null())
        .filter(rating_assessment::Column::ValidUntil.gte(today))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|m| Some((m.organization_id, (Grade::parse(m.grade.as_deref()?)?, m.valid_until?))))
        .collect())
}

/// The ids of organizations whose current grade is `grade` (for browse's filter).
pub fn graded(grade: Grade, today: NaiveDate) -> SelectStatement {
    Query::select()
        .column(rating_assessment::Column::OrganizationId)
        .from(rating_assessment::Entity)
        .and_where(rating_assessment::Column::Status.eq(AssessmentStatus::Awarded.as_str()))
        .and_where(rating_assessment::Column::SupersededBy.is_null())
        .and_where(rating_assessment::Column::Grade.eq(grade.as_str()))
        .and_where(rating_assessment::Column::ValidUntil.gte(today))
        .to_owned()
}

/// A line of a list of assessments.
#[derive(Clone, Debug)]
pub struct AssessmentRow {
    pub assessment: rating_assessment::Model,
    pub organization_name: String,
}

async fn rows(db: &impl ConnectionTrait, list: Vec<rating_assessment::Model>) -> AppResult<Vec<AssessmentRow>> {
    let ids: Vec<i64> = list.iter().map(|m| m.organization_id).collect();
    let names: HashMap<i64, String> = organization::Entity::find()
        .filter(organization::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    Ok(list
        .into_iter()
        .map(|m| AssessmentRow {
            organization_name: names.get(&m.organization_id).cloned().unwrap_or_default(),
            assessment: m,
        })
        .collect())
}

/// The assessments of organizations under a region, newest first: for the street office
/// and civil affairs over it.
pub async fn in_region(
    ctx: &AppContext,
    user: &AuthUser,
    region_id: i64,
    status: Option<AssessmentStatus>,
) -> AppResult<Vec<AssessmentRow>> {
    let path = region_path(&ctx.db, region_id).await?;
    if !holds_region_role(user, &[Role::Street, Role::CivilAffairs], &path) {
        return Err(AppError::Forbidden("requires the street office or civil affairs over the region"));
    }
    let mut q = rating_assessment::Entity::find().filter(
        rating_assessment::Column::OrganizationId.in_subquery(
            Query::select()
                .column(organization::Column::Id)
                .from(organization::Entity)
                .and_where(organization::Column::CommunityId.in_subquery(regions_under(&[path])))
                .to_owned(),
        ),
    );
    if let Some(s) = status {
        q = q.filter(rating_assessment::Column::Status.eq(s.as_str()));
    }
    let list = q.order_by_desc(rating_assessment::Column::Id).limit(500).all(&ctx.db).await?;
    rows(&ctx.db, list).await
}

/// The assessments the caller sits on the panel of, newest first.
pub async fn mine(ctx: &AppContext, user: &AuthUser) -> AppResult<Vec<AssessmentRow>> {
    let list = rating_assessment::Entity::find()
        .filter(rating_assessment::Column::Panel.like(format!("%,{},%", user.id)))
        .order_by_desc(rating_assessment::Column::Id)
        .limit(500)
        .all(&ctx.db)
        .await?;
    rows(&ctx.db, list).await
}

/// The public notice (公示): results under a region on notice or under appeal now. Anyone.
pub async fn on_notice(ctx: &AppContext, region_id: i64) -> AppResult<Vec<AssessmentRow>> {
    let path = region_path(&ctx.db, region_id).await?;
    let list = rating_assessment::Entity::find()
        .filter(
            rating_assessment::Column::Status
                .is_in([AssessmentStatus::Notice.as_str(), AssessmentStatus::Appealed.as_str()]),
        )
        .filter(
            rating_assessment::Column::OrganizationId.in_subquery(
                Query::select()
                    .column(organization::Column::Id)
                    .from(organization::Entity)
                    .and_where(organization::Column::CommunityId.in_subquery(regions_under(&[path])))
                    .to_owned(),
            ),
        )
        .order_by_asc(rating_assessment::Column::NoticeUntil)
        .all(&ctx.db)
        .await?;
    rows(&ctx.db, list).await
}
