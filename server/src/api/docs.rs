//! The OpenAPI document, generated from the handlers and types. The committed copy in
//! `openapi/openapi.json` is checked against it by a test.

use actix_web::{HttpResponse, get};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use crate::api;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Linli (邻里) API",
        description = "The backend of a WeChat mini-program for community social organizations: \
            residents browse organizations and activities near home and sign up; organizers post \
            and check people in; committees and street offices file organizations and see \
            participation.\n\nErrors are `application/problem+json` (RFC 9457) with a stable \
            `code`; `detail` is zh-CN unless `Accept-Language: en`. Times are RFC 3339 in \
            Asia/Shanghai. Lists use cursor pagination: `{items, next_cursor}`.",
        license(name = "MIT"),
    ),
    paths(
        api::health::healthz,
        api::health::readyz,
        api::auth::login,
        api::auth::refresh,
        api::auth::logout,
        api::me::get_me,
        api::me::update_me,
        api::me::delete_me,
        api::regions::list_regions,
        api::regions::get_region,
        api::admin::create_grant,
        api::admin::list_grants,
        api::admin::delete_grant,
        api::organizations::browse,
        api::organizations::create,
        api::organizations::get_one,
        api::organizations::update,
        api::organizations::review,
        api::organizations::resubmit,
        api::organizations::change_status,
        api::organizations::register,
        api::organizations::review_queue,
        api::organizations::list_staff,
        api::organizations::add_staff,
        api::organizations::remove_staff,
        api::organizations::transfer_leader,
        api::organizations::follow,
        api::organizations::unfollow,
        api::organizations::my_follows,
        api::organizations::my_organizations,
        api::activities::create,
        api::activities::browse,
        api::activities::get_one,
        api::activities::update,
        api::activities::publish,
        api::activities::moderation,
        api::activities::cancel,
        api::activities::sign_up,
        api::activities::cancel_signup,
        api::activities::roster,
        api::activities::remove_signup,
        api::activities::my_signups,
        api::notifications::list,
        api::notifications::read_one,
        api::notifications::read_all,
        api::subscriptions::record,
        api::subscriptions::list,
        api::subscriptions::phone,
        api::attendance::my_code,
        api::attendance::activity_code,
        api::attendance::record,
        api::attendance::self_check,
        api::attendance::batch,
        api::attendance::walk_in,
        api::attendance::list,
        api::attendance::finish,
        api::attendance::correct,
        api::attendance::corrections,
        api::attendance::participation,
        api::attendance::service_record,
        api::reports::region_metrics,
        api::reports::export,
        api::reports::organization_metrics,
        api::venues::create,
        api::venues::browse,
        api::venues::get_one,
        api::venues::update,
        api::venues::availability,
        api::venues::request_booking,
        api::venues::review_queue,
        api::venues::get_booking,
        api::venues::review_booking,
        api::venues::cancel_booking,
        api::venues::add_closure,
    ),
    components(schemas(crate::error::Problem, crate::error::FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Sign in with WeChat, tokens"),
        (name = "me", description = "The signed-in user"),
        (name = "regions", description = "The administrative region tree"),
        (name = "organizations", description = "Community social organizations: filing, profiles, staff, browse"),
        (name = "activities", description = "Activities, sign-ups, waitlists and rosters"),
        (name = "attendance", description = "Check-in, closing, service hours, a resident's record"),
        (name = "venues", description = "Shared rooms (一室多用): venues, free/busy, bookings and their approval"),
        (name = "reports", description = "Participation figures for committees, streets and civil affairs"),
        (name = "admin", description = "Roles and scopes"),
        (name = "ops", description = "Probes"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// The spec as committed: pretty JSON with a trailing newline.
pub fn spec_json() -> String {
    let mut json = ApiDoc::openapi().to_pretty_json().unwrap_or_default();
    json.push('\n');
    json
}

/// The OpenAPI 3.1 document.
#[get("/openapi.json")]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(spec_json())
}
