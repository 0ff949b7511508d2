//! Inputs that can be read only once: a lavfi graph and standard input (raw
//! frames as moviepy and OpenCV write them, and a piped Matroska file). Each
//! is spooled on the coordinator, distributed over two nodes, and compared
//! with plain ffmpeg run on the same input: decoded frames, audio packets,
//! streams, chapters, tags and duration. A pipe that cannot be distributed
//! after it was read is replayed to the real ffmpeg, byte for byte.

use std::fs::File;
use std::io::Read as _;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tests::{Node, bin, ffmpeg, framemd5, probe, seconds, stream_set};

/// How long any one run may take before the test calls it a hang.
const DEADLINE: Duration = Duration::from_secs(180);

/// Waits for `child`, killing it after [`DEADLINE`]; keeps its stderr.
fn finish(mut child: Child, what: &str) -> Output {
    let mut pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut stderr = Vec::new();
        pipe.read_to_end(&mut stderr).unwrap();
        stderr
    });
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > DEADLINE {
            child.kill().unwrap();
            panic!("{what} did not finish within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = child.wait().unwrap();
    Output { status, stdout: Vec::new(), stderr: reader.join().unwrap() }
}

/// Runs `program args` in `dir` with `stdin` from a file (or nothing).
fn run(mut command: Command, args: &[&str], dir: &Path, stdin: Option<&Path>) -> Output {
    let stdin = stdin.map_or_else(Stdio::null, |p| Stdio::from(File::open(p).unwrap()));
    let child = command
        .args(args)
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .env_remove("DFFMPEG_NODES")
        .stdin(stdin)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    finish(child, &format!("{args:?}"))
}

/// dffmpeg over `nodes` with short chunks and its own temp dir.
fn dffmpeg(nodes: &[Node], temp: &Path) -> Command {
    let mut command = Command::new(bin("dffmpeg"));
    for node in nodes {
        command.args(["--nodes", &node.addr]);
    }
    command.args(["--segment-duration", "0.5", "--temp-dir"]).arg(temp);
    command
}

/// Runs `args` (writing OUT, a name in the work dir) under ffmpeg and under
/// dffmpeg, checks that dffmpeg distributed it and that both outputs are the
/// same media; returns the work dir and dffmpeg's stderr.
fn side_by_side(
    nodes: &[Node],
    args: &[&str],
    out: &str,
    stdin: Option<&Path>,
) -> (tempfile::TempDir, String) {
    let work = tempfile::tempdir().unwrap();
    let temp = tempfile::tempdir().unwrap();
    for side in ["ffmpeg", "dffmpeg"] {
        std::fs::create_dir(work.path().join(side)).unwrap();
    }
    // At verbose level dffmpeg says whether it distributed and prints each chunk.
    let args: Vec<&str> = ["-v", "verbose"].iter().chain(args).copied().collect();
    let args = args.as_slice();
    let theirs = run(Command::new("ffmpeg"), args, &work.path().join("ffmpeg"), stdin);
    assert!(theirs.status.success(), "ffmpeg failed: {}", String::from_utf8_lossy(&theirs.stderr));
    let ours = run(dffmpeg(nodes, temp.path()), args, &work.path().join("dffmpeg"), stdin);
    let stderr = String::from_utf8_lossy(&ours.stderr).into_owned();
    assert!(ours.status.success(), "dffmpeg failed: {stderr}");
    assert!(!stderr.contains("running with ffmpeg"), "not distributed: {stderr}");
    assert!(stderr.contains("[dffmpeg] chunk 1 "), "fewer than two chunks: {stderr}");
    assert!(
        std::fs::read_dir(temp.path()).unwrap().next().is_none(),
        "the spool or a job directory was left behind"
    );
    let (a, b) = (work.path().join("ffmpeg").join(out), work.path().join("dffmpeg").join(out));
    same_media(&a, &b);
    (work, stderr)
}

/// The same decoded video, the same audio packets, streams and duration.
fn same_media(theirs: &Path, ours: &Path) {
    let (a, b) = (probe(theirs), probe(ours));
    assert_eq!(stream_set(&b), stream_set(&a), "streams, chapters or tags differ");
    let (da, db) = (seconds(&a["format"]["duration"]), seconds(&b["format"]["duration"]));
    assert!((da - db).abs() < 0.04, "duration {db}, ffmpeg {da}");
    let frames = framemd5(theirs, "0:v", false);
    assert!(frames.lines().filter(|l| !l.starts_with('#')).count() > 10, "{frames}");
    assert_eq!(framemd5(ours, "0:v", false), frames, "decoded frames differ");
    let has_audio = a["streams"].as_array().unwrap().iter().any(|s| s["codec_type"] == "audio");
    if has_audio {
        let audio = |p: &Path| framemd5(p, "0:a", true);
        assert_eq!(audio(ours), audio(theirs), "audio packets differ");
    }
}

#[test]
fn a_lavfi_graph_is_distributed_frame_exactly() {
    let nodes = [Node::start(1), Node::start(1)];
    let graph = "testsrc2=d=3:s=160x120:r=25[out0];sine=d=3:sample_rate=48000[out1]";
    side_by_side(
        &nodes,
        &["-f", "lavfi", "-i", graph, "-c:v", "libx264", "-qp", "0", "-c:a", "flac", "o.mkv"],
        "o.mkv",
        None,
    );
    side_by_side(
        &nodes,
        &["-f", "lavfi", "-i", graph, "-c:v", "libx264", "-qp", "0", "-c:a", "aac", "o.mp4"],
        "o.mp4",
        None,
    );
    // An input window on a source that cannot seek.
    side_by_side(
        &nodes,
        &[
            "-ss", "0.5", "-t", "2", "-f", "lavfi", "-i", graph, "-c:v", "libx264", "-qp", "0",
            "-c:a", "flac", "o.mkv",
        ],
        "o.mkv",
        None,
    );
    // An endless source, bounded only by the output's -t: the spool stops too.
    side_by_side(
        &nodes,
        &["-f", "lavfi", "-i", "mandelbrot=s=96x64:r=25", "-c:v", "ffv1", "-t", "2", "o.mkv"],
        "o.mkv",
        None,
    );
}

#[test]
fn raw_frames_on_stdin_are_distributed() {
    let nodes = [Node::start(1), Node::start(1)];
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("frames.rgb");
    let raw_arg = raw.to_str().unwrap();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=d=2:s=160x120:r=24",
        "-pix_fmt",
        "rgb24",
        "-f",
        "rawvideo",
        raw_arg,
    ]);
    // moviepy's (imageio-ffmpeg's) command line.
    let args = [
        "-y", "-f", "rawvideo", "-vcodec", "rawvideo", "-s", "160x120", "-pix_fmt", "rgb24", "-r",
        "24.00", "-an", "-i", "-", "-vcodec", "libx264", "-qp", "0", "-pix_fmt", "yuv420p",
        "o.mp4",
    ];
    let (_, stderr) = side_by_side(&nodes, &args, "o.mp4", Some(&raw));
    assert!(stderr.contains("Input #0, rawvideo, from 'pipe:':"), "{stderr}");
}

