//! Validation of an encode spec, and the one ffmpeg command built from it.
//!
//! A node never runs an argv it was given. It accepts a structured spec, checks
//! every name against an allowlist and every value against a character set
//! that cannot express a path, a URL or filtergraph syntax, and only then
//! builds the command itself. `dffmpeg` calls [`validate`] too, to decide
//! before planning whether an encode can be distributed at all.

use std::ffi::OsString;
use std::path::Path;

use proto::v1::{ChunkFormat, EncodeSpec, FpsMode};

use crate::frame_map::FrameMap;

/// The largest frame-rate denominator a frame map may use. `settb` reads its
/// time base as a double and turns it back into a fraction with `av_d2q`,
/// which gives back exactly `den/num` only while `den` is this small (the
/// double's error is then far below the fraction's next approximation).
pub const MAX_MAP_RATE_DEN: i64 = 1_000_000;

/// Above this many bytes the filter graph goes to ffmpeg in a file
/// ([`FILTER_SCRIPT`]) rather than as an argument: Linux refuses a single
/// argument over 128 KiB, and a frame map's lookups grow with the chunk.
const INLINE_GRAPH_MAX: usize = 64 * 1024;

/// The file, in the directory ffmpeg runs in, that holds a long filter graph
/// (see [`ValidSpec::filter_script`]).
pub const FILTER_SCRIPT: &str = "filters.txt";

/// Software video encoders a node runs.
pub const ENCODERS: &[&str] = &[
    "libx264",
    "libx264rgb",
    "libx265",
    "libsvtav1",
    "libaom-av1",
    "librav1e",
    "libvpx",
    "libvpx-vp9",
    "ffv1",
    "ffvhuff",
    "huffyuv",
    "utvideo",
    "mpeg4",
    "mpeg2video",
    "mjpeg",
    "prores_ks",
    "dnxhd",
    "rawvideo",
    "libtheora",
];

/// Encoders whose `-pass 1`/`-pass 2` ffmpeg 5.1 implements.
pub const TWO_PASS_ENCODERS: &[&str] = &[
    "libx264",
    "libx264rgb",
    "libvpx",
    "libvpx-vp9",
    "libaom-av1",
    "mpeg4",
    "mpeg2video",
    "libtheora",
];

/// Encoder options a spec may carry (ffmpeg's names, without the dash).
pub const OPTIONS: &[&str] = &[
    "crf",
    "qp",
    "q",
    "qscale",
    "preset",
    "tune",
    "profile",
    "level",
    "b",
    "maxrate",
    "minrate",
    "bufsize",
    "g",
    "keyint_min",
    "bf",
    "refs",
    "sc_threshold",
    "x264-params",
    "x264opts",
    "x265-params",
    "svtav1-params",
    "aom-params",
    "rav1e-params",
    "deadline",
    "cpu-used",
    "row-mt",
    "tile-columns",
    "lossless",
    "speed",
    "slices",
    "slicecrc",
    "context",
    "coder",
    "force_key_frames",
    // The output size: ffmpeg appends a scale filter after the user's
    // filters, with its default flags, exactly as it does alone.
    "s",
    "aspect",
    "threads",
    // The scaler's flags for the spec's filters, as ffmpeg alone gives them
    // to the output's filter graph.
    "sws_flags",
    "strict",
    "rc-lookahead",
];

/// The largest output `-s` a spec may ask for, each way: a frame of this
/// size is already 200 MB in 4:4:4 at 16 bits, and an encoder holds dozens.
const MAX_SIZE: u32 = 8192;
/// The most encoder threads a spec may ask for.
const MAX_THREADS: u32 = 64;

/// Keys inside `-x264-params` and friends that name files.
const FILE_PARAMS: &[&str] = &[
    "stats",
    "qpfile",
    "dump-yuv",
    "cqmfile",
    "tcfile-in",
    "tcfile-out",
    "csv",
    "analysis-save",
    "analysis-load",
    "analysis-reuse-file",
    "zonefile",
    "lambda-file",
    "recon",
    "dolby-vision-rpu",
    "scaling-list",
    "stat-file",
    "input",
    "output",
    "fgs-table",
    "log-file",
    "hdr10-opt-file",
    "opencl-clbin",
    "film-grain-table",
    "pass",
];

/// Parts of a key that suggest a file, refused wherever they appear
/// (`dump-yuv`, `csv-log-level` is harmless but `csv` is not).
const FILE_WORDS: &[&str] =
    &["file", "csv", "dump", "yuv", "stat", "load", "save", "clbin", "table"];

/// Frame-local filters a spec may carry: each output frame depends on one
/// input frame only, so chunking cannot change the result, and none of them
/// reads or writes a file named by its arguments (`curves` without its
/// `psfile` and `plot`; the LUTs' and drawtext's font files travel with
/// the spec, see [`FILE_FILTERS`]). Expressions
/// that count frames (`n`) are refused by the coordinator. Not `vignette`: its
/// dither differs per chunk (seen in the corpus suite).
pub const FILTERS: &[&str] = &[
    "fps",
    "scale",
    "crop",
    "pad",
    "format",
    "setsar",
    "setdar",
    "transpose",
    "hflip",
    "vflip",
    "rotate",
    "eq",
    "hue",
    "negate",
    "unsharp",
    "boxblur",
    "gblur",
    "smartblur",
    "deband",
    "colorchannelmixer",
    "colorlevels",
    "colorspace",
    "lutyuv",
    "lutrgb",
    "drawbox",
    "chromashift",
    "setparams",
    "zscale",
    // HDR to SDR (`zscale=t=linear,tonemap=hable,zscale=t=bt709`).
    "tonemap",
    "colormatrix",
    // Grading.
    "lut",
    "colorbalance",
    "colortemperature",
    "colorcorrect",
    "colorize",
    "huesaturation",
    "vibrance",
    "exposure",
    "monochrome",
    "geq",
    // Keying, within one frame.
    "chromakey",
    "colorkey",
    "despill",
    // Blurs, sharpening, edges and denoisers that look at one frame.
    "avgblur",
    "median",
    "bilateral",
    "cas",
    "edgedetect",
    "sobel",
    "prewitt",
    "dctdnoiz",
    "owdenoise",
    "deblock",
    // Geometry and fields.
    "lenscorrection",
    "fillborders",
    "drawgrid",
    "il",
    "swapuv",
    // Grading LUTs and burnt-in text, whose files travel with the spec
    // (`FILE_FILTERS`).
    "lut3d",
    "lut1d",
    "drawtext",
    // Tone curves of a preset or of points, never of a file (`CURVES_OPTIONS`).
    "curves",
    // Fades by time, which the coordinator checks (`cli::fade`).
    "fade",
    // Burnt-in subtitles of a text subtitle file, which travels with the
    // spec, drawn with the fonts sent beside it (`crate::fonts_conf`):
    // libass draws each frame's events by its timestamp alone.
    "subtitles",
    "ass",
];

/// The options `subtitles` and `ass` may have in a spec besides their
/// file, each named. Not `fontsdir` (a directory of the client's), nor
/// `stream_index` (picks a stream of a media file, which is not sent).
pub const SUBTITLES_OPTIONS: &[&str] =
    &["original_size", "alpha", "charenc", "force_style", "shaping"];

/// The options `curves` may have in a spec, each named: a preset, and the
/// points of each component (`r=0/0 0.5/0.58 1/1`, points separated by
/// spaces). Not `psfile` (reads a Photoshop curves file) nor `plot`
/// (writes a Gnuplot script): unnamed, the seventh and eighth values
/// would set them, so every value must be named.
pub const CURVES_OPTIONS: &[&str] =
    &["preset", "master", "m", "red", "r", "green", "g", "blue", "b", "all", "enable"];

/// The file, in a chunk's directory, that holds the spec's overlay image
/// (written by the service before ffmpeg runs; see [`ValidSpec::ffmpeg_args`]).
pub const OVERLAY_IMAGE: &str = "overlay.img";

/// The label of an overlay graph's output, which the encoder maps.
const OVERLAY_OUTPUT: &str = "out";

/// The largest overlay image a spec may carry: it travels in the header
/// message, which a node decodes up to 4 MiB, and logos are far smaller.
pub const MAX_OVERLAY_IMAGE: usize = 2 << 20;

/// Demuxers of one still image each, as ffprobe names them, that a node
/// reads an overlay image with. None names or reads another file.
pub const IMAGE_FORMATS: &[&str] = &[
    "png_pipe",
    "jpeg_pipe",
    "bmp_pipe",
    "webp_pipe",
    "tiff_pipe",
    "ppm_pipe",
    "pgm_pipe",
    "pam_pipe",
    "pbm_pipe",
];

