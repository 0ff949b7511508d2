//! Dispatch: cut chunk inputs ahead of time, hand ready chunks to nodes
//! through the policy within their slots, verify every result, and retry a
//! failed chunk elsewhere up to a cap. A job ends with every chunk verified,
//! or with an error; a chunk is never dropped.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, anyhow, bail};
use policy_sdk::{AssignRequest, NodeView, PendingChunk};
use proto::v1::EncodeHeader;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;
use tracing::{Instrument, info_span, warn};

use crate::job_context::JobContext;
use crate::plan::Chunk;
use crate::policy::SchedulingPolicy;
use crate::remote::{ChunkError, Remote};
use crate::split;
use crate::stats::Stats;

/// Attempts per chunk before the job fails.
pub const MAX_ATTEMPTS: u32 = 3;
/// Chunks a node may fail in a row before it is dropped from the job.
pub const MAX_NODE_FAILURES_IN_A_ROW: u32 = 2;

/// A node as dispatch tracks it.
#[derive(Debug)]
pub struct NodeState {
    /// The connection.
    pub remote: Remote,
    /// Chunks this job runs on it at once.
    pub slots: u32,
    /// Chunks running on it now.
    pub busy: u32,
    /// False once it failed to answer, or failed chunks repeatedly: it gets
    /// no more work in this job.
    pub alive: bool,
    /// Chunks failed since its last success.
    pub failures_in_a_row: u32,
    /// Its latest report (sysinfo figures), refreshed while the job runs.
    pub report: proto::v1::ReportResponse,
    /// When `report` arrived.
    pub report_at: Instant,
    /// What this job measured of it.
    pub measured: Measured,
}

/// A node's record in this job, as the coordinator measured it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Measured {
    /// Chunks verified.
    pub done: u32,
    /// Chunks failed.
    pub failed: u32,
    /// Frames of the verified chunks.
    pub frames: u64,
    /// Wall time of the verified chunks, upload and download included.
    pub seconds: f64,
}

impl NodeState {
    /// A node as it first reported, before any work.
    pub fn new(remote: Remote, slots: u32, report: proto::v1::ReportResponse) -> Self {
        Self {
            remote,
            slots,
            busy: 0,
            alive: true,
            failures_in_a_row: 0,
            report,
            report_at: Instant::now(),
            measured: Measured::default(),
        }
    }

    /// The node as policies see it: capacity, the latest load figures and
    /// what this job measured.
    pub fn view(&self) -> NodeView {
        let m = &self.measured;
        NodeView {
            id: self.remote.addr.clone(),
            slots_total: self.slots,
            slots_free: self.slots.saturating_sub(self.busy),
            cpu_count: self.report.cpu_count,
            load_1: self.report.load_1,
            cpu_usage: self.report.cpu_usage,
            memory_available: self.report.memory_available,
            recent_fps: self.report.recent_fps,
            measured_fps: if m.seconds > 0.0 { m.frames as f64 / m.seconds } else { 0.0 },
            chunks_done: m.done,
            chunks_failed: m.failed,
            report_age_ms: self.report_at.elapsed().as_millis() as u64,
        }
    }
}

/// How often running jobs ask their nodes for fresh reports.
const REPORT_PERIOD: std::time::Duration = std::time::Duration::from_secs(1);

/// A verified chunk on the coordinator's disk.
#[derive(Debug, Clone)]
pub struct ChunkDone {
    /// The chunk's index.
    pub index: u32,
    /// The encoded chunk (NUT).
    pub path: PathBuf,
    /// Its first timestamp as the concat demuxer reads it, in microseconds.
    pub start_time_us: i64,
}

struct Outcome {
    index: u32,
    node: usize,
    result: Result<ChunkDone, ChunkError>,
    took: std::time::Duration,
}

