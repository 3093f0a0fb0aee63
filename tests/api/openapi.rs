//! `GET /api/v1/openapi.json` and `GET /docs`: the document is OpenAPI 3.1 whose `$ref`s all
//! resolve, it lists exactly the routes the router has (method by method, both ways), the docs
//! page is offline HTML, and both stay open under `auth.mode = "token"`.
//!
//! axum cannot list its routes, so the two directions are checked separately:
//! - spec ⊆ router: every operation is sent to the running server (path parameters filled in),
//!   and must be neither the fallback's 404 nor a 405; `/metrics` must then show a request
//!   counted under that route template and method.
//! - router ⊆ spec: the `.route(…)` registrations are read from the source of `src/api/`
//!   ([`scan_routes`]) and compared with the document's operations.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use axum::Router;
use serde_json::Value;

use crate::helpers::TestApp;

type Routes = BTreeSet<(String, String)>;

async fn fetch_spec(app: &TestApp) -> (String, Value) {
    let r = app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let text = r.text().await.unwrap();
    let doc = serde_json::from_str(&text).unwrap();
    (text, doc)
}

/// `(METHOD, path)` of every operation in the document.
fn spec_routes(doc: &Value) -> Routes {
    let mut out = Routes::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_every_ref_resolves() {
    let app = TestApp::spawn().await;
    let (text, doc) = fetch_spec(&app).await;
    let spec = oas3::from_json(&text).expect("oas3 parses the document");
    assert!(spec.openapi.starts_with("3.1"), "{}", spec.openapi);
    let mut count = 0;
    for (path, method, op) in spec.operations() {
        count += 1;
        let id = op.operation_id.as_deref().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert_eq!(op.tags.len(), 1, "{id}");
        assert!(op.summary.as_deref().is_some_and(|s| !s.is_empty()), "{id}");
        op.parameters(&spec).unwrap_or_else(|e| panic!("{id}: {e}"));
        op.request_body(&spec).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert!(!op.responses(&spec).is_empty(), "{id}");
    }
    assert_eq!(count, spec_routes(&doc).len());
    for (name, schema) in &spec.components.as_ref().unwrap().schemas {
        schema.resolve(&spec).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let mut refs = 0;
    assert_refs_resolve(&doc, &doc, &mut refs);
    assert!(refs > 100, "only {refs} $refs");
    let scheme = &doc["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!((scheme["type"].as_str(), scheme["scheme"].as_str()), (Some("http"), Some("bearer")));
}

/// Every `$ref` is a local JSON pointer to something that exists.
fn assert_refs_resolve(v: &Value, doc: &Value, refs: &mut usize) {
    match v {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref") {
                let r = r.as_str().unwrap();
                let target = r.strip_prefix('#').and_then(|p| doc.pointer(p));
                assert!(target.is_some_and(Value::is_object), "dangling $ref {r}");
                *refs += 1;
            }
            m.values().for_each(|c| assert_refs_resolve(c, doc, refs));
        }
        Value::Array(a) => a.iter().for_each(|c| assert_refs_resolve(c, doc, refs)),
        _ => {}
    }
}

/// A concrete path for a template: integer ids for tasks, dependencies and snapshots, a
/// real asset for the demo page, a well-formed UUID for everything else.
fn fill(template: &str) -> String {
    template
        .split('/')
        .map(|seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some("tid" | "sid" | "dep") => "1".to_string(),
            Some("path") => "app.js".to_string(),
            Some(_) => "0190a0b1-7c2d-7e3f-8a4b-5c6d7e8f9a0b".to_string(),
            None => seg.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Requests counted by `/metrics`, summed over statuses other than 405, per (route, METHOD).
async fn matched_counts(app: &TestApp) -> HashMap<(String, String), f64> {
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let mut out = HashMap::new();
    for s in scrape.samples.iter().filter(|s| s.metric == "planbase_http_requests_total") {
        let (Some(route), Some(method)) = (s.labels.get("route"), s.labels.get("method")) else { continue };
        let prometheus_parse::Value::Counter(n) = s.value else { continue };
        if s.labels.get("status") != Some("405") {
            // `/ui/{*path}` is labelled `/ui/:*path`; the document writes it `/ui/{path}`.
            *out.entry((route.replace('*', ""), method.to_string())).or_insert(0.0) += n;
        }
    }
    out
}

#[tokio::test]
async fn every_operation_in_the_document_reaches_a_route_of_the_router() {
    let app = TestApp::spawn().await;
    let (_, doc) = fetch_spec(&app).await;
    // The probe tells the fallback apart: an unknown path and a wrong method.
    let (s, b) = app.get("/api/v1/no/such/route").await;
    assert_eq!((s, b["error"]["code"].as_str(), b["error"]["type"].as_str()), (404, Some("not_found"), Some("route")));
    let r = app.client.put(app.url("/health")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let before = matched_counts(&app).await;
    let routes = spec_routes(&doc);
    for (method, template) in &routes {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = app.client.request(m, app.url(&fill(template)));
        if method != "GET" && method != "DELETE" {
            // Malformed on purpose: no write succeeds, only routing is under test.
            req = req.header("content-type", "application/json").body("{");
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        let fallback = body["error"]["code"] == "not_found" && body["error"]["type"] == "route";
        assert!(status != 405 && !fallback, "{method} {template}: {status} {body}");
    }
    let after = matched_counts(&app).await;
    for (method, template) in &routes {
        let key = (template.replace('{', ":").replace('}', ""), method.clone());
        let grew = after.get(&key).copied().unwrap_or(0.0) - before.get(&key).copied().unwrap_or(0.0);
        assert!(grew >= 1.0, "{method} {template} was not counted under its route template");
    }
}

#[tokio::test]
async fn the_document_lists_exactly_the_routes_registered_in_src_api() {
    let app = TestApp::spawn().await;
    let documented = spec_routes(&fetch_spec(&app).await.1);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
    let mut registered = Routes::new();
    for file in rust_files(&dir) {
        let src = std::fs::read_to_string(&file).unwrap();
        let found = scan_routes(&src).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        registered.extend(found);
    }
    let missing: Vec<_> = registered.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&registered).collect();
    assert!(missing.is_empty() && extra.is_empty(), "not in the document: {missing:?}\nnot in the router: {extra:?}");
    assert!(registered.len() > 90, "{}", registered.len());
}

fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn docs_is_an_offline_html_page() {
    let app = TestApp::spawn().await;
    let r = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = r.text().await.unwrap();
    assert!(page.contains("/api/v1/openapi.json") && page.contains("<script>"), "fetches the document");
    assert!(!page.contains("/*DOCS_JS*/") && !page.contains("/*DOCS_CSS*/"), "assets are inlined");
    let lower = page.to_ascii_lowercase();
    for scheme in ["http://", "https://"] {
        for (at, _) in lower.match_indices(scheme) {
            let rest = &page[at + scheme.len()..];
            let host: String = rest.chars().take_while(|c| !matches!(c, '/' | '"' | '\'' | ' ' | ')')).collect();
            assert!(matches!(host.as_str(), "127.0.0.1" | "localhost"), "off-host URL {scheme}{host} in /docs");
        }
    }
    assert!(!lower.contains("src=\"//") && !lower.contains("href=\"//"), "protocol-relative URL in /docs");
}

#[tokio::test]
async fn docs_and_the_document_need_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let tweak = |c: &mut planbase::config::Config| c.auth.mode = planbase::config::AuthMode::Token;
    let app = TestApp::spawn_at(dir.path().join("db"), tweak, Router::new()).await.unwrap();
    assert_eq!(app.get("/api/v1/projects").await.0, 401, "tokens are enforced");
    for path in ["/docs", "/api/v1/openapi.json"] {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
    }
}

// ---- the route scanner -----------------------------------------------------------------------

/// `(METHOD, path)` of every `.route(path, method_router)` call in Rust source. Paths may be
/// string literals, `let`/`const` string bindings or `&format!("{binding}/…")`; the method
/// router is a chain like `get(a).post(b)` over any number of lines, with the method functions
/// possibly path-qualified (`axum::routing::post`). A wildcard `{*rest}` is written `{rest}`,
/// as OpenAPI does. Routing it cannot follow (`nest`, `route_service`, `on`, `any`) is an error.
fn scan_routes(src: &str) -> Result<Routes, String> {
    let code: Vec<char> = strip_comments(src).chars().collect();
    let bindings = string_bindings(&code.iter().collect::<String>());
    let mut out = Routes::new();
    let mut i = 0;
    while i < code.len() {
        if let Some(end) = literal_end(&code, i) {
            i = end;
            continue;
        }
        let rest = || code[i..].iter().collect::<String>();
        if [".nest(", ".nest_service(", ".route_service("].iter().any(|u| starts_with(&code, i, u)) {
            return Err(format!(
                "`{}…` is not understood by the route scanner",
                rest().chars().take(14).collect::<String>()
            ));
        }
        if starts_with(&code, i, ".route") {
            if let Some(args) = rest()[".route".len()..].trim_start().strip_prefix('(') {
                let args = split_args(args)?;
                let [path, router] = args.as_slice() else {
                    return Err(format!("route with {} arguments", args.len()));
                };
                let path = resolve_path(path, &bindings)?.replace("{*", "{");
                for method in methods(router)? {
                    out.insert((method, path.clone()));
                }
            }
        }
        i += 1;
    }
    Ok(out)
}

fn starts_with(b: &[char], at: usize, s: &str) -> bool {
    s.chars().enumerate().all(|(k, c)| b.get(at + k) == Some(&c))
}

/// Index just past the string, raw string or char literal that starts at `i`, if one does.
fn literal_end(b: &[char], i: usize) -> Option<usize> {
    match b[i] {
        '"' => Some(string_end(b, i)),
        '\'' if b.get(i + 1) == Some(&'\\') => Some(src_find(b, i + 3, "'").map_or(b.len(), |e| e + 1)),
        '\'' if b.get(i + 2) == Some(&'\'') => Some(i + 3),
        'r' if i == 0 || !(b[i - 1].is_alphanumeric() || b[i - 1] == '_') => {
            let hashes = b[i + 1..].iter().take_while(|c| **c == '#').count();
            if b.get(i + 1 + hashes) != Some(&'"') {
                return None;
            }
            let close: String = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
            Some(src_find(b, i + 2 + hashes, &close).map_or(b.len(), |e| e + close.len()))
        }
        _ => None,
    }
}

/// Drops `//` and `/* */` comments, keeping string and char literals intact.
fn strip_comments(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let (mut out, mut i) = (String::with_capacity(src.len()), 0);
    while i < b.len() {
        if let Some(end) = literal_end(&b, i) {
            out.extend(&b[i..end]);
            i = end;
        } else if starts_with(&b, i, "//") {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if starts_with(&b, i, "/*") {
            i = src_find(&b, i + 2, "*/").map_or(b.len(), |e| e + 2);
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn src_find(b: &[char], from: usize, needle: &str) -> Option<usize> {
    (from..b.len()).find(|&i| starts_with(b, i, needle))
}

/// Index just past the string literal starting at `start` (a `"`).
fn string_end(b: &[char], start: usize) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// `let NAME = "…";` and `const NAME: &str = "…";` bindings.
fn string_bindings(code: &str) -> HashMap<String, String> {
    let re = regex::Regex::new(r#"(?:let|const|static)\s+(\w+)\s*(?::[^=]*)?=\s*"([^"\\]*)"\s*;"#).unwrap();
    re.captures_iter(code).map(|c| (c[1].to_string(), c[2].to_string())).collect()
}

/// The top-level arguments of a call whose `(` was just consumed.
fn split_args(s: &str) -> Result<Vec<String>, String> {
    let b: Vec<char> = s.chars().collect();
    let (mut args, mut cur, mut depth, mut i) = (vec![], String::new(), 0, 0);
    while i < b.len() {
        let c = b[i];
        match c {
            '"' => {
                let end = string_end(&b, i);
                cur.extend(&b[i..end]);
                i = end;
                continue;
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' if depth == 0 => {
                args.push(cur.trim().to_string());
                return Ok(args.into_iter().filter(|a: &String| !a.is_empty()).collect());
            }
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                args.push(std::mem::take(&mut cur).trim().to_string());
                i += 1;
                continue;
            }
            _ => {}
        }
        cur.push(c);
        i += 1;
    }
    Err("unclosed .route(".into())
}

/// The path of a route: a literal, a binding, or `&format!(…)` over bindings.
fn resolve_path(arg: &str, bindings: &HashMap<String, String>) -> Result<String, String> {
    let arg = arg.trim_start_matches('&').trim();
    if let Some(lit) = arg.strip_prefix('"').and_then(|a| a.strip_suffix('"')) {
        return Ok(lit.to_string());
    }
    if let Some(v) = bindings.get(arg) {
        return Ok(v.clone());
    }
    let inner = arg.strip_prefix("format!(").and_then(|a| a.strip_suffix(')'));
    let Some(lit) = inner.and_then(|a| a.trim().strip_prefix('"')).and_then(|a| a.strip_suffix('"')) else {
        return Err(format!("cannot read the route path {arg}"));
    };
    let (mut out, mut chars) = (String::new(), lit.chars().peekable());
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => out.push(chars.next().unwrap()),
            '}' if chars.peek() == Some(&'}') => out.push(chars.next().unwrap()),
            '{' => {
                let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                out.push_str(bindings.get(&name).ok_or(format!("unknown binding {name} in {arg}"))?);
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// The HTTP methods of a method-router chain such as `get(a)\n.post(b)`.
fn methods(router: &str) -> Result<Vec<String>, String> {
    let b: Vec<char> = router.chars().collect();
    let (mut out, mut depth, mut word) = (vec![], 0, String::new());
    for (i, &c) in b.iter().enumerate() {
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        if c == '(' && depth == 0 && !word.is_empty() {
            let name = word.strip_suffix("_service").unwrap_or(&word);
            match name {
                "get" | "post" | "put" | "patch" | "delete" | "head" | "options" | "trace" => {
                    out.push(name.to_uppercase())
                }
                other => return Err(format!("method router `{other}(…)` at {i} is not understood")),
            }
        }
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
        word.clear();
    }
    if out.is_empty() {
        return Err(format!("no method in {router}"));
    }
    Ok(out)
}

#[test]
fn the_scanner_reads_every_registration_style() {
    let src = r##"
        // .route("/commented", get(nothing))
        /* .route("/block", post(nothing)) */
        const BASE: &str = "/api/v1/things";
        fn routes() -> Router<S> {
            let t = "/api/v1/projects/{id}/tasks";
            Router::new()
                .route("/a", get(a).post(b))
                .route(
                    "/b/{id}",
                    get(read)
                        .patch(update) // trailing comment with .route("/x", get(x))
                        .delete(|| async { "}" }),
                )
                .route(t, put(upsert))
                .route(&format!("{t}/{{tid}}/move"), axum::routing::post(move_task))
                .route(BASE, get_service(files))
                .route("/ui/{*path}", get(asset))
                .route_layer(layer)
                .merge(other());
            let s = "http://not-a-route .route(\"/in-a-string\", get(x))";
            let raw = r#"a ".route("/raw", get(x))" b"#;
            let c = '"';
            let r#type = 1;
        }
    "##;
    let got = scan_routes(src).unwrap();
    let want: Routes = [
        ("GET", "/a"),
        ("POST", "/a"),
        ("GET", "/b/{id}"),
        ("PATCH", "/b/{id}"),
        ("DELETE", "/b/{id}"),
        ("PUT", "/api/v1/projects/{id}/tasks"),
        ("POST", "/api/v1/projects/{id}/tasks/{tid}/move"),
        ("GET", "/api/v1/things"),
        ("GET", "/ui/{path}"),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    assert_eq!(got, want);
    assert!(scan_routes(r#"Router::new().route("/x", any(h))"#).is_err());
    assert!(scan_routes(r#"Router::new().route("/x", on(MethodFilter::GET, h))"#).is_err());
    assert!(scan_routes(r#"Router::new().nest("/v2", other())"#).is_err());
    assert!(scan_routes(r#"Router::new().route(&format!("{nope}/x"), get(h))"#).is_err());
}

#[test]
fn the_scanner_sees_the_real_route_files() {
    // A spot check on the files with the trickiest registrations.
    let read =
        |f: &str| std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api").join(f)).unwrap();
    let plan = scan_routes(&read("plan.rs")).unwrap();
    assert!(plan.contains(&("DELETE".into(), "/api/v1/projects/{id}/tasks/{tid}/dependencies/{dep}".into())));
    let backups = scan_routes(&read("backups.rs")).unwrap();
    assert!(backups.contains(&("POST".into(), "/api/v1/admin/maintenance".into())));
    let by_path: BTreeMap<String, usize> =
        scan_routes(&read("mod.rs")).unwrap().into_iter().fold(BTreeMap::new(), |mut m, (_, p)| {
            *m.entry(p).or_default() += 1;
            m
        });
    assert_eq!(by_path.get("/health"), Some(&1), "{by_path:?}");
}
