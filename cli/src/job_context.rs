//! What every chunk of one job shares: the tools, the job directory, and the
//! encode spec template.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use proto::v1::{ChunkFormat, CodecOption, EncodeSpec, FpsMode, FrameMap, Rational};

use crate::forced::ForcedKeyframes;
use crate::job::{EncodeJob, InputKind};
use crate::local::Tools;
use crate::plan::{Chunk, to_chunk_time};
use crate::resume::{Identity, JobDir};
use crate::timeline::Timeline;

/// One job's shared state.
#[derive(Debug)]
pub struct JobContext {
    /// ffmpeg and ffprobe.
    pub tools: Tools,
    /// The encode.
    pub job: EncodeJob,
    /// Unique id, for logs and node directories.
    pub job_id: String,
    /// The job directory: removed when the context is dropped, unless a
    /// failed job keeps its verified chunks for a rerun (`resume`).
    pub dir: JobDir,
    /// Index of the distributed video stream in the input.
    pub video_stream: usize,
    /// The first frame encoded, as an index into the timeline's frames.
    pub first_frame: usize,
    /// Its time base.
    pub timeline_time_base: (i64, i64),
    /// The time base ffmpeg alone's filters get the video in: the one it
    /// reads the stream in (`Timeline::source_tb`).
    filter_time_base: (i64, i64),
    /// What ffmpeg alone adds to a frame's timestamp, in `filter_time_base`,
    /// before its filters see it (`Timeline::shifted`).
    filter_offset: i64,
    /// The frames where a subtitle event shows that showed on the frame
    /// before (`subtitle_events::held_frames`): no chunk starts there.
    subtitles_held: Vec<std::ops::Range<usize>>,
    /// Timestamp offset the nodes apply, in microseconds.
    pub ts_offset_us: i64,
    /// The frame rate ffmpeg alone would use.
    pub frame_rate: (i64, i64),
    /// Frame-rate synchronisation for the output container.
    pub fps_mode: FpsMode,
    /// The input is Matroska or WebM (millisecond timestamps).
    pub input_is_matroska: bool,
    /// Indices of the input's audio streams.
    pub audio_streams: Vec<usize>,
    /// The video's colour description and field order, which the chunks'
    /// container loses.
    input_color: proto::v1::Color,
    field_order: String,
    /// The source's codec (`EncodeSpec::decoder`): a node reports a chunk
    /// its decoder complains of as damaged.
    decoder: String,
    /// The container chunk inputs are cut into (`split::extract`): NUT, or
    /// MOV for image sequences NUT cannot hold (`image_sequence`).
    pub input_format: ChunkFormat,
    /// Chunk timestamps count from the output's `-ss`, as ffmpeg's
    /// frame-rate conversion counts them (an output rate), rather than from
    /// the input's start (see [`JobContext::chunk_offset_us`]).
    from_output_start: bool,
    /// The output's `-ss` the nodes subtract themselves, in microseconds
    /// (without an output rate, whose frame map counts from it already).
    node_output_start_us: i64,
    /// With `-force_key_frames`: the frames ffmpeg alone forces, of which
    /// each chunk is given its own.
    forced: Option<ForcedKeyframes>,
}

