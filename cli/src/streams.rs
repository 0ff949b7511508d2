//! Which input streams the output gets, in which order, as ffmpeg would pick
//! them: the user's `-map`s, or ffmpeg's automatic choice of the best video,
//! the best audio and the first subtitle stream.

use crate::args::{
    MapSource, MediaType, StreamSpec, parse_map, parse_option_token, parse_stream_spec,
};
use crate::job::EncodeJob;
use crate::probe::{MediaInfo, StreamInfo};

/// Where an output stream comes from in the final mux.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The distributed video.
    Video,
    /// Stream `n` of the input, copied or encoded once by the final mux.
    Input(usize),
    /// Stream `stream` of input `file` (1 or more), copied or encoded once
    /// by the final mux.
    Extra {
        /// The input's index on the command line.
        file: usize,
        /// The stream's index in it.
        stream: usize,
    },
    /// The output of `-filter_complex` audio chain `chain`
    /// (`EncodeJob::audio_chains`), which the final mux runs and encodes.
    Filtered {
        /// The chain's index.
        chain: usize,
    },
}

/// A stream an audio chain reads.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainInput {
    /// The input's index on the command line.
    pub file: usize,
    /// The stream's index in it.
    pub stream: usize,
    /// Its probe.
    pub info: StreamInfo,
}

/// The output's streams, in order, and the video stream that is distributed.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// Index of the video stream in the input.
    pub video: usize,
    /// Output streams in order.
    pub streams: Vec<Source>,
    /// The probed streams the [`Source::Extra`]s name, in output order.
    pub extra_streams: Vec<StreamInfo>,
    /// The final mux's input index of the concatenated chunks: after the
    /// command's own inputs, so that their numbers stay the user's.
    pub chunks_input: usize,
    /// The streams the job's audio chains read, by chain, in the order of
    /// the chain's input labels (never none: the first stands for the
    /// chain's output wherever a probe of it is needed).
    pub chain_inputs: Vec<Vec<ChainInput>>,
    /// The labels of the job's audio chains' outputs, by chain.
    pub chain_labels: Vec<String>,
}

/// One stream `-map` picks: an input's, or an audio chain's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pick {
    Stream(usize, usize),
    Chain(usize),
}

