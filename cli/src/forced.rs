//! `-force_key_frames` with a list of times, as the chunks must carry it out.
//!
//! ffmpeg 5.1 rescales the listed times into the encoder's time base, sorts
//! them and, for each output frame in order, forces the frame if its
//! timestamp there is at or past the first time still pending, and then
//! moves on by one time only (`do_video_out`). Two times that fall between
//! the same two output frames therefore force that frame and the next one:
//! the pending times cascade over consecutive frames, across any chunk
//! boundary. A chunk's ffmpeg cannot know what an earlier chunk consumed, so
//! the coordinator decides once, over the whole output, which frames ffmpeg
//! alone forces, and gives each chunk exactly the timestamps of its own
//! forced frames, as its encoder will see them: each then forces precisely
//! its frame, whatever the output's `-ss` or start offset.

use crate::args::parse_duration;
use crate::job::EncodeJob;
use crate::plan::Chunk;
use crate::probe::{MediaInfo, StreamInfo};
use crate::retime::Retimed;
use crate::timeline::{Timeline, rescale, seconds};

/// Microseconds, ffmpeg's `AV_TIME_BASE_Q`.
const MICROSECONDS: (i64, i64) = (1, 1_000_000);

/// How `-force_key_frames` picks the frames it forces.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// A list of times, in microseconds.
    Times(Vec<i64>),
    /// `expr:gte(t,n_forced*N)`: the first frame at or past every N
    /// seconds, the form HLS and DASH recipes use, or
    /// `expr:gte(t,S+n_forced*N)`, as media servers write it (Jellyfin puts
    /// the segment its transcode starts at in `S`). ffmpeg evaluates it per
    /// output frame in doubles, with `t` the frame's timestamp less the
    /// first frame's, times the encoder's time base (where a list of times
    /// compares the timestamps themselves); other expressions are refused.
    Every {
        /// `S`: the time of the first forced frame (frame 0 is forced only
        /// when `S` is 0).
        start: f64,
        /// `N`, above 0.
        every: f64,
    },
}

impl Rule {
    /// The rule `value` states, if it is one of the forms above.
    pub fn parse(value: &str) -> Option<Self> {
        if let Some(expr) = value.strip_prefix("expr:") {
            let sum = expr.strip_prefix("gte(t,")?.strip_suffix(')')?;
            let (start, every) = match sum.split_once("+n_forced*") {
                Some((start, every)) => (plain_number(start)?, every),
                None => (0.0, sum.strip_prefix("n_forced*")?),
            };
            let every = plain_number(every).filter(|n| *n > 0.0)?;
            return Some(Self::Every { start, every });
        }
        value.split(',').map(parse_duration).collect::<Option<Vec<_>>>().map(Self::Times)
    }
}

/// `text` as a number, if it is written with digits and at most one point
/// only (no sign, exponent or name, which ffmpeg's evaluator reads
/// otherwise than Rust).
fn plain_number(text: &str) -> Option<f64> {
    let plain = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    text.parse::<f64>().ok().filter(|_| plain)
}

/// The output frames ffmpeg alone forces, each at the time its chunk's
/// encoder sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForcedKeyframes {
    /// Forced frames in output order, as (key, microseconds in the chunk's
    /// encoder). A key places a frame among chunks: a timeline frame index,
    /// or an output slot when the chunks have a grid (see [`chunk_keys`]).
    forced: Vec<(i64, i64)>,
    /// Per forced frame, its index among ffmpeg alone's output frames.
    ordinals: Vec<u64>,
}

impl ForcedKeyframes {
    /// `rule` is the option's. `outputs` is every frame ffmpeg alone
    /// encodes, in order, as (key, timestamp in `encoder_tb`); `node_us`
    /// gives a key's timestamp in microseconds as a chunk's encoder sees it.
    pub fn new(
        rule: &Rule,
        outputs: &[(i64, i64)],
        encoder_tb: (i64, i64),
        node_us: impl Fn(i64) -> i64,
    ) -> Self {
        let mut kept = Self { forced: Vec::new(), ordinals: Vec::new() };
        let mut force = |ordinal: usize, key: i64| {
            if kept.forced.last().is_none_or(|&(last, _)| last != key) {
                kept.forced.push((key, node_us(key)));
                kept.ordinals.push(ordinal as u64);
            }
        };
        match rule {
            Rule::Times(list) => {
                let mut times: Vec<i64> =
                    list.iter().map(|&us| rescale(us, MICROSECONDS, encoder_tb)).collect();
                times.sort_unstable();
                let mut next = 0;
                for (ordinal, &(key, pts)) in outputs.iter().enumerate() {
                    if next == times.len() {
                        break;
                    }
                    if pts >= times[next] {
                        next += 1;
                        force(ordinal, key);
                    }
                }
            }
            &Rule::Every { start, every } => {
                // ffmpeg's `t` counts from the first output frame
                // (`forced_kf_ref_pts`), times av_q2d(enc->time_base); the
                // expression is evaluated in doubles.
                let tb = encoder_tb.0 as f64 / encoder_tb.1 as f64;
                let first = outputs.first().map_or(0, |&(_, pts)| pts);
                let mut n_forced = 0.0;
                for (ordinal, &(key, pts)) in outputs.iter().enumerate() {
                    if (pts - first) as f64 * tb >= start + n_forced * every {
                        n_forced += 1.0;
                        force(ordinal, key);
                    }
                }
            }
        }
        kept
    }

