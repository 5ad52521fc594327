//! Evaluating a parsed path against a [`Document`], with XPath 1.0 semantics.
//!
//! Every step takes a node-set in document order and returns one in document order
//! without duplicates; predicates see positions relative to the candidates of one context
//! node, as in XPath (`//x[1]` is every `x` that is the first `x` child of its parent;
//! `(//x)[1]` is the first `x` in the document). `//` over a set of nested nodes expands
//! each subtree once, so no path is worse than linear per step in the size of the message
//! (predicates that themselves search with `//` multiply that).
//!
//! The one departure from XPath, consistent with the rest of the mapping language: when a
//! node's value is compared or tested (`=`, `contains()`, …) its leading and trailing
//! white space is ignored, so `[code='0500']` matches a pretty-printed `<code> 0500 </code>`.

use super::{CompareOp, Expr, Function, LocationPath, NameTest, NodeTest, PathExpr, Start, Step};
use crate::mapping::document::{Document, NodeRef};

/// The nodes `path` selects from `context`, in document order.
pub(crate) fn eval(doc: &Document, path: &PathExpr, context: NodeRef) -> Vec<NodeRef> {
    let mut out = Vec::new();
    for branch in &path.branches {
        out.extend(location(doc, branch, context));
    }
    if path.branches.len() > 1 {
        out.sort_unstable();
        out.dedup();
    }
    out
}

/// The string value of the first node `path` selects, if any.
pub(crate) fn first_value(doc: &Document, path: &PathExpr, context: NodeRef) -> Option<String> {
    eval(doc, path, context)
        .first()
        .map(|&node| doc.string_value(node))
}

fn location(doc: &Document, path: &LocationPath, context: NodeRef) -> Vec<NodeRef> {
    let mut set = match &path.start {
        Start::Context => vec![context],
        Start::Root => vec![Document::ROOT],
        Start::Filter(inner, predicates) => filter(doc, eval(doc, inner, context), predicates),
    };
    let mut steps = path.steps.iter().peekable();
    while let Some(step) = steps.next() {
        if set.is_empty() {
            break;
        }
        // `//name` (with predicates that do not depend on position): search each subtree
        // once instead of collecting every node and then looking at its children.
        if let (Step::DescendantOrSelf, Some(Step::Child(NodeTest::Element(name), predicates))) =
            (step, steps.peek())
            && !predicates.iter().any(positional)
        {
            set = descendants_named(doc, &set, name, predicates);
            steps.next();
            continue;
        }
        set = apply_step(doc, step, &set);
    }
    set
}

/// The elements named `name` strictly below the nodes of `set` that satisfy
/// `predicates`, in document order.
fn descendants_named(
    doc: &Document,
    set: &[NodeRef],
    name: &NameTest,
    predicates: &[Expr],
) -> Vec<NodeRef> {
    let mut out = Vec::new();
    let mut covered_until = 0;
    for &node in set {
        let NodeRef::Node(id) = node else { continue };
        if id < covered_until {
            continue;
        }
        covered_until = doc.subtree_end(id);
        for candidate in id + 1..covered_until {
            let matches = doc
                .local_name(candidate)
                .is_some_and(|local| name.matches(local));
            if matches {
                let candidate = NodeRef::Node(candidate);
                let focus = Focus {
                    node: candidate,
                    position: 1,
                    size: 1,
                };
                if predicates.iter().all(|p| truthy(&value(doc, p, focus))) {
                    out.push(candidate);
                }
            }
        }
    }
    out
}

