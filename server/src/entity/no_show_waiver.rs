use sea_orm::entity::prelude::*;

/// A no-show that staff waived with a reason: it no longer counts against the resident.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "no_show_waivers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub signup_id: i64,
    pub reason: String,
    pub waived_by: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
