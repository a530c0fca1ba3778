//! Compiles `proto/identity/v1/*.proto` with protox (pure Rust, so no system
//! `protoc`), keeps the encoded descriptor set for server reflection and the
//! `descriptor` subcommand, and generates the tonic servers and clients; and encodes
//! the descriptors of Envoy's external authorization API for reflection.

use std::{env, fs, path::PathBuf};

const PROTO_FILES: [&str; 7] = [
    "proto/identity/v1/resources.proto",
    "proto/identity/v1/account.proto",
    "proto/identity/v1/token.proto",
    "proto/identity/v1/admin.proto",
    "proto/identity/v1/events.proto",
    // Not imported by ours, but the types of our error details (ErrorInfo, BadRequest,
    // RetryInfo…): a transcoding gateway needs them to turn a status into a JSON body.
    "proto/google/rpc/status.proto",
    "proto/google/rpc/error_details.proto",
];

/// `envoy.service.auth.v3.Authorization`, vendored with its imports under `proto/`.
const ENVOY_AUTHORIZATION_PROTO: &str = "proto/envoy/service/auth/v3/external_auth.proto";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");

    // Imports (google/protobuf/timestamp.proto, google/api/annotations.proto) stay
    // in the set: reflection clients and gateways need them to resolve our messages.
    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler
        .include_source_info(true)
        .include_imports(true)
        .open_files(PROTO_FILES)?;
    // Encoded by protox itself: a round trip through prost-types would drop the
    // `google.api.http` rules (extension options), which are what a transcoding
    // gateway reads.
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("identity_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(compiler.file_descriptor_set())?;

    // Envoy's external authorization, for reflection only: the `envoy-types` crate has
    // its Rust types but no descriptors. A set of its own, so `identity descriptor`
    // (what transcoding gateways read) stays identity.v1 alone.
    let mut envoy = protox::Compiler::new(["proto"])?;
    envoy
        .include_source_info(true)
        .include_imports(true)
        .open_files([ENVOY_AUTHORIZATION_PROTO])?;
    fs::write(
        out_dir.join("envoy_authorization_descriptor.bin"),
        envoy.encode_file_descriptor_set(),
    )?;
    Ok(())
}
