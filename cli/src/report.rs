//! ffmpeg's `-report` and `FFREPORT`: a log file beside the console.
//!
//! ffmpeg 5.1 writes a report when `-report` is given or `FFREPORT` is set
//! (to anything, even empty). `FFREPORT` is `key=value` pairs joined by `:`:
//! `file` is the name's template (`%p` the program, `%t` the local time,
//! `%%` a percent sign; default `%p-%t.log`), `level` the report's log level
//! (default 48, debug). It announces the report at info level (`... started
//! on ...`, `Report written to "..."`, `Log level: N`), then writes the
//! command line, quoted as a shell reads it, and every message up to the
//! report's level.
//!
//! A distributed run writes the same file: the same header and command
//! line, then everything dffmpeg writes to standard error (the fd itself is
//! redirected through a pipe, so messages of any origin are caught), and
//! dffmpeg's own trace (chunks, nodes, transfers) up to the report's level.
//! Messages the console's level hides but the report's does not (the
//! banner, the stream mapping and the stats under `-v error`) are written to
//! the file alone (`unseen`, through `Console::print`). What the nodes'
//! ffmpegs log stays on the nodes, and no ffmpeg that dffmpeg starts
//! inherits `FFREPORT`: it would write its own log over this one. A report
//! is started only once the command is certain to be distributed; before
//! that, a fallback hands `-report` and `FFREPORT` to ffmpeg, which writes
//! its own.

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::os::fd::{FromRawFd as _, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;

/// ffmpeg's default report level: debug.
const DEFAULT_LEVEL: i32 = 48;

/// A report the command asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRequest {
    /// The file name's template (`%p`, `%t`, `%%`).
    pub template: String,
    /// The report's log level, as ffmpeg numbers levels.
    pub level: i32,
}

impl ReportRequest {
    /// The report `-report` (`flag`) and the `FFREPORT` variable (`env`)
    /// ask for, if any. The error is a value ffmpeg would refuse or read in
    /// a way not reproduced here: ffmpeg then runs, and says so itself.
    pub fn from(flag: bool, env: Option<&str>) -> Result<Option<Self>, String> {
        if !flag && env.is_none() {
            return Ok(None);
        }
        let mut request = Self { template: "%p-%t.log".to_string(), level: DEFAULT_LEVEL };
        for pair in env.unwrap_or_default().split(':').filter(|p| !p.is_empty()) {
            let unsupported = || format!("FFREPORT={} is left to ffmpeg", env.unwrap_or_default());
            let (key, value) = pair.split_once('=').ok_or_else(unsupported)?;
            // Escapes and quotes (av_get_token's) are ffmpeg's to read.
            if value.contains(['\\', '\'']) {
                return Err(unsupported());
            }
            match key {
                "file" => request.template = value.to_string(),
                "level" => request.level = value.parse().map_err(|_| unsupported())?,
                _ => return Err(unsupported()),
            }
        }
        if request.template.ends_with('%') && !request.template.ends_with("%%") {
            return Err(format!(
                "a report name ending in % ({}) is left to ffmpeg",
                request.template
            ));
        }
        Ok(Some(request))
    }

    /// The file name for a run that started at `time`, as ffmpeg expands it:
    /// unknown `%` sequences vanish.
    pub fn file_name(&self, time: &LocalTime) -> String {
        let mut name = String::new();
        let mut chars = self.template.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                name.push(c);
                continue;
            }
            match chars.next() {
                Some('p') => name.push_str("ffmpeg"),
                Some('t') => name.push_str(&time.compact()),
                Some('%') => name.push('%'),
                _ => {}
            }
        }
        name
    }
}

/// A wall-clock time in the local time zone, as ffmpeg prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    /// Year, month (1-12), day, hour, minute, second.
    pub fields: [i32; 6],
}

impl LocalTime {
    /// Now, in the local time zone.
    #[allow(unsafe_code)]
    pub fn now() -> Self {
        // SAFETY: time and localtime_r only write the values we own.
        unsafe {
            let now = libc::time(std::ptr::null_mut());
            let mut tm: libc::tm = std::mem::zeroed();
            libc::localtime_r(&now, &mut tm);
            Self {
                fields: [
                    tm.tm_year + 1900,
                    tm.tm_mon + 1,
                    tm.tm_mday,
                    tm.tm_hour,
                    tm.tm_min,
                    tm.tm_sec,
                ],
            }
        }
    }

    /// `YYYYMMDD-HHMMSS`, for `%t`.
    fn compact(&self) -> String {
        let [y, mo, d, h, mi, s] = self.fields;
        format!("{y:04}{mo:02}{d:02}-{h:02}{mi:02}{s:02}")
    }
}

