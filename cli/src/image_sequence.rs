//! Image sequences: `-framerate 24 -i frame_%04d.png`, what a renderer
//! (Blender, Nuke, a compositor) leaves for the encoder. ffmpeg's `image2`
//! demuxer reads the numbered files as the frames of one video stream, every
//! frame a keyframe, at `-framerate` (25 by default) from `-start_number`,
//! and seeks by frame number, so a chunk is cut as from any file: by stream
//! copy of its images into NUT (frame-exact: the seek lands on the frame).
//!
//! A command is one when its input names a sequence as the `image2` demuxer
//! reads it: a printf pattern (`%d`, `%04d`) in a name with an image
//! extension, or a glob with `-pattern_type glob`, or any name with
//! `-f image2`. Its demuxer's options are given to every reader as written.
//! A sequence is not resumable: its files are many, and may be rendered
//! again under the same names. Only images the NUT muxer holds are cut into
//! NUT, TIFF and OpenEXR into MOV ([`chunk_container`]); the rest (BMP, WebP,
//! PPM...) runs through ffmpeg.

use crate::args::{FileArg, Opt};

/// Extensions ffmpeg 5.1's `image2` demuxer reads by name (a subset of
/// `ff_img_tags`: the formats renderers and scanners write).
const IMAGE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "tif", "tiff", "exr", "dpx", "bmp", "tga", "webp", "ppm", "pgm", "pbm",
    "pnm", "jp2", "j2k", "j2c", "qoi", "sgi", "pam",
];

/// Image codecs the NUT muxer holds, so that a chunk's images can be cut
/// by stream copy into the container every chunk's input is.
const IN_NUT: &[&str] = &["png", "mjpeg", "dpx", "targa", "jpeg2000"];

/// Image codecs NUT has no tag for but MOV holds (measured with ffmpeg
/// 5.1), cut into MOV with a movie and track timescale of the sequence's
/// time base, which keeps every timestamp exact (Matroska's 1/1000 s does
/// not: 24000/1001 fps). BMP, WebP, PPM/PAM, SGI and QOI fit neither.
const IN_MOV: &[&str] = &["tiff", "exr"];

/// The container a chunk of a sequence of images coded `codec` (ffprobe's
/// name) is cut into; the error is why it cannot be.
pub fn chunk_container(codec: &str) -> Result<proto::v1::ChunkFormat, String> {
    use proto::v1::ChunkFormat;
    if IN_NUT.contains(&codec) {
        Ok(ChunkFormat::Nut)
    } else if IN_MOV.contains(&codec) {
        Ok(ChunkFormat::Mov)
    } else {
        Err(format!(
            "an image sequence of {codec} is not distributable (its images cannot be cut into chunks)"
        ))
    }
}

/// Whether `input` is read as an image sequence by ffmpeg's `image2`
/// demuxer.
pub fn is_image_sequence(input: &FileArg) -> bool {
    let value = |opt: &Opt| opt.value.clone().unwrap_or_default();
    let format = input.last("f").map(value);
    let pattern_type = input.last("pattern_type").map(value);
    match format.as_deref() {
        Some("image2") => return true,
        Some(_) => return false,
        None => {}
    }
    if !has_image_extension(&input.url) {
        return false;
    }
    match pattern_type.as_deref() {
        Some("glob") => input.url.contains(['*', '?', '[', '{']),
        Some("none") => false,
        _ => has_number_pattern(&input.url),
    }
}

/// Whether `input` names its images by a pattern (`%04d`) or a glob, rather
/// than one file read by `-f image2`, which must be a regular file as any
/// other input (not a FIFO or `/dev/stdin`, which every reader would drain).
pub fn names_many(input: &FileArg) -> bool {
    let glob = input.last("pattern_type").and_then(|o| o.value.as_deref()) == Some("glob");
    is_image_sequence(input)
        && (has_number_pattern(&input.url) || (glob && input.url.contains(['*', '?', '[', '{'])))
}

