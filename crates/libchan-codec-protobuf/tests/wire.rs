//! The protobuf codec on a real TCP connection, seen from the wire.
//!
//! * The crate docs' worked example, "how another language's protobuf user
//!   talks to a libchan service", played by a raw socket against a real
//!   libchan service: the raw side writes exactly the hex of the docs and
//!   reads the answer frame by frame, as another language's implementation
//!   would, without any libchan code.
//! * Negotiation with a peer that speaks no protobuf, and a message that
//!   does not decode as the receiver's type.

use libchan_codec_protobuf::conformance::types::{Request, Text};
use libchan_codec_protobuf::{Proto, Protobuf};
use libchan_conformance::within;
use libchan_core::{Sender, SessionExt};
use libchan_transport_tcp::{Config, Listener};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Hex with spaces, newlines and `#` comments, as in the docs.
fn hex(text: &str) -> Vec<u8> {
    let digits: String = text
        .lines()
        .map(|line| line.split('#').next().unwrap_or(""))
        .flat_map(|line| line.split_whitespace())
        .collect();
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).expect("hex digits"))
        .collect()
}

/// What the raw dialer writes: the preface, its request channel, and the
/// request with its two nested streams (the docs' worked example).
const DIALER: &str = "
6c69626368616e00                          # magic
0000000e 00 00 0000000000000000           # HELLO, 14 bytes
0001 00 01 08 70726f746f627566 00         #   version 1, dialer, codecs [\"protobuf\"], no settings
00000001 01 01 0000000000000001  00       # OPEN stream 1, TOP_LEVEL, kind 0: the request channel
00000001 01 00 0000000000000003  01       # OPEN stream 3, nested, kind 1: the reply channel
00000001 01 00 0000000000000005  02       # OPEN stream 5, nested, kind 2: the byte stream
0000000c 02 00 0000000000000001           # DATA on stream 1, 12 bytes:
  0a 02 6869                              #   field 1 (query), length 2, \"hi\"
  12 02 08 03                             #   field 2 (reply): libchan.Sender { id: 3 }
  1a 02 08 05                             #   field 3 (data): libchan.ByteStream { id: 5 }
00000005 02 00 0000000000000005 68656c6c6f   # DATA on stream 5: \"hello\"
00000000 04 00 0000000000000005           # CLOSE stream 5 (our half)
";

/// The answer the service sends on stream 3: `Text { text: \"hi: 5 bytes\" }`.
const ANSWER: &str = "0a 0b 68693a2035206279746573";

struct Frame {
    kind: u8,
    stream: u64,
    payload: Vec<u8>,
}

async fn read_frame(socket: &mut TcpStream) -> Frame {
    let mut head = [0u8; 14];
    socket.read_exact(&mut head).await.expect("a frame head");
    let len = u32::from_be_bytes(head[0..4].try_into().expect("4 bytes"));
    assert!(len < 1 << 20, "a sane frame length");
    let mut payload = vec![0u8; len as usize];
    socket
        .read_exact(&mut payload)
        .await
        .expect("a frame payload");
    Frame {
        kind: head[4],
        stream: u64::from_be_bytes(head[6..14].try_into().expect("8 bytes")),
        payload,
    }
}

