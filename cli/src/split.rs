//! Cutting a chunk's input out of the source by stream copy, on the coordinator.

use std::ffi::OsString;
use std::path::Path;

use crate::local::Tools;
use crate::plan::Chunk;
use crate::probe::genpts_args;

/// What chunks are cut from, and into.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// The input file.
    pub input: &'a Path,
    /// Its input options, as every reader gets them.
    pub input_args: &'a [String],
    /// The video stream's index.
    pub stream: usize,
    /// Its time base.
    pub time_base: (i64, i64),
    /// The container chunks are cut into: NUT, or MOV for images NUT has
    /// no tag for (`image_sequence`).
    pub container: proto::v1::ChunkFormat,
}

/// Writes the packets of `chunk` (from its keyframe on) to `out` as NUT (or
/// MOV), with the source's timestamps unchanged; returns the time base the
/// muxer chose for them.
///
/// The muxer picks its own time base (finer than the source's), which the
/// chunk's spec needs. The cut's own log says it: at debug level ffmpeg's
/// output description shows every stream's exact time base
/// (`Stream #0:0, 0, 1/64000: Video: ...`), so no probe of the file has to
/// start after the cut, on the way to the first encode.
pub async fn extract(
    tools: &Tools,
    source: Source<'_>,
    chunk: &Chunk,
    out: &Path,
) -> anyhow::Result<(i64, i64)> {
    let Source { input, input_args, stream, time_base, container } = source;
    let mut args: Vec<OsString> = Vec::new();
    args.extend(input_args.iter().map(OsString::from));
    args.extend(genpts_args(input).into_iter().map(OsString::from));
    args.push("-copyts".into());
    if chunk.first_packet > 0 {
        // Seek to just at or before the keyframe, on the absolute timeline
        // (-seek_timestamp): the demuxer lands at or before the keyframe, and
        // -copypriorss 0 drops every packet before the first keyframe whose
        // pts reaches the seek time, which is the chunk's keyframe.
        args.push("-seek_timestamp".into());
        args.push("1".into());
        args.push("-ss".into());
        args.push(seconds_floor(chunk.seek_pts, time_base).into());
    }
    args.push("-i".into());
    args.push(input.into());
    for a in ["-map".to_string(), format!("0:{stream}"), "-c".into(), "copy".into()] {
        args.push(a.into());
    }
    if chunk.first_packet > 0 {
        // Only after a seek: with -copyts it would also drop what comes
        // before the input's start time, a discarded lead-in the chunk's
        // first frames are decoded from.
        args.push("-copypriorss".into());
        args.push("0".into());
    }
    args.push("-frames:v".into());
    args.push(chunk.packet_count.to_string().into());
    if chunk.cut_offset_s != 0 {
        args.push("-output_ts_offset".into());
        args.push(chunk.cut_offset_s.to_string().into());
    }
    // Chapters would give the NUT muxer a second time base and corrupt the timestamps.
    for a in ["-avoid_negative_ts", "disabled", "-map_metadata", "-1", "-map_chapters", "-1"] {
        args.push(a.into());
    }
    if container == proto::v1::ChunkFormat::Mov {
        // The sequence's time base, for the track and the edit list alike:
        // the movie's default 1/1000 s moved the first frame (10008 ticks
        // for 10010 at 24000/1001 fps).
        for timescale in ["-video_track_timescale", "-movie_timescale"] {
            args.push(timescale.into());
            args.push(time_base.1.to_string().into());
        }
    }
    let format = match container {
        proto::v1::ChunkFormat::Mov => "mov",
        _ => "nut",
    };
    for a in ["-f", format, "-y"] {
        args.push(a.into());
    }
    args.push(out.into());
    let log = tools.ffmpeg_log("debug", &args).await?;
    output_time_base(&String::from_utf8_lossy(&log))
        .ok_or_else(|| anyhow::anyhow!("the cut's log names no output time base"))
}

/// The time base of output stream `#0:0` in an ffmpeg debug log: from the
/// line `  Stream #0:0, N, NUM/DEN: ...` after `Output #0, `.
fn output_time_base(log: &str) -> Option<(i64, i64)> {
    let output = &log[log.find("Output #0, ")?..];
    let line = output.lines().find_map(|l| l.trim_start().strip_prefix("Stream #0:0, "))?;
    let (_, rest) = line.split_once(", ")?;
    let (num, den) = rest.split_once(':')?.0.split_once('/')?;
    let (num, den) = (num.parse().ok()?, den.parse().ok()?);
    (num > 0 && den > 0).then_some((num, den))
}

/// `pts * tb` in seconds, rounded down to the microsecond, as text.
fn seconds_floor(pts: i64, tb: (i64, i64)) -> String {
    let us = (i128::from(pts) * i128::from(tb.0) * 1_000_000).div_euclid(i128::from(tb.1));
    let sign = if us < 0 { "-" } else { "" };
    let us = us.abs();
    format!("{sign}{}.{:06}", us / 1_000_000, us % 1_000_000)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_time_base_is_read_from_the_output_description() {
        let log = "Input #0, matroska,webm, from 'in.mkv':\n  Stream #0:0, 8, 1/1000: Video: h264, 1k tbn\n\
                   Output #0, nut, to 'c.nut':\n  Metadata:\n    encoder         : Lavf59.27.100\n\
                   \x20 Stream #0:0, 0, 1/64000: Video: h264 (High), 1280x720, 25 fps, 64k tbn\n";
        assert_eq!(super::output_time_base(log), Some((1, 64000)));
        assert_eq!(super::output_time_base("Output #0, nut, to 'c.nut':\n"), None);
        let input_only = "Input #0, nut, from 'x':\n  Stream #0:0, 1, 1/25: Video: rawvideo\n";
        assert_eq!(super::output_time_base(input_only), None);
    }

    #[test]
    fn floors_to_microseconds() {
        assert_eq!(super::seconds_floor(3003, (1, 90000)), "0.033366");
        assert_eq!(super::seconds_floor(40, (1, 1000)), "0.040000");
    }
}
