//! Path expressions: how a mapping file points at values in an XÖV message.
//!
//! The language is a subset of XPath 1.0, chosen so that anyone who has seen XPath can
//! read a mapping, and so that what they write means the same here as in an XML editor.
//! The one deliberate difference: names match by **local name**, the namespace prefix is
//! ignored (`xbau:antragsteller`, `antragsteller` and `x:antragsteller` are the same
//! step). XÖV messages mix qualified and unqualified elements freely (XBau 2.6 puts the
//! G2G header in no namespace and the body in the XBau one), so namespace-exact matching
//! would only make mappings fragile.
//!
//! Supported: absolute (`/a/b`), relative (`a/b`) and descendant (`//x`, `a//x`) paths,
//! `*`, `.`, `..`, attributes (`@listURI`, `@*`), `text()` and `node()`, unions (`a | b`),
//! a parenthesised head with predicates (`(//x)[1]/y`), and predicates with positions
//! (`[1]`, `[last()]`, `[last() - 1]`, `[position() < 3]`), comparisons
//! (`[@listURI='urn:…']`, `[code='0500']`, `[. != '']`, `[betrag > 100]`), `and`, `or`,
//! and the functions `not()`, `count()`, `contains()` and `starts-with()`.
//!
//! Expressions are parsed once, when the mapping is loaded ([`PathExpr::parse`]);
//! evaluation ([`eval`]) runs against the read-only [`Document`](super::document::Document)
//! and never fails: a path that finds nothing returns an empty set.

mod eval;
mod parse;

pub(crate) use eval::{eval, first_value};
pub(crate) use parse::PathError;

/// A parsed path expression: one or more location paths joined by `|`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PathExpr {
    branches: Vec<LocationPath>,
}

impl PathExpr {
    /// Parses `text`; errors name the column and repeat the expression (it comes from the
    /// mapping file, never from a message, so quoting it is safe).
    pub(crate) fn parse(text: &str) -> Result<PathExpr, PathError> {
        parse::parse(text)
    }
}

/// One location path: where it starts and the steps from there.
#[derive(Debug, Clone, PartialEq)]
struct LocationPath {
    start: Start,
    steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
enum Start {
    /// Relative: from the context node.
    Context,
    /// Absolute (`/`): from the document node.
    Root,
    /// `( expr ) [pred]…`: the node-set of `expr` in document order, filtered.
    Filter(Box<PathExpr>, Vec<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// `.`
    SelfNode,
    /// `..`
    Parent,
    /// What `//` stands for: `descendant-or-self::node()`.
    DescendantOrSelf,
    /// An element (or `node()`) step on the child axis.
    Child(NodeTest, Vec<Expr>),
    /// `@name`, `@*`.
    Attribute(NameTest, Vec<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum NodeTest {
    Element(NameTest),
    /// `text()`
    Text,
    /// `node()`: elements and text.
    Any,
}

#[derive(Debug, Clone, PartialEq)]
enum NameTest {
    /// `*`
    Any,
    /// A local name (any prefix in the expression was dropped).
    Local(Box<str>),
}

impl NameTest {
    fn matches(&self, local: &str) -> bool {
        match self {
            NameTest::Any => true,
            NameTest::Local(name) => **name == *local,
        }
    }
}

/// An expression inside a predicate.
#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Compare(Box<Expr>, CompareOp, Box<Expr>),
    Add(Box<Expr>, Box<Expr>),
    Subtract(Box<Expr>, Box<Expr>),
    Literal(Box<str>),
    Number(f64),
    Path(PathExpr),
    Call(Function, Vec<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    Last,
    Position,
    Not,
    Count,
    Contains,
    StartsWith,
}

impl Function {
    const ALL: [(&'static str, Function, usize); 6] = [
        ("last", Function::Last, 0),
        ("position", Function::Position, 0),
        ("not", Function::Not, 1),
        ("count", Function::Count, 1),
        ("contains", Function::Contains, 2),
        ("starts-with", Function::StartsWith, 2),
    ];

    fn by_name(name: &str) -> Option<(Function, usize)> {
        Self::ALL
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|&(_, f, arity)| (f, arity))
    }
}