/// ffmpeg alone's encoder takes its size and pixel format from the first
/// image, and scales later images of another size to it (`-autoscale`) and
/// converts them to its format; a chunk's encoder would take both from the
/// chunk's own first image (measured: a chunk starting on a 160x120 gray
/// image of a sequence that starts with 320x240 RGB came out 160x120
/// yuvj420p). So every chunk is told the first image's: `-s WxH` and
/// `-pix_fmt`, as the trial's output has them, with which the node's ffmpeg
/// inserts the very scale its autoscale would, at the same place (an
/// explicit `scale` filter does not: inside a chunk whose images change,
/// it resized gray images before converting them, where ffmpeg alone does
/// both in one pass, and five frames differed).
pub fn autoscale(job: &mut crate::job::EncodeJob, width: u32, height: u32, pix_fmt: &str) {
    if job.pix_fmt.is_none() {
        job.pix_fmt = Some(pix_fmt.to_string());
    }
    if !job.encoder_options.iter().any(|(name, _)| name == "s") {
        job.encoder_options.push(("s".into(), format!("{width}x{height}")));
    }
}

/// Whether option `opt` of a sequence's input is the `image2` demuxer's
/// and means the same to every reader: its rate, first number and pattern
/// kind (and, as for any file, its threads and queue).
pub fn reader_option(opt: &Opt) -> bool {
    let value = opt.value.as_deref().unwrap_or_default();
    match opt.name.as_str() {
        "f" => value == "image2",
        "framerate" | "start_number" | "threads" | "thread_queue_size" => true,
        "pattern_type" => matches!(value, "sequence" | "glob" | "glob_sequence"),
        _ => false,
    }
}

/// The rate every reader gives a sequence's demuxer (`-framerate`) for the
/// user's `-r R` before its `-i`, or why that would change the output.
///
/// ffmpeg 5.1 reads an input's `-r` in two places: each decoded frame gets
/// its count from 0 as its timestamp, in a time base of 1/R, whatever the
/// demuxer said (`cfr_next_pts`); and, only when `-f` names the demuxer,
/// the demuxer's `framerate` is set to R too. The `image2` demuxer already
/// stamps frame k with k in 1/framerate, so the frames reach the filters
/// exactly as with `-framerate R`: measured byte-identical outputs (MP4,
/// MOV, Matroska, NUT; 10 to 50 fps; with `-vf`, an output `-r`, `fps`, an
/// input `-t`). What tells the two apart:
/// - the demuxer's packet duration, one frame at its own rate F (the
///   user's `-framerate`, else 25), which ffmpeg's frame-rate decision
///   reads for a video without filters ([`frame_duration`]): `-r 50` on
///   25 fps images repeats frames in an MP4 that `-framerate 50` does not,
///   and `-r 15` on them into `-r 10` drops other frames. The durations
///   at F and at R must be the same (a read-only review measured 949
///   combinations of rates, containers and options against this rule);
/// - an input `-ss` or `-itsoffset`, which move the demuxer's timestamps but
///   not the counted ones (measured: the outputs differ).
pub fn rate_as_framerate(
    input: &FileArg,
    output_rate: Option<(i64, i64)>,
) -> Result<Option<String>, String> {
    let value = |opt: &Opt| opt.value.clone().unwrap_or_default();
    let rates: Vec<&Opt> = input.options.iter().filter(|o| o.name == "r").collect();
    let Some(last) = rates.last() else { return Ok(None) };
    if let Some(other) = rates.iter().find(|o| {
        !o.stream_spec().is_ok_and(|s| s == crate::args::StreamSpec::All || s.is_plain_video())
    }) {
        return Err(format!("input {} on an image sequence is not distributable", other.flag()));
    }
    let text = value(last);
    let rate = crate::route::parse_video_rate(&text).ok_or_else(|| {
        format!("input -r {text} is not a rate we parse (N, N/M or a decimal is)")
    })?;
    for moved in ["ss", "itsoffset"] {
        if input.last(moved).is_some() {
            return Err(format!(
                "input -r with -{moved} on an image sequence is not distributable (ffmpeg \
                 counts the frames' times from 0 wherever the input starts)"
            ));
        }
    }
    if input.last("f").is_none_or(|f| value(f) != "image2") {
        let demuxer = match input.last("framerate") {
            Some(opt) => crate::route::parse_video_rate(&value(opt))
                .ok_or_else(|| format!("-framerate {} is not a rate we parse", value(opt)))?,
            None => DEFAULT_RATE,
        };
        let output = output_rate.unwrap_or(rate);
        let same = match (frame_duration(demuxer, rate, output), frame_duration(rate, rate, output))
        {
            (Some((p, q)), Some((r, s))) => p * s == q * r,
            _ => false,
        };
        if !same {
            return Err(format!(
                "input -r {text} on an image sequence read at {}/{} fps is not distributable \
                 (ffmpeg would time its frames by the images' own rate)",
                demuxer.0, demuxer.1
            ));
        }
    }
    Ok(Some(text))
}

