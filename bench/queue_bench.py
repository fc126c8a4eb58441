"""CallQueue against a real Redis: enqueue, take (ZREM of a given call) and take_next, small queue vs large.

Each round enqueues a batch of new callers, takes a batch of randomly chosen waiting callers, pops a
batch from the front and tops the queue back up (untimed), so the queue stays within 10% of its
nominal size. The sizes take turns in phases, so background load on the machine hits both alike.
Round trips are counted on the client's connection, not assumed.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from callcenter.queue import PRIORITY_ROUTINE, PRIORITY_URGENT, CallQueue

from .round_trips import RoundTrips, counting_redis

OPERATIONS = ("enqueue", "take", "take_next")
DEFAULT_SIZES = (100, 10_000)
DEFAULT_OPS = 6_000


class _Timing:
    def __init__(self):
        self.seconds: list[float] = []
        self.round_trips = 0

    def summary(self) -> dict:
        ops = len(self.seconds)
        total = sum(self.seconds)
        cuts = statistics.quantiles(self.seconds, n=100) if ops >= 2 else self.seconds * 99
        return {
            "ops": ops,
            "ops_per_s": ops / total if total else 0.0,
            "p50_us": cuts[49] * 1e6,
            "p99_us": cuts[98] * 1e6,
            "round_trips": self.round_trips,
            "round_trips_per_op": self.round_trips / ops if ops else 0.0,
        }


def _timed(timing: _Timing, trips: RoundTrips, operation: Callable, *args):
    before = trips.count
    started = time.perf_counter()
    result = operation(*args)
    timing.seconds.append(time.perf_counter() - started)
    timing.round_trips += trips.count - before
    return result


def bench_phase(queue: CallQueue, trips: RoundTrips, size: int, ops: int, timings: dict[str, _Timing],
                rng: random.Random) -> None:
    """Fill the queue with `size` waiting callers and run every operation `ops` times on it."""
    now = datetime.now(UTC)
    queue.redis.delete(CallQueue.key)

    def arrivals(first: int, count: int) -> list[tuple[int, datetime, int, int | None]]:
        return [(call_id, now - timedelta(seconds=rng.uniform(0, 1800)),
                 PRIORITY_URGENT if rng.random() < 0.2 else PRIORITY_ROUTINE, None)
                for call_id in range(first, first + count)]

    for start in range(1, size + 1, 5000):  # fill in chunks: one ZADD each, untimed
        queue.rebuild(arrivals(start, min(5000, size + 1 - start)))
    waiting = set(range(1, size + 1))
    next_id = size + 1
    batch = max(1, min(100, size // 10))
    # Warm-up: the first script call on a server that has not cached it costs extra round trips (NOSCRIPT).
    queue.enqueue(next_id, now, PRIORITY_ROUTINE)
    queue.take(next_id)
    queue.enqueue(next_id, now - timedelta(days=1), PRIORITY_ROUTINE)  # first in line: popped next
    assert queue.take_next() == next_id
    next_id += 1

    done = 0
    while done < ops:
        step = min(batch, ops - done)
        for call_id, queued_at, priority, _ in arrivals(next_id, step):
            position = _timed(timings["enqueue"], trips, queue.enqueue, call_id, queued_at, priority)
            assert position > 0, "the queue refused a caller: capacity too small for the benchmark"
            waiting.add(call_id)
        next_id += step
        for call_id in rng.sample(sorted(waiting), step):
            assert _timed(timings["take"], trips, queue.take, call_id), f"call {call_id} was not waiting"
            waiting.discard(call_id)
        for _ in range(step):
            popped = _timed(timings["take_next"], trips, queue.take_next)
            assert popped in waiting, "take_next returned a call that was not waiting"
            waiting.discard(popped)
        refill = arrivals(next_id, size - len(waiting))
        queue.rebuild(refill)
        waiting.update(call_id for call_id, _, _, _ in refill)
        next_id += len(refill)
        done += step
    assert len(queue) == len(waiting) == size


def bench_sizes(queue: CallQueue, trips: RoundTrips, sizes: tuple[int, ...], ops: int, phases: int,
                progress: Callable[[str], None]) -> dict:
    """Alternate between the sizes in `phases` phases, so a change in the machine's load hits each alike."""
    timings = {size: {name: _Timing() for name in OPERATIONS} for size in sizes}
    rngs = {size: random.Random(size) for size in sizes}
    per_phase = [ops // phases + (1 if n < ops % phases else 0) for n in range(phases)]
    for n, phase_ops in enumerate(per_phase, start=1):
        for size in sizes:
            bench_phase(queue, trips, size, phase_ops, timings[size], rngs[size])
        progress(f"  phase {n}/{phases}: {sum(per_phase[:n]):,}/{ops:,} of each operation at each size")
    return {size: {name: timing.summary() for name, timing in timings[size].items()} for size in sizes}


def run(redis_url: str, sizes: tuple[int, ...] = DEFAULT_SIZES, ops: int = DEFAULT_OPS, phases: int = 5,
        progress: Callable[[str], None] = print) -> dict:
    """Benchmark the queue at each size; the Redis database at `redis_url` is flushed before and after."""
    redis, trips = counting_redis(redis_url)
    redis.flushdb()
    try:
        progress(f"queue: {ops:,} of each operation with {' and '.join(f'{s:,}' for s in sizes)} callers waiting")
        queue = CallQueue(redis, capacity=2 * max(sizes) + 200)
        results = bench_sizes(queue, trips, tuple(sizes), ops, max(1, min(phases, ops)), progress)
        for size in sizes:
            figures = ", ".join(f"{op} {results[size][op]['ops_per_s']:,.0f}/s" for op in OPERATIONS)
            progress(f"  {size:,} waiting: {figures}")
    finally:
        redis.flushdb()
        redis.close()
    small, large = min(sizes), max(sizes)
    return {
        "sizes": list(sizes),
        "ops": ops,
        "results": results,
        "ratios": {op: results[large][op]["ops_per_s"] / results[small][op]["ops_per_s"] for op in OPERATIONS},
    }
