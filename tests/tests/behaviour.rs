//! How dffmpeg behaves around the encode: failures, bad input, node loss,
//! configuration, passthrough, console output, lossy quality.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tests::{
    Node, assert_ok, bin, dffmpeg, dffmpeg_in, distributed_encode, ffmpeg, framemd5, plain_encode,
};

fn clip(dir: &Path, name: &str, seconds: u32, size: &str) -> PathBuf {
    let path = dir.join(name);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &format!("testsrc2=size={size}:rate=25:duration={seconds}"),
        "-f",
        "lavfi",
        "-i",
        &format!("sine=duration={seconds}"),
        "-c:v",
        "libx264",
        "-g",
        "50",
        "-c:a",
        "aac",
        path.to_str().unwrap(),
    ]);
    path
}

fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).unwrap().next().is_none()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn node_killed_mid_job_the_job_completes_on_the_other_node() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), "src.mkv", 8, "640x360");
    let plain = dir.path().join("plain.mkv");
    let dist = dir.path().join("dist.mkv");
    let encode = ["-c:v", "libx264", "-qp", "0", "-preset", "slow", "-c:a", "copy"];
    plain_encode(&[], &src, &encode, &plain);

    let (victim, survivor) = (Node::start(1), Node::start(1));
    let temp = tempfile::tempdir().unwrap();
    let child = Command::new(bin("dffmpeg"))
        .args(["--nodes", &victim.addr, "--nodes", &survivor.addr, "--segment-duration", "1"])
        .arg("--temp-dir")
        .arg(temp.path())
        .args(["-y", "-nostats", "-i", src.to_str().unwrap()])
        .args(encode)
        .arg(&dist)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill the victim while it holds a chunk: its chunk directory exists then.
    let deadline = Instant::now() + Duration::from_secs(60);
    while victim.leftovers().is_empty() {
        assert!(Instant::now() < deadline, "the victim never received a chunk");
        std::thread::sleep(Duration::from_millis(20));
    }
    victim.signal(libc::SIGKILL);
    let out = child.wait_with_output().unwrap();
    assert_ok(&out);
    assert_eq!(framemd5(&dist, "0:v", false), framemd5(&plain, "0:v", false));
    assert_eq!(framemd5(&dist, "0:a", true), framemd5(&plain, "0:a", true));
    assert!(is_empty_dir(temp.path()), "the job directory was left behind");
    assert!(survivor.leftovers().is_empty(), "the survivor left chunk files behind");
}

#[test]
fn lossy_encode_is_within_a_tenth_of_a_db_of_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    // Two chunks of 6 s: an encode with chunks near x264's own keyframe
    // interval (250 frames), as a real job's 10 s default gives.
    let src = clip(dir.path(), "src.mkv", 12, "640x360");
    let plain = dir.path().join("plain.mkv");
    let dist = dir.path().join("dist.mkv");
    let encode = ["-c:v", "libx264", "-crf", "23", "-preset", "fast", "-c:a", "copy"];
    plain_encode(&[], &src, &encode, &plain);
    let (a, b) = (Node::start(1), Node::start(1));
    distributed_encode(&[&a, &b], &["--segment-duration", "6"], &[], &src, &encode, &dist);
    let (p, d) = (psnr(&plain, &src), psnr(&dist, &src));
    assert!((p - d).abs() <= 0.1, "PSNR {d:.3} dB vs ffmpeg's {p:.3} dB");
    let (ps, ds) = (
        std::fs::metadata(&plain).unwrap().len() as f64,
        std::fs::metadata(&dist).unwrap().len() as f64,
    );
    assert!((ps - ds).abs() / ps <= 0.05, "size {ds} vs ffmpeg's {ps}");
}

