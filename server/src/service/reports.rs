//! Participation figures (a product feature, not telemetry): organizations against the
//! policy's target, activities, sign-ups, attendance, distinct participants and hours,
//! by community and month. Read from the rollups written when an activity closes, so a
//! street's year is a few grouped scans of small tables.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, Query},
};

use crate::{
    auth::{
        AuthUser,
        scope::{holds_region_role, region_path, require_region_official},
    },
    context::AppContext,
    domain::{
        activity::ActivityStatus,
        clock::{shanghai, to_shanghai},
        organization::OrgStatus,
        role::Role,
    },
    entity::{activity_stat, attendance, organization, region},
    error::{AppError, AppResult},
    service::{
        activity_figures,
        area_metrics::{self, AreaMetrics},
        attendance::month_of,
        oversight_figures::{Certified, OversightFigures, oversight_figures},
        participant_counts::{self, Groups},
        venue_figures::{self, CommunityRooms, RoomFigures},
    },
};

/// The reporting period: `[from, to)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Period {
    /// Default: this calendar year (Asia/Shanghai) up to now. At most 5 years.
    pub fn parse(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>, now: DateTime<Utc>) -> AppResult<Self> {
        let year_start = NaiveDate::from_ymd_opt(to_shanghai(now).year(), 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .and_then(|d| d.and_local_timezone(shanghai()).single())
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or(now);
        let from = from.unwrap_or(year_start);
        let to = to.unwrap_or(now);
        if to <= from {
            return Err(AppError::invalid("to", "before_from", "截止日期（to）须晚于起始日期（from）"));
        }
        if to - from > Duration::days(366 * 5) {
            return Err(AppError::invalid("to", "too_long", "统计区间不超过 5 年"));
        }
        Ok(Self { from, to })
    }

    /// The first and the last day the period covers (Asia/Shanghai): `to` is exclusive, so
    /// a period to 1 July ends on 30 June.
    pub fn days(&self) -> (NaiveDate, NaiveDate) {
        (to_shanghai(self.from).date_naive(), to_shanghai(self.to - Duration::seconds(1)).date_naive())
    }

    /// The period as a title reads it: `2026-01-01 至 2026-06-30`, both days included.
    pub fn label(&self) -> String {
        let (first, last) = self.days();
        format!("{} 至 {}", first.format("%Y-%m-%d"), last.format("%Y-%m-%d"))
    }

    /// The period in a download's file name: `20260101-20260630`, both days included.
    pub fn file_stem(&self) -> String {
        let (first, last) = self.days();
        format!("{}-{}", first.format("%Y%m%d"), last.format("%Y%m%d"))
    }

    /// `YYYY-MM` of every month the period touches, in order.
    pub fn months(&self) -> Vec<String> {
        let mut out = Vec::new();
        let last = month_of(self.to - Duration::seconds(1));
        let mut d = to_shanghai(self.from).date_naive().with_day(1).unwrap_or_default();
        loop {
            let m = d.format("%Y-%m").to_string();
            out.push(m.clone());
            if m >= last || out.len() > 61 {
                break;
            }
            d = d.checked_add_months(chrono::Months::new(1)).unwrap_or(d);
        }
        out
    }
}

/// Activity figures over a period.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    pub activities: i64,
    pub signups: i64,
    pub attended: i64,
    pub no_shows: i64,
    pub minutes: i64,
    pub participants: i64,
    pub active_organizations: i64,
}

impl Figures {
    /// Adds another's activities, sign-ups, attendance and minutes (not its distinct
    /// counts, which never add up).
    pub(crate) fn add(&mut self, o: &Figures) {
        self.activities += o.activities;
        self.signups += o.signups;
        self.attended += o.attended;
        self.no_shows += o.no_shows;
        self.minutes += o.minutes;
    }

    pub fn attendance_rate(&self) -> Option<f64> {
        ratio(self.attended, self.signups)
    }

    pub fn no_show_rate(&self) -> Option<f64> {
        ratio(self.no_shows, self.signups)
    }

    pub fn hours(&self) -> f64 {
        hours_of_minutes(self.minutes)
    }
}

pub fn ratio(a: i64, b: i64) -> Option<f64> {
    (b > 0).then(|| (a as f64 / b as f64 * 1000.0).round() / 1000.0)
}

#[derive(Clone, Debug, Default)]
pub struct MonthFigures {
    pub month: String,
    pub figures: Figures,
}

#[derive(Clone, Debug)]
pub struct CommunityMetrics {
    pub community: region::Model,
    pub organizations: i64,
    pub by_category: BTreeMap<String, i64>,
    pub by_standing: BTreeMap<String, i64>,
    /// 10 for an urban community, 5 for a rural one.
    pub target: i64,
    pub residents: i64,
    /// Of `figures.participants`, those registered in this community.
    pub resident_participants: i64,
    pub figures: Figures,
    pub monthly: Vec<MonthFigures>,
    /// Its shared rooms and their utilisation over the period.
    pub rooms: CommunityRooms,
    /// Its organizations' staff and those with a verified certificate.
    pub certified: Certified,
}

impl CommunityMetrics {
    pub fn target_met(&self) -> bool {
        self.organizations >= self.target
    }

    /// See [`participation_rate`].
    pub fn participation_rate(&self) -> Option<f64> {
        participation_rate(self.resident_participants, self.residents)
    }

    /// Participants from elsewhere (another community, or no home community set).
    pub fn visitors(&self) -> i64 {
        self.figures.participants - self.resident_participants
    }
}

/// The participation rate (参与率) of an area, defined once:
///
/// - **participants** (`participants`): distinct people who attended at least one activity
///   held in the area in the period, wherever they live;
/// - **resident participants**: those of them whose home community (`home_community_id`)
///   is in the area — for a community, that community; for a street or county, any of
///   its communities;
/// - **visitors** = participants − resident participants;
/// - **participation rate** = resident participants ÷ residents registered in the area
///   (accounts with that home community, deleted ones excluded): a share of the area's
///   own people, so always within 0..1 (`null` with no registered residents).
pub fn participation_rate(resident_participants: i64, residents: i64) -> Option<f64> {
    ratio(Ord::min(resident_participants, residents), residents)
}

