//! Participation figures for committees, street offices and civil affairs, and an
//! organization's own figures. (Prometheus telemetry is elsewhere: `/metrics`.)

use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    api::types::{RegionResponse, time},
    auth::AuthUser,
    context::AppContext,
    domain::{
        annual_report::ReportResult,
        certificate::share,
        clock::shanghai,
        download::DownloadKind,
        funding::ProjectStatus,
        organization::{Category, Standing},
        rating::Grade,
    },
    error::{AppError, AppResult, Problem},
    service::{
        self,
        area_metrics::AreaMetrics,
        oversight_figures::OversightFigures,
        reports::{CommunityMetrics, Figures, MonthFigures, Period, RegionMetrics},
        venue_figures::{RoomFigures, RoomMonth},
    },
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(region_metrics).service(export).service(organization_metrics);
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// `YYYY-MM-DD` (Asia/Shanghai) or RFC 3339; default 1 January of this year.
    pub from: Option<String>,
    /// Exclusive; default now.
    pub to: Option<String>,
}

/// A period's end: an RFC 3339 time or a date, each through the one gate of
/// `domain::time` (four-digit years in Asia/Shanghai, no leap second).
fn parse_time(field: &str, value: &str) -> AppResult<DateTime<Utc>> {
    if value.contains('T') || value.contains('t') {
        return crate::domain::time::parse_rfc3339(value).map_err(|e| AppError::invalid(field, e.code(), e.message()));
    }
    crate::domain::time::parse_date(value)
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|d| d.and_local_timezone(shanghai()).single())
        .map(|d| d.with_timezone(&Utc))
        .ok_or_else(|| AppError::invalid(field, "date", "日期格式须为 YYYY-MM-DD 或 RFC 3339"))
}

