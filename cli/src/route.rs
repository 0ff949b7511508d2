//! Routing: distribute an encode when it is safe, otherwise run ffmpeg.
//!
//! Distribution is an allowlist: one seekable input file whose video is
//! encoded (with `-map`, more files whose other streams the final mux takes),
//! one output file in a
//! container we assemble, a software video encoder (named by `-c:v`, or the
//! container's default, which the trial confirms), frame-local filters (`-vf`,
//! or a `-filter_complex` of one chain, `crate::graph`), and options whose
//! effect on the result we reproduce exactly. Anything else runs through the real
//! ffmpeg untouched, and the reason is shown with `-loglevel verbose`.

use std::path::{Path, PathBuf};

use crate::args::{
    Command, MapSource, MediaType, Opt, StreamSpec, is_later_version, parse_duration, parse_graph,
    parse_map,
};
use proto::v1::FpsMode;

use crate::args::FileArg;
use crate::console::Console;
use crate::graph::GraphOverlay;
use crate::job::{Disabled, EncodeJob, ExtraInput, InputKind, Overwrite, Window};

/// Options that only an audio or subtitle stream can use, or that only the
/// muxer sees: passed to the final mux as written.
const MUX_OPTIONS: &[&str] = &[
    "metadata",
    "movflags",
    "ac",
    "ar",
    "af",
    "sample_fmt",
    "channel_layout",
    "map_metadata",
    "map_chapters",
    "disposition",
    "brand",
    "write_tmcd",
    "id3v2_version",
    "cues_to_front",
    "reserve_index_space",
    "mpegts_service_id",
    "mpegts_flags",
    "mpegts_m2ts_mode",
    "max_muxing_queue_size",
    "avoid_negative_ts",
    "muxing_queue_data_threshold",
    // The audio bitrate's old name, and the muxer's delay (MPEG-TS and
    // MPEG-PS offset their timestamps by it), as media servers write them.
    "ab",
    "max_delay",
];

/// Output containers that the assembler writes, by muxer name.
const CONTAINERS: &[(&str, &[&str])] = &[
    ("matroska", &["mkv"]),
    ("webm", &["webm"]),
    ("mp4", &["mp4", "m4v"]),
    ("mov", &["mov"]),
    ("nut", &["nut"]),
    ("mpegts", &["ts", "m2t", "m2ts", "mts"]),
    ("flv", &["flv"]),
    ("avi", &["avi"]),
    ("hls", &["m3u8"]),
    ("dash", &["mpd"]),
    // Never guessed from a name: `-f segment` only.
    ("segment", &[]),
];

/// Global options the distributed path honours.
const GLOBALS: &[&str] = &[
    "y",
    "n",
    "hide_banner",
    "loglevel",
    "v",
    "stats",
    "stdin",
    "stats_period",
    "progress",
    "vsync",
    "benchmark",
    "report",
    // Checked together (`copy_ts`).
    "copyts",
    "start_at_zero",
];

/// Decides whether `command` can be distributed, as one job per output (each
/// output of one input is an encode of its own); the error is why not.
pub fn route_all(command: &Command) -> Result<Vec<EncodeJob>, String> {
    if command.outputs.len() <= 1 {
        return route(command).map(|job| vec![job]);
    }
    if let Some(graph) = command.globals.iter().find(|g| is_graph(g)) {
        // Its output goes to one of them: each job would read it.
        return Err(format!("{} with several outputs is not distributable", graph.flag()));
    }
    if command.outputs.iter().any(|o| crate::job::is_stdout(&o.url)) {
        return Err("several outputs, one of them standard output, are not distributable".into());
    }
    let mut jobs: Vec<EncodeJob> = Vec::new();
    for (index, output) in command.outputs.iter().enumerate() {
        let single = Command { outputs: vec![output.clone()], ..command.clone() };
        let job = route(&single).map_err(|reason| format!("output #{index}: {reason}"))?;
        if jobs.iter().any(|j| j.output == job.output) {
            return Err(format!("output #{index} is written twice"));
        }
        jobs.push(job);
    }
    Ok(jobs)
}

/// Muxers that write to a pipe as ffmpeg alone writes them there: none
/// seeks back to finish its header or index (Matroska and NUT leave their
/// index out, FLV its duration), so the final mux, writing the same pipe,
/// writes what ffmpeg alone would. MP4 and MOV need a seekable output
/// (or fragments), AVI an index at the end.
pub const STDOUT_FORMATS: &[&str] = &["matroska", "webm", "mpegts", "nut", "flv"];

/// Why an output to standard output in `format` is not distributed, if it
/// is not: a muxer that needs to seek, or `-progress` on the same pipe.
/// ffmpeg alone writes to the pipe as it encodes; the final mux writes
/// the same bytes once every chunk is in.
fn stdout_output(command: &Command, format: &str) -> Result<(), String> {
    if !STDOUT_FORMATS.contains(&format) {
        return Err(format!("{format} to standard output is not distributable"));
    }
    if command.global("progress").is_some_and(|p| crate::job::is_stdout(value(p))) {
        return Err("-progress and the output on standard output together".into());
    }
    Ok(())
}

/// Whether `opt` is a global filter graph.
fn is_graph(opt: &Opt) -> bool {
    matches!(opt.name.as_str(), "filter_complex" | "lavfi")
}

