//! `linli import-regions` and the demo's region tree and past.

use linli_server::{
    entity::{activity, activity_stat, region, region_event, signup},
    service::{
        demo::{self, DemoRegions},
        region_import::import_file,
    },
};
use linli_tests::{TestApp, TestResult, expect_json, expect_problem, spawn_app};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

/// A small tree in a province the demo does not use (新疆, 65).
const FILE: &str = "code,name,parent_code,level,urban_rural_code
650000000000,新疆维吾尔自治区,,province,
650100000000,乌鲁木齐市,650000000000,city,
650102000000,天山区,650100000000,county,
650102001000,燕儿窝街道,650102000000,street,
650102001001,胜利路社区居委会,650102001000,community,
650102001002,燕儿窝村委会,650102001000,community,
650102001003,南湖社区居委会,650102001000,community,220
650102001004,东风社区居委会,650102001000,community,
";

fn write(dir: &std::path::Path, name: &str, text: &str) -> anyhow::Result<std::path::PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    Ok(path)
}

fn temp_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("linli-regions-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

async fn count(app: &TestApp) -> anyhow::Result<u64> {
    Ok(region::Entity::find().count(&app.ctx.db).await?)
}

async fn events(app: &TestApp, code: &str) -> anyhow::Result<Vec<(String, Option<String>, Option<String>)>> {
    let id = app.region(code).await?;
    Ok(region_event::Entity::find()
        .filter(region_event::Column::RegionId.eq(id))
        .all(&app.ctx.db)
        .await?
        .into_iter()
        .map(|e| (e.action, e.from_value, e.to_value))
        .collect())
}

#[tokio::test]
async fn an_import_is_idempotent_and_tells_urban_from_rural() -> TestResult {
    let app = spawn_app().await?;
    let dir = temp_dir()?;
    let file = write(&dir, "xj.csv", FILE)?;
    let before = count(&app).await?;
    let first = import_file(&app.ctx.db, &file, app.clock_now()).await?;
    assert_eq!((first.read, first.added), (8, 8), "{first}");
    assert_eq!(count(&app).await?, before + 8);
    let again = import_file(&app.ctx.db, &file, app.clock_now()).await?;
    assert!(again.is_unchanged(), "a second run changes nothing: {again}");
    assert_eq!(count(&app).await?, before + 8);

    // The name tells, unless the classification code (城乡分类代码) says otherwise.
    let kind = |code: &'static str| {
        let app = &app;
        async move {
            let id = app.region(code).await?;
            let body = expect_json(app.get(&format!("/api/v1/regions/{id}"), None).await?, 200).await?;
            anyhow::Ok(body["kind"].clone())
        }
    };
    assert_eq!(kind("650102001001").await?, "urban");
    assert_eq!(kind("650102001002").await?, "rural");
    assert_eq!(kind("650102001003").await?, "rural", "220 wins over 社区");
    assert_eq!(kind("650102001000").await?, serde_json::Value::Null);

    // The tree walks from the new province down, with paths the scope checks use.
    let street = app.region("650102001000").await?;
    let kids = expect_json(app.get(&format!("/api/v1/regions?parent_id={street}"), None).await?, 200).await?;
    assert_eq!(kids["items"].as_array().map(Vec::len), Some(4));
    let id = app.region("650102001001").await?;
    let body = expect_json(app.get(&format!("/api/v1/regions/{id}"), None).await?, 200).await?;
    let names: Vec<&str> =
        body["ancestors"].as_array().into_iter().flatten().filter_map(|a| a["name"].as_str()).collect();
    assert_eq!(names, ["新疆维吾尔自治区", "乌鲁木齐市", "天山区", "燕儿窝街道"]);
    assert_eq!(body["retired_at"], serde_json::Value::Null);
    Ok(())
}

