//! An input `-r` on a file that is not an image sequence: `ffmpeg -r 24 -i
//! clip_23.976.mkv` conforms a clip to another rate. ffmpeg 5.1 then times
//! each decoded frame by its count at that rate (`cfr_next_pts` in
//! `decode_video`), from 0 at the first decoded frame, whatever the file's
//! own timestamps say, and runs its filters and encoder at that rate; the
//! audio keeps its own times.
//!
//! The coordinator replays that timing over the probed frames
//! (`Timeline::counted`) and ffmpeg's frame-rate decision over it
//! (`retime`, which reads the packets' own durations as ffmpeg does), and
//! sends each chunk the output timestamps of its frames as a frame map.
//! The nodes still find a chunk's frames by their own timestamps; only
//! what reads a frame's time in the filter graph would see it otherwise
//! than ffmpeg alone, so that is refused here.

use crate::args::{FileArg, MediaType, Opt, StreamSpec};
use crate::job::EncodeJob;

/// The rate by which ffmpeg alone counts `input`'s frames, for `job`
/// (read from `input`, a file that is not an image sequence), if the input
/// is given `-r`; the error is why such a job runs through ffmpeg:
/// - a `-r` for some streams only (`-r:a`, `-r:v:0`), or a rate we do not parse;
/// - `-f`, which also gives the rate to a demuxer that takes one (raw
///   H.264, HEVC, MPEG-4), and the concat demuxer (not tried);
/// - an input `-ss` or `-itsoffset`, which move the file's timestamps and
///   not the counted ones, and `-copyts`;
/// - what reads a frame's time in the filters: an fps filter, fades,
///   drawtext, subtitles, an overlay, `enable`, an expression of `t`;
/// - what else places frames by time and was not tried with counted
///   frames: `-force_key_frames`, `-frames:v`, HLS, DASH and segments;
/// - a rate the encoder would change (`route::encoder_keeps_rate`).
pub fn for_file(input: &FileArg, job: &EncodeJob) -> Result<Option<(i64, i64)>, String> {
    let rates: Vec<&Opt> = input.options.iter().filter(|o| o.name == "r").collect();
    let Some(last) = rates.last() else { return Ok(None) };
    // Each -r must reach every video stream: which one is encoded is known
    // only once the input is probed, and ffmpeg takes, per stream, the
    // last -r whose specifier matches it (a `-r:v:0 24` with the second
    // video mapped leaves that one at its own times).
    let every_video = |spec: StreamSpec| match spec {
        StreamSpec::All => true,
        StreamSpec::Type(MediaType::Video | MediaType::VideoNoPictures, rest) => rest.is_none(),
        _ => false,
    };
    if let Some(other) = rates.iter().find(|o| !o.stream_spec().is_ok_and(every_video)) {
        return Err(format!("input {} is not distributable", other.flag()));
    }
    let text = last.value.as_deref().unwrap_or_default();
    let rate = crate::route::parse_video_rate(text).ok_or_else(|| {
        format!("input -r {text} is not a rate we parse (N, N/M or a decimal is)")
    })?;
    let refuse = |what: &str| Err(format!("input -r with {what} is not distributable"));
    if input.last("f").is_some() {
        return refuse("-f (the demuxer may take the rate too)");
    }
    for moved in ["ss", "itsoffset"] {
        if input.last(moved).is_some() {
            return refuse(&format!(
                "-{moved} (ffmpeg counts the frames' times from 0 wherever the input starts)"
            ));
        }
    }
    if job.copy_ts {
        return refuse("-copyts");
    }
    if job.fps_filter.is_some() {
        return refuse("-vf fps");
    }
    if job.graph.as_ref().is_some_and(|g| g.overlay.is_some()) {
        return refuse("an overlay");
    }
    if let Some(why) = job.filters.iter().find_map(|(name, args)| reads_time(name, args)) {
        return refuse(&why);
    }
    if job.encoder_options.iter().any(|(name, _)| name == "force_key_frames") {
        return refuse("-force_key_frames");
    }
    if job.max_frames.is_some() {
        return refuse("-frames:v");
    }
    if crate::segmented::FORMATS.contains(&job.output_format.as_str()) {
        return refuse(&job.output_format);
    }
    // Without an output -r the encoder runs at the counted rate.
    if job.output_rate.is_none() && !crate::route::encoder_keeps_rate(&job.encoder, rate) {
        return refuse(&format!("{} at {}/{} fps", job.encoder, rate.0, rate.1));
    }
    Ok(Some(rate))
}

