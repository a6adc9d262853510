use sea_orm::entity::prelude::*;

/// One change an import made to an existing region: `renamed`, `moved` (another parent),
/// `reclassified` (urban ↔ rural), `retired` or `restored`, with the values before and
/// after (names, parent codes or kinds) and the file it came from.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "region_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub region_id: i64,
    pub action: String,
    pub from_value: Option<String>,
    pub to_value: Option<String>,
    pub source: String,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
