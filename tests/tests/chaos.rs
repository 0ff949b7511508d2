//! The chaos test: twenty distributed encodes, each with one of its two
//! nodes killed (SIGKILL) at a random moment, must all give a complete,
//! frame-identical output and leave no temporary file behind.
//!
//! The moments come from a seeded generator, printed so a failure can be
//! replayed: `DFFMPEG_CHAOS_SEED=N cargo test -p tests --test chaos`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tests::{Node, Rng, bin, framemd5, lavfi_clip, plain_encode};

/// Runs in the test.
const RUNS: usize = 20;

/// Waits up to five seconds for `listed` to list nothing.
fn wait_empty(listed: impl Fn() -> Vec<std::path::PathBuf>) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if listed().is_empty() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn twenty_runs_with_a_node_killed_at_random_all_complete_frame_identical() {
    let seed = std::env::var("DFFMPEG_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
                as u64
        })
        | 1;
    eprintln!("chaos seed {seed} (DFFMPEG_CHAOS_SEED={seed} replays it)");
    let mut rng = Rng(seed);

    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.mkv");
    lavfi_clip(&src, 4, "320x240", 12, true);
    let encode = ["-c:v", "libx264", "-qp", "0", "-c:a", "copy"];
    let plain = dir.path().join("plain.mkv");
    plain_encode(&[], &src, &encode, &plain);
    let reference = framemd5(&plain, "0:v", false);
    let reference_audio = framemd5(&plain, "0:a", true);

    let run = |nodes: &[&Node], temp: &Path, out: &Path| {
        let mut command = Command::new(bin("dffmpeg"));
        for node in nodes {
            command.args(["--nodes", &node.addr]);
        }
        command
            .args(["--segment-duration", "0.5", "--temp-dir"])
            .arg(temp)
            .args(["-y", "-nostats", "-i"])
            .arg(&src)
            .args(encode)
            .arg(out)
            .env_remove("DFFMPEG_NODES")
            .env("XDG_CONFIG_HOME", "/nonexistent")
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };

    // How long an undisturbed run takes, to aim the kills within it.
    let nodes = [Node::start(1), Node::start(1)];
    let temp = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = dir.path().join("undisturbed.mkv");
    let output = run(&[&nodes[0], &nodes[1]], temp.path(), &out).wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let span = started.elapsed();
    drop(nodes);

    let mut killed_while_running = 0;
    for i in 0..RUNS {
        let mut nodes = [Some(Node::start(1)), Some(Node::start(1))];
        let temp = tempfile::tempdir().unwrap();
        let out = dir.path().join(format!("out-{i}.mkv"));
        let victim = (rng.next() % 2) as usize;
        let at = span.mul_f64(rng.unit());
        let child = {
            let (a, b) = (nodes[0].as_ref().unwrap(), nodes[1].as_ref().unwrap());
            run(&[a, b], temp.path(), &out)
        };
        std::thread::sleep(at);
        let doomed = nodes[victim].take().unwrap();
        doomed.signal(libc::SIGKILL);
        let running = doomed.leftovers().len();
        drop(doomed);
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        eprintln!(
            "run {i}: node {victim} killed at {:.0} ms with {running} chunk(s) on it: {}",
            at.as_secs_f64() * 1000.0,
            output.status
        );
        if running > 0 {
            killed_while_running += 1;
        }
        assert!(output.status.success(), "run {i} failed: {stderr}");
        assert!(framemd5(&out, "0:v", false) == reference, "run {i}: the video differs");
        assert!(framemd5(&out, "0:a", true) == reference_audio, "run {i}: the audio differs");
        let listed =
            || std::fs::read_dir(temp.path()).unwrap().map(|e| e.unwrap().path()).collect();
        assert!(wait_empty(listed), "run {i}: temp files left by dffmpeg");
        let survivor = nodes[1 - victim].as_ref().unwrap();
        assert!(wait_empty(|| survivor.leftovers()), "run {i}: the surviving node kept files");
        std::fs::remove_file(&out).unwrap();
    }
    eprintln!("{RUNS} runs, {killed_while_running} with a chunk on the node when it was killed");
    assert!(killed_while_running > 0, "no kill hit a node while it held a chunk");
}
