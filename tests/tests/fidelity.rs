//! DESIGN section 3: a lossless distributed encode over two node processes
//! decodes to exactly the frames of plain ffmpeg's output for the same
//! command, with the same streams, start time and duration, and the same
//! audio (with `-c:a copy` the same packets). One test per source class.

use std::path::Path;
use std::process::{Command, Stdio};

use tests::{
    Node, dffmpeg, distributed_encode, ffmpeg, framemd5, plain_encode, probe, seconds,
    segment_listing, stream_set,
};

/// A source, made with lavfi inside the test.
struct Source {
    name: &'static str,
    /// ffmpeg arguments that write the source (after `-y`), ending before
    /// the file name; a `&&` ends a first command, which writes a file of
    /// its own (named with `{dir}`) that the second reads.
    make: &'static [&'static str],
    ext: &'static str,
}

/// Encodes `source` with `encode` (arguments between the input and the
/// output) through plain ffmpeg and through dffmpeg on two nodes, and
/// compares the results.
fn check(source: &Source, encode: &[&str], out_ext: &str) {
    check_with(source, encode, out_ext, true)
}

/// `lossless`: compare decoded frames; otherwise only their timestamps.
fn check_with(source: &Source, encode: &[&str], out_ext: &str, lossless: bool) {
    check_after_input_options(source, &[], encode, out_ext, lossless)
}

/// [`check_with`], with `before` given to the input.
fn check_after_input_options(
    source: &Source,
    before: &[&str],
    encode: &[&str],
    out_ext: &str,
    lossless: bool,
) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join(format!("{}.{}", source.name, source.ext));
    let src_s = src.to_str().unwrap();
    // Side files a source may read, named by `{dir}` in its arguments.
    let dir_s = dir.path().to_str().unwrap();
    std::fs::write(dir.path().join("subs.srt"), SUBTITLES).unwrap();
    std::fs::write(dir.path().join("chapters.txt"), CHAPTERS).unwrap();
    let mut make: Vec<String> = source.make.iter().map(|a| a.replace("{dir}", dir_s)).collect();
    if let Some(and) = make.iter().position(|a| a == "&&") {
        ffmpeg(&make[..and].iter().map(String::as_str).collect::<Vec<_>>());
        make.drain(..=and);
    }
    make.push(src_s.to_string());
    ffmpeg(&make.iter().map(String::as_str).collect::<Vec<_>>());
    let encode = side_inputs(dir.path(), encode);
    let encode: &[&str] = &encode.iter().map(String::as_str).collect::<Vec<_>>();

    // Apart, as HLS and DASH write segments named alike beside the output.
    let (plain, dist) = (dir.path().join("plain"), dir.path().join("dist"));
    std::fs::create_dir(&plain).unwrap();
    std::fs::create_dir(&dist).unwrap();
    let (plain, dist) = (plain.join(format!("out.{out_ext}")), dist.join(format!("out.{out_ext}")));
    plain_encode(before, &src, encode, &plain);

    let (a, b) = (Node::start(1), Node::start(1));
    let extra = ["-loglevel", "verbose", "--segment-duration", "0.5"];
    let stderr = distributed_encode(&[&a, &b], &extra, before, &src, encode, &dist);
    assert!(stderr.contains("on 2 nodes"), "{} was not distributed: {stderr}", source.name);
    assert!(a.leftovers().is_empty() && b.leftovers().is_empty(), "nodes left chunk files behind");

    let frames = |file: &Path| {
        let text = framemd5(file, "0:v", false);
        if lossless {
            return text;
        }
        // Lossy: the timestamps and sizes of decoded frames, not their pixels.
        text.lines()
            .map(|l| l.rsplit_once(',').map_or(l, |(head, _)| head).to_string() + "\n")
            .collect()
    };
    assert_eq!(frames(&dist), frames(&plain), "{}: video frames differ", source.name);
    // Segments are cut at keyframes: the same cuts, the same playlist.
    assert_eq!(
        segment_listing(&dist),
        segment_listing(&plain),
        "{}: the playlists differ",
        source.name
    );
    let (p, d) = (probe(&plain), probe(&dist));
    assert_eq!(stream_set(&d), stream_set(&p), "{}: streams differ", source.name);
    let audio_copied = encode.windows(2).any(|w| w == ["-c:a", "copy"]);
    let streams = p["streams"].as_array().unwrap();
    for (i, s) in streams.iter().enumerate() {
        // Copied audio is the source's packets; encoded audio is the same
        // samples through the same encoder, in the final mux: its frames too.
        if s["codec_type"] == "audio" {
            let map = format!("0:{i}");
            assert_eq!(
                framemd5(&dist, &map, audio_copied),
                framemd5(&plain, &map, audio_copied),
                "{}: audio differs",
                source.name
            );
        }
    }
    let frame = 1.0 / 23.0;
    let (pd, dd) = (seconds(&p["format"]["duration"]), seconds(&d["format"]["duration"]));
    assert!((pd - dd).abs() <= frame, "{}: duration {dd} vs ffmpeg's {pd}", source.name);
    assert_eq!(
        d["format"]["start_time"], p["format"]["start_time"],
        "{}: start time differs",
        source.name
    );
    let starts = |p: &serde_json::Value| {
        let streams = p["streams"].as_array().unwrap();
        streams.iter().map(|s| s["start_time"].clone()).collect::<Vec<_>>()
    };
    assert_eq!(starts(&d), starts(&p), "{}: stream start times differ", source.name);
    let _ = std::fs::remove_dir_all(dir.path().join("none"));
    assert!(Path::new(&dist).is_file());
}

/// Runs `before -i src encode` through ffmpeg into `dir/plain.EXT` and
/// through dffmpeg on `node` into `dir/dist.EXT`, and checks that dffmpeg
/// ran it with ffmpeg, saying why (`reason`, as `-v verbose` begins it),
/// and wrote ffmpeg alone's frames.
fn assert_falls_back(
    node: &Node,
    dir: &Path,
    before: &[&str],
    src: &Path,
    encode: &[&str],
    ext: &str,
    reason: &str,
) {
    let (plain, dist) = (dir.join(format!("plain.{ext}")), dir.join(format!("dist.{ext}")));
    plain_encode(before, src, encode, &plain);
    let extra = ["-v", "verbose", "--segment-duration", "0.4"];
    let stderr = distributed_encode(&[node], &extra, before, src, encode, &dist);
    assert!(stderr.contains(&format!("running with ffmpeg: {reason}")), "{stderr}");
    assert_eq!(framemd5(&dist, "0:v", false), framemd5(&plain, "0:v", false), "{reason}");
}

/// `source`, made as `name` in `dir`.
fn made(source: &Source, dir: &Path, name: &str) -> std::path::PathBuf {
    let src = dir.join(name);
    let mut make: Vec<&str> = source.make.to_vec();
    make.push(src.to_str().unwrap());
    ffmpeg(&make);
    src
}

/// Makes the second inputs an encode names as `{dir}/NAME` (`SIDE_INPUTS`)
/// in `dir`, and gives back the encode with `{dir}` filled in.
fn side_inputs(dir: &Path, encode: &[&str]) -> Vec<String> {
    let dir_s = dir.to_str().unwrap();
    if encode.iter().any(|a| a.contains("grade.cube")) {
        std::fs::write(dir.join("grade.cube"), tests::grade_lut()).unwrap();
    }
    if encode.iter().any(|a| a.contains("font.ttf")) {
        tests::copy_font(&dir.join("font.ttf"));
    }
    if encode.iter().any(|a| a.contains("styled.srt")) {
        std::fs::write(dir.join("styled.srt"), STYLED_SRT).unwrap();
        std::fs::write(dir.join("styled.ass"), STYLED_ASS).unwrap();
    }
    for (name, side) in SIDE_INPUTS {
        if encode.iter().any(|a| a.contains(name)) {
            let mut args: Vec<String> = side.iter().map(|a| a.replace("{dir}", dir_s)).collect();
            args.push(dir.join(name).to_string_lossy().into_owned());
            ffmpeg(&args.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }
    encode.iter().map(|a| a.replace("{dir}", dir_s)).collect()
}

/// An encode that runs through ffmpeg for `source`, saying `reason` at
/// `-v verbose`: the output is ffmpeg's own, and where ffmpeg fails (a
/// graph that reads audio from a source without any), dffmpeg fails alike.
fn check_fallback(source: &Source, encode: &[&str], out_ext: &str, reason: &str) {
    check_fallback_after(source, &[], encode, out_ext, reason)
}

/// [`check_fallback`], with `before` given to the input.
fn check_fallback_after(
    source: &Source,
    before: &[&str],
    encode: &[&str],
    out_ext: &str,
    reason: &str,
) {
    let dir = tempfile::tempdir().unwrap();
    let src = made(source, dir.path(), &format!("{}.{}", source.name, source.ext));
    let plain = dir.path().join(format!("plain.{out_ext}"));
    let dist = dir.path().join(format!("dist.{out_ext}"));
    let encode = side_inputs(dir.path(), encode);
    let encode: &[&str] = &encode.iter().map(String::as_str).collect::<Vec<_>>();
    let alone = Command::new("ffmpeg")
        .args(["-nostdin", "-y"])
        .args(before)
        .args(["-i", src.to_str().unwrap()])
        .args(encode)
        .arg(&plain)
        .output()
        .unwrap();
    let node = Node::start(1);
    let extra = ["-y", "-loglevel", "verbose", "--segment-duration", "0.5"];
    let args: Vec<&str> = extra
        .iter()
        .copied()
        .chain(before.iter().copied())
        .chain(["-i", src.to_str().unwrap()])
        .chain(encode.iter().copied())
        .chain([dist.to_str().unwrap()])
        .collect();
    let ours = dffmpeg(&[&node], &args);
    let stderr = String::from_utf8_lossy(&ours.stderr);
    let said = format!("running with ffmpeg: {reason}");
    assert!(stderr.contains(&said), "{}: expected '{said}' in {stderr}", source.name);
    assert_eq!(ours.status.code(), alone.status.code(), "{}: {stderr}", source.name);
    // What ffmpeg writes may not decode (x265 into Matroska with no frame
    // at all): the same number of bytes, as ffmpeg wrote them.
    let size = |file: &Path| std::fs::metadata(file).map(|m| m.len()).ok();
    if out_ext == "m3u8" {
        // A playlist names its segments after itself.
        let text = |file: &Path| std::fs::read_to_string(file).ok();
        let ours = text(&dist).map(|t| t.replace("dist", "plain"));
        assert_eq!(ours, text(&plain), "{}", source.name);
    } else {
        assert_eq!(size(&dist), size(&plain), "{}", source.name);
    }
}

/// Files a second `-i` may read, made when an encode names them: name,
/// then the ffmpeg arguments that write it.
const SIDE_INPUTS: &[(&str, &[&str])] = &[
    ("tone.wav", &["-f", "lavfi", "-i", "sine=frequency=600:duration=2.5", "-c:a", "pcm_s16le"]),
    ("tone.m4a", &["-f", "lavfi", "-i", "sine=frequency=700:duration=3.5", "-c:a", "aac"]),
    (
        "tagged.mkv",
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=duration=1",
            "-i",
            "{dir}/chapters.txt",
            "-map",
            "0",
            "-map_metadata",
            "1",
            "-map_chapters",
            "1",
            "-c:a",
            "flac",
        ],
    ),
    // A moving picture, for picture in picture.
    ("moving.mkv", &["-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25:duration=2"]),
    // An animated GIF: several images.
    ("animated.gif", &["-f", "lavfi", "-i", "testsrc2=size=48x32:rate=10:duration=1"]),
    // A logo with graded transparency, so that the overlay blends.
    (
        "logo.png",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=48x32,format=rgba,geq=r='r(X,Y)':g='g(X,Y)':b='b(X,Y)':a='X*5'",
            "-frames:v",
            "1",
        ],
    ),
];

const SUBTITLES: &str = "1\n00:00:00,200 --> 00:00:01,000\nFirst line\n\n2\n00:00:01,500 --> 00:00:02,400\nSecond line\n";
const CHAPTERS: &str = ";FFMETADATA1\ntitle=With chapters\nartist=dffmpeg tests\n\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1500\ntitle=Opening\n\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=1500\nEND=3000\ntitle=Ending\n";

const X264_LOSSLESS: &[&str] = &["-c:v", "libx264", "-qp", "0", "-c:a", "copy"];
/// `args` (inputs, filters), then x264 lossless with the audio copied.
macro_rules! x264_lossless_after {
    ($($args:expr),*) => {
        &[$($args,)* "-c:v", "libx264", "-qp", "0", "-c:a", "copy"]
    };
}
const X264_LOSSLESS_AAC: &[&str] = &["-c:v", "libx264", "-qp", "0", "-c:a", "aac"];
const X264_LOSSLESS_MP3: &[&str] = &["-c:v", "libx264", "-qp", "0", "-c:a", "libmp3lame"];
/// x264 lossless with a keyframe every 12 frames and no scene cuts, as HLS
/// and DASH recipes write it, then the muxer's own options.
macro_rules! x264_lossless_grid {
    ($($muxer:expr),*) => {
        &["-c:v", "libx264", "-qp", "0", "-g", "12", "-sc_threshold", "0", "-c:a", "aac", $($muxer),*]
    };
}
const X264_LOSSLESS_HLS: &[&str] =
    x264_lossless_grid!("-hls_time", "1", "-hls_playlist_type", "vod");