/// Selects the streams; `extras` are the probes of the inputs after the
/// first (input 1 first). The error is why the command cannot be
/// distributed.
pub fn select(
    job: &EncodeJob,
    media: &MediaInfo,
    extras: &[MediaInfo],
) -> Result<Selection, String> {
    let chain_inputs = job
        .audio_chains
        .iter()
        .map(|chain| chain.inputs.iter().map(|map| chain_input(map, media, extras)).collect())
        .collect::<Result<Vec<Vec<_>>, _>>()?;
    let picks: Vec<Pick> = if job.maps.is_empty() {
        automatic(job, media, extras).into_iter().map(|(file, i)| Pick::Stream(file, i)).collect()
    } else {
        mapped(job, media, extras)?
    };
    let info = |(file, i): (usize, usize)| -> &StreamInfo {
        if file == 0 { &media.streams[i] } else { &extras[file - 1].streams[i] }
    };
    let picks: Vec<Pick> = picks
        .into_iter()
        .filter(|pick| match *pick {
            Pick::Stream(file, i) => {
                let kind = info((file, i)).codec_type.as_str();
                !(job.disable.audio && kind == "audio"
                    || job.disable.subtitles && kind == "subtitle"
                    || job.disable.data && kind == "data")
            }
            Pick::Chain(_) => true,
        })
        .collect();
    let picked: Vec<(usize, usize)> = picks
        .iter()
        .filter_map(|p| match *p {
            Pick::Stream(file, i) => Some((file, i)),
            Pick::Chain(_) => None,
        })
        .collect();
    if let Some(&(file, i)) =
        picked.iter().find(|&&(f, i)| f > 0 && info((f, i)).codec_type == "video")
    {
        return Err(format!("video stream #{file}:{i} is from another input than the one encoded"));
    }
    let videos: Vec<usize> = picked
        .iter()
        .filter(|&&(file, i)| file == 0 && media.streams[i].codec_type == "video")
        .map(|&(_, i)| i)
        .collect();
    let video = match videos.as_slice() {
        [v] => *v,
        [] => return Err("no video stream to encode".into()),
        _ => return Err("more than one video stream to encode".into()),
    };
    if media.streams[video].attached_pic {
        return Err("the video stream is cover art".into());
    }
    let streams: Vec<Source> = picks
        .iter()
        .map(|pick| match *pick {
            Pick::Stream(0, i) if i == video => Source::Video,
            Pick::Stream(0, i) => Source::Input(i),
            Pick::Stream(file, i) => Source::Extra { file, stream: i },
            Pick::Chain(chain) => Source::Filtered { chain },
        })
        .collect();
    let extra_streams =
        picked.iter().filter(|&&(file, _)| file > 0).map(|&at| info(at).clone()).collect();
    let selection = Selection {
        video,
        streams,
        extra_streams,
        chunks_input: job.extra_inputs.len() + 1,
        chain_inputs,
        chain_labels: job.audio_chains.iter().map(|c| c.label.clone()).collect(),
    };
    if let Some(n) = job.video_output_index
        && selection.streams.get(n) != Some(&Source::Video)
    {
        return Err(format!(
            "options for the video name output stream #{n}, which is not the video"
        ));
    }
    for (j, source) in selection.streams.iter().enumerate() {
        let stream = selection.stream(source, media);
        let copied = encoder_for(job, stream, selection.position(j, media));
        if matches!(source, Source::Filtered { .. }) && copied.as_deref() == Some("copy") {
            // "Filtering and streamcopy cannot be used together": ffmpeg's to say.
            return Err("-c copy on a -filter_complex audio output".into());
        }
    }
    Ok(selection)
}

/// The stream an audio chain's input (`1:a:0`) reads.
fn chain_input(map: &str, media: &MediaInfo, extras: &[MediaInfo]) -> Result<ChainInput, String> {
    let not_found = || format!("-filter_complex reads [{map}], which names no stream");
    let MapSource::Streams { file, spec } = parse_map(map).map_err(|e| e.to_string())?.source
    else {
        return Err(not_found());
    };
    let file = file as usize;
    let input = match file {
        0 => media,
        k => extras.get(k - 1).ok_or_else(not_found)?,
    };
    let info = input
        .streams
        .iter()
        .find(|s| spec_matches(&spec, s, input) == Some(true))
        .ok_or_else(not_found)?;
    Ok(ChainInput { file, stream: info.index, info: info.clone() })
}

/// ffmpeg's automatic selection (ffmpeg_opt.c, open_output_file, 5.1), as
/// (input, stream index) pairs. For video and for audio, each input's best
/// stream by its score (video: width times height, audio: channels; 5000000
/// more for the default disposition; cover art scores 1); then, across the
/// inputs, the best of those scores without the default's bonus, the
/// earlier input on a tie, and only above 0. ffmpeg takes the bonus off a
/// video's score unless the input's last stream is cover art (it tests the
/// loop's last stream, not the chosen one). Subtitles: the first stream of
/// any input the output can take.
fn automatic(job: &EncodeJob, media: &MediaInfo, extras: &[MediaInfo]) -> Vec<(usize, usize)> {
    let files: Vec<&MediaInfo> = std::iter::once(media).chain(extras).collect();
    let bonus = |s: &StreamInfo| if s.default { 5_000_000 } else { 0 };
    let best =
        |kind: &str, score: &dyn Fn(&StreamInfo) -> i64, unbonused: &dyn Fn(&MediaInfo) -> bool| {
            let mut best: Option<(i64, (usize, usize))> = None;
            for (file, info) in files.iter().enumerate() {
                let mut file_best: Option<(i64, &StreamInfo)> = None;
                for s in info.streams.iter().filter(|s| s.codec_type == kind) {
                    let value = score(s);
                    if value > file_best.map_or(0, |(b, _)| b) {
                        file_best = Some((value, s));
                    }
                }
                if let Some((mut value, s)) = file_best {
                    if unbonused(info) {
                        value -= bonus(s);
                    }
                    if value > best.map_or(0, |(b, _)| b) {
                        best = Some((value, (file, s.index)));
                    }
                }
            }
            best.map(|(_, pick)| pick)
        };
    let mut out = Vec::new();
    match &job.graph {
        // A graph's unlabeled output replaces the automatic video, first.
        Some(graph) => out.extend(graph_input(&graph.input, media).map(|i| (0, i))),
        None => out.extend(best(
            "video",
            &|s| {
                if s.attached_pic { 1 } else { i64::from(s.width) * i64::from(s.height) + bonus(s) }
            },
            &|info| !info.streams.last().is_some_and(|s| s.attached_pic),
        )),
    }
    out.extend(best("audio", &|s| i64::from(s.channels) + bonus(s), &|_| true));
    let subtitle = files.iter().enumerate().find_map(|(file, info)| {
        let fits =
            |s: &&StreamInfo| s.codec_type == "subtitle" && subtitle_fits(job, &s.codec_name);
        info.streams.iter().find(fits).map(|s| (file, s.index))
    });
    out.extend(subtitle);
    out
}

