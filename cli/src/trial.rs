//! The trial: before a command is distributed, the real ffmpeg runs it on
//! its first video frame, into a scratch file.
//!
//! ffmpeg alone reports some errors only once it opens the encoder or
//! writes the output's header (a codec the container cannot hold, an
//! encoder option it rejects, a pixel format the encoder lacks), and exits
//! before encoding anything. A distributed run would meet them only in the
//! nodes' encodes or in the final mux, after the whole input was encoded.
//! A command whose trial fails runs through ffmpeg instead, which then
//! reports the error in its own words, with its own exit code and output.
//! A trial that fails for a reason of dffmpeg's own only costs the speed.

use std::ffi::OsString;
use std::path::Path;

use node::workdir::WorkDir;
use tokio::task::JoinHandle;

use crate::job::EncodeJob;
use crate::local::Tools;

/// The trials of a command's outputs, running beside the input's probe;
/// dropped, they stop (their ffmpegs are killed, their scratch removed).
pub struct Trials(Vec<JoinHandle<Option<String>>>);

impl Trials {
    /// Starts a trial of every job, scratch under `scratch_root`.
    pub fn start(tools: &Tools, jobs: &[EncodeJob], scratch_root: &Path) -> Self {
        let handles = jobs
            .iter()
            .map(|job| {
                let (tools, job, root) = (tools.clone(), job.clone(), scratch_root.to_path_buf());
                tokio::spawn(async move { refusal(&tools, &job, &root).await })
            })
            .collect();
        Self(handles)
    }

    /// Waits for every trial; the first refusal, in output order, if any.
    pub async fn refusal(mut self) -> Option<String> {
        for handle in &mut self.0 {
            match handle.await {
                Ok(None) => {}
                Ok(Some(reason)) => return Some(reason),
                Err(error) => return Some(format!("the trial did not finish: {error}")),
            }
        }
        None
    }
}

impl Drop for Trials {
    fn drop(&mut self) {
        self.0.iter().for_each(JoinHandle::abort);
    }
}

/// What ffmpeg alone says when it would stop before encoding `job`, or
/// `None` when its trial encodes a frame.
async fn refusal(tools: &Tools, job: &EncodeJob, scratch_root: &Path) -> Option<String> {
    let parent = job.output.parent().filter(|p| !p.as_os_str().is_empty());
    if parent.is_some_and(|dir| !dir.is_dir()) {
        return Some("the output's directory does not exist".into());
    }
    // Removes what killed runs' trials left, too.
    let scratch = match WorkDir::create(scratch_root, "dffmpeg-trial-") {
        Ok(dir) => dir,
        Err(error) => return Some(format!("no scratch directory for the trial: {error}")),
    };
    let args = argv(job, &scratch.path().join("trial"));
    match tools.ffmpeg(&args).await {
        Ok(()) => None,
        Err(error) => Some(format!("ffmpeg alone stops before encoding: {error:#}")),
    }
}

/// The trial's arguments: the job's input as every reader opens it, the
/// output's own options (`EncodeJob::trial_options`), one video frame, the
/// output's muxer.
fn argv(job: &EncodeJob, scratch: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> =
        job.input_args.iter().chain(&job.input_trim_args).map(OsString::from).collect();
    args.push("-i".into());
    args.push(job.input.clone().into());
    args.extend(job.trial_options.iter().map(OsString::from));
    for a in ["-frames:v", "1", "-f", &job.output_format, "-y"] {
        args.push(a.into());
    }
    args.push(scratch.into());
    args
}
