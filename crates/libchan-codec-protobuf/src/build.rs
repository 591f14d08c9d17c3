//! Compiling `.proto` files in a `build.rs`, with no system `protoc`
//! (feature `build`).
//!
//! The `.proto` files are compiled by [`protox`], a protobuf compiler
//! written in Rust, into a `FileDescriptorSet`, which `prost-build` turns
//! into Rust code ([`prost_build::Config::compile_fds`]). `libchan.proto`
//! is built in, so `import "libchan.proto";` resolves without a copy of the
//! file, and its three messages map to the live handles
//! ([`SenderRef`](crate::SenderRef), [`ReceiverRef`](crate::ReceiverRef),
//! [`ByteStreamRef`](crate::ByteStreamRef)) through `extern_path`.
//!
//! ```no_run
//! // build.rs
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     libchan_codec_protobuf::build::compile(&["proto/app.proto"], &["proto"])?;
//!     Ok(())
//! }
//! ```
//!
//! [`Builder`] takes a `prost_build::Config` of your own (for attributes,
//! an output directory, ...) and the Rust path the handles are reached by.

use std::fmt;
use std::path::{Path, PathBuf};

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{FieldDescriptorProto, FileDescriptorSet};
use protox::file::IncludeFileResolver;
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};

/// The name `libchan.proto` is imported by.
pub const LIBCHAN_PROTO_NAME: &str = "libchan.proto";

/// The Rust path of this crate, where the handles live, as generated code
/// names it.
pub const DEFAULT_HANDLES_PATH: &str = "::libchan_codec_protobuf";

const LIBCHAN_PROTO: &str = include_str!("../proto/libchan.proto");

/// The reference messages of `libchan.proto` and the handle type each maps to.
const HANDLES: [(&str, &str); 3] = [
    ("Sender", "SenderRef"),
    ("Receiver", "ReceiverRef"),
    ("ByteStream", "ByteStreamRef"),
];

/// Compiles `protos` (found in `includes`) and writes the Rust code to
/// `OUT_DIR`, one file per protobuf package (`app.proto` with `package app;`
/// becomes `$OUT_DIR/app.rs`). Prints `cargo:rerun-if-changed` for every
/// file read, so the build script reruns when one changes.
///
/// Include the code with
/// `pub mod app { include!(concat!(env!("OUT_DIR"), "/app.rs")); }`.
pub fn compile(protos: &[impl AsRef<Path>], includes: &[impl AsRef<Path>]) -> Result<(), Error> {
    Builder::new().compile(protos, includes)
}

/// Compiles `protos` into a `FileDescriptorSet` (imports included), with
/// `libchan.proto` importable. The `libchan.*` messages carry a marker
/// field that is never on the wire, so that `prost-build` does not derive
/// `Copy` for messages holding a handle; hand the set to
/// [`prost_build::Config::compile_fds`] together with
/// [`Builder::extern_paths`].
pub fn file_descriptor_set(
    protos: &[impl AsRef<Path>],
    includes: &[impl AsRef<Path>],
) -> Result<FileDescriptorSet, Error> {
    descriptors(protos, includes).map(|(fds, _)| fds)
}

/// A configured compile: your `prost_build::Config`, and the Rust path of
/// the handles.
pub struct Builder {
    config: prost_build::Config,
    handles: String,
}

impl Builder {
    /// Default `prost_build::Config`, handles at [`DEFAULT_HANDLES_PATH`].
    pub fn new() -> Self {
        Builder::with_config(prost_build::Config::new())
    }

    /// Starts from your own `prost_build::Config`.
    pub fn with_config(config: prost_build::Config) -> Self {
        Builder {
            config,
            handles: DEFAULT_HANDLES_PATH.to_owned(),
        }
    }

    /// Where generated code finds `SenderRef` and the other handles: for
    /// example `"::libchan::codec::protobuf"` through the `libchan` facade,
    /// or `"crate"` inside this crate.
    pub fn handles_path(mut self, path: impl Into<String>) -> Self {
        self.handles = path.into();
        self
    }

