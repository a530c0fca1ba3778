//! Command-line options of `identity-bench`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Drives a running identity server over real gRPC connections, or measures this
/// machine's own ceilings (`echo`, `echo-verify`, `argon2`) to divide by.
#[derive(Clone, Debug, Parser, PartialEq, Eq)]
#[command(name = "identity-bench", version)]
pub struct BenchOptions {
    /// What to measure.
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// The server under test (ignored by the ceiling modes, which start their own).
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    pub target: String,
    /// HTTP/2 connections the requests are spread over.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    pub connections: u32,
    /// Requests in flight at once (one task each).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: u32,
    /// How long to measure, after the warm-up: `10s`, `500ms`, `2m` or plain seconds.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// How long to drive load before measuring.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Requests per second across all tasks, each task keeping its share of the pace
    /// whatever the answers take (0: each task sends as soon as its previous call
    /// answered). A flood of a given size needs a pace: a closed loop against a server
    /// that sheds answers at once turns into a flood of rejections instead.
    #[arg(long, default_value_t = 0)]
    pub rate: u32,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The server's `IDENTITY_MAIL_DIR`: verification links are read from its `.eml` files.
    #[arg(long, default_value = "mail")]
    pub mail_dir: PathBuf,
    /// Accounts to prepare (signed up and verified) before the run; for `verify-email`,
    /// the number of verification tokens, which bounds the run.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub users: u32,
    /// How long to wait for the server's verification emails while preparing.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    pub mail_timeout: Duration,
    /// Instead of measuring, write the scenario's request body for `h2load -d` to FILE and
    /// print the URL to post it to (`health`, `get-jwks`, `validate`, `check`,
    /// `check-permission`, and the ceilings `echo` and `echo-verify`, which then serve
    /// until stopped). See `loadtest/h2load.sh`.
    #[arg(long, value_name = "FILE")]
    pub h2load_body: Option<PathBuf>,
}

/// A workload, or one of this machine's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// New accounts (Argon2id hash per request).
    Signup,
    /// Consumes prepared verification tokens; stops when they run out.
    VerifyEmail,
    /// Password logins of prepared accounts (Argon2id verify per request).
    Login,
    /// Refresh-token rotation, one chain per task.
    Refresh,
    /// ValidateAccessToken of a live token.
    Validate,
    /// GetAccount with a bearer token.
    GetAccount,
    /// grpc.health.v1 Check of the whole server.
    Health,
    /// GetJwks: the public keys, as every verifying service fetches them.
    GetJwks,
    /// Envoy's ext_authz Check (`envoy.service.auth.v3.Authorization`) of a live bearer.
    Check,
    /// CheckPermission of a live token for a permission it does not hold (the full path:
    /// the token, its session, then the permission query).
    CheckPermission,
    /// A blend: validate 60 %, get-account 15 %, refresh 15 %, health 5 %, login 5 %.
    Mixed,
    /// Ceiling: a bare tonic unary service in-process, answering with its input.
    Echo,
    /// Ceiling: the same service verifying the EdDSA JWT the identity service issues.
    EchoVerify,
    /// Ceiling: Argon2id verify at the configured `IDENTITY_ARGON2_*` parameters, in-process.
    Argon2,
}

impl Scenario {
    /// The name on the command line and in reports.
    #[must_use]
    pub fn name(self) -> String {
        self.to_possible_value()
            .map_or_else(|| format!("{self:?}"), |value| value.get_name().to_owned())
    }
}

/// `10s`, `250ms`, `2m`, or a plain number of seconds.
///
/// # Errors
/// Not a number with one of those units.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let (number, unit) = match raw.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(at) => raw.split_at(at),
        None => (raw, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{raw}` is not a duration such as 10s, 500ms or 2m"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        other => return Err(format!("unknown unit `{other}` in `{raw}`: use ms, s or m")),
    };
    Duration::try_from_secs_f64(secs).map_err(|error| format!("`{raw}`: {error}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn defaults_describe_a_ten_second_run_against_the_local_server() {
        let options = BenchOptions::try_parse_from(["identity-bench", "validate"]).unwrap();
        assert_eq!(options.scenario, Scenario::Validate);
        assert_eq!(options.target, "http://127.0.0.1:50051");
        assert_eq!(options.connections, 4);
        assert_eq!(options.concurrency, 32);
        assert_eq!(options.duration, Duration::from_secs(10));
        assert_eq!(options.warmup, Duration::from_secs(2));
        assert!(!options.json);
        assert_eq!(options.rate, 0);
        assert_eq!(options.mail_dir, PathBuf::from("mail"));
    }

    #[test]
    fn every_option_is_read() {
        let options = BenchOptions::try_parse_from([
            "identity-bench",
            "verify-email",
            "--target",
            "http://10.0.0.1:9000",
            "--connections",
            "2",
            "--concurrency",
            "64",
            "--duration",
            "1500ms",
            "--warmup",
            "0",
            "--rate",
            "250",
            "--json",
            "--mail-dir",
            "/tmp/mail",
            "--users",
            "500",
            "--mail-timeout",
            "1m",
        ])
        .unwrap();
        assert_eq!(options.scenario, Scenario::VerifyEmail);
        assert_eq!(options.target, "http://10.0.0.1:9000");
        assert_eq!((options.connections, options.concurrency), (2, 64));
        assert_eq!(options.duration, Duration::from_millis(1500));
        assert_eq!(options.warmup, Duration::ZERO);
        assert_eq!(options.rate, 250);
        assert!(options.json);
        assert_eq!(options.mail_dir, PathBuf::from("/tmp/mail"));
        assert_eq!(options.users, 500);
        assert_eq!(options.mail_timeout, Duration::from_secs(60));
    }

    #[test]
    fn scenario_names_are_the_command_line_names() {
        for (raw, scenario) in [
            ("signup", Scenario::Signup),
            ("verify-email", Scenario::VerifyEmail),
            ("login", Scenario::Login),
            ("refresh", Scenario::Refresh),
            ("get-account", Scenario::GetAccount),
            ("health", Scenario::Health),
            ("get-jwks", Scenario::GetJwks),
            ("check", Scenario::Check),
            ("check-permission", Scenario::CheckPermission),
            ("mixed", Scenario::Mixed),
            ("echo", Scenario::Echo),
            ("echo-verify", Scenario::EchoVerify),
            ("argon2", Scenario::Argon2),
        ] {
            let options = BenchOptions::try_parse_from(["identity-bench", raw]).unwrap();
            assert_eq!(options.scenario, scenario, "{raw}");
            assert_eq!(scenario.name(), raw);
        }
    }

    #[test]
    fn bad_values_are_refused() {
        for args in [
            vec!["identity-bench"],
            vec!["identity-bench", "teleport"],
            vec!["identity-bench", "health", "--connections", "0"],
            vec!["identity-bench", "health", "--concurrency", "-1"],
            vec!["identity-bench", "health", "--duration", "10h"],
            vec!["identity-bench", "health", "--duration", "soon"],
            vec!["identity-bench", "health", "--rate", "-5"],
        ] {
            assert!(BenchOptions::try_parse_from(&args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("0.5s"), Ok(Duration::from_millis(500)));
    }
}
