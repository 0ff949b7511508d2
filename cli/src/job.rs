//! A distributable encode, as the router extracted it from the command line.

use std::path::{Path, PathBuf};

use crate::console::Console;

/// A time window in microseconds, as `-ss` and `-t`/`-to` give it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// `-ss`.
    pub start: Option<i64>,
    /// `-t`, which wins over `-to`.
    pub duration: Option<i64>,
    /// `-to`.
    pub to: Option<i64>,
}

impl Window {
    /// The exclusive end on the same timeline as `start`, if any.
    pub fn end(&self) -> Option<i64> {
        match (self.duration, self.to) {
            (Some(d), _) => Some(self.start.unwrap_or(0) + d),
            (None, Some(to)) => Some(to),
            (None, None) => None,
        }
    }
}

/// What the user does to a file when the output exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// `-y`.
    Yes,
    /// `-n`.
    No,
    /// Neither: ffmpeg asks on stdin.
    Ask,
}

/// How the input is read, which decides whether it can be read more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A regular file: probed, cut and muxed from where it lies.
    File,
    /// Standard input (`-i -`, `pipe:`, `pipe:0`): read once, so it is spooled
    /// to a file first (see `spool`).
    Stdin,
    /// A `-f lavfi` graph: generated, so its frames are spooled to a file first.
    Lavfi,
}

impl InputKind {
    /// ffmpeg's names for standard input as an input URL (`-` becomes `pipe:`).
    pub fn reads_stdin(url: &str) -> bool {
        matches!(url, "-" | "pipe:" | "pipe:0")
    }
}

/// The file an input URL names on disk: the URL itself, or what follows
/// `file:` (media servers name every input `file:/path`). ffmpeg's file
/// protocol takes the rest as written (`file:-` is a file named `-`), and
/// so does every ffmpeg dffmpeg runs, which is given the URL unchanged; only
/// dffmpeg's own look at the file (is it one, its identity for resuming, a
/// concat list's lines) needs the path.
pub fn file_path(url: &Path) -> &Path {
    match url.to_str().and_then(|u| u.strip_prefix("file:")) {
        Some(path) if !path.starts_with("//") => Path::new(path),
        _ => url,
    }
}

/// Whether an output URL names standard output, as ffmpeg's pipe protocol
/// reads it (`pipe:` and `-` are fd 1).
pub fn is_stdout(url: &str) -> bool {
    matches!(url, "-" | "pipe:" | "pipe:1")
}