    /// Adds the `extern_path` of each `libchan.*` message to `config`,
    /// mapping it to its handle under `handles` (a Rust path).
    pub fn extern_paths<'c>(
        config: &'c mut prost_build::Config,
        handles: &str,
    ) -> &'c mut prost_build::Config {
        for (message, handle) in HANDLES {
            config.extern_path(
                format!(".libchan.{message}"),
                format!("{handles}::{handle}"),
            );
        }
        config
    }

    /// Compiles `protos` as [`compile`] does, with this configuration.
    pub fn compile(
        mut self,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> Result<(), Error> {
        let (fds, read) = descriptors(protos, includes)?;
        for path in read {
            println!("cargo:rerun-if-changed={}", path.display());
        }
        Builder::extern_paths(&mut self.config, &self.handles);
        self.config.compile_fds(fds).map_err(Error::Generate)
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("handles", &self.handles)
            .finish_non_exhaustive()
    }
}

/// Why compiling `.proto` files failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A `.proto` file could not be found, read or compiled (protox's
    /// message names the file and position).
    Compile(Box<protox::Error>),
    /// Generating or writing the Rust code failed (prost-build).
    Generate(std::io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Compile(e) => match location(e) {
                Some(at) => write!(f, "compiling .proto files: {at}: {e}"),
                None => match e.file() {
                    Some(file) => write!(f, "compiling .proto files: {file}: {e}"),
                    None => write!(f, "compiling .proto files: {e}"),
                },
            },
            Error::Generate(e) => write!(f, "generating Rust code from .proto files: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Compile(e) => Some(&**e),
            Error::Generate(e) => Some(e),
        }
    }
}

/// `file:line:column` of the first place protox points at, if it does.
fn location(err: &protox::Error) -> Option<String> {
    use miette::Diagnostic;
    let label = err.labels()?.next()?;
    let span = err.source_code()?.read_span(label.inner(), 0, 0).ok()?;
    let file = span.name().or_else(|| err.file())?;
    Some(format!("{file}:{}:{}", span.line() + 1, span.column() + 1))
}

/// Compiles with protox; returns the descriptors and the files read from disk.
fn descriptors(
    protos: &[impl AsRef<Path>],
    includes: &[impl AsRef<Path>],
) -> Result<(FileDescriptorSet, Vec<PathBuf>), Error> {
    let compile = |e| Error::Compile(Box::new(e));
    let mut resolver = ChainFileResolver::new();
    // First, so that the handles always map to the messages they implement,
    // even if an include directory has a copy of libchan.proto.
    resolver.add(Builtin);
    for include in includes {
        resolver.add(IncludeFileResolver::new(include.as_ref().to_owned()));
    }
    resolver.add(GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(true).include_source_info(true);
    for proto in protos {
        compiler.open_file(proto).map_err(compile)?;
    }
    let read = compiler
        .files()
        .filter_map(|f| f.path().map(Path::to_owned))
        .collect();
    let mut fds = compiler.file_descriptor_set();
    mark_handles(&mut fds);
    Ok((fds, read))
}

/// `libchan.proto`, from this crate.
struct Builtin;

impl FileResolver for Builtin {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        if name == LIBCHAN_PROTO_NAME {
            File::from_source(name, LIBCHAN_PROTO)
        } else {
            Err(protox::Error::file_not_found(name))
        }
    }
}

/// prost-build derives `Copy` for a message whose fields are all scalars or
/// `Copy` messages, and `libchan.Sender` (one `uint64`) looks like one; but
/// a message holding a live handle cannot be `Copy`. A repeated field makes
/// a message non-`Copy` for prost-build (and changes nothing else: `Eq` and
/// `Hash` are still derived, which the handles implement by identity). The
/// marker exists only in the descriptors handed to prost-build, which
/// generates no code for these messages: the handles implement their
/// encoding by hand.
fn mark_handles(fds: &mut FileDescriptorSet) {
    let builtin = fds
        .file
        .iter_mut()
        .filter(|f| f.name() == LIBCHAN_PROTO_NAME && f.package() == "libchan");
    for file in builtin {
        let messages = file
            .message_type
            .iter_mut()
            .filter(|m| HANDLES.iter().any(|(name, _)| m.name() == *name));
        for message in messages {
            message.field.push(FieldDescriptorProto {
                name: Some("live_handle_marker".into()),
                json_name: Some("liveHandleMarker".into()),
                number: Some(2),
                label: Some(Label::Repeated as i32),
                r#type: Some(Type::Uint64 as i32),
                ..FieldDescriptorProto::default()
            });
        }
    }
}
