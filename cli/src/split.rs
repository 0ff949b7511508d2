//! Cutting a chunk's input out of the source by stream copy, on the coordinator.

use std::ffi::OsString;
use std::path::Path;

use crate::local::Tools;
use crate::plan::Chunk;
use crate::probe::genpts_args;

/// Writes the packets of `chunk` (from its keyframe on) to `out` as NUT, with
/// the source's timestamps unchanged.
pub async fn extract(
    tools: &Tools,
    input: &Path,
    input_args: &[String],
    stream: usize,
    time_base: (i64, i64),
    chunk: &Chunk,
    out: &Path,
) -> anyhow::Result<()> {
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
    args.push("-copypriorss".into());
    args.push("0".into());
    args.push("-frames:v".into());
    args.push(chunk.packet_count.to_string().into());
    // Chapters would give the NUT muxer a second time base and corrupt the timestamps.
    for a in [
        "-avoid_negative_ts",
        "disabled",
        "-map_metadata",
        "-1",
        "-map_chapters",
        "-1",
        "-f",
        "nut",
        "-y",
    ] {
        args.push(a.into());
    }
    args.push(out.into());
    tools.ffmpeg(&args).await
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
    fn floors_to_microseconds() {
        assert_eq!(super::seconds_floor(3003, (1, 90000)), "0.033366");
        assert_eq!(super::seconds_floor(40, (1, 1000)), "0.040000");
    }
}
