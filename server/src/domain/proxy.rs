//! Acting for someone else (issue 18, part 2): offline residents' check-in cards, the
//! rules of a proxy link, the acts recorded on someone's behalf, and how a notice about a
//! principal reads in their proxy's inbox.

use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::domain::invitation::ALPHABET;

/// Characters of a card code: eight from the invitations' alphabet without look-alikes
/// (no 0/O, 1/I/L, U). 30⁸ ≈ 6.6 × 10¹¹ codes against a rate-limited door.
pub const CARD_CODE_LEN: usize = 8;

/// How many live proxies a resident may have unless `MAX_PROXIES` says otherwise.
pub const DEFAULT_MAX_PROXIES: u32 = 3;

/// A fresh random card code (`ABCD2345`).
pub fn new_card_code() -> String {
    let mut rng = rand::rng();
    (0..CARD_CODE_LEN).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

/// A card code as typed at the door: case, spaces and dashes do not matter. `None` when
/// it cannot be one.
pub fn normalise_card_code(input: &str) -> Option<String> {
    let code: String =
        input.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect();
    (code.len() == CARD_CODE_LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// As printed: two groups of four (`ABCD-2345`).
pub fn display_card_code(code: &str) -> String {
    if code.len() == CARD_CODE_LEN && code.is_ascii() {
        format!("{}-{}", &code[..4], &code[4..])
    } else {
        code.to_owned()
    }
}

/// What is stored of a card code: its SHA-256 (hex) — the code is shown once, when issued.
pub fn card_hash(normalised: &str) -> String {
    hex::encode(Sha256::digest(normalised.as_bytes()))
}

/// A year of birth is optional; when given it is 1900 up to `this_year`.
pub fn valid_year_of_birth(year: i32, this_year: i32) -> bool {
    (1900..=this_year).contains(&year)
}

string_enum! {
    /// How a proxy link was authorised: at the committee in person, by a signed form kept
    /// there, or by the principal in the mini-program (their own account).
    Authorisation {
        InPerson = "in_person",
        SignedForm = "signed_form",
        PrincipalConfirmed = "principal_confirmed",
    }
}

string_enum! {
    /// An act recorded on someone's behalf (`proxy_acts.act`).
    ProxyAct {
        Registered = "registered",
        CardIssued = "card_issued",
        CardRevoked = "card_revoked",
        LinkCreated = "link_created",
        LinkRevoked = "link_revoked",
        SignedUp = "signed_up",
        CancelledSignup = "cancelled_signup",
        NoShowWaived = "no_show_waived",
        Claimed = "claimed",
        Erased = "erased",
    }
}

/// What is known about the two people when a link is asked for.
#[derive(Clone, Copy, Debug, Default)]
pub struct LinkFacts {
    pub same_person: bool,
    /// The would-be proxy is an offline resident (they cannot sign in to act).
    pub proxy_offline: bool,
    /// The would-be proxy has live proxies of their own.
    pub proxy_is_principal: bool,
    /// The would-be principal acts for someone else.
    pub principal_is_proxy: bool,
    /// Live proxies the principal has now.
    pub live_proxies: u32,
    pub max_proxies: u32,
}

/// Why a link is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkRefusal {
    OwnProxy,
    ProxyOffline,
    /// A proxy of a proxy: someone with proxies cannot act for others, nor the reverse.
    ProxyOfProxy,
    TooManyProxies,
}

impl LinkRefusal {
    /// `(code, zh-CN detail)`; every refusal is a 409.
    pub fn code(self) -> (&'static str, &'static str) {
        match self {
            LinkRefusal::OwnProxy => ("own_proxy", "不能成为自己的代办人"),
            LinkRefusal::ProxyOffline => ("proxy_offline", "线下登记的居民不能担任代办人"),
            LinkRefusal::ProxyOfProxy => ("proxy_of_proxy", "代办人不能再有代办人，有代办人的居民也不能替他人代办"),
            LinkRefusal::TooManyProxies => ("too_many_proxies", "该居民的代办人已达上限，请先撤销一位"),
        }
    }
}

/// The link rule, in one place (checked in the creating transaction).
pub fn may_link(f: LinkFacts) -> Result<(), LinkRefusal> {
    if f.same_person {
        Err(LinkRefusal::OwnProxy)
    } else if f.proxy_offline {
        Err(LinkRefusal::ProxyOffline)
    } else if f.proxy_is_principal || f.principal_is_proxy {
        Err(LinkRefusal::ProxyOfProxy)
    } else if f.live_proxies >= f.max_proxies {
        Err(LinkRefusal::TooManyProxies)
    } else {
        Ok(())
    }
}

/// The notices about a resident's places that their proxies get a copy of.
pub fn copied_to_proxies(kind: &str) -> bool {
    matches!(
        kind,
        "reminder"
            | "signup_confirmed"
            | "waitlist_promoted"
            | "activity_changed"
            | "activity_cancelled"
            | "signup_removed"
    )
}

/// A proxy's copy of a notice names the principal: the title starts `【name】`, the body
/// says for whom it was received.
pub fn addressed_to_proxy(principal: &str, title: &str, body: &str) -> (String, String) {
    (format!("【{principal}】{title}"), format!("（代{principal}接收）{body}"))
}

/// The principal named by a proxy's copy (the `【name】` its title starts with).
pub fn principal_in_title(title: &str) -> Option<&str> {
    title.strip_prefix('【')?.split_once('】').map(|(name, _)| name).filter(|n| !n.is_empty())
}

/// The dedupe key of a proxy's copy of the notice keyed `key`.
pub fn proxy_copy_key(key: &str, proxy_id: i64) -> String {
    format!("{key}@proxy:{proxy_id}")
}

/// What a principal without a name is called in a copy.
pub const UNNAMED: &str = "代办对象";

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> LinkFacts {
        LinkFacts { max_proxies: 3, ..Default::default() }
    }

    #[test]
    fn card_codes_avoid_look_alikes_and_read_back() {
        for _ in 0..200 {
            let code = new_card_code();
            assert_eq!(code.len(), CARD_CODE_LEN);
            assert!(!code.contains(['0', 'O', '1', 'I', 'L']), "{code}");
            let shown = display_card_code(&code);
            assert_eq!(normalise_card_code(&shown.to_lowercase()), Some(code.clone()));
            assert_eq!(card_hash(&code).len(), 64);
        }
        assert_eq!(normalise_card_code("ABCD-O234"), None, "O is not in the alphabet");
        assert_eq!(normalise_card_code("ABCD234"), None, "too short");
    }

    #[test]
    fn the_link_rule_row_by_row() {
        assert_eq!(may_link(facts()), Ok(()));
        assert_eq!(may_link(LinkFacts { same_person: true, ..facts() }), Err(LinkRefusal::OwnProxy));
        assert_eq!(may_link(LinkFacts { proxy_offline: true, ..facts() }), Err(LinkRefusal::ProxyOffline));
        assert_eq!(may_link(LinkFacts { proxy_is_principal: true, ..facts() }), Err(LinkRefusal::ProxyOfProxy));
        assert_eq!(may_link(LinkFacts { principal_is_proxy: true, ..facts() }), Err(LinkRefusal::ProxyOfProxy));
        assert_eq!(may_link(LinkFacts { live_proxies: 2, ..facts() }), Ok(()));
        assert_eq!(may_link(LinkFacts { live_proxies: 3, ..facts() }), Err(LinkRefusal::TooManyProxies));
    }

    #[test]
    fn a_copy_names_its_principal() {
        let (title, body) = addressed_to_proxy("王大爷", "报名成功", "您已报名「包饺子」。");
        assert_eq!(title, "【王大爷】报名成功");
        assert_eq!(body, "（代王大爷接收）您已报名「包饺子」。");
        assert_eq!(principal_in_title(&title), Some("王大爷"));
        assert_eq!(principal_in_title("报名成功"), None);
        assert!(copied_to_proxies("reminder") && !copied_to_proxies("work_waiting"));
    }

    #[test]
    fn years_of_birth() {
        assert!(valid_year_of_birth(1948, 2026));
        assert!(!valid_year_of_birth(1899, 2026) && !valid_year_of_birth(2027, 2026));
    }
}
