//! The OS threads password hashes run on: a fixed set of their own, at a lower scheduling
//! priority than the async workers.
//!
//! During a login flood every hashing thread is busy for as long as the flood lasts. On
//! tokio's blocking pool those threads would compete with the async workers as equals,
//! so ValidateAccessToken and health would get only their round-robin share of the cores
//! and their latency would follow the flood. Here the hashing threads run at
//! [`HASHING_NICE`]: the kernel gives a core to a woken async worker first and to
//! hashing whatever is left, which on a loaded box is most of it, since answering a
//! cheap RPC takes microseconds. Lowering a thread's own priority needs no privilege;
//! raising it back would, which is why these threads do nothing else.

use std::panic::{AssertUnwindSafe, catch_unwind};

use anyhow::Context;

/// How much nicer the hashing threads are than the process (whose async workers stay at
/// its own nice value, normally 0). Linux's CFS weighs nice 10 at about a tenth of
/// nice 0: hashing keeps roughly 10 % of a core it shares with a busy async worker, so a
/// login is slowed by a flood of cheap RPCs but never stalled.
pub const HASHING_NICE: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

/// A handle on the hashing threads; clones share them. The threads end once every
/// handle is dropped.
#[derive(Clone, Debug)]
pub struct HashingThreads {
    jobs: flume::Sender<Job>,
}

impl HashingThreads {
    /// Starts `count` threads named `argon2-N`.
    ///
    /// # Errors
    /// The OS refused to start a thread.
    pub fn start(count: usize) -> anyhow::Result<Self> {
        let (jobs, queue) = flume::unbounded::<Job>();
        for index in 0..count.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{index}"))
                .spawn(move || {
                    if let Err(error) = lower_this_threads_priority(HASHING_NICE) {
                        tracing::warn!(%error, "hashing thread keeps the normal priority");
                    }
                    for job in queue.iter() {
                        // A panicking job fails its own caller (its result sender is
                        // dropped) and must not take the thread down with it.
                        let _ = catch_unwind(AssertUnwindSafe(job));
                    }
                })
                .context("starting a password hashing thread")?;
        }
        Ok(Self { jobs })
    }

    /// Runs `work` on a hashing thread and waits for its result. The caller bounds how
    /// many run at once (the hasher's semaphore, whose permit each job holds until it
    /// ends), so a job finds a thread free; were there more, they would wait in order.
    ///
    /// # Errors
    /// `work` panicked.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let (result_tx, result_rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = result_tx.send(work());
            }))
            .map_err(|_| anyhow::anyhow!("the password hashing threads have stopped"))?;
        result_rx.await.context("password hashing panicked")
    }
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn lower_this_threads_priority(by: i32) -> std::io::Result<()> {
    // SAFETY: getpriority and setpriority take plain integers and touch no memory of
    // ours. On Linux, PRIO_PROCESS with who = 0 names the calling thread alone, not the
    // whole process. The kernel's lowest priority is nice 19.
    let result = unsafe {
        let current = libc::getpriority(libc::PRIO_PROCESS, 0);
        libc::setpriority(libc::PRIO_PROCESS, 0, current.saturating_add(by).min(19))
    };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_threads_priority(_by: i32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// Field 19 of `/proc/thread-self/stat`: the calling thread's nice value.
    #[cfg(target_os = "linux")]
    fn this_threads_nice() -> i32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        // The command name (field 2) is in parentheses and may hold spaces.
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        after_name.split(' ').nth(16).unwrap().parse().unwrap()
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn work_runs_below_the_callers_priority() {
        let threads = HashingThreads::start(1).unwrap();
        let caller = this_threads_nice();
        let hashing = threads.run(this_threads_nice).await.unwrap();
        assert_eq!(hashing, (caller + HASHING_NICE).min(19));
        assert_eq!(
            this_threads_nice(),
            caller,
            "the caller's own priority is untouched"
        );
    }

    #[tokio::test]
    async fn a_job_that_panics_fails_alone_and_the_threads_keep_working() {
        let threads = HashingThreads::start(1).unwrap();
        let panicked = threads.run(|| -> u32 { panic!("a bug in a hash") }).await;
        assert!(panicked.is_err());
        assert_eq!(threads.run(|| 7).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn every_thread_takes_work() {
        let threads = HashingThreads::start(2).unwrap();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        // Both jobs block until the other has started: one thread alone would never
        // finish them, which the timeout turns into a failure rather than a hang.
        let both = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            tokio::join!(
                threads.run({
                    let barrier = barrier.clone();
                    move || barrier.wait().is_leader()
                }),
                threads.run(move || barrier.wait().is_leader()),
            )
        });
        let (first, second) = both.await.expect("two jobs ran at once");
        assert_ne!(first.unwrap(), second.unwrap());
    }
}
