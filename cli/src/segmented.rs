//! Segmenting outputs (HLS, DASH, the segment muxer): the muxer cuts the
//! stream into files at keyframes, so where the keyframes fall decides the
//! segments.
//!
//! Every chunk starts with a keyframe. ffmpeg alone has keyframes only where
//! its encoder puts them, so a chunk that starts elsewhere adds a keyframe
//! and the muxer cuts a segment there that ffmpeg alone does not. An
//! encoder with scene cuts off and a closed GOP (`-g N -sc_threshold 0`, or
//! `-force_key_frames expr:gte(t,n_forced*N)`, as HLS and DASH recipes give)
//! puts its keyframes where the coordinator can work them out ([`keyint`],
//! [`keyframes`]); chunks that start on them add none, and the muxer cuts
//! exactly where it cuts for ffmpeg alone. [`on_key_grid`] moves the
//! policy's chunk starts there.
//!
//! The playlist or manifest and its segments are written where ffmpeg alone
//! writes them, by the final mux itself: they are several files whose names
//! the playlist holds, so they cannot be written elsewhere and renamed.

use std::ffi::OsString;
use std::path::Path;

use crate::job::EncodeJob;

/// The segmenting muxers: the ffmpeg names of the formats whose output is
/// a playlist or manifest and the segments it names.
pub const FORMATS: &[&str] = &["hls", "dash", "segment"];

/// The containers the segment muxer may write its segments in here.
const SEGMENT_CONTAINERS: &[&str] = &["mpegts", "mp4", "mov", "matroska"];

/// The HLS, DASH and segment muxers' options the final mux is given as
/// written: how they segment, name and list, with nothing read from or
/// written to other files than the playlist or list and its segments.
/// Others (`-hls_key_info_file`, `-master_pl_name`, `-var_stream_map`,
/// `-strftime`, `-hls_playlist`, `-streaming`, `-segment_format_options`...)
/// are refused.
pub const OPTIONS: &[&str] = &[
    "hls_time",
    "hls_init_time",
    "hls_list_size",
    "hls_playlist_type",
    "hls_segment_filename",
    "hls_flags",
    "hls_base_url",
    "hls_allow_cache",
    "hls_delete_threshold",
    "hls_segment_type",
    "start_number",
    "seg_duration",
    "use_template",
    "use_timeline",
    "adaptation_sets",
    "init_seg_name",
    "media_seg_name",
    "single_file",
    "single_file_name",
    "dash_segment_type",
    "window_size",
    "extra_window_size",
    "segment_time",
    "segment_times",
    "segment_frames",
    "segment_list",
    "segment_list_type",
    "segment_list_size",
    "segment_list_entry_prefix",
    "segment_format",
    "segment_start_number",
    "segment_wrap",
    "reset_timestamps",
    "break_non_keyframes",
];

/// The container the segment muxer writes each segment in: its
/// `-segment_format`, or the one the segment name pattern's extension
/// names. ffmpeg takes the default encoders from the extension alone, so
/// the two must agree; the error is why the command goes to ffmpeg.
pub fn segment_container(job: &EncodeJob) -> Result<String, String> {
    let named = crate::route::format_from_extension(&job.output);
    let given = last_value(job, "-segment_format").map(str::to_string);
    let container = match (given, named) {
        (Some(given), Some(named)) if given != named => {
            return Err(format!(
                "-segment_format {given} with segments named as {named} is not distributable"
            ));
        }
        (Some(format), _) | (None, Some(format)) => format,
        (None, None) => return Err("the segments' container is not one we assemble".into()),
    };
    if !SEGMENT_CONTAINERS.contains(&container.as_str()) {
        return Err(format!("segments in {container} are not distributable yet"));
    }
    Ok(container)
}

/// The container whose rules (default encoders, constant frame rate) the
/// output follows: for the segment muxer, its segments'; otherwise the
/// output's own format.
pub fn codec_format(job: &EncodeJob) -> String {
    match job.output_format.as_str() {
        "segment" => segment_container(job).unwrap_or_default(),
        format => format.to_string(),
    }
}

