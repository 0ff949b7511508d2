//! dffmpeg's own settings, layered: its double-dash options, then `DFFMPEG_*`
//! variables, then the config file, then defaults. ffmpeg never uses
//! double-dash options, so they cannot collide with its own.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use serde::Deserialize;

/// Everything dffmpeg decides for itself.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Node addresses; empty for the embedded node.
    pub nodes: Vec<String>,
    /// Slots per node, paired with `nodes` in order; missing ones come from the node's report.
    pub slots: Vec<u32>,
    /// Where job directories go.
    pub temp_dir: Option<PathBuf>,
    /// Target chunk duration in seconds.
    pub segment_duration: f64,
    /// The most a pipe or lavfi graph is spooled before ffmpeg takes the
    /// command over (see `spool`); `None` for half the temp dir's free space.
    pub spool_limit: Option<u64>,
    /// Chunks handed to a node beyond its slots, to upload while they
    /// encode (`schedule::NodeBook::queue`); `None` for the default: 1 with
    /// `--nodes`, 0 on the embedded node, whose loopback upload hides nothing.
    pub upload_ahead: Option<u32>,
    /// The real ffmpeg, if configured.
    pub ffmpeg: Option<PathBuf>,
    /// Compress chunk uploads with zstd.
    pub compress: bool,
    /// A scheduling policy module (`.wasm`); `None` for the built-in default.
    pub policy: Option<PathBuf>,
    /// Any failure of the policy ends the job instead of falling back.
    pub policy_strict: bool,
    /// How to reach nodes safely: TLS and the bearer token.
    pub security: Security,
}

/// What a connection to a node proves and hides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Security {
    /// The CA that `https://` nodes' certificates must chain to.
    pub tls_ca: Option<PathBuf>,
    /// The client's own certificate and key, for nodes that ask (mutual TLS).
    pub tls_identity: Option<(PathBuf, PathBuf)>,
    /// The bearer token sent with every call.
    pub token: Option<String>,
}

/// dffmpeg's own options found on the command line.
#[derive(Debug, Default, PartialEq)]
pub struct OwnArgs {
    nodes: Vec<String>,
    slots: Vec<u32>,
    config_file: Option<PathBuf>,
    temp_dir: Option<PathBuf>,
    segment_duration: Option<f64>,
    spool_limit: Option<u64>,
    upload_ahead: Option<u32>,
    input_file: Option<OsString>,
    output_file: Option<OsString>,
    encoder_params: Option<String>,
    policy: Option<PathBuf>,
    policy_strict: Option<bool>,
    tls_ca: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    token_file: Option<PathBuf>,
}

/// The config file; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    nodes: Option<Vec<String>>,
    slots: Option<Vec<u32>>,
    temp_dir: Option<PathBuf>,
    segment_duration: Option<f64>,
    spool_limit: Option<u64>,
    upload_ahead: Option<u32>,
    ffmpeg: Option<PathBuf>,
    compress: Option<bool>,
    policy: Option<PathBuf>,
    policy_strict: Option<bool>,
    tls_ca: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    token_file: Option<PathBuf>,
}

const DEFAULT_SEGMENT_SECONDS: f64 = 10.0;

