//! The OpenAPI document, generated from the handlers and types. The committed copy in
//! `openapi/openapi.json` is checked against it by a test.
//!
//! utoipa writes what the attributes say; [`complete`] is the one step after it, adding
//! what holds for every operation alike and what utoipa cannot express (see its doc).
//! Nothing in `openapi/openapi.json` is edited by hand.

use std::collections::BTreeSet;

use actix_web::{HttpResponse, get};
use serde_json::{Map, Value, json};
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
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(
        api::health::healthz,
        api::health::readyz,
        api::auth::login,
        api::auth::refresh,
        api::auth::logout,
        api::console::inspect,
        api::console::approve,
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
        api::funding::list_calls,
        api::funding::create_call,
        api::funding::get_call,
        api::funding::update_call,
        api::funding::open_call,
        api::funding::add_reviewer,
        api::funding::decide_call,
        api::funding::call_applications,
        api::funding::create_application,
        api::funding::get_application,
        api::funding::update_application,
        api::funding::submit_application,
        api::funding::withdraw_application,
        api::funding::declare_conflict,
        api::funding::score_application,
        api::funding::decide_application,
        api::projects::get_project,
        api::projects::org_projects,
        api::projects::sign,
        api::projects::tag_activity,
        api::projects::exclude_activity,
        api::projects::progress,
        api::projects::request_amendment,
        api::projects::decide_amendment,
        api::projects::report_milestone,
        api::projects::review_milestone,
        api::projects::pay_tranche,
        api::projects::evaluate,
        api::projects::report,
        api::ratings::list_schemes,
        api::ratings::get_scheme,
        api::ratings::copy_scheme,
        api::ratings::update_scheme,
        api::ratings::publish_scheme,
        api::ratings::list_assessors,
        api::ratings::add_assessor,
        api::ratings::remove_assessor,
        api::ratings::eligibility,
        api::ratings::open_assessment,
        api::ratings::my_assessments,
        api::ratings::region_assessments,
        api::ratings::rating_notices,
        api::ratings::get_assessment,
        api::ratings::score_assessment,
        api::ratings::finalize_assessment,
        api::ratings::appeal_assessment,
        api::ratings::decide_appeal,
        api::ratings::withdraw_assessment,
        api::ratings::rate_satisfaction,
        api::ratings::get_satisfaction,
        api::oversight::list_reports,
        api::oversight::get_report,
        api::oversight::put_report,
        api::oversight::submit_report,
        api::oversight::review_report,
        api::oversight::region_reports,
        api::oversight::region_abnormal,
        api::oversight::add_abnormal,
        api::oversight::clear_abnormal,
        api::oversight::list_inspectors,
        api::oversight::add_inspector,
        api::oversight::remove_inspector,
        api::oversight::create_draw,
        api::oversight::get_draw,
        api::oversight::get_check,
        api::oversight::record_findings,
        api::oversight::answer_check,
        api::oversight::close_check,
        api::oversight::add_certificate,
        api::oversight::list_certificates,
        api::oversight::review_certificate,
        api::invitations::create,
        api::invitations::list,
        api::invitations::preview,
        api::invitations::accept,
        api::invitations::revoke,
        api::invitations::lookup,
        api::venues::create,
        api::venues::browse,
        api::venues::get_one,
        api::venues::update,
        api::venues::availability,
        api::venues::request_booking,
        api::venues::add_closure,
        api::venue_bookings::review_queue,
        api::venue_bookings::org_bookings,
        api::venue_bookings::get_booking,
        api::venue_bookings::review_booking,
        api::venue_bookings::cancel_booking,
        api::venue_bookings::request_series,
        api::venue_bookings::get_series,
        api::venue_bookings::review_series,
        api::venue_bookings::cancel_series,
        api::series::create,
        api::series::list,
        api::series::get_one,
        api::series::edit,
        api::series::cancel,
        api::series::ask,
        api::series::list_regulars,
        api::series::pause,
        api::series::resume,
        api::series::leave,
        api::series::decide,
        api::series::remove,
        api::exports::roster,
        api::exports::organization_metrics,
        api::downloads::create,
        api::downloads::open,
        api::calendar::create,
        api::calendar::remove,
        api::calendar::feed,
        api::time_bank::create_bank,
        api::time_bank::list_banks,
        api::time_bank::get_bank,
        api::time_bank::update_bank,
        api::time_bank::join,
        api::time_bank::members,
        api::time_bank::review_member,
        api::time_bank::create_listing,
        api::time_bank::list_listings,
        api::time_bank::close_listing,
        api::time_bank::propose,
        api::time_bank::my_agreements,
        api::time_bank::accept,
        api::time_bank::cancel,
        api::time_bank::confirm,
        api::time_bank::reverse,
        api::time_bank::statement,
        api::time_bank::statement_page,
        api::time_bank::mark_activity,
        api::offline_residents::register,
        api::offline_residents::list,
        api::offline_residents::detail,
        api::offline_residents::reissue_card,
        api::offline_residents::revoke_card,
        api::offline_residents::claim,
        api::offline_residents::participation,
        api::offline_residents::erase,
        api::proxies::create_link,
        api::proxies::list_links,
        api::proxies::revoke_link,
        api::proxies::my_principals,
        api::proxies::acts,
        api::proxies::sign_up,
        api::proxies::cancel,
        api::proxies::signups,
        api::proxies::waive_no_show,
        api::hubs::mark,
        api::hubs::list,
        api::hubs::get_one,
        api::hubs::request_membership,
        api::hubs::list_members,
        api::hubs::decide_membership,
        api::hubs::leave,
        api::hubs::add_staff,
        api::incubation::open_base,
        api::incubation::get_base,
        api::incubation::admit,
        api::incubation::get_one,
        api::incubation::assign_mentor,
        api::incubation::record,
        api::incubation::decide,
    ),
    components(schemas(
        crate::error::Problem,
        crate::error::FieldError,
        // Referenced by query parameters only, which utoipa does not collect.
        api::activities::SignupWindow,
        api::attendance::RecordFormat,
        api::reports::ExportFormat,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Sign in with WeChat, tokens"),
        (name = "me", description = "The signed-in user"),
        (name = "console", description = "Signing a PC browser in to the web console by scan (扫码登录)"),
        (name = "regions", description = "The administrative region tree"),
        (name = "organizations", description = "Community social organizations: filing, profiles, staff, browse"),
        (name = "activities", description = "Activities, sign-ups, waitlists and rosters"),
        (name = "attendance", description = "Check-in, closing, service hours, a resident's record"),
        (name = "venues", description = "Shared rooms (一室多用): venues, free/busy, bookings and their approval"),
        (name = "reports", description = "Participation figures for committees, streets and civil affairs"),
        (name = "oversight", description = "Annual reports (年报), the abnormal list (活动异常名录), random checks (双随机), social-work certificates"),
        (name = "funding", description = "Funding calls (申报通知), applications, review, decisions; funded projects with evidence from attendance, milestones, tranches, evaluations"),
        (name = "ratings", description = "Ratings (等级评估): schemes as data, assessors, assessments with public notice (公示) and one appeal, residents' satisfaction"),
        (name = "invitations", description = "Invitations to a role, and finding a person by the phone they bound"),
        (name = "calendar", description = "A resident's private calendar feed (iCalendar)"),
        (name = "proxies", description = "Signing up on behalf of someone (代报名): offline residents and their cards, proxy links, acts on a principal's behalf"),
        (name = "time-bank", description = "The time bank (时间银行): mutual-aid time in minutes, a ledger apart from service hours"),
        (name = "hubs", description = "Hub organizations (枢纽型组织): a street's or community's hub, its members (request and accept) and its staff"),
        (name = "incubation", description = "Incubation (孵化): bases, start-up groups, mentors, sessions and milestones, graduation into filing"),
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

/// The spec as served and committed: utoipa's document, completed.
pub fn spec() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    complete(&mut doc);
    doc
}

/// The spec as committed: pretty JSON with a trailing newline.
pub fn spec_json() -> String {
    let mut json = serde_json::to_string_pretty(&spec()).unwrap_or_default();
    json.push('\n');
    json
}

/// The OpenAPI 3.1 document.
#[get("/openapi.json")]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(spec_json())
}