    /// The forced frames' indices among ffmpeg alone's output frames.
    pub fn ordinals(&self) -> &[u64] {
        &self.ordinals
    }

    /// The option's value for the chunk whose frames have `keys`: the times
    /// of its forced frames after its first (which starts the encode, a
    /// keyframe anyway); `None` when it has none.
    pub fn for_chunk(&self, keys: std::ops::Range<i64>) -> Option<String> {
        let times: Vec<String> = self
            .forced
            .iter()
            .filter(|(key, _)| *key > keys.start && *key < keys.end)
            .map(|&(_, us)| seconds(us))
            .collect();
        (!times.is_empty()).then(|| times.join(","))
    }
}

/// ffmpeg alone's forced frames for `job`'s `-force_key_frames` `list`, in
/// whichever timing the chunks carry out: an output rate (`retimed`, keyed
/// by slot), an fps filter (keyed by slot; ffmpeg's encoder counts from the
/// output's `-ss`), or the input's own frames at its rate `input_rate`
/// (keyed by timeline frame, at the timestamps ffmpeg's frame-rate code
/// gives them). The error is why the command goes to ffmpeg instead.
pub fn for_job(
    value: &str,
    job: &EncodeJob,
    timeline: &Timeline,
    video: &StreamInfo,
    media: &MediaInfo,
    input_rate: (i64, i64),
    retimed: Option<&Retimed>,
) -> Result<ForcedKeyframes, String> {
    let rule = &Rule::parse(value)
        .ok_or_else(|| format!("-force_key_frames {value} is not a form we reproduce"))?;
    if let Some(retimed) = retimed {
        let outputs: Vec<(i64, i64)> = retimed
            .shown
            .iter()
            .flat_map(|s| (s.first..s.first + i64::from(s.copies)).map(|slot| (slot, slot)))
            .collect();
        let tb = (retimed.rate.1, retimed.rate.0);
        return Ok(ForcedKeyframes::new(rule, &outputs, tb, |slot| slot_us(slot, retimed.rate)));
    }
    if let Some(rate) = job.fps_filter {
        let tb = (rate.1, rate.0);
        let start = rescale(job.output_window.start.unwrap_or(0), MICROSECONDS, tb);
        let first = timeline.fps_slot(timeline.selected.start, rate);
        let outputs: Vec<(i64, i64)> = (first..timeline.fps_end_slot(rate, input_rate))
            .map(|slot| (slot, slot - start))
            .collect();
        return Ok(ForcedKeyframes::new(rule, &outputs, tb, |slot| slot_us(slot, rate)));
    }
    let outputs: Vec<(i64, i64)> =
        crate::retime::replay(job, timeline, video, media, input_rate, input_rate)?
            .iter()
            .map(|o| ((timeline.selected.start + o.frame) as i64, o.pts))
            .collect();
    // The nodes' encoders count from the output's -ss, as ffmpeg's does.
    let tb = (input_rate.1, input_rate.0);
    let output_start = job.output_window.start.unwrap_or(0);
    let forced = ForcedKeyframes::new(rule, &outputs, tb, |frame| {
        let pts = timeline.all[frame as usize].pts;
        rescale(pts, timeline.time_base, MICROSECONDS) + timeline.ts_offset_us - output_start
    });
    // A chunk is given its forced frames' own times: a later copy of a
    // frame the output repeats (a gap in a VFR source, into MP4) would be
    // forced at the frame's first copy. Seen here: 0.633 s for 1.0 s.
    let repeated = forced.ordinals().iter().map(|&o| o as usize).find(|&o| {
        o > 0 && outputs.get(o - 1).zip(outputs.get(o)).is_some_and(|(a, b)| a.0 == b.0)
    });
    if let Some(ordinal) = repeated {
        return Err(format!(
            "-force_key_frames forces a repeated frame (output frame {ordinal}), which is not reproduced yet"
        ));
    }
    Ok(forced)
}

/// The keys of `chunk`'s frames: its output slots when it has a grid (an
/// output rate, or an fps filter), else its timeline frames.
pub fn chunk_keys(chunk: &Chunk) -> std::ops::Range<i64> {
    match &chunk.grid {
        Some(grid) => grid.clone(),
        None => chunk.frames.start as i64..chunk.frames.end as i64,
    }
}

/// Slot `slot` of 1/`rate` in microseconds, to the nearest: exact enough
/// that the encoder, rescaling it back, lands on the slot.
pub fn slot_us(slot: i64, rate: (i64, i64)) -> i64 {
    rescale(slot, (rate.1, rate.0), MICROSECONDS)
}

