//! What ffmpeg prints on the console around an encode, reproduced on the
//! distributed path: the log level, the banner, the input's description and
//! the stream mapping (the stats line is `stats`, `-progress` is `progress`).
//!
//! Programs parse this text (the `Duration:` line, `frame=`/`time=`), so it
//! comes from the same sources ffmpeg uses: the banner from the real ffmpeg's
//! `-version`, the input description from ffprobe's `av_dump_format`.

use std::time::Duration;

use crate::args::{Command, Opt, parse_duration};
use crate::job::InputKind;
use crate::local::Tools;
use crate::progress::ProgressTarget;

/// ffmpeg's log levels (libavutil/log.h).
pub mod level {
    /// `quiet`.
    pub const QUIET: i32 = -8;
    /// `fatal`: "Not overwriting - exiting".
    pub const FATAL: i32 = 8;
    /// `error`.
    pub const ERROR: i32 = 16;
    /// `warning`: dffmpeg's own warnings (a policy that failed a decision).
    pub const WARNING: i32 = 24;
    /// `info`, the default: banner, input description, stream mapping.
    pub const INFO: i32 = 32;
    /// `verbose`: dffmpeg's route and per-chunk lines.
    pub const VERBOSE: i32 = 40;
}

/// The console options of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Console {
    /// `-loglevel`/`-v`, as a number.
    pub level: i32,
    /// `-hide_banner`.
    pub hide_banner: bool,
    /// `-stats` (Some(true)), `-nostats` (Some(false)), or neither.
    pub stats: Option<bool>,
    /// `-stats_period`: how often the stats line and `-progress` update.
    pub stats_period: Duration,
    /// `-progress URL`.
    pub progress: Option<ProgressTarget>,
    /// ffmpeg reads stdin (for `q` and the overwrite prompt) unless `-nostdin`.
    pub interactive: bool,
    /// `-benchmark`: the closing `bench:` lines (see `benchmark`).
    pub benchmark: bool,
    /// `-report` or `FFREPORT`: the log file (see `report`).
    pub report: Option<crate::report::ReportRequest>,
}

impl Default for Console {
    fn default() -> Self {
        Self {
            level: level::INFO,
            hide_banner: false,
            stats: None,
            stats_period: Duration::from_millis(500),
            progress: None,
            interactive: true,
            benchmark: false,
            report: None,
        }
    }
}

impl Console {
    /// Reads the console options from the global options; the error is why
    /// one of them cannot be honoured here.
    pub fn from_command(command: &Command) -> Result<Self, String> {
        let mut console = Self::default();
        let mut report = false;
        for opt in &command.globals {
            let value = opt.value.as_deref().unwrap_or_default();
            match opt.name.as_str() {
                "loglevel" | "v" => {
                    console.level = parse_level(value)
                        .ok_or_else(|| format!("{} {value} is not a log level", opt.flag()))?;
                }
                // ffmpeg 5.1 hides the banner for -nohide_banner too: it
                // only looks for the option's name.
                "hide_banner" => console.hide_banner = true,
                "stats" => console.stats = Some(opt.enabled()),
                "stdin" => console.interactive = opt.enabled(),
                "stats_period" => {
                    let us = parse_duration(value)
                        .filter(|us| *us > 0)
                        .ok_or_else(|| format!("-stats_period {value} is not a duration"))?;
                    console.stats_period = Duration::from_micros(us as u64);
                }
                "progress" => console.progress = Some(ProgressTarget::parse(value)?),
                "benchmark" => console.benchmark = opt.enabled(),
                // Like -hide_banner, ffmpeg 5.1 looks for the name alone.
                "report" => report = true,
                _ => {}
            }
        }
        let env = match std::env::var_os("FFREPORT") {
            None => None,
            Some(value) => Some(value.into_string().map_err(|_| "FFREPORT is not UTF-8")?),
        };
        console.report = crate::report::ReportRequest::from(report, env.as_deref())?;
        // ffmpeg turns stdin interaction off when an input reads stdin.
        if command.inputs.iter().any(|i| InputKind::reads_stdin(&i.url)) {
            console.interactive = false;
        }
        Ok(console)
    }

    /// True when a message of `level` is shown.
    pub fn shows(&self, level: i32) -> bool {
        self.level >= level
    }