#[tokio::test]
async fn renamed_moved_and_vanished_units_are_recorded_and_vanished_ones_kept() -> TestResult {
    let app = spawn_app().await?;
    let dir = temp_dir()?;
    import_file(&app.ctx.db, &write(&dir, "2022.csv", FILE)?, app.clock_now()).await?;

    // A resident lives in 东风社区 and an organization is filed there.
    let resident = app.login("dongfeng").await?;
    let dongfeng = app.region("650102001004").await?;
    expect_json(
        app.patch("/api/v1/me", Some(&resident.access_token), json!({"home_community_id": dongfeng})).await?,
        200,
    )
    .await?;

    // Next year: 胜利路 is renamed, the street hangs from the city (不设区), 南湖 is
    // reclassified by its code, 东风 is gone.
    let next = FILE
        .replace("650102001001,胜利路社区居委会", "650102001001,胜利社区居委会")
        .replace("650102001000,燕儿窝街道,650102000000", "650102001000,燕儿窝街道,650100000000")
        .replace("南湖社区居委会,650102001000,community,220", "南湖社区居委会,650102001000,community,111")
        .replace("650102001004,东风社区居委会,650102001000,community,\n", "");
    let before = count(&app).await?;
    let report = import_file(&app.ctx.db, &write(&dir, "2023.csv", &next)?, app.clock_now()).await?;
    assert_eq!(
        (report.renamed, report.moved, report.reclassified, report.retired, report.added),
        (1, 1, 1, 1, 0),
        "{report}"
    );
    assert_eq!(count(&app).await?, before, "nothing is deleted");
    assert_eq!(
        events(&app, "650102001001").await?,
        [("renamed".into(), Some("胜利路社区居委会".into()), Some("胜利社区居委会".into()))]
    );
    assert_eq!(
        events(&app, "650102001000").await?,
        [("moved".into(), Some("650102000000".into()), Some("650100000000".into()))]
    );
    assert_eq!(events(&app, "650102001003").await?[0].0, "reclassified");
    assert_eq!(events(&app, "650102001004").await?[0].0, "retired");

    // The move rewrote the subtree's paths: the county is no longer an ancestor.
    let id = app.region("650102001001").await?;
    let body = expect_json(app.get(&format!("/api/v1/regions/{id}"), None).await?, 200).await?;
    let names: Vec<&str> =
        body["ancestors"].as_array().into_iter().flatten().filter_map(|a| a["name"].as_str()).collect();
    assert_eq!(names, ["新疆维吾尔自治区", "乌鲁木齐市", "燕儿窝街道"]);
    assert_eq!(body["name"], "胜利社区居委会");

    // The retired community: still there by id, hidden from browsing, no new filings.
    let gone = expect_json(app.get(&format!("/api/v1/regions/{dongfeng}"), None).await?, 200).await?;
    assert!(gone["retired_at"].is_string(), "{gone}");
    let street = app.region("650102001000").await?;
    let kids = expect_json(app.get(&format!("/api/v1/regions?parent_id={street}"), None).await?, 200).await?;
    let codes: Vec<&str> = kids["items"].as_array().into_iter().flatten().filter_map(|r| r["code"].as_str()).collect();
    assert_eq!(codes, ["650102001001", "650102001002", "650102001003"]);
    let me = expect_json(app.get("/api/v1/me", Some(&resident.access_token)).await?, 200).await?;
    assert_eq!(me["home_community"]["id"], dongfeng, "old records still refer to it: {me}");
    let other = app.login("newcomer").await?;
    let refused = expect_problem(
        app.patch("/api/v1/me", Some(&other.access_token), json!({"home_community_id": dongfeng})).await?,
        422,
        "validation_failed",
    )
    .await?;
    assert!(refused.to_string().contains("region_retired"), "{refused}");

    // It comes back when a file has it again.
    let report = import_file(&app.ctx.db, &write(&dir, "2024.csv", FILE)?, app.clock_now()).await?;
    assert_eq!(report.restored, 1, "{report}");
    // (Read from the database: the public answer above may be cached for its TTL.)
    let back = region::Entity::find_by_id(dongfeng).one(&app.ctx.db).await?;
    assert_eq!(back.map(|r| r.retired_at), Some(None));
    Ok(())
}

#[tokio::test]
async fn a_bad_line_is_named_and_changes_nothing() -> TestResult {
    let app = spawn_app().await?;
    let dir = temp_dir()?;
    let config = (*app.ctx.config).clone();
    let before = count(&app).await?;
    for (text, line, says) in [
        (format!("{FILE}650102009001,无主社区,650102009000,community,\n"), 10, "unknown parent code 650102009000"),
        (FILE.replace("650102001002,燕儿窝村委会", "65010200100X,燕儿窝村委会"), 7, "12-digit"),
        (FILE.replace("天山区,650100000000,county", "天山区,650100000000,street"), 4, "is a county code"),
        (format!("{FILE}650102001005,\"红山社区\n"), 10, "fields"),
        (
            FILE.replace("南湖社区居委会,650102001000,community,220", "南湖社区居委会,650102001000,community,9"),
            8,
            "城乡分类代码",
        ),
    ] {
        let file = write(&dir, "bad.csv", &text)?;
        let err =
            linli_server::cli::import_regions(&config, &file).await.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains(&format!("line {line}:")) && err.contains(says), "{err}");
        assert!(err.contains("nothing was imported"), "{err}");
        assert_eq!(count(&app).await?, before, "{err}");
    }
    // A good file, then a bad one that would also rename: the rename is not applied.
    import_file(&app.ctx.db, &write(&dir, "good.csv", FILE)?, app.clock_now()).await?;
    let bad = format!(
        "{}650102009001,无主社区,650102009000,community,\n",
        FILE.replace("胜利路社区居委会", "改名社区居委会")
    );
    assert!(import_file(&app.ctx.db, &write(&dir, "bad2.csv", &bad)?, app.clock_now()).await.is_err());
    let id = app.region("650102001001").await?;
    let body = expect_json(app.get(&format!("/api/v1/regions/{id}"), None).await?, 200).await?;
    assert_eq!(body["name"], "胜利路社区居委会");
    Ok(())
}

