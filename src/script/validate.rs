//! The strict gate: walks the positioned tree against the shapes in [`super::schema`] and
//! collects every problem, as AJV's `allErrors` does, instead of stopping at the first.
//! Mappings and keys are checked here; values are checked in `values`.

use std::ptr;

use super::schema::{self, Deprecated, Shape, OUTPUT_FIELD, SESSION, TOPIC};
use super::yaml::{self, Entry, Kind, Node, Pos, Scalar};
use super::{Limits, Problem, Report};

pub(crate) const UNRECOGNISED: &str = "unrecognised script type: expected a top-level `session` or `topic`";

/// Each list is cut here so a pathological script cannot produce an unbounded report.
const MAX_PROBLEMS: usize = 1000;

/// Validates one script strictly. Never panics; a YAML error is reported as the only problem.
pub fn validate(yaml: &str, file: Option<&str>, limits: &Limits) -> Report {
    let mut ctx = Ctx::new(file);
    let root = match yaml::parse(yaml, limits) {
        Ok(root) => root,
        Err(e) => {
            ctx.error("", Pos { line: e.line, column: e.column }, e.message);
            return ctx.finish(None);
        }
    };
    let Some((kind, path, body)) = script_body(&root) else {
        ctx.error("", root.pos, UNRECOGNISED.to_string());
        return ctx.finish(None);
    };
    // Counted before the walk, so an oversized script costs one pass and one problem.
    if let Some((at, action_path, count)) = too_many_actions(kind, path, body, limits.max_script_actions) {
        let message = format!("the script has {count} actions; the limit is {}", limits.max_script_actions);
        ctx.error(&action_path, at, message);
        return ctx.finish(Some(kind));
    }
    ctx.check_shape(body, path, if kind == "session" { &SESSION } else { &TOPIC });
    ctx.finish(Some(kind))
}

/// The script kind, the body's path and the body, from the top-level key, as HeartRule tells
/// them apart. Other top-level keys (`metadata`, …) are allowed beside it.
fn script_body(root: &Node) -> Option<(&'static str, &'static str, &Node)> {
    if let Some(session) = root.get("session") {
        return Some(("session", "session", session));
    }
    root.get("topic").map(|topic| ("technique", "topic", topic))
}

/// Returns where the first action over `limit` is, its path, and how many there are.
fn too_many_actions(kind: &str, path: &str, body: &Node, limit: usize) -> Option<(Pos, String, usize)> {
    let mut topics: Vec<(String, &Node)> = Vec::new();
    if kind == "session" {
        for (p, phase) in list(body, "phases").iter().enumerate() {
            for (t, topic) in list(phase, "topics").iter().enumerate() {
                topics.push((format!("{path}.phases[{p}].topics[{t}]"), topic));
            }
        }
    } else {
        topics.push((path.to_string(), body));
    }
    let (mut count, mut first_over) = (0, None);
    for (topic_path, topic) in &topics {
        for (a, action) in list(topic, "actions").iter().enumerate() {
            count += 1;
            if count == limit + 1 {
                first_over = Some((action.pos, format!("{topic_path}.actions[{a}]")));
            }
        }
    }
    first_over.map(|(pos, action_path)| (pos, action_path, count))
}

/// The items under `key`, or none when the shape is wrong (the walk reports that).
fn list<'n>(node: &'n Node, key: &str) -> &'n [Node] {
    node.get(key).and_then(Node::items).unwrap_or_default()
}

/// The problems found so far, and the file they belong to.
pub(super) struct Ctx {
    file: Option<String>,
    errors: Vec<Problem>,
    warnings: Vec<Problem>,
    dropped_errors: usize,
    dropped_warnings: usize,
}

impl Ctx {
    fn new(file: Option<&str>) -> Ctx {
        Ctx { file: file.map(str::to_string), errors: vec![], warnings: vec![], dropped_errors: 0, dropped_warnings: 0 }
    }

    fn problem(&self, path: &str, pos: Pos, message: String, replacement: Option<String>) -> Problem {
        let file = self.file.clone();
        Problem { file, path: path.to_string(), line: pos.line, column: pos.column, message, replacement }
    }

    pub(super) fn error(&mut self, path: &str, pos: Pos, message: String) {
        if self.errors.len() >= MAX_PROBLEMS {
            self.dropped_errors += 1;
            return;
        }
        let problem = self.problem(path, pos, message, None);
        self.errors.push(problem);
    }

    pub(super) fn warning(&mut self, path: &str, pos: Pos, message: String, replacement: Option<&str>) {
        if self.warnings.len() >= MAX_PROBLEMS {
            self.dropped_warnings += 1;
            return;
        }
        let problem = self.problem(path, pos, message, replacement.map(str::to_string));
        self.warnings.push(problem);
    }

    fn finish(mut self, kind: Option<&str>) -> Report {
        // The walk reports a mapping's missing keys after its entries; readers want file order.
        self.errors.sort_by_key(|p| (p.line, p.column));
        self.warnings.sort_by_key(|p| (p.line, p.column));
        note_dropped(&mut self.errors, self.dropped_errors, "errors");
        note_dropped(&mut self.warnings, self.dropped_warnings, "warnings");
        let valid = self.errors.is_empty();
        Report { valid, script_kind: kind.map(str::to_string), errors: self.errors, warnings: self.warnings }
    }
}

fn note_dropped(list: &mut Vec<Problem>, dropped: usize, what: &str) {
    if let (true, Some(last)) = (dropped > 0, list.last()) {
        let message = format!("{dropped} more {what} not shown");
        list.push(Problem { path: String::new(), message, replacement: None, ..last.clone() });
    }
}

