//! Bad inputs and hostile surroundings, each with a clear outcome: an empty
//! or truncated input, or an encoder that cannot run here, behaves as under
//! ffmpeg, a node without the encoder
//! or without disk is skipped, and paths ffmpeg takes, dffmpeg takes.
//! (A missing file, a file that is not media and an unknown encoder are in
//! `behaviour.rs`.)

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tests::{Node, bin, framemd5, lavfi_clip, script};

const ENCODE: [&str; 4] = ["-c:v", "libx264", "-qp", "0"];

/// A four-second clip with a keyframe every 12 frames.
fn clip(path: &Path) {
    lavfi_clip(path, 4, "320x240", 12, false);
}

/// `dffmpeg [own] -y -v verbose -i INPUT ENCODE OUTPUT` on `nodes`.
fn dffmpeg(nodes: &[&Node], own: &[&OsStr], input: &Path, output: &Path) -> Output {
    let mut command = Command::new(bin("dffmpeg"));
    for node in nodes {
        command.args(["--nodes", &node.addr]);
    }
    command
        .args(own)
        .args(["--segment-duration", "0.5", "-y", "-nostats", "-loglevel", "verbose", "-i"])
        .arg(input)
        .args(ENCODE)
        .arg(output)
        .env_remove("DFFMPEG_NODES")
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .env("DFFMPEG_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The same encode by ffmpeg alone; returns its exit code.
fn plain(input: &Path, output: &Path) -> Option<i32> {
    Command::new("ffmpeg")
        .args(["-y", "-nostdin", "-v", "error", "-i"])
        .arg(input)
        .args(ENCODE)
        .arg(output)
        .status()
        .unwrap()
        .code()
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn is_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions.
    #[allow(unsafe_code)]
    unsafe {
        libc::geteuid() == 0
    }
}

#[test]
fn an_empty_file_or_an_encoder_that_cannot_run_fail_as_in_ffmpeg_and_a_truncated_file_encodes() {
    let dir = tempfile::tempdir().unwrap();
    let temp = tempfile::tempdir().unwrap();
    let node = Node::start(1);
    let own = [OsStr::new("--temp-dir"), temp.path().as_os_str()];

    let empty = dir.path().join("empty.mkv");
    std::fs::write(&empty, b"").unwrap();
    let out = dir.path().join("out.mkv");
    let result = dffmpeg(&[&node], &own, &empty, &out);
    assert_eq!(result.status.code(), plain(&empty, &dir.path().join("plain.mkv")));
    assert_eq!(result.status.code(), Some(1));
    assert!(
        text(&result).contains("Invalid data found when processing input"),
        "{}",
        text(&result)
    );
    assert!(!out.exists());
    assert!(std::fs::read_dir(temp.path()).unwrap().next().is_none());

    // Cut at 60%: ffmpeg encodes the frames that are there, and so do we.
    let whole = dir.path().join("whole.mkv");
    clip(&whole);
    let bytes = std::fs::read(&whole).unwrap();
    let truncated = dir.path().join("truncated.mkv");
    std::fs::write(&truncated, &bytes[..bytes.len() * 6 / 10]).unwrap();
    let reference = dir.path().join("reference.mkv");
    assert_eq!(plain(&truncated, &reference), Some(0));
    let result = dffmpeg(&[&node], &own, &truncated, &out);
    assert!(result.status.success(), "{}", text(&result));
    assert!(
        framemd5(&out, "0:v", false) == framemd5(&reference, "0:v", false),
        "a truncated input gave other frames than under ffmpeg"
    );
    assert!(std::fs::read_dir(temp.path()).unwrap().next().is_none());

    // An encoder this machine cannot run (no GPU): ffmpeg's own error, and
    // whatever ffmpeg leaves (an empty file), we leave.
    let (ours, theirs) = (dir.path().join("nvenc.mkv"), dir.path().join("nvenc-plain.mkv"));
    let result = Command::new(bin("dffmpeg"))
        .args(["--nodes", &node.addr, "-y", "-nostdin", "-v", "verbose", "-i"])
        .arg(&whole)
        .args(["-c:v", "h264_nvenc"])
        .arg(&ours)
        .env_remove("DFFMPEG_NODES")
        .output()
        .unwrap();
    assert_eq!(result.status.code(), Some(1));
    assert!(text(&result).contains("running with ffmpeg"), "{}", text(&result));
    assert!(text(&result).contains("Error while opening encoder"), "{}", text(&result));
    let plain = Command::new("ffmpeg")
        .args(["-y", "-nostdin", "-v", "error", "-i"])
        .arg(&whole)
        .args(["-c:v", "h264_nvenc"])
        .arg(&theirs)
        .status()
        .unwrap();
    assert_eq!(plain.code(), Some(1));
    assert_eq!(ours.exists(), theirs.exists());
}

/// An ffmpeg that hides libx264 from `-encoders`, as a build without it.
fn ffmpeg_without_libx264(dir: &Path) -> PathBuf {
    script(
        dir,
        "ffmpeg-no-x264",
        "case \"$*\" in *-encoders*) ffmpeg \"$@\" | grep -v libx264; exit 0;; esac\n\
         exec ffmpeg \"$@\"\n",
    )
}

#[test]
fn a_node_without_the_encoder_is_left_out_of_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.mkv");
    clip(&src);
    let lacking = Node::start_with_ffmpeg(1, &ffmpeg_without_libx264(dir.path()));
    let able = Node::start(1);
    let out = dir.path().join("out.mkv");
    let result = dffmpeg(&[&lacking, &able], &[], &src, &out);
    let stderr = text(&result);
    assert!(result.status.success(), "{stderr}");
    assert!(stderr.contains("the node's ffmpeg lacks the encoder"), "{stderr}");
    assert!(!stderr.contains(&format!(" on {} in ", lacking.addr)), "{stderr}");
    let reference = dir.path().join("reference.mkv");
    plain(&src, &reference);
    assert!(framemd5(&out, "0:v", false) == framemd5(&reference, "0:v", false));

    let alone = dffmpeg(&[&lacking], &[], &src, &out);
    assert_eq!(alone.status.code(), Some(1));
    let expected =
        format!("no node is reachable with encoder libx264 ({}: no encoder libx264)", lacking.addr);
    assert!(text(&alone).contains(&expected), "{}", text(&alone));
}

/// A tmpfs of `size` mounted at a new directory; unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "mounting a tmpfs");
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn a_node_whose_disk_is_full_is_refused_or_fails_and_the_chunk_goes_elsewhere() {
    if !is_root() {
        eprintln!("SKIPPED: mounting a small disk needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.mkv");
    clip(&src);
    // Too small for the reserve: refused before any byte is sent.
    let tiny = SmallDisk::mount("64k");
    // Room for the input, not for the lossless output: ffmpeg runs out.
    let small = SmallDisk::mount("96k");
    let refusing = Node::start_on(1, tiny.path(), &[]);
    let failing = Node::start_on(1, small.path(), &["--min-free-disk", "0"]);
    let healthy = Node::start(1);
    let out = dir.path().join("out.mkv");
    let result = dffmpeg(&[&refusing, &failing, &healthy], &[], &src, &out);
    let stderr = text(&result);
    assert!(result.status.success(), "{stderr}");
    assert!(stderr.contains("not enough free disk in this node's temp dir"), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    for node in [&refusing, &failing] {
        assert!(!stderr.contains(&format!(" on {} in ", node.addr)), "{stderr}");
    }
    let reference = dir.path().join("reference.mkv");
    plain(&src, &reference);
    assert!(framemd5(&out, "0:v", false) == framemd5(&reference, "0:v", false));
    // The failed chunk's files are gone from the full disk.
    assert!(failing.leftovers().is_empty(), "{:?}", failing.leftovers());

    let alone = dffmpeg(&[&refusing], &[], &src, &out);
    assert_eq!(alone.status.code(), Some(1));
    assert!(text(&alone).contains("--min-free-disk"), "{}", text(&alone));
}

#[test]
fn paths_with_spaces_and_quotes_are_distributed_and_others_run_through_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    let temp = dir.path().join("temp dir's \"x\"");
    let src = dir.path().join("it's a \"clip\" [1] $HOME.mkv");
    clip(&src);
    let node = Node::start(1);
    let out = dir.path().join("out put's \"x\".mkv");
    let own = [OsStr::new("--temp-dir"), temp.as_os_str()];
    let result = dffmpeg(&[&node], &own, &src, &out);
    let stderr = text(&result);
    assert!(result.status.success(), "{stderr}");
    assert!(stderr.contains(&format!(" on {} in ", node.addr)), "not distributed: {stderr}");
    let reference = dir.path().join("reference.mkv");
    plain(&src, &reference);
    assert!(framemd5(&out, "0:v", false) == framemd5(&reference, "0:v", false));
    assert!(std::fs::read_dir(&temp).unwrap().next().is_none(), "temp files left");

    // Not UTF-8: ffmpeg takes any bytes, so the command goes to it as it is.
    let odd = dir.path().join(OsStr::from_bytes(b"clip-\xff\xfe.mkv"));
    std::fs::copy(&src, &odd).unwrap();
    let odd_out = dir.path().join(OsStr::from_bytes(b"out-\xff.mkv"));
    let result = dffmpeg(&[&node], &[], &odd, &odd_out);
    assert!(result.status.success(), "{}", text(&result));
    assert!(text(&result).contains("running with ffmpeg: the command line is not UTF-8"));
    assert!(framemd5(&odd_out, "0:v", false) == framemd5(&reference, "0:v", false));
}

#[test]
fn a_codec_the_container_cannot_hold_runs_through_ffmpeg_before_any_chunk_is_encoded() {
    let dir = tempfile::tempdir().unwrap();
    let temp = tempfile::tempdir().unwrap();
    let node = Node::start(1);
    let whole = dir.path().join("whole.mkv");
    clip(&whole);
    // ffmpeg alone fails when it writes the header, after opening the output.
    let cases: [(&[&str], &str, &str); 3] = [
        (&["-c:v", "libx264"], "out.webm", "Only VP8 or VP9 or AV1 video"),
        (&["-c:v", "ffv1"], "out.mp4", "codec not currently supported in container"),
        (&["-c:v", "libx264"], "missing/out.mkv", "No such file or directory"),
    ];
    for (encode, name, says) in cases {
        let (ours, theirs) = (dir.path().join(name), dir.path().join(format!("plain-{name}")));
        let result = Command::new(bin("dffmpeg"))
            .args(["--nodes", &node.addr, "--temp-dir"])
            .arg(temp.path())
            .args(["-y", "-nostdin", "-v", "verbose", "-i"])
            .arg(&whole)
            .args(encode)
            .arg(&ours)
            .env_remove("DFFMPEG_NODES")
            .output()
            .unwrap();
        let plain = Command::new("ffmpeg")
            .args(["-y", "-nostdin", "-v", "error", "-i"])
            .arg(&whole)
            .args(encode)
            .arg(&theirs)
            .status()
            .unwrap();
        let said = text(&result);
        assert_eq!(result.status.code(), plain.code(), "{name}: {said}");
        assert_eq!(result.status.code(), Some(1), "{name}: {said}");
        assert!(said.contains("running with ffmpeg:"), "{name}: {said}");
        assert!(said.contains(says), "{name}: {said}");
        assert!(!said.contains("[dffmpeg] chunk"), "{name} encoded chunks: {said}");
        let size = |p: &Path| std::fs::metadata(p).ok().map(|m| m.len() > 0);
        assert_eq!(size(&ours), size(&theirs), "{name}: the output differs from ffmpeg's");
        assert!(std::fs::read_dir(temp.path()).unwrap().next().is_none(), "{name}: scratch left");
    }
}

/// `bytes` with `len` bytes from `at` overwritten by a fixed pseudo-random
/// pattern (xorshift), as a bad sector or a broken download leaves a file.
fn damaged(bytes: &[u8], at: usize, len: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    for byte in &mut out[at..at + len] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *byte = (state >> 24) as u8;
    }
    out
}

/// A source damaged in its middle: ffmpeg alone conceals the damage from
/// the frames it decoded before, or drops frames, and exits 0. A chunk's
/// decoder, which starts at the chunk, cannot do the same: the node says
/// the source is damaged, and the command runs through ffmpeg, whose
/// frames the output then has, exit 0.
#[test]
fn a_source_damaged_in_its_middle_runs_through_ffmpeg_and_gets_its_frames() {
    let dir = tempfile::tempdir().unwrap();
    let temp = tempfile::tempdir().unwrap();
    let node = Node::start(1);
    let own = [OsStr::new("--temp-dir"), temp.path().as_os_str()];
    let whole = dir.path().join("whole.mp4");
    lavfi_clip(&whole, 12, "640x360", 50, false);
    let bytes = std::fs::read(&whole).unwrap();
    let source = dir.path().join("damaged.mp4");
    std::fs::write(&source, damaged(&bytes, bytes.len() / 2, 20_000)).unwrap();

    let reference = dir.path().join("reference.mkv");
    assert_eq!(plain(&source, &reference), Some(0));
    let out = dir.path().join("out.mkv");
    let result = dffmpeg(&[&node], &own, &source, &out);
    let stderr = text(&result);
    assert!(result.status.success(), "{stderr}");
    assert!(
        stderr.contains("running with ffmpeg: the input's video is damaged in chunk"),
        "{stderr}"
    );
    assert!(
        framemd5(&out, "0:v", false) == framemd5(&reference, "0:v", false),
        "a damaged input gave other frames than under ffmpeg"
    );
    assert!(std::fs::read_dir(temp.path()).unwrap().next().is_none(), "temp files left");
}
