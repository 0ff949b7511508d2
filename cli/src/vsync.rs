//! ffmpeg 5.1's frame-rate conversion, replayed over the whole input.
//!
//! With an output `-r`, or `-fps_mode cfr`, ffmpeg alone decides frame by
//! frame which decoded frames to drop and which to repeat (`do_video_out` in
//! fftools/ffmpeg.c). The decision carries state from frame to frame (the
//! next output timestamp, the last three duplication counts, the first-frame
//! rule) and reads each frame's packet duration, so a chunk that starts
//! ffmpeg afresh decides differently. Instead, the coordinator runs the same
//! arithmetic here, over every frame's timestamp and duration, and tells each
//! chunk exactly which frames become which output frames ([`Shown`]); the node
//! then only carries the decision out.
//!
//! Every float and every rounding here is ffmpeg's own (`lrintf` rounds a
//! `float` half to even, `llrint` a `double`), because the thresholds of
//! 0.6 and 1.1 frames meet exact halves on common rate pairs.

/// ffmpeg's video sync methods (`VSYNC_*`), after `auto` is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Timestamps pass through, rounded to the output rate.
    Passthrough,
    /// Constant rate from timestamp 0: frames are dropped and repeated.
    Cfr,
    /// Constant rate from the first frame: what `auto` picks for a CFR
    /// container when the input has one stream, or under `-copyts`.
    Vscfr,
    /// Frames keep their timestamps on the output grid; late ones are dropped.
    Vfr,
}

/// One frame as ffmpeg's encoder stage receives it from the filter graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// Its timestamp in the filter graph's output time base, after the
    /// input's offset (`-ss`, start time), before the output's `-ss`.
    pub pts: i64,
    /// The duration of the packet it was decoded from, in the stream's time
    /// base; 0 when the container gives none.
    pub duration: i64,
}

/// Everything besides the frames that the decision depends on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sync {
    /// The output rate (`-r`, or the rate ffmpeg picks): the encoder's time
    /// base is its inverse, and output timestamps count its frames.
    pub rate: (i64, i64),
    /// The frame rate the filter graph reports (the input's guessed rate).
    pub input_rate: (i64, i64),
    /// The filter graph's output time base, which [`Frame::pts`] is in.
    pub filter_tb: (i64, i64),
    /// The input stream's time base, which [`Frame::duration`] is in.
    pub stream_tb: (i64, i64),
    /// How frames are synchronised.
    pub method: Method,
    /// The user gave video filters: ffmpeg then ignores packet durations.
    pub filtered: bool,
    /// The input stream has a start time (one frame in Matroska has none):
    /// only then is a frame's duration capped at one output frame.
    pub start_known: bool,
    /// The output's `-ss`, in microseconds (0 without).
    pub output_start_us: i64,
    /// The output's duration limit (`-t`, or `-to` less `-ss`), in microseconds.
    pub recording_time_us: Option<i64>,
}

/// One output frame: its timestamp in 1/rate and the input frame it shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Output {
    /// Timestamp in units of 1/rate.
    pub pts: i64,
    /// Index into the frames given to [`convert`].
    pub frame: usize,
}

/// What became of one input frame: its first output timestamp and how many
/// consecutive output frames show it (0: dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown {
    /// Timestamp of its first output frame, in 1/rate (unused when dropped).
    pub first: i64,
    /// Output frames that show it.
    pub copies: u32,
}

/// ffmpeg gives up repeating a frame more often than this
/// (`dts_error_threshold * 30`, "frame duplication too large").
const MAX_DUPLICATES: i64 = 3600 * 30 * 30;