/// Average PSNR of `file` against `reference`, from ffmpeg's psnr filter.
fn psnr(file: &Path, reference: &Path) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-i"])
        .arg(file)
        .arg("-i")
        .arg(reference)
        .args(["-lavfi", "[0:v][1:v]psnr", "-f", "null", "-"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    let line = text.lines().find(|l| l.contains("PSNR y:")).expect("a PSNR line");
    line.split("average:").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn bad_input_fails_cleanly_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let temp = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), "src.mkv", 1, "160x120");
    let corrupt = dir.path().join("corrupt.mkv");
    std::fs::write(&corrupt, b"this is not a media file at all, just text").unwrap();
    let out = dir.path().join("out.mkv");
    let node = Node::start(1);
    let cases: Vec<(Vec<&str>, Vec<&Node>, &str)> = vec![
        (
            vec!["-i", "/nonexistent/in.mkv", "-c:v", "libx264"],
            vec![&node],
            "No such file or directory",
        ),
        (vec!["-i", corrupt.to_str().unwrap(), "-c:v", "libx264"], vec![&node], "Invalid data"),
        (vec!["-i", src.to_str().unwrap(), "-c:v", "libnothing"], vec![&node], "Unknown encoder"),
    ];
    for (mut args, nodes, message) in cases {
        args.insert(0, "-y");
        args.push(out.to_str().unwrap());
        let result = dffmpeg_in(&nodes, &args, Some(temp.path()));
        assert!(!result.status.success(), "{args:?} succeeded");
        assert!(
            stderr(&result).contains(message),
            "{args:?}: no '{message}' in {}",
            stderr(&result)
        );
        assert!(!out.exists(), "{args:?} left an output file");
        assert!(is_empty_dir(temp.path()), "{args:?} left temp files");
    }
    // Unreachable nodes: a port nobody listens on.
    let closed =
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let result = Command::new(bin("dffmpeg"))
        .args(["--nodes", &closed, "--temp-dir", temp.path().to_str().unwrap()])
        .args(["-y", "-i", src.to_str().unwrap(), "-c:v", "libx264", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(result.status.code(), Some(1));
    assert!(stderr(&result).contains("no node is reachable"), "{}", stderr(&result));
    assert!(!out.exists() && is_empty_dir(temp.path()));
    assert!(node.leftovers().is_empty());
}

#[test]
fn passthrough_keeps_ffmpegs_output_and_exit_code() {
    let version = dffmpeg(&[], &["-version"]);
    assert_eq!(version.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("ffmpeg version"));
    let missing =
        dffmpeg(&[], &["-loglevel", "verbose", "-i", "/nonexistent.mkv", "-f", "null", "-"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("running with ffmpeg"), "{}", stderr(&missing));
}

#[test]
fn embedded_node_when_none_is_configured_and_stats_line() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), "src.mkv", 2, "160x120");
    let out = dir.path().join("out.mkv");
    let result = dffmpeg(
        &[],
        &[
            "-y",
            "-loglevel",
            "verbose",
            "-i",
            src.to_str().unwrap(),
            "-c:v",
            "libx264",
            out.to_str().unwrap(),
        ],
    );
    let text = assert_ok(&result);
    assert!(text.contains("on 1 nodes"), "{text}");
    assert!(text.contains("[dffmpeg] chunk 0 frames 0-"), "{text}");
    let last = text.lines().find(|l| l.contains("frame=")).expect("a stats line");
    assert!(last.contains("fps=") && last.contains("time=") && last.contains("speed="), "{last}");
    // -nostats keeps only the last report, which ffmpeg prints at info level.
    let encode = ["-i", src.to_str().unwrap(), "-c:v", "libx264", out.to_str().unwrap()];
    let nostats = dffmpeg(&[], &[&["-y", "-nostats"], &encode[..]].concat());
    assert_eq!(assert_ok(&nostats).matches("frame=").count(), 1);
    let quiet = dffmpeg(&[], &[&["-y", "-nostats", "-v", "error"], &encode[..]].concat());
    assert!(!assert_ok(&quiet).contains("frame="));
}

