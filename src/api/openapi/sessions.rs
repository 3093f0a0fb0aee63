//! Operations and schemas of sessions, messages, chat, action runs, memories, search and the
//! `/api/conversations` compatibility routes.

use serde_json::{json, Map, Value};

use super::*;

const STATUSES: [&str; 5] = ["active", "paused", "completed", "failed", "archived"];
const ROLES: [&str; 4] = ["user", "assistant", "system", "tool"];
const RUN_STATUSES: [&str; 4] = ["pending", "running", "completed", "failed"];

pub fn operations() -> Vec<Op> {
    let mut ops = tagged("sessions", session_ops());
    ops.extend(tagged("messages", message_ops()));
    ops.extend(tagged("chat", chat_ops()));
    ops.extend(tagged("action-runs", run_ops()));
    ops.extend(tagged("memories", memory_ops()));
    ops.extend(tagged("search", search_ops()));
    ops.extend(tagged("conversations", conversation_ops()));
    ops
}

fn session_ops() -> Vec<Op> {
    let s = "/api/v1/sessions/{id}";
    let vars = json!({"type": "object", "description": "Without `history`: the current variables per scope \
        and resolved. With it: `{items: [VariableRow], next_cursor}`."});
    vec![
        get("/api/v1/sessions", "listSessions", "List sessions, most recently updated first")
            .query("user_id", string(), "Only this user's sessions (forced to the caller for user tokens)")
            .query("project_id", string(), "Only sessions of this project")
            .query("status", one_of(&STATUSES), "Only sessions in this status")
            .page()
            .ok(list(r("Session")))
            .errs(&[400]),
        post("/api/v1/sessions", "createSession", "Create a session")
            .describe(
                "With a user token, `user_id` is the token's user. A session with a script runs its \
                       opening first and answers its assistant message as `opening_message`.",
            )
            .body(r("NewSession"))
            .created(r("CreatedSession"))
            .errs(&[400, 404]),
        get(s, "getSession", "Get a session with its state").ok(r("SessionView")).errs(&[404]),
        patch(s, "patchSession", "Rename a session or change its status or metadata")
            .body(obj(
                &[
                    ("name", nullable(text(1, 200))),
                    ("status", nullable(one_of(&STATUSES))),
                    ("metadata", nullable(object())),
                ],
                &[],
            ))
            .ok(r("Session"))
            .errs(&[400, 404]),
        delete(s, "deleteSession", "Delete a session (its file goes to trash)").no_content().errs(&[404]),
        post("/api/v1/sessions/{id}/archive", "archiveSession", "Archive a session").ok(r("Session")).errs(&[404]),
        get("/api/v1/sessions/{id}/variables", "getSessionVariables", "The session's variables, or one's history")
            .query("history", string(), "The variable whose history to list")
            .page()
            .ok(vars)
            .errs(&[400, 404]),
    ]
}

fn message_ops() -> Vec<Op> {
    let m = "/api/v1/sessions/{id}/messages";
    vec![
        get(m, "listMessages", "A page of history, ascending by `seq` (the latest page by default)")
            .describe("`before` and `after` together are 400.")
            .query("before", int(), "Only messages before this seq (`next_cursor` of a page)")
            .query("after", int(), "Only messages after this seq (not with `before`)")
            .query("limit", limit(), "Page size (default 50)")
            .ok(int_list(r("Message")))
            .errs(&[400, 404]),
        post(m, "appendMessage", "Append an AI SDK UIMessage (same id: merged)")
            .describe(
                "201 for a new message, 200 when it merged into the message with the same id or replayed \
                       an `Idempotency-Key`.",
            )
            .header("Idempotency-Key", idempotency_key(), "Replays the first answer for 24 h")
            .body(r("UIMessage"))
            .created(r("Message"))
            .answer(200, "Merged or replayed", "application/json", r("Message"))
            .errs(&[400, 404, 413]),
        get("/api/v1/sessions/{id}/search", "searchSession", "Full-text search in one session, best first")
            .query_required(
                "q",
                with(with(string(), "minLength", 1), "pattern", NOT_BLANK),
                "Words to find (at least one)",
            )
            .page()
            .ok(list(r("SessionSearchHit")))
            .errs(&[400, 404]),
    ]
}

