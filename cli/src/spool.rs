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
//!
//! A spool is bounded (`--spool-limit`, by default half the free space where
//! it is written): a live pipe or an endless graph would otherwise fill the
//! disk before a frame is encoded. Past the limit, ffmpeg takes the command
//! over and encodes as the input comes. A graph is simply run again by
//! ffmpeg. A pipe cannot be: ffmpeg reads the spooled bytes and then the
//! rest of the real pipe, through a `cat` started before the exec, so no
//! byte is lost or read twice. Standard input is read without a buffer for
//! this: not a byte past the limit leaves the pipe.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::job::{EncodeJob, InputKind};
use crate::local::Tools;
use crate::probe::{self, MediaInfo};

/// Demuxers that read a pipe and a file of the same bytes alike: the only
/// ones whose piped input is distributed as spooled (`image2pipe` is too,
/// once copied into NUT: [`PIPED_IMAGES`]).
pub const PIPE_FORMATS: &[&str] =
    &["rawvideo", "yuv4mpegpipe", "matroska", "webm", "nut", "mpegts"];

/// Images piped one after another (`cat *.png | ffmpeg -f image2pipe -i -`),
/// named by the decoder a command may give them (`-c:v png`), which is
/// ffmpeg's default for them, and which NUT holds. The `image2pipe`
/// demuxer stamps image k with k at its rate, as `image2` does, but seeks
/// a file of them by byte position, landing frames away from where it was
/// asked (measured: two frames late on PNGs); so the spooled bytes are
/// copied into NUT, frame for frame, which every later reader opens.
pub const PIPED_IMAGES: &[&str] = &["png", "mjpeg"];

/// How far past the last frame any output needs a lavfi graph is run, so
/// that audio packets straddling the end are spooled whole.
const LAVFI_MARGIN_US: i64 = 1_000_000;

/// Why an input was not spooled, and what ffmpeg then reads as its stdin.
#[derive(Debug)]
pub struct Unspooled {
    /// Why the command runs through ffmpeg.
    pub reason: String,
    /// The bytes read so far followed by the rest of the pipe, when stdin
    /// was being spooled; `None` leaves ffmpeg the real stdin.
    pub stdin: Option<std::process::Stdio>,
}

impl From<String> for Unspooled {
    fn from(reason: String) -> Self {
        Self { reason, stdin: None }
    }
}

/// Half the space free to this user under `dir`: the default spool limit.
#[allow(unsafe_code)]
pub fn default_limit(dir: &Path) -> u64 {
    use std::os::unix::ffi::OsStrExt as _;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else { return u64::MAX };
    // SAFETY: statvfs writes only the struct we own, given a valid C string.
    let free = unsafe {
        let mut stat: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(path.as_ptr(), &mut stat) != 0 {
            return u64::MAX;
        }
        stat.f_bavail.saturating_mul(stat.f_frsize)
    };
    free / 2
}

/// A spooled input; the files go when it is dropped.
#[derive(Debug)]
pub struct Spool {
    dir: node::workdir::WorkDir,
    /// What every job reads from here on.
    path: PathBuf,
    /// Standard input's bytes as they came, which a fallback replays.
    bytes: Option<PathBuf>,
    /// `path` is NUT made of the input (a lavfi graph, piped images), which
    /// needs none of the user's input options.
    copied: bool,
    /// Per stream, the time base of the graph's own output, which NUT refines.
    source_time_bases: Vec<(i64, i64)>,
}