/// Whether a predicate's outcome can depend on the candidate's position: a number
/// (`[1]`, `[last() - 1]`) or anything using `last()`/`position()` outside a nested path.
fn positional(predicate: &Expr) -> bool {
    fn uses_position(expr: &Expr) -> bool {
        match expr {
            Expr::Call(Function::Last | Function::Position, _) => true,
            Expr::Call(_, args) => args.iter().any(uses_position),
            Expr::Or(a, b) | Expr::And(a, b) | Expr::Add(a, b) | Expr::Subtract(a, b) => {
                uses_position(a) || uses_position(b)
            }
            Expr::Compare(a, _, b) => uses_position(a) || uses_position(b),
            Expr::Literal(_) | Expr::Number(_) | Expr::Path(_) => false,
        }
    }
    let numeric = matches!(
        predicate,
        Expr::Number(_)
            | Expr::Add(..)
            | Expr::Subtract(..)
            | Expr::Call(Function::Count | Function::Last | Function::Position, _)
    );
    numeric || uses_position(predicate)
}

fn apply_step(doc: &Document, step: &Step, set: &[NodeRef]) -> Vec<NodeRef> {
    match step {
        Step::SelfNode => set.to_vec(),
        Step::Parent => {
            let mut out: Vec<NodeRef> = set
                .iter()
                .filter_map(|&node| match node {
                    NodeRef::Node(id) => doc.parent(id).map(NodeRef::Node),
                    NodeRef::Attribute(id, _) => Some(NodeRef::Node(id)),
                })
                .collect();
            out.sort_unstable();
            out.dedup();
            out
        }
        Step::DescendantOrSelf => {
            let mut out = Vec::new();
            let mut covered_until = 0;
            let mut has_attributes = false;
            // `set` is in document order, so a node below `covered_until` lies inside a
            // subtree that was already added whole.
            for &node in set {
                match node {
                    NodeRef::Attribute(..) => {
                        has_attributes = true;
                        out.push(node);
                    }
                    NodeRef::Node(id) if id < covered_until => {}
                    NodeRef::Node(id) => {
                        covered_until = doc.subtree_end(id);
                        out.extend((id..covered_until).map(NodeRef::Node));
                    }
                }
            }
            if has_attributes {
                out.sort_unstable();
                out.dedup();
            }
            out
        }
        Step::Child(test, predicates) => {
            let mut out = Vec::new();
            let mut candidates = Vec::new();
            for &node in set {
                let NodeRef::Node(id) = node else { continue };
                candidates.clear();
                candidates.extend(
                    doc.children(id)
                        .filter(|&child| node_test(doc, test, child))
                        .map(NodeRef::Node),
                );
                if predicates.is_empty() {
                    out.extend_from_slice(&candidates);
                } else {
                    out.extend(filter(doc, std::mem::take(&mut candidates), predicates));
                }
            }
            // Children of nested context nodes interleave.
            out.sort_unstable();
            out
        }
        Step::Attribute(test, predicates) => {
            let mut out = Vec::new();
            for &node in set {
                let NodeRef::Node(id) = node else { continue };
                let candidates: Vec<NodeRef> = doc
                    .attributes(id)
                    .filter(|(_, name)| test.matches(name))
                    .map(|(index, _)| NodeRef::Attribute(id, index))
                    .collect();
                out.extend(filter(doc, candidates, predicates));
            }
            out
        }
    }
}

fn node_test(doc: &Document, test: &NodeTest, id: u32) -> bool {
    match test {
        NodeTest::Element(name) => doc.local_name(id).is_some_and(|local| name.matches(local)),
        NodeTest::Text => doc.is_text(id),
        NodeTest::Any => doc.is_element(id) || doc.is_text(id),
    }
}

/// Where a predicate is evaluated: the candidate, its 1-based position, and how many
/// candidates there are.
#[derive(Clone, Copy)]
struct Focus {
    node: NodeRef,
    position: usize,
    size: usize,
}

