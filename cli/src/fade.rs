//! `fade` (`fade=t=in:st=0:d=1`, `fade=t=out:st=9:d=1`, the titles' and
//! endings' fades of every editing recipe) decides each frame's fade from
//! its timestamp once it fades by time (a `duration`): before the start it
//! waits, then the factor is `(t - start) / duration`, then it is done, so
//! a chunk that starts anywhere draws its frames as ffmpeg alone does
//! (measured: a clip faded whole and from each of several later frames on
//! are the same frames). Without a duration it fades by frame count over
//! `nb_frames` (25 by default), counted from the filter's first frame, and
//! a `start_frame` counts frames too: both need the frames before a chunk,
//! which the fade has no option to be told; those forms are refused.

use crate::filter_options::{FilterOption, named, options};

/// fade's options in the order of its option table (ffmpeg 5.1), which
/// names the values given by position.
const POSITIONAL: &[&str] =
    &["type", "start_frame", "nb_frames", "alpha", "start_time", "duration", "color"];

/// fade's arguments with every option named, or why they are not
/// distributable.
pub fn normalized(args: &str) -> Result<String, String> {
    let args = named(args, POSITIONAL).map_err(|e| format!("fade with {e}"))?;
    let found: Vec<FilterOption> = options(&args)?;
    // The last value of an option counts.
    let value = |keys: &[&str]| {
        found.iter().rev().find(|o| keys.contains(&o.key.as_deref().unwrap_or_default()))
    };
    if let Some(start) = value(&["start_frame", "s"]).filter(|o| o.value != "0") {
        return Err(format!("fade from frame {} is not distributable", start.value));
    }
    let seconds = |o: &FilterOption| o.value.parse::<f64>().ok().filter(|s| s.is_finite());
    match value(&["duration", "d"]).map(|o| (o, seconds(o))) {
        Some((_, Some(d))) if d > 0.0 => Ok(args),
        Some((o, Some(_))) | Some((o, None)) if o.value.contains(':') => {
            Err(format!("fade duration {} is not distributable (seconds are)", o.value))
        }
        _ => Err("fade by frame count (without a duration) is not distributable".into()),
    }
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
            "fade" => {
                let found = options(args).ok()?;
                let d = found
                    .iter()
                    .rev()
                    .find(|o| matches!(o.key.as_deref(), Some("d" | "duration")))?;
                let ticks = crate::timeline::rescale(microseconds(&d.value)?, (1, 1_000_000), tb);
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
    }

    #[test]
    fn fades_by_frames_are_not() {
        for args in ["in:0:30", "t=in:st=1", "t=out:s=100:d=1", "d=0", "d=0.0", "d=00:00:01", "d=x"]
        {
            assert!(normalized(args).is_err(), "{args}");
        }
    }
}
