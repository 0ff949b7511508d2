//! Crash safety: a job's directory outlives a killed run, so that the same
//! command run again reuses every chunk the first run verified.
//!
//! An output encoded from a file gets the directory `dffmpeg-job-<hash of
//! the output path>` under the temp root, locked (`flock`) for as long as a
//! run uses it. `identity` in it names what the chunks were made from: the
//! input (path, device, inode, size, modification time), its demuxing
//! options, the video stream and this version of dffmpeg. A run that finds
//! another identity empties the directory first.
//!
//! A verified chunk is kept as `verified/<key>.chunk` with a record
//! `verified/<key>.json`, where the key hashes the identity and the chunk's
//! frames and packets. Both are written to a temporary name, synced and
//! renamed, the chunk first, so a record always describes a complete chunk.
//! The record also holds the SHA-256 of the encode spec the node was sent: a
//! rerun reuses a chunk only if its spec would be the same (same encoder,
//! options, filters, timestamps) and its bytes still hash (BLAKE3) as the
//! node reported them.
//!
//! The directory is removed once the job has made its whole output
//! ([`JobDir::finish`]). Any other end keeps the verified chunks for the
//! rerun: a failure, a stop (`q`, a first signal: the output holds only the
//! chunks from the start), a run aborted by a second signal or a hangup (an
//! ssh session closed, `timeout`), a panic. Interrupted runs never rerun are
//! swept after [`STALE_AFTER`]. Inputs read
//! once (a pipe, a lavfi graph) get a fresh directory each run: there is no
//! identity to resume them by.

use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use node::workdir::{WorkDir, lock, sweep_older_than};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::plan::Chunk;

/// How long a directory left by a killed run waits for its rerun.
pub const STALE_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// The name prefix of resumable job directories.
const PREFIX: &str = "dffmpeg-job-";

/// The name prefix of job directories that cannot be resumed.
const FRESH_PREFIX: &str = "dffmpeg-run-";

/// What a job's chunks are made from, hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The directory's name: one per output path.
    name: String,
    /// The hash of the input, its options and this dffmpeg.
    digest: String,
}

impl Identity {
    /// The identity of encoding video stream `video_stream` of `input`
    /// (opened with `input_args`) into `output`.
    pub fn new(
        input: &Path,
        input_args: &[String],
        video_stream: usize,
        output: &Path,
    ) -> anyhow::Result<Self> {
        let canonical = std::fs::canonicalize(input)
            .with_context(|| format!("resolving {}", input.display()))?;
        let meta = std::fs::metadata(&canonical)
            .with_context(|| format!("reading {}", canonical.display()))?;
        let mut digest = Sha256::new();
        let mut field = |bytes: &[u8]| {
            digest.update((bytes.len() as u64).to_le_bytes());
            digest.update(bytes);
        };
        field(env!("CARGO_PKG_VERSION").as_bytes());
        field(canonical.as_os_str().as_encoded_bytes());
        for number in [meta.dev(), meta.ino(), meta.size()] {
            field(&number.to_le_bytes());
        }
        field(&meta.mtime().to_le_bytes());
        field(&meta.mtime_nsec().to_le_bytes());
        for arg in input_args {
            field(arg.as_bytes());
        }
        field(&(video_stream as u64).to_le_bytes());
        let absolute = std::path::absolute(output)
            .with_context(|| format!("resolving {}", output.display()))?;
        let name = hex::encode(Sha256::digest(absolute.as_os_str().as_encoded_bytes()));
        Ok(Self {
            name: format!("{PREFIX}{}", &name[..16]),
            digest: hex::encode(digest.finalize()),
        })
    }
}

/// One job's directory: resumable and locked, or fresh. On drop, a fresh
/// one is removed, and so is a resumable one whose job finished
/// ([`JobDir::finish`]) or that holds no verified chunk.
#[derive(Debug)]
pub struct JobDir {
    path: PathBuf,
    /// Held while the job runs; `None` for a fresh directory.
    lock: Option<File>,
    identity: Option<Identity>,
    /// The job made its whole output: nothing is left to resume.
    finished: std::sync::atomic::AtomicBool,
    /// A fresh directory, which removes itself.
    fresh: Option<WorkDir>,
}

/// What was stored of a verified chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The time base of the chunk's input, which its spec is written in.
    pub time_base: (i64, i64),
    /// SHA-256 of the encoded spec the node ran.
    pub spec_sha256: String,
    /// The encoded chunk's size and BLAKE3 (as the node reported them).
    pub size: u64,
    /// See `size`.
    pub blake3: String,
    /// Frames the node encoded.
    pub frames_encoded: u64,
    /// Its first timestamp as the concat demuxer reads it, in microseconds.
    pub start_time_us: i64,
    /// The container's start time is `start_time_us` (see
    /// [`crate::probe::ChunkPackets::own_start`]); records written before
    /// this was read lack it and keep the `inpoint`.
    #[serde(default)]
    pub own_start: bool,
}