/// Runs ffmpeg's decision over `frames` (in presentation order) and returns
/// the output frames in order. Errors where ffmpeg would do something this
/// does not reproduce: a duplication it refuses, or timestamps that go back.
pub fn convert(frames: &[Frame], sync: &Sync) -> Result<Vec<Output>, String> {
    if sync.rate.0 <= 0 || sync.rate.1 <= 0 {
        return Err(format!("output rate {}/{}", sync.rate.0, sync.rate.1));
    }
    let mut state = State::new(sync);
    for (index, frame) in frames.iter().enumerate() {
        state.frame(Some((index, frame)))?;
        if state.finished {
            break;
        }
    }
    state.frame(None)?;
    let out = state.out;
    if out.windows(2).any(|w| w[1].pts <= w[0].pts) {
        return Err("output timestamps would not increase".into());
    }
    Ok(out)
}

/// Per input frame of `0..count`, what [`convert`]'s outputs made of it.
pub fn shown(outputs: &[Output], count: usize) -> Vec<Shown> {
    let mut shown = vec![Shown { first: 0, copies: 0 }; count];
    for output in outputs {
        let entry = &mut shown[output.frame];
        if entry.copies == 0 {
            entry.first = output.pts;
        }
        entry.copies += 1;
    }
    shown
}

/// `do_video_out`'s state for one output stream.
struct State<'a> {
    sync: &'a Sync,
    /// The encoder time base, `1/rate`.
    enc_tb: (i64, i64),
    /// The next output timestamp (`ost->sync_opts`).
    next: i64,
    /// Frames output so far (`ost->frame_number`).
    count: i64,
    /// The last three duplication counts of the previous frame (`last_nb0_frames`).
    last_nb0: [i64; 3],
    /// The previous input frame, dropped or not (`ost->last_frame`).
    last: Option<usize>,
    /// The output reached its duration (`close_output_stream`).
    finished: bool,
    out: Vec<Output>,
}

impl<'a> State<'a> {
    fn new(sync: &'a Sync) -> Self {
        Self {
            sync,
            enc_tb: (sync.rate.1, sync.rate.0),
            next: 0,
            count: 0,
            last_nb0: [0; 3],
            last: None,
            finished: false,
            out: Vec::new(),
        }
    }

    /// `adjust_frame_pts_to_encoder_tb`: the frame's timestamp in encoder
    /// ticks, with extra precision, nudged off exact midpoints.
    fn sync_ipts(&self, pts: i64) -> f64 {
        let extra = (29 - log2(self.enc_tb.1)).clamp(0, 16);
        let fine = (self.enc_tb.0, self.enc_tb.1 << extra);
        let ticks = crate::timeline::rescale(pts, self.sync.filter_tb, fine)
            - crate::timeline::rescale(self.sync.output_start_us, (1, 1_000_000), fine);
        let mut float = ticks as f64 / f64::from(1u32 << extra);
        float += if float > 0.0 { 1.0 } else { -1.0 } / f64::from(1u32 << 17);
        float
    }

    /// The frame's duration in encoder ticks, as `do_video_out` works it out.
    fn duration(&self, frame: Option<&Frame>) -> f64 {
        let q2d = |q: (i64, i64)| q.0 as f64 / q.1 as f64;
        let enc = q2d(self.enc_tb);
        let mut duration = 0.0;
        if self.sync.input_rate.0 > 0 && self.sync.input_rate.1 > 0 {
            duration = 1.0 / (q2d(self.sync.input_rate) * enc);
        }
        if self.sync.start_known {
            duration = duration.min(1.0 / (q2d(self.sync.rate) * enc));
        }
        if let Some(frame) = frame
            && !self.sync.filtered
        {
            let ticks = lrintf(frame.duration as f64 * q2d(self.sync.stream_tb) / enc);
            if ticks > 0 {
                duration = ticks as f64;
            }
        }
        duration
    }

