//! The one boundary through which chunk planning and node choice go.
//!
//! Dispatch only sees [`SchedulingPolicy`]. Every job's policy is a wasm
//! module run by [`wasm`] (the user's `--policy`, or the default compiled
//! from `policies/default` and embedded in the binary), wrapped in
//! [`Sandboxed`]: a call that fails is decided by the native build of the
//! default instead, with a warning, and a policy that keeps failing is
//! switched off for the job. Whatever a policy answers, the host checks it:
//! boundaries are validated in `plan::chunks`, and assignments to unknown or
//! full nodes are ignored.

pub mod check;
pub mod compiled;
pub mod simulate;
pub mod wasm;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use policy_sdk::{
    AssignRequest, Assignment, ChunkPlan, FailureDecision, FailureRequest, PlanRequest, Policy,
};

use self::wasm::{CallError, WasmPolicy};

/// The default policy as a wasm module (`scripts/build-default-policy.sh`
/// rebuilds it byte for byte from `policies/default`).
pub const DEFAULT_WASM: &[u8] = include_bytes!("../../assets/default_policy.wasm");

/// Failures in a row after which a policy is switched off for the job.
const FAILURES_IN_A_ROW: u32 = 3;
/// Failures in one job after which a policy is switched off for it.
const FAILURES_PER_JOB: u32 = 10;

/// A policy the coordinator can hold across threads.
pub trait SchedulingPolicy: Send {
    /// Plans chunk boundaries.
    fn plan(&mut self, request: &PlanRequest) -> anyhow::Result<ChunkPlan>;
    /// Assigns pending chunks to nodes with free slots.
    fn assign(&mut self, request: &AssignRequest) -> anyhow::Result<Vec<Assignment>>;
    /// Decides what happens to a chunk that failed on a node. The default
    /// retries it, avoiding that node.
    fn on_failure(&mut self, request: &FailureRequest) -> anyhow::Result<FailureDecision> {
        Ok(FailureDecision::Retry { avoid: vec![request.node.clone()] })
    }
    /// `--policy-strict`: a policy's failure, or an answer the host refuses,
    /// ends the job instead of falling back.
    fn strict(&self) -> bool {
        false
    }
}

/// Any `policy_sdk::Policy` run natively, in process.
#[derive(Debug, Default)]
pub struct Native<P>(pub P);

impl<P: Policy + Send> SchedulingPolicy for Native<P> {
    fn plan(&mut self, request: &PlanRequest) -> anyhow::Result<ChunkPlan> {
        Ok(self.0.plan_chunks(request)?)
    }

    fn assign(&mut self, request: &AssignRequest) -> anyhow::Result<Vec<Assignment>> {
        Ok(self.0.assign(request)?)
    }

    fn on_failure(&mut self, request: &FailureRequest) -> anyhow::Result<FailureDecision> {
        Ok(self.0.on_failure(request)?)
    }
}

/// The built-in default, natively: what decides whenever a policy's own
/// answer cannot be used.
pub fn native_default() -> Box<dyn SchedulingPolicy> {
    Box::new(Native(default_policy::SlotWeightedRoundRobin))
}

/// A policy module loaded once per run; each job gets its own [`Sandboxed`].
#[derive(Debug, Clone)]
pub struct PolicyModule {
    wasm: Arc<WasmPolicy>,
    /// Where it came from, for messages: a path, or `built-in`.
    pub origin: String,
    strict: bool,
}

impl PolicyModule {
    /// Loads the module at `path`, or the embedded default. A module that
    /// does not load stops the run: falling back would hide the mistake.
    pub fn load(path: Option<&Path>, strict: bool) -> anyhow::Result<Self> {
        let (bytes, origin) = match path {
            Some(path) => (
                std::fs::read(path)
                    .with_context(|| format!("reading the policy {}", path.display()))?,
                path.display().to_string(),
            ),
            None => (DEFAULT_WASM.to_vec(), "built-in".to_string()),
        };
        let started = std::time::Instant::now();
        let wasm = WasmPolicy::load(&bytes).with_context(|| format!("policy {origin}"))?;
        let ms = started.elapsed().as_millis() as u64;
        tracing::debug!(policy = %wasm.info.name, %origin, ms, "policy compiled and described");
        Ok(Self { wasm: Arc::new(wasm), origin, strict })
    }

