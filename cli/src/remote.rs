//! The gRPC client side of a node: reports, and one chunk's upload, encode
//! and download, streamed from and to disk in 1 MiB pieces.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use proto::v1::encode_request::Msg as RequestMsg;
use proto::v1::encode_response::Msg as ResponseMsg;
use proto::v1::node_client::NodeClient;
use proto::v1::{
    EncodeHeader, EncodeProgress, EncodeRequest, EncodeSummary, InputEnd, ReportRequest,
    ReportResponse,
};
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use tonic::codec::CompressionEncoding;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::settings::Security;

/// TLS for an `https://` node: its certificate must chain to the given CA;
/// the client's own certificate goes along when one is configured.
fn client_tls(security: &Security) -> anyhow::Result<ClientTlsConfig> {
    let Some(ca) = &security.tls_ca else {
        anyhow::bail!("an https:// node needs --tls-ca, the CA its certificate chains to");
    };
    let read = |path: &std::path::Path, what: &str| {
        std::fs::read(path).with_context(|| format!("reading the TLS {what} {}", path.display()))
    };
    let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(ca, "CA")?));
    if let Some((cert, key)) = &security.tls_identity {
        config = config.identity(Identity::from_pem(read(cert, "certificate")?, read(key, "key")?));
    }
    Ok(config)
}

/// Why a chunk failed on a node.
#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    /// The node could not be reached or the connection broke: try elsewhere
    /// and stop sending this node work.
    #[error("node unreachable: {0}")]
    Unreachable(String),
    /// The node refused or failed the chunk.
    #[error("{0}")]
    Failed(String),
    /// The node's decoder complained of the source (gRPC `DataLoss`): the
    /// source is damaged in this chunk, where ffmpeg alone would conceal
    /// the damage from frames no chunk has. Any node would say the same.
    #[error("{0}")]
    Damaged(String),
    /// The result did not check out.
    #[error("invalid result: {0}")]
    Invalid(String),
    /// Local I/O failed.
    #[error("{0}")]
    Local(String),
}

/// Adds the bearer token to every call.
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl std::fmt::Debug for Bearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Bearer(<redacted>)" } else { "Bearer(none)" })
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// Which way chunks travel zstd-compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zstd {
    /// Chunk inputs to the node.
    pub upload: bool,
    /// Encoded chunks from the node.
    pub download: bool,
}

/// A connection to one node.
#[derive(Debug, Clone)]
pub struct Remote {
    /// The node's address as the user gave it.
    pub addr: String,
    client: NodeClient<InterceptedService<Channel, Bearer>>,
    /// One upload at a time to this node, shared by the clones. Every
    /// stream to a node shares one HTTP/2 connection, so two uploads at
    /// once only halve each other's rate: the first chunk would start
    /// encoding later, and a chunk uploading ahead into a queue place would
    /// delay the one a slot waits for.
    uploads: Arc<Semaphore>,
}

