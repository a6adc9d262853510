//! The console's pages: 概览 (overview), 组织 (organizations), 活动 (calendar), 导出
//! (exports); 授权 (grants) is `grants.rs`. Each calls the API's service functions with the signed-in
//! user, so the API's permission checks decide what the page may show or do.

use std::collections::BTreeMap;

use actix_web::{get, web};
use chrono::{Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{Frame, PageError, PageResult, Signed, page, shanghai};
use crate::{
    api::{
        exports::file_response,
        reports::{PeriodQuery, period},
    },
    context::AppContext,
    domain::{
        clock::{shanghai as cst, to_shanghai},
        download::FileFormat,
    },
    error::AppError,
    service,
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(overview)
        .service(organizations)
        .service(organization)
        .service(roster)
        .service(calendar)
        .service(exports)
        .service(download);
}

/// The category of an organization in Chinese (`Category::zh`, as the exports name it).
pub(crate) fn category_zh(category: &str) -> &'static str {
    crate::domain::organization::Category::parse(category).map(|c| c.zh()).unwrap_or("其他")
}

fn standing_zh(standing: &str) -> &'static str {
    if standing == "registered" { "登记" } else { "备案" }
}

pub(crate) fn role_zh(role: &str) -> &'static str {
    match role {
        "org_staff" => "组织工作人员",
        "org_leader" => "组织负责人",
        "hub_staff" => "枢纽组织工作人员",
        "committee" => "社区居委会",
        "street" => "街道办事处",
        "civil_affairs" => "民政部门",
        "system_admin" => "系统管理员",
        _ => "居民",
    }
}

/// JSON for a `<script type="application/json">` block: `<`, `>` and `&` as `\u00XX`,
/// so no text in it can close the element.
fn json_block(value: &serde_json::Value) -> minijinja::Value {
    let text = value.to_string().replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026");
    minijinja::Value::from_safe_string(text)
}

fn percent(r: Option<f64>) -> String {
    r.map(|r| format!("{:.1}%", r * 100.0)).unwrap_or_else(|| "—".into())
}

#[derive(Deserialize)]
struct PeriodForm {
    from: Option<String>,
    to: Option<String>,
}

impl PeriodForm {
    fn query(&self) -> PeriodQuery {
        let keep = |v: &Option<String>| v.as_ref().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        PeriodQuery { from: keep(&self.from), to: keep(&self.to) }
    }
}

/// A row of the overview's side-by-side table: a community, or (above county level) an
/// area with its communities meeting the target and short of it.
#[derive(Serialize)]
struct CommunityRow {
    id: i64,
    name: String,
    organizations: i64,
    target: i64,
    shortfall: i64,
    communities: i64,
    meeting: i64,
    activities: i64,
    participants: i64,
    participation: String,
    participation_value: f64,
    hours: f64,
}

#[derive(Serialize)]
struct MonthRow {
    month: String,
    activities: i64,
    participants: i64,
    attended: i64,
    rate: String,
    rate_value: f64,
    hours: f64,
}