#[test]
fn nodes_from_environment_config_file_and_the_seed_form() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), "src.mkv", 2, "160x120");
    let out = dir.path().join("out.mkv");
    let node = Node::start(1);
    let run = |cmd: &mut Command| {
        let result = cmd.stdin(Stdio::null()).output().unwrap();
        let text = assert_ok(&result);
        assert!(text.contains(&format!("on {}", node.addr)), "not run on the node: {text}");
    };
    run(Command::new(bin("dffmpeg"))
        .env("DFFMPEG_NODES", &node.addr)
        .env("DFFMPEG_SLOTS", "1")
        .args([
            "-y",
            "-v",
            "verbose",
            "-i",
            src.to_str().unwrap(),
            "-c:v",
            "libx264",
            out.to_str().unwrap(),
        ]));
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!("nodes = [\"{}\"]\nslots = [1]\nsegment_duration = 1.0\n", node.addr),
    )
    .unwrap();
    run(Command::new(bin("dffmpeg"))
        .env_remove("DFFMPEG_NODES")
        .arg("--config-file")
        .arg(&config)
        .args([
            "-y",
            "-v",
            "verbose",
            "-i",
            src.to_str().unwrap(),
            "-c:v",
            "libx264",
            out.to_str().unwrap(),
        ]));
    run(Command::new(bin("dffmpeg"))
        .env_remove("DFFMPEG_NODES")
        .args(["--input-file", src.to_str().unwrap(), "--output-file", out.to_str().unwrap()])
        .args([
            "--encoder-params",
            "-y -v verbose -c:v libx264 -crf 23",
            "--nodes",
            &node.addr,
            "--slots",
            "1",
        ]));
    let bad = Command::new(bin("dffmpeg")).args(["--slots", "0", "-version"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("slots"));
}

#[test]
fn node_stops_cleanly_on_sigterm() {
    let node = Node::start(1);
    node.signal(libc::SIGTERM);
    assert_eq!(node.wait(), Some(0));
}

#[test]
fn chunks_failed_by_a_broken_node_are_retried_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), "src.mkv", 4, "320x240");
    let (plain, dist) = (dir.path().join("plain.mkv"), dir.path().join("dist.mkv"));
    let encode = ["-c:v", "libx264", "-qp", "0", "-c:a", "copy"];
    plain_encode(&[], &src, &encode, &plain);
    // A node whose ffmpeg always fails, beside a healthy node with two slots.
    let broken = Node::start_with_ffmpeg(1, Path::new("/bin/false"));
    let healthy = Node::start(2);
    let extra = ["-v", "verbose", "--segment-duration", "0.5"];
    let text = distributed_encode(&[&broken, &healthy], &extra, &[], &src, &encode, &dist);
    assert!(
        !text.contains(&format!("on {} in", broken.addr)),
        "a chunk was credited to the broken node"
    );
    assert_eq!(framemd5(&dist, "0:v", false), framemd5(&plain, "0:v", false));
    assert!(broken.leftovers().is_empty() && healthy.leftovers().is_empty());

    // With only the broken node, the job fails, says why, and leaves nothing.
    let temp = tempfile::tempdir().unwrap();
    let alone = dir.path().join("alone.mkv");
    let mut args = vec!["-y", "-i", src.to_str().unwrap()];
    args.extend(encode);
    args.push(alone.to_str().unwrap());
    let result = dffmpeg_in(&[&broken], &args, Some(temp.path()));
    assert_eq!(result.status.code(), Some(1));
    let text = stderr(&result);
    assert!(text.contains("no node is left to encode on; the last failure: chunk"), "{text}");
    assert!(!alone.exists() && is_empty_dir(temp.path()));
}

