//! The conformance suite through nginx (`grpc_pass`, HTTP/2 on both
//! sides, TLS at the proxy). Not part of CI: build it with
//! `cargo test -p libchan-transport-http2 --features nginx-tests --test nginx`
//! on a machine with nginx installed.

#![cfg(feature = "nginx-tests")]

mod support;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use libchan_codec_json::Json;
use libchan_conformance::fault::Proxy;
use libchan_conformance::Harness;
use libchan_core::Codec;
use libchan_transport_http2::{Config, H2Session, Listener, Server};
use support::haproxy::Certs;
use support::nginx::Nginx;
use support::within;

struct ThroughNginx {
    codec: Arc<dyn Codec>,
    tls: support::Tls,
    running: Mutex<Vec<(Nginx, Proxy, Listener)>>,
}

#[async_trait]
impl Harness for ThroughNginx {
    type Session = H2Session;

    async fn pair(&self) -> (H2Session, H2Session) {
        let config = Config::with_codecs(vec![self.codec.clone()]);
        let listener = Listener::bind("127.0.0.1:0", Server::new(config.clone()))
            .await
            .expect("bind");
        let certs = Certs {
            cert_pem: self.tls.cert_pem.clone(),
            key_pem: self.tls.key_pem.clone(),
        };
        let nginx = Nginx::start(listener.local_addr().expect("addr"), &certs).await;
        let relay = Proxy::start(nginx.addr).await.expect("relay");
        let url = format!("https://localhost:{}/libchan", relay.addr().port());
        let (dialer, accepted) = within("a session through nginx", async {
            tokio::join!(self.tls.connector.connect(&url, config), listener.accept())
        })
        .await;
        let pair = (dialer.expect("connect"), accepted.expect("accept").0);
        self.running
            .lock()
            .expect("lock")
            .push((nginx, relay, listener));
        pair
    }

    async fn sever(&self, _d: &H2Session, _a: &H2Session) {
        for (_, relay, _) in self.running.lock().expect("lock").iter() {
            relay.sever();
        }
    }

    fn max_message_size(&self) -> Option<usize> {
        Some(libchan_mux::config::DEFAULT_MAX_FRAME_SIZE as usize)
    }
}

fn nginx(codec: impl Codec) -> ThroughNginx {
    ThroughNginx {
        codec: Arc::new(codec),
        tls: support::tls(),
        running: Mutex::new(Vec::new()),
    }
}

libchan_conformance::transport_suite!(nginx_json, nginx(Json));
