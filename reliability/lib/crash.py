"""Part 1 — crash safety.

One DB_ROOT for all rounds. Each round: many client threads append messages (plus a few
chat turns, re-sends and session creates) and record every acknowledged (2xx) write; the
server is `kill -9`ed at a random moment; the crash-state files are integrity-checked
read-only; the server restarts on the same root; then every acknowledged write so far is
checked (present, same seq, same parts), nothing unknown appeared, chat turns are whole, and
the registry summaries catch up (polled) or are repaired by `planbase reindex`. Requests that
were in flight at the kill are retried with their client id and must then succeed. At the
end: a graceful stop, integrity_check of every file, `planbase check`, registry rows read
directly, and `planbase reindex` must change nothing.
"""

from __future__ import annotations

import json as _j
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from common import (Client, Server, classify_log, db_files, integrity_all, log, quarantined, ro_connect)

WORDS = ["alpha", "beta", "gamma", "delta", "héllo", "wörld", "世界", "Привет", "🚀", "naïve", "x\ty", "quote\"d",
         "back\\slash", "line\nbreak", "ø", "סלאם", "日本語テキスト", "emoji👩‍💻", "<b>tag</b>", "'; DROP TABLE x;--"]


def make_text(rng: random.Random, token: str) -> str:
    n = rng.choice([3, 5, 8, 12, 20, 40]) if rng.random() < 0.95 else rng.randint(300, 2500)
    return token + " " + " ".join(rng.choice(WORDS) for _ in range(n))


def text_parts(text: str) -> list:
    return [{"type": "text", "text": text}]


@dataclass
class Attempt:
    token: str
    sid: str
    text: str
    client_id: str | None
    idem: str | None
    kind: str  # "msg" | "chat"


@dataclass
class Acked:
    sid: str
    id: str
    seq: int
    text: str
    role: str = "user"


@dataclass
class Stats:
    requests: int = 0
    acked: int = 0
    resends: int = 0
    chats: int = 0
    chat_conflicts: int = 0
    unexpected: list = field(default_factory=list)  # (status, code, what)
    transport_errors: int = 0
    inflight: int = 0