impl JobContext {
    /// Creates the job directory under `temp_dir`.
    pub fn new(
        tools: Tools,
        job: EncodeJob,
        temp_dir: &std::path::Path,
        video_stream: usize,
        timeline: &Timeline,
        frame_rate: (i64, i64),
        media: &crate::probe::MediaInfo,
    ) -> anyhow::Result<Self> {
        let job_id = uuid::Uuid::new_v4().simple().to_string();
        // Only a file has an identity a later run can recognise (not a
        // concat list or an image sequence, whose files may change under
        // the same name), and only a file output can be resumed into.
        let identity = match job.input_kind {
            InputKind::File
                if !job.concat_input()
                    && !job.writes_stdout()
                    && !matches!(media.format_name.as_str(), "concat" | "image2") =>
            {
                let input = crate::job::file_path(&job.input);
                Identity::new(input, &job.input_args, video_stream, &job.output)
                    .map_err(|error| tracing::warn!(%error, "this job cannot be resumed"))
                    .ok()
            }
            _ => None,
        };
        let dir = JobDir::open(temp_dir, identity)?;
        let subtitles_held = crate::subtitle_events::held_frames(timeline, &job.subtitle_events);
        let video = media.streams.iter().find(|s| s.index == video_stream);
        // With the user's `-copyts` ffmpeg alone keeps a late first frame
        // in place (`route::copy_ts`): no chunk pads from zero, and each
        // starts its grid at its first frame as below.
        let fps_mode = job.fps_mode.unwrap_or(match (job.cfr_output(), job.copy_ts) {
            (true, false) => FpsMode::Cfr,
            (true, true) => FpsMode::Unspecified,
            (false, _) => FpsMode::Vfr,
        });
        Ok(Self {
            tools,
            job,
            job_id,
            dir,
            video_stream,
            first_frame: timeline.selected.start,
            timeline_time_base: timeline.time_base,
            filter_time_base: timeline.read_tb,
            filter_offset: timeline.filter_offset(),
            subtitles_held,
            ts_offset_us: timeline.ts_offset_us,
            frame_rate,
            fps_mode,
            input_is_matroska: media.format_name.contains("matroska"),
            audio_streams: media
                .streams
                .iter()
                .filter(|s| s.codec_type == "audio")
                .map(|s| s.index)
                .collect(),
            input_color: video.map(|s| s.color.clone()).unwrap_or_default(),
            field_order: video.map(|s| s.field_order.clone()).unwrap_or_default(),
            decoder: video.map(|s| s.codec_name.clone()).unwrap_or_default(),
            input_format: match (media.format_name.as_str(), video) {
                ("image2", Some(video)) => {
                    crate::image_sequence::chunk_container(&video.codec_name)
                        .unwrap_or(ChunkFormat::Nut)
                }
                _ => ChunkFormat::Nut,
            },
            from_output_start: false,
            node_output_start_us: 0,
            forced: None,
        })
    }

    /// Chunk timestamps count from the output's `-ss` whenever there is one,
    /// as ffmpeg's encoder counts them: with an output rate (`retimed`) the
    /// frame map's slots do; otherwise each node's ffmpeg subtracts it
    /// itself, so that it rounds every timestamp as ffmpeg alone does.
    pub fn retimed(mut self, retimed: bool) -> Self {
        let start = self.job.output_window.start;
        self.from_output_start = retimed || start.is_some();
        self.node_output_start_us = if retimed { 0 } else { start.unwrap_or(0) };
        self
    }

    /// With `-force_key_frames`: the frames ffmpeg alone forces.
    pub fn forced_keyframes(mut self, forced: Option<ForcedKeyframes>) -> Self {
        self.forced = forced;
        self
    }

    /// What puts a chunk timestamp back on the input's timeline, in
    /// microseconds: the output's `-ss` when chunks count from it, else 0.
    pub fn chunk_offset_us(&self) -> i64 {
        if self.from_output_start { self.job.output_window.start.unwrap_or(0) } else { 0 }
    }

    /// Where chunk `index`'s input is cut to.
    pub fn chunk_input(&self, index: u32) -> PathBuf {
        self.dir.path().join(format!("in-{index:05}.nut"))
    }

    /// Where the attempt at chunk `index` on node `node` downloads its
    /// result (a chunk may run on two nodes at once, see `Schedule::backups`).
    pub fn chunk_download(&self, index: u32, node: usize) -> PathBuf {
        self.dir.path().join(format!("out-{index:05}-{node}.part"))
    }

