//! Directories a live process holds, told apart from those a killed one
//! left behind.
//!
//! A process that works under a shared directory (a node under its temp
//! dir, `dffmpeg` under `--temp-dir`) takes a directory of its own there and
//! holds an exclusive `flock` on the `lock` file inside for as long as it
//! runs. The kernel releases the lock when the process dies, however it
//! dies, so the next process to start removes every directory of the same
//! kind whose lock it can take: what a SIGKILL or a power cut left.

use std::fs::File;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Errors taking or creating a work directory.
#[derive(Debug, thiserror::Error)]
pub enum WorkDirError {
    /// The file system refused.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// On what.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> WorkDirError {
    let path = path.to_path_buf();
    move |source| WorkDirError::Io { what, path, source }
}

/// A directory of this process's own under a shared one, locked while it
/// lives and removed when dropped.
#[derive(Debug)]
pub struct WorkDir {
    path: PathBuf,
    lock: Option<File>,
}

/// How old a directory must be, still under its setup name, to be what a
/// process killed while making it left: making one takes microseconds.
const SETUP_LEFTOVER_AGE: Duration = Duration::from_secs(60);

impl WorkDir {
    /// Sweeps what killed processes left under `root` with this `prefix`,
    /// then creates and locks a new `root/PREFIXrandom`.
    ///
    /// The directory is made and locked under a name no sweep of `prefix`
    /// matches (`.PREFIXrandom`), then renamed: another process or thread
    /// sweeping `root` at that moment never sees it unlocked.
    pub fn create(root: &Path, prefix: &str) -> Result<Self, WorkDirError> {
        std::fs::create_dir_all(root).map_err(io("creating", root))?;
        sweep(root, prefix);
        let setup_prefix = format!(".{prefix}");
        sweep_older_than(root, &setup_prefix, SETUP_LEFTOVER_AGE);
        let setup = tempfile::Builder::new()
            .prefix(&setup_prefix)
            .tempdir_in(root)
            .map_err(io("creating a directory in", root))?
            .keep();
        let lock = match lock(&setup) {
            Ok(Some(lock)) => lock,
            // No other process knows the random name yet.
            Ok(None) => {
                let _ = std::fs::remove_dir_all(&setup);
                return Err(WorkDirError::Io {
                    what: "locking",
                    path: setup,
                    source: std::io::ErrorKind::WouldBlock.into(),
                });
            }
            Err(error) => {
                let _ = std::fs::remove_dir_all(&setup);
                return Err(error);
            }
        };
        let name = setup.file_name().map(|n| n.to_string_lossy()[1..].to_string());
        let path = root.join(name.unwrap_or_default());
        if let Err(error) = std::fs::rename(&setup, &path) {
            let _ = std::fs::remove_dir_all(&setup);
            return Err(io("renaming", &setup)(error));
        }
        Ok(Self { path, lock: Some(lock) })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
        // The lock goes after the directory, so no sweep or takeover meets
        // a directory half removed.
        drop(self.lock.take());
    }
}

/// Takes the exclusive lock on `dir/lock`, creating the directory and the
/// file; `None` while another process holds it. The file is checked to still
/// be the one in the directory once locked: a process that removed the
/// directory meanwhile leaves it unlinked.
pub fn lock(dir: &Path) -> Result<Option<File>, WorkDirError> {
    std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
    let path = dir.join("lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io("opening", &path))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
        Err(std::fs::TryLockError::Error(error)) => return Err(io("locking", &path)(error)),
    }
    let held = file.metadata().map_err(io("reading", &path))?;
    match std::fs::metadata(&path) {
        Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => Ok(Some(file)),
        _ => Ok(None),
    }
}

/// Removes every `root/PREFIX*` directory no live process holds; returns
/// how many. One that another process is setting up at that moment (made,
/// its lock not taken yet) is harmless to remove: [`lock`] makes it again.
pub fn sweep(root: &Path, prefix: &str) -> usize {
    sweep_older_than(root, prefix, Duration::ZERO)
}

/// [`sweep`] with another age: resumable job directories wait days.
pub fn sweep_older_than(root: &Path, prefix: &str, age: Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(root) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let old = entry.file_name().to_string_lossy().starts_with(prefix)
            && entry.file_type().is_ok_and(|t| t.is_dir())
            && std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|elapsed| elapsed > age));
        if old && let Ok(Some(_held)) = lock(&path) {
            tracing::info!(dir = %path.display(), "removing what a killed process left");
            if std::fs::remove_dir_all(&path).is_ok() {
                removed += 1;
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn age(path: &Path) {
        let old = std::time::SystemTime::now() - Duration::from_secs(3600);
        File::open(path).unwrap().set_modified(old).unwrap();
    }

    #[test]
    fn directories_made_at_once_under_one_root_all_get_made() {
        // Each creation sweeps the root: it must not take a directory that
        // another is making at that moment (two trials of one command do).
        let root = tempfile::tempdir().unwrap();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let root = root.path().to_path_buf();
                std::thread::spawn(move || {
                    (0..100)
                        .map(|_| WorkDir::create(&root, "work-").map(drop))
                        .collect::<Result<Vec<()>, _>>()
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap().unwrap();
        }
    }

    #[test]
    fn only_what_no_live_process_holds_is_swept() {
        let root = tempfile::tempdir().unwrap();
        let live = WorkDir::create(root.path(), "work-").unwrap();
        std::fs::write(live.path().join("chunk"), b"x").unwrap();
        // What a killed process left: the directory, its lock released.
        let dead = root.path().join("work-dead");
        std::fs::create_dir_all(dead.join("chunk-1")).unwrap();
        drop(lock(&dead).unwrap().unwrap());
        let young = root.path().join("work-young");
        std::fs::create_dir(&young).unwrap();
        let other = root.path().join("other-dead");
        std::fs::create_dir(&other).unwrap();
        for dir in [live.path(), &dead, &other] {
            age(dir);
        }

        assert_eq!(sweep_older_than(root.path(), "work-", Duration::from_secs(60)), 1);
        assert!(young.exists(), "a directory younger than the age was swept");
        assert!(live.path().join("chunk").exists(), "a live directory was swept");
        assert!(!dead.exists());
        assert!(other.exists(), "another prefix was swept");
        assert_eq!(sweep(root.path(), "work-"), 1, "a directory without a lock is a leftover");
        assert!(!young.exists() && live.path().exists());
        let path = live.path().to_path_buf();
        drop(live);
        assert!(!path.exists());
    }
}