#[derive(Clone, Debug)]
pub struct InactiveOrganization {
    pub organization: organization::Model,
    pub last_activity_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug)]
pub struct RegionMetrics {
    pub region: region::Model,
    pub period: Period,
    /// Each community side by side, for a county and below; empty above, where `areas`
    /// holds the rows (`area_metrics::by_area`).
    pub communities: Vec<CommunityMetrics>,
    /// A province's cities or a city's counties side by side; empty at county and below.
    pub areas: Vec<AreaMetrics>,
    /// Communities and villages in the region, and those with their target of organizations.
    pub community_count: usize,
    pub communities_meeting: usize,
    /// Every community's name, for the lists that name an organization's community.
    pub community_names: HashMap<i64, String>,
    pub organizations: i64,
    pub residents: i64,
    /// Of `totals.participants`, those registered in one of the region's communities.
    pub resident_participants: i64,
    pub totals: Figures,
    pub monthly: Vec<MonthFigures>,
    pub inactive: Vec<InactiveOrganization>,
    /// Every recognised organization with its figures, for the export and the console's
    /// list ([`Detail::Organizations`]); empty for [`Detail::Figures`].
    pub organization_list: Vec<(organization::Model, Figures)>,
    /// Every venue of the region's communities, by month.
    pub rooms: Vec<RoomFigures>,
    /// Annual reports, the abnormal list and certified staff (监管).
    pub oversight: OversightFigures,
    /// Calls, grants, payments, projects and their deliverables (资金支持).
    pub funding: crate::service::funding_figures::FundingFigures,
    /// The time banks of the region (a community's, a street's), in minutes.
    pub time_banks: Vec<crate::service::time_bank::BankFigures>,
    /// Incubation and hubs (孵化与枢纽).
    pub support: crate::service::support_figures::SupportFigures,
}

impl RegionMetrics {
    pub fn communities_meeting_target(&self) -> usize {
        self.communities_meeting
    }

    /// See [`participation_rate`].
    pub fn participation_rate(&self) -> Option<f64> {
        participation_rate(self.resident_participants, self.residents)
    }

    pub fn visitors(&self) -> i64 {
        self.totals.participants - self.resident_participants
    }
}

fn sum(col: &str) -> sea_orm::sea_query::SimpleExpr {
    Expr::cust(format!("CAST(COALESCE(SUM({col}), 0) AS BIGINT)"))
}

fn count() -> sea_orm::sea_query::SimpleExpr {
    Expr::cust("COUNT(*)")
}

/// The activity figures of a group of `activity_stats` rows.
pub(crate) fn figure_columns<S: QuerySelect>(select: S) -> S {
    select
        .column_as(count(), "activities")
        .column_as(sum("signups"), "signups")
        .column_as(sum("attended"), "attended")
        .column_as(sum("no_shows"), "no_shows")
        .column_as(sum("minutes"), "minutes")
}

/// What [`region_metrics`] reads besides the region's figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// The figures of `GET /regions/{id}/metrics`: `organization_list` is left empty (the
    /// answer does not list organizations, and their figures are a query of their own).
    Figures,
    /// Each recognised organization with its figures over the period, too: the export's
    /// organization sheet and the console's list.
    Organizations,
}

