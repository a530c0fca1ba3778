//! What a run measured: per-task tallies merged into one report, printed as a table or JSON.

use std::collections::BTreeMap;
use std::fmt::{self, Display};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;
use tonic::Code;

/// Latencies above this are clamped; nothing sane takes a minute.
const MAX_LATENCY_MICROS: u64 = 60_000_000;

/// One task's measurements; merged at the end, so tasks never share a lock.
pub struct Tally {
    latencies: Histogram<u64>,
    errors: BTreeMap<&'static str, u64>,
    last_finish: Option<Instant>,
}

impl Tally {
    /// An empty tally.
    ///
    /// # Errors
    /// Never with these constant bounds; hdrhistogram's constructor is fallible.
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            latencies: Histogram::new_with_bounds(1, MAX_LATENCY_MICROS, 3)?,
            errors: BTreeMap::new(),
            last_finish: None,
        })
    }

    /// A successful call that took `latency`, finishing at `finished`.
    pub fn success(&mut self, latency: Duration, finished: Instant) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latencies
            .saturating_record(micros.clamp(1, MAX_LATENCY_MICROS));
        self.finished(finished);
    }

    /// A call that failed with `code`.
    pub fn error(&mut self, code: Code, finished: Instant) {
        *self.errors.entry(code_name(code)).or_default() += 1;
        self.finished(finished);
    }

    fn finished(&mut self, at: Instant) {
        self.last_finish = Some(self.last_finish.map_or(at, |last| last.max(at)));
    }

    /// Adds `other`'s measurements to this one.
    pub fn merge(&mut self, other: &Self) {
        // Same bounds on both sides, so `add` cannot fail.
        let _ = self.latencies.add(&other.latencies);
        for (code, count) in &other.errors {
            *self.errors.entry(code).or_default() += count;
        }
        if let Some(at) = other.last_finish {
            self.finished(at);
        }
    }

    /// The report of a run whose measuring began at `measured_from`. The elapsed time
    /// ends at the last finished call, so a run that ran out of work early (verify-email)
    /// is not diluted by idle time.
    #[must_use]
    pub fn report(
        &self,
        scenario: String,
        target: String,
        load: LoadShape,
        measured_from: Instant,
    ) -> Report {
        let elapsed = self.last_finish.map_or(Duration::ZERO, |last| {
            last.saturating_duration_since(measured_from)
        });
        let requests = self.latencies.len();
        let errors_total = self.errors.values().sum::<u64>();
        let per_sec = |count: u64| match elapsed.as_secs_f64() {
            secs if secs > 0.0 => count as f64 / secs,
            _ => 0.0,
        };
        let at = |quantile| self.latencies.value_at_quantile(quantile);
        Report {
            scenario,
            target,
            connections: load.connections,
            concurrency: load.concurrency,
            rate: load.rate,
            elapsed_secs: elapsed.as_secs_f64(),
            requests,
            requests_per_sec: per_sec(requests),
            errors_total,
            errors_per_sec: per_sec(errors_total),
            latency_micros: Latencies {
                p50: at(0.50),
                p90: at(0.90),
                p99: at(0.99),
                max: self.latencies.max(),
            },
            errors: self
                .errors
                .iter()
                .map(|(code, n)| ((*code).to_owned(), *n))
                .collect(),
        }
    }
}

/// How the load was applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LoadShape {
    pub connections: u32,
    pub concurrency: u32,
    /// Requests per second asked for; 0 for the closed loop.
    pub rate: u32,
}

/// Successful requests per second, latency quantiles and errors by status code.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub scenario: String,
    pub target: String,
    pub connections: u32,
    pub concurrency: u32,
    /// Requests per second asked for; 0 for the closed loop.
    pub rate: u32,
    pub elapsed_secs: f64,
    /// Successful requests measured.
    pub requests: u64,
    pub requests_per_sec: f64,
    pub errors_total: u64,
    pub errors_per_sec: f64,
    /// Of the successful requests.
    pub latency_micros: Latencies,
    /// Failed requests by gRPC status code name (`UNAVAILABLE`, …).
    pub errors: BTreeMap<String, u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Latencies {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
}

impl Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |micros: u64| micros as f64 / 1000.0;
        let l = &self.latency_micros;
        writeln!(f, "scenario     {}", self.scenario)?;
        writeln!(f, "target       {}", self.target)?;
        let pace = match self.rate {
            0 => String::new(),
            rate => format!(" at {rate}/s asked"),
        };
        writeln!(
            f,
            "load         {} connections, {} in flight{pace}, {:.1} s measured",
            self.connections, self.concurrency, self.elapsed_secs
        )?;
        writeln!(
            f,
            "requests     {} ok ({:.0}/s), {} failed ({:.0}/s)",
            self.requests, self.requests_per_sec, self.errors_total, self.errors_per_sec
        )?;
        writeln!(
            f,
            "latency ms   p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}",
            ms(l.p50),
            ms(l.p90),
            ms(l.p99),
            ms(l.max)
        )?;
        for (code, count) in &self.errors {
            writeln!(f, "error        {code:<20} {count}")?;
        }
        Ok(())
    }
}

/// The canonical upper-case name of a gRPC status code: the service's own metric labels.
pub use identity::grpc::rpc_metrics::code_name;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const LOAD: LoadShape = LoadShape {
        connections: 1,
        concurrency: 2,
        rate: 0,
    };

    #[test]
    fn merged_tallies_count_successes_and_errors_by_code() {
        let start = Instant::now();
        let mut first = Tally::new().unwrap();
        let mut second = Tally::new().unwrap();
        for millis in 1..=100 {
            first.success(
                Duration::from_millis(millis),
                start + Duration::from_millis(millis),
            );
        }
        first.error(Code::ResourceExhausted, start + Duration::from_millis(500));
        second.error(Code::ResourceExhausted, start + Duration::from_millis(900));
        second.error(Code::Unauthenticated, start + Duration::from_secs(1));
        first.merge(&second);

        let report = first.report("login".into(), "local".into(), LOAD, start);

        assert_eq!(report.requests, 100);
        assert_eq!(report.errors_total, 3);
        assert_eq!(report.errors["RESOURCE_EXHAUSTED"], 2);
        assert_eq!(report.errors["UNAUTHENTICATED"], 1);
        assert!(
            (report.elapsed_secs - 1.0).abs() < 1e-9,
            "{}",
            report.elapsed_secs
        );
        assert!((report.requests_per_sec - 100.0).abs() < 1e-6);
        assert!(
            (49_000..=51_000).contains(&report.latency_micros.p50),
            "{report:?}"
        );
        assert!(
            (98_000..=100_000).contains(&report.latency_micros.p99),
            "{report:?}"
        );
    }

    #[test]
    fn table_and_json_carry_the_error_codes() {
        let start = Instant::now();
        let mut tally = Tally::new().unwrap();
        tally.error(Code::Unavailable, start + Duration::from_millis(10));
        let report = tally.report("health".into(), "local".into(), LOAD, start);

        let table = report.to_string();
        assert!(table.contains("UNAVAILABLE"), "{table}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["errors"]["UNAVAILABLE"], 1);
        assert_eq!(json["requests"], 0);
        assert_eq!(json["scenario"], "health");
    }

    #[test]
    fn every_code_has_its_spec_name() {
        assert_eq!(code_name(Code::DeadlineExceeded), "DEADLINE_EXCEEDED");
        assert_eq!(code_name(Code::from_i32(16)), "UNAUTHENTICATED");
    }
}