    /// One call of `do_video_out`: `None` is the flush at the end of input.
    fn frame(&mut self, input: Option<(usize, &Frame)>) -> Result<(), String> {
        if self.finished {
            return Ok(());
        }
        let mut duration = self.duration(input.map(|(_, f)| f));
        let (mut nb, mut nb0);
        match input {
            None => {
                nb = mid_pred(self.last_nb0);
                nb0 = nb;
            }
            Some((_, frame)) => {
                let mut sync_ipts = self.sync_ipts(frame.pts);
                let mut delta0 = sync_ipts - self.next as f64;
                let mut delta = delta0 + duration;
                nb0 = 0;
                nb = 1;
                if delta0 < 0.0 && delta > 0.0 && self.sync.method != Method::Passthrough {
                    sync_ipts = self.next as f64;
                    duration += delta0;
                    delta0 = 0.0;
                }
                let mut method = self.sync.method;
                if method == Method::Vscfr {
                    if self.count == 0 && delta0 >= 0.5 {
                        delta = duration;
                        delta0 = 0.0;
                        self.next = llrint(sync_ipts);
                    }
                    method = Method::Cfr;
                }
                match method {
                    Method::Cfr => {
                        if delta < -1.1 {
                            nb = 0;
                        } else if delta > 1.1 {
                            nb = lrintf(delta);
                            if delta0 > 1.1 {
                                nb0 = lrintf(delta0 - 0.6);
                            }
                        }
                    }
                    Method::Vfr => {
                        if delta <= -0.6 {
                            nb = 0;
                        } else if delta > 0.6 {
                            self.next = llrint(sync_ipts);
                        }
                    }
                    Method::Passthrough => self.next = llrint(sync_ipts),
                    Method::Vscfr => unreachable!("resolved to Cfr above"),
                }
            }
        }
        nb0 = nb0.min(nb);
        self.last_nb0 = [nb0, self.last_nb0[0], self.last_nb0[1]];
        if nb > MAX_DUPLICATES {
            return Err(format!("ffmpeg would refuse to repeat a frame {} times", nb - 1));
        }
        for i in 0..nb {
            let shown = match (i < nb0, self.last, input) {
                (true, Some(last), _) => last,
                (_, _, Some((index, _))) => index,
                (_, _, None) => return Ok(()),
            };
            if self.past_recording_time() {
                self.finished = true;
                return Ok(());
            }
            self.out.push(Output { pts: self.next, frame: shown });
            self.next += 1;
            self.count += 1;
        }
        if let Some((index, _)) = input {
            self.last = Some(index);
        }
        Ok(())
    }

    /// `check_recording_time`: the next output timestamp reached `-t`.
    fn past_recording_time(&self) -> bool {
        self.sync.recording_time_us.is_some_and(|limit| {
            // av_compare_ts: next * enc_tb >= limit / 1e6, exactly.
            i128::from(self.next) * i128::from(self.enc_tb.0) * 1_000_000
                >= i128::from(limit) * i128::from(self.enc_tb.1)
        })
    }
}

/// `av_log2`: the position of the highest set bit.
fn log2(value: i64) -> i32 {
    63 - value.max(1).leading_zeros() as i32
}

/// C's `lrintf` and `llrintf`: to `float`, then to the nearest integer, half to even.
fn lrintf(value: f64) -> i64 {
    (value as f32).round_ties_even() as i64
}

/// C's `llrint`: to the nearest integer, half to even.
fn llrint(value: f64) -> i64 {
    value.round_ties_even() as i64
}

