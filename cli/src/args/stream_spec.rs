//! Stream specifiers (`v`, `a:1`, `p:1:v`, `m:language:eng`, `#0x101`...) and
//! `-map` arguments, parsed with nom into a typed form.
//!
//! The grammar is ffmpeg's (`check_stream_specifier` in libavformat and
//! `opt_map` in fftools): a specifier is a chain of parts separated by colons,
//! read left to right, and ends at a stream index or at a part that takes the
//! rest of the text.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while1};
use nom::character::complete::{char, digit1, one_of};
use nom::combinator::{all_consuming, map, map_res, opt, rest};
use nom::sequence::{delimited, preceded};
use nom::{IResult, Parser};

/// A media type letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `v`: every video stream, attached pictures included.
    Video,
    /// `V`: video streams that are not attached pictures.
    VideoNoPictures,
    /// `a`.
    Audio,
    /// `s`.
    Subtitle,
    /// `d`.
    Data,
    /// `t`: attachments.
    Attachment,
}

/// A parsed stream specifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamSpec {
    /// The empty specifier: every stream.
    All,
    /// `N`: the stream with this index (among those the prefix selected).
    Index(u32),
    /// `v`, `a:1`, `V:0`...
    Type(MediaType, Option<Box<StreamSpec>>),
    /// `p:ID[:rest]`: streams of a program.
    Program(u64, Option<Box<StreamSpec>>),
    /// `#ID` or `i:ID`: the stream with this container id (decimal or 0x hex).
    Id(String),
    /// `m:KEY[:VALUE]`: streams with this metadata tag.
    Metadata(String, Option<String>),
    /// `u`: streams with usable parameters.
    Usable,
    /// `disp:FLAGS[:rest]` (ffmpeg 6.1+): streams with these dispositions.
    Disposition(Vec<String>, Option<Box<StreamSpec>>),
}

impl StreamSpec {
    /// The media type this specifier is limited to, if it names one.
    pub fn media_type(&self) -> Option<MediaType> {
        match self {
            Self::Type(kind, _) => Some(*kind),
            Self::Program(_, Some(rest)) | Self::Disposition(_, Some(rest)) => rest.media_type(),
            _ => None,
        }
    }

    /// True when it selects only the first video stream, or all video streams
    /// of a file whose only video stream is the first: `v`, `V`, `v:0`, `V:0`.
    pub fn is_plain_video(&self) -> bool {
        matches!(self, Self::Type(MediaType::Video | MediaType::VideoNoPictures, rest)
            if rest.as_deref().is_none_or(|r| *r == Self::Index(0)))
    }
}

/// Why a specifier or map does not parse (ffmpeg's own words follow when
/// ffmpeg itself is run with it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid stream specifier: {0}.")]
pub struct SpecError(pub String);

/// Parses a stream specifier as written after the colon of `-c:v`.
pub fn parse_stream_spec(text: &str) -> Result<StreamSpec, SpecError> {
    if text.is_empty() {
        return Ok(StreamSpec::All);
    }
    all_consuming(spec).parse(text).map(|(_, s)| s).map_err(|_| SpecError(text.to_string()))
}

type Res<'a, T> = IResult<&'a str, T>;

fn spec(input: &str) -> Res<'_, StreamSpec> {
    alt((disposition, program, id, metadata, usable, index, media_type)).parse(input)
}

fn number<T: std::str::FromStr>(input: &str) -> Res<'_, T> {
    map_res(digit1, str::parse).parse(input)
}

fn index(input: &str) -> Res<'_, StreamSpec> {
    map(number, StreamSpec::Index).parse(input)
}

fn tail(input: &str) -> Res<'_, Option<Box<StreamSpec>>> {
    opt(map(preceded(char(':'), spec), Box::new)).parse(input)
}

fn media_type(input: &str) -> Res<'_, StreamSpec> {
    let letter = map(one_of("vVasdt"), |c| match c {
        'v' => MediaType::Video,
        'V' => MediaType::VideoNoPictures,
        'a' => MediaType::Audio,
        's' => MediaType::Subtitle,
        'd' => MediaType::Data,
        _ => MediaType::Attachment,
    });
    map((letter, tail), |(kind, rest)| StreamSpec::Type(kind, rest)).parse(input)
}

fn program(input: &str) -> Res<'_, StreamSpec> {
    map((preceded(tag("p:"), number), tail), |(id, rest)| StreamSpec::Program(id, rest))
        .parse(input)
}

fn id(input: &str) -> Res<'_, StreamSpec> {
    let digits = take_while1(|c: char| c.is_ascii_alphanumeric());
    map(preceded(alt((tag("#"), tag("i:"))), digits), |d: &str| StreamSpec::Id(d.to_string()))
        .parse(input)
}

