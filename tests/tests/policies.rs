//! Scheduling policies end to end: every encode runs the embedded default
//! through the wasm sandbox; a user's policy that misbehaves is contained
//! (the job completes on the default, frame-identical, with a warning), is
//! fatal under `--policy-strict`, and one that cannot load stops the run
//! before anything is written.

use std::path::{Path, PathBuf};

use tests::{Node, dffmpeg, example_policy as example, ffmpeg, framemd5, plain_encode};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("policies").join(name)
}

/// Three one-second scenes at 25 fps (testsrc2, mandelbrot, SMPTE bars),
/// so the scenes change at frames 25 and 50.
fn source(dir: &Path) -> PathBuf {
    let src = dir.join("src.mkv");
    let scenes = [
        "testsrc2=size=160x120:rate=25:duration=1",
        "mandelbrot=size=160x120:rate=25,trim=duration=1",
        "smptebars=size=160x120:rate=25:duration=1",
    ];
    let mut args = Vec::new();
    for scene in scenes {
        args.extend(["-f", "lavfi", "-i", scene]);
    }
    args.extend(["-filter_complex", "[0][1][2]concat=n=3,format=yuv420p"]);
    args.extend(["-c:v", "libx264", "-g", "30", src.to_str().unwrap()]);
    ffmpeg(&args);
    src
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_policy_that_never_answers_is_contained_and_the_job_completes() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    let (plain, dist) = (dir.path().join("plain.mkv"), dir.path().join("dist.mkv"));
    let encode = ["-c:v", "libx264", "-qp", "0"];
    plain_encode(&[], &src, &encode, &plain);
    let nodes = [Node::start(1), Node::start(1)];
    let policy = fixture("endless_loop.wat");
    let mut args = vec!["--policy", policy.to_str().unwrap(), "--segment-duration", "0.5"];
    args.extend(["-y", "-v", "verbose", "-i", src.to_str().unwrap()]);
    args.extend(encode);
    args.push(dist.to_str().unwrap());
    let out = dffmpeg(&[&nodes[0], &nodes[1]], &args);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("policy endless-loop"), "{stderr}");
    assert!(
        stderr.contains("dffmpeg_plan_chunks ran out of fuel")
            || stderr.contains("dffmpeg_plan_chunks ran past its deadline"),
        "{stderr}"
    );
    assert!(stderr.contains("info: thinking forever"), "the guest's log is quoted: {stderr}");
    assert!(stderr.contains("switched off for this job"), "{stderr}");
    assert!(stderr.contains("chunks on 2 nodes"), "{stderr}");
    assert_eq!(framemd5(&dist, "0:v", false), framemd5(&plain, "0:v", false));

    // Under --policy-strict the first failure ends the job, writing nothing.
    let strict = dir.path().join("strict.mkv");
    let last = args.len() - 1;
    args[last] = strict.to_str().unwrap();
    args.insert(0, "--policy-strict");
    let out = dffmpeg(&[&nodes[0], &nodes[1]], &args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("ran out of fuel") || text(&out.stderr).contains("deadline")
    );
    assert!(!strict.exists());
}

#[test]
fn a_policy_that_cannot_load_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    let out_file = dir.path().join("out.mkv");
    let policy = fixture("wasi_import.wat");
    let out = dffmpeg(
        &[],
        &[
            "--policy",
            policy.to_str().unwrap(),
            "-y",
            "-i",
            src.to_str().unwrap(),
            "-c:v",
            "libx264",
            out_file.to_str().unwrap(),
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("imports wasi_snapshot_preview1.fd_write"), "{stderr}");
    assert!(stderr.contains(policy.to_str().unwrap()), "names the module: {stderr}");
    assert!(!out_file.exists());
    let missing = dffmpeg(
        &[],
        &[
            "--policy",
            "/nonexistent.wasm",
            "-y",
            "-i",
            src.to_str().unwrap(),
            "-c:v",
            "libx264",
            out_file.to_str().unwrap(),
        ],
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("reading the policy /nonexistent.wasm"));
}

#[test]
fn every_example_policy_gives_a_frame_identical_encode() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    let plain = dir.path().join("plain.mkv");
    let encode = ["-c:v", "libx264", "-qp", "0"];
    plain_encode(&[], &src, &encode, &plain);
    let nodes = [Node::start(1), Node::start(1)];
    for (crate_name, name) in [
        ("least-loaded-policy", "least-loaded"),
        ("fastest-first-policy", "fastest-first"),
        ("scene-aware-policy", "scene-aware"),
    ] {
        let dist = dir.path().join(format!("{name}.mkv"));
        let policy = example(crate_name);
        let mut args = vec!["--policy", policy.to_str().unwrap(), "--policy-strict"];
        args.extend(["--segment-duration", "0.5", "-y", "-v", "verbose"]);
        args.extend(["-i", src.to_str().unwrap()]);
        args.extend(encode);
        args.push(dist.to_str().unwrap());
        let out = dffmpeg(&[&nodes[0], &nodes[1]], &args);
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{name}: {stderr}");
        assert!(stderr.contains(&format!("(policy {name}, ")), "{name} did not decide: {stderr}");
        assert_eq!(framemd5(&dist, "0:v", false), framemd5(&plain, "0:v", false), "{name}");
        if name == "scene-aware" {
            // Chunks of 13 frames were asked for, from 6 to 26 allowed: the
            // boundaries move to the two scene changes.
            assert!(stderr.contains("2 scene changes (score above 0.3) found"), "{stderr}");
            let mut firsts: Vec<u64> = stderr
                .lines()
                // The stats line ends in a carriage return, not a newline.
                .filter_map(|l| l.split("[dffmpeg] chunk ").nth(1))
                .filter_map(|l| l.split(" frames ").nth(1)?.split('-').next()?.parse().ok())
                .collect();
            firsts.sort_unstable();
            assert_eq!(firsts, vec![0, 25, 50], "{stderr}");
        }
    }
}