/// `GET /console/`: 概览 — organizations against the target by community (with category
/// and standing), participation month by month, organizations idle for six months
/// (`reports::region_metrics`, as `GET /regions/{id}/metrics`).
#[get("/")]
async fn overview(ctx: web::Data<AppContext>, signed: Signed, q: web::Query<PeriodForm>) -> PageResult {
    let seat = signed.seat()?;
    let period = period(&ctx, &q.query())?;
    let m = service::reports::region_metrics(
        &ctx,
        signed.user(),
        seat.region_id,
        period,
        service::reports::Detail::Figures,
    )
    .await?;
    let communities: Vec<CommunityRow> = m
        .communities
        .iter()
        .map(|c| CommunityRow {
            id: c.community.id,
            name: c.community.name.clone(),
            organizations: c.organizations,
            target: c.target,
            shortfall: (c.target - c.organizations).max(0),
            communities: 1,
            meeting: i64::from(c.target_met()),
            activities: c.figures.activities,
            participants: c.figures.participants,
            participation: percent(c.participation_rate()),
            participation_value: c.participation_rate().unwrap_or(0.0),
            hours: c.figures.hours(),
        })
        .chain(m.areas.iter().map(|a| CommunityRow {
            id: a.area.id,
            name: a.area.name.clone(),
            organizations: a.organizations,
            target: 0,
            shortfall: 0,
            communities: a.communities,
            meeting: a.communities_meeting_target,
            activities: a.figures.activities,
            participants: a.figures.participants,
            participation: percent(a.participation_rate()),
            participation_value: a.participation_rate().unwrap_or(0.0),
            hours: a.figures.hours(),
        }))
        .collect();
    let by_area = !m.areas.is_empty();
    let monthly: Vec<MonthRow> = m
        .monthly
        .iter()
        .map(|mo| MonthRow {
            month: mo.month.clone(),
            activities: mo.figures.activities,
            participants: mo.figures.participants,
            attended: mo.figures.attended,
            rate: percent(mo.figures.attendance_rate()),
            rate_value: mo.figures.attendance_rate().unwrap_or(0.0),
            hours: mo.figures.hours(),
        })
        .collect();
    let mut by_category: BTreeMap<&'static str, i64> = BTreeMap::new();
    let mut by_standing: BTreeMap<&'static str, i64> = BTreeMap::new();
    let counts = m.communities.iter().map(|c| (&c.by_category, &c.by_standing));
    for (categories, standings) in counts.chain(m.areas.iter().map(|a| (&a.by_category, &a.by_standing))) {
        for (k, n) in categories {
            *by_category.entry(category_zh(k)).or_default() += n;
        }
        for (k, n) in standings {
            *by_standing.entry(standing_zh(k)).or_default() += n;
        }
    }
    let names = &m.community_names;
    let inactive: Vec<_> = m
        .inactive
        .iter()
        .map(|i| {
            minijinja::context! {
                id => i.organization.id,
                name => i.organization.name.clone(),
                community => names.get(&i.organization.community_id).cloned().unwrap_or_default(),
                last => i.last_activity_at.map(shanghai).unwrap_or_else(|| "从未举办".into()),
            }
        })
        .collect();
    let chart = serde_json::json!({
        "by_area": by_area,
        "communities": communities.iter().map(|c| serde_json::json!({
            "name": c.name, "organizations": c.organizations, "target": c.target, "shortfall": c.shortfall,
            "meeting": c.meeting, "short": c.communities - c.meeting,
        })).collect::<Vec<_>>(),
        "monthly": monthly.iter().map(|mo| serde_json::json!({
            "month": mo.month, "activities": mo.activities, "participants": mo.participants,
            "rate": mo.rate_value, "hours": mo.hours,
        })).collect::<Vec<_>>(),
    });
    let frame = Frame::new(&ctx, &signed, seat, "overview").await?;
    page(
        "overview.html",
        minijinja::context! {
            frame,
            from => to_shanghai(m.period.from).format("%Y-%m-%d").to_string(),
            to => to_shanghai(m.period.to).format("%Y-%m-%d").to_string(),
            side_by_side => seat.may_see_communities_side_by_side(),
            by_area,
            community_count => m.community_count,
            communities,
            meeting => m.communities_meeting_target(),
            organizations => m.organizations,
            participation => percent(m.participation_rate()),
            activities => m.totals.activities,
            participants => m.totals.participants,
            hours => m.totals.hours(),
            monthly,
            by_category => by_category.into_iter().collect::<Vec<_>>(),
            by_standing => by_standing.into_iter().collect::<Vec<_>>(),
            inactive,
            chart => json_block(&chart),
        },
    )
}

