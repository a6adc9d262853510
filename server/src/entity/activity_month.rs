use sea_orm::entity::prelude::*;

/// A community's activity figures in one month: sums of `activity_stats` and the
/// organizations that held the activities, as a Roaring bitmap of ids (`RoaringTreemap`,
/// portable format). Derived from `activity_stats`; see `service::activity_months`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "activity_months")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub community_id: i64,
    /// `YYYY-MM`, Asia/Shanghai.
    #[sea_orm(primary_key, auto_increment = false)]
    pub month: String,
    pub activities: i64,
    pub signups: i64,
    pub attended: i64,
    pub no_shows: i64,
    /// Credited minutes.
    pub minutes: i64,
    pub organizations: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