/// `GET /regions/{id}/metrics`: for the committee of a community, the street over it
/// (its communities side by side), civil affairs above (a county's communities side by
/// side; a city's counties or a province's cities, `area_metrics`).
pub async fn region_metrics(
    ctx: &AppContext,
    user: &AuthUser,
    region_id: i64,
    period: Period,
    detail: Detail,
) -> AppResult<RegionMetrics> {
    require_region_official(&ctx.db, user, region_id).await?;
    let region = region::Entity::find_by_id(region_id).one(&ctx.db).await?.ok_or(AppError::NotFound("region"))?;
    let communities = region::Entity::find()
        .filter(region::Column::Path.starts_with(region.path.as_str()))
        .filter(region::Column::Level.eq("community"))
        .order_by_asc(region::Column::Code)
        .all(&ctx.db)
        .await?;
    let ids: Vec<i64> = communities.iter().map(|c| c.id).collect();
    let months = period.months();
    let by_area = area_metrics::by_area(&region.level);
    let (areas, area_of) =
        if by_area { area_metrics::areas(&ctx.db, &region, &communities).await? } else { Default::default() };
    let groups = if by_area { Groups::Areas(&area_of) } else { Groups::Communities(&ids) };
    let recognised = [OrgStatus::Filed.as_str(), OrgStatus::Registered.as_str()];

    let recognised_orgs = organization::Entity::find()
        .select_only()
        .column(organization::Column::CommunityId)
        .column(organization::Column::Category)
        .column(organization::Column::Standing)
        .column_as(count(), "n")
        .filter(organization::Column::CommunityId.is_in(ids.clone()))
        .filter(organization::Column::Status.is_in(recognised))
        .group_by(organization::Column::CommunityId)
        .group_by(organization::Column::Category)
        .group_by(organization::Column::Standing)
        .into_tuple::<(i64, String, String, i64)>()
        .all(&ctx.db);

    let cells = activity_figures::cells(&ctx.db, &ids, period);
    let by_organization = async {
        match detail {
            Detail::Organizations => activity_figures::by_organization(&ctx.db, &ids, period).await,
            Detail::Figures => Ok(HashMap::new()),
        }
    };
    // The residents as sets: their number is the 居民 column, and "lives here" for the
    // participants is an intersection with them.
    let residents = crate::service::community_residents::read(&ctx.db, &ids);
    let participant_sets = participant_counts::month_sets(&ctx.db, &ids, &months);
    let organization_list = async {
        match detail {
            Detail::Organizations => {
                let list = organizations_in(ctx, &ids).await?;
                let ages = list.iter().map(|o| (o.id, o.filed_at, o.created_at)).collect::<Vec<_>>();
                let idle = idle_organizations(ctx, &ages).await?;
                let inactive = list
                    .iter()
                    .filter_map(|o| {
                        idle.get(&o.id)
                            .map(|last| InactiveOrganization { organization: o.clone(), last_activity_at: *last })
                    })
                    .collect();
                Ok::<_, AppError>((list, inactive))
            }
            // Only the idle ones as whole models: the figures list no other.
            Detail::Figures => {
                let ages = organization::Entity::find()
                    .select_only()
                    .column(organization::Column::Id)
                    .column(organization::Column::FiledAt)
                    .column(organization::Column::CreatedAt)
                    .filter(recognised_in(&ids))
                    .into_tuple()
                    .all(&ctx.db)
                    .await?;
                let idle = idle_organizations(ctx, &ages).await?;
                let inactive = organization::Entity::find()
                    .filter(organization::Column::Id.is_in(idle.keys().copied()))
                    .order_by_asc(organization::Column::CommunityId)
                    .order_by_asc(organization::Column::Id)
                    .all(&ctx.db)
                    .await?
                    .into_iter()
                    .map(|o| {
                        let last_activity_at = idle.get(&o.id).copied().flatten();
                        InactiveOrganization { organization: o, last_activity_at }
                    })
                    .collect();
                Ok((Vec::new(), inactive))
            }
        }
    };
    let paths = std::slice::from_ref(&region.path);
    // Every part at once: the figures' time is the slowest part's, not their sum.
    let (
        org_counts,
        cells,
        by_organization,
        residents,
        participant_sets,
        (organization_list, inactive),
        oversight,
        funding,
        rooms,
        time_banks,
        support,
    ) = tokio::try_join!(
        async { recognised_orgs.await.map_err(AppError::from) },
        cells,
        by_organization,
        residents,
        participant_sets,
        organization_list,
        oversight_figures(ctx, paths),
        crate::service::funding_figures::funding_figures(ctx, paths),
        venue_figures::room_figures(&ctx.db, &communities, period),
        crate::service::time_bank::figures(&ctx.db, &region.path, period.from, period.to, &months),
        crate::service::support_figures::figures(&ctx.db, &region.path, period.from, period.to),
    )?;
    let activity = activity_figures::fold(&cells, by_organization, by_area.then_some(&area_of));
    let participants = participant_counts::count(participant_sets, &residents, &groups);
    let residents: HashMap<i64, i64> =
        residents.iter().map(|(c, people)| (*c, i64::try_from(people.len()).unwrap_or(i64::MAX))).collect();
    // Per community only when the communities are the rows.
    let none = HashMap::new();
    let (participants_by_community, own_by_community) =
        if by_area { (&none, &none) } else { (&participants.by_group, &participants.own_by_group) };

    let rooms_by_community = venue_figures::by_community(&rooms);
    let mut metrics: Vec<CommunityMetrics> = communities
        .into_iter()
        .map(|c| CommunityMetrics {
            rooms: rooms_by_community.get(&c.id).cloned().unwrap_or_default(),
            certified: oversight.certified_by_community.get(&c.id).cloned().unwrap_or_default(),
            target: if c.kind.as_deref() == Some("rural") { 5 } else { 10 },
            residents: residents.get(&c.id).copied().unwrap_or(0),
            resident_participants: own_by_community.get(&c.id).copied().unwrap_or(0),
            organizations: 0,
            by_category: BTreeMap::new(),
            by_standing: BTreeMap::new(),
            figures: Figures {
                participants: participants_by_community.get(&c.id).copied().unwrap_or(0),
                active_organizations: activity.active_by_community.get(&c.id).copied().unwrap_or(0),
                ..Default::default()
            },
            monthly: months.iter().map(|m| MonthFigures { month: m.clone(), figures: Figures::default() }).collect(),
            community: c,
        })
        .collect();
    let index: HashMap<i64, usize> = metrics.iter().enumerate().map(|(i, m)| (m.community.id, i)).collect();
    for (community, category, standing, n) in org_counts {
        if let Some(m) = index.get(&community).map(|i| &mut metrics[*i]) {
            m.organizations += n;
            *m.by_category.entry(category).or_default() += n;
            *m.by_standing.entry(standing).or_default() += n;
        }
    }
    let mut monthly: Vec<MonthFigures> =
        months.iter().map(|m| MonthFigures { month: m.clone(), figures: Figures::default() }).collect();
    let mut totals = Figures::default();
    for ((community, month), f) in &activity.by_community_month {
        totals.add(f);
        if let Some(mf) = monthly.iter_mut().find(|m| &m.month == month) {
            mf.figures.add(f);
        }
        if let Some(m) = index.get(community).map(|i| &mut metrics[*i]) {
            m.figures.add(f);
            if let Some(mf) = m.monthly.iter_mut().find(|x| &x.month == month) {
                mf.figures.add(f);
                mf.figures.active_organizations = f.active_organizations;
            }
        }
    }
    // Organizations active in a month, counted once across the region's communities.
    for mf in &mut monthly {
        mf.figures.active_organizations = activity.active_by_month.get(&mf.month).copied().unwrap_or(0);
    }
    if !by_area {
        for ((community, month), n) in &participants.by_group_month {
            if let Some(mf) =
                index.get(community).and_then(|i| metrics[*i].monthly.iter_mut().find(|x| &x.month == month))
            {
                mf.figures.participants = *n;
            }
        }
    }
    for mf in &mut monthly {
        mf.figures.participants = participants.by_month.get(&mf.month).copied().unwrap_or(0);
    }
    totals.participants = participants.total;
    totals.active_organizations = activity.active_total;
    let community_names = metrics.iter().map(|m| (m.community.id, m.community.name.clone())).collect();
    let areas = if by_area {
        area_metrics::fold(areas, &area_of, &metrics, &participants, &activity, &months)
    } else {
        Vec::new()
    };
    Ok(RegionMetrics {
        support,
        rooms,
        oversight,
        funding,
        time_banks,
        organizations: metrics.iter().map(|m| m.organizations).sum(),
        residents: metrics.iter().map(|m| m.residents).sum(),
        resident_participants: participants.own_total,
        community_count: metrics.len(),
        communities_meeting: metrics.iter().filter(|c| c.target_met()).count(),
        community_names,
        region,
        period,
        communities: if by_area { Vec::new() } else { metrics },
        areas,
        totals,
        monthly,
        inactive,
        organization_list: organization_list
            .into_iter()
            .filter(|_| detail == Detail::Organizations)
            .map(|o| {
                let f = activity.by_organization.get(&o.id).cloned().unwrap_or_default();
                (o, f)
            })
            .collect(),
    })
}

