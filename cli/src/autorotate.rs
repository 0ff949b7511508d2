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

/// Under `-noautorotate`: no filters, and the output keeps the input's
/// display matrix as ffmpeg alone's does (it copies the input stream's side
/// data to the encoded stream; MP4 and MOV write it, other muxers drop it).
/// The chunks carry no matrix, so the final mux sets it on the copied video,
/// output stream `video_output`, the way `-metadata:s:N rotate=A` sets one:
/// `av_display_rotation_set(-A)`, which yields exactly a matrix of a whole
/// number of degrees. Another matrix (mirrored, scaled, a fraction of a
/// degree) is refused, and so is a matrix into HLS, DASH or segments, whose
/// muxers write the segments' matrices themselves.
pub fn keep(
    job: &mut EncodeJob,
    matrix: Option<&[i32; 9]>,
    video_output: usize,
) -> Result<(), String> {
    job.turn = Vec::new();
    // A graph of several inputs (an overlay's image, audio chains beside
    // the video's) gives its output no source stream in ffmpeg 5.1
    // (`transcode_init`), so nothing is copied to it: no matrix.
    let sourceless =
        job.graph.as_ref().is_some_and(|g| g.overlay.is_some() || !job.audio_chains.is_empty());
    let Some(m) = matrix.filter(|_| !sourceless) else { return Ok(()) };
    let Some(angle) = (0..360).find(|&a| turned(-f64::from(a)) == *m) else {
        return Err("-noautorotate with a display matrix other than a turn by whole degrees \
                    is not distributable"
            .into());
    };
    if angle == 0 {
        return Ok(());
    }
    if job.writes_own_files() {
        return Err(format!(
            "-noautorotate with a display matrix into {} is not distributable yet",
            job.output_format
        ));
    }
    // A user's own `rotate=` on the video is refused (`route`).
    let set = [format!("-metadata:s:{video_output}"), format!("rotate={angle}")];
    job.mux_args.splice(0..0, set);
    Ok(())
}

/// `av_display_rotation_set(angle)`'s matrix: a clockwise turn, which
/// ffprobe shows as a rotation of `-angle`.
fn turned(angle: f64) -> [i32; 9] {
    let radians = -angle * PI / 180.0;
    let fixed = |x: f64| (x * 65536.0) as i32;
    let (c, s) = (radians.cos(), radians.sin());
    [fixed(c), fixed(-s), 0, fixed(s), fixed(c), 0, 0, 0, 1 << 30]
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

    /// `-noautorotate`: the matrix `-metadata:s:N rotate=A` sets, found back.
    #[test]
    fn a_kept_matrix_is_set_again_by_its_angle() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.mov");
        std::fs::write(&input, b"x").unwrap();
        let line =
            format!("-noautorotate -i {} -c:v libx264 -metadata title=x o.mp4", input.display());
        let argv: Vec<String> = line.split(' ').map(String::from).collect();
        let mut job = crate::route::route(&crate::args::parse(&argv).unwrap()).unwrap();
        assert!(!job.autorotate);
        for (angle, expected) in [(-90.0, "rotate=90"), (90.0, "rotate=270"), (-30.0, "rotate=30")]
        {
            let mut kept = job.clone();
            keep(&mut kept, Some(&turned(angle)), 1).unwrap();
            assert_eq!(kept.mux_args[..2], ["-metadata:s:1".to_string(), expected.to_string()]);
            assert_eq!(kept.mux_args[2..], job.mux_args[..]);
        }
        keep(&mut job, None, 0).unwrap();
        let mirrored = [65536, 0, 0, 0, -65536, 0, 0, 0, 1 << 30];
        assert!(keep(&mut job, Some(&mirrored), 0).is_err());
        assert!(keep(&mut job, Some(&turned(12.5)), 0).is_err());
        job.output_format = "hls".into();
        assert!(keep(&mut job, Some(&turned(-90.0)), 0).is_err());
    }
}