/// Everything the distributed path needs to reproduce one ffmpeg run.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodeJob {
    /// The input whose video is encoded; for stdin and lavfi, the URL as written until
    /// the input is spooled, then the spooled file.
    pub input: PathBuf,
    /// The input is an image sequence (`image_sequence`): its images may
    /// differ in size and format, which each chunk's encoder would take
    /// from its own first image.
    pub image_sequence: bool,
    /// How the input is read.
    pub input_kind: InputKind,
    /// Input options passed to every ffmpeg that reads the input (`-f`, and
    /// for stdin the raw format: `-s`, `-pix_fmt`, `-r`...).
    pub input_args: Vec<String>,
    /// The input options ffmpeg alone describes the input with (its
    /// `Input #0` block), where they differ from `input_args`: an image
    /// sequence's `-r`, which every reader takes as `-framerate` to the same
    /// frames, leaves ffmpeg alone's demuxer at its own rate
    /// (`image_sequence::rate_as_framerate`).
    pub input_description_args: Option<Vec<String>>,
    /// `-ss`/`-t`/`-to` before `-i` as written, for the final mux.
    pub input_trim_args: Vec<String>,
    /// `-ss`/`-t`/`-to` before `-i`.
    pub input_window: Window,
    /// The single output file.
    pub output: PathBuf,
    /// `-ss`/`-t`/`-to` before the output.
    pub output_window: Window,
    /// The ffmpeg muxer name for the output, from `-f` or the extension.
    pub output_format: String,
    /// The video encoder.
    pub encoder: String,
    /// Encoder options, as `(name, value)`.
    pub encoder_options: Vec<(String, String)>,
    /// `-pix_fmt`, if given.
    pub pix_fmt: Option<String>,
    /// Frame-local filters from `-vf`, as `(name, args)`.
    pub filters: Vec<(String, String)>,
    /// The filters ffmpeg's autorotation puts before them for the video's
    /// display matrix (`autorotate`), which the nodes run first. Kept apart:
    /// ffmpeg's frame-rate decisions read packet durations only for a video
    /// without the user's filters, which these are not.
    pub turn: Vec<(String, String)>,
    /// The files the file filters among `filters` read (`lut3d`), by the
    /// path their arguments give, read once by `filter_files::load` after
    /// routing; every chunk's spec carries them.
    pub filter_files: Vec<(String, proto::Bytes)>,
    /// The fonts the burnt-in subtitles among `filters` draw with, found by
    /// `filter_files::load` (`subtitle_fonts`), and the index in `filters`
    /// of the first subtitle filter, whose spec carries them: a node puts
    /// them in one directory for all.
    pub subtitle_fonts: Option<(usize, crate::subtitle_fonts::Fonts)>,
    /// The events of those subtitles, which decide where chunks may start
    /// (`subtitle_events`).
    pub subtitle_events: Vec<crate::subtitle_events::Event>,
    /// The rate of an `fps` filter among them: chunks then follow its output grid.
    pub fps_filter: Option<(i64, i64)>,
    /// The user's `-map` values, in order; empty for ffmpeg's default choice.
    pub maps: Vec<String>,
    /// Output options for the final mux, passed through as written.
    pub mux_args: Vec<String>,
    /// `-an`, `-sn`, `-dn` on the output.
    pub disable: Disabled,
    /// `-y`, `-n` or neither.
    pub overwrite: Overwrite,
    /// Log level, banner, stats line, `-progress`, stdin.
    pub console: Console,
    /// 2 for `-pass 2` (both passes then run per chunk on the node), else 1.
    pub passes: u32,
    /// `-passlogfile`: where ffmpeg alone would read the first pass's log.
    pub passlogfile: Option<String>,
    /// `-fps_mode`/`-vsync` when given and not `auto`: how frames are synchronised.
    pub fps_mode: Option<proto::v1::FpsMode>,
    /// The output's `-r`: frames are dropped and repeated to this rate, as
    /// ffmpeg decides it for the whole run (see `retime`).
    pub output_rate: Option<(i64, i64)>,
    /// An input `-r` on a file (`counted_rate`): ffmpeg alone times the
    /// decoded frames by their count at this rate.
    pub counted_rate: Option<(i64, i64)>,
    /// The output's options as ffmpeg alone gets them, for the trial that
    /// runs it on one frame before distributing (`crate::trial`).
    pub trial_options: Vec<String>,
    /// ffmpeg alone's stream mapping line of each output stream, from the
    /// trial: the console names decoders and encoders as it does.
    pub trial_mapping: Vec<Option<crate::trial::MappedLine>>,
    /// The video's tag as ffmpeg alone writes it, read from the trial's
    /// output, for containers where the final mux would otherwise keep the
    /// chunks' own (AVI takes MOV's `avc1` where ffmpeg writes `H264`).
    pub video_tag: Option<String>,
    /// The `encoder` tag ffmpeg alone's video stream carries, from the
    /// trial's description of its output: with a user's `-map_metadata`,
    /// the final mux sets it on the copied video, as it cannot tell what
    /// the mapping left there and ffmpeg writes its own only where none is.
    pub video_encoder_tag: Option<String>,
    /// Inputs after the first, in order (input 1 first): the final mux
    /// maps their streams; none of their video is encoded.
    pub extra_inputs: Vec<ExtraInput>,
    /// `-frames:v`/`-vframes`: ffmpeg alone encodes no more frames than this.
    pub max_frames: Option<u64>,
    /// The output stream that options written with an index specifier
    /// (Jellyfin's `-x264opts:0`) take for the video: ffmpeg matches `:0`
    /// against output streams, which only the probe orders, so the job runs
    /// through ffmpeg when that stream is not the video.
    pub video_output_index: Option<usize>,
    /// `-copyts -start_at_zero`: ffmpeg alone's constant-rate outputs keep
    /// a late first frame where it is (`route::copy_ts`).
    pub copy_ts: bool,
    /// The input's `-itsoffset`, in microseconds: ffmpeg adds it to every
    /// timestamp it reads (`Timeline::new` and the nodes, through the
    /// chunks' offset; the final mux and the trial read the input with it).
    pub input_ts_offset_us: i64,
    /// ffmpeg turns the picture as the input's display matrix says
    /// (`autorotate`); `-noautorotate` keeps it as stored, with the matrix.
    pub autorotate: bool,
    /// For a segmenting output (HLS, DASH): the encoder's keyframe interval,
    /// in output frames; every chunk starts on one of ffmpeg alone's
    /// keyframes (`crate::segmented`).
    pub keyint: Option<u64>,
    /// With a `-filter_complex` that is one chain on the video: where its
    /// output stream goes and how ffmpeg names it (`crate::graph`); its
    /// filters are in `filters`, its input among `maps`.
    pub graph: Option<crate::graph::GraphVideo>,
    /// The `-filter_complex` chains on audio, which the final mux runs
    /// (`crate::graph`); each one's output is among `maps` as `[label]`.
    pub audio_chains: Vec<crate::graph::AudioChain>,
    /// The command names no video encoder: `encoder` is the container's
    /// default (`streams::default_video_encoder`), which the trial must find ffmpeg alone
    /// picking too, or the command runs through ffmpeg.
    pub default_encoder: bool,
}

