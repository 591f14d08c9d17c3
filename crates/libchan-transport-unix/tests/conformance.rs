//! The transport conformance suite over unix stream sockets, once per
//! codec. `sever` shuts the socket down under both sessions, as a crashed
//! peer would leave it.

use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use libchan_codec_json::Json;
use libchan_codec_msgpack::Msgpack;
use libchan_conformance::Harness;
use libchan_core::Codec;
use libchan_mux::Role;
use libchan_transport_unix::{from_std, Config, UnixSession};

struct Unix {
    codec: Arc<dyn Codec>,
    /// A duplicate of every pair's sockets, to cut them.
    cuts: Mutex<Vec<UnixStream>>,
}

#[async_trait]
impl Harness for Unix {
    type Session = UnixSession;

    async fn pair(&self) -> (UnixSession, UnixSession) {
        let config = Config::with_codecs(vec![self.codec.clone()]);
        let (a, b) = UnixStream::pair().expect("socketpair");
        self.cuts
            .lock()
            .expect("lock")
            .push(a.try_clone().expect("dup"));
        let dialer = from_std(a, Role::Dialer, config.clone()).expect("dialer");
        let acceptor = from_std(b, Role::Acceptor, config).expect("acceptor");
        (dialer, acceptor)
    }

    async fn sever(&self, _dialer: &UnixSession, _acceptor: &UnixSession) {
        for s in self.cuts.lock().expect("lock").drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    fn max_message_size(&self) -> Option<usize> {
        Some(libchan_mux::config::DEFAULT_MAX_FRAME_SIZE as usize)
    }
}

fn harness(codec: impl Codec) -> Unix {
    Unix {
        codec: Arc::new(codec),
        cuts: Mutex::new(Vec::new()),
    }
}

libchan_conformance::transport_suite!(json, harness(Json));
libchan_conformance::transport_suite!(msgpack, harness(Msgpack));
libchan_codec_protobuf::protobuf_suite!(protobuf, harness(libchan_codec_protobuf::Protobuf));
