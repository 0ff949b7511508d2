//! The distributed encode from start to end: probe, plan, dispatch, assemble.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context as _, bail};
use policy_sdk::{ChunkBounds, JobInfo, PlanRequest};
use tracing::warn;

use crate::console::level::{INFO, VERBOSE, WARNING};
use crate::dispatch::{self, NodeState};
use crate::embedded::EmbeddedNode;
use crate::forced::ForcedKeyframes;
use crate::job::{EncodeJob, InputKind};
use crate::job_context::JobContext;
use crate::keyboard::{self, Keyboard, Stop};
use crate::local::Tools;
use crate::overwrite::{self, Refusal};
use crate::policy::PolicyModule;
use crate::probe::{self, StreamInfo};
use crate::progress::ProgressWriter;
use crate::remote::{Remote, Zstd};
use crate::settings::Settings;
use crate::spool::{self, Spool};
use crate::stats::Stats;
use crate::timeline::Timeline;
use crate::{assemble, console, plan, policy, scenes, streams};

/// How a distributed run ended.
#[derive(Debug)]
pub enum Outcome {
    /// The output is written and verified.
    Done,
    /// Nothing was written; run the real ffmpeg instead, for `reason`, with
    /// `stdin` as its standard input when dffmpeg has read the real one
    /// already (a spooled pipe, replayed from its first byte).
    Fallback {
        /// Why the command is not distributed.
        reason: String,
        /// The spooled pipe (and what is left of the real one), for
        /// ffmpeg's stdin.
        stdin: Option<std::process::Stdio>,
    },
    /// The output exists and may not be overwritten: ffmpeg's message, exit 1.
    Refused(Refusal),
}

/// One output's encode, checked and measured before anything is written.
struct Prepared {
    job: EncodeJob,
    selection: streams::Selection,
    video: StreamInfo,
    timeline: Timeline,
    frame_rate: (i64, i64),
    /// With an output rate: what the output shows of each frame.
    retimed: Option<crate::retime::Retimed>,
    /// With `-force_key_frames`: the frames ffmpeg alone forces.
    forced_keyframes: Option<ForcedKeyframes>,
    /// For a segmenting output: the frames to encode that a chunk may start
    /// at, ffmpeg alone's keyframes (`segmented::key_starts`).
    key_starts: Option<Vec<u64>>,
}

