//! Hands a listening TCP socket to a worker process over a unix session:
//! the worker accepts and serves connections on it directly, and libchan
//! is out of the data path.
//!
//! Run it with `cargo run -p libchan --features unix --example fd_worker`:
//! the program starts itself again as the worker.

use libchan::codec::Json;
use libchan::unix::{from_env, from_std, Config, Handoff, Role};
use libchan::{ByteStream, Session, SessionExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const FD_VAR: &str = "LIBCHAN_WORKER_FD";

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Serve {
    /// The listening socket the worker takes over.
    listener: ByteStream,
    /// How many connections to serve before it stops.
    connections: u32,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var(FD_VAR).is_ok() {
        return worker().await;
    }
    parent(std::process::Command::new(std::env::current_exe()?)).await
}

/// Starts `cmd` as the worker and hands it a listening socket.
async fn parent(mut cmd: std::process::Command) -> Result<(), Box<dyn std::error::Error>> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let handoff = Handoff::new(&mut cmd, FD_VAR)?;
    let mut child = cmd.spawn()?;
    let session = from_std(handoff.spawned(), Role::Dialer, Config::new(Json))?;
    session.handshake().await?;
    let jobs = session.open::<Serve>()?;
    jobs.send(Serve {
        listener: ByteStream::from_fd(listener),
        connections: 1,
    })
    .await?;
    println!(
        "parent: handed 127.0.0.1:{} to worker pid {}",
        addr.port(),
        child.id()
    );

    // A client connects to the address; the worker answers, not us.
    let mut conn = tokio::net::TcpStream::connect(addr).await?;
    conn.write_all(b"hello").await?;
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await?;
    println!("parent: the listener's new owner said {answer:?}");
    assert!(answer.starts_with("served by pid "));

    drop(jobs);
    session.close().await?;
    let status = child.wait()?;
    println!("parent: worker exited with {status}");
    if !status.success() {
        return Err(format!("the worker failed: {status}").into());
    }
    Ok(())
}

async fn worker() -> Result<(), Box<dyn std::error::Error>> {
    let session = from_env(FD_VAR, Role::Acceptor, Config::new(Json))?;
    let mut jobs = session.accept::<Serve>().await?.ok_or("no job channel")?;
    while let Some(job) = jobs.recv().await? {
        let fd = job.listener.into_fd().map_err(|_| "not a descriptor")?;
        let listener = std::net::TcpListener::from(fd);
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        for _ in 0..job.connections {
            let (mut conn, _) = listener.accept().await?;
            let mut buf = [0u8; 5];
            conn.read_exact(&mut buf).await?;
            conn.write_all(format!("served by pid {}", std::process::id()).as_bytes())
                .await?;
        }
    }
    session.close().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the example with this test binary as the worker: started again
    /// with only this test selected and the session's descriptor in
    /// `FD_VAR`, it takes the worker's part.
    #[test]
    fn a_worker_process_serves_on_the_listener_it_was_handed() {
        let rt = tokio::runtime::Runtime::new().expect("a runtime");
        if std::env::var(FD_VAR).is_ok() {
            rt.block_on(worker())
                .expect("the worker serves its connection");
            return;
        }
        let mut cmd = std::process::Command::new(std::env::current_exe().expect("this binary"));
        cmd.args([
            "--exact",
            "tests::a_worker_process_serves_on_the_listener_it_was_handed",
            "--nocapture",
        ]);
        rt.block_on(async {
            tokio::time::timeout(std::time::Duration::from_secs(60), parent(cmd))
                .await
                .expect("the example finishes")
                .expect("the example works");
        });
    }
}
