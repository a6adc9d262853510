//! Typed configuration from the environment (a `.env` file is read by `main`).
//! Secrets are redacted in `Debug`; production refuses to start with dev defaults.

use std::{collections::HashMap, fmt, time::Duration};

use anyhow::{Context, bail};

/// A value that never shows up in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppEnv {
    Dev,
    Production,
}

#[derive(Clone, Debug)]
pub struct WechatConfig {
    pub appid: Option<String>,
    pub secret: Option<Secret>,
    pub api_base: String,
    pub timeout: Duration,
    pub template_reminder: Option<String>,
    pub template_signup: Option<String>,
    pub template_change: Option<String>,
}

impl WechatConfig {
    /// Dev mode: no credentials, login takes the code as the openid.
    pub fn is_dev(&self) -> bool {
        self.appid.is_none() || self.secret.is_none()
    }
}

/// `ATTENDANCE_MIN_RATIO` when unset: attending less than 60 % of an activity earns no hours.
pub const DEFAULT_ATTENDANCE_MIN_RATIO: f64 = 0.6;

#[derive(Clone, Debug)]
pub struct Config {
    pub app_env: AppEnv,
    pub bind: String,
    pub database_url: String,
    /// True when `DATABASE_URL` was not set and the embedded SQLite file is used.
    pub database_is_default: bool,
    pub database_max_connections: u32,
    pub redis_url: Option<String>,
    /// Prefix of every Redis key, so several deployments (or test apps) can share one Redis.
    pub redis_prefix: String,
    pub jwt_secret: Secret,
    pub jwt_secret_generated: bool,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub wechat: WechatConfig,
    pub reminder_offsets: Vec<Duration>,
    pub dispatch_interval: Duration,
    /// Residents pushed to at once by one replica's dispatcher (each resident's notices in turn).
    pub dispatch_concurrency: usize,
    pub rate_limit_per_minute: u32,
    pub login_rate_limit_per_minute: u32,
    pub max_body_bytes: usize,
    pub seed_demo: bool,
    /// The regions the demo loads (`DEMO_REGIONS`): `province`, the whole of Gansu (the
    /// default), or `places`, only the demo's own places and their ancestors.
    pub demo_regions: crate::service::demo::DemoRegions,
    pub json_logs: bool,
    /// Attending less than this share of an activity earns no hours.
    pub attendance_min_ratio: f64,
    /// After this many no-shows in 90 days, new sign-ups go to the waitlist only.
    pub no_show_limit: u32,
    /// Live proxies a resident may have at once (`MAX_PROXIES`, default 3).
    pub max_proxies: u32,
    /// Activities still open this long after their end are closed automatically.
    pub auto_finish_after: Duration,
    /// Proxies whose `X-Forwarded-For` is believed (the ingress controller).
    pub trusted_proxies: Vec<crate::cache::ratelimit::Cidr>,
    /// How long a replica's claim on a notice holds before another may take it over.
    pub dispatch_lease: Duration,
    /// A request taking longer is answered 503.
    pub request_timeout: Duration,
    /// How long public lists (regions, organizations, activities) are cached.
    pub public_cache_ttl: Duration,
    /// How far ahead an activity may be placed.
    pub activity_horizon: chrono::Duration,
    /// Where Prometheus' `/metrics` listens, apart from the API; `None` serves no metrics.
    pub metrics_bind: Option<String>,
    /// The annual report (年报) of year Y is due on this month and day of Y + 1
    /// (`ANNUAL_REPORT_DUE`, `MM-DD`, default `03-31`).
    pub annual_report_due: (u32, u32),
    /// Days past the due date after which an organization without a submitted report is
    /// put on the abnormal list (活动异常名录) (`ABNORMAL_AFTER_DAYS`, default 30).
    pub abnormal_after_days: i64,
    /// The web console under `/console/` (`CONSOLE_ENABLED`, default true); off, every
    /// console path answers 404.
    pub console_enabled: bool,
    /// How long a console session lasts from sign-in (`CONSOLE_SESSION_TTL`, default 4h).
    pub console_session_ttl: Duration,
    /// Whether the console's cookies carry `Secure` (`CONSOLE_SECURE_COOKIE`; default:
    /// outside dev, i.e. with `APP_ENV=production`).
    pub console_secure_cookie: bool,
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/linli.db?mode=rwc";
pub const DEFAULT_WECHAT_API_BASE: &str = "https://api.weixin.qq.com";
pub const DEFAULT_METRICS_BIND: &str = "127.0.0.1:9464";
/// Ten years: beyond it no activity is planned, and times stay far from year 9999.
pub const MAX_ACTIVITY_HORIZON_DAYS: i64 = 3650;

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let vars: HashMap<String, String> = std::env::vars().collect();
        Self::from_vars(&vars)
    }

    /// Builds the configuration from a map of variables; `from_env` passes the process
    /// environment, tests pass their own.
    pub fn from_vars(vars: &HashMap<String, String>) -> anyhow::Result<Self> {
        let get = |key: &str| vars.get(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());

        let app_env = match get("APP_ENV").as_deref() {
            None | Some("dev") | Some("development") | Some("test") => AppEnv::Dev,
            Some("production") | Some("prod") => AppEnv::Production,
            Some(other) => bail!("APP_ENV must be dev or production, not {other:?}"),
        };

        let database_url = get("DATABASE_URL");
        let jwt_secret = get("JWT_SECRET");
        let appid = get("WECHAT_APPID");
        let wechat_secret = get("WECHAT_SECRET");

        if app_env == AppEnv::Production {
            let mut missing = Vec::new();
            if jwt_secret.as_ref().is_none_or(|s| s.len() < 32) {
                missing.push("JWT_SECRET (at least 32 characters)");
            }
            if appid.is_none() {
                missing.push("WECHAT_APPID");
            }
            if wechat_secret.is_none() {
                missing.push("WECHAT_SECRET");
            }
            if !database_url.as_deref().is_some_and(is_postgres_url) {
                missing.push("DATABASE_URL (a postgres:// URL)");
            }
            if !missing.is_empty() {
                bail!("APP_ENV=production refuses to start without: {}", missing.join(", "));
            }
        }

        let (jwt_secret, jwt_secret_generated) = match jwt_secret {
            Some(s) => (Secret::new(s), false),
            None => (Secret::new(random_secret()), true),
        };

        let reminder_offsets =
            parse_duration_list(get("REMINDER_OFFSETS").as_deref().unwrap_or("24h,1h")).context("REMINDER_OFFSETS")?;
        let dispatch_interval =
            parse_duration(get("DISPATCH_INTERVAL").as_deref().unwrap_or("10s")).context("DISPATCH_INTERVAL")?;
        // The scheduler counts repeat intervals in whole seconds: less would stop it.
        if dispatch_interval < Duration::from_secs(1) || dispatch_interval.subsec_nanos() != 0 {
            bail!("DISPATCH_INTERVAL must be whole seconds, at least 1s, not {dispatch_interval:?}");
        }

        Ok(Config {
            app_env,
            bind: get("BIND").unwrap_or_else(|| "127.0.0.1:8080".into()),
            database_is_default: database_url.is_none(),
            database_url: database_url.unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            database_max_connections: parse_num(&get, "DATABASE_MAX_CONNECTIONS", 10)?,
            redis_url: get("REDIS_URL"),
            redis_prefix: get("REDIS_PREFIX").unwrap_or_else(|| "linli:".into()),
            jwt_secret,
            jwt_secret_generated,
            access_token_ttl: parse_duration(get("ACCESS_TOKEN_TTL").as_deref().unwrap_or("15m"))
                .context("ACCESS_TOKEN_TTL")?,
            refresh_token_ttl: parse_duration(get("REFRESH_TOKEN_TTL").as_deref().unwrap_or("30d"))
                .context("REFRESH_TOKEN_TTL")?,
            wechat: WechatConfig {
                appid,
                secret: wechat_secret.map(Secret::new),
                api_base: get("WECHAT_API_BASE")
                    .unwrap_or_else(|| DEFAULT_WECHAT_API_BASE.into())
                    .trim_end_matches('/')
                    .to_owned(),
                timeout: parse_duration(get("WECHAT_TIMEOUT").as_deref().unwrap_or("5s")).context("WECHAT_TIMEOUT")?,
                template_reminder: get("WECHAT_TEMPLATE_REMINDER"),
                template_signup: get("WECHAT_TEMPLATE_SIGNUP"),
                template_change: get("WECHAT_TEMPLATE_CHANGE"),
            },
            reminder_offsets,
            dispatch_interval,
            dispatch_concurrency: match parse_num(&get, "DISPATCH_CONCURRENCY", 32usize)? {
                0 => bail!("DISPATCH_CONCURRENCY must be at least 1"),
                n => n,
            },
            rate_limit_per_minute: parse_num(&get, "RATE_LIMIT_PER_MINUTE", 600)?,
            login_rate_limit_per_minute: parse_num(&get, "LOGIN_RATE_LIMIT_PER_MINUTE", 300)?,
            max_body_bytes: parse_num(&get, "MAX_BODY_BYTES", 256 * 1024)?,
            seed_demo: match get("SEED_DEMO").as_deref() {
                Some(v) => parse_bool(v).context("SEED_DEMO")?,
                None => database_url_is_unset(vars),
            },
            demo_regions: match get("DEMO_REGIONS").as_deref() {
                None | Some("province") => crate::service::demo::DemoRegions::Province,
                Some("places") => crate::service::demo::DemoRegions::Places,
                Some(other) => bail!("DEMO_REGIONS must be province or places, not {other:?}"),
            },
            attendance_min_ratio: match get("ATTENDANCE_MIN_RATIO") {
                Some(v) => v
                    .parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..=1.0).contains(r))
                    .ok_or_else(|| anyhow::anyhow!("ATTENDANCE_MIN_RATIO must be between 0 and 1, not {v:?}"))?,
                None => DEFAULT_ATTENDANCE_MIN_RATIO,
            },
            no_show_limit: parse_num(&get, "NO_SHOW_LIMIT", 3)?,
            max_proxies: parse_num(&get, "MAX_PROXIES", crate::domain::proxy::DEFAULT_MAX_PROXIES)?,
            auto_finish_after: parse_duration(get("AUTO_FINISH_AFTER").as_deref().unwrap_or("6h"))
                .context("AUTO_FINISH_AFTER")?,
            dispatch_lease: parse_duration(get("DISPATCH_LEASE").as_deref().unwrap_or("60s"))
                .context("DISPATCH_LEASE")?,
            request_timeout: parse_duration(get("REQUEST_TIMEOUT").as_deref().unwrap_or("30s"))
                .context("REQUEST_TIMEOUT")?,
            public_cache_ttl: parse_duration(get("PUBLIC_CACHE_TTL").as_deref().unwrap_or("5s"))
                .context("PUBLIC_CACHE_TTL")?,
            activity_horizon: parse_duration(get("ACTIVITY_HORIZON").as_deref().unwrap_or("730d"))
                .ok()
                .and_then(|d| chrono::Duration::from_std(d).ok())
                .filter(|d| *d > chrono::Duration::zero() && *d <= chrono::Duration::days(MAX_ACTIVITY_HORIZON_DAYS))
                .ok_or_else(|| anyhow::anyhow!("ACTIVITY_HORIZON must be a duration from 1s to 3650d"))?,
            metrics_bind: match vars.get("METRICS_BIND").map(|v| v.trim()) {
                None => Some(DEFAULT_METRICS_BIND.to_owned()),
                Some("" | "off") => None,
                Some(addr) => Some(addr.to_owned()),
            },
            annual_report_due: {
                let v = get("ANNUAL_REPORT_DUE").unwrap_or_else(|| "03-31".to_owned());
                v.split_once('-')
                    .and_then(|(m, d)| Some((m.parse::<u32>().ok()?, d.parse::<u32>().ok()?)))
                    // A date every year has (no 29 February).
                    .filter(|(m, d)| chrono::NaiveDate::from_ymd_opt(2023, *m, *d).is_some())
                    .ok_or_else(|| {
                        anyhow::anyhow!("ANNUAL_REPORT_DUE must be MM-DD, a date of every year, not {v:?}")
                    })?
            },
            abnormal_after_days: parse_num(&get, "ABNORMAL_AFTER_DAYS", 30)?,
            console_enabled: match get("CONSOLE_ENABLED") {
                Some(v) => parse_bool(&v).context("CONSOLE_ENABLED")?,
                None => true,
            },
            console_session_ttl: parse_duration(get("CONSOLE_SESSION_TTL").as_deref().unwrap_or("4h"))
                .context("CONSOLE_SESSION_TTL")?,
            console_secure_cookie: match get("CONSOLE_SECURE_COOKIE") {
                Some(v) => parse_bool(&v).context("CONSOLE_SECURE_COOKIE")?,
                None => app_env != AppEnv::Dev,
            },
            trusted_proxies: get("TRUSTED_PROXIES")
                .unwrap_or_default()
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| {
                    crate::cache::ratelimit::Cidr::parse(s)
                        .ok_or_else(|| anyhow::anyhow!("TRUSTED_PROXIES: {s:?} is not an address or CIDR"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?,
            json_logs: match get("LOG_FORMAT").as_deref() {
                Some("json") => true,
                Some("pretty") | Some("text") => false,
                Some(other) => bail!("LOG_FORMAT must be json or text, not {other:?}"),
                None => app_env == AppEnv::Production,
            },
        })
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

fn database_url_is_unset(vars: &HashMap<String, String>) -> bool {
    vars.get("DATABASE_URL").is_none_or(|v| v.trim().is_empty())
}

fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

fn parse_num<T: std::str::FromStr>(get: &impl Fn(&str) -> Option<String>, key: &str, default: T) -> anyhow::Result<T> {
    match get(key) {
        Some(v) => v.parse().map_err(|_| anyhow::anyhow!("{key} must be a non-negative whole number, not {v:?}")),
        None => Ok(default),
    }
}

fn parse_bool(v: &str) -> anyhow::Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => bail!("expected true or false, not {v:?}"),
    }
}

