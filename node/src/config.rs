//! Node settings: the command line, over an optional TOML file, over defaults.

use std::path::PathBuf;

use serde::Deserialize;

/// Everything a node needs to run.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Address to listen on, such as `127.0.0.1:0` or `0.0.0.0:50051`.
    pub listen: String,
    /// Chunks encoded at once. Further requests upload their input, then wait
    /// for a free slot.
    pub slots: u32,
    /// Directory under which every chunk gets its own directory.
    pub temp_dir: PathBuf,
    /// The ffmpeg executable.
    pub ffmpeg: PathBuf,
    /// TLS certificate and key; `None` serves clear text.
    pub tls: Option<TlsFiles>,
    /// The bearer token every call must carry; `None` accepts any caller.
    pub token: Option<String>,
    /// What the node admits.
    pub limits: Limits,
}

/// What a node admits (see `admission`), and how long it waits for a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest chunk input, in bytes.
    pub max_chunk_bytes: u64,
    /// Input bytes one job may hold on the node at once.
    pub max_job_bytes: u64,
    /// Chunks uploading, waiting or encoding at once.
    pub max_admitted: u32,
    /// How long a client may send nothing while uploading, or take nothing
    /// while downloading, before its chunk is dropped and its slot freed.
    pub idle_timeout: std::time::Duration,
    /// Bytes of the temp dir's file system kept free: a chunk is admitted
    /// only if twice its input (input and output) fits above this.
    pub min_free_disk: u64,
}

impl Limits {
    /// Defaults for a node with `slots` slots: 16 GiB per chunk (ten seconds
    /// of raw 4K video is about 3 GB), 64 GiB per job, twice the slots plus
    /// two admitted (a full lookahead from one coordinator), 60 s idle,
    /// 256 MiB of disk kept free.
    pub fn for_slots(slots: u32) -> Self {
        Self {
            max_chunk_bytes: 16 << 30,
            max_job_bytes: 64 << 30,
            max_admitted: slots.saturating_mul(2).saturating_add(2),
            idle_timeout: std::time::Duration::from_secs(60),
            min_free_disk: 256 << 20,
        }
    }
}

/// The PEM files a node serves TLS with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
    /// With mutual TLS: the CA that client certificates must chain to.
    pub client_ca: Option<PathBuf>,
}

/// The `node.toml` file: every field optional, the command line wins.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeFile {
    /// Address to listen on.
    pub listen: Option<String>,
    /// Chunks encoded at once.
    pub slots: Option<u32>,
    /// Directory for chunk directories.
    pub temp_dir: Option<PathBuf>,
    /// The ffmpeg executable.
    pub ffmpeg: Option<PathBuf>,
    /// TLS certificate chain (PEM).
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// CA for client certificates (mutual TLS).
    pub tls_client_ca: Option<PathBuf>,
    /// A file holding the bearer token.
    pub token_file: Option<PathBuf>,
    /// The largest chunk input, in bytes.
    pub max_chunk_bytes: Option<u64>,
    /// Input bytes one job may hold at once.
    pub max_job_bytes: Option<u64>,
    /// Chunks admitted at once.
    pub max_admitted: Option<u32>,
    /// Seconds a client may stall.
    pub idle_timeout: Option<u64>,
    /// Bytes of disk kept free.
    pub min_free_disk: Option<u64>,
}

impl NodeFile {
    /// Reads and parses a node config file.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

impl NodeConfig {
    /// A node on a random loopback port with `slots` slots, for embedding.
    pub fn local(slots: u32, temp_dir: PathBuf) -> Self {
        Self {
            listen: "127.0.0.1:0".into(),
            slots,
            temp_dir,
            ffmpeg: default_ffmpeg(),
            tls: None,
            token: None,
            limits: Limits::for_slots(slots),
        }
    }
}

/// The ffmpeg to run: `DFFMPEG_FFMPEG`, else `ffmpeg` from PATH.
pub fn default_ffmpeg() -> PathBuf {
    std::env::var_os("DFFMPEG_FFMPEG").map(PathBuf::from).unwrap_or_else(|| "ffmpeg".into())
}

/// Reads a token file: its first line, trimmed; an empty token is refused,
/// as it would let anyone in while looking like protection.
pub fn read_token(path: &std::path::Path) -> anyhow::Result<String> {
    use anyhow::Context as _;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the token file {}", path.display()))?;
    let token = text.lines().next().unwrap_or_default().trim().to_string();
    anyhow::ensure!(!token.is_empty(), "the token file {} is empty", path.display());
    Ok(token)
}
