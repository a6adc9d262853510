//! Calendars: a resident's private iCalendar feed (RFC 5545) of the activities they hold
//! a place or a queue spot in, and the fields the mini-program hands to
//! `wx.addPhoneCalendar`. Pure: the service reads the rows, this writes the text.

use chrono::{DateTime, Utc};
use icalendar::{Calendar, Component, Event, EventLike, EventStatus, Parameter, Property};
use rand::Rng;
use sha2::{Digest, Sha256};

/// How often a calendar app should fetch the feed again (`REFRESH-INTERVAL`, RFC 7986, and
/// the older `X-PUBLISHED-TTL`): one hour.
pub const REFRESH_INTERVAL: &str = "PT1H";

/// How long before the start the phone's calendar reminds (`wx.addPhoneCalendar`'s
/// `alarmOffset`, in seconds): one hour, as the last of the default reminders.
pub const PHONE_ALARM_OFFSET_SECS: i64 = 3600;

/// Feed tokens: 32 random bytes, 64 hex characters in the URL.
const TOKEN_BYTES: usize = 32;

/// A new random feed token (256 bits), shown once in the feed's URL.
pub fn new_token() -> String {
    let bytes: [u8; TOKEN_BYTES] = rand::rng().random();
    hex::encode(bytes)
}

/// What is stored of a token: its SHA-256, hex. `None` when `token` cannot be one of
/// ours (wrong length or not lowercase hex), so nothing is looked up for it.
pub fn token_hash(token: &str) -> Option<String> {
    let ours =
        token.len() == TOKEN_BYTES * 2 && token.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    ours.then(|| hex::encode(Sha256::digest(token.as_bytes())))
}

/// The resident's place on an activity, as the feed shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// Confirmed, or already checked in.
    Held,
    /// On the waitlist: the event is `TENTATIVE` and its title says so.
    Waitlisted,
}

/// One activity in a feed.
#[derive(Clone, Debug)]
pub struct FeedEvent {
    pub activity_id: i64,
    pub title: String,
    pub description: String,
    pub organization_name: String,
    pub location: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The activity's `version` (bumped on each change of time or place).
    pub version: i32,
    pub cancelled: bool,
    pub cancel_reason: Option<String>,
    pub place: Place,
    pub updated_at: DateTime<Utc>,
}

/// The event's UID: stable for one activity and one resident (a rotated token keeps it,
/// so a calendar app updates the event rather than adding a second), and naming neither
/// the resident nor anyone else (a hash of the two ids).
pub fn uid(activity_id: i64, user_id: i64) -> String {
    let digest = hex::encode(Sha256::digest(format!("linli-calendar:{user_id}:{activity_id}").as_bytes()));
    format!("activity-{activity_id}-{}@linli", &digest[..16])
}

/// The event's `SEQUENCE`: the activity's version, one more once it is cancelled (the
/// cancellation changes no time or place, but calendar apps take a `SEQUENCE` that did
/// not grow as nothing new).
pub fn sequence(version: i32, cancelled: bool) -> u32 {
    u32::try_from(version.max(0)).unwrap_or(0) + u32::from(cancelled)
}

/// The feed of `user_id`'s activities as iCalendar text (CRLF lines, folded at 75 octets
/// on character boundaries, text escaped — by the `icalendar` crate). Times are UTC
/// (`…Z`); `now` is the `DTSTAMP`. Holds nothing about other residents: no roster, no
/// counts of places.
pub fn feed(user_id: i64, events: &[FeedEvent], now: DateTime<Utc>) -> String {
    let mut cal = Calendar::new();
    cal.append_property(Property::new("METHOD", "PUBLISH"))
        .append_property(Property::new("X-WR-CALNAME", "邻里 · 我的活动"))
        .append_property(Property::new("NAME", "邻里 · 我的活动"))
        .append_property(
            Property::new("REFRESH-INTERVAL", REFRESH_INTERVAL)
                .append_parameter(Parameter::new("VALUE", "DURATION"))
                .done(),
        )
        .append_property(Property::new("X-PUBLISHED-TTL", REFRESH_INTERVAL));
    for e in events {
        let mut title = e.title.clone();
        if e.place == Place::Waitlisted {
            title = format!("（候补）{title}");
        }
        let mut description = format!("{}\n\n主办：{}", e.description.trim(), e.organization_name);
        if e.cancelled {
            title = format!("【已取消】{title}");
            if let Some(reason) = &e.cancel_reason {
                description = format!("活动已取消：{reason}\n\n{description}");
            }
        }
        let status = match (e.cancelled, e.place) {
            (true, _) => EventStatus::Cancelled,
            (false, Place::Held) => EventStatus::Confirmed,
            (false, Place::Waitlisted) => EventStatus::Tentative,
        };
        let mut event = Event::with_uid(&uid(e.activity_id, user_id));
        event
            .summary(&title)
            .description(description.trim())
            .location(&e.location)
            .starts(e.starts_at)
            .ends(e.ends_at)
            .sequence(sequence(e.version, e.cancelled))
            .timestamp(now)
            .last_modified(e.updated_at)
            .status(status);
        if let (Some(lat), Some(lng)) = (e.latitude, e.longitude) {
            event.add_property("GEO", format!("{lat:.6};{lng:.6}"));
        }
        cal.push(event.done());
    }
    cal.done().to_string()
}

