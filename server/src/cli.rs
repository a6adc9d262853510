//! The subcommands besides `serve`.

use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use migration::{Migrator, MigratorTrait};

use crate::{
    config::Config,
    domain::{
        clock::{Clock, SystemClock},
        role::Role,
    },
    service::{
        auth::find_or_create_user,
        demo,
        role_grants::{insert_grant, resolve_scope},
    },
    startup::connect_database,
};

#[derive(Debug, Parser)]
#[command(name = "linli", version, about = "Linli (邻里): community social organizations, backend")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate, then serve the API (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Load the demo regions, organizations, activities and accounts (idempotent).
    SeedDemo,
    /// Load the National Bureau of Statistics' region codes (统计用区划代码) from a CSV file:
    /// `code,name,parent_code,level[,urban_rural_code]`, one unit a line (header optional).
    /// Idempotent: adds new units, updates and records renamed or moved ones, retires
    /// those gone from the file (never deletes). A bad line changes nothing.
    ImportRegions {
        /// The CSV file, e.g. data/regions/gansu-2023.csv.
        file: std::path::PathBuf,
    },
    /// Derive each community's monthly figures again from the records: the activity
    /// months (`activity_months`, summed anew from `activity_stats`) and the participant
    /// sets (`participant_months`, from `participant_years`: adds any participant missing,
    /// never removes one) and each community's residents (`community_residents`, from
    /// `users`). Safe beside a running server. After a bulk load in SQL, or a
    /// rolling upgrade. (`rebuild-participants` is its former name.)
    #[command(alias = "rebuild-participants")]
    RebuildFigures,
    /// Grant a role to the user with this openid, creating the user if needed (bootstraps
    /// the first admin).
    GrantRole {
        #[arg(long)]
        openid: String,
        /// org_staff, org_leader, committee, street, civil_affairs or system_admin.
        #[arg(long)]
        role: String,
        /// The scope: a region id, or an organization id for org roles.
        #[arg(long)]
        scope: Option<i64>,
    },
}

pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    create_postgres_database(&config.database_url).await?;
    let db = connect_database(config).await?;
    migrate_database(&db).await?;
    println!("migrations applied");
    Ok(())
}

/// The migrations, then what a new table derives from the rows already there
/// ([`participant_counts::fill_if_new`](crate::service::participant_counts::fill_if_new),
/// [`activity_months::fill_if_new`](crate::service::activity_months::fill_if_new),
/// [`community_residents::fill_if_new`](crate::service::community_residents::fill_if_new)).
pub async fn migrate_database(db: &sea_orm::DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None).await.context("running migrations")?;
    crate::service::participant_counts::fill_if_new(db)
        .await
        .map_err(|e| anyhow::anyhow!("deriving the participant sets: {e}"))?;
    crate::service::activity_months::fill_if_new(db)
        .await
        .map_err(|e| anyhow::anyhow!("summing the activity months: {e}"))?;
    crate::service::community_residents::fill_if_new(db)
        .await
        .map_err(|e| anyhow::anyhow!("deriving the residents' sets: {e}"))
}

pub async fn rebuild_figures(config: &Config) -> anyhow::Result<()> {
    let db = connect_database(config).await?;
    migrate_database(&db).await?;
    let started = std::time::Instant::now();
    let communities = crate::service::activity_months::rebuild(&db).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("activity months of {communities} communities summed in {:.2} s", started.elapsed().as_secs_f64());
    let started = std::time::Instant::now();
    let communities = crate::service::participant_counts::rebuild(&db).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("participant sets of {communities} communities derived in {:.2} s", started.elapsed().as_secs_f64());
    let started = std::time::Instant::now();
    let communities = crate::service::community_residents::rebuild(&db).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("residents' sets of {communities} communities derived in {:.2} s", started.elapsed().as_secs_f64());
    Ok(())
}

