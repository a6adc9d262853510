//! The console's static files, embedded in the binary. ECharts is also embedded gzipped
//! (made by `server/console/vendor.sh`) and sent so to browsers that accept gzip.

use actix_web::{HttpRequest, HttpResponse, get, http::header, web};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(asset);
}

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    gzipped: Option<&'static [u8]>,
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "console.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../console/static/console.css"),
        gzipped: None,
    },
    Asset {
        name: "console.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../console/static/console.js"),
        gzipped: None,
    },
    Asset {
        name: "echarts.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../console/static/vendor/echarts/echarts.min.js"),
        gzipped: Some(include_bytes!("../../console/static/vendor/echarts/echarts.min.js.gz")),
    },
];

/// `GET /console/static/{name}`: cached for a day (the names do not change within a
/// release, and a release restarts the server).
#[get("/static/{name}")]
async fn asset(req: HttpRequest, name: web::Path<String>) -> HttpResponse {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name.as_str()) else {
        return HttpResponse::NotFound()
            .content_type("text/html; charset=utf-8")
            .body("<!doctype html><title>404</title>");
    };
    // Negotiated with the header's quality values (RFC 9110 §12.5.3): `gzip;q=0` refuses it.
    use actix_web::http::header::{AcceptEncoding, Encoding, Header};
    let accepts_gzip = AcceptEncoding::parse(&req)
        .ok()
        .and_then(|a| a.negotiate([Encoding::gzip(), Encoding::identity()].iter()))
        .is_some_and(|e| e == Encoding::gzip());
    let mut res = HttpResponse::Ok();
    res.content_type(asset.content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .insert_header((header::VARY, "Accept-Encoding"));
    match asset.gzipped {
        Some(gz) if accepts_gzip => res.insert_header((header::CONTENT_ENCODING, "gzip")).body(gz),
        _ => res.body(asset.bytes),
    }
}
