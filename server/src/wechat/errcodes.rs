//! What each WeChat API's `errcode` means to Linli: one table per call, from WeChat's
//! documentation as summarised in `shared/WECHAT.md`. A code a call's table does not list
//! is logged with the call and mapped by its kind: `-1` and HTTP failures are transient,
//! any other non-zero code is a permanent refusal — never "unavailable", which would
//! tell the client to retry what will keep failing.

use super::WechatError;

/// The WeChat APIs Linli calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// `GET /sns/jscode2session`
    Login,
    /// `POST /cgi-bin/stable_token`
    StableToken,
    /// `POST /cgi-bin/message/subscribe/send`
    SubscribeSend,
    /// `POST /wxa/business/getuserphonenumber`
    PhoneNumber,
    /// `POST /wxa/msg_sec_check`
    TextCheck,
}

impl Api {
    pub fn path(self) -> &'static str {
        match self {
            Api::Login => "/sns/jscode2session",
            Api::StableToken => "/cgi-bin/stable_token",
            Api::SubscribeSend => "/cgi-bin/message/subscribe/send",
            Api::PhoneNumber => "/wxa/business/getuserphonenumber",
            Api::TextCheck => "/wxa/msg_sec_check",
        }
    }
}

/// Maps a non-zero `errcode` of `api` to how Linli handles it.
pub fn classify(api: Api, code: i64, msg: String) -> WechatError {
    // Codes every call may answer.
    match code {
        -1 => return WechatError::Transient(format!("busy (-1): {msg}")),
        40013 | 40125 | 41002 | 41004 | 40164 => return WechatError::Config(code, msg),
        45009 => return WechatError::Throttled,
        40001 | 40014 | 42001 if api != Api::Login => return WechatError::TokenInvalid(code),
        _ => {}
    }
    let known = match (api, code) {
        (Api::Login, 40029 | 40163) => Some(WechatError::InvalidCode),
        (Api::Login, 45011) => Some(WechatError::RateLimited),
        (Api::Login, 40226) => Some(WechatError::HighRiskUser),
        (Api::SubscribeSend, 43101) => Some(WechatError::QuotaRefused),
        (Api::SubscribeSend, 47003) => Some(WechatError::InvalidData(msg.clone())),
        (Api::SubscribeSend, 40003) => Some(WechatError::InvalidOpenid),
        (Api::SubscribeSend, 40037 | 41030) => Some(WechatError::Config(code, msg.clone())),
        (Api::SubscribeSend, 43108) => {
            Some(WechatError::Transient(format!("concurrent sends to one openid (43108): {msg}")))
        }
        // The phone code is single-use and short-lived: a new tap on the button gets another.
        (Api::PhoneNumber, 40029 | 40163) => Some(WechatError::InvalidPhoneCode),
        // The author has not opened the mini-program in the last two hours: not an outage.
        (Api::TextCheck, 61010) => Some(WechatError::AuthorInactive),
        (Api::TextCheck, 40003) => Some(WechatError::InvalidOpenid),
        // The older API's "risky content".
        (Api::TextCheck, 87014) => Some(WechatError::RiskyContent),
        _ => None,
    };
    known.unwrap_or_else(|| {
        tracing::warn!(api = api.path(), errcode = code, errmsg = %msg, "WeChat answered a code we do not list; treated as a refusal");
        WechatError::Other(code, msg)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(api: Api, code: i64) -> WechatError {
        classify(api, code, String::new())
    }

    #[test]
    fn login_codes() {
        assert_eq!(c(Api::Login, 40029), WechatError::InvalidCode);
        assert_eq!(c(Api::Login, 40163), WechatError::InvalidCode);
        assert_eq!(c(Api::Login, 45011), WechatError::RateLimited);
        assert_eq!(c(Api::Login, 40226), WechatError::HighRiskUser);
        assert!(matches!(c(Api::Login, 40013), WechatError::Config(..)));
        assert!(matches!(c(Api::Login, 40125), WechatError::Config(..)));
        assert!(matches!(c(Api::Login, -1), WechatError::Transient(_)));
    }

    #[test]
    fn subscribe_send_codes() {
        assert_eq!(c(Api::SubscribeSend, 43101), WechatError::QuotaRefused);
        assert!(matches!(c(Api::SubscribeSend, 47003), WechatError::InvalidData(_)));
        assert_eq!(c(Api::SubscribeSend, 40003), WechatError::InvalidOpenid);
        assert!(matches!(c(Api::SubscribeSend, 40037), WechatError::Config(..)));
        assert!(matches!(c(Api::SubscribeSend, 41030), WechatError::Config(..)));
        assert!(matches!(c(Api::SubscribeSend, 43108), WechatError::Transient(_)));
        assert_eq!(c(Api::SubscribeSend, 45009), WechatError::Throttled);
        for code in [40001, 40014, 42001] {
            assert_eq!(c(Api::SubscribeSend, code), WechatError::TokenInvalid(code));
        }
        assert!(c(Api::SubscribeSend, 43101).is_permanent());
        assert!(!c(Api::SubscribeSend, -1).is_permanent());
        assert!(!c(Api::SubscribeSend, 45009).is_permanent());
    }

    #[test]
    fn text_check_codes() {
        assert_eq!(c(Api::TextCheck, 61010), WechatError::AuthorInactive);
        assert_eq!(c(Api::TextCheck, 40003), WechatError::InvalidOpenid);
        assert_eq!(c(Api::TextCheck, 87014), WechatError::RiskyContent);
        assert!(matches!(c(Api::TextCheck, -1), WechatError::Transient(_)));
        assert_eq!(c(Api::TextCheck, 40001), WechatError::TokenInvalid(40001));
    }

    #[test]
    fn phone_number_and_token_codes() {
        assert_eq!(c(Api::PhoneNumber, 40029), WechatError::InvalidPhoneCode);
        assert_eq!(c(Api::PhoneNumber, 42001), WechatError::TokenInvalid(42001));
        assert!(matches!(c(Api::StableToken, 40013), WechatError::Config(..)));
        assert!(matches!(c(Api::StableToken, -1), WechatError::Transient(_)));
    }

    #[test]
    fn unknown_codes_are_permanent_refusals_not_outages() {
        for api in [Api::Login, Api::StableToken, Api::SubscribeSend, Api::PhoneNumber, Api::TextCheck] {
            let e = c(api, 99_999);
            assert_eq!(e, WechatError::Other(99_999, String::new()));
            assert!(e.is_permanent(), "{api:?}");
        }
        // A code known to one call means nothing to another.
        assert_eq!(c(Api::Login, 61010), WechatError::Other(61010, String::new()));
        assert_eq!(c(Api::TextCheck, 40029), WechatError::Other(40029, String::new()));
    }
}
