//! The coordinator behind `dffmpeg`, as a library so that tests and
//! benchmarks reach the same code the binary runs.
//!
//! Data flow: `settings` and `args` read the command line, `route` decides
//! between distributing and running ffmpeg, `spool` makes a pipe or a lavfi
//! graph into a file that can be read again, `probe` and `timeline` find the
//! frames, `policy` and `plan` cut them into chunks, `split` cuts chunk
//! inputs, `dispatch` runs them on nodes through `remote` by the rules of
//! `schedule`, and `assemble`
//! writes the output. `local` is the only module that starts processes.

pub mod args;
pub mod assemble;
pub mod autorotate;
pub mod benchmark;
pub mod concat_list;
pub mod console;
pub mod counted_rate;
pub mod dispatch;
pub mod distribute;
pub mod drawtext;
pub mod embedded;
pub mod fade;
pub mod filter_files;
pub mod filter_options;
pub mod fontconfig;
pub mod forced;
pub mod graph;
pub mod guessed_layout;
pub mod image_sequence;
pub mod interrupt;
pub mod job;
pub mod job_context;
pub mod keyboard;
pub mod local;
pub mod output_file;
pub mod overlay_image;
pub mod overwrite;
pub mod plan;
pub mod policy;
pub mod probe;
pub mod progress;
pub mod remote;
pub mod report;
pub mod resume;
pub mod retime;
pub mod route;
pub mod scenes;
pub mod schedule;
pub mod segmented;
pub mod settings;
pub mod split;
pub mod spool;
pub mod stats;
pub mod streams;
pub mod subtitle_events;
pub mod subtitle_fonts;
pub mod summary;
pub mod time_expr;
pub mod timed_overlay;
pub mod timeline;
pub mod trial;
pub mod vsync;
