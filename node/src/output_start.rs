//! An output `-ss`, taken off each frame's time where ffmpeg 5.1 takes it
//! off (`adjust_frame_pts_to_encoder_tb` in fftools/ffmpeg.c): in the
//! encoder's time base 1/rate made 2^extra_bits times finer, with the
//! frame's time and the start each rounded there to nearest. Its frame-rate
//! decision (`do_video_out`) then rounds that time to whole frames, so a
//! frame whose time less the start is a half frame goes where that finer
//! time rounds. Taken off in microseconds instead (1/30 s is no whole
//! number of them), such a time fell a hair below the half: a chunk's first
//! frame, where the node's decision starts afresh, came out one frame early
//! and shared its timestamp with the frame before it (`-ss 1.05` at 30 fps
//! into Matroska).

use crate::rescale::rescale;

/// The filters that take `start_us` off frames bound for an encoder at
/// `rate`: a `settb` to the finer time base, then the start there.
pub fn filters(rate: (i64, i64), start_us: i64) -> [String; 2] {
    let (num, den) = fine_time_base(rate);
    let start = rescale(start_us, (1, 1_000_000), (num, den));
    [format!("settb={num}/{den}"), format!("setpts=PTS-{start}")]
}

/// ffmpeg's finer encoder time base: 1/`rate` with its denominator shifted
/// left by `av_clip(29 - av_log2(den), 0, 16)` bits.
fn fine_time_base((rate_num, rate_den): (i64, i64)) -> (i64, i64) {
    let (num, den) = (rate_den, rate_num);
    let log2 = 63 - i64::from(den.max(1).leading_zeros());
    (num, den << (29 - log2).clamp(0, 16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_base_is_the_encoders_made_finer() {
        assert_eq!(fine_time_base((30, 1)), (1, 30 << 16));
        assert_eq!(fine_time_base((30000, 1001)), (1001, 30000 << 15));
        assert_eq!(fine_time_base((24, 1)), (1, 24 << 16));
        // Very fine rates get no extra bits.
        assert_eq!(fine_time_base((1 << 30, 1)), (1, 1 << 30));
    }

    #[test]
    fn the_start_is_rounded_there() {
        // -ss 1.05 at 30 fps: 31.5 frames, exact in the finer base.
        assert_eq!(filters((30, 1), 1_050_000), ["settb=1/1966080", "setpts=PTS-2064384"]);
        assert_eq!(2_064_384, 31 * 65_536 + 32_768);
        // -ss 0.1234 at 30000/1001: rounded to nearest.
        let [tb, start] = filters((30000, 1001), 123_400);
        assert_eq!((tb.as_str(), start.as_str()), ("settb=1001/983040000", "setpts=PTS-121186"));
    }
}
