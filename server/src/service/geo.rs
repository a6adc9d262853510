//! Nearest-first ordering and keyset cursors shared by the browse lists.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
    sea_query::{Expr, ExprTrait, IntoColumnRef, Order, SimpleExpr},
};

use crate::error::AppResult;

/// Squared, locally flat distance from (`lat`, `lng`): only arithmetic, so it is the
/// same on SQLite and PostgreSQL and orders a city exactly enough. Rows without
/// coordinates sort last.
pub fn near_key<C: IntoColumnRef + Copy>(lat_col: C, lng_col: C, lat: f64, lng: f64) -> SimpleExpr {
    let k = lat.to_radians().cos();
    let dy = Expr::col(lat_col).sub(lat);
    let dx = Expr::col(lng_col).sub(lng).mul(k);
    let key = dy.clone().mul(dy).add(dx.clone().mul(dx));
    Expr::case(Expr::col(lat_col).is_null().or(Expr::col(lng_col).is_null()), Expr::val(1.0e12_f64)).finally(key).into()
}

/// Rows strictly after (`key`, `id`) in ascending (key, id) order.
pub fn after<K: Into<sea_orm::Value> + Clone>(
    key_expr: SimpleExpr,
    id_col: impl IntoColumnRef + Copy,
    key: K,
    id: i64,
) -> Condition {
    Condition::any()
        .add(key_expr.clone().gt(key.clone()))
        .add(Condition::all().add(key_expr.eq(key)).add(Expr::col(id_col).gt(id)))
}

/// One page of a browse list's ids: `query` selects only the `id` column (with its
/// filters); newest first, or with `near` nearest first by [`near_key`] over the
/// `lat`/`lng` columns, keyset-paged from `cursor` either way. Returns the ids in order
/// and the next page's cursor.
#[allow(clippy::too_many_arguments)]
pub async fn page_ids<E: EntityTrait, C: ColumnTrait + IntoColumnRef + Copy>(
    db: &impl ConnectionTrait,
    mut query: Select<E>,
    id: C,
    lat: C,
    lng: C,
    near: Option<(f64, f64)>,
    cursor: Option<Cursor>,
    limit: u64,
) -> AppResult<(Vec<i64>, Option<Cursor>)> {
    let rows: Vec<(i64, f64)> = match near {
        None => {
            if let Some(Cursor::Id(after)) = cursor {
                query = query.filter(id.lt(after));
            }
            query
                .column_as(Expr::val(0.0_f64), "k")
                .order_by(id, Order::Desc)
                .limit(limit + 1)
                .into_tuple()
                .all(db)
                .await?
        }
        Some((la, ln)) => {
            let key = near_key(lat, lng, la, ln);
            if let Some(Cursor::Near(k, after)) = cursor {
                query = query.filter(self::after(key.clone(), id, k, after));
            }
            query
                .column_as(key.clone(), "k")
                .order_by(key, Order::Asc)
                .order_by(id, Order::Asc)
                .limit(limit + 1)
                .into_tuple()
                .all(db)
                .await?
        }
    };
    let more = rows.len() as u64 > limit;
    let rows: Vec<(i64, f64)> = rows.into_iter().take(limit as usize).collect();
    let next = match (more, rows.last(), near) {
        (true, Some((id, _)), None) => Some(Cursor::Id(*id)),
        (true, Some((id, k)), Some(_)) => Some(Cursor::Near(*k, *id)),
        _ => None,
    };
    Ok((rows.into_iter().map(|(id, _)| id).collect(), next))
}

/// Where the previous page of a browse list ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cursor {
    /// Newest first: the last id.
    Id(i64),
    /// Nearest first: the last sort key and id.
    Near(f64, i64),
    /// Soonest first: the last start, exactly as stored (to the nanosecond: a cursor less
    /// precise than its column repeats rows whose times differ below its precision), and id.
    Time(DateTime<Utc>, i64),
}

impl Cursor {
    pub fn encode(self) -> String {
        match self {
            Cursor::Id(id) => format!("i{id}"),
            Cursor::Near(key, id) => format!("n{:016x}.{id}", key.to_bits()),
            Cursor::Time(at, id) => format!("t{}.{:09}.{id}", at.timestamp(), at.timestamp_subsec_nanos()),
        }
    }

    pub fn decode(s: &str) -> Option<Self> {
        let (kind, rest) = s.split_at_checked(1)?;
        match kind {
            "i" => rest.parse().ok().map(Cursor::Id),
            "n" => {
                let (key, id) = rest.split_once('.')?;
                Some(Cursor::Near(f64::from_bits(u64::from_str_radix(key, 16).ok()?), id.parse().ok()?))
            }
            "t" => {
                let mut parts = rest.split('.');
                let (secs, nanos, id) = (parts.next()?, parts.next()?, parts.next()?);
                if parts.next().is_some() || nanos.len() != 9 {
                    return None;
                }
                let at = DateTime::<Utc>::from_timestamp(secs.parse().ok()?, nanos.parse().ok()?)?;
                Some(Cursor::Time(at, id.parse().ok()?))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_exactly() {
        for c in [
            Cursor::Id(42),
            Cursor::Near(0.000_123_456_789_1, 7),
            Cursor::Near(1.0e12, 9),
            Cursor::Time(DateTime::<Utc>::from_timestamp(1_800_000_000, 400_000).unwrap_or_default(), 3),
            Cursor::Time(DateTime::<Utc>::from_timestamp(1_800_000_000, 999_999_999).unwrap_or_default(), 4),
        ] {
            assert_eq!(Cursor::decode(&c.encode()), Some(c));
        }
        for bad in ["n12", "x", "", "t12", "i", "tx.1", "t1.1", "t1.000000001.1.1", "t1.1000000000.1"] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }
}
