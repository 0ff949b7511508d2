//! `dffmpeg policy simulate FILE`: a discrete-event simulation of a cluster
//! with the policy in the loop, so that policies can be compared before a
//! real cluster runs them.
//!
//! The model: a node has slots that each encode at `speed` times real time
//! (1.0 encodes a 10 s chunk in 10 s), and every chunk also costs a fixed
//! overhead (cutting, upload, download, verification). The policy runs in
//! its sandbox exactly as in a job, and the host's rules are the real ones
//! ([`crate::schedule`]): slots, the retry cap, the stall rule, nodes dropped
//! when lost. Time is virtual, so a run is deterministic and takes
//! milliseconds; the only figures the policy sees are the model's (slots as
//! CPUs, busy slots as load, measured speed from finished chunks).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use policy_sdk::{
    AssignRequest, Assignment, ChunkBounds, ChunkPlan, FailureDecision, FailureRequest, JobInfo,
    PlanRequest,
};

use super::{PolicyModule, SchedulingPolicy};
use crate::schedule::{NodeBook, Requeued, Schedule, Telemetry, Verified};

/// Memory each modelled node reports as available.
const MODELLED_MEMORY: u64 = 16 << 30;

/// `dffmpeg policy simulate` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// The policy: a `.wasm` or `.wat` file, or `built-in` for the default.
    pub policy: String,
    /// The cluster: comma-separated nodes, each `SLOTSxSPEED`, where SPEED is
    /// how fast one slot encodes relative to real time; node `nI` is the
    /// I-th (from 0).
    #[arg(long, default_value = "4x1.0,2x0.5,1x2.0")]
    pub nodes: String,
    /// Duration of the input, in seconds.
    #[arg(long, default_value_t = 3600.0)]
    pub duration: f64,
    /// Frame rate of the input.
    #[arg(long, default_value_t = 25.0)]
    pub fps: f64,
    /// The requested chunk duration, as `--segment-duration`.
    #[arg(long, default_value_t = 10.0)]
    pub segment_duration: f64,
    /// Fixed cost of every chunk, in seconds: cut, upload, download, check.
    #[arg(long, default_value_t = 0.5)]
    pub chunk_overhead: f64,
    /// Seconds between keyframes of the modelled input.
    #[arg(long, default_value_t = 10.0)]
    pub keyframe_interval: f64,
    /// Seed of the modelled scene cuts (2 to 20 s apart).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// `NODE@SECONDS`: the node is lost at that time, with the chunks it
    /// runs (repeatable). NODE is `nI` or `I`.
    #[arg(long = "fail", value_name = "NODE@SECONDS")]
    pub failures: Vec<String>,
    /// Never run a straggling chunk again elsewhere (a real job does).
    #[arg(long)]
    pub no_backups: bool,
}

/// One modelled node.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelNode {
    /// Chunks it runs at once.
    pub slots: u32,
    /// Speed of one slot relative to real time.
    pub speed: f64,
}

