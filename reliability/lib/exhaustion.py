"""Part 4 — resource exhaustion.

Issue #9: "100k session shards (created by copying the template, outside cargo test and CI)
touched in a loop with cap 1,024 — fds and RSS stay flat; a full disk (PRAGMA
max_page_count / storage.max_shard_bytes, no mounts) → writes fail with 507 storage_full,
reads keep working, nothing corrupted, and writes resume after space is freed."

(b) Full shard (`full_shard`, quick and full): a server with `storage.max_shard_bytes =
1 MiB` (the smallest the config accepts); ~100 KB messages of varied words are appended to
one session until one answers 507 `storage_full` in the standard error shape. Then: every
acknowledged message reads back (paged, exact text, the refused one absent), the session row
answers, the shard's own search and the cross-session search find a pre-full message, a
chat turn that does not fit is refused whole, another session still takes writes,
`integrity_check` of the file is ok; after a restart with 8 MiB the refused message is
accepted (201) and more follow, everything acknowledged is there, search works, a clean
stop, integrity ok, `planbase check` ok.

(a) Many shards (`many_shards`, the full run; --quick runs a small form): one session file
made through the server is copied to N files, `planbase reindex` adopts them (timed), then a
server with `storage.max_open_shards = cap` gets client threads walking every session in a
shuffled order (GET a page of messages, 10% appends) while the server's VmRSS and open fds
(/proc/PID) and its open shards (/metrics) are sampled every second. Passes when no request
fails, the fds never exceed the server's fd budget (src/storage/mod.rs `fd_budget`: cap ×
(1 + readers_per_shard) × 3 + 6 pools × 8 × 3 + 256), and after the warm-up (until the shard
cache first holds `cap` shards, plus 5 s; 2 s in --quick) the largest RSS and fd count of the
second half are at most 1.15× those of the first half (+ 16 MiB for RSS); then every
acknowledged append is in its shard. The idle-WAL sweep runs every MIN/4 s (15 s; 2 s in
--quick) instead of every 5 min, so the loop includes sweeps over all the closed shards. Then
two `POST /admin/maintenance` runs (202 with a job, followed to its end): both complete, the
second checkpointing nothing (the first left no -wal); a clean stop and `integrity_check` of a sample. The N copies are deleted at the end
(even on failure, unless --keep).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import threading
import time
import uuid
from pathlib import Path

from common import (Client, Server, classify_log, error_shape_problem, integrity, integrity_all, log, loud,
                    proc_stats, ro_connect)

# Found by this part, reported, not fixed yet: (check name -> cause). Listed as KNOWN in the
# results instead of failing the run (unless --strict); FIXED when they pass. Fixed since, each
# with a test first: search on a full shard (507), the idle sweep reopening every closed shard,
# and `POST /admin/maintenance` answering 408 over 100k shards (it is a job now).
KNOWN: dict[str, str] = {}

STORAGE_FULL_LOG = 'code="storage_full"'  # the server logs each 507 at ERROR: expected here

# "Flat": the largest value of the second half of the samples after the warm-up is at most
# FLAT × the first half's, plus for RSS one allocator growth step (the 10 s --quick loop on a
# ~100 MiB debug server saw a single 11 MiB step).
FLAT = 1.15
RSS_ALLOWANCE_KIB = 16 * 1024


def _words(rng: random.Random) -> list[str]:
    return ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))) for _ in range(5000)]


def _text(rng: random.Random, words: list[str], token: str, size: int) -> str:
    out, n = [token], len(token)
    while n < size:
        w = rng.choice(words)
        out.append(w)
        n += len(w) + 1
    return " ".join(out)


def _msg(mid: str, text: str) -> dict:
    return {"id": mid, "role": "user", "parts": [{"type": "text", "text": text}]}


def all_messages(cli: Client, sid: str, limit: int) -> tuple[int, list]:
    """Every message through `after` pages of `limit`; (status of the first non-200 or 200, items)."""
    out, after = [], 0
    while True:
        r = cli.request("GET", f"/api/v1/sessions/{sid}/messages?after={after}&limit={limit}")
        if r.status != 200:
            return r.status, out
        j = r.json()
        out += j["items"]
        if not j.get("next_cursor") or not j["items"]:
            return 200, out
        after = j["next_cursor"]


class Checks:
    """Named checks: a failure, a KNOWN failure, or FIXED (a known one that passed)."""

    def __init__(self):
        self.failures, self.known, self.fixed, self.passed = [], [], [], []
        self.table: list[dict] = []  # every check in order, for the report

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.table.append({"check": name, "result": "ok" if ok else ("KNOWN" if name in KNOWN else "FAIL"),
                           "detail": "" if ok else detail[:200]})
        if ok:
            self.passed.append(name)
            if name in KNOWN:
                self.fixed.append(name)
        elif name in KNOWN:
            self.known.append({"case": name, "got": detail[:300], "known": KNOWN[name]})
        else:
            self.failures.append(f"{name}: {detail}"[:600])
        return ok


# ---------------------------------------------------------------------------------------------
# (b) a full shard


def full_shard(binary: Path, work: Path, seed: int, synchronous: str | None, ck: Checks) -> dict:
    rng = random.Random(seed * 31 + 4)
    words = _words(rng)
    base = {"PLANBASE_STORAGE_SYNCHRONOUS": synchronous} if synchronous else {}
    srv = Server(binary, work / "db", work / "logs", {**base, "PLANBASE_STORAGE_MAX_SHARD_BYTES": "1MiB"})
    res: dict = {"cap": "1 MiB", "resume_cap": "8 MiB"}
    srv.start()
    cli = Client(srv.port)
    acked: dict[str, str] = {}  # id -> text, in order
    try:
        a = cli.request("POST", "/api/v1/sessions", {"name": "full"}).json()["id"]
        b = cli.request("POST", "/api/v1/sessions", {"name": "other"}).json()["id"]
        refused = None
        for i in range(60):
            mid, text = f"full-{i}", _text(rng, words, f"tok{i}x", 100_000)
            r = cli.request("POST", f"/api/v1/sessions/{a}/messages", _msg(mid, text))
            if r.status == 201:
                acked[mid] = text
                continue
            refused = (mid, text, r)
            break
        res["acknowledged_before_full"] = len(acked)
        path = srv.root / "sessions" / f"session_{a}.sqlite"
        res["file_bytes_at_full"] = path.stat().st_size + (os.path.getsize(f"{path}-wal")
                                                           if os.path.exists(f"{path}-wal") else 0)
        if not ck.check("full shard: the cap is reached", refused is not None, f"60 appends of 100 KB all 201"):
            return res
        mid, text, r = refused
        res["refused_status"] = f"{r.status} {r.error_code()}"
        ck.check("full shard: 507 storage_full", r.status == 507 and r.error_code() == "storage_full",
                 f"{r.status} {r.body[:300]!r}")
        shape = error_shape_problem(r)
        ck.check("full shard: the error shape", shape is None, str(shape))
        # It stays full: another big write is refused the same way.
        r = cli.request("POST", f"/api/v1/sessions/{a}/messages", _msg(mid, text))
        ck.check("full shard: a retry is refused too", r.status == 507 and r.error_code() == "storage_full",
                 f"{r.status} {r.body[:200]!r}")
        # Reads keep working: every acknowledged message, exact, through pages of 2.
        st, items = all_messages(cli, a, 2)
        got = {m["id"]: m.get("content") for m in items}
        ck.check("full shard: pages of messages", st == 200 and got == acked,
                 f"status {st}, {len(got)} items vs {len(acked)} acknowledged, refused present: {mid in got}")
        r = cli.request("GET", f"/api/v1/sessions/{a}")
        ck.check("full shard: GET the session", r.status == 200, f"{r.status} {r.body[:200]!r}")
        first = next(iter(acked))
        tok = acked[first].split()[0]
        r = cli.request("GET", f"/api/v1/sessions/{a}/search?q={tok}")
        # While the shard is full the newest messages (< 256 since the last index batch) cannot
        # be indexed: the search answers 200 from what is indexed, so the hit may be missing
        # until space is freed (checked after freeing below).
        hit = r.status == 200 and [h["id"] for h in r.json().get("items", [])] in ([first], [])
        res["search_on_full"] = f"{r.status} {r.error_code() or ''}".strip()
        ck.check("full shard: in-session search", hit, f"GET /sessions/{{id}}/search?q={tok} -> {r.status} "
                 f"{r.body[:200]!r}")
        deadline, ok = time.monotonic() + 5, False
        while not ok and time.monotonic() < deadline:
            r = cli.request("GET", f"/api/v1/search?q={tok}")
            ok = r.status == 200 and any(h.get("session_id") == a for h in r.json().get("items", []))
            if not ok:
                time.sleep(0.2)
        ck.check("full shard: cross-session search", ok, f"{r.status} {r.body[:200]!r}")
        # A chat turn that does not fit is refused whole: no user message without its reply.
        big = _text(rng, words, "chatturn", 100_000)
        r = cli.request("POST", f"/api/v1/sessions/{a}/chat", {"content": big})
        st2, items2 = all_messages(cli, a, 200)
        res["chat_on_full"] = r.status
        ck.check("full shard: a chat turn that does not fit", r.status == 507 and len(items2) == len(acked),
                 f"{r.status} {r.error_code()}, messages now {len(items2)} (was {len(acked)})")
        # Other shards keep working.
        r = cli.request("POST", f"/api/v1/sessions/{b}/messages", _msg("other-1", "another session still writes"))
        ck.check("full shard: another session takes writes", r.status == 201, f"{r.status} {r.body[:200]!r}")
        ck.check("full shard: integrity_check while full", (iq := integrity(path)) == "ok", iq)
        ck.check("full shard: /health", cli.request("GET", "/health").status == 200, "not 200")
    finally:
        cli.close()
        stop_checked(srv, ck, "full shard")

    # "Free space": a larger cap. Writes resume; nothing acknowledged is lost.
    srv.extra_env["PLANBASE_STORAGE_MAX_SHARD_BYTES"] = "8MiB"
    srv.start()
    cli = Client(srv.port)
    try:
        r = cli.request("POST", f"/api/v1/sessions/{a}/messages", _msg(mid, text))
        ck.check("after freeing: the refused message is accepted", r.status == 201, f"{r.status} {r.body[:200]!r}")
        if r.status == 201:
            acked[mid] = text
        more = 0
        for i in range(3):
            m2, t2 = f"after-{i}", _text(rng, words, f"after{i}x", 100_000)
            r = cli.request("POST", f"/api/v1/sessions/{a}/messages", _msg(m2, t2))
            if r.status == 201:
                acked[m2] = t2
                more += 1
        ck.check("after freeing: more writes", more == 3, f"{more} of 3 appends 201")
        st, items = all_messages(cli, a, 3)
        got = {m["id"]: m.get("content") for m in items}
        ck.check("after freeing: every acknowledged message", st == 200 and got == acked,
                 f"status {st}, {len(got)} vs {len(acked)}")
        r = cli.request("GET", f"/api/v1/sessions/{a}/search?q={tok}")
        ck.check("after freeing: in-session search", r.status == 200 and
                 [h["id"] for h in r.json().get("items", [])] == [first], f"{r.status} {r.body[:200]!r}")
        res["acknowledged_total"] = len(acked)
    finally:
        cli.close()
        stop_checked(srv, ck, "after freeing")
    r = srv.cli("check", timeout=300)
    ck.check("after freeing: planbase check", r.returncode == 0, r.stdout[-300:])
    lines = srv.log_problems()
    expected = [l for l in lines if STORAGE_FULL_LOG in l]
    res["storage_full_log_lines"] = len(expected)
    unknown = classify_log([l for l in lines if STORAGE_FULL_LOG not in l])[1]
    ck.check("full shard: server log", not unknown, "; ".join(unknown[:5]))
    return res


# ---------------------------------------------------------------------------------------------
# (a) many shards


def fd_budget(cap: int, readers: int = 2) -> int:
    """src/storage/mod.rs fd_budget with the default readers_per_shard and the pools' size (8)."""
    return cap * (1 + readers) * 3 + 6 * 8 * 3 + 256


