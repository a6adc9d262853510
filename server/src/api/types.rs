//! Response shapes shared by several resources.

use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    domain::{
        clock::to_shanghai,
        region::{RegionKind, RegionLevel},
    },
    entity::region,
};

/// Times leave the API in Asia/Shanghai, RFC 3339 with offset.
pub fn time(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    to_shanghai(t)
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 1214, "parent_id": 1162, "code": "620102002006", "name": "金塔巷社区居委会",
    "level": "community", "kind": "urban", "latitude": 36.0627, "longitude": 103.8221, "retired_at": null
}))]
pub struct RegionResponse {
    pub id: i64,
    pub parent_id: Option<i64>,
    /// National 12-digit administrative division code.
    pub code: String,
    pub name: String,
    /// `province`, `city`, `county`, `street` (street or township) or `community`
    /// (urban community or rural village).
    #[schema(value_type = RegionLevel)]
    pub level: String,
    /// `urban` or `rural`, for communities.
    #[schema(value_type = Option<RegionKind>)]
    pub kind: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// When the unit left the National Bureau of Statistics' codes (撤销, found gone by an
    /// import); `null` while current. Retired regions are not listed among children and
    /// take no new filings, but old records still refer to them.
    pub retired_at: Option<DateTime<FixedOffset>>,
}

impl From<region::Model> for RegionResponse {
    fn from(r: region::Model) -> Self {
        Self {
            id: r.id,
            parent_id: r.parent_id,
            code: r.code,
            name: r.name,
            level: r.level,
            kind: r.kind,
            latitude: r.latitude,
            longitude: r.longitude,
            retired_at: r.retired_at.map(time),
        }
    }
}
