//! `fade` (`fade=t=in:st=0:d=1`, `fade=t=out:st=9:d=1`, the titles' and
//! endings' fades of every editing recipe) decides each frame's fade from
//! its timestamp once it fades by time (a `duration`): before the start it
//! waits, then the factor is `(t - start) / duration`, then it is done, so
//! a chunk that starts anywhere draws its frames as ffmpeg alone does
//! (measured: a clip faded whole and from each of several later frames on
//! are the same frames).
//!
//! Without a duration (`fade=in:0:25`, the older recipes' form) it fades
//! by frame count: from frame `start_frame` it steps by `65536 / nb_frames`
//! per frame, counting the frames the filter has seen, and is done after
//! frame `start_frame + nb_frames`. A chunk is told where the count stands
//! ([`for_chunk`]): before the fade, by a `start_frame` as many frames
//! earlier; after it, by a fade that is done from its first frame; a chunk
//! may not start inside it ([`FrameFade::inside`], which the plan avoids).

use crate::filter_options::{FilterOption, named, options, render};
use crate::timeline::Timeline;

/// fade's options in the order of its option table (ffmpeg 5.1), which
/// names the values given by position.
const POSITIONAL: &[&str] =
    &["type", "start_frame", "nb_frames", "alpha", "start_time", "duration", "color"];

/// fade's default `nb_frames`.
const DEFAULT_FRAMES: u64 = 25;

/// fade's arguments with every option named, or why they are not
/// distributable.
pub fn normalized(args: &str) -> Result<String, String> {
    let args = named(args, POSITIONAL).map_err(|e| format!("fade with {e}"))?;
    let found: Vec<FilterOption> = options(&args)?;
    let value = |keys: &[&str]| last(&found, keys);
    let seconds = |o: &FilterOption| o.value.parse::<f64>().ok().filter(|s| s.is_finite());
    let start_frame = value(&["start_frame", "s"]).filter(|o| o.value != "0");
    match value(&["duration", "d"]).map(|o| (o, seconds(o))) {
        Some((_, Some(d))) if d > 0.0 => match start_frame {
            // It would start by frame count and fade by time from there.
            Some(start) => {
                Err(format!("fade from frame {} by time is not distributable", start.value))
            }
            None => Ok(args),
        },
        Some((_, Some(_))) | None => {
            let starts_later = value(&["start_time", "st"]).filter(|o| seconds(o) != Some(0.0));
            if let Some(start) = starts_later {
                return Err(format!(
                    "fade by frame count from {}s is not distributable",
                    start.value
                ));
            }
            for (keys, least) in [(["start_frame", "s"], 0), (["nb_frames", "n"], 1)] {
                if let Some(o) = value(&keys).filter(|o| count(&o.value).is_none_or(|n| n < least))
                {
                    return Err(format!("fade {}={} is not distributable", keys[0], o.value));
                }
            }
            Ok(args)
        }
        Some((o, None)) => {
            Err(format!("fade duration {} is not distributable (plain seconds are)", o.value))
        }
    }
}

/// The last value of one of `keys` (the last value of an option counts).
fn last<'a>(found: &'a [FilterOption], keys: &[&str]) -> Option<&'a FilterOption> {
    found.iter().rev().find(|o| keys.contains(&o.key.as_deref().unwrap_or_default()))
}

/// A frame count as fade reads it, in the range the nodes accept.
fn count(text: &str) -> Option<u64> {
    let digits = !text.is_empty() && text.len() <= 9 && text.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| text.parse().ok()).flatten()
}

/// A fade by frame count: the frames it changes, counted from the filter's
/// first frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameFade {
    /// `start_frame`.
    pub start: u64,
    /// `nb_frames`.
    pub frames: u64,
}