fn chat_ops() -> Vec<Op> {
    // `message` wins when both are sent, so the `content` form must come without it.
    let chat_input = json!({"anyOf": [
        obj(&[("message", ui_message(&["user"]))], &["message"]),
        with(obj(&[("content", string())], &["content"]), "not", json!({"required": ["message"]})),
    ]});
    vec![
        post("/api/v1/sessions/{id}/chat", "chat", "Run a chat turn")
            .describe(
                "`{message: UIMessage}` or `{content: \"text\"}`. Answers JSON, or the AI SDK UI message \
                       stream with `Accept: text/event-stream` or `?stream=true`.",
            )
            .query("stream", boolean(), "Answer with the UI message stream")
            .query("debug", boolean(), "Add the turn's debug trace")
            .body(chat_input)
            .ok(r("ChatTurn"))
            .answer(200, "The UI message stream, one schema per event", "text/event-stream", sse_event(&["message"]))
            .errs(&[400, 404, 413, 422, 503]),
        post("/api/v1/chat", "aiSdkChat", "AI SDK `useChat` endpoint (always streams)")
            .describe(
                "What `DefaultChatTransport` sends: the session id as `id`; only the last user message \
                       is taken (`trigger: regenerate-message` regenerates the last answer).",
            )
            .body(obj(
                &[
                    ("id", with(uuid(), "description", "The session id")),
                    ("messages", array(any())),
                    ("trigger", nullable(string())),
                ],
                &["id"],
            ))
            .answer(200, "The UI message stream, one schema per event", "text/event-stream", sse_event(&["message"]))
            .errs(&[400, 404, 413, 422, 503]),
    ]
}

fn run_ops() -> Vec<Op> {
    let (runs, run) = ("/api/v1/sessions/{id}/action-runs", "/api/v1/sessions/{id}/action-runs/{run_id}");
    let nv = any;
    vec![
        get("/api/v1/sessions/{id}/state", "getSessionState", "The session's execution state")
            .ok(r("SessionState"))
            .errs(&[404]),
        get(runs, "listActionRuns", "List the session's action runs").page().ok(list(r("ActionRun"))).errs(&[400, 404]),
        post(runs, "createActionRun", "Record an action run (status `pending`)")
            .body(obj(
                &[
                    ("user_message", nullable(string())),
                    ("mode", nullable(string())),
                    ("context", nv()),
                    ("history", nv()),
                    ("structured", nv()),
                ],
                &[],
            ))
            .created(r("ActionRun"))
            .errs(&[400, 404]),
        get(run, "getActionRun", "Get an action run").ok(r("ActionRun")).errs(&[404]),
        patch(run, "updateActionRun", "Move an action run on (pending → running → completed | failed)")
            .body(obj(
                &[("status", one_of(&RUN_STATUSES)), ("result", nv()), ("errors", nv()), ("structured", nv())],
                &["status"],
            ))
            .ok(r("ActionRun"))
            .errs(&[400, 404, 409]),
    ]
}

fn memory_ops() -> Vec<Op> {
    let (m, one) = ("/api/v1/sessions/{id}/memories", "/api/v1/sessions/{id}/memories/{mid}");
    let hits = obj(&[("items", array(r("MemoryHit")))], &["items"]);
    vec![
        get(m, "listMemories", "List the session's memories, newest first")
            .query("memory_type", string(), "Only memories of this type")
            .page()
            .ok(list(r("Memory")))
            .errs(&[400, 404]),
        post(m, "createMemory", "Store a memory").body(r("NewMemory")).created(r("Memory")).errs(&[400, 404]),
        post("/api/v1/sessions/{id}/memories/search", "searchMemories", "Search memories (text, vector or hybrid)")
            .body(r("MemorySearch"))
            .ok(hits)
            .errs(&[400, 404]),
        get(one, "getMemory", "Get a memory (counts the access)").ok(r("Memory")).errs(&[404]),
        delete(one, "deleteMemory", "Delete a memory").no_content().errs(&[404]),
    ]
}

