//! The gRPC client side of a node: reports, and one chunk's upload, encode
//! and download, streamed from and to disk in 1 MiB pieces.

use std::path::Path;
use std::time::Duration;

use proto::v1::encode_request::Msg as RequestMsg;
use proto::v1::encode_response::Msg as ResponseMsg;
use proto::v1::node_client::NodeClient;
use proto::v1::{
    EncodeHeader, EncodeProgress, EncodeRequest, EncodeSummary, ReportRequest, ReportResponse,
};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::codec::CompressionEncoding;
use tonic::transport::{Channel, Endpoint};

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
    /// The result did not check out.
    #[error("invalid result: {0}")]
    Invalid(String),
    /// Local I/O failed.
    #[error("{0}")]
    Local(String),
}

/// A connection to one node.
#[derive(Debug, Clone)]
pub struct Remote {
    /// The node's address as the user gave it.
    pub addr: String,
    client: NodeClient<Channel>,
}

impl Remote {
    /// Prepares a lazy connection to `addr` (`host:port` or `http://host:port`).
    pub fn new(addr: &str, compress: bool) -> anyhow::Result<Self> {
        let url = if addr.contains("://") { addr.to_string() } else { format!("http://{addr}") };
        let endpoint = Endpoint::from_shared(url.clone())
            .map_err(|e| anyhow::anyhow!("invalid node address {addr}: {e}"))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(20));
        let mut client = NodeClient::new(endpoint.connect_lazy())
            .max_decoding_message_size(4 * proto::PIECE_SIZE)
            .accept_compressed(CompressionEncoding::Zstd);
        if compress {
            client = client.send_compressed(CompressionEncoding::Zstd);
        }
        Ok(Self { addr: addr.to_string(), client })
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
    /// `output`, checking its size and SHA-256 against the node's summary.
    pub async fn encode(
        &self,
        header: EncodeHeader,
        input: &Path,
        output: &Path,
        mut on_progress: impl FnMut(EncodeProgress),
    ) -> Result<EncodeSummary, ChunkError> {
        let mut file = tokio::fs::File::open(input)
            .await
            .map_err(|e| ChunkError::Local(format!("opening {}: {e}", input.display())))?;
        let (tx, rx) = mpsc::channel::<EncodeRequest>(4);
        tx.send(EncodeRequest { msg: Some(RequestMsg::Header(header)) })
            .await
            .map_err(|_| ChunkError::Local("request stream closed".into()))?;
        let upload = tokio::spawn(async move {
            loop {
                let mut piece = vec![0u8; proto::PIECE_SIZE];
                let mut filled = 0;
                while filled < piece.len() {
                    match file.read(&mut piece[filled..]).await {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) => return Err(format!("reading the chunk input: {e}")),
                    }
                }
                if filled == 0 {
                    return Ok(());
                }
                piece.truncate(filled);
                if tx.send(EncodeRequest { msg: Some(RequestMsg::Data(piece)) }).await.is_err() {
                    // The node ended the call; its status tells why.
                    return Ok(());
                }
            }
        });
        let mut client = self.client.clone();
        let mut inbound =
            client.encode(ReceiverStream::new(rx)).await.map_err(classify)?.into_inner();
        let mut out = tokio::fs::File::create(output)
            .await
            .map_err(|e| ChunkError::Local(format!("creating {}: {e}", output.display())))?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let summary = loop {
            match inbound.message().await.map_err(classify)? {
                Some(message) => match message.msg {
                    Some(ResponseMsg::Progress(p)) => on_progress(p),
                    Some(ResponseMsg::Data(data)) => {
                        hasher.update(&data);
                        size += data.len() as u64;
                        out.write_all(&data).await.map_err(|e| {
                            ChunkError::Local(format!("writing {}: {e}", output.display()))
                        })?;
                    }
                    Some(ResponseMsg::Summary(summary)) => break summary,
                    None => {}
                },
                None => {
                    return Err(ChunkError::Invalid("the stream ended without a summary".into()));
                }
            }
        };
        out.flush()
            .await
            .map_err(|e| ChunkError::Local(format!("writing {}: {e}", output.display())))?;
        match upload.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(ChunkError::Local(e)),
            Err(e) => return Err(ChunkError::Local(format!("upload task: {e}"))),
        }
        let digest = hex::encode(hasher.finalize());
        if size != summary.output_size || digest != summary.sha256 {
            return Err(ChunkError::Invalid(format!(
                "received {size} bytes with SHA-256 {digest}, the node sent {} bytes with {}",
                summary.output_size, summary.sha256
            )));
        }
        Ok(summary)
    }
}

/// Transport failures make a node unreachable; everything else fails the chunk.
fn classify(status: tonic::Status) -> ChunkError {
    use tonic::Code;
    match status.code() {
        Code::Unavailable | Code::Cancelled | Code::Unknown | Code::DeadlineExceeded => {
            ChunkError::Unreachable(status.message().to_string())
        }
        _ => ChunkError::Failed(format!("{:?}: {}", status.code(), status.message())),
    }
}