    /// True when a message of `level` goes anywhere, to the console or to
    /// the report asked for (started or not yet): whether it is worth
    /// composing.
    pub fn logs(&self, level: i32) -> bool {
        self.shows(level) || self.report.as_ref().is_some_and(|r| r.level >= level)
    }

    /// Logs `text` at `level` as ffmpeg's log callback does: on standard
    /// error when the console shows the level (a report copies it from
    /// there), else into the report alone when it records the level.
    pub fn print(&self, level: i32, text: &str) {
        if self.shows(level) {
            stderr(text);
        } else {
            crate::report::unseen(level, text);
        }
    }

    /// Where the running stats line goes (ffmpeg 5.1's `print_report`):
    /// `-stats` prints it on the console whatever the level, `-nostats`
    /// nowhere; by default it is an info message, so below info level it
    /// goes to the report alone.
    pub fn running_stats_sink(&self) -> Option<Sink> {
        match self.stats {
            Some(true) => Some(Sink::Console),
            Some(false) => None,
            None if self.shows(level::INFO) => Some(Sink::Console),
            None if self.logs(level::INFO) => Some(Sink::Report),
            None => None,
        }
    }

    /// The last stats line, which `-nostats` does not turn off: on the
    /// console with `-stats`, else an info message.
    pub fn print_last_stats(&self, line: &str) {
        if self.stats == Some(true) {
            stderr(&format!("{line}\n"));
        } else {
            self.print(level::INFO, &format!("{line}\n"));
        }
    }

    /// The running stats line shows on the console (`running_stats_sink`).
    pub fn running_stats(&self) -> bool {
        self.running_stats_sink() == Some(Sink::Console)
    }

    /// The last report shows on the console: also with `-nostats`, at info
    /// level (`print_last_stats`).
    pub fn last_stats(&self) -> bool {
        self.stats == Some(true) || self.shows(level::INFO)
    }
}

/// Where a running stats line is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// Standard error (and, from there, a report if one runs).
    Console,
    /// The report alone: the console's level hides the line.
    Report,
}

/// Writes `text` to standard error, dropping a write error: with standard
/// error closed (`2>&1 | head -1`) ffmpeg goes on and finishes its output,
/// and so must dffmpeg (`eprint!` would panic).
pub fn stderr(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = std::io::Write::write_all(&mut err, text.as_bytes());
    let _ = std::io::Write::flush(&mut err);
}

impl Sink {
    /// Writes `text`, as is, where this sink points.
    pub fn write(self, text: &str) {
        match self {
            Self::Console => {
                let mut err = std::io::stderr().lock();
                let _ = std::io::Write::write_all(&mut err, text.as_bytes());
                let _ = std::io::Write::flush(&mut err);
            }
            Self::Report => crate::report::unseen(level::INFO, text),
        }
    }
}

/// `info`, `40`, `repeat+level+verbose`, `+level+debug`... to a number.
pub fn parse_level(text: &str) -> Option<i32> {
    let last = text.rsplit('+').next().unwrap_or(text);
    if let Ok(n) = last.parse::<i32>() {
        return Some(n);
    }
    Some(match last {
        "quiet" => level::QUIET,
        "panic" => 0,
        "fatal" => level::FATAL,
        "error" => level::ERROR,
        "warning" => level::WARNING,
        "info" => level::INFO,
        "verbose" => level::VERBOSE,
        "debug" => 48,
        "trace" => 56,
        _ => return None,
    })
}

/// True for a `-loglevel`/`-v` option that shows verbose messages.
pub fn is_verbose(opt: &Opt) -> bool {
    opt.value.as_deref().and_then(parse_level).is_some_and(|l| l >= level::VERBOSE)
}

/// ffmpeg's banner: its `-version` text with every line but the first
/// indented, as `show_banner` prints it.
pub async fn banner(tools: &Tools) -> anyhow::Result<String> {
    let version = tools.version().await?;
    let mut out = String::new();
    for (i, line) in version.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        if i > 0 {
            out.push_str("  ");
        }
        out.push_str(line);
        out.push('\n');
    }
    Ok(out)
}