#[tokio::test]
async fn the_whole_province_loads_once_and_browsing_shows_the_real_tree() -> TestResult {
    let app = spawn_app().await?;
    let started = std::time::Instant::now();
    let added = demo::seed_regions(&app.ctx.db, DemoRegions::Province, app.clock_now()).await?;
    let took = started.elapsed();
    let communities = region::Entity::find().filter(region::Column::Level.eq("community")).count(&app.ctx.db).await?;
    assert_eq!(communities, 17_718);
    assert!(added > 19_000, "{added}");
    assert!(took < std::time::Duration::from_secs(30), "{took:?}");
    assert_eq!(demo::seed_regions(&app.ctx.db, DemoRegions::Province, app.clock_now()).await?, 0, "once");

    // 张掖路街道's six communities, 金塔巷 the sixth; the demo's places kept their coordinates.
    let street = app.region("620102002000").await?;
    let kids = expect_json(app.get(&format!("/api/v1/regions?parent_id={street}&limit=100"), None).await?, 200).await?;
    let items = kids["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 6);
    let jinta = items.iter().find(|r| r["code"] == "620102002006").cloned().unwrap_or_default();
    assert_eq!(jinta["name"], "金塔巷社区居委会");
    assert_eq!(jinta["latitude"], 36.0627);

    // The committee's scope check and figures with the province loaded.
    let committee = app.login_openid("demo-committee").await?;
    let community = app.region("620102002006").await?;
    expect_json(app.get(&format!("/api/v1/regions/{community}/metrics"), Some(&committee.access_token)).await?, 200)
        .await?;
    let village = app.region("620123104203").await?; // 沈家河村委会, not the committee's
    expect_problem(
        app.get(&format!("/api/v1/regions/{village}/metrics"), Some(&committee.access_token)).await?,
        403,
        "forbidden",
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn the_demo_has_a_past_and_seeding_twice_adds_nothing() -> TestResult {
    let app = spawn_app().await?;
    let held = activity::Entity::find().filter(activity::Column::Status.eq("finished")).count(&app.ctx.db).await?;
    assert!(held > 100, "a year of activities: {held}");
    let no_shows = signup::Entity::find().filter(signup::Column::Status.eq("no_show")).count(&app.ctx.db).await?;
    assert!(no_shows > 0);
    let stats = activity_stat::Entity::find().count(&app.ctx.db).await?;
    assert!(stats >= held, "every held activity has its rollup");

    // The committee's figures for the last months are not zero.
    let committee = app.login_openid("demo-committee").await?;
    let community = app.region("620102002006").await?;
    let from = (app.clock_now() - chrono::Duration::days(365)).format("%Y-%m-%d");
    let cm = expect_json(
        app.get(&format!("/api/v1/regions/{community}/metrics?from={from}"), Some(&committee.access_token)).await?,
        200,
    )
    .await?;
    let c = &cm["communities"][0];
    assert!(c["activities_held"].as_i64().unwrap_or(0) >= 12, "{c}");
    assert!(c["participants"].as_i64().unwrap_or(0) >= 10, "{c}");
    assert!(c["no_shows"].as_i64().unwrap_or(0) > 0, "{c}");
    assert!(c["volunteer_hours"].as_f64().unwrap_or(0.0) > 50.0, "{c}");
    let busy =
        cm["monthly"].as_array().into_iter().flatten().filter(|m| m["activities_held"].as_i64() > Some(0)).count();
    assert!(busy >= 10, "month by month: {}", cm["monthly"]);

    // And the street's export has a row per community, with numbers.
    let street = app.login_openid("demo-street").await?;
    let street_id = app.region("620102002000").await?;
    let csv = app
        .get(&format!("/api/v1/regions/{street_id}/metrics/export?format=csv&from={from}"), Some(&street.access_token))
        .await?
        .text()
        .await?;
    let row = csv.lines().find(|l| l.starts_with("金塔巷社区")).unwrap_or_default();
    let cells: Vec<&str> = row.split(',').collect();
    assert!(cells.len() > 13 && cells[8].parse::<i64>().unwrap_or(0) >= 12, "{row}");

    // Twice: nothing more.
    let before = (activity::Entity::find().count(&app.ctx.db).await?, stats, count(&app).await?);
    let again = demo::seed_with(&app.ctx.db, DemoRegions::Places, app.clock_now()).await?;
    assert_eq!(again, Default::default());
    let after = (
        activity::Entity::find().count(&app.ctx.db).await?,
        activity_stat::Entity::find().count(&app.ctx.db).await?,
        count(&app).await?,
    );
    assert_eq!(before, after);
    Ok(())
}
