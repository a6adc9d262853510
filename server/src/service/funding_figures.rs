//! Funding figures of a region (资金支持): calls open, money granted and paid (fen),
//! projects by state, and deliverables met against planned — computed from the same
//! evidence as each project's progress.

use std::collections::BTreeMap;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Query};

use crate::{
    context::AppContext,
    domain::funding::{CallStatus, Deliverable, progress},
    entity::{funding_call, organization, project},
    error::AppResult,
    service::{organization_scope::regions_under, projects::evidence},
};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FundingFigures {
    /// Calls over the region's organizations taking applications now.
    pub calls_open: i64,
    /// Granted to the region's organizations, in fen.
    pub granted_fen: i64,
    /// Paid to them, in fen.
    pub paid_fen: i64,
    /// Projects by state (`pending_agreement`, `active`, `completed`, `failed`).
    pub projects: BTreeMap<String, i64>,
    /// Deliverables of signed projects, and those met by the evidence so far.
    pub deliverables_planned: i64,
    pub deliverables_met: i64,
}

/// The funding figures of the organizations under `paths`.
pub async fn funding_figures(ctx: &AppContext, paths: &[String]) -> AppResult<FundingFigures> {
    let mut f = FundingFigures::default();
    let now = ctx.now();
    f.calls_open = funding_call::Entity::find()
        .filter(funding_call::Column::RegionId.in_subquery(regions_under(paths)))
        .filter(funding_call::Column::Status.eq(CallStatus::Open.as_str()))
        .filter(funding_call::Column::OpensAt.lte(now))
        .filter(funding_call::Column::ClosesAt.gt(now))
        .all(&ctx.db)
        .await?
        .len() as i64;
    let projects = project::Entity::find()
        .filter(
            project::Column::OrganizationId.in_subquery(
                Query::select()
                    .column(organization::Column::Id)
                    .from(organization::Entity)
                    .and_where(organization::Column::CommunityId.in_subquery(regions_under(paths)))
                    .to_owned(),
            ),
        )
        .all(&ctx.db)
        .await?;
    for p in projects {
        f.granted_fen += p.amount_fen;
        f.paid_fen += p.paid_fen;
        *f.projects.entry(p.status.clone()).or_default() += 1;
        if p.starts_on.is_some() {
            let plan: Vec<Deliverable> = serde_json::from_str(&p.plan).unwrap_or_default();
            let pr = progress(&plan, &evidence(&ctx.db, &p).await?);
            f.deliverables_planned += pr.deliverables.len() as i64;
            f.deliverables_met += pr.deliverables.iter().filter(|d| d.met).count() as i64;
        }
    }
    Ok(f)
}
