//! Rules of the web console (网页控制台): how long a sign-in ticket lives, who may use
//! the console and at which level, what the phone is shown about the asking browser,
//! and the digest of a user's grants whose change ends their console sessions.

use chrono::Duration;
use sha2::{Digest, Sha256};

use crate::{auth::Grant, domain::role::Role};

/// A sign-in ticket (扫码登录) is good for 2 minutes from when its QR code is shown.
pub const TICKET_TTL_SECS: i64 = 120;

/// [`TICKET_TTL_SECS`] as a duration.
pub fn ticket_ttl() -> Duration {
    Duration::seconds(TICKET_TTL_SECS)
}

/// The mini-program page the QR code opens, with `?ticket=` appended. The page shows the
/// ticket's browser, place and time (`GET /api/v1/console/tickets/{ticket}`) and, on a
/// tap, approves it (`POST /api/v1/console/tickets/{ticket}/approve`).
pub const APPROVE_PAGE: &str = "pages/console/approve";

/// The level the console works at for a user: one region role they hold, with its region
/// id. Someone holding several (a committee member who also staffs the street office)
/// chooses among them ([`Seat::all`]); the first (a committee before a street office
/// before civil affairs) until they do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seat {
    pub role: Role,
    pub region_id: i64,
}

impl Seat {
    /// Who may use the console: a committee (居委会/村委会), a street office (街道/乡镇)
    /// or civil affairs (民政). Others (residents, organization staff, a system admin
    /// without a region) get `None` and are refused each page.
    pub fn of(grants: &[Grant]) -> Option<Seat> {
        Self::all(grants).into_iter().next()
    }

    /// Every seat the grants give, committee seats first, then street, then civil affairs.
    pub fn all(grants: &[Grant]) -> Vec<Seat> {
        [Role::Committee, Role::Street, Role::CivilAffairs]
            .into_iter()
            .flat_map(|role| {
                grants.iter().filter(move |g| g.role == role).filter_map(move |g| g.scope_id.map(|r| (role, r)))
            })
            .map(|(role, region_id)| Seat { role, region_id })
            .collect()
    }

    /// The seat named `role:region_id` (a form's or cookie's value) when the grants give
    /// it; otherwise the first ([`Seat::of`]).
    pub fn chosen(grants: &[Grant], wanted: Option<&str>) -> Option<Seat> {
        wanted.and_then(|w| Self::all(grants).into_iter().find(|s| s.value() == w)).or_else(|| Self::of(grants))
    }

    /// The grants a console request acts with in this seat: the seat's own region role,
    /// not the user's other offices (so the queue, the grants page and every decision are
    /// this office's), and their roles that are not offices' (a leader stays a leader).
    pub fn narrow(self, grants: &mut Vec<Grant>) {
        let office = |r: Role| matches!(r, Role::Committee | Role::Street | Role::CivilAffairs);
        grants.retain(|g| !office(g.role) || (g.role == self.role && g.scope_id == Some(self.region_id)));
    }

    /// `role:region_id`, as a form and the seat cookie carry it.
    pub fn value(self) -> String {
        format!("{}:{}", self.role.as_str(), self.region_id)
    }

    /// The role in Chinese, for the page header.
    pub fn label(self) -> &'static str {
        match self.role {
            Role::Committee => "社区居委会",
            Role::Street => "街道办事处",
            _ => "民政部门",
        }
    }

    /// A street office or civil affairs sees its communities side by side; a committee
    /// sees its own community.
    pub fn may_see_communities_side_by_side(self) -> bool {
        self.role != Role::Committee
    }
}

/// SHA-256 (hex) of a user's grants, order-free: when it changes (a role granted or
/// revoked), the user's console sessions end.
pub fn grants_digest(grants: &[Grant]) -> String {
    let mut lines: Vec<String> =
        grants.iter().map(|g| format!("{}:{}", g.role.as_str(), g.scope_id.unwrap_or(-1))).collect();
    lines.sort();
    lines.dedup();
    hex::encode(Sha256::digest(lines.join(",").as_bytes()))
}

/// A short summary of a `User-Agent` for the phone: browser and system, e.g.
/// `Chrome 131 · Windows`. Unknown parts are left out; an empty header gives `未知浏览器`.
pub fn browser_summary(user_agent: &str) -> String {
    let version = |marker: &str| {
        user_agent.split(marker).nth(1).map(|rest| rest.chars().take_while(|c| c.is_ascii_digit()).collect::<String>())
    };
    let browser = [("Edg/", "Edge"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Version/", "Safari")]
        .into_iter()
        .find_map(|(marker, name)| {
            version(marker).map(|v| if v.is_empty() { name.to_owned() } else { format!("{name} {v}") })
        });
    let system =
        [("Windows", "Windows"), ("Mac OS X", "macOS"), ("Android", "Android"), ("Linux", "Linux"), ("iPhone", "iOS")]
            .into_iter()
            .find_map(|(marker, name)| user_agent.contains(marker).then_some(name));
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} · {s}"),
        (Some(b), None) => b,
        (None, Some(s)) => format!("浏览器 · {s}"),
        (None, None) => "未知浏览器".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_are_summarised() {
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        assert_eq!(browser_summary(chrome), "Chrome 131 · Windows");
        let edge = "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/131.0 Safari/537.36 Edg/131.0.2903.86";
        assert_eq!(browser_summary(edge), "Edge 131 · Windows");
        assert_eq!(
            browser_summary("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
            "Firefox 128 · Linux"
        );
        assert_eq!(browser_summary(""), "未知浏览器");
    }

    #[test]
    fn the_seat_is_the_first_region_role() {
        let g = |role, scope_id| Grant { role, scope_id: Some(scope_id) };
        assert_eq!(Seat::of(&[g(Role::OrgLeader, 9)]), None);
        assert_eq!(
            Seat::of(&[g(Role::Street, 2), g(Role::Committee, 3)]),
            Some(Seat { role: Role::Committee, region_id: 3 })
        );
        assert_eq!(Seat::of(&[g(Role::CivilAffairs, 1)]).map(|s| s.role), Some(Role::CivilAffairs));
    }

    #[test]
    fn the_digest_ignores_order_and_sees_changes() {
        let a = Grant { role: Role::Committee, scope_id: Some(3) };
        let b = Grant { role: Role::OrgLeader, scope_id: Some(7) };
        assert_eq!(grants_digest(&[a, b]), grants_digest(&[b, a]));
        assert_ne!(grants_digest(&[a]), grants_digest(&[a, b]));
    }
}