impl Remote {
    /// Prepares a lazy connection to `addr` (`host:port`, `http://host:port`,
    /// or `https://host:port`, which needs `security.tls_ca`).
    pub fn new(addr: &str, zstd: Zstd, security: &Security) -> anyhow::Result<Self> {
        let url = if addr.contains("://") { addr.to_string() } else { format!("http://{addr}") };
        let mut endpoint = Endpoint::from_shared(url.clone())
            .map_err(|e| anyhow::anyhow!("invalid node address {addr}: {e}"))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(20))
            .initial_stream_window_size(proto::STREAM_WINDOW)
            .initial_connection_window_size(proto::CONNECTION_WINDOW)
            .max_frame_size(proto::MAX_FRAME);
        if url.starts_with("https://") {
            endpoint = endpoint
                .tls_config(client_tls(security).with_context(|| format!("node {addr}"))?)
                .with_context(|| format!("configuring TLS for node {addr}"))?;
        }
        let bearer = match &security.token {
            Some(token) => Some(
                format!("Bearer {token}")
                    .parse::<MetadataValue<Ascii>>()
                    .context("the bearer token must be printable ASCII")?,
            ),
            None => None,
        };
        let mut client = NodeClient::with_interceptor(endpoint.connect_lazy(), Bearer(bearer))
            .max_decoding_message_size(4 * proto::PIECE_SIZE);
        if zstd.upload {
            client = client.send_compressed(CompressionEncoding::Zstd);
        }
        if zstd.download {
            // The node compresses its replies only for a client that accepts it.
            client = client.accept_compressed(CompressionEncoding::Zstd);
        }
        Ok(Self { addr: addr.to_string(), client, uploads: Arc::new(Semaphore::new(1)) })
    }

    /// Asks the node for its report.
    pub async fn report(&self) -> Result<ReportResponse, ChunkError> {
        let mut client = self.client.clone();
        let request = tonic::Request::new(ReportRequest {});
        match tokio::time::timeout(Duration::from_secs(10), client.report(request)).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) => Err(classify(status)),
            Err(_) => Err(ChunkError::Unreachable("no report within 10 s".into())),
        }
    }

    /// Uploads `input`, lets the node encode it, and downloads the result to
    /// `output`, checking its size and BLAKE3 against the node's summary.
    /// The call opens once no other upload to the node runs (the node would
    /// time out a stream that sends nothing while it waits).
    pub async fn encode(
        &self,
        header: EncodeHeader,
        input: &Path,
        output: &Path,
        mut on_progress: impl FnMut(EncodeProgress),
    ) -> Result<(EncodeSummary, Transfer), ChunkError> {
        let turn = self
            .uploads
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ChunkError::Local("the upload queue is closed".into()))?;
        let started = Instant::now();
        let mut file = node::pieces::Reader::open(input, true)
            .map_err(|e| ChunkError::Local(format!("opening {}: {e}", input.display())))?;
        let (tx, rx) = mpsc::channel::<EncodeRequest>(4);
        tx.send(EncodeRequest { msg: Some(RequestMsg::Header(header)) })
            .await
            .map_err(|_| ChunkError::Local("request stream closed".into()))?;
        let upload = tokio::spawn(async move {
            // Held until the last piece is handed over, or the call ends.
            let _turn = turn;
            while let Some(piece) = file.next().await {
                let piece = piece.map_err(|e| format!("reading the chunk input: {e}"))?;
                let data = RequestMsg::Data(piece.into());
                if tx.send(EncodeRequest { msg: Some(data) }).await.is_err() {
                    // The node ended the call; its status tells why.
                    return Ok(started.elapsed());
                }
            }
            let read = file.finish().await.map_err(|e| format!("reading the chunk input: {e}"))?;
            let end = InputEnd { blake3: read.blake3 };
            let _ = tx.send(EncodeRequest { msg: Some(RequestMsg::End(end)) }).await;
            Ok::<_, String>(started.elapsed())
        });
        let mut client = self.client.clone();
        let mut inbound =
            client.encode(ReceiverStream::new(rx)).await.map_err(classify)?.into_inner();
        let writing =
            |e: std::io::Error| ChunkError::Local(format!("writing {}: {e}", output.display()));
        let mut out = node::pieces::Writer::create(output, true).map_err(writing)?;
        let mut first_byte = None;
        let summary = loop {
            match inbound.message().await.map_err(classify)? {
                Some(message) => match message.msg {
                    Some(ResponseMsg::Progress(p)) => on_progress(p),
                    Some(ResponseMsg::Data(data)) => {
                        first_byte.get_or_insert_with(Instant::now);
                        out.write(data).await.map_err(writing)?;
                    }
                    Some(ResponseMsg::Summary(summary)) => break summary,
                    None => {}
                },
                None => {
                    return Err(ChunkError::Invalid("the stream ended without a summary".into()));
                }
            }
        };
        let written = out.finish().await.map_err(writing)?;
        let upload = match upload.await {
            Ok(Ok(took)) => took,
            Ok(Err(e)) => return Err(ChunkError::Local(e)),
            Err(e) => return Err(ChunkError::Local(format!("upload task: {e}"))),
        };
        let download = first_byte.map(|t| t.elapsed()).unwrap_or_default();
        if summary.blake3.is_empty() {
            return Err(ChunkError::Invalid(
                "the node sent no BLAKE3 hash of the chunk (is it an older dffmpeg-node?)".into(),
            ));
        }
        if written.size != summary.output_size || written.blake3 != summary.blake3 {
            return Err(ChunkError::Invalid(format!(
                "received {} bytes with BLAKE3 {}, the node sent {} bytes with {}",
                written.size, written.blake3, summary.output_size, summary.blake3
            )));
        }
        Ok((summary, Transfer { upload, download }))
    }
}

/// How long one chunk's bytes took to move, as the coordinator saw it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Transfer {
    /// From the call's start, once its turn to upload came, until the last
    /// input piece was handed to the connection. What is still in flight
    /// then (the piece queue and the 16 MiB stream window) is, on a slow
    /// link, most of a chunk: the node's `input_seconds` is the upload's
    /// real length.
    pub upload: Duration,
    /// From the first byte of the result to the node's summary.
    pub download: Duration,
}

/// Transport failures make a node unreachable; everything else fails the chunk.
fn classify(status: tonic::Status) -> ChunkError {
    use tonic::Code;
    match status.code() {
        Code::Unavailable | Code::Cancelled | Code::Unknown | Code::DeadlineExceeded => {
            // A TLS or connection failure says what it was only in its sources.
            let mut message = status.message().to_string();
            let mut source = std::error::Error::source(&status);
            while let Some(error) = source {
                let text = error.to_string();
                if !message.contains(&text) {
                    message.push_str(&format!(": {text}"));
                }
                source = error.source();
            }
            ChunkError::Unreachable(message)
        }
        Code::DataLoss => ChunkError::Damaged(status.message().to_string()),
        _ => ChunkError::Failed(format!("{:?}: {}", status.code(), status.message())),
    }
}
