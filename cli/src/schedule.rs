//! The host's rules for handing chunks to nodes, apart from any I/O: which
//! chunks wait, which nodes may take work, how a policy's answers are
//! checked, and what a failure does. `dispatch` drives it with real nodes
//! and real time; `dffmpeg policy simulate` drives it with modelled nodes in
//! virtual time, so a simulation follows exactly the rules of a real job.

use std::collections::BTreeSet;

use anyhow::bail;
use policy_sdk::{
    AssignRequest, Assignment, FailureDecision, FailureRequest, NodeView, PendingChunk, PlanRequest,
};
use tracing::warn;

use crate::policy::{self, SchedulingPolicy};

/// Attempts per chunk before the job fails.
pub const MAX_ATTEMPTS: u32 = 3;
/// Chunks a node may fail in a row before it is dropped from the job.
pub const MAX_NODE_FAILURES_IN_A_ROW: u32 = 2;
/// A chunk is run again on a free node (a backup) once it has run this many
/// times as long as that node would take for the whole chunk, when nothing
/// is known of the straggler's speed.
pub const BACKUP_AFTER: f64 = 2.0;
/// When the straggler's speed is measured: a backup starts only if the
/// straggler would still need this many times what the backup takes.
pub const BACKUP_GAIN: f64 = 1.5;

/// The host's rule for a plan: from frame 0, strictly increasing, inside
/// the `frames` of the input.
pub fn check_plan(starts: &[u64], frames: u64) -> anyhow::Result<()> {
    if starts.first() != Some(&0) {
        bail!("the first chunk must start at frame 0, not {:?}", starts.first());
    }
    if let Some(w) = starts.windows(2).find(|w| w[0] >= w[1]) {
        bail!("chunk starts must increase: {} then {}", w[0], w[1]);
    }
    if let Some(last) = starts.last().filter(|&&s| s >= frames) {
        bail!("a chunk starts at frame {last}, past the last frame {}", frames.saturating_sub(1));
    }
    Ok(())
}

/// A job's chunk starts: the policy's plan if the host accepts it, else
/// the default's, with the refusal for the caller to report. Under
/// `--policy-strict` a refusal ends the job.
pub fn plan(
    policy: &mut dyn SchedulingPolicy,
    request: &PlanRequest,
) -> anyhow::Result<(Vec<u64>, Option<anyhow::Error>)> {
    let planned = policy
        .plan(request)
        .and_then(|plan| check_plan(&plan.starts, request.job.frame_count).map(|()| plan.starts));
    match planned {
        Ok(starts) => Ok((starts, None)),
        Err(error) if policy.strict() => Err(error.context("the policy's plan")),
        Err(error) => {
            warn!(%error, "the policy's plan was refused; using the default plan");
            Ok((policy::native_default().plan(request)?.starts, Some(error)))
        }
    }
}

/// What a node last reported of its machine.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Telemetry {
    /// Logical CPUs it may use.
    pub cpu_count: u32,
    /// One-minute load average.
    pub load_1: f64,
    /// CPU usage by other programs, in percent.
    pub cpu_usage: f64,
    /// Available memory in bytes.
    pub memory_available: u64,
    /// Its own recent encode speed, frames per second.
    pub recent_fps: f64,
    /// When the report arrived, in the driver's milliseconds.
    pub at_ms: u64,
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

/// A node as the schedule tracks it.
#[derive(Debug, Clone)]
pub struct NodeBook {
    /// Its identity, as policies name it (the address).
    pub id: String,
    /// Chunks this job runs on it at once.
    pub slots: u32,
    /// Places beyond its slots: chunks handed to it while every slot is
    /// busy, which upload while the others encode and wait on the node for
    /// a slot (`--upload-ahead`). The upload then no longer adds to the
    /// job's time, at the price of binding the chunk to the node early.
    pub queue: u32,
    /// Chunks running on it now, or waiting on it in a queue place.
    pub busy: u32,
    /// False once it failed to answer, or failed chunks repeatedly: it gets
    /// no more work, unless it was lost and answers again.
    pub alive: bool,
    /// It stopped answering (rather than failing chunks): a node restarted
    /// under the same address takes work again once it reports.
    pub lost: bool,
    /// Chunks failed since its last success.
    pub failures_in_a_row: u32,
    /// Its latest report.
    pub telemetry: Telemetry,
    /// What this job measured of it.
    pub measured: Measured,
}

impl NodeBook {
    /// A node as it first reported, before any work.
    pub fn new(id: String, slots: u32, telemetry: Telemetry) -> Self {
        Self {
            id,
            slots,
            queue: 0,
            busy: 0,
            alive: true,
            lost: false,
            failures_in_a_row: 0,
            telemetry,
            measured: Measured::default(),
        }
    }

    /// A chunk given to it now would start at once or, in a queue place,
    /// upload while the slots are busy.
    fn has_free_slot(&self) -> bool {
        self.alive && self.busy < self.slots + self.queue
    }

    /// A chunk given to it now would start at once: what a backup needs.
    fn has_idle_slot(&self) -> bool {
        self.alive && self.busy < self.slots
    }

    /// What policies see as free: the idle slots or, once every slot is
    /// busy, the free queue places (never more than `slots_total`).
    fn slots_free(&self) -> u32 {
        if self.busy < self.slots {
            self.slots - self.busy
        } else {
            (self.slots + self.queue).saturating_sub(self.busy).min(self.slots)
        }
    }

