//! Assembly: concatenate the verified chunks and mux them with every other
//! stream of the input in one ffmpeg run, to a temporary name that is renamed
//! onto the output only when everything succeeded (an HLS playlist or DASH
//! manifest, which names its segments, is written in place and removed if
//! the run fails).
//!
//! One case takes two runs. When ffmpeg alone copies millisecond audio (from
//! Matroska) into MP4, MOV, NUT or MPEG-TS (whose audio time base is the
//! sample rate, or 1/90000) while it encodes the video of the same input, the
//! audio packets queue until the encoder starts, so their muxing time base
//! stays the input's and the timestamps are rescaled once, unsmoothed. A
//! remux smooths them instead. Writing through the tee muxer keeps the input
//! time base as ffmpeg alone does, but tee drops chapters, so a second copy
//! puts chapters, stream tags and the muxer's options back.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, ensure};

use crate::dispatch::ChunkDone;
use crate::job::ExtraInput;
use crate::job_context::JobContext;
use crate::probe::{MediaInfo, genpts_args};
use crate::streams::{Selection, Source, encoder_for};
use crate::timeline::seconds;

/// Writes the output file from the chunks. After a stop (`q`), the chunks
/// end at `stopped_at_us` on the input's timeline, and so do the other
/// streams.
///
/// Returns what the ffmpeg that wrote the file said about it (see [`Muxed`]).
pub async fn assemble(
    ctx: &JobContext,
    done: &[ChunkDone],
    stopped_at_us: Option<i64>,
    selection: &Selection,
    media: &MediaInfo,
) -> anyhow::Result<Muxed> {
    ensure!(!done.is_empty(), "no chunks to assemble");
    let video = &media.streams[selection.video];
    let lavc = ctx.tools.lavc_ident().await?;
    let list = ctx.dir.path().join("chunks.ffconcat");
    std::fs::write(&list, concat_list(done, ctx.dir.path())).context("writing the concat list")?;

    let output = &ctx.job.output;
    // A playlist names its segments: HLS and DASH are written in place
    // (`segmented`); standard output is written as it comes.
    let to_stdout = ctx.job.writes_stdout();
    let in_place = ctx.job.writes_own_files() || to_stdout;
    let temp = match (to_stdout, in_place) {
        (true, _) => PathBuf::from("pipe:1"),
        (false, true) => output.clone(),
        (false, false) => temp_name(output, &ctx.dir.tag()),
    };
    let mut args: Vec<OsString> = Vec::new();
    let mut push = |s: &str| args.push(s.into());
    for a in &ctx.job.input_args {
        push(a);
    }
    for a in genpts_args(&ctx.job.input) {
        push(&a);
    }
    for a in &ctx.job.input_trim_args {
        push(a);
    }
    push("-i");
    args.push(ctx.job.input.clone().into());
    // The other inputs keep their numbers (maps and -map_metadata name
    // them); the chunks come last (`Selection::chunks_input`).
    args.extend(ctx.job.extra_inputs.iter().flat_map(ExtraInput::argv));
    let mut push = |s: &str| args.push(s.into());
    // The concat demuxer starts the first chunk at 0; put it back where ffmpeg
    // alone put it, on the input's timeline (the output's -ss applies below).
    let start_us = done[0].start_time_us + ctx.chunk_offset_us();
    let shift = decode_lead_shift(ctx, done, selection, start_us).await?;
    push("-itsoffset");
    push(&seconds(shift.map_or(start_us, |s| s.offset_us)));
    for a in ["-f", "concat", "-safe", "0", "-i"] {
        push(a);
    }
    args.push(list.into());
    let mut push = |s: &str| args.push(s.into());
    if !ctx.job.audio_chains.is_empty() {
        // The graph's chains on audio, over the same inputs: ffmpeg alone's.
        let chains: Vec<&str> = ctx.job.audio_chains.iter().map(|c| c.text.as_str()).collect();
        push("-filter_complex");
        push(&chains.join(";"));
    }
    for source in &selection.streams {
        push("-map");
        push(&selection.map_arg(source));
    }
    let tee = needs_tee(ctx, selection);
    if tee {
        // tee has no default encoders; these are the muxer's, and the
        // user's own -c:a/-c:s below override them.
        let defaults: &[&str] = match ctx.job.output_format.as_str() {
            "nut" => &["-c:a", "libvorbis"],
            "mpegts" => &["-c:a", "mp2", "-c:s", "dvbsub"],
            _ => &["-c:a", "aac", "-c:s", "mov_text"],
        };
        defaults.iter().for_each(|a| push(a));
    }
    for pair in option_pairs(&ctx.job.mux_args) {
        // Through tee, the muxer's own options go to the second run; after
        // a stop, the output's end is the stop's.
        let moved = tee && is_muxer_option(&pair[0]);
        let ended = stopped_at_us.is_some() && matches!(pair[0].as_str(), "-t" | "-to");
        if !moved && !ended {
            pair.iter().for_each(|a| push(a));
        }
    }
    if let Some(at) = stopped_at_us {
        push("-t");
        push(&seconds(stopped_duration_us(&ctx.job.output_window, at)));
    }
    push("-c:v");
    push("copy");
    if let Some(shift) = shift {
        // Read late so that no copied packet decodes before -ss, written
        // back at the encoders' own timestamps.
        push("-bsf:v");
        push(&format!("setts=pts=PTS-{0}:dts=DTS-{0}", shift.ticks));
    }
    if let Some(tag) = &ctx.job.video_tag {
        // ffmpeg alone's tag (the user's -tag:v included), not the chunks'.
        push("-tag:v");
        push(tag);
    }
    // The copied video takes its rate from the concat input unless told.
    push("-r:v");
    push(&format!("{}/{}", ctx.frame_rate.0, ctx.frame_rate.1));
    if !user_metadata_mapping(&ctx.job) {
        // Stream tags (language, title) come from the source, as with ffmpeg
        // alone. Naming one stream turns off ffmpeg's automatic copy for all,
        // so every stream is named.
        stream_tags_from(selection, 0, ctx.job.graph.is_some()).iter().for_each(|a| push(a));
        encoder_tags(ctx, selection, media, &lavc).iter().for_each(|a| push(a));
    } else {
        // The user's mapping applies here as in ffmpeg alone; only the
        // copied video misses the encoder tag ffmpeg alone gave it.
        video_encoder_tag(ctx, selection).iter().for_each(|a| push(a));
    }
    if !ctx.job.mux_args.iter().any(|a| a.starts_with("-disposition")) {
        let j = selection.streams.iter().position(|s| *s == Source::Video).unwrap_or(0);
        push(&format!("-disposition:{j}"));
        // A graph's output has no source stream, nor its disposition.
        push(&if video.disposition.is_empty() || ctx.job.graph.is_some() {
            "0".to_string()
        } else {
            video.disposition.join("+")
        });
    }
    // ffmpeg counts the copied video's packets as it writes them, and
    // `-progress` reports that count: checked against the chunks below.
    let progress = ctx.dir.path().join("mux.progress");
    push("-progress");
    args.push(progress.clone().into());
    let mut push = |s: &str| args.push(s.into());
    let mp4 = matches!(ctx.job.output_format.as_str(), "mp4" | "mov");
    let timescale = ctx.timescale().to_string();
    let guard = (!to_stdout).then(|| RemoveOnDrop(temp.clone()));
    let (closing, log);
    if needs_tee(ctx, selection) {
        // `distribute::known_gap` sends these to ffmpeg: the second run
        // reads the staged file back into the output.
        ensure!(!to_stdout, "a tee'd output cannot go to standard output");
        let staged = ctx.dir.path().join(format!("staged.{}", ctx.job.output_format));
        let options =
            if mp4 { format!(":video_track_timescale={timescale}") } else { String::new() };
        let spec = format!(
            "[f={}{options}]{}",
            ctx.job.output_format,
            tee_quote(&staged.to_string_lossy())
        );
        for a in ["-f", "tee", "-y", &spec] {
            push(a);
        }
        args.extend(keep_source_video(ctx, selection));
        ctx.tools.ffmpeg(&args).await.context("muxing the output")?;
        check_muxed_video(done, stopped_at_us, selection, media, &progress)?;
        log = restore(ctx, &staged, selection, media, &lavc, &temp).await?;
        closing = closing_line(&log);
    } else {
        muxer_settings(ctx).iter().for_each(|a| push(a));
        for a in ["-f", &ctx.job.output_format, "-y"] {
            push(a);
        }
        args.push(temp.clone().into());
        let throwaway = keep_source_video(ctx, selection);
        // A second output's streams would count in the line too.
        let alone = throwaway.is_empty();
        args.extend(throwaway);
        log = match to_stdout {
            true => match ctx.tools.ffmpeg_to_stdout("info", &args).await? {
                (true, log) => log,
                (false, log) => return Err(stdout_failure(&log, ctx.job.output_name())),
            },
            false => ctx.tools.ffmpeg_log("info", &args).await.context("muxing the output")?,
        };
        check_muxed_video(done, stopped_at_us, selection, media, &progress)?;
        closing = closing_line(&log).filter(|_| alone);
    }
    if !in_place {
        crate::output_file::keep_permissions(output, &temp);
        std::fs::rename(&temp, output)
            .with_context(|| format!("renaming the finished output to {}", output.display()))?;
    }
    std::mem::forget(guard);
    let description =
        crate::trial::output_description(&String::from_utf8_lossy(&log), ctx.job.output_name());
    let progress = std::fs::read_to_string(&progress).unwrap_or_default();
    let out_time_us = last_value(&progress, "out_time_us");
    let total_size = last_value(&progress, "total_size");
    let muxer_notes = muxer_notes(&log);
    Ok(Muxed { closing, description, out_time_us, muxer_notes, total_size })
}

