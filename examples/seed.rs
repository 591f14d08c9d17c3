//! The original libchan README's example, line for line: a client sends
//! untyped messages that ask for a return channel (`RetPipe`), the server
//! answers each on it.
//!
//! ```text
//! cargo run -p libchan --example seed
//! ```

use libchan::{Message, Receiver, Sender, SessionExt};

async fn client(ch: Sender<Message>) -> Result<(), libchan::ChannelError> {
    // Send a message, indicate that we want a return channel to be automatically created
    let mut ret1 = ch.send_ret(Message::new("request 1!")).await?;

    // Send another message on the same channel
    let mut ret2 = ch.send_ret(Message::new("request 2!")).await?;

    // Wait for an answer from the first request.
    let msg = ret1.recv().await?;
    println!("answer 1: {:?}", msg.map(|m| m.data));
    let msg = ret2.recv().await?;
    println!("answer 2: {:?}", msg.map(|m| m.data));
    Ok(())
}

async fn server(mut ch: Receiver<Message>) -> Result<(), libchan::ChannelError> {
    // Wait for messages in a loop
    while let Some(msg) = ch.recv().await? {
        println!("server got: {:?}", msg.data);
        if let Some(ret) = msg.ret {
            ret.send(Message::new("this is an extremely useful response"))
                .await?;
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (client_session, server_session) = libchan::inmem::pair();
    let ch = client_session.open::<Message>()?;
    let incoming = server_session
        .accept::<Message>()
        .await?
        .ok_or("no channel")?;
    let srv = tokio::spawn(server(incoming));
    client(ch).await?;
    srv.await??;
    Ok(())
}