    /// The node as policies see it at `now_ms`: capacity, the latest load
    /// figures and what this job measured.
    pub fn view(&self, now_ms: u64) -> NodeView {
        let (t, m) = (&self.telemetry, &self.measured);
        NodeView {
            id: self.id.clone(),
            slots_total: self.slots,
            slots_free: self.slots_free(),
            cpu_count: t.cpu_count,
            load_1: t.load_1,
            cpu_usage: t.cpu_usage,
            memory_available: t.memory_available,
            recent_fps: t.recent_fps,
            measured_fps: if m.seconds > 0.0 { m.frames as f64 / m.seconds } else { 0.0 },
            chunks_done: m.done,
            chunks_failed: m.failed,
            report_age_ms: now_ms.saturating_sub(t.at_ms),
        }
    }
}

/// An attempt to start: chunk `chunk` on node `node` (an index into
/// [`Schedule::nodes`]), its `attempt`th.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// The chunk's index.
    pub chunk: u32,
    /// The node's index.
    pub node: usize,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// A second copy of a chunk that is still running elsewhere: the first
    /// verified result wins, and the other attempt is cancelled.
    pub backup: bool,
}

/// One attempt in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Attempt {
    /// The node running it.
    node: usize,
    /// When it was handed out (ms).
    since: u64,
    /// When it took one of the node's slots; `None` while it waits in a
    /// queue place.
    slot_at: Option<u64>,
}

/// Every chunk's and node's state in one job.
#[derive(Debug)]
pub struct Schedule {
    /// The nodes, in the order the job connected to them.
    pub nodes: Vec<NodeBook>,
    frames: Vec<u64>,
    attempts: Vec<u32>,
    failed_on: Vec<Vec<String>>,
    done: Vec<bool>,
    /// Chunks cut into others after a failure: no longer part of the job.
    replaced: Vec<bool>,
    ready: BTreeSet<u32>,
    /// After a stop: the one chunk still handed out (`Schedule::only`).
    only: Option<u32>,
    /// Per chunk, its attempts in flight.
    running_on: Vec<Vec<Attempt>>,
    /// Chunks that got a backup (one each at most).
    backed_up: Vec<bool>,
    can_back_up: bool,
    running: usize,
    finished: usize,
    live: usize,
    retried: u32,
    splits: u32,
    can_split: bool,
}

/// What became of a failed chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Requeued {
    /// It waits again as it is.
    Whole,
    /// The policy cut it at these offsets from its first frame: the driver
    /// makes the pieces and registers them with [`Schedule::split`].
    Split(Vec<u64>),
    /// Another attempt at it is still running, or already won: nothing waits.
    Covered,
}

/// What a verified result means for its chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Verified {
    /// It is the chunk's result; the attempts on these nodes (backups, or
    /// the straggler a backup beat) are to be cancelled with
    /// [`Schedule::cancelled`].
    Won {
        /// Nodes still running the chunk.
        cancel: Vec<usize>,
    },
    /// Another attempt won already: discard it.
    Late,
}

impl Schedule {
    /// A job of chunks with these frame counts over `nodes`; no chunk is
    /// ready until [`Schedule::ready`] says so.
    pub fn new(frames: Vec<u64>, nodes: Vec<NodeBook>) -> Self {
        let n = frames.len();
        Self {
            nodes,
            frames,
            attempts: vec![0; n],
            failed_on: vec![Vec::new(); n],
            done: vec![false; n],
            replaced: vec![false; n],
            ready: BTreeSet::new(),
            only: None,
            running_on: vec![Vec::new(); n],
            backed_up: vec![false; n],
            can_back_up: true,
            running: 0,
            finished: 0,
            live: n,
            retried: 0,
            splits: 0,
            can_split: true,
        }
    }

    /// Whether a failed chunk may be cut into smaller ones (not with
    /// `-vf fps`, whose chunks are planned on the filter's output grid).
    pub fn allow_splits(&mut self, allowed: bool) {
        self.can_split = allowed;
    }

    /// Whether a chunk that straggles may be run again on a free node.
    pub fn allow_backups(&mut self, allowed: bool) {
        self.can_back_up = allowed;
    }

    /// Whether the chunk is verified.
    pub fn is_done(&self, chunk: u32) -> bool {
        self.done[chunk as usize]
    }

    /// Whether the chunk was split, its pieces taking its place.
    pub fn is_replaced(&self, chunk: u32) -> bool {
        self.replaced[chunk as usize]
    }

    /// Chunks cut into smaller ones so far.
    pub fn splits(&self) -> u32 {
        self.splits
    }

    /// Frames in chunk `chunk`.
    pub fn frames(&self, chunk: u32) -> u64 {
        self.frames[chunk as usize]
    }

    /// Replaces the failed chunk `chunk` by new chunks of `pieces` frames
    /// (summing to its own), which keep its attempts and the nodes it is to
    /// avoid; returns their indices, in order. They wait for
    /// [`Schedule::ready`] like any chunk.
    pub fn split(&mut self, chunk: u32, pieces: &[u64]) -> Vec<u32> {
        let parent = chunk as usize;
        debug_assert_eq!(pieces.iter().sum::<u64>(), self.frames[parent]);
        self.replaced[parent] = true;
        self.live -= 1;
        self.splits += 1;
        let mut indices = Vec::with_capacity(pieces.len());
        for &frames in pieces {
            indices.push(self.frames.len() as u32);
            self.frames.push(frames);
            self.attempts.push(self.attempts[parent]);
            self.failed_on.push(self.failed_on[parent].clone());
            self.done.push(false);
            self.replaced.push(false);
            self.running_on.push(Vec::new());
            self.backed_up.push(false);
            self.live += 1;
        }
        indices
    }

