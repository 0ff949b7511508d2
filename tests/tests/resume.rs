//! Crash safety: dffmpeg killed with SIGKILL, hung up or stopped by SIGTERM
//! mid-job, then run again with the same command, reuses every chunk the
//! first run verified and encodes only the rest, into a frame-identical
//! output.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use tests::{Node, bin, framemd5, lavfi_clip, plain_encode, script, send_signal};

/// A twelve-second clip with a keyframe every second, and audio.
fn clip(dir: &Path) -> std::path::PathBuf {
    let src = dir.join("src.mkv");
    lavfi_clip(&src, 12, "320x240", 25, true);
    src
}

/// The frame ranges of `-loglevel verbose` lines that end with `suffix`
/// ("on" for encoded chunks, "reused").
fn chunks(stderr: &str, word: &str) -> BTreeSet<String> {
    stderr
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("[dffmpeg] chunk ")?;
            let mut words = rest.split_whitespace();
            let (_index, frames, range, verb) =
                (words.next()?, words.next()?, words.next()?, words.next()?);
            (frames == "frames" && verb == word).then(|| range.to_string())
        })
        .collect()
}

/// How the first run ends once it has verified three chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// SIGKILL: no destructor runs.
    Killed,
    /// A hangup (the ssh session closed): the run ends at once.
    HungUp,
    /// One SIGTERM (`timeout`): the output gets the chunks from the start.
    Stopped,
}

/// The first run ends as `end` says once it has verified three chunks; the
/// same command run again reuses every chunk the first one verified, and
/// encodes only the rest, into the source's frames.
fn resumes_after(end: End) {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path());
    let out = dir.path().join("out.mkv");
    let temp = tempfile::tempdir().unwrap();
    let node = Node::start(1);
    let command = || {
        let mut command = Command::new(bin("dffmpeg"));
        command
            .args(["--nodes", &node.addr, "--segment-duration", "1", "--temp-dir"])
            .arg(temp.path())
            .args(["-y", "-nostats", "-loglevel", "verbose", "-i"])
            .arg(&src)
            .args(["-c:v", "libx264", "-qp", "0", "-preset", "medium", "-c:a", "copy"])
            .arg(&out)
            .env_remove("DFFMPEG_NODES")
            .env("XDG_CONFIG_HOME", "/nonexistent")
            .stdin(Stdio::null());
        command
    };

    let mut first = command().stderr(Stdio::piped()).spawn().unwrap();
    let mut before_end = String::new();
    let mut verified = 0;
    let mut lines = BufReader::new(first.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        before_end.push_str(&line);
        before_end.push('\n');
        if line.starts_with("[dffmpeg] chunk ") && line.contains(" on ") {
            verified += 1;
            if verified == 3 {
                let signal = match end {
                    End::Killed => libc::SIGKILL,
                    End::HungUp => libc::SIGHUP,
                    End::Stopped => libc::SIGTERM,
                };
                send_signal(first.id(), signal);
                break;
            }
        }
    }
    let encoded_first = chunks(&before_end, "on");
    // What the run says while it ends (a stop says where its chunks are).
    for line in lines {
        before_end.push_str(&line.unwrap());
        before_end.push('\n');
    }
    let status = first.wait().unwrap();
    assert_eq!(verified, 3, "the first run ended before three chunks:\n{before_end}");
    match end {
        End::Killed | End::HungUp => {
            assert!(!out.exists(), "an interrupted run wrote the output");
            let expected = if end == End::Killed { Some(libc::SIGKILL) } else { None };
            use std::os::unix::process::ExitStatusExt as _;
            assert_eq!(status.signal(), expected, "{before_end}");
            if end == End::HungUp {
                assert_eq!(status.code(), Some(255), "{before_end}");
            }
        }
        End::Stopped => {
            assert_eq!(status.code(), Some(255), "{before_end}");
            assert!(out.exists(), "a stopped run wrote no output:\n{before_end}");
            assert!(
                before_end.contains("the same command run again resumes from the"),
                "{before_end}"
            );
        }
    }

    let second = command().output().unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "the rerun failed: {stderr}");
    let reused = chunks(&stderr, "reused");
    let encoded_again = chunks(&stderr, "on");
    eprintln!(
        "{end:?}: first run: {} chunks verified before the end; rerun: {} reused, {} encoded",
        encoded_first.len(),
        reused.len(),
        encoded_again.len()
    );
    assert!(stderr.contains("[dffmpeg] resuming: "), "{stderr}");
    assert!(encoded_first.is_subset(&reused), "verified chunks not reused:\n{stderr}");
    assert!(encoded_again.is_disjoint(&reused), "a chunk was encoded twice:\n{stderr}");
    assert!(!encoded_again.is_empty(), "the rerun encoded nothing:\n{stderr}");
    assert!(
        framemd5(&out, "0:v", false) == framemd5(&src, "0:v", false),
        "the resumed output's frames differ from the source's"
    );
    assert!(framemd5(&out, "0:a", true) == framemd5(&src, "0:a", true), "the audio differs");
    assert!(std::fs::read_dir(temp.path()).unwrap().next().is_none(), "temp files left");
    let siblings: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("dffmpeg"))
        .collect();
    assert!(siblings.is_empty(), "left next to the output: {siblings:?}");
}

