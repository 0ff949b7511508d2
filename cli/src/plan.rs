//! Chunks: which frames each one encodes and which packets its input holds.
//!
//! Any frame may start a chunk. A chunk's input is stream-copied from the
//! keyframe at or before its first frame (in both decode and presentation
//! order) up to the last packet any of its frames needs, and the node keeps
//! exactly the chunk's frames by timestamp.

use anyhow::{bail, ensure};

use crate::timeline::Timeline;
use crate::vsync::Shown;

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
    /// Timestamp of the first input frame the node does not keep, unshifted
    /// (the frame after the chunk, or after the fps lookahead frame); `None`
    /// at the end of the input.
    pub next_pts: Option<i64>,
    /// With `-vf fps=rate` or an output rate: the chunk's output timestamps,
    /// in frames of that rate.
    pub grid: Option<std::ops::Range<i64>>,
    /// With `-vf fps=rate`, for every chunk but the last: the slot where the
    /// next chunk begins, before which the node drops the filter's output.
    pub filtered_end: Option<i64>,
    /// With an output rate: per frame of `frames`, what the output shows of
    /// it, as ffmpeg alone decided over the whole input (see `retime`).
    pub frame_map: Option<Vec<Shown>>,
    /// Whole seconds the cut adds to the chunk input's timestamps, and the
    /// node takes off again (`cut_offset_s`): NUT refuses a negative
    /// timestamp, which a discarded lead-in or B-frames before an MP4's
    /// start have. 0 for most chunks.
    pub cut_offset_s: i64,
}

impl Chunk {
    /// Frames the node must encode.
    pub fn frame_count(&self) -> u64 {
        match (&self.frame_map, &self.grid) {
            // Variable timing leaves gaps in the grid: count the copies.
            (Some(shown), _) => shown.iter().map(|s| u64::from(s.copies)).sum(),
            (None, Some(slots)) => (slots.end - slots.start).max(0) as u64,
            (None, None) => self.frames.len() as u64,
        }
    }
}

/// Turns the policy's chunk starts (relative to the selected frames) into chunks.
pub fn chunks(timeline: &Timeline, starts: &[u64]) -> anyhow::Result<Vec<Chunk>> {
    let n = timeline.len() as u64;
    ensure!(!starts.is_empty() && starts[0] == 0, "the plan must start at frame 0");
    ensure!(starts.windows(2).all(|w| w[0] < w[1]), "chunk starts must increase");
    ensure!(*starts.last().unwrap() < n, "a chunk starts past the last frame");
    let base = timeline.selected.start;
    starts
        .iter()
        .enumerate()
        .map(|(i, &start)| {
            let end = starts.get(i + 1).copied().unwrap_or(n);
            chunk(timeline, i as u32, base + start as usize..base + end as usize)
        })
        .collect()
}

/// The chunk `index` of the frames `frames` (indices into [`Timeline::all`]):
/// where its input starts and how many packets it holds.
pub fn chunk(
    timeline: &Timeline,
    index: u32,
    frames: std::ops::Range<usize>,
) -> anyhow::Result<Chunk> {
    ensure!(!frames.is_empty() && frames.end <= timeline.all.len(), "no frames {frames:?}");
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
    let packet_count = max_decode - first_packet + 1;
    Ok(Chunk {
        index,
        frames,
        first_packet,
        packet_count,
        seek_pts,
        first_pts,
        next_pts,
        grid: None,
        filtered_end: None,
        frame_map: None,
        cut_offset_s: cut_offset_s(timeline, first_packet..first_packet + packet_count),
    })
}

/// The whole seconds that make every presentation time of `packets`
/// (decode indices) at least 0 (see [`Chunk::cut_offset_s`]): a whole number of
/// `den` ticks of the time base `num/den`, so whole ticks of it and of the
/// NUT muxer's (which holds the source's ticks), and no timestamp moves by
/// a rounding on the way.
pub fn cut_offset_s(timeline: &Timeline, packets: std::ops::Range<usize>) -> i64 {
    // NUT keeps presentation times alone (a negative decode time, as
    // B-frames give an MP4's first packets, is no bar).
    let earliest = timeline.packets[packets].iter().filter_map(|p| p.pts).min().unwrap_or(0);
    if earliest >= 0 {
        return 0;
    }
    let (num, den) = timeline.time_base;
    let periods = (-earliest + den - 1) / den;
    periods * num
}

