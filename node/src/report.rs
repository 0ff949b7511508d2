//! The node's self-description: capacity and load measured with sysinfo.

use std::sync::Mutex;

use proto::v1::ReportResponse;
use sysinfo::System;

/// Keeps one sysinfo handle, so CPU usage is measured between two reports.
#[derive(Debug)]
pub struct Reporter {
    system: Mutex<System>,
    ffmpeg_version: String,
    encoders: Vec<String>,
}

impl Reporter {
    /// Starts measuring.
    pub fn new(ffmpeg_version: String, encoders: Vec<String>) -> Self {
        let mut system = System::new();
        system.refresh_cpu_usage();
        system.refresh_memory();
        Self { system: Mutex::new(system), ffmpeg_version, encoders }
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
        let load = System::load_average();
        ReportResponse {
            node_version: env!("CARGO_PKG_VERSION").to_string(),
            cpu_count: system.cpus().len().max(1) as u32,
            load_1: load.one,
            load_5: load.five,
            load_15: load.fifteen,
            cpu_usage: f64::from(system.global_cpu_usage()),
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
