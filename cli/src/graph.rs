//! A `-filter_complex` (or `-lavfi`) whose video part is a `-vf` in other
//! words: at most one chain of frame-local filters from the first input's
//! video to one output stream, beside chains on audio, as media servers and
//! scripts write it (`-filter_complex "[0:v]scale=1280:-2[v];[0:a]loudnorm[a]"
//! -map "[v]" -map "[a]"`).
//!
//! The nodes run the video chain as they run `-vf`: the frames are the same,
//! as ffmpeg alone configures both kinds of graph alike. What differs is
//! around the frames, and is reproduced here and in the final mux: a graph's
//! output stream has no source stream, so it keeps none of the source's
//! stream tags or disposition; it takes its place in the output where
//! `-map [label]` puts it, or first when the chain's output has no label; and
//! the stream mapping names the graph's filters (ffmpeg 5.1, `ffmpeg_opt.c`
//! `open_output_file`, `ffmpeg.c` `transcode_init`). The audio chains run in
//! the final mux, whole, which reads the same inputs under the same numbers.
//!
//! The video part may also draw one still image from a later input over
//! the video (`GraphOverlay`), with a chain before the overlay on each of
//! its inputs and one after it: the nodes get the image with every chunk.

use crate::args::{Filter, Opt, parse_graph};
use crate::route::{TEMPORAL_FILTERS, frame_local};

/// A graph whose video can still be distributed: at most one chain on the
/// first input's video, which the nodes run, and chains on audio, which
/// the final mux runs whole, as ffmpeg alone runs them (the audio is never
/// cut into chunks, so any audio filter is safe there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    /// The chain on the video, if the graph has one.
    pub video: Option<GraphVideo>,
    /// The chains on audio, in the graph's order.
    pub audio: Vec<AudioChain>,
    /// The option as written, for the trial (`-filter_complex`, the graph).
    pub tokens: Vec<String>,
}

/// The video chain of a command whose video can still be distributed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphVideo {
    /// The stream the chain reads, as a `-map` of the first input selects
    /// it: an unlabeled chain, `[0:v]` and `[0:v:0]` read `0:v:0`.
    pub input: String,
    /// The label of the chain's output, which an output maps (`-map [v]`);
    /// `None`: the output is unlabeled and goes to the command's (only)
    /// output, before its mapped streams.
    pub label: Option<String>,
    /// The filters, as the nodes run them (`EncodeJob::filters`).
    pub filters: Vec<(String, String)>,
    /// What ffmpeg's stream mapping calls the chain's input pad: `hflip:default`.
    pub input_pad: String,
    /// And its output pad: `scale:default`.
    pub output_pad: String,
    /// A still image the graph draws over the video, if it has one.
    pub overlay: Option<GraphOverlay>,
}

/// A still image that a graph's `overlay` filter draws over every frame
/// (`-i logo.png -filter_complex "[0:v][1:v]overlay=W-w-10:10"`). The image
/// is one frame, shown from time 0 on (overlay repeats its last frame), so
/// each frame of the output depends only on its own frame of the video:
/// the nodes get the image with every chunk and run the same graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphOverlay {
    /// The input the image is (1 or later); `None` when the overlay's pads
    /// are unlabeled, so that ffmpeg gives it the next video stream it has
    /// not used, which `distribute` resolves with the inputs' probes.
    pub file: Option<usize>,
    /// Filters on the image before the overlay (`[1:v]scale=64:-1[logo]`).
    pub image_filters: Vec<(String, String)>,
    /// The overlay's options as its option parser reads them (unquoted),
    /// but for `shortest=1`, and with `enable` folded into `x`
    /// (`timed_overlay`).
    pub args: String,
    /// Whether the overlay ends with its shorter input (`shortest=1`). Over
    /// an image looped forever (`-loop 1`) that is the video, and the
    /// nodes' overlay, whose image is not looped, runs without it (see
    /// `route::unlooped_image`); over a single image it is refused.
    pub shortest: bool,
    /// The user's overlay's `enable` (a timed logo), which `args` carries
    /// in `x`: over a looped image it is refused.
    pub enable: Option<String>,
    /// How many of [`GraphVideo::filters`] run before the overlay.
    pub filters_before: usize,
    /// What ffmpeg's stream mapping calls the image's pad: `overlay`, or
    /// `scale:default` when a chain on the image comes first.
    pub image_pad: String,
    /// The image file's bytes and its demuxer, once `distribute` has
    /// checked that it is one still image (empty until then).
    pub image: proto::Bytes,
    /// The demuxer ffprobe found for it: `png_pipe`.
    pub image_format: String,
    /// And its codec, for the stream mapping: `png`.
    pub image_codec: String,
}

