//! Serving the node: gRPC with zstd, grpc.health.v1, graceful shutdown.

use std::net::SocketAddr;

use anyhow::Context as _;
use proto::v1::node_server::NodeServer;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::codec::CompressionEncoding;
use tracing::{info, warn};

use crate::config::NodeConfig;
use crate::service::NodeService;

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
        warn!(%addr, "listening in clear text on a non-loopback address");
    }
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    let service = NodeService::new(config.clone()).await;
    let node = NodeServer::new(service)
        .accept_compressed(CompressionEncoding::Zstd)
        .send_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(4 * proto::PIECE_SIZE);
    health_reporter.set_serving::<NodeServer<NodeService>>().await;
    let (shutdown, shutdown_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let signal = async move {
            let _ = shutdown_rx.await;
            info!("shutting down: not serving, finishing running chunks");
            health_reporter.set_not_serving::<NodeServer<NodeService>>().await;
        };
        tonic::transport::Server::builder()
            .add_service(health_service)
            .add_service(node)
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), signal)
            .await
            .context("serving gRPC")
    });
    info!(%addr, slots = config.slots, "node listening");
    Ok(RunningNode { addr, shutdown: Some(shutdown), task })
}
