//! Roles and what their scope means.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Resident,
    OrgStaff,
    OrgLeader,
    Committee,
    Street,
    CivilAffairs,
    SystemAdmin,
}

/// What kind of thing a role's `scope_id` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeKind {
    /// No scope (everyone, or everything).
    None,
    Organization,
    /// A region at one of these levels.
    Region(&'static [&'static str]),
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Resident,
        Role::OrgStaff,
        Role::OrgLeader,
        Role::Committee,
        Role::Street,
        Role::CivilAffairs,
        Role::SystemAdmin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Resident => "resident",
            Role::OrgStaff => "org_staff",
            Role::OrgLeader => "org_leader",
            Role::Committee => "committee",
            Role::Street => "street",
            Role::CivilAffairs => "civil_affairs",
            Role::SystemAdmin => "system_admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn scope_kind(self) -> ScopeKind {
        match self {
            Role::Resident | Role::SystemAdmin => ScopeKind::None,
            Role::OrgStaff | Role::OrgLeader => ScopeKind::Organization,
            Role::Committee => ScopeKind::Region(&["community"]),
            Role::Street => ScopeKind::Region(&["street"]),
            Role::CivilAffairs => ScopeKind::Region(&["county", "city", "province"]),
        }
    }

    /// Rank among the region roles: a region admin may grant roles of its own rank or
    /// below, inside its subtree.
    pub fn region_rank(self) -> Option<u8> {
        match self {
            Role::Committee => Some(1),
            Role::Street => Some(2),
            Role::CivilAffairs => Some(3),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn scopes_match_levels() {
        assert_eq!(Role::Committee.scope_kind(), ScopeKind::Region(&["community"]));
        assert_eq!(Role::OrgStaff.scope_kind(), ScopeKind::Organization);
        assert_eq!(Role::SystemAdmin.scope_kind(), ScopeKind::None);
    }
}
