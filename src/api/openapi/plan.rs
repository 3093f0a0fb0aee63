//! Operations and schemas of the plan (tasks, dependencies, snapshots) and of jobs.

use serde_json::{json, Map, Value};

use super::*;

const TASK_STATUSES: [&str; 5] = ["pending", "running", "completed", "failed", "skipped"];
const JOB_STATUSES: [&str; 5] = ["pending", "running", "completed", "failed", "cancelled"];
const LEVELS: [&str; 4] = ["debug", "info", "warning", "error"];

pub fn operations() -> Vec<Op> {
    let mut ops = tagged("plan", task_ops());
    ops.extend(tagged("plan", snapshot_ops()));
    ops.extend(tagged("jobs", job_ops()));
    ops.extend(tagged("jobs", log_ops()));
    ops
}

fn tree() -> Value {
    obj(&[("tasks", array(r("TaskNode")))], &["tasks"])
}

fn task_ops() -> Vec<Op> {
    let (t, one) = ("/api/v1/projects/{id}/tasks", "/api/v1/projects/{id}/tasks/{tid}");
    let deps = "/api/v1/projects/{id}/tasks/{tid}/dependencies";
    let dep_list = obj(&[("task_id", int()), ("depends_on", array(int()))], &["task_id", "depends_on"]);
    vec![
        get(t, "getTaskTree", "The task tree, nested (children under `children`)")
            .query("root", int(), "Only the subtree of this task")
            .query("max_depth", with(int(), "minimum", 0), "Levels below the root(s) to include")
            .ok(tree())
            .errs(&[400, 404]),
        post(t, "createTask", "Add a task").body(r("NewTask")).created(r("Task")).errs(&[400, 404, 422]),
        put(t, "upsertTaskTree", "Upsert the whole tree from a nested document")
            .describe("Tasks with an `id` are updated, those without are created, the others are deleted.")
            .body(obj(&[("tasks", array(r("TreeNode"))), ("note", nullable(string()))], &["tasks"]))
            .ok(tree())
            .errs(&[400, 404, 422]),
        get(one, "getTask", "Get a task").ok(r("Task")).errs(&[404]),
        patch(one, "patchTask", "Change a task (absent fields stay)")
            .body(r("TaskPatch"))
            .ok(r("Task"))
            .errs(&[400, 404]),
        delete(one, "deleteTask", "Delete a task and its subtree")
            .ok(obj(&[("deleted", int())], &["deleted"]))
            .errs(&[404]),
        post("/api/v1/projects/{id}/tasks/{tid}/move", "moveTask", "Move a task (with its subtree)")
            .body(obj(&[("parent_id", nullable(positive())), ("position", nullable(int()))], &[]))
            .ok(r("Task"))
            .errs(&[400, 404, 422]),
        get(deps, "listTaskDependencies", "The tasks this task depends on").ok(dep_list.clone()).errs(&[404]),
        post(deps, "addTaskDependency", "Add a dependency (a cycle is 422 `dependency_cycle`)")
            .body(obj(&[("depends_on", positive())], &["depends_on"]))
            .created(dep_list)
            .errs(&[400, 404, 409, 422]),
        delete("/api/v1/projects/{id}/tasks/{tid}/dependencies/{dep}", "removeTaskDependency", "Remove a dependency")
            .no_content()
            .errs(&[404]),
    ]
}

fn snapshot_ops() -> Vec<Op> {
    let s = "/api/v1/projects/{id}/snapshots";
    let restored = obj(
        &[("restored", int()), ("snapshot_before", r("Snapshot")), ("tasks", array(r("TaskNode")))],
        &["restored", "snapshot_before", "tasks"],
    );
    vec![
        get(s, "listSnapshots", "List plan snapshots, newest first").page().ok(list(r("Snapshot"))).errs(&[400, 404]),
        post(s, "createSnapshot", "Snapshot the plan (the body is optional)")
            .opt_body(obj(&[("note", nullable(string()))], &[]))
            .created(r("Snapshot"))
            .errs(&[400, 404]),
        get("/api/v1/projects/{id}/snapshots/{sid}", "getSnapshot", "Get a snapshot with its tree")
            .ok(r("Snapshot"))
            .errs(&[404]),
        post("/api/v1/projects/{id}/snapshots/{sid}/restore", "restoreSnapshot", "Restore the plan from a snapshot")
            .describe("The current plan is snapshotted first (`snapshot_before`).")
            .ok(restored)
            .errs(&[404]),
    ]
}

