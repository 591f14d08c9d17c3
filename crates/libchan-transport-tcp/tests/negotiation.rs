//! Codec negotiation in the handshake, over real TCP.

use std::sync::Arc;

use libchan_codec_json::Json;
use libchan_codec_msgpack::Msgpack;
use libchan_codec_xml::Xml;
use libchan_core::{Codec, SessionError, SessionExt};
use libchan_transport_tcp::{connect, Config, Listener};

async fn handshake(
    dialer: Vec<Arc<dyn Codec>>,
    acceptor: Vec<Arc<dyn Codec>>,
) -> (
    libchan_transport_tcp::TcpSession,
    libchan_transport_tcp::TcpSession,
) {
    let listener = Listener::bind("127.0.0.1:0", Config::with_codecs(acceptor))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (d, a) = tokio::join!(
        connect(addr, Config::with_codecs(dialer)),
        listener.accept()
    );
    (d.expect("connect"), a.expect("accept").0)
}

#[tokio::test]
async fn the_dialers_first_common_codec_wins_on_both_sides() {
    let (d, a) = handshake(
        vec![Arc::new(Xml), Arc::new(Msgpack), Arc::new(Json)],
        vec![Arc::new(Json), Arc::new(Msgpack)],
    )
    .await;
    assert_eq!(d.handshake().await.expect("dialer"), "msgpack");
    assert_eq!(a.handshake().await.expect("acceptor"), "msgpack");
    // And the session works in the chosen codec.
    let tx = d.open::<Vec<String>>().expect("open");
    tx.send(vec!["négocié".into()]).await.expect("send");
    let mut rx = a
        .accept::<Vec<String>>()
        .await
        .expect("accept")
        .expect("ch");
    assert_eq!(rx.recv().await.expect("recv"), Some(vec!["négocié".into()]));
}

#[tokio::test]
async fn no_common_codec_is_a_typed_error_naming_both_lists_on_both_sides() {
    let (d, a) = handshake(vec![Arc::new(Xml)], vec![Arc::new(Json), Arc::new(Msgpack)]).await;
    for (side, session, local, remote) in [
        ("dialer", &d, vec!["xml"], vec!["json", "msgpack"]),
        ("acceptor", &a, vec!["json", "msgpack"], vec!["xml"]),
    ] {
        match session.handshake().await {
            Err(SessionError::CodecMismatch {
                local: l,
                remote: r,
            }) => {
                assert_eq!(l, local, "{side}: its own list");
                assert_eq!(r, remote, "{side}: the peer's list");
            }
            other => panic!("{side}: expected a codec mismatch, got {other:?}"),
        }
        let message = session
            .handshake()
            .await
            .expect_err("still failed")
            .to_string();
        assert!(
            message.contains("xml") && message.contains("json"),
            "{side}: the message names both codecs: {message}"
        );
    }
}

#[tokio::test]
async fn a_codec_mismatch_has_one_shape_whenever_it_shows() {
    use libchan_core::{ChannelError, Request, Sender};
    let (d, _a) = handshake(vec![Arc::new(Xml)], vec![Arc::new(Json)]).await;
    // Opened before the handshake failed, used after.
    let plain = d.open::<String>().expect("open before the handshake");
    let service = d
        .open::<Request<String, String>>()
        .expect("open before the handshake");
    let carrying = d.open::<Sender<u32>>().expect("open before the handshake");
    assert!(matches!(
        d.handshake().await,
        Err(SessionError::CodecMismatch { .. })
    ));
    let is_mismatch =
        |e: &ChannelError| matches!(e.session_error(), Some(SessionError::CodecMismatch { .. }));
    let sent = plain.send("x".into()).await.expect_err("the session ended");
    assert!(is_mismatch(sent.error()), "a send: {:?}", sent.error());
    let called = service
        .call("x".into())
        .await
        .expect_err("the session ended");
    assert!(
        is_mismatch(&called),
        "a call, whose request carries a reply channel: {called:?}"
    );
    let (tx, _rx) = libchan_core::pipe::<u32>();
    let nested = carrying.send(tx).await.expect_err("the session ended");
    assert!(
        is_mismatch(nested.error()),
        "a message carrying an end: {:?}",
        nested.error()
    );
    assert!(matches!(
        d.open::<String>(),
        Err(SessionError::CodecMismatch { .. })
    ));
}
