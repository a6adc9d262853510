//! Roles and what their scope means.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Resident,
    OrgStaff,
    OrgLeader,
    /// Staff of a hub organization (枢纽型组织): reads the figures, annual reports and
    /// projects of the hub's member organizations, and runs the incubation base entrusted
    /// to the hub. Scope: the hub organization.
    HubStaff,
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
    pub const ALL: [Role; 8] = [
        Role::Resident,
        Role::OrgStaff,
        Role::OrgLeader,
        Role::HubStaff,
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
            Role::HubStaff => "hub_staff",
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
            Role::OrgStaff | Role::OrgLeader | Role::HubStaff => ScopeKind::Organization,
            Role::Committee => ScopeKind::Region(&["community"]),
            Role::Street => ScopeKind::Region(&["street"]),
            Role::CivilAffairs => ScopeKind::Region(&["county", "city", "province"]),
        }
    }

    /// Rank among the region roles (committee 1, street 2, civil affairs 3); `None` for
    /// the others. Who grants what is [`GRANT_RULES`], not this.
    pub fn region_rank(self) -> Option<u8> {
        match self {
            Role::Committee => Some(1),
            Role::Street => Some(2),
            Role::CivilAffairs => Some(3),
            _ => None,
        }
    }
}

/// How a granter's own grant stands to the scope of the grant being made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reach {
    /// The granter needs no scope (a system admin).
    Everywhere,
    /// The granter's region covers the scope: a region in its subtree, or an
    /// organization whose community lies in it (but not as its filing office).
    Covers,
    /// The granter is the organization's filing office: the street over a filed
    /// organization, civil affairs over a registered one.
    FilingOffice,
    /// The granter holds a role in the same organization.
    SameOrganization,
}

/// Where a grant is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    /// `POST /admin/role-grants` (and `DELETE`): region roles and system admins.
    GrantsEndpoint,
    /// The organization's own paths: filing makes the applicant leader, the leader adds
    /// staff and hands leadership over, the filing office appoints a leader to an
    /// organization that has none (with a reason, and a notice to the organization).
    Organization,
}

/// One row: `granter` holding a grant that `reach`es the scope may grant `granted`
/// through `channel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrantRule {
    pub granted: Role,
    pub granter: Role,
    pub reach: Reach,
    pub channel: Channel,
}

const fn rule(granted: Role, granter: Role, reach: Reach, channel: Channel) -> GrantRule {
    GrantRule { granted, granter, reach, channel }
}

/// Who may grant which role over which scope, and where: the one table every path that
/// creates or removes a grant asks. What is not here is refused. `resident` is never
/// granted (everyone holds it); organization roles never go through the grants
/// endpoint. The `grant-role` CLI bootstraps without it (whoever runs it holds the
/// database).
pub const GRANT_RULES: &[GrantRule] = {
    use Channel::*;
    use Reach::*;
    use Role::*;
    &[
        rule(SystemAdmin, SystemAdmin, Everywhere, GrantsEndpoint),
        rule(CivilAffairs, SystemAdmin, Everywhere, GrantsEndpoint),
        rule(CivilAffairs, CivilAffairs, Covers, GrantsEndpoint),
        rule(Street, SystemAdmin, Everywhere, GrantsEndpoint),
        rule(Street, CivilAffairs, Covers, GrantsEndpoint),
        rule(Street, Street, Covers, GrantsEndpoint),
        rule(Committee, SystemAdmin, Everywhere, GrantsEndpoint),
        rule(Committee, CivilAffairs, Covers, GrantsEndpoint),
        rule(Committee, Street, Covers, GrantsEndpoint),
        // Committee staff add and remove their own colleagues (issue 19: "committee and
        // street staff grant and revoke roles within their scope"), as street and civil
        // affairs staff do theirs.
        rule(Committee, Committee, Covers, GrantsEndpoint),
        rule(OrgLeader, SystemAdmin, Everywhere, Organization),
        rule(OrgLeader, CivilAffairs, FilingOffice, Organization),
        rule(OrgLeader, Street, FilingOffice, Organization),
        rule(OrgLeader, OrgLeader, SameOrganization, Organization),
        rule(OrgStaff, SystemAdmin, Everywhere, Organization),
        rule(OrgStaff, OrgLeader, SameOrganization, Organization),
        rule(HubStaff, SystemAdmin, Everywhere, Organization),
        rule(HubStaff, OrgLeader, SameOrganization, Organization),
    ]
};

/// The roles `granter` may grant through `POST /admin/role-grants` inside its own scope,
/// in [`Role::ALL`] order: what the console's grant form offers. Empty for a role that
/// administers nothing there.
pub fn grantable_inside(granter: Role) -> Vec<Role> {
    Role::ALL
        .into_iter()
        .filter(|&granted| may_grant(granted, granter, Reach::Covers, Channel::GrantsEndpoint))
        .collect()
}

