"""Part 5 — migration under faults.

Issue #9: "kill `planbase migrate` midway over 10k shards; rerun completes; every file is at
either the old or new version, never between."

1. A session file is made through the server (a session with a few messages), stopped, and
   taken back to session schema 3 with Python's sqlite3 exactly as
   `session_schema_3_message_triggers()` in tests/api/helpers.rs does (the three v3
   `messages_fts_*` triggers, no `state.fts_seq`, the FTS index rebuilt, `user_version = 3`),
   checkpointed and closed (no `-wal`), then copied to N `sessions/session_<uuid4>.sqlite`.
2. A calibration `planbase migrate` on a few copies in a scratch root gives the schema a
   migrated file must have and the time per file.
3. Kill rounds: `planbase migrate` runs on a pseudo-terminal (so it draws its progress bar,
   which says how many files it has done) and gets `kill -9` once it has done a random 10–80%
   of the files still at version 3 (plus a random 0–4 ms). Then every file is read through a
   read-only connection (the check changes nothing): `user_version` is 3 or 4 and the whole
   `sqlite_schema` is exactly the v3 or the v4 one to match (v4 ⇔ `state.fts_seq` exists and
   `messages_fts_ai` mentions it), the messages are the template's, a v4 file's watermark
   covers them, and `PRAGMA integrity_check` is ok (every file in the full run; in --quick a
   sample plus every file with a non-empty `-wal` and the files around the v3/v4 boundary).
4. A rerun completes (exit 0, upgrading exactly the files still at 3); every file is then v4,
   integrity ok, and the FTS5 `integrity-check` (rank 1: the index against the messages) is
   ok on copies of a sample. A second run is a no-op (exit 0, "0 upgraded", no file changed).
5. `planbase migrate` ignores the registry, and the server does not adopt shards by itself
   (an orphan's messages are served, `GET /sessions/{id}` is 404), so `planbase reindex`
   adopts them (timed). Then a server answers a sample of sessions: the row with its
   message count, every message unchanged, the in-session search finds the pre-migration
   text, an append after the migration is indexed too; cross-session search answers; a
   graceful stop, no ERROR logged, and `planbase check` exit 0.
"""

from __future__ import annotations

import os
import pty
import random
import re
import select
import shutil
import signal
import sqlite3
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path

from common import Client, Server, classify_log, log, loud, ro_connect

def session_schema_3() -> str:
    """Undoes session migration 4 (as `session_schema_3_message_triggers` in
    tests/api/helpers.rs does): the three `messages_fts_*` triggers of schemas 1-3, taken from
    the landed migration schema/session/0001_init.sql itself so they cannot drift."""
    init = (Path(__file__).resolve().parents[2] / "schema" / "session" / "0001_init.sql").read_text()
    start = init.index("CREATE TRIGGER messages_fts_ai")
    au = init.index("CREATE TRIGGER messages_fts_au")
    end = init.index("END;", au) + len("END;")
    return ("DROP TRIGGER messages_fts_ai; DROP TRIGGER messages_fts_ad; DROP TRIGGER messages_fts_au;\n"
            "ALTER TABLE state DROP COLUMN fts_seq;\n"
            "INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');\n" + init[start:end])

OLD, NEW = 3, 4
WORD = "heron"  # in some of the template's messages; searched for after the migration
TEXTS = [
    f"the grey {WORD} stands in the reeds before migration",
    "a plain line without the bird, with Unicode: héllo wörld 世界 🚀",
    f"second {WORD}: quotes \"x\", backslash \\ and a tab\t, SQL '; DROP TABLE messages;--",
    " ".join(f"filler{i} lorem ipsum dolor sit amet" for i in range(120)),
    f"last {WORD} of the template, naïve café",
]

BAR = re.compile(rb"(\d+)/(\d+) files")


def sid_of(p: Path) -> str:
    return p.name[len("session_"):-len(".sqlite")]


