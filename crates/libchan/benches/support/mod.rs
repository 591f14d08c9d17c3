//! Shared by the benchmarks: repeat a measurement, keep the median, and
//! print libchan beside its in-run baseline with the ratio.

#![allow(dead_code)]

use std::io;
use std::time::{Duration, Instant};

use bytes::Buf;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// How many times each measurement is repeated; the median is kept.
pub fn rounds() -> usize {
    if quick() {
        3
    } else {
        7
    }
}

/// `LIBCHAN_BENCH_QUICK=1` (or `cargo xtask bench --quick`) shortens every run.
pub fn quick() -> bool {
    std::env::var_os("LIBCHAN_BENCH_QUICK").is_some()
}

/// `LIBCHAN_BENCH_FILTER=text` runs only the benchmarks whose name contains it.
pub fn selected(name: &str) -> bool {
    std::env::var("LIBCHAN_BENCH_FILTER").map_or(true, |f| name.contains(&f))
}

/// Scales an iteration count down in quick mode.
pub fn iters(full: u64) -> u64 {
    if quick() {
        (full / 10).max(1)
    } else {
        full
    }
}

/// Runs `f` (which performs `n` operations and returns the elapsed time)
/// `rounds()` times and returns the median time per operation.
pub fn per_op(n: u64, mut f: impl FnMut(u64) -> Duration) -> Duration {
    let [median] = interleaved([&mut || f(n) / n as u32]);
    median
}

/// Runs every contender once per round, in turn, for `rounds()` rounds,
/// and returns each one's median sample, in the order given.
///
/// Taking all of one contender's samples before the next lets the
/// machine's drift (clock frequency, a neighbour's load) land on one side
/// of a ratio; interleaving spreads it over all of them alike.
pub fn interleaved<const N: usize>(
    mut contenders: [&mut dyn FnMut() -> Duration; N],
) -> [Duration; N] {
    let rounds = rounds();
    let mut samples: [Vec<Duration>; N] = std::array::from_fn(|_| Vec::with_capacity(rounds));
    for _ in 0..rounds {
        for (run, taken) in contenders.iter_mut().zip(samples.iter_mut()) {
            taken.push(run());
        }
    }
    samples.map(|mut taken| {
        taken.sort();
        taken[taken.len() / 2]
    })
}

/// Writes one length-prefixed frame as a careful raw sender would, for
/// the baselines: small frames coalesce in `wr`'s buffer, and a frame
/// larger than the buffer goes out as one vectored write of head and
/// payload (two writes, one of them 4 bytes, otherwise).
pub async fn write_frame<W: AsyncWrite + Unpin>(wr: &mut W, payload: &[u8]) -> io::Result<()> {
    let head = (payload.len() as u32).to_be_bytes();
    wr.write_all_buf(&mut (&head[..]).chain(payload)).await
}

/// Times a closure.
pub fn time(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

/// One line of the results table.
pub struct Row {
    pub what: String,
    pub libchan: f64,
    pub baseline: f64,
    pub unit: &'static str,
    /// True when bigger is better (throughput); false for latencies.
    pub higher_is_better: bool,
    pub target: &'static str,
}

impl Row {
    /// libchan relative to the baseline, oriented so that 1.0 is parity and
    /// bigger is better.
    pub fn ratio(&self) -> f64 {
        if self.higher_is_better {
            self.libchan / self.baseline
        } else {
            self.baseline / self.libchan
        }
    }
}

/// Prints the table.
pub fn print(title: &str, baseline_name: &str, rows: &[Row]) {
    println!();
    println!("{title}");
    println!(
        "{:<44} {:>16} {:>16} {:>8}  target",
        "benchmark", "libchan", baseline_name, "ratio"
    );
    for r in rows {
        println!(
            "{:<44} {:>11.3} {:<4} {:>11.3} {:<4} {:>7.2}x  {}",
            r.what,
            r.libchan,
            r.unit,
            r.baseline,
            r.unit,
            r.ratio(),
            r.target
        );
    }
    println!("(ratio: libchan relative to the baseline measured in the same run; >1 is faster)");
}
