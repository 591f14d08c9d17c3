//! The transport conformance suite over real WebSocket connections on
//! loopback, plain (`ws`) and over TLS (`wss`), once per codec. Each pair
//! connects through a fault-injecting TCP proxy, so `sever` cuts the real
//! connection under the WebSocket mid-session.

mod support;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use libchan_codec_json::Json;
use libchan_codec_msgpack::Msgpack;
use libchan_codec_xml::Xml;
use libchan_conformance::fault::Proxy;
use libchan_conformance::Harness;
use libchan_core::Codec;
use libchan_transport_websocket::{Config, Connector, Listener, Server, WsSession};

struct Ws {
    codec: Arc<dyn Codec>,
    tls: Option<support::Tls>,
    proxies: Mutex<Vec<Proxy>>,
}

#[async_trait]
impl Harness for Ws {
    type Session = WsSession;

    async fn pair(&self) -> (WsSession, WsSession) {
        let config = Config::with_codecs(vec![self.codec.clone()]);
        let mut server = Server::new(config.clone());
        let (scheme, connector) = match &self.tls {
            Some(tls) => {
                server = server.with_tls(tls.server.clone());
                ("wss", tls.connector.clone())
            }
            None => ("ws", Connector::new()),
        };
        let listener = Listener::bind("127.0.0.1:0", server).await.expect("bind");
        let proxy = Proxy::start(listener.local_addr().expect("addr"))
            .await
            .expect("proxy");
        let url = format!("{scheme}://127.0.0.1:{}/libchan", proxy.addr().port());
        let (dialer, accepted) = tokio::join!(connector.connect(&url, config), listener.accept());
        self.proxies.lock().expect("lock").push(proxy);
        (dialer.expect("connect"), accepted.expect("accept").0)
    }

    async fn sever(&self, _dialer: &WsSession, _acceptor: &WsSession) {
        for proxy in self.proxies.lock().expect("lock").iter() {
            proxy.sever();
        }
    }

    fn max_message_size(&self) -> Option<usize> {
        Some(libchan_mux::config::DEFAULT_MAX_FRAME_SIZE as usize)
    }
}

fn ws(codec: impl Codec) -> Ws {
    Ws {
        codec: Arc::new(codec),
        tls: None,
        proxies: Mutex::new(Vec::new()),
    }
}

fn wss(codec: impl Codec) -> Ws {
    Ws {
        codec: Arc::new(codec),
        tls: Some(support::tls()),
        proxies: Mutex::new(Vec::new()),
    }
}

libchan_conformance::transport_suite!(ws_json, ws(Json));
libchan_conformance::transport_suite!(ws_msgpack, ws(Msgpack));
libchan_conformance::transport_suite!(ws_xml, ws(Xml));
libchan_conformance::transport_suite!(wss_json, wss(Json));
libchan_conformance::transport_suite!(wss_msgpack, wss(Msgpack));

// Protobuf users write prost-generated messages, not serde types: the same
// promises, checked with the protobuf crate's cases.
libchan_codec_protobuf::protobuf_suite!(ws_protobuf, ws(libchan_codec_protobuf::Protobuf));
libchan_codec_protobuf::protobuf_suite!(wss_protobuf, wss(libchan_codec_protobuf::Protobuf));