fn search_ops() -> Vec<Op> {
    vec![get("/api/v1/search", "search", "Full-text search across sessions, best first")
        .query_required("q", text(1, 1000), "Words to find (at most 1000 bytes)")
        .query("project_id", string(), "Only sessions of this project")
        .query("user_id", string(), "Only this user's sessions (forced to the caller for user tokens)")
        .page()
        .ok(list(r("SearchHit")))
        .errs(&[400])]
}

fn conversation_ops() -> Vec<Op> {
    let c = "/api/conversations/{uuid}";
    vec![
        get("/api/conversations", "listConversations", "List conversations (sessions)")
            .query("user_id", string(), "Only this user's conversations")
            .query("project_id", string(), "Only conversations of this project")
            .query("status", one_of(&STATUSES), "Only conversations in this status")
            .page()
            .ok(list(r("Conversation")))
            .errs(&[400]),
        post("/api/conversations", "createConversation", "Create a conversation")
            .body(obj(
                &[("title", nullable(text(1, 200))), ("user_id", nullable(string())), ("metadata", nullable(object()))],
                &[],
            ))
            .created(r("Conversation"))
            .errs(&[400]),
        get(c, "getConversation", "Get a conversation").ok(r("Conversation")).errs(&[404]),
        delete(c, "deleteConversation", "Delete a conversation").no_content().errs(&[404]),
        get("/api/conversations/{uuid}/messages", "listConversationMessages", "A conversation's messages")
            .describe("`before` and `after` together are 400.")
            .query("before", int(), "Only messages before this seq")
            .query("after", int(), "Only messages after this seq (not with `before`)")
            .query("limit", limit(), "Page size (default 50)")
            .ok(int_list(r("ConversationMessage")))
            .errs(&[400, 404]),
    ]
}

pub fn schemas(s: &mut Map<String, Value>) {
    session_schemas(s);
    message_schemas(s);
    memory_schemas(s);
}

const SESSION: &str = "id: string, project_id: string?, user_id: string?, name: string?, \
    name_source: string, status: active|paused|completed|failed|archived, execution_status: string, \
    message_count: int, last_message_at: string?, summary_seq: int, created_at: string, updated_at: string, \
    current_task_id: int?, metadata: object, health: string";

fn session_schemas(s: &mut Map<String, Value>) {
    s.insert("Session".into(), shape(SESSION));
    let view = format!("{SESSION}, version_id: string?, script_file_id: string?, state: SessionState");
    s.insert("SessionView".into(), shape(&view));
    s.insert("CreatedSession".into(), shape(&format!("{SESSION}, opening_message: Message?")));
    s.insert("SessionState".into(), shape("status: string, execution_status: string, position: any, variables: any"));
    let ns = || nullable(string());
    s.insert(
        "NewSession".into(),
        obj(
            &[
                ("project_id", ns()),
                ("script_file_id", ns()),
                ("version_id", ns()),
                ("user_id", ns()),
                ("name", nullable(text(1, 200))),
                ("variables", nullable(object())),
                ("metadata", nullable(object())),
            ],
            &[],
        ),
    );
    // `version_id` and `script_file_id` need a `project_id`.
    s["NewSession"]["anyOf"] = json!([
        {"properties": {"project_id": {"type": "string"}}, "required": ["project_id"]},
        {"properties": {"version_id": {"type": "null"}, "script_file_id": {"type": "null"}}},
    ]);
    s.insert(
        "VariableRow".into(),
        shape(
            "id: int, message_seq: int?, name: string, value: any, scope: string, \
        value_type: string?, source: string?, created_at: string",
        ),
    );
    s.insert(
        "Conversation".into(),
        shape(
            "uuid: string, title: string?, user_id: string?, created_at: string, \
        updated_at: string, metadata: object",
        ),
    );
}

