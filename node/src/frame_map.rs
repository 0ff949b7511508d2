//! A chunk's frame-rate conversion, decided by the coordinator and carried
//! out here with stock filters.
//!
//! ffmpeg alone drops and repeats frames for an output rate with state that
//! spans the whole run, so the coordinator replays its arithmetic and sends
//! the outcome ([`proto::v1::FrameMap`]). The node turns it into filters:
//! `select` drops the frames no output shows, `setpts` gives every other
//! frame the timestamp of its first output frame (in 1/rate), and, when a
//! frame is shown more than once, `fps` at the same rate repeats it up to
//! the next one. The lookups by frame number are balanced `if(lt(...))`
//! trees over runs of evenly spaced values, so their depth stays within
//! ffmpeg's expression limit (100) for any chunk length.

use crate::spec::SpecError;

/// A validated frame map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameMap {
    /// Per input frame: output frames that show it.
    copies: Vec<u32>,
    /// Per shown frame: its first output timestamp.
    slots: Vec<i64>,
    /// The exclusive end of the chunk's output timestamps.
    end: i64,
}

/// Chunks longer than this many input frames are refused (about four hours
/// at 120 fps): the filter script grows with the frames.
const MAX_FRAMES: usize = 2_000_000;

/// Timestamps beyond this are not exact in ffmpeg's double-valued expressions.
const MAX_SLOT: i64 = 1 << 52;

impl FrameMap {
    /// Checks that the map is one the filters can carry out: shown frames in
    /// increasing order without overlap, and no gaps where a frame repeats
    /// (the `fps` filter fills every gap). `expected` is the spec's frame count.
    pub fn validate(map: &proto::v1::FrameMap, expected: u64) -> Result<Self, SpecError> {
        let bad = |why: String| Err(SpecError::FrameMap(why));
        let copies = map.copies.clone();
        let slots = map.slots.clone();
        if copies.is_empty() || copies.len() > MAX_FRAMES {
            return bad(format!("{} frames", copies.len()));
        }
        let shown: Vec<u32> = copies.iter().copied().filter(|&c| c > 0).collect();
        if shown.is_empty() || shown.len() != slots.len() {
            return bad(format!("{} shown frames but {} slots", shown.len(), slots.len()));
        }
        let total: u64 = shown.iter().map(|&c| u64::from(c)).sum();
        if total != expected {
            return bad(format!("{total} output frames, not the {expected} expected"));
        }
        if map.end_slot.abs() >= MAX_SLOT {
            return bad(format!("end {}", map.end_slot));
        }
        let repeats = shown.iter().any(|&c| c > 1);
        for (i, (&slot, &count)) in slots.iter().zip(&shown).enumerate() {
            let next = slots.get(i + 1).copied().unwrap_or(map.end_slot);
            if !(-MAX_SLOT..MAX_SLOT).contains(&slot) {
                return bad(format!("slot {slot}"));
            }
            let end = slot + i64::from(count);
            if end > next || (repeats && end != next) {
                return bad(format!(
                    "shown frame {i} at {slot}, {count} times, then the next at {next}"
                ));
            }
        }
        Ok(Self { copies, slots, end: map.end_slot })
    }

    /// Frames the map drops before any output.
    fn drops_any(&self) -> bool {
        self.copies.contains(&0)
    }

    /// The filters that carry the map out, to follow the trim and the user's
    /// frame-local filters: output timestamps count frames of `rate`.
    pub fn filters(&self, rate: (i64, i64)) -> Vec<String> {
        let mut filters = Vec::new();
        if self.drops_any() {
            let keep: Vec<i64> = self.copies.iter().map(|&c| i64::from(c > 0)).collect();
            filters.push(format!("select='{}'", lookup("n", &keep, 0, false)));
        }
        // Timestamps in 1/rate; ffmpeg evaluates the fraction in double and
        // turns it back into this rational exactly for the rates `validate`
        // lets through (see `spec::MAX_MAP_RATE_DEN`).
        filters.push(format!("settb={}/{}", rate.1, rate.0));
        filters.push(format!("setpts='{}'", lookup("N", &self.slots, self.end, true)));
        if self.copies.iter().any(|&c| c > 1) {
            // At the end of input setpts evaluates N = frames seen, which is
            // `end`: fps repeats the last frame up to it and no further.
            filters.push(format!("fps={}/{}", rate.0, rate.1));
        }
        filters
    }
}