/// Refuses option values whose output we do not reproduce yet: DASH in
/// WebM segments (not compared with ffmpeg alone), and variant streams
/// (`%v` names one playlist per variant).
pub fn check_option(name: &str, value: &str) -> Result<(), String> {
    match name {
        "dash_segment_type" if !matches!(value, "mp4" | "auto") => {
            Err(format!("-dash_segment_type {value} is not distributable yet (mp4 is)"))
        }
        "hls_segment_filename" if value.contains("%v") => {
            Err("-hls_segment_filename with %v (variant streams) is not distributable".into())
        }
        _ => Ok(()),
    }
}

/// The encoder's keyframe interval (`keyint`, in output frames) for a
/// `format` output whose chunks must start on ffmpeg alone's keyframes
/// (see the module comment); the error is why the command goes to ffmpeg
/// instead.
///
/// With scene cuts off and a closed GOP, libx264 and libx265 put a keyframe
/// on the first frame, on every frame `-force_key_frames` forces, and
/// `keyint` frames after the last keyframe ([`keyframes`]). With an open GOP (x265's
/// default) the frames just before a keyframe are coded after it, into the
/// next segment, where a chunk boundary keeps them in the chunk before.
pub fn keyint(
    format: &str,
    encoder: &str,
    options: &[(String, String)],
    fps_filter: bool,
) -> Result<u64, String> {
    let option = |name: &str| options.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v);
    let (params, recipe, scene_cuts_by_default, open_by_default) = match encoder {
        // ffmpeg applies -x264opts, then -x264-params.
        "libx264" | "libx264rgb" => (
            encoder_params(&[option("x264opts"), option("x264-params")]),
            "-g N -sc_threshold 0",
            option("sc_threshold").map(String::as_str) != Some("0"),
            false,
        ),
        "libx265" => (
            encoder_params(&[option("x265-params")]),
            "-g N -x265-params scenecut=0:open-gop=0",
            true,
            true,
        ),
        _ => {
            return Err(format!(
                "{format} with {encoder}: its keyframes are not on a grid we place"
            ));
        }
    };
    let param = |key: &str| params.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let on = |value: &str| !matches!(value, "0" | "false" | "none");
    let refuse = |what: &str| {
        format!(
            "{format} with {what}: ffmpeg alone's keyframes, where its segments start, are \
             not on a fixed grid ({recipe} puts them there)"
        )
    };
    // Both encoders' default interval is 250 frames.
    let keyint = param("keyint").or(option("g").map(String::as_str)).unwrap_or("250");
    let Some(keyint) = keyint.parse::<u64>().ok().filter(|k| *k > 0) else {
        return Err(refuse(&format!("a keyframe interval of {keyint}")));
    };
    if param("scenecut").map_or(scene_cuts_by_default, on) {
        return Err(refuse("scene-cut keyframes"));
    }
    if param("open-gop").map_or(open_by_default, on) {
        return Err(refuse("an open GOP"));
    }
    if param("intra-refresh").is_some_and(on) {
        return Err(refuse("intra refresh"));
    }
    if fps_filter {
        return Err(format!("{format} with -vf fps is not distributable yet"));
    }
    Ok(keyint)
}

/// An encoder's own `key=value:flag:no-flag` parameters, from the lists in
/// the order the encoder applies them, as (key, value): a bare flag is
/// `1`, `no-key` is `key` off.
fn encoder_params(lists: &[Option<&String>]) -> Vec<(String, String)> {
    lists
        .iter()
        .flatten()
        .flat_map(|list| list.split(':'))
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (key, value) = p.split_once('=').unwrap_or((p, "1"));
            match key.strip_prefix("no-") {
                Some(key) => (key.to_string(), if value == "0" { "1" } else { "0" }.to_string()),
                None => (key.to_string(), value.to_string()),
            }
        })
        .collect()
}

