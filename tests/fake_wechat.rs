//! The fake WeChat API the tests (and a local demo) point `WECHAT_API_BASE` at.

use serde_json::json;
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