class Load:
    """The client side of one round: writer threads until the kill."""

    def __init__(self, h: "CrashHarness", rnd: int):
        self.h, self.rnd = h, rnd
        self.killed = threading.Event()
        self.stop = threading.Event()
        self.stats = Stats()
        self.lock = threading.Lock()
        self.inflight: list[Attempt] = []

    def writer(self, w: int):
        h = self.h
        rng = random.Random(h.seed * 1000003 + self.rnd * 1009 + w)
        cli = Client(h.server.port, timeout=30)
        n = 0
        while not self.stop.is_set():
            n += 1
            token = f"r{self.rnd}w{w}n{n}"
            r = rng.random()
            with h.lock:
                msg_sids = [s for s, k in h.sessions.items() if k == "msg"]
                chat_sids = [s for s, k in h.sessions.items() if k == "chat"]
                old = rng.choice(h.acked_list) if (h.acked_list and r < 0.08) else None
            try:
                if old is not None:
                    self._resend(cli, old)
                elif r < 0.13 and chat_sids:
                    self._chat(cli, rng.choice(chat_sids), token, rng)
                else:
                    self._append(cli, rng.choice(msg_sids), token, rng, no_id=(r > 0.92))
            except _InFlight as e:
                with self.lock:
                    if self.killed.is_set():
                        self.stats.inflight += 1
                        if e.attempt is not None:
                            self.inflight.append(e.attempt)
                        return
                    self.stats.transport_errors += 1
                    self.stats.unexpected.append((0, "transport", repr(e.cause)[:200]))
                    time.sleep(0.05)
        cli.close()

    def _post(self, cli: Client, path: str, body, headers=None, attempt=None):
        with self.lock:
            self.stats.requests += 1
        try:
            return cli.request("POST", path, body, headers)
        except Exception as e:  # transport: the server died (or something worse)
            raise _InFlight(attempt, e)

    def _note_bad(self, resp, what):
        with self.lock:
            self.stats.unexpected.append((resp.status, resp.error_code(), what))

    def _append(self, cli, sid, token, rng, no_id=False):
        h = self.h
        text = make_text(rng, token)
        cid = None if no_id else f"m-{token}"
        idem = f"k-{token}" if (not no_id and rng.random() < 0.2) else None
        att = Attempt(token, sid, text, cid, idem, "msg")
        with h.lock:
            h.sent[token] = att
        body = {"role": "user", "parts": text_parts(text)}
        if cid:
            body["id"] = cid
        resp = self._post(cli, f"/api/v1/sessions/{sid}/messages", body,
                          {"idempotency-key": idem} if idem else None, att)
        if resp.status != 201:
            self._note_bad(resp, f"append {token}")
            return
        m = resp.json()
        if cid and m.get("id") != cid:
            self._note_bad(resp, f"append {token}: id {m.get('id')!r} is not the client's {cid!r}")
        h.record(Acked(sid, m["id"], m["seq"], text), resendable=True)
        with self.lock:
            self.stats.acked += 1

    def _resend(self, cli, old: Acked):
        """Re-sending an acknowledged message is a no-op that returns the stored message."""
        resp = self._post(cli, f"/api/v1/sessions/{old.sid}/messages",
                          {"id": old.id, "role": "user", "parts": text_parts(old.text)})
        m = resp.json() or {}
        if resp.status != 200 or m.get("seq") != old.seq or m.get("parts") != text_parts(old.text):
            self._note_bad(resp, f"re-send of {old.id}: {resp.body[:200]!r}")
            return
        with self.lock:
            self.stats.resends += 1

    def _chat(self, cli, sid, token, rng):
        h = self.h
        text = make_text(rng, token)
        cid = f"c-{token}"
        att = Attempt(token, sid, text, cid, None, "chat")
        with h.lock:
            h.sent[token] = att
        resp = self._post(cli, f"/api/v1/sessions/{sid}/chat",
                          {"message": {"id": cid, "role": "user", "parts": text_parts(text)}}, None, att)
        if resp.status == 409 and ((resp.json() or {}).get("error") or {}).get("retryable"):
            with self.lock:  # two turns of one session raced: the loser is refused whole (by design)
                self.stats.chat_conflicts += 1
            return
        if resp.status != 200:
            self._note_bad(resp, f"chat {token}")
            return
        j = resp.json()
        um, am = j["user_message"], j["messages"][0]
        h.record(Acked(sid, um["id"], um["seq"], text))
        h.record(Acked(sid, am["id"], am["seq"], am["parts"][0]["text"], role="assistant"), parts=am["parts"])
        with self.lock:
            self.stats.acked += 2
            self.stats.chats += 1

    def creator(self):
        """Creates a few sessions during the load; acknowledged ones must survive the crash."""
        h = self.h
        cli = Client(h.server.port, timeout=30)
        i = 0
        while not self.stop.is_set():
            i += 1
            try:
                with self.lock:
                    self.stats.requests += 1
                resp = cli.request("POST", "/api/v1/sessions", {"name": f"crash r{self.rnd} #{i}"})
            except Exception:
                return
            if resp.status == 201:
                with h.lock:
                    h.sessions[resp.json()["id"]] = "msg"
            else:
                self._note_bad(resp, "create session")
            self.stop.wait(0.25)


class _InFlight(Exception):
    def __init__(self, attempt, cause):
        self.attempt, self.cause = attempt, cause


