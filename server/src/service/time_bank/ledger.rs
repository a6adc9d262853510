//! The ledger: transfers as two movements, reversals, and the bank's credit for its
//! activities.

use super::*;

// ---- the ledger ------------------------------------------------------------------------

/// One transfer to write.
#[derive(Debug, Clone)]
pub struct Posting {
    pub from: i64,
    pub to: i64,
    /// Positive minutes.
    pub minutes: i64,
    pub kind: TransferKind,
    pub agreement_id: Option<i64>,
    pub activity_id: Option<i64>,
    pub reverses_id: Option<i64>,
    pub reason: Option<String>,
    pub created_by: Option<i64>,
}

/// Writes a transfer and its two movements inside `txn`, updating both balances with
/// conditional updates (in account-id order, so two transfers between the same accounts
/// never wait on each other in a cycle). A member's account paying may not go below the
/// bank's floor (409 `below_floor`); the bank's own account has no floor.
pub async fn post(
    txn: &impl ConnectionTrait,
    bank: &time_bank::Model,
    p: Posting,
    now: DateTime<Utc>,
) -> AppResult<transfer::Model> {
    if p.minutes <= 0 || p.from == p.to {
        return Err(AppError::Internal(anyhow::anyhow!(
            "a transfer of {} minutes from {} to {}",
            p.minutes,
            p.from,
            p.to
        )));
    }
    let payer = find_account(txn, p.from).await?;
    let payee = find_account(txn, p.to).await?;
    if payer.bank_id != bank.id || payee.bank_id != bank.id {
        return Err(AppError::Internal(anyhow::anyhow!("a transfer across banks")));
    }
    for (id, delta) in if p.from < p.to {
        [(p.from, -p.minutes), (p.to, p.minutes)]
    } else {
        [(p.to, p.minutes), (p.from, -p.minutes)]
    } {
        let mut q = account::Entity::update_many()
            .col_expr(account::Column::Balance, Expr::col(account::Column::Balance).add(delta))
            .filter(account::Column::Id.eq(id));
        if delta < 0 && payer.user_id.is_some() {
            q = q.filter(account::Column::Balance.gte(bank.floor_minutes - delta));
        }
        if q.exec(txn).await?.rows_affected == 0 {
            return Err(AppError::Conflict(
                "below_floor",
                format!("余额不足：支付后将低于本时间银行的透支下限（{} 分钟）", bank.floor_minutes),
            ));
        }
    }
    let t = transfer::Entity::insert(transfer::ActiveModel {
        bank_id: Set(bank.id),
        from_account_id: Set(p.from),
        to_account_id: Set(p.to),
        minutes: Set(p.minutes),
        kind: Set(p.kind.as_str().to_owned()),
        agreement_id: Set(p.agreement_id),
        activity_id: Set(p.activity_id),
        reverses_id: Set(p.reverses_id),
        reason: Set(p.reason),
        created_by: Set(p.created_by),
        created_at: Set(now),
        ..Default::default()
    })
    .exec(txn)
    .await?;
    let from_after = find_account(txn, p.from).await?.balance;
    let to_after = find_account(txn, p.to).await?.balance;
    movement::Entity::insert_many([
        movement::ActiveModel {
            transfer_id: Set(t.last_insert_id),
            account_id: Set(p.from),
            minutes: Set(-p.minutes),
            balance_after: Set(from_after),
            created_at: Set(now),
            ..Default::default()
        },
        movement::ActiveModel {
            transfer_id: Set(t.last_insert_id),
            account_id: Set(p.to),
            minutes: Set(p.minutes),
            balance_after: Set(to_after),
            created_at: Set(now),
            ..Default::default()
        },
    ])
    .exec(txn)
    .await?;
    transfer::Entity::find_by_id(t.last_insert_id).one(txn).await?.ok_or(AppError::NotFound("time_bank_transfer"))
}

/// A manager corrects a transfer with a reversing one (the same minutes back, with a
/// reason); the original stays as it was. A reversal is not reversed (409
/// `invalid_transition`), nor a transfer twice (409 `already_reversed`); the reversal
/// also keeps to the floor (`below_floor`).
pub async fn reverse(ctx: &AppContext, user: &AuthUser, id: i64, reason: String) -> AppResult<transfer::Model> {
    let t = transfer::Entity::find_by_id(id).one(&ctx.db).await?.ok_or(AppError::NotFound("time_bank_transfer"))?;
    let bank = find_bank(&ctx.db, t.bank_id).await?;
    require_manager(&ctx.db, user, &bank).await?;
    if t.kind == TransferKind::Reversal.as_str() {
        return Err(conflict("invalid_transition", "冲正记录不能再冲正"));
    }
    let reversal = retrying(|| async {
        let txn = begin_write(&ctx.db).await?;
        let posted = post(
            &txn,
            &bank,
            Posting {
                from: t.to_account_id,
                to: t.from_account_id,
                minutes: t.minutes,
                kind: TransferKind::Reversal,
                agreement_id: None,
                activity_id: None,
                reverses_id: Some(t.id),
                reason: Some(reason.clone()),
                created_by: Some(user.id),
            },
            ctx.now(),
        )
        .await;
        match posted {
            Ok(r) => {
                txn.commit().await?;
                Ok(r)
            }
            Err(AppError::Internal(e)) if e.downcast_ref::<sea_orm::DbErr>().is_some_and(is_unique_violation) => {
                Err(conflict("already_reversed", "该笔记录已冲正"))
            }
            Err(e) => Err(e),
        }
    })
    .await?;
    Ok(reversal)
}