/// One output stream in the `Stream mapping:` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// The input file's index.
    pub file: usize,
    /// The input stream's index in it.
    pub input: usize,
    /// How it is encoded; `None` for a copy.
    pub coding: Option<Coding>,
    /// For a filter graph's output: the graph's input and output pads
    /// (`hflip:default`, `scale:default`), which ffmpeg names instead.
    pub pads: Option<(String, String)>,
    /// The other input streams the graph that makes this stream reads: an
    /// overlay's image, a mixer's further inputs.
    pub also_feeding: Vec<GraphInput>,
}

/// An input stream that feeds a filter graph, as the stream mapping lists
/// it: `Stream #1:0 (png) -> overlay`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphInput {
    /// The input file's index.
    pub file: usize,
    /// The stream's index in it.
    pub input: usize,
    /// Its codec: `png`.
    pub from: String,
    /// The pad it feeds: `overlay`, `scale:default`.
    pub pad: String,
}

/// A stream that is decoded and encoded again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coding {
    /// The input codec: `h264`.
    pub from: String,
    /// The output codec: `hevc`.
    pub to: String,
    /// The encoder: `libx265`.
    pub encoder: String,
    /// ffmpeg alone's own words for it, where its trial said them: `mp3
    /// (mp3float) -> aac (native)` names a decoder that is not the codec's
    /// name, which nothing else here knows.
    pub said: Option<String>,
}

impl Coding {
    /// Encoding a `from` stream with `encoder`.
    pub fn new(from: &str, encoder: &str) -> Self {
        Self {
            from: from.into(),
            to: codec_of_encoder(encoder).into(),
            encoder: encoder.into(),
            said: None,
        }
    }
}

/// The `Stream mapping:` block: per output file, one line per stream in order.
pub fn stream_mapping(outputs: &[Vec<Mapped>]) -> String {
    let mut out = String::from("Stream mapping:\n");
    // Every stream encoded outside the graph has a simple filter graph of
    // its own; once there are several graphs, ffmpeg 5.1 names the complex
    // one's pads with its index (the only complex graph here is graph 0).
    let graphs = usize::from(outputs.iter().flatten().any(|m| m.pads.is_some()))
        + outputs.iter().flatten().filter(|m| m.coding.is_some() && m.pads.is_none()).count();
    let suffix = if graphs > 1 { " (graph 0)" } else { "" };
    // ffmpeg lists the input streams that feed a graph first, in the
    // inputs' order.
    let mut feeding: Vec<GraphInput> = outputs
        .iter()
        .flatten()
        .filter_map(|m| match (&m.pads, &m.coding) {
            (Some((pad, _)), Some(coding)) => Some(GraphInput {
                file: m.file,
                input: m.input,
                from: coding.from.clone(),
                pad: pad.clone(),
            }),
            _ => None,
        })
        .chain(outputs.iter().flatten().flat_map(|m| m.also_feeding.clone()))
        .collect();
    feeding.sort_by_key(|f| (f.file, f.input));
    for GraphInput { file, input, from, pad } in feeding {
        out.push_str(&format!("  Stream #{file}:{input} ({from}) -> {pad}{suffix}\n"));
    }
    for (file, mapping) in outputs.iter().enumerate() {
        out.push_str(&file_mapping(file, mapping, suffix));
    }
    out
}

fn file_mapping(file: usize, mapping: &[Mapped], suffix: &str) -> String {
    let mut out = String::new();
    for (output, Mapped { file: from, input, coding, pads, .. }) in mapping.iter().enumerate() {
        if let (Some((_, output_pad)), Some(coding)) = (pads, coding) {
            let encoder = &coding.encoder;
            out.push_str(&format!(
                "  {output_pad}{suffix} -> Stream #{file}:{output} ({encoder})\n"
            ));
            continue;
        }
        let what = match coding {
            None => "copy".to_string(),
            Some(Coding { said: Some(said), .. }) => said.clone(),
            Some(Coding { from, to, encoder, said: None }) => {
                let encoder = if encoder == to { "native" } else { encoder.as_str() };
                format!("{from} (native) -> {to} ({encoder})")
            }
        };
        out.push_str(&format!("  Stream #{from}:{input} -> #{file}:{output} ({what})\n"));
    }
    out
}

