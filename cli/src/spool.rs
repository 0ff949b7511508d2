//! Inputs that can be read only once, made into files that can be read many
//! times, before anything else reads them.
//!
//! A distributed encode reads its input several times: the probe, the packet
//! list, one cut per chunk and the final mux. Standard input and a lavfi
//! graph cannot be read twice, so the coordinator first spools them into a
//! directory of their own:
//! - standard input, byte for byte, into a file that every later reader opens
//!   with the user's own input options. The demuxers allowed for pipes
//!   ([`PIPE_FORMATS`]) read a file exactly as they read a pipe. If the
//!   command falls back to ffmpeg, these bytes become its standard input, so
//!   nothing that was read is lost.
//! - a lavfi graph, by stream copy with its timestamps unchanged, into NUT:
//!   the generated raw frames and samples, which then travel to the nodes as
//!   raw frames, zstd-compressed like every chunk.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::job::{EncodeJob, InputKind};
use crate::local::Tools;
use crate::probe::{self, MediaInfo};

/// Demuxers that read a pipe and a file of the same bytes alike: the only
/// ones whose piped input is distributed.
pub const PIPE_FORMATS: &[&str] =
    &["rawvideo", "yuv4mpegpipe", "matroska", "webm", "nut", "mpegts"];

/// How far past the last frame any output needs a lavfi graph is run, so
/// that audio packets straddling the end are spooled whole.
const LAVFI_MARGIN_US: i64 = 1_000_000;

/// A spooled input; the files go when it is dropped.
#[derive(Debug)]
pub struct Spool {
    dir: node::workdir::WorkDir,
    path: PathBuf,
    kind: InputKind,
    /// Per stream, the time base of the graph's own output, which NUT refines.
    source_time_bases: Vec<(i64, i64)>,
}

impl Spool {
    /// Spools the input that every job of `jobs` reads (they share one) into
    /// a new directory under `temp_root`. The inner error is why the input
    /// cannot be spooled, for a fallback to ffmpeg; the outer one is a
    /// failure after which nothing can be replayed (stdin half read).
    pub async fn capture(
        tools: &Tools,
        jobs: &[EncodeJob],
        temp_root: &Path,
    ) -> anyhow::Result<Result<Self, String>> {
        let first = jobs.first().context("no job to spool the input of")?;
        // Also removes what killed runs spooled.
        let dir = node::workdir::WorkDir::create(temp_root, "dffmpeg-spool-")
            .with_context(|| format!("creating a spool directory in {}", temp_root.display()))?;
        let kind = first.input_kind;
        let mut source_time_bases = Vec::new();
        let path = match kind {
            InputKind::File => return Ok(Err("a file needs no spooling".into())),
            InputKind::Stdin => {
                let path = dir.path().join("stdin");
                copy_stdin(&path).await?;
                path
            }
            InputKind::Lavfi => {
                match probe::probe(tools, &first.input, &first.input_args).await {
                    Ok(graph) => {
                        source_time_bases = graph.streams.iter().map(|s| s.time_base).collect();
                    }
                    Err(error) => return Ok(Err(format!("{error:#}"))),
                }
                let path = dir.path().join("lavfi.nut");
                let args = lavfi_args(first, lavfi_bound(jobs), &path);
                if let Err(error) = tools.ffmpeg(&args).await {
                    return Ok(Err(format!("the lavfi graph could not be spooled: {error:#}")));
                }
                path
            }
        };
        tracing::debug!(path = %path.display(), "input spooled");
        Ok(Ok(Self { dir, path, kind, source_time_bases }))
    }

    /// Gives the streams of the spooled file, as probed, the time bases
    /// ffmpeg alone would read them in, for its rounding (see `timeline`).
    pub fn restore_time_bases(&self, media: &mut MediaInfo) {
        for (stream, tb) in media.streams.iter_mut().zip(&self.source_time_bases) {
            stream.source_time_base = *tb;
        }
    }

    /// The spooled file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Points every job at the spooled file. A lavfi spool is plain NUT and
    /// needs no input options; spooled stdin keeps the user's (`-f rawvideo
    /// -s ...`), which describe its bytes.
    pub fn redirect(&self, jobs: &mut [EncodeJob]) {
        for job in jobs {
            job.input = self.path.clone();
            if self.kind == InputKind::Lavfi {
                job.input_args.clear();
            }
        }
    }

    /// Standard input for the real ffmpeg or ffprobe when they must read
    /// what dffmpeg already read: the spooled bytes from their start.
    pub fn replay(&self) -> Option<std::fs::File> {
        if self.kind != InputKind::Stdin {
            return None;
        }
        match std::fs::File::open(&self.path) {
            Ok(file) => Some(file),
            Err(error) => {
                tracing::warn!(%error, dir = %self.dir.path().display(), "cannot reopen spooled stdin");
                None
            }
        }
    }
}