#[test]
fn a_policy_may_split_a_failed_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    let (plain, dist) = (dir.path().join("plain.mkv"), dir.path().join("dist.mkv"));
    let encode = ["-c:v", "libx264", "-qp", "0"];
    plain_encode(&[], &src, &encode, &plain);
    // fastest-first halves a failed chunk when two slots elsewhere can redo it.
    let broken = Node::start_with_ffmpeg(1, Path::new("/bin/false"));
    let healthy = Node::start(2);
    let policy = example("fastest-first-policy");
    let mut args = vec!["--policy", policy.to_str().unwrap(), "--policy-strict"];
    args.extend(["--segment-duration", "0.5", "-y", "-v", "verbose"]);
    args.extend(["-i", src.to_str().unwrap()]);
    args.extend(encode);
    args.push(dist.to_str().unwrap());
    let out = dffmpeg(&[&broken, &healthy], &args);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(" split into 2 at frames "), "{stderr}");
    assert!(!stderr.contains(&format!("on {} in", broken.addr)), "{stderr}");
    assert_eq!(framemd5(&dist, "0:v", false), framemd5(&plain, "0:v", false));
    assert!(broken.leftovers().is_empty() && healthy.leftovers().is_empty());
}

#[test]
fn policy_check_runs_a_module_on_the_fixtures() {
    let check = |path: &Path| {
        std::process::Command::new(tests::bin("dffmpeg"))
            .args(["policy", "check"])
            .arg(path)
            .output()
            .unwrap()
    };
    let good = check(&example("fastest-first-policy"));
    let report = text(&good.stdout);
    assert!(good.status.success(), "{}", text(&good.stderr));
    assert!(report.starts_with("policy fastest-first 1 (ABI 1.1)"), "{report}");
    assert!(report.contains("plan    a two-hour 1080p encode on 4 nodes: "), "{report}");
    assert!(report.contains("assign  100 pending chunks on 16 nodes: "), "{report}");
    assert!(report.contains("assign  no free slot: 0 assigned"), "{report}");
    assert!(report.ends_with("ok: every answer passed the host's checks\n"), "{report}");

    let bad = check(&fixture("endless_loop.wat"));
    assert_eq!(bad.status.code(), Some(1));
    // Its fuel lasts about a second here; on a loaded machine the 2 s
    // deadline can stop it first. Either way the loop is stopped.
    let stopped = text(&bad.stderr);
    assert!(
        stopped.contains("ran out of fuel") || stopped.contains("ran past its deadline"),
        "{stopped}"
    );
    let refused = check(&fixture("wasi_import.wat"));
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains("wasi_snapshot_preview1.fd_write"));
}

/// `dffmpeg policy simulate`, run as a user would; returns its report.
fn simulate(policy: &str, extra: &[&str]) -> String {
    let out = std::process::Command::new(tests::bin("dffmpeg"))
        .args(["policy", "simulate", policy])
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

/// The number after `key` on the report's line that starts with it.
fn figure(report: &str, key: &str) -> f64 {
    let line = report.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("{report}"));
    line[key.len()..].split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn simulate_compares_policies_and_survives_a_lost_node() {
    let cluster = ["--nodes", "2x1.0,1x0.25", "--duration", "600"];
    let default = simulate("built-in", &cluster);
    let fastest = example("fastest-first-policy");
    let fast = simulate(fastest.to_str().unwrap(), &cluster);
    assert!(default.starts_with("policy     slot-weighted-round-robin (built-in)"), "{default}");
    // 600 s of work over 2.25 slot-speeds.
    assert_eq!(figure(&default, "ideal"), 266.7, "{default}");
    for report in [&default, &fast] {
        assert!(figure(report, "makespan") >= figure(report, "ideal"), "{report}");
    }
    // Keeping the slow node off the last chunks shortens the job.
    assert!(figure(&fast, "makespan") < figure(&default, "makespan"), "{default}\n{fast}");

    let lost =
        simulate("built-in", &["--nodes", "2x1.0,1x1.0", "--duration", "300", "--fail", "n0@30"]);
    assert!(figure(&lost, "retried") >= 2.0, "both of n0's running chunks are retried: {lost}");
    let n0 = lost.lines().find(|l| l.starts_with("n0 ")).unwrap();
    assert!(n0.contains("at 30.0 s"), "{lost}");
    let chunks: f64 = lost
        .lines()
        .filter(|l| l.starts_with('n') && l.as_bytes()[1].is_ascii_digit())
        .map(|l| l.split_whitespace().nth(3).unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(chunks, figure(&lost, "plan"), "every chunk is done exactly once: {lost}");

    // fastest-first halves the chunks a lost node took with it.
    let halves = simulate(
        fastest.to_str().unwrap(),
        &["--nodes", "2x1.0,2x1.0", "--duration", "300", "--fail", "n0@30"],
    );
    let retried = figure(&halves, "retried");
    assert!(retried >= 2.0, "{halves}");
    assert!(halves.contains(&format!("({retried} of them split)")), "{halves}");
}
