//! The gateway with a real redis-server: RESP from real clients through
//! `libchan forward` → `libchan gateway` → redis, 50 connections at once.
//!
//! redis-server must be installed (`.ci/run` installs Debian's package when
//! it is missing); without it these tests fail, they do not skip.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::thread;

use support::resp::{wait_for_ping, Client, Reply};
use support::{free_port, libchan, Running, PATIENCE};

/// Connections at once, and commands each.
const CLIENTS: usize = 50;
const ROUNDS: usize = 100;

/// A redis-server of our own on a free loopback port, nothing persisted.
fn redis() -> (Running, String) {
    let version = Command::new("redis-server").arg("--version").output();
    assert!(
        version.is_ok_and(|o| o.status.success()),
        "redis-server is not installed; .ci/run installs it (apt-get install redis-server)"
    );
    let port = free_port();
    let mut cmd = Command::new("redis-server");
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let server = Running::start("redis-server", cmd);
    let addr = format!("127.0.0.1:{port}");
    assert!(
        wait_for_ping(&addr, PATIENCE),
        "redis-server did not answer PING"
    );
    (server, addr)
}

fn gateway(backends: &[String]) -> (Running, String) {
    let mut cmd = libchan();
    cmd.args(["gateway", "--listen", "127.0.0.1:0"]);
    for b in backends {
        cmd.args(["--backend", b]);
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::null());
    let g = Running::start("gateway", cmd);
    let addr = g.listening_addr();
    (g, addr)
}

fn forward(gateway: &str, backend: &str) -> (Running, String) {
    let mut cmd = libchan();
    cmd.args([
        "forward",
        "--local",
        "127.0.0.1:0",
        "--to",
        gateway,
        "--backend",
        backend,
    ]);
    cmd.stdin(Stdio::null()).stdout(Stdio::null());
    let f = Running::start(&format!("forward {backend}"), cmd);
    let addr = f.listening_addr();
    (f, addr)
}

#[test]
fn redis_answers_fifty_connections_at_once_through_the_gateway() {
    let (_redis, direct) = redis();
    let (_gw, gw_addr) = gateway(&[format!("redis={direct}")]);
    let (_fwd, local) = forward(&gw_addr, "redis");

    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let local = local.clone();
            thread::spawn(move || {
                let mut r = Client::connect(&local).expect("connect to the forwarder");
                for i in 0..ROUNDS {
                    let key = format!("k:{c}:{i}");
                    let value = format!("value {c} {i} {}", "x".repeat(i * 10));
                    assert_eq!(
                        r.call(&[b"SET", key.as_bytes(), value.as_bytes()])
                            .expect("SET"),
                        Reply::Simple("OK".into())
                    );
                    assert_eq!(
                        r.call(&[b"GET", key.as_bytes()]).expect("GET"),
                        Reply::Bulk(Some(value.into_bytes()))
                    );
                    assert!(matches!(
                        r.call(&[b"INCR", b"gateway:total"]).expect("INCR"),
                        Reply::Integer(_)
                    ));
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("a client failed");
    }
    // Every command reached the real redis: ask it directly.
    let mut r = Client::connect(&direct).expect("connect to redis");
    assert_eq!(
        r.call(&[b"GET", b"gateway:total"]).expect("GET"),
        Reply::Bulk(Some((CLIENTS * ROUNDS).to_string().into_bytes()))
    );
    assert_eq!(
        r.call(&[b"GET", b"k:49:99"]).expect("GET"),
        Reply::Bulk(Some(
            format!("value 49 99 {}", "x".repeat(990)).into_bytes()
        ))
    );
}

/// True once the connection is closed by the other side (EOF or reset).
fn closed_by_peer(addr: &str) -> bool {
    let mut s = TcpStream::connect(addr).expect("the forwarder accepts");
    s.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let _ = s.write_all(b"*1\r\n$4\r\nPING\r\n");
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf), Ok(0) | Err(_))
}

#[test]
fn unknown_refused_and_dropped_connections_fail_alone_and_the_gateway_carries_on() {
    let (_redis, direct) = redis();
    let dead = format!("127.0.0.1:{}", free_port());
    let (mut gw, gw_addr) = gateway(&[format!("redis={direct}"), format!("dead={dead}")]);
    let (_fwd, local) = forward(&gw_addr, "redis");
    let (_fwd_unknown, unknown) = forward(&gw_addr, "no-such-backend");
    let (_fwd_dead, refused) = forward(&gw_addr, "dead");

    // A connection that stays open across the failures below.
    let mut steady = Client::connect(&local).expect("connect");
    assert_eq!(
        steady.call(&[b"PING"]).expect("PING"),
        Reply::Simple("PONG".into())
    );

    assert!(
        closed_by_peer(&unknown),
        "an unknown backend closes the connection"
    );
    assert!(
        closed_by_peer(&refused),
        "a refused backend closes the connection"
    );

    // A client that goes away in the middle of a command.
    {
        let mut s = TcpStream::connect(&local).expect("connect");
        s.write_all(b"*3\r\n$3\r\nSET\r\n$4\r\nhalf")
            .expect("write");
    }

    // The steady connection, a fresh one, and the gateway are all fine.
    assert_eq!(
        steady.call(&[b"SET", b"after", b"1"]).expect("SET"),
        Reply::Simple("OK".into())
    );
    let mut fresh = Client::connect(&local).expect("connect");
    assert_eq!(
        fresh.call(&[b"GET", b"after"]).expect("GET"),
        Reply::Bulk(Some(b"1".to_vec()))
    );
    assert!(
        gw.child.try_wait().expect("try_wait").is_none(),
        "the gateway is still running"
    );
    gw.line_with("unknown backend \"no-such-backend\"");
}

#[test]
fn the_forwarder_reports_why_a_connection_was_not_forwarded() {
    let (_redis, direct) = redis();
    let (_gw, gw_addr) = gateway(&[format!("redis={direct}")]);
    let (fwd, unknown) = forward(&gw_addr, "nope");
    assert!(closed_by_peer(&unknown));
    let line = fwd.line_with("not forwarded");
    assert!(line.contains("unknown backend \"nope\""), "{line}");
    assert!(
        line.contains("redis"),
        "names the backends there are: {line}"
    );
}
