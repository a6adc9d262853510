//! Participation figures (a product feature, not telemetry): organizations against the
//! policy's target, activities, sign-ups, attendance, distinct participants and hours,
//! by community and month. Read from the rollups written when an activity closes, so a
//! street's year is a few grouped scans of small tables.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, Query},
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
    entity::{activity, activity_stat, attendance, organization, participant_month, region, user},
    error::{AppError, AppResult},
    service::attendance::month_of,
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
            return Err(AppError::invalid("to", "before_from", "to 须晚于 from"));
        }
        if to - from > Duration::days(366 * 5) {
            return Err(AppError::invalid("to", "too_long", "统计区间不超过 5 年"));
        }
        Ok(Self { from, to })
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
    fn add(&mut self, o: &Figures) {
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
        (self.minutes as f64 / 60.0 * 10.0).round() / 10.0
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
    pub figures: Figures,
    pub monthly: Vec<MonthFigures>,
}

impl CommunityMetrics {
    pub fn target_met(&self) -> bool {
        self.organizations >= self.target
    }

    pub fn participation_rate(&self) -> Option<f64> {
        ratio(self.figures.participants, self.residents)
    }
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
    pub communities: Vec<CommunityMetrics>,
    pub organizations: i64,
    pub residents: i64,
    pub totals: Figures,
    pub monthly: Vec<MonthFigures>,
    pub inactive: Vec<InactiveOrganization>,
    /// Every recognised organization, for the export.
    pub organization_list: Vec<(organization::Model, Figures)>,
}

impl RegionMetrics {
    pub fn communities_meeting_target(&self) -> usize {
        self.communities.iter().filter(|c| c.target_met()).count()
    }

    pub fn participation_rate(&self) -> Option<f64> {
        ratio(self.totals.participants, self.residents)
    }
}

fn sum(col: &str) -> sea_orm::sea_query::SimpleExpr {
    Expr::cust(format!("CAST(COALESCE(SUM({col}), 0) AS BIGINT)"))
}

fn count() -> sea_orm::sea_query::SimpleExpr {
    Expr::cust("COUNT(*)")
}

