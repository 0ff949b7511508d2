//! ffmpeg's keyboard interaction during an encode: `q` on standard input
//! stops it, and the output keeps what was encoded so far.
//!
//! ffmpeg 5.1 reads standard input a byte at a time while it encodes, unless
//! `-nostdin` is given or an input reads standard input, whether stdin is a
//! terminal or not: programs stop a recording by writing `q` to its pipe. On
//! a terminal it turns off line buffering and echo first, as `term_init`
//! does (signals stay on, so Ctrl-C still interrupts), and restores the
//! terminal when it ends. Of ffmpeg's other keys, which tune its own logging
//! and filters, none has a meaning for a distributed encode; they are read
//! and ignored.
//!
//! Listening starts only once a command is certain to be distributed, after
//! the overwrite question: a command that falls back to ffmpeg must find
//! every byte of its standard input unread.

use std::io::Read as _;

use tokio::sync::watch;

/// What ffmpeg prints when `q` arrives, at info level.
pub const STOP_MESSAGE: &str = "\n\n[q] command received. Exiting.\n\n";

/// What ffmpeg prints before it encodes, when it reads the keyboard.
pub const PRESS_Q: &str = "Press [q] to stop, [?] for help\n";

/// Listens to standard input for `q` until dropped.
#[derive(Debug)]
pub struct Keyboard {
    stop: watch::Receiver<bool>,
    _terminal: Option<TerminalMode>,
}

impl Keyboard {
    /// Starts reading standard input on a thread of its own; ffmpeg's
    /// message when `q` arrives is logged through `console` at info level.
    pub fn listen(console: crate::console::Console) -> Self {
        let (tx, stop) = watch::channel(false);
        let terminal = TerminalMode::keys_without_echo();
        let spawned = std::thread::Builder::new().name("keyboard".into()).spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut byte = [0u8; 1];
            // End of input or an error ends the listening, not the encode.
            while let Ok(1) = stdin.read(&mut byte) {
                if byte[0] == b'q' {
                    console.print(crate::console::level::INFO, STOP_MESSAGE);
                    tracing::info!("q on standard input: stopping the encode");
                    let _ = tx.send(true);
                    return;
                }
            }
        });
        if let Err(error) = spawned {
            tracing::warn!(%error, "no keyboard interaction: the thread did not start");
        }
        Self { stop, _terminal: terminal }
    }

    /// A receiver that turns true when `q` arrived.
    pub fn stop(&self) -> Stop {
        Stop { keyboard: Some(self.stop.clone()), signals: None }
    }
}

/// Whether the user asked the encode to stop: `q`, or a signal once the
/// encode began (`interrupt`); [`Stop::never`] for runs that read neither.
#[derive(Debug, Clone)]
pub struct Stop {
    keyboard: Option<watch::Receiver<bool>>,
    signals: Option<watch::Receiver<Option<crate::interrupt::Received>>>,
}

impl Stop {
    /// A stop that never comes.
    pub fn never() -> Self {
        Self { keyboard: None, signals: None }
    }

    /// This stop, or a signal's (`interrupt::Signals::encoding`).
    pub fn or_signal(
        mut self,
        signals: watch::Receiver<Option<crate::interrupt::Received>>,
    ) -> Self {
        self.signals = Some(signals);
        self
    }

    /// True once `q` or a signal arrived.
    pub fn requested(&self) -> bool {
        self.keyboard.as_ref().is_some_and(|rx| *rx.borrow())
            || self.signals.as_ref().is_some_and(|rx| rx.borrow().is_some())
    }

    /// Resolves when `q` or a signal arrives; never, if neither can any more.
    pub async fn wait(&mut self) {
        let keyboard = async {
            let came = match &mut self.keyboard {
                Some(rx) => rx.wait_for(|stop| *stop).await.is_ok(),
                None => false,
            };
            if !came {
                std::future::pending::<()>().await;
            }
        };
        let signals = async {
            let came = match &mut self.signals {
                Some(rx) => rx.wait_for(Option::is_some).await.is_ok(),
                None => false,
            };
            if !came {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            () = keyboard => {}
            () = signals => {}
        }
    }
}

/// A terminal on standard input, switched to ffmpeg's key-at-a-time mode
/// and switched back when dropped.
#[derive(Debug)]
struct TerminalMode {
    saved: libc::termios,
}

impl TerminalMode {
    /// `None` when standard input is not a terminal or cannot be switched.
    #[allow(unsafe_code)]
    fn keys_without_echo() -> Option<Self> {
        // SAFETY: isatty, tcgetattr and tcsetattr only read and write the
        // termios struct we own; fd 0 stays open for the process's life.
        unsafe {
            if libc::isatty(0) != 1 {
                return None;
            }
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut saved) != 0 {
                return None;
            }
            let mut keys = saved;
            // ffmpeg 5.1's term_init, flag for flag.
            keys.c_iflag &= !(libc::IGNBRK
                | libc::BRKINT
                | libc::PARMRK
                | libc::ISTRIP
                | libc::INLCR
                | libc::IGNCR
                | libc::ICRNL
                | libc::IXON);
            keys.c_oflag |= libc::OPOST;
            keys.c_lflag &= !(libc::ECHO | libc::ECHONL | libc::ICANON | libc::IEXTEN);
            keys.c_cflag &= !(libc::CSIZE | libc::PARENB);
            keys.c_cflag |= libc::CS8;
            keys.c_cc[libc::VMIN] = 1;
            keys.c_cc[libc::VTIME] = 0;
            if libc::tcsetattr(0, libc::TCSANOW, &keys) != 0 {
                return None;
            }
            Some(Self { saved })
        }
    }
}

impl Drop for TerminalMode {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: as above; restores the attributes read at the start.
        unsafe {
            libc::tcsetattr(0, libc::TCSANOW, &self.saved);
        }
    }
}
