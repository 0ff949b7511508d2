//! Hostile encode specs, sent straight to a node over gRPC: whatever a spec
//! holds, no ffmpeg the node starts reads or writes outside its chunk's
//! directory (system libraries and /proc aside) or opens a network socket.
//!
//! The node's ffmpeg runs under `strace -f`, so the proof is what the
//! processes did, not what their argv looked like. The specs are a valid one
//! with one or more fields replaced by hostile values (paths, URLs, filter
//! syntax, file-naming library parameters, extreme numbers), from a fixed
//! seed so a failure reproduces. The test prints the number of attempts and
//! of escapes, which must be 0.

use std::path::{Path, PathBuf};
use std::time::Duration;

use proto::v1::encode_request::Msg;
use proto::v1::encode_response::Msg as Reply;
use proto::v1::node_client::NodeClient;
use proto::v1::{
    CodecOption, EncodeHeader, EncodeRequest, EncodeSpec, Filter, FontAlias, FontFile, Rational,
};
use tests::{Node, Rng, ffmpeg};

/// Attempts per run.
const ATTEMPTS: usize = 400;

/// Values meant to name a file, a URL or a device, or to break out of the
/// node's argv or filtergraph.
const HOSTILE: &[&str] = &[
    // A subtitle's options: a font family and a character set that are paths.
    "force_style=FontName=/etc/passwd",
    "charenc=../../etc/passwd",
    "/etc/passwd",
    "../../../etc/passwd",
    "../escape.txt",
    "file:/etc/passwd",
    "http://127.0.0.1:9/x",
    "tcp://127.0.0.1:9",
    "udp://127.0.0.1:9",
    "concat:/etc/passwd|/etc/hosts",
    "subfile,,start,0,end,0,,:/etc/passwd",
    "pipe:1",
    "/dev/tcp/127.0.0.1/9",
    "a;movie=/etc/passwd",
    "iw/2:-2,movie=/etc/passwd",
    "[in]null[out]",
    "w=iw:h=ih:eval=frame",
    "'quoted'",
    "$(touch /tmp/pwned)",
    "`id`",
    "-i",
    "-y",
    "stats=/tmp/dffmpeg-hostile.stats",
    "crf=20:stats=../../pwn",
    "qpfile=/etc/passwd",
    "dump-yuv=/tmp/dffmpeg-hostile.yuv",
    "csv=/tmp/dffmpeg-hostile.csv",
    "analysis-save=/tmp/dffmpeg-hostile",
    "fgs-table=/etc/passwd",
    "fontfile=/etc/passwd",
    "filename=/etc/passwd",
    "psfile=/etc/passwd",
    "plot=/tmp/dffmpeg-hostile.plt",
    "preset=none: psfile=/etc/passwd",
    "none::::::/etc/passwd",
    "23",
    "medium",
    "yuv420p",
    "",
];

const OPTION_NAMES: &[&str] = &[
    "crf",
    "preset",
    "x264-params",
    "x265-params",
    "svtav1-params",
    "force_key_frames",
    "i",
    "f",
    "report",
    "passlogfile",
    "stats",
    "filter_complex",
    "dump_attachment",
    "attach",
    "vstats_file",
    "sdp_file",
    "metadata",
];

const FILTER_NAMES: &[&str] = &[
    "lut3d",
    "drawtext",
    "scale",
    "crop",
    "drawbox",
    "lutyuv",
    "movie",
    "amovie",
    "drawtext",
    "subtitles",
    "ass",
    "lut3d",
    "curves",
    "sendcmd",
    "zmq",
    "select",
    "null",
];

/// A filter's file and its type, which the node names itself (a LUT's).
const FILTER_FILES: &[&str] = &[
    "",
    "LUT_3D_SIZE 2\n0 0 0\n",
    "file /etc/passwd\n",
    "1\n00:00:00,000 --> 00:00:09,000\n<font face=\"/etc/passwd\">x</font>\n",
];
const FILE_TYPES: &[&str] =
    &["", "cube", "../cube", "cube/../../../tmp/x", "3dl", "png", "ttf", "srt", "ass"];