const PROBLEM_JSON: &str = "application/problem+json";

/// The problem responses every operation shares, by status, as `components.responses`:
/// (status, component name, description).
const SHARED: &[(&str, &str, &str)] = &[
    ("400", "BadRequest", "`invalid_json`: the body is not JSON."),
    (
        "401",
        "Unauthenticated",
        "`unauthenticated` (no token), `invalid_token`, `token_expired` (refresh the token and \
         try again once).",
    ),
    ("404", "NotFound", "`not_found`: no such resource, or not visible to the caller."),
    ("413", "PayloadTooLarge", "`payload_too_large`: the body is larger than `MAX_BODY_BYTES`."),
    ("415", "UnsupportedMediaType", "`unsupported_media_type`: the body is not `application/json`."),
    (
        "422",
        "ValidationFailed",
        "`validation_failed`: a field of the body or query is invalid; `errors` names each one.",
    ),
    ("429", "RateLimited", "`rate_limited`: too many requests; wait `Retry-After` seconds."),
    (
        "503",
        "ServiceUnavailable",
        "`service_unavailable`: the database is unreachable or the request took too long; try again.",
    ),
    (
        "default",
        "Problem",
        "Any other error, as `application/problem+json` (`internal_error` for 500, never with its cause).",
    ),
];

