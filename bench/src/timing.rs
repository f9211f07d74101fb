//! Clocks and load shapes shared by the benchmarks: items spread over tasks
//! or threads, each item's latency kept, quantiles of them.

use std::time::{Duration, Instant};

use anyhow::Result;

/// Seconds since the Unix epoch, as the server's clock reads them.
pub(crate) fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Splits `items` into `parts` chunks of (nearly) equal size, in order.
pub(crate) fn chunked<T>(mut items: Vec<T>, parts: usize) -> Vec<Vec<T>> {
    let per_chunk = items.len().div_ceil(parts.max(1)).max(1);
    let mut chunks = Vec::new();
    while !items.is_empty() {
        let rest = items.split_off(per_chunk.min(items.len()));
        chunks.push(std::mem::replace(&mut items, rest));
    }
    chunks
}

/// Runs `op` on every item, one task per chunk, the chunks concurrently;
/// returns each item's latency.
pub(crate) async fn concurrently<T, F, Fut>(chunks: Vec<Vec<T>>, op: F) -> Result<Vec<Duration>>
where
    T: Send + 'static,
    F: Fn(T) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let tasks: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(chunk.len());
                for item in chunk {
                    let t = Instant::now();
                    op(item).await?;
                    latencies.push(t.elapsed());
                }
                Ok::<_, anyhow::Error>(latencies)
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    Ok(all)
}

/// Runs `op` `n` times over `threads` threads; returns (ops per second, latencies).
pub(crate) fn parallel(n: usize, threads: usize, op: impl Fn() -> Result<()> + Sync) -> Result<(f64, Vec<Duration>)> {
    let per_thread = n.div_ceil(threads);
    let start = Instant::now();
    let latencies = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut latencies = Vec::with_capacity(per_thread);
                    for _ in 0..per_thread {
                        let t = Instant::now();
                        op()?;
                        latencies.push(t.elapsed());
                    }
                    Ok::<_, anyhow::Error>(latencies)
                })
            })
            .collect();
        let mut all = Vec::new();
        for worker in workers {
            all.extend(worker.join().map_err(|_| anyhow::anyhow!("a bench thread panicked"))??);
        }
        Ok::<_, anyhow::Error>(all)
    })?;
    Ok((latencies.len() as f64 / start.elapsed().as_secs_f64(), latencies))
}

/// The `q` quantile of `samples`.
pub(crate) fn percentile(samples: &[Duration], q: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    sorted.get(((sorted.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or_default()
}

/// The number of cores the measurements spread over.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