/// Takes dffmpeg's own `--name value` / `--name=value` options out of argv and
/// returns them with the argv that is left for ffmpeg. The seed's form
/// (`--input-file`, `--output-file`, `--encoder-params`) becomes an ordinary
/// ffmpeg command line.
pub fn split_own_args(argv: Vec<OsString>) -> anyhow::Result<(OwnArgs, Vec<OsString>)> {
    let mut own = OwnArgs::default();
    let mut rest = Vec::new();
    let mut iter = argv.into_iter();
    while let Some(token) = iter.next() {
        let Some(text) = token.to_str().filter(|t| t.starts_with("--") && t.len() > 2) else {
            rest.push(token);
            continue;
        };
        let (name, inline) = match text[2..].split_once('=') {
            Some((n, v)) => (n.to_string(), Some(OsString::from(v))),
            None => (text[2..].to_string(), None),
        };
        const OWN: &[&str] = &[
            "nodes",
            "slots",
            "config-file",
            "temp-dir",
            "segment-duration",
            "spool-limit",
            "upload-ahead",
            "input-file",
            "output-file",
            "encoder-params",
            "policy",
            "tls-ca",
            "tls-cert",
            "tls-key",
            "token-file",
        ];
        if name == "policy-strict" {
            // A flag: `--policy-strict`, or `--policy-strict=false`.
            let value = inline.as_ref().and_then(|v| v.to_str()).unwrap_or("true");
            own.policy_strict = Some(parse_bool(value).context("--policy-strict")?);
            continue;
        }
        if !OWN.contains(&name.as_str()) {
            rest.push(token);
            continue;
        }
        let value = match inline.or_else(|| iter.next()) {
            Some(v) => v,
            None => bail!("--{name} needs a value"),
        };
        let text =
            || value.to_str().map(str::to_string).with_context(|| format!("--{name} is not UTF-8"));
        match name.as_str() {
            "nodes" => {
                own.nodes.extend(text()?.split(',').filter(|s| !s.is_empty()).map(str::to_string))
            }
            "slots" => {
                for n in text()?.split(',') {
                    own.slots.push(parse_slots(n).with_context(|| format!("--slots {n}"))?);
                }
            }
            "config-file" => own.config_file = Some(value.into()),
            "temp-dir" => own.temp_dir = Some(value.into()),
            "segment-duration" => own.segment_duration = Some(parse_seconds(&text()?)?),
            "spool-limit" => own.spool_limit = Some(parse_bytes(&text()?)?),
            "upload-ahead" => {
                own.upload_ahead = Some(parse_count(&text()?).context("--upload-ahead")?);
            }
            "input-file" => own.input_file = Some(value),
            "output-file" => own.output_file = Some(value),
            "encoder-params" => own.encoder_params = Some(text()?),
            "policy" => own.policy = Some(value.into()),
            "tls-ca" => own.tls_ca = Some(value.into()),
            "tls-cert" => own.tls_cert = Some(value.into()),
            "tls-key" => own.tls_key = Some(value.into()),
            "token-file" => own.token_file = Some(value.into()),
            _ => unreachable!("listed in OWN"),
        }
    }
    if own.input_file.is_some() || own.output_file.is_some() || own.encoder_params.is_some() {
        let (Some(input), Some(output)) = (own.input_file.take(), own.output_file.take()) else {
            bail!("--input-file and --output-file go together");
        };
        let mut argv: Vec<OsString> = vec!["-i".into(), input];
        argv.extend(
            own.encoder_params.take().unwrap_or_default().split_whitespace().map(OsString::from),
        );
        argv.extend(rest);
        argv.push(output);
        rest = argv;
    }
    Ok((own, rest))
}

fn parse_bool(text: &str) -> anyhow::Result<bool> {
    match text.trim() {
        "1" | "true" | "yes" => Ok(true),
        "0" | "false" | "no" => Ok(false),
        other => bail!("{other} is not true or false"),
    }
}

fn parse_slots(text: &str) -> anyhow::Result<u32> {
    let n: u32 = text.trim().parse().context("not a number")?;
    anyhow::ensure!(n > 0, "slots must be at least 1");
    Ok(n)
}

/// A count of chunks, 0 allowed (`--upload-ahead 0` turns uploading ahead off).
fn parse_count(text: &str) -> anyhow::Result<u32> {
    text.trim().parse().with_context(|| format!("{text} is not a whole number"))
}

fn parse_seconds(text: &str) -> anyhow::Result<f64> {
    let s: f64 =
        text.trim().parse().with_context(|| format!("segment duration {text} is not a number"))?;
    anyhow::ensure!(s.is_finite() && s > 0.0, "segment duration must be positive");
    Ok(s)
}

