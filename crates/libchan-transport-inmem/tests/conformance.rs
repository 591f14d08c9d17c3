//! The transport conformance suite, run against the in-memory pair.

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
        libchan_core::Session::abort(dialer, "the test severed the pair");
    }
}

libchan_conformance::transport_suite!(Inmem);

// The same promises with prost-generated messages and their handles, which
// move as they are in memory.
libchan_codec_protobuf::protobuf_suite!(protobuf, Inmem);
