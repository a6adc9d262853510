//! Annual reports (年报): opened for every filed or registered organization once its year
//! is over, pre-filled from what Linli recorded, written by its staff, submitted by its
//! leader, reviewed by its filing office (the street office for filed organizations,
//! civil affairs for registered ones). Leaders are reminded before the due date; a
//! report overdue past the grace period puts the organization on the abnormal list.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, sea_query::Expr,
};

use crate::{
    auth::{
        AuthUser,
        scope::{holds_region_role, region_path},
    },
    context::AppContext,
    domain::{
        annual_report::{
            REMINDER_DAYS, Recorded, ReportAction, ReportContent, ReportResult, ReportStatus, due_on, is_open,
            open_year, overdue, ready_to_submit,
        },
        clock::{shanghai, to_shanghai},
        organization::{OrgStatus, Standing},
        role::Role,
        venue::BookingStatus,
    },
    entity::{
        annual_report, annual_report_event, organization, organization_event, region, role_grant, venue, venue_booking,
    },
    error::{AppError, AppResult, FieldError},
    service::{
        abnormal, begin_write,
        notifications::{Notice, enqueue},
        organization_scope::regions_under,
        reports::{Period, organization_totals},
    },
};

/// What a report shows.
#[derive(Debug, Clone)]
pub struct ReportView {
    pub report: annual_report::Model,
    pub organization_name: String,
    pub status: ReportStatus,
    pub content: ReportContent,
    /// Linli's figures: live while the report is being written, frozen at submission.
    pub recorded: Recorded,
    pub overdue: bool,
    pub history: Vec<annual_report_event::Model>,
}

/// One organization's report of a year, in an official's list.
#[derive(Debug, Clone)]
pub struct ReportRow {
    pub organization: organization::Model,
    /// `None`: not opened yet (nothing written).
    pub report: Option<annual_report::Model>,
    pub overdue: bool,
}

/// The role that reviews an organization's report: its filing office.
pub fn reviewer_role(org: &organization::Model) -> Role {
    match Standing::parse(&org.standing) {
        Some(Standing::Registered) => Role::CivilAffairs,
        _ => Role::Street,
    }
}