/// Why filter `name=args` reads a frame's time, which a node would read
/// from the file's timestamps rather than the count, if it does.
fn reads_time(name: &str, args: &str) -> Option<String> {
    if matches!(name, "fade" | "drawtext" | "subtitles" | "ass") {
        return Some(name.to_string());
    }
    if args.split(':').any(|option| option.starts_with("enable=")) {
        return Some(format!("{name}'s enable"));
    }
    crate::route::time_variable(args).map(|var| format!("{name} reading {var}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The input and job of `ffmpeg ARGS` (one input, one output).
    fn routed(args: &str) -> (FileArg, Result<EncodeJob, String>) {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.mkv");
        std::fs::write(&input, b"").unwrap();
        let argv: Vec<String> = args
            .split(' ')
            .map(|a| a.replace("IN", input.to_str().unwrap()).replace("OUT", "out.mkv"))
            .collect();
        let command = crate::args::parse(&argv).unwrap();
        (command.inputs[0].clone(), crate::route::route(&command))
    }

    #[test]
    fn an_input_rate_counts_the_frames() {
        let (_, job) = routed("-r 24 -i IN -c:v libx264 -c:a copy OUT");
        assert_eq!(job.unwrap().counted_rate, Some((24, 1)));
        let (_, job) = routed("-r:v 30000/1001 -i IN -vf scale=160:-2 -c:v ffv1 OUT");
        let job = job.unwrap();
        assert_eq!(job.counted_rate, Some((30000, 1001)));
        // The trial and the final mux read the input as ffmpeg alone does.
        assert_eq!(job.input_trim_args, ["-r:v", "30000/1001"]);
        assert!(job.input_args.is_empty());
        let (_, job) = routed("-i IN -c:v libx264 OUT");
        assert_eq!(job.unwrap().counted_rate, None);
    }

    #[test]
    fn what_reads_the_frames_time_is_refused() {
        for (args, why) in [
            ("-r:a 24 -i IN -c:v ffv1 OUT", "input -r:a"),
            ("-r 30 -r:v:0 24 -i IN -map 0:v:1 -c:v ffv1 OUT", "input -r:v:0"),
            ("-r 24*1000/1001 -i IN -c:v ffv1 OUT", "not a rate we parse"),
            ("-f matroska -r 24 -i IN -c:v ffv1 OUT", "with -f"),
            ("-r 24 -ss 1 -i IN -c:v ffv1 OUT", "with -ss"),
            ("-itsoffset 1 -r 24 -i IN -c:v ffv1 OUT", "with -itsoffset"),
            ("-copyts -r 24 -i IN -c:v ffv1 OUT", "-copyts"),
            ("-r 24 -i IN -vf fps=12 -c:v ffv1 OUT", "-vf fps"),
            ("-r 24 -i IN -vf fade=in:st=0:d=1 -c:v ffv1 OUT", "with fade"),
            ("-r 24 -i IN -vf hue=h=t*10 -c:v ffv1 OUT", "hue reading t"),
            ("-r 24 -i IN -vf hflip=enable=gt(t\\,1) -c:v ffv1 OUT", "hflip's enable"),
            ("-r 24 -i IN -c:v libx264 -force_key_frames 0,1 OUT", "-force_key_frames"),
            ("-r 24 -i IN -c:v ffv1 -frames:v 10 OUT", "-frames:v"),
            ("-r 17 -i IN -c:v mpeg2video OUT", "mpeg2video at 17/1 fps"),
        ] {
            let why_not = routed(args).1.unwrap_err();
            assert!(why_not.contains(why), "{args}: {why_not}");
        }
    }
}
