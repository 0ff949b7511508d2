//! The parsed command: options with their positions, grouped into files.

use super::table::{Arity, Scope, lookup};

use super::token::parse_option_token;

/// One option as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opt {
    /// Name without the dash and the stream specifier: `c` for `-c:v`.
    pub name: String,
    /// The stream specifier after the first colon, if any.
    pub spec: Option<String>,
    /// The value token, if the option takes one.
    pub value: Option<String>,
    /// Position of the option token in argv (after argv\[0\]).
    pub position: usize,
}

impl Opt {
    /// The option as written: `-c:v`.
    pub fn flag(&self) -> String {
        match &self.spec {
            Some(spec) => format!("-{}:{spec}", self.name),
            None => format!("-{}", self.name),
        }
    }

    /// The option's tokens, ready to pass to ffmpeg again.
    pub fn tokens(&self) -> Vec<String> {
        let mut out = vec![self.flag()];
        out.extend(self.value.clone());
        out
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
    /// The last value of option `name` with no stream specifier or with one of `specs`.
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

/// Why an argv is not a valid ffmpeg command line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// An option that needs a value was the last token (ffmpeg's wording).
    #[error("Missing argument for option '{0}'.")]
    MissingArgument(String),
}

/// Parses argv (without argv\[0\]) as ffmpeg's tokenizer does.
pub fn parse(argv: &[String]) -> Result<Command, ParseError> {
    let mut command = Command::default();
    let mut group: Vec<Opt> = Vec::new();
    let mut force_output = false;
    let mut i = 0;
    while i < argv.len() {
        let token = &argv[i];
        if token == "--" && !force_output {
            command.separators.push(i);
            force_output = true;
            i += 1;
            continue;
        }
        let option = if force_output { None } else { parse_option_token(token) };
        let Some((name, spec)) = option else {
            command.outputs.push(FileArg {
                url: token.clone(),
                position: i,
                options: std::mem::take(&mut group),
                forced: force_output,
            });
            force_output = false;
            i += 1;
            continue;
        };
        if name == "i" {
            let url = argv.get(i + 1).ok_or_else(|| ParseError::MissingArgument("i".into()))?;
            command.inputs.push(FileArg {
                url: url.clone(),
                position: i,
                options: std::mem::take(&mut group),
                forced: false,
            });
            i += 2;
            continue;
        }
        let mut opt = Opt {
            name: name.to_string(),
            spec: spec.map(str::to_string),
            value: None,
            position: i,
        };
        match lookup(name) {
            Some((Arity::None, scope)) => {
                push(&mut command, &mut group, opt, scope);
                i += 1;
            }
            Some((Arity::Exit, _)) => {
                opt.value = argv.get(i + 1).cloned();
                i += 1 + usize::from(opt.value.is_some());
                command.globals.push(opt);
            }
            Some((Arity::One, scope)) => {
                let value =
                    argv.get(i + 1).ok_or_else(|| ParseError::MissingArgument(name.to_string()))?;
                opt.value = Some(value.clone());
                push(&mut command, &mut group, opt, scope);
                i += 2;
            }
            None => {
                // Per-file table options and AVOptions both take exactly one value.
                let value =
                    argv.get(i + 1).ok_or_else(|| ParseError::MissingArgument(name.to_string()))?;
                opt.value = Some(value.clone());
                group.push(opt);
                i += 2;
            }
        }
    }
    command.trailing = group;
    Ok(command)
}

fn push(command: &mut Command, group: &mut Vec<Opt>, opt: Opt, scope: Scope) {
    match scope {
        Scope::Global => command.globals.push(opt),
        Scope::PerFile => group.push(opt),
    }
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
        assert_eq!(parse(&argv("-i in.mkv -crf")), Err(ParseError::MissingArgument("crf".into())));
        let forced = parse(&argv("-i x -- -weird")).unwrap();
        assert_eq!(forced.outputs[0].url, "-weird");
        assert!(forced.outputs[0].forced);
    }
}