/// A chain from audio streams of any inputs to a labeled output, which the
/// output maps (`[0:a]loudnorm[a]` ... `-map [a]`): one stream, or several
/// into a filter that mixes them first (`[0:a][1:a]amix=inputs=2[a]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioChain {
    /// The streams it reads, in its labels' order, as a `-map` selects
    /// them: `[0:a]` reads `0:a:0`. Never empty.
    pub inputs: Vec<String>,
    /// The label of its output.
    pub label: String,
    /// The chain as the final mux's `-filter_complex` gives it: the final
    /// mux numbers the inputs as the command does.
    pub text: String,
    /// What ffmpeg's stream mapping calls its input pads: `volume:default`,
    /// or for a filter of several inputs its name alone, `amix`.
    pub input_pad: String,
    /// And its output pad.
    pub output_pad: String,
}

/// Audio filters of several inputs and one output that may start a chain:
/// the final mux runs them over the whole streams, as ffmpeg alone does.
/// `amix` only with `duration=shortest` (see [`amix_ends_alike`]).
const AUDIO_MIXERS: &[&str] =
    &["amix", "amerge", "join", "sidechaincompress", "sidechaingate", "acrossfade"];

/// The distributable reading of `opt` (a global `-filter_complex` or
/// `-lavfi`), or why it is not.
pub fn parse(opt: &Opt) -> Result<Graph, String> {
    let flag = opt.flag();
    let text = opt.value.as_deref().unwrap_or_default();
    let graph = parse_graph(text).map_err(|error| format!("{flag}: {error}"))?;
    let (audio, video): (Vec<_>, Vec<_>) =
        graph.iter().partition(|chain| reads_audio(chain.as_slice()));
    let audio =
        audio.into_iter().map(|chain| audio_chain(&flag, chain)).collect::<Result<_, _>>()?;
    let overlays: Vec<usize> = (0..video.len()).filter(|&k| has_overlay(video[k])).collect();
    let video = match (video.as_slice(), overlays.as_slice()) {
        ([], _) => None,
        ([chain], []) => Some(video_chain(&flag, text, chain)?),
        (_, [k]) => Some(overlay_graph(&flag, text, &video, *k)?),
        (_, []) => {
            return Err(format!(
                "{flag} with more than one filter chain on video is not distributable"
            ));
        }
        _ => return Err(format!("{flag} with more than one overlay is not distributable")),
    };
    Ok(Graph { video, audio, tokens: opt.tokens() })
}

/// The chain on the video, which the nodes run as `-vf`.
fn video_chain(flag: &str, text: &str, chain: &[Filter]) -> Result<GraphVideo, String> {
    if let Some(name) =
        chain.iter().map(|f| &f.name).find(|n| TEMPORAL_FILTERS.contains(&n.as_str()))
    {
        return Err(format!("{flag} with a temporal filter ({name}) is not distributable"));
    }
    let (Some(first), Some(last)) = (chain.first(), chain.last()) else {
        return Err(format!("{flag} is empty"));
    };
    let input = match first.inputs.as_slice() {
        [] => "0:v:0".to_string(),
        [label] => first_input_video(label).ok_or_else(|| {
            format!("{flag} reads [{label}] (the first input's video is distributable)")
        })?,
        _ => return Err(format!("{flag} with a filter of several inputs is not distributable")),
    };
    let label = match last.outputs.as_slice() {
        [] => None,
        [label] => Some(label.clone()),
        _ => return Err(format!("{flag} with a filter of several outputs is not distributable")),
    };
    let mut bare = chain.to_vec();
    bare[0].inputs.clear();
    if let Some(last) = bare.last_mut() {
        last.outputs.clear();
    }
    let filters = frame_local(flag, text, &bare)?;
    Ok(GraphVideo {
        input,
        label,
        filters,
        input_pad: pad(&first.name),
        output_pad: pad(&last.name),
        overlay: None,
    })
}