/// Runs `jobs` (one per output of the command, all reading the same input)
/// over the configured nodes, or the embedded one.
///
/// As ffmpeg does, every output is checked and opened (the overwrite
/// question) before any is encoded, so a command either falls back to ffmpeg
/// as a whole or is distributed as a whole; the outputs are then encoded one
/// after the other, each over all nodes.
pub async fn run(
    jobs: Vec<EncodeJob>,
    settings: &Settings,
    tools: Tools,
    signals: &crate::interrupt::Signals,
) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let started_wall = crate::report::LocalTime::now();
    // ffmpeg's -benchmark times count from the start of the encode.
    let usage_at_start = crate::benchmark::usage();
    let mut jobs = jobs;
    let Some(first) = jobs.first() else { bail!("no output to encode") };
    let console = first.console.clone();
    let info = console.shows(console::level::INFO);
    let input_kind = first.input_kind;
    // What ffmpeg's `Input #0` line names: the input as the user wrote it.
    let as_described = first.input_description_args.as_ref().unwrap_or(&first.input_args);
    let mut described = probe::ffprobe_input_args(as_described);
    described.push(first.input.to_string_lossy().into_owned());
    let temp_root = settings.temp_dir.clone().unwrap_or_else(std::env::temp_dir);
    // Compiling the policy takes a while: it runs while the input is probed,
    // and a policy that does not load stops the run before any output.
    let mut loading =
        PolicyModule::load_in_background(settings.policy.clone(), settings.policy_strict);
    let mut policy_module = None;

    let mut spool = None;
    let mut confirmed = false;
    if input_kind != InputKind::File {
        // A pipe is read once: not before the policy is known to load.
        policy_module = Some(policy_loaded(&mut loading).await?);
        // ffmpeg refuses an existing output before it reads a pipe's frames
        // (stdin is not for questions then): so do we, before spooling. A
        // question on a terminal waits until no fallback can ask it again.
        if !console.interactive {
            confirmed = true;
            if let Err(refusal) = confirm_all(&jobs, false).await? {
                return Ok(Outcome::Refused(refusal));
            }
        }
        let limit = match settings.spool_limit {
            Some(limit) => limit,
            None => spool::default_limit(&temp_root),
        };
        match Spool::capture(&tools, &jobs, &temp_root, limit).await? {
            Ok(spooled) => {
                spooled.redirect(&mut jobs);
                spool = Some(spooled);
            }
            Err(unspooled) => {
                return Ok(Outcome::Fallback { reason: unspooled.reason, stdin: unspooled.stdin });
            }
        }
    }
    let fallback = |reason: String| Outcome::Fallback {
        reason,
        stdin: spool.as_ref().and_then(Spool::replay).map(std::process::Stdio::from),
    };
    // The input is a file from here on. What does not need its probe runs
    // beside it: each of these starts an ffmpeg or ffprobe, about 0.1 s of
    // this ffmpeg's library loading alone, or the embedded node.
    let mut embedded = EmbeddedNode::start(settings.nodes.is_empty(), &tools, &temp_root);
    // Each input's description: ffmpeg's warnings about it, then its block.
    let describing = console.logs(WARNING).then(|| {
        let (tools, stdin) = (tools.clone(), spool.as_ref().and_then(Spool::replay));
        let first_max = guess_layout_max(&jobs[0].input_args);
        let extras: Vec<(Vec<String>, Option<u32>)> = jobs[0]
            .extra_inputs
            .iter()
            .map(|extra| {
                let mut args = probe::ffprobe_input_args(&extra.args);
                args.push(extra.url.to_string_lossy().into_owned());
                (args, guess_layout_max(&extra.args))
            })
            .collect();
        tokio::spawn(async move {
            let text = tools.describe_input(&described, stdin).await?;
            let mut inputs = vec![crate::guessed_layout::apply(&text, 0, first_max)];
            for (k, (args, max)) in extras.iter().enumerate() {
                // ffprobe numbers every input it describes, and its streams, #0.
                let own = tools.describe_input(args, None).await?;
                let k = k + 1;
                let own = own
                    .replacen("Input #0,", &format!("Input #{k},"), 1)
                    .replace("  Stream #0:", &format!("  Stream #{k}:"))
                    .replace("  Chapter #0:", &format!("  Chapter #{k}:"));
                inputs.push(crate::guessed_layout::apply(&own, k, *max));
            }
            anyhow::Ok(inputs)
        })
    });
    {
        // The banner's text and the encoder tag `assemble` writes, which
        // `Tools` keeps once asked for.
        let tools = tools.clone();
        drop(tokio::spawn(async move { tools.version().await.map(drop) }));
    }
    let outcome = async {
        let first = &jobs[0];
        // Most outputs encode the input's first video stream: its packets
        // are listed beside the probe that says which stream that is.
        let mut first_video = Some({
            let (tools, input, input_args) =
                (tools.clone(), first.input.clone(), first.input_args.clone());
            tokio::spawn(async move { probe::packets(&tools, &input, &input_args, "v:0").await })
        });
        // ffmpeg alone's trial of every output (`crate::trial`) runs beside
        // the probe and the planning.
        let trials = crate::trial::Trials::start(&tools, &jobs, &temp_root);
        let mut media = match probe::probe(&tools, &first.input, &first.input_args).await {
            Ok(media) => media,
            Err(error) => return Ok(fallback(format!("{error:#}"))),
        };
        if let Some(spool) = &spool {
            spool.restore_time_bases(&mut media);
        }
        if input_kind == InputKind::Stdin && !spool::reads_like_a_pipe(&media.format_name) {
            return Ok(fallback(format!("a pipe of {} is not distributable", media.format_name)));
        }
        // Inputs after the first only give streams to the final mux; every
        // output names the same ones.
        let mut extras = Vec::new();
        for extra in &first.extra_inputs {
            match probe::probe(&tools, &extra.url, &extra.args).await {
                Ok(probed) => extras.push(probed),
                Err(error) => return Ok(fallback(format!("{error:#}"))),
            }
        }
        // ffmpeg reads only the streams some output uses, which may move
        // the input's start (`MediaInfo::start_used_us`).
        let mut used: Vec<usize> = Vec::new();
        for job in &jobs {
            if let Ok(selection) = streams::select(job, &media, &extras) {
                used.push(selection.video);
                used.extend(selection.streams.iter().flat_map(|s| {
                    match s {
                        streams::Source::Input(i) => vec![*i],
                        streams::Source::Filtered { chain } => selection.chain_inputs[*chain]
                            .iter()
                            .filter(|input| input.file == 0)
                            .map(|input| input.stream)
                            .collect(),
                        _ => Vec::new(),
                    }
                }));
            }
        }
        let mut prepared = Vec::new();
        for job in jobs {
            // ffmpeg's offset is the input's -itsoffset less its start:
            // an earlier start by as much, for the timeline.
            let start_us = media.start_used_us(&used, job.input_window.start.is_some())
                - job.input_ts_offset_us;
            match prepare(job, &media, &extras, start_us, &tools, &mut first_video).await? {
                Ok(ready) => prepared.push(ready),
                Err(reason) => return Ok(fallback(reason)),
            }
        }
        // ffmpeg alone's description of each output, from its trial.
        let mut descriptions = Vec::new();
        let mut warnings = String::new();
        match trials.outcome().await {
            Ok(passed) => {
                for (ready, trial) in prepared.iter_mut().zip(passed) {
                    if let Err(reason) = default_encoder_confirmed(ready, &trial) {
                        return Ok(fallback(reason));
                    }
                    ready.job.video_tag = trial.video_tag;
                    if let Some((width, height, pix_fmt)) = &trial.first_image {
                        crate::image_sequence::autoscale(&mut ready.job, *width, *height, pix_fmt);
                    }
                    let video =
                        ready.selection.streams.iter().position(|s| *s == streams::Source::Video);
                    // ffmpeg writes its own as `encoder`; any other case came
                    // from the source by the user's mapping, which the final
                    // mux applies too (setting it again would reorder the tags).
                    ready.job.video_encoder_tag = match (&trial.description, video) {
                        (Some(block), Some(j)) => {
                            crate::trial::stream_metadata(block, j, "encoder")
                                .filter(|(key, _)| key == "encoder")
                                .map(|(_, value)| value)
                        }
                        _ => None,
                    };
                    descriptions.push(trial.description);
                    warnings.push_str(&trial.warnings);
                    ready.job.trial_mapping = trial.mapped;
                }
            }
            Err(reason) => return Ok(fallback(reason)),
        }
        // ffmpeg opens -progress while it reads its options; opened here, after
        // the last reason to fall back, a listener sees one connection only.
        let progress = match &console.progress {
            Some(target) => match ProgressWriter::open(target.clone()) {
                Ok(writer) => Some(Arc::new(Mutex::new(writer))),
                Err(error) => {
                    return Ok(fallback(format!(
                        "-progress {target:?} could not be opened: {error}"
                    )));
                }
            },
            None => None,
        };
        if input_kind == InputKind::Stdin && !settings.nodes.is_empty() {
            // The pipe is spent: without a node, ffmpeg gets it back, not an error.
            let zstd = zstd_for(settings, &prepared[0].video);
            if let Err(error) =
                connect(&settings.nodes, settings, 0, zstd, &prepared[0].job.encoder).await
            {
                return Ok(fallback(format!("{error:#}")));
            }
        }
        let policy_module = match policy_module {
            Some(module) => module,
            None => policy_loaded(&mut loading).await?,
        };
        // ffmpeg starts its report first of all; ours waits for the last
        // fallback, after which the command is dffmpeg's to log.
        if let Some(request) = &console.report {
            let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
            if let Err(error) = crate::report::start(request, &argv, &started_wall, info)
                && console.shows(console::level::ERROR)
            {
                console::stderr(&format!("{error:#}\n"));
            }
        }
        if console.logs(INFO) && !console.hide_banner {
            console.print(INFO, &console::banner(&tools).await?);
        }
        if let Some(describing) = describing {
            for (warnings, block) in describing.await.context("describing the input panicked")?? {
                console.print(WARNING, &warnings);
                console.print(INFO, &block);
            }
        }
        // ffmpeg alone warns as it sets up the outputs, before it asks to
        // overwrite them.
        console.print(WARNING, &warnings);
        let ready_jobs: Vec<&EncodeJob> = prepared.iter().map(|p| &p.job).collect();
        if !confirmed && let Err(refusal) = confirm_all(ready_jobs, console.interactive).await? {
            return Ok(Outcome::Refused(refusal));
        }
        if console.logs(INFO) {
            let mappings: Vec<Vec<console::Mapped>> =
                prepared.iter().map(|p| mapping(&p.job, &p.selection, &media)).collect();
            console.print(INFO, &console::stream_mapping(&mappings));
        }
        // From here on the command is distributed: stdin is ours to read.
        let keyboard = console.interactive.then(|| {
            console.print(INFO, keyboard::PRESS_Q);
            Keyboard::listen(console.clone())
        });
        let stop = keyboard.as_ref().map_or_else(Stop::never, Keyboard::stop);
        // A signal now stops the encode as q does (`interrupt`).
        let stop = stop.or_signal(signals.encoding());
        // ffmpeg describes every output once it has written its header,
        // before its first stats line.
        for (index, block) in descriptions.iter().enumerate() {
            if let Some(block) = block {
                console.print(INFO, &renumber(block, index));
            }
        }

        let (addrs, upload_ahead) = match embedded.addr().await? {
            Some(addr) => (vec![addr], settings.upload_ahead.unwrap_or(0)),
            None => (settings.nodes.clone(), settings.upload_ahead.unwrap_or(1)),
        };

        let last = prepared.len() - 1;
        let outputs: Vec<std::path::PathBuf> =
            prepared.iter().map(|p| p.job.output.clone()).collect();
        // A muxer that opens its own files (HLS, DASH) has no size to report.
        let first_sized = !prepared[0].job.writes_own_files();
        let first_to_stdout = prepared[0].job.writes_stdout();
        let mut result = Ok(());
        let mut furthest_us: Option<i64> = None;
        for (index, ready) in prepared.into_iter().enumerate() {
            let cluster = Cluster {
                settings,
                tools: &tools,
                addrs: &addrs,
                temp_root: &temp_root,
                policy: &policy_module,
                upload_ahead,
            };
            let encoded = encode(ready, &media, &cluster, progress.clone(), stop.clone()).await;
            let (stats, muxed) = match encoded {
                Ok(encoded) => encoded,
                Err(error) => {
                    if console.running_stats() {
                        console::stderr("\n");
                    }
                    // Nothing is written yet: ffmpeg alone decodes the
                    // damage as it always would. Not after a stop, which
                    // ffmpeg alone would not run again from the start.
                    if index == 0
                        && !stop.requested()
                        && let Some(damaged) = error.downcast_ref::<dispatch::DamagedSource>()
                    {
                        let reason = format!(
                            "{damaged}; ffmpeg alone conceals damage from frames no chunk has"
                        );
                        console.print(
                            WARNING,
                            &format!("[dffmpeg] {reason}: running the command with ffmpeg\n"),
                        );
                        return Ok(fallback(reason));
                    }
                    result = Err(error);
                    break;
                }
            };
            // Without the trial's description, the mux's, once it is written.
            if let Some(block) =
                muxed.description.as_ref().filter(|_| descriptions[index].is_none())
            {
                if info && console.running_stats() {
                    console::stderr("\n");
                }
                console.print(INFO, &renumber(block, index));
            }
            // After the running stats line, as ffmpeg alone's log lines come.
            for (level, line) in &muxed.muxer_notes {
                console.print(*level, &format!("{line}\n"));
            }
            furthest_us = furthest_us.max(muxed.out_time_us);
            if index < last {
                continue;
            }
            // The last report counts the whole of the first output, as
            // ffmpeg's Lsize= does; its closing line sums every output's streams.
            let mut end = stats.snapshot();
            // Its time is where the furthest stream of any output ends.
            if let Some(furthest) = furthest_us.filter(|&t| t > 0) {
                if end.out_time_us > 0 {
                    end.speed *= furthest as f64 / end.out_time_us as f64;
                }
                end.out_time_us = furthest;
            }
            end.total_size = match first_to_stdout {
                true => muxed.total_size,
                false => std::fs::metadata(&outputs[0]).ok().map(|m| m.len()),
            }
            .filter(|_| first_sized);
            console.print_last_stats(&crate::stats::format_line(&end, true));
            // One output: its mux's own line; several: every output summed.
            if let Some(line) = muxed.closing.filter(|_| last == 0) {
                console.print(INFO, &format!("{line}\n"));
            } else if console.logs(INFO)
                && let Some(total) = end.total_size
            {
                match closing_sizes(&tools, &outputs).await {
                    Ok(sizes) => {
                        console.print(INFO, &format!("{}\n", crate::summary::line(&sizes, total)));
                    }
                    Err(error) => warn!(%error, "no closing summary"),
                }
            }
            if let Some(progress) = &progress {
                let mut writer = progress.lock().unwrap_or_else(|p| p.into_inner());
                writer.write(&end, true).context("writing -progress")?;
            }
        }
        result?;
        console.print(
            VERBOSE,
            &format!(
                "[dffmpeg] {} output(s) on {} node(s) in {:.2}s\n",
                last + 1,
                addrs.len(),
                started.elapsed().as_secs_f64()
            ),
        );
        Ok(Outcome::Done)
    }
    .await;
    embedded.stop().await;
    if console.benchmark
        && console.logs(INFO)
        && matches!(outcome, Ok(Outcome::Done))
        && let (Some(before), Some(now)) = (usage_at_start, crate::benchmark::usage())
    {
        let spent = crate::benchmark::Usage {
            user: now.user.saturating_sub(before.user),
            system: now.system.saturating_sub(before.system),
            max_rss_kb: now.max_rss_kb,
        };
        console.print(INFO, &crate::benchmark::lines(&spent, started.elapsed()));
    }
    outcome
}

