//! The real ffmpeg and ffprobe on this machine: finding them and running them.
//! The only place in `cli` that starts a process.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio::sync::OnceCell;

/// How much of a failed tool's stderr an error keeps.
const STDERR_TAIL: usize = 4096;

/// Paths of the real ffmpeg and ffprobe.
#[derive(Debug, Clone)]
pub struct Tools {
    /// The real ffmpeg, never dffmpeg itself.
    pub ffmpeg: PathBuf,
    /// The ffprobe that belongs to it.
    pub ffprobe: PathBuf,
    /// `ffmpeg -version`, run once for the banner and the encoder tags.
    version: Arc<OnceCell<String>>,
}

impl Tools {
    /// Finds the tools: `DFFMPEG_FFMPEG` or the config's `ffmpeg`, else the
    /// first `ffmpeg` on PATH that is not this program (dffmpeg may be
    /// installed under the name ffmpeg). ffprobe: `DFFMPEG_FFPROBE`, else
    /// next to ffmpeg, else on PATH.
    pub fn find(configured: Option<&Path>) -> anyhow::Result<Self> {
        let ffmpeg = match std::env::var_os("DFFMPEG_FFMPEG")
            .map(PathBuf::from)
            .or(configured.map(Path::to_path_buf))
        {
            Some(path) => path,
            None => {
                search_path("ffmpeg").context("no ffmpeg found on PATH (set DFFMPEG_FFMPEG)")?
            }
        };
        let ffprobe = match std::env::var_os("DFFMPEG_FFPROBE") {
            Some(path) => PathBuf::from(path),
            None => ffmpeg
                .parent()
                .map(|dir| dir.join("ffprobe"))
                .filter(|p| p.is_file())
                .or_else(|| search_path("ffprobe"))
                .unwrap_or_else(|| "ffprobe".into()),
        };
        Ok(Self { ffmpeg, ffprobe, version: Arc::default() })
    }

    /// Runs ffprobe and returns its stdout; fails with its stderr.
    pub async fn ffprobe(&self, args: &[String]) -> anyhow::Result<Vec<u8>> {
        let output = run_to_end(&self.ffprobe, args, Stdio::null()).await?;
        if !output.status.success() {
            bail!("ffprobe failed: {}", tail(&output.stderr));
        }
        Ok(output.stdout)
    }

    /// `ffmpeg -version`: the banner's text.
    pub async fn version(&self) -> anyhow::Result<&str> {
        let text = self
            .version
            .get_or_try_init(|| async {
                let output = run_to_end(&self.ffmpeg, ["-version"], Stdio::null()).await?;
                anyhow::Ok(String::from_utf8_lossy(&output.stdout).into_owned())
            })
            .await?;
        Ok(text)
    }

    /// libavcodec's ident (`Lavc59.37.100`), which ffmpeg writes into the
    /// `encoder` tag of every stream it encodes.
    pub async fn lavc_ident(&self) -> anyhow::Result<String> {
        let version = self.version().await?;
        lavc_ident(version).with_context(|| format!("no libavcodec version in {version:?}"))
    }

    /// ffprobe's description of an input (`Input #0, ...`), exactly as
    /// ffmpeg prints it for the same input: both call `av_dump_format`.
    /// `stdin` feeds an input read from `pipe:` (a spooled pipe's bytes).
    pub async fn describe_input(
        &self,
        args: &[String],
        stdin: Option<std::fs::File>,
    ) -> anyhow::Result<String> {
        let args = std::iter::once("-hide_banner").chain(args.iter().map(String::as_str));
        let stdin = stdin.map_or_else(Stdio::null, Stdio::from);
        let output = run_to_end(&self.ffprobe, args, stdin).await?;
        Ok(String::from_utf8_lossy(&output.stderr).into_owned())
    }

    /// Runs ffmpeg quietly to completion; fails with the end of its stderr.
    pub async fn ffmpeg(&self, args: &[OsString]) -> anyhow::Result<()> {
        self.ffmpeg_log("error", args).await.map(drop)
    }

    /// Runs ffmpeg to completion at `loglevel` and returns its stderr, for
    /// filters that report through the log (`showinfo`); fails with the end
    /// of its stderr.
    pub async fn ffmpeg_log(&self, loglevel: &str, args: &[OsString]) -> anyhow::Result<Vec<u8>> {
        self.ffmpeg_log_in(loglevel, args, &[]).await
    }

    /// [`Tools::ffmpeg_log`] with `env` added to ffmpeg's environment (a
    /// font configuration of the nodes' kind, `fontconfig::loads`).
    pub async fn ffmpeg_log_in(
        &self,
        loglevel: &str,
        args: &[OsString],
        env: &[(&str, &std::path::Path)],
    ) -> anyhow::Result<Vec<u8>> {
        let (status, stderr) = self.logged(loglevel, args, env, Stdio::null()).await?;
        if !status.success() {
            bail!("ffmpeg failed ({status}): {}", tail(&stderr));
        }
        Ok(stderr)
    }

