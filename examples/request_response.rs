//! Request/response over a session: each request carries a fresh reply
//! channel, and the server answers on it.
//!
//! ```text
//! cargo run -p libchan --example request_response
//! ```

use libchan::{Request, SessionExt};
use serde::{Deserialize, Serialize};

/// What the client asks.
#[derive(Debug, Serialize, Deserialize)]
struct Add {
    a: i64,
    b: i64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let (client, server) = libchan::inmem::pair();

    let server_task = tokio::spawn(async move {
        let mut requests = server
            .accept::<Request<Add, i64>>()
            .await?
            .ok_or("the client closed the session before opening a channel")?;
        let mut served = 0;
        while let Some(req) = requests.recv().await? {
            let sum = req.body.a + req.body.b;
            req.respond(sum).await?;
            served += 1;
        }
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(served)
    });

    let adder = client.open::<Request<Add, i64>>()?;
    for (a, b) in [(1, 2), (40, 2), (-7, 7)] {
        let sum = adder.call(Add { a, b }).await?;
        println!("{a} + {b} = {sum}");
    }
    drop(adder);

    let served = server_task.await??;
    println!("server answered {served} requests, then saw the channel close cleanly");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn main_runs_to_a_clean_end() {
        super::main().expect("the example runs");
    }
}