def metric(cli: Client, name: str) -> float | None:
    r = cli.request("GET", "/metrics")
    m = re.search(rf"^{name} (\S+)$", r.body.decode(errors="replace"), re.M)
    return float(m.group(1)) if m else None


def stop_checked(srv: Server, ck: Checks, phase: str) -> None:
    """A graceful stop, then `integrity_check` of every file of the root."""
    rc = srv.stop()
    ck.check(f"{phase}: graceful stop", rc == 0, f"exit {rc}")
    bad = integrity_all(srv.root)
    ck.check(f"{phase}: integrity_check of every file", not bad, str(bad)[:300])


def run_maintenance(c: Client, deadline_s: float) -> tuple[int, dict, float]:
    """POST /admin/maintenance (202 with the job), then the job until it ends or the deadline:
    (the POST's status, the finished job or {}, seconds)."""
    t0 = time.monotonic()
    r = c.request("POST", "/api/v1/admin/maintenance")
    if r.status != 202:
        return r.status, {}, round(time.monotonic() - t0, 1)
    jid = r.json()["job_id"]
    while time.monotonic() - t0 < deadline_s:
        j = c.request("GET", f"/api/v1/jobs/{jid}").json()
        if j.get("status") not in ("pending", "running"):
            return r.status, j, round(time.monotonic() - t0, 1)
        time.sleep(0.2)
    return r.status, {}, round(time.monotonic() - t0, 1)


