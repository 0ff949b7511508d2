//! drawtext's `timecode` option (`timecode='00\:59\:59;20':rate=30000/1001`),
//! as libavutil reads it (`av_timecode_init_from_string`): hours, minutes,
//! seconds and frames, and the separator before the frames, which asks
//! for drop-frame counting unless it is `:`. The filter shows the timecode
//! of its start plus the frames it has drawn, so a chunk that starts
//! later shows the same timecodes when its start is moved by the frames
//! before it: libavutil counts the start as
//! `(hh*3600 + mm*60 + ss) * fps + ff`, less the dropped frames of the
//! whole minutes `hh:mm`, which the frames field does not change, so adding
//! to `ff` alone moves the start by exactly that many frames, whatever the
//! rate and however it drops.

use std::fmt;

/// A timecode in the plain form both ends of a spec accept: fields of
/// ASCII digits (hours, minutes and seconds of at most two, the frames of
/// at most [`MAX_DIGITS`]), separated by `:`, `:`, and one of `: ; .`
/// before the frames. ffmpeg reads more (signs, spaces, any
/// separator, trailing text); such timecodes are not distributed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timecode {
    /// Hours, minutes, seconds, as written.
    pub hms: [u32; 3],
    /// The separator before the frames: `;` or `.` count drop-frame.
    pub separator: char,
    /// The frames field, which may exceed the rate (libavutil adds it).
    pub frames: u64,
}

/// Digits the frames field (and a `start_number`) may have: enough for any
/// real count, and few enough that one moved by any chunk's start still
/// fits ffmpeg's `int`.
pub const MAX_DIGITS: usize = 9;

impl Timecode {
    /// Reads `text`, or `None` when it is not of the plain form.
    pub fn parse(text: &str) -> Option<Self> {
        let number = |field: &str, digits: usize| {
            (!field.is_empty()
                && field.len() <= digits
                && field.bytes().all(|b| b.is_ascii_digit()))
            .then(|| field.parse::<u64>().ok())
            .flatten()
        };
        let at = text.rfind([':', ';', '.'])?;
        let separator = text[at..].chars().next()?;
        let frames = number(&text[at + 1..], MAX_DIGITS)?;
        let mut fields = text[..at].split(':');
        let mut hms = [0u32; 3];
        for field in &mut hms {
            *field = number(fields.next()?, 2)? as u32;
        }
        fields.next().is_none().then_some(Self { hms, separator, frames })
    }

    /// The timecode whose start is `frames` frames later: the frames field
    /// grown by them (see the module's note), or `None` where it would
    /// overflow the `int` ffmpeg reads it into.
    pub fn later(self, frames: u64) -> Option<Self> {
        let frames = self.frames.checked_add(frames).filter(|f| *f <= i32::MAX as u64)?;
        Some(Self { frames, ..self })
    }
}

impl fmt::Display for Timecode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [h, m, s] = self.hms;
        write!(f, "{h:02}:{m:02}:{s:02}{}{:02}", self.separator, self.frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_plain_forms() {
        let tc = Timecode::parse("00:59:59;20").unwrap();
        assert_eq!(tc, Timecode { hms: [0, 59, 59], separator: ';', frames: 20 });
        assert_eq!(tc.to_string(), "00:59:59;20");
        assert_eq!(Timecode::parse("1:2:3.4").unwrap().to_string(), "01:02:03.04");
        assert_eq!(Timecode::parse("10:00:00:00").unwrap().separator, ':');
        for bad in ["", "00:00:00", "00:00:00:", "00:00:00:0x", " 00:00:00:00", "-1:00:00:00"] {
            assert_eq!(Timecode::parse(bad), None, "{bad}");
        }
        assert_eq!(Timecode::parse("00:00:00:00:00"), None);
        assert_eq!(Timecode::parse("0:0:0:1234567890"), None);
        assert_eq!(Timecode::parse("100:00:00:00"), None);
        assert_eq!(Timecode::parse("00:00:00'00"), None);
    }

    #[test]
    fn a_later_start_grows_the_frames_field() {
        let tc = Timecode::parse("00:00:59;25").unwrap();
        assert_eq!(tc.later(50).unwrap().to_string(), "00:00:59;75");
        assert_eq!(tc.later(i32::MAX as u64), None);
    }
}
