//! ffmpeg's automatic rotation of a video whose container says how to show
//! it (a phone's portrait video carries a display matrix of 90 degrees):
//! ffmpeg alone puts `transpose`, `hflip`/`vflip` or `rotate` before the
//! video's own filters. A chunk's container has no display matrix, so the
//! nodes get those filters in the spec instead, before the job's.

use std::f64::consts::PI;

use crate::job::EncodeJob;

/// Gives the job the filters ffmpeg alone inserts for `matrix`, the video's
/// display matrix (`EncodeJob::turn`), which the spec puts before the job's
/// own and before an overlay.
pub fn apply(job: &mut EncodeJob, matrix: Option<&[i32; 9]>) {
    job.turn = filters(matrix);
}

/// The filters ffmpeg 5.1 inserts for a display matrix, in order
/// (`configure_input_video_filter` in fftools): a quarter turn is a
/// transpose (flipped where the matrix mirrors), a half turn the flips its
/// matrix holds, another angle `rotate`, no turn a `vflip` for a matrix
/// that mirrors vertically.
pub fn filters(matrix: Option<&[i32; 9]>) -> Vec<(String, String)> {
    let Some(m) = matrix else { return Vec::new() };
    let filter = |name: &str, args: &str| (name.to_string(), args.to_string());
    let theta = rotation(m);
    if (theta - 90.0).abs() < 1.0 {
        vec![filter("transpose", if m[3] > 0 { "cclock_flip" } else { "clock" })]
    } else if (theta - 180.0).abs() < 1.0 {
        let mut flips = Vec::new();
        if m[0] < 0 {
            flips.push(filter("hflip", ""));
        }
        if m[4] < 0 {
            flips.push(filter("vflip", ""));
        }
        flips
    } else if (theta - 270.0).abs() < 1.0 {
        vec![filter("transpose", if m[3] < 0 { "clock_flip" } else { "cclock" })]
    } else if theta.abs() > 1.0 {
        vec![filter("rotate", &format!("{theta:.6}*PI/180"))]
    } else if theta.abs() < 1.0 && m[4] < 0 {
        vec![filter("vflip", "")]
    } else {
        Vec::new()
    }
}

/// The angle to turn the picture by, in degrees from 0 up to 360, as
/// fftools' `get_rotation` reads it from `av_display_rotation_get`; NaN for
/// a matrix that scales a side to nothing.
fn rotation(m: &[i32; 9]) -> f64 {
    let fixed = |x: i32| f64::from(x) / 65536.0;
    let scale = [fixed(m[0]).hypot(fixed(m[3])), fixed(m[1]).hypot(fixed(m[4]))];
    if scale[0] == 0.0 || scale[1] == 0.0 {
        return f64::NAN;
    }
    let display = -(fixed(m[1]) / scale[1]).atan2(fixed(m[0]) / scale[0]) * 180.0 / PI;
    let theta = -display.round();
    theta - 360.0 * (theta / 360.0 + 0.9 / 360.0).floor()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `av_display_rotation_set(angle)`'s matrix: a clockwise turn, which
    /// ffprobe shows as a rotation of `-angle`.
    fn turned(angle: f64) -> [i32; 9] {
        let radians = -angle * PI / 180.0;
        let fixed = |x: f64| (x * 65536.0) as i32;
        let (c, s) = (radians.cos(), radians.sin());
        [fixed(c), fixed(-s), 0, fixed(s), fixed(c), 0, 0, 0, 1 << 30]
    }

    #[test]
    fn quarter_and_half_turns_are_transposes_and_flips() {
        let names = |m: &[i32; 9]| filters(Some(m));
        // A phone's portrait video (`-metadata:s:v rotate=90`, which ffprobe
        // shows as a rotation of 90): ffmpeg turns it back.
        assert_eq!(names(&turned(-90.0)), [("transpose".into(), "cclock".into())]);
        assert_eq!(names(&turned(90.0)), [("transpose".into(), "clock".into())]);
        assert_eq!(
            names(&turned(180.0)),
            [("hflip".into(), String::new()), ("vflip".into(), String::new())]
        );
        assert_eq!(names(&turned(45.0)), [("rotate".into(), "45.000000*PI/180".into())]);
        assert_eq!(names(&turned(-45.0)), [("rotate".into(), "315.000000*PI/180".into())]);
        assert!(names(&turned(0.0)).is_empty());
        assert!(filters(None).is_empty());
        // Mirrored vertically, not turned.
        let mirrored = [65536, 0, 0, 0, -65536, 0, 0, 0, 1 << 30];
        assert_eq!(names(&mirrored), [("vflip".into(), String::new())]);
        assert!(names(&[0; 9]).is_empty());
    }
}