#[test]
fn a_piped_matroska_file_keeps_every_stream() {
    let nodes = [Node::start(1), Node::start(1)];
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    std::fs::write(at("s.srt"), "1\n00:00:00,200 --> 00:00:01,000\nhello\n").unwrap();
    std::fs::write(
        at("ch.txt"),
        ";FFMETADATA1\ntitle=piped\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1500\ntitle=one\n",
    )
    .unwrap();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=d=3:s=160x120:r=25",
        "-f",
        "lavfi",
        "-i",
        "sine=d=3",
        "-i",
        &at("s.srt"),
        "-i",
        &at("ch.txt"),
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-map",
        "2:s",
        "-map_metadata",
        "3",
        "-map_chapters",
        "3",
        "-c:v",
        "libx264",
        "-bf",
        "3",
        "-g",
        "30",
        "-x264-params",
        "open-gop=1",
        "-c:a",
        "aac",
        "-c:s",
        "srt",
        "-metadata:s:a",
        "language=fra",
        &at("src.mkv"),
    ]);
    side_by_side(
        &nodes,
        &["-i", "pipe:0", "-map", "0", "-c:v", "ffv1", "-c:a", "copy", "-c:s", "copy", "o.mkv"],
        "o.mkv",
        Some(Path::new(&at("src.mkv"))),
    );
}