fn year_period(year: i32) -> Period {
    let start = |y: i32| {
        shanghai()
            .from_local_datetime(
                &NaiveDate::from_ymd_opt(y, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap_or_default(),
            )
            .single()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    };
    Period { from: start(year), to: start(year.saturating_add(1)) }
}

/// Whether an organization owes a report for `year`: filed or registered (or suspended,
/// which is still supervised) and recognised before the year ended.
fn owes_report(org: &organization::Model, year: i32) -> bool {
    owes(&org.status, org.filed_at, year)
}

/// [`owes_report`] from an organization's status and filing time alone.
pub(crate) fn owes(status: &str, filed_at: Option<DateTime<Utc>>, year: i32) -> bool {
    let status = OrgStatus::parse(status);
    let supervised = status.is_some_and(|s| s.is_recognised() || s == OrgStatus::Suspended);
    supervised && filed_at.is_some_and(|t| t < year_period(year).to)
}

/// Linli's figures of an organization over a year.
pub async fn recorded(db: &impl ConnectionTrait, org_id: i64, year: i32) -> AppResult<Recorded> {
    let period = year_period(year);
    let totals = organization_totals(db, org_id, period).await?;
    let staff = role_grant::Entity::find()
        .filter(role_grant::Column::Role.is_in([Role::OrgStaff.as_str(), Role::OrgLeader.as_str()]))
        .filter(role_grant::Column::ScopeId.eq(org_id))
        .count(db)
        .await? as i64;
    let leader_changes = organization_event::Entity::find()
        .filter(organization_event::Column::OrganizationId.eq(org_id))
        .filter(organization_event::Column::Action.is_in(["leader_transferred", "leader_appointed"]))
        .filter(organization_event::Column::CreatedAt.gte(period.from))
        .filter(organization_event::Column::CreatedAt.lt(period.to))
        .count(db)
        .await? as i64;
    let venue_ids: Vec<i64> = venue_booking::Entity::find()
        .select_only()
        .column(venue_booking::Column::VenueId)
        .distinct()
        .filter(venue_booking::Column::OrganizationId.eq(org_id))
        .filter(venue_booking::Column::Status.eq(BookingStatus::Approved.as_str()))
        .filter(venue_booking::Column::StartsAt.gte(period.from))
        .filter(venue_booking::Column::StartsAt.lt(period.to))
        .into_tuple()
        .all(db)
        .await?;
    let rooms_used: BTreeSet<String> = venue::Entity::find()
        .filter(venue::Column::Id.is_in(venue_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|v| v.name)
        .collect();
    Ok(Recorded {
        staff,
        leader_changes,
        activities_held: totals.activities,
        participants: totals.participants,
        volunteer_minutes: totals.minutes,
        rooms_used: rooms_used.into_iter().collect(),
    })
}

async fn find_org(db: &impl ConnectionTrait, id: i64) -> AppResult<organization::Model> {
    organization::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("organization"))
}

/// The organization's staff and the officials over its community may read its reports.
async fn require_reader(db: &impl ConnectionTrait, user: &AuthUser, org: &organization::Model) -> AppResult<()> {
    if user.works_for(org.id) || user.is_system_admin() {
        return Ok(());
    }
    let path = region_path(db, org.community_id).await?;
    if holds_region_role(user, &[Role::Committee, Role::Street, Role::CivilAffairs], &path)
        || crate::service::hubs::hub_staff_over(db, user, org.id).await?
    {
        Ok(())
    } else {
        Err(AppError::Forbidden("requires organization staff or an official over it"))
    }
}

/// The organization's filing office over it reviews.
async fn require_reviewer(db: &impl ConnectionTrait, user: &AuthUser, org: &organization::Model) -> AppResult<()> {
    let path = region_path(db, org.community_id).await?;
    if user.is_system_admin() || holds_region_role(user, &[reviewer_role(org)], &path) {
        Ok(())
    } else {
        Err(AppError::Forbidden("requires the organization's filing office"))
    }
}

fn parse_content(m: &annual_report::Model) -> ReportContent {
    serde_json::from_str(&m.content).unwrap_or_default()
}

async fn find_report(db: &impl ConnectionTrait, org_id: i64, year: i32) -> AppResult<Option<annual_report::Model>> {
    Ok(annual_report::Entity::find()
        .filter(annual_report::Column::OrganizationId.eq(org_id))
        .filter(annual_report::Column::Year.eq(year))
        .one(db)
        .await?)
}

async fn record(
    db: &impl ConnectionTrait,
    report_id: i64,
    action: &str,
    actor: Option<i64>,
    comment: Option<String>,
    at: DateTime<Utc>,
) -> AppResult<()> {
    annual_report_event::Entity::insert(annual_report_event::ActiveModel {
        report_id: Set(report_id),
        action: Set(action.to_owned()),
        actor_id: Set(actor),
        comment: Set(comment),
        at: Set(at),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Opens year `year`'s report of `org` (a draft pre-filled from Linli's records) if it
/// is owed and not open yet; returns it either way. Idempotent under concurrency (the
/// `(organization, year)` key is unique).
async fn open(
    ctx: &AppContext,
    org: &organization::Model,
    year: i32,
    now: DateTime<Utc>,
) -> AppResult<Option<annual_report::Model>> {
    if let Some(r) = find_report(&ctx.db, org.id, year).await? {
        return Ok(Some(r));
    }
    if !is_open(year, now) || !owes_report(org, year) {
        return Ok(None);
    }
    let content = ReportContent::prefilled(&recorded(&ctx.db, org.id, year).await?);
    let inserted = annual_report::Entity::insert(annual_report::ActiveModel {
        organization_id: Set(org.id),
        year: Set(year),
        status: Set(ReportStatus::Draft.as_str().to_owned()),
        due_on: Set(due_on(year, ctx.config.annual_report_due)),
        content: Set(serde_json::to_string(&content).map_err(|e| AppError::Internal(e.into()))?),
        recorded: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(&ctx.db)
    .await;
    match inserted {
        Ok(r) => record(&ctx.db, r.last_insert_id, "opened", None, None, now).await?,
        Err(e) if crate::service::is_unique_violation(&e) => {}
        Err(e) => return Err(e.into()),
    }
    find_report(&ctx.db, org.id, year).await
}

async fn view(ctx: &AppContext, org: &organization::Model, m: annual_report::Model) -> AppResult<ReportView> {
    let status = ReportStatus::parse(&m.status).unwrap_or(ReportStatus::Draft);
    let recorded = match &m.recorded {
        Some(frozen) => serde_json::from_str(frozen).unwrap_or_default(),
        None => recorded(&ctx.db, org.id, m.year).await?,
    };
    let today = to_shanghai(ctx.now()).date_naive();
    let history = annual_report_event::Entity::find()
        .filter(annual_report_event::Column::ReportId.eq(m.id))
        .order_by_asc(annual_report_event::Column::Id)
        .all(&ctx.db)
        .await?;
    Ok(ReportView {
        organization_name: org.name.clone(),
        status,
        content: parse_content(&m),
        recorded,
        overdue: !status.handed_in() && today > m.due_on,
        history,
        report: m,
    })
}

/// Why there is no report of `year`: the year is not over (409 `report_not_open`, saying
/// when it opens), or the organization did not owe one (404).
fn not_open(year: i32, now: DateTime<Utc>) -> AppError {
    if is_open(year, now) {
        AppError::NotFound("annual report")
    } else {
        AppError::Conflict(
            "report_not_open",
            format!("{year} 年度年报于 {} 年 1 月 1 日开放填写", year.saturating_add(1)),
        )
    }
}

/// An organization's reports, newest year first (opening last year's if it is owed).
pub async fn list(ctx: &AppContext, user: &AuthUser, org_id: i64) -> AppResult<Vec<ReportView>> {
    let org = find_org(&ctx.db, org_id).await?;
    require_reader(&ctx.db, user, &org).await?;
    open(ctx, &org, open_year(ctx.now()), ctx.now()).await?;
    let rows = annual_report::Entity::find()
        .filter(annual_report::Column::OrganizationId.eq(org_id))
        .order_by_desc(annual_report::Column::Year)
        .all(&ctx.db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for m in rows {
        out.push(view(ctx, &org, m).await?);
    }
    Ok(out)
}

/// Year `year`'s report (opened on first sight once the year is over, if owed; 404
/// otherwise).
pub async fn get(ctx: &AppContext, user: &AuthUser, org_id: i64, year: i32) -> AppResult<ReportView> {
    let org = find_org(&ctx.db, org_id).await?;
    require_reader(&ctx.db, user, &org).await?;
    let m = open(ctx, &org, year, ctx.now()).await?.ok_or_else(|| not_open(year, ctx.now()))?;
    view(ctx, &org, m).await
}

async fn lock_report(txn: &DatabaseTransaction, id: i64) -> AppResult<annual_report::Model> {
    annual_report::Entity::find_by_id(id).lock_exclusive().one(txn).await?.ok_or(AppError::NotFound("annual report"))
}

fn transition(status: ReportStatus, action: ReportAction) -> AppResult<ReportStatus> {
    status.next(action).ok_or_else(|| {
        AppError::Conflict(
            "invalid_transition",
            match action {
                ReportAction::Edit | ReportAction::Submit => "年报已提交或已通过，不能修改".into(),
                _ => "只有已提交的年报可以审核".into(),
            },
        )
    })
}

/// Its staff write the report while it is a draft or returned.
pub async fn update(
    ctx: &AppContext,
    user: &AuthUser,
    org_id: i64,
    year: i32,
    content: ReportContent,
) -> AppResult<ReportView> {
    let org = find_org(&ctx.db, org_id).await?;
    if !user.works_for(org_id) {
        return Err(AppError::Forbidden("requires organization staff"));
    }
    let m = open(ctx, &org, year, ctx.now()).await?.ok_or_else(|| not_open(year, ctx.now()))?;
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let m = lock_report(&txn, m.id).await?;
    transition(ReportStatus::parse(&m.status).unwrap_or(ReportStatus::Draft), ReportAction::Edit)?;
    annual_report::Entity::update_many()
        .col_expr(
            annual_report::Column::Content,
            Expr::value(serde_json::to_string(&content).map_err(|e| AppError::Internal(e.into()))?),
        )
        .col_expr(annual_report::Column::UpdatedAt, Expr::value(now))
        .filter(annual_report::Column::Id.eq(m.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    get(ctx, user, org_id, year).await
}

/// Its leader submits it: every figure that differs from Linli's record must carry a
/// reason, the summary and plan be written (422 listing each field otherwise). Linli's
/// figures are frozen with it; an `overdue_report` listing on the abnormal list is
/// cleared (recorded).
pub async fn submit(ctx: &AppContext, user: &AuthUser, org_id: i64, year: i32) -> AppResult<ReportView> {
    let org = find_org(&ctx.db, org_id).await?;
    if !user.leads(org_id) {
        return Err(AppError::Forbidden("requires the organization's leader"));
    }
    let m = open(ctx, &org, year, ctx.now()).await?.ok_or_else(|| not_open(year, ctx.now()))?;
    let figures = recorded(&ctx.db, org_id, year).await?;
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let m = lock_report(&txn, m.id).await?;
    let next = transition(ReportStatus::parse(&m.status).unwrap_or(ReportStatus::Draft), ReportAction::Submit)?;
    let content = parse_content(&m);
    let missing = ready_to_submit(&content, &figures);
    if !missing.is_empty() {
        return Err(AppError::Validation(
            missing
                .into_iter()
                .map(|x| {
                    let msg = match x.code {
                        "reason_required" => "与平台记录不一致，须在 adjustments 中说明理由",
                        "required" => "请填写",
                        _ => "取值不在可选范围内",
                    };
                    FieldError::new(format!("content.{}", x.field), x.code, msg)
                })
                .collect(),
        ));
    }
    annual_report::Entity::update_many()
        .col_expr(annual_report::Column::Status, Expr::value(next.as_str()))
        .col_expr(
            annual_report::Column::Recorded,
            Expr::value(serde_json::to_string(&figures).map_err(|e| AppError::Internal(e.into()))?),
        )
        .col_expr(annual_report::Column::SubmittedBy, Expr::value(user.id))
        .col_expr(annual_report::Column::SubmittedAt, Expr::value(now))
        .col_expr(annual_report::Column::UpdatedAt, Expr::value(now))
        .filter(annual_report::Column::Id.eq(m.id))
        .exec(&txn)
        .await?;
    record(&txn, m.id, "submitted", Some(user.id), None, now).await?;
    abnormal::clear_cause(
        &txn,
        org_id,
        crate::domain::abnormal::AbnormalReason::OverdueReport,
        m.id,
        "年报已提交",
        now,
    )
    .await?;
    crate::service::work_queue::announce_report(&txn, &org, reviewer_role(&org), m.id, year, now).await?;
    txn.commit().await?;
    get(ctx, user, org_id, year).await
}

/// The filing office accepts a submitted report with a result (合格 / 基本合格 / 不合格),
/// or returns it with a comment for the organization to fix and resubmit. The leader is
/// told either way.
pub async fn review(
    ctx: &AppContext,
    user: &AuthUser,
    org_id: i64,
    year: i32,
    accept: Option<ReportResult>,
    comment: Option<String>,
) -> AppResult<ReportView> {
    let comment = super::remark("comment", comment, 500)?;
    let org = find_org(&ctx.db, org_id).await?;
    require_reviewer(&ctx.db, user, &org).await?;
    let m = find_report(&ctx.db, org_id, year).await?.ok_or(AppError::NotFound("annual report"))?;
    if accept.is_none() && comment.is_none() {
        return Err(AppError::invalid("comment", "required", "退回须说明理由"));
    }
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let m = lock_report(&txn, m.id).await?;
    let action = if accept.is_some() { ReportAction::Accept } else { ReportAction::Return };
    let next = transition(ReportStatus::parse(&m.status).unwrap_or(ReportStatus::Draft), action)?;
    annual_report::Entity::update_many()
        .col_expr(annual_report::Column::Status, Expr::value(next.as_str()))
        .col_expr(annual_report::Column::Result, Expr::value(accept.map(|r| r.as_str())))
        .col_expr(annual_report::Column::ReviewedBy, Expr::value(user.id))
        .col_expr(annual_report::Column::ReviewedAt, Expr::value(now))
        .col_expr(annual_report::Column::Comment, Expr::value(comment.clone()))
        .col_expr(annual_report::Column::UpdatedAt, Expr::value(now))
        .filter(annual_report::Column::Id.eq(m.id))
        .exec(&txn)
        .await?;
    let what = match accept {
        Some(r) => format!("accepted:{}", r.as_str()),
        None => "returned".to_owned(),
    };
    record(&txn, m.id, &what, Some(user.id), comment.clone(), now).await?;
    crate::service::work_queue::settle(&txn, &format!("report:{}", m.id), now).await?;
    let verdict = match accept {
        Some(ReportResult::Pass) => "已通过，结果：合格".to_owned(),
        Some(ReportResult::BasicPass) => "已通过，结果：基本合格".to_owned(),
        Some(ReportResult::Fail) => "已审核，结果：不合格".to_owned(),
        None => "被退回，请修改后重新提交".to_owned(),
    };
    let mut body = format!("「{}」{year} 年度年报{verdict}", org.name);
    if let Some(c) = &comment {
        body.push_str(&format!("。意见：{c}"));
    }
    let notices = leaders(&txn, org_id)
        .await?
        .into_iter()
        .map(|user_id| Notice {
            user_id,
            kind: "annual_report_result",
            title: "年报审核结果".into(),
            body: body.clone(),
            activity_id: None,
            organization_id: Some(org_id),
            dedupe_key: format!("annual_report_result:{}:{user_id}:{}", m.id, now.timestamp_micros()),
            due_at: None,
            offset_secs: None,
        })
        .collect();
    enqueue(&txn, notices, now).await?;
    txn.commit().await?;
    get(ctx, user, org_id, year).await
}

async fn leaders(db: &impl ConnectionTrait, org_id: i64) -> AppResult<Vec<i64>> {
    crate::service::organizations::holders(db, org_id, &[Role::OrgLeader]).await
}

/// Every organization under `region_id` that owes year `year`'s report, with its report
/// (or none yet) and whether it is overdue: for the officials over the region.
pub async fn region_reports(ctx: &AppContext, user: &AuthUser, region_id: i64, year: i32) -> AppResult<Vec<ReportRow>> {
    let r = region::Entity::find_by_id(region_id).one(&ctx.db).await?.ok_or(AppError::NotFound("region"))?;
    if !user.is_system_admin()
        && !holds_region_role(user, &[Role::Committee, Role::Street, Role::CivilAffairs], &r.path)
    {
        return Err(AppError::Forbidden("requires an official over the region"));
    }
    rows_under(ctx, &[r.path], year).await
}

/// The organizations under `paths` owing year `year`'s report, with their reports.
pub async fn rows_under(ctx: &AppContext, paths: &[String], year: i32) -> AppResult<Vec<ReportRow>> {
    let orgs: Vec<organization::Model> = organization::Entity::find()
        .filter(organization::Column::CommunityId.in_subquery(regions_under(paths)))
        .order_by_asc(organization::Column::Id)
        .all(&ctx.db)
        .await?
        .into_iter()
        .filter(|o| owes_report(o, year))
        .collect();
    Ok(with_reports(ctx, orgs, |o| o.id, year)
        .await?
        .into_iter()
        .map(|(organization, report, overdue)| ReportRow { organization, report, overdue })
        .collect())
}

/// Each organization (anything with an id: a model, or the few columns the figures
/// read) with its report of `year` (or none yet) and whether it is overdue.
pub(crate) async fn with_reports<O>(
    ctx: &AppContext,
    orgs: Vec<O>,
    id: impl Fn(&O) -> i64,
    year: i32,
) -> AppResult<Vec<(O, Option<annual_report::Model>, bool)>> {
    let mut reports: HashMap<i64, annual_report::Model> = annual_report::Entity::find()
        .filter(annual_report::Column::Year.eq(year))
        .filter(annual_report::Column::OrganizationId.is_in(orgs.iter().map(&id).collect::<Vec<_>>()))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|r| (r.organization_id, r))
        .collect();
    let today = to_shanghai(ctx.now()).date_naive();
    let due = ctx.config.annual_report_due;
    Ok(orgs
        .into_iter()
        .map(|o| {
            let report = reports.remove(&id(&o));
            let handed_in =
                report.as_ref().and_then(|r| ReportStatus::parse(&r.status)).is_some_and(ReportStatus::handed_in);
            let overdue = is_open(year, ctx.now()) && !handed_in && overdue(year, due, today);
            (o, report, overdue)
        })
        .collect())
}

/// What one run of the annual-report job did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportTick {
    pub opened: usize,
    pub reminded: usize,
    pub listed: usize,
}

/// The daily step (the scheduler runs it hourly; each part is idempotent): opens last
/// year's report of every organization that owes one; reminds the leaders of reports not
/// handed in 30, 7 and 1 days before the due date (inbox and push, once per offset); puts
/// organizations whose report is overdue by more than `ABNORMAL_AFTER_DAYS` on the
/// abnormal list.
pub async fn tick(ctx: &AppContext) -> AppResult<ReportTick> {
    let now = ctx.now();
    let year = open_year(now);
    let today = to_shanghai(now).date_naive();
    let due = due_on(year, ctx.config.annual_report_due);
    let mut out = ReportTick::default();
    let orgs: Vec<organization::Model> =
        organization::Entity::find().all(&ctx.db).await?.into_iter().filter(|o| owes_report(o, year)).collect();
    let mut notices = Vec::new();
    for org in &orgs {
        let existed = find_report(&ctx.db, org.id, year).await?.is_some();
        let Some(m) = open(ctx, org, year, now).await? else { continue };
        if !existed {
            out.opened += 1;
        }
        let status = ReportStatus::parse(&m.status).unwrap_or(ReportStatus::Draft);
        if status.handed_in() {
            continue;
        }
        let days_left = (m.due_on - today).num_days();
        // The tightest reminder not yet past (a job that first runs 5 days before sends the
        // 7-day one); each goes once (its dedupe key).
        if let Some(offset) = REMINDER_DAYS.iter().rev().find(|d| **d >= days_left).copied()
            && days_left > 0
        {
            for user_id in leaders(&ctx.db, org.id).await? {
                notices.push(Notice {
                    user_id,
                    kind: "annual_report_due",
                    title: "年报即将到期".into(),
                    body: format!(
                        "「{}」{year} 年度年报须在 {} 前提交（还有 {days_left} 天）",
                        org.name,
                        m.due_on.format("%Y年%-m月%-d日")
                    ),
                    activity_id: None,
                    organization_id: Some(org.id),
                    dedupe_key: format!("annual_report_due:{}:{offset}:{user_id}", m.id),
                    due_at: None,
                    offset_secs: None,
                });
            }
        }
        if today > due + Duration::days(ctx.config.abnormal_after_days) {
            let txn = begin_write(&ctx.db).await?;
            if abnormal::list_for(
                &txn,
                org.id,
                crate::domain::abnormal::AbnormalReason::OverdueReport,
                &format!("{year} 年度年报逾期未提交（应于 {} 前提交）", m.due_on.format("%Y-%m-%d")),
                None,
                Some(m.id),
                now,
            )
            .await?
            {
                out.listed += 1;
            }
            txn.commit().await?;
        }
    }
    out.reminded = notices.len();
    enqueue(&ctx.db, notices, now).await?;
    Ok(out)
}
