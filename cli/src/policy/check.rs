//! `dffmpeg policy check FILE`: a policy author's first test. Loads the
//! module with every load-time check a job makes, runs it on built-in
//! fixtures through the same sandbox, checks each answer as the host does,
//! and prints the decisions, so a mistake shows before a real cluster runs.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::bail;
use policy_sdk::{
    AssignRequest, Assignment, ChunkBounds, FailureRequest, JobInfo, NodeView, PendingChunk,
    PlanRequest,
};

use super::wasm::WasmPolicy;

/// A two-hour 1080p encode at 25 fps, keyframes every 10 s, scenes 2 to 20 s
/// long, on `nodes`.
pub fn two_hour_plan(nodes: Vec<NodeView>) -> PlanRequest {
    let frames = 2 * 3600 * 25;
    PlanRequest {
        job: JobInfo {
            duration_seconds: 7200.0,
            frame_count: frames,
            fps: 25.0,
            width: 1920,
            height: 1080,
            encoder: "libx264".into(),
            encoder_options: vec![("crf".into(), "23".into()), ("preset".into(), "slow".into())],
        },
        keyframes: (0..frames).step_by(250).collect(),
        scene_cuts: super::simulate::scene_cuts(frames, 25.0, 1),
        nodes,
        bounds: ChunkBounds { target_seconds: 10.0, min_frames: 1, max_frames: u64::MAX },
        ..PlanRequest::default()
    }
}

/// `count` nodes of mixed size and load, some of their slots taken.
pub fn cluster(count: usize) -> Vec<NodeView> {
    (0..count)
        .map(|i| {
            let slots = [1, 2, 4, 8][i % 4];
            NodeView {
                id: format!("node-{i:02}:50051"),
                slots_total: slots,
                slots_free: slots - (i as u32 % slots),
                cpu_count: slots * 2,
                load_1: (i % 5) as f64 * 0.7,
                cpu_usage: (i * 13 % 100) as f64,
                memory_available: (4 + i as u64) << 30,
                recent_fps: 20.0 + i as f64,
                measured_fps: if i % 3 == 0 { 0.0 } else { 10.0 + i as f64 },
                chunks_done: i as u32,
                chunks_failed: (i % 7 == 6) as u32,
                report_age_ms: 400,
            }
        })
        .collect()
}

/// `count` pending chunks, a few retried after failing somewhere.
pub fn pending(count: u32, nodes: &[NodeView]) -> Vec<PendingChunk> {
    (0..count)
        .map(|index| PendingChunk {
            index,
            frames: 250,
            attempts: u32::from(index % 9 == 4),
            failed_on: if index % 9 == 4 { vec![nodes[0].id.clone()] } else { Vec::new() },
        })
        .collect()
}

