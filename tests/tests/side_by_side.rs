//! The corpus lines marked `e2e`, run under the real ffmpeg and under dffmpeg
//! with two nodes, on the same generated media: same exit code, same files
//! written, the same playlists, and in each media file the same streams,
//! frame counts and duration; for lossless encodes the same decoded frames (framemd5). The
//! route is checked too: a `distribute` line must not fall back to ffmpeg.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use tests::corpus::{self, Line, Route};
use tests::{Node, bin, probe, seconds, segment_listing, stream_set};

#[test]
fn e2e_lines_match_ffmpeg() {
    let media = tempfile::tempdir().unwrap();
    corpus::make_inputs(media.path(), true);
    let inputs: BTreeSet<String> = names(media.path());
    let nodes = [Node::start(1), Node::start(1)];
    let lines: Vec<Line> = corpus::load().into_iter().filter(|l| l.e2e).collect();
    let mut failures = Vec::new();
    for line in &lines {
        let work = tempfile::tempdir().unwrap();
        let (theirs, ours) = (work.path().join("ffmpeg"), work.path().join("dffmpeg"));
        for dir in [&theirs, &ours] {
            std::fs::create_dir(dir).unwrap();
            for name in &inputs {
                std::os::unix::fs::symlink(media.path().join(name), dir.join(name)).unwrap();
            }
        }
        let reference = run(Command::new("ffmpeg"), &line.argv, &theirs);
        let mut dffmpeg = Command::new(bin("dffmpeg"));
        for node in &nodes {
            dffmpeg.args(["--nodes", &node.addr]);
        }
        dffmpeg.env("DFFMPEG_LOG", "info").env_remove("DFFMPEG_NODES");
        let result = run(dffmpeg, &line.argv, &ours);
        if let Err(problem) = compare(line, &reference, &result, &theirs, &ours, &inputs) {
            failures.push(format!("line {}: {}\n    {problem}", line.number, line.text));
        }
    }
    println!("ran {} corpus lines under ffmpeg and dffmpeg", lines.len());
    assert!(failures.is_empty(), "{} lines differ:\n{}", failures.len(), failures.join("\n"));
    for node in &nodes {
        assert!(node.leftovers().is_empty(), "a node kept chunk files");
    }
}

fn run(mut command: Command, argv: &[String], dir: &Path) -> Output {
    command
        .args(argv)
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn compare(
    line: &Line,
    reference: &Output,
    result: &Output,
    theirs: &Path,
    ours: &Path,
    inputs: &BTreeSet<String>,
) -> Result<(), String> {
    let stderr = String::from_utf8_lossy(&result.stderr);
    let reference_stderr = String::from_utf8_lossy(&reference.stderr);
    if reference.status.code() != result.status.code() {
        return Err(format!(
            "exit {:?}, ffmpeg exits {:?}\n    dffmpeg: {}",
            result.status.code(),
            reference.status.code(),
            tail(&stderr)
        ));
    }
    let fell_back = stderr.contains("[dffmpeg] running with ffmpeg");
    match line.route {
        Route::Distribute if fell_back => {
            return Err(format!("not distributed: {}", tail(&stderr)));
        }
        Route::Ffmpeg | Route::Reject if !fell_back => return Err("distributed".into()),
        _ => {}
    }
    // The shape of stderr: an error when ffmpeg fails, a stats line when it has one.
    if !reference.status.success() && stderr.trim().is_empty() {
        return Err("failed without a message".into());
    }
    if reference_stderr.contains("frame=") && !stderr.contains("frame=") {
        return Err("no stats line".into());
    }
    let written = |dir: &Path| -> BTreeSet<String> { &names(dir) - inputs };
    let (expected, got) = (written(theirs), written(ours));
    if expected != got {
        return Err(format!("wrote {got:?}, ffmpeg wrote {expected:?}"));
    }
    let lossless = ["-qp 0", "ffv1", "utvideo", "huffyuv", "ffvhuff", "-lossless 1", "-crf 0"]
        .iter()
        .any(|s| line.text.contains(s));
    for name in &expected {
        // A playlist lists where the muxer cut: the same text.
        let listing = segment_listing(&ours.join(name));
        if listing != segment_listing(&theirs.join(name)) {
            return Err(format!("{name}: the playlist differs:\n{listing:?}"));
        }
        compare_file(&theirs.join(name), &ours.join(name), lossless)
            .map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

fn compare_file(theirs: &Path, ours: &Path, lossless: bool) -> Result<(), String> {
    let is_media = Command::new("ffprobe")
        .args(["-v", "error"])
        .arg(theirs)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success();
    if !is_media {
        return Ok(());
    }
    let (a, b) = (probe(theirs), probe(ours));
    if stream_set(&a) != stream_set(&b) {
        return Err(format!("streams {:?}, ffmpeg {:?}", stream_set(&b), stream_set(&a)));
    }
    let (da, db) = (seconds(&a["format"]["duration"]), seconds(&b["format"]["duration"]));
    if (da - db).abs() > 0.05 {
        return Err(format!("duration {db}, ffmpeg {da}"));
    }
    let has_video = a["streams"].as_array().unwrap().iter().any(|s| s["codec_type"] == "video");
    if has_video {
        let (fa, fb) = (decoded(theirs), decoded(ours));
        let count = |t: &str| t.lines().filter(|l| !l.starts_with('#')).count();
        if count(&fa) != count(&fb) {
            return Err(format!("{} frames, ffmpeg {}", count(&fb), count(&fa)));
        }
        if lossless && fa != fb {
            return Err("lossless, but the decoded frames differ".into());
        }
    }
    Ok(())
}

/// The first video stream's decoded frames, as framemd5; empty when nothing
/// decodes (a DASH init segment).
fn decoded(file: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-map", "0:v:0", "-f", "framemd5", "-"])
        .output()
        .unwrap();
    if out.status.success() {
        String::from_utf8_lossy(&out.stdout).into_owned()
    } else {
        String::new()
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(3)..].join(" | ")
}
