//! nginx on loopback with a generated configuration: TLS and HTTP/2 at the
//! proxy, `grpc_pass` (HTTP/2, h2c) to the libchan server behind it. Only
//! the `nginx-tests` feature builds the tests that use it; nginx is not
//! needed by CI.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::process::{Child, Command};

use super::haproxy::{free_port, Certs};

/// A running nginx; killed when dropped.
pub struct Nginx {
    child: Child,
    pub addr: SocketAddr,
    dir: PathBuf,
}

static NEXT: AtomicU64 = AtomicU64::new(0);

impl Nginx {
    pub async fn start(backend: SocketAddr, certs: &Certs) -> Nginx {
        let dir = std::env::temp_dir().join(format!(
            "libchan-nginx-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("cert.pem"), &certs.cert_pem).expect("cert");
        std::fs::write(dir.join("key.pem"), &certs.key_pem).expect("key");
        let port = free_port();
        let d = dir.display();
        let config = format!(
            "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log stderr error;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n\
               access_log off;\n\
               client_body_temp_path {d}/body;\n\
               proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n\
               uwsgi_temp_path {d}/uwsgi;\n\
               scgi_temp_path {d}/scgi;\n\
               client_max_body_size 0;\n\
               http2_max_concurrent_streams 1024;\n\
               server {{\n\
                 listen 127.0.0.1:{port} ssl http2;\n\
                 ssl_certificate {d}/cert.pem;\n\
                 ssl_certificate_key {d}/key.pem;\n\
                 location / {{\n\
                   grpc_pass grpc://{backend};\n\
                   grpc_read_timeout 1h;\n\
                   grpc_send_timeout 1h;\n\
                   client_body_timeout 1h;\n\
                 }}\n\
               }}\n\
             }}\n"
        );
        let cfg = dir.join("nginx.conf");
        std::fs::write(&cfg, config).expect("config");
        let child = Command::new("nginx")
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("cannot start nginx (apt-get install nginx-light)");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        for _ in 0..500 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Nginx { child, addr, dir }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
