//! The console of a distributed run reads like ffmpeg's: banner, input
//! description and stream mapping unless -hide_banner, the overwrite prompt
//! and its answers, -progress blocks, -benchmark's closing lines, and on
//! Ctrl-C the output of what was encoded and exit 255.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::unix::fs::FileTypeExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use tests::{Node, bin, ffmpeg};

fn clip(dir: &Path, seconds: u32) -> PathBuf {
    let path = dir.join("src.mkv");
    let video = format!("testsrc2=size=320x240:rate=25:duration={seconds}");
    let audio = format!("sine=duration={seconds}");
    let path_text = path.to_str().unwrap();
    ffmpeg(&[
        "-f", "lavfi", "-i", &video, "-f", "lavfi", "-i", &audio, "-c:v", "libx264", "-g", "25",
        "-c:a", "aac", path_text,
    ]);
    path
}

/// dffmpeg on `node` with `args`, `answer` written to its stdin.
fn run<S: AsRef<std::ffi::OsStr>>(node: &Node, args: &[S], answer: &str) -> Output {
    let mut child = Command::new(bin("dffmpeg"))
        .args(["--nodes", &node.addr, "--segment-duration", "1"])
        .args(args)
        .env_remove("DFFMPEG_NODES")
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(answer.as_bytes());
    drop(stdin);
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn banner_input_and_stream_mapping_unless_hidden() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), 2);
    let out = dir.path().join("out.mkv");
    let node = Node::start(2);
    let args = ["-y", "-i", src.to_str().unwrap(), "-c:v", "libx264", "-c:a", "copy"];
    let shown = run(&node, &[&args[..], &[out.to_str().unwrap()]].concat(), "");
    assert!(shown.status.success());
    let err = text(&shown.stderr);
    assert!(err.starts_with("ffmpeg version "), "{err}");
    assert!(err.contains("\n  libavcodec "), "{err}");
    assert!(err.contains(&format!("Input #0, matroska,webm, from '{}':", src.display())));
    assert!(err.contains("  Duration: 00:00:02."), "{err}");
    assert!(err.contains(
        "Stream mapping:\n  Stream #0:0 -> #0:0 (h264 (native) -> h264 (libx264))\n  Stream #0:1 -> #0:1 (copy)\n"
    ));
    assert!(err.contains("frame=   50 "), "{err}");
    // The output's description, from the mux, naming the output itself.
    let described = err.find(&format!("Output #0, matroska, to '{}':\n", out.display()));
    let described = described.unwrap_or_else(|| panic!("no Output #0 block: {err}"));
    assert!(err[described..].contains("\n  Stream #0:0: Video: h264 "), "{err}");
    assert!(err[described..].contains("\n  Stream #0:1: Audio: aac "), "{err}");
    assert!(err[described..].contains(" Lsize="), "the block precedes the last stats line");
    // ffmpeg's closing line, after the last stats line.
    let closing = err.lines().last().unwrap_or_default();
    assert!(closing.starts_with("video:") && closing.contains("kB audio:"), "{err}");
    assert!(closing.contains(" global headers:") && closing.contains("kB muxing overhead: "));
    assert!(closing.ends_with('%'), "{closing}");

    let hidden = run(&node, &[&["-hide_banner"], &args[..], &[out.to_str().unwrap()]].concat(), "");
    let err = text(&hidden.stderr);
    assert!(!err.contains("ffmpeg version") && err.starts_with("Input #0"), "{err}");
    let quiet = run(
        &node,
        &[&["-v", "error", "-nostats"], &args[..], &[out.to_str().unwrap()]].concat(),
        "",
    );
    assert!(quiet.status.success());
    assert_eq!(text(&quiet.stderr), "", "-v error -nostats prints nothing");
    let quiet = run(&node, &[&["-v", "error"], &args[..], &[out.to_str().unwrap()]].concat(), "");
    assert_eq!(text(&quiet.stderr), "", "-v error prints no stats line unless -stats");
    let forced =
        run(&node, &[&["-v", "error", "-stats"], &args[..], &[out.to_str().unwrap()]].concat(), "");
    assert!(text(&forced.stderr).contains(" Lsize="), "-stats shows the stats line at any level");
    assert!(!text(&forced.stderr).contains("muxing overhead"), "the closing line is info level");
}

#[test]
fn benchmark_ends_with_ffmpegs_bench_lines() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), 2);
    let out = dir.path().join("out.mkv");
    let node = Node::start(2);
    let (src, out) = (src.to_str().unwrap(), out.to_str().unwrap());
    let args = ["-y", "-benchmark", "-v", "verbose", "-i", src, "-c:v", "libx264", "-c:a", "copy"];
    let ran = run(&node, &[&args[..], &[out]].concat(), "");
    let err = text(&ran.stderr);
    assert!(ran.status.success(), "{err}");
    assert!(err.contains(" chunks on 1 nodes"), "-benchmark is distributed: {err}");
    let lines: Vec<&str> = err.lines().rev().take(2).collect();
    let (times, rss) = (lines[1], lines[0]);
    let field = |line: &str, name: &str, unit: &str| -> f64 {
        let at = line.find(&format!("{name}=")).unwrap_or_else(|| panic!("{name} in {line}"));
        let value = &line[at + name.len() + 1..];
        value[..value.find(unit).unwrap()].parse().unwrap()
    };
    assert!(times.starts_with("bench: utime="), "{err}");
    // Wall time covers the whole encode; this process's own CPU time is a
    // fraction of it (the encode runs in ffmpegs on the node).
    let (user, system, real) =
        (field(times, "utime", "s"), field(times, "stime", "s"), field(times, "rtime", "s"));
    assert!(real > 0.2 && user + system < real * 2.0, "{times}");
    assert!(rss.starts_with("bench: maxrss=") && rss.ends_with("kB"), "{err}");
    let kb = field(rss, "maxrss", "kB");
    assert!((5_000.0..200_000.0).contains(&kb), "a coordinator's peak memory: {rss}");
    let quiet = run(
        &node,
        &[&["-y", "-benchmark", "-v", "error", "-i", src], &args[6..], &[out]].concat(),
        "",
    );
    assert!(!text(&quiet.stderr).contains("bench:"), "the bench lines are info level");
}