pub async fn seed_demo(config: &Config) -> anyhow::Result<()> {
    create_postgres_database(&config.database_url).await?;
    let db = connect_database(config).await?;
    migrate_database(&db).await?;
    let report = demo::seed(&db, SystemClock.now()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("demo data: {report:?}");
    Ok(())
}

pub async fn import_regions(config: &Config, file: &std::path::Path) -> anyhow::Result<()> {
    use crate::service::region_import::{ImportError, import_file};
    create_postgres_database(&config.database_url).await?;
    let db = connect_database(config).await?;
    migrate_database(&db).await?;
    let started = std::time::Instant::now();
    let report = import_file(&db, file, SystemClock.now()).await.map_err(|e| match e {
        ImportError::Line(e) => anyhow::anyhow!("{}: {e}; nothing was imported", file.display()),
        ImportError::Database(e) => anyhow::anyhow!("{}: {e}; nothing was imported", file.display()),
    })?;
    println!("{}: {report} in {:.2} s", file.display(), started.elapsed().as_secs_f64());
    Ok(())
}

pub async fn grant_role(config: &Config, openid: &str, role: &str, scope: Option<i64>) -> anyhow::Result<()> {
    let openid = openid.trim();
    if openid.is_empty() {
        anyhow::bail!("--openid must not be empty (the openid the person signs in with)");
    }
    let role = Role::parse(role).filter(|r| *r != Role::Resident).ok_or_else(|| {
        anyhow::anyhow!("--role must be org_staff, org_leader, committee, street, civil_affairs or system_admin")
    })?;
    let db = connect_database(config).await?;
    migrate_database(&db).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let describe = |e: crate::error::AppError| match e {
        crate::error::AppError::Validation(errors) => anyhow::anyhow!(
            "{}",
            errors.iter().map(|f| format!("{}: {}", flag_of(&f.field), f.message)).collect::<Vec<_>>().join("; ")
        ),
        other => anyhow::anyhow!("{other}"),
    };
    resolve_scope(&db, role, scope).await.map_err(describe)?;
    let user = find_or_create_user(&db, openid, None, clock.now()).await.map_err(describe)?;
    let (grant, created) = insert_grant(&db, user.id, role, scope, None, clock.now()).await.map_err(describe)?;
    let scope = scope.map(|s| format!("scope {s}")).unwrap_or_else(|| "no scope".to_owned());
    println!(
        "{} {} ({scope}) for user {} — grant {}",
        if created { "granted" } else { "already held:" },
        role.as_str(),
        user.id,
        grant.id
    );
    Ok(())
}

/// For a `postgres://…/NAME` URL: creates the database `NAME` when the server does not
/// have it yet (connecting to the server's `postgres` database to do so), so `linli
/// migrate` works on a fresh server as SQLite's `mode=rwc` does. SQLite URLs: nothing.
pub async fn create_postgres_database(url: &str) -> anyhow::Result<()> {
    use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
    let Some((server, rest)) = url.strip_prefix("postgres").and_then(|_| url.rsplit_once('/')) else {
        return Ok(());
    };
    let (name, query) = rest.split_once('?').map(|(n, q)| (n, format!("?{q}"))).unwrap_or((rest, String::new()));
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Ok(()); // an unusual name: leave it to the connection to report
    }
    let admin = Database::connect(format!("{server}/postgres{query}")).await?;
    let exists = admin
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 1 FROM pg_database WHERE datname = $1",
            [name.into()],
        ))
        .await?
        .is_some();
    if !exists {
        admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await?;
        println!("created database {name}");
    }
    admin.close().await?;
    Ok(())
}

/// An error and its causes, each said once: database errors repeat their cause in their
/// own message, which `{:#}` would print twice.
pub fn describe(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

/// The command-line flag a service's field error is about: the user typed `--scope`, not
/// `scope_id`.
fn flag_of(field: &str) -> &str {
    match field {
        "scope_id" => "--scope",
        "role" => "--role",
        "user_id" | "openid" => "--openid",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_said_once() {
        let e =
            anyhow::anyhow!("database \"x\" does not exist").context("connection error: database \"x\" does not exist");
        assert_eq!(describe(&e), "connection error: database \"x\" does not exist");
        let e = anyhow::anyhow!("refused").context("connecting to 127.0.0.1:5432");
        assert_eq!(describe(&e), "connecting to 127.0.0.1:5432: refused");
    }

    #[test]
    fn field_errors_name_the_flags() {
        assert_eq!(flag_of("scope_id"), "--scope");
        assert_eq!(flag_of("role"), "--role");
        assert_eq!(flag_of("other"), "other");
    }
}
