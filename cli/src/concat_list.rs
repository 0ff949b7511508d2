//! `-f concat -i list.txt` (joining clips, then encoding them as one) reads
//! the files a list names as one stream: the demuxer moves each file's
//! timestamps on past the ones before, and every reader dffmpeg runs (the
//! probe, the cuts, the final mux) reads through the same demuxer, so the
//! frames, their order and their times are ffmpeg alone's.
//!
//! What chunks cannot reproduce is a change of the video between files:
//! ffmpeg alone scales every frame to the first one's size (`-autoscale`)
//! and keeps one encoder, where a chunk inside a later file would encode
//! that file's own size or format. So every listed file's video must be
//! alike ([`check`]), and the list may hold nothing but its files: the
//! `inpoint`, `outpoint`, `duration` and other directives change what the
//! demuxer gives in ways not checked here.

use std::path::{Path, PathBuf};

use crate::local::Tools;

/// The most files a list may name to be distributed: each is probed.
pub const MAX_FILES: usize = 256;

/// Why the concat list `list` cannot be distributed, if it cannot: a
/// directive other than `file`, or files whose video differ; `Ok(None)`
/// when it can. Errors only when a probe cannot be run.
pub async fn check(tools: &Tools, list: &Path) -> anyhow::Result<Option<String>> {
    let text = match tokio::fs::read(list).await {
        Ok(text) => text,
        Err(e) => return Ok(Some(format!("concat list {}: {e}", list.display()))),
    };
    let files = match files(&String::from_utf8_lossy(&text)) {
        Ok(files) => files,
        Err(why) => return Ok(Some(format!("concat list {}: {why}", list.display()))),
    };
    if files.len() > MAX_FILES {
        return Ok(Some(format!("a concat list of over {MAX_FILES} files is not distributable")));
    }
    let dir = list.parent().unwrap_or(Path::new(""));
    let mut first: Option<(PathBuf, String)> = None;
    for file in files {
        let path = dir.join(&file);
        let video = match video_description(tools, &path).await {
            Ok(video) => video,
            Err(e) => return Ok(Some(format!("concat list file {}: {e:#}", path.display()))),
        };
        match &first {
            None => first = Some((path, video)),
            Some((first_path, first_video)) if *first_video != video => {
                return Ok(Some(format!(
                    "concat list files {} and {} differ in their video ({first_video} against \
                     {video}); not distributable",
                    first_path.display(),
                    path.display()
                )));
            }
            Some(_) => {}
        }
    }
    Ok(None)
}

/// What of a file's video streams must match across a list: codec,
/// profile, size, pixel format, aspect, field order, colour, time base,
/// frame rate and the decoder's setup (the extradata: H.264's parameter
/// sets, which the concat demuxer repeats only before IDR frames, so a
/// chunk starting at another keyframe of a later clip would decode with
/// the first clip's) of each video stream, in ffprobe's words. Errors for
/// a nested concat list, whose own files this does not see.
async fn video_description(tools: &Tools, path: &Path) -> anyhow::Result<String> {
    let entries = "stream=codec_name,profile,width,height,pix_fmt,sample_aspect_ratio,\
                   field_order,color_range,color_space,color_transfer,color_primaries,time_base,\
                   r_frame_rate,extradata_hash:format=format_name";
    let args: Vec<String> = ["-v", "error", "-show_data_hash", "md5", "-select_streams", "v"]
        .into_iter()
        .chain(["-show_entries", entries, "-of", "csv=p=0"])
        .map(String::from)
        .chain(std::iter::once(path.to_string_lossy().into_owned()))
        .collect();
    let out = tools.ffprobe(&args).await?;
    let text = String::from_utf8_lossy(&out);
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.pop().is_some_and(|format| format.trim() == "concat") {
        anyhow::bail!("a concat list inside the list is not distributable");
    }
    Ok(lines.join("; "))
}

/// The files a concat script names, in order, or why it is refused: a
/// directive other than `file` (and the `ffconcat version 1.0` header),
/// or a name quoted in a way not read here.
fn files(script: &str) -> Result<Vec<String>, String> {
    let mut files = Vec::new();
    for line in script.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (directive, rest) = line.split_once([' ', '\t']).unwrap_or((line, ""));
        let rest = rest.trim();
        match directive {
            "ffconcat" if rest == "version 1.0" => {}
            "file" => files.push(file_name(rest).ok_or_else(|| format!("file {rest}"))?),
            _ => return Err(format!("the directive {directive} is not distributable")),
        }
    }
    if files.is_empty() {
        return Err("no file".into());
    }
    Ok(files)
}

/// A file name as `av_get_token` reads it: within single quotes as written,
/// outside them with `\` escaping the next character; `None` for what
/// would need more (unterminated quotes).
fn file_name(token: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => loop {
                match chars.next()? {
                    '\'' => break,
                    c => out.push(c),
                }
            },
            '\\' => out.push(chars.next()?),
            c if c.is_whitespace() => return None,
            c => out.push(c),
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_files_of_a_plain_list() {
        let script = "ffconcat version 1.0\n# clips\nfile 'a b.mp4'\nfile c.mp4\n\
                      file 'it'\\''s.mp4'\nfile d\\ e.mp4\n";
        assert_eq!(files(script).unwrap(), ["a b.mp4", "c.mp4", "it's.mp4", "d e.mp4"]);
    }

    #[test]
    fn refuses_other_directives_and_odd_names() {
        for script in [
            "file a.mp4\ninpoint 1\n",
            "file a.mp4\nduration 2\n",
            "file a.mp4\noption skip_frame nokey\n",
            "file 'a.mp4\n",
            "file a.mp4 b.mp4\n",
            "",
        ] {
            assert!(files(script).is_err(), "{script}");
        }
    }
}
