//! The fontconfig configuration a chunk's ffmpeg reads (`FONTCONFIG_FILE`).
//!
//! Without burnt-in subtitles it names no fonts at all, so that drawtext,
//! whose font file does not load, finds no other font than the one sent.
//! With them it names the chunk's own font directory, which holds only the
//! files libass picked on the coordinator, and one substitution per family
//! the subtitle asks for (`Arial` drawn with `DejaVu Sans`, as the
//! coordinator's fontconfig substituted it): libass takes a family's
//! substitutes from fontconfig, then picks among the fonts it was given
//! by their names and styles. The coordinator runs this same configuration
//! beside its own before it distributes (`cli::subtitle_fonts`).

use std::path::Path;

/// The directory, in a chunk's directory, that holds a subtitle's fonts.
pub const FONTS_DIR: &str = "fonts";

/// The configuration: no fonts without `fonts_dir`; else that directory,
/// a cache in `cache_dir`, and `aliases` (family asked for, family drawn
/// with), each substituted before any other. Paths must be absolute.
pub fn config(fonts_dir: Option<&Path>, cache_dir: &Path, aliases: &[(String, String)]) -> String {
    let mut out = String::from("<?xml version=\"1.0\"?>\n<fontconfig>\n");
    let Some(fonts_dir) = fonts_dir else {
        out.push_str("</fontconfig>\n");
        return out;
    };
    let path = |p: &Path| escaped(&p.to_string_lossy());
    out.push_str(&format!("<dir>{}</dir>\n", path(fonts_dir)));
    out.push_str(&format!("<cachedir>{}</cachedir>\n", path(cache_dir)));
    for (requested, family) in aliases {
        out.push_str(&format!(
            "<match target=\"pattern\"><test name=\"family\" compare=\"eq\"><string>{}</string></test>\
             <edit name=\"family\" mode=\"prepend\" binding=\"strong\"><string>{}</string></edit></match>\n",
            escaped(requested),
            escaped(family)
        ));
    }
    out.push_str("</fontconfig>\n");
    out
}

/// Whether `family` may be named in the configuration: a family name as
/// fonts give them, of characters XML allows (fontconfig ignores a file
/// that holds others, and reads the machine's configuration instead), no
/// control characters.
pub fn valid_family(family: &str) -> bool {
    let allowed = |c: char| !c.is_control() && !matches!(c, '\u{fffe}' | '\u{ffff}');
    !family.trim().is_empty() && family.len() <= 256 && family.chars().all(allowed)
}

/// `text` as XML character data.
fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_fonts_without_a_directory() {
        let conf = config(None, Path::new("/c"), &[]);
        assert_eq!(conf, "<?xml version=\"1.0\"?>\n<fontconfig>\n</fontconfig>\n");
    }

    #[test]
    fn names_are_escaped() {
        let aliases = vec![("A&B <x>".to_string(), "Fam\"ily'".to_string())];
        let conf = config(Some(Path::new("/d/fonts")), Path::new("/d/cache"), &aliases);
        assert!(conf.contains("<dir>/d/fonts</dir>"), "{conf}");
        assert!(conf.contains("<string>A&amp;B &lt;x&gt;</string>"), "{conf}");
        assert!(conf.contains("<string>Fam&quot;ily&apos;</string>"), "{conf}");
        assert!(valid_family("DejaVu Sans"));
        assert!(!valid_family(" "));
        assert!(!valid_family("a\nb"));
        assert!(!valid_family("a\u{ffff}"));
    }
}
