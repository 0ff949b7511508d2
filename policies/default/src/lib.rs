//! The default scheduling policy: slot-weighted round robin.
//!
//! Chunk length comes from the requested segment duration, shortened when
//! that would leave slots idle, so that a short input still spreads over the
//! whole cluster. Chunks go, in plan order, to the node whose slots are the
//! least filled, which spreads work in proportion to slots. A chunk never goes
//! back to a node it failed on while another node could take it, even if that
//! node is busy now: it waits for that node's slot instead.

use policy_sdk::{
    AssignRequest, Assignment, ChunkPlan, PlanRequest, Policy, PolicyError, PolicyInfo, abi,
};

/// Slot-weighted round robin. Stateless: every decision follows from its input.
#[derive(Debug, Default, Clone, Copy)]
pub struct SlotWeightedRoundRobin;

#[cfg(feature = "export")]
policy_sdk::export_policy!(SlotWeightedRoundRobin);

impl Policy for SlotWeightedRoundRobin {
    fn describe(&self) -> PolicyInfo {
        PolicyInfo {
            name: "slot-weighted-round-robin".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            abi_minor: abi::ABI_MINOR,
            scene_threshold: None,
        }
    }

    fn plan_chunks(&mut self, request: &PlanRequest) -> Result<ChunkPlan, PolicyError> {
        let frames = request.job.frame_count;
        if frames == 0 {
            return Err(PolicyError {
                code: "empty".into(),
                message: "the job has no frames".into(),
            });
        }
        let bounds = &request.bounds;
        let fps = if request.job.fps > 0.0 { request.job.fps } else { 25.0 };
        let mut length = (bounds.target_seconds * fps).round().max(1.0) as u64;
        let slots: u64 = request.nodes.iter().map(|n| u64::from(n.slots_total)).sum::<u64>().max(1);
        if frames.div_ceil(length) < slots {
            length = frames.div_ceil(slots);
        }
        let length = length.clamp(bounds.min_frames.max(1), bounds.max_frames.max(1));
        let count = frames.div_ceil(length);
        // Spread the remainder so that chunk lengths differ by at most one.
        let starts = (0..count).map(|i| i * frames / count).collect();
        Ok(ChunkPlan { starts })
    }

    fn assign(&mut self, request: &AssignRequest) -> Result<Vec<Assignment>, PolicyError> {
        let mut free: Vec<u32> = request.nodes.iter().map(|n| n.slots_free).collect();
        let mut out = Vec::new();
        for chunk in &request.pending {
            let fill = |i: usize| {
                let node = &request.nodes[i];
                let busy = node.slots_total.saturating_sub(free[i]);
                (u64::from(busy) * 1_000_000) / u64::from(node.slots_total.max(1))
            };
            let pick = request.candidates(chunk, &free).min_by_key(|&i| (fill(i), i));
            let Some(i) = pick else { continue };
            free[i] -= 1;
            out.push(Assignment { chunk: chunk.index, node: request.nodes[i].id.clone() });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy_sdk::{ChunkBounds, JobInfo, NodeView, PendingChunk};

    fn node(id: &str, total: u32, free: u32) -> NodeView {
        NodeView { id: id.into(), slots_total: total, slots_free: free, ..NodeView::default() }
    }

    #[test]
    fn plan_uses_segment_duration_and_covers_every_frame() {
        let request = PlanRequest {
            job: JobInfo { frame_count: 1000, fps: 25.0, ..JobInfo::default() },
            nodes: vec![node("a", 1, 1)],
            bounds: ChunkBounds { target_seconds: 10.0, min_frames: 1, max_frames: u64::MAX },
            ..PlanRequest::default()
        };
        let plan = SlotWeightedRoundRobin.plan_chunks(&request).unwrap();
        assert_eq!(plan.starts, vec![0, 250, 500, 750]);
    }

    #[test]
    fn plan_shortens_chunks_so_every_slot_gets_work() {
        let request = PlanRequest {
            job: JobInfo { frame_count: 100, fps: 25.0, ..JobInfo::default() },
            nodes: vec![node("a", 2, 2), node("b", 2, 2)],
            bounds: ChunkBounds { target_seconds: 10.0, min_frames: 1, max_frames: u64::MAX },
            ..PlanRequest::default()
        };
        let plan = SlotWeightedRoundRobin.plan_chunks(&request).unwrap();
        assert_eq!(plan.starts, vec![0, 25, 50, 75]);
    }

    #[test]
    fn assign_spreads_by_slots_and_avoids_failed_nodes() {
        let pending = (0..4)
            .map(|i| PendingChunk {
                index: i,
                frames: 10,
                attempts: 0,
                failed_on: if i == 0 { vec!["a".into()] } else { vec![] },
            })
            .collect();
        let request =
            AssignRequest { pending, nodes: vec![node("a", 1, 1), node("b", 2, 2)], seed: 0 };
        let got = SlotWeightedRoundRobin.assign(&request).unwrap();
        let pairs: Vec<_> = got.iter().map(|a| (a.chunk, a.node.as_str())).collect();
        assert_eq!(pairs, vec![(0, "b"), (1, "a"), (2, "b")]);
    }

    #[test]
    fn a_failed_chunk_waits_for_another_node_rather_than_going_back() {
        let pending =
            vec![PendingChunk { index: 7, frames: 10, attempts: 1, failed_on: vec!["a".into()] }];
        let busy = AssignRequest {
            pending: pending.clone(),
            nodes: vec![node("a", 1, 1), node("b", 1, 0)],
            seed: 0,
        };
        assert!(SlotWeightedRoundRobin.assign(&busy).unwrap().is_empty());
        let only_a = AssignRequest { pending, nodes: vec![node("a", 1, 1)], seed: 0 };
        assert_eq!(SlotWeightedRoundRobin.assign(&only_a).unwrap().len(), 1);
    }
}
