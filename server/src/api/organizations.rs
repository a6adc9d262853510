//! `/organizations`: filing applications and their review, profiles, staff, follows,
//! and browsing near home.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    api::{checks::Checker, types::time},
    auth::{AuthUser, MaybeAuthUser},
    context::AppContext,
    domain::{
        organization::{
            Category, CreditCode, OrgEventAction, OrgStatus, ServiceTarget, Standing, StatusAction, mask_phone,
        },
        pagination::{Page, PageQuery, page_by_id},
        rating::Grade,
        region::RegionKind,
        role::Role,
        text::bounded,
    },
    entity::organization,
    error::{AppError, AppResult, Problem},
    service::{
        self,
        geo::Cursor,
        organizations::{BrowseFilter, BrowseItem, OrgDetail, OrgInput, OrgPatch, StaffMember},
    },
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(review_queue)
        .service(browse)
        .service(create)
        .service(get_one)
        .service(update)
        .service(review)
        .service(resubmit)
        .service(change_status)
        .service(register)
        .service(list_staff)
        .service(add_staff)
        .service(remove_staff)
        .service(transfer_leader)
        .service(follow)
        .service(unfollow)
        .service(my_follows)
        .service(my_organizations);
}

// ---- requests ------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "金塔巷夕阳红志愿服务队", "category": "community_service", "community_id": 11,
    "description": "为社区独居老人提供探访、代购和陪诊服务。", "service_targets": ["elderly"],
    "contact_name": "李红", "contact_phone": "13893112345", "latitude": 36.0627, "longitude": 103.8221,
    "founded_on": "2024-03-05", "has_party_organization": false
}))]
pub struct CreateOrganizationRequest {
    /// 1–50 characters.
    #[schema(min_length = 1, max_length = 50)]
    pub name: String,
    /// `charity`, `community_service`, `culture_sports`, `mutual_aid`, `rural_production`, `social_work`.
    #[schema(value_type = Category)]
    pub category: String,
    /// The home community (a region at `community` level).
    pub community_id: i64,
    /// At most 2000 characters.
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// `elderly`, `women`, `children`, `youth`, `disabled`, `unemployed`, `migrant_workers`,
    /// `families_in_difficulty`, `rehabilitation`, `left_behind`, `veterans`, `all_residents`.
    #[schema(value_type = Option<Vec<ServiceTarget>>)]
    pub service_targets: Option<Vec<String>>,
    /// At most 20 characters.
    #[schema(min_length = 1, max_length = 20)]
    pub contact_name: Option<String>,
    /// A mobile or landline number; shown masked to the public.
    pub contact_phone: Option<String>,
    /// −90…90, with `longitude`.
    #[schema(minimum = -90, maximum = 90)]
    pub latitude: Option<f64>,
    /// −180…180, with `latitude`.
    #[schema(minimum = -180, maximum = 180)]
    pub longitude: Option<f64>,
    /// An `https://` URL.
    #[schema(max_length = 512, pattern = "^https://")]
    pub logo_url: Option<String>,
    /// `YYYY-MM-DD`, not in the future.
    #[schema(format = Date)]
    pub founded_on: Option<String>,
    /// Whether it has a party organization (党组织), as the policy records.
    pub has_party_organization: Option<bool>,
    /// A group graduated from incubation (孵化) files with its incubation record attached:
    /// the id from `GET /incubatees/{id}`. Only its contact person, once, after graduation
    /// (403; 409 `not_graduated`, `already_applied`).
    pub incubatee_id: Option<i64>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganizationRequest {
    #[schema(min_length = 1, max_length = 50)]
    pub name: Option<String>,
    #[schema(value_type = Option<Category>)]
    pub category: Option<String>,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    #[schema(value_type = Option<Vec<ServiceTarget>>)]
    pub service_targets: Option<Vec<String>>,
    #[schema(min_length = 1, max_length = 20)]
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    #[schema(minimum = -90, maximum = 90)]
    pub latitude: Option<f64>,
    #[schema(minimum = -180, maximum = 180)]
    pub longitude: Option<f64>,
    #[schema(max_length = 512, pattern = "^https://")]
    pub logo_url: Option<String>,
    #[schema(format = Date)]
    pub founded_on: Option<String>,
    pub has_party_organization: Option<bool>,
}

const NAME_MSG: &str = "名称须为 1–50 个字符";
const DESCRIPTION_MSG: &str = "简介不超过 2000 个字符";
const CONTACT_MSG: &str = "联系人不超过 20 个字符";

impl CreateOrganizationRequest {
    fn parse(self, today: NaiveDate) -> AppResult<OrgInput> {
        let mut c = Checker { today: Some(today), ..Default::default() };
        let name = c.text("name", Some(self.name), 1, 50, NAME_MSG);
        let category = c.category(Some(self.category));
        let description = c.text("description", self.description, 0, 2000, DESCRIPTION_MSG).unwrap_or_default();
        let service_targets = c.targets("service_targets", self.service_targets).unwrap_or_default();
        let contact_name = c.text("contact_name", self.contact_name, 1, 20, CONTACT_MSG);
        let contact_phone = c.phone(self.contact_phone);
        let location = c.location(self.latitude, self.longitude);
        let logo_url = c.url(self.logo_url);
        let founded_on = c.date(self.founded_on);
        let (Some(name), Some(category)) = (name, category) else {
            return Err(AppError::Validation(c.errors));
        };
        c.finish(OrgInput {
            name,
            category,
            community_id: self.community_id,
            description,
            service_targets,
            contact_name,
            contact_phone,
            location,
            logo_url,
            founded_on,
            has_party_organization: self.has_party_organization.unwrap_or(false),
            incubatee_id: self.incubatee_id,
        })
    }
}

impl UpdateOrganizationRequest {
    fn parse(self, today: NaiveDate) -> AppResult<OrgPatch> {
        let mut c = Checker { today: Some(today), ..Default::default() };
        let patch = OrgPatch {
            name: c.text("name", self.name, 1, 50, NAME_MSG),
            category: c.category(self.category),
            description: c.text("description", self.description, 0, 2000, DESCRIPTION_MSG),
            service_targets: c.targets("service_targets", self.service_targets),
            contact_name: c.text("contact_name", self.contact_name, 1, 20, CONTACT_MSG),
            contact_phone: c.phone(self.contact_phone),
            location: c.location(self.latitude, self.longitude),
            logo_url: c.url(self.logo_url),
            founded_on: c.date(self.founded_on),
            has_party_organization: self.has_party_organization,
        };
        c.finish(patch)
    }
}

fn today(ctx: &AppContext) -> NaiveDate {
    time(ctx.now()).date_naive()
}

// ---- responses -----------------------------------------------------------------------

/// What a card in the mini-program shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationCard {
    pub id: i64,
    pub name: String,
    pub category: Category,
    pub community_id: i64,
    pub community_name: String,
    /// The first 80 characters of the description.
    pub description: String,
    #[schema(value_type = Vec<ServiceTarget>)]
    pub service_targets: Vec<String>,
    pub logo_url: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// `filed` or `registered`; `null` until the organization is filed.
    pub standing: Option<Standing>,
    pub status: OrgStatus,
    /// Metres from `lat`/`lng`, when they were given and the organization has a location.
    pub distance_m: Option<f64>,
    /// Its current grade (等级评估: `1A`–`5A`), `null` when it has none in force.
    pub grade: Option<Grade>,
}

