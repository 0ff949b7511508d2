//! The parsed command: options with their positions, grouped into files.

use super::stream_spec::{SpecError, StreamSpec, parse_stream_spec};
use super::table::{Arity, Scope, lookup};
use super::token::parse_option_token;

/// How ffmpeg's splitter matched an option token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptKind {
    /// An option of ffmpeg's own table.
    Table,
    /// `-no<name>` for a boolean table option: sets it to 0.
    Negated,
    /// Anything else with a value: a codec, format or muxer AVOption (ffmpeg
    /// checks the name when it opens the file; we never need to).
    AvOption,
}

/// One option as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opt {
    /// Name without the dash, the `no` of a negated boolean and the stream
    /// specifier: `c` for `-c:v`, `stats` for `-nostats`.
    pub name: String,
    /// How it was matched.
    pub kind: OptKind,
    /// The stream specifier after the first colon, if any.
    pub spec: Option<String>,
    /// The value token, if the option takes one.
    pub value: Option<String>,
    /// Position of the option token in argv (after argv\[0\]).
    pub position: usize,
}

impl Opt {
    /// The option as written: `-c:v`, `-nostats`.
    pub fn flag(&self) -> String {
        let no = if self.kind == OptKind::Negated { "no" } else { "" };
        match &self.spec {
            Some(spec) => format!("-{no}{}:{spec}", self.name),
            None => format!("-{no}{}", self.name),
        }
    }

    /// The option's tokens, ready to pass to ffmpeg again.
    pub fn tokens(&self) -> Vec<String> {
        let mut out = vec![self.flag()];
        out.extend(self.value.clone());
        out
    }

    /// The stream specifier, parsed (`All` when there is none).
    pub fn stream_spec(&self) -> Result<StreamSpec, SpecError> {
        parse_stream_spec(self.spec.as_deref().unwrap_or_default())
    }

    /// A boolean's value: false for `-nofoo` and for `-foo 0`.
    pub fn enabled(&self) -> bool {
        self.kind != OptKind::Negated && self.value.as_deref() != Some("0")
    }
}

/// An input or an output with the options that precede it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileArg {
    /// The URL or path.
    pub url: String,
    /// Position of the URL token (for inputs, of its `-i`).
    pub position: usize,
    /// Its options, in order.
    pub options: Vec<Opt>,
    /// True when the URL was forced to be an output by `--`.
    pub forced: bool,
}

impl FileArg {
    /// The last occurrence of option `name`, whatever its stream specifier.
    pub fn last(&self, name: &str) -> Option<&Opt> {
        self.options.iter().rev().find(|o| o.name == name)
    }
}

/// A whole ffmpeg command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Command {
    /// Global options, wherever they stood.
    pub globals: Vec<Opt>,
    /// Inputs, in order.
    pub inputs: Vec<FileArg>,
    /// Outputs, in order.
    pub outputs: Vec<FileArg>,
    /// Per-file options after the last output: ffmpeg ignores them with a warning.
    pub trailing: Vec<Opt>,
    /// Positions of `--` tokens.
    pub separators: Vec<usize>,
}

/// Why an argv is not a valid ffmpeg command line, in ffmpeg 5.1's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// An option that needs a value was the last token.
    #[error("Missing argument for option '{0}'.")]
    MissingArgument(String),
    /// Not a table option, and no value follows for it to be an AVOption.
    #[error("Unrecognized option '{0}'.")]
    Unrecognized(String),
    /// An input-only option before an output, or the reverse.
    #[error("Option {option} cannot be applied to {kind} url {url}")]
    Misplaced {
        /// The option's name.
        option: String,
        /// `input` or `output`.
        kind: &'static str,
        /// The file it preceded.
        url: String,
    },
}

/// Parses argv (without argv\[0\]) as ffmpeg's splitter (`split_commandline`
/// in fftools/cmdutils.c) does.
pub fn parse(argv: &[String]) -> Result<Command, ParseError> {
    let mut command = Command::default();
    let mut group: Vec<Opt> = Vec::new();
    let mut dashdash = None;
    let mut i = 0;
    while i < argv.len() {
        let token = &argv[i];
        if token == "--" {
            command.separators.push(i);
            dashdash = Some(i);
            i += 1;
            continue;
        }
        let forced = dashdash.is_some_and(|d| d + 1 == i);
        let option = if forced { None } else { parse_option_token(token) };
        let Some((written, spec)) = option else {
            command.outputs.push(FileArg {
                url: token.clone(),
                position: i,
                options: std::mem::take(&mut group),
                forced,
            });
            i += 1;
            continue;
        };
        let full_name = &token[1..];
        if written == "i" && spec.is_none() {
            let url =
                argv.get(i + 1).ok_or_else(|| ParseError::MissingArgument(full_name.into()))?;
            command.inputs.push(FileArg {
                url: url.clone(),
                position: i,
                options: std::mem::take(&mut group),
                forced: false,
            });
            i += 2;
            continue;
        }
        let next = argv.get(i + 1);
        let mut opt = Opt {
            name: written.to_string(),
            kind: OptKind::Table,
            spec: spec.map(str::to_string),
            value: None,
            position: i,
        };
        let scope = match lookup(written) {
            Some(entry) => {
                match entry.arity {
                    Arity::None => {}
                    Arity::Exit => opt.value = next.cloned(),
                    Arity::One => {
                        let value =
                            next.ok_or_else(|| ParseError::MissingArgument(full_name.into()))?;
                        opt.value = Some(value.clone());
                    }
                }
                entry.scope
            }
            None => match (next, written.strip_prefix("no").and_then(lookup)) {
                // ffmpeg tries an AVOption first, then the `-no` form of a boolean;
                // no AVOption is named `no` + a boolean table option.
                (_, Some(base)) if base.boolean => {
                    opt.name = base.name.to_string();
                    opt.kind = OptKind::Negated;
                    base.scope
                }
                (Some(value), _) => {
                    opt.kind = OptKind::AvOption;
                    opt.value = Some(value.clone());
                    Scope::File
                }
                (None, _) => return Err(ParseError::Unrecognized(full_name.into())),
            },
        };
        i += 1 + usize::from(opt.value.is_some());
        match scope {
            Scope::Global => command.globals.push(opt),
            _ => group.push(opt),
        }
    }
    command.trailing = group;
    check_placement(&command)?;
    Ok(command)
}

