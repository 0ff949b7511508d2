//! Where chunks of a job with burnt-in subtitles may start.
//!
//! libass draws each frame from the frame's time alone but for one thing:
//! an event that collides with others is placed where it was first drawn,
//! for as long as it shows (`fix_collisions`: once placed, an event is
//! "fixed"). ffmpeg alone draws every frame in order, so a line that
//! appears while another still shows goes above it and stays there after
//! the other is gone; a chunk that starts after the other is gone would
//! draw it afresh, at the bottom (seen: 15 frames of a 3 s clip differed).
//!
//! So a chunk may start only at a frame where no event shows that showed
//! on the frame before: every event it draws is then first drawn inside
//! it, beside the same events as in ffmpeg alone. [`held_frames`] gives
//! the frames where a chunk may not start; the plan moves such a start
//! back to the frame where the events showing there first appeared.
//!
//! An event that shows at no time another does is exempt: libass fixes it
//! too, but alone on the screen, where it fits with nothing in the way,
//! which is where a chunk that starts inside it draws it afresh. Most of an
//! SRT's lines are such (one line after the other), so chunks may start
//! during dialogue that never pauses. Events that another overlaps hold
//! their frames, whatever their layer or `\pos` (libass leaves out
//! events with `\pos` or `\move` and sorts out collisions per layer; that
//! would need the events' text, so the rule takes every overlap).

use std::ops::Range;

use crate::job::Window;
use crate::timeline::Timeline;

/// A subtitle event, in libass's milliseconds: shown at `now` when
/// `start_ms <= now < end_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// Its first millisecond.
    pub start_ms: i64,
    /// The millisecond after its last.
    pub end_ms: i64,
}

impl Event {
    /// An event from the lines of `ffprobe -show_entries
    /// stream=time_base:packet=pts,duration -of csv`: `packet,PTS,DURATION`
    /// in the stream's time base, given by `tb` (`stream,1/1000` follows
    /// the packets). `None` for other lines and packets without times.
    pub fn from_csv(line: &str, tb: (i64, i64)) -> Option<Self> {
        let mut fields = line.strip_prefix("packet,")?.split(',');
        let pts: i64 = fields.next()?.trim().parse().ok()?;
        let duration: i64 = fields.next()?.trim().parse().ok()?;
        // As ffmpeg's subtitle filters hand them to libass: milliseconds.
        let ms = |ts: i64| (ts as i128 * tb.0 as i128 * 1000 / tb.1 as i128) as i64;
        Some(Self { start_ms: ms(pts), end_ms: ms(pts) + ms(duration) })
    }

    /// Whether libass shows it at `now`.
    fn shows_at(&self, now: i64) -> bool {
        self.start_ms <= now && now < self.end_ms
    }
}

/// The stream time base among ffprobe's csv lines (`stream,1/1000`).
pub fn csv_time_base(text: &str) -> Option<(i64, i64)> {
    text.lines().find_map(|line| {
        let (num, den) = line.strip_prefix("stream,")?.trim().split_once('/')?;
        let (num, den) = (num.parse().ok()?, den.parse().ok()?);
        (num > 0 && den > 0).then_some((num, den))
    })
}

/// libass's `now` for a frame at `pts` in the filter's time base `tb`, as
/// ffmpeg's subtitle filters compute it (`pts * av_q2d(tb) * 1000`, in
/// double precision, truncated).
pub fn now_ms(pts: i64, tb: (i64, i64)) -> i64 {
    (pts as f64 * (tb.0 as f64 / tb.1 as f64) * 1000.0) as i64
}

/// The frames of the timeline's selection (indices into `timeline.all`)
/// where a chunk may not start: some event shows there that showed on the
/// frame before, and that another event overlaps.
pub fn held_frames(timeline: &Timeline, events: &[Event]) -> Vec<Range<usize>> {
    if events.is_empty() {
        return Vec::new();
    }
    let selected = timeline.selected.clone();
    let now: Vec<i64> =
        selected.clone().map(|i| now_ms(timeline.shifted(i), timeline.source_tb)).collect();
    let mut held: Vec<Range<usize>> = Vec::new();
    for event in events.iter().filter(|e| overlaps_another(e, events)) {
        // Frames are in presentation order: those showing the event are
        // one run.
        let first = now.partition_point(|&t| t < event.start_ms);
        let end = first + now[first..].partition_point(|&t| event.shows_at(t));
        if end > first + 1 {
            held.push(selected.start + first + 1..selected.start + end);
        }
    }
    held.sort_by_key(|r| r.start);
    held
}

/// The time, in libass's milliseconds, from which ffmpeg alone draws no
/// frame, as the user's `-t`/`-to` bound it (on the input: its frames start
/// at its `-ss`, which the timeline subtracts; on the output: an `-ss` there
/// is refused with subtitles), with a second to spare; `None` without.
/// The container's duration is no bound: a file may hold frames past it.
pub fn horizon_ms(input: Window, output: Window) -> Option<i64> {
    let input_end = input.end().map(|end| end - input.start.unwrap_or(0));
    let end_us = [input_end, output.end()].into_iter().flatten().min()?;
    Some(end_us.max(0) / 1000 + 1000)
}