/// Images piped one after another, as scripts and headless browsers write
/// them (`cat *.png | ffmpeg -f image2pipe -framerate 24 -i -`): PNG at a
/// rate given by `-r` over `-framerate` with the decoder named, and JPEG.
/// BMP images, which NUT cannot hold, are replayed to ffmpeg.
#[test]
fn piped_images_are_distributed() {
    let nodes = [Node::start(1), Node::start(1)];
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name);
    let images = |graph: &str, ext: &str, name: &str| {
        let folder = at(name);
        std::fs::create_dir(&folder).unwrap();
        let pattern = folder.join(format!("f_%03d.{ext}"));
        ffmpeg(&["-f", "lavfi", "-i", graph, pattern.to_str().unwrap()]);
        let mut names: Vec<_> =
            std::fs::read_dir(&folder).unwrap().map(|e| e.unwrap().path()).collect();
        names.sort();
        names
    };
    let cat = |parts: &[std::path::PathBuf], name: &str| {
        let bytes: Vec<u8> = parts.iter().flat_map(|p| std::fs::read(p).unwrap()).collect();
        std::fs::write(at(name), bytes).unwrap();
        at(name)
    };
    let png = images("testsrc2=d=2:s=160x120:r=25", "png", "png");
    let jpg = images("testsrc2=d=2:s=160x120:r=25", "jpg", "jpg");
    let bmp = images("testsrc2=d=1:s=160x120:r=25", "bmp", "bmp");
    let x264 = ["-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv420p"];
    let cases: [(&[&str], std::path::PathBuf); 2] = [
        (
            &["-framerate", "10", "-f", "image2pipe", "-c:v", "png", "-r", "24"],
            cat(&png, "png.pipe"),
        ),
        (&["-f", "image2pipe", "-framerate", "30000/1001"], cat(&jpg, "jpg.pipe")),
    ];
    for (before, stdin) in cases {
        let args = [before, &["-i", "-"], &x264, &["o.mp4"]].concat();
        let (_, stderr) = side_by_side(&nodes, &args, "o.mp4", Some(&stdin));
        assert!(stderr.contains("Input #0, image2pipe, from 'pipe:':"), "{stderr}");
    }
    let work = tempfile::tempdir().unwrap();
    let temp = tempfile::tempdir().unwrap();
    let stdin = cat(&bmp, "bmp.pipe");
    let args = ["-v", "verbose", "-f", "image2pipe", "-i", "-", "-c:v", "ffv1", "o.mkv"];
    let theirs = run(Command::new("ffmpeg"), &args, work.path(), Some(&stdin));
    std::fs::rename(work.path().join("o.mkv"), work.path().join("theirs.mkv")).unwrap();
    let ours = run(dffmpeg(&nodes, temp.path()), &args, work.path(), Some(&stdin));
    let stderr = String::from_utf8_lossy(&ours.stderr);
    assert!(
        stderr.contains("running with ffmpeg: the piped images could not be spooled"),
        "{stderr}"
    );
    assert_eq!(ours.status.code(), theirs.status.code(), "{stderr}");
    let (a, b) = (work.path().join("theirs.mkv"), work.path().join("o.mkv"));
    assert_eq!(framemd5(&b, "0", false), framemd5(&a, "0", false));
}

#[test]
fn a_pipe_that_cannot_be_distributed_is_replayed_to_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=d=2:s=160x120:r=25",
        "-c:v",
        "mpeg4",
        "-bf",
        "2",
        &at("src.avi"),
    ]);
    std::fs::write(at("junk"), vec![0x5a; 100_000]).unwrap();
    let nodes: [Node; 0] = [];
    for (input, reason) in
        [("src.avi", "a pipe of avi is not distributable"), ("junk", "running with ffmpeg")]
    {
        let work = tempfile::tempdir().unwrap();
        let temp = tempfile::tempdir().unwrap();
        let args = ["-v", "verbose", "-i", "-", "-c:v", "ffv1", "o.mkv"];
        let stdin = Path::new(&dir.path().join(input)).to_path_buf();
        let theirs = run(Command::new("ffmpeg"), &args, work.path(), Some(&stdin));
        std::fs::rename(work.path().join("o.mkv"), work.path().join("theirs.mkv")).ok();
        let ours = run(dffmpeg(&nodes, temp.path()), &args, work.path(), Some(&stdin));
        let stderr = String::from_utf8_lossy(&ours.stderr);
        assert!(stderr.contains(reason), "{input}: {stderr}");
        assert_eq!(ours.status.code(), theirs.status.code(), "{input}: {stderr}");
        assert!(std::fs::read_dir(temp.path()).unwrap().next().is_none(), "spool left behind");
        if theirs.status.success() {
            let (a, b) = (work.path().join("theirs.mkv"), work.path().join("o.mkv"));
            assert_eq!(framemd5(&b, "0", true), framemd5(&a, "0", true), "{input}");
        } else {
            let last = |o: &Output| {
                String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or_default().to_string()
            };
            assert_eq!(last(&ours), last(&theirs), "{input}: ffmpeg's own error");
        }
    }
}