/// The stream of the first input that a graph's input `map` (`0:v:0`) reads.
fn graph_input(map: &str, media: &MediaInfo) -> Option<usize> {
    let MapSource::Streams { spec, .. } = parse_map(map).ok()?.source else { return None };
    media.streams.iter().find(|s| spec_matches(&spec, s, media) == Some(true)).map(|s| s.index)
}

/// Text subtitle codecs (AV_CODEC_PROP_TEXT_SUB), as ffprobe names them.
const TEXT_SUBTITLES: &[&str] = &[
    "subrip",
    "srt",
    "ass",
    "ssa",
    "webvtt",
    "mov_text",
    "text",
    "microdvd",
    "subviewer",
    "subviewer1",
    "jacosub",
    "realtext",
    "sami",
    "stl",
    "pjs",
    "mpl2",
    "vplayer",
    "eia_608",
    "ttml",
    "hdmv_text_subtitle",
];
/// Bitmap subtitle codecs (AV_CODEC_PROP_BITMAP_SUB).
const BITMAP_SUBTITLES: &[&str] =
    &["dvd_subtitle", "dvb_subtitle", "hdmv_pgs_subtitle", "xsub", "arib_caption"];

/// Whether ffmpeg 5.1 picks this subtitle stream automatically
/// (`open_output_file`): any stream when the user names a subtitle encoder
/// with the specifier `s` exactly (`-c:s`, `-codec:s`, `-scodec`: ffmpeg
/// matches the type's options by that string, so neither `-c copy` nor
/// `-c:s:0` counts, measured); otherwise the container needs a default
/// subtitle encoder (ass for Matroska, webvtt for WebM and HLS, both text;
/// MP4, MOV, NUT and MPEG-TS have none in 5.1, `ffmpeg -h muxer=mpegts`),
/// and the stream must be of the same kind, text, or of neither (teletext).
fn subtitle_fits(job: &EncodeJob, codec: &str) -> bool {
    let named = job.mux_args.iter().any(|a| matches!(a.as_str(), "-c:s" | "-codec:s" | "-scodec"));
    let text = TEXT_SUBTITLES.contains(&codec);
    let bitmap = BITMAP_SUBTITLES.contains(&codec);
    named
        || match job.output_format.as_str() {
            "matroska" | "webm" | "hls" => text || !bitmap,
            _ => false,
        }
}

/// Where a stream sits in the output, for specifiers such as `-c:a:1`,
/// which ffmpeg matches against output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputPosition {
    /// Index among all the output's streams.
    pub index: usize,
    /// Index among the output's streams of the same type.
    pub of_type: usize,
}