/// The `image2` demuxer's rate when no `-framerate` is given.
const DEFAULT_RATE: (i64, i64) = (25, 1);

/// How long ffmpeg 5.1's `do_video_out` takes a frame to last, in output
/// frames (as `p / q`), when its packet came from a demuxer at
/// `packet_rate`, the filters run at `rate` and the output at
/// `output_rate`: the packet's duration in output frames, rounded by
/// `lrintf`, when that is at least one, else its fallback of one frame at
/// `rate` or at the output's rate, the shorter. `None` at an exact half,
/// where the float's own rounding decides.
fn frame_duration(
    packet_rate: (i64, i64),
    rate: (i64, i64),
    output_rate: (i64, i64),
) -> Option<(i128, i128)> {
    let ratio = |of: (i64, i64), per: (i64, i64)| {
        (i128::from(of.0) * i128::from(per.1), i128::from(of.1) * i128::from(per.0))
    };
    // output_rate / packet_rate, as p / q.
    let (p, q) = ratio(output_rate, packet_rate);
    if (2 * p) % q == 0 && (2 * p / q) % 2 == 1 {
        return None;
    }
    let rounded = (2 * p + q) / (2 * q);
    if rounded > 0 {
        return Some((rounded, 1));
    }
    let (p, q) = ratio(output_rate, rate);
    Some(if p < q { (p, q) } else { (1, 1) })
}

