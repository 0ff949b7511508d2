//! The scheduling policy interface of dffmpeg, ABI 1.
//!
//! A policy decides where chunk boundaries fall and which node encodes which
//! chunk. The types here are what the host hands a policy and what it gets
//! back; they are plain serde data so that the same policy can run natively
//! or, later, as a WebAssembly module exchanging JSON. Unknown fields are
//! ignored and missing ones take defaults, so the ABI can grow.

#![warn(missing_docs)]

mod types;

pub use types::*;

/// A scheduling policy.
///
/// The host keeps what a policy cannot break: slot accounting, the retry cap,
/// boundary validation and the end-to-end frame check. A policy only proposes.
pub trait Policy {
    /// Splits the job into chunks: returns the first frame of every chunk.
    fn plan_chunks(&mut self, request: &PlanRequest) -> Result<ChunkPlan, PolicyError>;

    /// Hands pending chunks to nodes with free slots. Chunks left out stay
    /// pending until the next call.
    fn assign(&mut self, request: &AssignRequest) -> Result<Vec<Assignment>, PolicyError>;
}
