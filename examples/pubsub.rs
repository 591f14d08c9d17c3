//! Publish/subscribe fan-out: each subscriber sends the broker a request
//! carrying the channel its events should go to; the broker sends every
//! event to every subscriber. A subscriber that disconnects is noticed at
//! once (its `Sender` at the broker reports `closed()`, and any later send
//! fails) and dropped, while the others carry on.
//!
//! ```text
//! cargo run -p libchan --example pubsub
//! ```
//!
//! Broker and subscribers run in this process, each subscriber over its own
//! TCP session to the broker.

use std::sync::Arc;
use std::time::Duration;

use libchan::codec::Json;
use libchan::tcp::{connect, Config, Listener};
use libchan::{BoxError, Sender, Session, SessionExt};
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Mutex};

/// A subscription: who, and where its events go.
#[derive(Debug, Serialize, Deserialize)]
struct Subscribe {
    name: String,
    events: Sender<Event>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Event {
    seq: u64,
    text: String,
}

/// One subscriber at the broker, and the task watching for it to leave.
struct Subscriber {
    name: String,
    events: Sender<Event>,
    watcher: tokio::task::JoinHandle<()>,
}

/// The broker's subscribers; `count` lets the publisher wait for them.
struct Broker {
    subscribers: Mutex<Vec<Subscriber>>,
    count: watch::Sender<usize>,
}

impl Broker {
    fn new() -> Arc<Self> {
        Arc::new(Broker {
            subscribers: Mutex::new(Vec::new()),
            count: watch::channel(0).0,
        })
    }

    async fn add(self: &Arc<Self>, name: String, events: Sender<Event>) {
        // Noticed as soon as the subscriber's receiver goes (over a
        // connection, as soon as its cancel arrives), even between events.
        let watcher = events.clone();
        let broker = self.clone();
        let who = name.clone();
        let watcher = tokio::spawn(async move {
            watcher.closed().await;
            broker.remove(&who, "its receiver went away").await;
        });
        let mut subs = self.subscribers.lock().await;
        subs.push(Subscriber {
            name,
            events,
            watcher,
        });
        self.count.send_replace(subs.len());
    }

    async fn remove(&self, name: &str, why: &str) {
        let mut subs = self.subscribers.lock().await;
        let before = subs.len();
        subs.retain(|s| s.name != name);
        if subs.len() < before {
            println!("broker: dropped {name} ({why}); {} remain", subs.len());
            self.count.send_replace(subs.len());
        }
    }

    /// Sends `event` to every subscriber; one whose send fails is dropped.
    async fn publish(&self, event: Event) {
        let subs: Vec<(String, Sender<Event>)> = self
            .subscribers
            .lock()
            .await
            .iter()
            .map(|s| (s.name.clone(), s.events.clone()))
            .collect();
        for (name, events) in subs {
            if let Err(e) = events.send(event.clone()).await {
                self.remove(&name, &format!("send failed: {e}")).await;
            }
        }
    }

    /// Serves one session: every `Subscribe` on every channel it opens.
    async fn serve(self: Arc<Self>, session: impl Session) {
        while let Ok(Some(mut requests)) = session.accept::<Subscribe>().await {
            while let Ok(Some(Subscribe { name, events })) = requests.recv().await {
                println!("broker: {name} subscribed");
                self.add(name, events).await;
            }
        }
    }
}

/// What each subscriber received.
#[derive(Debug)]
struct Report {
    received: Vec<(String, u64)>,
}

/// `subscribers` subscribe; the last leaves after 3 events. The broker
/// publishes `events` events, then waits until the leaver has been dropped.
async fn run(subscribers: usize, events: u64) -> Result<Report, BoxError> {
    let listener = Listener::bind("127.0.0.1:0", Config::new(Json)).await?;
    let addr = listener.local_addr()?;
    let broker = Broker::new();
    let b = broker.clone();
    tokio::spawn(async move {
        while let Ok((session, _)) = listener.accept().await {
            tokio::spawn(b.clone().serve(session));
        }
    });

    let mut tasks = Vec::new();
    for i in 0..subscribers {
        let name = format!("subscriber-{i}");
        let leaves_early = i + 1 == subscribers;
        let session = connect(addr, Config::new(Json)).await?;
        let requests = session.open::<Subscribe>()?;
        let (tx, mut rx) = libchan::pipe::<Event>();
        requests
            .send(Subscribe {
                name: name.clone(),
                events: tx,
            })
            .await?;
        tasks.push(tokio::spawn(async move {
            let mut got = 0u64;
            while let Some(ev) = rx.recv().await? {
                got += 1;
                if leaves_early && got == 3 {
                    println!("{name}: leaving after event {}", ev.seq);
                    break;
                }
            }
            // Dropping the receiver (and the session) is the disconnect.
            drop(rx);
            drop(requests);
            let _ = session.close().await;
            Ok::<_, BoxError>((name, got))
        }));
    }

    let mut count = broker.count.subscribe();
    count.wait_for(|&n| n == subscribers).await?;
    for seq in 1..=events {
        broker
            .publish(Event {
                seq,
                text: format!("event {seq}"),
            })
            .await;
    }
    // The leaver is noticed without any further event being sent.
    count.wait_for(|&n| n == subscribers - 1).await?;
    // Done publishing: the broker lets go of every subscriber (and stops
    // watching them), so the stayers see a clean end.
    for s in broker.subscribers.lock().await.drain(..) {
        s.watcher.abort();
    }
    let mut received = Vec::new();
    for t in tasks {
        received.push(t.await??);
    }
    Ok(Report { received })
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let report = tokio::time::timeout(Duration::from_secs(30), run(4, 10)).await??;
    for (name, got) in report.received {
        println!("{name} received {got} events");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_stayer_gets_every_event_and_the_leaver_is_dropped() {
        let report = tokio::time::timeout(Duration::from_secs(30), run(3, 8))
            .await
            .expect("the example finishes")
            .expect("the example works");
        let got: Vec<u64> = report.received.iter().map(|(_, n)| *n).collect();
        assert_eq!(got, [8, 8, 3]);
    }
}
