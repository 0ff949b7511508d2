//! An expression of the time `t`, evaluated as libavutil's `av_expr_eval`
//! evaluates it, for the forms that time windows are written in
//! (`between(t,5,10)`, `gte(t,2)*lt(t,4)`, `if(lt(t,1),1,0)`): numbers, `t`,
//! `PI` and `E`, `+ - * / ^`, and the functions below. Used where the
//! coordinator must know an expression's value at a given time before any
//! frame is encoded; anything else is `None`, unknown.

/// The names an expression uses (its variables, functions and constants),
/// and its numbers' digits: the words between its operators and
/// punctuation, which is what the checks that an expression reads some
/// variable look for.
pub fn words(expr: &str) -> impl Iterator<Item = &str> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| !w.is_empty())
}

/// `expr` at time `t`, or `None` when it holds anything this evaluator
/// does not know (another variable or function, a syntax error).
pub fn eval(expr: &str, t: f64) -> Option<f64> {
    let text: String = expr.chars().filter(|c| !c.is_whitespace()).collect();
    let mut parser = Parser { text: text.as_bytes(), at: 0, t };
    let value = parser.sum()?;
    (parser.at == parser.text.len()).then_some(value)
}

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
    t: f64,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        let found = self.peek() == Some(c);
        self.at += usize::from(found);
        found
    }

    /// Terms joined by `+` and `-`.
    fn sum(&mut self) -> Option<f64> {
        let mut value = self.product()?;
        loop {
            if self.eat(b'+') {
                value += self.product()?;
            } else if self.eat(b'-') {
                value -= self.product()?;
            } else {
                return Some(value);
            }
        }
    }

    /// Factors joined by `*` and `/`.
    fn product(&mut self) -> Option<f64> {
        let mut value = self.power()?;
        loop {
            if self.eat(b'*') {
                value *= self.power()?;
            } else if self.eat(b'/') {
                value /= self.power()?;
            } else {
                return Some(value);
            }
        }
    }

    /// A signed primary raised by `^`, from the left, the sign applied
    /// after (libavutil's `parse_factor`: `-2^2` is -4, `2^3^2` is 64).
    fn power(&mut self) -> Option<f64> {
        let (sign, mut value) = self.signed()?;
        while self.eat(b'^') {
            let (exponent_sign, exponent) = self.signed()?;
            value = value.powf(exponent_sign * exponent);
        }
        Some(sign * value)
    }

    /// A primary and the sign before it, apart.
    fn signed(&mut self) -> Option<(f64, f64)> {
        let sign = if self.eat(b'-') {
            -1.0
        } else {
            self.eat(b'+');
            1.0
        };
        Some((sign, self.primary()?))
    }

    fn primary(&mut self) -> Option<f64> {
        if self.eat(b'(') {
            let value = self.sum()?;
            return self.eat(b')').then_some(value);
        }
        let start = self.at;
        let c = self.peek()?;
        if c.is_ascii_digit() || c == b'.' {
            while self.peek().is_some_and(|c| c.is_ascii_digit() || c == b'.') {
                self.at += 1;
            }
            if matches!(self.peek(), Some(b'e' | b'E'))
                && self.text.get(self.at + 1).is_some_and(|c| c.is_ascii_digit() || *c == b'-')
            {
                self.at += 2;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.at += 1;
                }
            }
            return std::str::from_utf8(&self.text[start..self.at]).ok()?.parse().ok();
        }
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_') {
            self.at += 1;
        }
        let name = std::str::from_utf8(&self.text[start..self.at]).ok()?;
        if !self.eat(b'(') {
            return match name {
                "t" => Some(self.t),
                "PI" => Some(std::f64::consts::PI),
                "E" => Some(std::f64::consts::E),
                _ => None,
            };
        }
        let mut args = vec![self.sum()?];
        while self.eat(b',') {
            args.push(self.sum()?);
        }
        if !self.eat(b')') {
            return None;
        }
        call(name, &args)
    }
}

/// A function of libavutil's `eval.c` on evaluated arguments.
fn call(name: &str, args: &[f64]) -> Option<f64> {
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    Some(match (name, args) {
        ("between", [x, min, max]) => flag(x >= min && x <= max),
        ("gt", [a, b]) => flag(a > b),
        ("gte", [a, b]) => flag(a >= b),
        ("lt", [a, b]) => flag(b > a),
        ("lte", [a, b]) => flag(b >= a),
        ("eq", [a, b]) => flag(a == b),
        ("not", [a]) => flag(*a == 0.0),
        // Without an else, 0 (not 0 times the value, which may be infinite).
        ("if", [c, a]) => {
            if *c != 0.0 {
                *a
            } else {
                0.0
            }
        }
        ("if", [c, a, b]) => {
            if *c != 0.0 {
                *a
            } else {
                *b
            }
        }
        ("ifnot", [c, a]) => {
            if *c == 0.0 {
                *a
            } else {
                0.0
            }
        }
        ("ifnot", [c, a, b]) => {
            if *c == 0.0 {
                *a
            } else {
                *b
            }
        }
        ("abs", [a]) => a.abs(),
        // C's comparisons, where NaN goes its own way.
        ("min", [a, b]) => {
            if a < b {
                *a
            } else {
                *b
            }
        }
        ("max", [a, b]) => {
            if a > b {
                *a
            } else {
                *b
            }
        }
        ("floor", [a]) => a.floor(),
        ("ceil", [a]) => a.ceil(),
        ("trunc", [a]) => a.trunc(),
        ("round", [a]) => a.round(),
        ("mod", [a, b]) => a - (a / b).floor() * b,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::eval;

    #[test]
    fn windows_evaluate_as_libavutil_does() {
        assert_eq!(eval("between(t,5,10)", 5.0), Some(1.0));
        assert_eq!(eval("between(t, 5, 10)", 10.0001), Some(0.0));
        assert_eq!(eval("gte(t,2)*lt(t,4)", 3.9), Some(1.0));
        assert_eq!(eval("lt(t,1)+gte(t,2.5e0)", 1.5), Some(0.0));
        assert_eq!(eval("if(lt(t,1),0.2,-1)", 0.5), Some(0.2));
        assert_eq!(eval("-2^2", 0.0), Some(-4.0));
        assert_eq!(eval("not(between(t,1,2))", 1.5), Some(0.0));
        assert_eq!(eval("mod(t,2)", 5.0), Some(1.0));
        assert_eq!(eval("mod(-t,2)", 5.0), Some(1.0));
        assert_eq!(eval("2^3^2", 0.0), Some(64.0));
        assert_eq!(eval("2^-1", 0.0), Some(0.5));
        assert_eq!(eval("not(if(gt(t,5),1/0))", 1.0), Some(1.0));
        assert_eq!(eval("ifnot(lt(t,5),1/0)", 1.0), Some(0.0));
    }

    #[test]
    fn anything_else_is_unknown() {
        for expr in ["n", "random(0)", "between(t,1)", "gte(t,1", "t t", "st(0,1)", ""] {
            assert_eq!(eval(expr, 1.0), None, "{expr}");
        }
    }
}
