//! The demo's time bank.

use super::*;

// ---- the demo ------------------------------------------------------------------------

/// One demo exchange: who asked, who helped, what, how long.
type DemoExchange = (&'static str, &'static str, HelpCategory, &'static str, i64);

/// The demo's time bank: 大众巷社区's (managed by the demo street office over it), three
/// neighbours, two exchanges confirmed and two listings open. Idempotent: nothing when the
/// community has its bank.
pub async fn seed_demo(
    db: &impl ConnectionTrait,
    community: i64,
    street_user: i64,
    members: &[(&str, i64)],
    now: DateTime<Utc>,
) -> AppResult<bool> {
    if time_bank::Entity::find().filter(time_bank::Column::RegionId.eq(community)).one(db).await?.is_some() {
        return Ok(false);
    }
    let bank_id = time_bank::Entity::insert(time_bank::ActiveModel {
        region_id: Set(community),
        name: Set("大众巷社区时间银行".to_owned()),
        floor_minutes: Set(DEFAULT_FLOOR_MINUTES),
        managing_org_id: Set(None),
        created_by: Set(street_user),
        created_at: Set(now),
        ..Default::default()
    })
    .exec(db)
    .await?
    .last_insert_id;
    let mut accounts: HashMap<&str, i64> = HashMap::new();
    for (name, user_id) in std::iter::once(&("", 0)).chain(members.iter()) {
        let id = account::Entity::insert(account::ActiveModel {
            bank_id: Set(bank_id),
            user_id: Set((*user_id != 0).then_some(*user_id)),
            status: Set(MemberStatus::Active.as_str().to_owned()),
            balance: Set(0),
            reviewed_by: Set((*user_id != 0).then_some(street_user)),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .exec(db)
        .await?
        .last_insert_id;
        accounts.insert(name, id);
    }
    let bank = find_bank(db, bank_id).await?;
    let listing_of = |author: i64, kind: ListingKind, category: HelpCategory, title: &str, minutes: i64, open: bool| {
        listing::ActiveModel {
            bank_id: Set(bank_id),
            account_id: Set(author),
            kind: Set(kind.as_str().to_owned()),
            category: Set(category.as_str().to_owned()),
            title: Set(title.to_owned()),
            description: Set(String::new()),
            minutes: Set(minutes),
            status: Set(if open { ListingStatus::Open } else { ListingStatus::Closed }.as_str().to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
    };
    let exchanges: [DemoExchange; 2] = [
        ("张大爷", "李姐", HelpCategory::Escort, "陪我去社区医院复查", 120),
        ("李姐", "陈老师", HelpCategory::Technology, "教我用手机挂号", 45),
    ];
    for (helped, helper, category, title, minutes) in exchanges {
        let (Some(&helped), Some(&helper)) = (accounts.get(helped), accounts.get(helper)) else { continue };
        let l = listing::Entity::insert(listing_of(helped, ListingKind::Request, category, title, minutes, false))
            .exec(db)
            .await?
            .last_insert_id;
        let helped_user = find_account(db, helped).await?.user_id;
        let a = agreement::Entity::insert(agreement::ActiveModel {
            bank_id: Set(bank_id),
            listing_id: Set(l),
            helper_account_id: Set(helper),
            helped_account_id: Set(helped),
            proposed_by: Set(find_account(db, helper).await?.user_id.unwrap_or_default()),
            minutes: Set(minutes),
            status: Set(AgreementStatus::Confirmed.as_str().to_owned()),
            confirmed_by: Set(helped_user),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .exec(db)
        .await?
        .last_insert_id;
        let t = post(
            db,
            &bank,
            Posting {
                from: helped,
                to: helper,
                minutes,
                kind: TransferKind::Exchange,
                agreement_id: Some(a),
                activity_id: None,
                reverses_id: None,
                reason: None,
                created_by: helped_user,
            },
            now,
        )
        .await?;
        agreement::Entity::update_many()
            .col_expr(agreement::Column::TransferId, Expr::value(t.id))
            .filter(agreement::Column::Id.eq(a))
            .exec(db)
            .await?;
    }
    let open: [(&str, ListingKind, HelpCategory, &str, i64); 2] = [
        ("陈老师", ListingKind::Offer, HelpCategory::Tutoring, "周末辅导小学数学", 60),
        ("张大爷", ListingKind::Request, HelpCategory::Errands, "帮忙把米扛上五楼", 30),
    ];
    for (author, kind, category, title, minutes) in open {
        if let Some(&author) = accounts.get(author) {
            listing::Entity::insert(listing_of(author, kind, category, title, minutes, true)).exec(db).await?;
        }
    }
    Ok(true)
}
