"""Load generator: N threads, each on its own keep-alive connection, POSTing webhooks signed as Twilio signs them.

Run in its own process (`python -m bench.loadgen ...`) so it does not share the server's interpreter.
Two kinds of load:

- a new call each request (`/ivr/voice`): a fresh CallSid, signed on the spot, as Twilio sends them;
- callers on hold (`--call-sids FILE`, for `/ivr/wait`): the waitUrl request of the CallSids in the
  file, round-robin over all threads, each request signed beforehand (the set is fixed).

It also measures whether it is itself the bottleneck: the CPU time this process and the server's
process tree (`--server-pid`, its workers included) spent inside the measured window, in cores.
Prints progress to stderr once a second and the result as JSON on stdout.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import resource
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from twilio.request_validator import RequestValidator


def process_tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of `pid` and every descendant alive now (Linux /proc), 0.0 elsewhere."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0.0
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()  # after "pid (comm) ": state, ppid, ...
        parents[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += cpu.get(current, 0.0)
        todo.extend(child for child, parent in parents.items() if parent == current)
    return total


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Requests:
    """What each worker sends next: a new signed call, or the next held caller's signed waitUrl request."""

    def __init__(self, url: str, token: str, account_sid: str, to: str, call_sids: list[str] | None):
        self.url = url
        self.validator = RequestValidator(token)
        self.account_sid = account_sid
        self.to = to
        self.lock = threading.Lock()
        self.signed = None
        if call_sids:
            self.signed = itertools.cycle([self._sign(self._wait_form(sid, n, len(call_sids)))
                                           for n, sid in enumerate(call_sids, start=1)])

    def _sign(self, form: dict) -> tuple[str, dict]:
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "X-Twilio-Signature": self.validator.compute_signature(self.url, form)}
        return urlencode(form), headers

    def _wait_form(self, call_sid: str, position: int, size: int) -> dict:
        # What Twilio posts to an <Enqueue>'s waitUrl.
        return {"CallSid": call_sid, "AccountSid": self.account_sid, "From": "+14155550123", "To": self.to,
                "CallStatus": "in-progress", "Direction": "inbound", "ApiVersion": "2010-04-01",
                "QueueSid": "QU" + "0" * 32, "QueuePosition": str(position), "QueueTime": "30",
                "AvgQueueTime": "30", "CurrentQueueSize": str(size)}

    def next(self) -> tuple[str, dict]:
        if self.signed is not None:
            with self.lock:
                return next(self.signed)
        form = {"CallSid": "CA" + uuid.uuid4().hex, "AccountSid": self.account_sid, "From": "+14155550123",
                "To": self.to, "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01"}
        return self._sign(form)