/// Decides whether a one-output `command` can be distributed; the error is
/// the reason why not.
pub fn route(command: &Command) -> Result<EncodeJob, String> {
    let mut graph = None;
    for global in &command.globals {
        if is_graph(global) {
            if graph.is_some() {
                return Err(format!("more than one {} is not distributable", global.flag()));
            }
            graph = Some(crate::graph::parse(global)?);
            continue;
        }
        if !GLOBALS.contains(&global.name.as_str()) {
            return Err(format!("global option {} is not distributable", global.flag()));
        }
    }
    if command.global("y").is_some_and(Opt::enabled)
        && command.global("n").is_some_and(Opt::enabled)
    {
        return Err("-y and -n together".into());
    }
    let copy_ts = copy_ts(command)?;
    let graph_tokens = graph.as_ref().map(|g| g.tokens.clone());
    let (graph, audio_chains) = match graph {
        Some(g) => (g.video, g.audio),
        None => (None, Vec::new()),
    };
    let mut chains_mapped = vec![false; audio_chains.len()];
    if !command.trailing.is_empty() {
        return Err("options after the last output".into());
    }
    let Some((input, extras)) = command.inputs.split_first() else {
        return Err("0 inputs (one is distributable)".into());
    };
    let image_overlay = graph.as_ref().and_then(|g| g.overlay.as_ref());
    let extra_inputs = extras
        .iter()
        .enumerate()
        .map(|(k, extra)| match image_overlay {
            Some(overlay) if overlay.file.unwrap_or(1) == k + 1 => {
                extra_input(k + 1, &unlooped_image(k + 1, extra, overlay)?)
            }
            _ => extra_input(k + 1, extra),
        })
        .collect::<Result<Vec<_>, String>>()?;
    let [output] = command.outputs.as_slice() else {
        return Err(format!("{} outputs (one is distributable)", command.outputs.len()));
    };

    let input_kind = input_kind(input);
    let image_sequence =
        input_kind == InputKind::File && crate::image_sequence::is_image_sequence(input);
    // Images piped one after the other (`-f image2pipe -i -`) may differ
    // in size and format as a sequence's files may.
    let piped_images =
        input_kind == InputKind::Stdin && input.last("f").map(value) == Some("image2pipe");
    let mut input_args = Vec::new();
    let mut input_trim_args = Vec::new();
    let mut input_window = Window::default();
    let mut input_ts_offset_us = 0;
    for opt in &input.options {
        match opt.name.as_str() {
            "ss" => input_window.start = Some(duration(opt)?),
            "t" => input_window.duration = Some(duration(opt)?),
            "to" => input_window.to = Some(duration(opt)?),
            "itsoffset" if input_kind == InputKind::File => input_ts_offset_us = duration(opt)?,
            // Read as `-framerate` (`image_sequence::rate_as_framerate`),
            // once the output's rate is known.
            "r" if image_sequence => continue,
            // Counted by (`counted_rate`): the trial and the final mux get
            // it as ffmpeg alone does, the nodes a frame map.
            "r" if input_kind == InputKind::File => {}
            _ if reader_option(input_kind, input, opt) => {
                input_args.extend(opt.tokens());
                continue;
            }
            _ => return Err(format!("input option {} is not distributable", opt.flag())),
        }
        input_trim_args.extend(opt.tokens());
    }
    match input_kind {
        InputKind::File if input.url.contains("://") || input.url.starts_with("pipe:") => {
            return Err("the input is not a file".into());
        }
        // Its files are found by the probe, or ffmpeg says why not.
        InputKind::File if crate::image_sequence::names_many(input) => {}
        InputKind::File if !is_regular_file(&input.url) => {
            return Err("the input is not a regular file".into());
        }
        InputKind::Stdin if input_window.end().is_some() => {
            // ffmpeg stops reading there; dffmpeg spools the pipe to its end.
            return Err("a pipe read only up to -t/-to is not distributable".into());
        }
        _ => {}
    }

    let output_url = &output.url;
    let to_stdout = crate::job::is_stdout(output_url) && !output.forced;
    if !to_stdout
        && (output.forced
            || output_url == "-"
            || output_url.contains(':')
            || output_url.starts_with("/dev/"))
    {
        return Err("the output is not a regular file path".into());
    }
    let mut job_format = None;
    let mut encoder = None;
    let mut encoder_options = Vec::new();
    let mut pix_fmt = None;
    let mut filters = Vec::new();
    let mut maps = Vec::new();
    let mut mux_args = Vec::new();
    let mut output_window = Window::default();
    let mut disable = Disabled::default();
    let mut passes = 1;
    // -vsync is global and -fps_mode per stream: -fps_mode wins wherever
    // it stands, as the per-stream option overrides the global default.
    let mut fps_mode = match command.global("vsync") {
        Some(opt) => parse_fps_mode(value(opt), true)?,
        None => None,
    };
    let mut passlogfile = None;
    let mut output_rate = None;
    let mut max_frames = None;
    let mut video_output_index = None;
    let mut graph_mapped = false;
    for opt in &output.options {
        if is_later_version(&opt.name) {
            return Err(format!("{} is an ffmpeg 6/7 option", opt.flag()));
        }
        let spec = opt.spec.as_deref();
        let parsed = opt.stream_spec().map_err(|e| e.to_string())?;
        let name = opt.name.as_str();
        // `-x264opts:0`: output stream 0, which must be the video (checked
        // once the streams are known, `streams::select`).
        let by_index = match parsed {
            StreamSpec::Index(n) if takes_video_index(name) => Some(n as usize),
            _ => None,
        };
        if let Some(n) = by_index {
            if let Some(m) = video_output_index.filter(|&m| m != n) {
                return Err(format!("options for the video given to output streams #{m} and #{n}"));
            }
            video_output_index = Some(n);
        }
        let video_spec = parsed.is_plain_video() || by_index.is_some();
        match name {
            "metadata" if sets_rotation_on_video(opt) => {
                return Err(format!(
                    "{} {} on the encoded video is not distributable (ffmpeg alone ignores it \
                     there; the final mux, which copies the video, would not)",
                    opt.flag(),
                    value(opt)
                ));
            }
            "c" | "codec" | "vcodec" | "acodec" | "scodec" => {
                let kind = match name {
                    "vcodec" => Some("v"),
                    "acodec" => Some("a"),
                    "scodec" => Some("s"),
                    _ => spec.map(|s| s.split(':').next().unwrap_or(s)),
                };
                match kind {
                    Some("v") | Some("V") if video_spec || name == "vcodec" => {
                        encoder = Some(value(opt).to_string());
                    }
                    Some("a") | Some("s") => mux_args.extend(opt.tokens()),
                    // `-c copy` applies to the video too: the last codec
                    // option that matches a stream wins, so after `-c:v x`
                    // it turns the video into a copy.
                    None if value(opt) == "copy" => {
                        encoder = Some("copy".to_string());
                        mux_args.extend(opt.tokens());
                    }
                    _ => return Err(format!("{} {} is not distributable", opt.flag(), value(opt))),
                }
            }
            "pix_fmt" if spec.is_none() || video_spec => pix_fmt = Some(value(opt).to_string()),
            // The container's tag for the video (`-tag:v hvc1` for Apple
            // players): the final mux sets it on the copied video.
            "vtag" => mux_args.extend(opt.tokens()),
            "tag" if video_spec => mux_args.extend(opt.tokens()),
            "vf" | "filter" if graph.is_some() && (name == "vf" || video_spec) => {
                // ffmpeg refuses a simple graph on a complex graph's output.
                return Err(format!("{} with -filter_complex is not distributable", opt.flag()));
            }
            "vf" => filters = parse_filters(opt)?,
            "filter" if video_spec => filters = parse_filters(opt)?,
            "map" => {
                let map = parse_map(value(opt)).map_err(|e| e.to_string())?;
                match (map.source, &graph) {
                    (MapSource::Label(label), Some(g)) if g.label.as_ref() == Some(&label) => {
                        if graph_mapped {
                            return Err(format!("-map [{label}] is given twice"));
                        }
                        graph_mapped = true;
                        maps.push(g.input.clone());
                    }
                    (MapSource::Label(label), _)
                        if audio_chains.iter().any(|c| c.label == label) =>
                    {
                        let k = audio_chains.iter().position(|c| c.label == label).unwrap_or(0);
                        if chains_mapped[k] {
                            return Err(format!("-map [{label}] is given twice"));
                        }
                        chains_mapped[k] = true;
                        maps.push(format!("[{label}]"));
                    }
                    (MapSource::Label(label), _) => {
                        return Err(format!("-map [{label}] maps no distributable graph output"));
                    }
                    (MapSource::Streams { .. }, _)
                        if map.negative && (graph.is_some() || !audio_chains.is_empty()) =>
                    {
                        // It would remove the graph's stream, which stands for its input here.
                        return Err(
                            "a negative -map with -filter_complex is not distributable".into()
                        );
                    }
                    (MapSource::Streams { .. }, _) => maps.push(value(opt).to_string()),
                }
            }
            "frames" | "vframes" if name == "vframes" || video_spec => {
                max_frames =
                    Some(value(opt).parse::<u64>().map_err(|_| {
                        format!("{} {} is not a frame count", opt.flag(), value(opt))
                    })?);
            }
            "ss" => output_window.start = Some(duration(opt)?),
            "t" | "to" if input_kind == InputKind::Stdin => {
                return Err("a pipe read only up to -t/-to is not distributable".into());
            }
            "t" => output_window.duration = Some(duration(opt)?),
            "to" => output_window.to = Some(duration(opt)?),
            "f" => job_format = Some(value(opt).to_string()),
            "an" => disable.audio = true,
            "sn" => disable.subtitles = true,
            "dn" => disable.data = true,
            "vn" => return Err("-vn leaves no video to encode".into()),
            "pass" if spec.is_none() || video_spec => match value(opt) {
                "2" => passes = 2,
                other => return Err(format!("-pass {other} is not distributable (-pass 2 is)")),
            },
            "fps_mode" if spec.is_none() || video_spec => {
                fps_mode = parse_fps_mode(value(opt), false)?;
            }
            "r" if spec.is_none() || video_spec => {
                output_rate = Some(parse_video_rate(value(opt)).ok_or_else(|| {
                    format!("-r {} is not a rate we parse (N, N/M or a decimal is)", value(opt))
                })?);
            }
            "passlogfile" if spec.is_none() || video_spec => {
                passlogfile = Some(value(opt).to_string());
            }
            // The nodes are given the times of their chunk's forced frames
            // (`forced`), never the expression.
            "force_key_frames" if spec.is_none() || video_spec => {
                if crate::forced::Rule::parse(value(opt)).is_none() {
                    return Err(format!(
                        "-force_key_frames {} is not distributable (a list of times or \
                         expr:gte(t,S+n_forced*N) is)",
                        value(opt)
                    ));
                }
                encoder_options.push((name.to_string(), value(opt).to_string()));
            }
            _ if node::spec::OPTIONS.contains(&name) && (spec.is_none() || video_spec) => {
                node::spec::check_option(name, value(opt))
                    .map_err(|e| format!("{} {}: {e}", opt.flag(), value(opt)))?;
                if matches!(name, "q" | "qscale" | "strict") && spec.is_none() {
                    // Without a specifier it applies to every encoder, the
                    // final mux's audio encoders included.
                    mux_args.extend(opt.tokens());
                }
                encoder_options.push((name.to_string(), value(opt).to_string()));
            }
            _ if matches!(parsed.media_type(), Some(MediaType::Audio | MediaType::Subtitle)) => {
                mux_args.extend(opt.tokens());
            }
            _ if MUX_OPTIONS.contains(&name) => mux_args.extend(opt.tokens()),
            _ if crate::segmented::OPTIONS.contains(&name) => {
                crate::segmented::check_option(name, value(opt))?;
                mux_args.extend(opt.tokens());
            }
            _ => return Err(format!("output option {} is not distributable", opt.flag())),
        }
        if matches!(name, "ss" | "t" | "to" | "f") {
            mux_args.extend(opt.tokens());
        }
    }
    if let Some(k) = chains_mapped.iter().position(|mapped| !mapped) {
        // ffmpeg reports the unconnected output itself.
        return Err(format!("the graph's output [{}] is not mapped", audio_chains[k].label));
    }
    if !audio_chains.is_empty() {
        // ffmpeg refuses these on a graph's output; let it say so.
        if let Some(opt) = output.options.iter().find(|o| {
            o.name == "af"
                || o.name == "filter" && o.spec.as_deref().is_some_and(|s| s.starts_with('a'))
        }) {
            return Err(format!("{} with -filter_complex audio is not distributable", opt.flag()));
        }
        if disable.audio {
            return Err("-an with -filter_complex audio is not distributable".into());
        }
    }
    if let Some(g) = &graph {
        match &g.label {
            Some(label) if !graph_mapped => {
                return Err(format!("the graph's output [{label}] is not mapped"));
            }
            Some(_) => {}
            // An unlabeled output comes first, before the mapped streams
            // (without maps, `streams::select` puts it first).
            None if !maps.is_empty() => maps.insert(0, g.input.clone()),
            None => {}
        }
        filters = g.filters.clone();
    }
    if to_stdout && job_format.is_none() {
        return Err("standard output without -f (ffmpeg finds no format for it)".into());
    }
    let output_format = match job_format {
        Some(f) => CONTAINERS
            .iter()
            .find(|(name, _)| *name == f)
            .map(|(name, _)| name.to_string())
            .ok_or_else(|| format!("output format {f} is not distributable"))?,
        None => format_from_extension(Path::new(output_url))
            .ok_or("the output extension names no container we assemble")?,
    };
    if to_stdout {
        stdout_output(command, &output_format)?;
    }
    // Without -c:v, ffmpeg alone encodes with the container's default
    // encoder; the trial confirms which (`EncodeJob::default_encoder`).
    let default_encoder = encoder.is_none();
    let encoder = match encoder {
        Some(encoder) => encoder,
        None => crate::streams::default_video_encoder(&output_format)
            .ok_or_else(|| {
                format!("no -c:v, and {output_format}'s default encoder is not distributable")
            })?
            .to_string(),
    };
    let mut input_description_args = None;
    if let Some(rate) = image_sequence
        .then(|| crate::image_sequence::rate_as_framerate(input, output_rate))
        .transpose()?
        .flatten()
    {
        // ffmpeg alone's demuxer gets R only when -f names it.
        if input.last("f").is_none() {
            input_description_args = Some(input_args.clone());
        }
        input_args.extend(["-r".to_string(), rate]);
        input_args = crate::probe::rate_over_framerate(&input_args);
    }
    let fps_filter = fps_rate(&filters)?;
    if fps_filter.is_some() && output_rate.is_some() {
        return Err("-r with -vf fps is not distributable".into());
    }
    // mpeg2video at an output rate, even one it keeps: seen, its copied
    // packets interleaved with the audio's otherwise than ffmpeg alone's
    // (Matroska, MPEG-TS; every stream's packets the same).
    if let Some((num, den)) =
        output_rate.filter(|&rate| encoder == "mpeg2video" || !encoder_keeps_rate(&encoder, rate))
    {
        return Err(format!("-r {num}/{den} with {encoder} is not distributable"));
    }
    let counting = |(n, a): &(String, String)| match n.as_str() {
        "drawtext" => crate::drawtext::counts_frames(a),
        "fade" => crate::fade::FrameFade::of(a).is_some(),
        _ => false,
    };
    if let Some(at) = filters.iter().rposition(counting) {
        // Each chunk counts on from the frames before it, which the
        // coordinator knows as they enter the filters: before an fps
        // filter, and from the first decoded frame, which an output -ss
        // drops only after the filters.
        let name = &filters[at].0;
        if filters[..at].iter().any(|(name, _)| name == "fps") {
            return Err(format!("{name} counting frames after -vf fps is not distributable"));
        }
        if output_window.start.is_some() {
            return Err(format!("{name} counting frames with an output -ss is not distributable"));
        }
    }
    if let Some(at) = filters.iter().rposition(|(n, _)| n == "subtitles" || n == "ass") {
        // Chunks start where no event shows that showed on the frame before
        // (`subtitle_events`), which the coordinator knows of the frames
        // that enter the filters: before an fps filter, and from the first
        // decoded frame, which an output -ss drops only after the filters.
        let name = &filters[at].0;
        if filters[..at].iter().any(|(name, _)| name == "fps") {
            return Err(format!("{name} after -vf fps is not distributable"));
        }
        if output_window.start.is_some() {
            return Err(format!("{name} with an output -ss is not distributable"));
        }
    }
    if fps_filter.is_some()
        && (input_window != Window::default() || output_window != Window::default())
    {
        return Err("-vf fps with -ss/-t/-to is not distributable yet".into());
    }
    let windowed = |input: &FileArg| {
        input.options.iter().any(|o| matches!(o.name.as_str(), "ss" | "t" | "to" | "itsoffset"))
    };
    if copy_ts && (command.inputs.iter().any(windowed) || output_window != Window::default()) {
        return Err("-copyts with -ss, -t, -to or -itsoffset is not distributable".into());
    }
    if input_ts_offset_us != 0
        && (input_window != Window::default() || output_window != Window::default())
    {
        return Err("input -itsoffset with -ss, -t or -to is not distributable".into());
    }
    if input_ts_offset_us < 0 && matches!(output_format.as_str(), "matroska" | "webm" | "flv") {
        // Seen: frames, audio and start times alike, but the container's
        // duration 26 ms shorter than ffmpeg alone's (8.057 s for 8.083 s).
        return Err(format!(
            "a negative input -itsoffset into {output_format} is not distributable yet"
        ));
    }
    // `-` read is standard input, `-` written standard output.
    if !to_stdout
        && command
            .inputs
            .iter()
            .any(|i| crate::job::file_path(Path::new(&i.url)) == Path::new(&output.url))
    {
        // ffmpeg: "Output #0 same as Input #0 - exiting".
        return Err("the output is the input".into());
    }
    let overlay_image =
        graph.as_ref().and_then(|g| g.overlay.as_ref()).map(|o| o.file.unwrap_or(1));
    if let Some(file) = overlay_image {
        overlay_input(file, command, &extra_inputs)?;
    }
    if encoder == "copy" {
        return Err("-c:v copy does not encode".into());
    }
    if !node::spec::ENCODERS.contains(&encoder.as_str()) {
        return Err(format!("encoder {encoder} is not distributable"));
    }
    if output_window.start.is_some() && matches!(output_format.as_str(), "hls" | "dash" | "segment")
    {
        // Their segments are cut on ffmpeg alone's keyframes, counted from
        // the first output frame (`segmented`); not tried with a start.
        return Err(format!("output -ss into {output_format} is not distributable yet"));
    }
    let overwrite = if command.global("y").is_some_and(Opt::enabled) {
        Overwrite::Yes
    } else if command.global("n").is_some_and(Opt::enabled) {
        Overwrite::No
    } else {
        Overwrite::Ask
    };
    if passes == 2 && !node::spec::TWO_PASS_ENCODERS.contains(&encoder.as_str()) {
        return Err(format!("-pass 2 with {encoder} is not distributable"));
    }
    let keyint = match output_format.as_str() {
        f if crate::segmented::FORMATS.contains(&f) => {
            Some(crate::segmented::keyint(f, &encoder, &encoder_options, fps_filter.is_some())?)
        }
        _ => None,
    };
    let console = Console::from_command(command)?;
    let mut trial_options = trial_options(command, output);
    if let Some(tokens) = graph_tokens {
        trial_options.splice(0..0, tokens);
    }
    let mut job = EncodeJob {
        input: PathBuf::from(&input.url),
        image_sequence: image_sequence || piped_images,
        input_kind,
        input_args,
        input_description_args,
        input_trim_args,
        input_window,
        output: PathBuf::from(output_url),
        output_window,
        output_format,
        encoder,
        encoder_options,
        pix_fmt,
        filters,
        turn: Vec::new(),
        filter_files: Vec::new(),
        subtitle_fonts: None,
        subtitle_events: Vec::new(),
        fps_filter,
        maps,
        mux_args,
        disable,
        overwrite,
        console,
        passes,
        passlogfile,
        fps_mode,
        output_rate,
        counted_rate: None,
        trial_options,
        trial_mapping: Vec::new(),
        video_tag: None,
        video_encoder_tag: None,
        extra_inputs,
        max_frames,
        video_output_index,
        copy_ts,
        input_ts_offset_us,
        autorotate: input.last("autorotate").is_none_or(Opt::enabled),
        keyint,
        graph,
        audio_chains,
        default_encoder,
    };
    if job.output_format == "segment" {
        crate::segmented::segment_container(&job)?;
    }
    if input_kind == InputKind::File && !image_sequence {
        job.counted_rate = crate::counted_rate::for_file(input, &job)?;
    }
    Ok(job)
}

