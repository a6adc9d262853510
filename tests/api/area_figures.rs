//! Figures above county level: a province's cities and a city's counties side by side
//! (`service::area_metrics`), each person counted once per area.

use linli_server::entity::organization;
use linli_tests::{Session, TestApp, TestResult, expect_json, expect_problem, spawn_app};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

async fn figures(app: &TestApp, who: &Session, region: i64, query: &str) -> anyhow::Result<Value> {
    expect_json(app.get(&format!("/api/v1/regions/{region}/metrics?{query}"), Some(&who.access_token)).await?, 200)
        .await
}

fn row<'a>(m: &'a Value, list: &str, key: &str, id: i64) -> &'a Value {
    m[list].as_array().and_then(|rows| rows.iter().find(|r| r[key]["id"] == id)).unwrap_or(&Value::Null)
}

/// The figures an area row and the area's own answer must agree on.
fn summary(v: &Value, communities: &str) -> Value {
    json!({
        "communities": v[communities], "meeting": v["communities_meeting_target"], "organizations": v["organizations"],
        "activities": v["activities_held"], "signups": v["signups"], "attended": v["attended"],
        "participants": v["participants"], "active": v["active_organizations"], "residents": v["residents_registered"],
        "resident_participants": v["resident_participants"], "hours": v["volunteer_hours"],
    })
}

