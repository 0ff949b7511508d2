//! Parser for ffmpeg's `-progress` output: `key=value` lines in blocks that end
//! with `progress=continue` or `progress=end`.

/// One complete progress block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProgressBlock {
    /// Frames written by the encoder so far.
    pub frame: u64,
    /// Frames duplicated by frame-rate synchronisation.
    pub dup_frames: u64,
    /// Frames dropped by frame-rate synchronisation.
    pub drop_frames: u64,
    /// Output timestamp reached, in microseconds.
    pub out_time_us: i64,
    /// Bytes written so far.
    pub total_size: u64,
    /// True for the last block.
    pub end: bool,
}

impl ProgressBlock {
    /// Frames that reached the encoder's input: those the trim kept.
    pub fn frames_in(&self) -> u64 {
        (self.frame + self.drop_frames).saturating_sub(self.dup_frames)
    }
}

/// Accumulates lines until a block is complete.
#[derive(Debug, Default)]
pub struct ProgressParser {
    current: ProgressBlock,
}

impl ProgressParser {
    /// Feeds one line; returns a block when the line ends one.
    pub fn line(&mut self, line: &str) -> Option<ProgressBlock> {
        let (key, value) = line.trim().split_once('=')?;
        let value = value.trim();
        match key {
            "frame" => self.current.frame = value.parse().unwrap_or(0),
            "dup_frames" => self.current.dup_frames = value.parse().unwrap_or(0),
            "drop_frames" => self.current.drop_frames = value.parse().unwrap_or(0),
            "out_time_us" => self.current.out_time_us = value.parse().unwrap_or(0),
            "total_size" => self.current.total_size = value.parse().unwrap_or(0),
            "progress" => {
                self.current.end = value == "end";
                return Some(std::mem::take(&mut self.current));
            }
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_blocks() {
        let mut p = ProgressParser::default();
        let text = "frame=10\nfps=0.0\ndup_frames=1\ndrop_frames=3\nout_time_us=400000\ntotal_size=48\nprogress=continue\nframe=12\nprogress=end\n";
        let blocks: Vec<_> = text.lines().filter_map(|l| p.line(l)).collect();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].frames_in(), 12);
        assert_eq!(blocks[0].out_time_us, 400_000);
        assert!(blocks[1].end);
        assert_eq!(blocks[1].frame, 12);
    }
}
