//! The time bank (issue 18, part 3): two neighbours exchange an hour; corrections are
//! reversing transfers; the floor holds; an activity credited by the bank pays its
//! attendees on closing; concurrent transfers keep the balances summing to zero; every
//! endpoint refuses the roles it is not for.

use std::io::Read;

use chrono::{Duration, Utc};
use futures_util::future::join_all;
use linli_server::entity::{time_bank_account, time_bank_movement};
use linli_tests::{Session, TestApp, TestResult, expect_json, expect_problem, spawn_app};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

const JINTA: &str = "620102002006"; // 金塔巷社区, the demo committee's

struct Bank {
    id: i64,
    community: i64,
    committee: Session,
}

async fn bank(app: &TestApp, floor: Option<i64>) -> anyhow::Result<Bank> {
    let community = app.region(JINTA).await?;
    let committee = app.login_openid("demo-committee").await?;
    let mut body = json!({"region_id": community, "name": "金塔巷社区时间银行"});
    if let Some(f) = floor {
        body["floor_minutes"] = json!(f);
    }
    let b = expect_json(app.post("/api/v1/time-banks", Some(&committee.access_token), body).await?, 201).await?;
    assert_eq!(b["floor_minutes"], floor.unwrap_or(-600), "{b}");
    assert_eq!(b["may_manage"], true);
    Ok(Bank { id: b["id"].as_i64().unwrap_or_default(), community, committee })
}

/// A resident of the community, accepted as a member.
async fn member(app: &TestApp, b: &Bank, code: &str) -> anyhow::Result<Session> {
    let s = app.login(code).await?;
    expect_json(
        app.patch("/api/v1/me", Some(&s.access_token), json!({"home_community_id": b.community, "nickname": code}))
            .await?,
        200,
    )
    .await?;
    let m = expect_json(
        app.post(&format!("/api/v1/time-banks/{}/members", b.id), Some(&s.access_token), Value::Null).await?,
        200,
    )
    .await?;
    assert_eq!(m["status"], "requested", "{m}");
    let r = expect_json(
        app.post(
            &format!("/api/v1/time-banks/{}/members/{}/review", b.id, s.user_id),
            Some(&b.committee.access_token),
            json!({"decision": "approve"}),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(r["status"], "active", "{r}");
    Ok(s)
}

async fn listing(app: &TestApp, b: &Bank, who: &Session, kind: &str, minutes: i64) -> anyhow::Result<i64> {
    let l = expect_json(
        app.post(
            &format!("/api/v1/time-banks/{}/listings", b.id),
            Some(&who.access_token),
            json!({"kind": kind, "category": "escort", "title": "陪同去社区医院复查", "description": "周三上午", "minutes": minutes}),
        )
        .await?,
        201,
    )
    .await?;
    Ok(l["id"].as_i64().unwrap_or_default())
}

/// An agreed agreement on `author`'s listing, answered by `other`.
async fn agreed(app: &TestApp, author: &Session, other: &Session, listing: i64, minutes: i64) -> anyhow::Result<i64> {
    let a = expect_json(
        app.post(
            &format!("/api/v1/time-bank-listings/{listing}/agreements"),
            Some(&other.access_token),
            json!({"minutes": minutes}),
        )
        .await?,
        201,
    )
    .await?;
    let id = a["id"].as_i64().unwrap_or_default();
    let a = expect_json(
        app.post(&format!("/api/v1/time-bank-agreements/{id}/accept"), Some(&author.access_token), Value::Null).await?,
        200,
    )
    .await?;
    assert_eq!(a["status"], "agreed", "{a}");
    Ok(id)
}

async fn confirm(app: &TestApp, who: &Session, id: i64, body: Value) -> anyhow::Result<reqwest::Response> {
    app.post(&format!("/api/v1/time-bank-agreements/{id}/confirm"), Some(&who.access_token), body).await
}

async fn balance(app: &TestApp, b: &Bank, who: &Session) -> anyhow::Result<i64> {
    let s = expect_json(
        app.get(&format!("/api/v1/time-banks/{}/members/{}/statement", b.id, who.user_id), Some(&who.access_token))
            .await?,
        200,
    )
    .await?;
    s["balance_minutes"].as_i64().ok_or_else(|| anyhow::anyhow!("no balance in {s}"))
}

/// Every balance of the bank (its own account included) from the database, and whether
/// each equals the sum of its movements.
async fn ledger(app: &TestApp, bank_id: i64) -> anyhow::Result<Vec<(Option<i64>, i64)>> {
    let accounts = time_bank_account::Entity::find()
        .filter(time_bank_account::Column::BankId.eq(bank_id))
        .all(&app.ctx.db)
        .await?;
    for a in &accounts {
        let moved: i64 = time_bank_movement::Entity::find()
            .filter(time_bank_movement::Column::AccountId.eq(a.id))
            .all(&app.ctx.db)
            .await?
            .iter()
            .map(|m| m.minutes)
            .sum();
        anyhow::ensure!(moved == a.balance, "account {} balance {} but movements {}", a.id, a.balance, moved);
    }
    Ok(accounts.into_iter().map(|a| (a.user_id, a.balance)).collect())
}

fn part(xlsx: &[u8], name: &str) -> anyhow::Result<String> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(xlsx))?;
    let mut out = String::new();
    zip.by_name(name)?.read_to_string(&mut out)?;
    Ok(out)
}