/// HLS as Jellyfin writes it, with `-copyts -start_at_zero`: where the
/// video starts after the audio (AAC's priming in Matroska), ffmpeg alone
/// keeps its late first frame where it is instead of repeating it from 0.
const X264_LOSSLESS_HLS_COPYTS: &[&str] = &[
    "-copyts",
    "-start_at_zero",
    "-c:v",
    "libx264",
    "-qp",
    "0",
    "-g",
    "12",
    "-sc_threshold",
    "0",
    "-c:a",
    "aac",
    "-hls_time",
    "1",
    "-hls_playlist_type",
    "vod",
];
/// DASH likewise, in fragmented MP4 segments.
const X264_LOSSLESS_DASH: &[&str] = x264_lossless_grid!("-seg_duration", "1");
const FFV1: &[&str] = &["-c:v", "ffv1", "-c:a", "copy"];
const THROUGH_A_GRAPH: &[&str] = x264_lossless_after!("-filter_complex", "hflip,vflip");
/// A graph with a chain on the audio too, as media servers write it: the
/// nodes run the video's, the final mux the audio's.
const THROUGH_A_GRAPH_WITH_AUDIO: &[&str] = &[
    "-filter_complex",
    "[0:v]hflip[v];[0:a]volume=0.5,aresample=48000[a]",
    "-map",
    "[v]",
    "-map",
    "[a]",
    "-c:v",
    "libx264",
    "-qp",
    "0",
    "-c:a",
    "aac",
];
/// Expressions with commas, quoted and escaped as people write them, and a
/// filter switched on for a time (`enable`): the nodes get the arguments
/// as ffmpeg's option parser reads them, and escape the commas again.
const THROUGH_EXPRESSIONS: &[&str] = x264_lossless_after!(
    "-vf",
    "scale='min(96,iw)':-2,hue=s=0:enable='between(t,0.3,1.1)',crop=w=trunc(min(iw\\,80)/2)*2"
);
/// A logo drawn over the video (`-i logo.png`, scaled first), as render
/// farms watermark: every chunk gets the image and runs the same graph.
const WITH_A_LOGO: &[&str] = x264_lossless_after!(
    "-i",
    "{dir}/logo.png",
    "-filter_complex",
    "[1:v]scale=40:-1[logo];[0:v][logo]overlay=W-w-8:H-h-8"
);
/// The logo looped into a stream of its own (`-loop 1`), which the overlay
/// ends with the video (`shortest=1`), as watermark recipes write it: the
/// nodes get the single image, which the loop only repeats.
const WITH_A_LOOPED_LOGO: &[&str] = x264_lossless_after!(
    "-loop",
    "1",
    "-i",
    "{dir}/logo.png",
    "-filter_complex",
    "[1:v]scale=40:-1[logo];[0:v][logo]overlay=W-w-8:H-h-8:shortest=1"
);
/// A logo shown for a time (`enable`), as timed watermarks and lower thirds
/// are written: the window opens and closes inside chunks, and chunks
/// start inside it (the nodes fold `enable` into the overlay's `x`).
const WITH_A_TIMED_LOGO: &[&str] = x264_lossless_after!(
    "-i",
    "{dir}/logo.png",
    "-filter_complex",
    "[1:v]scale=40:-1[logo];[0:v][logo]overlay=W-w-8:H-h-8:enable='between(t,0.7,1.9)'"
);
/// A grading LUT (`lut3d`, interpolated), as colourists hand them to
/// render farms, then a fade from black and one to white, by time, and
/// two by frame count: the nodes get the LUT's bytes with every chunk,
/// each frame fades by its own time, wherever its chunk starts, and each
/// chunk is told where the frame count stands (`fade::for_chunk`).
const THROUGH_A_LUT: &[&str] = x264_lossless_after!(
    "-vf",
    "lut3d={dir}/grade.cube:interp=trilinear,fade=t=in:st=0.3:d=0.9,\
     fade=t=out:st=1.4:d=0.5:c=white,fade=in:3:10:c=blue,fade=out:30:8:c=red,format=yuv420p"
);
/// Text burnt into the picture (`drawtext`: a running time and the frame
/// number in a box, moving with the frame number, and a drop-frame
/// timecode that crosses a minute), as dailies and review copies carry
/// it: the font travels with each chunk, each frame shows its own time,
/// and each chunk counts frames on from the frames before it.
const WITH_BURNT_IN_TEXT: &[&str] = x264_lossless_after!(
    "-vf",
    "drawtext=fontfile={dir}/font.ttf:text='Take 3\\: %{pts\\:hms} #%{n}':start_number=1:\
     fontsize=12:fontcolor=white@0.8:box=1:boxcolor=black@0.4:x=(w-text_w)/2:y=h-th-2-n/25,\
     drawtext=fontfile={dir}/font.ttf:timecode='00\\:00\\:59;25':rate=30000/1001:fontsize=10:\
     fontcolor=yellow:x=2:y=2,format=yuv420p"
);
/// Subtitles burnt into the picture (`subtitles=film.srt`, `ass=styled.ass`),
/// as a release with hard subtitles carries them: the subtitle files and
/// the fonts libass picks here (`Arial` is DejaVu Sans here; italic, bold,
/// a serif title style, a `\fn` face) travel with each chunk, and every
/// frame shows the events of its own time (a fade, a move, karaoke). A
/// line that appears while another shows goes above it and stays there:
/// no chunk starts while it shows.
const WITH_BURNT_IN_SUBTITLES: &[&str] = x264_lossless_after!(
    "-vf",
    "subtitles={dir}/styled.srt:force_style='Fontsize=18,PrimaryColour=&H0000FFFF&',\
     ass=filename={dir}/styled.ass,format=yuv420p"
);
/// The `.srt` of [`WITH_BURNT_IN_SUBTITLES`]: the second line collides
/// with the first.
const STYLED_SRT: &str = "1\n00:00:00,100 --> 00:00:00,900\nPlain, then <i>italic</i>\n\n\
    2\n00:00:00,700 --> 00:00:01,300\n<b>Bold</b> over two lines\nand <i><b>both</b></i>\n\n\
    3\n00:00:02,100 --> 00:00:02,400\nÉtoile, ñandú, Ærø\n";
/// The `.ass` of [`WITH_BURNT_IN_SUBTITLES`].
const STYLED_ASS: &str = "[Script Info]\nScriptType: v4.00+\nPlayResX: 320\nPlayResY: 240\n\n\
    [V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, \
    BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, \
    Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n\
    Style: Default,Arial,16,&H00FFFFFF,&H000000FF,&H00000000,&H80000000,0,0,0,0,100,100,0,0,1,1,1,2,10,10,10,1\n\
    Style: Title,DejaVu Serif,22,&H0000FF00,&H000000FF,&H00000000,&H80000000,-1,0,0,0,100,100,0,0,1,2,0,8,10,10,10,1\n\n\
    [Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n\
    Dialogue: 0,0:00:00.00,0:00:00.50,Title,,0,0,0,,{\\fad(200,200)}A title that fades\n\
    Dialogue: 0,0:00:01.50,0:00:02.00,Default,,0,0,0,,{\\move(10,60,200,120)\\fnDejaVu Sans Mono}moving mono\n\
    Dialogue: 0,0:00:02.20,0:00:02.80,Default,,0,0,0,,{\\k10}ka{\\k10}ra{\\k20}o{\\k20}ke\n";
/// Why a graph on audio runs through ffmpeg for a source without audio
/// (where ffmpeg then fails: "matches no streams").
const NO_AUDIO: &str = "-filter_complex reads [0:a:0], which names no stream";
/// `-vf fps` decides per output slot, from the frames around it: chunks end
/// on its grid, and each sees the next chunk's first frame.
const FPS_24: &[&str] = &["-vf", "fps=24", "-c:v", "ffv1", "-c:a", "copy"];
/// Output `-r`: ffmpeg drops and repeats frames with state that spans the
/// whole run, which the coordinator replays and each chunk carries out.
const RATE_24: &[&str] = &["-r", "24", "-c:v", "ffv1", "-c:a", "copy"];

/// Output `-ss` with x265's B-pyramid (x264's lossless mode has no
/// B-frames): its first packets decode before the first frame, so before
/// `-ss` on the final mux's clock, which drops such copied packets unless
/// the video is read late and set back (`assemble::decode_lead_shift`).
/// The start lies between frames; `-t` ends between frames too.
const X265_LOSSLESS_AFTER_SEEK: &[&str] = &[
    "-ss",
    "0.7",
    "-t",
    "1.63",
    "-c:v",
    "libx265",
    "-x265-params",
    "lossless=1:log-level=error",
    "-c:a",
    "aac",
];
/// The same into MP4 and MPEG-TS, whose decode timestamps are written:
/// audio from Matroska sources goes through tee there (see `assemble`),
/// where `setts` counts in ticks of the video's rate.
const X265_LOSSLESS_AFTER_SEEK_DTS: &[&str] = &[
    "-ss",
    "0.7",
    "-t",
    "1.63",
    "-c:v",
    "libx265",
    "-x265-params",
    "lossless=1:log-level=error",
    "-c:a",
    "aac",
];

/// One test module: every source of [`sources!`] encoded with `$encode`
/// into a `$out` file.
/// `falls_back` names the sources such an encode runs through ffmpeg for,
/// and the reason `-v verbose` must give.
macro_rules! suite {
    ($(#[$doc:meta])* $module:ident, $encode:expr, $out:expr,
     $(falls_back: { $($fallback:ident: $reason:expr),* $(,)? },)?
     { $($name:ident: [$($arg:expr),* $(,)?] => $ext:expr;)* }) => {
        $(#[$doc])*
        mod $module {
            use super::*;
            const FALLS_BACK: &[(&str, &str)] = &[$($((stringify!($fallback), $reason)),*)?];
            $(#[test] fn $name() {
                let source = Source { name: stringify!($name), make: &[$($arg),*], ext: $ext };
                match FALLS_BACK.iter().find(|(name, _)| *name == source.name) {
                    Some((_, reason)) => check_fallback(&source, $encode, $out, reason),
                    None => check(&source, $encode, $out),
                }
            })*
        }
    };
}

macro_rules! sources {
    ($($sources:tt)*) => {
        suite!(x264_lossless, X264_LOSSLESS, "mkv", { $($sources)* });
        suite!(ffv1, FFV1, "mkv", { $($sources)* });
        suite!(
            /// MPEG-TS writes decode timestamps and moves x264's headers in-band.
            x264_lossless_into_mpegts, X264_LOSSLESS, "ts", { $($sources)* }
        );
        suite!(
            /// FLV writes decode timestamps too, in milliseconds; it holds few
            /// audio codecs, so the audio is encoded.
            x264_lossless_into_flv, X264_LOSSLESS_AAC, "flv", { $($sources)* }
        );
        suite!(
            /// AVI: no presentation timestamps, frames in decode order.
            x264_lossless_into_avi, X264_LOSSLESS_MP3, "avi", { $($sources)* }
        );
        suite!(
            /// HLS: MPEG-TS segments cut at keyframes, which chunks must not add.
            x264_lossless_into_hls, X264_LOSSLESS_HLS, "m3u8", { $($sources)* }
        );
        suite!(
            x264_lossless_into_hls_with_copyts, X264_LOSSLESS_HLS_COPYTS, "m3u8",
            falls_back: { mpegts_nonzero_start: "-copyts on mpegts is not reproduced yet" },
            { $($sources)* }
        );
        suite!(
            /// DASH: fragmented MP4 segments cut at keyframes.
            x264_lossless_into_dash, X264_LOSSLESS_DASH, "mpd", { $($sources)* }
        );
        suite!(
            /// A `-filter_complex` chain, unlabeled: its output replaces the
            /// automatic video, without the source's tags and disposition.
            x264_lossless_through_a_graph, THROUGH_A_GRAPH, "mkv", { $($sources)* }
        );
        suite!(
            x265_lossless_after_output_seek, X265_LOSSLESS_AFTER_SEEK, "mkv",
            falls_back: { single_frame: "no video frames to encode" },
            { $($sources)* }
        );
        suite!(
            x265_lossless_after_output_seek_into_mp4, X265_LOSSLESS_AFTER_SEEK_DTS, "mp4",
            falls_back: { single_frame: "no video frames to encode" },
            { $($sources)* }
        );
        suite!(
            x265_lossless_after_output_seek_into_mpegts, X265_LOSSLESS_AFTER_SEEK_DTS, "ts",
            falls_back: {
                single_frame: "no video frames to encode",
                odd_rate_26_777: "output -ss with libx265 B-frames into mpegts is not reproduced yet \
                    (with -t/-to at 26777/1000 fps, whose ticks there are 1000000 us)",
            },
            { $($sources)* }
        );
        suite!(
            x264_lossless_through_a_graph_with_audio, THROUGH_A_GRAPH_WITH_AUDIO, "mkv",
            falls_back: {
                rawvideo_nut: NO_AUDIO,
                variable_frame_rate: NO_AUDIO,
                odd_rate_26_777: NO_AUDIO,
                single_frame: NO_AUDIO,
                length_on_chunk_boundary: NO_AUDIO,
                odd_dimensions: NO_AUDIO,
            },
            { $($sources)* }
        );
        suite!(
            x264_lossless_through_a_graph_with_audio_into_mp4, THROUGH_A_GRAPH_WITH_AUDIO, "mp4",
            falls_back: {
                rawvideo_nut: NO_AUDIO,
                variable_frame_rate: NO_AUDIO,
                odd_rate_26_777: NO_AUDIO,
                single_frame: NO_AUDIO,
                length_on_chunk_boundary: NO_AUDIO,
                odd_dimensions: NO_AUDIO,
            },
            { $($sources)* }
        );
        suite!(x264_lossless_through_expressions, THROUGH_EXPRESSIONS, "mkv", { $($sources)* });
        suite!(x264_lossless_with_a_logo, WITH_A_LOGO, "mkv", { $($sources)* });
        suite!(x264_lossless_with_a_looped_logo, WITH_A_LOOPED_LOGO, "mkv", { $($sources)* });
        suite!(x264_lossless_with_a_timed_logo, WITH_A_TIMED_LOGO, "mkv", { $($sources)* });
        suite!(x264_lossless_through_a_lut, THROUGH_A_LUT, "mkv", { $($sources)* });
        suite!(x264_lossless_with_burnt_in_text, WITH_BURNT_IN_TEXT, "mkv", { $($sources)* });
        suite!(
            x264_lossless_with_burnt_in_subtitles, WITH_BURNT_IN_SUBTITLES, "mkv",
            { $($sources)* }
        );
        suite!(fps_filter, FPS_24, "mkv", { $($sources)* });
        suite!(output_rate, RATE_24, "mkv", { $($sources)* });
    };
}

sources! {
    h264_open_gop_b_frames: ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=3", "-f", "lavfi", "-i", "sine=frequency=440:duration=3",
        "-c:v", "libx264", "-bf", "3", "-g", "30", "-x264-params", "open-gop=1", "-c:a", "aac"] => "mkv";
    h264_long_gop_ntsc_mp4: ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30000/1001:duration=11", "-f", "lavfi", "-i", "sine=duration=11",
        "-c:v", "libx264", "-g", "600", "-keyint_min", "600", "-sc_threshold", "0", "-c:a", "aac"] => "mp4";
    mpeg4_avi_packed_b_frames: ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=3", "-f", "lavfi", "-i", "sine=duration=3",
        "-c:v", "mpeg4", "-bf", "2", "-g", "25", "-c:a", "libmp3lame"] => "avi";
    mpegts_nonzero_start: ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=3", "-f", "lavfi", "-i", "sine=duration=3",
        "-c:v", "libx264", "-bf", "2", "-g", "20", "-c:a", "ac3"] => "ts";
    hevc_10bit_b_frames: ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=2", "-f", "lavfi", "-i", "sine=duration=2",
        "-c:v", "libx265", "-pix_fmt", "yuv420p10le", "-x265-params", "bframes=4:keyint=20:log-level=error", "-c:a", "aac"] => "mkv";
    vp9_webm: ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=2", "-f", "lavfi", "-i", "sine=duration=2",
        "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-g", "20", "-c:a", "libopus"] => "webm";
    mjpeg_intra: ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=2", "-f", "lavfi", "-i", "sine=duration=2",
        "-c:v", "mjpeg", "-c:a", "pcm_s16le"] => "avi";
    rawvideo_nut: ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=2", "-c:v", "rawvideo", "-pix_fmt", "yuv420p"] => "nut";
    variable_frame_rate: ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30:duration=3", "-vf", "select='not(between(n,20,35))*not(between(n,50,52))'",
        "-fps_mode", "vfr", "-c:v", "libx264", "-bf", "2"] => "mkv";
    odd_rate_26_777: ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=26.777:duration=3", "-c:v", "libx264"] => "mkv";
    single_frame: ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-frames:v", "1", "-c:v", "libx264"] => "mkv";
    length_on_chunk_boundary: ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=24:duration=2", "-c:v", "libx264"] => "mkv";
    odd_dimensions: ["-f", "lavfi", "-i", "testsrc2=size=319x239:rate=25:duration=2", "-c:v", "libx264", "-pix_fmt", "yuv444p"] => "mkv";
    several_audio_tracks_and_subtitles: ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=3",
        "-f", "lavfi", "-i", "sine=frequency=300:duration=3", "-f", "lavfi", "-i", "sine=frequency=500:duration=2.97",
        "-map", "0", "-map", "1", "-map", "2", "-map", "1",
        "-c:v", "libx264", "-c:a:0", "aac", "-c:a:1", "ac3", "-c:a:2", "libmp3lame",
        "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra", "-metadata", "title=Several"] => "mkv";
    video_shorter_than_audio: ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=2", "-f", "lavfi", "-i", "sine=duration=3",
        "-c:v", "libx264", "-c:a", "aac"] => "mkv";
    video_longer_than_audio: ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=3", "-f", "lavfi", "-i", "sine=duration=1.5",
        "-c:v", "libx264", "-c:a", "aac"] => "mkv";
}

