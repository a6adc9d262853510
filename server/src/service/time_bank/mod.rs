//! The time bank (时间银行): banks, memberships, offers and requests, agreements, the
//! ledger, statements and figures. Rules that need no database are in
//! `domain::time_bank`.
//!
//! Who may do what:
//! - a bank is created by the committee over its community, or by a street office for a
//!   street (serving its communities) — one bank per region;
//! - its **managers** (the committee or street office over its region, or the leader and
//!   staff of the organization it designates) accept members and reverse transfers;
//! - its **members** (accepted) post offers and requests, agree, and confirm time;
//! - a member reads their own statement; managers read anyone's.
//!
//! Money-like rule: a balance changes only inside the transfer's transaction, through one
//! conditional `UPDATE` (`balance >= floor + minutes` for a member paying), so concurrent
//! transfers never lose an update nor take a member below the floor.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait as _},
};

use crate::{
    auth::{
        AuthUser,
        scope::{holds_region_role, path_covers, region_path},
    },
    context::AppContext,
    domain::{
        activity::ActivityStatus,
        clock::to_shanghai,
        organization::OrgStatus,
        role::Role,
        time_bank::{
            AgreementStatus, DEFAULT_FLOOR_MINUTES, FLOOR_RANGE, HelpCategory, ListingKind, ListingStatus,
            MemberStatus, TransferKind, parse_minutes, parties,
        },
    },
    entity::{
        activity, organization, region, time_bank, time_bank_account as account, time_bank_agreement as agreement,
        time_bank_listing as listing, time_bank_movement as movement, time_bank_transfer as transfer, user,
    },
    error::{AppError, AppResult},
    service::{begin_write, is_unique_violation, retrying},
};

fn conflict(code: &'static str, detail: &str) -> AppError {
    AppError::Conflict(code, detail.to_owned())
}

mod demo;
mod ledger;
mod statements;

pub use demo::seed_demo;
pub use ledger::{Posting, bank_for_community, credit_activity, mark_activity, post, reverse};
pub use statements::{BankFigures, Statement, StatementLine, figures, statement};

// ---- banks ----------------------------------------------------------------------------

/// A bank as created.
#[derive(Debug, Clone)]
pub struct BankInput {
    pub region_id: i64,
    pub name: String,
    /// Minutes, −6000..=0; default −600.
    pub floor_minutes: Option<i64>,
    pub managing_org_id: Option<i64>,
}

/// A bank as shown.
#[derive(Debug, Clone)]
pub struct BankView {
    pub bank: time_bank::Model,
    pub region_name: String,
    /// Accepted members.
    pub members: i64,
    /// The bank's own account balance (minus what it has credited), in minutes.
    pub bank_balance: i64,
    /// The caller's membership, when they asked to join.
    pub my_account: Option<account::Model>,
    /// Whether the caller manages it.
    pub may_manage: bool,
}

async fn find_bank(db: &impl ConnectionTrait, id: i64) -> AppResult<time_bank::Model> {
    time_bank::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("time_bank"))
}

/// Whether `user` manages `bank`: an official (committee, street) over its region, or the
/// leader or staff of the organization it designates.
pub async fn may_manage(db: &impl ConnectionTrait, user: &AuthUser, bank: &time_bank::Model) -> AppResult<bool> {
    if user.is_system_admin() {
        return Ok(true);
    }
    if let Some(org) = bank.managing_org_id
        && user.grants.iter().any(|g| matches!(g.role, Role::OrgLeader | Role::OrgStaff) && g.scope_id == Some(org))
    {
        return Ok(true);
    }
    let path = region_path(db, bank.region_id).await?;
    Ok(holds_region_role(user, &[Role::Committee, Role::Street], &path))
}

async fn require_manager(db: &impl ConnectionTrait, user: &AuthUser, bank: &time_bank::Model) -> AppResult<()> {
    if may_manage(db, user, bank).await? { Ok(()) } else { Err(AppError::Forbidden("requires a time bank manager")) }
}

async fn bank_account(db: &impl ConnectionTrait, bank_id: i64) -> AppResult<account::Model> {
    account::Entity::find()
        .filter(account::Column::BankId.eq(bank_id))
        .filter(account::Column::UserId.is_null())
        .one(db)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("time bank {bank_id} has no account of its own")))
}