#[derive(Deserialize)]
struct OrgSearch {
    q: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// `GET /console/organizations?q=`: the recognised organizations of the scope with
/// standing, grade, last activity and this year's figures (from `region_metrics`).
#[get("/organizations")]
async fn organizations(ctx: web::Data<AppContext>, signed: Signed, q: web::Query<OrgSearch>) -> PageResult {
    let seat = signed.seat()?;
    let form = PeriodForm { from: q.from.clone(), to: q.to.clone() };
    let period = period(&ctx, &form.query())?;
    let m = service::reports::region_metrics(
        &ctx,
        signed.user(),
        seat.region_id,
        period,
        service::reports::Detail::Organizations,
    )
    .await?;
    let needle = q.q.as_deref().map(str::trim).unwrap_or("");
    let list: Vec<_> =
        m.organization_list.iter().filter(|(o, _)| needle.is_empty() || o.name.contains(needle)).collect();
    let ids: Vec<i64> = list.iter().map(|(o, _)| o.id).collect();
    let today = to_shanghai(ctx.now()).date_naive();
    let grades = service::ratings::current_grades(&ctx.db, &ids, today).await?;
    let last = service::scope_lists::last_activity(&ctx, &ids).await?;
    let names = &m.community_names;
    let rows: Vec<_> = list
        .iter()
        .map(|(o, f)| {
            minijinja::context! {
                id => o.id,
                name => o.name.clone(),
                community => names.get(&o.community_id).cloned().unwrap_or_default(),
                category => category_zh(&o.category),
                standing => standing_zh(&o.standing),
                grade => grades.get(&o.id).map(|(g, _)| g.as_str().to_owned()).unwrap_or_else(|| "—".into()),
                last => last.get(&o.id).map(|t| shanghai(*t)).unwrap_or_else(|| "—".into()),
                activities => f.activities,
                attended => f.attended,
                hours => f.hours(),
            }
        })
        .collect();
    let frame = Frame::new(&ctx, &signed, seat, "organizations").await?;
    page("organizations.html", minijinja::context! { frame, rows, q => needle })
}

/// `GET /console/organizations/{id}`: an organization's profile, history (as officials
/// see it through `organizations::detail`), its activities of the last year and the next
/// three months, with roster downloads where the caller may see them.
#[get("/organizations/{id}")]
async fn organization(ctx: web::Data<AppContext>, signed: Signed, id: web::Path<i64>) -> PageResult {
    let seat = signed.seat()?;
    let user = signed.user();
    let d = service::organizations::detail(&ctx, Some(user), id.into_inner()).await?;
    if !d.relation.official {
        return Err(PageError(AppError::Forbidden("outside your scope")));
    }
    let now = ctx.now();
    let items =
        service::scope_lists::calendar(&ctx, user, d.community.id, now - Duration::days(365), now + Duration::days(92))
            .await?;
    let activities: Vec<_> = items
        .into_iter()
        .filter(|i| i.activity.organization_id == d.org.id)
        .map(|i| {
            minijinja::context! {
                id => i.activity.id,
                title => i.activity.title,
                starts_at => shanghai(i.activity.starts_at),
                location => i.activity.location,
                confirmed => i.activity.confirmed_count,
                attended => i.attended,
            }
        })
        .collect();
    let history: Vec<_> = d
        .history
        .unwrap_or_default()
        .into_iter()
        .map(|e| {
            minijinja::context! {
                at => shanghai(e.created_at), action => super::queue::action_zh(&e.action), comment => e.comment,
            }
        })
        .collect();
    let frame = Frame::new(&ctx, &signed, seat, "organizations").await?;
    page(
        "organization.html",
        minijinja::context! {
            frame,
            org => minijinja::context! {
                id => d.org.id,
                name => d.org.name,
                category => category_zh(&d.org.category),
                standing => standing_zh(&d.org.standing),
                status => super::queue::org_status_zh(&d.org.status),
                description => d.org.description,
                contact => d.org.contact_name,
                phone => d.org.contact_phone,
                community => d.community.name,
                grade => d.grade.map(|(g, _)| g.as_str().to_owned()),
                abnormal_since => d.abnormal_since.map(shanghai),
                followers => d.followers,
            },
            activities,
            history,
        },
    )
}

#[derive(Deserialize)]
struct FormatQuery {
    format: Option<String>,
}

fn file_format(v: Option<&str>) -> Result<FileFormat, PageError> {
    match v.unwrap_or("xlsx") {
        "xlsx" => Ok(FileFormat::Xlsx),
        "csv" => Ok(FileFormat::Csv),
        _ => Err(PageError(AppError::invalid("format", "unknown_format", "format 须为 xlsx 或 csv"))),
    }
}

/// `GET /console/activities/{id}/roster?format=`: an activity's roster (名单), as
/// `GET /activities/{id}/signups/export` gives it to the officials over it.
#[get("/activities/{id}/roster")]
async fn roster(
    ctx: web::Data<AppContext>,
    signed: Signed,
    id: web::Path<i64>,
    q: web::Query<FormatQuery>,
) -> PageResult {
    signed.seat()?;
    let format = file_format(q.format.as_deref())?;
    Ok(file_response(service::exports::activity_roster(&ctx, signed.user(), id.into_inner(), format).await?))
}

#[derive(Deserialize)]
struct CalendarQuery {
    /// `week` (default) or `month`.
    view: Option<String>,
    /// A day in the week or month shown, `YYYY-MM-DD`; default today (Asia/Shanghai).
    date: Option<String>,
}

/// `GET /console/activities?view=week|month&date=`: the scope's activities day by day,
/// with places, sign-ups and attendance.
#[get("/activities")]
async fn calendar(ctx: web::Data<AppContext>, signed: Signed, q: web::Query<CalendarQuery>) -> PageResult {
    let seat = signed.seat()?;
    let today = to_shanghai(ctx.now()).date_naive();
    let day = match q.date.as_deref().filter(|d| !d.is_empty()) {
        None => today,
        // The one gate for dates (four-digit years): no arithmetic below can overflow.
        Some(d) => crate::domain::time::parse_date(d)
            .map_err(|_| PageError(AppError::invalid("date", "invalid", "日期须为 YYYY-MM-DD")))?,
    };
    let month = q.view.as_deref() == Some("month");
    let (start, end, prev, next) = if month {
        let start = day.with_day(1).unwrap_or(day);
        let end = start.checked_add_months(chrono::Months::new(1)).unwrap_or(start);
        let prev = start.checked_sub_months(chrono::Months::new(1)).unwrap_or(start);
        (start, end, prev, end)
    } else {
        let start = day - Duration::days(day.weekday().num_days_from_monday() as i64);
        (start, start + Duration::days(7), start - Duration::days(7), start + Duration::days(7))
    };
    let utc = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(cst()).single())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| ctx.now())
    };
    let items = service::scope_lists::calendar(&ctx, signed.user(), seat.region_id, utc(start), utc(end)).await?;
    let mut days: Vec<(NaiveDate, Vec<minijinja::Value>)> = Vec::new();
    let mut d = start;
    while d < end {
        days.push((d, Vec::new()));
        d += Duration::days(1);
    }
    for i in items {
        let local = to_shanghai(i.activity.starts_at);
        if let Some((_, list)) = days.iter_mut().find(|(d, _)| *d == local.date_naive()) {
            list.push(minijinja::context! {
                id => i.activity.id,
                time => format!("{}–{}", local.format("%H:%M"), to_shanghai(i.activity.ends_at).format("%H:%M")),
                title => i.activity.title,
                organization => i.organization_name,
                location => i.activity.location,
                capacity => i.activity.capacity,
                confirmed => i.activity.confirmed_count,
                attended => i.attended,
            });
        }
    }
    const WEEKDAYS: [&str; 7] = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];
    let days: Vec<_> = days
        .into_iter()
        .map(|(d, items)| {
            minijinja::context! {
                date => d.format("%Y-%m-%d").to_string(),
                weekday => WEEKDAYS[d.weekday().num_days_from_monday() as usize],
                today => d == today,
                items,
            }
        })
        .collect();
    let frame = Frame::new(&ctx, &signed, seat, "activities").await?;
    page(
        "activities.html",
        minijinja::context! {
            frame,
            days,
            view => if month { "month" } else { "week" },
            title => if month { start.format("%Y 年 %m 月").to_string() } else {
                format!("{} 至 {}", start.format("%Y-%m-%d"), (end - Duration::days(1)).format("%Y-%m-%d"))
            },
            prev => prev.format("%Y-%m-%d").to_string(),
            next => next.format("%Y-%m-%d").to_string(),
            date => day.format("%Y-%m-%d").to_string(),
        },
    )
}