def maintenance(srv: Server, n: int, res: dict, ck: Checks) -> None:
    """Two maintenance runs after the loop: the first checkpoints the WALs of the closed shards
    (appends, and the empty ones reindex left); the second finds none left and must
    checkpoint nothing. Each answers 202 at once and its job completes within 30 min."""
    c = Client(srv.port, timeout=60)
    answers = "many shards: maintenance completes as a job" + (" (100k shards)" if n >= 50_000 else "")
    try:
        runs = []
        for i in (1, 2):
            status, job, dt = run_maintenance(c, 1800)
            rep = job.get("result") or {}
            runs.append({"status": job.get("status") or status, "seconds": dt,
                         "checkpointed_shards": rep.get("checkpointed_shards"), "errors": len(rep.get("errors") or [])})
            log(f"many shards: maintenance {i}: POST {status}, job {job.get('status')} after {dt} s, "
                f"checkpointed_shards {rep.get('checkpointed_shards')}")
            if not ck.check(answers, status == 202 and job.get("status") == "completed",
                            f"run {i}: POST {status}, job {job.get('status') or 'unfinished'} after {dt} s"):
                break
            ck.check("many shards: maintenance reports no errors", not rep.get("errors"), str(rep.get("errors"))[:300])
        if len(runs) == 2:
            cps = runs[1]["checkpointed_shards"]
            ck.check("many shards: a second maintenance run checkpoints nothing", cps == 0,
                     f"checkpointed_shards {cps} of {n} shards in {runs[1]['seconds']} s, though the first run "
                     f"had removed every closed shard's -wal and nothing was written since")
        res["maintenance"] = runs
    finally:
        c.close()


