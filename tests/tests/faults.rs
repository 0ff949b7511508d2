//! Node faults, each with the output checked frame by frame against plain
//! ffmpeg: a node restarted mid-job, a node whose results arrive corrupted,
//! and a straggler. (A node killed for good is in `behaviour.rs`; twenty
//! random kills in `chaos.rs`.)

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tests::{Node, bin, ffmpeg, framemd5, plain_encode};

/// A lossless encode, so that any damage shows in the frames.
const ENCODE: [&str; 6] = ["-c:v", "libx264", "-qp", "0", "-c:a", "copy"];

/// A clip of `seconds` with a keyframe every 12 frames, and audio.
fn clip(dir: &Path, seconds: u32) -> PathBuf {
    let src = dir.join("src.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &format!("testsrc2=size=320x240:rate=25:duration={seconds}"),
        "-f",
        "lavfi",
        "-i",
        &format!("sine=duration={seconds}"),
        "-c:v",
        "libx264",
        "-g",
        "12",
        "-c:a",
        "aac",
        src.to_str().unwrap(),
    ]);
    src
}

/// `dffmpeg --nodes ... -v verbose -i SRC ENCODE OUT`, started.
fn start(addrs: &[&str], extra: &[&str], src: &Path, out: &Path) -> std::process::Child {
    let mut command = Command::new(bin("dffmpeg"));
    for addr in addrs {
        command.args(["--nodes", addr]);
    }
    command
        .args(extra)
        .args(["-y", "-nostats", "-loglevel", "verbose", "-i"])
        .arg(src)
        .args(ENCODE)
        .arg(out)
        .env_remove("DFFMPEG_NODES")
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Checks that `out` has exactly the frames plain ffmpeg writes for `src`.
fn assert_like_ffmpeg(src: &Path, out: &Path) {
    let plain = out.with_file_name("plain.mkv");
    plain_encode(&[], src, &ENCODE, &plain);
    assert!(
        framemd5(out, "0:v", false) == framemd5(&plain, "0:v", false),
        "the video differs from ffmpeg's"
    );
    assert!(framemd5(out, "0:a", true) == framemd5(&plain, "0:a", true), "the audio differs");
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_node_restarted_mid_job_takes_work_again_and_its_leftovers_are_swept() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), 12);
    let out = dir.path().join("out.mkv");
    let mut restarted = Node::start(1);
    let steady = Node::start(1);
    let child = start(&[&restarted.addr, &steady.addr], &["--segment-duration", "0.5"], &src, &out);
    wait_until("a chunk is on the node", Duration::from_secs(60), || {
        !restarted.leftovers().is_empty()
    });
    restarted.kill_and_restart(1);
    // The new process removed the chunk the killed one was encoding.
    let left = restarted.leftovers();
    assert!(left.is_empty(), "the restarted node kept {left:?}");
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let back = stderr
        .find(&format!("[dffmpeg] node {} is back", restarted.addr))
        .unwrap_or_else(|| panic!("the node was not taken back:\n{stderr}"));
    let after = &stderr[back..];
    assert!(
        after.contains(&format!(" on {} in ", restarted.addr)),
        "the restarted node got no chunk:\n{stderr}"
    );
    assert_like_ffmpeg(&src, &out);
    assert!(restarted.leftovers().is_empty() && steady.leftovers().is_empty());
}
