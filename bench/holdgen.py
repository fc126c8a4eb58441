"""Callers on hold, as Twilio plays them: the load generator of the hold benchmark (`bench.hold`).

Only what Twilio does for a caller who holds, with asyncio and aiohttp, so that ten thousand calls fit
in one process: POST /ivr/voice (a fresh CallSid), then /ivr/menu?attempt=1 with Digits=2 a few
seconds later (leave a message: queued while agents are available and the practice is open), then
the hold loop: Twilio fetches the waitUrl (/ivr/wait) as soon as the caller is queued and again each
time its TwiML ends, here every `--wait-period` seconds at random. When a caller hangs up, Twilio
requests the Enqueue action (/ivr/queue-exit, QueueResult=hangup) and sends the status callback
(/ivr/status, CallStatus=completed). Every request is signed as Twilio signs it.

Phases: the ramp (arrivals at `--rate` a second until `--callers` have arrived and gone through the
menu); the hold (`--hold-seconds`: callers keep arriving at `--rate` and, for each one queued, the
caller who has held longest hangs up, so about `--callers` hold all along); the drain (everyone left hangs up,
oldest first, `--drain-rate` a second). Every loop has a deadline.

Runs in its own process: progress once a second on stderr, the figures as JSON on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import math
import random
import resource
import sys
import time
import uuid
from urllib.parse import urlencode

import aiohttp

PATHS = ("/ivr/voice", "/ivr/menu", "/ivr/wait", "/ivr/queue-exit", "/ivr/status")
PHASES = ("ramp", "hold", "drain")
WINDOW = 10.0  # seconds per point of the time series
TWILIO_TIMEOUT = 15.0  # Twilio gives a webhook 15 s in all, then the caller hears an application error
SLOW_MS = 200.0  # the goal: p99 under this


def raise_open_files_limit() -> int:
    """Lift this process's soft limit on open files to the hard limit; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def percentiles(values: list[float]) -> dict:
    """Count, p50, p90, p99 and max of latencies in seconds, as milliseconds."""
    if not values:
        return {"count": 0, "p50_ms": None, "p90_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(values)
    n = len(ordered)

    def at(q: float) -> float:
        return ordered[min(n - 1, max(0, math.ceil(q * n) - 1))] * 1e3

    return {"count": n, "p50_ms": at(0.50), "p90_ms": at(0.90), "p99_ms": at(0.99), "max_ms": ordered[-1] * 1e3}


class Fenwick:
    """Counts over arrival numbers: how many of a Twilio queue's members arrived before a given caller."""

    def __init__(self, size: int):
        self.tree = [0] * (size + 1)

    def add(self, index: int, delta: int) -> None:
        i = index + 1
        while i < len(self.tree):
            self.tree[i] += delta
            i += i & -i

    def prefix(self, index: int) -> int:
        """Members with an arrival number up to and including `index`."""
        i, total = index + 1, 0
        while i > 0:
            total += self.tree[i]
            i -= i & -i
        return total


class TwilioQueues:
    """Twilio's side of the practices' queues (one per practice), for the waitUrl's fields."""

    def __init__(self, practices: int, size: int):
        self.members = [Fenwick(size) for _ in range(practices)]
        self.sizes = [0] * practices
        self.entered_sum = [0.0] * practices  # for the average time in queue of current members
        self.sids = ["QU" + uuid.uuid4().hex for _ in range(practices)]
        self.largest = 0

    def join(self, practice: int, index: int, at: float) -> None:
        self.members[practice].add(index, 1)
        self.sizes[practice] += 1
        self.entered_sum[practice] += at
        self.largest = max(self.largest, self.sizes[practice])

    def leave(self, practice: int, index: int, entered: float) -> None:
        self.members[practice].add(index, -1)
        self.sizes[practice] -= 1
        self.entered_sum[practice] -= entered

    def fields(self, practice: int, index: int, entered: float, now: float) -> dict:
        size = self.sizes[practice]
        average = now - self.entered_sum[practice] / size if size else 0.0
        return {"QueueSid": self.sids[practice], "QueuePosition": str(self.members[practice].prefix(index)),
                "QueueTime": str(int(now - entered)), "AvgQueueTime": str(int(max(0.0, average))),
                "CurrentQueueSize": str(size), "MaxQueueSize": "5000"}


class Figures:
    """Latencies and answers per webhook path: over the run, per phase, per 10 s window."""

    def __init__(self, t0: float):
        self.t0 = t0
        self.phase = "ramp"
        self.all = {p: [] for p in PATHS}
        self.by_phase = {ph: {p: [] for p in PATHS} for ph in PHASES}
        self.windows: dict[int, dict[str, list[float]]] = collections.defaultdict(lambda: {p: [] for p in PATHS})
        self.window_errors: collections.Counter = collections.Counter()
        self.window_holding: dict[int, int] = {}
        self.errors = {p: collections.Counter() for p in PATHS}  # what went wrong, by kind
        self.statuses = {p: collections.Counter() for p in PATHS}
        self.answers = {p: collections.Counter() for p in PATHS}  # what the TwiML said, by kind
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.over_slow = collections.Counter()
        self.over_twilio = collections.Counter()

    def window(self, at: float) -> int:
        return int((at - self.t0) // WINDOW)

    def record(self, path: str, started: float, seconds: float, error: str | None, status: str) -> None:
        self.requests += 1
        self.all[path].append(seconds)
        self.by_phase[self.phase][path].append(seconds)
        self.windows[self.window(started)][path].append(seconds)
        self.statuses[path][status] += 1
        if seconds * 1e3 > SLOW_MS:
            self.over_slow[path] += 1
        if seconds > TWILIO_TIMEOUT:
            self.over_twilio[path] += 1
        if error:
            self.errors[path][error] += 1
            self.window_errors[self.window(started)] += 1

    def recent_p99(self, path: str, now: float, seconds: float = 10.0) -> float | None:
        """p99 over the requests of the last `seconds` (from the current and previous windows)."""
        current = self.window(now)
        values = self.windows.get(current, {}).get(path, []) + self.windows.get(current - 1, {}).get(path, [])
        return percentiles(values)["p99_ms"] if values else None


def classify(path: str, body: str) -> str:
    """What a TwiML answer tells the caller, in one word."""
    if path == "/ivr/voice":
        return "menu" if "<Gather" in body else ("fallback" if "cannot connect you right now" in body else "other")
    if path == "/ivr/menu":
        if "<Enqueue" in body:
            return "queued"
        if "cannot connect you right now" in body:
            return "fallback"  # the webhook failed inside the app: the safe voicemail
        if "<Record" in body:
            return "voicemail"
        if "<Dial" in body:
            return "on_call"
        return "other"
    if path == "/ivr/wait":
        if "<Leave" in body:
            return "leave"
        return "position" if "in line" in body else "no_position"  # no position: the app's safe hold music
    return "answered"


class Generator:
    """The callers, their webhooks and the phases."""

    def __init__(self, args: argparse.Namespace, t0: float):
        self.args = args
        self.t0 = t0
        self.base = args.url.rstrip("/")
        self.random = random.Random(args.seed)
        from twilio.request_validator import RequestValidator

        self.validator = RequestValidator(args.token)
        self.figures = Figures(t0)
        max_arrivals = args.callers + math.ceil(args.rate * args.hold_seconds * 1.5) + 100
        self.queues = TwilioQueues(len(args.to), max_arrivals)
        self.max_arrivals = max_arrivals
        self.holders: collections.OrderedDict[int, asyncio.Event] = collections.OrderedDict()  # oldest first
        self.tasks: set[asyncio.Task] = set()
        self.arrived = 0
        self.menu_done = 0  # callers of the ramp through the menu (queued or not)
        self.queued = 0
        self.not_queued: collections.Counter = collections.Counter()
        self.left = 0  # told to <Leave> by the app (maximum wait reached)
        self.failed: collections.Counter = collections.Counter()  # calls Twilio would have ended in error
        self.hung_up = 0
        self.finished = 0
        self.max_holding = 0
        self.holding_series: list[tuple[float, int]] = []
        self.full_at: float | None = None
        self.hold_end: float | None = None
        self.drain_end: float | None = None
        self.draining = False
        self.churning = False
        self.hard_deadline = (t0 + args.max_seconds) if args.max_seconds else (
            t0 + 2.5 * args.callers / args.rate + args.hold_seconds
            + 2 * args.callers / args.drain_rate + 120.0)
        self.lag: list[float] = []
        self.lag_max = 0.0

    # --- one webhook ---------------------------------------------------------------------------------------

    async def post(self, http, path: str, query: str, form: dict) -> tuple[str | None, str]:
        """POST a signed webhook; return (answer kind or None on failure, body)."""
        url = self.base + path + (f"?{query}" if query else "")
        headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "TwilioProxy/1.1",
                   "X-Twilio-Signature": self.validator.compute_signature(url, form)}
        body = urlencode(form)
        figures = self.figures
        figures.in_flight += 1
        figures.max_in_flight = max(figures.max_in_flight, figures.in_flight)
        started = time.time()
        error, status, text = None, "none", ""
        try:
            async with http.post(url, data=body, headers=headers) as response:
                text = await response.text()
                status = str(response.status)
                kind = response.headers.get("Content-Type", "")
            if path == "/ivr/status":
                if response.status not in (200, 204):
                    error = f"http {status}"
            elif response.status != 200:
                error = f"http {status}"
            elif not kind.startswith("text/xml"):
                error = "not text/xml"
        except TimeoutError:
            error, status = "timeout (15 s)", "timeout"
        except aiohttp.ClientError as exc:
            error, status = f"connection: {type(exc).__name__}", "connection-error"
        finally:
            figures.in_flight -= 1
        seconds = time.time() - started
        figures.record(path, started, seconds, error, status)
        if error:
            return None, text
        answer = classify(path, text)
        figures.answers[path][answer] += 1
        return answer, text

    # --- one caller ----------------------------------------------------------------------------------------

    async def caller(self, http, index: int, ramp: bool) -> None:
        """One call from the first webhook to the hang-up; a ramp caller counts once through the menu."""
        through_menu = False

        def menu_passed() -> None:
            nonlocal through_menu
            if ramp and not through_menu:
                through_menu = True
                self.menu_done += 1

        try:
            await self.call(http, index, menu_passed)
        except Exception as exc:  # a bug here must not stall the ramp: count it and end the call
            self.failed[f"generator: {type(exc).__name__}"] += 1
        finally:
            menu_passed()
            self.finished += 1

    async def call(self, http, index: int, menu_passed) -> None:
        args = self.args
        practice = index % len(args.to)
        number = f"+1312{2000000 + index:07d}"  # a distinct caller for every call
        to = args.to[practice]
        started = time.time()
        call = {"AccountSid": args.account_sid, "ApiVersion": "2010-04-01", "CallSid": "CA" + uuid.uuid4().hex,
                "Called": to, "Caller": number, "Direction": "inbound", "From": number, "To": to,
                "FromCountry": "US", "ToCountry": "US", "CallerCountry": "US", "CalledCountry": "US"}
        answer, _ = await self.post(http, "/ivr/voice", "", {**call, "CallStatus": "ringing"})
        if answer != "menu":
            self.failed["voice: " + (answer or "no answer")] += 1
            menu_passed()
            await self.status(http, call, started)
            return
        await asyncio.sleep(self.random.uniform(*args.menu_delay))  # the greeting and the menu play
        answer, _ = await self.post(http, "/ivr/menu", "attempt=1",
                                    {**call, "CallStatus": "in-progress", "Digits": "2", "FinishedOnKey": ""})
        menu_passed()
        if answer != "queued":
            if answer is None:
                self.failed["menu: no answer"] += 1
            else:
                self.not_queued[answer] += 1
            await self.status(http, call, started)
            return
        self.queued += 1
        await self.hold(http, call, index, practice, started)

    async def hold(self, http, call: dict, index: int, practice: int, started: float) -> None:
        args = self.args
        entered = time.time()
        hang_up = asyncio.Event()
        if self.churning and self.holders:  # one for one: the caller who has held longest hangs up
            self.holders.pop(next(iter(self.holders))).set()
        self.holders[index] = hang_up
        self.queues.join(practice, index, entered)
        self.max_holding = max(self.max_holding, len(self.holders))
        left = False
        try:
            while time.time() < self.hard_deadline:
                fields = {**call, "CallStatus": "in-progress",
                          **self.queues.fields(practice, index, entered, time.time())}
                answer, _ = await self.post(http, "/ivr/wait", "", fields)
                if answer == "leave":
                    left = True
                    self.left += 1
                    break
                if hang_up.is_set():
                    break
                period = self.random.uniform(*args.wait_period)
                try:
                    await asyncio.wait_for(hang_up.wait(), timeout=max(0.0, min(period,
                                                                                 self.hard_deadline - time.time())))
                    break
                except TimeoutError:
                    continue
        finally:
            self.holders.pop(index, None)
            self.queues.leave(practice, index, entered)
        exit_fields = {**call, "CallStatus": "in-progress" if left else "completed",
                       "QueueResult": "leave" if left else "hangup", "QueueSid": self.queues.sids[practice],
                       "QueueTime": str(int(time.time() - entered))}
        await self.post(http, "/ivr/queue-exit", "", exit_fields)
        await self.status(http, call, started)
        self.hung_up += 1

    async def status(self, http, call: dict, started: float) -> None:
        """The caller hung up: Twilio's status callback."""
        duration = int(time.time() - started)
        await self.post(http, "/ivr/status", "", {
            **call, "CallStatus": "completed", "CallDuration": str(duration), "Duration": str(max(1, duration // 60)),
            "SequenceNumber": "0", "CallbackSource": "call-progress-events",
            "Timestamp": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())})

    # --- the phases ----------------------------------------------------------------------------------------

    def spawn(self, http, ramp: bool) -> None:
        index = self.arrived
        self.arrived += 1
        task = asyncio.create_task(self.caller(http, index, ramp))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def arrivals(self, http, count: int | None, until: float | None) -> None:
        """Poisson arrivals at `rate` a second: `count` of them (the ramp), or until `until` (the hold)."""
        rate = self.args.rate
        next_at = time.time()
        spawned = 0
        while (count is None or spawned < count) and self.arrived < self.max_arrivals:
            now = time.time()
            if (until is not None and now >= until) or now >= self.hard_deadline:
                break
            if next_at > now:
                await asyncio.sleep(next_at - now)
                if until is not None and time.time() >= until:
                    break
            self.spawn(http, ramp=until is None)
            spawned += 1
            next_at += self.random.expovariate(rate)

    async def drain(self) -> None:
        """Everyone still on the line hangs up, oldest first, `drain_rate` a second."""
        self.draining = True
        gap = 1.0 / self.args.drain_rate
        while (self.tasks or self.holders) and time.time() < self.hard_deadline:
            if self.holders:
                oldest = next(iter(self.holders))
                self.holders.pop(oldest).set()
            await asyncio.sleep(gap)

    async def monitor(self) -> None:
        """Once a second: the progress line, the holding count; and the event loop's lag, all along."""
        figures = self.figures
        last_print = time.time()
        last_requests = 0
        tick = 0.05
        while True:
            before = time.perf_counter()
            await asyncio.sleep(tick)
            lag = time.perf_counter() - before - tick
            self.lag.append(lag)
            self.lag_max = max(self.lag_max, lag)
            now = time.time()
            figures.window_holding[figures.window(now)] = max(figures.window_holding.get(figures.window(now), 0),
                                                              len(self.holders))
            if now - last_print >= 1.0:
                rps = (figures.requests - last_requests) / (now - last_print)
                last_print, last_requests = now, figures.requests
                self.holding_series.append((now - self.t0, len(self.holders)))
                p99 = {p: figures.recent_p99(p, now) for p in ("/ivr/wait", "/ivr/menu", "/ivr/voice")}
                shown = ", ".join(f"{p.rsplit('/', 1)[1]} {v:,.0f}" for p, v in p99.items() if v is not None)
                errors = sum(sum(c.values()) for c in figures.errors.values())
                print(f"  hold: {figures.phase} {now - self.t0:5.0f} s, {len(self.holders):,}/{self.args.callers:,} "
                      f"holding, {self.arrived:,} arrived, {rps:,.0f} requests/s, p99 ms (10 s) {shown or '-'}, "
                      f"{errors:,} errors, loop lag max {max(self.lag[-20:]) * 1e3:.0f} ms",
                      file=sys.stderr, flush=True)

    async def run(self) -> dict:
        args = self.args
        connector = aiohttp.TCPConnector(limit=args.connections, keepalive_timeout=1.0,
                                         enable_cleanup_closed=True)
        timeout = aiohttp.ClientTimeout(total=TWILIO_TIMEOUT)
        monitor = asyncio.create_task(self.monitor())
        async with aiohttp.ClientSession(connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar(),
                                         auto_decompress=False) as http:
            # Ramp: the callers arrive; it ends when all of them went through the menu.
            ramp = asyncio.create_task(self.arrivals(http, args.callers, None))
            while (not ramp.done() or self.menu_done < self.arrived) and time.time() < self.hard_deadline:
                await asyncio.sleep(0.05)
            await ramp
            self.full_at = time.time()
            self.figures.phase = "hold"
            # Hold: callers go on arriving; each one queued sends the longest holder away (churn).
            until = min(self.full_at + args.hold_seconds, self.hard_deadline)
            if args.hold_seconds > 0:
                if args.churn:
                    self.churning = True
                    await self.arrivals(http, None, until)
                await asyncio.sleep(max(0.0, until - time.time()))
            self.churning = False
            self.hold_end = time.time()
            self.figures.phase = "drain"
            await self.drain()
            if self.tasks:
                await asyncio.wait(set(self.tasks), timeout=max(1.0, self.hard_deadline - time.time()))
            unfinished = len(self.tasks)
            for task in list(self.tasks):
                task.cancel()
            if self.tasks:
                await asyncio.wait(set(self.tasks), timeout=5)
            self.drain_end = time.time()
        monitor.cancel()
        return self.result(unfinished)

    def result(self, unfinished: int) -> dict:
        f = self.figures
        rel = lambda at: None if at is None else at - self.t0  # noqa: E731
        paths = {}
        for path in PATHS:
            paths[path] = {**percentiles(f.all[path]), "errors": sum(f.errors[path].values()),
                           "error_kinds": dict(f.errors[path]), "statuses": dict(f.statuses[path]),
                           "answers": dict(f.answers[path]), "over_200ms": f.over_slow[path],
                           "over_15s": f.over_twilio[path]}
        phases = {ph: {p: percentiles(f.by_phase[ph][p]) for p in PATHS} for ph in PHASES}
        series = []
        last = max(f.windows) if f.windows else -1
        for w in range(0, last + 1):
            lat = f.windows.get(w, {p: [] for p in PATHS})
            series.append({"t": (w + 1) * WINDOW, "holding": f.window_holding.get(w, 0),
                           "requests": sum(len(v) for v in lat.values()), "errors": f.window_errors.get(w, 0),
                           "p99_ms": {p: percentiles(v)["p99_ms"] for p, v in lat.items() if v}})
        hold_seconds = (self.hold_end - self.full_at) if self.full_at and self.hold_end else 0.0
        hold_requests = sum(len(v) for v in f.by_phase["hold"].values())
        usage = resource.getrusage(resource.RUSAGE_SELF)
        lag = percentiles(self.lag)
        return {
            "t0": self.t0,
            "phases": {"full_at": rel(self.full_at), "hold_end": rel(self.hold_end), "drain_end": rel(self.drain_end)},
            "callers": {"target": self.args.callers, "arrived": self.arrived, "queued": self.queued,
                        "not_queued": sum(self.not_queued.values()), "not_queued_answers": dict(self.not_queued),
                        "left_queue": self.left, "failed": sum(self.failed.values()),
                        "failed_kinds": dict(self.failed), "hung_up_from_hold": self.hung_up,
                        "finished": self.finished, "unfinished": unfinished, "max_holding": self.max_holding,
                        "largest_practice_queue": self.queues.largest},
            "paths": paths,
            "by_phase": phases,
            "requests": f.requests,
            "hold_requests_per_s": hold_requests / hold_seconds if hold_seconds else None,
            "series": series,
            "holding": self.holding_series,
            "client": {"cpu_s": usage.ru_utime + usage.ru_stime, "max_rss_mb": usage.ru_maxrss / 1024,
                       "loop_lag_p99_ms": lag["p99_ms"], "loop_lag_max_ms": lag["max_ms"],
                       "max_in_flight": f.max_in_flight, "connection_limit": self.args.connections},
        }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.holdgen", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the app's PUBLIC_BASE_URL (requests are signed for it)")
    parser.add_argument("--token", required=True, help="the auth token to sign with")
    parser.add_argument("--account-sid", required=True)
    parser.add_argument("--to", action="append", required=True, help="a practice's number (repeat for each)")
    parser.add_argument("--callers", type=int, default=1000, help="callers holding at once")
    parser.add_argument("--rate", type=float, default=20.0, help="new callers a second")
    parser.add_argument("--hold-seconds", type=float, default=120.0, help="seconds at full hold")
    parser.add_argument("--wait-period", type=float, nargs=2, default=(30.0, 60.0), metavar=("MIN", "MAX"),
                        help="seconds between two waitUrl requests of a caller (Twilio: when its TwiML ends)")
    parser.add_argument("--menu-delay", type=float, nargs=2, default=(3.0, 8.0), metavar=("MIN", "MAX"),
                        help="seconds from the greeting to the caller's key press")
    parser.add_argument("--drain-rate", type=float, default=100.0, help="hang-ups a second at the end")
    parser.add_argument("--no-churn", dest="churn", action="store_false",
                        help="no arrivals (nor hang-ups) during the hold")
    parser.add_argument("--connections", type=int, default=0,
                        help="most connections open to the server (0: no limit, as Twilio: a connection per request "
                             "in flight)")
    parser.add_argument("--max-seconds", type=float, default=0.0, help="hard deadline (0: from the sizes)")
    parser.add_argument("--t0", type=float, default=0.0, help="the run's start, seconds since the epoch")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.callers < 1 or args.rate <= 0 or args.drain_rate <= 0 or args.wait_period[0] > args.wait_period[1]:
        parser.error("callers >= 1, rate > 0, drain rate > 0, wait period MIN <= MAX")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    raise_open_files_limit()
    t0 = args.t0 or time.time()
    result = asyncio.run(Generator(args, t0).run())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
