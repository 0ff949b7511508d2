//! The fonts burnt-in subtitles (`-vf subtitles=film.srt`, `ass=styled.ass`)
//! draw with, found here and sent to the nodes.
//!
//! libass draws each event with the font fontconfig gives it for the
//! event's family (a `.srt` asks for `Arial`; an `.ass` names its own in its
//! styles and `\fn` tags), which on the machine where ffmpeg alone would
//! run is a file of that machine's: `Arial` is often DejaVu Sans or
//! Liberation Sans. The nodes' ffmpeg has no fonts of its own, so
//! [`resolve`] draws every event here with ffmpeg's own subtitle filter at
//! verbose level, where libass logs the file it picked for each family,
//! weight and slant (`fontselect: (Arial, 400, 0) -> /usr/share/fonts/...`).
//! Those files travel with each chunk, and the node's fontconfig
//! substitutes each asked-for family with the family of the file picked
//! for it (`node::fonts_conf`).
//!
//! Rather than trust that libass picks alike from those alone, [`resolve`]
//! draws every event a second time with exactly the node's configuration
//! and font directory, and distributes only if every frame is the same.
//! Each event is drawn once, on a frame at the middle of its time: one
//! frame of a small blank video per event, timed by a concat list.

use std::ffi::OsString;

use anyhow::Context as _;
use std::path::Path;

use crate::local::Tools;
use crate::subtitle_events::Event;

/// The fonts a subtitle draws with, as a spec sends them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fonts {
    /// Each font file's bytes and type (`ttf` ...), in the order libass
    /// first picked them.
    pub files: Vec<(proto::Bytes, String)>,
    /// The family each asked-for family is drawn with.
    pub aliases: Vec<(String, String)>,
}

impl Fonts {
    /// The bytes the files add to a spec.
    pub fn bytes(&self) -> usize {
        self.files.iter().map(|(b, _)| b.len()).sum()
    }

    /// Puts the fonts in a spec's filter.
    pub fn fill(&self, filter: &mut proto::v1::Filter) {
        filter.fonts = self
            .files
            .iter()
            .map(|(data, file_type)| proto::v1::FontFile {
                data: data.clone(),
                file_type: file_type.clone(),
            })
            .collect();
        filter.font_aliases = self
            .aliases
            .iter()
            .map(|(requested, family)| proto::v1::FontAlias {
                requested: requested.clone(),
                family: family.clone(),
            })
            .collect();
    }
}

/// The most events [`resolve`] draws: a feature film's subtitles hold one
/// to two thousand; each is one small frame.
pub const MAX_EVENTS: usize = 20_000;

/// The frame the events are drawn on: sizes change where glyphs go, not
/// which font draws them.
const CANVAS: &str = "640x360";

/// One font libass picked: the family, weight and slant asked for, and the
/// file and face index.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pick {
    requested: String,
    path: String,
    index: u32,
}

/// A burnt-in subtitle of a job: the filter (`subtitles` or `ass`), its
/// arguments as the node gets them (without the file), and the file's
/// bytes and type.
#[derive(Debug, Clone)]
pub struct Subtitle {
    /// `subtitles` or `ass`.
    pub filter: String,
    /// The arguments without the file.
    pub args: String,
    /// The subtitle file.
    pub bytes: proto::Bytes,
    /// Its type, by which ffmpeg reads it (`srt`).
    pub file_type: String,
}

/// The fonts the job's `subtitles` draw with (within `budget` bytes): the
/// files libass picks here for any of them, which a node puts in one
/// directory, checked to draw every event of each alike with the node's
/// configuration; and the events of all of them. `Err` says why the
/// command goes to ffmpeg: a check that fails for a reason of dffmpeg's
/// own (a scratch directory, an ffmpeg that fails on a blank frame) only
/// costs the speed.
///
/// Events that start at or after `horizon_ms` are never drawn: their fonts
/// are neither checked nor sent.
pub async fn resolve(
    tools: &Tools,
    subtitles: &[Subtitle],
    budget: usize,
    horizon_ms: Option<i64>,
) -> Result<(Fonts, Vec<Event>), String> {
    match check(tools, subtitles, budget, horizon_ms).await {
        Ok(checked) => checked,
        Err(error) => Err(format!("checking the subtitles' fonts: {error:#}")),
    }
}

