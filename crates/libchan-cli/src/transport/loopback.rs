//! Both ends of a session in this process, over a real transport on
//! loopback (what `demo` and `bench` run).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use libchan::{BoxError, Session};

use super::{Config, GeneratedTls, TlsOptions, TransportKind, SESSION_PATH};

/// A path for a unix socket of this process that no other has: in the
/// temporary directory, named after the process and a counter.
fn scratch_socket_path() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("libchan-{}-{n}.sock", std::process::id()))
}

/// Two connected sessions in this process over `kind` on loopback: the
/// client's, the server's, and a line describing the connection. tls, ws
/// and h2 use a certificate generated for the run (ws is then wss, h2 is
/// h2 over TLS); unix uses a socket in the temporary directory, removed
/// when its listener goes.
pub async fn loopback_pair(
    kind: TransportKind,
    client_config: Config,
    server_config: Config,
) -> Result<(Arc<dyn Session>, Arc<dyn Session>, String), BoxError> {
    if kind == TransportKind::Inmem {
        let (c, s) = libchan::inmem::pair();
        return Ok((Arc::new(c), Arc::new(s), "in memory, no encoding".into()));
    }
    let (server_tls, client_tls) = match kind {
        TransportKind::Tls | TransportKind::Ws | TransportKind::H2 => {
            let g = GeneratedTls::new()?;
            (g.server, g.client)
        }
        _ => (TlsOptions::default(), TlsOptions::default()),
    };
    let t = kind.get();
    let bind_addr = match kind {
        TransportKind::Unix => scratch_socket_path().display().to_string(),
        _ => "127.0.0.1:0".to_string(),
    };
    let listener = t.bind(&bind_addr, &server_tls, server_config).await?;
    let addr = listener.local_addr();
    let port = addr.port().unwrap_or(0);
    let dial_addr = match kind {
        TransportKind::Ws => format!("wss://localhost:{port}{SESSION_PATH}"),
        TransportKind::H2 => format!("https://localhost:{port}{SESSION_PATH}"),
        _ => addr.to_string(),
    };
    let accept = async { listener.accept().await };
    let connect = t.connect(&dial_addr, &client_tls, client_config);
    let (server, client) = tokio::join!(accept, connect);
    let (server, _) = server?;
    let client = client?;
    let what = match kind {
        TransportKind::Tcp => format!("tcp to {addr}"),
        TransportKind::Unix => format!("unix socket {addr}"),
        TransportKind::Tls => format!("tls to {addr}, certificate for localhost made for this run"),
        TransportKind::Ws | TransportKind::H2 => {
            format!("{dial_addr}, certificate made for this run")
        }
        TransportKind::Inmem => unreachable!("returned above"),
    };
    // The unix socket's file goes with its listener; the sessions are
    // connected already.
    drop(listener);
    Ok((client, server, what))
}