/// MPEG-TS with B-frames, a keyframe every 20 frames and AC-3 audio that
/// starts a little before the video.
const TRANSPORT_STREAM: Source = Source {
    name: "ts",
    make: &[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x120:rate=25:duration=3",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=3",
        "-c:v",
        "libx264",
        "-bf",
        "2",
        "-g",
        "20",
        "-c:a",
        "ac3",
    ],
    ext: "ts",
};

/// An MPEG program stream (a DVD's `.vob`, an `.mpg`) of MPEG-2 with
/// B-frames: a packet of the container that holds several frames gives a
/// timestamp to the first only, which ffmpeg alone's decoder fills in.
const PROGRAM_STREAM: Source = Source {
    name: "vob",
    make: &[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25:duration=4",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=4",
        "-c:v",
        "mpeg2video",
        "-bf",
        "2",
        "-g",
        "12",
        "-c:a",
        "mp2",
        "-f",
        "vob",
    ],
    ext: "vob",
};

const OPEN_GOP: Source = Source {
    name: "open_gop",
    make: &[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25:duration=3",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=3",
        "-c:v",
        "libx264",
        "-bf",
        "3",
        "-g",
        "30",
        "-x264-params",
        "open-gop=1",
        "-c:a",
        "aac",
    ],
    ext: "mkv",
};
const OPEN_GOP_MP4: Source = Source { name: "open_gop_mp4", ext: "mp4", ..OPEN_GOP };

/// An MP4 cut with `-ss` and `-c copy`, as trimming tools write them: its
/// edit list starts after a keyframe, whose GOP up to the cut the demuxer
/// flags discarded (decoded for the frames after it, shown by no one), at
/// negative timestamps; the AAC track's edit list cuts its first frame.
const CUT_MP4: Source = Source {
    name: "cut_mp4",
    make: &[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25:duration=4",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=4",
        "-c:v",
        "libx264",
        "-bf",
        "2",
        "-g",
        "25",
        "-c:a",
        "aac",
        "{dir}/uncut.mp4",
        "&&",
        "-ss",
        "1.3",
        "-i",
        "{dir}/uncut.mp4",
        "-c",
        "copy",
    ],
    ext: "mp4",
};

/// The same cut of HEVC with B-frames in a MOV, as a camera's file trimmed.
const CUT_HEVC_MOV: Source = Source {
    name: "cut_hevc_mov",
    make: &[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x120:rate=30000/1001:duration=4",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=4",
        "-c:v",
        "libx265",
        "-x265-params",
        "bframes=4:keyint=30:log-level=error",
        "-tag:v",
        "hvc1",
        "-c:a",
        "pcm_s16le",
        "{dir}/uncut.mov",
        "&&",
        "-ss",
        "2.1",
        "-i",
        "{dir}/uncut.mov",
        "-c",
        "copy",
    ],
    ext: "mov",
};
const LONG_GOP_NTSC: Source = Source {
    name: "long_gop_ntsc",
    make: &[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x120:rate=30000/1001:duration=11",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=11",
        "-c:v",
        "libx264",
        "-g",
        "600",
        "-keyint_min",
        "600",
        "-sc_threshold",
        "0",
        "-c:a",
        "aac",
    ],
    ext: "mp4",
};

/// Streams from a second (and third) input beside the encoded video: the
/// final mux opens those inputs as ffmpeg alone does, with their options.
mod several_inputs {
    use super::*;

    #[test]
    fn pcm_audio_from_a_wav_copied_into_matroska() {
        let encode = ["-i", "{dir}/tone.wav", "-map", "0:v", "-map", "1:a"];
        check(&OPEN_GOP, &[&encode[..], X264_LOSSLESS].concat(), "mkv");
    }

    /// A tone mixed under the source's audio (which the final mux runs, over
    /// whole streams): the encoded audio must be ffmpeg's, frame for frame.
    #[test]
    fn audio_of_two_inputs_mixed_by_the_graph() {
        let encode = [
            "-i",
            "{dir}/tone.wav",
            "-filter_complex",
            "[0:a][1:a]amix=inputs=2:duration=shortest,volume=1.5[a]",
            "-map",
            "0:v",
            "-map",
            "[a]",
            "-c:v",
            "libx264",
            "-qp",
            "0",
            "-c:a",
            "aac",
        ];
        check(&OPEN_GOP, &encode, "mkv");
        check(&OPEN_GOP_MP4, &encode, "mp4");
    }

    #[test]
    fn offset_aac_from_an_m4a_copied_into_mp4_beside_the_sources() {
        let encode = ["-itsoffset", "0.3", "-i", "{dir}/tone.m4a", "-map", "0:v", "-map", "1:a"];
        check(&OPEN_GOP_MP4, &[&encode[..], &["-map", "0:a"], X264_LOSSLESS].concat(), "mp4");
    }

    #[test]
    fn subtitles_from_srt_and_chapters_and_tags_from_a_third_input() {
        let encode = [
            "-i",
            "{dir}/subs.srt",
            "-i",
            "{dir}/tagged.mkv",
            "-map",
            "0",
            "-map",
            "1",
            "-map_metadata",
            "2",
            "-map_chapters",
            "2",
            "-c:s",
            "ass",
            "-metadata:s:s:0",
            "language=eng",
        ];
        check(&OPEN_GOP, &[&encode[..], X264_LOSSLESS].concat(), "mkv");
    }
}

/// x264 -qp 0 turns B-frames off; these keep them, so chunk boundaries meet
/// reordered frames and MP4 decode timestamps. Pixels differ by design
/// (every chunk starts with a keyframe); timestamps must not.
mod b_frames {
    use super::*;
    const CRF_B: &[&str] = &["-c:v", "libx264", "-crf", "30", "-bf", "3", "-c:a", "copy"];

    #[test]
    fn open_gop_to_mp4() {
        check_with(&OPEN_GOP_MP4, CRF_B, "mp4", false);
    }

    #[test]
    fn open_gop_to_mkv() {
        check_with(&OPEN_GOP, CRF_B, "mkv", false);
    }

    #[test]
    fn long_gop_ntsc_to_mp4() {
        check_with(&LONG_GOP_NTSC, CRF_B, "mp4", false);
    }

    #[test]
    fn long_gop_ntsc_to_mov() {
        check_with(&LONG_GOP_NTSC, CRF_B, "mov", false);
    }
}

/// Output rates other than the source's, into each kind of container:
/// the frames ffmpeg drops and repeats are the same, and so are their
/// timestamps (CFR from zero in MP4 with audio, from the first frame
/// without; VFR with gaps in Matroska).
mod output_rates {
    use super::*;

    const VFR_SOURCE: Source = Source {
        name: "vfr",
        make: &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=30:duration=3",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=3",
            "-vf",
            "select='not(between(n,20,35))*not(between(n,50,52))'",
            "-fps_mode",
            "vfr",
            "-c:v",
            "libx264",
            "-bf",
            "2",
            "-c:a",
            "aac",
        ],
        ext: "mkv",
    };

    #[test]
    fn ntsc_into_mp4_with_audio() {
        check(
            &OPEN_GOP_MP4,
            &["-r", "30000/1001", "-c:v", "libx264", "-qp", "0", "-c:a", "copy"],
            "mp4",
        );
    }

    #[test]
    fn doubled_into_mp4_repeats_frames() {
        check(&OPEN_GOP, &["-r", "50", "-c:v", "libx264", "-qp", "0", "-c:a", "copy"], "mp4");
    }

    #[test]
    fn doubled_into_matroska_leaves_gaps() {
        check(&VFR_SOURCE, &["-r", "60", "-c:v", "ffv1", "-c:a", "copy"], "mkv");
    }

    #[test]
    fn cfr_into_matroska_fills_gaps() {
        check(&VFR_SOURCE, &["-fps_mode", "cfr", "-c:v", "ffv1", "-c:a", "copy"], "mkv");
    }

    #[test]
    fn filtered_ignores_packet_durations() {
        let encode = ["-r", "50", "-vf", "scale=80:-2", "-c:v", "libx264", "-qp", "0", "-an"];
        check(&OPEN_GOP_MP4, &encode, "mp4");
    }

    #[test]
    fn with_output_seek_and_duration() {
        check(
            &TWO_AUDIO,
            &["-ss", "0.52", "-t", "2.3", "-r", "24", "-c:v", "ffv1", "-c:a", "copy"],
            "mkv",
        );
    }

    /// Without its audio, a transport stream starts where its video does
    /// (ffmpeg's "Correcting start time"), which moves every frame on the grid.
    #[test]
    fn transport_stream_without_its_audio() {
        check(&TRANSPORT_STREAM, &["-r", "24", "-an", "-c:v", "ffv1"], "mkv");
    }

    /// The frames without a container timestamp take the ones the demuxer
    /// generates (`probe::genpts_args`) in every reader dffmpeg runs.
    #[test]
    fn program_stream_with_b_frames() {
        check(&PROGRAM_STREAM, &["-c:v", "libx264", "-qp", "0", "-c:a", "copy"], "mkv");
    }
}

mod lossless_mp4 {
    use super::*;

    /// A fade by frame count into HLS: chunks keep ffmpeg alone's keyframe
    /// grid (a start inside the fade goes rather than moving to its first
    /// frame), so the segments and the playlist are ffmpeg alone's.
    #[test]
    fn fade_by_frame_count_into_hls() {
        let grid = ["-g", "12", "-sc_threshold", "0", "-c:a", "aac", "-hls_time", "0.5"];
        let encode = [&["-vf", "fade=in:5:20", "-c:v", "libx264", "-qp", "0"][..], &grid].concat();
        check(&OPEN_GOP, &encode, "m3u8");
    }

    /// Chunks before the second keyframe are cut from the discarded one,
    /// moved by whole seconds to timestamps NUT takes (`plan::cut_offset_s`).
    #[test]
    fn cut_with_copy_after_a_keyframe() {
        check(&CUT_MP4, X264_LOSSLESS, "mkv");
        check(&CUT_MP4, X264_LOSSLESS, "mp4");
        check(&CUT_MP4, FPS_24, "mkv");
        check(&CUT_HEVC_MOV, X264_LOSSLESS, "mov");
    }

    #[test]
    fn open_gop_x264() {
        check(&OPEN_GOP_MP4, X264_LOSSLESS, "mp4");
    }

    /// Matroska audio into MP4 goes through tee and a second run (see
    /// `cli::assemble`); with chapters, tags and +faststart too.
    #[test]
    fn matroska_audio_into_mp4() {
        check(&OPEN_GOP, X264_LOSSLESS, "mp4");
    }

    #[test]
    fn matroska_subtitles_chapters_into_mp4() {
        check(&SUBTITLES_CHAPTERS, X264_LOSSLESS, "mp4");
        let with_subtitles = ["-c:v", "libx264", "-qp", "0", "-c:a", "copy", "-c:s", "mov_text"];
        check(&SUBTITLES_CHAPTERS, &with_subtitles, "mp4");
    }

    #[test]
    fn matroska_subtitles_chapters_into_mov_with_movflags() {
        let encode = [
            "-c:v",
            "libx264",
            "-qp",
            "0",
            "-c:a",
            "copy",
            "-movflags",
            "+faststart",
            "-metadata",
            "title=Moved",
        ];
        check(&SUBTITLES_CHAPTERS, &encode, "mov");
    }

    #[test]
    fn long_gop_ntsc_x264() {
        check(&LONG_GOP_NTSC, X264_LOSSLESS, "mp4");
    }
}

const TWO_AUDIO: Source = Source {
    name: "two_audio",
    make: &[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25:duration=4",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=300:duration=4",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=600:duration=4",
        "-map",
        "0",
        "-map",
        "1",
        "-map",
        "2",
        "-c:v",
        "libx264",
        "-bf",
        "2",
        "-g",
        "40",
        "-c:a:0",
        "aac",
        "-c:a:1",
        "libmp3lame",
        "-metadata:s:a:1",
        "language=ger",
    ],
    ext: "mkv",
};

/// The options issue 2 lists, each compared with ffmpeg alone.
mod options {
    use super::*;

    fn run(encode: &[&str], ext: &str) {
        check(&TWO_AUDIO, encode, ext);
    }

    /// Without B-frames; with them see `x265_lossless_after_output_seek`.
    #[test]
    fn output_seek_and_duration() {
        let encode = ["-ss", "0.52", "-t", "2.3", "-c:v", "libx264", "-qp", "0", "-bf", "0"];
        run(&[&encode[..], &["-c:a", "copy"]].concat(), "mkv");
    }

