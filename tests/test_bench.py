"""The benchmark's code path at tiny sizes, so the figures in docs/benchmarks.md cannot silently rot."""

from bench import queue_bench

FIELDS = {"ops", "ops_per_s", "p50_us", "p99_us", "round_trips", "round_trips_per_op"}


def test_the_queue_benchmark_reports_every_figure_and_one_round_trip_per_enqueue_and_take(redis_url):
    lines = []
    report = queue_bench.run(redis_url, sizes=(10, 100), ops=60, phases=2, progress=lines.append)

    assert report["sizes"] == [10, 100]
    assert set(report["results"]) == {10, 100}
    for size in (10, 100):
        assert set(report["results"][size]) == set(queue_bench.OPERATIONS)
        for figures in report["results"][size].values():
            assert set(figures) == FIELDS
            assert figures["ops"] == 60
            assert figures["ops_per_s"] > 0
            assert 0 < figures["p50_us"] <= figures["p99_us"]
        # Counted on the connection: exactly one request written per operation, none more.
        assert report["results"][size]["enqueue"]["round_trips"] == 60  # one Lua script call each
        assert report["results"][size]["enqueue"]["round_trips_per_op"] == 1
        assert report["results"][size]["take"]["round_trips"] == 60  # one ZREM each
        assert report["results"][size]["take"]["round_trips_per_op"] == 1
        assert report["results"][size]["take_next"]["round_trips_per_op"] == 1
    assert set(report["ratios"]) == set(queue_bench.OPERATIONS)
    assert all(ratio > 0 for ratio in report["ratios"].values())
    assert any("phase 2/2" in line for line in lines)
