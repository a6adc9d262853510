//! Invitations to a role: their codes, how long they last, and their state.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::role::{Channel, Role, ScopeKind};

/// The characters of a code: digits and capitals without the ones people confuse
/// (0/O, 1/I/L) or that spell words (U). 30 symbols; ten of them give 30¹⁰ ≈ 5.9 × 10¹⁴
/// codes (about 49 bits), against at most a few tries a minute (the accept path is rate
/// limited) over a life of at most a week.
pub const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTVWXYZ";
pub const CODE_LEN: usize = 10;

/// Default and longest life of an invitation, in hours.
pub const DEFAULT_TTL_HOURS: i64 = 72;
pub const MAX_TTL_HOURS: i64 = 168;

/// A fresh random code.
pub fn new_code() -> String {
    let mut rng = rand::rng();
    (0..CODE_LEN).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

/// A code as typed: case, spaces and dashes do not matter (`abcde-fghjk`). `None` when
/// it cannot be a code.
pub fn normalise_code(input: &str) -> Option<String> {
    let code: String =
        input.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect();
    (code.len() == CODE_LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// A code as shown to people: two groups of five (`ABCDE-FGHJK`).
pub fn display_code(code: &str) -> String {
    if code.len() == CODE_LEN && code.is_ascii() { format!("{}-{}", &code[..5], &code[5..]) } else { code.to_owned() }
}

/// The roles an invitation may carry: every role someone grants, except the system
/// administrator's (granted on the command line or by another administrator only) and
/// the resident's (everyone holds it), and hub staff's (granted on the hub's own path,
/// `POST /hubs/{id}/staff`, once the organization is a hub).
pub fn invitable(role: Role) -> bool {
    !matches!(role, Role::SystemAdmin | Role::Resident | Role::HubStaff)
}

/// How a role is granted, and so which row of the grant table an invitation asks: an
/// organization's roles on its own paths, the officials' roles on the grants endpoint.
pub fn channel_of(role: Role) -> Channel {
    match role.scope_kind() {
        ScopeKind::Organization => Channel::Organization,
        _ => Channel::GrantsEndpoint,
    }
}

string_enum! {
    /// Where an invitation stands: `active` until it is accepted (once), revoked by who
    /// made it, or expires.
    InvitationState {
        Active = "active",
        Accepted = "accepted",
        Revoked = "revoked",
        Expired = "expired",
    }
}

/// The state of an invitation at `now`. Accepted and revoked are final; an expiry only
/// counts while neither happened.
pub fn state(
    accepted_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> InvitationState {
    if accepted_at.is_some() {
        InvitationState::Accepted
    } else if revoked_at.is_some() {
        InvitationState::Revoked
    } else if now >= expires_at {
        InvitationState::Expired
    } else {
        InvitationState::Active
    }
}

/// The expiry of an invitation made at `now` lasting `hours` (default 72, 1–168).
pub fn expiry(now: DateTime<Utc>, hours: Option<i64>) -> Option<DateTime<Utc>> {
    let hours = hours.unwrap_or(DEFAULT_TTL_HOURS);
    (1..=MAX_TTL_HOURS).contains(&hours).then(|| now + Duration::hours(hours))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_drawn_from_the_alphabet_and_read_back_however_typed() {
        for _ in 0..200 {
            let code = new_code();
            assert_eq!(code.len(), CODE_LEN);
            assert_eq!(normalise_code(&code), Some(code.clone()));
            assert_eq!(normalise_code(&display_code(&code).to_lowercase()), Some(code.clone()));
            assert_eq!(normalise_code(&format!(" {} ", display_code(&code))), Some(code));
        }
        assert_eq!(normalise_code("ABCDE-FGHJ0"), None, "0 is not in the alphabet");
        assert_eq!(normalise_code("ABCDE"), None);
        assert_eq!(normalise_code("ＡＢＣＤＥＦＧＨＪＫ"), None, "full-width letters are not a code");
    }

    #[test]
    fn accepted_and_revoked_are_final_and_expiry_is_bounded() {
        let t = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let later = t + Duration::hours(100);
        assert_eq!(state(None, None, later, t), InvitationState::Active);
        assert_eq!(state(None, None, t, t), InvitationState::Expired);
        assert_eq!(state(Some(t), None, t, later), InvitationState::Accepted);
        assert_eq!(state(None, Some(t), later, t), InvitationState::Revoked);
        assert_eq!(expiry(t, None), Some(t + Duration::hours(72)));
        assert_eq!(expiry(t, Some(0)), None);
        assert_eq!(expiry(t, Some(169)), None);
        assert!(invitable(Role::OrgStaff) && invitable(Role::Committee));
        assert!(!invitable(Role::SystemAdmin) && !invitable(Role::Resident));
        assert_eq!(channel_of(Role::OrgLeader), Channel::Organization);
        assert_eq!(channel_of(Role::Street), Channel::GrantsEndpoint);
    }
}
