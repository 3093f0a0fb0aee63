"""The results as markdown tables (printed at the end and written to results.md)."""

from __future__ import annotations


def _row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def markdown(res: dict) -> str:
    L = [f"# Reliability run {res['started']}", "",
         f"binary `{res['binary']}` (built {res.get('binary_built')}, checkout {res.get('commit')}), "
         f"seed {res['seed']}, quick {res['quick']}, synchronous "
         f"{res['synchronous']}, {res.get('seconds')} s, **{'PASSED' if res.get('ok') else 'FAILED'}**", ""]
    p = res["parts"]
    if "crash" in p:
        c = p["crash"]
        L += ["## Crash safety (kill -9)", "",
              _row(["rounds", "writers", "requests", "acknowledged messages", "acknowledged sessions",
                    "in flight at kill", "retried after restart", "lost", "changed", "phantoms",
                    "broken chat turns", "integrity (crash state / final)", "registry stale rounds",
                    "registry catch-up max s", "restart max s", "failures"]),
              _row(["---"] * 16),
              _row([c["rounds"], c["writers"], c["requests"], c["acknowledged_messages"],
                    c["acknowledged_sessions"], c["inflight_at_kill"], c["retried_after_restart"], c["lost"],
                    c["changed"], c["phantoms"], c["broken_turns"],
                    f"{'ok' if not c['crash_integrity_failures'] else str(c['crash_integrity_failures']) + ' bad'}"
                    f" / {c['final_integrity']} ({c['files_checked']} files)",
                    c["registry_stale_rounds"], c["registry_catch_up_max_s"], c["restart_max_s"],
                    len(c["failures"])]), ""]
        L += ["<details><summary>per round</summary>", "",
              _row(["round", "kill after s", "requests", "acked", "in flight", "-wal files",
                    "registry behind at kill (sessions / messages)", "restart s", "registry after restart",
                    "catch-up s", "lost", "search missing"]),
              _row(["---"] * 12)]
        for r in c["rows"]:
            L.append(_row([r["round"], r["kill_after_s"], r["requests"], r["acked_this_round"], r["inflight"],
                           r["wal_files"], f"{r['registry_rows_behind_at_kill']} / {r['messages_behind_at_kill']}",
                           str(r["restart_s"]) + (" (2nd kill in recovery)" if r.get(
                               "killed_during_recovery") else ""), r.get("registry"), r.get("registry_catch_up_s"),
                           r["lost"], r.get("search_missing")]))
        L += ["", "</details>", ""]
    if "contention" in p:
        c = p["contention"]
        L += ["## Contention", "",
              _row(["case", "connections", "seconds", "requests", "req/s", "client p50 ms", "client p99 ms",
                    "client max ms", "server p50 ms", "server p99 ms", "server mean ms", "2xx", "5xx",
                    "storage_busy", "other errors", "stored = acknowledged"]),
              _row(["---"] * 16)]
        for r in c["cases"]:
            L.append(_row([r["case"], r["connections"], r["seconds"], r["requests"], r["rps"], r["p50_ms"],
                           r["p99_ms"], r["max_ms"], r.get("server_p50_ms"), r.get("server_p99_ms"),
                           r.get("server_mean_ms"), r["ok"], r["s5xx"], r["busy"], r["other"],
                           r["stored_matches"]]))
        L += ["", "Client figures are measured by the Python load generator on the same 2 cores (they include "
              "its overhead); server figures come from the server's own `/metrics` histogram of the same "
              "appends (bucket upper bounds)."]
        L.append("")
    if "badinput" in p:
        b = p["badinput"]
        L += ["## Bad input (hand-written)", "",
              f"{b['cases']} cases, {len(b['failures'])} failures, server alive and /health 200 after: "
              f"{b['healthy_after']}, stray files: {b['stray_files'] or 'none'}", ""]
        if b["failures"]:
            L += ["| case | request | got | problem |", "|---|---|---|---|"]
            for f in b["failures"]:
                L.append(_row([f["case"], f["request"], f["got"], f["problem"]]))
            L.append("")
        if b.get("known"):
            L += [f"**KNOWN failures ({len(b['known'])})**, reported, not yet fixed in the server "
                  f"(they fail the run with --strict):", "", "| case | request | got | known cause |", "|---|---|---|---|"]
            for f in b["known"]:
                L.append(_row([f["case"], f["request"], f["got"][:120].replace("|", "\\|"), f["known"]]))
            L.append("")
        if b.get("fixed"):
            L += [f"FIXED since listed as known (remove them from KNOWN in lib/badinput.py): {b['fixed']}", ""]
    if "schemathesis" in p:
        s = p["schemathesis"]
        if s.get("skipped"):
            L += ["## Schemathesis", "", f"**SKIPPED**: {s['skipped']}", ""]
        else:
            L += ["## Schemathesis", "",
                  f"schemathesis {s.get('version')}, {s.get('operations')} operations, max {s.get('max_examples')} "
                  f"examples per operation and phase, checks {s.get('checks')}", "",
                  _row(["pass", "phases", "path ids", "requests", "5xx", "exit", "seconds"]), _row(["---"] * 7)]
            for ps in s.get("passes", []):
                L.append(_row([ps["pass"], ps["phases"], "seeded objects" if ps["fixed_ids"] else "generated",
                               ps["requests"], ps["s5xx"], ps["exit_code"], ps["seconds"]]))
            L += ["", f"4xx bodies not in the standard error shape: {s.get('bad_error_shape')}; "
                  f"unexpected failures: {len(s['failures'])}", ""]
            if s.get("known"):
                L += [f"**KNOWN failures ({len(s['known'])})**, reported, not yet fixed (they fail the run with "
                      f"--strict), by cause:", "", "| known cause | count | e.g. |", "|---|---|---|"]
                groups: dict = {}
                for k in s["known"]:
                    groups.setdefault(k["known"], []).append(f"{k['operation']}: {k['failure'][:90]}")
                for why, items in groups.items():
                    L.append(_row([why, len(items), "; ".join(items[:2]).replace("|", "\\|")]))
                L.append("")
            if s.get("fixed"):
                L += [f"Listed as known but not failing in this run (fixed, or not reached): {s['fixed']}", ""]
    if "exhaustion" in p:
        L += _exhaustion(p["exhaustion"])
    if "migration" in p:
        L += _migration(p["migration"])
    fails = [(name, f) for name, part in p.items() for f in part.get("failures", [])]
    if fails:
        L += ["## Failures", ""]
        for name, f in fails[:200]:
            L.append(f"- {name}: {f if isinstance(f, str) else f.get('case', '') + ': ' + f.get('problem', '')}")
        if len(fails) > 200:
            L.append(f"- … {len(fails) - 200} more in results.json")
        L.append("")
    return "\n".join(L)