class CrashHarness:
    def __init__(self, binary: Path, workdir: Path, rounds: int, writers: int, seed: int, kill_window,
                 registry_wait: float, synchronous: str | None):
        self.binary, self.workdir, self.rounds, self.writers, self.seed = binary, workdir, rounds, writers, seed
        self.kill_window, self.registry_wait = kill_window, registry_wait
        self.root = workdir / "db"
        env = {"PLANBASE_STORAGE_SYNCHRONOUS": synchronous} if synchronous else {}
        self.server = Server(binary, self.root, workdir / "logs", env)
        self.lock = threading.Lock()
        self.sessions: dict[str, str] = {}  # acknowledged sessions -> "msg" | "chat"
        self.sent: dict[str, Attempt] = {}  # token -> every attempt ever sent
        self.acked: dict[tuple, Acked] = {}  # (sid, message id) -> acknowledged message
        self.acked_list: list[Acked] = []  # user messages that may be re-sent
        self.acked_parts: dict[tuple, list] = {}
        self.rows = []  # per-round results
        self.failures: list[str] = []
        self.rng = random.Random(seed)

    def record(self, a: Acked, parts=None, resendable=False):
        with self.lock:
            key = (a.sid, a.id)
            prev = self.acked.get(key)
            if prev is not None and (prev.seq != a.seq or prev.text != a.text):
                self.failures.append(f"message {a.id} acknowledged twice differently: {prev} / {a}")
            self.acked[key] = a
            self.acked_parts[key] = parts if parts is not None else text_parts(a.text)
            if resendable and prev is None:
                self.acked_list.append(a)

    def fail(self, rnd, msg: str):
        log(f"  FAIL (round {rnd}): {msg}")
        self.failures.append(f"round {rnd}: {msg}")

    # -------------------------------------------------------------------------------------

    def run(self) -> dict:
        log(f"crash: {self.rounds} rounds, {self.writers} writers, DB_ROOT {self.root}, binary {self.binary}")
        self.server.start()
        cli = Client(self.server.port)
        for i in range(6):
            self.sessions[cli.request("POST", "/api/v1/sessions", {"name": f"msg {i}"}).json()["id"]] = "msg"
        for i in range(2):
            self.sessions[cli.request("POST", "/api/v1/sessions", {"name": f"chat {i}"}).json()["id"]] = "chat"
        cli.close()
        for rnd in range(1, self.rounds + 1):
            self.round(rnd)
        return self.finish()

    def round(self, rnd: int):
        row = {"round": rnd}
        load = Load(self, rnd)
        threads = [threading.Thread(target=load.writer, args=(w,), daemon=True) for w in range(self.writers)]
        threads.append(threading.Thread(target=load.creator, daemon=True))
        before = len(self.acked)
        for t in threads:
            t.start()
        delay = self.rng.uniform(*self.kill_window)
        time.sleep(delay)
        load.killed.set()
        self.server.kill9()
        load.stop.set()
        for t in threads:
            t.join(60)
        row.update(kill_after_s=round(delay, 2), requests=load.stats.requests, chats=load.stats.chats,
                   chat_conflicts=load.stats.chat_conflicts, resends=load.stats.resends,
                   acked_this_round=len(self.acked) - before, inflight=load.stats.inflight)
        for st, code, what in load.stats.unexpected:
            self.fail(rnd, f"unexpected answer {st} {code} to {what}")

        # The crash state, read-only (a read-only connection never checkpoints or removes a -wal).
        bad = integrity_all(self.root)
        row["wal_files"] = len(list(self.root.rglob("*.sqlite-wal")))
        row["crash_integrity"] = "ok" if not bad else bad
        for f, why in bad.items():
            self.fail(rnd, f"integrity_check of {f} after kill -9: {why}")
        # A second opinion with the server's own SQLite (read-only too: the -wal files stay).
        p = self.server.cli("check", timeout=300)
        row["planbase_check"] = "ok" if p.returncode == 0 else "FAILED"
        if p.returncode != 0:
            self.fail(rnd, f"planbase check after kill -9 exited {p.returncode}: {(p.stdout + p.stderr)[-600:]}")
        if len(list(self.root.rglob("*.sqlite-wal"))) != row["wal_files"]:
            row["planbase_check"] += " (it removed -wal files)"
        # How far the registry file lagged the shards at the crash: the work recovery has to do.
        at_kill = {sid: len(rows) for sid, rows in self.shard_rows().items()}
        reg = self.registry_file_counts()
        row["registry_rows_behind_at_kill"] = sum(1 for sid, n in at_kill.items() if reg.get(sid, -1) < n)
        row["messages_behind_at_kill"] = sum(max(0, n - (reg.get(sid) or 0)) for sid, n in at_kill.items())

        # Every 4th round also kills the restarting server during its recovery, then restarts again.
        if rnd % 4 == 0:
            self.server.spawn()
            time.sleep(self.rng.uniform(0.0, 0.3))
            self.server.kill9()
            row["killed_during_recovery"] = True
        row["restart_s"] = round(self.server.start(), 3)

        self.verify(rnd, row)
        self.retry_inflight(rnd, load.inflight, row)
        row["acked_total"] = len(self.acked)
        row["failures"] = len(self.failures)
        self.rows.append(row)
        log(f"round {rnd:2}: kill after {delay:.2f}s, {row['acked_this_round']} acked, {row['inflight']} in flight, "
            f"{row['wal_files']} -wal, registry behind by {row['messages_behind_at_kill']} msgs, restart {row['restart_s']}s, registry {row.get('registry')}, "
            f"lost {row['lost']}, failures so far {len(self.failures)}")

    # -------------------------------------------------------------------------------------

    def shard_rows(self) -> dict[str, list]:
        """{session id: [(seq, id, role, content, parts)]} read directly from the files."""
        out = {}
        for p in sorted((self.root / "sessions").glob("session_*.sqlite")):
            sid = p.name[len("session_"):-len(".sqlite")]
            c = ro_connect(p)
            try:
                out[sid] = c.execute("SELECT seq, id, role, content, parts FROM messages ORDER BY seq").fetchall()
            finally:
                c.close()
        return out

    def registry_list(self, cli: Client) -> dict[str, dict]:
        rows, cursor = {}, None
        while True:
            q = "/api/v1/sessions?limit=200" + (f"&cursor={cursor}" if cursor else "")
            r = cli.request("GET", q)
            if r.status != 200:
                raise RuntimeError(f"GET {q} -> {r.status} {r.body[:200]!r}")
            j = r.json()
            for s in j["items"]:
                rows[s["id"]] = s
            cursor = j.get("next_cursor")
            if not cursor:
                return rows

    def api_messages(self, cli: Client, sid: str) -> list:
        out, after = [], 0
        while True:
            r = cli.request("GET", f"/api/v1/sessions/{sid}/messages?after={after}&limit=200")
            if r.status != 200:
                raise RuntimeError(f"GET messages of {sid} -> {r.status} {r.body[:200]!r}")
            j = r.json()
            out += j["items"]
            if not j.get("next_cursor") or not j["items"]:
                return out
            after = j["next_cursor"]

    def verify(self, rnd: int, row: dict):
        cli = Client(self.server.port)
        shards = self.shard_rows()
        counts = {sid: len(rows) for sid, rows in shards.items()}

        # 1. Acknowledged sessions exist; unacknowledged creates may have left an orphan shard.
        for sid in self.sessions:
            if sid not in shards:
                self.fail(rnd, f"acknowledged session {sid} has no shard file")

        # 2. The registry (list: registry rows + pending overlay, no recount) catches up.
        t0 = time.monotonic()
        while True:
            reg = self.registry_list(cli)
            stale = {sid: (reg.get(sid, {}).get("message_count"), counts[sid]) for sid in self.sessions
                     if sid in counts and reg.get(sid, {}).get("message_count") != counts[sid]}
            if not stale or time.monotonic() - t0 > self.registry_wait:
                break
            time.sleep(0.1)
        row["registry_catch_up_s"] = round(time.monotonic() - t0, 2)
        orphans = [sid for sid in shards if sid not in reg]
        row["orphan_shards"] = len(orphans)
        for sid in orphans:
            if sid in self.sessions:
                self.fail(rnd, f"acknowledged session {sid} is missing from GET /sessions")
        if stale:
            row["registry"] = f"stale after {self.registry_wait}s: {len(stale)} sessions"
            self.fail(rnd, f"registry stale after {self.registry_wait}s (list count, shard count): "
                           f"{dict(list(stale.items())[:5])}")
            self.repair_with_reindex(rnd, row, counts)
            cli.close()
            cli = Client(self.server.port)
        else:
            row["registry"] = "ok"

        # 3. Every acknowledged message is present and intact, via the files and via the API.
        lost = corrupt = 0
        by_sid: dict[str, dict] = {sid: {r[1]: r for r in rows} for sid, rows in shards.items()}
        for (sid, mid), a in list(self.acked.items()):
            r = by_sid.get(sid, {}).get(mid)
            if r is None:
                lost += 1
                self.fail(rnd, f"LOST acknowledged message {mid} (seq {a.seq}) of session {sid}")
                continue
            seq, _id, role, content, parts = r
            if seq != a.seq or role != a.role or _j.loads(parts) != self.acked_parts[(sid, mid)] \
                    or (a.role == "user" and content != a.text):
                corrupt += 1
                self.fail(rnd, f"acknowledged message {mid} changed: seq {seq} vs {a.seq}, role {role}, "
                               f"content {content[:60]!r} vs {a.text[:60]!r}")
        row["lost"], row["changed"] = lost, corrupt

        # 4. Nothing unknown appeared; chat turns are whole (user message directly followed by
        #    its assistant message, the pair in one transaction).
        phantoms = broken_turns = 0
        for sid, rows in shards.items():
            for i, (seq, mid, role, content, parts) in enumerate(rows):
                if role == "user":
                    tok = (content or "").split(" ", 1)[0]
                    att = self.sent.get(tok)
                    if att is None or att.sid != sid or att.text != content:
                        phantoms += 1
                        self.fail(rnd, f"unknown or altered message {mid} seq {seq} in {sid}: {content[:80]!r}")
                    elif att.kind == "chat":
                        nxt = rows[i + 1] if i + 1 < len(rows) else None
                        if nxt is None or nxt[2] != "assistant" or nxt[0] != seq + 1:
                            broken_turns += 1
                            self.fail(rnd, f"chat turn {mid} in {sid} has no assistant message right after it")
                elif role == "assistant":
                    prev = rows[i - 1] if i else None
                    if prev is None or prev[2] != "user" or prev[0] != seq - 1:
                        broken_turns += 1
                        self.fail(rnd, f"assistant message {mid} in {sid} does not follow its user message")
            seqs = [r[0] for r in rows]
            if seqs != list(range(1, len(seqs) + 1)):
                self.fail(rnd, f"seqs of {sid} are not 1..n: {seqs[:10]}…")
        row["phantoms"], row["broken_turns"] = phantoms, broken_turns

        # 5. The API serves the same history as the files, and GET /sessions/{id} the same count.
        api_mismatch = 0
        for sid in self.sessions:
            items = self.api_messages(cli, sid)
            got = [(m["seq"], m["id"], m["role"], m["parts"]) for m in items]
            want = [(r[0], r[1], r[2], _j.loads(r[4])) for r in shards.get(sid, [])]
            if got != want:
                api_mismatch += 1
                self.fail(rnd, f"GET messages of {sid} differs from its file ({len(got)} vs {len(want)} messages)")
            r = cli.request("GET", f"/api/v1/sessions/{sid}")
            mc = (r.json() or {}).get("message_count")
            if r.status != 200 or mc != counts.get(sid):
                self.fail(rnd, f"GET /sessions/{sid}: {r.status}, message_count {mc} vs {counts.get(sid)} in the file")
        row["api_mismatch"] = api_mismatch

        # 6. Cross-session search caught up (a sample of acknowledged tokens; at most ~1 s behind).
        sample = self.rng.sample(list(self.acked.values()), min(10, len(self.acked)))
        missing = []
        t0 = time.monotonic()
        for a in [a for a in sample if a.role == "user"]:
            tok = a.text.split(" ", 1)[0]
            while True:
                r = cli.request("GET", f"/api/v1/search?q={tok}&limit=5")
                hit = r.status == 200 and any(it.get("session_id") == a.sid and it.get("seq") == a.seq
                                              for it in (r.json() or {}).get("items", []))
                if hit or time.monotonic() - t0 > 5:
                    break
                time.sleep(0.1)
            if not hit:
                missing.append(tok)
        row["search_missing"] = len(missing)
        if missing:
            self.fail(rnd, f"cross-session search misses acknowledged messages after 5 s: {missing[:5]}")
        row["quarantined"] = len(quarantined(self.root))
        if row["quarantined"]:
            self.fail(rnd, f"files were quarantined: {quarantined(self.root)}")
        cli.close()

    def repair_with_reindex(self, rnd, row, counts):
        """Stops the server, runs `planbase reindex`, reads the registry directly, restarts."""
        rc = self.server.stop()
        if rc != 0:
            self.fail(rnd, f"graceful stop exited {rc}")
        p = self.server.cli("reindex")
        if p.returncode != 0:
            self.fail(rnd, f"planbase reindex exited {p.returncode}: {p.stderr[-500:]}")
        reg = self.registry_file_counts()
        still = {s: (reg.get(s), counts[s]) for s in counts if reg.get(s) != counts[s]}
        row["registry"] += "; reindex " + ("repaired it" if not still else f"did NOT repair {len(still)}")
        if still:
            self.fail(rnd, f"registry still wrong after reindex: {dict(list(still.items())[:5])}")
        self.server.start()

    def registry_file_counts(self) -> dict[str, int]:
        c = ro_connect(self.root / "main" / "registry.sqlite")
        try:
            return dict(c.execute("SELECT id, message_count FROM sessions").fetchall())
        finally:
            c.close()

    def retry_inflight(self, rnd, inflight: list[Attempt], row):
        """A client whose request died with the server retries it; with a client id (or an
        Idempotency-Key) that retry must succeed and leave exactly one message."""
        cli = Client(self.server.port)
        done = skipped = 0
        for att in inflight:
            if att.client_id is None:
                skipped += 1  # no id, no key: a retry would be a second message (by design)
                continue
            if att.kind == "chat":
                skipped += 1  # a chat retry runs a new turn; the pair check covers the lost one
                continue
            hdr = {"idempotency-key": att.idem} if att.idem else None
            r = cli.request("POST", f"/api/v1/sessions/{att.sid}/messages",
                            {"id": att.client_id, "role": "user", "parts": text_parts(att.text)}, hdr)
            if r.status not in (200, 201):
                self.fail(rnd, f"retry of in-flight {att.client_id} -> {r.status} {r.body[:200]!r}")
                continue
            m = r.json()
            if m.get("id") != att.client_id or m.get("parts") != text_parts(att.text):
                self.fail(rnd, f"retry of in-flight {att.client_id} answered another message: {r.body[:200]!r}")
                continue
            self.record(Acked(att.sid, m["id"], m["seq"], att.text), resendable=True)
            done += 1
        row["retried"] = done
        cli.close()

    # -------------------------------------------------------------------------------------

    def finish(self) -> dict:
        log("crash: final graceful stop and offline checks")
        rc = self.server.stop()
        if rc != 0:
            self.fail("final", f"graceful stop (SIGTERM) exited {rc}")
        bad = integrity_all(self.root)
        for f, why in bad.items():
            self.fail("final", f"integrity_check of {f}: {why}")
        files = len(db_files(self.root))
        p = self.server.cli("check")
        if p.returncode != 0:
            self.fail("final", f"planbase check exited {p.returncode}: {(p.stdout + p.stderr)[-800:]}")
        shards = self.shard_rows()
        counts = {sid: len(r) for sid, r in shards.items()}
        reg = self.registry_file_counts()
        wrong = {s: (reg.get(s), counts[s]) for s in counts if s in reg and reg[s] != counts[s]}
        orphans = [s for s in counts if s not in reg]
        if wrong:
            self.fail("final", f"registry file after a clean stop disagrees with the shards: {dict(list(wrong.items())[:5])}")
        # reindex must agree with what the server kept (and adopt orphan shards of unacknowledged creates).
        p = self.server.cli("reindex")
        if p.returncode != 0:
            self.fail("final", f"planbase reindex exited {p.returncode}: {p.stderr[-500:]}")
        reg2 = self.registry_file_counts()
        wrong2 = {s: (reg2.get(s), counts[s]) for s in counts if reg2.get(s) != counts[s]}
        if wrong2:
            self.fail("final", f"registry after reindex disagrees with the shards: {dict(list(wrong2.items())[:5])}")
        bad2 = integrity_all(self.root)
        for f, why in bad2.items():
            self.fail("final", f"integrity_check of {f} after reindex: {why}")
        problems = classify_log(self.server.log_problems())[1]
        for line in problems[:20]:
            self.fail("final", f"server log: {line}")
        lost = sum(r["lost"] for r in self.rows)
        summary = {
            "rounds": len(self.rows), "writers": self.writers,
            "acknowledged_messages": len(self.acked),
            "acknowledged_sessions": len(self.sessions),
            "requests": sum(r["requests"] for r in self.rows),
            "inflight_at_kill": sum(r["inflight"] for r in self.rows),
            "chat_turns": sum(r["chats"] for r in self.rows),
            "chat_conflicts_409": sum(r["chat_conflicts"] for r in self.rows),
            "resends": sum(r["resends"] for r in self.rows),
            "retried_after_restart": sum(r.get("retried", 0) for r in self.rows),
            "lost": lost, "changed": sum(r["changed"] for r in self.rows),
            "phantoms": sum(r["phantoms"] for r in self.rows),
            "broken_turns": sum(r["broken_turns"] for r in self.rows),
            "crash_integrity_failures": sum(1 for r in self.rows if r["crash_integrity"] != "ok"
                                            or r.get("planbase_check") != "ok"),
            "final_integrity": "ok" if not bad and not bad2 else "FAILED",
            "files_checked": files,
            "registry_stale_rounds": sum(1 for r in self.rows if r.get("registry") != "ok"),
            "registry_messages_behind_at_kill": sum(r["messages_behind_at_kill"] for r in self.rows),
            "registry_catch_up_max_s": max((r["registry_catch_up_s"] for r in self.rows), default=0),
            "orphan_shards_adopted_by_reindex": len(orphans),
            "restart_max_s": max((r["restart_s"] for r in self.rows), default=0),
            "failures": self.failures,
            "rows": self.rows,
        }
        log(f"crash: {summary['rounds']} rounds, {summary['acknowledged_messages']} acknowledged messages, "
            f"lost {lost}, failures {len(self.failures)}")
        return summary