    /// The structured encode request for `chunk`, whose input has time base `chunk_tb`.
    pub fn spec_for(&self, chunk: &Chunk, chunk_tb: (i64, i64)) -> anyhow::Result<EncodeSpec> {
        let rational = |(num, den): (i64, i64)| Some(Rational { num, den });
        let convert =
            |pts| to_chunk_time(pts, self.timeline_time_base, chunk_tb, self.ts_offset_us);
        let keep_start_pts = convert(chunk.first_pts)?;
        let keep_end_pts = match chunk.next_pts {
            Some(pts) => convert(pts)?,
            None => i64::MAX,
        };
        // The cut moved the chunk's timestamps by whole seconds.
        let ts_offset_us = chunk
            .cut_offset_s
            .checked_mul(1_000_000)
            .and_then(|cut| self.ts_offset_us.checked_sub(cut))
            .with_context(|| format!("chunk {} starts too far before 0", chunk.index))?;
        Ok(EncodeSpec {
            encoder: self.job.encoder.clone(),
            options: self
                .job
                .encoder_options
                .iter()
                .filter_map(|(name, value)| {
                    let value = match name.as_str() {
                        "force_key_frames" => match &self.forced {
                            Some(forced) => forced.for_chunk(crate::forced::chunk_keys(chunk))?,
                            None => value.clone(),
                        },
                        _ => value.clone(),
                    };
                    Some(CodecOption { name: name.clone(), value })
                })
                .collect(),
            pix_fmt: self.job.pix_fmt.clone().unwrap_or_default(),
            filters: self
                .job
                .turn
                .iter()
                .chain(&self.job.filters)
                .enumerate()
                .map(|(k, (name, args))| {
                    // The first subtitle filter's spec carries the fonts.
                    let turned = self.job.turn.len();
                    let fonts = self
                        .job
                        .subtitle_fonts
                        .as_ref()
                        .filter(|(at, _)| k.checked_sub(turned) == Some(*at))
                        .map(|(_, fonts)| fonts);
                    (name, args, fonts)
                })
                .map(|(name, args, fonts)| match name.as_str() {
                    "drawtext" => {
                        let args = crate::drawtext::for_chunk(args, self.frames_before(chunk))
                            .map_err(anyhow::Error::msg)?;
                        Ok(crate::filter_files::to_proto(
                            name,
                            &args,
                            &self.job.filter_files,
                            fonts,
                        ))
                    }
                    "fade" => {
                        let args = self.fade_for(chunk, args).map_err(anyhow::Error::msg)?;
                        Ok(crate::filter_files::to_proto(
                            name,
                            &args,
                            &self.job.filter_files,
                            fonts,
                        ))
                    }
                    _ => {
                        Ok(crate::filter_files::to_proto(name, args, &self.job.filter_files, fonts))
                    }
                })
                .collect::<anyhow::Result<_>>()?,
            keep_start_pts,
            keep_end_pts,
            time_base: rational(chunk_tb),
            expected_frames: chunk.frame_count(),
            ts_offset_us,
            frame_rate: rational(self.frame_rate),
            fps_mode: self.fps_mode_for(chunk) as i32,
            chunk_format: self.chunk_format() as i32,
            passes: self.job.passes,
            filtered_end_pts: chunk.filtered_end,
            timescale: if self.chunk_format() == ChunkFormat::Mov { self.timescale() } else { 0 },
            frame_map: frame_map(chunk),
            output_start_us: self.node_output_start_us,
            overlay: self.job.graph.as_ref().and_then(|g| g.overlay.as_ref()).map(|overlay| {
                proto::v1::Overlay {
                    // The turn runs first, on the video.
                    filters_before: (overlay.filters_before + self.job.turn.len()) as u32,
                    ..overlay.to_proto()
                }
            }),
            input_color: Some(self.input_color.clone()),
            field_order: self.field_order.clone(),
            decoder: self.decoder.clone(),
            input_format: self.input_format as i32,
            filter_time_base: rational(self.filter_time_base),
        })
    }

    /// The frames that pass the job's filters before `chunk`'s first in
    /// ffmpeg alone: those encoded before it, since the filters see the
    /// frames from the first one encoded (`route` refuses a drawtext that
    /// counts frames where they would not: after `-vf fps`, or with an
    /// output `-ss`, which drops frames after the filters).
    fn frames_before(&self, chunk: &Chunk) -> u64 {
        chunk.frames.start.saturating_sub(self.first_frame) as u64
    }