/// An input after the first, read only by the final mux and the trial.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtraInput {
    /// The file.
    pub url: PathBuf,
    /// Its options, as written before its `-i`.
    pub args: Vec<String>,
}

impl ExtraInput {
    /// Its options, `-i` and the file: as every ffmpeg that opens it reads it.
    pub fn argv(&self) -> impl Iterator<Item = std::ffi::OsString> + '_ {
        self.args
            .iter()
            .map(std::ffi::OsString::from)
            .chain(["-i".into(), self.url.clone().into_os_string()])
    }
}

impl EncodeJob {
    /// Whether the output's muxer opens files of its own (HLS, DASH, the
    /// segment muxer: a playlist, manifest or list and its segments), so
    /// that ffmpeg has no output size to report.
    pub fn writes_own_files(&self) -> bool {
        crate::segmented::FORMATS.contains(&self.output_format.as_str())
    }

    /// Whether the output is standard output (`-`, `pipe:`, `pipe:1`):
    /// the final mux writes to it directly, with nothing to rename, remove
    /// or ask about (`route::STDOUT_FORMATS`).
    pub fn writes_stdout(&self) -> bool {
        is_stdout(&self.output.to_string_lossy())
    }

    /// The output as ffmpeg names it in its `Output #0` line: `-` is
    /// `pipe:` there.
    pub fn output_name(&self) -> &Path {
        if self.output == Path::new("-") { Path::new("pipe:") } else { &self.output }
    }

    /// The input is read by the concat demuxer (`-f concat -i list.txt`).
    pub fn concat_input(&self) -> bool {
        self.input_args.windows(2).any(|w| w[0] == "-f" && w[1] == "concat")
    }

    /// Whether ffmpeg alone writes this output at a constant frame rate by
    /// default: its muxer lacks `AVFMT_VARIABLE_FPS` (MP4, MOV, HLS, DASH, and
    /// the segment muxer, whatever its segments' container).
    pub fn cfr_output(&self) -> bool {
        matches!(self.output_format.as_str(), "mp4" | "mov" | "hls" | "dash" | "segment")
    }

    /// `-loglevel verbose` or more, or a report that records as much:
    /// dffmpeg's own lines are worth composing.
    pub fn verbose(&self) -> bool {
        self.console.logs(crate::console::level::VERBOSE)
    }

    /// One of dffmpeg's own verbose lines, on the console or in the report
    /// (`Console::print`).
    pub fn verbose_line(&self, line: std::fmt::Arguments<'_>) {
        self.console.print(crate::console::level::VERBOSE, &format!("{line}\n"));
    }
}

/// Stream kinds the output disables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Disabled {
    /// `-an`.
    pub audio: bool,
    /// `-sn`.
    pub subtitles: bool,
    /// `-dn`.
    pub data: bool,
}
