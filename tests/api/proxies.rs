//! Signing up on behalf of someone (issue 18, part 2): offline residents with a printed
//! card, proxy links, acts on a principal's behalf, claiming, erasing, waived no-shows.

use chrono::{Duration, Utc};
use linli_tests::{
    Session, TEMPLATE_SIGNUP, TestApp, TestResult, expect_json, expect_problem, spawn_app, spawn_app_with,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

const JINTAXIANG: &str = "620102002006";
const DAZHONG: &str = "620102002005";

/// An activity of the demo leader's organization starting `hours_ahead` from now, two
/// hours long.
async fn activity(app: &TestApp, leader: &Session, org: i64, title: &str, hours_ahead: i64) -> anyhow::Result<i64> {
    let start = Utc::now() + Duration::hours(hours_ahead);
    let body = json!({
        "kind": "volunteer", "title": title, "location": "金塔巷社区活动室",
        "starts_at": start.to_rfc3339(), "ends_at": (start + Duration::hours(2)).to_rfc3339(), "capacity": 10
    });
    app.publish(leader, org, body).await
}

async fn resident(app: &TestApp, code: &str) -> anyhow::Result<Session> {
    let who = app.login(code).await?;
    let community = app.region(JINTAXIANG).await?;
    expect_json(app.patch("/api/v1/me", Some(&who.access_token), json!({"home_community_id": community})).await?, 200)
        .await?;
    Ok(who)
}

async fn committee(app: &TestApp) -> anyhow::Result<Session> {
    app.login_openid("demo-committee").await
}

/// The committee registers an offline resident of 金塔巷社区; answers the record.
async fn register(app: &TestApp, committee: &Session, name: &str) -> anyhow::Result<Value> {
    let community = app.region(JINTAXIANG).await?;
    let body =
        json!({"community_id": community, "name": name, "year_of_birth": 1948, "contact_phone": "139 0000 1234"});
    expect_json(app.post("/api/v1/offline-residents", Some(&committee.access_token), body).await?, 201).await
}

async fn code_of(app: &TestApp, who: &Session) -> anyhow::Result<String> {
    let code = expect_json(app.get("/api/v1/me/checkin-code", Some(&who.access_token)).await?, 200).await?;
    Ok(code["code"].as_str().unwrap_or_default().to_owned())
}

/// The committee links `proxy` to `principal`, authorised in person.
async fn link(
    app: &TestApp,
    committee: &Session,
    principal: i64,
    proxy: &Session,
) -> anyhow::Result<reqwest::Response> {
    let body = json!({"proxy_checkin_code": code_of(app, proxy).await?, "authorisation": "in_person", "note": "女儿"});
    app.post(&format!("/api/v1/principals/{principal}/proxy-links"), Some(&committee.access_token), body).await
}

async fn sign_up_for(
    app: &TestApp,
    proxy: &Session,
    principal: i64,
    activity: i64,
) -> anyhow::Result<reqwest::Response> {
    app.post(
        &format!("/api/v1/principals/{principal}/signups"),
        Some(&proxy.access_token),
        json!({"activity_id": activity}),
    )
    .await
}

async fn attend(app: &TestApp, staff: &Session, id: i64, body: Value) -> anyhow::Result<reqwest::Response> {
    app.post(&format!("/api/v1/activities/{id}/attendance"), Some(&staff.access_token), body).await
}

fn id(v: &Value, field: &str) -> i64 {
    v[field].as_i64().unwrap_or_default()
}

/// Done when: a daughter signs her offline father up, he is checked in by his card code
/// and his hours show on his record — not on hers.
#[tokio::test]
async fn a_daughter_signs_up_her_offline_father_who_checks_in_with_his_card() -> TestResult {
    let app = spawn_app().await?;
    let committee = committee(&app).await?;
    let father = register(&app, &committee, "张爷爷").await?;
    let father_id = id(&father, "user_id");
    let card = father["card_code"].as_str().unwrap_or_default().to_owned();
    assert_eq!(card.len(), 9, "ABCD-2345: {father}");
    assert!(!card.contains(['0', 'O', '1', 'I', 'L']), "{card}");
    assert_eq!(father["contact_phone"], "13900001234", "the committee sees the number whole");
    assert_eq!(father["has_card"], true);

    let daughter = resident(&app, "daughter").await?;
    let made = expect_json(link(&app, &committee, father_id, &daughter).await?, 201).await?;
    assert_eq!(
        (made["authorisation"].as_str(), made["proxy_id"].as_i64()),
        (Some("in_person"), Some(daughter.user_id))
    );
    assert_eq!(made["principal_offline"], true);
    let again = expect_json(link(&app, &committee, father_id, &daughter).await?, 200).await?;
    assert_eq!(again["id"], made["id"], "a live pair is answered, not doubled");

    let (leader, org) = app.demo_leader().await?;
    let activity = activity(&app, &leader, org, "为独居老人读报", 2).await?;
    let signed = expect_json(sign_up_for(&app, &daughter, father_id, activity).await?, 201).await?;
    assert_eq!((signed["user_id"].as_i64(), signed["status"].as_str()), (Some(father_id), Some("confirmed")));
    expect_json(sign_up_for(&app, &daughter, father_id, activity).await?, 200).await?;

    // The daughter sees his sign-ups, not in her own list; the notice names him.
    let his = expect_json(
        app.get(&format!("/api/v1/principals/{father_id}/signups"), Some(&daughter.access_token)).await?,
        200,
    )
    .await?;
    assert_eq!(his["items"][0]["activity"]["id"], activity, "{his}");
    let hers = expect_json(app.get("/api/v1/me/signups", Some(&daughter.access_token)).await?, 200).await?;
    assert_eq!(hers["items"], json!([]));
    let inbox = expect_json(app.get("/api/v1/me/notifications", Some(&daughter.access_token)).await?, 200).await?;
    let confirmed = inbox["items"]
        .as_array()
        .and_then(|i| i.iter().find(|n| n["kind"] == "signup_confirmed"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(confirmed["title"], "【张爷爷】报名成功", "{inbox}");
    assert!(confirmed["body"].as_str().is_some_and(|b| b.starts_with("（代张爷爷接收）")), "{confirmed}");

    // At the door: the card, typed loosely.
    app.clock.advance(Duration::hours(2));
    let leader = app.login_openid("demo-leader").await?;
    let typed = card.to_lowercase().replace('-', " ");
    let done =
        expect_json(attend(&app, &leader, activity, json!({"card_code": typed, "action": "check_in"})).await?, 200)
            .await?;
    assert_eq!((done["user_id"].as_i64(), done["changed"].as_bool()), (Some(father_id), Some(true)));
    app.clock.advance(Duration::hours(2));
    let leader = app.login_openid("demo-leader").await?;
    let closed = expect_json(
        app.post(&format!("/api/v1/activities/{activity}/finish"), Some(&leader.access_token), json!({})).await?,
        200,
    )
    .await?;
    assert_eq!(closed["attended"], 1);

    // His record has the hours; hers has none.
    let committee = app.login_openid("demo-committee").await?;
    let record = expect_json(
        app.get(&format!("/api/v1/offline-residents/{father_id}/participation"), Some(&committee.access_token)).await?,
        200,
    )
    .await?;
    assert_eq!((record["all_time"]["activities"].as_i64(), record["all_time"]["hours"].as_f64()), (Some(1), Some(2.0)));
    let daughter = app.login("daughter").await?;
    let past = expect_json(
        app.get(&format!("/api/v1/principals/{father_id}/signups?when=past"), Some(&daughter.access_token)).await?,
        200,
    )
    .await?;
    assert_eq!(past["items"][0]["status"], "attended", "she sees his sign-ups: {past}");
    let participation = format!("/api/v1/offline-residents/{father_id}/participation");
    expect_problem(app.get(&participation, Some(&daughter.access_token)).await?, 403, "forbidden").await?;
    let own = expect_json(app.get("/api/v1/me/participation", Some(&daughter.access_token)).await?, 200).await?;
    assert_eq!(own["all_time"]["activities"], 0, "hours go to the principal, never the proxy");

    // The proxy sees the number masked; every act is on record, for the committee.
    let detail = expect_json(
        app.get(&format!("/api/v1/offline-residents/{father_id}"), Some(&daughter.access_token)).await?,
        200,
    )
    .await?;
    assert_eq!(detail["contact_phone"], "139****1234");
    assert_eq!(detail["card_code"], Value::Null, "the code is shown once");
    let acts = expect_json(
        app.get(&format!("/api/v1/principals/{father_id}/acts"), Some(&committee.access_token)).await?,
        200,
    )
    .await?;
    let what: Vec<(String, i64)> = acts["items"]
        .as_array()
        .map(|a| a.iter().map(|x| (x["act"].as_str().unwrap_or("").to_owned(), id(x, "actor_id"))).collect())
        .unwrap_or_default();
    assert_eq!(
        what,
        vec![
            ("signed_up".to_owned(), daughter.user_id),
            ("link_created".to_owned(), committee.user_id),
            ("card_issued".to_owned(), committee.user_id),
            ("registered".to_owned(), committee.user_id),
        ]
    );
    Ok(())
}

/// No proxy of a proxy, not oneself, not an offline resident, at most three; the
/// committee must say how it was authorised; a principal with an account confirms their
/// own; revoking stops the proxy and keeps what was done.
#[tokio::test]
async fn the_link_rules_and_revoking() -> TestResult {
    let app = spawn_app().await?;
    let committee = committee(&app).await?;
    let father = id(&register(&app, &committee, "李奶奶").await?, "user_id");
    let other_offline = id(&register(&app, &committee, "赵爷爷").await?, "user_id");
    let daughter = resident(&app, "li-daughter").await?;
    let grandson = resident(&app, "li-grandson").await?;
    expect_json(link(&app, &committee, father, &daughter).await?, 201).await?;

    let path = |p: i64| format!("/api/v1/principals/{p}/proxy-links");
    expect_problem(link(&app, &committee, daughter.user_id, &grandson).await?, 409, "proxy_of_proxy").await?;
    let body = json!({"proxy_user_id": other_offline, "authorisation": "signed_form"});
    expect_problem(app.post(&path(father), Some(&committee.access_token), body).await?, 409, "proxy_offline").await?;
    let body = json!({"proxy_checkin_code": code_of(&app, &daughter).await?});
    expect_problem(app.post(&path(daughter.user_id), Some(&daughter.access_token), body).await?, 409, "own_proxy")
        .await?;
    let body = json!({"proxy_user_id": grandson.user_id});
    let problem =
        expect_problem(app.post(&path(father), Some(&committee.access_token), body).await?, 422, "validation_failed")
            .await?;
    assert_eq!(problem["errors"][0]["field"], "authorisation");

    for n in 0..2 {
        let neighbour = resident(&app, &format!("li-neighbour-{n}")).await?;
        expect_json(link(&app, &committee, father, &neighbour).await?, 201).await?;
    }
    expect_problem(link(&app, &committee, father, &grandson).await?, 409, "too_many_proxies").await?;

    // An online principal authorises their own proxy by scanning the proxy's code.
    let aunt = resident(&app, "li-aunt").await?;
    let body = json!({"proxy_checkin_code": code_of(&app, &grandson).await?});
    let own = expect_json(app.post(&path(aunt.user_id), Some(&aunt.access_token), body).await?, 201).await?;
    assert_eq!(
        (own["authorisation"].as_str(), own["authorised_by"].as_i64()),
        (Some("principal_confirmed"), Some(aunt.user_id))
    );

    // Revoking: the proxy may not; the committee may; the sign-up stays.
    let (leader, org) = app.demo_leader().await?;
    let first = activity(&app, &leader, org, "剪纸课", 30).await?;
    let second = activity(&app, &leader, org, "书法课", 50).await?;
    expect_json(sign_up_for(&app, &daughter, father, first).await?, 201).await?;
    let links = expect_json(app.get(&path(father), Some(&committee.access_token)).await?, 200).await?;
    let daughters = links
        .as_array()
        .and_then(|l| l.iter().find(|x| x["proxy_id"] == daughter.user_id))
        .map(|x| id(x, "id"))
        .unwrap_or_default();
    let revoke = format!("/api/v1/proxy-links/{daughters}/revoke");
    expect_problem(app.post(&revoke, Some(&daughter.access_token), json!({})).await?, 403, "forbidden").await?;
    let revoked = expect_json(app.post(&revoke, Some(&committee.access_token), json!({})).await?, 200).await?;
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    expect_json(app.post(&revoke, Some(&committee.access_token), json!({})).await?, 200).await?;
    expect_problem(sign_up_for(&app, &daughter, father, second).await?, 403, "forbidden").await?;
    let kept =
        expect_json(app.get(&format!("/api/v1/activities/{first}/signups"), Some(&leader.access_token)).await?, 200)
            .await?;
    assert!(kept.to_string().contains(&format!("\"user_id\":{father}")), "the sign-up stays: {kept}");
    // Her pending reminders about him are withdrawn.
    use linli_server::entity::notification;
    let live = notification::Entity::find()
        .filter(notification::Column::UserId.eq(daughter.user_id))
        .filter(notification::Column::OnBehalfOf.eq(father))
        .filter(notification::Column::State.eq("pending"))
        .all(&app.ctx.db)
        .await?;
    assert!(live.is_empty(), "{live:?}");
    // The aunt revokes her own.
    let own_revoke = format!("/api/v1/proxy-links/{}/revoke", id(&own, "id"));
    expect_json(app.post(&own_revoke, Some(&aunt.access_token), json!({})).await?, 200).await?;
    Ok(())
}

/// Each endpoint refuses the wrong role: residents, proxies, staff and officials who are
/// not the resident's committee.
#[tokio::test]
async fn the_wrong_role_is_refused() -> TestResult {
    let app = spawn_app().await?;
    let committee = committee(&app).await?;
    let father = register(&app, &committee, "钱爷爷").await?;
    let father_id = id(&father, "user_id");
    let card = father["card_code"].as_str().unwrap_or_default().to_owned();
    let daughter = resident(&app, "qian-daughter").await?;
    expect_json(link(&app, &committee, father_id, &daughter).await?, 201).await?;
    let stranger = resident(&app, "qian-stranger").await?;
    let (leader, org) = app.demo_leader().await?;
    let street = app.login_openid("demo-street").await?;
    let activity = activity(&app, &leader, org, "茶话会", 1).await?;

    // Registering: only the community's committee.
    let jintaxiang = app.region(JINTAXIANG).await?;
    let dazhong = app.region(DAZHONG).await?;
    let body = |c: i64| json!({"community_id": c, "name": "孙奶奶"});
    for who in [&stranger, &leader, &street, &daughter] {
        let resp = app.post("/api/v1/offline-residents", Some(&who.access_token), body(jintaxiang)).await?;
        expect_problem(resp, 403, "forbidden").await?;
    }
    let other = app.post("/api/v1/offline-residents", Some(&committee.access_token), body(dazhong)).await?;
    expect_problem(other, 403, "forbidden").await?;

    // The record and its card: the committee (the proxy may read it).
    let base = format!("/api/v1/offline-residents/{father_id}");
    for who in [&stranger, &leader, &street] {
        expect_problem(app.get(&base, Some(&who.access_token)).await?, 403, "forbidden").await?;
    }
    for who in [&stranger, &leader, &street, &daughter] {
        expect_problem(app.get(&format!("{base}/participation"), Some(&who.access_token)).await?, 403, "forbidden")
            .await?;
    }
    for who in [&stranger, &leader, &daughter, &street] {
        let list = format!("/api/v1/offline-residents?community_id={jintaxiang}");
        expect_problem(app.get(&list, Some(&who.access_token)).await?, 403, "forbidden").await?;
        expect_problem(app.post(&format!("{base}/card"), Some(&who.access_token), json!({})).await?, 403, "forbidden")
            .await?;
        expect_problem(app.delete(&format!("{base}/card"), Some(&who.access_token)).await?, 403, "forbidden").await?;
        let claim = json!({"checkin_code": code_of(&app, &stranger).await?});
        expect_problem(app.post(&format!("{base}/claim"), Some(&who.access_token), claim).await?, 403, "forbidden")
            .await?;
        expect_problem(app.delete(&base, Some(&who.access_token)).await?, 403, "forbidden").await?;
        expect_problem(
            app.get(&format!("/api/v1/principals/{father_id}/acts"), Some(&who.access_token)).await?,
            403,
            "forbidden",
        )
        .await?;
    }
    // Links: not the proxy, not a stranger.
    for who in [&stranger, &daughter, &leader] {
        let body = json!({"proxy_user_id": stranger.user_id, "authorisation": "in_person"});
        let resp =
            app.post(&format!("/api/v1/principals/{father_id}/proxy-links"), Some(&who.access_token), body).await?;
        expect_problem(resp, 403, "forbidden").await?;
    }
    expect_problem(
        app.get(&format!("/api/v1/principals/{father_id}/proxy-links"), Some(&stranger.access_token)).await?,
        403,
        "forbidden",
    )
    .await?;
    // Acting for him: his live proxies only (not even his committee).
    for who in [&stranger, &committee, &leader] {
        expect_problem(sign_up_for(&app, who, father_id, activity).await?, 403, "forbidden").await?;
        let cancel = format!("/api/v1/principals/{father_id}/signups/{activity}");
        expect_problem(app.delete(&cancel, Some(&who.access_token)).await?, 403, "forbidden").await?;
        let list = format!("/api/v1/principals/{father_id}/signups");
        expect_problem(app.get(&list, Some(&who.access_token)).await?, 403, "forbidden").await?;
    }
    // The card at the door: the activity's staff only.
    expect_json(sign_up_for(&app, &daughter, father_id, activity).await?, 201).await?;
    for who in [&daughter, &committee, &stranger] {
        let resp = attend(&app, who, activity, json!({"card_code": card, "action": "check_in"})).await?;
        expect_problem(resp, 403, "forbidden").await?;
    }
    // Waiving a no-show: the organization's staff only.
    let waive = format!("/api/v1/activities/{activity}/signups/{father_id}/waive-no-show");
    for who in [&daughter, &committee, &stranger] {
        expect_problem(app.post(&waive, Some(&who.access_token), json!({"reason": "生病"})).await?, 403, "forbidden")
            .await?;
    }
    for path in ["/api/v1/offline-residents", "/api/v1/me/principals"] {
        expect_problem(app.get(path, None).await?, 401, "unauthenticated").await?;
    }
    Ok(())
}

/// A lost card is revoked (its code refused at the door) and a new one issued; guessing
/// card codes is rate limited.
#[tokio::test]
async fn cards_are_revoked_reissued_and_not_guessable() -> TestResult {
    let app = spawn_app().await?;
    let committee = committee(&app).await?;
    let father = register(&app, &committee, "周爷爷").await?;
    let father_id = id(&father, "user_id");
    let old = father["card_code"].as_str().unwrap_or_default().to_owned();
    let daughter = resident(&app, "zhou-daughter").await?;
    expect_json(link(&app, &committee, father_id, &daughter).await?, 201).await?;
    let (leader, org) = app.demo_leader().await?;
    let activity = activity(&app, &leader, org, "健步走", 1).await?;
    expect_json(sign_up_for(&app, &daughter, father_id, activity).await?, 201).await?;

    let base = format!("/api/v1/offline-residents/{father_id}/card");
    let revoked = expect_json(app.delete(&base, Some(&committee.access_token)).await?, 200).await?;
    assert_eq!(revoked["has_card"], false);
    let refused = expect_problem(
        attend(&app, &leader, activity, json!({"card_code": old, "action": "check_in"})).await?,
        422,
        "validation_failed",
    )
    .await?;
    assert_eq!(refused["errors"][0]["field"], "card_code");
    let fresh = expect_json(app.post(&base, Some(&committee.access_token), json!({})).await?, 200).await?;
    let new = fresh["card_code"].as_str().unwrap_or_default().to_owned();
    assert_ne!(new, old);
    expect_json(attend(&app, &leader, activity, json!({"card_code": new, "action": "check_in"})).await?, 200).await?;

    let mut limited = false;
    for n in 0..70 {
        let guess = format!("ZZZZ{:04}", 2222 + n % 7);
        let resp = attend(&app, &leader, activity, json!({"card_code": guess, "action": "check_in"})).await?;
        match resp.status().as_u16() {
            422 => {}
            429 => {
                limited = true;
                break;
            }
            other => anyhow::bail!("a guess answered {other}"),
        }
    }
    assert!(limited, "guessing card codes is rate limited");
    Ok(())
}

/// An offline resident who later signs in with WeChat is claimed: the account's identity
/// moves onto the record, which keeps its history; the account is retired.
#[tokio::test]
async fn claiming_links_the_new_wechat_account_to_the_record() -> TestResult {
    let app = spawn_app().await?;
    let committee = committee(&app).await?;
    let father_id = id(&register(&app, &committee, "吴爷爷").await?, "user_id");
    let daughter = resident(&app, "wu-daughter").await?;
    expect_json(link(&app, &committee, father_id, &daughter).await?, 201).await?;
    let (leader, org) = app.demo_leader().await?;
    let activity = activity(&app, &leader, org, "电影放映", 24).await?;
    expect_json(sign_up_for(&app, &daughter, father_id, activity).await?, 201).await?;

    // An account already used cannot be merged.
    let busy = resident(&app, "wu-busy").await?;
    expect_json(
        app.post(&format!("/api/v1/activities/{activity}/signups"), Some(&busy.access_token), json!({})).await?,
        201,
    )
    .await?;
    let claim = format!("/api/v1/offline-residents/{father_id}/claim");
    let body = json!({"checkin_code": code_of(&app, &busy).await?});
    expect_problem(app.post(&claim, Some(&committee.access_token), body).await?, 409, "account_in_use").await?;
    let body = json!({"checkin_code": "u1.1.deadbeefdeadbeef"});
    expect_problem(app.post(&claim, Some(&committee.access_token), body).await?, 422, "validation_failed").await?;

    // Two claims of one record at once (two accounts): one is made.
    let twin = id(&register(&app, &committee, "吴二爷").await?, "user_id");
    let (x, y) = (app.login("wu-twin-x").await?, app.login("wu-twin-y").await?);
    let twin_claim = format!("/api/v1/offline-residents/{twin}/claim");
    let (bx, by) =
        (json!({"checkin_code": code_of(&app, &x).await?}), json!({"checkin_code": code_of(&app, &y).await?}));
    let (a, b) = futures_util::join!(
        app.post(&twin_claim, Some(&committee.access_token), bx),
        app.post(&twin_claim, Some(&committee.access_token), by),
    );
    let mut both = vec![a?.status().as_u16(), b?.status().as_u16()];
    both.sort_unstable();
    assert_eq!(both, vec![200, 409]);

    let fresh = app.login("wu-wechat").await?;
    assert_ne!(fresh.user_id, father_id);
    let body = json!({"checkin_code": code_of(&app, &fresh).await?});
    let claimed = expect_json(app.post(&claim, Some(&committee.access_token), body.clone()).await?, 200).await?;
    assert!(claimed["claimed_at"].is_string(), "{claimed}");
    expect_problem(app.post(&claim, Some(&committee.access_token), body).await?, 409, "already_claimed").await?;

    // The retired account's session ends; signing in again lands on the record.
    expect_problem(app.get("/api/v1/me", Some(&fresh.access_token)).await?, 401, "invalid_token").await?;
    let him = app.login("wu-wechat").await?;
    assert_eq!(him.user_id, father_id, "one person, one id");
    let mine = expect_json(app.get("/api/v1/me/signups", Some(&him.access_token)).await?, 200).await?;
    assert_eq!(mine["items"][0]["activity"]["id"], activity, "his history came along: {mine}");
    let me = expect_json(app.get("/api/v1/me", Some(&him.access_token)).await?, 200).await?;
    assert_eq!(me["nickname"], "吴爷爷");
    // He can see what was done for him; his daughter still acts for him.
    let acts =
        expect_json(app.get(&format!("/api/v1/principals/{father_id}/acts"), Some(&him.access_token)).await?, 200)
            .await?;
    assert_eq!(acts["items"][0]["act"], "claimed");
    let principals = expect_json(app.get("/api/v1/me/principals", Some(&daughter.access_token)).await?, 200).await?;
    assert_eq!(principals[0]["principal_id"], father_id);
    assert_eq!(principals[0]["principal_offline"], false);
    Ok(())
}

/// The committee erases an offline resident on request, as `DELETE /me` does: upcoming
/// places given up, links revoked, the proxy's copies about him gone, counts kept.
#[tokio::test]
async fn erasing_an_offline_resident() -> TestResult {
    let app = spawn_app().await?;
    let committee = committee(&app).await?;
    let father_id = id(&register(&app, &committee, "郑爷爷").await?, "user_id");
    let daughter = resident(&app, "zheng-daughter").await?;
    expect_json(link(&app, &committee, father_id, &daughter).await?, 201).await?;
    let (leader, org) = app.demo_leader().await?;
    let activity = activity(&app, &leader, org, "义剪", 24).await?;
    expect_json(sign_up_for(&app, &daughter, father_id, activity).await?, 201).await?;

    let base = format!("/api/v1/offline-residents/{father_id}");
    let resp = app.delete(&base, Some(&committee.access_token)).await?;
    assert_eq!(resp.status().as_u16(), 204);
    expect_problem(app.get(&base, Some(&committee.access_token)).await?, 404, "not_found").await?;
    expect_problem(app.delete(&base, Some(&committee.access_token)).await?, 404, "not_found").await?;
    let shown = expect_json(app.get(&format!("/api/v1/activities/{activity}"), None).await?, 200).await?;
    assert_eq!(shown["places_left"], 10, "his place was given up");
    let principals = expect_json(app.get("/api/v1/me/principals", Some(&daughter.access_token)).await?, 200).await?;
    assert_eq!(principals, json!([]));
    let inbox = expect_json(app.get("/api/v1/me/notifications", Some(&daughter.access_token)).await?, 200).await?;
    assert!(!inbox.to_string().contains("郑爷爷"), "{inbox}");
    use linli_server::entity::{offline_resident, user};
    let row = user::Entity::find_by_id(father_id).one(&app.ctx.db).await?.ok_or_else(|| anyhow::anyhow!("gone"))?;
    assert!(row.nickname.is_none() && row.deleted_at.is_some(), "{row:?}");
    let record = offline_resident::Entity::find_by_id(father_id)
        .one(&app.ctx.db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("gone"))?;
    assert!(record.contact_phone.is_none() && record.year_of_birth.is_none() && record.card_hash.is_none());
    let acts = expect_json(
        app.get(&format!("/api/v1/principals/{father_id}/acts"), Some(&committee.access_token)).await?,
        200,
    )
    .await?;
    assert_eq!(acts["items"][0]["act"], "erased");
    Ok(())
}

/// No-shows count against the principal (never the proxy); staff waive one with a reason.
#[tokio::test]
async fn a_no_show_counts_against_the_principal_until_staff_waive_it() -> TestResult {
    let app = spawn_app_with(|v| {
        v.insert("NO_SHOW_LIMIT".into(), "1".into());
    })
    .await?;
    let committee = committee(&app).await?;
    let father_id = id(&register(&app, &committee, "冯爷爷").await?, "user_id");
    let daughter = resident(&app, "feng-daughter").await?;
    expect_json(link(&app, &committee, father_id, &daughter).await?, 201).await?;
    let (leader, org) = app.demo_leader().await?;
    let missed = activity(&app, &leader, org, "包饺子", 1).await?;
    let next = activity(&app, &leader, org, "下棋", 30).await?;
    let later = activity(&app, &leader, org, "唱歌", 60).await?;
    expect_json(sign_up_for(&app, &daughter, father_id, missed).await?, 201).await?;

    app.clock.advance(Duration::hours(4));
    let leader = app.login_openid("demo-leader").await?;
    let closed = expect_json(
        app.post(&format!("/api/v1/activities/{missed}/finish"), Some(&leader.access_token), json!({})).await?,
        200,
    )
    .await?;
    assert_eq!(closed["no_shows"], 1);

    let daughter = app.login("feng-daughter").await?;
    let held = expect_json(sign_up_for(&app, &daughter, father_id, next).await?, 201).await?;
    assert_eq!(held["status"], "waitlisted", "his no-show counts against him: {held}");
    let mine = expect_json(
        app.post(&format!("/api/v1/activities/{next}/signups"), Some(&daughter.access_token), json!({})).await?,
        201,
    )
    .await?;
    assert_eq!(mine["status"], "confirmed", "not against her");

    let waive = format!("/api/v1/activities/{missed}/signups/{father_id}/waive-no-show");
    expect_problem(
        app.post(&waive, Some(&leader.access_token), json!({"reason": " "})).await?,
        422,
        "validation_failed",
    )
    .await?;
    let waived = expect_json(
        app.post(&waive, Some(&leader.access_token), json!({"reason": "女儿临时住院，无人陪同"})).await?,
        200,
    )
    .await?;
    assert_eq!(waived["waived_by"], leader.user_id);
    let twice =
        expect_json(app.post(&waive, Some(&leader.access_token), json!({"reason": "再次"})).await?, 200).await?;
    assert_eq!(twice["reason"], waived["reason"], "a second waiver answers the first");
    let not_one = format!("/api/v1/activities/{missed}/signups/{}/waive-no-show", daughter.user_id);
    expect_problem(app.post(&not_one, Some(&leader.access_token), json!({"reason": "x"})).await?, 404, "not_found")
        .await?;
    let confirmed = expect_json(sign_up_for(&app, &daughter, father_id, later).await?, 201).await?;
    assert_eq!(confirmed["status"], "confirmed", "the waived no-show no longer counts: {confirmed}");
    Ok(())
}

/// A proxy's calendar feed carries the principal's activities, named.
#[tokio::test]
async fn a_proxys_calendar_shows_the_principals_activities() -> TestResult {
    let app = spawn_app().await?;
    let committee = committee(&app).await?;
    let father_id = id(&register(&app, &committee, "陈爷爷").await?, "user_id");
    let daughter = resident(&app, "chen-daughter").await?;
    expect_json(link(&app, &committee, father_id, &daughter).await?, 201).await?;
    let (leader, org) = app.demo_leader().await?;
    let activity = activity(&app, &leader, org, "太极", 24).await?;
    expect_json(sign_up_for(&app, &daughter, father_id, activity).await?, 201).await?;
    let made =
        expect_json(app.post("/api/v1/me/calendar", Some(&daughter.access_token), Value::Null).await?, 201).await?;
    let feed = app.get(made["path"].as_str().unwrap_or_default(), None).await?.text().await?;
    let unfolded = feed.replace("\r\n ", "");
    assert!(unfolded.contains("SUMMARY:【陈爷爷】太极"), "{unfolded}");
    Ok(())
}

/// Links asked for at once: the cap holds (exactly three of eight), the same pair is made
/// once, and of two links that would make a proxy of a proxy exactly one is made.
#[tokio::test]
async fn links_asked_for_at_once_keep_the_rules() -> TestResult {
    use futures_util::future::join_all;
    let app = spawn_app().await?;
    let committee = committee(&app).await?;
    let father = id(&register(&app, &committee, "何爷爷").await?, "user_id");
    let mut crowd = Vec::new();
    for n in 0..8 {
        crowd.push(resident(&app, &format!("he-neighbour-{n}")).await?);
    }
    let path = format!("/api/v1/principals/{father}/proxy-links");
    let ask = |who: i64| {
        let (app, path, token) = (&app, path.clone(), committee.access_token.clone());
        async move {
            let body = json!({"proxy_user_id": who, "authorisation": "signed_form"});
            anyhow::Ok(app.post(&path, Some(&token), body).await?.status().as_u16())
        }
    };
    let answers: Vec<u16> =
        join_all(crowd.iter().map(|w| ask(w.user_id))).await.into_iter().collect::<Result<_, _>>()?;
    assert_eq!(answers.iter().filter(|s| **s == 201).count(), 3, "{answers:?}");
    assert_eq!(answers.iter().filter(|s| **s == 409).count(), 5, "{answers:?}");

    let mother = id(&register(&app, &committee, "何奶奶").await?, "user_id");
    let son = resident(&app, "he-son").await?;
    let same: Vec<u16> = join_all((0..4).map(|_| {
        let (app, token) = (&app, committee.access_token.clone());
        let path = format!("/api/v1/principals/{mother}/proxy-links");
        async move {
            let body = json!({"proxy_user_id": son.user_id, "authorisation": "in_person"});
            anyhow::Ok(app.post(&path, Some(&token), body).await?.status().as_u16())
        }
    }))
    .await
    .into_iter()
    .collect::<Result<_, _>>()?;
    let mut sorted = same.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, vec![200, 200, 200, 201], "{same:?}");

    // q would get a proxy (p) while becoming the proxy of r: a proxy of a proxy either way,
    // so exactly one of the two is made.
    let (p, q, r) = (resident(&app, "he-p").await?, resident(&app, "he-q").await?, resident(&app, "he-r").await?);
    let (to_q, to_r) = (
        format!("/api/v1/principals/{}/proxy-links", q.user_id),
        format!("/api/v1/principals/{}/proxy-links", r.user_id),
    );
    let (a, b) = futures_util::join!(
        app.post(
            &to_q,
            Some(&committee.access_token),
            json!({"proxy_user_id": p.user_id, "authorisation": "in_person"})
        ),
        app.post(
            &to_r,
            Some(&committee.access_token),
            json!({"proxy_user_id": q.user_id, "authorisation": "in_person"})
        ),
    );
    let mut both = vec![a?.status().as_u16(), b?.status().as_u16()];
    both.sort_unstable();
    assert_eq!(both, vec![201, 409]);
    Ok(())
}

/// A notice about the principal is pushed to the proxy on the proxy's own quota, naming
/// the principal; the offline principal's own copy stays in his inbox.
#[tokio::test]
async fn the_proxys_push_names_the_principal_and_spends_her_quota() -> TestResult {
    let app = spawn_app().await?;
    let committee = committee(&app).await?;
    let father_id = id(&register(&app, &committee, "褚爷爷").await?, "user_id");
    let daughter = resident(&app, "chu-daughter").await?;
    expect_json(link(&app, &committee, father_id, &daughter).await?, 201).await?;
    let results = json!({"results": { TEMPLATE_SIGNUP: "accept" }});
    expect_json(app.post("/api/v1/me/subscriptions", Some(&daughter.access_token), results).await?, 200).await?;
    let (leader, org) = app.demo_leader().await?;
    let activity = activity(&app, &leader, org, "义诊", 30).await?;
    expect_json(sign_up_for(&app, &daughter, father_id, activity).await?, 201).await?;

    let report = app.dispatch().await?;
    assert_eq!((report.sent, report.inbox_only), (1, 1), "{report:?}");
    let sent = app.fake.sends_to("o-chu-daughter");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["template_id"], TEMPLATE_SIGNUP);
    assert_eq!(sent[0]["data"]["thing1"]["value"], "【褚爷爷】义诊");
    let balances = expect_json(app.get("/api/v1/me/subscriptions", Some(&daughter.access_token)).await?, 200).await?;
    assert!(balances.to_string().contains("\"balance\":0"), "her quota was spent: {balances}");
    Ok(())
}

/// Bad input is a clear 422 and registers nobody.
#[tokio::test]
async fn bad_registrations_are_refused_and_change_nothing() -> TestResult {
    let app = spawn_app().await?;
    let committee = committee(&app).await?;
    let community = app.region(JINTAXIANG).await?;
    let street = app.region("620102002000").await?;
    let post = |body: Value| app.post("/api/v1/offline-residents", Some(&committee.access_token), body);
    let both = expect_problem(
        post(json!({"community_id": community, "name": "  ", "contact_phone": "12345"})).await?,
        422,
        "validation_failed",
    )
    .await?;
    let fields: Vec<&str> =
        both["errors"].as_array().into_iter().flatten().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, vec!["name", "contact_phone"], "{both}");
    let year = json!({"community_id": community, "name": "孙奶奶", "year_of_birth": 1850});
    let problem = expect_problem(post(year).await?, 422, "validation_failed").await?;
    assert_eq!(problem["errors"][0]["field"], "year_of_birth");
    let not_community = json!({"community_id": street, "name": "孙奶奶"});
    let problem = expect_problem(post(not_community).await?, 422, "validation_failed").await?;
    assert_eq!(problem["errors"][0]["code"], "not_a_community");
    let listed = expect_json(
        app.get(&format!("/api/v1/offline-residents?community_id={community}"), Some(&committee.access_token)).await?,
        200,
    )
    .await?;
    let names: Vec<&str> =
        listed["items"].as_array().into_iter().flatten().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, vec!["王大爷"], "only the demo's: {listed}");
    let body = json!({"proxy_user_id": committee.user_id});
    let demo = listed["items"][0]["user_id"].as_i64().unwrap_or_default();
    let problem = expect_problem(
        app.post(&format!("/api/v1/principals/{demo}/proxy-links"), Some(&committee.access_token), body).await?,
        422,
        "validation_failed",
    )
    .await?;
    assert_eq!(problem["errors"][0]["field"], "authorisation");
    let neither = json!({"authorisation": "in_person"});
    let resp =
        app.post(&format!("/api/v1/principals/{demo}/proxy-links"), Some(&committee.access_token), neither).await?;
    expect_problem(resp, 422, "validation_failed").await?;
    Ok(())
}