impl Selection {
    /// The position of output stream `j` (its type read from `media`).
    pub fn position(&self, j: usize, media: &MediaInfo) -> OutputPosition {
        let kind = |source: &Source| self.stream(source, media).codec_type.as_str();
        let of_type =
            self.streams[..j].iter().filter(|s| kind(s) == kind(&self.streams[j])).count();
        OutputPosition { index: j, of_type }
    }

    /// The probed stream behind output stream `source`; `media` is the
    /// first input's probe.
    pub fn stream<'a>(&'a self, source: &Source, media: &'a MediaInfo) -> &'a StreamInfo {
        match *source {
            Source::Video => &media.streams[self.video],
            Source::Input(i) => &media.streams[i],
            Source::Extra { .. } => {
                let k = self
                    .streams
                    .iter()
                    .take_while(|s| *s != source)
                    .filter(|s| matches!(s, Source::Extra { .. }))
                    .count();
                &self.extra_streams[k]
            }
            // The chain's first input: an audio stream, as its output is.
            Source::Filtered { chain } => &self.chain_inputs[chain][0].info,
        }
    }

    /// Output stream `source` as the final mux maps it, whose inputs are
    /// the command's own, in order, then the concatenated chunks.
    pub fn map_arg(&self, source: &Source) -> String {
        match *source {
            Source::Video => format!("{}:0", self.chunks_input),
            Source::Input(i) => format!("0:{i}"),
            Source::Extra { file, stream } => format!("{file}:{stream}"),
            Source::Filtered { chain } => format!("[{}]", self.chain_labels[chain]),
        }
    }

    /// The index of the input file holding output stream `source`, and the
    /// stream's index in it, on the command line's numbering.
    pub fn origin(&self, source: &Source) -> (usize, usize) {
        match *source {
            Source::Video => (0, self.video),
            Source::Input(i) => (0, i),
            Source::Extra { file, stream } => (file, stream),
            Source::Filtered { chain } => {
                (self.chain_inputs[chain][0].file, self.chain_inputs[chain][0].stream)
            }
        }
    }
}

/// The video encoder ffmpeg 5.1 picks for a container (`format`) when the
/// command names none: the muxer's default codec (`ffmpeg -h muxer=mp4`:
/// h264) and that codec's first encoder in Debian's build (libx264). Only
/// the distributable ones; FLV's `flv` is not. A build whose first encoder
/// differs is caught by the trial (`EncodeJob::default_encoder`).
pub fn default_video_encoder(format: &str) -> Option<&'static str> {
    match format {
        "matroska" | "mp4" | "mov" | "hls" | "dash" => Some("libx264"),
        "webm" => Some("libvpx-vp9"),
        "avi" | "nut" => Some("mpeg4"),
        "mpegts" => Some("mpeg2video"),
        _ => None,
    }
}

/// The encoder the final mux uses for a stream that is not the distributed
/// video, at `position` in the output: the last `-c`/`-codec`/`-acodec`/
/// `-scodec` whose specifier selects it (`-c:a`, `-c:a:1`, `-c:2`), else the
/// muxer's default (ffmpeg 5.1's choices); `copy` for a copy, `None` when
/// unknown.
pub fn encoder_for(
    job: &EncodeJob,
    stream: &StreamInfo,
    position: OutputPosition,
) -> Option<String> {
    let kind = match stream.codec_type.as_str() {
        "audio" => MediaType::Audio,
        "subtitle" => MediaType::Subtitle,
        "data" => MediaType::Data,
        "attachment" => MediaType::Attachment,
        _ => MediaType::Video,
    };
    let mut chosen = None;
    for pair in job.mux_args.windows(2) {
        let Some((name, spec)) = parse_option_token(&pair[0]) else { continue };
        let applies = match name {
            "acodec" => kind == MediaType::Audio,
            "scodec" => kind == MediaType::Subtitle,
            "c" | "codec" => match spec.map(parse_stream_spec) {
                None => true,
                Some(Ok(StreamSpec::Index(n))) => n as usize == position.index,
                Some(Ok(StreamSpec::Type(t, Some(rest)))) => {
                    t == kind
                        && matches!(*rest, StreamSpec::Index(n) if n as usize == position.of_type)
                }
                Some(Ok(spec)) => spec.media_type().is_none_or(|t| t == kind),
                Some(Err(_)) => false,
            },
            _ => false,
        };
        if applies {
            chosen = Some(pair[1].clone());
        }
    }
    chosen.or_else(|| {
        // The segment muxer's defaults are its segments' container's.
        let default = match (crate::segmented::codec_format(job).as_str(), kind) {
            ("mp4" | "mov", MediaType::Audio) => "aac",
            ("mp4" | "mov", MediaType::Subtitle) => "mov_text",
            ("webm", MediaType::Audio) => "libopus",
            ("webm", MediaType::Subtitle) => "webvtt",
            ("matroska" | "nut", MediaType::Audio) => "libvorbis",
            ("matroska", MediaType::Subtitle) => "ass",
            ("mpegts", MediaType::Audio) => "mp2",
            ("hls" | "dash", MediaType::Audio) => "aac",
            ("hls", MediaType::Subtitle) => "webvtt",
            ("flv", MediaType::Audio) => "libmp3lame",
            ("mpegts", MediaType::Subtitle) => "dvbsub",
            _ => return None,
        };
        Some(default.to_string())
    })
}

