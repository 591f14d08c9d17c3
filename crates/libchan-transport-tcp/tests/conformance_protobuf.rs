//! The protobuf conformance suite (prost-generated messages, from
//! `libchan-codec-protobuf`) over real TCP on loopback. Each pair connects
//! through a fault-injecting proxy, so `sever` cuts a real connection.

use std::sync::Mutex;

use async_trait::async_trait;
use libchan_codec_protobuf::Protobuf;
use libchan_conformance::fault::Proxy;
use libchan_conformance::Harness;
use libchan_transport_tcp::{connect, Config, Listener, TcpSession};

#[derive(Default)]
struct Tcp {
    proxies: Mutex<Vec<Proxy>>,
}

#[async_trait]
impl Harness for Tcp {
    type Session = TcpSession;

    async fn pair(&self) -> (TcpSession, TcpSession) {
        let listener = Listener::bind("127.0.0.1:0", Config::new(Protobuf))
            .await
            .expect("bind");
        let proxy = Proxy::start(listener.local_addr().expect("addr"))
            .await
            .expect("proxy");
        let (dialer, accepted) = tokio::join!(
            connect(proxy.addr(), Config::new(Protobuf)),
            listener.accept()
        );
        self.proxies.lock().expect("lock").push(proxy);
        (dialer.expect("connect"), accepted.expect("accept").0)
    }

    async fn sever(&self, _dialer: &TcpSession, _acceptor: &TcpSession) {
        for proxy in self.proxies.lock().expect("lock").iter() {
            proxy.sever();
        }
    }
}

libchan_codec_protobuf::protobuf_suite!(protobuf, Tcp::default());
