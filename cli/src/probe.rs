//! What ffprobe says about the input: streams, start time, and the video
//! packets (decode order, with pts and keyframe flags) that chunking needs.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, bail};
use serde::Deserialize;

use crate::local::Tools;

/// One stream of the input.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamInfo {
    /// Absolute index in the input.
    pub index: usize,
    /// `video`, `audio`, `subtitle`, `data` or `attachment`.
    pub codec_type: String,
    /// Decoder name, such as `h264`.
    pub codec_name: String,
    /// Frame width, for video.
    pub width: u32,
    /// Frame height, for video.
    pub height: u32,
    /// Audio channels.
    pub channels: u32,
    /// The stream's time base.
    pub time_base: (i64, i64),
    /// The time base ffmpeg alone reads the stream in: `time_base`, unless
    /// the input was spooled into a container with a finer one.
    pub source_time_base: (i64, i64),
    /// ffprobe's r_frame_rate.
    pub r_frame_rate: (i64, i64),
    /// ffprobe's avg_frame_rate.
    pub avg_frame_rate: (i64, i64),
    /// Cover art rather than a video.
    pub attached_pic: bool,
    /// The default disposition.
    pub default: bool,
    /// Every disposition flag that is set, as ffmpeg's `-disposition` takes them.
    pub disposition: Vec<String>,
    /// Stream tags (language, title...).
    pub tags: BTreeMap<String, String>,
    /// The container's stream id (MPEG-TS PID, as ffprobe prints it: `0x100`).
    pub id: Option<String>,
    /// The stream's first timestamp, in `time_base`, when the container has one.
    pub start_pts: Option<i64>,
    /// Its colour description, for video, in ffmpeg's names (empty where
    /// ffprobe says `unknown` or `unspecified`).
    pub color: proto::v1::Color,
    /// Its field order, for video, in ffmpeg's names (empty where unknown).
    pub field_order: String,
    /// How to show the video, from its container (a phone's portrait video
    /// is turned by 90 degrees): the display matrix, row by row.
    pub display_matrix: Option<[i32; 9]>,
}

/// The input as a whole.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaInfo {
    /// Demuxer names, such as `matroska,webm`.
    pub format_name: String,
    /// The container's start time in microseconds (ffmpeg subtracts it, or
    /// [`MediaInfo::start_used_us`] where the streams it uses start later).
    pub start_time_us: i64,
    /// Duration in seconds.
    pub duration: f64,
    /// Streams in input order.
    pub streams: Vec<StreamInfo>,
}

/// Demuxers whose timestamps may jump (`AVFMT_TS_DISCONT` in ffmpeg 5.1;
/// `m4v` is raw MPEG-4 Part 2 video).
const DISCONTINUOUS: &[&str] =
    &["mpegts", "mpegtsraw", "mpeg", "live_flv", "hls", "ogg", "dhav", "ty", "m4v"];

impl MediaInfo {
    /// Whether the demuxer's timestamps may jump (MPEG-TS and PS, Ogg,
    /// HLS...), which ffmpeg handles apart when it starts and seeks.
    pub fn discontinuous(&self) -> bool {
        self.format_name.split(',').any(|name| DISCONTINUOUS.contains(&name))
    }

    /// The start time ffmpeg 5.1 subtracts from this input's timestamps when
    /// it reads the streams `used` (every output's), in microseconds: the
    /// container's, except that for a demuxer whose timestamps may jump
    /// (MPEG-TS and PS, Ogg, HLS...), and with no input `-ss` (`seeked`),
    /// its first packet moves the start to the earliest start of the used
    /// streams ("Correcting start time", `process_input`). With `-an` on a
    /// transport stream whose audio starts first, the video then starts at 0.
    pub fn start_used_us(&self, used: &[usize], seeked: bool) -> i64 {
        if !self.discontinuous() || seeked {
            return self.start_time_us;
        }
        let earliest = used
            .iter()
            .filter_map(|&i| self.streams.get(i))
            .filter_map(|s| {
                s.start_pts.map(|pts| crate::timeline::rescale(pts, s.time_base, (1, 1_000_000)))
            })
            .min();
        match earliest {
            Some(start) if start > self.start_time_us => start,
            _ => self.start_time_us,
        }
    }
}