/// `GET /console/exports`: the period form for the participation workbook and CSV.
#[get("/exports")]
async fn exports(ctx: web::Data<AppContext>, signed: Signed) -> PageResult {
    let seat = signed.seat()?;
    let p = period(&ctx, &PeriodQuery { from: None, to: None })?;
    let frame = Frame::new(&ctx, &signed, seat, "exports").await?;
    page(
        "exports.html",
        minijinja::context! {
            frame,
            from => to_shanghai(p.from).format("%Y-%m-%d").to_string(),
            to => to_shanghai(p.to).format("%Y-%m-%d").to_string(),
        },
    )
}

#[derive(Deserialize)]
struct DownloadQuery {
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
}

/// `GET /console/exports/download?from=&to=&format=xlsx|csv`: the region's figures as
/// `GET /regions/{id}/metrics/export` gives them (`exports::region_metrics`).
#[get("/exports/download")]
async fn download(ctx: web::Data<AppContext>, signed: Signed, q: web::Query<DownloadQuery>) -> PageResult {
    let seat = signed.seat()?;
    let form = PeriodForm { from: q.from.clone(), to: q.to.clone() };
    let p = period(&ctx, &form.query())?;
    let format = file_format(q.format.as_deref())?;
    Ok(file_response(service::exports::region_metrics(&ctx, signed.user(), seat.region_id, p, format).await?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_blocks_cannot_close_their_element() {
        let v = serde_json::json!({"name": "</script><b>&"});
        let text = super::json_block(&v).to_string();
        assert!(!text.contains('<') && !text.contains('>') && !text.contains('&'), "{text}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).ok(), Some(v));
    }
}
