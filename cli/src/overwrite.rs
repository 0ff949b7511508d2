//! ffmpeg's rule for an output that already exists (`assert_file_overwrite`
//! in ffmpeg 5.1): `-y` overwrites, `-n` refuses, and otherwise ffmpeg asks on
//! stdin, or refuses when stdin is not for it (`-nostdin`).

use std::io::{BufRead as _, Write as _};
use std::path::Path;

use crate::job::Overwrite;

/// Why the output is not written; printed as is, then exit 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// `-n`, or no stdin to ask on.
    #[error("File '{0}' already exists. Exiting.")]
    Exists(String),
    /// The user did not answer y.
    #[error("Not overwriting - exiting")]
    Declined,
}

/// Decides, asking on stdin if ffmpeg would, whether `output` may be written.
pub fn confirm(output: &Path, overwrite: Overwrite, interactive: bool) -> Result<(), Refusal> {
    if overwrite == Overwrite::Yes || !output.exists() {
        return Ok(());
    }
    let name = output.to_string_lossy().into_owned();
    if overwrite == Overwrite::No || !interactive {
        return Err(Refusal::Exists(name));
    }
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "File '{name}' already exists. Overwrite? [y/N] ");
    let _ = err.flush();
    drop(err);
    let mut answer = String::new();
    // ffmpeg's read_yesno: the first character decides; EOF is no.
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if answer.starts_with(['y', 'Y']) { Ok(()) } else { Err(Refusal::Declined) }
}
