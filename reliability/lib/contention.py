"""Part 2 — contention.

64 writers appending to ONE session (every write on one shard, one writer thread: group
commit under pressure), then 64 writers on 64 sessions (one each), for --duration seconds
each. Zero 5xx and zero `storage_busy` allowed; every acknowledged append must be in the
shard afterwards (count and client ids). Latency is measured by the client: Python threads
in --client-procs processes on the same 2 cores as the server, so the figures include
client overhead — this proves correctness under contention, not peak speed (see
`planbase bench sessions` for that).
"""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from pathlib import Path

from common import Client, Server, classify_log, integrity_all, log, percentile, ro_connect


def _thread(port, sid, tag, deadline, out):
    cli = Client(port, timeout=60)
    lat, status, codes, errors, acked = [], {}, {}, 0, []
    n = 0
    while time.time() < deadline:
        n += 1
        mid = f"{tag}-{n}"
        body = {"id": mid, "role": "user", "parts": [{"type": "text", "text": f"contention {mid} lorem ipsum"}]}
        try:
            r = cli.request("POST", f"/api/v1/sessions/{sid}/messages", body)
        except Exception as e:  # transport error: counted, never expected
            errors += 1
            codes[f"transport {type(e).__name__}"] = codes.get(f"transport {type(e).__name__}", 0) + 1
            time.sleep(0.01)
            continue
        status[r.status] = status.get(r.status, 0) + 1
        if 200 <= r.status < 300:
            lat.append(r.ms)
            acked.append(mid)
        else:
            c = r.error_code() or "?"
            codes[c] = codes.get(c, 0) + 1
    cli.close()
    out.append((lat, status, codes, errors, acked))


def _proc(port, assignments, start_at, duration, q):
    time.sleep(max(0.0, start_at - time.time()))
    deadline = start_at + duration
    out = []
    ts = [threading.Thread(target=_thread, args=(port, sid, tag, deadline, out)) for sid, tag in assignments]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    q.put(out)


def load(port, sids_per_conn: list[str], case: str, slug: str, duration: float, procs: int) -> dict:
    conns = len(sids_per_conn)
    q = mp.Queue()
    start_at = time.time() + 0.5
    ps = []
    for p in range(procs):
        mine = [(sids_per_conn[i], f"{slug}-c{i}") for i in range(conns) if i % procs == p]
        ps.append(mp.Process(target=_proc, args=(port, mine, start_at, duration, q)))
    for p in ps:
        p.start()
    results = []
    for _ in ps:
        results += q.get(timeout=duration + 300)
    for p in ps:
        p.join()
    lat, status, codes, errors, acked = [], {}, {}, 0, []
    for l_, s_, c_, e_, a_ in results:
        lat += l_
        errors += e_
        acked += a_
        for k, v in s_.items():
            status[k] = status.get(k, 0) + v
        for k, v in c_.items():
            codes[k] = codes.get(k, 0) + v
    lat.sort()
    total = sum(status.values()) + errors
    return {
        "case": case, "connections": conns, "seconds": duration, "requests": total,
        "rps": round(total / duration), "p50_ms": round(percentile(lat, 50), 2),
        "p99_ms": round(percentile(lat, 99), 2), "max_ms": round(lat[-1], 1) if lat else None,
        "ok": sum(v for k, v in status.items() if 200 <= k < 300),
        "s5xx": sum(v for k, v in status.items() if k >= 500),
        "busy": codes.get("storage_busy", 0),
        "other": {k: v for k, v in codes.items() if k != "storage_busy"} or 0,
        "status": {str(k): v for k, v in sorted(status.items())},
        "_acked": acked,
    }


def server_histogram(port) -> tuple[dict, float, int]:
    """The server's own latency histogram of 201 appends ({le: cumulative count}, sum s, count)."""
    import re
    r = Client(port).request("GET", "/metrics")
    buckets, total, count = {}, 0.0, 0
    sel = 'route="/api/v1/sessions/:id/messages",method="POST",status="201"'
    for line in r.body.decode(errors="replace").splitlines():
        if sel not in line:
            continue
        m = re.match(r'planbase_http_request_duration_seconds_bucket\{.*le="([^"]+)"\} (\S+)', line)
        if m:
            buckets[m.group(1)] = float(m.group(2))
        elif line.startswith("planbase_http_request_duration_seconds_sum"):
            total = float(line.split()[-1])
        elif line.startswith("planbase_http_request_duration_seconds_count"):
            count = int(float(line.split()[-1]))
    return buckets, total, count