async fn member_account(db: &impl ConnectionTrait, bank_id: i64, user_id: i64) -> AppResult<Option<account::Model>> {
    Ok(account::Entity::find()
        .filter(account::Column::BankId.eq(bank_id))
        .filter(account::Column::UserId.eq(user_id))
        .one(db)
        .await?)
}

/// The caller's accepted membership of the bank (403 `not_a_member` otherwise).
async fn require_member(db: &impl ConnectionTrait, user: &AuthUser, bank_id: i64) -> AppResult<account::Model> {
    match member_account(db, bank_id, user.id).await? {
        Some(a) if a.status == MemberStatus::Active.as_str() => Ok(a),
        _ => Err(AppError::Forbidden("requires a time bank member")),
    }
}

async fn view(ctx: &AppContext, user: &AuthUser, bank: time_bank::Model) -> AppResult<BankView> {
    let region_name =
        region::Entity::find_by_id(bank.region_id).one(&ctx.db).await?.map(|r| r.name).unwrap_or_default();
    let active = account::Entity::find()
        .filter(account::Column::BankId.eq(bank.id))
        .filter(account::Column::UserId.is_not_null())
        .filter(account::Column::Status.eq(MemberStatus::Active.as_str()));
    let members = PaginatorTrait::count(active, &ctx.db).await? as i64;
    let bank_balance = bank_account(&ctx.db, bank.id).await?.balance;
    let my_account = member_account(&ctx.db, bank.id, user.id).await?;
    let may_manage = may_manage(&ctx.db, user, &bank).await?;
    Ok(BankView { bank, region_name, members, bank_balance, my_account, may_manage })
}

