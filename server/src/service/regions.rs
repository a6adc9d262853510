//! The administrative region tree: province → city → county → street → community.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::{
    entity::region,
    error::{AppError, AppResult},
};

pub async fn get(db: &impl ConnectionTrait, id: i64) -> AppResult<region::Model> {
    region::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("region"))
}

/// Current children of `parent_id` (the roots when `None`), by id, after `after_id`, at
/// most `limit + 1` rows so the caller can tell whether there is a next page. Retired
/// regions are left out (they stay reachable by id).
pub async fn children(
    db: &impl ConnectionTrait,
    parent_id: Option<i64>,
    after_id: Option<i64>,
    limit: u64,
) -> AppResult<Vec<region::Model>> {
    let mut query = region::Entity::find();
    query = match parent_id {
        Some(parent) => {
            get(db, parent).await?;
            query.filter(region::Column::ParentId.eq(parent))
        }
        None => query.filter(region::Column::ParentId.is_null()),
    };
    query = query.filter(region::Column::RetiredAt.is_null());
    if let Some(after) = after_id {
        query = query.filter(region::Column::Id.gt(after));
    }
    Ok(query.order_by_asc(region::Column::Id).limit(limit + 1).all(db).await?)
}

/// New records (a filing, a home community) go to current regions only: a retired one
/// (撤销, gone from the National Bureau's codes) is a validation error on `field`.
pub fn require_current(r: &region::Model, field: &str) -> AppResult<()> {
    match r.retired_at {
        None => Ok(()),
        Some(_) => Err(AppError::invalid(field, "region_retired", "该区划已撤销，请选择现行的社区或村")),
    }
}

/// The ancestors of a region, from the root down, not including itself.
pub async fn ancestors(db: &impl ConnectionTrait, region: &region::Model) -> AppResult<Vec<region::Model>> {
    let ids = path_ids(&region.path).into_iter().filter(|id| *id != region.id).collect::<Vec<_>>();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut rows = region::Entity::find().filter(region::Column::Id.is_in(ids.clone())).all(db).await?;
    rows.sort_by_key(|r| ids.iter().position(|id| *id == r.id));
    Ok(rows)
}

/// The ids along a materialised path, root first.
pub fn path_ids(path: &str) -> Vec<i64> {
    path.split('/').filter_map(|s| s.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_ids() {
        assert_eq!(path_ids("/1/20/300/"), vec![1, 20, 300]);
        assert!(path_ids("/").is_empty());
    }
}
