//! The commands of `tests/corpus/lossy.txt`, each run by ffmpeg alone and by
//! dffmpeg on one node, compared by their packets' timing.
//!
//! The fidelity suite encodes losslessly and compares frames, but lossless
//! settings change the encoder's timing: x264 `-qp 0` hid three bugs that
//! its default B-frames show (a frame too many under `-t`, frames moved by an
//! output `-ss` between frames, a whole chunk lost to the final mux's
//! `-ss`). Here the encoders run at their defaults, the pixels differ chunk
//! by chunk, and what must match is when every packet is: video timestamps
//! and durations, audio timestamps and sizes, start time and duration, and
//! the video's tag, size, aspect ratio and pixel format.

use std::path::Path;
use std::process::Command;

use tests::{Node, distributed_encode, ffmpeg, plain_encode, probe, seconds, segment_listing};

/// The sources the corpus names, made with lavfi (160x120, 5 s): name,
/// video rate, what is done to the video, audio encoder (none: video only).
const SOURCES: &[(&str, &str, &str, Option<&str>)] = &[
    ("av.mkv", "25", "-c:v libx264 -g 50", Some("aac")),
    ("av.mp4", "30000/1001", "-c:v libx264 -g 40", Some("aac")),
    ("av.ts", "25", "-c:v libx264 -g 25", Some("mp2")),
    ("vfr.mkv", "30", "-vf select='not(between(n,20,35))' -fps_mode vfr -c:v libx264", None),
    ("av.avi", "25", "-c:v mpeg4 -bf 2", Some("libmp3lame")),
];

/// Makes one of [`SOURCES`] in `dir`.
fn make_source(dir: &Path, (name, rate, video, audio): (&str, &str, &str, Option<&str>)) {
    let graph = format!("testsrc2=size=160x120:rate={rate}:duration=5");
    let mut args = vec!["-f", "lavfi", "-i", &graph];
    if audio.is_some() {
        args.extend(["-f", "lavfi", "-i", "sine=duration=5"]);
    }
    args.extend(video.split(' '));
    if let Some(codec) = audio {
        args.extend(["-c:a", codec]);
    }
    let path = dir.join(name);
    args.push(path.to_str().unwrap());
    ffmpeg(&args);
}

/// One line of the corpus.
struct Case {
    line: String,
    distribute: bool,
    source: String,
    before_input: Vec<String>,
    encode: Vec<String>,
    output: String,
}

fn cases() -> Vec<Case> {
    let text = include_str!("../corpus/lossy.txt");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|line| {
            let fields: Vec<&str> = line.split('|').map(str::trim).collect();
            assert_eq!(fields.len(), 3, "not route | source | arguments: {line}");
            let distribute = match fields[0] {
                "distribute" => true,
                "ffmpeg" => false,
                other => panic!("route {other:?} in {line}"),
            };
            let args: Vec<String> = fields[2].split_whitespace().map(String::from).collect();
            let at = args.iter().position(|a| a == "IN").expect("no IN") - 1;
            assert_eq!(args[at], "-i", "IN must follow -i: {line}");
            Case {
                line: line.to_string(),
                distribute,
                source: fields[1].to_string(),
                before_input: args[..at].to_vec(),
                encode: args[at + 2..args.len() - 1].to_vec(),
                output: args.last().unwrap().clone(),
            }
        })
        .collect()
}

/// `ffprobe -show_entries packet=...` of one stream type, sorted by time.
fn packets(file: &Path, select: &str, entries: &str) -> Vec<String> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", select, "-show_entries"])
        .arg(format!("packet={entries}"))
        .args(["-of", "csv=p=0"])
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success(), "ffprobe {}", file.display());
    let mut lines: Vec<String> =
        String::from_utf8(out.stdout).unwrap().lines().map(String::from).collect();
    let time = |l: &String| l.split(',').next().and_then(|t| t.parse::<f64>().ok());
    lines.sort_by(|a, b| time(a).partial_cmp(&time(b)).unwrap_or(std::cmp::Ordering::Equal));
    lines
}