/// The reader of standard output went away while the final mux wrote to
/// it (`| head`, a player closed): ffmpeg alone's own error lines for it
/// (`av_interleaved_write_frame(): Broken pipe`, the trailer and the file
/// it could not write), which dffmpeg prints as ffmpeg does, at error
/// level, before exiting 1, rather than the mux's whole log.
#[derive(Debug, thiserror::Error)]
#[error("{}", lines.join("\n"))]
pub struct PipeClosed {
    /// The lines, naming the output as ffmpeg alone does.
    pub lines: Vec<String>,
}

/// Why the final mux to standard output failed: [`PipeClosed`] when the
/// pipe broke, else the end of its log.
fn stdout_failure(log: &[u8], output_name: &Path) -> anyhow::Error {
    let log = String::from_utf8_lossy(log);
    let name = output_name.display().to_string();
    let lines: Vec<String> = log
        .lines()
        .skip_while(|l| !l.starts_with("Output #0, "))
        .filter(|l| l.contains("Broken pipe") || l.starts_with("    Last message repeated"))
        .map(|l| l.replace("pipe:1", &name))
        .collect();
    if lines.iter().any(|l| l.contains("Broken pipe")) {
        return PipeClosed { lines }.into();
    }
    let start = log.len().saturating_sub(2000);
    let tail = log.get(start..).unwrap_or(&log).trim();
    anyhow::anyhow!("muxing the output to standard output failed: {tail}")
}

