//! `linli import-regions FILE`: loads the National Bureau of Statistics' statistical
//! division codes (统计用区划代码) into the region tree, idempotently.
//!
//! - A unit not in the database is added (multi-row inserts of [`CHUNK`] rows, ids and
//!   materialised paths worked out beforehand, one statement per chunk).
//! - A unit whose name, parent or urban/rural kind changed is updated, and the change is
//!   recorded in `region_events` (`renamed`, `moved`, `reclassified`); a move rewrites its
//!   subtree's paths.
//! - A unit missing from the file is retired (`retired_at` set, `retired` recorded), never
//!   deleted: organizations, users and figures keep referring to it. Only units under the
//!   file's own roots are considered (a file of Gansu retires nothing in Shaanxi): the
//!   roots are the file's units whose parent is not in the file.
//! - A retired unit found in the file again is restored (`restored`).
//!
//! The whole file is checked before anything is written (each line on its own by
//! [`crate::domain::region_codes`], then every parent against the file and the database),
//! and everything is written in one transaction: a bad line changes nothing. Running the
//! same file twice changes nothing the second time.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter,
    QuerySelect, Statement, sea_query::Expr,
};

use crate::{
    domain::{
        region::RegionLevel,
        region_codes::{LineError, RegionRecord},
    },
    entity::{region, region_event},
    error::AppError,
    service::begin_write,
};

/// Rows per multi-row INSERT: 1,000 rows of 11 values stay under SQLite's and
/// PostgreSQL's limits on bound parameters.
pub const CHUNK: usize = 1000;

/// What an import may do to units already in the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `import-regions`: add, update, record, retire and restore.
    Sync,
    /// `seed-demo`: add what is missing and touch nothing else, so a newer file imported
    /// since is never undone by the demo's embedded one.
    AddMissing,
}

/// What an import did, in units.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Lines read (units in the file).
    pub read: usize,
    pub added: usize,
    pub renamed: usize,
    pub moved: usize,
    pub reclassified: usize,
    pub retired: usize,
    pub restored: usize,
}

impl ImportReport {
    /// Whether the import changed nothing.
    pub fn is_unchanged(&self) -> bool {
        self.added + self.renamed + self.moved + self.reclassified + self.retired + self.restored == 0
    }
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} regions read: {} added, {} renamed, {} moved, {} reclassified, {} retired, {} restored",
            self.read, self.added, self.renamed, self.moved, self.reclassified, self.retired, self.restored
        )
    }
}

