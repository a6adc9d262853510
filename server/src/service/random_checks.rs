//! Random checks (双随机): a filing office keeps a pool of inspectors, draws a sample of
//! the organizations it supervises with a pair of inspectors each (reproducibly: see
//! `domain::random_check`), and publishes the draw. Inspectors record findings and a
//! result; an organization asked to rectify answers with a note, and the inspectors close
//! the check. An unreachable organization, or one that failed to rectify, goes on the
//! abnormal list.

use std::collections::HashMap;

use chrono::Utc;
use rand::Rng;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, sea_query::Expr};

use crate::{
    auth::{
        AuthUser,
        scope::{holds_region_role, region_path},
    },
    context::AppContext,
    domain::{
        abnormal::AbnormalReason,
        organization::{OrgStatus, Standing},
        random_check::{CheckResult, CheckStatus, draw as draw_sample, inspectors as draw_pair},
        role::Role,
    },
    entity::{check_draw, check_item, organization, region},
    error::{AppError, AppResult},
    service::{
        abnormal, begin_write,
        expert_pools::{self, Pool},
        notifications::{Notice, enqueue},
        organization_scope::regions_under,
    },
};

/// A draw with its checks.
#[derive(Debug, Clone)]
pub struct DrawView {
    pub draw: check_draw::Model,
    pub region_name: String,
    pub items: Vec<ItemView>,
}

/// One drawn organization's check.
#[derive(Debug, Clone)]
pub struct ItemView {
    pub item: check_item::Model,
    pub organization_name: String,
    /// `(user id, nickname)` of its two inspectors.
    pub inspectors: Vec<(i64, Option<String>)>,
}

fn ids(s: &str) -> Vec<i64> {
    s.split(',').filter_map(|x| x.trim().parse().ok()).collect()
}

fn join(v: &[i64]) -> String {
    v.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// The offices that run checks over a region: its street office(s) and civil affairs.
fn require_office(user: &AuthUser, path: &str) -> AppResult<()> {
    expert_pools::require_keeper(user, Pool::Inspectors, path)
}

async fn find_region(db: &impl ConnectionTrait, id: i64) -> AppResult<region::Model> {
    region::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("region"))
}

/// Draws `sample_size` organizations under `region_id` and two inspectors each from the
/// region's pool. Civil affairs draws among filed and registered organizations; a street
/// office among the filed ones (the small groups it supervises). `seed` defaults to a
/// random one; it is published with the population and the pool.
pub async fn draw(
    ctx: &AppContext,
    user: &AuthUser,
    region_id: i64,
    title: String,
    sample_size: usize,
    seed: Option<String>,
) -> AppResult<DrawView> {
    let r = find_region(&ctx.db, region_id).await?;
    require_office(user, &r.path)?;
    let civil_affairs = user.is_system_admin() || holds_region_role(user, &[Role::CivilAffairs], &r.path);
    let population = population(&ctx.db, &r.path, !civil_affairs).await?;
    let pool = expert_pools::active(&ctx.db, Pool::Inspectors, region_id).await?;
    if pool.len() < 2 {
        return Err(AppError::Conflict("pool_too_small", "检查人员库至少需要 2 人".into()));
    }
    if sample_size == 0 || sample_size > population.len() {
        return Err(AppError::invalid(
            "sample_size",
            "range",
            format!("抽取数量须在 1 到 {} 之间（可抽取的组织数）", population.len()),
        ));
    }
    let seed = seed.unwrap_or_else(|| {
        let bytes: [u8; 8] = rand::rng().random();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    });
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let draw_id =
        record_draw(&txn, NewDraw { region_id, title, seed, population, pool, sample_size, drawn_by: user.id }, now)
            .await?;
    txn.commit().await?;
    draw_view(&ctx.db, draw_id).await
}

/// The organizations a draw over the region at `path` is made from: filed and
/// registered ones (civil affairs), or the filed ones only (a street office's small groups).
pub async fn population(db: &impl ConnectionTrait, path: &str, filed_only: bool) -> AppResult<Vec<i64>> {
    Ok(organization::Entity::find()
        .filter(organization::Column::CommunityId.in_subquery(regions_under(&[path.to_owned()])))
        .filter(organization::Column::Status.is_in([OrgStatus::Filed.as_str(), OrgStatus::Registered.as_str()]))
        .all(db)
        .await?
        .into_iter()
        .filter(|o| !filed_only || o.standing == Standing::Filed.as_str())
        .map(|o| o.id)
        .collect())
}

/// A draw to record: the population and pool as they were, and the seed.
pub struct NewDraw {
    pub region_id: i64,
    pub title: String,
    pub seed: String,
    pub population: Vec<i64>,
    pub pool: Vec<i64>,
    pub sample_size: usize,
    pub drawn_by: i64,
}