/// Fails unless the final mux wrote every video packet the chunks hold:
/// the mux copies the video with the output's own options, and ffmpeg drops
/// copied packets for reasons of its own (output `-ss` against decode
/// timestamps, see `distribute::known_gap`) without a word. After a stop
/// (`q`) the output ends where the stop put it, and when another video
/// stream comes first in the output, `-progress` counts that one: neither
/// is checked.
fn check_muxed_video(
    done: &[ChunkDone],
    stopped_at_us: Option<i64>,
    selection: &Selection,
    media: &MediaInfo,
    progress: &Path,
) -> anyhow::Result<()> {
    let video_before = selection
        .streams
        .iter()
        .take_while(|s| **s != Source::Video)
        .any(|s| matches!(s, Source::Input(i) if media.streams[*i].codec_type == "video"));
    if stopped_at_us.is_some() || video_before {
        return Ok(());
    }
    let text = std::fs::read_to_string(progress)
        .with_context(|| format!("reading the final mux's progress {}", progress.display()))?;
    let written = last_frame_count(&text).context("the final mux reported no frame count")?;
    let expected: u64 = done.iter().map(|d| d.packets).sum();
    ensure!(
        written == expected,
        "the final mux wrote {written} video packets of the chunks' {expected}: the output would lose frames"
    );
    Ok(())
}

/// How much later than the chunks' own timestamps the final mux reads the
/// video, and then writes it back (see [`decode_lead_shift`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LeadShift {
    /// The whole `-itsoffset` of the chunks, in microseconds.
    offset_us: i64,
    /// What `setts` takes off, in ticks of the time base it counts in
    /// ([`setts_time_base`]).
    ticks: i64,
}

/// Under an output `-ss`, the shift that keeps the final mux from dropping
/// video. It copies the video and applies the `-ss` to every stream, and
/// ffmpeg 5.1 drops every copied packet whose time, derived from its decode
/// timestamp, is before `-ss` (`check_output_constraints`), then every
/// packet up to the next keyframe: x264's and x265's B-pyramid decodes the
/// first frames two frames ahead, which lost the whole first chunk. Read
/// that much later, no packet decodes before `-ss`; the `setts` bitstream
/// filter then takes the shift off again, so that the muxer sees the
/// encoders' own timestamps. The end is safe too: a packet's decode time
/// plus the lead is at most the presentation time of a frame the encoder
/// has already been given, which is before the output's end. `start_us`
/// is the chunks' `-itsoffset` without the shift.
async fn decode_lead_shift(
    ctx: &JobContext,
    done: &[ChunkDone],
    selection: &Selection,
    start_us: i64,
) -> anyhow::Result<Option<LeadShift>> {
    if ctx.job.output_window.start.is_none() {
        return Ok(None);
    }
    let start_at_us = ctx.job.output_window.start.unwrap_or(0);
    let (chunk_tb, lead) = crate::probe::decode_lead(&ctx.tools, &done[0].path).await?;
    if lead == 0 && !lands_before(start_us, chunk_tb, 0, start_at_us) {
        return Ok(None);
    }
    // `distribute::known_gap` sends the others to ffmpeg; a lead nobody
    // expected must not reach the output as lost or moved packets.
    let tee = needs_tee(ctx, selection);
    let setts_tb =
        setts_time_base(&ctx.job.output_format, tee, ctx.frame_rate, ctx.timescale(), chunk_tb);
    let shift = setts_tb.and_then(|tb| lead_shift(start_us, chunk_tb, lead, tb, start_at_us));
    shift.map(Some).with_context(|| {
        format!(
            "the chunks decode {lead} ticks of {}/{} ahead of their first frame, which the final mux cannot take back under -ss into {}",
            chunk_tb.0, chunk_tb.1, ctx.job.output_format
        )
    })
}

/// Whether the first packet of chunks read at `-itsoffset offset_us`,
/// `lead` ticks of `chunk_tb` ahead of their first frame, decodes before
/// the final mux's `-ss` (`start_at_us`), where ffmpeg 5.1 drops it: it
/// adds the offset in the packet's time base, rounded to nearest, and
/// compares the decode time in microseconds. Without any lead, a first
/// frame exactly at `-ss` is read just before it wherever the offset
/// rounds down (seen: `-ss 0.3` into MP4 at 24 fps is 3686.4 ticks of
/// 1/12288, read as 299 967 us: the whole first chunk was lost).
fn lands_before(offset_us: i64, chunk_tb: (i64, i64), lead: i64, start_at_us: i64) -> bool {
    use crate::timeline::rescale;
    const US: (i64, i64) = (1, 1_000_000);
    rescale(rescale(offset_us, US, chunk_tb) - lead, chunk_tb, US) < start_at_us
}

/// The shift of at least `lead` ticks of `chunk_tb` (at least one, with
/// none) that `setts` can take off whole in ticks of `setts_tb`, on chunks
/// read at `-itsoffset start_us`, after which the first packet is not
/// dropped by the `-ss` at `start_at_us` ([`lands_before`]). ffmpeg adds
/// an input's offset to each packet in the packet's own time base
/// (`av_rescale_q` of the whole offset, to nearest), so the offset is
/// chosen for where that rounding lands: exactly `ticks` later.
fn lead_shift(
    start_us: i64,
    chunk_tb: (i64, i64),
    lead: i64,
    setts_tb: (i64, i64),
    start_at_us: i64,
) -> Option<LeadShift> {
    use crate::timeline::rescale;
    const US: (i64, i64) = (1, 1_000_000);
    if lead < 0 || [chunk_tb, setts_tb].iter().any(|tb| tb.0 <= 0 || tb.1 <= 0) {
        return None;
    }
    let (p, q) = setts_ticks_per_chunk_tick(chunk_tb, setts_tb);
    let mut shift = (i128::from(lead.max(1)) + q - 1) / q * q;
    let base = i128::from(rescale(start_us, US, chunk_tb));
    let first_us = |shift: i128| {
        i64::try_from(base + shift - i128::from(lead)).ok().map(|t| rescale(t, chunk_tb, US))
    };
    // One setts tick at a time, which is at least one chunk tick.
    for _ in 0..16 {
        if first_us(shift)? >= start_at_us {
            break;
        }
        shift += q;
    }
    let target = i64::try_from(base + shift).ok()?;
    let offset_us = rescale(target, chunk_tb, US);
    // A tick shorter than a microsecond may not be reachable.
    let ticks = i64::try_from(shift / q * p).ok()?;
    let reached = rescale(offset_us, US, chunk_tb) == target;
    (reached && !lands_before(offset_us, chunk_tb, lead, start_at_us))
        .then_some(LeadShift { offset_us, ticks })
}

