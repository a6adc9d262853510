//! The fake WeChat API the tests point `WECHAT_API_BASE` at: login, stable access
//! tokens that can be revoked, subscribe sends that can be refused or fail on cue and
//! that check WeChat's value limits, content moderation, and phone numbers.

use std::{
    collections::{HashSet, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers};

use crate::{TEST_APPID, TEST_WECHAT_SECRET};

/// `jscode2session`: checks the credentials like WeChat does, then maps the code to an
/// openid — `as:X` → `X`, anything else `C` → `o-C`. Codes starting `bad-` are refused
/// (40029), as a used or expired code would be.
pub struct Code2Session;

impl Respond for Code2Session {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q: std::collections::HashMap<String, String> = req.url.query_pairs().into_owned().collect();
        let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
        if get("appid") != TEST_APPID || get("secret") != TEST_WECHAT_SECRET {
            return ResponseTemplate::new(200).set_body_json(json!({"errcode": 40013, "errmsg": "invalid appid"}));
        }
        if get("grant_type") != "authorization_code" {
            return ResponseTemplate::new(200).set_body_json(json!({"errcode": 40002, "errmsg": "invalid grant_type"}));
        }
        let code = get("js_code");
        if code.is_empty() || code.starts_with("bad-") {
            return ResponseTemplate::new(200)
                .set_body_json(json!({"errcode": 40029, "errmsg": "invalid code, rid: 6650a1b2-1f2e3d4c"}));
        }
        let openid = match code.strip_prefix("as:") {
            Some(openid) => openid.to_owned(),
            None => format!("o-{code}"),
        };
        // WeChat sends JSON as text/plain.
        ResponseTemplate::new(200)
            .insert_header("content-type", "text/plain")
            .set_body_string(json!({"openid": openid, "session_key": "c2Vzc2lvbmtleQ=="}).to_string())
    }
}

pub async fn mount_code2session(server: &MockServer) {
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/sns/jscode2session"))
        .respond_with(Code2Session)
        .mount(server)
        .await;
}

/// How the next subscribe send goes wrong.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with this `errcode`.
    Errcode(i64),
    /// HTTP 500.
    Http500,
    /// Answer after this long (longer than the client's timeout: a hang).
    Hang(Duration),
    /// Revoke every token, then answer 40001 as WeChat does for a revoked token.
    RevokeToken,
}

#[derive(Debug, Default)]
pub struct FakeState {
    pub tokens_issued: u32,
    pub current_token: Option<String>,
    /// Every accepted send, in order (unless `counts_only`).
    pub sends: Vec<Value>,
    /// Accepted sends, counted.
    pub accepted: u64,
    /// Count accepted sends without keeping them: the standalone server under the
    /// benchmark's 100,000 sends, where keeping each body grew the fake by about 1 KB a
    /// send (its CPU per send did not change measurably: bench/RESULTS.md, round ten).
    pub counts_only: bool,
    /// Every send attempt, accepted or not.
    pub attempts: usize,
    pub faults: VecDeque<Fault>,
    /// Openids that have refused (43101).
    pub refusing: HashSet<String>,
    /// Every accepted send takes this long.
    pub send_delay: Option<Duration>,
}

/// A handle on the fake's state.
#[derive(Clone, Debug, Default)]
pub struct FakeWechat {
    state: Arc<Mutex<FakeState>>,
}

impl FakeWechat {
    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn sends(&self) -> Vec<Value> {
        self.state().sends.clone()
    }

    /// Accepted sends to one openid.
    pub fn sends_to(&self, openid: &str) -> Vec<Value> {
        self.sends().into_iter().filter(|s| s["touser"] == openid).collect()
    }

    pub fn fail_next(&self, fault: Fault) {
        self.state().faults.push_back(fault);
    }

    pub fn refuse(&self, openid: &str) {
        self.state().refusing.insert(openid.to_owned());
    }

    pub async fn mount(&self, server: &MockServer) {
        Mock::given(matchers::method("POST"))
            .and(matchers::path("/cgi-bin/stable_token"))
            .respond_with(StableToken(self.clone()))
            .mount(server)
            .await;
        Mock::given(matchers::method("POST"))
            .and(matchers::path("/cgi-bin/message/subscribe/send"))
            .respond_with(SubscribeSend(self.clone()))
            .mount(server)
            .await;
        Mock::given(matchers::method("POST"))
            .and(matchers::path("/wxa/msg_sec_check"))
            .respond_with(SecCheck(self.clone()))
            .mount(server)
            .await;
        Mock::given(matchers::method("POST"))
            .and(matchers::path("/wxa/business/getuserphonenumber"))
            .respond_with(PhoneNumber(self.clone()))
            .mount(server)
            .await;
    }