/// Whether a chain holds an `overlay` filter.
fn has_overlay(chain: &[Filter]) -> bool {
    chain.iter().any(|f| kind(&f.name) == "overlay")
}

/// A filter's kind: its name without an `@instance` suffix.
fn kind(name: &str) -> &str {
    name.split('@').next().unwrap_or(name)
}

/// The video part of a graph that draws a still image over the first
/// input's video: the chain that starts with `overlay` (the `k`th of
/// `chains`), and at most two chains feeding it, one from the first input's
/// video and one from the image's input. Unlabeled, the overlay is the whole
/// graph (`overlay=10:10`).
fn overlay_graph(
    flag: &str,
    text: &str,
    chains: &[&Vec<Filter>],
    k: usize,
) -> Result<GraphVideo, String> {
    let chain = chains[k];
    let (first, rest) = chain.split_first().ok_or_else(|| format!("{flag} is empty"))?;
    if kind(&first.name) != "overlay" || has_overlay(rest) {
        return Err(format!("{flag} with an overlay inside a chain is not distributable"));
    }
    let others: Vec<&Vec<Filter>> =
        chains.iter().enumerate().filter(|&(j, _)| j != k).map(|(_, c)| *c).collect();
    // The chain, among the others, whose output is `label`, with its input.
    // The overlay has two input pads: ffmpeg names them by the filter alone.
    let overlay_pad = kind(&first.name).to_string();
    let mut used = 0;
    let (input, before, input_pad, file, image_filters, image_pad) = match first.inputs.as_slice() {
        [] if others.is_empty() => {
            ("0:v:0".to_string(), Vec::new(), overlay_pad.clone(), None, Vec::new(), overlay_pad)
        }
        [main, image] => {
            let not_main = |label: &str| {
                format!("{flag}: the overlay's [{label}] is not the first input's video")
            };
            let not_image = |label: &str| {
                format!("{flag}: the overlay's [{label}] is not a later input's video")
            };
            let main =
                overlay_feed(flag, text, main, &others, &overlay_pad, first_input_video, not_main)?;
            let image = overlay_feed(
                flag,
                text,
                image,
                &others,
                &overlay_pad,
                extra_input_video,
                not_image,
            )?;
            used += usize::from(main.chained) + usize::from(image.chained);
            let (input, before, input_pad) = (main.found, main.filters, main.pad);
            let (file, image_filters, image_pad) = (image.found, image.filters, image.pad);
            (input, before, input_pad, Some(file), image_filters, image_pad)
        }
        _ => {
            return Err(format!("{flag} with an overlay of these inputs is not distributable"));
        }
    };
    if used != others.len() {
        return Err(format!(
            "{flag} with more than one filter chain on video is not distributable"
        ));
    }
    if image_filters.iter().any(|(name, _)| name == "fps") {
        return Err(format!("{flag} with fps on the overlay image is not distributable"));
    }
    // A fade decides each frame by its time: a looped image's frames, which
    // the nodes replace with one image at time 0 (`route::unlooped_image`).
    if image_filters.iter().any(|(name, _)| name == "fade") {
        return Err(format!("{flag} with a fade on the overlay image is not distributable"));
    }
    let label = match chain.last().map(|f| f.outputs.as_slice()) {
        Some([]) | None => None,
        Some([label]) => Some(label.clone()),
        Some(_) => {
            return Err(format!("{flag} with a filter of several outputs is not distributable"));
        }
    };
    let mut after_chain = rest.to_vec();
    if let Some(last) = after_chain.last_mut() {
        last.outputs.clear();
    }
    if !rest.is_empty() && !first.outputs.is_empty() {
        return Err(format!("{flag} names link labels"));
    }
    let after = crate::route::frame_local(flag, text, &after_chain)?;
    if before.iter().chain(&after).any(|(name, _)| name == "fps") {
        // As in a chain without an overlay (`video_chain`).
        return Err(format!("{flag} with a temporal filter (fps) is not distributable"));
    }
    let args = first.args.as_deref().map(crate::args::unquoted).unwrap_or_default();
    let (args, shortest) = without_shortest(&args);
    let (args, enable) =
        crate::timed_overlay::untimed(&args).map_err(|e| format!("{flag} {text}: {e}"))?;
    if let Some(var) = crate::route::chunk_dependent_variable(&args) {
        return Err(format!(
            "{flag} {text}: an expression reads {var}, which a chunk does not reproduce"
        ));
    }
    let filters_before = before.len();
    let overlay = GraphOverlay {
        file,
        image_filters,
        args,
        shortest,
        enable,
        filters_before,
        image_pad,
        image: proto::Bytes::new(),
        image_format: String::new(),
        image_codec: String::new(),
    };
    let stand_in = GraphOverlay {
        image: proto::Bytes::from_static(b"\x89PNG"),
        image_format: "png_pipe".into(),
        ..overlay.clone()
    };
    let filters: Vec<(String, String)> = before.into_iter().chain(after).collect();
    // The node's own check, on a stand-in image, before anything is probed.
    let probe = proto::v1::EncodeSpec {
        encoder: "libx264".into(),
        filters: filters
            .iter()
            .map(|(name, args)| crate::filter_files::stand_in(name, args))
            .collect(),
        keep_start_pts: 0,
        keep_end_pts: 1,
        expected_frames: 1,
        time_base: Some(proto::v1::Rational { num: 1, den: 1 }),
        frame_rate: Some(proto::v1::Rational { num: 1, den: 1 }),
        overlay: Some(stand_in.to_proto()),
        ..Default::default()
    };
    node::spec::validate(&probe).map_err(|e| format!("{flag} {text}: {e}"))?;
    let output_pad = pad(&chain[chain.len() - 1].name);
    Ok(GraphVideo { input, label, filters, input_pad, output_pad, overlay: Some(overlay) })
}

