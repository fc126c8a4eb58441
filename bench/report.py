"""docs/benchmarks.md and its chart, from the figures of one run."""

from __future__ import annotations

import os
import platform
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from redis import Redis

from .queue_bench import OPERATIONS

OPERATION_NAMES = {
    "enqueue": "enqueue (Lua script: rank, size, add)",
    "take": "take a given call (ZREM)",
    "take_next": "take_next (ZPOPMIN)",
}


def machine(redis_url: str) -> dict:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    client = Redis.from_url(redis_url)
    try:
        redis_version = client.info("server")["redis_version"]
    finally:
        client.close()
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "redis": redis_version,
        "sqlite": sqlite3.sqlite_version,
        "os": f"{platform.system()} {platform.release()}",
        "load": "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg()),
    }


def chart(queue: dict | None, http: dict | None, path: Path) -> bool:
    """Write the PNG; False when matplotlib is not installed (it is in the test extras)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    panels = [p for p in (queue, http) if p]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), squeeze=False)
    axes = list(axes[0])
    if queue:
        ax = axes.pop(0)
        small, large = min(queue["sizes"]), max(queue["sizes"])
        x = range(len(OPERATIONS))
        width = 0.38
        for offset, size, colour in ((-width / 2, small, "#7aa6c2"), (width / 2, large, "#1f4e79")):
            values = [queue["results"][size][op]["ops_per_s"] for op in OPERATIONS]
            bars = ax.bar([i + offset for i in x], values, width, label=f"{size:,} waiting", color=colour)
            ax.bar_label(bars, fmt="{:,.0f}", fontsize=8)
        ax.set_xticks(list(x), [op.replace("_", " ") for op in OPERATIONS])
        ax.set_ylabel("operations per second")
        ax.set_ylim(0, max(r[op]["ops_per_s"] for r in queue["results"].values() for op in OPERATIONS) * 1.3)
        trips = sorted({f"{r[op]['round_trips_per_op']:g}" for r in queue["results"].values() for op in OPERATIONS})
        ax.set_title(f"CallQueue on Redis: {'/'.join(trips)} round trip(s) per operation")
        ax.legend(loc="upper center", ncols=2)
    if http:
        ax = axes.pop(0)
        names = ["bare", "voice"]
        labels = ["bare Flask view\n(same TwiML bytes)", "/ivr/voice\n(signed, SQLite, Redis)"]
        values = [http["results"][n]["requests_per_s"] for n in names]
        bars = ax.bar(labels, values, 0.5, color=["#9bbb59", "#c0504d"])
        ax.bar_label(bars, labels=[f"{v:,.0f}/s\np50 {http['results'][n]['p50_ms']:.1f} ms\n"
                                   f"p99 {http['results'][n]['p99_ms']:.0f} ms" for v, n in zip(values, names,
                                                                                             strict=True)],
                     fontsize=8)
        ax.set_ylim(0, max(values) * 1.3)
        ax.set_ylabel("requests per second")
        ax.set_title(f"/ivr/voice at {http['ratio']:.0%} of the bare view")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def markdown(queue: dict | None, http: dict | None, info: dict, chart_name: str | None, seconds: float) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmarks",
        "",
        f"Measured {now} by `make bench` (`.venv/bin/python -m bench`, {seconds:.0f} s). Regenerate this page with",
        "`make bench`; it needs Redis (`REDIS_URL`, default `redis://127.0.0.1:6379/14`, **flushed** before and",
        "after) and writes this file and its chart. `python -m bench --help` lists the knobs.",
        "",
        "Every figure is compared with a baseline measured in the same run on the same machine, so read the",
        "ratios; the absolute numbers depend on the machine and on whatever else it was doing.",
        "",
        "| machine | |",
        "| --- | --- |",
        f"| CPUs (nproc) | {info['nproc']} ({info['cpu']}) |",
        f"| Python | {info['python']} |",
        f"| Redis | {info['redis']} |",
        f"| SQLite | {info['sqlite']} |",
        f"| OS | {info['os']} |",
        f"| load average at the end | {info['load']} |",
        "",
    ]
    if chart_name:
        lines += [f"![Benchmark figures]({chart_name})", ""]
    if queue:
        small, large = min(queue["sizes"]), max(queue["sizes"])
        lines += [
            "## Call queue (Redis)",
            "",
            f"`CallQueue` against the real Redis with {small:,} and then {large:,} callers waiting; "
            f"{queue['ops']:,} of each operation at each size.",
            "",
            f"| operation | {small:,} waiting, ops/s | {large:,} waiting, ops/s | {large:,} / {small:,} "
            f"| p50 µs ({small:,} / {large:,}) | p99 µs ({small:,} / {large:,}) | round trips per operation |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for op in OPERATIONS:
            a, b = queue["results"][small][op], queue["results"][large][op]
            trips = "/".join(sorted({f"{a['round_trips_per_op']:g}", f"{b['round_trips_per_op']:g}"}))
            lines.append(f"| {OPERATION_NAMES[op]} | {a['ops_per_s']:,.0f} | {b['ops_per_s']:,.0f} "
                         f"| {queue['ratios'][op]:.2f} | {a['p50_us']:,.0f} / {b['p50_us']:,.0f} "
                         f"| {a['p99_us']:,.0f} / {b['p99_us']:,.0f} | {trips} |")
        lines += [
            "",
            "- Round trips are counted, not assumed: the client's connection counts every request it writes",
            "  (one per command, one per pipeline, one per script call). The enqueue script is warmed up first;",
            "  on a Redis that has not cached it, the very first call costs 3 (EVALSHA, NOSCRIPT, SCRIPT LOAD,",
            "  EVALSHA).",
            "- Each round enqueues a batch of new callers, takes randomly chosen waiting callers, pops from the",
            "  front and tops the queue back up untimed, so it stays within 10% of its size. The two sizes take",
            "  turns in five phases. The sorted-set operations are O(log n); at these sizes the time is the",
            "  round trip, so a ratio near 1 is the expected result.",
            "",
        ]
    if http:
        bare, voice = http["results"]["bare"], http["results"]["voice"]
        work = http["work_per_request"]
        lines += [
            "## /ivr/voice over HTTP",
            "",
            f"The app and a bare Flask view that answers the same {work['twiml_bytes']:,} TwiML bytes, each under",
            f"gunicorn as the Procfile runs it (one gthread worker, {http['server_threads']} threads) on loopback,",
            f"side by side; a load generator in its own process ({http['threads']} threads, one keep-alive",
            f"connection each, so {http['threads']} requests in flight) alternates between them in",
            f"{http['rounds']} slices, {http['seconds']:.0f} s measured per server.",
            "",
            "| server | requests/s | p50 ms | p90 ms | p99 ms | errors |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
            f"| bare Flask view, same TwiML bytes | {bare['requests_per_s']:,.0f} | {bare['p50_ms']:.1f} "
            f"| {bare['p90_ms']:.1f} | {bare['p99_ms']:.1f} | {bare['errors']} |",
            f"| `/ivr/voice` (signed, new call each) | {voice['requests_per_s']:,.0f} | {voice['p50_ms']:.1f} "
            f"| {voice['p90_ms']:.1f} | {voice['p99_ms']:.1f} | {voice['errors']} |",
            f"| **ratio /ivr/voice ÷ bare** | **{http['ratio']:.2f}** | "
            f"{voice['p50_ms'] / bare['p50_ms']:.1f}× | {voice['p90_ms'] / bare['p90_ms']:.1f}× "
            f"| {voice['p99_ms'] / bare['p99_ms']:.1f}× | |",
            "",
            "- Each `/ivr/voice` request is signed as Twilio signs it (twilio's `RequestValidator`, the app's auth",
            "  token, its public URL) and carries a fresh CallSid, so it does the real work: signature check, the",
            "  practice looked up by the dialled number, a Call row and its `entered_ivr` event committed to a",
            "  SQLite file (WAL), the menu TwiML built. The bare view gets the same signed requests and ignores them.",
            f"- Measured on one request beforehand: {work['sql_statements']} SQL statements and "
            f"{work['redis_round_trips']} Redis round trips per `/ivr/voice`.",
            f"- Calls written during the run: {http['calls_written']:,}, for {voice['sent']:,} requests sent to "
            f"`/ivr/voice` (warm-up included){'' if http['calls_written'] == voice['sent'] else ': NOT one each'}.",
            "- Latency is measured by the client, from sending the request to reading the whole answer; requests",
            "  per second count the answers received inside the measured windows (each slice warms up first).",
            "",
        ]
    return "\n".join(lines)
