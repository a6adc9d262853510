//! What the ledger shows: a member's statement and a region's figures.

use super::*;

// ---- statements ------------------------------------------------------------------------

/// One line of a statement: a movement of the account, with its transfer.
#[derive(Debug, Clone)]
pub struct StatementLine {
    pub movement: movement::Model,
    pub transfer: transfer::Model,
    /// The other side: a member's nickname, or `None` for the bank's own account.
    pub counterparty_user_id: Option<i64>,
    pub counterparty_nickname: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Statement {
    pub bank: time_bank::Model,
    pub account: account::Model,
    pub nickname: Option<String>,
    /// Oldest first.
    pub lines: Vec<StatementLine>,
    pub minutes_in: i64,
    pub minutes_out: i64,
}

/// A member's statement: every movement of their account, oldest first, with the running
/// balance. For the member themself and the bank's managers.
pub async fn statement(ctx: &AppContext, user: &AuthUser, bank_id: i64, member_id: i64) -> AppResult<Statement> {
    let bank = find_bank(&ctx.db, bank_id).await?;
    if user.id != member_id && !may_manage(&ctx.db, user, &bank).await? {
        return Err(AppError::Forbidden("only the member or a manager reads a statement"));
    }
    let acc = member_account(&ctx.db, bank_id, member_id).await?.ok_or(AppError::NotFound("time_bank_account"))?;
    let moves = movement::Entity::find()
        .filter(movement::Column::AccountId.eq(acc.id))
        .order_by_asc(movement::Column::Id)
        .limit(5000)
        .all(&ctx.db)
        .await?;
    let transfers: HashMap<i64, transfer::Model> = transfer::Entity::find()
        .filter(transfer::Column::Id.is_in(moves.iter().map(|m| m.transfer_id).collect::<Vec<_>>()))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let other_ids: Vec<i64> = transfers
        .values()
        .map(|t| if t.from_account_id == acc.id { t.to_account_id } else { t.from_account_id })
        .collect();
    let others: HashMap<i64, account::Model> = account::Entity::find()
        .filter(account::Column::Id.is_in(other_ids))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    let mut user_ids: Vec<i64> = others.values().filter_map(|a| a.user_id).collect();
    user_ids.push(member_id);
    let names: HashMap<i64, Option<String>> = user::Entity::find()
        .filter(user::Column::Id.is_in(user_ids))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.nickname))
        .collect();
    let mut lines = Vec::with_capacity(moves.len());
    let (mut minutes_in, mut minutes_out) = (0, 0);
    for m in moves {
        let Some(t) = transfers.get(&m.transfer_id).cloned() else { continue };
        let other = if t.from_account_id == acc.id { t.to_account_id } else { t.from_account_id };
        let counterparty_user_id = others.get(&other).and_then(|a| a.user_id);
        if m.minutes > 0 {
            minutes_in += m.minutes;
        } else {
            minutes_out -= m.minutes;
        }
        lines.push(StatementLine {
            counterparty_nickname: counterparty_user_id.and_then(|u| names.get(&u).cloned().flatten()),
            counterparty_user_id,
            movement: m,
            transfer: t,
        });
    }
    Ok(Statement {
        nickname: names.get(&member_id).cloned().flatten(),
        bank,
        account: acc,
        lines,
        minutes_in,
        minutes_out,
    })
}

// ---- figures ---------------------------------------------------------------------------

/// A bank's figures for a period, for region metrics and the export.
#[derive(Debug, Clone, Default)]
pub struct BankFigures {
    pub bank_id: i64,
    pub name: String,
    pub region_id: i64,
    pub region_name: String,
    /// Accepted members now.
    pub members: i64,
    /// Requests to join waiting now.
    pub pending_members: i64,
    pub open_offers: i64,
    pub open_requests: i64,
    /// Minutes exchanged between members in the period (confirmed agreements).
    pub minutes_exchanged: i64,
    /// Minutes the bank credited for its activities in the period.
    pub minutes_credited: i64,
    /// Minutes moved back by reversals in the period.
    pub minutes_reversed: i64,
    pub transfers: i64,
    /// `(YYYY-MM, exchanged, credited)` for each month of the period (Asia/Shanghai).
    pub monthly: Vec<(String, i64, i64)>,
}

/// The figures of the banks in the subtree of the region at `path`.
pub async fn figures(
    db: &impl ConnectionTrait,
    path: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    months: &[String],
) -> AppResult<Vec<BankFigures>> {
    let regions: HashMap<i64, region::Model> = region::Entity::find()
        .filter(region::Column::Path.starts_with(path))
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let banks = time_bank::Entity::find()
        .filter(time_bank::Column::RegionId.is_in(regions.keys().copied().collect::<Vec<_>>()))
        .order_by_asc(time_bank::Column::Id)
        .all(db)
        .await?;
    let mut out = Vec::with_capacity(banks.len());
    for b in banks {
        let accounts = account::Entity::find()
            .filter(account::Column::BankId.eq(b.id))
            .filter(account::Column::UserId.is_not_null())
            .all(db)
            .await?;
        let open = listing::Entity::find()
            .filter(listing::Column::BankId.eq(b.id))
            .filter(listing::Column::Status.eq(ListingStatus::Open.as_str()))
            .all(db)
            .await?;
        let moved = transfer::Entity::find()
            .filter(transfer::Column::BankId.eq(b.id))
            .filter(transfer::Column::CreatedAt.gte(from))
            .filter(transfer::Column::CreatedAt.lt(to))
            .all(db)
            .await?;
        let mut by_month: BTreeMap<String, (i64, i64)> = months.iter().map(|m| (m.clone(), (0, 0))).collect();
        let mut f = BankFigures {
            bank_id: b.id,
            name: b.name.clone(),
            region_id: b.region_id,
            region_name: regions.get(&b.region_id).map(|r| r.name.clone()).unwrap_or_default(),
            members: accounts.iter().filter(|a| a.status == MemberStatus::Active.as_str()).count() as i64,
            pending_members: accounts.iter().filter(|a| a.status == MemberStatus::Requested.as_str()).count() as i64,
            open_offers: open.iter().filter(|l| l.kind == ListingKind::Offer.as_str()).count() as i64,
            open_requests: open.iter().filter(|l| l.kind == ListingKind::Request.as_str()).count() as i64,
            transfers: moved.len() as i64,
            ..Default::default()
        };
        for t in &moved {
            let month = to_shanghai(t.created_at).format("%Y-%m").to_string();
            let slot = by_month.entry(month).or_default();
            match TransferKind::parse(&t.kind) {
                Some(TransferKind::Exchange) => {
                    f.minutes_exchanged += t.minutes;
                    slot.0 += t.minutes;
                }
                Some(TransferKind::ActivityCredit) => {
                    f.minutes_credited += t.minutes;
                    slot.1 += t.minutes;
                }
                _ => f.minutes_reversed += t.minutes,
            }
        }
        f.monthly = by_month.into_iter().map(|(m, (e, c))| (m, e, c)).collect();
        out.push(f);
    }
    Ok(out)
}
