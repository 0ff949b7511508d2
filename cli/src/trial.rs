//! The trial: before a command is distributed, the real ffmpeg runs it on
//! its first video frame, into a scratch file.
//!
//! ffmpeg alone reports some errors only once it opens the encoder or
//! writes the output's header (a codec the container cannot hold, an
//! encoder option it rejects, a pixel format the encoder lacks), and exits
//! before encoding anything. A distributed run would meet them only in the
//! nodes' encodes or in the final mux, after the whole input was encoded.
//! A command whose trial fails runs through ffmpeg instead, which then
//! reports the error in its own words, with its own exit code and output.
//! A trial that fails for a reason of dffmpeg's own only costs the speed.

use std::ffi::OsString;
use std::path::Path;

use node::workdir::WorkDir;
use tokio::task::JoinHandle;

use crate::job::{EncodeJob, ExtraInput};
use crate::local::Tools;

/// The trials of a command's outputs, running beside the input's probe;
/// dropped, they stop (their ffmpegs are killed, their scratch removed).
pub struct Trials(Vec<JoinHandle<Result<Passed, String>>>);

/// What a trial that encoded its frame found out about ffmpeg alone's output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Passed {
    /// The video's tag, where the output container takes it from the
    /// encoder rather than keeping a copied stream's ([`TAGGED_FORMATS`]).
    pub video_tag: Option<String>,
    /// The encoder of each output stream, in order, as ffmpeg alone's
    /// stream mapping names it (`None` for a copy): for a job without
    /// `-c:v` (`EncodeJob::default_encoder`), which one it picks.
    pub encoders: Vec<Option<String>>,
    /// ffmpeg alone's `Output #0` block for the output (`output_description`),
    /// after what its encoders said as they opened (`encoders_opening`).
    pub description: Option<String>,
    /// ffmpeg alone's stream mapping line of each output stream that comes
    /// from an input stream (`mapped_lines`), in output order.
    pub mapped: Vec<Option<MappedLine>>,
    /// What ffmpeg alone warns as it sets up the output's streams, before
    /// its stream mapping (`output_warnings`): `Multiple -c, -codec, ...
    /// options specified for stream 0, only the last option '-c:v libx264'
    /// will be used.`
    pub warnings: String,
    /// For an image sequence: the size and pixel format ffmpeg alone's
    /// video encoder took from the first image (`image_sequence::autoscale`).
    pub first_image: Option<(u32, u32, String)>,
}

/// Containers whose final mux would keep the chunks' video tag (MOV's
/// `avc1`, `mp4v`) where ffmpeg alone writes the muxer's own (`H264`,
/// `FMP4`): the trial's output says which.
const TAGGED_FORMATS: &[&str] = &["avi"];

impl Trials {
    /// Starts a trial of every job, scratch under `scratch_root`.
    pub fn start(tools: &Tools, jobs: &[EncodeJob], scratch_root: &Path) -> Self {
        let handles = jobs
            .iter()
            .map(|job| {
                let (tools, job, root) = (tools.clone(), job.clone(), scratch_root.to_path_buf());
                tokio::spawn(async move { trial(&tools, &job, &root).await })
            })
            .collect();
        Self(handles)
    }

    /// Waits for every trial: what each found, in output order, or the
    /// first refusal.
    pub async fn outcome(mut self) -> Result<Vec<Passed>, String> {
        let mut passed = Vec::new();
        for handle in &mut self.0 {
            match handle.await {
                Ok(outcome) => passed.push(outcome?),
                Err(error) => return Err(format!("the trial did not finish: {error}")),
            }
        }
        Ok(passed)
    }
}

impl Drop for Trials {
    fn drop(&mut self) {
        self.0.iter().for_each(JoinHandle::abort);
    }
}