fn random_secret() -> String {
    use rand::Rng;
    let bytes: [u8; 32] = rand::rng().random();
    hex::encode(bytes)
}

/// Parses `90s`, `15m`, `24h`, `30d` (and `500ms`).
pub fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| anyhow::anyhow!("{s:?} is not a duration like 10s, 15m, 24h or 30d"))?;
    let secs = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "s" | "" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => bail!("{s:?} is not a duration like 10s, 15m, 24h or 30d"),
    };
    Ok(Duration::from_secs(secs))
}

pub fn parse_duration_list(s: &str) -> anyhow::Result<Vec<Duration>> {
    let mut out =
        s.split(',').filter(|p| !p.trim().is_empty()).map(parse_duration).collect::<anyhow::Result<Vec<_>>>()?;
    out.sort_unstable_by(|a, b| b.cmp(a));
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn embedded_default_needs_no_environment() {
        let config = Config::from_vars(&HashMap::new()).map_err(|e| e.to_string());
        let Ok(config) = config else {
            panic!("default config failed: {config:?}");
        };
        assert_eq!(config.bind, "127.0.0.1:8080");
        assert!(config.database_is_default && config.is_sqlite() && config.seed_demo);
        assert!(config.jwt_secret_generated);
        assert!(config.wechat.is_dev());
        assert_eq!(config.reminder_offsets, vec![Duration::from_secs(86_400), Duration::from_secs(3600)]);
        assert_eq!(config.rate_limit_per_minute, 600);
        assert_eq!(config.login_rate_limit_per_minute, 300);
        assert_eq!(config.dispatch_concurrency, 32);
    }

    #[test]
    fn production_names_everything_missing() {
        let err =
            Config::from_vars(&vars(&[("APP_ENV", "production")])).err().map(|e| e.to_string()).unwrap_or_default();
        for name in ["JWT_SECRET", "WECHAT_APPID", "WECHAT_SECRET", "DATABASE_URL"] {
            assert!(err.contains(name), "{err} should name {name}");
        }
        let sqlite = Config::from_vars(&vars(&[
            ("APP_ENV", "production"),
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("WECHAT_APPID", "wx1"),
            ("WECHAT_SECRET", "s"),
            ("DATABASE_URL", "sqlite://x.db"),
        ]));
        assert!(sqlite.is_err(), "production must refuse SQLite");
        let ok = Config::from_vars(&vars(&[
            ("APP_ENV", "production"),
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("WECHAT_APPID", "wx1"),
            ("WECHAT_SECRET", "s"),
            ("DATABASE_URL", "postgres://db/linli"),
        ]));
        assert!(ok.is_ok_and(|c| c.json_logs && !c.seed_demo));
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let config = Config::from_vars(&vars(&[("JWT_SECRET", "supersecretvalue"), ("WECHAT_SECRET", "wxsecret")]));
        let text = format!("{config:?}");
        assert!(!text.contains("supersecretvalue") && !text.contains("wxsecret"));
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("10s").ok(), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("24h").ok(), Some(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("500ms").ok(), Some(Duration::from_millis(500)));
        assert!(parse_duration("ten").is_err());
        assert!(
            Config::from_vars(&vars(&[("DISPATCH_INTERVAL", "200ms")])).is_err(),
            "the scheduler needs whole seconds"
        );
        assert!(Config::from_vars(&vars(&[("DISPATCH_INTERVAL", "1s")])).is_ok());
        assert!(Config::from_vars(&vars(&[("DISPATCH_CONCURRENCY", "0")])).is_err(), "nobody would be sent to");
        assert_eq!(
            Config::from_vars(&vars(&[("DISPATCH_CONCURRENCY", "64")])).map(|c| c.dispatch_concurrency).ok(),
            Some(64)
        );
        assert!(parse_duration("10y").is_err());
        assert_eq!(
            parse_duration_list("1h, 24h,1h").ok(),
            Some(vec![Duration::from_secs(86_400), Duration::from_secs(3600)])
        );
    }
}
