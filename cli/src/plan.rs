//! Chunks: which frames each one encodes and which packets its input holds.
//!
//! Any frame may start a chunk. A chunk's input is stream-copied from the
//! keyframe at or before its first frame (in both decode and presentation
//! order) up to the last packet any of its frames needs, and the node keeps
//! exactly the chunk's frames by timestamp.

use anyhow::{bail, ensure};

use crate::timeline::Timeline;

/// One chunk of the encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Position in the output.
    pub index: u32,
    /// Indices into [`Timeline::all`] of the frames to encode.
    pub frames: std::ops::Range<usize>,
    /// Decode index of the packet the chunk input starts with (a keyframe).
    pub first_packet: usize,
    /// Packets in the chunk input.
    pub packet_count: usize,
    /// Presentation timestamp of the first packet, unshifted.
    pub seek_pts: i64,
    /// Timestamp of the chunk's first frame, in the source time base, unshifted.
    pub first_pts: i64,
    /// Timestamp of the frame after the chunk, unshifted; `None` at the end of the input.
    pub next_pts: Option<i64>,
}

impl Chunk {
    /// Frames the node must keep.
    pub fn frame_count(&self) -> u64 {
        self.frames.len() as u64
    }
}

/// Turns the policy's chunk starts (relative to the selected frames) into chunks.
pub fn chunks(timeline: &Timeline, starts: &[u64]) -> anyhow::Result<Vec<Chunk>> {
    let n = timeline.len() as u64;
    ensure!(!starts.is_empty() && starts[0] == 0, "the plan must start at frame 0");
    ensure!(starts.windows(2).all(|w| w[0] < w[1]), "chunk starts must increase");
    ensure!(*starts.last().unwrap() < n, "a chunk starts past the last frame");
    let base = timeline.selected.start;
    let mut out = Vec::with_capacity(starts.len());
    for (i, &start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(n);
        let frames = base + start as usize..base + end as usize;
        let slice = &timeline.all[frames.clone()];
        let min_decode = slice.iter().map(|f| f.decode_index).min().unwrap_or(0);
        let max_decode = slice.iter().map(|f| f.decode_index).max().unwrap_or(0);
        let first_pts = slice[0].pts;
        // The latest keyframe from which decoding reaches every frame of the chunk.
        let Some(first_packet) = (0..=min_decode).rev().find(|&d| {
            let p = &timeline.packets[d];
            p.key && p.pts.or(p.dts).is_some_and(|pts| pts <= first_pts)
        }) else {
            bail!("no keyframe precedes frame {} of the input", frames.start);
        };
        let seek_pts =
            timeline.packets[first_packet].pts.or(timeline.packets[first_packet].dts).unwrap_or(0);
        let next_pts = timeline.all.get(frames.end).map(|f| f.pts);
        out.push(Chunk {
            index: i as u32,
            frames,
            first_packet,
            packet_count: max_decode - first_packet + 1,
            seek_pts,
            first_pts,
            next_pts,
        });
    }
    Ok(out)
}

/// Rewrites a source timestamp into the chunk input's time base (which the
/// NUT muxer may choose differently) and shifts it by `offset_us`, as ffmpeg's
/// `-itsoffset` does. Fails if the timestamp is not exactly representable.
pub fn to_chunk_time(
    pts: i64,
    source_tb: (i64, i64),
    chunk_tb: (i64, i64),
    offset_us: i64,
) -> anyhow::Result<i64> {
    let num = i128::from(pts) * i128::from(source_tb.0) * i128::from(chunk_tb.1);
    let den = i128::from(source_tb.1) * i128::from(chunk_tb.0);
    ensure!(
        num % den == 0,
        "timestamp {pts} in {source_tb:?} is not exact in the chunk time base {chunk_tb:?}"
    );
    let offset = crate::timeline::rescale(offset_us, (1, 1_000_000), chunk_tb);
    Ok((num / den) as i64 + offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::Window;
    use crate::probe::Packet;

    /// Open GOP: I0 P3 B1 B2 | I6 B4 B5 P9 B7 B8 (decode order), keyframes I0 and I6.
    fn open_gop() -> Timeline {
        let pts = [0, 3, 1, 2, 6, 4, 5, 9, 7, 8];
        let packets = pts
            .iter()
            .map(|&p| Packet { pts: Some(p), dts: None, key: p == 0 || p == 6 })
            .collect();
        Timeline::new(packets, (1, 25), (1, 25), 0, Window::default(), Window::default()).unwrap()
    }

    #[test]
    fn chunk_starting_at_a_leading_picture_decodes_from_the_previous_gop() {
        let t = open_gop();
        let chunks = chunks(&t, &[0, 4, 6]).unwrap();
        // Frames 4 and 5 are leading pictures of I6: their references start at I0.
        assert_eq!(chunks[1].first_packet, 0);
        assert_eq!(chunks[1].packet_count, 7);
        assert_eq!((chunks[1].first_pts, chunks[1].next_pts), (4, Some(6)));
        // From I6 on, decoding starts at I6 and runs to the last packet, B8.
        assert_eq!(chunks[2].first_packet, 4);
        assert_eq!(chunks[2].packet_count, 6);
        assert_eq!(chunks[2].next_pts, None);
        assert_eq!(chunks.iter().map(Chunk::frame_count).sum::<u64>(), 10);
    }

    #[test]
    fn refuses_bad_boundaries() {
        let t = open_gop();
        assert!(chunks(&t, &[1]).is_err());
        assert!(chunks(&t, &[0, 5, 5]).is_err());
        assert!(chunks(&t, &[0, 10]).is_err());
    }
}
