//! The video frames a single ffmpeg run would encode, computed from packets.
//!
//! ffmpeg shifts input timestamps by `-(start_time + input -ss)`, then trims
//! with `-ss`/`-t` on the input side and again on the output side. This
//! module repeats that arithmetic on the probed packets, in the time base
//! ffmpeg alone reads the stream in (the source's: a spooled lavfi graph is
//! read from NUT in a finer one), rounding where ffmpeg rounds, so each chunk
//! can be told exactly which timestamps to keep.

use crate::job::Window;
use crate::probe::Packet;

/// The decoders (by codec name) that drop the frame of a packet the
/// container marks discarded, in ffmpeg 5.1: those called a packet at a
/// time (libavcodec's `decode_simple_internal` drops it); the others,
/// mjpeg and libdav1d's AV1 among them, output the frame, and ffmpeg alone
/// encodes it (measured). A stream of other codecs with discarded packets
/// runs through ffmpeg.
pub const DROPS_DISCARDED: &[&str] = &[
    "h264",
    "hevc",
    "mpeg1video",
    "mpeg2video",
    "mpeg4",
    "prores",
    "png",
    "ffv1",
    "utvideo",
    "qtrle",
];

/// Why a video stream of `codec` whose packets are `packets` cannot be cut
/// into chunks that agree with ffmpeg alone on its discarded packets.
pub fn discarded_unlike_ffmpeg(codec: &str, packets: &[Packet]) -> Option<String> {
    let first = packets.iter().position(|p| p.discard)?;
    (!DROPS_DISCARDED.contains(&codec)).then(|| {
        format!(
            "video packet {first} is discarded by its container (an edit list that starts after \
             a keyframe), and the {codec} decoder still shows its frame; not distributable"
        )
    })
}

/// Why a video whose packets are `packets` (in decode order) cannot be cut
/// by timestamp: its decode timestamps go back (two MPEG-TS recordings
/// joined with `cat`, a capture across a clock reset). ffmpeg alone reads on
/// through such a jump (for MPEG-TS and the other demuxers whose times may
/// jump, it moves what follows on: "timestamp discontinuity ... new
/// offset"), where chunks trimmed by the file's timestamps found no frames
/// and the run failed.
pub fn goes_back(packets: &[Packet]) -> Option<String> {
    let mut last: Option<(usize, i64)> = None;
    for (index, packet) in packets.iter().enumerate() {
        let Some(dts) = packet.dts else { continue };
        if let Some((before, previous)) = last
            && dts < previous
        {
            return Some(format!(
                "the video's timestamps go back at packet {index} ({dts} after {previous} at \
                 packet {before}); not distributable"
            ));
        }
        last = Some((index, dts));
    }
    None
}

/// A frame in presentation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// Presentation timestamp in the stream time base, before any offset.
    pub pts: i64,
    /// Index of its packet in decode order.
    pub decode_index: usize,
}

/// The frames to encode and how to find them in the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    /// Every packet in decode order.
    pub packets: Vec<Packet>,
    /// Every frame in presentation order.
    pub all: Vec<Frame>,
    /// The range of `all` that ffmpeg would encode.
    pub selected: std::ops::Range<usize>,
    /// Added to input timestamps, in microseconds: `-(start + input -ss)`,
    /// rounded to the source time base as ffmpeg rounds it.
    pub ts_offset_us: i64,
    /// `ts_offset_us` in the stream time base.
    pub ts_offset: i64,
    /// The stream time base.
    pub time_base: (i64, i64),
    /// The time base ffmpeg alone's filters get the frames in, which
    /// [`Timeline::shifted`] is in: the one it reads the stream in, or
    /// 1/R for frames counted at an input rate R.
    pub source_tb: (i64, i64),
    /// The time base ffmpeg alone reads the stream in, which a node's
    /// filters get the chunk's frames in (`EncodeSpec::filter_time_base`):
    /// `source_tb`, unless the frames are counted.
    pub read_tb: (i64, i64),
    /// What is added to a frame's timestamp in `source_tb` before the
    /// filters see it: `ts_offset_us` there, or 0 for counted frames.
    source_offset: i64,
    /// The input rate R by which ffmpeg alone counts the frames' times
    /// (`counted_rate`): frame `i` of [`Timeline::all`] is at `i`/R.
    counted: Option<(i64, i64)>,
}

impl Timeline {
    /// Builds the timeline of packets in `time_base`, as ffmpeg alone would
    /// see them in `source_tb` (the same, or coarser when the input was
    /// spooled); errors if packets lack timestamps.
    pub fn new(
        packets: Vec<Packet>,
        time_base: (i64, i64),
        source_tb: (i64, i64),
        start_time_us: i64,
        input: Window,
        output: Window,
    ) -> anyhow::Result<Self> {
        Self::build(packets, time_base, source_tb, start_time_us, input, output, None)
    }

