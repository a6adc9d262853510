//! Leaders' downloads: an activity's roster and an organization's figures, as xlsx or
//! CSV. (The region figures' export is in `reports`; signed links in `downloads`.)

use actix_web::{HttpResponse, get, web};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{
    api::reports::{PeriodQuery, period},
    auth::AuthUser,
    context::AppContext,
    domain::download::{DownloadKind, File, FileFormat},
    error::{AppError, AppResult, Problem},
    service,
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(roster).service(organization_metrics);
}

/// The format a kind is asked for in: its first format when none is given.
pub fn parse_format(kind: DownloadKind, value: Option<&str>) -> AppResult<FileFormat> {
    let formats = kind.formats();
    match value {
        None => Ok(formats[0]),
        Some(v) => FileFormat::parse(v).filter(|f| formats.contains(f)).ok_or_else(|| {
            let list = formats.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(" 或 ");
            AppError::invalid("format", "unknown_format", format!("format 须为 {list}"))
        }),
    }
}

/// A file as an attachment (a page inline), named `{stem}.{format}`.
pub fn file_response(file: File) -> HttpResponse {
    let disposition = match file.format {
        FileFormat::Html => "inline".to_owned(),
        f => format!("attachment; filename=\"{}.{}\"", file.stem, f.as_str()),
    };
    HttpResponse::Ok()
        .content_type(file.format.content_type())
        .insert_header(("content-disposition", disposition))
        .insert_header(("cache-control", "private, no-store"))
        .body(file.bytes)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// `xlsx` (default) or `csv`.
    #[param(value_type = Option<crate::api::reports::ExportFormat>)]
    pub format: Option<String>,
}

/// The roster to print or keep: every sign-up with its status, check-in and check-out
/// times, credited hours and no-shows (phones masked), for the organization's staff and
/// the officials over the activity's community.
#[utoipa::path(get, path = "/api/v1/activities/{id}/signups/export", operation_id = "exportActivityRoster", tag = "activities",
    params(("id" = i64, Path), FormatQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The workbook (`format=xlsx`, the default) or UTF-8 CSV with a BOM \
            (`format=csv`), as an attachment.",
            headers(("content-disposition" = String, description = "`attachment; filename=\"roster-{id}.xlsx\"`")),
            content(
                (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                (String = "text/csv"),
            )),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "not staff of the organization nor an official over the community"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/activities/{id}/signups/export")]
pub async fn roster(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    query: web::Query<FormatQuery>,
) -> AppResult<HttpResponse> {
    let format = parse_format(DownloadKind::ActivityRoster, query.format.as_deref())?;
    let file = service::exports::activity_roster(&ctx, &user, id.into_inner(), format).await?;
    Ok(file_response(file))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FiguresExportQuery {
    /// `xlsx` (default) or `csv`.
    #[param(value_type = Option<crate::api::reports::ExportFormat>)]
    pub format: Option<String>,
    /// `YYYY-MM-DD` (Asia/Shanghai) or RFC 3339; default 1 January of this year.
    pub from: Option<String>,
    /// Exclusive; default now.
    pub to: Option<String>,
}

/// The organization's figures month by month with a total line, for its staff and the
/// officials over it.
#[utoipa::path(get, path = "/api/v1/organizations/{id}/metrics/export", operation_id = "exportOrganizationMetrics", tag = "reports",
    params(("id" = i64, Path), FiguresExportQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The workbook (`format=xlsx`, the default) or UTF-8 CSV with a BOM \
            (`format=csv`), as an attachment.",
            headers(("content-disposition" = String, description = "`attachment; filename=\"organization-{id}-{first day}-{last day}.xlsx\"` (days as `YYYYMMDD`, both included)")),
            content(
                (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                (String = "text/csv"),
            )),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "not staff of the organization nor an official over it"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/organizations/{id}/metrics/export")]
pub async fn organization_metrics(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    query: web::Query<FiguresExportQuery>,
) -> AppResult<HttpResponse> {
    let query = query.into_inner();
    let format = parse_format(DownloadKind::OrganizationMetrics, query.format.as_deref())?;
    let period = period(&ctx, &PeriodQuery { from: query.from, to: query.to })?;
    let file = service::exports::organization_metrics(&ctx, &user, id.into_inner(), period, format).await?;
    Ok(file_response(file))
}
