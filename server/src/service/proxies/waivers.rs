//! Waived no-shows: staff of the activity's organization excuse one no-show with a reason
//! (a principal's daughter could not bring him, a hospital visit), so it no longer counts
//! towards the no-show limit (`NO_SHOW_LIMIT`) of whoever it was — the principal, never
//! their proxy. The no-show itself stays on record.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, EntityTrait, QueryFilter,
    sea_query::{Query, SelectStatement},
};

use crate::{
    auth::AuthUser,
    context::AppContext,
    domain::{activity::SignupStatus, proxy::ProxyAct},
    entity::{activity, no_show_waiver, signup},
    error::{AppError, AppResult},
    service::{activities::require_org_staff, begin_write, is_unique_violation, proxies::record_act},
};

/// The sign-ups whose no-show was waived (for the no-show count in the sign-up path).
pub fn waived_signups() -> SelectStatement {
    Query::select().column(no_show_waiver::Column::SignupId).from(no_show_waiver::Entity).to_owned()
}

/// A waiver as recorded.
#[derive(Debug, Clone)]
pub struct Waiver {
    pub activity_id: i64,
    pub user_id: i64,
    pub reason: String,
    pub waived_by: i64,
    pub created_at: DateTime<Utc>,
}

/// `POST /activities/{id}/signups/{user_id}/waive-no-show {reason}`: staff of the
/// organization (403 otherwise) waive the resident's no-show on this activity. 404 when
/// they have no sign-up there; 409 `not_a_no_show` unless it is one; a second waiver
/// answers the first.
pub async fn waive(
    ctx: &AppContext,
    staff: &AuthUser,
    activity_id: i64,
    member: i64,
    reason: String,
) -> AppResult<Waiver> {
    let a = activity::Entity::find_by_id(activity_id).one(&ctx.db).await?.ok_or(AppError::NotFound("activity"))?;
    require_org_staff(staff, a.organization_id)?;
    let s = signup::Entity::find()
        .filter(signup::Column::ActivityId.eq(activity_id))
        .filter(signup::Column::UserId.eq(member))
        .one(&ctx.db)
        .await?
        .ok_or(AppError::NotFound("sign-up"))?;
    if s.status != SignupStatus::NoShow.as_str() {
        return Err(AppError::Conflict("not_a_no_show", "该报名不是未到场记录，无需豁免".into()));
    }
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let inserted = no_show_waiver::Entity::insert(no_show_waiver::ActiveModel {
        signup_id: Set(s.id),
        reason: Set(reason),
        waived_by: Set(staff.id),
        created_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(&txn)
    .await;
    match inserted {
        Ok(_) => {
            record_act(&txn, member, staff.id, ProxyAct::NoShowWaived, Some(activity_id), None, now).await?;
            txn.commit().await?;
        }
        Err(e) if is_unique_violation(&e) => drop(txn),
        Err(e) => return Err(e.into()),
    }
    let w = no_show_waiver::Entity::find()
        .filter(no_show_waiver::Column::SignupId.eq(s.id))
        .one(&ctx.db)
        .await?
        .ok_or(AppError::NotFound("waiver"))?;
    Ok(Waiver { activity_id, user_id: member, reason: w.reason, waived_by: w.waived_by, created_at: w.created_at })
}