    /// [`Timeline::new`] for frames that ffmpeg alone times by their count
    /// at `rate` (an input `-r` on a file, `counted_rate`): its filters,
    /// trims and encoder see frame `i` of [`Timeline::all`] at `i`/`rate`
    /// from the first decoded frame, whatever its timestamp. The nodes
    /// still find a chunk's frames by their own timestamps.
    pub fn counted(
        packets: Vec<Packet>,
        time_base: (i64, i64),
        start_time_us: i64,
        input: Window,
        output: Window,
        rate: (i64, i64),
    ) -> anyhow::Result<Self> {
        Self::build(packets, time_base, time_base, start_time_us, input, output, Some(rate))
    }

    fn build(
        packets: Vec<Packet>,
        time_base: (i64, i64),
        read_tb: (i64, i64),
        start_time_us: i64,
        input: Window,
        output: Window,
        counted: Option<(i64, i64)>,
    ) -> anyhow::Result<Self> {
        let mut all = Vec::with_capacity(packets.len());
        let mut discarded = Vec::new();
        for (decode_index, packet) in packets.iter().enumerate() {
            let pts = match packet.pts.or(packet.dts) {
                Some(pts) => pts,
                None => anyhow::bail!("video packet {decode_index} has no timestamp"),
            };
            // The decoder drops a discarded packet's frame, but decodes
            // the packet for the frames after it: chunks keep such packets
            // (a chunk's input runs from a keyframe) and their nodes drop
            // the frames by timestamp, as they drop any frame before the
            // chunk's first.
            if packet.discard {
                discarded.push(Frame { pts, decode_index });
            } else {
                all.push(Frame { pts, decode_index });
            }
        }
        all.sort_by_key(|f| (f.pts, f.decode_index));
        // That holds for a lead-in (an MP4 or MOV edit list that starts
        // after a keyframe, as `-ss` with `-c copy` writes it); a frame
        // discarded among the kept ones would be kept by its chunk.
        let first_kept = all.first().map_or(i64::MAX, |f| f.pts);
        if let Some(late) = discarded.iter().find(|f| f.pts >= first_kept) {
            anyhow::bail!(
                "video packet {} is discarded by its container after the stream's start \
                 (an edit list that skips within the stream)",
                late.decode_index
            );
        }
        // ffmpeg alone decodes and encodes both frames of a timestamp
        // (moving the second on); chunks, trimmed by timestamp, would not
        // agree where they split them.
        if let Some(pair) = all.windows(2).find(|pair| pair[0].pts == pair[1].pts) {
            anyhow::bail!(
                "video packets {} and {} share the timestamp {}",
                pair[0].decode_index,
                pair[1].decode_index,
                pair[0].pts
            );
        }
        let us = (1, 1_000_000);
        let offset = rescale(-(start_time_us + input.start.unwrap_or(0)), us, read_tb);
        let ts_offset_us = rescale(offset, read_tb, us);
        let ts_offset = rescale(offset, read_tb, time_base);
        let (source_tb, source_offset) = match counted {
            Some((num, den)) => ((den, num), 0),
            None => (read_tb, offset),
        };
        let shifted: Vec<i64> = match counted {
            Some(_) => (0..all.len() as i64).collect(),
            None => all.iter().map(|f| rescale(f.pts, time_base, source_tb) + offset).collect(),
        };
        // The input trim: from 0 when the input is seeked, for -t after the first kept frame.
        let mut range = trim(
            &shifted,
            0..shifted.len(),
            input.start.map(|_| 0),
            input_duration(&input),
            source_tb,
        );
        // The output trim, on the same timeline.
        range = trim(&shifted, range, output.start, output_duration(&output), source_tb);
        Ok(Self {
            packets,
            all,
            selected: range,
            ts_offset_us,
            ts_offset,
            time_base,
            source_tb,
            read_tb,
            source_offset,
            counted,
        })
    }

    /// The slot of frame `i` (of `all`) on the output grid of `fps=rate`:
    /// its shifted timestamp in slots of 1/rate, rounded to the nearest as
    /// the fps filter rounds it. The filter gives every slot the last frame
    /// whose slot is at most it.
    pub fn fps_slot(&self, i: usize, rate: (i64, i64)) -> i64 {
        rescale(self.shifted(i), self.source_tb, (rate.1, rate.0))
    }

    /// Frame `i` (of `all`)'s timestamp as ffmpeg alone's filters see it:
    /// after the input's start offset, in `source_tb`.
    pub fn shifted(&self, i: usize) -> i64 {
        match self.counted {
            Some(_) => i as i64,
            None => rescale(self.all[i].pts, self.time_base, self.source_tb) + self.source_offset,
        }
    }

