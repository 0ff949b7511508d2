//! `dffmpeg-node`: serves chunk encodes until SIGTERM or SIGINT.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use node::config::{Limits, NodeConfig, NodeFile, TlsFiles, default_ffmpeg, read_token};

/// A dffmpeg worker: encodes video chunks with ffmpeg, in a fixed number of slots.
#[derive(Debug, Parser)]
#[command(name = "dffmpeg-node", version)]
struct Args {
    /// Address to listen on (host:port; port 0 picks a free one).
    #[arg(short = 'n', long = "listen")]
    listen: Option<String>,
    /// Chunks encoded at once; further requests wait for a slot.
    #[arg(long)]
    slots: Option<u32>,
    /// Directory for the chunks' working directories.
    #[arg(short = 't', long = "temp-dir")]
    temp_dir: Option<PathBuf>,
    /// TOML config file (listen, slots, temp_dir, ffmpeg, tls_cert, tls_key,
    /// tls_client_ca, token_file, and the limits below in snake_case).
    #[arg(short = 'c', long = "config")]
    config: Option<PathBuf>,
    /// Serve TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long = "tls-cert", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The TLS private key (PEM).
    #[arg(long = "tls-key", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Mutual TLS: accept only clients with a certificate from this CA (PEM).
    #[arg(long = "tls-client-ca")]
    tls_client_ca: Option<PathBuf>,
    /// A file whose first line is the bearer token every call must carry
    /// (also DFFMPEG_TOKEN_FILE; DFFMPEG_TOKEN gives the token itself).
    #[arg(long = "token-file", env = "DFFMPEG_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    /// The largest chunk input accepted, in bytes (default 16 GiB).
    #[arg(long = "max-chunk-bytes")]
    max_chunk_bytes: Option<u64>,
    /// Input bytes one job may hold on this node at once (default 64 GiB).
    #[arg(long = "max-job-bytes")]
    max_job_bytes: Option<u64>,
    /// Chunks uploading, waiting or encoding at once (default 2 x slots + 2).
    #[arg(long = "max-admitted")]
    max_admitted: Option<u32>,
    /// Seconds a client may send or take nothing before its chunk is
    /// dropped (default 60).
    #[arg(long = "idle-timeout")]
    idle_timeout: Option<u64>,
    /// Bytes of the temp dir's disk kept free; a chunk whose input, twice
    /// over, does not fit above this is refused (default 256 MiB).
    #[arg(long = "min-free-disk")]
    min_free_disk: Option<u64>,
}

fn main() -> std::process::ExitCode {
    node::malloc::bound_arenas();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DFFMPEG_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("dffmpeg-node: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    let args = Args::parse();
    let file = match &args.config {
        Some(path) => NodeFile::load(path)?,
        None => NodeFile::default(),
    };
    let tls = match (args.tls_cert.or(file.tls_cert), args.tls_key.or(file.tls_key)) {
        (Some(cert), Some(key)) => {
            Some(TlsFiles { cert, key, client_ca: args.tls_client_ca.or(file.tls_client_ca) })
        }
        (None, None) => {
            anyhow::ensure!(
                args.tls_client_ca.is_none() && file.tls_client_ca.is_none(),
                "a TLS client CA needs --tls-cert and --tls-key"
            );
            None
        }
        _ => anyhow::bail!("TLS needs both a certificate and a key"),
    };
    let token = match args.token_file.or(file.token_file) {
        Some(path) => Some(read_token(&path)?),
        None => std::env::var("DFFMPEG_TOKEN").ok().map(|t| t.trim().to_string()),
    };
    anyhow::ensure!(token.as_deref() != Some(""), "DFFMPEG_TOKEN is empty");
    let slots = args.slots.or(file.slots).unwrap_or_else(|| {
        std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1)
    });
    let defaults = Limits::for_slots(slots);
    let limits = Limits {
        max_chunk_bytes: args
            .max_chunk_bytes
            .or(file.max_chunk_bytes)
            .unwrap_or(defaults.max_chunk_bytes),
        max_job_bytes: args.max_job_bytes.or(file.max_job_bytes).unwrap_or(defaults.max_job_bytes),
        max_admitted: args.max_admitted.or(file.max_admitted).unwrap_or(defaults.max_admitted),
        idle_timeout: args
            .idle_timeout
            .or(file.idle_timeout)
            .map(std::time::Duration::from_secs)
            .unwrap_or(defaults.idle_timeout),
        min_free_disk: args.min_free_disk.or(file.min_free_disk).unwrap_or(defaults.min_free_disk),
    };
    anyhow::ensure!(limits.max_admitted >= slots, "--max-admitted must be at least --slots");
    anyhow::ensure!(!limits.idle_timeout.is_zero(), "--idle-timeout must be at least 1 second");
    let config = NodeConfig {
        listen: args.listen.or(file.listen).unwrap_or_else(|| "127.0.0.1:50051".into()),
        slots,
        temp_dir: args
            .temp_dir
            .or(file.temp_dir)
            .unwrap_or_else(|| std::env::temp_dir().join("dffmpeg-node")),
        ffmpeg: file.ffmpeg.unwrap_or_else(default_ffmpeg),
        tls,
        token,
        limits,
    };
    anyhow::ensure!(config.slots > 0, "--slots must be at least 1");
    std::fs::create_dir_all(&config.temp_dir)
        .with_context(|| format!("creating {}", config.temp_dir.display()))?;
    // Handlers go in before the address is announced: whoever reads the line
    // may signal at once, and an uninstalled handler means death by SIGTERM.
    let signals = Signals::install()?;
    let node = node::serve(config).await?;
    // Tests and scripts read the bound address from this line.
    println!("listening on {}", node.addr);
    signals.wait().await;
    node.stop().await
}

/// SIGTERM and SIGINT, caught from the moment they are installed.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}
