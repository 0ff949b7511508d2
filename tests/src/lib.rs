//! Shared harness for the end-to-end tests: the built binaries, node
//! processes on loopback ports chosen by the kernel, and ffmpeg helpers.
//!
//! The binaries come from the workspace's one `cargo build`; the tests never
//! build anything themselves.

pub mod corpus;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// A binary of the workspace, from the same target directory as the tests.
pub fn bin(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = target.join("debug").join(name);
    assert!(path.is_file(), "{} is missing: run `cargo build --workspace` first", path.display());
    path
}

/// An example policy's wasm module, as `scripts/test.sh` builds it
/// (`cargo build --release --target wasm32-unknown-unknown -p CRATE`).
pub fn example_policy(crate_name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/wasm32-unknown-unknown/release")
        .join(format!("{}.wasm", crate_name.replace('-', "_")));
    assert!(path.is_file(), "{} is missing: run scripts/test.sh", path.display());
    path
}

/// A `dffmpeg-node` process; killed when dropped.
pub struct Node {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The node's temp dir, to check that chunks leave nothing behind.
    pub temp: tempfile::TempDir,
}

impl Node {
    /// Starts a node with `slots` slots on a free loopback port and waits until it listens.
    pub fn start(slots: u32) -> Self {
        Self::start_with_ffmpeg(slots, Path::new("ffmpeg"))
    }

    /// Like [`Node::start`], with another ffmpeg executable (to make a node fail).
    pub fn start_with_ffmpeg(slots: u32, ffmpeg: &Path) -> Self {
        Self::spawn(Command::new(bin("dffmpeg-node")), slots, ffmpeg)
    }

    /// Like [`Node::start`], with more `dffmpeg-node` options (TLS, a token).
    pub fn start_with_args(slots: u32, extra: &[&str]) -> Self {
        let mut command = Command::new(bin("dffmpeg-node"));
        command.args(extra);
        Self::spawn(command, slots, Path::new("ffmpeg"))
    }

    /// Like [`Node::start`], pinned to CPU `core` with `taskset`, as a
    /// machine of its own with one core.
    pub fn start_pinned(slots: u32, core: usize) -> Self {
        let mut command = Command::new("taskset");
        command.args(["-c", &core.to_string()]).arg(bin("dffmpeg-node"));
        Self::spawn(command, slots, Path::new("ffmpeg"))
    }

    fn spawn(command: Command, slots: u32, ffmpeg: &Path) -> Self {
        let temp = tempfile::tempdir().unwrap();
        let (child, addr) = Self::launch(command, slots, ffmpeg, "127.0.0.1:0", temp.path());
        Self { child, addr, temp }
    }

    /// Starts `command` as a node listening on `listen` with temp dir
    /// `temp`; returns the process and the address it reports.
    fn launch(
        mut command: Command,
        slots: u32,
        ffmpeg: &Path,
        listen: &str,
        temp: &Path,
    ) -> (Child, String) {
        let mut child = command
            .env("DFFMPEG_FFMPEG", ffmpeg)
            .args(["-n", listen, "--slots", &slots.to_string(), "-t"])
            .arg(temp)
            .env("DFFMPEG_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting dffmpeg-node");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line.trim().strip_prefix("listening on ").expect("a listening line").to_string();
        (child, addr)
    }

    /// Like [`Node::start_with_args`], with the temp dir made inside `root`
    /// (a small disk, say).
    pub fn start_on(slots: u32, root: &Path, extra: &[&str]) -> Self {
        let mut command = Command::new(bin("dffmpeg-node"));
        command.args(extra);
        let temp = tempfile::tempdir_in(root).unwrap();
        let (child, addr) =
            Self::launch(command, slots, Path::new("ffmpeg"), "127.0.0.1:0", temp.path());
        Self { child, addr, temp }
    }

