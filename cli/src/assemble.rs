//! Assembly: concatenate the verified chunks and mux them with every other
//! stream of the input in one ffmpeg run, to a temporary name that is renamed
//! onto the output only when everything succeeded.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, ensure};

use crate::dispatch::ChunkDone;
use crate::job_context::JobContext;
use crate::probe::StreamInfo;
use crate::probe::genpts_args;
use crate::streams::{Selection, Source};
use crate::timeline::seconds;

/// Writes the output file from the chunks.
pub async fn assemble(
    ctx: &JobContext,
    done: &[ChunkDone],
    selection: &Selection,
    video: &StreamInfo,
) -> anyhow::Result<()> {
    ensure!(!done.is_empty(), "no chunks to assemble");
    let list = ctx.dir.path().join("chunks.ffconcat");
    std::fs::write(&list, concat_list(done)).context("writing the concat list")?;

    let output = &ctx.job.output;
    let temp = temp_name(output, &ctx.job_id);
    let mut args: Vec<OsString> = Vec::new();
    let mut push = |s: &str| args.push(s.into());
    for a in &ctx.job.input_args {
        push(a);
    }
    for a in genpts_args(&ctx.job.input) {
        push(&a);
    }
    for a in &ctx.job.input_trim_args {
        push(a);
    }
    push("-i");
    args.push(ctx.job.input.clone().into());
    let mut push = |s: &str| args.push(s.into());
    // The concat demuxer starts the first chunk at 0; put it back where ffmpeg alone put it.
    push("-itsoffset");
    push(&seconds(done[0].start_time_us));
    for a in ["-f", "concat", "-safe", "0", "-i"] {
        push(a);
    }
    args.push(list.into());
    let mut push = |s: &str| args.push(s.into());
    for source in &selection.streams {
        push("-map");
        match source {
            Source::Video => push("1:0"),
            Source::Input(i) => push(&format!("0:{i}")),
        }
    }
    for a in &ctx.job.mux_args {
        push(a);
    }
    push("-c:v");
    push("copy");
    // The copied video takes its rate from the concat input unless told.
    push("-r:v");
    push(&format!("{}/{}", ctx.frame_rate.0, ctx.frame_rate.1));
    if !ctx.job.mux_args.iter().any(|a| a.starts_with("-map_metadata")) {
        // Stream tags (language, title) come from the source, as with ffmpeg
        // alone. Naming one stream turns off ffmpeg's automatic copy for all,
        // so every stream is named.
        for (j, source) in selection.streams.iter().enumerate() {
            let i = match source {
                Source::Video => selection.video,
                Source::Input(i) => *i,
            };
            push(&format!("-map_metadata:s:{j}"));
            push(&format!("0:s:{i}"));
        }
    }
    if !ctx.job.mux_args.iter().any(|a| a.starts_with("-disposition")) {
        let j = selection.streams.iter().position(|s| *s == Source::Video).unwrap_or(0);
        push(&format!("-disposition:{j}"));
        push(&if video.disposition.is_empty() {
            "0".to_string()
        } else {
            video.disposition.join("+")
        });
    }
    if matches!(ctx.job.output_format.as_str(), "mp4" | "mov") {
        push("-video_track_timescale");
        push(&ctx.timescale().to_string());
    }
    for a in ["-f", &ctx.job.output_format, "-y"] {
        push(a);
    }
    args.push(temp.clone().into());
    let guard = RemoveOnDrop(temp.clone());
    ctx.tools.ffmpeg(&args).await.context("muxing the output")?;
    std::fs::rename(&temp, output)
        .with_context(|| format!("renaming the finished output to {}", output.display()))?;
    std::mem::forget(guard);
    Ok(())
}

/// Removes a half-written file however the assembly ends: error, panic or Ctrl-C.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// An ffconcat script whose durations put every chunk exactly where its first
/// timestamp says, whatever the chunk's own last frame duration.
fn concat_list(done: &[ChunkDone]) -> String {
    let mut text = String::from("ffconcat version 1.0\n");
    for (i, chunk) in done.iter().enumerate() {
        let name = chunk.path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let _ = writeln!(text, "file '{name}'");
        // The chunk's own first timestamp: NUT files may have no container start time.
        let _ = writeln!(text, "inpoint {}", seconds(chunk.start_time_us));
        if let Some(next) = done.get(i + 1) {
            let _ = writeln!(
                text,
                "duration {}",
                crate::timeline::seconds(next.start_time_us - chunk.start_time_us)
            );
        }
    }
    text
}

/// `dir/.name.dffmpeg-ID.part`: beside the output, so the rename is atomic.
fn temp_name(output: &Path, job_id: &str) -> PathBuf {
    let name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    output.with_file_name(format!(".{name}.dffmpeg-{}.part", &job_id[..8]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_follow_chunk_starts() {
        let done: Vec<ChunkDone> = [(0, 0), (1, 1_001_000), (2, 2_002_000)]
            .into_iter()
            .map(|(i, t)| ChunkDone {
                index: i,
                path: format!("/j/out-{i:05}.nut").into(),
                start_time_us: t,
            })
            .collect();
        assert_eq!(
            concat_list(&done),
            "ffconcat version 1.0\nfile 'out-00000.nut'\ninpoint 0.000000\nduration 1.001000\nfile 'out-00001.nut'\ninpoint 1.001000\nduration 1.001000\nfile 'out-00002.nut'\ninpoint 2.002000\n"
        );
    }
}