/// What the mini-program passes to `wx.addPhoneCalendar`.
#[derive(Clone, Debug, PartialEq)]
pub struct PhoneCalendar {
    pub title: String,
    /// Unix seconds.
    pub start_time: i64,
    /// Unix seconds.
    pub end_time: i64,
    pub location: String,
    pub description: String,
    /// Seconds before the start.
    pub alarm_offset: i64,
}

/// The phone-calendar entry of an activity.
pub fn phone_calendar(
    title: &str,
    description: &str,
    organization_name: &str,
    location: &str,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
) -> PhoneCalendar {
    let description = if organization_name.is_empty() {
        description.trim().to_owned()
    } else {
        format!("{}\n主办：{organization_name}", description.trim()).trim().to_owned()
    };
    PhoneCalendar {
        title: title.to_owned(),
        start_time: starts_at.timestamp(),
        end_time: ends_at.timestamp(),
        location: location.to_owned(),
        description,
        alarm_offset: PHONE_ALARM_OFFSET_SECS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn event(title: &str, place: Place, cancelled: bool) -> FeedEvent {
        let start = Utc.with_ymd_and_hms(2027, 3, 2, 1, 0, 0).single().unwrap_or_default();
        FeedEvent {
            activity_id: 7,
            title: title.into(),
            description: "带上手套; 在3号楼集合, 谢谢".into(),
            organization_name: "夕阳红志愿服务队".into(),
            location: "金塔巷3号楼".into(),
            latitude: Some(36.06),
            longitude: Some(103.82),
            starts_at: start,
            ends_at: start + chrono::Duration::hours(2),
            version: 2,
            cancelled,
            cancel_reason: cancelled.then(|| "大风".to_owned()),
            place,
            updated_at: start,
        }
    }

    #[test]
    fn tokens_are_random_hex_and_only_ours_hash() {
        let a = new_token();
        assert_eq!(a.len(), 64);
        assert_ne!(a, new_token());
        assert_eq!(token_hash(&a).map(|h| h.len()), Some(64));
        assert_eq!(token_hash("short"), None);
        assert_eq!(token_hash(&a.to_uppercase()), None);
        assert_eq!(token_hash(&format!("{}é", &a[..62])), None);
    }

    #[test]
    fn uids_are_stable_per_activity_and_resident() {
        assert_eq!(uid(7, 1), uid(7, 1));
        assert_ne!(uid(7, 1), uid(7, 2));
        assert_ne!(uid(7, 1), uid(8, 1));
        assert!(!uid(7, 12345).contains("12345"));
    }

    #[test]
    fn the_feed_is_utc_with_refresh_and_status() {
        let text = feed(1, &[event("楼道清扫", Place::Held, false)], Utc::now());
        assert!(text.contains("REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n"), "{text}");
        assert!(text.contains("X-PUBLISHED-TTL:PT1H\r\n"));
        assert!(text.contains("DTSTART:20270302T010000Z\r\n"), "{text}");
        assert!(text.contains("STATUS:CONFIRMED\r\n"));
        assert!(text.contains("SEQUENCE:2\r\n"));
        assert!(text.contains("带上手套\\; 在3号楼集合\\, 谢谢"), "text is escaped: {text}");
        let cancelled = feed(1, &[event("楼道清扫", Place::Held, true)], Utc::now());
        assert!(cancelled.contains("STATUS:CANCELLED\r\n"));
        assert!(cancelled.contains("SEQUENCE:3\r\n"));
        let queued = feed(1, &[event("楼道清扫", Place::Waitlisted, false)], Utc::now());
        assert!(queued.contains("STATUS:TENTATIVE\r\n"));
    }

    #[test]
    fn long_chinese_lines_fold_on_character_boundaries() {
        let title = "金塔巷社区夕阳红志愿服务队组织的老年人健康讲座与义诊活动欢迎各位居民朋友踊跃参加";
        let text = feed(1, &[event(title, Place::Held, false)], Utc::now());
        for line in text.split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line}", line.len());
        }
        let unfolded = text.replace("\r\n ", "");
        assert!(unfolded.contains(&format!("SUMMARY:{title}")), "{unfolded}");
    }

    #[test]
    fn the_phone_entry_is_in_unix_seconds() {
        let e = event("楼道清扫", Place::Held, false);
        let p = phone_calendar(&e.title, "带上手套", "队", &e.location, e.starts_at, e.ends_at);
        assert_eq!(p.end_time - p.start_time, 7200);
        assert_eq!(p.alarm_offset, 3600);
        assert_eq!(p.description, "带上手套\n主办：队");
    }
}
