//! The conscience's score expression: a tiny arithmetic language over the stats a chunk server
//! reports, parsed once when the config is loaded and evaluated on every heartbeat.
//!
//! Grammar: numbers (`2`, `0.5`), the variables `space` (free / total bytes), `cpu` (CPU idle)
//! and `io` (I/O idle), all in 0..=1, the operators `+ - * /` with the usual precedence, unary
//! minus, parentheses, and the functions `min(a, b, ...)`, `max(a, b, ...)` and
//! `clamp(x, lo, hi)`. The result is clamped to 0..=100 and rounded.
//!
//! (A hand-written evaluator rather than a crate: the usual one, `evalexpr`, is AGPL-licensed
//! since version 12, which does not fit this Apache-2.0 project.)

use meta_api::error::{Error, Result};
use meta_api::wire::ServiceStats;

/// The variables an expression may use, with their meaning (for error messages).
const VARIABLES: &str = "space (free/total), cpu (cpu idle), io (io idle)";

/// A parsed score expression.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreExpr {
    root: Node,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Var {
    Space,
    Cpu,
    Io,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Min,
    Max,
    Clamp,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Num(f64),
    Var(Var),
    Neg(Box<Node>),
    Bin(char, Box<Node>, Box<Node>),
    Call(Func, Vec<Node>),
}

/// The inputs of an evaluation, each in 0..=1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Inputs {
    pub space: f64,
    pub cpu: f64,
    pub io: f64,
}

impl Inputs {
    /// Inputs from reported stats; a volume of unknown size counts as empty space 0.
    pub fn from_stats(stats: &ServiceStats) -> Inputs {
        let space = if stats.total_bytes == 0 {
            0.0
        } else {
            stats.free_bytes.min(stats.total_bytes) as f64 / stats.total_bytes as f64
        };
        Inputs {
            space,
            cpu: unit(stats.cpu_idle),
            io: unit(stats.io_idle),
        }
    }
}

/// Clamps a reported ratio to 0..=1 (NaN → 0).
fn unit(x: f64) -> f64 {
    if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) }
}

impl ScoreExpr {
    /// Parses `text`; errors name the position and what was expected.
    pub fn parse(text: &str) -> Result<ScoreExpr> {
        let mut p = Parser {
            text,
            chars: text.char_indices().collect(),
            pos: 0,
        };
        let root = p.expr()?;
        p.skip_ws();
        if p.pos < p.chars.len() {
            return Err(p.error("unexpected input"));
        }
        Ok(ScoreExpr { root })
    }

    /// Raw value of the expression (not clamped).
    pub fn eval_raw(&self, inputs: &Inputs) -> f64 {
        eval(&self.root, inputs)
    }

    /// Score 0..=100: the value clamped and rounded (NaN → 0).
    pub fn score(&self, inputs: &Inputs) -> u8 {
        let v = self.eval_raw(inputs);
        if v.is_nan() {
            return 0;
        }
        v.clamp(0.0, 100.0).round() as u8
    }
}