/// One video packet, in decode order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Packet {
    /// Presentation timestamp in the stream's time base.
    pub pts: Option<i64>,
    /// Decode timestamp in the stream's time base.
    pub dts: Option<i64>,
    /// Duration in the stream's time base, when the container says.
    pub duration: Option<i64>,
    /// A keyframe: decoding can start here.
    pub key: bool,
    /// Flagged for discarding (`AV_PKT_FLAG_DISCARD`): decoded for the
    /// frames after it, but its own frame is dropped by the decoder (MP4
    /// and MOV edit lists that start after a keyframe, as `-ss` with `-c
    /// copy` writes them). The timeline takes such packets only before
    /// the stream's first kept frame.
    pub discard: bool,
}

#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    streams: Vec<RawStream>,
    format: Option<RawFormat>,
}

#[derive(Deserialize)]
struct RawFormat {
    #[serde(default)]
    format_name: String,
    start_time: Option<String>,
    duration: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawStream {
    index: usize,
    codec_type: String,
    codec_name: String,
    width: u32,
    height: u32,
    channels: u32,
    time_base: String,
    r_frame_rate: String,
    avg_frame_rate: String,
    disposition: BTreeMap<String, i64>,
    tags: BTreeMap<String, String>,
    id: Option<String>,
    start_pts: Option<i64>,
    color_range: String,
    color_space: String,
    color_transfer: String,
    color_primaries: String,
    chroma_location: String,
    field_order: String,
    side_data_list: Vec<RawSideData>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawSideData {
    side_data_type: String,
    displaymatrix: Option<String>,
}

impl RawStream {
    /// The colour description ffprobe found, unknowns left empty.
    ///
    /// ffprobe prints libavutil's names, which the decoder's options mostly
    /// take as they are; where they differ the option's name for the same
    /// value is given (RGB's matrix is `gbr` to one and `rgb` to the other;
    /// the BT.470 transfers are `gamma22` and `gamma28`), and `reserved`,
    /// which names no option value, is left out like `unknown`.
    fn color(&self) -> proto::v1::Color {
        let known = |v: &str| match v {
            "unknown" | "unspecified" | "reserved" => String::new(),
            v => v.to_string(),
        };
        let transfer = match self.color_transfer.as_str() {
            "bt470m" => "gamma22",
            "bt470bg" => "gamma28",
            other => other,
        };
        let space = match self.color_space.as_str() {
            "gbr" => "rgb",
            other => other,
        };
        proto::v1::Color {
            range: known(&self.color_range),
            space: known(space),
            transfer: known(transfer),
            primaries: known(&self.color_primaries),
            chroma_location: known(&self.chroma_location),
        }
    }

    /// The display matrix ffprobe printed, if any: three rows of
    /// `00000000:  a  b  u`.
    fn display_matrix(&self) -> Option<[i32; 9]> {
        let text = self
            .side_data_list
            .iter()
            .find(|d| d.side_data_type == "Display Matrix")?
            .displaymatrix
            .as_deref()?;
        let numbers: Vec<i32> = text
            .lines()
            .filter_map(|line| line.split_once(':'))
            .flat_map(|(_, row)| row.split_whitespace().map(str::parse))
            .collect::<Result<_, _>>()
            .ok()?;
        numbers.try_into().ok()
    }
}

/// Probes streams and format.
pub async fn probe(
    tools: &Tools,
    input: &Path,
    input_args: &[String],
) -> anyhow::Result<MediaInfo> {
    let mut args: Vec<String> = vec!["-v".into(), "error".into()];
    args.extend(ffprobe_input_args(input_args));
    args.extend(["-of", "json", "-show_format", "-show_streams"].map(String::from));
    args.push(input.to_string_lossy().into_owned());
    let out = tools.ffprobe(&args).await?;
    let probe: Probe = serde_json::from_slice(&out).context("parsing ffprobe's JSON")?;
    let format = probe.format.context("ffprobe found no container format")?;
    let streams = probe
        .streams
        .into_iter()
        .map(|s| StreamInfo {
            color: s.color(),
            display_matrix: s.display_matrix(),
            field_order: if s.field_order == "unknown" {
                String::new()
            } else {
                s.field_order.clone()
            },
            index: s.index,
            codec_type: s.codec_type,
            codec_name: s.codec_name,
            width: s.width,
            height: s.height,
            channels: s.channels,
            time_base: rational(&s.time_base),
            source_time_base: rational(&s.time_base),
            r_frame_rate: rational(&s.r_frame_rate),
            avg_frame_rate: rational(&s.avg_frame_rate),
            attached_pic: s.disposition.get("attached_pic") == Some(&1),
            default: s.disposition.get("default") == Some(&1),
            disposition: s
                .disposition
                .iter()
                .filter(|(_, v)| **v == 1)
                .map(|(k, _)| k.clone())
                .collect(),
            tags: s.tags,
            id: s.id,
            start_pts: s.start_pts,
        })
        .collect();
    Ok(MediaInfo {
        format_name: format.format_name,
        start_time_us: format.start_time.as_deref().and_then(seconds_to_us).unwrap_or(0),
        duration: format.duration.and_then(|d| d.parse().ok()).unwrap_or(0.0),
        streams,
    })
}

/// Reads every packet of one stream, in decode order; `stream` is
/// ffprobe's specifier for it (an index, or `v:0` before the probe says
/// which index that is).
pub async fn packets(
    tools: &Tools,
    input: &Path,
    input_args: &[String],
    stream: &str,
) -> anyhow::Result<Vec<Packet>> {
    let mut args: Vec<String> = vec!["-v".into(), "error".into()];
    args.extend(ffprobe_input_args(input_args));
    args.extend(genpts_args(input));
    args.extend(["-select_streams".into(), stream.to_string()]);
    args.extend(
        ["-show_entries", "packet=pts,dts,duration,flags", "-of", "csv=p=0"].map(String::from),
    );
    args.push(input.to_string_lossy().into_owned());
    let out = tools.ffprobe(&args).await?;
    let text = String::from_utf8_lossy(&out);
    let mut packets = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut fields = line.split(',');
        // ffprobe prints the fields in its own order: pts, dts, duration, flags.
        let (Some(pts), Some(dts), Some(duration), Some(flags)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            bail!("unexpected ffprobe packet line: {line}");
        };
        packets.push(Packet {
            pts: pts.parse().ok(),
            dts: dts.parse().ok(),
            duration: duration.parse().ok().filter(|d| *d > 0),
            key: flags.starts_with('K'),
            discard: flags.contains('D'),
        });
    }
    Ok(packets)
}

/// The input options ffprobe needs too, in its spelling: the demuxer (`-f`,
/// and the concat demuxer's `-safe`), how far to probe and whether to
/// generate timestamps, and a raw stream's description, which ffmpeg's
/// `-s`, `-pix_fmt` and `-r` hand to the demuxer as `video_size`,
/// `pixel_format` and `framerate`.
/// Options that only concern decoding (`-vcodec rawvideo`, `-an`) are left out.
pub fn ffprobe_input_args(input_args: &[String]) -> Vec<String> {
    let input_args = rate_over_framerate(input_args);
    let mut out = Vec::new();
    let mut tokens = input_args.iter();
    while let Some(flag) = tokens.next() {
        if matches!(flag.as_str(), "-an" | "-sn" | "-dn") {
            continue;
        }
        let Some(value) = tokens.next() else { break };
        let name = flag.split(':').next().unwrap_or(flag);
        let probe_name = match name {
            "-f" => "-f",
            "-s" | "-video_size" => "-video_size",
            "-pix_fmt" | "-pixel_format" => "-pixel_format",
            "-r" | "-framerate" => "-framerate",
            // The concat demuxer's.
            "-safe" => "-safe",
            // Any demuxer's, as media servers give them (`route`).
            "-analyzeduration" | "-probesize" | "-fflags" => name,
            // The image2 demuxer's (`image_sequence`).
            "-start_number" => "-start_number",
            "-pattern_type" => "-pattern_type",
            _ => continue,
        };
        out.extend([probe_name.to_string(), value.clone()]);
    }
    out
}

/// `input_args` with the input's rate given once, last, as the demuxer's
/// `-framerate`: ffmpeg gives a demuxer named by `-f` the input's `-r`
/// over its `-framerate`, wherever either stands (the last of each counts).
pub fn rate_over_framerate(input_args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let (mut r, mut framerate) = (None, None);
    let mut tokens = input_args.iter();
    while let Some(token) = tokens.next() {
        match token.as_str() {
            "-framerate" => framerate = tokens.next().cloned(),
            t if t == "-r" || t.starts_with("-r:") => r = tokens.next().cloned(),
            _ => out.push(token.clone()),
        }
    }
    if let Some(rate) = r.or(framerate) {
        out.extend(["-framerate".to_string(), rate]);
    }
    out
}

/// AVI stores no presentation timestamps, and an MPEG program stream
/// (`.mpg`, `.vob`) gives none to the frames a packet of the container
/// holds after its first: have the demuxer generate them (the timestamps
/// ffmpeg alone's decoder gives those frames), as every reader of the
/// input must then do.
pub fn genpts_args(input: &Path) -> Vec<String> {
    const EXTENSIONS: &[&str] = &["avi", "mpg", "mpeg", "vob", "m2p", "ps"];
    let extension = input.extension().and_then(|e| e.to_str()).unwrap_or_default();
    let generated = EXTENSIONS.iter().any(|e| extension.eq_ignore_ascii_case(e));
    if generated { vec!["-fflags".into(), "+genpts".into()] } else { Vec::new() }
}

/// `30000/1001` to `(30000, 1001)`; `(0, 1)` when absent.
fn rational(text: &str) -> (i64, i64) {
    text.split_once('/')
        .and_then(|(n, d)| Some((n.parse().ok()?, d.parse().ok()?)))
        .unwrap_or((0, 1))
}

/// `1.400000` to `1400000`, exactly (no floating point).
pub fn seconds_to_us(text: &str) -> Option<i64> {
    crate::args::parse_duration(text)
}

/// What the coordinator reads back from an encoded chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkPackets {
    /// The first presentation timestamp, in microseconds rounded as ffmpeg
    /// rounds (NUT files of one frame have no container start time).
    pub start_time_us: i64,
    /// Video packets in the file: one per encoded frame, so a file cut
    /// short (a full disk on the node) shows here.
    pub count: u64,
    /// The container's own start time is `start_time_us`, as the concat
    /// demuxer will read it: the final mux then needs no `inpoint`, whose
    /// seek fails on NUT files that begin with negative decode times (any
    /// encode with B-frames), while a one-frame NUT file has no start time.
    pub own_start: bool,
}

