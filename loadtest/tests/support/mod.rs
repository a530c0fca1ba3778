//! What the tests of `identity-bench` against the real server share: a server on a fresh
//! SQLite database, short-run options, and the server's own count of an RPC.

use std::path::Path;
use std::time::Duration;

use clap::Parser;
use identity::configuration::Settings;
use identity::startup::Application;
use identity_bench::options::BenchOptions;
use identity_bench::report::Report;
use identity_bench::{Outcome, run};
use secrecy::SecretString;
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

/// A server on a fresh SQLite database, stopped when the test drops it.
pub struct Server {
    pub target: String,
    pub mail_dir: std::path::PathBuf,
    stop: CancellationToken,
    _dir: TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

pub async fn spawn_server() -> Server {
    let dir = tempfile::Builder::new()
        .prefix("identity-bench-test-")
        .tempdir()
        .unwrap();
    let settings = server_settings(&dir);
    let mail_dir = settings.email.mail_dir.clone();
    let app = Application::build(settings).await.expect("build the server");
    let target = format!("http://127.0.0.1:{}", app.port());
    let stop = app.shutdown_token();
    tokio::spawn(app.run_until_stopped());
    Server {
        target,
        mail_dir,
        _dir: dir,
        stop,
    }
}

fn server_settings(dir: &TempDir) -> Settings {
    let defaults = Settings::default();
    let database = dir.path().join("identity.db");
    let mut settings = Settings {
        database_url: SecretString::from(format!("sqlite://{}?mode=rwc", database.display())),
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        rate_limits_enabled: false,
        // Tests run in parallel: no fixed metrics port.
        metrics_addr: None,
        ..defaults
    };
    settings.email.smtp_url = None;
    settings.email.mail_dir = dir.path().join("mail");
    settings.email.outbox_poll_interval = Duration::from_millis(50);
    settings.password_hashing.max_concurrency = 2;
    settings
}

/// Short-run options; `overrides` are `(flag, value)` pairs replacing the defaults here.
pub fn options(scenario: &str, target: &str, mail_dir: &Path, overrides: &[(&str, &str)]) -> BenchOptions {
    let mail_dir = mail_dir.to_str().unwrap();
    let defaults = [
        ("--target", target),
        ("--connections", "2"),
        ("--concurrency", "4"),
        ("--warmup", "100ms"),
        ("--duration", "700ms"),
        ("--users", "2"),
        ("--mail-timeout", "30s"),
        ("--mail-dir", mail_dir),
    ];
    let mut args = vec!["identity-bench", scenario];
    for (flag, value) in defaults {
        let value = overrides
            .iter()
            .find(|(candidate, _)| *candidate == flag)
            .map_or(value, |(_, value)| *value);
        args.extend([flag, value]);
    }
    BenchOptions::try_parse_from(args).unwrap()
}

pub async fn load_report(options: &BenchOptions) -> Report {
    match run(options).await.expect("the run completes") {
        Outcome::Load(report) => report,
        Outcome::Hashing(limit) => panic!("expected a load report, got {limit:?}"),
    }
}

/// `scenario` with the test options against a fresh server; fails on any error.
pub async fn clean_run(scenario: &str) -> Report {
    let server = spawn_server().await;
    let report = load_report(&options(scenario, &server.target, &server.mail_dir, &[])).await;
    assert!(report.requests > 0, "{report}");
    assert_eq!(report.errors_total, 0, "{report}");
    report
}

/// The server's count of `method` calls that ended OK, from its Prometheus exposition.
pub fn successful_calls(exposition: &str, method: &str) -> u64 {
    let method_label = format!("method=\"{method}\"");
    exposition
        .lines()
        .filter(|line| line.starts_with("identity_grpc_requests_total{"))
        .filter(|line| line.contains(&method_label) && line.contains("code=\"OK\""))
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<u64>().ok())
        .sum()
}
