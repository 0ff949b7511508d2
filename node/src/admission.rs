//! What a node admits, so that no client, hostile or broken, can fill its
//! disk or hold it: a cap on one chunk's input, on the inputs of one job
//! held at once, and on the chunks admitted at once (uploading, waiting for
//! a slot or encoding), and room on the temp dir's disk for the chunk's
//! input and output above a reserve. A refusal is `RESOURCE_EXHAUSTED`
//! before any byte is written, and the coordinator retries the chunk
//! elsewhere.

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

    /// Admits a chunk of job `job` whose input is `bytes` long, with
    /// `free_disk` bytes available in the temp dir (`None`: unknown), or
    /// says which limit it breaks.
    pub fn admit(
        &self,
        job: &str,
        bytes: u64,
        free_disk: Option<u64>,
    ) -> Result<Ticket, NodeError> {
        let limits = &self.limits;
        if bytes > limits.max_chunk_bytes {
            return Err(NodeError::Limit(format!(
                "a chunk input of {bytes} bytes exceeds this node's limit of {} (--max-chunk-bytes)",
                limits.max_chunk_bytes
            )));
        }
        let needed = bytes.saturating_mul(2).saturating_add(limits.min_free_disk);
        if let Some(free) = free_disk
            && free < needed
        {
            return Err(NodeError::Limit(format!(
                "not enough free disk in this node's temp dir: {free} bytes free, a chunk input of {bytes} bytes needs {needed} (twice its size, with {} kept free by --min-free-disk)",
                limits.min_free_disk
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

/// Bytes available to this process on the file system that holds `dir`.
pub fn free_disk(dir: &std::path::Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(dir).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
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
            min_free_disk: 1000,
        }
    }

    #[test]
    fn each_limit_refuses_and_a_ticket_gives_its_share_back() {
        let admission = Admission::new(limits());
        assert!(
            admission.admit("a", 101, None).unwrap_err().to_string().contains("--max-chunk-bytes")
        );
        let first = admission.admit("a", 100, None).unwrap();
        let error = admission.admit("a", 60, None).unwrap_err().to_string();
        assert!(error.contains("--max-job-bytes"), "{error}");
        let other = admission.admit("b", 100, None).unwrap();
        let third = admission.admit("a", 50, None).unwrap();
        assert!(admission.admit("c", 1, None).unwrap_err().to_string().contains("--max-admitted"));
        drop((first, third));
        let again = admission.admit("a", 100, None).unwrap();
        drop((again, other));
        assert!(admission.jobs.lock().unwrap().is_empty());
    }

    #[test]
    fn a_chunk_needs_room_for_its_input_and_output_above_the_reserve() {
        let admission = Admission::new(limits());
        assert!(admission.admit("a", 100, Some(1200)).is_ok());
        let error = admission.admit("a", 100, Some(1199)).unwrap_err().to_string();
        assert!(
            error.contains("not enough free disk") && error.contains("--min-free-disk"),
            "{error}"
        );
        assert!(admission.jobs.lock().unwrap().is_empty(), "a refusal holds nothing");
        // The temp dir's real file system has room for a small chunk.
        let dir = tempfile::tempdir().unwrap();
        assert!(free_disk(dir.path()).is_some_and(|free| free > 0));
    }
}
