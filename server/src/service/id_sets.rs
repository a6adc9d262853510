//! Sets of ids kept in a column as Roaring bitmaps (`RoaringTreemap`, the crate's
//! portable format): the participants of `participant_months` and the organizations of
//! `activity_months`. Counting distinct people or organizations over a period is then a
//! union of a few hundred small sets instead of a pass over every row beneath them.

use std::future::Future;

use roaring::RoaringTreemap;
use sea_orm::{
    ActiveModelTrait, Condition, ConnectionTrait, EntityName, EntityTrait, Iterable, PrimaryKeyToColumn,
    PrimaryKeyTrait, QueryFilter, QuerySelect,
};

use crate::error::{AppError, AppResult};

/// Decodes a set stored in `table`; a set that does not decode is an internal error
/// naming the table.
pub fn decode(bytes: &[u8], table: &str) -> AppResult<RoaringTreemap> {
    RoaringTreemap::deserialize_from(bytes)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("a set in {table} does not decode: {e}")))
}

/// Encodes a set for its column.
pub fn encode(set: &RoaringTreemap) -> AppResult<Vec<u8>> {
    let mut bytes = Vec::with_capacity(set.serialized_size());
    set.serialize_into(&mut bytes).map_err(|e| AppError::Internal(anyhow::anyhow!("encoding an id set: {e}")))?;
    Ok(bytes)
}

/// The set of these ids. Ids are positive (sequence-assigned); any other is left out.
pub fn of(ids: impl IntoIterator<Item = i64>) -> RoaringTreemap {
    ids.into_iter().filter_map(|id| u64::try_from(id).ok()).collect()
}

/// A set's size as the figures count it.
pub fn size(set: &RoaringTreemap) -> i64 {
    i64::try_from(set.len()).unwrap_or(i64::MAX)
}

/// Whether `E` has a row matching `filter`, reading at most one id (`column`, an `i64`):
/// cheap enough to ask at every start.
pub async fn has_row<E: EntityTrait>(
    db: &impl ConnectionTrait,
    column: E::Column,
    filter: Condition,
) -> AppResult<bool> {
    Ok(E::find().select_only().column(column).filter(filter).into_tuple::<i64>().one(db).await?.is_some())
}

/// After migrating: a derived table that is empty while its record has rows (the table is
/// new to an existing deployment) is derived now by `rebuild`, so the figures read from it
/// do not drop to zero. Logs `what` with the communities written and the time taken.
pub async fn derive_if_new<F>(derived_empty: bool, record_has_rows: bool, what: &str, rebuild: F) -> AppResult<()>
where
    F: Future<Output = AppResult<usize>>,
{
    if derived_empty && record_has_rows {
        let started = std::time::Instant::now();
        let communities = rebuild.await?;
        tracing::info!(communities, seconds = started.elapsed().as_secs_f64(), "{what} derived");
    }
    Ok(())
}

/// The row that holds a set, locked for the caller's transaction, created from `empty`
/// first when it is new (`INSERT … ON CONFLICT (the primary key) DO NOTHING`, then `SELECT
/// … FOR UPDATE`; on SQLite the write transaction, `BEGIN IMMEDIATE`, is the lock). Two
/// transactions adding to one set thus take turns: the second reads the set only after
/// the first has committed, and adds to it rather than writing over it.
pub async fn lock_or_create<A>(
    db: &impl ConnectionTrait,
    empty: A,
    key: <<A::Entity as EntityTrait>::PrimaryKey as PrimaryKeyTrait>::ValueType,
) -> AppResult<<A::Entity as EntityTrait>::Model>
where
    A: ActiveModelTrait + Send,
{
    let conflict = <A::Entity as EntityTrait>::PrimaryKey::iter().map(|k| k.into_column());
    <A::Entity as EntityTrait>::insert(empty).on_conflict_do_nothing_on(conflict).exec_without_returning(db).await?;
    <A::Entity as EntityTrait>::find_by_id(key).lock_exclusive().one(db).await?.ok_or_else(|| {
        let table = <A::Entity as Default>::default().table_name().to_owned();
        AppError::Internal(anyhow::anyhow!("a {table} row vanished after its insert"))
    })
}
