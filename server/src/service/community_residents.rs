//! Each community's residents as a set (`community_residents`): the living accounts whose
//! home community it is, as a Roaring bitmap of user ids ([`id_sets`]). The figures'
//! 居民 column is a set's size, and "lives here" for the participants an intersection
//! with it (see [`crate::service::participant_counts`]).
//!
//! `users.home_community_id` stays the record. Every path that gives an account a home,
//! changes it or ends the account calls [`moved`] in its own transaction, after locking
//! the user's row: a resident choosing or changing their home (`PATCH /me`), an offline
//! resident registered by the committee, the demo's residents, and an account deleted or
//! retired (`users::blank_identity`). [`rebuild`] derives every set again from `users`.
//! Reading 100 sets costs a district's figures about 1 ms, where the residents' 100,000
//! ids from `users` cost 30–43 ms (bench/RESULTS.md, round six).

use std::collections::{BTreeSet, HashMap};

use roaring::RoaringTreemap;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, Set};

use crate::{
    entity::{community_resident, user},
    error::AppResult,
    service::id_sets,
};

const TABLE: &str = "community_residents";

/// Locks a community's row (created empty first when it is new) and returns its set.
async fn locked(db: &impl ConnectionTrait, community: i64) -> AppResult<RoaringTreemap> {
    let empty = community_resident::ActiveModel {
        community_id: Set(community),
        users: Set(id_sets::encode(&RoaringTreemap::new())?),
    };
    let row = id_sets::lock_or_create(db, empty, community).await?;
    id_sets::decode(&row.users, TABLE)
}

async fn write(db: &impl ConnectionTrait, community: i64, set: &RoaringTreemap) -> AppResult<()> {
    community_resident::Entity::update(community_resident::ActiveModel {
        community_id: Set(community),
        users: Set(id_sets::encode(set)?),
    })
    .exec(db)
    .await?;
    Ok(())
}

/// `user`'s home community went from `from` to `to` (`None`: no home, or the account
/// ended), in the caller's transaction, which has locked the user's row and written
/// `users` already. Both communities' rows are locked in ascending id order (so two moves
/// in opposite directions cannot deadlock) before their sets are read and written.
pub async fn moved(db: &impl ConnectionTrait, user: i64, from: Option<i64>, to: Option<i64>) -> AppResult<()> {
    if from == to {
        return Ok(());
    }
    let communities: BTreeSet<i64> = from.into_iter().chain(to).collect();
    for community in communities {
        let mut set = locked(db, community).await?;
        let person = id_sets::of([user]);
        if Some(community) == to {
            set |= person;
        } else {
            set -= person;
        }
        write(db, community, &set).await?;
    }
    Ok(())
}

/// New accounts whose home is `community` (the demo's residents, created many at once),
/// in the caller's transaction: one lock and one write of the community's set. A caller
/// adding to several communities in one transaction goes in ascending id order, as
/// [`moved`] does.
pub async fn arrived(db: &impl ConnectionTrait, community: i64, users: &[i64]) -> AppResult<()> {
    if users.is_empty() {
        return Ok(());
    }
    let mut set = locked(db, community).await?;
    set |= id_sets::of(users.iter().copied());
    write(db, community, &set).await
}

/// The home community of a living account, its row locked for the change that follows
/// (`None`: no home, or no such living account).
pub async fn lock_home(db: &impl ConnectionTrait, user: i64) -> AppResult<Option<i64>> {
    Ok(user::Entity::find_by_id(user)
        .select_only()
        .column(user::Column::HomeCommunityId)
        .filter(user::Column::DeletedAt.is_null())
        .lock_exclusive()
        .into_tuple::<Option<i64>>()
        .one(db)
        .await?
        .flatten())
}

/// Derives every community's set again from `users`, one community per transaction:
/// each row is locked first and only then are its residents read, so a move running
/// beside it either waits for it or is read by it. Sets of communities with no resident
/// left are emptied. Returns the communities written. (`linli rebuild-figures`; the
/// benchmark's bulk path, which writes `users` in SQL, runs it after seeding.)
pub async fn rebuild(db: &DatabaseConnection) -> AppResult<usize> {
    let homes: Vec<i64> = user::Entity::find()
        .select_only()
        .column(user::Column::HomeCommunityId)
        .filter(user::Column::HomeCommunityId.is_not_null())
        .filter(user::Column::DeletedAt.is_null())
        .distinct()
        .into_tuple::<Option<i64>>()
        .all(db)
        .await?
        .into_iter()
        .flatten()
        .collect();
    let kept: Vec<i64> = community_resident::Entity::find()
        .select_only()
        .column(community_resident::Column::CommunityId)
        .into_tuple()
        .all(db)
        .await?;
    let communities: BTreeSet<i64> = homes.into_iter().chain(kept).collect();
    for community in &communities {
        let txn = crate::service::begin_write(db).await?;
        locked(&txn, *community).await?;
        let ids: Vec<i64> = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .filter(user::Column::HomeCommunityId.eq(*community))
            .filter(user::Column::DeletedAt.is_null())
            .into_tuple()
            .all(&txn)
            .await?;
        write(&txn, *community, &id_sets::of(ids)).await?;
        txn.commit().await?;
    }
    Ok(communities.len())
}

/// After migrating: an existing deployment with residents and no sets yet (the table is
/// new) derives them now, so its figures do not lose their residents. Runs at every
/// start, so it asks only whether each table has a row.
pub async fn fill_if_new(db: &DatabaseConnection) -> AppResult<()> {
    let empty = !id_sets::has_row::<community_resident::Entity>(
        db,
        community_resident::Column::CommunityId,
        sea_orm::Condition::all(),
    )
    .await?;
    let living = sea_orm::Condition::all()
        .add(user::Column::HomeCommunityId.is_not_null())
        .add(user::Column::DeletedAt.is_null());
    let residents = id_sets::has_row::<user::Entity>(db, user::Column::Id, living).await?;
    id_sets::derive_if_new(empty, residents, "residents' sets", rebuild(db)).await
}

/// The residents of these communities, by community (a community with none is absent).
pub async fn read(db: &impl ConnectionTrait, communities: &[i64]) -> AppResult<HashMap<i64, RoaringTreemap>> {
    if communities.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = community_resident::Entity::find()
        .filter(community_resident::Column::CommunityId.is_in(communities.iter().copied()))
        .all(db)
        .await?;
    let mut out = HashMap::new();
    for row in rows {
        let set = id_sets::decode(&row.users, TABLE)?;
        if !set.is_empty() {
            out.insert(row.community_id, set);
        }
    }
    Ok(out)
}
