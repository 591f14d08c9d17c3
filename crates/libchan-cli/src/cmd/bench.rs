//! `libchan bench`.

use clap::Args;

use super::Failure;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// A short run.
    #[arg(long)]
    quick: bool,
}

pub async fn run(_args: BenchArgs) -> Result<u8, Failure> {
    Ok(0)
}
