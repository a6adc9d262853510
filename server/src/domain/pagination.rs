//! Cursor pagination: `cursor` is opaque to clients, `limit` is 1..=100.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::AppError;

pub const DEFAULT_LIMIT: u64 = 20;
pub const MAX_LIMIT: u64 = 100;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

/// A page of items.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl PageQuery {
    pub fn limit(&self) -> Result<u64, AppError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(AppError::invalid("limit", "range", "limit 须在 1 到 100 之间")),
        }
    }

    /// A cursor that carries one id: the last id of the previous page.
    pub fn after_id(&self) -> Result<Option<i64>, AppError> {
        match &self.cursor {
            None => Ok(None),
            Some(c) => decode_id_cursor(c)
                .map(Some)
                .ok_or_else(|| AppError::invalid("cursor", "invalid", "cursor 无效，请从第一页重新开始")),
        }
    }
}

pub fn encode_id_cursor(id: i64) -> String {
    format!("i{id}")
}

fn decode_id_cursor(c: &str) -> Option<i64> {
    c.strip_prefix('i')?.parse().ok()
}

/// Cuts a `limit + 1` fetch down to a page, with the cursor of its last item.
pub fn page_by_id<T, U: ToSchema>(
    mut rows: Vec<T>,
    limit: u64,
    id: impl Fn(&T) -> i64,
    map: impl FnMut(T) -> U,
) -> Page<U> {
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more { rows.last().map(|r| encode_id_cursor(id(r))) } else { None };
    Page { items: rows.into_iter().map(map).collect(), next_cursor }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_bounded() {
        let q = |limit| PageQuery { cursor: None, limit };
        assert_eq!(q(None).limit().ok(), Some(20));
        assert_eq!(q(Some(100)).limit().ok(), Some(100));
        assert!(q(Some(0)).limit().is_err());
        assert!(q(Some(101)).limit().is_err());
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let q = PageQuery { cursor: Some(encode_id_cursor(42)), limit: None };
        assert_eq!(q.after_id().ok(), Some(Some(42)));
        let bad = PageQuery { cursor: Some("x'; drop".into()), limit: None };
        assert!(bad.after_id().is_err());
    }
}
