//! Where an organization sits in the region tree, for scope checks. Organizations
//! arrive with their own capability; until then no organization exists.

use sea_orm::{ConnectionTrait, sea_query::SelectStatement};

use crate::error::AppResult;

/// The path of the organization's home community, if the organization exists.
pub async fn community_path(_db: &impl ConnectionTrait, _organization_id: i64) -> AppResult<Option<String>> {
    Ok(None)
}

/// A subquery of the ids of organizations whose community lies under one of `paths`.
pub fn organizations_in(_paths: &[String]) -> Option<SelectStatement> {
    None
}