    /// -ss 0.7 lies between two frames at 25 fps: ffmpeg subtracts it from
    /// each timestamp before rounding to the encoder's time base, which puts
    /// the first frame at 0.04 s, not at 0.72 - 0.7 = 0.02 s.
    #[test]
    fn output_seek_between_frames() {
        let encode = ["-ss", "0.7", "-t", "2.1", "-c:v", "libx264", "-qp", "0", "-bf", "0"];
        run(&[&encode[..], &["-c:a", "copy"]].concat(), "mkv");
    }

    #[test]
    fn output_to() {
        run(&["-to", "3.1", "-c:v", "ffv1", "-c:a", "copy"], "mkv");
    }

    #[test]
    fn maps_filters_metadata_and_audio_encode() {
        run(
            &[
                "-map",
                "0:v",
                "-map",
                "0:a:1",
                "-map",
                "0:a:0",
                "-vf",
                "scale=160:-2,hflip",
                "-c:v",
                "libx264",
                "-qp",
                "0",
                "-pix_fmt",
                "yuv444p",
                "-c:a:0",
                "copy",
                "-c:a:1",
                "ac3",
                "-metadata",
                "title=Options",
                "-metadata:s:v:0",
                "language=fra",
            ],
            "mkv",
        );
    }

    #[test]
    fn negative_and_optional_maps_to_mp4_with_movflags() {
        let mp4_source = Source { ext: "mp4", ..TWO_AUDIO };
        check(
            &mp4_source,
            &[
                "-map",
                "0",
                "-map",
                "-0:a:1",
                "-map",
                "0:s?",
                "-c:v",
                "libx264",
                "-qp",
                "0",
                "-c:a",
                "copy",
                "-movflags",
                "+faststart",
            ],
            "mp4",
        );
    }
}

/// Input-side -ss/-t (before -i), which `check` cannot express: on and off
/// keyframes, video alone and with copied or encoded audio, into Matroska
/// and MP4. Copied Matroska audio into MP4 goes through tee, whose second
/// run gives the last packet a whole frame's duration where ffmpeg alone
/// cut it: that runs through ffmpeg (a known gap) and must still equal
/// ffmpeg's output.
#[test]
fn input_side_seek_and_duration() {
    let dir = tempfile::tempdir().unwrap();
    let src = made(&TWO_AUDIO, dir.path(), "src.mkv");
    let (a, b) = (Node::start(1), Node::start(1));
    let video_only = ["-c:v", "libx264", "-qp", "0", "-an"];
    let with_audio = ["-c:v", "libx264", "-qp", "0", "-c:a", "copy"];
    let encoded_audio = ["-c:v", "libx264", "-qp", "0", "-c:a", "aac"];
    let tee_gap = "running with ffmpeg: -ss with -t/-to and audio copied from Matroska into mp4";
    let cases: [(&str, &[&str], &str, Option<&str>); 7] = [
        ("1.3", &video_only, "mkv", None),
        ("1.3", &with_audio, "mkv", None),
        ("1.6", &with_audio, "mkv", None),
        ("0.9", &with_audio, "mp4", Some(tee_gap)),
        ("2.0", &with_audio, "mp4", Some(tee_gap)),
        ("0.9", &encoded_audio, "mp4", None),
        ("1.3", &video_only, "mp4", None),
    ];
    for (start, tail, ext, fallback) in cases {
        let what = format!("-ss {start} {tail:?} .{ext}");
        let plain = dir.path().join(format!("plain.{ext}"));
        let dist = dir.path().join(format!("dist.{ext}"));
        let seek = ["-ss", start, "-t", "2"];
        plain_encode(&seek, &src, tail, &plain);
        let extra = ["-v", "verbose", "--segment-duration", "0.5"];
        let stderr = distributed_encode(&[&a, &b], &extra, &seek, &src, tail, &dist);
        match fallback {
            Some(reason) => assert!(stderr.contains(reason), "{what}: {stderr}"),
            None => assert!(stderr.contains("on 2 nodes"), "{what}: {stderr}"),
        }
        assert_eq!(framemd5(&dist, "0:v", false), framemd5(&plain, "0:v", false), "{what}");
        if !tail.contains(&"-an") {
            let copied = tail.contains(&"copy");
            let (ours, theirs) = (framemd5(&dist, "0:a", copied), framemd5(&plain, "0:a", copied));
            assert_eq!(ours, theirs, "{what} audio");
        }
        let (p, d) = (probe(&plain), probe(&dist));
        assert_eq!(d["format"]["start_time"], p["format"]["start_time"], "{what}");
        assert_eq!(stream_set(&d), stream_set(&p), "{what}");
    }
}

/// Input-side -ss and -t with the audio copied from an MP4 source into MP4
/// (no tee): the same packets as ffmpeg alone, and the same frames.
#[test]
fn input_side_seek_with_copied_audio_into_mp4() {
    let dir = tempfile::tempdir().unwrap();
    let src = made(&OPEN_GOP_MP4, dir.path(), "src.mp4");
    let node = Node::start(2);
    let tail = ["-c:v", "libx264", "-qp", "0", "-c:a", "copy"];
    for seek in
        [&["-ss", "0.7", "-t", "1.5"][..], &["-ss", "1.3", "-to", "2.9"][..], &["-ss", "1"][..]]
    {
        for ext in ["mp4", "mov"] {
            let what = format!("{seek:?} .{ext}");
            let plain = dir.path().join(format!("plain.{ext}"));
            let dist = dir.path().join(format!("dist.{ext}"));
            plain_encode(seek, &src, &tail, &plain);
            let extra = ["-v", "verbose", "--segment-duration", "0.5"];
            let stderr = distributed_encode(&[&node], &extra, seek, &src, &tail, &dist);
            assert!(stderr.contains(" chunks on 1 nodes"), "{what}: {stderr}");
            assert_eq!(framemd5(&dist, "0:v", false), framemd5(&plain, "0:v", false), "{what}");
            assert_eq!(framemd5(&dist, "0:a", true), framemd5(&plain, "0:a", true), "{what}");
        }
    }
}

/// A user's `-map_metadata`/`-map_chapters` as ffmpeg alone applies them,
/// with audio from Matroska copied into every container: through tee (MP4,
/// MOV, NUT, MPEG-TS) the second run takes the tags the first run wrote
/// under the mapping, and the chapters as the user mapped them; everywhere,
/// the copied video gets the encoder tag ffmpeg alone gave it (none where
/// the mapping brought the source's).
#[test]
fn user_metadata_mappings_keep_ffmpegs_tags_and_chapters() {
    let dir = tempfile::tempdir().unwrap();
    let chapters = dir.path().join("chapters.txt");
    std::fs::write(&chapters, CHAPTERS).unwrap();
    let src = dir.path().join("tagged.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x120:rate=25:duration=3",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=3",
        "-i",
        chapters.to_str().unwrap(),
        "-map",
        "0",
        "-map",
        "1",
        "-map_metadata",
        "2",
        "-map_chapters",
        "2",
        "-metadata:s:v",
        "title=Cam",
        "-metadata:s:a",
        "language=fra",
        "-c:v",
        "libx264",
        "-c:a",
        "aac",
        src.to_str().unwrap(),
    ]);
    let node = Node::start(2);
    let tags = |file: &Path| {
        let out = Command::new("ffprobe")
            .args(["-v", "error", "-of", "compact", "-show_entries"])
            .arg("format_tags:stream_tags:chapter")
            .arg(file)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let mappings: [&[&str]; 5] = [
        &["-map_metadata", "-1"],
        &["-map_metadata:s:a", "-1"],
        &["-map_metadata", "0:s:a:0"],
        &["-map_metadata", "-1", "-map_chapters", "-1"],
        &["-map_metadata:s:v", "0:s:v", "-metadata:s:a", "title=Voice"],
    ];
    for ext in ["mkv", "mp4", "mov", "nut", "ts"] {
        for mapping in mappings {
            let what = format!("{mapping:?} .{ext}");
            let encode =
                [mapping, &["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "copy"]].concat();
            let plain = dir.path().join(format!("plain.{ext}"));
            let dist = dir.path().join(format!("dist.{ext}"));
            plain_encode(&[], &src, &encode, &plain);
            let extra = ["-v", "verbose", "--segment-duration", "0.5"];
            let stderr = distributed_encode(&[&node], &extra, &[], &src, &encode, &dist);
            assert!(stderr.contains(" chunks on 1 nodes"), "{what}: {stderr}");
            assert_eq!(tags(&dist), tags(&plain), "{what}");
        }
    }
}

/// This source's video starts 23 ms after its audio, so the frame at
/// 2.503 s lies within -t 2.5; ffmpeg's encoder, which rounds it to 2.52 s
/// at 25 fps first, stops before it. So must the chunks.
#[test]
fn output_duration_ends_where_the_encoder_rounds() {
    let encode =
        ["-t", "2.5", "-c:v", "libx264", "-preset", "ultrafast", "-bf", "3", "-c:a", "copy"];
    check_with(&OPEN_GOP, &encode, "mkv", false);
}

/// MPEG-4 Part 2 with packed B-frames in AVI, whose packets carry no
/// presentation timestamps, with MP3 audio.
const MPEG4_AVI: Source = Source {
    name: "mpeg4_avi",
    make: &[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25:duration=3",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=3",
        "-c:v",
        "mpeg4",
        "-bf",
        "2",
        "-g",
        "25",
        "-c:a",
        "libmp3lame",
    ],
    ext: "avi",
};

/// An output -ss between frames on sources whose time base is coarse (AVI,
/// 1/25: ffmpeg's trim rounds -ss 1.01 to the frame at 1.00 s and keeps it)
/// or fine with a start offset (MPEG-TS, 1/90000).
#[test]
fn output_seek_between_frames_on_avi_and_mpegts() {
    let lossless = ["-c:v", "libx264", "-qp", "0", "-bf", "0"];
    // MP3 in AVI ticks every 32/1225 s: copied, its -ss would not be exact.
    check(&MPEG4_AVI, &[&["-ss", "1.01"][..], &lossless, &["-c:a", "aac"]].concat(), "mkv");
    let seek = ["-ss", "0.77", "-t", "1.3"];
    check(&TRANSPORT_STREAM, &[&seek[..], &lossless, &["-c:a", "copy"]].concat(), "mkv");
}

/// The final mux copies the video with the output's -ss, and ffmpeg drops
/// copied packets whose decode time is before it: x264's B-pyramid starts two
/// frames early, which lost the whole first chunk (63 frames of 125 here)
/// until the mux read the video late and set it back. Lossy (x264 has no
/// B-frames when lossless): every frame at ffmpeg alone's timestamps, and
/// the audio's packets as ffmpeg alone's, directly and through tee
/// (Matroska audio into MP4, NUT and MPEG-TS), whose `setts` counts in
/// other ticks (13 of 76 frames came out when it was given the chunks').
#[test]
fn output_seek_with_b_frames_keeps_every_frame() {
    let dir = tempfile::tempdir().unwrap();
    let src = made(&OPEN_GOP, dir.path(), "src.mkv");
    let node = Node::start(1);
    let timestamps = |file: &Path| -> Vec<String> {
        let text = framemd5(file, "0:v", false);
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split(',').take(3).collect::<Vec<_>>().join(","))
            .collect()
    };
    let video = ["-ss", "1", "-t", "1.5", "-c:v", "libx264", "-preset", "ultrafast", "-bf", "3"];
    let outputs: &[(&str, &[&str])] = &[
        ("mkv", &["-c:a", "copy"]),
        ("nut", &["-an"]),
        ("mp4", &["-an"]),
        ("mp4", &["-c:a", "aac"]),
        ("nut", &["-c:a", "copy"]),
        ("ts", &["-c:a", "aac"]),
        ("flv", &["-c:a", "aac"]),
    ];
    for (ext, audio) in outputs {
        let encode = [&video[..], audio].concat();
        let plain = dir.path().join(format!("plain.{ext}"));
        let dist = dir.path().join(format!("dist.{ext}"));
        plain_encode(&[], &src, &encode, &plain);
        let extra = ["-v", "verbose", "--segment-duration", "0.5"];
        let stderr = distributed_encode(&[&node], &extra, &[], &src, &encode, &dist);
        assert!(stderr.contains(" chunks on 1 nodes"), "{ext} {audio:?}: {stderr}");
        assert_eq!(timestamps(&dist), timestamps(&plain), "{ext} {audio:?}");
        if audio[0] != "-an" {
            let packets = |file: &Path| framemd5(file, "0:a", true);
            assert_eq!(packets(&dist), packets(&plain), "{ext} {audio:?}");
        }
    }
}

/// Into AVI the time base `setts` would count in was not measured; through
/// tee with -t, the second run's copy of Matroska audio gives the last
/// packet a whole frame's duration where ffmpeg alone cut it short (132
/// samples of 1024). Such commands run through ffmpeg, with the reason, and
/// their output is ffmpeg's own.
#[test]
fn output_seek_runs_through_ffmpeg_where_not_reproduced() {
    let dir = tempfile::tempdir().unwrap();
    let src = made(&OPEN_GOP, dir.path(), "src.mkv");
    let node = Node::start(1);
    let video = ["-ss", "1", "-c:v", "libx264", "-preset", "ultrafast"];
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "avi",
            &["-bf", "3", "-an"],
            "output -ss with libx264 B-frames into avi is not reproduced yet",
        ),
        (
            "mp4",
            &["-bf", "0", "-t", "1.5", "-c:a", "copy"],
            "-ss with -t/-to and audio copied from Matroska into mp4 is not reproduced yet",
        ),
    ];
    for (ext, rest, reason) in cases {
        let encode = [&video[..], rest].concat();
        let (plain, dist) =
            (dir.path().join(format!("plain.{ext}")), dir.path().join(format!("dist.{ext}")));
        plain_encode(&[], &src, &encode, &plain);
        let extra = ["-v", "verbose", "--segment-duration", "0.5"];
        let stderr = distributed_encode(&[&node], &extra, &[], &src, &encode, &dist);
        assert!(stderr.contains(&format!("running with ffmpeg: {reason}")), "{stderr}");
        assert_eq!(framemd5(&dist, "0", true), framemd5(&plain, "0", true), "{ext}");
    }
}

/// ffmpeg alone takes -ss off a copied stream in that stream's time base:
/// MP3 in AVI ticks every 32/1225 s, so -ss 1.01 is not exact there, and the
/// command runs through ffmpeg, whose audio packets it then has.
#[test]
fn output_seek_between_the_ticks_of_copied_audio_runs_through_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.avi");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x120:rate=25:duration=2",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=2",
        "-c:v",
        "mpeg4",
        "-c:a",
        "libmp3lame",
        src.to_str().unwrap(),
    ]);
    let node = Node::start(1);
    let encode = ["-ss", "1.01", "-c:v", "libx264", "-qp", "0", "-bf", "0", "-c:a", "copy"];
    let (plain, dist) = (dir.path().join("plain.mkv"), dir.path().join("dist.mkv"));
    plain_encode(&[], &src, &encode, &plain);
    let extra = ["-v", "verbose", "--segment-duration", "0.5"];
    let stderr = distributed_encode(&[&node], &extra, &[], &src, &encode, &dist);
    assert!(stderr.contains("running with ffmpeg: output -ss between the ticks"), "{stderr}");
    assert_eq!(framemd5(&dist, "0:a", true), framemd5(&plain, "0:a", true));
}