#[test]
fn an_existing_output_is_asked_about_as_ffmpeg_asks() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), 2);
    let out = dir.path().join("out.mkv");
    std::fs::write(&out, b"keep me").unwrap();
    let node = Node::start(2);
    let encode = ["-hide_banner", "-i", src.to_str().unwrap(), "-c:v", "libx264"];
    let out_text = out.to_str().unwrap().to_string();
    let with = |extra: &[&'static str]| -> Vec<String> {
        extra.iter().chain(&encode).map(|s| s.to_string()).chain([out_text.clone()]).collect()
    };

    let declined = run(&node, &with(&[]), "n\n");
    assert_eq!(declined.status.code(), Some(1));
    assert!(
        text(&declined.stderr).contains(&format!(
            "File '{}' already exists. Overwrite? [y/N] Not overwriting - exiting",
            out.display()
        )),
        "{}",
        text(&declined.stderr)
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");

    for flags in [&["-nostdin"][..], &["-n"][..]] {
        let refused = run(&node, &with(flags), "y\n");
        assert_eq!(refused.status.code(), Some(1), "{flags:?}");
        let expected = format!("File '{}' already exists. Exiting.", out.display());
        assert!(text(&refused.stderr).contains(&expected), "{flags:?}");
        assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    }

    let accepted = run(&node, &with(&["-v", "verbose"]), "y\n");
    assert!(accepted.status.success(), "{}", text(&accepted.stderr));
    assert!(text(&accepted.stderr).contains("[dffmpeg] chunk"), "not distributed");
    assert!(std::fs::metadata(&out).unwrap().len() > 1000);
}

/// The `Stream mapping:` block of `stderr`, up to the keyboard hint.
fn mapping_block(stderr: &str) -> String {
    let start = stderr.find("Stream mapping:").unwrap_or_else(|| panic!("no mapping: {stderr}"));
    let block = &stderr[start..];
    block[..block.find("Press [q]").unwrap_or(block.len())].to_string()
}

/// The `Output #0` block of `stderr`, its indented lines included.
fn output_block(stderr: &str) -> String {
    let start = stderr.find("Output #0, ").unwrap_or_else(|| panic!("no Output #0: {stderr}"));
    let mut lines = stderr[start..].lines();
    let head = lines.next().unwrap_or_default().to_string();
    lines.take_while(|l| l.starts_with(' ')).fold(head, |block, l| block + "\n" + l)
}

#[test]
fn a_graphs_output_is_mapped_and_tagged_as_ffmpeg_does() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("tagged.mkv");
    // The source's video has tags and a disposition that a graph's output
    // does not inherit, and the audio is mapped before the graph's output.
    let plain_clip = clip(dir.path(), 2);
    ffmpeg(&[
        "-i",
        plain_clip.to_str().unwrap(),
        "-c",
        "copy",
        "-metadata:s:v",
        "language=fra",
        "-metadata:s:v",
        "title=Camera",
        "-disposition:v",
        "default",
        src.to_str().unwrap(),
    ]);
    let node = Node::start(2);
    // With the audio encoded, its encoder's simple graph makes two graphs,
    // and ffmpeg names the complex one's pads "(graph 0)".
    for (graph, audio) in [
        (
            &["-filter_complex", "[0:v]hflip,scale=80:60[v]", "-map", "0:a", "-map", "[v]"][..],
            "copy",
        ),
        (&["-lavfi", "vflip"][..], "copy"),
        (&["-filter_complex", "[0:v]hflip[v]", "-map", "[v]", "-map", "0:a"][..], "aac"),
        // Chains on audio, which the final mux runs: the graph's inputs
        // are listed in the inputs' order, whatever the chains' order.
        (
            &["-filter_complex", "[0:a]volume=0.5[a];[0:v]hflip[v]", "-map", "[v]", "-map", "[a]"]
                [..],
            "aac",
        ),
        (&["-filter_complex", "[0:a]volume=0.5[a]", "-map", "0:v", "-map", "[a]"][..], "aac"),
    ] {
        let (plain, ours) = (dir.path().join("plain.mkv"), dir.path().join("ours.mkv"));
        let with = |out: &Path| -> Vec<String> {
            ["-y", "-i", src.to_str().unwrap()]
                .iter()
                .chain(graph)
                .chain(&["-c:v", "libx264", "-c:a", audio, out.to_str().unwrap()])
                .map(|a| a.to_string())
                .collect()
        };
        let reference = Command::new("ffmpeg").args(with(&plain)).output().unwrap();
        assert!(reference.status.success(), "{}", text(&reference.stderr));
        let verbose = ["-v".to_string(), "verbose".to_string()];
        let distributed = run(&node, &[&verbose[..], &with(&ours)].concat(), "");
        let err = text(&distributed.stderr);
        assert!(distributed.status.success(), "{err}");
        assert!(err.contains("[dffmpeg] chunk"), "{graph:?} was not distributed: {err}");
        assert_eq!(mapping_block(&err), mapping_block(&text(&reference.stderr)), "{graph:?}");
        // ffmpeg alone's description of the output, before any stats line.
        let ours_block = output_block(&err).replace("ours.mkv", "plain.mkv");
        assert_eq!(ours_block, output_block(&text(&reference.stderr)), "{graph:?}");
        assert!(err.find("Output #0, ") < err.find("frame="), "{err}");
        let streams = |file: &Path| {
            let out = Command::new("ffprobe")
                .args(["-v", "error", "-of", "compact", "-show_entries"])
                .arg("stream=codec_type:stream_tags:stream_disposition=default")
                .arg(file)
                .output()
                .unwrap();
            // The DURATION tags are the muxer's own, from the packets.
            let keep = |line: &str| {
                line.split('|')
                    .filter(|f| !f.starts_with("tag:DURATION"))
                    .collect::<Vec<_>>()
                    .join("|")
            };
            text(&out.stdout).lines().map(keep).collect::<Vec<_>>().join("\n")
        };
        assert_eq!(streams(&ours), streams(&plain), "{graph:?}");
    }
}

