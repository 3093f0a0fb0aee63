//! Every kind of rejection answers in the one error shape. The probe routes use the real
//! extractors and sit under the real middleware.

use axum::routing::{get, post};
use axum::Router;
use planbase::api::extract::{ApiJson, ApiPath, ApiQuery};
use planbase::api::SharedState;
use planbase::error::AppError;
use planbase::storage::parse_id;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::helpers::{assert_error_shape, TestApp};

#[derive(Deserialize)]
struct Probe {
    name: String,
    #[allow(dead_code)]
    inner: Option<Inner>,
}

#[derive(Deserialize)]
struct Inner {
    #[allow(dead_code)]
    count: u32,
}

#[derive(Deserialize)]
struct Page {
    limit: Option<u32>,
}

fn probes() -> Router<SharedState> {
    Router::new()
        .route(
            "/api/v1/probe/echo",
            post(|ApiJson(p): ApiJson<Probe>| async move { axum::Json(json!({"name": p.name})) }),
        )
        .route(
            "/api/v1/probe/page",
            get(|ApiQuery(p): ApiQuery<Page>| async move { axum::Json(json!({"limit": p.limit})) }),
        )
        .route("/api/v1/probe/n/{n}", get(|ApiPath(n): ApiPath<u32>| async move { axum::Json(json!({"n": n})) }))
        .route(
            "/api/v1/probe/sessions/{id}",
            get(|ApiPath(id): ApiPath<String>| async move {
                parse_id(&id, "session", "session_not_found").map(|u| axum::Json(json!({"id": u})))
            }),
        )
        .route(
            "/api/v1/probe/sleep",
            get(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(3)).await;
                "late"
            }),
        )
        .route("/api/v1/probe/boom", get(|| async { Err::<(), _>(AppError::internal("secret /etc/shadow detail")) }))
}

async fn app() -> TestApp {
    TestApp::spawn_with(
        |c| {
            c.limits.max_body_bytes = planbase::config::ByteSize(4096);
            c.server.request_timeout_ms = 300;
        },
        probes(),
    )
    .await
}

async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    assert!(ct.starts_with("application/json"), "status {status} has content-type {ct:?}");
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods() {
    let app = app().await;
    let (s, b) = send(app.client.get(app.url("/api/v1/nothing-here"))).await;
    assert_eq!(s, 404);
    assert_error_shape(&b, "not_found");
    let (s, b) = send(app.client.delete(app.url("/health"))).await;
    assert_eq!(s, 405);
    assert_error_shape(&b, "method_not_allowed");
}

#[tokio::test]
async fn bad_json_wrong_types_and_content_type() {
    let app = app().await;
    let post = |body: &'static str| {
        app.client.post(app.url("/api/v1/probe/echo")).header("content-type", "application/json").body(body)
    };
    let (s, b) = send(post("{\"name\": ")).await;
    assert_eq!(s, 400);
    assert_error_shape(&b, "bad_request");
    let (s, b) = send(post("{\"name\": \"a\", \"inner\": {\"count\": \"three\"}}")).await;
    assert_eq!(s, 400);
    let e = assert_error_shape(&b, "validation_failed");
    assert_eq!(e["details"]["field"], "inner.count", "{b}");
    assert!(e["message"].as_str().unwrap().contains("inner.count"));
    let (s, b) = send(post("{\"name\": \"ok\", \"unknown\": 1}")).await;
    assert_eq!((s, b["name"].as_str()), (200, Some("ok")), "unknown fields are ignored");
    let (s, b) = send(app.client.post(app.url("/api/v1/probe/echo")).body("{\"name\":\"x\"}")).await;
    assert_eq!(s, 400);
    assert!(assert_error_shape(&b, "bad_request")["message"].as_str().unwrap().contains("Content-Type"));
}

#[tokio::test]
async fn oversized_bodies_are_413_with_or_without_content_length() {
    let app = app().await;
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(10_000));
    let (s, b) = send(
        app.client.post(app.url("/api/v1/probe/echo")).header("content-type", "application/json").body(big.clone()),
    )
    .await;
    assert_eq!(s, 413);
    assert_error_shape(&b, "payload_too_large");
    let stream = futures::stream::iter(
        big.into_bytes().chunks(1000).map(|c| Ok::<_, std::io::Error>(c.to_vec())).collect::<Vec<_>>(),
    );
    let chunked = reqwest::Body::wrap_stream(stream);
    let (s, b) =
        send(app.client.post(app.url("/api/v1/probe/echo")).header("content-type", "application/json").body(chunked))
            .await;
    assert_eq!(s, 413);
    assert_error_shape(&b, "payload_too_large");
}

