//! The serde types exchanged between the host and a policy.

use serde::{Deserialize, Serialize};

/// What a policy knows about the encode as a whole.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobInfo {
    /// Duration of the video that will be encoded, in seconds.
    pub duration_seconds: f64,
    /// Number of frames that will be encoded.
    pub frame_count: u64,
    /// Average frame rate.
    pub fps: f64,
    /// Width of the source video.
    pub width: u32,
    /// Height of the source video.
    pub height: u32,
    /// The ffmpeg encoder, such as `libx264`.
    pub encoder: String,
    /// Encoder options as `(name, value)`, such as `("crf", "23")`.
    pub encoder_options: Vec<(String, String)>,
}

/// A node as a policy sees it: its identity, capacity and load.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeView {
    /// Stable identifier of the node (its address).
    pub id: String,
    /// Chunks the node runs at once.
    pub slots_total: u32,
    /// Slots not filled yet; once all are busy, its free queue places (`--upload-ahead`).
    pub slots_free: u32,
    /// Logical CPUs on the node.
    pub cpu_count: u32,
    /// One-minute load average of the whole machine (whatever CPUs the node
    /// may use), the node's own encodes included.
    pub load_1: f64,
    /// CPU usage in percent over the CPUs the node may use, by other
    /// programs only: the node leaves out its own encodes.
    pub cpu_usage: f64,
    /// Available memory in bytes.
    pub memory_available: u64,
    /// Recent encode speed in frames per second, as the node measured it
    /// (all its slots together); 0 when unknown.
    pub recent_fps: f64,
    /// Encode speed in frames per second per chunk on this job, as the
    /// coordinator measured it (frames over wall time of verified chunks,
    /// upload and download included); 0 until a chunk finished there.
    pub measured_fps: f64,
    /// Chunks of this job verified from this node.
    pub chunks_done: u32,
    /// Chunks of this job that failed on this node.
    pub chunks_failed: u32,
    /// Age of the load figures, in milliseconds.
    pub report_age_ms: u64,
}

/// Limits on chunk lengths that the host enforces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChunkBounds {
    /// The requested chunk duration in seconds (`--segment-duration`).
    pub target_seconds: f64,
    /// Shortest chunk the host accepts, in frames.
    pub min_frames: u64,
    /// Longest chunk the host accepts, in frames.
    pub max_frames: u64,
}

impl Default for ChunkBounds {
    fn default() -> Self {
        Self { target_seconds: 10.0, min_frames: 1, max_frames: u64::MAX }
    }
}

/// Input of [`crate::Policy::plan_chunks`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlanRequest {
    /// The encode.
    pub job: JobInfo,
    /// Frame numbers of the source keyframes, ascending.
    pub keyframes: Vec<u64>,
    /// Frame numbers of scene changes, ascending: filled only for a policy
    /// that asks with [`PolicyInfo::scene_threshold`].
    pub scene_cuts: Vec<u64>,
    /// The nodes of the job.
    pub nodes: Vec<NodeView>,
    /// Limits on chunk lengths.
    pub bounds: ChunkBounds,
    /// Seed for any pseudo-random choice, so decisions reproduce.
    pub seed: u64,
}

/// Output of [`crate::Policy::plan_chunks`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChunkPlan {
    /// The first frame of every chunk, strictly ascending, starting at 0.
    /// Any frame may start a chunk; boundaries need not be keyframes.
    pub starts: Vec<u64>,
}

/// A chunk waiting for a node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PendingChunk {
    /// Index of the chunk in the plan.
    pub index: u32,
    /// Frames in the chunk.
    pub frames: u64,
    /// Attempts so far.
    pub attempts: u32,
    /// Ids of the nodes it already failed on.
    pub failed_on: Vec<String>,
}

/// Input of [`crate::Policy::assign`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AssignRequest {
    /// Chunks waiting for a node, longest first (ties in plan order): taken
    /// in this order, the long chunks start while every node is busy and
    /// the short ones fill the tail.
    pub pending: Vec<PendingChunk>,
    /// Every node of the job; only those with free slots can take work.
    pub nodes: Vec<NodeView>,
    /// Seed for any pseudo-random choice, so decisions reproduce.
    pub seed: u64,
}

impl AssignRequest {
    /// The nodes (by index into `nodes`) that may take `chunk` now, given
    /// the slots still `free` in this decision: those with a free slot,
    /// except the nodes the chunk failed on while any other node could take
    /// it (the host's rule too: a failed chunk waits for another node rather
    /// than going back).
    pub fn candidates<'a>(
        &'a self,
        chunk: &'a PendingChunk,
        free: &'a [u32],
    ) -> impl Iterator<Item = usize> + 'a {
        let elsewhere = self.nodes.iter().any(|n| !chunk.failed_on.contains(&n.id));
        (0..self.nodes.len()).filter(move |&i| {
            free.get(i).is_some_and(|&f| f > 0)
                && !(elsewhere && chunk.failed_on.contains(&self.nodes[i].id))
        })
    }
}

/// One decision of [`crate::Policy::assign`]: run this chunk on that node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// Index of the chunk.
    pub chunk: u32,
    /// Id of the node.
    pub node: String,
}

/// A policy's refusal, reported to the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyError {
    /// A short machine-readable code.
    pub code: String,
    /// What went wrong.
    pub message: String,
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for PolicyError {}

/// Input of [`crate::Policy::on_failure`]: a chunk failed on a node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FailureRequest {
    /// The chunk, with its attempts so far (this one included) and the
    /// nodes it failed on (this one included).
    pub chunk: PendingChunk,
    /// Id of the node it failed on.
    pub node: String,
    /// What went wrong, as the host reports it.
    pub error: String,
    /// Every node of the job.
    pub nodes: Vec<NodeView>,
}

/// What to do with a failed chunk. The host's retry cap applies whatever
/// the policy says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureDecision {
    /// Queue the chunk again, never to be given to these nodes while another
    /// node could take it.
    Retry {
        /// Node ids to avoid.
        avoid: Vec<String>,
    },
    /// Cut the chunk into smaller chunks, queued afresh, for instance so
    /// that a failure late in a job costs half a chunk on each of two nodes
    /// rather than a whole one on one. They keep the chunk's attempts (the
    /// cap still applies) and the nodes to avoid. Since ABI 1.1; a host that
    /// cannot split a chunk (`-vf fps` jobs) retries it whole.
    Split {
        /// Where the new chunks start, as frame offsets from the chunk's
        /// first frame: ascending, each above 0 and below its frame count.
        at: Vec<u64>,
    },
    /// Fail the job.
    GiveUp {
        /// Why, shown to the user.
        reason: String,
    },
}

/// What a policy says of itself (`dffmpeg_describe`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PolicyInfo {
    /// A short name, such as `slot-weighted-round-robin`.
    pub name: String,
    /// The policy's own version.
    pub version: String,
    /// The minor version of ABI 1 it was built against.
    pub abi_minor: u32,
    /// Asks the host for [`PlanRequest::scene_cuts`]: the frames whose
    /// ffmpeg scene score (`select='gt(scene,T)'`, 0 to 1; 0.3 is a common
    /// choice) exceeds this. Finding them decodes the whole input on the
    /// coordinator before planning, so only policies that use them ask.
    /// Since ABI 1.1.
    pub scene_threshold: Option<f64>,
}
