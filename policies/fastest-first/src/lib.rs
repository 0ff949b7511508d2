//! An example policy, meant to be copied: give work to the nodes that encode
//! fastest, and end the job with short chunks, so that the last chunk on a
//! slow node cannot hold everything up.
//!
//! - Plan: chunks of the requested length, except the tail: the last
//!   `2 x slots` chunks get a quarter of that length, so the final seconds
//!   spread over every slot and finish close together.
//! - Assign: each chunk to the free node with the highest measured speed
//!   (frames per second per slot, as the coordinator measured it on this job,
//!   else as the node reported it); nodes not measured yet count as average.
//!   Near the end a slow node is left idle rather than given a chunk it
//!   would finish after the rest of the cluster could have done all the
//!   remaining work, that chunk included (`dffmpeg policy simulate` shows the
//!   difference: try `--nodes 2x1.0,1x0.25`).
//! - On failure: a chunk of 2 frames or more is split in two when the other
//!   nodes have two slots or more between them, so that the redone work runs
//!   on two slots at once instead of one; otherwise it is retried whole.
//!   Either way it avoids the node it failed on.
//!
//! Build: `cargo build --release --target wasm32-unknown-unknown -p fastest-first-policy`.

use policy_sdk::{
    AssignRequest, Assignment, ChunkPlan, FailureDecision, FailureRequest, NodeView, PlanRequest,
    Policy, PolicyError, PolicyInfo, abi,
};

/// Fastest first, with a fine-grained tail. Stateless.
#[derive(Debug, Default, Clone, Copy)]
pub struct FastestFirst;

policy_sdk::export_policy!(FastestFirst);

/// A node's speed per slot, in frames per second; `None` when unknown.
/// The coordinator measures per chunk, so per slot; the node's own figure
/// counts all its slots together.
pub fn speed(node: &NodeView) -> Option<f64> {
    if node.measured_fps > 0.0 {
        return Some(node.measured_fps);
    }
    (node.recent_fps > 0.0).then(|| node.recent_fps / f64::from(node.slots_total.max(1)))
}

impl Policy for FastestFirst {
    fn describe(&self) -> PolicyInfo {
        PolicyInfo {
            name: "fastest-first".into(),
            version: "1".into(),
            abi_minor: abi::ABI_MINOR,
            ..PolicyInfo::default()
        }
    }

    fn plan_chunks(&mut self, request: &PlanRequest) -> Result<ChunkPlan, PolicyError> {
        let frames = request.job.frame_count;
        if frames == 0 {
            return Err(PolicyError { code: "empty".into(), message: "no frames".into() });
        }
        let fps = if request.job.fps > 0.0 { request.job.fps } else { 25.0 };
        let slots: u64 = request.nodes.iter().map(|n| u64::from(n.slots_total)).sum::<u64>().max(1);
        let length = ((request.bounds.target_seconds * fps).round() as u64).max(4);
        let tail = (length / 4).max(1);
        // The tail: 2 x slots short chunks, or less when the input is short.
        let tail_frames = (2 * slots * tail).min(frames / 2);
        let body_end = frames - tail_frames;
        let mut starts: Vec<u64> = (0..body_end).step_by(length as usize).collect();
        let mut at = body_end;
        while at < frames {
            if starts.last() != Some(&at) {
                starts.push(at);
            }
            at += tail;
        }
        if starts.is_empty() {
            starts.push(0);
        }
        Ok(ChunkPlan { starts })
    }

    fn assign(&mut self, request: &AssignRequest) -> Result<Vec<Assignment>, PolicyError> {
        let known: Vec<f64> = request.nodes.iter().filter_map(speed).collect();
        let average =
            if known.is_empty() { 1.0 } else { known.iter().sum::<f64>() / known.len() as f64 };
        let speeds: Vec<f64> = request.nodes.iter().map(|n| speed(n).unwrap_or(average)).collect();
        let fastest = speeds.iter().copied().fold(f64::MIN_POSITIVE, f64::max);
        // Frames per second of the whole cluster, every slot busy.
        let rate: f64 =
            request.nodes.iter().zip(&speeds).map(|(n, s)| f64::from(n.slots_total) * s).sum();
        let mut remaining: u64 = request.pending.iter().map(|c| c.frames).sum();
        let mut free: Vec<u32> = request.nodes.iter().map(|n| n.slots_free).collect();
        let mut out = Vec::new();
        for chunk in &request.pending {
            let frames = chunk.frames as f64;
            // When the rest of the cluster would be done with everything
            // left (this chunk too) before this node finished this chunk.
            let elsewhere = remaining as f64 / rate.max(f64::MIN_POSITIVE) + frames / fastest;
            let best = request
                .candidates(chunk, &free)
                .filter(|&i| frames / speeds[i] <= elsewhere)
                .max_by(|&a, &b| speeds[a].total_cmp(&speeds[b]).then(b.cmp(&a)));
            let Some(i) = best else { continue };
            free[i] -= 1;
            remaining -= chunk.frames;
            out.push(Assignment { chunk: chunk.index, node: request.nodes[i].id.clone() });
        }
        Ok(out)
    }

