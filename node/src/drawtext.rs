//! drawtext, the filter that burns text into the picture (titles, slates,
//! a running time): what of it a spec may carry. Its font travels as the
//! filter's file (`spec::FILE_FILTERS`, option `fontfile`); its text, which
//! may hold any character, travels apart from the arguments
//! ([`proto::v1::Filter::text`]) and the node quotes it itself.

use crate::av_token::token;

/// drawtext's options a spec may set in a filter's arguments, all named:
/// looks, place, timeline, and what frame numbers and timecodes count
/// from (`start_number`, the timecode's rate and wrap; the timecode itself
/// travels in its own field, [`proto::v1::Filter::timecode`], as the text
/// does). Not `textfile`, `reload`, `text_source` (other sources of text),
/// `font` (the machine's fontconfig), `basetime` (the clock), nor
/// `fontcolor_expr`.
pub const DRAWTEXT_OPTIONS: &[&str] = &[
    "fontcolor",
    "boxcolor",
    "bordercolor",
    "shadowcolor",
    "box",
    "boxborderw",
    "line_spacing",
    "fontsize",
    "x",
    "y",
    "shadowx",
    "shadowy",
    "borderw",
    "tabsize",
    "expansion",
    "alpha",
    "fix_bounds",
    "text_shaping",
    "ft_load_flags",
    "enable",
    "start_number",
    "timecode_rate",
    "rate",
    "r",
    "tc24hmax",
];

/// The functions drawtext's text may call (`%{pts:hms}`, `%{eif:t*25:d}`,
/// `%{n}`): the time, the frame number and expressions. Not
/// `localtime`/`gmtime`, `metadata` or `pict_type`.
pub const TEXT_FUNCTIONS: &[&str] =
    &["pts", "expr", "e", "expr_int_format", "eif", "n", "frame_num"];

/// The `%{...}` functions of `text` as drawtext expands it (`vf_drawtext.c`
/// `expand_text`): each as its name and arguments, read as the filter reads
/// them. `Err` for text drawtext would refuse (a `%` not before `{`, an
/// unterminated `%{`) or that holds control characters other than newline
/// and tab.
pub fn functions(text: &str) -> Result<Vec<Vec<String>>, String> {
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err("a control character in the text".into());
    }
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        match c {
            '\\' => {
                if let Some(next) = rest.chars().next() {
                    rest = &rest[next.len_utf8()..];
                }
            }
            '%' => {
                let Some(mut args) = rest.strip_prefix('{') else {
                    return Err("a % not followed by {".into());
                };
                let mut argv = Vec::new();
                loop {
                    let (arg, after) = token(args, &[':', '}']);
                    argv.push(arg);
                    match after.chars().next() {
                        Some('}') => {
                            rest = &after[1..];
                            break;
                        }
                        Some(_) => args = &after[1..],
                        None => return Err("an unterminated %{".into()),
                    }
                }
                found.push(argv);
            }
            _ => {}
        }
    }
    Ok(found)
}

/// Checks drawtext's text for a spec: [`functions`] of [`TEXT_FUNCTIONS`]
/// only, when `expanded` (its `expansion` is not `none`). Only a filter
/// that shows a timecode may have no text (ffmpeg draws the timecode
/// alone).
pub fn check_text(text: &str, expanded: bool, timecode: bool) -> Result<(), String> {
    if text.is_empty() && !timecode {
        return Err("no text".into());
    }
    if !expanded {
        return match text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            true => Err("a control character in the text".into()),
            false => Ok(()),
        };
    }
    let calls = functions(text)?;
    match calls.iter().find(|argv| !call_allowed(argv)) {
        Some(argv) => Err(format!("the text function '%{{{}}}'", argv.join(":"))),
        None => Ok(()),
    }
}

/// Whether a call of the text (its name and arguments) is one of
/// [`TEXT_FUNCTIONS`], with arguments ffmpeg 5.1 takes that read nothing
/// but the frame: `pts` as seconds or h:m:s (not `localtime`, which reads
/// the machine's zone file, nor `gmtime`) with an offset in seconds; the
/// integer formats of `eif`.
pub fn call_allowed(argv: &[String]) -> bool {
    let arg = |i: usize| argv.get(i).map(String::as_str);
    match arg(0).unwrap_or_default() {
        "pts" => {
            argv.len() <= 3
                && matches!(arg(1), None | Some("flt" | "hms"))
                && arg(2).is_none_or(seconds)
        }
        "n" | "frame_num" => argv.len() == 1,
        "expr" | "e" => argv.len() == 2,
        "expr_int_format" | "eif" => {
            (3..=4).contains(&argv.len())
                && matches!(arg(2), Some("d" | "x" | "X" | "u"))
                && arg(3).is_none_or(|d| d.parse::<u8>().is_ok())
        }
        _ => false,
    }
}

/// `-S[.m]`: a number of seconds as `av_parse_time` reads a duration, in
/// its plainest form.
fn seconds(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_functions_as_drawtext_does() {
        let calls = functions("Take 3\\: %{pts:hms} \\%{n} %{eif:t*25:d:4}").unwrap();
        assert_eq!(calls, [vec!["pts", "hms"], vec!["eif", "t*25", "d", "4"]]);
        assert!(functions("100%").is_err());
        assert!(functions("%{pts").is_err());
        assert!(functions("a\u{7}b").is_err());
        assert!(functions("two\nlines\tand tabs").unwrap().is_empty());
    }

    #[test]
    fn only_time_frame_numbers_and_expressions_are_called() {
        let text = "%{pts} %{e:t*2} %{pts:hms:-1.5} %{eif:t:x:4} %{n} %{frame_num}";
        assert!(check_text(text, true, false).is_ok());
        for text in [
            "%{n:5}",
            "%{frame_num:x}",
            "%{localtime}",
            "%{pts:localtime}",
            "%{pts:gmtime:0}",
            "%{pts:flt:1e3}",
            "%{eif:t:o}",
            "%{metadata:lavfi.x}",
            "",
        ] {
            assert!(check_text(text, true, false).is_err(), "{text}");
        }
        // Unexpanded, %{localtime} and a lone % are text.
        assert!(check_text("%{localtime} 100%", false, false).is_ok());
        // A timecode may be drawn alone.
        assert!(check_text("", true, true).is_ok());
    }
}
