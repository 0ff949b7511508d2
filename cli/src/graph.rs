//! A `-filter_complex` (or `-lavfi`) that is a `-vf` in other words: one
//! chain of frame-local filters from the first input's video to one output
//! stream, as media servers and scripts write it
//! (`-filter_complex "[0:v]scale=1280:-2[v]" -map "[v]" -map 0:a`).
//!
//! The nodes run the chain as they run `-vf`: the frames are the same, as
//! ffmpeg alone configures both kinds of graph alike. What differs is around
//! the frames, and is reproduced here and in the final mux: a graph's output
//! stream has no source stream, so it keeps none of the source's stream tags
//! or disposition; it takes its place in the output where `-map [label]`
//! puts it, or first when the chain's output has no label; and the stream
//! mapping names the graph's filters (ffmpeg 5.1, `ffmpeg_opt.c`
//! `open_output_file`, `ffmpeg.c` `transcode_init`).

use crate::args::{Opt, filter_names, parse_graph};
use crate::route::{TEMPORAL_FILTERS, frame_local};

/// The graph of a command whose video can still be distributed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphVideo {
    /// The stream the chain reads, as a `-map` of the first input selects
    /// it: an unlabeled chain, `[0:v]` and `[0:v:0]` read `0:v:0`.
    pub input: String,
    /// The label of the chain's output, which an output maps (`-map [v]`);
    /// `None`: the output is unlabeled and goes to the command's (only)
    /// output, before its mapped streams.
    pub label: Option<String>,
    /// The filters, as the nodes run them (`EncodeJob::filters`).
    pub filters: Vec<(String, String)>,
    /// What ffmpeg's stream mapping calls the chain's input pad: `hflip:default`.
    pub input_pad: String,
    /// And its output pad: `scale:default`.
    pub output_pad: String,
    /// The option as written, for the trial (`-filter_complex`, the graph).
    pub tokens: Vec<String>,
}

/// The distributable reading of `opt` (a global `-filter_complex` or
/// `-lavfi`), or why it is not.
pub fn parse(opt: &Opt) -> Result<GraphVideo, String> {
    let flag = opt.flag();
    let text = opt.value.as_deref().unwrap_or_default();
    let graph = parse_graph(text).map_err(|error| format!("{flag}: {error}"))?;
    if let Some(name) = filter_names(&graph).find(|n| TEMPORAL_FILTERS.contains(n)) {
        return Err(format!("{flag} with a temporal filter ({name}) is not distributable"));
    }
    let [chain] = graph.as_slice() else {
        return Err(format!("{flag} with more than one filter chain is not distributable"));
    };
    let (Some(first), Some(last)) = (chain.first(), chain.last()) else {
        return Err(format!("{flag} is empty"));
    };
    let input = match first.inputs.as_slice() {
        [] => "0:v:0".to_string(),
        [label] => first_input_video(label).ok_or_else(|| {
            format!("{flag} reads [{label}] (the first input's video is distributable)")
        })?,
        _ => return Err(format!("{flag} with a filter of several inputs is not distributable")),
    };
    let label = match last.outputs.as_slice() {
        [] => None,
        [label] => Some(label.clone()),
        _ => return Err(format!("{flag} with a filter of several outputs is not distributable")),
    };
    let mut bare = chain.clone();
    bare[0].inputs.clear();
    if let Some(last) = bare.last_mut() {
        last.outputs.clear();
    }
    let filters = frame_local(&flag, text, &bare)?;
    // The pad names: every filter a chain may hold has one input and one
    // output pad, each called `default`; ffmpeg names the filter by its
    // kind, without an `@instance` suffix.
    let kind = |name: &str| name.split('@').next().unwrap_or(name).to_string();
    Ok(GraphVideo {
        input,
        label,
        filters,
        input_pad: format!("{}:default", kind(&first.name)),
        output_pad: format!("{}:default", kind(&last.name)),
        tokens: opt.tokens(),
    })
}

/// The `-map` that selects the stream a chain's input label names, when it
/// names the first input's video: `0:v`, `0:V` (its first such stream),
/// `0:v:N`, `0:V:N`. A label such as `0:1` could name an audio stream, which
/// ffmpeg reports as an error; `in` names nothing a chain can read.
fn first_input_video(label: &str) -> Option<String> {
    let spec = label.strip_prefix("0:")?;
    let (kind, index) = match spec.split_once(':') {
        Some((kind, index)) => (kind, index),
        None => (spec, "0"),
    };
    let numeric = !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit());
    (matches!(kind, "v" | "V") && numeric).then(|| format!("0:{kind}:{index}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(text: &str) -> Result<GraphVideo, String> {
        let command = crate::args::parse(&[
            "-i".into(),
            "in.mkv".into(),
            "-filter_complex".into(),
            text.into(),
            "out.mkv".into(),
        ])
        .unwrap();
        parse(command.global("filter_complex").unwrap())
    }

    #[test]
    fn a_labeled_chain_from_the_first_video() {
        let g = graph("[0:v]scale=160:-2,hflip[v]").unwrap();
        assert_eq!(g.input, "0:v:0");
        assert_eq!(g.label.as_deref(), Some("v"));
        assert_eq!(g.filters, [("scale".into(), "160:-2".into()), ("hflip".into(), "".into())]);
        assert_eq!(
            (g.input_pad.as_str(), g.output_pad.as_str()),
            ("scale:default", "hflip:default")
        );
        assert_eq!(g.tokens, ["-filter_complex", "[0:v]scale=160:-2,hflip[v]"]);
    }

    #[test]
    fn an_unlabeled_chain_reads_the_first_video_stream() {
        let g = graph("hflip").unwrap();
        assert_eq!((g.input.as_str(), g.label.as_deref()), ("0:v:0", None));
        assert_eq!(graph("[0:V:1]vflip").unwrap().input, "0:V:1");
    }

    #[test]
    fn what_a_chunk_cannot_reproduce_is_refused_with_a_reason() {
        for (text, reason) in [
            ("[0:v][1:v]overlay", "several inputs"),
            ("[0:v]split[a][b]", "several outputs"),
            ("[0:v]hflip[a];[a]vflip", "more than one filter chain"),
            ("[1:v]hflip[v]", "reads [1:v]"),
            ("[0:a]volume=2[a]", "reads [0:a]"),
            ("[0:1]hflip[v]", "reads [0:1]"),
            ("[0:v]yadif[v]", "temporal filter (yadif)"),
            ("[0:v]fps=24[v]", "temporal filter (fps)"),
            ("[0:v]crop=100:100:n:0[v]", "reads n"),
            ("[0:v]scale=160:-2,[x]hflip[v]", "names link labels"),
        ] {
            let error = graph(text).unwrap_err();
            assert!(error.contains(reason), "{text}: {error}");
        }
    }
}