/// The recognised (filed or registered) organizations of these communities.
fn recognised_in(community_ids: &[i64]) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(organization::Column::CommunityId.is_in(community_ids.to_vec()))
        .add(organization::Column::Status.is_in([OrgStatus::Filed.as_str(), OrgStatus::Registered.as_str()]))
}

async fn organizations_in(ctx: &AppContext, community_ids: &[i64]) -> AppResult<Vec<organization::Model>> {
    Ok(organization::Entity::find()
        .filter(recognised_in(community_ids))
        .order_by_asc(organization::Column::CommunityId)
        .order_by_asc(organization::Column::Id)
        .all(&ctx.db)
        .await?)
}

/// An organization's id, when it was filed and when it was created.
type OrgAge = (i64, Option<DateTime<Utc>>, DateTime<Utc>);

/// Of these organizations (id, filed at, created at), those recognised for at least six
/// months that held nothing in the last six, with their last activity (if any).
async fn idle_organizations(ctx: &AppContext, orgs: &[OrgAge]) -> AppResult<HashMap<i64, Option<DateTime<Utc>>>> {
    let since = ctx.now() - Duration::days(182);
    // Only organizations filed (or created) over six months ago can be idle.
    let ids: Vec<i64> =
        orgs.iter().filter(|(_, filed_at, created_at)| filed_at.unwrap_or(*created_at) <= since).map(|o| o.0).collect();
    // Each organization's last activity as its own subquery, which walks the index on
    // (organization_id, starts_at) backwards to the first published or finished one: a
    // probe per organization, where MAX … GROUP BY read every activity of all of them
    // (38.6 → 3.3 ms for the district's 1,000 organizations and 50,000 activities).
    let statuses = [ActivityStatus::Published.as_str(), ActivityStatus::Finished.as_str()];
    // Statuses are our own, never user input.
    let sql = format!(
        "SELECT o.id AS id, (SELECT MAX(a.starts_at) FROM activities a WHERE a.organization_id = o.id \
         AND a.status IN ('{}')) AS last FROM organizations o WHERE o.id IN ({})",
        statuses.join("','"),
        crate::service::sql_id_list(&ids)
    );
    let backend = ctx.db.get_database_backend();
    let mut idle = HashMap::new();
    for row in ctx.db.query_all_raw(sea_orm::Statement::from_string(backend, sql)).await? {
        let last: Option<DateTime<Utc>> = row.try_get("", "last")?;
        if last.is_none_or(|t| t < since) {
            idle.insert(row.try_get("", "id")?, last);
        }
    }
    Ok(idle)
}

pub struct OrganizationMetrics {
    pub organization: organization::Model,
    pub period: Period,
    pub figures: Figures,
    pub monthly: Vec<MonthFigures>,
}

/// The organization, when the caller may see its figures: its staff and the officials
/// over its community.
pub async fn require_organization_figures(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
) -> AppResult<organization::Model> {
    let org = organization::Entity::find_by_id(id).one(&ctx.db).await?.ok_or(AppError::NotFound("organization"))?;
    let staff =
        user.grants.iter().any(|g| matches!(g.role, Role::OrgStaff | Role::OrgLeader) && g.scope_id == Some(id));
    let path = region_path(&ctx.db, org.community_id).await?;
    if !staff
        && !holds_region_role(user, &[Role::Committee, Role::Street, Role::CivilAffairs], &path)
        && !crate::service::hubs::hub_staff_over(&ctx.db, user, id).await?
    {
        return Err(AppError::Forbidden("requires organization staff"));
    }
    Ok(org)
}

/// The activities an organization held in `period` (its closed activities' rollups).
fn organization_stats(id: i64, period: Period) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(activity_stat::Column::OrganizationId.eq(id))
        .add(activity_stat::Column::StartsAt.gte(period.from))
        .add(activity_stat::Column::StartsAt.lt(period.to))
}

/// Distinct people who attended an organization's activities held in `period`.
pub async fn organization_participants(db: &impl ConnectionTrait, id: i64, period: Period) -> AppResult<i64> {
    let activities = Query::select()
        .column(activity_stat::Column::ActivityId)
        .from(activity_stat::Entity)
        .cond_where(organization_stats(id, period))
        .to_owned();
    let n: Option<i64> = attendance::Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(DISTINCT user_id)"), "n")
        .filter(attendance::Column::ActivityId.in_subquery(activities))
        .into_tuple()
        .one(db)
        .await?;
    Ok(n.unwrap_or(0))
}

/// An organization's activities held, minutes credited and distinct participants over
/// `period` (what its annual report is pre-filled with).
pub async fn organization_totals(db: &impl ConnectionTrait, id: i64, period: Period) -> AppResult<Figures> {
    let (activities, minutes): (i64, i64) = activity_stat::Entity::find()
        .select_only()
        .column_as(count(), "activities")
        .column_as(sum("minutes"), "minutes")
        .filter(organization_stats(id, period))
        .into_tuple()
        .one(db)
        .await?
        .unwrap_or((0, 0));
    Ok(Figures {
        activities,
        minutes,
        participants: organization_participants(db, id, period).await?,
        ..Default::default()
    })
}

