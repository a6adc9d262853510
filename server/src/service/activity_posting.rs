//! Posting an activity: the checks it passes before its row is written (also a series'
//! template's, `service::series`), and the draft's row.

use sea_orm::{ActiveValue::Set, EntityTrait};

use crate::{
    auth::AuthUser,
    context::AppContext,
    domain::{activity::ActivityStatus, organization::OrgStatus},
    entity::{activity, organization, region},
    error::{AppError, AppResult},
    service::{
        activities::{ActivityInput, ActivityView, detail, join_targets, may_host, moderate_texts, require_org_staff},
        venues,
    },
    wechat::Moderation,
};

/// What posting an activity settles before its row is written: where it is held, its
/// place and coordinates, credited minutes, and what WeChat's content check said.
pub(crate) struct Prepared {
    pub community_id: i64,
    pub location: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub service_minutes: i32,
    /// `Pass` or `Review` (`Risky` is refused).
    pub verdict: Moderation,
}

pub async fn create(ctx: &AppContext, user: &AuthUser, org_id: i64, input: ActivityInput) -> AppResult<ActivityView> {
    let p = prepare(ctx, user, org_id, &input).await?;
    let now = ctx.now();
    let inserted = activity::Entity::insert(activity::ActiveModel {
        organization_id: Set(org_id),
        community_id: Set(p.community_id),
        kind: Set(input.kind.as_str().to_owned()),
        title: Set(input.title),
        description: Set(input.description),
        location: Set(p.location),
        latitude: Set(p.latitude),
        longitude: Set(p.longitude),
        venue_id: Set(input.venue_id),
        starts_at: Set(input.window.starts_at),
        ends_at: Set(input.window.ends_at),
        signup_deadline: Set(input.window.signup_deadline),
        cancel_cutoff_minutes: Set(input.cancel_cutoff_minutes),
        capacity: Set(input.capacity.get()),
        waitlist_enabled: Set(input.waitlist_enabled),
        service_minutes: Set(p.service_minutes),
        target_groups: Set(join_targets(&input.target_groups)),
        age_note: Set(input.age_note),
        skill_note: Set(input.skill_note),
        status: Set(ActivityStatus::Draft.as_str().to_owned()),
        cancel_reason: Set(None),
        confirmed_count: Set(0),
        waitlist_count: Set(0),
        signup_seq: Set(0),
        version: Set(1),
        created_by: Set(Some(user.id)),
        published_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(&ctx.db)
    .await?;
    detail(ctx, Some(user), inserted.last_insert_id).await
}

/// The checks of posting an activity (also a series' template): the caller is the
/// organization's staff, the organization is filed or registered, the texts pass WeChat's
/// content check (`risky` refused), the community and room are allowed, a place is named,
/// credited minutes fit the duration.
pub(crate) async fn prepare(
    ctx: &AppContext,
    user: &AuthUser,
    org_id: i64,
    input: &ActivityInput,
) -> AppResult<Prepared> {
    let org = organization::Entity::find_by_id(org_id).one(&ctx.db).await?.ok_or(AppError::NotFound("organization"))?;
    require_org_staff(user, org_id)?;
    // Risky text is refused at once; `review` is settled when the draft is published.
    let verdict = moderate_texts(
        ctx,
        user.id,
        &[
            Some(&input.title),
            Some(&input.description),
            input.location.as_deref(),
            input.age_note.as_deref(),
            input.skill_note.as_deref(),
        ],
    )
    .await?;
    if verdict == Moderation::Risky {
        return Err(AppError::ContentRisky);
    }
    let org_status = OrgStatus::parse(&org.status).unwrap_or(OrgStatus::PendingConsent);
    if !org_status.is_recognised() {
        return Err(AppError::Conflict("organization_not_active", "组织尚未备案或已暂停，不能发布活动".into()));
    }
    let venue = match input.venue_id {
        Some(id) => Some(venues::venue_for_activity(&ctx.db, id, input.capacity.get()).await?),
        None => None,
    };
    let community_id = match (input.community_id, &venue) {
        (Some(id), Some(v)) if id != v.community_id => {
            return Err(AppError::invalid("venue_id", "elsewhere", "场地不在所选社区"));
        }
        (_, Some(v)) => {
            let home = region::Entity::find_by_id(org.community_id).one(&ctx.db).await?;
            let target = region::Entity::find_by_id(v.community_id).one(&ctx.db).await?;
            if !target.is_some_and(|t| may_host(home.as_ref(), &t)) {
                return Err(AppError::invalid(
                    "venue_id",
                    "outside_street",
                    "只能使用本组织所在社区或同一街道（乡镇）其他社区的场地",
                ));
            }
            v.community_id
        }
        (input_community, None) => match input_community {
            None => org.community_id,
            Some(id) if id == org.community_id => id,
            Some(id) => {
                let home = region::Entity::find_by_id(org.community_id).one(&ctx.db).await?;
                match region::Entity::find_by_id(id).one(&ctx.db).await? {
                    Some(r) if r.level != "community" => {
                        return Err(AppError::invalid("community_id", "not_a_community", "活动须在一个社区或村举办"));
                    }
                    Some(r) if may_host(home.as_ref(), &r) => id,
                    Some(_) => {
                        return Err(AppError::invalid(
                            "community_id",
                            "outside_street",
                            "活动只能在本组织所在社区或同一街道（乡镇）的其他社区举办",
                        ));
                    }
                    None => return Err(AppError::invalid("community_id", "not_found", "所选社区不存在")),
                }
            }
        },
    };
    let location = match (&input.location, &venue) {
        (Some(l), _) => l.clone(),
        (None, Some(v)) => format!("{}（{}）", v.name, v.address).chars().take(100).collect(),
        (None, None) => return Err(AppError::invalid("location", "required", "请填写地点或选择场地")),
    };
    let at = input.at.or(venue.as_ref().and_then(|v| v.latitude.zip(v.longitude)));
    let minutes = input.window.minutes();
    let service_minutes = input.service_minutes.unwrap_or(minutes as i32);
    if service_minutes as i64 > minutes {
        return Err(AppError::invalid("service_hours", "too_many", "服务时长不能超过活动时长"));
    }
    let (lat, lng) = (at.map(|a| a.0), at.map(|a| a.1));
    Ok(Prepared {
        community_id,
        location,
        latitude: lat.or(org.latitude.filter(|_| at.is_none())),
        longitude: lng.or(org.longitude.filter(|_| at.is_none())),
        service_minutes,
        verdict,
    })
}