/// One argument as ffmpeg's `dump_argument` writes it: bare when it is all
/// `+` to `:`, `@` to `Z`, `_` and `a` to `z`; else in double quotes with
/// `\ " $ \`` escaped and other bytes outside printable ASCII as `\xNN`.
pub fn quote(arg: &[u8]) -> String {
    let bare = |b: u8| matches!(b, b'+'..=b':' | b'@'..=b'Z' | b'_' | b'a'..=b'z');
    if arg.iter().all(|&b| bare(b)) {
        return String::from_utf8_lossy(arg).into_owned();
    }
    let mut out = String::from("\"");
    for &b in arg {
        match b {
            b'\\' | b'"' | b'$' | b'`' => {
                out.push('\\');
                out.push(b as char);
            }
            b' '..=b'~' => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// The running report: standard error's fd goes through a pipe to a thread
/// that writes both to the real standard error and to the file.
struct Active {
    /// The real standard error, put back at the end.
    saved: OwnedFd,
    /// Tells when the tee has written its last byte.
    drained: std::sync::mpsc::Receiver<()>,
}

static ACTIVE: Mutex<Option<Active>> = Mutex::new(None);
static FILE: Mutex<Option<Arc<Mutex<File>>>> = Mutex::new(None);
/// The report's level while one runs; -1 (nothing) otherwise.
static LEVEL: AtomicI32 = AtomicI32::new(-1);

/// Starts the report `request` asks for: the header on standard error (when
/// `announce`) and in the file, the command line `argv` in the file, then
/// everything standard error shows. Fails with ffmpeg's message if the file
/// cannot be created; ffmpeg then goes on without a report.
pub fn start(
    request: &ReportRequest,
    argv: &[OsString],
    started: &LocalTime,
    announce: bool,
) -> anyhow::Result<PathBuf> {
    let name = request.file_name(started);
    let mut file = File::create(&name).map_err(|error| {
        // ffmpeg's words: av_err2str's text, without Rust's "(os error N)".
        let text = error.to_string();
        let text = text.split(" (os error").next().unwrap_or_default().to_string();
        anyhow::anyhow!("Failed to open report \"{name}\": {text}")
    })?;
    let [y, mo, d, h, mi, s] = started.fields;
    let header = format!(
        "ffmpeg started on {y:04}-{mo:02}-{d:02} at {h:02}:{mi:02}:{s:02}\nReport written to \"{name}\"\nLog level: {}\n",
        request.level
    );
    let mut command = String::from("Command line:\n");
    let quoted: Vec<String> =
        argv.iter().map(|a| quote(std::os::unix::ffi::OsStrExt::as_bytes(a.as_os_str()))).collect();
    command.push_str(&quoted.join(" "));
    command.push('\n');
    file.write_all(header.as_bytes())
        .and_then(|()| file.write_all(command.as_bytes()))
        .with_context(|| format!("writing the report {name}"))?;
    if announce {
        crate::console::stderr(&header);
    }
    let file = Arc::new(Mutex::new(file));
    let (saved, drained) =
        tee_stderr(file.clone()).context("sending standard error to the report")?;
    *FILE.lock().unwrap_or_else(|p| p.into_inner()) = Some(file);
    *ACTIVE.lock().unwrap_or_else(|p| p.into_inner()) = Some(Active { saved, drained });
    LEVEL.store(request.level, Ordering::Relaxed);
    Ok(PathBuf::from(name))
}

/// Ends the report, if one runs: standard error is the real one again, and
/// the file holds everything written before. Safe to call at any time.
#[allow(unsafe_code)]
pub fn finish() {
    LEVEL.store(-1, Ordering::Relaxed);
    let Some(active) = ACTIVE.lock().unwrap_or_else(|p| p.into_inner()).take() else { return };
    // SAFETY: dup2 onto fd 2 closes our pipe's write end there; `saved` is
    // an fd we own and keep open.
    unsafe {
        libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&active.saved), 2);
    }
    // A child that inherited the pipe keeps it open; do not wait for it.
    let _ = active.drained.recv_timeout(Duration::from_secs(2));
    *FILE.lock().unwrap_or_else(|p| p.into_inner()) = None;
}

/// Redirects fd 2 into a pipe whose reader copies to the old fd 2 and to
/// `file`; returns the old fd 2 and a receiver that fires at end of pipe.
#[allow(unsafe_code)]
fn tee_stderr(file: Arc<Mutex<File>>) -> std::io::Result<(OwnedFd, std::sync::mpsc::Receiver<()>)> {
    let mut fds = [0; 2];
    // SAFETY: pipe, dup and dup2 only create and rebind fds; each fd created
    // here is owned exactly once (OwnedFd, File) or closed by dup2.
    let (read_end, saved, console) = unsafe {
        if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let read_end = File::from_raw_fd(fds[0]);
        let write_end = OwnedFd::from_raw_fd(fds[1]);
        let saved = libc::fcntl(2, libc::F_DUPFD_CLOEXEC, 3);
        if saved < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let saved = OwnedFd::from_raw_fd(saved);
        let console = libc::fcntl(2, libc::F_DUPFD_CLOEXEC, 3);
        if console < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let console = File::from_raw_fd(console);
        if libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&write_end), 2) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        (read_end, saved, console)
    };
    let (done, drained) = std::sync::mpsc::channel();
    std::thread::Builder::new().name("report".into()).spawn(move || {
        let (mut read_end, mut console) = (read_end, console);
        let mut buf = [0u8; 8192];
        while let Ok(n @ 1..) = read_end.read(&mut buf) {
            // The console may be gone (a closed pipe): the report goes on.
            let _ = console.write_all(&buf[..n]);
            let _ = file.lock().unwrap_or_else(|p| p.into_inner()).write_all(&buf[..n]);
        }
        let _ = done.send(());
    })?;
    Ok((saved, drained))
}

