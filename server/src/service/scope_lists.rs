//! Lists over an official's scope that the API has no endpoint for yet, for the web
//! console: activities held for the committee's text review (待审核活动), the scope's
//! activities in a window (a calendar), and each organization's last activity. Each
//! starts with the permission check the API uses for the same region
//! (`require_region_official`, or the committee's over a held activity).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait},
};

use crate::{
    auth::{
        AuthUser,
        scope::{region_path, require_region_official},
    },
    context::AppContext,
    domain::{activity::ActivityStatus, role::Role},
    entity::{activity, activity_stat},
    error::{AppError, AppResult},
    service::organization_scope::regions_under,
};

/// Activities WeChat's text check held that wait for the caller as committee (the same
/// rows `work_queue` counts as `Moderation`), oldest first, at most 200.
pub async fn held_for_review(ctx: &AppContext, user: &AuthUser) -> AppResult<Vec<activity::Model>> {
    let scopes: Vec<i64> = user.grants_of(Role::Committee).filter_map(|g| g.scope_id).collect();
    if scopes.is_empty() && !user.is_system_admin() {
        return Err(AppError::Forbidden("requires a region role"));
    }
    let mut query = activity::Entity::find()
        .filter(activity::Column::Status.eq(ActivityStatus::Held.as_str()))
        .filter(activity::Column::ReviewPending.eq(true));
    if !user.is_system_admin() {
        let mut paths = Vec::new();
        for s in scopes {
            paths.push(region_path(&ctx.db, s).await?);
        }
        query = query.filter(activity::Column::CommunityId.in_subquery(regions_under(&paths)));
    }
    Ok(query.order_by_asc(activity::Column::Id).limit(200).all(&ctx.db).await?)
}

/// An activity on the calendar, with its organization's name.
#[derive(Clone, Debug)]
pub struct CalendarItem {
    pub activity: activity::Model,
    pub organization_name: String,
    /// People checked in, once the activity closed (its rollup); `None` before.
    pub attended: Option<i32>,
}

/// The activities in region `region_id` starting in `[from, to)` that residents could see
/// or saw (published or finished; not drafts, held or cancelled ones), soonest
/// first, at most 500. For officials over the region, as its figures are.
pub async fn calendar(
    ctx: &AppContext,
    user: &AuthUser,
    region_id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> AppResult<Vec<CalendarItem>> {
    require_region_official(&ctx.db, user, region_id).await?;
    let path = region_path(&ctx.db, region_id).await?;
    let shown = [ActivityStatus::Published, ActivityStatus::Finished].map(|s| s.as_str());
    let rows = activity::Entity::find()
        .filter(activity::Column::Status.is_in(shown))
        .filter(activity::Column::CommunityId.in_subquery(regions_under(&[path])))
        .filter(activity::Column::StartsAt.gte(from))
        .filter(activity::Column::StartsAt.lt(to))
        .order_by_asc(activity::Column::StartsAt)
        .order_by_asc(activity::Column::Id)
        .limit(500)
        .all(&ctx.db)
        .await?;
    let org_ids: Vec<i64> = rows.iter().map(|a| a.organization_id).collect();
    let names = crate::service::activities::organization_names(&ctx.db, org_ids).await?;
    let ids: Vec<i64> = rows.iter().map(|a| a.id).collect();
    let attended: HashMap<i64, i32> = activity_stat::Entity::find()
        .filter(activity_stat::Column::ActivityId.is_in(ids))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|s| (s.activity_id, s.attended))
        .collect();
    Ok(rows
        .into_iter()
        .map(|a| CalendarItem {
            organization_name: names.get(&a.organization_id).cloned().unwrap_or_default(),
            attended: attended.get(&a.id).copied(),
            activity: a,
        })
        .collect())
}

/// When each of `org_ids` last held an activity (from the closing rollups), UTC.
pub async fn last_activity(ctx: &AppContext, org_ids: &[i64]) -> AppResult<HashMap<i64, DateTime<Utc>>> {
    if org_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, Option<DateTime<Utc>>)> = activity_stat::Entity::find()
        .select_only()
        .column(activity_stat::Column::OrganizationId)
        .column_as(Expr::col(activity_stat::Column::StartsAt).max(), "last")
        .filter(activity_stat::Column::OrganizationId.is_in(org_ids.to_vec()))
        .group_by(activity_stat::Column::OrganizationId)
        .into_tuple()
        .all(&ctx.db)
        .await?;
    Ok(rows.into_iter().filter_map(|(id, t)| Some((id, t?))).collect())
}