/// Two neighbours exchange an hour: a request, an answer, an agreement, the helped
/// confirms and 60 minutes move (two movements); the statement shows it (JSON and a
/// printable page); a manager reverses it with a reason (once); the floor refuses a debt
/// past −600; the region's metrics and export carry the bank's figures.
#[tokio::test]
async fn two_neighbours_exchange_an_hour() -> TestResult {
    let app = spawn_app().await?;
    let b = bank(&app, None).await?;
    expect_problem(
        app.post(
            "/api/v1/time-banks",
            Some(&b.committee.access_token),
            json!({"region_id": b.community, "name": "第二个"}),
        )
        .await?,
        409,
        "time_bank_exists",
    )
    .await?;
    let helped = member(&app, &b, "tb-grandma").await?;
    let helper = member(&app, &b, "tb-neighbour").await?;
    let request = listing(&app, &b, &helped, "request", 60).await?;
    let offers = expect_json(
        app.get(&format!("/api/v1/time-banks/{}/listings?kind=request", b.id), Some(&helper.access_token)).await?,
        200,
    )
    .await?;
    assert!(offers.as_array().is_some_and(|l| l.iter().any(|x| x["id"] == request)), "{offers}");
    expect_problem(
        app.post(&format!("/api/v1/time-bank-listings/{request}/agreements"), Some(&helped.access_token), json!({}))
            .await?,
        409,
        "own_listing",
    )
    .await?;
    let id = agreed(&app, &helped, &helper, request, 60).await?;
    expect_problem(confirm(&app, &helper, id, json!({})).await?, 403, "forbidden").await?;
    let done = expect_json(confirm(&app, &helped, id, json!({"minutes": 60})).await?, 200).await?;
    assert_eq!(done["status"], "confirmed");
    assert_eq!(done["confirmed_by"], helped.user_id);
    assert_eq!(done["helper_id"], helper.user_id);
    assert_eq!(done["transfer"]["minutes"], 60);
    let again = expect_json(confirm(&app, &helped, id, json!({})).await?, 200).await?;
    assert_eq!(again["transfer"]["id"], done["transfer"]["id"], "confirming twice moves nothing more");
    assert_eq!(balance(&app, &b, &helped).await?, -60);
    assert_eq!(balance(&app, &b, &helper).await?, 60);

    let st = expect_json(
        app.get(
            &format!("/api/v1/time-banks/{}/members/{}/statement", b.id, helper.user_id),
            Some(&helper.access_token),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(st["lines"][0]["minutes"], 60);
    assert_eq!(st["lines"][0]["counterparty_user_id"], helped.user_id);
    assert_eq!(st["lines"][0]["kind"], "exchange");
    let page = app
        .get(
            &format!("/api/v1/time-banks/{}/members/{}/statement/print", b.id, helper.user_id),
            Some(&helper.access_token),
        )
        .await?;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers().get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|c| c.starts_with("text/html"))
    );
    let html = page.text().await?;
    assert!(html.contains("时间银行对账单") && html.contains("+60") && html.contains("tb-grandma"), "{html}");
    // A member reads no one else's statement; the committee reads anyone's.
    expect_problem(
        app.get(
            &format!("/api/v1/time-banks/{}/members/{}/statement", b.id, helped.user_id),
            Some(&helper.access_token),
        )
        .await?,
        403,
        "forbidden",
    )
    .await?;

    // A correction: the committee reverses it, once; a reversal is not reversed.
    let transfer = done["transfer"]["id"].as_i64().unwrap_or_default();
    let reversal = expect_json(
        app.post(
            &format!("/api/v1/time-bank-transfers/{transfer}/reverse"),
            Some(&b.committee.access_token),
            json!({"reason": "登记错了对象"}),
        )
        .await?,
        201,
    )
    .await?;
    assert_eq!(reversal["kind"], "reversal");
    assert_eq!(reversal["reverses_id"], transfer);
    expect_problem(
        app.post(
            &format!("/api/v1/time-bank-transfers/{transfer}/reverse"),
            Some(&b.committee.access_token),
            json!({"reason": "再来一次"}),
        )
        .await?,
        409,
        "already_reversed",
    )
    .await?;
    let rid = reversal["id"].as_i64().unwrap_or_default();
    expect_problem(
        app.post(
            &format!("/api/v1/time-bank-transfers/{rid}/reverse"),
            Some(&b.committee.access_token),
            json!({"reason": "x"}),
        )
        .await?,
        409,
        "invalid_transition",
    )
    .await?;
    assert_eq!(balance(&app, &b, &helped).await?, 0);
    assert_eq!(balance(&app, &b, &helper).await?, 0);

    // The floor: −600 by default. 601 minutes owed is refused, nothing moves.
    let big = listing(&app, &b, &helped, "request", 601).await?;
    let id = agreed(&app, &helped, &helper, big, 601).await?;
    expect_problem(confirm(&app, &helped, id, json!({})).await?, 409, "below_floor").await?;
    assert_eq!(balance(&app, &b, &helped).await?, 0);
    let ok = expect_json(confirm(&app, &helped, id, json!({"minutes": 600})).await?, 200).await?;
    assert_eq!(ok["minutes"], 600, "the time actually given");
    assert_eq!(balance(&app, &b, &helped).await?, -600);
    let sum: i64 = ledger(&app, b.id).await?.iter().map(|(_, m)| m).sum();
    assert_eq!(sum, 0);

    // The region's figures and export.
    let m = expect_json(
        app.get(&format!("/api/v1/regions/{}/metrics", b.community), Some(&b.committee.access_token)).await?,
        200,
    )
    .await?;
    let tb = m["time_banks"].as_array().and_then(|a| a.first()).cloned().unwrap_or_default();
    assert_eq!(tb["members"], 2, "{tb}");
    assert_eq!(tb["minutes_exchanged"], 660, "{tb}");
    assert_eq!(tb["minutes_reversed"], 60, "{tb}");
    assert_eq!(tb["open_requests"], 2, "{tb}");
    let this_month = linli_server::domain::clock::to_shanghai(app.ctx.now()).format("%Y-%m").to_string();
    assert!(
        tb["monthly"]
            .as_array()
            .is_some_and(|ms| ms.iter().any(|x| x["month"] == this_month.as_str() && x["minutes_exchanged"] == 660)),
        "{tb}"
    );
    assert!(m["organizations"].is_number() && m["rooms"].is_array(), "existing fields stay");
    let xlsx = app
        .get(&format!("/api/v1/regions/{}/metrics/export?format=xlsx", b.community), Some(&b.committee.access_token))
        .await?;
    assert_eq!(xlsx.status(), 200);
    let bytes = xlsx.bytes().await?;
    assert!(part(&bytes, "xl/workbook.xml")?.contains("时间银行"));
    assert!(part(&bytes, "xl/sharedStrings.xml")?.contains("互助交换(分钟)"));
    Ok(())
}