/// `GET /organizations/{id}/metrics`: for its staff and the officials above it.
pub async fn organization_metrics(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    period: Period,
) -> AppResult<OrganizationMetrics> {
    let org = require_organization_figures(ctx, user, id).await?;
    let filter = || organization_stats(id, period);
    let rows: Vec<(String, i64, i64, i64, i64, i64)> =
        figure_columns(activity_stat::Entity::find().select_only().column(activity_stat::Column::Month))
            .filter(filter())
            .group_by(activity_stat::Column::Month)
            .into_tuple()
            .all(&ctx.db)
            .await?;
    let participants = organization_participants(&ctx.db, id, period).await?;
    // Distinct participants month by month (a resident counts once in a month).
    let monthly_participants: Vec<(String, i64)> = {
        let select = Query::select()
            .column((activity_stat::Entity, activity_stat::Column::Month))
            .expr_as(Expr::cust("COUNT(DISTINCT attendance.user_id)"), "n")
            .from(attendance::Entity)
            .inner_join(
                activity_stat::Entity,
                Expr::col((activity_stat::Entity, activity_stat::Column::ActivityId))
                    .equals((attendance::Entity, attendance::Column::ActivityId)),
            )
            .and_where(activity_stat::Column::OrganizationId.eq(id))
            .and_where(activity_stat::Column::StartsAt.gte(period.from))
            .and_where(activity_stat::Column::StartsAt.lt(period.to))
            .group_by_col((activity_stat::Entity, activity_stat::Column::Month))
            .to_owned();
        let backend = sea_orm::ConnectionTrait::get_database_backend(&ctx.db);
        let mut out = Vec::new();
        for row in sea_orm::ConnectionTrait::query_all_raw(&ctx.db, backend.build(&select)).await? {
            out.push((row.try_get::<String>("", "month")?, row.try_get::<i64>("", "n")?));
        }
        out
    };
    let mut figures = Figures { participants, ..Default::default() };
    let mut monthly: Vec<MonthFigures> =
        period.months().into_iter().map(|m| MonthFigures { month: m, figures: Figures::default() }).collect();
    for (month, activities, signups, attended, no_shows, minutes) in rows {
        let f = Figures { activities, signups, attended, no_shows, minutes, ..Default::default() };
        figures.add(&f);
        if let Some(m) = monthly.iter_mut().find(|m| m.month == month) {
            m.figures.add(&f);
            m.figures.active_organizations = i64::from(activities > 0);
        }
    }
    for (month, n) in monthly_participants {
        if let Some(m) = monthly.iter_mut().find(|m| m.month == month) {
            m.figures.participants = n;
        }
    }
    figures.active_organizations = i64::from(figures.activities > 0);
    Ok(OrganizationMetrics { organization: org, period, figures, monthly })
}

// ---- export ------------------------------------------------------------------------------

/// The category in Chinese (`Category::zh`); an unknown value as it is.
pub fn category_zh(c: &str) -> &str {
    crate::domain::organization::Category::parse(c).map(|c| c.zh()).unwrap_or(c)
}

pub fn percent(r: Option<f64>) -> String {
    r.map(|r| format!("{:.1}%", r * 100.0)).unwrap_or_else(|| "—".into())
}

const SUMMARY_HEADERS: [&str; 16] = [
    "社区/村",
    "类型",
    "组织数",
    "目标数",
    "是否达标",
    "备案",
    "登记",
    "活跃组织",
    "活动场次",
    "报名人次",
    "到场人次",
    "到场率",
    "爽约率",
    "参与居民",
    "注册居民",
    "参与率",
];

/// The export's summary headers when areas are the rows (above county level): the four
/// columns after the name count communities instead of judging one.
const AREA_SUMMARY_HEADERS: [&str; 5] = ["地区", "社区/村数", "组织数", "达标社区/村", "未达标社区/村"];

fn summary_headers(m: &RegionMetrics) -> Vec<&'static str> {
    if m.areas.is_empty() {
        SUMMARY_HEADERS.to_vec()
    } else {
        AREA_SUMMARY_HEADERS.iter().chain(&SUMMARY_HEADERS[5..]).copied().collect()
    }
}

/// One row of the export's side-by-side tables: a community, or an area above county level.
struct SideRow<'a> {
    name: &'a str,
    /// The four columns after the name (see `summary_headers`).
    head: [String; 4],
    by_standing: &'a BTreeMap<String, i64>,
    figures: &'a Figures,
    residents: i64,
    participation: Option<f64>,
    monthly: &'a [MonthFigures],
    certified: Certified,
}

fn side_rows(m: &RegionMetrics) -> Vec<SideRow<'_>> {
    let communities = m.communities.iter().map(|c| SideRow {
        name: &c.community.name,
        head: [
            if c.community.kind.as_deref() == Some("rural") { "农村".into() } else { "城市".into() },
            c.organizations.to_string(),
            c.target.to_string(),
            if c.target_met() { "是".into() } else { "否".into() },
        ],
        by_standing: &c.by_standing,
        figures: &c.figures,
        residents: c.residents,
        participation: c.participation_rate(),
        monthly: &c.monthly,
        certified: c.certified.clone(),
    });
    let areas = m.areas.iter().map(|a| SideRow {
        name: &a.area.name,
        head: [
            a.communities.to_string(),
            a.organizations.to_string(),
            a.communities_meeting_target.to_string(),
            (a.communities - a.communities_meeting_target).to_string(),
        ],
        by_standing: &a.by_standing,
        figures: &a.figures,
        residents: a.residents,
        participation: a.participation_rate(),
        monthly: &a.monthly,
        certified: a.certified.clone(),
    });
    communities.chain(areas).collect()
}

fn summary_rows(m: &RegionMetrics) -> Vec<Vec<String>> {
    let standing = |b: &BTreeMap<String, i64>, k: &str| b.get(k).copied().unwrap_or(0);
    let tail = |by_standing: &[&BTreeMap<String, i64>], f: &Figures, residents: i64, rate: Option<f64>| {
        vec![
            by_standing.iter().map(|b| standing(b, "filed")).sum::<i64>().to_string(),
            by_standing.iter().map(|b| standing(b, "registered")).sum::<i64>().to_string(),
            f.active_organizations.to_string(),
            f.activities.to_string(),
            f.signups.to_string(),
            f.attended.to_string(),
            percent(f.attendance_rate()),
            percent(f.no_show_rate()),
            f.participants.to_string(),
            residents.to_string(),
            percent(rate),
        ]
    };
    let sides = side_rows(m);
    let mut rows: Vec<Vec<String>> = sides
        .iter()
        .map(|r| {
            std::iter::once(r.name.to_owned())
                .chain(r.head.iter().cloned())
                .chain(tail(&[r.by_standing], r.figures, r.residents, r.participation))
                .collect()
        })
        .collect();
    let meeting = m.communities_meeting_target();
    let head: [String; 4] = if m.areas.is_empty() {
        [String::new(), m.organizations.to_string(), String::new(), format!("{meeting}/{} 达标", m.community_count)]
    } else {
        [
            m.community_count.to_string(),
            m.organizations.to_string(),
            meeting.to_string(),
            (m.community_count - meeting).to_string(),
        ]
    };
    let standings: Vec<&BTreeMap<String, i64>> = sides.iter().map(|r| r.by_standing).collect();
    rows.push(
        std::iter::once("合计".to_owned())
            .chain(head)
            .chain(tail(&standings, &m.totals, m.residents, m.participation_rate()))
            .collect(),
    );
    rows
}

