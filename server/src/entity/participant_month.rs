use sea_orm::entity::prelude::*;

/// The residents who took part in a community's activities in one month: a Roaring
/// bitmap of user ids (`RoaringTreemap`, portable format). Derived from
/// `participant_years`; see `service::participant_counts`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "participant_months")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub community_id: i64,
    /// `YYYY-MM`, Asia/Shanghai.
    #[sea_orm(primary_key, auto_increment = false)]
    pub month: String,
    pub users: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