    /// Runs an ffmpeg that writes to dffmpeg's own standard output (the
    /// final mux of an output to `-`) at `loglevel`; whether it succeeded,
    /// and its whole stderr either way (a reader that went away is told
    /// apart by it: `assemble::PipeClosed`).
    pub async fn ffmpeg_to_stdout(
        &self,
        loglevel: &str,
        args: &[OsString],
    ) -> anyhow::Result<(bool, Vec<u8>)> {
        let (status, stderr) = self.logged(loglevel, args, &[], Stdio::inherit()).await?;
        Ok((status.success(), stderr))
    }

    /// Runs ffmpeg with `stdout` as its standard output to its end; its
    /// exit status and stderr.
    async fn logged(
        &self,
        loglevel: &str,
        args: &[OsString],
        env: &[(&str, &std::path::Path)],
        stdout: Stdio,
    ) -> anyhow::Result<(std::process::ExitStatus, Vec<u8>)> {
        let mut child = Command::new(&self.ffmpeg)
            .args(["-hide_banner", "-nostdin", "-nostats", "-loglevel", loglevel])
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, *v)))
            // The user's FFREPORT names dffmpeg's report; an ffmpeg of ours
            // that inherited it would write its own log over that file.
            .env_remove("FFREPORT")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // See `run_to_end`.
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", self.ffmpeg.display()))?;
        let mut stderr = Vec::new();
        if let Some(mut pipe) = child.stderr.take() {
            pipe.read_to_end(&mut stderr).await.context("reading ffmpeg's stderr")?;
        }
        let status = child.wait().await.context("waiting for ffmpeg")?;
        Ok((status, stderr))
    }

    /// Replaces this process with the real ffmpeg and the original argv, so
    /// stdin, stdout, stderr, the exit code and signals are ffmpeg's own.
    /// `stdin` replaces standard input when dffmpeg already read it (the
    /// spooled bytes of a pipe, replayed from the start).
    pub fn exec(&self, argv: &[OsString], stdin: Option<Stdio>) -> anyhow::Error {
        use std::os::unix::process::CommandExt as _;
        let mut command = std::process::Command::new(&self.ffmpeg);
        command.args(argv);
        if let Some(stdin) = stdin {
            command.stdin(stdin);
        }
        let error = command.exec();
        anyhow::Error::new(error).context(format!("running {}", self.ffmpeg.display()))
    }
}

/// Runs `program` with `args` and `stdin` to its end, keeping its output;
/// the child dies with the future. Like every process dffmpeg starts, it
/// runs in a process group of its own: Ctrl-C on a terminal signals the
/// whole foreground group, and the stop it asks for is dffmpeg's to carry
/// out (`interrupt`), not a cut's or a mux's to die of.
async fn run_to_end<I, S>(
    program: &Path,
    args: I,
    stdin: Stdio,
) -> anyhow::Result<std::process::Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(program)
        .args(args)
        .env_remove("FFREPORT") // see `Tools::ffmpeg_log`
        .stdin(stdin)
        .kill_on_drop(true)
        .process_group(0)
        .output()
        .await
        .with_context(|| format!("starting {}", program.display()))
}

/// `libavcodec     59. 37.100 / 59. 37.100` in `ffmpeg -version` to `Lavc59.37.100`.
fn lavc_ident(version: &str) -> Option<String> {
    let line = version.lines().find_map(|l| l.strip_prefix("libavcodec"))?;
    let linked: String = line.split('/').next()?.chars().filter(|c| !c.is_whitespace()).collect();
    (!linked.is_empty()).then(|| format!("Lavc{linked}"))
}

fn tail(bytes: &[u8]) -> String {
    let start = bytes.len().saturating_sub(STDERR_TAIL);
    String::from_utf8_lossy(&bytes[start..]).trim().to_string()
}

/// The first executable `name` on PATH that is not the running program.
fn search_path(name: &str) -> Option<PathBuf> {
    let me = std::env::current_exe().ok().and_then(|p| p.canonicalize().ok());
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .filter(|p| p.is_file())
        .find(|p| p.canonicalize().ok() != me)
}

#[cfg(test)]
mod tests {
    #[test]
    fn lavc_ident_from_the_version_text() {
        let text = "ffmpeg version 5.1.9\nlibavutil      57. 28.100 / 57. 28.100\nlibavcodec     59. 37.100 / 59. 37.100\n";
        assert_eq!(super::lavc_ident(text).as_deref(), Some("Lavc59.37.100"));
        assert_eq!(super::lavc_ident("ffmpeg version 5.1.9\n"), None);
    }
}
