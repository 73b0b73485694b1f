//! The timing harness: warm-up, batches sized to the clock's resolution, median and p90.

use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// How long to measure: `--quick` trades precision for a run under two minutes.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Time spent running the code before measuring.
    pub warmup: Duration,
    /// Batches measured; the statistics are over batches.
    pub batches: usize,
    /// The wall time one batch aims for.
    pub batch_time: Duration,
    /// Repetitions of slow, whole-scenario measurements (stampedes, cold starts).
    pub runs: usize,
    /// Whether this is a `--quick` run.
    pub quick: bool,
}

impl Budget {
    pub fn new(quick: bool) -> Budget {
        if quick {
            Budget {
                warmup: Duration::from_millis(30),
                batches: 21,
                batch_time: Duration::from_millis(2),
                runs: 3,
                quick,
            }
        } else {
            Budget {
                warmup: Duration::from_millis(200),
                batches: 101,
                batch_time: Duration::from_millis(5),
                runs: 11,
                quick,
            }
        }
    }
}

/// Median and 90th percentile, in nanoseconds.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub median_ns: f64,
    pub p90_ns: f64,
}

impl Stats {
    /// Statistics of a sample (not empty).
    pub fn of(mut samples: Vec<f64>) -> Stats {
        if samples.is_empty() {
            return Stats {
                median_ns: f64::NAN,
                p90_ns: f64::NAN,
            };
        }
        samples.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let i = ((samples.len() - 1) as f64 * q).round() as usize;
            samples[i.min(samples.len() - 1)]
        };
        Stats {
            median_ns: at(0.5),
            p90_ns: at(0.9),
        }
    }

    /// One duration repeated: a whole-scenario measurement.
    pub fn of_durations(d: &[Duration]) -> Stats {
        Stats::of(d.iter().map(|d| d.as_nanos() as f64).collect())
    }
}

/// How many calls make one batch of about `target`, after running `f` for `warmup`.
fn calibrate(budget: &Budget, mut f: impl FnMut(u64) -> Duration) -> u64 {
    let start = Instant::now();
    let mut n = 1u64;
    loop {
        let took = f(n);
        if start.elapsed() >= budget.warmup && took >= budget.batch_time / 4 {
            let per = took.as_nanos().max(1) as f64 / n as f64;
            return ((budget.batch_time.as_nanos() as f64 / per) as u64).max(1);
        }
        if took < budget.batch_time {
            n = n.saturating_mul(2);
        }
    }
}

/// Nanoseconds per call of `f`, over batches.
pub fn per_call<R>(budget: &Budget, mut f: impl FnMut() -> R) -> Stats {
    let mut batch = |n: u64| {
        let t = Instant::now();
        for _ in 0..n {
            black_box(f());
        }
        t.elapsed()
    };
    let n = calibrate(budget, &mut batch);
    let samples = (0..budget.batches)
        .map(|_| batch(n).as_nanos() as f64 / n as f64)
        .collect();
    Stats::of(samples)
}

/// Nanoseconds per call of an async `f`, inside one task (the caller's `block_on`).
pub async fn per_call_async<F, Fut>(budget: &Budget, mut f: F) -> Stats
where
    F: FnMut() -> Fut,
    Fut: Future,
{
    let start = Instant::now();
    let mut n = 1u64;
    let per_batch;
    loop {
        let t = Instant::now();
        for _ in 0..n {
            black_box(f().await);
        }
        let took = t.elapsed();
        if start.elapsed() >= budget.warmup && took >= budget.batch_time / 4 {
            let per = took.as_nanos().max(1) as f64 / n as f64;
            per_batch = ((budget.batch_time.as_nanos() as f64 / per) as u64).max(1);
            break;
        }
        if took < budget.batch_time {
            n = n.saturating_mul(2);
        }
    }
    let mut samples = Vec::with_capacity(budget.batches);
    for _ in 0..budget.batches {
        let t = Instant::now();
        for _ in 0..per_batch {
            black_box(f().await);
        }
        samples.push(t.elapsed().as_nanos() as f64 / per_batch as f64);
    }
    Stats::of(samples)
}

/// One measured result, as written to the JSON lines.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Record {
    pub case: String,
    #[serde(rename = "impl")]
    pub imp: String,
    pub median_ns: f64,
    pub p90_ns: f64,
    pub requests: Option<u64>,
    pub note: String,
    /// Throughput of a transfer case, in MB/s (10^6 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mb_s: Option<f64>,
    /// Peak RSS of the process that did the work, read from outside it, in KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_kib: Option<u64>,
}

impl Record {
    pub fn new(case: &str, imp: &str, stats: Stats) -> Record {
        Record {
            case: case.to_owned(),
            imp: imp.to_owned(),
            median_ns: stats.median_ns,
            p90_ns: stats.p90_ns,
            requests: None,
            note: String::new(),
            mb_s: None,
            peak_rss_kib: None,
        }
    }

    pub fn requests(mut self, n: u64) -> Record {
        self.requests = Some(n);
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Record {
        self.note = note.into();
        self
    }
}