    /// What ffmpeg alone adds to a timestamp in `source_tb` before its
    /// filters see it (see [`Timeline::shifted`]).
    pub fn filter_offset(&self) -> i64 {
        self.source_offset
    }

    /// Frame `i` (of `all`)'s timestamp after the input's start offset, as
    /// ffmpeg's output `-t` and `-to` count time, in microseconds.
    pub fn shifted_us(&self, i: usize) -> i64 {
        rescale(self.shifted(i), self.source_tb, (1, 1_000_000))
    }

    /// The slot where the fps filter stops: the end of the last selected
    /// frame (its timestamp plus its packet's duration, else one frame at
    /// `frame_rate`), rounded as the filter rounds the end of its input.
    pub fn fps_end_slot(&self, rate: (i64, i64), frame_rate: (i64, i64)) -> i64 {
        let last = self.selected.end.saturating_sub(1);
        let Some(frame) = self.all.get(last) else { return 0 };
        let duration = match self.packets[frame.decode_index].duration {
            Some(d) => rescale(d, self.time_base, self.source_tb),
            None => rescale(1, (frame_rate.1, frame_rate.0), self.source_tb),
        };
        let shifted = rescale(frame.pts, self.time_base, self.source_tb) + self.source_offset;
        rescale(shifted + duration, self.source_tb, (rate.1, rate.0))
    }

    /// Number of frames to encode.
    pub fn len(&self) -> usize {
        self.selected.len()
    }

    /// Whether nothing would be encoded.
    pub fn is_empty(&self) -> bool {
        self.selected.is_empty()
    }

    /// Keyframe positions among the selected frames.
    pub fn keyframes(&self) -> Vec<u64> {
        self.selected
            .clone()
            .filter(|&i| self.packets[self.all[i].decode_index].key)
            .map(|i| (i - self.selected.start) as u64)
            .collect()
    }
}

fn input_duration(w: &Window) -> Option<i64> {
    w.duration.or_else(|| w.to.map(|to| to - w.start.unwrap_or(0)))
}

fn output_duration(w: &Window) -> Option<i64> {
    input_duration(w)
}

/// ffmpeg's `trim` filter with `starti`/`durationi` in microseconds: keep from
/// the first frame at or after start, while `pts - first_kept < duration`.
fn trim(
    pts: &[i64],
    range: std::ops::Range<usize>,
    start_us: Option<i64>,
    duration_us: Option<i64>,
    tb: (i64, i64),
) -> std::ops::Range<usize> {
    let mut first = range.start;
    if let Some(start) = start_us {
        let start = rescale(start, (1, 1_000_000), tb);
        while first < range.end && pts[first] < start {
            first += 1;
        }
    }
    let mut end = range.end;
    if let Some(duration) = duration_us {
        let duration = rescale(duration, (1, 1_000_000), tb);
        end = first;
        while end < range.end && pts[end] - pts[first] < duration {
            end += 1;
        }
    }
    first..end
}

/// `av_rescale_q` with `AV_ROUND_NEAR_INF`, as the nodes round too.
pub use node::rescale::rescale;