/// Parses `4x1.0,2x0.5,1x2.0`.
pub fn parse_nodes(spec: &str) -> anyhow::Result<Vec<ModelNode>> {
    let nodes = spec
        .split(',')
        .map(|item| {
            let item = item.trim();
            let (slots, speed) = item
                .split_once(['x', 'X'])
                .with_context(|| format!("node {item:?} is not SLOTSxSPEED, such as 4x1.0"))?;
            let slots: u32 =
                slots.parse().with_context(|| format!("node {item:?}: slots {slots:?}"))?;
            let speed: f64 =
                speed.parse().with_context(|| format!("node {item:?}: speed {speed:?}"))?;
            if slots == 0 || !(speed.is_finite() && speed > 0.0) {
                bail!("node {item:?}: slots and speed must be positive");
            }
            Ok(ModelNode { slots, speed })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(nodes)
}

/// Parses `n1@600` or `1@600` against `count` nodes.
fn parse_failure(spec: &str, count: usize) -> anyhow::Result<(usize, f64)> {
    let (node, at) =
        spec.split_once('@').with_context(|| format!("--fail {spec:?}: not NODE@SECONDS"))?;
    let index: usize = node
        .strip_prefix('n')
        .unwrap_or(node)
        .parse()
        .with_context(|| format!("--fail {spec:?}: node {node:?} is not nI"))?;
    if index >= count {
        bail!("--fail {spec:?}: there is no node n{index} (nodes n0 to n{})", count - 1);
    }
    let at: f64 = at.parse().with_context(|| format!("--fail {spec:?}: seconds {at:?}"))?;
    if !(at.is_finite() && at >= 0.0) {
        bail!("--fail {spec:?}: the time must be 0 or more seconds");
    }
    Ok((index, at))
}

/// What happened to one node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeResult {
    /// Chunks verified from it.
    pub chunks: u32,
    /// Attempts that failed on it.
    pub failed: u32,
    /// Slot-seconds spent, lost work included.
    pub busy: f64,
    /// Slot-seconds of attempts that were lost, or lost to another.
    pub lost: f64,
    /// When it was lost, if it was.
    pub lost_at: Option<f64>,
    /// Backups started on it for chunks straggling elsewhere.
    pub backups: u32,
    /// Its attempts cancelled because another attempt won.
    pub cancelled: u32,
}

/// The outcome of a simulation.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    /// The policy's name.
    pub policy: String,
    /// The modelled cluster.
    pub nodes: Vec<ModelNode>,
    /// Chunk lengths of the plan, in frames.
    pub lengths: Vec<u64>,
    /// Why the host refused the policy's plan, if it did.
    pub plan_refused: Option<String>,
    /// Time until the last chunk was verified.
    pub makespan: f64,
    /// The encode's work spread perfectly over every slot, with no overhead.
    pub ideal: f64,
    /// [`Simulation::ideal`] plus the plan's chunk overheads spread over
    /// every slot: the best this plan allows.
    pub ideal_with_overhead: f64,
    /// Per node.
    pub results: Vec<NodeResult>,
    /// Failed attempts that were queued again.
    pub retried: u32,
    /// Failed chunks the policy split into smaller ones.
    pub splits: u32,
    /// Policy calls made.
    pub calls: u32,
    /// Wall time spent in them.
    pub policy_time: Duration,
}