/// An output's `Output #0` block as output `index` of the command.
fn renumber(block: &str, index: usize) -> String {
    block
        .replacen("Output #0, ", &format!("Output #{index}, "), 1)
        .replace("  Stream #0:", &format!("  Stream #{index}:"))
}

/// Every output's streams, summed as ffmpeg's closing line counts them.
async fn closing_sizes(
    tools: &Tools,
    outputs: &[std::path::PathBuf],
) -> anyhow::Result<crate::summary::Sizes> {
    let mut sum = crate::summary::Sizes::default();
    for output in outputs {
        let sizes = crate::summary::measure(tools, output).await?;
        sum.video += sizes.video;
        sum.audio += sizes.audio;
        sum.subtitle += sizes.subtitle;
        sum.other += sizes.other;
        sum.extradata += sizes.extradata;
    }
    Ok(sum)
}

/// The policy module, compiled on its own thread; a module that takes more
/// than a minute to compile is refused rather than waited for.
async fn policy_loaded(
    loading: &mut tokio::sync::oneshot::Receiver<anyhow::Result<PolicyModule>>,
) -> anyhow::Result<PolicyModule> {
    match tokio::time::timeout(std::time::Duration::from_secs(60), loading).await {
        Ok(loaded) => loaded.context("compiling the policy")?,
        Err(_) => bail!("the policy took more than a minute to compile"),
    }
}

/// An input's `-guess_layout_max N`: ffmpeg guesses no layout for more
/// channels (`guessed_layout`).
fn guess_layout_max(input_args: &[String]) -> Option<u32> {
    input_args
        .windows(2)
        .rev()
        .find(|w| w[0] == "-guess_layout_max" || w[0].starts_with("-guess_layout_max:"))
        .and_then(|w| w[1].parse().ok())
}

/// For a job without `-c:v`: ffmpeg alone's trial encoded the video with
/// the encoder the job assumed (`streams::default_video_encoder`).
fn default_encoder_confirmed(ready: &Prepared, trial: &crate::trial::Passed) -> Result<(), String> {
    if !ready.job.default_encoder {
        return Ok(());
    }
    let position = ready.selection.streams.iter().position(|s| *s == streams::Source::Video);
    match position.and_then(|j| trial.encoders.get(j).cloned().flatten()) {
        Some(encoder) if encoder == ready.job.encoder => Ok(()),
        Some(encoder) => Err(format!(
            "without -c:v ffmpeg encodes the video with {encoder}, not {}",
            ready.job.encoder
        )),
        None => Err("without -c:v, the trial did not say which encoder ffmpeg uses".into()),
    }
}

