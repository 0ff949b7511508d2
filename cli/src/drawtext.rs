//! Whether a `drawtext` (burnt-in titles, a slate, the running time) draws
//! on each frame what ffmpeg alone draws there, when each chunk runs it from
//! its own first frame. Its font travels with the spec (`filter_files`); its
//! text may show the frame's time (`%{pts}`) and expressions of it, which the
//! nodes reproduce, since every frame keeps its time. What counts frames
//! (`%{n}`, `n` in an expression, `start_number`), reads the clock or the
//! machine (`%{localtime}`, `basetime`, `font`, `expansion=strftime`), reads
//! the source's packets (`pkt_pos`, `pkt_size`, `pkt_duration`,
//! `pict_type`), or draws random numbers (`rand`) is not distributable; nor a
//! place that depends on the previous frame's (`x` reading `x`).

use crate::filter_options::FilterOption;

/// Words of drawtext's expressions that a chunk does not reproduce, beyond
/// those of every filter (`route::chunk_dependent_variable`).
const DRAWTEXT_DEPENDENT: &[&str] = &["rand", "pkt_pos", "pkt_size", "pkt_duration", "pict_type"];

/// Checks drawtext's options (but the font file) and its text.
pub fn check(options: &[FilterOption], text: &str) -> Result<(), String> {
    let refuse = |what: &str| Err(format!("drawtext {what} is not distributable"));
    let mut expanded = true;
    let mut place = (None, None);
    for option in options {
        let key = option.key.as_deref().unwrap_or_default();
        let value = option.value.as_str();
        match key {
            "expansion" => match value {
                "none" | "0" => expanded = false,
                "normal" | "1" => {}
                _ => return refuse(&format!("expansion={value}")),
            },
            "x" => place.0 = Some(value),
            "y" => place.1 = Some(value),
            "fontsize" => {
                if let Some(word) = layout(value) {
                    return refuse(&format!("fontsize reading {word}"));
                }
            }
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
    node::drawtext::check_text(text, expanded).or_else(|why| refuse(&format!("text: {why}")))?;
    if !expanded {
        return Ok(());
    }
    // The node checked the calls' names and arguments; their expressions
    // must not read frame counts, chance, or the layout (below).
    for call in node::drawtext::functions(text).map_err(|why| format!("drawtext text: {why}"))? {
        let expression = match call[0].as_str() {
            "expr" | "e" | "expr_int_format" | "eif" => call.get(1),
            _ => None,
        };
        if let Some(word) = expression.and_then(|e| dependent(e).or_else(|| layout(e))) {
            return refuse(&format!("text %{{{}}} reading {word}", call.join(":")));
        }
    }
    Ok(())
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
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).find(|w| LAYOUT.contains(w))
}

/// The word of an expression that a chunk does not reproduce, if any.
fn dependent(expr: &str) -> Option<&str> {
    crate::route::chunk_dependent_variable(expr).or_else(|| {
        expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .find(|word| DRAWTEXT_DEPENDENT.contains(word))
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
    fn time_and_looks_are_distributable() {
        let looks = named(&[("fontsize", "24"), ("fontcolor", "white@0.8"), ("x", "(w-tw)/2")]);
        assert!(check(&looks, "Take 3: %{pts:hms} %{eif:t*25:d:5} %{pts:flt:-1.5}").is_ok());
        assert!(check(&named(&[("expansion", "none")]), "100% %{n}").is_ok());
    }

    #[test]
    fn frame_counts_clocks_and_chance_are_not() {
        let none = named(&[]);
        for text in [
            "%{n}",
            "%{frame_num}",
            "%{localtime}",
            "%{pts:localtime}",
            "%{e:n*2}",
            "%{e:rand(0,1)}",
            "%{pict_type}",
            "%{eif:t:s}",
        ] {
            assert!(check(&none, text).is_err(), "{text}");
        }
        for options in [
            named(&[("x", "n*2")]),
            named(&[("y", "rand(0,h)")]),
            named(&[("x", "x+1")]),
            named(&[("start_number", "5")]),
            named(&[("expansion", "strftime")]),
            named(&[("basetime", "0")]),
            named(&[("alpha", "if(lt(pkt_pos,0),1,0)")]),
            named(&[("fontsize", "10+tw/5")]),
        ] {
            assert!(check(&options, "hi").is_err(), "{options:?}");
        }
    }
}