/// Chunks for an encode through `-vf fps=rate`, which decides per output
/// slot rather than per frame (see [`Timeline::fps_slot`]). A chunk covers
/// the slots from its first frame's up to the next chunk's; to know where
/// its own last frame ends, it also decodes the next chunk's first frame and
/// drops what the filter makes of it (`filtered_end_pts`). The last chunk
/// ends where the input ends, as one ffmpeg run does. Starts that would get
/// no slot of their own are merged into the chunk before.
pub fn fps_chunks(
    timeline: &Timeline,
    starts: &[u64],
    rate: (i64, i64),
    frame_rate: (i64, i64),
) -> anyhow::Result<Vec<Chunk>> {
    let base = timeline.selected.start;
    let slot = |start: u64| timeline.fps_slot(base + start as usize, rate);
    let end_slot = timeline.fps_end_slot(rate, frame_rate);
    let mut kept: Vec<u64> = Vec::with_capacity(starts.len());
    for &start in starts {
        if kept.last().is_none_or(|&before| slot(start) > slot(before)) && slot(start) < end_slot {
            kept.push(start);
        }
    }
    let mut out = chunks(timeline, &kept)?;
    let last = out.len() - 1;
    for i in 0..out.len() {
        let first = slot(kept[i]);
        let end = kept.get(i + 1).map_or(end_slot, |&next| slot(next));
        ensure!(end > first, "chunk {i} has no frame on the fps grid");
        if i < last {
            let lookahead = out[i].frames.end;
            out[i].next_pts = timeline.all.get(lookahead + 1).map(|f| f.pts);
            let needed = timeline.all[lookahead].decode_index;
            let chunk = &mut out[i];
            let last_packet = (chunk.first_packet + chunk.packet_count - 1).max(needed);
            chunk.packet_count = last_packet - chunk.first_packet + 1;
            chunk.cut_offset_s = cut_offset_s(timeline, chunk.first_packet..last_packet + 1);
            chunk.filtered_end = Some(end);
        }
        out[i].grid = Some(first..end);
    }
    Ok(out)
}