/// The first timestamp and the packet count of an encoded chunk, from one
/// ffprobe run: this runs on every chunk's way to being verified.
pub async fn chunk_packets(tools: &Tools, path: &Path) -> anyhow::Result<ChunkPackets> {
    let entries = "stream=time_base:packet=pts:format=start_time";
    let text = first_stream_entries(tools, path, entries, "csv=p=1").await?;
    parse_chunk_packets(&text).with_context(|| format!("probing {}", path.display()))
}

/// Parses `packet,PTS`, `stream,TIME_BASE` and `format,START` lines
/// (ffprobe appends side data as further fields; a packet without a
/// timestamp counts but has none).
fn parse_chunk_packets(text: &str) -> anyhow::Result<ChunkPackets> {
    let mut time_base = None;
    let mut container_start = None;
    let mut first: Option<i64> = None;
    let mut count = 0;
    for line in text.lines() {
        let mut fields = line.split(',').map(str::trim);
        match (fields.next(), fields.next()) {
            (Some("packet"), pts) => {
                count += 1;
                if let Some(pts) = pts.and_then(|p| p.parse::<i64>().ok()) {
                    first = Some(first.map_or(pts, |f| f.min(pts)));
                }
            }
            (Some("stream"), Some(tb)) if time_base.is_none() => time_base = Some(rational(tb)),
            (Some("format"), Some(start)) => container_start = seconds_to_us(start),
            _ => {}
        }
    }
    let tb = time_base.filter(|tb| tb.0 > 0 && tb.1 > 0).context("no time base")?;
    let first = first.context("no packet timestamps")?;
    let start_time_us = crate::timeline::rescale(first, tb, (1, 1_000_000));
    Ok(ChunkPackets { start_time_us, count, own_start: container_start == Some(start_time_us) })
}