/// ffmpeg seeks a transport stream by position and decodes from there, which
/// leaves out frames an exact cut keeps: such a command runs through ffmpeg,
/// and its output is ffmpeg's own.
#[test]
fn input_seek_on_a_transport_stream_runs_through_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    let src = made(&TRANSPORT_STREAM, dir.path(), "src.ts");
    let node = Node::start(1);
    let seek = ["-ss", "0.7", "-t", "1.5"];
    let encode = ["-c:v", "ffv1", "-c:a", "copy"];
    assert_falls_back(&node, dir.path(), &seek, &src, &encode, "mkv", "input -ss on mpegts");
}

/// Two transport streams joined with `cat`, the second starting earlier
/// than the first ends (recordings of one channel, a capture across a clock
/// reset): ffmpeg alone moves the second part on as it reads
/// ("timestamp discontinuity"); it runs through ffmpeg, whose frames it
/// gets, where it used to fail (chunks trimmed by the file's timestamps
/// kept no frames).
#[test]
fn transport_streams_joined_with_cat_run_through_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    let first = made(&TRANSPORT_STREAM, dir.path(), "first.ts");
    let second = made(&TRANSPORT_STREAM, dir.path(), "second.ts");
    let later = dir.path().join("later.ts");
    let moved = ["-c", "copy", "-output_ts_offset", "10", later.to_str().unwrap()];
    let mut args = vec!["-i", first.to_str().unwrap()];
    args.extend(moved);
    tests::ffmpeg(&args);
    let src = dir.path().join("src.ts");
    let joined = [std::fs::read(&later).unwrap(), std::fs::read(&second).unwrap()].concat();
    std::fs::write(&src, joined).unwrap();
    let node = Node::start(1);
    let encode = ["-c:v", "ffv1", "-c:a", "copy"];
    assert_falls_back(
        &node,
        dir.path(),
        &[],
        &src,
        &encode,
        "mkv",
        "the video's timestamps go back",
    );
}

/// JPEG images one after another in a file (a camera's raw MJPEG), which
/// ffmpeg reads with its `jpeg_pipe` demuxer: that seeks by byte position,
/// and the chunks after the first came out empty; it runs through ffmpeg.
#[test]
fn raw_mjpeg_in_a_file_runs_through_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("camera.mjpeg");
    let clip = "testsrc2=size=160x120:rate=25:duration=2";
    tests::ffmpeg(&["-f", "lavfi", "-i", clip, "-c:v", "mjpeg", src.to_str().unwrap()]);
    let node = Node::start(1);
    let encode = ["-c:v", "ffv1"];
    assert_falls_back(&node, dir.path(), &[], &src, &encode, "mkv", "a file read by jpeg_pipe");
}

/// Several inputs without `-map` (`ffmpeg -i video.mp4 -i music.wav ...`):
/// ffmpeg picks the largest video and the audio of most channels across
/// every input, each input's default stream first, then the earlier input
/// on a tie, and the first subtitles it can write. The chunks encode the
/// first input's video; the final mux takes what ffmpeg alone picked from
/// the others. A larger video in a later input runs through ffmpeg.
#[test]
fn several_inputs_without_maps_are_picked_as_ffmpeg_picks() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(2);
    let d = dir.path().to_str().unwrap();
    let (clip, big) = (format!("{d}/clip.mp4"), format!("{d}/big.mp4"));
    let (stereo, mono, srt) =
        (format!("{d}/stereo.wav"), format!("{d}/mono.wav"), format!("{d}/s.srt"));
    let video = "testsrc2=size=160x120:rate=25:duration=3";
    tests::ffmpeg(&["-f", "lavfi", "-i", video, "-f", "lavfi", "-i", "sine=duration=3", &clip]);
    tests::ffmpeg(&["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=3", &big]);
    tests::ffmpeg(&["-f", "lavfi", "-i", "sine=f=500:duration=3", "-ac", "2", &stereo]);
    tests::ffmpeg(&["-f", "lavfi", "-i", "sine=f=700:duration=3", &mono]);
    std::fs::write(&srt, SUBTITLES).unwrap();
    let x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0"];
    // The other inputs, the container, and the streams ffmpeg alone picks.
    let cases: [(&[&str], &str); 4] = [
        (&["-i", &stereo], "mp4"),
        (&["-i", &mono], "mkv"),
        (&["-i", &srt], "mkv"),
        (&["-i", &big, "-i", &stereo], "mov"),
    ];
    for (others, ext) in cases {
        let encode: Vec<&str> = others.iter().chain(&x264).copied().collect();
        let (plain, dist) =
            (dir.path().join(format!("plain.{ext}")), dir.path().join(format!("dist.{ext}")));
        plain_encode(&[], Path::new(&clip), &encode, &plain);
        let extra = ["-v", "verbose", "--segment-duration", "0.4"];
        let stderr = distributed_encode(&[&node], &extra, &[], Path::new(&clip), &encode, &dist);
        let case = format!("{others:?} {ext}");
        if others.contains(&big.as_str()) {
            let reason = "running with ffmpeg: video stream #1:0 is from another input";
            assert!(stderr.contains(reason), "{case}: {stderr}");
        } else {
            assert!(stderr.contains(" chunks on "), "{case}: {stderr}");
        }
        let (p, d) = (probe(&plain), probe(&dist));
        assert_eq!(stream_set(&d), stream_set(&p), "{case}");
        for (i, stream) in p["streams"].as_array().unwrap().iter().enumerate() {
            let map = format!("0:{i}");
            let copy = stream["codec_type"] == "subtitle";
            assert_eq!(framemd5(&dist, &map, copy), framemd5(&plain, &map, copy), "{case} {map}");
        }
    }
}

/// A transport stream captured from its middle (its first packets belong to
/// a GOP whose keyframe was never received): ffmpeg alone drops what does
/// not decode; it runs through ffmpeg, whose frames and exit code it gets,
/// where it used to fail ("no keyframe precedes frame 0").
#[test]
fn a_capture_joined_mid_stream_runs_through_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    let whole = made(&TRANSPORT_STREAM, dir.path(), "whole.ts");
    let bytes = std::fs::read(&whole).unwrap();
    // Whole 188-byte TS packets, from a tenth of the way in.
    let from = bytes.len() / 10 / 188 * 188;
    let src = dir.path().join("src.ts");
    std::fs::write(&src, &bytes[from..]).unwrap();
    let node = Node::start(1);
    let encode = ["-c:v", "ffv1", "-c:a", "copy"];
    assert_falls_back(
        &node,
        dir.path(),
        &[],
        &src,
        &encode,
        "mkv",
        "the video starts before its first keyframe",
    );
}

/// Image sequences, as a renderer leaves them: numbered PNG (RGB) from
/// 1001 at 24000/1001, JPEG (full-range YUV) by a glob, 10-bit DPX with
/// `-f image2` and no extension, 16-bit TIFF at 30000/1001 and float
/// OpenEXR (both cut into MOV), each with a WAV beside it; every one
/// distributed, and its frames, timestamps and audio those of ffmpeg alone.
/// A BMP sequence (its images go into no chunk container) runs through
/// ffmpeg.
#[test]
fn image_sequences_are_distributed_frame_exact() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(2);
    let d = dir.path().to_str().unwrap();
    let wav = format!("{d}/audio.wav");
    tests::ffmpeg(&["-f", "lavfi", "-i", "sine=duration=3", &wav]);
    let pattern = "testsrc2=size=160x120:rate=24000/1001:duration=2.5";
    let cases: [(&str, &[&str], &[&str], &str); 5] = [
        (
            "tif/f_%02d.tif",
            &["-pix_fmt", "rgb48le"],
            &["-framerate", "30000/1001"],
            "tif/f_%02d.tif",
        ),
        ("exr/f_%02d.exr", &["-pix_fmt", "gbrpf32le"], &[], "exr/f_%02d.exr"),
        (
            "png/f_%04d.png",
            &["-start_number", "1001"],
            &["-framerate", "24000/1001", "-start_number", "1001"],
            "png/f_%04d.png",
        ),
        (
            "jpg/f_%03d.jpg",
            &["-q:v", "3"],
            &["-pattern_type", "glob", "-framerate", "25"],
            "jpg/f_*.jpg",
        ),
        (
            "dpx/f%d",
            &["-f", "image2", "-pix_fmt", "gbrp10le", "-c:v", "dpx"],
            &["-f", "image2"],
            "dpx/f%d",
        ),
    ];
    for (made, make, before, input) in cases {
        let folder = dir.path().join(made.split('/').next().unwrap());
        std::fs::create_dir(&folder).unwrap();
        let target = format!("{d}/{made}");
        let mut args = vec!["-f", "lavfi", "-i", pattern];
        args.extend(make);
        args.push(&target);
        tests::ffmpeg(&args);
        let src = dir.path().join(input);
        let encode = ["-i", &wav, "-map", "0:v", "-map", "1:a", "-c:v", "ffv1", "-c:a", "copy"];
        let (plain, dist) = (dir.path().join("plain.mkv"), dir.path().join("dist.mkv"));
        plain_encode(before, &src, &encode, &plain);
        let extra = ["-v", "verbose", "--segment-duration", "0.4"];
        let stderr = distributed_encode(&[&node], &extra, before, &src, &encode, &dist);
        assert!(!stderr.contains("running with ffmpeg"), "{input}: {stderr}");
        assert!(stderr.contains(" chunks on "), "{input}: {stderr}");
        for (map, copy) in [("0:v", false), ("0:a", true)] {
            assert!(
                framemd5(&dist, map, copy) == framemd5(&plain, map, copy),
                "{input} {map}: differs from ffmpeg alone"
            );
        }
    }
    let bmp = dir.path().join("bmp");
    std::fs::create_dir(&bmp).unwrap();
    let target = format!("{d}/bmp/f_%02d.bmp");
    tests::ffmpeg(&["-f", "lavfi", "-i", pattern, &target]);
    let src = bmp.join("f_%02d.bmp");
    assert_falls_back(
        &node,
        dir.path(),
        &[],
        &src,
        &["-c:v", "ffv1"],
        "mkv",
        "an image sequence of bmp",
    );
}

/// `ffmpeg -i in.mp4 ... -f matroska -`, as pipelines write it (into a
/// player, over ssh, into a program reading the pipe): the final mux
/// writes standard output itself, and what comes out decodes to ffmpeg
/// alone's frames and audio, in Matroska, MPEG-TS, NUT and FLV, named `-`,
/// `pipe:` or `pipe:1`, with ffmpeg's `Output #0` line. An MP4 there, which
/// ffmpeg cannot write to a pipe, runs through ffmpeg and fails as ffmpeg
/// does; so do `-progress pipe:1` on the same pipe and copied Matroska
/// audio into NUT, which the final mux would read back from its output.
/// A reader that closes the pipe early gets ffmpeg's own error lines.
#[test]
fn an_output_to_standard_output() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(2);
    let src = dir.path().join("src.mp4");
    let clip = "testsrc2=size=320x240:rate=25:duration=4";
    let make = ["-f", "lavfi", "-i", clip, "-f", "lavfi", "-i", "sine=duration=4"];
    let x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac"];
    ffmpeg(&[&make[..], &x264, &[src.to_str().unwrap()]].concat());
    let lossless = ["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-c:a", "copy"];
    let plain_run = |args: &[&str]| {
        let out = Command::new("ffmpeg").args(args).stdin(Stdio::null()).output().unwrap();
        (out.status.code(), out.stdout, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    for (format, url) in [("matroska", "-"), ("mpegts", "pipe:1"), ("nut", "pipe:"), ("flv", "-")] {
        let args = [&["-i", src.to_str().unwrap()][..], &lossless, &["-f", format, url]].concat();
        let (code, bytes, plain_err) = plain_run(&args);
        assert_eq!(code, Some(0), "{plain_err}");
        let plain = dir.path().join(format!("plain.{format}"));
        std::fs::write(&plain, bytes).unwrap();
        let extra = ["-v", "verbose", "--segment-duration", "0.5"];
        let out = dffmpeg(&[&node], &[&extra[..], &args].concat());
        let stderr = tests::assert_ok(&out);
        assert!(stderr.contains(" chunks on "), "{format}: {stderr}");
        let dist = dir.path().join(format!("dist.{format}"));
        std::fs::write(&dist, &out.stdout).unwrap();
        for (map, copy) in [("0:v", false), ("0:a", true)] {
            assert_eq!(framemd5(&dist, map, copy), framemd5(&plain, map, copy), "{format} {map}");
        }
        let named = |log: &str| log.lines().find(|l| l.starts_with("Output #0")).map(String::from);
        assert_eq!(named(&stderr), named(&plain_err), "{format}");
        assert!(!dir.path().join(url).exists(), "{url} was written as a file");
    }
    // A reader that goes away: ffmpeg's own error lines, exit status 1.
    let mut reader = Command::new(tests::bin("dffmpeg"))
        .args(["--nodes", &node.addr, "-v", "error", "-i", src.to_str().unwrap()])
        .args(lossless)
        .args(["-f", "matroska", "-"])
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0_u8; 1000];
    std::io::Read::read_exact(reader.stdout.as_mut().unwrap(), &mut head).unwrap();
    drop(reader.stdout.take());
    let out = reader.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("av_interleaved_write_frame(): Broken pipe\n"), "{stderr}");
    assert!(stderr.contains("Error closing file pipe:: Broken pipe"), "{stderr}");
    let mkv = dir.path().join("src.mkv");
    ffmpeg(&["-i", src.to_str().unwrap(), "-c", "copy", mkv.to_str().unwrap()]);
    for (input, output, reason) in [
        (&src, &["-f", "mp4", "-"][..], "mp4 to standard output is not distributable"),
        (&src, &["-progress", "pipe:1", "-f", "nut", "-"][..], "-progress and the output on"),
        (&mkv, &["-f", "nut", "-"][..], "nut with Matroska audio to standard output"),
    ] {
        let args = [&["-i", input.to_str().unwrap()][..], &lossless, output].concat();
        let (code, bytes, _) = plain_run(&args);
        let out = dffmpeg(&[&node], &[&["-v", "verbose"][..], &args].concat());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&format!("running with ffmpeg: {reason}")), "{stderr}");
        assert_eq!(out.status.code(), code, "{stderr}");
        if code == Some(0) && !output.contains(&"-progress") {
            let (plain, dist) = (dir.path().join("plain.nut"), dir.path().join("dist.nut"));
            std::fs::write(&plain, bytes).unwrap();
            std::fs::write(&dist, &out.stdout).unwrap();
            assert_eq!(framemd5(&dist, "0:v", false), framemd5(&plain, "0:v", false));
        }
    }
}

