//! Request checks that collect every field error before refusing, shared by the
//! resources that take free-form input.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

use crate::{
    domain::{
        organization::{Category, ServiceTarget, parse_phone, valid_latitude, valid_longitude},
        text::{TextError, parse},
        time::{self, TimeError},
    },
    error::{AppError, AppResult, FieldError},
};

/// Collects every field error of a request before refusing it.
#[derive(Default)]
pub struct Checker {
    pub errors: Vec<FieldError>,
    pub today: Option<NaiveDate>,
}

impl Checker {
    pub fn fail(&mut self, field: &str, code: &str, message: &str) {
        self.errors.push(FieldError::new(field, code, message));
    }

    pub fn text(
        &mut self,
        field: &str,
        value: Option<String>,
        min: usize,
        max: usize,
        message: &str,
    ) -> Option<String> {
        let value = value?;
        match parse(&value, min, max) {
            Ok(v) => Some(v),
            Err(e) => {
                let code = match e {
                    TextError::Blank => "blank",
                    TextError::Length { .. } => "length",
                    TextError::Control => "control",
                };
                self.fail(field, code, message);
                None
            }
        }
    }

    pub fn category(&mut self, value: Option<String>) -> Option<Category> {
        let value = value?;
        let parsed = Category::parse(&value);
        if parsed.is_none() {
            self.fail("category", "unknown_category", &format!("类别须为 {} 之一", Category::list()));
        }
        parsed
    }

    pub fn targets(&mut self, field: &str, value: Option<Vec<String>>) -> Option<Vec<ServiceTarget>> {
        let value = value?;
        if value.len() > ServiceTarget::ALL.len() {
            self.fail(field, "too_many", "服务对象过多");
            return None;
        }
        let mut out = Vec::new();
        for (i, t) in value.iter().enumerate() {
            match ServiceTarget::parse(t) {
                Some(t) if !out.contains(&t) => out.push(t),
                Some(_) => {}
                None => self.fail(
                    &format!("{field}[{i}]"),
                    "unknown_target",
                    &format!("服务对象须为 {} 之一", ServiceTarget::list()),
                ),
            }
        }
        Some(out)
    }

    pub fn phone(&mut self, value: Option<String>) -> Option<String> {
        let value = value?;
        let parsed = parse_phone(&value);
        if parsed.is_none() {
            self.fail("contact_phone", "phone", "联系电话须为 11 位手机号或带区号的固话");
        }
        parsed
    }

    pub fn location(&mut self, lat: Option<f64>, lng: Option<f64>) -> Option<(f64, f64)> {
        match (lat, lng) {
            (None, None) => None,
            (Some(lat), Some(lng)) => {
                let mut ok = true;
                if !valid_latitude(lat) {
                    self.fail("latitude", "range", "纬度须在 -90 到 90 之间");
                    ok = false;
                }
                if !valid_longitude(lng) {
                    self.fail("longitude", "range", "经度须在 -180 到 180 之间");
                    ok = false;
                }
                ok.then_some((lat, lng))
            }
            (None, Some(_)) => {
                self.fail("latitude", "required", "经纬度须同时提供");
                None
            }
            (Some(_), None) => {
                self.fail("longitude", "required", "经纬度须同时提供");
                None
            }
        }
    }

    pub fn url(&mut self, value: Option<String>) -> Option<String> {
        let value = value?;
        let ok = https_url(&value);
        if !ok {
            self.fail("logo_url", "url", "标志须为不超过 512 个字符的 https:// 地址");
        }
        ok.then_some(value)
    }

    pub fn date(&mut self, value: Option<String>) -> Option<NaiveDate> {
        let value = value?;
        match time::parse_date(&value) {
            Ok(d) if self.today.is_some_and(|t| d > t) => {
                self.fail("founded_on", "in_future", "成立日期不能晚于今天");
                None
            }
            Ok(d) => Some(d),
            Err(TimeError::Format) => {
                self.fail("founded_on", "date", "成立日期格式须为 YYYY-MM-DD");
                None
            }
            Err(e) => {
                self.fail("founded_on", e.code(), e.message());
                None
            }
        }
    }

    /// A calendar date (`YYYY-MM-DD`, Asia/Shanghai) in field `field`.
    pub fn day(&mut self, field: &str, value: Option<String>) -> Option<NaiveDate> {
        match time::parse_date(&value?) {
            Ok(d) => Some(d),
            Err(TimeError::Format) => {
                self.fail(field, "date", "日期格式须为 YYYY-MM-DD");
                None
            }
            Err(e) => {
                self.fail(field, e.code(), e.message());
                None
            }
        }
    }

    /// A time from a body or a query, through the one gate (`domain::time`): refused
    /// unless it shows back as RFC 3339 in Asia/Shanghai.
    pub fn time(&mut self, field: &str, value: Option<DateTime<FixedOffset>>) -> Option<DateTime<Utc>> {
        match time::accept(value?) {
            Ok(t) => Some(t),
            Err(e) => {
                self.fail(field, e.code(), e.message());
                None
            }
        }
    }

    /// A cancellation cut-off in minutes before the start: 0–10,080 (a week), for
    /// activities and room bookings alike.
    pub fn cancel_cutoff(&mut self, value: Option<i32>) -> Option<i32> {
        let value = value?;
        if (0..=10_080).contains(&value) {
            Some(value)
        } else {
            self.fail("cancel_cutoff_minutes", "range", "取消截止须在开始前 0 到 10080 分钟之间");
            None
        }
    }

    pub fn finish<T>(self, value: T) -> AppResult<T> {
        if self.errors.is_empty() { Ok(value) } else { Err(AppError::Validation(self.errors)) }
    }
}

/// An `https://` address of at most 512 characters without whitespace (logos, attachments).
pub fn https_url(value: &str) -> bool {
    value.starts_with("https://")
        && value.len() > "https://".len()
        && value.chars().count() <= 512
        && !value.contains(char::is_whitespace)
}