    fn on_failure(&mut self, request: &FailureRequest) -> Result<FailureDecision, PolicyError> {
        let elsewhere: u32 = request
            .nodes
            .iter()
            .filter(|n| !request.chunk.failed_on.contains(&n.id))
            .map(|n| n.slots_total)
            .sum();
        let frames = request.chunk.frames;
        if frames >= 2 && elsewhere >= 2 {
            Ok(FailureDecision::Split { at: vec![frames / 2] })
        } else {
            Ok(FailureDecision::Retry { avoid: vec![request.node.clone()] })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy_sdk::{ChunkBounds, JobInfo, PendingChunk};

    fn node(id: &str, measured_fps: f64) -> NodeView {
        NodeView {
            id: id.into(),
            slots_total: 1,
            slots_free: 1,
            measured_fps,
            ..NodeView::default()
        }
    }

    #[test]
    fn the_tail_is_cut_finer() {
        let request = PlanRequest {
            job: JobInfo { frame_count: 1000, fps: 25.0, ..JobInfo::default() },
            nodes: vec![node("a", 0.0), node("b", 0.0)],
            bounds: ChunkBounds { target_seconds: 4.0, ..ChunkBounds::default() },
            ..PlanRequest::default()
        };
        let starts = FastestFirst.plan_chunks(&request).unwrap().starts;
        assert_eq!(&starts[..3], &[0, 100, 200]);
        // The last four chunks are a quarter as long.
        let tail: Vec<u64> = starts.windows(2).rev().take(3).map(|w| w[1] - w[0]).collect();
        assert_eq!(tail, vec![25, 25, 25]);
        assert_eq!(1000 - starts.last().unwrap(), 25);
    }

    #[test]
    fn the_fastest_free_node_first() {
        let pending = vec![PendingChunk { index: 0, ..PendingChunk::default() }];
        let request =
            AssignRequest { pending, nodes: vec![node("slow", 10.0), node("fast", 40.0)], seed: 0 };
        assert_eq!(FastestFirst.assign(&request).unwrap()[0].node, "fast");
    }

    #[test]
    fn a_failed_chunk_is_halved_when_two_slots_can_redo_it() {
        let mut other = node("b", 20.0);
        let failure = |other: NodeView| FailureRequest {
            chunk: PendingChunk { index: 4, frames: 101, attempts: 1, failed_on: vec!["a".into()] },
            node: "a".into(),
            error: "ffmpeg failed".into(),
            nodes: vec![node("a", 20.0), other],
        };
        let one_slot = FastestFirst.on_failure(&failure(other.clone())).unwrap();
        assert_eq!(one_slot, FailureDecision::Retry { avoid: vec!["a".into()] });
        other.slots_total = 2;
        let two_slots = FastestFirst.on_failure(&failure(other)).unwrap();
        assert_eq!(two_slots, FailureDecision::Split { at: vec![50] });
    }

    #[test]
    fn a_slow_node_is_left_idle_for_the_last_chunk() {
        let mut fast = node("fast", 40.0);
        fast.slots_free = 0;
        let nodes = vec![node("slow", 10.0), fast];
        let chunk = |index| PendingChunk { index, frames: 100, ..PendingChunk::default() };
        // Much left: the slow node's 10 s are well spent.
        let busy =
            AssignRequest { pending: (0..10).map(chunk).collect(), nodes: nodes.clone(), seed: 0 };
        assert_eq!(FastestFirst.assign(&busy).unwrap()[0].node, "slow");
        // One chunk left: the fast node does it in 2.5 s once free.
        let last = AssignRequest { pending: vec![chunk(9)], nodes, seed: 0 };
        assert!(FastestFirst.assign(&last).unwrap().is_empty());
    }
}
