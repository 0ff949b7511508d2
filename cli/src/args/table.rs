//! ffmpeg 5.1's option table, as far as the tokenizer needs it: how many
//! values an option takes and whether it is global or per-file.

/// How many tokens follow an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// A boolean or flag: `-y`, `-nostats`.
    None,
    /// One value, taken verbatim even if it starts with a dash.
    One,
    /// Help and version options: swallow the next token whatever it is, then exit.
    Exit,
}

/// Where an option applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The whole run.
    Global,
    /// The next input or output file.
    PerFile,
}

/// Options without a value.
const FLAGS_PER_FILE: &[&str] = &[
    "an",
    "vn",
    "sn",
    "dn",
    "shortest",
    "re",
    "accurate_seek",
    "noaccurate_seek",
    "autorotate",
    "noautorotate",
    "autoscale",
    "noautoscale",
    "bitexact",
    "copyinkf",
    "psnr",
    "fix_sub_duration",
    "find_stream_info",
    "nofind_stream_info",
    "apad",
];
const FLAGS_GLOBAL: &[&str] = &[
    "y",
    "n",
    "hide_banner",
    "stdin",
    "nostdin",
    "stats",
    "nostats",
    "copyts",
    "nocopyts",
    "start_at_zero",
    "xerror",
    "benchmark",
    "benchmark_all",
    "debug_ts",
    "dump",
    "hex",
    "ignore_unknown",
    "copy_unknown",
    "recast_media",
    "report",
    "qphist",
    "vstats",
    "abort_on",
    "nohide_banner",
];
const EXIT: &[&str] = &[
    "h",
    "?",
    "help",
    "-help",
    "version",
    "buildconf",
    "formats",
    "muxers",
    "demuxers",
    "devices",
    "codecs",
    "decoders",
    "encoders",
    "bsfs",
    "protocols",
    "filters",
    "pix_fmts",
    "layouts",
    "sample_fmts",
    "colors",
    "hwaccels",
    "dispositions",
    "sources",
    "sinks",
    "L",
];
/// Global options with one value.
const GLOBAL_WITH_VALUE: &[&str] = &[
    "loglevel",
    "v",
    "progress",
    "stats_period",
    "filter_complex",
    "lavfi",
    "filter_complex_script",
    "filter_threads",
    "filter_complex_threads",
    "threads_global",
    "init_hw_device",
    "filter_hw_device",
    "vaapi_device",
    "max_error_rate",
    "sdp_file",
    "timelimit",
    "cpuflags",
    "cpucount",
    "max_alloc",
    "report_file",
    "vsync",
    "async",
    "adrift_threshold",
    "dts_delta_threshold",
    "dts_error_threshold",
    "frame_drop_threshold",
    "stats_enc_pre",
];

/// The table entry for `name` (without its stream specifier), or `None` for an
/// AVOption, which takes one value.
pub fn lookup(name: &str) -> Option<(Arity, Scope)> {
    if EXIT.contains(&name) {
        Some((Arity::Exit, Scope::Global))
    } else if FLAGS_GLOBAL.contains(&name) {
        Some((Arity::None, Scope::Global))
    } else if FLAGS_PER_FILE.contains(&name) {
        Some((Arity::None, Scope::PerFile))
    } else if GLOBAL_WITH_VALUE.contains(&name) {
        Some((Arity::One, Scope::Global))
    } else {
        None
    }
}
