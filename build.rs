//! Compiles the protobuf contracts in `proto/` into Rust (prost). The `.proto` files are parsed
//! by protox, a Rust protobuf compiler, so building needs no system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let files = protox::compile(["amtsbote/v1/envelope.proto"], ["proto"])?;
    prost_build::Config::new().compile_fds(files)?;
    Ok(())
}