/// Runs `scenario` with `policy` in the loop.
pub fn simulate(
    policy: &mut dyn SchedulingPolicy,
    name: &str,
    scenario: &SimulateArgs,
) -> anyhow::Result<Simulation> {
    let nodes = parse_nodes(&scenario.nodes)?;
    let failures = scenario
        .failures
        .iter()
        .map(|f| parse_failure(f, nodes.len()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if !(scenario.duration > 0.0 && scenario.fps > 0.0 && scenario.chunk_overhead >= 0.0) {
        bail!("--duration and --fps must be positive, --chunk-overhead 0 or more");
    }
    let frames = (scenario.duration * scenario.fps).round().max(1.0) as u64;
    let mut timed = Timed { inner: policy, calls: 0, time: Duration::ZERO };
    let books: Vec<NodeBook> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| NodeBook::new(format!("n{i}"), n.slots, telemetry(n, 0, 0)))
        .collect();
    let request = PlanRequest {
        job: JobInfo {
            duration_seconds: frames as f64 / scenario.fps,
            frame_count: frames,
            fps: scenario.fps,
            width: 1920,
            height: 1080,
            encoder: "libx264".into(),
            encoder_options: vec![("crf".into(), "23".into())],
        },
        keyframes: keyframes(frames, scenario.fps, scenario.keyframe_interval),
        scene_cuts: scene_cuts(frames, scenario.fps, scenario.seed),
        nodes: books.iter().map(|b| b.view(0)).collect(),
        bounds: ChunkBounds {
            target_seconds: scenario.segment_duration,
            min_frames: 1,
            max_frames: u64::MAX,
        },
        seed: scenario.seed,
    };
    let (starts, refused) = crate::schedule::plan(&mut timed, &request)?;
    let lengths: Vec<u64> =
        starts.iter().zip(starts.iter().skip(1).chain([&frames])).map(|(a, b)| b - a).collect();
    let mut schedule = Schedule::new(lengths.clone(), books);
    schedule.allow_backups(!scenario.no_backups);
    for chunk in 0..lengths.len() as u32 {
        schedule.ready(chunk);
    }

    let mut results = vec![NodeResult::default(); nodes.len()];
    // Events in time order (microseconds); ties go to the lower sequence.
    let mut events: BinaryHeap<Reverse<(u64, u64, Event)>> = BinaryHeap::new();
    let mut sequence = 0u64;
    let mut push = |events: &mut BinaryHeap<_>, at: f64, event: Event| {
        sequence += 1;
        events.push(Reverse(((at * 1e6).round() as u64, sequence, event)));
    };
    for &(node, at) in &failures {
        push(&mut events, at, Event::Lost { node });
    }
    // Attempts in flight: (chunk, node) -> (started at, attempt).
    let mut running: BTreeMap<(u32, usize), (f64, u32)> = BTreeMap::new();
    let mut now = 0.0f64;
    let mut last_error = String::from("none");
    // A clock tick is due (as a real job's reports come every second).
    let mut ticking = false;
    while !schedule.is_finished() {
        schedule.check_nodes(&last_error)?;
        let now_ms = (now * 1000.0) as u64;
        let mut starts = schedule.assign(&mut timed, now_ms)?;
        starts.extend(schedule.backups(now_ms));
        for start in starts {
            let model = nodes[start.node];
            let seconds = scenario.chunk_overhead
                + schedule.frames(start.chunk) as f64 / (scenario.fps * model.speed);
            running.insert((start.chunk, start.node), (now, start.attempt));
            if start.backup {
                results[start.node].backups += 1;
            }
            push(
                &mut events,
                now + seconds,
                Event::Done { chunk: start.chunk, node: start.node, attempt: start.attempt },
            );
        }
        if !ticking && !running.is_empty() {
            ticking = true;
            push(&mut events, now + 1.0, Event::Tick);
        }
        let Some(Reverse((at, _, event))) = events.pop() else {
            bail!(
                "the simulation stalled at {now:.1} s with {} chunks waiting",
                schedule.waiting()
            );
        };
        now = at as f64 / 1e6;
        let now_ms = (now * 1000.0) as u64;
        match event {
            Event::Tick => ticking = false,
            Event::Done { chunk, node, attempt } => {
                // A lost or cancelled attempt's completion never comes.
                let Some(&(started, running_attempt)) = running.get(&(chunk, node)) else {
                    continue;
                };
                if running_attempt != attempt {
                    continue;
                }
                running.remove(&(chunk, node));
                let seconds = now - started;
                results[node].busy += seconds;
                match schedule.succeeded(chunk, node, seconds, now_ms) {
                    Verified::Won { cancel } => {
                        results[node].chunks += 1;
                        for other in cancel {
                            if let Some((started, _)) = running.remove(&(chunk, other)) {
                                results[other].busy += now - started;
                                results[other].lost += now - started;
                                results[other].cancelled += 1;
                            }
                            schedule.cancelled(chunk, other, now_ms);
                        }
                    }
                    Verified::Late => results[node].lost += seconds,
                }
            }
            Event::Lost { node } => {
                if results[node].lost_at.is_some() {
                    continue;
                }
                results[node].lost_at = Some(now);
                schedule.lose(node);
                let lost: Vec<(u32, f64)> = running
                    .iter()
                    .filter(|((_, n), _)| *n == node)
                    .map(|(&(chunk, _), &(started, _))| (chunk, started))
                    .collect();
                for (chunk, started) in lost {
                    running.remove(&(chunk, node));
                    results[node].busy += now - started;
                    results[node].lost += now - started;
                    results[node].failed += 1;
                    last_error = format!("chunk {chunk} lost with node n{node} at {now:.1} s");
                    let requeued =
                        schedule.failed(chunk, node, &last_error, true, &mut timed, now_ms)?;
                    if let Requeued::Split(at) = requeued {
                        let frames = schedule.frames(chunk);
                        let bounds: Vec<u64> =
                            std::iter::once(0).chain(at).chain(std::iter::once(frames)).collect();
                        let sizes: Vec<u64> = bounds.windows(2).map(|w| w[1] - w[0]).collect();
                        for piece in schedule.split(chunk, &sizes) {
                            schedule.ready(piece);
                        }
                    }
                }
            }
        }
        for (i, book) in schedule.nodes.iter_mut().enumerate() {
            let measured = if book.measured.seconds > 0.0 {
                book.measured.frames as f64 / book.measured.seconds
            } else {
                0.0
            };
            book.telemetry = telemetry(&nodes[i], book.busy, now_ms);
            book.telemetry.recent_fps = measured * f64::from(book.slots);
        }
    }
    let capacity: f64 = nodes.iter().map(|n| f64::from(n.slots) * n.speed).sum();
    let slots: u32 = nodes.iter().map(|n| n.slots).sum();
    let chunk_count = lengths.len();
    Ok(Simulation {
        policy: name.to_string(),
        nodes,
        lengths,
        plan_refused: refused.map(|e| format!("{e:#}")),
        makespan: now,
        ideal: frames as f64 / scenario.fps / capacity,
        ideal_with_overhead: frames as f64 / scenario.fps / capacity
            + chunk_count as f64 * scenario.chunk_overhead / f64::from(slots),
        results,
        retried: schedule.retried(),
        splits: schedule.splits(),
        calls: timed.calls,
        policy_time: timed.time,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Done {
        chunk: u32,
        node: usize,
        attempt: u32,
    },
    Lost {
        node: usize,
    },
    /// Time passes with nothing done: stragglers may get backups.
    Tick,
}

/// The figures a modelled node reports: its slots as CPUs, busy slots as
/// load, nothing else running on it.
fn telemetry(node: &ModelNode, busy: u32, at_ms: u64) -> Telemetry {
    Telemetry {
        cpu_count: node.slots,
        load_1: f64::from(busy),
        cpu_usage: 0.0,
        memory_available: MODELLED_MEMORY,
        recent_fps: 0.0,
        at_ms,
    }
}

/// A keyframe every `interval` seconds.
fn keyframes(frames: u64, fps: f64, interval: f64) -> Vec<u64> {
    let step = (interval * fps).round().max(1.0) as usize;
    (0..frames).step_by(step).collect()
}

/// Scene cuts 2 to 20 s apart, from `seed` (splitmix64), so runs reproduce.
pub(crate) fn scene_cuts(frames: u64, fps: f64, seed: u64) -> Vec<u64> {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut cuts = Vec::new();
    let mut at = 0u64;
    loop {
        let gap = 2.0 + (next() % 18_000) as f64 / 1000.0;
        at += (gap * fps).round().max(1.0) as u64;
        if at >= frames {
            return cuts;
        }
        cuts.push(at);
    }
}

/// Counts the policy's calls and the time they take.
struct Timed<'a> {
    inner: &'a mut dyn SchedulingPolicy,
    calls: u32,
    time: Duration,
}

impl Timed<'_> {
    fn time<T>(&mut self, call: impl FnOnce(&mut dyn SchedulingPolicy) -> T) -> T {
        let started = Instant::now();
        let out = call(&mut *self.inner);
        self.calls += 1;
        self.time += started.elapsed();
        out
    }
}

impl SchedulingPolicy for Timed<'_> {
    fn plan(&mut self, request: &PlanRequest) -> anyhow::Result<ChunkPlan> {
        self.time(|p| p.plan(request))
    }

    fn assign(&mut self, request: &AssignRequest) -> anyhow::Result<Vec<Assignment>> {
        self.time(|p| p.assign(request))
    }

    fn on_failure(&mut self, request: &FailureRequest) -> anyhow::Result<FailureDecision> {
        self.time(|p| p.on_failure(request))
    }

    fn strict(&self) -> bool {
        self.inner.strict()
    }
}