    /// [`PolicyModule::load`] on a thread of its own, so that compiling
    /// overlaps the probe, and a run that falls back to ffmpeg need not wait.
    pub fn load_in_background(
        path: Option<std::path::PathBuf>,
        strict: bool,
    ) -> tokio::sync::oneshot::Receiver<anyhow::Result<Self>> {
        let (done, loaded) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new().name("policy-compile".into()).spawn({
            let path = path.clone();
            move || {
                let _ = done.send(Self::load(path.as_deref(), strict));
            }
        });
        if let Err(error) = spawned {
            let (done, failed) = tokio::sync::oneshot::channel();
            let _ =
                done.send(Err(anyhow::Error::new(error).context("starting the policy compiler")));
            return failed;
        }
        loaded
    }

    /// The policy's name, as it describes itself.
    pub fn name(&self) -> &str {
        &self.wasm.info.name
    }

    /// The scene score above which the policy wants scene cuts, if it
    /// plans on them.
    pub fn scene_threshold(&self) -> Option<f64> {
        self.wasm.info.scene_threshold
    }

    /// A fresh sandboxed policy for one job; `loud` shows its warnings.
    pub fn for_job(&self, loud: bool) -> Sandboxed {
        Sandboxed {
            module: self.clone(),
            failures: 0,
            in_a_row: 0,
            off: false,
            loud,
            fallback: Native(default_policy::SlotWeightedRoundRobin),
        }
    }
}

/// A wasm policy with the host's guard around every call.
pub struct Sandboxed {
    module: PolicyModule,
    failures: u32,
    in_a_row: u32,
    off: bool,
    loud: bool,
    fallback: Native<default_policy::SlotWeightedRoundRobin>,
}

impl Sandboxed {
    /// Whether the policy was switched off for this job.
    pub fn switched_off(&self) -> bool {
        self.off
    }

    fn guard<T>(
        &mut self,
        export: &str,
        call: impl FnOnce(&WasmPolicy) -> Result<T, CallError>,
        fallback: impl FnOnce(&mut Native<default_policy::SlotWeightedRoundRobin>) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        if self.off {
            return fallback(&mut self.fallback);
        }
        match call(&self.module.wasm) {
            Ok(value) => {
                self.in_a_row = 0;
                Ok(value)
            }
            Err(error) => {
                let name =
                    format!("policy {} ({})", self.module.wasm.info.name, self.module.origin);
                if self.module.strict {
                    anyhow::bail!("{name}: {export} {error}");
                }
                self.failures += 1;
                self.in_a_row += 1;
                self.warn(&format!(
                    "{name}: {export} {error}; the built-in default decides this time"
                ));
                if self.in_a_row >= FAILURES_IN_A_ROW || self.failures >= FAILURES_PER_JOB {
                    self.off = true;
                    self.warn(&format!(
                        "{name} failed {} times; switched off for this job",
                        self.failures
                    ));
                }
                fallback(&mut self.fallback)
            }
        }
    }

    fn warn(&self, message: &str) {
        tracing::warn!("{message}");
        if self.loud {
            crate::console::stderr(&format!("[dffmpeg] {message}\n"));
        }
    }
}

impl SchedulingPolicy for Sandboxed {
    fn plan(&mut self, request: &PlanRequest) -> anyhow::Result<ChunkPlan> {
        self.guard("dffmpeg_plan_chunks", |w| w.plan(request), |f| f.plan(request))
    }

    fn assign(&mut self, request: &AssignRequest) -> anyhow::Result<Vec<Assignment>> {
        self.guard("dffmpeg_assign", |w| w.assign(request), |f| f.assign(request))
    }

    fn on_failure(&mut self, request: &FailureRequest) -> anyhow::Result<FailureDecision> {
        // A module without the export gets the SDK's default, as a native
        // policy without its own `on_failure` would.
        let default = || FailureDecision::Retry { avoid: vec![request.node.clone()] };
        self.guard(
            "dffmpeg_on_failure",
            |w| w.on_failure(request).unwrap_or_else(|| Ok(default())),
            |f| f.on_failure(request),
        )
    }

    fn strict(&self) -> bool {
        self.module.strict
    }
}
