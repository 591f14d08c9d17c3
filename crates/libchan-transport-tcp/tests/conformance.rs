//! The transport conformance suite over real TCP on loopback, once per
//! codec. Each pair connects through a fault-injecting proxy, so `sever`
//! cuts a real connection mid-session.

use std::sync::Mutex;
use std::time::Duration;

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
    /// Latency the proxy adds in each direction.
    delay: Duration,
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
        let proxy = Proxy::start_with_delay(listener.local_addr().expect("addr"), self.delay)
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

    fn max_message_size(&self) -> Option<usize> {
        Some(libchan_mux::config::DEFAULT_MAX_FRAME_SIZE as usize)
    }
}

fn harness(codec: impl Codec) -> Tcp {
    Tcp {
        codec: Arc::new(codec),
        delay: Duration::ZERO,
        proxies: Mutex::new(Vec::new()),
    }
}

/// A link with 20 ms of latency each way: the peer's HELLO arrives long
/// after the first frames were sent.
fn slow_link(codec: impl Codec) -> Tcp {
    Tcp {
        delay: Duration::from_millis(20),
        ..harness(codec)
    }
}

/// A link with half a second of latency each way: even a multi-megabyte
/// message, slow to encode in a debug build, is sent before the peer's
/// HELLO arrives.
fn very_slow_link(codec: impl Codec) -> Tcp {
    Tcp {
        delay: Duration::from_millis(500),
        ..harness(codec)
    }
}

libchan_conformance::transport_suite!(json, harness(Json));
libchan_conformance::transport_suite!(msgpack, harness(Msgpack));
libchan_conformance::transport_suite!(xml, harness(Xml));

// The cases where the handshake's timing matters, over a slow link.
libchan_conformance::transport_cases!(slow_link, slow_link(Json);
    nested_receiver_delivers_without_other_traffic,
    graceful_close_delivers_everything_sent_both_ways,
    requests_sent_before_close_reach_a_late_accept,
    dropped_receiver_is_seen_by_an_idle_sender,
    dropping_every_handle_closes_an_idle_session,
    sender_abort_reaches_the_receiver_with_its_reason,
    session_abort_reaches_the_peer_as_an_abort,
);
libchan_conformance::transport_cases!(very_slow_link, very_slow_link(Msgpack);
    oversize_message_is_a_limit_error_before_and_after_the_handshake,
);

// Protobuf users write prost-generated messages, not serde types: the same
// promises, checked with the protobuf crate's cases.
libchan_codec_protobuf::protobuf_suite!(protobuf, harness(libchan_codec_protobuf::Protobuf));