/// The user's maps, resolved against the inputs' streams, as (input,
/// stream) pairs.
fn mapped(job: &EncodeJob, media: &MediaInfo, extras: &[MediaInfo]) -> Result<Vec<Pick>, String> {
    let mut out: Vec<Pick> = Vec::new();
    for text in &job.maps {
        let not_distributable = || format!("-map {text} is not distributable");
        let map = parse_map(text).map_err(|e| e.to_string())?;
        if let MapSource::Label(label) = &map.source
            && let Some(k) = job.audio_chains.iter().position(|c| &c.label == label)
        {
            out.push(Pick::Chain(k));
            continue;
        }
        let MapSource::Streams { file, spec } = &map.source else {
            return Err(not_distributable());
        };
        let file = *file as usize;
        let input = match file {
            0 => media,
            k => extras.get(k - 1).ok_or_else(|| format!("-map {text} names no input"))?,
        };
        let mut matches = Vec::new();
        for stream in &input.streams {
            match spec_matches(spec, stream, input) {
                Some(true) => matches.push(Pick::Stream(file, stream.index)),
                Some(false) => {}
                None => return Err(not_distributable()),
            }
        }
        if map.negative && out.is_empty() {
            // Nothing mapped yet for it to remove: ffmpeg reports the map.
            return Err(format!("-map {text} comes before any stream is mapped"));
        } else if map.negative {
            out.retain(|i| !matches.contains(i));
        } else if matches.is_empty() && !map.optional {
            return Err(format!("-map {text} matches no streams"));
        } else {
            out.extend(matches);
        }
    }
    Ok(out)
}

/// Whether `spec` matches `stream`, as libavformat's
/// `avformat_match_stream_specifier` decides; `None` for what the probe does
/// not tell (programs).
fn spec_matches(spec: &StreamSpec, stream: &StreamInfo, media: &MediaInfo) -> Option<bool> {
    spec_matches_among(spec, stream, &media.streams.iter().collect::<Vec<_>>())
}

