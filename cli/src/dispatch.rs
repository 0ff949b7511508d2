//! Dispatch: cut chunk inputs ahead of time, hand ready chunks to nodes
//! through the policy within their slots (the rules are `schedule`'s),
//! verify every result, and retry a failed chunk elsewhere up to a cap. A
//! job ends with every chunk verified, or with an error; a chunk is never
//! dropped.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, anyhow};
use policy_sdk::NodeView;
use proto::v1::EncodeHeader;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;
use tracing::{Instrument, info_span, warn};

use crate::job_context::JobContext;
use crate::keyboard::Stop;
use crate::plan::Chunk;
use crate::policy::SchedulingPolicy;
use crate::remote::{ChunkError, Remote};
use crate::resume::{Record, Reused};
use crate::schedule::{NodeBook, Requeued, Schedule, Telemetry, Verified};
use crate::split;
use crate::stats::Stats;
use crate::timeline::Timeline;

/// A node a job connected to: the connection and what it first reported.
#[derive(Debug)]
pub struct NodeState {
    /// The connection.
    pub remote: Remote,
    /// Chunks this job runs on it at once.
    pub slots: u32,
    /// Chunks it may be handed beyond its slots, to upload while they are
    /// busy (`NodeBook::queue`).
    pub queue: u32,
    /// Its first report (sysinfo figures).
    pub report: proto::v1::ReportResponse,
}

impl NodeState {
    /// A node as it first reported, before any work.
    pub fn new(remote: Remote, slots: u32, queue: u32, report: proto::v1::ReportResponse) -> Self {
        Self { remote, slots, queue, report }
    }

    /// The node as policies see it before any work.
    pub fn view(&self) -> NodeView {
        self.book(0).view(0)
    }

    fn book(&self, now_ms: u64) -> NodeBook {
        let mut book =
            NodeBook::new(self.remote.addr.clone(), self.slots, telemetry(&self.report, now_ms));
        book.queue = self.queue;
        book
    }
}