/// The overlay's options without `shortest=1`, and whether it was there.
/// Only the named form is taken out: written positionally it is the fifth
/// option, after others a spec may not carry, and the node refuses it.
fn without_shortest(args: &str) -> (String, bool) {
    let options: Vec<&str> = args.split(':').collect();
    let kept: Vec<&str> = options.iter().copied().filter(|o| *o != "shortest=1").collect();
    let shortest = kept.len() < options.len();
    (if shortest { kept.join(":") } else { args.to_string() }, shortest)
}

/// One input of the overlay, labeled `label`: the stream `resolve` finds
/// for the label itself, or for the input of the chain among `others` whose
/// output it is, whose filters then run first. Gives the stream, those
/// filters, ffmpeg's name of the pad the stream feeds (`direct_pad`, or the
/// chain's first filter's), and whether a chain was used; `not` says why a
/// label names nothing the overlay may read.
fn overlay_feed<T>(
    flag: &str,
    text: &str,
    label: &str,
    others: &[&Vec<Filter>],
    direct_pad: &str,
    resolve: impl Fn(&str) -> Option<T>,
    not: impl Fn(&str) -> String,
) -> Result<Feed<T>, String> {
    if let Some(found) = resolve(label) {
        return Ok(Feed {
            found,
            filters: Vec::new(),
            pad: direct_pad.to_string(),
            chained: false,
        });
    }
    let feed = others
        .iter()
        .find(|c| c.last().is_some_and(|f| f.outputs == [label.to_string()]))
        .ok_or_else(|| not(label))?;
    let (read, filters) = fed(flag, text, feed)?;
    let found = resolve(&read).ok_or_else(|| not(&read))?;
    Ok(Feed { found, filters, pad: pad(&feed[0].name), chained: true })
}

/// What [`overlay_feed`] found for one of the overlay's inputs.
struct Feed<T> {
    /// The stream: `0:v:0`, or the image's input.
    found: T,
    /// The filters of the chain that leads to the overlay, if any.
    filters: Vec<(String, String)>,
    /// ffmpeg's name of the pad the stream feeds.
    pad: String,
    /// Whether a chain was used.
    chained: bool,
}

/// A chain that feeds the overlay: its input's label and its filters, which
/// must be frame-local and one chain of one input.
fn fed(
    flag: &str,
    text: &str,
    chain: &[Filter],
) -> Result<(String, Vec<(String, String)>), String> {
    let label = match chain.first().map(|f| f.inputs.as_slice()) {
        Some([label]) => label.clone(),
        _ => return Err(format!("{flag} with an overlay of these inputs is not distributable")),
    };
    let mut bare = chain.to_vec();
    bare[0].inputs.clear();
    if let Some(last) = bare.last_mut() {
        last.outputs.clear();
    }
    Ok((label, crate::route::frame_local(flag, text, &bare)?))
}

