//! Copies of notices for proxies: a notice about a resident's places (`domain::proxy::
//! copied_to_proxies`) also goes to each of their live proxies — in the proxy's inbox,
//! pushed on the proxy's own quota — naming the principal (`addressed_to_proxy`). A copy
//! carries `on_behalf_of`, so withdrawing the principal's reminders withdraws the copies.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::{
    domain::{
        notification::NotificationKind,
        proxy::{UNNAMED, addressed_to_proxy, copied_to_proxies, principal_in_title, proxy_copy_key},
    },
    entity::{notification, proxy_link, user},
    error::AppResult,
    service::notifications::{Notice, insert, state, withdraw},
};

/// The proxies' copies of `notices`, each with the principal it is about.
pub async fn copies(db: &impl ConnectionTrait, notices: &[Notice]) -> AppResult<Vec<(Notice, i64)>> {
    let mut principals: Vec<i64> = notices.iter().filter(|n| copied_to_proxies(n.kind)).map(|n| n.user_id).collect();
    if principals.is_empty() {
        return Ok(Vec::new());
    }
    principals.sort_unstable();
    principals.dedup();
    let links = proxy_link::Entity::find()
        .filter(proxy_link::Column::PrincipalId.is_in(principals.clone()))
        .filter(proxy_link::Column::RevokedAt.is_null())
        .all(db)
        .await?;
    if links.is_empty() {
        return Ok(Vec::new());
    }
    let names: HashMap<i64, String> = user::Entity::find()
        .filter(user::Column::Id.is_in(principals))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.nickname.unwrap_or_else(|| UNNAMED.to_owned())))
        .collect();
    let mut out = Vec::new();
    for n in notices.iter().filter(|n| copied_to_proxies(n.kind)) {
        let name = names.get(&n.user_id).map(String::as_str).unwrap_or(UNNAMED);
        for link in links.iter().filter(|l| l.principal_id == n.user_id) {
            let (title, body) = addressed_to_proxy(name, &n.title, &n.body);
            let copy = Notice {
                user_id: link.proxy_id,
                title,
                body,
                dedupe_key: proxy_copy_key(&n.dedupe_key, link.proxy_id),
                ..n.clone()
            };
            out.push((copy, n.user_id));
        }
    }
    Ok(out)
}

/// A pending notice re-rendered after its activity changed: a proxy's copy keeps naming
/// its principal.
pub fn readdress(n: &notification::Model, title: String, body: String) -> (String, String) {
    if n.on_behalf_of.is_none() {
        return (title, body);
    }
    let name = principal_in_title(&n.title).unwrap_or(UNNAMED);
    addressed_to_proxy(name, &title, &body)
}

/// Withdraws the pending copies about `principal` (to one proxy, or to all of them).
pub async fn withdraw_copies(db: &impl ConnectionTrait, proxy: Option<i64>, principal: i64) -> AppResult<u64> {
    let mut update = withdraw().filter(notification::Column::OnBehalfOf.eq(principal));
    if let Some(proxy) = proxy {
        update = update.filter(notification::Column::UserId.eq(proxy));
    }
    Ok(update.exec(db).await?.rows_affected)
}

/// Deletes every copy about `principal`, sent or not (their text names the person).
pub async fn delete_copies_about(db: &impl ConnectionTrait, principal: i64) -> AppResult<u64> {
    Ok(notification::Entity::delete_many()
        .filter(notification::Column::OnBehalfOf.eq(principal))
        .exec(db)
        .await?
        .rows_affected)
}

/// A new proxy gets copies of the principal's notices still waiting to go out (reminders
/// of places taken before the link was made), in the link's transaction.
pub async fn copy_pending(db: &impl ConnectionTrait, principal: i64, proxy: i64, now: DateTime<Utc>) -> AppResult<()> {
    let pending = notification::Entity::find()
        .filter(notification::Column::UserId.eq(principal))
        .filter(notification::Column::OnBehalfOf.is_null())
        .filter(notification::Column::State.eq(state::PENDING))
        .all(db)
        .await?;
    let name = user::Entity::find_by_id(principal)
        .one(db)
        .await?
        .and_then(|u| u.nickname)
        .unwrap_or_else(|| UNNAMED.to_owned());
    let copies: Vec<Notice> = pending
        .into_iter()
        .filter(|n| copied_to_proxies(&n.kind))
        .filter_map(|n| {
            let kind = NotificationKind::parse(&n.kind)?.as_str();
            let (title, body) = addressed_to_proxy(&name, &n.title, &n.body);
            Some(Notice {
                user_id: proxy,
                kind,
                title,
                body,
                activity_id: n.activity_id,
                organization_id: n.organization_id,
                dedupe_key: proxy_copy_key(&n.dedupe_key, proxy),
                due_at: n.due_at,
                offset_secs: n.offset_secs,
            })
        })
        .collect();
    let all: Vec<(&Notice, Option<i64>)> = copies.iter().map(|n| (n, Some(principal))).collect();
    insert(db, &all, now).await
}