// ---- activities credited by the bank ---------------------------------------------------

/// The bank serving a community: its own, else its street's.
pub async fn bank_for_community(db: &impl ConnectionTrait, community_id: i64) -> AppResult<Option<time_bank::Model>> {
    let path = region_path(db, community_id).await?;
    let ids: Vec<i64> = path.split('/').filter_map(|s| s.parse().ok()).collect();
    let banks = time_bank::Entity::find().filter(time_bank::Column::RegionId.is_in(ids.clone())).all(db).await?;
    // The deepest region wins: the community's own bank before the street's.
    Ok(banks.into_iter().max_by_key(|b| ids.iter().position(|i| *i == b.region_id)))
}

/// The organization's staff mark an activity (not yet closed) as credited by the time
/// bank serving its community, or unmark it. No bank: 409 `no_time_bank`.
pub async fn mark_activity(ctx: &AppContext, user: &AuthUser, id: i64, credited: bool) -> AppResult<activity::Model> {
    let a = activity::Entity::find_by_id(id).one(&ctx.db).await?.ok_or(AppError::NotFound("activity"))?;
    crate::service::activities::require_org_staff(user, a.organization_id)?;
    if !matches!(
        ActivityStatus::parse(&a.status),
        Some(ActivityStatus::Draft | ActivityStatus::Held | ActivityStatus::Published)
    ) {
        return Err(conflict("invalid_transition", "活动已结束或已取消"));
    }
    if credited && bank_for_community(&ctx.db, a.community_id).await?.is_none() {
        return Err(conflict("no_time_bank", "活动所在社区尚无时间银行"));
    }
    activity::Entity::update_many()
        .col_expr(activity::Column::TimeBankCredited, Expr::value(credited))
        .col_expr(activity::Column::UpdatedAt, Expr::value(ctx.now()))
        .filter(activity::Column::Id.eq(id))
        .exec(&ctx.db)
        .await?;
    activity::Entity::find_by_id(id).one(&ctx.db).await?.ok_or(AppError::NotFound("activity"))
}

/// On closing a time-bank-credited activity, inside the closing transaction: each
/// attendee with credited minutes who is an accepted member of the bank serving the
/// activity's community gets them as a transfer from the bank's own account (once per
/// activity and member). Residents who are not members get nothing here — their service
/// hours are credited as always. Returns the minutes credited.
pub async fn credit_activity(
    txn: &DatabaseTransaction,
    a: &activity::Model,
    credited: &[(i64, i32)],
    now: DateTime<Utc>,
) -> AppResult<i64> {
    if !a.time_bank_credited {
        return Ok(0);
    }
    let Some(bank) = bank_for_community(txn, a.community_id).await? else { return Ok(0) };
    let own = bank_account(txn, bank.id).await?;
    let users: Vec<i64> = credited.iter().filter(|(_, m)| *m > 0).map(|(u, _)| *u).collect();
    let members: HashMap<i64, i64> = account::Entity::find()
        .filter(account::Column::BankId.eq(bank.id))
        .filter(account::Column::UserId.is_in(users))
        .filter(account::Column::Status.eq(MemberStatus::Active.as_str()))
        .all(txn)
        .await?
        .into_iter()
        .filter_map(|m| m.user_id.map(|u| (u, m.id)))
        .collect();
    let mut total = 0;
    for (user_id, minutes) in credited {
        let Some(to) = members.get(user_id) else { continue };
        if *minutes <= 0 {
            continue;
        }
        post(
            txn,
            &bank,
            Posting {
                from: own.id,
                to: *to,
                minutes: i64::from(*minutes),
                kind: TransferKind::ActivityCredit,
                agreement_id: None,
                activity_id: Some(a.id),
                reverses_id: None,
                reason: Some(a.title.clone()),
                created_by: None,
            },
            now,
        )
        .await?;
        total += i64::from(*minutes);
    }
    Ok(total)
}