def server_side(before, after) -> dict:
    """Upper bucket bounds holding the 50th and 99th percentile, and the mean, of the appends in between."""
    b0, s0, c0 = before
    b1, s1, c1 = after
    n = c1 - c0
    if n <= 0:
        return {}
    def bound(q):
        for le in sorted((k for k in b1 if k != "+Inf"), key=float):
            if b1[le] - b0.get(le, 0) >= q * n:
                return f"≤ {float(le) * 1000:g}"
        return "> 5000"
    return {"server_p50_ms": bound(0.5), "server_p99_ms": bound(0.99), "server_mean_ms": round((s1 - s0) / n * 1000, 2)}


def run(binary: Path, work: Path, duration: float, conns: int, procs: int, synchronous: str | None) -> dict:
    env = {"PLANBASE_STORAGE_SYNCHRONOUS": synchronous} if synchronous else {}
    srv = Server(binary, work / "db", work / "logs", env)
    srv.start()
    failures, cases = [], []
    try:
        cli = Client(srv.port)
        one = cli.request("POST", "/api/v1/sessions", {"name": "contention: one"}).json()["id"]
        many = [cli.request("POST", "/api/v1/sessions", {"name": f"contention: {i}"}).json()["id"]
                for i in range(conns)]
        cli.close()
        plan = [(f"{conns} writers, 1 session", "one", [one] * conns),
                (f"{conns} writers, {conns} sessions", "many", many)]
        for case, slug, sids in plan:
            log(f"contention: {case}, {duration}s, {procs} client processes")
            h0 = server_histogram(srv.port)
            r = load(srv.port, sids, case, slug, duration, procs)
            r.update(server_side(h0, server_histogram(srv.port)))
            acked = r.pop("_acked")
            # Every acknowledged append is in its shard, exactly once.
            stored = set()
            for sid in set(sids):
                c = ro_connect(srv.root / "sessions" / f"session_{sid}.sqlite")
                try:
                    stored |= {row[0] for row in c.execute("SELECT id FROM messages WHERE id LIKE ?",
                                                           (f"{slug}-c%",))}
                finally:
                    c.close()
            missing = set(acked) - stored
            r["stored_matches"] = "yes" if not missing and len(stored) >= len(acked) else f"NO ({len(missing)} missing)"
            if r["s5xx"]:
                failures.append(f"{case}: {r['s5xx']} 5xx answers ({r['status']}, codes {r['other']})")
            if r["busy"]:
                failures.append(f"{case}: {r['busy']} storage_busy answers")
            if r["other"]:
                failures.append(f"{case}: unexpected answers {r['other']}")
            if missing:
                failures.append(f"{case}: {len(missing)} acknowledged appends missing from the shard, e.g. "
                                f"{sorted(missing)[:3]}")
            log(f"contention: {case}: {r['requests']} requests, {r['rps']}/s, p50 {r['p50_ms']} ms, "
                f"p99 {r['p99_ms']} ms (server: p50 {r.get('server_p50_ms')}, p99 {r.get('server_p99_ms')}, "
                f"mean {r.get('server_mean_ms')} ms), 5xx {r['s5xx']}, busy {r['busy']}, stored = acked: {r['stored_matches']}")
            cases.append(r)
            if not srv.alive():
                failures.append(f"server died during {case!r}")
                break
    finally:
        rc = srv.stop()
    if rc != 0:
        failures.append(f"graceful stop exited {rc}")
    bad = integrity_all(srv.root)
    failures += [f"integrity_check of {f}: {w}" for f, w in bad.items()]
    failures += [f"server log: {l}" for l in classify_log(srv.log_problems())[1][:20]]
    return {"cases": cases, "failures": failures}
