//! Whether a `drawtext` (burnt-in titles, a slate, the running time, frame
//! numbers, a timecode) draws on each frame what ffmpeg alone draws there,
//! when each chunk runs it from its own first frame. Its font travels with
//! the spec (`filter_files`); its text may show the frame's time (`%{pts}`)
//! and expressions of it, which the nodes reproduce, since every frame
//! keeps its time. What counts frames (`%{n}`, `n` in an expression, a
//! `timecode`) counts from the chunk's first frame, so each chunk's spec
//! starts the count where ffmpeg alone's stands at that frame
//! ([`for_chunk`]: `start_number` and the timecode moved by the frames
//! before the chunk). What reads the clock or the machine
//! (`%{localtime}`, `basetime`, `font`, `expansion=strftime`), reads the
//! source's packets (`pkt_pos`, `pkt_size`, `pkt_duration`, `pict_type`),
//! or draws random numbers (`rand`) is not distributable; nor a place that
//! depends on the previous frame's (`x` reading `x`), nor `n` in `enable`,
//! which libavfilter counts from the link, not from `start_number`.

use node::timecode::Timecode;

use crate::filter_options::{FilterOption, options, render};
use crate::time_expr::words;

/// Words of drawtext's expressions that a chunk does not reproduce, beyond
/// those of every filter (`route::chunk_dependent_variable`, but `n`).
const DRAWTEXT_DEPENDENT: &[&str] = &["rand", "pkt_pos", "pkt_size", "pkt_duration", "pict_type"];

/// Checks drawtext's options (but the font file, the timecode and the
/// text) and its text, and its `timecode` if it has one.
pub fn check(options: &[FilterOption], text: &str, timecode: Option<&str>) -> Result<(), String> {
    let refuse = |what: &str| Err(format!("drawtext {what} is not distributable"));
    let mut expanded = true;
    let mut place = (None, None);
    if let Some(tc) = timecode.filter(|tc| Timecode::parse(tc).is_none()) {
        return refuse(&format!("timecode '{tc}' (hh:mm:ss:ff or hh:mm:ss;ff is)"));
    }
    for option in options {
        let key = option.key.as_deref().unwrap_or_default();
        let value = option.value.as_str();
        match key {
            "expansion" => match value {
                // The last one counts.
                "none" | "0" => expanded = false,
                "normal" | "1" => expanded = true,
                _ => return refuse(&format!("expansion={value}")),
            },
            "x" => place.0 = Some(value),
            "y" => place.1 = Some(value),
            "fontsize" => {
                if let Some(word) = layout(value) {
                    return refuse(&format!("fontsize reading {word}"));
                }
            }
            "start_number" if start_number(value).is_none() => {
                return refuse(&format!("start_number={value}"));
            }
            "enable" if words(value).any(|w| w == "n") => return refuse("enable reading n"),
            _ if !node::drawtext::DRAWTEXT_OPTIONS.contains(&key) => {
                return refuse(&format!("option {key}"));
            }
            _ => {}
        }
        if let Some(word) = dependent(value) {
            return refuse(&format!("{key} reading {word}"));
        }
    }
    if crate::timed_overlay::reads_own_previous(place.0, place.1) {
        return refuse("x/y reading their own previous values");
    }
    node::drawtext::check_text(text, expanded, timecode.is_some())
        .or_else(|why| refuse(&format!("text: {why}")))?;
    if !expanded {
        return Ok(());
    }
    // The node checked the calls' names and arguments; their expressions
    // must not read chance, or the layout (below).
    for call in node::drawtext::functions(text).map_err(|why| format!("drawtext text: {why}"))? {
        if let Some(word) = expression(&call).and_then(|e| dependent(e).or_else(|| layout(e))) {
            return refuse(&format!("text %{{{}}} reading {word}", call.join(":")));
        }
    }
    Ok(())
}

/// The expression a text function evaluates (`%{e:t*2}`), if it is one.
fn expression(call: &[String]) -> Option<&str> {
    match call[0].as_str() {
        "expr" | "e" | "expr_int_format" | "eif" => call.get(1).map(String::as_str),
        _ => None,
    }
}

/// A `start_number` as the nodes take it: plain digits, small enough that
/// any chunk's start added to it is still an `int`.
fn start_number(value: &str) -> Option<u64> {
    let plain = !value.is_empty()
        && value.len() <= node::timecode::MAX_DIGITS
        && value.bytes().all(|b| b.is_ascii_digit());
    plain.then(|| value.parse().ok()).flatten()
}

