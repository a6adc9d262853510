//! `/regions`: the administrative tree, public.

use actix_web::{get, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    api::types::RegionResponse,
    context::AppContext,
    domain::pagination::{Page, PageQuery, page_by_id},
    error::{AppResult, Problem},
    service,
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list_regions).service(get_region);
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegionListQuery {
    /// The parent region; omit for the top of the tree.
    pub parent_id: Option<i64>,
    /// Opaque cursor from `next_cursor`.
    pub cursor: Option<String>,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegionDetail {
    #[serde(flatten)]
    pub region: RegionResponse,
    /// From the province down to the parent.
    pub ancestors: Vec<RegionResponse>,
}

/// The children of a region, or the top-level regions.
#[utoipa::path(get, path = "/api/v1/regions", operation_id = "listRegions", tag = "regions", params(RegionListQuery),
    responses(
        (status = 200, body = Page<RegionResponse>),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "`not_found`: no such parent"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "`validation_failed`: bad limit or cursor"),
    ))]
#[get("/regions")]
pub async fn list_regions(
    ctx: web::Data<AppContext>,
    query: web::Query<RegionListQuery>,
) -> AppResult<web::Json<Page<RegionResponse>>> {
    let query = query.into_inner();
    let page = PageQuery { cursor: query.cursor, limit: query.limit };
    let limit = page.limit()?;
    let rows = service::regions::children(&ctx.db, query.parent_id, page.after_id()?, limit).await?;
    Ok(web::Json(page_by_id(rows, limit, |r| r.id, RegionResponse::from)))
}

/// One region, with its ancestors.
#[utoipa::path(get, path = "/api/v1/regions/{id}", operation_id = "getRegion", tag = "regions", params(("id" = i64, Path)),
    responses(
        (status = 200, body = RegionDetail),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/regions/{id}")]
pub async fn get_region(ctx: web::Data<AppContext>, id: web::Path<i64>) -> AppResult<web::Json<RegionDetail>> {
    let region = service::regions::get(&ctx.db, id.into_inner()).await?;
    let ancestors = service::regions::ancestors(&ctx.db, &region).await?;
    Ok(web::Json(RegionDetail { region: region.into(), ancestors: ancestors.into_iter().map(Into::into).collect() }))
}