/// Runs `path` through the fixtures; the text is the report, and an error
/// names the first answer the host would refuse.
pub fn run(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path)?;
    let policy = WasmPolicy::load(&bytes)?;
    let mut out = String::new();
    let info = &policy.info;
    let _ = writeln!(
        out,
        "policy {} {} (ABI 1.{}), {}",
        info.name,
        info.version,
        info.abi_minor,
        path.display()
    );
    if let Some(threshold) = info.scene_threshold {
        let _ = writeln!(
            out,
            "scenes  asks for scene cuts (score above {threshold}): a job decodes its input once to find them"
        );
    }

    let plans = [
        ("a two-hour 1080p encode on 4 nodes", two_hour_plan(cluster(4))),
        (
            "one frame on one node",
            PlanRequest {
                job: JobInfo { frame_count: 1, fps: 25.0, ..JobInfo::default() },
                nodes: cluster(1),
                ..PlanRequest::default()
            },
        ),
        (
            "50 frames on 12 slots",
            PlanRequest {
                job: JobInfo { frame_count: 50, fps: 25.0, ..JobInfo::default() },
                nodes: vec![cluster(3)[2].clone(); 3],
                ..PlanRequest::default()
            },
        ),
    ];
    for (what, request) in &plans {
        let started = Instant::now();
        let plan = policy.plan(request).map_err(|e| anyhow::anyhow!("plan, {what}: {e}"))?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        crate::schedule::check_plan(&plan.starts, request.job.frame_count)
            .map_err(|e| e.context(format!("plan, {what}")))?;
        let lengths: Vec<u64> = plan
            .starts
            .iter()
            .zip(plan.starts.iter().skip(1).chain([&request.job.frame_count]))
            .map(|(a, b)| b - a)
            .collect();
        let (min, max) = (lengths.iter().min().unwrap_or(&0), lengths.iter().max().unwrap_or(&0));
        let _ = writeln!(
            out,
            "plan    {what}: {} chunks of {min} to {max} frames ({ms:.1} ms)",
            plan.starts.len()
        );
    }

    let nodes = cluster(16);
    let assigns = [
        (
            "100 pending chunks on 16 nodes",
            AssignRequest { pending: pending(100, &nodes), nodes: nodes.clone(), seed: 1 },
        ),
        (
            "a chunk that failed on the only node",
            AssignRequest {
                pending: vec![PendingChunk {
                    index: 3,
                    frames: 250,
                    attempts: 1,
                    failed_on: vec![nodes[0].id.clone()],
                }],
                nodes: vec![nodes[0].clone()],
                seed: 2,
            },
        ),
        (
            "no free slot",
            AssignRequest {
                pending: pending(5, &nodes),
                nodes: nodes.iter().cloned().map(|n| NodeView { slots_free: 0, ..n }).collect(),
                seed: 3,
            },
        ),
    ];
    for (what, request) in &assigns {
        let started = Instant::now();
        let got = policy.assign(request).map_err(|e| anyhow::anyhow!("assign, {what}: {e}"))?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        check_assignments(&got, request).map_err(|e| e.context(format!("assign, {what}")))?;
        let mut per_node: Vec<(String, usize)> = Vec::new();
        for a in &got {
            match per_node.iter_mut().find(|(id, _)| *id == a.node) {
                Some((_, n)) => *n += 1,
                None => per_node.push((a.node.clone(), 1)),
            }
        }
        let spread: Vec<String> = per_node.iter().map(|(id, n)| format!("{id} x{n}")).collect();
        let _ = writeln!(
            out,
            "assign  {what}: {} assigned ({ms:.1} ms){}{}",
            got.len(),
            if spread.is_empty() { "" } else { ": " },
            spread.join(", ")
        );
    }
    let failure = FailureRequest {
        chunk: PendingChunk {
            index: 7,
            frames: 250,
            attempts: 1,
            failed_on: vec![nodes[1].id.clone()],
        },
        node: nodes[1].id.clone(),
        error: "ffmpeg failed (exit status: 1)".into(),
        nodes: nodes.clone(),
    };
    match policy.on_failure(&failure) {
        None => {
            let _ = writeln!(out, "failure not exported: the host retries elsewhere");
        }
        Some(decision) => {
            let decision = decision.map_err(|e| anyhow::anyhow!("on_failure: {e}"))?;
            let _ = writeln!(out, "failure chunk 7 on {}: {decision:?}", nodes[1].id);
        }
    }
    let _ = writeln!(out, "ok: every answer passed the host's checks");
    Ok(out)
}

/// The host's rule for assignments: pending chunks, each once, to known
/// nodes within their free slots. (A job ignores what breaks it; a check
/// reports it.)
fn check_assignments(got: &[Assignment], request: &AssignRequest) -> anyhow::Result<()> {
    let mut free: Vec<u32> = request.nodes.iter().map(|n| n.slots_free).collect();
    let mut seen = std::collections::BTreeSet::new();
    for a in got {
        if !request.pending.iter().any(|p| p.index == a.chunk) {
            bail!("chunk {} is not pending", a.chunk);
        }
        if !seen.insert(a.chunk) {
            bail!("chunk {} is assigned twice", a.chunk);
        }
        let Some(i) = request.nodes.iter().position(|n| n.id == a.node) else {
            bail!("node {} is not in the request", a.node);
        };
        if free[i] == 0 {
            bail!("node {} gets more chunks than it has free slots", a.node);
        }
        free[i] -= 1;
    }
    Ok(())
}