fn summary(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(80).collect();
    if chars.next().is_some() { format!("{head}…") } else { head }
}

fn category(org: &organization::Model) -> Category {
    Category::parse(&org.category).unwrap_or(Category::CommunityService)
}

fn status(org: &organization::Model) -> OrgStatus {
    OrgStatus::parse(&org.status).unwrap_or(OrgStatus::PendingConsent)
}

/// An application has no standing yet: it is shown once the organization is filed.
fn standing(org: &organization::Model) -> Option<Standing> {
    match OrgStatus::parse(&org.status) {
        None | Some(OrgStatus::PendingConsent | OrgStatus::PendingFiling | OrgStatus::Rejected) => None,
        Some(_) => Some(Standing::parse(&org.standing).unwrap_or(Standing::Filed)),
    }
}

impl From<BrowseItem> for OrganizationCard {
    fn from(item: BrowseItem) -> Self {
        let org = item.org;
        Self {
            id: org.id,
            category: category(&org),
            standing: standing(&org),
            status: status(&org),
            name: org.name,
            community_id: org.community_id,
            community_name: item.community_name,
            description: summary(&org.description),
            service_targets: item.targets,
            logo_url: org.logo_url,
            latitude: org.latitude,
            longitude: org.longitude,
            distance_m: item.distance_m.map(|d| d.round()),
            grade: item.grade.map(|g| g.0),
        }
    }
}

