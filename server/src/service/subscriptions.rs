//! The subscribe-message quota ledger. Each `accept` in `wx.requestSubscribeMessage`
//! allows exactly one send of that template; WeChat has no API to ask what is left, so
//! Linli keeps the count per user × template, spends one per successful send, and
//! zeroes it when WeChat says 43101.

use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, OnConflict},
};

use crate::{
    auth::AuthUser,
    context::AppContext,
    entity::subscription_quota,
    error::{AppError, AppResult},
};

/// One template's balance is never allowed to grow past this.
pub const MAX_BALANCE: i32 = 100;

/// A purpose Linli pushes for, and its configured template.
pub fn templates(ctx: &AppContext) -> [(&'static str, Option<String>); 3] {
    let w = &ctx.config.wechat;
    [
        ("reminder", w.template_reminder.clone()),
        ("signup", w.template_signup.clone()),
        ("change", w.template_change.clone()),
    ]
}

pub fn template_for(ctx: &AppContext, purpose: &str) -> Option<String> {
    templates(ctx).into_iter().find(|(p, _)| *p == purpose).and_then(|(_, t)| t)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Accept,
    Reject,
    Ban,
    Filter,
}

impl Outcome {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "accept" => Some(Outcome::Accept),
            "reject" => Some(Outcome::Reject),
            "ban" => Some(Outcome::Ban),
            "filter" => Some(Outcome::Filter),
            _ => None,
        }
    }
}

/// Records what `wx.requestSubscribeMessage` returned: `accept` adds one send, `ban`
/// zeroes the template and marks it banned, `reject` and `filter` change nothing.
pub async fn record(ctx: &AppContext, user: &AuthUser, results: &[(String, Outcome)]) -> AppResult<()> {
    let known: Vec<String> = templates(ctx).into_iter().filter_map(|(_, t)| t).collect();
    for (i, (template, _)) in results.iter().enumerate() {
        if !known.contains(template) {
            return Err(AppError::invalid(
                &format!("results[{i}]"),
                "unknown_template",
                format!("模板 {template} 不是本小程序配置的订阅消息模板"),
            ));
        }
    }
    let now = ctx.now();
    for (template, outcome) in results {
        let (balance, banned) = match outcome {
            Outcome::Accept => (1, false),
            Outcome::Ban => (0, true),
            Outcome::Reject | Outcome::Filter => continue,
        };
        let table_balance = Expr::col((subscription_quota::Entity, subscription_quota::Column::Balance));
        let on_conflict = match outcome {
            Outcome::Accept => {
                OnConflict::columns([subscription_quota::Column::UserId, subscription_quota::Column::TemplateId])
                    .value(
                        subscription_quota::Column::Balance,
                        Expr::case(table_balance.clone().gte(MAX_BALANCE), MAX_BALANCE).finally(table_balance.add(1)),
                    )
                    .value(subscription_quota::Column::Banned, false)
                    .value(subscription_quota::Column::UpdatedAt, now)
                    .to_owned()
            }
            _ => OnConflict::columns([subscription_quota::Column::UserId, subscription_quota::Column::TemplateId])
                .value(subscription_quota::Column::Balance, 0)
                .value(subscription_quota::Column::Banned, true)
                .value(subscription_quota::Column::UpdatedAt, now)
                .to_owned(),
        };
        subscription_quota::Entity::insert(subscription_quota::ActiveModel {
            user_id: Set(user.id),
            template_id: Set(template.clone()),
            balance: Set(balance),
            banned: Set(banned),
            updated_at: Set(now),
        })
        .on_conflict(on_conflict)
        .exec_without_returning(&ctx.db)
        .await?;
    }
    Ok(())
}

/// Balance per purpose, so the mini-program knows when to ask again.
pub async fn balances(ctx: &AppContext, user: &AuthUser) -> AppResult<Vec<(&'static str, Option<String>, i32, bool)>> {
    let rows =
        subscription_quota::Entity::find().filter(subscription_quota::Column::UserId.eq(user.id)).all(&ctx.db).await?;
    Ok(templates(ctx)
        .into_iter()
        .map(|(purpose, template)| {
            let row = template.as_ref().and_then(|t| rows.iter().find(|r| &r.template_id == t));
            (purpose, template, row.map(|r| r.balance).unwrap_or(0), row.is_some_and(|r| r.banned))
        })
        .collect())
}

/// Takes one send from the balance before sending; false when there is none.
pub async fn reserve(db: &impl ConnectionTrait, user_id: i64, template: &str) -> AppResult<bool> {
    Ok(subscription_quota::Entity::update_many()
        .col_expr(subscription_quota::Column::Balance, Expr::col(subscription_quota::Column::Balance).sub(1))
        .filter(subscription_quota::Column::UserId.eq(user_id))
        .filter(subscription_quota::Column::TemplateId.eq(template))
        .filter(subscription_quota::Column::Balance.gt(0))
        .filter(subscription_quota::Column::Banned.eq(false))
        .exec(db)
        .await?
        .rows_affected
        == 1)
}

/// Gives a reserved send back: the message did not go out.
pub async fn refund(db: &impl ConnectionTrait, user_id: i64, template: &str) -> AppResult<()> {
    subscription_quota::Entity::update_many()
        .col_expr(subscription_quota::Column::Balance, Expr::col(subscription_quota::Column::Balance).add(1))
        .filter(subscription_quota::Column::UserId.eq(user_id))
        .filter(subscription_quota::Column::TemplateId.eq(template))
        .exec(db)
        .await?;
    Ok(())
}

/// WeChat says the user has nothing left (43101): believe it.
pub async fn zero(db: &impl ConnectionTrait, user_id: i64, template: &str) -> AppResult<()> {
    subscription_quota::Entity::update_many()
        .col_expr(subscription_quota::Column::Balance, Expr::value(0))
        .filter(subscription_quota::Column::UserId.eq(user_id))
        .filter(subscription_quota::Column::TemplateId.eq(template))
        .exec(db)
        .await?;
    Ok(())
}
