//! An example policy, meant to be copied: send each chunk to the node with
//! the most idle CPU, using what nodes report (sysinfo's CPU usage over the
//! CPUs the node may use, other programs' only; the load average; free
//! memory).
//!
//! Chunk boundaries are the default policy's; only the choice of node
//! differs. To make your own: copy this crate, change [`score`], build with
//! `cargo build --release --target wasm32-unknown-unknown -p least-loaded-policy`,
//! and run `dffmpeg --policy target/wasm32-unknown-unknown/release/least_loaded_policy.wasm ...`.

use default_policy::SlotWeightedRoundRobin;
use policy_sdk::{
    AssignRequest, Assignment, ChunkPlan, NodeView, PlanRequest, Policy, PolicyError, PolicyInfo,
    abi,
};

/// Below this much free memory a node is avoided while another can take work.
const LOW_MEMORY: u64 = 512 << 20;

/// Least loaded first. Stateless.
#[derive(Debug, Default, Clone, Copy)]
pub struct LeastLoaded;

policy_sdk::export_policy!(LeastLoaded);

/// How busy a node is, lower is better: the share of its CPUs other
/// programs use (the node leaves its own encodes out; the load average,
/// machine-wide and counting those encodes, serves only when the node
/// reported no CPU figures at all), plus the share of its slots this job
/// fills, plus a penalty when memory is short. A usage of exactly 0 is a
/// figure, not a missing one: an idle node whose only load is its own
/// encodes reports it.
pub fn score(node: &NodeView, free_slots: u32) -> f64 {
    let cpus = f64::from(node.cpu_count.max(1));
    let reported = node.cpu_count > 0;
    let usage = if reported { node.cpu_usage / 100.0 } else { node.load_1 / cpus };
    let usage = usage.clamp(0.0, 4.0);
    let filled = 1.0 - f64::from(free_slots) / f64::from(node.slots_total.max(1));
    let memory =
        if node.memory_available > 0 && node.memory_available < LOW_MEMORY { 1.0 } else { 0.0 };
    usage + filled + memory
}

impl Policy for LeastLoaded {
    fn describe(&self) -> PolicyInfo {
        PolicyInfo {
            name: "least-loaded".into(),
            version: "1".into(),
            abi_minor: abi::ABI_MINOR,
            ..PolicyInfo::default()
        }
    }

    fn plan_chunks(&mut self, request: &PlanRequest) -> Result<ChunkPlan, PolicyError> {
        SlotWeightedRoundRobin.plan_chunks(request)
    }

    fn assign(&mut self, request: &AssignRequest) -> Result<Vec<Assignment>, PolicyError> {
        let mut free: Vec<u32> = request.nodes.iter().map(|n| n.slots_free).collect();
        let mut out = Vec::new();
        for chunk in &request.pending {
            let best = request.candidates(chunk, &free).min_by(|&a, &b| {
                let (sa, sb) =
                    (score(&request.nodes[a], free[a]), score(&request.nodes[b], free[b]));
                sa.total_cmp(&sb).then(a.cmp(&b))
            });
            let Some(i) = best else { continue };
            // A node far busier than the best idle one is not worth a chunk
            // now: wait for a slot on a quieter node instead.
            let quietest = (0..request.nodes.len())
                .map(|j| score(&request.nodes[j], request.nodes[j].slots_total))
                .fold(f64::INFINITY, f64::min);
            if score(&request.nodes[i], request.nodes[i].slots_total) > quietest + 0.5 {
                policy_sdk::info!("chunk {} waits: {} is busy", chunk.index, request.nodes[i].id);
                continue;
            }
            free[i] -= 1;
            out.push(Assignment { chunk: chunk.index, node: request.nodes[i].id.clone() });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy_sdk::PendingChunk;

    fn node(id: &str, usage: f64) -> NodeView {
        NodeView {
            id: id.into(),
            slots_total: 1,
            slots_free: 1,
            cpu_count: 1,
            cpu_usage: usage,
            ..NodeView::default()
        }
    }

    #[test]
    fn the_idle_node_gets_the_work_and_the_busy_one_waits() {
        let pending =
            (0..2).map(|i| PendingChunk { index: i, ..PendingChunk::default() }).collect();
        let request =
            AssignRequest { pending, nodes: vec![node("busy", 95.0), node("idle", 3.0)], seed: 0 };
        let got = LeastLoaded.assign(&request).unwrap();
        assert_eq!(got, vec![Assignment { chunk: 0, node: "idle".into() }]);
        let even = AssignRequest { nodes: vec![node("a", 10.0), node("b", 12.0)], ..request };
        assert_eq!(LeastLoaded.assign(&even).unwrap().len(), 2);
    }

    /// Seen in CI: the idle node's own encodes filled its core, so it
    /// reported 0% of other programs, and a machine-wide load of 2 (the busy
    /// core's loop and the encodes) made it look the busier one.
    #[test]
    fn zero_usage_is_idle_not_unknown() {
        let pending =
            (0..1).map(|i| PendingChunk { index: i, ..PendingChunk::default() }).collect();
        let busy = NodeView { load_1: 2.0, ..node("busy", 98.0) };
        let idle = NodeView { load_1: 2.0, ..node("idle", 0.0) };
        let request = AssignRequest { pending, nodes: vec![busy, idle], seed: 0 };
        let got = LeastLoaded.assign(&request).unwrap();
        assert_eq!(got, vec![Assignment { chunk: 0, node: "idle".into() }]);
    }
}
