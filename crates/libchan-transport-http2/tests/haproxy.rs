//! Through a real HAProxy (Debian's package), HTTP/2 on both sides: the
//! whole conformance suite with TLS at the proxy and h2c behind it, with
//! TLS on both hops (the proxy re-encrypts), and with TLS end to end (the
//! proxy passes it through, `mode tcp`); an idle session kept past the proxy's
//! timeouts by libchan's keepalive; the proxy killed and restarted
//! mid-session. Each case starts its own proxy on loopback with a
//! generated configuration.
//!
//! `sever` cuts the client's connection to the proxy (a fault-injecting
//! TCP relay sits in front of it), so the proxy itself has to pass the loss
//! on to the server's side, as it would for a client that crashed.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use libchan_codec_json::Json;
use libchan_codec_msgpack::Msgpack;
use libchan_conformance::fault::Proxy;
use libchan_conformance::Harness;
use libchan_core::{ChannelError, Codec, Session, SessionExt};
use libchan_transport_http2::http;
use libchan_transport_http2::{Config, H2Session, Listener, Server};
use support::haproxy::{Backend, Certs, Haproxy, Timeouts};
use support::within;

struct ThroughHaproxy {
    codec: Arc<dyn Codec>,
    backend: Backend,
    tls: support::Tls,
    running: Mutex<Vec<(Haproxy, Proxy, Listener)>>,
}

impl ThroughHaproxy {
    fn new(codec: impl Codec, backend: Backend) -> Self {
        ThroughHaproxy {
            codec: Arc::new(codec),
            backend,
            tls: support::tls(),
            running: Mutex::new(Vec::new()),
        }
    }

    fn certs(&self) -> Certs {
        Certs {
            cert_pem: self.tls.cert_pem.clone(),
            key_pem: self.tls.key_pem.clone(),
        }
    }
}

#[async_trait]
impl Harness for ThroughHaproxy {
    type Session = H2Session;

    async fn pair(&self) -> (H2Session, H2Session) {
        let config = Config::with_codecs(vec![self.codec.clone()]);
        let mut server = Server::new(config.clone());
        if self.backend != Backend::H2c {
            server = server.with_tls(self.tls.server.clone());
        }
        let listener = Listener::bind("127.0.0.1:0", server).await.expect("bind");
        let haproxy = Haproxy::start(
            listener.local_addr().expect("addr"),
            self.backend,
            Timeouts::default(),
            &self.certs(),
        )
        .await;
        let relay = Proxy::start(haproxy.addr).await.expect("relay");
        let url = format!("https://localhost:{}/libchan", relay.addr().port());
        let (dialer, accepted) = within("a session through haproxy", async {
            tokio::join!(self.tls.connector.connect(&url, config), listener.accept())
        })
        .await;
        let dialer = dialer.expect("connect through haproxy");
        let (acceptor, _) = accepted.expect("accept behind haproxy");
        self.running
            .lock()
            .expect("lock")
            .push((haproxy, relay, listener));
        (dialer, acceptor)
    }

    async fn sever(&self, _dialer: &H2Session, _acceptor: &H2Session) {
        for (_, relay, _) in self.running.lock().expect("lock").iter() {
            relay.sever();
        }
    }

    fn max_message_size(&self) -> Option<usize> {
        Some(libchan_mux::config::DEFAULT_MAX_FRAME_SIZE as usize)
    }
}

libchan_conformance::transport_suite!(
    haproxy_tls_h2c_json,
    ThroughHaproxy::new(Json, Backend::H2c)
);
libchan_conformance::transport_suite!(
    haproxy_tls_h2c_msgpack,
    ThroughHaproxy::new(Msgpack, Backend::H2c)
);
libchan_conformance::transport_suite!(
    haproxy_tls_both_json,
    ThroughHaproxy::new(Json, Backend::Tls)
);
libchan_conformance::transport_suite!(
    haproxy_tls_passthrough_json,
    ThroughHaproxy::new(Json, Backend::Passthrough)
);
libchan_codec_protobuf::protobuf_suite!(
    haproxy_tls_h2c_protobuf,
    ThroughHaproxy::new(libchan_codec_protobuf::Protobuf, Backend::H2c)
);