/// Chunks for an output retimed to a rate (`shown` has an entry per selected
/// frame). A chunk starts at a frame the output shows, at the first one at
/// or after each of the policy's starts, so every chunk's output timestamps
/// are its own and run up to the next chunk's first one; frames dropped
/// before a chunk's first shown frame belong to the chunk before.
pub fn rate_chunks(
    timeline: &Timeline,
    starts: &[u64],
    shown: &[Shown],
) -> anyhow::Result<Vec<Chunk>> {
    ensure!(shown.len() == timeline.len(), "the frame map does not cover the frames");
    let Some(first_shown) = shown.iter().position(|s| s.copies > 0) else {
        bail!("the output shows no frame");
    };
    let mut kept: Vec<u64> = vec![0];
    for &start in starts.iter().skip(1) {
        let Some(at) = (start as usize..shown.len()).find(|&f| shown[f].copies > 0) else {
            break;
        };
        if at > first_shown && kept.last().is_some_and(|&before| at as u64 > before) {
            kept.push(at as u64);
        }
    }
    let mut out = chunks(timeline, &kept)?;
    let base = timeline.selected.start;
    let last_shown = shown.iter().rposition(|s| s.copies > 0).unwrap_or(first_shown);
    let end_slot = shown[last_shown].first + i64::from(shown[last_shown].copies);
    for (i, chunk) in out.iter_mut().enumerate() {
        let map = shown[chunk.frames.start - base..chunk.frames.end - base].to_vec();
        let first = map.iter().find(|s| s.copies > 0).map(|s| s.first);
        let first = first.ok_or_else(|| anyhow::anyhow!("chunk {i} shows no frame"))?;
        let end = kept.get(i + 1).map_or(end_slot, |&next| shown[next as usize].first);
        chunk.grid = Some(first..end);
        chunk.frame_map = Some(map);
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
            .map(|&p| Packet {
                pts: Some(p),
                dts: None,
                duration: None,
                key: p == 0 || p == 6,
                ..Default::default()
            })
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
    fn chunks_after_a_discarded_lead_in_decode_it_at_whole_seconds_later() {
        // An MP4 cut after its keyframe (1/12800): I-25600 B-12800 | P512 B256 | I1024 ...
        let tb = (1, 12_800);
        let pts = [-25_600, -12_800, 512, 256, 1024, 1536];
        let packets: Vec<Packet> = pts
            .iter()
            .enumerate()
            .map(|(i, &p)| Packet {
                pts: Some(p),
                key: i == 0 || p == 1024,
                discard: p < 0,
                ..Default::default()
            })
            .collect();
        let at =
            |tb| Timeline::new(packets.clone(), tb, tb, 0, Window::default(), Window::default());
        let t = at(tb).unwrap();
        let chunks = chunks(&t, &[0, 1, 2]).unwrap();
        // Both chunks before the second keyframe start at the discarded one,
        // 2 s before 0: their cuts move it to 0.
        assert_eq!(chunks.iter().map(|c| c.first_packet).collect::<Vec<_>>(), [0, 0, 4]);
        assert_eq!(chunks.iter().map(|c| c.cut_offset_s).collect::<Vec<_>>(), [2, 2, 0]);
        assert_eq!((chunks[0].first_pts, chunks[0].packet_count), (256, 4));
        // A time base of num > 1 moves by whole periods of num seconds.
        assert_eq!(cut_offset_s(&at((1001, 30_000)).unwrap(), 0..1), 1001);
    }

    #[test]
    fn fps_chunks_end_on_the_output_grid() {
        // 30 fps to 24: frames every 1/30 s land on slots round(i * 0.8).
        let pts: Vec<i64> = (0..30).collect();
        let packets = pts
            .iter()
            .map(|&p| Packet {
                pts: Some(p),
                dts: None,
                duration: None,
                key: p % 10 == 0,
                ..Default::default()
            })
            .collect();
        let t = Timeline::new(packets, (1, 30), (1, 30), 0, Window::default(), Window::default())
            .unwrap();
        let chunks = fps_chunks(&t, &[0, 10, 20], (24, 1), (30, 1)).unwrap();
        let grids: Vec<_> = chunks.iter().map(|c| c.grid.clone().unwrap()).collect();
        assert_eq!(grids, vec![0..8, 8..16, 16..24]);
        assert_eq!(chunks.iter().map(Chunk::frame_count).sum::<u64>(), 24);
        assert_eq!(
            chunks.iter().map(|c| c.filtered_end).collect::<Vec<_>>(),
            [Some(8), Some(16), None]
        );
        // Each chunk but the last also decodes the next one's first frame.
        assert_eq!((chunks[0].next_pts, chunks[0].packet_count), (Some(11), 11));
        assert_eq!(chunks[2].next_pts, None);
        assert_eq!(
            chunks.iter().map(|c| c.filtered_end).collect::<Vec<_>>(),
            [Some(8), Some(16), None]
        );
        // 30 to 5: a chunk of five frames can have no slot of its own.
        let merged = fps_chunks(&t, &[0, 5, 6, 20], (5, 1), (30, 1)).unwrap();
        let starts: Vec<_> = merged.iter().map(|c| c.frames.start).collect();
        assert_eq!(starts, vec![0, 5, 20]);
    }

    #[test]
    fn rate_chunks_start_at_shown_frames() {
        let pts: Vec<i64> = (0..12).collect();
        let packets = pts
            .iter()
            .map(|&p| Packet {
                pts: Some(p),
                dts: None,
                duration: None,
                key: p % 4 == 0,
                ..Default::default()
            })
            .collect();
        let t = Timeline::new(packets, (1, 30), (1, 30), 0, Window::default(), Window::default())
            .unwrap();
        // Frame 0 dropped, frames 4 and 5 dropped, frame 8 shown twice.
        let copies = [0, 1, 1, 1, 0, 0, 1, 1, 2, 1, 1, 1];
        let mut slot = 0;
        let shown: Vec<Shown> = copies
            .iter()
            .map(|&c| {
                let s = Shown { first: slot, copies: c };
                slot += i64::from(c);
                s
            })
            .collect();
        let chunks = rate_chunks(&t, &[0, 4, 8], &shown).unwrap();
        let frames: Vec<_> = chunks.iter().map(|c| c.frames.clone()).collect();
        assert_eq!(frames, vec![0..6, 6..8, 8..12]);
        let grids: Vec<_> = chunks.iter().map(|c| c.grid.clone().unwrap()).collect();
        assert_eq!(grids, vec![0..3, 3..5, 5..10]);
        assert_eq!(chunks.iter().map(Chunk::frame_count).sum::<u64>(), 10);
        assert_eq!(chunks[2].frame_map.as_ref().unwrap()[0], Shown { first: 5, copies: 2 });
        // A start on the first shown frame would leave chunk 0 empty.
        let merged = rate_chunks(&t, &[0, 1], &shown).unwrap();
        assert_eq!(merged.len(), 1);
    }

    #[test]
    fn refuses_bad_boundaries() {
        let t = open_gop();
        assert!(chunks(&t, &[1]).is_err());
        assert!(chunks(&t, &[0, 5, 5]).is_err());
        assert!(chunks(&t, &[0, 10]).is_err());
    }
}
