//! Organizations: applying to be filed, the review steps, the street's and civil
//! affairs' actions, staff, follows, and browsing near home.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, LikeExpr, Query},
};

use crate::{
    auth::{
        AuthUser,
        scope::{holds_region_role, region_path},
    },
    context::AppContext,
    domain::{
        clock::to_shanghai,
        organization::{Category, OrgStatus, ReviewStep, ServiceTarget, Standing, StatusAction, distance_m},
        rating::Grade,
        role::Role,
        text::like_literal,
    },
    entity::{organization, organization_event, organization_follow, organization_target, region, role_grant, user},
    error::{AppError, AppResult},
    service::work_queue::{self, Waiting},
    service::{
        begin_write,
        geo::{self, Cursor},
        is_unique_violation,
        notifications::{Notice, enqueue},
        organization_scope::regions_under,
        role_grants::{grant_in_organization, require_org_grant},
    },
};

/// What an applicant or a leader sends, already parsed.
#[derive(Debug, Clone)]
pub struct OrgInput {
    pub name: String,
    pub category: Category,
    pub community_id: i64,
    pub description: String,
    pub service_targets: Vec<ServiceTarget>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub location: Option<(f64, f64)>,
    pub logo_url: Option<String>,
    pub founded_on: Option<NaiveDate>,
    pub has_party_organization: bool,
    /// A graduate of incubation filing with its incubation record attached
    /// (`service::incubation::link_application`).
    pub incubatee_id: Option<i64>,
}

/// A partial change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct OrgPatch {
    pub name: Option<String>,
    pub category: Option<Category>,
    pub description: Option<String>,
    pub service_targets: Option<Vec<ServiceTarget>>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub location: Option<(f64, f64)>,
    pub logo_url: Option<String>,
    pub founded_on: Option<NaiveDate>,
    pub has_party_organization: Option<bool>,
}

/// How the caller stands towards one organization.
#[derive(Debug, Clone, Copy, Default)]
pub struct Relation {
    pub applicant: bool,
    pub staff: bool,
    pub leader: bool,
    /// A committee, street or civil-affairs official over its community (or a system admin).
    pub official: bool,
    pub following: bool,
}

impl Relation {
    /// May see the contact phone unmasked and the workflow history.
    pub fn privileged(&self) -> bool {
        self.applicant || self.staff || self.leader || self.official
    }
}

pub struct OrgDetail {
    pub org: organization::Model,
    pub targets: Vec<String>,
    pub community: region::Model,
    pub followers: u64,
    pub upcoming_activities: u64,
    pub relation: Relation,
    pub history: Option<Vec<organization_event::Model>>,
    /// Since when it is on the abnormal list (活动异常名录), if it is.
    pub abnormal_since: Option<DateTime<Utc>>,
    /// Its current grade (等级评估) and the grade's last valid day.
    pub grade: Option<(Grade, NaiveDate)>,
    /// The incubation record attached to it (孵化), for those who see its history.
    pub incubation: Option<crate::service::incubation::IncubateeView>,
}

pub fn status_of(org: &organization::Model) -> AppResult<OrgStatus> {
    OrgStatus::parse(&org.status).ok_or_else(|| AppError::Internal(anyhow::anyhow!("unknown status {}", org.status)))
}

fn standing_of(org: &organization::Model) -> Standing {
    Standing::parse(&org.standing).unwrap_or(Standing::Filed)
}

async fn find(db: &impl ConnectionTrait, id: i64) -> AppResult<organization::Model> {
    organization::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("organization"))
}

async fn community(db: &impl ConnectionTrait, id: i64) -> AppResult<region::Model> {
    region::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("region"))
}

pub fn relation(user: Option<&AuthUser>, org: &organization::Model, community_path: &str) -> Relation {
    let Some(user) = user else {
        return Relation::default();
    };
    let holds = |role: Role| user.grants_of(role).any(|g| g.scope_id == Some(org.id));
    Relation {
        applicant: org.applicant_id == Some(user.id),
        staff: holds(Role::OrgStaff) || holds(Role::OrgLeader),
        leader: holds(Role::OrgLeader),
        official: holds_region_role(user, &[Role::Committee, Role::Street, Role::CivilAffairs], community_path),
        following: false,
    }
}