#[tokio::test]
async fn a_province_and_a_city_see_their_areas_counting_each_person_once() -> TestResult {
    let app = spawn_app().await?;
    let since = app.since_now();
    let province = app.region("620000000000").await?; // 甘肃省
    let city = app.region("620100000000").await?; // 兰州市
    let chengguan = app.region("620102000000").await?; // 城关区
    let qilihe = app.region("620103000000").await?; // 七里河区
    let admin = app.login_openid("demo-admin").await?;
    let (gansu, lanzhou) = (app.login("province-official").await?, app.login("city-official").await?);
    for (who, scope) in [(&gansu, province), (&lanzhou, city)] {
        let body = json!({"user_id": who.user_id, "role": "civil_affairs", "scope_id": scope});
        expect_json(app.post("/api/v1/admin/role-grants", Some(&admin.access_token), body).await?, 201).await?;
    }

    // A neighbour of 金塔巷 takes part in 金塔巷 and in 大众巷 (both 城关区); a visitor
    // from 七里河区 takes part in 金塔巷. The demo leader also leads a 大众巷 organization
    // (granted by the operator's CLI).
    let (leader, jintaxiang_org) = app.demo_leader().await?;
    let dazhong = organization::Entity::find()
        .filter(organization::Column::Name.eq("大众巷青少年课业辅导站"))
        .one(&app.ctx.db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo organization missing"))?
        .id;
    linli_server::cli::grant_role(&app.ctx.config, "demo-leader", "org_leader", Some(dazhong)).await?;
    let home = |code: &'static str, community: &'static str| {
        let app = &app;
        async move {
            let who = app.login(code).await?;
            let id = app.region(community).await?;
            expect_json(app.patch("/api/v1/me", Some(&who.access_token), json!({"home_community_id": id})).await?, 200)
                .await
        }
    };
    home("area-neighbour", "620102002006").await?;
    home("area-visitor", "620103001001").await?;
    app.hold_activity(&leader, jintaxiang_org, "area-neighbour").await?;
    let leader = app.demo_login("demo-leader").await?;
    app.hold_activity(&leader, dazhong, "area-neighbour").await?;
    let leader = app.demo_login("demo-leader").await?;
    app.hold_activity(&leader, jintaxiang_org, "area-visitor").await?;

    // The county lists its communities: the neighbour in each of two.
    let civil = app.demo_login("demo-civil").await?;
    let county = figures(&app, &civil, chengguan, &since).await?;
    assert_eq!(county["areas"], json!([]));
    let community_participants: i64 =
        county["communities"].as_array().into_iter().flatten().filter_map(|c| c["participants"].as_i64()).sum();
    assert_eq!((community_participants, county["participants"].as_i64()), (3, Some(2)));

    // The city: its counties side by side, the neighbour once in 城关区.
    let lanzhou = app.login("city-official").await?;
    let c = figures(&app, &lanzhou, city, &since).await?;
    assert_eq!(c["communities"], json!([]), "no community rows above county level");
    let areas: Vec<&str> =
        c["areas"].as_array().into_iter().flatten().filter_map(|a| a["area"]["name"].as_str()).collect();
    assert_eq!(areas, ["城关区", "七里河区", "榆中县"]);
    let cg = row(&c, "areas", "area", chengguan);
    assert_eq!(
        (cg["activities_held"].as_i64(), cg["participants"].as_i64(), cg["resident_participants"].as_i64()),
        (Some(3), Some(2), Some(1)),
        "{cg}"
    );
    assert_eq!((cg["visitors"].as_i64(), cg["active_organizations"].as_i64()), (Some(1), Some(2)));
    assert_eq!(summary(cg, "communities"), summary(&county, "community_count"), "the row is the county's own answer");
    let ql = row(&c, "areas", "area", qilihe);
    assert_eq!((ql["participants"].as_i64(), ql["activities_held"].as_i64()), (Some(0), Some(0)));
    assert!(ql["residents_registered"].as_i64() >= Some(1), "the visitor lives there");
    assert_eq!((c["participants"].as_i64(), c["resident_participants"].as_i64()), (Some(2), Some(2)));
    let months =
        |v: &Value| v["monthly"].as_array().map(|m| m.iter().map(|x| x["participants"].clone()).collect::<Vec<_>>());
    assert_eq!(months(cg), months(&county), "month by month too");

    // The province: its cities; 兰州市's row is the city's own answer.
    let gansu = app.login("province-official").await?;
    let p = figures(&app, &gansu, province, &since).await?;
    assert_eq!(p["communities"], json!([]));
    let lz = row(&p, "areas", "area", city);
    assert_eq!(summary(lz, "communities"), summary(&c, "community_count"));
    assert_eq!((lz["participants"].as_i64(), lz["visitors"].as_i64()), (Some(2), Some(0)));
    let counted: i64 = p["areas"].as_array().into_iter().flatten().filter_map(|a| a["communities"].as_i64()).sum();
    assert_eq!(p["community_count"].as_i64(), Some(counted));

    // Over the demo's past year as well (the default period), at every level.
    let county = figures(&app, &civil, chengguan, "").await?;
    let c = figures(&app, &lanzhou, city, "").await?;
    let p = figures(&app, &gansu, province, "").await?;
    assert!(county["participants"].as_i64() > Some(2), "the demo's past: {}", county["participants"]);
    assert_eq!(summary(row(&c, "areas", "area", chengguan), "communities"), summary(&county, "community_count"));
    assert_eq!(summary(row(&p, "areas", "area", city), "communities"), summary(&c, "community_count"));

    // The export has a row per area.
    let csv = app
        .get(&format!("/api/v1/regions/{city}/metrics/export?{since}&format=csv"), Some(&lanzhou.access_token))
        .await?
        .text()
        .await?;
    let header = csv.lines().next().unwrap_or_default();
    assert!(header.starts_with("\u{feff}地区,社区/村数,组织数,达标社区/村,未达标社区/村"), "{header}");
    let cells: Vec<&str> = csv.lines().find(|l| l.starts_with("城关区")).unwrap_or_default().split(',').collect();
    assert_eq!((cells.get(8), cells.get(13)), (Some(&"3"), Some(&"2")), "activities, participants: {cells:?}");
    let xlsx =
        app.get(&format!("/api/v1/regions/{province}/metrics/export?format=xlsx"), Some(&gansu.access_token)).await?;
    assert_eq!(xlsx.status().as_u16(), 200);
    assert!(xlsx.bytes().await?.starts_with(b"PK"));

    // A city's office does not read the province; a county's not the city.
    let path = format!("/api/v1/regions/{province}/metrics");
    expect_problem(app.get(&path, Some(&lanzhou.access_token)).await?, 403, "forbidden").await?;
    let path = format!("/api/v1/regions/{city}/metrics");
    expect_problem(app.get(&path, Some(&civil.access_token)).await?, 403, "forbidden").await?;
    Ok(())
}

/// A deployment upgraded from before the monthly participant sets: its first start
/// derives them from `participant_years`, and every participant figure reads as it did.
/// Deriving them again (`linli rebuild-participants`) changes nothing.
#[tokio::test]
async fn participant_sets_derived_after_an_upgrade_give_the_same_figures() -> TestResult {
    use linli_server::{entity::participant_month, service::participant_counts};
    let app = spawn_app().await?;
    let err = |e: linli_server::error::AppError| anyhow::anyhow!("{e}");
    let city = app.region("620100000000").await?; // 兰州市: its counties, over the demo's past year
    let street = app.region("620102002000").await?;
    let admin = app.login_openid("demo-admin").await?;
    let lanzhou = app.login("city-sets-official").await?;
    let body = json!({"user_id": lanzhou.user_id, "role": "civil_affairs", "scope_id": city});
    expect_json(app.post("/api/v1/admin/role-grants", Some(&admin.access_token), body).await?, 201).await?;
    let official = app.login_openid("demo-street").await?;
    let participants = |v: &Value| {
        let rows = |list: &str| {
            v[list]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| (r["participants"].clone(), r["resident_participants"].clone()))
                .collect::<Vec<_>>()
        };
        let monthly: Vec<Value> =
            v["monthly"].as_array().into_iter().flatten().map(|m| m["participants"].clone()).collect();
        json!([v["participants"], v["resident_participants"], rows("communities"), rows("areas"), monthly])
    };
    let before = (
        participants(&figures(&app, &lanzhou, city, "").await?),
        participants(&figures(&app, &official, street, "").await?),
    );
    assert!(before.1[0].as_i64() > Some(0), "the demo's past has participants: {}", before.1);

    participant_month::Entity::delete_many().exec(&app.ctx.db).await?;
    let emptied = participants(&figures(&app, &official, street, "").await?);
    assert_eq!(emptied[0], 0, "the figures read the sets");
    participant_counts::fill_if_new(&app.ctx.db).await.map_err(err)?;
    let after = (
        participants(&figures(&app, &lanzhou, city, "").await?),
        participants(&figures(&app, &official, street, "").await?),
    );
    assert_eq!(after, before);
    participant_counts::rebuild(&app.ctx.db).await.map_err(err)?;
    let again = (
        participants(&figures(&app, &lanzhou, city, "").await?),
        participants(&figures(&app, &official, street, "").await?),
    );
    assert_eq!(again, before);
    Ok(())
}