pub fn period(ctx: &AppContext, q: &PeriodQuery) -> AppResult<Period> {
    let from = q.from.as_deref().map(|v| parse_time("from", v)).transpose()?;
    let to = q.to.as_deref().map(|v| parse_time("to", v)).transpose()?;
    Period::parse(from, to, ctx.now())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FiguresResponse {
    pub activities_held: i64,
    pub active_organizations: i64,
    pub signups: i64,
    pub attended: i64,
    pub no_shows: i64,
    /// attended ÷ sign-ups; `null` without sign-ups.
    pub attendance_rate: Option<f64>,
    pub no_show_rate: Option<f64>,
    /// Distinct residents who attended.
    pub participants: i64,
    pub volunteer_hours: f64,
}

impl From<&Figures> for FiguresResponse {
    fn from(f: &Figures) -> Self {
        Self {
            activities_held: f.activities,
            active_organizations: f.active_organizations,
            signups: f.signups,
            attended: f.attended,
            no_shows: f.no_shows,
            attendance_rate: f.attendance_rate(),
            no_show_rate: f.no_show_rate(),
            participants: f.participants,
            volunteer_hours: f.hours(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MonthResponse {
    /// `YYYY-MM`.
    #[schema(pattern = "^[0-9]{4}-[0-9]{2}$")]
    pub month: String,
    #[serde(flatten)]
    pub figures: FiguresResponse,
}

fn months(m: &[MonthFigures]) -> Vec<MonthResponse> {
    m.iter().map(|m| MonthResponse { month: m.month.clone(), figures: (&m.figures).into() }).collect()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommunityMetricsResponse {
    pub community: RegionResponse,
    /// Filed and registered organizations now.
    pub organizations: i64,
    #[schema(value_type = BTreeMap<Category, i64>)]
    pub organizations_by_category: BTreeMap<String, i64>,
    #[schema(value_type = BTreeMap<Standing, i64>)]
    pub organizations_by_standing: BTreeMap<String, i64>,
    /// The policy's target: 10 per urban community, 5 per rural one.
    pub target: i64,
    pub target_met: bool,
    pub residents_registered: i64,
    /// Participants who live in this community (`home_community_id`).
    pub resident_participants: i64,
    /// Participants from elsewhere: `participants` − `resident_participants`.
    pub visitors: i64,
    /// `resident_participants` ÷ `residents_registered`, in 0..1; `null` without
    /// registered residents. (Participants are everyone who attended an activity held in
    /// the community; visitors are counted, not rated.)
    pub participation_rate: Option<f64>,
    #[serde(flatten)]
    pub figures: FiguresResponse,
    pub monthly: Vec<MonthResponse>,
    /// Shared rooms (venues) of the community.
    pub rooms: i64,
    /// Minutes its rooms were open in the period (timetables less closures), all together.
    pub room_open_minutes: i64,
    /// Minutes of approved bookings of its rooms in the period.
    pub room_booked_minutes: i64,
    /// `room_booked_minutes` ÷ `room_open_minutes`, in 0..1; `null` without open rooms.
    pub room_utilisation: Option<f64>,
    /// Share of its organizations' staff with a verified social-work certificate, in 0..1;
    /// `null` without staff.
    pub certificate_share: Option<f64>,
}

impl From<&CommunityMetrics> for CommunityMetricsResponse {
    fn from(c: &CommunityMetrics) -> Self {
        Self {
            community: c.community.clone().into(),
            organizations: c.organizations,
            organizations_by_category: c.by_category.clone(),
            organizations_by_standing: c.by_standing.clone(),
            target: c.target,
            target_met: c.target_met(),
            residents_registered: c.residents,
            resident_participants: c.resident_participants,
            visitors: c.visitors(),
            participation_rate: c.participation_rate(),
            figures: (&c.figures).into(),
            monthly: months(&c.monthly),
            rooms: c.rooms.rooms,
            room_open_minutes: c.rooms.open_minutes,
            room_booked_minutes: c.rooms.booked_minutes,
            room_utilisation: c.rooms.utilisation(),
            certificate_share: share(c.certified.certified, c.certified.staff),
        }
    }
}

/// One room's use over a month, or over the whole period.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoomMonthResponse {
    /// `YYYY-MM` (absent in a room's period totals).
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(pattern = "^[0-9]{4}-[0-9]{2}$")]
    pub month: String,
    /// Minutes the timetable opened the room, closures left out.
    pub open_minutes: i64,
    /// Minutes of approved bookings, cut to the month.
    pub booked_minutes: i64,
    /// `booked_minutes` ÷ `open_minutes`, in 0..1; `null` when the room was never open.
    pub utilisation: Option<f64>,
    /// Approved bookings starting in the month.
    pub bookings: i64,
    /// Published or finished activities held in the room.
    pub activities: i64,
    /// Attended sign-ups of those activities (a person at two counts twice).
    pub participants: i64,
}

impl From<&RoomMonth> for RoomMonthResponse {
    fn from(m: &RoomMonth) -> Self {
        Self {
            month: m.month.clone(),
            open_minutes: m.open_minutes,
            booked_minutes: m.booked_minutes,
            utilisation: m.utilisation(),
            bookings: m.bookings,
            activities: m.activities,
            participants: m.participants,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoomUseResponse {
    pub organization_id: i64,
    pub organization_name: String,
    #[schema(value_type = Category)]
    pub category: String,
    pub bookings: i64,
    pub booked_minutes: i64,
}

/// A shared room's figures over the period (一室多用).
#[derive(Debug, Serialize, ToSchema)]
pub struct RoomFiguresResponse {
    pub venue_id: i64,
    pub name: String,
    pub community_id: i64,
    pub community_name: String,
    pub capacity: i32,
    /// The period's totals.
    #[serde(flatten)]
    pub total: RoomMonthResponse,
    pub monthly: Vec<RoomMonthResponse>,
    /// Who booked it, most minutes first.
    pub by_organization: Vec<RoomUseResponse>,
    /// Approved bookings by the booking organization's category.
    #[schema(value_type = BTreeMap<Category, i64>)]
    pub bookings_by_category: BTreeMap<String, i64>,
}

impl From<&RoomFigures> for RoomFiguresResponse {
    fn from(r: &RoomFigures) -> Self {
        Self {
            venue_id: r.venue.id,
            name: r.venue.name.clone(),
            community_id: r.venue.community_id,
            community_name: r.community_name.clone(),
            capacity: r.venue.capacity,
            total: (&r.total).into(),
            monthly: r.monthly.iter().map(Into::into).collect(),
            by_organization: r
                .by_organization
                .iter()
                .map(|u| RoomUseResponse {
                    organization_id: u.organization_id,
                    organization_name: u.organization_name.clone(),
                    category: u.category.clone(),
                    bookings: u.bookings,
                    booked_minutes: u.booked_minutes,
                })
                .collect(),
            bookings_by_category: r.by_category.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InactiveOrganizationResponse {
    pub id: i64,
    pub name: String,
    pub community_id: i64,
    pub last_activity_at: Option<DateTime<FixedOffset>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegionMetricsResponse {
    pub region: RegionResponse,
    pub from: DateTime<FixedOffset>,
    pub to: DateTime<FixedOffset>,
    pub organizations: i64,
    /// Communities and villages in the region.
    pub community_count: usize,
    /// Of them, those with their target of organizations (10 urban, 5 rural).
    pub communities_meeting_target: usize,
    pub residents_registered: i64,
    /// Participants who live in one of the region's communities.
    pub resident_participants: i64,
    /// Participants from outside the region: `participants` − `resident_participants`.
    pub visitors: i64,
    /// `resident_participants` ÷ `residents_registered`, in 0..1; `null` without
    /// registered residents.
    pub participation_rate: Option<f64>,
    #[serde(flatten)]
    pub totals: FiguresResponse,
    pub monthly: Vec<MonthResponse>,
    /// Each community of the region, side by side (one for a committee), for a county and
    /// below; empty for a city or a province, whose rows are `areas`.
    pub communities: Vec<CommunityMetricsResponse>,
    /// For a province its cities (市/州), for a city its counties (县/区), side by side;
    /// empty for a county and below. Participants and active organizations are counted
    /// once per area, not added up from its communities.
    pub areas: Vec<AreaMetricsResponse>,
    /// Recognised organizations that held nothing in the last six months.
    pub inactive_organizations: Vec<InactiveOrganizationResponse>,
    /// Every shared room of the region's communities, with its use by month.
    pub rooms: Vec<RoomFiguresResponse>,
    /// Annual reports of last year, the abnormal list and certified staff (监管).
    pub oversight: OversightResponse,
    /// Funding calls, grants and payments (fen), projects and deliverables (资金支持).
    pub funding: FundingResponse,
    /// The time banks in the region (a community's, a street's): members, minutes
    /// exchanged per month, open offers and requests.
    pub time_banks: Vec<TimeBankFiguresResponse>,
    /// Incubation (孵化) and hubs (枢纽型组织) of the region.
    pub support: SupportFiguresResponse,
}

/// Incubation and hub figures of a region: groups of its communities in incubation now;
/// admitted, graduated and exited in the period; graduates that applied for filing; hubs
/// of the region or under it, and their active members.
#[derive(Debug, Serialize, ToSchema)]
pub struct SupportFiguresResponse {
    pub incubating: i64,
    pub admitted: i64,
    pub graduated: i64,
    pub exited: i64,
    pub graduates_applied: i64,
    pub hubs: i64,
    pub hub_members: i64,
}

/// A time bank's figures over the period, in minutes (a currency apart from service hours).
#[derive(Debug, Serialize, ToSchema)]
pub struct TimeBankFiguresResponse {
    pub bank_id: i64,
    pub name: String,
    pub region_id: i64,
    pub region_name: String,
    /// Accepted members now.
    pub members: i64,
    /// Requests to join waiting now.
    pub pending_members: i64,
    pub open_offers: i64,
    pub open_requests: i64,
    /// Minutes exchanged between members in the period (confirmed agreements).
    pub minutes_exchanged: i64,
    /// Minutes the bank credited for its activities in the period.
    pub minutes_credited: i64,
    /// Minutes moved back by reversing transfers in the period.
    pub minutes_reversed: i64,
    /// Transfers in the period, reversals included.
    pub transfers: i64,
    /// Each month of the period (Asia/Shanghai).
    pub monthly: Vec<TimeBankMonthResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimeBankMonthResponse {
    /// `YYYY-MM`.
    pub month: String,
    pub minutes_exchanged: i64,
    pub minutes_credited: i64,
}

impl From<&crate::service::time_bank::BankFigures> for TimeBankFiguresResponse {
    fn from(b: &crate::service::time_bank::BankFigures) -> Self {
        Self {
            bank_id: b.bank_id,
            name: b.name.clone(),
            region_id: b.region_id,
            region_name: b.region_name.clone(),
            members: b.members,
            pending_members: b.pending_members,
            open_offers: b.open_offers,
            open_requests: b.open_requests,
            minutes_exchanged: b.minutes_exchanged,
            minutes_credited: b.minutes_credited,
            minutes_reversed: b.minutes_reversed,
            transfers: b.transfers,
            monthly: b
                .monthly
                .iter()
                .map(|(month, e, c)| TimeBankMonthResponse {
                    month: month.clone(),
                    minutes_exchanged: *e,
                    minutes_credited: *c,
                })
                .collect(),
        }
    }
}

/// Funding figures of a region (资金支持).
#[derive(Debug, Serialize, ToSchema)]
pub struct FundingResponse {
    /// Calls over the region's organizations taking applications now.
    pub calls_open: i64,
    /// Granted to its organizations, in fen.
    pub granted_fen: i64,
    /// Paid to them, in fen.
    pub paid_fen: i64,
    /// Projects by state.
    #[schema(value_type = BTreeMap<ProjectStatus, i64>)]
    pub projects: BTreeMap<String, i64>,
    /// Deliverables of signed projects, and those met so far by the evidence.
    pub deliverables_planned: i64,
    pub deliverables_met: i64,
}

impl From<&crate::service::funding_figures::FundingFigures> for FundingResponse {
    fn from(f: &crate::service::funding_figures::FundingFigures) -> Self {
        Self {
            calls_open: f.calls_open,
            granted_fen: f.granted_fen,
            paid_fen: f.paid_fen,
            projects: f.projects.clone(),
            deliverables_planned: f.deliverables_planned,
            deliverables_met: f.deliverables_met,
        }
    }
}

/// Oversight figures of a region (监管).
#[derive(Debug, Serialize, ToSchema)]
pub struct OversightResponse {
    /// The report year (last calendar year).
    pub report_year: i32,
    /// Organizations owing the year's annual report (年报).
    pub reports_owed: i64,
    /// Submitted or accepted.
    pub reports_handed_in: i64,
    pub reports_accepted: i64,
    /// Not handed in after the due date.
    pub reports_overdue: i64,
    /// Accepted reports by result.
    #[schema(value_type = BTreeMap<ReportResult, i64>)]
    pub report_results: BTreeMap<String, i64>,
    /// Organizations on the abnormal list (活动异常名录) now.
    pub abnormal_organizations: i64,
    /// Of them, listed for two years or more.
    pub abnormal_flagged: i64,
    /// People holding a leader's or staff role in the region's organizations.
    pub staff: i64,
    /// Of them, with a verified social-work certificate.
    pub certified_staff: i64,
    /// `certified_staff` ÷ `staff`, in 0..1; `null` without staff.
    pub certificate_share: Option<f64>,
    /// Organizations by current grade (等级评估), valid today: `{"4A": 1}`.
    #[schema(value_type = BTreeMap<Grade, i64>)]
    pub grades: BTreeMap<String, i64>,
    /// Rating assessments under way (scoring, on notice, appealed).
    pub assessments_open: i64,
}

impl From<&OversightFigures> for OversightResponse {
    fn from(f: &OversightFigures) -> Self {
        let c = f.certified_total();
        Self {
            report_year: f.year,
            reports_owed: f.reports_owed,
            reports_handed_in: f.reports_handed_in,
            reports_accepted: f.reports_accepted,
            reports_overdue: f.reports_overdue,
            report_results: f.results.clone(),
            abnormal_organizations: f.abnormal,
            abnormal_flagged: f.abnormal_flagged,
            staff: c.staff,
            certified_staff: c.certified,
            certificate_share: share(c.certified, c.staff),
            grades: f.grades.clone(),
            assessments_open: f.assessments_open,
        }
    }
}

/// One area (a city of a province, a county of a city) over the period.
#[derive(Debug, Serialize, ToSchema)]
pub struct AreaMetricsResponse {
    pub area: RegionResponse,
    /// Its communities and villages, and those with their target of organizations.
    pub communities: i64,
    pub communities_meeting_target: i64,
    /// Filed and registered organizations now.
    pub organizations: i64,
    #[schema(value_type = BTreeMap<Category, i64>)]
    pub organizations_by_category: BTreeMap<String, i64>,
    #[schema(value_type = BTreeMap<Standing, i64>)]
    pub organizations_by_standing: BTreeMap<String, i64>,
    pub residents_registered: i64,
    /// Participants who live in the area.
    pub resident_participants: i64,
    /// Participants from elsewhere: `participants` − `resident_participants`.
    pub visitors: i64,
    /// `resident_participants` ÷ `residents_registered`, in 0..1; `null` without
    /// registered residents.
    pub participation_rate: Option<f64>,
    #[serde(flatten)]
    pub figures: FiguresResponse,
    pub monthly: Vec<MonthResponse>,
    /// Share of its organizations' staff with a verified social-work certificate, in 0..1;
    /// `null` without staff.
    pub certificate_share: Option<f64>,
}

impl From<&AreaMetrics> for AreaMetricsResponse {
    fn from(a: &AreaMetrics) -> Self {
        Self {
            area: a.area.clone().into(),
            communities: a.communities,
            communities_meeting_target: a.communities_meeting_target,
            organizations: a.organizations,
            organizations_by_category: a.by_category.clone(),
            organizations_by_standing: a.by_standing.clone(),
            residents_registered: a.residents,
            resident_participants: a.resident_participants,
            visitors: a.visitors(),
            participation_rate: a.participation_rate(),
            figures: (&a.figures).into(),
            monthly: months(&a.monthly),
            certificate_share: share(a.certified.certified, a.certified.staff),
        }
    }
}

impl From<&RegionMetrics> for RegionMetricsResponse {
    fn from(m: &RegionMetrics) -> Self {
        Self {
            region: m.region.clone().into(),
            from: time(m.period.from),
            to: time(m.period.to),
            organizations: m.organizations,
            community_count: m.community_count,
            communities_meeting_target: m.communities_meeting_target(),
            residents_registered: m.residents,
            resident_participants: m.resident_participants,
            visitors: m.visitors(),
            participation_rate: m.participation_rate(),
            totals: (&m.totals).into(),
            monthly: months(&m.monthly),
            communities: m.communities.iter().map(Into::into).collect(),
            areas: m.areas.iter().map(Into::into).collect(),
            inactive_organizations: m
                .inactive
                .iter()
                .map(|i| InactiveOrganizationResponse {
                    id: i.organization.id,
                    name: i.organization.name.clone(),
                    community_id: i.organization.community_id,
                    last_activity_at: i.last_activity_at.map(time),
                })
                .collect(),
            rooms: m.rooms.iter().map(Into::into).collect(),
            oversight: (&m.oversight).into(),
            funding: (&m.funding).into(),
            time_banks: m.time_banks.iter().map(Into::into).collect(),
            support: SupportFiguresResponse {
                incubating: m.support.incubating,
                admitted: m.support.admitted,
                graduated: m.support.graduated,
                exited: m.support.exited,
                graduates_applied: m.support.graduates_applied,
                hubs: m.support.hubs,
                hub_members: m.support.hub_members,
            },
        }
    }
}

/// Participation in a region: for a community's committee, a street office (its
/// communities side by side) and civil affairs, within their scope (a county's communities
/// side by side; a city's counties or a province's cities as `areas`).
#[utoipa::path(get, path = "/api/v1/regions/{id}/metrics", operation_id = "getRegionMetrics", tag = "reports", params(("id" = i64, Path), PeriodQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = RegionMetricsResponse),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "outside the caller's scope"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/regions/{id}/metrics")]
pub async fn region_metrics(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    query: web::Query<PeriodQuery>,
) -> AppResult<web::Json<RegionMetricsResponse>> {
    let period = period(&ctx, &query)?;
    let m = service::reports::region_metrics(&ctx, &user, id.into_inner(), period, service::reports::Detail::Figures)
        .await?;
    Ok(web::Json((&m).into()))
}

/// The export's formats: an Excel workbook or UTF-8 CSV.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Xlsx,
    Csv,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `xlsx` (default) or `csv`.
    #[param(value_type = Option<ExportFormat>)]
    pub format: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The same figures as a workbook to hand upward (a summary sheet, a sheet per month,
/// the organizations) or as UTF-8 CSV with a BOM.
#[utoipa::path(get, path = "/api/v1/regions/{id}/metrics/export", operation_id = "exportRegionMetrics", tag = "reports", params(("id" = i64, Path), ExportQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The workbook (`format=xlsx`, the default) or UTF-8 CSV with a BOM \
            (`format=csv`), as an attachment.",
            headers(("content-disposition" = String, description = "`attachment; filename=\"participation-{code}-{first day}-{last day}.xlsx\"` (days as `YYYYMMDD`, both included)")),
            content(
                (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                (String = "text/csv"),
            )),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/regions/{id}/metrics/export")]
pub async fn export(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    query: web::Query<ExportQuery>,
) -> AppResult<HttpResponse> {
    let query = query.into_inner();
    let format = crate::api::exports::parse_format(DownloadKind::RegionMetrics, query.format.as_deref())?;
    let period = period(&ctx, &PeriodQuery { from: query.from, to: query.to })?;
    let file = service::exports::region_metrics(&ctx, &user, id.into_inner(), period, format).await?;
    Ok(crate::api::exports::file_response(file))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationMetricsResponse {
    pub organization_id: i64,
    pub name: String,
    pub from: DateTime<FixedOffset>,
    pub to: DateTime<FixedOffset>,
    #[serde(flatten)]
    pub figures: FiguresResponse,
    pub monthly: Vec<MonthResponse>,
}

/// An organization's figures, for its staff and the regions above it.
#[utoipa::path(get, path = "/api/v1/organizations/{id}/metrics", operation_id = "getOrganizationMetrics", tag = "reports", params(("id" = i64, Path), PeriodQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = OrganizationMetricsResponse),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/organizations/{id}/metrics")]
pub async fn organization_metrics(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    query: web::Query<PeriodQuery>,
) -> AppResult<web::Json<OrganizationMetricsResponse>> {
    let period = period(&ctx, &query)?;
    let m = service::reports::organization_metrics(&ctx, &user, id.into_inner(), period).await?;
    Ok(web::Json(OrganizationMetricsResponse {
        organization_id: m.organization.id,
        name: m.organization.name,
        from: time(m.period.from),
        to: time(m.period.to),
        figures: (&m.figures).into(),
        monthly: months(&m.monthly),
    }))
}