/// Completes utoipa's document, in one pass that is the same for every operation:
///
/// - `servers`: the origin the document was fetched from, and the dev server;
/// - `security: []` on public operations (utoipa leaves the key out);
/// - responses every operation can get, as shared problem responses: 401 when it takes a
///   bearer token, 400/413/415/422 when it reads a JSON body, 422 when it has query
///   parameters, 404 when it has path parameters, 429 and 503 always, and a `default`;
/// - a description on every response (OpenAPI requires one; utoipa omits an empty one);
/// - `required` on every property of a response schema that is always sent, nullable or
///   not (utoipa makes every `Option` optional; fields left out when empty are declared
///   `nullable = false` at their type, so a nullable property is one always sent);
/// - page item schemas by `$ref`, not inlined (utoipa inlines a generic's argument);
/// - `oneOf` for "exactly one of `user_id` and `checkin_code`" in attendance records, and
///   1–3 templates in subscription results (utoipa has no such keywords on a field).
pub fn complete(doc: &mut Value) {
    doc["servers"] = json!([
        {"url": "/", "description": "The server this document was fetched from"},
        {"url": "http://127.0.0.1:8080", "description": "`cargo run -p linli-server` (dev mode)"},
    ]);
    shared_responses(doc);
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            for op in item.as_object_mut().into_iter().flat_map(|m| m.values_mut()) {
                complete_operation(op);
            }
        }
    }
    if let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        page_items_by_ref(schemas);
    }
    let (in_responses, in_requests) = schema_uses(doc);
    if let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        for name in in_responses.difference(&in_requests) {
            if let Some(schema) = schemas.get_mut(name) {
                require_always_sent(schema);
            }
        }
        for name in ["AttendanceRequest", "OfflineRecordRequest"] {
            if let Some(schema) = schemas.get_mut(name) {
                schema["oneOf"] = json!([{"required": ["user_id"]}, {"required": ["checkin_code"]}]);
            }
        }
        if let Some(results) = schemas.get_mut("SubscriptionResults").and_then(|s| s.pointer_mut("/properties/results"))
        {
            results["minProperties"] = json!(1);
            results["maxProperties"] = json!(3);
        }
    }
}

fn problem_content() -> Value {
    json!({PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}})
}

fn shared_responses(doc: &mut Value) {
    let mut responses = Map::new();
    for (status, name, description) in SHARED {
        let mut response = json!({"description": description, "content": problem_content()});
        if *status == "429" {
            response["headers"] = json!({"Retry-After": {
                "description": "Seconds to wait before trying again.",
                "required": true,
                "schema": {"type": "integer", "minimum": 0},
            }});
        }
        responses.insert((*name).to_owned(), response);
    }
    doc["components"]["responses"] = Value::Object(responses);
}

