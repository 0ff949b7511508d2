//! drawtext without `fontfile` draws with the font fontconfig picks for its
//! `font` (a family, `Sans` by default) on the machine ffmpeg runs on. The
//! nodes' ffmpeg has no fonts to pick from (it reads a configuration of
//! none), and another machine's fonts would draw other glyphs; so the
//! coordinator, on the machine where ffmpeg alone would have run, asks its
//! own ffmpeg which file that is (drawtext logs `Using "FILE"` at debug
//! level), and the job's drawtext names that file, which then travels with
//! every chunk as any font file does (`filter_files`).
//!
//! The size changes with the way the font is found: from a file drawtext's
//! default size is 16, from fontconfig it is the matched size (12 unless
//! the configuration says otherwise), so the job's drawtext also gets an
//! explicit size. Rather than trust either rule, [`resolve`] draws a
//! sample both ways on one frame and keeps the file only if the two
//! frames are the same (a face of a collection other than the first, or a
//! configured size, would differ). The frame is sized for the sample at
//! that size, and the sample must show on it: a comparison of two blank
//! frames would prove nothing.

use std::ffi::OsString;

use crate::local::Tools;

/// The font a drawtext without `fontfile` draws with, as a file and a size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The font file fontconfig gives ffmpeg.
    pub path: String,
    /// The size to name with it: the user's, or fontconfig's default.
    pub fontsize: String,
}

/// The size drawtext takes from fontconfig's match when none is given:
/// `FcDefaultSubstitute`'s 12 points, rounded.
pub const FONTCONFIG_DEFAULT_SIZE: &str = "12";

/// A sample of glyphs with ascenders, descenders and digits.
const SAMPLE: &str = "Hg0";

/// The largest size [`resolve`] checks (in pixels): the check draws on a
/// frame about three times as wide, which past this grows costly.
pub const MAX_CHECKED_SIZE: f64 = 1024.0;

/// The size in pixels of a drawtext without `fontfile` at `fontsize`, if
/// [`resolve`] can check it: a plain number up to [`MAX_CHECKED_SIZE`].
/// fontconfig reads the size at the filter's start, before any frame, so
/// an expression would match by what it gives then.
pub fn checked_size(fontsize: &str) -> Result<f64, String> {
    let plain = fontsize.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    match fontsize.parse::<f64>() {
        Ok(size) if plain && size > 0.0 && size <= MAX_CHECKED_SIZE => Ok(size),
        _ => {
            Err(format!("drawtext without fontfile at fontsize '{fontsize}' is not distributable"))
        }
    }
}

/// The frame the sample is drawn on at `size` pixels: drawtext puts it at
/// the top left; it is about `1.3 * size` high (ascender to descender) and
/// under `2.5 * size` wide, so it fits with a margin.
fn canvas(size: f64) -> (u32, u32) {
    let even = |v: f64| (v.ceil() as u32 + 16).next_multiple_of(2);
    (even(size * 3.0), even(size * 2.0))
}

/// The font file and size ffmpeg's drawtext uses for `family` at
/// `fontsize` (as the user gave them, `None` when not given), checked by
/// drawing a sample both ways; or why the command goes to ffmpeg.
pub async fn resolve(
    tools: &Tools,
    family: Option<&str>,
    fontsize: Option<&str>,
) -> Result<Resolved, String> {
    let plain = |v: &str, extra: &[u8]| {
        !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
    };
    if let Some(family) = family.filter(|f| !plain(f, b" -_.") || f.starts_with(' ')) {
        return Err(format!("drawtext font '{family}' is not distributable"));
    }
    let given = fontsize;
    let fontsize = fontsize.unwrap_or(FONTCONFIG_DEFAULT_SIZE);
    let canvas = canvas(checked_size(fontsize)?);
    let mut asked = String::new();
    if let Some(family) = family {
        asked.push_str(&format!("font={family}:"));
    }
    if let Some(size) = given {
        asked.push_str(&format!("fontsize={size}:"));
    }
    let sample = |drawtext: &str| format!("drawtext={drawtext}fontcolor=white:text={SAMPLE}");
    let log = run(tools, "debug", canvas, &[&sample(&asked)]).await?;
    let path = log
        .lines()
        .filter(|line| line.contains("Parsed_drawtext"))
        .find_map(|line| line.split_once("Using \"")?.1.strip_suffix('"'))
        .ok_or("ffmpeg named no font for drawtext")?
        .to_string();
    // The path goes into filter arguments (here, and as the job's
    // fontfile); a collection's face would be chosen by index.
    let named = path.starts_with('/') && plain(&path, b"/-_.+ ") && !path.ends_with(' ');
    let single = [".ttf", ".otf"].iter().any(|ext| path.to_ascii_lowercase().ends_with(ext));
    if !named || !single {
        return Err(format!("drawtext's font {path} is not distributable"));
    }
    let file = format!("fontfile={path}:fontsize={fontsize}:");
    // The third frame, with nothing drawn, shows the sample was drawn.
    let log = run(tools, "info", canvas, &[&sample(&asked), &sample(&file), "null"]).await?;
    let checksums: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("Parsed_showinfo"))
        .filter_map(|line| line.split_once(" checksum:")?.1.split_whitespace().next())
        .collect();
    match checksums.as_slice() {
        [a, b, blank] if a == b && a != blank => {
            Ok(Resolved { path, fontsize: fontsize.to_string() })
        }
        _ => {
            Err(format!("drawtext's font {path} does not draw as fontconfig's; not distributable"))
        }
    }
}

