//! The TLS handshake over real loopback sockets: good handshakes, and every
//! certificate failure as a typed error on both sides with no session.
//! Certificates are generated here with rcgen.

mod support;

use std::net::IpAddr;
use std::sync::Arc;

use libchan_codec_json::Json;
use libchan_core::{Initiator, SessionExt};
use libchan_transport_tls::rustls;
use libchan_transport_tls::{connect, ClientTls, Config, Listener, ServerTls, TlsError, ALPN};
use support::{attempt, within, Ca, Pki};
use tokio::net::{TcpListener, TcpStream};

fn config() -> Config {
    Config::new(Json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_handshake_carries_channels_both_ways() {
    let pki = Pki::new(false);
    let (client, server, _) = support::tcp_pair(&pki, config()).await;
    let up = client.open::<String>().expect("open");
    up.send("from the client".into()).await.expect("send");
    let down = server.open::<String>().expect("open");
    down.send("from the server".into()).await.expect("send");
    let mut at_server = within("accept", server.accept::<String>())
        .await
        .expect("accept")
        .expect("channel");
    let mut at_client = within("accept", client.accept::<String>())
        .await
        .expect("accept")
        .expect("channel");
    assert_eq!(
        within("recv", at_server.recv()).await.expect("recv"),
        Some("from the client".to_string())
    );
    assert_eq!(
        within("recv", at_client.recv()).await.expect("recv"),
        Some("from the server".to_string())
    );
    assert_eq!(client.handshake().await.expect("codec"), "json");
    let tls = client.tls();
    assert!(tls.protocol_version.is_some() && tls.cipher_suite.is_some());
    assert_eq!(tls.server_name.as_deref(), Some("localhost"));
    assert_eq!(server.tls().server_name.as_deref(), Some("localhost"));
    // Without client certificates only the server has an identity.
    assert!(server.peer_identity().is_none());
    let id = client.peer_identity().expect("the server's identity");
    assert_eq!(id.dns_names(), ["localhost"]);
    assert_eq!(id.ip_addresses(), [IpAddr::from([127, 0, 0, 1])]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_shows_each_side_the_others_identity() {
    let pki = Pki::new(true);
    let (client, server, peer) = support::tcp_pair(&pki, config()).await;
    let of_client = server.peer_identity().expect("the client's identity");
    assert_eq!(of_client.common_name(), Some("worker-1"));
    assert_eq!(of_client.dns_names(), ["worker-1.internal"]);
    let subject = of_client.subject().expect("a subject");
    assert!(
        subject.contains("CN=worker-1") && subject.contains("O=libchan tests"),
        "{subject}"
    );
    assert_eq!(of_client.certificates().len(), 1);
    assert_eq!(server.tls().peer_addr, Some(peer));
    let of_server = client.peer_identity().expect("the server's identity");
    assert_eq!(of_server.common_name(), Some("localhost"));
    // And the session works.
    let tx = client.open::<u32>().expect("open");
    tx.send(7).await.expect("send");
    let mut rx = within("accept", server.accept::<u32>())
        .await
        .expect("accept")
        .expect("channel");
    assert_eq!(within("recv", rx.recv()).await.expect("recv"), Some(7));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ip_address_can_be_the_server_name() {
    let pki = Pki::new(false);
    let listener = Listener::bind("127.0.0.1:0", pki.server.clone(), config())
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (client, server) = within("handshake", async {
        tokio::join!(
            connect(addr, "127.0.0.1", &pki.client, config()),
            listener.accept()
        )
    })
    .await;
    client.expect("an IP SAN matches an IP server name");
    let (server, _) = server.expect("accept");
    assert_eq!(
        server.tls().server_name,
        None,
        "clients send no SNI for an IP address"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_ca_is_refused_on_both_sides() {
    let pki = Pki::new(false);
    let stranger = Ca::new("some other CA");
    let client = ClientTls::builder()
        .ca_pem(stranger.pem())
        .build()
        .expect("client tls");
    let got = attempt(pki.server, &client, "localhost", config()).await;
    let err = got.client.expect_err("an untrusted server");
    assert!(
        matches!(
            err,
            TlsError::UnknownIssuer {
                rejected_by: Initiator::Local,
                ..
            }
        ),
        "client: {err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("127.0.0.1:") && text.contains("localhost") && text.contains("trusted CA"),
        "the message names the address dialled: {text}"
    );
    let err = got.server.expect_err("the client refused us");
    assert!(
        matches!(
            err,
            TlsError::UnknownIssuer {
                rejected_by: Initiator::Remote,
                ..
            }
        ),
        "server: {err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_certificate_is_refused_on_both_sides() {
    let ca = Ca::new("test CA");
    let old = ca.expired_server(&["localhost"]);
    let server = ServerTls::builder()
        .identity_pem(&old.cert_pem, &old.key_pem)
        .build()
        .expect("server tls");
    let client = ClientTls::builder()
        .ca_pem(ca.pem())
        .build()
        .expect("client");
    let got = attempt(server, &client, "localhost", config()).await;
    let err = got.client.expect_err("an expired server certificate");
    assert!(
        matches!(
            err,
            TlsError::CertificateExpired {
                rejected_by: Initiator::Local,
                ..
            }
        ),
        "client: {err:?}"
    );
    let err = got.server.expect_err("the client refused us");
    assert!(
        matches!(
            err,
            TlsError::CertificateExpired {
                rejected_by: Initiator::Remote,
                ..
            }
        ),
        "server: {err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_server_name_is_refused_on_both_sides() {
    let pki = Pki::new(false);
    let got = attempt(pki.server, &pki.client, "db.example.org", config()).await;
    match got.client.expect_err("the certificate names localhost") {
        TlsError::NameMismatch { remote, presented } => {
            assert_eq!(remote.server_name.as_deref(), Some("db.example.org"));
            assert!(
                presented.iter().any(|n| n.contains("localhost")),
                "{presented:?}"
            );
        }
        other => panic!("client: expected a name mismatch, got {other:?}"),
    }
    // The name travels as a generic bad_certificate alert.
    let err = got.server.expect_err("the client refused us");
    assert!(
        matches!(
            err,
            TlsError::BadCertificate {
                rejected_by: Initiator::Remote,
                ..
            }
        ),
        "server: {err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_client_certificate_is_refused_on_both_sides() {
    let ca = Ca::new("test CA");
    let leaf = ca.server(&["localhost"]);
    let server = ServerTls::builder()
        .identity_pem(&leaf.cert_pem, &leaf.key_pem)
        .client_ca_pem(ca.pem())
        .build()
        .expect("server tls");
    let client = ClientTls::builder()
        .ca_pem(ca.pem())
        .build()
        .expect("client");
    let got = attempt(server, &client, "localhost", config()).await;
    let err = got.server.expect_err("no client certificate");
    assert!(
        matches!(
            err,
            TlsError::ClientCertificateRequired {
                rejected_by: Initiator::Local,
                ..
            }
        ),
        "server: {err:?}"
    );
    let err = got.client.expect_err("the server wanted a certificate");
    assert!(
        matches!(
            err,
            TlsError::ClientCertificateRequired {
                rejected_by: Initiator::Remote,
                ..
            }
        ),
        "client: {err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_from_the_wrong_ca_is_refused_on_both_sides() {
    let ca = Ca::new("test CA");
    let rogue = Ca::new("rogue CA");
    let leaf = ca.server(&["localhost"]);
    let intruder = rogue.client("intruder", "intruder.internal");
    let server = ServerTls::builder()
        .identity_pem(&leaf.cert_pem, &leaf.key_pem)
        .client_ca_pem(ca.pem())
        .build()
        .expect("server tls");
    let client = ClientTls::builder()
        .ca_pem(ca.pem())
        .identity_pem(&intruder.cert_pem, &intruder.key_pem)
        .build()
        .expect("client");
    let got = attempt(server, &client, "localhost", config()).await;
    let err = got
        .server
        .expect_err("a client certificate from a CA we do not trust");
    assert!(
        matches!(
            err,
            TlsError::UnknownIssuer {
                rejected_by: Initiator::Local,
                ..
            }
        ),
        "server: {err:?}"
    );
    let err = got.client.expect_err("the server refused our certificate");
    assert!(
        matches!(
            err,
            TlsError::UnknownIssuer {
                rejected_by: Initiator::Remote,
                ..
            }
        ),
        "client: {err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_optional_client_certificate_admits_both_kinds_of_client() {
    let ca = Ca::new("test CA");
    let leaf = ca.server(&["localhost"]);
    let worker = ca.client("worker-2", "worker-2.internal");
    let server = ServerTls::builder()
        .identity_pem(&leaf.cert_pem, &leaf.key_pem)
        .client_ca_pem(ca.pem())
        .client_cert_optional()
        .build()
        .expect("server tls");
    let anonymous = ClientTls::builder()
        .ca_pem(ca.pem())
        .build()
        .expect("client");
    let got = attempt(server.clone(), &anonymous, "localhost", config()).await;
    got.client.expect("an anonymous client is admitted");
    assert!(got.server.expect("accept").peer_identity().is_none());

    let known = ClientTls::builder()
        .ca_pem(ca.pem())
        .identity_pem(&worker.cert_pem, &worker.key_pem)
        .build()
        .expect("client");
    let got = attempt(server, &known, "localhost", config()).await;
    got.client.expect("a known client is admitted");
    let server = got.server.expect("accept");
    assert_eq!(
        server.peer_identity().and_then(|id| id.common_name()),
        Some("worker-2")
    );
}

/// A raw rustls server on loopback, offering `alpn`.
async fn raw_tls_server(
    ca: &Ca,
    alpn: Vec<Vec<u8>>,
) -> (
    std::net::SocketAddr,
    tokio::task::JoinHandle<Option<rustls::Error>>,
) {
    let leaf = ca.server(&["localhost"]);
    let base = ServerTls::builder()
        .identity_pem(&leaf.cert_pem, &leaf.key_pem)
        .build()
        .expect("server tls");
    let mut config = (**base.config()).clone();
    config.alpn_protocols = alpn;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let (sock, _) = listener.accept().await.expect("accept");
        match acceptor.accept(sock).await {
            Ok(_stream) => None,
            Err(e) => e
                .get_ref()
                .and_then(|e| e.downcast_ref::<rustls::Error>())
                .cloned(),
        }
    });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_alpn_protocol_is_a_typed_mismatch_on_either_end() {
    // A libchan client meeting a server that speaks only a later version.
    let ca = Ca::new("test CA");
    let (addr, server) = raw_tls_server(&ca, vec![b"libchan/2".to_vec()]).await;
    let client = ClientTls::builder()
        .ca_pem(ca.pem())
        .build()
        .expect("client");
    let err = within("connect", connect(addr, "localhost", &client, config()))
        .await
        .expect_err("no common ALPN protocol");
    assert!(
        matches!(
            err,
            TlsError::AlpnMismatch {
                rejected_by: Initiator::Remote,
                ..
            }
        ),
        "client: {err:?}"
    );
    assert!(err.to_string().contains("libchan/1"), "{err}");
    assert_eq!(
        within("the raw server", server).await.expect("task"),
        Some(rustls::Error::NoApplicationProtocol)
    );

    // A libchan server meeting a client that offers another protocol, and
    // one that offers none.
    let pki = Pki::new(false);
    for offered in [vec![b"h2".to_vec()], vec![]] {
        let listener = Listener::bind("127.0.0.1:0", pki.server.clone(), config())
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut raw = (**pki.client.config()).clone();
        raw.alpn_protocols = offered.clone();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(raw));
        let dial = async move {
            let sock = TcpStream::connect(addr).await.expect("connect");
            let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
            connector.connect(name.to_owned(), sock).await
        };
        let (_, accepted) = within("the server side", async {
            tokio::join!(dial, listener.accept())
        })
        .await;
        let err = accepted.expect_err("not a libchan client");
        match err {
            TlsError::AlpnMismatch {
                rejected_by: Initiator::Local,
                negotiated,
                ..
            } => assert_eq!(negotiated, None, "offered {offered:?}"),
            other => panic!("server, offered {offered:?}: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_does_not_speak_tls_is_a_typed_error_not_a_panic() {
    // A plain libchan-over-TCP server answers with its magic, not TLS.
    let raw = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = raw.local_addr().expect("addr");
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut sock, _) = raw.accept().await.expect("accept");
        let _ = sock
            .write_all(b"libchan\0\x00\x00\x00\x10garbage garbage!")
            .await;
        let mut sink = Vec::new();
        let _ = sock.read_to_end(&mut sink).await;
    });
    let pki = Pki::new(false);
    let err = within("connect", connect(addr, "localhost", &pki.client, config()))
        .await
        .expect_err("not TLS");
    assert!(
        matches!(
            err,
            TlsError::Tls {
                rejected_by: Initiator::Local,
                ..
            }
        ),
        "got {err:?}"
    );

    // A plain TCP client sending an HTTP request to a TLS listener.
    let listener = Listener::bind("127.0.0.1:0", pki.server, config())
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let client = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut sock = TcpStream::connect(addr).await.expect("connect");
        sock.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let mut answer = Vec::new();
        let _ = sock.read_to_end(&mut answer).await;
    });
    let err = within("accept", listener.accept())
        .await
        .expect_err("an HTTP request is not a TLS handshake");
    assert!(matches!(err, TlsError::Tls { .. }), "got {err:?}");
    within("the client to be hung up on", client)
        .await
        .expect("client");
}

#[test]
fn bad_configurations_are_config_errors() {
    let ca = Ca::new("test CA");
    let leaf = ca.server(&["localhost"]);
    let other = ca.server(&["localhost"]);
    let config_error = |r: Result<(), TlsError>, what: &str| match r {
        Err(TlsError::Config(why)) => why,
        other => panic!("{what}: expected a configuration error, got {other:?}"),
    };
    let why = config_error(
        ClientTls::builder()
            .ca_pem("not pem at all")
            .build()
            .map(drop),
        "garbage CA",
    );
    assert!(why.contains("no CERTIFICATE"), "{why}");
    let why = config_error(ClientTls::builder().build().map(drop), "no CA");
    assert!(why.contains("no trusted CA"), "{why}");
    let why = config_error(
        ServerTls::builder()
            .identity_pem(&leaf.cert_pem, "")
            .build()
            .map(drop),
        "no key",
    );
    assert!(why.contains("private key"), "{why}");
    let why = config_error(
        ServerTls::builder()
            .identity_pem(&leaf.cert_pem, &other.key_pem)
            .build()
            .map(drop),
        "the key of another certificate",
    );
    assert!(why.contains("server certificate"), "{why}");
    let why = config_error(
        ServerTls::builder()
            .identity_pem_files("/nonexistent/cert.pem", "/nonexistent/key.pem")
            .build()
            .map(drop),
        "missing files",
    );
    assert!(why.contains("/nonexistent/cert.pem"), "{why}");
    let why = config_error(
        ServerTls::builder()
            .identity_pem(&leaf.cert_pem, &leaf.key_pem)
            .client_cert_optional()
            .build()
            .map(drop),
        "optional client certificates without a CA",
    );
    assert!(why.contains("client CA"), "{why}");
    let why = config_error(ServerTls::builder().build().map(drop), "no certificate");
    assert!(why.contains("no server certificate"), "{why}");
}

#[test]
fn ready_rustls_configs_get_libchans_alpn_or_are_refused() {
    let pki = Pki::new(false);
    let mut bare = (**pki.client.config()).clone();
    bare.alpn_protocols.clear();
    let tls = ClientTls::from_config(Arc::new(bare.clone())).expect("an empty list gets ours");
    assert_eq!(tls.config().alpn_protocols, [ALPN.to_vec()]);
    bare.alpn_protocols = vec![b"h2".to_vec()];
    assert!(matches!(
        ClientTls::from_config(Arc::new(bare)),
        Err(TlsError::Config(_))
    ));
    let mut server = (**pki.server.config()).clone();
    server.alpn_protocols = vec![b"h2".to_vec(), ALPN.to_vec()];
    let tls = ServerTls::from_config(Arc::new(server)).expect("a list with ours");
    assert_eq!(tls.config().alpn_protocols.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pem_files_configure_both_sides() {
    let ca = Ca::new("file CA");
    let leaf = ca.server(&["localhost"]);
    let client_leaf = ca.client("from-files", "from-files.internal");
    let dir = std::env::temp_dir().join(format!("libchan-tls-pem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write pem");
        path
    };
    let ca_path = write("ca.pem", ca.pem());
    let cert_path = write("server.pem", &leaf.cert_pem);
    let key_path = write("server.key", &leaf.key_pem);
    // Chain and key in one file, as many tools write them.
    let both = write(
        "client.pem",
        &format!("{}{}", client_leaf.cert_pem, client_leaf.key_pem),
    );
    let server = ServerTls::builder()
        .identity_pem_files(&cert_path, &key_path)
        .client_ca_pem_file(&ca_path)
        .build()
        .expect("server from files");
    let client = ClientTls::builder()
        .ca_pem_file(&ca_path)
        .identity_pem_files(&both, &both)
        .build()
        .expect("client from files");
    let got = attempt(server, &client, "localhost", config()).await;
    got.client.expect("connect");
    let server = got.server.expect("accept");
    assert_eq!(
        server.peer_identity().and_then(|id| id.common_name()),
        Some("from-files")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
