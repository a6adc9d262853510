use clap::Parser;
use linli_server::{
    cli::{self, Cli, Command},
    config::Config,
    startup::Application,
    telemetry,
};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let _ = dotenvy::dotenv();
    let args = Cli::parse();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("linli: configuration error: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    telemetry::init(config.json_logs);
    let result = match args.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => cli::migrate(&config).await,
        Command::SeedDemo => cli::seed_demo(&config).await,
        Command::ImportRegions { file } => cli::import_regions(&config, &file).await,
        Command::RebuildFigures => cli::rebuild_figures(&config).await,
        Command::GrantRole { openid, role, scope } => cli::grant_role(&config, &openid, &role, scope).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // Once, on stderr, in the user's words (the log would print it a second time).
            eprintln!("linli: {}", cli::describe(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    // Outside production, a PostgreSQL database that does not exist yet is created, as
    // `linli migrate` does (in production the operator creates it with its owner).
    if config.app_env != linli_server::config::AppEnv::Production {
        cli::create_postgres_database(&config.database_url).await?;
    }
    Application::build(config).await?.run_until_stopped().await
}
