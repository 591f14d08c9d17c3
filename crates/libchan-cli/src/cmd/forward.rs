//! `libchan gateway` and `libchan forward`: TCP carried over a session.

use clap::Args;
use libchan_cli::gateway::{Backends, Forwarder, Gateway};

use super::{announce, parse_backends, Failure, NetArgs};

#[derive(Debug, Args)]
pub struct GatewayArgs {
    /// Address to listen on for `libchan forward` sessions.
    #[arg(short, long, value_name = "ADDR")]
    listen: String,
    /// A backend clients may reach: NAME=HOST:PORT (repeatable, or
    /// comma-separated).
    #[arg(short, long, value_name = "NAME=HOST:PORT", required = true, value_parser = parse_backends)]
    backend: Vec<Backends>,
    #[command(flatten)]
    net: NetArgs,
}

pub async fn gateway(args: GatewayArgs) -> Result<u8, Failure> {
    let mut backends = Backends::new();
    for b in &args.backend {
        for name in b.names() {
            backends.add(name, b.get(name).expect("a listed name"));
        }
    }
    let listener = args.net.listen(&args.listen).await?;
    announce(args.net.transport, listener.as_ref(), "gateway");
    eprintln!("libchan: backends: {backends}");
    Gateway::new(backends).serve(listener.as_ref()).await?;
    Ok(0)
}

#[derive(Debug, Args)]
pub struct ForwardArgs {
    /// Local address to accept TCP connections on.
    #[arg(long, value_name = "ADDR")]
    local: String,
    /// The gateway: HOST:PORT, or a ws:// URL.
    #[arg(long, value_name = "GATEWAY")]
    to: String,
    /// The gateway's backend to reach.
    #[arg(short, long, value_name = "NAME")]
    backend: String,
    #[command(flatten)]
    net: NetArgs,
}

pub async fn forward(args: ForwardArgs) -> Result<u8, Failure> {
    let dialer = args.net.dialer(&args.to)?;
    let local = tokio::net::TcpListener::bind(&args.local)
        .await
        .map_err(|e| Failure::Failed(format!("cannot listen on {}: {e}", args.local)))?;
    let forwarder = Forwarder::redialling(dialer, args.backend.clone());
    eprintln!("libchan: forward listening on tcp {}", local.local_addr()?);
    eprintln!(
        "libchan: each connection goes to backend {} of the gateway at {}",
        args.backend, args.to
    );
    forwarder.run(local).await?;
    Ok(0)
}