/// Draws and records a sample with its checks, and tells each inspector (in `db`'s
/// transaction): the one place a draw is made, for the offices and for the demo.
pub async fn record_draw(db: &impl ConnectionTrait, d: NewDraw, now: chrono::DateTime<Utc>) -> AppResult<i64> {
    let NewDraw { region_id, title, seed, population, pool, sample_size, drawn_by } = d;
    let sample = draw_sample(&seed, &population, sample_size);
    let mut sorted_population = population.clone();
    sorted_population.sort_unstable();
    let draw_id = check_draw::Entity::insert(check_draw::ActiveModel {
        region_id: Set(region_id),
        title: Set(title),
        seed: Set(seed.clone()),
        population: Set(join(&sorted_population)),
        pool: Set(join(&pool)),
        sample_size: Set(sample_size as i32),
        drawn_by: Set(drawn_by),
        created_at: Set(now),
        ..Default::default()
    })
    .exec(db)
    .await?
    .last_insert_id;
    let mut notices = Vec::new();
    for org in &sample {
        let pair = draw_pair(&seed, *org, &pool);
        check_item::Entity::insert(check_item::ActiveModel {
            draw_id: Set(draw_id),
            organization_id: Set(*org),
            inspectors: Set(join(&pair)),
            status: Set(CheckStatus::Assigned.as_str().to_owned()),
            ..Default::default()
        })
        .exec_without_returning(db)
        .await?;
        for inspector in pair {
            notices.push(Notice {
                user_id: inspector,
                kind: "check_assigned",
                title: "双随机检查任务".into(),
                body: format!("您被抽中检查一家社区社会组织（抽查 #{draw_id}）。请到待办查看。"),
                activity_id: None,
                organization_id: Some(*org),
                dedupe_key: format!("check_assigned:{draw_id}:{org}:{inspector}"),
                due_at: None,
                offset_secs: None,
            });
        }
    }
    enqueue(db, notices, now).await?;
    Ok(draw_id)
}

/// A published draw: its seed, population, pool and checks (results, not findings).
/// Anyone.
pub async fn draw_view(db: &impl ConnectionTrait, id: i64) -> AppResult<DrawView> {
    let d = check_draw::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("draw"))?;
    let region_name = find_region(db, d.region_id).await?.name;
    let items = check_item::Entity::find()
        .filter(check_item::Column::DrawId.eq(id))
        .order_by_asc(check_item::Column::Id)
        .all(db)
        .await?;
    Ok(DrawView { items: item_views(db, items).await?, region_name, draw: d })
}

async fn item_views(db: &impl ConnectionTrait, items: Vec<check_item::Model>) -> AppResult<Vec<ItemView>> {
    let orgs: HashMap<i64, String> = organization::Entity::find()
        .filter(organization::Column::Id.is_in(items.iter().map(|i| i.organization_id).collect::<Vec<_>>()))
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    let names = expert_pools::nicknames(db, items.iter().flat_map(|i| ids(&i.inspectors)).collect()).await?;
    Ok(items
        .into_iter()
        .map(|i| ItemView {
            organization_name: orgs.get(&i.organization_id).cloned().unwrap_or_default(),
            inspectors: ids(&i.inspectors).into_iter().map(|id| (id, names.get(&id).cloned().flatten())).collect(),
            item: i,
        })
        .collect())
}

async fn find_item(db: &impl ConnectionTrait, id: i64) -> AppResult<check_item::Model> {
    check_item::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("check"))
}

async fn lock_item(txn: &sea_orm::DatabaseTransaction, id: i64) -> AppResult<check_item::Model> {
    use sea_orm::QuerySelect;
    check_item::Entity::find_by_id(id).lock_exclusive().one(txn).await?.ok_or(AppError::NotFound("check"))
}

fn is_inspector(user: &AuthUser, item: &check_item::Model) -> bool {
    ids(&item.inspectors).contains(&user.id)
}

fn is_org(user: &AuthUser, org: i64, leader_only: bool) -> bool {
    user.grants
        .iter()
        .any(|g| g.scope_id == Some(org) && (g.role == Role::OrgLeader || (!leader_only && g.role == Role::OrgStaff)))
}