fn message_schemas(s: &mut Map<String, Value>) {
    s.insert("UIMessage".into(), ui_message(&ROLES));
    s.insert(
        "Message".into(),
        shape(
            "id: string, seq: int, role: user|assistant|system|tool, parts: [object], \
        metadata: any, attachments: any, content: string, created_at: string, updated_at: string",
        ),
    );
    s.insert(
        "ConversationMessage".into(),
        shape(
            "uuid: string, conversation_uuid: string, \
        role: user|assistant|system|tool, content: string, parts: [object], attachments: any, created_at: string, \
        metadata: any",
        ),
    );
    s.insert(
        "ChatTurn".into(),
        shape(
            "messages: [Message], user_message: Message?, status: string, \
        execution_status: string, position: any, variables: any, debug~: any",
        ),
    );
    s.insert(
        "SessionSearchHit".into(),
        shape(
            "seq: int, id: string, role: string, snippet: string, \
        created_at: string, score: number",
        ),
    );
    s.insert(
        "SearchHit".into(),
        shape(
            "session_id: string, seq: int, project_id: string?, snippet: string, \
        score: number",
        ),
    );
    s.insert(
        "ActionRun".into(),
        shape(
            "id: string, user_message: string?, mode: string?, \
        status: pending|running|completed|failed, context: any, history: any, structured: any, result: any, \
        errors: any, created_at: string, started_at: string?, finished_at: string?, turn_id: int?, \
        action_id: string?, action_type: string?",
        ),
    );
}

/// An AI SDK UIMessage as `messages::validate` checks it (at most `limits.max_parts` parts).
fn ui_message(roles: &[&str]) -> Value {
    let part = obj(&[("type", string())], &["type"]);
    obj(
        &[
            ("id", with(nullable(string()), "description", "Kept when 1..128 of [A-Za-z0-9_-]; else one is made")),
            ("role", one_of(roles)),
            ("parts", with(array(part), "maxItems", 256)),
            ("metadata", nullable(object())),
        ],
        &["role", "parts"],
    )
}

/// 1..=200 visible ASCII characters (inner spaces allowed).
fn idempotency_key() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[!-~]([ -~]*[!-~])?$"})
}

fn memory_schemas(s: &mut Map<String, Value>) {
    s.insert(
        "Memory".into(),
        shape(
            "id: string, content: string, memory_type: string, \
        importance: low|medium|high|critical, keywords: any, tags: any, context: string?, related_task_id: int?, \
        created_at: string, last_accessed: string?, access_count: int",
        ),
    );
    let items = || with(array(text(0, 200)), "maxItems", 100);
    s.insert(
        "NewMemory".into(),
        obj(
            &[
                ("content", with(text(1, 16_384), "description", "At most 16 KiB")),
                ("memory_type", nullable(text(1, 50))),
                ("importance", one_of(&["low", "medium", "high", "critical"])),
                ("keywords", items()),
                ("tags", items()),
                ("context", nullable(string())),
                ("related_task_id", nullable(int())),
            ],
            &["content"],
        ),
    );
    s.insert("MemorySearch".into(), memory_search());
    s.insert("MemoryHit".into(), shape("memory: Memory, score: number"));
}

/// Any field may be left out, but a search needs a non-blank query (any mode) or a vector
/// (mode `vector` or none).
fn memory_search() -> Value {
    let vector = || with(array(json!({"type": "number", "minimum": -3.4e38, "maximum": 3.4e38})), "minItems", 1);
    let fields = obj(
        &[
            ("query", nullable(string())),
            ("vector", nullable(vector())),
            ("mode", nullable(one_of(&["text", "vector", "hybrid"]))),
            ("top_k", nullable(with(positive(), "maximum", 100))),
            ("memory_type", nullable(text(1, 50))),
        ],
        &[],
    );
    let needs = json!({"anyOf": [
        obj(&[("query", text(1, 1_000_000))], &["query"]),
        obj(&[("vector", vector()), ("mode", nullable(one_of(&["vector"])))], &["vector"]),
    ]});
    json!({"allOf": [fields, needs]})
}
