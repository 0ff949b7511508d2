//! A policy sees what nodes report: with least-loaded, a node whose only
//! core is kept busy by another program gets less of the work than with the
//! default. Alone in its test binary, so no other test loads the cores.

use std::path::Path;

use tests::{Node, example_policy, ffmpeg};

/// Kills a background process when dropped.
struct Hog(std::process::Child);

impl Drop for Hog {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Chunks per node address, from dffmpeg's verbose chunk lines.
fn chunks_per_node(stderr: &str) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for line in stderr.split(['\n', '\r']) {
        // The stats line may stand before it on the same terminal line.
        if let Some(rest) = line.split_once("[dffmpeg] chunk ").map(|(_, rest)| rest)
            && let Some((_, after)) = rest.split_once(" on ")
            && let Some((node, _)) = after.split_once(" in ")
        {
            *counts.entry(node.to_string()).or_default() += 1;
        }
    }
    counts
}

#[test]
fn least_loaded_steers_work_away_from_a_node_whose_core_is_busy() {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        println!("skipped: needs two cores");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25:duration=6",
        "-c:v",
        "libx264",
        "-g",
        "25",
        src.to_str().unwrap(),
    ]);
    // Another program keeps core 0 busy; each node has a core of its own.
    let hog = Hog(std::process::Command::new("taskset")
        .args(["-c", "0", "sh", "-c", "while :; do :; done"])
        .spawn()
        .unwrap());
    let (busy, idle) = (Node::start_pinned(1, 0), Node::start_pinned(1, 1));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let policy = example_policy("least-loaded-policy");
    // The coordinator shares the busy core: on a real farm it is another
    // machine, and its cutting and muxing must not load the idle node's core.
    let run = |policy: Option<&Path>| {
        let out = dir.path().join("out.mkv");
        let mut command = std::process::Command::new("taskset");
        command.args(["-c", "0"]).arg(tests::bin("dffmpeg"));
        for node in [&busy, &idle] {
            command.args(["--nodes", &node.addr]);
        }
        command.args(["--segment-duration", "0.5", "-y", "-v", "verbose"]);
        if let Some(policy) = policy {
            command.arg("--policy").arg(policy);
        }
        command.arg("-i").arg(&src).args(["-c:v", "libx264", "-preset", "medium"]).arg(&out);
        let out = command
            .env_remove("DFFMPEG_NODES")
            .env("XDG_CONFIG_HOME", "/nonexistent")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        let counts = chunks_per_node(&stderr);
        let summary = stderr.lines().find(|l| l.contains("chunks on 2 nodes")).unwrap_or_default();
        println!("{summary}");
        let on = |node: &Node| counts.get(&node.addr).copied().unwrap_or(0);
        (on(&busy), on(&idle))
    };
    let (default_busy, default_idle) = run(None);
    let (busy_chunks, idle_chunks) = run(Some(&policy));
    drop(hog);
    println!(
        "chunks on the busy / idle node: default {default_busy} / {default_idle}, least-loaded {busy_chunks} / {idle_chunks}"
    );
    assert_eq!(busy_chunks + idle_chunks, default_busy + default_idle);
    // Seen here: of 12 chunks the default put 6 on the busy node and
    // least-loaded 1 (with 6 chunks, a clean-clone CI run saw 3 and 2).
    assert!(
        busy_chunks < idle_chunks,
        "least-loaded put {busy_chunks} chunks on the busy node and {idle_chunks} on the idle one"
    );
    assert!(
        busy_chunks < default_busy,
        "no better than the default ({default_busy} on the busy node)"
    );
}