fn filter(doc: &Document, mut nodes: Vec<NodeRef>, predicates: &[Expr]) -> Vec<NodeRef> {
    for predicate in predicates {
        if let Expr::Number(n) = predicate {
            // The common `[1]`: no need to look at every candidate.
            let index = *n as usize;
            nodes = if n.fract() == 0.0 && index >= 1 && index <= nodes.len() {
                vec![nodes[index - 1]]
            } else {
                Vec::new()
            };
            continue;
        }
        let size = nodes.len();
        let mut kept = Vec::with_capacity(size);
        for (i, &node) in nodes.iter().enumerate() {
            let focus = Focus {
                node,
                position: i + 1,
                size,
            };
            let keep = match value(doc, predicate, focus) {
                Value::Number(n) => n == (i + 1) as f64,
                other => truthy(&other),
            };
            if keep {
                kept.push(node);
            }
        }
        nodes = kept;
    }
    nodes
}

/// XPath's four value types.
enum Value {
    Nodes(Vec<NodeRef>),
    String(String),
    Number(f64),
    Boolean(bool),
}

fn value(doc: &Document, expr: &Expr, focus: Focus) -> Value {
    match expr {
        Expr::Or(a, b) => {
            Value::Boolean(truthy(&value(doc, a, focus)) || truthy(&value(doc, b, focus)))
        }
        Expr::And(a, b) => {
            Value::Boolean(truthy(&value(doc, a, focus)) && truthy(&value(doc, b, focus)))
        }
        Expr::Compare(a, op, b) => Value::Boolean(compare(
            doc,
            value(doc, a, focus),
            *op,
            value(doc, b, focus),
        )),
        Expr::Add(a, b) => {
            Value::Number(number(doc, &value(doc, a, focus)) + number(doc, &value(doc, b, focus)))
        }
        Expr::Subtract(a, b) => {
            Value::Number(number(doc, &value(doc, a, focus)) - number(doc, &value(doc, b, focus)))
        }
        Expr::Literal(text) => Value::String(text.to_string()),
        Expr::Number(n) => Value::Number(*n),
        Expr::Path(path) => Value::Nodes(eval(doc, path, focus.node)),
        Expr::Call(function, args) => call(doc, *function, args, focus),
    }
}

fn call(doc: &Document, function: Function, args: &[Expr], focus: Focus) -> Value {
    let arg = |i: usize| args.get(i).map(|a| value(doc, a, focus));
    match function {
        Function::Last => Value::Number(focus.size as f64),
        Function::Position => Value::Number(focus.position as f64),
        Function::Not => Value::Boolean(!arg(0).is_some_and(|v| truthy(&v))),
        Function::Count => Value::Number(match arg(0) {
            Some(Value::Nodes(nodes)) => nodes.len() as f64,
            _ => 0.0,
        }),
        Function::Contains | Function::StartsWith => {
            let (Some(haystack), Some(needle)) = (arg(0), arg(1)) else {
                return Value::Boolean(false);
            };
            let (haystack, needle) = (string(doc, &haystack), string(doc, &needle));
            Value::Boolean(if function == Function::Contains {
                haystack.contains(&needle)
            } else {
                haystack.starts_with(&needle)
            })
        }
    }
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Nodes(nodes) => !nodes.is_empty(),
        Value::String(s) => !s.is_empty(),
        Value::Number(n) => *n != 0.0 && !n.is_nan(),
        Value::Boolean(b) => *b,
    }
}

/// A node's value for comparisons: its string value without surrounding white space.
fn node_string(doc: &Document, node: NodeRef) -> String {
    let value = doc.string_value(node);
    let trimmed = value.trim();
    if trimmed.len() == value.len() {
        value
    } else {
        trimmed.to_owned()
    }
}

fn string(doc: &Document, value: &Value) -> String {
    match value {
        Value::Nodes(nodes) => nodes
            .first()
            .map(|&n| node_string(doc, n))
            .unwrap_or_default(),
        Value::String(s) => s.clone(),
        Value::Number(n) => number_to_string(*n),
        Value::Boolean(b) => b.to_string(),
    }
}

