//! Serving the node: gRPC with zstd, TLS when configured, the bearer token
//! checked before any work, grpc.health.v1, graceful shutdown.

use std::net::SocketAddr;

use anyhow::Context as _;
use proto::v1::node_server::NodeServer;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::codec::CompressionEncoding;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};
use tracing::{info, warn};

use crate::auth::TokenCheck;
use crate::config::{NodeConfig, TlsFiles};
use crate::service::NodeService;
use crate::workdir::WorkDir;

/// The name prefix of a node process's work directory in its temp dir.
pub const WORK_PREFIX: &str = "dffmpeg-node-";

/// A node serving in the background.
#[derive(Debug)]
pub struct RunningNode {
    /// Where it listens.
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl RunningNode {
    /// Stops accepting work, lets running chunks finish, and waits.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.await.context("node task panicked")?
    }
}

/// Binds `config.listen` and serves until [`RunningNode::stop`].
pub async fn serve(config: NodeConfig) -> anyhow::Result<RunningNode> {
    let listener = TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        if config.tls.is_none() {
            warn!(
                %addr,
                "listening in clear text on a non-loopback address: anyone on the network can read the chunks (use --tls-cert and --tls-key)"
            );
        }
        if config.token.is_none() {
            warn!(%addr, "no bearer token: anyone who reaches this address can run encodes (use --token-file)");
        }
    }
    // HTTP/2 streams per connection: every admitted chunk, reports and slack.
    let streams = config.limits.max_admitted.saturating_mul(2).saturating_add(16);
    let mut builder = tonic::transport::Server::builder()
        .max_concurrent_streams(Some(streams))
        .initial_stream_window_size(proto::STREAM_WINDOW)
        .initial_connection_window_size(proto::CONNECTION_WINDOW)
        .max_frame_size(proto::MAX_FRAME);
    if let Some(tls) = &config.tls {
        builder = builder.tls_config(tls_config(tls)?).context("configuring TLS")?;
    }
    // Chunks live in a directory of this process's own, which also removes
    // what a killed node left in the same temp dir.
    let work = WorkDir::create(&config.temp_dir, WORK_PREFIX)
        .context("creating the node's work directory")?;
    let config = NodeConfig { temp_dir: work.path().to_path_buf(), ..config };
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    let service = NodeService::new(config.clone()).await;
    let node = NodeServer::new(service)
        .accept_compressed(CompressionEncoding::Zstd)
        .send_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(crate::spec::MAX_HEADER);
    let node = InterceptedService::new(node, TokenCheck::new(config.token.as_deref()));
    health_reporter.set_serving::<NodeServer<NodeService>>().await;
    let (shutdown, shutdown_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _work = work;
        let signal = async move {
            let _ = shutdown_rx.await;
            info!("shutting down: not serving, finishing running chunks");
            health_reporter.set_not_serving::<NodeServer<NodeService>>().await;
        };
        builder
            .add_service(health_service)
            .add_service(node)
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), signal)
            .await
            .context("serving gRPC")
    });
    info!(%addr, slots = config.slots, tls = config.tls.is_some(), "node listening");
    Ok(RunningNode { addr, shutdown: Some(shutdown), task })
}

/// The server's TLS identity, and the client CA when TLS is mutual.
fn tls_config(files: &TlsFiles) -> anyhow::Result<ServerTlsConfig> {
    let read = |path: &std::path::Path, what: &str| {
        std::fs::read(path).with_context(|| format!("reading the TLS {what} {}", path.display()))
    };
    let identity = Identity::from_pem(read(&files.cert, "certificate")?, read(&files.key, "key")?);
    let mut config = ServerTlsConfig::new().identity(identity);
    if let Some(ca) = &files.client_ca {
        config = config.client_ca_root(Certificate::from_pem(read(ca, "client CA")?));
    }
    Ok(config)
}
