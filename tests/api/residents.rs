//! Each community's residents as a set (`community_residents`): every change of a home —
//! chosen, changed, an offline resident registered, an account deleted or erased — moves
//! the person between the sets in its own transaction, so the figures' 居民 count and
//! "lives here" always agree with `users`, the record.

use std::collections::HashMap;

use linli_server::{
    entity::{community_resident, user},
    service::{community_residents, id_sets},
};
use linli_tests::{Session, TestApp, TestResult, expect_json, spawn_app};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use serde_json::{Value, json};

const JINTAXIANG: &str = "620102002006";
const DAZHONG: &str = "620102002005";

fn err(e: linli_server::error::AppError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// Every community's residents as the sets hold them.
async fn sets(app: &TestApp) -> anyhow::Result<HashMap<i64, Vec<u64>>> {
    let mut out = HashMap::new();
    for row in community_resident::Entity::find().all(&app.ctx.db).await? {
        let set = id_sets::decode(&row.users, "community_residents").map_err(err)?;
        if !set.is_empty() {
            out.insert(row.community_id, set.iter().collect());
        }
    }
    Ok(out)
}

/// Every community's residents as `users` records them.
async fn record(app: &TestApp) -> anyhow::Result<HashMap<i64, Vec<u64>>> {
    let rows: Vec<(i64, Option<i64>)> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::HomeCommunityId)
        .filter(user::Column::DeletedAt.is_null())
        .into_tuple()
        .all(&app.ctx.db)
        .await?;
    let mut out: HashMap<i64, Vec<u64>> = HashMap::new();
    for (id, home) in rows {
        if let Some(home) = home {
            out.entry(home).or_default().push(id as u64);
        }
    }
    out.values_mut().for_each(|ids| ids.sort_unstable());
    Ok(out)
}

async fn set_home(app: &TestApp, who: &Session, community: i64) -> anyhow::Result<Value> {
    expect_json(app.patch("/api/v1/me", Some(&who.access_token), json!({"home_community_id": community})).await?, 200)
        .await
}

async fn residents_of(app: &TestApp, street_official: &Session, community: i64) -> anyhow::Result<Value> {
    let street = app.region("620102002000").await?;
    let v = expect_json(
        app.get(&format!("/api/v1/regions/{street}/metrics"), Some(&street_official.access_token)).await?,
        200,
    )
    .await?;
    let row = v["communities"].as_array().and_then(|rows| rows.iter().find(|r| r["community"]["id"] == community));
    Ok(row.map(|r| r["residents_registered"].clone()).unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_residents_sets_follow_every_change_of_home() -> TestResult {
    let app = spawn_app().await?;
    let (jintaxiang, dazhong) = (app.region(JINTAXIANG).await?, app.region(DAZHONG).await?);
    let official = app.login_openid("demo-street").await?;
    assert_eq!(sets(&app).await?, record(&app).await?, "the demo's residents, as seeded");
    let before = (residents_of(&app, &official, jintaxiang).await?, residents_of(&app, &official, dazhong).await?);
    let count = |v: &Value| v.as_i64().unwrap_or(0);

    // Two residents choose 金塔巷; one of them moves to 大众巷, and chooses it again.
    let (stays, moves) = (app.login("sets-stays").await?, app.login("sets-moves").await?);
    set_home(&app, &stays, jintaxiang).await?;
    set_home(&app, &moves, jintaxiang).await?;
    set_home(&app, &moves, dazhong).await?;
    set_home(&app, &moves, dazhong).await?;
    assert_eq!(residents_of(&app, &official, jintaxiang).await?, count(&before.0) + 1);
    assert_eq!(residents_of(&app, &official, dazhong).await?, count(&before.1) + 1);

    // The committee registers an offline resident of 金塔巷, then erases him on request;
    // the one who stayed deletes her account.
    let committee = app.login_openid("demo-committee").await?;
    let body = json!({"community_id": jintaxiang, "name": "集合爷爷", "year_of_birth": 1946});
    let offline =
        expect_json(app.post("/api/v1/offline-residents", Some(&committee.access_token), body).await?, 201).await?;
    assert_eq!(residents_of(&app, &official, jintaxiang).await?, count(&before.0) + 2);
    let path = format!("/api/v1/offline-residents/{}", offline["user_id"]);
    assert_eq!(app.delete(&path, Some(&committee.access_token)).await?.status().as_u16(), 204);
    assert_eq!(app.delete("/api/v1/me", Some(&stays.access_token)).await?.status().as_u16(), 204);
    assert_eq!(residents_of(&app, &official, jintaxiang).await?, before.0);
    assert_eq!(residents_of(&app, &official, dazhong).await?, count(&before.1) + 1);
    assert_eq!(sets(&app).await?, record(&app).await?);

    // Deriving them again changes nothing; an upgraded deployment derives them at start.
    community_residents::rebuild(&app.ctx.db).await.map_err(err)?;
    assert_eq!(sets(&app).await?, record(&app).await?);
    community_resident::Entity::delete_many().exec(&app.ctx.db).await?;
    assert_eq!(residents_of(&app, &official, jintaxiang).await?, 0, "the figures read the sets");
    community_residents::fill_if_new(&app.ctx.db).await.map_err(err)?;
    assert_eq!(sets(&app).await?, record(&app).await?);
    assert_eq!(residents_of(&app, &official, jintaxiang).await?, before.0);
    Ok(())
}

/// One resident changes home from two phones at once, again and again, between two
/// communities: the user's row is locked for the change, so the sets always hold the
/// person in exactly the community `users` records — never in both, never in neither.
#[tokio::test]
async fn two_phones_changing_one_home_at_once_leave_one_home() -> TestResult {
    let app = spawn_app().await?;
    let (jintaxiang, dazhong) = (app.region(JINTAXIANG).await?, app.region(DAZHONG).await?);
    let who = app.login("sets-two-phones").await?;
    set_home(&app, &who, jintaxiang).await?;
    for _ in 0..8 {
        let (a, b) = tokio::join!(
            app.patch("/api/v1/me", Some(&who.access_token), json!({"home_community_id": dazhong})),
            app.patch("/api/v1/me", Some(&who.access_token), json!({"home_community_id": jintaxiang})),
        );
        expect_json(a?, 200).await?;
        expect_json(b?, 200).await?;
        assert_eq!(sets(&app).await?, record(&app).await?);
    }
    // Many residents moving both ways at once between the two.
    let people: Vec<Session> =
        futures_util::future::try_join_all((0..12).map(|k| app.login_owned(format!("sets-crowd-{k}")))).await?;
    let app = &app;
    let moves = people.iter().enumerate().map(|(k, p)| {
        let (to, then) = if k % 2 == 0 { (jintaxiang, dazhong) } else { (dazhong, jintaxiang) };
        async move {
            set_home(app, p, to).await?;
            set_home(app, p, then).await
        }
    });
    futures_util::future::try_join_all(moves).await?;
    assert_eq!(sets(app).await?, record(app).await?);
    Ok(())
}
