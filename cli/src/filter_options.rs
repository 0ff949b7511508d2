//! A filter's options as libavfilter's option parser reads its arguments
//! (`avfilter.c` `process_options`, `av_opt_get_key_value`): `key=value`
//! pairs and leading unnamed values, separated by `:`, each value read by
//! `av_get_token` (quotes and `\` escapes). The graph's own quoting is
//! already undone (`args::unquoted`).

use node::av_token::token;

/// One option: its key, `None` when given by position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterOption {
    /// The option's name, as written before `=`.
    pub key: Option<String>,
    /// Its value, as the option gets it.
    pub value: String,
}

/// The options of `args`, in order. `Err` where ffmpeg's parser would
/// fail (an empty name) or where a positional value follows a named one.
pub fn options(args: &str) -> Result<Vec<FilterOption>, String> {
    let mut found = Vec::new();
    let mut rest = args;
    let mut named = false;
    while !rest.is_empty() {
        let key = key(rest);
        let start = match key {
            Some((_, after)) => after,
            None => rest,
        };
        let (value, after) = token(start, &[':']);
        match key {
            Some(("", _)) => return Err(format!("an option without a name in '{args}'")),
            Some((name, _)) => {
                named = true;
                found.push(FilterOption { key: Some(name.to_string()), value });
            }
            None if named => return Err(format!("an unnamed option after named ones in '{args}'")),
            None => found.push(FilterOption { key: None, value }),
        }
        rest = after.strip_prefix(':').unwrap_or(after);
    }
    Ok(found)
}

/// The name before `=` at the start of `input` and what follows the `=`,
/// as `get_key` reads it (letters, digits, `-_/.`, whitespace around).
fn key(input: &str) -> Option<(&str, &str)> {
    let ws = [' ', '\n', '\t', '\r'];
    let start = input.trim_start_matches(ws);
    let end = start
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/' | '.')))
        .unwrap_or(start.len());
    let after = start[end..].trim_start_matches(ws);
    after.strip_prefix('=').map(|value| (&start[..end], value))
}

/// Options written back as arguments that [`options`] reads the same:
/// values quoted where they hold anything but plain characters and spaces
/// inside (which `av_get_token` keeps; it trims a value's ends).
pub fn render(options: &[FilterOption]) -> String {
    let plain = |v: &str| {
        v.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.=+-*/()<>!,@#& ".contains(&b))
            && !v.starts_with(' ')
            && !v.ends_with(' ')
    };
    options
        .iter()
        .map(|o| {
            let value =
                if plain(&o.value) { o.value.clone() } else { node::av_token::quoted(&o.value) };
            match &o.key {
                Some(key) => format!("{key}={value}"),
                None => value,
            }
        })
        .collect::<Vec<_>>()
        .join(":")
}

/// `args` with every option named: the unnamed ones (which come first)
/// get the names of `positional`, in order, as the filter's option table
/// gives them. `Err` for more unnamed options than `positional` names.
pub fn named(args: &str, positional: &[&str]) -> Result<String, String> {
    let mut found = options(args)?;
    for (k, option) in found.iter_mut().enumerate() {
        if option.key.is_none() {
            let Some(key) = positional.get(k) else {
                return Err(format!("more than {} unnamed options", positional.len()));
            };
            option.key = Some(key.to_string());
        }
    }
    Ok(render(&found))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(args: &str) -> Vec<(Option<&str>, String)> {
        let found = options(args).unwrap();
        found
            .into_iter()
            .map(|o| (o.key.map(|k| if k == "text" { "text" } else { "k" }), o.value))
            .collect()
    }

    #[test]
    fn reads_as_the_option_parser_does() {
        let found = options("a.cube:interp=nearest").unwrap();
        assert_eq!(found[0], FilterOption { key: None, value: "a.cube".into() });
        assert_eq!(found[1], FilterOption { key: Some("interp".into()), value: "nearest".into() });
        let text = pairs("text=Take 3\\: %{pts\\:hms}:fontsize=20");
        assert_eq!(text[0], (Some("text"), "Take 3: %{pts:hms}".into()));
        let quoted = pairs("text='it''s'  :x=1");
        assert_eq!(quoted[0].1, "its");
        assert!(options("=x").is_err());
        assert!(options("x=1:2").is_err());
    }

    #[test]
    fn names_what_comes_by_position() {
        let positional = ["preset", "master"];
        assert_eq!(named("vintage", &positional).unwrap(), "preset=vintage");
        assert_eq!(
            named("none:0/0 1/1:r=0/1", &positional).unwrap(),
            "preset=none:master=0/0 1/1:r=0/1"
        );
        assert!(named("a:b:c", &positional).is_err());
    }

    #[test]
    fn renders_what_it_reads() {
        let cases = [
            "fontsize=20:text='a: b, [c]; it'\\''s':x=(w-tw)/2",
            "a.cube:interp=nearest",
            "r=0/0 0.5/0.58 1/1:g=' 0/0':b='1/1 '",
        ];
        for args in cases {
            let found = options(args).unwrap();
            assert_eq!(options(&render(&found)).unwrap(), found, "{args}");
        }
    }
}
