#!/usr/bin/env python3
"""Small helpers for bench/run (standard library only, Python 3.11).

Every subcommand is one step bench/run cannot do comfortably in bash: HTTP set-up calls,
/proc readings, parsing load generator output into the results file. Measured load always
comes from wrk, never from here.

  benchlib.py free-port
  benchlib.py wait-http URL [SECONDS]
  benchlib.py record RESULTS TABLE CASE WRK_OUTPUT [key=value ...]   # one wrk run -> one JSON line
  benchlib.py record-raw RESULTS TABLE CASE [key=value ...]          # a measured value without wrk
  benchlib.py proc-stats PID [PID ...]                               # {"rss_mib", "fds", "threads"} summed
  benchlib.py tree-pids PID                                          # PID and all its descendants
  benchlib.py touch BASE IDS_FILE                                    # one GET per session (opens every shard)
  benchlib.py message-count BASE SESSION_ID
  benchlib.py fill-project BASE MIB                                  # prints the project id
  benchlib.py snapshot SRC_SQLITE DST_SQLITE                         # consistent copy (backup API)
  benchlib.py uuids N                                                # N random UUIDs, one a line
  benchlib.py pb-setup BASE EMAIL PASSWORD                           # collection + batch; prints token
  benchlib.py pb-seed BASE TOKEN SESSION N                           # batch-create N records
  benchlib.py pgbench-stats LOG_PREFIX                               # p50/p90/p99/max ms from pgbench -l logs
  benchlib.py storage-ceiling BENCH_STORAGE_OUTPUT                   # the (a) rows of `planbase bench storage`
"""

import concurrent.futures
import glob
import http.client
import json
import os
import re
import socket
import sqlite3
import sys
import time
import urllib.parse
import urllib.request
import uuid


def die(msg):
    print(f"benchlib: {msg}", file=sys.stderr)
    sys.exit(1)


def parse_kv(items):
    out = {}
    for item in items:
        k, _, v = item.partition("=")
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


def append_result(path, row):
    row.setdefault("at", time.strftime("%Y-%m-%dT%H:%M:%S"))
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def http_json(method, url, body=None, headers=None, timeout=60):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        die(f"{method} {url} -> {e.code}: {raw[:500]!r}")


# ---- subcommands ----

def cmd_free_port(_):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def cmd_wait_http(args):
    url, secs = args[0], float(args[1]) if len(args) > 1 else 60
    deadline = time.time() + secs
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status < 500:
                    return
        except Exception:
            pass
        time.sleep(0.1)
    die(f"{url} did not answer within {secs:.0f}s")


def cmd_record(args):
    results, table, case, wrk_out = args[:4]
    extra = parse_kv(args[4:])
    line = None
    with open(wrk_out, errors="replace") as f:
        for l in f:
            if l.startswith("WRK_RESULT "):
                line = l[len("WRK_RESULT "):]
    if line is None:
        die(f"no WRK_RESULT line in {wrk_out} (wrk failed?)")
    row = {"table": table, "case": case, **json.loads(line), **extra}
    append_result(results, row)
    flag = f"  ** {row['non2xx']} non-2xx, {row['socket_errors']} socket errors **" if (
        row["non2xx"] or row["socket_errors"]) else ""
    print(f"  {table:10} | {case:60} | {row['rps']:9.0f} req/s | p50 {row['p50_ms']:7.2f} ms"
          f" | p99 {row['p99_ms']:7.2f} ms{flag}", flush=True)


def cmd_record_raw(args):
    results, table, case = args[:3]
    row = {"table": table, "case": case, **parse_kv(args[3:])}
    append_result(results, row)
    shown = ", ".join(f"{k}={v}" for k, v in row.items() if k not in ("table", "case", "at"))
    print(f"  {table:10} | {case:60} | {shown}", flush=True)


def tree_pids(pid):
    pids, todo = [], [int(pid)]
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    while todo:
        p = todo.pop()
        pids.append(p)
        todo.extend(children.get(p, []))
    return pids


def cmd_tree_pids(args):
    print(" ".join(str(p) for p in tree_pids(args[0])))


def cmd_proc_stats(args):
    """RSS double-counts memory shared between processes (PostgreSQL's shared buffers are in
    every backend's RSS), so PSS (proportional share, /proc/PID/smaps_rollup) is summed too."""
    rss_kb, pss_kb, fds, threads = 0, 0, 0, 0
    for pid in args:
        try:
            with open(f"/proc/{pid}/status") as f:
                for l in f:
                    if l.startswith("VmRSS:"):
                        rss_kb += int(l.split()[1])
                    elif l.startswith("Threads:"):
                        threads += int(l.split()[1])
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for l in f:
                    if l.startswith("Pss:"):
                        pss_kb += int(l.split()[1])
            fds += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            pass
    print(json.dumps({"rss_mib": round(rss_kb / 1024, 1), "pss_mib": round(pss_kb / 1024, 1), "fds": fds,
                      "threads": threads, "processes": len(args)}))


def cmd_touch(args):
    """One GET of the newest message of every session, 4 keep-alive connections: opens every
    shard (and warms every cache) before a timed row, like the warm-up of `planbase bench`."""
    base, ids_file = args
    ids = [l.strip() for l in open(ids_file) if l.strip()]
    u = urllib.parse.urlparse(base)

    def run(chunk):
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        for sid in chunk:
            c.request("GET", f"/api/v1/sessions/{sid}/messages?limit=1")
            r = c.getresponse()
            r.read()
            if r.status != 200:
                die(f"touch {sid}: {r.status}")
        c.close()

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        list(ex.map(run, [ids[i::4] for i in range(4)]))


