"""`python -m bench`: run the benchmarks and write docs/benchmarks.md (and its charts).

Sections, each skipped with `--skip NAME`:

- queue: CallQueue at 100 and 10,000 waiting callers (bench/queue_bench.py);
- http: /ivr/voice and /ivr/wait against a bare view, on SQLite and PostgreSQL (bench/http_bench.py);
- engines: `make run`'s engines, SQLite or PostgreSQL from a wheel, redis-server or fakeredis (bench/engines.py);
- hold, pushes: bench/hold.py and bench/pushes.py, when those modules exist.

The hooks for hold and pushes (`optional_section`): the module is imported when the section runs, and
a run without it prints a note and goes on. It provides

    run(**options) -> dict          the figures; called with those of `redis_url`, `postgres_url`,
                                    `progress` and its sizes (`--hold-callers`, `--pushes-consoles` when
                                    given, and any `--hold-arg`/`--pushes-arg KEY=VALUE`) that its
                                    signature accepts; its own defaults otherwise
    section(result) -> str          its part of the page, in Markdown, starting with a `## ` heading
    chart(result, path) -> bool     optional: writes a PNG at `path` (docs/benchmarks-NAME.png); True if written
    summary(result) -> rows         optional: (figure, measured, baseline, ratio) rows for the summary table

Redis at `--redis-url` is flushed before and after each section. The figures are kept beside the page
(docs/benchmarks.json): a section skipped or failed in a run keeps those of the last run that measured
it on the page, marked with that run's date (`--fresh`: only this run's).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from redis import Redis

from . import engines as engines_bench
from . import http_bench, queue_bench, report

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
BENCH_DB = 14
SECTIONS = ("queue", "http", "engines", "hold", "pushes")
OPTIONAL_SECTIONS = ("hold", "pushes")


def progress(message: str) -> None:
    print(message, flush=True)


def _check_redis(url: str) -> None:
    """Refuse to flush a Redis database other than the benchmark's own when it holds data."""
    db = int((urlsplit(url).path or "/0").lstrip("/") or 0)
    client = Redis.from_url(url)
    try:
        keys = client.dbsize()
    finally:
        client.close()
    if db != BENCH_DB and keys:
        sys.exit(f"{url} holds {keys} keys and the benchmark flushes its database; "
                 f"point REDIS_URL at an empty database (db {BENCH_DB} is the benchmark's).")


def _flush(url: str) -> None:
    client = Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def _value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _key_values(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"expected KEY=VALUE, got {pair!r}")
        out[key.replace("-", "_")] = _value(value)
    return out


def call_with_accepted(function, **options):
    """Call `function` with those of `options` its signature accepts (all of them if it takes **kwargs)."""
    parameters = inspect.signature(function).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        ignored = sorted(set(options) - set(parameters))
        if ignored:
            progress(f"  ({function.__module__}.{function.__name__} takes no {', '.join(ignored)})")
        options = {key: value for key, value in options.items() if key in parameters}
    return function(**options)


def optional_section(name: str):
    """bench.NAME, imported now; None (with a printed note) when the module does not exist."""
    module_name = f"{__package__ or 'bench'}.{name}"
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        progress(f"{name}: skipped, bench/{name}.py does not exist")
        return None


def run_optional(name: str, options: dict, out_dir: Path, stem: str) -> dict | None:
    """Run bench.NAME's hooks: its figures, its part of the page, its chart and summary rows."""
    module = optional_section(name)
    if module is None:
        return None
    progress(f"{name}: running bench/{name}.py")
    result = call_with_accepted(module.run, **options)
    chart_name = None
    if hasattr(module, "chart"):
        path = out_dir / f"{stem}-{name}.png"
        if module.chart(result, path):
            chart_name = path.name
    section = module.section(result)
    if chart_name and f"({chart_name})" not in section:
        head, _, rest = section.partition("\n")
        section = f"{head}\n\n![{name}]({chart_name})\n{rest}"
    rows = list(module.summary(result)) if hasattr(module, "summary") else []
    return {"result": result, "section": section, "chart": chart_name, "rows": rows}