fn complete_operation(op: &mut Value) {
    let secured = match op.get("security").and_then(Value::as_array) {
        None => {
            op["security"] = json!([]);
            false
        }
        Some(reqs) => reqs.iter().any(|r| r.get("bearer").is_some()),
    };
    let params = op.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
    let has_param = |place: &str| params.iter().any(|p| p["in"] == place);
    let mut statuses: Vec<&str> = vec!["429", "503", "default"];
    if secured {
        statuses.push("401");
    }
    if op.get("requestBody").is_some() {
        statuses.extend(["400", "413", "415", "422"]);
    }
    if has_param("query") {
        statuses.push("422");
    }
    if has_param("path") {
        statuses.push("404");
    }
    let Some(responses) = op["responses"].as_object_mut() else { return };
    for status in statuses {
        if let Some((_, name, _)) = SHARED.iter().find(|(s, _, _)| *s == status) {
            responses
                .entry(status.to_owned())
                .or_insert_with(|| json!({"$ref": format!("#/components/responses/{name}")}));
        }
    }
    for (status, response) in responses.iter_mut() {
        if response.get("$ref").is_some() || response.get("description").is_some_and(|d| d != "") {
            continue;
        }
        match SHARED.iter().find(|(s, _, _)| s == status) {
            // A plain problem with nothing said about it: the shared response.
            Some((_, name, _)) if response.get("content") == Some(&problem_content()) => {
                *response = json!({"$ref": format!("#/components/responses/{name}")});
            }
            _ => response["description"] = Value::String(default_description(status)),
        }
    }
}

fn default_description(status: &str) -> String {
    if let Some((_, _, description)) = SHARED.iter().find(|(s, _, _)| *s == status) {
        return (*description).to_owned();
    }
    match status {
        "200" => "OK.",
        "201" => "Created.",
        "204" => "Done; no content.",
        "403" => "`forbidden`: the caller's roles do not cover this resource.",
        "409" => "The resource's state does not allow this request (see `code`).",
        _ => "See `code`.",
    }
    .to_owned()
}

/// Names of the component schemas reachable from responses and from requests
/// (bodies and parameters).
fn schema_uses(doc: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let schemas = doc.pointer("/components/schemas").and_then(Value::as_object);
    let mut in_responses = BTreeSet::new();
    let mut in_requests = BTreeSet::new();
    for item in doc["paths"].as_object().into_iter().flat_map(|m| m.values()) {
        for op in item.as_object().into_iter().flat_map(|m| m.values()) {
            collect_refs(&op["responses"], schemas, &mut in_responses);
            collect_refs(&op["requestBody"], schemas, &mut in_requests);
            collect_refs(&op["parameters"], schemas, &mut in_requests);
        }
    }
    (in_responses, in_requests)
}

fn collect_refs(value: &Value, schemas: Option<&Map<String, Value>>, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(name) =
                map.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/components/schemas/"))
                && out.insert(name.to_owned())
                && let Some(target) = schemas.and_then(|s| s.get(name))
            {
                collect_refs(target, schemas, out);
            }
            map.values().for_each(|v| collect_refs(v, schemas, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, schemas, out)),
        _ => {}
    }
}

fn is_nullable(schema: &Value) -> bool {
    let null_type = |s: &Value| s["type"] == "null" || s["type"].as_array().is_some_and(|t| t.contains(&json!("null")));
    null_type(schema)
        || ["oneOf", "anyOf"].iter().any(|k| schema[*k].as_array().is_some_and(|alts| alts.iter().any(null_type)))
}

fn require_always_sent(schema: &mut Value) {
    if let Some(parts) = schema.get_mut("allOf").and_then(Value::as_array_mut) {
        parts.iter_mut().for_each(require_always_sent);
    }
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else { return };
    let mut required: Vec<Value> = schema["required"].as_array().cloned().unwrap_or_default();
    for (name, property) in properties {
        let name = Value::String(name.clone());
        if is_nullable(property) && !required.contains(&name) {
            required.push(name);
        }
    }
    schema["required"] = Value::Array(required);
}

fn page_items_by_ref(schemas: &mut Map<String, Value>) {
    let names: Vec<String> = schemas.keys().cloned().collect();
    for name in names {
        let Some(item) = name.strip_prefix("Page_") else { continue };
        if !schemas.contains_key(item) {
            continue;
        }
        let reference = json!({"$ref": format!("#/components/schemas/{item}")});
        if let Some(items) = schemas.get_mut(&name).and_then(|s| s.pointer_mut("/properties/items/items")) {
            *items = reference;
        }
    }
}