/// Runs every chunk to a verified result.
pub async fn run(
    ctx: Arc<JobContext>,
    chunks: Vec<Chunk>,
    nodes: &mut [NodeState],
    policy: &mut dyn SchedulingPolicy,
    stats: Arc<Stats>,
) -> anyhow::Result<Vec<ChunkDone>> {
    let total_slots: u32 = nodes.iter().map(|n| n.slots).sum();
    let lookahead = Arc::new(Semaphore::new(total_slots as usize + 2));
    let (ready_tx, mut ready_rx) = mpsc::channel::<anyhow::Result<Ready>>(64);
    let chunks = Arc::new(chunks);
    let splitter = tokio::spawn(split_ahead(ctx.clone(), chunks.clone(), lookahead, ready_tx));
    let _abort_splitter = AbortOnDrop(splitter);
    let (report_tx, mut report_rx) = mpsc::channel(16);
    let remotes: Vec<Remote> = nodes.iter().map(|n| n.remote.clone()).collect();
    let _abort_reports = AbortOnDrop(tokio::spawn(poll_reports(remotes, report_tx)));

    let n = chunks.len();
    let mut permits: Vec<Option<OwnedSemaphorePermit>> = (0..n).map(|_| None).collect();
    let mut ready: BTreeSet<u32> = BTreeSet::new();
    let mut attempts = vec![0u32; n];
    let mut failed_on: Vec<Vec<String>> = vec![Vec::new(); n];
    let mut done: Vec<Option<ChunkDone>> = vec![None; n];
    let mut time_bases = vec![(1i64, 1i64); n];
    let mut finished = 0;
    let mut running: JoinSet<Outcome> = JoinSet::new();
    let mut splitting = true;
    let mut last_error = String::new();

    while finished < n {
        if !nodes.iter().any(|node| node.alive) {
            bail!("no node is left to encode on; the last failure: {last_error}");
        }
        let free = nodes.iter().any(|node| node.alive && node.busy < node.slots);
        if !ready.is_empty() && free {
            let request = AssignRequest {
                pending: ready
                    .iter()
                    .map(|&i| PendingChunk {
                        index: i,
                        frames: chunks[i as usize].frame_count(),
                        attempts: attempts[i as usize],
                        failed_on: failed_on[i as usize].clone(),
                    })
                    .collect(),
                nodes: nodes.iter().filter(|node| node.alive).map(NodeState::view).collect(),
                seed: 0,
            };
            tracing::debug!(nodes = ?request.nodes, pending = request.pending.len(), "assign round");
            // A call may run for its whole deadline: off the async workers.
            let decided = tokio::task::block_in_place(|| policy.assign(&request));
            let mut assignments = match decided {
                Ok(a) => a,
                Err(error) if policy.strict() => return Err(error),
                Err(error) => {
                    warn!(%error, "the policy failed to assign; using the default for this decision");
                    Vec::new()
                }
            };
            // Nothing running and nothing usable proposed would stall the job:
            // the default decides this round.
            let usable = |a: &policy_sdk::Assignment| {
                ready.contains(&a.chunk)
                    && nodes.iter().any(|n| n.alive && n.busy < n.slots && n.remote.addr == a.node)
            };
            if running.is_empty() && !assignments.iter().any(usable) {
                if policy.strict() && !assignments.is_empty() {
                    anyhow::bail!("the policy proposed no usable assignment (--policy-strict)");
                }
                assignments = crate::policy::native_default().assign(&request)?;
            }
            for assignment in assignments {
                let Some(node) = nodes.iter().position(|nd| nd.remote.addr == assignment.node)
                else {
                    warn!(node = %assignment.node, "the policy named an unknown node");
                    continue;
                };
                let state = &mut nodes[node];
                if !state.alive || state.busy >= state.slots || !ready.remove(&assignment.chunk) {
                    continue;
                }
                state.busy += 1;
                let index = assignment.chunk;
                attempts[index as usize] += 1;
                let chunk = chunks[index as usize].clone();
                let remote = state.remote.clone();
                let ctx = ctx.clone();
                let stats = stats.clone();
                let attempt = attempts[index as usize];
                let time_base = time_bases[index as usize];
                let span = info_span!("chunk", index, node = %remote.addr, attempt);
                running.spawn(
                    async move {
                        let started = Instant::now();
                        let result = encode_chunk(&ctx, &chunk, time_base, &remote, &stats).await;
                        Outcome { index, node, result, took: started.elapsed() }
                    }
                    .instrument(span),
                );
            }
        }

        tokio::select! {
            Some((node, report)) = report_rx.recv() => {
                let state: &mut NodeState = &mut nodes[node];
                state.report = report;
                state.report_at = Instant::now();
            }
            message = ready_rx.recv(), if splitting => match message {
                Some(Ok(Ready { index, permit, time_base })) => {
                    permits[index as usize] = Some(permit);
                    time_bases[index as usize] = time_base;
                    ready.insert(index);
                }
                Some(Err(error)) => return Err(error),
                None => splitting = false,
            },
            Some(joined) = running.join_next(), if !running.is_empty() => {
                let outcome = joined.context("a chunk task panicked")?;
                let index = outcome.index as usize;
                nodes[outcome.node].busy -= 1;
                match outcome.result {
                    Ok(result) => {
                        let node = &mut nodes[outcome.node];
                        node.failures_in_a_row = 0;
                        node.measured.done += 1;
                        node.measured.frames += chunks[index].frame_count();
                        node.measured.seconds += outcome.took.as_secs_f64();
                        permits[index] = None;
                        let _ = tokio::fs::remove_file(ctx.chunk_input(outcome.index)).await;
                        done[index] = Some(result);
                        finished += 1;
                    }
                    Err(error) => {
                        let node = &mut nodes[outcome.node];
                        warn!(chunk = index, node = %node.remote.addr, %error, "chunk failed");
                        node.failures_in_a_row += 1;
                        node.measured.failed += 1;
                        if matches!(error, ChunkError::Unreachable(_)) {
                            node.alive = false;
                        } else if node.failures_in_a_row >= MAX_NODE_FAILURES_IN_A_ROW {
                            warn!(node = %node.remote.addr, "the node keeps failing; no more work for it in this job");
                            node.alive = false;
                        }
                        failed_on[index].push(node.remote.addr.clone());
                        last_error = format!("chunk {index} on node {}: {error}", node.remote.addr);
                        stats.reset(outcome.index);
                        if attempts[index] >= MAX_ATTEMPTS {
                            bail!(
                                "chunk {index} failed {MAX_ATTEMPTS} times; last on node {}: {error}",
                                node.remote.addr
                            );
                        }
                        ready.insert(outcome.index);
                    }
                }
            },
            else => {
                if finished < n && ready.is_empty() {
                    bail!("dispatch stalled with {} chunks unfinished", n - finished);
                }
            }
        }
    }
    done.into_iter()
        .enumerate()
        .map(|(i, d)| d.ok_or_else(|| anyhow!("chunk {i} has no result")))
        .collect()
}