/// The output's options for the trial run (`crate::trial`), and `-vsync`,
/// which is global: all but an output `-ss`, which would make the trial
/// decode up to it, and `-pass`/`-passlogfile`, whose log the trial must
/// neither read for one frame nor write over.
fn trial_options(command: &Command, output: &FileArg) -> Vec<String> {
    let vsync = command.global("vsync").map(Opt::tokens).unwrap_or_default();
    let kept = output
        .options
        .iter()
        .filter(|o| !matches!(o.name.as_str(), "ss" | "pass" | "passlogfile"))
        .flat_map(Opt::tokens);
    vsync.into_iter().chain(kept).collect()
}

/// The overlay image's input `file` without `-loop 1`, where looping it
/// changes nothing ffmpeg alone writes: when the overlay ends with the
/// video (`shortest=1`), each frame of the loop is the same image, which
/// the overlay would repeat anyway. (`-framerate` stays, and is refused:
/// it changes how ffmpeg describes the input.) Without
/// `shortest=1` the overlay lasts as long as the loop: forever, or, cut by
/// `-t`, repeating the video's last frame as long as the loop outlasts it;
/// that is ffmpeg's to run. Filters on a looped image must not read its
/// time, which the loop moves. Other options stay, for `overlay_input`.
fn unlooped_image(file: usize, input: &FileArg, overlay: &GraphOverlay) -> Result<FileArg, String> {
    let looped = match input.last("loop") {
        None => false,
        Some(opt) if opt.spec.is_none() && matches!(value(opt), "0" | "1") => value(opt) == "1",
        Some(opt) => {
            return Err(format!(
                "input #{file}'s {} {} is not distributable",
                opt.flag(),
                value(opt)
            ));
        }
    };
    let mut unlooped = input.clone();
    unlooped.options.retain(|o| o.name != "loop");
    match (looped, overlay.shortest) {
        (false, false) => Ok(unlooped),
        (false, true) => {
            Err("overlay shortest=1 over a single image ends after one frame; not distributable"
                .into())
        }
        (true, false) => {
            Err(format!("-loop 1 on input #{file} without overlay shortest=1 is not distributable"))
        }
        (true, true) if overlay.enable.is_some() => Err(format!(
            "overlay enable over input #{file}, a looped image, is evaluated at the loop's frames \
             too; not distributable"
        )),
        (true, true) => {
            let filters = &overlay.image_filters;
            if let Some(var) = filters.iter().find_map(|(_, args)| time_variable(args)) {
                return Err(format!(
                    "a filter on input #{file}, a looped image, reads {var}, which the loop moves"
                ));
            }
            Ok(unlooped)
        }
    }
}

