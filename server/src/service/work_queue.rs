//! Work that waits for someone: a filing application waiting for a committee's consent
//! or a street office's filing, an activity held for a committee's moderation, a room
//! booking waiting for the committee or the leader the room is entrusted to. The
//! people who can decide (holders of the role over the community) get a `work_waiting`
//! notice when an item starts waiting, and once a day a `work_digest` gathering what
//! still waits when several items do. Both link to the queue (`QUEUE_PAGE`) and are
//! pushed through the `change` template when the person has quota (`purpose_of`).

use std::collections::BTreeMap;

use chrono::{DateTime, Timelike, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, QueryTrait};

use crate::{
    context::AppContext,
    domain::{
        activity::ActivityStatus,
        annual_report::ReportStatus,
        clock::to_shanghai,
        organization::{OrgStatus, Standing},
        role::Role,
        venue::BookingStatus,
    },
    entity::{activity, annual_report, notification, organization, region, role_grant, venue, venue_booking},
    error::AppResult,
    service::{
        notifications::{Notice, enqueue},
        organization_scope::regions_under,
    },
};

/// The mini-program page of the reviewer's queue (filings and held activities).
pub const QUEUE_PAGE: &str = "pages/review/queue";

/// What waits, and for whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waiting {
    /// A filing application waits for the committee's consent.
    Consent,
    /// A consented application waits for the street office's filing.
    Filing,
    /// An activity WeChat's text check held waits for the committee.
    Moderation,
    /// A room booking waits for the venue's committee (or, for an entrusted room, the
    /// leader of the organization it is entrusted to: see [`announce_booking`]).
    RoomBooking,
    /// A submitted annual report (年报) waits for its filing office: the street office for
    /// a filed organization, civil affairs for a registered one (see [`announce_report`]).
    AnnualReport,
}

impl Waiting {
    /// The role that decides.
    pub fn decider(self) -> Role {
        match self {
            Waiting::Consent | Waiting::Moderation | Waiting::RoomBooking => Role::Committee,
            Waiting::Filing | Waiting::AnnualReport => Role::Street,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Waiting::Consent => "备案申请待社区同意",
            Waiting::Filing => "备案申请待街道（乡镇）备案",
            Waiting::Moderation => "活动待社区审核",
            Waiting::RoomBooking => "场地预约待审批",
            Waiting::AnnualReport => "年报待审核",
        }
    }
}

/// The ids of the regions on a `/1/3/6/11/` path: the community and every region over it.
fn ancestors(path: &str) -> Vec<i64> {
    path.split('/').filter_map(|s| s.parse().ok()).collect()
}

/// Tells the deciders over `community_id` that `subject` (an organization or an
/// activity, named `name`) now waits for them. Inside the caller's transaction; the
/// key names the moment it started waiting, so a resubmission is announced again and a
/// retry of the same write is not.
#[allow(clippy::too_many_arguments)]
pub async fn announce(
    db: &impl ConnectionTrait,
    waiting: Waiting,
    community_id: i64,
    organization_id: i64,
    activity_id: Option<i64>,
    name: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let Some(community) = region::Entity::find_by_id(community_id).one(db).await? else { return Ok(()) };
    let deciders = holders(db, waiting.decider(), ancestors(&community.path)).await?;
    let subject =
        activity_id.map(|a| format!("activity:{a}")).unwrap_or_else(|| format!("organization:{organization_id}"));
    notify(db, waiting, deciders, &community.name, &subject, organization_id, activity_id, name, now).await
}

/// Tells who decides the bookings of venue `v` that `name` (a booking's purpose, an
/// activity's title or a series) of organization `organization_id` waits for them: the
/// leader of the organization the room is entrusted to, else the committees over its
/// community. `subject` keys the notice (`booking:17`, `series:3`).
pub async fn announce_booking(
    db: &impl ConnectionTrait,
    v: &venue::Model,
    subject: &str,
    organization_id: i64,
    name: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let Some(community) = region::Entity::find_by_id(v.community_id).one(db).await? else { return Ok(()) };
    let deciders = match v.entrusted_org_id {
        Some(org) => holders(db, Role::OrgLeader, vec![org]).await?,
        None => holders(db, Role::Committee, ancestors(&community.path)).await?,
    };
    let place = format!("{}·{}", community.name, v.name);
    notify(db, Waiting::RoomBooking, deciders, &place, subject, organization_id, None, name, now).await
}

