//! The WeChat server API client. WeChat answers HTTP 200 even on failure, so every
//! body is read for `errcode` (absent or 0 means success), whatever its content type.

pub mod errcodes;
pub mod templates;

pub use errcodes::{Api, classify};

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};

use crate::{cache::RedisHandle, config::WechatConfig, error::AppError};

/// What a WeChat call can end in, classified for handling.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WechatError {
    /// 40029: the login code is invalid or used.
    #[error("invalid code (40029)")]
    InvalidCode,
    /// 45011: too frequent.
    #[error("rate limited (45011)")]
    RateLimited,
    /// 40226: a high-risk user.
    #[error("high-risk user (40226)")]
    HighRiskUser,
    /// 40013 / 40125 and similar: our appid or secret is wrong. Alert.
    #[error("configuration error {0}: {1}")]
    Config(i64, String),
    /// -1, HTTP 5xx, timeouts, connection errors: try again later.
    #[error("transient failure: {0}")]
    Transient(String),
    /// 43101: the user refused, or has no quota left for this template. Permanent.
    #[error("subscription refused or used up (43101)")]
    QuotaRefused,
    /// 47003: a template value is invalid. Permanent: a bug in building it.
    #[error("invalid template data (47003): {0}")]
    InvalidData(String),
    /// 40003: the openid is invalid. Permanent.
    #[error("invalid openid (40003)")]
    InvalidOpenid,
    /// 45009: the daily quota of the API is spent. Back off.
    #[error("daily API quota reached (45009)")]
    Throttled,
    /// 40001 / 40014 / 42001: the access token is bad; refreshed and retried once.
    #[error("access token rejected ({0})")]
    TokenInvalid(i64),
    /// 40029 on `getuserphonenumber`: the phone code is invalid or used.
    #[error("invalid phone code (40029)")]
    InvalidPhoneCode,
    /// 61010 on `msg_sec_check`: the author has not opened the mini-program in the last two
    /// hours, so WeChat will not check their text; a person looks at it instead.
    #[error("author inactive (61010)")]
    AuthorInactive,
    /// 87014: the older text check's "risky content".
    #[error("risky content (87014)")]
    RiskyContent,
    /// A code the call's table does not list: a permanent refusal (logged with the call).
    #[error("wechat error {0}: {1}")]
    Other(i64, String),
}

impl WechatError {
    /// Failures that will not go away by trying again.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            WechatError::QuotaRefused
                | WechatError::InvalidData(_)
                | WechatError::InvalidOpenid
                | WechatError::Config(..)
                | WechatError::InvalidPhoneCode
                | WechatError::AuthorInactive
                | WechatError::RiskyContent
                | WechatError::Other(..)
        )
    }
}

impl From<WechatError> for AppError {
    fn from(err: WechatError) -> Self {
        match err {
            WechatError::InvalidCode => AppError::WechatCodeInvalid,
            WechatError::RateLimited => AppError::WechatRateLimited,
            WechatError::HighRiskUser => AppError::WechatUserBlocked,
            WechatError::Config(code, msg) => {
                tracing::error!(errcode = code, errmsg = %msg, "WeChat rejects our credentials: check WECHAT_APPID / WECHAT_SECRET");
                AppError::WechatMisconfigured(format!("{code}: {msg}"))
            }
            WechatError::Transient(why) => AppError::WechatUnavailable(why),
            WechatError::Throttled => AppError::WechatRateLimited,
            WechatError::InvalidPhoneCode => {
                AppError::invalid("code", "invalid", "手机号授权码无效或已使用，请重新点击获取手机号")
            }
            WechatError::RiskyContent => AppError::ContentRisky,
            // A refusal of this request, not an outage: retrying it will not help.
            WechatError::Other(code, msg) => {
                AppError::BadRequest(format!("WeChat refused the request ({code}: {msg})"))
            }
            other @ (WechatError::TokenInvalid(_)
            | WechatError::QuotaRefused
            | WechatError::InvalidData(_)
            | WechatError::InvalidOpenid
            | WechatError::AuthorInactive) => AppError::WechatUnavailable(other.to_string()),
        }
    }
}

/// The result of `jscode2session`. The session key never leaves the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WechatSession {
    pub openid: String,
    pub unionid: Option<String>,
}

#[derive(Deserialize)]
struct Code2SessionBody {
    #[serde(default)]
    errcode: Option<i64>,
    #[serde(default)]
    errmsg: Option<String>,
    #[serde(default)]
    openid: Option<String>,
    #[serde(default)]
    unionid: Option<String>,
}