/// How far ahead of an encoded chunk's first frame ffmpeg takes its first
/// packet to decode, in ticks of its video's time base (rounded up), with
/// that time base. x264's and x265's B-pyramid decodes two frames ahead;
/// the final mux needs this under an output `-ss` (see
/// `assemble::decode_lead_shift`).
pub async fn decode_lead(tools: &Tools, path: &Path) -> anyhow::Result<((i64, i64), i64)> {
    let entries = "stream=time_base,has_b_frames,avg_frame_rate:packet=pts,dts";
    let text = first_stream_entries(tools, path, entries, "compact").await?;
    parse_decode_lead(&text).with_context(|| format!("probing {}", path.display()))
}

/// Parses ffprobe's compact `stream|...` and `packet|pts=..|dts=..` lines
/// (see [`decode_lead`]). A packet's decode time is its own where the
/// container stores one; Matroska stores none for the first packets of a
/// reordered stream, and ffmpeg then starts the stream `has_b_frames`
/// frames (at the average rate) before its first timestamp
/// (`process_input_packet`).
fn parse_decode_lead(text: &str) -> anyhow::Result<((i64, i64), i64)> {
    let (mut time_base, mut delay, mut rate) = (None, 0_i64, (0, 1));
    let (mut first_pts, mut first_dts, mut missing_dts): (Option<i64>, Option<i64>, bool) =
        (None, None, false);
    for line in text.lines() {
        let mut fields = line.split('|');
        let section = fields.next();
        let field =
            |key: &str| line.split('|').find_map(|f| f.strip_prefix(key)?.strip_prefix('='));
        match section {
            Some("packet") => {
                if let Some(pts) = field("pts").and_then(|p| p.parse::<i64>().ok()) {
                    first_pts = Some(first_pts.map_or(pts, |f| f.min(pts)));
                }
                match field("dts").and_then(|d| d.parse::<i64>().ok()) {
                    Some(dts) => first_dts = Some(first_dts.map_or(dts, |f| f.min(dts))),
                    None => missing_dts = true,
                }
            }
            Some("stream") if time_base.is_none() => {
                time_base = field("time_base").map(rational);
                delay = field("has_b_frames").and_then(|d| d.parse().ok()).unwrap_or(0);
                rate = field("avg_frame_rate").map_or((0, 1), rational);
            }
            _ => {}
        }
    }
    let tb = time_base.filter(|tb| tb.0 > 0 && tb.1 > 0).context("no time base")?;
    let pts = first_pts.context("no packet timestamps")?;
    let stored = first_dts.map_or(0, |dts| pts - dts);
    let estimated = if missing_dts && rate.0 > 0 && rate.1 > 0 {
        // `delay` frames at the average rate, in ticks, rounded up: the
        // shift must cover it.
        let num = i128::from(delay) * i128::from(rate.1) * i128::from(tb.1);
        let den = i128::from(rate.0) * i128::from(tb.0);
        ((num + den - 1) / den) as i64
    } else {
        0
    };
    Ok((tb, stored.max(estimated).max(0)))
}