/// What ffmpeg alone says when it would stop before encoding `job` (the
/// error), or what its output holds when its trial encodes a frame.
async fn trial(tools: &Tools, job: &EncodeJob, scratch_root: &Path) -> Result<Passed, String> {
    let parent = job.output.parent().filter(|p| !p.as_os_str().is_empty());
    if parent.is_some_and(|dir| !dir.is_dir()) {
        return Err("the output's directory does not exist".into());
    }
    if let Some(reason) = crate::segmented::unwritable_segments(job) {
        return Err(reason);
    }
    // Removes what killed runs' trials left, too.
    let scratch = WorkDir::create(scratch_root, "dffmpeg-trial-")
        .map_err(|error| format!("no scratch directory for the trial: {error}"))?;
    let output = scratch.path().join("trial");
    // At info level: its stream mapping says which encoder ffmpeg alone
    // picks, and it describes the output as ffmpeg alone does.
    let log = tools
        .ffmpeg_log("info", &argv(job, &output))
        .await
        .map_err(|error| format!("ffmpeg alone stops before encoding: {error:#}"))?;
    let log = String::from_utf8_lossy(&log);
    let encoders = mapped_encoders(&log);
    // A muxer that opens files as it writes its header (DASH's init
    // segments) names them beside the output, as ffmpeg alone would.
    let scratch_prefix = format!("'{}/", scratch.path().display());
    let output_prefix = match parent {
        Some(dir) => format!("'{}/", dir.display()),
        None => "'".to_string(),
    };
    let description = output_description(&log, job.output_name()).map(|block| {
        // What the encoders said as they opened (x264's settings) precedes it.
        encoders_opening(&log).replace(&scratch_prefix, &output_prefix) + &block
    });
    let first_image = match job.image_sequence {
        true => Some(encoded_format(tools, &output).await?),
        false => None,
    };
    let warnings = output_warnings(&log);
    let mapped = mapped_lines(&log);
    if !TAGGED_FORMATS.contains(&job.output_format.as_str()) {
        return Ok(Passed {
            encoders,
            description,
            mapped,
            warnings,
            first_image,
            ..Passed::default()
        });
    }
    let tag = video_entries(tools, &output, "codec_tag_string", "tag").await?;
    // A tag ffprobe cannot print as four characters ("[0][0][0][0]") is
    // left to the muxer.
    let printable = tag.len() == 4 && tag.bytes().all(|b| b.is_ascii_alphanumeric());
    let video_tag = printable.then_some(tag);
    Ok(Passed { video_tag, encoders, description, mapped, warnings, first_image })
}

/// The lines of an ffmpeg info log between its last `Input #` block and
/// its stream mapping: what it warns as it sets up the outputs' streams.
/// The trial's own `-frames:v 1` makes a warning of a user's `-frames:v`
/// that ffmpeg alone does not print; it is left out.
pub fn output_warnings(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    let Some(mapping) = lines.iter().position(|l| *l == "Stream mapping:") else {
        return String::new();
    };
    let after_inputs = lines[..mapping].iter().rposition(|l| l.starts_with("Input #"));
    lines[after_inputs.map_or(0, |i| i + 1)..mapping]
        .iter()
        .skip_while(|l| l.starts_with(' '))
        .filter(|l| !l.starts_with("Multiple -frames, "))
        .fold(String::new(), |text, line| text + line + "\n")
}

/// The size and pixel format of the trial output's first video stream, as
/// its encoder was opened.
async fn encoded_format(tools: &Tools, output: &Path) -> Result<(u32, u32, String), String> {
    let text = video_entries(tools, output, "width,height,pix_fmt", "format").await?;
    let mut fields = text.split(',');
    match (fields.next(), fields.next(), fields.next()) {
        (Some(w), Some(h), Some(pix_fmt)) if !pix_fmt.is_empty() => match (w.parse(), h.parse()) {
            (Ok(w), Ok(h)) => Ok((w, h, pix_fmt.to_string())),
            _ => Err(format!("the trial's video has no size: {text}")),
        },
        _ => Err(format!("the trial's video has no format: {text}")),
    }
}

/// ffprobe's `entries` of the trial output's first video stream, as one
/// comma-separated line; `what` names them in an error.
async fn video_entries(
    tools: &Tools,
    output: &Path,
    entries: &str,
    what: &str,
) -> Result<String, String> {
    let entries = format!("stream={entries}");
    let probe: Vec<String> = ["-v", "error", "-select_streams", "v:0", "-show_entries"]
        .into_iter()
        .chain([entries.as_str(), "-of", "csv=p=0"])
        .map(String::from)
        .chain([output.to_string_lossy().into_owned()])
        .collect();
    let found = tools
        .ffprobe(&probe)
        .await
        .map_err(|error| format!("reading the trial's video {what}: {error:#}"))?;
    Ok(String::from_utf8_lossy(&found).trim().to_string())
}