    /// The chunk's input is cut: it may be handed out.
    pub fn ready(&mut self, chunk: u32) {
        if !self.done[chunk as usize] && !self.replaced[chunk as usize] {
            self.offer(chunk);
        }
    }

    /// Makes `chunk` one to hand out, unless a stop holds every other back.
    fn offer(&mut self, chunk: u32) {
        if self.only.is_none_or(|only| only == chunk) {
            self.ready.insert(chunk);
        }
    }

    /// After a stop that still needs `chunk` (the output's first): no other
    /// chunk is handed out any more, nor backed up, and a failure of it is
    /// retried whole, not split; the caller cancels the others' attempts
    /// (`cancelled`), whose slots then go to it. It may itself be backed up
    /// ([`Schedule::backups`]) though others were never started: the stop
    /// waits for it alone.
    pub fn only(&mut self, chunk: u32) {
        self.only = Some(chunk);
        self.ready.retain(|&c| c == chunk);
    }

    /// The chunk was verified by an earlier run of the job: it is done
    /// without running anywhere.
    pub fn reused(&mut self, chunk: u32) {
        let index = chunk as usize;
        if !self.done[index] {
            self.done[index] = true;
            self.ready.remove(&chunk);
            self.finished += 1;
        }
    }

    /// Whether every chunk is verified.
    pub fn is_finished(&self) -> bool {
        self.finished == self.live
    }

    /// Chunks the job consists of now (pieces of split chunks included,
    /// the chunks they replaced not).
    pub fn live(&self) -> usize {
        self.live
    }

    /// Chunks verified so far.
    pub fn finished(&self) -> usize {
        self.finished
    }

    /// Attempts running now.
    pub fn running(&self) -> usize {
        self.running
    }

    /// Chunks waiting for a node.
    pub fn waiting(&self) -> usize {
        self.ready.len()
    }

    /// Failed attempts that were queued again.
    pub fn retried(&self) -> u32 {
        self.retried
    }

    /// Whether a round of [`Schedule::assign`] could start anything.
    pub fn can_assign(&self) -> bool {
        !self.ready.is_empty() && self.nodes.iter().any(NodeBook::has_free_slot)
    }

    /// An error once no node is left to encode on and no attempt is left
    /// to finish: a node dropped for failing may still deliver the chunk it
    /// encoded before (with a queue place, its next chunk can fail while
    /// this one downloads), and that chunk is kept for a rerun.
    pub fn check_nodes(&self, last_error: &str) -> anyhow::Result<()> {
        if self.running == 0 && !self.nodes.iter().any(|node| node.alive) {
            bail!("no node is left to encode on; the last failure: {last_error}");
        }
        Ok(())
    }

    /// The waiting chunks, longest first (ties in plan order): a policy that
    /// hands them out in order starts the long ones while every node is
    /// busy, and leaves short ones for the tail, where one long chunk on one
    /// node would keep the others idle.
    fn longest_first(&self) -> Vec<u32> {
        let mut order: Vec<u32> = self.ready.iter().copied().collect();
        order.sort_by_key(|&i| std::cmp::Reverse(self.frames[i as usize]));
        order
    }

    fn views(&self, now_ms: u64) -> Vec<NodeView> {
        self.nodes.iter().filter(|node| node.alive).map(|node| node.view(now_ms)).collect()
    }

    /// Scheduling rounds until one starts nothing: idle slots fill in the
    /// first, queue places (which policies see as free once every slot is
    /// busy) in the next.
    pub fn assign(
        &mut self,
        policy: &mut dyn SchedulingPolicy,
        now_ms: u64,
    ) -> anyhow::Result<Vec<Start>> {
        let mut starts = Vec::new();
        loop {
            let round = self.assign_round(policy, now_ms)?;
            if round.is_empty() {
                return Ok(starts);
            }
            starts.extend(round);
        }
    }

    /// One scheduling round: the policy proposes, the host keeps what is
    /// usable (a waiting chunk, a live node with a free slot), and the
    /// default decides a round in which nothing runs and nothing usable was
    /// proposed, so a policy cannot stall a job.
    fn assign_round(
        &mut self,
        policy: &mut dyn SchedulingPolicy,
        now_ms: u64,
    ) -> anyhow::Result<Vec<Start>> {
        if !self.can_assign() {
            return Ok(Vec::new());
        }
        let request = AssignRequest {
            pending: self
                .longest_first()
                .into_iter()
                .map(|i| PendingChunk {
                    index: i,
                    frames: self.frames[i as usize],
                    attempts: self.attempts[i as usize],
                    failed_on: self.failed_on[i as usize].clone(),
                })
                .collect(),
            nodes: self.views(now_ms),
            seed: 0,
        };
        tracing::debug!(nodes = ?request.nodes, pending = request.pending.len(), "assign round");
        let mut assignments = match policy.assign(&request) {
            Ok(assignments) => assignments,
            Err(error) if policy.strict() => return Err(error),
            Err(error) => {
                warn!(%error, "the policy failed to assign; using the default for this decision");
                Vec::new()
            }
        };
        let usable = |a: &Assignment| {
            self.ready.contains(&a.chunk)
                && self.nodes.iter().any(|n| n.has_free_slot() && n.id == a.node)
        };
        if self.running == 0 && !assignments.iter().any(usable) {
            if policy.strict() && !assignments.is_empty() {
                bail!("the policy proposed no usable assignment (--policy-strict)");
            }
            assignments = policy::native_default().assign(&request)?;
        }
        let mut starts = Vec::new();
        for assignment in assignments {
            let Some(node) = self.nodes.iter().position(|n| n.id == assignment.node) else {
                warn!(node = %assignment.node, "the policy named an unknown node");
                continue;
            };
            if !self.nodes[node].has_free_slot() || !self.ready.remove(&assignment.chunk) {
                continue;
            }
            starts.push(self.start(assignment.chunk, node, now_ms, false));
        }
        Ok(starts)
    }

