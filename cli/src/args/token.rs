//! nom parsers for the pieces inside one argv token: option names with their
//! stream specifiers, and ffmpeg time durations.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while1};
use nom::character::complete::{char, digit1};
use nom::combinator::{all_consuming, map_res, opt, recognize, rest};
use nom::sequence::{pair, preceded, terminated};
use nom::{IResult, Parser};

/// Splits `-name[:spec]` into `("name", Some("spec"))`. Returns `None` for a
/// token that is not an option (no leading dash, or the lone `-`).
pub fn parse_option_token(token: &str) -> Option<(&str, Option<&str>)> {
    let name = take_while1(|c: char| c != ':');
    let parsed: IResult<&str, (&str, Option<&str>)> =
        all_consuming(preceded(char('-'), pair(name, opt(preceded(char(':'), rest))))).parse(token);
    parsed.ok().map(|(_, v)| v)
}

/// Parses an ffmpeg duration (`[-][HH:]MM:SS[.m...]` or `[-]S+[.m...][s|ms|us]`)
/// into microseconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    let decimal =
        || recognize(pair(digit1::<&str, nom::error::Error<&str>>, opt(pair(char('.'), digit1))));
    let to_us = |s: &str| -> Result<i64, ()> {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let int: i64 = int.parse().map_err(|_| ())?;
        let mut frac = frac.to_string();
        frac.truncate(6);
        while frac.len() < 6 {
            frac.push('0');
        }
        int.checked_mul(1_000_000)
            .and_then(|us| us.checked_add(frac.parse::<i64>().ok()?))
            .ok_or(())
    };
    let unit = alt((tag("ms"), tag("us"), tag("s")));
    let seconds = map_res(pair(decimal(), opt(unit)), |(num, unit): (&str, Option<&str>)| {
        let us = to_us(num)?;
        Ok::<i64, ()>(match unit {
            Some("ms") => us / 1000,
            Some("us") => us / 1_000_000,
            _ => us,
        })
    });
    // av_parse_time: minutes and seconds of a clock are below 60.
    let clock_us = |h: i64, m: i64, s: &str| -> Result<i64, ()> {
        let seconds = to_us(s)?;
        if !(0..60).contains(&m) || seconds >= 60_000_000 {
            return Err(());
        }
        h.checked_mul(3600)
            .and_then(|x| x.checked_add(m * 60))
            .and_then(|x| x.checked_mul(1_000_000))
            .and_then(|x| x.checked_add(seconds))
            .ok_or(())
    };
    let hms = map_res(
        pair(terminated(digit1, char(':')), pair(terminated(digit1, char(':')), decimal())),
        |(h, (m, s)): (&str, (&str, &str))| {
            clock_us(h.parse().map_err(|_| ())?, m.parse().map_err(|_| ())?, s)
        },
    );
    let ms = map_res(pair(terminated(digit1, char(':')), decimal()), |(m, s): (&str, &str)| {
        clock_us(0, m.parse().map_err(|_| ())?, s)
    });
    let clock = alt((hms, ms));
    let mut parser = all_consuming(pair(opt(char('-')), alt((clock, seconds))));
    let (_, (sign, us)) = parser.parse(text).ok()?;
    Some(if sign.is_some() { -us } else { us })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_tokens() {
        assert_eq!(parse_option_token("-c:v"), Some(("c", Some("v"))));
        assert_eq!(parse_option_token("-map_metadata:s:a"), Some(("map_metadata", Some("s:a"))));
        assert_eq!(parse_option_token("-y"), Some(("y", None)));
        assert_eq!(parse_option_token("-"), None);
        assert_eq!(parse_option_token("out.mkv"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1.5"), Some(1_500_000));
        assert_eq!(parse_duration("00:01:02.25"), Some(62_250_000));
        assert_eq!(parse_duration("01:02"), Some(62_000_000));
        assert_eq!(parse_duration("500ms"), Some(500_000));
        assert_eq!(parse_duration("-2"), Some(-2_000_000));
        assert_eq!(parse_duration("abc"), None);
        assert_eq!(parse_duration("01:75"), None, "seconds of a clock are below 60");
        assert_eq!(parse_duration("18446744073710"), None, "overflow is an error, not a wrap");
    }
}