/// A session through a proxy with 1 s client and server timeouts, idle
/// for 3 s, with libchan keepalive every 300 ms (`limits.keepalive`) on
/// both sides.
async fn idle_through_short_timeouts(keepalive: Option<Duration>) -> Result<u32, String> {
    let tls = support::tls();
    let mut config = Config::new(Json);
    config.limits.keepalive = keepalive;
    let listener = Listener::bind("127.0.0.1:0", Server::new(config.clone()))
        .await
        .expect("bind");
    let timeouts = Timeouts {
        client: Duration::from_secs(1),
        server: Duration::from_secs(1),
    };
    let certs = Certs {
        cert_pem: tls.cert_pem.clone(),
        key_pem: tls.key_pem.clone(),
    };
    let haproxy = Haproxy::start(
        listener.local_addr().expect("addr"),
        Backend::H2c,
        timeouts,
        &certs,
    )
    .await;
    let url = haproxy.url("/libchan");
    let (dialer, accepted) = within("a session through haproxy", async {
        tokio::join!(tls.connector.connect(&url, config), listener.accept())
    })
    .await;
    let dialer = dialer.expect("connect");
    let (acceptor, _) = accepted.expect("accept");
    let tx = dialer.open::<u32>().expect("open");
    tx.send(1).await.expect("send before idling");
    let mut rx = within("accept", acceptor.accept::<u32>())
        .await
        .expect("accept")
        .expect("a channel");
    assert_eq!(within("recv", rx.recv()).await.expect("recv"), Some(1));

    tokio::time::sleep(Duration::from_secs(3)).await;

    let sent = tx.send(2).await;
    let got = within("the message after idling", rx.recv()).await;
    drop(haproxy);
    match (sent, got) {
        (Ok(()), Ok(Some(v))) => Ok(v),
        (sent, got) => Err(format!("send: {sent:?}, recv: {got:?}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalive_carries_an_idle_session_past_the_proxy_timeouts() {
    let got = idle_through_short_timeouts(Some(Duration::from_millis(300))).await;
    assert_eq!(
        got,
        Ok(2),
        "a session idle for 3× the proxy's timeouts, with keepalive, still works"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_keepalive_the_proxy_timeouts_end_an_idle_session() {
    // The control: the short timeouts really are in force.
    let got = idle_through_short_timeouts(None).await;
    eprintln!("without keepalive: {got:?}");
    assert!(
        got.is_err(),
        "an idle session without keepalive must be cut by the proxy, got {got:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_killed_mid_session_breaks_both_sides_and_a_new_one_serves_again() {
    let tls = support::tls();
    let certs = Certs {
        cert_pem: tls.cert_pem.clone(),
        key_pem: tls.key_pem.clone(),
    };
    let config = Config::new(Json);
    let listener = Listener::bind("127.0.0.1:0", Server::new(config.clone()))
        .await
        .expect("bind");
    let backend = listener.local_addr().expect("addr");
    let mut haproxy = Haproxy::start(backend, Backend::H2c, Timeouts::default(), &certs).await;
    let url = haproxy.url("/libchan");
    let (dialer, accepted) = within("a session through haproxy", async {
        tokio::join!(
            tls.connector.connect(&url, config.clone()),
            listener.accept()
        )
    })
    .await;
    let dialer = dialer.expect("connect");
    let (acceptor, _) = accepted.expect("accept");
    let tx = dialer.open::<u32>().expect("open");
    tx.send(1).await.expect("send");
    let mut rx = within("accept", acceptor.accept::<u32>())
        .await
        .expect("accept")
        .expect("a channel");
    assert_eq!(within("recv", rx.recv()).await.expect("recv"), Some(1));
    // The acceptor's own channel toward the dialer breaks too.
    let back = acceptor.open::<u32>().expect("open back");
    back.send(7).await.expect("send back");
    let mut back_rx = within("accept back", dialer.accept::<u32>())
        .await
        .expect("accept back")
        .expect("a channel");
    assert_eq!(
        within("recv back", back_rx.recv()).await.expect("recv"),
        Some(7)
    );

    haproxy.kill().await;

    let at_acceptor = within("the loss behind the proxy", rx.recv()).await;
    assert!(
        matches!(&at_acceptor, Err(e) if e.is_broken()),
        "the server's channel reports the lost session, got {at_acceptor:?}"
    );
    let at_dialer = within("the loss in front of the proxy", back_rx.recv()).await;
    assert!(
        matches!(&at_dialer, Err(e) if e.is_broken()),
        "the client's channel reports the lost session, got {at_dialer:?}"
    );
    let err =
        libchan_conformance::first_send_error("a send after the loss", &tx, |i| i as u32).await;
    assert!(
        matches!(err, ChannelError::SessionLost(_)),
        "sends fail with the lost session, got {err:?}"
    );
    let accept = within("accept after the loss", acceptor.accept::<u32>()).await;
    assert!(accept.is_err(), "accept reports the loss, got {accept:?}");

    // Restarted where the clients expect it, the proxy serves new sessions.
    let _again = Haproxy::start_on(
        haproxy.addr.port(),
        &[backend],
        Backend::H2c,
        Timeouts::default(),
        &certs,
    )
    .await;
    drop(haproxy);
    let (dialer, accepted) = within("a session through the restarted proxy", async {
        tokio::join!(tls.connector.connect(&url, config), listener.accept())
    })
    .await;
    let dialer = dialer.expect("connect again");
    let (acceptor, _) = accepted.expect("accept again");
    let tx = dialer.open::<String>().expect("open");
    tx.send("after the restart".into()).await.expect("send");
    let mut rx = within("accept", acceptor.accept::<String>())
        .await
        .expect("accept")
        .expect("a channel");
    assert_eq!(
        within("recv", rx.recv()).await.expect("recv").as_deref(),
        Some("after the restart")
    );
}

/// What per-channel HTTP/2 streams would meet in a proxy with its shipped
/// defaults, measured rather than assumed (docs/PROTOCOL.md, "Over
/// HTTP/2"): HAProxy admits at most 100 concurrent streams per client
/// connection (`tune.h2.max-concurrent-streams`), so the 101st long-lived
/// stream of one connection waits for another to end, however many
/// channels the application opened. Here the streams are sessions, but any
/// long-lived stream counts alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_caps_long_lived_streams_per_connection_at_100() {
    let tls = support::tls();
    let certs = Certs {
        cert_pem: tls.cert_pem.clone(),
        key_pem: tls.key_pem.clone(),
    };
    let config = Config::new(Json);
    let listener = Listener::bind("127.0.0.1:0", Server::new(config.clone()))
        .await
        .expect("bind");
    let haproxy = Haproxy::start(
        listener.local_addr().expect("addr"),
        Backend::H2c,
        Timeouts::default(),
        &certs,
    )
    .await;
    let client = tls
        .connector
        .client(&haproxy.url("/"))
        .await
        .expect("one connection to the proxy");
    let mut sessions = Vec::new();
    let mut backend_peers = std::collections::BTreeSet::new();
    for _ in 0..100 {
        let request = http::Request::post("/libchan").body(()).expect("request");
        let (session, accepted) = within("a stream under the cap", async {
            tokio::join!(client.session(request, config.clone()), listener.accept())
        })
        .await;
        let (peer, from) = accepted.expect("accept");
        backend_peers.insert(from);
        sessions.push((session.expect("session"), peer));
    }
    let request = http::Request::post("/libchan").body(()).expect("request");
    let over = tokio::time::timeout(
        Duration::from_secs(2),
        client.session(request, config.clone()),
    )
    .await;
    eprintln!(
        "100 streams of one client connection reached the server over {} backend connection(s); \
         the 101st: {}",
        backend_peers.len(),
        if over.is_err() { "waiting" } else { "admitted" }
    );
    assert!(
        over.is_err(),
        "the 101st concurrent stream must wait, got {over:?}"
    );
    // One ending frees a slot.
    let (first, _) = sessions.remove(0);
    first.close().await.expect("close");
    let request = http::Request::post("/libchan").body(()).expect("request");
    let (again, accepted) = within("a stream once one ended", async {
        tokio::join!(client.session(request, config), listener.accept())
    })
    .await;
    again.expect("admitted once a stream ended");
    accepted.expect("accept");
}

/// The other reason against a stream per channel: a proxy routes each
/// stream on its own. With two servers behind it, the streams of one
/// client connection land on both: a channel opened as a stream of its own
/// could reach another process than the session it belongs to, and its
/// announcement could not be ordered before the message naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_spreads_the_streams_of_one_connection_over_its_servers() {
    let tls = support::tls();
    let certs = Certs {
        cert_pem: tls.cert_pem.clone(),
        key_pem: tls.key_pem.clone(),
    };
    let config = Config::new(Json);
    let a = Listener::bind("127.0.0.1:0", Server::new(config.clone()))
        .await
        .expect("bind a");
    let b = Listener::bind("127.0.0.1:0", Server::new(config.clone()))
        .await
        .expect("bind b");
    let haproxy = Haproxy::start_on(
        support::haproxy::free_port(),
        &[a.local_addr().expect("a"), b.local_addr().expect("b")],
        Backend::H2c,
        Timeouts::default(),
        &certs,
    )
    .await;
    let client = tls
        .connector
        .client(&haproxy.url("/"))
        .await
        .expect("one connection");
    let (mut at_a, mut at_b) = (0, 0);
    let mut keep = Vec::new();
    for _ in 0..4 {
        let request = http::Request::post("/libchan").body(()).expect("request");
        let session = within("a session", client.session(request, config.clone()))
            .await
            .expect("session");
        let landed = within("the session at a server", async {
            tokio::select! {
                s = a.accept() => { at_a += 1; s }
                s = b.accept() => { at_b += 1; s }
            }
        })
        .await
        .expect("accept");
        keep.push((session, landed));
    }
    eprintln!("4 streams of one client connection: {at_a} at server a, {at_b} at server b");
    assert!(
        at_a > 0 && at_b > 0,
        "round-robin spreads one connection's streams: {at_a} at a, {at_b} at b"
    );
}

/// Whether the proxy passes HTTP/2 trailers both ways (a per-stream design
/// might end channels with them; this one uses none).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_forwards_trailers_both_ways() {
    use bytes::Bytes;
    use libchan_transport_http2::h2;
    let tls = support::tls();
    let certs = Certs {
        cert_pem: tls.cert_pem.clone(),
        key_pem: tls.key_pem.clone(),
    };
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let backend = tcp.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (sock, _) = tcp.accept().await.expect("accept");
        let mut conn = h2::server::handshake(sock).await.expect("h2");
        let (req, mut respond) = conn.accept().await.expect("request").expect("ok");
        tokio::spawn(async move { while conn.accept().await.is_some() {} });
        let mut body = req.into_body();
        while let Some(Ok(chunk)) = body.data().await {
            let _ = body.flow_control().release_capacity(chunk.len());
        }
        let trailers = body.trailers().await.expect("trailers");
        let mut stream = respond
            .send_response(http::Response::new(()), false)
            .expect("respond");
        stream
            .send_data(Bytes::from_static(b"body"), false)
            .expect("data");
        let mut back = http::HeaderMap::new();
        back.insert("x-status", http::HeaderValue::from_static("done"));
        stream.send_trailers(back).expect("trailers");
        trailers
    });
    let haproxy = Haproxy::start(backend, Backend::H2c, Timeouts::default(), &certs).await;
    let sock = tokio::net::TcpStream::connect(haproxy.addr)
        .await
        .expect("connect");
    let mut roots = libchan_transport_http2::rustls::RootCertStore::empty();
    roots.add(tls.cert.clone()).expect("root");
    let mut config =
        libchan_transport_http2::rustls::ClientConfig::builder_with_provider(support::provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let sock = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect("localhost".try_into().expect("name"), sock)
        .await
        .expect("tls");
    let (send, conn) = h2::client::handshake(sock).await.expect("h2");
    tokio::spawn(conn);
    let mut send = send.ready().await.expect("ready");
    let request = http::Request::post(haproxy.url("/trailers"))
        .body(())
        .expect("request");
    let (response, mut stream) = send.send_request(request, false).expect("send");
    stream
        .send_data(Bytes::from_static(b"request"), false)
        .expect("data");
    let mut trailers = http::HeaderMap::new();
    trailers.insert("x-end", http::HeaderValue::from_static("clean"));
    stream.send_trailers(trailers).expect("trailers");
    let response = within("the response", response).await.expect("response");
    let mut body = response.into_body();
    while let Some(Ok(chunk)) = body.data().await {
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    let back = within("response trailers", body.trailers())
        .await
        .expect("trailers");
    let forwarded = within("request trailers", server).await.expect("server");
    eprintln!(
        "request trailers at the server: {forwarded:?}; response trailers at the client: {back:?}"
    );
    assert_eq!(
        forwarded
            .as_ref()
            .and_then(|t| t.get("x-end"))
            .map(|v| v.as_bytes()),
        Some(&b"clean"[..])
    );
    assert_eq!(
        back.as_ref()
            .and_then(|t| t.get("x-status"))
            .map(|v| v.as_bytes()),
        Some(&b"done"[..])
    );
}