/// One organization in a list that is not browse (follows, mine, review queue).
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationSummary {
    pub id: i64,
    pub name: String,
    pub category: Category,
    pub community_id: i64,
    /// `filed` or `registered`; `null` until the organization is filed.
    pub standing: Option<Standing>,
    pub status: OrgStatus,
    pub logo_url: Option<String>,
    pub created_at: DateTime<FixedOffset>,
}

impl From<organization::Model> for OrganizationSummary {
    fn from(org: organization::Model) -> Self {
        Self {
            id: org.id,
            category: category(&org),
            standing: standing(&org),
            status: status(&org),
            name: org.name,
            community_id: org.community_id,
            logo_url: org.logo_url,
            created_at: time(org.created_at),
        }
    }
}

/// One step of the filing workflow or a later change: who, when, what and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationEvent {
    pub id: i64,
    /// `submitted`, `consented`, `consent_refused`, `filed`, `filing_refused`, `resubmitted`,
    /// `registered`, `suspended`, `reinstated`, `dissolved`, `profile_updated`, `staff_added`,
    /// `staff_removed`, `leader_transferred`.
    #[schema(value_type = OrgEventAction)]
    pub action: String,
    #[schema(value_type = Option<OrgStatus>)]
    pub from_status: Option<String>,
    #[schema(value_type = OrgStatus)]
    pub to_status: String,
    pub comment: Option<String>,
    pub actor_id: Option<i64>,
    pub created_at: DateTime<FixedOffset>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommunityRef {
    pub id: i64,
    pub name: String,
    #[schema(value_type = Option<RegionKind>)]
    pub kind: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ViewerRelation {
    pub applicant: bool,
    pub staff: bool,
    pub leader: bool,
    /// A committee, street or civil-affairs official over the organization.
    pub official: bool,
    pub following: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationDetail {
    pub id: i64,
    pub name: String,
    pub category: Category,
    pub community_id: i64,
    pub community: CommunityRef,
    pub description: String,
    #[schema(value_type = Vec<ServiceTarget>)]
    pub service_targets: Vec<String>,
    pub contact_name: Option<String>,
    /// Masked (`138****5678`) unless the caller is its staff or an official over it.
    pub contact_phone: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub logo_url: Option<String>,
    pub founded_on: Option<NaiveDate>,
    /// `filed` or `registered`; `null` until the organization is filed.
    pub standing: Option<Standing>,
    /// The unified social credit code, when registered.
    pub credit_code: Option<String>,
    pub status: OrgStatus,
    pub has_party_organization: bool,
    pub filed_at: Option<DateTime<FixedOffset>>,
    pub followers_count: u64,
    pub upcoming_activities_count: u64,
    pub distance_m: Option<f64>,
    /// How the caller stands towards it (all false when not signed in).
    pub viewer: ViewerRelation,
    /// The workflow history, for the applicant, its staff and the officials over it.
    pub history: Option<Vec<OrganizationEvent>>,
    /// Since when it is on the abnormal list (活动异常名录); `null` when it is not. Public,
    /// as the policy's list is.
    pub abnormal_since: Option<DateTime<FixedOffset>>,
    /// Its current grade (等级评估: `1A`–`5A`), `null` when it has none in force; public.
    pub grade: Option<Grade>,
    /// The grade's last valid day (Asia/Shanghai); it falls away by itself after that.
    pub grade_valid_until: Option<NaiveDate>,
    /// The incubation record (孵化) a graduate filed with: mentors, sessions, milestones
    /// and decisions. For the applicant, its staff and the officials over it (the
    /// committee and street office reviewing it); `null` otherwise.
    pub incubation: Option<crate::api::incubation::IncubateeResponse>,
    pub created_at: DateTime<FixedOffset>,
}

impl From<OrgDetail> for OrganizationDetail {
    fn from(d: OrgDetail) -> Self {
        let privileged = d.relation.privileged();
        let org = d.org;
        Self {
            id: org.id,
            category: category(&org),
            standing: standing(&org),
            status: status(&org),
            name: org.name,
            community_id: org.community_id,
            community: CommunityRef { id: d.community.id, name: d.community.name, kind: d.community.kind },
            description: org.description,
            service_targets: d.targets,
            contact_name: org.contact_name,
            contact_phone: org.contact_phone.map(|p| if privileged { p } else { mask_phone(&p) }),
            latitude: org.latitude,
            longitude: org.longitude,
            logo_url: org.logo_url,
            founded_on: org.founded_on,
            credit_code: org.credit_code,
            has_party_organization: org.has_party_organization,
            filed_at: org.filed_at.map(time),
            followers_count: d.followers,
            upcoming_activities_count: d.upcoming_activities,
            distance_m: None,
            abnormal_since: d.abnormal_since.map(time),
            grade: d.grade.map(|g| g.0),
            grade_valid_until: d.grade.map(|g| g.1),
            incubation: d.incubation.map(Into::into),
            viewer: ViewerRelation {
                applicant: d.relation.applicant,
                staff: d.relation.staff,
                leader: d.relation.leader,
                official: d.relation.official,
                following: d.relation.following,
            },
            history: d.history.map(|events| {
                events
                    .into_iter()
                    .map(|e| OrganizationEvent {
                        id: e.id,
                        action: e.action,
                        from_status: e.from_status,
                        to_status: e.to_status,
                        comment: e.comment,
                        actor_id: e.actor_id,
                        created_at: time(e.created_at),
                    })
                    .collect()
            }),
            created_at: time(org.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffMemberView {
    pub user_id: i64,
    pub nickname: Option<String>,
    /// `org_leader` or `org_staff`.
    pub role: Role,
    pub since: DateTime<FixedOffset>,
}

fn staff_view(members: Vec<StaffMember>) -> Vec<StaffMemberView> {
    members
        .into_iter()
        .map(|m| StaffMemberView { user_id: m.user.id, nickname: m.user.nickname, role: m.role, since: time(m.since) })
        .collect()
}

// ---- handlers ------------------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BrowseQuery {
    /// A region: everything in its subtree (a street shows all its communities).
    pub region_id: Option<i64>,
    #[param(value_type = Option<Category>)]
    pub category: Option<String>,
    #[param(value_type = Option<ServiceTarget>)]
    pub service_target: Option<String>,
    /// Part of the name (Chinese substring; `%` and `_` match literally).
    pub q: Option<String>,
    /// With `lng`: nearest first, with `distance_m` on each item.
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    /// Only organizations whose current grade (等级评估) is this: `1A`–`5A`.
    #[param(value_type = Option<Grade>)]
    pub grade: Option<String>,
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

/// Browse filed and registered organizations.
#[utoipa::path(get, path = "/api/v1/organizations", operation_id = "listOrganizations", tag = "organizations", params(BrowseQuery),
    responses(
        (status = 200, body = Page<OrganizationCard>),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "no such region"),
        (status = 422, body = Problem, content_type = "application/problem+json",
            description = "`validation_failed`: unknown category, target or grade, bad coordinates, limit or cursor"),
    ))]
#[get("/organizations")]
pub async fn browse(
    ctx: web::Data<AppContext>,
    query: web::Query<BrowseQuery>,
) -> AppResult<web::Json<Page<OrganizationCard>>> {
    let query = query.into_inner();
    let limit = PageQuery { cursor: None, limit: query.limit }.limit()?;
    let mut c = Checker::default();
    let category = c.category(query.category);
    let service_target = match query.service_target {
        Some(t) => {
            let parsed = ServiceTarget::parse(&t);
            if parsed.is_none() {
                c.fail("service_target", "unknown_target", &format!("服务对象须为 {} 之一", ServiceTarget::list()));
            }
            parsed
        }
        None => None,
    };
    let near = c.location(query.lat, query.lng);
    let q = query.q.map(|q| q.trim().to_owned()).filter(|q| !q.is_empty());
    if q.as_ref().is_some_and(|q| q.chars().count() > 50) {
        c.fail("q", "length", "搜索词不超过 50 个字符");
    }
    let cursor = match &query.cursor {
        None => None,
        Some(raw) => match Cursor::decode(raw) {
            Some(cur) if matches!(cur, Cursor::Near(..)) == near.is_some() && !matches!(cur, Cursor::Time(..)) => {
                Some(cur)
            }
            _ => {
                c.fail("cursor", "invalid", "cursor 无效，请从第一页重新开始");
                None
            }
        },
    };
    let grade = match query.grade {
        Some(g) => {
            let parsed = Grade::parse(&g);
            if parsed.is_none() {
                c.fail("grade", "unknown_grade", "等级须为 1A、2A、3A、4A、5A 之一");
            }
            parsed
        }
        None => None,
    };
    let filter = c.finish(BrowseFilter { region_id: query.region_id, category, service_target, q, near, grade })?;
    let (items, next) = service::organizations::browse(&ctx, &filter, cursor, limit).await?;
    Ok(web::Json(Page { items: items.into_iter().map(Into::into).collect(), next_cursor: next.map(|n| n.encode()) }))
}

/// Apply to file a new organization. It waits for the community committee's consent.
#[utoipa::path(post, path = "/api/v1/organizations", operation_id = "createOrganization", tag = "organizations", security(("bearer" = [])),
    request_body = CreateOrganizationRequest,
    responses(
        (status = 201, body = OrganizationDetail, description = "the application, `pending_consent`"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json",
            description = "`validation_failed`, with every failing field; `content_risky`"),
        (status = 409, body = Problem, content_type = "application/problem+json",
            description = "`name_taken`: a live organization of this community has the same name (compared after NFC, without spaces, case-folded); with `incubatee_id`: `not_graduated`, `already_applied`"),
        (status = 403, body = Problem, content_type = "application/problem+json",
            description = "`incubatee_id` names a group the caller is not the contact person of"),
    ))]
#[post("/organizations")]
pub async fn create(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    body: web::Json<CreateOrganizationRequest>,
) -> AppResult<HttpResponse> {
    let input = body.into_inner().parse(today(&ctx))?;
    let detail = service::organizations::apply(&ctx, &user, input).await?;
    Ok(HttpResponse::Created().json(OrganizationDetail::from(detail)))
}

/// One organization. Applications are visible only to the applicant, its staff and the
/// officials over it (404 to others).
#[utoipa::path(get, path = "/api/v1/organizations/{id}", operation_id = "getOrganization", tag = "organizations", params(("id" = i64, Path)),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = OrganizationDetail),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/organizations/{id}")]
pub async fn get_one(
    ctx: web::Data<AppContext>,
    user: MaybeAuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<OrganizationDetail>> {
    Ok(web::Json(service::organizations::detail(&ctx, user.0.as_ref(), id.into_inner()).await?.into()))
}

/// Edit the profile: the applicant while the application is open or refused, the leader
/// once recognised. Each change is kept in the history.
#[utoipa::path(patch, path = "/api/v1/organizations/{id}", operation_id = "updateOrganization", tag = "organizations", params(("id" = i64, Path)),
    security(("bearer" = [])), request_body = UpdateOrganizationRequest,
    responses(
        (status = 200, body = OrganizationDetail),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json",
            description = "`invalid_transition` (dissolved), `name_taken`"),
        (status = 422, body = Problem, content_type = "application/problem+json",
            description = "`validation_failed`, `content_risky`"),
    ))]
