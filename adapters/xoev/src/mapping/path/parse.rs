//! The parser for path expressions: a tokenizer and a recursive-descent parser over the
//! XPath 1.0 subset described in [`super`].
//!
//! Mapping authors are not necessarily programmers, so every error says what was
//! expected, at which column, and repeats the expression: "expected `]` at column 11 of
//! `//a[@b='c'`".

use std::fmt;

use super::{CompareOp, Expr, Function, LocationPath, NameTest, NodeTest, PathExpr, Start, Step};

/// A path expression that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathError {
    /// What is wrong.
    pub message: String,
    /// 1-based column (in characters) where the problem was found; one past the end when
    /// the expression ended too early.
    pub column: usize,
    /// The expression as written in the mapping file.
    pub path: String,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at column {} of `{}`",
            self.message, self.column, self.path
        )
    }
}

impl std::error::Error for PathError {}

/// Nesting limit for predicates and parentheses, so that no expression can exhaust the
/// stack (the parser and the evaluator both recurse).
const MAX_NESTING: usize = 32;

/// Longest expression accepted. Real paths are well below 200 characters; the limit
/// bounds the depth of `a or b or …` chains, which nest without parentheses.
const MAX_LEN: usize = 2000;

pub(super) fn parse(text: &str) -> Result<PathExpr, PathError> {
    let length = text.chars().count();
    if length > MAX_LEN {
        return Err(PathError {
            message: format!("path expression longer than {MAX_LEN} characters"),
            column: MAX_LEN + 1,
            path: text.chars().take(40).chain("…".chars()).collect(),
        });
    }
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        text,
        tokens,
        pos: 0,
        depth: 0,
    };
    if parser.peek() == &Tok::End {
        return Err(parser.error_here("empty path expression"));
    }
    let expr = parser.path_expr()?;
    if parser.peek() != &Tok::End {
        let found = parser.peek().describe();
        return Err(parser.error_here(format!("unexpected {found}")));
    }
    Ok(expr)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Slash,
    DoubleSlash,
    LBracket,
    RBracket,
    LParen,
    RParen,
    At,
    Pipe,
    Comma,
    Dot,
    DotDot,
    Star,
    /// `prefix:*`
    PrefixStar,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    Literal(String),
    Number(f64),
    /// A name, possibly with a prefix (`xbau:antrag`).
    Name(String),
    End,
}

impl Tok {
    fn describe(&self) -> String {
        let symbol = match self {
            Tok::Slash => "/",
            Tok::DoubleSlash => "//",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::At => "@",
            Tok::Pipe => "|",
            Tok::Comma => ",",
            Tok::Dot => ".",
            Tok::DotDot => "..",
            Tok::Star | Tok::PrefixStar => "*",
            Tok::Eq => "=",
            Tok::Ne => "!=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Literal(_) => return "a string literal".to_owned(),
            Tok::Number(_) => return "a number".to_owned(),
            Tok::Name(name) => return format!("`{name}`"),
            Tok::End => return "the end of the expression".to_owned(),
        };
        format!("`{symbol}`")
    }
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// 1-based character column.
    column: usize,
}

fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.')
}

