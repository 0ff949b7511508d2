//! Runs the node's ffmpeg: the only place in `node` that starts a process.

use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;

use crate::error::NodeError;
use crate::progress::{ProgressBlock, ProgressParser};

/// How much of ffmpeg's stderr an error message keeps.
const STDERR_TAIL: usize = 2048;

/// What an encode that exited cleanly reports.
#[derive(Debug, Clone, Default)]
pub struct Encoded {
    /// The last progress block.
    pub last: ProgressBlock,
    /// The first line of its log that says the source is damaged
    /// (`decode_damage::Complaint::Damage`), if any.
    pub damage: Option<String>,
    /// The first line of the source's decoder's, if any: damage too if the
    /// chunk kept another number of frames than asked for.
    pub complaint: Option<String>,
}

/// Runs ffmpeg with `args` in the chunk directory `dir`, sending each
/// progress block to `progress`, and returns the last block and what the
/// log says of the source (`decoder` is its decoder's name, `decode_damage`).
/// The child is killed if this future is dropped.
pub async fn run_encode(
    ffmpeg: &Path,
    dir: &Path,
    args: Vec<OsString>,
    decoder: &str,
    progress: mpsc::Sender<ProgressBlock>,
) -> Result<Encoded, NodeError> {
    let fonts_conf = std::path::absolute(dir.join(crate::spec::FONTS_CONF))
        .map_err(|e| NodeError::io("finding the chunk directory", e))?;
    let mut child = Command::new(ffmpeg)
        .args(&args)
        // A chunk's ffmpeg writes no report: an inherited FFREPORT (the
        // embedded node shares dffmpeg's environment) would write over the
        // user's report file, and a chunk's log goes back in its error.
        .env_remove("FFREPORT")
        // No fonts but those a spec sends: drawtext falls back to
        // fontconfig when its font file does not load, which would read the
        // machine's configuration and fonts (and draw with them). The
        // service writes a configuration of no fonts there, or of a
        // subtitle's own (`crate::fonts_conf`).
        // Absolute: fontconfig looks a relative name up in /etc/fonts.
        .env("FONTCONFIG_FILE", fonts_conf)
        // Anything an encoder writes by a relative name stays in the chunk's
        // directory, which is removed with the chunk.
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Its own process group: Ctrl-C on the terminal of a node (or of
        // dffmpeg, for the embedded one) signals the foreground group, and
        // the node decides what becomes of a running chunk.
        .process_group(0)
        .spawn()
        .map_err(|e| NodeError::io(format!("starting {}", ffmpeg.display()), e))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let decoder = decoder.to_string();
    let stderr_task = tokio::spawn(async move {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf).await;
        let (mut damage, mut complaint) = (None, None);
        for line in buf.split(|&b| b == b'\n').map(String::from_utf8_lossy) {
            use crate::decode_damage::Complaint;
            let said = crate::decode_damage::complaint(&line, &decoder);
            if said.is_some() && complaint.is_none() {
                complaint = Some(line.trim().to_string());
            }
            if said == Some(Complaint::Damage) {
                damage = Some(line.trim().to_string());
                break;
            }
        }
        let start = buf.len().saturating_sub(STDERR_TAIL);
        (String::from_utf8_lossy(&buf[start..]).trim().to_string(), damage, complaint)
    });
    let mut lines = BufReader::new(stdout).lines();
    let mut parser = ProgressParser::default();
    let mut last = ProgressBlock::default();
    while let Some(line) =
        lines.next_line().await.map_err(|e| NodeError::io("reading ffmpeg progress", e))?
    {
        if let Some(block) = parser.line(&line) {
            last = block.clone();
            // A closed receiver only means nobody watches progress any more.
            let _ = progress.try_send(block);
        }
    }
    let status = child.wait().await.map_err(|e| NodeError::io("waiting for ffmpeg", e))?;
    let (stderr_tail, damage, complaint) = stderr_task.await.unwrap_or_default();
    if let Some(line) = damage.clone().filter(|_| !status.success()) {
        return Err(NodeError::DecodeDamage { line });
    }
    if !status.success() {
        return Err(NodeError::FfmpegFailed { status: status.to_string(), stderr_tail });
    }
    if let Some(error) = write_error(&stderr_tail) {
        return Err(NodeError::FfmpegFailed {
            status: format!("{status}, but its output is incomplete: {error}"),
            stderr_tail,
        });
    }
    Ok(Encoded { last, damage, complaint })
}

/// ffmpeg 5.1 exits 0 when the output's trailer or close fails (a full disk,
/// say): the messages it prints then, which mean the file is incomplete.
const WRITE_ERRORS: &[&str] = &["Error writing trailer", "Error closing file"];

/// The first line of `stderr` that says the output was not written whole.
fn write_error(stderr: &str) -> Option<&str> {
    stderr.lines().find(|line| WRITE_ERRORS.iter().any(|e| line.contains(e)))
}

/// `ffmpeg -version`'s first line, and the names of the video encoders.
///
/// One process, not two: starting this ffmpeg costs about 0.1 s (it links
/// some 200 libraries), and a node starts on dffmpeg's critical path when it
/// is the embedded one. `-encoders` without `-hide_banner` prints the
/// banner, whose first line is `-version`'s, on stderr.
pub async fn describe(ffmpeg: &Path) -> (String, Vec<String>) {
    let Ok(output) = Command::new(ffmpeg)
        .arg("-encoders")
        .env_remove("FFREPORT") // see `run_encode`
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
    else {
        return (String::new(), Vec::new());
    };
    let version = String::from_utf8_lossy(&output.stderr)
        .lines()
        .find(|l| l.starts_with("ffmpeg version"))
        .unwrap_or_default()
        .to_string();
    (version, parse_encoders(&String::from_utf8_lossy(&output.stdout)))
}

/// Video encoder names from `ffmpeg -encoders` (lines like ` V....D libx264 ...`).
fn parse_encoders(text: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| !l.trim_start().starts_with("------"))
        .skip(1)
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let flags = words.next()?;
            let name = words.next()?;
            flags.starts_with('V').then(|| name.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_encoder_list() {
        let text = "Encoders:\n V..... = Video\n ------\n V....D libx264 H.264\n A....D aac AAC\n";
        assert_eq!(super::parse_encoders(text), vec!["libx264"]);
    }

    #[test]
    fn a_failed_trailer_or_close_is_an_incomplete_output() {
        let full = "Error writing trailer of out.mkv: No space left on device\n\
                    Error closing file out.mkv: No space left on device";
        let first = "Error writing trailer of out.mkv: No space left on device";
        assert_eq!(super::write_error(full), Some(first));
        assert_eq!(super::write_error("[libx264 @ 0x1] frame I:1"), None);
    }
}