    fn token_ok(&self, req: &Request) -> bool {
        let token = req.url.query_pairs().find(|(k, _)| k == "access_token").map(|(_, v)| v.into_owned());
        token.is_some() && token == self.state().current_token
    }
}

fn errcode(code: i64, msg: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"errcode": code, "errmsg": msg}))
}

struct StableToken(FakeWechat);

impl Respond for StableToken {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        if body["appid"] != TEST_APPID
            || body["secret"] != TEST_WECHAT_SECRET
            || body["grant_type"] != "client_credential"
        {
            return errcode(40013, "invalid appid");
        }
        let mut state = self.0.state();
        // The stable token: the same one for every caller until it is revoked.
        let token = match &state.current_token {
            Some(t) => t.clone(),
            None => {
                state.tokens_issued += 1;
                let t = format!("tok-{}", state.tokens_issued);
                state.current_token = Some(t.clone());
                t
            }
        };
        ResponseTemplate::new(200).set_body_json(json!({"access_token": token, "expires_in": 7200}))
    }
}

/// WeChat's limits on a value, by the keyword's type (its name without the number).
fn value_ok(key: &str, value: &str) -> bool {
    let kind: String = key.chars().take_while(|c| c.is_ascii_alphabetic() || *c == '_').collect();
    let n = value.chars().count();
    let clean = !value.chars().any(|c| c.is_control()) && value.trim() == value;
    clean
        && match kind.as_str() {
            "thing" => n <= 20,
            "phrase" => n <= 5,
            "name" => n <= 10,
            "character_string" | "number" => n <= 32,
            "time" | "date" => n > 0 && n <= 64,
            _ => true,
        }
}

struct SubscribeSend(FakeWechat);

impl Respond for SubscribeSend {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.0.state().attempts += 1;
        if !self.0.token_ok(req) {
            return errcode(40001, "invalid credential, access_token is invalid or not latest");
        }
        let fault = self.0.state().faults.pop_front();
        match fault {
            Some(Fault::Errcode(code)) => return errcode(code, "scripted"),
            Some(Fault::Http500) => return ResponseTemplate::new(500),
            Some(Fault::Hang(d)) => return errcode(0, "ok").set_delay(d),
            Some(Fault::RevokeToken) => {
                self.0.state().current_token = None;
                return errcode(40001, "invalid credential");
            }
            None => {}
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        let openid = body["touser"].as_str().unwrap_or_default().to_owned();
        if self.0.state().refusing.contains(&openid) {
            return errcode(43101, "user refuse to accept the msg");
        }
        for (key, v) in body["data"].as_object().into_iter().flatten() {
            let value = v["value"].as_str().unwrap_or_default();
            if !value_ok(key, value) {
                return errcode(47003, &format!("argument invalid! data.{key}.value invalid"));
            }
        }
        let mut state = self.0.state();
        state.accepted += 1;
        if !state.counts_only {
            state.sends.push(body);
        }
        let msgid = 3_000_000_000_000_000_000u64 + state.accepted;
        let answer = ResponseTemplate::new(200).set_body_json(json!({"errcode": 0, "errmsg": "ok", "msgid": msgid}));
        match state.send_delay {
            Some(d) => answer.set_delay(d),
            None => answer,
        }
    }
}

/// `msg_sec_check`: a text containing `RISKY` is risky, `REVIEW` needs a person, and
/// `INACTIVE` answers 61010 (the author has not opened the mini-program lately).
struct SecCheck(FakeWechat);

impl Respond for SecCheck {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        if !self.0.token_ok(req) {
            return errcode(40001, "invalid credential");
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        let text =
            format!("{} {}", body["title"].as_str().unwrap_or_default(), body["content"].as_str().unwrap_or_default());
        if text.contains("INACTIVE") {
            // The author has not opened the mini-program in the last two hours.
            return errcode(61010, "code is expired");
        }
        let suggest = if text.contains("RISKY") {
            "risky"
        } else if text.contains("REVIEW") {
            "review"
        } else {
            "pass"
        };
        ResponseTemplate::new(200).set_body_json(json!({"errcode": 0, "result": {"suggest": suggest, "label": 100}}))
    }
}

struct PhoneNumber(FakeWechat);

impl Respond for PhoneNumber {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        if !self.0.token_ok(req) {
            return errcode(40001, "invalid credential");
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        if body["code"].as_str().is_none_or(|c| c.starts_with("bad-")) {
            return errcode(40029, "invalid code");
        }
        ResponseTemplate::new(200).set_body_json(json!({
            "errcode": 0,
            "phone_info": {"phoneNumber": "+86 13912345678", "purePhoneNumber": "13912345678", "countryCode": 86}
        }))
    }
}
