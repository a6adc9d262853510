//! Sets of ids kept in a column as Roaring bitmaps (`RoaringTreemap`, the crate's
//! portable format): the participants of `participant_months` and the organizations of
//! `activity_months`. Counting distinct people or organizations over a period is then a
//! union of a few hundred small sets instead of a pass over every row beneath them.

use roaring::RoaringTreemap;

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