/// [`resolve`], with dffmpeg's own failures apart.
async fn check(
    tools: &Tools,
    subtitles: &[Subtitle],
    budget: usize,
    horizon_ms: Option<i64>,
) -> anyhow::Result<Result<(Fonts, Vec<Event>), String>> {
    let dir = tempfile::tempdir()?;
    let Some(root) = dir.path().to_str().filter(|n| plain_path(n)).map(str::to_string) else {
        anyhow::bail!(
            "a temporary directory whose name filters cannot hold: {}",
            dir.path().display()
        );
    };
    let blank = [
        "-f",
        "lavfi",
        "-i",
        &format!("color=c=black:s={CANVAS}:r=25"),
        "-frames:v",
        "1",
        "-c:v",
        "ffv1",
        &format!("{root}/blank.mkv"),
    ];
    tools
        .ffmpeg(&blank.map(OsString::from))
        .await
        .context("making the frame subtitles are checked on")?;
    // Each subtitle's events, drawn as ffmpeg alone draws them, with this
    // machine's fonts.
    let mut draws = Vec::new();
    let mut all_events = Vec::new();
    let mut fonts = Fonts::default();
    let mut paths: Vec<String> = Vec::new();
    for (k, subtitle) in subtitles.iter().enumerate() {
        let Subtitle { filter, args, bytes, file_type } = subtitle;
        let file = format!("{root}/subtitle-{k}.{file_type}");
        tokio::fs::write(&file, bytes).await?;
        let events = match events(tools, &file, subtitle).await? {
            Ok(events) => events,
            Err(why) => return Ok(Err(why)),
        };
        let drawn = |e: &&Event| horizon_ms.is_none_or(|h| e.start_ms < h);
        let mut times: Vec<u64> = events
            .iter()
            .filter(drawn)
            .map(|e| ((e.start_ms + e.end_ms) / 2).max(0) as u64)
            .collect();
        times.sort_unstable();
        times.dedup();
        all_events.extend(events);
        let list = format!("{root}/events-{k}.ffconcat");
        tokio::fs::write(&list, concat_list(&times)).await?;
        let mut options = args.clone();
        if !options.is_empty() {
            options.push(':');
        }
        options.push_str(&format!("filename={file}"));
        let chain = format!("{filter}={}", node::spec::graph_escaped(&options));
        let draw = move |crc: &str| -> Vec<OsString> {
            let args = [
                "-f",
                "concat",
                "-i",
                &list,
                "-vf",
                &chain,
                "-fps_mode",
                "passthrough",
                "-f",
                "framecrc",
                crc,
            ];
            args.map(OsString::from).to_vec()
        };
        let here = format!("{root}/here-{k}.crc");
        let log = match tools.ffmpeg_log_in("verbose", &draw(&here), &[]).await {
            Ok(log) => String::from_utf8_lossy(&log).into_owned(),
            Err(error) => return Ok(Err(format!("{filter} {file_type}: {error:#}"))),
        };
        let picks = match picks(&log) {
            Ok(picks) => picks,
            Err(why) => return Ok(Err(why)),
        };
        for pick in picks {
            let family = match paths.iter().position(|p| *p == pick.path) {
                Some(at) => family_name(&fonts.files[at].0, pick.index),
                None => {
                    let Some(kind) = font_type(&pick.path) else {
                        return Ok(Err(format!(
                            "subtitle font {} is not distributable",
                            pick.path
                        )));
                    };
                    let data = match tokio::fs::read(&pick.path).await {
                        Ok(data) => proto::Bytes::from(data),
                        Err(error) => {
                            return Ok(Err(format!("subtitle font {}: {error}", pick.path)));
                        }
                    };
                    if fonts.bytes() + data.len() > budget {
                        return Ok(Err(format!(
                            "subtitles' fonts of over {budget} bytes are not distributable"
                        )));
                    }
                    let family = family_name(&data, pick.index);
                    fonts.files.push((data, kind));
                    paths.push(pick.path.clone());
                    family
                }
            };
            let Some(family) = family.filter(|f| node::fonts_conf::valid_family(f)) else {
                return Ok(Err(format!("subtitle font {} names no family", pick.path)));
            };
            let alias = (pick.requested.clone(), family);
            if !fonts.aliases.contains(&alias) {
                fonts.aliases.push(alias);
            }
        }
        draws.push((draw, here, filter));
    }
    // As a node draws them: its configuration, its font directory.
    let node_dir = format!("{root}/node");
    let fonts_dir = format!("{node_dir}/{}", node::fonts_conf::FONTS_DIR);
    tokio::fs::create_dir_all(&fonts_dir).await?;
    for (k, (data, kind)) in fonts.files.iter().enumerate() {
        tokio::fs::write(format!("{fonts_dir}/font-{k}.{kind}"), data).await?;
    }
    let fonts_path = Some(Path::new(&fonts_dir)).filter(|_| !fonts.files.is_empty());
    let cache = Path::new(&node_dir).join("fontconfig-cache");
    let conf = Path::new(&node_dir).join(node::spec::FONTS_CONF);
    tokio::fs::write(&conf, node::fonts_conf::config(fonts_path, &cache, &fonts.aliases)).await?;
    let env = [("FONTCONFIG_FILE", conf.as_path())];
    for (k, (draw, here, filter)) in draws.iter().enumerate() {
        let there = format!("{root}/node-{k}.crc");
        if let Err(error) = tools.ffmpeg_log_in("error", &draw(&there), &env).await {
            return Ok(Err(format!("{filter} with the nodes' fonts: {error:#}")));
        }
        let (here, there) = (tokio::fs::read(here).await?, tokio::fs::read(&there).await?);
        if here != there || here.is_empty() {
            return Ok(Err(format!(
                "{filter} would draw with other fonts on the nodes than here; not distributable"
            )));
        }
    }
    Ok(Ok((fonts, all_events)))
}