/// ffmpeg's question for every output that exists, in order (see
/// `overwrite`); the first refusal stops the command.
async fn confirm_all<'a>(
    jobs: impl IntoIterator<Item = &'a EncodeJob>,
    interactive: bool,
) -> anyhow::Result<Result<(), Refusal>> {
    // ffmpeg asks about files only, never a pipe.
    for job in jobs.into_iter().filter(|job| !job.writes_stdout()) {
        let (output, overwrite) = (job.output.clone(), job.overwrite);
        let confirmed = tokio::task::spawn_blocking(move || {
            overwrite::confirm(&output, overwrite, interactive)
        })
        .await?;
        if confirmed.is_err() {
            return Ok(confirmed);
        }
    }
    Ok(Ok(()))
}

/// Why a timed overlay's first frame may come out otherwise than with
/// ffmpeg alone, which may decide it at the image's time, 0
/// (`timed_overlay`), where the nodes decide it at the frame's own: unless
/// the video starts at 0, `enable` must decide alike at both times.
fn first_frame_undecided(enable: &str, timeline: &Timeline) -> Option<String> {
    let first = timeline.shifted(timeline.selected.start);
    if first == 0 {
        return None;
    }
    let (num, den) = timeline.source_tb;
    let first_s = first as f64 * num as f64 / den as f64;
    let on = |t: f64| crate::time_expr::eval(enable, t).map(|v| v.abs() >= 0.5);
    match (on(0.0), on(first_s)) {
        (Some(a), Some(b)) if a == b => None,
        _ => Some(format!(
            "overlay enable={enable} may decide the first frame (at {first_s:.6} s) at time 0; \
             not distributable"
        )),
    }
}

/// Everything about one output that can send the command back to ffmpeg.
async fn prepare(
    mut job: EncodeJob,
    media: &probe::MediaInfo,
    extras: &[probe::MediaInfo],
    start_time_us: i64,
    tools: &Tools,
    first_video: &mut Option<FirstVideoPackets>,
) -> anyhow::Result<Result<Prepared, String>> {
    // Standard output is written as it is, as ffmpeg alone writes it.
    let checked = match job.writes_stdout() {
        true => Ok(()),
        false => crate::output_file::check(&job.output),
    };
    if let Err(reason) = checked {
        return Ok(Err(reason));
    }
    let selection = match streams::select(&job, media, extras) {
        Ok(selection) => selection,
        Err(reason) => return Ok(Err(reason)),
    };
    if let Some(reason) = known_gap(&job, media, extras, &selection) {
        return Ok(Err(reason));
    }
    if let Err(reason) = crate::overlay_image::load(&mut job, media, extras, tools).await? {
        return Ok(Err(reason));
    }
    let horizon_ms = crate::subtitle_events::horizon_ms(job.input_window, job.output_window);
    if let Err(reason) = crate::filter_files::load(&mut job, tools, horizon_ms).await? {
        return Ok(Err(reason));
    }
    if job.passes == 2 {
        // ffmpeg alone reads the first pass's log, named after the video's
        // index among the output's streams; without it, let ffmpeg report
        // the error. The nodes run both passes per chunk themselves.
        let index = selection.streams.iter().position(|s| *s == streams::Source::Video);
        let prefix = job.passlogfile.as_deref().unwrap_or("ffmpeg2pass");
        let log = format!("{prefix}-{}.log", index.unwrap_or(0));
        if !std::path::Path::new(&log).is_file() {
            return Ok(Err(format!("-pass 2 without the first pass's log {log}")));
        }
    }
    let video = media.streams[selection.video].clone();
    if media.format_name == "image2"
        && let Err(reason) = crate::image_sequence::chunk_container(&video.codec_name)
    {
        return Ok(Err(reason));
    }
    if job.autorotate {
        crate::autorotate::apply(&mut job, video.display_matrix.as_ref());
    } else {
        let video_output = selection.streams.iter().position(|s| *s == streams::Source::Video);
        let kept = crate::autorotate::keep(
            &mut job,
            video.display_matrix.as_ref(),
            video_output.unwrap_or(0),
        );
        if let Err(reason) = kept {
            return Ok(Err(reason));
        }
    }
    // What ffmpeg would report itself is left for it to report.
    let first_index = media.streams.iter().find(|s| s.codec_type == "video").map(|s| s.index);
    let listed = match first_video.take() {
        Some(listing) if first_index == Some(video.index) => {
            listing.await.context("listing the first video stream's packets panicked")?
        }
        _ => probe::packets(tools, &job.input, &job.input_args, &video.index.to_string()).await,
    };
    let packets = match listed {
        Ok(packets) => packets,
        Err(error) => return Ok(Err(format!("{error:#}"))),
    };
    if let Some(reason) = crate::timeline::discarded_unlike_ffmpeg(&video.codec_name, &packets) {
        return Ok(Err(reason));
    }
    if let Some(reason) = crate::timeline::goes_back(&packets) {
        return Ok(Err(reason));
    }
    let (input, output) = (job.input_window, job.output_window);
    let timeline = match job.counted_rate {
        Some(rate) => {
            Timeline::counted(packets, video.time_base, start_time_us, input, output, rate)
        }
        None => Timeline::new(
            packets,
            video.time_base,
            video.source_time_base,
            start_time_us,
            input,
            output,
        ),
    };
    let mut timeline = match timeline {
        Ok(timeline) => timeline,
        Err(error) => return Ok(Err(format!("{error:#}"))),
    };
    // The rate ffmpeg alone's filters report: the counted one, else its guess.
    let frame_rate = job.counted_rate.unwrap_or_else(|| guess_frame_rate(&video));
    if let Err(reason) = end_as_encoded(&job, &mut timeline, &video, media, frame_rate) {
        return Ok(Err(reason));
    }
    if let Err(reason) =
        end_at_frame_count(&job, &selection, &mut timeline, &video, media, frame_rate)
    {
        return Ok(Err(reason));
    }
    if timeline.is_empty() {
        return Ok(Err("no video frames to encode".into()));
    }
    // A capture joined mid-stream: what comes before its first keyframe
    // decodes from nothing, and ffmpeg alone's decoder drops or conceals it
    // as no chunk can be told to.
    let first = timeline.selected.start;
    if plan::chunk(&timeline, 0, first..first + 1).is_err() {
        return Ok(Err(
            "the video starts before its first keyframe (a capture joined mid-stream)".into()
        ));
    }
    if let Some(reason) =
        crate::fade::shorter_than_a_tick(&job.filters, timeline.source_tb, job.fps_filter)
    {
        return Ok(Err(reason));
    }
    if let Some(reason) = crate::fade::too_early_after(&job.filters, &timeline) {
        return Ok(Err(reason));
    }
    // Named with -f concat, or found by its `ffconcat version 1.0` header.
    let concat = if job.concat_input() || media.format_name == "concat" {
        crate::concat_list::check(tools, crate::job::file_path(&job.input)).await?
    } else {
        None
    };
    if let Some(reason) = concat {
        return Ok(Err(reason));
    }
    let enable = job.graph.as_ref().and_then(|g| g.overlay.as_ref()?.enable.as_deref());
    if let Some(reason) = enable.and_then(|e| first_frame_undecided(e, &timeline)) {
        return Ok(Err(reason));
    }
    if let Some(rate) = job.fps_filter {
        let first = timeline.fps_slot(timeline.selected.start, rate);
        if timeline.fps_end_slot(rate, frame_rate) <= first {
            return Ok(Err("-vf fps leaves no frame to encode".into()));
        }
    }
    let retimed = match crate::retime::retime(&job, &timeline, &video, media, frame_rate) {
        Ok(retimed) => retimed,
        Err(reason) => return Ok(Err(reason)),
    };
    // The last given wins, as in ffmpeg (MATCH_PER_STREAM_OPT).
    let forced_keyframes =
        match job.encoder_options.iter().rev().find(|(n, _)| n == "force_key_frames") {
            None => None,
            Some((_, list)) => {
                let forced = crate::forced::for_job(
                    list,
                    &job,
                    &timeline,
                    &video,
                    media,
                    frame_rate,
                    retimed.as_ref(),
                );
                match forced {
                    Ok(forced) => Some(forced),
                    Err(reason) => return Ok(Err(reason)),
                }
            }
        };
    let key_starts = match job.keyint {
        None => None,
        Some(keyint) => {
            let copies: Vec<u32> = match &retimed {
                Some(retimed) => retimed.shown.iter().map(|s| s.copies).collect(),
                None => {
                    let replayed = crate::retime::replay(
                        &job, &timeline, &video, media, frame_rate, frame_rate,
                    );
                    match replayed {
                        Ok(outputs) => crate::vsync::shown(&outputs, timeline.len())
                            .iter()
                            .map(|s| s.copies)
                            .collect(),
                        Err(reason) => return Ok(Err(reason)),
                    }
                }
            };
            let outputs = copies.iter().map(|&c| u64::from(c)).sum();
            let forced = forced_keyframes.as_ref().map_or(&[][..], ForcedKeyframes::ordinals);
            let keys = crate::segmented::keyframes(outputs, forced, keyint);
            Some(crate::segmented::key_starts(&crate::segmented::first_outputs(copies), &keys))
        }
    };
    Ok(Ok(Prepared {
        job,
        selection,
        video,
        timeline,
        frame_rate,
        retimed,
        forced_keyframes,
        key_starts,
    }))
}