impl GraphOverlay {
    /// The overlay as a spec carries it.
    pub fn to_proto(&self) -> proto::v1::Overlay {
        proto::v1::Overlay {
            image: self.image.clone(),
            image_format: self.image_format.clone(),
            image_filters: self
                .image_filters
                .iter()
                .map(|(name, args)| proto::v1::Filter {
                    name: name.clone(),
                    args: args.clone(),
                    ..Default::default()
                })
                .collect(),
            args: self.args.clone(),
            filters_before: self.filters_before as u32,
        }
    }
}

/// ffmpeg's name of a filter's one input or output pad: every filter a
/// chain here may hold has one of each, called `default`, and ffmpeg names
/// the filter by its kind, without an `@instance` suffix.
fn pad(name: &str) -> String {
    format!("{}:default", kind(name))
}

/// Whether a chain starts by reading inputs' audio (`[0:a]`, `[1:a:2]`).
fn reads_audio(chain: &[Filter]) -> bool {
    chain.first().is_some_and(|f| {
        !f.inputs.is_empty() && f.inputs.iter().all(|label| audio_input(label).is_some())
    })
}

/// A chain on audio, for the final mux: one labeled output, filters that
/// take audio and give audio, one pad each (so that the pads are
/// `default`), with no label between them, and one input, or several into
/// a first filter from [`AUDIO_MIXERS`].
fn audio_chain(flag: &str, chain: &[Filter]) -> Result<AudioChain, String> {
    let (Some(first), Some(last)) = (chain.first(), chain.last()) else {
        return Err(format!("{flag} is empty"));
    };
    let inputs: Vec<String> = first.inputs.iter().filter_map(|l| audio_input(l)).collect();
    let mixes = inputs.len() > 1;
    if mixes && !AUDIO_MIXERS.contains(&kind(&first.name)) {
        return Err(format!("{flag} with {} of several inputs is not distributable", first.name));
    }
    if mixes && kind(&first.name) == "amix" && !amix_ends_alike(first.args.as_deref()) {
        return Err(format!(
            "{flag} with amix ending with its first or longest input is not distributable \
             (duration=shortest is)"
        ));
    }
    let label = match last.outputs.as_slice() {
        [label] => label.clone(),
        [] => return Err(format!("{flag} with an unlabeled audio output is not distributable")),
        _ => return Err(format!("{flag} with a filter of several outputs is not distributable")),
    };
    for (i, filter) in chain.iter().enumerate() {
        let inner_inputs = i > 0 && !filter.inputs.is_empty();
        let inner_outputs = i + 1 < chain.len() && !filter.outputs.is_empty();
        if inner_inputs || inner_outputs {
            return Err(format!("{flag} names link labels"));
        }
        if !(i == 0 && mixes || is_audio_filter(&filter.name)) {
            return Err(format!(
                "{flag} with {} on audio is not distributable (filters from audio to audio are)",
                filter.name
            ));
        }
    }
    let text = chain.iter().map(render).collect::<Vec<_>>().join(",");
    // ffmpeg names a pad of a filter with several inputs by the filter alone.
    let input_pad = if mixes { kind(&first.name).to_string() } else { pad(&first.name) };
    Ok(AudioChain { inputs, label, text, input_pad, output_pad: pad(&last.name) })
}

/// Whether an `amix` ends where ffmpeg alone ends it: measured on ffmpeg
/// 5.1, an amix that runs until its first or longest input ends
/// (`duration=first`, `longest`, the default) loses its last tenth of a
/// second or so when the same ffmpeg also encodes video, which the final
/// mux does not; one that ends with its shortest input ends alike.
fn amix_ends_alike(args: Option<&str>) -> bool {
    let options: Vec<&str> = args.unwrap_or_default().split(':').collect();
    // Positional: inputs, then duration.
    let positional = options.get(1).is_some_and(|o| *o == "shortest") && !options[0].contains('=');
    positional || options.contains(&"duration=shortest")
}

