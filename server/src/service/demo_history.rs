//! The demo's past: a year of held activities for the demo organizations, so figures,
//! exports and charts show believable numbers on first start.
//!
//! For each of the last twelve months (before the clock's "now") each demo organization
//! holds one or two activities (some months none), with sign-ups from a pool of
//! neighbours of its community, check-ins and check-outs, late arrivals who earn no
//! hours, and no-shows. Every activity is then closed by the real closing
//! ([`attendance::close_at`]), which marks the no-shows, credits minutes and time-bank
//! minutes and writes the rollups (`activity_stats`, `participant_years`, `participant_months`) exactly as
//! staff's finish does.
//!
//! Deterministic: a fixed-seed generator ([`Rng`]), no wall-clock randomness; dates are
//! relative to `now`. Idempotent: the whole past is written in one transaction, once (its
//! neighbours' accounts are the marker).

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::{
    domain::{
        activity::{ActivityKind, ActivityStatus, SignupStatus},
        clock::{shanghai, to_shanghai},
        organization::Category,
    },
    entity::{activity, attendance, organization, region, signup, user},
    error::{AppError, AppResult},
    service::{attendance::close_at, begin_write, demo::ORGANIZATIONS},
};

/// The neighbours per demo community who take part in its organizations' past.
pub const NEIGHBOURS_PER_COMMUNITY: usize = 14;

/// The seed of the demo's past: the same year on every machine.
const SEED: u64 = 0x6c69_6e6c_6932_3032; // "linli202"

/// What closing credits by default (`ATTENDANCE_MIN_RATIO`).
const MIN_RATIO: f64 = crate::config::DEFAULT_ATTENDANCE_MIN_RATIO;

/// A small deterministic generator (SplitMix64): the demo's past must not change with a
/// crate's version.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % ((hi - lo + 1) as u64)) as i64
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

/// What an organization of a category holds: kind, titles, start hour, hours.
fn program(category: Category) -> (ActivityKind, &'static [&'static str], u32, i64) {
    match category {
        Category::CommunityService => {
            (ActivityKind::Volunteer, &["入户探访独居老人", "社区环境清洁日", "防诈骗宣传进楼栋", "为老人理发"], 9, 2)
        }
        Category::MutualAid => (ActivityKind::MutualAid, &["邻里互助小修日", "结对帮扶走访", "互助经验分享会"], 14, 2),
        Category::CultureSports => (ActivityKind::CultureSports, &["公益教学课", "广场展演", "排练与交流"], 8, 2),
        Category::Charity => (ActivityKind::Charity, &["爱心物资分发", "困难家庭走访", "周末陪伴活动"], 14, 3),
        Category::RuralProduction => {
            (ActivityKind::Training, &["田间技术培训", "种养经验交流会", "农技人员现场指导"], 10, 3)
        }
        Category::SocialWork => (ActivityKind::Volunteer, &["个案探访", "康复小组活动", "家庭支持小组"], 9, 2),
    }
}

const SURNAMES: &[&str] = &["张", "王", "李", "赵", "刘", "陈", "杨", "黄", "马", "周", "吴", "徐", "孙", "朱"];
const CALLS: &[&str] = &["阿姨", "大爷", "姐", "哥", "师傅", "奶奶", "老师"];

