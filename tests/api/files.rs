//! Project files over HTTP.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{assert_error_shape, TestApp};
use crate::projects::{create_project, post, send};

#[tokio::test]
async fn file_crud_with_parsed_content() {
    let app = TestApp::spawn().await;
    let id = create_project(&app, "f").await["id"].as_str().unwrap().to_string();
    let base = format!("/api/v1/projects/{id}/files");
    let (s, f) = post(
        &app,
        &base,
        json!({"file_type": "session", "file_name": "intro.yaml", "yaml_content": "a: 1\nb: [x, y]\n"}),
    )
    .await;
    assert_eq!(s, 201, "{f}");
    assert_eq!(f["content"], json!({"a": 1, "b": ["x", "y"]}));
    let fid = f["id"].as_str().unwrap();
    let (s, g) = app.get(&format!("{base}/{fid}")).await;
    assert_eq!((s, g["yaml_content"].as_str()), (200, Some("a: 1\nb: [x, y]\n")));
    let (s, u) = send(&app, Method::PUT, &format!("{base}/{fid}"), Some(json!({"yaml_content": "a: 2\n"}))).await;
    assert_eq!((s, u["content"].clone(), u["file_name"].as_str()), (200, json!({"a": 2}), Some("intro.yaml")));
    let (s, _) = send(&app, Method::DELETE, &format!("{base}/{fid}"), None).await;
    assert_eq!(s, 204);
    let (s, b) = app.get(&format!("{base}/{fid}")).await;
    assert_eq!(s, 404);
    assert_error_shape(&b, "file_not_found");
}

#[tokio::test]
async fn bad_yaml_is_400_with_position_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let id = create_project(&app, "f").await["id"].as_str().unwrap().to_string();
    let base = format!("/api/v1/projects/{id}/files");
    let before = app.get(&format!("/api/v1/projects/{id}")).await.1;
    let (s, b) = post(
        &app,
        &base,
        json!({"file_type": "session", "file_name": "bad.yaml", "yaml_content": "a: 1\nb: [unclosed\n"}),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    let e = assert_error_shape(&b, "script_parse_error");
    assert!(e["details"]["line"].as_u64().unwrap() >= 2, "{b}");
    assert!(e["details"]["column"].as_u64().unwrap() >= 1);
    let (_, files) = app.get(&base).await;
    assert_eq!(files["items"].as_array().unwrap().len(), 3, "nothing stored");
    let after = app.get(&format!("/api/v1/projects/{id}")).await.1;
    assert_eq!(before["updated_at"], after["updated_at"], "project untouched");
}

#[tokio::test]
async fn duplicates_types_and_paging() {
    let app = TestApp::spawn().await;
    let id = create_project(&app, "f").await["id"].as_str().unwrap().to_string();
    let base = format!("/api/v1/projects/{id}/files");
    let (s, b) =
        post(&app, &base, json!({"file_type": "global", "file_name": "global.yaml", "yaml_content": "x: 1"})).await;
    assert_eq!(s, 409);
    assert_error_shape(&b, "conflict");
    let (s, b) = post(&app, &base, json!({"file_type": "movie", "file_name": "m.yaml", "yaml_content": "x: 1"})).await;
    assert_eq!(s, 400);
    assert_error_shape(&b, "validation_failed");
    let (s, b) = post(&app, &base, json!({"file_type": "rules", "file_name": "../x", "yaml_content": "x: 1"})).await;
    assert_eq!(s, 400, "{b}");
    for i in 0..4 {
        let (s, _) =
            post(&app, &base, json!({"file_type": "rules", "file_name": format!("r{i}.yaml"), "yaml_content": "x: 1"}))
                .await;
        assert_eq!(s, 201);
    }
    let (_, p1) = app.get(&format!("{base}?limit=5")).await;
    assert_eq!(p1["items"].as_array().unwrap().len(), 5);
    let c = p1["next_cursor"].as_str().unwrap();
    let (_, p2) = app.get(&format!("{base}?limit=5&cursor={c}")).await;
    assert_eq!((p2["items"].as_array().unwrap().len(), p2["next_cursor"].clone()), (2, json!(null)));
    let (s, _) = app.get(&format!("{base}?cursor=%%%")).await;
    assert_eq!(s, 400);
}