/// The variable of a filter's expressions that reads the frame's time (`t`,
/// `T`, `time`), if any.
pub(crate) fn time_variable(args: &str) -> Option<&str> {
    value_words(args).find(|word| matches!(*word, "t" | "T" | "time"))
}

/// The words of a filter's option values (`w=min(iw,640)` gives `min`,
/// `iw`, `640`): an option's name (zscale's `r=tv`, drawbox's `t=2`) is no
/// variable.
fn value_words(args: &str) -> impl Iterator<Item = &str> {
    let values = args.split(':').map(|option| match option.split_once('=') {
        Some((key, value)) if key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => value,
        _ => option,
    });
    values.flat_map(|v| v.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
}

/// Checks that input `file`, the graph's overlay image, is one the nodes
/// can be sent: an input (ffmpeg reports a missing one itself) with no
/// options, which would change how it is read, and not mapped to the output
/// itself (a second video stream).
fn overlay_input(file: usize, command: &Command, extras: &[ExtraInput]) -> Result<(), String> {
    let Some(extra) = extras.get(file.wrapping_sub(1)) else {
        return Err(format!("the overlay reads input #{file}, which is not given"));
    };
    if !extra.args.is_empty() {
        return Err(format!("input #{file}'s options with an overlay image are not distributable"));
    }
    let mapped = command.outputs.iter().flat_map(|o| &o.options).any(|opt| {
        opt.name == "map"
            && parse_map(value(opt)).is_ok_and(
                |m| matches!(m.source, MapSource::Streams { file: f, .. } if f as usize == file),
            )
    });
    if mapped {
        return Err(format!("-map of input #{file}, the overlay image, is not distributable"));
    }
    Ok(())
}

/// Input `k` (1 or more) as the final mux reads it, for the streams it
/// maps from it: a regular file with options whose effect is the same in
/// every ffmpeg that opens it (its demuxer, a seek, a length, an offset, a
/// subtitle charset). Its video is never what is encoded.
fn extra_input(k: usize, input: &FileArg) -> Result<ExtraInput, String> {
    if input_kind(input) != InputKind::File
        || input.url.contains("://")
        || input.url.starts_with("pipe:")
        || !is_regular_file(&input.url)
    {
        return Err(format!("input #{k} is not a regular file"));
    }
    let mut args = Vec::new();
    for opt in &input.options {
        let passes = match opt.name.as_str() {
            "f" => !matches!(value(opt), "lavfi" | "concat" | "image2" | "image2pipe"),
            "ss" | "t" | "to" | "itsoffset" | "sub_charenc" | "thread_queue_size" => true,
            "analyzeduration" | "probesize" | "fflags" => same_in_every_reader(opt),
            _ => false,
        };
        if !passes {
            return Err(format!("input #{k}'s option {} is not distributable", opt.flag()));
        }
        args.extend(opt.tokens());
    }
    Ok(ExtraInput { url: PathBuf::from(&input.url), args })
}

/// Whether `-copyts` is given, where it can be distributed: with
/// `-start_at_zero`, as media servers write it (Jellyfin's HLS transcode).
/// The pair then shifts the input's timestamps by its start time as ffmpeg
/// does without them, so one change is left for an encode of a file that
/// is neither cut nor offset (checked by the caller): an output ffmpeg
/// writes at a constant rate by default keeps a late first frame where it
/// is instead of repeating it from 0 (`VSYNC_VSCFR`, `retime`). ffmpeg also
/// stops correcting jumps in the input's timestamps; such inputs are
/// refused once probed (`distribute`). Without `-start_at_zero` the output
/// keeps the input's start time, which the chunks do not reproduce.
fn copy_ts(command: &Command) -> Result<bool, String> {
    let on = |name| command.global(name).is_some_and(Opt::enabled);
    match (on("copyts"), on("start_at_zero")) {
        (true, false) => Err("-copyts without -start_at_zero is not distributable".into()),
        (copy_ts, _) => Ok(copy_ts),
    }
}

/// `-metadata:s:v rotate=90` and any other `rotate=` a stream specifier
/// that may pick the video gives: ffmpeg 5.1 turns it into a display
/// matrix on copied streams only.
fn sets_rotation_on_video(opt: &Opt) -> bool {
    let Some(spec) = opt.spec.as_deref() else { return false };
    let other_type = spec
        .strip_prefix("s:")
        .and_then(|rest| rest.split(':').next())
        .is_some_and(|kind| matches!(kind, "a" | "s" | "d" | "t"));
    value(opt).starts_with("rotate=") && (spec == "s" || spec.starts_with("s:")) && !other_type
}

/// True for an output option that applies to the encoded video when its
/// specifier picks the video's output stream: those that the options loop
/// takes for the video when written `:v`.
fn takes_video_index(name: &str) -> bool {
    matches!(
        name,
        "pix_fmt"
            | "tag"
            | "filter"
            | "frames"
            | "pass"
            | "fps_mode"
            | "r"
            | "passlogfile"
            | "force_key_frames"
    ) || node::spec::OPTIONS.contains(&name)
}

/// True when `url` names a regular file, with or without `file:`.
fn is_regular_file(url: &str) -> bool {
    crate::job::file_path(Path::new(url)).is_file()
}

/// How `input` is read: a `-f lavfi` graph, standard input, or a file.
fn input_kind(input: &FileArg) -> InputKind {
    if input.last("f").map(value) == Some("lavfi") {
        InputKind::Lavfi
    } else if InputKind::reads_stdin(&input.url) {
        InputKind::Stdin
    } else {
        InputKind::File
    }
}

/// True for an input option (other than a trim) that every reader of the
/// input is given as written, because its effect is the same on each.
///
/// A file may only name its demuxer (and the concat demuxer's `-safe`),
/// and its decoder's threads; an image sequence also its rate, first number
/// and pattern kind (`image_sequence`). Standard input may also describe raw
/// video (`-s`, `-pix_fmt`, `-framerate`); for `-f rawvideo`, whose frames
/// carry no timestamps of their own, also `-r`, the `rawvideo` decoder and
/// `-an`, as moviepy and OpenCV pipes write them; for `-f image2pipe`,
/// `-r` and the images' decoder (`spool` copies such a pipe into NUT with
/// them). A lavfi graph takes none.
fn reader_option(kind: InputKind, input: &FileArg, opt: &Opt) -> bool {
    let format = input.last("f").map(value);
    let name = opt.name.as_str();
    let video_spec = opt.stream_spec().is_ok_and(|s| s.is_plain_video());
    match kind {
        InputKind::File if crate::image_sequence::is_image_sequence(input) => {
            crate::image_sequence::reader_option(opt)
        }
        InputKind::File => match name {
            "f" => !matches!(value(opt), "lavfi" | "image2" | "image2pipe"),
            "safe" => format == Some("concat"),
            // The decoder's threads and the demuxer's queue: how fast, not
            // what (libavcodec's threaded decoding is bit-exact).
            "threads" | "thread_queue_size" => true,
            "analyzeduration" | "probesize" | "fflags" => same_in_every_reader(opt),
            // Which frames the decoder turns (`autorotate::keep`): the trial
            // and the final mux, which read the input, are given it too.
            "autorotate" => opt.spec.is_none(),
            _ => false,
        },
        InputKind::Lavfi => matches!(name, "f" | "thread_queue_size"),
        InputKind::Stdin => {
            let raw = format == Some("rawvideo");
            let images = format == Some("image2pipe");
            // A piped image's decoder, which also tells the demuxer what the
            // images are: the one ffmpeg decodes them with by default.
            let image_decoder = images && crate::spool::PIPED_IMAGES.contains(&value(opt));
            match name {
                "f" => crate::spool::PIPE_FORMATS.contains(&value(opt)) || images,
                "s" | "video_size" | "pixel_format" | "framerate" | "thread_queue_size" => true,
                "pix_fmt" => opt.spec.is_none() || video_spec,
                "r" => (raw || images) && (opt.spec.is_none() || video_spec),
                "an" | "sn" | "dn" => raw,
                "c" | "codec" => video_spec && (raw && value(opt) == "rawvideo" || image_decoder),
                "vcodec" => raw && value(opt) == "rawvideo" || image_decoder,
                _ => false,
            }
        }
    }
}

/// True for a demuxer option that media servers give every input
/// (Jellyfin: `-analyzeduration 200M -probesize 1G -fflags +genpts`) and
/// that acts the same wherever the input is opened: how much of the file
/// the probe reads, and timestamps generated for packets that have none.
/// Every reader is given it (the probe in ffprobe's spelling), so each sees
/// the streams and timestamps ffmpeg alone sees. Other `-fflags` (dropping
/// corrupt packets, ignoring DTS, not buffering) change what is read, and
/// are refused.
fn same_in_every_reader(opt: &Opt) -> bool {
    match opt.name.as_str() {
        "analyzeduration" | "probesize" => true,
        "fflags" => matches!(value(opt), "+genpts" | "genpts"),
        _ => false,
    }
}

/// The rate of the one `fps` filter among `filters`, if any: `fps=24`,
/// `fps=fps=30000/1001`, with the default rounding and end of input. Other
/// forms (names such as `ntsc`, decimals, `start_time`) are refused.
fn fps_rate(filters: &[(String, String)]) -> Result<Option<(i64, i64)>, String> {
    let mut rates = filters.iter().filter(|(name, _)| name == "fps");
    let Some((_, args)) = rates.next() else { return Ok(None) };
    let refuse = || format!("-vf fps={args} is not distributable (fps=N or fps=N/M is)");
    if rates.next().is_some() {
        return Err("-vf with two fps filters is not distributable".into());
    }
    let mut rate = None;
    for (i, part) in args.split(':').enumerate() {
        match part.split_once('=') {
            None if i == 0 => rate = Some(part),
            Some(("fps", value)) => rate = Some(value),
            Some(("round", "near")) | Some(("eof_action", "round")) => {}
            _ => return Err(refuse()),
        }
    }
    let number = |t: &str| t.parse::<i64>().ok().filter(|n| *n > 0);
    let parsed = match rate.unwrap_or_default().split_once('/') {
        Some((num, den)) => number(num).zip(number(den)),
        None => rate.and_then(number).map(|n| (n, 1)),
    };
    parsed.map(Some).ok_or_else(refuse)
}

/// ffmpeg's `av_parse_video_rate` for the forms it reads exactly: a name
/// (`ntsc`, `pal`, `film`...), an integer, `N/M`, or a decimal, each reduced
/// as `av_d2q` reduces it (numerator and denominator at most 1001000).
/// Other expressions, and zero or negative rates (which ffmpeg rejects), give `None`.
pub fn parse_video_rate(text: &str) -> Option<(i64, i64)> {
    const NAMES: &[(&str, (i64, i64))] = &[
        ("ntsc", (30000, 1001)),
        ("pal", (25, 1)),
        ("qntsc", (30000, 1001)),
        ("qpal", (25, 1)),
        ("sntsc", (30000, 1001)),
        ("spal", (25, 1)),
        ("film", (24, 1)),
        ("ntsc-film", (24000, 1001)),
    ];
    if let Some((_, rate)) = NAMES.iter().find(|(name, _)| *name == text) {
        return Some(*rate);
    }
    let digits = |t: &str| !t.is_empty() && t.len() <= 7 && t.bytes().all(|b| b.is_ascii_digit());
    let (num, den) = match (text.split_once('/'), text.split_once('.')) {
        (Some((n, d)), None) if digits(n) && digits(d) => (n.parse().ok()?, d.parse().ok()?),
        (None, Some((whole, fraction))) if digits(whole) && digits(fraction) => {
            let scale = 10i64.pow(fraction.len() as u32);
            (whole.parse::<i64>().ok()? * scale + fraction.parse::<i64>().ok()?, scale)
        }
        (None, None) if digits(text) => (text.parse().ok()?, 1),
        _ => return None,
    };
    if num <= 0 || den <= 0 {
        return None;
    }
    let divisor = gcd(num, den);
    let reduced = (num / divisor, den / divisor);
    (reduced.0 <= 1_001_000 && reduced.1 <= 1_001_000).then_some(reduced)
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The rates of MPEG-1/2's frame rate codes, which mpeg2video keeps.
const MPEG_RATES: &[(i64, i64)] =
    &[(24000, 1001), (24, 1), (25, 1), (30000, 1001), (30, 1), (50, 1), (60000, 1001), (60, 1)];

/// Whether `encoder` encodes at `rate` as given. mpeg2video moves other
/// rates to one it can code, or fails (measured: `-r 25/2` comes out at
/// 12 fps, `-r 17` at 16, where the chunks' frame maps then give two
/// frames one timestamp); mpeg4 reduces a rate to a fraction of at most
/// 65535. Chunks timed at the given rate would disagree with either.
pub(crate) fn encoder_keeps_rate(encoder: &str, (num, den): (i64, i64)) -> bool {
    match encoder {
        "mpeg2video" => MPEG_RATES.contains(&(num, den)),
        "mpeg4" => num <= 65_535 && den <= 65_535,
        _ => true,
    }
}

/// `-fps_mode`/`-vsync` values that chunks reproduce; `None` for `auto`.
/// ffmpeg 5.1's `-vsync` takes a name (not `auto`) or a number from -1 to 2,
/// `-fps_mode` a name only; anything else is left for ffmpeg to reject.
fn parse_fps_mode(text: &str, vsync: bool) -> Result<Option<FpsMode>, String> {
    let flag = if vsync { "-vsync" } else { "-fps_mode" };
    Ok(Some(match (text, vsync) {
        ("auto", false) | ("-1", true) => return Ok(None),
        ("passthrough", _) | ("0", true) => FpsMode::Passthrough,
        ("cfr", _) | ("1", true) => FpsMode::Cfr,
        ("vfr", _) | ("2", true) => FpsMode::Vfr,
        (other, _) => return Err(format!("{flag} {other} is not distributable")),
    }))
}

fn value(opt: &Opt) -> &str {
    opt.value.as_deref().unwrap_or_default()
}

fn duration(opt: &Opt) -> Result<i64, String> {
    parse_duration(value(opt))
        .ok_or_else(|| format!("{} {} is not a duration we parse", opt.flag(), value(opt)))
}

/// Filters that look at more than one frame, or change which frames exist or
/// when: a chunk boundary would change their output.
pub(crate) const TEMPORAL_FILTERS: &[&str] = &[
    "fps",
    "framerate",
    "minterpolate",
    "yadif",
    "bwdif",
    "w3fdif",
    "estdif",
    "kerndeint",
    "tpad",
    "tblend",
    "tmix",
    "tmidequalizer",
    "select",
    "setpts",
    "trim",
    "loop",
    "reverse",
    "deflicker",
    "hqdn3d",
    "atadenoise",
    "fieldmatch",
    "decimate",
    "mpdecimate",
    "framestep",
    "interlace",
    "telecine",
    "zoompan",
    "thumbnail",
    "deshake",
    "vidstabdetect",
    "vidstabtransform",
    "freezedetect",
    "blackdetect",
    "scdet",
    "showinfo",
    "idet",
];

/// Splits a `-vf` graph into frame-local filters, refusing anything else.
fn parse_filters(opt: &Opt) -> Result<Vec<(String, String)>, String> {
    let graph = parse_graph(value(opt)).map_err(|e| format!("{}: {e}", opt.flag()))?;
    let [chain] = graph.as_slice() else {
        return Err(format!("{} holds more than one filter chain", opt.flag()));
    };
    frame_local(&opt.flag(), value(opt), chain)
}

/// The variable of a filter's expressions (in `args`) that a chunk would
/// read differently from ffmpeg alone, if any: the frame number or byte
/// position, which a chunk counts from its own start (`crop=...:x=n*2`), or
/// timestamps and rates in the chunk input's time base (`hue=h=pts`), or
/// the functions that keep state from one frame to the next in the
/// expression's variables (`random(0)`, `st`/`ld`, and `while`, `root`,
/// `taylor`, which write them), which a chunk starts afresh. `t` is safe:
/// the chunks keep ffmpeg alone's timeline. Only values are read: an
/// option's name (zscale's `r=tv`) is no variable.
pub(crate) fn chunk_dependent_variable(args: &str) -> Option<&str> {
    value_words(args).find(|word| {
        matches!(
            *word,
            "n" | "N"
                | "pos"
                | "pts"
                | "PTS"
                | "tb"
                | "TB"
                | "r"
                | "random"
                | "ld"
                | "st"
                | "while"
                | "root"
                | "taylor"
        )
    })
}

/// The options `curves` takes by position, in the order of its option
/// table (ffmpeg 5.1), up to the ones the nodes refuse (`psfile`, `plot`).
const CURVES_POSITIONAL: &[&str] = &["preset", "master", "red", "green", "blue", "all"];

/// The filters of `chain` (written as `text` after the option `flag`) as
/// the nodes run them, when each is frame-local: what a chunk reproduces
/// exactly, frame by frame. No filter may name a link label.
pub(crate) fn frame_local(
    flag: &str,
    text: &str,
    chain: &[crate::args::Filter],
) -> Result<Vec<(String, String)>, String> {
    let mut filters = Vec::new();
    for filter in chain {
        // fps decides per output slot from the frames around it, which a
        // chunk that also sees the next chunk's first frame reproduces.
        if TEMPORAL_FILTERS.contains(&filter.name.as_str()) && filter.name != "fps" {
            return Err(format!(
                "{} with a temporal filter ({}) is not distributable",
                flag, filter.name
            ));
        }
        if !filter.inputs.is_empty() || !filter.outputs.is_empty() {
            return Err(format!("{} names link labels", flag));
        }
        let mut args = filter.args.as_deref().map(crate::args::unquoted).unwrap_or_default();
        if filter.name == "fade" {
            args = crate::fade::normalized(&args).map_err(|e| format!("{flag} {text}: {e}"))?;
        }
        if filter.name == "curves" {
            // The node takes curves' options named only (`node::spec::CURVES_OPTIONS`).
            args = crate::filter_options::named(&args, CURVES_POSITIONAL)
                .map_err(|e| format!("{flag} {text}: curves with {e} is not distributable"))?;
        }
        if let Some(normalized) = crate::filter_files::normalized(&filter.name, &args) {
            args = normalized.map_err(|e| format!("{flag} {text}: {e}"))?;
        }
        // drawtext's own check knows its variables (`n` counts on per chunk).
        let expressions = crate::filter_files::without_file(&filter.name, &args);
        // A subtitle's options are no expressions (`force_style`'s ASS styles).
        let checked = matches!(filter.name.as_str(), "drawtext" | "subtitles" | "ass");
        if let Some(var) = chunk_dependent_variable(&expressions).filter(|_| !checked) {
            return Err(format!(
                "{} {}: an expression reads {var}, which a chunk does not reproduce",
                flag, text
            ));
        }
        let probe = proto::v1::EncodeSpec {
            encoder: "libx264".into(),
            filters: vec![crate::filter_files::stand_in(&filter.name, &args)],
            keep_start_pts: 0,
            keep_end_pts: 1,
            expected_frames: 1,
            time_base: Some(proto::v1::Rational { num: 1, den: 1 }),
            frame_rate: Some(proto::v1::Rational { num: 1, den: 1 }),
            ..Default::default()
        };
        node::spec::validate(&probe).map_err(|e| format!("{} {}: {e}", flag, text))?;
        filters.push((filter.name.clone(), args));
    }
    Ok(filters)
}

/// The container we assemble that a file name's extension names, as
/// ffmpeg guesses a muxer from it.
pub fn format_from_extension(path: &Path) -> Option<String> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    CONTAINERS
        .iter()
        .find(|(_, exts)| exts.contains(&ext.as_str()))
        .map(|(name, _)| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse;

    fn route_line(line: &str, input: &Path) -> Result<EncodeJob, String> {
        let argv: Vec<String> = line
            .replace("IN", input.to_str().unwrap())
            .split_whitespace()
            .map(str::to_string)
            .collect();
        route(&parse(&argv).unwrap())
    }

    #[test]
    fn the_trial_gets_the_outputs_options_but_its_seek_and_passes() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.mkv");
        std::fs::write(&input, b"x").unwrap();
        let line = "-vsync cfr -y -ss 2 -i IN -c:v libx264 -crf 20 -ss 1 -c:a copy out.webm";
        let job = route_line(line, &input).unwrap();
        assert_eq!(job.trial_options.join(" "), "-vsync cfr -c:v libx264 -crf 20 -c:a copy");
        assert_eq!(job.input_trim_args.join(" "), "-ss 2");
    }

    /// Standard output takes a muxer that writes a pipe as it writes a
    /// file, and no `-progress` of its own.
    #[test]
    fn standard_output_in_a_streamable_format() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.mkv");
        std::fs::write(&input, b"x").unwrap();
        for url in ["-", "pipe:", "pipe:1"] {
            let job = route_line(&format!("-i IN -c:v ffv1 -f nut {url}"), &input).unwrap();
            assert!(job.writes_stdout(), "{url}");
        }
        let job = route_line("-i IN -c:v ffv1 -f matroska -", &input).unwrap();
        assert_eq!(job.output_name(), Path::new("pipe:"));
        for line in ["-f nut -i - -c:v ffv1 -f nut -", "-f nut -i pipe: -c:v ffv1 -f nut pipe:"] {
            assert!(route_line(line, &input).unwrap().writes_stdout(), "{line}");
        }
        for (line, reason) in [
            ("-i IN -c:v ffv1 -", "standard output without -f"),
            ("-i IN -c:v libx264 -f mp4 -", "mp4 to standard output is not distributable"),
            ("-i IN -c:v ffv1 -f nut pipe:2", "the output is not a regular file path"),
            ("-progress - -i IN -c:v ffv1 -f nut -", "-progress and the output on standard"),
            ("-i IN -c:v ffv1 a.mkv -c:v ffv1 -f nut -", "several outputs, one of them"),
        ] {
            let argv: Vec<String> =
                line.replace("IN", input.to_str().unwrap()).split(' ').map(String::from).collect();
            let error = route_all(&parse(&argv).unwrap()).unwrap_err();
            assert!(error.contains(reason), "{line}: {error}");
        }
    }

    /// An image sequence's `-r` reaches every reader as `-framerate`, in
    /// place of the demuxer's own; the input is described as ffmpeg alone
    /// reads it.
    #[test]
    fn an_image_sequences_input_rate_is_its_framerate() {
        let input = Path::new("f_%04d.png");
        let line = "-framerate 10 -start_number 5 -r 12 -i IN -c:v ffv1 o.mkv";
        let job = route_line(line, input).unwrap();
        assert_eq!(job.input_args.join(" "), "-start_number 5 -framerate 12");
        let described = job.input_description_args.unwrap().join(" ");
        assert_eq!(described, "-framerate 10 -start_number 5");
        let job = route_line("-f image2 -r 12 -i IN -c:v ffv1 o.mkv", input).unwrap();
        assert_eq!(job.input_args.join(" "), "-f image2 -framerate 12");
        assert_eq!(job.input_description_args, None);
        let job = route_line("-framerate 12 -i IN -c:v ffv1 o.mkv", input).unwrap();
        assert_eq!(
            (job.input_args.join(" "), job.input_description_args),
            ("-framerate 12".into(), None)
        );
    }

    /// What media servers write: `file:` inputs, the probe's limits and
    /// generated timestamps for every reader, the video's options for output
    /// stream `:0`, `-ab` and `-max_delay` for the final mux.
    #[test]
    fn media_server_options_are_distributed() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.mkv");
        std::fs::write(&input, b"x").unwrap();
        let line = "-analyzeduration 200M -probesize 1G -fflags +genpts -i file:IN -map 0:0 \
                    -map 0:1 -codec:v:0 libx264 -x264opts:0 me=dia -force_key_frames:0 \
                    expr:gte(t,0+n_forced*3) -codec:a:0 aac -ab 256000 -max_delay 5000000 o.mkv";
        let job = route_line(line, &input).unwrap();
        assert_eq!(job.input, Path::new(&format!("file:{}", input.display())));
        assert_eq!(job.input_args.join(" "), "-analyzeduration 200M -probesize 1G -fflags +genpts");
        assert_eq!(job.video_output_index, Some(0));
        assert!(job.encoder_options.contains(&("x264opts".into(), "me=dia".into())));
        assert!(job.mux_args.join(" ").ends_with("-ab 256000 -max_delay 5000000"));
        let line = "-i IN -c:v ffv1 -metadata:s:a rotate=90 -metadata rotate=1 o.mkv";
        assert!(route_line(line, &input).is_ok(), "rotate= on audio or the file is a tag");
        for (line, reason) in [
            ("-fflags +discardcorrupt -i IN -c:v ffv1 o.mkv", "input option -fflags"),
            ("-i file:IN.missing -c:v ffv1 o.mkv", "the input is not a regular file"),
            ("-i file://IN -c:v ffv1 o.mkv", "the input is not a file"),
            (
                "-i IN -c:v libx264 -x264opts:0 me=dia -crf:1 20 o.mkv",
                "options for the video given to output streams #0 and #1",
            ),
            ("-copyts -i IN -c:v ffv1 o.mkv", "-copyts without -start_at_zero"),
            (
                "-copyts -start_at_zero -i IN -c:v ffv1 -t 1 o.mkv",
                "-copyts with -ss, -t, -to or -itsoffset",
            ),
            ("-itsoffset 1 -ss 1 -i IN -c:v ffv1 o.mkv", "input -itsoffset with -ss, -t or -to"),
            ("-i IN -c:v ffv1 -metadata:s:v rotate=90 o.mkv", "-metadata:s:v rotate=90 on the"),
            ("-i IN -c:v ffv1 -metadata:s:0 rotate=0 o.mkv", "-metadata:s:0 rotate=0 on the"),
            ("-itsoffset 1 -i IN -c:v ffv1 -ss 1 o.mkv", "input -itsoffset with -ss, -t or -to"),
            ("-itsoffset -0.3 -i IN -c:v ffv1 o.mkv", "a negative input -itsoffset into matroska"),
        ] {
            let refused = route_line(line, &input).unwrap_err();
            assert!(refused.starts_with(reason), "{line}: {refused}");
        }
    }

    #[test]
    fn routes_with_reasons() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.mkv");
        std::fs::write(&input, b"x").unwrap();
        let job =
            route_line("-y -i IN -c:v libx264 -crf 23 -preset fast -c:a copy out.mkv", &input)
                .unwrap();
        assert_eq!(job.encoder, "libx264");
        assert_eq!(
            job.encoder_options,
            vec![("crf".into(), "23".into()), ("preset".into(), "fast".into())]
        );
        assert_eq!(job.mux_args, vec!["-c:a", "copy"]);
        assert_eq!(job.output_format, "matroska");
        let job = route_line("-i IN -c:v ffv1 -vf scale=160:-2,fps=fps=30000/1001 o.mkv", &input)
            .unwrap();
        assert_eq!(job.fps_filter, Some((30000, 1001)));
        let job =
            route_line("-i IN -itsoffset 0.5 -i IN -map 0:v -map 1:a -c:v libx264 o.mkv", &input)
                .unwrap();
        assert_eq!(job.extra_inputs.len(), 1);
        assert_eq!(job.extra_inputs[0].args, ["-itsoffset", "0.5"]);
        // A graph's chain runs as -vf would; its output takes the place
        // of its -map, or comes first when unlabeled.
        let graph = "-filter_complex [0:v]hflip[v] -map 0:a -map [v] -c:v libx264 o.mkv";
        let job = route_line(&format!("-i IN {graph}"), &input).unwrap();
        assert_eq!(job.maps, ["0:a", "0:v:0"]);
        assert_eq!(job.filters, [("hflip".to_string(), String::new())]);
        assert_eq!(&job.trial_options[..2], ["-filter_complex", "[0:v]hflip[v]"]);
        let job = route_line("-i IN -lavfi vflip -map 0:a -c:v libx264 o.mkv", &input).unwrap();
        assert_eq!(job.maps, ["0:v:0", "0:a"]);
        let job = route_line("-i IN -lavfi vflip -c:v libx264 o.mkv", &input).unwrap();
        assert!(job.maps.is_empty() && job.graph.is_some());
        let two = format!("-i {} -lavfi vflip -c:v libx264 a.mkv -c:v ffv1 b.mkv", input.display());
        let argv: Vec<String> = two.split_whitespace().map(str::to_string).collect();
        assert_eq!(
            route_all(&parse(&argv).unwrap()).unwrap_err(),
            "-lavfi with several outputs is not distributable"
        );
        for line in ["-frames:v 25", "-vframes 25", "-frames:v:0 25"] {
            let job = route_line(&format!("-i IN -c:v libx264 {line} o.mkv"), &input).unwrap();
            assert_eq!(job.max_frames, Some(25), "{line}");
        }
        for (line, format) in [("o.TS", "mpegts"), ("o.m2ts", "mpegts"), ("-f nut o.bin", "nut")] {
            let job = route_line(&format!("-i IN -c:v libx264 {line}"), &input).unwrap();
            assert_eq!(job.output_format, format, "{line}");
        }
        let hls = "-c:v libx264 -g 48 -sc_threshold 0 -hls_time 4 -start_number 1 o.m3u8";
        let job = route_line(&format!("-i IN {hls}"), &input).unwrap();
        assert_eq!((job.output_format.as_str(), job.keyint), ("hls", Some(48)));
        assert_eq!(job.mux_args, ["-hls_time", "4", "-start_number", "1"]);
        let dash = "-c:v libx264 -g 25 -sc_threshold 0 -seg_duration 2 o.mpd";
        let job = route_line(&format!("-i IN {dash}"), &input).unwrap();
        assert_eq!((job.output_format.as_str(), job.keyint), ("dash", Some(25)));
        let segments = "-c:v libx264 -g 25 -sc_threshold 0 -f segment -segment_time 2 o%03d.mp4";
        let job = route_line(&format!("-i IN {segments}"), &input).unwrap();
        assert_eq!(crate::segmented::codec_format(&job), "mp4");
        for (line, reason) in [
            (
                "-i IN -c:v libx264 -f hls o.m3u8",
                "hls with scene-cut keyframes: ffmpeg alone's keyframes, where its segments start, are not on a fixed grid (-g N -sc_threshold 0 puts them there)",
            ),
            (
                "-i IN -c:v libx264 -g 9 -sc_threshold 0 -hls_key_info_file k o.m3u8",
                "output option -hls_key_info_file is not distributable",
            ),
            (
                "-i IN -c:v libx264 -g 9 -sc_threshold 0 -f segment -segment_format mpegts o%d.mp4",
                "-segment_format mpegts with segments named as mp4 is not distributable",
            ),
            (
                "-i IN -c:v libx264 -g 9 -sc_threshold 0 -f segment o%d.avi",
                "segments in avi are not distributable yet",
            ),
            (
                "-i IN -c:v libx264 -g 9 -sc_threshold 0 -f segment o%d.wav",
                "the segments' container is not one we assemble",
            ),
            (
                "-i IN -c:v libx264 -g 9 -sc_threshold 0 -dash_segment_type webm o.mpd",
                "-dash_segment_type webm is not distributable yet (mp4 is)",
            ),
            (
                "-i IN -c:v libx264 -g 9 -sc_threshold 0 -hls_segment_filename s%v.ts o.m3u8",
                "-hls_segment_filename with %v (variant streams) is not distributable",
            ),
            ("-i IN -c:v copy out.mkv", "-c:v copy does not encode"),
            ("-i IN -c:v libx264 -c copy out.mkv", "-c:v copy does not encode"),
            ("-i IN -c:v libx264 -fps_mode 1 out.mkv", "-fps_mode 1 is not distributable"),
            ("-vsync auto -i IN -c:v libx264 out.mkv", "-vsync auto is not distributable"),
            (
                "-i IN -c:v libx264 -force_key_frames 1,,2 out.mkv",
                "-force_key_frames 1,,2 is not distributable (a list of times or expr:gte(t,S+n_forced*N) is)",
            ),
            (
                "-i IN -c:v libx264 -x264-params dump_yuv=.bashrc out.mkv",
                "-x264-params dump_yuv=.bashrc: value 'dump_yuv=.bashrc' of 'x264-params' is not allowed",
            ),
            ("-i IN out.flv", "no -c:v, and flv's default encoder is not distributable"),
            ("-i IN -c:v libx264 -frames:v x o.mkv", "-frames:v x is not a frame count"),
            ("-i IN -c:v libx264 -frames 9 o.mkv", "output option -frames is not distributable"),
            (
                "-i IN -i pipe:0 -map 0:v -map 1:a -c:v libx264 o.mkv",
                "input #1 is not a regular file",
            ),
            (
                "-i IN -re -i IN -map 0:v -map 1:a -c:v libx264 o.mkv",
                "input #1's option -re is not distributable",
            ),
            (
                "-i IN -c:v libx264 -vf yadif out.mkv",
                "-vf with a temporal filter (yadif) is not distributable",
            ),
            (
                "-i IN -c:v libx264 -vf vignette out.mkv",
                "-vf vignette: filter 'vignette' is not allowed",
            ),
            (
                "-i IN -c:v ffv1 -vf drawtext=f.ttf:%{n},fps=10,drawtext=f.ttf:%{n} out.mkv",
                "drawtext counting frames after -vf fps is not distributable",
            ),
            (
                "-i IN -c:v ffv1 -vf subtitles=s.srt,fps=10,ass=s.ass out.mkv",
                "ass after -vf fps is not distributable",
            ),
            (
                "-i IN -c:v ffv1 -ss 1 -vf subtitles=s.srt out.mkv",
                "subtitles with an output -ss is not distributable",
            ),
            (
                "-i IN -c:v ffv1 -vf subtitles=in.mkv:si=1 out.mkv",
                "-vf subtitles=in.mkv:si=1: subtitles picking a stream of a media file is not \
                 distributable",
            ),
            (
                "-i IN -c:v ffv1 -vf subtitles=s.srt:fontsdir=f out.mkv",
                "-vf subtitles=s.srt:fontsdir=f: subtitles with fonts of a directory is not \
                 distributable",
            ),
            (
                "-i IN -c:v ffv1 -vf subtitles=s.srt:640x480 out.mkv",
                "-vf subtitles=s.srt:640x480: subtitles with unnamed options is not distributable",
            ),
            (
                "-i IN -c:v ffv1 -vf ass=s.srt out.mkv",
                "-vf ass=s.srt: ass filename s.srt: not a type the nodes read",
            ),
            (
                "-i IN -c:v libx264 -vf curves=psfile=a.acv out.mkv",
                "-vf curves=psfile=a.acv: value 'psfile=a.acv' of 'curves' is not allowed",
            ),
            (
                "-i IN -c:v libx264 -vf curves=none::::::a.acv out.mkv",
                "-vf curves=none::::::a.acv: curves with more than 6 unnamed options is not \
                 distributable",
            ),
            (
                "-i IN -filter_complex [0:v]fps=30[v] -map [v] -c:v libx264 out.mkv",
                "-filter_complex with a temporal filter (fps) is not distributable",
            ),
            ("-i IN -c:v libx264 -map [v] out.mkv", "-map [v] maps no distributable graph output"),
            (
                "-i IN -filter_complex [0:v]hflip[v] -c:v libx264 out.mkv",
                "the graph's output [v] is not mapped",
            ),
            (
                "-i IN -filter_complex [0:v]hflip[v] -map [v] -vf vflip -c:v libx264 out.mkv",
                "-vf with -filter_complex is not distributable",
            ),
            (
                "-i IN -filter_complex [0:v]hflip[v] -map [v] -map -0:a -c:v libx264 out.mkv",
                "a negative -map with -filter_complex is not distributable",
            ),
            (
                "-i IN -lavfi [0:v]split[a][b] -map [a] -map [b] -c:v libx264 out.mkv",
                "-lavfi with a filter of several outputs is not distributable",
            ),
            (
                "-i IN -c:v libx264 -vf fps=ntsc out.mkv",
                "-vf fps=ntsc is not distributable (fps=N or fps=N/M is)",
            ),
            (
                "-i IN -c:v libx264 -vf fps=24:start_time=1 out.mkv",
                "-vf fps=24:start_time=1 is not distributable (fps=N or fps=N/M is)",
            ),
            (
                "-i IN -c:v libx264 -vf fps=24 -t 1 out.mkv",
                "-vf fps with -ss/-t/-to is not distributable yet",
            ),
            ("-i IN -c:v h264_nvenc out.mkv", "encoder h264_nvenc is not distributable"),
            ("-i IN -c:v libx264 out.gif", "the output extension names no container we assemble"),
            (
                "-i IN -c:v libx264 -shortest out.mkv",
                "output option -shortest is not distributable",
            ),
            ("-i IN -c:v libx264 -", "standard output without -f (ffmpeg finds no format for it)"),
            ("-i missing.mkv -c:v libx264 out.mkv", "the input is not a regular file"),
            ("-i IN -c:v libx264 -r 24 -vf fps=30 out.mkv", "-r with -vf fps is not distributable"),
            ("-i IN -c:v mpeg2video -r 24 out.mkv", "-r 24/1 with mpeg2video is not distributable"),
            (
                "-i IN -c:v libx264 -r 2*12 out.mkv",
                "-r 2*12 is not a rate we parse (N, N/M or a decimal is)",
            ),
        ] {
            assert_eq!(route_line(line, &input).unwrap_err(), reason, "{line}");
        }
        let job = route_line("-i IN -c:v libx264 -r:v ntsc -fps_mode cfr o.mkv", &input).unwrap();
        assert_eq!((job.output_rate, job.fps_mode), (Some((30000, 1001)), Some(FpsMode::Cfr)));
    }

    #[test]
    fn a_looped_logo_is_sent_unlooped_where_the_loop_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.mkv");
        std::fs::write(&input, b"x").unwrap();
        let logo = dir.path().join("logo.png");
        std::fs::write(&logo, b"x").unwrap();
        let line = |text: &str| text.replace("LOGO", logo.to_str().unwrap());
        for (text, args) in [
            ("-i IN -loop 1 -i LOGO -lavfi overlay=5:5:shortest=1 -c:v libx264 o.mkv", "5:5"),
            ("-i IN -loop 0 -i LOGO -lavfi overlay -c:v ffv1 o.mkv", ""),
        ] {
            let job = route_line(&line(text), &input).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert!(job.extra_inputs[0].args.is_empty(), "{text}");
            let overlay = job.graph.unwrap().overlay.unwrap();
            assert_eq!(overlay.args, args, "{text}");
        }
        for (text, reason) in [
            (
                "-i IN -i LOGO -lavfi overlay=shortest=1 -c:v ffv1 o.mkv",
                "overlay shortest=1 over a single image ends after one frame; not distributable",
            ),
            (
                "-i IN -loop 1 -i LOGO -lavfi overlay -c:v ffv1 o.mkv",
                "-loop 1 on input #1 without overlay shortest=1 is not distributable",
            ),
            (
                "-i IN -loop 1 -t 5 -i LOGO -lavfi overlay -c:v ffv1 o.mkv",
                "-loop 1 on input #1 without overlay shortest=1 is not distributable",
            ),
            (
                "-i IN -loop 1 -t 5 -i LOGO -lavfi overlay=shortest=1 -c:v ffv1 o.mkv",
                "input #1's options with an overlay image are not distributable",
            ),
            (
                "-i IN -loop 1 -i LOGO -lavfi [1:v]rotate=t[l];[0:v][l]overlay=shortest=1 \
                 -c:v ffv1 o.mkv",
                "a filter on input #1, a looped image, reads t, which the loop moves",
            ),
            (
                "-i IN -loop 2 -i LOGO -lavfi overlay=shortest=1 -c:v ffv1 o.mkv",
                "input #1's -loop 2 is not distributable",
            ),
            (
                "-i IN -loop 1 -framerate 5 -i LOGO -lavfi overlay=shortest=1 -c:v ffv1 o.mkv",
                "input #1's option -framerate is not distributable",
            ),
            (
                "-i IN -loop 1 -r 5 -i LOGO -lavfi overlay=shortest=1 -c:v ffv1 o.mkv",
                "input #1's option -r is not distributable",
            ),
        ] {
            assert_eq!(route_line(&line(text), &input).unwrap_err(), reason, "{text}");
        }
    }

    #[test]
    fn expressions_that_count_frames_or_keep_state_are_chunk_dependent() {
        for (args, var) in [
            ("160:120:n*2:0", Some("n")),
            ("h=pts*0.01", Some("pts")),
            ("h=random(0)*360", Some("random")),
            ("x=st(0\\,ld(0)+1)", Some("st")),
            ("160:120:t*40:0", None),
            ("w=iw/2:h=ih/2", None),
            ("s=0.5:h=t*90", None),
            ("t=bt709:m=bt709:r=tv", None),
            ("r=tv:n=1", None),
            ("160:120:x=n", Some("n")),
        ] {
            assert_eq!(chunk_dependent_variable(args), var, "{args}");
        }
    }

    #[test]
    fn video_rates_parse_as_ffmpeg_reduces_them() {
        for (text, rate) in [
            ("24", Some((24, 1))),
            ("30000/1001", Some((30000, 1001))),
            ("50/2", Some((25, 1))),
            ("29.97", Some((2997, 100))),
            ("23.976", Some((2997, 125))),
            ("film", Some((24, 1))),
            ("0", None),
            ("-25", None),
            ("1/0", None),
            ("2000000/1", None),
            ("24000/1001.0", None),
        ] {
            assert_eq!(parse_video_rate(text), rate, "{text}");
        }
    }
}
