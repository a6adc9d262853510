//! Check-in codes, attendance, closing an activity, hour corrections, and a resident's
//! own participation and service record.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Datelike, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    api::types::time,
    auth::AuthUser,
    context::AppContext,
    domain::{
        activity::{ActivityKind, AttendanceAction, CheckinMethod},
        clock::to_shanghai,
        text::bounded,
    },
    entity::{attendance, hour_correction},
    error::{AppError, AppResult, Problem},
    service::{
        self,
        attendance::{Action, OfflineRecord, Recorded, ServiceLine, Who},
    },
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(my_code)
        .service(activity_code)
        .service(record)
        .service(self_check)
        .service(batch)
        .service(walk_in)
        .service(list)
        .service(finish)
        .service(correct)
        .service(corrections)
        .service(participation)
        .service(service_record);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckinCode {
    /// Show as a QR code; refresh before `expires_at`.
    pub code: String,
    pub expires_at: DateTime<FixedOffset>,
}

/// The resident's own short-lived check-in code (valid ~60 s), for staff to scan.
#[utoipa::path(get, path = "/api/v1/me/checkin-code", operation_id = "getMyCheckinCode", tag = "attendance", security(("bearer" = [])),
    responses((status = 200, body = CheckinCode), (status = 401, body = Problem, content_type = "application/problem+json")))]
#[get("/me/checkin-code")]
pub async fn my_code(ctx: web::Data<AppContext>, user: AuthUser) -> web::Json<CheckinCode> {
    let (code, expires) = service::attendance::personal_code(&ctx, user.id);
    web::Json(CheckinCode { code, expires_at: time(expires) })
}

/// The activity's rotating code (30 s), shown by staff for residents to scan.
#[utoipa::path(get, path = "/api/v1/activities/{id}/checkin-code", operation_id = "getActivityCheckinCode", tag = "attendance", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = CheckinCode),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/activities/{id}/checkin-code")]
pub async fn activity_code(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<CheckinCode>> {
    let id = id.into_inner();
    let a = service::activities::detail(&ctx, Some(&user), id).await?;
    service::activities::require_org_staff(&user, a.activity.organization_id)?;
    let (code, expires) = service::attendance::activity_code(&ctx, id);
    Ok(web::Json(CheckinCode { code, expires_at: time(expires) }))
}

fn parse_action(s: &str) -> AppResult<Action> {
    Action::parse(s).ok_or_else(|| AppError::invalid("action", "unknown_action", "action 须为 check_in 或 check_out"))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttendanceRequest {
    /// From the roster…
    #[schema(nullable = false)]
    pub user_id: Option<i64>,
    /// …or the resident's scanned code (`GET /me/checkin-code`)…
    #[schema(nullable = false)]
    pub checkin_code: Option<String>,
    /// …or an offline resident's printed card code (`ABCD-2345`; case, spaces and dashes
    /// do not matter). At most 60 card codes a minute per staff member.
    #[schema(nullable = false, example = "ABCD-2345")]
    pub card_code: Option<String>,
    #[schema(value_type = AttendanceAction)]
    pub action: String,
}

fn who(user_id: Option<i64>, code: Option<String>, card: Option<String>) -> AppResult<Who> {
    match (user_id, code, card) {
        (Some(id), None, None) => Ok(Who::User(id)),
        (None, Some(code), None) => Ok(Who::Code(code)),
        (None, None, Some(card)) => Ok(Who::Card(card)),
        _ => Err(AppError::invalid("user_id", "one_of", "须提供 user_id、checkin_code 或 card_code 之一")),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttendanceResponse {
    pub user_id: i64,
    #[schema(value_type = AttendanceAction)]
    pub action: String,
    /// False when it was already recorded: a second scan changes nothing.
    pub changed: bool,
    pub checked_in_at: DateTime<FixedOffset>,
    pub checked_out_at: Option<DateTime<FixedOffset>>,
}

impl From<Recorded> for AttendanceResponse {
    fn from(r: Recorded) -> Self {
        Self {
            user_id: r.user_id,
            action: match r.action {
                Action::CheckIn => "check_in".into(),
                Action::CheckOut => "check_out".into(),
            },
            changed: r.changed,
            checked_in_at: time(r.row.checked_in_at),
            checked_out_at: r.row.checked_out_at.map(time),
        }
    }
}

const ATTENDANCE_CONFLICTS: &str =
    "`not_signed_up`, `not_checked_in`, `outside_checkin_window`, `activity_finished`, `activity_cancelled`";

/// Staff check a resident in or out, by roster, by scanning their code, or by an offline
/// resident's card code (at most 60 card codes a minute per staff member). Idempotent.
#[utoipa::path(post, path = "/api/v1/activities/{id}/attendance", operation_id = "recordAttendance", tag = "attendance", params(("id" = i64, Path)),
    security(("bearer" = [])), request_body = AttendanceRequest,
    responses(
        (status = 200, body = AttendanceResponse),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = ATTENDANCE_CONFLICTS),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "invalid or expired code, unknown or revoked card"),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "too many card codes tried"),
    ))]