    /// A fade's arguments `args` for `chunk` (`fade::for_chunk`).
    fn fade_for(&self, chunk: &Chunk, args: &str) -> Result<String, String> {
        let first_pts = crate::timeline::rescale(
            chunk.first_pts,
            self.timeline_time_base,
            self.filter_time_base,
        ) + self.filter_offset;
        crate::fade::for_chunk(args, self.frames_before(chunk), first_pts, self.filter_time_base)
    }

    /// Whether a chunk may start at `frame` (an index into the timeline's
    /// frames): not inside a fade by frame count, which a chunk cannot be
    /// told it is part way through (`fade::for_chunk`), nor where a
    /// subtitle event shows that showed before (`subtitle_events`).
    pub fn may_start_at(&self, frame: usize) -> bool {
        let before = frame.saturating_sub(self.first_frame) as u64;
        !crate::fade::frame_fades(&self.job.filters).iter().any(|fade| fade.inside(before))
            && crate::subtitle_events::may_start_at(&self.subtitles_held, frame)
    }

    /// The chunk container that carries what the output container needs:
    /// the frame rate for Matroska, decode timestamps for MP4, MOV, MPEG-TS
    /// (HLS segments included), DASH and FLV (which write them; NUT only derives them from the stream's
    /// declared delay, which x264 overstates when it turns B-frames off
    /// itself, as for `-qp 0`). For the segment muxer, its segments'
    /// container decides.
    pub fn chunk_format(&self) -> ChunkFormat {
        chunk_format(&self.job)
    }

    /// The video track timescale ffmpeg's MOV muxer picks for an encoder time
    /// base of 1/frame rate: the rate's numerator, doubled until at least 10000.
    pub fn timescale(&self) -> u32 {
        timescale(self.frame_rate)
    }
}

/// [`JobContext::chunk_format`], before the context exists.
pub fn chunk_format(job: &EncodeJob) -> ChunkFormat {
    match crate::segmented::codec_format(job).as_str() {
        "matroska" | "webm" => ChunkFormat::Matroska,
        "mp4" | "mov" | "mpegts" | "flv" | "avi" | "hls" | "dash" => ChunkFormat::Mov,
        _ => ChunkFormat::Nut,
    }
}

/// [`JobContext::timescale`] for `frame_rate`.
pub fn timescale(frame_rate: (i64, i64)) -> u32 {
    let mut timescale = frame_rate.0.max(1);
    while timescale < 10_000 {
        timescale *= 2;
    }
    timescale.min(i64::from(u32::MAX)) as u32
}

impl JobContext {
    /// Frame-rate synchronisation per chunk. For CFR outputs only the first
    /// chunk says `cfr`: under `-copyts` ffmpeg's automatic choice starts the
    /// CFR grid at the chunk's first frame instead of padding from zero.
    fn fps_mode_for(&self, chunk: &Chunk) -> FpsMode {
        match self.fps_mode {
            FpsMode::Cfr if chunk.frames.start > self.first_frame => FpsMode::Unspecified,
            mode => mode,
        }
    }

    /// The per-chunk line of `-loglevel verbose`.
    pub fn log_chunk(&self, chunk: &Chunk, node: &str, took: Duration) {
        tracing::info!(chunk = chunk.index, node, seconds = took.as_secs_f64(), "chunk verified");
        if self.job.verbose() {
            self.job.verbose_line(format_args!(
                "[dffmpeg] chunk {} frames {}-{} on {} in {:.2}s",
                chunk.index,
                chunk.frames.start,
                chunk.frames.end - 1,
                node,
                took.as_secs_f64()
            ));
        }
    }
}

/// The chunk's frame map as the node takes it: copies per frame, the first
/// output timestamp of each shown frame, and where the chunk's output ends.
fn frame_map(chunk: &Chunk) -> Option<FrameMap> {
    let (shown, grid) = (chunk.frame_map.as_ref()?, chunk.grid.as_ref()?);
    Some(FrameMap {
        copies: shown.iter().map(|s| s.copies).collect(),
        slots: shown.iter().filter(|s| s.copies > 0).map(|s| s.first).collect(),
        end_slot: grid.end,
    })
}