/// Checks that a font file (its bytes, of type `file_type`) loads in
/// drawtext where the nodes run it, with no fonts to fall back on: ffmpeg
/// alone falls back to fontconfig's font for a file FreeType cannot load
/// and draws anyway, where every chunk would fail. `Err` says why the
/// command goes to ffmpeg.
pub async fn loads(
    tools: &Tools,
    font: &[u8],
    file_type: &str,
    path: &str,
) -> anyhow::Result<Result<(), String>> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join(format!("font.{file_type}"));
    tokio::fs::write(&file, font).await?;
    let conf = dir.path().join(node::spec::FONTS_CONF);
    tokio::fs::write(&conf, node::fonts_conf::config(None, dir.path(), &[])).await?;
    let Some(name) = file.to_str().filter(|n| !n.contains([':', '\\', '\'', ',', ';', '[', ']']))
    else {
        // Only costs the speed: ffmpeg runs the command.
        let name = file.display();
        return Ok(Err(format!("a temporary directory whose name filters cannot hold: {name}")));
    };
    let chain = format!("drawtext=fontfile={name}:fontcolor=white:text={SAMPLE}");
    let env = [("FONTCONFIG_FILE", conf.as_path())];
    Ok(match run_in(tools, "error", canvas(16.0), &[&chain], &env).await {
        Ok(_) => Ok(()),
        Err(_) => Err(format!("drawtext's font file {path} does not load; not distributable")),
    })
}

/// Runs ffmpeg at `loglevel` on one black frame of `size` drawn by each of
/// `chains` (each followed by `showinfo`), and returns its log.
async fn run(
    tools: &Tools,
    loglevel: &str,
    size: (u32, u32),
    chains: &[&str],
) -> Result<String, String> {
    run_in(tools, loglevel, size, chains, &[]).await
}

/// [`run`] with `env` added to ffmpeg's environment.
async fn run_in(
    tools: &Tools,
    loglevel: &str,
    (width, height): (u32, u32),
    chains: &[&str],
    env: &[(&str, &std::path::Path)],
) -> Result<String, String> {
    let labels: Vec<String> = (0..chains.len()).map(|k| format!("[in{k}]")).collect();
    let mut graph = format!(
        "color=c=black:s={width}x{height}:d=0.04,split={}{};",
        chains.len(),
        labels.concat()
    );
    for (k, chain) in chains.iter().enumerate() {
        graph.push_str(&format!("{}{chain},showinfo[out{k}];", labels[k]));
    }
    graph.pop();
    let mut args: Vec<OsString> = vec!["-filter_complex".into(), graph.into()];
    for k in 0..chains.len() {
        for a in ["-map".to_string(), format!("[out{k}]"), "-f".into(), "null".into(), "-".into()] {
            args.push(a.into());
        }
    }
    let log = tools.ffmpeg_log_in(loglevel, &args, env).await.map_err(|e| format!("{e:#}"))?;
    Ok(String::from_utf8_lossy(&log).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_sizes_up_to_the_checked_bound_are_checked() {
        assert_eq!(checked_size("24"), Ok(24.0));
        assert_eq!(checked_size("12.5"), Ok(12.5));
        assert_eq!(checked_size("1024"), Ok(MAX_CHECKED_SIZE));
        for refused in ["1025", "2000", "0", "h/20", "1.2.3", "", "1e2", "inf"] {
            assert!(checked_size(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn the_sample_fits_its_frame() {
        // "Hg0" at `size` pixels: about 1.3 * size high, 2.5 * size wide.
        for size in [1.0, 12.0, 150.0, MAX_CHECKED_SIZE] {
            let (w, h) = canvas(size);
            assert!(f64::from(w) >= 2.5 * size && f64::from(h) >= 1.3 * size, "{size}");
            assert!(w % 2 == 0 && h % 2 == 0);
        }
    }
}
