"""Load generator: N threads, each on its own keep-alive connection, POSTing signed /ivr/voice webhooks.

Run in its own process (`python -m bench.loadgen ...`) so it does not share the server's interpreter.
Every request carries a fresh CallSid, signed as Twilio signs it. Prints progress to stderr once a
second and the result as JSON on stdout.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import threading
import time
import uuid
from urllib.parse import urlencode, urlsplit

from twilio.request_validator import RequestValidator


def _worker(url: str, token: str, account_sid: str, to: str, warm_until: float, stop_at: float,
            out: dict, lock: threading.Lock) -> None:
    parts = urlsplit(url)
    validator = RequestValidator(token)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors = 0
    while True:
        form = {"CallSid": "CA" + uuid.uuid4().hex, "AccountSid": account_sid, "From": "+14155550123", "To": to,
                "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01"}
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "X-Twilio-Signature": validator.compute_signature(url, form)}
        body = urlencode(form)
        started = time.perf_counter()
        if started >= stop_at:
            break
        try:
            connection.request("POST", parts.path, body, headers)
            response = connection.getresponse()
            response.read()
            status = str(response.status)
        except (OSError, http.client.HTTPException):
            connection.close()
            status = "connection-error"
        finished = time.perf_counter()
        if warm_until <= finished <= stop_at:  # throughput: the requests completed inside the window
            latencies.append(finished - started)
            statuses[status] = statuses.get(status, 0) + 1
            errors += status != "200"
        with lock:
            out["sent"] += 1
    connection.close()
    with lock:
        out["latencies"].extend(latencies)
        out["errors"] += errors
        for status, count in statuses.items():
            out["statuses"][status] = out["statuses"].get(status, 0) + count


def run(url: str, token: str, account_sid: str, to: str, threads: int, warmup: float, seconds: float,
        label: str) -> dict:
    out = {"sent": 0, "latencies": [], "errors": 0, "statuses": {}}
    lock = threading.Lock()
    start = time.perf_counter()
    warm_until, stop_at = start + warmup, start + warmup + seconds
    workers = [threading.Thread(target=_worker, args=(url, token, account_sid, to, warm_until, stop_at, out, lock))
               for _ in range(threads)]
    for worker in workers:
        worker.start()
    while any(worker.is_alive() for worker in workers):
        time.sleep(1.0)
        elapsed = time.perf_counter() - start
        phase = "warming up" if elapsed < warmup else f"{min(elapsed - warmup, seconds):.0f}/{seconds:.0f} s"
        print(f"  {label}: {phase}, {out['sent']:,} requests sent", file=sys.stderr, flush=True)
    for worker in workers:
        worker.join()
    return summarize([{"latencies": out["latencies"], "sent": out["sent"], "seconds": seconds, "threads": threads,
                       "errors": out["errors"], "statuses": out["statuses"]}])


def summarize(slices: list[dict]) -> dict:
    """Requests per second and latency percentiles over one or more measured slices."""
    latencies = sorted(x for s in slices for x in s["latencies"])
    seconds = sum(s["seconds"] for s in slices)
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [0.0] * 99
    statuses: dict[str, int] = {}
    for s in slices:
        for status, count in s["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    return {
        "requests": len(latencies),
        "sent": sum(s["sent"] for s in slices),
        "seconds": seconds,
        "threads": slices[0]["threads"],
        "requests_per_s": len(latencies) / seconds if seconds else 0.0,
        "p50_ms": cuts[49] * 1e3,
        "p90_ms": cuts[89] * 1e3,
        "p99_ms": cuts[98] * 1e3,
        "errors": sum(s["errors"] for s in slices),
        "statuses": statuses,
        "latencies": latencies,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="the URL to POST to, exactly as it is signed")
    parser.add_argument("--token", required=True, help="the auth token to sign with")
    parser.add_argument("--account-sid", required=True)
    parser.add_argument("--to", required=True, help="the dialled number (a practice's)")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--label", default="load")
    args = parser.parse_args()
    result = run(args.url, args.token, args.account_sid, args.to, args.threads, args.warmup, args.seconds,
                 args.label)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
