//! Programs written for ffmpeg use dffmpeg unchanged: ffmpeg-python runs an
//! encode that gets distributed, and so does moviepy (through imageio-ffmpeg),
//! whose raw frames on a pipe become a clip with the frames it writes through
//! the real ffmpeg.
//!
//! The Python packages live in `target/python`, made by
//! `scripts/install-deps.sh` (which the README's test command runs).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tests::{Node, bin, framemd5, probe};

fn python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/python/bin/python");
    assert!(python.exists(), "{} is missing: run scripts/install-deps.sh", python.display());
    python
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python").join(name)
}

fn check(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "python failed ({}): {stderr}", out.status);
    stderr
}

#[test]
fn ffmpeg_python_runs_a_distributed_encode() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.mkv");
    tests::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=duration=3:size=320x240:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=3",
        "-c:v",
        "libx264",
        "-g",
        "25",
        "-c:a",
        "aac",
        src.to_str().unwrap(),
    ]);
    let out = dir.path().join("out.mkv");
    let nodes = [Node::start(1), Node::start(1)];
    let addresses = format!("{},{}", nodes[0].addr, nodes[1].addr);
    let stderr = check(
        &Command::new(python())
            .arg(script("ffmpeg_python_encode.py"))
            .arg(bin("dffmpeg"))
            .args([&src, &out])
            .env("DFFMPEG_NODES", &addresses)
            .env("DFFMPEG_SEGMENT_DURATION", "1")
            .env("XDG_CONFIG_HOME", "/nonexistent")
            .output()
            .unwrap(),
    );
    assert!(!stderr.contains("running with ffmpeg"), "not distributed: {stderr}");
    assert!(stderr.contains("[dffmpeg] chunk"), "no chunk was encoded on a node: {stderr}");
    let info = probe(&out);
    let kinds: Vec<&str> = info["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["codec_type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["video", "audio"]);
    assert_eq!(framemd5(&out, "0:v", false).lines().filter(|l| !l.starts_with('#')).count(), 75);
}

#[test]
fn moviepy_writes_a_distributed_encode_through_dffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    let write = |exe: &Path, out: &Path, nodes: &str| {
        check(
            &Command::new(python())
                .arg(script("moviepy_write.py"))
                .arg(out)
                .env("IMAGEIO_FFMPEG_EXE", exe)
                .env("XDG_CONFIG_HOME", "/nonexistent")
                .env("DFFMPEG_NODES", nodes)
                .env("DFFMPEG_SEGMENT_DURATION", "0.5")
                .output()
                .unwrap(),
        )
    };
    // moviepy keeps ffmpeg's stderr to itself; a wrapper keeps dffmpeg's,
    // with the log level that names every verified chunk.
    let log = dir.path().join("dffmpeg.log");
    let wrapper = dir.path().join("ffmpeg");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nDFFMPEG_LOG=info exec '{}' \"$@\" 2>>'{}'\n",
            bin("dffmpeg").display(),
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .unwrap();
    let nodes = [Node::start(1), Node::start(1)];
    let (ours, theirs) = (dir.path().join("dffmpeg.mp4"), dir.path().join("ffmpeg.mp4"));
    write(&wrapper, &ours, &format!("{},{}", nodes[0].addr, nodes[1].addr));
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(!stderr.contains("running with ffmpeg"), "not distributed: {stderr}");
    assert!(stderr.matches("chunk verified").count() >= 2, "not split into chunks: {stderr}");
    let ffmpeg =
        String::from_utf8(Command::new("which").arg("ffmpeg").output().unwrap().stdout).unwrap();
    write(Path::new(ffmpeg.trim()), &theirs, "");
    let frames = framemd5(&ours, "0:v", false);
    assert_eq!(frames.lines().filter(|l| !l.starts_with('#')).count(), 50);
    assert_eq!(frames, framemd5(&theirs, "0:v", false));
}