/// `GET /regions/{id}/metrics`: for the committee of a community, the street over it
/// (its communities side by side), civil affairs above.
pub async fn region_metrics(
    ctx: &AppContext,
    user: &AuthUser,
    region_id: i64,
    period: Period,
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
    let (first_month, last_month) =
        (months.first().cloned().unwrap_or_default(), months.last().cloned().unwrap_or_default());
    let recognised = [OrgStatus::Filed.as_str(), OrgStatus::Registered.as_str()];

    let org_counts: Vec<(i64, String, String, i64)> = organization::Entity::find()
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
        .into_tuple()
        .all(&ctx.db)
        .await?;

    let in_period = || {
        sea_orm::Condition::all()
            .add(activity_stat::Column::CommunityId.is_in(ids.clone()))
            .add(activity_stat::Column::StartsAt.gte(period.from))
            .add(activity_stat::Column::StartsAt.lt(period.to))
    };
    let stats: Vec<(i64, String, i64, i64, i64, i64, i64)> = activity_stat::Entity::find()
        .select_only()
        .column(activity_stat::Column::CommunityId)
        .column(activity_stat::Column::Month)
        .column_as(count(), "activities")
        .column_as(sum("signups"), "signups")
        .column_as(sum("attended"), "attended")
        .column_as(sum("no_shows"), "no_shows")
        .column_as(sum("minutes"), "minutes")
        .filter(in_period())
        .group_by(activity_stat::Column::CommunityId)
        .group_by(activity_stat::Column::Month)
        .into_tuple()
        .all(&ctx.db)
        .await?;
    let active_by_community: HashMap<i64, i64> = activity_stat::Entity::find()
        .select_only()
        .column(activity_stat::Column::CommunityId)
        .column_as(Expr::cust("COUNT(DISTINCT organization_id)"), "n")
        .filter(in_period())
        .group_by(activity_stat::Column::CommunityId)
        .into_tuple::<(i64, i64)>()
        .all(&ctx.db)
        .await?
        .into_iter()
        .collect();
    let per_org: Vec<(i64, i64, i64, i64, i64, i64)> = activity_stat::Entity::find()
        .select_only()
        .column(activity_stat::Column::OrganizationId)
        .column_as(count(), "activities")
        .column_as(sum("signups"), "signups")
        .column_as(sum("attended"), "attended")
        .column_as(sum("no_shows"), "no_shows")
        .column_as(sum("minutes"), "minutes")
        .filter(in_period())
        .group_by(activity_stat::Column::OrganizationId)
        .into_tuple()
        .all(&ctx.db)
        .await?;

    let in_months = || {
        sea_orm::Condition::all()
            .add(participant_month::Column::CommunityId.is_in(ids.clone()))
            .add(participant_month::Column::Month.gte(first_month.clone()))
            .add(participant_month::Column::Month.lte(last_month.clone()))
    };
    let participants_by_community_month: Vec<(i64, String, i64)> = participant_month::Entity::find()
        .select_only()
        .column(participant_month::Column::CommunityId)
        .column(participant_month::Column::Month)
        .column_as(count(), "n")
        .filter(in_months())
        .group_by(participant_month::Column::CommunityId)
        .group_by(participant_month::Column::Month)
        .into_tuple()
        .all(&ctx.db)
        .await?;
    let participants_by_community: HashMap<i64, i64> = participant_month::Entity::find()
        .select_only()
        .column(participant_month::Column::CommunityId)
        .column_as(Expr::cust("COUNT(DISTINCT user_id)"), "n")
        .filter(in_months())
        .group_by(participant_month::Column::CommunityId)
        .into_tuple::<(i64, i64)>()
        .all(&ctx.db)
        .await?
        .into_iter()
        .collect();
    let participants_by_month: HashMap<String, i64> = participant_month::Entity::find()
        .select_only()
        .column(participant_month::Column::Month)
        .column_as(Expr::cust("COUNT(DISTINCT user_id)"), "n")
        .filter(in_months())
        .group_by(participant_month::Column::Month)
        .into_tuple::<(String, i64)>()
        .all(&ctx.db)
        .await?
        .into_iter()
        .collect();
    let participants_total: Option<i64> = participant_month::Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(DISTINCT user_id)"), "n")
        .filter(in_months())
        .into_tuple()
        .one(&ctx.db)
        .await?;
    let active_total: Option<i64> = activity_stat::Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(DISTINCT organization_id)"), "n")
        .filter(in_period())
        .into_tuple()
        .one(&ctx.db)
        .await?;
    let residents: HashMap<i64, i64> = user::Entity::find()
        .select_only()
        .column(user::Column::HomeCommunityId)
        .column_as(count(), "n")
        .filter(user::Column::HomeCommunityId.is_in(ids.clone()))
        .filter(user::Column::DeletedAt.is_null())
        .group_by(user::Column::HomeCommunityId)
        .into_tuple::<(Option<i64>, i64)>()
        .all(&ctx.db)
        .await?
        .into_iter()
        .filter_map(|(c, n)| c.map(|c| (c, n)))
        .collect();

    let mut metrics: Vec<CommunityMetrics> = communities
        .into_iter()
        .map(|c| CommunityMetrics {
            target: if c.kind.as_deref() == Some("rural") { 5 } else { 10 },
            residents: residents.get(&c.id).copied().unwrap_or(0),
            organizations: 0,
            by_category: BTreeMap::new(),
            by_standing: BTreeMap::new(),
            figures: Figures {
                participants: participants_by_community.get(&c.id).copied().unwrap_or(0),
                active_organizations: active_by_community.get(&c.id).copied().unwrap_or(0),
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
    for (community, month, activities, signups, attended, no_shows, minutes) in stats {
        let f = Figures { activities, signups, attended, no_shows, minutes, ..Default::default() };
        totals.add(&f);
        if let Some(mf) = monthly.iter_mut().find(|m| m.month == month) {
            mf.figures.add(&f);
        }
        if let Some(m) = index.get(&community).map(|i| &mut metrics[*i]) {
            m.figures.add(&f);
            if let Some(mf) = m.monthly.iter_mut().find(|x| x.month == month) {
                mf.figures.add(&f);
            }
        }
    }
    for (community, month, n) in participants_by_community_month {
        if let Some(mf) = index.get(&community).and_then(|i| metrics[*i].monthly.iter_mut().find(|x| x.month == month))
        {
            mf.figures.participants = n;
        }
    }
    for mf in &mut monthly {
        mf.figures.participants = participants_by_month.get(&mf.month).copied().unwrap_or(0);
    }
    totals.participants = participants_total.unwrap_or(0);
    totals.active_organizations = active_total.unwrap_or(0);

    let organization_list = organizations_in(ctx, &ids).await?;
    let per_org: HashMap<i64, Figures> = per_org
        .into_iter()
        .map(|(org, activities, signups, attended, no_shows, minutes)| {
            (org, Figures { activities, signups, attended, no_shows, minutes, ..Default::default() })
        })
        .collect();
    let inactive = inactive_organizations(ctx, &organization_list).await?;
    Ok(RegionMetrics {
        organizations: metrics.iter().map(|m| m.organizations).sum(),
        residents: metrics.iter().map(|m| m.residents).sum(),
        region,
        period,
        communities: metrics,
        totals,
        monthly,
        inactive,
        organization_list: organization_list
            .into_iter()
            .map(|o| {
                let f = per_org.get(&o.id).cloned().unwrap_or_default();
                (o, f)
            })
            .collect(),
    })
}

async fn organizations_in(ctx: &AppContext, community_ids: &[i64]) -> AppResult<Vec<organization::Model>> {
    Ok(organization::Entity::find()
        .filter(organization::Column::CommunityId.is_in(community_ids.to_vec()))
        .filter(organization::Column::Status.is_in([OrgStatus::Filed.as_str(), OrgStatus::Registered.as_str()]))
        .order_by_asc(organization::Column::CommunityId)
        .order_by_asc(organization::Column::Id)
        .all(&ctx.db)
        .await?)
}

/// Recognised for at least six months and held nothing in the last six.
async fn inactive_organizations(
    ctx: &AppContext,
    orgs: &[organization::Model],
) -> AppResult<Vec<InactiveOrganization>> {
    let since = ctx.now() - Duration::days(182);
    let ids: Vec<i64> = orgs.iter().map(|o| o.id).collect();
    let last: HashMap<i64, DateTime<Utc>> = activity::Entity::find()
        .select_only()
        .column(activity::Column::OrganizationId)
        .column_as(Expr::cust("MAX(starts_at)"), "last")
        .filter(activity::Column::OrganizationId.is_in(ids))
        .filter(activity::Column::Status.is_in([ActivityStatus::Published.as_str(), ActivityStatus::Finished.as_str()]))
        .group_by(activity::Column::OrganizationId)
        .into_tuple::<(i64, DateTime<Utc>)>()
        .all(&ctx.db)
        .await?
        .into_iter()
        .collect();
    Ok(orgs
        .iter()
        .filter(|o| o.filed_at.unwrap_or(o.created_at) <= since)
        .filter(|o| last.get(&o.id).is_none_or(|t| *t < since))
        .map(|o| InactiveOrganization { organization: o.clone(), last_activity_at: last.get(&o.id).copied() })
        .collect())
}

pub struct OrganizationMetrics {
    pub organization: organization::Model,
    pub period: Period,
    pub figures: Figures,
    pub monthly: Vec<MonthFigures>,
}

/// `GET /organizations/{id}/metrics`: for its staff and the officials above it.
pub async fn organization_metrics(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    period: Period,
) -> AppResult<OrganizationMetrics> {
    let org = organization::Entity::find_by_id(id).one(&ctx.db).await?.ok_or(AppError::NotFound("organization"))?;
    let staff =
        user.grants.iter().any(|g| matches!(g.role, Role::OrgStaff | Role::OrgLeader) && g.scope_id == Some(id));
    let path = region_path(&ctx.db, org.community_id).await?;
    if !staff && !holds_region_role(user, &[Role::Committee, Role::Street, Role::CivilAffairs], &path) {
        return Err(AppError::Forbidden("requires organization staff"));
    }
    let filter = || {
        sea_orm::Condition::all()
            .add(activity_stat::Column::OrganizationId.eq(id))
            .add(activity_stat::Column::StartsAt.gte(period.from))
            .add(activity_stat::Column::StartsAt.lt(period.to))
    };
    let rows: Vec<(String, i64, i64, i64, i64, i64)> = activity_stat::Entity::find()
        .select_only()
        .column(activity_stat::Column::Month)
        .column_as(count(), "activities")
        .column_as(sum("signups"), "signups")
        .column_as(sum("attended"), "attended")
        .column_as(sum("no_shows"), "no_shows")
        .column_as(sum("minutes"), "minutes")
        .filter(filter())
        .group_by(activity_stat::Column::Month)
        .into_tuple()
        .all(&ctx.db)
        .await?;
    let activities = Query::select()
        .column(activity_stat::Column::ActivityId)
        .from(activity_stat::Entity)
        .cond_where(filter())
        .to_owned();
    let participants: Option<i64> = attendance::Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(DISTINCT user_id)"), "n")
        .filter(attendance::Column::ActivityId.in_subquery(activities))
        .into_tuple()
        .one(&ctx.db)
        .await?;
    let mut figures = Figures { participants: participants.unwrap_or(0), ..Default::default() };
    let mut monthly: Vec<MonthFigures> =
        period.months().into_iter().map(|m| MonthFigures { month: m, figures: Figures::default() }).collect();
    for (month, activities, signups, attended, no_shows, minutes) in rows {
        let f = Figures { activities, signups, attended, no_shows, minutes, ..Default::default() };
        figures.add(&f);
        if let Some(m) = monthly.iter_mut().find(|m| m.month == month) {
            m.figures.add(&f);
        }
    }
    figures.active_organizations = i64::from(figures.activities > 0);
    Ok(OrganizationMetrics { organization: org, period, figures, monthly })
}

// ---- export ------------------------------------------------------------------------------

const CATEGORY_ZH: [(&str, &str); 6] = [
    ("charity", "公益慈善"),
    ("community_service", "社区服务"),
    ("culture_sports", "文体活动"),
    ("mutual_aid", "居民互助"),
    ("rural_production", "农村生产技术服务"),
    ("social_work", "社会工作服务"),
];

fn category_zh(c: &str) -> &str {
    CATEGORY_ZH.iter().find(|(k, _)| *k == c).map(|(_, v)| *v).unwrap_or(c)
}

fn percent(r: Option<f64>) -> String {
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

fn summary_rows(m: &RegionMetrics) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = m
        .communities
        .iter()
        .map(|c| {
            vec![
                c.community.name.clone(),
                if c.community.kind.as_deref() == Some("rural") { "农村".into() } else { "城市".into() },
                c.organizations.to_string(),
                c.target.to_string(),
                if c.target_met() { "是".into() } else { "否".into() },
                c.by_standing.get("filed").copied().unwrap_or(0).to_string(),
                c.by_standing.get("registered").copied().unwrap_or(0).to_string(),
                c.figures.active_organizations.to_string(),
                c.figures.activities.to_string(),
                c.figures.signups.to_string(),
                c.figures.attended.to_string(),
                percent(c.figures.attendance_rate()),
                percent(c.figures.no_show_rate()),
                c.figures.participants.to_string(),
                c.residents.to_string(),
                percent(c.participation_rate()),
            ]
        })
        .collect();
    rows.push(vec![
        "合计".into(),
        String::new(),
        m.organizations.to_string(),
        String::new(),
        format!("{}/{} 达标", m.communities_meeting_target(), m.communities.len()),
        m.communities.iter().map(|c| c.by_standing.get("filed").copied().unwrap_or(0)).sum::<i64>().to_string(),
        m.communities.iter().map(|c| c.by_standing.get("registered").copied().unwrap_or(0)).sum::<i64>().to_string(),
        m.totals.active_organizations.to_string(),
        m.totals.activities.to_string(),
        m.totals.signups.to_string(),
        m.totals.attended.to_string(),
        percent(m.totals.attendance_rate()),
        percent(m.totals.no_show_rate()),
        m.totals.participants.to_string(),
        m.residents.to_string(),
        percent(m.participation_rate()),
    ]);
    rows
}

/// UTF-8 CSV with a byte-order mark, so Excel opens the Chinese correctly.
pub fn export_csv(m: &RegionMetrics) -> Vec<u8> {
    let mut out = String::from("\u{feff}");
    let mut headers: Vec<String> = SUMMARY_HEADERS.iter().map(|h| h.to_string()).collect();
    headers.push("志愿服务时长(小时)".into());
    out.push_str(&headers.join(","));
    out.push_str("\r\n");
    let hours: Vec<String> = m
        .communities
        .iter()
        .map(|c| c.figures.hours().to_string())
        .chain(std::iter::once(m.totals.hours().to_string()))
        .collect();
    for (row, h) in summary_rows(m).into_iter().zip(hours) {
        let cells: Vec<String> = row.into_iter().chain(std::iter::once(h)).map(|c| csv_cell(&c)).collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out.into_bytes()
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
        .write_string(
            0,
            0,
            format!(
                "{} 社区社会组织参与情况（{} 至 {}）",
                m.region.name,
                to_shanghai(m.period.from).format("%Y-%m-%d"),
                to_shanghai(m.period.to).format("%Y-%m-%d")
            ),
        )
        .map_err(xerr)?;
    for (col, h) in SUMMARY_HEADERS.iter().chain(["志愿服务时长(小时)"].iter()).enumerate() {
        sheet.write_string_with_format(2, col as u16, *h, &bold).map_err(xerr)?;
    }
    let hours: Vec<f64> =
        m.communities.iter().map(|c| c.figures.hours()).chain(std::iter::once(m.totals.hours())).collect();
    for (r, (row, h)) in summary_rows(m).into_iter().zip(hours).enumerate() {
        for (col, cell) in row.iter().enumerate() {
            match cell.parse::<f64>() {
                Ok(n) if col >= 2 => sheet.write_number(3 + r as u32, col as u16, n).map_err(xerr)?,
                _ => sheet.write_string(3 + r as u32, col as u16, cell).map_err(xerr)?,
            };
        }
        sheet.write_number(3 + r as u32, SUMMARY_HEADERS.len() as u16, h).map_err(xerr)?;
    }

    let month_headers = ["社区/村", "活动场次", "报名人次", "到场人次", "爽约人次", "参与居民", "志愿服务时长(小时)"];
    for (i, month) in m.monthly.iter().enumerate() {
        let sheet = book.add_worksheet().set_name(&month.month).map_err(xerr)?;
        for (col, h) in month_headers.iter().enumerate() {
            sheet.write_string_with_format(0, col as u16, *h, &bold).map_err(xerr)?;
        }
        let mut r = 1u32;
        for c in &m.communities {
            let f = &c.monthly[i].figures;
            sheet.write_string(r, 0, &c.community.name).map_err(xerr)?;
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

    let names: HashMap<i64, &str> = m.communities.iter().map(|c| (c.community.id, c.community.name.as_str())).collect();
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
        sheet.write_string(r, 1, names.get(&o.community_id).copied().unwrap_or("")).map_err(xerr)?;
        sheet.write_string(r, 2, category_zh(&o.category)).map_err(xerr)?;
        sheet.write_string(r, 3, if o.standing == "registered" { "登记" } else { "备案" }).map_err(xerr)?;
        sheet.write_string(r, 4, o.credit_code.as_deref().unwrap_or("")).map_err(xerr)?;
        sheet.write_number(r, 5, f.activities as f64).map_err(xerr)?;
        sheet.write_number(r, 6, f.attended as f64).map_err(xerr)?;
        sheet.write_number(r, 7, f.hours()).map_err(xerr)?;
        sheet.write_string(r, 8, if inactive.contains(&o.id) { "是" } else { "" }).map_err(xerr)?;
    }
    book.save_to_buffer().map_err(xerr)
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
        assert_eq!(ratio(1, 0), None);
        assert_eq!(ratio(2, 3), Some(0.667));
        assert_eq!(csv_cell("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
    }
}
