//! The protobuf conformance suite (prost-generated messages, from
//! `libchan-codec-protobuf`) over the in-memory pair, where nothing is
//! encoded and the handles in messages move as they are.

use async_trait::async_trait;
use libchan_conformance::Harness;
use libchan_transport_inmem::InmemSession;

struct Inmem;

#[async_trait]
impl Harness for Inmem {
    type Session = InmemSession;

    async fn pair(&self) -> (InmemSession, InmemSession) {
        libchan_transport_inmem::pair()
    }

    async fn sever(&self, dialer: &InmemSession, _acceptor: &InmemSession) {
        dialer.abort();
    }
}

libchan_codec_protobuf::protobuf_suite!(protobuf, Inmem);
