"""Agents' consoles for the hold benchmark (`bench.hold`): N Socket.IO clients held open on /console.

Each batch of consoles logs in once as its staff member (GET /login for the CSRF token, POST the form)
and reuses the session cookie; every console connects by websocket only, as the page does, asks for
a snapshot on connecting and every `--snapshot-every` seconds (the page: every 15 s), and counts the
pushes it receives. A `queue` push carries the time the server built it (`at`), so its delay is read
on arrival (same machine, same clock).

The pushes are counted without decoding their JSON (only the event name and `at` are read): a
thousand consoles receive tens of thousands of pushes a second, and decoding them all would measure
this process rather than the server. Acks (snapshots asked for) are decoded in full.

Runs in its own process until SIGTERM or `--max-seconds`: writes `--ready-file` once every console
has tried to connect, progress every 5 s on stderr, the figures as JSON on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import math
import re
import resource
import signal
import sys
import time
from datetime import datetime
from pathlib import Path

import aiohttp
import socketio
from socketio import packet
from yarl import URL

NAMESPACE = "/console"
EVENTS = ("snapshot", "queue", "callbacks", "voicemails", "pages")
WINDOW = 10.0
USER_AGENT = "bench-console/1.0"  # the same for the login and the socket: sessions are bound to it
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
AT_FIELD = re.compile(r'"at":\s*"([^"]+)"')
SEQ_FIELD = re.compile(r'"seq":\s*(\d+)\s*}\s*]\s*$')


class Histogram:
    """Latencies in buckets 2% wide (for percentiles of millions of pushes), with the exact maximum."""

    STEP = math.log(1.02)

    def __init__(self):
        self.buckets: collections.Counter = collections.Counter()
        self.count = 0
        self.max = 0.0

    def add(self, seconds: float) -> None:
        ms = max(seconds * 1e3, 0.01)
        self.buckets[int(math.log(ms / 0.01) / self.STEP)] += 1
        self.count += 1
        self.max = max(self.max, ms)

    def merge(self, other: Histogram) -> None:
        self.buckets.update(other.buckets)
        self.count += other.count
        self.max = max(self.max, other.max)

    def quantile(self, q: float) -> float | None:
        if not self.count:
            return None
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for bucket in sorted(self.buckets):
            seen += self.buckets[bucket]
            if seen >= rank:
                return min(self.max, 0.01 * math.exp((bucket + 1) * self.STEP))
        return self.max

    def summary(self) -> dict:
        return {"count": self.count, "p50_ms": self.quantile(0.5), "p90_ms": self.quantile(0.9),
                "p99_ms": self.quantile(0.99), "max_ms": self.max if self.count else None}


class RawEvent(str):
    """An event's arguments as the text that came on the wire (decoded on demand)."""


class LazyJson:
    """json for the Socket.IO packets: events are left as text but for their name; the rest is decoded."""

    dumps = staticmethod(json.dumps)

    @staticmethod
    def loads(text, *args, **kwargs):
        if isinstance(text, str) and text.startswith('["'):
            end = text.find('"', 2)
            if end > 2 and "\\" not in text[2:end]:
                return [text[2:end], RawEvent(text)]
        return json.loads(text, *args, **kwargs)


class LazyPacket(packet.Packet):
    json = LazyJson


class Console:
    """One agent's console: its socket and what it received."""

    def __init__(self, index: int, figures: Figures):
        self.index = index
        self.figures = figures
        self.connected_once = False
        self.drops = 0
        self.sio: socketio.AsyncClient | None = None
        self.last_seq: dict[str, int] = {}  # per kind of push, as the page keeps it (see socket.js)
        self.asking = False

    @property
    def connected(self) -> bool:
        return bool(self.sio and self.sio.connected and NAMESPACE in self.sio.namespaces)