/// The lines of an ffmpeg info log between its stream mapping and its
/// `Output #0` block: what the encoders print as they open (`[libx264 @
/// 0x...] profile High, level 1.3`), ffmpeg alone's words at that point.
pub fn encoders_opening(log: &str) -> String {
    let after_mapping = log.lines().skip_while(|l| *l != "Stream mapping:").skip(1);
    // A stream the trial's one frame gave no data (audio from another
    // input, read after the video's first frame) is opened as the trial
    // ends, with a warning ffmpeg alone, which feeds it, never prints.
    let unfed = |l: &&str| {
        l.starts_with("Finishing stream ") && l.ends_with(" without any data written to it.")
    };
    after_mapping
        .skip_while(|l| l.starts_with("  "))
        .take_while(|l| !l.starts_with("Output #0, "))
        .filter(|l| !unfed(l))
        .fold(String::new(), |text, line| text + line + "\n")
}

/// The `Output #0, FORMAT, to 'FILE':` block of an ffmpeg info log, its
/// indented lines included, naming `output` rather than the scratch file:
/// what ffmpeg alone prints once it has written the output's header (the
/// encoder's stream as it opened it, its side data included; a trial that
/// stops after one frame describes it the same way).
pub fn output_description(log: &str, output: &Path) -> Option<String> {
    let mut lines = log.lines().skip_while(|l| !l.starts_with("Output #0, "));
    let (head, _) = lines.next()?.split_once(", to '")?;
    let mut block = format!("{head}, to '{}':\n", output.display());
    for line in lines.take_while(|l| l.starts_with(' ')) {
        block.push_str(line);
        block.push('\n');
    }
    Some(block)
}

/// Metadata `key` (in any case) on stream `stream` of an `Output #0` block
/// ([`output_description`]), as ffmpeg alone set it: the key as written
/// (a Matroska source's `ENCODER`, ffmpeg's own `encoder`), and the value.
pub fn stream_metadata(description: &str, stream: usize, key: &str) -> Option<(String, String)> {
    let head = format!("  Stream #0:{stream}");
    let mut lines = description
        .lines()
        .skip_while(|l| !(l.starts_with(&head) && l[head.len()..].starts_with([':', '(', '['])));
    lines.next()?;
    let mut lines = lines.take_while(|l| l.starts_with("    "));
    // Its own `Metadata:` comes first; side data may follow it.
    if lines.next()?.trim() != "Metadata:" {
        return None;
    }
    lines.take_while(|l| l.starts_with("      ")).find_map(|l| {
        let (name, value) = l.split_once(':')?;
        let (name, value) = (name.trim(), value.strip_prefix(' ').unwrap_or(value));
        name.eq_ignore_ascii_case(key).then(|| (name.to_string(), value.to_string()))
    })
}

/// The encoder of each output stream in an ffmpeg 5.1 `Stream mapping:`
/// block, in output order: `Stream #0:0 -> #0:1 (h264 (native) -> h264
/// (libx264))` encodes #0:1 with libx264 (`native`: the encoder is named as
/// its codec), `(copy)` copies, and a graph's output reads `scale:default
/// -> Stream #0:0 (libx264)`.
pub fn mapped_encoders(log: &str) -> Vec<Option<String>> {
    let mut encoders: Vec<Option<String>> = Vec::new();
    let block = log.lines().skip_while(|l| *l != "Stream mapping:").skip(1);
    for line in block.take_while(|l| l.starts_with("  ")) {
        let Some((_, to)) = line.split_once(" -> ") else { continue };
        let to = to.strip_prefix("Stream ").unwrap_or(to);
        let Some((stream, what)) = to.split_once(" (") else { continue };
        let Some(index) = stream.strip_prefix("#0:").and_then(|i| i.parse::<usize>().ok()) else {
            continue;
        };
        let what = what.trim_end_matches(')');
        // `h264 (native) -> h264 (libx264`: the output's codec and encoder.
        let output = what.rsplit_once(" -> ").map_or(what, |(_, output)| output);
        let encoder = match output.split_once(" (") {
            _ if what == "copy" => None,
            Some((codec, "native")) => Some(codec.to_string()),
            Some((_, encoder)) => Some(encoder.to_string()),
            // A graph's output names the encoder alone.
            None => Some(output.to_string()),
        };
        if encoders.len() <= index {
            encoders.resize(index + 1, None);
        }
        encoders[index] = encoder;
    }
    encoders
}

