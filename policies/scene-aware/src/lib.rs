//! An example policy, meant to be copied: put chunk boundaries where the
//! scene changes, with lengths kept within bounds.
//!
//! Every chunk starts with a keyframe the encoder is forced to make. At a
//! scene change the encoder would make one anyway, so a boundary there costs
//! nothing, while one in the middle of a shot spends bits on a keyframe the
//! shot did not need and may show as a pulse in quality.
//!
//! - Describe: asks the host for scene cuts (`scene_threshold`: ffmpeg's
//!   scene score above 0.3); the host decodes the input once to find them.
//! - Plan: from each chunk's start, the next boundary is the scene cut
//!   nearest to the requested length, among those between half and twice
//!   that length; with no cut in that window, the requested length. Like the
//!   default, the length shrinks on a short input so that every slot gets
//!   work, and no chunk after the first is shorter than half the length
//!   unless the input ends.
//! - Assign: the default's slot-weighted round robin.
//!
//! Build: `cargo build --release --target wasm32-unknown-unknown -p scene-aware-policy`.

use default_policy::SlotWeightedRoundRobin;
use policy_sdk::{
    AssignRequest, Assignment, ChunkPlan, PlanRequest, Policy, PolicyError, PolicyInfo, abi,
};

/// The scene score above which a frame starts a new scene.
pub const SCENE_THRESHOLD: f64 = 0.3;

/// Boundaries at scene changes. Stateless.
#[derive(Debug, Default, Clone, Copy)]
pub struct SceneAware;

policy_sdk::export_policy!(SceneAware);

impl Policy for SceneAware {
    fn describe(&self) -> PolicyInfo {
        PolicyInfo {
            name: "scene-aware".into(),
            version: "1".into(),
            abi_minor: abi::ABI_MINOR,
            scene_threshold: Some(SCENE_THRESHOLD),
        }
    }

    fn plan_chunks(&mut self, request: &PlanRequest) -> Result<ChunkPlan, PolicyError> {
        let frames = request.job.frame_count;
        if frames == 0 {
            return Err(PolicyError { code: "empty".into(), message: "no frames".into() });
        }
        let fps = if request.job.fps > 0.0 { request.job.fps } else { 25.0 };
        let slots: u64 = request.nodes.iter().map(|n| u64::from(n.slots_total)).sum::<u64>().max(1);
        let bounds = &request.bounds;
        let mut length = (bounds.target_seconds * fps).round().max(1.0) as u64;
        if frames.div_ceil(length) < slots {
            length = frames.div_ceil(slots).max(1);
        }
        let min = (length / 2).max(bounds.min_frames).max(1);
        let max = (length * 2).min(bounds.max_frames).max(min);
        let cuts = &request.scene_cuts;
        let mut starts = vec![0];
        let mut start = 0;
        while frames - start > max {
            // Cuts that leave this chunk within bounds and the rest no
            // shorter than the minimum.
            let window = start + min..=(start + max).min(frames - min);
            let target = start + length;
            let next = cuts
                .iter()
                .copied()
                .filter(|c| window.contains(c))
                .min_by_key(|&c| (c.abs_diff(target), c))
                .unwrap_or(target.min(frames - min).max(start + 1));
            starts.push(next);
            start = next;
        }
        Ok(ChunkPlan { starts })
    }

    fn assign(&mut self, request: &AssignRequest) -> Result<Vec<Assignment>, PolicyError> {
        SlotWeightedRoundRobin.assign(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy_sdk::{ChunkBounds, JobInfo, NodeView};

    fn request(frames: u64, cuts: Vec<u64>) -> PlanRequest {
        PlanRequest {
            job: JobInfo { frame_count: frames, fps: 25.0, ..JobInfo::default() },
            scene_cuts: cuts,
            nodes: vec![NodeView { id: "a".into(), slots_total: 1, ..NodeView::default() }],
            bounds: ChunkBounds { target_seconds: 4.0, ..ChunkBounds::default() },
            ..PlanRequest::default()
        }
    }

    fn lengths(starts: &[u64], frames: u64) -> Vec<u64> {
        starts.iter().zip(starts.iter().skip(1).chain([&frames])).map(|(a, b)| b - a).collect()
    }

    #[test]
    fn boundaries_fall_on_scene_cuts_within_bounds() {
        // Length 100, so chunks of 50 to 200 frames.
        let starts =
            SceneAware.plan_chunks(&request(1000, vec![30, 130, 170, 420, 900])).unwrap().starts;
        // 30 is too early; 130 is nearest 100; from 130, 170 is too early
        // and 420 too far, so 230; then 420; then no cut before 620: 520,
        // 620, 720; from 720 the rest (280) is more than 200: 900 is the
        // cut nearest 820 in the window 770..=920.
        assert_eq!(starts, vec![0, 130, 230, 420, 520, 620, 720, 900]);
        assert!(lengths(&starts, 1000).iter().all(|&l| (50..=200).contains(&l)));
    }

    #[test]
    fn without_cuts_it_is_the_requested_length_and_the_tail_is_not_tiny() {
        let starts = SceneAware.plan_chunks(&request(1010, Vec::new())).unwrap().starts;
        let lengths = lengths(&starts, 1010);
        assert!(lengths[..lengths.len() - 1].iter().all(|&l| l == 100), "{lengths:?}");
        assert!(*lengths.last().unwrap() >= 50, "{lengths:?}");
    }

    #[test]
    fn asks_for_scene_cuts() {
        assert_eq!(SceneAware.describe().scene_threshold, Some(SCENE_THRESHOLD));
    }
}