/// A filter as a graph description writes it.
fn render(filter: &Filter) -> String {
    let mut out = String::new();
    for label in &filter.inputs {
        out.push_str(&format!("[{label}]"));
    }
    out.push_str(&filter.name);
    if let Some(args) = &filter.args {
        out.push('=');
        out.push_str(args);
    }
    for label in &filter.outputs {
        out.push_str(&format!("[{label}]"));
    }
    out
}

/// Filters from one audio input to one audio output: libavfilter's `a`
/// filters but its sources, sinks, visualisations (audio to video) and
/// those of several pads, and the common ones named otherwise.
fn is_audio_filter(name: &str) -> bool {
    const NOT: &[&str] = &[
        "abuffer",
        "abuffersink",
        "aevalsrc",
        "afirsrc",
        "anoisesrc",
        "anullsrc",
        "amovie",
        "asplit",
        "amix",
        "amerge",
        "acrossfade",
        "ainterleave",
        "acrossover",
        "afir",
        "aiir",
        "ahistogram",
        "aphasemeter",
        "avectorscope",
        "abitscope",
        "adrawgraph",
        "agraphmonitor",
        "asegment",
        "aselect",
        "astreamselect",
        "ashowinfo",
    ];
    const NAMED: &[&str] = &[
        "volume",
        "loudnorm",
        "pan",
        "highpass",
        "lowpass",
        "bandpass",
        "bandreject",
        "allpass",
        "equalizer",
        "bass",
        "treble",
        "lowshelf",
        "highshelf",
        "biquad",
        "dynaudnorm",
        "speechnorm",
        "compand",
        "channelmap",
        "earwax",
        "extrastereo",
        "stereotools",
        "stereowiden",
        "crystalizer",
        "deesser",
        "firequalizer",
        "superequalizer",
        "silenceremove",
        "silencedetect",
        "volumedetect",
        "rubberband",
        "haas",
        "sofalizer",
        "surround",
        "dialoguenhance",
        "virtualbass",
        "flanger",
        "chorus",
        "tremolo",
        "vibrato",
        "dcshift",
        "compensationdelay",
        "loudnorm",
        "replaygain",
        "resample",
    ];
    let kind = name.split('@').next().unwrap_or(name);
    NAMED.contains(&kind) || (kind.starts_with('a') && kind.len() > 1 && !NOT.contains(&kind))
}

/// The `-map` that selects the audio stream a chain's input label names:
/// `F:a` (its first audio stream) and `F:a:N`, of any input `F`.
fn audio_input(label: &str) -> Option<String> {
    let (file, spec) = label.split_once(':')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let index = match spec.split_once(':') {
        Some(("a", index)) => index,
        None if spec == "a" => "0",
        _ => return None,
    };
    (digits(file) && digits(index)).then(|| format!("{file}:a:{index}"))
}

/// The `-map` that selects the stream a chain's input label names, when it
/// names the first input's video: `0:v`, `0:V` (its first such stream),
/// `0:v:N`, `0:V:N`. A label such as `0:1` could name an audio stream, which
/// ffmpeg reports as an error; `in` names nothing a chain can read.
fn first_input_video(label: &str) -> Option<String> {
    let spec = label.strip_prefix("0:")?;
    let (kind, index) = match spec.split_once(':') {
        Some((kind, index)) => (kind, index),
        None => (spec, "0"),
    };
    let numeric = !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit());
    (matches!(kind, "v" | "V") && numeric).then(|| format!("0:{kind}:{index}"))
}

