//! Scene changes, for a policy that plans on them
//! (`PolicyInfo::scene_threshold`): one decode of the input's video on the
//! coordinator through ffmpeg's own scene score (`select='gt(scene,T)'`),
//! with `showinfo` naming the frames that pass. Their times are matched to
//! the timeline's frames, so a cut is a frame number among the frames the
//! job encodes, as every other figure of a plan is.

use std::ffi::OsString;

use anyhow::bail;

use crate::job::EncodeJob;
use crate::local::Tools;
use crate::probe::genpts_args;
use crate::timeline::Timeline;

/// The frames (among the timeline's selected ones, from 0) at which a scene
/// changes, by ffmpeg's scene score above `threshold`; never frame 0.
pub async fn detect(
    tools: &Tools,
    job: &EncodeJob,
    stream: usize,
    timeline: &Timeline,
    threshold: f64,
) -> anyhow::Result<Vec<u64>> {
    if !(threshold.is_finite() && threshold > 0.0 && threshold <= 1.0) {
        bail!("a scene threshold must be above 0 and at most 1, not {threshold}");
    }
    let mut args: Vec<OsString> = job.input_args.iter().map(OsString::from).collect();
    args.extend(genpts_args(&job.input).into_iter().map(OsString::from));
    // -copyts: showinfo's times are then the stream's own, as the timeline's.
    args.extend(["-copyts".into(), "-i".into(), job.input.clone().into_os_string()]);
    for arg in [
        "-map".to_string(),
        format!("0:{stream}"),
        "-filter:v".into(),
        format!("select='gt(scene,{threshold})',showinfo"),
        "-f".into(),
        "null".into(),
        "-".into(),
    ] {
        args.push(arg.into());
    }
    let log = tools.ffmpeg_log("info", &args).await?;
    let selected: Vec<i64> =
        timeline.all[timeline.selected.clone()].iter().map(|f| f.pts).collect();
    Ok(frames_at(&showinfo_times(&String::from_utf8_lossy(&log)), &selected, timeline.time_base))
}

/// The `pts_time:` of every frame `showinfo` logged.
fn showinfo_times(log: &str) -> Vec<f64> {
    log.lines()
        .filter(|line| line.contains("Parsed_showinfo") && line.contains(" n:"))
        .filter_map(|line| {
            let rest = &line[line.find("pts_time:")? + "pts_time:".len()..];
            rest.split_whitespace().next()?.parse().ok()
        })
        .collect()
}

/// The frames (indices into `pts`, ascending, in time base `tb`) whose time
/// is within a millisecond of one of `times` (showinfo prints six
/// decimals), ascending, frame 0 left out.
fn frames_at(times: &[f64], pts: &[i64], tb: (i64, i64)) -> Vec<u64> {
    let selected: Vec<f64> = pts.iter().map(|&p| p as f64 * tb.0 as f64 / tb.1 as f64).collect();
    let mut cuts: Vec<u64> = times
        .iter()
        .filter_map(|&t| {
            let at = selected.partition_point(|&s| s < t);
            [at.checked_sub(1), Some(at)]
                .into_iter()
                .flatten()
                .filter(|&i| i < selected.len() && (selected[i] - t).abs() < 1e-3)
                .min_by(|&a, &b| (selected[a] - t).abs().total_cmp(&(selected[b] - t).abs()))
        })
        .filter(|&i| i > 0)
        .map(|i| i as u64)
        .collect();
    cuts.dedup();
    cuts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_showinfo_lines() {
        let log = "[Parsed_showinfo_1 @ 0x55] config in time_base: 1/1000, frame_rate: 25/1\n\
                   [Parsed_showinfo_1 @ 0x55] n:   0 pts:   2000 pts_time:2       duration: 40\n\
                   [Parsed_showinfo_1 @ 0x55] n:   1 pts:   4040 pts_time:4.04    duration: 40\n\
                   frame=  3 fps=0.0\n";
        assert_eq!(showinfo_times(log), vec![2.0, 4.04]);
    }

    #[test]
    fn times_become_frames_of_the_selection() {
        // Frames from 2 s to 6 s at 25 fps.
        let pts: Vec<i64> = (50..150).map(|i| i * 40).collect();
        // 2.0 s is the first frame (no cut), 4.04 s frame 51, 4.0401 s frame
        // 51 again, 7 s lies outside, 5.01 s is no frame's time.
        assert_eq!(frames_at(&[2.0, 4.04, 4.0401, 5.01, 7.0], &pts, (1, 1000)), vec![51]);
    }
}