/// A mono WAV has no channel layout: ffmpeg guesses one, warns, and
/// describes the input with it; so does a distributed run.
#[test]
fn inputs_are_described_with_the_layouts_ffmpeg_guesses() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), 2);
    let wav = dir.path().join("voice.wav");
    ffmpeg(&["-f", "lavfi", "-i", "sine=duration=2", "-ac", "1", wav.to_str().unwrap()]);
    let node = Node::start(2);
    let out = dir.path().join("out.mkv");
    let args = [
        "-hide_banner",
        "-y",
        "-i",
        src.to_str().unwrap(),
        "-i",
        wav.to_str().unwrap(),
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-c:v",
        "libx264",
        "-c:a",
        "aac",
        out.to_str().unwrap(),
    ];
    let reference = Command::new("ffmpeg").args(args).output().unwrap();
    let distributed = run(&node, &args, "");
    let err = text(&distributed.stderr);
    assert!(distributed.status.success(), "{err}");
    let before_mapping = |t: &str| t[..t.find("Stream mapping:").unwrap_or(t.len())].to_string();
    let expected = before_mapping(&text(&reference.stderr));
    assert!(expected.contains("Guessed Channel Layout for Input Stream #1.0 : mono\n"));
    assert_eq!(before_mapping(&err), expected);
}

/// The stream mapping names decoders and encoders as ffmpeg does where
/// they are not the codec's own name: MP3 audio is decoded by `mp3float`,
/// SubRip by `srt`, and Matroska's ASS is written by `ssa`.
#[test]
fn decoders_and_encoders_are_named_as_ffmpeg_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("mp3.mkv");
    let video = "testsrc2=size=320x240:rate=25:duration=2";
    let make = ["-f", "lavfi", "-i", video, "-f", "lavfi", "-i", "sine=duration=2"];
    ffmpeg(
        &[&make[..], &["-c:v", "libx264", "-c:a", "libmp3lame", src.to_str().unwrap()]].concat(),
    );
    let srt = dir.path().join("s.srt");
    std::fs::write(&srt, "1\n00:00:00,500 --> 00:00:01,000\nHello\n").unwrap();
    let node = Node::start(2);
    let out = dir.path().join("out.mkv");
    let args = [
        "-y",
        "-i",
        src.to_str().unwrap(),
        "-i",
        srt.to_str().unwrap(),
        "-c:v",
        "libx264",
        "-c:a",
        "aac",
        out.to_str().unwrap(),
    ];
    let reference = Command::new("ffmpeg").args(args).output().unwrap();
    let distributed = run(&node, &args, "");
    let err = text(&distributed.stderr);
    assert!(distributed.status.success(), "{err}");
    let expected = mapping_block(&text(&reference.stderr));
    assert!(expected.contains("(mp3 (mp3float) -> aac (native))"), "{expected}");
    assert!(expected.contains("(subrip (srt) -> ass (ssa))"), "{expected}");
    assert_eq!(mapping_block(&err), expected);
}

/// What ffmpeg warns as it sets up the output's streams comes before the
/// stream mapping as with ffmpeg alone (`-c copy -c:v libx264`: "Multiple
/// -c ... options specified for stream 0"); the trial's own `-frames:v 1`
/// adds no warning of a user's `-frames:v`.
#[test]
fn what_ffmpeg_warns_about_the_outputs_options_is_said() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), 2);
    let node = Node::start(2);
    let out = dir.path().join("out.mkv");
    let (src, out) = (src.to_str().unwrap(), out.to_str().unwrap());
    for options in
        [&["-c", "copy", "-c:v", "libx264"][..], &["-c:v", "libx264", "-frames:v", "30", "-an"]]
    {
        let mut args = vec!["-hide_banner", "-y", "-i", src];
        args.extend(options);
        args.push(out);
        let reference = Command::new("ffmpeg").args(&args).output().unwrap();
        let distributed = run(&node, &args, "");
        let err = text(&distributed.stderr);
        assert!(distributed.status.success(), "{err}");
        let upto_mapping = |t: &str| t[..t.find("Stream mapping:").unwrap_or(t.len())].to_string();
        let expected = upto_mapping(&text(&reference.stderr));
        assert_eq!(expected.contains("Multiple -c"), options[0] == "-c", "{expected}");
        assert_eq!(upto_mapping(&err), expected);
    }
}