    fn start(&mut self, chunk: u32, node: usize, now_ms: u64, backup: bool) -> Start {
        let book = &mut self.nodes[node];
        let slot_at = (book.busy < book.slots).then_some(now_ms);
        book.busy += 1;
        self.running += 1;
        let index = chunk as usize;
        self.running_on[index].push(Attempt { node, since: now_ms, slot_at });
        self.attempts[index] += 1;
        Start { chunk, node, attempt: self.attempts[index], backup }
    }

    /// Backups for stragglers, once nothing is left to hand out (no chunk
    /// waits or is still being cut). A chunk running on one node is started
    /// on a node with a free slot too when that node, by its measured speed,
    /// would finish it well before the straggler: in under 1/[`BACKUP_GAIN`]
    /// of the time the straggler still needs by its own measured speed, or,
    /// if the straggler has none yet, once the chunk has run [`BACKUP_AFTER`]
    /// times what the free node would take. A chunk still queued behind a
    /// node's busy slots goes to an idle slot at once (and first), so an
    /// early hand-out never makes the tail wait. The largest gain goes
    /// first; a chunk gets one backup at most.
    pub fn backups(&mut self, now_ms: u64) -> Vec<Start> {
        if !self.can_back_up || !self.ready.is_empty() {
            return Vec::new();
        }
        // After a stop, the one chunk handed out is the only work left.
        let only = self.only;
        let handed_out = |chunk: usize| only.is_none_or(|only| only as usize == chunk);
        let unstarted = (0..self.frames.len()).any(|i| {
            handed_out(i) && !self.done[i] && !self.replaced[i] && self.running_on[i].is_empty()
        });
        if unstarted {
            return Vec::new();
        }
        let mut starts = Vec::new();
        loop {
            let mut best: Option<(f64, u32, usize)> = None;
            for (chunk, on) in self.running_on.iter().enumerate() {
                let [Attempt { node: straggler, slot_at, .. }] = on.as_slice() else { continue };
                if self.done[chunk] || self.backed_up[chunk] || !handed_out(chunk) {
                    continue;
                }
                let frames = self.frames[chunk] as f64;
                let time_on = |m: &Measured| frames * m.seconds / m.frames as f64;
                let slow = &self.nodes[*straggler].measured;
                let (ran, remaining) = match slot_at {
                    // Queued behind its node's busy slots, it has not
                    // started: an idle slot elsewhere starts it now.
                    None => (0.0, Some(f64::INFINITY)),
                    Some(since) => {
                        let ran = now_ms.saturating_sub(*since) as f64 / 1000.0;
                        (ran, (slow.frames > 0).then(|| (time_on(slow) - ran).max(0.0)))
                    }
                };
                for (node, book) in self.nodes.iter().enumerate() {
                    let m = &book.measured;
                    if node == *straggler || !book.has_idle_slot() || m.frames == 0 {
                        continue;
                    }
                    let expected = time_on(m).max(1e-3);
                    let gain = match remaining {
                        Some(remaining) if remaining > BACKUP_GAIN * expected => {
                            remaining / expected
                        }
                        None if ran > BACKUP_AFTER * expected => ran / expected,
                        _ => continue,
                    };
                    if best.is_none_or(|(b, _, _)| gain > b) {
                        best = Some((gain, chunk as u32, node));
                    }
                }
            }
            let Some((_, chunk, node)) = best else { break };
            self.backed_up[chunk as usize] = true;
            starts.push(self.start(chunk, node, now_ms, true));
        }
        starts
    }

    /// An attempt that dispatch cancelled (it lost to another): its slot is
    /// free, and nothing counts against the node.
    pub fn cancelled(&mut self, chunk: u32, node: usize, now_ms: u64) {
        if self.stop_attempt(chunk, node, now_ms).is_some() {
            self.running -= 1;
            self.nodes[node].busy -= 1;
        }
    }

    /// Forgets the attempt at `chunk` on `node`, and returns it; `None` if
    /// there was none. A slot it held goes to the chunk queued longest on
    /// that node, which the node starts next.
    fn stop_attempt(&mut self, chunk: u32, node: usize, now_ms: u64) -> Option<Attempt> {
        let on = &mut self.running_on[chunk as usize];
        let stopped = on.remove(on.iter().position(|a| a.node == node)?);
        if stopped.slot_at.is_some() {
            let next = self
                .running_on
                .iter_mut()
                .flatten()
                .filter(|a| a.node == node && a.slot_at.is_none())
                .min_by_key(|a| a.since);
            if let Some(next) = next {
                next.slot_at = Some(now_ms);
            }
        }
        Some(stopped)
    }