#[derive(Clone, Debug)]
pub struct WechatClient {
    http: reqwest::Client,
    config: WechatConfig,
    /// `config.api_base`, parsed once: each call's address is this with the API's path
    /// and the token set ([`WechatClient::api_url`]).
    base: reqwest::Url,
    token: Arc<TokenCache>,
}

/// The access token, kept in process and (when configured) in Redis, where every
/// replica finds the same stable token.
#[derive(Debug, Default)]
struct TokenCache {
    local: tokio::sync::Mutex<Option<(String, Instant)>>,
    redis: Option<RedisHandle>,
}

/// What `msg_sec_check` says of a text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Moderation {
    Pass,
    /// Hold for a person.
    Review,
    /// Refuse.
    Risky,
}

/// A subscribe message, values already trimmed and cut to their keyword's limit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SubscribeMessage {
    pub touser: String,
    pub template_id: String,
    pub page: String,
    pub miniprogram_state: &'static str,
    pub lang: &'static str,
    pub data: serde_json::Map<String, serde_json::Value>,
}

/// How often a busy (-1) or unreachable WeChat is tried again within one request.
const LOGIN_ATTEMPTS: u32 = 3;

impl WechatClient {
    pub fn new(config: WechatConfig, redis: Option<RedisHandle>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3).min(config.timeout))
            .timeout(config.timeout)
            .user_agent(concat!("linli/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let base = reqwest::Url::parse(&config.api_base)
            .map_err(|e| anyhow::anyhow!("WECHAT_API_BASE {:?} is not a URL: {e}", config.api_base))?;
        Ok(Self { http, config, base, token: Arc::new(TokenCache { local: Default::default(), redis }) })
    }

    pub fn config(&self) -> &WechatConfig {
        &self.config
    }

    fn token_key(&self) -> Option<(RedisHandle, String)> {
        self.token.redis.as_ref().map(|r| (r.clone(), format!("{}wechat:access_token", r.prefix)))
    }

    /// A valid access token: from this process, else from Redis, else a new
    /// `stable_token` (the same one every replica gets), cached for `expires_in − 300` s.
    pub async fn access_token(&self) -> Result<String, WechatError> {
        let mut local = self.token.local.lock().await;
        if let Some((token, until)) = local.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        if let Some((redis, key)) = self.token_key()
            && let Some(Some(token)) = redis.run::<Option<String>>(redis::cmd("GET").arg(&key)).await
        {
            // Re-read Redis now and then, so a token another replica dropped is not kept long.
            *local = Some((token.clone(), Instant::now() + Duration::from_secs(60)));
            return Ok(token);
        }
        let (token, expires_in) = self.fetch_stable_token().await?;
        let keep = expires_in.saturating_sub(300).max(60);
        if let Some((redis, key)) = self.token_key()
            && redis.run::<()>(redis::cmd("SET").arg(&key).arg(&token).arg("EX").arg(keep)).await.is_none()
        {
            tracing::warn!("could not share the WeChat token through Redis");
        }
        *local = Some((token.clone(), Instant::now() + Duration::from_secs(keep)));
        metrics::counter!("linli_wechat_token_fetches_total").increment(1);
        Ok(token)
    }

    /// Drops the cached token, but only if it is still the one that failed (another
    /// caller may already have fetched a new one).
    pub async fn invalidate(&self, failed: &str) {
        let mut local = self.token.local.lock().await;
        if local.as_ref().is_some_and(|(t, _)| t == failed) {
            *local = None;
        }
        if let Some((redis, key)) = self.token_key() {
            let script =
                "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";
            if redis.run::<i64>(redis::cmd("EVAL").arg(script).arg(1).arg(&key).arg(failed)).await.is_none() {
                tracing::warn!("could not drop the shared WeChat token");
            }
        }
    }

    async fn fetch_stable_token(&self) -> Result<(String, u64), WechatError> {
        let (Some(appid), Some(secret)) = (&self.config.appid, &self.config.secret) else {
            return Err(WechatError::Config(0, "no WeChat credentials".into()));
        };
        let body = serde_json::json!({
            "grant_type": "client_credential", "appid": appid, "secret": secret.expose(), "force_refresh": false
        });
        let url = format!("{}/cgi-bin/stable_token", self.config.api_base);
        let resp =
            self.http.post(&url).json(&body).send().await.map_err(|e| WechatError::Transient(transport_reason(&e)))?;
        let value = read_body(resp, Api::StableToken).await?;
        let token = value["access_token"].as_str().filter(|t| !t.is_empty()).map(str::to_owned);
        let expires_in = value["expires_in"].as_u64().unwrap_or(7200);
        token.map(|t| (t, expires_in)).ok_or_else(|| WechatError::Transient("stable_token without a token".into()))
    }

    /// The address of an API that takes `access_token`: the base parsed once, with the
    /// API's path and the token set. Each send parsed the whole address (its host through
    /// IDNA included), which showed in the dispatcher's profile; parsing it once made no
    /// measurable difference to the rate (bench/RESULTS.md, round ten).
    fn api_url(&self, api: Api, token: &str) -> reqwest::Url {
        let mut url = self.base.clone();
        url.set_path(&format!("{}{}", self.base.path().trim_end_matches('/'), api.path()));
        url.query_pairs_mut().append_pair("access_token", token);
        url
    }

    /// POSTs `body` as JSON to an API that takes `access_token` (serialized once); a
    /// rejected token is dropped and the call tried once more with a fresh one.
    async fn call(&self, api: Api, body: &impl Serialize) -> Result<serde_json::Value, WechatError> {
        let body = serde_json::to_vec(body).map_err(|e| WechatError::InvalidData(e.to_string()))?;
        let mut retried = false;
        loop {
            let token = self.access_token().await?;
            let resp = self
                .http
                .post(self.api_url(api, &token))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .await
                .map_err(|e| WechatError::Transient(transport_reason(&e)))?;
            match read_body(resp, api).await {
                Err(WechatError::TokenInvalid(code)) if !retried => {
                    tracing::warn!(errcode = code, "WeChat rejected the access token; refreshing");
                    self.invalidate(&token).await;
                    retried = true;
                }
                other => return other,
            }
        }
    }

    /// `POST /cgi-bin/message/subscribe/send`; returns the `msgid`.
    pub async fn send_subscribe(&self, message: &SubscribeMessage) -> Result<String, WechatError> {
        let value = self.call(Api::SubscribeSend, message).await?;
        Ok(match &value["msgid"] {
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::String(s) => s.clone(),
            _ => String::new(),
        })
    }

    /// `POST /wxa/business/getuserphonenumber`: the phone number behind a
    /// `getPhoneNumber` code (digits only, without the country code).
    pub async fn phone_number(&self, code: &str) -> Result<String, WechatError> {
        if self.is_dev() {
            return Err(WechatError::Config(0, "phone numbers need WeChat credentials".into()));
        }
        let value = self.call(Api::PhoneNumber, &serde_json::json!({ "code": code })).await?;
        value["phone_info"]["purePhoneNumber"]
            .as_str()
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| WechatError::Transient("no phone number in the answer".into()))
    }

    /// `POST /wxa/msg_sec_check` (version 2). In dev mode every text passes. When WeChat
    /// will not judge the text for a reason of the author's or of ours (61010: the author
    /// has not opened the mini-program lately; an invalid openid; a code we do not list),
    /// a person looks at it: `Review`. Only transient failures (-1, 5xx, timeouts) and
    /// configuration errors are errors.
    pub async fn moderate(&self, openid: &str, title: &str, content: &str) -> Result<Moderation, WechatError> {
        if self.is_dev() {
            return Ok(Moderation::Pass);
        }
        let content: String = content.chars().take(2500).collect();
        let body = serde_json::json!({"version": 2, "openid": openid, "scene": 3, "content": content, "title": title});
        let value = match self.call(Api::TextCheck, &body).await {
            Ok(value) => value,
            Err(WechatError::RiskyContent) => return Ok(Moderation::Risky),
            Err(e @ (WechatError::AuthorInactive | WechatError::InvalidOpenid | WechatError::Other(..))) => {
                tracing::info!(reason = %e, "text check unavailable for this author: held for a person");
                return Ok(Moderation::Review);
            }
            Err(e) => return Err(e),
        };
        Ok(match value["result"]["suggest"].as_str() {
            Some("risky") => Moderation::Risky,
            Some("review") => Moderation::Review,
            _ => Moderation::Pass,
        })
    }

    pub fn is_dev(&self) -> bool {
        self.config.is_dev()
    }

    /// `GET /sns/jscode2session`. In dev mode (no credentials) the code is the openid.
    pub async fn code2session(&self, code: &str) -> Result<WechatSession, WechatError> {
        let (Some(appid), Some(secret)) = (&self.config.appid, &self.config.secret) else {
            tracing::warn!("dev login: no WeChat credentials, the login code is taken as the openid");
            return Ok(WechatSession { openid: code.to_owned(), unionid: None });
        };
        let url = format!("{}/sns/jscode2session", self.config.api_base);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self
                .http
                .get(&url)
                .query(&[
                    ("appid", appid.as_str()),
                    ("secret", secret.expose()),
                    ("js_code", code),
                    ("grant_type", "authorization_code"),
                ])
                .send()
                .await;
            let outcome = match result {
                Ok(resp) => Self::read_session(resp).await,
                Err(e) => Err(WechatError::Transient(transport_reason(&e))),
            };
            match outcome {
                Err(WechatError::Transient(why)) if attempt < LOGIN_ATTEMPTS => {
                    tracing::warn!(attempt, reason = %why, "WeChat code2session failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * 2u64.pow(attempt))).await;
                }
                other => return other,
            }
        }
    }

    async fn read_session(resp: reqwest::Response) -> Result<WechatSession, WechatError> {
        let status = resp.status();
        if status.is_server_error() {
            return Err(WechatError::Transient(format!("HTTP {status}")));
        }
        let bytes = resp.bytes().await.map_err(|e| WechatError::Transient(transport_reason(&e)))?;
        let body: Code2SessionBody = serde_json::from_slice(&bytes)
            .map_err(|_| WechatError::Transient(format!("unreadable body (HTTP {status})")))?;
        match body.errcode.unwrap_or(0) {
            0 => match body.openid.filter(|o| !o.is_empty()) {
                Some(openid) => Ok(WechatSession { openid, unionid: body.unionid }),
                None => Err(WechatError::Transient("success without an openid".into())),
            },
            code => Err(classify(Api::Login, code, body.errmsg.unwrap_or_default())),
        }
    }
}

