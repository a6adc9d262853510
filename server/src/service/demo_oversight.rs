//! The demo's oversight past, so a newcomer sees each state of the yearly work: five demo
//! organizations filed years ago with last year's annual reports (年报) accepted as
//! `pass` and `basic_pass`, submitted and waiting for the street office, and returned; one
//! that never reported, on the abnormal list (活动异常名录); one rated 4A under the default
//! scheme (等级评估) by two demo assessors; and a random-check draw (双随机) by the street
//! office waiting for its inspectors. Idempotent: nothing is added once last year's demo
//! reports exist.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::Expr};

use crate::{
    domain::{
        abnormal::AbnormalReason,
        annual_report::{ReportContent, ReportResult, ReportStatus, due_on, open_year},
        clock::{shanghai, to_shanghai},
        rating::{AssessmentStatus, ScoreSource, default_scheme, mean_tenths, valid_until},
    },
    entity::{
        annual_report, annual_report_event, check_inspector, notification, organization, rating_assessment,
        rating_event, rating_scheme, rating_score, user,
    },
    error::{AppError, AppResult},
    service::{
        abnormal,
        annual_reports::recorded,
        expert_pools::Pool,
        notifications::state,
        random_checks::{NewDraw, population, record_draw},
        ratings::LeafResult,
    },
};

/// What each demo organization's last year looks like.
#[derive(Clone, Copy)]
enum Past {
    Accepted(ReportResult),
    Submitted,
    Returned,
    NeverReported,
}

const PASTS: &[(&str, Past)] = &[
    ("金塔巷太极拳协会", Past::Accepted(ReportResult::Pass)),
    ("金塔巷爱心妈妈工作室", Past::Accepted(ReportResult::BasicPass)),
    ("大众巷青少年课业辅导站", Past::Submitted),
    ("大众巷秦腔戏曲社", Past::Returned),
    ("金塔巷邻里互助会", Past::NeverReported),
];

/// One step of a demo report: action, actor (0: none), when, comment.
type Step = (&'static str, i64, DateTime<Utc>, Option<&'static str>);

/// The organization the demo rates 4A.
const RATED: &str = "金塔巷太极拳协会";

async fn org_named(db: &impl ConnectionTrait, name: &str) -> AppResult<organization::Model> {
    organization::Entity::find()
        .filter(organization::Column::Name.eq(name))
        .one(db)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no demo organization {name}")))
}

/// A demo account's id by its openid.
pub(crate) async fn account(db: &impl ConnectionTrait, openid: &str) -> AppResult<i64> {
    user::Entity::find()
        .filter(user::Column::Openid.eq(openid))
        .one(db)
        .await?
        .map(|u| u.id)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no demo account {openid}")))
}