/// A chunk found verified by an earlier run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reused {
    /// The encoded chunk.
    pub path: PathBuf,
    /// Its record.
    pub record: Record,
}

impl JobDir {
    /// The job's directory under `root`: the resumable one of `identity`
    /// when there is one and no other run holds it, else a fresh one.
    pub fn open(root: &Path, identity: Option<Identity>) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
        sweep_older_than(root, PREFIX, STALE_AFTER);
        if let Some(identity) = identity {
            match Self::resumable(root, identity) {
                Ok(Some(dir)) => return Ok(dir),
                Ok(None) => tracing::info!("the job's directory is in use by another run"),
                Err(error) => tracing::warn!(%error, "no resumable job directory"),
            }
        }
        // `create` sweeps what killed runs left of these.
        let fresh = WorkDir::create(root, FRESH_PREFIX)
            .with_context(|| format!("creating a job directory in {}", root.display()))?;
        Ok(Self {
            path: fresh.path().to_path_buf(),
            lock: None,
            identity: None,
            finished: false.into(),
            fresh: Some(fresh),
        })
    }

    /// The identity's directory, locked and emptied of anything that is not
    /// a verified chunk of this identity; `None` while another run holds it.
    fn resumable(root: &Path, identity: Identity) -> anyhow::Result<Option<Self>> {
        let path = root.join(&identity.name);
        let Some(lock) = lock(&path)? else { return Ok(None) };
        let recorded = std::fs::read_to_string(path.join("identity")).unwrap_or_default();
        let same = recorded.trim() == identity.digest;
        prune(&path, same)?;
        if !same {
            write_atomically(&path.join("identity"), identity.digest.as_bytes())?;
        }
        std::fs::create_dir_all(path.join("verified"))?;
        Ok(Some(Self {
            path,
            lock: Some(lock),
            identity: Some(identity),
            finished: false.into(),
            fresh: None,
        }))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether chunks verified here outlive a killed run.
    pub fn is_resumable(&self) -> bool {
        self.identity.is_some()
    }

    /// A tag for this job's files elsewhere (the output's temporary name):
    /// the same across runs of a resumable job, so a rerun replaces what a
    /// killed one left.
    pub fn tag(&self) -> String {
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        let tag = name.strip_prefix(PREFIX).or_else(|| name.strip_prefix(FRESH_PREFIX));
        tag.unwrap_or(&name).chars().take(8).collect()
    }

    /// How many verified chunks a rerun would find here (unless the job
    /// finishes first): 0 if the directory is not resumable.
    pub fn kept(&self) -> usize {
        if !self.is_resumable() {
            return 0;
        }
        std::fs::read_dir(self.path.join("verified"))
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                    .count()
            })
            .unwrap_or(0)
    }

    /// The job made its whole output: the directory goes with it.
    pub fn finish(&self) {
        self.finished.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The verified chunk an earlier run left for `chunk`, if its bytes are
    /// intact and `spec_for` (the spec this run would send, for a chunk
    /// input in the given time base) is the spec it was made with.
    pub fn reuse(
        &self,
        chunk: &Chunk,
        spec_for: impl FnOnce((i64, i64)) -> anyhow::Result<Vec<u8>>,
    ) -> Option<Reused> {
        let identity = self.identity.as_ref()?;
        let key = chunk_key(identity, chunk);
        let (path, record_path) = self.stored(&key);
        let record: Record = serde_json::from_slice(&std::fs::read(&record_path).ok()?).ok()?;
        let intact = spec_for(record.time_base)
            .is_ok_and(|spec| hex::encode(Sha256::digest(spec)) == record.spec_sha256)
            && file_digest(&path)
                .is_ok_and(|(size, hash)| size == record.size && hash == record.blake3);
        if !intact {
            tracing::info!(chunk = chunk.index, "a stored chunk does not match; encoding it again");
            let _ = std::fs::remove_file(&record_path);
            let _ = std::fs::remove_file(&path);
            return None;
        }
        Some(Reused { path, record })
    }

    /// Stores the verified chunk at `encoded` for later runs, moving it;
    /// returns where it is now. A fresh directory leaves it where it is.
    pub fn store(
        &self,
        chunk: &Chunk,
        encoded: &Path,
        spec: &[u8],
        record: Record,
    ) -> anyhow::Result<PathBuf> {
        let Some(identity) = &self.identity else { return Ok(encoded.to_path_buf()) };
        let record = Record { spec_sha256: hex::encode(Sha256::digest(spec)), ..record };
        let key = chunk_key(identity, chunk);
        let (path, record_path) = self.stored(&key);
        File::open(encoded).and_then(|f| f.sync_all()).context("syncing a verified chunk")?;
        std::fs::rename(encoded, &path).context("storing a verified chunk")?;
        write_atomically(&record_path, &serde_json::to_vec(&record)?)?;
        Ok(path)
    }

    fn stored(&self, key: &str) -> (PathBuf, PathBuf) {
        let dir = self.path.join("verified");
        (dir.join(format!("{key}.chunk")), dir.join(format!("{key}.json")))
    }
}

