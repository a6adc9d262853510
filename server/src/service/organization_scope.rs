//! Where an organization sits in the region tree, for scope checks.

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait,
    sea_query::{Condition, Query, SelectStatement},
};

use crate::{
    entity::{organization, region},
    error::AppResult,
};

/// The path of the organization's home community, if the organization exists.
pub async fn community_path(db: &impl ConnectionTrait, organization_id: i64) -> AppResult<Option<String>> {
    let Some(org) = organization::Entity::find_by_id(organization_id).one(db).await? else {
        return Ok(None);
    };
    Ok(region::Entity::find_by_id(org.community_id).one(db).await?.map(|r| r.path))
}

/// A subquery of the ids of regions under one of `paths` (each `/…/id/`).
pub fn regions_under(paths: &[String]) -> SelectStatement {
    let mut any = Condition::any();
    for path in paths {
        any = any.add(region::Column::Path.starts_with(path.as_str()));
    }
    Query::select().column(region::Column::Id).from(region::Entity).cond_where(any).to_owned()
}

/// A subquery of the ids of organizations whose community lies under one of `paths`.
pub fn organizations_in(paths: &[String]) -> Option<SelectStatement> {
    if paths.is_empty() {
        return None;
    }
    Some(
        organization::Entity::find()
            .select_only()
            .column(organization::Column::Id)
            .filter(organization::Column::CommunityId.in_subquery(regions_under(paths)))
            .into_query(),
    )
}