/// `candidates` are the streams the specifier's prefix kept, for indexes.
fn spec_matches_among(
    spec: &StreamSpec,
    stream: &StreamInfo,
    candidates: &[&StreamInfo],
) -> Option<bool> {
    let position = |kept: &[&StreamInfo]| kept.iter().position(|s| s.index == stream.index);
    match spec {
        StreamSpec::All => Some(true),
        StreamSpec::Index(n) => Some(position(candidates) == Some(*n as usize)),
        StreamSpec::Type(kind, rest) => {
            let of_kind = |s: &StreamInfo| {
                let name = match kind {
                    MediaType::Video | MediaType::VideoNoPictures => "video",
                    MediaType::Audio => "audio",
                    MediaType::Subtitle => "subtitle",
                    MediaType::Data => "data",
                    MediaType::Attachment => "attachment",
                };
                s.codec_type == name && !(*kind == MediaType::VideoNoPictures && s.attached_pic)
            };
            if !of_kind(stream) {
                return Some(false);
            }
            let kept: Vec<&StreamInfo> =
                candidates.iter().copied().filter(|s| of_kind(s)).collect();
            match rest {
                None => Some(true),
                Some(rest) => spec_matches_among(rest, stream, &kept),
            }
        }
        StreamSpec::Id(id) => {
            let wanted = parse_id(id)?;
            Some(stream.id.as_deref().and_then(parse_id) == Some(wanted))
        }
        // Keys match whatever their case (av_dict_get), values exactly.
        StreamSpec::Metadata(key, value) => {
            let tag = stream.tags.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v);
            Some(tag.is_some_and(|tag| value.as_ref().is_none_or(|v| v == tag)))
        }
        StreamSpec::Usable => Some(!stream.codec_name.is_empty()),
        StreamSpec::Disposition(flags, rest) => {
            let has_all = |s: &StreamInfo| flags.iter().all(|f| s.disposition.contains(f));
            if !has_all(stream) {
                return Some(false);
            }
            let kept: Vec<&StreamInfo> =
                candidates.iter().copied().filter(|s| has_all(s)).collect();
            match rest {
                None => Some(true),
                Some(rest) => spec_matches_among(rest, stream, &kept),
            }
        }
        StreamSpec::Program(..) => None,
    }
}

/// `0x100` or `256`.
fn parse_id(text: &str) -> Option<i64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The job of `ffmpeg -i IN ARGS OUT` (one input, one output).
    fn job(args: &str, out: &str) -> EncodeJob {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.mkv");
        std::fs::write(&input, b"x").unwrap();
        let line = format!("-i {} {args} {out}", input.display());
        let argv: Vec<String> = line.split(' ').map(String::from).collect();
        crate::route::route(&crate::args::parse(&argv).unwrap()).unwrap()
    }

    #[test]
    fn subtitles_are_picked_where_ffmpeg_picks_them() {
        let fits = |args, out, codec| subtitle_fits(&job(args, out), codec);
        // Matroska's default encoder is ass: text, not bitmaps.
        assert!(fits("-c:v libx264", "o.mkv", "subrip"));
        assert!(!fits("-c:v libx264", "o.mkv", "hdmv_pgs_subtitle"));
        // MP4 and MPEG-TS have none: only a -c:s names one.
        assert!(!fits("-c:v libx264", "o.mp4", "subrip"));
        assert!(!fits("-c:v libx264", "o.ts", "dvd_subtitle"));
        assert!(fits("-c:v libx264 -c:s mov_text", "o.mp4", "subrip"));
        assert!(fits("-c:v libx264 -scodec dvbsub", "o.ts", "dvd_subtitle"));
        // Measured: neither -c without a specifier nor -c:s:0 does.
        assert!(!fits("-c copy -c:v libx264", "o.mp4", "subrip"));
        assert!(!fits("-c:v libx264 -c:s:0 mov_text", "o.mp4", "subrip"));
    }

    #[test]
    fn codec_options_select_output_streams_by_position() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.mkv");
        std::fs::write(&input, b"x").unwrap();
        let line = format!("-i {} -c:v libx264 -c:a:0 copy -c:a:1 ac3 o.mkv", input.display());
        let argv: Vec<String> = line.split(' ').map(String::from).collect();
        let job = crate::route::route(&crate::args::parse(&argv).unwrap()).unwrap();
        let audio = StreamInfo { codec_type: "audio".into(), ..StreamInfo::default() };
        let at = |index, of_type| OutputPosition { index, of_type };
        assert_eq!(encoder_for(&job, &audio, at(1, 0)).as_deref(), Some("copy"));
        assert_eq!(encoder_for(&job, &audio, at(2, 1)).as_deref(), Some("ac3"));
        assert_eq!(encoder_for(&job, &audio, at(3, 2)).as_deref(), Some("libvorbis"));
    }
}