#[test]
fn a_killed_run_resumes_and_no_verified_chunk_is_encoded_twice() {
    resumes_after(End::Killed);
}

#[test]
fn a_run_ended_by_a_hangup_resumes() {
    resumes_after(End::HungUp);
}

#[test]
fn a_run_stopped_by_sigterm_resumes() {
    resumes_after(End::Stopped);
}

/// An ffmpeg for a node that encodes `good` chunks, then fails every one:
/// a script around the real ffmpeg that counts the encodes it is given.
fn failing_after(dir: &Path, good: u32) -> std::path::PathBuf {
    let count = dir.join("encodes");
    let body = format!(
        "case \"$*\" in *-progress*)\n  n=$(($(cat '{count}' 2>/dev/null || echo 0) + 1))\n  echo $n > '{count}'\n  if [ $n -gt {good} ]; then echo 'injected failure' >&2; exit 1; fi;;\nesac\nexec ffmpeg \"$@\"\n",
        count = count.display()
    );
    script(dir, "ffmpeg-failing", &body)
}

#[test]
fn a_failed_job_keeps_its_verified_chunks_for_the_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path());
    let out = dir.path().join("out.mkv");
    let temp = tempfile::tempdir().unwrap();
    let run = |node: &Node| {
        Command::new(bin("dffmpeg"))
            .args(["--nodes", &node.addr, "--segment-duration", "1", "--temp-dir"])
            .arg(temp.path())
            .args(["-y", "-nostats", "-loglevel", "verbose", "-i"])
            .arg(&src)
            .args(["-c:v", "libx264", "-qp", "0", "-an"])
            .arg(&out)
            .env_remove("DFFMPEG_NODES")
            .env("XDG_CONFIG_HOME", "/nonexistent")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let failing = Node::start_with_ffmpeg(1, &failing_after(dir.path(), 4));
    let failed = run(&failing);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(1), "{stderr}");
    assert!(!out.exists());
    assert!(
        stderr.contains("the same command run again resumes from the 4 verified chunks kept in"),
        "{stderr}"
    );
    drop(failing);

    let healthy = Node::start(1);
    let rerun = run(&healthy);
    let stderr = String::from_utf8_lossy(&rerun.stderr);
    assert!(rerun.status.success(), "{stderr}");
    assert_eq!(chunks(&stderr, "reused").len(), 4, "{stderr}");
    assert_eq!(chunks(&stderr, "on").len(), 8, "{stderr}");
    let plain = dir.path().join("plain.mkv");
    plain_encode(&[], &src, &["-c:v", "libx264", "-qp", "0", "-an"], &plain);
    assert!(
        framemd5(&out, "0:v", false) == framemd5(&plain, "0:v", false),
        "the resumed output differs from ffmpeg's"
    );
    assert!(std::fs::read_dir(temp.path()).unwrap().next().is_none(), "temp files left");
}
