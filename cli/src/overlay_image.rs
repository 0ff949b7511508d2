//! The still image a graph's `overlay` draws (`graph::GraphOverlay`): which
//! input it is, that it really is one image, and its bytes, which travel
//! with every chunk to the nodes.

use crate::job::EncodeJob;
use crate::local::Tools;
use crate::probe::{self, MediaInfo};

/// Resolves the overlay's input and loads its image into the job, or says
/// why the command is not distributable after all: the input is not one
/// frame of a still-image demuxer (a video, an animated GIF, a sequence),
/// or is too large to send with each chunk. `media` and `extras` are the
/// probes of the first input and of the others.
pub async fn load(
    job: &mut EncodeJob,
    media: &MediaInfo,
    extras: &[MediaInfo],
    tools: &Tools,
) -> anyhow::Result<Result<(), String>> {
    let Some(overlay) = job.graph.as_mut().and_then(|g| g.overlay.as_mut()) else {
        return Ok(Ok(()));
    };
    let videos = |m: &MediaInfo| m.streams.iter().filter(|s| s.codec_type == "video").count();
    let file = match overlay.file {
        Some(file) => file,
        // Unlabeled pads take the first video streams ffmpeg has not used,
        // in input order: the image is input #1's only if input #0 has one.
        None if videos(media) == 1 && extras.first().is_some_and(|e| videos(e) > 0) => 1,
        None => {
            return Ok(Err(
                "an unlabeled overlay whose second pad is not input #1's video is not \
                 distributable"
                    .into(),
            ));
        }
    };
    let (Some(info), Some(extra)) = (extras.get(file - 1), job.extra_inputs.get(file - 1)) else {
        return Ok(Err(format!("the overlay reads input #{file}, which is not given")));
    };
    let not_still = || Ok(Err(format!("input #{file} of the overlay is not one still image")));
    if !node::spec::IMAGE_FORMATS.contains(&info.format_name.as_str())
        || info.streams.len() != 1
        || info.streams[0].codec_type != "video"
    {
        return not_still();
    }
    match probe::packets(tools, &extra.url, &extra.args, "v:0").await {
        Ok(packets) if packets.len() == 1 => {}
        Ok(_) => return not_still(),
        Err(error) => return Ok(Err(format!("{error:#}"))),
    }
    // Its size before its bytes: a still image may be a huge TIFF.
    let read = |error: std::io::Error| Ok(Err(format!("reading {}: {error}", extra.url.display())));
    let size = match tokio::fs::metadata(crate::job::file_path(&extra.url)).await {
        Ok(meta) => meta.len(),
        Err(error) => return read(error),
    };
    if size > node::spec::MAX_OVERLAY_IMAGE as u64 {
        return Ok(Err(format!(
            "an overlay image of {size} bytes is not distributable (at most {})",
            node::spec::MAX_OVERLAY_IMAGE
        )));
    }
    let image = match tokio::fs::read(crate::job::file_path(&extra.url)).await {
        Ok(image) => image,
        Err(error) => return read(error),
    };
    overlay.file = Some(file);
    overlay.image = image.into();
    overlay.image_format = info.format_name.clone();
    overlay.image_codec = info.streams[0].codec_name.clone();
    Ok(Ok(()))
}
