//! An overlay shown only for a time (`overlay=W-w-10:10:enable='between(t,5,10)'`,
//! the timed logo or lower third), written for the nodes without `enable`.
//!
//! libavfilter evaluates a filter's `enable` at the last frame the filter
//! consumed from any of its inputs (`ff_inlink_evaluate_timeline_at_frame`).
//! ffmpeg alone consumes the single image once, before the video's first
//! frame, so every output frame is decided at its own video frame's time;
//! a chunk consumes the image again at its own start, where it would be
//! decided at the image's time (0). The overlay's `x`, though, is evaluated
//! at every video frame (`eval=frame`, its default), so the nodes get
//! `x='if(gte(abs(E),0.5),X,NAN)'`: where the timeline would be disabled
//! (unless `fabs(E) >= 0.5`, so NaN disables), `x` is NaN, which the
//! overlay turns into `INT_MAX` and then draws nothing, as a disabled
//! overlay passes the frame through. Measured frame for frame against
//! ffmpeg alone (ffmpeg 5.1, windows inside and across frames, odd widths,
//! NaN and infinite values): identical.
//!
//! ffmpeg alone decides the first frame at the image's time too, when it
//! takes the image after that frame: the same where the video starts at 0,
//! or where `enable` decides alike at 0 and at the first frame's time,
//! which `distribute` checks (with `time_expr`).
//!
//! Refused: `enable` reading the frame's `w`, `h` (the video's in `enable`,
//! the image's in `x`), `n` or `pos`; any `eval` but `frame` (`init`, and
//! the constants and expressions that mean it, evaluate `x` once); options
//! after `x:y` written without their names, which a rewrite would move. A
//! looped image (`-loop 1`) is refused by the router: there the loop's
//! frames are consumed too, and decide some frames at their time.

use crate::time_expr::words;

/// The overlay's options (unquoted, `shortest=1` taken out) as the nodes
/// run them, and its `enable` (whitespace taken out), if any: unchanged
/// without `enable`, else with `enable` folded into `x`. Also refuses positions that depend on the previous frame's (`x`
/// reading `x`), which a chunk does not reproduce, enable or not. `Err`
/// says why it is not distributable.
pub fn untimed(args: &str) -> Result<(String, Option<String>), String> {
    let options: Vec<&str> = args.split(':').filter(|o| !o.is_empty()).collect();
    let mut x = None;
    let mut y = None;
    let mut enable = None;
    let mut rest = Vec::new();
    for (k, option) in options.iter().enumerate() {
        match option.split_once('=') {
            Some(("x", value)) => x = Some(value),
            Some(("y", value)) => y = Some(value),
            Some(("enable", value)) => enable = Some(value),
            Some(_) => rest.push(*option),
            None if k == 0 => x = Some(*option),
            None if k == 1 => y = Some(*option),
            None => rest.push(*option),
        }
    }
    if reads_own_previous(x, y) {
        return Err("overlay x/y reading their own previous values are not distributable".into());
    }
    let Some(enable) = enable else { return Ok((args.to_string(), None)) };
    if let Some(var) = words(enable).find(|w| matches!(*w, "w" | "h" | "n" | "pos")) {
        return Err(format!("overlay enable reading {var} is not distributable"));
    }
    let per_frame = |o: &&str| matches!(o.split_once('='), Some(("eval", "frame" | "1")));
    if rest.iter().any(|o| o.starts_with("eval=") && !per_frame(o)) {
        return Err("overlay enable with an eval other than frame is not distributable".into());
    }
    if rest.iter().any(|o| !o.contains('=')) {
        return Err("overlay enable with unnamed options after x:y is not distributable".into());
    }
    // The expression parser skips whitespace (`between(t, 5, 10)`); the
    // node takes none.
    let compact = |e: &str| e.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let x = format!("x=if(gte(abs({}),0.5),{},NAN)", compact(enable), compact(x.unwrap_or("0")));
    let y = format!("y={}", compact(y.unwrap_or("0")));
    let args = [x.as_str(), y.as_str()].into_iter().chain(rest).collect::<Vec<_>>().join(":");
    Ok((args, Some(compact(enable))))
}

/// Whether position expressions `x` and `y`, evaluated as overlay and
/// drawtext evaluate them (`x`, then `y`, then `x` again, each reading the
/// variables' last values), read values left from the previous frame: `x`
/// reading `x`, `y` reading `y`, or each the other. A chunk starts those
/// afresh (NaN).
pub fn reads_own_previous(x: Option<&str>, y: Option<&str>) -> bool {
    let reads = |expr: Option<&str>, var: &str| expr.is_some_and(|e| words(e).any(|w| w == var));
    reads(x, "x") || reads(y, "y") || (reads(x, "y") && reads(y, "x"))
}

#[cfg(test)]
mod tests {
    use super::untimed;

    #[test]
    fn without_enable_the_options_are_unchanged() {
        for args in ["", "W-w-10:10", "x=5:y=main_h-overlay_h:format=auto", "10:10:alpha=straight"]
        {
            assert_eq!(untimed(args).unwrap(), (args.to_string(), None));
        }
    }

    #[test]
    fn enable_is_folded_into_x() {
        assert_eq!(
            untimed("W-w-10:10:enable=between(t,5,10)").unwrap().0,
            "x=if(gte(abs(between(t,5,10)),0.5),W-w-10,NAN):y=10"
        );
        assert_eq!(
            untimed("enable=gte(t, 2):format=auto").unwrap(),
            ("x=if(gte(abs(gte(t,2)),0.5),0,NAN):y=0:format=auto".into(), Some("gte(t,2)".into()))
        );
        assert_eq!(
            untimed("y=main_h-overlay_h:enable=lt(t,1):x=t*10:eval=frame").unwrap().0,
            "x=if(gte(abs(lt(t,1)),0.5),t*10,NAN):y=main_h-overlay_h:eval=frame"
        );
    }

    #[test]
    fn what_a_rewrite_cannot_carry_is_refused() {
        for args in [
            "10:10:enable=gt(w,100)",
            "10:10:enable=lt(n,10)",
            "10:10:enable=gte(pos,0)",
            "10:10:eval=init:enable=gte(t,1)",
            "10:10:eval=min:enable=gte(t,1)",
            "10:10:eval=0.0:enable=gte(t,1)",
            "10:10:repeat:enable=gte(t,1)",
            "x=x+1:y=10",
            "x=10:y=y+1",
            "x=y:y=x",
        ] {
            assert!(untimed(args).is_err(), "{args}");
        }
        // One reading the other is fine: the second is evaluated again.
        assert!(untimed("x=y*2:y=10").is_ok());
        // Longer names are no variables.
        assert!(untimed("x=max(0,10):y=hypot(3,4):enable=between(t,1,2)").is_ok());
    }
}