/// An image sequence given `-r` before its `-i`, as render guides write it
/// (`ffmpeg -r 24 -i f_%04d.png`): ffmpeg times the decoded frames by
/// their count at that rate, whatever the demuxer's own (25 unless
/// `-framerate` or `-f image2` sets it), and dffmpeg reads the images at
/// that rate. Frames, timestamps and audio are ffmpeg alone's, into MP4
/// (where the frame-rate decision reads packet durations), Matroska and
/// MOV, with an output `-r` too; the input's description keeps ffmpeg
/// alone's rate. A rate whose packet durations ffmpeg would round to two
/// frames, and an input `-ss`, which moves only the demuxer's timestamps,
/// run through ffmpeg.
#[test]
fn an_image_sequence_given_an_input_rate() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(2);
    let d = dir.path().to_str().unwrap();
    let wav = format!("{d}/audio.wav");
    tests::ffmpeg(&["-f", "lavfi", "-i", "sine=duration=3", &wav]);
    std::fs::create_dir(dir.path().join("png")).unwrap();
    let images = format!("{d}/png/f_%04d.png");
    tests::ffmpeg(&["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=2", &images]);
    let src = dir.path().join("png/f_%04d.png");
    let x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0"];
    let with_audio = ["-i", &wav, "-map", "0:v", "-map", "1:a", "-c:a", "copy"];
    // The input options, the output's, the container, and the rate ffmpeg
    // alone describes the images at.
    let cases: [(&[&str], &[&str], &str, &str); 5] = [
        (&["-r", "24"], &[], "mp4", "25 fps"),
        (&["-framerate", "20", "-r", "30000/1001"], &with_audio, "mkv", "20 fps"),
        (&["-f", "image2", "-r", "50"], &[], "mp4", "50 fps"),
        (&["-r", "24"], &["-r", "30"], "mp4", "25 fps"),
        (&["-r", "12", "-t", "1.5"], &with_audio, "mov", "25 fps"),
    ];
    for (before, more, ext, rate) in cases {
        let encode: Vec<&str> = more.iter().chain(&x264).copied().collect();
        let (plain, dist) =
            (dir.path().join(format!("plain.{ext}")), dir.path().join(format!("dist.{ext}")));
        plain_encode(before, &src, &encode, &plain);
        let extra = ["-v", "verbose", "--segment-duration", "0.4"];
        let stderr = distributed_encode(&[&node], &extra, before, &src, &encode, &dist);
        let case = format!("{before:?} {more:?} {ext}");
        assert!(stderr.contains(" chunks on "), "{case}: {stderr}");
        assert_eq!(framemd5(&dist, "0:v", false), framemd5(&plain, "0:v", false), "{case}");
        if !more.is_empty() && more[0] == "-i" {
            assert_eq!(framemd5(&dist, "0:a", true), framemd5(&plain, "0:a", true), "{case}");
        }
        let described = stderr.lines().find(|l| l.contains("Stream #0:0: Video: png")).unwrap();
        assert!(described.contains(&format!(", {rate},")), "{case}: {described}");
    }
    let at_10 = ["-r", "10", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0"];
    for (before, encode, reason) in [
        (&["-r", "50"][..], &x264[..], "input -r 50 on an image sequence read at 25/1 fps"),
        // Each 25 fps image lasts less than half an output frame, where
        // ffmpeg falls back to the filters' rate: 10/15 of a frame, not 1.
        (&["-r", "15"][..], &at_10[..], "input -r 15 on an image sequence read at 25/1 fps"),
        (&["-r", "24", "-ss", "0.5"][..], &x264[..], "input -r with -ss on an image sequence"),
    ] {
        assert_falls_back(&node, dir.path(), before, &src, encode, "mp4", reason);
    }
}

/// An input `-r` on a file (`ffmpeg -r 24 -i clip.mkv`, conforming a clip
/// to another rate): ffmpeg alone times each decoded frame by its count at
/// that rate, and drops and repeats frames by the file's own packet
/// durations; the chunks get the same frames at the same times, whatever
/// the source's timestamps (B-frames in MP4, MPEG-TS starting at 1.4 s, a
/// variable rate) and the output's rate, and the audio keeps its own.
#[test]
fn an_input_rate_on_a_file_counts_its_frames() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(2);
    let d = dir.path().to_str().unwrap();
    let (mp4, ts, vfr) = (format!("{d}/film.mp4"), format!("{d}/cam.ts"), format!("{d}/phone.mkv"));
    let (video, audio) = ("testsrc2=size=160x120:duration=3", "sine=duration=3");
    let lavfi = |rate: &str| format!("{video}:rate={rate}");
    let film = lavfi("24000/1001");
    tests::ffmpeg(&["-f", "lavfi", "-i", &film, "-f", "lavfi", "-i", audio, "-g", "12", &mp4]);
    let cam = lavfi("30");
    let mpeg2 = ["-c:v", "mpeg2video", "-q:v", "2", "-g", "15", "-c:a", "mp2"];
    let mut make_ts = vec!["-f", "lavfi", "-i", &cam, "-f", "lavfi", "-i", audio];
    make_ts.extend(mpeg2.iter().chain(&[ts.as_str()]));
    tests::ffmpeg(&make_ts);
    // Frames 31 on 13 ms late: packet durations of 27 and 40 ms.
    let phone = format!("{},setpts='PTS+if(gt(N,30),0.013,0)/TB'", lavfi("25"));
    let passthrough = ["-fps_mode", "passthrough", "-g", "20"];
    let mut make_vfr = vec!["-f", "lavfi", "-i", &phone, "-f", "lavfi", "-i", audio];
    make_vfr.extend(passthrough.iter().chain(&[vfr.as_str()]));
    tests::ffmpeg(&make_vfr);
    let x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0"];
    // The input's rate, the source, the output's options and container.
    let cases: [(&str, &str, &[&str], &str); 6] = [
        ("24", &mp4, &["-c:a", "copy"], "mkv"),
        ("25", &mp4, &["-c:a", "aac"], "mp4"),
        // 33 ms packets last 0.33 of a frame at 10 fps: ffmpeg falls back
        // to one frame; at 60, two (every frame is repeated in MP4).
        ("10", &ts, &["-c:a", "aac"], "mp4"),
        ("60", &ts, &["-c:a", "copy", "-t", "1.7"], "mkv"),
        ("30000/1001", &vfr, &["-r", "12", "-c:a", "copy"], "mkv"),
        ("24", &vfr, &["-ss", "0.6", "-vf", "scale=80:-2", "-c:a", "aac"], "mov"),
    ];
    for (rate, src, more, ext) in cases {
        let before = ["-r", rate];
        let encode: Vec<&str> = more.iter().chain(&x264).copied().collect();
        let (plain, dist) =
            (dir.path().join(format!("plain.{ext}")), dir.path().join(format!("dist.{ext}")));
        plain_encode(&before, Path::new(src), &encode, &plain);
        let extra = ["-v", "verbose", "--segment-duration", "0.4"];
        let stderr = distributed_encode(&[&node], &extra, &before, Path::new(src), &encode, &dist);
        let case = format!("-r {rate} -i {src} {more:?} {ext}");
        assert!(stderr.contains(" chunks on "), "{case}: {stderr}");
        assert_eq!(framemd5(&dist, "0:v", false), framemd5(&plain, "0:v", false), "{case}");
        let copied = more.contains(&"copy");
        assert_eq!(framemd5(&dist, "0:a", copied), framemd5(&plain, "0:a", copied), "{case}");
        let (p, d) = (probe(&plain), probe(&dist));
        assert_eq!(stream_set(&d), stream_set(&p), "{case}");
        let (pd, dd) = (seconds(&p["format"]["duration"]), seconds(&d["format"]["duration"]));
        assert!((pd - dd).abs() <= 0.002, "{case}: duration {dd} vs ffmpeg's {pd}");
    }
    for (before, reason) in [
        (&["-r", "24", "-ss", "0.5"][..], "input -r with -ss"),
        (&["-r:a", "24"][..], "input -r:a is not distributable"),
    ] {
        assert_falls_back(&node, dir.path(), before, Path::new(&mp4), &x264, "mp4", reason);
    }
}

/// An output `-ss` where rounding decides. On a frame, the final mux reads
/// the chunks at `-itsoffset` of that time: ffmpeg adds the offset in the
/// chunks' time base, rounded to nearest, and drops a copied packet whose
/// decode time is before `-ss`. `-ss 0.3` at 24 fps (1/12288) and
/// `-ss 0.1234` in Matroska (1/1000) round down: the first chunk was
/// lost and the run failed, where ffmpeg alone writes the whole video.
/// Half a frame after one (`-ss 0.3125` at 24 fps), ffmpeg takes the start
/// off in its encoder's finer time base, where the half is exact: taken
/// off in microseconds, each chunk's first frame came out a frame early.
#[test]
fn an_output_seek_is_taken_off_where_ffmpeg_rounds_it() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(2);
    let src = dir.path().join("film.mp4");
    let film = "testsrc2=size=160x120:rate=24:duration=3";
    let src_s = src.to_str().unwrap();
    tests::ffmpeg(&["-f", "lavfi", "-i", film, "-f", "lavfi", "-i", "sine=duration=3", src_s]);
    let cases =
        [("0.3", "mp4"), ("0.05", "mov"), ("0.1234", "mkv"), ("0.3125", "mkv"), ("0.3125", "nut")];
    for (start, ext) in cases {
        let encode = ["-ss", start, "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0"];
        let (plain, dist) =
            (dir.path().join(format!("plain.{ext}")), dir.path().join(format!("dist.{ext}")));
        plain_encode(&[], &src, &encode, &plain);
        let extra = ["-v", "verbose", "--segment-duration", "0.4"];
        let stderr = distributed_encode(&[&node], &extra, &[], &src, &encode, &dist);
        assert!(stderr.contains(" chunks on "), "-ss {start} {ext}: {stderr}");
        assert_eq!(framemd5(&dist, "0:v", false), framemd5(&plain, "0:v", false), "{start} {ext}");
        assert_eq!(framemd5(&dist, "0:a", false), framemd5(&plain, "0:a", false), "{start} {ext}");
    }
}

/// An image sequence whose images change size and format part way (a
/// renderer's 320x240 RGB frames, then 160x120 gray ones, as PNG
/// optimisers write dark frames): ffmpeg alone's encoder takes both from
/// the first image and scales and converts the rest to them; so does every
/// chunk, whichever image it starts on.
#[test]
fn an_image_sequence_that_changes_size_and_format_is_encoded_as_its_first_image() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(2);
    let d = dir.path().to_str().unwrap();
    let pattern = format!("{d}/f_%04d.png");
    let rgb = "testsrc2=size=320x240:rate=25:duration=1";
    tests::ffmpeg(&["-f", "lavfi", "-i", rgb, "-start_number", "1", &pattern]);
    let gray = "mandelbrot=size=160x120:rate=25,trim=duration=1";
    tests::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        gray,
        "-pix_fmt",
        "gray",
        "-start_number",
        "26",
        &pattern,
    ]);
    let src = dir.path().join("f_%04d.png");
    for encode in [&["-c:v", "ffv1"][..], &["-c:v", "libx264", "-qp", "0"][..]] {
        let (plain, dist) = (dir.path().join("plain.mkv"), dir.path().join("dist.mkv"));
        plain_encode(&[], &src, encode, &plain);
        let extra = ["-v", "verbose", "--segment-duration", "0.4"];
        let stderr = distributed_encode(&[&node], &extra, &[], &src, encode, &dist);
        assert!(stderr.contains(" chunks on "), "{encode:?}: {stderr}");
        assert!(
            framemd5(&dist, "0:v", false) == framemd5(&plain, "0:v", false),
            "{encode:?}: differs from ffmpeg alone"
        );
    }
}

/// -n with an existing output: ffmpeg's own refusal and exit code.
#[test]
fn no_overwrite_keeps_ffmpegs_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let src = made(&OPEN_GOP, dir.path(), "src.mkv");
    let out = dir.path().join("out.mkv");
    std::fs::write(&out, b"keep me").unwrap();
    let node = Node::start(1);
    let result = dffmpeg(
        &[&node],
        &["-n", "-i", src.to_str().unwrap(), "-c:v", "libx264", out.to_str().unwrap()],
    );
    assert_eq!(result.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&result.stderr).contains("already exists"));
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
}

/// Video that starts after the audio (x264's B-frames in Matroska: its
/// first frame is at 0.023 s), under a timed logo: ffmpeg alone may decide
/// the first frame at the image's time, 0, so a window that opens or closes
/// in between runs through ffmpeg; one that does not is distributed.
#[test]
fn a_timed_logo_over_late_video_is_decided_as_ffmpeg_decides_it() {
    let timed = |enable: &str| {
        let graph = format!("[0:v][1:v]overlay=W-w-8:8:enable='{enable}'");
        let encode = x264_lossless_after!("-i", "{dir}/logo.png", "-filter_complex", "GRAPH");
        encode
            .iter()
            .map(|a| if *a == "GRAPH" { graph.clone() } else { a.to_string() })
            .collect::<Vec<_>>()
    };
    for enable in ["lt(t,0.01)", "between(t, 0.01, 1)"] {
        let encode = timed(enable);
        let encode: Vec<&str> = encode.iter().map(String::as_str).collect();
        let reason =
            format!("overlay enable={} may decide the first frame", enable.replace(' ', ""));
        check_fallback(&LATE_VIDEO, &encode, "mkv", &reason);
    }
    let encode = timed("gte(t,1)");
    check(&LATE_VIDEO, &encode.iter().map(String::as_str).collect::<Vec<_>>(), "mkv");
}

const LATE_VIDEO: Source = Source {
    name: "late_video",
    make: &[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x120:rate=25:duration=3",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=3",
        "-c:v",
        "libx264",
        "-bf",
        "2",
        "-g",
        "12",
        "-c:a",
        "aac",
    ],
    ext: "mkv",
};

const SUBTITLES_CHAPTERS: Source = Source {
    name: "subtitles_chapters",
    make: &[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x120:rate=25:duration=3",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=3",
        "-i",
        "{dir}/subs.srt",
        "-i",
        "{dir}/chapters.txt",
        "-map",
        "0",
        "-map",
        "1",
        "-map",
        "2",
        "-map_metadata",
        "3",
        "-map_chapters",
        "3",
        "-attach",
        "{dir}/subs.srt",
        "-metadata:s:t:0",
        "mimetype=text/plain",
        "-metadata:s:t:0",
        "filename=subs.srt",
        "-c:v",
        "libx264",
        "-c:a",
        "aac",
        "-c:s",
        "srt",
        "-metadata:s:s:0",
        "language=eng",
        "-metadata:s:v:0",
        "title=Picture",
    ],
    ext: "mkv",
};