/// The `tracing` level the report records, from ffmpeg's level number.
fn trace_level(level: i32) -> Option<tracing::Level> {
    Some(match level {
        56.. => tracing::Level::TRACE,
        48.. => tracing::Level::DEBUG,
        40.. => tracing::Level::INFO,
        24.. => tracing::Level::WARN,
        16.. => tracing::Level::ERROR,
        _ => return None,
    })
}

/// Crates whose trace a report records: dffmpeg's own, not its libraries'
/// (h2 alone logs every HTTP/2 frame at debug level).
const OWN_CRATES: &[&str] = &["cli", "dffmpeg", "node", "dffmpeg_node", "proto"];

/// True for dffmpeg's own events and spans, the only ones a report may
/// record: as a callsite filter it leaves every library's callsite (h2's
/// per-frame ones) disabled once and for all, not asked at every event.
pub fn may_record(meta: &tracing::Metadata<'_>) -> bool {
    OWN_CRATES.contains(&meta.target().split("::").next().unwrap_or_default())
}

/// True when a running report records this event or span.
pub fn records(meta: &tracing::Metadata<'_>) -> bool {
    may_record(meta)
        && trace_level(LEVEL.load(Ordering::Relaxed)).is_some_and(|max| *meta.level() <= max)
}

/// True when a running report records messages of ffmpeg's `level`.
fn records_level(level: i32) -> bool {
    LEVEL.load(Ordering::Relaxed) >= level
}

/// Writes `text`, a message of `level` that the console does not show, into
/// the running report if it records that level. ffmpeg's log callback
/// writes every message to its report whatever the console's level, so
/// `-v error -report` still finds the banner, the stream mapping and the
/// stats in the file.
pub fn unseen(level: i32, text: &str) {
    if !records_level(level) {
        return;
    }
    if let Some(file) = FILE.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
        let _ = file.lock().unwrap_or_else(|p| p.into_inner()).write_all(text.as_bytes());
    }
}

/// A `tracing` writer into the running report (nothing when none runs).
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceWriter;

impl std::io::Write for TraceWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Some(file) = FILE.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            file.lock().unwrap_or_else(|p| p.into_inner()).write_all(bytes)?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for TraceWriter {
    type Writer = TraceWriter;

    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_and_variable_as_ffmpeg_reads_them() {
        assert_eq!(ReportRequest::from(false, None), Ok(None));
        let default = ReportRequest { template: "%p-%t.log".into(), level: 48 };
        assert_eq!(ReportRequest::from(true, None), Ok(Some(default.clone())));
        // Set but empty is a report with the defaults, -report or not.
        assert_eq!(ReportRequest::from(false, Some("")), Ok(Some(default)));
        let custom = ReportRequest::from(false, Some("file=my-%t.log:level=32")).unwrap().unwrap();
        assert_eq!((custom.template.as_str(), custom.level), ("my-%t.log", 32));
        assert!(ReportRequest::from(true, Some("level=loud")).is_err());
        assert!(ReportRequest::from(true, Some("colour=red")).is_err());
        assert!(ReportRequest::from(true, Some("file=a\\:b")).is_err());
    }

    #[test]
    fn names_expand_as_ffmpeg_expands_them() {
        let time = LocalTime { fields: [2026, 12, 1, 9, 5, 7] };
        let request = |t: &str| ReportRequest { template: t.into(), level: 48 };
        assert_eq!(request("%p-%t.log").file_name(&time), "ffmpeg-20261201-090507.log");
        assert_eq!(request("100%%-%x.log").file_name(&time), "100%-.log");
    }

    #[test]
    fn arguments_are_quoted_as_dump_argument_quotes_them() {
        assert_eq!(quote(b"-c:v"), "-c:v");
        assert_eq!(quote(b"/tmp/out.mkv"), "/tmp/out.mkv");
        assert_eq!(quote(b"testsrc2=d=1"), "\"testsrc2=d=1\"");
        assert_eq!(quote(b"a b\"$\\"), "\"a b\\\"\\$\\\\\"");
        assert_eq!(quote("é".as_bytes()), "\"\\xc3\\xa9\"");
    }
}
