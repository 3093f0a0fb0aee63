//! Operations and schemas of projects, files, drafts/versions and transfer.

use serde_json::{json, Map, Value};

use super::*;

const STATUSES: [&str; 4] = ["draft", "published", "archived", "deprecated"];
const FILE_TYPES: [&str; 7] = ["global", "roles", "skills", "forms", "rules", "session", "template"];

pub fn operations() -> Vec<Op> {
    let mut ops = tagged("projects", project_ops());
    ops.extend(tagged("files", file_ops()));
    ops.extend(tagged("versions", version_ops()));
    ops.extend(tagged("transfer", transfer_ops()));
    ops
}

fn project_ops() -> Vec<Op> {
    let p = "/api/v1/projects/{id}";
    vec![
        get("/api/v1/projects", "listProjects", "List projects, most recently updated first")
            .query("status", one_of(&STATUSES), "Only projects in this status")
            .query("author", string(), "Only projects by this author")
            .query("tag", string(), "Only projects with this tag")
            .query("q", string(), "Words in the name or description")
            .page()
            .ok(list(r("Project")))
            .errs(&[400]),
        post("/api/v1/projects", "createProject", "Create a project (with the default files and an empty draft)")
            .body(r("NewProject"))
            .created(r("Project"))
            .errs(&[400]),
        get(p, "getProject", "Get a project").ok(r("Project")).errs(&[404]),
        patch(p, "patchProject", "Change a project's fields (absent fields stay, null clears)")
            .body(r("ProjectPatch"))
            .ok(r("Project"))
            .errs(&[400, 404]),
        delete(p, "deleteProject", "Delete a project (its file goes to trash)").no_content().errs(&[404]),
        post("/api/v1/projects/{id}/archive", "archiveProject", "Archive a project").ok(r("Project")).errs(&[404]),
        post("/api/v1/projects/{id}/deprecate", "deprecateProject", "Deprecate a project")
            .ok(r("Project"))
            .errs(&[404]),
        post("/api/v1/projects/{id}/restore", "restoreProject", "Undo archive or deprecate")
            .describe("Back to `published` when the project has a current version, else to `draft`.")
            .ok(r("Project"))
            .errs(&[404]),
    ]
}

fn file_ops() -> Vec<Op> {
    let f = "/api/v1/projects/{id}/files/{file_id}";
    vec![
        get("/api/v1/projects/{id}/files", "listFiles", "List a project's files")
            .page()
            .ok(list(r("ProjectFile")))
            .errs(&[400, 404]),
        post("/api/v1/projects/{id}/files", "createFile", "Add a file (its YAML must parse)")
            .body(file_input(true))
            .created(r("ProjectFile"))
            .errs(&[400, 404, 409]),
        get(f, "getFile", "Get a file").ok(r("ProjectFile")).errs(&[404]),
        put(f, "putFile", "Create or replace a file; absent fields keep their value")
            .body(file_input(false))
            .ok(r("ProjectFile"))
            .errs(&[400, 404, 409]),
        delete(f, "deleteFile", "Delete a file").no_content().errs(&[404]),
    ]
}

fn version_ops() -> Vec<Op> {
    let v = "/api/v1/projects/{id}/versions";
    vec![
        get("/api/v1/projects/{id}/draft", "getDraft", "Get the draft file set").ok(r("Draft")).errs(&[404]),
        put("/api/v1/projects/{id}/draft", "putDraft", "Replace the draft file set")
            .body(obj(
                &[("files", with(array(r("SetFile")), "maxItems", 500)), ("updated_by", nullable(string()))],
                &["files"],
            ))
            .ok(r("Draft"))
            .errs(&[400, 404]),
        post("/api/v1/projects/{id}/draft/validate", "validateDraft", "Validate the draft")
            .ok(r("Validation"))
            .errs(&[404]),
        get(v, "listVersions", "List published versions, newest first").page().ok(list(r("Version"))).errs(&[400, 404]),
        post(v, "publishVersion", "Publish the draft as a new version (the body is optional)")
            .opt_body(obj(
                &[
                    ("version_number", nullable(semver())),
                    ("release_note", text(0, 10_000)),
                    ("published_by", nullable(string())),
                ],
                &[],
            ))
            .created(r("Version"))
            .errs(&[400, 404, 409, 422]),
        get("/api/v1/projects/{id}/versions/{vid}", "getVersion", "Get a version with its files")
            .ok(r("Version"))
            .errs(&[404]),
        get("/api/v1/projects/{id}/versions/{a}/diff/{b}", "diffVersions", "Compare two versions' file sets")
            .ok(r("Diff"))
            .errs(&[404]),
        post("/api/v1/projects/{id}/versions/{vid}/rollback", "rollbackVersion", "Publish an old version again")
            .created(r("Version"))
            .errs(&[404, 422]),
        post("/api/v1/scripts/validate", "validateScript", "Validate a script's YAML")
            .describe("Always 200: YAML that does not parse is `valid: false` with the error's line and column.")
            .body(obj(&[("yaml", string()), ("file", nullable(string()))], &["yaml"]))
            .ok(r("ScriptReport"))
            .errs(&[400]),
    ]
}

