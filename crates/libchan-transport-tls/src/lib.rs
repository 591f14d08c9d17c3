//! # libchan-transport-tls: libchan sessions over TLS
//!
//! rustls (through tokio-rustls) around any byte stream, with the
//! multiplexed libchan protocol (`libchan-mux`) inside: [`connect`] dials
//! TCP, [`Listener`] accepts TCP, and [`connect_over`] / [`accept_over`]
//! take any `AsyncRead + AsyncWrite` you bring (a unix socket, a proxy
//! tunnel, an in-memory duplex). The server always authenticates with a
//! certificate; client certificates (mutual TLS) are optional or required,
//! and the verified identity of the peer ([`TlsSession::peer_identity`]) is
//! there for the application to authorise on.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use libchan_codec_json::Json;
//! use libchan_core::SessionExt;
//! use libchan_transport_tls::{connect, ClientTls, Config, Listener, ServerTls};
//!
//! # // A throwaway CA and server certificate; yours come from files
//! # // (`ca_pem_file`, `identity_pem_files`).
//! # let ca_key = rcgen::KeyPair::generate()?;
//! # let mut ca = rcgen::CertificateParams::new(Vec::<String>::new())?;
//! # ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
//! # let ca_cert = ca.self_signed(&ca_key)?;
//! # let issuer = rcgen::Issuer::new(ca, ca_key);
//! # let server_key = rcgen::KeyPair::generate()?;
//! # let server_cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])?
//! #     .signed_by(&server_key, &issuer)?;
//! # let (ca_pem, cert_pem, key_pem) = (ca_cert.pem(), server_cert.pem(), server_key.serialize_pem());
//! // The server: its certificate chain and key, PEM.
//! let server_tls = ServerTls::builder().identity_pem(&cert_pem, &key_pem).build()?;
//! let listener = Listener::bind("127.0.0.1:0", server_tls, Config::new(Json)).await?;
//! let addr = listener.local_addr()?;
//! tokio::spawn(async move {
//!     let (session, _peer) = listener.accept().await?;
//!     let mut rx = session.accept::<String>().await?.expect("a channel");
//!     while let Some(line) = rx.recv().await? {
//!         println!("got {line}");
//!     }
//!     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//! });
//!
//! // The client: the CA it trusts, and the name the certificate must carry.
//! let client_tls = ClientTls::builder().ca_pem(&ca_pem).build()?;
//! let session = connect(addr, "localhost", &client_tls, Config::new(Json)).await?;
//! assert_eq!(session.peer_identity().expect("the server's").dns_names(), ["localhost"]);
//! let tx = session.open::<String>()?;
//! tx.send("hello over tls".into()).await?;
//! # Ok(()) }
//! ```
//!
//! ## Guarantees
//!
//! Everything the TCP transport guarantees (ordered, no duplicates, per
//! channel; flow control per channel; a lost connection breaks every
//! channel with [`SessionLost`](libchan_core::ChannelError::SessionLost)),
//! plus:
//!
//! * **Server authentication, always**: the client checks the server's
//!   chain against its trusted CAs and the name dialled. With
//!   [`ServerTlsBuilder::client_ca_pem`], the server checks client
//!   certificates too (required, or optional with
//!   [`client_cert_optional`](ServerTlsBuilder::client_cert_optional)).
//! * **Both handshakes inside one deadline**: `connect`, `accept` and their
//!   `_over` forms return once TLS and the libchan handshake are done, or a
//!   typed [`TlsError`] on both sides; no session is returned on failure.
//!   The deadline is `SessionConfig::limits.handshake_timeout`.
//! * **ALPN**: both sides offer and insist on [`ALPN`] (`libchan/1`);
//!   anything else is [`TlsError::AlpnMismatch`].
//! * **A truncated connection is a lost session**: a clean end is the
//!   libchan goodbye (GOAWAY), which travels inside TLS; a connection cut
//!   without it, TLS `close_notify` or not, breaks every channel.
//!
//! See `docs/transports/tls.md` for what it does not do.

#![deny(missing_docs)]

mod config;
mod error;
mod identity;
mod listener;
mod session;

use std::io;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::time::Instant;