/// Which of ffmpeg alone's `outputs` output frames are keyframes: the
/// first, the `forced` ones (indices, in order), and each `keyint` frames
/// after the last keyframe (forcing one restarts the count).
pub fn keyframes(outputs: u64, forced: &[u64], keyint: u64) -> Vec<bool> {
    let mut keys = vec![false; outputs as usize];
    let mut forced = forced.iter().peekable();
    let mut last = 0;
    for i in 0..outputs {
        while forced.next_if(|&&f| f < i).is_some() {}
        let is_forced = forced.next_if(|&&f| f == i).is_some();
        if i == 0 || is_forced || i - last >= keyint {
            keys[i as usize] = true;
            last = i;
        }
    }
    keys
}

/// The frames to encode (indices) a chunk may start at: those whose first
/// output frame is one of ffmpeg alone's keyframes (`keys`, per output
/// frame). `first_output` has, per frame to encode, the index of its first
/// output frame, or `None` when the output drops it.
pub fn key_starts(first_output: &[Option<u64>], keys: &[bool]) -> Vec<u64> {
    first_output
        .iter()
        .enumerate()
        .filter(|(_, out)| out.is_some_and(|o| keys.get(o as usize).copied().unwrap_or(false)))
        .map(|(frame, _)| frame as u64)
        .collect()
}

/// Moves each of the policy's chunk starts (indices of the frames to
/// encode, the first 0) to the nearest of `allowed` (sorted, from
/// [`key_starts`]), and drops those that then coincide.
pub fn on_key_grid(starts: &[u64], allowed: &[u64]) -> Vec<u64> {
    let grid: Vec<u64> = allowed.iter().copied().filter(|&f| f > 0).collect();
    let mut kept = vec![0];
    for &start in starts.iter().skip(1) {
        let after = grid.partition_point(|&f| f < start);
        let nearest = [after.checked_sub(1), Some(after)]
            .into_iter()
            .flatten()
            .filter_map(|i| grid.get(i).copied())
            .min_by_key(|&f| f.abs_diff(start));
        if let Some(frame) = nearest
            && kept.last().is_some_and(|&last| frame > last)
        {
            kept.push(frame);
        }
    }
    kept
}

/// Per frame of `copies` (how many output frames show each frame to
/// encode, in order), the index of the first output frame showing it.
pub fn first_outputs(copies: impl IntoIterator<Item = u32>) -> Vec<Option<u64>> {
    let mut next = 0u64;
    copies
        .into_iter()
        .map(|n| {
            let first = (n > 0).then_some(next);
            next += u64::from(n);
            first
        })
        .collect()
}

/// The value of the job's last output option `flag`, if given.
fn last_value<'a>(job: &'a EncodeJob, flag: &str) -> Option<&'a str> {
    job.mux_args.windows(2).rev().find(|pair| pair[0] == flag).map(|pair| pair[1].as_str())
}

/// Files other than the output that the muxer writes, named by options
/// the trial moves into its scratch: HLS segments, the segment muxer's list.
const NAMED_FILES: &[&str] = &["-hls_segment_filename", "-segment_list"];

/// Why ffmpeg alone would fail to open a file its muxer writes (the
/// directory does not exist), which the trial, writing in its scratch,
/// cannot see.
pub fn unwritable_segments(job: &EncodeJob) -> Option<String> {
    NAMED_FILES.iter().find_map(|flag| {
        let parent = Path::new(last_value(job, flag)?).parent()?;
        (!parent.as_os_str().is_empty() && !parent.is_dir())
            .then(|| format!("the directory {} ({flag}) does not exist", parent.display()))
    })
}

