//! `-progress URL`: ffmpeg's machine-readable progress, key=value blocks each
//! ending in `progress=continue`, the last in `progress=end`.
//!
//! The distributed path writes to stdout (`pipe:1`, `pipe:`), stderr
//! (`pipe:2`), a file, or a TCP listener (`tcp://HOST:PORT`, as media servers
//! collect it); other URLs (`udp://`, `tcp://` with options...) run through ffmpeg.

use std::io::Write as _;
use std::path::PathBuf;

/// Where the blocks go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressTarget {
    /// `pipe:1`, `pipe:`.
    Stdout,
    /// `pipe:2`.
    Stderr,
    /// A file path, or `file:PATH`; truncated at the start as ffmpeg does.
    File(PathBuf),
    /// `tcp://HOST:PORT`: connected to as a client, as ffmpeg's tcp protocol does.
    Tcp(String),
}

impl ProgressTarget {
    /// Parses a `-progress` URL; the error is why it is not distributable.
    pub fn parse(url: &str) -> Result<Self, String> {
        // A `scheme:` prefix names a protocol, as avio reads the URL.
        let scheme = url.split_once(':').map(|(s, _)| s).filter(|s| {
            !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b))
        });
        match (url, scheme) {
            ("pipe:" | "pipe:1" | "-", _) => Ok(Self::Stdout),
            ("pipe:2", _) => Ok(Self::Stderr),
            (_, Some("file")) => Ok(Self::File(PathBuf::from(&url["file:".len()..]))),
            (_, Some("tcp")) => match url.strip_prefix("tcp://").map(|a| a.trim_end_matches('/')) {
                Some(addr) if !addr.is_empty() && !addr.contains(['?', '/']) => {
                    Ok(Self::Tcp(addr.to_string()))
                }
                _ => Err(format!("-progress {url} has options or a path")),
            },
            (_, Some(_)) => Err(format!("-progress {url} is not a file, stdout or tcp://")),
            (_, None) => Ok(Self::File(PathBuf::from(url))),
        }
    }
}

/// One moment of the encode, as the blocks report it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snapshot {
    /// Frames encoded so far.
    pub frames: u64,
    /// Frames per second of wall time.
    pub fps: f64,
    /// Media time encoded, in microseconds.
    pub out_time_us: i64,
    /// Bytes written, once known (ffmpeg reports the muxer's running size).
    pub total_size: Option<u64>,
    /// Media time over wall time.
    pub speed: f64,
}

/// ffmpeg 5.1's block (`print_report` in fftools/ffmpeg.c).
pub fn block(s: &Snapshot, end: bool) -> String {
    let us = s.out_time_us.max(0);
    let bitrate = match s.total_size {
        Some(size) if us > 0 => format!("{:6.1}kbits/s", size as f64 * 8.0 / us as f64 * 1000.0),
        _ => "N/A".to_string(),
    };
    let size = s.total_size.map_or("N/A".to_string(), |n| n.to_string());
    format!(
        "frame={}\nfps={:.2}\nstream_0_0_q=-1.0\nbitrate={bitrate}\ntotal_size={size}\nout_time_us={us}\nout_time_ms={us}\nout_time={:02}:{:02}:{:02}.{:06}\ndup_frames=0\ndrop_frames=0\nspeed={}x\nprogress={}\n",
        s.frames,
        s.fps,
        us / 3_600_000_000,
        us / 60_000_000 % 60,
        us / 1_000_000 % 60,
        us % 1_000_000,
        format_g(s.speed),
        if end { "end" } else { "continue" }
    )
}

/// C's `%4.3g`.
pub(crate) fn format_g(value: f64) -> String {
    let text = if value == 0.0 {
        "0".to_string()
    } else {
        let exponent = value.abs().log10().floor() as i32;
        if !(-4..3).contains(&exponent) {
            format!("{value:.2e}")
        } else {
            let decimals = (2 - exponent).max(0) as usize;
            let fixed = format!("{value:.decimals$}");
            if fixed.contains('.') {
                fixed.trim_end_matches('0').trim_end_matches('.').to_string()
            } else {
                fixed
            }
        }
    };
    format!("{text:>4}")
}

/// An open `-progress` destination.
pub struct ProgressWriter {
    target: ProgressTarget,
    /// The file or connection; `None` for stdout and stderr.
    sink: Option<Box<dyn std::io::Write + Send>>,
}

impl std::fmt::Debug for ProgressWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProgressWriter").field("target", &self.target).finish_non_exhaustive()
    }
}

impl ProgressWriter {
    /// Opens (for a file, truncates; for TCP, connects to) the destination,
    /// as ffmpeg does while it reads its options, before any input.
    pub fn open(target: ProgressTarget) -> std::io::Result<Self> {
        let sink: Option<Box<dyn std::io::Write + Send>> = match &target {
            ProgressTarget::File(path) => Some(Box::new(std::fs::File::create(path)?)),
            ProgressTarget::Tcp(addr) => {
                let stream = std::net::TcpStream::connect(addr.as_str())?;
                stream.set_nodelay(true)?;
                Some(Box::new(stream))
            }
            ProgressTarget::Stdout | ProgressTarget::Stderr => None,
        };
        Ok(Self { target, sink })
    }

    /// Writes one block and flushes it, so a reader sees it at once.
    pub fn write(&mut self, snapshot: &Snapshot, end: bool) -> std::io::Result<()> {
        let text = block(snapshot, end);
        match (&self.target, &mut self.sink) {
            (_, Some(sink)) => sink.write_all(text.as_bytes()).and_then(|()| sink.flush()),
            (ProgressTarget::Stderr, None) => {
                let mut err = std::io::stderr().lock();
                err.write_all(text.as_bytes()).and_then(|()| err.flush())
            }
            _ => {
                let mut out = std::io::stdout().lock();
                out.write_all(text.as_bytes()).and_then(|()| out.flush())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_read_like_ffmpegs() {
        let snapshot = Snapshot {
            frames: 50,
            fps: 0.0,
            out_time_us: 1_961_000,
            total_size: Some(172_690),
            speed: 46.4,
        };
        assert_eq!(
            block(&snapshot, true),
            "frame=50\nfps=0.00\nstream_0_0_q=-1.0\nbitrate= 704.5kbits/s\ntotal_size=172690\nout_time_us=1961000\nout_time_ms=1961000\nout_time=00:00:01.961000\ndup_frames=0\ndrop_frames=0\nspeed=46.4x\nprogress=end\n"
        );
        assert_eq!(format_g(0.0), "   0");
        assert_eq!(format_g(1.5), " 1.5");
        assert_eq!(format_g(123.456), " 123");
        assert_eq!(format_g(0.01234), "0.0123");
    }

    #[test]
    fn targets() {
        assert_eq!(ProgressTarget::parse("pipe:1"), Ok(ProgressTarget::Stdout));
        assert_eq!(ProgressTarget::parse("file:p.txt"), Ok(ProgressTarget::File("p.txt".into())));
        assert_eq!(
            ProgressTarget::parse("tcp://127.0.0.1:9"),
            Ok(ProgressTarget::Tcp("127.0.0.1:9".into()))
        );
        assert!(ProgressTarget::parse("tcp://127.0.0.1:9?listen=1").is_err());
        assert!(ProgressTarget::parse("udp://127.0.0.1:9").is_err());
        assert!(ProgressTarget::parse("unix:/run/p.sock").is_err());
        assert_eq!(ProgressTarget::parse("-"), Ok(ProgressTarget::Stdout));
    }
}
