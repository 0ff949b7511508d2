//! ffmpeg's closing line (`print_final_stats` in ffmpeg 5.1), printed at
//! info level after the last stats line: the bytes of every output stream
//! by type, the streams' global headers, and how much the container added:
//!
//! ```text
//! video:62kB audio:4kB subtitle:0kB other streams:0kB global headers:3kB muxing overhead: 7.515168%
//! ```
//!
//! ffmpeg counts the packets as it writes them. For one output, so does the
//! final mux, and its own line is printed (`assemble::Muxed`); this module
//! is for several outputs, whose streams one line sums: it reads them back
//! from the finished outputs, so a muxer that changes packet sizes can move
//! the overhead's last decimals (one or two bytes in Matroska and MP4 here).

use std::path::Path;

use anyhow::bail;

use crate::local::Tools;

/// What the output holds, as `print_final_stats` sums it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sizes {
    /// Packet bytes of video streams.
    pub video: u64,
    /// Packet bytes of audio streams.
    pub audio: u64,
    /// Packet bytes of subtitle streams.
    pub subtitle: u64,
    /// Packet bytes of every other stream.
    pub other: u64,
    /// Codec extradata of every stream (global headers).
    pub extradata: u64,
}

impl Sizes {
    /// Every packet byte.
    pub fn data(&self) -> u64 {
        self.video + self.audio + self.subtitle + self.other
    }
}

/// Reads the sizes back from a finished output with ffprobe.
pub async fn measure(tools: &Tools, output: &Path) -> anyhow::Result<Sizes> {
    let args: Vec<String> = [
        "-v",
        "error",
        "-show_entries",
        "stream=index,codec_type,extradata_size:packet=stream_index,size",
        "-of",
        "csv=p=1",
    ]
    .into_iter()
    .map(String::from)
    .chain(std::iter::once(output.to_string_lossy().into_owned()))
    .collect();
    parse(&String::from_utf8_lossy(&tools.ffprobe(&args).await?))
}

/// Parses ffprobe's `stream,INDEX,TYPE,EXTRADATA` and `packet,INDEX,SIZE`
/// lines (in its field order: stream index, codec type, extradata size).
fn parse(text: &str) -> anyhow::Result<Sizes> {
    let mut types: Vec<(u64, String)> = Vec::new();
    let mut per_stream: Vec<(u64, u64)> = Vec::new();
    let mut sizes = Sizes::default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(',').collect();
        match fields.as_slice() {
            ["stream", index, kind, extradata, ..] => {
                types.push((index.parse()?, kind.to_string()));
                sizes.extradata += extradata.parse::<u64>().unwrap_or(0);
            }
            ["packet", index, size, ..] => {
                let (index, size): (u64, u64) = (index.parse()?, size.parse()?);
                match per_stream.iter_mut().find(|(i, _)| *i == index) {
                    Some((_, total)) => *total += size,
                    None => per_stream.push((index, size)),
                }
            }
            _ => bail!("unexpected ffprobe line: {line}"),
        }
    }
    for (index, bytes) in per_stream {
        let kind = types.iter().find(|(i, _)| *i == index).map(|(_, k)| k.as_str());
        match kind {
            Some("video") => sizes.video += bytes,
            Some("audio") => sizes.audio += bytes,
            Some("subtitle") => sizes.subtitle += bytes,
            _ => sizes.other += bytes,
        }
    }
    Ok(sizes)
}

/// The line itself, for an output of `total` bytes, formatted as ffmpeg's
/// `%1.0fkB` and its single-precision `%f%%`.
pub fn line(sizes: &Sizes, total: u64) -> String {
    let kb = |bytes: u64| format!("{:.0}", bytes as f64 / 1024.0);
    let data = sizes.data();
    let overhead = if data > 0 && total > 0 && total >= data {
        let percent = (100.0 * (total - data) as f64 / data as f64) as f32;
        format!("{:.6}%", f64::from(percent))
    } else {
        "unknown".to_string()
    };
    format!(
        "video:{}kB audio:{}kB subtitle:{}kB other streams:{}kB global headers:{}kB muxing overhead: {overhead}",
        kb(sizes.video),
        kb(sizes.audio),
        kb(sizes.subtitle),
        kb(sizes.other),
        kb(sizes.extradata),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_by_type_as_ffmpeg_prints_them() {
        let probe = "stream,0,video,46\nstream,1,audio,3315\npacket,0,60000\npacket,1,4184\npacket,0,3560\n";
        let sizes = parse(probe).unwrap();
        assert_eq!(
            sizes,
            Sizes { video: 63560, audio: 4184, subtitle: 0, other: 0, extradata: 3361 }
        );
        // ffmpeg 5.1 printed this for a file of 72834 bytes whose packets it
        // counted as 67743 bytes.
        let counted = Sizes { video: 63559, ..sizes };
        assert_eq!(
            line(&counted, 72834),
            "video:62kB audio:4kB subtitle:0kB other streams:0kB global headers:3kB muxing overhead: 7.515168%"
        );
        assert!(line(&Sizes::default(), 0).ends_with("muxing overhead: unknown"));
    }
}
