//! The demo's funding past (资金支持), so the capability shows real numbers on first start:
//! the district civil affairs' decided call of some months ago, with 静安门爱心超市's
//! application granted and its project under way — agreement signed, the first tranche
//! paid, a supervisor (督导) — and four volunteer visits to elderly neighbours held over
//! the past three months, attended and closed through the same rollups as real closings,
//! tagged to the project; and a call open now. Idempotent: nothing is added once the
//! first call exists.

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::{
    domain::{
        activity::{ActivityKind, ActivityStatus, SignupStatus},
        clock::to_shanghai,
        funding::{
            ApplicationStatus, BudgetLine, CallEligibility, CallStatus, Deliverable, DeliverableKind, Fund,
            ProjectStatus, Proposal, tranche_amounts,
        },
        organization::ServiceTarget,
        rating::Indicator,
    },
    entity::{
        activity, attendance, funding_application, funding_call, funding_conflict, funding_reviewer, funding_score,
        organization, project, project_activity, project_tranche, signup,
    },
    error::{AppError, AppResult},
    service::{
        attendance::{FinishReport, write_rollups},
        demo_oversight::account,
        funding_calls::event,
    },
};

const FIRST_CALL: &str = "城关区社区公益微创投（第一批）";
const ORG: &str = "静安门爱心超市";

fn json<T: serde::Serialize>(v: &T) -> AppResult<String> {
    serde_json::to_string(v).map_err(|e| AppError::Internal(e.into()))
}

fn rubric() -> Vec<Indicator> {
    let leaf = |code: &str, name: &str, max| Indicator {
        code: code.into(),
        name: name.into(),
        max,
        source: None,
        children: vec![],
    };
    vec![leaf("need", "需求明确", 30), leaf("plan", "方案可行", 40), leaf("capacity", "组织能力", 30)]
}