#[test]
fn every_output_is_asked_about_before_any_is_encoded() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), 2);
    let (first, second) = (dir.path().join("first.mkv"), dir.path().join("second.mkv"));
    std::fs::write(&second, b"keep me").unwrap();
    let node = Node::start(2);
    let args = [
        "-hide_banner",
        "-i",
        src.to_str().unwrap(),
        "-c:v",
        "libx264",
        first.to_str().unwrap(),
        "-c:v",
        "ffv1",
        second.to_str().unwrap(),
    ];
    // Verbose, so that a fallback to ffmpeg (which opens the first output
    // before it asks about the second) says why.
    let declined = run(&node, &[&["-v", "verbose"], &args[..]].concat(), "n\n");
    let err = text(&declined.stderr);
    assert_eq!(declined.status.code(), Some(1), "{err}");
    assert!(err.contains("Not overwriting - exiting"), "{err}");
    assert!(!first.exists(), "the first output was written before the second was declined: {err}");
    assert_eq!(std::fs::read(&second).unwrap(), b"keep me");
    let accepted = run(&node, &[&["-v", "verbose"], &args[..]].concat(), "y\n");
    assert!(accepted.status.success(), "{}", text(&accepted.stderr));
    let err = text(&accepted.stderr);
    assert!(err.contains("first.mkv: ") && err.contains("second.mkv: "), "{err}");
    assert!(err.contains("  Stream #0:0 -> #1:0 (h264 (native) -> ffv1 (native))"), "{err}");
}

#[test]
fn progress_blocks_go_to_a_file_or_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), 2);
    let out = dir.path().join("out.mkv");
    let node = Node::start(2);
    let progress = dir.path().join("progress.txt");
    let args = [
        "-y",
        "-hide_banner",
        "-nostats",
        "-stats_period",
        "0.2",
        "-progress",
        progress.to_str().unwrap(),
        "-i",
        src.to_str().unwrap(),
        "-c:v",
        "libx264",
        out.to_str().unwrap(),
    ];
    assert!(run(&node, &args, "").status.success());
    let blocks = std::fs::read_to_string(&progress).unwrap();
    let last: Vec<&str> = blocks.lines().rev().take(12).collect();
    assert_eq!(last[0], "progress=end");
    assert!(last.contains(&"frame=50"), "{blocks}");
    // Where the furthest stream ends (the audio, here), as ffmpeg alone says.
    let alone = dir.path().join("alone.mkv");
    let alone_progress = dir.path().join("alone.txt");
    let mut reference: Vec<&str> = args.to_vec();
    reference[6] = alone_progress.to_str().unwrap();
    *reference.last_mut().unwrap() = alone.to_str().unwrap();
    assert!(Command::new("ffmpeg").args(&reference).output().unwrap().status.success());
    let alone_blocks = std::fs::read_to_string(&alone_progress).unwrap();
    let out_time =
        |text: &str| text.lines().rev().find(|l| l.starts_with("out_time=")).map(str::to_string);
    assert_eq!(out_time(&blocks), out_time(&alone_blocks), "{blocks}");
    let size = std::fs::metadata(&out).unwrap().len();
    assert!(last.contains(&format!("total_size={size}").as_str()), "{blocks}");
    for key in ["fps=", "bitrate=", "out_time_us=", "speed=", "dup_frames=0", "drop_frames=0"] {
        assert!(last.iter().any(|l| l.starts_with(key)), "{key} missing: {blocks}");
    }

    let to_stdout = [&args[..6], &["pipe:1"], &args[7..]].concat();
    let piped = run(&node, &to_stdout, "");
    assert!(piped.status.success());
    assert!(text(&piped.stdout).ends_with("progress=end\n"), "{}", text(&piped.stdout));
}

#[test]
fn progress_blocks_go_to_a_tcp_listener() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), 2);
    let out = dir.path().join("out.mkv");
    let node = Node::start(2);
    // What a media server does: listen, and read until ffmpeg closes.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tcp://{}", listener.local_addr().unwrap());
    let reader = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stream, &mut text).unwrap();
        text
    });
    let args = ["-y", "-nostats", "-progress", &url, "-i", src.to_str().unwrap()];
    let done = run(&node, &[&args[..], &["-c:v", "libx264", out.to_str().unwrap()]].concat(), "");
    assert!(done.status.success(), "{}", text(&done.stderr));
    let blocks = reader.join().unwrap();
    assert!(blocks.ends_with("progress=end\n"), "{blocks}");
    assert!(blocks.lines().any(|l| l == "frame=50"), "{blocks}");

    // Nobody listening: ffmpeg's own error and exit code, and no output.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let lost = dir.path().join("lost.mkv");
    let refused = run(
        &node,
        &["-y", "-progress", &format!("tcp://{closed}"), "-i", src.to_str().unwrap()]
            .into_iter()
            .chain(["-c:v", "libx264", lost.to_str().unwrap()])
            .collect::<Vec<_>>(),
        "",
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("Failed to open progress URL"),
        "{}",
        text(&refused.stderr)
    );
    assert!(!lost.exists());
}

/// dffmpeg on a 20 s clip interrupted by `signals` SIGINTs once chunks are
/// on the node, sent to its whole process group as a terminal's Ctrl-C is
/// (the ffmpegs dffmpeg starts, cuts, muxes, must not die of it); returns
/// its output, the output path and the temp dir. `level` is `-v`'s.
fn interrupted(
    signals: usize,
    level: &str,
) -> (Output, PathBuf, tempfile::TempDir, tempfile::TempDir, Node) {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), 20);
    let out = dir.path().join("out.mkv");
    let node = Node::start(1);
    let temp = tempfile::tempdir().unwrap();
    let child = Command::new(bin("dffmpeg"))
        .args(["--nodes", &node.addr, "--segment-duration", "2", "--temp-dir"])
        .arg(temp.path())
        .args(["-y", "-nostats", "-v", level, "-i", src.to_str().unwrap(), "-c:v", "libx264"])
        .args(["-preset", "slower", out.to_str().unwrap()])
        .env_remove("DFFMPEG_NODES")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    // Wait until chunks are on the node, then interrupt.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while node.leftovers().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!node.leftovers().is_empty(), "no chunk reached the node");
    for _ in 0..signals {
        // SAFETY: kill(2) on our own child's process group has no memory
        // effects.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(-(child.id() as i32), libc::SIGINT);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let output = child.wait_with_output().unwrap();
    (output, out, dir, temp, node)
}