/// The time base of the first stream of a file.
pub async fn time_base(tools: &Tools, path: &Path) -> anyhow::Result<(i64, i64)> {
    let text = first_stream_csv(tools, path, "stream=time_base").await?;
    let tb = rational(first_field(text.lines().next().unwrap_or_default()));
    anyhow::ensure!(tb.0 > 0 && tb.1 > 0, "no time base in '{}'", text.trim());
    Ok(tb)
}

/// The first field of a CSV line: ffprobe appends side data (an MPEG-2
/// stream's CPB properties, a packet's new extradata) as further fields.
fn first_field(line: &str) -> &str {
    line.split(',').next().unwrap_or_default().trim()
}

/// `ffprobe -show_entries ENTRIES` for the first stream of `path`, as CSV.
async fn first_stream_csv(tools: &Tools, path: &Path, entries: &str) -> anyhow::Result<String> {
    first_stream_entries(tools, path, entries, "csv=p=0").await
}

/// `ffprobe -show_entries ENTRIES -of FORMAT` for the first stream of `path`.
async fn first_stream_entries(
    tools: &Tools,
    path: &Path,
    entries: &str,
    format: &str,
) -> anyhow::Result<String> {
    let mut args: Vec<String> =
        ["-v", "error", "-select_streams", "0", "-show_entries", entries, "-of", format]
            .map(String::from)
            .to_vec();
    args.push(path.to_string_lossy().into_owned());
    let out = tools.ffprobe(&args).await?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    /// The names ffprobe prints become the names the decoder's options take.
    #[test]
    fn colour_names_are_the_options_names() {
        let stream = super::RawStream {
            color_range: "pc".into(),
            color_space: "gbr".into(),
            color_transfer: "bt470bg".into(),
            color_primaries: "reserved".into(),
            chroma_location: "unspecified".into(),
            ..Default::default()
        };
        let colour = stream.color();
        assert_eq!(
            [colour.range, colour.space, colour.transfer, colour.primaries, colour.chroma_location],
            ["pc", "rgb", "gamma28", "", ""]
        );
        let stream = super::RawStream { color_transfer: "bt470m".into(), ..Default::default() };
        assert_eq!(stream.color().transfer, "gamma22");
    }

    #[test]
    fn chunk_packets_from_one_probe() {
        let text = "packet,1024\npacket,512,side\npacket,N/A\nstream,1/12800\nformat,N/A\n";
        let got = super::parse_chunk_packets(text).unwrap();
        assert_eq!((got.start_time_us, got.count, got.own_start), (40_000, 3, false));
        let text = "packet,512\nstream,1/12800\nformat,0.040000\n";
        assert!(super::parse_chunk_packets(text).unwrap().own_start);
        assert!(super::parse_chunk_packets("stream,1/12800\n").is_err());
        assert!(super::parse_chunk_packets("packet,5\n").is_err());
    }

    #[test]
    fn decode_lead_is_the_first_pts_less_the_first_dts() {
        let stream = "stream|has_b_frames=2|avg_frame_rate=25/1|time_base=1/12800\n";
        let text = format!("packet|pts=0|dts=-1024\npacket|pts=2048|dts=-512\n{stream}");
        assert_eq!(super::parse_decode_lead(&text).unwrap(), ((1, 12800), 1024));
        // Matroska: no decode times for the first packets.
        let stream = "stream|has_b_frames=2|avg_frame_rate=25/1|time_base=1/1000\n";
        let text =
            format!("packet|pts=0|dts=N/A\npacket|pts=120|dts=N/A\npacket|pts=80|dts=0\n{stream}");
        assert_eq!(super::parse_decode_lead(&text).unwrap(), ((1, 1000), 80));
        let stream = "stream|has_b_frames=2|avg_frame_rate=30000/1001|time_base=1/1000\n";
        let text = format!("packet|pts=0|dts=N/A\n{stream}");
        assert_eq!(super::parse_decode_lead(&text).unwrap(), ((1, 1000), 67));
        let stream = "stream|has_b_frames=0|avg_frame_rate=25/1|time_base=1/1000\n";
        let text = format!("packet|pts=40|dts=40\n{stream}");
        assert_eq!(super::parse_decode_lead(&text).unwrap(), ((1, 1000), 0));
        assert!(super::parse_decode_lead(stream).is_err());
    }

    #[test]
    fn raw_input_options_in_ffprobes_spelling() {
        let args: Vec<String> =
            "-f rawvideo -vcodec rawvideo -s 320x240 -pix_fmt rgb24 -r 24.00 -an -thread_queue_size 8"
                .split(' ')
                .map(String::from)
                .collect();
        assert_eq!(
            super::ffprobe_input_args(&args).join(" "),
            "-f rawvideo -video_size 320x240 -pixel_format rgb24 -framerate 24.00"
        );
        // -r wins over -framerate, before or after it.
        let args: Vec<String> =
            "-r 24 -framerate 10 -f image2pipe".split(' ').map(String::from).collect();
        assert_eq!(super::ffprobe_input_args(&args).join(" "), "-f image2pipe -framerate 24");
    }
}