impl Drop for JobDir {
    fn drop(&mut self) {
        if self.fresh.is_none() {
            let kept = match self.finished.load(std::sync::atomic::Ordering::Relaxed) {
                true => 0,
                false => self.kept(),
            };
            if kept == 0 {
                let _ = std::fs::remove_dir_all(&self.path);
            } else {
                // The cut inputs and encodes in progress are as large as
                // the source: only what a rerun can use stays.
                if let Err(error) = prune(&self.path, true) {
                    tracing::warn!(%error, "cleaning the kept job directory");
                }
                tracing::info!(kept, dir = %self.path.display(), "verified chunks kept for a rerun");
            }
        }
        // The lock goes after the directory, so no run takes over a
        // directory being removed.
        drop(self.lock.take());
    }
}

/// A chunk's key within its job: the identity and where the chunk lies, in
/// frames and in packets, but not its number (a split renumbers chunks).
/// Removes from the job directory `path` what a rerun cannot use: all but
/// its lock, its identity and its verified chunks (all but the lock unless
/// `keep_verified`), and the unfinished writes of a killed run among the
/// verified chunks.
fn prune(path: &Path, keep_verified: bool) -> std::io::Result<()> {
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "lock" || (keep_verified && (name == "identity" || name == "verified")) {
            continue;
        }
        remove(&entry.path())?;
    }
    let Ok(verified) = std::fs::read_dir(path.join("verified")) else { return Ok(()) };
    for entry in verified {
        let entry = entry?;
        if entry.file_name().to_string_lossy().ends_with(".tmp") {
            remove(&entry.path())?;
        }
    }
    Ok(())
}

fn chunk_key(identity: &Identity, chunk: &Chunk) -> String {
    let Chunk {
        index: _,
        frames,
        first_packet,
        packet_count,
        seek_pts,
        first_pts,
        next_pts,
        grid,
        filtered_end,
        frame_map,
        // Follows from the packets.
        cut_offset_s: _,
    } = chunk;
    let placed = format!(
        "{frames:?} {first_packet} {packet_count} {seek_pts} {first_pts} {next_pts:?} {grid:?} {filtered_end:?} {frame_map:?}"
    );
    let mut digest = Sha256::new();
    digest.update(identity.digest.as_bytes());
    digest.update(placed.as_bytes());
    hex::encode(digest.finalize())[..32].to_string()
}

/// Writes `bytes` to `path` through a synced temporary file and a rename,
/// then syncs the directory, so `path` holds either nothing or all of it.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let temp = path.with_extension("tmp");
    let mut file = File::create(&temp).with_context(|| format!("creating {}", temp.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temp, path).with_context(|| format!("renaming to {}", path.display()))?;
    if let Some(parent) = path.parent() {
        File::open(parent).and_then(|d| d.sync_all())?;
    }
    Ok(())
}

fn remove(path: &Path) -> std::io::Result<()> {
    if path.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) }
}

