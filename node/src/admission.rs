//! What a node admits, so that no client, hostile or broken, can fill its
//! disk or hold it: a cap on one chunk's input, on the inputs of one job
//! held at once, and on the chunks admitted at once (uploading, waiting for
//! a slot or encoding). A refusal is `RESOURCE_EXHAUSTED` before any byte is
//! written, and the coordinator retries the chunk elsewhere.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Limits;
use crate::error::NodeError;

/// The node's admission state, shared by every request.
#[derive(Debug)]
pub struct Admission {
    limits: Limits,
    admitted: Arc<Semaphore>,
    /// Input bytes held per job id.
    jobs: Arc<Mutex<HashMap<String, u64>>>,
}

/// One admitted chunk; dropping it gives its share back.
#[derive(Debug)]
pub struct Ticket {
    _permit: OwnedSemaphorePermit,
    jobs: Arc<Mutex<HashMap<String, u64>>>,
    job: String,
    bytes: u64,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(held) = jobs.get_mut(&self.job) {
            *held = held.saturating_sub(self.bytes);
            if *held == 0 {
                jobs.remove(&self.job);
            }
        }
    }
}

impl Admission {
    /// Admission under `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            admitted: Arc::new(Semaphore::new(limits.max_admitted as usize)),
            jobs: Arc::default(),
        }
    }

    /// Admits a chunk of job `job` whose input is `bytes` long, or says
    /// which limit it breaks.
    pub fn admit(&self, job: &str, bytes: u64) -> Result<Ticket, NodeError> {
        let limits = &self.limits;
        if bytes > limits.max_chunk_bytes {
            return Err(NodeError::Limit(format!(
                "a chunk input of {bytes} bytes exceeds this node's limit of {} (--max-chunk-bytes)",
                limits.max_chunk_bytes
            )));
        }
        let permit = self.admitted.clone().try_acquire_owned().map_err(|_| {
            NodeError::Limit(format!(
                "this node has {} chunks admitted already (--max-admitted)",
                limits.max_admitted
            ))
        })?;
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let held = jobs.entry(job.to_string()).or_insert(0);
        if *held + bytes > limits.max_job_bytes {
            let held = *held;
            if held == 0 {
                jobs.remove(job);
            }
            return Err(NodeError::Limit(format!(
                "job {job} would hold {} bytes of input on this node, over its limit of {} (--max-job-bytes)",
                held + bytes,
                limits.max_job_bytes
            )));
        }
        *held += bytes;
        Ok(Ticket { _permit: permit, jobs: self.jobs.clone(), job: job.to_string(), bytes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_chunk_bytes: 100,
            max_job_bytes: 150,
            max_admitted: 3,
            idle_timeout: std::time::Duration::from_secs(1),
        }
    }

    #[test]
    fn each_limit_refuses_and_a_ticket_gives_its_share_back() {
        let admission = Admission::new(limits());
        assert!(admission.admit("a", 101).unwrap_err().to_string().contains("--max-chunk-bytes"));
        let first = admission.admit("a", 100).unwrap();
        let error = admission.admit("a", 60).unwrap_err().to_string();
        assert!(error.contains("--max-job-bytes"), "{error}");
        let other = admission.admit("b", 100).unwrap();
        let third = admission.admit("a", 50).unwrap();
        assert!(admission.admit("c", 1).unwrap_err().to_string().contains("--max-admitted"));
        drop((first, third));
        let again = admission.admit("a", 100).unwrap();
        drop((again, other));
        assert!(admission.jobs.lock().unwrap().is_empty());
    }
}