#[patch("/organizations/{id}")]
pub async fn update(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<UpdateOrganizationRequest>,
) -> AppResult<web::Json<OrganizationDetail>> {
    let patch = body.into_inner().parse(today(&ctx))?;
    Ok(web::Json(service::organizations::update(&ctx, &user, id.into_inner(), patch).await?.into()))
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    pub decision: Decision,
    /// Required when rejecting (the applicant is told why); at most 500 characters.
    #[schema(max_length = 500)]
    pub comment: Option<String>,
}

fn reason(field: &str, value: Option<String>, required: bool) -> AppResult<Option<String>> {
    match value.map(|v| bounded(&v, 1, 500)) {
        Some(Ok(v)) => Ok(Some(v)),
        Some(Err(_)) if required => Err(AppError::invalid(field, "required", "须说明理由（1–500 个字符）")),
        Some(Err(_)) => Err(AppError::invalid(field, "length", "说明不超过 500 个字符")),
        None if required => Err(AppError::invalid(field, "required", "须说明理由（1–500 个字符）")),
        None => Ok(None),
    }
}

/// Review an application: the community's committee consents (`pending_consent` →
/// `pending_filing`), then the street office or township files it (→ `filed`, and the
/// applicant becomes its leader). A rejection needs a comment.
#[utoipa::path(post, path = "/api/v1/organizations/{id}/review", operation_id = "reviewOrganization", tag = "organizations", params(("id" = i64, Path)),
    security(("bearer" = [])), request_body = ReviewRequest,
    responses(
        (status = 200, body = OrganizationDetail),
        (status = 403, body = Problem, content_type = "application/problem+json",
            description = "`forbidden`: not the committee or street over this organization"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json",
            description = "`invalid_transition`: not the step this application waits for"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "rejection without a comment"),
    ))]