/// Ctrl-C stops the encode as ffmpeg's does: the output holds what was
/// encoded from the start (here the chunks up to the first unfinished one,
/// at least the first), a playable file, and dffmpeg exits 255.
#[test]
fn ctrl_c_writes_what_was_encoded_and_exits_255() {
    let (output, out, _dir, temp, node) = interrupted(1, "info");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(255), "{stderr}");
    assert!(stderr.contains("Exiting normally, received signal 2."), "{stderr}");
    let frames = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v", "-count_frames", "-show_entries"])
        .args(["stream=nb_read_frames", "-of", "csv=p=0"])
        .arg(&out)
        .output()
        .unwrap();
    let frames: u32 = text(&frames.stdout).trim().parse().expect("a playable output");
    assert!((50..500).contains(&frames), "{frames} frames of 500");
    assert_only_chunks_kept(temp.path());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !node.leftovers().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(node.leftovers().is_empty(), "the node kept {:?}", node.leftovers());
}

/// Asserts that an interrupted run left in its temp dir `temp` only its
/// job directory's verified chunks, kept for a rerun (`resume`).
fn assert_only_chunks_kept(temp: &Path) {
    for entry in std::fs::read_dir(temp).unwrap() {
        let job = entry.unwrap().path();
        let name = job.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("dffmpeg-job-"), "temp files left: {name}");
        for entry in std::fs::read_dir(&job).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            assert!(["lock", "identity", "verified"].contains(&name.as_str()), "left: {name}");
        }
        for entry in std::fs::read_dir(job.join("verified")).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            assert!(name.ends_with(".chunk") || name.ends_with(".json"), "left: {name}");
        }
    }
}

/// A second Ctrl-C, for a user who will not wait for the first chunk,
/// ends the run at once: exit 255, no output, and nothing left behind but
/// the chunks verified so far, for a rerun; at `-v warning`, silently.
#[test]
fn a_second_ctrl_c_exits_255_and_leaves_nothing() {
    let (output, out, _dir, temp, node) = interrupted(2, "warning");
    assert_eq!(output.status.code(), Some(255), "{}", text(&output.stderr));
    // ffmpeg says it at info level.
    assert!(!text(&output.stderr).contains("Exiting normally"), "{}", text(&output.stderr));
    assert!(!out.exists());
    assert_only_chunks_kept(temp.path());
    // The node notices the client is gone and removes the chunk's directory.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !node.leftovers().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(node.leftovers().is_empty(), "the node kept {:?}", node.leftovers());
}

/// Frames' checksums alone, one line per frame, from `framemd5`'s output.
fn frame_hashes(framemd5: &str) -> Vec<String> {
    framemd5
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit(',').next().map(|h| h.trim().to_string()))
        .collect()
}

#[test]
fn q_on_stdin_stops_and_keeps_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), 40);
    let out = dir.path().join("out.mkv");
    let node = Node::start(2);
    let temp = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin("dffmpeg"))
        .args(["--nodes", &node.addr, "--segment-duration", "1", "--temp-dir"])
        .arg(temp.path())
        .args(["-y", "-v", "verbose", "-i", src.to_str().unwrap(), "-c:v", "libx264"])
        .args(["-qp", "0", "-preset", "slow", "-c:a", "copy", out.to_str().unwrap()])
        .env_remove("DFFMPEG_NODES")
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    // Stderr, read on a thread; `q` goes in once the second chunk is verified.
    let (seen_tx, seen_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::Read as _;
        let (mut all, mut buf, mut told) = (Vec::new(), [0u8; 4096], false);
        while let Ok(n @ 1..) = stderr.read(&mut buf) {
            all.extend_from_slice(&buf[..n]);
            if !told && String::from_utf8_lossy(&all).matches("[dffmpeg] chunk ").count() >= 2 {
                told = true;
                let _ = seen_tx.send(());
            }
        }
        String::from_utf8_lossy(&all).into_owned()
    });
    assert!(seen_rx.recv_timeout(Duration::from_secs(120)).is_ok(), "no chunk was verified");
    stdin.write_all(b"q").unwrap();
    let status = child.wait().unwrap();
    let err = reader.join().unwrap();
    assert!(status.success(), "{err}");
    assert!(err.contains("Press [q] to stop, [?] for help\n"), "{err}");
    assert!(err.contains("\n\n[q] command received. Exiting.\n\n"), "{err}");

    // The output is the source's first frames, whole chunks of them, and
    // its audio ends where its video does.
    let got = frame_hashes(&tests::framemd5(&out, "0:v", false));
    let source = frame_hashes(&tests::framemd5(&src, "0:v", false));
    assert!(got.len() >= 50 && got.len() < 1000, "{} frames of 1000", got.len());
    assert_eq!(got.len() % 25, 0, "whole one-second chunks: {} frames", got.len());
    assert_eq!(got, source[..got.len()], "the kept frames are the source's first");
    let probed = tests::probe(&out);
    let video_end = got.len() as f64 / 25.0;
    let duration = tests::seconds(&probed["format"]["duration"]);
    assert!((duration - video_end).abs() < 0.1, "{duration} s for {video_end} s of video");
    assert!(
        err.contains(&format!("frame={:5}", got.len())),
        "the last stats line counts the kept frames"
    );
    // The chunks verified past the stop wait for the same command again.
    assert!(err.contains(": stopped; the same command run again resumes from the"), "{err}");
    assert_only_chunks_kept(temp.path());
}