#[tokio::test]
async fn query_and_path_rejections() {
    let app = app().await;
    let (s, b) = send(app.client.get(app.url("/api/v1/probe/page?limit=ten"))).await;
    assert_eq!(s, 400);
    assert_eq!(assert_error_shape(&b, "validation_failed")["details"]["field"], "limit");
    let (s, b) = send(app.client.get(app.url("/api/v1/probe/n/abc"))).await;
    assert_eq!(s, 400);
    assert_error_shape(&b, "bad_request");
}

#[tokio::test]
async fn non_uuid_ids_never_reach_a_path() {
    let app = app().await;
    let long = "a".repeat(5000);
    for id in ["..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "abc%00def", long.as_str(), "not-a-uuid", "%20"] {
        let (s, b) = send(app.client.get(app.url(&format!("/api/v1/probe/sessions/{id}")))).await;
        assert_eq!(s, 404, "{id}");
        assert_error_shape(&b, "session_not_found");
    }
    // The client resolves dot segments before sending; whatever arrives matches no route.
    for id in ["..", "%2E%2E"] {
        let (s, b) = send(app.client.get(app.url(&format!("/api/v1/probe/sessions/{id}")))).await;
        assert_eq!(s, 404, "{id}");
        assert_error_shape(&b, "not_found");
    }
    let ok = uuid::Uuid::now_v7();
    let (s, b) = send(app.client.get(app.url(&format!("/api/v1/probe/sessions/{ok}")))).await;
    assert_eq!((s, b["id"].as_str()), (200, Some(ok.to_string().as_str())));
}

#[tokio::test]
async fn timeouts_are_408_and_internal_errors_are_not_echoed() {
    let app = app().await;
    let (s, b) = send(app.client.get(app.url("/api/v1/probe/sleep"))).await;
    assert_eq!(s, 408);
    assert!(assert_error_shape(&b, "timeout")["retryable"].as_bool().unwrap());
    let (s, b) = send(app.client.get(app.url("/api/v1/probe/boom"))).await;
    assert_eq!(s, 500);
    assert_error_shape(&b, "internal");
    assert!(!b.to_string().contains("shadow"), "{b}");
}

/// Found by the reliability suite: trailing bytes after the JSON, a look-alike content type
/// and invalid UTF-8 inside an ignored field were accepted (201). All are 400 now, and the
/// real JSON media types still pass.
#[tokio::test]
async fn json_bodies_are_exact() {
    let app = TestApp::spawn().await;
    let raw = |ct: &'static str, body: Vec<u8>| {
        app.client.post(app.url("/api/v1/sessions")).header("content-type", ct).body(body).send()
    };
    let bad: [(&str, Vec<u8>); 4] = [
        ("application/json", br#"{"name": "a"}}{"#.to_vec()),
        ("application/json", br#"{"name": "a"} x"#.to_vec()),
        ("application/jsonx", br#"{"name": "a"}"#.to_vec()),
        ("application/json", b"{\"name\": \"a\", \"ignored\": \"\xff\xfe\"}".to_vec()),
    ];
    for (ct, body) in bad {
        let r = raw(ct, body.clone()).await.unwrap();
        assert_eq!(r.status().as_u16(), 400, "{ct} {:?}", String::from_utf8_lossy(&body));
        assert_error_shape(&r.json().await.unwrap(), "bad_request");
    }
    let (_, list) = app.get("/api/v1/sessions").await;
    assert_eq!(list["items"], serde_json::json!([]), "nothing was created");
    for ct in ["application/json; charset=utf-8", "Application/JSON", "application/vnd.api+json", "application/json "] {
        let r = raw(ct, br#"{"name": "ok"} "#.to_vec()).await.unwrap();
        assert_eq!(r.status().as_u16(), 201, "{ct}");
    }
}