#[post("/activities/{id}/attendance")]
pub async fn record(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<AttendanceRequest>,
) -> AppResult<web::Json<AttendanceResponse>> {
    let body = body.into_inner();
    let action = parse_action(&body.action)?;
    let who = who(body.user_id, body.checkin_code, body.card_code)?;
    Ok(web::Json(service::attendance::record(&ctx, &user, id.into_inner(), who, action).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelfCheckRequest {
    /// The activity's rotating code, scanned on the spot.
    pub code: String,
    #[schema(value_type = AttendanceAction)]
    pub action: String,
    /// Where the resident is (with `longitude`); required when the activity has
    /// coordinates, and then it must be near the activity.
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

/// A resident checks themself in or out by scanning the activity's code.
#[utoipa::path(post, path = "/api/v1/activities/{id}/attendance/self", operation_id = "checkInSelf", tag = "attendance", params(("id" = i64, Path)),
    security(("bearer" = [])), request_body = SelfCheckRequest,
    responses(
        (status = 200, body = AttendanceResponse),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "`too_far` and the attendance conflicts"),
        (status = 422, body = Problem, content_type = "application/problem+json",
            description = "invalid or expired code; `latitude` `required` when the activity has coordinates"),
    ))]
#[post("/activities/{id}/attendance/self")]
pub async fn self_check(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<SelfCheckRequest>,
) -> AppResult<web::Json<AttendanceResponse>> {
    let body = body.into_inner();
    let action = parse_action(&body.action)?;
    let mut c = crate::api::checks::Checker::default();
    let at = c.location(body.latitude, body.longitude);
    c.finish(())?;
    Ok(web::Json(service::attendance::self_check(&ctx, &user, id.into_inner(), &body.code, action, at).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfflineRecordRequest {
    #[schema(nullable = false)]
    pub user_id: Option<i64>,
    #[schema(nullable = false)]
    pub checkin_code: Option<String>,
    /// An offline resident's card code.
    #[schema(nullable = false)]
    pub card_code: Option<String>,
    #[schema(value_type = AttendanceAction)]
    pub action: String,
    /// When it happened on the device.
    pub at: DateTime<FixedOffset>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// At most 1000 records.
    pub records: Vec<OfflineRecordRequest>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItem {
    /// The record's index in the request.
    pub index: usize,
    pub result: Option<AttendanceResponse>,
    /// Why this record was refused (the others still apply).
    pub error: Option<Problem>,
}

/// Upload check-ins recorded offline, each with its time. Uploading twice changes nothing.
#[utoipa::path(post, path = "/api/v1/activities/{id}/attendance/batch", operation_id = "uploadOfflineAttendance", tag = "attendance", params(("id" = i64, Path)),
    security(("bearer" = [])), request_body = BatchRequest,
    responses(
        (status = 200, body = Vec<BatchItem>,
            description = "one result per record, in the order sent; records refused one by one (`outside_checkin_window`, `not_signed_up`, …) carry their problem; after closing, records inside the check-in window still count"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "`activity_cancelled`"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "too many card codes tried"),
    ))]
#[post("/activities/{id}/attendance/batch")]
pub async fn batch(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<BatchRequest>,
) -> AppResult<web::Json<Vec<BatchItem>>> {
    let body = body.into_inner();
    if body.records.is_empty() || body.records.len() > 1000 {
        return Err(AppError::invalid("records", "count", "一次上传 1–1000 条记录"));
    }
    // A record that cannot be read (no one named, a time that cannot be shown back) is
    // refused on its own line, as records the service refuses are: one bad record never
    // costs the others.
    let mut records = Vec::with_capacity(body.records.len());
    let mut items = Vec::new();
    for (i, r) in body.records.into_iter().enumerate() {
        let parsed = (|| {
            let action = parse_action(&r.action).map_err(|_| {
                AppError::invalid(
                    &format!("records[{i}].action"),
                    "unknown_action",
                    "action 须为 check_in 或 check_out",
                )
            })?;
            let who = who(r.user_id, r.checkin_code, r.card_code).map_err(|_| {
                AppError::invalid(&format!("records[{i}]"), "one_of", "须提供 user_id、checkin_code 或 card_code 之一")
            })?;
            let mut c = crate::api::checks::Checker::default();
            let at = c.time(&format!("records[{i}].at"), Some(r.at));
            let at = c.finish(at)?.unwrap_or_default();
            Ok::<_, AppError>(OfflineRecord { who, action, at })
        })();
        match parsed {
            Ok(offline) => records.push((i, offline)),
            Err(e) => items.push(BatchItem {
                index: i,
                result: None,
                error: Some(e.to_problem(crate::error::Lang::Zh, None)),
            }),
        }
    }
    let mut indexed: Vec<(usize, DateTime<Utc>, Action)> = records.iter().map(|(i, r)| (*i, r.at, r.action)).collect();
    indexed.sort_by_key(|(_, at, action)| (*at, *action == Action::CheckOut));
    // Called even when no record could be read: the permission and the activity's state
    // are checked there.
    let results =
        service::attendance::batch(&ctx, &user, id.into_inner(), records.into_iter().map(|(_, r)| r).collect()).await?;
    items.extend(indexed.into_iter().zip(results).map(|((index, _, _), r)| match r {
        Ok(done) => BatchItem { index, result: Some(done.into()), error: None },
        Err(e) => BatchItem { index, result: None, error: Some(e.to_problem(crate::error::Lang::Zh, None)) },
    }));
    items.sort_by_key(|i| i.index);
    Ok(web::Json(items))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WalkInRequest {
    /// A resident whose home community is in the activity's street or township.
    pub user_id: Option<i64>,
    /// Anyone else: their personal code (`GET /me/checkin-code`), scanned on the spot.
    pub checkin_code: Option<String>,
    /// Or an offline resident's printed card code.
    pub card_code: Option<String>,
}

/// Staff register and check in a resident who came without a place, while places remain:
/// by the resident's code, or by id for a resident living in the activity's street.
#[utoipa::path(post, path = "/api/v1/activities/{id}/walk-ins", operation_id = "registerWalkIn", tag = "attendance", params(("id" = i64, Path)),
    security(("bearer" = [])), request_body = WalkInRequest,
    responses(
        (status = 200, body = AttendanceResponse),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "`activity_full`, `schedule_conflict` and the attendance conflicts"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "too many card codes tried"),
    ))]
#[post("/activities/{id}/walk-ins")]
pub async fn walk_in(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<WalkInRequest>,
) -> AppResult<web::Json<AttendanceResponse>> {
    let body = body.into_inner();
    let who = who(body.user_id, body.checkin_code, body.card_code)?;
    Ok(web::Json(service::attendance::walk_in(&ctx, &user, id.into_inner(), who).await?.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttendanceRow {
    pub user_id: i64,
    pub checked_in_at: DateTime<FixedOffset>,
    pub checked_out_at: Option<DateTime<FixedOffset>>,
    #[schema(value_type = CheckinMethod)]
    pub in_method: String,
    /// Credited once the activity is closed.
    pub credited_hours: Option<f64>,
}

fn hours(minutes: i32) -> f64 {
    (minutes as f64 / 60.0 * 100.0).round() / 100.0
}

impl From<attendance::Model> for AttendanceRow {
    fn from(a: attendance::Model) -> Self {
        Self {
            user_id: a.user_id,
            checked_in_at: time(a.checked_in_at),
            checked_out_at: a.checked_out_at.map(time),
            in_method: a.in_method,
            credited_hours: a.credited_minutes.map(hours),
        }
    }
}

/// Who checked in, for staff and the officials over the community.
#[utoipa::path(get, path = "/api/v1/activities/{id}/attendance", operation_id = "listAttendance", tag = "attendance", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<AttendanceRow>),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/activities/{id}/attendance")]
pub async fn list(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<Vec<AttendanceRow>>> {
    let rows = service::attendance::list(&ctx, &user, id.into_inner()).await?;
    Ok(web::Json(rows.into_iter().map(Into::into).collect()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FinishResponse {
    pub attended: i32,
    pub no_shows: i32,
    pub credited_hours: f64,
}

/// Close an activity (any time after its start; done automatically some hours after the
/// end): confirmed residents never checked in become `no_show`, attendees are credited
/// hours — time present, capped by the activity's hours, none under 60 % of its length.
#[utoipa::path(post, path = "/api/v1/activities/{id}/finish", operation_id = "finishActivity", tag = "attendance", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = FinishResponse),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json",
            description = "`activity_not_started`, `invalid_transition`"),
    ))]
#[post("/activities/{id}/finish")]
pub async fn finish(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<FinishResponse>> {
    let r = service::attendance::finish(&ctx, &user, id.into_inner()).await?;
    Ok(web::Json(FinishResponse {
        attended: r.attended,
        no_shows: r.no_shows,
        credited_hours: (r.minutes as f64 / 60.0 * 100.0).round() / 100.0,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionRequest {
    /// The corrected hours (at most the activity's service hours).
    pub hours: f64,
    /// Why; kept in the audit trail. 1–500 characters.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CorrectionResponse {
    pub user_id: i64,
    pub old_hours: f64,
    pub new_hours: f64,
    pub reason: String,
    pub corrected_by: i64,
    pub created_at: DateTime<FixedOffset>,
}

impl From<hour_correction::Model> for CorrectionResponse {
    fn from(c: hour_correction::Model) -> Self {
        Self {
            user_id: c.user_id,
            old_hours: hours(c.old_minutes),
            new_hours: hours(c.new_minutes),
            reason: c.reason,
            corrected_by: c.corrected_by,
            created_at: time(c.created_at),
        }
    }
}

/// Staff correct a resident's credited hours after closing, with a reason.
#[utoipa::path(patch, path = "/api/v1/activities/{id}/attendance/{user_id}", operation_id = "correctAttendance", tag = "attendance",
    params(("id" = i64, Path), ("user_id" = i64, Path)), security(("bearer" = [])), request_body = CorrectionRequest,
    responses(
        (status = 200, body = AttendanceRow),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "`activity_not_finished`"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
#[patch("/activities/{id}/attendance/{user_id}")]
pub async fn correct(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<(i64, i64)>,
    body: web::Json<CorrectionRequest>,
) -> AppResult<web::Json<AttendanceRow>> {
    let (id, member) = path.into_inner();
    let body = body.into_inner();
    if !body.hours.is_finite() || body.hours < 0.0 {
        return Err(AppError::invalid("hours", "range", "时长不能为负数"));
    }
    let reason = bounded(&body.reason, 1, 500)
        .map_err(|_| AppError::invalid("reason", "required", "须说明更正理由（1–500 个字符）"))?;
    let minutes = (body.hours * 60.0).round() as i32;
    Ok(web::Json(service::attendance::correct_hours(&ctx, &user, id, member, minutes, reason).await?.into()))
}

/// The audit trail of hour corrections.
#[utoipa::path(get, path = "/api/v1/activities/{id}/corrections", operation_id = "listAttendanceCorrections", tag = "attendance", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<CorrectionResponse>),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/activities/{id}/corrections")]
pub async fn corrections(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<Vec<CorrectionResponse>>> {
    let rows = service::attendance::corrections(&ctx, &user, id.into_inner()).await?;
    Ok(web::Json(rows.into_iter().map(Into::into).collect()))
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Tally {
    pub activities: i64,
    pub hours: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ByKind {
    #[schema(value_type = ActivityKind)]
    pub kind: String,
    pub activities: i64,
    pub hours: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ByOrganization {
    pub organization_id: i64,
    pub organization_name: String,
    pub activities: i64,
    pub hours: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceRecordLine {
    pub activity_id: i64,
    pub title: String,
    #[schema(value_type = ActivityKind)]
    pub kind: String,
    pub organization_name: String,
    pub starts_at: DateTime<FixedOffset>,
    pub hours: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Participation {
    pub this_year: Tally,
    pub all_time: Tally,
    pub by_kind: Vec<ByKind>,
    pub by_organization: Vec<ByOrganization>,
    /// Every attended activity, newest first: the service record.
    pub record: Vec<ServiceRecordLine>,
}

pub(crate) fn summarise(ctx: &AppContext, lines: &[ServiceLine]) -> Participation {
    let year = to_shanghai(ctx.now()).year();
    let mut this_year = Tally::default();
    let mut all_time = Tally::default();
    let mut kinds: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut orgs: BTreeMap<i64, (String, i64, i64)> = BTreeMap::new();
    for l in lines {
        let m = l.minutes as i64;
        all_time.activities += 1;
        all_time.hours += m as f64;
        if to_shanghai(l.activity.starts_at).year() == year {
            this_year.activities += 1;
            this_year.hours += m as f64;
        }
        let k = kinds.entry(l.activity.kind.clone()).or_default();
        k.0 += 1;
        k.1 += m;
        let o = orgs.entry(l.activity.organization_id).or_insert_with(|| (l.organization_name.clone(), 0, 0));
        o.1 += 1;
        o.2 += m;
    }
    let h = |m: f64| (m / 60.0 * 100.0).round() / 100.0;
    this_year.hours = h(this_year.hours);
    all_time.hours = h(all_time.hours);
    Participation {
        this_year,
        all_time,
        by_kind: kinds.into_iter().map(|(kind, (n, m))| ByKind { kind, activities: n, hours: h(m as f64) }).collect(),
        by_organization: orgs
            .into_iter()
            .map(|(id, (name, n, m))| ByOrganization {
                organization_id: id,
                organization_name: name,
                activities: n,
                hours: h(m as f64),
            })
            .collect(),
        record: lines
            .iter()
            .map(|l| ServiceRecordLine {
                activity_id: l.activity.id,
                title: l.activity.title.clone(),
                kind: l.activity.kind.clone(),
                organization_name: l.organization_name.clone(),
                starts_at: time(l.activity.starts_at),
                hours: hours(l.minutes),
            })
            .collect(),
    }
}

/// The caller's hours and activities attended, this year and all time, by kind and by
/// organization, with the service record.
#[utoipa::path(get, path = "/api/v1/me/participation", operation_id = "getMyParticipation", tag = "attendance", security(("bearer" = [])),
    responses((status = 200, body = Participation), (status = 401, body = Problem, content_type = "application/problem+json")))]
#[get("/me/participation")]
pub async fn participation(ctx: web::Data<AppContext>, user: AuthUser) -> AppResult<web::Json<Participation>> {
    let lines = service::attendance::service_record(&ctx, &user).await?;
    Ok(web::Json(summarise(&ctx, &lines)))
}

/// The service record's formats.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordFormat {
    Html,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordQuery {
    /// `html` (default, printable).
    #[param(value_type = Option<RecordFormat>)]
    pub format: Option<String>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A printable service record (志愿服务记录) the resident can show or print.
#[utoipa::path(get, path = "/api/v1/me/participation/record", operation_id = "getMyServiceRecord", tag = "attendance", params(RecordQuery), security(("bearer" = [])),
    responses(
        (status = 200, content_type = "text/html", body = String, description = "a printable page"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/me/participation/record")]
pub async fn service_record(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    query: web::Query<RecordQuery>,
) -> AppResult<HttpResponse> {
    if query.format.as_deref().is_some_and(|f| f != "html") {
        return Err(AppError::invalid("format", "unknown_format", "format 目前只支持 html"));
    }
    let html = record_page(&ctx, &user).await?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(html))
}

/// The printable record's page, for the user themself (also behind a signed link).
pub async fn record_page(ctx: &AppContext, user: &AuthUser) -> AppResult<String> {
    let me = service::users::me(ctx, user.id).await?;
    let lines = service::attendance::service_record(ctx, user).await?;
    let p = summarise(ctx, &lines);
    let name = escape(me.user.nickname.as_deref().unwrap_or("居民"));
    let rows: String = p
        .record
        .iter()
        .map(|l| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=n>{:.2}</td></tr>",
                l.starts_at.format("%Y-%m-%d"),
                escape(&l.title),
                escape(&l.organization_name),
                l.hours
            )
        })
        .collect();
    let html = format!(
        "<!doctype html><html lang=zh-CN><head><meta charset=utf-8><title>志愿服务记录 · {name}</title>\
<style>body{{font-family:sans-serif;max-width:46em;margin:2em auto}}table{{border-collapse:collapse;width:100%}}\
td,th{{border:1px solid #999;padding:.3em .5em}}.n{{text-align:right}}@media print{{button{{display:none}}}}</style></head>\
<body><h1>志愿服务记录</h1><p>姓名/昵称：{name}　用户编号：{id}　出具时间：{printed}</p>\
<p>累计参加活动 <b>{n}</b> 次，累计志愿服务 <b>{total:.2}</b> 小时；{year} 年参加 {yn} 次，{yh:.2} 小时。</p>\
<table><thead><tr><th>日期</th><th>活动</th><th>组织</th><th>时长（小时）</th></tr></thead><tbody>{rows}</tbody></table>\
<p>本记录由组织方按签到签退记录，服务时长按实际在场时间计，不超过活动核定时长；更正均留有记录。</p>\
<button onclick=print()>打印</button></body></html>",
        id = user.id,
        printed = to_shanghai(ctx.now()).format("%Y-%m-%d %H:%M"),
        n = p.all_time.activities,
        total = p.all_time.hours,
        year = to_shanghai(ctx.now()).year(),
        yn = p.this_year.activities,
        yh = p.this_year.hours,
    );
    Ok(html)
}