/// Tells the filing office over organization `org` (`reviewer`: the street office for a
/// filed one, civil affairs for a registered one) that its report `report_id` of `year`
/// waits for review. Keyed `report:<id>`, settled when reviewed.
pub async fn announce_report(
    db: &impl ConnectionTrait,
    org: &organization::Model,
    reviewer: Role,
    report_id: i64,
    year: i32,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let Some(community) = region::Entity::find_by_id(org.community_id).one(db).await? else { return Ok(()) };
    let deciders = holders(db, reviewer, ancestors(&community.path)).await?;
    let name = format!("{} {year} 年度年报", org.name);
    notify(
        db,
        Waiting::AnnualReport,
        deciders,
        &community.name,
        &format!("report:{report_id}"),
        org.id,
        None,
        &name,
        now,
    )
    .await
}

/// The item `subject` (`organization:7`, `activity:12`, `booking:3`, `series:2`) was
/// decided (or withdrawn): the `work_waiting` notices about it are no longer work — those
/// not yet sent are withdrawn (no push for settled work), those in inboxes are marked read
/// for everyone who was asked. Inside the deciding transaction, before any new step of the
/// same item is announced.
pub async fn settle(db: &impl ConnectionTrait, subject: &str, now: DateTime<Utc>) -> AppResult<()> {
    use sea_orm::sea_query::Expr;
    let prefix = format!("work_waiting:{subject}:%");
    crate::service::notifications::withdraw()
        .filter(notification::Column::Kind.eq("work_waiting"))
        .filter(notification::Column::DedupeKey.like(prefix.as_str()))
        .exec(db)
        .await?;
    notification::Entity::update_many()
        .col_expr(notification::Column::ReadAt, Expr::value(now))
        .filter(notification::Column::Kind.eq("work_waiting"))
        .filter(notification::Column::DedupeKey.like(prefix.as_str()))
        .filter(notification::Column::ReadAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Who holds `role` over any of `scopes`, each once.
async fn holders(db: &impl ConnectionTrait, role: Role, scopes: Vec<i64>) -> AppResult<Vec<i64>> {
    Ok(role_grant::Entity::find()
        .filter(role_grant::Column::Role.eq(role.as_str()))
        .filter(role_grant::Column::ScopeId.is_in(scopes))
        .all(db)
        .await?
        .into_iter()
        .map(|g| g.user_id)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect())
}

#[allow(clippy::too_many_arguments)]
async fn notify(
    db: &impl ConnectionTrait,
    waiting: Waiting,
    deciders: Vec<i64>,
    place: &str,
    subject: &str,
    organization_id: i64,
    activity_id: Option<i64>,
    name: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let notices = deciders
        .into_iter()
        .map(|user_id| Notice {
            user_id,
            kind: "work_waiting",
            title: format!("待处理：{}", waiting.label()),
            body: format!("「{name}」{}（{place}）。请到待办处理：{QUEUE_PAGE}", waiting.label()),
            activity_id,
            organization_id: Some(organization_id),
            dedupe_key: format!("work_waiting:{subject}:{user_id}:{}", now.timestamp_micros()),
            due_at: None,
            offset_secs: None,
        })
        .collect();
    enqueue(db, notices, now).await
}

/// What waits for one person, by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WaitingCounts {
    pub consent: u64,
    pub filing: u64,
    pub moderation: u64,
    pub room_bookings: u64,
    /// Submitted annual reports of filed organizations (the street office's).
    pub annual_reports: u64,
}

impl WaitingCounts {
    pub fn total(&self) -> u64 {
        self.consent + self.filing + self.moderation + self.room_bookings + self.annual_reports
    }
}

async fn count_in(db: &impl ConnectionTrait, waiting: Waiting, paths: &[String]) -> AppResult<u64> {
    if paths.is_empty() {
        return Ok(0);
    }
    Ok(match waiting {
        Waiting::Consent | Waiting::Filing => {
            let status = if waiting == Waiting::Consent { OrgStatus::PendingConsent } else { OrgStatus::PendingFiling };
            organization::Entity::find()
                .filter(organization::Column::Status.eq(status.as_str()))
                .filter(organization::Column::CommunityId.in_subquery(regions_under(paths)))
                .count(db)
                .await?
        }
        Waiting::Moderation => {
            // Held for the committee's text review (an activity held only for its room
            // waits in the venue's review queue instead).
            activity::Entity::find()
                .filter(activity::Column::Status.eq(ActivityStatus::Held.as_str()))
                .filter(activity::Column::ReviewPending.eq(true))
                .filter(activity::Column::CommunityId.in_subquery(regions_under(paths)))
                .count(db)
                .await?
        }
        Waiting::RoomBooking => {
            // Rooms the committee manages itself (an entrusted room's leader decides).
            let rooms = venue::Entity::find()
                .select_only()
                .column(venue::Column::Id)
                .filter(venue::Column::CommunityId.in_subquery(regions_under(paths)))
                .filter(venue::Column::EntrustedOrgId.is_null())
                .into_query();
            venue_booking::Entity::find()
                .filter(venue_booking::Column::Status.eq(BookingStatus::Requested.as_str()))
                .filter(venue_booking::Column::VenueId.in_subquery(rooms))
                .count(db)
                .await?
        }
        Waiting::AnnualReport => {
            let filed = organization::Entity::find()
                .select_only()
                .column(organization::Column::Id)
                .filter(organization::Column::Standing.eq(Standing::Filed.as_str()))
                .filter(organization::Column::CommunityId.in_subquery(regions_under(paths)))
                .into_query();
            annual_report::Entity::find()
                .filter(annual_report::Column::Status.eq(ReportStatus::Submitted.as_str()))
                .filter(annual_report::Column::OrganizationId.in_subquery(filed))
                .count(db)
                .await?
        }
    })
}

/// The digest goes out from this hour (Asia/Shanghai) on, with the working day.
pub const DIGEST_HOUR: u32 = 8;

/// What the digest did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DigestReport {
    /// People whose queue was looked at.
    pub deciders: usize,
    /// Digests queued (one per person per day, when at least two items wait).
    pub queued: usize,
}