/// Writes the past once. Returns whether it was written now.
pub async fn seed(db: &DatabaseConnection, now: DateTime<Utc>) -> AppResult<bool> {
    let marker = format!("demo-past-{}-1", ORGANIZATIONS[0].0);
    if user::Entity::find().filter(user::Column::Openid.eq(marker)).one(db).await?.is_some() {
        return Ok(false);
    }
    let txn = begin_write(db).await?;
    let mut rng = Rng::new(SEED);
    let leader = user::Entity::find()
        .filter(user::Column::Openid.eq("demo-leader"))
        .one(&txn)
        .await?
        .map(|u| u.id)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no demo leader account")))?;

    // Each community's neighbours, made once.
    let mut neighbours: Vec<(&str, Vec<i64>)> = Vec::new();
    let mut arrived: Vec<(i64, Vec<i64>)> = Vec::new();
    for (code, ..) in ORGANIZATIONS {
        if neighbours.iter().any(|(c, _)| c == code) {
            continue;
        }
        let community = community(&txn, code).await?;
        let mut ids = Vec::with_capacity(NEIGHBOURS_PER_COMMUNITY);
        for n in 1..=NEIGHBOURS_PER_COMMUNITY {
            let nickname = format!(
                "{}{}",
                SURNAMES[rng.between(0, SURNAMES.len() as i64 - 1) as usize],
                CALLS[rng.between(0, CALLS.len() as i64 - 1) as usize]
            );
            let created = now - Duration::days(400);
            let inserted = user::Entity::insert(user::ActiveModel {
                openid: Set(Some(format!("demo-past-{code}-{n}"))),
                nickname: Set(Some(nickname)),
                home_community_id: Set(Some(community.id)),
                token_version: Set(0),
                created_at: Set(created),
                updated_at: Set(created),
                ..Default::default()
            })
            .exec(&txn)
            .await?;
            ids.push(inserted.last_insert_id);
        }
        arrived.push((community.id, ids.clone()));
        neighbours.push((code, ids));
    }
    // Into their communities' sets of residents in ascending order, as every move locks.
    arrived.sort_unstable();
    for (community, ids) in &arrived {
        crate::service::community_residents::arrived(&txn, *community, ids).await?;
    }

    let today = to_shanghai(now).date_naive();
    let this_month = today.with_day(1).unwrap_or(today);
    for (code, name, category, ..) in ORGANIZATIONS {
        let org = organization::Entity::find()
            .filter(organization::Column::Name.eq(*name))
            .one(&txn)
            .await?
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no demo organization {name}")))?;
        let pool = neighbours.iter().find(|(c, _)| c == code).map(|(_, ids)| ids.as_slice()).unwrap_or_default();
        let (kind, titles, hour, hours) = program(*category);
        for months_ago in (1..=12i64).rev() {
            let held = match rng.between(0, 9) {
                0 | 1 => 0,
                2..=7 => 1,
                _ => 2,
            };
            for n in 0..held {
                // A day in that month, at least a day before now.
                let day = today - Duration::days(months_ago * 30 - rng.between(0, 27) - n * 3);
                let Some(starts_at) = shanghai()
                    .with_ymd_and_hms(day.year(), day.month(), day.day(), hour, 0, 0)
                    .single()
                    .map(|t| t.with_timezone(&Utc))
                else {
                    continue;
                };
                let ends_at = starts_at + Duration::hours(hours);
                // The past ends with last month (Asia/Shanghai): this month's figures are
                // the visitor's own, and figures counted by whole months (distinct
                // participants) never mix the demo's past into them.
                if ends_at + Duration::hours(1) > now || day >= this_month {
                    continue;
                }
                let title = titles[rng.between(0, titles.len() as i64 - 1) as usize];
                let capacity = rng.between(10, 30) as i32;
                let taking = rng.between(5, Ord::min(capacity as i64, pool.len() as i64)) as usize;
                let first = rng.between(0, pool.len() as i64 - 1) as usize;
                let people: Vec<i64> = (0..taking).map(|i| pool[(first + i * 5) % pool.len()]).collect();
                let published = starts_at - Duration::days(7);
                let a = activity::Entity::insert(activity::ActiveModel {
                    organization_id: Set(org.id),
                    community_id: Set(org.community_id),
                    kind: Set(kind.as_str().into()),
                    title: Set(title.into()),
                    description: Set(format!("{name}的日常活动。")),
                    location: Set(format!("{}活动室", community_label(&txn, org.community_id).await?)),
                    latitude: Set(org.latitude),
                    longitude: Set(org.longitude),
                    starts_at: Set(starts_at),
                    ends_at: Set(ends_at),
                    signup_deadline: Set(starts_at - Duration::hours(2)),
                    cancel_cutoff_minutes: Set(120),
                    capacity: Set(capacity),
                    waitlist_enabled: Set(true),
                    service_minutes: Set((hours * 60) as i32),
                    target_groups: Set(String::new()),
                    status: Set(ActivityStatus::Published.as_str().into()),
                    confirmed_count: Set(people.len() as i32),
                    waitlist_count: Set(0),
                    signup_seq: Set(people.len() as i64),
                    version: Set(1),
                    created_by: Set(Some(leader)),
                    published_at: Set(Some(published)),
                    created_at: Set(published),
                    updated_at: Set(published),
                    ..Default::default()
                })
                .exec_with_returning(&txn)
                .await?;
                let mut signups = Vec::with_capacity(people.len());
                let mut checkins = Vec::new();
                for (seq, person) in people.iter().enumerate() {
                    // Most come; a few do not (no-shows at closing); some come late or
                    // leave early and earn nothing; some forget to check out.
                    let came = rng.chance(85);
                    signups.push(signup::ActiveModel {
                        activity_id: Set(a.id),
                        user_id: Set(*person),
                        status: Set(if came { SignupStatus::Attended } else { SignupStatus::Confirmed }
                            .as_str()
                            .into()),
                        seq: Set(seq as i64 + 1),
                        reason: Set(None),
                        regular: Set(false),
                        created_at: Set(published + Duration::hours(rng.between(1, 120))),
                        updated_at: Set(starts_at),
                        ..Default::default()
                    });
                    if came {
                        let late = rng.chance(8);
                        let checked_in_at = if late {
                            starts_at + Duration::minutes(hours * 45)
                        } else {
                            starts_at + Duration::minutes(rng.between(-10, 10))
                        };
                        let checked_out_at =
                            (!rng.chance(15)).then(|| ends_at + Duration::minutes(rng.between(-5, 15)));
                        checkins.push(attendance::ActiveModel {
                            activity_id: Set(a.id),
                            user_id: Set(*person),
                            checked_in_at: Set(checked_in_at),
                            checked_out_at: Set(checked_out_at),
                            in_method: Set("staff".into()),
                            out_method: Set(checked_out_at.map(|_| "staff".into())),
                            recorded_by: Set(Some(leader)),
                            credited_minutes: Set(None),
                            created_at: Set(checked_in_at),
                            updated_at: Set(checked_out_at.unwrap_or(checked_in_at)),
                            ..Default::default()
                        });
                    }
                }
                signup::Entity::insert_many(signups).exec_without_returning(&txn).await?;
                if !checkins.is_empty() {
                    attendance::Entity::insert_many(checkins).exec_without_returning(&txn).await?;
                }
                close_at(&txn, &a, ends_at + Duration::minutes(20), MIN_RATIO).await?;
            }
        }
    }
    txn.commit().await?;
    Ok(true)
}

