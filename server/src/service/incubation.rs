//! Incubation (孵化): the street office (or civil affairs) opens an incubation base for a
//! street, run by the street office itself or entrusted to one of its hubs; the base's
//! managers admit start-up groups (not filed yet) for a period, assign mentors, and with
//! the mentors record sessions and milestones; the managers extend, graduate or exit a
//! group, each decision kept with who, when and why. A graduate's contact person then
//! files it through the ordinary filing application (`POST /organizations` with
//! `incubatee_id`), which [`link_application`] ties to this record; the committee and the
//! street office see the record on the application ([`record_of_application`]).

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    sea_query::Expr,
};

use crate::{
    auth::{
        AuthUser,
        scope::{holds_region_role, path_covers, region_path},
    },
    context::AppContext,
    domain::{
        clock::to_shanghai,
        incubation::{
            ADMISSION_MONTHS, EXTENSION_MONTHS, EntryKind, IncubateeStatus, IncubationAction, SESSION_MINUTES,
            period_end,
        },
        organization::Category,
        role::Role,
    },
    entity::{hub, incubatee, incubation_base, incubation_decision, incubation_entry, incubation_mentor, region, user},
    error::{AppError, AppResult},
    service::{
        begin_write,
        hubs::is_hub_staff,
        is_unique_violation,
        notifications::{Notice, enqueue},
    },
};

const OFFICIALS: [Role; 3] = [Role::Committee, Role::Street, Role::CivilAffairs];

/// A base and its groups.
#[derive(Clone, Debug)]
pub struct BaseView {
    pub base: incubation_base::Model,
    pub incubatees: Vec<incubatee::Model>,
}

/// A group's whole incubation record.
#[derive(Clone, Debug)]
pub struct IncubateeView {
    pub incubatee: incubatee::Model,
    pub base: incubation_base::Model,
    pub mentors: Vec<incubation_mentor::Model>,
    pub entries: Vec<incubation_entry::Model>,
    pub decisions: Vec<incubation_decision::Model>,
}

/// What a base admits.
#[derive(Clone, Debug)]
pub struct Admission {
    pub name: String,
    pub category: Category,
    pub community_id: i64,
    pub contact_user_id: i64,
    pub description: String,
    pub months: u32,
    pub reason: String,
}

/// A decision on a group in incubation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Extend { months: u32 },
    Graduate,
    Exit,
}

impl Decision {
    fn action(self) -> IncubationAction {
        match self {
            Decision::Extend { .. } => IncubationAction::Extend,
            Decision::Graduate => IncubationAction::Graduate,
            Decision::Exit => IncubationAction::Exit,
        }
    }
}

fn today(now: DateTime<Utc>) -> NaiveDate {
    to_shanghai(now).date_naive()
}

async fn find_base(db: &impl ConnectionTrait, id: i64) -> AppResult<incubation_base::Model> {
    incubation_base::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("incubation base"))
}

async fn find_incubatee(db: &impl ConnectionTrait, id: i64) -> AppResult<incubatee::Model> {
    incubatee::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("incubatee"))
}

/// Whether `user` runs the base: the street office over its street (or civil affairs
/// above), or — when entrusted to a hub — the hub's leader and hub staff.
async fn manages(db: &impl ConnectionTrait, user: &AuthUser, base: &incubation_base::Model) -> AppResult<bool> {
    let path = region_path(db, base.street_id).await?;
    if holds_region_role(user, &[Role::Street, Role::CivilAffairs], &path) {
        return Ok(true);
    }
    if let Some(hub_id) = base.hub_id
        && let Some(h) = hub::Entity::find_by_id(hub_id).one(db).await?
    {
        return Ok(is_hub_staff(user, h.organization_id));
    }
    Ok(false)
}

async fn require_manager(db: &impl ConnectionTrait, user: &AuthUser, base: &incubation_base::Model) -> AppResult<()> {
    if manages(db, user, base).await? {
        Ok(())
    } else {
        Err(AppError::Forbidden("requires the incubation base's managers"))
    }
}

