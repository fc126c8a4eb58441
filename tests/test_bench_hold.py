"""The hold benchmark's whole code path at a tiny size, so the figures in docs/benchmarks.md cannot silently rot.

It starts its own gunicorn, consoles and callers against a SQLite file, and a Redis database of its own
(not the suite's: the benchmark flushes it), BENCH_HOLD_REDIS_URL or db 9.
"""

import os

import pytest
from redis import Redis

from bench import hold

REDIS_URL = os.environ.get("BENCH_HOLD_REDIS_URL", "redis://127.0.0.1:6379/9")
CALLERS = 20


@pytest.fixture
def bench_redis():
    client = Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()


@pytest.mark.slow
def test_every_caller_is_queued_holds_and_hangs_up_with_every_webhook_answered(bench_redis, tmp_path):
    lines = []
    result = hold.run(bench_redis, callers=CALLERS, rate=10, consoles=3, hold_seconds=3, wait_period=(1.0, 2.0),
                      menu_delay=(0.2, 0.5), snapshot_every=2, progress=lines.append)

    callers = result["load"]["callers"]
    assert callers["max_holding"] == CALLERS
    assert callers["arrived"] >= CALLERS  # and more during the hold, one for each who hung up
    assert callers["queued"] == callers["arrived"] == callers["finished"] == callers["hung_up_from_hold"]
    assert callers["not_queued"] == callers["failed"] == callers["unfinished"] == callers["left_queue"] == 0
    assert result["errors"] == 0

    paths = result["paths"]
    for path in ("/ivr/voice", "/ivr/menu", "/ivr/queue-exit", "/ivr/status"):
        assert paths[path]["count"] == callers["arrived"], path
    assert paths["/ivr/menu"]["answers"] == {"queued": callers["arrived"]}
    assert paths["/ivr/status"]["statuses"] == {"204": callers["arrived"]}
    assert paths["/ivr/wait"]["count"] >= callers["arrived"]  # at least once each, as soon as queued
    assert set(paths["/ivr/wait"]["answers"]) == {"position"}
    for figures in paths.values():
        assert 0 < figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"] < 15000
    assert result["steady"]["/ivr/wait"]["count"] > 0  # requests while the number held

    # The app's side agrees: everyone hung up while waiting, nothing left in the queue, no faults.
    after = result["after"]
    assert after["calls_by_state"] == {"abandoned": callers["arrived"]}
    assert after["queue"] == 0 and after["pending_statuses"] == 0 and after["faults"] == {}
    assert result["server"]["app_queue_max"] >= CALLERS // 2  # sampled once a second
    assert result["server"]["cpu_s"] > 0 and result["server"]["rss_mb_max"] > 0

    consoles = result["consoles_figures"]
    assert consoles["connected_at_start"] == consoles["connected_at_end"] == consoles["kept"] == 3
    assert consoles["events"]["queue"] > 0 and consoles["push_delay"]["count"] > 0
    assert consoles["snapshot"]["count"] >= 3 and consoles["snapshot_errors"] == {}
    assert result["queue_pushes_delivered"] == pytest.approx(1.0, abs=0.1)

    assert result["series"] and result["series"][0]["requests"] > 0
    assert any("holding" in line for line in lines)
    text = hold.section([result])
    assert f"| {CALLERS} holding, 3 consoles |" in text and "`/ivr/wait`" in text
    assert hold.chart([result], tmp_path / "hold.png") and (tmp_path / "hold.png").stat().st_size > 0