    /// The attempt's result is verified after `seconds` from its hand-out:
    /// the chunk's result, unless another attempt won first. The time it
    /// waited in a queue place does not count against the node's speed.
    pub fn succeeded(&mut self, chunk: u32, node: usize, seconds: f64, now_ms: u64) -> Verified {
        // A cancelled attempt that finished before it could be stopped.
        let Some(attempt) = self.stop_attempt(chunk, node, now_ms) else {
            return Verified::Late;
        };
        let queued = attempt.slot_at.map_or(0, |at| at.saturating_sub(attempt.since));
        let seconds = (seconds - queued as f64 / 1000.0).max(1e-3);
        self.running -= 1;
        let book = &mut self.nodes[node];
        book.busy -= 1;
        book.failures_in_a_row = 0;
        book.measured.done += 1;
        book.measured.frames += self.frames[chunk as usize];
        book.measured.seconds += seconds;
        let index = chunk as usize;
        if self.done[index] {
            return Verified::Late;
        }
        self.done[index] = true;
        self.finished += 1;
        Verified::Won { cancel: self.running_on[index].iter().map(|a| a.node).collect() }
    }

    /// The attempt failed with `error`; `lost` says the node itself is gone.
    /// A node that is gone, or keeps failing, gets no more work; the chunk is
    /// queued again, or is to be split as the policy asks, unless it reached
    /// [`MAX_ATTEMPTS`] or the policy gives up on it (both end the job). A
    /// split the host cannot make is refused as a policy error is: fatal
    /// under `--policy-strict`, else the chunk is retried whole.
    pub fn failed(
        &mut self,
        chunk: u32,
        node: usize,
        error: &str,
        lost: bool,
        policy: &mut dyn SchedulingPolicy,
        now_ms: u64,
    ) -> anyhow::Result<Requeued> {
        if self.stop_attempt(chunk, node, now_ms).is_none() {
            return Ok(Requeued::Covered);
        }
        self.running -= 1;
        if self.done[chunk as usize] {
            self.nodes[node].busy -= 1;
            return Ok(Requeued::Covered);
        }
        let book = &mut self.nodes[node];
        book.busy -= 1;
        // The other attempts a lost node held (a queue place's too) die
        // with it: one loss, counted once, so it can still come back.
        if !(lost && book.lost) {
            book.failures_in_a_row += 1;
        }
        book.measured.failed += 1;
        // Losses count too: a node that keeps vanishing mid-chunk is not
        // taken back forever.
        if book.failures_in_a_row >= MAX_NODE_FAILURES_IN_A_ROW && (book.alive || book.lost) {
            warn!(node = %book.id, "the node keeps failing; no more work for it in this job");
            book.alive = false;
            book.lost = false;
        } else if lost {
            book.alive = false;
            book.lost = true;
        }
        let id = book.id.clone();
        let index = chunk as usize;
        self.failed_on[index].push(id.clone());
        if !self.running_on[index].is_empty() {
            return Ok(Requeued::Covered);
        }
        if self.attempts[index] >= MAX_ATTEMPTS {
            bail!("chunk {index} failed {MAX_ATTEMPTS} times; last on node {id}: {error}");
        }
        let request = FailureRequest {
            chunk: PendingChunk {
                index: chunk,
                frames: self.frames[index],
                attempts: self.attempts[index],
                failed_on: self.failed_on[index].clone(),
            },
            node: id.clone(),
            error: error.to_string(),
            nodes: self.views(now_ms),
        };
        let avoid = match policy.on_failure(&request)? {
            FailureDecision::Retry { avoid } => avoid,
            // After a stop, the pieces would be chunks it holds back
            // (`Schedule::only`): the chunk is retried whole.
            FailureDecision::Split { .. } if self.only.is_some() => Vec::new(),
            FailureDecision::Split { at } => match self.check_split(index, &at) {
                Ok(()) => {
                    self.retried += 1;
                    return Ok(Requeued::Split(at));
                }
                Err(error) if policy.strict() => {
                    return Err(error.context("the policy's split (--policy-strict)"));
                }
                Err(error) => {
                    warn!(%error, "the policy's split was refused; the chunk is retried whole");
                    Vec::new()
                }
            },
            FailureDecision::GiveUp { reason } => {
                bail!("the policy gave up on chunk {index} after it failed on node {id}: {reason}")
            }
        };
        for avoided in avoid {
            if !self.failed_on[index].contains(&avoided) {
                self.failed_on[index].push(avoided);
            }
        }
        self.retried += 1;
        self.offer(chunk);
        Ok(Requeued::Whole)
    }

    /// The host's rule for a split: allowed for this job, offsets ascending
    /// and inside the chunk.
    fn check_split(&self, index: usize, at: &[u64]) -> anyhow::Result<()> {
        if !self.can_split {
            bail!("this job's chunks cannot be split (-vf fps)");
        }
        let frames = self.frames[index];
        if at.is_empty() || at.windows(2).any(|w| w[0] >= w[1]) {
            bail!("split offsets must be ascending and not empty: {at:?}");
        }
        if at[0] == 0 || at[at.len() - 1] >= frames {
            bail!("split offsets must lie inside the chunk's {frames} frames: {at:?}");
        }
        Ok(())
    }

    /// The node is gone: no more work for it (its running attempts still
    /// end through [`Schedule::failed`]).
    pub fn lose(&mut self, node: usize) {
        self.nodes[node].alive = false;
        self.nodes[node].lost = true;
    }

