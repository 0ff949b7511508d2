//! Node faults, each with the output checked frame by frame against plain
//! ffmpeg: a node restarted mid-job, a node whose results or inputs arrive corrupted,
//! and a straggler. (A node killed for good is in `behaviour.rs`; twenty
//! random kills in `chaos.rs`.)

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tests::{Node, bin, framemd5, lavfi_clip, plain_encode, script};

/// A lossless encode, so that any damage shows in the frames.
const ENCODE: [&str; 6] = ["-c:v", "libx264", "-qp", "0", "-c:a", "copy"];

/// A clip of `seconds` with a keyframe every 12 frames, and audio.
fn clip(dir: &Path, seconds: u32) -> PathBuf {
    let src = dir.join("src.mkv");
    lavfi_clip(&src, seconds, "320x240", 12, true);
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
        .env("DFFMPEG_LOG", "warn")
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

/// A TCP proxy in front of a node that flips one byte in the middle of
/// every large HTTP/2 DATA frame going one way, keeping every frame header
/// intact: chunks arrive damaged, as through a bad NIC, cable or disk,
/// while the connection itself stays healthy.
struct CorruptingProxy {
    addr: String,
    corrupted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// Which way a [`CorruptingProxy`] damages frames.
#[derive(Clone, Copy, PartialEq)]
enum Damaged {
    /// Frames from the node: results.
    Results,
    /// Frames to the node: chunk inputs.
    Inputs,
}

/// DATA frames at least this long are corrupted; reports and progress
/// messages are shorter, chunk data comes in frames of up to 256 KiB.
const CORRUPT_FROM: usize = 8192;

/// The client's connection preface, which precedes its first frame.
const PREFACE: usize = 24;

impl CorruptingProxy {
    fn start(upstream: &str, damaged: Damaged) -> Self {
        use std::sync::Arc;
        use std::sync::atomic::AtomicUsize;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let corrupted = Arc::new(AtomicUsize::new(0));
        let (upstream, count) = (upstream.to_string(), corrupted.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = std::net::TcpStream::connect(&upstream) else { continue };
                let (to_server, from_client) =
                    (server.try_clone().unwrap(), client.try_clone().unwrap());
                let (to_client, from_server) = (client, server);
                let count = count.clone();
                let (plain, damaging) = match damaged {
                    Damaged::Results => ((from_client, to_server), (from_server, to_client)),
                    Damaged::Inputs => ((from_server, to_client), (from_client, to_server)),
                };
                let skip = if damaged == Damaged::Inputs { PREFACE } else { 0 };
                std::thread::spawn(move || {
                    let (mut from, mut to) = plain;
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Write);
                });
                std::thread::spawn(move || {
                    let (from, to) = damaging;
                    let _ = corrupt_frames(from, to, skip, &count);
                });
            }
        });
        Self { addr, corrupted }
    }
}

/// Copies HTTP/2 frames from `from` to `to` (after `skip` bytes copied as
/// they are), damaging large DATA frames.
fn corrupt_frames(
    mut from: std::net::TcpStream,
    mut to: std::net::TcpStream,
    skip: usize,
    count: &std::sync::atomic::AtomicUsize,
) -> std::io::Result<()> {
    use std::io::{Read as _, Write as _};
    let mut preface = vec![0u8; skip];
    from.read_exact(&mut preface)?;
    to.write_all(&preface)?;
    loop {
        let mut header = [0u8; 9];
        from.read_exact(&mut header)?;
        let length =
            usize::from(header[0]) << 16 | usize::from(header[1]) << 8 | usize::from(header[2]);
        let mut payload = vec![0u8; length];
        from.read_exact(&mut payload)?;
        // Type 0 is DATA; its payload is the gRPC message bytes.
        if header[3] == 0 && length >= CORRUPT_FROM {
            payload[length / 2] ^= 0x55;
            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        to.write_all(&header)?;
        to.write_all(&payload)?;
    }
}

#[test]
fn a_node_whose_results_arrive_corrupted_is_caught_and_its_chunks_redone() {
    let dir = tempfile::tempdir().unwrap();
    // Results travel uncompressed (coded video does not shrink), so only
    // the BLAKE3 of what arrived can tell.
    let stderr = through_corrupting_proxy(dir.path(), Damaged::Results);
    let caught = stderr.lines().filter(|l| l.contains("chunk failed")).count();
    assert!(caught > 0, "no corrupted chunk was caught:\n{stderr}");
    assert!(stderr.contains("BLAKE3"), "{stderr}");
    eprintln!("{caught} chunks caught");
}

#[test]
fn a_node_whose_inputs_arrive_corrupted_refuses_them_and_the_chunks_are_redone() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = through_corrupting_proxy(dir.path(), Damaged::Inputs);
    assert!(stderr.contains("the chunk input arrived damaged"), "{stderr}");
}

