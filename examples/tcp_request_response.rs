//! Request/response over TCP on loopback: the same code as in memory, each
//! request's reply channel a new multiplexed stream.
//!
//! ```text
//! cargo run -p libchan --example tcp_request_response
//! ```

use libchan::codec::Json;
use libchan::tcp::{connect, Config, Listener};
use libchan::{Request, SessionExt};

#[tokio::main]
async fn main() -> Result<(), libchan::BoxError> {
    // Server: accept sessions, and on each the client's channel of requests.
    let listener = Listener::bind("127.0.0.1:0", Config::new(Json)).await?;
    let addr = listener.local_addr()?;
    println!("listening on {addr}");
    tokio::spawn(async move {
        loop {
            // An accept error concerns one connection (too many open files,
            // a reset before it was accepted): pause, and keep accepting.
            let (session, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    eprintln!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            println!("session from {peer}");
            tokio::spawn(async move {
                let mut requests = session
                    .accept::<Request<String, usize>>()
                    .await?
                    .ok_or("the client opened no channel")?;
                while let Some(req) = requests.recv().await? {
                    let (body, responder) = req.into_parts();
                    responder.respond(body.len()).await?;
                }
                Ok::<_, libchan::BoxError>(())
            });
        }
    });

    // Client.
    let session = connect(addr, Config::new(Json)).await?;
    println!("codec agreed: {}", session.handshake().await?);
    let service = session.open::<Request<String, usize>>()?;
    for word in ["hello", "libchan", "over tcp"] {
        let len = service.call(word.to_string()).await?;
        println!("len({word:?}) = {len}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn main_runs_over_loopback() {
        super::main().expect("the example runs");
    }
}