/// The input a chain's label reads the video of, when it is an input after
/// the first: `1`, `1:v`, `1:V`, `1:v:0`, `1:0` (ffmpeg takes a label's first
/// stream of the pad's type, and an image has one).
fn extra_input_video(label: &str) -> Option<usize> {
    let (file, spec) = label.split_once(':').unwrap_or((label, ""));
    let file: usize =
        file.parse().ok().filter(|&k| k >= 1 && file.bytes().all(|b| b.is_ascii_digit()))?;
    matches!(spec, "" | "v" | "V" | "v:0" | "V:0" | "0").then_some(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(text: &str) -> Result<Graph, String> {
        let command = crate::args::parse(&[
            "-i".into(),
            "in.mkv".into(),
            "-filter_complex".into(),
            text.into(),
            "out.mkv".into(),
        ])
        .unwrap();
        parse(command.global("filter_complex").unwrap())
    }

    fn graph(text: &str) -> Result<GraphVideo, String> {
        whole(text).map(|g| g.video.expect("a video chain"))
    }

    #[test]
    fn a_labeled_chain_from_the_first_video() {
        let g = graph("[0:v]scale=160:-2,hflip[v]").unwrap();
        assert_eq!(g.input, "0:v:0");
        assert_eq!(g.label.as_deref(), Some("v"));
        assert_eq!(g.filters, [("scale".into(), "160:-2".into()), ("hflip".into(), "".into())]);
        assert_eq!(
            (g.input_pad.as_str(), g.output_pad.as_str()),
            ("scale:default", "hflip:default")
        );
    }

    /// The overlay forms of watermark recipes: the image straight from its
    /// input or through a chain of its own, the video through one before.
    #[test]
    fn a_still_image_drawn_over_the_video() {
        let g = graph("overlay=10:10").unwrap();
        let o = g.overlay.clone().unwrap();
        assert_eq!((g.input.as_str(), o.file, o.args.as_str()), ("0:v:0", None, "10:10"));
        assert_eq!((g.input_pad.as_str(), g.output_pad.as_str()), ("overlay", "overlay:default"));

        let g = graph("[1:v]scale=40:-1[wm];[0:v][wm]overlay=W-w-8:H-h-8,hflip[v]").unwrap();
        let o = g.overlay.clone().unwrap();
        assert_eq!(o.file, Some(1));
        assert_eq!(o.image_filters, [("scale".into(), "40:-1".into())]);
        assert_eq!(o.image_pad, "scale:default");
        assert_eq!((o.filters_before, g.filters.len()), (0, 1));
        assert_eq!((g.label.as_deref(), g.output_pad.as_str()), (Some("v"), "hflip:default"));

        let g = graph("[0:v]scale=240:-2[bg];[bg][2]overlay=5:5").unwrap();
        let o = g.overlay.clone().unwrap();
        assert_eq!((o.file, o.filters_before, o.image_pad.as_str()), (Some(2), 1, "overlay"));
        assert_eq!(g.input_pad, "scale:default");

        // shortest=1 is for the router to judge: it needs -loop 1.
        let o = graph("[0:v][1:v]overlay=10:10:shortest=1:format=auto").unwrap().overlay.unwrap();
        assert_eq!((o.args.as_str(), o.shortest), ("10:10:format=auto", true));
        let o = graph("overlay=shortest=1").unwrap().overlay.unwrap();
        assert_eq!((o.args.as_str(), o.shortest), ("", true));
    }

    #[test]
    fn overlays_that_chunks_would_not_reproduce_are_refused() {
        for (text, why) in [
            ("[0:v][0:v]overlay", "not a later input's video"),
            ("[1:v][0:v]overlay", "not the first input's video"),
            ("[0:v][1:a]overlay", "not a later input's video"),
            ("[0:v][1:v]overlay=x=n:y=0", "reads n"),
            ("[0:v][1:v]overlay=shortest=true", "invalid overlay"),
            ("[1:v]fade=t=in:d=1[l];[0:v][l]overlay", "a fade on the overlay image"),
            ("[0:v][1:v]overlay=eof_action=pass", "invalid overlay"),
            ("[0:v][1:v]overlay[a];[a][2:v]overlay", "more than one overlay"),
            ("[0:v]hflip,[1:v]overlay", "inside a chain"),
            ("[0:v][1:v]overlay;[0:v]hflip[x]", "more than one filter chain"),
            ("[1:v]fps=5[wm];[0:v][wm]overlay", "fps on the overlay image"),
            ("[1:v]tmix[wm];[0:v][wm]overlay", "temporal filter"),
            ("[0:v][1:v]overlay,fps=10", "temporal filter (fps)"),
            ("[0:v]fps=10[m];[m][1:v]overlay", "temporal filter (fps)"),
        ] {
            let error = graph(text).unwrap_err();
            assert!(error.contains(why), "{text}: {error}");
        }
    }

    #[test]
    fn an_unlabeled_chain_reads_the_first_video_stream() {
        let g = graph("hflip").unwrap();
        assert_eq!((g.input.as_str(), g.label.as_deref()), ("0:v:0", None));
        assert_eq!(graph("[0:V:1]vflip").unwrap().input, "0:V:1");
    }

    #[test]
    fn what_a_chunk_cannot_reproduce_is_refused_with_a_reason() {
        for (text, reason) in [
            ("[0:v][1:v]hstack", "several inputs"),
            ("[0:v]split[a][b]", "several outputs"),
            ("[0:v]hflip[a];[a]vflip", "more than one filter chain on video"),
            ("[1:v]hflip[v]", "reads [1:v]"),
            ("[0:1]hflip[v]", "reads [0:1]"),
            ("[0:v]yadif[v]", "temporal filter (yadif)"),
            ("[0:v]fps=24[v]", "temporal filter (fps)"),
            ("[0:v]crop=100:100:n:0[v]", "reads n"),
            ("[0:v]scale=160:-2,[x]hflip[v]", "names link labels"),
        ] {
            let error = graph(text).unwrap_err();
            assert!(error.contains(reason), "{text}: {error}");
        }
    }

    /// Background music or a voice-over mixed in: the final mux runs the
    /// mixer over whole streams; it may only start a chain, whose labels
    /// then name every input it reads.
    #[test]
    fn a_mixer_of_several_audio_streams_goes_to_the_final_mux() {
        let g =
            whole("[0:v]hflip[v];[0:a][1:a]amix=inputs=2:duration=shortest,volume=2[a]").unwrap();
        let chain = &g.audio[0];
        assert_eq!(chain.inputs, ["0:a:0", "1:a:0"]);
        assert_eq!(
            (chain.input_pad.as_str(), chain.output_pad.as_str()),
            ("amix", "volume:default")
        );
        assert_eq!(chain.text, "[0:a][1:a]amix=inputs=2:duration=shortest,volume=2[a]");
        assert!(whole("[0:a][1:a]amix=2:shortest[a]").is_ok());
        assert!(whole("[1:a][0:a]amerge=inputs=2[a]").is_ok());
        for (text, why) in [
            ("[0:a][1:a]volume[a]", "volume of several inputs"),
            ("[0:a][1:a]amix=inputs=2:duration=first[a]", "amix ending with its first"),
            ("[0:a][1:a]amix[a]", "amix ending with its first or longest"),
            ("[0:a]amix=inputs=2[a]", "amix on audio"),
            ("[0:a]volume,acrossfade[a]", "acrossfade on audio"),
            ("[0:a][1:a]amix=2:shortest,amerge[a]", "amerge on audio"),
        ] {
            let error = whole(text).unwrap_err();
            assert!(error.contains(why), "{text}: {error}");
        }
    }

    #[test]
    fn audio_chains_go_to_the_final_mux_as_written() {
        let g = whole(
            "[0:v]scale=160:-2[v];[0:a]volume=0.5,aresample=48000[a];[1:a:1]loudnorm=I=-16[b]",
        )
        .unwrap();
        assert_eq!(g.video.unwrap().label.as_deref(), Some("v"));
        let chains: Vec<_> = g
            .audio
            .iter()
            .map(|c| (c.inputs[0].as_str(), c.label.as_str(), c.text.as_str()))
            .collect();
        assert_eq!(
            chains,
            [
                ("0:a:0", "a", "[0:a]volume=0.5,aresample=48000[a]"),
                ("1:a:1", "b", "[1:a:1]loudnorm=I=-16[b]"),
            ]
        );
        assert_eq!(
            (g.audio[0].input_pad.as_str(), g.audio[0].output_pad.as_str()),
            ("volume:default", "aresample:default")
        );
        assert_eq!(g.tokens[0], "-filter_complex");
        let only_audio = whole("[0:a]volume=2[a]").unwrap();
        assert!(only_audio.video.is_none() && only_audio.audio.len() == 1);
    }

    #[test]
    fn audio_chains_the_final_mux_cannot_name_are_refused() {
        for (text, reason) in [
            ("[0:a]volume=2", "unlabeled audio output"),
            ("[0:a]asplit[a][b]", "several outputs"),
            ("[0:a]showwaves[w]", "showwaves on audio"),
            ("[0:a]avectorscope[w]", "avectorscope on audio"),
            ("[0:a]volume=2[x];[x]aresample=8000[a]", "reads [x]"),
            ("[0:a]volume=2,[x]aresample=8000[a]", "names link labels"),
        ] {
            let error = whole(text).unwrap_err();
            assert!(error.contains(reason), "{text}: {error}");
        }
    }
}
