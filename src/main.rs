//! `identity`: parse the command line, load settings, start logging, dispatch. A
//! refused operator command prints its reason and exits 1; anything else that fails is
//! logged with its cause chain and exits 1 too.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use identity::cli::{self, Cli, Command, KeysCommand, Refusal};
use identity::configuration::{LayeredSource, Settings};
use identity::observability::otlp_traces::OtlpTraces;
use identity::observability::telemetry;
use identity::startup::Application;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let (settings, source) = match Settings::load(cli.config.as_deref()) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("identity: {error}");
            return ExitCode::from(2);
        }
    };
    let traces = match OtlpTraces::from_environment() {
        Ok(traces) => traces,
        Err(error) => {
            eprintln!("identity: {error:#}");
            return ExitCode::from(2);
        }
    };
    let subscriber =
        telemetry::subscriber_with_traces(settings.log_format, "info", std::io::stderr, traces.as_ref());
    if let Err(error) = telemetry::install(subscriber) {
        eprintln!("identity: {error:#}");
        return ExitCode::FAILURE;
    }
    let outcome = run(cli.command.unwrap_or(Command::Serve), settings, &source).await;
    if let Some(traces) = traces {
        // Flushing blocks on the exporter, whose channel runs on this runtime.
        let _ = tokio::task::spawn_blocking(move || traces.shutdown()).await;
    }
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if let Some(refusal) = error.downcast_ref::<Refusal>() {
                eprintln!("identity: {refusal}");
            } else {
                tracing::error!(error = format!("{error:#}"), "identity failed");
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings, source: &LayeredSource) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            cli::connect_and_migrate(&settings).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::CreateSuperuser(args) => cli::create_superuser(args, &settings).await,
        Command::PurgeExpired => cli::purge_expired(&settings).await,
        Command::Keys {
            command: KeysCommand::Generate { out },
        } => {
            let (path, kid) = identity::auth::signing_keys::generate_key_file(&out, chrono::Utc::now())?;
            tracing::info!(file = %path.display(), %kid, "signing key written; it signs from the next start");
            Ok(())
        }
        Command::HealthCheck(args) => cli::health_check(args, &settings).await,
        Command::Groups { command } => cli::access_commands::groups(command, &settings).await,
        Command::Users { command } => cli::access_commands::users(command, &settings).await,
        Command::ImportDjango(args) => cli::django_import_command::import_django(args, &settings).await,
        Command::ServiceToken { command } => {
            cli::service_token_commands::service_token(command, &settings).await
        }
        Command::Config { list } => {
            cli::print_configuration(&settings, source, list);
            Ok(())
        }
        Command::Descriptor { out } => {
            std::fs::write(&out, identity::proto::FILE_DESCRIPTOR_SET)
                .with_context(|| format!("writing {}", out.display()))?;
            tracing::info!(file = %out.display(), "descriptor set written");
            Ok(())
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    let shutdown = app.shutdown_token();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested");
        shutdown.cancel();
    });
    app.run_until_stopped().await
}

/// Ctrl-C or SIGTERM (what Kubernetes and docker send).
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