#[post("/organizations/{id}/review")]
pub async fn review(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<ReviewRequest>,
) -> AppResult<web::Json<OrganizationDetail>> {
    let body = body.into_inner();
    let approve = matches!(body.decision, Decision::Approve);
    let comment = reason("comment", body.comment, !approve)?;
    Ok(web::Json(service::organizations::review(&ctx, &user, id.into_inner(), approve, comment).await?.into()))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResubmitRequest {
    pub comment: Option<String>,
}

/// The applicant sends a refused application back to the committee.
#[utoipa::path(post, path = "/api/v1/organizations/{id}/resubmit", operation_id = "resubmitOrganization", tag = "organizations", params(("id" = i64, Path)),
    security(("bearer" = [])), request_body(content = Option<ResubmitRequest>),
    responses(
        (status = 200, body = OrganizationDetail),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json",
            description = "`invalid_transition` (not refused), `name_taken`"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "`content_risky`"),
    ))]
#[post("/organizations/{id}/resubmit")]
pub async fn resubmit(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: Option<web::Json<ResubmitRequest>>,
) -> AppResult<web::Json<OrganizationDetail>> {
    let comment = reason("comment", body.and_then(|b| b.into_inner().comment), false)?;
    Ok(web::Json(service::organizations::resubmit(&ctx, &user, id.into_inner(), comment).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// `suspend` (filed/registered → suspended), `reinstate` (suspended → back), `dissolve`.
    pub action: StatusAction,
    /// Required, 1–500 characters.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// The street office or civil affairs suspends, reinstates or dissolves an organization.
#[utoipa::path(post, path = "/api/v1/organizations/{id}/status", operation_id = "changeOrganizationStatus", tag = "organizations", params(("id" = i64, Path)),
    security(("bearer" = [])), request_body = StatusRequest,
    responses(
        (status = 200, body = OrganizationDetail),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "`invalid_transition`"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/organizations/{id}/status")]
pub async fn change_status(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<StatusRequest>,
) -> AppResult<web::Json<OrganizationDetail>> {
    let body = body.into_inner();
    let why = reason("reason", Some(body.reason), true)?.unwrap_or_default();
    Ok(web::Json(service::organizations::change_status(&ctx, &user, id.into_inner(), body.action, why).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationRequest {
    /// The 18-character unified social credit code, checked by its check character.
    #[schema(example = "91350100M000100Y43", min_length = 18, max_length = 18)]
    pub credit_code: String,
    pub comment: Option<String>,
}

/// County civil affairs records a formal registration (登记) of a filed organization.
#[utoipa::path(post, path = "/api/v1/organizations/{id}/registration", operation_id = "registerOrganization", tag = "organizations",
    params(("id" = i64, Path)), security(("bearer" = [])), request_body = RegistrationRequest,
    responses(
        (status = 200, body = OrganizationDetail),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json",
            description = "`invalid_transition` (not filed) or `credit_code_taken`"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "bad credit code"),
    ))]
#[post("/organizations/{id}/registration")]
pub async fn register(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<RegistrationRequest>,
) -> AppResult<web::Json<OrganizationDetail>> {
    let body = body.into_inner();
    let code = CreditCode::parse(&body.credit_code)
        .ok_or_else(|| AppError::invalid("credit_code", "credit_code", "统一社会信用代码须为 18 位且校验码正确"))?;
    let comment = reason("comment", body.comment, false)?;
    let detail =
        service::organizations::register(&ctx, &user, id.into_inner(), code.as_str().to_owned(), comment).await?;
    Ok(web::Json(detail.into()))
}

/// The leader and staff, for its staff and the officials over it.
#[utoipa::path(get, path = "/api/v1/organizations/{id}/staff", operation_id = "listOrganizationStaff", tag = "organizations", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<StaffMemberView>),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/organizations/{id}/staff")]
pub async fn list_staff(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
) -> AppResult<web::Json<Vec<StaffMemberView>>> {
    Ok(web::Json(staff_view(service::organizations::staff(&ctx, &user, id.into_inner()).await?)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffRequest {
    pub user_id: i64,
}

/// The leader adds a staff member.
#[utoipa::path(post, path = "/api/v1/organizations/{id}/staff", operation_id = "addOrganizationStaff", tag = "organizations", params(("id" = i64, Path)),
    security(("bearer" = [])), request_body = StaffRequest,
    responses(
        (status = 200, body = Vec<StaffMemberView>),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "not its leader"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "not recognised"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "unknown user"),
    ))]
#[post("/organizations/{id}/staff")]
pub async fn add_staff(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<StaffRequest>,
) -> AppResult<web::Json<Vec<StaffMemberView>>> {
    Ok(web::Json(staff_view(service::organizations::add_staff(&ctx, &user, id.into_inner(), body.user_id).await?)))
}

/// The leader removes a staff member.
#[utoipa::path(delete, path = "/api/v1/organizations/{id}/staff/{user_id}", operation_id = "removeOrganizationStaff", tag = "organizations",
    params(("id" = i64, Path), ("user_id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<StaffMemberView>),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
#[delete("/organizations/{id}/staff/{user_id}")]
pub async fn remove_staff(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    path: web::Path<(i64, i64)>,
) -> AppResult<web::Json<Vec<StaffMemberView>>> {
    let (id, member) = path.into_inner();
    Ok(web::Json(staff_view(service::organizations::remove_staff(&ctx, &user, id, member).await?)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaderRequest {
    pub user_id: i64,
    /// Required when the filing office appoints a leader; kept in the history and sent
    /// to the organization. At most 500 characters.
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// The leader hands leadership to another user and stays on as staff. An organization
/// without a leader gets one from its filing office (the street while filed, civil
/// affairs once registered), with a reason; its staff are told.
#[utoipa::path(post, path = "/api/v1/organizations/{id}/leader", operation_id = "transferOrganizationLeader", tag = "organizations", params(("id" = i64, Path)),
    security(("bearer" = [])), request_body = LeaderRequest,
    responses(
        (status = 200, body = Vec<StaffMemberView>),
        (status = 403, body = Problem, content_type = "application/problem+json",
            description = "not its leader, nor its filing office"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json",
            description = "`organization_has_leader` (an appointment while it has one), `invalid_transition`"),
        (status = 422, body = Problem, content_type = "application/problem+json",
            description = "`reason` `required` for an appointment; unknown user"),
    ))]
#[post("/organizations/{id}/leader")]
pub async fn transfer_leader(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<LeaderRequest>,
) -> AppResult<web::Json<Vec<StaffMemberView>>> {
    let body = body.into_inner();
    let why = reason("reason", body.reason, false)?;
    let staff = service::organizations::transfer_leadership(&ctx, &user, id.into_inner(), body.user_id, why).await?;
    Ok(web::Json(staff_view(staff)))
}

/// Follow an organization (idempotent).
#[utoipa::path(post, path = "/api/v1/organizations/{id}/follow", operation_id = "followOrganization", tag = "organizations", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "following"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/organizations/{id}/follow")]
pub async fn follow(ctx: web::Data<AppContext>, user: AuthUser, id: web::Path<i64>) -> AppResult<HttpResponse> {
    service::organizations::follow(&ctx, &user, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Stop following (idempotent).
#[utoipa::path(delete, path = "/api/v1/organizations/{id}/follow", operation_id = "unfollowOrganization", tag = "organizations", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "not following"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
#[delete("/organizations/{id}/follow")]
pub async fn unfollow(ctx: web::Data<AppContext>, user: AuthUser, id: web::Path<i64>) -> AppResult<HttpResponse> {
    service::organizations::unfollow(&ctx, &user, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

impl From<ListQuery> for PageQuery {
    fn from(q: ListQuery) -> Self {
        PageQuery { cursor: q.cursor, limit: q.limit }
    }
}

/// The organizations the caller follows, most recently followed organizations first.
#[utoipa::path(get, path = "/api/v1/me/follows", operation_id = "listMyFollows", tag = "me", params(ListQuery), security(("bearer" = [])),
    responses(
        (status = 200, body = Page<OrganizationSummary>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/me/follows")]
pub async fn my_follows(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    query: web::Query<ListQuery>,
) -> AppResult<web::Json<Page<OrganizationSummary>>> {
    let page: PageQuery = query.into_inner().into();
    let limit = page.limit()?;
    let rows = service::organizations::follows(&ctx, &user, page.after_id()?, limit).await?;
    Ok(web::Json(page_by_id(rows, limit, |o| o.id, Into::into)))
}

/// The organizations the caller applied for, leads or staffs, in any status.
#[utoipa::path(get, path = "/api/v1/me/organizations", operation_id = "listMyOrganizations", tag = "me", security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<OrganizationSummary>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/me/organizations")]
pub async fn my_organizations(
    ctx: web::Data<AppContext>,
    user: AuthUser,
) -> AppResult<web::Json<Vec<OrganizationSummary>>> {
    let rows = service::organizations::mine(&ctx, &user).await?;
    Ok(web::Json(rows.into_iter().map(Into::into).collect()))
}

/// Applications waiting for the caller's review: consent for committees, filing for
/// street offices, inside their scope; oldest first.
#[utoipa::path(get, path = "/api/v1/organizations/review-queue", operation_id = "listReviewQueue", tag = "organizations", params(ListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Page<OrganizationSummary>),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "not a reviewer"),
    ))]
#[get("/organizations/review-queue")]
pub async fn review_queue(
    ctx: web::Data<AppContext>,
    user: AuthUser,
    query: web::Query<ListQuery>,
) -> AppResult<web::Json<Page<OrganizationSummary>>> {
    let page: PageQuery = query.into_inner().into();
    let limit = page.limit()?;
    let rows = service::organizations::review_queue(&ctx, &user, page.after_id()?, limit).await?;
    Ok(web::Json(page_by_id(rows, limit, |o| o.id, Into::into)))
}
