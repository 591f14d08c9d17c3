//! The transport conformance suite over real TCP on loopback, once per
//! codec. Each pair connects through a fault-injecting proxy, so `sever`
//! cuts a real connection mid-session.

use std::sync::Mutex;

use async_trait::async_trait;
use std::sync::Arc;

use libchan_codec_json::Json;
use libchan_codec_msgpack::Msgpack;
use libchan_codec_xml::Xml;
use libchan_conformance::fault::Proxy;
use libchan_conformance::Harness;
use libchan_core::Codec;
use libchan_transport_tcp::{connect, Config, Listener, TcpSession};

struct Tcp {
    codec: Arc<dyn Codec>,
    proxies: Mutex<Vec<Proxy>>,
}

#[async_trait]
impl Harness for Tcp {
    type Session = TcpSession;

    async fn pair(&self) -> (TcpSession, TcpSession) {
        let config = Config::with_codecs(vec![self.codec.clone()]);
        let listener = Listener::bind("127.0.0.1:0", config.clone())
            .await
            .expect("bind");
        let proxy = Proxy::start(listener.local_addr().expect("addr"))
            .await
            .expect("proxy");
        let (dialer, accepted) = tokio::join!(connect(proxy.addr(), config), listener.accept());
        self.proxies.lock().expect("lock").push(proxy);
        (dialer.expect("connect"), accepted.expect("accept").0)
    }

    async fn sever(&self, _dialer: &TcpSession, _acceptor: &TcpSession) {
        for proxy in self.proxies.lock().expect("lock").iter() {
            proxy.sever();
        }
    }
}

fn harness(codec: impl Codec) -> Tcp {
    Tcp {
        codec: Arc::new(codec),
        proxies: Mutex::new(Vec::new()),
    }
}

libchan_conformance::transport_suite!(json, harness(Json));
libchan_conformance::transport_suite!(msgpack, harness(Msgpack));
libchan_conformance::transport_suite!(xml, harness(Xml));

// Protobuf users write prost-generated messages, not serde types: the same
// promises, checked with the protobuf crate's cases.
libchan_codec_protobuf::protobuf_suite!(protobuf, harness(libchan_codec_protobuf::Protobuf));