fn number_to_string(n: f64) -> String {
    if n.is_nan() {
        "NaN".to_owned()
    } else if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

fn number(doc: &Document, value: &Value) -> f64 {
    match value {
        Value::Number(n) => *n,
        Value::Boolean(b) => f64::from(u8::from(*b)),
        other => parse_number(&string(doc, other)),
    }
}

/// XPath `number()`: optional minus, digits with an optional fraction; anything else is
/// NaN (so `inf`, `1e3` and `0x10` are not numbers).
fn parse_number(text: &str) -> f64 {
    let text = text.trim();
    let digits = text.strip_prefix('-').unwrap_or(text);
    let valid = !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.chars().filter(|&c| c == '.').count() <= 1
        && digits != ".";
    if valid {
        text.parse().unwrap_or(f64::NAN)
    } else {
        f64::NAN
    }
}

fn compare(doc: &Document, left: Value, op: CompareOp, right: Value) -> bool {
    match (left, right) {
        (Value::Nodes(a), Value::Nodes(b)) => {
            let b: Vec<String> = b.iter().map(|&n| node_string(doc, n)).collect();
            a.iter().any(|&n| {
                let a = Value::String(node_string(doc, n));
                b.iter()
                    .any(|b| compare_atoms(doc, &a, op, &Value::String(b.clone())))
            })
        }
        (Value::Nodes(nodes), other) => compare_nodes(doc, &nodes, op, &other),
        (other, Value::Nodes(nodes)) => compare_nodes(doc, &nodes, flip(op), &other),
        (a, b) => compare_atoms(doc, &a, op, &b),
    }
}

/// A node-set against a single value: true if any node compares true (XPath 1.0 §3.4).
fn compare_nodes(doc: &Document, nodes: &[NodeRef], op: CompareOp, other: &Value) -> bool {
    if let Value::Boolean(_) = other {
        return compare_atoms(doc, &Value::Boolean(!nodes.is_empty()), op, other);
    }
    nodes.iter().any(|&n| {
        let node = match other {
            Value::Number(_) => Value::Number(parse_number(&node_string(doc, n))),
            _ => Value::String(node_string(doc, n)),
        };
        compare_atoms(doc, &node, op, other)
    })
}

fn compare_atoms(doc: &Document, a: &Value, op: CompareOp, b: &Value) -> bool {
    match op {
        CompareOp::Eq | CompareOp::Ne => {
            let equal = if matches!(a, Value::Boolean(_)) || matches!(b, Value::Boolean(_)) {
                truthy(a) == truthy(b)
            } else if matches!(a, Value::Number(_)) || matches!(b, Value::Number(_)) {
                number(doc, a) == number(doc, b)
            } else {
                string(doc, a) == string(doc, b)
            };
            equal == (op == CompareOp::Eq)
        }
        CompareOp::Lt => number(doc, a) < number(doc, b),
        CompareOp::Le => number(doc, a) <= number(doc, b),
        CompareOp::Gt => number(doc, a) > number(doc, b),
        CompareOp::Ge => number(doc, a) >= number(doc, b),
    }
}

fn flip(op: CompareOp) -> CompareOp {
    match op {
        CompareOp::Lt => CompareOp::Gt,
        CompareOp::Le => CompareOp::Ge,
        CompareOp::Gt => CompareOp::Lt,
        CompareOp::Ge => CompareOp::Le,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;

    const XML: &str = r#"<m:msg xmlns:m="urn:m" xmlns:o="urn:o">
  <kopf><typ listURI="urn:typ"><code> 0500 </code></typ></kopf>
  <person id="p1"><name>Pick</name><rolle><code>1</code></rolle></person>
  <person id="p2"><name>Rodríguez</name><rolle><code>2</code></rolle>
    <o:person id="p3"><name>Inner</name></o:person>
  </person>
  <betrag>12.50</betrag><betrag>7</betrag>
  <leer/>
</m:msg>"#;

    fn select(path: &str) -> Vec<String> {
        let (doc, _) = Document::parse(XML.as_bytes(), &Limits::default()).unwrap();
        let path = PathExpr::parse(path).unwrap();
        let context = doc.root_element().unwrap();
        eval(&doc, &path, context)
            .into_iter()
            .map(|n| doc.string_value(n).trim().to_owned())
            .collect()
    }

    #[test]
    fn steps_and_axes() {
        assert_eq!(select("person/name"), ["Pick", "Rodríguez"]);
        assert_eq!(select("//person/name"), ["Pick", "Rodríguez", "Inner"]);
        assert_eq!(select("/msg/kopf/typ/code"), ["0500"]);
        assert_eq!(select("/*/kopf/typ/code"), ["0500"]);
        assert_eq!(select("/m:msg/x:kopf/typ/code"), ["0500"]);
        assert_eq!(select("//person/@id"), ["p1", "p2", "p3"]);
        assert_eq!(select("//typ/@*"), ["urn:typ"]);
        assert_eq!(select("//name/text()"), ["Pick", "Rodríguez", "Inner"]);
        assert_eq!(select("//code/../../name"), ["Pick", "Rodríguez"]);
        assert_eq!(select("//@id/.."), select("//person"));
        assert_eq!(select("."), select("/msg"));
        assert_eq!(select("person//name"), ["Pick", "Rodríguez", "Inner"]);
        assert_eq!(select("//leer").len(), 1);
        assert!(select("//nichts").is_empty());
        assert!(select("/msg/@nichts").is_empty());
    }

    #[test]
    fn positions_are_per_parent_unless_parenthesised() {
        assert_eq!(select("//person[1]/name"), ["Pick", "Inner"]);
        assert_eq!(select("(//person)[1]/name"), ["Pick"]);
        assert_eq!(select("(//person)[last()]/name"), ["Inner"]);
        assert_eq!(select("person[last()]/name"), ["Rodríguez"]);
        assert_eq!(select("betrag[last() - 1]"), ["12.50"]);
        assert_eq!(select("betrag[position() > 1]"), ["7"]);
        assert!(select("betrag[3]").is_empty());
        assert!(select("betrag[0]").is_empty());
        assert!(select("betrag[1.5]").is_empty());
    }

    #[test]
    fn predicates_compare_like_xpath_with_trimmed_values() {
        assert_eq!(select("//typ[@listURI='urn:typ']/code"), ["0500"]);
        assert_eq!(select("//typ[code='0500']/code"), ["0500"]);
        assert_eq!(select("//typ[code=500]/code"), ["0500"]);
        assert_eq!(select("person[rolle/code='2']/name"), ["Rodríguez"]);
        assert_eq!(select("person[rolle/code!='2']/name"), ["Pick"]);
        assert_eq!(select("betrag[. > 10]"), ["12.50"]);
        assert_eq!(select("betrag[. <= 7]"), ["7"]);
        assert_eq!(select("person[not(person)]/name"), ["Pick"]);
        assert_eq!(select("person[count(person) = 1]/name"), ["Rodríguez"]);
        assert_eq!(select("//person[starts-with(name, 'Ro')]/@id"), ["p2"]);
        assert_eq!(select("//person[contains(name, 'nne')]/@id"), ["p3"]);
        assert_eq!(
            select("person[@id='p1' or @id='p2'][rolle]/@id"),
            ["p1", "p2"]
        );
        assert_eq!(
            select("person[@id='p1' and rolle/code='2']/@id"),
            Vec::<String>::new()
        );
        assert_eq!(select("person[name = ../person/name][2]/@id"), ["p2"]);
        assert_eq!(select("person[(rolle/code)[1] = 1]/@id"), ["p1"]);
    }

    #[test]
    fn unions_are_in_document_order_without_duplicates() {
        assert_eq!(
            select("betrag | kopf//code | betrag"),
            ["0500", "12.50", "7"]
        );
    }
}