/// `POST /incubation-bases`: the street office over `street_id` (or civil affairs above)
/// opens a base for the street, run by itself or entrusted to a hub of the street
/// (`hub_id`: a hub whose region lies in the street).
pub async fn open_base(
    ctx: &AppContext,
    user: &AuthUser,
    name: String,
    street_id: i64,
    hub_id: Option<i64>,
    description: String,
) -> AppResult<BaseView> {
    let street = region::Entity::find_by_id(street_id)
        .one(&ctx.db)
        .await?
        .ok_or_else(|| AppError::invalid("street_id", "not_found", "所选街道不存在"))?;
    if !holds_region_role(user, &[Role::Street, Role::CivilAffairs], &street.path) {
        return Err(AppError::Forbidden("requires the street office or civil affairs over the street"));
    }
    if street.level != "street" {
        return Err(AppError::invalid("street_id", "wrong_level", "孵化基地须设在街道（乡镇）"));
    }
    if let Some(hub_id) = hub_id {
        let h = hub::Entity::find_by_id(hub_id)
            .one(&ctx.db)
            .await?
            .ok_or_else(|| AppError::invalid("hub_id", "not_found", "所选枢纽组织不存在"))?;
        let hub_path = region_path(&ctx.db, h.region_id).await?;
        if !path_covers(&hub_path, street.id) {
            return Err(AppError::invalid("hub_id", "outside_region", "受托的枢纽组织须在本街道内"));
        }
    }
    let id = incubation_base::Entity::insert(incubation_base::ActiveModel {
        name: Set(name),
        street_id: Set(street_id),
        hub_id: Set(hub_id),
        description: Set(description),
        created_by: Set(user.id),
        created_at: Set(ctx.now()),
        ..Default::default()
    })
    .exec(&ctx.db)
    .await?
    .last_insert_id;
    tracing::info!(base_id = id, street_id, by = user.id, "incubation base opened");
    Ok(BaseView { base: find_base(&ctx.db, id).await?, incubatees: Vec::new() })
}

