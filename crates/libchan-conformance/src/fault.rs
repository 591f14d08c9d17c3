//! Fault injection for socket transports: a loopback TCP proxy whose
//! connections the test can cut mid-stream.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Forwards every connection made to [`addr`](Self::addr) to a target, until
/// [`sever`](Self::sever) cuts them all (both sockets closed, no goodbye).
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    accept_task: JoinHandle<()>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `target`.
    pub async fn start(target: SocketAddr) -> io::Result<Proxy> {
        Self::start_with_delay(target, Duration::ZERO).await
    }

    /// Like [`start`](Self::start), delaying every chunk by `delay` in each
    /// direction (order kept), as a link with latency would: a peer's
    /// handshake then arrives long after the first frames were sent.
    pub async fn start_with_delay(target: SocketAddr, delay: Duration) -> io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let registry = links.clone();
        let accept_task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let link = tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    if delay.is_zero() {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        return;
                    }
                    let (in_rd, in_wr) = inbound.into_split();
                    let (out_rd, out_wr) = outbound.into_split();
                    tokio::join!(delayed(in_rd, out_wr, delay), delayed(out_rd, in_wr, delay));
                });
                registry
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(link);
            }
        });
        Ok(Proxy {
            addr,
            accept_task,
            links,
        })
    }

    /// Where to connect instead of the target.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cuts every forwarded connection at once.
    pub fn sever(&self) {
        for link in self
            .links
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            link.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept_task.abort();
        self.sever();
    }
}

/// Copies `from` to `to`, each chunk written `delay` after it was read.
async fn delayed(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, delay: Duration) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(tokio::time::Instant, Vec<u8>)>(1024);
    let reading = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let due = tokio::time::Instant::now() + delay;
                    if tx.send((due, buf[..n].to_vec())).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    let writing = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reading, writing);
}