/// The activity figures read each community's summed months (`activity_months`), and
/// the months a period cuts from `activity_stats` itself: over the year to date and over
/// a period from mid-month to mid-month they agree with the record (each activity closed
/// in the street's communities whose start falls in the period). A deployment upgraded
/// from before the months gets them summed at its first start; summing again
/// (`linli rebuild-figures`) changes nothing.
#[tokio::test]
async fn activity_months_agree_with_the_record_and_are_summed_after_an_upgrade() -> TestResult {
    use chrono::{DateTime, Duration, Utc};
    use linli_server::{
        entity::{activity_month, activity_stat, region},
        service::activity_months,
    };
    let app = spawn_app().await?;
    let err = |e: linli_server::error::AppError| anyhow::anyhow!("{e}");
    let city = app.region("620100000000").await?; // 兰州市: its counties
    let street = app.region("620102002000").await?;
    let admin = app.login_openid("demo-admin").await?;
    let lanzhou = app.login("city-months-official").await?;
    let body = json!({"user_id": lanzhou.user_id, "role": "civil_affairs", "scope_id": city});
    expect_json(app.post("/api/v1/admin/role-grants", Some(&admin.access_token), body).await?, 201).await?;
    let official = app.login_openid("demo-street").await?;
    let at = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let now = Utc::now();
    let (from, to) = (now - Duration::days(250), now - Duration::days(40));
    let cut = format!("from={}&to={}", at(from), at(to));
    let (year, last_365) = (String::new(), format!("from={}", at(now - Duration::days(365))));

    // The record: the street's communities' closed activities in the cut period.
    let street_path = region::Entity::find_by_id(street).one(&app.ctx.db).await?.map(|r| r.path).unwrap_or_default();
    let communities: Vec<i64> = region::Entity::find()
        .filter(region::Column::Path.starts_with(street_path.as_str()))
        .filter(region::Column::Level.eq("community"))
        .all(&app.ctx.db)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    let held = activity_stat::Entity::find()
        .filter(activity_stat::Column::CommunityId.is_in(communities))
        .filter(activity_stat::Column::StartsAt.gte(from))
        .filter(activity_stat::Column::StartsAt.lt(to))
        .all(&app.ctx.db)
        .await?;
    let organizations: std::collections::HashSet<i64> = held.iter().map(|s| s.organization_id).collect();
    let v = figures(&app, &official, street, &cut).await?;
    assert!(held.len() > 3, "the demo's past has activities in the period");
    assert_eq!(v["activities_held"], held.len(), "{v}");
    assert_eq!(v["attended"], held.iter().map(|s| i64::from(s.attended)).sum::<i64>());
    assert_eq!(v["signups"], held.iter().map(|s| i64::from(s.signups)).sum::<i64>());
    assert_eq!(v["active_organizations"], organizations.len());
    let minutes: i64 = held.iter().map(|s| s.minutes).sum();
    assert_eq!(v["volunteer_hours"].as_f64(), Some((minutes as f64 / 6.0).round() / 10.0));

    let activity = |v: &Value| {
        let figures = |r: &Value| {
            json!([
                r["activities_held"],
                r["signups"],
                r["attended"],
                r["no_shows"],
                r["volunteer_hours"],
                r["active_organizations"]
            ])
        };
        let rows = |list: &str| v[list].as_array().into_iter().flatten().map(figures).collect::<Vec<_>>();
        json!([figures(v), rows("communities"), rows("areas"), rows("monthly")])
    };
    let snapshot = async || -> anyhow::Result<Vec<Value>> {
        let mut out = Vec::new();
        for (who, region) in [(&lanzhou, city), (&official, street)] {
            for period in [&year, &cut, &last_365] {
                out.push(activity(&figures(&app, who, region, period).await?));
            }
        }
        Ok(out)
    };
    let before = snapshot().await?;
    assert!(before[4][0][0].as_i64() > Some(0), "the demo's past has activities: {}", before[4]);

    activity_month::Entity::delete_many().exec(&app.ctx.db).await?;
    let emptied = activity(&figures(&app, &official, street, &year).await?);
    assert_eq!(emptied[0][0], 0, "the figures read the months");
    activity_months::fill_if_new(&app.ctx.db).await.map_err(err)?;
    assert_eq!(snapshot().await?, before);
    activity_months::rebuild(&app.ctx.db).await.map_err(err)?;
    assert_eq!(snapshot().await?, before);
    Ok(())
}
