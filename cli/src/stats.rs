//! The `frame= ... fps= ... time= ... speed=` line, aggregated over all nodes.

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::progress::{ProgressWriter, Snapshot};

/// Frames encoded per chunk, as the nodes report them.
#[derive(Debug)]
pub struct Stats {
    frames: Mutex<Vec<u64>>,
    started: Instant,
    fps: f64,
}

impl Stats {
    /// Tracks `chunks` chunks of a video at `fps` frames per second.
    pub fn new(chunks: usize, fps: f64) -> Self {
        Self { frames: Mutex::new(vec![0; chunks]), started: Instant::now(), fps }
    }

    /// A node reported `frames` encoded frames for `chunk`.
    pub fn update(&self, chunk: u32, frames: u64) {
        if let Some(slot) =
            self.frames.lock().unwrap_or_else(|p| p.into_inner()).get_mut(chunk as usize)
        {
            *slot = frames;
        }
    }

    /// The chunk is verified with `frames` frames.
    pub fn finish(&self, chunk: u32, frames: u64) {
        self.update(chunk, frames);
    }

    /// The chunk failed: its frames will be encoded again.
    pub fn reset(&self, chunk: u32) {
        self.update(chunk, 0);
    }

    /// Where the encode stands now.
    pub fn snapshot(&self) -> Snapshot {
        let frames: u64 = self.frames.lock().unwrap_or_else(|p| p.into_inner()).iter().sum();
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-6);
        let media = if self.fps > 0.0 { frames as f64 / self.fps } else { 0.0 };
        Snapshot {
            frames,
            fps: frames as f64 / elapsed,
            out_time_us: (media * 1e6).round() as i64,
            total_size: None,
            speed: media / elapsed,
        }
    }

    /// One stats line, as ffmpeg formats it (with its four trailing spaces).
    pub fn line(&self) -> String {
        let s = self.snapshot();
        let centis = (s.out_time_us as f64 / 10_000.0).round() as u64;
        let time = format!(
            "{:02}:{:02}:{:02}.{:02}",
            centis / 360_000,
            centis / 6000 % 60,
            centis / 100 % 60,
            centis % 100
        );
        let fps = s.fps;
        let fps_text = if fps < 9.95 { format!("{fps:.1}") } else { format!("{fps:.0}") };
        format!(
            "frame={:5} fps={fps_text:>3} q=-0.0 size=N/A time={time} bitrate=N/A speed={:.3}x    ",
            s.frames, s.speed
        )
    }

    /// Every `period` until aborted: the stats line on stderr (if `line`) and
    /// a `-progress` block (if `progress`). The first report is immediate, as
    /// ffmpeg's is.
    pub fn spawn_reporter(
        self: &Arc<Self>,
        line: bool,
        period: Duration,
        progress: Option<Arc<Mutex<ProgressWriter>>>,
    ) -> tokio::task::JoinHandle<()> {
        let stats = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                if line {
                    let mut err = std::io::stderr().lock();
                    let _ = write!(err, "{}\r", stats.line());
                    let _ = err.flush();
                }
                if let Some(progress) = &progress {
                    let mut writer = progress.lock().unwrap_or_else(|p| p.into_inner());
                    let _ = writer.write(&stats.snapshot(), false);
                }
            }
        })
    }
}