/// The time base `setts` counts in on the final mux: ffmpeg 5.1 hands the
/// bitstream filter a copied stream's packets in the output stream's time
/// base as its muxer settled it (seen: ticks of the chunks' 1/12800 were
/// right into MP4 with that timescale, 12.8 times too many into FLV, whose
/// muxer counts milliseconds, which moved the audio by 944 ms). Through tee
/// that is the `-r:v` rate the mux gives the video, as tee keeps it; NUT
/// keeps the chunks'. `None` where it was not measured.
fn setts_time_base(
    format: &str,
    tee: bool,
    frame_rate: (i64, i64),
    timescale: u32,
    chunk_tb: (i64, i64),
) -> Option<(i64, i64)> {
    if tee {
        return Some((frame_rate.1, frame_rate.0));
    }
    match format {
        "matroska" | "webm" | "flv" => Some((1, 1000)),
        "mp4" | "mov" => Some((1, i64::from(timescale))),
        "mpegts" => Some((1, 90_000)),
        "nut" => Some(chunk_tb),
        _ => None,
    }
}

/// A chunk tick is p/q setts ticks, in lowest terms: shifts of q chunk
/// ticks are whole setts ticks.
fn setts_ticks_per_chunk_tick(chunk_tb: (i64, i64), setts_tb: (i64, i64)) -> (i128, i128) {
    let (p, q) = (
        i128::from(chunk_tb.0) * i128::from(setts_tb.1),
        i128::from(chunk_tb.1) * i128::from(setts_tb.0),
    );
    let g = gcd(p, q);
    (p / g, q / g)
}

fn gcd(a: i128, b: i128) -> i128 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The `frame=` of the last block of an ffmpeg `-progress` report.
fn last_frame_count(progress: &str) -> Option<u64> {
    progress.lines().rev().find_map(|l| l.strip_prefix("frame=")?.trim().parse().ok())
}

/// The value of `key` in the last block of an ffmpeg `-progress` report
/// that gives one (`out_time_us`, `total_size`).
fn last_value<T: std::str::FromStr>(progress: &str, key: &str) -> Option<T> {
    progress.lines().rev().find_map(|l| l.strip_prefix(key)?.strip_prefix('=')?.trim().parse().ok())
}

/// What the ffmpeg that wrote an output said about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Muxed {
    /// Its closing line (`video:..kB audio:..kB ... muxing overhead`), when
    /// that run wrote nothing else: it counted the output's packets as
    /// ffmpeg alone counts them, as it wrote them, so the line needs no
    /// probe of the output afterwards.
    pub closing: Option<String>,
    /// Its `Output #0, FORMAT, to 'OUTPUT':` block, naming the output rather
    /// than the temporary file it wrote: ffmpeg's own description of the
    /// streams as muxed (the video as copied, so without the encoder's
    /// side data).
    pub description: Option<String>,
    /// Where its streams end: the furthest timestamp it wrote, which is the
    /// `time=` of ffmpeg alone's last stats line (the audio may end after
    /// the last frame), as the mux's `-progress` reported it.
    pub out_time_us: Option<i64>,
    /// Its muxer's own lines, which ffmpeg alone prints as it writes, with
    /// their log level: `[hls @ 0x..] Opening 'out0.ts' for writing` for
    /// each file a segmenting muxer starts (which scripts following an
    /// encode read; HLS, DASH and segment write in place, so the names are
    /// ffmpeg alone's), MP4's `Starting second pass` of `-movflags
    /// +faststart`, and FLV's warnings that it could not go back to write
    /// the duration and size (on a pipe).
    pub muxer_notes: Vec<(i32, String)>,
    /// How many bytes it wrote, as its `-progress` last reported them: the
    /// size of an output to standard output, which has no file to measure
    /// (ffmpeg alone's `Lsize=` there is what it wrote too).
    pub total_size: Option<u64>,
}

/// The lines of an ffmpeg's info log in which its muxer reports what it
/// writes (`[hls @ 0x55d0c8e0] Opening 'out0.ts' for writing`), in order,
/// after its `Output #0` block: what the muxer says as it writes its header
/// (DASH's init segments) precedes that block, and comes with the trial's
/// copy of it (`trial::encoders_opening`).
fn muxer_notes(log: &[u8]) -> Vec<(i32, String)> {
    use crate::console::level::{INFO, WARNING};
    const FASTSTART: &str =
        "] Starting second pass: moving the moov atom to the beginning of the file";
    String::from_utf8_lossy(log)
        .lines()
        .skip_while(|l| !l.starts_with("Output #0, "))
        .filter(|l| l.starts_with('['))
        .filter_map(|l| {
            let info =
                l.contains("] Opening '") && l.ends_with("' for writing") || l.ends_with(FASTSTART);
            let flv_unfinished =
                l.starts_with("[flv @ ") && l.contains("] Failed to update header with correct ");
            match (info, flv_unfinished) {
                (true, _) => Some((INFO, l.to_string())),
                (_, true) => Some((WARNING, l.to_string())),
                _ => None,
            }
        })
        .collect()
}

/// The last closing line (`print_final_stats`) in an ffmpeg's info log.
fn closing_line(log: &[u8]) -> Option<String> {
    String::from_utf8_lossy(log)
        .lines()
        .rev()
        .find(|l| l.starts_with("video:") && l.contains(" muxing overhead: "))
        .map(str::to_string)
}

