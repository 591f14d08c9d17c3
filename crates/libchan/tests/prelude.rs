//! One import is enough for the common calls, on every session type.

use libchan::prelude::*;

#[cfg(all(feature = "json", feature = "tcp"))]
#[tokio::test]
async fn the_prelude_brings_every_session_call_into_scope() {
    use libchan::tcp::{connect, Config, Listener};

    let listener = Listener::bind("127.0.0.1:0", Config::new(libchan::codec::Json))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (client, accepted) = tokio::join!(
        connect(addr, Config::new(libchan::codec::Json)),
        listener.accept()
    );
    let (client, (server, _)) = (client.expect("connect"), accepted.expect("accept"));
    Session::handshake(&client).await.expect("handshake");
    let tx: Sender<String> = client.open().expect("open");
    tx.send("hi".into()).await.expect("send");
    let mut rx: Receiver<String> = server.accept().await.expect("accept").expect("a channel");
    assert_eq!(rx.recv().await.expect("recv"), Some("hi".into()));
    drop((tx, rx));
    client.close().await.expect("a clean close");
}

#[cfg(feature = "inmem")]
#[tokio::test]
async fn the_prelude_covers_requests_in_memory() {
    let (client, server) = libchan::inmem::pair();
    tokio::spawn(async move {
        let mut requests = server
            .accept::<Request<String, usize>>()
            .await
            .expect("accept")
            .expect("a channel");
        while let Ok(Some(req)) = requests.recv().await {
            let (body, responder): (String, Responder<usize>) = req.into_parts();
            let _ = responder.respond(body.len()).await;
        }
    });
    let service = client.open::<Request<String, usize>>().expect("open");
    assert_eq!(service.call("four".into()).await.expect("call"), 4);
    client.close().await.expect("close");
}

#[cfg(all(feature = "json", feature = "tcp"))]
#[test]
fn limits_are_the_transports_limits() {
    let mut config = libchan::tcp::Config::new(libchan::codec::Json);
    let limits: &mut libchan::Limits = &mut config.limits;
    limits.max_frame_size = 1;
    assert!(matches!(
        config.validate(),
        Err(SessionError::Config(e)) if e.downcast_ref::<libchan::ConfigError>().is_some()
    ));
}
