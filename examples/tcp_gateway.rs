//! The TCP gateway used from code: a plain TCP service (here a line
//! upper-caser standing in for a database) is reached through a local port
//! whose connections travel as byte streams over one libchan session to a
//! gateway, which dials the service. `libchan gateway` and `libchan forward`
//! are the same module as commands.
//!
//! ```text
//! cargo run -p libchan --example tcp_gateway
//! ```

use std::sync::Arc;
use std::time::Duration;

use libchan::codec::Json;
use libchan::tcp::{connect, Config, Listener};
use libchan::BoxError;
use libchan_cli::gateway::{Backends, Forwarder, Gateway};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The backend: answers each line with the line in capitals.
async fn upper_caser(listener: TcpListener) {
    while let Ok((conn, _)) = listener.accept().await {
        tokio::spawn(async move {
            let (rd, mut wr) = conn.into_split();
            let mut lines = BufReader::new(rd).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if wr
                    .write_all(format!("{}\n", line.to_uppercase()).as_bytes())
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
    }
}

/// What a client of the local port saw.
#[derive(Debug)]
struct Seen {
    answers: Vec<String>,
    unknown_backend_closed: bool,
}

async fn run() -> Result<Seen, BoxError> {
    // The backend, on a port only the gateway needs to know.
    let backend = TcpListener::bind("127.0.0.1:0").await?;
    let mut backends = Backends::new();
    backends.add("upper", backend.local_addr()?.to_string());
    tokio::spawn(upper_caser(backend));

    // The gateway: a libchan listener whose sessions may reach "upper".
    let gateway = Gateway::new(backends);
    let listener = Listener::bind("127.0.0.1:0", Config::new(Json)).await?;
    let gateway_addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((session, _)) = listener.accept().await {
            let gw = gateway.clone();
            tokio::spawn(async move { gw.serve_session(Arc::new(session)).await });
        }
    });

    // The forwarder: one session to the gateway, a local port per backend.
    let session = Arc::new(connect(gateway_addr, Config::new(Json)).await?);
    let local = TcpListener::bind("127.0.0.1:0").await?;
    let local_addr = local.local_addr()?;
    let fwd = tokio::spawn(Forwarder::new(session.clone(), "upper").run(local));
    let wrong = TcpListener::bind("127.0.0.1:0").await?;
    let wrong_addr = wrong.local_addr()?;
    let fwd_wrong = tokio::spawn(Forwarder::new(session, "no-such-backend").run(wrong));

    // Clients: plain TCP, as if the backend were local. Several at once,
    // each its own byte stream over the one session.
    let mut clients = Vec::new();
    for i in 0..3 {
        clients.push(tokio::spawn(async move {
            let mut conn = TcpStream::connect(local_addr).await?;
            conn.write_all(format!("hello from client {i}\n").as_bytes())
                .await?;
            let mut answer = String::new();
            BufReader::new(&mut conn).read_line(&mut answer).await?;
            Ok::<_, BoxError>(answer.trim_end().to_string())
        }));
    }
    let mut answers = Vec::new();
    for c in clients {
        answers.push(c.await??);
    }

    // A connection to a backend the gateway does not have is closed; the
    // forwarder logs why, and everything else carries on.
    let mut conn = TcpStream::connect(wrong_addr).await?;
    let mut buf = [0u8; 16];
    let unknown_backend_closed = matches!(conn.read(&mut buf).await, Ok(0) | Err(_));

    fwd.abort();
    fwd_wrong.abort();
    Ok(Seen {
        answers,
        unknown_backend_closed,
    })
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let seen = tokio::time::timeout(Duration::from_secs(30), run()).await??;
    for a in &seen.answers {
        println!("through the gateway: {a}");
    }
    println!(
        "a connection asking for an unknown backend was {}",
        if seen.unknown_backend_closed {
            "closed, and only that one"
        } else {
            "left open (unexpected)"
        }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn clients_reach_the_backend_and_unknown_backends_are_refused() {
        let seen = tokio::time::timeout(Duration::from_secs(30), run())
            .await
            .expect("the example finishes")
            .expect("the example works");
        let mut answers = seen.answers;
        answers.sort();
        assert_eq!(
            answers,
            [
                "HELLO FROM CLIENT 0",
                "HELLO FROM CLIENT 1",
                "HELLO FROM CLIENT 2"
            ]
        );
        assert!(seen.unknown_backend_closed);
    }
}