fn job_ops() -> Vec<Op> {
    let (pj, j) = ("/api/v1/projects/{id}/jobs", "/api/v1/jobs/{job_id}");
    vec![
        post(pj, "createProjectJob", "Create a job bound to a project")
            .body(r("NewJob"))
            .created(r("Job"))
            .errs(&[400, 404]),
        get(pj, "listProjectJobs", "List a project's jobs, newest first")
            .query("status", one_of(&JOB_STATUSES), "Only jobs in this status")
            .page()
            .ok(list(r("Job")))
            .errs(&[400, 404]),
        post("/api/v1/jobs", "createJob", "Create an unbound job").body(r("NewJob")).created(r("Job")).errs(&[400]),
        get(j, "getJob", "Get a job").ok(r("Job")).errs(&[404]),
        patch(j, "patchJob", "Change a job's status (pending → running → completed | failed | cancelled)")
            .body(obj(
                &[
                    ("status", one_of(&JOB_STATUSES)),
                    ("error", nullable(text(0, 8192))),
                    ("result", any()),
                    ("stats", nullable(object())),
                ],
                &["status"],
            ))
            .ok(r("Job"))
            .errs(&[400, 404, 409]),
        post("/api/v1/jobs/{job_id}/cancel", "cancelJob", "Cancel a job").ok(r("Job")).errs(&[404, 409]),
    ]
}

fn log_ops() -> Vec<Op> {
    let (l, a) = ("/api/v1/jobs/{job_id}/logs", "/api/v1/projects/{id}/action-logs");
    vec![
        post(l, "appendJobLog", "Append a log line to a job")
            .body(obj(
                &[
                    ("level", one_of(&LEVELS)),
                    ("message", with(string(), "description", "At most 8 KiB")),
                    ("metadata", nullable(object())),
                ],
                &["message"],
            ))
            .created(r("JobLog"))
            .errs(&[400, 404]),
        get(l, "listJobLogs", "A job's logs, oldest first")
            .query("after", int(), "Only logs after this id (`next_cursor` of the previous page)")
            .query("limit", limit(), "Page size (default 50)")
            .ok(int_list(r("JobLog")))
            .errs(&[400, 404]),
        get("/api/v1/jobs/{job_id}/stream", "streamJobLogs", "Follow a job's logs (server-sent events)")
            .describe(
                "`event: log` per log (its `id:` is the log id), then `event: end` with the job once it \
                       has finished. Resumes after `Last-Event-ID` or `?after`.",
            )
            .query("after", int(), "Start after this log id")
            .header("Last-Event-ID", string(), "Resume after this log id")
            .answer(
                200,
                "An SSE stream, one schema per event",
                "text/event-stream",
                sse_event(&["log", "end", "error"]),
            )
            .errs(&[404]),
        post(a, "appendActionLog", "Record an action log")
            .body(r("NewActionLog"))
            .created(r("ActionLog"))
            .errs(&[400, 404]),
        get(a, "listActionLogs", "List a project's action logs")
            .query("job_id", string(), "Only this job's logs")
            .page()
            .ok(list(r("ActionLog")))
            .errs(&[400, 404]),
    ]
}

pub fn schemas(s: &mut Map<String, Value>) {
    task_schemas(s);
    job_schemas(s);
}

