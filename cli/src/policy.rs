//! The one boundary through which chunk planning and node choice go.
//!
//! Dispatch only sees [`SchedulingPolicy`]; today it is backed by the native
//! default policy, and the WebAssembly host will implement the same trait.
//! Whatever a policy answers, the host checks it: boundaries are validated in
//! `plan::chunks`, and assignments to unknown or full nodes are ignored.

use policy_sdk::{AssignRequest, Assignment, ChunkPlan, PlanRequest, Policy};

/// A policy the coordinator can hold across threads.
pub trait SchedulingPolicy: Send {
    /// Plans chunk boundaries.
    fn plan(&mut self, request: &PlanRequest) -> anyhow::Result<ChunkPlan>;
    /// Assigns pending chunks to nodes with free slots.
    fn assign(&mut self, request: &AssignRequest) -> anyhow::Result<Vec<Assignment>>;
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
}

/// The built-in default: slot-weighted round robin.
pub fn default_policy() -> Box<dyn SchedulingPolicy> {
    Box::new(Native(default_policy::SlotWeightedRoundRobin))
}