/// How `dist` differs from `plain`, if it does.
fn differences(plain: &Path, dist: &Path) -> Vec<String> {
    let mut found = Vec::new();
    // AVI stores no presentation times: a demuxer guesses some from the
    // frame types, which differ at chunk starts; its decode times are what
    // the file holds.
    let avi = plain.extension().is_some_and(|e| e == "avi");
    let video = if avi { "dts_time,duration_time" } else { "pts_time,duration_time" };
    for (select, entries) in [("v", video), ("a", "pts_time,size")] {
        let (p, d) = (packets(plain, select, entries), packets(dist, select, entries));
        if p.len() != d.len() {
            found.push(format!("{} {select} packets, ffmpeg {}", d.len(), p.len()));
        } else if let Some(i) = (0..p.len()).find(|&i| p[i] != d[i]) {
            found.push(format!("{select} packet {i} at {}, ffmpeg at {}", d[i], p[i]));
        }
    }
    // Segments are cut at keyframes: the same cuts, the same playlist.
    let (listed, expected) = (segment_listing(dist), segment_listing(plain));
    if listed != expected {
        found.push(format!("playlist\n{listed:?}\nffmpeg's\n{expected:?}"));
    }
    let (p, d) = (probe(plain), probe(dist));
    let video = |v: &serde_json::Value| {
        let streams = v["streams"].as_array().cloned().unwrap_or_default();
        let s = streams.into_iter().find(|s| s["codec_type"] == "video").unwrap_or_default();
        ["codec_tag_string", "width", "height", "sample_aspect_ratio", "pix_fmt"]
            .map(|key| format!("{key}={}", s[key]))
            .join(" ")
    };
    if video(&p) != video(&d) {
        found.push(format!("video {}, ffmpeg {}", video(&d), video(&p)));
    }
    if p["format"]["start_time"] != d["format"]["start_time"] {
        found.push(format!(
            "start {}, ffmpeg {}",
            d["format"]["start_time"], p["format"]["start_time"]
        ));
    }
    let (pd, dd) = (seconds(&p["format"]["duration"]), seconds(&d["format"]["duration"]));
    // DESIGN: the same duration within one video frame.
    if (pd - dd).abs() > 1.0 / 24.0 {
        found.push(format!("duration {dd}, ffmpeg {pd}"));
    }
    found
}

#[test]
fn lossy_encodes_keep_ffmpegs_timing() {
    let dir = tempfile::tempdir().unwrap();
    for &source in SOURCES {
        make_source(dir.path(), source);
    }
    let node = Node::start(2);
    let mut failures = Vec::new();
    for case in cases() {
        let src = dir.path().join(&case.source);
        let ext = case.output.rsplit('.').next().unwrap();
        // Apart, as HLS and DASH write segments named alike beside the output.
        let (plain, dist) = (dir.path().join("plain"), dir.path().join("dist"));
        for side in [&plain, &dist] {
            let _ = std::fs::remove_dir_all(side);
            std::fs::create_dir(side).unwrap();
        }
        let (plain, dist) = (plain.join(format!("out.{ext}")), dist.join(format!("out.{ext}")));
        let before: Vec<&str> = case.before_input.iter().map(String::as_str).collect();
        let encode: Vec<&str> = case.encode.iter().map(String::as_str).collect();
        plain_encode(&before, &src, &encode, &plain);
        let extra = ["-v", "verbose", "--segment-duration", "1"];
        let stderr = distributed_encode(&[&node], &extra, &before, &src, &encode, &dist);
        let fell_back = stderr.contains("running with ffmpeg:");
        if fell_back == case.distribute {
            let said = stderr.lines().find(|l| l.contains("running with ffmpeg:")).unwrap_or("");
            failures.push(format!("{}: distributed {}; {said}", case.line, !fell_back));
            continue;
        }
        let found = differences(&plain, &dist);
        if !found.is_empty() {
            failures.push(format!("{}: {}", case.line, found.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of the lossy corpus differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
