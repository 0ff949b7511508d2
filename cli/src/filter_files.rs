//! The files that filters read (`-vf lut3d=grade.cube`, `lut1d=curve.csp`,
//! drawtext's `fontfile`): the nodes cannot open the user's path, so the
//! file's bytes travel with every chunk's spec and the node names its own
//! copy (`node::spec::FILE_FILTERS`). Each such filter still maps every
//! frame by itself, so it stays frame-local.
//!
//! The job keeps such a filter's arguments as its option parser reads them,
//! rewritten with every option named and the path (and drawtext's text)
//! last (`interp=trilinear:file=grade.cube`); `load` reads each file once
//! after routing, and `to_proto` puts the bytes in place of the path.

use std::path::Path;

use crate::filter_options::{FilterOption, options, render};
use crate::job::EncodeJob;
use crate::local::Tools;

/// The filter of `node::spec::FILE_FILTERS` named `name`: the option that
/// names its file and the file types the nodes take.
fn file_filter(name: &str) -> Option<(&'static str, &'static [&'static str])> {
    node::spec::FILE_FILTERS.iter().find(|(n, ..)| *n == name).map(|(_, key, types)| (*key, *types))
}

/// The arguments of a filter of `node::spec::FILE_FILTERS` (as its option
/// parser reads them, unquoted) with every option named and the file last,
/// then drawtext's text; or why they are not distributable. `None` for
/// other filters.
pub fn normalized(name: &str, args: &str) -> Option<Result<String, String>> {
    let (file_key, types) = file_filter(name)?;
    Some(normalize(name, file_key, types, args))
}

fn normalize(name: &str, file_key: &str, types: &[&str], args: &str) -> Result<String, String> {
    let found = options(args).map_err(|e| format!("{name}: {e}"))?;
    // The options ffmpeg takes by position, in order.
    let subtitles = matches!(name, "subtitles" | "ass");
    let positional: &[&str] = match name {
        "drawtext" => &["fontfile", "text"],
        _ if subtitles => &["filename"],
        _ => &["file"],
    };
    let mut path = None;
    let mut text = None;
    let mut timecode = None;
    let mut textfile = None;
    let mut font = None;
    let mut rest = Vec::new();
    for (k, option) in found.into_iter().enumerate() {
        let key = match option.key {
            Some(key) => key,
            None => match positional.get(k) {
                Some(key) => key.to_string(),
                None => return Err(format!("{name} with unnamed options is not distributable")),
            },
        };
        match key.as_str() {
            key if key == file_key => path = Some(option.value),
            "f" if subtitles => path = Some(option.value),
            "si" | "stream_index" if subtitles => {
                return Err(format!(
                    "{name} picking a stream of a media file is not distributable"
                ));
            }
            "fontsdir" if subtitles => {
                return Err(format!("{name} with fonts of a directory is not distributable"));
            }
            "text" if name == "drawtext" => text = Some(option.value),
            "timecode" if name == "drawtext" => timecode = Some(option.value),
            "textfile" if name == "drawtext" => textfile = Some(option.value),
            "font" if name == "drawtext" => font = Some(option.value),
            _ => rest.push(FilterOption { key: Some(key), value: option.value }),
        }
    }
    let path = path.unwrap_or_default();
    // drawtext without fontfile draws with fontconfig's font for `font`,
    // which `load` resolves to a file (`fontconfig`); with a file that
    // loads, `font` is not read.
    let fontconfig = name == "drawtext" && path.is_empty();
    if path.is_empty() && !fontconfig {
        return Err(format!("{name} without a file is not distributable"));
    }
    // The last value of an option counts.
    let size = rest.iter().rev().find(|o| o.key.as_deref() == Some("fontsize"));
    if let Some(size) = size.filter(|_| fontconfig) {
        crate::fontconfig::checked_size(&size.value)?;
    }
    match file_type(&path) {
        _ if fontconfig => {}
        Some(t) if types.contains(&t.as_str()) => {}
        _ => return Err(format!("{name} {file_key} {path}: not a type the nodes read")),
    }
    let text = match name {
        "drawtext" => match (text, textfile) {
            (Some(_), Some(_)) => {
                // ffmpeg refuses it: "Both text and text file provided".
                return Err("drawtext with both text and textfile".into());
            }
            (None, Some(textfile)) => {
                // The file's text is checked once read (`load`).
                crate::drawtext::check(&rest, "-", timecode.as_deref())?;
                Some(FilterOption { key: Some("textfile".into()), value: textfile })
            }
            (text, None) => {
                // With a timecode, ffmpeg draws it after the text, or alone.
                let text = match (text, &timecode) {
                    (Some(text), _) => text,
                    (None, Some(_)) => String::new(),
                    (None, None) => {
                        return Err("drawtext without text is not distributable".into());
                    }
                };
                crate::drawtext::check(&rest, &text, timecode.as_deref())?;
                Some(FilterOption { key: Some("text".into()), value: text })
            }
        },
        _ => None,
    };
    if fontconfig {
        let family = font.unwrap_or_else(|| "Sans".into());
        rest.push(FilterOption { key: Some("font".into()), value: family });
    }
    rest.push(FilterOption { key: Some(file_key.into()), value: path });
    if let Some(timecode) = timecode {
        rest.push(FilterOption { key: Some("timecode".into()), value: timecode });
    }
    rest.extend(text);
    Ok(render(&rest))
}

/// What `normalized` arguments hold: the path (empty for a drawtext whose
/// font fontconfig finds, by the family `font`), drawtext's text (or the
/// file it is read from) and timecode (empty without one), and the other
/// options, rendered.
struct Parts {
    path: String,
    font: Option<String>,
    text: String,
    textfile: Option<String>,
    timecode: String,
    rest: String,
}

fn parts(name: &str, args: &str) -> Option<Parts> {
    let (file_key, _) = file_filter(name)?;
    let mut found = options(args).ok()?;
    let take = |found: &mut Vec<FilterOption>, key: &str| {
        let at = found.iter().position(|o| o.key.as_deref() == Some(key))?;
        Some(found.remove(at).value)
    };
    let path = take(&mut found, file_key)?;
    let font = take(&mut found, "font");
    let textfile = take(&mut found, "textfile");
    let text = match name {
        "drawtext" if textfile.is_none() => take(&mut found, "text")?,
        _ => String::new(),
    };
    let timecode = take(&mut found, "timecode").unwrap_or_default();
    Some(Parts { path, font, text, textfile, timecode, rest: render(&found) })
}

/// The arguments `normalized` wrote without the file, the text and the
/// timecode, as the node gets them: what expression checks read (a path or a title is no
/// expression). Other filters' arguments are returned as they are.
pub fn without_file(name: &str, args: &str) -> String {
    parts(name, args).map_or_else(|| args.to_string(), |p| p.rest)
}

/// The type a filter reads a file as: its extension, which the LUTs
/// compare ignoring case.
fn file_type(path: &str) -> Option<String> {
    Some(Path::new(path).extension()?.to_str()?.to_ascii_lowercase())
}

/// Reads the file of each file filter of the job, and the text file of a
/// drawtext (`textfile=`), into `EncodeJob::filter_files`, or says why the
/// command goes to ffmpeg: a file that is missing (ffmpeg reports it in
/// its words), not a regular file, or too large to send with each chunk;
/// a text that is not the plain UTF-8 the nodes draw, or that drawtext
/// would expand into what a chunk does not reproduce; a file filter on an
/// overlay image; a font FreeType cannot load (`fontconfig::loads`:
/// ffmpeg alone would draw with another). A drawtext without `fontfile`
/// first gets the file and size fontconfig gives ffmpeg here
/// (`fontconfig::resolve`), or the reason it cannot.
///
/// `horizon_ms`: no frame is drawn at or after this time (libass's
/// milliseconds), so subtitle events from then on need no fonts checked.
pub async fn load(
    job: &mut EncodeJob,
    tools: &Tools,
    horizon_ms: Option<i64>,
) -> anyhow::Result<Result<(), String>> {
    let overlay = job.graph.as_ref().and_then(|g| g.overlay.as_ref());
    if overlay.is_some_and(|o| o.image_filters.iter().any(|(name, _)| file_filter(name).is_some()))
    {
        return Ok(Err("a file-reading filter on the overlay image is not distributable".into()));
    }
    for (name, args) in &mut job.filters {
        let Some(Parts { path, font, .. }) = parts(name, args) else { continue };
        if !path.is_empty() {
            continue;
        }
        let found = options(args).unwrap_or_default();
        // The last value of an option counts.
        let size = found.iter().rev().find(|o| o.key.as_deref() == Some("fontsize"));
        match crate::fontconfig::resolve(tools, font.as_deref(), size.map(|o| o.value.as_str()))
            .await
        {
            Ok(resolved) => *args = with_font(found, &resolved),
            Err(why) => return Ok(Err(why)),
        }
    }
    // Each use of a file travels in the spec, and counts, on its own.
    let mut total = 0;
    let mut files: Vec<(String, proto::Bytes)> = Vec::new();
    let mut subtitles = Vec::new();
    let mut first_subtitle = None;
    for (at, (name, args)) in job.filters.iter().enumerate() {
        let Some(Parts { path, textfile, timecode, rest, .. }) = parts(name, args) else {
            continue;
        };
        let bytes = match files.iter().find(|(p, _)| *p == path) {
            Some((_, bytes)) => bytes.clone(),
            None => match read(name, &path, node::spec::MAX_FILTER_FILES as u64).await {
                Ok(bytes) => bytes,
                Err(why) => return Ok(Err(why)),
            },
        };
        total += bytes.len() as u64;
        if total > node::spec::MAX_FILTER_FILES as u64 {
            return Ok(Err(too_large(name, total)));
        }
        if matches!(name.as_str(), "subtitles" | "ass") {
            first_subtitle = first_subtitle.or(Some(at));
            subtitles.push(crate::subtitle_fonts::Subtitle {
                filter: name.clone(),
                args: rest.clone(),
                bytes: bytes.clone(),
                file_type: file_type(&path).unwrap_or_default(),
            });
        }
        if !files.iter().any(|(p, _)| *p == path) {
            if name == "drawtext" {
                let file_type = file_type(&path).unwrap_or_default();
                if let Err(why) = crate::fontconfig::loads(tools, &bytes, &file_type, &path).await?
                {
                    return Ok(Err(why));
                }
            }
            files.push((path, bytes));
        }
        let Some(textfile) = textfile else { continue };
        let text = match read(name, &textfile, MAX_TEXT_FILE).await {
            Ok(bytes) => bytes,
            Err(why) => return Ok(Err(why)),
        };
        // The text travels with each spec too, within the same bound.
        total += text.len() as u64;
        if total > node::spec::MAX_FILTER_FILES as u64 {
            return Ok(Err(too_large(name, total)));
        }
        if std::str::from_utf8(&text).is_err() {
            return Ok(Err(format!("drawtext textfile {textfile} is not UTF-8")));
        }
        let options = options(&rest).unwrap_or_default();
        let timecode = Some(timecode.as_str()).filter(|t| !t.is_empty());
        // A NUL ends the text for ffmpeg; the node's check refuses it.
        if let Err(why) = crate::drawtext::check(&options, &file_text(&text), timecode) {
            return Ok(Err(format!("textfile {textfile}: {why}")));
        }
        if !files.iter().any(|(p, _)| *p == textfile) {
            files.push((textfile, text));
        }
    }
    job.filter_files = files;
    // One directory of fonts on the node serves them all: they are found,
    // and checked, together; the first subtitle's spec carries them.
    if let Some(at) = first_subtitle {
        let budget = node::spec::MAX_SUBTITLE_FONTS;
        match crate::subtitle_fonts::resolve(tools, &subtitles, budget, horizon_ms).await {
            Ok((fonts, events)) => {
                job.subtitle_fonts = Some((at, fonts));
                job.subtitle_events = events;
            }
            Err(why) => return Ok(Err(why)),
        }
    }
    Ok(Ok(()))
}

/// A drawtext's `normalized` options with fontconfig's font in place of
/// `font`: the file, and the size it draws at.
fn with_font(found: Vec<FilterOption>, resolved: &crate::fontconfig::Resolved) -> String {
    let mut out = Vec::with_capacity(found.len() + 1);
    for option in found {
        match option.key.as_deref() {
            Some("font" | "fontsize") => {}
            Some("fontfile") => {
                let size = resolved.fontsize.clone();
                out.push(FilterOption { key: Some("fontsize".into()), value: size });
                let path = resolved.path.clone();
                out.push(FilterOption { key: Some("fontfile".into()), value: path });
            }
            _ => out.push(option),
        }
    }
    render(&out)
}

/// The text drawtext reads from a text file's bytes (`load_textfile`):
/// all of them but one line break at the end (`\n`, `\r`, `\f` or
/// `\v`). `load` checked that they are UTF-8.
fn file_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_suffix(['\n', '\r', '\u{c}', '\u{b}']).unwrap_or(&text);
    text.to_string()
}