fn tokenize(text: &str) -> Result<Vec<Token>, PathError> {
    let chars: Vec<char> = text.chars().collect();
    let error = |message: String, column: usize| PathError {
        message,
        column,
        path: text.to_owned(),
    };
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        let next = chars.get(i + 1).copied();
        let (tok, len) = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '/' if next == Some('/') => (Tok::DoubleSlash, 2),
            '/' => (Tok::Slash, 1),
            '[' => (Tok::LBracket, 1),
            ']' => (Tok::RBracket, 1),
            '(' => (Tok::LParen, 1),
            ')' => (Tok::RParen, 1),
            '@' => (Tok::At, 1),
            '|' => (Tok::Pipe, 1),
            ',' => (Tok::Comma, 1),
            '*' => (Tok::Star, 1),
            '=' => (Tok::Eq, 1),
            '!' if next == Some('=') => (Tok::Ne, 2),
            '<' if next == Some('=') => (Tok::Le, 2),
            '<' => (Tok::Lt, 1),
            '>' if next == Some('=') => (Tok::Ge, 2),
            '>' => (Tok::Gt, 1),
            '+' => (Tok::Plus, 1),
            '-' => (Tok::Minus, 1),
            '.' if next == Some('.') => (Tok::DotDot, 2),
            '.' if next.is_some_and(|n| n.is_ascii_digit()) => number(&chars, i),
            '.' => (Tok::Dot, 1),
            '0'..='9' => number(&chars, i),
            '\'' | '"' => {
                let Some(len) = chars[i + 1..].iter().position(|&q| q == c) else {
                    return Err(error(
                        format!("string literal is not closed (add {c})"),
                        column,
                    ));
                };
                let literal: String = chars[i + 1..i + 1 + len].iter().collect();
                (Tok::Literal(literal), len + 2)
            }
            c if is_name_start(c) => name(&chars, i).map_err(|(message, at)| error(message, at))?,
            ':' if next == Some(':') => {
                return Err(error(
                    "axes (`::`) are not supported; use `/`, `//`, `..` or `@`".to_owned(),
                    column,
                ));
            }
            other => {
                return Err(error(format!("unexpected character `{other}`"), column));
            }
        };
        tokens.push(Token { tok, column });
        i += len;
    }
    tokens.push(Token {
        tok: Tok::End,
        column: chars.len() + 1,
    });
    Ok(tokens)
}

/// A number starting at `start`: digits, optionally `.` and more digits.
fn number(chars: &[char], start: usize) -> (Tok, usize) {
    let mut end = start;
    while end < chars.len() && chars[end].is_ascii_digit() {
        end += 1;
    }
    if end < chars.len() && chars[end] == '.' {
        end += 1;
        while end < chars.len() && chars[end].is_ascii_digit() {
            end += 1;
        }
    }
    let text: String = chars[start..end].iter().collect();
    // Digits with at most one dot always parse; 0.0 is a harmless fallback.
    (Tok::Number(text.parse().unwrap_or(0.0)), end - start)
}

/// A name, `prefix:name` or `prefix:*` starting at `start`.
fn name(chars: &[char], start: usize) -> Result<(Tok, usize), (String, usize)> {
    let mut end = start + 1;
    while end < chars.len() && is_name_char(chars[end]) {
        end += 1;
    }
    if end < chars.len() && chars[end] == ':' {
        match chars.get(end + 1) {
            Some(':') => {
                return Err((
                    "axes (`::`) are not supported; use `/`, `//`, `..` or `@`".to_owned(),
                    end + 1,
                ));
            }
            Some('*') => return Ok((Tok::PrefixStar, end + 2 - start)),
            Some(&c) if is_name_start(c) => {
                end += 2;
                while end < chars.len() && is_name_char(chars[end]) {
                    end += 1;
                }
            }
            _ => {
                return Err((
                    "expected a name after the namespace prefix".to_owned(),
                    end + 2,
                ));
            }
        }
    }
    let text: String = chars[start..end].iter().collect();
    Ok((Tok::Name(text), end - start))
}

/// Drops a namespace prefix: names match by local name.
fn local_name(qname: &str) -> &str {
    qname.rsplit_once(':').map_or(qname, |(_, local)| local)
}