/// The trial's output for a segmenting job: its playlist or manifest and
/// segments inside `scratch` (DASH names them relative to the manifest;
/// the user's name patterns are kept, as ffmpeg checks them).
pub fn trial_output(job: &EncodeJob, scratch: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    for flag in NAMED_FILES {
        if let Some(name) = last_value(job, flag).and_then(|p| Path::new(p).file_name()) {
            args.push(flag.into());
            args.push(scratch.join(name).into());
        }
    }
    let output = match job.output_format.as_str() {
        "dash" => "trial.mpd".into(),
        // The segments' name pattern, whose extension picks the encoders.
        "segment" => job.output.file_name().map(|n| n.to_os_string()).unwrap_or_default(),
        _ => "trial.m3u8".into(),
    };
    args.push(scratch.join(output).into());
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_grid_is_the_fixed_gop() {
        let grid =
            |encoder: &str, pairs: &[(&str, &str)]| keyint("hls", encoder, &options(pairs), false);
        assert_eq!(grid("libx264", &[("g", "48"), ("sc_threshold", "0"), ("crf", "23")]), Ok(48));
        assert_eq!(grid("libx264", &[("x264-params", "keyint=50:no-scenecut")]), Ok(50));
        let forced = [("sc_threshold", "0"), ("force_key_frames", "expr:gte(t,n_forced*2)")];
        assert_eq!(grid("libx264", &forced), Ok(250));
        let x265 = "keyint=24:scenecut=0:no-open-gop";
        assert_eq!(grid("libx265", &[("g", "48"), ("x265-params", x265)]), Ok(24));
        assert_eq!(
            grid("libx265", &[("g", "12"), ("x265-params", "scenecut=0:open-gop=0")]),
            Ok(12)
        );
        assert!(
            keyint("hls", "libx264", &options(&[("g", "9"), ("sc_threshold", "0")]), true).is_err()
        );
        for (encoder, refused) in [
            ("libvpx-vp9", &[("g", "48"), ("keyint_min", "48")][..]),
            ("libx264", &[("g", "48")]),
            ("libx264", &[("g", "0"), ("sc_threshold", "0")]),
            ("libx264", &[("g", "48"), ("sc_threshold", "40")]),
            ("libx264", &[("g", "48"), ("sc_threshold", "0"), ("x264-params", "scenecut=40")]),
            ("libx264", &[("g", "48"), ("sc_threshold", "0"), ("x264-params", "open-gop=1")]),
            ("libx264", &[("g", "48"), ("sc_threshold", "0"), ("x264opts", "intra-refresh")]),
            // x265 ignores -sc_threshold, and its GOP is open by default.
            ("libx265", &[("g", "48"), ("sc_threshold", "0")]),
            ("libx265", &[("g", "48"), ("x265-params", "scenecut=0")]),
        ] {
            assert!(grid(encoder, refused).is_err(), "{encoder} {refused:?}");
        }
    }

    /// Allowed starts from a fixed interval of 25 over `frames` frames
    /// shown once each.
    fn every_25(frames: usize) -> Vec<u64> {
        let keys = keyframes(frames as u64, &[], 25);
        key_starts(&first_outputs(vec![1; frames]), &keys)
    }

    #[test]
    fn starts_move_to_the_nearest_keyframe() {
        assert_eq!(every_25(100), vec![0, 25, 50, 75]);
        assert_eq!(on_key_grid(&[0, 26, 49, 77], &every_25(100)), vec![0, 25, 50, 75]);
        // Two starts nearest to one keyframe give one chunk; none past the end.
        assert_eq!(on_key_grid(&[0, 10, 14, 99], &every_25(100)), vec![0, 25, 75]);
        assert_eq!(on_key_grid(&[0, 3], &every_25(100)), vec![0, 25]);
        assert_eq!(on_key_grid(&[0, 30], &every_25(20)), vec![0]);
    }

    /// A forced keyframe restarts the interval.
    #[test]
    fn forced_keyframes_restart_the_interval() {
        let keys = keyframes(12, &[3, 4], 5);
        let at: Vec<usize> = (0..12).filter(|&i| keys[i]).collect();
        assert_eq!(at, [0, 3, 4, 9]);
    }

    /// With repeated and dropped frames, keyframes count output frames.
    #[test]
    fn keyframes_count_output_frames() {
        // Frame 1 is shown three times, frame 3 not at all.
        let first = first_outputs([1, 3, 1, 0, 1, 1, 1]);
        assert_eq!(first, vec![Some(0), Some(1), Some(4), None, Some(5), Some(6), Some(7)]);
        // Output 3 repeats frame 1: no chunk can start there.
        assert_eq!(key_starts(&first, &keyframes(8, &[], 3)), vec![0, 5]);
        assert_eq!(key_starts(&first, &keyframes(8, &[], 2)), vec![0, 2, 5]);
    }
}
