//! The demo's incubation cohort and hub (issue 16): 金塔巷夕阳红志愿服务队 is the
//! federation (联合会) of 张掖路街道 with two members; the street's incubation base is
//! entrusted to it; one group is in incubation with a mentor, a session and a milestone,
//! and one has graduated and waits to be filed by its contact person (demo-resident).
//! Added once: nothing is added when the hub exists.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::{
    domain::{
        clock::to_shanghai,
        hub::{HubKind, MembershipStatus},
        incubation::{EntryKind, IncubateeStatus, IncubationAction, period_end},
        organization::Category,
    },
    entity::{
        hub, hub_membership, incubatee, incubation_base, incubation_decision, incubation_entry, incubation_mentor,
        organization, region, user,
    },
    error::{AppError, AppResult},
};

const HUB: &str = "金塔巷夕阳红志愿服务队";
const MEMBERS: [&str; 2] = ["金塔巷太极拳协会", "大众巷秦腔戏曲社"];

async fn org_named(db: &impl ConnectionTrait, name: &str) -> AppResult<organization::Model> {
    organization::Entity::find()
        .filter(organization::Column::Name.eq(name))
        .one(db)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no demo organization {name}")))
}

async fn id_of(db: &impl ConnectionTrait, openid: &str) -> AppResult<i64> {
    user::Entity::find()
        .filter(user::Column::Openid.eq(openid))
        .one(db)
        .await?
        .map(|u| u.id)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no demo account {openid}")))
}

async fn region_id(db: &impl ConnectionTrait, code: &str) -> AppResult<i64> {
    region::Entity::find()
        .filter(region::Column::Code.eq(code))
        .one(db)
        .await?
        .map(|r| r.id)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no demo region {code}")))
}

/// Adds the hub and the cohort; `mentor`: the demo mentor's id. Returns whether anything
/// was added.
pub async fn seed(db: &impl ConnectionTrait, mentor: i64, now: DateTime<Utc>) -> AppResult<bool> {
    let hub_org = org_named(db, HUB).await?;
    if hub::Entity::find().filter(hub::Column::OrganizationId.eq(hub_org.id)).one(db).await?.is_some() {
        return Ok(false);
    }
    let street = id_of(db, "demo-street").await?;
    let leader = id_of(db, "demo-leader").await?;
    let resident = id_of(db, "demo-resident").await?;
    let street_region = region_id(db, "620102002000").await?;
    let jinta = region_id(db, "620102002006").await?;
    let dazhong = region_id(db, "620102002005").await?;
    let month_ago = now - Duration::days(30);
    let hub_id = hub::Entity::insert(hub::ActiveModel {
        organization_id: Set(hub_org.id),
        region_id: Set(street_region),
        kind: Set(HubKind::Federation.as_str().to_owned()),
        reason: Set("张掖路街道社区社会组织联合会，协调辖区各社区社会组织".into()),
        marked_by: Set(street),
        marked_at: Set(month_ago),
        ..Default::default()
    })
    .exec(db)
    .await?
    .last_insert_id;
    for name in MEMBERS {
        let org = org_named(db, name).await?;
        hub_membership::Entity::insert(hub_membership::ActiveModel {
            hub_id: Set(hub_id),
            organization_id: Set(org.id),
            status: Set(MembershipStatus::Active.as_str().to_owned()),
            message: Set(Some("申请加入联合会".into())),
            requested_by: Set(leader),
            requested_at: Set(month_ago),
            decided_by: Set(Some(leader)),
            decided_at: Set(Some(month_ago + Duration::days(1))),
            ..Default::default()
        })
        .exec_without_returning(db)
        .await?;
    }
    let base = incubation_base::Entity::insert(incubation_base::ActiveModel {
        name: Set("张掖路街道社会组织孵化基地".into()),
        street_id: Set(street_region),
        hub_id: Set(Some(hub_id)),
        description: Set("委托街道联合会运营：场地、辅导、培训".into()),
        created_by: Set(street),
        created_at: Set(month_ago),
        ..Default::default()
    })
    .exec(db)
    .await?
    .last_insert_id;
    let admitted_on = to_shanghai(month_ago).date_naive();
    let ends_on = period_end(admitted_on, 6).unwrap_or(admitted_on);
    let cohort = [
        ("金塔巷剪纸兴趣小组", Category::CultureSports, jinta, IncubateeStatus::Incubating),
        ("大众巷广场舞队", Category::CultureSports, dazhong, IncubateeStatus::Graduated),
    ];
    for (name, category, community, status) in cohort {
        let id = incubatee::Entity::insert(incubatee::ActiveModel {
            base_id: Set(base),
            name: Set(name.into()),
            category: Set(category.as_str().to_owned()),
            community_id: Set(community),
            contact_user_id: Set(resident),
            description: Set("居民自发组织的初创团队".into()),
            status: Set(status.as_str().to_owned()),
            admitted_on: Set(admitted_on),
            ends_on: Set(ends_on),
            organization_id: Set(None),
            created_at: Set(month_ago),
            updated_at: Set(now),
            ..Default::default()
        })
        .exec(db)
        .await?
        .last_insert_id;
        let mut steps =
            vec![(IncubationAction::Admit, None, IncubateeStatus::Incubating, "有稳定骨干和活动计划", month_ago)];
        if status == IncubateeStatus::Graduated {
            steps.push((
                IncubationAction::Graduate,
                Some(IncubateeStatus::Incubating),
                IncubateeStatus::Graduated,
                "骨干稳定，活动规律，可以申请备案",
                now - Duration::days(2),
            ));
        }
        for (action, from, to, reason, at) in steps {
            incubation_decision::Entity::insert(incubation_decision::ActiveModel {
                incubatee_id: Set(id),
                action: Set(action.as_str().to_owned()),
                from_status: Set(from.map(|s| s.as_str().to_owned())),
                to_status: Set(to.as_str().to_owned()),
                ends_on: Set(ends_on),
                reason: Set(reason.into()),
                actor_id: Set(leader),
                at: Set(at),
                ..Default::default()
            })
            .exec_without_returning(db)
            .await?;
        }
        incubation_mentor::Entity::insert(incubation_mentor::ActiveModel {
            incubatee_id: Set(id),
            user_id: Set(mentor),
            note: Set(Some("社会工作师".into())),
            assigned_by: Set(leader),
            assigned_at: Set(month_ago),
            ..Default::default()
        })
        .exec_without_returning(db)
        .await?;
        for (kind, title, minutes, days) in
            [(EntryKind::Session, "章程与财务制度辅导", Some(90), 20), (EntryKind::Milestone, "首次公开活动", None, 10)]
        {
            incubation_entry::Entity::insert(incubation_entry::ActiveModel {
                incubatee_id: Set(id),
                kind: Set(kind.as_str().to_owned()),
                occurred_on: Set(to_shanghai(now - Duration::days(days)).date_naive()),
                title: Set(title.into()),
                notes: Set(String::new()),
                minutes: Set(minutes),
                recorded_by: Set(mentor),
                recorded_at: Set(now - Duration::days(days)),
                ..Default::default()
            })
            .exec_without_returning(db)
            .await?;
        }
    }
    Ok(true)
}
