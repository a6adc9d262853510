//! The demo's offline resident: 王大爷 of 金塔巷社区, no WeChat, card `WANG-2345`, with his
//! daughter 王小红 (`demo-daughter`) as his proxy, authorised in person at the committee.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::{
    domain::proxy::{Authorisation, ProxyAct, card_hash},
    entity::{offline_resident, proxy_link, user},
    error::AppResult,
    service::proxies::record_act,
};

/// The demo card's code, as printed (stored only as its hash, like any card).
pub const DEMO_CARD: &str = "WANG-2345";

/// Registers the demo offline resident and links the proxy. Idempotent: nothing when the
/// demo card exists.
pub async fn seed_demo(
    db: &impl ConnectionTrait,
    community: i64,
    committee_user: i64,
    proxy_user: i64,
    now: DateTime<Utc>,
) -> AppResult<bool> {
    let hash = card_hash(&DEMO_CARD.replace('-', ""));
    if offline_resident::Entity::find()
        .filter(offline_resident::Column::CardHash.eq(hash.clone()))
        .one(db)
        .await?
        .is_some()
    {
        return Ok(false);
    }
    let person = user::Entity::insert(user::ActiveModel {
        nickname: Set(Some("王大爷".to_owned())),
        home_community_id: Set(Some(community)),
        token_version: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(db)
    .await?
    .last_insert_id;
    crate::service::community_residents::moved(db, person, None, Some(community)).await?;
    offline_resident::Entity::insert(offline_resident::ActiveModel {
        user_id: Set(person),
        community_id: Set(community),
        year_of_birth: Set(Some(1948)),
        contact_phone: Set(Some("13800138000".to_owned())),
        card_hash: Set(Some(hash)),
        card_issued_at: Set(Some(now)),
        registered_by: Set(committee_user),
        created_at: Set(now),
        claimed_at: Set(None),
        claimed_by: Set(None),
        claimed_account: Set(None),
        deleted_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    record_act(db, person, committee_user, ProxyAct::Registered, None, None, now).await?;
    let link = proxy_link::Entity::insert(proxy_link::ActiveModel {
        principal_id: Set(person),
        proxy_id: Set(proxy_user),
        authorisation: Set(Authorisation::InPerson.as_str().to_owned()),
        authorised_by: Set(committee_user),
        note: Set(Some("女儿，父女二人到社区当面授权".to_owned())),
        created_at: Set(now),
        ..Default::default()
    })
    .exec(db)
    .await?
    .last_insert_id;
    record_act(db, person, committee_user, ProxyAct::LinkCreated, None, Some(link), now).await?;
    Ok(true)
}