impl Settings {
    /// Layers the command line over the environment over the config file.
    pub fn load(own: &OwnArgs) -> anyhow::Result<Self> {
        let path = own.config_file.clone().or_else(|| {
            let base = std::env::var_os("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
            Some(base.join("dffmpeg/config.toml")).filter(|p| p.is_file())
        });
        let file: FileSettings = match &path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
            }
            None => FileSettings::default(),
        };
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let env_nodes =
            env("DFFMPEG_NODES").map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
        let env_slots = env("DFFMPEG_SLOTS")
            .map(|v| v.split(',').map(parse_slots).collect::<anyhow::Result<Vec<_>>>())
            .transpose()
            .context("DFFMPEG_SLOTS")?;
        let env_segment = env("DFFMPEG_SEGMENT_DURATION").map(|v| parse_seconds(&v)).transpose()?;
        let env_spool = env("DFFMPEG_SPOOL_LIMIT")
            .map(|v| parse_bytes(&v))
            .transpose()
            .context("DFFMPEG_SPOOL_LIMIT")?;
        let env_ahead = env("DFFMPEG_UPLOAD_AHEAD")
            .map(|v| parse_count(&v))
            .transpose()
            .context("DFFMPEG_UPLOAD_AHEAD")?;
        let nodes = if own.nodes.is_empty() {
            env_nodes.or(file.nodes).unwrap_or_default()
        } else {
            own.nodes.clone()
        };
        let slots = if own.slots.is_empty() {
            env_slots.or(file.slots).unwrap_or_default()
        } else {
            own.slots.clone()
        };
        if slots.len() > nodes.len() && !nodes.is_empty() {
            bail!("{} slot counts for {} nodes", slots.len(), nodes.len());
        }
        let path_of = |own: &Option<PathBuf>, var: &str, file: &Option<PathBuf>| {
            own.clone().or_else(|| env(var).map(PathBuf::from)).or_else(|| file.clone())
        };
        let tls_ca = path_of(&own.tls_ca, "DFFMPEG_TLS_CA", &file.tls_ca);
        let tls_identity = match (
            path_of(&own.tls_cert, "DFFMPEG_TLS_CERT", &file.tls_cert),
            path_of(&own.tls_key, "DFFMPEG_TLS_KEY", &file.tls_key),
        ) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => bail!("a client certificate (--tls-cert) and its key (--tls-key) go together"),
        };
        let token = match path_of(&own.token_file, "DFFMPEG_TOKEN_FILE", &file.token_file) {
            Some(path) => Some(node::config::read_token(&path)?),
            None => env("DFFMPEG_TOKEN").map(|t| t.trim().to_string()),
        };
        if let Some(s) = file.segment_duration {
            parse_seconds(&s.to_string()).context("segment_duration in the config file")?;
        }
        Ok(Self {
            nodes,
            slots,
            temp_dir: own
                .temp_dir
                .clone()
                .or_else(|| env("DFFMPEG_TEMP_DIR").map(PathBuf::from))
                .or(file.temp_dir),
            segment_duration: own
                .segment_duration
                .or(env_segment)
                .or(file.segment_duration)
                .unwrap_or(DEFAULT_SEGMENT_SECONDS),
            spool_limit: own.spool_limit.or(env_spool).or(file.spool_limit),
            upload_ahead: own.upload_ahead.or(env_ahead).or(file.upload_ahead),
            ffmpeg: file.ffmpeg,
            compress: env("DFFMPEG_COMPRESS")
                .map(|v| v != "0" && v != "false")
                .or(file.compress)
                .unwrap_or(true),
            policy: own
                .policy
                .clone()
                .or_else(|| env("DFFMPEG_POLICY").map(PathBuf::from))
                .or(file.policy),
            policy_strict: match own.policy_strict {
                Some(strict) => strict,
                None => match env("DFFMPEG_POLICY_STRICT") {
                    Some(v) => parse_bool(&v).context("DFFMPEG_POLICY_STRICT")?,
                    None => file.policy_strict.unwrap_or(false),
                },
            },
            security: Security { tls_ca, tls_identity, token },
        })
    }
}

