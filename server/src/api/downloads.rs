//! Signed download links: `POST /downloads` answers a URL valid for a few minutes;
//! `GET /downloads/file?…` opens it without an `Authorization` header.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    api::{
        exports::{file_response, parse_format},
        reports::{PeriodQuery, period},
        types::time,
    },
    auth::AuthUser,
    context::AppContext,
    domain::download::{DownloadKind, File, FileFormat, LinkClaims},
    error::{AppError, AppResult, Problem},
    service::{self, downloads::LinkRequest},
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(create).service(open);
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"kind": "activity_roster", "id": 42, "format": "xlsx"}))]
pub struct DownloadRequest {
    pub kind: DownloadKind,
    /// The region (`region_metrics`), the caller's own user id (`participation_record`),
    /// the activity (`activity_roster`) or the organization (`organization_metrics`).
    pub id: i64,
    /// `xlsx` (default) or `csv`; `html` (the default and only one) for
    /// `participation_record`.
    pub format: Option<FileFormat>,
    /// For the figures: the period's start (`YYYY-MM-DD` or RFC 3339), as on the
    /// figures' own endpoints.
    pub from: Option<String>,
    /// For the figures: the period's end, exclusive.
    pub to: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DownloadLinkResponse {
    /// The link to open in a browser (built from the host the request came to).
    pub url: String,
    /// The same link as a path on this API's host.
    pub path: String,
    pub expires_at: DateTime<FixedOffset>,
}

/// A short-lived link to a file the caller may download, which opens without an
/// `Authorization` header (in a PC's browser, or forwarded). The permission is checked
/// now and again when the link is opened, for the user the link names.
#[utoipa::path(post, path = "/api/v1/downloads", operation_id = "createDownloadLink", tag = "reports",
    request_body = DownloadRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = DownloadLinkResponse),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "the caller may not have this file"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/downloads")]
pub async fn create(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    req: HttpRequest,
    body: web::Json<DownloadRequest>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let format = parse_format(body.kind, body.format.map(FileFormat::as_str))?;
    let figures = matches!(body.kind, DownloadKind::RegionMetrics | DownloadKind::OrganizationMetrics);
    let (from, to) = if figures { (body.from, body.to) } else { (None, None) };
    // The period is checked now, so a link never carries one the file would refuse.
    period(&ctx, &PeriodQuery { from: from.clone(), to: to.clone() })?;
    let link =
        service::downloads::create(&ctx, &user, LinkRequest { kind: body.kind, id: body.id, format, from, to }).await?;
    let path = format!("/api/v1/downloads/file?{}", link.query);
    let info = req.connection_info();
    let url = format!("{}://{}{path}", info.scheme(), info.host());
    Ok(HttpResponse::Created().json(DownloadLinkResponse { url, path, expires_at: time(link.expires_at) }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkQuery {
    /// The user the link was made for.
    pub user: Option<i64>,
    pub tv: Option<i32>,
    #[param(value_type = Option<DownloadKind>)]
    pub kind: Option<String>,
    pub id: Option<i64>,
    #[param(value_type = Option<FileFormat>)]
    pub format: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Unix seconds.
    pub expires: Option<i64>,
    /// HMAC-SHA256, hex.
    pub sig: Option<String>,
}

impl LinkQuery {
    fn claims(self) -> Option<(LinkClaims, String)> {
        let claims = LinkClaims {
            user_id: self.user?,
            token_version: self.tv?,
            kind: DownloadKind::parse(self.kind.as_deref()?)?,
            id: self.id?,
            format: FileFormat::parse(self.format.as_deref()?)?,
            from: self.from,
            to: self.to,
            expires: self.expires?,
        };
        Some((claims, self.sig?))
    }
}

/// Opens a link made by `POST /downloads`: the file, built for the user the link names
/// as they are now.
#[utoipa::path(get, path = "/api/v1/downloads/file", operation_id = "openDownloadLink", tag = "reports",
    params(LinkQuery),
    responses(
        (status = 200, description = "The file: a workbook or UTF-8 CSV as an attachment, or the printable record.",
            content(
                (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                (String = "text/csv"),
                (String = "text/html"),
            )),
        (status = 403, body = Problem, content_type = "application/problem+json",
            description = "`link_invalid` (altered, or its user signed out everywhere), or `forbidden` (the user lost the permission)"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 410, body = Problem, content_type = "application/problem+json", description = "`link_expired`"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/downloads/file")]
pub async fn open(ctx: web::Data<AppContext>, query: web::Query<LinkQuery>) -> AppResult<HttpResponse> {
    let (claims, sig) = query.into_inner().claims().ok_or(AppError::LinkInvalid)?;
    let user = service::downloads::open(&ctx, &claims, &sig).await?;
    let period = || period(&ctx, &PeriodQuery { from: claims.from.clone(), to: claims.to.clone() });
    let file = match claims.kind {
        DownloadKind::RegionMetrics => {
            service::exports::region_metrics(&ctx, &user, claims.id, period()?, claims.format).await?
        }
        DownloadKind::OrganizationMetrics => {
            service::exports::organization_metrics(&ctx, &user, claims.id, period()?, claims.format).await?
        }
        DownloadKind::ActivityRoster => {
            service::exports::activity_roster(&ctx, &user, claims.id, claims.format).await?
        }
        DownloadKind::ParticipationRecord => {
            service::downloads::authorize(&ctx, &user, claims.kind, claims.id).await?;
            let page = crate::api::attendance::record_page(&ctx, &user).await?;
            File { stem: format!("record-{}", user.id), format: FileFormat::Html, bytes: page.into_bytes() }
        }
    };
    Ok(file_response(file))
}