/// ffmpeg refuses an input-only option before an output and the reverse.
fn check_placement(command: &Command) -> Result<(), ParseError> {
    let files =
        command.inputs.iter().map(|f| (f, true)).chain(command.outputs.iter().map(|f| (f, false)));
    for (file, input) in files {
        for opt in &file.options {
            let entry = lookup(&opt.name).filter(|_| opt.kind != OptKind::AvOption);
            if entry.is_some_and(|e| !e.applies_to(input)) {
                return Err(ParseError::Misplaced {
                    option: opt.name.clone(),
                    kind: if input { "input" } else { "output" },
                    url: file.url.clone(),
                });
            }
        }
    }
    Ok(())
}

impl Command {
    /// The argv again, token for token.
    pub fn render(&self) -> Vec<String> {
        let mut items: Vec<(usize, Vec<String>)> = Vec::new();
        let options = self
            .globals
            .iter()
            .chain(&self.trailing)
            .chain(self.inputs.iter().chain(&self.outputs).flat_map(|f| f.options.iter()));
        items.extend(options.map(|o| (o.position, o.tokens())));
        items.extend(self.inputs.iter().map(|f| (f.position, vec!["-i".into(), f.url.clone()])));
        items.extend(self.outputs.iter().map(|f| (f.position, vec![f.url.clone()])));
        items.extend(self.separators.iter().map(|&p| (p, vec!["--".into()])));
        items.sort_by_key(|(p, _)| *p);
        items.into_iter().flat_map(|(_, t)| t).collect()
    }

    /// The last global option named `name`.
    pub fn global(&self, name: &str) -> Option<&Opt> {
        self.globals.iter().rev().find(|o| o.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn groups_options_into_files_and_round_trips() {
        for line in [
            "-y -ss 1 -i in.mkv -c:v libx264 -crf 23 -map -0:s -c:a copy out.mkv",
            "-i in.mkv -c:v libx264 out.mp4 -progress pipe:1 -y",
            "-i a.mkv -i b.mkv -map 0:v -map 1:a -f matroska -- -weird",
            "-i in.mkv -flags:v -global_header -c copy out.ts -t 5",
            "-version -foo",
            "-nostats -noautorotate -i in.mkv -apad 1 -c copy -- -- out.mkv",
            "-h",
        ] {
            let cmd = parse(&argv(line)).unwrap();
            assert_eq!(cmd.render().join(" "), line);
        }
    }

    #[test]
    fn classifies_tokens_as_ffmpeg_does() {
        let cmd = parse(&argv("-i in.mkv -c:v libx264 -map -0:s out.mkv -y")).unwrap();
        assert_eq!(cmd.inputs.len(), 1);
        assert_eq!(cmd.outputs[0].url, "out.mkv");
        let map = cmd.outputs[0].last("map").unwrap();
        assert_eq!(map.value.as_deref(), Some("-0:s"));
        assert!(cmd.global("y").is_some());
        assert_eq!(parse(&argv("-i in.mkv -c:v")), Err(ParseError::MissingArgument("c:v".into())));
        assert_eq!(parse(&argv("-i in.mkv -crf")), Err(ParseError::Unrecognized("crf".into())));
        assert_eq!(parse(&argv("-i")), Err(ParseError::MissingArgument("i".into())));
        let misplaced = parse(&argv("-i in.mkv -re out.mkv")).unwrap_err();
        assert_eq!(misplaced.to_string(), "Option re cannot be applied to output url out.mkv");
        let negated = parse(&argv("-nostats -noautorotate -i in.mkv -crf 0 out.mkv")).unwrap();
        assert_eq!(
            negated.global("stats").map(|o| (o.kind, o.enabled())),
            Some((OptKind::Negated, false))
        );
        assert_eq!(negated.inputs[0].options[0].name, "autorotate");
        assert_eq!(negated.outputs[0].options[0].kind, OptKind::AvOption);
        let forced = parse(&argv("-i x -- -weird")).unwrap();
        assert_eq!(forced.outputs[0].url, "-weird");
        assert!(forced.outputs[0].forced);
    }
}