/// Creates a bank for a community (its committee, or the street office over it) or a
/// street (its street office), with its own account at zero. A second bank for the same
/// region is 409 `time_bank_exists`; a region that is neither is 422.
pub async fn create_bank(ctx: &AppContext, user: &AuthUser, input: BankInput) -> AppResult<BankView> {
    let region = region::Entity::find_by_id(input.region_id).one(&ctx.db).await?.ok_or(AppError::NotFound("region"))?;
    if !holds_region_role(user, &[Role::Committee, Role::Street], &region.path) {
        return Err(AppError::Forbidden("requires the committee or street office over the region"));
    }
    if !matches!(region.level.as_str(), "community" | "street") {
        return Err(AppError::invalid(
            "region_id",
            "not_community_or_street",
            "时间银行须设在社区（村）或街道（乡镇）",
        ));
    }
    let floor = input.floor_minutes.unwrap_or(DEFAULT_FLOOR_MINUTES);
    if !FLOOR_RANGE.contains(&floor) {
        return Err(AppError::invalid("floor_minutes", "range", "透支下限须在 −6000 到 0 分钟之间"));
    }
    if let Some(org) = input.managing_org_id {
        check_designation(&ctx.db, org, region.id).await?;
    }
    let now = ctx.now();
    let txn = begin_write(&ctx.db).await?;
    let inserted = time_bank::Entity::insert(time_bank::ActiveModel {
        region_id: Set(region.id),
        name: Set(input.name),
        floor_minutes: Set(floor),
        managing_org_id: Set(input.managing_org_id),
        created_by: Set(user.id),
        created_at: Set(now),
        ..Default::default()
    })
    .exec(&txn)
    .await;
    let id = match inserted {
        Ok(r) => r.last_insert_id,
        Err(e) if is_unique_violation(&e) => return Err(conflict("time_bank_exists", "该地区已有时间银行")),
        Err(e) => return Err(e.into()),
    };
    account::Entity::insert(account::ActiveModel {
        bank_id: Set(id),
        user_id: Set(None),
        status: Set(MemberStatus::Active.as_str().to_owned()),
        balance: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(&txn)
    .await?;
    txn.commit().await?;
    view(ctx, user, find_bank(&ctx.db, id).await?).await
}

/// The banks serving `region_id` (its own, the street's above it) and those under it;
/// every bank without a region.
pub async fn banks(ctx: &AppContext, user: &AuthUser, region_id: Option<i64>) -> AppResult<Vec<BankView>> {
    let all = time_bank::Entity::find().order_by_asc(time_bank::Column::Id).all(&ctx.db).await?;
    let wanted = match region_id {
        None => all,
        Some(r) => {
            let path = region_path(&ctx.db, r).await?;
            let mut out = Vec::new();
            for b in all {
                let bank_path = region_path(&ctx.db, b.region_id).await?;
                if path_covers(&path, b.region_id) || path_covers(&bank_path, r) {
                    out.push(b);
                }
            }
            out
        }
    };
    let mut out = Vec::with_capacity(wanted.len());
    for b in wanted {
        out.push(view(ctx, user, b).await?);
    }
    Ok(out)
}

/// What a bank's officials change.
#[derive(Debug, Clone, Default)]
pub struct BankPatch {
    pub name: Option<String>,
    /// Minutes, −6000..=0. A floor above a member's present balance takes nothing back:
    /// it only stops further debts.
    pub floor_minutes: Option<i64>,
    /// `Some(None)` withdraws the designation.
    pub managing_org_id: Option<Option<i64>>,
}

/// The officials over a bank's region (its committee, the street office) change its name,
/// floor or designated organization. A designated organization manages members and
/// corrections but does not change the bank (403).
pub async fn update_bank(ctx: &AppContext, user: &AuthUser, id: i64, patch: BankPatch) -> AppResult<BankView> {
    let bank = find_bank(&ctx.db, id).await?;
    let path = region_path(&ctx.db, bank.region_id).await?;
    if !holds_region_role(user, &[Role::Committee, Role::Street], &path) {
        return Err(AppError::Forbidden("requires the committee or street office over the bank"));
    }
    if let Some(floor) = patch.floor_minutes
        && !FLOOR_RANGE.contains(&floor)
    {
        return Err(AppError::invalid("floor_minutes", "range", "透支下限须在 −6000 到 0 分钟之间"));
    }
    if let Some(Some(org)) = patch.managing_org_id {
        check_designation(&ctx.db, org, bank.region_id).await?;
    }
    let mut q = time_bank::Entity::update_many().filter(time_bank::Column::Id.eq(id));
    if let Some(name) = patch.name {
        q = q.col_expr(time_bank::Column::Name, Expr::value(name));
    }
    if let Some(floor) = patch.floor_minutes {
        q = q.col_expr(time_bank::Column::FloorMinutes, Expr::value(floor));
    }
    if let Some(org) = patch.managing_org_id {
        q = q.col_expr(time_bank::Column::ManagingOrgId, Expr::value(org));
    }
    // Setting the id to itself keeps the UPDATE well-formed when nothing else changes.
    q.col_expr(time_bank::Column::Id, Expr::col(time_bank::Column::Id)).exec(&ctx.db).await?;
    view(ctx, user, find_bank(&ctx.db, id).await?).await
}

/// A designated organization must be filed or registered, in the bank's region.
async fn check_designation(db: &impl ConnectionTrait, org: i64, region_id: i64) -> AppResult<()> {
    let o = organization::Entity::find_by_id(org).one(db).await?.ok_or(AppError::NotFound("organization"))?;
    let community = region_path(db, o.community_id).await?;
    let recognised = OrgStatus::parse(&o.status).is_some_and(|s| s.is_recognised());
    if !recognised || !path_covers(&community, region_id) {
        return Err(AppError::invalid(
            "managing_organization_id",
            "not_in_region",
            "受托组织须是本辖区已备案或登记的组织",
        ));
    }
    Ok(())
}

pub async fn bank(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<BankView> {
    let b = find_bank(&ctx.db, id).await?;
    view(ctx, user, b).await
}

// ---- membership ----------------------------------------------------------------------

/// A membership with the member's nickname.
#[derive(Debug, Clone)]
pub struct Member {
    pub account: account::Model,
    pub nickname: Option<String>,
}

/// A resident asks to join: their home community must be in the bank's region
/// (422 `outside_bank_area`). Asking again answers the same; after a refusal it asks anew.
pub async fn join(ctx: &AppContext, user: &AuthUser, bank_id: i64) -> AppResult<account::Model> {
    let bank = find_bank(&ctx.db, bank_id).await?;
    let home = match user.home_community_id {
        Some(c) => region_path(&ctx.db, c).await?,
        None => String::new(),
    };
    if !path_covers(&home, bank.region_id) {
        return Err(AppError::invalid(
            "home_community_id",
            "outside_bank_area",
            "您的所在社区不在该时间银行的服务范围内",
        ));
    }
    let now = ctx.now();
    if let Some(a) = member_account(&ctx.db, bank_id, user.id).await? {
        if a.status != MemberStatus::Rejected.as_str() {
            return Ok(a);
        }
        account::Entity::update_many()
            .col_expr(account::Column::Status, Expr::value(MemberStatus::Requested.as_str()))
            .col_expr(account::Column::UpdatedAt, Expr::value(now))
            .filter(account::Column::Id.eq(a.id))
            .filter(account::Column::Status.eq(MemberStatus::Rejected.as_str()))
            .exec(&ctx.db)
            .await?;
        return find_account(&ctx.db, a.id).await;
    }
    let inserted = account::Entity::insert(account::ActiveModel {
        bank_id: Set(bank_id),
        user_id: Set(Some(user.id)),
        status: Set(MemberStatus::Requested.as_str().to_owned()),
        balance: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(&ctx.db)
    .await;
    match inserted {
        Ok(r) => find_account(&ctx.db, r.last_insert_id).await,
        // Two taps at once: the other made it.
        Err(e) if is_unique_violation(&e) => {
            member_account(&ctx.db, bank_id, user.id).await?.ok_or(AppError::NotFound("time_bank_account"))
        }
        Err(e) => Err(e.into()),
    }
}

async fn find_account(db: &impl ConnectionTrait, id: i64) -> AppResult<account::Model> {
    account::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("time_bank_account"))
}

/// A bank's memberships (managers), oldest first, optionally of one status.
pub async fn members(
    ctx: &AppContext,
    user: &AuthUser,
    bank_id: i64,
    status: Option<MemberStatus>,
) -> AppResult<Vec<Member>> {
    let bank = find_bank(&ctx.db, bank_id).await?;
    require_manager(&ctx.db, user, &bank).await?;
    let mut q = account::Entity::find()
        .filter(account::Column::BankId.eq(bank_id))
        .filter(account::Column::UserId.is_not_null());
    if let Some(s) = status {
        q = q.filter(account::Column::Status.eq(s.as_str()));
    }
    let rows = q.order_by_asc(account::Column::Id).limit(1000).all(&ctx.db).await?;
    nicknamed(&ctx.db, rows).await
}

async fn nicknamed(db: &impl ConnectionTrait, rows: Vec<account::Model>) -> AppResult<Vec<Member>> {
    let ids: Vec<i64> = rows.iter().filter_map(|a| a.user_id).collect();
    let names: HashMap<i64, Option<String>> = user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.nickname))
        .collect();
    Ok(rows
        .into_iter()
        .map(|a| Member { nickname: a.user_id.and_then(|u| names.get(&u).cloned().flatten()), account: a })
        .collect())
}

/// A manager accepts or refuses a request to join (a refusal needs a reason). Deciding a
/// membership that is not waiting is 409 `invalid_transition`.
pub async fn review_member(
    ctx: &AppContext,
    user: &AuthUser,
    bank_id: i64,
    member_id: i64,
    approve: bool,
    reason: Option<String>,
) -> AppResult<Member> {
    let bank = find_bank(&ctx.db, bank_id).await?;
    require_manager(&ctx.db, user, &bank).await?;
    let a = member_account(&ctx.db, bank_id, member_id).await?.ok_or(AppError::NotFound("time_bank_account"))?;
    if !approve && reason.is_none() {
        return Err(AppError::invalid("reason", "required", "拒绝时须说明理由"));
    }
    let to = if approve { MemberStatus::Active } else { MemberStatus::Rejected };
    let done = account::Entity::update_many()
        .col_expr(account::Column::Status, Expr::value(to.as_str()))
        .col_expr(account::Column::ReviewedBy, Expr::value(user.id))
        .col_expr(account::Column::ReviewReason, Expr::value(reason))
        .col_expr(account::Column::UpdatedAt, Expr::value(ctx.now()))
        .filter(account::Column::Id.eq(a.id))
        .filter(account::Column::Status.eq(MemberStatus::Requested.as_str()))
        .exec(&ctx.db)
        .await?;
    if done.rows_affected == 0 {
        return Err(conflict("invalid_transition", "该申请已处理"));
    }
    let rows = nicknamed(&ctx.db, vec![find_account(&ctx.db, a.id).await?]).await?;
    rows.into_iter().next().ok_or(AppError::NotFound("time_bank_account"))
}

// ---- listings and agreements ---------------------------------------------------------

#[derive(Debug, Clone)]
pub struct ListingInput {
    pub kind: ListingKind,
    pub category: HelpCategory,
    pub title: String,
    pub description: String,
    pub minutes: i64,
}

#[derive(Debug, Clone)]
pub struct ListingView {
    pub listing: listing::Model,
    pub author_id: i64,
    pub author_nickname: Option<String>,
}

async fn listing_views(db: &impl ConnectionTrait, rows: Vec<listing::Model>) -> AppResult<Vec<ListingView>> {
    let accounts: HashMap<i64, account::Model> = account::Entity::find()
        .filter(account::Column::Id.is_in(rows.iter().map(|l| l.account_id).collect::<Vec<_>>()))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    let members = nicknamed(db, accounts.values().cloned().collect()).await?;
    let names: HashMap<i64, Option<String>> = members.into_iter().map(|m| (m.account.id, m.nickname)).collect();
    Ok(rows
        .into_iter()
        .map(|l| ListingView {
            author_id: accounts.get(&l.account_id).and_then(|a| a.user_id).unwrap_or_default(),
            author_nickname: names.get(&l.account_id).cloned().flatten(),
            listing: l,
        })
        .collect())
}

/// A member posts an offer or a request.
pub async fn create_listing(
    ctx: &AppContext,
    user: &AuthUser,
    bank_id: i64,
    input: ListingInput,
) -> AppResult<ListingView> {
    find_bank(&ctx.db, bank_id).await?;
    let me = require_member(&ctx.db, user, bank_id).await?;
    let minutes =
        parse_minutes(input.minutes).ok_or_else(|| AppError::invalid("minutes", "range", "时长须为 1–1440 分钟"))?;
    let now = ctx.now();
    let r = listing::Entity::insert(listing::ActiveModel {
        bank_id: Set(bank_id),
        account_id: Set(me.id),
        kind: Set(input.kind.as_str().to_owned()),
        category: Set(input.category.as_str().to_owned()),
        title: Set(input.title),
        description: Set(input.description),
        minutes: Set(minutes),
        status: Set(ListingStatus::Open.as_str().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(&ctx.db)
    .await?;
    let l = find_listing(&ctx.db, r.last_insert_id).await?;
    listing_views(&ctx.db, vec![l]).await?.pop().ok_or(AppError::NotFound("time_bank_listing"))
}

async fn find_listing(db: &impl ConnectionTrait, id: i64) -> AppResult<listing::Model> {
    listing::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("time_bank_listing"))
}

/// A bank's open listings, newest first (members and managers).
pub async fn listings(
    ctx: &AppContext,
    user: &AuthUser,
    bank_id: i64,
    kind: Option<ListingKind>,
    category: Option<HelpCategory>,
) -> AppResult<Vec<ListingView>> {
    let bank = find_bank(&ctx.db, bank_id).await?;
    if !may_manage(&ctx.db, user, &bank).await? {
        require_member(&ctx.db, user, bank_id).await?;
    }
    let mut q = listing::Entity::find()
        .filter(listing::Column::BankId.eq(bank_id))
        .filter(listing::Column::Status.eq(ListingStatus::Open.as_str()));
    if let Some(k) = kind {
        q = q.filter(listing::Column::Kind.eq(k.as_str()));
    }
    if let Some(c) = category {
        q = q.filter(listing::Column::Category.eq(c.as_str()));
    }
    let rows = q.order_by_desc(listing::Column::Id).limit(200).all(&ctx.db).await?;
    listing_views(&ctx.db, rows).await
}

/// Its author (or a manager) closes a listing; closing twice answers the same.
pub async fn close_listing(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<ListingView> {
    let l = find_listing(&ctx.db, id).await?;
    let bank = find_bank(&ctx.db, l.bank_id).await?;
    let mine = member_account(&ctx.db, l.bank_id, user.id).await?.is_some_and(|a| a.id == l.account_id);
    if !mine && !may_manage(&ctx.db, user, &bank).await? {
        return Err(AppError::Forbidden("not your listing"));
    }
    listing::Entity::update_many()
        .col_expr(listing::Column::Status, Expr::value(ListingStatus::Closed.as_str()))
        .col_expr(listing::Column::UpdatedAt, Expr::value(ctx.now()))
        .filter(listing::Column::Id.eq(id))
        .exec(&ctx.db)
        .await?;
    listing_views(&ctx.db, vec![find_listing(&ctx.db, id).await?])
        .await?
        .pop()
        .ok_or(AppError::NotFound("time_bank_listing"))
}

/// An agreement with its parties' user ids.
#[derive(Debug, Clone)]
pub struct AgreementView {
    pub agreement: agreement::Model,
    pub helper_id: i64,
    pub helped_id: i64,
    pub transfer: Option<transfer::Model>,
}

async fn agreement_view(db: &impl ConnectionTrait, a: agreement::Model) -> AppResult<AgreementView> {
    let helper = find_account(db, a.helper_account_id).await?;
    let helped = find_account(db, a.helped_account_id).await?;
    let transfer = match a.transfer_id {
        Some(t) => transfer::Entity::find_by_id(t).one(db).await?,
        None => None,
    };
    Ok(AgreementView {
        helper_id: helper.user_id.unwrap_or_default(),
        helped_id: helped.user_id.unwrap_or_default(),
        transfer,
        agreement: a,
    })
}

async fn find_agreement(db: &impl ConnectionTrait, id: i64) -> AppResult<agreement::Model> {
    agreement::Entity::find_by_id(id).one(db).await?.ok_or(AppError::NotFound("time_bank_agreement"))
}

/// A member answers an open listing of someone else, proposing the minutes: for an offer
/// they are the helped, for a request the helper. 409 `listing_closed`, `own_listing`.
pub async fn propose(
    ctx: &AppContext,
    user: &AuthUser,
    listing_id: i64,
    minutes: Option<i64>,
) -> AppResult<AgreementView> {
    let l = find_listing(&ctx.db, listing_id).await?;
    let me = require_member(&ctx.db, user, l.bank_id).await?;
    if l.status != ListingStatus::Open.as_str() {
        return Err(conflict("listing_closed", "该需求或服务已关闭"));
    }
    if l.account_id == me.id {
        return Err(conflict("own_listing", "不能回应自己发布的内容"));
    }
    let minutes = parse_minutes(minutes.unwrap_or(l.minutes))
        .ok_or_else(|| AppError::invalid("minutes", "range", "时长须为 1–1440 分钟"))?;
    let kind = ListingKind::parse(&l.kind).unwrap_or(ListingKind::Offer);
    let (helper, helped) = parties(kind, l.account_id, me.id);
    let now = ctx.now();
    let r = agreement::Entity::insert(agreement::ActiveModel {
        bank_id: Set(l.bank_id),
        listing_id: Set(l.id),
        helper_account_id: Set(helper),
        helped_account_id: Set(helped),
        proposed_by: Set(user.id),
        minutes: Set(minutes),
        status: Set(AgreementStatus::Proposed.as_str().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(&ctx.db)
    .await?;
    agreement_view(&ctx.db, find_agreement(&ctx.db, r.last_insert_id).await?).await
}

/// The listing's author accepts a proposal: the two have agreed.
pub async fn accept(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<AgreementView> {
    let a = find_agreement(&ctx.db, id).await?;
    let l = find_listing(&ctx.db, a.listing_id).await?;
    let author = find_account(&ctx.db, l.account_id).await?;
    if author.user_id != Some(user.id) {
        return Err(AppError::Forbidden("only the listing's author accepts"));
    }
    move_agreement(ctx, id, &[AgreementStatus::Proposed], AgreementStatus::Agreed).await
}

/// Either party withdraws an agreement before the time is confirmed.
pub async fn cancel(ctx: &AppContext, user: &AuthUser, id: i64) -> AppResult<AgreementView> {
    let a = find_agreement(&ctx.db, id).await?;
    let v = agreement_view(&ctx.db, a).await?;
    if user.id != v.helper_id && user.id != v.helped_id {
        return Err(AppError::Forbidden("not a party to this agreement"));
    }
    move_agreement(ctx, id, &[AgreementStatus::Proposed, AgreementStatus::Agreed], AgreementStatus::Cancelled).await
}

async fn move_agreement(
    ctx: &AppContext,
    id: i64,
    from: &[AgreementStatus],
    to: AgreementStatus,
) -> AppResult<AgreementView> {
    let done = agreement::Entity::update_many()
        .col_expr(agreement::Column::Status, Expr::value(to.as_str()))
        .col_expr(agreement::Column::UpdatedAt, Expr::value(ctx.now()))
        .filter(agreement::Column::Id.eq(id))
        .filter(agreement::Column::Status.is_in(from.iter().map(|s| s.as_str())))
        .exec(&ctx.db)
        .await?;
    if done.rows_affected == 0 {
        return Err(conflict("invalid_transition", "该约定当前状态不允许此操作"));
    }
    agreement_view(&ctx.db, find_agreement(&ctx.db, id).await?).await
}

/// After the help, the helped confirms the time actually given (default: the agreed
/// minutes): one transaction moves it from the helped's account to the helper's and marks
/// the agreement confirmed, `confirmed_by` the caller. Refused with 409
/// `invalid_transition` unless agreed, `below_floor` when the helped's balance would fall
/// under the bank's floor. Confirming twice answers the first.
pub async fn confirm(ctx: &AppContext, user: &AuthUser, id: i64, minutes: Option<i64>) -> AppResult<AgreementView> {
    let a = find_agreement(&ctx.db, id).await?;
    let v = agreement_view(&ctx.db, a.clone()).await?;
    if user.id != v.helped_id {
        return Err(AppError::Forbidden("only the helped confirms the time"));
    }
    if a.status == AgreementStatus::Confirmed.as_str() {
        return Ok(v);
    }
    let minutes = parse_minutes(minutes.unwrap_or(a.minutes))
        .ok_or_else(|| AppError::invalid("minutes", "range", "时长须为 1–1440 分钟"))?;
    retrying(|| async {
        let now = ctx.now();
        let bank = find_bank(&ctx.db, a.bank_id).await?;
        let txn = begin_write(&ctx.db).await?;
        let claimed = agreement::Entity::update_many()
            .col_expr(agreement::Column::Status, Expr::value(AgreementStatus::Confirmed.as_str()))
            .col_expr(agreement::Column::ConfirmedBy, Expr::value(user.id))
            .col_expr(agreement::Column::Minutes, Expr::value(minutes))
            .col_expr(agreement::Column::UpdatedAt, Expr::value(now))
            .filter(agreement::Column::Id.eq(id))
            .filter(agreement::Column::Status.eq(AgreementStatus::Agreed.as_str()))
            .exec(&txn)
            .await?;
        if claimed.rows_affected == 0 {
            return Err(conflict("invalid_transition", "约定尚未达成或已结束"));
        }
        let t = post(
            &txn,
            &bank,
            Posting {
                from: a.helped_account_id,
                to: a.helper_account_id,
                minutes,
                kind: TransferKind::Exchange,
                agreement_id: Some(id),
                activity_id: None,
                reverses_id: None,
                reason: None,
                created_by: Some(user.id),
            },
            now,
        )
        .await?;
        agreement::Entity::update_many()
            .col_expr(agreement::Column::TransferId, Expr::value(t.id))
            .filter(agreement::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    })
    .await?;
    agreement_view(&ctx.db, find_agreement(&ctx.db, id).await?).await
}

/// The caller's agreements in a bank (as helper or helped), newest first.
pub async fn my_agreements(ctx: &AppContext, user: &AuthUser, bank_id: i64) -> AppResult<Vec<AgreementView>> {
    let Some(me) = member_account(&ctx.db, bank_id, user.id).await? else { return Ok(Vec::new()) };
    let rows = agreement::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(agreement::Column::HelperAccountId.eq(me.id))
                .add(agreement::Column::HelpedAccountId.eq(me.id)),
        )
        .order_by_desc(agreement::Column::Id)
        .limit(200)
        .all(&ctx.db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for a in rows {
        out.push(agreement_view(&ctx.db, a).await?);
    }
    Ok(out)
}