/// UTF-8 CSV with a byte-order mark, so Excel opens the Chinese correctly.
pub fn export_csv(m: &RegionMetrics) -> Vec<u8> {
    let mut headers: Vec<&str> = summary_headers(m);
    headers.push("志愿服务时长(小时)");
    let hours: Vec<String> = side_rows(m)
        .iter()
        .map(|r| r.figures.hours().to_string())
        .chain(std::iter::once(m.totals.hours().to_string()))
        .collect();
    let rows: Vec<Vec<Cell>> = summary_rows(m)
        .into_iter()
        .zip(hours)
        .map(|(row, h)| row.into_iter().chain(std::iter::once(h)).map(Cell::Text).collect())
        .collect();
    csv_document(&headers, &rows)
}

/// One cell of a downloaded table: text (guarded against formulas in CSV, always a
/// string in a workbook) or a number.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Self {
        Cell::Text(s.into())
    }

    fn as_csv(&self) -> String {
        match self {
            Cell::Text(s) => csv_cell(s),
            Cell::Number(n) => n.to_string(),
        }
    }
}

/// Every download's CSV: a BOM, a header row, rows, CRLF line ends, each text cell
/// through `csv_cell`.
pub fn csv_document(headers: &[&str], rows: &[Vec<Cell>]) -> Vec<u8> {
    let mut out = String::from("\u{feff}");
    out.push_str(&headers.iter().map(|h| csv_cell(h)).collect::<Vec<_>>().join(","));
    out.push_str("\r\n");
    for row in rows {
        out.push_str(&row.iter().map(Cell::as_csv).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// One sheet of a downloaded workbook: an optional title line, bold headers, rows.
pub struct Sheet<'a> {
    pub name: &'a str,
    pub title: Option<String>,
    pub headers: &'a [&'a str],
    pub rows: Vec<Vec<Cell>>,
}

/// Every download's workbook but the region export's own layout: one table per sheet.
/// Text is written as strings, so nothing a resident typed becomes a formula.
pub fn xlsx_document(sheets: &[Sheet<'_>]) -> AppResult<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook};
    let xerr = |e: rust_xlsxwriter::XlsxError| AppError::Internal(anyhow::anyhow!("building the workbook: {e}"));
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    for s in sheets {
        let sheet = book.add_worksheet().set_name(s.name).map_err(xerr)?;
        let mut r = 0u32;
        if let Some(title) = &s.title {
            sheet.write_string(0, 0, title).map_err(xerr)?;
            r = 2;
        }
        for (col, h) in s.headers.iter().enumerate() {
            sheet.write_string_with_format(r, col as u16, *h, &bold).map_err(xerr)?;
        }
        for row in &s.rows {
            r += 1;
            for (col, cell) in row.iter().enumerate() {
                match cell {
                    Cell::Text(t) => sheet.write_string(r, col as u16, t).map_err(xerr)?,
                    Cell::Number(n) => sheet.write_number(r, col as u16, *n).map_err(xerr)?,
                };
            }
        }
    }
    book.save_to_buffer().map_err(xerr)
}

fn csv_cell(s: &str) -> String {
    // A leading =, +, - or @ would be read as a formula by Excel.
    let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_owned() };
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

/// A workbook a committee can hand upward: a summary, a sheet per month, and the
/// organizations.
pub fn export_xlsx(m: &RegionMetrics) -> AppResult<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook};
    let xerr = |e: rust_xlsxwriter::XlsxError| AppError::Internal(anyhow::anyhow!("building the workbook: {e}"));
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();

    let sheet = book.add_worksheet().set_name("汇总").map_err(xerr)?;
    sheet
        .write_string(0, 0, format!("{} 社区社会组织参与情况（{}）", m.region.name, m.period.label()))
        .map_err(xerr)?;
    for (col, h) in summary_headers(m).iter().chain(["志愿服务时长(小时)"].iter()).enumerate() {
        sheet.write_string_with_format(2, col as u16, *h, &bold).map_err(xerr)?;
    }
    let sides = side_rows(m);
    let hours: Vec<f64> = sides.iter().map(|r| r.figures.hours()).chain(std::iter::once(m.totals.hours())).collect();
    for (r, (row, h)) in summary_rows(m).into_iter().zip(hours).enumerate() {
        for (col, cell) in row.iter().enumerate() {
            match cell.parse::<f64>() {
                Ok(n) if col >= 2 => sheet.write_number(3 + r as u32, col as u16, n).map_err(xerr)?,
                _ => sheet.write_string(3 + r as u32, col as u16, cell).map_err(xerr)?,
            };
        }
        sheet.write_number(3 + r as u32, SUMMARY_HEADERS.len() as u16, h).map_err(xerr)?;
    }

    let first = if m.areas.is_empty() { "社区/村" } else { "地区" };
    let month_headers = [first, "活动场次", "报名人次", "到场人次", "爽约人次", "参与居民", "志愿服务时长(小时)"];
    for (i, month) in m.monthly.iter().enumerate() {
        let sheet = book.add_worksheet().set_name(&month.month).map_err(xerr)?;
        for (col, h) in month_headers.iter().enumerate() {
            sheet.write_string_with_format(0, col as u16, *h, &bold).map_err(xerr)?;
        }
        let mut r = 1u32;
        for side in &sides {
            let f = &side.monthly[i].figures;
            sheet.write_string(r, 0, side.name).map_err(xerr)?;
            for (col, v) in [f.activities, f.signups, f.attended, f.no_shows, f.participants].iter().enumerate() {
                sheet.write_number(r, 1 + col as u16, *v as f64).map_err(xerr)?;
            }
            sheet.write_number(r, 6, f.hours()).map_err(xerr)?;
            r += 1;
        }
        let f = &month.figures;
        sheet.write_string_with_format(r, 0, "合计", &bold).map_err(xerr)?;
        for (col, v) in [f.activities, f.signups, f.attended, f.no_shows, f.participants].iter().enumerate() {
            sheet.write_number(r, 1 + col as u16, *v as f64).map_err(xerr)?;
        }
        sheet.write_number(r, 6, f.hours()).map_err(xerr)?;
    }

    let inactive: BTreeSet<i64> = m.inactive.iter().map(|i| i.organization.id).collect();
    let sheet = book.add_worksheet().set_name("组织").map_err(xerr)?;
    let org_headers = [
        "组织名称",
        "社区/村",
        "类别",
        "性质",
        "统一社会信用代码",
        "活动场次",
        "到场人次",
        "志愿服务时长(小时)",
        "半年未开展活动",
    ];
    for (col, h) in org_headers.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, *h, &bold).map_err(xerr)?;
    }
    for (r, (o, f)) in m.organization_list.iter().enumerate() {
        let r = 1 + r as u32;
        sheet.write_string(r, 0, &o.name).map_err(xerr)?;
        sheet
            .write_string(r, 1, m.community_names.get(&o.community_id).map(String::as_str).unwrap_or(""))
            .map_err(xerr)?;
        sheet.write_string(r, 2, category_zh(&o.category)).map_err(xerr)?;
        sheet.write_string(r, 3, if o.standing == "registered" { "登记" } else { "备案" }).map_err(xerr)?;
        sheet.write_string(r, 4, o.credit_code.as_deref().unwrap_or("")).map_err(xerr)?;
        sheet.write_number(r, 5, f.activities as f64).map_err(xerr)?;
        sheet.write_number(r, 6, f.attended as f64).map_err(xerr)?;
        sheet.write_number(r, 7, f.hours()).map_err(xerr)?;
        sheet.write_string(r, 8, if inactive.contains(&o.id) { "是" } else { "" }).map_err(xerr)?;
    }
    room_sheets(&mut book, &m.rooms, &bold).map_err(xerr)?;
    oversight_sheet(&mut book, m, &bold).map_err(xerr)?;
    funding_sheet(&mut book, m, &bold).map_err(xerr)?;
    time_bank_sheet(&mut book, &m.time_banks, &bold).map_err(xerr)?;
    crate::service::support_figures::sheet(&mut book, &m.support, &bold).map_err(xerr)?;
    book.save_to_buffer().map_err(xerr)
}