def schema_of(c: sqlite3.Connection) -> list:
    return c.execute("SELECT type, name, sql FROM sqlite_schema ORDER BY type, name").fetchall()


def messages_of(c: sqlite3.Connection) -> list:
    return c.execute("SELECT seq, id, role, content, parts FROM messages ORDER BY seq").fetchall()


def read_file(p: Path, want_integrity: bool) -> dict:
    """Everything the checks need from one file, through a read-only connection."""
    c = ro_connect(p)
    try:
        uv = c.execute("PRAGMA user_version").fetchone()[0]
        cols = [r[1] for r in c.execute("PRAGMA table_info(state)")]
        ai = (c.execute("SELECT sql FROM sqlite_schema WHERE name = 'messages_fts_ai'").fetchone() or [""])[0]
        out = {"uv": uv, "schema": schema_of(c), "has_col": "fts_seq" in cols, "has_trig": "fts_seq" in (ai or ""),
               "messages": messages_of(c)}
        if out["has_col"]:
            out["fts_seq"], out["max_seq"] = c.execute(
                "SELECT fts_seq, (SELECT coalesce(max(seq), 0) FROM messages) FROM state WHERE id = 1").fetchone()
        if want_integrity:
            rows = [r[0] for r in c.execute("PRAGMA integrity_check").fetchall()]
            out["integrity"] = "ok" if rows == ["ok"] else "; ".join(rows)[:300]
        return out
    finally:
        c.close()


def wal_bytes(p: Path) -> int:
    try:
        return os.path.getsize(f"{p}-wal")
    except OSError:
        return 0


