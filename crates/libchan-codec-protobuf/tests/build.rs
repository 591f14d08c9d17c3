//! The build helper (feature `build`): protox compiles, prost-build
//! generates, `libchan.proto` is built in, and the handles are extern types.

use std::fs;
use std::path::{Path, PathBuf};

use libchan_codec_protobuf::build::{self, Builder, Error};

/// A fresh directory with `app.proto` holding `source`.
fn project(name: &str, source: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("build-{name}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("out")).expect("create the test directory");
    fs::write(dir.join("app.proto"), source).expect("write app.proto");
    dir
}

fn generate(
    dir: &Path,
    builder: impl FnOnce(prost_build::Config) -> Builder,
) -> Result<String, Error> {
    let mut config = prost_build::Config::new();
    config.out_dir(dir.join("out"));
    builder(config).compile(&[dir.join("app.proto")], &[dir])?;
    Ok(fs::read_to_string(dir.join("out/app.rs")).expect("app.rs is generated"))
}

const APP: &str = r#"
syntax = "proto3";
package app;
import "libchan.proto";

message Carry { libchan.Sender tx = 1; }
message Feed { libchan.Receiver rx = 1; uint32 n = 2; }
message Attach { libchan.ByteStream data = 1; }
message Plain { uint32 n = 1; }
"#;

#[test]
fn libchan_types_become_the_handles() {
    let dir = project("handles", APP);
    let code = generate(&dir, Builder::with_config).expect("compiles");
    assert!(
        code.contains("::core::option::Option<::libchan_codec_protobuf::SenderRef>"),
        "{code}"
    );
    assert!(
        code.contains("::core::option::Option<::libchan_codec_protobuf::ReceiverRef>"),
        "{code}"
    );
    assert!(
        code.contains("::core::option::Option<::libchan_codec_protobuf::ByteStreamRef>"),
        "{code}"
    );
    assert!(
        !dir.join("out/libchan.rs").exists(),
        "no code is generated for libchan.proto itself"
    );
}

#[test]
fn messages_holding_a_handle_are_not_copy() {
    let dir = project("copy", APP);
    let code = generate(&dir, Builder::with_config).expect("compiles");
    let derive_of = |message: &str| {
        let at = code
            .find(&format!("pub struct {message} "))
            .expect("the struct is generated");
        let derive = code[..at].rfind("#[derive(").expect("a derive");
        code[derive..at].to_owned()
    };
    for message in ["Carry", "Feed", "Attach"] {
        assert!(
            !derive_of(message).contains("Copy"),
            "{message} holds a live handle: {code}"
        );
    }
    assert!(
        derive_of("Plain").contains("Copy"),
        "plain messages keep prost's derives"
    );
}

#[test]
fn the_handles_path_is_configurable() {
    let dir = project("path", APP);
    let code = generate(&dir, |config| {
        Builder::with_config(config).handles_path("::libchan::codec::protobuf")
    })
    .expect("compiles");
    assert!(
        code.contains("::libchan::codec::protobuf::SenderRef"),
        "{code}"
    );
}

#[test]
fn the_descriptor_set_includes_libchan_proto() {
    let dir = project("fds", APP);
    let fds = build::file_descriptor_set(&[dir.join("app.proto")], &[&dir]).expect("compiles");
    let names: Vec<&str> = fds.file.iter().map(|f| f.name()).collect();
    assert_eq!(names, ["libchan.proto", "app.proto"]);
}

#[test]
fn errors_name_the_file() {
    let dir = project("missing", APP);
    let err =
        build::file_descriptor_set(&[dir.join("nope.proto")], &[&dir]).expect_err("no such file");
    assert!(matches!(err, Error::Compile(_)), "{err:?}");
    assert!(err.to_string().contains("nope.proto"), "{err}");

    let dir = project(
        "syntax",
        "syntax = \"proto3\";\nmessage Broken {\n  uint32 = 1;\n}\n",
    );
    let err =
        build::file_descriptor_set(&[dir.join("app.proto")], &[&dir]).expect_err("a syntax error");
    assert!(
        err.to_string().contains("app.proto:3:10"),
        "file, line and column: {err}"
    );

    let dir = project("import", "syntax = \"proto3\";\nimport \"other.proto\";\n");
    let err = build::file_descriptor_set(&[dir.join("app.proto")], &[&dir])
        .expect_err("an unknown import");
    assert!(err.to_string().contains("app.proto:2:1"), "where: {err}");
    assert!(err.to_string().contains("other.proto"), "what: {err}");
}
