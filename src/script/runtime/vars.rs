//! Variables by scope and `${name}` / `{{name}}` / `{name}` interpolation.

use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The session's variable store, as kept in `state.variable_store`: phase and topic scopes
/// are keyed by their ids, as HeartRule's resolver keys them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct VarStore {
    #[serde(default)]
    pub global: Map<String, Value>,
    #[serde(default)]
    pub session: Map<String, Value>,
    #[serde(default)]
    pub phase: Map<String, Value>,
    #[serde(default)]
    pub topic: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Global,
    Session,
    Phase,
    Topic,
}

impl VarStore {
    /// topic → phase → session → global; None when undefined.
    pub fn resolve(&self, name: &str, phase_id: &str, topic_id: &str) -> Option<&Value> {
        fn scoped<'a>(m: &'a Map<String, Value>, id: &str, name: &str) -> Option<&'a Value> {
            m.get(id).and_then(|s| s.get(name))
        }
        scoped(&self.topic, topic_id, name)
            .or_else(|| scoped(&self.phase, phase_id, name))
            .or_else(|| self.session.get(name))
            .or_else(|| self.global.get(name))
            .filter(|v| !v.is_null())
    }

    pub fn set(&mut self, scope: Scope, id: &str, name: &str, value: Value) {
        let nested = |m: &mut Map<String, Value>| {
            let slot = m.entry(id.to_string()).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(o) = slot {
                o.insert(name.to_string(), value.clone());
            }
        };
        match scope {
            Scope::Global => drop(self.global.insert(name.into(), value.clone())),
            Scope::Session => drop(self.session.insert(name.into(), value.clone())),
            Scope::Phase => nested(&mut self.phase),
            Scope::Topic => nested(&mut self.topic),
        }
    }

    /// Every visible variable, resolved (for `GET /sessions/{id}/variables`).
    pub fn flatten(&self, phase_id: &str, topic_id: &str) -> Map<String, Value> {
        let mut out = self.global.clone();
        out.extend(self.session.clone());
        for (m, id) in [(&self.phase, phase_id), (&self.topic, topic_id)] {
            if let Some(Value::Object(s)) = m.get(id) {
                out.extend(s.clone());
            }
        }
        out
    }
}

fn pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // `{{name}}` before `{name}`, so the double form is not read as a single one.
    RE.get_or_init(|| Regex::new(r"\$\{([^{}]+)\}|\{\{([^{}]+)\}\}|\{([^{}]+)\}").expect("valid regex"))
}

/// Replaces each defined variable; an undefined one is left exactly as written.
pub fn interpolate(text: &str, lookup: impl Fn(&str) -> Option<Value>) -> String {
    pattern()
        .replace_all(text, |c: &regex::Captures| {
            let name = (1..=3).find_map(|i| c.get(i)).map(|m| m.as_str().trim()).unwrap_or_default();
            match lookup(name) {
                Some(Value::String(s)) => s,
                Some(v) => v.to_string(),
                None => c[0].to_string(),
            }
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn three_forms_cjk_names_and_undefined_left_alone() {
        let vars = json!({"name": "Ann", "用户名": "小明", "n": 3});
        let look = |k: &str| vars.get(k).cloned();
        assert_eq!(interpolate("hi ${name}, {{用户名}} and {n}!", look), "hi Ann, 小明 and 3!");
        assert_eq!(interpolate("keep ${missing} {{missing}} {missing}", look), "keep ${missing} {{missing}} {missing}");
        assert_eq!(interpolate("{ name }", look), "Ann");
    }

    #[test]
    fn resolution_order_is_topic_phase_session_global() {
        let mut v = VarStore::default();
        v.set(Scope::Global, "", "x", json!("g"));
        assert_eq!(v.resolve("x", "p", "t"), Some(&json!("g")));
        v.set(Scope::Session, "", "x", json!("s"));
        v.set(Scope::Phase, "p", "x", json!("p"));
        assert_eq!(v.resolve("x", "p", "t"), Some(&json!("p")));
        v.set(Scope::Topic, "t", "x", json!("t"));
        assert_eq!(v.resolve("x", "p", "t"), Some(&json!("t")));
        assert_eq!(v.resolve("x", "p", "other"), Some(&json!("p")));
        assert_eq!(v.flatten("p", "t")["x"], json!("t"));
    }
}
