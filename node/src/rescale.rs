//! Timestamp arithmetic shared by the node and the coordinator.

/// `av_rescale_q` with `AV_ROUND_NEAR_INF`: `value * from / to`, to the
/// nearest, halves away from zero, as ffmpeg rounds a timestamp it moves
/// from one time base to another.
pub fn rescale(value: i64, from: (i64, i64), to: (i64, i64)) -> i64 {
    let num = i128::from(value) * i128::from(from.0) * i128::from(to.1);
    let den = i128::from(from.1) * i128::from(to.0);
    let half = den / 2;
    let q = if num >= 0 { (num + half) / den } else { -((-num + half) / den) };
    q as i64
}