/// An activity marked as credited by the bank pays, on closing, each attendee who is a
/// member their credited minutes from the bank's own account (in the closing
/// transaction); service hours are credited as always; non-members get no minutes.
#[tokio::test]
async fn a_credited_activity_pays_its_attending_members_on_closing() -> TestResult {
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let start = Utc::now() + Duration::hours(1);
    let body = json!({"kind": "mutual_aid", "title": "楼道互助清扫", "location": "金塔巷3号楼",
        "starts_at": start.to_rfc3339(), "ends_at": (start + Duration::hours(1)).to_rfc3339(), "capacity": 10});
    let act = app.publish(&leader, org, body).await?;
    expect_problem(
        app.post(&format!("/api/v1/activities/{act}/time-bank"), Some(&leader.access_token), json!({"credited": true}))
            .await?,
        409,
        "no_time_bank",
    )
    .await?;
    let b = bank(&app, None).await?;
    let m = member(&app, &b, "tb-attendee").await?;
    let outsider = app.login("tb-not-member").await?;
    let marked = expect_json(
        app.post(&format!("/api/v1/activities/{act}/time-bank"), Some(&leader.access_token), json!({"credited": true}))
            .await?,
        200,
    )
    .await?;
    assert_eq!(marked["time_bank_credited"], true);
    let detail = expect_json(app.get(&format!("/api/v1/activities/{act}"), None).await?, 200).await?;
    assert_eq!(detail["time_bank_credited"], true);
    for who in [&m, &outsider] {
        let r = app.post(&format!("/api/v1/activities/{act}/signups"), Some(&who.access_token), Value::Null).await?;
        assert!(r.status().is_success(), "{}", r.status());
    }
    app.clock.advance(Duration::hours(1));
    let leader = app.login_openid("demo-leader").await?;
    for who in [&m, &outsider] {
        expect_json(
            app.post(
                &format!("/api/v1/activities/{act}/attendance"),
                Some(&leader.access_token),
                json!({"user_id": who.user_id, "action": "check_in"}),
            )
            .await?,
            200,
        )
        .await?;
    }
    app.clock.advance(Duration::hours(1));
    let leader = app.login_openid("demo-leader").await?;
    expect_json(
        app.post(&format!("/api/v1/activities/{act}/finish"), Some(&leader.access_token), json!({})).await?,
        200,
    )
    .await?;
    let m = app.login("tb-attendee").await?;
    assert_eq!(balance(&app, &b, &m).await?, 60, "an hour present, an hour credited");
    let st = expect_json(
        app.get(&format!("/api/v1/time-banks/{}/members/{}/statement", b.id, m.user_id), Some(&m.access_token)).await?,
        200,
    )
    .await?;
    assert_eq!(st["lines"][0]["kind"], "activity_credit");
    assert_eq!(st["lines"][0]["counterparty_user_id"], Value::Null, "from the bank's own account");
    let ledger = ledger(&app, b.id).await?;
    assert_eq!(ledger.iter().map(|(_, m)| m).sum::<i64>(), 0);
    assert!(ledger.iter().any(|(u, m)| u.is_none() && *m == -60), "the bank's own account: {ledger:?}");
    let participation = expect_json(app.get("/api/v1/me/participation", Some(&m.access_token)).await?, 200).await?;
    assert!(participation.to_string().contains("楼道互助清扫"), "service hours credited as always: {participation}");
    Ok(())
}