/// Whether some other event of `events` shows at a time `event` does.
/// `event` is one of `events`, found by address: two equal events overlap.
fn overlaps_another(event: &Event, events: &[Event]) -> bool {
    let visible = |e: &Event| e.start_ms < e.end_ms;
    visible(event)
        && events.iter().any(|other| {
            !std::ptr::eq(other, event)
                && visible(other)
                && other.start_ms < event.end_ms
                && event.start_ms < other.end_ms
        })
}

/// Whether a chunk may start at `frame` (an index into `timeline.all`).
pub fn may_start_at(held: &[Range<usize>], frame: usize) -> bool {
    !held.iter().any(|r| r.contains(&frame))
}

/// The plan's starts (frames from the selection's first, increasing, from
/// 0) with none where a chunk may not start: such a start moves back to
/// the first frame it may, merging with a start there; or, when starts
/// may not move (`fixed`: a segmented output's keyframe grid), it goes.
pub fn starts_outside(
    starts: &[u64],
    held: &[Range<usize>],
    first: usize,
    fixed: bool,
) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::with_capacity(starts.len());
    for &start in starts {
        let mut frame = first + start as usize;
        if fixed && start > 0 && !may_start_at(held, frame) {
            continue;
        }
        while let Some(run) = held.iter().find(|r| r.contains(&frame)) {
            frame = run.start - 1;
        }
        let start = (frame - first) as u64;
        if out.last().is_none_or(|&before| start > before) {
            out.push(start);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_read_in_milliseconds() {
        assert_eq!(
            Event::from_csv("packet,30,190", (1, 100)),
            Some(Event { start_ms: 300, end_ms: 2200 })
        );
        assert_eq!(Event::from_csv("packet,N/A,190", (1, 100)), None);
        assert_eq!(Event::from_csv("stream,1/100", (1, 100)), None);
        assert_eq!(csv_time_base("packet,1,2\nstream,1/1000\n"), Some((1, 1000)));
    }

    #[test]
    fn now_is_truncated_as_ffmpeg_does() {
        assert_eq!(now_ms(37, (1, 25)), 1480);
        // 1/3 s in double precision is just under 333.333...
        assert_eq!(now_ms(1, (1, 3)), 333);
        assert_eq!(now_ms(1001, (1, 30000)), 33);
    }

    #[test]
    fn the_horizon_is_the_earliest_end_the_user_gave() {
        let window = |start, duration, to| Window { start, duration, to };
        assert_eq!(horizon_ms(Window::default(), Window::default()), None);
        // -ss 600 -t 60 on the input: frames from 0 to 60 s.
        let excerpt = window(Some(600_000_000), Some(60_000_000), None);
        assert_eq!(horizon_ms(excerpt, Window::default()), Some(61_000));
        let to = window(Some(600_000_000), None, Some(630_000_000));
        assert_eq!(horizon_ms(to, window(None, Some(10_000_000), None)), Some(11_000));
        assert_eq!(horizon_ms(Window::default(), window(None, None, Some(2_500_000))), Some(3_500));
    }

    #[test]
    fn only_events_that_share_the_screen_hold_frames() {
        let event = |start_ms, end_ms| Event { start_ms, end_ms };
        // One line after the other, touching: none shares the screen.
        let dialogue = [event(0, 1000), event(1000, 2500), event(2600, 4000)];
        assert!(dialogue.iter().all(|e| !overlaps_another(e, &dialogue)));
        // A line over the second: both hold, the others not.
        let collided = [event(0, 1000), event(1000, 2500), event(2400, 3000), event(3000, 4000)];
        let holding: Vec<bool> = collided.iter().map(|e| overlaps_another(e, &collided)).collect();
        assert_eq!(holding, [false, true, true, false]);
        // The same line twice overlaps itself; an empty one shows never.
        let twice = [event(0, 1000), event(0, 1000), event(500, 500)];
        assert!(overlaps_another(&twice[0], &twice) && !overlaps_another(&twice[2], &twice));
    }

    #[test]
    fn a_start_inside_events_moves_back_to_where_they_first_show() {
        // Frames 10..20 held by one event, 15..30 by one that began on 14.
        let held = vec![10..20, 15..30];
        assert!(may_start_at(&held, 9) && may_start_at(&held, 30));
        assert!(!may_start_at(&held, 10) && !may_start_at(&held, 29));
        assert_eq!(starts_outside(&[0, 12, 25, 40], &held, 0, false), [0, 9, 40]);
        assert_eq!(starts_outside(&[0, 12, 25, 40], &held, 0, true), [0, 40]);
        // Starts count from the selection's first frame.
        assert_eq!(starts_outside(&[0, 7], &held, 5, false), [0, 4]);
    }
}