fn eval(node: &Node, x: &Inputs) -> f64 {
    match node {
        Node::Num(n) => *n,
        Node::Var(Var::Space) => x.space,
        Node::Var(Var::Cpu) => x.cpu,
        Node::Var(Var::Io) => x.io,
        Node::Neg(a) => -eval(a, x),
        Node::Bin(op, a, b) => {
            let (a, b) = (eval(a, x), eval(b, x));
            match op {
                '+' => a + b,
                '-' => a - b,
                '*' => a * b,
                // Division by zero gives ±inf or NaN, which `score` clamps or zeroes.
                _ => a / b,
            }
        }
        Node::Call(f, args) => {
            let vals = args.iter().map(|a| eval(a, x));
            match f {
                Func::Min => vals.fold(f64::INFINITY, f64::min),
                Func::Max => vals.fold(f64::NEG_INFINITY, f64::max),
                Func::Clamp => {
                    let v: Vec<f64> = vals.collect();
                    match v.as_slice() {
                        [x, lo, hi] => x.max(*lo).min(*hi),
                        _ => f64::NAN,
                    }
                }
            }
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    chars: Vec<(usize, char)>,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> Error {
        let at = self.chars.get(self.pos).map_or(self.text.len(), |c| c.0);
        Error::InvalidArgument(format!(
            "score expression {:?}: {what} at byte {at}",
            self.text
        ))
    }

    fn skip_ws(&mut self) {
        while self
            .chars
            .get(self.pos)
            .is_some_and(|c| c.1.is_whitespace())
        {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.chars.get(self.pos).map(|c| c.1)
    }

    fn eat(&mut self, ch: char) -> bool {
        if self.peek() == Some(ch) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Result<Node> {
        let mut left = self.term()?;
        while let Some(op @ ('+' | '-')) = self.peek() {
            self.pos += 1;
            let right = self.term()?;
            left = Node::Bin(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Node> {
        let mut left = self.unary()?;
        while let Some(op @ ('*' | '/')) = self.peek() {
            self.pos += 1;
            let right = self.unary()?;
            left = Node::Bin(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Node> {
        if self.eat('-') {
            return Ok(Node::Neg(Box::new(self.unary()?)));
        }
        if self.eat('+') {
            return self.unary();
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Node> {
        match self.peek() {
            Some('(') => {
                self.pos += 1;
                let inner = self.expr()?;
                if !self.eat(')') {
                    return Err(self.error("expected ')'"));
                }
                Ok(inner)
            }
            Some(c) if c.is_ascii_digit() || c == '.' => self.number(),
            Some(c) if c.is_ascii_alphabetic() || c == '_' => self.name(),
            Some(_) => Err(self.error("expected a number, a variable, a function or '('")),
            None => Err(self.error("unexpected end")),
        }
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> String {
        let mut s = String::new();
        while let Some(&(_, c)) = self.chars.get(self.pos) {
            if !f(c) {
                break;
            }
            s.push(c);
            self.pos += 1;
        }
        s
    }

    fn number(&mut self) -> Result<Node> {
        let start = self.pos;
        let s = self.take_while(|c| c.is_ascii_digit() || c == '.');
        match s.parse::<f64>() {
            Ok(n) => Ok(Node::Num(n)),
            Err(_) => {
                self.pos = start;
                Err(self.error(&format!("bad number {s:?}")))
            }
        }
    }

    fn name(&mut self) -> Result<Node> {
        let start = self.pos;
        let name = self.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
        if self.peek() == Some('(') {
            let func = match name.as_str() {
                "min" => Func::Min,
                "max" => Func::Max,
                "clamp" => Func::Clamp,
                _ => {
                    self.pos = start;
                    return Err(self.error(&format!(
                        "unknown function {name:?} (known: min, max, clamp)"
                    )));
                }
            };
            self.pos += 1;
            let mut args = vec![self.expr()?];
            while self.eat(',') {
                args.push(self.expr()?);
            }
            if !self.eat(')') {
                return Err(self.error("expected ',' or ')'"));
            }
            if func == Func::Clamp && args.len() != 3 {
                self.pos = start;
                return Err(self.error("clamp takes 3 arguments"));
            }
            return Ok(Node::Call(func, args));
        }
        let var = match name.as_str() {
            "space" => Var::Space,
            "cpu" => Var::Cpu,
            "io" => Var::Io,
            _ => {
                self.pos = start;
                return Err(self.error(&format!("unknown variable {name:?} (known: {VARIABLES})")));
            }
        };
        Ok(Node::Var(var))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(space: f64, cpu: f64, io: f64) -> Inputs {
        Inputs { space, cpu, io }
    }

    #[test]
    fn precedence_functions_and_clamping() {
        let e = ScoreExpr::parse("1 + 2 * 3 - -4 / 2").unwrap();
        assert_eq!(e.eval_raw(&at(0.0, 0.0, 0.0)), 9.0);
        let e = ScoreExpr::parse("(1 + 2) * 3").unwrap();
        assert_eq!(e.eval_raw(&at(0.0, 0.0, 0.0)), 9.0);
        let e = ScoreExpr::parse("min(100 * space * 2, 100) * (0.5 + 0.5 * min(cpu, io))").unwrap();
        assert_eq!(e.score(&at(0.25, 1.0, 1.0)), 50);
        assert_eq!(e.score(&at(0.9, 1.0, 0.0)), 50);
        assert_eq!(e.score(&at(0.9, 1.0, 1.0)), 100);
        let e = ScoreExpr::parse("max(space, cpu, io) * 1000").unwrap();
        assert_eq!(e.score(&at(0.0, 0.5, 0.2)), 100);
        let e = ScoreExpr::parse("clamp(space * 100, 10, 20) - 50").unwrap();
        assert_eq!(e.score(&at(0.0, 0.0, 0.0)), 0);
        let e = ScoreExpr::parse("1 / space").unwrap();
        assert_eq!(e.score(&at(0.0, 0.0, 0.0)), 100);
        let e = ScoreExpr::parse("0 / space").unwrap();
        assert_eq!(e.score(&at(0.0, 0.0, 0.0)), 0);
        let e = ScoreExpr::parse("33.4").unwrap();
        assert_eq!(e.score(&at(0.0, 0.0, 0.0)), 33);
    }

    #[test]
    fn errors_are_clear() {
        for (text, needle) in [
            ("", "unexpected end"),
            ("1 +", "unexpected end"),
            ("disk * 2", "unknown variable \"disk\""),
            ("avg(space)", "unknown function \"avg\""),
            ("(space", "expected ')'"),
            ("min(space cpu)", "expected ',' or ')'"),
            ("1.2.3", "bad number"),
            ("space )", "unexpected input"),
            ("clamp(space, 1)", "clamp takes 3 arguments"),
            ("space # 2", "unexpected input"),
        ] {
            let e = ScoreExpr::parse(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn inputs_from_stats() {
        let stats = ServiceStats {
            free_bytes: 300,
            total_bytes: 200,
            chunk_count: 0,
            io_idle: f64::NAN,
            cpu_idle: 7.0,
        };
        assert_eq!(Inputs::from_stats(&stats), at(1.0, 1.0, 0.0));
        let empty = ServiceStats::default();
        assert_eq!(Inputs::from_stats(&empty).space, 0.0);
    }
}
