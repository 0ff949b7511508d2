//! The files that grading filters read (`-vf lut3d=grade.cube`,
//! `lut1d=file=curve.csp`): the nodes cannot open the user's path, so the
//! file's bytes travel with every chunk's spec and the node names its own
//! copy (`node::spec::FILE_FILTERS`). A LUT maps each pixel by itself, so
//! the filter stays frame-local.
//!
//! The job keeps such a filter's arguments with the path last
//! (`interp=trilinear:file=grade.cube`); `load` reads each file once after
//! routing, and `to_proto` puts the bytes in place of the path.

use std::path::Path;

use crate::job::EncodeJob;

/// The file option of a filter of `node::spec::FILE_FILTERS`, given its
/// arguments as its option parser reads them (unquoted): the arguments
/// with the path last and named (the first unnamed option is the file),
/// or why they are not distributable. `None` for other filters.
pub fn normalized(name: &str, args: &str) -> Option<Result<String, String>> {
    let (_, types) = node::spec::FILE_FILTERS.iter().find(|(n, _)| *n == name)?;
    let mut path = None;
    let mut rest = Vec::new();
    for (k, option) in args.split(':').filter(|o| !o.is_empty()).enumerate() {
        match option.split_once('=') {
            Some(("file", value)) => path = Some(value),
            Some(_) => rest.push(option),
            None if k == 0 => path = Some(option),
            None => return Some(Err(format!("{name} with unnamed options is not distributable"))),
        }
    }
    let Some(path) = path.map(str::trim).filter(|p| !p.is_empty()) else {
        return Some(Err(format!("{name} without a file is not distributable")));
    };
    if path.contains(['\\', '\'']) {
        return Some(Err(format!("{name} with an escaped file name is not distributable")));
    }
    match file_type(path) {
        Some(t) if types.contains(&t.as_str()) => {}
        _ => return Some(Err(format!("{name} file {path}: not a type the nodes read"))),
    }
    let mut out: Vec<String> = rest.iter().map(ToString::to_string).collect();
    out.push(format!("file={path}"));
    Some(Ok(out.join(":")))
}

/// The arguments `normalized` wrote without the file, as the node gets
/// them: what expression checks read (a path is no expression).
pub fn without_file(args: &str) -> &str {
    split(args).map_or(args, |(_, rest)| rest)
}

/// The filter as the router has the node's rules check it, before any
/// file is read: a stand-in byte in place of the file.
pub fn stand_in(name: &str, args: &str) -> proto::v1::Filter {
    let files: Vec<_> = split(args)
        .map(|(path, _)| (path.to_string(), proto::Bytes::from_static(b"\0")))
        .into_iter()
        .collect();
    to_proto(name, args, &files)
}

/// The path and the other arguments of a filter `normalized` wrote.
fn split(args: &str) -> Option<(&str, &str)> {
    match args.rsplit_once(":file=") {
        Some((rest, path)) => Some((path, rest)),
        None => args.strip_prefix("file=").map(|path| (path, "")),
    }
}

/// The type a file filter reads a file as: its extension, which it
/// compares ignoring case.
fn file_type(path: &str) -> Option<String> {
    Some(Path::new(path).extension()?.to_str()?.to_ascii_lowercase())
}

/// Reads the file of each file filter of the job into
/// `EncodeJob::filter_files`, or says why the command goes to ffmpeg: a
/// file that is missing (ffmpeg reports it in its words), not a regular
/// file, or too large to send with each chunk; a LUT on an overlay image.
pub async fn load(job: &mut EncodeJob) -> anyhow::Result<Result<(), String>> {
    let is_file_filter = |name: &str| node::spec::FILE_FILTERS.iter().any(|(n, _)| *n == name);
    let overlay = job.graph.as_ref().and_then(|g| g.overlay.as_ref());
    if overlay.is_some_and(|o| o.image_filters.iter().any(|(name, _)| is_file_filter(name))) {
        return Ok(Err("a file-reading filter on the overlay image is not distributable".into()));
    }
    let mut total = 0;
    let mut files = Vec::new();
    for (name, args) in &job.filters {
        let Some((path, _)) = split(args).filter(|_| is_file_filter(name)) else { continue };
        if files.iter().any(|(p, _)| p == path) {
            continue;
        }
        let bytes = match tokio::fs::metadata(path).await {
            Ok(meta) if meta.is_file() => {
                total += meta.len();
                if total > node::spec::MAX_FILTER_FILES as u64 {
                    return Ok(Err(format!(
                        "{name}'s files of {total} bytes are not distributable (at most {})",
                        node::spec::MAX_FILTER_FILES
                    )));
                }
                match tokio::fs::read(path).await {
                    Ok(bytes) => bytes,
                    Err(error) => return Ok(Err(format!("reading {path}: {error}"))),
                }
            }
            Ok(_) => return Ok(Err(format!("{name} file {path} is not a regular file"))),
            Err(error) => return Ok(Err(format!("{name} file {path}: {error}"))),
        };
        files.push((path.to_string(), proto::Bytes::from(bytes)));
    }
    job.filter_files = files;
    Ok(Ok(()))
}

/// A job's filter as a spec carries it: a file filter's path replaced by
/// the file's bytes (read by `load`) and type.
pub fn to_proto(name: &str, args: &str, files: &[(String, proto::Bytes)]) -> proto::v1::Filter {
    let file_filter = node::spec::FILE_FILTERS.iter().any(|(n, _)| *n == name);
    let found = split(args).filter(|_| file_filter).and_then(|(path, rest)| {
        let (_, bytes) = files.iter().find(|(p, _)| p == path)?;
        Some((rest, bytes.clone(), file_type(path).unwrap_or_default()))
    });
    match found {
        Some((rest, file, file_type)) => {
            proto::v1::Filter { name: name.into(), args: rest.into(), file, file_type }
        }
        None => proto::v1::Filter { name: name.into(), args: args.into(), ..Default::default() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_goes_last_and_named() {
        let ok = |args: &str| normalized("lut3d", args).unwrap().unwrap();
        assert_eq!(ok("grade.cube"), "file=grade.cube");
        assert_eq!(ok("file=luts/a.CUBE:interp=trilinear"), "interp=trilinear:file=luts/a.CUBE");
        assert_eq!(ok("grade.3dl:interp=nearest"), "interp=nearest:file=grade.3dl");
        assert_eq!(split("interp=nearest:file=grade.3dl"), Some(("grade.3dl", "interp=nearest")));
        assert_eq!(split("file=a.cube"), Some(("a.cube", "")));
        assert!(normalized("hflip", "").is_none());
    }

    #[test]
    fn what_the_nodes_cannot_read_is_refused() {
        for args in ["", "interp=nearest", "a.png", "a.cube:nearest", "file=C\\:/a.cube", "x"] {
            assert!(normalized("lut3d", args).unwrap().is_err(), "{args}");
        }
        // lut1d reads no .3dl.
        assert!(normalized("lut1d", "a.3dl").unwrap().is_err());
    }

    #[test]
    fn the_spec_carries_the_bytes_not_the_path() {
        let files = vec![("g.cube".to_string(), proto::Bytes::from_static(b"LUT_3D_SIZE 2"))];
        let filter = to_proto("lut3d", "interp=nearest:file=g.cube", &files);
        assert_eq!(filter.args, "interp=nearest");
        assert_eq!(filter.file_type, "cube");
        assert_eq!(&filter.file[..], b"LUT_3D_SIZE 2");
        assert_eq!(to_proto("hflip", "", &files).file.len(), 0);
    }
}