/// The export's funding sheet (项目资助): calls open, granted and paid (yuan), projects by
/// state, deliverables met against planned.
fn funding_sheet(
    book: &mut rust_xlsxwriter::Workbook,
    m: &RegionMetrics,
    bold: &rust_xlsxwriter::Format,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let f = &m.funding;
    let sheet = book.add_worksheet().set_name("项目资助")?;
    sheet.write_string_with_format(0, 0, "项目资助", bold)?;
    let state = |k: &str| f.projects.get(k).copied().unwrap_or(0) as f64;
    let rows: [(&str, f64); 10] = [
        ("申报中的通知", f.calls_open as f64),
        ("资助金额（元）", f.granted_fen as f64 / 100.0),
        ("已拨付（元）", f.paid_fen as f64 / 100.0),
        ("待签约项目", state("pending_agreement")),
        ("执行中项目", state("active")),
        ("已结项项目", state("completed")),
        ("未通过项目", state("failed")),
        ("计划成果（项）", f.deliverables_planned as f64),
        ("已达成成果（项）", f.deliverables_met as f64),
        (
            "成果达成率（%）",
            if f.deliverables_planned > 0 {
                f.deliverables_met as f64 * 100.0 / f.deliverables_planned as f64
            } else {
                0.0
            },
        ),
    ];
    for (r, (label, n)) in rows.iter().enumerate() {
        sheet.write_string(1 + r as u32, 0, *label)?;
        sheet.write_number(1 + r as u32, 1, *n)?;
    }
    Ok(())
}

/// The export's oversight sheet (监管): last year's annual reports, the abnormal list,
/// organizations by grade (等级评估), and certified staff by community.
fn oversight_sheet(
    book: &mut rust_xlsxwriter::Workbook,
    m: &RegionMetrics,
    bold: &rust_xlsxwriter::Format,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let o = &m.oversight;
    let sheet = book.add_worksheet().set_name("监管")?;
    sheet.write_string_with_format(0, 0, format!("{} 年度年报", o.year), bold)?;
    let count = |key: &str| o.results.get(key).copied().unwrap_or(0);
    let grade = |g: &str| o.grades.get(g).copied().unwrap_or(0);
    let rows: [(&str, i64); 15] = [
        ("应报组织", o.reports_owed),
        ("已提交", o.reports_handed_in),
        ("已通过", o.reports_accepted),
        ("逾期未报", o.reports_overdue),
        ("合格", count("pass")),
        ("基本合格", count("basic_pass")),
        ("不合格", count("fail")),
        ("列入活动异常名录的组织", o.abnormal),
        ("其中列入满两年", o.abnormal_flagged),
        ("5A 级组织", grade("5A")),
        ("4A 级组织", grade("4A")),
        ("3A 级组织", grade("3A")),
        ("2A 级组织", grade("2A")),
        ("1A 级组织", grade("1A")),
        ("进行中的等级评估", o.assessments_open),
    ];
    for (r, (label, n)) in rows.iter().enumerate() {
        sheet.write_string(1 + r as u32, 0, *label)?;
        sheet.write_number(1 + r as u32, 1, *n as f64)?;
    }
    let top = 2 + rows.len() as u32;
    let first = if m.areas.is_empty() { "社区/村" } else { "地区" };
    for (col, h) in [first, "组织骨干人数", "持证（已认定）人数", "持证比例"].iter().enumerate() {
        sheet.write_string_with_format(top, col as u16, *h, bold)?;
    }
    for (r, side) in side_rows(m).iter().enumerate() {
        let (r, c) = (top + 1 + r as u32, &side.certified);
        sheet.write_string(r, 0, side.name)?;
        sheet.write_number(r, 1, c.staff as f64)?;
        sheet.write_number(r, 2, c.certified as f64)?;
        sheet.write_string(r, 3, percent(crate::domain::certificate::share(c.certified, c.staff)))?;
    }
    Ok(())
}