/// Whether this output needs the tee muxer (see the module comment).
pub fn needs_tee(ctx: &JobContext, selection: &Selection) -> bool {
    tee_needed(&ctx.job.output_format, ctx.input_is_matroska, &ctx.audio_streams, selection)
}

/// [`needs_tee`] before the job's context exists.
pub fn tee_for(format: &str, media: &MediaInfo, selection: &Selection) -> bool {
    let audio: Vec<usize> =
        media.streams.iter().filter(|s| s.codec_type == "audio").map(|s| s.index).collect();
    tee_needed(format, media.format_name.contains("matroska"), &audio, selection)
}

fn tee_needed(format: &str, matroska: bool, audio: &[usize], selection: &Selection) -> bool {
    matches!(format, "mp4" | "mov" | "nut" | "mpegts")
        && matroska
        && selection.streams.iter().any(|s| matches!(s, Source::Input(i) if audio.contains(i)))
}

/// Why [`decode_lead_shift`] cannot be trusted with this output, before
/// its chunks are encoded (`distribute::known_gap`): the time base `setts`
/// would count in is not known (AVI, HLS, DASH and segments were not
/// measured), or, under an output end, its whole ticks are no whole frame
/// of the chunks' and longer than a millisecond: the shift would then pass
/// the lead by up to one of them, and packets that decode within that much
/// of the end would be dropped (MPEG-TS at 26.777 fps: ticks of 1 s).
pub fn lead_shift_gap(
    job: &crate::job::EncodeJob,
    tee: bool,
    frame_rate: (i64, i64),
) -> Option<String> {
    use proto::v1::ChunkFormat;
    let format = job.output_format.as_str();
    let timescale = crate::job_context::timescale(frame_rate);
    let chunk_tb = match crate::job_context::chunk_format(job) {
        ChunkFormat::Matroska => (1, 1000),
        ChunkFormat::Mov => (1, i64::from(timescale)),
        // NUT chunks go only to NUT outputs here, which keep their ticks.
        _ => (1, 1),
    };
    let unknown = || "the time base of its packets there is not known".to_string();
    let Some(setts_tb) = setts_time_base(format, tee, frame_rate, timescale, chunk_tb) else {
        return Some(unknown());
    };
    if crate::job_context::chunk_format(job) == ChunkFormat::Nut {
        return None;
    }
    let window = job.output_window;
    if window.duration.is_none() && window.to.is_none() {
        return None;
    }
    let (_, step) = setts_ticks_per_chunk_tick(chunk_tb, setts_tb);
    let step_us = step * 1_000_000 * i128::from(chunk_tb.0) / i128::from(chunk_tb.1);
    // One frame in chunk ticks, when whole.
    let frame = i128::from(frame_rate.1) * i128::from(chunk_tb.1);
    let per = i128::from(frame_rate.0) * i128::from(chunk_tb.0);
    let whole_frames = per > 0 && frame % per == 0 && (frame / per) % step == 0;
    (step_us > 1000 && !whole_frames).then(|| {
        format!(
            "with -t/-to at {}/{} fps, whose ticks there are {step_us} us",
            frame_rate.0, frame_rate.1
        )
    })
}

/// Whether the command maps metadata itself (`-map_metadata`).
fn user_metadata_mapping(job: &crate::job::EncodeJob) -> bool {
    job.mux_args.iter().any(|a| a.starts_with("-map_metadata"))
}

/// How the user's `-map_metadata` options touch chapters' metadata, which
/// ffmpeg 5.1 copies with the chapters unless a mapping names chapters
/// (`c`) or disables every copy (`-map_metadata -1`, `copy_metadata`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChapterTags {
    /// Copied with the chapters.
    Copied,
    /// Not copied: the chapters keep their times only.
    Dropped,
    /// Mapped from somewhere by the user (`-map_metadata:c:0 0:c:1`).
    Mapped,
}

/// [`ChapterTags`] for a job's `mux_args`.
pub fn chapter_tags(mux_args: &[String]) -> ChapterTags {
    let mut tags = ChapterTags::Copied;
    for pair in mux_args.windows(2) {
        let Some(outspec) = pair[0].strip_prefix("-map_metadata") else { continue };
        let outspec = outspec.strip_prefix(':').unwrap_or(outspec);
        let (file, inspec) = pair[1].split_once(':').unwrap_or((pair[1].as_str(), ""));
        let disables = file.starts_with('-') && (outspec.is_empty() || outspec.starts_with('c'));
        if !file.starts_with('-') && (outspec.starts_with('c') || inspec.starts_with('c')) {
            tags = ChapterTags::Mapped;
        } else if disables && tags == ChapterTags::Copied {
            tags = ChapterTags::Dropped;
        }
    }
    tags
}

/// `-metadata:s:J encoder=...` for the copied video, with the value ffmpeg
/// alone's trial showed on it (`EncodeJob::video_encoder_tag`), if any.
fn video_encoder_tag(ctx: &JobContext, selection: &Selection) -> Vec<String> {
    let j = selection.streams.iter().position(|s| *s == Source::Video);
    match (j, &ctx.job.video_encoder_tag) {
        (Some(j), Some(tag)) => vec![format!("-metadata:s:{j}"), format!("encoder={tag}")],
        _ => Vec::new(),
    }
}

/// The user's `-map_chapters`, for the second run after tee, whose input 1
/// is the command's input 0: `-1` stays, `0` becomes `1`; `None` for any
/// other input, which that run does not read (`distribute::known_gap`).
pub fn restored_chapters(mux_args: &[String]) -> Option<&'static str> {
    let mut value = "1";
    for pair in mux_args.windows(2) {
        if pair[0] == "-map_chapters" {
            value = match pair[1].as_str() {
                "-1" => "-1",
                "0" => "1",
                _ => return None,
            };
        }
    }
    Some(value)
}