/// Ends the timeline where ffmpeg alone stops encoding under an output
/// `-t`/`-to`. Its filters keep the frames whose timestamps fall within the
/// duration, but its encoder then stops at the first frame whose timestamp,
/// rounded to the encoder's time base, reaches it (`check_recording_time`):
/// seen here, a frame at 2.503 s rounds to 2.52 s at 25 fps and is left out
/// of `-t 2.5`. An output rate's replay (`retime`) and an fps filter's grid
/// settle this themselves; otherwise the replay at the input's own rate
/// says which trailing frames the encoder drops.
fn end_as_encoded(
    job: &EncodeJob,
    timeline: &mut Timeline,
    video: &StreamInfo,
    media: &probe::MediaInfo,
    frame_rate: (i64, i64),
) -> Result<(), String> {
    let window = job.output_window;
    let retimed = job.output_rate.is_some() || job.fps_mode == Some(proto::v1::FpsMode::Cfr);
    if (window.duration.is_none() && window.to.is_none())
        || retimed
        || job.fps_filter.is_some()
        || timeline.is_empty()
    {
        return Ok(());
    }
    let outputs = crate::retime::replay(job, timeline, video, media, frame_rate, frame_rate)?;
    let encoded = outputs.iter().map(|o| o.frame + 1).max().unwrap_or(0);
    if encoded < timeline.len() {
        timeline.selected.end = timeline.selected.start + encoded;
    }
    Ok(())
}

/// Ends the timeline where ffmpeg alone stops under `-frames:v N`: at the
/// input frame its N-th encoded frame shows (the replay at the input's rate
/// says which, after the frames a CFR output drops or repeats). Refused
/// where that cannot be cut exactly: with an output rate or fps filter,
/// when the N-th frame is one of several copies of its input frame, and
/// with any other stream, which ffmpeg 5.1 closes wherever its reading of
/// the input stands when the video reaches N.
fn end_at_frame_count(
    job: &EncodeJob,
    selection: &streams::Selection,
    timeline: &mut Timeline,
    video: &StreamInfo,
    media: &probe::MediaInfo,
    frame_rate: (i64, i64),
) -> Result<(), String> {
    let Some(limit) = job.max_frames else { return Ok(()) };
    if selection.streams.len() > 1 {
        return Err("-frames:v with streams besides the video is not reproduced yet".into());
    }
    if job.output_rate.is_some()
        || job.fps_mode == Some(proto::v1::FpsMode::Cfr)
        || job.fps_filter.is_some()
    {
        return Err("-frames:v with an output rate or fps filter is not distributable yet".into());
    }
    let outputs = crate::retime::replay(job, timeline, video, media, frame_rate, frame_rate)?;
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if limit == 0 {
        return Err("-frames:v 0 leaves no frame to encode".into());
    }
    let Some(last) = outputs.get(limit - 1) else { return Ok(()) };
    if outputs.get(limit).is_some_and(|next| next.frame == last.frame) {
        return Err("-frames:v ends within a repeated frame".into());
    }
    timeline.selected.end = timeline.selected.end.min(timeline.selected.start + last.frame + 1);
    Ok(())
}

/// Which way chunks travel zstd-compressed (`cli/benches/transfer.rs` has
/// the figures): chunk inputs of raw frames, which zstd shrinks, unless
/// `compress` is off; never coded video, which it cannot shrink (on loopback
/// zstd halves the rate of such a transfer for nothing), and so never a
/// node's encoded result.
fn zstd_for(settings: &Settings, video: &StreamInfo) -> Zstd {
    Zstd { upload: settings.compress && video.codec_name == "rawvideo", download: false }
}

/// The packets of the input's first video stream (`v:0`), being listed.
type FirstVideoPackets = tokio::task::JoinHandle<anyhow::Result<Vec<probe::Packet>>>;

/// What every output of a run shares.
#[derive(Clone, Copy)]
struct Cluster<'a> {
    settings: &'a Settings,
    tools: &'a Tools,
    addrs: &'a [String],
    temp_root: &'a std::path::Path,
    policy: &'a PolicyModule,
    /// Chunks each node may take beyond its slots (`Settings::upload_ahead`).
    upload_ahead: u32,
}