/// The export's time-bank sheet (时间银行): each bank by month — minutes exchanged between
/// members and credited for activities — with its total line carrying members and the
/// open offers and requests. Minutes, as the ledger keeps them.
fn time_bank_sheet(
    book: &mut rust_xlsxwriter::Workbook,
    banks: &[crate::service::time_bank::BankFigures],
    bold: &rust_xlsxwriter::Format,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let sheet = book.add_worksheet().set_name("时间银行")?;
    let headers = [
        "时间银行",
        "地区",
        "月份",
        "互助交换(分钟)",
        "活动奖励(分钟)",
        "冲正(分钟)",
        "成员",
        "待审核申请",
        "开放中的服务",
        "开放中的需求",
    ];
    for (col, h) in headers.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, *h, bold)?;
    }
    let mut r = 0u32;
    for b in banks {
        for (month, exchanged, credited) in &b.monthly {
            r += 1;
            sheet.write_string(r, 0, &b.name)?;
            sheet.write_string(r, 1, &b.region_name)?;
            sheet.write_string(r, 2, month)?;
            sheet.write_number(r, 3, *exchanged as f64)?;
            sheet.write_number(r, 4, *credited as f64)?;
        }
        r += 1;
        sheet.write_string(r, 0, &b.name)?;
        sheet.write_string(r, 1, &b.region_name)?;
        sheet.write_string_with_format(r, 2, "合计", bold)?;
        for (col, v) in [
            b.minutes_exchanged,
            b.minutes_credited,
            b.minutes_reversed,
            b.members,
            b.pending_members,
            b.open_offers,
            b.open_requests,
        ]
        .iter()
        .enumerate()
        {
            sheet.write_number(r, 3 + col as u16, *v as f64)?;
        }
    }
    Ok(())
}

/// Minutes as hours, to one decimal place (the exports' and figures' unit).
pub fn hours_of_minutes(minutes: i64) -> f64 {
    (minutes as f64 / 60.0 * 10.0).round() / 10.0
}

/// The export's room sheets (一室多用): each venue by month with its total, and who booked
/// each venue.
fn room_sheets(
    book: &mut rust_xlsxwriter::Workbook,
    rooms: &[RoomFigures],
    bold: &rust_xlsxwriter::Format,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let sheet = book.add_worksheet().set_name("场地使用")?;
    let headers =
        ["场地", "社区/村", "月份", "开放时长(小时)", "预约时长(小时)", "使用率", "预约次数", "活动场次", "参与人次"];
    for (col, h) in headers.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, *h, bold)?;
    }
    let mut r = 0u32;
    for room in rooms {
        for m in room.monthly.iter().chain(std::iter::once(&room.total)) {
            r += 1;
            sheet.write_string(r, 0, &room.venue.name)?;
            sheet.write_string(r, 1, &room.community_name)?;
            if m.month.is_empty() {
                sheet.write_string_with_format(r, 2, "合计", bold)?;
            } else {
                sheet.write_string(r, 2, &m.month)?;
            }
            sheet.write_number(r, 3, hours_of_minutes(m.open_minutes))?;
            sheet.write_number(r, 4, hours_of_minutes(m.booked_minutes))?;
            sheet.write_string(r, 5, percent(m.utilisation()))?;
            for (col, v) in [m.bookings, m.activities, m.participants].iter().enumerate() {
                sheet.write_number(r, 6 + col as u16, *v as f64)?;
            }
        }
    }
    let sheet = book.add_worksheet().set_name("场地预约按组织")?;
    for (col, h) in ["场地", "社区/村", "组织名称", "类别", "预约次数", "预约时长(小时)"].iter().enumerate()
    {
        sheet.write_string_with_format(0, col as u16, *h, bold)?;
    }
    let mut r = 0u32;
    for room in rooms {
        for u in &room.by_organization {
            r += 1;
            sheet.write_string(r, 0, &room.venue.name)?;
            sheet.write_string(r, 1, &room.community_name)?;
            sheet.write_string(r, 2, &u.organization_name)?;
            sheet.write_string(r, 3, category_zh(&u.category))?;
            sheet.write_number(r, 4, u.bookings as f64)?;
            sheet.write_number(r, 5, hours_of_minutes(u.booked_minutes))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(y, m, d).and_then(|d| d.and_hms_opt(0, 0, 0)).map(|d| d.and_utc()).unwrap_or_default()
    }

    #[test]
    fn periods_default_to_this_year_and_list_their_months() {
        let now = at(2026, 11, 28);
        let p = Period::parse(None, None, now).map_err(|e| e.to_string());
        let Ok(p) = p else { panic!("{p:?}") };
        assert_eq!(month_of(p.from), "2026-01");
        assert_eq!(p.months().len(), 11);
        // Midnight in Shanghai is 16:00 UTC the day before.
        let q = Period { from: at(2026, 2, 28) + Duration::hours(16), to: at(2026, 4, 30) + Duration::hours(16) };
        assert_eq!(q.months(), ["2026-03", "2026-04"]);
        let r = Period { from: at(2026, 3, 1), to: at(2026, 5, 1) };
        assert_eq!(r.months(), ["2026-03", "2026-04", "2026-05"], "00:00 UTC on 1 May is 08:00 in Shanghai");
        assert!(Period::parse(Some(at(2026, 5, 1)), Some(at(2026, 4, 1)), now).is_err());
        assert!(Period::parse(Some(at(2010, 1, 1)), Some(at(2026, 1, 1)), now).is_err());
    }

    #[test]
    fn rates_are_safe_with_zero() {
        assert_eq!(participation_rate(3, 2), Some(1.0), "never above 1 even if counts drift");
        assert_eq!(participation_rate(1, 0), None);
        assert_eq!(ratio(1, 0), None);
        assert_eq!(ratio(2, 3), Some(0.667));
        assert_eq!(csv_cell("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
    }
}
