//! One bounded pool for the CPU-heavy work requests cause — image decoding,
//! face inference, argon2id, QR scanning — so a burst of expensive requests
//! queues briefly or is turned away (`503` + `Retry-After`) instead of
//! starving everything else, and abandoned work stops.
//!
//! tokio's blocking pool alone is unbounded (512 threads) and cannot cancel
//! a running closure; this adds the admission limit, and an [`Interrupt`]
//! flag the job polls between its steps, raised when the request that
//! waited for it is dropped (client gone, timeout).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use prometheus_client::metrics::counter::Counter;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The pool: `workers` jobs run at once, `queue` more may wait.
pub struct WorkPool {
    /// Permits to run; one per worker.
    running: Arc<Semaphore>,
    /// Permits to be admitted at all (running or waiting).
    admitted: Arc<Semaphore>,
    /// Counts callers turned away.
    busy: Counter,
}

/// A place in the pool, taken before a request commits to work it must not
/// lose (a PIN attempt counted before it is checked): once admitted, the job
/// will run.
pub struct Admission<'a> {
    pool: &'a WorkPool,
    admitted: OwnedSemaphorePermit,
}

/// Why a job did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// Every worker is busy and the queue is full: come back shortly.
    #[error("the server is busy with other checks; try again in a moment")]
    Busy,
    /// The job panicked or was stopped; its cause is logged.
    #[error("a background check did not finish")]
    Failed,
}

/// Raised when nobody waits for the job's result any more; long jobs check
/// it between steps and stop early.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    /// Whether the job should stop.
    pub fn raised(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Raises the interrupt when the waiting future is dropped.
struct RaiseOnDrop(Interrupt);

impl Drop for RaiseOnDrop {
    fn drop(&mut self) {
        self.0.0.store(true, Ordering::Relaxed);
    }
}

impl WorkPool {
    /// A pool of `workers` running jobs and a queue of `queue` waiting ones;
    /// `busy` counts the callers it turns away.
    pub fn new(workers: usize, queue: usize, busy: Counter) -> WorkPool {
        let workers = workers.max(1);
        WorkPool {
            running: Arc::new(Semaphore::new(workers)),
            admitted: Arc::new(Semaphore::new(workers + queue)),
            busy,
        }
    }

    /// A place in the pool, or `Busy` at once when every worker is busy and
    /// the queue is full.
    pub fn admit(&self) -> Result<Admission<'_>, PoolError> {
        match Arc::clone(&self.admitted).try_acquire_owned() {
            Ok(admitted) => Ok(Admission { pool: self, admitted }),
            Err(_) => {
                self.busy.inc();
                Err(PoolError::Busy)
            }
        }
    }

    /// Admits and runs `job` (see [`Admission::run`]).
    pub async fn run<T, F>(&self, job: F) -> Result<T, PoolError>
    where
        T: Send + 'static,
        F: FnOnce(&Interrupt) -> T + Send + 'static,
    {
        self.admit()?.run(job).await
    }
}

impl Admission<'_> {
    /// Runs `job` on a blocking thread once a worker is free. If the caller
    /// stops waiting, a job still queued never starts and a running one sees
    /// its [`Interrupt`] raised.
    pub async fn run<T, F>(self, job: F) -> Result<T, PoolError>
    where
        T: Send + 'static,
        F: FnOnce(&Interrupt) -> T + Send + 'static,
    {
        let admitted = self.admitted;
        let running = Arc::clone(&self.pool.running).acquire_owned().await.map_err(|_| PoolError::Failed)?;
        let interrupt = Interrupt::default();
        let _raise_when_abandoned = RaiseOnDrop(interrupt.clone());
        let handle = tokio::task::spawn_blocking(move || {
            // The permits are held until the job returns, abandoned or not:
            // the pool counts the work that really runs.
            let _permits = (admitted, running);
            job(&interrupt)
        });
        handle.await.map_err(|e| {
            tracing::error!(error = %e, "a pooled job did not finish");
            PoolError::Failed
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn sleeper(done: std::sync::mpsc::Sender<bool>) -> impl FnOnce(&Interrupt) + Send + 'static {
        move |interrupt: &Interrupt| {
            for _ in 0..200 {
                if interrupt.raised() {
                    let _ = done.send(true);
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = done.send(false);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn beyond_the_workers_and_the_queue_callers_are_turned_away() {
        let pool = Arc::new(WorkPool::new(1, 1, Counter::default()));
        let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
        let gate = Arc::new(std::sync::Mutex::new(gate_rx));
        let blocked = |gate: Arc<std::sync::Mutex<std::sync::mpsc::Receiver<()>>>| {
            move |_: &Interrupt| {
                let _ = gate.lock().unwrap().recv();
                7
            }
        };
        let first = tokio::spawn({
            let (pool, gate) = (pool.clone(), gate.clone());
            async move { pool.run(blocked(gate)).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let second = tokio::spawn({
            let (pool, gate) = (pool.clone(), gate.clone());
            async move { pool.run(blocked(gate)).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(pool.run(|_| 1).await, Err(PoolError::Busy), "one running, one queued: the third is turned away");
        gate_tx.send(()).unwrap();
        gate_tx.send(()).unwrap();
        assert_eq!(first.await.unwrap(), Ok(7));
        assert_eq!(second.await.unwrap(), Ok(7));
        assert_eq!(pool.run(|_| 1).await, Ok(1), "admitted again once the work is done");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_job_is_interrupted_and_a_queued_one_never_starts() {
        let pool = Arc::new(WorkPool::new(1, 4, Counter::default()));
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let abandoned = tokio::time::timeout(Duration::from_millis(100), pool.run(sleeper(done_tx))).await;
        assert!(abandoned.is_err(), "the caller gave up");
        assert_eq!(done_rx.recv_timeout(Duration::from_secs(2)), Ok(true), "the running job saw the interrupt");

        let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
        let holder = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(move |_| gate_rx.recv().is_ok()).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Arc::new(AtomicBool::new(false));
        let flag = started.clone();
        let queued =
            tokio::time::timeout(Duration::from_millis(50), pool.run(move |_| flag.store(true, Ordering::Relaxed)))
                .await;
        assert!(queued.is_err(), "gave up while queued");
        gate_tx.send(()).unwrap();
        assert_eq!(holder.await.unwrap(), Ok(true));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!started.load(Ordering::Relaxed), "a job abandoned in the queue never runs");
    }
}
