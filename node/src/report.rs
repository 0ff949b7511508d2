//! The node's self-description: capacity and load measured with sysinfo.
//!
//! CPU figures describe what a scheduler can use: only the CPUs this process
//! may run on (a node pinned with `taskset` or in a cpuset shares a machine),
//! and only the load of other programs: the node's own encodes (its child
//! processes) are left out, since the coordinator already counts the slots
//! it fills.

use std::sync::Mutex;

use proto::v1::ReportResponse;
use sysinfo::System;

/// Keeps one sysinfo handle, so CPU usage is measured between two reports.
#[derive(Debug)]
pub struct Reporter {
    system: Mutex<System>,
    /// The node's own CPU time (its process and its ffmpegs) at the last report.
    own: Mutex<Option<(std::time::Instant, f64)>>,
    ffmpeg_version: String,
    encoders: Vec<String>,
}

impl Reporter {
    /// Starts measuring.
    pub fn new(ffmpeg_version: String, encoders: Vec<String>) -> Self {
        let mut system = System::new();
        system.refresh_cpu_usage();
        system.refresh_memory();
        let own = Mutex::new(own_cpu_seconds().map(|s| (std::time::Instant::now(), s)));
        Self { system: Mutex::new(system), own, ffmpeg_version, encoders }
    }

    /// Encoders this node's ffmpeg has.
    pub fn encoders(&self) -> &[String] {
        &self.encoders
    }

    /// A fresh report, with the slot figures the service supplies.
    pub fn report(&self, slots_total: u32, slots_busy: u32, recent_fps: f64) -> ReportResponse {
        let mut system = self.system.lock().unwrap_or_else(|p| p.into_inner());
        system.refresh_cpu_usage();
        system.refresh_memory();
        // Percent of one CPU that the node itself used since the last report.
        let mut own = self.own.lock().unwrap_or_else(|p| p.into_inner());
        let now = own_cpu_seconds().map(|s| (std::time::Instant::now(), s));
        let own_usage = match (*own, now) {
            (Some((then, before)), Some((at, after))) => {
                let wall = at.duration_since(then).as_secs_f64();
                if wall > 0.0 { (after - before).max(0.0) / wall * 100.0 } else { 0.0 }
            }
            _ => 0.0,
        };
        *own = now;
        drop(own);
        let load = System::load_average();
        let all: Vec<usize> = (0..system.cpus().len()).collect();
        let allowed = allowed_cpus().filter(|c| !c.is_empty()).unwrap_or(all);
        // sysinfo lists online CPUs by name (`cpu3`), not by kernel id.
        let usage: f64 = system
            .cpus()
            .iter()
            .enumerate()
            .filter(|(i, cpu)| {
                let id = cpu.name().strip_prefix("cpu").and_then(|n| n.parse().ok());
                allowed.contains(&id.unwrap_or(*i))
            })
            .map(|(_, cpu)| f64::from(cpu.cpu_usage()))
            .sum();
        let cpus = allowed.len().max(1) as f64;
        let others = (usage - own_usage).max(0.0) / cpus;
        ReportResponse {
            node_version: env!("CARGO_PKG_VERSION").to_string(),
            cpu_count: allowed.len().max(1) as u32,
            load_1: load.one,
            load_5: load.five,
            load_15: load.fifteen,
            cpu_usage: others.min(100.0),
            memory_total: system.total_memory(),
            memory_available: system.available_memory(),
            slots_total,
            slots_busy,
            ffmpeg_version: self.ffmpeg_version.clone(),
            encoders: self.encoders.clone(),
            recent_fps,
        }
    }
}

/// CPU time, in seconds, of this process and its children, running or
/// finished: the node's gRPC server and its ffmpegs (for an embedded node,
/// the coordinator's too). Chunks may start and end between two reports, so
/// this counts what finished children used as well (`cutime`/`cstime`),
/// which per-process sampling misses. `None` without `/proc`.
fn own_cpu_seconds() -> Option<f64> {
    let me = std::process::id();
    let (mut ticks, _) = stat_times(&format!("/proc/{me}/stat"), true)?;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        if pid == me {
            continue;
        }
        if let Some((child, parent)) = stat_times(&format!("/proc/{pid}/stat"), false)
            && parent == me
        {
            ticks += child;
        }
    }
    Some(ticks as f64 / clock_ticks_per_second())
}

/// `utime + stime` (and, with `with_children`, `cutime + cstime`) in clock
/// ticks, and the parent pid, from a `/proc/PID/stat` line.
fn stat_times(path: &str, with_children: bool) -> Option<(u64, u32)> {
    let text = std::fs::read_to_string(path).ok()?;
    // The command name may hold spaces and parentheses: fields follow the last ')'.
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    let parent = field(4)? as u32;
    let mut ticks = field(14)? + field(15)?;
    if with_children {
        ticks += field(16)? + field(17)?;
    }
    Some((ticks, parent))
}

#[allow(unsafe_code)]
fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// The CPUs this process may run on (`sched_getaffinity`), by index.
#[allow(unsafe_code)]
fn allowed_cpus() -> Option<Vec<usize>> {
    // SAFETY: `set` is a plain bitmask that sched_getaffinity fills for the
    // calling thread; the size passed is its own size.
    let set = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return None;
        }
        set
    };
    let count = libc::CPU_SETSIZE as usize;
    // SAFETY: CPU_ISSET only reads the mask, for indices below CPU_SETSIZE.
    Some((0..count).filter(|&i| unsafe { libc::CPU_ISSET(i, &set) }).collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn own_cpu_time_counts_finished_children() {
        let before = super::own_cpu_seconds().unwrap();
        // A child that burns CPU and is gone before the next sample.
        let status = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"])
            .status()
            .unwrap();
        assert!(status.success());
        let after = super::own_cpu_seconds().unwrap();
        assert!(after - before > 0.05, "{before} -> {after}");
    }

    #[test]
    fn this_process_may_run_somewhere() {
        // std's count honours the affinity mask too (and may be lower under
        // a CPU quota).
        let cpus = super::allowed_cpus().unwrap();
        assert!(cpus.len() >= std::thread::available_parallelism().unwrap().get(), "{cpus:?}");
    }
}