/// One output stream's line in ffmpeg alone's stream mapping, for a stream
/// that comes from an input stream: `Stream #0:1 -> #0:1 (mp3 (mp3float)
/// -> aac (native))` names the decoder (`mp3float`, `libdav1d`, `srt`) and
/// the encoder (`ssa` for ASS) as only ffmpeg knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedLine {
    /// The input file's index.
    pub file: usize,
    /// The input stream's index in it.
    pub input: usize,
    /// What is in the parentheses: `mp3 (mp3float) -> aac (native)`, `copy`.
    pub what: String,
}

/// The [`MappedLine`] of each output stream of an ffmpeg 5.1 `Stream
/// mapping:` block (output #0), by the stream's index; a graph's outputs,
/// named by their pads, have none.
pub fn mapped_lines(log: &str) -> Vec<Option<MappedLine>> {
    let mut lines: Vec<Option<MappedLine>> = Vec::new();
    let block = log.lines().skip_while(|l| *l != "Stream mapping:").skip(1);
    for line in block.take_while(|l| l.starts_with("  ")) {
        let parsed = (|| {
            let rest = line.trim_start().strip_prefix("Stream #")?;
            let (from, rest) = rest.split_once(" -> #0:")?;
            let (file, input) = from.split_once(':')?;
            let (output, what) = rest.split_once(" (")?;
            let mapped = MappedLine {
                file: file.parse().ok()?,
                input: input.parse().ok()?,
                what: what.strip_suffix(')')?.to_string(),
            };
            Some((output.parse::<usize>().ok()?, mapped))
        })();
        let Some((output, mapped)) = parsed else { continue };
        if lines.len() <= output {
            lines.resize(output + 1, None);
        }
        lines[output] = Some(mapped);
    }
    lines
}