class Figures:
    def __init__(self):
        self.events: collections.Counter = collections.Counter()
        self.push_delay = Histogram()
        self.snapshot = Histogram()
        self.connect = Histogram()
        self.snapshot_errors: collections.Counter = collections.Counter()
        self.connect_errors: collections.Counter = collections.Counter()
        self.windows: dict[int, dict] = collections.defaultdict(
            lambda: {"queue": 0, "delay": Histogram(), "snapshot": Histogram(), "connected": 0, "drops": 0})
        self.lag = Histogram()
        self.latest_total: int | None = None  # the queue's length as the last decoded push said
        self.decoded = 0
        self.gaps = 0  # pushes that skipped a sequence number: the console asked for a snapshot
        self.stale = 0  # pushes older than what the console shows: dropped, as the page does

    @staticmethod
    def window(at: float) -> int:
        return int(at // WINDOW)


async def log_in(base: str, email: str, password: str) -> str:
    """Log in as a browser does; return the Cookie header that carries the session."""
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar, headers={"User-Agent": USER_AGENT},
                                     timeout=aiohttp.ClientTimeout(total=30)) as http:
        async with http.get(base + "/login") as response:
            page = await response.text()
        match = CSRF_FIELD.search(page)
        if not match:
            raise RuntimeError("the login page has no CSRF token")
        form = {"email": email, "password": password, "csrf_token": match.group(1)}
        async with http.post(base + "/login", data=form, allow_redirects=False) as response:
            if response.status != 302:
                raise RuntimeError(f"login as {email} answered {response.status}")
        cookies = jar.filter_cookies(URL(base))
        return "; ".join(f"{name}={morsel.value}" for name, morsel in cookies.items())


