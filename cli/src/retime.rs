//! An output retimed to a rate: with output `-r`, or `-fps_mode cfr` into a
//! container ffmpeg would otherwise write with variable timing, or into
//! MP4/MOV where ffmpeg alone would drop or repeat some frame, ffmpeg alone
//! drops and repeats frames by `vsync`'s arithmetic. This gathers that
//! arithmetic's settings from the job and the probe, the way ffmpeg 5.1's
//! option handling resolves them, and runs it over the frames to encode.

use crate::job::EncodeJob;
use crate::probe::{MediaInfo, StreamInfo};
use crate::timeline::Timeline;
use crate::vsync::{self, Method, Shown, Sync};
use proto::v1::FpsMode;

/// The output's rate and what it shows of each frame to encode.
#[derive(Debug, Clone, PartialEq)]
pub struct Retimed {
    /// The output rate: the encoder's time base is its inverse.
    pub rate: (i64, i64),
    /// Per frame of [`Timeline::selected`], in order.
    pub shown: Vec<Shown>,
}

/// Whether `job` is retimed and, if so, how; `Ok(None)` leaves the frames'
/// timing to the nodes. `input_rate` is the rate ffmpeg guesses for the
/// input. The error is why the command goes to ffmpeg instead.
pub fn retime(
    job: &EncodeJob,
    timeline: &Timeline,
    video: &StreamInfo,
    media: &MediaInfo,
    input_rate: (i64, i64),
) -> Result<Option<Retimed>, String> {
    let cfr_container = job.cfr_output();
    // -fps_mode cfr into MP4/MOV without -r: the nodes' own CFR, anchored per
    // chunk, unless an output -ss puts the first frame between two slots:
    // then ffmpeg alone's first frame takes the nearer slot without
    // repeating it back to zero ("Not duplicating initial frames"), which
    // a node's CFR, padding from the chunk's start, does not (seen: a
    // repeated first frame at 0 s where ffmpeg alone starts at 0.04 s).
    let cfr_elsewhere = job.fps_mode == Some(FpsMode::Cfr) && !cfr_container;
    let cfr_after_seek = cfr_container
        && job.output_window.start.is_some()
        && !matches!(job.fps_mode, Some(FpsMode::Vfr | FpsMode::Passthrough));
    // Frames counted at an input rate are at other times than the nodes
    // read them at: every output is retimed, by the frame map.
    let counted = job.counted_rate.is_some();
    if job.output_rate.is_none() && !cfr_elsewhere && !cfr_after_seek && !counted {
        let cfr =
            cfr_container && !matches!(job.fps_mode, Some(FpsMode::Vfr | FpsMode::Passthrough));
        if !cfr || job.fps_filter.is_some() {
            return Ok(None);
        }
        // A node's own CFR repeats and drops frames within its chunk alone:
        // a gap at a chunk's end (a join of clips whose audio outlasts
        // their video, a pause in a recording) would go unfilled, where
        // ffmpeg alone repeats the frame before it. Wherever ffmpeg alone
        // shows a frame other than once, the map decides instead.
        let outputs = replay(job, timeline, video, media, input_rate, input_rate)?;
        let shown = vsync::shown(&outputs, timeline.len());
        if shown.iter().all(|s| s.copies == 1) {
            return Ok(None);
        }
        return Ok(Some(Retimed { rate: input_rate, shown }));
    }
    let rate = job.output_rate.unwrap_or(input_rate);
    let outputs = replay(job, timeline, video, media, rate, input_rate)?;
    if outputs.is_empty() {
        return Err(format!("-r {}/{} leaves no frame to encode", rate.0, rate.1));
    }
    Ok(Some(Retimed { rate, shown: vsync::shown(&outputs, timeline.len()) }))
}

/// The output frames ffmpeg alone encodes from the selected frames, at the
/// encoder's time base 1/`rate`, each with its timestamp there: for an output
/// that is not retimed, `rate` is the input's and the outcome is the
/// timestamps its encoder sees (which `-force_key_frames` compares with).
pub fn replay(
    job: &EncodeJob,
    timeline: &Timeline,
    video: &StreamInfo,
    media: &MediaInfo,
    rate: (i64, i64),
    input_rate: (i64, i64),
) -> Result<Vec<vsync::Output>, String> {
    let cfr_container = job.cfr_output();
    let method = match job.fps_mode {
        Some(FpsMode::Passthrough) => Method::Passthrough,
        Some(FpsMode::Cfr) => Method::Cfr,
        Some(FpsMode::Vfr) => Method::Vfr,
        // `auto`: CFR for MP4/MOV, from the first frame when the input has
        // one stream and no -itsoffset, or with -copyts; VFR for Matroska,
        // WebM and NUT.
        _ if cfr_container
            && ((media.streams.len() == 1 && job.input_ts_offset_us == 0) || job.copy_ts) =>
        {
            Method::Vscfr
        }
        _ if cfr_container => Method::Cfr,
        _ => Method::Vfr,
    };
    let output = job.output_window;
    let recording_time_us = match (output.duration, output.to) {
        (Some(duration), _) => Some(duration),
        (None, Some(to)) => Some(to - output.start.unwrap_or(0)),
        (None, None) => None,
    };
    let sync = Sync {
        rate,
        input_rate,
        filter_tb: timeline.source_tb,
        stream_tb: timeline.time_base,
        method,
        filtered: !job.filters.is_empty(),
        start_known: video.start_pts.is_some(),
        output_start_us: output.start.unwrap_or(0),
        recording_time_us,
    };
    let frames: Vec<vsync::Frame> = timeline
        .selected
        .clone()
        .map(|i| vsync::Frame {
            pts: timeline.shifted(i),
            duration: timeline.packets[timeline.all[i].decode_index].duration.unwrap_or(0),
        })
        .collect();
    vsync::convert(&frames, &sync)
}
