//! Incubation and hub figures of a region (孵化与枢纽), for region metrics and the
//! export: groups in incubation now, admitted, graduated and exited in the period, hubs
//! and their active members.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::{
    domain::{
        hub::MembershipStatus,
        incubation::{IncubateeStatus, IncubationAction},
    },
    entity::{hub, hub_membership, incubatee, incubation_decision},
    error::AppResult,
    service::organization_scope::regions_under,
};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SupportFigures {
    /// Groups of the region's communities in incubation now.
    pub incubating: i64,
    /// Admitted in the period.
    pub admitted: i64,
    /// Graduated in the period.
    pub graduated: i64,
    /// Exited in the period.
    pub exited: i64,
    /// Graduates whose filing application has been made (at any time).
    pub graduates_applied: i64,
    /// Hubs of the region or of a region under it.
    pub hubs: i64,
    /// Active memberships of those hubs.
    pub hub_members: i64,
}

/// The figures of the region at `path` over `[from, to)`.
pub async fn figures(
    db: &impl ConnectionTrait,
    path: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> AppResult<SupportFigures> {
    let paths = [path.to_owned()];
    let in_region = || incubatee::Column::CommunityId.in_subquery(regions_under(&paths));
    let groups: Vec<i64> = incubatee::Entity::find().filter(in_region()).all(db).await?.iter().map(|i| i.id).collect();
    let incubating = incubatee::Entity::find()
        .filter(in_region())
        .filter(incubatee::Column::Status.eq(IncubateeStatus::Incubating.as_str()))
        .count(db)
        .await? as i64;
    let graduates_applied = incubatee::Entity::find()
        .filter(in_region())
        .filter(incubatee::Column::OrganizationId.is_not_null())
        .count(db)
        .await? as i64;
    let decided = |action: IncubationAction| {
        incubation_decision::Entity::find()
            .filter(incubation_decision::Column::IncubateeId.is_in(groups.clone()))
            .filter(incubation_decision::Column::Action.eq(action.as_str()))
            .filter(incubation_decision::Column::At.gte(from))
            .filter(incubation_decision::Column::At.lt(to))
            .count(db)
    };
    let admitted = decided(IncubationAction::Admit).await? as i64;
    let graduated = decided(IncubationAction::Graduate).await? as i64;
    let exited = decided(IncubationAction::Exit).await? as i64;
    let hub_ids: Vec<i64> = hub::Entity::find()
        .filter(hub::Column::RegionId.in_subquery(regions_under(&paths)))
        .all(db)
        .await?
        .iter()
        .map(|h| h.id)
        .collect();
    let hub_members = hub_membership::Entity::find()
        .filter(hub_membership::Column::HubId.is_in(hub_ids.clone()))
        .filter(hub_membership::Column::Status.eq(MembershipStatus::Active.as_str()))
        .count(db)
        .await? as i64;
    Ok(SupportFigures {
        incubating,
        admitted,
        graduated,
        exited,
        graduates_applied,
        hubs: hub_ids.len() as i64,
        hub_members,
    })
}

/// The export's sheet (孵化与枢纽).
pub fn sheet(
    book: &mut rust_xlsxwriter::Workbook,
    f: &SupportFigures,
    bold: &rust_xlsxwriter::Format,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let sheet = book.add_worksheet().set_name("孵化与枢纽")?;
    sheet.write_string_with_format(0, 0, "项目", bold)?;
    sheet.write_string_with_format(0, 1, "数量", bold)?;
    let rows: [(&str, i64); 7] = [
        ("在孵团队", f.incubating),
        ("本期入驻", f.admitted),
        ("本期出壳", f.graduated),
        ("本期退出", f.exited),
        ("出壳后已申请备案", f.graduates_applied),
        ("枢纽组织", f.hubs),
        ("枢纽组织成员", f.hub_members),
    ];
    for (r, (label, n)) in rows.iter().enumerate() {
        sheet.write_string(1 + r as u32, 0, *label)?;
        sheet.write_number(1 + r as u32, 1, *n as f64)?;
    }
    Ok(())
}