/// The codec an encoder writes, as ffmpeg names it in the stream mapping.
pub fn codec_of_encoder(encoder: &str) -> &str {
    match encoder {
        "libx264" | "libx264rgb" => "h264",
        "libx265" => "hevc",
        "libsvtav1" | "libaom-av1" | "librav1e" => "av1",
        "libvpx" => "vp8",
        "libvpx-vp9" => "vp9",
        "mpeg4" | "libxvid" => "mpeg4",
        "mpeg2video" => "mpeg2video",
        "prores_ks" => "prores",
        "libtheora" => "theora",
        "libopus" => "opus",
        "libvorbis" => "vorbis",
        "libmp3lame" | "libshine" => "mp3",
        "libfdk_aac" => "aac",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse;

    #[test]
    fn log_levels() {
        assert_eq!(parse_level("verbose"), Some(40));
        assert_eq!(parse_level("repeat+level+error"), Some(16));
        assert_eq!(parse_level("-8"), Some(-8));
        assert_eq!(parse_level("loud"), None);
    }

    #[test]
    fn reads_console_options() {
        let argv: Vec<String> =
            "-v error -nostdin -nostats -stats_period 2 -progress pipe:1 -i a b.mkv"
                .split(' ')
                .map(String::from)
                .collect();
        let console = Console::from_command(&parse(&argv).unwrap()).unwrap();
        assert_eq!(console.level, level::ERROR);
        assert!(!console.interactive && console.stats == Some(false));
        assert!(!console.running_stats() && !console.last_stats());
        assert_eq!(console.stats_period, Duration::from_secs(2));
        assert_eq!(console.progress, Some(ProgressTarget::Stdout));
        let argv: Vec<String> = ["-f", "rawvideo", "-i", "-", "b.mkv"].map(String::from).into();
        assert!(!Console::from_command(&parse(&argv).unwrap()).unwrap().interactive);
    }

    #[test]
    fn a_graphs_output_is_mapped_by_its_pads_as_ffmpeg_51_prints_it() {
        // ffmpeg -i in.mkv -filter_complex 'hflip,scale=80:60' -c:v libx264 -c:a copy
        let pads = Some(("hflip:default".to_string(), "scale:default".to_string()));
        let coding = Some(Coding::new("h264", "libx264"));
        let text = stream_mapping(&[vec![
            Mapped { file: 0, input: 0, coding, pads, also_feeding: Vec::new() },
            Mapped { file: 0, input: 1, coding: None, pads: None, also_feeding: Vec::new() },
        ]]);
        assert_eq!(
            text,
            "Stream mapping:\n  Stream #0:0 (h264) -> hflip:default\n  scale:default -> Stream #0:0 (libx264)\n  Stream #0:1 -> #0:1 (copy)\n"
        );
    }

    #[test]
    fn beside_a_simple_graph_the_complex_one_is_graph_0() {
        // ffmpeg -i in.mkv -filter_complex '[0:v]hflip[v]' -map '[v]' -map 0:a
        //     -c:v libx264 -c:a aac: the audio's encoder has a graph too.
        let pads = Some(("hflip:default".to_string(), "hflip:default".to_string()));
        let text = stream_mapping(&[vec![
            Mapped {
                file: 0,
                input: 0,
                coding: Some(Coding::new("h264", "libx264")),
                pads,
                also_feeding: Vec::new(),
            },
            Mapped {
                file: 0,
                input: 1,
                coding: Some(Coding::new("aac", "aac")),
                pads: None,
                also_feeding: Vec::new(),
            },
        ]]);
        assert_eq!(
            text,
            "Stream mapping:\n  Stream #0:0 (h264) -> hflip:default (graph 0)\n  hflip:default (graph 0) -> Stream #0:0 (libx264)\n  Stream #0:1 -> #0:1 (aac (native) -> aac (native))\n"
        );
    }

    #[test]
    fn the_streams_that_feed_a_graph_come_in_the_inputs_order() {
        // ffmpeg -i in.mkv -filter_complex '[0:a]volume=0.5[a];[0:v]hflip[v]'
        //     -map '[a]' -map '[v]' -c:v libx264 -c:a aac
        let pads = |name: &str| Some((format!("{name}:default"), format!("{name}:default")));
        let text = stream_mapping(&[vec![
            Mapped {
                file: 0,
                input: 1,
                coding: Some(Coding::new("aac", "aac")),
                pads: pads("volume"),
                also_feeding: Vec::new(),
            },
            Mapped {
                file: 0,
                input: 0,
                coding: Some(Coding::new("h264", "libx264")),
                pads: pads("hflip"),
                also_feeding: Vec::new(),
            },
        ]]);
        assert_eq!(
            text,
            "Stream mapping:\n  Stream #0:0 (h264) -> hflip:default\n  Stream #0:1 (aac) -> volume:default\n  volume:default -> Stream #0:0 (aac)\n  hflip:default -> Stream #0:1 (libx264)\n"
        );
    }

    #[test]
    fn an_overlays_image_feeds_the_graph_in_the_inputs_order() {
        // ffmpeg -i in.mp4 -i logo.png -filter_complex
        //     '[1:v]scale=40:-1[wm];[0:v][wm]overlay=5:5' -c:v libx264 -c:a aac
        let image =
            GraphInput { file: 1, input: 0, from: "png".into(), pad: "scale:default".into() };
        let text = stream_mapping(&[vec![
            Mapped {
                file: 0,
                input: 0,
                coding: Some(Coding::new("h264", "libx264")),
                pads: Some(("overlay".into(), "overlay:default".into())),
                also_feeding: vec![image],
            },
            Mapped {
                file: 0,
                input: 1,
                coding: Some(Coding::new("aac", "aac")),
                pads: None,
                also_feeding: Vec::new(),
            },
        ]]);
        assert_eq!(
            text,
            "Stream mapping:\n  Stream #0:0 (h264) -> overlay (graph 0)\n  Stream #1:0 (png) -> scale:default (graph 0)\n  overlay:default (graph 0) -> Stream #0:0 (libx264)\n  Stream #0:1 -> #0:1 (aac (native) -> aac (native))\n"
        );
    }

    #[test]
    fn every_stream_a_mixer_reads_feeds_the_graph() {
        // ffmpeg -i in.mp4 -i music.wav -filter_complex '[0:a][1:a]amix=inputs=2[a]'
        //     -map 0:v -map '[a]' -c:v libx264 -c:a aac
        let music = GraphInput { file: 1, input: 0, from: "pcm_s16le".into(), pad: "amix".into() };
        let text = stream_mapping(&[vec![
            Mapped {
                file: 0,
                input: 0,
                coding: Some(Coding::new("h264", "libx264")),
                pads: None,
                also_feeding: Vec::new(),
            },
            Mapped {
                file: 0,
                input: 1,
                coding: Some(Coding::new("aac", "aac")),
                pads: Some(("amix".into(), "amix:default".into())),
                also_feeding: vec![music],
            },
        ]]);
        assert_eq!(
            text,
            "Stream mapping:\n  Stream #0:1 (aac) -> amix (graph 0)\n  Stream #1:0 (pcm_s16le) -> amix (graph 0)\n  Stream #0:0 -> #0:0 (h264 (native) -> h264 (libx264))\n  amix:default (graph 0) -> Stream #0:1 (aac)\n"
        );
    }

    #[test]
    fn stream_mapping_reads_like_ffmpegs() {
        let text = stream_mapping(&[
            vec![
                Mapped {
                    file: 0,
                    input: 0,
                    coding: Some(Coding::new("h264", "libx264")),
                    pads: None,
                    also_feeding: Vec::new(),
                },
                Mapped { file: 0, input: 1, coding: None, pads: None, also_feeding: Vec::new() },
                Mapped {
                    file: 0,
                    input: 2,
                    coding: Some(Coding::new("aac", "aac")),
                    pads: None,
                    also_feeding: Vec::new(),
                },
                Mapped { file: 1, input: 0, coding: None, pads: None, also_feeding: Vec::new() },
            ],
            vec![Mapped {
                file: 0,
                input: 0,
                coding: Some(Coding::new("h264", "libx265")),
                pads: None,
                also_feeding: Vec::new(),
            }],
        ]);
        assert_eq!(
            text,
            "Stream mapping:\n  Stream #0:0 -> #0:0 (h264 (native) -> h264 (libx264))\n  Stream #0:1 -> #0:1 (copy)\n  Stream #0:2 -> #0:2 (aac (native) -> aac (native))\n  Stream #1:0 -> #0:3 (copy)\n  Stream #0:0 -> #1:0 (h264 (native) -> hevc (libx265))\n"
        );
    }
}