/// `GET /incubation-bases/{id}`: the base and its groups, for its managers and the
/// officials over its street.
pub async fn base(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<BaseView> {
    let base = find_base(&ctx.db, id).await?;
    let path = region_path(&ctx.db, base.street_id).await?;
    if !manages(&ctx.db, user, &base).await? && !holds_region_role(user, &OFFICIALS, &path) {
        return Err(AppError::Forbidden("requires the incubation base's managers"));
    }
    let incubatees = incubatee::Entity::find()
        .filter(incubatee::Column::BaseId.eq(id))
        .order_by_asc(incubatee::Column::Id)
        .all(&ctx.db)
        .await?;
    Ok(BaseView { base, incubatees })
}

#[allow(clippy::too_many_arguments)]
async fn decide_row(
    db: &impl ConnectionTrait,
    incubatee_id: i64,
    action: IncubationAction,
    from: Option<IncubateeStatus>,
    to: IncubateeStatus,
    ends_on: NaiveDate,
    reason: String,
    actor: i64,
    now: DateTime<Utc>,
) -> AppResult<()> {
    incubation_decision::Entity::insert(incubation_decision::ActiveModel {
        incubatee_id: Set(incubatee_id),
        action: Set(action.as_str().to_owned()),
        from_status: Set(from.map(|s| s.as_str().to_owned())),
        to_status: Set(to.as_str().to_owned()),
        ends_on: Set(ends_on),
        reason: Set(reason),
        actor_id: Set(actor),
        at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

fn notice(user_id: i64, incubatee_id: i64, title: &str, body: String, key: String) -> Notice {
    let _ = incubatee_id;
    Notice {
        user_id,
        kind: "incubation_decision",
        title: title.to_owned(),
        body,
        activity_id: None,
        organization_id: None,
        dedupe_key: key,
        due_at: None,
        offset_secs: None,
    }
}

/// `POST /incubation-bases/{id}/incubatees`: a manager admits a start-up group of one of
/// the street's communities for `months` (1–24), with its contact person (a user) and a
/// reason.
pub async fn admit(ctx: &AppContext, user: &AuthUser, base_id: i64, a: Admission) -> AppResult<IncubateeView> {
    let base = find_base(&ctx.db, base_id).await?;
    require_manager(&ctx.db, user, &base).await?;
    if !ADMISSION_MONTHS.contains(&a.months) {
        return Err(AppError::invalid("months", "range", "孵化期须为 1–24 个月"));
    }
    let community = region::Entity::find_by_id(a.community_id)
        .one(&ctx.db)
        .await?
        .filter(|c| c.level == "community")
        .ok_or_else(|| AppError::invalid("community_id", "not_a_community", "所选社区不存在"))?;
    if !path_covers(&community.path, base.street_id) {
        return Err(AppError::invalid("community_id", "outside_street", "社区须在孵化基地所在街道内"));
    }
    user::Entity::find_by_id(a.contact_user_id)
        .one(&ctx.db)
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or_else(|| AppError::invalid("contact_user_id", "not_found", "联系人不存在"))?;
    let now = ctx.now();
    let admitted_on = today(now);
    let ends_on = period_end(admitted_on, a.months)
        .ok_or_else(|| AppError::invalid("months", "range", "孵化期须为 1–24 个月"))?;
    let txn = begin_write(&ctx.db).await?;
    let id = incubatee::Entity::insert(incubatee::ActiveModel {
        base_id: Set(base_id),
        name: Set(a.name.clone()),
        category: Set(a.category.as_str().to_owned()),
        community_id: Set(a.community_id),
        contact_user_id: Set(a.contact_user_id),
        description: Set(a.description),
        status: Set(IncubateeStatus::Incubating.as_str().to_owned()),
        admitted_on: Set(admitted_on),
        ends_on: Set(ends_on),
        organization_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(&txn)
    .await?
    .last_insert_id;
    let to = IncubationAction::Admit.next(None).unwrap_or(IncubateeStatus::Incubating);
    decide_row(&txn, id, IncubationAction::Admit, None, to, ends_on, a.reason, user.id, now).await?;
    let body = format!("「{}」已入驻「{}」孵化，孵化期至 {ends_on}。", a.name, base.name);
    enqueue(&txn, vec![notice(a.contact_user_id, id, "入驻孵化", body, format!("incubation:{id}:admit"))], now).await?;
    txn.commit().await?;
    tracing::info!(incubatee_id = id, base_id, by = user.id, "group admitted to incubation");
    view(&ctx.db, find_incubatee(&ctx.db, id).await?).await
}

async fn view(db: &impl ConnectionTrait, i: incubatee::Model) -> AppResult<IncubateeView> {
    let base = find_base(db, i.base_id).await?;
    let mentors = incubation_mentor::Entity::find()
        .filter(incubation_mentor::Column::IncubateeId.eq(i.id))
        .order_by_asc(incubation_mentor::Column::Id)
        .all(db)
        .await?;
    let entries = incubation_entry::Entity::find()
        .filter(incubation_entry::Column::IncubateeId.eq(i.id))
        .order_by_asc(incubation_entry::Column::OccurredOn)
        .order_by_asc(incubation_entry::Column::Id)
        .all(db)
        .await?;
    let decisions = incubation_decision::Entity::find()
        .filter(incubation_decision::Column::IncubateeId.eq(i.id))
        .order_by_asc(incubation_decision::Column::Id)
        .all(db)
        .await?;
    Ok(IncubateeView { incubatee: i, base, mentors, entries, decisions })
}

fn is_mentor(v: &IncubateeView, user: &AuthUser) -> bool {
    v.mentors.iter().any(|m| m.user_id == user.id)
}

/// Who reads a group's record: the base's managers, its mentors, its contact person, and
/// the officials over its community (the committee and street office that will see its
/// filing application).
async fn may_read(db: &impl ConnectionTrait, user: &AuthUser, v: &IncubateeView) -> AppResult<bool> {
    if v.incubatee.contact_user_id == user.id || is_mentor(v, user) || manages(db, user, &v.base).await? {
        return Ok(true);
    }
    let path = region_path(db, v.incubatee.community_id).await?;
    Ok(holds_region_role(user, &OFFICIALS, &path))
}

/// `GET /incubatees/{id}`: the whole record (mentors, sessions and milestones,
/// decisions).
pub async fn detail(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<IncubateeView> {
    let v = view(&ctx.db, find_incubatee(&ctx.db, id).await?).await?;
    if !may_read(&ctx.db, user, &v).await? {
        return Err(AppError::Forbidden("requires the base, a mentor, the group or an official over it"));
    }
    Ok(v)
}

fn require_incubating(i: &incubatee::Model) -> AppResult<()> {
    if i.status == IncubateeStatus::Incubating.as_str() {
        Ok(())
    } else {
        Err(AppError::Conflict("not_incubating", format!("该团队当前为 {}，孵化已结束", i.status)))
    }
}

/// `POST /incubatees/{id}/mentors`: a manager assigns a mentor (a user) to a group in
/// incubation. Assigning the same mentor again is a no-op.
pub async fn assign_mentor(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    mentor: i64,
    note: Option<String>,
) -> AppResult<IncubateeView> {
    let i = find_incubatee(&ctx.db, id).await?;
    let base = find_base(&ctx.db, i.base_id).await?;
    require_manager(&ctx.db, user, &base).await?;
    require_incubating(&i)?;
    user::Entity::find_by_id(mentor)
        .one(&ctx.db)
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or_else(|| AppError::invalid("user_id", "not_found", "导师不存在"))?;
    let inserted = incubation_mentor::Entity::insert(incubation_mentor::ActiveModel {
        incubatee_id: Set(id),
        user_id: Set(mentor),
        note: Set(note),
        assigned_by: Set(user.id),
        assigned_at: Set(ctx.now()),
        ..Default::default()
    })
    .exec(&ctx.db)
    .await;
    match inserted {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {}
        Err(e) => return Err(e.into()),
    }
    view(&ctx.db, i).await
}

/// A session or milestone, as recorded.
#[derive(Clone, Debug)]
pub struct Entry {
    pub kind: EntryKind,
    pub occurred_on: NaiveDate,
    pub title: String,
    pub notes: String,
    /// Sessions only: 1–600 minutes.
    pub minutes: Option<i32>,
}

/// `POST /incubatees/{id}/entries`: a manager or mentor records a mentoring session (with
/// its minutes) or a milestone, dated between admission and today.
pub async fn record_entry(ctx: &AppContext, user: &AuthUser, id: i64, e: Entry) -> AppResult<IncubateeView> {
    let v = view(&ctx.db, find_incubatee(&ctx.db, id).await?).await?;
    if !is_mentor(&v, user) && !manages(&ctx.db, user, &v.base).await? {
        return Err(AppError::Forbidden("requires a mentor or the base's managers"));
    }
    require_incubating(&v.incubatee)?;
    let now = ctx.now();
    if e.occurred_on < v.incubatee.admitted_on || e.occurred_on > today(now) {
        return Err(AppError::invalid("occurred_on", "range", "日期须在入驻之日与今天之间"));
    }
    let minutes = match (e.kind, e.minutes) {
        (EntryKind::Session, Some(m)) if SESSION_MINUTES.contains(&m) => Some(m),
        (EntryKind::Session, _) => {
            return Err(AppError::invalid("minutes", "range", "辅导时长须为 1–600 分钟"));
        }
        (EntryKind::Milestone, None) => None,
        (EntryKind::Milestone, Some(_)) => {
            return Err(AppError::invalid("minutes", "not_allowed", "里程碑不填时长"));
        }
    };
    incubation_entry::Entity::insert(incubation_entry::ActiveModel {
        incubatee_id: Set(id),
        kind: Set(e.kind.as_str().to_owned()),
        occurred_on: Set(e.occurred_on),
        title: Set(e.title),
        notes: Set(e.notes),
        minutes: Set(minutes),
        recorded_by: Set(user.id),
        recorded_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(&ctx.db)
    .await?;
    view(&ctx.db, v.incubatee).await
}

/// `POST /incubatees/{id}/decision`: a manager extends the period (1–12 months more),
/// graduates the group (it may then apply for filing) or ends its incubation (exit), with
/// a reason. The decision is settled by a conditional update: two managers deciding at
/// once cannot both succeed.
pub async fn decide(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    decision: Decision,
    reason: String,
) -> AppResult<IncubateeView> {
    let i = find_incubatee(&ctx.db, id).await?;
    let base = find_base(&ctx.db, i.base_id).await?;
    require_manager(&ctx.db, user, &base).await?;
    let from = IncubateeStatus::parse(&i.status);
    let action = decision.action();
    let to = action.next(from).ok_or_else(|| {
        AppError::Conflict("invalid_transition", format!("该团队当前为 {}，不能进行此操作", i.status))
    })?;
    let ends_on = match decision {
        Decision::Extend { months } if EXTENSION_MONTHS.contains(&months) => {
            period_end(i.ends_on, months).ok_or_else(|| AppError::invalid("months", "range", "延期须为 1–12 个月"))?
        }
        Decision::Extend { .. } => return Err(AppError::invalid("months", "range", "延期须为 1–12 个月")),
        _ => i.ends_on,
    };
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let moved = incubatee::Entity::update_many()
        .col_expr(incubatee::Column::Status, Expr::value(to.as_str()))
        .col_expr(incubatee::Column::EndsOn, Expr::value(ends_on))
        .col_expr(incubatee::Column::UpdatedAt, Expr::value(now))
        .filter(incubatee::Column::Id.eq(id))
        .filter(incubatee::Column::Status.eq(i.status.as_str()))
        .filter(incubatee::Column::EndsOn.eq(i.ends_on))
        .exec(&txn)
        .await?
        .rows_affected;
    if moved == 0 {
        return Err(AppError::Conflict("invalid_transition", "该团队刚刚被他人处理，请刷新后重试".into()));
    }
    decide_row(&txn, id, action, from, to, ends_on, reason.clone(), user.id, now).await?;
    let (title, body) = match decision {
        Decision::Extend { .. } => ("孵化延期", format!("「{}」的孵化期延至 {ends_on}。理由：{reason}", i.name)),
        Decision::Graduate => {
            ("孵化出壳", format!("「{}」已从「{}」出壳，可以附孵化记录申请备案了。", i.name, base.name))
        }
        Decision::Exit => ("孵化结束", format!("「{}」已结束孵化。理由：{reason}", i.name)),
    };
    let key = format!("incubation:{id}:{}:{}", action.as_str(), now.timestamp_micros());
    enqueue(&txn, vec![notice(i.contact_user_id, id, title, body, key)], now).await?;
    txn.commit().await?;
    tracing::info!(incubatee_id = id, by = user.id, action = action.as_str(), "incubation decided");
    view(&ctx.db, find_incubatee(&ctx.db, id).await?).await
}

/// In the filing application's transaction: ties the new application `org_id` to the
/// graduate `incubatee_id`. Only the group's contact person files it, only once, and
/// only after graduation (422 `not_found`, 403, 409 `not_graduated`, 409
/// `already_applied`); the conditional update settles two applications at once.
pub async fn link_application(
    txn: &DatabaseTransaction,
    user: &AuthUser,
    incubatee_id: i64,
    org_id: i64,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let i = incubatee::Entity::find_by_id(incubatee_id)
        .one(txn)
        .await?
        .ok_or_else(|| AppError::invalid("incubatee_id", "not_found", "孵化记录不存在"))?;
    if i.contact_user_id != user.id {
        return Err(AppError::Forbidden("only the group's contact person files it"));
    }
    if i.status != IncubateeStatus::Graduated.as_str() {
        return Err(AppError::Conflict("not_graduated", "该团队尚未出壳，不能附孵化记录申请备案".into()));
    }
    let linked = incubatee::Entity::update_many()
        .col_expr(incubatee::Column::OrganizationId, Expr::value(org_id))
        .col_expr(incubatee::Column::UpdatedAt, Expr::value(now))
        .filter(incubatee::Column::Id.eq(incubatee_id))
        .filter(incubatee::Column::OrganizationId.is_null())
        .exec(txn)
        .await?
        .rows_affected;
    if linked == 0 {
        return Err(AppError::Conflict("already_applied", "该孵化记录已附在另一份备案申请上".into()));
    }
    Ok(())
}

/// The incubation record attached to filing application `org_id`, if any: shown on the
/// application to those who may read it (the applicant, the committee, the street office).
pub async fn record_of_application(db: &impl ConnectionTrait, org_id: i64) -> AppResult<Option<IncubateeView>> {
    match incubatee::Entity::find().filter(incubatee::Column::OrganizationId.eq(org_id)).one(db).await? {
        Some(i) => Ok(Some(view(db, i).await?)),
        None => Ok(None),
    }
}