#[test]
fn two_pass_runs_both_passes_per_chunk_and_hits_the_bitrate() {
    let dir = tempfile::tempdir().unwrap();
    clip(dir.path(), "src.mkv", 8, "640x360");
    let nodes = [Node::start(1), Node::start(1)];
    // ffmpeg, or dffmpeg over the two nodes, in the clip's directory (the
    // pass log is relative to it).
    let run = |distributed: bool, args: &[&str]| {
        let mut cmd = if distributed {
            let mut cmd = Command::new(bin("dffmpeg"));
            cmd.args(["--nodes", &nodes[0].addr, "--nodes", &nodes[1].addr]);
            cmd.args(["--segment-duration", "2"]).env_remove("DFFMPEG_NODES");
            cmd
        } else {
            Command::new("ffmpeg")
        };
        cmd.current_dir(dir.path()).args(args).stdin(Stdio::null()).output().unwrap()
    };
    let encode = ["-y", "-hide_banner", "-nostats", "-i", "src.mkv", "-c:v", "libx264"];
    let rate = ["-b:v", "300k", "-preset", "fast"];
    let second =
        |out: &'static str| [&encode[..], &rate, &["-pass", "2", "-c:a", "copy", out]].concat();

    // Without the first pass's log, ffmpeg reports the error itself.
    let missing = run(true, &second("early.mp4"));
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("can't open stats file"), "{}", stderr(&missing));

    // The usual recipe, pass 1 then pass 2, under ffmpeg and under dffmpeg
    // (which runs pass 1 with ffmpeg and distributes pass 2).
    for (distributed, out) in [(false, "plain.mp4"), (true, "dist.mp4")] {
        let first = [&encode[..], &rate, &["-pass", "1", "-an", "-f", "mp4", "/dev/null"]].concat();
        assert!(run(distributed, &first).status.success());
        let result = run(distributed, &[&["-v", "verbose"], &second(out)[..]].concat());
        assert!(result.status.success(), "{}", stderr(&result));
        if distributed {
            assert!(stderr(&result).contains("[dffmpeg] chunk 3 "), "{}", stderr(&result));
        }
    }
    let bitrate = |name: &str| -> f64 {
        let info = tests::probe(&dir.path().join(name));
        tests::seconds(&info["streams"][0]["bit_rate"])
    };
    let (plain, dist) = (bitrate("plain.mp4"), bitrate("dist.mp4"));
    assert!((dist / plain - 1.0).abs() < 0.05, "bitrate {dist} vs ffmpeg's {plain}");
    let frames = |name: &str| framemd5(&dir.path().join(name), "0:v", false).lines().count();
    assert_eq!(frames("dist.mp4"), frames("plain.mp4"));
}

const FORCED: &str = "0.5,1,2.5,00:00:04.2";

#[test]
fn forced_keyframes_land_where_ffmpeg_puts_them() {
    forced_keyframes(&[], FORCED, &["0.520000", "1.000000", "2.520000", "4.200000"]);
}

/// With an output rate, forced times are compared with the output's
/// timestamps (24 fps here, so 0.5 s is exactly a frame's).
#[test]
fn forced_keyframes_land_where_ffmpeg_puts_them_at_an_output_rate() {
    forced_keyframes(&["-r", "24"], FORCED, &["0.500000", "1.000000", "2.500000", "4.208000"]);
}

/// ffmpeg moves on by one listed time per frame: three times that fall
/// between the same two frames force three frames in a row, and here the
/// second chunk starts at the second of them, so the cascade crosses it.
#[test]
fn forced_keyframes_that_cascade_across_a_chunk_boundary_land_where_ffmpeg_puts_them() {
    forced_keyframes(&[], "3.0,3.01,3.02", &["3.000000", "3.040000", "3.080000"]);
    forced_keyframes(&["-r", "24"], "3.0,3.01,3.02", &["3.000000", "3.042000", "3.083000"]);
}

/// `expr:gte(t,n_forced*N)`, the HLS recipes' form: the coordinator works
/// out which frames ffmpeg forces and gives each chunk their times.
#[test]
fn forced_keyframes_from_an_expression_land_where_ffmpeg_puts_them() {
    let every = "expr:gte(t,n_forced*1.3)";
    forced_keyframes(&[], every, &["1.360000", "2.640000", "3.960000", "5.240000"]);
    forced_keyframes(&["-r", "24"], every, &["1.375000", "2.667000", "3.958000", "5.250000"]);
}

