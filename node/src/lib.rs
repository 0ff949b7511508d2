//! The dffmpeg worker node as a library.
//!
//! `dffmpeg-node` wraps it in a binary; `dffmpeg` embeds it in-process when no
//! nodes are configured, so both run the very same service code.

pub mod admission;
pub mod auth;
pub mod av_token;
pub mod config;
pub mod decode_damage;
pub mod drawtext;
pub mod error;
pub mod ffmpeg;
pub mod fonts_conf;
pub mod frame_map;
pub mod malloc;
pub mod output_start;
pub mod pieces;
pub mod progress;
pub mod report;
pub mod rescale;
pub mod server;
pub mod service;
pub mod spec;
pub mod timecode;
pub mod workdir;

pub use config::NodeConfig;
pub use server::{RunningNode, serve};