impl FrameFade {
    /// The fade of `args` (normalized), if it counts frames.
    pub fn of(args: &str) -> Option<Self> {
        let found = options(args).ok()?;
        let duration = last(&found, &["duration", "d"]).map(|o| o.value.parse::<f64>());
        if matches!(duration, Some(Ok(d)) if d != 0.0) {
            return None;
        }
        let get =
            |keys: &[&str], default| last(&found, keys).map_or(Some(default), |o| count(&o.value));
        Some(Self {
            start: get(&["start_frame", "s"], 0)?,
            frames: get(&["nb_frames", "n"], DEFAULT_FRAMES)?,
        })
    }

    /// Whether a chunk whose first frame is the filter's frame `frame`
    /// starts inside the fade: past its first frame, up to the one after
    /// its count, which libavfilter still fades (by `nb_frames` steps of
    /// `65536 / nb_frames`, short of whole).
    pub fn inside(&self, frame: u64) -> bool {
        frame > self.start && frame <= self.start + self.frames
    }
}

/// The fades by frame count among `filters` (the job's).
pub fn frame_fades(filters: &[(String, String)]) -> Vec<FrameFade> {
    filters
        .iter()
        .filter(|(name, _)| name == "fade")
        .filter_map(|(_, a)| FrameFade::of(a))
        .collect()
}

/// The policy's chunk starts (frames the filters see, increasing, from 0)
/// with none inside a fade by frame count: such a start moves back to the
/// fade's first frame, which merges it with a start already there; or,
/// when starts may not move (`fixed`: a segmented output's, on its
/// keyframe grid), it goes, and its frames join the chunk before.
pub fn starts_outside(starts: &[u64], fades: &[FrameFade], fixed: bool) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::with_capacity(starts.len());
    for &start in starts {
        let mut start = start;
        if fixed && start > 0 && fades.iter().any(|f| f.inside(start)) {
            continue;
        }
        // A fade's first frame may lie inside another fade.
        while let Some(fade) = fades.iter().find(|f| f.inside(start)) {
            start = fade.start;
        }
        if out.last().is_none_or(|&before| start > before) {
            out.push(start);
        }
    }
    out
}

/// `args` of a fade (normalized) for a chunk whose first frame is the
/// filter's frame `frames_before`, with the timestamp `first_pts` in the
/// filter's time base `tb`: a fade by time is the same for every chunk; a
/// fade by frame count starts `frames_before` frames earlier, or, for a
/// chunk after it, is done from its first frame (a fade from time 0 lasting
/// one tick, which the chunk's first frame is past: dropping the filter
/// would change the formats it makes the graph convert to).
pub fn for_chunk(
    args: &str,
    frames_before: u64,
    first_pts: i64,
    tb: (i64, i64),
) -> Result<String, String> {
    let Some(fade) = FrameFade::of(args) else { return Ok(args.to_string()) };
    if fade.inside(frames_before) {
        return Err(format!(
            "a chunk starts at frame {frames_before}, inside the fade of frames {}..={}",
            fade.start,
            fade.start + fade.frames
        ));
    }
    let counting = ["start_frame", "s", "nb_frames", "n", "start_time", "st", "duration", "d"];
    let mut kept: Vec<FilterOption> = options(args)?
        .into_iter()
        .filter(|o| !counting.contains(&o.key.as_deref().unwrap_or_default()))
        .collect();
    let mut add =
        |key: &str, value: String| kept.push(FilterOption { key: Some(key.into()), value });
    if frames_before <= fade.start {
        add("start_frame", (fade.start - frames_before).to_string());
        add("nb_frames", fade.frames.to_string());
    } else {
        // One tick, in microseconds rounded up, as config_props rounds it.
        let tick_us = (i128::from(tb.0) * 1_000_000 + i128::from(tb.1) - 1) / i128::from(tb.1);
        let tick_us = i64::try_from(tick_us).map_err(|_| "a fade's time base out of range")?;
        let ticks = crate::timeline::rescale(tick_us, (1, 1_000_000), tb);
        if ticks < 1 || first_pts <= ticks {
            return Err(format!(
                "a chunk after a fade by frame count starts at {first_pts} in {}/{}, too early \
                 to be past a fade of one tick",
                tb.0, tb.1
            ));
        }
        add("start_time", "0".into());
        add("duration", crate::timeline::seconds(tick_us));
    }
    Ok(render(&kept))
}