/// Encodes a 6 s clip with `-force_key_frames list` and `rate` (output
/// options) through ffmpeg and through two chunks of 3 s, and checks that
/// ffmpeg put keyframes at `forced` and the chunks put them where ffmpeg
/// did, plus at most one more: at the second chunk's start.
fn forced_keyframes(rate: &[&str], list: &str, forced: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), "src.mkv", 6, "320x240");
    let (plain, dist) = (dir.path().join("plain.mkv"), dir.path().join("dist.mkv"));
    let encode = ["-c:v", "libx264", "-g", "1000", "-sc_threshold", "0", "-force_key_frames"];
    let encode = [&encode[..], &[list, "-an"], rate].concat();
    plain_encode(&[], &src, &encode, &plain);
    let node = Node::start(2);
    distributed_encode(&[&node], &["--segment-duration", "3"], &[], &src, &encode, &dist);
    let keyframes = |file: &Path| -> Vec<String> {
        let out = Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "v", "-show_entries", "packet=pts_time,flags"])
            .args(["-of", "csv=p=0"])
            .arg(file)
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        text.lines()
            .filter(|l| l.contains(",K"))
            .map(|l| l.split(',').next().unwrap().to_string())
            .collect()
    };
    let (plain, dist) = (keyframes(&plain), keyframes(&dist));
    for forced in forced {
        assert!(plain.contains(&forced.to_string()), "{plain:?}");
    }
    // Every chunk starts with a keyframe too (the second chunk at 3 s, or at
    // the first frame the output shows from there; this source's keyframes
    // sit one frame late in both files), unless ffmpeg forced that frame
    // anyway; nothing else differs.
    let extra: Vec<f64> =
        dist.iter().filter(|k| !plain.contains(k)).map(|k| k.parse().unwrap()).collect();
    assert!(
        extra.len() <= 1 && extra.iter().all(|k| (k - 3.0).abs() < 0.1),
        "distributed {dist:?}, plain {plain:?}"
    );
    assert!(plain.iter().all(|k| dist.contains(k)), "distributed {dist:?}, plain {plain:?}");
}

#[test]
fn fps_mode_and_vsync_are_honoured_on_a_variable_frame_rate_source() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("vfr.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x120:rate=30:duration=3",
        "-vf",
        "select='not(between(n,20,35))*not(between(n,50,52))'",
        "-fps_mode",
        "vfr",
        "-c:v",
        "libx264",
        "-bf",
        "2",
        src.to_str().unwrap(),
    ]);
    let node = Node::start(3);
    let encode = ["-c:v", "libx264", "-qp", "0", "-preset", "ultrafast"];
    for (global, output, ext) in [
        (None, Some("passthrough"), "mkv"),
        (None, Some("vfr"), "mp4"),
        (Some("0"), None, "mp4"),
        (None, Some("cfr"), "mp4"),
        (Some("cfr"), None, "mov"),
        (None, Some("cfr"), "mkv"),
    ] {
        let before: Vec<&str> = global.map(|g| vec!["-vsync", g]).unwrap_or_default();
        let mut options: Vec<&str> = encode.to_vec();
        options.extend(output.map(|o| ["-fps_mode", o]).into_iter().flatten());
        let plain = dir.path().join(format!("plain.{ext}"));
        let dist = dir.path().join(format!("dist.{ext}"));
        let mut args = before.clone();
        args.extend(["-y", "-i", src.to_str().unwrap()]);
        args.extend(&options);
        args.push(plain.to_str().unwrap());
        ffmpeg(&args);
        let extra = [&["-v", "verbose", "--segment-duration", "0.4"][..], &before].concat();
        let text = distributed_encode(&[&node], &extra, &[], &src, &options, &dist);
        assert!(!text.contains("running with ffmpeg"), "{global:?} {output:?}: {text}");
        assert_eq!(
            framemd5(&dist, "0:v", false),
            framemd5(&plain, "0:v", false),
            "-vsync {global:?} -fps_mode {output:?} into {ext}"
        );
    }
}

/// A chunk of eleven minutes at 30 fps into 24: its frame map's lookups are
/// too long for one argument, so the node hands them to ffmpeg in a file.
#[test]
fn a_long_chunk_gets_its_frame_map_through_a_filter_script() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("long.nut");
    let lavfi = "testsrc2=size=32x32:rate=30:duration=667";
    ffmpeg(&["-f", "lavfi", "-i", lavfi, "-c:v", "ffv1", src.to_str().unwrap()]);
    let encode = ["-r", "24", "-c:v", "ffv1"];
    let plain = dir.path().join("plain.mkv");
    let dist = dir.path().join("dist.mkv");
    plain_encode(&[], &src, &encode, &plain);
    let node = Node::start(1);
    let extra = ["-v", "verbose", "--segment-duration", "1000"];
    let text = distributed_encode(&[&node], &extra, &[], &src, &encode, &dist);
    assert!(text.contains("1 chunks on 1 nodes"), "{text}");
    assert_eq!(framemd5(&dist, "0:v", false), framemd5(&plain, "0:v", false));
}

