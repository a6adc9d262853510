use sea_orm::entity::prelude::*;

/// A community's residents: the living accounts whose home community it is, as a Roaring
/// bitmap of user ids (`RoaringTreemap`, portable format). Derived from
/// `users.home_community_id`; see `service::community_residents`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "community_residents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub community_id: i64,
    pub users: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
