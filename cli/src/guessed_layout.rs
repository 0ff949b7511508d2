//! The channel layout ffmpeg guesses for audio whose container names none.
//!
//! A mono WAV or a raw `-f s16le -ac 2` input has channels but no layout.
//! ffmpeg 5.1 gives such a stream the default layout for its channel count
//! before it describes the input (`guess_input_channel_layout` in
//! `ffmpeg_opt.c`), warns `Guessed Channel Layout for Input Stream #0.1 :
//! mono`, and its `Input #0` block then reads `mono` where ffprobe, which
//! describes our inputs, reads `1 channels`.

/// ffmpeg 5.1's default layouts (`av_channel_layout_default`) by channel
/// count, checked against `ffmpeg -f s16le -ac N -i ...` for 1 to 8; from 9
/// channels it guesses none.
const DEFAULTS: [&str; 8] = ["mono", "stereo", "2.1", "4.0", "5.0", "5.1", "6.1", "7.1"];

/// ffprobe's description of input `file` as ffmpeg alone prints it: its
/// `Guessed Channel Layout` warnings (one line each, in stream order), and
/// the block with every guessed layout in place of `N channels`. ffmpeg
/// guesses only up to `-guess_layout_max` channels (`max`, unlimited by default).
pub fn apply(described: &str, file: usize, max: Option<u32>) -> (String, String) {
    let mut warnings = String::new();
    let mut block = String::new();
    for line in described.split_inclusive('\n') {
        match guess(line, max) {
            Some((stream, layout, replaced)) => {
                warnings.push_str(&format!(
                    "Guessed Channel Layout for Input Stream #{file}.{stream} : {layout}\n"
                ));
                block.push_str(&replaced);
            }
            None => block.push_str(line),
        }
    }
    (warnings, block)
}

/// For an audio stream line with `N channels`: its stream index, the
/// guessed layout and the line with it.
fn guess(line: &str, max: Option<u32>) -> Option<(u32, &'static str, String)> {
    let rest = line.strip_prefix("  Stream #")?;
    let (_, after_file) = rest.split_once(':')?;
    let digits = after_file.bytes().take_while(u8::is_ascii_digit).count();
    let stream = after_file[..digits].parse().ok()?;
    let (head, tail) = line.split_once(": Audio: ")?;
    let (before, after) = tail.split_once(" channels,")?;
    let (kept, count) = before.rsplit_once(", ")?;
    let count: u32 = count.parse().ok()?;
    if max.is_some_and(|max| count > max) {
        return None;
    }
    let layout = *DEFAULTS.get(usize::try_from(count).ok()?.checked_sub(1)?)?;
    Some((stream, layout, format!("{head}: Audio: {kept}, {layout},{after}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_without_a_layout_reads_as_ffmpeg_describes_it() {
        let described = "Input #1, wav, from 'tone.wav':\n  Duration: 00:00:01.00, bitrate: 706 kb/s\n  Stream #1:0: Audio: pcm_s16le ([1][0][0][0] / 0x0001), 44100 Hz, 1 channels, s16, 705 kb/s\n  Stream #1:1[0x101](eng): Audio: pcm_s16le, 8000 Hz, 6 channels, s16, 768 kb/s\n  Stream #1:2: Audio: aac (LC), 48000 Hz, stereo, fltp\n";
        let (warnings, block) = apply(described, 1, None);
        assert_eq!(
            warnings,
            "Guessed Channel Layout for Input Stream #1.0 : mono\nGuessed Channel Layout for Input Stream #1.1 : 5.1\n"
        );
        assert!(block.contains("0x0001), 44100 Hz, mono, s16, 705 kb/s\n"), "{block}");
        assert!(block.contains("(eng): Audio: pcm_s16le, 8000 Hz, 5.1, s16, 768 kb/s\n"));
        assert!(block.ends_with("48000 Hz, stereo, fltp\n"));
        // -guess_layout_max 2 leaves the 6 channels alone.
        let (warnings, block) = apply(described, 1, Some(2));
        assert_eq!(warnings.lines().count(), 1);
        assert!(block.contains("8000 Hz, 6 channels, s16"));
        // From 9 channels ffmpeg guesses nothing.
        let nine = "  Stream #0:0: Audio: pcm_s16le, 8000 Hz, 9 channels, s16, 1152 kb/s\n";
        assert_eq!(apply(nine, 0, None), (String::new(), nine.to_string()));
    }
}
