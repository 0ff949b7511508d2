//! The `frame= ... fps= ... time= ... speed=` line, aggregated over all nodes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::progress::{ProgressWriter, Snapshot};

/// Frames and bytes encoded per chunk, as the nodes report them.
#[derive(Debug)]
pub struct Stats {
    chunks: Mutex<Vec<(u64, u64)>>,
    started: Instant,
    fps: f64,
    /// Whether the line shows a size (see [`Stats::sized`]).
    sized: bool,
}

impl Stats {
    /// Tracks `chunks` chunks of a video at `fps` frames per second.
    pub fn new(chunks: usize, fps: f64) -> Self {
        Self { chunks: Mutex::new(vec![(0, 0); chunks]), started: Instant::now(), fps, sized: true }
    }

    /// Whether the line shows the size encoded so far; without, `N/A`, as
    /// ffmpeg prints for a muxer that opens its own files (HLS, DASH).
    pub fn sized(self, sized: bool) -> Self {
        Self { sized, ..self }
    }

    /// A node reported `frames` encoded frames and `bytes` written for `chunk`.
    /// Chunks split after a failure get new numbers past the plan's.
    pub fn update(&self, chunk: u32, frames: u64, bytes: u64) {
        let mut chunks = self.chunks.lock().unwrap_or_else(|p| p.into_inner());
        let index = chunk as usize;
        if index >= chunks.len() {
            chunks.resize(index + 1, (0, 0));
        }
        chunks[index] = (frames, bytes);
    }

    /// The chunk is verified with `frames` frames in `bytes` bytes.
    pub fn finish(&self, chunk: u32, frames: u64, bytes: u64) {
        self.update(chunk, frames, bytes);
    }

    /// The chunk failed: its frames will be encoded again.
    pub fn reset(&self, chunk: u32) {
        self.update(chunk, 0, 0);
    }

    /// Where the encode stands now; the size is the video encoded so far.
    pub fn snapshot(&self) -> Snapshot {
        let (frames, bytes) = self
            .chunks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .fold((0, 0), |(f, b), (cf, cb)| (f + cf, b + cb));
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-6);
        let media = if self.fps > 0.0 { frames as f64 / self.fps } else { 0.0 };
        Snapshot {
            frames,
            // ffmpeg 5.1 (`print_report`) shows no rate in its first second.
            fps: if elapsed > 1.0 { frames as f64 / elapsed } else { 0.0 },
            out_time_us: (media * 1e6).round() as i64,
            total_size: self.sized.then_some(bytes),
            speed: media / elapsed,
        }
    }

    /// The running stats line, as ffmpeg 5.1 formats it (`print_report`).
    pub fn line(&self) -> String {
        format_line(&self.snapshot(), false)
    }

    /// Every `period` until aborted: the stats line into `line`'s sink and
    /// a `-progress` block (if `progress`). The first report is immediate, as
    /// ffmpeg's is.
    pub fn spawn_reporter(
        self: &Arc<Self>,
        line: Option<crate::console::Sink>,
        period: Duration,
        progress: Option<Arc<Mutex<ProgressWriter>>>,
    ) -> tokio::task::JoinHandle<()> {
        let stats = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                if let Some(sink) = line {
                    sink.write(&format!("{}\r", stats.line()));
                }
                if let Some(progress) = &progress {
                    let mut writer = progress.lock().unwrap_or_else(|p| p.into_inner());
                    let _ = writer.write(&stats.snapshot(), false);
                }
            }
        })
    }
}

/// ffmpeg's stats line, with its four trailing spaces; `last` gives the final
/// report's `Lsize=`. `q` is not known on the coordinator and reads -0.0, as
/// ffmpeg prints it for a stream without one.
pub fn format_line(s: &Snapshot, last: bool) -> String {
    let centis = (s.out_time_us as f64 / 10_000.0).round() as u64;
    let time = format!(
        "{:02}:{:02}:{:02}.{:02}",
        centis / 360_000,
        centis / 6000 % 60,
        centis / 100 % 60,
        centis % 100
    );
    let fps = if s.fps < 9.95 { format!("{:3.1}", s.fps) } else { format!("{:3.0}", s.fps) };
    let size_key = if last { "Lsize" } else { "size" };
    let size = match s.total_size {
        Some(bytes) => format!("{size_key}={:8.0}kB", bytes as f64 / 1024.0),
        None => format!("{size_key}=N/A"),
    };
    let bitrate = match s.total_size {
        Some(bytes) if s.out_time_us > 0 => {
            format!("{:6.1}kbits/s", bytes as f64 * 8.0 / s.out_time_us as f64 * 1000.0)
        }
        _ => "N/A".to_string(),
    };
    format!(
        "frame={:5} fps={fps} q=-0.0 {size} time={time} bitrate={bitrate} speed={}x    ",
        s.frames,
        crate::progress::format_g(s.speed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_like_ffmpegs() {
        let s = Snapshot {
            frames: 50,
            fps: 44.8,
            out_time_us: 2_000_000,
            total_size: Some(196_557),
            speed: 1.79,
        };
        assert_eq!(
            format_line(&s, false),
            "frame=   50 fps= 45 q=-0.0 size=     192kB time=00:00:02.00 bitrate= 786.2kbits/s speed=1.79x    "
        );
        assert!(format_line(&s, true).contains(" Lsize=     192kB "));
    }
}
