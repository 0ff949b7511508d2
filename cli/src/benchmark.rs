//! ffmpeg's `-benchmark` lines, for a distributed run:
//!
//! ```text
//! bench: utime=0.645s stime=0.045s rtime=1.012s
//! bench: maxrss=70696kB
//! ```
//!
//! As in ffmpeg 5.1, the times and the peak resident memory are this
//! process's own (`getrusage(RUSAGE_SELF)`): dffmpeg's coordination, with the
//! embedded node when it runs one, but not the ffmpegs it starts. The peak
//! memory is what `bench/memory.sh` reads.

use std::time::Duration;

/// CPU time and peak memory of this process so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Time spent in user mode.
    pub user: Duration,
    /// Time spent in the kernel.
    pub system: Duration,
    /// Peak resident set size, in kB.
    pub max_rss_kb: u64,
}

/// This process's usage, or `None` where the system does not say.
pub fn usage() -> Option<Usage> {
    let mut raw = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    #[allow(unsafe_code)]
    // SAFETY: getrusage writes one `rusage` into the pointer it is given,
    // which points at a zeroed one of ours; it is read only on success.
    let usage = unsafe {
        if libc::getrusage(libc::RUSAGE_SELF, raw.as_mut_ptr()) != 0 {
            return None;
        }
        raw.assume_init()
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    Some(Usage {
        user: time(usage.ru_utime),
        system: time(usage.ru_stime),
        // Linux counts ru_maxrss in kilobytes.
        max_rss_kb: usage.ru_maxrss.max(0) as u64,
    })
}

/// The two lines, for a run that took `real` from its start.
pub fn lines(usage: &Usage, real: Duration) -> String {
    format!(
        "bench: utime={:.3}s stime={:.3}s rtime={:.3}s\nbench: maxrss={}kB\n",
        usage.user.as_secs_f64(),
        usage.system.as_secs_f64(),
        real.as_secs_f64(),
        usage.max_rss_kb
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ffmpegs_format() {
        let usage = Usage {
            user: Duration::from_millis(645),
            system: Duration::from_millis(45),
            max_rss_kb: 70696,
        };
        assert_eq!(
            lines(&usage, Duration::from_millis(1012)),
            "bench: utime=0.645s stime=0.045s rtime=1.012s\nbench: maxrss=70696kB\n"
        );
    }

    #[test]
    fn reads_this_processs_own_figures() {
        let before = usage().unwrap();
        assert!(before.max_rss_kb > 1000, "{before:?}");
        let cpu = |u: Usage| u.user + u.system;
        let started = std::time::Instant::now();
        let mut spin = 0u64;
        while cpu(usage().unwrap()) < cpu(before) + Duration::from_millis(50)
            && started.elapsed() < Duration::from_secs(20)
        {
            spin = std::hint::black_box(spin.wrapping_add(1));
        }
        assert!(cpu(usage().unwrap()) >= cpu(before) + Duration::from_millis(50));
    }
}