/// Why a fade among `filters` (the job's, in order) would count frames
/// after all: fade rounds its duration to the time base it gets frames in
/// (`config_props`), and one that rounds to no tick fades by frame count.
/// That time base is `source_tb` (`EncodeSpec::filter_time_base`), or
/// 1/`fps_rate` after an fps filter.
pub fn shorter_than_a_tick(
    filters: &[(String, String)],
    source_tb: (i64, i64),
    fps_rate: Option<(i64, i64)>,
) -> Option<String> {
    let mut tb = source_tb;
    for (name, args) in filters {
        match name.as_str() {
            "fps" => tb = fps_rate.map_or(tb, |(num, den)| (den, num)),
            "fade" if FrameFade::of(args).is_none() => {
                let Ok(found) = options(args) else { continue };
                let Some(d) = last(&found, &["duration", "d"]) else { continue };
                let Some(us) = microseconds(&d.value) else { continue };
                let ticks = crate::timeline::rescale(us, (1, 1_000_000), tb);
                if ticks < 1 {
                    return Some(format!(
                        "fade duration {} is under a tick of the video's time base {}/{}, so \
                         fade counts frames; not distributable",
                        d.value, tb.0, tb.1
                    ));
                }
            }
            _ => {}
        }
    }
    None
}

/// Why a chunk after a fade by frame count among `filters` (the job's)
/// could not be told the fade is done, if it could not: the first frame
/// after the fade must be past a fade of one tick from time 0 (later
/// frames are later still). `None` when every such chunk can.
pub fn too_early_after(filters: &[(String, String)], timeline: &Timeline) -> Option<String> {
    for (name, args) in filters {
        let Some(fade) = FrameFade::of(args).filter(|_| name == "fade") else { continue };
        let after = fade.start + fade.frames + 1;
        let frame = usize::try_from(after).ok().map(|a| timeline.selected.start + a);
        let Some(frame) = frame.filter(|&f| f < timeline.selected.end) else { continue };
        if let Err(why) = for_chunk(args, after, timeline.shifted(frame), timeline.source_tb) {
            return Some(format!("{why}; not distributable"));
        }
    }
    None
}