/// Plans, dispatches and assembles one output; returns its stats.
async fn encode(
    ready: Prepared,
    media: &probe::MediaInfo,
    cluster: &Cluster<'_>,
    progress: Option<Arc<Mutex<ProgressWriter>>>,
    stop: Stop,
) -> anyhow::Result<(Arc<Stats>, assemble::Muxed)> {
    let Cluster { settings, tools, addrs, temp_root, policy: module, upload_ahead } = *cluster;
    let Prepared {
        job,
        selection,
        video,
        timeline,
        frame_rate,
        retimed,
        forced_keyframes,
        key_starts,
    } = ready;
    let started = Instant::now();
    let zstd = zstd_for(settings, &video);
    let nodes = connect(addrs, settings, upload_ahead, zstd, &job.encoder).await?;
    let console = job.console.clone();
    let mut policy: Box<dyn policy::SchedulingPolicy> =
        Box::new(module.for_job(console.shows(console::level::WARNING)));
    let scene_cuts = match module.scene_threshold() {
        None => Vec::new(),
        Some(threshold) => {
            let found = Instant::now();
            match scenes::detect(tools, &job, video.index, &timeline, threshold).await {
                Ok(cuts) => {
                    console.print(
                        VERBOSE,
                        &format!(
                            "[dffmpeg] {} scene changes (score above {threshold}) found in {:.2}s\n",
                            cuts.len(),
                            found.elapsed().as_secs_f64()
                        ),
                    );
                    cuts
                }
                Err(error) if policy.strict() => {
                    return Err(error.context("finding scene changes for the policy"));
                }
                Err(error) => {
                    warn!(%error, "no scene changes for the policy");
                    console.print(
                        WARNING,
                        &format!("[dffmpeg] no scene changes for the policy: {error:#}\n"),
                    );
                    Vec::new()
                }
            }
        }
    };
    let request = PlanRequest {
        job: JobInfo {
            duration_seconds: timeline.len() as f64 * frame_rate.1 as f64 / frame_rate.0 as f64,
            frame_count: timeline.len() as u64,
            fps: frame_rate.0 as f64 / frame_rate.1 as f64,
            width: video.width,
            height: video.height,
            encoder: job.encoder.clone(),
            encoder_options: job.encoder_options.clone(),
        },
        keyframes: timeline.keyframes(),
        scene_cuts,
        nodes: nodes.iter().map(NodeState::view).collect(),
        bounds: ChunkBounds {
            target_seconds: settings.segment_duration,
            min_frames: 1,
            max_frames: u64::MAX,
        },
        seed: 0,
    };
    // A call may run for its whole deadline: off the async workers.
    let (starts, refused) =
        tokio::task::block_in_place(|| crate::schedule::plan(policy.as_mut(), &request))?;
    if let Some(error) = refused {
        console.print(
            WARNING,
            &format!(
                "[dffmpeg] the policy's plan was refused ({error:#}); using the default plan\n"
            ),
        );
    }
    let starts = match &key_starts {
        Some(allowed) => {
            let moved = crate::segmented::on_key_grid(&starts, allowed);
            let line = format!("[dffmpeg] {} chunks, each starting on a keyframe\n", moved.len());
            console.print(VERBOSE, &line);
            moved
        }
        None => starts,
    };
    // The rate the encoder runs at: an fps filter's, the output's, else the input's.
    let output_rate = match (job.fps_filter, &retimed) {
        (Some(rate), _) => rate,
        (None, Some(retimed)) => retimed.rate,
        (None, None) => frame_rate,
    };
    let build = |starts: &[u64]| match (job.fps_filter, &retimed) {
        (Some(rate), _) => plan::fps_chunks(&timeline, starts, rate, frame_rate),
        (None, Some(retimed)) => plan::rate_chunks(&timeline, starts, &retimed.shown),
        (None, None) => plan::chunks(&timeline, starts),
    };
    let fades = crate::fade::frame_fades(&job.filters);
    let held = crate::subtitle_events::held_frames(&timeline, &job.subtitle_events);
    let first = timeline.selected.start;
    // On a segmented output's keyframe grid, starts may only go. Each rule
    // only moves starts back: together, until neither moves one.
    let fixed = key_starts.is_some();
    let mut starts = starts;
    loop {
        let faded = crate::fade::starts_outside(&starts, &fades, fixed);
        let moved = crate::subtitle_events::starts_outside(&faded, &held, first, fixed);
        if moved == starts {
            break;
        }
        starts = moved;
    }
    let chunks = loop {
        let chunks = build(&starts)?;
        // An output rate moves a start on to a frame it shows, which may
        // be inside a fade: that start goes (its frames join the chunk
        // before).
        let begins: Vec<u64> = chunks.iter().map(|c| (c.frames.start - first) as u64).collect();
        let inside = |begin: u64| {
            fades.iter().any(|fade| fade.inside(begin))
                || !crate::subtitle_events::may_start_at(&held, first + begin as usize)
        };
        if !begins.iter().any(|&begin| inside(begin)) {
            break chunks;
        }
        starts.retain(|&s| s == 0 || begins.iter().find(|&&b| b >= s).is_none_or(|&b| !inside(b)));
    };
    let chunk_count = chunks.len();
    let output = job.output.display().to_string();
    let ctx = Arc::new(
        JobContext::new(tools.clone(), job, temp_root, video.index, &timeline, output_rate, media)?
            .retimed(retimed.is_some())
            .forced_keyframes(forced_keyframes),
    );
    let fps = output_rate.0 as f64 / output_rate.1 as f64;
    let stats = Arc::new(Stats::new(chunk_count, fps).sized(!ctx.job.writes_own_files()));
    let line = console.running_stats_sink();
    let reporting = line.is_some() || progress.is_some();
    let reporter = reporting.then(|| stats.spawn_reporter(line, console.stats_period, progress));
    let result = async {
        let dispatched = dispatch::run(
            ctx.clone(),
            chunks,
            &timeline,
            &nodes,
            policy.as_mut(),
            stats.clone(),
            stop,
        )
        .await?;
        let (done, stopped_at) = (&dispatched.done, dispatched.stopped_at_us);
        let muxed = assemble::assemble(&ctx, done, stopped_at, &selection, media).await?;
        anyhow::Ok((stopped_at.map(|_| done.len()), muxed))
    }
    .await;
    if let Some(reporter) = reporter {
        reporter.abort();
    }
    let (stopped, muxed) = match result {
        Ok(ended) => ended,
        // ffmpeg alone runs the command: nothing of it is to resume.
        Err(error) if error.downcast_ref::<dispatch::DamagedSource>().is_some() => {
            ctx.dir.finish();
            return Err(error);
        }
        Err(error) => {
            let kept = ctx.dir.kept();
            if kept == 0 {
                return Err(error);
            }
            let dir = ctx.dir.path().display();
            return Err(error.context(format!(
                "{output} failed, and the same command run again resumes from the {kept} verified chunks kept in {dir}"
            )));
        }
    };
    match stopped {
        // The whole output is in place: nothing is left to resume.
        None => ctx.dir.finish(),
        // A stopped output holds the chunks from the start; the same
        // command run again (with `-y`) makes the whole of it from every
        // chunk verified so far.
        Some(_) => {
            let kept = ctx.dir.kept();
            if kept > 0 {
                let dir = ctx.dir.path().display();
                let line = format!(
                    "[dffmpeg] {output}: stopped; the same command run again resumes from the {kept} verified chunks kept in {dir}\n"
                );
                console.print(VERBOSE, &line);
            }
        }
    }
    if console.logs(VERBOSE) {
        let chunks = match stopped {
            Some(kept) => format!("the first {kept} of {chunk_count} chunks (stopped)"),
            None => format!("{chunk_count} chunks"),
        };
        let line = format!(
            "[dffmpeg] {output}: {chunks} on {} nodes in {:.2}s (policy {}, {})\n",
            nodes.len(),
            started.elapsed().as_secs_f64(),
            module.name(),
            module.origin
        );
        console.print(VERBOSE, &line);
    }
    Ok((stats, muxed))
}

