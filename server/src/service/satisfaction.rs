//! Residents' satisfaction scores (满意度) of an organization: 1–5, one per resident per
//! calendar year (Asia/Shanghai; a second answer replaces the first), only from residents
//! checked in at one of its activities that year. They feed a rating scheme's
//! `satisfaction` leaves (see `service::ratings`).

use chrono::Datelike;
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait as _, OnConflict, Query},
};

use crate::{
    auth::AuthUser,
    context::AppContext,
    domain::clock::to_shanghai,
    entity::{activity, attendance, organization, satisfaction_score},
    error::{AppError, AppResult},
};

/// An organization's scores of one year.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub year: i32,
    pub responses: i64,
    /// The mean in tenths (45 = 4.5), half up; 0 without responses.
    pub mean_tenths: i64,
    /// Responses per score 1–5.
    pub counts: [i64; 5],
    /// The caller's own score this year, if any.
    pub mine: Option<i16>,
}

/// Scores an organization (1–5) for the current year. 409 `not_attended` unless the
/// resident was checked in at one of its activities this year, `own_organization` for its
/// leaders and staff; 422 outside 1–5.
pub async fn rate(ctx: &AppContext, user: &AuthUser, org_id: i64, score: i64) -> AppResult<Summary> {
    organization::Entity::find_by_id(org_id).one(&ctx.db).await?.ok_or(AppError::NotFound("organization"))?;
    if !(1..=5).contains(&score) {
        return Err(AppError::invalid("score", "range", "满意度须为 1–5 分"));
    }
    if user.works_for(org_id) {
        return Err(AppError::Conflict("own_organization", "组织的负责人和工作人员不能评价本组织".into()));
    }
    let now = ctx.now();
    let year = to_shanghai(now).year();
    let attended = attendance::Entity::find()
        .filter(attendance::Column::UserId.eq(user.id))
        .filter(
            attendance::Column::ActivityId.in_subquery(
                Query::select()
                    .column(activity::Column::Id)
                    .from(activity::Entity)
                    .and_where(activity::Column::OrganizationId.eq(org_id))
                    .to_owned(),
            ),
        )
        .all(&ctx.db)
        .await?
        .into_iter()
        .any(|a| to_shanghai(a.checked_in_at).year() == year);
    if !attended {
        return Err(AppError::Conflict("not_attended", "今年参加过该组织的活动后才能评价".into()));
    }
    satisfaction_score::Entity::insert(satisfaction_score::ActiveModel {
        organization_id: Set(org_id),
        user_id: Set(user.id),
        year: Set(year),
        score: Set(score as i16),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([
            satisfaction_score::Column::OrganizationId,
            satisfaction_score::Column::Year,
            satisfaction_score::Column::UserId,
        ])
        .update_columns([satisfaction_score::Column::Score, satisfaction_score::Column::UpdatedAt])
        .to_owned(),
    )
    .exec_without_returning(&ctx.db)
    .await?;
    summary(&ctx.db, Some(user), org_id, year).await
}

#[derive(FromQueryResult)]
struct Count {
    score: i16,
    n: i64,
}

/// An organization's scores of `year`: anyone may read them. 404 for no organization.
pub async fn summary(db: &impl ConnectionTrait, user: Option<&AuthUser>, org_id: i64, year: i32) -> AppResult<Summary> {
    organization::Entity::find_by_id(org_id).one(db).await?.ok_or(AppError::NotFound("organization"))?;
    let rows = satisfaction_score::Entity::find()
        .select_only()
        .column(satisfaction_score::Column::Score)
        .column_as(Expr::col(satisfaction_score::Column::Id).count(), "n")
        .filter(satisfaction_score::Column::OrganizationId.eq(org_id))
        .filter(satisfaction_score::Column::Year.eq(year))
        .group_by(satisfaction_score::Column::Score)
        .into_model::<Count>()
        .all(db)
        .await?;
    let mut out = Summary { year, ..Default::default() };
    let mut sum = 0;
    for r in rows {
        if (1..=5).contains(&r.score) {
            out.counts[(r.score - 1) as usize] += r.n;
            out.responses += r.n;
            sum += i64::from(r.score) * r.n;
        }
    }
    if out.responses > 0 {
        out.mean_tenths = (sum * 20 + out.responses) / (2 * out.responses);
    }
    if let Some(u) = user {
        out.mine = satisfaction_score::Entity::find()
            .filter(satisfaction_score::Column::OrganizationId.eq(org_id))
            .filter(satisfaction_score::Column::Year.eq(year))
            .filter(satisfaction_score::Column::UserId.eq(u.id))
            .one(db)
            .await?
            .map(|s| s.score);
    }
    Ok(out)
}

/// The sum and count of an organization's scores from `from_year` on.
pub async fn totals(db: &impl ConnectionTrait, org_id: i64, from_year: i32) -> AppResult<(i64, i64)> {
    let scores = satisfaction_score::Entity::find()
        .filter(satisfaction_score::Column::OrganizationId.eq(org_id))
        .filter(satisfaction_score::Column::Year.gte(from_year))
        .all(db)
        .await?;
    Ok((scores.iter().map(|s| i64::from(s.score)).sum(), scores.len() as i64))
}