/// Whether the table has the row.
pub fn may_grant(granted: Role, granter: Role, reach: Reach, channel: Channel) -> bool {
    GRANT_RULES.contains(&rule(granted, granter, reach, channel))
}

impl Reach {
    fn describe(self) -> &'static str {
        match self {
            Reach::Everywhere => "anywhere",
            Reach::Covers => "inside its scope",
            Reach::FilingOffice => "as the filing office",
            Reach::SameOrganization => "in its organization",
        }
    }
}

impl Channel {
    fn describe(self) -> &'static str {
        match self {
            Channel::GrantsEndpoint => "`POST /admin/role-grants`",
            Channel::Organization => "the organization's paths",
        }
    }
}

/// The "who grants it" column of the README's roles table, written from the table.
pub fn granted_by(role: Role) -> String {
    let rows: Vec<String> = GRANT_RULES
        .iter()
        .filter(|r| r.granted == role)
        .map(|r| format!("`{}` {}, via {}", r.granter.as_str(), r.reach.describe(), r.channel.describe()))
        .collect();
    if rows.is_empty() { "nobody (everyone holds it)".to_owned() } else { rows.join("; ") }
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

    #[test]
    fn the_grant_table_row_by_row() {
        use Channel::*;
        use Reach::*;
        use Role::*;
        let reaches = [Everywhere, Covers, FilingOffice, SameOrganization];
        // Every combination, against what the policy says.
        for granted in Role::ALL {
            for granter in Role::ALL {
                for reach in reaches {
                    for channel in [GrantsEndpoint, Organization] {
                        let expected = match (granted, granter, reach, channel) {
                            (Resident, ..) => false,
                            (_, SystemAdmin, Everywhere, GrantsEndpoint) => {
                                !matches!(granted, OrgLeader | OrgStaff | HubStaff)
                            }
                            (_, SystemAdmin, Everywhere, Organization) => {
                                matches!(granted, OrgLeader | OrgStaff | HubStaff)
                            }
                            (SystemAdmin, ..) => false,
                            (CivilAffairs, CivilAffairs, Covers, GrantsEndpoint) => true,
                            (Street, CivilAffairs | Street, Covers, GrantsEndpoint) => true,
                            (Committee, CivilAffairs | Street | Committee, Covers, GrantsEndpoint) => true,
                            (OrgLeader, CivilAffairs | Street, FilingOffice, Organization) => true,
                            (OrgLeader | OrgStaff | HubStaff, OrgLeader, SameOrganization, Organization) => true,
                            _ => false,
                        };
                        assert_eq!(
                            may_grant(granted, granter, reach, channel),
                            expected,
                            "{granted:?} by {granter:?} {reach:?} via {channel:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn organization_roles_never_go_through_the_grants_endpoint() {
        for granter in Role::ALL {
            for reach in [Reach::Everywhere, Reach::Covers, Reach::FilingOffice, Reach::SameOrganization] {
                assert!(!may_grant(Role::OrgLeader, granter, reach, Channel::GrantsEndpoint));
                assert!(!may_grant(Role::OrgStaff, granter, reach, Channel::GrantsEndpoint));
                assert!(!may_grant(Role::HubStaff, granter, reach, Channel::GrantsEndpoint));
            }
        }
        // Staff and hub staff grant nothing; a committee only its own colleagues.
        assert!(GRANT_RULES.iter().all(|r| !matches!(r.granter, Role::OrgStaff | Role::HubStaff | Role::Resident)));
        assert!(GRANT_RULES.iter().filter(|r| r.granter == Role::Committee).all(|r| r.granted == Role::Committee));
    }

    #[test]
    fn each_office_is_offered_what_it_may_grant_inside_its_scope() {
        use Role::*;
        assert_eq!(grantable_inside(Committee), vec![Committee]);
        assert_eq!(grantable_inside(Street), vec![Committee, Street]);
        assert_eq!(grantable_inside(CivilAffairs), vec![Committee, Street, CivilAffairs]);
        assert!(grantable_inside(OrgLeader).is_empty());
        assert!(grantable_inside(Resident).is_empty());
    }

    /// The README's roles table is checked against the grant table: each role's
    /// "granted by" cell is the one `granted_by` writes.
    #[test]
    fn the_readme_roles_table_agrees_with_the_grant_table() {
        let readme = include_str!("../../../README.md");
        for role in Role::ALL {
            let cell = format!("| {} |", granted_by(role));
            let row = readme
                .lines()
                .find(|l| l.starts_with(&format!("| `{}` |", role.as_str())))
                .unwrap_or_else(|| panic!("README has no roles row for {}", role.as_str()));
            assert!(row.ends_with(&cell), "README row for {} should end with\n{cell}\nbut is\n{row}", role.as_str());
        }
    }
}
