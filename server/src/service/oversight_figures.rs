//! Oversight figures of a region (监管): last year's annual reports — owed, handed in,
//! accepted, overdue, by result — the organizations on the abnormal list (and those
//! flagged after two years), the staff holding a verified social-work certificate,
//! by community, and the organizations by current grade (等级评估).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect};

use crate::{
    context::AppContext,
    domain::{
        abnormal::flagged,
        annual_report::{ReportStatus, open_year},
        certificate::CertificateStatus,
        clock::to_shanghai,
        rating::AssessmentStatus,
        role::Role,
    },
    entity::{abnormal_listing, organization, rating_assessment, role_grant, staff_certificate},
    error::AppResult,
    service::{
        annual_reports::{owes, with_reports},
        organization_scope::regions_under,
        ratings::current_grades,
    },
};

/// Staff and certified staff of one community's organizations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Certified {
    /// People holding a leader's or staff role in the community's organizations.
    pub staff: i64,
    /// Of them, those with a verified certificate.
    pub certified: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OversightFigures {
    /// The report year (last calendar year).
    pub year: i32,
    pub reports_owed: i64,
    /// Submitted or accepted.
    pub reports_handed_in: i64,
    pub reports_accepted: i64,
    pub reports_overdue: i64,
    /// Accepted reports by result (`pass`, `basic_pass`, `fail`).
    pub results: BTreeMap<String, i64>,
    /// Organizations on the abnormal list now.
    pub abnormal: i64,
    /// Of them, those listed for two years or more.
    pub abnormal_flagged: i64,
    pub certified_by_community: HashMap<i64, Certified>,
    /// Organizations by current grade (等级评估, `1A`–`5A`), valid today.
    pub grades: BTreeMap<String, i64>,
    /// Assessments under way (scoring, on notice or appealed).
    pub assessments_open: i64,
}

impl OversightFigures {
    pub fn certified_total(&self) -> Certified {
        self.certified_by_community.values().fold(Certified::default(), |a, c| Certified {
            staff: a.staff + c.staff,
            certified: a.certified + c.certified,
        })
    }
}

/// The figures of the organizations under `paths`.
pub async fn oversight_figures(ctx: &AppContext, paths: &[String]) -> AppResult<OversightFigures> {
    let now = ctx.now();
    let year = open_year(now);
    // Only the columns the figures read: a district's 1,000 organizations decoded as
    // whole models twice cost a sixth of its figures' CPU (bench/RESULTS.md, round six).
    let under: Vec<(i64, i64, String, Option<DateTime<Utc>>)> = organization::Entity::find()
        .select_only()
        .column(organization::Column::Id)
        .column(organization::Column::CommunityId)
        .column(organization::Column::Status)
        .column(organization::Column::FiledAt)
        .filter(organization::Column::CommunityId.in_subquery(regions_under(paths)))
        .into_tuple()
        .all(&ctx.db)
        .await?;
    let orgs: HashMap<i64, i64> = under.iter().map(|(id, community, ..)| (*id, *community)).collect();
    let owing: Vec<i64> =
        under.iter().filter(|(_, _, status, filed_at)| owes(status, *filed_at, year)).map(|o| o.0).collect();
    let rows = with_reports(ctx, owing, |id| *id, year).await?;
    let mut f = OversightFigures { year, reports_owed: rows.len() as i64, ..Default::default() };
    for (_, report, overdue) in &rows {
        let status = report.as_ref().and_then(|m| ReportStatus::parse(&m.status));
        if status.is_some_and(ReportStatus::handed_in) {
            f.reports_handed_in += 1;
        }
        if status == Some(ReportStatus::Accepted) {
            f.reports_accepted += 1;
            if let Some(result) = report.as_ref().and_then(|m| m.result.clone()) {
                *f.results.entry(result).or_default() += 1;
            }
        }
        if *overdue {
            f.reports_overdue += 1;
        }
    }
    let org_ids: Vec<i64> = orgs.keys().copied().collect();
    let today = to_shanghai(now).date_naive();
    for (grade, _) in current_grades(&ctx.db, &org_ids, today).await?.into_values() {
        *f.grades.entry(grade.as_str().to_owned()).or_default() += 1;
    }
    f.assessments_open = rating_assessment::Entity::find()
        .filter(rating_assessment::Column::OrganizationId.is_in(org_ids.clone()))
        .filter(
            rating_assessment::Column::Status
                .is_in(AssessmentStatus::ALL.iter().filter(|s| s.open()).map(|s| s.as_str()).collect::<Vec<_>>()),
        )
        .count(&ctx.db)
        .await? as i64;
    let listed = abnormal_listing::Entity::find()
        .filter(abnormal_listing::Column::OrganizationId.is_in(org_ids.clone()))
        .filter(abnormal_listing::Column::ClearedAt.is_null())
        .all(&ctx.db)
        .await?;
    let mut earliest: HashMap<i64, chrono::DateTime<chrono::Utc>> = HashMap::new();
    for l in listed {
        let e = earliest.entry(l.organization_id).or_insert(l.listed_at);
        *e = (*e).min(l.listed_at);
    }
    f.abnormal = earliest.len() as i64;
    f.abnormal_flagged = earliest.values().filter(|t| flagged(**t, now)).count() as i64;

    let staff = role_grant::Entity::find()
        .filter(role_grant::Column::Role.is_in([Role::OrgStaff.as_str(), Role::OrgLeader.as_str()]))
        .filter(role_grant::Column::ScopeId.is_in(org_ids.clone()))
        .all(&ctx.db)
        .await?;
    let verified: HashSet<(i64, i64)> = staff_certificate::Entity::find()
        .filter(staff_certificate::Column::OrganizationId.is_in(org_ids))
        .filter(staff_certificate::Column::Status.eq(CertificateStatus::Verified.as_str()))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|c| (c.organization_id, c.user_id))
        .collect();
    // A person counts once per community, certified if verified in any of its organizations.
    let mut people: HashMap<i64, HashMap<i64, bool>> = HashMap::new();
    for g in staff {
        let Some(org) = g.scope_id else { continue };
        let Some(community) = orgs.get(&org) else { continue };
        let certified = verified.contains(&(org, g.user_id));
        let entry = people.entry(*community).or_default().entry(g.user_id).or_insert(false);
        *entry |= certified;
    }
    f.certified_by_community = people
        .into_iter()
        .map(|(c, p)| (c, Certified { staff: p.len() as i64, certified: p.values().filter(|v| **v).count() as i64 }))
        .collect();
    Ok(f)
}