/// `q` as soon as ffmpeg would read it, before the first chunk's input is
/// cut: no other input is cut (the cutting stops), the first chunk's is cut
/// at once, and the output is that chunk, the source's first frames.
#[test]
fn q_before_any_chunk_keeps_the_first_one_and_cuts_no_other() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), 60);
    let out = dir.path().join("out.mkv");
    let node = Node::start(1);
    let temp = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin("dffmpeg"))
        .args(["--nodes", &node.addr, "--segment-duration", "1", "--temp-dir"])
        .arg(temp.path())
        .args(["-y", "-v", "verbose", "-i", src.to_str().unwrap(), "-c:v", "libx264"])
        .args(["-qp", "0", "-preset", "veryslow", "-an", out.to_str().unwrap()])
        .env_remove("DFFMPEG_NODES")
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .env("DFFMPEG_LOG", "info")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut err = String::new();
    let mut line = Vec::new();
    // ffmpeg's prompt ends without a line break of its own before stats.
    while stderr.read_until(b'\n', &mut line).unwrap() > 0 {
        err.push_str(&String::from_utf8_lossy(&line));
        line.clear();
        if err.contains(keyboard_prompt()) {
            stdin.write_all(b"q").unwrap();
            break;
        }
    }
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    err.push_str(&rest);
    assert!(child.wait().unwrap().success(), "{err}");
    let got = frame_hashes(&tests::framemd5(&out, "0:v", false));
    let source = frame_hashes(&tests::framemd5(&src, "0:v", false));
    assert!(!got.is_empty() && got.len() < 1500, "{} frames of 1500", got.len());
    assert_eq!(got, source[..got.len()], "the kept frames are the source's first");
    // Of 60 inputs, only those cut before the stop and the first chunk's.
    // (9 here while the cutting went on after q.)
    let cuts = err.matches("chunk input cut").count();
    assert!(cuts <= 4, "{cuts} inputs cut after q:\n{err}");
}

/// ffmpeg's prompt for `q`.
fn keyboard_prompt() -> &'static str {
    "Press [q] to stop, [?] for help"
}

#[test]
fn nostdin_leaves_q_unread() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), 4);
    let out = dir.path().join("out.mkv");
    let node = Node::start(2);
    let args = ["-y", "-nostdin", "-i", src.to_str().unwrap(), "-c:v", "libx264", "-c:a", "copy"];
    let ran = run(&node, &[&args[..], &[out.to_str().unwrap()]].concat(), "q");
    let err = text(&ran.stderr);
    assert!(ran.status.success(), "{err}");
    assert!(!err.contains("Press [q]") && !err.contains("[q] command"), "{err}");
    assert_eq!(frame_hashes(&tests::framemd5(&out, "0:v", false)).len(), 100);
}

/// dffmpeg on `node` in `cwd` with `args` and `FFREPORT=ffreport` if given.
fn run_in(node: &Node, cwd: &Path, args: &[&str], ffreport: Option<&str>) -> Output {
    let mut command = Command::new(bin("dffmpeg"));
    command
        .args(["--nodes", &node.addr, "--segment-duration", "1"])
        .args(args)
        .current_dir(cwd)
        .env_remove("DFFMPEG_NODES")
        .env_remove("FFREPORT")
        .env("XDG_CONFIG_HOME", "/nonexistent");
    if let Some(value) = ffreport {
        command.env("FFREPORT", value);
    }
    command.output().unwrap()
}

#[test]
fn report_writes_ffmpegs_log_file() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), 3);
    let node = Node::start(2);
    let cwd = tempfile::tempdir().unwrap();
    let src = src.to_str().unwrap();
    let args = ["-y", "-report", "-v", "verbose", "-i", src, "-c:v", "libx264", "-c:a", "copy"];
    let ran = run_in(&node, cwd.path(), &[&args[..], &["out file.mkv"]].concat(), None);
    let err = text(&ran.stderr);
    assert!(ran.status.success(), "{err}");
    assert!(err.contains(" chunks on 1 nodes"), "-report is distributed: {err}");
    assert!(err.starts_with("ffmpeg started on "), "{err}");
    let logs: Vec<PathBuf> = std::fs::read_dir(cwd.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    assert_eq!(logs.len(), 1, "one report: {logs:?}");
    let name = logs[0].file_name().unwrap().to_str().unwrap().to_string();
    // ffmpeg-YYYYMMDD-HHMMSS.log
    assert!(name.starts_with("ffmpeg-") && name.len() == "ffmpeg-20261201-090507.log".len());
    let report = std::fs::read_to_string(&logs[0]).unwrap();
    let mut lines = report.lines();
    assert!(lines.next().unwrap().starts_with("ffmpeg started on "), "{report}");
    assert_eq!(lines.next().unwrap(), format!("Report written to \"{name}\""));
    assert_eq!(lines.next().unwrap(), "Log level: 48");
    assert_eq!(lines.next().unwrap(), "Command line:");
    let command = lines.next().unwrap();
    assert!(command.ends_with(" -c:a copy \"out file.mkv\""), "{command}");
    assert!(command.contains(" -report -v verbose -i "), "{command}");
    // What the console showed, and dffmpeg's own trace at debug level.
    assert!(report.contains("Stream mapping:\n"), "{report}");
    assert!(report.contains(" Lsize="), "{report}");
    assert!(report.contains("chunk verified"), "{report}");
    assert!(report.contains(" DEBUG "), "{report}");
    assert!(!report.contains("h2::"), "only dffmpeg's own trace: {report}");

    // FFREPORT names the file and the level, -report or not.
    let cwd = tempfile::tempdir().unwrap();
    let ran = run_in(
        &node,
        cwd.path(),
        &[&args[..1], &args[2..], &["out.mkv"]].concat(),
        Some("file=%p-custom-%%.log:level=32"),
    );
    assert!(ran.status.success(), "{}", text(&ran.stderr));
    let report = std::fs::read_to_string(cwd.path().join("ffmpeg-custom-%.log")).unwrap();
    assert!(report.contains("\nLog level: 32\n") && report.contains("Stream mapping:"), "{report}");
    assert!(
        !report.contains(" DEBUG ") && !report.contains(" INFO "),
        "level 32 has no trace: {report}"
    );

    // Below the console's level the report still logs every message up to
    // its own, as ffmpeg's does.
    let quiet = ["-y", "-v", "error", "-i", src, "-c:v", "libx264", "-c:a", "copy", "out.mkv"];
    let ffreport = "file=quiet.log:level=40";
    let cwd = tempfile::tempdir().unwrap();
    let mut ffmpeg = Command::new("ffmpeg");
    ffmpeg.args(quiet).current_dir(cwd.path()).env("FFREPORT", ffreport);
    let theirs = ffmpeg.output().unwrap();
    let their_report = std::fs::read_to_string(cwd.path().join("quiet.log")).unwrap();
    let ran = run_in(&node, cwd.path(), &quiet, Some(ffreport));
    let err = text(&ran.stderr);
    assert!(ran.status.success(), "{err}");
    assert_eq!(err, text(&theirs.stderr), "-v error: the same silent console");
    let report = std::fs::read_to_string(cwd.path().join("quiet.log")).unwrap();
    for line in ["Input #0", "Stream mapping:\n", "Output #0", "frame=", " Lsize="] {
        assert!(their_report.contains(line), "ffmpeg's report has {line:?}: {their_report}");
        assert!(report.contains(line), "the report has {line:?}: {report}");
    }
    assert!(report.contains(" chunks on 1 nodes"), "verbose lines too: {report}");
    // dffmpeg's own ffmpegs do not inherit FFREPORT and write over it.
    let command = report.lines().nth(4).unwrap();
    assert!(command.ends_with(" -c:a copy out.mkv"), "{report}");
    assert!(!report.contains("-nostats"), "only dffmpeg's report: {report}");
}