/// srt subtitles, chapters, global and stream tags and an attachment.
mod subtitles_chapters {
    use super::*;

    #[test]
    fn default_mapping_x264() {
        check(&SUBTITLES_CHAPTERS, X264_LOSSLESS, "mkv");
    }

    #[test]
    fn default_mapping_ffv1() {
        check(&SUBTITLES_CHAPTERS, FFV1, "mkv");
    }

    #[test]
    fn every_stream_copied() {
        let encode = ["-map", "0", "-c", "copy", "-c:v", "libx264", "-qp", "0"];
        check(&SUBTITLES_CHAPTERS, &encode, "mkv");
    }
}

/// An overlay of what is not one still image (a video, as for picture in
/// picture; an animated GIF) runs through ffmpeg: what it draws changes
/// with time, and a node is only ever sent one image.
#[test]
fn an_overlay_that_moves_runs_through_ffmpeg() {
    let source = Source {
        name: "h264",
        make: &["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2", "-c:v", "libx264"],
        ext: "mkv",
    };
    for input in ["{dir}/moving.mkv", "{dir}/animated.gif"] {
        let encode = [
            "-i",
            input,
            "-filter_complex",
            "[0:v][1:v]overlay=8:8",
            "-c:v",
            "libx264",
            "-qp",
            "0",
        ];
        check_fallback(&source, &encode, "mkv", "input #1 of the overlay is not one still image");
    }
}

/// HDR video whose colour description only its container holds (FFV1 in
/// Matroska; H.264 would repeat it in its VUI), which the chunks' NUT
/// container loses: the nodes' decoders get it from the spec. Without it
/// the tone-mapping chain finds no path between colour spaces on the nodes,
/// and the encoders write no colour description.
#[test]
fn colour_only_in_the_container_reaches_the_nodes() {
    let source = Source {
        name: "hdr_ffv1",
        make: &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=25:duration=2",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=2",
            "-vf",
            "format=yuv420p10le",
            "-color_primaries",
            "bt2020",
            "-color_trc",
            "smpte2084",
            "-colorspace",
            "bt2020nc",
            "-color_range",
            "tv",
            "-c:v",
            "ffv1",
            "-c:a",
            "flac",
        ],
        ext: "mkv",
    };
    // HDR to SDR as the usual recipe writes it.
    let tone_mapped = x264_lossless_after!(
        "-vf",
        "zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,\
         tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv,format=yuv420p"
    );
    check(&source, tone_mapped, "mkv");
    check(&source, X264_LOSSLESS, "mkv");
    check(&source, &["-c:v", "libx265", "-x265-params", "lossless=1:log-level=error"], "mp4");
    // RGB, whose matrix ffprobe calls `gbr` and the options `rgb`, with a
    // transfer ffprobe calls `bt470bg` and the options `gamma28`.
    let rgb = Source {
        name: "rgb_ffv1",
        make: &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=25:duration=2",
            "-pix_fmt",
            "bgr0",
            "-colorspace",
            "rgb",
            "-color_trc",
            "gamma28",
            "-c:v",
            "ffv1",
        ],
        ext: "mkv",
    };
    check(&rgb, FFV1, "mkv");
    check(&rgb, X264_LOSSLESS, "mkv");
}

/// Interlaced FFV1 whose field order only its container says: FFV1's
/// decoder marks the frames by it, and the encoders and the output's
/// container follow (ffmpeg alone writes `tb`), so the nodes' decoders get
/// it too.
#[test]
fn field_order_only_in_the_container_reaches_the_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("interlaced.mkv");
    let src_s = src.to_str().unwrap();
    let lavfi = "testsrc2=size=160x120:rate=25:duration=2,setfield=tff";
    ffmpeg(&["-f", "lavfi", "-i", lavfi, "-c:v", "ffv1", "-field_order", "tt", src_s]);
    let node = Node::start(2);
    let field_order = |file: &Path| probe(file)["streams"][0]["field_order"].clone();
    for tail in [&["-c:v", "ffv1"][..], X264_LOSSLESS] {
        let (plain, dist) = (dir.path().join("plain.mkv"), dir.path().join("dist.mkv"));
        plain_encode(&[], &src, tail, &plain);
        let extra = ["-v", "verbose", "--segment-duration", "0.5"];
        let stderr = distributed_encode(&[&node], &extra, &[], &src, tail, &dist);
        assert!(stderr.contains(" chunks on 1 nodes"), "{tail:?}: {stderr}");
        assert_eq!(field_order(&dist), field_order(&plain), "{tail:?}");
        assert_eq!(framemd5(&dist, "0:v", false), framemd5(&plain, "0:v", false), "{tail:?}");
    }
}

/// A phone's portrait video: its container says to turn the picture (a
/// display matrix), which ffmpeg alone does before the video's filters
/// (autorotate) and a chunk's container forgets. Every turn, alone, under a
/// filter and under an overlay, gives ffmpeg alone's frames and size.
#[test]
fn a_turned_video_is_turned_as_ffmpeg_turns_it() {
    let dir = tempfile::tempdir().unwrap();
    let upright = made(&OPEN_GOP_MP4, dir.path(), "upright.mp4");
    let logo = dir.path().join("logo.png");
    ffmpeg(&["-f", "lavfi", "-i", "testsrc2=size=32x24", "-frames:v", "1", logo.to_str().unwrap()]);
    let node = Node::start(2);
    let overlay = format!("-i {} -filter_complex overlay=W-w:0", logo.display());
    let size = |file: &Path| {
        let p = probe(file);
        let video = &p["streams"][0];
        (video["width"].clone(), video["height"].clone())
    };
    for angle in ["90", "180", "270", "30"] {
        let src = dir.path().join(format!("turned{angle}.mp4"));
        let rotate = format!("rotate={angle}");
        let (upright_s, src_s) = (upright.to_str().unwrap(), src.to_str().unwrap());
        ffmpeg(&["-i", upright_s, "-c", "copy", "-metadata:s:v:0", &rotate, src_s]);
        // An output rate: ffmpeg reads packet durations where the user gave
        // no filters, which the turn does not change.
        let cases = ["-c:a copy", "-r 24 -c:a copy", "-vf crop=iw/2:ih:0:0 -c:a copy", &overlay];
        for filters in cases {
            let what = format!("{rotate} {filters}");
            let tail: Vec<&str> =
                filters.split(' ').chain(["-c:v", "libx264", "-qp", "0"]).collect();
            let (plain, dist) = (dir.path().join("plain.mkv"), dir.path().join("dist.mkv"));
            plain_encode(&[], &src, &tail, &plain);
            let extra = ["-v", "verbose", "--segment-duration", "0.5"];
            let stderr = distributed_encode(&[&node], &extra, &[], &src, &tail, &dist);
            assert!(stderr.contains(" chunks on 1 nodes"), "{what}: {stderr}");
            assert_eq!(size(&dist), size(&plain), "{what}");
            assert_eq!(framemd5(&dist, "0:v", false), framemd5(&plain, "0:v", false), "{what}");
        }
    }
}

/// `-noautorotate`: the picture as stored, and in MP4 and MOV the input's
/// display matrix on the output's video, as ffmpeg alone copies it; into
/// Matroska no matrix. Frame-exact, with the same side data.
#[test]
fn noautorotate_keeps_the_picture_and_its_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let upright = made(&OPEN_GOP_MP4, dir.path(), "upright.mp4");
    let node = Node::start(2);
    let matrix = |file: &Path| {
        let out = Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "v", "-show_entries"])
            .args(["stream=width,height:stream_side_data", "-of", "compact"])
            .arg(file)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    for angle in ["90", "180", "270", "30"] {
        let src = dir.path().join(format!("turned{angle}.mp4"));
        let rotate = format!("rotate={angle}");
        let (upright_s, src_s) = (upright.to_str().unwrap(), src.to_str().unwrap());
        ffmpeg(&["-i", upright_s, "-c", "copy", "-metadata:s:v:0", &rotate, src_s]);
        // The audio first: the matrix goes on output stream 1.
        let tail = ["-map", "0:a", "-map", "0:v", "-c:v", "libx264", "-qp", "0", "-c:a", "copy"];
        // A graph of two inputs: its output has no source stream to copy
        // the matrix from, in ffmpeg alone.
        let graph = [
            "-filter_complex",
            "[0:v]scale=80:60[v];[0:a]volume=0.5[a]",
            "-map",
            "[v]",
            "-map",
            "[a]",
            "-c:v",
            "libx264",
            "-qp",
            "0",
        ];
        let cases =
            [("mp4", &tail[..]), ("mov", &tail[..]), ("mkv", &tail[..]), ("mp4", &graph[..])];
        for (ext, tail) in cases {
            let what = format!("{rotate} {} into {ext}", tail[0]);
            let plain = dir.path().join(format!("plain.{ext}"));
            let dist = dir.path().join(format!("dist.{ext}"));
            plain_encode(&["-noautorotate"], &src, tail, &plain);
            let extra = ["-v", "verbose", "--segment-duration", "0.5"];
            let stderr =
                distributed_encode(&[&node], &extra, &["-noautorotate"], &src, tail, &dist);
            assert!(stderr.contains(" chunks on 1 nodes"), "{what}: {stderr}");
            assert_eq!(matrix(&dist), matrix(&plain), "{what}");
            let kept = ext != "mkv" && tail[0] != "-filter_complex";
            assert_eq!(kept, matrix(&plain).contains("Display Matrix"), "{what}");
            assert_eq!(framemd5(&dist, "0:v", false), framemd5(&plain, "0:v", false), "{what}");
        }
    }
}

/// A concat list of clips alike (`-f concat -i list.txt`: each clip's
/// timestamps moved on past the ones before, B-frames at every join), read
/// through the same demuxer by every reader: frame-exact in Matroska and
/// MP4, audio too. Clips whose video differ (ffmpeg alone scales later ones
/// to the first's size) and lists with other directives run through
/// ffmpeg, with the reason.
#[test]
fn concat_list_of_clips() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let clip = |name: &str, size: &str, seconds: &str, tone: &str| {
        let video = format!("testsrc2=size={size}:rate=25:duration={seconds}");
        let audio = format!("sine=frequency={tone}:duration={seconds}");
        let make = ["-f", "lavfi", "-i", &video, "-f", "lavfi", "-i", &audio, "-c:v", "libx264"];
        ffmpeg(&[&make[..], &["-bf", "3", "-g", "20", "-c:a", "aac", &at(name)]].concat());
    };
    clip("one.mp4", "320x240", "1.7", "440");
    clip("two.mp4", "320x240", "2.3", "660");
    clip("small.mp4", "160x120", "1", "880");
    let list = |name: &str, text: &str| {
        std::fs::write(dir.path().join(name), text).unwrap();
        dir.path().join(name)
    };
    let alike =
        list("alike.txt", "ffconcat version 1.0\nfile one.mp4\nfile 'two.mp4'\nfile one.mp4\n");
    let (a, b) = (Node::start(1), Node::start(1));
    let extra = ["-v", "verbose", "--segment-duration", "0.5"];
    let concat = ["-f", "concat"];
    for ext in ["mkv", "mp4"] {
        let (plain, dist) =
            (dir.path().join(format!("plain.{ext}")), dir.path().join(format!("dist.{ext}")));
        plain_encode(&concat, &alike, X264_LOSSLESS, &plain);
        let stderr = distributed_encode(&[&a, &b], &extra, &concat, &alike, X264_LOSSLESS, &dist);
        assert!(stderr.contains("on 2 nodes"), "{ext}: {stderr}");
        assert_eq!(framemd5(&dist, "0:v", false), framemd5(&plain, "0:v", false), "{ext}");
        assert_eq!(framemd5(&dist, "0:a", true), framemd5(&plain, "0:a", true), "{ext}");
    }
    // Clips whose audio outlasts their video: the next clip's video starts
    // after a gap, at a keyframe (so at a chunk's start), which ffmpeg
    // alone fills in MP4 by repeating the frame before it.
    let gapped = |name: &str| {
        let video = "testsrc2=size=160x120:rate=30000/1001:duration=2";
        let make = ["-f", "lavfi", "-i", video, "-f", "lavfi", "-i", "sine=duration=2.3"];
        ffmpeg(
            &[&make[..], &["-c:v", "libx264", "-g", "15", "-c:a", "libopus", &at(name)]].concat(),
        );
    };
    gapped("g1.mkv");
    gapped("g2.mkv");
    let gaps = list("gaps.txt", "file g1.mkv\nfile g2.mkv\nfile g1.mkv\n");
    let (plain, dist) = (dir.path().join("plain.mp4"), dir.path().join("dist.mp4"));
    let encode = ["-c:v", "libx264", "-qp", "0", "-c:a", "aac"];
    plain_encode(&concat, &gaps, &encode, &plain);
    let stderr = distributed_encode(&[&a, &b], &extra, &concat, &gaps, &encode, &dist);
    assert!(stderr.contains("on 2 nodes"), "{stderr}");
    assert_eq!(framemd5(&dist, "0:v", false), framemd5(&plain, "0:v", false), "gaps");
    // Alike but for H.264's parameter sets (CABAC off), which the demuxer
    // repeats before IDR frames only: a chunk at another keyframe of the
    // second clip would decode with the first one's.
    let make = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2", "-c:v"];
    let x264 = ["libx264", "-g", "10", "-x264-params", "open-gop=1:cabac=0"];
    ffmpeg(&[&make[..], &x264, &[&at("cavlc.mp4")]].concat());
    let unlike = list("unlike.txt", "file one.mp4\nfile small.mp4\n");
    let trimmed = list("trimmed.txt", "file one.mp4\ninpoint 0.5\nfile two.mp4\n");
    let headers = list("headers.txt", "file one.mp4\nfile cavlc.mp4\n");
    list("inner.ffconcat", "ffconcat version 1.0\nfile two.mp4\nfile small.mp4\n");
    let nested = list("nested.txt", "file one.mp4\nfile inner.ffconcat\n");
    // Found by its header, without -f concat.
    let found = list("found.ffconcat", "ffconcat version 1.0\nfile one.mp4\nfile small.mp4\n");
    for (before, list, reason) in [
        (&concat[..], unlike, "differ in their video"),
        (&concat[..], trimmed, "the directive inpoint"),
        (&concat[..], headers, "differ in their video"),
        (&concat[..], nested, "a concat list inside the list"),
        (&[][..], found, "differ in their video"),
    ] {
        let encode = ["-c:v", "ffv1"];
        let (plain, dist) = (dir.path().join("plain.mkv"), dir.path().join("dist.mkv"));
        plain_encode(before, &list, &encode, &plain);
        let stderr = distributed_encode(&[&a], &extra, before, &list, &encode, &dist);
        assert!(stderr.contains("running with ffmpeg: concat list"), "{stderr}");
        assert!(stderr.contains(reason), "{stderr}");
        assert_eq!(framemd5(&dist, "0:v", false), framemd5(&plain, "0:v", false));
    }
}

