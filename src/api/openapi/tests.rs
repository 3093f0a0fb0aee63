//! Shape checks of the document that need no server (the route-for-route comparison with the
//! router is in `tests/api/openapi.rs`).

use std::collections::HashSet;

use serde_json::Value;

use super::*;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn ops(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = vec![];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((method.clone(), path.clone(), op.clone()));
        }
    }
    out
}

#[test]
fn operation_ids_are_unique_and_every_operation_is_tagged_and_summarised() {
    let doc = document();
    let tags: HashSet<&str> = TAGS.iter().map(|(t, _)| *t).collect();
    let mut ids = HashSet::new();
    for (method, path, op) in ops(&doc) {
        assert!(METHODS.contains(&method.as_str()), "{method} {path}");
        let id = op["operationId"].as_str().unwrap();
        assert!(ids.insert(id.to_string()), "operationId {id} twice");
        let op_tags = op["tags"].as_array().unwrap();
        assert_eq!(op_tags.len(), 1, "{id}");
        assert!(tags.contains(op_tags[0].as_str().unwrap()), "{id}");
        assert!(!op["summary"].as_str().unwrap().is_empty(), "{id}");
        let ok = op["responses"].as_object().unwrap().keys().any(|k| k.starts_with('2'));
        assert!(ok, "{id} has no 2xx response");
    }
    assert_eq!(ids.len(), operations().len());
}

#[test]
fn path_parameters_match_the_templates() {
    for (method, path, op) in ops(&document()) {
        let declared: Vec<&str> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        let in_path: Vec<&str> = path_names(&path).collect();
        assert_eq!(declared, in_path, "{method} {path}");
    }
}

#[test]
fn errors_use_the_shared_shape_and_open_routes_need_no_token() {
    let doc = document();
    let open = ["/health", "/ready", "/docs", "/api/v1/openapi.json", "/", "/ui/{path}"];
    for (method, path, op) in ops(&doc) {
        for (status, resp) in op["responses"].as_object().unwrap() {
            if status.starts_with('4') || status.starts_with('5') {
                let schema = &resp["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(schema, "#/components/schemas/Error", "{method} {path} {status}");
            }
        }
        let is_open = op.get("security") == Some(&serde_json::json!([]));
        assert_eq!(is_open, open.contains(&path.as_str()), "{method} {path}");
        assert_eq!(op["responses"].get("401").is_some(), !is_open, "{method} {path}");
    }
    assert_eq!(doc["components"]["securitySchemes"]["bearerAuth"]["scheme"], "bearer");
    assert_eq!(doc["security"][0]["bearerAuth"], serde_json::json!([]));
}

#[test]
fn every_ref_points_at_a_schema() {
    fn walk(v: &Value, doc: &Value) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    let target = r.strip_prefix('#').and_then(|p| doc.pointer(p));
                    assert!(target.is_some(), "dangling {r}");
                }
                m.values().for_each(|c| walk(c, doc));
            }
            Value::Array(a) => a.iter().for_each(|c| walk(c, doc)),
            _ => {}
        }
    }
    let doc = document();
    walk(&doc, &doc);
}

#[test]
fn schema_helpers_say_what_serde_accepts() {
    assert_eq!(nullable(string())["type"], serde_json::json!(["string", "null"]));
    assert_eq!(nullable(one_of(&["a"]))["enum"], serde_json::json!(["a", null]));
    assert!(nullable(r("X"))["anyOf"].is_array());
    assert_eq!(text(1, 5)["pattern"], NOT_BLANK);
    let blank = regex::Regex::new(NOT_BLANK).unwrap();
    for (s, not_blank) in [(" \t\u{85}\u{3000}", false), (" x ", true), ("\u{1c}", true)] {
        assert_eq!(blank.is_match(s), not_blank, "{s:?}");
        assert_eq!(!s.trim().is_empty(), not_blank, "{s:?}");
    }
    assert!(text(0, 5).get("pattern").is_none());
    assert_eq!(list(string())["required"], serde_json::json!(["items", "next_cursor"]));
    assert_eq!(limit()["maximum"], 200);
}

#[test]
fn shapes_read_the_compact_field_lists() {
    let s = shape("id: int, name: string?, kind: a|b, tags: [string], files~: [SetFile], at: Other?");
    assert_eq!(s["required"], serde_json::json!(["id", "name", "kind", "tags", "at"]));
    let p = &s["properties"];
    assert_eq!(p["id"], int());
    assert_eq!(p["name"]["type"], serde_json::json!(["string", "null"]));
    assert_eq!(p["kind"]["enum"], serde_json::json!(["a", "b"]));
    assert_eq!(p["tags"]["items"], string());
    assert_eq!(p["files"]["items"]["$ref"], "#/components/schemas/SetFile");
    assert_eq!(p["at"]["anyOf"][0]["$ref"], "#/components/schemas/Other");
    assert_eq!(s["additionalProperties"], true);
}