#[test]
fn the_closing_line_counts_what_ffmpeg_counts() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), 3);
    let node = Node::start(2);
    // FFV1 with -g 1 codes every frame alone, so chunks hold the packets ffmpeg
    // alone writes, and the line's stream sizes must agree to the kB.
    let (ours, theirs) = (dir.path().join("ours.mkv"), dir.path().join("theirs.mkv"));
    let args = ["-y", "-i", src.to_str().unwrap(), "-c:v", "ffv1", "-g", "1", "-c:a", "copy"];
    let ran = run(&node, &[&args[..], &[ours.to_str().unwrap()]].concat(), "");
    assert!(ran.status.success(), "{}", text(&ran.stderr));
    let reference =
        Command::new("ffmpeg").args(args).arg(&theirs).stdin(Stdio::null()).output().unwrap();
    let last = |bytes: &[u8]| text(bytes).lines().last().unwrap_or_default().to_string();
    let (line, expected) = (last(&ran.stderr), last(&reference.stderr));
    let split = |l: &str| -> (String, f64) {
        let (sizes, overhead) = l.split_once(" muxing overhead: ").unwrap();
        (sizes.to_string(), overhead.trim_end_matches('%').parse().unwrap())
    };
    let ((sizes, overhead), (expected_sizes, expected_overhead)) = (split(&line), split(&expected));
    assert_eq!(sizes, expected_sizes, "{line}\n{expected}");
    // The containers differ only by tags and layout: a few hundred bytes.
    assert!((overhead - expected_overhead).abs() < 0.01, "{line}\n{expected}");
}

/// The stream mapping of graphs that read a second input: a logo drawn
/// over the video (which the nodes run), also looped, and music mixed under the audio
/// (which the final mux runs) list every stream they read, in input order.
#[test]
fn a_logo_and_a_mixer_are_mapped_as_ffmpeg_maps_them() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), 2);
    let logo = dir.path().join("logo.png");
    let music = dir.path().join("music.wav");
    ffmpeg(&["-f", "lavfi", "-i", "testsrc2=size=40x30", "-frames:v", "1", logo.to_str().unwrap()]);
    ffmpeg(&["-f", "lavfi", "-i", "sine=frequency=300:duration=3", music.to_str().unwrap()]);
    let node = Node::start(2);
    let (logo, music) = (logo.to_str().unwrap(), music.to_str().unwrap());
    for (second, graph, maps) in [
        (&["-i", logo][..], "[1:v]scale=20:-1[wm];[0:v][wm]overlay=5:5", &[][..]),
        (&["-i", logo][..], "overlay=W-w:H-h", &[][..]),
        (&["-loop", "1", "-i", logo][..], "overlay=W-w:H-h:shortest=1", &[][..]),
        (
            &["-i", music][..],
            "[0:a][1:a]amix=inputs=2:duration=shortest[a]",
            &["-map", "0:v", "-map", "[a]"][..],
        ),
    ] {
        let (plain, ours) = (dir.path().join("plain.mkv"), dir.path().join("ours.mkv"));
        let with = |out: &Path| -> Vec<String> {
            ["-y", "-i", src.to_str().unwrap()]
                .iter()
                .chain(second)
                .chain(&["-filter_complex", graph])
                .chain(maps)
                .chain(&["-c:v", "libx264", "-c:a", "aac", out.to_str().unwrap()])
                .map(|a| a.to_string())
                .collect()
        };
        let reference = Command::new("ffmpeg").args(with(&plain)).output().unwrap();
        assert!(reference.status.success(), "{}", text(&reference.stderr));
        let verbose = ["-v".to_string(), "verbose".to_string()];
        let distributed = run(&node, &[&verbose[..], &with(&ours)].concat(), "");
        let err = text(&distributed.stderr);
        assert!(distributed.status.success(), "{err}");
        assert!(err.contains("[dffmpeg] chunk"), "{graph} was not distributed: {err}");
        assert_eq!(mapping_block(&err), mapping_block(&text(&reference.stderr)), "{graph}");
    }
}

