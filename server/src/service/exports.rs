//! Files to download: an activity's roster and an organization's figures (for its
//! leaders and staff and the officials over it), and the region figures' workbook. Each
//! checks its permission first, so the signed links (`service::downloads`) reach the
//! same check. Tables go through the region export's writers (`reports::csv_document`,
//! `reports::xlsx_document`), so headers, the BOM and the formula guard are one code.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::{
    auth::AuthUser,
    context::AppContext,
    domain::{
        activity::SignupStatus,
        clock::to_shanghai,
        download::{File, FileFormat},
        organization::mask_phone,
    },
    entity::{activity, attendance, signup, user},
    error::{AppError, AppResult},
    service::{
        activities::{require_roster_view, signup_status},
        reports::{self, Cell, Period, Sheet, csv_document, percent, xlsx_document},
    },
};

/// A sign-up's status as the roster prints it.
pub fn status_zh(s: SignupStatus) -> &'static str {
    match s {
        SignupStatus::Confirmed => "已确认",
        SignupStatus::Waitlisted => "候补",
        SignupStatus::Cancelled => "已取消",
        SignupStatus::Removed => "已移除",
        SignupStatus::Attended => "已到场",
        SignupStatus::NoShow => "爽约",
    }
}

fn stamp(t: Option<chrono::DateTime<chrono::Utc>>) -> Cell {
    Cell::text(t.map(|t| to_shanghai(t).format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default())
}

fn hours(minutes: i64) -> f64 {
    (minutes as f64 / 60.0 * 100.0).round() / 100.0
}

fn build(
    format: FileFormat,
    stem: String,
    headers: &[&str],
    sheet: &str,
    title: String,
    rows: Vec<Vec<Cell>>,
) -> AppResult<File> {
    let bytes = match format {
        FileFormat::Csv => csv_document(headers, &rows),
        FileFormat::Xlsx => xlsx_document(&[Sheet { name: sheet, title: Some(title), headers, rows }])?,
        FileFormat::Html => return Err(AppError::invalid("format", "unknown_format", "format 须为 xlsx 或 csv")),
    };
    Ok(File { stem, format, bytes })
}

const ROSTER_HEADERS: [&str; 10] =
    ["序号", "用户编号", "昵称", "手机号", "报名状态", "报名时间", "签到时间", "签退时间", "服务时长(小时)", "爽约"];

/// An activity's roster: every sign-up in sign-up order with its status, check-in and
/// check-out times, credited hours and whether it was a no-show. Phones are masked
/// (`138****5678`) for everyone, as on the organization's profile.
pub async fn activity_roster(ctx: &AppContext, user: &AuthUser, id: i64, format: FileFormat) -> AppResult<File> {
    let a = activity::Entity::find_by_id(id).one(&ctx.db).await?.ok_or(AppError::NotFound("activity"))?;
    require_roster_view(&ctx.db, user, &a).await?;
    let signups = signup::Entity::find()
        .filter(signup::Column::ActivityId.eq(id))
        .order_by_asc(signup::Column::Seq)
        .all(&ctx.db)
        .await?;
    let people: HashMap<i64, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(signups.iter().map(|s| s.user_id).collect::<Vec<_>>()))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let present: HashMap<i64, attendance::Model> = attendance::Entity::find()
        .filter(attendance::Column::ActivityId.eq(id))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|r| (r.user_id, r))
        .collect();
    let rows = signups
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let person = people.get(&s.user_id);
            let record = present.get(&s.user_id);
            let status = signup_status(s);
            vec![
                Cell::Number((i + 1) as f64),
                Cell::Number(s.user_id as f64),
                Cell::text(person.and_then(|p| p.nickname.clone()).unwrap_or_default()),
                Cell::text(person.and_then(|p| p.phone.as_deref()).map(mask_phone).unwrap_or_default()),
                Cell::text(status_zh(status)),
                stamp(Some(s.created_at)),
                stamp(record.map(|r| r.checked_in_at)),
                stamp(record.and_then(|r| r.checked_out_at)),
                record
                    .and_then(|r| r.credited_minutes)
                    .map(|m| Cell::Number(hours(i64::from(m))))
                    .unwrap_or_else(|| Cell::text("")),
                Cell::text(if status == SignupStatus::NoShow { "是" } else { "" }),
            ]
        })
        .collect();
    let title = format!(
        "{} 报名与签到名单（{}，导出于 {}）",
        a.title,
        to_shanghai(a.starts_at).format("%Y-%m-%d %H:%M"),
        to_shanghai(ctx.now()).format("%Y-%m-%d %H:%M")
    );
    build(format, format!("roster-{id}"), &ROSTER_HEADERS, "名单", title, rows)
}

const ORGANIZATION_HEADERS: [&str; 9] =
    ["月份", "活动场次", "报名人次", "到场人次", "爽约人次", "到场率", "爽约率", "参与居民", "志愿服务时长(小时)"];

/// An organization's figures month by month with a total line: for its staff and the
/// officials over it (`reports::organization_metrics` checks).
pub async fn organization_metrics(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    period: Period,
    format: FileFormat,
) -> AppResult<File> {
    let m = reports::organization_metrics(ctx, user, id, period).await?;
    let line = |label: String, f: &reports::Figures, participants: Cell| {
        vec![
            Cell::Text(label),
            Cell::Number(f.activities as f64),
            Cell::Number(f.signups as f64),
            Cell::Number(f.attended as f64),
            Cell::Number(f.no_shows as f64),
            Cell::Text(percent(f.attendance_rate())),
            Cell::Text(percent(f.no_show_rate())),
            participants,
            Cell::Number(f.hours()),
        ]
    };
    // Distinct participants are counted over the whole period only.
    let mut rows: Vec<Vec<Cell>> =
        m.monthly.iter().map(|mo| line(mo.month.clone(), &mo.figures, Cell::text(""))).collect();
    rows.push(line("合计".into(), &m.figures, Cell::Number(m.figures.participants as f64)));
    let title = format!("{} 活动情况（{}）", m.organization.name, m.period.label());
    let stem = format!("organization-{id}-{}", m.period.file_stem());
    build(format, stem, &ORGANIZATION_HEADERS, "汇总", title, rows)
}

/// The region figures' workbook or CSV (`GET /regions/{id}/metrics/export`).
pub async fn region_metrics(
    ctx: &AppContext,
    user: &AuthUser,
    id: i64,
    period: Period,
    format: FileFormat,
) -> AppResult<File> {
    let m = reports::region_metrics(ctx, user, id, period, reports::Detail::Organizations).await?;
    let stem = format!("participation-{}-{}", m.region.code, m.period.file_stem());
    let bytes = match format {
        FileFormat::Csv => reports::export_csv(&m),
        FileFormat::Xlsx => reports::export_xlsx(&m)?,
        FileFormat::Html => return Err(AppError::invalid("format", "unknown_format", "format 须为 xlsx 或 csv")),
    };
    Ok(File { stem, format, bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_a_label_and_hours_round_to_cents() {
        for s in SignupStatus::ALL {
            assert!(!status_zh(*s).is_empty());
        }
        assert_eq!(hours(110), 1.83);
        assert_eq!(hours(120), 2.0);
    }
}