/// A byte count: digits, optionally followed by `K`, `M`, `G` or `T`
/// (powers of 1024, either case).
fn parse_bytes(text: &str) -> anyhow::Result<u64> {
    let text = text.trim();
    let (digits, shift) = match text.char_indices().last() {
        Some((at, unit)) if unit.is_ascii_alphabetic() => {
            let shift = match unit.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => bail!("{text:?} is not a byte count (a number, or with K, M, G or T)"),
            };
            (&text[..at], shift)
        }
        _ => (text, 0),
    };
    let n: u64 = digits.parse().with_context(|| {
        format!("{text:?} is not a byte count (a number, or with K, M, G or T)")
    })?;
    n.checked_mul(1 << shift).with_context(|| format!("{text} bytes is too many"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> Vec<OsString> {
        s.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn byte_counts_take_binary_suffixes() {
        assert_eq!(parse_bytes("1000").unwrap(), 1000);
        assert_eq!(parse_bytes("200K").unwrap(), 204_800);
        assert_eq!(parse_bytes("3g").unwrap(), 3 << 30);
        assert!(parse_bytes("2X").is_err());
        assert!(parse_bytes("-1").is_err());
        assert!(parse_bytes("99999999999T").is_err());
    }

    #[test]
    fn takes_own_options_and_leaves_ffmpegs() {
        let (own, rest) = split_own_args(os(
            "--nodes a:1 -i in.mkv --slots 2 --nodes=b:2 -c:v libx264 -- out.mkv",
        ))
        .unwrap();
        assert_eq!(own.nodes, vec!["a:1", "b:2"]);
        assert_eq!(own.slots, vec![2]);
        assert_eq!(rest, os("-i in.mkv -c:v libx264 -- out.mkv"));
    }

    #[test]
    fn seed_form_becomes_an_ffmpeg_command() {
        let mut argv =
            os("--input-file in.mkv --output-file out.mkv --nodes a:1 --slots 1 --encoder-params");
        argv.push("-c:v libx264 -crf 23".into());
        let (_, rest) = split_own_args(argv).unwrap();
        assert_eq!(rest, os("-i in.mkv -c:v libx264 -crf 23 out.mkv"));
    }

    #[test]
    fn rejects_bad_values() {
        assert!(split_own_args(os("--slots 0")).is_err());
        assert!(split_own_args(os("--segment-duration -1")).is_err());
        assert!(split_own_args(os("--nodes")).is_err());
        assert!(split_own_args(os("--policy-strict=maybe")).is_err());
    }

    #[test]
    fn security_options() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "  abc123 \nignored\n").unwrap();
        let argv = format!("--tls-ca ca.pem --token-file {} -i a b.mkv", token.display());
        let (own, rest) = split_own_args(os(&argv)).unwrap();
        assert_eq!(rest, os("-i a b.mkv"));
        let settings = Settings::load(&own).unwrap();
        assert_eq!(settings.security.tls_ca, Some(PathBuf::from("ca.pem")));
        assert_eq!(settings.security.token.as_deref(), Some("abc123"));
        let (own, _) = split_own_args(os("--tls-cert c.pem -i a b.mkv")).unwrap();
        assert!(Settings::load(&own).is_err(), "a certificate without its key");
        std::fs::write(&token, "\n").unwrap();
        let (own, _) = split_own_args(os(&argv)).unwrap();
        assert!(Settings::load(&own).is_err(), "an empty token file");
    }

    #[test]
    fn policy_options() {
        let (own, rest) = split_own_args(os("--policy p.wasm --policy-strict -i a b.mkv")).unwrap();
        assert_eq!(own.policy, Some(PathBuf::from("p.wasm")));
        assert_eq!(own.policy_strict, Some(true));
        assert_eq!(rest, os("-i a b.mkv"));
    }
}
