//! The original libchan README's client and server, as a test.

use libchan::{Message, SessionExt};

#[tokio::test]
async fn seed_readme_client_and_server() {
    let (client, server) = libchan::inmem::pair();
    let ch = client.open::<Message>().expect("open");
    let mut incoming = server
        .accept::<Message>()
        .await
        .expect("accept")
        .expect("a channel");

    let srv = tokio::spawn(async move {
        let mut seen = Vec::new();
        // Wait for messages in a loop
        while let Some(msg) = incoming.recv().await.expect("recv") {
            seen.push(msg.data.clone());
            msg.ret
                .expect("the client asked for a return channel")
                .send(Message::new("this is an extremely useful response"))
                .await
                .expect("respond");
        }
        seen
    });

    // Send a message, indicate that we want a return channel to be automatically created
    let mut ret1 = ch
        .send_ret(Message::new("request 1!"))
        .await
        .expect("send 1");
    // Send another message on the same channel
    let mut ret2 = ch
        .send_ret(Message::new("request 2!"))
        .await
        .expect("send 2");
    // Wait for an answer from the first request.
    let msg = ret1.recv().await.expect("recv 1").expect("an answer");
    assert_eq!(&msg.data[..], b"this is an extremely useful response");
    let msg = ret2.recv().await.expect("recv 2").expect("an answer");
    assert_eq!(&msg.data[..], b"this is an extremely useful response");
    assert!(
        ret1.recv().await.expect("clean").is_none(),
        "one answer per request, then a clean close"
    );

    drop(ch);
    let seen = srv.await.expect("server task");
    assert_eq!(seen, vec!["request 1!", "request 2!"]);
}
