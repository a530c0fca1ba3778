//! The closed-loop driver: `concurrency` tasks, each sending its next request as soon as
//! the previous one answered, warm-up first, then measuring.

use std::future::Future;
use std::time::{Duration, Instant};

use tonic::Status;
use tonic::transport::{Channel, Endpoint};

use crate::report::Tally;

/// One task's request loop. `None`: this task has nothing left to send.
pub trait Worker: Send + 'static {
    fn call(&mut self) -> impl Future<Output = Option<Result<(), Status>>> + Send;
}

/// `connections` independent HTTP/2 connections to `target`, connected on first use so
/// that an unreachable server shows up as UNAVAILABLE errors in the report.
///
/// # Errors
/// `target` is not a URI.
pub fn channels(target: &str, connections: u32) -> anyhow::Result<Vec<Channel>> {
    let endpoint = Endpoint::from_shared(target.to_owned())?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true);
    Ok((0..connections).map(|_| endpoint.connect_lazy()).collect())
}

/// Runs every worker on its own task for `warmup + duration`; calls started during the
/// warm-up are not recorded. Returns the merged tally and when measuring began.
///
/// # Errors
/// A task panicked.
pub async fn drive<W: Worker>(
    workers: Vec<W>,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<(Tally, Instant)> {
    let measured_from = Instant::now() + warmup;
    let end = measured_from + duration;
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|worker| tokio::spawn(run_worker(worker, measured_from, end)))
        .collect();
    let mut total = Tally::new()?;
    for task in tasks {
        total.merge(&task.await??);
    }
    Ok((total, measured_from))
}

async fn run_worker<W: Worker>(mut worker: W, measured_from: Instant, end: Instant) -> anyhow::Result<Tally> {
    let mut tally = Tally::new()?;
    loop {
        let started = Instant::now();
        if started >= end {
            break;
        }
        let Some(outcome) = worker.call().await else {
            break;
        };
        let finished = Instant::now();
        if started < measured_from {
            continue;
        }
        match outcome {
            Ok(()) => tally.success(finished - started, finished),
            Err(status) => tally.error(status.code(), finished),
        }
    }
    Ok(tally)
}