/// Concurrent transfers between a handful of members: every pair owes and pays many
/// times at once, against a tight floor. Afterwards the balances (the bank's included)
/// sum to exactly zero, each equals the sum of its movements, and none is below the floor.
#[tokio::test]
async fn concurrent_transfers_keep_the_sum_at_zero() -> TestResult {
    let app = spawn_app().await?;
    let floor = -90;
    let b = bank(&app, Some(floor)).await?;
    let mut members = Vec::new();
    for i in 0..5 {
        members.push(member(&app, &b, &format!("tb-race-{i}")).await?);
    }
    // Each member asks for help three times; each of the others answers each request.
    let mut agreements = Vec::new();
    for (i, author) in members.iter().enumerate() {
        for _ in 0..3 {
            let l = listing(&app, &b, author, "request", 30).await?;
            for (j, other) in members.iter().enumerate() {
                if i != j {
                    agreements.push((i, agreed(&app, author, other, l, 30).await?));
                }
            }
        }
    }
    let total = agreements.len();
    let results = join_all(agreements.iter().map(|(i, id)| {
        let who = members[*i].clone();
        let app = &app;
        async move {
            let r = confirm(app, &who, *id, json!({})).await?;
            let status = r.status().as_u16();
            let body: Value = r.json().await?;
            anyhow::Ok((status, body["code"].as_str().unwrap_or_default().to_owned()))
        }
    }))
    .await;
    let mut confirmed = 0;
    let mut below = 0;
    for r in results {
        match r? {
            (200, _) => confirmed += 1,
            (409, code) if code == "below_floor" => below += 1,
            other => anyhow::bail!("unexpected answer {other:?}"),
        }
    }
    let ledger = ledger(&app, b.id).await?;
    let sum: i64 = ledger.iter().map(|(_, m)| m).sum();
    println!(
        "time bank race: {total} concurrent confirmations of 30 minutes, {confirmed} moved, {below} refused below the floor ({floor}); balances {:?}, sum {sum}",
        ledger.iter().map(|(_, m)| m).collect::<Vec<_>>()
    );
    assert_eq!(confirmed + below, total);
    assert!(confirmed > 0 && below > 0, "the floor was reached: {confirmed} moved, {below} refused");
    assert_eq!(sum, 0, "double entry: {ledger:?}");
    assert!(ledger.iter().all(|(u, m)| u.is_none() || *m >= floor), "no balance below the floor: {ledger:?}");
    use linli_server::entity::time_bank_transfer;
    let transfers =
        time_bank_transfer::Entity::find().filter(time_bank_transfer::Column::BankId.eq(b.id)).all(&app.ctx.db).await?;
    assert_eq!(transfers.len(), confirmed);
    let movements = time_bank_movement::Entity::find()
        .filter(time_bank_movement::Column::TransferId.is_in(transfers.iter().map(|t| t.id).collect::<Vec<_>>()))
        .all(&app.ctx.db)
        .await?;
    assert_eq!(movements.len(), 2 * confirmed, "two movements per transfer");
    Ok(())
}