/// Whether the drawtext of `args` (as `filter_files::normalized` writes
/// them) draws anything that counts frames: a timecode, `%{n}` or
/// `%{frame_num}`, `n` in an expression, or a text file (which may hold
/// any of them). Such a drawtext must see
/// every frame ffmpeg alone's sees from the first (see `route`).
pub fn counts_frames(args: &str) -> bool {
    let Ok(found) = options(args) else { return false };
    // The last `expansion` counts.
    let expansion = found.iter().rev().find(|o| o.key.as_deref() == Some("expansion"));
    let expanded = !expansion.is_some_and(|o| matches!(o.value.as_str(), "none" | "0"));
    found.iter().any(|o| match o.key.as_deref() {
        // What a text file holds is read after routing: taken as counting.
        Some("timecode" | "textfile") => true,
        Some("text") => {
            expanded
                && node::drawtext::functions(&o.value).is_ok_and(|calls| {
                    calls.iter().any(|call| {
                        matches!(call[0].as_str(), "n" | "frame_num")
                            || expression(call).is_some_and(|e| words(e).any(|w| w == "n"))
                    })
                })
        }
        Some("fontfile" | "font") => false,
        _ => words(&o.value).any(|w| w == "n"),
    })
}

/// The arguments of a drawtext (as `filter_files::normalized` writes them)
/// for a chunk whose first frame comes after `frames_before` frames have
/// passed the filter in ffmpeg alone: its frame numbers (`start_number`)
/// and timecode start that many frames later. `Err` where a count would
/// overflow ffmpeg's `int` (after about 1.1e9 frames); arguments that
/// cannot be read are returned as they are (the router refused them).
pub fn for_chunk(args: &str, frames_before: u64) -> Result<String, String> {
    let Ok(mut found) = options(args) else { return Ok(args.to_string()) };
    if frames_before == 0 {
        return Ok(args.to_string());
    }
    let overflow = || format!("drawtext counting past {frames_before} frames overflows");
    let mut numbered = false;
    for option in &mut found {
        match option.key.as_deref() {
            Some("start_number") => {
                numbered = true;
                if let Some(n) = start_number(&option.value) {
                    let n = n + frames_before;
                    if n > i32::MAX as u64 {
                        return Err(overflow());
                    }
                    option.value = n.to_string();
                }
            }
            Some("timecode") => {
                if let Some(tc) = Timecode::parse(&option.value) {
                    option.value = tc.later(frames_before).ok_or_else(overflow)?.to_string();
                }
            }
            _ => {}
        }
    }
    if !numbered && frames_before > i32::MAX as u64 {
        return Err(overflow());
    }
    if !numbered {
        // Before the file, the timecode and the text, which come last.
        let at = found
            .iter()
            .position(|o| matches!(o.key.as_deref(), Some("fontfile" | "timecode" | "text")))
            .unwrap_or(found.len());
        let value = frames_before.to_string();
        found.insert(at, FilterOption { key: Some("start_number".into()), value });
    }
    Ok(render(&found))
}

/// The variable of a `fontsize` or text expression that reads the text's
/// layout (its size, the glyphs' metrics, its place), if any: drawtext
/// evaluates those before it lays out the frame's text, so they hold the
/// previous frame's values, which a chunk starts at 0.
fn layout(expr: &str) -> Option<&str> {
    const LAYOUT: &[&str] = &[
        "tw",
        "text_w",
        "th",
        "text_h",
        "lh",
        "line_h",
        "max_glyph_w",
        "max_glyph_h",
        "max_glyph_a",
        "ascent",
        "max_glyph_d",
        "descent",
        "x",
        "y",
    ];
    words(expr).find(|w| LAYOUT.contains(w))
}

