//! The command-line corpus (`tests/corpus/commands.txt`): real ffmpeg command
//! lines, each with the route dffmpeg must take, and the input files they name.

use std::path::{Path, PathBuf};

use crate::ffmpeg;

/// Where a corpus line must go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Split over the nodes.
    Distribute,
    /// Handed to the real ffmpeg, which runs it.
    Ffmpeg,
    /// Refused by ffmpeg's own command-line splitter.
    Reject,
}

/// One command line of the corpus.
#[derive(Debug, Clone)]
pub struct Line {
    /// Line number in the file, for messages.
    pub number: usize,
    /// The expected route.
    pub route: Route,
    /// True when the side-by-side suite runs it under ffmpeg and dffmpeg.
    pub e2e: bool,
    /// The arguments after `ffmpeg`.
    pub argv: Vec<String>,
    /// The line as written, for messages.
    pub text: String,
}

/// The corpus file.
pub fn path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/commands.txt")
}

/// Reads and checks the corpus; panics on a malformed line.
pub fn load() -> Vec<Line> {
    let text = std::fs::read_to_string(path()).expect("reading the corpus");
    let mut lines = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let raw = raw.trim();
        if raw.is_empty() || raw.starts_with('#') {
            continue;
        }
        let (head, command) =
            raw.split_once('|').unwrap_or_else(|| panic!("line {number}: no '|' in {raw}"));
        let mut words = head.split_whitespace();
        let route = match words.next() {
            Some("distribute") => Route::Distribute,
            Some("ffmpeg") => Route::Ffmpeg,
            Some("reject") => Route::Reject,
            other => panic!("line {number}: unknown route {other:?}"),
        };
        let e2e = words.any(|w| w == "e2e");
        let argv = shlex::split(command.trim())
            .unwrap_or_else(|| panic!("line {number}: unbalanced quotes in {command}"));
        lines.push(Line { number, route, e2e, argv, text: command.trim().to_string() });
    }
    lines
}

/// Input names the corpus may use, and how the media for each is made.
const INPUTS: &[(&str, &[&str])] = &[
    ("in.mp4", &["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"]),
    ("in.mov", &["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"]),
    ("in.ts", &["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "mp2"]),
    ("in.avi", &["-c:v", "mpeg4", "-q:v", "3", "-c:a", "mp3"]),
    (
        "in.webm",
        &["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus"],
    ),
];

/// Writes every input the corpus names into `dir`: real 2 s clips when `real`,
/// otherwise a few bytes each (enough for routing and for ffmpeg's splitter).
pub fn make_inputs(dir: &Path, real: bool) {
    let names = [
        "in.mkv",
        "in.wav",
        "in.srt",
        "logo.png",
        "list.txt",
        "grade.cube",
        "font.ttf",
        "title.txt",
    ];
    std::fs::create_dir_all(dir.join("frames")).unwrap();
    if !real {
        for name in INPUTS.iter().map(|(n, _)| *n).chain(names).chain(["frames/f_0001.png"]) {
            std::fs::write(dir.join(name), b"not media").unwrap();
        }
        return;
    }
    let at = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let srt =
        "1\n00:00:00,200 --> 00:00:01,000\nhello\n\n2\n00:00:01,200 --> 00:00:01,800\nworld\n";
    std::fs::write(dir.join("in.srt"), srt).unwrap();
    let chapters = ";FFMETADATA1\ntitle=corpus clip\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1000\ntitle=one\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=1000\nEND=2000\ntitle=two\n";
    std::fs::write(dir.join("chapters.txt"), chapters).unwrap();
    let video = "testsrc2=duration=2:size=320x240:rate=25";
    let audio = "sine=frequency=440:duration=2:sample_rate=48000";
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        video,
        "-f",
        "lavfi",
        "-i",
        audio,
        "-i",
        &at("in.srt"),
        "-i",
        &at("chapters.txt"),
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-map",
        "2:s",
        "-map_metadata",
        "3",
        "-map_chapters",
        "3",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "12",
        "-c:a",
        "aac",
        "-c:s",
        "srt",
        "-metadata:s:a:0",
        "language=eng",
        &at("in.mkv"),
    ]);
    for (name, codecs) in INPUTS {
        let mut args = vec!["-f", "lavfi", "-i", video, "-f", "lavfi", "-i", audio, "-g", "12"];
        args.extend(*codecs);
        let out = at(name);
        args.push(&out);
        ffmpeg(&args);
    }
    ffmpeg(&["-f", "lavfi", "-i", audio, &at("in.wav")]);
    // A rendered image sequence: frames/f_0001.png to f_0050.png.
    ffmpeg(&["-f", "lavfi", "-i", video, &at("frames/f_%04d.png")]);
    ffmpeg(&["-f", "lavfi", "-i", "testsrc2=size=64x64", "-frames:v", "1", &at("logo.png")]);
    std::fs::write(dir.join("list.txt"), "file 'in.mp4'\nfile 'in.mov'\n").unwrap();
    std::fs::write(dir.join("grade.cube"), crate::grade_lut()).unwrap();
    crate::copy_font(&dir.join("font.ttf"));
    // A slate's text, as drawtext reads it from a file: expanded, with
    // the time and the frame number.
    std::fs::write(dir.join("title.txt"), "Scene 12, take 3\n%{pts:hms} #%{n}\n").unwrap();
}