/// A report's figures, as the schedule keeps them.
fn telemetry(report: &proto::v1::ReportResponse, at_ms: u64) -> Telemetry {
    Telemetry {
        cpu_count: report.cpu_count,
        load_1: report.load_1,
        cpu_usage: report.cpu_usage,
        memory_available: report.memory_available,
        recent_fps: report.recent_fps,
        at_ms,
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
    /// Its video packets, verified: what the final mux must write of it.
    pub packets: u64,
    /// The container starts at `start_time_us` by itself, so the concat
    /// list gives no `inpoint` (see [`crate::probe::ChunkPackets::own_start`]).
    pub own_start: bool,
}

struct Outcome {
    index: u32,
    node: usize,
    result: Result<Encoded, ChunkError>,
    took: std::time::Duration,
}

/// One attempt's verified result, not yet accepted as the chunk's.
struct Encoded {
    /// The downloaded chunk.
    part: PathBuf,
    /// The spec it was encoded with, as sent.
    spec: Vec<u8>,
    /// What is known of it.
    record: Record,
}

/// A chunk's decoder complained of the source: the source is damaged there,
/// and no chunk reproduces how ffmpeg alone, decoding from the start,
/// conceals it. The job ends at once (every node decodes alike); before any
/// output is written, the command runs through ffmpeg (`distribute`).
#[derive(Debug, thiserror::Error)]
#[error("the input's video is damaged in chunk {chunk} ({detail})")]
pub struct DamagedSource {
    /// The chunk.
    pub chunk: usize,
    /// What the node said.
    pub detail: String,
}

/// The verified chunks of a dispatch, in output order.
#[derive(Debug)]
pub struct Dispatched {
    /// Every chunk, or after a stop the ones from the start up to the first
    /// that was not finished.
    pub done: Vec<ChunkDone>,
    /// After a stop: where the kept chunks end, in microseconds on the
    /// input's timeline (after its start offset, as ffmpeg's `-t` counts).
    pub stopped_at_us: Option<i64>,
}

/// Runs every chunk to a verified result, following the host's rules in
/// [`Schedule`]; or, once `stop` comes, only until the chunks from the start
/// of the output up to some point are verified (at least the first chunk).
pub async fn run(
    ctx: Arc<JobContext>,
    chunks: Vec<Chunk>,
    timeline: &Timeline,
    nodes: &[NodeState],
    policy: &mut dyn SchedulingPolicy,
    stats: Arc<Stats>,
    mut stop: Stop,
) -> anyhow::Result<Dispatched> {
    let clock = Instant::now();
    let now_ms = || clock.elapsed().as_millis() as u64;
    // A chunk handed to a queue place needs its input cut as well.
    let total_slots: u32 = nodes.iter().map(|n| n.slots + n.queue).sum();
    let lookahead = Arc::new(Semaphore::new(total_slots as usize + 2));
    let (ready_tx, mut ready_rx) = mpsc::channel::<anyhow::Result<Ready>>(64);
    // Chunks an earlier, killed run of this command verified are not cut
    // or encoded again.
    let reused: Vec<Option<ChunkDone>> = chunks.iter().map(|c| reuse(&ctx, c, &stats)).collect();
    let mut to_cut: Vec<Chunk> =
        chunks.iter().zip(&reused).filter(|(_, r)| r.is_none()).map(|(c, _)| c.clone()).collect();
    // Cut in the order the schedule offers chunks: longest first.
    to_cut.sort_by_key(|c| std::cmp::Reverse(c.frame_count()));
    if ctx.job.verbose() && reused.iter().any(Option::is_some) {
        ctx.job.verbose_line(format_args!(
            "[dffmpeg] resuming: {} of {} chunks were verified by an earlier run",
            reused.iter().flatten().count(),
            chunks.len()
        ));
    }
    let splitter = tokio::spawn(split_ahead(ctx.clone(), Arc::new(to_cut), lookahead, ready_tx));
    let mut splitter = Some(AbortOnDrop(splitter));
    let (report_tx, mut report_rx) = mpsc::channel(16);
    let remotes: Vec<Remote> = nodes.iter().map(|n| n.remote.clone()).collect();
    let _abort_reports = AbortOnDrop(tokio::spawn(poll_reports(remotes.clone(), report_tx)));

    // The plan's chunks, then the pieces of any chunk split after a failure.
    let mut chunks = chunks;
    let n = chunks.len();
    let mut schedule = Schedule::new(
        chunks.iter().map(Chunk::frame_count).collect(),
        nodes.iter().map(|n| n.book(0)).collect(),
    );
    // Chunks on an output grid (-vf fps, an output rate) end where the next
    // one's output begins, which a split cannot keep.
    schedule.allow_splits(chunks.iter().all(|c| c.grid.is_none()));
    for chunk in reused.iter().flatten() {
        schedule.reused(chunk.index);
    }
    let mut permits: Vec<Option<OwnedSemaphorePermit>> = (0..n).map(|_| None).collect();
    let mut done: Vec<Option<ChunkDone>> = reused;
    let mut time_bases = vec![(1i64, 1i64); n];
    // Whose input is cut and ready to send.
    let mut is_cut = vec![false; n];
    let mut running: JoinSet<Outcome> = JoinSet::new();
    // Per attempt in flight (chunk, node): how to cancel it when a backup
    // or the straggler it backs up wins.
    let mut attempts: std::collections::HashMap<(u32, usize), tokio::task::AbortHandle> =
        std::collections::HashMap::new();
    // Inputs of split chunks' pieces, cut as soon as the split is decided.
    let mut cutting: JoinSet<anyhow::Result<(u32, (i64, i64))>> = JoinSet::new();
    let mut splitting = true;
    let mut last_error = String::new();
    let mut stopped_before = None;
    // After a stop that still needs the first chunk: that chunk.
    let mut holding: Option<usize> = None;

    while !schedule.is_finished() {
        if stop.requested() {
            if let Some(missing) = first_missing(&chunks, &done, &schedule) {
                stopped_before = Some(missing);
                break;
            }
            // The output still needs its first chunk, and nothing else:
            // the others stop now, and their slots and inputs' places go
            // to it, so that a stop ends as soon as the first chunk is in.
            if holding.is_none()
                && let Some(first) = first_live(&chunks, &schedule)
            {
                holding = Some(first);
                schedule.only(first as u32);
                let others: Vec<(u32, usize)> = attempts
                    .keys()
                    .copied()
                    .filter(|&(chunk, _)| chunk as usize != first)
                    .collect();
                for (chunk, node) in others {
                    if let Some(handle) = attempts.remove(&(chunk, node)) {
                        handle.abort();
                    }
                    schedule.cancelled(chunk, node, now_ms());
                    stats.reset(chunk);
                }
                for (i, permit) in permits.iter_mut().enumerate() {
                    if i != first {
                        *permit = None;
                    }
                }
                // No other input is cut: the splitter goes, and the first
                // chunk's input, unless it is cut or a piece's (those are
                // cut in `cutting`), is cut at once rather than in its turn
                // (longest first: a short first chunk comes last).
                if let Some(mut cutter) = splitter.take() {
                    // Gone, with the cuts it was making (their ffmpegs are
                    // killed), before any input is cut again.
                    cutter.0.abort();
                    let _ = (&mut cutter.0).await;
                    splitting = false;
                    while let Ok(message) = ready_rx.try_recv() {
                        let Ready { index, permit, time_base } = message?;
                        if index as usize == first {
                            permits[first] = Some(permit);
                            time_bases[first] = time_base;
                            is_cut[first] = true;
                            schedule.ready(index);
                        }
                    }
                    if !is_cut[first] && first < n {
                        let (ctx, chunk) = (ctx.clone(), chunks[first].clone());
                        cutting.spawn(async move {
                            let time_base = cut(&ctx, &chunk).await?;
                            Ok((chunk.index, time_base))
                        });
                    }
                }
                tracing::info!(chunk = first, "stopping: only the first chunk is still encoded");
            }
        }
        schedule.check_nodes(&last_error)?;
        // A call may run for its whole deadline: off the async workers.
        let mut starts = tokio::task::block_in_place(|| schedule.assign(policy, now_ms()))?;
        if !splitting && cutting.is_empty() {
            starts.extend(schedule.backups(now_ms()));
        }
        for start in starts {
            let index = start.chunk;
            let chunk = chunks[index as usize].clone();
            let remote = remotes[start.node].clone();
            if start.backup {
                tracing::info!(chunk = index, node = %remote.addr, "a straggling chunk runs again");
                if ctx.job.verbose() {
                    ctx.job.verbose_line(format_args!(
                        "[dffmpeg] chunk {index} straggles; running it on {} too",
                        remote.addr
                    ));
                }
            }
            let ctx = ctx.clone();
            let stats = stats.clone();
            let time_base = time_bases[index as usize];
            let span = info_span!(
                "chunk",
                index,
                node = %remote.addr,
                attempt = start.attempt,
                backup = start.backup
            );
            let node = start.node;
            let handle = running.spawn(
                async move {
                    let started = Instant::now();
                    let result = encode_chunk(&ctx, &chunk, node, time_base, &remote, &stats).await;
                    Outcome { index, node, result, took: started.elapsed() }
                }
                .instrument(span),
            );
            attempts.insert((index, node), handle);
        }

        tokio::select! {
            () = stop.wait(), if !stop.requested() => {}
            Some((node, report)) = report_rx.recv() => {
                if schedule.answered(node, telemetry(&report, now_ms())) {
                    let addr = &remotes[node].addr;
                    tracing::info!(node = %addr, "a lost node answers again; it takes work");
                    if ctx.job.verbose() {
                        ctx.job.verbose_line(format_args!("[dffmpeg] node {addr} is back"));
                    }
                }
            }
            message = ready_rx.recv(), if splitting => match message {
                Some(Ok(Ready { index, permit, time_base })) => {
                    // Held back after a stop, an input keeps no place.
                    if holding.is_none_or(|first| first == index as usize) {
                        permits[index as usize] = Some(permit);
                    }
                    time_bases[index as usize] = time_base;
                    is_cut[index as usize] = true;
                    schedule.ready(index);
                }
                Some(Err(error)) => return Err(error),
                None => splitting = false,
            },
            Some(joined) = cutting.join_next(), if !cutting.is_empty() => {
                let (index, time_base) = joined.context("cutting a piece panicked")??;
                time_bases[index as usize] = time_base;
                is_cut[index as usize] = true;
                schedule.ready(index);
            }
            Some(joined) = running.join_next(), if !running.is_empty() => {
                // A cancelled attempt was accounted for when it was cancelled.
                let outcome = match joined {
                    Ok(outcome) => outcome,
                    Err(error) if error.is_cancelled() => continue,
                    Err(error) => return Err(anyhow!("a chunk task panicked: {error}")),
                };
                let index = outcome.index as usize;
                if attempts.remove(&(outcome.index, outcome.node)).is_none() {
                    // Cancelled after it had finished: another attempt won.
                    if let Ok(encoded) = &outcome.result {
                        let _ = tokio::fs::remove_file(&encoded.part).await;
                    }
                    continue;
                }
                match outcome.result {
                    Ok(encoded) => {
                        let seconds = outcome.took.as_secs_f64();
                        let node = outcome.node;
                        let cancel = match schedule.succeeded(outcome.index, node, seconds, now_ms()) {
                            Verified::Won { cancel } => cancel,
                            Verified::Late => {
                                let _ = tokio::fs::remove_file(&encoded.part).await;
                                continue;
                            }
                        };
                        for other in cancel {
                            if let Some(handle) = attempts.remove(&(outcome.index, other)) {
                                handle.abort();
                            }
                            schedule.cancelled(outcome.index, other, now_ms());
                            let loser = &remotes[other].addr;
                            tracing::info!(chunk = index, node = %loser, "attempt cancelled: another won");
                            if ctx.job.verbose() {
                                ctx.job.verbose_line(format_args!(
                                    "[dffmpeg] chunk {index}: the copy on {loser} is cancelled"
                                ));
                            }
                        }
                        let chunk = &chunks[index];
                        let result = accept(&ctx, chunk, encoded, &stats)?;
                        ctx.log_chunk(chunk, &remotes[node].addr, outcome.took);
                        permits[index] = None;
                        let _ = tokio::fs::remove_file(ctx.chunk_input(outcome.index)).await;
                        done[index] = Some(result);
                    }
                    Err(ChunkError::Damaged(detail)) => {
                        let addr = &remotes[outcome.node].addr;
                        warn!(chunk = index, node = %addr, %detail, "the source is damaged");
                        return Err(DamagedSource { chunk: index, detail }.into());
                    }
                    Err(error) => {
                        let addr = &remotes[outcome.node].addr;
                        warn!(chunk = index, node = %addr, %error, "chunk failed");
                        last_error = format!("chunk {index} on node {addr}: {error}");
                        if !schedule.is_done(outcome.index) {
                            stats.reset(outcome.index);
                        }
                        let lost = matches!(error, ChunkError::Unreachable(_));
                        let message = error.to_string();
                        let requeued = tokio::task::block_in_place(|| {
                            schedule.failed(outcome.index, outcome.node, &message, lost, policy, now_ms())
                        })?;
                        if let Requeued::Split(at) = requeued {
                            let parent = chunks[index].clone();
                            let pieces = split_chunk(&ctx, &mut schedule, timeline, &parent, &at)?;
                            tracing::info!(chunk = index, pieces = pieces.len(), "chunk split");
                            if ctx.job.verbose() {
                                let first: Vec<String> =
                                    pieces.iter().map(|p| p.frames.start.to_string()).collect();
                                ctx.job.verbose_line(format_args!(
                                    "[dffmpeg] chunk {index} split into {} at frames {}",
                                    pieces.len(),
                                    first.join(", ")
                                ));
                            }
                            permits[index] = None;
                            let _ = tokio::fs::remove_file(ctx.chunk_input(outcome.index)).await;
                            for piece in pieces {
                                permits.push(None);
                                done.push(None);
                                time_bases.push((1, 1));
                                is_cut.push(false);
                                chunks.push(piece.clone());
                                let ctx = ctx.clone();
                                cutting.spawn(async move {
                                    let time_base = cut(&ctx, &piece).await?;
                                    Ok((piece.index, time_base))
                                });
                            }
                        }
                    }
                }
            },
            else => {
                if !schedule.is_finished() && schedule.waiting() == 0 {
                    anyhow::bail!(
                        "dispatch stalled with {} chunks unfinished",
                        schedule.live() - schedule.finished()
                    );
                }
            }
        }
    }
    if stopped_before.is_some() {
        // Attempts still running are cancelled, and waited for, so that none
        // counts frames in the stats after its chunk is left out below.
        running.shutdown().await;
    }
    // In output order: split chunks' pieces stand where the chunk stood.
    let end = stopped_before.map(|i| chunks[i].frames.start);
    let mut verified: Vec<ChunkDone> = Vec::with_capacity(schedule.live());
    for (i, result) in done.into_iter().enumerate() {
        let kept = end.is_none_or(|end| chunks[i].frames.start < end);
        match result {
            Some(result) if kept => verified.push(result),
            None if schedule.is_replaced(i as u32) || !kept => {}
            None => return Err(anyhow!("chunk {i} has no result")),
            // Verified after the first gap: not in the output, nor in its stats.
            Some(_) => {}
        }
        if !kept {
            stats.reset(i as u32);
        }
    }
    verified.sort_by_key(|d| chunks[d.index as usize].frames.start);
    let stopped_at_us = stopped_before.map(|i| stop_time_us(timeline, &chunks[i], &ctx));
    if let Some(at) = stopped_at_us {
        tracing::info!(chunks = verified.len(), at_us = at, "stopped on request");
    }
    Ok(Dispatched { done: verified, stopped_at_us })
}

/// The first live chunk in output order.
fn first_live(chunks: &[Chunk], schedule: &Schedule) -> Option<usize> {
    (0..chunks.len())
        .filter(|&i| !schedule.is_replaced(i as u32))
        .min_by_key(|&i| chunks[i].frames.start)
}

/// After a stop: the first live chunk in output order without a verified
/// result, if at least one chunk before it has one. `None` while even the
/// first chunk is unfinished: a stopped output still gets that one.
fn first_missing(
    chunks: &[Chunk],
    done: &[Option<ChunkDone>],
    schedule: &Schedule,
) -> Option<usize> {
    let mut live: Vec<usize> =
        (0..chunks.len()).filter(|&i| !schedule.is_replaced(i as u32)).collect();
    live.sort_by_key(|&i| chunks[i].frames.start);
    let missing = live.iter().position(|&i| done[i].is_none())?;
    (missing > 0).then(|| live[missing])
}

/// Where `chunk`, the first one left out after a stop, would have begun, on
/// the input's timeline: on the output grid when chunks have one (`-vf fps`,
/// an output rate), else at its first frame.
fn stop_time_us(timeline: &Timeline, chunk: &Chunk, ctx: &JobContext) -> i64 {
    let rate = ctx.frame_rate;
    match &chunk.grid {
        Some(slots) => {
            crate::timeline::rescale(slots.start, (rate.1, rate.0), (1, 1_000_000))
                + ctx.chunk_offset_us()
        }
        None => timeline.shifted_us(chunk.frames.start),
    }
}

/// The pieces of `parent` cut at the offsets `at` (but where a chunk may
/// not start: `JobContext::may_start_at`), registered with the schedule
/// (which numbers them).
fn split_chunk(
    ctx: &JobContext,
    schedule: &mut Schedule,
    timeline: &Timeline,
    parent: &Chunk,
    at: &[u64],
) -> anyhow::Result<Vec<Chunk>> {
    let first = parent.frames.start;
    let bounds: Vec<usize> = std::iter::once(first)
        .chain(at.iter().map(|&a| first + a as usize).filter(|&frame| ctx.may_start_at(frame)))
        .chain(std::iter::once(parent.frames.end))
        .collect();
    let sizes: Vec<u64> = bounds.windows(2).map(|w| (w[1] - w[0]) as u64).collect();
    let indices = schedule.split(parent.index, &sizes);
    indices
        .into_iter()
        .zip(bounds.windows(2))
        .map(|(index, w)| crate::plan::chunk(timeline, index, w[0]..w[1]))
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

/// How many chunk inputs are cut at once: a cut is mostly an ffmpeg start
/// and a copy, so two overlap well even on two cores, and the first chunks
/// of a run reach their slots together rather than one cut after another.
const CONCURRENT_CUTS: usize = 2;

/// Cuts chunk inputs in the given order, [`CONCURRENT_CUTS`] at a time and
/// at most `lookahead` ahead of the encodes.
async fn split_ahead(
    ctx: Arc<JobContext>,
    chunks: Arc<Vec<Chunk>>,
    lookahead: Arc<Semaphore>,
    ready: mpsc::Sender<anyhow::Result<Ready>>,
) {
    use futures::StreamExt as _;
    let cuts = futures::stream::iter(chunks.iter().cloned())
        .then(|chunk| {
            let lookahead = lookahead.clone();
            async move { lookahead.acquire_owned().await.ok().map(|permit| (chunk, permit)) }
        })
        .take_while(|next| std::future::ready(next.is_some()))
        .filter_map(std::future::ready)
        .map(|(chunk, permit)| {
            let ctx = ctx.clone();
            async move {
                let time_base = cut(&ctx, &chunk).await?;
                Ok(Ready { index: chunk.index, permit, time_base })
            }
        })
        .buffer_unordered(CONCURRENT_CUTS);
    let mut cuts = std::pin::pin!(cuts);
    while let Some(message) = cuts.next().await {
        let failed = message.is_err();
        if ready.send(message).await.is_err() || failed {
            return;
        }
    }
}

/// Cuts a chunk's input by stream copy; returns the time base the NUT
/// muxer gave it.
async fn cut(ctx: &JobContext, chunk: &Chunk) -> anyhow::Result<(i64, i64)> {
    let out = ctx.chunk_input(chunk.index);
    async {
        let source = split::Source {
            input: &ctx.job.input,
            input_args: &ctx.job.input_args,
            stream: ctx.video_stream,
            time_base: ctx.timeline_time_base,
            container: ctx.input_format,
        };
        split::extract(&ctx.tools, source, chunk, &out).await
    }
    .await
    .with_context(|| format!("cutting the input of chunk {}", chunk.index))
    .inspect(|_| tracing::info!(chunk = chunk.index, "chunk input cut"))
}

/// The chunk's winning result, stored (for a rerun, see `resume`) and counted.
fn accept(
    ctx: &JobContext,
    chunk: &Chunk,
    encoded: Encoded,
    stats: &Stats,
) -> anyhow::Result<ChunkDone> {
    let Encoded { part, spec, record } = encoded;
    let (start_time_us, packets, own_start) =
        (record.start_time_us, record.frames_encoded, record.own_start);
    stats.finish(chunk.index, record.frames_encoded, record.size);
    let path = ctx.dir.store(chunk, &part, &spec, record)?;
    Ok(ChunkDone { index: chunk.index, path, start_time_us, packets, own_start })
}

/// One attempt at one chunk on one node (`node`, for its own download
/// name): upload, encode, download, verify.
async fn encode_chunk(
    ctx: &JobContext,
    chunk: &Chunk,
    node: usize,
    time_base: (i64, i64),
    remote: &Remote,
    stats: &Stats,
) -> Result<Encoded, ChunkError> {
    let input = ctx.chunk_input(chunk.index);
    let input_size = tokio::fs::metadata(&input)
        .await
        .map_err(|e| ChunkError::Local(format!("reading {}: {e}", input.display())))?
        .len();
    let spec = ctx.spec_for(chunk, time_base).map_err(|e| ChunkError::Local(format!("{e:#}")))?;
    let spec_bytes = prost::Message::encode_to_vec(&spec);
    let header = EncodeHeader {
        job_id: ctx.job_id.clone(),
        chunk_index: chunk.index,
        input_size,
        spec: Some(spec),
    };
    let part = ctx.chunk_download(chunk.index, node);
    let (summary, transfer) = remote
        .encode(header, &input, &part, |p| stats.update(chunk.index, p.frames, p.total_size))
        .await?;
    tracing::debug!(
        input_bytes = input_size,
        upload_s = summary.input_seconds,
        handoff_s = transfer.upload.as_secs_f64(),
        output_bytes = summary.output_size,
        download_s = transfer.download.as_secs_f64(),
        encode_s = summary.encode_seconds,
        "chunk transferred"
    );
    if summary.frames_kept != chunk.frame_count() {
        return Err(ChunkError::Invalid(format!(
            "the node kept {} frames, the chunk has {}",
            summary.frames_kept,
            chunk.frame_count()
        )));
    }
    let packets = crate::probe::chunk_packets(&ctx.tools, &part)
        .await
        .map_err(|e| ChunkError::Invalid(format!("the encoded chunk does not probe: {e:#}")))?;
    if packets.count != summary.frames_encoded {
        return Err(ChunkError::Invalid(format!(
            "the encoded chunk holds {} packets, the node encoded {} frames",
            packets.count, summary.frames_encoded
        )));
    }
    let start_time_us = packets.start_time_us;
    let record = Record {
        time_base,
        spec_sha256: String::new(),
        size: summary.output_size,
        blake3: summary.blake3,
        frames_encoded: summary.frames_encoded,
        start_time_us,
        own_start: packets.own_start,
    };
    Ok(Encoded { part, spec: spec_bytes, record })
}

/// The verified result an earlier run of the same job left for `chunk`,
/// counted as done.
fn reuse(ctx: &JobContext, chunk: &Chunk, stats: &Stats) -> Option<ChunkDone> {
    let spec_for =
        |time_base| ctx.spec_for(chunk, time_base).map(|s| prost::Message::encode_to_vec(&s));
    let Reused { path, record } = ctx.dir.reuse(chunk, spec_for)?;
    tracing::info!(chunk = chunk.index, "chunk reused from an earlier run");
    if ctx.job.verbose() {
        ctx.job.verbose_line(format_args!(
            "[dffmpeg] chunk {} frames {}-{} reused",
            chunk.index,
            chunk.frames.start,
            chunk.frames.end - 1
        ));
    }
    stats.finish(chunk.index, record.frames_encoded, record.size);
    let (start_time_us, packets, own_start) =
        (record.start_time_us, record.frames_encoded, record.own_start);
    Some(ChunkDone { index: chunk.index, path, start_time_us, packets, own_start })
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