    /// Starts a node with `slots` slots and `extra` options inside network
    /// namespace `netns`, listening on `ip` (an address of that namespace).
    pub fn start_in_netns(slots: u32, netns: &str, ip: &str, extra: &[&str]) -> Self {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", netns]).arg(bin("dffmpeg-node")).args(extra);
        let temp = tempfile::tempdir().unwrap();
        let listen = format!("{ip}:0");
        let (child, addr) = Self::launch(command, slots, Path::new("ffmpeg"), &listen, temp.path());
        Self { child, addr, temp }
    }

    /// Kills the node with SIGKILL and starts a plain one with `slots` slots
    /// on the same address and temp dir, as a machine that crashed and came
    /// back; returns once it listens.
    pub fn kill_and_restart(&mut self, slots: u32) {
        self.signal(libc::SIGKILL);
        let _ = self.child.wait();
        let command = Command::new(bin("dffmpeg-node"));
        let (child, addr) =
            Self::launch(command, slots, Path::new("ffmpeg"), &self.addr, self.temp.path());
        assert_eq!(addr, self.addr);
        self.child = child;
    }

    /// The process id, for signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` to the node.
    pub fn signal(&self, signal: i32) {
        send_signal(self.child.id(), signal);
    }

    /// Waits for the node to exit and returns its status code.
    pub fn wait(mut self) -> Option<i32> {
        self.child.wait().ok().and_then(|s| s.code())
    }

    /// Files left in the node's temp dir, but for the work directory the
    /// running node holds there and its lock: chunks in progress or lost.
    pub fn leftovers(&self) -> Vec<PathBuf> {
        leftovers(self.temp.path())
    }
}

/// Sends `signal` to the process `pid` (a child of the test, not yet
/// waited for, so the pid is still its own).
pub fn send_signal(pid: u32, signal: i32) {
    // SAFETY: kill(2) has no memory effects.
    #[allow(unsafe_code)]
    let sent = unsafe { libc::kill(pid as i32, signal) };
    assert_eq!(sent, 0, "kill({pid}, {signal}): {}", std::io::Error::last_os_error());
}

/// What [`Node::leftovers`] lists, for a node's temp dir `dir`: its files,
/// with each work directory (`dffmpeg-node-*`) stood in for by its contents
/// other than the lock.
pub fn leftovers(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy();
        if name.starts_with("dffmpeg-node-") && path.is_dir() {
            for inner in std::fs::read_dir(&path).into_iter().flatten() {
                let inner = inner.unwrap().path();
                if inner.file_name().is_some_and(|n| n != "lock") {
                    found.push(inner);
                }
            }
        } else {
            found.push(path);
        }
    }
    found
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs ffmpeg and panics with its stderr if it fails.
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-y", "-v", "error"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Plain ffmpeg, the reference: `ffmpeg [before_input] -i SRC [encode] OUT`.
pub fn plain_encode(before_input: &[&str], src: &Path, encode: &[&str], out: &Path) {
    let mut args: Vec<&str> = before_input.to_vec();
    args.extend(["-i", src.to_str().unwrap()]);
    args.extend(encode);
    args.push(out.to_str().unwrap());
    ffmpeg(&args);
}

/// What a playlist (`.m3u8`), segment list (`.csv`, `.ffconcat`) or DASH
/// manifest (`.mpd`) says about its
/// segments, to compare with ffmpeg alone's: the text, without a
/// manifest's `bandwidth` values (measured from the segments' sizes, which
/// chunked encodes change by their headers); `None` for other files.
pub fn segment_listing(file: &Path) -> Option<String> {
    let ext = file.extension()?.to_str()?;
    let text = std::fs::read_to_string(file).ok()?;
    match ext {
        // The segment muxer's lists too.
        "m3u8" | "csv" | "ffconcat" => Some(text),
        "mpd" => {
            let mut parts = text.split("bandwidth=\"");
            let mut out = parts.next().unwrap_or_default().to_string();
            for part in parts {
                out.push_str("bandwidth=\"");
                out.push_str(part.trim_start_matches(|c: char| c.is_ascii_digit()));
            }
            Some(out)
        }
        _ => None,
    }
}