/// A subtitle's fonts' types, and the families its fontconfig
/// substitutes: XML and configuration syntax, paths.
const FONT_TYPES: &[&str] = &["ttf", "otf", "../ttf", ""];
const FAMILIES: &[&str] = &[
    "Arial",
    "</string></test></match><dir>/etc</dir><match><test><string>",
    "/etc/passwd",
    "<include>/etc/fonts/fonts.conf</include>",
    "&amp; &#x2F;",
];
/// drawtext's text, which the node quotes itself: graph and option syntax,
/// and functions that read the machine.
const TEXTS: &[&str] = &[
    "",
    "Take 3: %{pts:hms}",
    "a'; movie=/etc/passwd [x]",
    "':textfile=/etc/passwd:text='",
    "\\\\'\\,",
    "%{metadata:lavfi.x}",
    "%{localtime}",
    "%{pts:localtime:0}",
    "%{e:1}\n[out];movie=/etc/passwd",
];

/// drawtext's timecode, which the node quotes itself too.
const TIMECODES: &[&str] = &[
    "",
    "00:00:00:00",
    "00:00:00;00':textfile=/etc/passwd:text='",
    "00:00:00:00,movie=/etc/passwd",
    "/etc/passwd",
    "99:99:99:999999999",
];

const IMAGE_FORMATS: &[&str] =
    &["png_pipe", "jpeg_pipe", "concat", "hls", "image2", "lavfi", "../in.nut", "tee"];

const ENCODER_NAMES: &[&str] =
    &["libx264", "ffv1", "mjpeg", "libx264,movie=/etc/passwd", "../../bin/sh", "h264_vaapi"];

/// A value from the edges of i64, for timestamps and counts.
fn extreme(rng: &mut Rng) -> i64 {
    [0, 1, -1, 10, i64::MAX, i64::MIN, 1 << 40][(rng.next() % 7) as usize]
}

/// The chunk input's time base, as ffprobe reads it (NUT picks its own).
fn time_base(path: &Path) -> (i64, i64) {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=time_base", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let (num, den) = text.trim().split_once('/').expect("a time base");
    (num.parse().unwrap(), den.parse().unwrap())
}

/// The valid spec every attempt starts from, with timestamps in the input's
/// time base `tb`.
fn base(tb: (i64, i64)) -> EncodeSpec {
    tests::ten_frame_spec(tb)
}