    /// The node sent a fresh report. A lost node is back (restarted, or its
    /// network healed): it takes work again; returns whether it came back.
    /// Its failures in a row still count until it verifies a chunk, and a
    /// node dropped for failing stays out.
    pub fn answered(&mut self, node: usize, telemetry: Telemetry) -> bool {
        let book = &mut self.nodes[node];
        book.telemetry = telemetry;
        if book.lost && !book.alive {
            book.alive = true;
            book.lost = false;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(chunks: usize, slots: &[u32]) -> Schedule {
        let nodes = slots
            .iter()
            .enumerate()
            .map(|(i, &s)| NodeBook::new(format!("n{i}"), s, Telemetry::default()))
            .collect();
        let mut schedule = Schedule::new(vec![10; chunks], nodes);
        for chunk in 0..chunks as u32 {
            schedule.ready(chunk);
        }
        schedule
    }

    #[test]
    fn slots_bound_what_starts_and_a_finished_job_says_so() {
        let mut policy = policy::native_default();
        let mut s = schedule(3, &[1, 1]);
        let starts = s.assign(policy.as_mut(), 0).unwrap();
        assert_eq!(starts.len(), 2);
        assert!(s.assign(policy.as_mut(), 0).unwrap().is_empty());
        let _ = s.succeeded(starts[0].chunk, starts[0].node, 1.0, 0);
        let next = s.assign(policy.as_mut(), 0).unwrap();
        assert_eq!(next, vec![Start { chunk: 2, node: starts[0].node, attempt: 1, backup: false }]);
        let _ = s.succeeded(starts[1].chunk, starts[1].node, 1.0, 0);
        let _ = s.succeeded(2, next[0].node, 1.0, 0);
        assert!(s.is_finished());
        assert_eq!(s.nodes[starts[0].node].view(0).measured_fps, 10.0);
    }

    #[test]
    fn the_longest_waiting_chunks_are_handed_out_first() {
        let mut policy = policy::native_default();
        let nodes = vec![NodeBook::new("n0".into(), 2, Telemetry::default())];
        let mut s = Schedule::new(vec![10, 30, 20, 30], nodes);
        (0..4).for_each(|chunk| s.ready(chunk));
        let chunks: Vec<u32> =
            s.assign(policy.as_mut(), 0).unwrap().iter().map(|st| st.chunk).collect();
        assert_eq!(chunks, vec![1, 3], "the two 30-frame chunks, in plan order");
        let _ = s.succeeded(1, 0, 1.0, 0);
        assert_eq!(s.assign(policy.as_mut(), 0).unwrap()[0].chunk, 2);
    }

    #[test]
    fn a_queue_place_takes_a_chunk_while_the_slot_is_busy_and_its_wait_is_not_counted() {
        let mut policy = policy::native_default();
        let mut s = schedule(4, &[1, 1]);
        for node in &mut s.nodes {
            node.queue = 1;
        }
        let first = s.assign(policy.as_mut(), 0).unwrap();
        assert_eq!(first.len(), 4, "a slot and a queue place on each node: {first:?}");
        assert!(s.nodes.iter().all(|n| n.view(0).slots_free == 0 && n.busy == 2));
        let (node, queued) = (first[0].node, first.iter().rfind(|st| st.node == first[0].node));
        let queued = queued.unwrap().chunk;
        // Its slot frees at 5 s: the queued chunk starts then, and the 5 s it
        // waited (uploading, then queued) do not slow the node's measure.
        let _ = s.succeeded(first[0].chunk, node, 5.0, 5000);
        assert_eq!(s.nodes[node].view(5000).slots_free, 1, "the queue place is free again");
        let _ = s.succeeded(queued, node, 8.0, 8000);
        assert_eq!(s.nodes[node].measured.seconds, 5.0 + 3.0);
        // Nothing waits, and the other node still holds two chunks: the one
        // queued there moves to the idle slot at once, before the one
        // running there straggles.
        let running = first.iter().find(|st| st.node != node).unwrap().chunk;
        let queued = first.iter().rfind(|st| st.node != node).unwrap().chunk;
        let backup = |chunk| Start { chunk, node, attempt: 2, backup: true };
        assert_eq!(s.backups(8000), vec![backup(queued)]);
        s.nodes[node].slots = 2;
        assert_eq!(s.backups(60_000), vec![backup(running)], "it straggles later");
    }

    #[test]
    fn a_lost_node_that_held_a_queued_chunk_too_is_lost_once_and_comes_back() {
        let mut policy = policy::native_default();
        let mut s = schedule(4, &[1, 1]);
        s.nodes[0].queue = 1;
        let starts = s.assign(policy.as_mut(), 0).unwrap();
        let on_lost: Vec<&Start> = starts.iter().filter(|st| st.node == 0).collect();
        assert_eq!(on_lost.len(), 2, "{starts:?}");
        for st in on_lost {
            let _ = s.failed(st.chunk, 0, "gone", true, policy.as_mut(), 0).unwrap();
        }
        assert!(s.nodes[0].lost && s.nodes[0].failures_in_a_row == 1);
        assert!(s.answered(0, Telemetry::default()), "a restarted node takes work again");
    }

    #[test]
    fn a_failed_chunk_goes_elsewhere_and_the_cap_ends_the_job() {
        let mut policy = policy::native_default();
        let mut s = schedule(1, &[1, 1]);
        let first = s.assign(policy.as_mut(), 0).unwrap()[0];
        let requeued = s.failed(first.chunk, first.node, "boom", false, policy.as_mut(), 0);
        assert_eq!(requeued.unwrap(), Requeued::Whole);
        let second = s.assign(policy.as_mut(), 0).unwrap()[0];
        assert_ne!(second.node, first.node);
        assert_eq!(second.attempt, 2);
        assert_eq!(s.retried(), 1);
        let _ = s.failed(second.chunk, second.node, "boom", false, policy.as_mut(), 0).unwrap();
        let third = s.assign(policy.as_mut(), 0).unwrap()[0];
        let error = s.failed(third.chunk, third.node, "boom", false, policy.as_mut(), 0);
        assert!(error.unwrap_err().to_string().contains("failed 3 times"));
    }

    #[test]
    fn a_lost_node_gets_no_more_work() {
        let mut policy = policy::native_default();
        let mut s = schedule(2, &[1, 1]);
        let starts = s.assign(policy.as_mut(), 0).unwrap();
        let _ =
            s.failed(starts[0].chunk, starts[0].node, "gone", true, policy.as_mut(), 0).unwrap();
        let _ = s.succeeded(starts[1].chunk, starts[1].node, 1.0, 0);
        let again = s.assign(policy.as_mut(), 0).unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].node, starts[1].node);
        s.lose(starts[1].node);
        assert!(s.check_nodes("x").is_ok(), "its running attempt may still deliver");
        let _ = s.failed(again[0].chunk, again[0].node, "gone", true, policy.as_mut(), 0).unwrap();
        assert!(s.check_nodes("x").is_err());
    }

