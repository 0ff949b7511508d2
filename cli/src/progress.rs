//! `-progress URL`: ffmpeg's machine-readable progress, key=value blocks each
//! ending in `progress=continue`, the last in `progress=end`.
//!
//! The distributed path writes to stdout (`pipe:1`, `pipe:`), stderr
//! (`pipe:2`) or a file; other URLs (`tcp://`...) run through ffmpeg.

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
            (_, Some(_)) => Err(format!("-progress {url} is not a file or stdout")),
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
#[derive(Debug)]
pub struct ProgressWriter {
    target: ProgressTarget,
    file: Option<std::fs::File>,
}

impl ProgressWriter {
    /// Opens (and for a file, truncates) the destination.
    pub fn open(target: ProgressTarget) -> std::io::Result<Self> {
        let file = match &target {
            ProgressTarget::File(path) => Some(std::fs::File::create(path)?),
            _ => None,
        };
        Ok(Self { target, file })
    }

    /// Writes one block and flushes it, so a reader sees it at once.
    pub fn write(&mut self, snapshot: &Snapshot, end: bool) -> std::io::Result<()> {
        let text = block(snapshot, end);
        match (&self.target, &mut self.file) {
            (_, Some(file)) => file.write_all(text.as_bytes()).and_then(|()| file.flush()),
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
        assert!(ProgressTarget::parse("tcp://127.0.0.1:9").is_err());
        assert!(ProgressTarget::parse("unix:/run/p.sock").is_err());
        assert_eq!(ProgressTarget::parse("-"), Ok(ProgressTarget::Stdout));
    }
}
