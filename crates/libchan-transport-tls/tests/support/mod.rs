//! Shared by the integration tests: certificates made on the spot with
//! rcgen (nothing is committed), bounded waits, and connected pairs over
//! TCP and unix sockets whose connection a test can cut.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use libchan_transport_tls::{
    accept_over, connect, connect_over, ClientTls, Config, Listener, ServerTls, TlsError,
    TlsSession,
};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinHandle;

/// Generous bound on any wait: it separates "slow" from "never".
pub const PATIENCE: Duration = Duration::from_secs(20);

pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(PATIENCE, fut)
        .await
        .unwrap_or_else(|_| panic!("hung waiting for {what}"))
}

/// A certificate authority that issues certificates for one test.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

/// A certificate (PEM) and its private key (PEM).
#[derive(Clone)]
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    Current,
    Expired,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).expect("CA certificate");
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    fn issue(
        &self,
        names: &[&str],
        cn: &str,
        purpose: ExtendedKeyUsagePurpose,
        validity: Validity,
    ) -> Leaf {
        let key = KeyPair::generate().expect("leaf key");
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("leaf params");
        params.distinguished_name.push(DnType::CommonName, cn);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "libchan tests");
        params.extended_key_usages = vec![purpose];
        if validity == Validity::Expired {
            params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// A server certificate for `names` (DNS names or IP addresses).
    pub fn server(&self, names: &[&str]) -> Leaf {
        self.issue(
            names,
            names.first().copied().unwrap_or("server"),
            ExtendedKeyUsagePurpose::ServerAuth,
            Validity::Current,
        )
    }

    pub fn expired_server(&self, names: &[&str]) -> Leaf {
        self.issue(
            names,
            "expired server",
            ExtendedKeyUsagePurpose::ServerAuth,
            Validity::Expired,
        )
    }

    /// A client certificate with common name `cn` and DNS name `dns`.
    pub fn client(&self, cn: &str, dns: &str) -> Leaf {
        self.issue(
            &[dns],
            cn,
            ExtendedKeyUsagePurpose::ClientAuth,
            Validity::Current,
        )
    }
}

/// A server and the client configuration that trusts it (and, with
/// `mtls`, a client certificate the server trusts).
pub struct Pki {
    pub server: ServerTls,
    pub client: ClientTls,
}

impl Pki {
    pub fn new(mtls: bool) -> Pki {
        let ca = Ca::new("libchan test CA");
        let server = ca.server(&["localhost", "127.0.0.1"]);
        let mut server_tls = ServerTls::builder().identity_pem(&server.cert_pem, &server.key_pem);
        let mut client_tls = ClientTls::builder().ca_pem(ca.pem());
        if mtls {
            let client = ca.client("worker-1", "worker-1.internal");
            server_tls = server_tls.client_ca_pem(ca.pem());
            client_tls = client_tls.identity_pem(&client.cert_pem, &client.key_pem);
        }
        Pki {
            server: server_tls.build().expect("server tls"),
            client: client_tls.build().expect("client tls"),
        }
    }
}

/// What both ends of one attempted TCP connection got.
pub struct Attempt {
    pub client: Result<TlsSession, TlsError>,
    pub server: Result<TlsSession, TlsError>,
}

/// Dials a fresh listener once with `client`, as `server_name`.
pub async fn attempt(
    server: ServerTls,
    client: &ClientTls,
    server_name: &str,
    config: Config,
) -> Attempt {
    let listener = Listener::bind("127.0.0.1:0", server, config.clone())
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (client, server) = within("both ends of the handshake", async {
        tokio::join!(
            connect(addr, server_name, client, config),
            listener.accept()
        )
    })
    .await;
    Attempt {
        client,
        server: server.map(|(s, _)| s),
    }
}

static NEXT_SOCKET: AtomicU64 = AtomicU64::new(0);

/// A fresh socket path in the temp directory.
pub fn socket_path() -> PathBuf {
    std::env::temp_dir().join(format!(
        "libchan-tls-{}-{}.sock",
        std::process::id(),
        NEXT_SOCKET.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Unix-socket connections with a relay in the middle that `sever` cuts:
/// client ⇄ socketpair ⇄ relay ⇄ unix listener ⇄ server.
#[derive(Default)]
pub struct UnixRelays {
    links: Mutex<Vec<JoinHandle<()>>>,
}

impl UnixRelays {
    /// A connected `(client end, server end)` through a fresh relay.
    pub async fn connect(&self) -> (UnixStream, UnixStream) {
        let path = socket_path();
        let listener = UnixListener::bind(&path).expect("bind unix");
        let (client, mut relay_in) = UnixStream::pair().expect("socketpair");
        let (relay_out, accepted) = tokio::join!(UnixStream::connect(&path), listener.accept());
        let _ = std::fs::remove_file(&path);
        let mut relay_out = relay_out.expect("connect unix");
        let (server, _) = accepted.expect("accept unix");
        let link = tokio::spawn(async move {
            let _ = tokio::io::copy_bidirectional(&mut relay_in, &mut relay_out).await;
        });
        self.links.lock().expect("lock").push(link);
        (client, server)
    }

    /// Cuts every relayed connection at once (both sockets closed, no
    /// goodbye at either layer).
    pub fn sever(&self) {
        for link in self.links.lock().expect("lock").drain(..) {
            link.abort();
        }
    }
}

impl Drop for UnixRelays {
    fn drop(&mut self) {
        self.sever();
    }
}

/// A TLS session pair over a relayed unix socket.
pub async fn unix_pair(relays: &UnixRelays, pki: &Pki, config: Config) -> (TlsSession, TlsSession) {
    let (c, s) = relays.connect().await;
    let (client, server) = within("a TLS pair over a unix socket", async {
        tokio::join!(
            connect_over(c, "localhost", &pki.client, config.clone()),
            accept_over(s, &pki.server, config.clone())
        )
    })
    .await;
    (client.expect("connect_over"), server.expect("accept_over"))
}

/// A TLS session pair over TCP through `proxy`-style indirection is built
/// by the callers; this one is direct: `(dialer, acceptor, acceptor's view
/// of the dialer's address)`.
pub async fn tcp_pair(pki: &Pki, config: Config) -> (TlsSession, TlsSession, SocketAddr) {
    let listener = Listener::bind("127.0.0.1:0", pki.server.clone(), config.clone())
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (client, server) = within("a TLS pair over TCP", async {
        tokio::join!(
            connect(addr, "localhost", &pki.client, config),
            listener.accept()
        )
    })
    .await;
    let (server, peer) = server.expect("accept");
    (client.expect("connect"), server, peer)
}