/// Asks every node for a fresh report each [`REPORT_PERIOD`], so policies
/// decide on current load; a node that does not answer keeps its last one
/// (the chunk it runs will say whether it is gone).
async fn poll_reports(
    remotes: Vec<Remote>,
    reports: mpsc::Sender<(usize, proto::v1::ReportResponse)>,
) {
    loop {
        tokio::time::sleep(REPORT_PERIOD).await;
        for (i, remote) in remotes.iter().enumerate() {
            if let Ok(Ok(report)) = tokio::time::timeout(REPORT_PERIOD, remote.report()).await
                && reports.send((i, report)).await.is_err()
            {
                return;
            }
        }
    }
}

/// A chunk input on disk, ready to send.
struct Ready {
    index: u32,
    permit: OwnedSemaphorePermit,
    /// The time base the NUT muxer gave the chunk input.
    time_base: (i64, i64),
}

/// Cuts chunk inputs in order, at most `lookahead` ahead of the encodes.
async fn split_ahead(
    ctx: Arc<JobContext>,
    chunks: Arc<Vec<Chunk>>,
    lookahead: Arc<Semaphore>,
    ready: mpsc::Sender<anyhow::Result<Ready>>,
) {
    for chunk in chunks.iter() {
        let Ok(permit) = lookahead.clone().acquire_owned().await else { return };
        let out = ctx.chunk_input(chunk.index);
        let result = split::extract(
            &ctx.tools,
            &ctx.job.input,
            &ctx.job.input_args,
            ctx.video_stream,
            ctx.timeline_time_base,
            chunk,
            &out,
        )
        .await;
        let result = match result {
            Ok(()) => crate::probe::time_base(&ctx.tools, &out).await,
            Err(error) => Err(error),
        }
        .with_context(|| format!("cutting the input of chunk {}", chunk.index));
        let failed = result.is_err();
        let message = result.map(|time_base| Ready { index: chunk.index, permit, time_base });
        if ready.send(message).await.is_err() || failed {
            return;
        }
    }
}

/// One attempt at one chunk on one node: upload, encode, download, verify.
async fn encode_chunk(
    ctx: &JobContext,
    chunk: &Chunk,
    time_base: (i64, i64),
    remote: &Remote,
    stats: &Stats,
) -> Result<ChunkDone, ChunkError> {
    let started = Instant::now();
    let input = ctx.chunk_input(chunk.index);
    let input_size = tokio::fs::metadata(&input)
        .await
        .map_err(|e| ChunkError::Local(format!("reading {}: {e}", input.display())))?
        .len();
    let header = EncodeHeader {
        job_id: ctx.job_id.clone(),
        chunk_index: chunk.index,
        input_size,
        spec: Some(
            ctx.spec_for(chunk, time_base).map_err(|e| ChunkError::Local(format!("{e:#}")))?,
        ),
    };
    let part = ctx.dir.path().join(format!("out-{:05}.part", chunk.index));
    let summary = remote
        .encode(header, &input, &part, |p| stats.update(chunk.index, p.frames, p.total_size))
        .await?;
    if summary.frames_kept != chunk.frame_count() {
        return Err(ChunkError::Invalid(format!(
            "the node kept {} frames, the chunk has {}",
            summary.frames_kept,
            chunk.frame_count()
        )));
    }
    let start_time_us = crate::probe::start_time(&ctx.tools, &part)
        .await
        .map_err(|e| ChunkError::Invalid(format!("the encoded chunk does not probe: {e:#}")))?;
    let path = ctx.chunk_output(chunk.index);
    tokio::fs::rename(&part, &path)
        .await
        .map_err(|e| ChunkError::Local(format!("renaming {}: {e}", part.display())))?;
    stats.finish(chunk.index, summary.frames_encoded, summary.output_size);
    ctx.log_chunk(chunk, &remote.addr, started.elapsed());
    Ok(ChunkDone { index: chunk.index, path, start_time_us })
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
