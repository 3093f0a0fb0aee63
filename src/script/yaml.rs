//! YAML into a small tree that remembers where each node and each mapping key starts.
//!
//! serde_yaml drops positions, so this drives yaml-rust2's pull parser and builds the tree
//! with an explicit stack (no recursion while parsing, so depth is bounded by the limit, not
//! by the thread's stack). Scalars are typed by the YAML 1.2 core schema.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::{Limits, ParseError};

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    pub(crate) const START: Pos = Pos { line: 1, column: 1 };

    /// yaml-rust2 marks have 1-based lines and 0-based columns.
    fn from_mark(m: &Marker) -> Pos {
        Pos { line: m.line().max(1), column: m.col() + 1 }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    /// `.inf` and `.nan`: numbers to YAML, but JSON cannot hold them, so the text is kept.
    NonFinite(f64, String),
    Str(String),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub pos: Pos,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

impl Node {
    pub(crate) fn entries(&self) -> Option<&[Entry]> {
        match &self.kind {
            Kind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        self.entries()?.iter().find(|e| e.key == key).map(|e| &e.value)
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar(Scalar::Str(s)) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn items(&self) -> Option<&[Node]> {
        match &self.kind {
            Kind::Seq(items) => Some(items),
            _ => None,
        }
    }
}

/// Parses one YAML document into a JSON value, under the same limits as the validator: size,
/// depth, no aliases, one document. Mapping keys are taken as strings as written (`1:` is
/// "1"); a list or mapping used as a key is refused. `.inf` and `.nan` stay as their text.
pub fn parse_yaml(yaml: &str, limits: &Limits) -> Result<serde_json::Value, ParseError> {
    parse(yaml, limits).map(|node| to_json(&node))
}

/// Parses one YAML document into a positioned tree. An empty stream is a null at 1:1.
pub(crate) fn parse(yaml: &str, limits: &Limits) -> Result<Node, ParseError> {
    if yaml.len() > limits.max_yaml_bytes {
        let message = format!("the document is {} bytes; the limit is {} bytes", yaml.len(), limits.max_yaml_bytes);
        return Err(ParseError { line: 1, column: 1, message });
    }
    // yaml-rust2 keeps a byte-order mark as part of the first key; it is not content.
    let text = yaml.strip_prefix('\u{feff}').unwrap_or(yaml);
    let mut parser = Parser::new_from_str(text);
    let mut builder = Builder { max_depth: limits.max_yaml_depth, stack: Vec::new(), root: None, documents: 0 };
    loop {
        let (event, mark) = parser.next_token().map_err(|e| ParseError {
            line: e.marker().line().max(1),
            column: e.marker().col() + 1,
            message: e.info().to_string(),
        })?;
        if event == Event::StreamEnd {
            return Ok(builder.root.unwrap_or(Node { pos: Pos::START, kind: Kind::Scalar(Scalar::Null) }));
        }
        builder.event(event, Pos::from_mark(&mark))?;
    }
}

enum Frame {
    Seq { pos: Pos, items: Vec<Node> },
    Map { pos: Pos, entries: Vec<Entry>, key: Option<(String, Pos)>, seen: HashSet<String> },
}

struct Builder {
    max_depth: usize,
    stack: Vec<Frame>,
    root: Option<Node>,
    documents: usize,
}

fn fail(pos: Pos, message: impl Into<String>) -> ParseError {
    ParseError { line: pos.line, column: pos.column, message: message.into() }
}

impl Builder {
    fn event(&mut self, event: Event, pos: Pos) -> Result<(), ParseError> {
        match event {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(fail(pos, "multiple YAML documents are not supported; a file holds one document"));
                }
                Ok(())
            }
            // Refused outright rather than expanded: expansion is how billion-laughs works.
            Event::Alias(_) => Err(fail(pos, "YAML aliases are not supported")),
            Event::Scalar(text, style, _anchor, tag) => self.scalar(text, style, tag, pos),
            Event::SequenceStart(..) => self.open(Frame::Seq { pos, items: Vec::new() }, pos),
            Event::MappingStart(..) => {
                let frame = Frame::Map { pos, entries: Vec::new(), key: None, seen: HashSet::new() };
                self.open(frame, pos)
            }
            Event::SequenceEnd | Event::MappingEnd => self.close(),
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => Ok(()),
        }
    }

    /// True when the next node completes a key rather than a value or an item.
    fn awaiting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }

    fn open(&mut self, frame: Frame, pos: Pos) -> Result<(), ParseError> {
        if self.awaiting_key() {
            return Err(fail(pos, "mapping keys must be strings, not lists or mappings"));
        }
        if self.stack.len() >= self.max_depth {
            return Err(fail(pos, format!("the document nests deeper than {} levels", self.max_depth)));
        }
        self.stack.push(frame);
        Ok(())
    }

    fn close(&mut self) -> Result<(), ParseError> {
        let node = match self.stack.pop() {
            Some(Frame::Seq { pos, items }) => Node { pos, kind: Kind::Seq(items) },
            Some(Frame::Map { pos, entries, .. }) => Node { pos, kind: Kind::Map(entries) },
            None => return Ok(()),
        };
        self.attach(node);
        Ok(())
    }

    fn scalar(&mut self, text: String, style: TScalarStyle, tag: Option<Tag>, pos: Pos) -> Result<(), ParseError> {
        if let Some(Frame::Map { pos: map_pos, entries, key: key @ None, seen }) = self.stack.last_mut() {
            // Keys are taken as written (`1:` is the key "1"), since JSON keys are strings.
            if !seen.insert(text.clone()) {
                return Err(fail(pos, format!("duplicate key `{text}`")));
            }
            // A block mapping's start mark sits one column past its first key; the key is
            // where a reader looks.
            if entries.is_empty() {
                *map_pos = pos;
            }
            *key = Some((text, pos));
            return Ok(());
        }
        let implicit_null = text.is_empty() && style == TScalarStyle::Plain && tag.is_none();
        let pos = match self.stack.last() {
            // An empty `key:` is marked wherever the next token starts; point at the key.
            Some(Frame::Map { key: Some((_, key_pos)), .. }) if implicit_null => *key_pos,
            _ => pos,
        };
        self.attach(Node { pos, kind: Kind::Scalar(resolve(text, style, tag.as_ref())) });
        Ok(())
    }

    fn attach(&mut self, node: Node) {
        match self.stack.last_mut() {
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => {
                // A value always follows its key in the event stream, so the key is there.
                if let Some((key, key_pos)) = key.take() {
                    entries.push(Entry { key, key_pos, value: node });
                }
            }
            None => self.root = Some(node),
        }
    }
}

