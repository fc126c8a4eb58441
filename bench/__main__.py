"""`python -m bench`: run the benchmarks and write docs/benchmarks.md (and its chart)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from redis import Redis

from . import http_bench, queue_bench, report

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
BENCH_DB = 14


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL,
                        help=f"Redis to measure against, flushed before and after (default: $REDIS_URL or "
                             f"{DEFAULT_REDIS_URL})")
    parser.add_argument("--queue-ops", type=int, default=queue_bench.DEFAULT_OPS,
                        help="operations of each kind at each queue size")
    parser.add_argument("--sizes", type=int, nargs=2, default=list(queue_bench.DEFAULT_SIZES),
                        metavar=("SMALL", "LARGE"), help="queue sizes to compare")
    parser.add_argument("--http-seconds", type=float, default=12.0, help="measured seconds per server")
    parser.add_argument("--threads", type=int, default=8, help="client threads (concurrent requests)")
    parser.add_argument("--server-threads", type=int, default=http_bench.SERVER_THREADS,
                        help="gunicorn threads per server (default: as the Procfile)")
    parser.add_argument("--skip", choices=["queue", "http"], action="append", default=[])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)

    started = time.monotonic()
    _check_redis(args.redis_url)
    queue = http = None
    if "queue" not in args.skip:
        queue = queue_bench.run(args.redis_url, tuple(args.sizes), args.queue_ops, progress=progress)
    if "http" not in args.skip:
        redis = Redis.from_url(args.redis_url)
        try:
            redis.flushdb()
            http = http_bench.run(args.redis_url, seconds=args.http_seconds, threads=args.threads,
                                  server_threads=args.server_threads, progress=progress)
        finally:
            redis.flushdb()
            redis.close()

    progress("report: writing the chart and the page")
    info = report.machine(args.redis_url)
    chart_path = args.out.with_suffix(".png")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    chart_name = chart_path.name if report.chart(queue, http, chart_path) else None
    if chart_name is None:
        progress("  matplotlib is not installed: no chart (pip install -e '.[test]')")
    args.out.write_text(report.markdown(queue, http, info, chart_name, time.monotonic() - started))
    progress(f"wrote {args.out}" + (f" and {chart_path}" if chart_name else "")
             + f" in {time.monotonic() - started:.0f} s")
    if queue:
        progress("queue, {:,} / {:,} waiting: ".format(*sorted(queue["sizes"]))
                 + ", ".join(f"{op} {ratio:.2f}" for op, ratio in queue["ratios"].items()))
    if http:
        progress(f"/ivr/voice / bare view: {http['ratio']:.2f} "
                 f"({http['results']['voice']['requests_per_s']:,.0f} / "
                 f"{http['results']['bare']['requests_per_s']:,.0f} requests/s)")


if __name__ == "__main__":
    main()