/// Encodes a clip over a node behind a proxy that damages `damaged` and a
/// healthy node; checks that frames were damaged, that no chunk from the
/// damaging node was accepted and that the output is ffmpeg's; returns
/// dffmpeg's stderr.
fn through_corrupting_proxy(dir: &Path, damaged: Damaged) -> String {
    let src = clip(dir, 4);
    let node = Node::start(1);
    let proxy = CorruptingProxy::start(&node.addr, damaged);
    let healthy = Node::start(1);
    let out = dir.join("out.mkv");
    let output = Command::new(bin("dffmpeg"))
        .args(["--nodes", &proxy.addr, "--nodes", &healthy.addr])
        .args(["--segment-duration", "0.5", "-y", "-nostats", "-loglevel", "verbose", "-i"])
        .arg(&src)
        .args(ENCODE)
        .arg(&out)
        .env_remove("DFFMPEG_NODES")
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .env("DFFMPEG_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    let damaged_frames = proxy.corrupted.load(std::sync::atomic::Ordering::Relaxed);
    assert!(damaged_frames > 0, "nothing went through the proxy");
    assert!(
        !stderr.contains(&format!(" on {} in ", proxy.addr)),
        "a chunk that went through the damaging proxy was accepted:\n{stderr}"
    );
    eprintln!("{damaged_frames} frames damaged");
    assert_like_ffmpeg(&src, &out);
    assert!(node.leftovers().is_empty() && healthy.leftovers().is_empty());
    stderr
}

/// An ffmpeg for a node many times slower than the others: a script that
/// becomes the real ffmpeg (so the node's SIGKILL reaches it) while a helper
/// stops it for 95 ms of every 100 ms, until it exits. Twenty times slower
/// when idle, it stays ten times slower on a machine busy enough to slow the
/// other node's ffmpeg down by half.
fn much_slower(dir: &Path) -> PathBuf {
    script(
        dir,
        "ffmpeg-slow",
        "case \"$*\" in *-progress*) ;; *) exec ffmpeg \"$@\";; esac\n\
         pid=$$\n\
         (while kill -STOP $pid 2>/dev/null; do sleep 0.095; kill -CONT $pid 2>/dev/null; sleep 0.005; done) \
         </dev/null >/dev/null 2>&1 &\n\
         exec ffmpeg \"$@\"\n",
    )
}

#[test]
fn a_straggler_is_run_again_elsewhere_and_the_first_verified_result_wins() {
    let dir = tempfile::tempdir().unwrap();
    // Four chunks: the slow node's first one is still running at the end.
    let src = clip(dir.path(), 2);
    let out = dir.path().join("out.mkv");
    let fast = Node::start(1);
    let slow = Node::start_with_ffmpeg(1, &much_slower(dir.path()));
    let started = Instant::now();
    let child = start(&[&fast.addr, &slow.addr], &["--segment-duration", "0.5"], &src, &out);
    let output = child.wait_with_output().unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let backups: Vec<&str> =
        stderr.lines().filter(|l| l.contains("straggles; running it on")).collect();
    assert!(!backups.is_empty(), "no straggler was run again:\n{stderr}");
    assert!(
        backups.iter().all(|l| l.ends_with(&format!("on {} too", fast.addr))),
        "a backup went to the slow node:\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("the copy on {} is cancelled", slow.addr)),
        "the straggler's attempt was not cancelled:\n{stderr}"
    );
    eprintln!("{} backup(s); the job took {:.1} s", backups.len(), took.as_secs_f64());
    assert_like_ffmpeg(&src, &out);
    // The cancelled attempt's directory and process are gone.
    wait_until("the slow node cleans up", Duration::from_secs(10), || slow.leftovers().is_empty());
}

/// A network namespace joined to this one by a veth pair: `10.213.N.1` here,
/// `10.213.N.2` inside. Removed when dropped.
struct Netns {
    name: String,
    inside: String,
    outer_link: String,
    inner_link: String,
}

fn ip(args: &[&str]) {
    let status = Command::new("ip").args(args).status().unwrap();
    assert!(status.success(), "ip {args:?} failed");
}

impl Netns {
    fn new() -> Self {
        let n = std::process::id() % 250 + 1;
        let name = format!("dffmpeg-cut-{}", std::process::id());
        let (outer_link, inner_link) = (format!("dfc{n}a"), format!("dfc{n}b"));
        let (outside, inside) = (format!("10.213.{n}.1"), format!("10.213.{n}.2"));
        ip(&["netns", "add", &name]);
        let netns = Self { name, inside, outer_link, inner_link };
        ip(&["link", "add", &netns.outer_link, "type", "veth", "peer", "name", &netns.inner_link]);
        ip(&["link", "set", &netns.inner_link, "netns", &netns.name]);
        ip(&["addr", "add", &format!("{outside}/24"), "dev", &netns.outer_link]);
        ip(&["link", "set", &netns.outer_link, "up"]);
        let inner = |args: &[&str]| {
            let mut all = vec!["netns", "exec", &netns.name, "ip"];
            all.extend(args);
            ip(&all);
        };
        inner(&["addr", "add", &format!("{}/24", netns.inside), "dev", &netns.inner_link]);
        inner(&["link", "set", &netns.inner_link, "up"]);
        inner(&["link", "set", "lo", "up"]);
        netns
    }

    /// Takes the namespace's end of the link down: packets to it are
    /// dropped, with no reset or error to tell the sender.
    fn cut(&self) {
        ip(&["netns", "exec", &self.name, "ip", "link", "set", &self.inner_link, "down"]);
    }
}

impl Netns {
    /// Brings the link back.
    fn heal(&self) {
        ip(&["netns", "exec", &self.name, "ip", "link", "set", &self.inner_link, "up"]);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.outer_link]).status();
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

#[test]
fn a_node_cut_off_the_network_mid_chunk_is_given_up_and_its_chunk_redone() {
    // SAFETY: geteuid(2) has no preconditions.
    #[allow(unsafe_code)]
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: network namespaces need root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), 8);
    let out = dir.path().join("out.mkv");
    let netns = Netns::new();
    let remote = Node::start_in_netns(1, &netns.name, &netns.inside, &["--idle-timeout", "5"]);
    let local = Node::start(1);
    let started = Instant::now();
    let child = start(&[&remote.addr, &local.addr], &["--segment-duration", "0.5"], &src, &out);
    wait_until("a chunk is on the cut-off node", Duration::from_secs(60), || {
        !remote.leftovers().is_empty()
    });
    netns.cut();
    let cut_at = started.elapsed();
    let output = child.wait_with_output().unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    eprintln!(
        "cut at {:.1} s; the job finished at {:.1} s",
        cut_at.as_secs_f64(),
        took.as_secs_f64()
    );
    assert!(took < cut_at + Duration::from_secs(60), "the cut was noticed only after a minute");
    // A free node backs the chunk up (or the connection's keep-alive
    // gives up on the node, whichever comes first).
    let noticed: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("chunk failed") || l.contains(&format!("copy on {}", remote.addr)))
        .collect();
    assert!(!noticed.is_empty(), "nothing noticed the cut:\n{stderr}");
    eprintln!("{}", noticed.join("\n"));
    assert_like_ffmpeg(&src, &out);
    // The node gives up on the client that no longer reads within its idle
    // timeout, and removes the chunk.
    wait_until("the cut-off node drops its chunk", Duration::from_secs(30), || {
        remote.leftovers().is_empty()
    });

    // Alone, the node cut off mid-chunk is given up by the connection's
    // HTTP/2 keep-alive: a clear error within a bound, not a hang.
    netns.heal();
    // A node of its own for this part: streams the first job had queued
    // behind the cut still reach the old one once the link is back (the
    // exited client's kernel retransmits them), and would pass for this
    // job's chunks.
    drop(remote);
    let remote = Node::start_in_netns(1, &netns.name, &netns.inside, &["--idle-timeout", "5"]);
    let addr: std::net::SocketAddr = remote.addr.parse().unwrap();
    wait_until("the node is reachable again", Duration::from_secs(30), || {
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
    });
    let temp = tempfile::tempdir().unwrap();
    let alone = dir.path().join("alone.mkv");
    let extra = ["--segment-duration", "0.5", "--temp-dir", temp.path().to_str().unwrap()];
    let child = start(&[&remote.addr], &extra, &src, &alone);
    wait_until("a chunk is on the node", Duration::from_secs(60), || {
        !remote.leftovers().is_empty()
    });
    netns.cut();
    let cut_at = Instant::now();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("alone: {} {:.1} s after the cut", output.status, cut_at.elapsed().as_secs_f64());
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(cut_at.elapsed() < Duration::from_secs(60), "the cut took a minute to notice");
    assert!(stderr.contains("no node is left to encode on"), "{stderr}");
    assert!(!alone.exists());
    assert!(std::fs::read_dir(temp.path()).unwrap().next().is_none(), "temp files left");
}