/// Filters that read one file, with the option that names it and the types
/// (extensions, by which the LUTs choose their parser) a spec may send:
/// grading LUTs and drawtext's font. The spec carries the file's bytes
/// ([`proto::v1::Filter::file`]); the node writes them beside the chunk as
/// `filter-K.TYPE` and names it itself, so no name a client writes reaches
/// ffmpeg.
pub const FILE_FILTERS: &[(&str, &str, &[&str])] = &[
    ("lut3d", "file", &["cube", "3dl", "dat", "m3d", "csp"]),
    ("lut1d", "file", &["cube", "csp"]),
    ("drawtext", "fontfile", &["ttf", "otf", "ttc", "otc"]),
    ("subtitles", "filename", &["srt", "ass", "ssa", "vtt"]),
    ("ass", "filename", &["ass", "ssa"]),
];

/// The font file types a subtitle's fonts may be sent as.
pub const FONT_TYPES: &[&str] = &["ttf", "otf", "ttc", "otc"];

/// The fontconfig configuration, in a chunk's directory, that the node's
/// ffmpeg reads (`FONTCONFIG_FILE`; [`crate::fonts_conf`]).
pub const FONTS_CONF: &str = "fonts.conf";

/// The most bytes of filter files one spec may carry: they travel in its
/// header, beside an overlay image, within a gRPC message (4 MiB). A
/// 33-point `.cube` LUT is about 1 MB.
pub const MAX_FILTER_FILES: usize = 3 << 19;

/// The most bytes of fonts one spec's subtitles may carry: a family's
/// regular, italic and bold faces (DejaVu Sans: 2.1 MB). They travel in
/// the header too, which a node decodes up to [`MAX_HEADER`].
pub const MAX_SUBTITLE_FONTS: usize = 4 << 20;

/// The largest message a node decodes: a spec's header, with its overlay
/// image, filter files and fonts at their most, and room for the rest.
pub const MAX_HEADER: usize = MAX_OVERLAY_IMAGE + MAX_FILTER_FILES + MAX_SUBTITLE_FONTS + (1 << 20);

/// The overlay filter's options a spec may set: where the image goes
/// (expressions of `t`, sizes and constants), how it is blended, when the
/// expressions run. Not `enable`: libavfilter evaluates it at the last frame
/// the overlay took from either input, and a chunk takes the image at its
/// own start, where ffmpeg alone took it at 0 (two frames of six chunks
/// differed with `enable='gte(t,1)'`); the coordinator folds it into `x`
/// instead (`dffmpeg::timed_overlay`). Not `eof_action`, `shortest` or `repeatlast`: they end
/// the output or hide the image once its single frame has passed, which a
/// chunk, starting after it, would decide differently from ffmpeg alone.
const OVERLAY_OPTIONS: &[&str] = &["x", "y", "format", "alpha", "eval"];

/// Why a spec was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The encoder is not on the allowlist.
    #[error("encoder '{0}' is not allowed")]
    Encoder(String),
    /// The option is not on the allowlist.
    #[error("encoder option '{0}' is not allowed")]
    Option(String),
    /// A value could name a file, a URL or inject syntax.
    #[error("value '{value}' of '{name}' is not allowed")]
    Value {
        /// The option or filter.
        name: String,
        /// The refused value.
        value: String,
    },
    /// The filter is not frame-local or not known.
    #[error("filter '{0}' is not allowed")]
    Filter(String),
    /// The trim range, time base or frame rate make no sense.
    #[error("invalid {0}")]
    Range(&'static str),
    /// The frame map is one the node's filters cannot carry out.
    #[error("invalid frame map: {0}")]
    FrameMap(String),
    /// A filter's file is missing, too large, of another type, or named
    /// by its arguments.
    #[error("invalid filter file: {0}")]
    FilterFile(String),
    /// The overlay image or its options are not ones a node runs.
    #[error("invalid overlay: {0}")]
    Overlay(String),
}

/// A validated [`proto::v1::Overlay`], without the image's bytes (which the
/// service writes to [`OVERLAY_IMAGE`]).
#[derive(Debug, Clone, PartialEq)]
struct ValidOverlay {
    image_format: String,
    image_filters: Vec<(String, String)>,
    args: String,
    filters_before: usize,
}

/// A spec that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidSpec {
    encoder: String,
    options: Vec<(String, String)>,
    pix_fmt: Option<String>,
    filters: Vec<(String, String)>,
    keep_start_pts: i64,
    /// The time base the user's filters get the frames in (ffmpeg alone's).
    filter_time_base: Option<(i64, i64)>,
    keep_end_pts: i64,
    filtered_end_pts: Option<i64>,
    /// Frames the encoder must get.
    pub expected_frames: u64,
    /// The name the source's decoder logs under (`decode_damage`).
    pub decoder: String,
    /// The chunk input's demuxer: `nut`, or `mov` (image sequences).
    input_format: &'static str,
    ts_offset_us: i64,
    frame_rate: (i64, i64),
    fps_mode: FpsMode,
    chunk_format: ChunkFormat,
    timescale: u32,
    /// 1 or 2.
    pub passes: u32,
    /// The coordinator's frame-rate decision, when the output has a rate.
    frame_map: Option<FrameMap>,
    /// The output's `-ss` in microseconds, 0 for none.
    output_start_us: i64,
    /// The still image drawn over the video, if any.
    overlay: Option<ValidOverlay>,
    /// The filters' files, by the names their arguments give them, which
    /// the service writes beside the chunk.
    pub files: Vec<(String, proto::Bytes)>,
    /// A burnt-in subtitle's fonts, which the service writes in the chunk's
    /// font directory, and their families.
    pub fonts: Fonts,
    /// The decoder's colour options (`-color_trc smpte2084` ...), from the
    /// spec's `input_color`, and its field order.
    input_color: Vec<(&'static str, String)>,
}

