//! Named permission checks. Each use case calls one at its top; a scope covers its
//! whole region subtree, and a system admin passes every check.

use sea_orm::{ConnectionTrait, EntityTrait};

use crate::{
    auth::AuthUser,
    domain::role::Role,
    entity::region,
    error::{AppError, AppResult},
};

/// The materialised path of a region, `/1/2/3/`.
pub async fn region_path(db: &impl ConnectionTrait, region_id: i64) -> AppResult<String> {
    region::Entity::find_by_id(region_id).one(db).await?.map(|r| r.path).ok_or(AppError::NotFound("region"))
}

/// Whether the region at `path` lies in the subtree of region `scope_id`.
pub fn path_covers(path: &str, scope_id: i64) -> bool {
    path.contains(&format!("/{scope_id}/"))
}

/// Whether `user` holds one of `roles` with a scope covering the region at `path`.
pub fn holds_region_role(user: &AuthUser, roles: &[Role], path: &str) -> bool {
    user.is_system_admin()
        || user.grants.iter().any(|g| roles.contains(&g.role) && g.scope_id.is_some_and(|s| path_covers(path, s)))
}

/// The caller is a committee, street or civil-affairs official over `region_id`.
pub async fn require_region_official(db: &impl ConnectionTrait, user: &AuthUser, region_id: i64) -> AppResult<()> {
    let path = region_path(db, region_id).await?;
    if holds_region_role(user, &[Role::Committee, Role::Street, Role::CivilAffairs], &path) {
        Ok(())
    } else if user.grants.iter().any(|g| g.role.region_rank().is_some()) {
        Err(AppError::Forbidden("outside your scope"))
    } else {
        Err(AppError::Forbidden("requires a region role"))
    }
}

/// What a grant's scope resolved to.
#[derive(Clone, Debug)]
pub enum ResolvedScope {
    Global,
    Region {
        path: String,
    },
    /// An organization, with the path of its home community.
    Organization {
        id: i64,
        community_path: String,
    },
}

/// May `user` grant (or revoke) `role` on `scope`?
///
/// - `system_admin` may grant anything; only a system admin grants `system_admin`.
/// - A street may grant `committee` and `street`, civil affairs any region role, each only
///   on regions inside their own scope.
/// - Organization roles: any region official over the organization's community, or the
///   organization's own leader for `org_staff`.
pub fn require_grant_admin(user: &AuthUser, role: Role, scope: &ResolvedScope) -> AppResult<()> {
    if user.is_system_admin() {
        return Ok(());
    }
    match (role, scope) {
        (Role::SystemAdmin | Role::Resident, _) | (_, ResolvedScope::Global) => {
            Err(AppError::Forbidden("cannot grant this role"))
        }
        (_, ResolvedScope::Region { path }) => {
            let target = role.region_rank().unwrap_or(u8::MAX);
            let mut any_admin = false;
            for g in &user.grants {
                if !g.role.region_rank().is_some_and(|r| r >= 2 && r >= target) {
                    continue;
                }
                any_admin = true;
                if g.scope_id.is_some_and(|s| path_covers(path, s)) {
                    return Ok(());
                }
            }
            Err(AppError::Forbidden(if any_admin { "outside your scope" } else { "cannot grant this role" }))
        }
        (_, ResolvedScope::Organization { id, community_path }) => {
            let official =
                holds_region_role(user, &[Role::Committee, Role::Street, Role::CivilAffairs], community_path);
            let leader = role == Role::OrgStaff && user.grants_of(Role::OrgLeader).any(|g| g.scope_id == Some(*id));
            if official || leader { Ok(()) } else { Err(AppError::Forbidden("cannot grant this role")) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Grant;

    fn user(grants: &[(Role, Option<i64>)]) -> AuthUser {
        AuthUser {
            id: 1,
            home_community_id: None,
            grants: grants.iter().map(|(role, scope_id)| Grant { role: *role, scope_id: *scope_id }).collect(),
        }
    }

    fn region(path: &str) -> ResolvedScope {
        ResolvedScope::Region { path: path.into() }
    }

    #[test]
    fn a_scope_covers_its_subtree_only() {
        assert!(path_covers("/1/2/3/", 2));
        assert!(path_covers("/1/2/3/", 3));
        assert!(!path_covers("/1/2/3/", 4));
        assert!(!path_covers("/1/22/3/", 2));
    }

    #[test]
    fn street_grants_committee_inside_its_street() {
        let street = user(&[(Role::Street, Some(5))]);
        assert!(require_grant_admin(&street, Role::Committee, &region("/1/5/9/")).is_ok());
        assert!(require_grant_admin(&street, Role::Committee, &region("/1/6/9/")).is_err());
        assert!(require_grant_admin(&street, Role::CivilAffairs, &region("/1/5/")).is_err());
        assert!(require_grant_admin(&street, Role::SystemAdmin, &ResolvedScope::Global).is_err());
    }

    #[test]
    fn committee_is_not_an_admin_of_region_roles() {
        let committee = user(&[(Role::Committee, Some(9))]);
        assert!(require_grant_admin(&committee, Role::Committee, &region("/1/5/9/")).is_err());
    }

    #[test]
    fn leaders_grant_staff_of_their_own_organization() {
        let leader = user(&[(Role::OrgLeader, Some(42))]);
        let org = |id| ResolvedScope::Organization { id, community_path: "/1/5/9/".into() };
        assert!(require_grant_admin(&leader, Role::OrgStaff, &org(42)).is_ok());
        assert!(require_grant_admin(&leader, Role::OrgStaff, &org(43)).is_err());
        assert!(require_grant_admin(&leader, Role::OrgLeader, &org(42)).is_err());
        let committee = user(&[(Role::Committee, Some(9))]);
        assert!(require_grant_admin(&committee, Role::OrgLeader, &org(42)).is_ok());
    }

    #[test]
    fn system_admin_passes() {
        let admin = user(&[(Role::SystemAdmin, None)]);
        assert!(require_grant_admin(&admin, Role::SystemAdmin, &ResolvedScope::Global).is_ok());
        assert!(holds_region_role(&admin, &[Role::Committee], "/1/"));
    }
}