/// The largest text file a drawtext's text is read from (`textfile=`): it
/// travels in each chunk's spec, and titles are far smaller.
pub const MAX_TEXT_FILE: u64 = 64 << 10;

/// The bytes of the regular file at `path`, at most `limit` of them, or
/// why not (in the words of the filter `name` that reads it).
async fn read(name: &str, path: &str, limit: u64) -> Result<proto::Bytes, String> {
    match tokio::fs::metadata(path).await {
        Ok(meta) if meta.is_file() && meta.len() > limit => {
            Err(format!("{name} file {path} is over {limit} bytes; not distributable"))
        }
        Ok(meta) if meta.is_file() => match tokio::fs::read(path).await {
            Ok(bytes) => Ok(proto::Bytes::from(bytes)),
            Err(error) => Err(format!("reading {path}: {error}")),
        },
        Ok(_) => Err(format!("{name} file {path} is not a regular file")),
        Err(error) => Err(format!("{name} file {path}: {error}")),
    }
}

/// Why files of `total` bytes in all do not go with each chunk.
fn too_large(name: &str, total: u64) -> String {
    format!(
        "{name}'s files of {total} bytes are not distributable (at most {} with each chunk)",
        node::spec::MAX_FILTER_FILES
    )
}

/// A job's filter as a spec carries it: a file filter's path replaced by
/// the file's bytes (read by `load`) and type, drawtext's text apart, and
/// the subtitles' `fonts` if it is the one that carries them.
pub fn to_proto(
    name: &str,
    args: &str,
    files: &[(String, proto::Bytes)],
    fonts: Option<&crate::subtitle_fonts::Fonts>,
) -> proto::v1::Filter {
    let bytes = |path: &str| files.iter().find(|(p, _)| p == path).map(|(_, b)| b.clone());
    let found = parts(name, args).and_then(|mut p| {
        if let Some(textfile) = &p.textfile {
            p.text = file_text(&bytes(textfile)?);
        }
        Some((bytes(&p.path)?, p))
    });
    match found {
        Some((file, p)) => {
            let mut filter = proto::v1::Filter {
                name: name.into(),
                args: p.rest,
                file,
                file_type: file_type(&p.path).unwrap_or_default(),
                text: p.text,
                timecode: p.timecode,
                ..Default::default()
            };
            if let Some(fonts) = fonts {
                fonts.fill(&mut filter);
            }
            filter
        }
        None => proto::v1::Filter { name: name.into(), args: args.into(), ..Default::default() },
    }
}

