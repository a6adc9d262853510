//! A resident's private calendar feed: created or rotated (`POST /me/calendar`), removed
//! (`DELETE /me/calendar`) and read by anyone holding its URL (`GET
//! /calendar/{token}.ics`) — the URL is the secret, so it is random (256 bits), stored
//! only as its SHA-256, and a rotation or removal ends the old one at once.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::{
    auth::AuthUser,
    context::AppContext,
    domain::{
        activity::{ActivityStatus, SignupStatus},
        calendar::{FeedEvent, Place, feed, new_token, token_hash},
        proxy::UNNAMED,
    },
    entity::{activity, calendar_feed, organization, signup, user},
    error::{AppError, AppResult},
    service::{begin_write, retrying},
};

/// Activities that ended longer ago than this leave the feed.
pub const PAST_DAYS: i64 = 90;

/// At most this many events in one feed (the earliest left out first).
pub const MAX_EVENTS: u64 = 500;

/// A feed's URL path under `/api/v1` and when it was made.
#[derive(Debug, Clone)]
pub struct FeedLink {
    /// `/api/v1/calendar/{token}.ics`: shown once, never stored.
    pub path: String,
    pub created_at: DateTime<Utc>,
}

/// Makes the caller's feed, or replaces its token (the old URL answers 404 from then on).
pub async fn rotate(ctx: &AppContext, user: &AuthUser) -> AppResult<FeedLink> {
    retrying(|| rotate_once(ctx, user)).await
}

async fn rotate_once(ctx: &AppContext, user: &AuthUser) -> AppResult<FeedLink> {
    let now = ctx.now();
    let token = new_token();
    let hash =
        token_hash(&token).ok_or_else(|| AppError::Internal(anyhow::anyhow!("a new token failed its own check")))?;
    let txn = begin_write(&ctx.db).await?;
    calendar_feed::Entity::delete_many().filter(calendar_feed::Column::UserId.eq(user.id)).exec(&txn).await?;
    calendar_feed::Entity::insert(calendar_feed::ActiveModel {
        user_id: Set(user.id),
        token_hash: Set(hash),
        created_at: Set(now),
        ..Default::default()
    })
    .exec(&txn)
    .await?;
    txn.commit().await?;
    Ok(FeedLink { path: format!("/api/v1/calendar/{token}.ics"), created_at: now })
}

/// Removes the caller's feed (nothing to remove is no error).
pub async fn remove(ctx: &AppContext, user: &AuthUser) -> AppResult<()> {
    remove_for(&ctx.db, user.id).await
}

/// Removes a user's feed (also when the account is deleted).
pub async fn remove_for(db: &impl ConnectionTrait, user_id: i64) -> AppResult<()> {
    calendar_feed::Entity::delete_many().filter(calendar_feed::Column::UserId.eq(user_id)).exec(db).await?;
    Ok(())
}

/// The residents whose activities a feed shows: its owner, and the principals the owner
/// acts for now (their live proxy links).
async fn residents_of(db: &impl ConnectionTrait, owner: i64) -> AppResult<Vec<i64>> {
    let mut ids = vec![owner];
    ids.extend(crate::service::proxies::principals_of(db, owner).await?);
    Ok(ids)
}

/// The feed named by `token` as iCalendar text: its owner's (and their principals')
/// confirmed, checked-in and waitlisted activities that are published, finished or
/// cancelled and ended at most [`PAST_DAYS`] ago, soonest first; a principal's event is
/// titled `【name】…` unless the owner holds a place too. An unknown or malformed token
/// is 404.
pub async fn render(ctx: &AppContext, token: &str) -> AppResult<String> {
    let hash = token_hash(token).ok_or(AppError::NotFound("calendar"))?;
    let feed_row = calendar_feed::Entity::find()
        .filter(calendar_feed::Column::TokenHash.eq(hash))
        .one(&ctx.db)
        .await?
        .ok_or(AppError::NotFound("calendar"))?;
    let now = ctx.now();
    let signups = signup::Entity::find()
        .filter(signup::Column::UserId.is_in(residents_of(&ctx.db, feed_row.user_id).await?))
        .filter(signup::Column::Status.is_in([
            SignupStatus::Confirmed.as_str(),
            SignupStatus::Waitlisted.as_str(),
            SignupStatus::Attended.as_str(),
        ]))
        .all(&ctx.db)
        .await?;
    // The owner's own sign-up wins over a principal's on the same activity.
    let mut signups = signups;
    signups.sort_by_key(|s| s.user_id == feed_row.user_id);
    let mut places: HashMap<i64, Place> = HashMap::new();
    let mut for_principal: HashMap<i64, i64> = HashMap::new();
    for s in &signups {
        let place = if s.status == SignupStatus::Waitlisted.as_str() { Place::Waitlisted } else { Place::Held };
        places.insert(s.activity_id, place);
        if s.user_id == feed_row.user_id {
            for_principal.remove(&s.activity_id);
        } else {
            for_principal.insert(s.activity_id, s.user_id);
        }
    }
    let principal_names: HashMap<i64, String> = user::Entity::find()
        .filter(user::Column::Id.is_in(for_principal.values().copied().collect::<Vec<_>>()))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.nickname.unwrap_or_else(|| UNNAMED.to_owned())))
        .collect();
    let activities = activity::Entity::find()
        .filter(activity::Column::Id.is_in(places.keys().copied().collect::<Vec<_>>()))
        .filter(activity::Column::Status.is_in([
            ActivityStatus::Published.as_str(),
            ActivityStatus::Finished.as_str(),
            ActivityStatus::Cancelled.as_str(),
        ]))
        .filter(activity::Column::EndsAt.gte(now - Duration::days(PAST_DAYS)))
        .order_by_desc(activity::Column::StartsAt)
        .order_by_desc(activity::Column::Id)
        .limit(MAX_EVENTS)
        .all(&ctx.db)
        .await?;
    let activities = activities.into_iter().rev();
    let activities: Vec<activity::Model> = activities.collect();
    let org_ids: Vec<i64> = activities.iter().map(|a| a.organization_id).collect();
    let orgs: HashMap<i64, String> = organization::Entity::find()
        .filter(organization::Column::Id.is_in(org_ids))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    let events: Vec<FeedEvent> = activities
        .into_iter()
        .map(|a| FeedEvent {
            activity_id: a.id,
            place: places.get(&a.id).copied().unwrap_or(Place::Held),
            organization_name: orgs.get(&a.organization_id).cloned().unwrap_or_default(),
            cancelled: a.status == ActivityStatus::Cancelled.as_str(),
            title: match for_principal.get(&a.id).and_then(|p| principal_names.get(p)) {
                Some(name) => format!("【{name}】{}", a.title),
                None => a.title,
            },
            description: a.description,
            location: a.location,
            latitude: a.latitude,
            longitude: a.longitude,
            starts_at: a.starts_at,
            ends_at: a.ends_at,
            version: a.version,
            cancel_reason: a.cancel_reason,
            updated_at: a.updated_at,
        })
        .collect();
    Ok(feed(feed_row.user_id, &events, now))
}