fn transfer_ops() -> Vec<Op> {
    vec![
        post("/api/v1/projects/{id}/copy", "copyProject", "Copy a project (the body is optional)")
            .opt_body(obj(&[("name", nullable(text(1, 200))), ("include_versions", boolean())], &[]))
            .created(r("Project"))
            .errs(&[400, 404]),
        get("/api/v1/projects/{id}/export", "exportProject", "Download the project's SQLite file")
            .answer(200, "The project file; `x-content-sha256` holds its SHA-256", "application/vnd.sqlite3", binary())
            .errs(&[404]),
        post("/api/v1/projects/import", "importProject", "Upload a project file (as export answers it)")
            .describe("Bounded by `limits.max_import_bytes`, not the global body limit.")
            .query("keep_id", boolean(), "Keep the file's project id (409 when it exists)")
            .header("x-content-sha256", string(), "SHA-256 (hex) the body must match")
            .body_as("application/octet-stream", binary(), true)
            .created(r("Project"))
            .errs(&[400, 409, 413, 422]),
        post("/api/v1/admin/reindex", "reindex", "Rebuild the registry rows and the search index from the files")
            .ok(r("ReindexReport"))
            .errs(&[]),
    ]
}

/// `MAJOR.MINOR.PATCH`, each 1..9 digits; absent: the next patch number.
fn semver() -> Value {
    json!({"type": "string", "pattern": "^[0-9]{1,9}\\.[0-9]{1,9}\\.[0-9]{1,9}$"})
}

pub fn binary() -> Value {
    json!({"type": "string", "contentMediaType": "application/octet-stream"})
}

fn file_input(create: bool) -> Value {
    let required: &[&str] = if create { &["file_type", "file_name", "yaml_content"] } else { &[] };
    let maybe = |s: Value| if create { s } else { nullable(s) };
    obj(
        &[
            ("file_type", maybe(one_of(&FILE_TYPES))),
            ("file_name", maybe(file_name())),
            ("file_path", nullable(string())),
            ("yaml_content", maybe(string())),
        ],
        required,
    )
}

/// 1..=255 characters, not blank, without `/`, `\` or NUL.
fn file_name() -> Value {
    // No `/`, `\\` or NUL anywhere, and one character that is not white space.
    let other = "[^/\\\\\\u0000]*";
    with(
        with(text(1, 255), "description", "Without `/`, `\\` or NUL"),
        "pattern",
        format!("^{other}{}{other}$", NOT_BLANK.replace("[^", "[^/\\\\\\u0000")),
    )
}

pub fn schemas(s: &mut Map<String, Value>) {
    project_schemas(s);
    version_schemas(s);
}

fn project_schemas(s: &mut Map<String, Value>) {
    s.insert(
        "Project".into(),
        shape(
            "id: string, name: string, description: string, \
        status: draft|published|archived|deprecated, owner: string?, author: string?, tags: [string], \
        engine_version: string?, engine_version_min: string?, current_version_id: string?, metadata: object, \
        created_at: string, updated_at: string, file_bytes: int, health: string",
        ),
    );
    let (short, tags) = (|| nullable(text(0, 100)), || with(array(text(1, 64)), "maxItems", 50));
    s.insert(
        "NewProject".into(),
        obj(
            &[
                ("name", text(1, 200)),
                ("description", text(0, 10_000)),
                ("author", short()),
                ("tags", tags()),
                ("engine_version", short()),
                ("engine_version_min", short()),
                ("metadata", object()),
            ],
            &["name"],
        ),
    );
    let ns = || nullable(string());
    s.insert(
        "ProjectPatch".into(),
        obj(
            &[
                ("name", nullable(text(1, 200))),
                ("description", nullable(text(0, 10_000))),
                ("author", ns()),
                ("tags", nullable(tags())),
                ("engine_version", ns()),
                ("engine_version_min", ns()),
                ("metadata", nullable(object())),
            ],
            &[],
        ),
    );
    s.insert(
        "ProjectFile".into(),
        shape(
            "id: string, file_type: string, file_name: string, \
        file_path: string?, content: any, yaml_content: string, created_at: string, updated_at: string",
        ),
    );
    s.insert(
        "ReindexReport".into(),
        shape(
            "projects: int, adopted: int, removed: int, failed: [object], \
        sessions: object, search: object",
        ),
    );
}

fn version_schemas(s: &mut Map<String, Value>) {
    s.insert(
        "SetFile".into(),
        obj(
            &[("file_type", one_of(&FILE_TYPES)), ("file_name", file_name()), ("yaml_content", string())],
            &["file_type", "file_name", "yaml_content"],
        ),
    );
    s.insert(
        "Draft".into(),
        shape(
            "files: [SetFile], validation_status: string, validation_errors: any, \
        updated_by: string?, updated_at: string",
        ),
    );
    s.insert(
        "Version".into(),
        shape(
            "id: string, version_number: string, release_note: string, \
        is_rollback: bool, rollback_from_version_id: string?, published_at: string, published_by: string?, \
        files~: [SetFile]",
        ),
    );
    s.insert("FileChange".into(), shape("file_type: string, file_name: string, diff: string"));
    s.insert("Diff".into(), shape("added: [SetFile], removed: [SetFile], changed: [FileChange], unchanged: int"));
    s.insert(
        "Problem".into(),
        shape(
            "file: string?, path: string, line: int, column: int, message: string, \
        replacement~: string",
        ),
    );
    s.insert("Validation".into(), shape("valid: bool, errors: [Problem], warnings: [Problem]"));
    s.insert(
        "ScriptReport".into(),
        shape(
            "valid: bool, script_kind: string?, errors: [Problem], \
        warnings: [Problem]",
        ),
    );
}