impl Spool {
    /// Spools the input that every job of `jobs` reads (they share one) into
    /// a new directory under `temp_root`, up to `limit` bytes. The inner
    /// error is why the input is not spooled, for a fallback to ffmpeg; the
    /// outer one is a failure after which nothing can be replayed (stdin
    /// half read).
    pub async fn capture(
        tools: &Tools,
        jobs: &[EncodeJob],
        temp_root: &Path,
        limit: u64,
    ) -> anyhow::Result<Result<Self, Unspooled>> {
        let first = jobs.first().context("no job to spool the input of")?;
        // Also removes what killed runs spooled.
        let dir = node::workdir::WorkDir::create(temp_root, "dffmpeg-spool-")
            .with_context(|| format!("creating a spool directory in {}", temp_root.display()))?;
        let kind = first.input_kind;
        let mut source_time_bases = Vec::new();
        let mut bytes = None;
        let path = match kind {
            InputKind::File => return Ok(Err("a file needs no spooling".to_string().into())),
            InputKind::Stdin => {
                let path = dir.path().join("stdin");
                if let Spooled::Cut = copy_stdin(&path, limit).await? {
                    let stdin = replay_then_rest(&path).context("handing the pipe to ffmpeg")?;
                    return Ok(Err(Unspooled {
                        reason: format!(
                            "the pipe is longer than the spool limit ({limit} bytes); ffmpeg reads it as it comes"
                        ),
                        stdin: Some(stdin),
                    }));
                }
                bytes = Some(path.clone());
                if first.image_sequence {
                    match copy_images(tools, first, &path, dir.path()).await {
                        Ok((nut, time_bases)) => {
                            source_time_bases = time_bases;
                            nut
                        }
                        Err(error) => {
                            let stdin =
                                std::fs::File::open(&path).context("reopening the spooled pipe")?;
                            return Ok(Err(Unspooled {
                                reason: format!("the piped images could not be spooled: {error:#}"),
                                stdin: Some(stdin.into()),
                            }));
                        }
                    }
                } else {
                    path
                }
            }
            InputKind::Lavfi => {
                match probe::probe(tools, &first.input, &first.input_args).await {
                    Ok(graph) => {
                        source_time_bases = graph.streams.iter().map(|s| s.time_base).collect();
                    }
                    Err(error) => return Ok(Err(format!("{error:#}").into())),
                }
                let path = dir.path().join("lavfi.nut");
                let args = lavfi_args(first, lavfi_bound(jobs), limit, &path);
                if let Err(error) = tools.ffmpeg(&args).await {
                    let reason = format!("the lavfi graph could not be spooled: {error:#}");
                    return Ok(Err(reason.into()));
                }
                // -fs stops the spool at the limit; the graph may go on.
                if std::fs::metadata(&path).is_ok_and(|m| m.len() >= limit) {
                    let reason = format!(
                        "the lavfi graph is longer than the spool limit ({limit} bytes); ffmpeg runs it"
                    );
                    return Ok(Err(reason.into()));
                }
                path
            }
        };
        tracing::debug!(path = %path.display(), "input spooled");
        let copied = kind == InputKind::Lavfi || bytes.as_ref().is_some_and(|b| *b != path);
        Ok(Ok(Self { dir, path, bytes, copied, source_time_bases }))
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

    /// Points every job at the spooled file. A lavfi graph or piped images
    /// copied into NUT need no input options; spooled stdin keeps the
    /// user's (`-f rawvideo -s ...`), which describe its bytes.
    pub fn redirect(&self, jobs: &mut [EncodeJob]) {
        for job in jobs {
            job.input = self.path.clone();
            if self.copied {
                job.input_args.clear();
            }
        }
    }

    /// Standard input for the real ffmpeg or ffprobe when they must read
    /// what dffmpeg already read: the spooled bytes from their start.
    pub fn replay(&self) -> Option<std::fs::File> {
        let bytes = self.bytes.as_ref()?;
        match std::fs::File::open(bytes) {
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

/// How much of standard input a spool took.
enum Spooled {
    /// All of it, to its end.
    Whole,
    /// `limit` bytes; the pipe may go on.
    Cut,
}

/// Copies standard input to `path`, up to `limit` bytes and not one more
/// (from the fd itself, not through std's buffered stdin). On a thread of
/// its own rather than the runtime's blocking pool, so that Ctrl-C need not
/// wait for a writer that never closes the pipe.
async fn copy_stdin(path: &Path, limit: u64) -> anyhow::Result<Spooled> {
    use std::io::Read as _;
    use std::os::fd::AsFd as _;
    let mut file = std::fs::File::create(path)
        .with_context(|| format!("creating {} to spool stdin", path.display()))?;
    let stdin = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .context("opening standard input to spool it")?;
    let (done, copied) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("stdin-spool".into())
        .spawn(move || {
            let mut reader = std::fs::File::from(stdin).take(limit);
            let result = std::io::copy(&mut reader, &mut file);
            let _ = done.send(result);
        })
        .context("starting the thread that spools stdin")?;
    let bytes = copied
        .await
        .context("the thread spooling stdin died")?
        .with_context(|| format!("spooling stdin to {}", path.display()))?;
    tracing::debug!(bytes, limit, "stdin spooled");
    Ok(if bytes >= limit { Spooled::Cut } else { Spooled::Whole })
}

/// A pipe that yields the spooled bytes at `path`, then the rest of the real
/// standard input: the stdout of `cat /dev/fd/3 -`, with the spool open as
/// its fd 3 (so the file may be removed at once) and our stdin as its own.
#[allow(unsafe_code)]
fn replay_then_rest(path: &Path) -> anyhow::Result<std::process::Stdio> {
    use std::os::fd::AsRawFd as _;
    use std::os::unix::process::CommandExt as _;
    let spooled = std::fs::File::open(path)
        .with_context(|| format!("reopening the spooled pipe {}", path.display()))?;
    let fd = spooled.as_raw_fd();
    let mut cat = std::process::Command::new("cat");
    cat.args(["/dev/fd/3", "-"]).stdout(std::process::Stdio::piped());
    // SAFETY: between fork and exec the closure only calls dup2, which is
    // async-signal-safe; `spooled` outlives the spawn.
    unsafe {
        cat.pre_exec(move || {
            if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cat.spawn().context("starting cat to replay the spooled pipe")?;
    drop(spooled);
    let stdout = child.stdout.take().context("cat's stdout")?;
    // cat outlives this process's image: ffmpeg, exec'd next, inherits it.
    std::mem::forget(child);
    Ok(std::process::Stdio::from(stdout))
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

/// Copies the piped images spooled at `bytes` into NUT in `dir` (see
/// [`PIPED_IMAGES`]), read with the user's input options as ffmpeg alone
/// reads them: `-r` is the demuxer's rate under `-f`, over any
/// `-framerate`. Returns the NUT file and the images' time base.
async fn copy_images(
    tools: &Tools,
    job: &EncodeJob,
    bytes: &Path,
    dir: &Path,
) -> anyhow::Result<(PathBuf, Vec<(i64, i64)>)> {
    let input_args = probe::rate_over_framerate(&job.input_args);
    let media = probe::probe(tools, bytes, &input_args).await?;
    let video = media.streams.iter().find(|s| s.codec_type == "video");
    let codec = video.map(|s| s.codec_name.as_str()).unwrap_or("none");
    anyhow::ensure!(
        media.streams.len() == 1 && PIPED_IMAGES.contains(&codec),
        "{} stream(s), the first of {codec} (one stream of PNG or JPEG images is)",
        media.streams.len()
    );
    let nut = dir.join("images.nut");
    let mut args: Vec<OsString> = input_args.iter().map(OsString::from).collect();
    args.push("-i".into());
    args.push(bytes.into());
    for a in ["-map", "0:v", "-c", "copy", "-copyts", "-avoid_negative_ts", "disabled"] {
        args.push(a.into());
    }
    for a in ["-f", "nut", "-y"] {
        args.push(a.into());
    }
    args.push(nut.clone().into());
    tools.ffmpeg(&args).await?;
    Ok((nut, media.streams.iter().map(|s| s.time_base).collect()))
}

/// `ffmpeg -f lavfi [-t BOUND] -i GRAPH`, every stream copied into NUT with
/// its timestamps unchanged, stopping at `limit` bytes.
fn lavfi_args(job: &EncodeJob, bound: Option<i64>, limit: u64, out: &Path) -> Vec<OsString> {
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
    args.push("-fs".into());
    args.push(limit.to_string().into());
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
            1 << 30,
            Path::new("s.nut"),
        );
        let args: Vec<&str> = args.iter().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(
            args.join(" "),
            "-f lavfi -t 3.000000 -i testsrc2 -map 0 -c copy -copyts -avoid_negative_ts disabled -f nut -y -fs 1073741824 s.nut"
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