/// Per output stream: the input stream and how it is coded, for the
/// `Stream mapping:` block.
fn mapping(
    job: &EncodeJob,
    selection: &streams::Selection,
    media: &probe::MediaInfo,
) -> Vec<console::Mapped> {
    selection
        .streams
        .iter()
        .enumerate()
        .map(|(j, source)| {
            let stream = selection.stream(source, media);
            let encoder = match *source {
                streams::Source::Video => Some(job.encoder.clone()),
                _ => streams::encoder_for(job, stream, selection.position(j, media)),
            };
            let from = &stream.codec_name;
            let (file, input) = selection.origin(source);
            // The trial's line for the same stream, encoded alike.
            let said = job
                .trial_mapping
                .get(j)
                .and_then(Option::as_ref)
                .filter(|line| (line.file, line.input) == (file, input) && line.what != "copy");
            let coding = encoder.filter(|e| e != "copy").map(|e| console::Coding {
                said: said.map(|line| line.what.clone()),
                ..console::Coding::new(from, &e)
            });
            let pads = match (source, &job.graph) {
                (streams::Source::Video, Some(g)) => {
                    Some((g.input_pad.clone(), g.output_pad.clone()))
                }
                (streams::Source::Filtered { chain }, _) => {
                    let chain = &job.audio_chains[*chain];
                    Some((chain.input_pad.clone(), chain.output_pad.clone()))
                }
                _ => None,
            };
            let overlay = job.graph.as_ref().and_then(|g| g.overlay.as_ref());
            let also_feeding = match (source, overlay, &coding) {
                (streams::Source::Video, Some(o), Some(_)) => o
                    .file
                    .map(|file| console::GraphInput {
                        file,
                        input: 0,
                        from: o.image_codec.clone(),
                        pad: o.image_pad.clone(),
                    })
                    .into_iter()
                    .collect(),
                (streams::Source::Filtered { chain }, _, _) => selection.chain_inputs[*chain]
                    .iter()
                    .skip(1)
                    .map(|input| console::GraphInput {
                        file: input.file,
                        input: input.stream,
                        from: input.info.codec_name.clone(),
                        pad: job.audio_chains[*chain].input_pad.clone(),
                    })
                    .collect(),
                _ => Vec::new(),
            };
            console::Mapped { file, input, coding, pads, also_feeding }
        })
        .collect()
}

/// Connects to every node and reads its report; nodes that are unreachable or
/// whose ffmpeg lacks `encoder` are left out of this job.
async fn connect(
    addrs: &[String],
    settings: &Settings,
    upload_ahead: u32,
    zstd: Zstd,
    encoder: &str,
) -> anyhow::Result<Vec<NodeState>> {
    let mut nodes = Vec::new();
    let mut errors = Vec::new();
    for (i, addr) in addrs.iter().enumerate() {
        let remote = Remote::new(addr, zstd, &settings.security)?;
        match remote.report().await {
            Ok(report)
                if !report.encoders.is_empty() && !report.encoders.iter().any(|e| e == encoder) =>
            {
                warn!(node = %addr, encoder, "the node's ffmpeg lacks the encoder; leaving it out");
                errors.push(format!("{addr}: no encoder {encoder}"));
            }
            Ok(report) => {
                let slots = settings.slots.get(i).copied().unwrap_or(report.slots_total.max(1));
                nodes.push(NodeState::new(remote, slots, upload_ahead, report));
            }
            Err(error) => {
                warn!(node = %addr, %error, "node unreachable; leaving it out");
                // Clear text to a TLS node fails inside HTTP/2 or breaks
                // the connection, depending on timing; a closed port refuses.
                let text = error.to_string();
                let hint = if !addr.starts_with("https://") && !text.contains("refused") {
                    " (if the node serves TLS, use https:// and --tls-ca)"
                } else {
                    ""
                };
                errors.push(format!("{addr}: {error}{hint}"));
            }
        }
    }
    if nodes.is_empty() {
        bail!("no node is reachable with encoder {encoder} ({})", errors.join("; "));
    }
    Ok(nodes)
}

