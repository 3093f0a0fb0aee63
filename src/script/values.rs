//! Value checks for the strict gate: strings, identifiers, numbers, enums, regexes, lists
//! and actions, each reporting into the same [`Ctx`] as the shape walk in `validate`.

use std::ptr;

use super::schema::{self, Field, Shape, Ty, ACTION};
use super::validate::{child, label, Ctx};
use super::yaml::{self, Kind, Node, Scalar};

impl Ctx {
    pub(super) fn check_value(&mut self, node: &Node, path: &str, field: &Field) {
        match &field.ty {
            Ty::Str { min, max } => {
                self.check_str(node, path, *min, *max);
            }
            Ty::Ident { max } => self.check_ident(node, path, *max),
            Ty::Number { min, max } => self.check_number(node, path, *min, *max),
            Ty::Bool if !matches!(node.kind, Kind::Scalar(Scalar::Bool(_))) => self.wrong_type(node, path, "a boolean"),
            Ty::Bool => {}
            Ty::AnyMap if node.entries().is_none() => self.wrong_type(node, path, "a mapping"),
            Ty::AnyMap => {}
            Ty::OneOf(allowed) => self.check_one_of(node, path, allowed),
            Ty::List { min, item } => self.check_list(node, path, *min, item),
            Ty::Regex => self.check_regex(node, path),
        }
    }

    fn expect_str<'n>(&mut self, node: &'n Node, path: &str) -> Option<&'n str> {
        let s = node.as_str();
        if s.is_none() {
            self.wrong_type(node, path, "a string");
        }
        s
    }

    /// Returns whether the length was within bounds.
    fn check_str(&mut self, node: &Node, path: &str, min: usize, max: Option<usize>) -> bool {
        let Some(s) = self.expect_str(node, path) else { return false };
        let len = s.chars().count();
        let message = match max {
            _ if len < min && min == 1 => format!("{} must not be empty", label(path)),
            _ if len < min => format!("{} must be at least {min} characters long", label(path)),
            Some(max) if len > max => format!("{} is {len} characters long; the limit is {max}", label(path)),
            _ => return true,
        };
        self.error(path, node.pos, message);
        false
    }

    fn check_ident(&mut self, node: &Node, path: &str, max: usize) {
        if !self.check_str(node, path, 1, Some(max)) {
            return;
        }
        let s = node.as_str().unwrap_or_default();
        if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            let message = format!(
                "{} may hold only ASCII letters, digits and underscores (^[a-zA-Z0-9_]+$), found `{s}`",
                label(path)
            );
            self.error(path, node.pos, message);
        }
    }

    fn check_number(&mut self, node: &Node, path: &str, min: f64, max: f64) {
        let value = match &node.kind {
            Kind::Scalar(Scalar::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
            Kind::Scalar(Scalar::NonFinite(f, _)) => *f,
            _ => return self.wrong_type(node, path, "a number"),
        };
        // Written so NaN fails too.
        if !(value >= min && value <= max) {
            let shown = yaml::to_json(node).to_string().trim_matches('"').to_string();
            let message = format!("{} must be between {min} and {max}, found {shown}", label(path));
            self.error(path, node.pos, message);
        }
    }

    fn check_one_of(&mut self, node: &Node, path: &str, allowed: &[&str]) {
        let Some(s) = self.expect_str(node, path) else { return };
        if !allowed.contains(&s) {
            let message = format!("{} must be one of {}; found `{s}`", label(path), allowed.join(", "));
            self.error(path, node.pos, message);
        }
    }

    fn check_regex(&mut self, node: &Node, path: &str) {
        let Some(s) = self.expect_str(node, path) else { return };
        if let Err(e) = regex::Regex::new(s) {
            let message = format!("{} is not a valid regular expression: {e}", label(path));
            self.error(path, node.pos, message);
        }
    }

    fn check_list(&mut self, node: &Node, path: &str, min: usize, item: &'static Shape) {
        let Some(items) = node.items() else {
            return self.wrong_type(node, path, "a list");
        };
        if items.len() < min {
            let plural = if min == 1 { "" } else { "s" };
            self.error(path, node.pos, format!("{} needs at least {min} item{plural}", label(path)));
        }
        for (i, element) in items.iter().enumerate() {
            let element_path = format!("{path}[{i}]");
            if ptr::eq(item, &ACTION) {
                self.check_action(element, &element_path);
            } else {
                self.check_shape(element, &element_path, item);
            }
        }
    }

    /// The action base shape, then `config` by `action_type` (base.schema.json's `allOf`).
    /// An unknown or missing type is already reported, so its config is not guessed at.
    pub(super) fn check_action(&mut self, node: &Node, path: &str) {
        if self.check_shape(node, path, &ACTION).is_none() {
            return;
        }
        let action_type = node.get("action_type").and_then(Node::as_str);
        let Some(shape) = action_type.and_then(schema::config_shape) else { return };
        match node.get("config") {
            // A config that is not a mapping was reported by the base shape.
            Some(config) if config.entries().is_some() => {
                self.check_shape(config, &child(path, "config"), shape);
            }
            Some(_) => {}
            None => {
                let message = format!("missing required key `config` in action (every {} has one)", shape.name);
                self.error(path, node.pos, message);
            }
        }
    }

    /// `extract: pattern` without a `pattern` has nothing to match with.
    pub(super) fn check_extract(&mut self, node: &Node, path: &str) {
        let Some(extract) = node.get("extract") else { return };
        if extract.as_str() == Some("pattern") && node.get("pattern").is_none() {
            let message = "`extract: pattern` needs a `pattern`".to_string();
            self.error(&child(path, "extract"), extract.pos, message);
        }
    }
}