def _mib(kib) -> str:
    return "?" if kib is None else f"{kib / 1024:.0f}"


def _exhaustion(e: dict) -> list[str]:
    L = ["## Resource exhaustion", ""]
    f = e.get("full_shard") or {}
    if f:
        L += [f"**Full shard** (`storage.max_shard_bytes` = {f.get('cap')}, then {f.get('resume_cap')}): "
              f"{f.get('acknowledged_before_full')} messages of ~100 KB acknowledged before the first refusal "
              f"({f.get('file_bytes_at_full')} bytes in the file and its WAL), refused with "
              f"{f.get('refused_status')}; in-session search on the full shard: {f.get('search_on_full')}; "
              f"a chat turn that does not fit: {f.get('chat_on_full')}; {f.get('acknowledged_total')} messages "
              f"acknowledged in all, {f.get('storage_full_log_lines')} `storage_full` ERROR lines logged "
              f"(one per 507, expected).", ""]
    m = e.get("many_shards") or {}
    if m.get("skipped"):
        L += [f"**Many shards**: skipped ({m['skipped']})", ""]
    elif m:
        rh, fh = m.get("rss_kib_halves") or {}, m.get("fds_halves") or {}
        L += ["**Many shards**", "",
              _row(["shards", "cap", "copy s", "reindex s", "loop s", "requests", "req/s", "appends", "every shard "
                    "touched", "errors", "fd budget", "fds max", "fds max 1st / 2nd half", "RSS MiB max 1st / 2nd "
                    "half", "stop s", "integrity sample"]),
              _row(["---"] * 16),
              _row([m.get("shards"), m.get("cap"), m.get("copy_s"), m.get("reindex_s"), m.get("seconds"),
                    m.get("requests"), m.get("req_per_s"), m.get("appends"), m.get("covered_all"),
                    m.get("errors") or 0, m.get("fd_budget"), m.get("fds_max"),
                    f"{(fh.get('first') or ['?'] * 3)[2]} / {(fh.get('second') or ['?'] * 3)[2]} (×{fh.get('ratio')})",
                    f"{_mib((rh.get('first') or [None] * 3)[2])} / {_mib((rh.get('second') or [None] * 3)[2])} "
                    f"(×{rh.get('ratio')})", m.get("stop_s"), f"{m.get('integrity_checked')} files"]), ""]
        mt = m.get("maintenance") or []
        L += [f"Idle-WAL sweep every {m.get('wal_sweep_interval')} during the loop. `POST /admin/maintenance` after "
              f"it: " + ("; ".join(f"run {i}: {x['status']} in {x['seconds']} s, checkpointed_shards "
                                   f"{x['checkpointed_shards']}" for i, x in enumerate(mt, 1)) or "not run") + ".", ""]
        series = m.get("series") or []
        if series:
            step = max(1, len(series) // 20)
            L += [f"<details><summary>samples (every {m.get('sample_every_s')} s; warm-up: the first "
                  f"{m.get('warmup_samples')}; the cache was full after {m.get('cache_full_after_s')} s)</summary>",
                  "", _row(["s", "RSS MiB", "fds", "open shards", "live handles", "touches"]), _row(["---"] * 6)]
            for x in series[::step] + ([series[-1]] if (len(series) - 1) % step else []):
                L.append(_row([x["t"], _mib(x["rss_kib"]), x["fds"], x["open_shards"], x["live_handles"],
                               x["touched"]]))
            L += ["", "</details>", ""]
    if e.get("checks"):
        L += ["<details><summary>checks</summary>", "", "| check | result | detail |", "|---|---|---|"]
        for c in e["checks"]:
            L.append(_row([c["check"], c["result"], c["detail"].replace("|", "\\|")]))
        L += ["", "</details>", ""]
    if e.get("known"):
        L += [f"**KNOWN failures ({len(e['known'])})**, reported, not yet fixed (they fail the run with --strict):",
              "", "| check | got | known cause |", "|---|---|---|"]
        for k in e["known"]:
            L.append(_row([k["case"], k["got"][:160].replace("|", "\\|"), k["known"]]))
        L.append("")
    if e.get("fixed"):
        L += [f"FIXED since listed as known (remove them from KNOWN in lib/exhaustion.py): {e['fixed']}", ""]
    return L


def _migration(m: dict) -> list[str]:
    L = ["## Migration under faults (kill -9 of `planbase migrate`)", "",
         f"{m.get('files')} session files at schema 3 (copied in {m.get('copy_s')} s; calibrated "
         f"~{m.get('expected_migrate_s')} s for a whole run); integrity_check after each kill: "
         f"{m.get('integrity_mode')}.", "",
         _row(["kill", "target (% of the v3 files)", "killed after s", "progress bar", "at v3", "at v4", "other",
               "WAL frames left (by version)", "schema / data not matching the version", "integrity checked / bad",
               "v4 files a prefix of migrate's order"]),
         _row(["---"] * 11)]
    for r in m.get("rounds", []):
        L.append(_row([r["round"], f"{r['target_pct']}%", r["killed_after_s"], r["bar"], r["v3"], r["v4"],
                       r["other"] or 0, ", ".join(f"v{k}: {v}" for k, v in r["hot_wal"].items()) or "none",
                       f"{r['schema_bad']} / {r['data_bad']}", f"{r['integrity_checked']} / {r['integrity_bad']}",
                       r["prefix"]]))
    fin = m.get("final") or {}
    noop = m.get("noop") or {}
    served = m.get("served") or {}
    fts = m.get("fts_integrity") or {}
    L += ["", _row(["rerun", "upgraded", "versions after", "schema / data bad", "integrity checked / bad",
                    "FTS integrity-check", "second run", "reindex", "served (sessions, problems)", "planbase check"]),
          _row(["---"] * 10),
          _row([f"{m.get('final_migrate_s')} s", m.get("final_upgraded"), fin.get("versions"),
                f"{fin.get('schema_bad')} / {fin.get('data_bad')}",
                f"{fin.get('integrity_checked')} / {fin.get('integrity_bad')}",
                f"{fts.get('checked')} files, {fts.get('bad')} bad",
                f"exit {noop.get('rc')}, {noop.get('files_changed')} files changed ({noop.get('stdout')})",
                f"{m.get('reindex_s')} s ({m.get('reindex')})",
                f"{served.get('sessions_checked')}, {served.get('problems')}",
                f"{served.get('check')} ({m.get('check_s')} s)"]), ""]
    return L
