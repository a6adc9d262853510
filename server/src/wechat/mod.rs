//! The WeChat server API client. WeChat answers HTTP 200 even on failure, so every
//! body is read for `errcode` (absent or 0 means success), whatever its content type.

use std::time::Duration;

use serde::Deserialize;

use crate::{config::WechatConfig, error::AppError};

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
    /// Anything else WeChat said.
    #[error("wechat error {0}: {1}")]
    Other(i64, String),
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
            WechatError::Other(code, msg) => AppError::WechatUnavailable(format!("{code}: {msg}")),
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
}

/// How often a busy (-1) or unreachable WeChat is tried again within one request.
const LOGIN_ATTEMPTS: u32 = 3;

impl WechatClient {
    pub fn new(config: WechatConfig) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3).min(config.timeout))
            .timeout(config.timeout)
            .user_agent(concat!("linli/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { http, config })
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
            code => Err(classify(code, body.errmsg.unwrap_or_default())),
        }
    }
}

/// Maps a WeChat `errcode` to how Linli handles it (see WECHAT.md).
pub fn classify(code: i64, msg: String) -> WechatError {
    match code {
        40029 | 40163 => WechatError::InvalidCode,
        45011 => WechatError::RateLimited,
        40226 => WechatError::HighRiskUser,
        40013 | 40125 | 41002 | 41004 | 40164 => WechatError::Config(code, msg),
        -1 => WechatError::Transient(format!("busy (-1): {msg}")),
        _ => WechatError::Other(code, msg),
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
    fn errcodes_are_classified() {
        assert_eq!(classify(40029, String::new()), WechatError::InvalidCode);
        assert_eq!(classify(45011, String::new()), WechatError::RateLimited);
        assert_eq!(classify(40226, String::new()), WechatError::HighRiskUser);
        assert!(matches!(classify(40013, String::new()), WechatError::Config(..)));
        assert!(matches!(classify(-1, String::new()), WechatError::Transient(_)));
    }

    #[test]
    fn classified_errors_become_the_right_statuses() {
        let status = |e: WechatError| AppError::from(e).status().as_u16();
        assert_eq!(status(WechatError::InvalidCode), 401);
        assert_eq!(status(WechatError::RateLimited), 429);
        assert_eq!(status(WechatError::HighRiskUser), 403);
        assert_eq!(status(WechatError::Config(40013, String::new())), 503);
        assert_eq!(status(WechatError::Transient(String::new())), 503);
    }
}
