//! The output is written beside its path and renamed into place once
//! whole (no half-written output survives a failure), where ffmpeg alone
//! opens the path itself and writes through it. The two agree only for a
//! regular file (or none) that ffmpeg could open: a FIFO or device would be
//! replaced by a file, a symbolic or hard link broken, and a file ffmpeg
//! cannot open (read-only, a directory, a read-only filesystem) fails
//! ffmpeg at once, where the renamed output would fail only after the
//! whole encode, or not at all. [`check`] sends those to ffmpeg, which
//! writes through them or reports its own error.

use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

/// Why the output at `path` is not one dffmpeg writes as ffmpeg alone
/// would, if it is not.
pub fn check(path: &Path) -> Result<(), String> {
    // The finished output is renamed into place from a file beside it; a
    // file made there also says who dffmpeg runs as.
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let beside = tempfile::Builder::new()
        .prefix(".dffmpeg-check")
        .tempfile_in(dir)
        .map_err(|e| format!("the output's directory cannot be written ({e})"))?;
    let me = beside.as_file().metadata().map(|m| m.uid()).ok();
    match std::fs::symlink_metadata(path) {
        Ok(meta) => {
            let kind = meta.file_type();
            if kind.is_symlink() {
                return Err("the output is a symbolic link, which ffmpeg writes through".into());
            }
            if kind.is_dir() {
                return Err("the output is a directory".into());
            }
            if !kind.is_file() {
                return Err(
                    "the output is not a regular file (a FIFO, a device or a socket)".into()
                );
            }
            if meta.nlink() > 1 {
                return Err("the output has other hard links, which ffmpeg writes through".into());
            }
            if me != Some(meta.uid()) {
                return Err("the output belongs to another user, which ffmpeg keeps".into());
            }
            // ffmpeg opens it to write (truncating it); not truncated here.
            if let Err(e) = std::fs::OpenOptions::new().write(true).open(path) {
                return Err(format!("the output cannot be opened for writing ({e})"));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("the output cannot be examined ({e})")),
    }
}

/// Gives the finished output at `temp` the permissions of the file it is
/// about to replace at `output`, which ffmpeg alone keeps (it truncates the
/// file rather than replacing it).
pub fn keep_permissions(output: &Path, temp: &Path) {
    if let Ok(meta) = std::fs::metadata(output) {
        let _ = std::fs::set_permissions(temp, meta.permissions());
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn regular_files_and_new_names_are_written_as_ffmpeg_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.mkv");
        assert_eq!(check(&new), Ok(()));
        std::fs::write(&new, b"old").unwrap();
        assert_eq!(check(&new), Ok(()));
    }

    #[test]
    fn links_fifos_directories_and_closed_files_go_to_ffmpeg() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.mkv");
        std::fs::write(&target, b"old").unwrap();
        let link = dir.path().join("link.mkv");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(check(&link).unwrap_err().contains("symbolic link"));
        let hard = dir.path().join("hard.mkv");
        std::fs::hard_link(&target, &hard).unwrap();
        assert!(check(&hard).unwrap_err().contains("hard links"));
        assert!(check(dir.path()).unwrap_err().contains("directory"));
        let fifo = dir.path().join("fifo.mkv");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        assert!(check(&fifo).unwrap_err().contains("not a regular file"));
        let missing = dir.path().join("missing").join("out.mkv");
        assert!(check(&missing).unwrap_err().contains("directory cannot be written"));
    }

    #[test]
    fn the_replaced_files_permissions_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (output, temp) = (dir.path().join("out.mkv"), dir.path().join("out.part"));
        std::fs::write(&output, b"old").unwrap();
        std::fs::set_permissions(&output, std::fs::Permissions::from_mode(0o640)).unwrap();
        std::fs::write(&temp, b"new").unwrap();
        keep_permissions(&output, &temp);
        assert_eq!(std::fs::metadata(&temp).unwrap().permissions().mode() & 0o777, 0o640);
    }
}
