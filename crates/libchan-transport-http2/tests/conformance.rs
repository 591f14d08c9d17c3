//! The transport conformance suite over real HTTP/2 connections on
//! loopback, h2c (prior knowledge) and h2 over TLS (ALPN `h2`), once per
//! codec. Each pair connects through a fault-injecting TCP proxy, so
//! `sever` cuts the real connection under HTTP/2 mid-session.

mod support;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use libchan_codec_json::Json;
use libchan_codec_msgpack::Msgpack;
use libchan_codec_xml::Xml;
use libchan_conformance::fault::Proxy;
use libchan_conformance::Harness;
use libchan_core::Codec;
use libchan_transport_http2::{Config, Connector, H2Session, Listener, Server};

struct H2 {
    codec: Arc<dyn Codec>,
    tls: Option<support::Tls>,
    proxies: Mutex<Vec<Proxy>>,
}

#[async_trait]
impl Harness for H2 {
    type Session = H2Session;

    async fn pair(&self) -> (H2Session, H2Session) {
        let config = Config::with_codecs(vec![self.codec.clone()]);
        let mut server = Server::new(config.clone());
        let (scheme, connector) = match &self.tls {
            Some(tls) => {
                server = server.with_tls(tls.server.clone());
                ("https", tls.connector.clone())
            }
            None => ("http", Connector::new()),
        };
        let listener = Listener::bind("127.0.0.1:0", server).await.expect("bind");
        let proxy = Proxy::start(listener.local_addr().expect("addr"))
            .await
            .expect("proxy");
        let url = format!("{scheme}://localhost:{}/libchan", proxy.addr().port());
        let (dialer, accepted) = tokio::join!(connector.connect(&url, config), listener.accept());
        self.proxies.lock().expect("lock").push(proxy);
        (dialer.expect("connect"), accepted.expect("accept").0)
    }

    async fn sever(&self, _dialer: &H2Session, _acceptor: &H2Session) {
        for proxy in self.proxies.lock().expect("lock").iter() {
            proxy.sever();
        }
    }

    fn max_message_size(&self) -> Option<usize> {
        Some(libchan_mux::config::DEFAULT_MAX_FRAME_SIZE as usize)
    }
}

fn h2c(codec: impl Codec) -> H2 {
    H2 {
        codec: Arc::new(codec),
        tls: None,
        proxies: Mutex::new(Vec::new()),
    }
}

fn h2_tls(codec: impl Codec) -> H2 {
    H2 {
        codec: Arc::new(codec),
        tls: Some(support::tls()),
        proxies: Mutex::new(Vec::new()),
    }
}

libchan_conformance::transport_suite!(h2c_json, h2c(Json));
libchan_conformance::transport_suite!(h2c_msgpack, h2c(Msgpack));
libchan_conformance::transport_suite!(h2c_xml, h2c(Xml));
libchan_conformance::transport_suite!(h2_tls_json, h2_tls(Json));
libchan_conformance::transport_suite!(h2_tls_msgpack, h2_tls(Msgpack));

// Protobuf users write prost-generated messages, not serde types: the same
// promises, checked with the protobuf crate's cases.
libchan_codec_protobuf::protobuf_suite!(h2c_protobuf, h2c(libchan_codec_protobuf::Protobuf));
libchan_codec_protobuf::protobuf_suite!(h2_tls_protobuf, h2_tls(libchan_codec_protobuf::Protobuf));
