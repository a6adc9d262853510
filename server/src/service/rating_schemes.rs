//! Rating schemes (等级评估标准) as versioned data. The default scheme (family `default`,
//! see `domain::rating::default_scheme`) is written once at start; civil affairs copies a
//! scheme into its region (each copy is the next version of the region's family
//! `region:<id>`), edits the draft, and publishes it. A published scheme never changes, so
//! an assessment that names it has frozen it.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, sea_query::Expr,
};

use crate::{
    auth::{
        AuthUser,
        scope::{holds_region_role, path_covers, region_path},
    },
    context::AppContext,
    domain::{
        rating::{SchemeContent, default_scheme},
        role::Role,
    },
    entity::rating_scheme,
    error::{AppError, AppResult},
    service::begin_write,
};

/// `draft` (editable by civil affairs over its region) or `published` (frozen).
pub const DRAFT: &str = "draft";
pub const PUBLISHED: &str = "published";

/// A scheme with its parsed content.
#[derive(Debug, Clone)]
pub struct SchemeView {
    pub scheme: rating_scheme::Model,
    pub content: SchemeContent,
}

fn view(m: rating_scheme::Model) -> AppResult<SchemeView> {
    let content = serde_json::from_str(&m.content)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("rating scheme {} unreadable: {e}", m.id)))?;
    Ok(SchemeView { scheme: m, content })
}