/// An expression of `var` that is `values[var]` for `var` in
/// `0..values.len()`, and `beyond` from there on. `linear`: leaves may be
/// evenly spaced runs (timestamps), not only equal ones (flags).
fn lookup(var: &str, values: &[i64], beyond: i64, linear: bool) -> String {
    let mut runs = runs(values, linear);
    let end = Run { start: values.len() as i64, base: beyond, step: 0 };
    if runs.last().is_none_or(|last| last.step != 0 || last.base != beyond) {
        runs.push(end);
    }
    tree(var, &runs)
}

/// Values from `start` on are `base + step * (var - start)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    start: i64,
    base: i64,
    step: i64,
}

/// Splits `values` into runs of evenly spaced values (`linear`), or of equal ones.
fn runs(values: &[i64], linear: bool) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    let mut i = 0;
    while i < values.len() {
        let step = match values.get(i + 1) {
            Some(next) if linear => next - values[i],
            _ => 0,
        };
        let mut end = i + 1;
        while end < values.len() && values[end] - values[end - 1] == step {
            end += 1;
        }
        runs.push(Run { start: i as i64, base: values[i], step });
        i = end;
    }
    runs
}

/// A balanced `if(lt(var,start),left,right)` tree over `runs` (sorted by start).
fn tree(var: &str, runs: &[Run]) -> String {
    if let [run] = runs {
        return leaf(var, *run);
    }
    let mid = runs.len() / 2;
    format!(
        "if(lt({var},{}),{},{})",
        runs[mid].start,
        tree(var, &runs[..mid]),
        tree(var, &runs[mid..])
    )
}