/// Whether a path may stand in filter arguments as it is.
fn plain_path(path: &str) -> bool {
    !path.contains([':', '\\', '\'', ',', ';', '[', ']', '=', ' '])
}

/// The formats ffmpeg may read a subtitle file as (by its content, as
/// ffprobe names them), whose times are milliseconds or centiseconds, which
/// libass's milliseconds hold exactly.
const FORMATS: &[&str] = &["srt", "ass", "webvtt"];

/// The events of the subtitle file `path` (of `subtitle`) as ffprobe reads
/// its packets (in milliseconds, as libass times them), those of no length
/// left out; or why they may not be what the filter shows: a format other
/// than [`FORMATS`] (`ass` reads ASS alone), an event of negative length
/// (the last of a file going back in time, which `subtitles` shows to the
/// end), an ASS file with `Dialogue:` lines its demuxer does not read
/// (libass does).
async fn events(
    tools: &Tools,
    path: &str,
    subtitle: &Subtitle,
) -> anyhow::Result<Result<Vec<Event>, String>> {
    // The node reads only files that begin as their type's do.
    if !node::spec::subtitle_content(&subtitle.file_type, &subtitle.bytes) {
        let kind = &subtitle.file_type;
        return Ok(Err(format!("a subtitle file that does not begin as {kind} does")));
    }
    let args = [
        "-v",
        "error",
        "-show_entries",
        "format=format_name:stream=time_base:packet=pts,duration",
        "-of",
        "csv",
        path,
    ];
    let out = match tools.ffprobe(&args.map(String::from)).await {
        Ok(out) => out,
        Err(error) => return Ok(Err(format!("reading the subtitle's events: {error:#}"))),
    };
    let text = String::from_utf8_lossy(&out);
    let format = text.lines().find_map(|l| l.strip_prefix("format,")).unwrap_or_default();
    let filter = subtitle.filter.as_str();
    if !FORMATS.contains(&format) || (filter == "ass" && format != "ass") {
        return Ok(Err(format!("{filter} of a file read as '{format}' is not distributable")));
    }
    let Some(tb) = crate::subtitle_events::csv_time_base(&text) else {
        return Ok(Err("the subtitle file holds no subtitle stream".into()));
    };
    let packets = text.lines().filter(|l| l.starts_with("packet,")).count();
    if format == "ass" && dialogue_lines(&subtitle.bytes) != packets {
        return Ok(Err(format!(
            "{filter}: an ASS file with Dialogue lines its demuxer does not read is not \
             distributable"
        )));
    }
    let mut events = Vec::new();
    for line in text.lines() {
        let Some(event) = Event::from_csv(line, tb) else { continue };
        if event.end_ms < event.start_ms {
            return Ok(Err(format!(
                "{filter}: an event of negative length (at {} ms) is not distributable",
                event.start_ms
            )));
        }
        if event.end_ms > event.start_ms {
            events.push(event);
        }
    }
    if events.len() > MAX_EVENTS {
        return Ok(Err(format!("subtitles of over {MAX_EVENTS} events are not distributable")));
    }
    Ok(Ok(events))
}

/// The lines of an ASS file that libass reads as events: `Dialogue:`
/// after any spaces (in any case, to count more rather than fewer).
fn dialogue_lines(bytes: &[u8]) -> usize {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| l.trim_start().to_ascii_lowercase().starts_with("dialogue:"))
        .count()
}

/// A concat list that shows the blank frame at 0 and at each of `times`
/// (milliseconds, increasing): each entry lasts until the next.
fn concat_list(times: &[u64]) -> String {
    let mut list = String::from("ffconcat version 1.0\n");
    let mut at = 0;
    for &time in times.iter().filter(|&&t| t > 0) {
        list.push_str(&format!("file blank.mkv\nduration {}\n", seconds(time - at)));
        at = time;
    }
    list.push_str("file blank.mkv\n");
    list
}

