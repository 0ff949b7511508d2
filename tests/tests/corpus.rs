//! The corpus of real command lines (`tests/corpus/commands.txt`): each parses
//! and renders back to the identical argv, takes its expected route, and is
//! split into options, inputs and outputs exactly as ffmpeg's own splitter
//! does (ffmpeg `-v debug` prints how it matched every token).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use cli::args::{self, OptKind};
use tests::corpus::{self, Line, Route};

#[test]
fn corpus_is_large_and_varied() {
    let lines = corpus::load();
    let count = |route| lines.iter().filter(|l| l.route == route).count();
    assert!(lines.len() >= 150, "{} lines", lines.len());
    assert!(count(Route::Distribute) >= 40, "{} distribute lines", count(Route::Distribute));
    assert!(count(Route::Reject) >= 5, "{} reject lines", count(Route::Reject));
    assert!(lines.iter().filter(|l| l.e2e).count() >= 40);
}

#[test]
fn every_line_round_trips_and_takes_its_route() {
    let dir = tempfile::tempdir().unwrap();
    corpus::make_inputs(dir.path(), false);
    let mut failures = Vec::new();
    for line in corpus::load() {
        if let Err(problem) = check_route(&line, dir.path()) {
            failures.push(format!("line {}: {}\n    {problem}", line.number, line.text));
        }
    }
    assert!(failures.is_empty(), "{} lines failed:\n{}", failures.len(), failures.join("\n"));
}

fn check_route(line: &Line, dir: &Path) -> Result<(), String> {
    let mut command = match args::parse(&line.argv) {
        Ok(command) => command,
        Err(_) if line.route == Route::Reject => return Ok(()),
        Err(error) => return Err(format!("does not parse: {error}")),
    };
    if command.render() != line.argv {
        return Err(format!("renders as {:?}", command.render()));
    }
    // Inputs are looked up where the corpus media lives, not in our cwd.
    for input in &mut command.inputs {
        let (protocol, path) = match input.url.strip_prefix("file:") {
            Some(path) => ("file:", path),
            None => ("", input.url.as_str()),
        };
        if dir.join(path).is_file() {
            input.url = format!("{protocol}{}", dir.join(path).display());
        }
    }
    match (cli::route::route_all(&command), line.route) {
        (Ok(_), Route::Distribute) | (Err(_), Route::Ffmpeg | Route::Reject) => Ok(()),
        (Ok(_), _) => Err("distributed, expected ffmpeg".into()),
        (Err(reason), _) => Err(format!("ran with ffmpeg ({reason}), expected distribution")),
    }
}

#[test]
fn the_parser_splits_every_line_as_ffmpeg_does() {
    let dir = tempfile::tempdir().unwrap();
    corpus::make_inputs(dir.path(), false);
    let mut failures = Vec::new();
    let mut compared = 0;
    for line in corpus::load() {
        let argv = with_debug_log(&line.argv);
        let theirs = ffmpeg_split(&argv, dir.path());
        let problem = match args::parse(&argv) {
            Ok(command) => {
                let ours = our_split(&command);
                if !theirs.rejected && ours != theirs.matched {
                    Some(format!("ours:   {ours:?}\n    ffmpeg: {:?}", theirs.matched))
                } else if theirs.rejected && line.route != Route::Reject {
                    Some("ffmpeg's splitter rejects it".to_string())
                } else if theirs.rejected
                    && !ours.starts_with(&theirs.matched[..theirs.matched.len().saturating_sub(1)])
                {
                    Some(format!(
                        "ours: {ours:?}\n    ffmpeg, up to its error: {:?}",
                        theirs.matched
                    ))
                } else {
                    None
                }
            }
            // ffmpeg finds a misplaced option only when it parses the file's
            // options, after splitting, so its splitter accepts the line.
            Err(args::ParseError::Misplaced { .. }) if line.route == Route::Reject => None,
            Err(error) if !theirs.rejected => Some(format!("we reject ({error}), ffmpeg does not")),
            Err(_) if line.route != Route::Reject => Some("rejected, expected to parse".into()),
            Err(_) => None,
        };
        if let Some(problem) = problem {
            failures.push(format!("line {}: {}\n    {problem}", line.number, line.text));
        }
        compared += 1;
    }
    println!("compared {compared} command lines with ffmpeg's splitter");
    assert!(failures.is_empty(), "{} lines differ:\n{}", failures.len(), failures.join("\n"));
}