/// The second run after tee: chapters and global tags from the source, stream
/// tags from the source, the user's `-metadata` and muxer options, copied.
/// With the user's own `-map_metadata`, the first run applied it, and the
/// tags come from what it wrote (tee keeps them; only chapters are lost).
async fn restore(
    ctx: &JobContext,
    staged: &Path,
    selection: &Selection,
    media: &MediaInfo,
    lavc: &str,
    temp: &Path,
) -> anyhow::Result<Vec<u8>> {
    let mut args: Vec<OsString> = Vec::new();
    let mut push = |s: &str| args.push(s.into());
    if ctx.job.output_format == "mpegts" {
        // tee's MPEG-TS muxer writes without ffmpeg's 0.7 s mux delay; this
        // copy adds it, and must not first move the start to zero as
        // ffmpeg does for an input that starts later.
        push("-copyts");
    }
    push("-i");
    args.push(staged.into());
    let mut push = |s: &str| args.push(s.into());
    for a in &ctx.job.input_args {
        push(a);
    }
    if ctx.job.input_ts_offset_us != 0 {
        // ffmpeg moves the chapters it copies by the input's offset; with
        // -itsoffset the trim arguments hold nothing else (`route`).
        for a in &ctx.job.input_trim_args {
            push(a);
        }
    }
    push("-i");
    args.push(ctx.job.input.clone().into());
    let mut push = |s: &str| args.push(s.into());
    let chapters =
        restored_chapters(&ctx.job.mux_args).context("-map_chapters from another input")?;
    for a in ["-map", "0", "-c", "copy", "-map_chapters", chapters] {
        push(a);
    }
    if user_metadata_mapping(&ctx.job) {
        push("-map_metadata");
        push("0");
        // The MP4 demuxer's own tags, not the first run's: with them in the
        // output's metadata the MOV muxer adds a QuickTime chapter track
        // (a data stream) that ffmpeg alone does not write.
        for key in ["major_brand", "minor_version", "compatible_brands"] {
            push("-metadata");
            push(&format!("{key}="));
        }
        if chapter_tags(&ctx.job.mux_args) == ChapterTags::Dropped {
            push("-map_metadata:c");
            push("-1");
        }
        for j in 0..selection.streams.len() {
            push(&format!("-map_metadata:s:{j}"));
            push(&format!("0:s:{j}"));
        }
    } else {
        push("-map_metadata");
        push("1");
        stream_tags_from(selection, 1, ctx.job.graph.is_some()).iter().for_each(|a| push(a));
        encoder_tags(ctx, selection, media, lavc).iter().for_each(|a| push(a));
    }
    for pair in option_pairs(&ctx.job.mux_args) {
        // The first run applied the user's -metadata under a mapping, and
        // the mapping above copies what it wrote.
        let metadata = pair[0].starts_with("-metadata") && !user_metadata_mapping(&ctx.job);
        if metadata || is_muxer_option(&pair[0]) {
            pair.iter().for_each(|a| push(a));
        }
    }
    muxer_settings(ctx).iter().for_each(|a| push(a));
    for a in ["-f", &ctx.job.output_format, "-y"] {
        push(a);
    }
    args.push(temp.into());
    ctx.tools.ffmpeg_log("info", &args).await.context("restoring chapters and tags")
}

/// After an input seek, the Matroska demuxer drops the packets of discarded
/// streams that precede the video keyframe it landed on; ffmpeg alone reads
/// the source's video, so it keeps them. A throwaway second output that
/// copies the source's video keeps it undiscarded here too.
fn keep_source_video(ctx: &JobContext, selection: &Selection) -> Vec<OsString> {
    // Not for an -itsoffset alone, which the trim arguments also hold.
    if ctx.job.input_window == crate::job::Window::default() {
        return Vec::new();
    }
    let map = format!("0:{}", selection.video);
    ["-map", &map, "-c", "copy", "-f", "null", "-"].iter().map(OsString::from).collect()
}

/// `-map_metadata:s:J FILE:s:I` for every output stream J, from its source
/// stream I: in input file `file` for the first input's streams, in their
/// own input for the others'. With `graph`, the video is a filter graph's
/// output, which has no source stream to take tags from (`-1`: none), as
/// an audio chain's output has none.
fn stream_tags_from(selection: &Selection, file: usize, graph: bool) -> Vec<String> {
    let mut args = Vec::new();
    for (j, source) in selection.streams.iter().enumerate() {
        args.push(format!("-map_metadata:s:{j}"));
        args.push(match selection.origin(source) {
            _ if graph && *source == Source::Video => "-1".to_string(),
            // A filter's output has no source stream either.
            _ if matches!(source, Source::Filtered { .. }) => "-1".to_string(),
            (0, i) => format!("{file}:s:{i}"),
            (from, i) => format!("{from}:s:{i}"),
        });
    }
    args
}

/// `-metadata:s:J encoder=...` for the output streams, after their tags were
/// mapped from the source, so that each carries the `encoder` tag ffmpeg
/// alone would write: the video's names libavcodec and the encoder that ran
/// on the nodes (here it is only copied, so ffmpeg would not name it), and a
/// stream this mux encodes loses the source's tag, so ffmpeg writes its own.
/// A user's own `encoder=` stands, as in ffmpeg, which never overwrites it.
fn encoder_tags(
    ctx: &JobContext,
    selection: &Selection,
    media: &MediaInfo,
    lavc: &str,
) -> Vec<String> {
    let job = &ctx.job;
    if job.mux_args.iter().any(|a| a.starts_with("encoder=")) {
        return Vec::new();
    }
    let bitexact = job.mux_args.iter().chain(job.encoder_options.iter().map(|(_, v)| v));
    let ident = if bitexact.into_iter().any(|a| a.contains("bitexact")) { "Lavc" } else { lavc };
    let mut args = Vec::new();
    for (j, source) in selection.streams.iter().enumerate() {
        let tag = match source {
            Source::Video => format!("encoder={ident} {}", job.encoder),
            _ => match encoder_for(
                job,
                selection.stream(source, media),
                selection.position(j, media),
            ) {
                Some(encoder) if encoder != "copy" => "encoder=".to_string(),
                _ => continue,
            },
        };
        args.push(format!("-metadata:s:{j}"));
        args.push(tag);
    }
    args
}

