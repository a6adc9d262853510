//! Hub organizations (枢纽型社区社会组织): a federation (联合会) or service centre
//! (服务中心) marked as the hub of a street or community, and its memberships.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

string_enum! {
    /// What kind of hub: a federation of the street's organizations (社区社会组织联合会)
    /// or a service centre (社区社会组织服务中心).
    HubKind {
        Federation = "federation",
        ServiceCentre = "service_centre",
    }
}

string_enum! {
    /// Where a membership stands: `requested` by the member's leader, then `active`
    /// (accepted by the hub's leader) or `declined`; an active member `left` (by its own
    /// leader, or removed by the hub's). Declined and left are final: a new request is a
    /// new membership.
    MembershipStatus {
        Requested = "requested",
        Active = "active",
        Declined = "declined",
        Left = "left",
    }
}

/// What is done to a membership.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MembershipAction {
    Accept,
    Decline,
    Leave,
}

impl MembershipAction {
    /// The one table of membership moves: the status after `self` from `status`, or
    /// `None` when it does not apply.
    pub fn next(self, status: MembershipStatus) -> Option<MembershipStatus> {
        use MembershipAction::*;
        use MembershipStatus::*;
        match (status, self) {
            (Requested, Accept) => Some(Active),
            (Requested, Decline) => Some(Declined),
            (Active, Leave) => Some(Left),
            _ => None,
        }
    }

    /// Whether a reason must be given (the policy asks that a refusal or a removal say why).
    pub fn needs_reason(self) -> bool {
        !matches!(self, MembershipAction::Accept)
    }
}

/// The region levels a hub may be the hub of.
pub const HUB_LEVELS: [&str; 2] = ["street", "community"];

/// A membership that counts: requested or active (one such per hub and organization).
pub fn is_open(status: MembershipStatus) -> bool {
    matches!(status, MembershipStatus::Requested | MembershipStatus::Active)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_membership_table_row_by_row() {
        use MembershipAction::*;
        use MembershipStatus::*;
        for status in MembershipStatus::ALL {
            for action in [Accept, Decline, Leave] {
                let expected = match (*status, action) {
                    (Requested, Accept) => Some(Active),
                    (Requested, Decline) => Some(Declined),
                    (Active, Leave) => Some(Left),
                    _ => None,
                };
                assert_eq!(action.next(*status), expected, "{status:?} {action:?}");
            }
        }
    }

    #[test]
    fn refusals_and_removals_need_a_reason() {
        assert!(!MembershipAction::Accept.needs_reason());
        assert!(MembershipAction::Decline.needs_reason());
        assert!(MembershipAction::Leave.needs_reason());
    }

    #[test]
    fn open_memberships() {
        assert!(is_open(MembershipStatus::Requested) && is_open(MembershipStatus::Active));
        assert!(!is_open(MembershipStatus::Declined) && !is_open(MembershipStatus::Left));
    }
}