async fn community(db: &impl sea_orm::ConnectionTrait, code: &str) -> AppResult<region::Model> {
    region::Entity::find()
        .filter(region::Column::Code.eq(code))
        .one(db)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("demo community {code} missing")))
}

/// 「金塔巷社区居委会」 → 「金塔巷社区」, 「北关村委会」 → 「北关村」: what a place is called.
async fn community_label(db: &impl sea_orm::ConnectionTrait, id: i64) -> AppResult<String> {
    let name = region::Entity::find_by_id(id).one(db).await?.map(|r| r.name).unwrap_or_default();
    Ok(short_name(&name))
}

/// A community committee's name as people say the place: without 居委会 / 居民委员会 /
/// 委员会 / 委会.
pub fn short_name(name: &str) -> String {
    for suffix in ["居民委员会", "村民委员会", "居委会", "委员会", "委会"] {
        if let Some(head) = name.strip_suffix(suffix) {
            return head.to_owned();
        }
    }
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_fixed() {
        let mut a = Rng::new(SEED);
        let mut b = Rng::new(SEED);
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        assert_eq!(xs, (0..5).map(|_| b.next_u64()).collect::<Vec<_>>());
        let mut r = Rng::new(1);
        assert!((0..1000).map(|_| r.between(3, 7)).all(|x| (3..=7).contains(&x)));
    }

    #[test]
    fn places_are_called_by_their_short_names() {
        assert_eq!(short_name("金塔巷社区居委会"), "金塔巷社区");
        assert_eq!(short_name("北关村委会"), "北关村");
        assert_eq!(short_name("雷坛河西街社区居民委员会"), "雷坛河西街社区");
        assert_eq!(short_name("牡丹园社区"), "牡丹园社区");
    }
}
