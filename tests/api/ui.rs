//! The demo page: `/` and its embedded assets under `/ui/`, self-contained (nothing off-host)
//! and open under token auth. The page's behaviour is tested in a browser by
//! tests/e2e/demo-ui.mjs.

use axum::Router;
use serde_json::Value;

use crate::helpers::{assert_error_shape, TestApp};

/// Status, content type and body of a GET.
async fn fetch(app: &TestApp, path: &str) -> (u16, String, String) {
    let r = app.client.get(app.url(path)).send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    (status, ct, r.text().await.unwrap())
}

/// Every `/ui/...` the page loads (`src=` and `href=` attributes).
fn referenced_assets(html: &str) -> Vec<String> {
    let re = regex::Regex::new(r#"(?:src|href)="(/ui/[^"]+)""#).unwrap();
    let mut out: Vec<String> = re.captures_iter(html).map(|c| c[1].to_string()).collect();
    out.sort();
    out.dedup();
    out
}

fn expected_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        Some("svg") => "image/svg+xml",
        Some("html") => "text/html",
        other => panic!("an asset with an unexpected extension: {other:?} ({path})"),
    }
}

/// Absolute http(s) URLs in a text. The SVG namespace is a name, never fetched, so it is allowed.
fn off_host_urls(text: &str) -> Vec<String> {
    let re = regex::Regex::new(r#"(?i)https?://[^\s"'<>)`]+"#).unwrap();
    re.find_iter(text).map(|m| m.as_str().to_string()).filter(|u| u != "http://www.w3.org/2000/svg").collect()
}

#[tokio::test]
async fn the_page_and_every_asset_it_references_are_served_with_their_content_type() {
    let app = TestApp::spawn().await;
    let r = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/html"), "{ct}");
    let csp = r.headers().get("content-security-policy").expect("the page has a CSP").to_str().unwrap().to_string();
    assert!(csp.contains("connect-src 'self'") && csp.contains("script-src 'self'"), "{csp}");
    let html = r.text().await.unwrap();
    assert!(html.contains("<title>") && html.contains("id=\"chat-form\""), "{html}");

    let assets = referenced_assets(&html);
    for needed in ["/ui/app.js", "/ui/app.css"] {
        assert!(assets.iter().any(|a| a == needed), "index.html does not load {needed}: {assets:?}");
    }
    let mut bodies = vec![("/".to_string(), html)];
    for path in assets {
        let (status, ct, body) = fetch(&app, &path).await;
        assert_eq!(status, 200, "{path}");
        assert!(ct.starts_with(expected_type(&path)), "{path}: {ct}");
        assert!(!body.is_empty(), "{path} is empty");
        bodies.push((path, body));
    }
    // Nothing is fetched from elsewhere: no CDN, no external fonts, no absolute URLs at all.
    for (path, body) in &bodies {
        assert_eq!(off_host_urls(body), Vec::<String>::new(), "{path} points off-host");
        assert!(!body.contains("//cdn") && !body.contains("fonts.googleapis"), "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_asset_is_the_standard_404() {
    let app = TestApp::spawn().await;
    for path in ["/ui/nope.js", "/ui/app.js/more", "/ui/%2e%2e/Cargo.toml", "/ui/", "/ui/APP.JS"] {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_error_shape(&body, "not_found");
    }
    // Only GET (and HEAD) are served.
    let r = app.client.post(app.url("/ui/app.js")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    app.stop().await;
}

#[tokio::test]
async fn the_page_needs_no_token_under_token_auth() {
    let app = TestApp::spawn_with(|c| c.auth.mode = planbase::config::AuthMode::Token, Router::new()).await;
    for path in ["/", "/ui/app.js", "/ui/app.css"] {
        let (status, _, _) = fetch(&app, path).await;
        assert_eq!(status, 200, "{path} is open");
    }
    // The API behind it is not.
    let (status, body) = app.get("/api/v1/projects").await;
    assert_eq!(status, 401);
    assert_error_shape(&body, "unauthorized");
    app.stop().await;
}
