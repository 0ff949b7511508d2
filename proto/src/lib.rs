//! The `dffmpeg.v1` gRPC contract between the coordinator and its nodes.
//!
//! Only generated code lives here; conversions and validation belong to the
//! crates that own the concepts (`node::spec`, `cli::remote`).

#![allow(missing_docs, unreachable_pub, clippy::all)]

/// Generated from `proto/dffmpeg/v1/node.proto`.
pub mod v1 {
    tonic::include_proto!("dffmpeg.v1");
}

/// The type of chunk data in messages (prost's `bytes` as `Bytes`): a
/// received piece shares the receive buffer instead of being copied out.
pub use prost::bytes::Bytes;

/// Size of one data message in an encode stream, in both directions.
pub const PIECE_SIZE: usize = 1 << 20;

/// HTTP/2 receive window of one stream, on both sides: room for several
/// pieces in flight. hyper's defaults (1 MiB at the server, 2 MiB at the
/// client) are one or two pieces, so a sender stalls on every window update
/// (about 120 MB/s on loopback; `cli/benches/transfer.rs`).
pub const STREAM_WINDOW: u32 = 16 << 20;

/// HTTP/2 receive window of a whole connection: two streams' worth.
pub const CONNECTION_WINDOW: u32 = 2 * STREAM_WINDOW;

/// The largest HTTP/2 frame either side accepts: a quarter of a piece, so a
/// piece is four frames rather than 64 of the default 16 KiB.
pub const MAX_FRAME: u32 = (PIECE_SIZE / 4) as u32;
