//! Redaction of log payloads before they are stored (DESIGN.md §5, "Plan task trees").
//!
//! Pure functions, no I/O. Rules:
//! - the value of any object key that names a secret is replaced by `"[REDACTED]"`, at any depth,
//!   inside arrays too. Names compare case-insensitively, and `-` counts as `_`, so
//!   `X-Api-Key`, `x_api_key` and `X_API_KEY` are all caught (GAgent stopped at depth 3 and
//!   missed suffixes like `openai_api_key`);
//! - an array longer than [`MAX_ITEMS`] keeps its first items plus one string item
//!   `"… N more items"`;
//! - a string longer than [`MAX_STRING_CHARS`] is cut to that many characters, the last one
//!   being `…`; top-level message fields are cut the same way to [`MAX_MESSAGE_CHARS`].
//!
//! Depth needs no cut-off: bodies are parsed by serde_json, which refuses nesting past 128.

use serde_json::{Map, Value};

pub const REDACTED: &str = "[REDACTED]";
pub const MAX_ITEMS: usize = 20;
pub const MAX_STRING_CHARS: usize = 2048;
pub const MAX_MESSAGE_CHARS: usize = 1024;

/// Exact secret-bearing names, lower case with `-` written as `_`.
const SECRET_NAMES: [&str; 16] = [
    "api_key",
    "apikey",
    "x_api_key",
    "authorization",
    "cookie",
    "set_cookie",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "secret",
    "client_secret",
    "password",
    "passwd",
    "signature",
    "private_key",
];

const SECRET_SUFFIXES: [&str; 4] = ["_api_key", "_token", "_secret", "_password"];

/// Whether the value under `key` must never be stored.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase().replace('-', "_");
    SECRET_NAMES.contains(&k.as_str()) || SECRET_SUFFIXES.iter().any(|s| k.ends_with(s))
}

/// Returns `v` with every rule applied.
pub fn redact(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(redact_object(map)),
        Value::Array(items) => Value::Array(redact_array(items)),
        Value::String(s) => Value::String(truncate(&s, MAX_STRING_CHARS)),
        other => other,
    }
}

fn redact_object(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter()
        .map(|(k, v)| {
            let v = if is_secret_key(&k) { Value::String(REDACTED.into()) } else { redact(v) };
            (k, v)
        })
        .collect()
}

fn redact_array(items: Vec<Value>) -> Vec<Value> {
    let extra = items.len().saturating_sub(MAX_ITEMS);
    let mut out: Vec<Value> = items.into_iter().take(MAX_ITEMS).map(redact).collect();
    if extra > 0 {
        out.push(Value::String(format!("… {extra} more items")));
    }
    out
}

/// A message field (`message`, `user_message`): cut to [`MAX_MESSAGE_CHARS`].
pub fn message(s: &str) -> String {
    truncate(s, MAX_MESSAGE_CHARS)
}

/// Cuts `s` to at most `max` characters (never inside a UTF-8 sequence); a cut string ends
/// in `…` so a reader can tell it was cut.
pub fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some(_) => {
            let keep = s.char_indices().nth(max.saturating_sub(1)).map_or(s.len(), |(i, _)| i);
            format!("{}…", &s[..keep])
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn listed_names_and_suffixes_match_case_insensitively() {
        for k in [
            "api_key",
            "APIKEY",
            "X-Api-Key",
            "x_api_key",
            "Authorization",
            "Cookie",
            "Set-Cookie",
            "token",
            "Access_Token",
            "refresh_token",
            "id_token",
            "SECRET",
            "client_secret",
            "Password",
            "passwd",
            "signature",
            "private_key",
            "openai_api_key",
            "OPENAI_API_KEY",
            "github_token",
            "aws_secret",
            "db_password",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in ["tokens", "key", "author", "passwords_hint", "secretary", "token_count", "api", "message"] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn secrets_are_replaced_at_any_depth_inside_arrays() {
        let v = json!({"a": [{"b": [[{"c": {"d": [{"Authorization": "Bearer s3cr3t"}]}}]]}],
                       "openai_api_key": {"nested": "s3cr3t"}, "X-Api-Key": ["s3cr3t"], "ok": "visible"});
        let out = redact(v);
        let text = out.to_string();
        assert!(!text.contains("s3cr3t"), "{text}");
        assert_eq!(out["a"][0]["b"][0][0]["c"]["d"][0]["Authorization"], REDACTED);
        assert_eq!(out["openai_api_key"], REDACTED);
        assert_eq!(out["X-Api-Key"], REDACTED);
        assert_eq!(out["ok"], "visible");
    }

    #[test]
    fn very_deep_values_are_still_walked() {
        let mut v = json!({"password": "deep"});
        for i in 0..100 {
            v = if i % 2 == 0 { json!([v]) } else { json!({"k": v}) };
        }
        assert!(!redact(v).to_string().contains("deep"));
    }

    #[test]
    fn long_arrays_keep_twenty_items_and_a_marker() {
        let out = redact(json!((0..25).collect::<Vec<_>>()));
        let items = out.as_array().unwrap();
        assert_eq!(items.len(), 21);
        assert_eq!(items[19], 19);
        assert_eq!(items[20], "… 5 more items");
        assert_eq!(redact(json!((0..20).collect::<Vec<_>>())).as_array().unwrap().len(), 20);
        let nested = redact(json!({"x": [(0..30).collect::<Vec<_>>()]}));
        assert_eq!(nested["x"][0].as_array().unwrap().len(), 21);
    }

    #[test]
    fn strings_are_cut_on_char_boundaries() {
        let long = "é".repeat(3000);
        let out = redact(json!({"s": long, "t": "short"}));
        let s = out["s"].as_str().unwrap();
        assert_eq!(s.chars().count(), MAX_STRING_CHARS);
        assert!(s.ends_with('…') && s.starts_with("éé"));
        assert_eq!(out["t"], "short");
        assert_eq!(truncate(&"x".repeat(2048), 2048).len(), 2048, "at the limit nothing is cut");
        let m = message(&"中".repeat(1500));
        assert_eq!(m.chars().count(), MAX_MESSAGE_CHARS);
        assert_eq!(message("hi"), "hi");
    }

    #[test]
    fn scalars_pass_through() {
        assert_eq!(redact(json!({"n": 1, "b": true, "z": null})), json!({"n": 1, "b": true, "z": null}));
    }
}
