//! Demo data: a slice of Gansu's real region tree (national 12-digit division codes),
//! and demo accounts for each role. Idempotent: rows are found by their natural keys
//! first, so running it again changes nothing.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::Expr};

use crate::{
    domain::role::Role,
    entity::{region, user},
    error::{AppError, AppResult},
    service::role_grants::insert_grant,
};

/// (code, parent code, name, level, kind, latitude, longitude)
type RegionRow =
    (&'static str, Option<&'static str>, &'static str, &'static str, Option<&'static str>, Option<(f64, f64)>);

pub const REGIONS: &[RegionRow] = &[
    ("620000000000", None, "甘肃省", "province", None, Some((36.0594, 103.8343))),
    ("620100000000", Some("620000000000"), "兰州市", "city", None, Some((36.0611, 103.8343))),
    ("620102000000", Some("620100000000"), "城关区", "county", None, Some((36.0572, 103.8252))),
    ("620103000000", Some("620100000000"), "七里河区", "county", None, Some((36.0656, 103.7856))),
    ("620123000000", Some("620100000000"), "榆中县", "county", None, Some((35.8433, 104.1126))),
    ("620102002000", Some("620102000000"), "张掖路街道", "street", None, Some((36.0611, 103.8262))),
    ("620102008000", Some("620102000000"), "皋兰路街道", "street", None, Some((36.0583, 103.8380))),
    ("620103001000", Some("620103000000"), "西园街道", "street", None, Some((36.0668, 103.7905))),
    ("620123100000", Some("620123000000"), "城关镇", "street", None, Some((35.8456, 104.1140))),
    ("620123104000", Some("620123000000"), "和平镇", "street", None, Some((35.9405, 103.9853))),
    ("620102002001", Some("620102002000"), "金塔巷社区", "community", Some("urban"), Some((36.0627, 103.8221))),
    ("620102002002", Some("620102002000"), "大众巷社区", "community", Some("urban"), Some((36.0603, 103.8291))),
    ("620102002003", Some("620102002000"), "永昌路社区", "community", Some("urban"), Some((36.0589, 103.8247))),
    ("620102008001", Some("620102008000"), "静安门社区", "community", Some("urban"), Some((36.0561, 103.8402))),
    ("620102008002", Some("620102008000"), "甘南路社区", "community", Some("urban"), Some((36.0577, 103.8356))),
    ("620103001001", Some("620103001000"), "西园社区", "community", Some("urban"), Some((36.0674, 103.7887))),
    ("620123100201", Some("620123100000"), "北关村", "community", Some("rural"), Some((35.8524, 104.1163))),
    ("620123104201", Some("620123104000"), "袁家营村", "community", Some("rural"), Some((35.9452, 103.9771))),
    ("620123104202", Some("620123104000"), "黄家庄村", "community", Some("rural"), Some((35.9337, 103.9934))),
];

/// Demo accounts: in dev, sign in with `{"code": OPENID}`.
pub const DEMO_ACCOUNTS: &[(&str, &str, Option<Role>, Option<&str>)] = &[
    ("demo-admin", "系统管理员", Some(Role::SystemAdmin), None),
    ("demo-civil", "城关区民政局", Some(Role::CivilAffairs), Some("620102000000")),
    ("demo-street", "张掖路街道办", Some(Role::Street), Some("620102002000")),
    ("demo-township", "和平镇政府", Some(Role::Street), Some("620123104000")),
    ("demo-committee", "金塔巷社区居委会", Some(Role::Committee), Some("620102002001")),
    ("demo-village", "袁家营村委会", Some(Role::Committee), Some("620123104201")),
    ("demo-resident", "王阿姨", None, None),
];

#[derive(Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub regions_added: usize,
    pub users_added: usize,
    pub grants_added: usize,
}

