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
        Ok(int * 1_000_000 + frac.parse::<i64>().map_err(|_| ())?)
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
    let hms = map_res(
        pair(terminated(digit1, char(':')), pair(terminated(digit1, char(':')), decimal())),
        |(h, (m, s)): (&str, (&str, &str))| {
            let h: i64 = h.parse().map_err(|_| ())?;
            let m: i64 = m.parse().map_err(|_| ())?;
            Ok::<i64, ()>((h * 3600 + m * 60) * 1_000_000 + to_us(s)?)
        },
    );
    let ms = map_res(pair(terminated(digit1, char(':')), decimal()), |(m, s): (&str, &str)| {
        let m: i64 = m.parse().map_err(|_| ())?;
        Ok::<i64, ()>(m * 60 * 1_000_000 + to_us(s)?)
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
    }
}