/// True when ffprobe's `format_name` (`matroska,webm`) names a demuxer that
/// reads a spooled pipe as it reads the pipe.
pub fn reads_like_a_pipe(format_name: &str) -> bool {
    format_name.split(',').any(|name| PIPE_FORMATS.contains(&name))
}

/// Copies all of standard input to `path`. On a thread of its own rather
/// than the runtime's blocking pool, so that Ctrl-C need not wait for a
/// writer that never closes the pipe.
async fn copy_stdin(path: &Path) -> anyhow::Result<()> {
    let mut file = std::fs::File::create(path)
        .with_context(|| format!("creating {} to spool stdin", path.display()))?;
    let (done, copied) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("stdin-spool".into())
        .spawn(move || {
            let result = std::io::copy(&mut std::io::stdin().lock(), &mut file);
            let _ = done.send(result);
        })
        .context("starting the thread that spools stdin")?;
    let bytes = copied
        .await
        .context("the thread spooling stdin died")?
        .with_context(|| format!("spooling stdin to {}", path.display()))?;
    tracing::debug!(bytes, "stdin spooled");
    Ok(())
}

/// The end, in microseconds of the graph's timeline, past which no output
/// takes a frame; `None` when some output takes everything.
fn lavfi_bound(jobs: &[EncodeJob]) -> Option<i64> {
    jobs.iter()
        .map(|job| {
            let start = job.input_window.start.unwrap_or(0).max(0);
            match (job.input_window.end(), job.output_window.end()) {
                (Some(input_end), Some(output_end)) => Some(input_end.min(start + output_end)),
                (Some(input_end), None) => Some(input_end),
                (None, Some(output_end)) => Some(start + output_end),
                (None, None) => None,
            }
        })
        .try_fold(0_i64, |bound, end| end.map(|end| bound.max(end)))
}

/// `ffmpeg -f lavfi [-t BOUND] -i GRAPH`, every stream copied into NUT with
/// its timestamps unchanged.
fn lavfi_args(job: &EncodeJob, bound: Option<i64>, out: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = job.input_args.iter().map(OsString::from).collect();
    if let Some(end) = bound {
        let end = end + LAVFI_MARGIN_US;
        args.push("-t".into());
        args.push(format!("{}.{:06}", end / 1_000_000, end % 1_000_000).into());
    }
    args.push("-i".into());
    args.push(job.input.clone().into());
    for a in
        ["-map", "0", "-c", "copy", "-copyts", "-avoid_negative_ts", "disabled", "-f", "nut", "-y"]
    {
        args.push(a.into());
    }
    args.push(out.into());
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse;

    fn job(line: &str) -> EncodeJob {
        let argv: Vec<String> = line.split(' ').map(String::from).collect();
        crate::route::route(&parse(&argv).unwrap()).unwrap()
    }

    #[test]
    fn a_lavfi_graph_runs_as_far_as_an_output_needs() {
        let graph = "-f lavfi -i testsrc2";
        let bound = |lines: &[&str]| {
            let jobs: Vec<EncodeJob> = lines.iter().map(|l| job(l)).collect();
            lavfi_bound(&jobs)
        };
        assert_eq!(bound(&[&format!("{graph} -c:v ffv1 a.mkv")]), None);
        assert_eq!(bound(&[&format!("-t 2 {graph} -c:v ffv1 a.mkv")]), Some(2_000_000));
        assert_eq!(bound(&[&format!("-ss 1 -t 2 {graph} -c:v ffv1 a.mkv")]), Some(3_000_000));
        assert_eq!(bound(&[&format!("-ss 1 {graph} -c:v ffv1 -t 2 a.mkv")]), Some(3_000_000));
        assert_eq!(
            bound(&[&format!("{graph} -c:v ffv1 -t 2 a.mkv"), &format!("{graph} -c:v ffv1 b.mkv")]),
            None
        );
        let args = lavfi_args(
            &job(&format!("-t 2 {graph} -c:v ffv1 a.mkv")),
            Some(2_000_000),
            Path::new("s.nut"),
        );
        let args: Vec<&str> = args.iter().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(
            args.join(" "),
            "-f lavfi -t 3.000000 -i testsrc2 -map 0 -c copy -copyts -avoid_negative_ts disabled -f nut -y s.nut"
        );
    }

    #[test]
    fn pipe_formats_by_ffprobes_name() {
        assert!(reads_like_a_pipe("matroska,webm"));
        assert!(reads_like_a_pipe("rawvideo"));
        assert!(!reads_like_a_pipe("avi"));
        assert!(!reads_like_a_pipe("mov,mp4,m4a,3gp,3g2,mj2"));
    }
}