fn hostile(rng: &mut Rng, tb: (i64, i64)) -> EncodeSpec {
    let mut spec = base(tb);
    // At least one field, often several.
    loop {
        match rng.next() % 10 {
            0 => spec.encoder = rng.pick(ENCODER_NAMES).into(),
            1 => spec.options.push(CodecOption {
                name: rng.pick(OPTION_NAMES).into(),
                value: rng.pick(HOSTILE).into(),
            }),
            2 => spec.filters.push(Filter {
                name: rng.pick(FILTER_NAMES).into(),
                args: rng.pick(HOSTILE).into(),
                file: rng.pick(FILTER_FILES).as_bytes().to_vec().into(),
                file_type: rng.pick(FILE_TYPES).into(),
                text: rng.pick(TEXTS).into(),
                timecode: rng.pick(TIMECODES).into(),
                fonts: (0..rng.next() % 3)
                    .map(|_| FontFile {
                        data: rng.pick(FILTER_FILES).as_bytes().to_vec().into(),
                        file_type: rng.pick(FONT_TYPES).into(),
                    })
                    .collect(),
                font_aliases: (0..rng.next() % 3)
                    .map(|_| FontAlias {
                        requested: rng.pick(FAMILIES).into(),
                        family: rng.pick(FAMILIES).into(),
                    })
                    .collect(),
            }),
            3 => spec.pix_fmt = rng.pick(HOSTILE).into(),
            4 => {
                spec.keep_start_pts = extreme(rng);
                spec.keep_end_pts = extreme(rng);
            }
            5 => {
                spec.time_base = Some(Rational { num: extreme(rng), den: extreme(rng) });
                spec.filter_time_base = Some(Rational { num: extreme(rng), den: extreme(rng) });
            }
            6 => spec.frame_rate = Some(Rational { num: extreme(rng), den: extreme(rng) }),
            7 => {
                spec.chunk_format = (rng.next() % 5) as i32;
                spec.fps_mode = (rng.next() % 6) as i32;
                spec.passes = (rng.next() % 4) as u32;
            }
            8 => {
                // An overlay image that names other files if read as a
                // playlist or a concat list, under demuxers that would.
                let image = rng.pick(&[
                    "ffconcat version 1.0\nfile /etc/passwd\n",
                    "#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n",
                    "P1\n1 1\n1\n",
                ]);
                spec.overlay = Some(proto::v1::Overlay {
                    image: image.as_bytes().to_vec().into(),
                    image_format: rng.pick(IMAGE_FORMATS).into(),
                    image_filters: vec![Filter {
                        name: rng.pick(FILTER_NAMES).into(),
                        args: rng.pick(HOSTILE).into(),
                        ..Default::default()
                    }],
                    args: rng.pick(HOSTILE).into(),
                    filters_before: (rng.next() % 3) as u32,
                });
            }
            _ => spec.filtered_end_pts = Some(extreme(rng)),
        }
        if !rng.chance(40) {
            return spec;
        }
    }
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ended {
    /// Refused before anything ran.
    Refused,
    /// ffmpeg ran and the chunk came back.
    Encoded,
    /// ffmpeg ran (or the node failed otherwise) and the chunk failed: why.
    Failed(String),
}

async fn attempt(addr: &str, spec: EncodeSpec, input: &[u8]) -> Ended {
    let mut client = NodeClient::connect(format!("http://{addr}")).await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let header = EncodeHeader {
        job_id: "hostile".into(),
        chunk_index: 0,
        input_size: input.len() as u64,
        spec: Some(spec),
    };
    tx.send(EncodeRequest { msg: Some(Msg::Header(header)) }).await.unwrap();
    let data = input.to_vec();
    tokio::spawn(async move {
        let _ = tx.send(EncodeRequest { msg: Some(Msg::Data(data.into())) }).await;
    });
    let stream = client.encode(tokio_stream::wrappers::ReceiverStream::new(rx)).await;
    let mut replies = match stream {
        Ok(replies) => replies.into_inner(),
        Err(status) if status.code() == tonic::Code::InvalidArgument => return Ended::Refused,
        Err(status) => return Ended::Failed(status.message().to_string()),
    };
    loop {
        match tokio::time::timeout(Duration::from_secs(60), replies.message()).await {
            Ok(Ok(Some(reply))) => {
                if let Some(Reply::Summary(_)) = reply.msg {
                    return Ended::Encoded;
                }
            }
            Ok(Ok(None)) => return Ended::Failed("the stream ended without a summary".into()),
            Ok(Err(status)) if status.message().starts_with("refused encode spec") => {
                return Ended::Refused;
            }
            Ok(Err(status)) => return Ended::Failed(status.message().to_string()),
            Err(_) => panic!("a node took more than a minute over one attempt"),
        }
    }
}

/// Paths a process may touch outside its chunk directory: the dynamic
/// loader's and the kernel's, and the ffmpeg executable.
const SYSTEM: &[&str] = &[
    "/lib/",
    "/lib64/",
    "/usr/lib/",
    "/usr/lib64/",
    "/usr/share/",
    "/usr/bin/",
    "/etc/ld.so.",
    "/proc/",
    "/sys/",
    "/dev/null",
    "/dev/urandom",
];

/// Every escape in one strace log: a file outside `root` (the node's temp
/// dir) and the system paths, a relative path that climbs out, or a socket
/// that is not a local one.
fn escapes(trace: &str, root: &Path) -> Vec<String> {
    let root = root.to_string_lossy();
    let mut found = Vec::new();
    for line in trace.lines() {
        // A call the kernel refused touched nothing (the loader and the
        // libraries probe many paths that do not exist).
        if line.contains(" = -1 ") {
            continue;
        }
        let call = line.split_whitespace().nth(1).unwrap_or_default();
        if call.starts_with("socket(") {
            if !call.contains("AF_UNIX")
                && !call.contains("AF_NETLINK")
                && !line.contains("AF_UNIX")
            {
                found.push(line.to_string());
            }
            continue;
        }
        if call.starts_with("connect(") || call.starts_with("bind(") {
            if !line.contains("AF_UNIX") {
                found.push(line.to_string());
            }
            continue;
        }
        let Some(start) = line.find('"') else { continue };
        let Some(len) = line[start + 1..].find('"') else { continue };
        let path = &line[start + 1..start + 1 + len];
        let absolute = path.starts_with('/');
        let allowed = if absolute {
            path.starts_with(root.as_ref()) || SYSTEM.iter().any(|p| path.starts_with(p))
        } else {
            !path.split('/').any(|part| part == "..")
        };
        if !allowed {
            found.push(line.to_string());
        }
    }
    found
}

/// The watch can fail: an ffmpeg told to read /etc/passwd and to stream to
/// a TCP port, traced the same way, shows both.
#[test]
fn the_trace_catches_a_real_escape() {
    let dir = tempfile::tempdir().unwrap();
    let traced = |name: &str, args: &[&str]| {
        let trace = dir.path().join(name);
        let status = std::process::Command::new("strace")
            .args(["-f", "-qq", "-o"])
            .arg(&trace)
            .args(["-e", "trace=%file,%network", "ffmpeg", "-v", "quiet"])
            .args(args)
            .env_remove("LD_LIBRARY_PATH")
            .status()
            .unwrap();
        assert!(!status.success(), "ffmpeg {args:?} should fail");
        escapes(&std::fs::read_to_string(&trace).unwrap(), dir.path())
    };
    let read = traced("read", &["-i", "/etc/passwd", "-f", "null", "-"]);
    assert!(read.iter().any(|l| l.contains("\"/etc/passwd\"")), "{read:?}");
    let net = traced(
        "net",
        &["-f", "lavfi", "-i", "testsrc2=duration=0.1", "-f", "nut", "tcp://127.0.0.1:9"],
    );
    assert!(net.iter().any(|l| l.contains("AF_INET")), "{net:?}");
    // And a chunk directory's own files are not escapes.
    let inside =
        format!("1 openat(AT_FDCWD, \"{}/chunk-0-x/out.nut\", O_WRONLY) = 3", dir.path().display());
    assert!(escapes(&inside, dir.path()).is_empty());
}

#[test]
fn hostile_specs_never_escape_the_chunk_directory() {
    let dir = tempfile::tempdir().unwrap();
    let traces = dir.path().join("traces");
    std::fs::create_dir(&traces).unwrap();
    let wrapper = dir.path().join("ffmpeg");
    std::fs::write(
        &wrapper,
        format!(
            // cargo's LD_LIBRARY_PATH would only send the loader searching.
            "#!/bin/sh\nunset LD_LIBRARY_PATH\nexec strace -f -qq -o {}/trace.$$ -e trace=%file,%network ffmpeg \"$@\"\n",
            traces.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .unwrap();
    let input_path = dir.path().join("in.nut");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=64x48:rate=25:duration=0.4",
        "-c:v",
        "ffv1",
        input_path.to_str().unwrap(),
    ]);
    let input = std::fs::read(&input_path).unwrap();
    let tb = time_base(&input_path);
    let node = Node::start_with_ffmpeg(1, &wrapper);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut rng = Rng(0x5eed_d0ff_ee00_0001);
    let (mut refused, mut encoded, mut failed) = (0, 0, 0);
    runtime.block_on(async {
        assert_eq!(attempt(&node.addr, base(tb), &input).await, Ended::Encoded, "the base spec");
        // A font that does not load: drawtext would fall back to the
        // machine's fontconfig fonts; the node leaves it none to read.
        let mut unloadable = base(tb);
        unloadable.filters.push(Filter {
            name: "drawtext".into(),
            file: b"not a font".to_vec().into(),
            file_type: "ttf".into(),
            text: "hello".into(),
            ..Default::default()
        });
        let ended = attempt(&node.addr, unloadable, &input).await;
        assert!(matches!(ended, Ended::Failed(_)), "an unloadable font: {ended:?}");
        for _ in 0..ATTEMPTS {
            match attempt(&node.addr, hostile(&mut rng, tb), &input).await {
                Ended::Refused => refused += 1,
                Ended::Encoded => encoded += 1,
                Ended::Failed(_) => failed += 1,
            }
        }
    });

    let root: PathBuf = node.temp.path().canonicalize().unwrap();
    let mut logs = 0;
    let mut escaped = Vec::new();
    for entry in std::fs::read_dir(&traces).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        logs += 1;
        escaped.extend(escapes(&text, &root));
    }
    println!(
        "hostile specs: {ATTEMPTS} attempts ({refused} refused at validation, {encoded} encoded, {failed} failed in ffmpeg), {logs} ffmpeg processes traced, {} escapes",
        escaped.len()
    );
    assert!(encoded + failed > 0, "no hostile spec reached ffmpeg: the test proves nothing");
    assert!(escaped.is_empty(), "escapes:\n{}", escaped.join("\n"));
    assert!(node.leftovers().is_empty(), "{:?}", node.leftovers());
    for name in ["dffmpeg-hostile.stats", "dffmpeg-hostile.yuv", "dffmpeg-hostile.csv", "pwned"] {
        assert!(!Path::new("/tmp").join(name).exists(), "/tmp/{name} was written");
    }
}