/// Adds the oversight past (see the module). `people`: the demo inspectors and assessors
/// already made, `(id, openid)`. Returns whether anything was added.
pub async fn seed(db: &impl ConnectionTrait, people: &[(i64, &str)], now: DateTime<Utc>) -> AppResult<bool> {
    let year = open_year(now);
    let first = org_named(db, PASTS[0].0).await?;
    let exists = annual_report::Entity::find()
        .filter(annual_report::Column::OrganizationId.eq(first.id))
        .filter(annual_report::Column::Year.eq(year))
        .one(db)
        .await?
        .is_some();
    if exists {
        return Ok(false);
    }
    let street = account(db, "demo-street").await?;
    let civil = account(db, "demo-civil").await?;
    let id_of = |openid: &str| people.iter().find(|p| p.1 == openid).map(|p| p.0);
    let (Some(inspector_a), Some(inspector_b), Some(assessor_a), Some(assessor_b)) =
        (id_of("demo-inspector-1"), id_of("demo-inspector-2"), id_of("demo-assessor-1"), id_of("demo-assessor-2"))
    else {
        return Err(AppError::Internal(anyhow::anyhow!("the demo inspectors and assessors are missing")));
    };
    let due = due_on(year, (3, 31));
    let at = |d: NaiveDate, h: u32| -> DateTime<Utc> {
        shanghai()
            .with_ymd_and_hms(d.year(), d.month(), d.day(), h, 0, 0)
            .single()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now)
    };
    // Filed years before the report year, so they owe it and may be rated.
    let filed = at(NaiveDate::from_ymd_opt(year - 3, 5, 12).unwrap_or(due), 10);
    for (n, (name, past)) in PASTS.iter().enumerate() {
        let org = org_named(db, name).await?;
        organization::Entity::update_many()
            .col_expr(organization::Column::FiledAt, Expr::value(filed + Duration::days(n as i64 * 40)))
            .filter(organization::Column::Id.eq(org.id))
            .exec(db)
            .await?;
        let opened = at(NaiveDate::from_ymd_opt(year + 1, 1, 1).unwrap_or(due), 1);
        let submitted = at(due - Duration::days(20 + n as i64), 15);
        let reviewed = submitted + Duration::days(6);
        let (status, result, comment, events): (ReportStatus, Option<ReportResult>, Option<&str>, Vec<Step>) =
            match past {
                Past::NeverReported => {
                    abnormal::list_for(
                        db,
                        org.id,
                        AbnormalReason::OverdueReport,
                        &format!("{year} 年度年报逾期未提交（应于 {} 前提交）", due.format("%Y-%m-%d")),
                        None,
                        None,
                        at(due + Duration::days(31), 3),
                    )
                    .await?;
                    (ReportStatus::Draft, None, None, vec![("opened", 0, opened, None)])
                }
                Past::Submitted => (
                    ReportStatus::Submitted,
                    None,
                    None,
                    vec![("opened", 0, opened, None), ("submitted", 0, submitted, None)],
                ),
                Past::Returned => (
                    ReportStatus::Returned,
                    None,
                    Some("请补充收支明细和下一年度计划"),
                    vec![
                        ("opened", 0, opened, None),
                        ("submitted", 0, submitted, None),
                        ("returned", street, reviewed, Some("请补充收支明细和下一年度计划")),
                    ],
                ),
                Past::Accepted(r) => (
                    ReportStatus::Accepted,
                    Some(*r),
                    Some(if *r == ReportResult::Pass {
                        "材料齐全，活动开展正常"
                    } else {
                        "财务记录不够完整"
                    }),
                    vec![
                        ("opened", 0, opened, None),
                        ("submitted", 0, submitted, None),
                        (
                            if *r == ReportResult::Pass { "accepted:pass" } else { "accepted:basic_pass" },
                            street,
                            reviewed,
                            None,
                        ),
                    ],
                ),
            };
        let rec = recorded(db, org.id, year).await?;
        let mut content = ReportContent::prefilled(&rec);
        content.members = 12 + 3 * n as i64;
        content.meetings = 4;
        content.summary = format!("{name}{year}年开展日常活动，服务社区居民。");
        content.plan = "继续开展活动，吸纳新成员。".into();
        let handed_in = !matches!(past, Past::NeverReported);
        let id = annual_report::Entity::insert(annual_report::ActiveModel {
            organization_id: Set(org.id),
            year: Set(year),
            status: Set(status.as_str().to_owned()),
            due_on: Set(due),
            content: Set(serde_json::to_string(&content).map_err(|e| AppError::Internal(e.into()))?),
            recorded: Set(if handed_in {
                Some(serde_json::to_string(&rec).map_err(|e| AppError::Internal(e.into()))?)
            } else {
                None
            }),
            result: Set(result.map(|r| r.as_str().to_owned())),
            submitted_by: Set(None),
            submitted_at: Set(handed_in.then_some(submitted)),
            reviewed_by: Set(matches!(past, Past::Accepted(_) | Past::Returned).then_some(street)),
            reviewed_at: Set(matches!(past, Past::Accepted(_) | Past::Returned).then_some(reviewed)),
            comment: Set(comment.map(str::to_owned)),
            created_at: Set(opened),
            updated_at: Set(if handed_in { reviewed.min(now) } else { opened }),
            ..Default::default()
        })
        .exec(db)
        .await?
        .last_insert_id;
        annual_report_event::Entity::insert_many(events.into_iter().map(|(action, actor, at, comment)| {
            annual_report_event::ActiveModel {
                report_id: Set(id),
                action: Set(action.to_owned()),
                actor_id: Set((actor != 0).then_some(actor)),
                comment: Set(comment.map(str::to_owned)),
                at: Set(at),
                ..Default::default()
            }
        }))
        .exec_without_returning(db)
        .await?;
    }

    // The pools: two inspectors kept by the street office, two assessors by civil affairs.
    let street_region = crate::service::demo::region_id(db, "620102002000").await?;
    let district = crate::service::demo::region_id(db, "620102000000").await?;
    for (region, pool, person, by) in [
        (street_region, Pool::Inspectors, inspector_a, street),
        (street_region, Pool::Inspectors, inspector_b, street),
        (district, Pool::Assessors, assessor_a, civil),
        (district, Pool::Assessors, assessor_b, civil),
    ] {
        check_inspector::Entity::insert(check_inspector::ActiveModel {
            region_id: Set(region),
            user_id: Set(person),
            added_by: Set(Some(by)),
            created_at: Set(now - Duration::days(60)),
            removed_at: Set(None),
            pool: Set(pool.as_str().to_owned()),
            ..Default::default()
        })
        .exec_without_returning(db)
        .await?;
    }

    // A 4A rating awarded 40 days ago: one assessor gave full marks, the other 85 %.
    let rated = org_named(db, RATED).await?;
    let scheme = rating_scheme::Entity::find()
        .filter(rating_scheme::Column::Family.eq("default"))
        .one(db)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no default rating scheme")))?;
    let content = default_scheme();
    let opened = now - Duration::days(70);
    let scored = now - Duration::days(55);
    let finalized = now - Duration::days(48);
    let awarded = now - Duration::days(40);
    let mut breakdown = Vec::new();
    let mut marks = Vec::new();
    for leaf in content.leaves() {
        let (a, b) = (leaf.max, leaf.max * 85 / 100);
        breakdown.push(LeafResult {
            indicator: leaf.code.clone(),
            tenths: mean_tenths(&[a, b]),
            source: ScoreSource::Panel,
            responses: 2,
        });
        marks.push((leaf.code.clone(), assessor_a, a));
        marks.push((leaf.code.clone(), assessor_b, b));
    }
    let total: i64 = breakdown.iter().map(|l| l.tenths).sum();
    let grade = content.grade_for(total);
    let id = rating_assessment::Entity::insert(rating_assessment::ActiveModel {
        organization_id: Set(rated.id),
        scheme_id: Set(scheme.id),
        panel: Set(format!(",{assessor_a},{assessor_b},")),
        status: Set(AssessmentStatus::Awarded.as_str().to_owned()),
        eligibility: Set("[]".into()),
        total_tenths: Set(Some(total)),
        grade: Set(grade.map(|g| g.as_str().to_owned())),
        breakdown: Set(Some(serde_json::to_string(&breakdown).map_err(|e| AppError::Internal(e.into()))?)),
        notice_from: Set(Some(finalized)),
        notice_until: Set(Some(finalized + Duration::days(i64::from(content.notice_days)))),
        awarded_at: Set(Some(awarded)),
        valid_until: Set(Some(valid_until(to_shanghai(awarded).date_naive(), content.validity_years))),
        created_by: Set(civil),
        created_at: Set(opened),
        updated_at: Set(awarded),
        ..Default::default()
    })
    .exec(db)
    .await?
    .last_insert_id;
    rating_score::Entity::insert_many(marks.into_iter().map(|(indicator, assessor, score)| {
        rating_score::ActiveModel {
            assessment_id: Set(id),
            indicator: Set(indicator),
            assessor_id: Set(assessor),
            score: Set(score as i32),
            note: Set(None),
            at: Set(scored),
            superseded_at: Set(None),
            ..Default::default()
        }
    }))
    .exec_without_returning(db)
    .await?;
    let summary = format!("{}.{} 分，{}", total / 10, total % 10, grade.map(|g| g.as_str()).unwrap_or("未达到等级"));
    rating_event::Entity::insert_many(
        [
            ("opened", Some(civil), Some("社区社会组织等级评估标准（默认） v1".to_owned()), opened),
            ("scored", Some(assessor_a), None, scored),
            ("scored", Some(assessor_b), None, scored),
            ("finalized", Some(civil), Some(summary), finalized),
            ("awarded", None, grade.map(|g| g.as_str().to_owned()), awarded),
        ]
        .into_iter()
        .map(|(action, actor, comment, at)| rating_event::ActiveModel {
            assessment_id: Set(id),
            action: Set(action.to_owned()),
            actor_id: Set(actor),
            comment: Set(comment),
            at: Set(at),
            ..Default::default()
        }),
    )
    .exec_without_returning(db)
    .await?;

    // A draw by the street office over its filed groups, waiting for its inspectors.
    let street_path = crate::auth::scope::region_path(db, street_region).await?;
    let population = population(db, &street_path, true).await?;
    if population.is_empty() {
        return Ok(true);
    }
    let drawn_at = now - Duration::days(3);
    let draw_id = record_draw(
        db,
        NewDraw {
            region_id: street_region,
            title: format!("{} 年第四季度社区社会组织双随机抽查", to_shanghai(now).year()),
            seed: format!("demo-{}-q4", to_shanghai(now).year()),
            sample_size: population.len().min(2),
            population,
            pool: {
                let mut p = vec![inspector_a, inspector_b];
                p.sort_unstable();
                p
            },
            drawn_by: street,
        },
        drawn_at,
    )
    .await?;
    // Three days old: its notices reached the inspectors' inboxes then.
    notification::Entity::update_many()
        .col_expr(notification::Column::State, Expr::value(state::INBOX_ONLY))
        .filter(notification::Column::DedupeKey.starts_with(format!("check_assigned:{draw_id}:")))
        .exec(db)
        .await?;
    Ok(true)
}
