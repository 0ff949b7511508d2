//! Compiles node.proto with protox, so that no system protoc is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(["dffmpeg/v1/node.proto"], ["proto"])?;
    // Chunk data as `Bytes`: a received piece is then a slice of the
    // receive buffer rather than a copy of it.
    tonic_prost_build::configure().bytes(".").compile_fds(fds)?;
    Ok(())
}