/// Why an import changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A line of the file is wrong: its number and what is wrong with it.
    #[error("{0}")]
    Line(#[from] LineError),
    #[error("{0}")]
    Database(#[from] AppError),
}

impl From<sea_orm::DbErr> for ImportError {
    fn from(e: sea_orm::DbErr) -> Self {
        ImportError::Database(e.into())
    }
}

/// The depth of a level, province 0 … community 4: parents are written before children.
fn depth(level: RegionLevel) -> usize {
    match level {
        RegionLevel::Province => 0,
        RegionLevel::City => 1,
        RegionLevel::County => 2,
        RegionLevel::Street => 3,
        RegionLevel::Community => 4,
    }
}

/// Imports `records` (one file, as [`crate::domain::region_codes::parse_csv`] read it).
/// `source` names the file in the recorded events. Errors name the line at fault and
/// leave the database as it was.
pub async fn import(
    db: &DatabaseConnection,
    mut records: Vec<RegionRecord>,
    source: &str,
    mode: Mode,
    now: DateTime<Utc>,
) -> Result<ImportReport, ImportError> {
    let mut report = ImportReport { read: records.len(), ..Default::default() };
    // Parents first; the file's order within a level.
    records.sort_by_key(|r| depth(r.level));

    let txn = begin_write(db).await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        // No other writer adds regions (or takes an id) while ids are given out here.
        txn.execute_unprepared("LOCK TABLE regions IN SHARE ROW EXCLUSIVE MODE").await?;
    }
    let existing = region::Entity::find().all(&txn).await?;
    let by_code: HashMap<&str, &region::Model> = existing.iter().map(|r| (r.code.as_str(), r)).collect();
    let by_id: HashMap<i64, &region::Model> = existing.iter().map(|r| (r.id, r)).collect();
    let mut next_id = existing.iter().map(|r| r.id).max().unwrap_or(0) + 1;

    // Every unit's id and path as they will be: the file's, then the database's.
    let mut placed: HashMap<&str, (i64, String)> = HashMap::with_capacity(records.len());
    let mut inserts = Vec::new();
    let mut events: Vec<(i64, &'static str, Option<String>, Option<String>)> = Vec::new();
    let mut moves: Vec<(i64, String)> = Vec::new(); // (id, new path), top-down
    let mut updates: Vec<(i64, String, Option<String>, Option<i64>)> = Vec::new(); // name, kind, parent
    for r in &records {
        let parent = match &r.parent_code {
            None => None,
            Some(pc) => {
                if let Some((id, path)) = placed.get(pc.as_str()) {
                    Some((*id, path.clone()))
                } else if let Some(p) = by_code.get(pc.as_str()) {
                    if p.retired_at.is_some() {
                        return Err(LineError {
                            line: r.line,
                            message: format!("parent code {pc} is retired and not in the file"),
                        }
                        .into());
                    }
                    Some((p.id, p.path.clone()))
                } else {
                    return Err(LineError {
                        line: r.line,
                        message: format!("unknown parent code {pc}: neither in the file nor in the database"),
                    }
                    .into());
                }
            }
        };
        let parent_path = parent.as_ref().map_or("/", |(_, p)| p.as_str()).to_owned();
        let kind = r.kind.map(|k| k.as_str().to_owned());
        match by_code.get(r.code.as_str()) {
            None => {
                let id = next_id;
                next_id += 1;
                let path = format!("{parent_path}{id}/");
                inserts.push(region::ActiveModel {
                    id: Set(id),
                    parent_id: Set(parent.as_ref().map(|(id, _)| *id)),
                    code: Set(r.code.clone()),
                    name: Set(r.name.clone()),
                    level: Set(r.level.as_str().to_owned()),
                    kind: Set(kind),
                    path: Set(path.clone()),
                    latitude: Set(None),
                    longitude: Set(None),
                    created_at: Set(now),
                    retired_at: Set(None),
                });
                report.added += 1;
                placed.insert(&r.code, (id, path));
            }
            Some(old) if mode == Mode::AddMissing => {
                placed.insert(&r.code, (old.id, old.path.clone()));
            }
            Some(old) => {
                let parent_id = parent.as_ref().map(|(id, _)| *id);
                let path = if old.parent_id != parent_id {
                    let path = format!("{parent_path}{}/", old.id);
                    let was = old.parent_id.and_then(|id| by_id.get(&id)).map(|p| p.code.clone());
                    events.push((old.id, "moved", was, r.parent_code.clone()));
                    moves.push((old.id, path.clone()));
                    report.moved += 1;
                    path
                } else {
                    // Under a moved parent the path changes with the parent's rewrite.
                    format!("{parent_path}{}/", old.id)
                };
                if old.name != r.name {
                    events.push((old.id, "renamed", Some(old.name.clone()), Some(r.name.clone())));
                    report.renamed += 1;
                }
                if old.kind != kind {
                    events.push((old.id, "reclassified", old.kind.clone(), kind.clone()));
                    report.reclassified += 1;
                }
                if old.retired_at.is_some() {
                    events.push((old.id, "restored", None, None));
                    report.restored += 1;
                }
                if old.name != r.name || old.kind != kind || old.retired_at.is_some() || old.parent_id != parent_id {
                    updates.push((old.id, r.name.clone(), kind, parent_id));
                }
                placed.insert(&r.code, (old.id, path));
            }
        }
    }

    // Units under the file's roots that the file no longer has.
    let mut retire = Vec::new();
    if mode == Mode::Sync {
        let roots: Vec<&str> = records
            .iter()
            .filter(|r| r.parent_code.as_deref().is_none_or(|pc| !placed.contains_key(pc)))
            .filter_map(|r| by_code.get(r.code.as_str()).map(|old| old.path.as_str()))
            .collect();
        for old in &existing {
            if old.retired_at.is_none()
                && !placed.contains_key(old.code.as_str())
                && roots.iter().any(|root| old.path.starts_with(root))
            {
                retire.push(old.id);
                events.push((old.id, "retired", Some(old.name.clone()), None));
            }
        }
        report.retired = retire.len();
    }

    // Nothing has been written so far: from here on, every line is known to be good.
    for (id, name, kind, parent_id) in updates {
        region::Entity::update_many()
            .col_expr(region::Column::Name, Expr::value(name))
            .col_expr(region::Column::Kind, Expr::value(kind))
            .col_expr(region::Column::ParentId, Expr::value(parent_id))
            .col_expr(region::Column::RetiredAt, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(region::Column::Id.eq(id))
            .exec(&txn)
            .await?;
    }
    // Moves, top-down: each rewrites its whole subtree's paths by prefix.
    let backend = txn.get_database_backend();
    for (id, new_path) in &moves {
        let Some(current) = region::Entity::find_by_id(*id)
            .select_only()
            .column(region::Column::Path)
            .into_tuple::<String>()
            .one(&txn)
            .await?
        else {
            continue;
        };
        let (p1, p2, p3) = match backend {
            DbBackend::Postgres => ("$1", "$2", "$3"),
            _ => ("?", "?", "?"),
        };
        let sql = format!("UPDATE regions SET path = {p1} || substr(path, {p2}) WHERE path LIKE {p3}");
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            // An INTEGER start: PostgreSQL has substr(text, integer), not (…, bigint); the
            // path is ASCII (ids and slashes), so its byte length is its length.
            [new_path.clone().into(), (current.len() as i32 + 1).into(), format!("{current}%").into()],
        ))
        .await?;
    }
    let mut pending = inserts.into_iter().peekable();
    while pending.peek().is_some() {
        let chunk: Vec<_> = pending.by_ref().take(CHUNK).collect();
        region::Entity::insert_many(chunk).exec_without_returning(&txn).await?;
    }
    for ids in retire.chunks(CHUNK) {
        region::Entity::update_many()
            .col_expr(region::Column::RetiredAt, Expr::value(now))
            .filter(region::Column::Id.is_in(ids.iter().copied()))
            .exec(&txn)
            .await?;
    }
    let mut pending = events.into_iter().peekable();
    while pending.peek().is_some() {
        let chunk: Vec<_> = pending
            .by_ref()
            .take(CHUNK)
            .map(|(region_id, action, from, to)| region_event::ActiveModel {
                region_id: Set(region_id),
                action: Set(action.to_owned()),
                from_value: Set(from),
                to_value: Set(to),
                source: Set(source.chars().take(255).collect()),
                at: Set(now),
                ..Default::default()
            })
            .collect();
        region_event::Entity::insert_many(chunk).exec_without_returning(&txn).await?;
    }
    if report.added > 0 && backend == DbBackend::Postgres {
        // Ids were given out here: the sequence goes on after them.
        txn.execute_unprepared("SELECT setval(pg_get_serial_sequence('regions', 'id'), (SELECT MAX(id) FROM regions))")
            .await?;
    }
    txn.commit().await?;
    Ok(report)
}

/// Reads and imports a file (the `import-regions` command).
pub async fn import_file(
    db: &DatabaseConnection,
    path: &std::path::Path,
    now: DateTime<Utc>,
) -> Result<ImportReport, ImportError> {
    let file = std::fs::File::open(path)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("reading {}: {e}", path.display())))?;
    let records = crate::domain::region_codes::parse_csv(std::io::BufReader::new(file))?;
    let source = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    import(db, records, &source, Mode::Sync, now).await
}