/// base + step * (var - start), written as `step*var+offset`, shortest form.
fn leaf(var: &str, run: Run) -> String {
    if run.step == 0 {
        return run.base.to_string();
    }
    let offset = run.base - run.step * run.start;
    let term = if run.step == 1 { var.to_string() } else { format!("{}*{var}", run.step) };
    match offset {
        0 => term,
        o if o < 0 => format!("{term}-{}", o.unsigned_abs()),
        o => format!("{term}+{o}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(copies: &[u32], slots: &[i64], end: i64) -> proto::v1::FrameMap {
        proto::v1::FrameMap { copies: copies.to_vec(), slots: slots.to_vec(), end_slot: end }
    }

    /// ffmpeg's expression language, as far as these trees use it.
    fn eval(expr: &str, var: &str, value: i64) -> i64 {
        let expr = expr.trim_matches('\'');
        if let Some(inner) = expr.strip_prefix("if(lt(") {
            let inner = &inner[..inner.len() - 1];
            let (cmp, rest) = inner.split_once("),").unwrap();
            let bound: i64 = cmp.split_once(',').unwrap().1.parse().unwrap();
            let (left, right) = split_args(rest);
            return if value < bound { eval(left, var, value) } else { eval(right, var, value) };
        }
        if let Some((before, after)) = expr.split_once(var) {
            let step = before.strip_suffix('*').map_or(1, |s| s.parse::<i64>().unwrap());
            let offset = if after.is_empty() { 0 } else { after.parse::<i64>().unwrap() };
            return step * value + offset;
        }
        expr.parse().unwrap()
    }

    /// The two arguments of `left,right` at the top nesting level.
    fn split_args(text: &str) -> (&str, &str) {
        let mut depth = 0;
        for (i, c) in text.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                ',' if depth == 0 => return (&text[..i], &text[i + 1..]),
                _ => {}
            }
        }
        panic!("no top-level comma in {text}");
    }

    #[test]
    fn lookups_return_every_value_and_the_end_beyond() {
        let values = [3, 4, 5, 7, 9, 11, 12, 20];
        let expr = lookup("N", &values, 21, true);
        for (n, &v) in values.iter().enumerate() {
            assert_eq!(eval(&expr, "N", n as i64), v, "{expr} at {n}");
        }
        assert_eq!(eval(&expr, "N", 8), 21);
        assert_eq!(eval(&expr, "N", 1000), 21);
        // Evenly spaced values make one run each: 3..=5, 7..=11, then 12 and 20.
        assert_eq!(runs(&values, true).len(), 3);
        let flags = [1, 1, 0, 1, 0, 0];
        let expr = lookup("n", &flags, 0, false);
        assert_eq!(expr, "if(lt(n,3),if(lt(n,2),1,0),if(lt(n,4),1,0))");
        assert_eq!(lookup("n", &[], 7, true), "7");
    }

    #[test]
    fn a_long_irregular_chunk_stays_shallow() {
        let values: Vec<i64> = (0..100_000i64).map(|i| i * 5 / 4 + (i % 7) / 3).collect();
        let expr = lookup("N", &values, 200_000, true);
        let depth = expr.split("if(").count();
        assert!(depth < 100_000, "one run per few frames at most");
        let mut level: i32 = 0;
        let mut deepest = 0;
        for c in expr.chars() {
            level += i32::from(c == '(') - i32::from(c == ')');
            deepest = deepest.max(level);
        }
        assert!(deepest < 60, "nesting {deepest}");
        for n in [0, 1, 999, 54_321, 99_999] {
            assert_eq!(eval(&expr, "N", n), values[n as usize]);
        }
    }

    #[test]
    fn filters_drop_retime_and_repeat() {
        // Frame 1 dropped, frame 2 shown three times: slots 0, 1..4, 4.
        let valid = FrameMap::validate(&map(&[1, 0, 3, 1], &[0, 1, 4], 5), 5).unwrap();
        let filters = valid.filters((24, 1));
        let select = filters[0].strip_prefix("select=").unwrap();
        let kept: Vec<i64> = (0..5).map(|n| eval(select, "n", n)).collect();
        assert_eq!(kept, [1, 0, 1, 1, 0]);
        assert_eq!(filters[1], "settb=1/24");
        let setpts = filters[2].strip_prefix("setpts=").unwrap();
        let slots: Vec<i64> = (0..4).map(|n| eval(setpts, "N", n)).collect();
        assert_eq!(slots, [0, 1, 4, 5], "the end at N = 3, where setpts reports EOF");
        assert_eq!(filters[3], "fps=24/1");
        // Nothing dropped or repeated, with gaps (VFR): no select, no fps.
        let vfr = FrameMap::validate(&map(&[1, 1, 1], &[0, 2, 3], 4), 3).unwrap();
        let filters = vfr.filters((30000, 1001));
        assert_eq!(filters.len(), 2);
        assert_eq!(filters[0], "settb=1001/30000");
    }

    #[test]
    fn refuses_maps_the_filters_cannot_carry_out() {
        let expected = 3;
        // Counts that do not add up, overlaps, a repeat across a gap, no slot.
        for bad in [
            map(&[1, 1], &[0, 1], 2),
            map(&[1, 1, 1], &[0, 0, 1], 2),
            map(&[2, 1], &[0, 3], 4),
            map(&[1, 1, 1], &[0, 1], 3),
            map(&[3], &[MAX_SLOT], MAX_SLOT + 3),
            map(&[], &[], 0),
        ] {
            assert!(FrameMap::validate(&bad, expected).is_err(), "{bad:?}");
        }
    }
}