/// Our model, in the words ffmpeg's debug log uses for each token.
fn our_split(command: &args::Command) -> Vec<String> {
    let mut items: Vec<(usize, String)> = Vec::new();
    let options = command
        .globals
        .iter()
        .chain(&command.trailing)
        .chain(command.inputs.iter().chain(&command.outputs).flat_map(|f| &f.options));
    for opt in options {
        let text = match opt.kind {
            OptKind::Table => {
                let value = opt.value.clone().unwrap_or_else(|| "1".into());
                let value = if opt.value.is_none()
                    && args::lookup(&opt.name).is_some_and(|e| e.arity == args::Arity::Exit)
                {
                    "(null)".into()
                } else {
                    value
                };
                format!("option {} = {value}", opt.name)
            }
            OptKind::Negated => format!("option {} = 0", opt.name),
            OptKind::AvOption => {
                format!(
                    "avoption {} = {}",
                    opt.flag().trim_start_matches('-'),
                    opt.value.as_deref().unwrap_or("")
                )
            }
        };
        items.push((opt.position, text));
    }
    items.extend(command.inputs.iter().map(|f| (f.position, format!("input {}", f.url))));
    items.extend(command.outputs.iter().map(|f| (f.position, format!("output {}", f.url))));
    items.sort_by_key(|(p, _)| *p);
    items.into_iter().map(|(_, t)| t).collect()
}

/// `-v debug` in place of the line's own log level, or in front.
fn with_debug_log(argv: &[String]) -> Vec<String> {
    let mut argv = argv.to_vec();
    match argv.iter().position(|a| a == "-v" || a == "-loglevel") {
        Some(i) if i + 1 < argv.len() => argv[i + 1] = "debug".into(),
        _ => argv.splice(0..0, ["-v".to_string(), "debug".to_string()]).for_each(drop),
    }
    argv
}

/// How ffmpeg's splitter matched each token, and whether it gave up.
struct FfmpegSplit {
    matched: Vec<String>,
    rejected: bool,
}

/// Runs the real ffmpeg until it has split the command line, then stops it.
fn ffmpeg_split(argv: &[String], dir: &Path) -> FfmpegSplit {
    let mut child = Command::new("ffmpeg")
        .args(argv)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = String::new();
    let mut rejected = false;
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let Ok(line) = line else { break };
        if line.starts_with("Finished splitting the commandline.") {
            break;
        }
        if line.contains("Error splitting the argument list")
            || line.contains("Unrecognized option")
        {
            rejected = true;
        }
        log.push_str(&line);
        log.push('\n');
    }
    let _ = child.kill();
    let _ = child.wait();
    FfmpegSplit { matched: parse_debug_log(&log), rejected }
}

/// Turns "Reading option '-c:v' ... matched as option 'c' (codec name) with
/// argument 'libx264'." and its siblings into our words.
fn parse_debug_log(log: &str) -> Vec<String> {
    let mut out = Vec::new();
    for chunk in log.split("Reading option '").skip(1) {
        let Some((token, rest)) = chunk.split_once("' ...") else { continue };
        // A verbose note ("Routing option strict to both codec and muxer
        // layer") may stand between the token and how it matched.
        let rest = rest.find("matched as").map_or(rest, |i| &rest[i..]);
        let rest = rest.lines().next().unwrap_or("").trim();
        let item = if let Some(rest) = rest.strip_prefix("matched as option '") {
            let name = rest.split('\'').next().unwrap_or("");
            let value = match rest.rfind(" with argument ") {
                Some(i) => rest[i + " with argument ".len()..].trim_end_matches('.'),
                None => "",
            };
            let value =
                value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')).unwrap_or(value);
            format!("option {name} = {value}")
        } else if let Some(rest) = rest.strip_prefix("matched as AVOption '") {
            let (name, value) = rest.split_once("' with argument '").unwrap_or((rest, ""));
            format!("avoption {name} = {}", value.trim_end_matches("'."))
        } else if let Some(url) = rest.strip_prefix("matched as input url with argument '") {
            format!("input {}", url.trim_end_matches("'."))
        } else if rest.starts_with("matched as output url") {
            format!("output {token}")
        } else if token == "--" {
            continue;
        } else {
            format!("unmatched {token}: {rest}")
        };
        out.push(item);
    }
    out
}