/// A proxy linked after the principal signed up still gets the reminders due later; they
/// are withdrawn when the principal cancels.
#[tokio::test]
async fn a_new_proxy_gets_the_reminders_still_to_come() -> TestResult {
    use linli_server::entity::notification;
    let app = spawn_app().await?;
    let (leader, org) = app.demo_leader().await?;
    let activity = activity(&app, &leader, org, "登山", 48).await?;
    let grandpa = resident(&app, "online-grandpa").await?;
    let grandchild = resident(&app, "online-grandchild").await?;
    expect_json(
        app.post(&format!("/api/v1/activities/{activity}/signups"), Some(&grandpa.access_token), json!({})).await?,
        201,
    )
    .await?;
    let body = json!({"proxy_checkin_code": code_of(&app, &grandchild).await?});
    let path = format!("/api/v1/principals/{}/proxy-links", grandpa.user_id);
    expect_json(app.post(&path, Some(&grandpa.access_token), body).await?, 201).await?;
    let copies = |state: &'static str| {
        notification::Entity::find()
            .filter(notification::Column::UserId.eq(grandchild.user_id))
            .filter(notification::Column::OnBehalfOf.eq(grandpa.user_id))
            .filter(notification::Column::Kind.eq("reminder"))
            .filter(notification::Column::State.eq(state))
            .all(&app.ctx.db)
    };
    assert_eq!(copies("pending").await?.len(), 2, "24 h and 1 h before");
    let resp = app.delete(&format!("/api/v1/activities/{activity}/signups/me"), Some(&grandpa.access_token)).await?;
    assert_eq!(resp.status().as_u16(), 204);
    assert!(copies("pending").await?.is_empty());
    assert_eq!(copies("cancelled").await?.len(), 2);
    Ok(())
}
