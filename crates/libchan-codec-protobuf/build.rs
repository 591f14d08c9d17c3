//! Generates the Rust code of this crate's own `.proto` files, with the
//! crate's build helper (`src/build.rs`), exactly as a user's build.rs would:
//!
//! * feature `conformance`: `src/conformance/conformance.proto`, for the
//!   `conformance` module (handles reached as `crate::…`);
//! * feature `build`: the example's `examples/protobuf_request_response.proto`
//!   (handles reached as `::libchan_codec_protobuf::…`), when the workspace
//!   is there (it is not in a published crate).
//!
//! Without these features (a runtime user's build) it does nothing.

#[cfg(feature = "build")]
#[allow(dead_code)]
#[path = "src/build.rs"]
mod build;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/build.rs");
    println!("cargo:rerun-if-changed=proto/libchan.proto");
    #[cfg(feature = "build")]
    generate()?;
    Ok(())
}

#[cfg(feature = "build")]
fn generate() -> Result<(), Box<dyn std::error::Error>> {
    use std::path::{Path, PathBuf};

    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    let into = |dir: &str| -> Result<prost_build::Config, std::io::Error> {
        let dir = out.join(dir);
        std::fs::create_dir_all(&dir)?;
        let mut config = prost_build::Config::new();
        config.out_dir(dir);
        Ok(config)
    };

    if std::env::var_os("CARGO_FEATURE_CONFORMANCE").is_some() {
        build::Builder::with_config(into("conformance")?)
            .handles_path("crate")
            .compile(&["src/conformance/conformance.proto"], &["src/conformance"])?;
    }

    let example = Path::new("../../examples/protobuf_request_response.proto");
    if example.exists() {
        build::Builder::with_config(into("examples")?)
            .compile(&[example], &[Path::new("../../examples")])?;
    }
    Ok(())
}