/// A duration of plain decimal seconds in whole microseconds, as
/// `av_parse_time` reads it (further digits dropped).
fn microseconds(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(fraction) || whole.len() > 12 {
        return None;
    }
    let fraction: String = fraction.chars().chain(std::iter::repeat('0')).take(6).collect();
    Some(whole.parse::<i64>().unwrap_or(0) * 1_000_000 + fraction.parse::<i64>().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fades_by_time_are_distributable() {
        assert_eq!(normalized("t=in:st=0:d=1").unwrap(), "t=in:st=0:d=1");
        assert_eq!(
            normalized("type=out:start_time=9.5:duration=0.5:color=white").unwrap(),
            "type=out:start_time=9.5:duration=0.5:color=white"
        );
        assert_eq!(
            normalized("in:0:25:0:2:1").unwrap(),
            "type=in:start_frame=0:nb_frames=25:alpha=0:start_time=2:duration=1"
        );
    }

    /// A duration that rounds to no tick of the time base fades by frame
    /// count (measured: `d=0.01` at 1/25 and `d=0.0000001` anywhere).
    #[test]
    fn a_fade_shorter_than_a_tick_is_not() {
        let fade = |args: &str| vec![("fade".to_string(), args.to_string())];
        assert_eq!(shorter_than_a_tick(&fade("t=in:d=0.5"), (1, 25), None), None);
        assert!(shorter_than_a_tick(&fade("t=in:d=0.01"), (1, 25), None).is_some());
        assert!(shorter_than_a_tick(&fade("t=in:d=0.0000001"), (1, 90000), None).is_some());
        assert_eq!(shorter_than_a_tick(&fade("t=in:d=0.01"), (1, 1000), None), None);
        let after_fps = [("fps".to_string(), "10".to_string()), fade("d=0.04").remove(0)];
        assert!(shorter_than_a_tick(&after_fps, (1, 1000), Some((10, 1))).is_some());
        assert_eq!(microseconds("1.2345678"), Some(1_234_567));
        // A fade by frame count before it does not hide it.
        let after_a_counted = [fade("t=in:n=5").remove(0), fade("t=out:d=0.01").remove(0)];
        assert!(shorter_than_a_tick(&after_a_counted, (1, 25), None).is_some());
    }

    #[test]
    fn fades_by_frame_count_from_the_first_frame_are_distributable() {
        assert_eq!(normalized("in:0:30").unwrap(), "type=in:start_frame=0:nb_frames=30");
        assert_eq!(normalized("t=out:s=100:n=10").unwrap(), "t=out:s=100:n=10");
        assert_eq!(FrameFade::of("t=out:s=100:n=10"), Some(FrameFade { start: 100, frames: 10 }));
        assert_eq!(FrameFade::of("t=in"), Some(FrameFade { start: 0, frames: 25 }));
        assert_eq!(FrameFade::of("t=in:d=0"), Some(FrameFade { start: 0, frames: 25 }));
        assert_eq!(FrameFade::of("t=in:d=1"), None);
        for args in
            ["t=in:st=1", "t=out:s=100:d=1", "d=00:00:01", "d=x", "d=500ms", "n=0", "s=-1", "n=1e3"]
        {
            assert!(normalized(args).is_err(), "{args}");
        }
    }

    #[test]
    fn no_chunk_starts_inside_a_fade() {
        let fades = [FrameFade { start: 10, frames: 5 }, FrameFade { start: 13, frames: 10 }];
        // 12 moves to 10; 20 to 13, then to 10; 24 stays (after 13..=23).
        assert_eq!(starts_outside(&[0, 5, 12, 20, 24, 30], &fades, false), [0, 5, 10, 24, 30]);
        let at_zero = [FrameFade { start: 0, frames: 25 }];
        assert_eq!(starts_outside(&[0, 10, 20, 26], &at_zero, false), [0, 26]);
        // On a keyframe grid, a start inside a fade goes.
        assert_eq!(starts_outside(&[0, 6, 12, 18, 24], &fades, true), [0, 6, 24]);
    }

    #[test]
    fn a_chunk_is_told_where_the_count_stands() {
        let fade = "type=out:start_frame=100:nb_frames=10:color=white";
        let tb = (1, 25);
        assert_eq!(
            for_chunk(fade, 0, 0, tb).unwrap(),
            "type=out:color=white:start_frame=100:nb_frames=10"
        );
        assert_eq!(
            for_chunk(fade, 100, 100, tb).unwrap(),
            "type=out:color=white:start_frame=0:nb_frames=10"
        );
        for inside in [101, 105, 110] {
            assert!(FrameFade::of(fade).unwrap().inside(inside));
            assert!(for_chunk(fade, inside, inside as i64, tb).is_err());
        }
        // After it: done from the first frame, by a fade of one tick at 0.
        assert_eq!(
            for_chunk(fade, 111, 111, tb).unwrap(),
            "type=out:color=white:start_time=0:duration=0.040000"
        );
        assert_eq!(for_chunk(fade, 111, 1, tb).map_err(|e| e.contains("too early")), Err(true));
        let fine = for_chunk("t=in:n=3", 5, 9000, (1, 90_000)).unwrap();
        assert_eq!(fine, "t=in:start_time=0:duration=0.000012");
        // A fade by time is every chunk's.
        assert_eq!(for_chunk("t=in:st=1:d=2", 50, 50, tb).unwrap(), "t=in:st=1:d=2");
    }
}