/// A MOV of MJPEG cut with `-ss -c copy`: the mjpeg decoder (as libdav1d
/// for AV1) shows the frames of packets the container marks discarded,
/// which ffmpeg alone then encodes; such a stream runs through ffmpeg.
#[test]
fn a_cut_whose_decoder_shows_discarded_frames_runs_through_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let clip = "testsrc2=size=160x120:rate=25:duration=3";
    ffmpeg(&["-f", "lavfi", "-i", clip, "-c:v", "mjpeg", "-q:v", "3", &at("uncut.mov")]);
    ffmpeg(&["-ss", "1.31", "-i", &at("uncut.mov"), "-c", "copy", &at("cut.mov")]);
    let node = Node::start(1);
    let encode = ["-c:v", "ffv1"];
    let (src, plain, dist) =
        (dir.path().join("cut.mov"), dir.path().join("plain.mkv"), dir.path().join("dist.mkv"));
    plain_encode(&[], &src, &encode, &plain);
    let extra = ["-v", "verbose", "--segment-duration", "0.5"];
    let stderr = distributed_encode(&[&node], &extra, &[], &src, &encode, &dist);
    assert!(stderr.contains("the mjpeg decoder still shows its frame"), "{stderr}");
    assert_eq!(framemd5(&dist, "0:v", false), framemd5(&plain, "0:v", false));
}

/// A stream with two frames of one timestamp (ffmpeg alone encodes both;
/// chunks, trimmed by timestamp, cannot tell them apart) runs through
/// ffmpeg, which encodes it as it always does.
#[test]
fn frames_of_one_timestamp_run_through_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("twice.mkv");
    let clip = "testsrc2=size=160x120:rate=25:duration=4";
    let twice = "setpts='if(eq(N,10),(N-1)/(25*TB),N/(25*TB))'";
    let make = ["-f", "lavfi", "-i", clip, "-vf", twice, "-fps_mode", "passthrough", "-c:v"];
    ffmpeg(&[&make[..], &["ffv1", src.to_str().unwrap()]].concat());
    let node = Node::start(1);
    let encode = ["-c:v", "ffv1"];
    let (plain, dist) = (dir.path().join("plain.mkv"), dir.path().join("dist.mkv"));
    plain_encode(&[], &src, &encode, &plain);
    let extra = ["-v", "verbose", "--segment-duration", "0.5"];
    let stderr = distributed_encode(&[&node], &extra, &[], &src, &encode, &dist);
    assert!(stderr.contains("running with ffmpeg: video packet"), "{stderr}");
    assert!(stderr.contains("share the timestamp"), "{stderr}");
    assert_eq!(framemd5(&dist, "0:v", false), framemd5(&plain, "0:v", false));
}

/// Subtitle files whose events a chunk might draw otherwise than ffmpeg
/// alone, found before anything is encoded, run through ffmpeg: the last
/// event going back in time (`subtitles` shows it to the end), an ASS line
/// its demuxer does not read but libass does, glyphs drawn with a fallback
/// font (found through fontconfig's fallback order, which is not sent), a
/// MicroDVD file named `.srt` (read by its content, in frames).
#[test]
fn subtitles_a_chunk_could_draw_otherwise_run_through_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.mkv");
    let clip = "testsrc2=size=160x120:rate=25:duration=2";
    ffmpeg(&["-f", "lavfi", "-i", clip, "-c:v", "ffv1", src.to_str().unwrap()]);
    let ass = |events: &str| {
        format!(
            "[Script Info]\nScriptType: v4.00+\n\n[V4+ Styles]\nFormat: Name, Fontname, \
             Fontsize, PrimaryColour, Bold, Italic, Alignment\nStyle: Default,DejaVu Serif,20,\
             &H00FFFFFF,0,0,2\n\n[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, \
             MarginR, MarginV, Effect, Text\n{events}"
        )
    };
    let cases = [
        (
            "backwards.srt",
            "1\n00:00:00,200 --> 00:00:01,000\nFirst\n\n2\n00:00:01,000 --> 00:00:00,500\nBack\n"
                .to_string(),
            "an event of negative length",
        ),
        (
            "hidden.ass",
            ass("Dialogue: 0,0:00:00.00,0:00:00.50,Default,,0,0,0,,read\n \
                 Dialogue: 0,0:00:01.00,0:00:01.50,Default,,0,0,0,,{\\fnDejaVu Sans}unread\n"),
            "Dialogue lines its demuxer does not read",
        ),
        (
            "fallback.ass",
            ass(
                "Dialogue: 0,0:00:00.00,0:00:01.50,Default,,0,0,0,,Serif and \u{5e9}\u{5dc}\u{5d5}\u{5dd}\n",
            ),
            "with a fallback font",
        ),
        (
            "microdvd.srt",
            "{1}{1}23.976\n{1}{20}Frames\n{12}{24}counted\n{24}{48}at 23.976\n".to_string(),
            "does not begin as srt does",
        ),
    ];
    let node = Node::start(1);
    for (name, text, reason) in cases {
        let subtitle = dir.path().join(name);
        std::fs::write(&subtitle, text).unwrap();
        let filter = if name.ends_with(".ass") { "ass" } else { "subtitles" };
        let vf = format!("{filter}={}", subtitle.display());
        let encode = ["-vf", &vf, "-c:v", "ffv1"];
        let (plain, dist) = (dir.path().join("plain.mkv"), dir.path().join("dist.mkv"));
        plain_encode(&[], &src, &encode, &plain);
        let extra = ["-v", "verbose", "--segment-duration", "0.5"];
        let stderr = distributed_encode(&[&node], &extra, &[], &src, &encode, &dist);
        assert!(
            stderr.contains("running with ffmpeg: ") && stderr.contains(reason),
            "{name}: {stderr}"
        );
        assert_eq!(framemd5(&dist, "0:v", false), framemd5(&plain, "0:v", false), "{name}");
    }
}

/// A font file FreeType cannot load: ffmpeg alone falls back to
/// fontconfig's font and draws anyway, where every chunk (whose node has
/// no fonts to fall back on) would fail; the coordinator tries the font
/// as the nodes would, and the command runs through ffmpeg.
#[test]
fn a_font_that_does_not_load_runs_through_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.mkv");
    let clip = "testsrc2=size=160x120:rate=25:duration=2";
    ffmpeg(&["-f", "lavfi", "-i", clip, "-c:v", "ffv1", src.to_str().unwrap()]);
    let font = dir.path().join("broken.ttf");
    std::fs::write(&font, b"not a font").unwrap();
    let drawtext = format!("drawtext=fontfile={}:text=hello:fontcolor=white", font.display());
    let encode = ["-vf", &drawtext, "-c:v", "ffv1"];
    let (plain, dist) = (dir.path().join("plain.mkv"), dir.path().join("dist.mkv"));
    plain_encode(&[], &src, &encode, &plain);
    let node = Node::start(1);
    let extra = ["-v", "verbose", "--segment-duration", "0.5"];
    let stderr = distributed_encode(&[&node], &extra, &[], &src, &encode, &dist);
    assert!(stderr.contains("running with ffmpeg: drawtext's font file"), "{stderr}");
    assert_eq!(framemd5(&dist, "0:v", false), framemd5(&plain, "0:v", false));
}

/// A media server's transcode (Jellyfin's form): every input named
/// `file:PATH` and given `-analyzeduration 200M -probesize 1G -fflags
/// +genpts`, the video's options written for output stream `:0`, forced
/// keyframes as `expr:gte(t,0+n_forced*N)`, the audio bitrate as `-ab` and
/// the muxer's `-max_delay`. Each reader of the input is given the same
/// options, so the frames are ffmpeg alone's; on the sources whose
/// timestamps the demuxer generates (AVI, MPEG-PS) and a transport stream
/// whose audio starts first.
#[test]
fn media_server_input_and_output_options() {
    let before = ["-analyzeduration", "200M", "-probesize", "1G", "-fflags", "+genpts"];
    let encode = [
        "-map",
        "0:v:0",
        "-map",
        "0:a:0",
        "-codec:v:0",
        "libx264",
        "-qp",
        "0",
        "-x264opts:0",
        "subme=0:me_range=4:rc_lookahead=10:me=dia:no-chroma-me:8x8dct=0:partitions=none",
        // Given twice: the last wins, as in ffmpeg.
        "-force_key_frames",
        "0.3",
        "-force_key_frames:0",
        "expr:gte(t,0.2+n_forced*0.7)",
        "-codec:a:0",
        "aac",
        "-ab",
        "128000",
        "-max_delay",
        "5000000",
    ];
    for (source, out_ext) in
        [(&TRANSPORT_STREAM, "ts"), (&PROGRAM_STREAM, "mkv"), (&MPEG4_AVI, "mkv")]
    {
        let dir = tempfile::tempdir().unwrap();
        let src = made(source, dir.path(), &format!("{}.{}", source.name, source.ext));
        let url = format!("file:{}", src.display());
        let plain = dir.path().join(format!("plain.{out_ext}"));
        let dist = dir.path().join(format!("dist.{out_ext}"));
        plain_encode(&before, Path::new(&url), &encode, &plain);
        let (a, b) = (Node::start(1), Node::start(1));
        let extra = ["-loglevel", "verbose", "--segment-duration", "0.5"];
        let stderr =
            distributed_encode(&[&a, &b], &extra, &before, Path::new(&url), &encode, &dist);
        assert!(stderr.contains("on 2 nodes"), "{} was not distributed: {stderr}", source.name);
        for map in ["0:v", "0:a"] {
            assert_eq!(
                framemd5(&dist, map, false),
                framemd5(&plain, map, false),
                "{}: {map} differs",
                source.name
            );
        }
        let keyframes = |file: &Path| {
            let out = Command::new("ffprobe")
                .args(["-v", "error", "-select_streams", "v", "-show_entries", "packet=pts,flags"])
                .args(["-of", "csv"])
                .arg(file)
                .output()
                .unwrap();
            let text = String::from_utf8(out.stdout).unwrap();
            text.lines().filter(|l| l.contains(",K")).map(String::from).collect::<Vec<_>>()
        };
        // Every chunk starts on a keyframe too; each forced one is kept.
        let (forced, ours) = (keyframes(&plain), keyframes(&dist));
        assert!(forced.len() >= 3, "{}: no forced keyframes", source.name);
        let lost: Vec<_> = forced.iter().filter(|k| !ours.contains(k)).collect();
        assert!(lost.is_empty(), "{}: forced keyframes lost: {lost:?}", source.name);
    }
}

/// `:0` names output stream 0, which only the probe orders: with the audio
/// mapped first, `-x264opts:0` is the audio encoder's, as ffmpeg alone
/// takes it, so the command runs through ffmpeg.
#[test]
fn an_index_that_is_not_the_video_runs_through_ffmpeg() {
    let encode =
        ["-map", "0:a", "-map", "0:v", "-c:v", "libx264", "-qp", "0", "-x264opts:0", "me=dia"];
    check_fallback(
        &TRANSPORT_STREAM,
        &encode,
        "mkv",
        "options for the video name output stream #0, which is not the video",
    );
}

/// `-max_delay` into MPEG-TS, whose muxer offsets every timestamp by it:
/// with audio copied from Matroska the output is written twice (through
/// tee, then copied), and the second run, which writes the file, gets it.
#[test]
fn max_delay_reaches_the_transport_stream_muxer() {
    let encode = ["-c:v", "libx264", "-qp", "0", "-c:a", "copy", "-max_delay", "5000000"];
    check(&OPEN_GOP, &encode, "ts");
}

/// Video alone, in Matroska.
const VIDEO_ONLY: Source = Source {
    name: "video_only",
    make: &["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=2", "-c:v", "libx264"],
    ext: "mkv",
};

/// The input's `-itsoffset`, later and earlier: every timestamp ffmpeg
/// reads moves by it, the video's through the chunks' offset, the audio's
/// in the final mux; into MP4 the late video is filled from 0 by repeats
/// of its first frame (CFR, as ffmpeg alone: no longer VSCFR). Not on a
/// transport stream, whose start ffmpeg would no longer correct, nor a
/// negative one into Matroska, whose duration comes out 26 ms short.
#[test]
fn input_timestamp_offset() {
    for offset in ["0.5", "-0.3"] {
        let before = ["-itsoffset", offset];
        // A negative offset into Matroska runs through ffmpeg (`route`).
        let sources = if offset.starts_with('-') {
            vec![(&OPEN_GOP, "mp4"), (&OPEN_GOP_MP4, "mov")]
        } else {
            vec![(&OPEN_GOP, "mkv"), (&OPEN_GOP, "mp4"), (&OPEN_GOP_MP4, "mov")]
        };
        // Chapters move by the offset too.
        let chapters = if offset.starts_with('-') { "mp4" } else { "mkv" };
        for (source, ext) in sources.into_iter().chain([(&SUBTITLES_CHAPTERS, chapters)]) {
            check_after_input_options(source, &before, X264_LOSSLESS_AAC, ext, true);
        }
        // One stream: without the offset ffmpeg would not fill from 0.
        check_after_input_options(
            &VIDEO_ONLY,
            &before,
            &["-c:v", "libx264", "-qp", "0"],
            "mp4",
            true,
        );
    }
    check_fallback_after(
        &TRANSPORT_STREAM,
        &["-itsoffset", "0.5"],
        X264_LOSSLESS,
        "mkv",
        "input -itsoffset on mpegts is not reproduced yet",
    );
    check_fallback_after(
        &OPEN_GOP,
        &["-itsoffset", "-0.3"],
        X264_LOSSLESS_AAC,
        "mkv",
        "a negative input -itsoffset into matroska is not distributable yet",
    );
}

/// Subtitles on an output cut with `-t`: events after the cut are never
/// drawn, so their fonts are not checked (`subtitle_events::horizon_ms`);
/// the monospaced line at 1.5 s still is, and draws in its own font.
#[test]
fn burnt_in_subtitles_up_to_a_length() {
    let mut encode = WITH_BURNT_IN_SUBTITLES.to_vec();
    encode.extend(["-t", "1.8"]);
    check(&OPEN_GOP, &encode, "mkv");
}