class Consoles:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.figures = Figures()
        self.consoles: list[Console] = []
        self.stop = asyncio.Event()
        self.sessions: list[aiohttp.ClientSession] = []

    def handlers(self, console: Console, sio: socketio.AsyncClient) -> None:
        figures = self.figures

        async def on_connect():
            console.connected_once = True

        async def on_disconnect(reason=None):
            if not self.stop.is_set():
                console.drops += 1
                figures.windows[figures.window(time.time())]["drops"] += 1

        def counter(event: str):
            async def on_event(data=None):
                figures.events[event] += 1
                now = time.time()
                text = str(data or "")
                if event == "snapshot":  # one agent's whole console: where each kind of push stands
                    try:
                        seqs = json.loads(text)[1].get("seq") or {}
                    except (ValueError, IndexError, AttributeError):
                        seqs = {}
                    for kind, seq in seqs.items():
                        if isinstance(seq, int):
                            console.last_seq[kind] = max(console.last_seq.get(kind, 0), seq)
                else:
                    self.in_order(console, event, text)
                if event != "queue":
                    return
                window = figures.windows[figures.window(now)]
                window["queue"] += 1
                match = AT_FIELD.search(text, max(0, len(text) - 160))
                if match:
                    try:
                        delay = now - datetime.fromisoformat(match.group(1)).timestamp()
                    except ValueError:
                        delay = None
                    if delay is not None:
                        figures.push_delay.add(max(0.0, delay))
                        window["delay"].add(max(0.0, delay))
                if figures.decoded < 50 or figures.events["queue"] % 1000 == 0:  # check a sample in full
                    figures.decoded += 1
                    try:
                        payload = json.loads(text)[1]
                        figures.latest_total = int(payload["total"])
                    except (ValueError, KeyError, IndexError, TypeError):
                        figures.events["queue (undecodable)"] += 1

            return on_event

        sio.on("connect", on_connect, namespace=NAMESPACE)
        sio.on("disconnect", on_disconnect, namespace=NAMESPACE)
        for event in EVENTS:
            sio.on(event, counter(event), namespace=NAMESPACE)

    def in_order(self, console: Console, kind: str, text: str) -> None:
        """As the page: a push that skips a sequence number means one was lost, so ask for a snapshot."""
        match = SEQ_FIELD.search(text, max(0, len(text) - 40))
        if not match:
            return
        seq, last = int(match.group(1)), console.last_seq.get(kind)
        if last is not None and seq <= last:
            self.figures.stale += 1
            return
        if last is not None and seq > last + 1:
            self.figures.gaps += 1
            if not console.asking:
                asyncio.get_running_loop().create_task(self.ask_snapshot(console, "after a gap"))
        console.last_seq[kind] = seq

    async def ask_snapshot(self, console: Console, why: str = "") -> None:
        figures = self.figures
        if not console.connected or console.asking:
            return
        console.asking = True
        started = time.time()
        try:
            answer = await console.sio.call("snapshot", {}, namespace=NAMESPACE, timeout=10)
            seconds = time.time() - started
            figures.snapshot.add(seconds)
            figures.windows[figures.window(started)]["snapshot"].add(seconds)
            if not (isinstance(answer, dict) and answer.get("ok")):
                figures.snapshot_errors["not ok"] += 1
            elif isinstance(answer.get("seq"), dict):
                for kind, seq in answer["seq"].items():
                    if isinstance(seq, int):
                        console.last_seq[kind] = max(console.last_seq.get(kind, 0), seq)
            if why:
                figures.events[f"snapshot asked {why}"] += 1
        except Exception as exc:
            figures.snapshot_errors[type(exc).__name__] += 1
        finally:
            console.asking = False

    async def connect(self, console: Console, cookie: str, http: aiohttp.ClientSession, gate: asyncio.Semaphore):
        sio = socketio.AsyncClient(reconnection=True, reconnection_delay=1, reconnection_delay_max=5,
                                   serializer=LazyPacket, handle_sigint=False, http_session=http,
                                   request_timeout=10)
        console.sio = sio
        self.handlers(console, sio)
        async with gate:
            started = time.time()
            try:
                await sio.connect(self.args.url, headers={"Cookie": cookie, "User-Agent": USER_AGENT},
                                  transports=["websocket"], namespaces=[NAMESPACE], wait_timeout=15)
                self.figures.connect.add(time.time() - started)
            except Exception as exc:  # socketio.exceptions.ConnectionError, timeouts
                self.figures.connect_errors[f"{type(exc).__name__}: {str(exc)[:80]}"] += 1

    async def snapshots(self, console: Console) -> None:
        """Ask for a snapshot on connecting and every `snapshot_every` seconds, as the page does."""
        every = self.args.snapshot_every
        first = True
        while not self.stop.is_set():
            await self.ask_snapshot(console)
            delay = (every * (console.index % 97) / 97) if first else every  # spread over the period
            first = False
            try:
                await asyncio.wait_for(self.stop.wait(), timeout=delay)
            except TimeoutError:
                pass

    async def monitor(self) -> None:
        figures = self.figures
        last_print, last_queue, tick = time.time(), 0, 0.05
        while not self.stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(tick)
            figures.lag.add(time.perf_counter() - before - tick)
            now = time.time()
            window = figures.windows[figures.window(now)]
            connected = sum(c.connected for c in self.consoles)
            window["connected"] = max(window["connected"], connected)
            if now - last_print >= 5.0:
                pushes = figures.events["queue"]
                print(f"  consoles: {connected:,}/{len(self.consoles):,} connected, "
                      f"{(pushes - last_queue) / (now - last_print):,.0f} queue pushes/s, "
                      f"push delay p99 {figures.push_delay.quantile(0.99) or 0:,.0f} ms, "
                      f"snapshot p99 {figures.snapshot.quantile(0.99) or 0:,.0f} ms, "
                      f"loop lag max {figures.lag.max:,.0f} ms", file=sys.stderr, flush=True)
                last_print, last_queue = now, pushes

    async def run(self) -> dict:
        args = self.args
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)
        deadline = time.time() + args.max_seconds
        base = args.url.rstrip("/")
        cookies = [await log_in(base, email, args.password) for email in args.users]
        for _ in args.users:
            connector = aiohttp.TCPConnector(limit=0)
            self.sessions.append(aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True),
                                                       headers={"User-Agent": USER_AGENT}))
        gate = asyncio.Semaphore(args.connect_concurrency)
        self.consoles = [Console(i, self.figures) for i in range(args.consoles)]
        monitor = asyncio.create_task(self.monitor())
        started = time.time()
        batch = math.ceil(args.consoles / len(args.users))
        await asyncio.gather(*(self.connect(c, cookies[c.index // batch], self.sessions[c.index // batch], gate)
                               for c in self.consoles))
        connect_seconds = time.time() - started
        connected_at_start = sum(c.connected for c in self.consoles)
        if args.ready_file:
            Path(args.ready_file).write_text(json.dumps({"connected": connected_at_start}))
        print(f"  consoles: {connected_at_start:,}/{args.consoles:,} connected in {connect_seconds:.1f} s",
              file=sys.stderr, flush=True)
        askers = [asyncio.create_task(self.snapshots(c)) for c in self.consoles] if args.snapshot_every > 0 else []
        try:
            await asyncio.wait_for(self.stop.wait(), timeout=max(0.0, deadline - time.time()))
        except TimeoutError:
            pass
        self.stop.set()
        connected_at_end = sum(c.connected for c in self.consoles)
        kept = sum(c.connected and c.connected_once and c.drops == 0 for c in self.consoles)
        for task in askers:
            task.cancel()
        monitor.cancel()
        await asyncio.gather(*askers, monitor, return_exceptions=True)
        await asyncio.gather(*(asyncio.wait_for(c.sio.disconnect(), 5) for c in self.consoles if c.sio),
                             return_exceptions=True)
        for http in self.sessions:
            await http.close()
        return self.result(connect_seconds, connected_at_start, connected_at_end, kept)

    def result(self, connect_seconds: float, at_start: int, at_end: int, kept: int) -> dict:
        f = self.figures
        usage = resource.getrusage(resource.RUSAGE_SELF)
        series = [{"t_epoch": (w + 1) * WINDOW, "queue_pushes": v["queue"],
                   "push_delay_p99_ms": v["delay"].quantile(0.99),
                   "snapshot_p99_ms": v["snapshot"].quantile(0.99), "connected": v["connected"], "drops": v["drops"]}
                  for w, v in sorted(f.windows.items())]
        consoles = len(self.consoles)
        return {
            "consoles": consoles,
            "users": len(self.args.users),
            "connected_at_start": at_start,
            "connected_at_end": at_end,
            "kept": kept,  # connected at the start and at the end, never dropped
            "drops": sum(c.drops for c in self.consoles),
            "connect_seconds": connect_seconds,
            "connect": f.connect.summary(),
            "connect_errors": dict(f.connect_errors),
            "events": dict(f.events),
            "queue_pushes_per_console": f.events["queue"] / consoles if consoles else 0.0,
            "push_delay": f.push_delay.summary(),
            "snapshot": f.snapshot.summary(),
            "snapshot_errors": dict(f.snapshot_errors),
            "snapshot_every": self.args.snapshot_every,
            "latest_queue_total": f.latest_total,
            "seq_gaps": f.gaps,
            "stale_pushes": f.stale,
            "series": series,
            "client": {"cpu_s": usage.ru_utime + usage.ru_stime, "max_rss_mb": usage.ru_maxrss / 1024,
                       "loop_lag_p99_ms": f.lag.quantile(0.99), "loop_lag_max_ms": f.lag.max},
        }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.consoles", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the app's base URL")
    parser.add_argument("--users", required=True, type=lambda s: [e for e in s.split(",") if e],
                        help="staff emails, comma-separated: the consoles are shared out among them")
    parser.add_argument("--password", required=True)
    parser.add_argument("--consoles", type=int, default=100)
    parser.add_argument("--snapshot-every", type=float, default=15.0, help="0: never ask for a snapshot")
    parser.add_argument("--connect-concurrency", type=int, default=20, help="consoles connecting at once")
    parser.add_argument("--ready-file", help="written once every console has tried to connect")
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="stop by then even without SIGTERM")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from .holdgen import raise_open_files_limit

    raise_open_files_limit()
    print(json.dumps(asyncio.run(Consoles(args).run())))


if __name__ == "__main__":
    main()