/// libavcodec's `mid_pred`: the median of three.
fn mid_pred(v: [i64; 3]) -> i64 {
    let mut sorted = v;
    sorted.sort_unstable();
    sorted[1]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `count` frames at `fps` as Matroska stores them: milliseconds, rounded.
    fn frames(count: i64, fps: i64) -> Vec<Frame> {
        (0..count)
            .map(|i| Frame { pts: (i * 1000 + fps / 2) / fps, duration: 1000 / fps })
            .collect()
    }

    fn sync(rate: i64, input: i64, method: Method) -> Sync {
        Sync {
            rate: (rate, 1),
            input_rate: (input, 1),
            filter_tb: (1, 1000),
            stream_tb: (1, 1000),
            method,
            filtered: false,
            start_known: true,
            output_start_us: 0,
            recording_time_us: None,
        }
    }

    fn sources(out: &[Output]) -> Vec<usize> {
        out.iter().map(|o| o.frame).collect()
    }

    // Expected values below are what ffmpeg 5.1.9 itself wrote from the same
    // timestamps (testsrc2 in Matroska, `-r 24` into Matroska and MP4, read
    // back frame by frame).

    #[test]
    fn thirty_to_twenty_four_drops_one_frame_in_five() {
        let out = convert(&frames(90, 30), &sync(24, 30, Method::Vfr)).unwrap();
        assert_eq!(out.len(), 73);
        assert_eq!(&sources(&out)[..10], [0, 1, 2, 3, 4, 5, 6, 7, 8, 10]);
        assert!(out.windows(2).all(|w| w[1].pts == w[0].pts + 1));
    }

    #[test]
    fn twelve_to_twenty_four_repeats_every_frame_and_cfr_starts_at_zero() {
        // Packet durations of two output frames: each frame is output twice, at once.
        let out = convert(&frames(36, 12), &sync(24, 12, Method::Vscfr)).unwrap();
        assert_eq!(out.len(), 72);
        assert_eq!(&sources(&out)[..6], [0, 0, 1, 1, 2, 2]);
        // The same with a video filter, which hides packet durations: each
        // frame is output once, and repeated when the next one comes.
        let filtered = Sync { filtered: true, ..sync(24, 12, Method::Vscfr) };
        let out = convert(&frames(36, 12), &filtered).unwrap();
        assert_eq!(&sources(&out)[..6], [0, 1, 1, 2, 2, 3]);
        assert_eq!(out.len(), 71);
        // VFR never repeats: 36 frames at even timestamps.
        let vfr = convert(&frames(36, 12), &sync(24, 12, Method::Vfr)).unwrap();
        assert_eq!(vfr.len(), 36);
        assert_eq!(vfr[1].pts, 2);
    }

    #[test]
    fn shown_counts_copies_per_frame() {
        let out = convert(&frames(12, 30), &sync(24, 30, Method::Vfr)).unwrap();
        let per_frame = shown(&out, 12);
        assert_eq!(per_frame[8], Shown { first: 8, copies: 1 });
        assert_eq!(per_frame[9], Shown { first: 0, copies: 0 });
        assert_eq!(per_frame[10], Shown { first: 9, copies: 1 });
        assert_eq!(per_frame.iter().map(|s| s.copies).sum::<u32>() as usize, out.len());
    }

    #[test]
    fn cfr_pads_a_late_start_with_the_first_frame_and_vscfr_does_not() {
        let late: Vec<Frame> = (0..5).map(|i| Frame { pts: 200 + i * 40, duration: 40 }).collect();
        let cfr = convert(&late, &sync(25, 25, Method::Cfr)).unwrap();
        assert_eq!(cfr.len(), 10);
        assert_eq!(&sources(&cfr)[..6], [0, 0, 0, 0, 0, 0]);
        let vscfr = convert(&late, &sync(25, 25, Method::Vscfr)).unwrap();
        assert_eq!((vscfr.len(), vscfr[0].pts), (5, 5));
    }

    #[test]
    fn the_duration_limit_ends_the_output() {
        let limited = Sync { recording_time_us: Some(1_000_000), ..sync(24, 30, Method::Vfr) };
        let out = convert(&frames(90, 30), &limited).unwrap();
        assert_eq!(out.len(), 24);
    }

    #[test]
    fn rounding_is_cs() {
        assert_eq!(lrintf(2.5), 2);
        assert_eq!(lrintf(3.5), 4);
        assert_eq!(llrint(-0.5), 0);
        assert_eq!(log2(30_000), 14);
        assert_eq!(mid_pred([3, 0, 1]), 1);
    }
}