#[tokio::test]
async fn a_raw_protobuf_peer_follows_the_worked_example() {
    // The service: accepts requests, counts the bytes of each one's stream,
    // answers on its reply channel.
    let listener = Listener::bind("127.0.0.1:0", Config::new(Protobuf))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let service = tokio::spawn(async move {
        let (session, _) = listener.accept().await.expect("a session");
        let mut requests = session
            .accept::<Proto<Request>>()
            .await
            .expect("accept")
            .expect("a channel");
        let Proto(request) = requests.recv().await.expect("recv").expect("a request");
        let mut data = request.data.expect("data").into_stream().expect("a stream");
        let mut bytes = Vec::new();
        data.read_to_end(&mut bytes).await.expect("read the stream");
        let reply: Sender<Proto<Text>> =
            request.reply.expect("reply").into_sender().expect("typed");
        reply
            .send(Proto(Text {
                text: format!("{}: {} bytes", request.query, bytes.len()),
            }))
            .await
            .expect("answer");
        // Dropping the reply sender closes stream 3; keep the session until
        // the peer has read everything.
        drop(reply);
        let _ = requests.recv().await;
    });

    let mut socket = TcpStream::connect(addr).await.expect("connect");
    socket.write_all(&hex(DIALER)).await.expect("write");

    let answer = within("the answer on stream 3", async {
        let mut magic = [0u8; 8];
        socket.read_exact(&mut magic).await.expect("magic");
        assert_eq!(&magic, b"libchan\0");
        let hello = read_frame(&mut socket).await;
        assert_eq!(hello.kind, 0x00, "HELLO comes first");
        assert_eq!(
            &hello.payload[..3],
            [0x00, 0x01, 0x01],
            "version 1, acceptor"
        );
        let mut answer = None;
        loop {
            let frame = read_frame(&mut socket).await;
            match (frame.kind, frame.stream) {
                (0x02, 3) => answer = Some(frame.payload), // DATA on the reply channel
                (0x04, 3) => break answer.expect("DATA before CLOSE"), // CLOSE: done
                (0x05, _) | (0x07, _) => panic!("the service reset or went away"),
                _ => {} // CREDIT, PING, the byte stream's CLOSE
            }
        }
    })
    .await;
    assert_eq!(
        answer,
        hex(ANSWER),
        "one protobuf-encoded Text per DATA frame"
    );
    drop(socket);
    within("the service", service).await.expect("service task");
}

#[test]
fn the_docs_show_this_exchange() {
    // The crate docs' example is the same bytes as `DIALER`.
    let docs = include_str!("../src/lib.rs");
    let start = docs
        .find("client writes:")
        .expect("the worked example in the crate docs");
    let block: String = docs[start..]
        .lines()
        .skip_while(|line| !line.starts_with("//! ```text"))
        .skip(1)
        .take_while(|line| !line.starts_with("//! ```"))
        .map(|line| format!("{}\n", line.trim_start_matches("//!")))
        .collect();
    assert_eq!(
        hex(&block),
        hex(DIALER),
        "the docs show what this test sends"
    );
}

/// A codec that is not protobuf, offered by a peer that speaks no protobuf.
#[derive(Debug)]
struct JsonOnly;

impl libchan_core::Codec for JsonOnly {
    fn name(&self) -> &str {
        "json"
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[tokio::test]
async fn a_peer_without_protobuf_is_a_codec_mismatch() {
    let listener = Listener::bind("127.0.0.1:0", Config::new(JsonOnly))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (dialer, accepted) = tokio::join!(
        libchan_transport_tcp::connect(addr, Config::new(Protobuf)),
        listener.accept()
    );
    let err = within("the handshake", dialer.expect("connect").handshake())
        .await
        .expect_err("no codec in common");
    assert!(
        matches!(err, libchan_core::SessionError::CodecMismatch { ref local, ref remote }
            if local == &["protobuf"] && remote == &["json"]),
        "got {err:?}"
    );
    drop(accepted);
}

#[tokio::test]
async fn a_message_of_another_type_breaks_the_channel() {
    let listener = Listener::bind("127.0.0.1:0", Config::new(Protobuf))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (dialer, accepted) = tokio::join!(
        libchan_transport_tcp::connect(addr, Config::new(Protobuf)),
        listener.accept()
    );
    let (dialer, (acceptor, _)) = (dialer.expect("connect"), accepted.expect("accept"));
    let tx = dialer.open::<Proto<Text>>().expect("open");
    tx.send(Proto(Text {
        text: "not a number".into(),
    }))
    .await
    .expect("send");
    // The acceptor reads the channel as `Number` (field 1 a varint): the
    // length-delimited `text` does not decode, and the channel breaks.
    let mut rx = within(
        "accept",
        acceptor.accept::<Proto<libchan_codec_protobuf::conformance::types::Number>>(),
    )
    .await
    .expect("accept")
    .expect("a channel");
    let got = within("recv", rx.recv()).await;
    assert!(
        matches!(got, Err(libchan_core::ChannelError::Decode(_))),
        "a message that does not decode breaks the channel, got {got:?}"
    );
}
