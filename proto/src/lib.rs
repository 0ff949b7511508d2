//! The `dffmpeg.v1` gRPC contract between the coordinator and its nodes.
//!
//! Only generated code lives here; conversions and validation belong to the
//! crates that own the concepts (`node::spec`, `cli::remote`).

#![allow(missing_docs, unreachable_pub, clippy::all)]

/// Generated from `proto/dffmpeg/v1/node.proto`.
pub mod v1 {
    tonic::include_proto!("dffmpeg.v1");
}

/// Size of one data message in an encode stream, in both directions.
pub const PIECE_SIZE: usize = 1 << 20;
