use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "time_banks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The community, or the street whose communities it serves (one bank per region).
    pub region_id: i64,
    pub name: String,
    /// The lowest balance a member's account may reach, in minutes (default −600).
    pub floor_minutes: i64,
    /// An organization the committee designated to accept members and correct transfers.
    pub managing_org_id: Option<i64>,
    pub created_by: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