/// Each endpoint refuses the roles it is not for: a stranger, a resident who asked but is
/// not accepted, a member (for managers' work), another community's committee, a leader
/// of an organization the bank does not designate; and anyone without a token.
#[tokio::test]
async fn every_endpoint_refuses_who_it_is_not_for() -> TestResult {
    let app = spawn_app().await?;
    let b = bank(&app, None).await?;
    let m1 = member(&app, &b, "tb-role-1").await?;
    let m2 = member(&app, &b, "tb-role-2").await?;
    let waiting = app.login("tb-role-waiting").await?;
    expect_json(
        app.patch("/api/v1/me", Some(&waiting.access_token), json!({"home_community_id": b.community})).await?,
        200,
    )
    .await?;
    expect_json(
        app.post(&format!("/api/v1/time-banks/{}/members", b.id), Some(&waiting.access_token), Value::Null).await?,
        200,
    )
    .await?;
    let stranger = app.login("tb-role-stranger").await?;
    let village = app.login_openid("demo-village").await?; // another community's committee
    let (leader, org) = app.demo_leader().await?; // not designated by this bank
    let l = listing(&app, &b, &m1, "offer", 45).await?;
    let proposal = expect_json(
        app.post(&format!("/api/v1/time-bank-listings/{l}/agreements"), Some(&m2.access_token), json!({})).await?,
        201,
    )
    .await?;
    let ag = proposal["id"].as_i64().unwrap_or_default();
    let bid = b.id;

    // Creating a bank: residents, leaders and another community's committee.
    for who in [&stranger, &m1, &leader, &village] {
        expect_problem(
            app.post("/api/v1/time-banks", Some(&who.access_token), json!({"region_id": b.community, "name": "x"}))
                .await?,
            403,
            "forbidden",
        )
        .await?;
    }
    // Joining from outside the bank's area.
    let r = app.post(&format!("/api/v1/time-banks/{bid}/members"), Some(&stranger.access_token), Value::Null).await?;
    let p = expect_problem(r, 422, "validation_failed").await?;
    assert_eq!(p["errors"][0]["code"], "outside_bank_area");
    // Managers' work: members, a waiting resident, strangers, another committee, a leader.
    for who in [&m1, &waiting, &stranger, &village, &leader] {
        expect_problem(
            app.get(&format!("/api/v1/time-banks/{bid}/members"), Some(&who.access_token)).await?,
            403,
            "forbidden",
        )
        .await?;
        expect_problem(
            app.post(
                &format!("/api/v1/time-banks/{bid}/members/{}/review", waiting.user_id),
                Some(&who.access_token),
                json!({"decision": "approve"}),
            )
            .await?,
            403,
            "forbidden",
        )
        .await?;
        expect_problem(
            app.get(&format!("/api/v1/time-banks/{bid}/members/{}/statement", m2.user_id), Some(&who.access_token))
                .await?,
            403,
            "forbidden",
        )
        .await?;
    }
    // Members' work: a waiting resident, strangers, officials of elsewhere, a leader.
    for who in [&waiting, &stranger, &village, &leader] {
        expect_problem(
            app.post(
                &format!("/api/v1/time-banks/{bid}/listings"),
                Some(&who.access_token),
                json!({"kind": "offer", "category": "errands", "title": "代买菜", "minutes": 30}),
            )
            .await?,
            403,
            "forbidden",
        )
        .await?;
        expect_problem(
            app.get(&format!("/api/v1/time-banks/{bid}/listings"), Some(&who.access_token)).await?,
            403,
            "forbidden",
        )
        .await?;
        expect_problem(
            app.post(&format!("/api/v1/time-bank-listings/{l}/agreements"), Some(&who.access_token), json!({})).await?,
            403,
            "forbidden",
        )
        .await?;
        expect_problem(
            app.post(&format!("/api/v1/time-bank-listings/{l}/close"), Some(&who.access_token), Value::Null).await?,
            403,
            "forbidden",
        )
        .await?;
        expect_problem(
            app.post(&format!("/api/v1/time-bank-agreements/{ag}/cancel"), Some(&who.access_token), Value::Null)
                .await?,
            403,
            "forbidden",
        )
        .await?;
    }
    // Only the listing's author accepts; only the helped confirms.
    expect_problem(
        app.post(&format!("/api/v1/time-bank-agreements/{ag}/accept"), Some(&m2.access_token), Value::Null).await?,
        403,
        "forbidden",
    )
    .await?;
    expect_json(
        app.post(&format!("/api/v1/time-bank-agreements/{ag}/accept"), Some(&m1.access_token), Value::Null).await?,
        200,
    )
    .await?;
    expect_problem(confirm(&app, &m1, ag, json!({})).await?, 403, "forbidden").await?; // m1 offered: the helper
    expect_problem(confirm(&app, &b.committee, ag, json!({})).await?, 403, "forbidden").await?;
    let done = expect_json(confirm(&app, &m2, ag, json!({})).await?, 200).await?;
    let t = done["transfer"]["id"].as_i64().unwrap_or_default();
    // Reversing: managers only.
    for who in [&m1, &m2, &stranger, &village, &leader] {
        expect_problem(
            app.post(
                &format!("/api/v1/time-bank-transfers/{t}/reverse"),
                Some(&who.access_token),
                json!({"reason": "x"}),
            )
            .await?,
            403,
            "forbidden",
        )
        .await?;
    }
    // Marking an activity: the organization's staff only.
    let start = Utc::now() + Duration::hours(5);
    let act = app
        .publish(
            &leader,
            org,
            json!({"kind": "mutual_aid", "title": "互助", "location": "金塔巷", "starts_at": start.to_rfc3339(),
                "ends_at": (start + Duration::hours(1)).to_rfc3339(), "capacity": 5}),
        )
        .await?;
    for who in [&m1, &b.committee, &stranger] {
        expect_problem(
            app.post(
                &format!("/api/v1/activities/{act}/time-bank"),
                Some(&who.access_token),
                json!({"credited": true}),
            )
            .await?,
            403,
            "forbidden",
        )
        .await?;
    }
    // Without a token.
    for (method, path) in [
        ("POST", "/api/v1/time-banks".to_owned()),
        ("GET", "/api/v1/time-banks".to_owned()),
        ("GET", format!("/api/v1/time-banks/{bid}")),
        ("PATCH", format!("/api/v1/time-banks/{bid}")),
        ("POST", format!("/api/v1/time-banks/{bid}/members")),
        ("GET", format!("/api/v1/time-banks/{bid}/members")),
        ("GET", format!("/api/v1/time-banks/{bid}/listings")),
        ("GET", format!("/api/v1/time-banks/{bid}/agreements")),
        ("POST", format!("/api/v1/time-bank-agreements/{ag}/confirm")),
        ("POST", format!("/api/v1/time-bank-transfers/{t}/reverse")),
        ("GET", format!("/api/v1/time-banks/{bid}/members/{}/statement/print", m1.user_id)),
    ] {
        let r = app.request(method.parse()?, &path, None, Some(json!({}))).await?;
        expect_problem(r, 401, "unauthenticated").await?;
    }
    // A designated organization's leader manages: the committee designates the demo
    // leader's organization on a street bank.
    let street = app.login_openid("demo-street").await?;
    let sb = expect_json(
        app.post(
            "/api/v1/time-banks",
            Some(&street.access_token),
            json!({"region_id": app.region("620102002000").await?, "name": "张掖路街道时间银行", "managing_organization_id": org}),
        )
        .await?,
        201,
    )
    .await?;
    let sid = sb["id"].as_i64().unwrap_or_default();
    let mine =
        expect_json(app.get(&format!("/api/v1/time-banks/{sid}"), Some(&leader.access_token)).await?, 200).await?;
    assert_eq!(mine["may_manage"], true, "{mine}");
    expect_json(app.get(&format!("/api/v1/time-banks/{sid}/members"), Some(&leader.access_token)).await?, 200).await?;
    // …and the committee of a community under it does not.
    let c =
        expect_json(app.get(&format!("/api/v1/time-banks/{sid}"), Some(&b.committee.access_token)).await?, 200).await?;
    assert_eq!(c["may_manage"], false, "{c}");

    // Changing a bank: the officials over it only — not its designated organization.
    for (who, bank) in [(&leader, sid), (&m1, bid), (&village, bid), (&stranger, bid), (&b.committee, sid)] {
        expect_problem(
            app.patch(&format!("/api/v1/time-banks/{bank}"), Some(&who.access_token), json!({"floor_minutes": -30}))
                .await?,
            403,
            "forbidden",
        )
        .await?;
    }
    expect_problem(
        app.patch(&format!("/api/v1/time-banks/{bid}"), Some(&b.committee.access_token), json!({"floor_minutes": 30}))
            .await?,
        422,
        "validation_failed",
    )
    .await?;
    let changed = expect_json(
        app.patch(
            &format!("/api/v1/time-banks/{bid}"),
            Some(&b.committee.access_token),
            json!({"floor_minutes": -30, "managing_organization_id": org}),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(changed["floor_minutes"], -30);
    assert_eq!(changed["managing_organization_id"], org);
    let withdrawn = expect_json(
        app.patch(
            &format!("/api/v1/time-banks/{bid}"),
            Some(&street.access_token),
            json!({"managing_organization_id": null}),
        )
        .await?,
        200,
    )
    .await?;
    assert_eq!(withdrawn["managing_organization_id"], Value::Null);
    assert_eq!(withdrawn["floor_minutes"], -30);
    Ok(())
}

/// The demo holds a time bank in 大众巷社区 with three neighbours and two exchanges; its
/// street office manages it; its balances sum to zero.
#[tokio::test]
async fn the_demo_has_a_time_bank() -> TestResult {
    let app = spawn_app().await?;
    let dazhong = app.region("620102002005").await?;
    let street = app.login_openid("demo-street").await?;
    let banks = expect_json(
        app.get(&format!("/api/v1/time-banks?region_id={dazhong}"), Some(&street.access_token)).await?,
        200,
    )
    .await?;
    let bank = banks.as_array().and_then(|b| b.first()).cloned().unwrap_or_default();
    assert_eq!(bank["members"], 3, "{banks}");
    assert_eq!(bank["may_manage"], true);
    let id = bank["id"].as_i64().unwrap_or_default();
    let ledger = ledger(&app, id).await?;
    assert_eq!(ledger.iter().map(|(_, m)| m).sum::<i64>(), 0);
    let mut balances: Vec<i64> = ledger.iter().filter(|(u, _)| u.is_some()).map(|(_, m)| *m).collect();
    balances.sort();
    assert_eq!(balances, vec![-120, 45, 75], "{ledger:?}");
    let zhang = app.login_openid("demo-tb-zhang").await?;
    let open =
        expect_json(app.get(&format!("/api/v1/time-banks/{id}/listings"), Some(&zhang.access_token)).await?, 200)
            .await?;
    assert_eq!(open.as_array().map(Vec::len), Some(2), "{open}");
    Ok(())
}