def save_kept(path: Path, figures: dict, measured: dict[str, str]) -> None:
    """Keep the page's figures beside it, each section with the date of the run that measured it."""
    kept = {}
    for name, value in figures.items():
        if value is None:
            continue
        if name in OPTIONAL_SECTIONS:  # their part of the page as written, not their raw figures
            value = {key: value[key] for key in ("section", "chart", "rows")}
        kept[name] = {"measured": measured.get(name), "figures": value}
    path.write_text(json.dumps({"sections": kept}, indent=1, default=str) + "\n")


def load_kept(path: Path) -> dict[str, tuple[str, dict]]:
    """The figures kept by the last run: section -> (when measured, figures)."""
    try:
        sections = json.loads(path.read_text())["sections"]
    except (OSError, ValueError, KeyError):
        return {}
    kept = {}
    for name, entry in sections.items():
        value = entry["figures"]
        if name == "queue":  # JSON made the sizes' keys strings
            value["results"] = {int(size): figures for size, figures in value["results"].items()}
        if name in OPTIONAL_SECTIONS:
            value["rows"] = [tuple(row) for row in value["rows"]]
        kept[name] = (entry.get("measured") or "an earlier run", value)
    return kept


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL,
                        help=f"Redis to measure against, flushed before and after (default: $REDIS_URL or "
                             f"{DEFAULT_REDIS_URL})")
    parser.add_argument("--postgres-url", default=http_bench.DEFAULT_POSTGRES_URL,
                        help="the benchmark's PostgreSQL database, created if missing and emptied "
                             f"(default: {http_bench.DEFAULT_POSTGRES_URL})")
    parser.add_argument("--skip", choices=SECTIONS, action="append", default=[], help="a section not to run")
    queue = parser.add_argument_group("queue")
    queue.add_argument("--queue-ops", type=int, default=queue_bench.DEFAULT_OPS,
                       help="operations of each kind at each queue size")
    queue.add_argument("--sizes", type=int, nargs=2, default=list(queue_bench.DEFAULT_SIZES),
                       metavar=("SMALL", "LARGE"), help="queue sizes to compare")
    http = parser.add_argument_group("http and engines")
    http.add_argument("--http-seconds", type=float, default=12.0, help="measured seconds per load (http)")
    http.add_argument("--engines-seconds", type=float, default=6.0,
                      help="measured seconds per webhook and combination of engines")
    http.add_argument("--rounds", type=int, default=3, help="slices each load is measured in, alternating")
    http.add_argument("--warmup", type=float, default=1.5, help="warm-up seconds per load")
    http.add_argument("--threads", type=int, default=8, help="client threads (concurrent requests)")
    http.add_argument("--waiting", type=int, default=http_bench.DEFAULT_WAITING,
                      help="callers put on hold for /ivr/wait (at most the app's queue capacity)")
    http.add_argument("--databases", nargs="+", choices=http_bench.DATABASES, default=list(http_bench.DATABASES),
                      help="the databases of the http section")
    optional = parser.add_argument_group("hold and pushes (bench/hold.py, bench/pushes.py)")
    optional.add_argument("--hold-callers", type=int,
                          help="callers on hold at once (hold; default: bench/hold.py's own)")
    optional.add_argument("--pushes-consoles", type=int,
                          help="agents' consoles online (pushes; default: bench/pushes.py's own)")
    optional.add_argument("--hold-arg", action="append", default=[], metavar="KEY=VALUE",
                          help="another option for bench.hold.run")
    optional.add_argument("--pushes-arg", action="append", default=[], metavar="KEY=VALUE",
                          help="another option for bench.pushes.run")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md",
                        help="the page; its figures are also kept beside it (.json)")
    parser.add_argument("--fresh", action="store_true",
                        help="only this run's figures on the page (default: a section skipped or failed in this "
                             "run keeps its figures of the last run that measured it, marked with that run's date)")
    args = parser.parse_args(argv)

    started = time.monotonic()
    _check_redis(args.redis_url)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    stem = args.out.with_suffix("").name
    failed: list[str] = []
    figures: dict = dict.fromkeys(SECTIONS)
    measured: dict[str, str] = {}

    def section(name: str, run) -> None:
        if name in args.skip:
            progress(f"{name}: skipped (--skip {name})")
            return
        begun = time.monotonic()
        _flush(args.redis_url)
        try:
            figures[name] = run()
            if figures[name] is not None:
                measured[name] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        except Exception:
            traceback.print_exc()
            progress(f"{name}: FAILED; the page is written without it")
            failed.append(name)
        finally:
            _flush(args.redis_url)
        progress(f"{name}: {time.monotonic() - begun:.0f} s")

    section("queue", lambda: queue_bench.run(args.redis_url, tuple(args.sizes), args.queue_ops, progress=progress))
    section("http", lambda: http_bench.run(
        args.redis_url, databases=tuple(args.databases), postgres_url=args.postgres_url, seconds=args.http_seconds,
        warmup=args.warmup, threads=args.threads, rounds=args.rounds, waiting=args.waiting, progress=progress))
    section("engines", lambda: engines_bench.run(
        seconds=args.engines_seconds, warmup=min(args.warmup, 1.0), threads=args.threads, rounds=args.rounds,
        waiting=args.waiting, progress=progress))
    common = {"redis_url": args.redis_url, "postgres_url": args.postgres_url, "progress": progress}
    sizes = {"hold": {"callers": args.hold_callers}, "pushes": {"consoles": args.pushes_consoles}}
    for name in OPTIONAL_SECTIONS:
        options = common | {key: value for key, value in sizes[name].items() if value is not None}
        options |= _key_values(getattr(args, f"{name}_arg"))
        section(name, lambda name=name, options=options: run_optional(name, options, args.out.parent, stem))

    notes = [f"The {name} section failed in this run." for name in failed]
    kept_path = args.out.with_suffix(".json")
    if not args.fresh:
        for name, (at, kept) in load_kept(kept_path).items():
            if figures.get(name) is None:
                figures[name], measured[name] = kept, at
                notes.append(f"The {name} figures are those of the run of {at}: this run "
                             f"{'failed to measure' if name in failed else 'did not measure'} them.")
    save_kept(kept_path, figures, measured)

    progress("report: writing the charts and the page")
    info = report.machine(args.redis_url, args.postgres_url if figures["http"] else None)
    chart_path = args.out.with_suffix(".png")
    chart_name = chart_path.name if report.chart(figures["queue"], figures["http"], chart_path) else None
    engines_path = args.out.parent / f"{stem}-engines.png"
    engines_chart = engines_path.name if report.engines_chart(figures["engines"], engines_path) else None
    if (figures["queue"] or figures["http"]) and chart_name is None:
        progress("  matplotlib is not installed: no charts (pip install -e '.[test]')")
    extra = [figures[name] for name in OPTIONAL_SECTIONS if figures[name]]
    page = report.markdown(figures["queue"], figures["http"], info, chart_name, time.monotonic() - started,
                           engines=figures["engines"], engines_chart_name=engines_chart,
                           extra_sections=[e["section"] for e in extra],
                           extra_rows=[row for e in extra for row in e["rows"]], notes=notes)
    args.out.write_text(page)
    charts = [c for c in (chart_name, engines_chart, *(e["chart"] for e in extra)) if c]
    progress(f"wrote {args.out}" + (f" and {', '.join(charts)}" if charts else "")
             + f" in {time.monotonic() - started:.0f} s")
    for row in report.summary_rows(figures["queue"], figures["http"], figures["engines"]):
        progress(f"  {row[0]}: {row[1]} against {row[2]}, ratio {row[3]}".replace("`", "").replace("**", ""))
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
