//! A damaged source, seen in the log of the ffmpeg that encodes a chunk.
//!
//! ffmpeg alone decodes a damaged stream from its start: where a packet
//! does not decode, the decoder conceals the damage from the frames it
//! decoded before (H.264 copies macroblocks from its last reference), or
//! drops the frame. A chunk's decoder starts at the chunk's keyframe, with
//! other references or none, so a damaged chunk may conceal differently or
//! keep another number of frames: the distributed output would differ from
//! ffmpeg alone's.
//!
//! The only sign is the log, at `-loglevel error`. Not every complaint is
//! damage: a chunk that starts at an open GOP's keyframe decodes frames
//! whose references precede it (`[h264 @ 0x..] mmco: unref short failure`),
//! which the trim drops. So a line is [`Complaint::Damage`] only when a
//! clean chunk never prints it: ffmpeg's own `Error while decoding stream
//! #0:0: Invalid data found ...` (the decoder refused a packet, whose frame
//! is lost) and the
//! decoder's report of broken slice data (H.264's `error while decoding MB`
//! and `concealing N DC, N AC, N MV errors`); any other line of the
//! decoder's is a [`Complaint::Other`], damage only if the chunk then keeps
//! another number of frames than the source has. The node reports damage
//! rather than a chunk (`NodeError::DecodeDamage`), and the client runs the
//! command through ffmpeg alone.

/// ffmpeg 5.1's own line for a packet of the chunk's video (stream #0:0)
/// that its decoder refused as broken data; other errors (out of memory,
/// an unsupported feature, the overlay image's stream) are no damage.
/// (ffmpeg 7.x words it otherwise: `Decoding error: ...`.)
const REFUSED: &str = "Error while decoding stream #0:0: Invalid data found when processing input";

/// What a decoder logs only of broken data, never of a clean chunk's start:
/// (decoder, words in the line).
const DAMAGE_ONLY: &[(&str, &str)] =
    &[("h264", "error while decoding MB"), ("h264", "concealing ")];

/// What a line of a chunk ffmpeg's log says of the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Complaint {
    /// The source is damaged here.
    Damage,
    /// The decoder complained, as it also does at an open GOP's start.
    Other,
}

/// What `line` of the chunk ffmpeg's stderr (at `-loglevel error`) says of
/// the source; `decoder` is the name the source's decoder logs under (empty
/// when unknown: then only ffmpeg's own line counts).
pub fn complaint(line: &str, decoder: &str) -> Option<Complaint> {
    if line.starts_with(REFUSED) {
        return Some(Complaint::Damage);
    }
    let said = line
        .strip_prefix('[')
        .and_then(|rest| rest.strip_prefix(decoder))
        .and_then(|rest| rest.strip_prefix(" @ 0x"))
        .filter(|_| !decoder.is_empty())?;
    let damage = DAMAGE_ONLY.iter().any(|(name, words)| *name == decoder && said.contains(words));
    Some(if damage { Complaint::Damage } else { Complaint::Other })
}

/// Whether `name` can be a decoder's name in a spec: what ffmpeg names
/// codecs with, so a hostile spec cannot make the node match anything else.
pub fn valid_name(name: &str) -> bool {
    name.len() <= 32 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_data_and_refused_packets_are_damage() {
        let mb = "[h264 @ 0x558a664cc0c0] error while decoding MB 17 20, bytestream -22";
        assert_eq!(complaint(mb, "h264"), Some(Complaint::Damage));
        let hid = "[h264 @ 0x55] concealing 120 DC, 120 AC, 120 MV errors in P frame";
        assert_eq!(complaint(hid, "h264"), Some(Complaint::Damage));
        let refused = "Error while decoding stream #0:0: Invalid data found when processing input";
        assert_eq!(complaint(refused, ""), Some(Complaint::Damage));
        assert_eq!(complaint(refused, "hevc"), Some(Complaint::Damage));
        // Not broken data, or not the chunk's video.
        let memory = "Error while decoding stream #0:0: Cannot allocate memory";
        assert_eq!(complaint(memory, "h264"), None);
        let image = "Error while decoding stream #1:0: Invalid data found when processing input";
        assert_eq!(complaint(image, "h264"), None);
    }

    #[test]
    fn an_open_gops_start_is_a_complaint_only() {
        let mmco = "[h264 @ 0x5584655f2bc0] mmco: unref short failure";
        assert_eq!(complaint(mmco, "h264"), Some(Complaint::Other));
        let intra = "[h264 @ 0x55] top block unavailable for requested intra mode";
        assert_eq!(complaint(intra, "h264"), Some(Complaint::Other));
        // Another decoder's words are not H.264's.
        assert_eq!(complaint("[hevc @ 0x55] concealing 1 DC", "hevc"), Some(Complaint::Other));
    }

    #[test]
    fn other_lines_are_nothing() {
        // The encoder, the muxer, a decoder of another name, no decoder named.
        let none = |line: &str, decoder: &str| complaint(line, decoder).is_none();
        assert!(none("[libx264 @ 0x55] broken ffmpeg default settings", "h264"));
        assert!(none("[nut @ 0x55] Multiple keyframes with same PTS", "h264"));
        assert!(none("[h264_v4l2m2m @ 0x55] error", "h264"));
        assert!(none("[h264 @ 0x55] error while decoding MB 1 2", ""));
        assert!(none("x265 [error]: something", "hevc"));
    }

    #[test]
    fn names_are_codec_names() {
        assert!(valid_name("mpeg2video") && valid_name("libdav1d") && valid_name(""));
        assert!(!valid_name("h264 @ 0x") && !valid_name("a]") && !valid_name(&"a".repeat(33)));
    }
}