/// The same command through dffmpeg on `nodes`, with dffmpeg's own `extra`
/// options; returns stderr and panics unless it succeeded.
pub fn distributed_encode(
    nodes: &[&Node],
    extra: &[&str],
    before_input: &[&str],
    src: &Path,
    encode: &[&str],
    out: &Path,
) -> String {
    let mut args: Vec<&str> = vec!["-y"];
    args.extend(extra);
    args.extend(before_input);
    args.extend(["-i", src.to_str().unwrap()]);
    args.extend(encode);
    args.push(out.to_str().unwrap());
    assert_ok(&dffmpeg(nodes, &args))
}

/// `ffmpeg -i FILE -map MAP [-c copy] -f framemd5 -`: decoded frames (or packets) with timestamps.
pub fn framemd5(file: &Path, map: &str, copy: bool) -> String {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-nostdin", "-v", "error", "-i"]).arg(file).args(["-map", map]);
    if copy {
        cmd.args(["-c", "copy"]);
    }
    let out = cmd.args(["-f", "framemd5", "-"]).output().unwrap();
    assert!(
        out.status.success(),
        "framemd5 of {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// ffprobe's JSON for streams, format and chapters.
pub fn probe(file: &Path) -> serde_json::Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-of", "json", "-show_streams", "-show_format", "-show_chapters"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// What "the same streams" means: type, codec, language, title, default
/// disposition and the encoder tag, and for video its colour description,
/// per stream in order; then chapters and global tags but the muxer's own;
/// start time and duration are compared separately.
pub fn stream_set(probe: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for s in probe["streams"].as_array().unwrap() {
        // Matroska spells the encoder tag ENCODER, MP4 (compressorname) encoder.
        let encoder = s["tags"]["encoder"].as_str().or(s["tags"]["ENCODER"].as_str());
        out.push(format!(
            "{} {} lang={} title={} default={} encoder={}",
            s["codec_type"].as_str().unwrap_or(""),
            s["codec_name"].as_str().unwrap_or(""),
            s["tags"]["language"].as_str().unwrap_or("-"),
            s["tags"]["title"].as_str().unwrap_or("-"),
            s["disposition"]["default"],
            encoder.unwrap_or("-")
        ));
        if s["codec_type"] == "video" {
            let field = |name: &str| s[name].as_str().unwrap_or("-").to_string();
            let colour = ["color_range", "color_space", "color_transfer", "color_primaries"];
            out.push(format!("colour {}", colour.map(field).join("/")));
        }
    }
    for c in probe["chapters"].as_array().unwrap() {
        out.push(format!("chapter {} {} {}", c["start_time"], c["end_time"], c["tags"]["title"]));
    }
    if let Some(tags) = probe["format"]["tags"].as_object() {
        for (k, v) in tags {
            if !k.eq_ignore_ascii_case("encoder") {
                out.push(format!("tag {k}={v}"));
            }
        }
    }
    out
}

/// A seconds field of ffprobe's JSON as f64.
pub fn seconds(value: &serde_json::Value) -> f64 {
    value.as_str().and_then(|s| s.parse().ok()).unwrap_or(f64::NAN)
}

/// Runs dffmpeg with `args` and the given nodes (none: the embedded node).
pub fn dffmpeg(nodes: &[&Node], args: &[&str]) -> Output {
    dffmpeg_in(nodes, args, None)
}

/// Like [`dffmpeg`], with `--temp-dir`.
pub fn dffmpeg_in(nodes: &[&Node], args: &[&str], temp_dir: Option<&Path>) -> Output {
    let mut cmd = Command::new(bin("dffmpeg"));
    for node in nodes {
        cmd.args(["--nodes", &node.addr]);
    }
    if let Some(dir) = temp_dir {
        cmd.arg("--temp-dir").arg(dir);
    }
    cmd.args(args)
        .env_remove("DFFMPEG_NODES")
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .stdin(Stdio::null());
    cmd.output().unwrap()
}

/// Panics with dffmpeg's stderr unless it succeeded.
pub fn assert_ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "dffmpeg failed ({}): {stderr}", out.status);
    stderr
}