/// Milliseconds as decimal seconds.
fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// The fonts libass logged that it picked (`fontselect: (FAMILY, WEIGHT,
/// SLANT) -> PATH, INDEX, POSTSCRIPT NAME`), each once, in order; or why
/// not: a second font for one family, weight and slant is a fallback for
/// glyphs the first lacks, which libass finds through fontconfig's
/// fallback order (not sent) and keeps for later events.
fn picks(log: &str) -> Result<Vec<Pick>, String> {
    let mut out: Vec<(Pick, &str)> = Vec::new();
    for line in log.lines() {
        let Some((_, rest)) = line.split_once("fontselect: (") else { continue };
        let Some((request, picked)) = rest.split_once(") -> ") else { continue };
        let Some(requested) = request.rsplitn(3, ", ").nth(2) else { continue };
        let mut fields = picked.rsplitn(3, ", ");
        let (_postscript, index, path) = (fields.next(), fields.next(), fields.next());
        let (Some(Ok(index)), Some(path)) = (index.map(str::parse::<u32>), path) else {
            continue;
        };
        let pick = Pick { requested: requested.to_string(), path: path.to_string(), index };
        match out.iter().find(|(_, r)| *r == request) {
            Some((before, _)) if *before == pick => {}
            Some(_) => {
                return Err(format!(
                    "subtitles drawing glyphs of ({request}) with a fallback font are not \
                     distributable"
                ));
            }
            None => out.push((pick, request)),
        }
    }
    Ok(out.into_iter().map(|(pick, _)| pick).collect())
}

/// The type a node takes a font file as, by its extension.
fn font_type(path: &str) -> Option<String> {
    let ext = Path::new(path).extension()?.to_str()?.to_ascii_lowercase();
    node::spec::FONT_TYPES.contains(&ext.as_str()).then_some(ext)
}

/// The family (name 1, as fontconfig lists it first among a face's
/// families) of face `index` of a font file: English where there are
/// several.
fn family_name(data: &[u8], index: u32) -> Option<String> {
    let face = ttf_parser::Face::parse(data, index).ok()?;
    let families = || face.names().into_iter().filter(|n| n.name_id == ttf_parser::name_id::FAMILY);
    let english = families().find(|n| n.is_unicode() && n.language_id == 0x0409);
    english.into_iter().chain(families()).find_map(|n| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_picks_are_read_from_libass_log() {
        let log = "[Parsed_subtitles_0 @ 0x1] fontselect: (Arial, 400, 0) -> /usr/share/fonts/a b, c.ttf, 0, DejaVuSans\n\
                   [Parsed_subtitles_0 @ 0x1] fontselect: (Arial, 400, 0) -> /usr/share/fonts/a b, c.ttf, 0, DejaVuSans\n\
                   [Parsed_subtitles_0 @ 0x1] fontselect: (My, Font, 700, 100) -> /f/x.ttc, 2, X-Bold\n\
                   [Parsed_subtitles_0 @ 0x1] fontselect: failed to find any fallback with glyph 0x41 for font: (Z, 400, 0)\n";
        let found = picks(log).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(
            (found[0].requested.as_str(), found[0].path.as_str()),
            ("Arial", "/usr/share/fonts/a b, c.ttf")
        );
        assert_eq!((found[1].requested.as_str(), found[1].index), ("My, Font", 2));
    }

    /// A second font for one request is a fallback for some glyphs.
    #[test]
    fn a_fallback_font_is_refused() {
        let log = "fontselect: (DejaVu Serif, 400, 0) -> /f/DejaVuSerif.ttf, 0, DejaVuSerif\n\
                   fontselect: (DejaVu Serif, 700, 0) -> /f/DejaVuSerif-Bold.ttf, 0, DejaVuSerif-Bold\n\
                   fontselect: (DejaVu Serif, 400, 0) -> /f/DejaVuSans.ttf, 0, DejaVuSans\n";
        assert!(picks(log).unwrap_err().contains("(DejaVu Serif, 400, 0)"));
        assert_eq!(dialogue_lines(b"[Events]\nDialogue: a\n dialogue: b\nComment: c\n"), 2);
    }

    #[test]
    fn the_list_shows_a_frame_at_each_time() {
        assert_eq!(concat_list(&[]), "ffconcat version 1.0\nfile blank.mkv\n");
        assert_eq!(
            concat_list(&[0, 1500, 61001]),
            "ffconcat version 1.0\nfile blank.mkv\nduration 1.500\nfile blank.mkv\nduration 59.501\nfile blank.mkv\n"
        );
    }

    #[test]
    fn only_the_nodes_font_types_go() {
        assert_eq!(font_type("/f/DejaVuSans.TTF").as_deref(), Some("ttf"));
        assert_eq!(font_type("/f/a.pfb"), None);
    }
}
