//! Self-registering workers: each worker dials a registry and sends it the
//! channel on which it accepts jobs, so requests flow from the server (the
//! registry) to its clients (the workers), and the answers back. A worker
//! that dies mid-job has its job retried on another.
//!
//! ```text
//! cargo run -p libchan --example workers
//! ```
//!
//! The registry and three workers run in this process, each worker over its
//! own TCP session; worker-1 crashes (aborts its session) on its first job.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use libchan::codec::Json;
use libchan::tcp::{connect, Config, Listener};
use libchan::{BoxError, Receiver, Sender, Session, SessionExt};
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Mutex};

/// A worker announcing itself, with the channel its jobs go to.
#[derive(Debug, Serialize, Deserialize)]
struct Register {
    name: String,
    jobs: Sender<Job>,
}

/// One job: add up the squares of 1..=n.
#[derive(Debug, Serialize, Deserialize)]
struct Job {
    id: u64,
    n: u64,
    reply: Sender<Done>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Done {
    id: u64,
    result: u64,
    worker: String,
}

/// The registry: the workers that registered, and how many.
struct Registry {
    workers: Mutex<Vec<(String, Sender<Job>)>>,
    count: watch::Sender<usize>,
}

impl Registry {
    async fn serve(self: Arc<Self>, session: impl Session) {
        while let Ok(Some(mut registrations)) = session.accept::<Register>().await {
            while let Ok(Some(Register { name, jobs })) = registrations.recv().await {
                println!("registry: {name} registered");
                let mut w = self.workers.lock().await;
                w.push((name, jobs));
                self.count.send_replace(w.len());
            }
        }
    }

    async fn forget(&self, name: &str) {
        let mut w = self.workers.lock().await;
        w.retain(|(n, _)| n != name);
        self.count.send_replace(w.len());
    }

    /// Runs one job on some worker, moving on to another whenever the one
    /// it tried fails (the send fails, or the reply channel breaks).
    async fn run_job(&self, id: u64, n: u64, first: usize) -> Result<(Done, u32), BoxError> {
        let mut attempts = 0u32;
        loop {
            let worker = {
                let w = self.workers.lock().await;
                if w.is_empty() {
                    return Err(format!("job {id}: no worker left").into());
                }
                w[(first + attempts as usize) % w.len()].clone()
            };
            attempts += 1;
            let (name, jobs) = worker;
            let (reply, mut done) = libchan::pipe::<Done>();
            let outcome = match jobs.send(Job { id, n, reply }).await {
                Ok(()) => done.recv().await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match outcome {
                Ok(Some(d)) => return Ok((d, attempts)),
                Ok(None) => println!("registry: {name} dropped job {id} unanswered; retrying"),
                Err(e) => {
                    println!("registry: {name} failed job {id} ({e}); retrying elsewhere");
                    self.forget(&name).await;
                }
            }
        }
    }
}

/// A worker: registers, then serves jobs until its session ends. With
/// `crash`, it dies abruptly on its first job instead of answering.
async fn worker(addr: std::net::SocketAddr, name: String, crash: bool) -> Result<u64, BoxError> {
    let session = connect(addr, Config::new(Json)).await?;
    let register = session.open::<Register>()?;
    let (jobs, mut incoming): (Sender<Job>, Receiver<Job>) = libchan::pipe();
    register
        .send(Register {
            name: name.clone(),
            jobs,
        })
        .await?;
    let mut served = 0;
    while let Ok(Some(job)) = incoming.recv().await {
        if crash {
            println!("{name}: crashing in the middle of job {}", job.id);
            session.abort("worker crashed");
            return Ok(served);
        }
        let result = (1..=job.n).map(|i| i * i).sum();
        job.reply
            .send(Done {
                id: job.id,
                result,
                worker: name.clone(),
            })
            .await?;
        served += 1;
    }
    Ok(served)
}

/// Starts the registry and `workers` workers (worker-1 crashes), runs
/// `jobs` jobs, and returns who did each and how many tries it took.
async fn run(workers: usize, jobs: u64) -> Result<BTreeMap<u64, (String, u32)>, BoxError> {
    let listener = Listener::bind("127.0.0.1:0", Config::new(Json)).await?;
    let addr = listener.local_addr()?;
    let registry = Arc::new(Registry {
        workers: Mutex::new(Vec::new()),
        count: watch::channel(0).0,
    });
    let r = registry.clone();
    tokio::spawn(async move {
        while let Ok((session, _)) = listener.accept().await {
            tokio::spawn(r.clone().serve(session));
        }
    });
    let mut running = Vec::new();
    for i in 0..workers {
        running.push(tokio::spawn(worker(addr, format!("worker-{i}"), i == 1)));
    }
    registry
        .count
        .subscribe()
        .wait_for(|&n| n == workers)
        .await?;

    let mut pending = Vec::new();
    for id in 0..jobs {
        let r = registry.clone();
        pending.push(tokio::spawn(async move {
            r.run_job(id, 100 + id, id as usize).await
        }));
    }
    let mut done = BTreeMap::new();
    for p in pending {
        let (d, attempts) = p.await??;
        let n = 100 + d.id;
        assert_eq!(d.result, n * (n + 1) * (2 * n + 1) / 6, "job {}", d.id);
        done.insert(d.id, (d.worker, attempts));
    }
    // Done: the registry lets go of its workers, whose job channels end.
    registry.workers.lock().await.clear();
    for w in running {
        w.await??;
    }
    Ok(done)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let done = tokio::time::timeout(Duration::from_secs(30), run(3, 9)).await??;
    for (id, (worker, attempts)) in done {
        println!("job {id}: done by {worker} after {attempts} attempt(s)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_job_is_done_and_the_crashed_workers_job_is_retried() {
        let done = tokio::time::timeout(Duration::from_secs(30), run(3, 6))
            .await
            .expect("the example finishes")
            .expect("the example works");
        assert_eq!(done.len(), 6);
        assert!(done.values().all(|(w, _)| w != "worker-1"));
        assert!(
            done.values().any(|(_, attempts)| *attempts > 1),
            "the job worker-1 took was retried: {done:?}"
        );
    }
}
