//! The transport conformance suite over TLS, once per codec and per byte
//! stream underneath: TCP on loopback (mutual TLS, through a fault-injecting
//! proxy) and a unix socket (server authentication, through a relay). In
//! both, `sever` cuts the real connection mid-session.

mod support;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use libchan_codec_json::Json;
use libchan_codec_msgpack::Msgpack;
use libchan_codec_xml::Xml;
use libchan_conformance::fault::Proxy;
use libchan_conformance::Harness;
use libchan_core::Codec;
use libchan_transport_tls::{connect, Config, Listener, TlsSession};
use support::{Pki, UnixRelays};

/// TLS over TCP, with client certificates.
struct TlsOverTcp {
    codec: Arc<dyn Codec>,
    pki: Pki,
    proxies: Mutex<Vec<Proxy>>,
}

#[async_trait]
impl Harness for TlsOverTcp {
    type Session = TlsSession;

    async fn pair(&self) -> (TlsSession, TlsSession) {
        let config = Config::with_codecs(vec![self.codec.clone()]);
        let listener = Listener::bind("127.0.0.1:0", self.pki.server.clone(), config.clone())
            .await
            .expect("bind");
        let proxy = Proxy::start(listener.local_addr().expect("addr"))
            .await
            .expect("proxy");
        let (dialer, accepted) = tokio::join!(
            connect(proxy.addr(), "localhost", &self.pki.client, config),
            listener.accept()
        );
        self.proxies.lock().expect("lock").push(proxy);
        (dialer.expect("connect"), accepted.expect("accept").0)
    }

    async fn sever(&self, _dialer: &TlsSession, _acceptor: &TlsSession) {
        for proxy in self.proxies.lock().expect("lock").iter() {
            proxy.sever();
        }
    }

    fn max_message_size(&self) -> Option<usize> {
        Some(libchan_mux::config::DEFAULT_MAX_FRAME_SIZE as usize)
    }
}

fn tcp(codec: impl Codec) -> TlsOverTcp {
    TlsOverTcp {
        codec: Arc::new(codec),
        pki: Pki::new(true),
        proxies: Mutex::new(Vec::new()),
    }
}

/// TLS over a unix socket (`connect_over` / `accept_over`).
struct TlsOverUnix {
    codec: Arc<dyn Codec>,
    pki: Pki,
    relays: UnixRelays,
}

#[async_trait]
impl Harness for TlsOverUnix {
    type Session = TlsSession;

    async fn pair(&self) -> (TlsSession, TlsSession) {
        let config = Config::with_codecs(vec![self.codec.clone()]);
        support::unix_pair(&self.relays, &self.pki, config).await
    }

    async fn sever(&self, _dialer: &TlsSession, _acceptor: &TlsSession) {
        self.relays.sever();
    }

    fn max_message_size(&self) -> Option<usize> {
        Some(libchan_mux::config::DEFAULT_MAX_FRAME_SIZE as usize)
    }
}

fn unix(codec: impl Codec) -> TlsOverUnix {
    TlsOverUnix {
        codec: Arc::new(codec),
        pki: Pki::new(false),
        relays: UnixRelays::default(),
    }
}

libchan_conformance::transport_suite!(tcp_json, tcp(Json));
libchan_conformance::transport_suite!(tcp_msgpack, tcp(Msgpack));
libchan_conformance::transport_suite!(tcp_xml, tcp(Xml));
libchan_codec_protobuf::protobuf_suite!(tcp_protobuf, tcp(libchan_codec_protobuf::Protobuf));

libchan_conformance::transport_suite!(unix_json, unix(Json));
libchan_conformance::transport_suite!(unix_msgpack, unix(Msgpack));
libchan_codec_protobuf::protobuf_suite!(unix_protobuf, unix(libchan_codec_protobuf::Protobuf));