    #[test]
    fn a_lost_node_that_answers_again_takes_work_and_a_failing_one_does_not() {
        let mut policy = policy::native_default();
        let mut s = schedule(4, &[1, 1]);
        let starts = s.assign(policy.as_mut(), 0).unwrap();
        let (lost, other) = (starts[0].node, starts[1].node);
        let _ = s.failed(starts[0].chunk, lost, "gone", true, policy.as_mut(), 0).unwrap();
        assert!(!s.nodes[lost].has_free_slot());
        assert!(!s.answered(other, Telemetry::default()), "a live node does not come back");
        assert!(s.answered(lost, Telemetry::default()));
        let again = s.assign(policy.as_mut(), 0).unwrap();
        assert!(again.iter().any(|start| start.node == lost), "{again:?}");
        // Lost again before verifying anything, it failed twice in a row:
        // dropped for failing, a node stays out whatever it reports.
        let start = again.iter().find(|start| start.node == lost).unwrap();
        let _ = s.failed(start.chunk, lost, "gone again", true, policy.as_mut(), 0).unwrap();
        assert!(!s.nodes[lost].alive && !s.nodes[lost].lost);
        assert!(!s.answered(lost, Telemetry::default()));
        assert!(!s.nodes[lost].alive);
    }

    #[test]
    fn a_straggling_chunk_gets_one_backup_and_the_first_result_wins() {
        let mut policy = policy::native_default();
        let mut s = schedule(2, &[1, 1]);
        let starts = s.assign(policy.as_mut(), 0).unwrap();
        let (fast, slow) = (starts[0].node, starts[1].node);
        let straggling = starts[1].chunk;
        assert_eq!(s.succeeded(starts[0].chunk, fast, 1.0, 0), Verified::Won { cancel: vec![] });
        // Nothing is known of the slow node: twice the fast node's time first.
        assert!(s.backups(1_500).is_empty());
        let backup = s.backups(2_500);
        assert_eq!(backup, vec![Start { chunk: straggling, node: fast, attempt: 2, backup: true }]);
        assert!(s.backups(9_000).is_empty(), "one backup per chunk");
        // The backup wins; the straggler is cancelled, and its result, should
        // it come anyway, is late.
        assert_eq!(s.succeeded(straggling, fast, 1.0, 0), Verified::Won { cancel: vec![slow] });
        s.cancelled(straggling, slow, 0);
        assert_eq!(s.succeeded(straggling, slow, 9.0, 0), Verified::Late);
        assert!(s.is_finished());
        assert_eq!((s.running(), s.nodes[slow].busy, s.nodes[fast].busy), (0, 0, 0));
        assert_eq!(s.nodes[slow].failures_in_a_row, 0, "losing a race is no failure");
    }

    #[test]
    fn no_backup_while_work_waits_or_when_the_straggler_will_finish_first() {
        let mut policy = policy::native_default();
        let mut s = schedule(3, &[1, 1]);
        let starts = s.assign(policy.as_mut(), 0).unwrap();
        let (fast, slow) = (starts[0].node, starts[1].node);
        assert_eq!(s.succeeded(starts[0].chunk, fast, 1.0, 0), Verified::Won { cancel: vec![] });
        assert!(s.backups(5_000).is_empty(), "a chunk still waits");
        let third = s.assign(policy.as_mut(), 5_000).unwrap();
        assert_eq!(third[0].node, fast);
        assert_eq!(s.succeeded(third[0].chunk, fast, 1.0, 0), Verified::Won { cancel: vec![] });
        // The slow node is measured at 1.2 s a chunk: 0.2 s left is not
        // worth a 1 s backup.
        s.nodes[slow].measured = Measured { done: 1, failed: 0, frames: 10, seconds: 1.2 };
        assert!(s.backups(1_000).is_empty());
        // Measured at 10 s a chunk, with 9 s left, it is.
        s.nodes[slow].measured.seconds = 10.0;
        assert_eq!(s.backups(1_000).len(), 1);
        // A failed backup leaves the straggler running: nothing is queued.
        let requeued = s.failed(starts[1].chunk, fast, "x", false, policy.as_mut(), 2_000).unwrap();
        assert_eq!(requeued, Requeued::Covered);
        assert_eq!(s.waiting(), 0);
        assert_eq!(s.running(), 1);
    }

    /// A policy that gives up on the first failure.
    struct GivesUp;

    impl SchedulingPolicy for GivesUp {
        fn plan(&mut self, r: &policy_sdk::PlanRequest) -> anyhow::Result<policy_sdk::ChunkPlan> {
            policy::native_default().plan(r)
        }
        fn assign(&mut self, r: &AssignRequest) -> anyhow::Result<Vec<Assignment>> {
            policy::native_default().assign(r)
        }
        fn on_failure(&mut self, _: &FailureRequest) -> anyhow::Result<FailureDecision> {
            Ok(FailureDecision::GiveUp { reason: "no second chances".into() })
        }
    }