def _worker(requests: _Requests, expect: bytes | None, warm_until: float, stop_at: float, out: dict,
            lock: threading.Lock) -> None:
    parts = urlsplit(requests.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors = unexpected = received = 0
    while True:
        body, headers = requests.next()
        started = time.perf_counter()
        if started >= stop_at:
            break
        answer = b""
        try:
            connection.request("POST", parts.path, body, headers)
            response = connection.getresponse()
            answer = response.read()
            status = str(response.status)
        except (OSError, http.client.HTTPException):
            connection.close()
            status = "connection-error"
        finished = time.perf_counter()
        if warm_until <= finished <= stop_at:  # throughput: the requests completed inside the window
            latencies.append(finished - started)
            statuses[status] = statuses.get(status, 0) + 1
            errors += status != "200"
            unexpected += status == "200" and expect is not None and expect not in answer
            received += len(answer)
        with lock:
            out["sent"] += 1
    connection.close()
    with lock:
        out["latencies"].extend(latencies)
        out["errors"] += errors
        out["unexpected"] += unexpected
        out["bytes"] += received
        for status, count in statuses.items():
            out["statuses"][status] = out["statuses"].get(status, 0) + count


def run(url: str, token: str, account_sid: str, to: str, threads: int, warmup: float, seconds: float,
        label: str, call_sids: list[str] | None = None, expect: str | None = None,
        server_pid: int | None = None) -> dict:
    out = {"sent": 0, "latencies": [], "errors": 0, "unexpected": 0, "bytes": 0, "statuses": {}}
    lock = threading.Lock()
    requests = _Requests(url, token, account_sid, to, call_sids)
    start = time.perf_counter()
    warm_until, stop_at = start + warmup, start + warmup + seconds
    workers = [threading.Thread(target=_worker, args=(requests, expect.encode() if expect else None, warm_until,
                                                      stop_at, out, lock), daemon=True)
               for _ in range(threads)]
    for worker in workers:
        worker.start()
    # CPU spent inside the measured window, by this process and by the server's processes.
    marks: dict[str, tuple[float, float]] = {}
    next_print = start + 1.0
    while any(worker.is_alive() for worker in workers):
        now = time.perf_counter()
        for name, at in (("start", warm_until), ("stop", stop_at)):
            if name not in marks and now >= at:
                marks[name] = (_own_cpu_seconds(), process_tree_cpu_seconds(server_pid) if server_pid else 0.0)
        if now >= next_print:
            elapsed = now - start
            phase = "warming up" if elapsed < warmup else f"{min(elapsed - warmup, seconds):.0f}/{seconds:.0f} s"
            print(f"  {label}: {phase}, {out['sent']:,} requests sent", file=sys.stderr, flush=True)
            next_print += 1.0
        upcoming = [t for name, t in (("start", warm_until), ("stop", stop_at)) if name not in marks]
        time.sleep(max(0.0, min([next_print, *upcoming]) - time.perf_counter()) + 0.001)
    for worker in workers:
        worker.join()
    stop = marks.get("stop") or (_own_cpu_seconds(), process_tree_cpu_seconds(server_pid) if server_pid else 0.0)
    begin = marks.get("start", stop)
    return summarize([{"latencies": out["latencies"], "sent": out["sent"], "seconds": seconds, "threads": threads,
                       "errors": out["errors"], "unexpected": out["unexpected"], "bytes": out["bytes"],
                       "statuses": out["statuses"], "client_cpu_s": stop[0] - begin[0],
                       "server_cpu_s": stop[1] - begin[1] if server_pid else None}])


def summarize(slices: list[dict]) -> dict:
    """Requests per second, latency percentiles and CPU use over one or more measured slices."""
    latencies = sorted(x for s in slices for x in s["latencies"])
    seconds = sum(s["seconds"] for s in slices)
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [0.0] * 99
    statuses: dict[str, int] = {}
    for s in slices:
        for status, count in s["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    requests = len(latencies)
    client_cpu = sum(s.get("client_cpu_s") or 0.0 for s in slices)
    server_cpus = [s.get("server_cpu_s") for s in slices]
    server_cpu = None if any(c is None for c in server_cpus) else sum(server_cpus)
    return {
        "requests": requests,
        "sent": sum(s["sent"] for s in slices),
        "seconds": seconds,
        "threads": slices[0]["threads"],
        "requests_per_s": requests / seconds if seconds else 0.0,
        "p50_ms": cuts[49] * 1e3,
        "p90_ms": cuts[89] * 1e3,
        "p99_ms": cuts[98] * 1e3,
        "errors": sum(s["errors"] for s in slices),
        "unexpected": sum(s.get("unexpected", 0) for s in slices),
        "mean_bytes": sum(s.get("bytes", 0) for s in slices) / requests if requests else 0.0,
        "statuses": statuses,
        # Raw totals, so that summaries of slices can be summarized again.
        "bytes": sum(s.get("bytes", 0) for s in slices),
        "client_cpu_s": client_cpu,
        "server_cpu_s": server_cpu,
        # In cores (1.0 = one CPU busy all the time), and CPU milliseconds per answered request.
        "client_cpu": client_cpu / seconds if seconds else 0.0,
        "client_cpu_ms": client_cpu * 1e3 / requests if requests else 0.0,
        "server_cpu": server_cpu / seconds if seconds and server_cpu is not None else None,
        "server_cpu_ms": server_cpu * 1e3 / requests if requests and server_cpu is not None else None,
        "latencies": latencies,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="the URL to POST to, exactly as it is signed")
    parser.add_argument("--token", required=True, help="the auth token to sign with")
    parser.add_argument("--account-sid", required=True)
    parser.add_argument("--to", required=True, help="the dialled number (a practice's)")
    parser.add_argument("--call-sids", type=Path,
                        help="a file of CallSids, one a line: POST their waitUrl requests round-robin "
                             "(default: a new call each request)")
    parser.add_argument("--expect", help="count 200 answers whose body lacks this text as unexpected")
    parser.add_argument("--server-pid", type=int, help="measure the CPU time of this process and its children")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--label", default="load")
    args = parser.parse_args()
    call_sids = args.call_sids.read_text().split() if args.call_sids else None
    result = run(args.url, args.token, args.account_sid, args.to, args.threads, args.warmup, args.seconds,
                 args.label, call_sids=call_sids, expect=args.expect, server_pid=args.server_pid)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
