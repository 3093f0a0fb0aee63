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
    fails = [(name, f) for name, part in p.items() for f in part.get("failures", [])]
    if fails:
        L += ["## Failures", ""]
        for name, f in fails[:200]:
            L.append(f"- {name}: {f if isinstance(f, str) else f.get('case', '') + ': ' + f.get('problem', '')}")
        if len(fails) > 200:
            L.append(f"- … {len(fails) - 200} more in results.json")
        L.append("")
    return "\n".join(L)