/// The filter as the router has the node's rules check it, before any
/// file is read: a stand-in byte in place of the file.
pub fn stand_in(name: &str, args: &str) -> proto::v1::Filter {
    let mut files = Vec::new();
    if let Some(p) = parts(name, args) {
        if p.path.is_empty() {
            // fontconfig's font, resolved by `load`: a font file by then.
            let found = options(args).unwrap_or_default();
            let resolved = crate::fontconfig::Resolved {
                path: "font.ttf".into(),
                fontsize: crate::fontconfig::FONTCONFIG_DEFAULT_SIZE.into(),
            };
            return stand_in(name, &with_font(found, &resolved));
        }
        // A subtitle's content is checked once it is read (`load`): the
        // stand-in begins as its type's files do.
        let bytes: &'static [u8] = match file_type(&p.path).as_deref() {
            Some("srt") => b"1\n00:00:00,000 --> 00:00:01,000\n",
            Some("ass" | "ssa") => b"[Script Info]\n",
            Some("vtt") => b"WEBVTT\n",
            _ => b"\0",
        };
        files.push((p.path, proto::Bytes::from_static(bytes)));
        // The text file's words are checked once it is read (`load`).
        files.extend(p.textfile.map(|t| (t, proto::Bytes::from_static(b"-"))));
    }
    to_proto(name, args, &files, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(name: &str, args: &str) -> String {
        normalized(name, args).unwrap().unwrap()
    }

    #[test]
    fn the_path_goes_last_and_named() {
        assert_eq!(ok("lut3d", "grade.cube"), "file=grade.cube");
        assert_eq!(
            ok("lut3d", "file=luts/a.CUBE:interp=trilinear"),
            "interp=trilinear:file=luts/a.CUBE"
        );
        assert_eq!(ok("lut3d", "grade.3dl:interp=nearest"), "interp=nearest:file=grade.3dl");
        assert_eq!(ok("lut3d", "file=my lut\\:1.cube"), "file='my lut:1.cube'");
        assert_eq!(without_file("lut3d", "interp=nearest:file=n.cube"), "interp=nearest");
        assert!(normalized("hflip", "").is_none());
    }

    #[test]
    fn drawtext_keeps_its_text_apart() {
        let args = ok("drawtext", "text=Take 3\\: %{pts\\:hms}:fontfile=f.ttf:fontsize=20");
        assert_eq!(args, "fontsize=20:fontfile=f.ttf:text='Take 3: %{pts:hms}'");
        assert_eq!(without_file("drawtext", &args), "fontsize=20");
        let files = vec![("f.ttf".to_string(), proto::Bytes::from_static(b"font"))];
        let filter = to_proto("drawtext", &args, &files, None);
        assert_eq!(
            (filter.args.as_str(), filter.text.as_str()),
            ("fontsize=20", "Take 3: %{pts:hms}")
        );
        assert_eq!((filter.file_type.as_str(), &filter.file[..]), ("ttf", &b"font"[..]));
        assert_eq!(ok("drawtext", "f.ttf:Hello"), "fontfile=f.ttf:text=Hello");
    }

    /// Without fontfile, the family (`Sans` by default) waits for `load`
    /// to find its file; the router checks the rest with a stand-in file.
    #[test]
    fn drawtext_without_a_font_file_names_its_family() {
        assert_eq!(ok("drawtext", "text=hi:x=2"), "x=2:font=Sans:fontfile=:text=hi");
        let args = ok("drawtext", "text=hi:font=DejaVu Serif:fontsize=20");
        assert_eq!(args, "fontsize=20:font=DejaVu Serif:fontfile=:text=hi");
        assert_eq!(without_file("drawtext", &args), "fontsize=20");
        let filter = stand_in("drawtext", &args);
        assert_eq!((filter.args.as_str(), filter.file_type.as_str()), ("fontsize=12", "ttf"));
        let resolved =
            crate::fontconfig::Resolved { path: "/f/a.ttf".into(), fontsize: "20".into() };
        let found = options(&args).unwrap();
        assert_eq!(with_font(found, &resolved), "fontsize=20:fontfile=/f/a.ttf:text=hi");
        // The last size counts: an expression there is refused.
        assert!(normalized("drawtext", "text=hi:fontsize=12:fontsize=h/4").unwrap().is_err());
        // With a file that loads, ffmpeg does not read `font`.
        assert_eq!(ok("drawtext", "fontfile=f.ttf:font=Serif:text=hi"), "fontfile=f.ttf:text=hi");
    }

    /// A text file's text reaches the node as the text, read by `load`.
    #[test]
    fn drawtext_sends_its_text_files_text() {
        let args = ok("drawtext", "fontfile=f.ttf:textfile=t.txt:x=4");
        assert_eq!(args, "x=4:fontfile=f.ttf:textfile=t.txt");
        assert!(crate::drawtext::counts_frames(&args));
        let files = vec![
            ("f.ttf".to_string(), proto::Bytes::from_static(b"font")),
            ("t.txt".to_string(), proto::Bytes::from_static(b"Take 3\n%{pts:hms}\n")),
        ];
        let filter = to_proto("drawtext", &args, &files, None);
        let fields = (filter.args.as_str(), filter.text.as_str(), &filter.file[..]);
        // drawtext leaves out one line break at the end of the file.
        assert_eq!(fields, ("x=4", "Take 3\n%{pts:hms}", &b"font"[..]));
        assert_eq!(file_text(b"a\n\n"), "a\n");
        assert_eq!(file_text(b"a\r\n"), "a\r");
        assert_eq!(without_file("drawtext", &args), "x=4");
        assert_eq!(stand_in("drawtext", &args).text, "-");
    }

    #[test]
    fn drawtext_keeps_its_timecode_apart() {
        let args = ok("drawtext", "fontfile=f.ttf:timecode=00\\:59\\:59;20:rate=30000/1001");
        assert_eq!(args, "rate=30000/1001:fontfile=f.ttf:timecode='00:59:59;20':text=");
        let files = vec![("f.ttf".to_string(), proto::Bytes::from_static(b"font"))];
        let filter = to_proto("drawtext", &args, &files, None);
        let fields = (filter.args.as_str(), filter.timecode.as_str(), filter.text.as_str());
        assert_eq!(fields, ("rate=30000/1001", "00:59:59;20", ""));
        assert_eq!(without_file("drawtext", &args), "rate=30000/1001");
    }

    #[test]
    fn what_the_nodes_cannot_read_is_refused() {
        for args in ["", "interp=nearest", "a.png", "a.cube:nearest", "x"] {
            assert!(normalized("lut3d", args).unwrap().is_err(), "{args}");
        }
        assert!(normalized("lut1d", "a.3dl").unwrap().is_err());
        for args in [
            "fontfile=f.ttf",
            "fontfile=f.ttf:textfile=t.txt:text=hi",
            "fontfile=f.ttf:textfile=t.txt:reload=1",
            "fontfile=f.ttf:text=%{localtime}",
            "fontfile=f.ttf:timecode=0\\:0\\:0@0",
        ] {
            assert!(normalized("drawtext", args).unwrap().is_err(), "{args}");
        }
    }

    #[test]
    fn the_spec_carries_the_bytes_not_the_path() {
        let files = vec![("g.cube".to_string(), proto::Bytes::from_static(b"LUT_3D_SIZE 2"))];
        let filter = to_proto("lut3d", "interp=nearest:file=g.cube", &files, None);
        assert_eq!(filter.args, "interp=nearest");
        assert_eq!(filter.file_type, "cube");
        assert_eq!(&filter.file[..], b"LUT_3D_SIZE 2");
        assert_eq!(to_proto("hflip", "", &files, None).file.len(), 0);
    }
}