/// A valid spec for tests that talk to a node's gRPC service directly: ten
/// frames at 25 fps of a NUT input whose time base is `tb`, to libx264.
pub fn ten_frame_spec(tb: (i64, i64)) -> proto::v1::EncodeSpec {
    use proto::v1::{ChunkFormat, CodecOption, EncodeSpec, FpsMode, Rational};
    EncodeSpec {
        encoder: "libx264".into(),
        options: vec![CodecOption { name: "preset".into(), value: "ultrafast".into() }],
        pix_fmt: String::new(),
        filters: Vec::new(),
        keep_start_pts: 0,
        keep_end_pts: 10 * tb.1 / (25 * tb.0),
        time_base: Some(Rational { num: tb.0, den: tb.1 }),
        expected_frames: 10,
        ts_offset_us: 0,
        frame_rate: Some(Rational { num: 25, den: 1 }),
        fps_mode: FpsMode::Vfr as i32,
        chunk_format: ChunkFormat::Nut as i32,
        timescale: 0,
        passes: 0,
        filtered_end_pts: None,
        frame_map: None,
        output_start_us: 0,
        overlay: None,
        input_color: None,
        field_order: String::new(),
        filter_time_base: Some(Rational { num: 1, den: 25 }),
        decoder: "h264".into(),
        input_format: ChunkFormat::Nut as i32,
    }
}

/// A two-second 160x120 testsrc2 clip at 25 fps in H.264 (keyframes every 30
/// frames) at `dir/src.mkv`: a small source for tests about nodes rather
/// than about media.
pub fn small_clip(dir: &Path) -> PathBuf {
    let src = dir.join("src.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x120:rate=25:duration=2",
        "-c:v",
        "libx264",
        "-g",
        "30",
        src.to_str().unwrap(),
    ]);
    src
}

/// xorshift64*: a fixed sequence from a seed, so a failing random test can
/// be replayed.
pub struct Rng(pub u64);

impl Rng {
    /// The next number.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// One of `from`.
    pub fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// `SECONDS` of `SIZE` testsrc2 at 25 fps in H.264 with a keyframe every
/// `gop` frames, and a sine tone in AAC when `audio`, at `path`: the
/// sources of the fault tests.
pub fn lavfi_clip(path: &Path, seconds: u32, size: &str, gop: u32, audio: bool) {
    let video = format!("testsrc2=size={size}:rate=25:duration={seconds}");
    let sine = format!("sine=duration={seconds}");
    let gop = gop.to_string();
    let mut args = vec!["-f", "lavfi", "-i", &video];
    if audio {
        args.extend(["-f", "lavfi", "-i", &sine, "-c:a", "aac"]);
    }
    args.extend(["-c:v", "libx264", "-g", &gop, path.to_str().unwrap()]);
    ffmpeg(&args);
}

/// An executable shell script `dir/name` with `body` (after `#!/bin/sh`):
/// a stand-in ffmpeg for a node that misbehaves in a chosen way.
pub fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A 3D LUT in the `.cube` format, a warm grade that moves every channel:
/// 9 points per side, interpolated between them.
pub fn grade_lut() -> String {
    let n = 9;
    let mut lut = format!("TITLE \"warm\"\nLUT_3D_SIZE {n}\n");
    let step = 1.0 / (n - 1) as f64;
    for b in 0..n {
        for g in 0..n {
            for r in 0..n {
                let (r, g, b) = (r as f64 * step, g as f64 * step, b as f64 * step);
                let red = (r * 1.1 + 0.02).min(1.0);
                lut.push_str(&format!("{red:.6} {:.6} {:.6}\n", g.powf(0.9), b * 0.85));
            }
        }
    }
    lut
}

/// The font the drawtext tests draw with, which `scripts/install-deps.sh`
/// installs (Debian's fonts-dejavu-core).
pub const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// Copies [`FONT`] to `to`, with a message that says how to get it.
pub fn copy_font(to: &std::path::Path) {
    std::fs::copy(FONT, to)
        .unwrap_or_else(|e| panic!("{FONT}: {e} (bash scripts/install-deps.sh installs it)"));
}