def many_shards(binary: Path, work: Path, n: int, cap: int, min_s: float, max_s: float, threads: int, seed: int,
                synchronous: str | None, keep: bool, ck: Checks, sweep: str | None = None) -> dict:
    rng = random.Random(seed * 17 + 3)
    base = {"PLANBASE_STORAGE_SYNCHRONOUS": synchronous} if synchronous else {}
    if sweep:
        base["PLANBASE_MAINTENANCE_WAL_SWEEP_INTERVAL"] = sweep
    root = work / "db"
    srv = Server(binary, root, work / "logs", {**base, "PLANBASE_STORAGE_MAX_OPEN_SHARDS": str(cap)})
    res: dict = {"cap": cap, "requested_shards": n}
    try:
        srv.start()
        cli = Client(srv.port)
        sid = cli.request("POST", "/api/v1/sessions", {"name": "many"}).json()["id"]
        for i in range(3):
            cli.request("POST", f"/api/v1/sessions/{sid}/messages", _msg(f"tpl-{i}", f"template message {i}"))
        cli.close()
        ck.check("many shards: template server stop", srv.stop() == 0, "graceful stop failed")
        src = root / "sessions" / f"session_{sid}.sqlite"
        import sqlite3
        c = sqlite3.connect(src)
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        c.close()
        size = src.stat().st_size
        per = size + 64 * 1024  # the copy, and the -shm/-wal the reindex and the server leave beside it
        free = shutil.disk_usage(work).free
        if n * per * 1.3 > free:
            n2 = max(cap * 2, int(free / 1.3 / per))
            loud(f"MANY SHARDS: {n} copies need ~{n * per * 1.3 / 2**30:.1f} GiB, {free / 2**30:.1f} GiB free: "
                 f"{n2} shards instead")
            n = n2
        res["shards"] = n
        res["shard_bytes"] = size
        t0 = time.monotonic()
        d = root / "sessions"
        for i in range(n - 1):
            shutil.copyfile(src, d / f"session_{uuid.uuid4()}.sqlite")
            if (i + 1) % 20000 == 0:
                log(f"many shards: {i + 1} copies")
        res["copy_s"] = round(time.monotonic() - t0, 1)
        t0 = time.monotonic()
        r = srv.cli("reindex", timeout=7200)
        res["reindex_s"] = round(time.monotonic() - t0, 1)
        m = re.search(r"(\d+) sessions indexed, (\d+) adopted, (\d+) removed, (\d+) failed", r.stdout)
        res["reindex"] = m.group(0) if m else r.stdout.strip()[-200:]
        ck.check("many shards: reindex adopts every copy", r.returncode == 0 and m is not None and
                 int(m.group(1)) == n and int(m.group(4)) == 0, f"exit {r.returncode}: {r.stdout[-300:]}")
        log(f"many shards: {n} shards of {size} bytes, copied in {res['copy_s']} s, reindex {res['reindex_s']} s "
            f"({res['reindex']})")
        ids = [p.name[len("session_"):-len(".sqlite")] for p in d.glob("session_*.sqlite")]
        rng.shuffle(ids)

        res["wal_sweep_interval"] = sweep
        res["ready_s"] = round(srv.start(timeout=600), 2)
        pid = srv.proc.pid
        budget = fd_budget(cap)
        mc = Client(srv.port)
        res["fd_budget"] = budget
        ck.check("many shards: the server's cap", metric(mc, "planbase_max_open_shards") == cap,
                 f"planbase_max_open_shards is not {cap}")
        stop = threading.Event()
        lock = threading.Lock()
        counts = {"requests": 0, "ok": 0, "appends": 0}
        bad: dict = {}
        appended: dict[str, list] = {}
        touched = [0] * threads

        def worker(k: int):
            c = Client(srv.port, timeout=60)
            wr = random.Random(seed * 1000 + k)
            i, n_ok, n_req = k, 0, 0
            while not stop.is_set():
                s = ids[i % len(ids)]
                try:
                    if wr.random() < 0.1:
                        mid = f"ex-{k}-{i}"
                        r = c.request("POST", f"/api/v1/sessions/{s}/messages", _msg(mid, f"touch {mid}"))
                        good = r.status == 201
                        if good:
                            with lock:
                                appended.setdefault(s, []).append(mid)
                                counts["appends"] += 1
                    else:
                        r = c.request("GET", f"/api/v1/sessions/{s}/messages?limit=20")
                        good = r.status == 200 and len(r.json().get("items", [])) >= 3
                    key = None if good else f"{r.status} {r.error_code()}"
                except Exception as e:  # transport
                    key = f"transport {type(e).__name__}"
                n_req += 1
                if key:
                    with lock:
                        bad[key] = bad.get(key, 0) + 1
                else:
                    n_ok += 1
                i += threads
                touched[k] = (i - k) // threads
            c.close()
            with lock:
                counts["requests"] += n_req
                counts["ok"] += n_ok

        ts = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(threads)]
        t0 = time.monotonic()
        for t in ts:
            t.start()
        samples = []
        every = min(1.0, max_s / 40)  # at least ~40 samples in a short (--quick) loop
        while True:
            time.sleep(every)
            el = time.monotonic() - t0
            rss, fds = proc_stats(pid)
            try:
                open_shards = metric(mc, "planbase_open_shards")
                live = metric(mc, "planbase_live_shard_handles")
            except Exception:
                open_shards = live = None
            walked = sum(touched)
            samples.append({"t": round(el, 1), "rss_kib": rss, "fds": fds, "open_shards": open_shards,
                            "live_handles": live, "touched": walked})
            if len(samples) % 15 == 0:
                log(f"many shards: {el:.0f} s, {walked} touches ({walked / n:.2f} passes over the shards), "
                    f"RSS {rss // 1024} MiB, {fds} fds, {open_shards} open shards")
            if not srv.alive() or el >= max_s or (el >= min_s and walked >= n):
                break
        stop.set()
        for t in ts:
            t.join(timeout=120)
        mc.close()
        res["seconds"] = round(time.monotonic() - t0, 1)
        res.update(counts)
        res["touches"] = sum(touched)
        res["covered_all"] = res["touches"] >= n
        res["errors"] = bad
        res["req_per_s"] = round(counts["requests"] / max(res["seconds"], 0.1))
        ck.check("many shards: server alive", srv.alive(), "the server died")
        ck.check("many shards: every request answered 2xx", not bad, str(bad))
        # Warm-up: until the cache first holds `cap` shards (or the first 10 s when it never does),
        # + 5 s (a fifth of the loop when it is shorter than 25 s, in --quick).
        w = next((i for i, s in enumerate(samples) if (s["open_shards"] or 0) >= cap), None)
        extra = min(5.0, max_s / 5)
        warm = min(len(samples), (w if w is not None else round(10 / every)) + round(extra / every))
        res["sample_every_s"] = every
        res["cache_full_after_s"] = samples[w]["t"] if w is not None else None
        post = samples[warm:]
        res["warmup_samples"] = warm
        res["samples"] = len(samples)
        res["fds_max"] = max((s["fds"] for s in samples), default=None)
        ck.check("many shards: fds within the budget", res["fds_max"] is not None and res["fds_max"] <= budget,
                 f"max {res['fds_max']} fds, budget {budget}")
        if ck.check("many shards: enough samples after the warm-up", len(post) >= 10,
                    f"{len(post)} samples after a {warm}-sample warm-up"):
            h1, h2 = post[:len(post) // 2], post[len(post) // 2:]
            for key, label, allow in (("rss_kib", "RSS", RSS_ALLOWANCE_KIB), ("fds", "fds", 0)):
                a1, a2 = [s[key] for s in h1], [s[key] for s in h2]
                ratio = max(a2) / max(a1)
                res[f"{key}_halves"] = {"first": [min(a1), sorted(a1)[len(a1) // 2], max(a1)],
                                        "second": [min(a2), sorted(a2)[len(a2) // 2], max(a2)],
                                        "ratio": round(ratio, 3)}
                ck.check(f"many shards: {label} flat", max(a2) <= FLAT * max(a1) + allow,
                         f"max of the second half {max(a2)} = {ratio:.2f}× the first half's {max(a1)} "
                         f"(allowed: {FLAT}×{' + ' + str(allow) if allow else ''})")
        res["series"] = samples
        # Every acknowledged append is in its shard (a sample of the shards).
        pick = rng.sample(sorted(appended), min(500, len(appended)))
        missing = 0
        for s in pick:
            c = ro_connect(d / f"session_{s}.sqlite")
            try:
                have = {row[0] for row in c.execute("SELECT id FROM messages WHERE id LIKE 'ex-%'")}
            finally:
                c.close()
            missing += len(set(appended[s]) - have)
        res["appends_verified_in"] = len(pick)
        ck.check("many shards: acknowledged appends stored", missing == 0, f"{missing} missing in {len(pick)} shards")
        maintenance(srv, n, res, ck)
        t1 = time.monotonic()
        rc = srv.stop(timeout=600)
        res["stop_s"] = round(time.monotonic() - t1, 1)
        ck.check("many shards: graceful stop", rc == 0, f"exit {rc}")
        files = rng.sample(sorted(d.glob("session_*.sqlite")), min(500, n))
        bad_i = {f.name: w for f in files if (w := integrity(f)) != "ok"}
        shared = sorted((root / "main").glob("*.sqlite"))
        bad_i.update({f"main/{f.name}": w for f in shared if (w := integrity(f)) != "ok"})
        res["integrity_checked"] = len(files) + len(shared)
        ck.check("many shards: integrity_check (sample and main/)", not bad_i, str(bad_i)[:300])
        unknown = classify_log(srv.log_problems())[1]
        ck.check("many shards: server log", not unknown, "; ".join(unknown[:5]))
    finally:
        if srv.alive():
            srv.kill9()
        if not keep:
            t1 = time.monotonic()
            shutil.rmtree(root, ignore_errors=True)
            res["delete_s"] = round(time.monotonic() - t1, 1)
    return res


def run(binary: Path, work: Path, seed: int, synchronous: str | None, shards: int, cap: int, min_s: float,
        max_s: float, threads: int, keep: bool) -> dict:
    ck = Checks()
    out: dict = {}
    for name, fn in (("full_shard", lambda: full_shard(binary, work / "full", seed, synchronous, ck)),
                     ("many_shards", lambda: many_shards(binary, work / "many", shards, cap, min_s, max_s, threads,
                                                         seed, synchronous, keep, ck,
                                                         sweep=f"{max(2, round(min_s / 4))}s"))):
        if name == "many_shards" and shards <= 0:
            out[name] = {"skipped": "--shards 0"}
            continue
        log(f"exhaustion: {name}")
        try:
            out[name] = fn()
        except Exception as e:
            import traceback
            traceback.print_exc()
            ck.failures.append(f"{name}: {type(e).__name__}: {e}")
            out.setdefault(name, {})
    out.update({"failures": ck.failures, "known": ck.known, "fixed": ck.fixed, "checks_passed": len(ck.passed),
                "checks": ck.table})
    return out
