//! ffmpeg's signals: SIGINT (Ctrl-C) and SIGTERM stop an encode as `q`
//! does: ffmpeg 5.1 ends its transcode loop, writes the output's trailer
//! (a playable file of what it encoded) and exits 255, saying "Exiting
//! normally, received signal N.". dffmpeg does the same once the command is
//! certain to be distributed ([`Signals::encoding`]): the stop reaches
//! `dispatch` as `q` does (`keyboard::Stop`), the chunks from the start up
//! to the first unfinished one (at least the first) make the output, and
//! `main` exits 255. Before that (probing, the trial, the overwrite
//! question) there is no output yet: a signal ends the run at once, as it
//! does a second time during the encode, for a user who will not wait for
//! the first chunk (ffmpeg itself hard-exits only after a fourth), and at
//! SIGHUP (the terminal is gone).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;

/// A signal received, and how many have come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// The last signal's number.
    pub signal: i32,
    /// Signals received so far (`u32::MAX` after a hangup, which ends the
    /// run at once).
    pub count: u32,
}

/// SIGINT and SIGTERM, as they arrive.
#[derive(Debug, Clone)]
pub struct Signals {
    rx: watch::Receiver<Option<Received>>,
    encoding: Arc<AtomicBool>,
}

impl Signals {
    /// Takes over SIGINT and SIGTERM (on the current tokio runtime).
    pub fn listen() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let mut hangup = signal(SignalKind::hangup())?;
        let (tx, rx) = watch::channel(None);
        tokio::spawn(async move {
            let mut count = 0;
            loop {
                let signal = tokio::select! {
                    Some(()) = interrupt.recv() => libc::SIGINT,
                    Some(()) = terminate.recv() => libc::SIGTERM,
                    // The terminal is gone: end at once, as its default
                    // would, but through the runtime's end, which kills
                    // the children (in process groups of their own, the
                    // hangup does not reach them).
                    Some(()) = hangup.recv() => {
                        count += 1;
                        let _ = tx.send(Some(Received { signal: libc::SIGHUP, count: u32::MAX }));
                        continue;
                    }
                    else => return,
                };
                count += 1;
                tracing::info!(signal, count, "signal received");
                let _ = tx.send(Some(Received { signal, count }));
            }
        });
        Ok(Self { rx, encoding: Arc::new(AtomicBool::new(false)) })
    }

    /// The command is distributed from here on: a first signal stops the
    /// encode as `q` does; returns the receiver that says so.
    pub fn encoding(&self) -> watch::Receiver<Option<Received>> {
        self.encoding.store(true, Ordering::SeqCst);
        self.rx.clone()
    }

    /// Resolves when the run must end at once, with nothing written: a
    /// signal before the encode, or a second one during it.
    pub async fn abort(&mut self) {
        let encoding = self.encoding.clone();
        let now = |r: &Option<Received>| {
            r.is_some_and(|r| r.count >= 2 || !encoding.load(Ordering::SeqCst))
        };
        if self.rx.wait_for(now).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// The last signal received, if any.
    pub fn received(&self) -> Option<Received> {
        *self.rx.borrow()
    }
}
