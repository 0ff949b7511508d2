//! Chunk transfer throughput between dffmpeg and a node over loopback
//! (DESIGN section 8: at least 1 GB/s per stream), through the product's own
//! path: `Remote::encode` against a node serving gRPC on 127.0.0.1, with
//! every byte read from and written to disk as in a job.
//!
//! Two payloads, each a real chunk input in NUT:
//! - raw frames (720p testsrc2, rawvideo yuv420p): what an unseekable input
//!   sends, and what zstd shrinks well;
//! - compressed frames (1080p testsrc2 under heavy noise, MJPEG at q 2):
//!   bytes zstd cannot shrink, like any encoded chunk.
//!
//! The node decodes each and writes it back as rawvideo, so the download is
//! at least as large as the upload (the noisy frames stay incompressible
//! raw). Both directions run with zstd on and off. A plain TCP stream over
//! the same loopback, measured in the same run, is the ceiling the ratios
//! refer to.
//!
//! Run: `cargo bench -p cli --bench transfer [-- RUNS]` (5 runs by default).
//! With `DFFMPEG_BENCH_NODE=HOST:PORT` the encodes go to that node instead
//! of the in-process one: a `dffmpeg-node` under `taskset -c 1`, with the
//! bench under `taskset -c 0`, gives each end a core of its own, as two
//! machines would.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cli::local::Tools;
use cli::remote::{Remote, Zstd};
use cli::settings::Security;
use proto::v1::{ChunkFormat, EncodeHeader, EncodeSpec, FpsMode, Rational};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

struct Payload {
    name: &'static str,
    path: PathBuf,
    frames: u64,
    time_base: (i64, i64),
}

fn ffmpeg(args: &[&str]) {
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .status()
        .expect("running ffmpeg");
    assert!(status.success(), "ffmpeg {args:?} failed");
}

fn make(dir: &Path, name: &str, frames: u64, source: &str, codec: &[&str]) -> PathBuf {
    let path = dir.join(format!("{name}.nut"));
    let frames = frames.to_string();
    let mut args = vec!["-f", "lavfi", "-i", source, "-frames:v", &frames];
    args.extend(codec);
    let out = path.to_string_lossy().into_owned();
    args.push(&out);
    ffmpeg(&args);
    path
}

fn spec(payload: &Payload) -> EncodeSpec {
    let (num, den) = payload.time_base;
    EncodeSpec {
        encoder: "rawvideo".into(),
        options: Vec::new(),
        pix_fmt: String::new(),
        filters: Vec::new(),
        keep_start_pts: 0,
        keep_end_pts: payload.frames as i64 * den / (25 * num),
        time_base: Some(Rational { num, den }),
        expected_frames: payload.frames,
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
        filter_time_base: None,
        decoder: String::new(),
        input_format: ChunkFormat::Nut as i32,
    }
}

/// Median, min and max of MB/s figures, as text.
fn spread(mut rates: Vec<f64>) -> (f64, String) {
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    let text = format!("{:7.0} MB/s ({:.0} to {:.0})", median, rates[0], rates[rates.len() - 1]);
    (median, text)
}

fn rate(bytes: u64, took: Duration) -> f64 {
    bytes as f64 / 1e6 / took.as_secs_f64().max(1e-9)
}

/// One TCP stream on loopback moving `bytes` in 1 MiB writes: the ceiling.
async fn plain_tcp(bytes: u64) -> Duration {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let reader = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let mut got = 0u64;
        while got < bytes {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "the stream ended early");
            got += n as u64;
        }
    });
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket.set_nodelay(true).unwrap();
    let piece = vec![7u8; 1 << 20];
    let started = Instant::now();
    let mut sent = 0u64;
    while sent < bytes {
        socket.write_all(&piece).await.unwrap();
        sent += piece.len() as u64;
    }
    reader.await.unwrap();
    started.elapsed()
}

fn main() {
    let runs: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(5);
    let dir = tempfile::tempdir().expect("a temp dir");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let tools = Tools::find(None).expect("ffmpeg on PATH");
        let mut payloads = Vec::new();
        for (name, frames, source, codec) in [
            (
                "raw",
                200,
                "testsrc2=size=1280x720:rate=25",
                &["-c:v", "rawvideo", "-pix_fmt", "yuv420p"][..],
            ),
            (
                "compressed",
                100,
                "testsrc2=size=1920x1080:rate=25,noise=alls=60:allf=t",
                &["-c:v", "mjpeg", "-q:v", "2"][..],
            ),
        ] {
            let path = make(dir.path(), name, frames, source, codec);
            let time_base = cli::probe::time_base(&tools, &path).await.expect("a time base");
            payloads.push(Payload { name, path, frames, time_base });
        }
        let node_dir = dir.path().join("node");
        std::fs::create_dir(&node_dir).unwrap();
        let node = node::serve(node::NodeConfig::local(1, node_dir)).await.expect("a node");
        let addr = std::env::var("DFFMPEG_BENCH_NODE").unwrap_or_else(|_| node.addr.to_string());

        let tcp_bytes = 2u64 << 30;
        let mut tcp = Vec::new();
        for _ in 0..runs {
            tcp.push(rate(tcp_bytes, plain_tcp(tcp_bytes).await));
        }
        let (ceiling, text) = spread(tcp);
        println!("plain TCP on loopback, one stream, 2 GiB: {text}");

        for payload in &payloads {
            let bytes = std::fs::metadata(&payload.path).unwrap().len();
            for zstd in [false, true] {
                let remote =
                    Remote::new(&addr, Zstd { upload: zstd, download: zstd }, &Security::default())
                        .expect("a client");
                let (mut up, mut down) = (Vec::new(), Vec::new());
                let mut out_bytes = 0;
                for run in 0..runs + 1 {
                    let header = EncodeHeader {
                        job_id: "transfer-bench".into(),
                        chunk_index: run as u32,
                        input_size: bytes,
                        spec: Some(spec(payload)),
                    };
                    let out = dir.path().join("out.nut");
                    let (summary, transfer) = remote
                        .encode(header, &payload.path, &out, |_| {})
                        .await
                        .unwrap_or_else(|e| panic!("{} encode: {e}", payload.name));
                    out_bytes = summary.output_size;
                    std::fs::remove_file(&out).unwrap();
                    if run == 0 {
                        continue; // warm-up: the connection, the page cache
                    }
                    up.push(rate(bytes, transfer.upload));
                    down.push(rate(out_bytes, transfer.download));
                }
                let zstd = if zstd { "zstd on " } else { "zstd off" };
                let (u, up) = spread(up);
                let (d, down) = spread(down);
                println!(
                    "{:10} {zstd}: upload {:.0} MB {up} = {:.2}x TCP; download {:.0} MB {down} = {:.2}x TCP",
                    payload.name,
                    bytes as f64 / 1e6,
                    u / ceiling,
                    out_bytes as f64 / 1e6,
                    d / ceiling
                );
            }
        }
        node.stop().await.expect("stopping the node");
    });
}
