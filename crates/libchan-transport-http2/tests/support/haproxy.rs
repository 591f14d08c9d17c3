//! A real HAProxy on loopback, started by the test with a generated
//! configuration: HTTP/2 on both sides, TLS at the proxy (clients connect
//! with TLS and ALPN `h2`), and behind it either h2c or TLS again.
//!
//! HAProxy must be installed (`.ci/run` installs Debian's package); a test
//! that cannot start it fails, it does not skip.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::process::{Child, Command};

/// How HAProxy reaches the libchan server behind it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// h2c with prior knowledge (`server ... proto h2`): TLS ends at the proxy.
    H2c,
    /// h2 over TLS with ALPN `h2`, the server's certificate verified: TLS
    /// on both hops.
    Tls,
    /// TLS passed through untouched (`mode tcp`): the client's TLS session
    /// (and HTTP/2) ends at the libchan server itself.
    Passthrough,
}

/// Proxy timeouts. The defaults are Debian's shipped configuration's
/// (`/etc/haproxy/haproxy.cfg`: 5 s connect, 50 s client and server).
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub client: Duration,
    pub server: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            client: Duration::from_secs(50),
            server: Duration::from_secs(50),
        }
    }
}

/// The certificate (PEM) the proxy presents and the backend's, both the
/// test's self-signed `localhost` one.
pub struct Certs {
    pub cert_pem: String,
    pub key_pem: String,
}

/// A running HAProxy; killed when dropped.
pub struct Haproxy {
    child: Child,
    pub addr: SocketAddr,
    config: PathBuf,
    dir: PathBuf,
}

static NEXT: AtomicU64 = AtomicU64::new(0);

/// The haproxy binary: `$LIBCHAN_HAPROXY`, else `haproxy` on the PATH,
/// else Debian's `/usr/sbin/haproxy`.
fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("LIBCHAN_HAPROXY") {
        return PathBuf::from(p);
    }
    let sbin = PathBuf::from("/usr/sbin/haproxy");
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join("haproxy").is_file()))
        .unwrap_or(false);
    if !on_path && sbin.is_file() {
        sbin
    } else {
        PathBuf::from("haproxy")
    }
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Haproxy {
    /// Starts HAProxy in front of `backend_addr` and waits until it listens.
    pub async fn start(
        backend_addr: SocketAddr,
        backend: Backend,
        timeouts: Timeouts,
        certs: &Certs,
    ) -> Haproxy {
        Self::start_on(free_port(), &[backend_addr], backend, timeouts, certs).await
    }

    /// [`start`](Self::start) on a given frontend port (to restart a
    /// proxy where its clients expect it).
    /// With several backend addresses, HAProxy balances requests (here:
    /// streams) over them round-robin.
    pub async fn start_on(
        port: u16,
        backend_addrs: &[SocketAddr],
        backend: Backend,
        timeouts: Timeouts,
        certs: &Certs,
    ) -> Haproxy {
        let dir = std::env::temp_dir().join(format!(
            "libchan-haproxy-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let pem = dir.join("proxy.pem");
        std::fs::write(&pem, format!("{}{}", certs.cert_pem, certs.key_pem)).expect("write pem");
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, &certs.cert_pem).expect("write ca");
        let server_line = backend_addrs
            .iter()
            .enumerate()
            .map(|(i, addr)| match backend {
                Backend::H2c => format!("server libchan{i} {addr} proto h2"),
                Backend::Passthrough => format!("server libchan{i} {addr}"),
                Backend::Tls => format!(
                    "server libchan{i} {addr} ssl verify required ca-file {} sni str(localhost) alpn h2",
                    ca.display()
                ),
            })
            .collect::<Vec<_>>()
            .join("\n    ");
        let (mode, bind_tls) = if backend == Backend::Passthrough {
            ("tcp", String::new())
        } else {
            ("http", format!(" ssl crt {} alpn h2", pem.display()))
        };
        let config = format!(
            "global\n\
             \x20   maxconn 2000\n\
             \x20   tune.h2.initial-window-size 1048576\n\
             defaults\n\
             \x20   mode {mode}\n\
             \x20   timeout connect 5s\n\
             \x20   timeout client {client}ms\n\
             \x20   timeout server {server}ms\n\
             frontend libchan_in\n\
             \x20   bind 127.0.0.1:{port}{bind_tls}\n\
             \x20   default_backend libchan_servers\n\
             backend libchan_servers\n\
             \x20   balance roundrobin\n\
             \x20   {server_line}\n",
            client = timeouts.client.as_millis(),
            server = timeouts.server.as_millis(),
        );
        let config_path = dir.join("haproxy.cfg");
        std::fs::write(&config_path, config).expect("write haproxy.cfg");
        let child = Command::new(binary())
            .arg("-db")
            .arg("-q")
            .arg("-f")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start haproxy ({e}): install it (`apt-get install haproxy`, as .ci/run does) \
                     or point LIBCHAN_HAPROXY at it"
                )
            });
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut proxy = Haproxy {
            child,
            addr,
            config: config_path,
            dir,
        };
        proxy.wait_listening().await;
        proxy
    }

    async fn wait_listening(&mut self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "haproxy exited with {status} (config {})",
                    self.config.display()
                );
            }
            if tokio::net::TcpStream::connect(self.addr).await.is_ok() {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "haproxy did not listen on {} within 10 s",
                self.addr
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the proxy at once (SIGKILL): every connection through it dies
    /// without a goodbye.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// The URL clients dial (TLS, with the test certificate's name).
    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