fn metadata(input: &str) -> Res<'_, StreamSpec> {
    let key = take_while1(|c: char| c != ':');
    map((preceded(tag("m:"), key), opt(preceded(char(':'), rest))), |(k, v): (&str, _)| {
        StreamSpec::Metadata(k.to_string(), v.map(str::to_string))
    })
    .parse(input)
}

fn usable(input: &str) -> Res<'_, StreamSpec> {
    map(all_consuming(char('u')), |_| StreamSpec::Usable).parse(input)
}

fn disposition(input: &str) -> Res<'_, StreamSpec> {
    let flags = take_while1(|c: char| c != ':');
    map((preceded(tag("disp:"), flags), tail), |(f, rest): (&str, _)| {
        StreamSpec::Disposition(f.split('+').map(str::to_string).collect(), rest)
    })
    .parse(input)
}

/// What a `-map` selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapSource {
    /// `[label]`: an output of `-filter_complex`.
    Label(String),
    /// `FILE[:SPEC]`: streams of an input file.
    Streams {
        /// The input file's index.
        file: u32,
        /// The specifier after the file index.
        spec: StreamSpec,
    },
}

/// A parsed `-map` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapArg {
    /// `-map -0:s`: removes streams an earlier map selected.
    pub negative: bool,
    /// `-map 0:s?`: no error when nothing matches.
    pub optional: bool,
    /// What it selects.
    pub source: MapSource,
}

/// Parses a `-map` argument.
pub fn parse_map(text: &str) -> Result<MapArg, SpecError> {
    let error = || SpecError(text.to_string());
    let (negative, body) = match text.strip_prefix('-') {
        Some(body) => (true, body),
        None => (false, text),
    };
    let (optional, body) = match body.strip_suffix('?') {
        Some(body) => (true, body),
        None => (false, body),
    };
    let label: Res<'_, &str> =
        all_consuming(delimited(char('['), take_while1(|c| c != ']'), char(']'))).parse(body);
    if let Ok((_, label)) = label {
        return Ok(MapArg { negative, optional, source: MapSource::Label(label.to_string()) });
    }
    let file: Res<'_, u32> = number(body);
    let (rest, file) = file.map_err(|_| error())?;
    let spec = match rest.strip_prefix(':') {
        // `-map 0:` has an empty specifier and selects every stream, as `-map 0`.
        Some(spec) => parse_stream_spec(spec)?,
        None if rest.is_empty() => StreamSpec::All,
        None => return Err(error()),
    };
    Ok(MapArg { negative, optional, source: MapSource::Streams { file, spec } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use MediaType::*;
    use StreamSpec::*;

    fn typed(kind: MediaType, rest: Option<StreamSpec>) -> StreamSpec {
        Type(kind, rest.map(Box::new))
    }

    #[test]
    fn stream_specifiers() {
        for (text, expected) in [
            ("v", typed(Video, None)),
            ("V", typed(VideoNoPictures, None)),
            ("a:1", typed(Audio, Some(Index(1)))),
            ("s:0", typed(Subtitle, Some(Index(0)))),
            ("2", Index(2)),
            ("p:1", Program(1, None)),
            ("p:1:v", Program(1, Some(Box::new(typed(Video, None))))),
            ("p:1:a:0", Program(1, Some(Box::new(typed(Audio, Some(Index(0))))))),
            ("#0x101", Id("0x101".into())),
            ("i:256", Id("256".into())),
            ("m:language:eng", Metadata("language".into(), Some("eng".into()))),
            ("m:title", Metadata("title".into(), None)),
            ("u", Usable),
            ("disp:default+forced", Disposition(vec!["default".into(), "forced".into()], None)),
            ("", All),
        ] {
            assert_eq!(parse_stream_spec(text), Ok(expected), "{text}");
        }
        for bad in ["x", "a:", "p:", "v:b", "a:1:2"] {
            assert!(parse_stream_spec(bad).is_err(), "{bad}");
        }
        assert!(parse_stream_spec("v:0").unwrap().is_plain_video());
        assert!(!parse_stream_spec("v:1").unwrap().is_plain_video());
        assert_eq!(parse_stream_spec("p:1:a").unwrap().media_type(), Some(Audio));
    }

    #[test]
    fn maps() {
        let map = parse_map("-0:s?").unwrap();
        assert!(map.negative && map.optional);
        assert_eq!(map.source, MapSource::Streams { file: 0, spec: typed(Subtitle, None) });
        assert_eq!(parse_map("[out]").unwrap().source, MapSource::Label("out".into()));
        assert_eq!(
            parse_map("0:m:language:eng").unwrap().source,
            MapSource::Streams { file: 0, spec: Metadata("language".into(), Some("eng".into())) }
        );
        assert_eq!(parse_map("1").unwrap().source, MapSource::Streams { file: 1, spec: All });
        assert_eq!(parse_map("0:").unwrap().source, MapSource::Streams { file: 0, spec: All });
        for bad in ["", "x", "0x", "[out"] {
            assert!(parse_map(bad).is_err(), "{bad}");
        }
    }
}