/// Adds the funding past (see the module); `neighbours` attend the past visits.
/// Returns whether anything was added.
pub async fn seed(db: &impl ConnectionTrait, neighbours: &[i64], now: DateTime<Utc>) -> AppResult<bool> {
    if funding_call::Entity::find().filter(funding_call::Column::Title.eq(FIRST_CALL)).one(db).await?.is_some() {
        return Ok(false);
    }
    let org = organization::Entity::find()
        .filter(organization::Column::Name.eq(ORG))
        .one(db)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no demo organization {ORG}")))?;
    // The district's civil affairs funds (the demo street office's own figures stay those
    // the tests build from nothing).
    let funder = account(db, "demo-civil").await?;
    // The market has no account of its own in the demo: civil affairs entered its paper
    // application and the visits' sign-in sheets.
    let leader = funder;
    let reviewer = account(db, "demo-assessor-1").await?;
    let supervisor = account(db, "demo-inspector-1").await?;
    let funder_region = crate::service::demo::region_id(db, "620102000000").await?;
    let today = to_shanghai(now).date_naive();

    // The decided call of some months ago.
    let opened = now - Duration::days(150);
    let closed = now - Duration::days(120);
    let call_id = funding_call::Entity::insert(funding_call::ActiveModel {
        region_id: Set(funder_region),
        entrusted_org_id: Set(None),
        title: Set(FIRST_CALL.into()),
        fund: Set(Fund::CommunityFund.as_str().into()),
        budget_fen: Set(20_000_000),
        categories: Set("community_service,mutual_aid".into()),
        targets: Set("elderly".into()),
        eligibility: Set(json(&CallEligibility { not_abnormal: true, min_grade: None })?),
        opens_at: Set(opened),
        closes_at: Set(closed),
        rubric: Set(json(&rubric())?),
        notice_days: Set(7),
        status: Set(CallStatus::Decided.as_str().into()),
        created_by: Set(funder),
        created_at: Set(opened - Duration::days(3)),
        updated_at: Set(closed + Duration::days(10)),
        opened_at: Set(Some(opened)),
        decided_at: Set(Some(closed + Duration::days(10))),
        ..Default::default()
    })
    .exec(db)
    .await?
    .last_insert_id;
    event(db, "call", call_id, "opened", Some(funder), None, opened).await?;
    funding_reviewer::Entity::insert(funding_reviewer::ActiveModel {
        call_id: Set(call_id),
        user_id: Set(reviewer),
        added_by: Set(funder),
        created_at: Set(opened),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;

    // The application, granted a little less than asked.
    let due = today + Duration::days(80);
    let plan = vec![
        Deliverable {
            kind: DeliverableKind::Activities,
            activity_kind: Some(ActivityKind::Volunteer),
            target_group: None,
            target: 8,
            due_on: due,
        },
        Deliverable {
            kind: DeliverableKind::Participants,
            activity_kind: None,
            target_group: None,
            target: 12,
            due_on: due,
        },
        Deliverable {
            kind: DeliverableKind::ServiceMinutes,
            activity_kind: None,
            target_group: None,
            target: 2400,
            due_on: due,
        },
        Deliverable {
            kind: DeliverableKind::TargetReached,
            activity_kind: None,
            target_group: Some(ServiceTarget::Elderly),
            target: 10,
            due_on: due,
        },
    ];
    let budget = vec![
        BudgetLine { kind: "活动材料".into(), amount_fen: 2_400_000, note: None },
        BudgetLine { kind: "志愿者保险".into(), amount_fen: 600_000, note: Some("20 人".into()) },
        BudgetLine { kind: "交通".into(), amount_fen: 1_000_000, note: None },
    ];
    let submitted = opened + Duration::days(12);
    let decided = closed + Duration::days(10);
    let app_id = funding_application::Entity::insert(funding_application::ActiveModel {
        call_id: Set(call_id),
        organization_id: Set(org.id),
        title: Set("独居老人结对探访".into()),
        proposal: Set(json(&Proposal {
            need: "静安门社区有 60 多位独居、空巢老人，缺少日常照看和陪伴。".into(),
            goals: "志愿者与老人结对，每月上门探访，代购、陪诊。".into(),
            method: "志愿者两人一组，按月排班上门，活动在邻里平台报名和签到。".into(),
            target_groups: vec![ServiceTarget::Elderly],
        })?),
        deliverables: Set(json(&plan)?),
        budget: Set(json(&budget)?),
        amount_fen: Set(4_000_000),
        status: Set(ApplicationStatus::Granted.as_str().into()),
        submitted_by: Set(Some(leader)),
        submitted_at: Set(Some(submitted)),
        granted_fen: Set(Some(3_600_000)),
        decision_reason: Set(Some("交通费用偏高，核减 4000 元".into())),
        decided_by: Set(Some(funder)),
        decided_at: Set(Some(decided)),
        notice_until: Set(Some(decided + Duration::days(7))),
        created_by: Set(leader),
        created_at: Set(submitted - Duration::days(2)),
        updated_at: Set(decided),
        ..Default::default()
    })
    .exec(db)
    .await?
    .last_insert_id;
    funding_conflict::Entity::insert(funding_conflict::ActiveModel {
        application_id: Set(app_id),
        reviewer_id: Set(reviewer),
        no_conflict: Set(true),
        note: Set(None),
        at: Set(closed + Duration::days(1)),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;
    funding_score::Entity::insert_many([("need", 27), ("plan", 34), ("capacity", 26)].into_iter().map(
        |(code, score)| funding_score::ActiveModel {
            application_id: Set(app_id),
            reviewer_id: Set(reviewer),
            indicator: Set(code.into()),
            score: Set(score),
            note: Set(None),
            at: Set(closed + Duration::days(2)),
            superseded_at: Set(None),
            ..Default::default()
        },
    ))
    .exec_without_returning(db)
    .await?;
    for (action, actor, at) in [
        ("submitted", leader, submitted),
        ("no_conflict_declared", reviewer, closed + Duration::days(1)),
        ("scored", reviewer, closed + Duration::days(2)),
        ("granted", funder, decided),
    ] {
        event(db, "application", app_id, action, Some(actor), None, at).await?;
    }

    // The project: signed after the notice, the first tranche paid.
    let signed = decided + Duration::days(8);
    let starts_on = to_shanghai(signed).date_naive();
    let project_id = project::Entity::insert(project::ActiveModel {
        application_id: Set(app_id),
        call_id: Set(call_id),
        organization_id: Set(org.id),
        title: Set("独居老人结对探访".into()),
        amount_fen: Set(3_600_000),
        paid_fen: Set(0),
        status: Set(ProjectStatus::Active.as_str().into()),
        starts_on: Set(Some(starts_on)),
        ends_on: Set(Some(due)),
        supervisor_id: Set(Some(supervisor)),
        approver_id: Set(funder),
        plan: Set(json(&plan)?),
        original_plan: Set(json(&plan)?),
        created_at: Set(decided),
        updated_at: Set(signed),
        ..Default::default()
    })
    .exec(db)
    .await?
    .last_insert_id;
    let amounts = tranche_amounts(3_600_000, &[40, 30, 30]);
    for (n, ((percent, milestone, on_signing), amount)) in
        [(40, "签约", true), (30, "中期", false), (30, "结项", false)].into_iter().zip(amounts).enumerate()
    {
        project_tranche::Entity::insert(project_tranche::ActiveModel {
            project_id: Set(project_id),
            seq: Set(n as i32 + 1),
            percent: Set(percent),
            milestone: Set(milestone.into()),
            on_signing: Set(on_signing),
            amount_fen: Set(amount),
            status: Set(if on_signing { "paid" } else { "planned" }.into()),
            due_at: Set(on_signing.then_some(signed)),
            paid_at: Set(on_signing.then_some(signed + Duration::days(5))),
            paid_by: Set(on_signing.then_some(funder)),
            ..Default::default()
        })
        .exec_without_returning(db)
        .await?;
    }
    project::Entity::update_many()
        .col_expr(project::Column::PaidFen, sea_orm::sea_query::Expr::value(amounts_first(3_600_000)))
        .filter(project::Column::Id.eq(project_id))
        .exec(db)
        .await?;
    event(db, "project", project_id, "granted", Some(funder), None, decided).await?;
    event(db, "project", project_id, "signed", Some(funder), None, signed).await?;
    event(db, "project", project_id, "tranche_paid", Some(funder), Some("第 1 期".into()), signed + Duration::days(5))
        .await?;

    // Four visits held over the last three months, attended and closed, tagged.
    for (n, days_ago) in [84i64, 56, 28, 7].into_iter().enumerate() {
        let day = today - Duration::days(days_ago);
        let starts_at = crate::domain::clock::shanghai()
            .with_ymd_and_hms(day.year(), day.month(), day.day(), 9, 0, 0)
            .single()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now);
        let ends_at = starts_at + Duration::hours(2);
        let attendees: Vec<i64> = neighbours.iter().copied().skip(n % 2).take(3 + n).collect();
        let a = activity::Entity::insert(activity::ActiveModel {
            organization_id: Set(org.id),
            community_id: Set(org.community_id),
            kind: Set(ActivityKind::Volunteer.as_str().into()),
            title: Set(format!("结对探访独居老人（第 {} 次）", n + 1)),
            description: Set("志愿者两人一组上门探访，代购生活用品。".into()),
            location: Set("静安门社区".into()),
            latitude: Set(org.latitude),
            longitude: Set(org.longitude),
            starts_at: Set(starts_at),
            ends_at: Set(ends_at),
            signup_deadline: Set(starts_at - Duration::hours(2)),
            cancel_cutoff_minutes: Set(120),
            capacity: Set(10),
            waitlist_enabled: Set(true),
            service_minutes: Set(120),
            target_groups: Set(ServiceTarget::Elderly.as_str().into()),
            status: Set(ActivityStatus::Finished.as_str().into()),
            confirmed_count: Set(attendees.len() as i32),
            waitlist_count: Set(0),
            signup_seq: Set(attendees.len() as i64),
            version: Set(1),
            created_by: Set(Some(leader)),
            published_at: Set(Some(starts_at - Duration::days(7))),
            finished_at: Set(Some(ends_at + Duration::minutes(10))),
            created_at: Set(starts_at - Duration::days(7)),
            updated_at: Set(ends_at + Duration::minutes(10)),
            ..Default::default()
        })
        .exec_with_returning(db)
        .await?;
        for (seq, person) in attendees.iter().enumerate() {
            signup::Entity::insert(signup::ActiveModel {
                activity_id: Set(a.id),
                user_id: Set(*person),
                status: Set(SignupStatus::Attended.as_str().into()),
                seq: Set(seq as i64 + 1),
                reason: Set(None),
                regular: Set(false),
                created_at: Set(starts_at - Duration::days(3)),
                updated_at: Set(starts_at),
                ..Default::default()
            })
            .exec_without_returning(db)
            .await?;
            attendance::Entity::insert(attendance::ActiveModel {
                activity_id: Set(a.id),
                user_id: Set(*person),
                checked_in_at: Set(starts_at),
                checked_out_at: Set(Some(ends_at)),
                in_method: Set("staff".into()),
                out_method: Set(Some("staff".into())),
                recorded_by: Set(Some(leader)),
                credited_minutes: Set(Some(120)),
                created_at: Set(starts_at),
                updated_at: Set(ends_at),
                ..Default::default()
            })
            .exec_without_returning(db)
            .await?;
        }
        let report =
            FinishReport { attended: attendees.len() as i32, no_shows: 0, minutes: 120 * attendees.len() as i64 };
        write_rollups(db, &a, &attendees, report).await?;
        project_activity::Entity::insert(project_activity::ActiveModel {
            project_id: Set(project_id),
            activity_id: Set(a.id),
            tagged_by: Set(leader),
            tagged_at: Set(ends_at + Duration::hours(1)),
            excluded: Set(false),
            ..Default::default()
        })
        .exec_without_returning(db)
        .await?;
    }

    // A call taking applications now.
    let next = funding_call::Entity::insert(funding_call::ActiveModel {
        region_id: Set(funder_region),
        entrusted_org_id: Set(None),
        title: Set(format!("{} 年城关区社区公益微创投", today.year() + 1)),
        fund: Set(Fund::CommunityFund.as_str().into()),
        budget_fen: Set(30_000_000),
        categories: Set("community_service,mutual_aid,culture_sports".into()),
        targets: Set("elderly,children".into()),
        eligibility: Set(json(&CallEligibility { not_abnormal: true, min_grade: None })?),
        opens_at: Set(now - Duration::days(1)),
        closes_at: Set(now + Duration::days(30)),
        rubric: Set(json(&rubric())?),
        notice_days: Set(7),
        status: Set(CallStatus::Open.as_str().into()),
        created_by: Set(funder),
        created_at: Set(now - Duration::days(2)),
        updated_at: Set(now - Duration::days(1)),
        opened_at: Set(Some(now - Duration::days(1))),
        ..Default::default()
    })
    .exec(db)
    .await?
    .last_insert_id;
    event(db, "call", next, "opened", Some(funder), None, now - Duration::days(1)).await?;
    Ok(true)
}

fn amounts_first(amount: i64) -> i64 {
    tranche_amounts(amount, &[40, 30, 30])[0]
}
