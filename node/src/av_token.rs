//! libavutil's `av_get_token`, which every level of ffmpeg's filter syntax
//! reads with: the graph (a filter's arguments), the filter's options (each
//! value), and drawtext's `%{...}` functions (each argument). The node uses
//! it to check drawtext's text as the filter will read it, and the
//! coordinator to read the user's arguments as ffmpeg does.

/// The characters `av_get_token` skips before a token and cuts after it.
const WHITESPACES: [char; 4] = [' ', '\n', '\t', '\r'];

/// The token at the start of `input`, up to the first of `terms` outside
/// quotes and escapes, and the rest of `input` from that terminator on:
/// leading whitespace skipped, quotes taken out (the quoted span kept as it
/// is), the character after each `\` kept as it is, and trailing whitespace
/// that no quote or escape kept cut off (libavutil `avstring.c`).
pub fn token<'a>(input: &'a str, terms: &[char]) -> (String, &'a str) {
    let input = input.trim_start_matches(WHITESPACES);
    let mut out = String::with_capacity(input.len());
    // The length of `out` that trailing whitespace may not be cut below.
    let mut kept = 0;
    let mut chars = input.char_indices().peekable();
    let mut rest = "";
    while let Some((i, c)) = chars.next() {
        match c {
            c if terms.contains(&c) => {
                rest = &input[i..];
                break;
            }
            '\\' if chars.peek().is_some() => {
                out.extend(chars.next().map(|(_, c)| c));
                kept = out.len();
            }
            '\'' => {
                for (_, q) in chars.by_ref() {
                    if q == '\'' {
                        kept = out.len();
                        break;
                    }
                    out.push(q);
                }
            }
            c => out.push(c),
        }
    }
    let trimmed = out[kept..].trim_end_matches(WHITESPACES).len();
    out.truncate(kept + trimmed);
    (out, rest)
}

/// `value` written so that [`token`] (with any terminators) reads it back
/// exactly: in quotes, a quote as `'\''`.
pub fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_as_libavutil_does() {
        assert_eq!(token("  min(1280\\,iw):-2", &[':']), ("min(1280,iw)".into(), ":-2"));
        assert_eq!(token("'a:b' c \\ :d", &[':']), ("a:b c  ".into(), ":d"));
        assert_eq!(token("x  ", &[]), ("x".into(), ""));
        assert_eq!(token("'unterminated", &[]), ("unterminated".into(), ""));
        assert_eq!(token("a\\", &[]), ("a\\".into(), ""));
    }

    #[test]
    fn quoted_values_read_back() {
        for value in ["", " lead and trail ", "it's: 100%, [ok]; \\n", "'"] {
            let text = quoted(value) + ":next";
            assert_eq!(token(&text, &[':']), (value.to_string(), ":next"), "{value}");
        }
    }
}
