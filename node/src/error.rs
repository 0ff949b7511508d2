//! The node's errors and their one mapping to gRPC status codes.

use crate::spec::SpecError;

/// Why a chunk failed on this node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The spec was refused before anything ran.
    #[error("refused encode spec: {0}")]
    Spec(#[from] SpecError),
    /// The client broke the stream protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// ffmpeg exited with an error.
    #[error("ffmpeg failed ({status}): {stderr_tail}")]
    FfmpegFailed {
        /// How ffmpeg exited.
        status: String,
        /// The end of ffmpeg's stderr.
        stderr_tail: String,
    },
    /// The encode ran but did not keep the frames it was asked for.
    #[error("kept {kept} frames, expected {expected}")]
    FrameMismatch {
        /// Frames the trim kept.
        kept: u64,
        /// Frames the spec asked for.
        expected: u64,
    },
    /// The chunk's decoder complained (`decode_damage`): the source is
    /// damaged there, and a chunk's decode of it may differ from ffmpeg
    /// alone's. No other node would do better.
    #[error("the source's video does not decode cleanly in this chunk: {line}")]
    DecodeDamage {
        /// The first line of ffmpeg's log that says so.
        line: String,
    },
    /// Local I/O failed (disk full, permissions...).
    #[error("{context}: {source}")]
    Io {
        /// What the node was doing.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The node is shutting down.
    #[error("node is shutting down")]
    ShuttingDown,
    /// The request breaks one of the node's limits.
    #[error("{0}")]
    Limit(String),
}

impl NodeError {
    /// Wraps an I/O error with what the node was doing.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { context: context.into(), source }
    }
}

impl From<NodeError> for tonic::Status {
    fn from(error: NodeError) -> Self {
        let message = error.to_string();
        match error {
            NodeError::Spec(_) | NodeError::Protocol(_) => tonic::Status::invalid_argument(message),
            NodeError::FfmpegFailed { .. } | NodeError::FrameMismatch { .. } => {
                tonic::Status::aborted(message)
            }
            NodeError::DecodeDamage { .. } => tonic::Status::data_loss(message),
            NodeError::Io { .. } => tonic::Status::internal(message),
            NodeError::ShuttingDown => tonic::Status::unavailable(message),
            NodeError::Limit(_) => tonic::Status::resource_exhausted(message),
        }
    }
}