/// Whether `url` ends in one of the image extensions (case aside).
fn has_image_extension(url: &str) -> bool {
    std::path::Path::new(url)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Whether `url` holds a printf number pattern as `image2` reads it: `%d`
/// or `%0Nd` (`%%` is a literal percent sign).
fn has_number_pattern(url: &str) -> bool {
    let bytes = url.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            i += 1;
            continue;
        }
        if bytes.get(i + 1) == Some(&b'%') {
            i += 2;
            continue;
        }
        let digits = bytes[i + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
        if bytes.get(i + 1 + digits) == Some(&b'd') {
            return true;
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The input of `ffmpeg OPTIONS -i URL out.mkv`, as the parser reads it.
    fn input(url: &str, options: &[(&str, &str)]) -> FileArg {
        let mut argv: Vec<String> = Vec::new();
        for (name, value) in options {
            argv.extend([format!("-{name}"), value.to_string()]);
        }
        argv.extend(["-i".into(), url.into(), "out.mkv".into()]);
        crate::args::parse(&argv).unwrap().inputs.remove(0)
    }

    #[test]
    fn numbered_names_globs_and_image2_are_sequences() {
        assert!(is_image_sequence(&input("render/frame_%04d.png", &[])));
        assert!(is_image_sequence(&input("shot%d.EXR", &[("framerate", "24")])));
        assert!(is_image_sequence(&input("f_*.png", &[("pattern_type", "glob")])));
        assert!(is_image_sequence(&input("anything", &[("f", "image2")])));
    }

    #[test]
    fn other_names_are_not() {
        assert!(!is_image_sequence(&input("still.png", &[])));
        assert!(!is_image_sequence(&input("100%%.png", &[])));
        assert!(!is_image_sequence(&input("clip_%04d.mkv", &[])));
        assert!(!is_image_sequence(&input("f_%04d.png", &[("pattern_type", "none")])));
        assert!(!is_image_sequence(&input("f_*.png", &[])));
        assert!(!is_image_sequence(&input("f_%04d.png", &[("f", "image2pipe")])));
    }

    #[test]
    fn only_patterns_and_globs_name_many_files() {
        assert!(names_many(&input("f_%04d.png", &[])));
        assert!(names_many(&input("dpx/f%d", &[("f", "image2")])));
        assert!(names_many(&input("f_*.png", &[("pattern_type", "glob")])));
        // One file (or a FIFO) read by image2: a regular file is required.
        assert!(!names_many(&input("/dev/stdin", &[("f", "image2")])));
        assert!(!names_many(&input("still.png", &[("f", "image2")])));
    }

    #[test]
    fn the_demuxers_options_are_the_readers() {
        let opt = |name: &str, value: &str| input("f_%d.png", &[(name, value)]).options.remove(0);
        assert!(reader_option(&opt("framerate", "24000/1001")));
        assert!(reader_option(&opt("start_number", "1001")));
        assert!(reader_option(&opt("pattern_type", "glob")));
        assert!(!reader_option(&opt("pattern_type", "none")));
        assert!(!reader_option(&opt("loop", "1")));
        assert!(!reader_option(&opt("r", "24")));
        assert!(!reader_option(&opt("f", "image2pipe")));
    }

    #[test]
    fn an_input_rate_is_read_as_the_demuxers_where_the_frames_agree() {
        let rate = |options: &[(&str, &str)], output| {
            rate_as_framerate(&input("f_%04d.png", options), output)
        };
        assert_eq!(rate(&[], None), Ok(None));
        assert_eq!(rate(&[("r", "24")], None), Ok(Some("24".into())));
        assert_eq!(rate(&[("r:v", "30000/1001")], None), Ok(Some("30000/1001".into())));
        // 24 fps packets of a 25 fps demuxer: each still one output frame.
        assert_eq!(rate(&[("r", "24")], Some((30, 1))), Ok(Some("24".into())));
        // -f image2 gives the demuxer the rate too.
        assert_eq!(rate(&[("f", "image2"), ("r", "50")], None), Ok(Some("50".into())));
        // 25 fps packets at 50 fps last two frames; 10 fps ones at 24, two.
        assert!(rate(&[("r", "50")], None).unwrap_err().contains("read at 25/1 fps"));
        assert!(rate(&[("framerate", "10"), ("r", "24")], None).is_err());
        assert!(rate(&[("r", "24"), ("ss", "1")], None).unwrap_err().contains("with -ss"));
        assert!(rate(&[("itsoffset", "1"), ("r", "24")], None).is_err());
        assert!(rate(&[("r:a", "24")], None).unwrap_err().contains("-r:a"));
    }

    #[test]
    fn frames_last_as_do_video_out_decides() {
        let r = |n| (n, 1);
        // Packet durations rounded by lrintf, when at least one frame.
        assert_eq!(frame_duration(r(25), r(24), r(24)), Some((1, 1)));
        assert_eq!(frame_duration(r(25), r(50), r(50)), Some((2, 1)));
        assert_eq!(frame_duration(r(10), r(24), r(24)), Some((2, 1)));
        // Else one frame at the filters' rate or the output's, the shorter:
        // -r 15 on 25 fps images into -r 10 (measured: other frames).
        assert_eq!(frame_duration(r(25), r(15), r(10)), Some((10, 15)));
        assert_eq!(frame_duration(r(15), r(15), r(10)), Some((1, 1)));
        assert_eq!(frame_duration(r(25), r(24), r(10)), Some((10, 24)));
        // Exact halves: lrintf's float decides.
        assert_eq!(frame_duration(r(30), r(24), r(15)), None);
        assert_eq!(frame_duration(r(10), r(24), r(35)), None);
    }
}