/// `a.b`, or just `b` at the root.
pub(super) fn child(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// How messages name the value at a path: its last segment, in backticks.
pub(super) fn label(path: &str) -> String {
    match path.rsplit('.').next() {
        Some(last) if !last.is_empty() => format!("`{last}`"),
        _ => "the document".to_string(),
    }
}

fn type_name(node: &Node) -> &'static str {
    match &node.kind {
        Kind::Scalar(Scalar::Null) => "null",
        Kind::Scalar(Scalar::Bool(_)) => "a boolean",
        Kind::Scalar(Scalar::Number(n)) if n.is_f64() => "a number",
        Kind::Scalar(Scalar::Number(_)) => "an integer",
        Kind::Scalar(Scalar::NonFinite(..)) => "a number",
        Kind::Scalar(Scalar::Str(_)) => "a string",
        Kind::Seq(_) => "a list",
        Kind::Map(_) => "a mapping",
    }
}

/// `maxRounds` → `max_rounds`, the form the runtime's `getConfig` falls back to.
fn snake_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for (i, c) in key.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

impl Ctx {
    pub(super) fn wrong_type(&mut self, node: &Node, path: &str, expected: &str) {
        let message = format!("{} must be {expected}, found {}", label(path), type_name(node));
        self.error(path, node.pos, message);
    }

    /// Checks a mapping against a shape; returns its entries when it is a mapping at all.
    pub(super) fn check_shape<'n>(&mut self, node: &'n Node, path: &str, shape: &'static Shape) -> Option<&'n [Entry]> {
        let Some(entries) = node.entries() else {
            self.wrong_type(node, path, "a mapping");
            return None;
        };
        for entry in entries {
            self.check_entry(entry, path, shape);
        }
        for field in shape.fields.iter().filter(|f| f.required) {
            if !entries.iter().any(|e| e.key == field.name) {
                let message = format!("missing required key `{}` in {}", field.name, shape.name);
                self.error(path, node.pos, message);
            }
        }
        if ptr::eq(shape, &OUTPUT_FIELD) {
            self.check_extract(node, path);
        }
        Some(entries)
    }

    fn check_entry(&mut self, entry: &Entry, parent: &str, shape: &'static Shape) {
        let path = child(parent, &entry.key);
        if let Some(field) = shape.field(&entry.key) {
            return self.check_value(&entry.value, &path, field);
        }
        if let Some(deprecated) = shape.deprecated(&entry.key) {
            return self.deprecated(entry, &path, shape, deprecated);
        }
        let snake = snake_case(&entry.key);
        if shape.config && snake != entry.key && self.camel_case(entry, &path, shape, &snake) {
            return;
        }
        self.unknown_key(entry, &path, shape, &snake);
    }

    fn deprecated(&mut self, entry: &Entry, path: &str, shape: &Shape, d: &Deprecated) {
        let advice = match d.replacement {
            Some(r) => format!("use `{r}` instead"),
            None => "remove it".to_string(),
        };
        let message = format!("`{}` is deprecated in {} ({}); {advice}", entry.key, shape.name, d.reason);
        self.warning(path, entry.key_pos, message, d.replacement);
    }

    /// A camelCase key in a config is read by the runtime as its snake_case form, so it is a
    /// warning with that form as the replacement; its value is still checked.
    fn camel_case(&mut self, entry: &Entry, path: &str, shape: &'static Shape, snake: &str) -> bool {
        if let Some(field) = shape.field(snake) {
            let message = format!("`{}` is camelCase; use `{snake}`", entry.key);
            self.warning(path, entry.key_pos, message, Some(snake));
            self.check_value(&entry.value, path, field);
            return true;
        }
        let Some(d) = shape.deprecated(snake) else { return false };
        let advice = d.replacement.map_or("remove it".to_string(), |r| format!("use `{r}` instead"));
        let message =
            format!("`{}` is camelCase for `{snake}`, which is deprecated ({}); {advice}", entry.key, d.reason);
        self.warning(path, entry.key_pos, message, d.replacement);
        true
    }

    fn unknown_key(&mut self, entry: &Entry, path: &str, shape: &'static Shape, snake: &str) {
        // Extensions are named as such, so a reader knows HeartRule itself would refuse them.
        let names = |extension: bool| {
            let picked = shape.fields.iter().filter(|f| f.extension == extension);
            picked.map(|f| f.name).collect::<Vec<_>>().join(", ")
        };
        let mut message = format!("unknown key `{}` in {}; allowed keys: {}", entry.key, shape.name, names(false));
        if shape.fields.iter().any(|f| f.extension) {
            message.push_str(&format!(" (Planbase extensions: {})", names(true)));
        }
        if let Some(hint) = hint(&entry.key, snake, shape) {
            message.push_str("; ");
            message.push_str(&hint);
        }
        self.error(path, entry.key_pos, message);
    }
}

/// A nudge for near misses: snake_case outside configs, and a name that another action
/// type's config deprecates (HeartRule's formatter gave that advice regardless of type).
fn hint(key: &str, snake: &str, shape: &'static Shape) -> Option<String> {
    if snake != key && shape.field(snake).is_some() {
        return Some(format!("did you mean `{snake}`?"));
    }
    if !shape.config {
        return None;
    }
    schema::CONFIGS.iter().find_map(|other| {
        let d = other.deprecated(key)?;
        let use_instead = d.replacement.map_or(String::new(), |r| format!(", which is `{r}` now"));
        Some(format!("`{key}` is a deprecated {} key{use_instead}", other.name))
    })
}