/// A node's ffmpeg that, as each chunk's encode ends (two seconds later, so an
/// upload under way can land), logs how many chunk inputs the node holds.
fn input_counting_ffmpeg(dir: &Path) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt as _;
    let log = dir.join("held.log");
    let script = dir.join("counting-ffmpeg");
    let body = format!(
        "#!/bin/sh\nffmpeg \"$@\"; rc=$?\ncase \"$PWD\" in */chunk-*)\n  sleep 2\n  ls -d ../chunk-*/in.nut | wc -l >> '{}';;\nesac\nexit $rc\n",
        log.display()
    );
    std::fs::write(&script, body).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, log)
}

#[test]
fn a_busy_node_receives_the_next_chunk_while_it_encodes() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), "src.mkv", 4, "320x240");
    let (counting, log) = input_counting_ffmpeg(dir.path());
    let node = Node::start_with_ffmpeg(1, &counting);
    let encode = ["-c:v", "ffv1", "-an"];
    let plain = dir.path().join("plain.mkv");
    plain_encode(&[], &src, &encode, &plain);
    for ahead in ["0", "1"] {
        let _ = std::fs::remove_file(&log);
        let out = dir.path().join(format!("ahead-{ahead}.mkv"));
        let extra = ["--segment-duration", "1", "--upload-ahead", ahead];
        distributed_encode(&[&node], &extra, &[], &src, &encode, &out);
        assert_eq!(framemd5(&out, "0:v", false), framemd5(&plain, "0:v", false), "ahead {ahead}");
        let held: Vec<u32> = std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .map(|line| line.trim().parse().unwrap())
            .collect();
        assert!(held.len() >= 3, "a chunk per second: {held:?}");
        if ahead == "0" {
            // The next chunk is handed out only once this one is verified.
            assert!(held.iter().all(|&n| n == 1), "{held:?}");
        } else {
            // It uploads into the queue place while the slot encodes.
            assert!(held[..held.len() - 1].iter().all(|&n| n == 2), "{held:?}");
            assert_eq!(held.last(), Some(&1), "nothing is left after the last: {held:?}");
        }
    }
}

/// Without `-c:v`, ffmpeg alone encodes with the container's default
/// encoder: dffmpeg assumes libx264 for Matroska, and distributes only when
/// ffmpeg alone's trial picks it too. An ffmpeg that picks another (here a
/// wrapper that makes the trial's choice mpeg4, as a build without libx264
/// would) gets the command, and says why.
#[test]
fn without_c_v_the_default_encoder_is_the_one_ffmpeg_picks() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), "src.mkv", 2, "160x120");
    let node = Node::start(1);
    let out = dir.path().join("out.mkv");
    let args = ["-v", "verbose", "-y", "-i", src.to_str().unwrap(), out.to_str().unwrap()];
    let err = assert_ok(&dffmpeg(&[&node], &args));
    assert!(err.contains("[dffmpeg] chunk"), "not distributed: {err}");
    assert!(err.contains("(h264 (native) -> h264 (libx264))"), "{err}");

    let picky = tests::script(
        dir.path(),
        "picky-ffmpeg",
        "n=$#; i=0\ncase \"$*\" in *dffmpeg-trial-*)\n  for a do\n    shift; i=$((i+1))\n    [ \"$i\" -eq \"$n\" ] && set -- \"$@\" -c:v mpeg4\n    set -- \"$@\" \"$a\"\n  done;;\nesac\nexec ffmpeg \"$@\"\n",
    );
    let output = Command::new(bin("dffmpeg"))
        .args(["--nodes", &node.addr])
        .args(args)
        .env("DFFMPEG_FFMPEG", &picky)
        .env_remove("DFFMPEG_NODES")
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    assert!(
        err.contains(
            "[dffmpeg] running with ffmpeg: without -c:v ffmpeg encodes the video with mpeg4, not libx264"
        ),
        "{err}"
    );
}