/// A segmenting muxer announces every file it opens (`[hls @ 0x..] Opening
/// 'out0.ts' for writing`), which scripts following an encode read; a
/// distributed run prints the same lines, from its final mux.
#[test]
fn segment_files_are_announced_as_ffmpeg_announces_them() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), 4);
    let node = Node::start(2);
    let opened = |stderr: &[u8], dir: &Path| -> Vec<String> {
        let prefix = format!("{}/", dir.display());
        text(stderr)
            .split(['\n', '\r'])
            .filter_map(|l| l.split_once(" @ 0x"))
            .filter_map(|(muxer, rest)| Some((muxer, rest.split_once("] ")?.1)))
            .filter(|(_, rest)| rest.starts_with("Opening '"))
            .map(|(muxer, rest)| format!("{muxer} {}", rest.replace(&prefix, "")))
            .collect()
    };
    for muxer in [&["-hls_time", "1", "out.m3u8"][..], &["-seg_duration", "1", "out.mpd"][..]] {
        let (plain, ours) = (dir.path().join("plain"), dir.path().join("ours"));
        for d in [&plain, &ours] {
            let _ = std::fs::remove_dir_all(d);
            std::fs::create_dir(d).unwrap();
        }
        let args = |out: &Path| -> Vec<String> {
            let encode = ["-y", "-i", src.to_str().unwrap(), "-c:v", "libx264", "-g", "25"];
            let last = out.join(muxer[muxer.len() - 1]);
            encode
                .iter()
                .chain(&["-sc_threshold", "0", "-c:a", "aac"])
                .chain(&muxer[..muxer.len() - 1])
                .map(|a| a.to_string())
                .chain([last.to_string_lossy().into_owned()])
                .collect()
        };
        let reference = Command::new("ffmpeg").args(args(&plain)).output().unwrap();
        assert!(reference.status.success(), "{}", text(&reference.stderr));
        let verbose = ["-v".to_string(), "verbose".to_string()];
        let distributed = run(&node, &[&verbose[..], &args(&ours)].concat(), "");
        let err = text(&distributed.stderr);
        assert!(distributed.status.success(), "{err}");
        assert!(err.contains("[dffmpeg] chunk"), "{muxer:?} was not distributed: {err}");
        let expected = opened(&reference.stderr, &plain);
        assert!(expected.len() > 2, "{}", text(&reference.stderr));
        assert_eq!(opened(&distributed.stderr, &ours), expected, "{muxer:?}");
    }
}

/// Standard error closed early (`2>&1 | head -1`): ffmpeg goes on and
/// finishes its output with exit 0, and so does dffmpeg (its writes to
/// standard error fail, and must neither panic nor stop the encode).
#[test]
fn a_closed_standard_error_does_not_stop_the_encode() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), 3);
    let node = Node::start(1);
    let out = dir.path().join("out.mkv");
    let mut child = Command::new(bin("dffmpeg"))
        .args(["--nodes", &node.addr, "--segment-duration", "0.5", "-v", "verbose", "-y", "-i"])
        .args([src.as_path(), Path::new("-c:v"), Path::new("ffv1"), out.as_path()])
        .env_remove("DFFMPEG_NODES")
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .env("DFFMPEG_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read the first bytes, then close the pipe, as `head -1` does.
    let mut err = child.stderr.take().unwrap();
    let mut first = [0u8; 16];
    let _ = std::io::Read::read(&mut err, &mut first);
    drop(err);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    let frames = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v", "-count_frames", "-show_entries"])
        .args(["stream=nb_read_frames", "-of", "csv=p=0"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(text(&frames.stdout).trim(), "75");
}

/// An output path ffmpeg alone writes through (a symbolic link, a FIFO)
/// or cannot open (a directory) runs through ffmpeg: the link's target
/// gets the output and the link stays, the FIFO's reader gets the stream,
/// and a directory fails at once with ffmpeg's words, before any encode.
#[test]
fn an_output_that_is_not_a_regular_file_runs_through_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), 2);
    let node = Node::start(1);
    let at = |name: &str| dir.path().join(name);
    std::fs::write(at("target.mkv"), b"old").unwrap();
    std::os::unix::fs::symlink(at("target.mkv"), at("link.mkv")).unwrap();
    std::fs::create_dir(at("dir.mkv")).unwrap();
    assert!(Command::new("mkfifo").arg(at("fifo.mkv")).status().unwrap().success());
    let fifo = at("fifo.mkv");
    let reader = std::thread::spawn(move || std::fs::read(fifo).unwrap());
    let args = |out: &str| {
        let (src, out) = (src.to_str().unwrap().to_string(), at(out).to_str().unwrap().to_string());
        ["-v", "verbose", "-y", "-i", &src, "-c:v", "ffv1", "-f", "matroska", &out]
            .map(String::from)
    };
    for (out, reason) in [
        ("link.mkv", "the output is a symbolic link"),
        ("fifo.mkv", "the output is not a regular file"),
        ("dir.mkv", "the output is a directory"),
    ] {
        let done = run(&node, &args(out), "");
        let stderr = text(&done.stderr);
        assert!(stderr.contains(&format!("running with ffmpeg: {reason}")), "{out}: {stderr}");
        assert_eq!(done.status.success(), out != "dir.mkv", "{out}: {stderr}");
    }
    assert!(std::fs::symlink_metadata(at("link.mkv")).unwrap().file_type().is_symlink());
    assert!(std::fs::metadata(at("target.mkv")).unwrap().len() > 1000);
    assert!(reader.join().unwrap().len() > 1000);
    assert!(std::fs::symlink_metadata(at("fifo.mkv")).unwrap().file_type().is_fifo());
}