const TASK: &str = "id: int, name: string, status: pending|running|completed|failed|skipped, \
    instruction: string?, parent_id: int?, position: int, path: string, depth: int, metadata: any, \
    execution_result: string?, context_combined: string?, context_sections: any, context_meta: any, \
    context_updated_at: string?, created_at: string, updated_at: string";

fn task_schemas(s: &mut Map<String, Value>) {
    s.insert("Task".into(), shape(TASK));
    s.insert("TaskNode".into(), shape(&format!("{TASK}, dependencies: [int], children: [TaskNode]")));
    let (ns, name) = (|| nullable(string()), || text(1, 500));
    s.insert(
        "NewTask".into(),
        obj(
            &[
                ("name", name()),
                ("parent_id", nullable(positive())),
                ("position", nullable(int())),
                ("before", nullable(positive())),
                ("after", nullable(positive())),
                ("instruction", ns()),
                ("metadata", any()),
                ("status", nullable(one_of(&TASK_STATUSES))),
            ],
            &["name"],
        ),
    );
    // `before` and `after` (non-null) together are 400.
    let both = json!({"properties": {"before": {"type": "integer"}, "after": {"type": "integer"}}});
    s["NewTask"]["not"] = with(both, "required", json!(["before", "after"]));
    s.insert(
        "TaskPatch".into(),
        obj(
            &[
                ("name", nullable(name())),
                ("status", nullable(one_of(&TASK_STATUSES))),
                ("instruction", ns()),
                ("metadata", any()),
                ("execution_result", ns()),
                ("context_combined", ns()),
                ("context_sections", any()),
                ("context_meta", any()),
            ],
            &[],
        ),
    );
    s.insert(
        "TreeNode".into(),
        obj(
            &[
                ("id", nullable(positive())),
                ("name", name()),
                ("status", one_of(&TASK_STATUSES)),
                ("instruction", ns()),
                ("metadata", any()),
                ("execution_result", ns()),
                ("context_combined", ns()),
                ("context_sections", any()),
                ("context_meta", any()),
                ("dependencies", array(positive())),
                ("children", array(r("TreeNode"))),
            ],
            &["name"],
        ),
    );
    s.insert("Snapshot".into(), shape("id: int, note: string?, created_at: string, tasks~: [TreeNode]"));
}

fn job_schemas(s: &mut Map<String, Value>) {
    s.insert(
        "Job".into(),
        shape(
            "job_id: string, project_id: string?, job_type: string, mode: string?, \
        target_task_id: int?, status: pending|running|completed|failed|cancelled, error: string?, params: any, \
        stats: any, result: any, metadata: any, created_at: string, started_at: string?, finished_at: string?",
        ),
    );
    s.insert(
        "NewJob".into(),
        obj(
            &[
                ("job_type", text(1, 100)),
                ("mode", nullable(text(0, 100))),
                ("target_task_id", nullable(positive())),
                ("params", object()),
                ("metadata", object()),
            ],
            &["job_type"],
        ),
    );
    s.insert(
        "JobLog".into(),
        shape(
            "id: int, job_id: string, ts: string, level: debug|info|warning|error, \
        message: string, metadata: any",
        ),
    );
    s.insert(
        "ActionLog".into(),
        shape(
            "id: int, job_id: string, job_type: string?, sequence: int, \
        session_id: string?, user_message: string?, action_kind: string, action_name: string, status: string, \
        success: bool, message: string?, details: any, created_at: string, updated_at: string",
        ),
    );
    let ns = || nullable(string());
    s.insert(
        "NewActionLog".into(),
        obj(
            &[
                ("job_id", text(1, 200)),
                ("job_type", nullable(text(0, 100))),
                ("session_id", nullable(text(0, 200))),
                ("user_message", ns()),
                ("action_kind", text(1, 100)),
                ("action_name", text(1, 200)),
                ("status", text(1, 50)),
                ("success", boolean()),
                ("message", ns()),
                ("details", nullable(object())),
            ],
            &["job_id", "action_kind", "action_name", "status", "success"],
        ),
    );
}
