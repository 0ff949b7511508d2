//! The node dffmpeg runs in its own process when no node is configured.
//!
//! It starts beside the input's probes rather than after them: a node's start
//! runs ffmpeg once (for its version and encoders, about 0.1 s here) and that
//! would otherwise sit on every run's critical path.

use std::path::Path;

use anyhow::Context as _;
use tokio::task::JoinHandle;

use crate::local::Tools;

/// The embedded node: starting, running, or not wanted (nodes are configured).
#[derive(Debug)]
pub struct EmbeddedNode {
    starting: Option<JoinHandle<anyhow::Result<node::RunningNode>>>,
    running: Option<node::RunningNode>,
}

impl EmbeddedNode {
    /// Starts a node with a slot per core in a directory of its own under
    /// `temp_root`, in the background; `wanted` false starts nothing.
    pub fn start(wanted: bool, tools: &Tools, temp_root: &Path) -> Self {
        let starting = wanted.then(|| {
            let cores = std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1);
            let mut config = node::NodeConfig::local(cores, temp_root.to_path_buf());
            config.ffmpeg = tools.ffmpeg.clone();
            tokio::spawn(node::serve(config))
        });
        Self { starting, running: None }
    }

    /// The node's address once it listens; `None` when none was wanted.
    pub async fn addr(&mut self) -> anyhow::Result<Option<String>> {
        if let Some(starting) = self.starting.take() {
            let node = starting.await.context("the embedded node's start panicked")?;
            self.running = Some(node.context("starting the embedded node")?);
        }
        Ok(self.running.as_ref().map(|node| node.addr.to_string()))
    }

    /// Stops the node (finishing its running chunks, removing its directory);
    /// a node still starting is waited for first, so nothing is left behind
    /// when the command falls back to ffmpeg.
    pub async fn stop(mut self) {
        if self.addr().await.is_err() {
            return;
        }
        if let Some(node) = self.running.take()
            && let Err(error) = node.stop().await
        {
            tracing::warn!(error = format!("{error:#}"), "stopping the embedded node");
        }
    }
}
