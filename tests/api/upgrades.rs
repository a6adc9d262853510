//! Migrations applied to a deployment that already holds data: the database is migrated
//! to just before a migration, filled in the old shape, then migrated on.

use chrono::{DateTime, Duration, Utc};
use linli_tests::{TestResult, fresh_database};
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ConnectionTrait, Database, EntityTrait, QueryOrder,
    sea_query::{Alias, Query},
};

/// The delivery queue (`m20261202_000500_notice_deliveries`): a notice waiting when the
/// deployment upgrades is queued when it is due (a retry's next attempt when that is
/// later); one claimed is queued when its lease runs out, still holding its send, and is
/// `pending` again; settled and withdrawn notices are not queued.
#[tokio::test]
async fn the_delivery_queue_takes_over_waiting_and_claimed_notices() -> TestResult {
    use linli_server::entity::{notice_delivery, notification, user};
    let url = fresh_database().await?;
    let db = Database::connect(&url).await?;
    let queue_at = Migrator::migrations()
        .iter()
        .position(|m| m.name() == "m20261202_000500_notice_deliveries")
        .ok_or_else(|| anyhow::anyhow!("the migration is listed"))?;
    Migrator::up(&db, Some(queue_at as u32)).await?;

    // Whole seconds: PostgreSQL keeps microseconds, SQLite the text it is given.
    let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_default();
    let at = |t: DateTime<Utc>| t.to_rfc3339();
    let u = user::ActiveModel {
        openid: Set(Some("upgrade-resident".into())),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&db)
    .await?;
    // (key, state, due, next attempt, lease, attempts, a send held)
    let due = now - Duration::hours(1);
    let rows = [
        ("waiting", "pending", due, None, None, 0, false),
        ("retrying", "pending", due, Some(now + Duration::minutes(10)), None, 2, false),
        ("claimed", "sending", due, None, Some(now + Duration::seconds(30)), 1, true),
        ("sent", "sent", due, None, None, 1, false),
        ("withdrawn", "cancelled", due, None, None, 0, false),
    ];
    for (key, state, due, next, lease, attempts, held) in rows {
        let insert = Query::insert()
            .into_table(Alias::new("notifications"))
            .columns(
                [
                    "user_id",
                    "kind",
                    "title",
                    "body",
                    "dedupe_key",
                    "created_at",
                    "state",
                    "due_at",
                    "attempts",
                    "next_attempt_at",
                    "lease_until",
                    "purpose",
                    "quota_reserved",
                ]
                .map(Alias::new),
            )
            .values_panic([
                u.id.into(),
                "reminder".into(),
                "活动提醒".into(),
                key.into(),
                format!("upgrade:{key}").into(),
                now.into(),
                state.into(),
                due.into(),
                attempts.into(),
                next.into(),
                lease.into(),
                "reminder".into(),
                held.into(),
            ])
            .to_owned();
        db.execute(&insert).await?;
    }

    Migrator::up(&db, None).await?;
    let notices = notification::Entity::find().order_by_asc(notification::Column::Id).all(&db).await?;
    let id_of = |key: &str| notices.iter().find(|n| n.body == key).map(|n| n.id);
    let queued = notice_delivery::Entity::find().order_by_asc(notice_delivery::Column::NotificationId).all(&db).await?;
    let seen: Vec<(Option<i64>, String, i32, bool)> =
        queued.iter().map(|d| (Some(d.notification_id), at(d.due_at), d.attempts, d.quota_reserved)).collect();
    assert_eq!(
        seen,
        [
            (id_of("waiting"), at(due), 0, false),
            (id_of("retrying"), at(now + Duration::minutes(10)), 2, false),
            (id_of("claimed"), at(now + Duration::seconds(30)), 1, true),
        ]
    );
    let states: Vec<(&str, &str)> = notices.iter().map(|n| (n.body.as_str(), n.state.as_str())).collect();
    assert_eq!(
        states,
        [
            ("waiting", "pending"),
            ("retrying", "pending"),
            ("claimed", "pending"),
            ("sent", "sent"),
            ("withdrawn", "cancelled")
        ]
    );
    // Deleting a notice deletes its queue row.
    notification::Entity::delete_by_id(id_of("waiting").unwrap_or_default()).exec(&db).await?;
    assert_eq!(notice_delivery::Entity::find().all(&db).await?.len(), 2);
    db.close().await?;
    Ok(())
}