/// The daily digest, one step (the scheduler runs it hourly; it does nothing before
/// `DIGEST_HOUR`): for every committee and street office, what waits in its
/// scope now; two items or more make one `work_digest` notice, keyed by the person and
/// the day (Asia/Shanghai), so running it again the same day queues nothing.
pub async fn digest_once(ctx: &AppContext) -> AppResult<DigestReport> {
    let now = ctx.now();
    if to_shanghai(now).hour() < DIGEST_HOUR {
        return Ok(DigestReport::default());
    }
    let day = to_shanghai(now).format("%Y-%m-%d").to_string();
    let grants = role_grant::Entity::find()
        .filter(role_grant::Column::Role.is_in([Role::Committee.as_str(), Role::Street.as_str()]))
        .all(&ctx.db)
        .await?;
    let mut scopes: BTreeMap<i64, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for g in grants {
        let Some(scope) = g.scope_id else { continue };
        let Some(r) = region::Entity::find_by_id(scope).one(&ctx.db).await? else { continue };
        let entry = scopes.entry(g.user_id).or_default();
        if g.role == Role::Committee.as_str() { entry.0.push(r.path) } else { entry.1.push(r.path) }
    }
    let mut report = DigestReport { deciders: scopes.len(), queued: 0 };
    let mut notices = Vec::new();
    for (user_id, (committee, street)) in scopes {
        let w = WaitingCounts {
            consent: count_in(&ctx.db, Waiting::Consent, &committee).await?,
            filing: count_in(&ctx.db, Waiting::Filing, &street).await?,
            moderation: count_in(&ctx.db, Waiting::Moderation, &committee).await?,
            room_bookings: count_in(&ctx.db, Waiting::RoomBooking, &committee).await?,
            annual_reports: count_in(&ctx.db, Waiting::AnnualReport, &street).await?,
        };
        if w.total() < 2 {
            continue;
        }
        let parts: Vec<String> = [
            (w.consent, "备案申请待同意"),
            (w.filing, "备案申请待备案"),
            (w.moderation, "活动待审核"),
            (w.room_bookings, "场地预约待审批"),
            (w.annual_reports, "年报待审核"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, label)| format!("{label} {n} 项"))
        .collect();
        let key = format!("work_digest:{user_id}:{day}");
        if notification::Entity::find().filter(notification::Column::DedupeKey.eq(key.as_str())).count(&ctx.db).await?
            > 0
        {
            continue;
        }
        notices.push(Notice {
            user_id,
            kind: "work_digest",
            title: format!("您有 {} 项事项待处理", w.total()),
            body: format!("{}。请到待办处理：{QUEUE_PAGE}", parts.join("，")),
            activity_id: None,
            organization_id: None,
            dedupe_key: key,
            due_at: None,
            offset_secs: None,
        });
    }
    report.queued = notices.len();
    enqueue(&ctx.db, notices, now).await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_right_role_decides_and_paths_name_every_region_above() {
        assert_eq!(Waiting::Consent.decider(), Role::Committee);
        assert_eq!(Waiting::Filing.decider(), Role::Street);
        assert_eq!(Waiting::Moderation.decider(), Role::Committee);
        assert_eq!(Waiting::RoomBooking.decider(), Role::Committee);
        assert_eq!(Waiting::AnnualReport.decider(), Role::Street);
        assert_eq!(ancestors("/1/3/6/11/"), [1, 3, 6, 11]);
    }
}
