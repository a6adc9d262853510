//! The administrative region tree's vocabulary.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

string_enum! {
    /// A region's level: province 省, city 市/州, county 县/区, street 街道/乡镇 (street or
    /// township), community 社区/村 (urban community or rural village).
    RegionLevel {
        Province = "province",
        City = "city",
        County = "county",
        Street = "street",
        Community = "community",
    }
}

string_enum! {
    /// Whether a community is urban (社区, target 10 organizations) or rural (村, target 5).
    RegionKind {
        Urban = "urban",
        Rural = "rural",
    }
}