pub use config::{ClientTls, ClientTlsBuilder, ServerTls, ServerTlsBuilder};
pub use error::{Remote, TlsError};
pub use identity::{PeerIdentity, TlsInfo};
pub use listener::{Listener, DEFAULT_MAX_CONCURRENT_HANDSHAKES};
pub use session::TlsSession;

#[doc(no_inline)]
pub use libchan_mux::driver::SessionConfig as Config;
/// The rustls version this crate is built on, for ready configurations
/// ([`ClientTls::from_config`], [`ServerTls::from_config`]).
pub use rustls;

use libchan_mux::driver::SessionConfig;

/// libchan's ALPN protocol id, offered by every client and required by
/// every server of this crate. The `1` is the wire protocol's major version
/// (`docs/PROTOCOL.md`).
pub const ALPN: &[u8] = b"libchan/1";

/// Dials `addr` over TCP, authenticates the server as `server_name` (a DNS
/// name or an IP address its certificate must carry), and starts a session
/// as the dialer.
///
/// Returns once the TLS and libchan handshakes are done; both together are
/// bounded by `config.limits.handshake_timeout`, and each TCP connect by
/// `config.connect_timeout` when set (the operating system's limit
/// otherwise; running out is [`TlsError::Io`] of kind `TimedOut`). Every
/// address `addr` resolves to is tried in turn. An invalid session
/// configuration is [`TlsError::Session`] with
/// [`SessionError::Config`](libchan_core::SessionError::Config), before
/// anything is dialled.
pub async fn connect(
    addr: impl ToSocketAddrs,
    server_name: &str,
    tls: &ClientTls,
    config: SessionConfig,
) -> Result<TlsSession, TlsError> {
    let unresolved = || Remote::new(None, Some(server_name.to_owned()));
    config.validate().map_err(|source| TlsError::Session {
        remote: unresolved(),
        source,
    })?;
    let addrs = tokio::net::lookup_host(addr)
        .await
        .map_err(|e| TlsError::Io {
            remote: unresolved(),
            source: Arc::new(e),
        })?;
    let mut last_error = None;
    for addr in addrs {
        let attempt = TcpStream::connect(addr);
        let connected = match config.connect_timeout {
            Some(limit) => tokio::time::timeout(limit, attempt)
                .await
                .unwrap_or_else(|_| {
                    Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no connection within {limit:?}"),
                    ))
                }),
            None => attempt.await,
        };
        match connected {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                let deadline = Instant::now() + config.limits.handshake_timeout;
                return session::dial(stream, server_name, tls, config, Some(addr), deadline).await;
            }
            Err(e) => last_error = Some((addr, e)),
        }
    }
    Err(match last_error {
        Some((addr, e)) => TlsError::Io {
            remote: Remote::new(Some(addr), Some(server_name.to_owned())),
            source: Arc::new(e),
        },
        None => TlsError::Io {
            remote: unresolved(),
            source: Arc::new(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the address resolved to nothing",
            )),
        },
    })
}

/// The client side over a stream you connected yourself (a unix socket, a
/// tunnel): TLS handshake as the client, authenticating the server as
/// `server_name`, then the session as the dialer.
///
/// The handshakes are bounded by `config.limits.handshake_timeout`.
pub async fn connect_over<IO>(
    io: IO,
    server_name: &str,
    tls: &ClientTls,
    config: SessionConfig,
) -> Result<TlsSession, TlsError>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let deadline = Instant::now() + config.limits.handshake_timeout;
    session::dial(io, server_name, tls, config, None, deadline).await
}

/// The server side over a stream you accepted yourself: TLS handshake as
/// the server, then the session as the acceptor.
///
/// The handshakes are bounded by `config.limits.handshake_timeout`. This
/// waits for the one peer; to serve many without one slow handshake holding
/// up the others, run each call in its own task (as [`Listener`] does).
pub async fn accept_over<IO>(
    io: IO,
    tls: &ServerTls,
    config: SessionConfig,
) -> Result<TlsSession, TlsError>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let deadline = Instant::now() + config.limits.handshake_timeout;
    session::serve(io, tls, config, None, deadline).await
}