class Migration:
    def __init__(self, binary: Path, work: Path, n_files: int, kills: int, all_integrity: bool, sample: int,
                 seed: int, synchronous: str | None):
        self.binary, self.work = binary, work
        self.n_files, self.kills, self.all_integrity, self.sample = n_files, kills, all_integrity, sample
        self.rng = random.Random(seed * 7919 + 5)
        self.env = {"PLANBASE_STORAGE_SYNCHRONOUS": synchronous} if synchronous else {}
        self.root = work / "db"
        self.srv = Server(binary, self.root, work / "logs", self.env)
        self.failures: list[str] = []
        self.res: dict = {"files": n_files, "rounds": []}

    # -- setup ---------------------------------------------------------------------------

    def make_template(self) -> Path:
        """One session with TEXTS through the server; stopped; taken back to schema 3."""
        self.srv.start()
        cli = Client(self.srv.port)
        r = cli.request("POST", "/api/v1/sessions", {"name": "migration template"})
        if r.status != 201:
            raise RuntimeError(f"POST /sessions -> {r.status} {r.body[:200]!r}")
        self.template_sid = r.json()["id"]
        for i, t in enumerate(TEXTS):
            r = cli.request("POST", f"/api/v1/sessions/{self.template_sid}/messages",
                            {"id": f"pre-{i}", "role": "user", "parts": [{"type": "text", "text": t}]})
            if r.status != 201:
                raise RuntimeError(f"append -> {r.status} {r.body[:200]!r}")
        cli.close()
        rc = self.srv.stop()
        if rc != 0:
            self.failures.append(f"template server: graceful stop exited {rc}")
        src = self.root / "sessions" / f"session_{self.template_sid}.sqlite"
        c = sqlite3.connect(src, isolation_level=None)
        try:
            self.v4_fresh_schema = schema_of(c)
            if c.execute("PRAGMA user_version").fetchone()[0] != NEW:
                raise RuntimeError(f"a new session file is not at schema {NEW}: is this binary older than "
                                   f"schema/session/0004_deferred_fts.sql?")
            c.executescript("BEGIN IMMEDIATE;" + session_schema_3() +
                            f" UPDATE meta SET value = '{OLD}' WHERE key = 'schema_version';"
                            f" PRAGMA user_version = {OLD}; COMMIT;")
            c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.v3_schema = schema_of(c)
            self.template_messages = messages_of(c)
        finally:
            c.close()
        for suffix in ("-wal", "-shm"):
            if Path(f"{src}{suffix}").exists():
                if suffix == "-wal" and os.path.getsize(f"{src}-wal"):
                    raise RuntimeError("the schema-3 template still has WAL frames after checkpoint and close")
                os.remove(f"{src}{suffix}")
        tpl = self.work / "template-v3.sqlite"
        shutil.copyfile(src, tpl)
        return tpl

    def calibrate(self, tpl: Path) -> None:
        """Migrates a few copies in a scratch root: the v4 schema of a migrated file, seconds per file."""
        root = self.work / "calibration"
        (root / "sessions").mkdir(parents=True)
        k = 40
        for _ in range(k):
            shutil.copyfile(tpl, root / "sessions" / f"session_{uuid.uuid4()}.sqlite")
        s = Server(self.binary, root, self.work / "logs", self.env)
        t0 = time.monotonic()
        r = s.cli("migrate", timeout=300)
        dt = time.monotonic() - t0
        if r.returncode != 0:
            raise RuntimeError(f"calibration migrate exited {r.returncode}: {r.stdout[-500:]} {r.stderr[-500:]}")
        f = sorted((root / "sessions").glob("session_*.sqlite"))[0]
        c = ro_connect(f)
        try:
            self.v4_schema = schema_of(c)
        finally:
            c.close()
        self.per_file_s = dt / k
        self.res["v4_schema_equals_fresh_file"] = self.v4_schema == self.v4_fresh_schema
        shutil.rmtree(root, ignore_errors=True)

    def make_copies(self, tpl: Path) -> None:
        need = self.n_files * (tpl.stat().st_size + 40 * 1024) * 1.5
        free = shutil.disk_usage(self.work).free
        if need > free:
            n = max(200, int(free / 1.5 / (tpl.stat().st_size + 40 * 1024)))
            loud(f"MIGRATION: only {free >> 20} MiB free in {self.work}: {n} files instead of {self.n_files}")
            self.n_files = self.res["files"] = n
        t0 = time.monotonic()
        d = self.root / "sessions"
        for _ in range(self.n_files - 1):  # the template's own file is the N-th
            shutil.copyfile(tpl, d / f"session_{uuid.uuid4()}.sqlite")
        self.res["copy_s"] = round(time.monotonic() - t0, 1)
        self.files = sorted(d.glob("session_*.sqlite"), key=lambda p: uuid.UUID(sid_of(p)))  # migrate's order
        self.shared = [p for p in sorted((self.root / "main").glob("*.sqlite"))]
        log(f"migration: {len(self.files)} schema-{OLD} session files ({tpl.stat().st_size} bytes each) in "
            f"{self.res['copy_s']} s; calibration {self.per_file_s * 1000:.1f} ms per file")

    # -- checks --------------------------------------------------------------------------

    def check_all(self, integrity_for: set) -> dict:
        versions, bad_schema, bad_data, bad_integrity, hot = Counter(), [], [], {}, Counter()
        order = []
        for p in self.files:
            has_frames = wal_bytes(p) > 0
            try:
                f = read_file(p, p in integrity_for)
            except sqlite3.Error as e:
                bad_integrity[p.name] = f"cannot read: {e}"
                versions["unreadable"] += 1
                order.append(None)
                continue
            uv = f["uv"]
            versions[uv] += 1
            if has_frames:  # v3: killed while writing the transaction; v4: after its commit, before the checkpoint
                hot[uv] += 1
            order.append(uv)
            if uv == NEW:
                ok = f["has_col"] and f["has_trig"] and f["schema"] == self.v4_schema
            elif uv == OLD:
                ok = not f["has_col"] and not f["has_trig"] and f["schema"] == self.v3_schema
            else:
                ok = False
            if not ok:
                bad_schema.append(f"{p.name}: user_version {uv}, state.fts_seq {f['has_col']}, trigger mentions "
                                  f"fts_seq {f['has_trig']}, schema = v3 {f['schema'] == self.v3_schema}, "
                                  f"= v4 {f['schema'] == self.v4_schema}")
            if f["messages"] != self.template_messages:
                bad_data.append(f"{p.name}: messages differ from the template's")
            elif uv == NEW and f.get("fts_seq") != f.get("max_seq"):
                bad_data.append(f"{p.name}: fts_seq {f.get('fts_seq')} != max(seq) {f.get('max_seq')}")
            if f.get("integrity", "ok") != "ok":
                bad_integrity[p.name] = f["integrity"]
        for p in self.shared:
            try:
                r = read_file_shared(p)
            except sqlite3.Error as e:
                r = f"cannot read: {e}"
            if r != "ok":
                bad_integrity[str(p.relative_to(self.root))] = r
        # Migrate walks the files in UUID order: the upgraded ones should be a prefix.
        first_old = next((i for i, v in enumerate(order) if v != NEW), len(order))
        prefix = all(v == OLD for v in order[first_old:])
        return {"versions": {str(k): v for k, v in sorted(versions.items(), key=str)}, "bad_schema": bad_schema,
                "bad_data": bad_data, "bad_integrity": bad_integrity,
                "hot_wal": {str(k): v for k, v in sorted(hot.items(), key=str)},
                "integrity_checked": len(integrity_for) + len(self.shared), "prefix": prefix,
                "first_old": first_old}

    def integrity_set(self, last: dict | None) -> set:
        if self.all_integrity:
            return set(self.files)
        pick = set(self.rng.sample(self.files, min(self.sample, len(self.files))))
        pick |= {p for p in self.files if wal_bytes(p)}
        if last is not None:  # the files around the v3/v4 boundary: where the kill landed
            i = last["first_old"]
            pick |= set(self.files[max(0, i - 5): i + 5])
        return pick

    # -- the kill rounds -----------------------------------------------------------------

    def migrate_and_kill(self, target_done: int) -> dict:
        """`planbase migrate` on a pty; kill -9 once the bar shows >= target_done files done."""
        master, slave = pty.openpty()
        t0 = time.monotonic()
        p = subprocess.Popen([str(self.binary), "migrate"], env=self.srv.env(), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=slave, start_new_session=True)
        os.close(slave)
        pos = total = None
        killed_at, bar_seen = None, False
        fallback_at = None
        try:
            while True:
                r, _, _ = select.select([master], [], [], 0.02)
                if r:
                    try:
                        data = os.read(master, 65536)
                    except OSError:
                        data = b""
                    ms = BAR.findall(data)
                    if ms:
                        bar_seen = True
                        pos, total = int(ms[-1][0]), int(ms[-1][1])
                elif p.poll() is not None:
                    break
                now = time.monotonic() - t0
                if not bar_seen and fallback_at is None and now > 2.0:
                    # No progress bar (indicatif hid it): kill after a share of the calibrated time.
                    left = max(1, target_done - len(self.shared))
                    fallback_at = 2.0 + left * self.per_file_s * self.rng.uniform(0.5, 1.0)
                    loud("MIGRATION: no progress bar on the pty; killing by the calibrated time instead")
                if (pos is not None and pos >= target_done) or (fallback_at is not None and now >= fallback_at):
                    time.sleep(self.rng.uniform(0, 0.004))
                    if p.poll() is None:
                        os.kill(p.pid, signal.SIGKILL)
                        killed_at = round(time.monotonic() - t0, 3)
                    break
        finally:
            p.wait()
            try:
                while select.select([master], [], [], 0)[0] and os.read(master, 65536):
                    pass
            except OSError:
                pass
            os.close(master)
        out = p.stdout.read().decode(errors="replace") if p.stdout else ""
        return {"killed_after_s": killed_at, "bar_pos": pos, "bar_total": total, "rc": p.returncode,
                "stdout": out.strip()[-300:], "bar_seen": bar_seen}

    def run(self) -> dict:
        tpl = self.make_template()
        self.calibrate(tpl)
        self.make_copies(tpl)
        n = len(self.files)
        self.res["expected_migrate_s"] = round(self.per_file_s * n, 1)
        done = 0
        last = None
        for rnd in range(1, self.kills + 1):
            remaining = n - done
            if remaining < 20:
                break
            frac = self.rng.uniform(0.1, 0.8)
            target = len(self.shared) + done + max(1, int(frac * remaining))
            k = self.migrate_and_kill(target)
            if k["killed_after_s"] is None:
                self.failures.append(f"kill round {rnd}: migrate finished (exit {k['rc']}) before the kill "
                                     f"(bar {k['bar_pos']}/{k['bar_total']}, target {target}): {k['stdout']}")
                break
            chk = self.check_all(self.integrity_set(last))
            done = int(chk["versions"].get(str(NEW), 0))
            row = {"round": rnd, "target_pct": round(100 * frac), "killed_after_s": k["killed_after_s"],
                   "bar": f"{k['bar_pos']}/{k['bar_total']}", "v3": chk["versions"].get(str(OLD), 0),
                   "v4": done, "other": {v: c for v, c in chk["versions"].items() if v not in (str(OLD), str(NEW))},
                   "hot_wal": chk["hot_wal"], "schema_bad": len(chk["bad_schema"]), "data_bad": len(chk["bad_data"]),
                   "integrity_checked": chk["integrity_checked"], "integrity_bad": len(chk["bad_integrity"]),
                   "prefix": chk["prefix"]}
            self.res["rounds"].append(row)
            log(f"migration: kill {rnd} after {k['killed_after_s']} s (bar {row['bar']}): {row['v3']} at v{OLD}, "
                f"{row['v4']} at v{NEW}, other {row['other'] or 0}, with WAL frames {row['hot_wal'] or 0}, schema bad "
                f"{row['schema_bad']}, data bad {row['data_bad']}, integrity {row['integrity_checked']} checked / "
                f"{row['integrity_bad']} bad")
            self.fail_from(f"after kill {rnd}", chk)
            last = chk
            if done == 0 and rnd == 1:
                self.failures.append("kill round 1: no file was upgraded before the kill")

        # Rerun to completion.
        before_old = n - done
        t0 = time.monotonic()
        r = self.srv.cli("migrate", timeout=3600)
        self.res["final_migrate_s"] = round(time.monotonic() - t0, 1)
        self.res["final_stdout"] = r.stdout.strip()
        m = re.search(r"(\d+) files, (\d+) upgraded, (\d+) failed", r.stdout)
        self.res["final_upgraded"] = int(m.group(2)) if m else None
        if r.returncode != 0:
            self.failures.append(f"final migrate exited {r.returncode}: {r.stdout[-300:]} {r.stderr[-300:]}")
        if not m or int(m.group(2)) != before_old or int(m.group(3)) != 0:
            self.failures.append(f"final migrate: expected {before_old} upgraded, 0 failed; said {r.stdout.strip()!r}")
        chk = self.check_all(set(self.files))
        self.res["final"] = {"versions": chk["versions"], "schema_bad": len(chk["bad_schema"]),
                             "data_bad": len(chk["bad_data"]), "integrity_checked": chk["integrity_checked"],
                             "integrity_bad": len(chk["bad_integrity"])}
        self.fail_from("after the rerun", chk)
        if chk["versions"] != {str(NEW): n}:
            self.failures.append(f"after the rerun: versions {chk['versions']}, expected all {n} at {NEW}")
        self.res["fts_integrity"] = self.fts_integrity()

        # A second run is a no-op.
        snap = self.snapshot()
        r = self.srv.cli("migrate", timeout=3600)
        changed = [k for k, v in self.snapshot().items() if snap.get(k) != v]
        self.res["noop"] = {"rc": r.returncode, "stdout": r.stdout.strip(), "files_changed": len(changed)}
        if r.returncode != 0 or not re.search(r" 0 upgraded, 0 failed", r.stdout):
            self.failures.append(f"second migrate is not a no-op: exit {r.returncode}, {r.stdout.strip()!r}")
        if changed:
            self.failures.append(f"second migrate changed {len(changed)} files, e.g. {changed[:3]}")

        self.serve()
        return self.res

    def fail_from(self, when: str, chk: dict) -> None:
        for what in ("bad_schema", "bad_data"):
            for b in chk[what][:5]:
                self.failures.append(f"{when}: {b}")
            if len(chk[what]) > 5:
                self.failures.append(f"{when}: … {len(chk[what]) - 5} more {what}")
        for f, w in list(chk["bad_integrity"].items())[:5]:
            self.failures.append(f"{when}: integrity_check of {f}: {w}")
        if len(chk["bad_integrity"]) > 5:
            self.failures.append(f"{when}: … {len(chk['bad_integrity']) - 5} more integrity failures")

    def fts_integrity(self) -> dict:
        """FTS5 'integrity-check' with rank 1 (index vs. the content table) on writable copies of a sample."""
        d = self.work / "fts-check"
        d.mkdir(exist_ok=True)
        pick = self.rng.sample(self.files, min(self.sample, len(self.files)))
        bad = []
        for p in pick:
            q = d / p.name
            shutil.copyfile(p, q)
            if wal_bytes(p):
                shutil.copyfile(f"{p}-wal", f"{q}-wal")
            c = sqlite3.connect(q, isolation_level=None)
            try:
                c.execute("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)")
                c.execute("INSERT INTO memories_fts(memories_fts, rank) VALUES ('integrity-check', 1)")
            except sqlite3.Error as e:
                bad.append(f"{p.name}: {e}")
            finally:
                c.close()
        shutil.rmtree(d, ignore_errors=True)
        for b in bad[:5]:
            self.failures.append(f"FTS integrity-check: {b}")
        return {"checked": len(pick), "bad": len(bad)}

    def snapshot(self) -> dict:
        out = {}
        for p in self.files + self.shared:
            st = p.stat()
            out[p.name] = (st.st_size, st.st_mtime_ns)
        return out

    # -- after the migration: reindex, then serve ----------------------------------------

    def serve(self) -> None:
        t0 = time.monotonic()
        r = self.srv.cli("reindex", timeout=3600)
        self.res["reindex_s"] = round(time.monotonic() - t0, 1)
        m = re.search(r"(\d+) sessions indexed, (\d+) adopted, (\d+) removed, (\d+) failed", r.stdout)
        self.res["reindex"] = m.group(0) if m else r.stdout.strip()[-200:]
        n = len(self.files)
        if r.returncode != 0 or not m or int(m.group(1)) != n or int(m.group(4)) != 0:
            self.failures.append(f"reindex: exit {r.returncode}, expected {n} sessions indexed, 0 failed: "
                                 f"{r.stdout.strip()[-300:]} {r.stderr[-300:]}")
        log(f"migration: reindex {self.res['reindex_s']} s: {self.res['reindex']}")
        self.srv.start()
        cli = Client(self.srv.port)
        # The template's own file is one of self.files: leave it out of the random part, or a
        # second visit would see the message the first one appended.
        others = [p for p in self.files if sid_of(p) != self.template_sid]
        sample = [self.template_sid] + [sid_of(p) for p in self.rng.sample(others, min(self.sample, len(others)))]
        expect = [{"id": m[1], "seq": m[0], "role": m[2], "content": m[3]} for m in self.template_messages]
        hits = sum(WORD in m[3] for m in self.template_messages)
        problems = []
        appended = 0
        try:
            for i, sid in enumerate(sample):
                r = cli.request("GET", f"/api/v1/sessions/{sid}")
                if r.status != 200 or r.json().get("message_count") != len(expect):
                    problems.append(f"GET /sessions/{sid}: {r.status} {r.body[:150]!r}")
                r = cli.request("GET", f"/api/v1/sessions/{sid}/messages?limit=200")
                got = [{k: m.get(k) for k in ("id", "seq", "role", "content")} for m in (r.json() or {}).get("items", [])]
                if r.status != 200 or got != expect:
                    problems.append(f"GET /sessions/{sid}/messages: {r.status}, {len(got)} items differ from the "
                                    f"template's {len(expect)}")
                r = cli.request("GET", f"/api/v1/sessions/{sid}/search?q={WORD}")
                n_hits = len((r.json() or {}).get("items", [])) if r.status == 200 else None
                if n_hits != hits:
                    problems.append(f"search {WORD!r} in {sid}: {r.status}, {n_hits} hits, expected {hits}")
                if i % 4 == 0:  # a new message after the migration is found too (the v4 triggers)
                    r = cli.request("POST", f"/api/v1/sessions/{sid}/messages",
                                    {"id": "post-1", "role": "user",
                                     "parts": [{"type": "text", "text": f"a {WORD} after the migration"}]})
                    r2 = cli.request("GET", f"/api/v1/sessions/{sid}/search?q={WORD}")
                    n2 = len((r2.json() or {}).get("items", [])) if r2.status == 200 else None
                    if r.status != 201 or n2 != hits + 1:
                        problems.append(f"append + search in {sid}: {r.status}, then {r2.status} with {n2} hits, "
                                        f"expected 201 and {hits + 1}")
                    appended += 1
            deadline = time.monotonic() + 5
            while True:  # cross-session search (fed within ~1 s)
                r = cli.request("GET", f"/api/v1/search?q={WORD}&limit=5")
                if r.status == 200 and len(r.json().get("items", [])) == 5:
                    break
                if time.monotonic() > deadline:
                    problems.append(f"cross-session search: {r.status} {r.body[:200]!r}")
                    break
                time.sleep(0.2)
        finally:
            cli.close()
            rc = self.srv.stop()
        if rc != 0:
            problems.append(f"graceful stop exited {rc}")
        problems += [f"server log: {l}" for l in classify_log(self.srv.log_problems())[1][:10]]
        t0 = time.monotonic()
        r = self.srv.cli("check", timeout=3600)
        self.res["check_s"] = round(time.monotonic() - t0, 1)
        if r.returncode != 0:
            problems.append(f"planbase check exited {r.returncode}: {r.stdout.strip()[-400:]}")
        self.res["served"] = {"sessions_checked": len(sample), "appended_after": appended, "problems": len(problems),
                              "check": r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""}
        self.failures += problems[:30]


def read_file_shared(p: Path) -> str:
    c = ro_connect(p)
    try:
        rows = [r[0] for r in c.execute("PRAGMA integrity_check").fetchall()]
    finally:
        c.close()
    return "ok" if rows == ["ok"] else "; ".join(rows)[:300]


def run(binary: Path, work: Path, n_files: int, kills: int, all_integrity: bool, sample: int, seed: int,
        synchronous: str | None) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    h = Migration(binary, work, n_files, kills, all_integrity, sample, seed, synchronous)
    try:
        res = h.run()
    except Exception as e:  # setup failed: report it as a failure of this part
        import traceback
        h.failures.append(f"{type(e).__name__}: {e}")
        traceback.print_exc()
        res = h.res
        if h.srv.alive():
            h.srv.kill9()
    res["failures"] = h.failures
    res["integrity_mode"] = "every file" if all_integrity else f"sample of {sample} + files with WAL frames + boundary"
    return res