/// One check with its findings: for its inspectors, the organization's staff, and the
/// officials over the organization.
pub async fn item(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<ItemView> {
    let i = find_item(&ctx.db, id).await?;
    if !is_inspector(user, &i) && !is_org(user, i.organization_id, false) && !user.is_system_admin() {
        let org = organization::Entity::find_by_id(i.organization_id)
            .one(&ctx.db)
            .await?
            .ok_or(AppError::NotFound("organization"))?;
        let path = region_path(&ctx.db, org.community_id).await?;
        if !holds_region_role(user, &[Role::Committee, Role::Street, Role::CivilAffairs], &path) {
            return Err(AppError::Forbidden("requires an inspector, the organization or an official over it"));
        }
    }
    let mut v = item_views(&ctx.db, vec![i]).await?;
    v.pop().ok_or(AppError::NotFound("check"))
}

async fn tell_leaders(
    db: &impl ConnectionTrait,
    org: i64,
    item_id: i64,
    body: String,
    now: chrono::DateTime<Utc>,
) -> AppResult<()> {
    let leaders = crate::service::organizations::holders(db, org, &[Role::OrgLeader]).await?;
    let notices = leaders
        .into_iter()
        .map(|user_id| Notice {
            user_id,
            kind: "check_result",
            title: "双随机检查结果".into(),
            body: body.clone(),
            activity_id: None,
            organization_id: Some(org),
            dedupe_key: format!("check_result:{item_id}:{user_id}:{}", now.timestamp_micros()),
            due_at: None,
            offset_secs: None,
        })
        .collect();
    enqueue(db, notices, now).await
}

fn conflict(why: &str) -> AppError {
    AppError::Conflict("invalid_transition", why.to_owned())
}

/// An inspector of the check records findings and a result: `pass` closes it,
/// `unreachable` closes it and lists the organization as abnormal, `rectify` waits for the
/// organization's answer. The organization's leaders are told.
pub async fn record(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    result: CheckResult,
    findings: String,
) -> AppResult<ItemView> {
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let i = lock_item(&txn, id).await?;
    if !is_inspector(user, &i) {
        return Err(AppError::Forbidden("requires an inspector of this check"));
    }
    if i.status != CheckStatus::Assigned.as_str() {
        return Err(conflict("检查结果已记录"));
    }
    let status = if result == CheckResult::Rectify { CheckStatus::Recorded } else { CheckStatus::Closed };
    let mut update = check_item::Entity::update_many()
        .col_expr(check_item::Column::Status, Expr::value(status.as_str()))
        .col_expr(check_item::Column::Result, Expr::value(result.as_str()))
        .col_expr(check_item::Column::Findings, Expr::value(findings.clone()))
        .col_expr(check_item::Column::RecordedBy, Expr::value(user.id))
        .col_expr(check_item::Column::RecordedAt, Expr::value(now));
    if status == CheckStatus::Closed {
        update = update
            .col_expr(check_item::Column::ClosedBy, Expr::value(user.id))
            .col_expr(check_item::Column::ClosedAt, Expr::value(now));
    }
    update.filter(check_item::Column::Id.eq(id)).exec(&txn).await?;
    let verdict = match result {
        CheckResult::Pass => "检查合格".to_owned(),
        CheckResult::Rectify => format!("需整改：{findings}。请提交整改说明。"),
        CheckResult::Unreachable => "检查时无法联系到组织，已列入活动异常名录".to_owned(),
    };
    if result == CheckResult::Unreachable {
        abnormal::list_for(
            &txn,
            i.organization_id,
            AbnormalReason::Unreachable,
            &findings,
            Some(user.id),
            Some(id),
            now,
        )
        .await?;
    }
    tell_leaders(&txn, i.organization_id, id, format!("双随机检查：{verdict}"), now).await?;
    txn.commit().await?;
    item(ctx, user, id).await
}

/// The organization's leader answers a `rectify` result with what it changed.
pub async fn answer(ctx: &AppContext, user: &AuthUser, id: i64, note: String) -> AppResult<ItemView> {
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let i = lock_item(&txn, id).await?;
    if !is_org(user, i.organization_id, true) {
        return Err(AppError::Forbidden("requires the organization's leader"));
    }
    if i.status != CheckStatus::Recorded.as_str() {
        return Err(conflict("只有需整改的检查可以提交整改说明"));
    }
    check_item::Entity::update_many()
        .col_expr(check_item::Column::Status, Expr::value(CheckStatus::Answered.as_str()))
        .col_expr(check_item::Column::Rectification, Expr::value(note))
        .col_expr(check_item::Column::AnsweredBy, Expr::value(user.id))
        .col_expr(check_item::Column::AnsweredAt, Expr::value(now))
        .filter(check_item::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    item(ctx, user, id).await
}

/// An inspector closes an answered check: rectified, or not (which lists the
/// organization as abnormal for a failed rectification).
pub async fn close(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    rectified: bool,
    comment: Option<String>,
) -> AppResult<ItemView> {
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let i = lock_item(&txn, id).await?;
    if !is_inspector(user, &i) {
        return Err(AppError::Forbidden("requires an inspector of this check"));
    }
    if i.status != CheckStatus::Answered.as_str() {
        return Err(conflict("只有已提交整改说明的检查可以结束"));
    }
    check_item::Entity::update_many()
        .col_expr(check_item::Column::Status, Expr::value(CheckStatus::Closed.as_str()))
        .col_expr(check_item::Column::Rectified, Expr::value(rectified))
        .col_expr(check_item::Column::ClosedBy, Expr::value(user.id))
        .col_expr(check_item::Column::ClosedAt, Expr::value(now))
        .col_expr(check_item::Column::CloseComment, Expr::value(comment.clone()))
        .filter(check_item::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    if !rectified {
        let detail = format!("双随机检查整改未通过：{}", comment.as_deref().unwrap_or("整改不到位"));
        abnormal::list_for(
            &txn,
            i.organization_id,
            AbnormalReason::FailedRectification,
            &detail,
            Some(user.id),
            Some(id),
            now,
        )
        .await?;
    }
    let body = if rectified {
        "整改已通过，检查结束".to_owned()
    } else {
        "整改未通过，已列入活动异常名录".to_owned()
    };
    tell_leaders(&txn, i.organization_id, id, format!("双随机检查：{body}"), now).await?;
    txn.commit().await?;
    item(ctx, user, id).await
}