static INT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[-+]?[0-9]+$").expect("valid regex"));
static FLOAT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$").expect("valid regex"));

/// Types a scalar by the YAML 1.2 core schema. Only plain scalars are resolved; quoted and
/// block scalars are strings, and `!!str` forces a string.
fn resolve(text: String, style: TScalarStyle, tag: Option<&Tag>) -> Scalar {
    let core_tag = tag.filter(|t| t.handle == "tag:yaml.org,2002:").map(|t| t.suffix.as_str());
    match core_tag {
        Some("str") => Scalar::Str(text),
        Some("null" | "bool" | "int" | "float") => resolve_plain(text),
        _ if style == TScalarStyle::Plain => resolve_plain(text),
        _ => Scalar::Str(text),
    }
}

fn resolve_plain(text: String) -> Scalar {
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "true" | "True" | "TRUE" => return Scalar::Bool(true),
        "false" | "False" | "FALSE" => return Scalar::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Scalar::NonFinite(f64::INFINITY, text),
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::NonFinite(f64::NEG_INFINITY, text),
        ".nan" | ".NaN" | ".NAN" => return Scalar::NonFinite(f64::NAN, text),
        _ => {}
    }
    number(&text).map(Scalar::Number).unwrap_or(Scalar::Str(text))
}

/// Core-schema integers (decimal, `0o`, `0x`) and floats; integers too big for 64 bits
/// become floats, as in JSON.
fn number(text: &str) -> Option<serde_json::Number> {
    // from_str_radix would also take a sign, which the core schema does not allow here.
    let radix = |digits: &str, radix: u32| {
        let digits_only = !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix));
        digits_only.then(|| i64::from_str_radix(digits, radix).ok().map(Into::into)).flatten()
    };
    if let Some(oct) = text.strip_prefix("0o") {
        return radix(oct, 8);
    }
    if let Some(hex) = text.strip_prefix("0x") {
        return radix(hex, 16);
    }
    if INT.is_match(text) {
        if let Ok(i) = text.parse::<i64>() {
            return Some(i.into());
        }
        if let Ok(u) = text.trim_start_matches('+').parse::<u64>() {
            return Some(u.into());
        }
    }
    if FLOAT.is_match(text) {
        return text.parse::<f64>().ok().and_then(serde_json::Number::from_f64);
    }
    None
}

pub(crate) fn to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value;
    match &node.kind {
        Kind::Scalar(Scalar::Null) => Value::Null,
        Kind::Scalar(Scalar::Bool(b)) => Value::Bool(*b),
        Kind::Scalar(Scalar::Number(n)) => Value::Number(n.clone()),
        Kind::Scalar(Scalar::NonFinite(_, text)) => Value::String(text.clone()),
        Kind::Scalar(Scalar::Str(s)) => Value::String(s.clone()),
        Kind::Seq(items) => Value::Array(items.iter().map(to_json).collect()),
        Kind::Map(entries) => Value::Object(entries.iter().map(|e| (e.key.clone(), to_json(&e.value))).collect()),
    }
}
