//! ffmpeg's option table, as far as its command-line splitter needs it: how
//! many values an option takes, where it may stand, and whether `-no<name>`
//! negates it.
//!
//! The 5.1 table is generated from the installed ffmpeg by
//! `scripts/gen-option-table.py`. Options that 6.x and 7.x added are accepted
//! too (they are listed in [`LATER_VERSIONS`]), so that a command written for a
//! newer ffmpeg parses; such a command is never distributed, and the real
//! ffmpeg decides whether it knows the option.

use super::ffmpeg51::FFMPEG_5_1;

/// How many tokens follow an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// A flag: `-y`, `-an`.
    None,
    /// One value, taken verbatim even if it starts with a dash.
    One,
    /// Help and version options: take the next token if there is one, then exit.
    Exit,
}

/// Where an option applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The whole run, wherever it stands.
    Global,
    /// Only the next input (`-re`, `-itsoffset`).
    Input,
    /// Only the next output (`-map`, `-vf`).
    Output,
    /// The next input or output (`-c`, `-ss`).
    File,
}

/// One option of ffmpeg's own table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The name without the dash.
    pub name: &'static str,
    /// How many tokens follow it.
    pub arity: Arity,
    /// Where it applies.
    pub scope: Scope,
    /// OPT_BOOL: `-no<name>` sets it to 0.
    pub boolean: bool,
}

impl Entry {
    /// True when the option may precede an input (`input`) or an output.
    pub fn applies_to(&self, input: bool) -> bool {
        match self.scope {
            Scope::Global | Scope::File => true,
            Scope::Input => input,
            Scope::Output => !input,
        }
    }
}

const fn entry(name: &'static str, arity: Arity, scope: Scope, boolean: bool) -> Entry {
    Entry { name, arity, scope, boolean }
}

/// Options added by ffmpeg 6.0 to 7.1 that 5.1 lacks. ffmpeg 7 also deprecates
/// `-vsync` in favour of `-fps_mode` (both exist in 5.1 and are in its table).
pub const LATER_VERSIONS: &[Entry] = &[
    entry("stats_enc_pre", Arity::One, Scope::Output, false),
    entry("stats_enc_post", Arity::One, Scope::Output, false),
    entry("stats_mux_pre", Arity::One, Scope::Output, false),
    entry("stats_enc_pre_fmt", Arity::One, Scope::Output, false),
    entry("stats_enc_post_fmt", Arity::One, Scope::Output, false),
    entry("stats_mux_pre_fmt", Arity::One, Scope::Output, false),
    entry("fix_sub_duration_heartbeat", Arity::None, Scope::Output, true),
    entry("readrate_initial_burst", Arity::One, Scope::Input, false),
    entry("display_rotation", Arity::One, Scope::Input, false),
    entry("display_hflip", Arity::None, Scope::Input, true),
    entry("display_vflip", Arity::None, Scope::Input, true),
    entry("stream_group", Arity::One, Scope::Output, false),
    entry("apply_cropping", Arity::One, Scope::Input, false),
    entry("print_graphs", Arity::None, Scope::Global, true),
    entry("print_graphs_file", Arity::One, Scope::Global, false),
    entry("print_graphs_format", Arity::One, Scope::Global, false),
];

/// The table entry for `name` (without its stream specifier), or `None` for an
/// AVOption (a codec, format or muxer option), which takes one value.
pub fn lookup(name: &str) -> Option<&'static Entry> {
    FFMPEG_5_1.iter().chain(LATER_VERSIONS).find(|e| e.name == name)
}

/// True for options that 5.1 does not know.
pub fn is_later_version(name: &str) -> bool {
    !FFMPEG_5_1.iter().any(|e| e.name == name) && LATER_VERSIONS.iter().any(|e| e.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_table_has_what_the_splitter_relies_on() {
        let y = lookup("y").unwrap();
        assert_eq!((y.arity, y.scope, y.boolean), (Arity::None, Scope::Global, true));
        // ffmpeg 5.1 quirks the old hand-written table got wrong.
        assert_eq!(lookup("apad").unwrap().arity, Arity::One);
        assert_eq!(lookup("autorotate").unwrap().arity, Arity::One);
        assert_eq!(lookup("psnr").unwrap().scope, Scope::Global);
        assert_eq!(lookup("re").unwrap().scope, Scope::Input);
        assert_eq!(lookup("map").unwrap().scope, Scope::Output);
        assert_eq!(lookup("h").unwrap().arity, Arity::Exit);
        assert!(lookup("crf").is_none(), "AVOptions are not in the table");
        assert!(is_later_version("stats_enc_pre") && !is_later_version("fps_mode"));
    }
}