/// The output's `-t` after a stop at `at_us`: the user's own end if it comes
/// first, counted from the output's `-ss` as ffmpeg counts `-t`.
fn stopped_duration_us(window: &crate::job::Window, at_us: i64) -> i64 {
    let start = window.start.unwrap_or(0);
    let end = window.end().map_or(at_us, |end| end.min(at_us));
    (end - start).max(0)
}

/// The user's output options as `[flag, value]` pairs (every option the
/// router passes to the mux takes one value).
fn option_pairs(args: &[String]) -> Vec<&[String]> {
    let mut pairs = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let takes_value = !matches!(args[i].as_str(), "-an" | "-sn" | "-dn");
        let end = (i + 1 + usize::from(takes_value)).min(args.len());
        pairs.push(&args[i..end]);
        i = end;
    }
    pairs
}

/// Options that belong to the output's muxer rather than to ffmpeg (through
/// tee they go to the second run, which writes the output; its timestamp
/// shift must be computed from what that run reads).
fn is_muxer_option(flag: &str) -> bool {
    matches!(flag, "-movflags" | "-brand" | "-write_tmcd" | "-avoid_negative_ts" | "-max_delay")
        || flag.starts_with("-mpegts_")
}

/// Muxer options the file that becomes the output is written with, which
/// ffmpeg alone would have chosen by itself: the video track's timescale
/// for MP4/MOV (as its encoder's time base gives it), and BDAV (192-byte)
/// packets for MPEG-TS named `*.m2ts` (the muxer decides by the name it
/// writes to, and ours is a temporary one).
fn muxer_settings(ctx: &JobContext) -> Vec<String> {
    match ctx.job.output_format.as_str() {
        "mp4" | "mov" => vec!["-video_track_timescale".into(), ctx.timescale().to_string()],
        "mpegts"
            if ctx.job.output.extension().is_some_and(|e| e.eq_ignore_ascii_case("m2ts"))
                && !ctx.job.mux_args.iter().any(|a| a == "-mpegts_m2ts_mode") =>
        {
            vec!["-mpegts_m2ts_mode".into(), "1".into()]
        }
        _ => Vec::new(),
    }
}

/// A path inside a tee spec: single-quoted, so `|`, `\` and spaces stay literal.
fn tee_quote(path: &str) -> String {
    format!("'{}'", path.replace('\'', "'\\''"))
}

/// Removes a half-written file however the assembly ends: error, panic or Ctrl-C.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// An ffconcat script whose durations put every chunk exactly where its first
/// timestamp says, whatever the chunk's own last frame duration.
/// The concat demuxer's list of the chunks, which lie under `base`, the
/// list's own directory: their names relative to it are ours alone, so no
/// character of the temp dir's path needs quoting.
fn concat_list(done: &[ChunkDone], base: &Path) -> String {
    let mut text = String::from("ffconcat version 1.0\n");
    for (i, chunk) in done.iter().enumerate() {
        let relative = chunk.path.strip_prefix(base).unwrap_or(&chunk.path);
        let name = relative.to_str().unwrap_or_default();
        let _ = writeln!(text, "file '{name}'");
        // Without an inpoint the concat demuxer starts the file at the
        // container's start time; a one-frame NUT file has none, so it is
        // given (an inpoint seeks, which NUT files with negative decode
        // times refuse: "Operation not permitted").
        if !chunk.own_start {
            let _ = writeln!(text, "inpoint {}", seconds(chunk.start_time_us));
        }
        if let Some(next) = done.get(i + 1) {
            let _ = writeln!(
                text,
                "duration {}",
                crate::timeline::seconds(next.start_time_us - chunk.start_time_us)
            );
        }
    }
    text
}

