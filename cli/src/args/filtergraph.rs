//! Filter graph descriptions (`-vf`, `-af`, `-filter_complex`), parsed with
//! nom into chains of filters with their link labels.
//!
//! The grammar is libavfilter's (`avfilter_graph_parse2`): chains separated by
//! `;`, filters in a chain by `,`, each filter `[in]...name[@id][=args][out]...`.
//! Arguments run to the next unescaped `,`, `;` or `[`; `\` escapes one
//! character and `'...'` quotes a span (inside which `\` is a character),
//! so a comma inside quotes stays in the arguments. The structure is parsed
//! and the arguments are kept as written; [`unquoted`] gives them as the
//! filter's option parser reads them.

use nom::bytes::complete::take_while1;
use nom::character::complete::{char, multispace0};
use nom::combinator::{all_consuming, map, opt, recognize};
use nom::multi::{many0, separated_list1};
use nom::sequence::{delimited, pair, preceded};
use nom::{IResult, Parser};

/// One filter as written in a graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The labels of its input pads: `[0:v]`, `[in]`.
    pub inputs: Vec<String>,
    /// The filter's name: `scale`.
    pub name: String,
    /// Everything after `=`, verbatim (escapes and quotes included).
    pub args: Option<String>,
    /// The labels of its output pads.
    pub outputs: Vec<String>,
}

/// A parsed graph: its chains, in order.
pub type Graph = Vec<Vec<Filter>>;

/// Why a graph description does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid filter graph description '{0}'")]
pub struct GraphError(pub String);

/// Parses a filter graph description.
pub fn parse_graph(text: &str) -> Result<Graph, GraphError> {
    let chain = separated_list1(char(','), filter);
    let mut graph = all_consuming(delimited(
        multispace0,
        separated_list1(delimited(multispace0, char(';'), multispace0), chain),
        multispace0,
    ));
    graph.parse(text).map(|(_, g)| g).map_err(|_| GraphError(text.to_string()))
}

/// The names of every filter in `graph`.
pub fn filter_names(graph: &Graph) -> impl Iterator<Item = &str> {
    graph.iter().flatten().map(|f| f.name.as_str())
}

type Res<'a, T> = IResult<&'a str, T>;

fn labels(input: &str) -> Res<'_, Vec<String>> {
    let label = delimited(char('['), take_while1(|c| c != ']'), char(']'));
    many0(delimited(multispace0, map(label, str::to_string), multispace0)).parse(input)
}

fn name(input: &str) -> Res<'_, &str> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    recognize(pair(take_while1(word), opt(pair(char('@'), take_while1(word))))).parse(input)
}

/// Arguments up to the next unescaped, unquoted `[`, `]`, `,` or `;`, as
/// libavfilter's `av_get_token(buf, "[],;")` reads them.
fn args(input: &str) -> Res<'_, &str> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in input.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if !quoted => escaped = true,
            '\'' => quoted = !quoted,
            '[' | ']' | ',' | ';' if !quoted => return Ok((&input[i..], &input[..i])),
            _ => {}
        }
    }
    Ok(("", input))
}

/// A filter's arguments as libavfilter hands them to the filter's option
/// parser: what `av_get_token` makes of them, with leading whitespace
/// skipped, quotes taken out (the quoted span kept as it is), one character
/// after each `\` kept as it is, and trailing whitespace that no quote or
/// escape kept cut off. `scale='min(1280,iw)':-2` is `min(1280,iw):-2`.
pub fn unquoted(args: &str) -> String {
    node::av_token::token(args, &[]).0
}

fn filter(input: &str) -> Res<'_, Filter> {
    map(
        (labels, delimited(multispace0, name, multispace0), opt(preceded(char('='), args)), labels),
        |(inputs, name, args, outputs)| Filter {
            inputs,
            name: name.split('@').next().unwrap_or(name).to_string(),
            // As written: `unquoted` trims what `av_get_token` trims, and
            // only that (not an escaped or quoted space, nor U+3000).
            args: args.map(str::to_string),
            outputs,
        },
    )
    .parse(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_filters_and_labels() {
        let graph = parse_graph("[0:v]scale=1280:-2,fps=30[v];[1:a] amix=inputs=2 [a]").unwrap();
        assert_eq!(graph.len(), 2);
        assert_eq!(graph[0][0].inputs, vec!["0:v"]);
        assert_eq!(graph[0][0].args.as_deref(), Some("1280:-2"));
        assert_eq!(graph[0][1].outputs, vec!["v"]);
        assert_eq!(filter_names(&graph).collect::<Vec<_>>(), ["scale", "fps", "amix"]);
    }

    #[test]
    fn quotes_and_escapes_keep_separators_in_arguments() {
        let graph = parse_graph(r"drawtext=text='a,b;c':x=1,hflip").unwrap();
        assert_eq!(graph[0][0].args.as_deref(), Some("text='a,b;c':x=1"));
        assert_eq!(graph[0][1].name, "hflip");
        let graph = parse_graph(r"select=gt(scene\,0.4),scale@s=2:2").unwrap();
        assert_eq!(graph[0][0].args.as_deref(), Some(r"gt(scene\,0.4)"));
        assert_eq!(graph[0][1].name, "scale");
        // Inside quotes a backslash is a character, as in av_get_token.
        let graph = parse_graph(r"drawtext=text='a\',hflip").unwrap();
        assert_eq!(graph[0][0].args.as_deref(), Some(r"text='a\'"));
        assert_eq!(graph[0][1].name, "hflip");
        // What a quote or an escape keeps at the end is kept, as is
        // whitespace that av_get_token does not cut (U+3000).
        let graph = parse_graph("drawtext=text=abc\\ ,hflip;drawtext=text=abc\u{3000}").unwrap();
        assert_eq!(unquoted(graph[0][0].args.as_deref().unwrap()), "text=abc ");
        assert_eq!(unquoted(graph[1][0].args.as_deref().unwrap()), "text=abc\u{3000}");
        for bad in ["", ",scale", "scale,", "[in"] {
            assert!(parse_graph(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn arguments_unquote_as_libavfilter_reads_them() {
        for (written, read) in [
            ("'min(1280,iw)':-2", "min(1280,iw):-2"),
            (r"min(1280\,iw):-2", "min(1280,iw):-2"),
            ("w='if(gt(t,1),2,3)':h=ih", "w=if(gt(t,1),2,3):h=ih"),
            ("  640:-2 ", "640:-2"),
            (r"640:-2\ ", "640:-2 "),
            ("'a b '  ", "a b "),
            (r"'a\b'", r"a\b"),
            (r"text=a\:b", "text=a:b"),
            ("'unclosed,x", "unclosed,x"),
            ("end\\", "end\\"),
            ("", ""),
        ] {
            assert_eq!(unquoted(written), read, "{written}");
        }
    }
}