/// The trial's arguments: the job's input as every reader opens it, the
/// output's own options (`EncodeJob::trial_options`), one video frame, the
/// output's muxer.
fn argv(job: &EncodeJob, scratch: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> =
        job.input_args.iter().chain(&job.input_trim_args).map(OsString::from).collect();
    args.push("-i".into());
    args.push(job.input.clone().into());
    args.extend(job.extra_inputs.iter().flat_map(ExtraInput::argv));
    args.extend(job.trial_options.iter().map(OsString::from));
    for a in ["-frames:v", "1", "-f", &job.output_format, "-y"] {
        args.push(a.into());
    }
    match scratch.parent() {
        // A playlist and its segments, all inside the scratch directory.
        Some(dir) if job.writes_own_files() => {
            args.extend(crate::segmented::trial_output(job, dir))
        }
        _ => args.push(scratch.into()),
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_mapping_names_each_output_streams_encoder() {
        let log = "Input #0, matroska,webm, from 'in.mkv':\nStream mapping:\n  Stream #0:0 -> #0:0 (h264 (native) -> h264 (libx264))\n  Stream #0:1 -> #0:1 (aac (native) -> mp2 (native))\n  Stream #0:2 -> #0:2 (copy)\n[libx264 @ 0x1] using cpu capabilities\n";
        let expected = [Some("libx264".to_string()), Some("mp2".to_string()), None];
        assert_eq!(mapped_encoders(log), expected);
        let graph = "Stream mapping:\n  Stream #0:0 (h264) -> hflip:default\n  hflip:default -> Stream #0:0 (mpeg4)\n  Stream #0:1 -> #0:1 (copy)\n";
        assert_eq!(mapped_encoders(graph), [Some("mpeg4".to_string()), None]);
        assert!(mapped_encoders("no mapping\n").is_empty());
    }

    #[test]
    fn the_output_block_names_the_output_not_the_scratch_file() {
        let log = "Stream mapping:\n  Stream #0:0 -> #0:0 (h264 (native) -> h264 (libx264))\nOutput #0, matroska, to '/tmp/dffmpeg-trial-x/trial':\n  Metadata:\n    encoder         : Lavf59.27.100\n  Stream #0:0: Video: h264 (H264 / 0x34363248), yuv420p\n    Side data:\n      cpb: bitrate max/min/avg: 0/0/0 buffer size: 0 vbv_delay: N/A\nframe=    1 fps=0.0 q=28.0 Lsize=       6kB\n";
        let block = output_description(log, Path::new("out dir/a.mkv")).unwrap();
        assert!(block.starts_with("Output #0, matroska, to 'out dir/a.mkv':\n  Metadata:\n"));
        assert!(
            block
                .ends_with("      cpb: bitrate max/min/avg: 0/0/0 buffer size: 0 vbv_delay: N/A\n")
        );
        assert_eq!(output_description("Stream mapping:\n", Path::new("a.mkv")), None);
        let opening = encoders_opening(
            log.replace("Output #0", "[libx264 @ 0x2] profile High\nOutput #0").as_str(),
        );
        assert_eq!(opening, "[libx264 @ 0x2] profile High\n");
        let unfed = "[libx264 @ 0x2] profile High\nFinishing stream 0:1 without any data written to it.\nOutput #0";
        let opening = encoders_opening(log.replace("Output #0", unfed).as_str());
        assert_eq!(opening, "[libx264 @ 0x2] profile High\n");
    }

    #[test]
    fn the_mapping_lines_name_decoders_and_encoders_as_ffmpeg_does() {
        let log = "Stream mapping:\n  Stream #0:0 (h264) -> hflip:default\n  hflip:default -> Stream #0:0 (libx264)\n  Stream #0:1 -> #0:1 (mp3 (mp3float) -> aac (native))\n  Stream #1:0 -> #0:2 (subrip (srt) -> ass (ssa))\n  Stream #0:2 -> #0:3 (copy)\nPress [q] to stop\n";
        let line = |file, input, what: &str| Some(MappedLine { file, input, what: what.into() });
        assert_eq!(
            mapped_lines(log),
            [
                None,
                line(0, 1, "mp3 (mp3float) -> aac (native)"),
                line(1, 0, "subrip (srt) -> ass (ssa)"),
                line(0, 2, "copy"),
            ]
        );
    }

    #[test]
    fn what_ffmpeg_warns_before_its_stream_mapping() {
        let multiple = "Multiple -c, -codec, -acodec, -vcodec, -scodec or -dcodec options specified for stream 0, only the last option '-c:v libx264' will be used.";
        let frames = "Multiple -frames, -aframes, -vframes or -dframes options specified for stream 0, only the last option '-frames:v 1' will be used.";
        let log = format!(
            "Input #0, matroska,webm, from 'a.mkv':\n  Duration: 00:00:03.02\n  Stream #0:0: Video: h264\n{multiple}\n{frames}\nStream mapping:\n  Stream #0:0 -> #0:0\n"
        );
        assert_eq!(output_warnings(&log), format!("{multiple}\n"));
        assert_eq!(output_warnings("Input #0, wav\n  Duration: 1\nStream mapping:\n"), "");
        assert_eq!(output_warnings("Input #0, wav\n"), "");
    }

    #[test]
    fn a_streams_metadata_from_the_output_block() {
        let block = "Output #0, mp4, to 'p.mp4':\n  Metadata:\n    encoder         : Lavf59.27.100\n  Stream #0:0: Video: h264 (avc1 / 0x31637661), yuv420p, 25 fps\n    Metadata:\n      encoder         : Lavc59.37.100 libx264\n    Side data:\n      cpb: bitrate max/min/avg: 0/0/0\n  Stream #0:1(fra): Audio: aac (LC), 44100 Hz\n    Metadata:\n      ENCODER         : Lavc59.37.100 aac\n  Stream #0:2: Audio: aac\n";
        let get = |j, key| super::stream_metadata(block, j, key);
        let tag = |key: &str, value: &str| Some((key.to_string(), value.to_string()));
        assert_eq!(get(0, "encoder"), tag("encoder", "Lavc59.37.100 libx264"));
        assert_eq!(get(1, "encoder"), tag("ENCODER", "Lavc59.37.100 aac"));
        assert_eq!(get(2, "encoder"), None);
        assert_eq!(get(0, "cpb"), None);
        assert_eq!(get(3, "encoder"), None);
    }
}
