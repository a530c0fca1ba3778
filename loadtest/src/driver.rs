//! The driver: `concurrency` tasks, each sending its next request as soon as the previous
//! one answered (closed loop) or, with a rate, at its share of that pace; warm-up first,
//! then measuring.

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
/// warm-up are not recorded. With a `rate` (requests per second, all tasks together), each
/// task sends at most one call per `workers / rate`, the tasks' slots spread evenly; a
/// task whose call outlasts its slot sends the next at once, without catching up on
/// missed slots; 0 is the closed loop. Returns the merged tally and when measuring began.
///
/// # Errors
/// A task panicked.
pub async fn drive<W: Worker>(
    workers: Vec<W>,
    warmup: Duration,
    duration: Duration,
    rate: u32,
) -> anyhow::Result<(Tally, Instant)> {
    let start = Instant::now();
    let measured_from = start + warmup;
    let end = measured_from + duration;
    let count = u32::try_from(workers.len()).unwrap_or(u32::MAX).max(1);
    let period = (rate > 0).then(|| Duration::from_secs(1) * count / rate);
    let tasks: Vec<_> = (0..count)
        .zip(workers)
        .map(|(index, worker)| {
            let pace = period.map(|period| {
                let mut ticks = tokio::time::interval_at((start + period * index / count).into(), period);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                ticks
            });
            tokio::spawn(run_worker(worker, pace, measured_from, end))
        })
        .collect();
    let mut total = Tally::new()?;
    for task in tasks {
        total.merge(&task.await??);
    }
    Ok((total, measured_from))
}

async fn run_worker<W: Worker>(
    mut worker: W,
    mut pace: Option<tokio::time::Interval>,
    measured_from: Instant,
    end: Instant,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::new()?;
    loop {
        if let Some(ticks) = pace.as_mut() {
            ticks.tick().await;
        }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    /// Answers at once, counting its calls.
    struct AnswersAtOnce(Arc<AtomicU64>);

    impl Worker for AnswersAtOnce {
        async fn call(&mut self) -> Option<Result<(), Status>> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Some(Ok(()))
        }
    }

    /// Two workers sharing one call counter.
    fn two_counting_workers() -> (Arc<AtomicU64>, Vec<AnswersAtOnce>) {
        let calls = Arc::new(AtomicU64::new(0));
        let workers = (0..2).map(|_| AnswersAtOnce(calls.clone())).collect();
        (calls, workers)
    }

    #[tokio::test]
    async fn a_rate_holds_instant_answers_to_their_pace() {
        let (calls, workers) = two_counting_workers();
        // 200/s over 2 tasks: one call per task every 10 ms, 51 ticks each in 500 ms.
        drive(workers, Duration::ZERO, Duration::from_millis(500), 200)
            .await
            .unwrap();
        let calls = calls.load(Ordering::Relaxed);
        assert!((10..=102).contains(&calls), "{calls} calls");
    }

    #[tokio::test]
    async fn without_a_rate_the_loop_is_closed() {
        let (calls, workers) = two_counting_workers();
        drive(workers, Duration::ZERO, Duration::from_millis(100), 0)
            .await
            .unwrap();
        assert!(calls.load(Ordering::Relaxed) > 1_000, "{calls:?}");
    }
}
