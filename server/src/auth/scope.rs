//! Named permission checks. Each use case calls one at its top; a scope covers its
//! whole region subtree, and a system admin passes every check.

use sea_orm::{ConnectionTrait, EntityTrait};

use crate::{
    auth::AuthUser,
    domain::role::{Channel, GRANT_RULES, Reach, Role, may_grant},
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
    /// An organization, with the path of its home community and the role of its filing
    /// office (`street` while filed, `civil_affairs` once registered).
    Organization {
        id: i64,
        community_path: String,
        filing_office: Role,
    },
}

/// How one of the caller's grants reaches `scope`, if at all.
fn reach(grant: &crate::auth::Grant, scope: &ResolvedScope) -> Option<Reach> {
    let covers = |path: &str| grant.scope_id.is_some_and(|s| path_covers(path, s));
    match (grant.role, scope) {
        (Role::SystemAdmin, _) => Some(Reach::Everywhere),
        (Role::Resident, _) | (_, ResolvedScope::Global) => None,
        (Role::OrgLeader | Role::OrgStaff | Role::HubStaff, ResolvedScope::Organization { id, .. }) => {
            (grant.scope_id == Some(*id)).then_some(Reach::SameOrganization)
        }
        (Role::OrgLeader | Role::OrgStaff | Role::HubStaff, ResolvedScope::Region { .. }) => None,
        (_, ResolvedScope::Region { path }) => covers(path).then_some(Reach::Covers),
        (role, ResolvedScope::Organization { community_path, filing_office, .. }) => {
            covers(community_path).then_some(if role == *filing_office { Reach::FilingOffice } else { Reach::Covers })
        }
    }
}

/// May `user` grant (or remove) `role` on `scope` through `channel`? Asks the one table,
/// `domain::role::GRANT_RULES`, with each of the caller's grants.
pub fn require_may_grant(user: &AuthUser, role: Role, scope: &ResolvedScope, channel: Channel) -> AppResult<()> {
    if user.grants.iter().any(|g| reach(g, scope).is_some_and(|r| may_grant(role, g.role, r, channel))) {
        return Ok(());
    }
    // A granter of this role elsewhere is told it is outside their scope.
    let elsewhere = user
        .grants
        .iter()
        .any(|g| GRANT_RULES.iter().any(|r| r.granted == role && r.granter == g.role && r.channel == channel));
    Err(AppError::Forbidden(if elsewhere { "outside your scope" } else { "cannot grant this role" }))
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

    fn org(id: i64, filing_office: Role) -> ResolvedScope {
        ResolvedScope::Organization { id, community_path: "/1/5/9/".into(), filing_office }
    }

    const ENDPOINT: Channel = Channel::GrantsEndpoint;
    const ORG: Channel = Channel::Organization;

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
        assert!(require_may_grant(&street, Role::Committee, &region("/1/5/9/"), ENDPOINT).is_ok());
        assert!(require_may_grant(&street, Role::Committee, &region("/1/6/9/"), ENDPOINT).is_err());
        assert!(require_may_grant(&street, Role::CivilAffairs, &region("/1/5/"), ENDPOINT).is_err());
        assert!(require_may_grant(&street, Role::SystemAdmin, &ResolvedScope::Global, ENDPOINT).is_err());
    }

    #[test]
    fn a_committee_adds_colleagues_to_its_own_community_only() {
        let committee = user(&[(Role::Committee, Some(9))]);
        assert!(require_may_grant(&committee, Role::Committee, &region("/1/5/9/"), ENDPOINT).is_ok());
        assert!(require_may_grant(&committee, Role::Committee, &region("/1/5/8/"), ENDPOINT).is_err());
        assert!(require_may_grant(&committee, Role::Street, &region("/1/5/"), ENDPOINT).is_err());
    }

    #[test]
    fn officials_do_not_appoint_organization_roles_through_the_grants_endpoint() {
        for official in [Role::Committee, Role::Street, Role::CivilAffairs, Role::SystemAdmin] {
            let u = user(&[(official, Some(5))]);
            for role in [Role::OrgLeader, Role::OrgStaff] {
                assert!(require_may_grant(&u, role, &org(42, Role::Street), ENDPOINT).is_err(), "{official:?}");
            }
        }
    }

    #[test]
    fn leaders_grant_staff_and_hand_over_in_their_own_organization() {
        let leader = user(&[(Role::OrgLeader, Some(42))]);
        assert!(require_may_grant(&leader, Role::OrgStaff, &org(42, Role::Street), ORG).is_ok());
        assert!(require_may_grant(&leader, Role::OrgLeader, &org(42, Role::Street), ORG).is_ok());
        assert!(require_may_grant(&leader, Role::OrgStaff, &org(43, Role::Street), ORG).is_err());
        let staff = user(&[(Role::OrgStaff, Some(42))]);
        assert!(require_may_grant(&staff, Role::OrgStaff, &org(42, Role::Street), ORG).is_err());
    }

    #[test]
    fn only_the_filing_office_appoints_a_leader() {
        let street = user(&[(Role::Street, Some(5))]);
        let civil = user(&[(Role::CivilAffairs, Some(1))]);
        let committee = user(&[(Role::Committee, Some(9))]);
        assert!(require_may_grant(&street, Role::OrgLeader, &org(42, Role::Street), ORG).is_ok());
        assert!(require_may_grant(&civil, Role::OrgLeader, &org(42, Role::Street), ORG).is_err());
        assert!(require_may_grant(&civil, Role::OrgLeader, &org(42, Role::CivilAffairs), ORG).is_ok());
        assert!(require_may_grant(&street, Role::OrgLeader, &org(42, Role::CivilAffairs), ORG).is_err());
        assert!(require_may_grant(&committee, Role::OrgLeader, &org(42, Role::Street), ORG).is_err());
        // Another street is not the filing office.
        let other = user(&[(Role::Street, Some(6))]);
        assert!(require_may_grant(&other, Role::OrgLeader, &org(42, Role::Street), ORG).is_err());
        // Nor do they add staff.
        assert!(require_may_grant(&street, Role::OrgStaff, &org(42, Role::Street), ORG).is_err());
    }

    #[test]
    fn system_admin_passes() {
        let admin = user(&[(Role::SystemAdmin, None)]);
        assert!(require_may_grant(&admin, Role::SystemAdmin, &ResolvedScope::Global, ENDPOINT).is_ok());
        assert!(holds_region_role(&admin, &[Role::Committee], "/1/"));
    }
}