/// Microseconds as exact decimal seconds, the form every ffmpeg duration accepts.
pub fn seconds(us: i64) -> String {
    let sign = if us < 0 { "-" } else { "" };
    let abs = us.unsigned_abs();
    format!("{sign}{}.{:06}", abs / 1_000_000, abs % 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packets(pts: &[i64]) -> Vec<Packet> {
        pts.iter()
            .enumerate()
            .map(|(i, &p)| Packet {
                pts: Some(p),
                dts: None,
                duration: None,
                key: i == 0,
                ..Default::default()
            })
            .collect()
    }

    #[test]
    fn sorts_b_frames_into_presentation_order() {
        let t = Timeline::new(
            packets(&[0, 3, 1, 2]),
            (1, 25),
            (1, 25),
            0,
            Window::default(),
            Window::default(),
        )
        .unwrap();
        let order: Vec<_> = t.all.iter().map(|f| f.decode_index).collect();
        assert_eq!(order, vec![0, 2, 3, 1]);
        assert_eq!(t.selected, 0..4);
    }

    #[test]
    fn applies_input_and_output_windows() {
        let pts: Vec<i64> = (0..100).collect();
        let one_second = Window { start: Some(1_000_000), duration: Some(2_000_000), to: None };
        let t = Timeline::new(packets(&pts), (1, 25), (1, 25), 0, one_second, Window::default())
            .unwrap();
        assert_eq!(t.selected, 25..75);
        assert_eq!(t.ts_offset, -25);
        let out = Window { start: Some(1_000_000), duration: None, to: Some(3_000_000) };
        let t = Timeline::new(packets(&pts), (1, 25), (1, 25), 0, Window::default(), out).unwrap();
        assert_eq!(t.selected, 25..75);
    }

    #[test]
    fn counted_frames_are_timed_by_their_count() {
        // 23.976 fps in MPEG-TS from 1.4 s, read with -r 24 -t 1: frame i
        // is at i/24 whatever its timestamp; -t counts there, while the
        // nodes still shift the file's own timestamps by its start.
        let pts: Vec<i64> = (0..48).map(|i| 126_000 + i * 3754).collect();
        let one = Window { duration: Some(1_000_000), ..Window::default() };
        let t = Timeline::counted(
            packets(&pts),
            (1, 90_000),
            1_400_000,
            one,
            Window::default(),
            (24, 1),
        )
        .unwrap();
        assert_eq!((t.source_tb, t.read_tb), ((1, 24), (1, 90_000)));
        assert_eq!((t.shifted(0), t.shifted(30), t.filter_offset()), (0, 30, 0));
        assert_eq!((t.selected.clone(), t.ts_offset), (0..24, -126_000));
        let late = Window { start: Some(1_500_000), ..Window::default() };
        let t = Timeline::counted(
            packets(&pts),
            (1, 90_000),
            1_400_000,
            Window::default(),
            late,
            (24, 1),
        )
        .unwrap();
        assert_eq!(t.selected, 36..48);
    }

    #[test]
    fn rounds_the_offset_in_the_source_time_base() {
        // lavfi at 25 fps, spooled to NUT at 1/51200: -ss 0.5 is -12.5
        // frames, which ffmpeg rounds to -13 in the source's 1/25.
        let pts: Vec<i64> = (0..75).map(|i| i * 2048).collect();
        let half = Window { start: Some(500_000), ..Window::default() };
        let t =
            Timeline::new(packets(&pts), (1, 51_200), (1, 25), 0, half, Window::default()).unwrap();
        assert_eq!((t.ts_offset_us, t.ts_offset), (-520_000, -26_624));
        assert_eq!(t.selected, 13..75);
        let same =
            Timeline::new(packets(&pts), (1, 51_200), (1, 51_200), 0, half, Window::default())
                .unwrap();
        assert_eq!((same.ts_offset_us, same.selected), (-500_000, 13..75));
    }

    #[test]
    fn a_discarded_lead_in_is_decoded_but_not_selected() {
        // `-ss` with `-c copy` into MP4: the edit list starts after the
        // keyframe, whose GOP up to the start is flagged for discarding.
        let mut lead_in = packets(&[-3, -1, -2, 0, 2, 1]);
        for packet in &mut lead_in[..3] {
            packet.discard = true;
        }
        let t = Timeline::new(lead_in, (1, 25), (1, 25), 0, Window::default(), Window::default())
            .unwrap();
        let order: Vec<_> = t.all.iter().map(|f| f.decode_index).collect();
        assert_eq!((order, t.selected.clone()), (vec![3, 5, 4], 0..3));
        let mut late = packets(&[0, 2, 1, 3]);
        late[2].discard = true;
        let refused =
            Timeline::new(late, (1, 25), (1, 25), 0, Window::default(), Window::default());
        assert!(refused.unwrap_err().to_string().contains("packet 2 is discarded"));
    }

    #[test]
    fn decode_times_that_go_back_are_refused() {
        let mut joined = packets(&[900, 901, 902, 0, 1]);
        for (packet, dts) in joined.iter_mut().zip([899, 900, 901, -1, 0]) {
            packet.dts = Some(dts);
        }
        let why = goes_back(&joined).unwrap();
        assert!(why.contains("at packet 3 (-1 after 901 at packet 2)"), "{why}");
        // Decode times that stand still, or are missing, do not go back.
        let mut steady = packets(&[0, 2, 1]);
        for (packet, dts) in steady.iter_mut().zip([Some(-1), None, Some(-1)]) {
            packet.dts = dts;
        }
        assert_eq!(goes_back(&steady), None);
    }

    #[test]
    fn only_decoders_that_drop_discarded_frames_cut_them() {
        let mut lead_in = packets(&[-1, 0, 1]);
        lead_in[0].discard = true;
        assert_eq!(discarded_unlike_ffmpeg("h264", &lead_in), None);
        let why = discarded_unlike_ffmpeg("mjpeg", &lead_in).unwrap();
        assert!(why.contains("packet 0") && why.contains("mjpeg"), "{why}");
        assert_eq!(discarded_unlike_ffmpeg("av1", &packets(&[0, 1])), None);
    }

    #[test]
    fn rescale_rounds_to_nearest() {
        assert_eq!(rescale(-1_400_000, (1, 1_000_000), (1, 90_000)), -126_000);
        assert_eq!(rescale(33_367, (1, 1_000_000), (1001, 30_000)), 1);
        assert_eq!(rescale(-16_683, (1, 1_000_000), (1001, 30_000)), 0);
    }
}