impl Simulation {
    /// The report `dffmpeg policy simulate` prints.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let slots: u32 = self.nodes.iter().map(|n| n.slots).sum();
        let mut sorted = self.lengths.clone();
        sorted.sort_unstable();
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0);
        let _ = writeln!(out, "policy     {}", self.policy);
        if let Some(refusal) = &self.plan_refused {
            let _ = writeln!(out, "plan       refused ({refusal}); the default's plan was used");
        }
        let _ = writeln!(
            out,
            "plan       {} chunks of {} to {} frames (median {median})",
            self.lengths.len(),
            sorted.first().unwrap_or(&0),
            sorted.last().unwrap_or(&0),
        );
        let _ = writeln!(out, "cluster    {} nodes, {slots} slots", self.nodes.len());
        let _ = writeln!(out, "makespan   {:.1} s", self.makespan);
        let _ = writeln!(
            out,
            "ideal      {:.1} s (makespan is {:.3}x the ideal); with the chunk overheads {:.1} s",
            self.ideal,
            self.makespan / self.ideal,
            self.ideal_with_overhead
        );
        let _ = writeln!(out, "retried    {} chunks ({} of them split)", self.retried, self.splits);
        let _ = writeln!(
            out,
            "policy     {} calls, {:.1} ms in the sandbox",
            self.calls,
            self.policy_time.as_secs_f64() * 1000.0
        );
        let _ = writeln!(
            out,
            "node  slots  speed  chunks  failed  backups  cancelled  utilisation  lost"
        );
        for (i, (node, r)) in self.nodes.iter().zip(&self.results).enumerate() {
            let utilisation = r.busy / (f64::from(node.slots) * self.makespan) * 100.0;
            let lost = match r.lost_at {
                Some(at) => format!("at {at:.1} s ({:.1} slot-s of work)", r.lost),
                None if r.lost > 0.0 => format!("{:.1} slot-s lost to backups", r.lost),
                None => "-".into(),
            };
            let _ = writeln!(
                out,
                "n{i:<4}{:>5}  {:>5.2}  {:>6}  {:>6}  {:>7}  {:>9}  {:>10.1}%  {lost}",
                node.slots, node.speed, r.chunks, r.failed, r.backups, r.cancelled, utilisation
            );
        }
        out
    }
}