/// Combinations whose output is known to differ from ffmpeg alone, so they run
/// through ffmpeg until the difference is understood.
fn known_gap(
    job: &EncodeJob,
    media: &probe::MediaInfo,
    extras: &[probe::MediaInfo],
    selection: &streams::Selection,
) -> Option<String> {
    // Images one after another in a file (a camera's raw MJPEG, a script's
    // PNGs), read by an image pipe demuxer (`jpeg_pipe`, `png_pipe`...):
    // it seeks by byte position and lands frames away, and chunks after
    // the first came out empty (the run failed). Piped on standard input,
    // the spool copies them into NUT instead.
    if job.input_kind == InputKind::File && media.format_name.ends_with("_pipe") {
        return Some(format!(
            "a file read by {} (it seeks by byte position) is not distributable",
            media.format_name
        ));
    }
    if job.writes_stdout() && crate::assemble::tee_for(&job.output_format, media, selection) {
        // The tee's second run reads its output back.
        return Some(format!(
            "{} with Matroska audio to standard output is not distributable",
            job.output_format
        ));
    }
    let mp4 = matches!(job.output_format.as_str(), "mp4" | "mov");
    // Copied millisecond audio into these containers goes through tee and a
    // second run that reads the first input only (`assemble`).
    let tee_format = matches!(job.output_format.as_str(), "mp4" | "mov" | "nut" | "mpegts");
    let matroska_audio = selection.streams.iter().any(|s| {
        let (file, _) = selection.origin(s);
        let format = if file == 0 { &media.format_name } else { &extras[file - 1].format_name };
        s != &streams::Source::Video
            && selection.stream(s, media).codec_type == "audio"
            && format.contains("matroska")
    });
    if job.writes_own_files() {
        // HLS writes subtitles as WebVTT segments and a playlist of their
        // own, DASH refuses them; copied Matroska audio would need tee (see
        // `assemble`): seen here, 10 ticks apart in HLS at the end.
        let format = &job.output_format;
        let subtitles = selection.streams.iter().any(|s| {
            s != &streams::Source::Video && selection.stream(s, media).codec_type != "audio"
        });
        if subtitles {
            return Some(format!("subtitle or data streams into {format} are not reproduced yet"));
        }
        let copied_matroska_audio = selection.streams.iter().enumerate().any(|(j, s)| {
            let stream = selection.stream(s, media);
            let copied = streams::encoder_for(job, stream, selection.position(j, media));
            let (file, _) = selection.origin(s);
            let format = if file == 0 { &media.format_name } else { &extras[file - 1].format_name };
            s != &streams::Source::Video
                && stream.codec_type == "audio"
                && copied.as_deref() == Some("copy")
                && format.contains("matroska")
        });
        if copied_matroska_audio {
            return Some(format!("audio copied from Matroska into {format} is not reproduced yet"));
        }
    }
    if !job.extra_inputs.is_empty() && tee_format && matroska_audio {
        return Some(format!(
            "audio from Matroska with several inputs into {} is not reproduced yet",
            job.output_format
        ));
    }
    // Through tee, the second run restores chapters from the first input only.
    let tee = crate::assemble::tee_for(&job.output_format, media, selection);
    if tee
        && (crate::assemble::restored_chapters(&job.mux_args).is_none()
            || crate::assemble::chapter_tags(&job.mux_args) == crate::assemble::ChapterTags::Mapped)
    {
        return Some(format!(
            "-map_chapters from another input, or chapter tags mapped, into {} with audio from Matroska is not reproduced yet",
            job.output_format
        ));
    }
    // ffmpeg moves such an input's start to its first packet's only when
    // its offset is the start's alone ("Correcting start time").
    if job.input_ts_offset_us != 0 && media.discontinuous() {
        return Some(format!("input -itsoffset on {} is not reproduced yet", media.format_name));
    }
    // With -copyts ffmpeg leaves the jumps of such timestamps as they are,
    // in every input; the final mux, without it, would correct a second
    // input's.
    if let Some(jumpy) = [media].into_iter().chain(extras).find(|m| m.discontinuous())
        && job.copy_ts
    {
        return Some(format!("-copyts on {} is not reproduced yet", jumpy.format_name));
    }
    // ffmpeg seeks an MPEG-TS or PS input by position and decodes from
    // there: seen here, -ss 0.7 on a TS with keyframes every 20 frames left
    // out frames after the seek point that an exact cut keeps.
    if job.input_window.start.is_some() && media.discontinuous() {
        return Some(format!("input -ss on {} is not reproduced yet", media.format_name));
    }
    // The final mux copies the video and applies the output's -ss to every
    // stream; it reads the video late by the encoder's decode lead and sets
    // it back with `setts` (`assemble::decode_lead_shift`), in the ticks of
    // the output stream's time base, which is known for the muxers listed in
    // `assemble::setts_time_base`.
    if job.output_window.start.is_some() && reorders(job) {
        let guessed = guess_frame_rate(&media.streams[selection.video]);
        let rate = job.counted_rate.unwrap_or(guessed);
        if let Some(why) = crate::assemble::lead_shift_gap(job, tee, rate) {
            return Some(format!(
                "output -ss with {} B-frames into {} is not reproduced yet ({why})",
                job.encoder, job.output_format
            ));
        }
    }
    // Through tee, the second run's copy of Matroska audio gives the last
    // packet a whole frame's duration where ffmpeg alone, cutting at a
    // start and an end, cut it short (132 samples of 1024 for output
    // -ss 1 -t 1.5, 1102 for 1058 for input -ss 0.7 -t 1.5; into MP4 and
    // MOV, measured against ffmpeg 5.1).
    let (input, output) = (job.input_window, job.output_window);
    let starts = input.start.is_some() || output.start.is_some();
    let ends = [input, output].iter().any(|w| w.duration.is_some() || w.to.is_some());
    let copied_audio = selection.streams.iter().enumerate().any(|(j, s)| {
        let stream = selection.stream(s, media);
        let encoder = streams::encoder_for(job, stream, selection.position(j, media));
        s != &streams::Source::Video
            && stream.codec_type == "audio"
            && encoder.as_deref() == Some("copy")
    });
    if mp4 && tee && starts && ends && copied_audio {
        return Some(format!(
            "-ss with -t/-to and audio copied from Matroska into {} is not reproduced yet",
            job.output_format
        ));
    }
    // ffmpeg alone takes a copied stream's -ss off in the stream's own time
    // base (its packets queue until the video encoder starts, so the muxing
    // time base is never improved), the final mux in the output's: seen
    // here, AVI's MP3 at 32/1225 s per tick put the first packet at 0 ms
    // alone and at 9 ms distributed, for -ss 1.01. Exact starts agree.
    if let Some(start) = job.output_window.start
        && let Some((file, i)) = copied_where_start_is_inexact(job, media, selection, start)
    {
        return Some(format!(
            "output -ss between the ticks of copied stream #{file}:{i}'s time base is not reproduced yet"
        ));
    }
    None
}

/// The first stream the output copies whose time base cannot express
/// `start_us` exactly, as (input, stream).
fn copied_where_start_is_inexact(
    job: &EncodeJob,
    media: &probe::MediaInfo,
    selection: &streams::Selection,
    start_us: i64,
) -> Option<(usize, usize)> {
    selection.streams.iter().enumerate().find_map(|(j, source)| {
        if *source == streams::Source::Video {
            return None;
        }
        let stream = selection.stream(source, media);
        let copied = streams::encoder_for(job, stream, selection.position(j, media));
        let (num, den) = stream.time_base;
        let ticks = i128::from(start_us) * i128::from(den);
        let exact = num > 0 && ticks % (i128::from(num) * 1_000_000) == 0;
        (copied.as_deref() == Some("copy") && !exact).then(|| selection.origin(source))
    })
}

/// Whether the encoder's packets may decode ahead of their presentation:
/// x264 and x265 unless `-bf 0` turns B-frames off, other encoders when
/// `-bf` turns them on.
fn reorders(job: &EncodeJob) -> bool {
    let b_frames = job.encoder_options.iter().rev().find(|(name, _)| name == "bf");
    match b_frames {
        Some((_, value)) => value.trim() != "0",
        None => matches!(job.encoder.as_str(), "libx264" | "libx264rgb" | "libx265"),
    }
}

/// ffmpeg's `av_guess_frame_rate`: r_frame_rate, unless it is implausibly
/// high while the average is plausible.
fn guess_frame_rate(video: &StreamInfo) -> (i64, i64) {
    let (r, avg) = (video.r_frame_rate, video.avg_frame_rate);
    let valid = |q: (i64, i64)| q.0 > 0 && q.1 > 0;
    let value = |q: (i64, i64)| q.0 as f64 / q.1 as f64;
    if valid(r) && valid(avg) && value(avg) < 70.0 && value(r) > 210.0 {
        avg
    } else if valid(r) {
        r
    } else if valid(avg) {
        avg
    } else {
        (25, 1)
    }
}