/// `dir/.name.dffmpeg-ID.part`: beside the output, so the rename is atomic.
fn temp_name(output: &Path, tag: &str) -> PathBuf {
    let name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    output.with_file_name(format!(".{name}.dffmpeg-{tag}.part"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flv_on_a_pipe_warns_as_ffmpeg_alone_does() {
        use crate::console::level::WARNING;
        let log = b"Output #0, flv, to 'pipe:1':\n  Stream #0:0: Video: h264\n\
            [flv @ 0x5] Failed to update header with correct duration.\n\
            [flv @ 0x5] Failed to update header with correct filesize.\n\
            video:10kB audio:0kB muxing overhead: 1%\n";
        let notes = muxer_notes(log);
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes.iter().all(|(level, _)| *level == WARNING));
        let broken = b"Output #0, matroska, to 'pipe:1':\n\
            av_interleaved_write_frame(): Broken pipe\n    Last message repeated 4 times\n\
            Error writing trailer of pipe:1: Broken pipe\n";
        let error = stdout_failure(broken, Path::new("pipe:"));
        let closed = error.downcast_ref::<PipeClosed>().unwrap();
        assert_eq!(closed.lines[2], "Error writing trailer of pipe:: Broken pipe");
        let other = stdout_failure(b"Output #0, nut\nNo space left on device\n", Path::new("-"));
        assert!(other.downcast_ref::<PipeClosed>().is_none());
        assert!(other.to_string().contains("No space left on device"), "{other}");
    }

    #[test]
    fn user_chapter_mappings_as_ffmpeg_reads_them() {
        let job = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        assert_eq!(chapter_tags(&job(&[])), ChapterTags::Copied);
        assert_eq!(chapter_tags(&job(&["-map_metadata", "-1"])), ChapterTags::Dropped);
        assert_eq!(chapter_tags(&job(&["-map_metadata:s:a", "-1"])), ChapterTags::Copied);
        assert_eq!(chapter_tags(&job(&["-map_metadata:c", "-1"])), ChapterTags::Dropped);
        assert_eq!(chapter_tags(&job(&["-map_metadata:c:0", "0:c:1"])), ChapterTags::Mapped);
        assert_eq!(chapter_tags(&job(&["-map_metadata", "0:s:a:0"])), ChapterTags::Copied);
        assert_eq!(restored_chapters(&job(&[])), Some("1"));
        assert_eq!(restored_chapters(&job(&["-map_chapters", "-1"])), Some("-1"));
        assert_eq!(restored_chapters(&job(&["-map_chapters", "0"])), Some("1"));
        assert_eq!(restored_chapters(&job(&["-map_chapters", "1"])), None);
    }

    #[test]
    fn a_lead_shift_lands_where_ffmpeg_rounds_it() {
        // The chunks start at the output's -ss, read at it.
        let shift = |start, chunk_tb, lead, setts_tb| {
            lead_shift(start, chunk_tb, lead, setts_tb, start).map(|s| (s.offset_us, s.ticks))
        };
        // Matroska into Matroska: milliseconds throughout.
        assert_eq!(shift(1_040_000, (1, 1000), 80, (1, 1000)), Some((1_120_000, 80)));
        // MOV chunks at 1/12800 into MPEG-TS (1/90000).
        assert_eq!(shift(1_040_000, (1, 12800), 1024, (1, 90000)), Some((1_120_000, 7200)));
        // Through tee at 30000/1001: whole frames of 1001 ticks, offsets
        // that round onto them.
        assert_eq!(shift(1_033_367, (1, 30000), 2002, (1001, 30000)), Some((1_100_100, 2)));
        assert_eq!(shift(1_033_367, (1, 30000), 1000, (1001, 30000)), Some((1_066_733, 1)));
        // No lead, but -ss 0.3 at 1/12288 rounds down to 3686 ticks, and
        // -ss 0.1234 in Matroska to 123 ms: one tick more. With a lead too.
        assert!(lands_before(300_000, (1, 12288), 0, 300_000));
        assert!(!lands_before(300_000, (1, 12800), 0, 300_000));
        assert_eq!(shift(300_000, (1, 12288), 0, (1, 12288)), Some((300_049, 1)));
        assert_eq!(shift(123_400, (1, 1000), 0, (1, 1000)), Some((124_000, 1)));
        assert_eq!(shift(300_000, (1, 12288), 1024, (1, 12288)), Some((383_382, 1025)));
        assert_eq!(lead_shift(0, (1, 1000), -1, (1, 1000), 0), None);
    }

    #[test]
    fn the_last_progress_block_counts() {
        let report = "frame=12\nfps=0.00\nprogress=continue\nframe=125\nfps=0.00\nprogress=end\n";
        assert_eq!(last_frame_count(report), Some(125));
        assert_eq!(last_frame_count("progress=end\n"), None);
        let times = "out_time_us=40000\nout_time_us=N/A\nout_time_us=2043000\nprogress=end\n";
        assert_eq!(last_value(times, "out_time_us"), Some(2_043_000));
        assert_eq!(last_value::<i64>("out_time_us=N/A\n", "out_time_us"), None);
        assert_eq!(last_value("total_size=48\ntotal_size=1200\n", "total_size"), Some(1200));
    }

    #[test]
    fn durations_follow_chunk_starts() {
        let done: Vec<ChunkDone> = [(0, 0, true), (1, 1_001_000, false), (2, 2_002_000, true)]
            .into_iter()
            .map(|(i, t, own_start)| ChunkDone {
                index: i,
                path: format!("/j/out-{i:05}.nut").into(),
                start_time_us: t,
                packets: 25,
                own_start,
            })
            .collect();
        assert_eq!(
            concat_list(&done, Path::new("/j")),
            "ffconcat version 1.0\nfile 'out-00000.nut'\nduration 1.001000\nfile 'out-00001.nut'\ninpoint 1.001000\nduration 1.001000\nfile 'out-00002.nut'\n"
        );
    }

    #[test]
    fn a_stop_ends_the_output_unless_the_users_end_comes_first() {
        use crate::job::Window;
        let none = Window::default();
        assert_eq!(stopped_duration_us(&none, 4_000_000), 4_000_000);
        // -ss 1 -t 10: the stop at 4 s leaves 3 s after the start.
        let window = Window { start: Some(1_000_000), duration: Some(10_000_000), to: None };
        assert_eq!(stopped_duration_us(&window, 4_000_000), 3_000_000);
        // -to 2.5 ends before the stop.
        let window = Window { start: None, duration: None, to: Some(2_500_000) };
        assert_eq!(stopped_duration_us(&window, 4_000_000), 2_500_000);
    }

    #[test]
    fn the_output_block_names_the_output() {
        let log = b"Input #0, matroska,webm, from 'in.mkv':\n  Stream #0:0: Video: h264\n\
Output #0, matroska, to '/d/.o.mkv.dffmpeg-1.part':\n  Metadata:\n    encoder         : Lavf59.27.100\n\
\x20 Stream #0:0: Video: h264 (High), 25 fps, 1k tbn\n\
frame=  750 fps=0.0 q=-1.0 Lsize=   12796kB\n";
        let log = String::from_utf8_lossy(log);
        let got = crate::trial::output_description(&log, Path::new("o.mkv"));
        assert_eq!(
            got.as_deref(),
            Some(
                "Output #0, matroska, to 'o.mkv':\n  Metadata:\n    encoder         : Lavf59.27.100\n  Stream #0:0: Video: h264 (High), 25 fps, 1k tbn\n"
            )
        );
        assert_eq!(crate::trial::output_description("Input #0\n", Path::new("o")), None);
    }
}