/// The size and BLAKE3 of a file, read in pieces.
fn file_digest(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = File::open(path)?;
    let mut hasher = blake3::Hasher::new();
    let size = std::io::copy(&mut file, &mut hasher)?;
    Ok((size, hasher.finalize().to_hex().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(index: u32, frames: std::ops::Range<usize>) -> Chunk {
        Chunk {
            index,
            first_packet: frames.start,
            packet_count: frames.len(),
            seek_pts: frames.start as i64,
            first_pts: frames.start as i64,
            next_pts: Some(frames.end as i64),
            frames,
            grid: None,
            filtered_end: None,
            frame_map: None,
            cut_offset_s: 0,
        }
    }

    fn record() -> Record {
        Record {
            time_base: (1, 25),
            spec_sha256: String::new(),
            size: 0,
            blake3: String::new(),
            frames_encoded: 10,
            start_time_us: 0,
            own_start: false,
        }
    }

    /// An input and an identity for it, in `dir`.
    fn identity(dir: &Path) -> Identity {
        let input = dir.join("in.mkv");
        if !input.exists() {
            std::fs::write(&input, b"input").unwrap();
        }
        Identity::new(&input, &[], 0, &dir.join("out.mkv")).unwrap()
    }

    /// Stores `bytes` as the verified `chunk` of spec `spec`, with digest and size.
    fn store(dir: &JobDir, chunk: &Chunk, bytes: &[u8], spec: &[u8]) -> PathBuf {
        let encoded = dir.path().join("out.part");
        std::fs::write(&encoded, bytes).unwrap();
        let (size, blake3) = file_digest(&encoded).unwrap();
        dir.store(chunk, &encoded, spec, Record { size, blake3, ..record() }).unwrap()
    }

    #[test]
    fn a_rerun_reuses_what_the_killed_run_verified() {
        let root = tempfile::tempdir().unwrap();
        let first = JobDir::open(root.path(), Some(identity(root.path()))).unwrap();
        assert!(first.is_resumable());
        let stored = store(&first, &chunk(0, 0..10), b"encoded", b"spec");
        std::fs::write(first.path().join("in-00001.nut"), b"cut input").unwrap();
        // A run that did not finish (killed, stopped, failed) leaves its
        // verified chunks; its lock goes with it.
        let path = first.path().to_path_buf();
        drop(first);
        assert!(!path.join("in-00001.nut").exists(), "what was not verified is removed");
        let rerun = JobDir::open(root.path(), Some(identity(root.path()))).unwrap();
        assert_eq!(rerun.path(), path);
        let reused = rerun.reuse(&chunk(0, 0..10), |_| Ok(b"spec".to_vec())).unwrap();
        assert_eq!(reused.path, stored);
        assert_eq!(reused.record.frames_encoded, 10);
        // Another place in the video, or another spec, is not reused; the
        // number of the chunk does not matter.
        assert!(rerun.reuse(&chunk(0, 0..11), |_| Ok(b"spec".to_vec())).is_none());
        assert!(rerun.reuse(&chunk(3, 0..10), |_| Ok(b"spec".to_vec())).is_some());
        assert!(rerun.reuse(&chunk(0, 0..10), |_| Ok(b"other spec".to_vec())).is_none());
        // The mismatching spec dropped the stored chunk.
        assert!(!stored.exists());
    }

    #[test]
    fn a_changed_chunk_or_input_is_encoded_again() {
        let root = tempfile::tempdir().unwrap();
        let dir = JobDir::open(root.path(), Some(identity(root.path()))).unwrap();
        let stored = store(&dir, &chunk(0, 0..10), b"encoded", b"spec");
        std::fs::write(&stored, b"encodeX").unwrap();
        assert!(dir.reuse(&chunk(0, 0..10), |_| Ok(b"spec".to_vec())).is_none());
        drop(dir);
        assert!(
            std::fs::read_dir(root.path()).unwrap().all(|e| e.unwrap().file_name() == "in.mkv")
        );

        let dir = JobDir::open(root.path(), Some(identity(root.path()))).unwrap();
        store(&dir, &chunk(0, 0..10), b"encoded", b"spec");
        let path = dir.path().to_path_buf();
        assert_eq!(dir.kept(), 1);
        drop(dir);
        assert!(path.join("verified").is_dir(), "a failed job keeps its verified chunks");
        // The input changes (another modification time): nothing is reused.
        let input = root.path().join("in.mkv");
        File::options()
            .write(true)
            .open(&input)
            .unwrap()
            .set_modified(std::time::SystemTime::UNIX_EPOCH)
            .unwrap();
        let dir = JobDir::open(root.path(), Some(identity(root.path()))).unwrap();
        assert_eq!(dir.path(), path);
        assert!(dir.reuse(&chunk(0, 0..10), |_| Ok(b"spec".to_vec())).is_none());
        assert_eq!(std::fs::read_dir(path.join("verified")).unwrap().count(), 0);
    }

    #[test]
    fn a_finished_job_leaves_nothing() {
        let root = tempfile::tempdir().unwrap();
        let dir = JobDir::open(root.path(), Some(identity(root.path()))).unwrap();
        store(&dir, &chunk(0, 0..10), b"encoded", b"spec");
        let path = dir.path().to_path_buf();
        dir.finish();
        drop(dir);
        assert!(!path.exists(), "a finished job's chunks outlived it");
    }

    #[test]
    fn a_directory_in_use_is_not_shared() {
        let root = tempfile::tempdir().unwrap();
        let first = JobDir::open(root.path(), Some(identity(root.path()))).unwrap();
        let second = JobDir::open(root.path(), Some(identity(root.path()))).unwrap();
        assert!(first.is_resumable());
        assert!(!second.is_resumable(), "two runs of one command share no directory");
        assert_ne!(first.path(), second.path());
        assert_eq!(second.kept(), 0);
        let (a, b) = (first.path().to_path_buf(), second.path().to_path_buf());
        drop((first, second));
        assert!(!a.exists() && !b.exists());
    }
}