#[cfg(test)]
mod tests {
    use super::{ForcedKeyframes, Rule, slot_us};

    /// ffmpeg alone's output at 25 fps: frame i at slot i.
    fn at_25fps(count: i64) -> Vec<(i64, i64)> {
        (0..count).map(|i| (i, i)).collect()
    }

    fn forced(list: &str, count: i64) -> ForcedKeyframes {
        let rule = Rule::parse(list).unwrap();
        ForcedKeyframes::new(&rule, &at_25fps(count), (1, 25), |slot| slot_us(slot, (25, 1)))
    }

    #[test]
    fn each_time_forces_the_first_frame_at_or_after_it() {
        let forced = forced("1,2.5,00:00:04.01", 150);
        // 2.5 s is slot 62.5, rounded up as av_rescale_q rounds; 4.01 s is 100.25.
        assert_eq!(forced.for_chunk(0..150).as_deref(), Some("1.000000,2.520000,4.000000"));
        assert_eq!(forced.for_chunk(25..75).as_deref(), Some("2.520000"));
        assert_eq!(forced.for_chunk(26..62), None);
    }

    /// Three times that round to slot 75 force frames 75, 76 and 77 in one
    /// ffmpeg, even for a chunk that starts at 76.
    #[test]
    fn times_between_the_same_two_frames_cascade_into_the_next_chunk() {
        let forced = forced("3.01,2.99,3.0", 150);
        assert_eq!(forced.for_chunk(0..76).as_deref(), Some("3.000000"));
        assert_eq!(forced.for_chunk(76..150).as_deref(), Some("3.080000"));
        assert_eq!(forced.for_chunk(0..150).as_deref(), Some("3.000000,3.040000,3.080000"));
    }

    /// A frame shown twice (two outputs with one key) is forced once.
    #[test]
    fn a_repeated_frame_is_forced_once() {
        let outputs = [(0, 0), (1, 1), (1, 2), (2, 3)];
        let rule = Rule::parse("0.04,0.08").unwrap();
        let forced = ForcedKeyframes::new(&rule, &outputs, (1, 25), |key| key * 1000);
        assert_eq!(forced.for_chunk(-1..3).as_deref(), Some("0.001000"));
    }

    /// `expr:gte(t,n_forced*2)`: frame 0, then the first frame at or past
    /// each 2 s; a gap of two intervals forces two frames in a row.
    #[test]
    fn the_expression_forces_the_first_frame_past_each_interval() {
        let every_2s = forced("expr:gte(t,n_forced*2)", 150);
        assert_eq!(every_2s.ordinals(), [0, 50, 100]);
        assert_eq!(every_2s.for_chunk(0..150).as_deref(), Some("2.000000,4.000000"));
        // 30000/1001: 2 s is slot 59.94; the expression forces slot 60.
        let outputs: Vec<(i64, i64)> = (0..130).map(|i| (i, i)).collect();
        let rule = Rule::parse("expr:gte(t,n_forced*2)").unwrap();
        let ntsc = ForcedKeyframes::new(&rule, &outputs, (1001, 30_000), |k| k);
        assert_eq!(ntsc.ordinals(), [0, 60, 120]);
        let gap = [(0, 0), (1, 1), (2, 130), (3, 131)];
        let cascade = ForcedKeyframes::new(&rule, &gap, (1, 25), |k| k);
        assert_eq!(cascade.ordinals(), [0, 2, 3]);
        // `t` counts from the first frame: from slot 1, 2 s is slot 51.
        let late: Vec<(i64, i64)> = (1..60).map(|i| (i, i)).collect();
        assert_eq!(ForcedKeyframes::new(&rule, &late, (1, 25), |k| k).ordinals(), [0, 50]);
        // Jellyfin's form: from S on; with S = 0, the same as without.
        let from = |text| ForcedKeyframes::new(&Rule::parse(text).unwrap(), &late, (1, 25), |k| k);
        assert_eq!(from("expr:gte(t,0+n_forced*2)").ordinals(), [0, 50]);
        assert_eq!(from("expr:gte(t,1.2+n_forced*0.8)").ordinals(), [30, 50]);
        for refused in [
            "expr:gte(t,n_forced*0)",
            "expr:gte(n,n_forced*2)",
            "expr:gte(t,2)",
            "1,x",
            "expr:gte(t,-1+n_forced*2)",
            "expr:gte(t,1e1+n_forced*2)",
            "expr:gte(t,2+n_forced*0)",
            "expr:gte(t,+n_forced*2)",
        ] {
            assert_eq!(Rule::parse(refused), None, "{refused}");
        }
    }

    #[test]
    fn slots_of_odd_rates_round_trip_through_microseconds() {
        for slot in [0, 1, 2, 1001, 30_000, 1_000_000] {
            let us = slot_us(slot, (30_000, 1001));
            assert_eq!(crate::timeline::rescale(us, (1, 1_000_000), (1001, 30_000)), slot);
        }
    }
}