/// `POST /organizations`: anyone signed in applies to file an organization in a
/// community; it waits for that community's committee.
pub async fn apply(ctx: &AppContext, user: &AuthUser, input: OrgInput) -> AppResult<OrgDetail> {
    let home = community(&ctx.db, input.community_id)
        .await
        .map_err(|_| AppError::invalid("community_id", "not_found", "所选社区不存在"))?;
    if home.level != "community" {
        return Err(AppError::invalid("community_id", "not_a_community", "组织须隶属于一个社区或村"));
    }
    crate::service::regions::require_current(&home, "community_id")?;
    let verdict =
        moderate_profile(ctx, user.id, Some(&input.name), Some(&input.description), input.contact_name.as_deref())
            .await?;
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    require_name_free(&txn, input.community_id, &input.name, None).await?;
    let (name, community_id) = (input.name.clone(), input.community_id);
    let inserted = organization::Entity::insert(organization::ActiveModel {
        name: Set(input.name),
        category: Set(input.category.as_str().to_owned()),
        community_id: Set(input.community_id),
        description: Set(input.description),
        contact_name: Set(input.contact_name),
        contact_phone: Set(input.contact_phone),
        latitude: Set(input.location.map(|l| l.0)),
        longitude: Set(input.location.map(|l| l.1)),
        logo_url: Set(input.logo_url),
        founded_on: Set(input.founded_on),
        standing: Set(Standing::Filed.as_str().to_owned()),
        credit_code: Set(None),
        status: Set(OrgStatus::PendingConsent.as_str().to_owned()),
        has_party_organization: Set(input.has_party_organization),
        applicant_id: Set(Some(user.id)),
        filed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(&txn)
    .await?;
    let id = inserted.last_insert_id;
    if let Some(incubatee_id) = input.incubatee_id {
        crate::service::incubation::link_application(&txn, user, incubatee_id, id, now).await?;
    }
    set_targets(&txn, id, &input.service_targets).await?;
    record(&txn, id, Some(user.id), "submitted", None, OrgStatus::PendingConsent, None, now).await?;
    work_queue::announce(&txn, Waiting::Consent, community_id, id, None, &name, now).await?;
    if verdict == crate::wechat::Moderation::Review {
        // The committee reviews every application anyway; it is told to read this one closely.
        flag_for_review(&txn, id, OrgStatus::PendingConsent, now).await?;
    }
    txn.commit().await?;
    tracing::info!(organization_id = id, applicant = user.id, "filing application submitted");
    detail(ctx, Some(user), id).await
}

/// WeChat's text check over what an applicant or leader typed that residents will read
/// (`None`: unchanged): `risky` refuses (422 `content_risky`); `review` is returned so the
/// caller flags the organization for its reviewers.
async fn moderate_profile(
    ctx: &AppContext,
    user_id: i64,
    name: Option<&str>,
    description: Option<&str>,
    contact_name: Option<&str>,
) -> AppResult<crate::wechat::Moderation> {
    let verdict = crate::service::activities::moderate_texts(ctx, user_id, &[name, description, contact_name]).await?;
    if verdict == crate::wechat::Moderation::Risky {
        return Err(AppError::ContentRisky);
    }
    Ok(verdict)
}

/// Marks an organization for the closer reading of its reviewers (WeChat said `review`).
async fn flag_for_review(db: &impl ConnectionTrait, id: i64, status: OrgStatus, now: DateTime<Utc>) -> AppResult<()> {
    let note = Some("微信内容安全检测建议人工复核".to_owned());
    record(db, id, None, "moderation_review", None, status, note, now).await
}

/// Statuses whose organizations keep their name: in review, recognised, or suspended.
fn holds_name(status: &str) -> bool {
    OrgStatus::parse(status)
        .is_some_and(|s| !matches!(s, OrgStatus::Rejected | OrgStatus::Withdrawn | OrgStatus::Dissolved))
}

/// An organization's name is unique in its community, compared after normalising
/// (`text::name_key`: NFC, no spaces or invisible characters, case-folded), so a
/// look-alike of a filed organization cannot be applied for. 409 `name_taken`.
async fn require_name_free(
    db: &impl ConnectionTrait,
    community_id: i64,
    name: &str,
    except: Option<i64>,
) -> AppResult<()> {
    let key = crate::domain::text::name_key(name);
    let mut query = organization::Entity::find().filter(organization::Column::CommunityId.eq(community_id));
    if let Some(id) = except {
        query = query.filter(organization::Column::Id.ne(id));
    }
    let taken = query
        .all(db)
        .await?
        .into_iter()
        .any(|o| holds_name(&o.status) && crate::domain::text::name_key(&o.name) == key);
    if taken {
        return Err(AppError::Conflict("name_taken", "本社区已有同名组织，请换一个名称".to_owned()));
    }
    Ok(())
}

async fn set_targets(db: &impl ConnectionTrait, org_id: i64, targets: &[ServiceTarget]) -> AppResult<()> {
    organization_target::Entity::delete_many()
        .filter(organization_target::Column::OrganizationId.eq(org_id))
        .exec(db)
        .await?;
    if targets.is_empty() {
        return Ok(());
    }
    organization_target::Entity::insert_many(targets.iter().map(|t| organization_target::ActiveModel {
        organization_id: Set(org_id),
        target: Set(t.as_str().to_owned()),
    }))
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Keeps one step of an organization's history: who, what, from and to, and why. `action`
/// is one of [`OrgEventAction`] (the spec promises clients nothing else; an unknown one is
/// a bug and refused here, where every path passes).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn record(
    db: &impl ConnectionTrait,
    org_id: i64,
    actor: Option<i64>,
    action: &str,
    from: Option<OrgStatus>,
    to: OrgStatus,
    comment: Option<String>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    if crate::domain::organization::OrgEventAction::parse(action).is_none() {
        return Err(AppError::Internal(anyhow::anyhow!("organization event {action} is not an OrgEventAction")));
    }
    organization_event::Entity::insert(organization_event::ActiveModel {
        organization_id: Set(org_id),
        actor_id: Set(actor),
        action: Set(action.to_owned()),
        from_status: Set(from.map(|s| s.as_str().to_owned())),
        to_status: Set(to.as_str().to_owned()),
        comment: Set(comment),
        created_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Moves an organization from `from` to `to` only if nobody moved it first.
async fn transition(
    txn: &DatabaseTransaction,
    org_id: i64,
    from: OrgStatus,
    to: OrgStatus,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let moved = organization::Entity::update_many()
        .col_expr(organization::Column::Status, Expr::value(to.as_str()))
        .col_expr(organization::Column::UpdatedAt, Expr::value(now))
        .filter(organization::Column::Id.eq(org_id))
        .filter(organization::Column::Status.eq(from.as_str()))
        .exec(txn)
        .await?
        .rows_affected;
    if moved == 0 {
        return Err(AppError::Conflict("invalid_transition", "该组织的状态刚刚被他人改变，请刷新后重试".into()));
    }
    Ok(())
}

fn out_of_order(status: OrgStatus) -> AppError {
    AppError::Conflict(
        "invalid_transition",
        format!("组织当前状态为「{}」，不能进行此操作（可能已被他人处理，请刷新）", status.zh()),
    )
}

/// `GET /organizations/{id}`. Applications are visible only to the applicant, the
/// organization's staff and the officials over its community; to others they do not exist.
pub async fn detail(ctx: &AppContext, user: Option<&AuthUser>, id: i64) -> AppResult<OrgDetail> {
    let org = find(&ctx.db, id).await?;
    let home = community(&ctx.db, org.community_id).await?;
    let mut rel = relation(user, &org, &home.path);
    let status = status_of(&org)?;
    if status.is_application() && !rel.privileged() {
        return Err(AppError::NotFound("organization"));
    }
    if let Some(u) = user {
        rel.following = organization_follow::Entity::find_by_id((u.id, id)).one(&ctx.db).await?.is_some();
    }
    let targets = targets_of(&ctx.db, &[id]).await?.remove(&id).unwrap_or_default();
    let followers = organization_follow::Entity::find()
        .filter(organization_follow::Column::OrganizationId.eq(id))
        .count(&ctx.db)
        .await?;
    let history = if rel.privileged() {
        Some(
            organization_event::Entity::find()
                .filter(organization_event::Column::OrganizationId.eq(id))
                .order_by_asc(organization_event::Column::Id)
                .all(&ctx.db)
                .await?,
        )
    } else {
        None
    };
    let upcoming_activities = crate::service::activities::upcoming_count(&ctx.db, id, ctx.now()).await?;
    let abnormal_since = crate::service::abnormal::current_of(&ctx.db, id).await?.first().map(|l| l.listed_at);
    let today = to_shanghai(ctx.now()).date_naive();
    let grade = crate::service::ratings::current_grades(&ctx.db, &[id], today).await?.remove(&id);
    let incubation =
        if rel.privileged() { crate::service::incubation::record_of_application(&ctx.db, id).await? } else { None };
    Ok(OrgDetail {
        incubation,
        grade,
        org,
        targets,
        community: home,
        followers,
        upcoming_activities,
        relation: rel,
        history,
        abnormal_since,
    })
}

pub async fn targets_of(db: &impl ConnectionTrait, ids: &[i64]) -> AppResult<HashMap<i64, Vec<String>>> {
    let mut out: HashMap<i64, Vec<String>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let rows = organization_target::Entity::find()
        .filter(organization_target::Column::OrganizationId.is_in(ids.to_vec()))
        .order_by_asc(organization_target::Column::Target)
        .all(db)
        .await?;
    for row in rows {
        out.entry(row.organization_id).or_default().push(row.target);
    }
    Ok(out)
}

/// `PATCH /organizations/{id}`: the applicant while the application is open or sent back,
/// the leader once the organization is recognised.
pub async fn update(ctx: &AppContext, user: &AuthUser, id: i64, patch: OrgPatch) -> AppResult<OrgDetail> {
    let org = find(&ctx.db, id).await?;
    let home = community(&ctx.db, org.community_id).await?;
    let rel = relation(Some(user), &org, &home.path);
    let status = status_of(&org)?;
    let allowed = match status {
        s if s.is_application() => rel.applicant,
        OrgStatus::Filed | OrgStatus::Registered | OrgStatus::Suspended => rel.leader,
        _ => false,
    };
    if !allowed && !user.is_system_admin() {
        if !rel.privileged() && status.is_application() {
            return Err(AppError::NotFound("organization"));
        }
        if status == OrgStatus::Dissolved {
            return Err(out_of_order(status));
        }
        return Err(AppError::Forbidden("requires organization leader"));
    }
    let verdict = moderate_profile(
        ctx,
        user.id,
        patch.name.as_deref(),
        patch.description.as_deref(),
        patch.contact_name.as_deref(),
    )
    .await?;
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let old_name = org.name.clone();
    let renamed = patch
        .name
        .as_ref()
        .is_some_and(|n| crate::domain::text::name_key(n) != crate::domain::text::name_key(&old_name));
    if let (true, Some(name)) = (renamed, &patch.name) {
        require_name_free(&txn, org.community_id, name, Some(id)).await?;
    }
    let mut active = org.into_active_model();
    let mut changed = Vec::new();
    macro_rules! apply {
        ($field:ident, $value:expr) => {
            if let Some(v) = $value {
                active.$field = Set(v);
                changed.push(stringify!($field));
            }
        };
    }
    apply!(name, patch.name);
    apply!(category, patch.category.map(|c| c.as_str().to_owned()));
    apply!(description, patch.description);
    apply!(contact_name, patch.contact_name.map(Some));
    apply!(contact_phone, patch.contact_phone.map(Some));
    apply!(logo_url, patch.logo_url.map(Some));
    apply!(founded_on, patch.founded_on.map(Some));
    apply!(has_party_organization, patch.has_party_organization);
    if let Some((lat, lng)) = patch.location {
        active.latitude = Set(Some(lat));
        active.longitude = Set(Some(lng));
        changed.push("location");
    }
    active.updated_at = Set(now);
    active.update(&txn).await?;
    if let Some(targets) = &patch.service_targets {
        set_targets(&txn, id, targets).await?;
        changed.push("service_targets");
    }
    if !changed.is_empty() {
        record(&txn, id, Some(user.id), "profile_updated", Some(status), status, Some(changed.join(", ")), now).await?;
    }
    if renamed && status.is_recognised() {
        // The filing office sees the new name in the organization's history.
        let note = Some(format!("原名称「{old_name}」，请备案（登记）机关核对"));
        record(&txn, id, Some(user.id), "renamed", Some(status), status, note, now).await?;
    }
    if verdict == crate::wechat::Moderation::Review {
        flag_for_review(&txn, id, status, now).await?;
    }
    txn.commit().await?;
    detail(ctx, Some(user), id).await
}

/// `POST /organizations/{id}/review`: the committee of the organization's community
/// consents (or refuses); then the street office above it files (or refuses). A refusal
/// needs a reason. The applicant becomes the leader when the organization is filed.
pub async fn review(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    approve: bool,
    comment: Option<String>,
) -> AppResult<OrgDetail> {
    let comment = super::remark("comment", comment, 500)?;
    if !approve && comment.is_none() {
        return Err(AppError::invalid("comment", "required", "驳回时须说明理由"));
    }
    let org = find(&ctx.db, id).await?;
    let path = region_path(&ctx.db, org.community_id).await?;
    let status = status_of(&org)?;
    let can = |role: Role| holds_region_role(user, &[role], &path);
    let steps: Vec<ReviewStep> = [(ReviewStep::Consent, Role::Committee), (ReviewStep::Filing, Role::Street)]
        .into_iter()
        .filter(|(_, role)| can(*role))
        .map(|(step, _)| step)
        .collect();
    if steps.is_empty() {
        let reviewer_elsewhere = user.grants.iter().any(|g| matches!(g.role, Role::Committee | Role::Street));
        return Err(AppError::Forbidden(if reviewer_elsewhere {
            "outside your scope"
        } else {
            "requires a region role"
        }));
    }
    let step = match ReviewStep::awaited_by(status) {
        Some(step) if steps.contains(&step) => step,
        _ => return Err(out_of_order(status)),
    };
    let to = if approve { step.approved() } else { OrgStatus::Rejected };
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    transition(&txn, id, status, to, now).await?;
    if to == OrgStatus::Filed {
        organization::Entity::update_many()
            .col_expr(organization::Column::FiledAt, Expr::value(now))
            .filter(organization::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        if let Some(applicant) = org.applicant_id {
            // The filing office makes the applicant leader, as the grant table allows.
            grant_in_organization(&txn, user, applicant, Role::OrgLeader, id, now).await?;
        }
    }
    record(&txn, id, Some(user.id), step.event(approve), Some(status), to, comment.clone(), now).await?;
    work_queue::settle(&txn, &format!("organization:{id}"), now).await?;
    if to == OrgStatus::PendingFiling {
        work_queue::announce(&txn, Waiting::Filing, org.community_id, id, None, &org.name, now).await?;
    }
    if let Some(applicant) = org.applicant_id
        && (to == OrgStatus::Filed || to == OrgStatus::Rejected)
    {
        let (title, body) = if approve {
            ("备案成功".to_owned(), format!("「{}」已完成备案，您已成为负责人，可以发布活动了。", org.name))
        } else {
            let who = if step == ReviewStep::Consent { "社区" } else { "街道（乡镇）" };
            (
                "备案申请未通过".to_owned(),
                format!(
                    "{who}未通过「{}」的备案申请。理由：{}。修改后可重新提交。",
                    org.name,
                    comment.unwrap_or_default()
                ),
            )
        };
        let notice = Notice {
            user_id: applicant,
            kind: "filing_result",
            title,
            body,
            activity_id: None,
            organization_id: Some(id),
            dedupe_key: format!("filing_result:{id}:{}", now.timestamp_micros()),
            due_at: None,
            offset_secs: None,
        };
        enqueue(&txn, vec![notice], now).await?;
    }
    txn.commit().await?;
    tracing::info!(organization_id = id, reviewer = user.id, step = ?step, approve, "filing reviewed");
    detail(ctx, Some(user), id).await
}

/// `POST /organizations/{id}/resubmit`: the applicant sends a refused application back
/// to the committee, usually after editing it.
pub async fn resubmit(ctx: &AppContext, user: &AuthUser, id: i64, comment: Option<String>) -> AppResult<OrgDetail> {
    let org = find(&ctx.db, id).await?;
    let path = region_path(&ctx.db, org.community_id).await?;
    let rel = relation(Some(user), &org, &path);
    if !rel.applicant {
        if !rel.privileged() {
            return Err(AppError::NotFound("organization"));
        }
        return Err(AppError::Forbidden("only the applicant resubmits"));
    }
    let status = status_of(&org)?;
    if status != OrgStatus::Rejected {
        return Err(out_of_order(status));
    }
    let verdict =
        moderate_profile(ctx, user.id, Some(&org.name), Some(&org.description), org.contact_name.as_deref()).await?;
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    require_name_free(&txn, org.community_id, &org.name, Some(id)).await?;
    transition(&txn, id, status, OrgStatus::PendingConsent, now).await?;
    if verdict == crate::wechat::Moderation::Review {
        flag_for_review(&txn, id, OrgStatus::PendingConsent, now).await?;
    }
    record(&txn, id, Some(user.id), "resubmitted", Some(status), OrgStatus::PendingConsent, comment, now).await?;
    work_queue::announce(&txn, Waiting::Consent, org.community_id, id, None, &org.name, now).await?;
    txn.commit().await?;
    detail(ctx, Some(user), id).await
}

/// `POST /organizations/{id}/status`: the street office or civil affairs suspends,
/// reinstates or dissolves a recognised organization, with a reason.
pub async fn change_status(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    action: StatusAction,
    reason: String,
) -> AppResult<OrgDetail> {
    let org = find(&ctx.db, id).await?;
    let path = region_path(&ctx.db, org.community_id).await?;
    if !holds_region_role(user, &[Role::Street, Role::CivilAffairs], &path) {
        return Err(AppError::Forbidden("requires a region role"));
    }
    let status = status_of(&org)?;
    let to = action.apply(status, standing_of(&org)).ok_or_else(|| out_of_order(status))?;
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    transition(&txn, id, status, to, now).await?;
    if matches!(to, OrgStatus::Suspended | OrgStatus::Dissolved) {
        let why = format!("组织已被{}：{reason}", if to == OrgStatus::Suspended { "暂停活动" } else { "注销" });
        crate::service::activities::cancel_upcoming_of(&txn, id, user.id, &why, now).await?;
    }
    record(&txn, id, Some(user.id), action.event(), Some(status), to, Some(reason), now).await?;
    txn.commit().await?;
    detail(ctx, Some(user), id).await
}

/// `POST /organizations/{id}/registration`: county civil affairs records a formal
/// registration (登记) of a filed organization, with its unified social credit code.
pub async fn register(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    credit_code: String,
    comment: Option<String>,
) -> AppResult<OrgDetail> {
    let org = find(&ctx.db, id).await?;
    let path = region_path(&ctx.db, org.community_id).await?;
    if !holds_region_role(user, &[Role::CivilAffairs], &path) {
        return Err(AppError::Forbidden("requires a region role"));
    }
    let status = status_of(&org)?;
    if status != OrgStatus::Filed {
        return Err(out_of_order(status));
    }
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    transition(&txn, id, status, OrgStatus::Registered, now).await?;
    let saved = organization::Entity::update_many()
        .col_expr(organization::Column::Standing, Expr::value(Standing::Registered.as_str()))
        .col_expr(organization::Column::CreditCode, Expr::value(credit_code.clone()))
        .filter(organization::Column::Id.eq(id))
        .exec(&txn)
        .await;
    match saved {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            return Err(AppError::Conflict("credit_code_taken", "该统一社会信用代码已被另一个组织登记".into()));
        }
        Err(e) => return Err(e.into()),
    }
    let note = Some(match comment {
        Some(c) => format!("{credit_code} {c}"),
        None => credit_code,
    });
    record(&txn, id, Some(user.id), "registered", Some(status), OrgStatus::Registered, note, now).await?;
    txn.commit().await?;
    detail(ctx, Some(user), id).await
}

// ---- staff ---------------------------------------------------------------------------

pub struct StaffMember {
    pub user: user::Model,
    pub role: Role,
    pub since: DateTime<Utc>,
}

async fn require_staff_view(ctx: &AppContext, user: &AuthUser, org: &organization::Model) -> AppResult<Relation> {
    let path = region_path(&ctx.db, org.community_id).await?;
    let rel = relation(Some(user), org, &path);
    if rel.staff || rel.official { Ok(rel) } else { Err(AppError::Forbidden("requires organization staff")) }
}

pub async fn staff(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<Vec<StaffMember>> {
    let org = find(&ctx.db, id).await?;
    require_staff_view(ctx, user, &org).await?;
    let grants = role_grant::Entity::find()
        .filter(role_grant::Column::ScopeId.eq(id))
        .filter(role_grant::Column::Role.is_in([Role::OrgLeader.as_str(), Role::OrgStaff.as_str()]))
        .order_by_asc(role_grant::Column::Id)
        .all(&ctx.db)
        .await?;
    let users: HashMap<i64, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(grants.iter().map(|g| g.user_id).collect::<Vec<_>>()))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    Ok(grants
        .into_iter()
        .filter_map(|g| {
            let role = Role::parse(&g.role)?;
            Some(StaffMember { user: users.get(&g.user_id)?.clone(), role, since: g.created_at })
        })
        .collect())
}

async fn live_user(db: &impl ConnectionTrait, user_id: i64) -> AppResult<user::Model> {
    user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or_else(|| AppError::invalid("user_id", "not_found", "user_id 指定的用户不存在"))
}

fn require_active(status: OrgStatus) -> AppResult<()> {
    if matches!(status, OrgStatus::Filed | OrgStatus::Registered | OrgStatus::Suspended) {
        Ok(())
    } else {
        Err(out_of_order(status))
    }
}

/// The users holding one of these organization roles over the organization.
pub async fn holders(db: &impl ConnectionTrait, org_id: i64, roles: &[Role]) -> AppResult<Vec<i64>> {
    Ok(role_grant::Entity::find()
        .select_only()
        .column(role_grant::Column::UserId)
        .filter(role_grant::Column::Role.is_in(roles.iter().map(|r| r.as_str())))
        .filter(role_grant::Column::ScopeId.eq(org_id))
        .into_tuple()
        .all(db)
        .await?)
}

/// For account deletion: the recognised organizations the user is the only leader of
/// (they must hand leadership on first, `POST /organizations/{id}/leader`).
pub async fn solely_led_by(db: &impl ConnectionTrait, user_id: i64) -> AppResult<Vec<organization::Model>> {
    let led: Vec<i64> = role_grant::Entity::find()
        .filter(role_grant::Column::UserId.eq(user_id))
        .filter(role_grant::Column::Role.eq(Role::OrgLeader.as_str()))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|g| g.scope_id)
        .collect();
    let mut sole = Vec::new();
    for org in organization::Entity::find().filter(organization::Column::Id.is_in(led)).all(db).await? {
        let live =
            OrgStatus::parse(&org.status).is_some_and(|s| !matches!(s, OrgStatus::Dissolved | OrgStatus::Withdrawn));
        let others = holders(db, org.id, &[Role::OrgLeader]).await?.into_iter().filter(|u| *u != user_id).count();
        if live && others == 0 {
            sole.push(org);
        }
    }
    Ok(sole)
}

/// For account deletion: the person's applications still in review (or sent back) are
/// withdrawn, recorded as "withdrawn: account deleted", and leave the review queues, with
/// the description they wrote erased; the contact name and phone they typed are erased
/// from every organization they applied for (a recognised organization's leaders set a
/// new contact).
pub async fn erase_applicant(db: &impl ConnectionTrait, user_id: i64, now: DateTime<Utc>) -> AppResult<()> {
    let applied = organization::Entity::find().filter(organization::Column::ApplicantId.eq(user_id)).all(db).await?;
    for org in applied {
        let status = OrgStatus::parse(&org.status).unwrap_or(OrgStatus::PendingConsent);
        let mut update = organization::Entity::update_many()
            .col_expr(organization::Column::ContactName, Expr::value(Option::<String>::None))
            .col_expr(organization::Column::ContactPhone, Expr::value(Option::<String>::None))
            .col_expr(organization::Column::UpdatedAt, Expr::value(now));
        if status.is_application() {
            // Nothing the applicant wrote stays readable: the description too (it often
            // names them); the name stays as the record of what was withdrawn.
            update = update
                .col_expr(organization::Column::Status, Expr::value(OrgStatus::Withdrawn.as_str()))
                .col_expr(organization::Column::Description, Expr::value(""));
        }
        update.filter(organization::Column::Id.eq(org.id)).exec(db).await?;
        if status.is_application() {
            record(
                db,
                org.id,
                None,
                "withdrawn",
                Some(status),
                OrgStatus::Withdrawn,
                Some("申请人已注销账号".into()),
                now,
            )
            .await?;
        }
    }
    Ok(())
}

/// The leader adds a staff member (骨干).
pub async fn add_staff(ctx: &AppContext, user: &AuthUser, id: i64, member: i64) -> AppResult<Vec<StaffMember>> {
    let org = find(&ctx.db, id).await?;
    require_org_grant(&ctx.db, user, Role::OrgStaff, id).await?;
    require_active(status_of(&org)?)?;
    live_user(&ctx.db, member).await?;
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let (_, created) = grant_in_organization(&txn, user, member, Role::OrgStaff, id, now).await?;
    if created {
        let status = status_of(&org)?;
        record(&txn, id, Some(user.id), "staff_added", Some(status), status, Some(format!("user {member}")), now)
            .await?;
    }
    txn.commit().await?;
    staff(ctx, user, id).await
}

/// Grants an organization role (`org_staff`, or `org_leader` beside the leader) that
/// `inviter` offered in an invitation the invitee now accepts, in the caller's
/// transaction: the same table and the same rules as `add_staff` (the organization must
/// be filed, registered or suspended; the inviter must still be allowed to grant it),
/// recorded in the organization's history as done by the inviter through an invitation.
/// Returns the grant's id and whether it is new.
pub async fn grant_by_invitation(
    txn: &DatabaseTransaction,
    inviter: &AuthUser,
    invitee: i64,
    role: Role,
    id: i64,
    now: DateTime<Utc>,
) -> AppResult<(i64, bool)> {
    let org = find(txn, id).await?;
    require_active(status_of(&org)?)?;
    live_user(txn, invitee).await?;
    let (grant, created) = grant_in_organization(txn, inviter, invitee, role, id, now).await?;
    if created {
        let status = status_of(&org)?;
        let what = if role == Role::OrgLeader { "leader_added" } else { "staff_added" };
        record(txn, id, Some(inviter.id), what, Some(status), status, Some(format!("user {invitee}，经邀请加入")), now)
            .await?;
    }
    Ok((grant.id, created))
}

/// The leader removes a staff member. The leader cannot remove themselves this way:
/// leadership is transferred instead.
pub async fn remove_staff(ctx: &AppContext, user: &AuthUser, id: i64, member: i64) -> AppResult<Vec<StaffMember>> {
    let org = find(&ctx.db, id).await?;
    require_org_grant(&ctx.db, user, Role::OrgStaff, id).await?;
    let removed = role_grant::Entity::delete_many()
        .filter(role_grant::Column::UserId.eq(member))
        .filter(role_grant::Column::Role.eq(Role::OrgStaff.as_str()))
        .filter(role_grant::Column::ScopeId.eq(id))
        .exec(&ctx.db)
        .await?
        .rows_affected;
    if removed == 0 {
        return Err(AppError::NotFound("user"));
    }
    let status = status_of(&org)?;
    record(
        &ctx.db,
        id,
        Some(user.id),
        "staff_removed",
        Some(status),
        status,
        Some(format!("user {member}")),
        ctx.now(),
    )
    .await?;
    staff(ctx, user, id).await
}

/// Who becomes leader, and how: the leader hands over (and stays on as staff), or — only
/// when the organization has no leader — its filing office appoints one, with a reason
/// kept in the history and a notice to the organization. Both ask the grant table.
pub async fn transfer_leadership(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    new_leader: i64,
    reason: Option<String>,
) -> AppResult<Vec<StaffMember>> {
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    // Held until the commit: two appointments at once cannot both find no leader.
    let org = organization::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("organization"))?;
    let status = status_of(&org)?;
    let leaders = holders(&txn, id, &[Role::OrgLeader]).await?;
    let handover = leaders.contains(&user.id);
    require_org_grant(&txn, user, Role::OrgLeader, id).await?;
    require_active(status)?;
    if !handover && !leaders.is_empty() {
        return Err(AppError::Conflict(
            "organization_has_leader",
            "该组织已有负责人：负责人可移交，无负责人时才由备案机关指定".to_owned(),
        ));
    }
    let reason = match reason {
        Some(r) => Some(r),
        None if handover => None,
        None => return Err(AppError::invalid("reason", "required", "指定负责人须说明理由（1–500 个字符）")),
    };
    live_user(&txn, new_leader).await?;
    let old_leaders: Vec<i64> = leaders.into_iter().filter(|u| *u != new_leader).collect();
    role_grant::Entity::delete_many()
        .filter(role_grant::Column::Role.eq(Role::OrgLeader.as_str()))
        .filter(role_grant::Column::ScopeId.eq(id))
        .filter(role_grant::Column::UserId.ne(new_leader))
        .exec(&txn)
        .await?;
    for old in old_leaders {
        grant_in_organization(&txn, user, old, Role::OrgStaff, id, now).await?;
    }
    role_grant::Entity::delete_many()
        .filter(role_grant::Column::Role.eq(Role::OrgStaff.as_str()))
        .filter(role_grant::Column::ScopeId.eq(id))
        .filter(role_grant::Column::UserId.eq(new_leader))
        .exec(&txn)
        .await?;
    grant_in_organization(&txn, user, new_leader, Role::OrgLeader, id, now).await?;
    if handover {
        let comment = Some(match &reason {
            Some(why) => format!("user {new_leader}: {why}"),
            None => format!("user {new_leader}"),
        });
        record(&txn, id, Some(user.id), "leader_transferred", Some(status), status, comment, now).await?;
    } else {
        let why = reason.unwrap_or_default();
        let comment = Some(format!("user {new_leader}: {why}"));
        record(&txn, id, Some(user.id), "leader_appointed", Some(status), status, comment, now).await?;
        // The organization hears of it: the new leader and every staff member.
        let mut told = holders(&txn, id, &[Role::OrgLeader, Role::OrgStaff]).await?;
        told.sort_unstable();
        told.dedup();
        let notices = told
            .into_iter()
            .map(|to| Notice {
                user_id: to,
                kind: "leader_appointed",
                title: "负责人已指定".to_owned(),
                body: format!("备案机关为「{}」指定了新的负责人。理由：{why}", org.name),
                activity_id: None,
                organization_id: Some(id),
                dedupe_key: format!("leader_appointed:{id}:{to}:{}", now.timestamp_micros()),
                due_at: None,
                offset_secs: None,
            })
            .collect();
        enqueue(&txn, notices, now).await?;
    }
    txn.commit().await?;
    staff(ctx, user, id).await
}

// ---- follows -------------------------------------------------------------------------

pub async fn follow(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<()> {
    let org = find(&ctx.db, id).await?;
    if !status_of(&org)?.is_recognised() {
        return Err(AppError::NotFound("organization"));
    }
    organization_follow::Entity::insert(organization_follow::ActiveModel {
        user_id: Set(user.id),
        organization_id: Set(id),
        created_at: Set(ctx.now()),
    })
    .on_conflict_do_nothing()
    .exec_without_returning(&ctx.db)
    .await?;
    Ok(())
}

pub async fn unfollow(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<()> {
    find(&ctx.db, id).await?;
    organization_follow::Entity::delete_by_id((user.id, id)).exec(&ctx.db).await?;
    Ok(())
}

/// The organizations a user follows, most recent first.
pub async fn follows(
    ctx: &AppContext,
    user: &AuthUser,
    after_id: Option<i64>,
    limit: u64,
) -> AppResult<Vec<organization::Model>> {
    let mut query = organization::Entity::find().filter(
        organization::Column::Id.in_subquery(
            Query::select()
                .column(organization_follow::Column::OrganizationId)
                .from(organization_follow::Entity)
                .and_where(organization_follow::Column::UserId.eq(user.id))
                .to_owned(),
        ),
    );
    if let Some(after) = after_id {
        query = query.filter(organization::Column::Id.lt(after));
    }
    Ok(query.order_by_desc(organization::Column::Id).limit(limit + 1).all(&ctx.db).await?)
}

// ---- lists ---------------------------------------------------------------------------

/// The organizations the caller applied for, leads or staffs, whatever their status.
pub async fn mine(ctx: &AppContext, user: &AuthUser) -> AppResult<Vec<organization::Model>> {
    let staffed: Vec<i64> = user
        .grants
        .iter()
        .filter(|g| matches!(g.role, Role::OrgLeader | Role::OrgStaff))
        .filter_map(|g| g.scope_id)
        .collect();
    Ok(organization::Entity::find()
        .filter(
            Condition::any()
                .add(organization::Column::ApplicantId.eq(user.id))
                .add(organization::Column::Id.is_in(staffed)),
        )
        .order_by_desc(organization::Column::Id)
        .limit(200)
        .all(&ctx.db)
        .await?)
}

/// Applications waiting for the caller: consent in the communities they serve as
/// committee, filing in the streets they serve as street office. Oldest first.
pub async fn review_queue(
    ctx: &AppContext,
    user: &AuthUser,
    after_id: Option<i64>,
    limit: u64,
) -> AppResult<Vec<organization::Model>> {
    let mut any = Condition::any();
    let mut is_reviewer = false;
    for (role, status) in [(Role::Committee, OrgStatus::PendingConsent), (Role::Street, OrgStatus::PendingFiling)] {
        let scopes: Vec<i64> = user.grants_of(role).filter_map(|g| g.scope_id).collect();
        if user.is_system_admin() {
            any = any.add(organization::Column::Status.eq(status.as_str()));
            is_reviewer = true;
            continue;
        }
        if scopes.is_empty() {
            continue;
        }
        is_reviewer = true;
        let mut paths = Vec::new();
        for s in scopes {
            paths.push(region_path(&ctx.db, s).await?);
        }
        any = any.add(
            Condition::all()
                .add(organization::Column::Status.eq(status.as_str()))
                .add(organization::Column::CommunityId.in_subquery(regions_under(&paths))),
        );
    }
    if !is_reviewer {
        return Err(AppError::Forbidden("requires a region role"));
    }
    let mut query = organization::Entity::find().filter(any);
    if let Some(after) = after_id {
        query = query.filter(organization::Column::Id.gt(after));
    }
    Ok(query.order_by_asc(organization::Column::Id).limit(limit + 1).all(&ctx.db).await?)
}

/// Browse filters.
#[derive(Debug, Default, Clone)]
pub struct BrowseFilter {
    pub region_id: Option<i64>,
    pub category: Option<Category>,
    pub service_target: Option<ServiceTarget>,
    pub q: Option<String>,
    pub near: Option<(f64, f64)>,
    /// Only organizations whose current grade (等级) is this.
    pub grade: Option<Grade>,
}

pub struct BrowseItem {
    pub org: organization::Model,
    pub targets: Vec<String>,
    pub community_name: String,
    pub distance_m: Option<f64>,
    /// The current grade and its last valid day.
    pub grade: Option<(Grade, NaiveDate)>,
}

/// `GET /organizations`: recognised organizations only. Keyset pagination, so rows
/// added while a resident scrolls never repeat or push others off a page.
pub async fn browse(
    ctx: &AppContext,
    filter: &BrowseFilter,
    cursor: Option<Cursor>,
    limit: u64,
) -> AppResult<(Vec<BrowseItem>, Option<Cursor>)> {
    let mut query = organization::Entity::find()
        .select_only()
        .column(organization::Column::Id)
        .filter(organization::Column::Status.is_in([OrgStatus::Filed.as_str(), OrgStatus::Registered.as_str()]));
    if let Some(region_id) = filter.region_id {
        let path = region_path(&ctx.db, region_id).await?;
        query = query.filter(organization::Column::CommunityId.in_subquery(regions_under(&[path])));
    }
    if let Some(category) = filter.category {
        query = query.filter(organization::Column::Category.eq(category.as_str()));
    }
    if let Some(target) = filter.service_target {
        query = query.filter(
            organization::Column::Id.in_subquery(
                Query::select()
                    .column(organization_target::Column::OrganizationId)
                    .from(organization_target::Entity)
                    .and_where(organization_target::Column::Target.eq(target.as_str()))
                    .to_owned(),
            ),
        );
    }
    if let Some(q) = &filter.q {
        let pattern = format!("%{}%", like_literal(q));
        query = query.filter(Expr::col(organization::Column::Name).like(LikeExpr::new(pattern).escape('\\')));
    }
    let today = to_shanghai(ctx.now()).date_naive();
    if let Some(grade) = filter.grade {
        query = query.filter(organization::Column::Id.in_subquery(crate::service::ratings::graded(grade, today)));
    }
    let (ids, next) = geo::page_ids(
        &ctx.db,
        query,
        organization::Column::Id,
        organization::Column::Latitude,
        organization::Column::Longitude,
        filter.near,
        cursor,
        limit,
    )
    .await?;
    let mut orgs: HashMap<i64, organization::Model> = organization::Entity::find()
        .filter(organization::Column::Id.is_in(ids.clone()))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    let mut targets = targets_of(&ctx.db, &ids).await?;
    let grades = crate::service::ratings::current_grades(&ctx.db, &ids, today).await?;
    let community_ids: Vec<i64> = orgs.values().map(|o| o.community_id).collect();
    let names: HashMap<i64, String> = region::Entity::find()
        .filter(region::Column::Id.is_in(community_ids))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect();
    let items = ids
        .into_iter()
        .filter_map(|id| {
            let org = orgs.remove(&id)?;
            let distance_m = match (filter.near, org.latitude, org.longitude) {
                (Some((lat, lng)), Some(a), Some(b)) => Some(distance_m(lat, lng, a, b)),
                _ => None,
            };
            Some(BrowseItem {
                targets: targets.remove(&id).unwrap_or_default(),
                community_name: names.get(&org.community_id).cloned().unwrap_or_default(),
                grade: grades.get(&id).copied(),
                org,
                distance_m,
            })
        })
        .collect();
    Ok((items, next))
}
