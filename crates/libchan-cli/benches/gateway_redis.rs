//! redis throughput through `libchan forward` → `libchan gateway` (over
//! tcp), beside redis reached directly in the same run, and the ratio.
//!
//! ```text
//! cargo bench -p libchan-cli --bench gateway_redis      # or: cargo xtask bench
//! LIBCHAN_BENCH_QUICK=1 cargo bench -p libchan-cli --bench gateway_redis
//! ```
//!
//! Needs redis-server (Debian's package; `.ci/run` installs it).

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use support::resp::{wait_for_ping, Client, Reply};
use support::{free_port, libchan, Running, PATIENCE};

/// Client connections at once.
const CONNECTIONS: usize = 50;
/// Commands per round trip in the pipelined scenario.
const PIPELINE: usize = 32;

#[derive(Clone, Copy)]
enum Scenario {
    /// SET then GET, one command per round trip.
    RoundTrips,
    /// `PIPELINE` GETs of a 1 KiB value per round trip.
    Pipelined,
}

impl Scenario {
    fn name(self) -> String {
        match self {
            Scenario::RoundTrips => "SET + GET, one command per round trip".into(),
            Scenario::Pipelined => format!("GET of 1 KiB, {PIPELINE} pipelined"),
        }
    }
}

/// Commands per second with `CONNECTIONS` clients on `addr` for `budget`.
fn load(addr: &str, scenario: Scenario, budget: Duration) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|c| {
            let (addr, stop, done) = (addr.to_string(), stop.clone(), done.clone());
            thread::spawn(move || {
                let mut r = Client::connect(&addr).expect("connect");
                let key = format!("bench:{c}");
                let value = vec![b'v'; 1024];
                r.call(&[b"SET", key.as_bytes(), &value]).expect("SET");
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    match scenario {
                        Scenario::RoundTrips => {
                            r.call(&[b"SET", key.as_bytes(), &value]).expect("SET");
                            let got = r.call(&[b"GET", key.as_bytes()]).expect("GET");
                            assert!(matches!(got, Reply::Bulk(Some(_))));
                            n += 2;
                        }
                        Scenario::Pipelined => {
                            for _ in 0..PIPELINE {
                                r.queue(&[b"GET", key.as_bytes()]).expect("queue");
                            }
                            r.flush().expect("flush");
                            for _ in 0..PIPELINE {
                                assert!(matches!(r.read().expect("GET"), Reply::Bulk(Some(_))));
                            }
                            n += PIPELINE as u64;
                        }
                    }
                }
                done.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    thread::sleep(budget);
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("a client failed");
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn human(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2} M", r / 1e6)
    } else {
        format!("{:.1} k", r / 1e3)
    }
}

fn main() {
    // `cargo bench` passes --bench; a filter argument selects nothing here.
    let quick = std::env::var_os("LIBCHAN_BENCH_QUICK").is_some();
    let budget = if quick {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(2)
    };
    if Command::new("redis-server")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("gateway_redis: redis-server is not installed (apt-get install redis-server)");
        std::process::exit(1);
    }
    let port = free_port();
    let mut redis = Command::new("redis-server");
    redis
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let _redis = Running::start("redis-server", redis);
    let direct = format!("127.0.0.1:{port}");
    assert!(
        wait_for_ping(&direct, PATIENCE),
        "redis-server did not start"
    );

    let mut gw = libchan();
    gw.args(["gateway", "--listen", "127.0.0.1:0", "--backend"])
        .arg(format!("redis={direct}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let gw = Running::start("gateway", gw);
    let gw_addr = gw.listening_addr();
    let mut fwd = libchan();
    fwd.args(["forward", "--local", "127.0.0.1:0", "--to", &gw_addr])
        .args(["--backend", "redis"])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let fwd = Running::start("forward", fwd);
    let through = fwd.listening_addr();
    assert!(
        wait_for_ping(&through, PATIENCE),
        "no PONG through the gateway"
    );

    println!(
        "redis through libchan forward -> gateway (tcp, one session) beside redis direct; \
         {CONNECTIONS} connections, {:.1} s per figure, each figure the mean of two runs, \
         alternating{}",
        budget.as_secs_f64(),
        if cfg!(debug_assertions) {
            "; an unoptimized build"
        } else {
            ""
        }
    );
    println!(
        "{:<40} {:>14} {:>14} {:>7}",
        "scenario", "direct cmd/s", "gateway cmd/s", "ratio"
    );
    for scenario in [Scenario::RoundTrips, Scenario::Pipelined] {
        let (mut d, mut g) = (0.0, 0.0);
        for _ in 0..2 {
            d += load(&direct, scenario, budget) / 2.0;
            g += load(&through, scenario, budget) / 2.0;
        }
        println!(
            "{:<40} {:>14} {:>14} {:>6.2}x",
            scenario.name(),
            human(d),
            human(g),
            g / d
        );
    }
}