/// Reads a WeChat answer: HTTP 5xx is transient; otherwise the body is JSON whatever
/// its content type, and a non-zero `errcode` is classified.
async fn read_body(resp: reqwest::Response, api: Api) -> Result<serde_json::Value, WechatError> {
    let status = resp.status();
    if status.is_server_error() {
        return Err(WechatError::Transient(format!("HTTP {status}")));
    }
    let bytes = resp.bytes().await.map_err(|e| WechatError::Transient(transport_reason(&e)))?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|_| WechatError::Transient(format!("unreadable body (HTTP {status})")))?;
    match value["errcode"].as_i64().unwrap_or(0) {
        0 => Ok(value),
        code => Err(classify(api, code, value["errmsg"].as_str().unwrap_or_default().to_owned())),
    }
}

fn transport_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        "transport error".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classified_errors_become_the_right_statuses() {
        let status = |e: WechatError| AppError::from(e).status().as_u16();
        assert_eq!(status(WechatError::InvalidCode), 401);
        assert_eq!(status(WechatError::RateLimited), 429);
        assert_eq!(status(WechatError::HighRiskUser), 403);
        assert_eq!(status(WechatError::Config(40013, String::new())), 503);
        assert_eq!(status(WechatError::Transient(String::new())), 503);
        assert_eq!(status(WechatError::InvalidPhoneCode), 422);
        assert_eq!(status(WechatError::RiskyContent), 422);
        assert_eq!(status(WechatError::Other(12345, String::new())), 400);
    }

    fn config(api_base: &str) -> WechatConfig {
        crate::startup::install_crypto_provider();
        WechatConfig {
            appid: None,
            secret: None,
            api_base: api_base.to_owned(),
            timeout: Duration::from_secs(5),
            template_reminder: None,
            template_signup: None,
            template_change: None,
        }
    }

    #[test]
    fn an_api_base_that_is_not_a_url_stops_the_start() {
        assert!(WechatClient::new(config("api.weixin.qq.com"), None).is_err());
        assert!(WechatClient::new(config(""), None).is_err());
    }

    #[test]
    fn each_call_goes_to_the_base_with_the_path_and_the_token() -> anyhow::Result<()> {
        let client = WechatClient::new(config("https://api.weixin.qq.com"), None)?;
        assert_eq!(
            client.api_url(Api::SubscribeSend, "a b&c").as_str(),
            "https://api.weixin.qq.com/cgi-bin/message/subscribe/send?access_token=a+b%26c"
        );
        // A base with a path prefix (a proxy in front of WeChat) keeps it.
        let proxied = WechatClient::new(config("http://127.0.0.1:18090/wx/"), None)?;
        assert_eq!(
            proxied.api_url(Api::TextCheck, "t").as_str(),
            "http://127.0.0.1:18090/wx/wxa/msg_sec_check?access_token=t"
        );
        Ok(())
    }
}