/// Writes the default scheme if it is not there (idempotent; replicas racing at start
/// leave one row: the unique family–version index refuses the second).
pub async fn ensure_default(db: &impl ConnectionTrait, now: chrono::DateTime<chrono::Utc>) -> AppResult<()> {
    let exists =
        rating_scheme::Entity::find().filter(rating_scheme::Column::Family.eq("default")).one(db).await?.is_some();
    if exists {
        return Ok(());
    }
    let content = serde_json::to_string(&default_scheme()).map_err(|e| AppError::Internal(e.into()))?;
    let res = rating_scheme::Entity::insert(rating_scheme::ActiveModel {
        family: Set("default".into()),
        version: Set(1),
        region_id: Set(None),
        name: Set("社区社会组织等级评估标准（默认）".into()),
        content: Set(content),
        status: Set(PUBLISHED.into()),
        based_on: Set(None),
        created_by: Set(None),
        created_at: Set(now),
        published_at: Set(Some(now)),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await;
    match res {
        Ok(_) => Ok(()),
        Err(e) if crate::service::is_unique_violation(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Civil affairs over the scheme's region (the system admin for the default).
async fn may_edit(db: &impl ConnectionTrait, user: &AuthUser, m: &rating_scheme::Model) -> AppResult<bool> {
    Ok(match m.region_id {
        None => user.is_system_admin(),
        Some(r) => holds_region_role(user, &[Role::CivilAffairs], &region_path(db, r).await?),
    })
}

/// A scheme by id: published ones for anyone, drafts for those who may edit them.
pub async fn get(ctx: &AppContext, user: Option<&AuthUser>, id: i64) -> AppResult<SchemeView> {
    let m = rating_scheme::Entity::find_by_id(id).one(&ctx.db).await?.ok_or(AppError::NotFound("rating scheme"))?;
    if m.status != PUBLISHED {
        let allowed = match user {
            Some(u) => may_edit(&ctx.db, u, &m).await?,
            None => false,
        };
        if !allowed {
            return Err(AppError::NotFound("rating scheme"));
        }
    }
    view(m)
}

/// The schemes that apply under a region (the default and those of the region and its
/// ancestors; all when `region_id` is absent), newest version first; drafts only for
/// those who may edit them.
pub async fn list(ctx: &AppContext, user: Option<&AuthUser>, region_id: Option<i64>) -> AppResult<Vec<SchemeView>> {
    let path = match region_id {
        Some(r) => Some(region_path(&ctx.db, r).await?),
        None => None,
    };
    let all = rating_scheme::Entity::find()
        .order_by_asc(rating_scheme::Column::Family)
        .order_by_desc(rating_scheme::Column::Version)
        .all(&ctx.db)
        .await?;
    let mut out = Vec::new();
    for m in all {
        if let (Some(p), Some(r)) = (&path, m.region_id)
            && !path_covers(p, r)
        {
            continue;
        }
        if m.status != PUBLISHED {
            let allowed = match user {
                Some(u) => may_edit(&ctx.db, u, &m).await?,
                None => false,
            };
            if !allowed {
                continue;
            }
        }
        out.push(view(m)?);
    }
    Ok(out)
}

/// Copies a scheme into `region_id` as a new draft: the next version of the region's
/// family. Civil affairs over the region only.
pub async fn copy(ctx: &AppContext, user: &AuthUser, id: i64, region_id: i64, name: String) -> AppResult<SchemeView> {
    let source = get(ctx, Some(user), id).await?;
    let path = region_path(&ctx.db, region_id).await?;
    if !holds_region_role(user, &[Role::CivilAffairs], &path) {
        return Err(AppError::Forbidden("requires civil affairs over the region"));
    }
    let family = format!("region:{region_id}");
    let txn = begin_write(&ctx.db).await?;
    let last = rating_scheme::Entity::find()
        .filter(rating_scheme::Column::Family.eq(family.clone()))
        .order_by_desc(rating_scheme::Column::Version)
        .one(&txn)
        .await?
        .map(|m| m.version)
        .unwrap_or(0);
    let saved = rating_scheme::Entity::insert(rating_scheme::ActiveModel {
        family: Set(family),
        version: Set(last + 1),
        region_id: Set(Some(region_id)),
        name: Set(name),
        content: Set(source.scheme.content.clone()),
        status: Set(DRAFT.into()),
        based_on: Set(Some(source.scheme.id)),
        created_by: Set(Some(user.id)),
        created_at: Set(ctx.now()),
        published_at: Set(None),
        ..Default::default()
    })
    .exec(&txn)
    .await;
    let new_id = match saved {
        Ok(r) => r.last_insert_id,
        Err(e) if crate::service::is_unique_violation(&e) => {
            return Err(AppError::Conflict("scheme_version_taken", "另一份草稿刚刚创建了同一版本，请重试".into()));
        }
        Err(e) => return Err(e.into()),
    };
    txn.commit().await?;
    get(ctx, Some(user), new_id).await
}

/// Replaces a draft's name and content (checked whole: every problem is listed, 422).
/// 409 `scheme_published` once published.
pub async fn update(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    name: String,
    content: SchemeContent,
) -> AppResult<SchemeView> {
    let current = get(ctx, Some(user), id).await?;
    if !may_edit(&ctx.db, user, &current.scheme).await? {
        return Err(AppError::Forbidden("requires civil affairs over the scheme's region"));
    }
    let problems = content.problems();
    if !problems.is_empty() {
        return Err(AppError::Validation(problems));
    }
    let text = serde_json::to_string(&content).map_err(|e| AppError::Internal(e.into()))?;
    let res = rating_scheme::Entity::update_many()
        .col_expr(rating_scheme::Column::Name, Expr::value(name))
        .col_expr(rating_scheme::Column::Content, Expr::value(text))
        .filter(rating_scheme::Column::Id.eq(id))
        .filter(rating_scheme::Column::Status.eq(DRAFT))
        .exec(&ctx.db)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::Conflict("scheme_published", "已发布的评估标准不能修改，请复制为新版本".into()));
    }
    get(ctx, Some(user), id).await
}

/// Publishes a draft (idempotent for a published one); from then on it never changes.
pub async fn publish(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<SchemeView> {
    let current = get(ctx, Some(user), id).await?;
    if !may_edit(&ctx.db, user, &current.scheme).await? {
        return Err(AppError::Forbidden("requires civil affairs over the scheme's region"));
    }
    let problems = current.content.problems();
    if !problems.is_empty() {
        return Err(AppError::Validation(problems));
    }
    rating_scheme::Entity::update_many()
        .col_expr(rating_scheme::Column::Status, Expr::value(PUBLISHED))
        .col_expr(rating_scheme::Column::PublishedAt, Expr::value(ctx.now()))
        .filter(rating_scheme::Column::Id.eq(id))
        .filter(rating_scheme::Column::Status.eq(DRAFT))
        .exec(&ctx.db)
        .await?;
    get(ctx, Some(user), id).await
}

/// A published scheme that applies to an organization whose community is at `path` (the
/// default or one of an enclosing region). 422 otherwise.
pub async fn applicable(db: &impl ConnectionTrait, id: i64, path: &str) -> AppResult<SchemeView> {
    let m = rating_scheme::Entity::find_by_id(id)
        .filter(rating_scheme::Column::Status.eq(PUBLISHED))
        .filter(
            Condition::any()
                .add(rating_scheme::Column::RegionId.is_null())
                .add(rating_scheme::Column::RegionId.is_in(ids_on(path))),
        )
        .one(db)
        .await?
        .ok_or_else(|| AppError::invalid("scheme_id", "not_applicable", "该评估标准未发布或不适用于该组织所在地区"))?;
    view(m)
}

/// The region ids on a path (`/1/6/11/` → 1, 6, 11).
pub fn ids_on(path: &str) -> Vec<i64> {
    path.split('/').filter_map(|s| s.parse().ok()).collect()
}