/// The word of an expression that a chunk does not reproduce, if any: `n`
/// is, since each chunk's count starts where ffmpeg alone's stands.
fn dependent(expr: &str) -> Option<&str> {
    words(expr).find(|word| {
        *word != "n" && crate::route::chunk_dependent_variable(word).is_some()
            || DRAWTEXT_DEPENDENT.contains(word)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(pairs: &[(&str, &str)]) -> Vec<FilterOption> {
        pairs
            .iter()
            .map(|(k, v)| FilterOption { key: Some(k.to_string()), value: v.to_string() })
            .collect()
    }

    #[test]
    fn time_frame_numbers_and_looks_are_distributable() {
        let looks = named(&[("fontsize", "24"), ("fontcolor", "white@0.8"), ("x", "(w-tw)/2")]);
        assert!(check(&looks, "Take 3: %{pts:hms} %{eif:t*25:d:5} %{pts:flt:-1.5}", None).is_ok());
        assert!(check(&named(&[("expansion", "none")]), "100% %{localtime}", None).is_ok());
        let counted = named(&[("start_number", "5"), ("x", "n*2"), ("alpha", "mod(n,2)")]);
        assert!(check(&counted, "%{n} %{frame_num} %{e:n*2}", None).is_ok());
        let timecode = named(&[("rate", "30000/1001"), ("tc24hmax", "1")]);
        assert!(check(&timecode, "", Some("00:59:59;20")).is_ok());
    }

    #[test]
    fn clocks_chance_and_the_previous_frame_are_not() {
        let none = named(&[]);
        for text in [
            "%{localtime}",
            "%{pts:localtime}",
            "%{e:n*pts}",
            "%{e:rand(0,1)}",
            "%{pict_type}",
            "%{eif:t:s}",
            "%{n:2}",
            "",
        ] {
            assert!(check(&none, text, None).is_err(), "{text}");
        }
        for options in [
            named(&[("x", "n*2+pts")]),
            named(&[("y", "rand(0,h)")]),
            named(&[("x", "x+1")]),
            named(&[("start_number", "-5")]),
            named(&[("start_number", "1e3")]),
            named(&[("start_number", "1234567890")]),
            named(&[("enable", "lt(n,25)")]),
            named(&[("expansion", "strftime")]),
            named(&[("basetime", "0")]),
            named(&[("alpha", "if(lt(pkt_pos,0),1,0)")]),
            named(&[("fontsize", "10+tw/5")]),
        ] {
            assert!(check(&options, "hi", None).is_err(), "{options:?}");
        }
        // The last expansion counts.
        let expanded_at_last = named(&[("expansion", "none"), ("expansion", "normal")]);
        assert!(check(&expanded_at_last, "%{localtime}", None).is_err());
        for timecode in ["00:00:00", "0:0:0:0 ", "+1:00:00:00", "00:00:00@00"] {
            assert!(check(&none, "hi", Some(timecode)).is_err(), "{timecode}");
        }
    }

    #[test]
    fn what_counts_frames_is_known() {
        for args in [
            "start_number=1:fontfile=f.ttf:text=%{n}",
            "fontfile=f.ttf:text='%{frame_num}'",
            "fontfile=f.ttf:text='%{eif:n*2:d}'",
            "x=10+n:fontfile=f.ttf:text=hi",
            "fontfile=f.ttf:timecode='00:00:00:00':text=",
            "expansion=none:expansion=normal:fontfile=f.ttf:text=%{n}",
        ] {
            assert!(counts_frames(args), "{args}");
        }
        for args in [
            "x=10:fontfile=f.ttf:text='%{pts:hms}'",
            "fontfile=n.ttf:text=n",
            "expansion=none:fontfile=f.ttf:text=%{n}",
            "expansion=normal:expansion=none:fontfile=f.ttf:text=%{n}",
        ] {
            assert!(!counts_frames(args), "{args}");
        }
    }

    /// Each chunk counts on from where ffmpeg alone's count stands at its
    /// first frame; the first chunk's arguments are the job's.
    #[test]
    fn a_later_chunk_counts_on() {
        let args = "x=10+n:start_number=7:fontfile=f.ttf:timecode='00:00:59;25':text='%{n}'";
        assert_eq!(for_chunk(args, 0).unwrap(), args);
        assert_eq!(
            for_chunk(args, 50).unwrap(),
            "x=10+n:start_number=57:fontfile=f.ttf:timecode='00:00:59;75':text='%{n}'"
        );
        assert_eq!(
            for_chunk("fontsize=9:fontfile=f.ttf:text='%{n}'", 3).unwrap(),
            "fontsize=9:start_number=3:fontfile=f.ttf:text='%{n}'"
        );
        assert!(for_chunk(args, i32::MAX as u64).is_err());
        assert!(for_chunk("start_number=999999999:fontfile=f.ttf:text=n", 1 << 31).is_err());
    }
}
