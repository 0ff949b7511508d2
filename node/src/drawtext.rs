//! drawtext, the filter that burns text into the picture (titles, slates,
//! a running time): what of it a spec may carry. Its font travels as the
//! filter's file (`spec::FILE_FILTERS`, option `fontfile`); its text, which
//! may hold any character, travels apart from the arguments
//! ([`proto::v1::Filter::text`]) and the node quotes it itself.

use crate::av_token::token;

/// drawtext's options a spec may set in a filter's arguments, all named:
/// looks, place and timeline. Not `textfile`, `reload`, `text_source`
/// (other sources of text), `font` (the machine's fontconfig), `timecode`,
/// `timecode_rate`, `r`, `rate`, `tc24hmax`, `start_number`, `basetime`
/// (they count frames or read the clock), nor `fontcolor_expr`.
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
];

/// The functions drawtext's text may call (`%{pts:hms}`, `%{eif:t*25:d}`):
/// the time and expressions. Not `n`/`frame_num`, `localtime`/`gmtime`,
/// `metadata` or `pict_type`.
pub const TEXT_FUNCTIONS: &[&str] = &["pts", "expr", "e", "expr_int_format", "eif"];

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
/// only, when `expanded` (its `expansion` is not `none`).
pub fn check_text(text: &str, expanded: bool) -> Result<(), String> {
    if text.is_empty() {
        return Err("no text".into());
    }
    if !expanded {
        return match text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            true => Err("a control character in the text".into()),
            false => Ok(()),
        };
    }
    let calls = functions(text)?;
    match calls.iter().find(|argv| !TEXT_FUNCTIONS.contains(&argv[0].as_str())) {
        Some(argv) => Err(format!("the text function '{}'", argv[0])),
        None => Ok(()),
    }
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
    fn only_time_and_expressions_are_called() {
        assert!(check_text("%{pts} %{e:t*2}", true).is_ok());
        for text in ["%{n}", "%{frame_num}", "%{localtime}", "%{metadata:lavfi.x}", ""] {
            assert!(check_text(text, true).is_err(), "{text}");
        }
        // Unexpanded, %{n} and a lone % are text.
        assert!(check_text("%{n} 100%", false).is_ok());
    }
}