/// Filter arguments as a graph holds them: every character of graph syntax
/// escaped (of those [`check_filter_args`] lets through, only the comma;
/// drawtext's quoted text may hold any), so that libavfilter hands the
/// filter the arguments as the node wrote them. The coordinator writes its
/// own checks of a spec's filters with it too.
pub fn graph_escaped(args: &str) -> String {
    let mut out = String::with_capacity(args.len());
    for c in args.chars() {
        if matches!(c, '\\' | '\'' | '[' | ']' | ',' | ';') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Checks a spec against the allowlists.
pub fn validate(spec: &EncodeSpec) -> Result<ValidSpec, SpecError> {
    if !ENCODERS.contains(&spec.encoder.as_str()) {
        return Err(SpecError::Encoder(spec.encoder.clone()));
    }
    let mut options = Vec::new();
    for option in &spec.options {
        let name = option.name.as_str();
        // Stream specifiers such as `b:v` are fine: the node only maps one stream.
        let base = name.split(':').next().unwrap_or(name);
        check_option(name, &option.value)?;
        options.push((base.to_string(), option.value.clone()));
    }
    let pix_fmt = match spec.pix_fmt.as_str() {
        "" => None,
        p if p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => Some(p.to_string()),
        p => return Err(SpecError::Value { name: "pix_fmt".into(), value: p.into() }),
    };
    let mut files = Vec::new();
    let mut fonts = Fonts::default();
    let filters = checked_filters(&spec.filters, &mut files, &mut fonts)?;
    let font_bytes = fonts.files.iter().map(|(_, f)| f.len()).sum::<usize>();
    if font_bytes > MAX_SUBTITLE_FONTS {
        return Err(SpecError::FilterFile(format!(
            "{font_bytes} bytes of fonts (at most {MAX_SUBTITLE_FONTS})"
        )));
    }
    let tb = spec.time_base.ok_or(SpecError::Range("time base"))?;
    if tb.num <= 0 || tb.den <= 0 {
        return Err(SpecError::Range("time base"));
    }
    if spec.keep_end_pts <= spec.keep_start_pts || spec.expected_frames == 0 {
        return Err(SpecError::Range("frame range"));
    }
    let fr = spec.frame_rate.ok_or(SpecError::Range("frame rate"))?;
    if fr.num <= 0 || fr.den <= 0 {
        return Err(SpecError::Range("frame rate"));
    }
    let filter_time_base = match spec.filter_time_base {
        None => None,
        Some(tb)
            if tb.num > 0
                && tb.den > 0
                && tb.num <= i32::MAX as i64
                && tb.den <= i32::MAX as i64 =>
        {
            Some((tb.num, tb.den))
        }
        Some(_) => return Err(SpecError::Range("filter time base")),
    };
    let fps_mode = FpsMode::try_from(spec.fps_mode).map_err(|_| SpecError::Range("fps mode"))?;
    let chunk_format =
        ChunkFormat::try_from(spec.chunk_format).map_err(|_| SpecError::Range("chunk format"))?;
    if spec.timescale > 10_000_000 {
        return Err(SpecError::Range("timescale"));
    }
    let passes = match spec.passes {
        0 | 1 => 1,
        2 if TWO_PASS_ENCODERS.contains(&spec.encoder.as_str()) => 2,
        _ => return Err(SpecError::Range("number of passes")),
    };
    let frame_map = match &spec.frame_map {
        None => None,
        // A map decides every frame itself: no fps filter, no end after it.
        Some(_) if spec.filtered_end_pts.is_some() || filters.iter().any(|(n, _)| n == "fps") => {
            return Err(SpecError::Range("frame map with an fps filter"));
        }
        Some(_) if fr.den > MAX_MAP_RATE_DEN => return Err(SpecError::Range("frame rate")),
        Some(map) => Some(FrameMap::validate(map, spec.expected_frames)?),
    };
    // An fps filter or a frame map counts from the output's start itself.
    let mapped = spec.frame_map.is_some() || spec.filtered_end_pts.is_some();
    if spec.output_start_us < 0 || (spec.output_start_us > 0 && mapped) {
        return Err(SpecError::Range("output start"));
    }
    let overlay = match &spec.overlay {
        Some(o) => Some(validate_overlay(o, filters.len(), &mut files)?),
        None => None,
    };
    let mut input_color =
        spec.input_color.as_ref().map(color_options).transpose()?.unwrap_or_default();
    match spec.field_order.as_str() {
        "" => {}
        order @ ("progressive" | "tt" | "bb" | "tb" | "bt") => {
            input_color.push(("field_order", order.to_string()))
        }
        order => return Err(SpecError::Value { name: "field_order".into(), value: order.into() }),
    }
    let input_format = match ChunkFormat::try_from(spec.input_format) {
        Ok(ChunkFormat::Nut) => "nut",
        Ok(ChunkFormat::Mov) => "mov",
        _ => return Err(SpecError::Range("input format")),
    };
    if !crate::decode_damage::valid_name(&spec.decoder) {
        return Err(SpecError::Value { name: "decoder".into(), value: spec.decoder.clone() });
    }
    Ok(ValidSpec {
        encoder: spec.encoder.clone(),
        options,
        pix_fmt,
        filters,
        keep_start_pts: spec.keep_start_pts,
        keep_end_pts: spec.keep_end_pts,
        filter_time_base,
        filtered_end_pts: spec.filtered_end_pts,
        expected_frames: spec.expected_frames,
        decoder: spec.decoder.clone(),
        input_format,
        ts_offset_us: spec.ts_offset_us,
        frame_rate: (fr.num, fr.den),
        fps_mode,
        chunk_format,
        timescale: spec.timescale,
        passes,
        frame_map,
        output_start_us: spec.output_start_us,
        overlay,
        files,
        fonts,
        input_color,
    })
}

/// A colour description as the decoder options that give it to the
/// decoder, in the order ffmpeg lists them. Values are ffmpeg's names of
/// its constants (lower-case words, digits and dashes), which the options
/// check themselves; empty ones are left out.
fn color_options(color: &proto::v1::Color) -> Result<Vec<(&'static str, String)>, SpecError> {
    let fields = [
        ("color_range", &color.range),
        ("colorspace", &color.space),
        ("color_trc", &color.transfer),
        ("color_primaries", &color.primaries),
        ("chroma_sample_location", &color.chroma_location),
    ];
    let mut options = Vec::new();
    for (name, value) in fields {
        if value.is_empty() {
            continue;
        }
        let word = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
        if value.len() > 32 || !value.bytes().all(word) || value.starts_with('-') {
            return Err(SpecError::Value { name: name.into(), value: value.clone() });
        }
        options.push((name, value.clone()));
    }
    Ok(options)
}

/// Checks filters against the frame-local allowlist and their arguments
/// against the safe character set.
fn checked_filters(
    filters: &[proto::v1::Filter],
    files: &mut Vec<(String, proto::Bytes)>,
    fonts: &mut Fonts,
) -> Result<Vec<(String, String)>, SpecError> {
    filters
        .iter()
        .map(|filter| {
            if !FILTERS.contains(&filter.name.as_str()) {
                return Err(SpecError::Filter(filter.name.clone()));
            }
            check_filter_args(&filter.name, &filter.args)?;
            let mut args = filter.args.clone();
            if let Some((option, name)) = filter_file(filter, files)? {
                if !args.is_empty() {
                    args.push(':');
                }
                args.push_str(&format!("{option}={name}"));
            }
            if filter.name == "drawtext" {
                check_drawtext(filter)?;
                if !filter.timecode.is_empty() {
                    let quoted = crate::av_token::quoted(&filter.timecode);
                    args.push_str(&format!(":timecode={quoted}"));
                }
                args.push_str(&format!(":text={}", crate::av_token::quoted(&filter.text)));
            } else if !filter.text.is_empty() || !filter.timecode.is_empty() {
                let field = if filter.text.is_empty() { "timecode" } else { "text" };
                return Err(SpecError::Value { name: filter.name.clone(), value: field.into() });
            }
            let subtitles = matches!(filter.name.as_str(), "subtitles" | "ass");
            if subtitles {
                check_subtitles(filter, fonts)?;
            } else if !filter.fonts.is_empty() || !filter.font_aliases.is_empty() {
                return Err(SpecError::FilterFile(format!("{} draws with no fonts", filter.name)));
            }
            Ok((filter.name.clone(), args))
        })
        .collect()
}

/// A subtitle's fonts as the node writes them: the files, by their names
/// in [`crate::fonts_conf::FONTS_DIR`], and the families substituted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fonts {
    /// File name and bytes.
    pub files: Vec<(String, proto::Bytes)>,
    /// Family asked for, family drawn with.
    pub aliases: Vec<(String, String)>,
}

/// Checks the options of `subtitles` or `ass` ([`SUBTITLES_OPTIONS`], all
/// named; `shaping` for `ass` alone, which only it has) and its fonts,
/// which join `fonts` (within [`MAX_SUBTITLE_FONTS`]).
fn check_subtitles(filter: &proto::v1::Filter, fonts: &mut Fonts) -> Result<(), SpecError> {
    let refuse =
        |value: &str| Err(SpecError::Value { name: filter.name.clone(), value: value.to_string() });
    // A character set's name (`CP1252`, `ISO-8859-1`), which iconv looks up.
    let charset = |v: &str| {
        !v.is_empty()
            && v.len() <= 32
            && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
    };
    for option in filter.args.split(':').filter(|o| !o.is_empty()) {
        match option.split_once('=') {
            Some(("shaping", _)) if filter.name != "ass" => return refuse(option),
            Some(("charenc", value)) if !charset(value) => return refuse(option),
            Some((key, _)) if SUBTITLES_OPTIONS.contains(&key) => {}
            _ => return refuse(option),
        }
    }
    if !subtitle_content(&filter.file_type, &filter.file) {
        return Err(SpecError::FilterFile(format!(
            "{} of a file that does not begin as {} does",
            filter.name, filter.file_type
        )));
    }
    for font in &filter.fonts {
        if !FONT_TYPES.contains(&font.file_type.as_str()) || font.data.is_empty() {
            return Err(SpecError::FilterFile(format!("a font of type '{}'", font.file_type)));
        }
        let name = format!("font-{}.{}", fonts.files.len(), font.file_type);
        fonts.files.push((name, font.data.clone()));
    }
    for alias in &filter.font_aliases {
        for family in [&alias.requested, &alias.family] {
            if !crate::fonts_conf::valid_family(family) {
                return refuse(family);
            }
        }
        fonts.aliases.push((alias.requested.clone(), alias.family.clone()));
    }
    Ok(())
}

/// Whether a subtitle file begins as its type's do, as ffmpeg's probes
/// of those formats read them: the subtitle filter reads the file with the
/// format its content suggests, whatever its name, and some formats (HLS
/// playlists, concat lists) name other files. `srt`: a number on its first
/// line with text, then a time line with `-->`; `ass`, `ssa`:
/// `[Script Info]`; `vtt`: `WEBVTT`. The coordinator asks the same.
pub fn subtitle_content(file_type: &str, bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    match file_type {
        "ass" | "ssa" => bytes.trim_ascii_start().starts_with(b"[Script Info]"),
        "vtt" => bytes.starts_with(b"WEBVTT"),
        "srt" => {
            let mut lines = bytes.split(|&b| b == b'\n').map(<[u8]>::trim_ascii);
            let Some(number) = lines.find(|l| !l.is_empty()) else { return false };
            number.first().is_some_and(u8::is_ascii_digit)
                && lines.take(2).any(|l| l.windows(3).any(|w| w == b"-->"))
        }
        _ => false,
    }
}

/// Checks drawtext's options ([`crate::drawtext::DRAWTEXT_OPTIONS`], all
/// named, expansion `none` or `normal`), its timecode (the plain form of
/// [`crate::timecode::Timecode`]) and its text.
fn check_drawtext(filter: &proto::v1::Filter) -> Result<(), SpecError> {
    let refuse =
        |value: &str| Err(SpecError::Value { name: "drawtext".into(), value: value.to_string() });
    let timecode = !filter.timecode.is_empty();
    if timecode && crate::timecode::Timecode::parse(&filter.timecode).is_none() {
        return refuse(&filter.timecode);
    }
    let mut expanded = true;
    for option in filter.args.split(':').filter(|o| !o.is_empty()) {
        match option.split_once('=') {
            Some(("expansion", "none" | "0")) => expanded = false,
            // The last one counts.
            Some(("expansion", "normal" | "1")) => expanded = true,
            Some(("expansion", _)) => return refuse(option),
            Some((key, _)) if crate::drawtext::DRAWTEXT_OPTIONS.contains(&key) => {}
            _ => return refuse(option),
        }
    }
    crate::drawtext::check_text(&filter.text, expanded, timecode)
        .map_err(|why| SpecError::Value { name: "drawtext text".into(), value: why })
}

/// Checks the file of a filter of [`FILE_FILTERS`] (which must have one:
/// others must not) and adds it to `files`, under the name it gives; gives
/// the option that names it and that name. Its arguments are all named,
/// and none is the file: unnamed, the first would be read as the file.
fn filter_file(
    filter: &proto::v1::Filter,
    files: &mut Vec<(String, proto::Bytes)>,
) -> Result<Option<(&'static str, String)>, SpecError> {
    let refuse = |why: String| Err(SpecError::FilterFile(why));
    let Some((_, option, types)) = FILE_FILTERS.iter().find(|(name, ..)| *name == filter.name)
    else {
        if filter.file.is_empty() && filter.file_type.is_empty() {
            return Ok(None);
        }
        return refuse(format!("{} reads no file", filter.name));
    };
    if filter.file.is_empty() {
        return refuse(format!("{} without its file", filter.name));
    }
    if !types.contains(&filter.file_type.as_str()) {
        return refuse(format!("{} of type '{}'", filter.name, filter.file_type));
    }
    let named = |o: &str| o.split_once('=').is_some_and(|(key, _)| key != *option);
    if !filter.args.split(':').filter(|o| !o.is_empty()).all(named) {
        return refuse(format!("{} arguments '{}'", filter.name, filter.args));
    }
    let total = files.iter().map(|(_, f)| f.len()).sum::<usize>() + filter.file.len();
    if total > MAX_FILTER_FILES {
        return refuse(format!("{total} bytes of files (at most {MAX_FILTER_FILES})"));
    }
    let name = format!("filter-{}.{}", files.len(), filter.file_type);
    files.push((name.clone(), filter.file.clone()));
    Ok(Some((option, name)))
}

/// Checks an overlay: an image of bounded size read by a still-image
/// demuxer, frame-local filters on it (no `fps`: the image is one frame),
/// and overlay options from [`OVERLAY_OPTIONS`] (`x:y` may be positional).
fn validate_overlay(
    overlay: &proto::v1::Overlay,
    filters: usize,
    files: &mut Vec<(String, proto::Bytes)>,
) -> Result<ValidOverlay, SpecError> {
    let refuse = |why: String| Err(SpecError::Overlay(why));
    if overlay.image.is_empty() || overlay.image.len() > MAX_OVERLAY_IMAGE {
        return refuse(format!(
            "an image of {} bytes (1 to {MAX_OVERLAY_IMAGE})",
            overlay.image.len()
        ));
    }
    if !IMAGE_FORMATS.contains(&overlay.image_format.as_str()) {
        return refuse(format!("image format '{}'", overlay.image_format));
    }
    let mut fonts = Fonts::default();
    let image_filters = checked_filters(&overlay.image_filters, files, &mut fonts)?;
    if !fonts.files.is_empty() || image_filters.iter().any(|(n, _)| n == "subtitles" || n == "ass")
    {
        return Err(SpecError::Filter("subtitles on an overlay image".into()));
    }
    if image_filters.iter().any(|(name, _)| name == "fps") {
        return Err(SpecError::Filter("fps".into()));
    }
    if !overlay.args.is_empty() {
        check_filter_args("overlay", &overlay.args)?;
    }
    for (k, option) in overlay.args.split(':').filter(|o| !o.is_empty()).enumerate() {
        let allowed = match option.split_once('=') {
            Some((key, _)) => OVERLAY_OPTIONS.contains(&key),
            // ffmpeg reads the first two unnamed options as x and y.
            None => k < 2,
        };
        if !allowed {
            return refuse(format!("option '{option}'"));
        }
    }
    let filters_before = overlay.filters_before as usize;
    if filters_before > filters {
        return refuse(format!("{filters_before} filters before it, of {filters}"));
    }
    Ok(ValidOverlay {
        image_format: overlay.image_format.clone(),
        image_filters,
        args: overlay.args.clone(),
        filters_before,
    })
}

/// Microseconds as exact decimal seconds, signed, as ffmpeg's time options take them.
fn seconds(us: i64) -> String {
    let sign = if us < 0 { "-" } else { "" };
    format!("{sign}{}.{:06}", us.unsigned_abs() / 1_000_000, us.unsigned_abs() % 1_000_000)
}

/// Option values: no path separators beyond a ratio, no URL, no quoting.
fn check_value(name: &str, value: &str) -> Result<(), SpecError> {
    let charset_ok = !value.is_empty()
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.:=+-,/".contains(&b));
    let path_like = value.split(['/', ':', '=', ',']).any(|p| p == ".." || p == ".")
        || value.contains("//")
        || value.starts_with('/')
        || value.split([':', ',']).any(|part| {
            // A slash is only fine inside a ratio of numbers, such as `1/1`.
            part.contains('/')
                && !part.rsplit('=').next().is_some_and(|v| {
                    v.split('/').all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                })
        });
    if charset_ok && !path_like {
        Ok(())
    } else {
        Err(SpecError::Value { name: name.into(), value: value.into() })
    }
}

/// `key=value:key=value` lists: refuse keys that name files. Keys are
/// compared as the libraries read them: x264 and x265 treat `_` as `-`,
/// x265 ignores leading dashes, and any `no-` prefix negates.
fn check_params(name: &str, value: &str) -> Result<(), SpecError> {
    for pair in value.split(':') {
        let raw = pair.split('=').next().unwrap_or_default();
        let key = raw.to_ascii_lowercase().replace('_', "-");
        let key = key.trim_start_matches('-');
        let key = key.strip_prefix("no-").unwrap_or(key);
        if FILE_PARAMS.contains(&key) || FILE_WORDS.iter().any(|w| key.contains(w)) {
            return Err(SpecError::Value { name: name.into(), value: value.into() });
        }
    }
    Ok(())
}

/// Checks one encoder option as a spec would carry it: the name is allowed
/// and the value can name no file. The coordinator asks before it
/// distributes, so a refused option falls back to ffmpeg instead of failing
/// on every node.
pub fn check_option(name: &str, value: &str) -> Result<(), SpecError> {
    let base = name.split(':').next().unwrap_or(name);
    if !OPTIONS.contains(&base) {
        return Err(SpecError::Option(name.to_string()));
    }
    check_value(name, value)?;
    if base.ends_with("-params") || base == "x264opts" {
        check_params(name, value)?;
    }
    // Only a list of times: expressions count forced frames and
    // `chapters` reads the input's chapters, neither of which a chunk has.
    let time_list = |v: &str| v.bytes().all(|b| b.is_ascii_digit() || b".:,".contains(&b));
    if base == "force_key_frames" && !time_list(value) {
        return Err(SpecError::Value { name: name.into(), value: value.into() });
    }
    let number = |v: &str, max: u32| v.parse::<u32>().is_ok_and(|n| n <= max);
    let bounded = match base {
        // WIDTHxHEIGHT only: ffmpeg's names (hd720, ...) are left to ffmpeg.
        "s" => {
            value.split_once('x').is_some_and(|(w, h)| number(w, MAX_SIZE) && number(h, MAX_SIZE))
        }
        "threads" => value == "auto" || number(value, MAX_THREADS),
        _ => true,
    };
    if !bounded {
        return Err(SpecError::Value { name: name.into(), value: value.into() });
    }
    Ok(())
}

/// Filter arguments: expressions, but no filtergraph syntax and no quoting.
/// A comma separates a function's arguments (`min(1280,iw)`); the graph
/// escapes it ([`escaped`]), so it never ends the filter. `curves` takes
/// its named options only ([`CURVES_OPTIONS`]), whose points are separated
/// by spaces (which libavfilter keeps inside a value, trimming its ends).
fn check_filter_args(name: &str, args: &str) -> Result<(), SpecError> {
    let refuse = || Err(SpecError::Value { name: name.into(), value: args.into() });
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"_.:=+-*/()<>!,@#".contains(&b);
    if name == "curves" {
        let named = args.split(':').filter(|o| !o.is_empty()).all(|option| {
            option.split_once('=').is_some_and(|(key, _)| CURVES_OPTIONS.contains(&key))
        });
        return match named && args.bytes().all(|b| allowed(b) || b == b' ') {
            true => Ok(()),
            false => refuse(),
        };
    }
    // force_style's ASS styles: `FontName=DejaVu Sans,PrimaryColour=&H00FFFF&`.
    let styles = matches!(name, "subtitles" | "ass");
    if args.bytes().all(|b| allowed(b) || (styles && b" &".contains(&b))) {
        Ok(())
    } else {
        refuse()
    }
}

impl ValidSpec {
    /// The full ffmpeg argument list for one chunk: read `input` (and, with
    /// an overlay, [`OVERLAY_IMAGE`] beside it), write `output`, report
    /// progress on stdout. Nothing here comes from the client unchecked.
    pub fn ffmpeg_args(&self, input: &Path, output: &Path) -> Vec<OsString> {
        self.pass_args(input, output, None)
    }

    /// The arguments of pass `pass` (1 or 2) of a two-pass encode, with the
    /// pass log at `log` (a prefix inside the chunk's directory). Pass 1 is
    /// muxed like pass 2 (into a file thrown away with the directory): with
    /// `-f null` x264's first pass sees other timestamps and headers, and
    /// its second pass fails ("Incomplete MB-tree stats file").
    pub fn two_pass_args(
        &self,
        input: &Path,
        output: &Path,
        pass: u32,
        log: &Path,
    ) -> Vec<OsString> {
        self.pass_args(input, output, Some((pass, log)))
    }

    /// The video filter graph: the trim to the chunk's frames, the user's
    /// frame-local filters, then the fps filter's end or the frame map. With
    /// an overlay, a complex graph of two inputs: the chunk's video, trimmed
    /// and filtered up to the overlay, and the image ([`OVERLAY_OUTPUT`] is
    /// its output).
    fn graph(&self) -> String {
        let named = |(name, args): &(String, String)| {
            if args.is_empty() { name.clone() } else { format!("{name}={}", graph_escaped(args)) }
        };
        let mut after: Vec<String> = Vec::new();
        if self.output_start_us > 0 {
            // After the user's filters, which see the input's time as with
            // ffmpeg alone; where ffmpeg alone rounds it.
            after.extend(crate::output_start::filters(self.frame_rate, self.output_start_us));
        }
        if let Some(end) = self.filtered_end_pts {
            after.push(format!("trim=end_pts={end}"));
        }
        if let Some(map) = &self.frame_map {
            after.extend(map.filters(self.frame_rate));
        }
        let mut trim =
            format!("trim=start_pts={}:end_pts={}", self.keep_start_pts, self.keep_end_pts);
        if let Some((num, den)) = self.filter_time_base {
            trim.push_str(&format!(",settb={num}/{den}"));
        }
        let Some(overlay) = &self.overlay else {
            let chain = std::iter::once(trim)
                .chain(self.filters.iter().map(named))
                .chain(after)
                .collect::<Vec<_>>();
            return chain.join(",");
        };
        let (before, rest) = self.filters.split_at(overlay.filters_before);
        let main = std::iter::once(trim).chain(before.iter().map(named)).collect::<Vec<_>>();
        let mut graph = format!("[0:v]{}[main];", main.join(","));
        let image = if overlay.image_filters.is_empty() {
            "[1:v]"
        } else {
            let filters = overlay.image_filters.iter().map(named).collect::<Vec<_>>();
            graph.push_str(&format!("[1:v]{}[image];", filters.join(",")));
            "[image]"
        };
        let drawn = if overlay.args.is_empty() {
            "overlay".to_string()
        } else {
            format!("overlay={}", graph_escaped(&overlay.args))
        };
        let tail = std::iter::once(drawn).chain(rest.iter().map(named)).chain(after);
        graph.push_str(&format!(
            "[main]{image}{}[{OVERLAY_OUTPUT}]",
            tail.collect::<Vec<_>>().join(",")
        ));
        graph
    }

    /// The fontconfig configuration of a chunk whose directory is `dir`
    /// (absolute): no fonts, or the subtitle's in [`crate::fonts_conf::FONTS_DIR`].
    pub fn fonts_conf(&self, dir: &Path) -> String {
        let fonts = dir.join(crate::fonts_conf::FONTS_DIR);
        let fonts = Some(fonts.as_path()).filter(|_| !self.fonts.files.is_empty());
        crate::fonts_conf::config(fonts, &dir.join("fontconfig-cache"), &self.fonts.aliases)
    }

    /// The filter graph when it is too long for an argument: the caller
    /// writes it to [`FILTER_SCRIPT`] in the directory ffmpeg runs in, and
    /// the arguments name that file instead.
    pub fn filter_script(&self) -> Option<String> {
        let graph = self.graph();
        (graph.len() > INLINE_GRAPH_MAX).then_some(graph)
    }

    fn pass_args(&self, input: &Path, output: &Path, pass: Option<(u32, &Path)>) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        let mut push = |s: &str| args.push(s.into());
        for a in ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "error"] {
            push(a);
        }
        for a in ["-progress", "pipe:1", "-stats_period", "0.5"] {
            push(a);
        }
        push("-copyts");
        push("-itsoffset");
        push(&seconds(self.ts_offset_us));
        for (name, value) in &self.input_color {
            push(&format!("-{name}"));
            push(value);
        }
        if self.input_format == "mov" {
            // Never another file than the chunk (references: off by default).
            for a in ["-enable_drefs", "0", "-use_absolute_path", "0"] {
                push(a);
            }
        }
        for a in ["-protocol_whitelist", "file", "-f", self.input_format, "-i"] {
            push(a);
        }
        args.push(input.as_os_str().to_owned());
        if let Some(overlay) = &self.overlay {
            for a in ["-protocol_whitelist", "file", "-f", &overlay.image_format, "-i"] {
                args.push(a.into());
            }
            args.push(input.with_file_name(OVERLAY_IMAGE).into_os_string());
        }
        let mut push = |s: &str| args.push(s.into());
        let graph = self.graph();
        let long = graph.len() > INLINE_GRAPH_MAX;
        if self.overlay.is_some() {
            // As ffmpeg alone runs the user's -filter_complex: the same kind
            // of graph, which configures its scalers alike.
            push(if long { "-filter_complex_script" } else { "-filter_complex" });
            push(if long { FILTER_SCRIPT } else { &graph });
            push("-map");
            push(&format!("[{OVERLAY_OUTPUT}]"));
        } else {
            push("-map");
            push("0:v:0");
        }
        for a in ["-an", "-sn", "-dn", "-map_metadata", "-1", "-map_chapters", "-1"] {
            push(a);
        }
        if self.overlay.is_none() {
            push(if long { "-filter_script:v" } else { "-filter:v" });
            push(if long { FILTER_SCRIPT } else { &graph });
        }
        push("-c:v");
        push(&self.encoder);
        for (name, value) in &self.options {
            push(&format!("-{name}"));
            push(value);
        }
        if let Some(pix_fmt) = &self.pix_fmt {
            push("-pix_fmt");
            push(pix_fmt);
        }
        if let Some((number, _)) = pass {
            push("-pass");
            push(&number.to_string());
        }
        let mode = match self.fps_mode {
            // The frame map has made every decision: timestamps pass as set.
            _ if self.frame_map.is_some() => Some("passthrough"),
            FpsMode::Cfr => Some("cfr"),
            FpsMode::Passthrough => Some("passthrough"),
            FpsMode::Vfr => Some("vfr"),
            FpsMode::Unspecified => None,
        };
        if let Some(mode) = mode {
            push("-fps_mode");
            push(mode);
        }
        push("-r");
        push(&format!("{}/{}", self.frame_rate.0, self.frame_rate.1));
        push("-avoid_negative_ts");
        push("disabled");
        let format = match self.chunk_format {
            ChunkFormat::Matroska => "matroska",
            ChunkFormat::Nut => "nut",
            ChunkFormat::Mov => "mov",
        };
        if self.chunk_format == ChunkFormat::Mov && self.timescale > 0 {
            let timescale = self.timescale.to_string();
            for a in ["-movie_timescale", &timescale, "-video_track_timescale", &timescale] {
                push(a);
            }
        }
        for a in ["-f", format, "-y"] {
            push(a);
        }
        if let Some((_, log)) = pass {
            args.push("-passlogfile".into());
            args.push(log.as_os_str().to_owned());
        }
        args.push(output.as_os_str().to_owned());
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::v1::{CodecOption, Filter, Rational};

    fn spec() -> EncodeSpec {
        EncodeSpec {
            encoder: "libx264".into(),
            options: vec![CodecOption { name: "crf".into(), value: "23".into() }],
            pix_fmt: String::new(),
            filters: vec![Filter {
                name: "scale".into(),
                args: "iw/2:-2".into(),
                ..Default::default()
            }],
            keep_start_pts: 0,
            keep_end_pts: 10,
            time_base: Some(Rational { num: 1, den: 25 }),
            expected_frames: 10,
            ts_offset_us: 0,
            frame_rate: Some(Rational { num: 25, den: 1 }),
            fps_mode: FpsMode::Vfr as i32,
            chunk_format: ChunkFormat::Nut as i32,
            timescale: 0,
            passes: 0,
            filtered_end_pts: None,
            frame_map: None,
            output_start_us: 0,
            overlay: None,
            input_color: None,
            field_order: String::new(),
            filter_time_base: None,
            decoder: "h264".into(),
            input_format: ChunkFormat::Nut as i32,
        }
    }

    /// The source's colour description reaches the decoder as its options,
    /// before the chunk's `-i`; anything but ffmpeg's names is refused.
    #[test]
    fn the_colour_description_is_given_to_the_decoder() {
        let mut coloured = spec();
        coloured.input_color = Some(proto::v1::Color {
            range: "tv".into(),
            transfer: "smpte2084".into(),
            primaries: "bt2020".into(),
            ..Default::default()
        });
        let args =
            validate(&coloured).unwrap().ffmpeg_args(Path::new("/j/in"), Path::new("/j/out"));
        let text: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        let input = text.iter().position(|a| a == "-i").unwrap();
        let trc = text.iter().position(|a| a == "-color_trc").unwrap();
        assert!(trc < input && text[trc + 1] == "smpte2084", "{text:?}");
        assert!(text.windows(2).any(|w| w == ["-color_range", "tv"]), "{text:?}");
        assert!(!text.iter().any(|a| a == "-colorspace"), "{text:?}");
        let mut interlaced = spec();
        interlaced.field_order = "tt".into();
        let args =
            validate(&interlaced).unwrap().ffmpeg_args(Path::new("/j/in"), Path::new("/j/out"));
        let text: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert!(text.windows(2).any(|w| w == ["-field_order", "tt"]), "{text:?}");
        interlaced.field_order = "-i".into();
        assert!(validate(&interlaced).is_err());
        // The decoder's name is matched against the log: a codec's name only.
        for hostile in ["h264 @ 0x", "]", "-i", &"x".repeat(33)] {
            let mut bad = spec();
            bad.decoder = hostile.into();
            assert!(validate(&bad).is_err(), "{hostile}");
        }
        // A chunk's input is NUT or MOV (never following references to
        // other files); Matroska and unknown values are refused.
        let mut mov = spec();
        mov.input_format = ChunkFormat::Mov as i32;
        let args = validate(&mov).unwrap().ffmpeg_args(Path::new("in"), Path::new("out"));
        let text: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert!(text.windows(2).any(|w| w == ["-enable_drefs", "0"]), "{text:?}");
        assert!(text.windows(3).any(|w| w == ["-f", "mov", "-i"]), "{text:?}");
        for format in [ChunkFormat::Matroska as i32, 7] {
            let mut bad = spec();
            bad.input_format = format;
            assert!(validate(&bad).is_err(), "{format}");
        }
        for hostile in ["-i", "bt709 -y", "../x", "BT709", "a=b", &"x".repeat(33)] {
            let mut bad = spec();
            bad.input_color =
                Some(proto::v1::Color { space: hostile.into(), ..Default::default() });
            assert!(validate(&bad).is_err(), "{hostile}");
        }
    }

    /// The output's -ss is taken off after the user's filters, in ffmpeg's
    /// finer encoder time base (`output_start`); a negative one, or one
    /// beside an fps filter, is refused.
    #[test]
    fn the_output_start_is_subtracted_after_the_users_filters() {
        let mut started = spec();
        started.output_start_us = 700_000;
        let args = validate(&started).unwrap().ffmpeg_args(Path::new("/j/in"), Path::new("/j/out"));
        let joined: Vec<_> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        let graph = "trim=start_pts=0:end_pts=10,scale=iw/2:-2,settb=1/1638400,setpts=PTS-1146880";
        assert!(joined.windows(2).any(|w| w == ["-filter:v", graph]), "{joined:?}");
        started.filtered_end_pts = Some(9);
        assert!(validate(&started).is_err());
        started.filtered_end_pts = None;
        started.output_start_us = -1;
        assert!(validate(&started).is_err());
    }

    /// The output size and thread count are bounded, so that a spec cannot
    /// ask a node for frames or threads no machine holds.
    #[test]
    fn size_and_threads_are_bounded() {
        for (name, value) in [("s", "1280x720"), ("s", "8192x8"), ("threads", "auto")] {
            assert_eq!(check_option(name, value), Ok(()), "{name} {value}");
        }
        for (name, value) in [
            ("s", "8193x720"),
            ("s", "hd720"),
            ("s", "1280x"),
            ("threads", "65"),
            ("threads", "-1"),
        ] {
            assert!(check_option(name, value).is_err(), "{name} {value}");
        }
    }

    #[test]
    fn two_passes_only_for_encoders_that_have_them() {
        let mut two = spec();
        two.passes = 2;
        let valid = validate(&two).unwrap();
        let log = Path::new("/j/pass");
        let first = valid.two_pass_args(Path::new("/j/in.nut"), Path::new("/j/p1"), 1, log);
        let text: Vec<String> = first.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert!(text.windows(2).any(|w| w == ["-pass", "1"]));
        assert!(text.windows(2).any(|w| w == ["-passlogfile", "/j/pass"]));
        two.encoder = "libx265".into();
        assert_eq!(validate(&two).unwrap_err(), SpecError::Range("number of passes"));
        two.passes = 3;
        two.encoder = "libx264".into();
        assert!(validate(&two).is_err());
    }

    #[test]
    fn accepts_an_ordinary_spec() {
        let valid = validate(&spec()).unwrap();
        let args = valid.ffmpeg_args(Path::new("/j/in.nut"), Path::new("/j/out.nut"));
        let joined: Vec<_> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert!(
            joined
                .windows(2)
                .any(|w| w == ["-filter:v", "trim=start_pts=0:end_pts=10,scale=iw/2:-2"])
        );
        assert!(joined.windows(2).any(|w| w == ["-crf", "23"]));

        // A function's arguments stay inside the filter's.
        let mut commas = spec();
        commas.filters[0].args = "min(320,iw):-2,movie=x".into();
        let args = validate(&commas).unwrap().ffmpeg_args(Path::new("/j/in"), Path::new("/j/out"));
        let joined: Vec<_> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        let graph = r"trim=start_pts=0:end_pts=10,scale=min(320\,iw):-2\,movie=x";
        assert!(joined.windows(2).any(|w| w == ["-filter:v", graph]), "{joined:?}");

        let mut fps = spec();
        fps.filters = vec![Filter { name: "fps".into(), args: "24".into(), ..Default::default() }];
        fps.filtered_end_pts = Some(9);
        let args = validate(&fps).unwrap().ffmpeg_args(Path::new("/j/in"), Path::new("/j/out"));
        let joined: Vec<_> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert!(
            joined
                .windows(2)
                .any(|w| w == ["-filter:v", "trim=start_pts=0:end_pts=10,fps=24,trim=end_pts=9"])
        );
    }

    #[test]
    fn a_long_frame_map_goes_to_ffmpeg_in_a_file() {
        // 30 to 24 fps: every fifth frame dropped. One chunk of 11 minutes
        // has thousands of runs, past what one argument may hold.
        let map = |frames: usize| {
            let copies: Vec<u32> = (0..frames).map(|i| u32::from(i % 5 != 4)).collect();
            let shown = copies.iter().filter(|&&c| c > 0).count() as i64;
            let mut spec = spec();
            spec.expected_frames = shown as u64;
            spec.frame_map =
                Some(proto::v1::FrameMap { copies, slots: (0..shown).collect(), end_slot: shown });
            validate(&spec).unwrap()
        };
        let args = |valid: &ValidSpec| -> Vec<String> {
            valid
                .ffmpeg_args(Path::new("/j/in"), Path::new("/j/out"))
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect()
        };
        let short = map(250);
        assert!(short.filter_script().is_none());
        let inline = args(&short);
        let graph = inline.iter().position(|a| a == "-filter:v").map(|i| &inline[i + 1]).unwrap();
        assert!(graph.contains(",select='if(lt(n,"), "{graph}");
        assert!(graph.ends_with(",settb=1/25,setpts='if(lt(N,200),N,200)'"), "{graph}");
        assert!(inline.windows(2).any(|w| w == ["-fps_mode", "passthrough"]));

        let long = map(20_000);
        let script = long.filter_script().expect("too long for an argument");
        assert!(script.len() > INLINE_GRAPH_MAX && script.starts_with("trim="));
        assert!(args(&long).windows(2).any(|w| w == ["-filter_script:v", FILTER_SCRIPT]));
    }

    #[test]
    fn refuses_what_could_escape_the_job_directory() {
        type Mutation = Box<dyn Fn(&mut EncodeSpec)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("encoder", Box::new(|s| s.encoder = "h264_nvenc".into())),
            (
                "option",
                Box::new(|s| s.options.push(CodecOption { name: "i".into(), value: "x".into() })),
            ),
            (
                "passlogfile",
                Box::new(|s| {
                    s.options.push(CodecOption { name: "passlogfile".into(), value: "x".into() })
                }),
            ),
            (
                "stats",
                Box::new(|s| {
                    s.options.push(CodecOption {
                        name: "x264-params".into(),
                        value: "stats=x.log".into(),
                    })
                }),
            ),
            (
                "underscore spelling",
                Box::new(|s| {
                    s.options.push(CodecOption {
                        name: "x264-params".into(),
                        value: "dump_yuv=.bashrc".into(),
                    })
                }),
            ),
            (
                "x265 leading dashes",
                Box::new(|s| {
                    s.options.push(CodecOption {
                        name: "x265-params".into(),
                        value: "csv_log_level=1:--csv=x.csv".into(),
                    })
                }),
            ),
            (
                "upper case",
                Box::new(|s| {
                    s.options.push(CodecOption {
                        name: "x264-params".into(),
                        value: "QPFILE=q.txt".into(),
                    })
                }),
            ),
            (
                "abs path",
                Box::new(|s| {
                    s.options.push(CodecOption {
                        name: "x265-params".into(),
                        value: "zones=/etc/passwd".into(),
                    })
                }),
            ),
            ("url", Box::new(|s| s.options[0].value = "http://x".into())),
            (
                "movie",
                Box::new(|s| {
                    s.filters.push(Filter {
                        name: "movie".into(),
                        args: "a.mkv".into(),
                        ..Default::default()
                    })
                }),
            ),
            ("graph syntax", Box::new(|s| s.filters[0].args = "1:1;movie=x".into())),
            ("link label", Box::new(|s| s.filters[0].args = "1:1[x]".into())),
            ("escape", Box::new(|s| s.filters[0].args = "1:1\\,movie=x".into())),
            ("quote", Box::new(|s| s.filters[0].args = "'1:1'".into())),
            ("pix_fmt", Box::new(|s| s.pix_fmt = "yuv420p -i x".into())),
            ("range", Box::new(|s| s.keep_end_pts = 0)),
        ];
        for (what, mutate) in cases {
            let mut s = spec();
            mutate(&mut s);
            assert!(validate(&s).is_err(), "{what} was accepted");
        }
    }

    fn overlay() -> proto::v1::Overlay {
        proto::v1::Overlay {
            image: proto::Bytes::from_static(b"\x89PNG"),
            image_format: "png_pipe".into(),
            image_filters: vec![Filter {
                name: "scale".into(),
                args: "40:-1".into(),
                ..Default::default()
            }],
            args: "W-w-8:H-h-8".into(),
            filters_before: 1,
        }
    }

    /// With an overlay the node reads the image beside the chunk and runs a
    /// complex graph: the chunk's trim and the filters before the overlay,
    /// the image's own filters, then the overlay and what follows it.
    #[test]
    fn an_overlay_runs_as_a_graph_of_two_inputs() {
        let mut s = spec();
        s.filters.push(Filter { name: "hflip".into(), args: String::new(), ..Default::default() });
        s.overlay = Some(overlay());
        let args = validate(&s).unwrap().ffmpeg_args(Path::new("/j/in.nut"), Path::new("/j/out"));
        let text: Vec<_> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert!(
            text.windows(4).any(|w| w == ["-f", "png_pipe", "-i", "/j/overlay.img"]),
            "{text:?}"
        );
        let graph = "[0:v]trim=start_pts=0:end_pts=10,scale=iw/2:-2[main];[1:v]scale=40:-1[image];\
                     [main][image]overlay=W-w-8:H-h-8,hflip[out]";
        assert!(text.windows(2).any(|w| w == ["-filter_complex", graph]), "{text:?}");
        assert!(text.windows(2).any(|w| w == ["-map", "[out]"]), "{text:?}");
        assert!(!text.iter().any(|a| a == "-filter:v" || a == "0:v:0"), "{text:?}");
    }

    /// Options that end the output or hide the image once its one frame has
    /// passed, demuxers that are not of one still image, images too large
    /// for a header, and filter counts that do not add up are refused.
    #[test]
    fn an_overlay_is_a_bounded_still_image_shown_throughout() {
        type Mutation = Box<dyn Fn(&mut proto::v1::Overlay)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("eof_action", Box::new(|o| o.args = "10:10:eof_action=endall".into())),
            ("shortest", Box::new(|o| o.args = "shortest=1".into())),
            ("repeatlast", Box::new(|o| o.args = "x=1:repeatlast=0".into())),
            ("third positional", Box::new(|o| o.args = "1:2:pass".into())),
            ("demuxer", Box::new(|o| o.image_format = "image2".into())),
            ("concat", Box::new(|o| o.image_format = "concat".into())),
            ("empty image", Box::new(|o| o.image = proto::Bytes::new())),
            ("large image", Box::new(|o| o.image = vec![0u8; MAX_OVERLAY_IMAGE + 1].into())),
            ("before", Box::new(|o| o.filters_before = 2)),
            ("fps on the image", Box::new(|o| o.image_filters[0].name = "fps".into())),
            ("movie", Box::new(|o| o.image_filters[0].name = "movie".into())),
            ("graph syntax", Box::new(|o| o.args = "1:1[x];[x]movie=a".into())),
        ];
        for (what, mutate) in cases {
            let mut s = spec();
            let mut o = overlay();
            mutate(&mut o);
            s.overlay = Some(o);
            assert!(validate(&s).is_err(), "{what} was accepted");
        }
        let mut s = spec();
        s.overlay = Some(proto::v1::Overlay { args: "x=5:y=5:format=auto".into(), ..overlay() });
        assert!(validate(&s).is_ok());
    }

    /// A subtitle's file and fonts travel in the spec; its options are named
    /// and never name a directory or a stream; fonts go with subtitles only,
    /// of a font's type, and the configuration names their directory.
    #[test]
    fn a_subtitle_travels_with_its_fonts() {
        let font = |file_type: &str| proto::v1::FontFile {
            data: proto::Bytes::from_static(b"font"),
            file_type: file_type.into(),
        };
        let alias = |requested: &str| proto::v1::FontAlias {
            requested: requested.into(),
            family: "DejaVu Sans".into(),
        };
        let subtitles = |name: &str, args: &str| proto::v1::Filter {
            name: name.into(),
            args: args.into(),
            file: proto::Bytes::from_static(b"1\n00:00:00,000 --> 00:00:01,000\nx\n"),
            file_type: "srt".into(),
            fonts: vec![font("ttf"), font("otf")],
            font_aliases: vec![alias("Arial"), alias("Times New Roman")],
            ..Default::default()
        };
        let mut s = spec();
        s.filters = vec![subtitles("subtitles", "force_style=Fontsize=24,PrimaryColour=&H00FFFF&")];
        let valid = validate(&s).unwrap();
        assert_eq!(valid.files[0].0, "filter-0.srt");
        let names: Vec<&str> = valid.fonts.files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["font-0.ttf", "font-1.otf"]);
        let conf = valid.fonts_conf(Path::new("/chunk"));
        assert!(conf.contains("<dir>/chunk/fonts</dir>"), "{conf}");
        assert!(conf.contains("<string>Times New Roman</string>"), "{conf}");
        let graph = valid.graph();
        assert!(
            graph.contains(
                "subtitles=force_style=Fontsize=24\\,PrimaryColour=&H00FFFF&:filename=filter-0.srt"
            ),
            "{graph}"
        );
        for (what, filter) in [
            ("fontsdir", subtitles("subtitles", "fontsdir=/etc")),
            ("stream index", subtitles("subtitles", "si=0")),
            ("unnamed", subtitles("subtitles", "640x480")),
            ("shaping on subtitles", subtitles("subtitles", "shaping=simple")),
            ("a quote", subtitles("subtitles", "force_style='a'")),
            ("a character set path", subtitles("subtitles", "charenc=../../etc/passwd")),
            (
                "a playlist",
                proto::v1::Filter {
                    file: proto::Bytes::from_static(b"#EXTM3U\n"),
                    ..subtitles("subtitles", "")
                },
            ),
            (
                "a font of another type",
                proto::v1::Filter { fonts: vec![font("pfb")], ..subtitles("ass", "") },
            ),
            (
                "an empty font",
                proto::v1::Filter {
                    fonts: vec![proto::v1::FontFile {
                        data: proto::Bytes::new(),
                        file_type: "ttf".into(),
                    }],
                    ..subtitles("ass", "")
                },
            ),
            (
                "a family with a line break",
                proto::v1::Filter { font_aliases: vec![alias("A\nB")], ..subtitles("ass", "") },
            ),
            (
                "fonts on a LUT",
                proto::v1::Filter {
                    name: "lut3d".into(),
                    file_type: "cube".into(),
                    ..subtitles("", "")
                },
            ),
        ] {
            let mut s = spec();
            s.filters = vec![filter];
            assert!(validate(&s).is_err(), "{what} was accepted");
        }
        let mut s = spec();
        s.filters = vec![proto::v1::Filter {
            fonts: vec![],
            font_aliases: vec![],
            ..subtitles("hflip", "")
        }];
        s.filters[0].file = proto::Bytes::new();
        s.filters[0].file_type = String::new();
        let valid = validate(&s).unwrap();
        assert_eq!(
            valid.fonts_conf(Path::new("/chunk")),
            crate::fonts_conf::config(None, Path::new("/x"), &[])
        );
    }

    /// A subtitle's content must begin as its type's: a playlist or a list
    /// named `.srt` would be read as what it is, and name other files.
    #[test]
    fn a_subtitle_file_begins_as_its_type() {
        assert!(subtitle_content(
            "srt",
            b"\xef\xbb\xbf\n1\r\n00:00:00,000 --> 00:00:01,000\r\nx\n"
        ));
        assert!(subtitle_content("ass", b"  [Script Info]\nScriptType: v4.00+\n"));
        assert!(subtitle_content("vtt", b"WEBVTT\n\n00:00.000 --> 00:01.000\nx\n"));
        for (file_type, bytes) in [
            ("srt", &b"#EXTM3U\n#EXTINF:1,\n/etc/passwd\n"[..]),
            ("srt", b"ffconcat version 1.0\nfile /etc/passwd\n"),
            ("srt", b"1\nno time\n\n\n00:00:00,000 --> 00:00:01,000\n"),
            ("ass", b"1\n00:00:00,000 --> 00:00:01,000\n"),
            ("vtt", b"\n WEBVTT\n"),
            ("cube", b"[Script Info]"),
        ] {
            assert!(!subtitle_content(file_type, bytes), "{file_type}: {bytes:?}");
        }
    }

    /// A LUT's bytes travel in the spec and the node names its own copy;
    /// arguments never name a file, other filters carry none, and the
    /// files of one spec stay within a header.
    #[test]
    fn a_lut_travels_as_bytes_and_the_node_names_it() {
        let lut = |args: &str, file: &[u8], file_type: &str| proto::v1::Filter {
            name: "lut3d".into(),
            args: args.into(),
            file: file.to_vec().into(),
            file_type: file_type.into(),
            ..Default::default()
        };
        let mut s = spec();
        s.filters = vec![lut("interp=nearest", b"LUT_3D_SIZE 2", "cube"), lut("", b"x", "3dl")];
        let valid = validate(&s).unwrap();
        let names: Vec<&str> = valid.files.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["filter-0.cube", "filter-1.3dl"]);
        let args = valid.ffmpeg_args(Path::new("in.nut"), Path::new("out.mkv"));
        let graph = args.iter().map(|a| a.to_string_lossy()).find(|a| a.contains("lut3d")).unwrap();
        assert!(graph.contains("lut3d=interp=nearest:file=filter-0.cube,lut3d=file=filter-1.3dl"));

        let big = vec![0u8; MAX_FILTER_FILES / 2 + 1];
        let cases = [
            ("no file", vec![lut("", b"", "cube")]),
            ("a type lut3d does not read", vec![lut("", b"x", "png")]),
            ("a path in the arguments", vec![lut("file=/etc/passwd", b"x", "cube")]),
            ("an unnamed argument", vec![lut("grade.cube", b"x", "cube")]),
            ("too many bytes", vec![lut("", &big, "cube"), lut("", &big, "cube")]),
            (
                "lut1d of 3dl",
                vec![proto::v1::Filter { name: "lut1d".into(), ..lut("", b"x", "3dl") }],
            ),
            (
                "a file for hflip",
                vec![proto::v1::Filter { name: "hflip".into(), ..lut("", b"x", "cube") }],
            ),
        ];
        for (what, filters) in cases {
            let mut s = spec();
            s.filters = filters;
            assert!(validate(&s).is_err(), "{what} was accepted");
        }
    }

    /// drawtext's text reaches the filter as the spec gave it, whatever
    /// it holds, and only through the text field; its font is the file.
    #[test]
    fn drawtext_quotes_its_text_itself() {
        let text = |args: &str, text: &str| Filter {
            name: "drawtext".into(),
            args: args.into(),
            file: proto::Bytes::from_static(b"font"),
            file_type: "ttf".into(),
            text: text.into(),
            ..Default::default()
        };
        let mut s = spec();
        s.filters = vec![text("fontsize=20:fontcolor=white@0.5", "it's [a], b; c:\\ %{pts:hms}")];
        let valid = validate(&s).unwrap();
        let args = valid.ffmpeg_args(Path::new("in.nut"), Path::new("out.mkv"));
        let graph = args.iter().map(|a| a.to_string_lossy()).find(|a| a.contains("drawtext"));
        let graph = graph.unwrap();
        // Read back as libavfilter reads it: the graph's token, then the
        // option's.
        use crate::av_token::token;
        let (options, _) = token(graph.split_once("drawtext=").unwrap().1, &['[', ']', ',', ';']);
        let (before, text_value) = options.split_once(":text=").unwrap();
        assert_eq!(before, "fontsize=20:fontcolor=white@0.5:fontfile=filter-0.ttf");
        assert_eq!(token(text_value, &[':']).0, "it's [a], b; c:\\ %{pts:hms}");

        // A timecode (drawn alone, without text) is quoted by the node too.
        s.filters = vec![Filter {
            timecode: "00:59:59;80".into(),
            ..text("rate=30000/1001:start_number=7", "")
        }];
        let args = validate(&s).unwrap().ffmpeg_args(Path::new("in.nut"), Path::new("out.mkv"));
        let graph = args.iter().map(|a| a.to_string_lossy()).find(|a| a.contains("drawtext"));
        let (options, _) =
            token(graph.unwrap().split_once("drawtext=").unwrap().1, &['[', ']', ',', ';']);
        let (_, timecode) = options.split_once(":timecode=").unwrap();
        assert_eq!(token(timecode, &[':']), ("00:59:59;80".to_string(), ":text=''"));

        let cases = [
            ("no text", text("", "")),
            ("text in the arguments", text("text=hi", "hi")),
            ("a text file", text("textfile=t.txt", "hi")),
            ("fontconfig", text("font=Sans", "hi")),
            ("a timecode in the arguments", text("timecode=00\\:00\\:00\\:00", "hi")),
            ("a timecode of another form", Filter { timecode: " 0:0:0:0".into(), ..text("", "") }),
            ("the clock", text("", "%{localtime}")),
            ("a control character", text("", "a\u{1b}b")),
            ("strftime", text("expansion=strftime", "%H")),
            (
                "the clock, expanded at last",
                text("expansion=none:expansion=normal", "%{localtime}"),
            ),
            (
                "a timecode for another filter",
                Filter {
                    name: "hflip".into(),
                    file: proto::Bytes::new(),
                    file_type: String::new(),
                    timecode: "00:00:00:00".into(),
                    ..text("", "")
                },
            ),
            (
                "text for another filter",
                Filter {
                    name: "hflip".into(),
                    file: proto::Bytes::new(),
                    file_type: String::new(),
                    ..text("", "hi")
                },
            ),
        ];
        for (what, filter) in cases {
            let mut s = spec();
            s.filters = vec![filter];
            assert!(validate(&s).is_err(), "{what} was accepted");
        }
    }

    /// curves reads a file (`psfile`) and writes one (`plot`); a spec
    /// names every option, since unnamed values would reach those.
    #[test]
    fn curves_take_presets_and_points_never_files() {
        let curves = |args: &str| {
            let mut s = spec();
            s.filters =
                vec![Filter { name: "curves".into(), args: args.into(), ..Default::default() }];
            validate(&s)
        };
        assert!(curves("preset=vintage").is_ok());
        assert!(curves("r=0/0 0.5/0.58 1/1:g=0/0 1/1:enable=gte(t,1)").is_ok());
        for args in [
            "psfile=/etc/passwd",
            "plot=/tmp/curves.plt",
            "vintage",
            "preset=none::::::/etc/passwd",
            "preset=none: psfile=/etc/passwd",
            "r=0/0 1/1 :psfile=x",
            "r='0/0 1/1'",
        ] {
            assert!(curves(args).is_err(), "{args} was accepted");
        }
        let mut s = spec();
        s.filters = vec![Filter { name: "hue".into(), args: "h=90 ".into(), ..Default::default() }];
        assert!(validate(&s).is_err(), "a space outside curves");
    }

    /// The user's filters get the frames in ffmpeg alone's time base, set
    /// right after the trim to the chunk's frames.
    #[test]
    fn filters_see_the_sources_time_base() {
        let mut s = spec();
        s.filter_time_base = Some(Rational { num: 1, den: 25 });
        let args = validate(&s).unwrap().ffmpeg_args(Path::new("in.nut"), Path::new("out.mkv"));
        let graph = args.iter().map(|a| a.to_string_lossy()).find(|a| a.contains("trim")).unwrap();
        assert!(graph.starts_with("trim=start_pts=0:end_pts=10,settb=1/25,scale="), "{graph}");
        for (num, den) in [(0, 25), (1, -25), (1, i64::MAX)] {
            s.filter_time_base = Some(Rational { num, den });
            assert!(validate(&s).is_err(), "{num}/{den}");
        }
    }

    #[test]
    fn ratios_are_values_not_paths() {
        let mut s = spec();
        s.options
            .push(CodecOption { name: "x264-params".into(), value: "keyint=48:sar=1/1".into() });
        assert!(validate(&s).is_ok());
    }
}
