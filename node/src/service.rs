//! The gRPC service: receives a chunk, encodes it in a slot, streams it back.
//!
//! Each chunk lives in its own directory under the node's temp dir, removed
//! when the chunk ends however it ends. The input is written to disk as it
//! arrives and the output is read from disk as it is sent, so no chunk is
//! ever held whole in memory. A request beyond the node's slots uploads its
//! input, then waits for a slot. What a node admits is bounded
//! (`admission`), and a client that stalls while uploading or downloading
//! loses its chunk after the idle timeout, so it cannot hold a slot.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proto::v1::encode_request::Msg as RequestMsg;
use proto::v1::encode_response::Msg as ResponseMsg;
use proto::v1::node_server::Node;
use proto::v1::{
    EncodeHeader, EncodeProgress, EncodeRequest, EncodeResponse, EncodeSummary, ReportRequest,
    ReportResponse,
};
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use tracing::{Instrument, info, info_span, warn};

use crate::admission::{self, Admission};
use crate::config::NodeConfig;
use crate::error::NodeError;
use crate::ffmpeg;
use crate::report::Reporter;
use crate::spec::{self, ValidSpec};

type Reply = Result<EncodeResponse, Status>;

/// The node's service state, shared by every request.
#[derive(Debug, Clone)]
pub struct NodeService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: NodeConfig,
    slots: Arc<Semaphore>,
    admission: Admission,
    reporter: Reporter,
    /// Frames per second of recent chunks, smoothed.
    recent_fps: Mutex<f64>,
}

impl NodeService {
    /// A service with `config.slots` slots; asks ffmpeg what it can do.
    pub async fn new(config: NodeConfig) -> Self {
        let (version, encoders) = ffmpeg::describe(&config.ffmpeg).await;
        let slots = Arc::new(Semaphore::new(config.slots as usize));
        let reporter = Reporter::new(version, encoders);
        let admission = Admission::new(config.limits);
        Self {
            inner: Arc::new(Inner {
                config,
                slots,
                admission,
                reporter,
                recent_fps: Mutex::new(0.0),
            }),
        }
    }
}

#[tonic::async_trait]
impl Node for NodeService {
    type EncodeStream = ReceiverStream<Reply>;