#[test]
fn an_existing_output_is_refused_before_the_pipe_is_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("o.mkv"), b"keep me").unwrap();
    // A writer that never closes the pipe: dffmpeg must not wait for it.
    let child = Command::new(bin("dffmpeg"))
        .args(["-f", "rawvideo", "-s", "16x16", "-pix_fmt", "gray", "-i", "pipe:0"])
        .args(["-c:v", "ffv1", "o.mkv"])
        .current_dir(dir.path())
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = finish(child, "dffmpeg with an existing output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("File 'o.mkv' already exists. Exiting."), "{stderr}");
    assert_eq!(std::fs::read(dir.path().join("o.mkv")).unwrap(), b"keep me");
}

#[test]
fn a_pipe_with_no_reachable_node_is_replayed_to_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("frames.gray");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=d=1:s=64x48:r=25",
        "-pix_fmt",
        "gray",
        "-f",
        "rawvideo",
        raw.to_str().unwrap(),
    ]);
    let args = ["-v", "verbose", "-f", "rawvideo", "-s", "64x48", "-pix_fmt", "gray", "-i", "-"];
    let args: Vec<&str> = args.iter().copied().chain(["-c:v", "ffv1", "o.mkv"]).collect();
    let (theirs, ours) = (dir.path().join("ffmpeg"), dir.path().join("dffmpeg"));
    std::fs::create_dir(&theirs).unwrap();
    std::fs::create_dir(&ours).unwrap();
    let reference = run(Command::new("ffmpeg"), &args, &theirs, Some(&raw));
    assert!(reference.status.success());
    // Nothing listens on port 1 of loopback.
    let mut command = Command::new(bin("dffmpeg"));
    command.args(["--nodes", "127.0.0.1:1"]);
    let out = run(command, &args, &ours, Some(&raw));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("running with ffmpeg: no node is reachable"), "{stderr}");
    assert_eq!(
        framemd5(&ours.join("o.mkv"), "0", true),
        framemd5(&theirs.join("o.mkv"), "0", true)
    );
}

#[test]
fn a_pipe_longer_than_the_spool_limit_goes_to_ffmpeg_whole() {
    let dir = tempfile::tempdir().unwrap();
    let graph = "testsrc2=d=2:s=160x120:r=25";
    let reference = dir.path().join("reference.mkv");
    ffmpeg(&["-f", "lavfi", "-i", graph, "-c:v", "ffv1", reference.to_str().unwrap()]);
    let temp = tempfile::tempdir().unwrap();
    // A live writer: 50 frames of 28.8 kB in YUV4MPEG, far past a 200 kB spool.
    let mut writer = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i", graph, "-f", "yuv4mpegpipe", "-"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pipe = writer.stdout.take().unwrap();
    let child = dffmpeg(&[], temp.path())
        .args(["--spool-limit", "200K", "-v", "verbose", "-f", "yuv4mpegpipe", "-i", "pipe:0"])
        .args(["-c:v", "ffv1", "o.mkv"])
        .current_dir(dir.path())
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .env_remove("DFFMPEG_NODES")
        .stdin(Stdio::from(pipe))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = finish(child, "dffmpeg past its spool limit");
    assert!(writer.wait().unwrap().success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "running with ffmpeg: the pipe is longer than the spool limit (204800 bytes)"
        ),
        "{stderr}"
    );
    // Every frame reached ffmpeg once: the spooled ones, then the rest.
    assert_eq!(framemd5(&dir.path().join("o.mkv"), "0", false), framemd5(&reference, "0", false));
    assert!(std::fs::read_dir(temp.path()).unwrap().next().is_none(), "spool left behind");

    // A graph past the limit: ffmpeg runs it from its start.
    let out = run(
        dffmpeg(&[], temp.path()),
        &[
            "--spool-limit",
            "200K",
            "-v",
            "verbose",
            "-f",
            "lavfi",
            "-i",
            graph,
            "-c:v",
            "ffv1",
            "g.mkv",
        ],
        dir.path(),
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("the lavfi graph is longer than the spool limit"), "{stderr}");
    assert_eq!(framemd5(&dir.path().join("g.mkv"), "0", false), framemd5(&reference, "0", false));
    assert!(std::fs::read_dir(temp.path()).unwrap().next().is_none(), "spool left behind");
}