def cmd_message_count(args):
    base, sid = args
    _, body = http_json("GET", f"{base}/api/v1/sessions/{sid}")
    print(body["message_count"])


def cmd_fill_project(args):
    """Creates a project and adds ~256 KiB YAML files until its export is >= MIB MiB (files are
    stored as YAML and as parsed JSON, like `planbase bench projects` fills one)."""
    base, mib = args[0], float(args[1])
    _, p = http_json("POST", f"{base}/api/v1/projects", {"name": "bench export", "tags": ["bench"]})
    pid = p["id"]
    n = 0
    while True:
        lines = [f"key_{i}: value {n} {i} {'x' * 100}" for i in range(2000)]
        http_json("POST", f"{base}/api/v1/projects/{pid}/files",
                  {"file_type": "rules", "file_name": f"r{n}.yaml", "yaml_content": "\n".join(lines)})
        n += 1
        if n >= 8:
            req = urllib.request.Request(f"{base}/api/v1/projects/{pid}/export", method="GET")
            with urllib.request.urlopen(req, timeout=120) as r:
                size = len(r.read())
            if size >= mib * (1 << 20):
                break
    print(pid, size)


def cmd_snapshot(args):
    src, dst = args
    if os.path.exists(dst):
        os.remove(dst)
    s = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    d = sqlite3.connect(dst)
    s.backup(d)
    d.execute("PRAGMA journal_mode=DELETE")
    d.close()
    s.close()


def cmd_uuids(args):
    for _ in range(int(args[0])):
        print(uuid.uuid4())


def cmd_pb_setup(args):
    base, email, password = args
    _, auth = http_json("POST", f"{base}/api/collections/_superusers/auth-with-password",
                        {"identity": email, "password": password})
    token = auth["token"]
    h = {"Authorization": token}
    # The same columns as a Planbase message; `created` (an autodate field) orders the
    # history, and one index on (session, created) serves both the filter and the sort.
    http_json("POST", f"{base}/api/collections", {
        "name": "messages", "type": "base",
        "listRule": "", "viewRule": "", "createRule": "",
        "fields": [
            {"name": "session", "type": "text", "required": True},
            {"name": "role", "type": "text"},
            {"name": "content", "type": "text"},
            {"name": "parts", "type": "json"},
            {"name": "created", "type": "autodate", "onCreate": True, "onUpdate": False},
        ],
        "indexes": ["CREATE INDEX idx_messages_session_created ON messages (session, created)"],
    }, h)
    # The batch API (off by default) seeds 100k records in a few hundred transactions.
    http_json("PATCH", f"{base}/api/settings",
              {"batch": {"enabled": True, "maxRequests": 1000, "timeout": 120, "maxBodySize": 0}}, h)
    print(token)


def cmd_pb_seed(args):
    base, token, sid, n = args[0], args[1], args[2], int(args[3])
    per = 500
    t0 = time.time()

    def batch(start):
        reqs = []
        for i in range(start, min(start + per, n)):
            text = f"seed message {i}, a short chat line about the weather"
            reqs.append({"method": "POST", "url": "/api/collections/messages/records",
                         "body": {"session": sid, "role": "user", "content": text,
                                  "parts": [{"type": "text", "text": text}]}})
        http_json("POST", f"{base}/api/batch", {"requests": reqs}, {"Authorization": token}, timeout=300)

    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        list(ex.map(batch, range(0, n, per)))
    secs = time.time() - t0
    print(json.dumps({"records": n, "seconds": round(secs, 2), "per_s": round(n / secs), "batch": per}))


def pct(sorted_vals, p):
    if not sorted_vals:
        return 0.0
    return sorted_vals[min(len(sorted_vals) - 1, round(p / 100 * (len(sorted_vals) - 1)))]


def cmd_pgbench_stats(args):
    lat = []
    for path in glob.glob(args[0] + "*"):
        with open(path) as f:
            for l in f:
                parts = l.split()
                if len(parts) >= 3:
                    lat.append(int(parts[2]) / 1000.0)  # µs -> ms
    lat.sort()
    print(json.dumps({"p50_ms": pct(lat, 50), "p90_ms": pct(lat, 90), "p99_ms": pct(lat, 99),
                      "max_ms": lat[-1] if lat else 0, "samples": len(lat)}))


def cmd_storage_ceiling(args):
    text = open(args[0]).read()
    out = {}
    for label, key in (("raw rusqlite, 1 file", "one"), ("raw rusqlite, 2 files", "two")):
        m = re.search(r"\|\s*\(a\) " + re.escape(label) + r"[^|]*\|\s*(\d+)\s*\|\s*(\d+)\s*\|", text)
        if not m:
            die(f"no '(a) {label}' row in {args[0]}")
        out[key] = {"ops": int(m.group(1)), "ops_s": int(m.group(2))}
    print(json.dumps(out))


COMMANDS = {
    "free-port": cmd_free_port, "wait-http": cmd_wait_http, "record": cmd_record,
    "record-raw": cmd_record_raw, "proc-stats": cmd_proc_stats, "tree-pids": cmd_tree_pids,
    "touch": cmd_touch, "message-count": cmd_message_count, "fill-project": cmd_fill_project,
    "snapshot": cmd_snapshot, "uuids": cmd_uuids, "pb-setup": cmd_pb_setup, "pb-seed": cmd_pb_seed,
    "pgbench-stats": cmd_pgbench_stats, "storage-ceiling": cmd_storage_ceiling,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    COMMANDS[sys.argv[1]](sys.argv[2:])