/// `dffmpeg policy simulate`: loads the policy as a job would and prints
/// the simulation's report.
pub fn run(args: &SimulateArgs) -> anyhow::Result<String> {
    let path = (args.policy != "built-in").then(|| PathBuf::from(&args.policy));
    let module = PolicyModule::load(path.as_deref(), false)?;
    let mut policy = module.for_job(true);
    let name = format!("{} ({})", module.name(), module.origin);
    Ok(simulate(&mut policy, &name, args)?.render())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::native_default;

    fn scenario(nodes: &str, duration: f64) -> SimulateArgs {
        SimulateArgs {
            policy: "built-in".into(),
            nodes: nodes.into(),
            duration,
            fps: 25.0,
            segment_duration: 10.0,
            chunk_overhead: 0.0,
            keyframe_interval: 10.0,
            seed: 1,
            failures: Vec::new(),
            no_backups: false,
        }
    }

    #[test]
    fn a_backup_beats_a_node_ten_times_slower_at_the_tail() {
        let with =
            simulate(native_default().as_mut(), "default", &scenario("1x1.0,1x0.1", 60.0)).unwrap();
        let without = SimulateArgs { no_backups: true, ..scenario("1x1.0,1x0.1", 60.0) };
        let without = simulate(native_default().as_mut(), "default", &without).unwrap();
        // Without, the job waits 100 s for the slow node's 10 s chunk.
        assert_eq!(without.makespan, 100.0);
        assert!(with.makespan < 70.0, "{}", with.render());
        assert_eq!(with.results[0].backups, 1);
        assert_eq!(with.results[1].cancelled, 1);
    }

    #[test]
    fn one_slot_at_real_time_takes_the_duration() {
        let run =
            simulate(native_default().as_mut(), "default", &scenario("1x1.0", 100.0)).unwrap();
        assert_eq!(run.makespan, 100.0);
        assert_eq!(run.ideal, 100.0);
        assert_eq!(run.results[0].chunks, 10);
        assert_eq!(run.retried, 0);
    }

    #[test]
    fn work_spreads_over_slots_and_speed() {
        let run = simulate(native_default().as_mut(), "default", &scenario("2x1.0,1x2.0", 400.0))
            .unwrap();
        assert_eq!(run.ideal, 100.0);
        // 40 chunks of 10 s: the fast slot does two for every one elsewhere.
        assert_eq!(run.makespan, 100.0);
        assert_eq!(run.results.iter().map(|r| r.chunks).sum::<u32>(), 40);
        assert_eq!(run.results[1].chunks, 20);
    }

    #[test]
    fn a_lost_node_costs_its_running_chunks_and_no_more() {
        let mut args = scenario("1x1.0,1x1.0", 200.0);
        args.failures = vec!["n1@15".into()];
        let run = simulate(native_default().as_mut(), "default", &args).unwrap();
        // n1 finished one chunk at 10 s, lost the second at 15 s; n0 does the rest.
        assert_eq!(run.results[1].chunks, 1);
        assert_eq!(run.results[1].failed, 1);
        assert_eq!(run.retried, 1);
        assert_eq!(run.makespan, 190.0);
        assert_eq!(run.results.iter().map(|r| r.chunks).sum::<u32>(), 20);
    }

    #[test]
    fn losing_every_node_is_an_error() {
        let mut args = scenario("1x1.0", 100.0);
        args.failures = vec!["0@5".into()];
        let error = simulate(native_default().as_mut(), "default", &args).unwrap_err();
        assert!(error.to_string().contains("no node is left"), "{error:#}");
    }

    #[test]
    fn bad_specs_are_named() {
        assert!(parse_nodes("4x1.0,2").unwrap_err().to_string().contains("SLOTSxSPEED"));
        assert!(parse_nodes("0x1.0").is_err());
        assert!(parse_failure("n3@10", 2).unwrap_err().to_string().contains("no node n3"));
        assert_eq!(parse_failure("n1@2.5", 2).unwrap(), (1, 2.5));
    }

    #[test]
    fn scene_cuts_reproduce_and_stay_in_range() {
        let cuts = scene_cuts(90_000, 25.0, 7);
        assert_eq!(cuts, scene_cuts(90_000, 25.0, 7));
        assert!(cuts.windows(2).all(|w| (50..=500).contains(&(w[1] - w[0]))));
    }
}
