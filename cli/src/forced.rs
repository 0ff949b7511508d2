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

/// The output frames ffmpeg alone forces, each at the time its chunk's
/// encoder sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForcedKeyframes {
    /// Forced frames in output order, as (key, microseconds in the chunk's
    /// encoder). A key places a frame among chunks: a timeline frame index,
    /// or an output slot when the chunks have a grid (see [`chunk_keys`]).
    forced: Vec<(i64, i64)>,
}

impl ForcedKeyframes {
    /// `list` is the option's value (a list of times; `route` refuses any
    /// other form). `outputs` is every frame ffmpeg alone encodes, in order,
    /// as (key, timestamp in `encoder_tb`); `node_us` gives a key's
    /// timestamp in microseconds as a chunk's encoder sees it.
    pub fn new(
        list: &str,
        outputs: &[(i64, i64)],
        encoder_tb: (i64, i64),
        node_us: impl Fn(i64) -> i64,
    ) -> Self {
        let mut times: Vec<i64> = list
            .split(',')
            .filter_map(parse_duration)
            .map(|us| rescale(us, MICROSECONDS, encoder_tb))
            .collect();
        times.sort_unstable();
        let mut next = 0;
        let mut forced: Vec<(i64, i64)> = Vec::new();
        for &(key, pts) in outputs {
            if next == times.len() {
                break;
            }
            if pts >= times[next] {
                next += 1;
                if forced.last().is_none_or(|&(last, _)| last != key) {
                    forced.push((key, node_us(key)));
                }
            }
        }
        Self { forced }
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
    list: &str,
    job: &EncodeJob,
    timeline: &Timeline,
    video: &StreamInfo,
    media: &MediaInfo,
    input_rate: (i64, i64),
    retimed: Option<&Retimed>,
) -> Result<ForcedKeyframes, String> {
    if let Some(retimed) = retimed {
        let outputs: Vec<(i64, i64)> = retimed
            .shown
            .iter()
            .flat_map(|s| (s.first..s.first + i64::from(s.copies)).map(|slot| (slot, slot)))
            .collect();
        let tb = (retimed.rate.1, retimed.rate.0);
        return Ok(ForcedKeyframes::new(list, &outputs, tb, |slot| slot_us(slot, retimed.rate)));
    }
    if let Some(rate) = job.fps_filter {
        let tb = (rate.1, rate.0);
        let start = rescale(job.output_window.start.unwrap_or(0), MICROSECONDS, tb);
        let first = timeline.fps_slot(timeline.selected.start, rate);
        let outputs: Vec<(i64, i64)> = (first..timeline.fps_end_slot(rate, input_rate))
            .map(|slot| (slot, slot - start))
            .collect();
        return Ok(ForcedKeyframes::new(list, &outputs, tb, |slot| slot_us(slot, rate)));
    }
    let outputs: Vec<(i64, i64)> =
        crate::retime::replay(job, timeline, video, media, input_rate, input_rate)?
            .iter()
            .map(|o| ((timeline.selected.start + o.frame) as i64, o.pts))
            .collect();
    // The nodes' encoders count from the output's -ss, as ffmpeg's does.
    let tb = (input_rate.1, input_rate.0);
    let output_start = job.output_window.start.unwrap_or(0);
    Ok(ForcedKeyframes::new(list, &outputs, tb, |frame| {
        let pts = timeline.all[frame as usize].pts;
        rescale(pts, timeline.time_base, MICROSECONDS) + timeline.ts_offset_us - output_start
    }))
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
    use super::{ForcedKeyframes, slot_us};

    /// ffmpeg alone's output at 25 fps: frame i at slot i.
    fn at_25fps(count: i64) -> Vec<(i64, i64)> {
        (0..count).map(|i| (i, i)).collect()
    }

    fn forced(list: &str, count: i64) -> ForcedKeyframes {
        ForcedKeyframes::new(list, &at_25fps(count), (1, 25), |slot| slot_us(slot, (25, 1)))
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
        let forced = ForcedKeyframes::new("0.04,0.08", &outputs, (1, 25), |key| key * 1000);
        assert_eq!(forced.for_chunk(-1..3).as_deref(), Some("0.001000"));
    }

    #[test]
    fn slots_of_odd_rates_round_trip_through_microseconds() {
        for slot in [0, 1, 2, 1001, 30_000, 1_000_000] {
            let us = slot_us(slot, (30_000, 1001));
            assert_eq!(crate::timeline::rescale(us, (1, 1_000_000), (1001, 30_000)), slot);
        }
    }
}
