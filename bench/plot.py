#!/usr/bin/env python3
"""Scaling curves of one bench/run as PNGs (matplotlib, no display needed).

    plot.py OUT_DIR DEST_DIR

Reads OUT_DIR/results.jsonl and writes into DEST_DIR (bench/):
  scaling_sessions.png  appends/s and p99 vs number of sessions (log x)
  scaling_cap.png       appends/s and p99 vs storage.max_open_shards (log x)
  scaling_history.png   newest-50 and middle-page p50/p99 latency vs session length (log x)
A plot whose rows were not run is skipped.
"""

import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

out_dir, dest = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(os.path.join(out_dir, "results.jsonl")) if l.strip()]
meta = json.load(open(os.path.join(out_dir, "meta.json")))
subtitle = f"{meta.get('date', '')[:10]}, commit {meta.get('commit')}, {meta.get('duration_s')} s per point" + (
    " (quick run)" if meta.get("quick") == 1 else "")


def rate_and_p99(table, xkey, xlabel, title, fname):
    pts = sorted(((float(r[xkey]), r) for r in rows if r.get("table") == table), key=lambda p: p[0])
    if not pts:
        return
    xs = [p[0] for p in pts]
    fig, ax1 = plt.subplots(figsize=(7, 4.2), dpi=110)
    ax1.plot(xs, [p[1]["rps"] for p in pts], "o-", color="tab:blue", label="appends/s")
    ax1.set_xscale("log")
    ax1.set_xlabel(xlabel)
    ax1.set_ylabel("appends/s", color="tab:blue")
    ax1.set_ylim(bottom=0)
    ax1.set_xticks(xs)
    ax1.set_xticklabels([f"{int(x):,}" for x in xs])
    ax1.minorticks_off()
    ax2 = ax1.twinx()
    ax2.plot(xs, [p[1]["p99_ms"] for p in pts], "s--", color="tab:red", label="p99 ms")
    ax2.set_ylabel("p99 latency, ms", color="tab:red")
    ax2.set_ylim(bottom=0)
    for x, (_, r) in zip(xs, pts):
        if r.get("non2xx") or r.get("socket_errors"):
            ax1.annotate("errors!", (x, r["rps"]), color="red")
    fig.suptitle(title)
    ax1.set_title(subtitle, fontsize=8)
    ax1.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(dest, fname))
    plt.close(fig)
    print(f"wrote {os.path.join(dest, fname)}")


rate_and_p99("scale_sessions", "sessions", "sessions appended to (random per request)",
             "Planbase appends vs number of sessions (64 conns, cap 1024)", "scaling_sessions.png")
rate_and_p99("scale_cap", "cap", "storage.max_open_shards",
             "Planbase appends over 1,000 sessions vs max_open_shards (64 conns)", "scaling_cap.png")

hist = [r for r in rows if r.get("table") == "scale_history"]
if hist:
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    ax.set_xscale("log")
    for kind, label, color in (("scale-history", "newest 50", "tab:blue"),
                               ("scale-history-mid", "50 before the middle seq", "tab:green")):
        pts = sorted((float(r["history"]), r) for r in hist if r["kind"] == kind)
        if not pts:
            continue
        xs = [p[0] for p in pts]
        ax.plot(xs, [p[1]["p50_ms"] for p in pts], "o-", color=color, label=f"{label}: p50")
        ax.plot(xs, [p[1]["p99_ms"] for p in pts], "s--", color=color, label=f"{label}: p99")
        ax.set_xticks(xs)
        ax.set_xticklabels([f"{int(x):,}" for x in xs])
    ax.minorticks_off()
    ax.set_xlabel("messages in the session")
    ax.set_ylabel("latency, ms (32 conns)")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.suptitle("Planbase history page latency vs session length")
    ax.set_title(subtitle, fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(dest, "scaling_history.png"))
    plt.close(fig)
    print(f"wrote {os.path.join(dest, 'scaling_history.png')}")