pub async fn seed(db: &impl ConnectionTrait, now: DateTime<Utc>) -> AppResult<SeedReport> {
    let mut report = SeedReport::default();
    for (code, parent, name, level, kind, at) in REGIONS {
        if ensure_region(db, code, *parent, name, level, *kind, *at, now).await? {
            report.regions_added += 1;
        }
    }
    let home = region_id(db, "620102002001").await?;
    for (openid, nickname, role, scope_code) in DEMO_ACCOUNTS {
        let (user, added) = ensure_user(db, openid, nickname, home, now).await?;
        if added {
            report.users_added += 1;
        }
        if let Some(role) = role {
            let scope = match scope_code {
                Some(code) => Some(region_id(db, code).await?),
                None => None,
            };
            if insert_grant(db, user, *role, scope, None, now).await?.1 {
                report.grants_added += 1;
            }
        }
    }
    Ok(report)
}

pub async fn region_id(db: &impl ConnectionTrait, code: &str) -> AppResult<i64> {
    region::Entity::find()
        .filter(region::Column::Code.eq(code))
        .one(db)
        .await?
        .map(|r| r.id)
        .ok_or(AppError::NotFound("region"))
}

/// Inserts a region under its parent unless its code exists. Returns whether it was added.
#[allow(clippy::too_many_arguments)]
pub async fn ensure_region(
    db: &impl ConnectionTrait,
    code: &str,
    parent_code: Option<&str>,
    name: &str,
    level: &str,
    kind: Option<&str>,
    at: Option<(f64, f64)>,
    now: DateTime<Utc>,
) -> AppResult<bool> {
    if region::Entity::find().filter(region::Column::Code.eq(code)).one(db).await?.is_some() {
        return Ok(false);
    }
    let parent = match parent_code {
        Some(pc) => Some(
            region::Entity::find()
                .filter(region::Column::Code.eq(pc))
                .one(db)
                .await?
                .ok_or_else(|| AppError::Internal(anyhow::anyhow!("parent region {pc} missing")))?,
        ),
        None => None,
    };
    let inserted = region::Entity::insert(region::ActiveModel {
        parent_id: Set(parent.as_ref().map(|p| p.id)),
        code: Set(code.to_owned()),
        name: Set(name.to_owned()),
        level: Set(level.to_owned()),
        kind: Set(kind.map(str::to_owned)),
        path: Set(String::from("/")),
        latitude: Set(at.map(|a| a.0)),
        longitude: Set(at.map(|a| a.1)),
        created_at: Set(now),
        ..Default::default()
    })
    .exec(db)
    .await?;
    let id = inserted.last_insert_id;
    let path = format!("{}{id}/", parent.map(|p| p.path).unwrap_or_else(|| "/".into()));
    region::Entity::update_many()
        .col_expr(region::Column::Path, Expr::value(path))
        .filter(region::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(true)
}

async fn ensure_user(
    db: &impl ConnectionTrait,
    openid: &str,
    nickname: &str,
    home_community_id: i64,
    now: DateTime<Utc>,
) -> AppResult<(i64, bool)> {
    if let Some(u) = user::Entity::find().filter(user::Column::Openid.eq(openid)).one(db).await? {
        return Ok((u.id, false));
    }
    let inserted = user::Entity::insert(user::ActiveModel {
        openid: Set(Some(openid.to_owned())),
        nickname: Set(Some(nickname.to_owned())),
        home_community_id: Set(Some(home_community_id)),
        token_version: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok((inserted.last_insert_id, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_tree_is_well_formed() {
        let codes: Vec<&str> = REGIONS.iter().map(|r| r.0).collect();
        for (code, parent, _, level, kind, _) in REGIONS {
            assert_eq!(code.len(), 12, "{code}");
            assert!(code.chars().all(|c| c.is_ascii_digit()));
            if let Some(p) = parent {
                let pos = codes.iter().position(|c| c == p);
                let me = codes.iter().position(|c| c == code);
                assert!(pos < me, "{code}'s parent must come first");
            }
            assert_eq!(kind.is_some(), *level == "community");
        }
        let count =
            |lvl: &str, k: Option<&str>| REGIONS.iter().filter(|r| r.3 == lvl && (k.is_none() || r.4 == k)).count();
        assert!(count("street", None) >= 3);
        assert!(count("community", Some("urban")) >= 4);
        assert!(count("community", Some("rural")) >= 2);
    }
}