    async fn encode(
        &self,
        request: Request<Streaming<EncodeRequest>>,
    ) -> Result<Response<Self::EncodeStream>, Status> {
        let mut inbound = request.into_inner();
        let header = match inbound.message().await? {
            Some(EncodeRequest { msg: Some(RequestMsg::Header(header)) }) => header,
            _ => {
                return Err(NodeError::Protocol("the first message must be a header".into()).into());
            }
        };
        let spec = header
            .spec
            .as_ref()
            .ok_or_else(|| NodeError::Protocol("the header has no spec".into()))?;
        let spec = spec::validate(spec).map_err(NodeError::from)?;
        if !self.inner.reporter.encoders().is_empty()
            && !self.inner.reporter.encoders().iter().any(|e| *e == spec_encoder(&header))
        {
            return Err(Status::failed_precondition(format!(
                "this node's ffmpeg has no encoder '{}'",
                spec_encoder(&header)
            )));
        }
        let free = admission::free_disk(&self.inner.config.temp_dir);
        let ticket = self.inner.admission.admit(&header.job_id, header.input_size, free)?;
        let (tx, rx) = mpsc::channel(4);
        let inner = self.inner.clone();
        let span = info_span!("chunk", job = %header.job_id, chunk = header.chunk_index);
        tokio::spawn(
            async move {
                let started = Instant::now();
                let result = run_chunk(&inner, &header, spec, inbound, &tx).await;
                drop(ticket);
                match result {
                    Ok(()) => info!(seconds = started.elapsed().as_secs_f64(), "chunk done"),
                    Err(error) => {
                        warn!(%error, "chunk failed");
                        let _ = tx.send(Err(error.into())).await;
                    }
                }
            }
            .instrument(span),
        );
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn report(&self, _: Request<ReportRequest>) -> Result<Response<ReportResponse>, Status> {
        let total = self.inner.config.slots;
        let busy = total.saturating_sub(self.inner.slots.available_permits() as u32);
        let fps = *self.inner.recent_fps.lock().unwrap_or_else(|p| p.into_inner());
        Ok(Response::new(self.inner.reporter.report(total, busy, fps)))
    }
}

fn spec_encoder(header: &EncodeHeader) -> &str {
    header.spec.as_ref().map(|s| s.encoder.as_str()).unwrap_or_default()
}

/// One chunk's whole life on this node.
async fn run_chunk(
    inner: &Inner,
    header: &EncodeHeader,
    spec: ValidSpec,
    mut inbound: Streaming<EncodeRequest>,
    tx: &mpsc::Sender<Reply>,
) -> Result<(), NodeError> {
    tokio::fs::create_dir_all(&inner.config.temp_dir)
        .await
        .map_err(|e| NodeError::io("creating the temp dir", e))?;
    let dir = tempfile::Builder::new()
        .prefix(&format!("chunk-{}-", header.chunk_index))
        .tempdir_in(&inner.config.temp_dir)
        .map_err(|e| NodeError::io("creating the chunk directory", e))?;
    let input = dir.path().join("in.nut");
    let output = dir.path().join("out.nut");

    let idle = inner.config.limits.idle_timeout;
    let receiving = Instant::now();
    receive_input(&mut inbound, &input, header.input_size, idle).await?;
    let input_seconds = receiving.elapsed().as_secs_f64();

    let permit = tokio::select! {
        permit = inner.slots.clone().acquire_owned() => permit.map_err(|_| NodeError::ShuttingDown)?,
        () = tx.closed() => return Ok(()),
    };
    let started = Instant::now();
    let (progress_tx, mut progress_rx) = mpsc::channel::<crate::progress::ProgressBlock>(8);
    let forward = {
        let tx = tx.clone();
        async move {
            while let Some(block) = progress_rx.recv().await {
                let progress = EncodeProgress {
                    frames: block.frame,
                    out_time_us: block.out_time_us,
                    total_size: block.total_size,
                };
                let reply = Ok(EncodeResponse { msg: Some(ResponseMsg::Progress(progress)) });
                // A client that takes nothing gets no more progress; the
                // encode goes on, and the download's own timeout ends it.
                if tokio::time::timeout(idle, tx.send(reply)).await.is_err() {
                    break;
                }
            }
        }
    };
    if let Some(graph) = spec.filter_script() {
        let script = dir.path().join(crate::spec::FILTER_SCRIPT);
        tokio::fs::write(&script, graph)
            .await
            .map_err(|e| NodeError::io("writing the filter script", e))?;
    }
    let absolute = std::path::absolute(dir.path())
        .map_err(|e| NodeError::io("finding the chunk's directory", e))?;
    tokio::fs::write(dir.path().join(crate::spec::FONTS_CONF), spec.fonts_conf(&absolute))
        .await
        .map_err(|e| NodeError::io("writing the fontconfig configuration", e))?;
    if !spec.fonts.files.is_empty() {
        let fonts = dir.path().join(crate::fonts_conf::FONTS_DIR);
        tokio::fs::create_dir(&fonts)
            .await
            .map_err(|e| NodeError::io("making the font directory", e))?;
        for (name, bytes) in &spec.fonts.files {
            // Validated with the spec: `font-K.TYPE`.
            tokio::fs::write(fonts.join(name), bytes)
                .await
                .map_err(|e| NodeError::io("writing a subtitle's font", e))?;
        }
    }
    for (name, bytes) in &spec.files {
        // Validated with the spec; its filters' arguments name them.
        tokio::fs::write(dir.path().join(name), bytes)
            .await
            .map_err(|e| NodeError::io("writing a filter's file", e))?;
    }
    if let Some(overlay) = header.spec.as_ref().and_then(|s| s.overlay.as_ref()) {
        // Validated with the spec; the arguments name it beside the input.
        let image = dir.path().join(crate::spec::OVERLAY_IMAGE);
        tokio::fs::write(&image, &overlay.image)
            .await
            .map_err(|e| NodeError::io("writing the overlay image", e))?;
    }
    let args = if spec.passes == 2 {
        // Pass 1 analyses the chunk into a log in its own directory; its
        // progress is not forwarded (the client counts the frames of pass 2).
        let log = dir.path().join("pass");
        let first = spec.two_pass_args(&input, &dir.path().join("pass1.out"), 1, &log);
        let (ignored, _) = mpsc::channel(1);
        tokio::select! {
            result = ffmpeg::run_encode(&inner.config.ffmpeg, dir.path(), first, &spec.decoder, ignored) => {
                if let Some(line) = result?.damage {
                    return Err(NodeError::DecodeDamage { line });
                }
            }
            () = tx.closed() => return Ok(()),
        }
        spec.two_pass_args(&input, &output, 2, &log)
    } else {
        spec.ffmpeg_args(&input, &output)
    };
    let encode =
        ffmpeg::run_encode(&inner.config.ffmpeg, dir.path(), args, &spec.decoder, progress_tx);
    let encoded = tokio::select! {
        (encoded, ()) = async { tokio::join!(encode, forward) } => encoded?,
        // The client went away: dropping the encode kills ffmpeg.
        () = tx.closed() => return Ok(()),
    };
    let encode_seconds = started.elapsed().as_secs_f64();
    drop(permit);
    if let Some(line) = encoded.damage {
        return Err(NodeError::DecodeDamage { line });
    }
    let last = encoded.last;
    if last.frames_in() != spec.expected_frames {
        // A decoder that complained and lost or made frames: damage.
        if let Some(line) = encoded.complaint {
            return Err(NodeError::DecodeDamage { line });
        }
        return Err(NodeError::FrameMismatch {
            kept: last.frames_in(),
            expected: spec.expected_frames,
        });
    }
    {
        let mut fps = inner.recent_fps.lock().unwrap_or_else(|p| p.into_inner());
        let now = last.frame as f64 / encode_seconds.max(1e-3);
        *fps = if *fps == 0.0 { now } else { 0.7 * *fps + 0.3 * now };
    }
    let (size, blake3) = send_output(&output, tx, idle).await?;
    let summary = EncodeSummary {
        frames_kept: last.frames_in(),
        frames_encoded: last.frame,
        output_size: size,
        sha256: String::new(),
        encode_seconds,
        blake3,
        input_seconds,
    };
    let _ = tx.send(Ok(EncodeResponse { msg: Some(ResponseMsg::Summary(summary)) })).await;
    Ok(())
}

/// Writes the data messages to `path`, checking the announced size and the
/// BLAKE3 the client sends after the last of them.
async fn receive_input(
    inbound: &mut Streaming<EncodeRequest>,
    path: &Path,
    expected: u64,
    idle: Duration,
) -> Result<(), NodeError> {
    let mut file = crate::pieces::Writer::create(path, true)
        .map_err(|e| NodeError::io("creating the chunk input", e))?;
    let mut received = 0u64;
    let mut announced = None;
    loop {
        let message = tokio::time::timeout(idle, inbound.message())
            .await
            .map_err(|_| {
                NodeError::Protocol(format!("the client sent nothing for {} s", idle.as_secs()))
            })?
            .map_err(|s| NodeError::Protocol(s.message().to_string()))?;
        match message {
            Some(EncodeRequest { msg: Some(RequestMsg::Data(data)) }) => {
                received += data.len() as u64;
                if received > expected {
                    return Err(NodeError::Protocol(format!(
                        "input exceeds the announced {expected} bytes"
                    )));
                }
                if announced.is_some() {
                    return Err(NodeError::Protocol("data after the input's end".into()));
                }
                file.write(data).await.map_err(|e| NodeError::io("writing the chunk input", e))?;
            }
            Some(EncodeRequest { msg: Some(RequestMsg::End(end)) }) => announced = Some(end.blake3),
            Some(_) => return Err(NodeError::Protocol("a header after the first message".into())),
            None => break,
        }
    }
    let written = file.finish().await.map_err(|e| NodeError::io("writing the chunk input", e))?;
    if received != expected {
        return Err(NodeError::Protocol(format!(
            "input ended after {received} of {expected} bytes"
        )));
    }
    if let Some(announced) = announced
        && announced != written.blake3
    {
        return Err(NodeError::Protocol(format!(
            "the chunk input arrived damaged: its BLAKE3 is {}, the client sent {announced}",
            written.blake3
        )));
    }
    Ok(())
}

/// Streams `path` back in pieces, hashing as it goes.
async fn send_output(
    path: &Path,
    tx: &mpsc::Sender<Reply>,
    idle: Duration,
) -> Result<(u64, String), NodeError> {
    let mut file = crate::pieces::Reader::open(path, true)
        .map_err(|e| NodeError::io("opening the encoded chunk", e))?;
    while let Some(piece) = file.next().await {
        let piece = piece.map_err(|e| NodeError::io("reading the encoded chunk", e))?;
        let reply = Ok(EncodeResponse { msg: Some(ResponseMsg::Data(piece.into())) });
        match tokio::time::timeout(idle, tx.send(reply)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(NodeError::Protocol("the client went away".into())),
            Err(_) => {
                return Err(NodeError::Protocol(format!(
                    "the client took nothing for {} s",
                    idle.as_secs()
                )));
            }
        }
    }
    let totals = file.finish().await.map_err(|e| NodeError::io("reading the encoded chunk", e))?;
    Ok((totals.size, totals.blake3))
}