struct Parser<'t> {
    text: &'t str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.tokens[self.pos].tok
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        let last = self.tokens.len() - 1;
        &self.tokens[(self.pos + ahead).min(last)].tok
    }

    fn advance(&mut self) -> Tok {
        let tok = self.tokens[self.pos].tok.clone();
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        tok
    }

    fn error_here(&self, message: impl Into<String>) -> PathError {
        PathError {
            message: message.into(),
            column: self.tokens[self.pos].column,
            path: self.text.to_owned(),
        }
    }

    fn expect(&mut self, tok: Tok) -> Result<(), PathError> {
        if *self.peek() == tok {
            self.advance();
            Ok(())
        } else {
            Err(self.error_here(format!(
                "expected {} but found {}",
                tok.describe(),
                self.peek().describe()
            )))
        }
    }

    fn nest(&mut self) -> Result<(), PathError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.error_here(format!(
                "expression nested deeper than {MAX_NESTING} levels"
            )));
        }
        Ok(())
    }

    /// `LocationPath ('|' LocationPath)*`
    fn path_expr(&mut self) -> Result<PathExpr, PathError> {
        let mut branches = vec![self.location_path()?];
        while *self.peek() == Tok::Pipe {
            self.advance();
            branches.push(self.location_path()?);
        }
        Ok(PathExpr { branches })
    }

    fn location_path(&mut self) -> Result<LocationPath, PathError> {
        match self.peek() {
            Tok::Slash => {
                self.advance();
                let mut steps = Vec::new();
                if self.starts_step() {
                    self.relative_steps(&mut steps)?;
                }
                Ok(LocationPath {
                    start: Start::Root,
                    steps,
                })
            }
            Tok::DoubleSlash => {
                self.advance();
                let mut steps = vec![Step::DescendantOrSelf];
                self.relative_steps(&mut steps)?;
                Ok(LocationPath {
                    start: Start::Root,
                    steps,
                })
            }
            Tok::LParen => {
                self.advance();
                self.nest()?;
                let inner = self.path_expr()?;
                self.expect(Tok::RParen)?;
                self.depth -= 1;
                self.filter_rest(inner)
            }
            _ => {
                let mut steps = Vec::new();
                self.relative_steps(&mut steps)?;
                Ok(LocationPath {
                    start: Start::Context,
                    steps,
                })
            }
        }
    }

    /// After `( expr )`: optional predicates, then optionally `/steps` or `//steps`.
    fn filter_rest(&mut self, inner: PathExpr) -> Result<LocationPath, PathError> {
        let predicates = self.predicates()?;
        let mut steps = Vec::new();
        match self.peek() {
            Tok::Slash => {
                self.advance();
                self.relative_steps(&mut steps)?;
            }
            Tok::DoubleSlash => {
                self.advance();
                steps.push(Step::DescendantOrSelf);
                self.relative_steps(&mut steps)?;
            }
            _ => {}
        }
        Ok(LocationPath {
            start: Start::Filter(Box::new(inner), predicates),
            steps,
        })
    }

    fn starts_step(&self) -> bool {
        matches!(
            self.peek(),
            Tok::Dot | Tok::DotDot | Tok::At | Tok::Star | Tok::PrefixStar | Tok::Name(_)
        )
    }

    /// `Step (('/' | '//') Step)*`
    fn relative_steps(&mut self, steps: &mut Vec<Step>) -> Result<(), PathError> {
        steps.push(self.step()?);
        loop {
            match self.peek() {
                Tok::Slash => {
                    self.advance();
                    steps.push(self.step()?);
                }
                Tok::DoubleSlash => {
                    self.advance();
                    steps.push(Step::DescendantOrSelf);
                    steps.push(self.step()?);
                }
                _ => return Ok(()),
            }
        }
    }

    fn step(&mut self) -> Result<Step, PathError> {
        let step = match self.peek().clone() {
            Tok::Dot | Tok::DotDot => {
                let step = if self.advance() == Tok::Dot {
                    Step::SelfNode
                } else {
                    Step::Parent
                };
                if *self.peek() == Tok::LBracket {
                    return Err(self.error_here(
                        "a predicate cannot follow `.` or `..` (write `self::` steps as `../name[…]`)",
                    ));
                }
                return Ok(step);
            }
            Tok::At => {
                self.advance();
                let test = match self.peek() {
                    Tok::Star | Tok::PrefixStar => NameTest::Any,
                    Tok::Name(name) => NameTest::Local(local_name(name).into()),
                    _ => {
                        return Err(self.error_here("expected an attribute name or `*` after `@`"));
                    }
                };
                self.advance();
                return Ok(Step::Attribute(test, self.predicates()?));
            }
            Tok::Star | Tok::PrefixStar => {
                self.advance();
                NodeTest::Element(NameTest::Any)
            }
            Tok::Name(name) if *self.peek_at(1) == Tok::LParen => {
                let test = match name.as_str() {
                    "text" => NodeTest::Text,
                    "node" => NodeTest::Any,
                    other if Function::by_name(other).is_some() => {
                        return Err(self.error_here(format!(
                            "the function `{other}()` can only be used inside a predicate `[…]`"
                        )));
                    }
                    other => {
                        return Err(self.error_here(format!(
                            "unknown function `{other}()` (supported: text(), node(), last(), position(), not(), count(), contains(), starts-with())"
                        )));
                    }
                };
                self.advance();
                self.advance();
                self.expect(Tok::RParen)?;
                test
            }
            Tok::Name(name) => {
                self.advance();
                NodeTest::Element(NameTest::Local(local_name(&name).into()))
            }
            other => {
                return Err(self.error_here(format!(
                    "expected a step (a name, `*`, `.`, `..`, `@name` or `text()`) but found {}",
                    other.describe()
                )));
            }
        };
        Ok(Step::Child(step, self.predicates()?))
    }

    fn predicates(&mut self) -> Result<Vec<Expr>, PathError> {
        let mut predicates = Vec::new();
        while *self.peek() == Tok::LBracket {
            self.advance();
            self.nest()?;
            if *self.peek() == Tok::RBracket {
                return Err(self.error_here("empty predicate `[]`"));
            }
            predicates.push(self.or_expr()?);
            self.expect(Tok::RBracket)?;
            self.depth -= 1;
        }
        Ok(predicates)
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Tok::Name(name) if name == keyword)
    }

    fn or_expr(&mut self) -> Result<Expr, PathError> {
        let mut left = self.and_expr()?;
        while self.is_keyword("or") {
            self.advance();
            let right = self.and_expr()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, PathError> {
        let mut left = self.compare_expr()?;
        while self.is_keyword("and") {
            self.advance();
            let right = self.compare_expr()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn compare_expr(&mut self) -> Result<Expr, PathError> {
        let mut left = self.additive_expr()?;
        loop {
            let op = match self.peek() {
                Tok::Eq => CompareOp::Eq,
                Tok::Ne => CompareOp::Ne,
                Tok::Lt => CompareOp::Lt,
                Tok::Le => CompareOp::Le,
                Tok::Gt => CompareOp::Gt,
                Tok::Ge => CompareOp::Ge,
                _ => return Ok(left),
            };
            self.advance();
            let right = self.additive_expr()?;
            left = Expr::Compare(Box::new(left), op, Box::new(right));
        }
    }

    fn additive_expr(&mut self) -> Result<Expr, PathError> {
        let mut left = self.primary()?;
        loop {
            let add = match self.peek() {
                Tok::Plus => true,
                Tok::Minus => false,
                _ => return Ok(left),
            };
            self.advance();
            let right = Box::new(self.primary()?);
            left = if add {
                Expr::Add(Box::new(left), right)
            } else {
                Expr::Subtract(Box::new(left), right)
            };
        }
    }

    fn primary(&mut self) -> Result<Expr, PathError> {
        match self.peek().clone() {
            Tok::Literal(text) => {
                self.advance();
                Ok(Expr::Literal(text.into()))
            }
            Tok::Number(n) => {
                self.advance();
                Ok(Expr::Number(n))
            }
            Tok::LParen => {
                self.advance();
                self.nest()?;
                let inner = self.or_expr()?;
                self.expect(Tok::RParen)?;
                self.depth -= 1;
                let continues =
                    matches!(self.peek(), Tok::LBracket | Tok::Slash | Tok::DoubleSlash);
                match inner {
                    Expr::Path(path) if continues => Ok(Expr::Path(PathExpr {
                        branches: vec![self.filter_rest(path)?],
                    })),
                    _ if continues => Err(self.error_here(
                        "only a path in parentheses can be followed by `[`, `/` or `//`",
                    )),
                    inner => Ok(inner),
                }
            }
            Tok::Name(name)
                if *self.peek_at(1) == Tok::LParen && name != "text" && name != "node" =>
            {
                self.call(&name)
            }
            _ => Ok(Expr::Path(self.path_expr()?)),
        }
    }

    fn call(&mut self, name: &str) -> Result<Expr, PathError> {
        let Some((function, arity)) = Function::by_name(name) else {
            return Err(self.error_here(format!(
                "unknown function `{name}()` (supported: last(), position(), not(), count(), contains(), starts-with())"
            )));
        };
        let at = self.pos;
        self.advance();
        self.advance();
        self.nest()?;
        let mut args = Vec::new();
        if *self.peek() != Tok::RParen {
            args.push(self.or_expr()?);
            while *self.peek() == Tok::Comma {
                self.advance();
                args.push(self.or_expr()?);
            }
        }
        self.expect(Tok::RParen)?;
        self.depth -= 1;
        let fail = |parser: &Self, message: String| PathError {
            message,
            column: parser.tokens[at].column,
            path: parser.text.to_owned(),
        };
        if args.len() != arity {
            let wanted = match arity {
                0 => "no arguments".to_owned(),
                1 => "one argument".to_owned(),
                n => format!("{n} arguments"),
            };
            return Err(fail(self, format!("`{name}()` takes {wanted}")));
        }
        if function == Function::Count && !matches!(args[0], Expr::Path(_)) {
            return Err(fail(self, "`count()` needs a path".to_owned()));
        }
        Ok(Expr::Call(function, args))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn parses_the_supported_forms() {
        for ok in [
            "/",
            "/a/b",
            "//x",
            "a//b",
            "a/b",
            "*",
            ".",
            "..",
            "../x",
            "@listURI",
            "@*",
            "a/@xbau:id",
            "text()",
            "a/text()",
            "node()",
            "//a[1]",
            "//a[last()]",
            "//a[last() - 1]",
            "//a[position() <= 2]",
            "//nachrichtentyp[@listURI='urn:x']/code",
            "//x[code='0500']",
            "//x[code=\"0500\"]",
            "//x[a/b = 'c' and not(@nil) or count(d) > 2]",
            "//x[contains(., 'a')][starts-with(@k, 'b')]",
            "(//x)[1]/y",
            "(//x | //y)[last()]//z",
            "a | b | /c",
            "xbau:antrag/xbau:*",
            "abh.gewerbemeldung.0500",
            "//x[(a or b) and c]",
            "//x[.//y]",
            "//x[(.//y)[2] = 'z']",
            " //a [ 1 ] ",
            "//x[. != '']",
            "//x[1.5 > .5]",
        ] {
            assert!(parse(ok).is_ok(), "{ok}: {:?}", parse(ok));
        }
    }

    #[test]
    fn prefixes_are_dropped() {
        assert_eq!(parse("xbau:a/b").unwrap(), parse("a/x:b").unwrap());
        assert_eq!(parse("p:*").unwrap(), parse("*").unwrap());
    }

    #[test]
    fn errors_name_the_column_and_repeat_the_expression() {
        assert_eq!(
            err("//a[@b='c'"),
            "expected `]` but found the end of the expression at column 11 of `//a[@b='c'`"
        );
        assert_eq!(
            err("//a[@b='c]"),
            "string literal is not closed (add ') at column 8 of `//a[@b='c]`"
        );
        assert_eq!(err(""), "empty path expression at column 1 of ``");
        assert_eq!(
            err("a/"),
            "expected a step (a name, `*`, `.`, `..`, `@name` or `text()`) but found the end of the expression at column 3 of `a/`"
        );
        assert_eq!(err("a b"), "unexpected `b` at column 3 of `a b`");
        assert_eq!(err("a#"), "unexpected character `#` at column 2 of `a#`");
        assert!(err("child::a").starts_with("axes (`::`) are not supported"));
        assert!(err("//a[foo()]").starts_with("unknown function `foo()`"));
        assert!(err("last()").starts_with("the function `last()` can only be used inside"));
        assert!(err("//a[contains(.)]").starts_with("`contains()` takes 2 arguments"));
        assert!(err("//a[count('x')]").starts_with("`count()` needs a path"));
        assert!(err("//a[]").starts_with("empty predicate"));
        assert!(err("@").starts_with("expected an attribute name"));
        assert!(err("./[1]").starts_with("expected a step"));
        assert!(err(".[1]").starts_with("a predicate cannot follow"));
        assert!(err("p:").starts_with("expected a name after the namespace prefix"));
        assert!(err("//x[('a')[1]]").starts_with("only a path in parentheses"));
        assert!(err("('a')[1]").starts_with("expected a step"));
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}a{}", "//a[".repeat(40), "]".repeat(40));
        assert!(err(&deep).contains("nested deeper than"));
        let parens = format!("//a[{}1{}]", "(".repeat(40), ")".repeat(40));
        assert!(err(&parens).contains("nested deeper than"));
    }

    #[test]
    fn never_panics_on_odd_input() {
        for text in [
            "]", "[", ")", "(", "((", "'", "\"", "@@", "//", "///", "..[", "a[1", "a[1]]", "1",
            "-", "a-", "ü", "ü:ö", "a:b:c", "*:a", "a[last(]", "a[not(]", "(", "()", "a|", "|a",
            ":", "a::", "x[1 +]", "x[. = ]",
        ] {
            let _ = parse(text);
        }
    }
}