    /// A policy that splits every failed chunk at `at`.
    struct Splits(Vec<u64>);

    impl SchedulingPolicy for Splits {
        fn plan(&mut self, r: &policy_sdk::PlanRequest) -> anyhow::Result<policy_sdk::ChunkPlan> {
            policy::native_default().plan(r)
        }
        fn assign(&mut self, r: &AssignRequest) -> anyhow::Result<Vec<Assignment>> {
            policy::native_default().assign(r)
        }
        fn on_failure(&mut self, _: &FailureRequest) -> anyhow::Result<FailureDecision> {
            Ok(FailureDecision::Split { at: self.0.clone() })
        }
    }

    #[test]
    fn a_split_chunk_is_replaced_by_its_pieces() {
        let mut s = schedule(1, &[1, 1]);
        let first = s.assign(&mut Splits(vec![3, 7]), 0).unwrap()[0];
        let requeued = s.failed(first.chunk, first.node, "boom", false, &mut Splits(vec![3, 7]), 0);
        assert_eq!(requeued.unwrap(), Requeued::Split(vec![3, 7]));
        let pieces = s.split(first.chunk, &[3, 4, 3]);
        assert_eq!(pieces, vec![1, 2, 3]);
        assert!(s.is_replaced(0));
        assert_eq!(s.live(), 3);
        pieces.iter().for_each(|&p| s.ready(p));
        s.ready(0);
        assert_eq!(s.waiting(), 3, "the split chunk never waits again");
        let starts = s.assign(&mut Splits(vec![1]), 0).unwrap();
        // The pieces keep the attempt count and avoid the node that failed.
        assert!(starts.iter().all(|st| st.attempt == 2 && st.node != first.node));
        for st in &starts {
            let _ = s.succeeded(st.chunk, st.node, 1.0, 0);
        }
        let rest = s.assign(&mut Splits(vec![1]), 0).unwrap();
        for st in &rest {
            let _ = s.succeeded(st.chunk, st.node, 1.0, 0);
        }
        let last = s.assign(&mut Splits(vec![1]), 0).unwrap();
        for st in &last {
            let _ = s.succeeded(st.chunk, st.node, 1.0, 0);
        }
        assert!(s.is_finished());
    }

    #[test]
    fn a_split_the_host_cannot_make_is_a_whole_retry_or_fatal_when_strict() {
        let mut s = schedule(1, &[1, 1]);
        let first = s.assign(&mut Splits(vec![10]), 0).unwrap()[0];
        let requeued = s.failed(first.chunk, first.node, "boom", false, &mut Splits(vec![10]), 0);
        assert_eq!(requeued.unwrap(), Requeued::Whole, "10 is not inside 10 frames");
        let mut s = schedule(1, &[1, 1]);
        s.allow_splits(false);
        let first = s.assign(&mut Splits(vec![5]), 0).unwrap()[0];
        let requeued = s.failed(first.chunk, first.node, "boom", false, &mut Splits(vec![5]), 0);
        assert_eq!(requeued.unwrap(), Requeued::Whole);
    }

    /// After a stop only the first chunk is handed out, and a failure of it
    /// is retried whole: its pieces would be held back, and the stop would
    /// wait for them forever.
    #[test]
    fn after_a_stop_only_the_first_chunk_runs_and_is_never_split() {
        let mut s = schedule(3, &[1, 1]);
        s.only(0);
        s.ready(2);
        assert_eq!(s.waiting(), 1, "only chunk 0 waits");
        let first = s.assign(&mut Splits(vec![3, 7]), 0).unwrap()[0];
        assert_eq!(first.chunk, 0);
        let requeued = s.failed(first.chunk, first.node, "boom", false, &mut Splits(vec![3, 7]), 0);
        assert_eq!(requeued.unwrap(), Requeued::Whole);
        assert_eq!(s.waiting(), 1);
    }

    /// After a stop, the first chunk straggling on a slow node is backed up
    /// on a fast idle one, though other chunks were never started.
    #[test]
    fn after_a_stop_the_first_chunk_may_be_backed_up() {
        let mut policy = policy::native_default();
        let mut s = schedule(4, &[1, 1]);
        let starts = s.assign(policy.as_mut(), 0).unwrap();
        let slow_start = starts.iter().find(|start| start.chunk == 0).unwrap();
        let (slow, fast) = (slow_start.node, 1 - slow_start.node);
        let other = starts.iter().find(|start| start.chunk != 0).unwrap().chunk;
        s.cancelled(other, fast, 0);
        s.only(0);
        s.nodes[fast].measured = Measured { done: 3, failed: 0, frames: 30, seconds: 3.0 };
        s.nodes[slow].measured = Measured { done: 1, failed: 0, frames: 10, seconds: 20.0 };
        let backups = s.backups(1_000);
        assert_eq!(backups, vec![Start { chunk: 0, node: fast, attempt: 2, backup: true }]);
        assert!(s.backups(1_000).is_empty(), "one backup per chunk");
    }

    #[test]
    fn the_policy_may_give_up_on_a_chunk() {
        let mut s = schedule(1, &[1, 1]);
        let first = s.assign(&mut GivesUp, 0).unwrap()[0];
        let error = s.failed(first.chunk, first.node, "boom", false, &mut GivesUp, 0).unwrap_err();
        assert!(error.to_string().contains("no second chances"), "{error}");
    }
}
